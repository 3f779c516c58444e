//! Provider records → decoded lines, whatever their shape; or a dead letter with a reason.
//!
//! Why: providers ship container output to Kafka in their own formats and the exact bytes
//! are not published (DESIGN §3), so every record is sniffed on its own: Tencent EKS
//! default (Fluent Bit-like `log`/`stream`/`time`/`kubernetes`), its `filebeat` metadata
//! format, the CLS flat keys, a raw CRI line, a Docker json-file line. Identity a record
//! does not carry comes from its context (file name, Kafka headers, `ns/pod/container`
//! key), asked for only when needed. Nothing here panics on input.

use crate::json::{self, Numbers, Obj, Top, TopObj, J};
use crate::time::{format_rfc3339, parse_rfc3339};
use ahash::AHashMap;
use std::rc::Rc;

pub const MAX_RECORD: usize = 16 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    NotUtf8,
    Empty,
    UnknownShape,
    BadJson,
    BadCri,
    BadTimestamp,
    NoIdentity,
    TooLarge,
    SinkRejected,
    BadIndex,
    Internal,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::NotUtf8,
        Reason::Empty,
        Reason::UnknownShape,
        Reason::BadJson,
        Reason::BadCri,
        Reason::BadTimestamp,
        Reason::NoIdentity,
        Reason::TooLarge,
        Reason::SinkRejected,
        Reason::BadIndex,
        Reason::Internal,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotUtf8 => "not_utf8",
            Reason::Empty => "empty_record",
            Reason::UnknownShape => "unknown_shape",
            Reason::BadJson => "bad_json",
            Reason::BadCri => "bad_cri_line",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::NoIdentity => "no_pod_identity",
            Reason::TooLarge => "too_large",
            Reason::SinkRejected => "sink_rejected",
            Reason::BadIndex => "bad_index",
            Reason::Internal => "internal_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bad {
    pub reason: Reason,
    pub detail: String,
}

fn bad(reason: Reason, detail: impl Into<String>) -> Bad {
    Bad { reason, detail: detail.into() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Auto,
    Eks,
    Filebeat,
    Cls,
    Docker,
    Cri,
}

impl Shape {
    pub fn parse(name: &str) -> Option<Shape> {
        Some(match name {
            "auto" => Shape::Auto,
            "eks" | "fluent-bit" => Shape::Eks,
            "filebeat" => Shape::Filebeat,
            "cls" => Shape::Cls,
            "docker" => Shape::Docker,
            "cri" => Shape::Cri,
            _ => return None,
        })
    }
}

/// Pod identity from outside the record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ident {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub container_id: String,
}

/// Metadata the provider attached to the record (used when the inventory never saw the pod).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Embedded {
    pub pod_uid: String,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub host: String,
    pub pod_ip: String,
    pub image: String,
    pub image_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub ts_ns: i64,
    pub time_text: String,
    pub stderr: bool,
    pub text: String,
    pub partial: bool,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub container_id: String,
    pub embedded: Option<Rc<Embedded>>,
    pub first_partial: bool,
    /// which decoder read it: eks, filebeat, cls, docker, cri
    pub shape: &'static str,
}

impl Line {
    pub fn stream(&self) -> &'static str {
        if self.stderr {
            "stderr"
        } else {
            "stdout"
        }
    }
}

fn truthy(v: Option<&J>) -> Option<&J> {
    match v? {
        J::Null | J::Bool(false) | J::Int(0) | J::UInt(0) => None,
        J::Float(f) if *f == 0.0 => None,
        J::Str(s) if s.is_empty() => None,
        J::Arr(a) if a.is_empty() => None,
        J::Obj(o) if o.is_empty() => None,
        v => Some(v),
    }
}

fn text_or(v: Option<&J>, fallback: &str) -> String {
    truthy(v).map(J::to_text).unwrap_or_else(|| fallback.to_string())
}

fn present_text(v: Option<&J>) -> String {
    v.map(J::to_text).unwrap_or_default()
}

fn bare_id(cid: String) -> String {
    match cid.find("://") {
        Some(i) => cid[i + 3..].to_string(),
        None => cid,
    }
}

