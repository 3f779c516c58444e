//! Sandbox exposition → kubelet/cAdvisor shape: parse, apply the rule table, render.
//!
//! Why: a 2,000-series scrape must cost well under a millisecond, at 1,000 targets
//! every 15 s. The rule table is data defined in Python (metricsbridge/translating.py);
//! this module applies it. Identity labels come from the inventory, never from the
//! scrape, so a tenant cannot claim another pod's identity. Malformed lines are
//! counted and skipped; label values stay in their escaped wire form.

use std::borrow::Cow;

use ahash::AHashMap;

/// Which identity a translated series carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    /// cAdvisor's per-container labels (namespace, pod, container, image, name, id)
    #[default]
    Container,
    /// the pod's cgroup (container="", id) — network series
    Pod,
    /// the namespace only — kubelet `/metrics` series such as `kubelet_volume_stats_*`
    Namespace,
}

#[derive(Clone, Debug, Default)]
pub struct Rule {
    pub source: String,
    pub target: String,
    pub level: Level,
    pub keep: Vec<String>,
    pub rename: Vec<(String, String)>,
    pub konst: Vec<(String, String)>,
    pub skip: Vec<(String, Vec<String>)>,
    pub cpu_limit_only: bool,
    pub device_prefix: String,
}

#[derive(Clone, Debug)]
pub enum Formula {
    CpuBusy,
    WorkingSet,
    Swap,
    Value(String),
}

#[derive(Clone, Debug)]
pub struct Derived {
    pub target: String,
    pub formula: Formula,
    pub konst: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Container {
    pub name: String,
    pub bare_id: String,
    pub image: String,
}

/// The pod a probe is for, as the inventory knows it.
#[derive(Clone, Debug, Default)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub main: String,
    pub containers: Vec<Container>,
    pub cpu_limited: Vec<String>,
}

pub struct Table {
    rules: AHashMap<String, Rule>,
    derived: Vec<Derived>,
    types: AHashMap<String, String>,
    vm_sources: Vec<String>,
}

/// One parsed sample: name, label block (escaped wire form, without braces), value,
/// and its timestamp in milliseconds when the exposition carried one (cAdvisor and
/// Tencent's sandbox do: data refreshed every 30 s, scraped with honor_timestamps).
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: &'a str,
    pub value: &'a str,
    pub ts_ms: Option<i64>,
}

/// A sample timestamp: integer milliseconds (text format), or seconds with a fraction
/// (OpenMetrics). `None` when not a finite time.
fn timestamp_ms(t: &str) -> Option<i64> {
    if let Ok(ms) = t.parse::<i64>() {
        return Some(ms);
    }
    let secs = t.parse::<f64>().ok().filter(|x| x.is_finite() && x.abs() < 1e15)?;
    Some((secs * 1000.0).round() as i64)
}

#[derive(Default, Debug)]
pub struct Translated {
    pub text: String,
    pub series: usize,
    pub parse_errors: usize,
    pub dropped: AHashMap<&'static str, usize>,
}

pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"")
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}
fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}
fn is_label_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_label(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Validate a label block `a="x",b="y"` (escapes allowed); returns its end (after `}`).
fn label_block(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if b.get(i) == Some(&b'}') {
            return Some(i + 1);
        }
        if !is_label_start(*b.get(i)?) {
            return None;
        }
        while i < b.len() && is_label(b[i]) {
            i += 1;
        }
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if b.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        loop {
            match b.get(i)? {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        i += 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

fn is_float(s: &str) -> bool {
    if s.parse::<f64>().is_ok() {
        return true;
    }
    let l = s.trim_start_matches(['+', '-']);
    ["inf", "infinity", "nan"].iter().any(|w| l.eq_ignore_ascii_case(w))
}

/// Parse the exposition text; `# TYPE` lines go to `types`.
pub fn parse<'a>(text: &'a str, types: &mut Vec<(&'a str, &'a str)>, errors: &mut usize) -> Vec<Sample<'a>> {
    let mut out = Vec::with_capacity(text.len() / 64);
    // lines cut at each '\n' found by memchr (`str::lines` walks a char searcher); the
    // trim below also drops a '\r' before it, as `lines` does
    let bytes = text.as_bytes();
    let mut from = 0;
    while from < bytes.len() {
        let to = memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |k| from + k);
        let raw = &text[from..to];
        from = to + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let b = line.as_bytes();
        if b[0] == b'#' {
            let mut parts = line.splitn(4, char::is_whitespace).filter(|p| !p.is_empty());
            if let (Some(_), Some("TYPE"), Some(name), Some(kind)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            {
                types.push((name, kind.trim()));
            }
            continue;
        }
        if !is_name_start(b[0]) {
            *errors += 1;
            continue;
        }
        let mut i = 1;
        while i < b.len() && is_name(b[i]) {
            i += 1;
        }
        let name = &line[..i];
        let mut labels = "";
        if b.get(i) == Some(&b'{') {
            match label_block(b, i + 1) {
                Some(end) => {
                    labels = &line[i + 1..end - 1];
                    i = end;
                }
                None => {
                    *errors += 1;
                    continue;
                }
            }
        }
        // value, then an optional timestamp; anything more is malformed
        let mut rest = line[i..].split_whitespace();
        let value = rest.next();
        let ts = rest.next();
        let Some(value) = value.filter(|_| rest.next().is_none()) else {
            *errors += 1;
            continue;
        };
        if !is_float(value) {
            *errors += 1;
            continue;
        }
        let ts_ms = match ts {
            None => None,
            Some(t) => match timestamp_ms(t) {
                Some(ms) => Some(ms),
                None => {
                    *errors += 1;
                    continue;
                }
            },
        };
        out.push(Sample { name, labels, value, ts_ms });
    }
    out
}

/// Every (key, raw value) of a label block, in order.
pub fn labels_of(block: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = block.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && is_label(b[i]) {
            i += 1;
        }
        if ks == i {
            return None;
        }
        let k = &block[ks..i];
        while i < b.len() && b[i] != b'"' {
            i += 1;
        }
        i += 1;
        let vs = i.min(b.len());
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        let v = &block[vs..i.min(b.len())];
        i += 1;
        Some((k, v))
    })
}

/// A label's raw (escaped) value from a block, if present.
pub fn label<'a>(block: &'a str, key: &str) -> Option<&'a str> {
    let b = block.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && is_label(b[i]) {
            i += 1;
        }
        let k = &block[ks..i];
        while i < b.len() && b[i] != b'"' {
            i += 1;
        }
        i += 1;
        let vs = i;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        let v = &block[vs.min(b.len())..i.min(b.len())];
        i += 1;
        if k == key {
            return Some(v);
        }
        if ks == i {
            break;
        }
    }
    None
}

/// The rendered series of one scrape, grouped by family in first-seen order.
#[derive(Default)]
struct Groups {
    list: Vec<(String, String)>,
    index: AHashMap<String, usize>,
    bytes: usize,
    openmetrics: bool,
}

/// A timestamp as the output format writes it: milliseconds (text), seconds (OpenMetrics).
fn push_ts(line: &mut String, ms: i64, openmetrics: bool) {
    use std::fmt::Write;
    line.push(' ');
    if openmetrics {
        let sign = if ms < 0 { "-" } else { "" };
        let a = ms.unsigned_abs();
        let _ = write!(line, "{sign}{}.{:03}", a / 1000, a % 1000);
    } else {
        let _ = write!(line, "{ms}");
    }
}

