//! Document bytes per collector profile: the per-record half of each profile.
//!
//! Why: a profile's output must equal what its collector writes, key order included.
//! Everything that depends only on the pod (labels, annotations, owners, node and
//! namespace metadata, image, container id, file paths) arrives pre-rendered in a
//! `Fragment` (Python renders it once per pod change); this module splices the
//! per-record values around it: time, stream, message, Fluent Bit's `Merge_Log` body.

use crate::decode::Line;
use crate::genid;
use crate::json::{self, Numbers, J};
use crate::time::{format_autosi, format_rfc3339, StrftimeCache, NS};
use std::borrow::Cow;
use std::rc::Rc;

/// A (pod, container)'s pre-rendered metadata for the active profile.
#[derive(Debug)]
pub struct Fragment {
    /// 0 live, 1 tombstone, 2 embedded, 3 none
    pub source: u8,
    pub pod_uid: String,
    pub lang: Option<crate::assemble::Lang>,
    /// fluent-bit: [kubernetes map or empty]; filebeat: [middle, tail]; vector: the
    /// pod's top-level keys (sorted) split around the per-record keys: [before
    /// `_partial`, before `message`, before `source_type`, before `stream`, before
    /// `timestamp`, after it], each `"k":v` pairs joined by commas
    pub parts: Vec<Vec<u8>>,
    /// the pod's lines are excluded by configuration (filtered, not delivered)
    pub exclude: bool,
    /// fluent-bit with Generate_ID: the kubernetes map as a value
    pub kube: Option<J>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FbParser {
    Cri,
    Docker,
    CriClassic,
    DockerClassic,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FbOutput {
    Es,
    Kafka,
    Plain,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TsFormat {
    Double,
    Iso8601,
    Iso8601Ns,
}

pub struct FluentBit {
    pub parser: FbParser,
    pub merge_log: bool,
    pub merge_log_key: String,
    pub merge_log_trim: bool,
    pub keep_log: bool,
    pub output: FbOutput,
    pub logstash_format: bool,
    pub logstash_prefix: String,
    /// `Logstash_Prefix_Key`: the prefix from the record (empty template: not set)
    pub logstash_prefix_key: crate::route::Template,
    pub logstash_prefix_separator: String,
    pub logstash_dateformat: StrftimeCache,
    pub index: String,
    pub time_key: String,
    pub time_key_format: StrftimeCache,
    pub time_key_nanos: bool,
    pub include_tag_key: bool,
    pub tag_key: String,
    pub replace_dots: bool,
    pub generate_id: bool,
    pub timestamp_key: String,
    pub timestamp_format: TsFormat,
    pub tag_prefix: String,
    /// filter record_modifier `Record key value` pairs, after the kubernetes filter
    pub records: Vec<(String, String)>,
    /// filter modify `Add key value` pairs, after record_modifier
    pub adds: Vec<(String, String)>,
}

pub enum Profile {
    FluentBit(Box<FluentBit>),
    /// `lines`: filestream's include_lines / exclude_lines and drop_event on the line
    Filebeat {
        index: IndexPattern,
        lines: FilebeatLines,
    },
    /// `merge`: Vector's `auto_partial_merge`
    Vector {
        index: IndexPattern,
        merge: bool,
    },
}

/// Filebeat's `include_lines` / `exclude_lines` (Go regexps, unanchored): a line is kept
/// when it matches one of `include` (or `include` is empty) and none of `exclude`.
#[derive(Default)]
pub struct LineFilter {
    pub include: Option<regex::RegexSet>,
    pub exclude: Option<regex::RegexSet>,
}

impl LineFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        let set = |pats: &[String], name: &str| -> Result<Option<regex::RegexSet>, String> {
            if pats.is_empty() {
                return Ok(None);
            }
            regex::RegexSet::new(pats).map(Some).map_err(|e| format!("{name}: {e}"))
        };
        Ok(LineFilter { include: set(include, "include_lines")?, exclude: set(exclude, "exclude_lines")? })
    }

    pub fn keeps(&self, text: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(text))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(text))
    }
}

/// Filebeat's filters of a line: filestream's include/exclude_lines first, then the
/// `drop_event` processors' conditions over the line's own fields.
#[derive(Default)]
pub struct FilebeatLines {
    pub filter: LineFilter,
    pub drop: Option<crate::cond::Cond>,
}