fn str_map(v: Option<&J>) -> Vec<(String, String)> {
    match v {
        Some(J::Obj(o)) => o.0.iter().map(|(k, x)| (k.clone(), x.to_text())).collect(),
        _ => Vec::new(),
    }
}

fn obj(v: Option<&J>) -> Option<&Obj> {
    v.and_then(J::as_obj)
}

fn type_name(v: &J) -> &'static str {
    match v {
        J::Null => "NoneType",
        J::Bool(_) => "bool",
        J::Int(_) | J::UInt(_) => "int",
        J::Float(_) => "float",
        J::Str(_) => "str",
        J::Arr(_) => "list",
        J::Obj(_) => "dict",
    }
}

const MIN_NS: i64 = -(i64::MAX / 2); // ±146 years around 1970 fit i64 nanoseconds
const MAX_NS: i64 = i64::MAX / 2;

/// A record timestamp (RFC 3339 text or an epoch number in s/ms/µs/ns) → (ns, text).
fn time_from(v: Option<&J>) -> Result<(i64, String), Bad> {
    let scaled = |mag: f64| -> f64 {
        if mag < 1e11 {
            1e9
        } else if mag < 1e14 {
            1e6
        } else if mag < 1e17 {
            1e3
        } else {
            1.0
        }
    };
    let ns: i64 = match v {
        Some(J::Str(s)) => return time_from_text(s),
        Some(J::Int(i)) => {
            let scale = scaled((*i as f64).abs()) as i64;
            i.checked_mul(scale).ok_or_else(|| bad(Reason::BadTimestamp, "timestamp out of range"))?
        }
        Some(J::UInt(u)) => {
            let scale = scaled(*u as f64) as u64;
            u.checked_mul(scale)
                .and_then(|x| i64::try_from(x).ok())
                .ok_or_else(|| bad(Reason::BadTimestamp, "timestamp out of range"))?
        }
        Some(J::Float(f)) => {
            let x = (f * scaled(f.abs())).round();
            if !(x > MIN_NS as f64 && x < MAX_NS as f64) {
                return Err(bad(Reason::BadTimestamp, "timestamp out of range"));
            }
            x as i64
        }
        Some(other) => return Err(bad(Reason::BadTimestamp, format!("timestamp of type {}", type_name(other)))),
        None => return Err(bad(Reason::BadTimestamp, "timestamp of type NoneType")),
    };
    if !(MIN_NS..MAX_NS).contains(&ns) {
        return Err(bad(Reason::BadTimestamp, "timestamp out of range"));
    }
    Ok((ns, format_rfc3339(ns, 9)))
}

/// An RFC 3339 record timestamp → (ns, the text as it came).
fn time_from_text(s: &str) -> Result<(i64, String), Bad> {
    parse_rfc3339(s).map(|ns| (ns, s.to_string())).map_err(|e| bad(Reason::BadTimestamp, format!("{}: {:.40}", e.0, s)))
}

/// `time_from` of a top-level member.
fn time_from_top(v: Option<&Top>) -> Result<(i64, String), Bad> {
    match v {
        Some(Top::Str(s)) => time_from_text(s),
        Some(Top::Val(j)) => time_from(Some(j)),
        None => time_from(None),
    }
}

/// Whether a CRI-style tag (`_p` / `logtag`) says partial.
fn tagged_partial(tag: Option<&J>) -> bool {
    matches!(tag, Some(J::Str(t)) if t == "P")
}

/// The body, moved out of the parsed record (not copied), and whether it is partial.
fn text_and_partial(text: Option<J>, tag_partial: bool, docker_style: bool) -> (String, bool) {
    let mut text = match text {
        Some(J::Str(s)) => s,
        None | Some(J::Null) => String::new(),
        Some(other) => String::from_utf8(json::to_vec(&other)).unwrap_or_default(),
    };
    if docker_style {
        if text.ends_with('\n') {
            text.pop();
            return (text, false);
        }
        return (text, true);
    }
    if text.ends_with('\n') {
        text.pop();
    }
    (text, tag_partial)
}

fn need(namespace: &str, pod: &str) -> Result<(), Bad> {
    if namespace.is_empty() || pod.is_empty() {
        return Err(bad(Reason::NoIdentity, "record names no namespace/pod and the context gives none"));
    }
    Ok(())
}

