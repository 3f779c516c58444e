//! Criterion benches of the per-record hot functions (run: `cargo bench --no-default-features`).
use criterion::{criterion_group, criterion_main, Criterion};
use vnbridge_core::decode::{decode, Ident, Shape};
use vnbridge_core::encode::fb_json_object;
use vnbridge_core::genid::{generate_id, murmur3_x64_128};
use vnbridge_core::json::{find_special, parse, to_vec, write_str, Numbers};
use vnbridge_core::time::{format_rfc3339, parse_rfc3339};

const EKS: &[u8] = br#"{"@timestamp":1714564800.5,"log":"GET /api/v1/orders 200 12ms user=42\n","stream":"stdout","time":"2024-05-01T12:00:00.500000001Z","kubernetes":{"pod_name":"web-1","namespace_name":"shop","pod_id":"u-1","labels":{"app":"web","app.kubernetes.io/name":"web"},"host":"eklet-0","container_name":"app","docker_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","container_image":"web:1"}}"#;

fn benches(c: &mut Criterion) {
    let file =
        || Ident { namespace: "shop".into(), pod: "web-1".into(), container: "app".into(), container_id: "a".into() };
    c.bench_function("decode_eks", |b| b.iter(|| decode(EKS, Shape::Auto, &mut Ident::default)));
    c.bench_function("decode_cri", |b| {
        b.iter(|| decode(b"2024-05-01T12:00:00.5Z stdout F GET /api/v1/orders 200 12ms", Shape::Auto, &mut { file }))
    });
    c.bench_function("merge_body", |b| {
        b.iter(|| fb_json_object(r#"{"level":"info","msg":"order placed","id":42,"ms":1.5}"#))
    });
    c.bench_function("json_roundtrip", |b| b.iter(|| to_vec(&parse(EKS, Numbers::Strict).unwrap())));
    c.bench_function("rfc3339_parse_format", |b| {
        b.iter(|| format_rfc3339(parse_rfc3339("2024-05-01T12:00:00.500000001Z").unwrap(), 3))
    });
    let line = format!("GET /api/orders/42 200 {}", "y".repeat(260));
    c.bench_function("write_str_300", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            write_str(&mut out, &line);
            out.len()
        })
    });
    c.bench_function("find_special_key", |b| b.iter(|| find_special(std::hint::black_box(b"namespace_name\""))));
    c.bench_function("generate_id", |b| b.iter(|| generate_id(EKS)));
    c.bench_function("murmur3", |b| b.iter(|| murmur3_x64_128(EKS, 42)));
}

criterion_group!(hot, benches);
criterion_main!(hot);
