//! Provider records → decoded lines, whatever their shape; or a dead letter with a reason.
//!
//! Why: providers ship container output to Kafka in their own formats and no byte-level
//! sample is published (tests/fixtures/providers/README.md), so every record is sniffed on its own:
//! Tencent's super-node collector (`log` or `message`, pod metadata in `kubernetes` as a
//! JSON string by default or an object, `@timestamp` as a double) and the same record
//! from Fargate's Fluent Bit (`log` may hold the raw CRI line), a Filebeat document, the
//! tag-keyed services (Tencent CLS, Alibaba SLS, Huawei LTS: `tagged.rs`), a raw CRI line,
//! a Docker json-file line. The operator can pin what the provider console says
//! (`Spec`). Identity a record does not carry comes from its context (file name, Kafka
//! headers, `ns/pod/container` key), asked for only when needed. Nothing here panics on
//! input; what cannot be read names the nearest shape and the key it lacks.

use crate::json::{self, Numbers, Obj, Top, TopObj, J};
use crate::meta::{bare_id, EksFacts, K8s, MetaFormat};
pub use crate::meta::{KubeMemo, KUBE_MEMO_MAX};
use crate::tagged;
use crate::time::{format_rfc3339, parse_rfc3339};
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
    TooManyKeys,
    Internal,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
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
        Reason::TooManyKeys,
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
            Reason::TooManyKeys => "too_many_keys",
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
    /// any tag-keyed service (CLS, SLS, LTS), told apart per record
    Tagged,
    Docker,
    Cri,
}

impl Shape {
    pub fn parse(name: &str) -> Option<Shape> {
        Some(match name {
            "auto" => Shape::Auto,
            "eks" | "fluent-bit" => Shape::Eks,
            "filebeat" => Shape::Filebeat,
            "cls" | "sls" | "lts" => Shape::Tagged,
            "docker" => Shape::Docker,
            "cri" => Shape::Cri,
            _ => return None,
        })
    }
}

/// Timestamp encodings of Fluent Bit's kafka output (`Timestamp_Format`), which Tencent's
/// LogConfig `kafkaDetail.timestampFormat` exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsFormat {
    Auto,
    Double,
    Iso8601,
}

impl TsFormat {
    pub fn parse(name: &str) -> Option<TsFormat> {
        Some(match name {
            "auto" => TsFormat::Auto,
            "double" => TsFormat::Double,
            "iso8601" | "iso8601_ns" => TsFormat::Iso8601,
            _ => return None,
        })
    }
}

/// How records are read: the shape, and the provider console's own knobs.
#[derive(Clone, Debug)]
pub struct Spec {
    pub shape: Shape,
    /// `None`: `log`, else `message` (Tencent's `log-key-as-message`)
    pub message_key: Option<String>,
    pub metadata_key: String,
    pub metadata_format: MetaFormat,
    /// `None`: `@timestamp` (LogConfig `timestampKey` default)
    pub timestamp_key: Option<String>,
    pub timestamp_format: TsFormat,
}

impl Spec {
    pub fn of(shape: Shape) -> Spec {
        Spec {
            shape,
            message_key: None,
            metadata_key: "kubernetes".into(),
            metadata_format: MetaFormat::Auto,
            timestamp_key: None,
            timestamp_format: TsFormat::Auto,
        }
    }

    fn message_keys(&self) -> [&str; 2] {
        match &self.message_key {
            Some(k) => [k.as_str(), k.as_str()],
            None => ["log", "message"],
        }
    }

    fn timestamp_key(&self) -> &str {
        self.timestamp_key.as_deref().unwrap_or("@timestamp")
    }
}