impl FilebeatLines {
    pub fn keeps(&self, text: &str, stream: &str) -> bool {
        self.filter.keeps(text) && !self.drop.as_ref().is_some_and(|c| c.holds(text, stream))
    }
}

impl Profile {
    /// The profile's name, as the settings spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::FluentBit(_) => "fluent-bit",
            Profile::Filebeat { .. } => "filebeat",
            Profile::Vector { .. } => "vector",
        }
    }

    /// false when the profile's configuration drops this line (counted as filtered)
    pub fn keeps_line(&self, text: &str, stream: &str) -> bool {
        match self {
            Profile::Filebeat { lines, .. } => lines.keeps(text, stream),
            _ => true,
        }
    }

    pub fn joins_partials(&self) -> bool {
        match self {
            Profile::FluentBit(fb) => !matches!(fb.parser, FbParser::CriClassic | FbParser::DockerClassic),
            Profile::Vector { merge, .. } => *merge,
            Profile::Filebeat { .. } => true,
        }
    }
}

/// A profile's index: one strftime pattern, or (`from_fragment`) a pattern per pod that
/// the profile resolved from its template into the fragment's last part (a first byte 0
/// there: the template could not be resolved, the rest says why).
pub struct IndexPattern {
    pub fixed: StrftimeCache,
    pub from_fragment: bool,
    /// the last per-pod pattern and the name it gave (records of a pod come in runs)
    last: Option<(Vec<u8>, i64, String)>,
}

impl IndexPattern {
    pub fn new(fixed: StrftimeCache, from_fragment: bool) -> Self {
        IndexPattern { fixed, from_fragment, last: None }
    }

    pub fn fixed(fmt: &str) -> Self {
        IndexPattern::new(StrftimeCache::new(fmt), false)
    }

    /// The index for a record of `secs` with this fragment; Err: why it has none.
    fn get(&mut self, frag: &Fragment, secs: i64) -> Result<String, String> {
        if !self.from_fragment {
            return Ok(self.fixed.get(secs).to_string());
        }
        let Some(p) = frag.parts.last() else { return Err("no index pattern rendered".into()) };
        if p.first() == Some(&0) {
            return Err(String::from_utf8_lossy(&p[1..]).into_owned());
        }
        match &self.last {
            Some((pat, at, name)) if *at == secs && pat == p => Ok(name.clone()),
            _ => {
                let name = crate::time::strftime(&String::from_utf8_lossy(p), secs);
                self.last = Some((p.clone(), secs, name.clone()));
                Ok(name)
            }
        }
    }
}

pub struct Doc {
    pub body: Vec<u8>,
    /// Err: the profile's routing gives this record no index (why)
    pub index: Result<String, String>,
    pub id: Option<String>,
}

/// A value of the document being built: text borrowed from the line where it can be.
enum V<'a> {
    S(Cow<'a, str>),
    J(J),
    Frag(&'a Fragment),
}

struct Rec<'a>(Vec<(Cow<'a, str>, V<'a>)>);

impl<'a> Rec<'a> {
    fn insert(&mut self, k: Cow<'a, str>, v: V<'a>) {
        if let Some(slot) = self.0.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            self.0.push((k, v));
        }
    }
    fn remove(&mut self, k: &str) -> Option<V<'a>> {
        let i = self.0.iter().position(|(key, _)| key == k)?;
        Some(self.0.remove(i).1)
    }
}

/// Merge_Log_Trim: drop trailing newlines and escaped `\n`/`\r` (never the first char).
fn trim(v: J) -> J {
    let J::Str(s) = v else { return v };
    let b = s.as_bytes();
    let mut end = b.len();
    let mut i = end as isize - 1;
    while i > 0 {
        let iu = i as usize;
        if b[iu] == b'\n' {
            end -= 1;
            i -= 1;
            continue;
        }
        if b[iu - 1] == b'\\' && (b[iu] == b'n' || b[iu] == b'r') {
            end -= 2;
            i -= 2;
            continue;
        }
        break;
    }
    J::Str(s[..end].to_string())
}

