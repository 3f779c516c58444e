//! Python bindings of the log transform: a batch in, columns of document bytes out.
//!
//! Why: the FFI boundary is crossed once per fetched batch, not once per record; the
//! outputs are columns (bodies, action lines, keys) a sink hands on as they are. Errors
//! cross as values: a record that panics the core becomes an `internal_error` dead
//! letter for that record, never an exception that stops the pipeline.

use crate::assemble::{GroupLimits, Lang};
use crate::decode::{self, Embedded, Ident, Line, Reason, Shape, Spec, TsFormat as RecordTs};
use crate::encode::{FbOutput, FbParser, FluentBit, Fragment, Profile, TsFormat};
use crate::json::{self, Numbers};
use crate::meta::MetaFormat;
use crate::time::{self, StrftimeCache};
use crate::transform::{Config, Out, Render, Transformer};
use ahash::AHashMap;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    /// The config keys `get` read while a Transformer was being built: a key nobody read is
    /// one the core does not know (for this profile), and is refused, not ignored.
    static READ: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn get<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str, default: T) -> PyResult<T> {
    READ.with(|r| r.borrow_mut().push(key.to_string()));
    match d.get_item(key)? {
        Some(v) => v.extract::<T>().map_err(|e| PyValueError::new_err(format!("core config {key}: {e}"))),
        None => Ok(default),
    }
}

/// A key the config must have (no default: a missing key is the caller's bug).
fn need<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    READ.with(|r| r.borrow_mut().push(key.to_string()));
    let v = d.get_item(key)?.ok_or_else(|| PyValueError::new_err(format!("core config: missing key {key}")))?;
    v.extract::<T>().map_err(|e| PyValueError::new_err(format!("core config {key}: {e}")))
}

/// The option keys the core reads for `profile` (the profile's own option table passes
/// exactly these; any other key is refused by `Transformer`).
#[pyfunction]
fn profile_keys(py: Python<'_>, profile: &str) -> PyResult<Vec<String>> {
    let d = PyDict::new(py);
    d.set_item("profile", profile)?;
    READ.with(|r| r.borrow_mut().clear());
    let built = profile_from(&d);
    let mut read: Vec<String> = READ.with(|r| std::mem::take(&mut *r.borrow_mut()));
    built?;
    read.dedup();
    Ok(read)
}

fn strftime_cache(fmt: String, key: &str) -> PyResult<StrftimeCache> {
    time::check_strftime(&fmt).map_err(|d| {
        PyValueError::new_err(format!(
            "{key}: unsupported strftime directive {d}; supported: {}",
            time::STRFTIME_DIRECTIVES
        ))
    })?;
    Ok(StrftimeCache::new(&fmt))
}