fn is_stderr(v: Option<&J>) -> bool {
    matches!(v, Some(J::Str(s)) if s == "stderr")
}

fn line(
    (ts_ns, time_text): (i64, String),
    stderr: bool,
    (text, partial): (String, bool),
    id: Ident,
    embedded: Option<Rc<Embedded>>,
    shape: &'static str,
) -> Line {
    Line {
        ts_ns,
        time_text,
        stderr,
        text,
        partial,
        namespace: id.namespace,
        pod: id.pod,
        container: id.container,
        container_id: id.container_id,
        embedded,
        first_partial: false,
        shape,
    }
}

/// What a record's `kubernetes` object says, derived once per distinct object (see
/// `KubeMemo`).
pub struct EksFacts {
    /// the parsed value, for records of the other shapes that read it as it is
    kube: J,
    kind: K8s,
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    container_id: Option<String>,
    embedded: Rc<Embedded>,
}

impl EksFacts {
    fn of(k8s_v: Option<J>) -> EksFacts {
        let kube = k8s_v.unwrap_or(J::Null);
        let k8s = obj(Some(&kube));
        let g = |key: &str| k8s.and_then(|k| k.get(key));
        let text = |v: Option<&J>| truthy(v).map(J::to_text);
        let (namespace, pod, container) = (text(g("namespace_name")), text(g("pod_name")), text(g("container_name")));
        let container_id = text(truthy(g("docker_id")).or(g("container_id"))).map(bare_id);
        let embedded = Rc::new(Embedded {
            pod_uid: present_text(g("pod_id")),
            labels: str_map(g("labels")),
            annotations: str_map(g("annotations")),
            host: present_text(g("host")),
            pod_ip: present_text(g("pod_ip")),
            image: present_text(g("container_image")),
            image_id: present_text(g("container_hash")),
        });
        EksFacts { kind: K8s::of(Some(&kube)), namespace, pod, container, container_id, embedded, kube }
    }
}

/// What each `kubernetes` object met lately says, keyed by its exact bytes: a
/// partition interleaves the records of many pods, and each pod's records carry
/// byte-identical objects, so one entry per live container is enough. Bounded: when
/// `KUBE_MEMO_MAX` objects are held, the memo starts again empty. The few objects met
/// last are also kept in order of use: a record that starts its object with one of their
/// bytes is that object (no delimiting walk, no hash).
#[derive(Default)]
pub struct KubeMemo {
    by_raw: AHashMap<Rc<[u8]>, Rc<EksFacts>>,
    recent: Vec<(Rc<[u8]>, Rc<EksFacts>)>,
}

pub const KUBE_MEMO_MAX: usize = 4096;
const KUBE_RECENT: usize = 4;

impl KubeMemo {
    fn get(&self, raw: &[u8]) -> Option<Rc<EksFacts>> {
        self.by_raw.get(raw).cloned()
    }

    fn put(&mut self, raw: &[u8], facts: Rc<EksFacts>) {
        if self.by_raw.len() >= KUBE_MEMO_MAX {
            self.by_raw.clear();
        }
        self.by_raw.insert(raw.into(), facts);
    }

    /// Which recent object `rest` starts with: (its place in `recent`, its length).
    fn recent_prefix(&self, rest: &[u8]) -> Option<(usize, usize)> {
        self.recent.iter().position(|(raw, _)| rest.starts_with(raw)).map(|k| (k, self.recent[k].0.len()))
    }

    /// The facts of the object `raw` (at `recent[known]` when the parse matched one
    /// there), now the most recent.
    fn use_raw(&mut self, raw: &[u8], known: Option<usize>) -> Option<Rc<EksFacts>> {
        if let Some(k) = known {
            self.recent[..=k].rotate_right(1);
            return Some(self.recent[0].1.clone());
        }
        let facts = match self.get(raw) {
            Some(f) => f,
            None => {
                let f = Rc::new(EksFacts::of(Some(json::parse(raw, Numbers::Strict).ok()?)));
                self.put(raw, f.clone());
                f
            }
        };
        // only values that end themselves: a number's bytes can be a prefix of another's
        if matches!(raw.first(), Some(b'{' | b'[' | b'"')) {
            if self.recent.len() == KUBE_RECENT {
                self.recent.pop();
            }
            self.recent.insert(0, (raw.into(), facts.clone()));
        }
        Some(facts)
    }

