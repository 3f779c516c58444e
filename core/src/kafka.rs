//! Kafka record batches (message format v2) built from a cycle's documents.
//!
//! Why: appending each document to aiokafka's batch builder was a Python call per
//! document, and its CRC-32C a table walk per byte; here a cycle's documents are cut
//! into one batch per target partition (at the topic's `max.message.bytes`, counted
//! exactly), and the batch header with producer id, epoch, base sequence and CRC-32C
//! is written when the producer hands the batch to the broker. The layout is the one
//! of Kafka's `DefaultRecordBatch` (and aiokafka's `DefaultRecordBatchBuilder`).

use crate::partition;

/// BaseOffset .. RecordCount: the fixed header of a v2 record batch.
pub const HEADER_LEN: usize = 61;
const ATTRIBUTES_OFFSET: usize = 21; // CRC covers attributes .. end
const CRC_OFFSET: usize = 17;
const TRANSACTIONAL: i16 = 0x10;
const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// One record's key, value and headers, as borrowed from the caller.
pub struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: &'a [(&'a [u8], &'a [u8])],
}

/// A record batch being filled: its records' bytes, their count and timestamp.
#[derive(Debug, Clone)]
pub struct Batch {
    records: Vec<u8>,
    count: i32,
    timestamp_ms: i64,
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint_len(v: i64) -> usize {
    let mut z = zigzag(v);
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = zigzag(v);
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn bytes_len(b: Option<&[u8]>) -> usize {
    match b {
        Some(b) => varint_len(b.len() as i64) + b.len(),
        None => 1,
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
        None => put_varint(out, -1),
    }
}

/// The length of a record's body (attributes .. headers), at offset delta `delta`.
fn body_len(r: &Record<'_>, delta: i32) -> usize {
    let mut n = 1 + 1 + varint_len(delta as i64); // attributes, timestamp delta 0
    n += bytes_len(r.key) + bytes_len(Some(r.value));
    n += varint_len(r.headers.len() as i64);
    for (k, v) in r.headers {
        n += bytes_len(Some(k)) + bytes_len(Some(v));
    }
    n
}

/// A record's size in a batch (its length prefix included), at offset delta `delta`.
pub fn record_size(r: &Record<'_>, delta: i32) -> usize {
    let body = body_len(r, delta);
    varint_len(body as i64) + body
}

impl Batch {
    pub fn new(timestamp_ms: i64) -> Self {
        Batch { records: Vec::new(), count: 0, timestamp_ms }
    }

    pub fn count(&self) -> i32 {
        self.count
    }

    /// The batch's size on the wire (header included).
    pub fn size(&self) -> usize {
        HEADER_LEN + self.records.len()
    }

    pub fn push(&mut self, r: &Record<'_>) {
        let body = body_len(r, self.count);
        let out = &mut self.records;
        put_varint(out, body as i64);
        out.push(0); // attributes
        put_varint(out, 0); // timestamp delta: one timestamp per batch
        put_varint(out, self.count as i64);
        put_bytes(out, r.key);
        put_bytes(out, Some(r.value));
        put_varint(out, r.headers.len() as i64);
        for (k, v) in r.headers {
            put_bytes(out, Some(k));
            put_bytes(out, Some(v));
        }
        self.count += 1;
    }

    /// The batch's bytes with the producer's state, as sent in a produce request.
    pub fn build(&self, producer_id: i64, producer_epoch: i16, base_sequence: i32, transactional: bool) -> Vec<u8> {
        let mut out = vec![0u8; self.size()];
        self.write_into(&mut out, producer_id, producer_epoch, base_sequence, transactional);
        out
    }

    /// Write the batch into `out` (exactly `size()` bytes): header, records, CRC-32C.
    pub fn write_into(
        &self,
        out: &mut [u8],
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) {
        assert_eq!(out.len(), self.size(), "a batch is written into exactly its size");
        let attributes: i16 = if transactional { TRANSACTIONAL } else { 0 };
        let mut at = 0;
        let mut put = |b: &[u8]| {
            out[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        };
        put(&0i64.to_be_bytes()); // base offset, set by the broker
        put(&((self.size() - 12) as i32).to_be_bytes());
        put(&NO_PARTITION_LEADER_EPOCH.to_be_bytes());
        put(&[2]); // magic
        put(&0u32.to_be_bytes()); // CRC, below
        put(&attributes.to_be_bytes());
        put(&(self.count - 1).max(0).to_be_bytes()); // last offset delta
        put(&self.timestamp_ms.to_be_bytes());
        put(&self.timestamp_ms.to_be_bytes());
        put(&producer_id.to_be_bytes());
        put(&producer_epoch.to_be_bytes());
        put(&base_sequence.to_be_bytes());
        put(&self.count.to_be_bytes());
        put(&self.records);
        let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

/// A cycle's records cut into batches: (partition index, batch) in partition order,
/// and the positions of records too large for a batch on their own.
pub struct Cut {
    pub batches: Vec<(usize, Batch)>,
    pub too_large: Vec<usize>,
}

/// Records grouped by Kafka's default partitioner over `partitions` partitions
/// (murmur2 of the key; keyless records by position), each group cut into batches of
/// at most `limit` bytes, in order.
pub fn cut(records: &[Record<'_>], partitions: usize, limit: usize, timestamp_ms: i64) -> Cut {
    let groups = partition::groups(records.iter().map(|r| r.key), partitions);
    let mut out = Cut { batches: Vec::new(), too_large: Vec::new() };
    for (p, idxs) in groups.into_iter().enumerate() {
        // first the cut points and sizes, so each batch is allocated once at its size
        let mut plan: Vec<(usize, usize)> = Vec::new(); // (end in `fits`, records bytes)
        let mut fits: Vec<usize> = Vec::with_capacity(idxs.len());
        let (mut bytes, mut count) = (0usize, 0i32);
        for i in idxs {
            let r = &records[i];
            if HEADER_LEN + record_size(r, 0) > limit {
                out.too_large.push(i);
                continue;
            }
            let mut n = record_size(r, count);
            if count > 0 && HEADER_LEN + bytes + n > limit {
                plan.push((fits.len(), bytes));
                (bytes, count) = (0, 0);
                n = record_size(r, 0);
            }
            fits.push(i);
            bytes += n;
            count += 1;
        }
        if count > 0 {
            plan.push((fits.len(), bytes));
        }
        let mut start = 0;
        for (end, bytes) in plan {
            let mut batch = Batch { records: Vec::with_capacity(bytes), count: 0, timestamp_ms };
            for &i in &fits[start..end] {
                batch.push(&records[i]);
            }
            debug_assert_eq!(batch.records.len(), bytes);
            out.batches.push((p, batch));
            start = end;
        }
    }
    out.too_large.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(key: Option<&'a [u8]>, value: &'a [u8]) -> Record<'a> {
        Record { key, value, headers: &[] }
    }

    #[test]
    fn varints_are_zigzag() {
        let mut out = Vec::new();
        for v in [0i64, -1, 1, 63, -64, 64, 300] {
            put_varint(&mut out, v);
        }
        assert_eq!(out, vec![0, 1, 2, 126, 127, 128, 1, 216, 4]);
        assert_eq!(varint_len(300), 2);
    }

    #[test]
    fn a_batch_has_kafkas_layout_and_crc() {
        // a record with key "k", value "v": checked field by field against the
        // v2 layout (KIP-98), CRC-32C of attributes..end
        let mut b = Batch::new(1_700_000_000_000);
        b.push(&rec(Some(b"k"), b"v"));
        let h: [(&[u8], &[u8]); 1] = [(b"h", b"x")];
        b.push(&Record { key: None, value: b"w", headers: &h });
        let bytes = b.build(7, 1, 5, true);
        assert_eq!(bytes.len(), b.size());
        assert_eq!(i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize, bytes.len() - 12);
        assert_eq!(bytes[16], 2);
        assert_eq!(i16::from_be_bytes(bytes[21..23].try_into().unwrap()), 0x10);
        assert_eq!(i32::from_be_bytes(bytes[23..27].try_into().unwrap()), 1); // last offset delta
        assert_eq!(i64::from_be_bytes(bytes[43..51].try_into().unwrap()), 7);
        assert_eq!(i16::from_be_bytes(bytes[51..53].try_into().unwrap()), 1);
        assert_eq!(i32::from_be_bytes(bytes[53..57].try_into().unwrap()), 5);
        assert_eq!(i32::from_be_bytes(bytes[57..61].try_into().unwrap()), 2);
        // record 1: len 8, attrs 0, ts 0, offset 0, key len 1 "k", value len 1 "v", 0 headers
        assert_eq!(&bytes[61..70], &[16, 0, 0, 0, 2, b'k', 2, b'v', 0][..]);
        // record 2: null key (-1 -> 1), one header
        assert_eq!(&bytes[70..], &[22, 0, 0, 2, 1, 2, b'w', 2, 2, b'h', 2, b'x'][..]);
        let crc = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(&bytes[21..]));
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // RFC 3720 B.4: 32 bytes of zeros
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn cut_respects_the_limit_exactly_and_sets_aside_records_too_large() {
        let big = vec![b'x'; 200];
        let small = vec![b'y'; 40];
        let recs: Vec<Record<'_>> = (0..10).map(|i| rec(Some(b"pod"), if i == 3 { &big } else { &small })).collect();
        let limit = HEADER_LEN + 3 * record_size(&rec(Some(b"pod"), &small), 9);
        let cut = cut(&recs, 1, limit, 0);
        assert_eq!(cut.too_large, vec![3]);
        assert_eq!(cut.batches.iter().map(|(_, b)| b.count()).sum::<i32>(), 9);
        for (_, b) in &cut.batches {
            assert!(b.size() <= limit, "{} > {limit}", b.size());
            assert_eq!(b.build(0, 0, 0, false).len(), b.size());
        }
        assert_eq!(cut.batches.len(), 3);
    }

    #[test]
    fn cut_places_by_key_in_order() {
        let recs = [rec(Some(b"a"), b"1"), rec(Some(b"b"), b"2"), rec(Some(b"a"), b"3")];
        let cut = cut(&recs, 4, 1 << 20, 0);
        let pa = partition::partition_of(Some(b"a"), 0, 4);
        let (_, ba) = cut.batches.iter().find(|(p, _)| *p == pa).unwrap();
        assert_eq!(ba.count(), if partition::partition_of(Some(b"b"), 0, 4) == pa { 3 } else { 2 });
        let w: Vec<usize> = cut.batches.iter().map(|(p, _)| *p).collect();
        let mut sorted = w.clone();
        sorted.sort_unstable();
        assert_eq!(w, sorted);
    }
}
