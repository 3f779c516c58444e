//! Reassemble lines: CRI `P`…`F` fragments, then optional stack-trace grouping.
//!
//! Why: runtimes split lines over 16 KiB into `P` fragments and providers do not merge
//! them (docs/architecture.md §3); Fluent Bit's `multiline.parser cri` does, keeping the first
//! fragment's `time` and `_p`. Stack traces become one document only where the platform
//! asked for it. Both are state machines keyed by (namespace, pod, container, stream);
//! each emitted line carries the tokens (source, offset) of every input it consumed, so
//! the caller never commits past a held-back fragment.

use crate::decode::Line;
use ahash::AHashMap;
use regex::Regex;

/// (source index, offset): where a consumed record came from.
pub type Tok = (u32, i64);

#[derive(Debug, Clone)]
pub struct Assembled {
    pub line: Line,
    pub toks: Vec<Tok>,
    pub truncated: bool,
}

type Key = (String, String, String, bool);

fn key(l: &Line) -> Key {
    (l.namespace.clone(), l.pod.clone(), l.container.clone(), l.stderr)
}

struct Pending {
    first: Line,
    text: String,
    toks: Vec<Tok>,
    last_seen: f64,
    truncated: bool,
}

/// Remove and return the entries idle for `idle` seconds, oldest first token first.
fn take_stale<V>(map: &mut AHashMap<Key, V>, now: f64, idle: f64, seen: impl Fn(&V) -> (f64, Option<Tok>)) -> Vec<V> {
    let mut stale: Vec<(Option<Tok>, Key)> =
        map.iter().filter(|(_, v)| now - seen(v).0 >= idle).map(|(k, v)| (seen(v).1, k.clone())).collect();
    stale.sort();
    stale.into_iter().filter_map(|(_, k)| map.remove(&k)).collect()
}

/// Streams (namespace, pod, container, stream) that may hold a partial line or a stack
/// trace at once; past it the longest-idle one is emitted (never dropped), so state is
/// bounded however many containers a hostile record stream claims.
pub const MAX_STREAMS: usize = 4096;

/// The key of the entry seen least recently (a scan: only when the map is full).
fn oldest<V>(map: &AHashMap<Key, V>, seen: impl Fn(&V) -> (f64, Option<Tok>)) -> Option<Key> {
    map.iter()
        .min_by(|a, b| seen(a.1).partial_cmp(&seen(b.1)).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(k, _)| k.clone())
}

pub struct Reassembler {
    max: usize,
    idle: f64,
    pending: AHashMap<Key, Pending>,
}

/// A line that is not joined with others, capped at `max` bytes like every line.
pub fn whole(mut line: Line, tok: Tok, max: usize) -> Assembled {
    let truncated = line.text.len() > max;
    if truncated {
        let n = cut(&line.text, max).len();
        line.text.truncate(n);
    }
    Assembled { line, toks: vec![tok], truncated }
}

/// Largest prefix of `s` that is at most `n` bytes and ends on a char boundary.
fn cut(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

impl Reassembler {
    pub fn new(max_bytes: usize, idle_s: f64) -> Self {
        Reassembler { max: max_bytes, idle: idle_s, pending: AHashMap::new() }
    }

    /// One line in; the line it completes out (or a whole line as it is). `evicted`
    /// receives the longest-idle pending line when a new stream would pass `MAX_STREAMS`.
    pub fn push(&mut self, line: Line, tok: Tok, now: f64, evicted: &mut Vec<Assembled>) -> Option<Assembled> {
        let k = key(&line);
        if !self.pending.contains_key(&k) && !line.partial {
            return Some(whole(line, tok, self.max)); // max_line_bytes caps every line
        }
        if !self.pending.contains_key(&k) && self.pending.len() >= MAX_STREAMS {
            if let Some(old) = oldest(&self.pending, |p| (p.last_seen, p.toks.first().copied())) {
                evicted.extend(self.pending.remove(&old).map(finish));
            }
        }
        let max = self.max;
        let pend = self.pending.entry(k.clone()).or_insert_with(|| Pending {
            first: Line { text: String::new(), ..line.clone() },
            text: String::new(),
            toks: Vec::new(),
            last_seen: now,
            truncated: false,
        });
        pend.toks.push(tok);
        pend.last_seen = now;
        if !pend.truncated {
            if pend.text.len() + line.text.len() > max {
                let room = max - pend.text.len();
                pend.text.push_str(cut(&line.text, room));
                pend.truncated = true;
            } else {
                pend.text.push_str(&line.text);
            }
        }
        if line.partial {
            return None;
        }
        let pend = self.pending.remove(&k)?;
        Some(finish(pend))
    }

    pub fn flush_idle(&mut self, now: f64) -> Vec<Assembled> {
        take_stale(&mut self.pending, now, self.idle, |p| (p.last_seen, p.toks.first().copied()))
            .into_iter()
            .map(finish)
            .collect()
    }

    /// Everything held, in first-record order (as if idle forever).
    pub fn flush_all(&mut self) -> Vec<Assembled> {
        self.flush_idle(f64::INFINITY)
    }

    pub fn held(&self) -> impl Iterator<Item = &Tok> {
        self.pending.values().flat_map(|p| p.toks.iter())
    }
}

fn finish(p: Pending) -> Assembled {
    let mut line = p.first;
    line.first_partial = line.partial;
    line.partial = false;
    line.text = p.text;
    Assembled { line, toks: p.toks, truncated: p.truncated }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    Java,
    Python,
    Go,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "java" => Some(Lang::Java),
            "python" => Some(Lang::Python),
            "go" => Some(Lang::Go),
            _ => None,
        }
    }
}

