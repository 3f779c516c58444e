//! Records of the log services that keep the pod identity in flat fields or tags:
//! Tencent CLS delivered to CKafka, Alibaba SLS (ilogtail), Huawei LTS.
//!
//! Why: these services do not nest a `kubernetes` object; each names the pod's fields its
//! own way and may put them under a tag prefix (`__TAG__.pod_name`, `{"__TAG__": {...}}`,
//! `__tag__:_pod_name_`). One table says where each fact may sit; a record is read by
//! whichever provider's identity keys it carries. The message may itself be a raw CRI line
//! (`<RFC3339Nano> stdout|stderr P|F <msg>`: ilogtail's file input, LTS): its time, stream
//! and partial flag then come from the line. Sources per key: tests/fixtures/providers/.

use crate::decode::{Embedded, Ident};
use crate::json::{Obj, J};
use crate::meta::bare_id;

/// One service's field names. Every name is also looked up under the tag prefixes.
pub struct Names {
    pub shape: &'static str,
    /// where identity came from, for `--explain`
    pub via: &'static str,
    pub namespace: &'static [&'static str],
    pub pod: &'static [&'static str],
    pub container: &'static [&'static str],
    pub container_id: &'static [&'static str],
    pub pod_uid: &'static [&'static str],
    pub pod_ip: &'static [&'static str],
    pub image: &'static [&'static str],
    pub host: &'static [&'static str],
    pub label_prefix: &'static [&'static str],
    pub body: &'static [&'static str],
    pub time: &'static [&'static str],
    pub stream: &'static [&'static str],
    /// keys that alone say a record is this service's (so one without identity is a
    /// `no_pod_identity` of this shape, not an unknown shape)
    pub marks: &'static [&'static str],
}

/// Tencent CLS (`__CONTENT__`, `__TAG__.pod_name`, ...; the flat names without the
/// prefix too, as CLS's JSON delivery writes tags as plain fields).
pub const CLS: Names = Names {
    shape: "cls",
    via: "Tencent CLS tags",
    namespace: &["namespace"],
    pod: &["pod_name"],
    container: &["container_name"],
    container_id: &["container_id"],
    pod_uid: &["pod_uid"],
    pod_ip: &["pod_ip"],
    image: &["image_name"],
    host: &["node_name", "host", "__HOSTNAME__"],
    label_prefix: &["pod_label_"],
    body: &["log", "content", "message", "__CONTENT__"],
    time: &["time", "@timestamp", "timestamp", "__TIMESTAMP__"],
    stream: &["stream"],
    marks: &["__CONTENT__", "__TIMESTAMP__"],
};

/// Alibaba SLS / ilogtail container stdout (`_namespace_`, `_pod_name_`, `_source_`, `_time_`).
pub const SLS: Names = Names {
    shape: "sls",
    via: "Alibaba ilogtail tags",
    namespace: &["_namespace_"],
    pod: &["_pod_name_"],
    container: &["_container_name_"],
    container_id: &["_container_id_"],
    pod_uid: &["_pod_uid_"],
    pod_ip: &["_container_ip_"],
    image: &["_image_name_"],
    host: &["_node_name_", "__hostname__"],
    label_prefix: &["_pod_label_", "_label_"],
    body: &["content"],
    time: &["_time_", "__time__"],
    stream: &["_source_"],
    marks: &["_namespace_", "_pod_name_", "_container_name_", "_pod_uid_", "_image_name_", "_source_", "_time_"],
};

/// Huawei LTS built-in reserved fields (`podName`, `nameSpace`, `containerName`,
/// `collectTime`: ms, written as a string of digits; no stream field).
pub const LTS: Names = Names {
    shape: "lts",
    via: "Huawei LTS fields",
    namespace: &["nameSpace"],
    pod: &["podName"],
    container: &["containerName"],
    container_id: &["containerId"],
    pod_uid: &["podUid"],
    pod_ip: &["podIp"],
    image: &["imageName"],
    host: &["hostName"],
    label_prefix: &[],
    body: &["content"],
    time: &["collectTime", "__time__"],
    stream: &["stream"],
    marks: &["podName", "nameSpace", "containerName", "collectTime"],
};

pub const ALL: [&Names; 3] = [&CLS, &SLS, &LTS];

const PREFIXES: [&str; 3] = ["__TAG__.", "__tag__.", "__tag__:"];
const NESTS: [&str; 2] = ["__TAG__", "__tag__"];

/// A field by name: plain, under a flat tag prefix, or inside a nested tag object.
pub fn tag<'a>(o: &'a Obj, name: &str) -> Option<&'a J> {
    if let Some(v) = o.get(name) {
        return Some(v);
    }
    for p in PREFIXES {
        // no allocation: compare prefix and rest in place
        if let Some((_, v)) = o.0.iter().find(|(k, _)| k.strip_prefix(p) == Some(name)) {
            return Some(v);
        }
    }
    NESTS.iter().find_map(|n| o.get(n)?.as_obj()?.get(name))
}

fn any<'a>(o: &'a Obj, names: &[&str]) -> Option<&'a J> {
    names.iter().find_map(|n| tag(o, n))
}