impl Groups {
    fn emit(&mut self, name: &str, labels: &[(&str, Cow<'_, str>)], value: &str, ts_ms: Option<i64>) {
        let g = match self.index.get(name) {
            Some(&g) => g,
            None => {
                self.list.push((name.to_string(), String::with_capacity(4096)));
                self.index.insert(name.to_string(), self.list.len() - 1);
                self.list.len() - 1
            }
        };
        let line = &mut self.list[g].1;
        let before = line.len();
        line.push_str(name);
        if !labels.is_empty() {
            line.push('{');
            for (n, (k, v)) in labels.iter().enumerate() {
                if n > 0 {
                    line.push(',');
                }
                line.push_str(k);
                line.push_str("=\"");
                line.push_str(v);
                line.push('"');
            }
            line.push('}');
        }
        line.push(' ');
        line.push_str(value);
        if let Some(ms) = ts_ms {
            push_ts(line, ms, self.openmetrics);
        }
        line.push('\n');
        self.bytes += line.len() - before;
    }
}

/// Set label ``k`` to ``v``, in place when present (the order stays the identity's).
fn set_label<'a>(labels: &mut Vec<(&'a str, Cow<'a, str>)>, k: &'a str, v: Cow<'a, str>) {
    if let Some(slot) = labels.iter_mut().find(|(x, _)| *x == k) {
        slot.1 = v;
    } else {
        labels.push((k, v));
    }
}

impl Table {
    pub fn new(rules: Vec<Rule>, derived: Vec<Derived>, types: Vec<(String, String)>, vm_sources: Vec<String>) -> Self {
        Table {
            rules: rules.into_iter().map(|r| (r.source.clone(), r)).collect(),
            derived,
            types: types.into_iter().collect(),
            vm_sources,
        }
    }

    fn identity(&self, pod: &Pod, container: Option<&str>) -> Vec<(String, String)> {
        let mut l = vec![("namespace".to_string(), escape(&pod.namespace)), ("pod".to_string(), escape(&pod.name))];
        self.container_identity(pod, container, &mut l);
        l
    }

    fn container_identity(&self, pod: &Pod, container: Option<&str>, l: &mut Vec<(String, String)>) {
        match container {
            None => {
                // the kubelet supplies blank strings for the labels a pod cgroup lacks
                // (kubernetes pkg/kubelet/server/server.go containerPrometheusLabelsFunc)
                l.push(("container".into(), String::new()));
                l.push(("image".into(), String::new()));
                l.push(("name".into(), String::new()));
                l.push(("id".into(), escape(&format!("/kubepods/pod{}", pod.uid))));
            }
            Some(c) => {
                let info = pod.containers.iter().find(|x| x.name == c);
                let cid = info.map(|x| x.bare_id.as_str()).unwrap_or("");
                let image = info.map(|x| x.image.as_str()).unwrap_or("");
                l.push(("container".into(), escape(c)));
                l.push(("image".into(), escape(image)));
                l.push(("name".into(), escape(cid)));
                let id = if cid.is_empty() {
                    format!("/kubepods/pod{}", pod.uid)
                } else {
                    format!("/kubepods/pod{}/{cid}", pod.uid)
                };
                l.push(("id".into(), escape(&id)));
            }
        }
    }

    /// Translate one scrape for `pod` and render it (text format, or OpenMetrics).
    /// `pass_vm`: the sandbox's VM-level `pod_*` series are also served as they are
    /// (with the pod's identity), for the provider's own dashboards.
    pub fn translate(&self, text: &str, pod: &Pod, openmetrics: bool, pass_vm: bool) -> Translated {
        let mut res = Translated::default();
        let mut types = Vec::new();
        let samples = parse(text, &mut types, &mut res.parse_errors);
        // one buffer per output family, in first-seen order: no String per series
        let mut groups = Groups { openmetrics, ..Groups::default() };
        self.apply(samples.iter(), pod, pass_vm, &mut groups, &mut res);
        self.render(groups, &types, openmetrics, res)
    }

