//! An ordered JSON value, a bounded-depth parser and an orjson-compatible writer.
//!
//! Why: documents must keep the collector's key order (insertion order, a repeated key
//! keeps its first position and takes the last value, like a Python dict), numbers must
//! follow the reading collector's rules (Fluent Bit: an integer token is read with
//! `strtoll`/`strtoull`, so `1e3` is 1), and hostile input — nesting thousands deep,
//! invalid escapes, 10 MB strings — must come back as an error value, never a panic or
//! a stack overflow. The writer escapes exactly as orjson does (UTF-8 kept, control
//! characters as `\n`/`\u00XX`), so bytes match what the Python side produced before.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting accepted anywhere (a body deeper than this is not merged; a record
/// deeper than this is a `bad_json` dead letter).
pub const MAX_DEPTH: usize = 128;
/// Keys in any one object: past it the value is refused (`TOO_MANY_KEYS`). A hostile
/// line of 100k keys would otherwise cost its partition most of its throughput, and no
/// search backend indexes it (Elasticsearch's default field limit is 1,000).
pub const MAX_OBJECT_KEYS: usize = 10_000;
pub const TOO_MANY_KEYS: &str = "too many keys in one object (more than 10000)";

#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Obj),
}

/// Members gathered in order, with a repeated key's last value kept at its first place
/// (what `insert` one by one gives), in time linear in the count: small objects by a scan,
/// large ones (a hostile body can hold 100k keys) through a hash of the keys.
pub fn dedup_last_wins<K: AsRef<str>, V>(items: Vec<(K, V)>) -> Vec<(K, V)> {
    const SCAN: usize = 32;
    if items.len() <= SCAN {
        // the usual record: no repeated key, nothing to move
        let repeated =
            items.iter().enumerate().any(|(i, (k, _))| items[..i].iter().any(|(x, _)| x.as_ref() == k.as_ref()));
        if !repeated {
            return items;
        }
    }
    let mut out: Vec<(K, V)> = Vec::with_capacity(items.len());
    if items.len() <= SCAN {
        for (k, v) in items {
            match out.iter_mut().find(|(x, _)| x.as_ref() == k.as_ref()) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        return out;
    }
    // one hashed pass over borrowed keys (no copy of a key): where each key first appears
    let mut first_at: Vec<usize> = Vec::with_capacity(items.len());
    let distinct = {
        let mut first: ahash::AHashMap<&str, usize> = ahash::AHashMap::with_capacity(items.len());
        for (i, (k, _)) in items.iter().enumerate() {
            first_at.push(*first.entry(k.as_ref()).or_insert(i));
        }
        first.len()
    };
    if distinct == items.len() {
        return items; // no repeated key: nothing to move
    }
    // each first occurrence gets its output place; a repeat overwrites that place's value
    let mut place: Vec<usize> = vec![usize::MAX; items.len()];
    for (i, (k, v)) in items.into_iter().enumerate() {
        let f = first_at[i];
        if f == i {
            place[i] = out.len();
            out.push((k, v));
        } else {
            out[place[f]].1 = v;
        }
    }
    out
}

/// An object in insertion order; `insert` of an existing key replaces the value in place.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Obj(pub Vec<(String, J)>);

impl Obj {
    pub fn get(&self, key: &str) -> Option<&J> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
    pub fn insert(&mut self, key: String, value: J) {
        if self.0.len() < 32 {
            if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return;
            }
        } else if let Some(i) = self.index_of(&key) {
            self.0[i].1 = value;
            return;
        }
        self.0.push((key, value));
    }
    fn index_of(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }
    pub fn remove(&mut self, key: &str) -> Option<J> {
        self.index_of(key).map(|i| self.0.remove(i).1)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl J {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_obj(&self) -> Option<&Obj> {
        match self {
            J::Obj(o) => Some(o),
            _ => None,
        }
    }
    /// The value as Python's `str()` would print it for scalars (used for identity
    /// fields a provider may send as numbers); containers as compact JSON.
    pub fn to_text(&self) -> String {
        match self {
            J::Str(s) => s.clone(),
            J::Null => "None".into(),
            J::Bool(true) => "True".into(),
            J::Bool(false) => "False".into(),
            J::Int(i) => i.to_string(),
            J::UInt(u) => u.to_string(),
            J::Float(f) => py_float_repr(*f),
            other => {
                let mut out = Vec::new();
                write(&mut out, other);
                String::from_utf8(out).unwrap_or_default()
            }
        }
    }
}

/// Python's `repr(float)` (shortest round-trip; exponent from 1e16, `inf`, `nan`).
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut b = ryu::Buffer::new();
    let s = b.format_finite(f).to_string();
    // ryu: "1e16", "1.5e-7"; Python: "1e+16", "1.5e-07"
    if let Some(pos) = s.find('e') {
        let (mant, exp) = s.split_at(pos);
        let exp = &exp[1..];
        let (sign, digits) = if let Some(d) = exp.strip_prefix('-') { ("-", d) } else { ("+", exp) };
        let digits = if digits.len() < 2 { format!("0{digits}") } else { digits.to_string() };
        return format!("{mant}e{sign}{digits}");
    }
    s
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: usize,
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.pos)
    }
}

