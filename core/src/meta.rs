//! The pod metadata a provider record carries, in each documented layout and encoding.
//!
//! Why: Tencent's super-node collector puts the pod metadata in `kubernetes` as a
//! JSON-encoded *string* by default, and as an object only with the annotation
//! `eks.tke.cloud.tencent.com/filebeat-metadata-format: 'true'` (cloud.tencent.com/document/product/457/44173);
//! its LogConfig names three layouts, `default` / `fluent-bit` / `filebeat`
//! (`kafkaDetail.metadata.formatType`, tencentcloud.com/document/product/457/64846), whose
//! keys are not published. The keys below are those of the collectors the layouts are
//! named after (Fluent Bit's kubernetes filter, Filebeat's add_kubernetes_metadata); the
//! `default` layout is read with every alias (inferred, tolerant). One table per layout,
//! read once per distinct metadata value (see `KubeMemo`).

use crate::decode::Embedded;
use crate::json::{self, Numbers, Obj, J};
use ahash::AHashMap;
use std::rc::Rc;

/// Which layout the metadata object is read in (`source.record.metadata_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaFormat {
    Auto,
    Default,
    FluentBit,
    Filebeat,
}

impl MetaFormat {
    pub fn parse(name: &str) -> Option<MetaFormat> {
        Some(match name {
            "auto" => MetaFormat::Auto,
            "default" => MetaFormat::Default,
            "fluent-bit" => MetaFormat::FluentBit,
            "filebeat" => MetaFormat::Filebeat,
            _ => return None,
        })
    }
}

/// Where each pod fact sits in one layout's metadata object: dotted paths walk nested
/// objects (a literal dotted key is tried first).
struct Layout {
    name: &'static str,
    namespace: &'static [&'static str],
    pod: &'static [&'static str],
    container: &'static [&'static str],
    container_id: &'static [&'static str],
    pod_uid: &'static [&'static str],
    labels: &'static [&'static str],
    annotations: &'static [&'static str],
    host: &'static [&'static str],
    pod_ip: &'static [&'static str],
    image: &'static [&'static str],
    image_id: &'static [&'static str],
}

/// Fluent Bit's kubernetes filter (`filter_kubernetes/kube_meta.c`).
const FLUENT_BIT: Layout = Layout {
    name: "fluent-bit",
    namespace: &["namespace_name"],
    pod: &["pod_name"],
    container: &["container_name"],
    container_id: &["docker_id", "container_id"],
    pod_uid: &["pod_id"],
    labels: &["labels"],
    annotations: &["annotations"],
    host: &["host"],
    pod_ip: &["pod_ip"],
    image: &["container_image"],
    image_id: &["container_hash"],
};

/// Filebeat's add_kubernetes_metadata (`kubernetes.pod.name`, `kubernetes.namespace`, ...).
const FILEBEAT: Layout = Layout {
    name: "filebeat",
    namespace: &["namespace"],
    pod: &["pod.name"],
    container: &["container.name"],
    container_id: &["container.id"],
    pod_uid: &["pod.uid"],
    labels: &["labels"],
    annotations: &["annotations"],
    host: &["node.name", "node.hostname"],
    pod_ip: &["pod.ip"],
    image: &["container.image", "container.image.name"],
    image_id: &[],
};

/// Tencent's `default` layout is not published: every alias, each collector's first.
const DEFAULT: Layout = Layout {
    name: "default",
    namespace: &["namespace_name", "namespace", "pod_namespace"],
    pod: &["pod_name", "pod.name"],
    container: &["container_name", "container.name"],
    container_id: &["docker_id", "container_id", "container.id"],
    pod_uid: &["pod_id", "pod_uid", "pod.uid"],
    labels: &["labels", "pod_labels"],
    annotations: &["annotations", "pod_annotations"],
    host: &["host", "node_name", "pod_node_name", "node.name", "node.hostname"],
    pod_ip: &["pod_ip", "pod.ip"],
    image: &["container_image", "container.image", "container.image.name"],
    image_id: &["container_hash", "container_image_id"],
};

