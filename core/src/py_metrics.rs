//! Python bindings of the metrics translation: one call per probe, the GIL released
//! while the scrape is parsed, translated and rendered.

use crate::metrics::{Container, Derived, Formula, Level, Pod, Rule, Table, Translated};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;

fn field<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    d.get_item(key)?.ok_or_else(|| PyValueError::new_err(format!("missing {key}")))?.extract()
}

fn opt<'py, T: FromPyObject<'py> + Default>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match d.get_item(key)? {
        Some(v) => v.extract(),
        None => Ok(T::default()),
    }
}

/// The rule table (data from metricsbridge/translating.py), compiled once.
#[pyclass(module = "vnbridge_core", frozen)]
pub struct Translator {
    table: Table,
}

#[pymethods]
impl Translator {
    #[new]
    fn new(
        rules: Vec<Bound<'_, PyDict>>,
        derived: Vec<Bound<'_, PyDict>>,
        types: HashMap<String, String>,
        vm_sources: Vec<String>,
    ) -> PyResult<Self> {
        let mut rs = Vec::new();
        for r in &rules {
            let skip: HashMap<String, Vec<String>> = opt(r, "skip")?;
            let rename: HashMap<String, String> = opt(r, "rename")?;
            let konst: HashMap<String, String> = opt(r, "const")?;
            rs.push(Rule {
                source: field(r, "source")?,
                target: field(r, "target")?,
                level: match field::<String>(r, "level")?.as_str() {
                    "container" => Level::Container,
                    "pod" => Level::Pod,
                    "namespace" => Level::Namespace,
                    other => return Err(PyValueError::new_err(format!("unknown level {other:?}"))),
                },
                keep: opt(r, "keep")?,
                rename: rename.into_iter().collect(),
                konst: konst.into_iter().collect(),
                skip: skip.into_iter().collect(),
                cpu_limit_only: opt(r, "cpu_limit_only")?,
                device_prefix: opt(r, "device_prefix")?,
            });
        }
        let mut ds = Vec::new();
        for d in &derived {
            let formula: String = field(d, "formula")?;
            let formula = match formula.as_str() {
                "cpu_busy" => Formula::CpuBusy,
                "working_set" => Formula::WorkingSet,
                "swap" => Formula::Swap,
                other => match other.strip_prefix("value:") {
                    Some(name) => Formula::Value(name.to_string()),
                    None => return Err(PyValueError::new_err(format!("unknown formula {other:?}"))),
                },
            };
            let konst: HashMap<String, String> = opt(d, "const")?;
            ds.push(Derived { target: field(d, "target")?, formula, konst: konst.into_iter().collect() });
        }
        Ok(Translator { table: Table::new(rs, ds, types.into_iter().collect(), vm_sources) })
    }

    /// A virtual-kubelet node's scrape for `pods` (those the inventory runs there):
    /// `rules` applies the table per pod (resource metrics), else cAdvisor passes as it is.
    #[pyo3(signature = (text, pods, openmetrics=false, rules=false))]
    fn translate_node(
        &self,
        py: Python<'_>,
        text: &str,
        pods: Vec<Bound<'_, PyDict>>,
        openmetrics: bool,
        rules: bool,
    ) -> PyResult<Answer> {
        let pods: Vec<Pod> = pods.iter().map(pod_of).collect::<PyResult<_>>()?;
        let text = text.to_owned();
        unlocked(py, || self.table.translate_node(&text, &pods, openmetrics, rules))
    }

    /// `(text, series, parse_errors, dropped)` for one scrape of `pod`.
    #[pyo3(signature = (text, pod, openmetrics=false, pass_vm=false))]
    fn translate(
        &self,
        py: Python<'_>,
        text: &str,
        pod: &Bound<'_, PyDict>,
        openmetrics: bool,
        pass_vm: bool,
    ) -> PyResult<Answer> {
        let p = pod_of(pod)?;
        let text = text.to_owned();
        unlocked(py, || self.table.translate(&text, &p, openmetrics, pass_vm))
    }
}

type Answer = (String, usize, usize, HashMap<String, usize>);

/// A translation with the GIL released; a panic is an error value, never a crash.
fn unlocked(py: Python<'_>, f: impl FnOnce() -> Translated + Send) -> PyResult<Answer> {
    let res = py.allow_threads(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    let res = res.map_err(|_| PyValueError::new_err("internal error in the core while translating"))?;
    let dropped = res.dropped.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Ok((res.text, res.series, res.parse_errors, dropped))
}

fn pod_of(pod: &Bound<'_, PyDict>) -> PyResult<Pod> {
    let containers: Vec<(String, String, String)> = opt(pod, "containers")?;
    Ok(Pod {
        namespace: field(pod, "namespace")?,
        name: field(pod, "name")?,
        uid: opt(pod, "uid")?,
        main: opt(pod, "main")?,
        containers: containers.into_iter().map(|(name, bare_id, image)| Container { name, bare_id, image }).collect(),
        cpu_limited: opt(pod, "cpu_limited")?,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Translator>()
}