/// Start / continuation rules after Fluent Bit's built-in multiline parsers
/// (src/multiline/flb_ml_parser_{java,python,go}.c).
pub struct Rules {
    rules: [(Regex, Regex); 3],
}

impl Rules {
    pub fn new() -> Self {
        let r = |s: &str| Regex::new(s).expect("built-in multiline rule");
        Rules {
            rules: [
                (
                    r(r"(?:Exception|Error|Throwable|V8 errors stack trace)[:\r\n]|(?:Exception|Error)\n?\z"),
                    r(concat!(
                        r"^[\t ]+(?:eval )?at |^[\t ]*(?:Caused by|Suppressed):",
                        r"|^[\t ]*\.\.\. \d+ (?:more|common frames omitted)",
                        r"|^[\t ]*nested exception is:|^[\t ]+--- End of inner exception stack trace ---\n?\z"
                    )),
                ),
                (
                    r(r"^Traceback \(most recent call last\):\n?\z"),
                    r(r"^[\t ]+|^[\w.]*(?:Error|Exception|Warning|Exit|Interrupt)\b.*\n?\z|^\n?\z"),
                ),
                (
                    r(r"^(?:panic: |fatal error: |goroutine \d+ \[)"),
                    r(r"^[\t ]|^\n?\z|^goroutine \d+ \[|^\[signal |^created by |^[\w./()*-]+\(.*\)\n?\z|^exit status"),
                ),
            ],
        }
    }
    fn get(&self, lang: Lang) -> &(Regex, Regex) {
        &self.rules[lang as usize]
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::new()
    }
}

struct Group {
    first: Line,
    lines: Vec<String>,
    bytes: usize,
    toks: Vec<Tok>,
    last_seen: f64,
    lang: Lang,
    closing: bool,
}

/// A stack trace's caps, with the collectors' own defaults: Filebeat's
/// `multiline.max_lines` (500) and Fluent Bit's `multiline_buffer_limit` (2 MiB,
/// `FLB_ML_BUFFER_LIMIT_DEFAULT` in include/fluent-bit/multiline/flb_ml.h).
#[derive(Clone, Copy, Debug)]
pub struct GroupLimits {
    pub max_lines: usize,
    pub max_bytes: usize,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits { max_lines: 500, max_bytes: 2 * 1024 * 1024 }
    }
}

pub struct Grouper {
    idle: f64,
    limits: GroupLimits,
    rules: Rules,
    groups: AHashMap<Key, Group>,
}