    pub fn len(&self) -> usize {
        self.by_raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_raw.is_empty()
    }
}

fn from_eks(mut o: Obj, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let facts = EksFacts::of(o.remove("kubernetes"));
    from_eks_facts(TopObj::from_obj(o), &facts, ctx)
}

fn from_eks_facts(mut o: TopObj<'_>, f: &EksFacts, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let log = o.remove("log");
    let need_ctx = f.namespace.is_none() || f.pod.is_none() || f.container.is_none() || f.container_id.is_none();
    let c = if need_ctx { ctx() } else { Ident::default() };
    let pick = |v: &Option<String>, fallback: &str| v.clone().unwrap_or_else(|| fallback.to_string());
    let id = Ident {
        namespace: pick(&f.namespace, &c.namespace),
        pod: pick(&f.pod, &c.pod),
        container: pick(&f.container, &c.container),
        container_id: f.container_id.clone().unwrap_or_else(|| bare_id(c.container_id.clone())),
    };
    need(&id.namespace, &id.pod)?;
    let ts = time_from_top(if o.contains("time") { o.get("time") } else { o.get("@timestamp") })?;
    let tag_partial = matches!(o.get("_p").or_else(|| o.get("logtag")), Some(Top::Str(t)) if t == "P");
    let tp = text_and_partial(log.map(Top::into_j), tag_partial, false);
    let stderr = matches!(o.get("stream"), Some(Top::Str(s)) if s == "stderr");
    Ok(line(ts, stderr, tp, id, Some(f.embedded.clone()), "eks"))
}

fn from_filebeat(mut o: Obj, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let message = o.remove("message");
    let Some(k8s_v) = o.get("kubernetes") else {
        return Err(bad(Reason::UnknownShape, "KeyError while reading fields"));
    };
    let empty = Obj::default();
    let k8s = k8s_v.as_obj().unwrap_or(&empty);
    let pod = obj(k8s.get("pod")).unwrap_or(&empty);
    let cont = obj(k8s.get("container")).unwrap_or(&empty);
    let ecs_c = obj(o.get("container")).unwrap_or(&empty);
    let c = ctx();
    let id = Ident {
        namespace: match k8s.get("namespace") {
            Some(J::Str(s)) => s.clone(),
            _ => c.namespace.clone(),
        },
        pod: text_or(pod.get("name"), &c.pod),
        container: text_or(cont.get("name"), &c.container),
        container_id: bare_id(text_or(ecs_c.get("id"), &c.container_id)),
    };
    need(&id.namespace, &id.pod)?;
    let ts = time_from(o.get("@timestamp"))?;
    let tp = text_and_partial(message, false, false);
    let image = obj(ecs_c.get("image")).unwrap_or(&empty);
    let node = obj(k8s.get("node")).unwrap_or(&empty);
    let emb = Embedded {
        pod_uid: present_text(pod.get("uid")),
        labels: str_map(k8s.get("labels")),
        annotations: str_map(k8s.get("annotations")),
        host: present_text(node.get("name")),
        pod_ip: present_text(pod.get("ip")),
        image: match truthy(cont.get("image")) {
            Some(v) => v.to_text(),
            None => present_text(image.get("name")),
        },
        image_id: String::new(),
    };
    Ok(line(ts, is_stderr(o.get("stream")), tp, id, Some(Rc::new(emb)), "filebeat"))
}

fn first<'a>(o: &'a Obj, keys: &[&str]) -> Option<&'a J> {
    keys.iter().find_map(|k| o.get(k))
}

