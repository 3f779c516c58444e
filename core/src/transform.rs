//! decode → reassemble → group stack traces → splice the pod's fragment → encode, a
//! record at a time inside a batch, with the bookkeeping the delivery contract needs.
//!
//! Why: this is the per-record path; it owns no I/O. Fragments come from a `Render`
//! implementation (the Python profiles, once per pod change) and are cached per
//! (namespace, pod) until the inventory says the pod, its node or its namespace
//! changed. Each output carries the tokens it consumed; `held` tells which offsets a
//! pending partial line or stack trace still holds, so the caller never commits past
//! them; a replay filter skips what a crashed predecessor already delivered.

use crate::assemble::{Assembled, GroupLimits, Grouper, Lang, Reassembler, Tok};
use crate::decode::{decode_memo, Bad, Embedded, Ident, KubeMemo, Line, Reason, Spec};
use crate::encode::{encode, Fragment, Profile};
use ahash::{AHashMap, AHashSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;

pub trait Render {
    /// The fragment for a line's (namespace, pod, container, container id), resolving the
    /// pod through the inventory and, failing that, through `embedded`.
    fn render(&mut self, line: &Line, embedded: Option<&Embedded>) -> Result<Fragment, String>;
}

pub struct DocOut {
    pub body: Vec<u8>,
    pub index: String,
    pub id: Option<String>,
    pub frag: Rc<Fragment>,
    pub toks: Vec<Tok>,
}

pub struct DeadOut {
    pub tok: Tok,
    pub reason: Reason,
    pub detail: String,
}

#[derive(Default)]
pub struct Out {
    pub docs: Vec<DocOut>,
    pub dead: Vec<DeadOut>,
    pub replayed: usize,
    pub truncated: usize,
    /// records whose pod is excluded by configuration (filtered)
    pub excluded: usize,
    /// bytes of the record values pushed
    pub bytes_in: usize,
}

pub struct Config {
    pub spec: Spec,
    pub max_line_bytes: usize,
    pub idle_s: f64,
    pub multiline_namespaces: AHashMap<String, Lang>,
    pub multiline: GroupLimits,
}

type PodKey = (String, String);
/// namespace, pod, container, container id, embedded metadata, its hash, the fragment
type LastFragment = (String, String, String, String, Option<Rc<Embedded>>, u64, Rc<Fragment>);
type SubKey = (String, String, u64);

#[derive(Default)]
struct Replay {
    mark: i64,
    held: AHashSet<i64>,
}

pub struct Transformer {
    pub profile: Profile,
    cfg: Config,
    reasm: Reassembler,
    group: Grouper,
    cache: AHashMap<PodKey, AHashMap<SubKey, Rc<Fragment>>>,
    replay: AHashMap<u32, Replay>,
    /// the last (namespace, pod, container, container id) looked up and its fragment:
    /// records of one pod come in runs, so most lookups end here
    last: Option<LastFragment>,
    kube: KubeMemo,
    pub renders: u64,
    pub records_in: u64,
    pub documents_out: u64,
    pub dead: AHashMap<&'static str, u64>,
    pub sources: [u64; 4],
    index_ok: String,
}

fn emb_hash(e: &Embedded) -> u64 {
    let mut h = ahash::AHasher::default();
    e.hash(&mut h);
    h.finish() | 1 // never 0: 0 is "resolved without embedded metadata"
}

impl Transformer {
    pub fn new(profile: Profile, cfg: Config) -> Self {
        let (max, idle, limits) = (cfg.max_line_bytes, cfg.idle_s, cfg.multiline);
        Transformer {
            profile,
            cfg,
            reasm: Reassembler::new(max, idle),
            group: Grouper::new(idle, limits),
            cache: AHashMap::new(),
            replay: AHashMap::new(),
            last: None,
            kube: KubeMemo::default(),
            renders: 0,
            records_in: 0,
            documents_out: 0,
            dead: AHashMap::new(),
            sources: [0; 4],
            index_ok: String::new(),
        }
    }

    /// `index` when Elasticsearch accepts it as a name ("" = no index: not an ES output);
    /// the last accepted name is remembered, so a run of one index is checked once.
    fn valid_index(&mut self, index: String) -> Result<String, String> {
        if index.is_empty() || index == self.index_ok {
            return Ok(index);
        }
        if let Some(why) = crate::route::invalid_index(&index) {
            return Err(why);
        }
        self.index_ok.clone_from(&index);
        Ok(index)
    }

    pub fn invalidate(&mut self, namespace: &str, pod: &str) {
        self.cache.remove(&(namespace.to_string(), pod.to_string()));
        self.last = None;
    }

    pub fn invalidate_all(&mut self) {
        self.cache.clear();
        self.last = None;
    }

    pub fn cached_pods(&self) -> usize {
        self.cache.len()
    }

    pub fn set_replay(&mut self, source: u32, mark: i64, held: &[i64]) {
        self.replay.insert(source, Replay { mark, held: held.iter().copied().collect() });
    }

    pub fn clear_replay(&mut self) {
        self.replay.clear();
    }

    fn delivered(&self, toks: &[Tok]) -> bool {
        if self.replay.is_empty() || toks.is_empty() {
            return false;
        }
        toks.iter().all(|(s, o)| matches!(self.replay.get(s), Some(r) if *o < r.mark && !r.held.contains(o)))
    }

    fn passed(&mut self, tok: Tok) {
        if let Some(r) = self.replay.get(&tok.0) {
            if tok.1 >= r.mark {
                self.replay.remove(&tok.0);
            }
        }
    }

    fn dead_letter(&mut self, out: &mut Out, tok: Tok, bad: Bad) {
        if self.delivered(&[tok]) {
            out.replayed += 1;
            return;
        }
        *self.dead.entry(bad.reason.as_str()).or_insert(0) += 1;
        out.dead.push(DeadOut { tok, reason: bad.reason, detail: bad.detail });
    }

    /// One record. Never panics outward: `lib.rs` also catches unwinds per record.
    pub fn push(
        &mut self,
        value: &[u8],
        tok: Tok,
        ctx: &mut dyn FnMut() -> Ident,
        now: f64,
        render: &mut dyn Render,
        out: &mut Out,
    ) {
        self.records_in += 1;
        let line = match decode_memo(value, &self.cfg.spec, ctx, &mut self.kube) {
            Ok(l) if matches!(self.profile, Profile::Vector { .. }) => vector_line(l, value),
            Ok(l) => l,
            Err(bad) => {
                self.dead_letter(out, tok, bad);
                self.passed(tok);
                return;
            }
        };
        let item = if self.profile.joins_partials() {
            let mut evicted = Vec::new();
            let done = self.reasm.push(line, tok, now, &mut evicted);
            for a in evicted {
                self.group_and_encode(a, now, render, out);
            }
            match done {
                Some(a) => a,
                None => {
                    self.passed(tok);
                    return;
                }
            }
        } else {
            crate::assemble::whole(line, tok, self.cfg.max_line_bytes)
        };
        self.group_and_encode(item, now, render, out);
        self.passed(tok);
    }

    fn fragment(&mut self, line: &Line, render: &mut dyn Render) -> Result<Rc<Fragment>, String> {
        // records of one pod come in runs: the last fragment answers most lookups, also
        // one rendered from embedded metadata while that metadata stays the same
        let same_emb = |last: &Option<Rc<Embedded>>| match (last, &line.embedded) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let emb = match &self.last {
            // the decoder hands out one shared value per distinct embedded object
            Some((.., e, h, _)) if same_emb(e) => *h,
            _ => line.embedded.as_deref().map_or(0, emb_hash),
        };
        if let Some((ns, pod, c, cid, _, h, f)) = &self.last {
            if (f.source <= 1 || *h == emb)
                && *ns == line.namespace
                && *pod == line.pod
                && *c == line.container
                && *cid == line.container_id
            {
                return Ok(f.clone());
            }
        }
        let f = self.fragment_slow(line, emb, render)?;
        self.last = Some((
            line.namespace.clone(),
            line.pod.clone(),
            line.container.clone(),
            line.container_id.clone(),
            line.embedded.clone(),
            emb,
            f.clone(),
        ));
        Ok(f)
    }

    fn fragment_slow(&mut self, line: &Line, emb_h: u64, render: &mut dyn Render) -> Result<Rc<Fragment>, String> {
        let pk = (line.namespace.clone(), line.pod.clone());
        let sub0 = (line.container.clone(), line.container_id.clone(), 0u64);
        let per_pod = self.cache.entry(pk.clone()).or_default();
        let base = match per_pod.get(&sub0) {
            Some(f) => f.clone(),
            None => {
                self.renders += 1;
                let f = Rc::new(render.render(line, None)?);
                self.cache.entry(pk.clone()).or_default().insert(sub0, f.clone());
                f
            }
        };
        let Some(emb) = line.embedded.as_deref() else { return Ok(base) };
        if base.source <= 1 {
            return Ok(base); // the inventory knows the pod: embedded metadata is not used
        }
        let sub = (line.container.clone(), line.container_id.clone(), emb_h);
        if let Some(f) = self.cache.get(&pk).and_then(|m| m.get(&sub)) {
            return Ok(f.clone());
        }
        self.renders += 1;
        let f = Rc::new(render.render(line, Some(emb))?);
        self.cache.entry(pk).or_default().insert(sub, f.clone());
        Ok(f)
    }

    fn lang(&self, frag: &Fragment, namespace: &str) -> Option<Lang> {
        frag.lang.or_else(|| {
            let m = &self.cfg.multiline_namespaces;
            m.get(namespace).or_else(|| m.get("*")).copied()
        })
    }

    /// Group (when the pod's language asks for it) and encode. Every line that leaves
    /// the assembly state goes through `emit`, which owns its tokens until they are in a
    /// document or a dead letter: a panic below costs that line an `internal_error` dead
    /// letter, never its tokens.
    fn group_and_encode(&mut self, item: Assembled, now: f64, render: &mut dyn Render, out: &mut Out) {
        if item.truncated {
            out.truncated += 1;
        }
        let dead_before = out.dead.len();
        let looked = guard(|| self.fragment_or_dead(&item, render, out));
        let frag = match looked {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(()) => return self.lost(&item.toks, dead_before, out),
        };
        let lang = self.lang(&frag, &item.line.namespace);
        if lang.is_none() && self.group.is_empty() {
            return self.emit(item, Some(frag), render, out);
        }
        let mut ready = Vec::new();
        let same = item.toks.clone();
        self.group.push(item, lang, now, &mut ready);
        for a in ready {
            // a line that passed straight through keeps its fragment (one lookup per line)
            let f = (a.toks == same).then(|| frag.clone());
            self.emit(a, f, render, out);
        }
    }

    /// Encode one line (looking its fragment up unless given), panic-safe.
    fn emit(&mut self, mut a: Assembled, frag: Option<Rc<Fragment>>, render: &mut dyn Render, out: &mut Out) {
        // `a` is only borrowed below: after a panic its tokens are still here (no copy of
        // them per line on the way through)
        let dead_before = out.dead.len();
        let res = guard(|| {
            let f = match frag {
                Some(f) => Some(f),
                None => self.fragment_or_dead(&a, render, out),
            };
            if let Some(f) = f {
                #[cfg(test)]
                if a.line.text.contains(INJECTED_PANIC) {
                    panic!("injected");
                }
                self.encode_one(&mut a, f, out);
            }
        });
        if res.is_err() {
            self.lost(&a.toks, dead_before, out);
        }
    }

    /// After a panic: each of `toks` not dead-lettered since `dead_before` becomes an
    /// `internal_error` dead letter (a document is only pushed once it is whole).
    fn lost(&mut self, toks: &[Tok], dead_before: usize, out: &mut Out) {
        let already: AHashSet<Tok> = out.dead[dead_before..].iter().map(|d| d.tok).collect();
        for t in toks {
            if !already.contains(t) {
                let bad = Bad { reason: Reason::Internal, detail: "internal error in the core".into() };
                self.dead_letter(out, *t, bad);
            }
        }
    }

    fn fragment_or_dead(&mut self, a: &Assembled, render: &mut dyn Render, out: &mut Out) -> Option<Rc<Fragment>> {
        match self.fragment(&a.line, render) {
            Ok(f) => Some(f),
            Err(e) => {
                for t in &a.toks {
                    let bad = Bad { reason: Reason::Internal, detail: format!("rendering metadata: {e:.160}") };
                    self.dead_letter(out, *t, bad);
                }
                None
            }
        }
    }

    /// The document of `a` (its tokens are taken only once the document is whole).
    fn encode_one(&mut self, a: &mut Assembled, frag: Rc<Fragment>, out: &mut Out) {
        if self.delivered(&a.toks) {
            out.replayed += a.toks.len();
            return;
        }
        if frag.exclude || !self.profile.keeps_line(&a.line.text, a.line.stream()) {
            out.excluded += a.toks.len();
            return;
        }
        let doc = encode(&mut self.profile, &a.line, &frag);
        let index = match doc.index.and_then(|i| self.valid_index(i)) {
            Ok(index) => index,
            Err(why) => {
                for t in &a.toks {
                    let bad = Bad { reason: Reason::BadIndex, detail: why.clone() };
                    self.dead_letter(out, *t, bad);
                }
                return;
            }
        };
        self.sources[frag.source.min(3) as usize] += 1;
        self.documents_out += 1;
        out.docs.push(DocOut { body: doc.body, index, id: doc.id, frag, toks: std::mem::take(&mut a.toks) });
    }

    pub fn flush_idle(&mut self, now: f64, render: &mut dyn Render, out: &mut Out) {
        for a in self.reasm.flush_idle(now) {
            self.group_and_encode(a, now, render, out);
        }
        for a in self.group.flush_idle(now) {
            self.emit(a, None, render, out);
        }
    }

    pub fn flush_all(&mut self, render: &mut dyn Render, out: &mut Out) {
        for a in self.reasm.flush_all() {
            self.group_and_encode(a, 0.0, render, out);
        }
        for a in self.group.flush_all() {
            self.emit(a, None, render, out);
        }
    }

    /// Flush idle (`all` = false) or everything, never losing a record to a panic: if one
    /// happens, every record that was held before, is held no more and reached neither a
    /// document nor a dead letter becomes an `internal_error` dead letter.
    pub fn flush_guarded(&mut self, all: bool, now: f64, render: &mut dyn Render, out: &mut Out) {
        let before: Vec<Tok> = self.reasm.held().chain(self.group.held()).copied().collect();
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if all {
                self.flush_all(render, out)
            } else {
                self.flush_idle(now, render, out)
            }
        }));
        if res.is_err() {
            let mut accounted: AHashSet<Tok> = self.reasm.held().chain(self.group.held()).copied().collect();
            accounted.extend(out.docs.iter().flat_map(|d| d.toks.iter().copied()));
            accounted.extend(out.dead.iter().map(|d| d.tok));
            for tok in before {
                if accounted.insert(tok) {
                    *self.dead.entry(Reason::Internal.as_str()).or_insert(0) += 1;
                    out.dead.push(DeadOut {
                        tok,
                        reason: Reason::Internal,
                        detail: "internal error in the core while flushing".into(),
                    });
                }
            }
        }
    }

    /// Offsets of `source` that a pending partial line or stack trace still holds.
    pub fn held(&self, source: u32) -> Vec<i64> {
        let mut v: Vec<i64> =
            self.reasm.held().chain(self.group.held()).filter(|t| t.0 == source).map(|t| t.1).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Vector's own reading of a kubelet line: a CRI line keeps the `\r` of a CRLF ending
/// (its regex takes everything up to the `\n`), and a Docker json-file line is partial
/// only when its `log` is exactly 16 KiB without a newline (parser/docker.rs).
fn vector_line(mut line: Line, value: &[u8]) -> Line {
    match line.shape {
        "cri" => {
            let v = value.strip_suffix(b"\n").unwrap_or(value);
            let crs = v.iter().rev().take_while(|&&c| c == b'\r').count();
            for _ in 0..crs {
                line.text.push('\r');
            }
        }
        "docker" => line.partial = line.partial && line.text.len() == DOCKER_SPLIT,
        _ => {}
    }
    line
}

const DOCKER_SPLIT: usize = 16 * 1024;

/// Run `f`, turning a panic into `Err(())` (the caller accounts for what it held).
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| ())
}