fn profile_from(d: &Bound<'_, PyDict>) -> PyResult<Profile> {
    let name: String = get(d, "profile", String::new())?;
    Ok(match name.as_str() {
        "fluent-bit" => {
            let parser = match get(d, "parser", "cri".to_string())?.as_str() {
                "cri" => FbParser::Cri,
                "docker" => FbParser::Docker,
                "cri-classic" => FbParser::CriClassic,
                "docker-classic" => FbParser::DockerClassic,
                other => return Err(PyValueError::new_err(format!("parser {other}"))),
            };
            let output = match get(d, "Output", "es".to_string())?.as_str() {
                "kafka" => FbOutput::Kafka,
                "plain" => FbOutput::Plain,
                _ => FbOutput::Es,
            };
            let timestamp_format = match get(d, "Timestamp_Format", "double".to_string())?.as_str() {
                "iso8601" => TsFormat::Iso8601,
                "iso8601_ns" => TsFormat::Iso8601Ns,
                _ => TsFormat::Double,
            };
            Profile::FluentBit(Box::new(FluentBit {
                parser,
                merge_log: get(d, "Merge_Log", false)?,
                merge_log_key: get(d, "Merge_Log_Key", String::new())?,
                merge_log_trim: get(d, "Merge_Log_Trim", true)?,
                keep_log: get(d, "Keep_Log", true)?,
                output,
                logstash_format: get(d, "Logstash_Format", false)?,
                logstash_prefix: get(d, "Logstash_Prefix", "logstash".to_string())?,
                logstash_prefix_key: {
                    let key: String = get(d, "Logstash_Prefix_Key", String::new())?;
                    if key.is_empty() {
                        crate::route::Template::default()
                    } else {
                        crate::route::Template::prefix_key(&key)
                            .map_err(|e| PyValueError::new_err(format!("Logstash_Prefix_Key: {e}")))?
                    }
                },
                logstash_prefix_separator: get(d, "Logstash_Prefix_Separator", "-".to_string())?,
                logstash_dateformat: strftime_cache(
                    get(d, "Logstash_DateFormat", "%Y.%m.%d".to_string())?,
                    "Logstash_DateFormat",
                )?,
                index: get(d, "Index", "fluent-bit".to_string())?,
                time_key: get(d, "Time_Key", "@timestamp".to_string())?,
                time_key_format: strftime_cache(
                    get(d, "Time_Key_Format", "%Y-%m-%dT%H:%M:%S".to_string())?,
                    "Time_Key_Format",
                )?,
                time_key_nanos: get(d, "Time_Key_Nanos", false)?,
                include_tag_key: get(d, "Include_Tag_Key", false)?,
                tag_key: get(d, "Tag_Key", "_flb-key".to_string())?,
                replace_dots: get(d, "Replace_Dots", false)?,
                generate_id: get(d, "Generate_ID", false)?,
                timestamp_key: get(d, "Timestamp_Key", "@timestamp".to_string())?,
                timestamp_format,
                tag_prefix: get(d, "Tag_Prefix", "kube.var.log.containers.".to_string())?,
                // (key, value) pairs: the profile parses Fluent Bit's `key value` lines
                records: get(d, "record_modifier.Record", Vec::new())?,
                adds: get(d, "modify.Add", Vec::new())?,
            }))
        }
        "filebeat" => {
            let include: Vec<String> = get(d, "include_lines", Vec::new())?;
            let exclude: Vec<String> = get(d, "exclude_lines", Vec::new())?;
            Profile::Filebeat {
                index: crate::encode::IndexPattern::new(
                    strftime_cache(get(d, "index", "filebeat".to_string())?, "index")?,
                    get(d, "index_from_fragment", false)?,
                ),
                lines: crate::encode::FilebeatLines {
                    filter: crate::encode::LineFilter::new(&include, &exclude).map_err(PyValueError::new_err)?,
                    drop: match get(d, "drop_event", String::new())? {
                        s if s.is_empty() => None,
                        s => Some(crate::cond::Cond::parse(&s).map_err(PyValueError::new_err)?),
                    },
                },
            }
        }
        "vector" => Profile::Vector {
            index: crate::encode::IndexPattern::new(
                strftime_cache(get(d, "index", "vector-%Y.%m.%d".to_string())?, "index")?,
                get(d, "index_from_fragment", false)?,
            ),
            merge: get(d, "auto_partial_merge", true)?,
        },
        other => return Err(PyValueError::new_err(format!("unknown profile {other:?}"))),
    })
}

struct PyRender<'py> {
    py: Python<'py>,
    func: &'py Bound<'py, PyAny>,
    kube_value: bool,
}

fn emb_dict<'py>(py: Python<'py>, e: &Embedded) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("pod_uid", &e.pod_uid)?;
    let pairs = |v: &Vec<(String, String)>| -> PyResult<Bound<'py, PyDict>> {
        let m = PyDict::new(py);
        for (k, x) in v {
            m.set_item(k, x)?;
        }
        Ok(m)
    };
    d.set_item("labels", pairs(&e.labels)?)?;
    d.set_item("annotations", pairs(&e.annotations)?)?;
    d.set_item("host", &e.host)?;
    d.set_item("pod_ip", &e.pod_ip)?;
    d.set_item("image", &e.image)?;
    d.set_item("image_id", &e.image_id)?;
    Ok(d)
}

