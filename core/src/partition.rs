//! Which partition of the output topic each document goes to: Kafka's default
//! partitioner (the Java client's murmur2 of the key), computed once per batch here
//! instead of a Python call per document.

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition index (of `n`) for a key, as the Java client's default partitioner
/// picks it; keyless documents (`None`) are spread by their position.
pub fn partition_of(key: Option<&[u8]>, position: usize, n: usize) -> usize {
    match key {
        Some(k) => ((murmur2(k) & 0x7fff_ffff) as usize) % n,
        None => position % n,
    }
}

/// Document positions grouped by partition index, in order within each group.
pub fn groups<'a>(keys: impl Iterator<Item = Option<&'a [u8]>>, n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n];
    if n == 0 {
        return out;
    }
    let mut last: Option<(&[u8], usize)> = None;
    for (i, key) in keys.enumerate() {
        let p = match (key, last) {
            (Some(k), Some((lk, lp))) if k == lk => lp, // one pod's lines come in runs
            (Some(k), _) => {
                let p = partition_of(Some(k), i, n);
                last = Some((k, p));
                p
            }
            (None, _) => partition_of(None, i, n),
        };
        out[p].push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // values from Kafka's own UtilsTest.testMurmur2
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (data, want) in cases {
            assert_eq!(murmur2(data), want, "{:?}", std::str::from_utf8(data));
        }
    }

    #[test]
    fn groups_keep_order_and_cover_every_document() {
        let keys: Vec<Option<&[u8]>> = vec![Some(b"a"), Some(b"a"), None, Some(b"b"), Some(b"a")];
        let g = groups(keys.iter().copied(), 3);
        let mut all: Vec<usize> = g.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        let pa = partition_of(Some(b"a"), 0, 3);
        assert_eq!(g[pa].iter().filter(|&&i| i != 2 && i != 3).copied().collect::<Vec<_>>(), vec![0, 1, 4]);
        assert!(groups(keys.iter().copied(), 0).is_empty());
    }
}
