//! Fluent Bit's `Generate_ID`: MurmurHash3 x64/128 (seed 42) of the record packed as
//! msgpack, printed as eight little-endian 16-bit words (plugins/out_es/es.c).
//!
//! Why: a platform that lets Fluent Bit generate ids dedups on them; the packing must
//! be byte-identical to what msgpack-python (and Fluent Bit) produce for the same map,
//! so integers take their smallest encoding, floats are float64, strings `str8+`.

use crate::json::J;

pub fn pack_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub fn pack_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 65_536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn pack_len(out: &mut Vec<u8>, n: usize, fix: u8, m16: u8, m32: u8) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n < 65_536 {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

pub fn pack_map_header(out: &mut Vec<u8>, n: usize) {
    pack_len(out, n, 0x80, 0xde, 0xdf);
}

fn pack_u64(out: &mut Vec<u8>, u: u64) {
    if u < 128 {
        out.push(u as u8);
    } else if u <= 0xff {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn pack_i64(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        return pack_u64(out, i as u64);
    }
    if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= -32_768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

pub fn pack(out: &mut Vec<u8>, v: &J) {
    match v {
        J::Null => pack_nil(out),
        J::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        J::Int(i) => pack_i64(out, *i),
        J::UInt(u) => pack_u64(out, *u),
        J::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        J::Str(s) => pack_str(out, s),
        J::Arr(a) => {
            pack_len(out, a.len(), 0x90, 0xdc, 0xdd);
            for x in a {
                pack(out, x);
            }
        }
        J::Obj(o) => {
            pack_map_header(out, o.len());
            for (k, x) in &o.0 {
                pack_str(out, k);
                pack(out, x);
            }
        }
    }
}

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// MurmurHash3_x64_128 → the 16 bytes mmh3.hash_bytes(data, seed, x64arch=True) returns.
pub fn murmur3_x64_128(data: &[u8], seed: u32) -> [u8; 16] {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h1 = seed as u64;
    let mut h2 = seed as u64;
    let blocks = data.len() / 16;
    for i in 0..blocks {
        let b = &data[i * 16..i * 16 + 16];
        let mut k1 = u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8]));
        let mut k2 = u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(27).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2.rotate_left(31).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    let tail = &data[blocks * 16..];
    let mut k1: u64 = 0;
    let mut k2: u64 = 0;
    for (i, &byte) in tail.iter().enumerate().rev() {
        if i >= 8 {
            k2 ^= (byte as u64) << ((i - 8) * 8);
        } else {
            k1 ^= (byte as u64) << (i * 8);
        }
    }
    if tail.len() > 8 {
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
    }
    if !tail.is_empty() {
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&h1.to_le_bytes());
    out[8..].copy_from_slice(&h2.to_le_bytes());
    out
}

/// The `_id` Fluent Bit prints for a packed record.
pub fn generate_id(packed: &[u8]) -> String {
    let h = murmur3_x64_128(packed, 42);
    let w: Vec<String> = h.chunks(2).map(|c| format!("{:04x}", u16::from_le_bytes([c[0], c[1]]))).collect();
    format!("{}{}-{}-{}-{}-{}{}{}", w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_known_vectors() {
        // mmh3.hash_bytes(b"", 0) and (b"hello", 0): the reference implementation's values
        assert_eq!(murmur3_x64_128(b"", 0), [0u8; 16]);
        let h = murmur3_x64_128(b"hello", 0);
        assert_eq!(u64::from_le_bytes(h[..8].try_into().unwrap()), 0xcbd8_a7b3_41bd_9b02);
    }

    #[test]
    fn msgpack_smallest_encodings() {
        let mut out = Vec::new();
        pack(&mut out, &J::Int(-33));
        pack(&mut out, &J::UInt(300));
        pack(&mut out, &J::Str("x".repeat(40)));
        assert_eq!(&out[..5], &[0xd0, 0xdf, 0xcd, 0x01, 0x2c]);
        assert_eq!(&out[5..7], &[0xd9, 40]);
    }
}