impl PyRender<'_> {
    fn call(&mut self, line: &Line, emb: Option<&Embedded>) -> PyResult<Fragment> {
        let py = self.py;
        let e = match emb {
            Some(e) => emb_dict(py, e)?.into_any(),
            None => py.None().into_bound(py),
        };
        let r = self.func.call1((&line.namespace, &line.pod, &line.container, &line.container_id, e))?;
        // parts None: the pod's lines are excluded by configuration
        let (source, pod_uid, lang, parts): (u8, String, Option<String>, Option<Vec<Bound<'_, PyBytes>>>) =
            r.extract()?;
        let exclude = parts.is_none();
        let parts: Vec<Vec<u8>> = parts.unwrap_or_default().iter().map(|p| p.as_bytes().to_vec()).collect();
        let kube = if self.kube_value && !parts.is_empty() && !parts[0].is_empty() {
            json::parse(&parts[0], Numbers::Strict).ok()
        } else {
            None
        };
        Ok(Fragment { source, pod_uid, lang: lang.as_deref().and_then(Lang::parse), parts, kube, exclude })
    }
}

impl Render for PyRender<'_> {
    fn render(&mut self, line: &Line, emb: Option<&Embedded>) -> Result<Fragment, String> {
        self.call(line, emb).map_err(|e| e.to_string())
    }
}

/// `{"<op>":{"_index":"<index>","_id":"<id>"}}`, as Elasticsearch's bulk API reads it.
fn write_action(b: &mut Vec<u8>, op: &str, index: &str, id: Option<&str>) {
    b.extend_from_slice(b"{");
    json::write_str(b, op);
    b.extend_from_slice(b":{\"_index\":");
    json::write_str(b, index);
    if let Some(id) = id {
        b.extend_from_slice(b",\"_id\":");
        json::write_str(b, id);
    }
    b.extend_from_slice(b"}}");
}

/// The documents and dead letters of one push, as columns.
#[pyclass(module = "vnbridge_core", unsendable)]
pub struct Batch {
    out: Out,
    names: Vec<String>,
}