/// Whether Replace_Dots would change anything in `v`.
fn has_dotted_key(v: &J) -> bool {
    match v {
        J::Obj(o) => o.0.iter().any(|(k, x)| k.contains('.') || has_dotted_key(x)),
        J::Arr(a) => a.iter().any(has_dotted_key),
        _ => false,
    }
}

/// Replace_Dots: '.' → '_' in every key, at every depth (later keys win, first position).
pub fn dedot(v: J) -> J {
    match v {
        J::Obj(o) => {
            let renamed =
                o.0.into_iter().map(|(k, x)| (if k.contains('.') { k.replace('.', "_") } else { k }, dedot(x)));
            J::Obj(json::Obj(json::dedup_last_wins(renamed.collect())))
        }
        J::Arr(a) => J::Arr(a.into_iter().map(dedot).collect()),
        other => other,
    }
}

/// The body as Fluent Bit's kubernetes filter reads it: a JSON object, or nothing.
pub fn fb_json_object(text: &str) -> Option<json::Obj> {
    let body = text.trim();
    if !body.starts_with('{') || !body.ends_with('}') {
        return None;
    }
    match json::parse(body.as_bytes(), Numbers::FluentBit) {
        Ok(J::Obj(o)) => Some(o),
        _ => None,
    }
}

/// `<pod>_<namespace>_<container>-<id>.log`, the kubelet symlink Fluent Bit's tag names.
fn tag(fb: &FluentBit, line: &Line) -> String {
    format!("{}{}_{}_{}-{}.log", fb.tag_prefix, line.pod, line.namespace, line.container, line.container_id)
}

fn base_record<'a>(fb: &FluentBit, line: &'a Line) -> Rec<'a> {
    let with_nl = |l: &'a Line| -> Cow<'a, str> {
        if l.partial {
            Cow::Borrowed(&l.text)
        } else {
            Cow::Owned(format!("{}\n", l.text))
        }
    };
    let b = |s: &'a str| V::S(Cow::Borrowed(s));
    let stream = b(line.stream());
    let mut r: Vec<(Cow<'a, str>, V<'a>)> = Vec::with_capacity(8);
    match fb.parser {
        FbParser::Cri => {
            r.push(("time".into(), b(&line.time_text)));
            r.push(("stream".into(), stream));
            r.push(("_p".into(), b(if line.first_partial || line.partial { "P" } else { "F" })));
            r.push(("log".into(), b(&line.text)));
        }
        FbParser::CriClassic => {
            // the stock cri parser's Time_Format needs a fraction; without one the parse fails
            // and Fluent Bit drops the time key (observed in the goldens)
            if line.time_text.contains('.') {
                r.push(("time".into(), b(&line.time_text)));
            }
            r.push(("stream".into(), stream));
            r.push(("logtag".into(), b(if line.partial { "P" } else { "F" })));
            if !line.text.is_empty() {
                r.push(("message".into(), b(&line.text)));
            }
        }
        FbParser::Docker | FbParser::DockerClassic => {
            r.push(("log".into(), V::S(with_nl(line))));
            r.push(("stream".into(), stream));
            r.push(("time".into(), b(&line.time_text)));
        }
    }
    Rec(r)
}

fn merge<'a>(fb: &FluentBit, rec: Rec<'a>) -> Rec<'a> {
    if !fb.merge_log {
        return rec;
    }
    let body = match rec.0.iter().find(|(k, _)| k == "log") {
        Some((_, V::S(text))) => fb_json_object(text),
        _ => None,
    };
    let Some(mut body) = body else { return rec };
    let keep = fb.keep_log;
    if !fb.merge_log_key.is_empty() {
        let mut out = Rec(rec.0.into_iter().filter(|(k, _)| keep || k != "log").collect());
        if !body.is_empty() {
            let nested = if fb.merge_log_trim {
                json::Obj(body.0.into_iter().map(|(k, v)| (k, trim(v))).collect())
            } else {
                body
            };
            out.insert(Cow::Owned(fb.merge_log_key.clone()), V::J(J::Obj(nested)));
        }
        return out;
    }
    body.remove("kubernetes"); // anti-spoofing: a body never sets metadata
                               // the body's keys are unique (the parser keeps a repeated key once) and the record's
                               // keys it names are left out: a push each, no search (linear in a 100k-key body)
                               // the record has a handful of keys, the body maybe 100k: look the body's keys up in
                               // the record's, not the other way round (no hash of every body key)
    let named: Vec<bool> = {
        let record: Vec<&str> = rec.0.iter().map(|(k, _)| k.as_ref()).collect();
        let mut hit = vec![false; record.len()];
        for (k, _) in &body.0 {
            if let Some(i) = record.iter().position(|r| *r == k.as_str()) {
                hit[i] = true;
            }
        }
        hit
    };
    let mut out: Vec<(Cow<'a, str>, V<'a>)> = rec
        .0
        .into_iter()
        .zip(named)
        .filter(|((k, _), named)| !named && (keep || k != "log"))
        .map(|(kv, _)| kv)
        .collect();
    for (k, v) in body.0 {
        out.push((Cow::Owned(k), V::J(if fb.merge_log_trim { trim(v) } else { v })));
    }
    Rec(out)
}