/// A member by path: the literal key first, then nested objects along the dots.
pub fn path<'a>(o: &'a Obj, p: &str) -> Option<&'a J> {
    if let Some(v) = o.get(p) {
        return Some(v);
    }
    let (head, rest) = p.split_once('.')?;
    path(o.get(head)?.as_obj()?, rest)
}

fn first<'a>(o: &'a Obj, paths: &[&str]) -> Option<&'a J> {
    paths.iter().find_map(|p| path(o, p))
}

/// A value Python would take for true, as text (identity fields a provider may send as
/// numbers); `None` when absent or false-like.
fn truthy_text(v: Option<&J>) -> Option<String> {
    match v? {
        J::Null | J::Bool(false) | J::Int(0) | J::UInt(0) => None,
        J::Float(f) if *f == 0.0 => None,
        J::Str(s) if s.is_empty() => None,
        J::Arr(a) if a.is_empty() => None,
        J::Obj(o) if o.is_empty() => None,
        v => Some(v.to_text()),
    }
}

/// The first of `paths` whose value is true-like.
fn first_truthy(o: &Obj, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| truthy_text(path(o, p)))
}

fn str_map(v: Option<&J>) -> Vec<(String, String)> {
    match v {
        Some(J::Obj(o)) => o.0.iter().map(|(k, x)| (k.clone(), x.to_text())).collect(),
        _ => Vec::new(),
    }
}

pub fn bare_id(cid: String) -> String {
    match cid.find("://") {
        Some(i) => cid[i + 3..].to_string(),
        None => cid,
    }
}

/// How a record's metadata value reads, for `--explain` and dead-letter details.
pub const VIA: [[&str; 3]; 2] = [
    ["kubernetes object, default layout", "kubernetes object, fluent-bit layout", "kubernetes object, filebeat layout"],
    [
        "kubernetes JSON string, default layout",
        "kubernetes JSON string, fluent-bit layout",
        "kubernetes JSON string, filebeat layout",
    ],
];

/// What sniffing needs of a record's metadata value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum K8s {
    /// absent, or neither an object nor a string holding one
    None,
    /// an object (or a string holding one); `true` in Filebeat's layout
    Obj(bool),
}

/// What a record's metadata value says, derived once per distinct value.
pub struct EksFacts {
    /// the value as an object (a JSON string decoded), for the shapes that read it whole
    pub kube: J,
    pub kind: K8s,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub container_id: Option<String>,
    pub embedded: Rc<Embedded>,
    /// where identity came from (one of `VIA`), or why the value could not be read
    pub via: &'static str,
}

fn layout_of(o: &Obj) -> &'static Layout {
    if o.contains("pod_name") || o.contains("namespace_name") {
        &FLUENT_BIT
    } else if o.get("pod").and_then(J::as_obj).is_some() || o.contains("pod.name") {
        &FILEBEAT
    } else {
        &DEFAULT
    }
}