#[pymethods]
impl Batch {
    fn __len__(&self) -> usize {
        self.out.docs.len()
    }
    #[getter]
    fn replayed(&self) -> usize {
        self.out.replayed
    }
    #[getter]
    fn truncated(&self) -> usize {
        self.out.truncated
    }
    /// Records not delivered because their pod is excluded by configuration.
    #[getter]
    fn excluded(&self) -> usize {
        self.out.excluded
    }
    /// Bytes of the record values pushed.
    #[getter]
    fn bytes_in(&self) -> usize {
        self.out.bytes_in
    }
    /// Document bodies (JSON bytes), in output order, moved out of the batch (the batch
    /// may be kept for `tokens` without holding a second copy): a second call gives none.
    fn take_bodies<'py>(&mut self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.out
            .docs
            .iter_mut()
            .map(|d| {
                let b = PyBytes::new(py, &d.body);
                d.body = Vec::new();
                b
            })
            .collect()
    }
    /// Forget the document bodies (once `bulk` holds them and no sink reads them one by
    /// one): the batch may be kept for `tokens` without a second copy.
    fn release_bodies(&mut self) {
        for d in &mut self.out.docs {
            d.body = Vec::new();
        }
    }
    /// Kafka record keys: the pod uid (empty when unknown).
    fn keys<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.out.docs.iter().map(|d| PyBytes::new(py, d.frag.pod_uid.as_bytes())).collect()
    }
    fn indices(&self) -> Vec<String> {
        self.out.docs.iter().map(|d| d.index.clone()).collect()
    }
    /// The `_id` of each document: the profile's own (Generate_ID) or, with `default_ids`,
    /// `<source>-<first offset>` (deterministic, so replays never duplicate).
    fn ids(&self, default_ids: bool) -> Vec<Option<String>> {
        self.out
            .docs
            .iter()
            .map(|d| match (&d.id, default_ids) {
                (Some(id), _) => Some(id.clone()),
                (None, true) => d.toks.first().map(|(s, o)| format!("{}-{}", self.names[*s as usize], o)),
                (None, false) => None,
            })
            .collect()
    }
    /// Bulk action lines (`{"<op>":{"_index":..,"_id":..}}`) for each document.
    #[pyo3(signature = (op, default_ids=true))]
    fn actions<'py>(&self, py: Python<'py>, op: &str, default_ids: bool) -> Vec<Bound<'py, PyBytes>> {
        let ids = self.ids(default_ids);
        self.out
            .docs
            .iter()
            .zip(ids)
            .map(|(d, id)| {
                let mut b = Vec::with_capacity(64);
                write_action(&mut b, op, &d.index, id.as_deref());
                PyBytes::new(py, &b)
            })
            .collect()
    }
    /// The whole batch as one Elasticsearch `_bulk` body (`action\nbody\n` per document,
    /// the action as `actions` writes it), and where each document's pair ends in it,
    /// plus `base`: no Python object per document.
    #[pyo3(signature = (op, default_ids=true, base=0))]
    fn bulk<'py>(
        &self,
        py: Python<'py>,
        op: &str,
        default_ids: bool,
        base: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<usize>)> {
        let ids = self.ids(default_ids);
        let mut acts: Vec<u8> = Vec::with_capacity(self.out.docs.len() * 80);
        let mut act_ends: Vec<usize> = Vec::with_capacity(self.out.docs.len());
        for (d, id) in self.out.docs.iter().zip(&ids) {
            write_action(&mut acts, op, &d.index, id.as_deref());
            act_ends.push(acts.len());
        }
        let total = acts.len() + self.out.docs.iter().map(|d| d.body.len() + 2).sum::<usize>();
        let mut ends = Vec::with_capacity(self.out.docs.len());
        let body = PyBytes::new_with(py, total, |out| {
            let (mut at, mut a0) = (0usize, 0usize);
            for (d, &a1) in self.out.docs.iter().zip(&act_ends) {
                for part in [&acts[a0..a1], b"\n", &d.body, b"\n"] {
                    out[at..at + part.len()].copy_from_slice(part);
                    at += part.len();
                }
                a0 = a1;
                ends.push(base + at);
            }
            Ok(())
        })?;
        Ok((body, ends))
    }
    /// Inventory source per document: 0 live, 1 tombstone, 2 embedded, 3 none.
    fn sources(&self) -> Vec<u8> {
        self.out.docs.iter().map(|d| d.frag.source).collect()
    }
    /// Pod uid per document.
    fn pod_uids(&self) -> Vec<String> {
        self.out.docs.iter().map(|d| d.frag.pod_uid.clone()).collect()
    }
    /// (source, offset) of every record document `i` consumed.
    fn tokens(&self, i: usize) -> PyResult<Vec<(String, i64)>> {
        let d = self.out.docs.get(i).ok_or_else(|| PyValueError::new_err("document index out of range"))?;
        Ok(d.toks.iter().map(|(s, o)| (self.names[*s as usize].clone(), *o)).collect())
    }
    /// (source, offset) of every record each document consumed, for all documents.
    fn all_tokens(&self) -> Vec<Vec<(String, i64)>> {
        self.out
            .docs
            .iter()
            .map(|d| d.toks.iter().map(|(s, o)| (self.names[*s as usize].clone(), *o)).collect())
            .collect()
    }
    /// (source, offset, reason, detail) of each dead letter.
    fn dead(&self) -> Vec<(String, i64, &'static str, String)> {
        self.out
            .dead
            .iter()
            .map(|d| (self.names[d.tok.0 as usize].clone(), d.tok.1, d.reason.as_str(), d.detail.clone()))
            .collect()
    }
}

#[pyclass(module = "vnbridge_core", unsendable, name = "Transformer")]
pub struct PyTransformer {
    t: Transformer,
    render: PyObject,
    kube_value: bool,
    names: Vec<String>,
    index: AHashMap<String, u32>,
}

fn ident_of(t: Option<(String, String, String, String)>) -> Option<Ident> {
    t.map(|(namespace, pod, container, container_id)| Ident { namespace, pod, container, container_id })
}