/// How integer tokens are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// JSON as orjson reads it: integers must fit i64/u64 (else an error), floats f64.
    Strict,
    /// Fluent Bit's kubernetes filter: a token without '.' is an integer prefix clamped
    /// to [i64::MIN, u64::MAX] (`1e3` → 1); with '.' a double. NaN/Infinity → null.
    FluentBit,
}

pub fn parse(input: &[u8], numbers: Numbers) -> Result<J, ParseError> {
    let mut p = Parser { b: input, i: 0, numbers };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

/// A top-level member's value as `parse_top_raw` reads it: a string borrowed from the
/// input when it has no escape (most of a record's bytes: no copy until one is needed),
/// any other value parsed as `parse` would.
#[derive(Debug, PartialEq)]
pub enum Top<'a> {
    Str(Cow<'a, str>),
    Val(J),
}

impl Top<'_> {
    pub fn into_j(self) -> J {
        match self {
            Top::Str(s) => J::Str(s.into_owned()),
            Top::Val(v) => v,
        }
    }
}

/// A top-level object in insertion order, keys and string values borrowed where they
/// can be; `insert` of an existing key replaces the value in place (as `Obj` does).
#[derive(Debug, Default, PartialEq)]
pub struct TopObj<'a>(pub Vec<(Cow<'a, str>, Top<'a>)>);

impl<'a> TopObj<'a> {
    pub fn get(&self, key: &str) -> Option<&Top<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
    pub fn remove(&mut self, key: &str) -> Option<Top<'a>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }
    pub fn from_obj(o: Obj) -> TopObj<'static> {
        let top = |v: J| match v {
            J::Str(s) => Top::Str(Cow::Owned(s)),
            v => Top::Val(v),
        };
        TopObj(o.0.into_iter().map(|(k, v)| (Cow::Owned(k), top(v))).collect())
    }
    pub fn into_obj(self) -> Obj {
        Obj(self.0.into_iter().map(|(k, v)| (k.into_owned(), v.into_j())).collect())
    }
}

/// A top-level object whose `raw_key` value is left unparsed: its byte span is returned
/// instead (the last one when the key repeats) and the key is absent from the object.
/// `None` when the input is not one well-formed object: the caller parses it the
/// ordinary way, for the same document or the same error as always. The skipped value
/// is only delimited here, not checked: whoever uses the span parses it.
///
/// `known(rest)` may name a value the caller met before that `rest` starts with, as
/// (its index, its length): delimiting depends only on the value's own bytes, so those
/// bytes are that value's span and are not walked again. The index of the one the
/// returned span came from, if any, is returned too.
pub fn parse_top_raw<'a>(
    input: &'a [u8],
    numbers: Numbers,
    raw_key: &str,
    known: KnownPrefix<'_>,
) -> Option<(TopObj<'a>, Option<RawSpan>)> {
    let mut p = Parser { b: input, i: 0, numbers };
    p.ws();
    if p.peek() != Some(b'{') {
        return None;
    }
    let mut span = None;
    let obj = p.object_top(raw_key, known, &mut span).ok()?;
    p.ws();
    (p.i == p.b.len()).then_some((obj, span))
}