fn write_v(out: &mut Vec<u8>, v: &V, dots: bool) {
    match v {
        V::S(s) => json::write_str(out, s),
        V::J(j) if dots && has_dotted_key(j) => json::write(out, &dedot(j.clone())),
        V::J(j) => json::write(out, j),
        V::Frag(f) => out.extend_from_slice(&f.parts[0]),
    }
}

fn pack_v(out: &mut Vec<u8>, v: &V, dots: bool) {
    match v {
        V::S(s) => genid::pack_str(out, s),
        V::J(j) if dots => genid::pack(out, &dedot(j.clone())),
        V::J(j) => genid::pack(out, j),
        V::Frag(f) => match &f.kube {
            Some(k) => genid::pack(out, k),
            None => genid::pack_nil(out),
        },
    }
}

/// The document's entries with Replace_Dots applied to the top-level keys: two keys that
/// collapse to one keep the first position and the later value, as a Python dict does.
fn normalized<'r, 'a>(rec: &'r Rec<'a>, dots: bool) -> Vec<(std::borrow::Cow<'r, str>, &'r V<'a>)> {
    let out: Vec<(std::borrow::Cow<'r, str>, &'r V<'a>)> = rec
        .0
        .iter()
        .map(|(k, v)| {
            let key: std::borrow::Cow<'r, str> = if dots && k.contains('.') {
                std::borrow::Cow::Owned(k.replace('.', "_"))
            } else {
                std::borrow::Cow::Borrowed(k)
            };
            (key, v)
        })
        .collect();
    // Replace_Dots can make two keys one (`a.b`, `a_b`): the later wins, first place
    if dots {
        json::dedup_last_wins(out)
    } else {
        out
    }
}

fn write_doc(rec: &Rec, dots: bool) -> Vec<u8> {
    // room for the usual document in one allocation (escapes and nested values may grow it)
    let hint: usize = rec
        .0
        .iter()
        .map(|(k, v)| {
            k.len()
                + 4
                + match v {
                    V::S(s) => s.len() + 8,
                    V::J(_) => 64,
                    V::Frag(f) => f.parts.first().map_or(0, Vec::len),
                }
        })
        .sum();
    let mut out = Vec::with_capacity(hint + 2);
    out.push(b'{');
    for (n, (k, v)) in normalized(rec, dots).iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        json::write_str(&mut out, k);
        out.push(b':');
        write_v(&mut out, v, dots);
    }
    out.push(b'}');
    out
}

fn pack_doc(rec: &Rec, dots: bool) -> Vec<u8> {
    let entries = normalized(rec, dots);
    let mut out = Vec::with_capacity(256);
    genid::pack_map_header(&mut out, entries.len());
    for (k, v) in &entries {
        genid::pack_str(&mut out, k);
        pack_v(&mut out, v, dots);
    }
    out
}