fn headers_of(h: &Bound<'_, PyAny>) -> Vec<(String, Vec<u8>)> {
    if h.is_none() {
        return Vec::new();
    }
    let Ok(it) = h.try_iter() else { return Vec::new() };
    it.filter_map(|x| {
        let (k, v): (String, Bound<'_, PyAny>) = x.ok()?.extract().ok()?;
        Some((k, v.downcast::<PyBytes>().ok()?.as_bytes().to_vec()))
    })
    .collect()
}

impl PyTransformer {
    fn source(&mut self, name: &str) -> u32 {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }

    fn batch(&self, out: Out) -> Batch {
        Batch { out, names: self.names.clone() }
    }

    fn run<'py>(
        &mut self,
        py: Python<'py>,
        f: impl FnOnce(&mut Transformer, &mut dyn Render, &mut Out),
    ) -> PyResult<Batch> {
        let func = self.render.bind(py).clone();
        let mut r = PyRender { py, func: &func, kube_value: self.kube_value };
        let mut out = Out::default();
        f(&mut self.t, &mut r, &mut out);
        Ok(self.batch(out))
    }
}

fn push_one(
    t: &mut Transformer,
    value: &[u8],
    tok: (u32, i64),
    ctx: &mut dyn FnMut() -> Ident,
    now: f64,
    r: &mut dyn Render,
    out: &mut Out,
) {
    out.bytes_in += value.len();
    let res = catch_unwind(AssertUnwindSafe(|| t.push(value, tok, ctx, now, r, out)));
    if res.is_err() {
        out.dead.push(crate::transform::DeadOut {
            tok,
            reason: Reason::Internal,
            detail: "internal error in the core".into(),
        });
    }
}

/// How records are read: the decoder name and `source.record` (every key required, no
/// other: the settings model fills the defaults).
fn spec_from(shape: &str, record: Option<&Bound<'_, PyDict>>) -> PyResult<Spec> {
    let shape_v = Shape::parse(shape).ok_or_else(|| PyValueError::new_err(format!("unknown shape {shape:?}")))?;
    let mut spec = Spec::of(shape_v);
    let Some(r) = record else { return Ok(spec) };
    const KEYS: [&str; 5] = ["message_key", "metadata_key", "metadata_format", "timestamp_key", "timestamp_format"];
    for k in r.keys() {
        let k: String = k.extract()?;
        if !KEYS.contains(&k.as_str()) {
            return Err(PyValueError::new_err(format!("record: unknown key {k:?}; known: {}", KEYS.join(", "))));
        }
    }
    let text = |k: &str| -> PyResult<String> {
        r.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("record: missing key {k:?}")))?.extract()
    };
    let auto = |v: String| (v != "auto").then_some(v);
    spec.message_key = auto(text("message_key")?);
    spec.metadata_key = text("metadata_key")?;
    let mf = text("metadata_format")?;
    spec.metadata_format =
        MetaFormat::parse(&mf).ok_or_else(|| PyValueError::new_err(format!("record: metadata_format {mf:?}")))?;
    spec.timestamp_key = auto(text("timestamp_key")?);
    let tf = text("timestamp_format")?;
    spec.timestamp_format =
        RecordTs::parse(&tf).ok_or_else(|| PyValueError::new_err(format!("record: timestamp_format {tf:?}")))?;
    Ok(spec)
}

/// A transformer from its config (every key read through `get`, so `new` can refuse the rest).
fn build_transformer(
    config: &Bound<'_, PyDict>,
    assembly: &Bound<'_, PyDict>,
    render: PyObject,
) -> PyResult<PyTransformer> {
    let profile = profile_from(config)?;
    // the kubernetes map as a value: Generate_ID hashes it, Logstash_Prefix_Key reads it
    let kube_value = matches!(&profile, Profile::FluentBit(fb)
        if fb.generate_id || fb.logstash_prefix_key.reads("kubernetes"));
    let shape_name: String = need(assembly, "shape")?;
    let record: Option<Bound<'_, PyDict>> = need(assembly, "record")?;
    let spec = spec_from(&shape_name, record.as_ref())?;
    let ml: std::collections::HashMap<String, String> = need(assembly, "multiline_namespaces")?;
    let mut multiline = AHashMap::new();
    for (ns, lang) in ml {
        let l = Lang::parse(&lang).ok_or_else(|| PyValueError::new_err(format!("multiline language {lang:?}")))?;
        multiline.insert(ns, l);
    }
    let cfg = Config {
        spec,
        max_line_bytes: need(assembly, "max_line_bytes")?,
        idle_s: need(assembly, "partial_idle_s")?,
        multiline_namespaces: multiline,
        multiline: GroupLimits {
            max_lines: need(assembly, "multiline_max_lines")?,
            max_bytes: need(assembly, "multiline_max_bytes")?,
        },
    };
    if cfg.multiline.max_lines == 0 || cfg.multiline.max_bytes == 0 {
        return Err(PyValueError::new_err("multiline_max_lines and multiline_max_bytes must be at least 1"));
    }
    Ok(PyTransformer {
        t: Transformer::new(profile, cfg),
        render,
        kube_value,
        names: Vec::new(),
        index: AHashMap::new(),
    })
}