/// A line text that makes `emit` panic in tests (the conservation property injects it).
#[cfg(test)]
pub const INJECTED_PANIC: &str = "\u{1}PANIC";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Shape;
    use crate::encode::Profile;

    struct Panicky;
    impl Render for Panicky {
        fn render(&mut self, _: &Line, _: Option<&Embedded>) -> Result<Fragment, String> {
            panic!("render exploded")
        }
    }

    fn transformer() -> Transformer {
        let cfg = Config {
            spec: Spec::of(Shape::Cri),
            max_line_bytes: 1 << 20,
            idle_s: 1.0,
            multiline_namespaces: AHashMap::new(),
            multiline: GroupLimits::default(),
        };
        Transformer::new(
            Profile::Filebeat { index: crate::encode::IndexPattern::fixed("filebeat"), lines: Default::default() },
            cfg,
        )
    }

    #[test]
    fn a_panic_while_flushing_dead_letters_the_held_records() {
        let mut t = transformer();
        let mut out = Out::default();
        let id =
            || Ident { namespace: "ns".into(), pod: "p".into(), container: "c".into(), container_id: "0".repeat(64) };
        for (i, v) in
            ["2024-05-01T00:00:00Z stdout P part one", "2024-05-01T00:00:01Z stdout P part two"].iter().enumerate()
        {
            t.push(v.as_bytes(), (0, i as i64), &mut || id(), 0.0, &mut Panicky, &mut out);
        }
        assert!(out.docs.is_empty() && out.dead.is_empty());
        assert_eq!(t.held(0), vec![0, 1]);
        let mut flushed = Out::default();
        t.flush_guarded(true, 0.0, &mut Panicky, &mut flushed);
        let dead: Vec<i64> = flushed.dead.iter().map(|d| d.tok.1).collect();
        assert_eq!(dead, vec![0, 1]);
        assert!(flushed.dead.iter().all(|d| d.reason == Reason::Internal));
        assert!(t.held(0).is_empty());
    }

    /// A render that answers for most pods and panics for pod "boom" (an injected panic).
    struct Flaky;
    impl Render for Flaky {
        fn render(&mut self, line: &Line, _: Option<&Embedded>) -> Result<Fragment, String> {
            match line.pod.as_str() {
                "boom" => panic!("render exploded"),
                "err" => Err("no such pod".into()),
                _ => Ok(Fragment {
                    source: 0,
                    pod_uid: "u".into(),
                    lang: (line.container == "java").then_some(Lang::Java),
                    parts: vec![b"\"k\":1".to_vec(), Vec::new()],
                    exclude: false,
                    kube: None,
                }),
            }
        }
    }

    use proptest::prelude::*;

    /// One record of a stream: which pod/container it claims, P or F, what it says.
    fn record() -> impl Strategy<Value = (u8, u8, bool, u8)> {
        (0u8..5, 0u8..3, any::<bool>(), 0u8..8)
    }

    fn value(pod: u8, container: u8, partial: bool, text: u8, i: usize) -> (Vec<u8>, Ident) {
        let pod = ["a", "b", "boom", "err", "c"][pod as usize];
        let container = ["app", "java", "side"][container as usize];
        let text = match text {
            0 => "java.lang.IllegalStateException: bad".to_string(),
            1 => "\tat x.Y.z(Y.java:1)".to_string(),
            2 => INJECTED_PANIC.to_string(),
            3 => "not a cri line at all".to_string(),
            4 => "x".repeat(3000), // over the test's max_line_bytes
            _ => format!("line {i}"),
        };
        let raw = if text.starts_with("not a") {
            text
        } else {
            format!("2024-05-01T00:00:{:02}Z stdout {} {text}", i % 60, if partial { "P" } else { "F" })
        };
        let id = Ident {
            namespace: "ns".into(),
            pod: pod.into(),
            container: container.into(),
            container_id: "0".repeat(64),
        };
        (raw.into_bytes(), id)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Conservation: every token pushed ends in exactly one of document, dead
        /// letter or held — also through injected panics (render and encode), multiline
        /// caps, stream eviction and idle flushes — and nothing is held after flush_all.
        #[test]
        fn every_token_is_accounted_for_once(stream in proptest::collection::vec(record(), 1..200), flush_at in 0usize..200) {
            std::panic::set_hook(Box::new(|_| {}));
            let mut t = Transformer::new(
                Profile::Filebeat { index: crate::encode::IndexPattern::fixed("filebeat"), lines: Default::default() },
                Config {
                    spec: Spec::of(Shape::Cri),
                    max_line_bytes: 2048,
                    idle_s: 1.0,
                    multiline_namespaces: AHashMap::new(),
                    multiline: GroupLimits { max_lines: 3, max_bytes: 4096 },
                },
            );
            let mut out = Out::default();
            for (i, &(pod, container, partial, text)) in stream.iter().enumerate() {
                let (v, id) = value(pod, container, partial, text, i);
                let mut ctx = || id.clone();
                t.push(&v, (0, i as i64), &mut ctx, i as f64 * 0.1, &mut Flaky, &mut out);
                if i == flush_at {
                    t.flush_guarded(false, i as f64 * 0.1 + 5.0, &mut Flaky, &mut out);
                }
            }
            let mut seen: Vec<i64> = out.docs.iter().flat_map(|d| d.toks.iter().map(|t| t.1)).collect();
            seen.extend(out.dead.iter().map(|d| d.tok.1));
            seen.extend(t.held(0));
            seen.sort_unstable();
            let want: Vec<i64> = (0..stream.len() as i64).collect();
            prop_assert_eq!(&seen, &want, "each token exactly once across documents, dead letters, held");
            t.flush_guarded(true, 0.0, &mut Flaky, &mut out);
            prop_assert!(t.held(0).is_empty());
            let mut all: Vec<i64> = out.docs.iter().flat_map(|d| d.toks.iter().map(|t| t.1)).collect();
            all.extend(out.dead.iter().map(|d| d.tok.1));
            all.sort_unstable();
            prop_assert_eq!(all, want);
            for d in &out.dead {
                prop_assert!(matches!(d.reason, Reason::Internal | Reason::BadCri), "{:?}", d.reason);
            }
        }
    }

    #[test]
    fn a_long_stack_trace_is_flushed_in_capped_groups_not_held() {
        let mut t = transformer();
        t.cfg.multiline_namespaces.insert("ns".into(), Lang::Go);
        t.group = Grouper::new(1.0, GroupLimits { max_lines: 500, max_bytes: 1 << 20 });
        let id =
            || Ident { namespace: "ns".into(), pod: "p".into(), container: "c".into(), container_id: "0".repeat(64) };
        let mut out = Out::default();
        let mut r = Flaky;
        t.push(b"2024-05-01T00:00:00Z stdout F panic: boom", (0, 0), &mut || id(), 0.0, &mut r, &mut out);
        for i in 1..200_001i64 {
            let v = format!("2024-05-01T00:00:00Z stdout F \tgoroutine frame {i}");
            t.push(v.as_bytes(), (0, i), &mut || id(), 0.0, &mut r, &mut out);
            assert!(t.held(0).len() <= 500);
        }
        assert_eq!(out.docs.len(), 400, "200,001 lines in groups of 500, the last one still held");
        assert_eq!(t.held(0), vec![200_000], "the 401st group has begun");
    }
}
