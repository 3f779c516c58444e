//! Differential properties: the core against well-kept references, on generated and
//! adversarial input (issue 33).
//!
//! Why: the core has its own JSON parser, RFC 3339 parser and a memoised decode for speed;
//! each is checked against an independent implementation (serde_json with
//! `preserve_order`, chrono, and the core's own unmemoised decode), so a fast path can
//! never quietly read a record differently from the slow, obvious one.

use crate::decode::{decode_memo, Ident, Shape, Spec};
use crate::json::{self, Numbers, J};
use crate::meta::KubeMemo;
use crate::time::parse_rfc3339;
use proptest::prelude::*;
use serde_json::Value;

/// Our value and serde_json's are the same JSON value (same members in the same order:
/// both keep a repeated key's last value at its first place).
fn same(a: &J, b: &Value) -> bool {
    match (a, b) {
        (J::Null, Value::Null) => true,
        (J::Bool(x), Value::Bool(y)) => x == y,
        (J::Int(x), Value::Number(n)) => n.as_i64() == Some(*x) || minus_zero(*x, n),
        (J::UInt(x), Value::Number(n)) => n.as_u64() == Some(*x),
        (J::Float(x), Value::Number(n)) => n.as_f64().is_some_and(|y| y == *x) && !n.is_i64() && !n.is_u64(),
        (J::Str(x), Value::String(y)) => x == y,
        (J::Arr(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (J::Obj(x), Value::Object(y)) => {
            x.0.len() == y.len() && x.0.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

/// `-0` is the integer 0 for the core (as for orjson and Python's json), -0.0 for serde_json.
fn minus_zero(x: i64, n: &serde_json::Number) -> bool {
    x == 0 && n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text with hostile edits: duplicate keys, escapes, surrogates, deep nesting,
/// numbers at the edges, truncation, stray bytes.
fn adversarial() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(r#"{"a":1,"a":2}"#.to_string()),
        Just(r#"{"k":"\ud83d\ude00","k2":"\u00e9\n\t\"\\\/"}"#.to_string()),
        Just(r#""\ud800""#.to_string()),
        Just(r#""\udc00\ud800""#.to_string()),
        Just("[".repeat(127) + &"]".repeat(127)),
        Just("[".repeat(200) + &"]".repeat(200)),
        Just("18446744073709551615".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("1e400".to_string()),
        Just("-0.0".to_string()),
        Just("0.1e-999".to_string()),
        Just("01".to_string()),
        Just("1.".to_string()),
        Just(r#"{"a" 1}"#.to_string()),
        Just("\u{feff}{}".to_string()),
        Just(r#"{"a":[1,2,]}"#.to_string()),
        Just("\"\u{1}\"".to_string()),
        json_value().prop_map(|v| v.to_string()),
    ];
    (pieces, any::<u8>(), 0usize..64, any::<bool>()).prop_map(|(s, byte, at, edit)| {
        let mut b = s.into_bytes();
        if edit && !b.is_empty() {
            let at = at % b.len();
            if byte % 2 == 0 {
                b.truncate(at);
            } else {
                b.insert(at, byte);
            }
        }
        b
    })
}

/// Where the two may differ by design: an integer past u64/i64 is an error for the core
/// (orjson's rule, `Numbers::Strict`) and a float for serde_json.
fn big_integer(ours: &Result<J, json::ParseError>) -> bool {
    matches!(ours, Err(e) if e.what == "integer out of range")
}

fn agree(input: &[u8]) -> Result<(), TestCaseError> {
    let ours = json::parse(input, Numbers::Strict);
    let theirs: Result<Value, _> = serde_json::from_slice(input);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert!(same(a, b), "{:?} vs {:?} for {:?}", a, b, String::from_utf8_lossy(input)),
        (Err(_), Err(_)) => {}
        (Err(_), Ok(_)) if big_integer(&ours) => {}
        _ => prop_assert!(
            false,
            "accept/reject differ for {:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(input),
            ours.is_ok(),
            theirs.is_ok()
        ),
    }
    Ok(())
}

fn ident() -> Ident {
    Ident { namespace: "ns".into(), pod: "p".into(), container: "c".into(), container_id: String::new() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_parser_agrees_with_serde_json_on_generated_values(v in json_value()) {
        agree(v.to_string().as_bytes())?;
        agree(serde_json::to_string_pretty(&v).unwrap().as_bytes())?;
    }

    #[test]
    fn json_parser_agrees_with_serde_json_on_adversarial_input(b in adversarial()) {
        agree(&b)?;
    }

    #[test]
    fn json_parser_agrees_with_serde_json_on_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        agree(&b)?;
    }

    /// Valid RFC 3339 timestamps (every field at its edges, any fraction length, either
    /// offset spelling): the same instant as chrono's.
    #[test]
    fn rfc3339_agrees_with_chrono(
        y in 1970i32..=9999, mo in 1u32..=12, d in 1u32..=31, h in 0u32..24, mi in 0u32..60, s in 0u32..60,
        frac in proptest::option::of("[0-9]{1,9}"), off in proptest::option::of((any::<bool>(), 0u32..24, 0u32..60)),
    ) {
        if chrono::NaiveDate::from_ymd_opt(y, mo, d).is_none() {
            return Ok(()); // not a calendar date: the other property covers refusals
        }
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let off = match off {
            None => "Z".to_string(),
            Some((neg, oh, om)) => format!("{}{oh:02}:{om:02}", if neg { '-' } else { '+' }),
        };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}");
        let theirs = chrono::DateTime::parse_from_rfc3339(&text).map(|t| t.timestamp_nanos_opt());
        let ours = parse_rfc3339(&text).ok();
        prop_assert_eq!(ours, theirs.ok().flatten(), "{}", text);
    }

    /// Whatever the core accepts as RFC 3339, chrono reads as the same instant (the core
    /// is never more lenient about the calendar: no 2024-02-31, no +99:99).
    #[test]
    fn rfc3339_accepts_nothing_chrono_refuses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|z|[+-][0-9]{2}:?[0-9]{2})") {
        if let Ok(ns) = parse_rfc3339(&text) {
            let canonical = text.replacen(' ', "T", 1).replace('t', "T").replace('z', "Z");
            // chrono wants "+hh:mm": give it the colon the core also accepts without
            let canonical = match canonical.len() {
                n if !canonical.ends_with('Z') && canonical.as_bytes()[n - 3] != b':' => {
                    format!("{}:{}", &canonical[..n - 2], &canonical[n - 2..])
                }
                _ => canonical,
            };
            let theirs = chrono::DateTime::parse_from_rfc3339(&canonical);
            prop_assert!(theirs.is_ok(), "{} accepted by the core, refused by chrono", text);
            let theirs = theirs.unwrap().timestamp_nanos_opt().unwrap();
            // chrono keeps nine fraction digits too, and so does the core
            prop_assert_eq!(ns, theirs, "{}", text);
        }
    }

    /// The memoised decode reads a stream of EKS records (metadata as a JSON string or an
    /// object, repeated, edited, broken) exactly as the full decode reads each alone.
    #[test]
    fn memoised_decode_equals_the_full_decode(
        stream in proptest::collection::vec((0usize..6, any::<bool>(), "[a-z ]{0,12}"), 1..40)
    ) {
        let metas = [
            r#"{"namespace_name":"ns","pod_name":"p1","container_name":"c","docker_id":"d1"}"#,
            r#"{"namespace_name":"ns","pod_name":"p2","container_name":"c"}"#,
            r#"{"namespace_name":"ns","pod_name":"p1","container_name":"c","docker_id":"d1","x":1}"#,
            r#"{"pod_name":"p3"}"#,
            r#"{"namespace_name":"ns","pod_name":"p1""#,
            r#"{"namespace_name":"ns","pod_name":"p1","container_name":"c","docker_id":"d1"}  "#,
        ];
        let spec = Spec::of(Shape::Auto);
        let mut memo = KubeMemo::default();
        for (m, as_string, text) in stream {
            let meta = metas[m];
            let kube = if as_string { serde_json::to_string(meta).unwrap() } else { meta.to_string() };
            let rec = format!(r#"{{"log":"{text}\n","stream":"stdout","time":"2024-05-01T00:00:00.5Z","kubernetes":{kube}}}"#);
            // the metadata key twice, the first value broken: the record is not JSON
            let twice = format!(r#"{{"log":"{text}\n","kubernetes":{{"pod_name":,"x"}},"kubernetes":{kube}}}"#);
            let fast = decode_memo(twice.as_bytes(), &spec, &mut ident, &mut memo);
            prop_assert!(fast.is_err(), "{}", twice);
            let fast = decode_memo(rec.as_bytes(), &spec, &mut ident, &mut memo);
            let full = decode_memo(rec.as_bytes(), &spec, &mut ident, &mut KubeMemo::default());
            prop_assert_eq!(fast, full, "{}", rec);
        }
    }
}