#[pymethods]
impl PyTransformer {
    /// `profile`: the profile's options the core reads (`profile_keys`, the collector's key
    /// names, already validated); `assembly`: `shape`, `record`, `max_line_bytes`,
    /// `partial_idle_s`, `multiline_namespaces`, `multiline_max_lines`,
    /// `multiline_max_bytes`, every one. Any other key, in either, is refused.
    /// `render(namespace, pod, container, container_id, embedded)` returns
    /// `(source, pod_uid, lang, parts)` for a pod: called once per pod change.
    #[new]
    fn new(profile: &Bound<'_, PyDict>, assembly: &Bound<'_, PyDict>, render: PyObject) -> PyResult<Self> {
        READ.with(|r| r.borrow_mut().clear());
        let built = build_transformer(profile, assembly, render);
        let read: Vec<String> = READ.with(|r| std::mem::take(&mut *r.borrow_mut()));
        let built = built?;
        let mut unknown: Vec<String> = Vec::new();
        for k in profile.keys().iter().chain(assembly.keys().iter()) {
            let k: String = k.extract()?;
            if !read.contains(&k) {
                unknown.push(k);
            }
        }
        if !unknown.is_empty() {
            unknown.sort();
            return Err(PyValueError::new_err(format!(
                "core config: unknown key(s) {} for profile {:?}",
                unknown.join(", "),
                built.t.profile.name()
            )));
        }
        Ok(built)
    }
    #[getter]
    fn joins_partials(&self) -> bool {
        self.t.profile.joins_partials()
    }

    /// A fetched Kafka batch: objects with `.value`, `.offset`, `.key`, `.headers`.
    fn push_records(&mut self, py: Python<'_>, source: &str, records: &Bound<'_, PyList>, now: f64) -> PyResult<Batch> {
        let s = self.source(source);
        let func = self.render.bind(py).clone();
        let mut r = PyRender { py, func: &func, kube_value: self.kube_value };
        let mut out = Out::default();
        // every record read first: a malformed one fails the call before any state moves
        let mut read = Vec::with_capacity(records.len());
        for rec in records.iter() {
            let offset: i64 = rec.getattr("offset")?.extract()?;
            let value_obj = rec.getattr("value")?;
            let value = if value_obj.is_none() { None } else { Some(value_obj.downcast_into::<PyBytes>()?) };
            read.push((rec, offset, value));
        }
        for (rec, offset, value) in &read {
            let (rec, offset) = (rec, *offset);
            let value: &[u8] = value.as_ref().map(|v| v.as_bytes()).unwrap_or(b"");
            let mut ctx = || {
                let key: Option<Vec<u8>> =
                    rec.getattr("key").ok().and_then(|k| Some(k.downcast::<PyBytes>().ok()?.as_bytes().to_vec()));
                let headers = rec.getattr("headers").map(|h| headers_of(&h)).unwrap_or_default();
                decode::identity(None, &headers, key.as_deref())
            };
            push_one(&mut self.t, value, (s, offset), &mut ctx, now, &mut r, &mut out);
        }
        Ok(self.batch(out))
    }