fn fluent_bit(fb: &mut FluentBit, line: &Line, frag: &Fragment) -> Doc {
    let mut rec = merge(fb, base_record(fb, line));
    rec.remove("kubernetes");
    if !frag.parts.is_empty() && !frag.parts[0].is_empty() {
        rec.0.push(("kubernetes".into(), V::Frag(frag)));
    }
    // record_modifier `Record` appends each pair (a repeated key is repeated, as its
    // msgpack map is); modify `Add` adds a key the record does not have
    for (k, v) in &fb.records {
        rec.0.push((Cow::Owned(k.clone()), V::S(Cow::Owned(v.clone()))));
    }
    for (k, v) in &fb.adds {
        if !rec.0.iter().any(|(key, _)| key == k) {
            rec.0.push((Cow::Owned(k.clone()), V::S(Cow::Owned(v.clone()))));
        }
    }
    let secs = line.ts_ns.div_euclid(NS);
    let ns = line.ts_ns.rem_euclid(NS);
    match fb.output {
        FbOutput::Plain => Doc { body: write_doc(&rec, false), index: Ok(String::new()), id: None },
        FbOutput::Kafka => {
            let ts = match fb.timestamp_format {
                TsFormat::Double => V::J(J::Float(line.ts_ns as f64 / 1e9)),
                TsFormat::Iso8601 => V::S(format_rfc3339(line.ts_ns, 6).into()),
                TsFormat::Iso8601Ns => V::S(format_rfc3339(line.ts_ns, 9).into()),
            };
            let key = Cow::Borrowed(fb.timestamp_key.as_str());
            rec.remove(&key);
            rec.0.insert(0, (key, ts));
            Doc { body: write_doc(&rec, false), index: Ok(String::new()), id: None }
        }
        FbOutput::Es => {
            let key = Cow::Borrowed(fb.time_key.as_str());
            let mut doc = Rec(Vec::with_capacity(rec.0.len() + 2));
            // a record that already carries the time key (a merged JSON body's
            // `@timestamp`) keeps it where the merge put it: the output neither prepends
            // its own nor moves it (observed on Fluent Bit 4.2.8)
            if !rec.0.iter().any(|(k, _)| *k == key) {
                let mut t = String::with_capacity(32);
                t.push_str(fb.time_key_format.get(secs));
                t.push('.');
                crate::time::push_frac(&mut t, ns, if fb.time_key_nanos { 9 } else { 3 });
                t.push('Z');
                doc.0.push((key, V::S(Cow::Owned(t))));
            }
            if fb.include_tag_key {
                doc.insert(Cow::Borrowed(fb.tag_key.as_str()), V::S(Cow::Owned(tag(fb, line))));
            }
            doc.0.extend(rec.0);
            doc.0 = json::dedup_last_wins(std::mem::take(&mut doc.0));
            let dots = fb.replace_dots;
            let index = if fb.logstash_format {
                let mut prefix = if fb.logstash_prefix_key.is_empty() {
                    String::new()
                } else {
                    fb.logstash_prefix_key.render(&mut |path| lookup(&doc, path))
                };
                if prefix.len() > 128 {
                    // es.c copies at most 128 bytes of the translated prefix
                    let mut end = 128;
                    while !prefix.is_char_boundary(end) {
                        end -= 1;
                    }
                    prefix.truncate(end);
                }
                let prefix = if prefix.is_empty() { fb.logstash_prefix.as_str() } else { prefix.as_str() };
                let date = fb.logstash_dateformat.get(secs);
                let mut name = String::with_capacity(prefix.len() + fb.logstash_prefix_separator.len() + date.len());
                name.push_str(prefix);
                name.push_str(&fb.logstash_prefix_separator);
                name.push_str(date);
                name
            } else {
                fb.index.clone()
            };
            let id = if fb.generate_id { Some(genid::generate_id(&pack_doc(&doc, dots))) } else { None };
            Doc { body: write_doc(&doc, dots), index: Ok(index), id }
        }
    }
}

/// A record key's value for a record-accessor path (`$kubernetes['namespace_name']`):
/// the kubernetes map is looked up in the fragment's parsed value.
fn lookup(rec: &Rec, path: &[String]) -> Option<J> {
    let (first, rest) = path.split_first()?;
    let (_, v) = rec.0.iter().find(|(k, _)| k == first)?;
    match v {
        V::S(s) if rest.is_empty() => Some(J::Str(s.to_string())),
        V::S(_) => None,
        V::J(j) => crate::route::descend(j, rest).cloned(),
        V::Frag(f) => crate::route::descend(f.kube.as_ref()?, rest).cloned(),
    }
}

