//! Filebeat `drop_event` conditions over a line's own fields (`message`, `stream`),
//! decided per record. The profile (Python) validates and normalises the condition
//! and keeps the ones over pod fields for itself (decided once per pod change).
//!
//! Normal form, as JSON: `{"or"|"and": [c…]}`, `{"not": c}`, `{"has": field}`,
//! `{"equals"|"contains"|"regexp": [field, string]}`.

use crate::json::{self, Numbers, J};
use regex::Regex;

#[derive(Debug)]
pub enum Cond {
    Any(Vec<Cond>),
    All(Vec<Cond>),
    Not(Box<Cond>),
    Has(Field),
    Equals(Field, String),
    Contains(Field, String),
    Regexp(Field, Regex),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    Message,
    Stream,
}

impl Cond {
    pub fn parse(text: &str) -> Result<Cond, String> {
        let j = json::parse(text.as_bytes(), Numbers::Strict).map_err(|e| format!("drop_event: {e:?}"))?;
        Cond::from_json(&j)
    }

    fn from_json(j: &J) -> Result<Cond, String> {
        let J::Obj(o) = j else { return Err(format!("drop_event: not a condition: {j:?}")) };
        let [(op, arg)] = o.0.as_slice() else { return Err("drop_event: a condition has one key".into()) };
        let list = |a: &J| -> Result<Vec<Cond>, String> {
            match a {
                J::Arr(xs) => xs.iter().map(Cond::from_json).collect(),
                _ => Err(format!("drop_event: {op} takes a list")),
            }
        };
        let field = |f: &J| match f {
            J::Str(s) if s == "message" => Ok(Field::Message),
            J::Str(s) if s == "stream" => Ok(Field::Stream),
            other => Err(format!("drop_event: {other:?} is not a field of the line")),
        };
        Ok(match op.as_str() {
            "or" => Cond::Any(list(arg)?),
            "and" => Cond::All(list(arg)?),
            "not" => Cond::Not(Box::new(Cond::from_json(arg)?)),
            "has" => Cond::Has(field(arg)?),
            "equals" | "contains" | "regexp" => {
                let J::Arr(pair) = arg else { return Err(format!("drop_event: {op} takes [field, value]")) };
                let [f, J::Str(v)] = pair.as_slice() else {
                    return Err(format!("drop_event: {op} takes [field, string]"));
                };
                let f = field(f)?;
                match op.as_str() {
                    "equals" => Cond::Equals(f, v.clone()),
                    "contains" => Cond::Contains(f, v.clone()),
                    _ => Cond::Regexp(f, Regex::new(v).map_err(|e| format!("drop_event: regexp: {e}"))?),
                }
            }
            other => return Err(format!("drop_event: unknown condition {other:?}")),
        })
    }

    /// Whether the event of this line is dropped. An empty line has no `message`
    /// (Filebeat's event has no such key), so nothing about `message` holds for it.
    pub fn holds(&self, text: &str, stream: &str) -> bool {
        let get = |f: Field| match f {
            Field::Message if text.is_empty() => None,
            Field::Message => Some(text),
            Field::Stream => Some(stream),
        };
        match self {
            Cond::Any(cs) => cs.iter().any(|c| c.holds(text, stream)),
            Cond::All(cs) => cs.iter().all(|c| c.holds(text, stream)),
            Cond::Not(c) => !c.holds(text, stream),
            Cond::Has(f) => get(*f).is_some(),
            Cond::Equals(f, v) => get(*f) == Some(v.as_str()),
            Cond::Contains(f, v) => get(*f).is_some_and(|s| s.contains(v.as_str())),
            Cond::Regexp(f, r) => get(*f).is_some_and(|s| r.is_match(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_conditions_hold_as_libbeats_do() {
        let c = Cond::parse(
            r#"{"or":[{"regexp":["message","^GET /healthz"]},
                      {"and":[{"equals":["stream","stderr"]},{"not":{"contains":["message","ERROR"]}}]}]}"#,
        )
        .unwrap();
        assert!(c.holds("GET /healthz 200", "stdout"));
        assert!(c.holds("noise", "stderr"));
        assert!(!c.holds("ERROR boom", "stderr"));
        assert!(!c.holds("hello", "stdout"));
        // an empty line has no message: `not contains` holds, `has` does not
        assert!(c.holds("", "stderr"));
        assert!(!Cond::parse(r#"{"has":"message"}"#).unwrap().holds("", "stdout"));
        assert!(Cond::parse(r#"{"has":"stream"}"#).unwrap().holds("", "stdout"));
    }

    #[test]
    fn bad_conditions_are_errors_not_panics() {
        for bad in [
            "[]",
            "{}",
            r#"{"or":{}}"#,
            r#"{"equals":["kubernetes.namespace","x"]}"#,
            r#"{"equals":["message",1]}"#,
            r#"{"regexp":["message","("]}"#,
            r#"{"range":["message",{}]}"#,
            "not json",
        ] {
            assert!(Cond::parse(bad).is_err(), "{bad}");
        }
    }
}