    /// Values with a shared context (a kubelet-named file, or a key and headers);
    /// offsets are `first_offset + i`.
    #[pyo3(signature = (source, values, first_offset, now=0.0, file=None, key=None, headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn push_values(
        &mut self,
        py: Python<'_>,
        source: &str,
        values: &Bound<'_, PyAny>,
        first_offset: i64,
        now: f64,
        file: Option<(String, String, String, String)>,
        key: Option<&[u8]>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Batch> {
        let s = self.source(source);
        let file = ident_of(file);
        let headers = headers.map(headers_of).unwrap_or_default();
        let id = decode::identity(file.as_ref(), &headers, key);
        // borrowed, not copied: a `Vec<u8>` extraction would walk each bytes object as
        // a sequence of ints
        let values: Vec<Bound<'_, PyBytes>> =
            values.try_iter()?.map(|v| Ok(v?.downcast_into::<PyBytes>()?)).collect::<PyResult<_>>()?;
        self.run(py, |t, r, out| {
            for (i, v) in values.iter().enumerate() {
                let mut ctx = || id.clone();
                push_one(t, v.as_bytes(), (s, first_offset + i as i64), &mut ctx, now, r, out);
            }
        })
    }

    fn flush_idle(&mut self, py: Python<'_>, now: f64) -> PyResult<Batch> {
        self.run(py, |t, r, out| {
            t.flush_guarded(false, now, r, out);
        })
    }

    fn flush_all(&mut self, py: Python<'_>) -> PyResult<Batch> {
        self.run(py, |t, r, out| {
            t.flush_guarded(true, 0.0, r, out);
        })
    }

    /// The inventory changed this pod (or its node / namespace): render it again on next use.
    fn invalidate(&mut self, namespace: &str, pod: &str) {
        self.t.invalidate(namespace, pod);
    }

    fn invalidate_all(&mut self) {
        self.t.invalidate_all();
    }

    /// After a restart: offsets of `source` below `mark`, except `held`, were delivered.
    fn set_replay(&mut self, source: &str, mark: i64, held: Vec<i64>) {
        let s = self.source(source);
        self.t.set_replay(s, mark, &held);
    }

    fn clear_replay(&mut self) {
        self.t.clear_replay();
    }

    /// Offsets of `source` a pending partial line or stack trace still holds (sorted).
    fn held(&mut self, source: &str) -> Vec<i64> {
        let s = self.source(source);
        self.t.held(s)
    }

    /// Counters since creation: records_in, documents_out, renders, cached_pods,
    /// dead_letter.<reason>, inventory.<source>.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("records_in", self.t.records_in)?;
        d.set_item("documents_out", self.t.documents_out)?;
        d.set_item("renders", self.t.renders)?;
        d.set_item("cached_pods", self.t.cached_pods())?;
        for (k, v) in &self.t.dead {
            d.set_item(format!("dead_letter.{k}"), v)?;
        }
        for (i, name) in ["live", "tombstone", "embedded", "none"].iter().enumerate() {
            d.set_item(format!("inventory.{name}"), self.t.sources[i])?;
        }
        Ok(d)
    }
}

/// Decode one record (for tests and `logbridge explain`): a dict of the line, or
/// `(reason, detail)`.
#[pyfunction]
#[pyo3(signature = (value, shape="auto", file=None, key=None, headers=None, record=None))]
fn decode_one<'py>(
    py: Python<'py>,
    value: &[u8],
    shape: &str,
    file: Option<(String, String, String, String)>,
    key: Option<Vec<u8>>,
    headers: Option<Vec<(String, Vec<u8>)>>,
    record: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec_from(shape, record.as_ref())?;
    let file = ident_of(file);
    let headers = headers.unwrap_or_default();
    let mut ctx = || decode::identity(file.as_ref(), &headers, key.as_deref());
    let mut memo = decode::KubeMemo::default();
    let res = catch_unwind(AssertUnwindSafe(|| decode::decode_memo(value, &spec, &mut ctx, &mut memo)))
        .map_err(|_| PyRuntimeError::new_err("internal error in the core"))?;
    match res {
        Err(bad) => Ok(PyTuple::new(
            py,
            [bad.reason.as_str().into_pyobject(py)?.into_any(), bad.detail.into_pyobject(py)?.into_any()],
        )?
        .into_any()),
        Ok(l) => {
            let d = PyDict::new(py);
            d.set_item("ts_ns", l.ts_ns)?;
            d.set_item("time_text", &l.time_text)?;
            d.set_item("stream", l.stream())?;
            d.set_item("text", &l.text)?;
            d.set_item("partial", l.partial)?;
            d.set_item("namespace", &l.namespace)?;
            d.set_item("pod", &l.pod)?;
            d.set_item("container", &l.container)?;
            d.set_item("container_id", &l.container_id)?;
            d.set_item("shape", l.shape)?;
            d.set_item("via_identity", l.via.identity)?;
            d.set_item("via_message", l.via.message)?;
            d.set_item("via_time", l.via.time)?;
            match &l.embedded {
                Some(e) => d.set_item("embedded", emb_dict(py, e)?)?,
                None => d.set_item("embedded", py.None())?,
            }
            Ok(d.into_any())
        }
    }
}