impl Grouper {
    pub fn new(idle_s: f64, limits: GroupLimits) -> Self {
        Grouper { idle: idle_s, limits, rules: Rules::new(), groups: AHashMap::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Feed one assembled line; `lang` is the pod's configured language, if any.
    /// A group that reaches `max_lines` or `max_bytes` is emitted as it is and the trace
    /// goes on in a new group from the next continuation line: flushed, never dropped,
    /// and a 200k-line trace holds at most one capped group at a time.
    pub fn push(&mut self, item: Assembled, lang: Option<Lang>, now: f64, out: &mut Vec<Assembled>) {
        let k = key(&item.line);
        if let Some(grp) = self.groups.get_mut(&k) {
            let (start, cont) = self.rules.get(grp.lang);
            let text = &item.line.text;
            if !grp.closing && cont.is_match(text) && !(grp.lang == Lang::Python && start.is_match(text)) {
                let full =
                    grp.lines.len() >= self.limits.max_lines || grp.bytes + 1 + text.len() > self.limits.max_bytes;
                if full {
                    let l = grp.lang;
                    let closing =
                        grp.lang == Lang::Python && !text.is_empty() && !text.starts_with(char::is_whitespace);
                    if let Some(g) = self.groups.remove(&k) {
                        out.push(finish_group(g));
                    }
                    self.open(k, item, l, now, closing);
                    return;
                }
                grp.bytes += 1 + text.len();
                grp.lines.push(text.clone());
                grp.toks.extend_from_slice(&item.toks);
                grp.last_seen = now;
                if grp.lang == Lang::Python && !text.is_empty() && !text.starts_with(char::is_whitespace) {
                    grp.closing = true;
                }
                return;
            }
            if let Some(g) = self.groups.remove(&k) {
                out.push(finish_group(g));
            }
        }
        if let Some(l) = lang {
            if self.rules.get(l).0.is_match(&item.line.text) {
                if self.groups.len() >= MAX_STREAMS {
                    if let Some(old) = oldest(&self.groups, |g| (g.last_seen, g.toks.first().copied())) {
                        out.extend(self.groups.remove(&old).map(finish_group));
                    }
                }
                self.open(k, item, l, now, false);
                return;
            }
        }
        out.push(item);
    }

    fn open(&mut self, k: Key, item: Assembled, lang: Lang, now: f64, closing: bool) {
        let text = item.line.text.clone();
        let group = Group {
            first: item.line,
            bytes: text.len(),
            lines: vec![text],
            toks: item.toks,
            last_seen: now,
            lang,
            closing,
        };
        self.groups.insert(k, group);
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn flush_idle(&mut self, now: f64) -> Vec<Assembled> {
        take_stale(&mut self.groups, now, self.idle, |g| (g.last_seen, g.toks.first().copied()))
            .into_iter()
            .map(finish_group)
            .collect()
    }

    /// Everything held, in first-record order (as if idle forever).
    pub fn flush_all(&mut self) -> Vec<Assembled> {
        self.flush_idle(f64::INFINITY)
    }

    pub fn held(&self) -> impl Iterator<Item = &Tok> {
        self.groups.values().flat_map(|g| g.toks.iter())
    }
}

fn finish_group(g: Group) -> Assembled {
    let mut line = g.first;
    line.text = g.lines.join("\n");
    Assembled { line, toks: g.toks, truncated: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(text: &str, partial: bool) -> Line {
        Line {
            ts_ns: 1,
            time_text: "t".into(),
            stderr: false,
            text: text.into(),
            partial,
            namespace: "n".into(),
            pod: "p".into(),
            container: "c".into(),
            container_id: String::new(),
            embedded: None,
            first_partial: false,
            shape: "cri",
            via: Default::default(),
        }
    }

    #[test]
    fn joins_partials_with_a_cap() {
        let mut r = Reassembler::new(5, 4.0);
        let mut ev = Vec::new();
        assert!(r.push(l("abc", true), (0, 1), 0.0, &mut ev).is_none());
        assert_eq!(r.held().count(), 1);
        let done = r.push(l("défg", false), (0, 2), 0.0, &mut ev).unwrap();
        assert_eq!(done.line.text, "abcd"); // 'é' would cross the 5-byte cap
        assert!(done.truncated && done.line.first_partial && !done.line.partial);
        assert_eq!(done.toks, vec![(0, 1), (0, 2)]);
    }

    #[test]
    fn groups_a_python_traceback() {
        let mut g = Grouper::new(4.0, GroupLimits::default());
        let mut out = Vec::new();
        for (i, t) in
            ["Traceback (most recent call last):", "  File \"x\", line 1", "ValueError: bad", "next"].iter().enumerate()
        {
            g.push(
                Assembled { line: l(t, false), toks: vec![(0, i as i64)], truncated: false },
                Some(Lang::Python),
                0.0,
                &mut out,
            );
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].line.text, "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: bad");
        assert_eq!(out[1].line.text, "next");
        assert!(g.flush_all().is_empty());
    }
}