impl Default for Spec {
    fn default() -> Spec {
        Spec::of(Shape::Auto)
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

/// Where a line's identity, message and time were read (`logbridge convert --explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Via {
    pub identity: &'static str,
    pub message: &'static str,
    pub time: &'static str,
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
    /// which decoder read it: eks, filebeat, cls, sls, lts, docker, cri
    pub shape: &'static str,
    pub via: Via,
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

/// A member read in place: text (borrowed from the input where it can be) or a value.
#[derive(Clone, Copy)]
enum V<'a> {
    S(&'a str),
    J(&'a J),
}

impl<'a> V<'a> {
    fn of_top(t: &'a Top<'_>) -> V<'a> {
        match t {
            Top::Str(s) => V::S(s),
            Top::Val(J::Str(s)) => V::S(s),
            Top::Val(j) => V::J(j),
        }
    }
    fn of_j(j: &'a J) -> V<'a> {
        match j {
            J::Str(s) => V::S(s),
            j => V::J(j),
        }
    }
    fn time(self) -> Result<(i64, String), Bad> {
        match self {
            V::S(s) => time_from_text(s),
            V::J(j) => time_from(Some(j)),
        }
    }
    fn type_name(self) -> &'static str {
        match self {
            V::S(_) => "str",
            V::J(j) => type_name(j),
        }
    }
}

/// The line's time: the CRI `time` the collector's parser kept (nanoseconds, as the node
/// collector reads it) when the record has one as text, else the provider's timestamp
/// key in its format. Returns the key read too.
fn line_time<'a>(get: impl Fn(&str) -> Option<V<'a>>, spec: &Spec) -> Result<((i64, String), &'static str), Bad> {
    let time = get("time");
    if let Some(t @ V::S(_)) = time {
        return Ok((t.time()?, "time"));
    }
    let key = spec.timestamp_key();
    let via: &'static str = if spec.timestamp_key.is_some() { "timestamp_key" } else { "@timestamp" };
    let Some(v) = get(key) else {
        return match time {
            Some(t) => Ok((t.time()?, "time")),
            None => Err(bad(
                Reason::BadTimestamp,
                format!("no time: the record has neither 'time' nor '{key}' (source.record.timestamp_key)"),
            )),
        };
    };
    let wrong = match (spec.timestamp_format, v) {
        (TsFormat::Double, V::S(_)) => Some("double"),
        (TsFormat::Iso8601, V::J(J::Int(_) | J::UInt(_) | J::Float(_))) => Some("iso8601"),
        _ => None,
    };
    if let Some(want) = wrong {
        return Err(bad(
            Reason::BadTimestamp,
            format!("'{key}' is a {} but source.record.timestamp_format is {want}", v.type_name()),
        ));
    }
    Ok((v.time()?, via))
}

/// The body as text, moved out of the parsed record (not copied), without the runtime's
/// trailing newline; whether that newline was there.
fn body_text(text: Option<J>) -> (String, bool) {
    let mut text = match text {
        Some(J::Str(s)) => s,
        None | Some(J::Null) => String::new(),
        Some(other) => String::from_utf8(json::to_vec(&other)).unwrap_or_default(),
    };
    let nl = text.ends_with('\n');
    if nl {
        text.pop();
    }
    (text, nl)
}

/// `via` says where identity was looked for; made only when it is missing.
fn need<S: std::fmt::Display>(namespace: &str, pod: &str, via: impl FnOnce() -> S) -> Result<(), Bad> {
    if namespace.is_empty() || pod.is_empty() {
        return Err(bad(
            Reason::NoIdentity,
            format!("record names no namespace/pod ({}) and the context (file name, headers, key) gives none", via()),
        ));
    }
    Ok(())
}

/// A CRI line's parts: (time text, stderr, partial, message); `None` when not one.
fn cri_parts(text: &str) -> Option<(&str, bool, bool, &str)> {
    let sp = text.find(' ')?;
    let ttext = &text[..sp];
    if ttext.is_empty() {
        return None;
    }
    let rest = &text[sp + 1..];
    let (stderr, rest) = if let Some(r) = rest.strip_prefix("stdout ") {
        (false, r)
    } else if let Some(r) = rest.strip_prefix("stderr ") {
        (true, r)
    } else {
        return None;
    };
    let partial = match rest.as_bytes().first() {
        Some(b'P') => true,
        Some(b'F') => false,
        _ => return None,
    };
    let msg = match &rest[1..] {
        "" => "",
        m if m.starts_with(' ') => &m[1..],
        _ => return None,
    };
    Some((ttext, stderr, partial, msg))
}

/// A body that is itself a CRI line, when its time parses: (ts, stderr, partial, message).
fn embedded_cri(text: &str) -> Option<((i64, String), bool, bool, String)> {
    if !text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (t, stderr, partial, msg) = cri_parts(text)?;
    let ns = parse_rfc3339(t).ok()?;
    Some(((ns, t.to_string()), stderr, partial, msg.to_string()))
}

#[allow(clippy::too_many_arguments)]
fn line(
    (ts_ns, time_text): (i64, String),
    stderr: bool,
    (text, partial): (String, bool),
    id: Ident,
    embedded: Option<Rc<Embedded>>,
    shape: &'static str,
    via: Via,
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
        via,
    }
}

