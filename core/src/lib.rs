//! vnbridge's compiled core: every log line and every sample is touched here.
//!
//! Why: per-record Python was the cost ceiling (docs/performance.md). Python keeps
//! settings, the Kubernetes watch, the inventory and fragment rendering, I/O and
//! orchestration; this crate is the single implementation of decoding, reassembly,
//! multiline grouping, Merge_Log / Replace_Dots, time formats, Generate_ID, document
//! bytes and the exposition parse / translate / render. The Python bindings live in
//! `py.rs` and `py_metrics.rs`; everything else is plain Rust with its own tests.

pub mod assemble;
pub mod cond;
pub mod decode;
pub mod encode;
pub mod genid;
pub mod json;
pub mod kafka;
pub mod meta;
pub mod metrics;
pub mod partition;
pub mod route;
pub mod tagged;
pub mod time;
pub mod transform;

#[cfg(test)]
mod differential;

/// Records are many small allocations (strings of a parsed record, document buffers):
/// mimalloc's thread-local free lists serve them faster than the system allocator.
#[cfg(feature = "python")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "python")]
mod py;
#[cfg(feature = "python")]
mod py_kafka;
#[cfg(feature = "python")]
mod py_metrics;

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule]
fn vnbridge_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)?;
    py_metrics::register(m)?;
    py_kafka::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