fn text(o: &Obj, names: &[&str]) -> Option<String> {
    match any(o, names)? {
        J::Null => None,
        J::Str(s) if s.is_empty() => None,
        v => Some(v.to_text()),
    }
}

/// Which service's record this is: by its identity keys, else by the keys only that
/// service writes (so one without identity is that shape's `no_pod_identity`).
pub fn which(o: &Obj) -> Option<&'static Names> {
    ALL.into_iter()
        .find(|n| any(o, n.pod).is_some() || (any(o, n.namespace).is_some() && any(o, n.container).is_some()))
        .or_else(|| ALL.into_iter().find(|n| any(o, n.marks).is_some()))
}

/// Whether the record looks like one of these services' even without identity keys.
pub fn looks_tagged(o: &Obj) -> bool {
    o.contains("__CONTENT__")
        || o.0.iter().any(|(k, _)| PREFIXES.iter().any(|p| k.starts_with(p)) || NESTS.contains(&k.as_str()))
}

/// The identity, body, time value, stream value, and partial tag of one record.
pub struct Read<'a> {
    pub id: Ident,
    pub body: Option<&'a J>,
    pub body_key: &'static str,
    pub time: Option<&'a J>,
    pub time_key: &'static str,
    pub stderr: bool,
    pub has_stream: bool,
    pub embedded: Embedded,
}

pub fn read<'a>(o: &'a Obj, n: &Names, ctx: &mut dyn FnMut() -> Ident) -> Read<'a> {
    let c = ctx();
    let pick = |names: &[&str], fallback: &str| text(o, names).unwrap_or_else(|| fallback.to_string());
    let id = Ident {
        namespace: pick(n.namespace, &c.namespace),
        pod: pick(n.pod, &c.pod),
        container: pick(n.container, &c.container),
        container_id: bare_id(pick(n.container_id, &c.container_id)),
    };
    let (body_key, body) =
        n.body.iter().find_map(|k| tag(o, k).map(|v| (*k, v))).map_or(("", None), |(k, v)| (k, Some(v)));
    let (time_key, time) =
        n.time.iter().find_map(|k| tag(o, k).map(|v| (*k, v))).map_or(("", None), |(k, v)| (k, Some(v)));
    let stream = any(o, n.stream);
    let stderr = matches!(stream, Some(J::Str(s)) if s == "stderr");
    let mut labels = Vec::new();
    for (k, v) in &o.0 {
        let k = PREFIXES.iter().find_map(|p| k.strip_prefix(p)).unwrap_or(k);
        if let Some(rest) = n.label_prefix.iter().find_map(|p| k.strip_prefix(p)) {
            labels.push((rest.to_string(), v.to_text()));
        }
    }
    for nest in NESTS {
        if let Some(t) = o.get(nest).and_then(J::as_obj) {
            for (k, v) in &t.0 {
                if let Some(rest) = n.label_prefix.iter().find_map(|p| k.strip_prefix(p)) {
                    labels.push((rest.to_string(), v.to_text()));
                }
            }
        }
    }
    let embedded = Embedded {
        pod_uid: text(o, n.pod_uid).unwrap_or_default(),
        labels,
        annotations: Vec::new(),
        host: text(o, n.host).unwrap_or_default(),
        pod_ip: text(o, n.pod_ip).unwrap_or_default(),
        image: text(o, n.image).unwrap_or_default(),
        image_id: String::new(),
    };
    Read { id, body, body_key, time, time_key, stderr, has_stream: stream.is_some(), embedded }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse, Numbers};

    fn obj(s: &str) -> Obj {
        match parse(s.as_bytes(), Numbers::Strict).unwrap() {
            J::Obj(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn tags_plain_prefixed_or_nested() {
        for s in [
            r#"{"pod_name":"p"}"#,
            r#"{"__TAG__.pod_name":"p"}"#,
            r#"{"__tag__.pod_name":"p"}"#,
            r#"{"__tag__:pod_name":"p"}"#,
            r#"{"__TAG__":{"pod_name":"p"}}"#,
        ] {
            assert_eq!(tag(&obj(s), "pod_name"), Some(&J::Str("p".into())), "{s}");
        }
    }

    #[test]
    fn each_service_by_its_identity_keys() {
        assert_eq!(which(&obj(r#"{"__TAG__.pod_name":"p"}"#)).unwrap().shape, "cls");
        assert_eq!(which(&obj(r#"{"__tag__:_pod_name_":"p"}"#)).unwrap().shape, "sls");
        assert_eq!(which(&obj(r#"{"podName":"p","content":"x"}"#)).unwrap().shape, "lts");
        assert!(which(&obj(r#"{"content":"x"}"#)).is_none());
        // no identity, but keys only ilogtail writes: its shape, so the reason is the identity
        assert_eq!(which(&obj(r#"{"content":"x","_source_":"stdout","_time_":"t"}"#)).unwrap().shape, "sls");
    }

    #[test]
    fn labels_under_any_prefix() {
        let o = obj(r#"{"__TAG__.pod_label_app":"web","__TAG__":{"pod_label_tier":"db"},"pod_name":"p"}"#);
        let r = read(&o, &CLS, &mut Ident::default);
        assert_eq!(r.embedded.labels, vec![("app".into(), "web".into()), ("tier".into(), "db".into())]);
    }
}