impl EksFacts {
    pub fn of(v: Option<J>, format: MetaFormat) -> EksFacts {
        let (kube, encoded) = match v {
            Some(J::Str(s)) => match json::parse(s.as_bytes(), Numbers::Strict) {
                Ok(inner @ J::Obj(_)) => (inner, 1),
                _ => (J::Str(s), 2),
            },
            Some(v) => (v, 0),
            None => (J::Null, 0),
        };
        let empty = Obj::default();
        let o = kube.as_obj();
        let found = o.map(layout_of);
        let read = match format {
            MetaFormat::Auto | MetaFormat::Default => &DEFAULT,
            MetaFormat::FluentBit => &FLUENT_BIT,
            MetaFormat::Filebeat => &FILEBEAT,
        };
        let k = o.unwrap_or(&empty);
        let g = |paths: &[&str]| first(k, paths);
        let text = |paths: &[&str]| g(paths).map(J::to_text).unwrap_or_default();
        let embedded = Rc::new(Embedded {
            pod_uid: text(read.pod_uid),
            labels: str_map(g(read.labels)),
            annotations: str_map(g(read.annotations)),
            host: text(read.host),
            pod_ip: text(read.pod_ip),
            image: text(read.image),
            image_id: text(read.image_id),
        });
        let via = match (encoded, found) {
            (2, _) => "kubernetes is a string that holds no JSON object",
            (_, None) if kube != J::Null => "kubernetes is neither an object nor a JSON string",
            (_, None) => "no kubernetes field",
            (e, Some(l)) => {
                let i = [DEFAULT.name, FLUENT_BIT.name, FILEBEAT.name].iter().position(|n| *n == l.name).unwrap_or(0);
                VIA[e][i]
            }
        };
        EksFacts {
            kind: match found {
                Some(l) => K8s::Obj(std::ptr::eq(l, &FILEBEAT)),
                None => K8s::None,
            },
            namespace: first_truthy(k, read.namespace),
            pod: first_truthy(k, read.pod),
            container: first_truthy(k, read.container),
            container_id: first_truthy(k, read.container_id).map(bare_id),
            embedded,
            via,
            kube,
        }
    }

    /// The layout name the metadata was found in (for a pinned format's error).
    pub fn found_layout(&self) -> &'static str {
        match self.kube.as_obj() {
            Some(o) => layout_of(o).name,
            None => "none",
        }
    }
}

/// What each metadata value met lately says, keyed by its exact bytes: a partition
/// interleaves the records of many pods, and each pod's records carry byte-identical
/// values (an object, or the JSON string Tencent sends by default), so one entry per
/// live container is enough. Bounded: when `KUBE_MEMO_MAX` values are held, the memo
/// starts again empty. The few values met last are also kept in order of use: a record
/// that starts its value with one of their bytes is that value (no delimiting walk, no
/// hash).
#[derive(Default)]
pub struct KubeMemo {
    by_raw: AHashMap<Rc<[u8]>, Rc<EksFacts>>,
    recent: Vec<(Rc<[u8]>, Rc<EksFacts>)>,
    /// bytes of the values `by_raw` holds: the memo is bounded in bytes, not only entries
    bytes: usize,
}

pub const KUBE_MEMO_MAX: usize = 4096;
/// The memo's byte budget (keys; the facts are a fraction of their key) and the largest
/// value worth remembering: a bigger one is decoded every time, never held.
pub const KUBE_MEMO_BYTES: usize = 8 * 1024 * 1024;
pub const KUBE_MEMO_VALUE_MAX: usize = 64 * 1024;
const KUBE_RECENT: usize = 4;

impl KubeMemo {
    /// Which recent value `rest` starts with: (its place in `recent`, its length).
    pub fn recent_prefix(&self, rest: &[u8]) -> Option<(usize, usize)> {
        self.recent.iter().position(|(raw, _)| rest.starts_with(raw)).map(|k| (k, self.recent[k].0.len()))
    }