fn missing_identity(f: &EksFacts, spec: &Spec) -> String {
    match spec.metadata_format {
        MetaFormat::FluentBit | MetaFormat::Filebeat => format!(
            "{}; source.record.metadata_format is {:?} but the metadata is in the {} layout",
            f.via,
            spec.metadata_format,
            f.found_layout()
        ),
        _ => f.via.to_string(),
    }
}

/// Tencent's super-node collector record (and Fargate's Fluent Bit): message in `log` or
/// `message`, metadata facts already read.
fn from_eks_facts(mut o: TopObj<'_>, f: &EksFacts, spec: &Spec, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let keys = spec.message_keys();
    let (mkey, body) = match o.remove(keys[0]) {
        Some(b) => (keys[0], b),
        None => match o.remove(keys[1]) {
            Some(b) => (keys[1], b),
            None => {
                return Err(bad(
                    Reason::UnknownShape,
                    format!("eks shape ({}): no message key (tried {})", f.via, keys[0]),
                ))
            }
        },
    };
    let need_ctx = f.namespace.is_none() || f.pod.is_none() || f.container.is_none() || f.container_id.is_none();
    let c = if need_ctx { ctx() } else { Ident::default() };
    let pick = |v: &Option<String>, fallback: &str| v.clone().unwrap_or_else(|| fallback.to_string());
    let id = Ident {
        namespace: pick(&f.namespace, &c.namespace),
        pod: pick(&f.pod, &c.pod),
        container: pick(&f.container, &c.container),
        container_id: f.container_id.clone().unwrap_or_else(|| bare_id(c.container_id.clone())),
    };
    need(&id.namespace, &id.pod, || missing_identity(f, spec))?;
    let message: &'static str = match (spec.message_key.is_some(), mkey) {
        (true, _) => "message_key",
        (false, "log") => "log",
        _ => "message",
    };
    let (text, _) = body_text(Some(body.into_j()));
    let tag = o.get("_p").or_else(|| o.get("logtag"));
    let has_stream = o.contains("stream");
    // Fargate's log router without a parser: `log` is the raw CRI line
    if tag.is_none() && !has_stream {
        if let Some((ts, stderr, partial, msg)) = embedded_cri(&text) {
            let via = Via { identity: f.via, message: "CRI line in the message", time: "CRI line in the message" };
            return Ok(line(ts, stderr, (msg, partial), id, Some(f.embedded.clone()), "eks", via));
        }
    }
    let partial = matches!(tag, Some(Top::Str(t)) if t == "P");
    let (ts, time) = line_time(|k| o.get(k).map(V::of_top), spec)?;
    let stderr = matches!(o.get("stream"), Some(Top::Str(s)) if s == "stderr");
    let via = Via { identity: f.via, message, time };
    Ok(line(ts, stderr, (text, partial), id, Some(f.embedded.clone()), "eks", via))
}

/// A Filebeat document (ECS), or Tencent's record in the filebeat metadata layout with
/// the line in `message`.
fn from_filebeat(
    mut o: Obj,
    known: Option<&EksFacts>,
    spec: &Spec,
    ctx: &mut dyn FnMut() -> Ident,
) -> Result<Line, Bad> {
    let message = o.remove("message");
    let read;
    let facts = match known {
        Some(f) => f,
        None => {
            read = EksFacts::of(o.remove(&spec.metadata_key), spec.metadata_format);
            &read
        }
    };
    let empty = Obj::default();
    let ecs_c = o.get("container").and_then(J::as_obj).unwrap_or(&empty);
    let c = ctx();
    let ecs_id = crate::meta::path(ecs_c, "id").filter(|v| !matches!(v, J::Null)).map(J::to_text);
    let id = Ident {
        namespace: facts.namespace.clone().unwrap_or(c.namespace),
        pod: facts.pod.clone().unwrap_or(c.pod),
        container: facts.container.clone().unwrap_or(c.container),
        container_id: bare_id(facts.container_id.clone().or(ecs_id).unwrap_or(c.container_id)),
    };
    need(&id.namespace, &id.pod, || missing_identity(facts, spec))?;
    let (ts, time) = line_time(|k| o.get(k).map(V::of_j), spec)?;
    let (text, _) = body_text(message);
    let mut emb = (*facts.embedded).clone();
    if emb.image.is_empty() {
        emb.image = crate::meta::path(ecs_c, "image.name").map(J::to_text).unwrap_or_default();
    }
    let stderr = matches!(o.get("stream"), Some(J::Str(s)) if s == "stderr");
    let via = Via { identity: facts.via, message: "message", time };
    Ok(line(ts, stderr, (text, false), id, Some(Rc::new(emb)), "filebeat", via))
}