#[pyfunction]
fn parse_rfc3339(text: &str) -> PyResult<i64> {
    time::parse_rfc3339(text).map_err(|e| PyValueError::new_err(format!("{}: {:.40}", e.0, text)))
}

#[pyfunction]
#[pyo3(signature = (ts_ns, digits=9))]
fn format_rfc3339(ts_ns: i64, digits: usize) -> String {
    time::format_rfc3339(ts_ns, digits)
}

#[pyfunction]
fn strftime(fmt: &str, secs: i64) -> PyResult<String> {
    time::check_strftime(fmt).map_err(|d| {
        PyValueError::new_err(format!("unsupported strftime directive {d}; supported: {}", time::STRFTIME_DIRECTIVES))
    })?;
    Ok(time::strftime(fmt, secs))
}

/// Fluent Bit's Merge_Log reading of a body: the object as JSON bytes, or None.
#[pyfunction]
fn merge_body<'py>(py: Python<'py>, text: &str) -> Option<Bound<'py, PyBytes>> {
    crate::encode::fb_json_object(text).map(|o| PyBytes::new(py, &json::to_vec(&json::J::Obj(o))))
}

/// Replace_Dots over a JSON document: '.' → '_' in every key at every depth.
#[pyfunction]
fn replace_dots<'py>(py: Python<'py>, doc: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let v = json::parse(doc, Numbers::Strict).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &json::to_vec(&crate::encode::dedot(v))))
}

/// Why a Logstash_Prefix_Key record accessor is refused, or None.
#[pyfunction]
fn record_accessor_error(pattern: &str) -> Option<String> {
    crate::route::Template::prefix_key(pattern).err()
}

/// Why Elasticsearch would refuse this index name, or None.
#[pyfunction]
fn index_name_error(name: &str) -> Option<String> {
    crate::route::invalid_index(name)
}

/// Why a regexp is refused by the core's engine (the syntax Filebeat's Go RE2 shares), or None.
#[pyfunction]
fn regex_error(pattern: &str) -> Option<String> {
    regex::Regex::new(pattern).err().map(|e| e.to_string())
}

/// Every dead-letter reason the core can produce.
#[pyfunction]
fn reasons() -> Vec<&'static str> {
    Reason::ALL.iter().map(|r| r.as_str()).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTransformer>()?;
    m.add_class::<Batch>()?;
    m.add_function(wrap_pyfunction!(profile_keys, m)?)?;
    m.add_function(wrap_pyfunction!(decode_one, m)?)?;
    m.add_function(wrap_pyfunction!(parse_rfc3339, m)?)?;
    m.add_function(wrap_pyfunction!(format_rfc3339, m)?)?;
    m.add_function(wrap_pyfunction!(strftime, m)?)?;
    m.add_function(wrap_pyfunction!(merge_body, m)?)?;
    m.add_function(wrap_pyfunction!(reasons, m)?)?;
    m.add_function(wrap_pyfunction!(replace_dots, m)?)?;
    m.add_function(wrap_pyfunction!(regex_error, m)?)?;
    m.add_function(wrap_pyfunction!(record_accessor_error, m)?)?;
    m.add_function(wrap_pyfunction!(index_name_error, m)?)?;
    Ok(())
}
