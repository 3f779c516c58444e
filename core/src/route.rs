//! Where a document goes: Fluent Bit's record-accessor templates (`Logstash_Prefix_Key`)
//! and Elasticsearch's index-name rules.
//!
//! Why: platforms route each namespace (or team label) to its own index. The name is
//! computed per record from the record and the pod's metadata, so it can be anything a
//! workload writes; a name Elasticsearch would refuse must become a dead letter with a
//! reason before it reaches a bulk request (a refused bulk item is found only after the
//! round trip, and a whole index of them is a rejected batch).

use crate::json::J;

/// One piece of a template: literal text, or a `$key['sub']…` lookup.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    Key(Vec<String>),
}

/// A record-accessor template in translate mode (`flb_ra_create(pattern, FLB_TRUE)`):
/// literal text with `$key` / `$key['a']['b']` lookups. Array indexes and regex
/// captures are not supported (refused when the option is read).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Template(pub Vec<Part>);

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/')
}

impl Template {
    pub fn parse(pattern: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] != '$' || i + 1 >= chars.len() || !key_char(chars[i + 1]) {
                lit.push(chars[i]);
                i += 1;
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            i += 1;
            let start = i;
            while i < chars.len() && key_char(chars[i]) {
                i += 1;
            }
            let mut path = vec![chars[start..i].iter().collect::<String>()];
            while i < chars.len() && chars[i] == '[' {
                let quote = chars.get(i + 1).copied();
                if !matches!(quote, Some('\'') | Some('"')) {
                    return Err(format!("{pattern:?}: only ['key'] subkeys are supported (no array indexes)"));
                }
                let q = quote.unwrap_or('\'');
                let from = i + 2;
                let Some(len) = chars[from..].iter().position(|&c| c == q) else {
                    return Err(format!("{pattern:?}: unterminated subkey"));
                };
                if chars.get(from + len + 1) != Some(&']') {
                    return Err(format!("{pattern:?}: a subkey must end with ']'"));
                }
                path.push(chars[from..from + len].iter().collect());
                i = from + len + 2;
            }
            parts.push(Part::Key(path));
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template(parts))
    }

    /// `Logstash_Prefix_Key`'s template: es_conf.c puts a '$' in front of a key without one.
    pub fn prefix_key(key: &str) -> Result<Template, String> {
        if key.starts_with('$') {
            Template::parse(key)
        } else {
            Template::parse(&format!("${key}"))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Some lookup starts at the record key `root`.
    pub fn reads(&self, root: &str) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Key(path) if path[0] == root))
    }

    /// The template filled in: `lookup(path)` gives a key's value; a missing key or a map /
    /// array / null value adds nothing (flb_ra_translate).
    pub fn render(&self, lookup: &mut dyn FnMut(&[String]) -> Option<J>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Key(path) => match lookup(path) {
                    Some(J::Str(s)) => out.push_str(&s),
                    Some(J::Int(n)) => out.push_str(&n.to_string()),
                    Some(J::UInt(n)) => out.push_str(&n.to_string()),
                    Some(J::Float(f)) => out.push_str(&format!("{f:.6}")),
                    Some(J::Bool(b)) => out.push_str(if b { "true" } else { "false" }),
                    _ => {}
                },
            }
        }
        out
    }
}

/// A value at `path` below `v` (objects only).
pub fn descend<'a>(mut v: &'a J, path: &[String]) -> Option<&'a J> {
    for key in path {
        let J::Obj(o) = v else { return None };
        v = o.get(key)?;
    }
    Some(v)
}

/// Why Elasticsearch would refuse `name` as an index name (MetadataCreateIndexService
/// .validateIndexOrAliasName), or None when it is valid.
pub fn invalid_index(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the index name is empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("{name:?} is not a valid index name"));
    }
    if name.len() > 255 {
        return Some(format!("the index name is {} bytes (at most 255)", name.len()));
    }
    if let Some(c) = name.chars().find(|c| c.is_uppercase()) {
        return Some(format!("the index name {name:.120?} has an upper-case letter {c:?}"));
    }
    if let Some(c) =
        name.chars().find(|c| matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'))
    {
        return Some(format!("the index name {name:.120?} contains {c:?}"));
    }
    if name.starts_with(['-', '_', '+']) {
        return Some(format!("the index name {name:.120?} starts with {:?}", &name[..1]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, J)]) -> J {
        J::Obj(crate::json::Obj(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
    }

    #[test]
    fn parses_keys_subkeys_and_literals() {
        let t = Template::parse("logs-$kubernetes['namespace_name']").unwrap();
        assert_eq!(t.0, vec![Part::Lit("logs-".into()), Part::Key(vec!["kubernetes".into(), "namespace_name".into()])]);
        let t = Template::parse("$app").unwrap();
        assert_eq!(t.0, vec![Part::Key(vec!["app".into()])]);
        assert_eq!(Template::parse("cost $ 5").unwrap().0, vec![Part::Lit("cost $ 5".into())]);
        assert!(Template::parse("$a[0]").is_err());
        assert!(Template::parse("$a['b'").is_err());
    }

    #[test]
    fn renders_like_flb_ra_translate() {
        let rec = obj(&[
            ("kubernetes", obj(&[("namespace_name", J::Str("shop".into())), ("labels", obj(&[]))])),
            ("n", J::Int(7)),
        ]);
        let mut look = |p: &[String]| descend(&rec, p).cloned();
        // '-' and '.' are key characters: `$n-x` names the key "n-x"
        let t = Template::parse("$kubernetes['namespace_name']+$n+$missing+$kubernetes['labels']").unwrap();
        assert_eq!(t.render(&mut look), "shop+7++");
    }

    #[test]
    fn index_names_elasticsearch_refuses() {
        for bad in ["", ".", "..", "Shop", "a b", "a/b", "a,b", "a#b", "a:b", "-a", "_a", "+a", "a*"] {
            assert!(invalid_index(bad).is_some(), "{bad:?}");
        }
        assert!(invalid_index(&"a".repeat(256)).is_some());
        for good in ["logstash-2024.05.01", "shop-2024.05.01", "filebeat-9.3.0", "a.b", "ü-logs"] {
            assert_eq!(invalid_index(good), None, "{good:?}");
        }
    }
}