    /// The facts of the value `raw` (at `recent[known]` when the parse matched one
    /// there), now the most recent; `None` when `raw` is no JSON value.
    pub fn use_raw(&mut self, raw: &[u8], known: Option<usize>, format: MetaFormat) -> Option<Rc<EksFacts>> {
        if let Some(k) = known {
            self.recent[..=k].rotate_right(1);
            return Some(self.recent[0].1.clone());
        }
        let facts = match self.by_raw.get(raw) {
            Some(f) => f.clone(),
            None => {
                let f = Rc::new(EksFacts::of(Some(json::parse(raw, Numbers::Strict).ok()?), format));
                if raw.len() > KUBE_MEMO_VALUE_MAX {
                    return Some(f);
                }
                if self.by_raw.len() >= KUBE_MEMO_MAX || self.bytes + raw.len() > KUBE_MEMO_BYTES {
                    self.by_raw.clear();
                    self.bytes = 0;
                }
                self.bytes += raw.len();
                self.by_raw.insert(raw.into(), f.clone());
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

    /// Bytes of the values held (bounded by `KUBE_MEMO_BYTES`).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_is_bounded_in_bytes() {
        let mut m = KubeMemo::default();
        let pad = "x".repeat(60 * 1024);
        for i in 0..400 {
            let v = format!(r#"{{"namespace_name":"n","pod_name":"p{i}","pad":"{pad}"}}"#);
            assert!(m.use_raw(v.as_bytes(), None, MetaFormat::Auto).is_some());
            assert!(m.bytes() <= KUBE_MEMO_BYTES);
        }
        let big = format!(r#"{{"pod_name":"p","pad":"{}"}}"#, "y".repeat(KUBE_MEMO_VALUE_MAX));
        let before = m.bytes();
        assert!(m.use_raw(big.as_bytes(), None, MetaFormat::Auto).is_some());
        assert_eq!(m.bytes(), before, "a value over KUBE_MEMO_VALUE_MAX is decoded, never held");
    }

    fn facts(v: &str, f: MetaFormat) -> EksFacts {
        EksFacts::of(Some(json::parse(v.as_bytes(), Numbers::Strict).unwrap()), f)
    }

    #[test]
    fn a_json_string_reads_as_the_object_it_holds() {
        let s = r#""{\"pod_name\":\"p\",\"namespace_name\":\"n\",\"container_name\":\"c\",\"docker_id\":\"containerd://d\",\"labels\":{\"a.b\":\"x\"}}""#;
        let f = facts(s, MetaFormat::Auto);
        assert_eq!(
            (f.namespace.as_deref(), f.pod.as_deref(), f.container.as_deref()),
            (Some("n"), Some("p"), Some("c"))
        );
        assert_eq!(f.container_id.as_deref(), Some("d"));
        assert_eq!(f.embedded.labels, vec![("a.b".to_string(), "x".to_string())]);
        assert_eq!(f.via, "kubernetes JSON string, fluent-bit layout");
        assert!(matches!(f.kube, J::Obj(_)));
    }

    #[test]
    fn filebeat_layout_nested_or_dotted() {
        for v in [
            r#"{"pod":{"name":"p","uid":"u","ip":"1.2.3.4"},"namespace":"n","container":{"name":"c"},"node":{"name":"nd"}}"#,
            r#"{"pod.name":"p","pod.uid":"u","pod.ip":"1.2.3.4","namespace":"n","container.name":"c","node.name":"nd"}"#,
        ] {
            let f = facts(v, MetaFormat::Auto);
            assert_eq!(
                (f.namespace.as_deref(), f.pod.as_deref(), f.container.as_deref()),
                (Some("n"), Some("p"), Some("c"))
            );
            assert_eq!(
                (f.embedded.pod_uid.as_str(), f.embedded.pod_ip.as_str(), f.embedded.host.as_str()),
                ("u", "1.2.3.4", "nd")
            );
            assert_eq!(f.kind, K8s::Obj(true));
        }
    }

    #[test]
    fn a_pinned_layout_reads_only_its_own_keys() {
        let fb = r#"{"pod_name":"p","namespace_name":"n"}"#;
        assert_eq!(facts(fb, MetaFormat::Filebeat).pod, None);
        assert_eq!(facts(fb, MetaFormat::FluentBit).pod.as_deref(), Some("p"));
        assert_eq!(facts(fb, MetaFormat::Filebeat).found_layout(), "fluent-bit");
    }

    #[test]
    fn unreadable_values_say_why() {
        assert_eq!(facts(r#""not json""#, MetaFormat::Auto).via, "kubernetes is a string that holds no JSON object");
        assert_eq!(facts("[1]", MetaFormat::Auto).kind, K8s::None);
        assert_eq!(EksFacts::of(None, MetaFormat::Auto).via, "no kubernetes field");
    }
}