/// CLS / SLS / LTS: identity from tags (`tagged.rs`).
fn from_tagged(o: &Obj, names: &'static tagged::Names, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let r = tagged::read(o, names, ctx);
    need(&r.id.namespace, &r.id.pod, || names.via)?;
    let (text, _) = body_text(r.body.cloned());
    let tag_p = matches!(o.get("_p").or_else(|| o.get("logtag")), Some(J::Str(t)) if t == "P");
    let emb = Some(Rc::new(r.embedded));
    if !r.has_stream {
        if let Some((ts, stderr, partial, msg)) = embedded_cri(&text) {
            let via = Via { identity: names.via, message: "CRI line in the message", time: "CRI line in the message" };
            return Ok(line(ts, stderr, (msg, partial), r.id, emb, names.shape, via));
        }
    }
    // LTS writes its epoch milliseconds as a string of digits
    let digits = match r.time {
        Some(J::Str(s)) if (1..=19).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit()) => {
            s.parse().ok().map(J::Int)
        }
        _ => None,
    };
    let ts = time_from(digits.as_ref().or(r.time)).map_err(|e| {
        let tried = names.time.join(", ");
        if r.time.is_none() {
            bad(Reason::BadTimestamp, format!("{} shape: no time key (tried {tried})", names.shape))
        } else {
            e
        }
    })?;
    let via = Via { identity: names.via, message: r.body_key, time: r.time_key };
    Ok(line(ts, r.stderr, (text, tag_p), r.id, emb, names.shape, via))
}

fn from_docker(mut o: Obj, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let id = ctx();
    need(&id.namespace, &id.pod, || "docker json-file line")?;
    let ts = time_from(o.get("time"))?;
    let (text, nl) = body_text(o.remove("log"));
    let stderr = matches!(o.get("stream"), Some(J::Str(s)) if s == "stderr");
    let via = Via { identity: "context", message: "log", time: "time" };
    // json-file splits long lines at 16 KiB: a fragment is a `log` without its newline
    Ok(line(ts, stderr, (text, !nl), id, None, "docker", via))
}

/// `<RFC3339> stdout|stderr P|F[ <message>]`.
fn from_cri(text: &str, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let not_cri = || bad(Reason::BadCri, "not '<RFC3339> stdout|stderr P|F <message>'");
    let (ttext, stderr, partial, msg) = cri_parts(text).ok_or_else(not_cri)?;
    if ttext.chars().any(char::is_whitespace) {
        return Err(not_cri());
    }
    let id = ctx();
    need(&id.namespace, &id.pod, || "CRI line")?;
    let ts = parse_rfc3339(ttext).map_err(|e| bad(Reason::BadTimestamp, format!("{}: {:.40}", e.0, ttext)))?;
    let via = Via { identity: "context", message: "CRI line", time: "CRI line" };
    Ok(line((ts, ttext.to_string()), stderr, (msg.to_string(), partial), id, None, "cri", via))
}

