//! Python bindings of the Kafka record-batch builder: a cycle's documents in, one
//! batch per target partition out, each built into its wire bytes when aiokafka's
//! sender sets the producer state (see `logbridge/producing.py`).

use crate::kafka::{self, Record};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// A v2 record batch for one partition, filled; `build` writes the header and CRC.
#[pyclass(module = "vnbridge_core", frozen)]
pub struct KafkaBatch {
    batch: kafka::Batch,
}

#[pymethods]
impl KafkaBatch {
    fn record_count(&self) -> i32 {
        self.batch.count()
    }

    fn size(&self) -> usize {
        self.batch.size()
    }

    #[pyo3(signature = (producer_id, producer_epoch, base_sequence, transactional))]
    fn build<'py>(
        &self,
        py: Python<'py>,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        // written straight into the bytes object: one copy of the records
        let size = self.batch.size();
        PyBytes::new_with(py, size, |out| {
            self.batch.write_into(out, producer_id, producer_epoch, base_sequence, transactional);
            Ok(())
        })
    }
}

type Header = (String, Vec<u8>);
/// (partition index, batch) in partition order, and the records too large alone.
type Batches = (Vec<(usize, KafkaBatch)>, Vec<usize>);

/// Records (empty key = no key) partitioned as Kafka's default partitioner does over
/// `partitions`, cut into batches of at most `limit` bytes. Returns the batches as
/// (partition index, batch), and the positions of records too large on their own.
#[pyfunction]
#[pyo3(signature = (keys, values, partitions, limit, timestamp_ms, headers=None))]
fn kafka_batches(
    keys: &Bound<'_, PyAny>,
    values: &Bound<'_, PyAny>,
    partitions: usize,
    limit: usize,
    timestamp_ms: i64,
    headers: Option<&Bound<'_, PyList>>,
) -> PyResult<Batches> {
    let keys: Vec<Bound<'_, PyBytes>> =
        keys.try_iter()?.map(|k| Ok(k?.downcast_into::<PyBytes>()?)).collect::<PyResult<_>>()?;
    let values: Vec<Bound<'_, PyBytes>> =
        values.try_iter()?.map(|v| Ok(v?.downcast_into::<PyBytes>()?)).collect::<PyResult<_>>()?;
    if keys.len() != values.len() {
        return Err(pyo3::exceptions::PyValueError::new_err("keys and values differ in length"));
    }
    if partitions == 0 && !keys.is_empty() {
        // no partition to put them in: refused, never silently dropped
        return Err(pyo3::exceptions::PyValueError::new_err("the topic has no partitions (metadata not loaded?)"));
    }
    if limit == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err("limit must be at least 1 byte"));
    }
    let owned: Vec<Vec<Header>> = match headers {
        Some(h) => h.extract()?,
        None => Vec::new(),
    };
    let refs: Vec<Vec<(&[u8], &[u8])>> =
        owned.iter().map(|hs| hs.iter().map(|(k, v)| (k.as_bytes(), v.as_slice())).collect()).collect();
    let records: Vec<Record<'_>> = keys
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (k, v))| Record {
            key: Some(k.as_bytes()).filter(|b| !b.is_empty()),
            value: v.as_bytes(),
            headers: refs.get(i).map(Vec::as_slice).unwrap_or(&[]),
        })
        .collect();
    let cut = kafka::cut(&records, partitions, limit, timestamp_ms);
    Ok((cut.batches.into_iter().map(|(p, batch)| (p, KafkaBatch { batch })).collect(), cut.too_large))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KafkaBatch>()?;
    m.add_function(wrap_pyfunction!(kafka_batches, m)?)?;
    Ok(())
}