/// `,"message":<text>,"stream":<stream>` — the per-record keys both ECS and Vector write.
fn write_message_stream(out: &mut Vec<u8>, line: &Line, between: &[u8]) {
    out.extend_from_slice(b",\"message\":");
    json::write_str(out, &line.text);
    out.extend_from_slice(between);
    out.extend_from_slice(b",\"stream\":");
    json::write_str(out, line.stream());
}

fn filebeat(index: &mut IndexPattern, line: &Line, frag: &Fragment) -> Doc {
    let mut out = Vec::with_capacity(512 + line.text.len());
    out.extend_from_slice(b"{\"@timestamp\":");
    json::write_str(&mut out, &format_rfc3339(line.ts_ns, 3));
    out.push(b',');
    out.extend_from_slice(&frag.parts[0]);
    if line.text.is_empty() {
        // an empty line is an event without `message` (libbeat reader/message.go IsEmpty)
        out.extend_from_slice(b",\"stream\":");
        json::write_str(&mut out, line.stream());
    } else {
        write_message_stream(&mut out, line, b"");
    }
    out.extend_from_slice(&frag.parts[1]);
    out.push(b'}');
    let local = line.ts_ns.div_euclid(NS) + crate::time::utc_offset_secs(&line.time_text);
    Doc { body: out, index: index.get(frag, local), id: None }
}

fn vector(index: &mut IndexPattern, line: &Line, frag: &Fragment) -> Doc {
    // keys sorted, as Vector's JSON encoder writes its map: the pod's keys (in six runs,
    // see `Fragment::parts`) around `_partial`, `message`, `source_type`, `stream`,
    // `timestamp`
    let mut out = Vec::with_capacity(512 + line.text.len());
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, pairs: &[u8]| {
        if pairs.is_empty() {
            return;
        }
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(pairs);
        first = false;
    };
    let part = |i: usize| frag.parts.get(i).map_or(&[][..], |p| p.as_slice());
    put(&mut out, part(0));
    if line.first_partial || line.partial {
        // an event merged from partial fragments keeps its first fragment's flag
        put(&mut out, b"\"_partial\":true");
    }
    put(&mut out, part(1));
    let mut msg = Vec::with_capacity(line.text.len() + 12);
    msg.extend_from_slice(b"\"message\":");
    json::write_str(&mut msg, &line.text);
    put(&mut out, &msg);
    put(&mut out, part(2));
    put(&mut out, b"\"source_type\":\"kubernetes_logs\"");
    put(&mut out, part(3));
    put(&mut out, if line.stderr { b"\"stream\":\"stderr\"" } else { b"\"stream\":\"stdout\"" });
    put(&mut out, part(4));
    let mut ts = Vec::with_capacity(48);
    ts.extend_from_slice(b"\"timestamp\":");
    json::write_str(&mut ts, &format_autosi(line.ts_ns));
    put(&mut out, &ts);
    put(&mut out, part(5));
    out.push(b'}');
    Doc { body: out, index: index.get(frag, line.ts_ns.div_euclid(NS)), id: None }
}

pub fn encode(profile: &mut Profile, line: &Line, frag: &Rc<Fragment>) -> Doc {
    match profile {
        Profile::FluentBit(fb) => fluent_bit(fb, line, frag),
        Profile::Filebeat { index, .. } => filebeat(index, line, frag),
        Profile::Vector { index, .. } => vector(index, line, frag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_rules() {
        assert_eq!(trim(J::Str("a\\n\n".into())), J::Str("a".into()));
        assert_eq!(trim(J::Str("\n".into())), J::Str("\n".into()));
    }

    #[test]
    fn merge_body_never_sets_kubernetes() {
        let o = fb_json_object(r#" {"kubernetes":{"namespace_name":"kube-system"},"a.b":1} "#).unwrap();
        assert!(o.contains("kubernetes"));
        let d = dedot(J::Obj(o));
        assert_eq!(json::to_vec(&d), br#"{"kubernetes":{"namespace_name":"kube-system"},"a_b":1}"#);
        assert!(fb_json_object(&("{\"a\":".to_string() + &"[".repeat(300) + &"]".repeat(300) + "}")).is_none());
    }
}