    /// A virtual-kubelet node's scrape (every pod on the node): each series is kept only
    /// for a pod the inventory runs on that node (by its own `namespace` / `pod`
    /// labels); `rules` applies the rule table per pod (ACI's resource metrics), else
    /// the series are the kubelet's own cAdvisor and pass as they are.
    pub fn translate_node(&self, text: &str, pods: &[Pod], openmetrics: bool, rules: bool) -> Translated {
        let mut res = Translated::default();
        let mut types = Vec::new();
        let samples = parse(text, &mut types, &mut res.parse_errors);
        let mut groups = Groups { openmetrics, ..Groups::default() };
        let mut by_pod: Vec<Vec<&Sample<'_>>> = vec![Vec::new(); pods.len()];
        for s in &samples {
            let ns = label(s.labels, "namespace");
            let name = label(s.labels, "pod").or_else(|| label(s.labels, "pod_name"));
            let Some((ns, name)) = ns.zip(name) else {
                *res.dropped.entry("not_a_pod").or_insert(0) += 1;
                continue;
            };
            let Some(k) = pods.iter().position(|p| escape(&p.namespace) == ns && escape(&p.name) == name) else {
                *res.dropped.entry("unknown_pod").or_insert(0) += 1;
                continue;
            };
            if rules {
                by_pod[k].push(s);
                continue;
            }
            let labels: Vec<(&str, Cow<'_, str>)> = labels_of(s.labels).map(|(k, v)| (k, Cow::Borrowed(v))).collect();
            groups.emit(s.name, &labels, s.value, s.ts_ms);
            res.series += 1;
        }
        for (pod, samples) in pods.iter().zip(&by_pod) {
            if !samples.is_empty() {
                self.apply(samples.iter().copied(), pod, false, &mut groups, &mut res);
            }
        }
        self.render(groups, &types, openmetrics, res)
    }

    /// The rule table over one pod's samples, into `groups`.
    fn apply<'s, 't: 's>(
        &self,
        samples: impl Iterator<Item = &'s Sample<'t>>,
        pod: &Pod,
        pass_vm: bool,
        groups: &mut Groups,
        res: &mut Translated,
    ) {
        let main = if pod.main.is_empty() { None } else { Some(pod.main.as_str()) };
        let pod_ident = [("namespace", escape(&pod.namespace)), ("pod", escape(&pod.name))];
        let mut produced: Vec<(&str, &str)> = Vec::new();
        let mut vm: Vm<'_> = AHashMap::new();
        let mut idents: AHashMap<Option<&str>, Vec<(String, String)>> = AHashMap::new();
        for s in samples {
            let renamed;
            let name: &str = if let Some(rest) = s.name.strip_prefix("node_") {
                renamed = format!("pod_{rest}");
                &renamed
            } else {
                s.name
            };
            let Some(rule) = self.rules.get(name) else {
                if name.starts_with("pod_") {
                    let key =
                        if std::ptr::eq(name, s.name) { Cow::Borrowed(s.name) } else { Cow::Owned(name.to_string()) };
                    if pass_vm {
                        let mut labels: Vec<(&str, Cow<'_, str>)> =
                            pod_ident.iter().map(|(k, v)| (*k, Cow::Borrowed(v.as_str()))).collect();
                        for (k, v) in labels_of(s.labels) {
                            if k != "namespace" && k != "pod" {
                                labels.push((k, Cow::Borrowed(v)));
                            }
                        }
                        groups.emit(&key, &labels, s.value, s.ts_ms);
                        res.series += 1;
                    }
                    vm.entry(key).or_default().push((s.labels, s.value, s.ts_ms));
                } else {
                    *res.dropped.entry("unknown_metric").or_insert(0) += 1;
                }
                continue;
            };
            let got = |k: &str| label(s.labels, k);
            if rule.skip.iter().any(|(k, vals)| got(k).is_some_and(|v| vals.iter().any(|x| x == v))) {
                *res.dropped.entry("excluded_value").or_insert(0) += 1;
                continue;
            }
            let mut container: Option<&str> = None;
            if rule.level == Level::Container {
                let raw = if name.starts_with("pod_") {
                    main.unwrap_or("")
                } else {
                    got("container").filter(|v| !v.is_empty()).or_else(|| got("container_name")).unwrap_or("")
                };
                if raw.is_empty() || raw == "POD" {
                    container = None;
                } else if !pod.containers.is_empty() && !pod.containers.iter().any(|c| c.name == raw) {
                    *res.dropped.entry("unknown_container").or_insert(0) += 1;
                    continue;
                } else {
                    container = Some(raw);
                }
                if rule.cpu_limit_only && container.is_none_or(|c| !pod.cpu_limited.iter().any(|x| x == c)) {
                    *res.dropped.entry("cfs_without_limit").or_insert(0) += 1;
                    continue;
                }
            }
            let mut labels: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(12);
            if rule.level == Level::Namespace {
                labels.push(("namespace", Cow::Borrowed(pod_ident[0].1.as_str())));
            } else {
                let ident = idents.entry(container).or_insert_with(|| self.identity(pod, container));
                labels.extend(ident.iter().map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))));
            }
            for k in &rule.keep {
                if let Some(v) = got(k) {
                    set_label(&mut labels, k, Cow::Borrowed(v));
                }
            }
            for (src, dst) in &rule.rename {
                if let Some(v) = got(src) {
                    set_label(&mut labels, dst, Cow::Borrowed(v));
                }
            }
            if !rule.device_prefix.is_empty() {
                if let Some(slot) = labels.iter_mut().find(|(x, _)| *x == "device") {
                    if !slot.1.starts_with(&rule.device_prefix) {
                        slot.1 = Cow::Owned(format!("{}{}", rule.device_prefix, slot.1));
                    }
                }
            }
            for (k, v) in &rule.konst {
                set_label(&mut labels, k, Cow::Borrowed(v));
            }
            groups.emit(&rule.target, &labels, s.value, s.ts_ms);
            res.series += 1;
            if let Some(c) = container {
                produced.push((rule.target.as_str(), c));
            }
        }
        if let Some(main) = main {
            for d in &self.derived {
                if produced.iter().any(|(t, c)| *t == d.target && *c == main) {
                    continue;
                }
                let Some((v, ts_ms)) = compute(&d.formula, &vm) else { continue };
                let ident = self.identity(pod, Some(main));
                let mut labels: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(ident.len() + 4);
                labels.extend(ident.iter().map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))));
                for (k, x) in &d.konst {
                    set_label(&mut labels, k, Cow::Borrowed(x));
                }
                groups.emit(&d.target, &labels, &crate::json::py_float_repr(v), ts_ms);
                res.series += 1;
            }
        }
        for (name, group) in &vm {
            if !self.vm_sources.iter().any(|s| s == name) {
                *res.dropped.entry("unknown_metric").or_insert(0) += group.len();
            }
        }
    }

    fn render(&self, groups: Groups, types: &[(&str, &str)], openmetrics: bool, mut res: Translated) -> Translated {
        let mut out = String::with_capacity(groups.bytes + 64 * groups.list.len() + 8);
        for (name, lines) in &groups.list {
            let (family, kind) = self.family(name, openmetrics, types);
            out.push_str("# TYPE ");
            out.push_str(&family);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            out.push_str(lines);
        }
        if openmetrics {
            out.push_str("# EOF\n");
        }
        if out.is_empty() {
            out.push('\n');
        }
        res.text = out;
        res
    }

    /// A family's name and type: the table's, else the one the scrape declared.
    fn family<'s>(&'s self, name: &str, openmetrics: bool, scraped: &[(&'s str, &'s str)]) -> (String, &'s str) {
        let kind = self
            .types
            .get(name)
            .map(String::as_str)
            .or_else(|| scraped.iter().find(|(n, _)| *n == name).map(|(_, k)| *k))
            .unwrap_or("untyped");
        if openmetrics {
            if kind == "counter" {
                return match name.strip_suffix("_total") {
                    Some(f) => (f.to_string(), "counter"),
                    None => (name.to_string(), "unknown"),
                };
            }
            if kind == "untyped" {
                return (name.to_string(), "unknown");
            }
        }
        (name.to_string(), kind)
    }
}