/// Which decoder reads a JSON object, from its keys and its metadata value.
enum Pick {
    Eks,
    Filebeat,
    Tagged(&'static tagged::Names),
    Docker,
}

/// `log_text`: whether `log` is a string (in a Filebeat document it is an object);
/// `body_cri`: whether it is a whole CRI line.
fn sniff(
    has: &dyn Fn(&str) -> bool,
    log_text: bool,
    body_cri: bool,
    k8s: K8s,
    spec: &Spec,
    tagged_of: &dyn Fn() -> Option<&'static tagged::Names>,
) -> Option<Pick> {
    let [m0, m1] = spec.message_keys();
    let has_msg = has(m0) || has(m1);
    match k8s {
        K8s::Obj(true) if has("message") && !log_text => return Some(Pick::Filebeat),
        K8s::Obj(_) if has_msg => return Some(Pick::Eks),
        _ => {}
    }
    if let Some(n) = tagged_of() {
        return Some(Pick::Tagged(n));
    }
    if has(spec.metadata_key.as_str()) && has_msg {
        return Some(Pick::Eks); // a metadata value we cannot read: identity from the context
    }
    if has("log") && has("time") {
        return Some(Pick::Docker);
    }
    if has_msg && has(spec.timestamp_key()) {
        return Some(Pick::Eks);
    }
    if body_cri {
        return Some(Pick::Eks); // Fargate's log router without its kubernetes filter
    }
    None
}

/// For a record no shape reads: the shape whose keys it shares most, and what it lacks.
fn nearest(has: &dyn Fn(&str) -> bool, keys: &mut dyn Iterator<Item = &str>, spec: &Spec) -> Bad {
    let mk = spec.message_keys()[0];
    let tk = spec.timestamp_key();
    let mkey = spec.metadata_key.as_str();
    let sigs: [(&str, Vec<&str>); 5] = [
        ("eks (Tencent super-node collector)", vec![mkey, mk, tk]),
        ("cls (Tencent CLS)", vec!["__CONTENT__", "__TAG__.pod_name", "__TIMESTAMP__"]),
        ("sls (Alibaba ilogtail)", vec!["content", "_pod_name_", "_namespace_"]),
        ("lts (Huawei LTS)", vec!["content", "podName", "nameSpace"]),
        ("docker (json-file)", vec!["log", "time", "stream"]),
    ];
    let best = sigs.iter().max_by_key(|(_, ks)| ks.iter().filter(|k| has(k)).count()).expect("non-empty");
    let missing: Vec<&str> = best.1.iter().copied().filter(|k| !has(k)).collect();
    let mut keys: Vec<&str> = keys.collect();
    keys.sort_unstable();
    keys.truncate(8);
    bad(
        Reason::UnknownShape,
        format!("JSON object with keys {keys:?} matches no known shape; nearest: {}, missing {missing:?}", best.0),
    )
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// One provider record → a line, or why not (tests and one-off reads: no memo).
pub fn decode(value: &[u8], shape: Shape, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    decode_memo(value, &Spec::of(shape), ctx, &mut KubeMemo::default())
}

/// `decode`, with the metadata value of EKS-shaped records read only when its bytes
/// differ from those of the values met lately (same lines, same errors as without).
pub fn decode_memo(
    value: &[u8],
    spec: &Spec,
    ctx: &mut dyn FnMut() -> Ident,
    memo: &mut KubeMemo,
) -> Result<Line, Bad> {
    if matches!(spec.shape, Shape::Auto | Shape::Eks) && value.len() <= MAX_RECORD {
        let known = |rest: &[u8]| memo.recent_prefix(rest);
        if let Some((o, Some(span))) = json::parse_top_raw(value, Numbers::Strict, &spec.metadata_key, &known) {
            // an invalid value falls through to the full parse, for its error message
            if let Some(f) = memo.use_raw(&value[span.start..span.end], span.known, spec.metadata_format) {
                let pick = match spec.shape {
                    Shape::Auto => {
                        let has = |k: &str| k == spec.metadata_key || o.contains(k);
                        let log_text = matches!(o.get("log"), Some(Top::Str(_)));
                        match sniff(&has, log_text, false, f.kind, spec, &|| None) {
                            Some(Pick::Eks) if f.kind != K8s::None => Pick::Eks,
                            Some(Pick::Filebeat) => Pick::Filebeat,
                            // the rarer shapes: the whole record, read as always
                            _ => return decode_full(value, spec, ctx),
                        }
                    }
                    _ => Pick::Eks,
                };
                if let Pick::Eks = pick {
                    return from_eks_facts(o, &f, spec, ctx);
                }
                return from_filebeat(o.into_obj(), Some(&f), spec, ctx);
            }
        }
    }
    decode_full(value, spec, ctx)
}

fn decode_full(value: &[u8], spec: &Spec, ctx: &mut dyn FnMut() -> Ident) -> Result<Line, Bad> {
    let first = value.iter().position(|&c| !is_ws(c));
    let Some(first) = first else { return Err(bad(Reason::Empty, "empty record")) };
    if value.len() > MAX_RECORD {
        return Err(bad(Reason::TooLarge, format!("record of {} bytes exceeds {}", value.len(), MAX_RECORD)));
    }
    let shape = spec.shape;
    if shape == Shape::Cri || (shape == Shape::Auto && !matches!(value[first], b'{' | b'[')) {
        let text = std::str::from_utf8(value).map_err(|_| bad(Reason::NotUtf8, "record is not valid UTF-8"))?;
        return from_cri(text.trim_end_matches(['\r', '\n']), ctx);
    }
    let parsed = json::parse(value, Numbers::Strict).map_err(|e| {
        let reason = if e.what == json::TOO_MANY_KEYS { Reason::TooManyKeys } else { Reason::BadJson };
        bad(reason, format!("invalid JSON: {e}"))
    })?;
    let J::Obj(mut o) = parsed else {
        return Err(bad(Reason::UnknownShape, format!("JSON {}, expected an object", type_name(&parsed))));
    };
    let pick = match shape {
        Shape::Eks => Pick::Eks,
        Shape::Filebeat => Pick::Filebeat,
        Shape::Docker => Pick::Docker,
        Shape::Tagged => Pick::Tagged(tagged::which(&o).unwrap_or(&tagged::CLS)),
        Shape::Auto | Shape::Cri => {
            let kind = o.get(&spec.metadata_key).map_or(K8s::None, |v| peek_kind(v, spec));
            let has = |k: &str| o.contains(k);
            let tagged_of = || tagged::which(&o).or_else(|| tagged::looks_tagged(&o).then_some(&tagged::CLS));
            let log_text = matches!(o.get("log"), Some(J::Str(_)));
            let body_cri = matches!(o.get("log"), Some(J::Str(s)) if embedded_cri(s).is_some());
            match sniff(&has, log_text, body_cri, kind, spec, &tagged_of) {
                Some(p) => p,
                None => return Err(nearest(&has, &mut o.0.iter().map(|(k, _)| k.as_str()), spec)),
            }
        }
    };
    match pick {
        Pick::Eks => {
            let f = EksFacts::of(o.remove(&spec.metadata_key), spec.metadata_format);
            from_eks_facts(TopObj::from_obj(o), &f, spec, ctx)
        }
        Pick::Filebeat => from_filebeat(o, None, spec, ctx),
        Pick::Tagged(n) => from_tagged(&o, n, ctx),
        Pick::Docker => from_docker(o, ctx),
    }
}

/// The metadata value's kind without keeping what it says (a string is decoded).
fn peek_kind(v: &J, spec: &Spec) -> K8s {
    match v {
        J::Obj(_) | J::Str(_) => EksFacts::of(Some(v.clone()), spec.metadata_format).kind,
        _ => K8s::None,
    }
}

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
            // Tencent's default: the metadata as a JSON string, the line in log or message
            rec(&json_string(k), ""),
            rec(&json_string(k), ""),
            rec(&json_string(k2), ""),
            rec(&json_string("not json"), ""),
            rec(&json_string("[1]"), ""),
            r#"{"kubernetes":"{\"pod_name\":\"p\",\"namespace_name\":\"n\"}","message":"m","@timestamp":1714564800.5}"#.into(),
            r#"{"kubernetes":"{\"pod\":{\"name\":\"p\"},\"namespace\":\"n\"}","message":"m","@timestamp":1714564800.5}"#.into(),
            r#"{"kubernetes":{"pod_name":"p","namespace_name":"n"},"log":"2024-05-01T12:00:00.5Z stderr P raw cri"}"#.into(),
            r#"{"kubernetes":{"pod":{"name":"p"},"namespace":"n"},"log":{"offset":1},"message":"fb","@timestamp":"2024-05-01T12:00:00Z"}"#.into(),
        ];
        for shape in [Shape::Auto, Shape::Eks] {
            let mut memo = KubeMemo::default();
            let spec = Spec::of(shape);
            for r in &records {
                let memoized = decode_memo(r.as_bytes(), &spec, &mut file, &mut memo);
                assert_eq!(memoized, decode_full(r.as_bytes(), &spec, &mut file), "{shape:?} {r}");
            }
        }
    }

    fn json_string(s: &str) -> String {
        let mut out = Vec::new();
        json::write_str(&mut out, s);
        String::from_utf8(out).unwrap()
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
                let line = decode_memo(r.as_bytes(), &Spec::of(Shape::Eks), &mut file, &mut memo).unwrap();
                assert_eq!(line.pod, format!("p{i}"), "round {round}");
            }
        }
        assert_eq!(memo.len(), 50); // one entry per distinct object, hit on every later round
        for i in 0..KUBE_MEMO_MAX + 10 {
            let r = rec(i);
            assert_eq!(
                decode_memo(r.as_bytes(), &Spec::of(Shape::Eks), &mut file, &mut memo),
                decode_full(r.as_bytes(), &Spec::of(Shape::Eks), &mut file)
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