/// `known(rest)`: the (index, length) of a value met before that `rest` starts with.
pub type KnownPrefix<'k> = &'k dyn Fn(&[u8]) -> Option<(usize, usize)>;

/// Where a raw value lies (start, end), and which known value it is, if one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawSpan {
    pub start: usize,
    pub end: usize,
    pub known: Option<usize>,
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    numbers: Numbers,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { pos: self.i, what }
    }
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn lit(&mut self, word: &[u8], v: J) -> Result<J, ParseError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }
    fn value(&mut self, depth: usize) -> Result<J, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.err("unexpected end")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(J::Str(self.string()?)),
            Some(b't') => self.lit(b"true", J::Bool(true)),
            Some(b'f') => self.lit(b"false", J::Bool(false)),
            Some(b'n') => self.lit(b"null", J::Null),
            Some(b'N') if self.numbers == Numbers::FluentBit => self.lit(b"NaN", J::Null),
            Some(b'I') if self.numbers == Numbers::FluentBit => self.lit(b"Infinity", J::Null),
            Some(b'-') if self.numbers == Numbers::FluentBit && self.b[self.i..].starts_with(b"-Infinity") => {
                self.i += 9;
                Ok(J::Null)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }
    /// Past one value, delimiting strings and brackets only (iterative: any depth).
    fn skip_value(&mut self) -> Result<(), ParseError> {
        let mut depth = 0usize;
        loop {
            self.ws();
            match self.peek() {
                None => return Err(self.err("unexpected end")),
                Some(b'"') => {
                    self.i += 1;
                    loop {
                        let Some(off) = memchr::memchr2(b'"', b'\\', &self.b[self.i..]) else {
                            return Err(self.err("unterminated string"));
                        };
                        self.i += off + 1;
                        if self.b[self.i - 1] == b'"' {
                            break;
                        }
                        self.i += 1; // the escaped byte
                        if self.i > self.b.len() {
                            return Err(self.err("unterminated string"));
                        }
                    }
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.i += 1;
                    continue;
                }
                Some(b'}' | b']') => {
                    if depth == 0 {
                        return Err(self.err("unexpected close"));
                    }
                    depth -= 1;
                    self.i += 1;
                }
                Some(b',' | b':') => {
                    if depth == 0 {
                        return Err(self.err("unexpected separator"));
                    }
                    self.i += 1;
                    continue;
                }
                Some(_) => {
                    let rest = &self.b[self.i..];
                    let n = rest
                        .iter()
                        .position(|c| matches!(c, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r'))
                        .unwrap_or(rest.len());
                    if n == 0 {
                        return Err(self.err("unexpected character"));
                    }
                    self.i += n;
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
    fn object(&mut self, depth: usize) -> Result<J, ParseError> {
        let mut members: Vec<(String, J)> = Vec::new();
        if self.open(b'}') {
            return Ok(J::Obj(Obj(members)));
        }
        loop {
            self.key_start()?;
            let key = self.string()?;
            self.colon()?;
            if members.len() >= MAX_OBJECT_KEYS {
                return Err(self.err(TOO_MANY_KEYS));
            }
            let v = self.value(depth + 1)?;
            // a repeated key: its last value at its first place; past a few keys the
            // search is one hashed pass at the end (linear in a 100k-key object)
            let seen = if members.len() <= 32 { members.iter_mut().find(|(k, _)| *k == key) } else { None };
            match seen {
                Some(slot) => slot.1 = v,
                None => members.push((key, v)),
            }
            if self.member_end(b'}')? {
                if members.len() > 32 {
                    members = dedup_last_wins(members);
                }
                return Ok(J::Obj(Obj(members)));
            }
        }
    }
    /// Steps over the opening bracket; true (and past it) when `close` follows at once.
    #[inline]
    fn open(&mut self, close: u8) -> bool {
        self.i += 1;
        self.ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.i += 1;
        }
        empty
    }
    #[inline]
    fn key_start(&mut self) -> Result<(), ParseError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a key"));
        }
        Ok(())
    }
    #[inline]
    fn colon(&mut self) -> Result<(), ParseError> {
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err("expected ':'"));
        }
        self.i += 1;
        self.ws();
        Ok(())
    }
    /// After a member: past a ',' (false, more follow) or past `close` (true, done).
    #[inline]
    fn member_end(&mut self, close: u8) -> Result<bool, ParseError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(self.err(if close == b'}' { "expected ',' or '}'" } else { "expected ',' or ']'" })),
        }
    }
    /// `object_with` at the top level, keys and string values borrowed (`TopObj`).
    fn object_top(
        &mut self,
        raw_key: &str,
        known: KnownPrefix<'_>,
        span: &mut Option<RawSpan>,
    ) -> Result<TopObj<'a>, ParseError> {
        let mut obj = TopObj(Vec::with_capacity(8));
        if self.open(b'}') {
            return Ok(obj);
        }
        loop {
            if obj.0.len() >= MAX_OBJECT_KEYS {
                return Err(self.err(TOO_MANY_KEYS));
            }
            self.key_start()?;
            let key = self.string_cow()?;
            self.colon()?;
            if key == raw_key {
                if span.is_some() {
                    // a repeated metadata key: the whole record goes to the full parse,
                    // which checks every value (the skipped one may not be JSON at all)
                    return Err(self.err("repeated metadata key"));
                }
                let start = self.i;
                let hit = known(&self.b[start..]);
                match hit {
                    Some((_, len)) => self.i += len,
                    None => self.skip_value()?,
                }
                *span = Some(RawSpan { start, end: self.i, known: hit.map(|(k, _)| k) });
            } else if self.peek() == Some(b'"') {
                let v = self.string_cow()?;
                obj.0.push((key, Top::Str(v)));
            } else {
                let v = self.value(1)?;
                obj.0.push((key, Top::Val(v)));
            }
            if self.member_end(b'}')? {
                obj.0 = dedup_last_wins(obj.0); // linear, whatever the key count
                return Ok(obj);
            }
        }
    }
    fn array(&mut self, depth: usize) -> Result<J, ParseError> {
        let mut out = Vec::new();
        if self.open(b']') {
            return Ok(J::Arr(out));
        }
        loop {
            self.ws();
            out.push(self.value(depth + 1)?);
            if self.member_end(b']')? {
                return Ok(J::Arr(out));
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, ParseError> {
        if self.i + 4 > self.b.len() {
            return Err(self.err("short \\u escape"));
        }
        let mut v = 0u32;
        for k in 0..4 {
            let c = self.b[self.i + k];
            let d = (c as char).to_digit(16).ok_or_else(|| self.err("bad \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }
    fn string(&mut self) -> Result<String, ParseError> {
        self.string_cow().map(Cow::into_owned)
    }
    /// A string borrowed from the input when it has no escape; an escaped one decoded.
    fn string_cow(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.i += 1; // opening quote
        let start = self.i;
        // fast path: one table-driven pass to the first quote, backslash or control byte
        let rest = &self.b[start..];
        let off = find_special(rest).unwrap_or(rest.len());
        match rest.get(off) {
            Some(b'"') => {
                let s = std::str::from_utf8(&rest[..off]).map_err(|_| self.err("invalid UTF-8 in string"))?;
                self.i = start + off + 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(&c) if c < 0x20 => {
                self.i = start + off;
                return Err(self.err("control character in string"));
            }
            _ => {}
        }
        // the run before the first escape was checked by `find_special`: copied as it is
        let mut out: Vec<u8> = Vec::with_capacity(off + 16);
        out.extend_from_slice(&rest[..off]);
        self.i = start + off;
        loop {
            let Some(c) = self.peek() else { return Err(self.err("unterminated string")) };
            match c {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map(Cow::Owned).map_err(|_| self.err("invalid UTF-8 in string"));
                }
                b'\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else { return Err(self.err("unterminated escape")) };
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !self.b[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone surrogate"));
                            } else {
                                hi
                            };
                            let ch = char::from_u32(cp).ok_or_else(|| self.err("bad code point"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                c if c < 0x20 => return Err(self.err("control character in string")),
                _ => {
                    let run = memchr::memchr2(b'"', b'\\', &self.b[self.i..]).unwrap_or(self.b.len() - self.i);
                    let seg = &self.b[self.i..self.i + run];
                    if let Some(p) = seg.iter().position(|&c| c < 0x20) {
                        self.i += p;
                        return Err(self.err("control character in string"));
                    }
                    out.extend_from_slice(seg);
                    self.i += run;
                }
            }
        }
    }
    fn number(&mut self) -> Result<J, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i == int_start {
            return Err(self.err("bad number"));
        }
        if self.b[int_start] == b'0' && self.i - int_start > 1 {
            return Err(self.err("leading zero"));
        }
        let mut is_float = false;
        let mut has_dot = false;
        if self.peek() == Some(b'.') {
            is_float = true;
            has_dot = true;
            self.i += 1;
            let d = self.i;
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.i += 1;
            }
            if self.i == d {
                return Err(self.err("bad fraction"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_float = true;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            let d = self.i;
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.i += 1;
            }
            if self.i == d {
                return Err(self.err("bad exponent"));
            }
        }
        let tok = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
        match self.numbers {
            Numbers::FluentBit if !has_dot => Ok(clamped_int_prefix(tok)),
            _ if is_float => {
                let f: f64 = tok.parse().map_err(|_| self.err("bad number"))?;
                if f.is_finite() {
                    Ok(J::Float(f))
                } else {
                    Err(self.err("number out of range"))
                }
            }
            _ => {
                if let Ok(i) = tok.parse::<i64>() {
                    Ok(J::Int(i))
                } else if let Ok(u) = tok.parse::<u64>() {
                    Ok(J::UInt(u))
                } else {
                    Err(self.err("integer out of range"))
                }
            }
        }
    }
}

/// `strtoll`/`strtoull` of the integer prefix of a token, clamped.
fn clamped_int_prefix(tok: &str) -> J {
    let b = tok.as_bytes();
    let neg = b.first() == Some(&b'-');
    let digits: &str = {
        let s = if neg { &tok[1..] } else { tok };
        let end = s.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
        &s[..end]
    };
    if neg {
        match format!("-{digits}").parse::<i64>() {
            Ok(v) => J::Int(v),
            Err(_) => J::Int(i64::MIN),
        }
    } else {
        match digits.parse::<i64>() {
            Ok(v) => J::Int(v),
            Err(_) => J::UInt(digits.parse::<u64>().unwrap_or(u64::MAX)),
        }
    }
}

// ---------------------------------------------------------------- writing

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Index of the first byte a JSON string cannot hold as it is (`"`, `\\`, a control
/// character). Strings are most of a record's bytes, and this scan runs on each of them
/// when read and again when written. The first 32 bytes (all of a key or a stream name)
/// are read eight at a time in a word; past them (a log line) in two vector passes:
/// memchr's to the first quote or backslash, then the smallest byte before it (a
/// reduction the compiler vectorizes), walked byte by byte only when it holds a control
/// character.
#[inline]
pub fn find_special(b: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    if b.len() <= SHORT {
        return find_special_words(b);
    }
    if let Some(i) = find_special_words(&b[..SHORT]) {
        return Some(i);
    }
    let rest = &b[SHORT..];
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let head = &rest[..end];
    if head.iter().fold(0xff_u8, |m, &c| m.min(c)) < 0x20 {
        return head.iter().position(|&c| c < 0x20).map(|i| SHORT + i);
    }
    (end < rest.len()).then_some(SHORT + end)
}

/// `find_special` eight bytes at a time in a u64 (no call, no set-up: for short strings).
fn find_special_words(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (LO * u64::from(b'"'));
        let slash = x ^ (LO * u64::from(b'\\'));
        // per byte: zero after the xor, or below 0x20; a borrow can only mark bytes above
        // a true match, so the lowest marked byte is the first match
        let hit =
            ((quote.wrapping_sub(LO) & !quote) | (slash.wrapping_sub(LO) & !slash) | (x.wrapping_sub(LO * 0x20) & !x))
                & HI;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\').map(|p| i + p)
}

/// A JSON string with orjson's escaping.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    while let Some(off) = find_special(&b[start..]) {
        let i = start + off;
        let c = b[i];
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null"); // orjson writes non-finite floats as null
    }
}

pub fn write(out: &mut Vec<u8>, v: &J) {
    match v {
        J::Null => out.extend_from_slice(b"null"),
        J::Bool(true) => out.extend_from_slice(b"true"),
        J::Bool(false) => out.extend_from_slice(b"false"),
        J::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        J::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        J::Float(f) => write_f64(out, *f),
        J::Str(s) => write_str(out, s),
        J::Arr(items) => {
            out.push(b'[');
            for (n, it) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write(out, it);
            }
            out.push(b']');
        }
        J::Obj(o) => {
            out.push(b'{');
            for (n, (k, it)) in o.0.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write(out, it);
            }
            out.push(b'}');
        }
    }
}

pub fn to_vec(v: &J) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write(&mut out, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_first_position_of_repeated_keys() {
        let v = parse(br#"{"b":1,"a":2,"b":3}"#, Numbers::Strict).unwrap();
        assert_eq!(to_vec(&v), br#"{"b":3,"a":2}"#);
    }

    #[test]
    fn fluent_bit_numbers() {
        let v =
            parse(br#"{"a":1e3,"b":1.5,"c":99999999999999999999999,"d":-99999999999999999999}"#, Numbers::FluentBit)
                .unwrap();
        assert_eq!(to_vec(&v), br#"{"a":1,"b":1.5,"c":18446744073709551615,"d":-9223372036854775808}"#);
        assert!(parse(b"1e400", Numbers::Strict).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(parse(deep.as_bytes(), Numbers::Strict).unwrap_err().what, "nesting too deep");
    }

    #[test]
    fn escapes_like_orjson() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\n\u{1}é/\u{7f}");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é/\u{7f}\"".as_bytes());
    }

    #[test]
    fn surrogates() {
        assert_eq!(parse(br#""\ud83d\ude00""#, Numbers::Strict).unwrap(), J::Str("😀".into()));
        assert!(parse(br#""\ud83d""#, Numbers::Strict).is_err());
    }

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1.5), "1.5");
        assert_eq!(py_float_repr(1.5e-7), "1.5e-07");
    }

    #[test]
    fn find_special_is_the_first_special_byte_at_every_position() {
        let naive = |b: &[u8]| b.iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\');
        // every byte value at every offset of a short run (read in words) and of a long
        // one (read in vector passes), behind and ahead of others
        for len in [20, 100] {
            for fill in [b'a', 0x80, 0xff, 0x21, 0x5b, 0x5d, 0x23] {
                for pos in 0..len {
                    for c in 0..=255u8 {
                        let mut b = vec![fill; len];
                        b[pos] = c;
                        assert_eq!(find_special(&b), naive(&b), "len {len} fill {fill:#x} byte {c:#x} at {pos}");
                        if pos + 3 < len {
                            b[pos + 3] = b'"';
                            assert_eq!(find_special(&b), naive(&b));
                        }
                    }
                }
            }
        }
        assert_eq!(find_special(b""), None);
    }
}

#[cfg(test)]
mod linear_tests {
    use super::*;

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value_at_any_size() {
        for n in [3usize, 40, 5000] {
            let mut body: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            body.push("\"k1\":\"again\"".into());
            let doc = format!("{{{}}}", body.join(","));
            let J::Obj(o) = parse(doc.as_bytes(), Numbers::Strict).unwrap() else { panic!() };
            assert_eq!(o.len(), n);
            assert_eq!(o.0[1], ("k1".to_string(), J::Str("again".into())));
            let (top, _) = parse_top_raw(doc.as_bytes(), Numbers::Strict, "none", &|_| None).unwrap();
            assert_eq!(top.0.len(), n);
            assert_eq!(top.0[1].0, "k1");
        }
    }
}