fn num(v: &str) -> f64 {
    v.parse::<f64>().unwrap_or(f64::NAN)
}

/// Sandbox (`pod_*`) samples by name: the name borrowed from the scrape unless renamed.
type Vm<'a> = AHashMap<Cow<'a, str>, Vec<(&'a str, &'a str, Option<i64>)>>;

fn one(vm: &Vm<'_>, name: &str) -> Option<f64> {
    vm.get(name).and_then(|g| g.first()).map(|(_, v, _)| num(v))
}

/// The timestamp of the series a formula reads first (the sandbox stamps a refresh once).
fn stamp(vm: &Vm<'_>, name: &str) -> Option<i64> {
    vm.get(name).and_then(|g| g.first()).and_then(|(_, _, t)| *t)
}

fn compute(f: &Formula, vm: &Vm<'_>) -> Option<(f64, Option<i64>)> {
    match f {
        Formula::CpuBusy => {
            let got = vm.get("pod_cpu_seconds_total").filter(|g| !g.is_empty())?;
            let busy = got
                .iter()
                .filter(|(l, _, _)| !matches!(label(l, "mode"), Some("idle" | "iowait" | "steal")))
                .map(|(_, v, _)| num(v))
                .sum();
            Some((busy, stamp(vm, "pod_cpu_seconds_total")))
        }
        Formula::WorkingSet => {
            let total = one(vm, "pod_memory_MemTotal_bytes");
            let free = one(vm, "pod_memory_MemFree_bytes");
            let inactive = one(vm, "pod_memory_Inactive_file_bytes").unwrap_or(0.0);
            let ts = stamp(vm, "pod_memory_MemTotal_bytes");
            match (total, free) {
                (Some(t), Some(f)) => Some(((t - f - inactive).max(0.0), ts)),
                (Some(t), None) => one(vm, "pod_memory_MemAvailable_bytes").map(|a| ((t - a).max(0.0), ts)),
                _ => None,
            }
        }
        Formula::Swap => {
            let t = one(vm, "pod_memory_SwapTotal_bytes")?;
            let f = one(vm, "pod_memory_SwapFree_bytes")?;
            Some(((t - f).max(0.0), stamp(vm, "pod_memory_SwapTotal_bytes")))
        }
        Formula::Value(name) => one(vm, name).map(|v| (v, stamp(vm, name))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_counts_malformed_lines() {
        let mut types = Vec::new();
        let mut errors = 0;
        let s = parse(
            "ok 1\nbad{a=\"1\" 2\n{x} 3\nname notanumber\nname 1 2 3\n# TYPE ok gauge\nq{a=\"x\\\"y\"} 2 17\n",
            &mut types,
            &mut errors,
        );
        assert_eq!(s.iter().map(|x| x.name).collect::<Vec<_>>(), ["ok", "q"]);
        assert_eq!(errors, 4);
        assert_eq!(types, [("ok", "gauge")]);
        assert_eq!(label(s[1].labels, "a"), Some("x\\\"y"));
    }
}

#[cfg(test)]
mod translate_tests {
    use super::*;

    fn table() -> Table {
        let rules = vec![
            Rule {
                source: "container_cpu_usage_seconds_total".into(),
                target: "container_cpu_usage_seconds_total".into(),
                konst: vec![("cpu".into(), "total".into())],
                ..Rule::default()
            },
            Rule {
                source: "kubelet_volume_stats_used_bytes".into(),
                target: "kubelet_volume_stats_used_bytes".into(),
                level: Level::Namespace,
                keep: vec!["persistentvolumeclaim".into()],
                konst: vec![("metrics_path".into(), "/metrics".into())],
                ..Rule::default()
            },
        ];
        let derived = vec![Derived {
            target: "container_memory_working_set_bytes".into(),
            formula: Formula::WorkingSet,
            konst: vec![],
        }];
        Table::new(rules, derived, vec![], vec!["pod_memory_MemTotal_bytes".into(), "pod_memory_MemFree_bytes".into()])
    }

    fn pod() -> Pod {
        Pod {
            namespace: "n".into(),
            name: "p".into(),
            uid: "u".into(),
            main: "c".into(),
            containers: vec![Container { name: "c".into(), bare_id: "d".into(), image: "i".into() }],
            cpu_limited: vec![],
        }
    }

    #[test]
    fn sample_timestamps_survive_in_both_formats() {
        let text = "container_cpu_usage_seconds_total{container=\"c\"} 1.5 1714568400123\npod_memory_MemTotal_bytes 10 1714568400000\npod_memory_MemFree_bytes 4 1714568400000\n";
        let out = table().translate(text, &pod(), false, false).text;
        assert!(out.contains("} 1.5 1714568400123\n"), "{out}");
        assert!(out.contains("container_memory_working_set_bytes{") && out.contains("} 6.0 1714568400000\n"), "{out}");
        let om = table().translate(text, &pod(), true, false).text;
        assert!(om.contains("} 1.5 1714568400.123\n"), "{om}");
    }

    #[test]
    fn kubelet_volume_series_keep_the_claim_and_the_kubelet_metrics_path() {
        let text = "kubelet_volume_stats_used_bytes{namespace=\"spoof\",persistentvolumeclaim=\"data\",pod=\"x\"} 7\n";
        let out = table().translate(text, &pod(), false, false).text;
        assert!(out.contains("kubelet_volume_stats_used_bytes{namespace=\"n\",persistentvolumeclaim=\"data\",metrics_path=\"/metrics\"} 7\n"), "{out}");
    }

    #[test]
    fn vm_series_pass_through_only_when_asked() {
        let text = "node_load1{namespace=\"spoof\"} 0.5\npod_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 3 1000\n";
        let none = table().translate(text, &pod(), false, false);
        assert!(!none.text.contains("pod_load1"), "{}", none.text);
        let out = table().translate(text, &pod(), false, true).text;
        assert!(out.contains("pod_load1{namespace=\"n\",pod=\"p\"} 0.5\n"), "{out}");
        assert!(
            out.contains("pod_cpu_seconds_total{namespace=\"n\",pod=\"p\",cpu=\"0\",mode=\"user\"} 3 1000\n"),
            "{out}"
        );
    }

    #[test]
    fn a_node_scrape_keeps_only_the_inventorys_pods() {
        let text = "container_cpu_usage_seconds_total{container=\"c\",namespace=\"n\",pod=\"p\"} 2 5000\n\
                    container_cpu_usage_seconds_total{container=\"c\",namespace=\"n\",pod=\"other\"} 3\n\
                    node_cpu_usage_seconds_total 9\n";
        let pods = [pod()];
        let raw = table().translate_node(text, &pods, false, false);
        assert_eq!(raw.series, 1);
        assert!(
            raw.text.contains("container_cpu_usage_seconds_total{container=\"c\",namespace=\"n\",pod=\"p\"} 2 5000\n"),
            "{}",
            raw.text
        );
        assert_eq!(raw.dropped.get("unknown_pod"), Some(&1));
        assert_eq!(raw.dropped.get("not_a_pod"), Some(&1));
        // ACI resource metrics: the rule table adds cAdvisor's labels from the inventory
        let mapped = table().translate_node(text, &pods, false, true).text;
        assert!(mapped.contains("container_cpu_usage_seconds_total{namespace=\"n\",pod=\"p\",container=\"c\",image=\"i\",name=\"d\",id=\"/kubepods/podu/d\",cpu=\"total\"} 2 5000\n"), "{mapped}");
    }

    #[test]
    fn a_bad_timestamp_is_a_parse_error() {
        let mut types = Vec::new();
        let mut errors = 0;
        let s = parse("a 1 notatime\nb 2 1.5\n", &mut types, &mut errors);
        assert_eq!(errors, 1);
        assert_eq!(s[0].ts_ms, Some(1500));
    }
}