fn from_cls(o: &Obj, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let c = ctx();
    let id = Ident {
        namespace: text_or(o.get("namespace"), &c.namespace),
        pod: text_or(o.get("pod_name"), &c.pod),
        container: text_or(o.get("container_name"), &c.container),
        container_id: bare_id(text_or(o.get("container_id"), &c.container_id)),
    };
    need(&id.namespace, &id.pod)?;
    let ts = time_from(first(o, &["time", "@timestamp", "timestamp", "__TIMESTAMP__"]))?;
    let body = first(o, &["log", "content", "message", "__CONTENT__"]);
    let empty = J::Str(String::new());
    let tag = o.get("_p").or_else(|| o.get("logtag"));
    let tp = text_and_partial(Some(body.unwrap_or(&empty).clone()), tagged_partial(tag), false);
    let labels =
        o.0.iter()
            .filter_map(|(k, v)| k.strip_prefix("pod_label_").map(|rest| (rest.to_string(), v.to_text())))
            .collect();
    let emb = Embedded {
        pod_uid: present_text(o.get("pod_uid")),
        labels,
        annotations: Vec::new(),
        host: match o.get("node_name") {
            Some(v) => v.to_text(),
            None => present_text(o.get("host")),
        },
        pod_ip: present_text(o.get("pod_ip")),
        image: present_text(o.get("image_name")),
        image_id: String::new(),
    };
    Ok(line(ts, is_stderr(o.get("stream")), tp, id, Some(Rc::new(emb)), "cls"))
}

fn from_docker(mut o: Obj, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let id = ctx();
    need(&id.namespace, &id.pod)?;
    let ts = time_from(o.get("time"))?;
    let tp = text_and_partial(o.remove("log"), false, true);
    Ok(line(ts, is_stderr(o.get("stream")), tp, id, None, "docker"))
}

/// `<RFC3339> stdout|stderr P|F[ <message>]`.
fn from_cri(text: &str, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let not_cri = || bad(Reason::BadCri, "not '<RFC3339> stdout|stderr P|F <message>'");
    let sp = text.find(' ').ok_or_else(not_cri)?;
    let ttext = &text[..sp];
    if ttext.is_empty() || ttext.chars().any(char::is_whitespace) {
        return Err(not_cri());
    }
    let rest = &text[sp + 1..];
    let (stderr, rest) = if let Some(r) = rest.strip_prefix("stdout ") {
        (false, r)
    } else if let Some(r) = rest.strip_prefix("stderr ") {
        (true, r)
    } else {
        return Err(not_cri());
    };
    let mut chars = rest.chars();
    let partial = match chars.next() {
        Some('P') => true,
        Some('F') => false,
        _ => return Err(not_cri()),
    };
    let msg = match &rest[1..] {
        "" => "",
        m if m.starts_with(' ') => &m[1..],
        _ => return Err(not_cri()),
    };
    let id = ctx();
    need(&id.namespace, &id.pod)?;
    let ts = parse_rfc3339(ttext).map_err(|e| bad(Reason::BadTimestamp, format!("{}: {:.40}", e.0, ttext)))?;
    Ok(line((ts, ttext.to_string()), stderr, (msg.to_string(), partial), id, None, "cri"))
}

/// What sniffing needs of a record's `kubernetes` value.
#[derive(Clone, Copy)]
enum K8s {
    /// absent or not an object
    None,
    /// an object; `true` when it has `pod` or `container` (Filebeat's layout)
    Obj(bool),
}

impl K8s {
    fn of(v: Option<&J>) -> K8s {
        match obj(v) {
            Some(k) => K8s::Obj(k.contains("pod") || k.contains("container")),
            None => K8s::None,
        }
    }
}

fn sniff_with(o: &Obj, k8s: K8s) -> Result<Shape, Bad> {
    sniff_keys(&|k| o.contains(k), &mut o.0.iter().map(|(k, _)| k.as_str()), k8s)
}

/// The shape from the record's top-level keys: `has` asks for one, `keys` lists them.
fn sniff_keys(has: &dyn Fn(&str) -> bool, keys: &mut dyn Iterator<Item = &str>, k8s: K8s) -> Result<Shape, Bad> {
    if let K8s::Obj(filebeat_like) = k8s {
        if filebeat_like && has("message") {
            return Ok(Shape::Filebeat);
        }
        if has("log") {
            return Ok(Shape::Eks);
        }
    }
    if has("pod_name") || (has("namespace") && has("container_name")) {
        return Ok(Shape::Cls);
    }
    if has("log") && has("time") {
        return Ok(Shape::Docker);
    }
    if has("log") && has("@timestamp") {
        return Ok(Shape::Eks);
    }
    let mut keys: Vec<&str> = keys.collect();
    keys.sort_unstable();
    keys.truncate(8);
    Err(bad(Reason::UnknownShape, format!("JSON object with keys {keys:?} matches no known shape")))
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// One provider record → a line, or why not.
pub fn decode(value: &[u8], shape: Shape, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    decode_memo(value, shape, ctx, &mut KubeMemo::default())
}

/// `decode`, with the `kubernetes` object of EKS-shaped records parsed only when its
/// bytes differ from the last one's (same lines, same errors as `decode`).
pub fn decode_memo(
    value: &[u8],
    shape: Shape,
    ctx: &mut dyn FnMut() -> Ident,
    memo: &mut KubeMemo,
) -> Result<Line, Bad> {
    if matches!(shape, Shape::Auto | Shape::Eks) && value.len() <= MAX_RECORD {
        let known = |rest: &[u8]| memo.recent_prefix(rest);
        if let Some((o, Some(span))) = json::parse_top_raw(value, Numbers::Strict, "kubernetes", &known) {
            let facts = memo.use_raw(&value[span.start..span.end], span.known);
            // an invalid object falls through to the full parse, for its error message
            if let Some(f) = facts {
                let shape = match shape {
                    Shape::Auto => match sniff_keys(&|k| o.contains(k), &mut o.0.iter().map(|(k, _)| &**k), f.kind) {
                        Ok(s) => s,
                        Err(_) => return decode_full(value, shape, ctx), // its message lists every key
                    },
                    s => s,
                };
                if shape == Shape::Eks {
                    return from_eks_facts(o, &f, ctx);
                }
                let mut o = o.into_obj();
                o.insert("kubernetes".to_string(), f.kube.clone()); // the other shapes read it as it is
                return from_shape(o, shape, ctx);
            }
        }
    }
    decode_full(value, shape, ctx)
}

fn decode_full(value: &[u8], shape: Shape, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let first = value.iter().position(|&c| !is_ws(c));
    let Some(first) = first else { return Err(bad(Reason::Empty, "empty record")) };
    if value.len() > MAX_RECORD {
        return Err(bad(Reason::TooLarge, format!("record of {} bytes exceeds {}", value.len(), MAX_RECORD)));
    }
    if shape == Shape::Cri || (shape == Shape::Auto && !matches!(value[first], b'{' | b'[')) {
        let text = std::str::from_utf8(value).map_err(|_| bad(Reason::NotUtf8, "record is not valid UTF-8"))?;
        return from_cri(text.trim_end_matches(['\r', '\n']), ctx);
    }
    let parsed = json::parse(value, Numbers::Strict).map_err(|e| bad(Reason::BadJson, format!("invalid JSON: {e}")))?;
    let J::Obj(o) = parsed else {
        return Err(bad(Reason::UnknownShape, format!("JSON {}, expected an object", type_name(&parsed))));
    };
    let shape = if shape == Shape::Auto { sniff_with(&o, K8s::of(o.get("kubernetes")))? } else { shape };
    from_shape(o, shape, ctx)
}

fn from_shape(o: Obj, shape: Shape, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    match shape {
        Shape::Filebeat => from_filebeat(o, ctx),
        Shape::Cls => from_cls(&o, ctx),
        Shape::Docker => from_docker(o, ctx),
        _ => from_eks(o, ctx),
    }
}

/// Identity from a kubelet file name, then headers, then a `ns/pod/container` key.
pub fn identity(file: Option<&Ident>, headers: &[(String, Vec<u8>)], key: Option<&[u8]>) -> Ident {
    let mut id = file.cloned().unwrap_or_default();
    let have_file = file.is_some();
    if !headers.is_empty() {
        const NAMES: [&[&str]; 4] = [
            &["k8s.namespace", "namespace", "kubernetes.namespace_name"],
            &["k8s.pod", "pod", "pod_name", "kubernetes.pod_name"],
            &["k8s.container", "container", "container_name", "kubernetes.container_name"],
            &["k8s.container_id", "container_id", "docker_id"],
        ];
        let lookup = |n: &str| {
            headers
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let mut fields = [&mut id.namespace, &mut id.pod, &mut id.container, &mut id.container_id];
        for (slot, names) in fields.iter_mut().zip(NAMES) {
            if have_file {
                continue;
            }
            if let Some(v) = names.iter().find_map(|n| lookup(n)) {
                if slot.is_empty() {
                    **slot = v;
                }
            }
        }
    }
    let has_pod = have_file || !id.pod.is_empty();
    if let (Some(k), false) = (key, has_pod) {
        if !k.is_empty() {
            let text = String::from_utf8_lossy(k);
            let parts: Vec<&str> = text.split('/').collect();
            if parts.len() >= 3 {
                if id.namespace.is_empty() {
                    id.namespace = parts[0].to_string();
                }
                id.pod = parts[1].to_string();
                if id.container.is_empty() {
                    id.container = parts[2].to_string();
                }
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Ident {
        Ident { namespace: "shop".into(), pod: "web-1".into(), container: "app".into(), container_id: "a".repeat(64) }
    }

    #[test]
    fn the_kubernetes_memo_never_changes_a_line_or_an_error() {
        let k = r#"{"pod_name":"web-1","namespace_name":"shop","pod_id":"u-1","container_name":"app","docker_id":"d","labels":{"app":"web","a.b":"x\"y"}}"#;
        let k2 = r#"{"pod_name":"web-2","namespace_name":"shop","container_name":"app","container_id":"containerd://c","annotations":{"n":1}}"#;
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let rec = |k8s: &str, extra: &str| {
            format!(
                r#"{{"log":"hello \u00e9","stream":"stderr","time":"2024-05-01T12:00:00Z","_p":"F","kubernetes":{k8s}{extra}}}"#
            )
        };
        let records: Vec<String> = vec![
            rec(k, ""),
            rec(k, ""),
            rec(k2, ""),
            rec(k, r#","kubernetes":"not an object""#),
            rec(k, r#","kubernetes":{"pod":{"name":"p"}},"message":"fb""#),
            rec(k, r#","kubernetes":{"pod":{"name":"p"}},"message":"fb""#),
            r#"{"kubernetes":{"pod_name":"p"},"foo":1}"#.into(),
            r#"{"kubernetes":{"pod_name":"p"},"foo":1}"#.into(),
            r#"{"kubernetes":{"pod_name":"p","namespace_name":"n"},"log":"x","time":"2024-05-01T12:00:00Z"}"#.into(),
            r#"{"kubernetes":"s","log":"x","time":"2024-05-01T12:00:00Z"}"#.into(),
            r#"{"kubernetes":"s","log":"x","@timestamp":"2024-05-01T12:00:00Z"}"#.into(),
            r#"{"kubernetes":{"a":1},"pod_name":"p","namespace":"n","log":"x","time":"2024-05-01T12:00:00Z"}"#.into(),
            r#"{"kubernetes":{"a":1},"pod_name":"p","namespace":"n","time":"2024-05-01T12:00:00Z"}"#.into(),
            rec(r#"{"pod_name":"x","labels":{"broken":}"#, ""),
            rec(r#"{"pod_name":"x""#, ""),
            rec(&deep, ""),
            rec("[1,2,{\"a\":3}]", ""),
            rec(r#""\"}""#, ""),
            rec("{}", ""),
            // a number is no self-delimiting value: "1" must not stand for "12"
            rec("1", ""),
            rec("12", ""),
            rec("1", ""),
            rec("true", ""),
            rec("[1]", ""),
            rec("[1]", ""),
            rec(k, ""),
            rec(k2, ""),
            rec(k, ""),
            rec(k, r#","time":5"#),
            r#"{"kubernetes":{"pod_name":"p","namespace_name":"n"},"@timestamp":1714564800.5,"log":"x"}"#.into(),
            r#"{"kubernetes":{"pod_name":"p","namespace_name":"n"},"message":"m","@timestamp":"2024-05-01T12:00:00Z"}"#.into(),
            r#"{"kubernetes": {"pod_name":"p","namespace_name":"n"} , "log":"x","time":"2024-05-01T12:00:00Z"} trailing"#.into(),
            r#"{"kubernetes":tru,"log":"x","time":"2024-05-01T12:00:00Z"}"#.into(),
            rec(k, ""),
        ];
        for shape in [Shape::Auto, Shape::Eks] {
            let mut memo = KubeMemo::default();
            for r in &records {
                let memoized = decode_memo(r.as_bytes(), shape, &mut file, &mut memo);
                assert_eq!(memoized, decode_full(r.as_bytes(), shape, &mut file), "{shape:?} {r}");
            }
        }
    }

    #[test]
    fn the_kubernetes_memo_holds_interleaved_pods_and_stays_bounded() {
        let rec = |i: usize| {
            format!(
                r#"{{"log":"x","stream":"stdout","time":"2024-05-01T12:00:00Z","kubernetes":{{"pod_name":"p{i}","namespace_name":"n","container_name":"c"}}}}"#
            )
        };
        let mut memo = KubeMemo::default();
        for round in 0..3 {
            for i in 0..50 {
                let r = rec(i);
                let line = decode_memo(r.as_bytes(), Shape::Eks, &mut file, &mut memo).unwrap();
                assert_eq!(line.pod, format!("p{i}"), "round {round}");
            }
        }
        assert_eq!(memo.len(), 50); // one entry per distinct object, hit on every later round
        for i in 0..KUBE_MEMO_MAX + 10 {
            let r = rec(i);
            assert_eq!(
                decode_memo(r.as_bytes(), Shape::Eks, &mut file, &mut memo),
                decode_full(r.as_bytes(), Shape::Eks, &mut file)
            );
            assert!(memo.len() <= KUBE_MEMO_MAX);
        }
    }

    #[test]
    fn cri_lines() {
        let l = decode(b"2024-05-01T12:00:00.5Z stderr P hello world\r\n", Shape::Auto, &mut file).unwrap();
        assert!(l.partial && l.stderr);
        assert_eq!(l.text, "hello world");
        let empty = decode(b"2024-05-01T12:00:00Z stdout F", Shape::Auto, &mut file).unwrap();
        assert_eq!(empty.text, "");
        assert_eq!(decode(b"garbage", Shape::Auto, &mut file).unwrap_err().reason, Reason::BadCri);
        assert_eq!(decode(b"\xff\xfe x", Shape::Auto, &mut file).unwrap_err().reason, Reason::NotUtf8);
        assert_eq!(decode(b"  \n", Shape::Auto, &mut file).unwrap_err().reason, Reason::Empty);
    }

    #[test]
    fn json_shapes() {
        let eks = br#"{"log":"hi\n","stream":"stderr","time":"2024-05-01T12:00:00.5Z","kubernetes":{"pod_name":"p","namespace_name":"n","container_name":"c","docker_id":"x","pod_id":"u"}}"#;
        let l = decode(eks, Shape::Auto, &mut Ident::default).unwrap();
        assert_eq!((l.namespace.as_str(), l.pod.as_str(), l.text.as_str()), ("n", "p", "hi"));
        assert_eq!(l.embedded.unwrap().pod_uid, "u");
        let docker = br#"{"log":"partial","stream":"stdout","time":"2024-05-01T12:00:00Z"}"#;
        assert!(decode(docker, Shape::Auto, &mut file).unwrap().partial);
        assert_eq!(decode(b"[1]", Shape::Auto, &mut file).unwrap_err().reason, Reason::UnknownShape);
        assert_eq!(decode(b"{bad", Shape::Auto, &mut file).unwrap_err().reason, Reason::BadJson);
        let epoch = br#"{"log":"x","@timestamp":1714564800.5,"kubernetes":{"pod_name":"p","namespace_name":"n"}}"#;
        assert_eq!(decode(epoch, Shape::Auto, &mut file).unwrap().ts_ns, 1_714_564_800_500_000_000);
    }

    #[test]
    fn identity_from_key_and_headers() {
        let id = identity(None, &[("K8S.POD".into(), b"p".to_vec())], Some(b"ns/other/c"));
        assert_eq!(id.pod, "p");
        let id = identity(None, &[], Some(b"ns/p/c"));
        assert_eq!((id.namespace.as_str(), id.pod.as_str(), id.container.as_str()), ("ns", "p", "c"));
    }
}
