//! The one value each rule reads.
//!
//! A derivation's input is a map of named parts, each a JSON value. Its key is
//! the hash of exactly those parts (with the rule's id and version, see
//! [`crate::db::Derivation`]); the rule runs on the parts alone, decoding the
//! typed values it needs from them and never asking the database; and
//! `floe.drv.json` and `floe why` show the same parts. So a rule cannot read
//! what its key does not cover: what is not in the value does not exist for it.
//!
//! Parts carry no secret: every value secret scanning found in what a package
//! reads is masked in them before they are hashed, stored or run, so no output
//! computed from them can hold one either.

use std::collections::BTreeMap;
use std::sync::Arc;

use floe_rules::resolve::{Origin, ResolvedPlatform};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::hash::Hash;

/// One part of an input: a value and its hash, computed once with it (a
/// platform's view is a part of every product's input below it).
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    value: Arc<Value>,
    hash: Hash,
}

impl Part {
    pub fn new(value: Value) -> Part {
        let hash = Hash::of_value(&value);
        Part { value: Arc::new(value), hash }
    }

    pub fn value(&self) -> &Arc<Value> {
        &self.value
    }
}

impl From<Value> for Part {
    fn from(value: Value) -> Part {
        Part::new(value)
    }
}

/// A rule's input: part name to value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Input {
    parts: BTreeMap<&'static str, Part>,
}

impl Input {
    pub fn with(mut self, name: &'static str, part: impl Into<Part>) -> Input {
        self.parts.insert(name, part.into());
        self
    }

    /// A part as it is shared (pointer-equal to the value it was built from).
    pub fn part(&self, name: &str) -> Option<&Arc<Value>> {
        self.parts.get(name).map(Part::value)
    }

    /// The input with every occurrence of `secrets` masked in every part;
    /// parts that hold none are kept as they are (still shared).
    pub fn masked(mut self, secrets: &[String]) -> Input {
        if secrets.is_empty() {
            return self;
        }
        let needles: Vec<&str> = secrets.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        for part in self.parts.values_mut() {
            if holds_any(&part.value, &needles) {
                let mut owned = (*part.value).clone();
                mask(&mut owned, secrets);
                *part = Part::new(owned);
            }
        }
        self
    }

    /// A part, or `null` when the input has none of that name.
    pub fn get(&self, name: &str) -> &Value {
        self.parts.get(name).map_or(&Value::Null, |p| &p.value)
    }

    pub fn str(&self, name: &str) -> &str {
        self.get(name).as_str().unwrap_or_default()
    }

    /// A part decoded into the type a rule works on.
    pub fn decode<T: DeserializeOwned>(&self, name: &str) -> Result<T, String> {
        T::deserialize(self.get(name)).map_err(|e| format!("input `{name}` does not decode: {e}"))
    }

    /// Each part's hash: what a key and `floe.drv.json` list.
    pub fn hashes(&self) -> BTreeMap<String, Hash> {
        self.parts.iter().map(|(name, p)| ((*name).to_owned(), p.hash)).collect()
    }

    /// Each part's name, hash and value.
    pub fn parts(&self) -> impl Iterator<Item = (&'static str, Hash, &Value)> {
        self.parts.iter().map(|(name, p)| (*name, p.hash, &*p.value))
    }

    /// Each part as the bytes its hash is computed over, for `floe why`.
    pub fn encoded(&self) -> Vec<(String, Vec<u8>)> {
        self.parts.iter().map(|(name, p)| ((*name).to_owned(), crate::hash::canonical_json(&p.value))).collect()
    }
}

/// How much of a resolved platform a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Everything the platform decides, positions excluded.
    Full,
    /// Its identity (`apiVersion`, `kind`, `metadata`) and every plugin selection.
    Plugins,
    /// Its identity and the selections a dbt profile is made of: compute and
    /// the storage and catalog it attaches to.
    Compute,
}

impl View {
    /// The part of `r` this view covers, in the form [`platform`] decodes.
    pub fn value(self, r: &ResolvedPlatform) -> Value {
        let plugins = match self {
            View::Full => return r.key_value(),
            View::Plugins => None,
            View::Compute => Some(&["compute", "storage", "catalog"][..]),
        };
        let mut merged = Map::new();
        for key in ["apiVersion", "kind", "metadata"] {
            if let Some(v) = r.merged.get(key) {
                merged.insert(key.to_owned(), v.clone());
            }
        }
        let all = r.merged.get("plugins").and_then(Value::as_object).cloned().unwrap_or_default();
        let selected = match plugins {
            None => all,
            Some(keep) => all.into_iter().filter(|(k, _)| keep.contains(&k.as_str())).collect(),
        };
        merged.insert("plugins".to_owned(), Value::Object(selected));
        serde_json::json!({ "merged": merged })
    }
}

/// A platform decoded from a [`View::value`]: all a rule knows of it.
/// Positions are not part of any value, so provenance is empty.
pub fn platform(value: &Value) -> Result<ResolvedPlatform, String> {
    let field = |name: &str| value.get(name).cloned().unwrap_or(Value::Null);
    let merged = field("merged");
    let manifest = serde_json::from_value(merged.clone()).map_err(|e| format!("the platform does not decode: {e}"))?;
    fn decode<T: DeserializeOwned>(value: Value, name: &str) -> Result<T, String> {
        serde_json::from_value(value).map_err(|e| format!("`{name}` does not decode: {e}"))
    }
    let chain: Option<Vec<_>> = decode(field("chain"), "chain")?;
    let approved_plugins = decode(field("approved_plugins"), "approved_plugins")?;
    let approved_products: Option<Vec<String>> = decode(field("approved_products"), "approved_products")?;
    Ok(ResolvedPlatform {
        manifest,
        merged,
        chain: chain.unwrap_or_default(),
        approved_plugins,
        approved_products: approved_products.map(|list| (list, Origin::at("", floe_schemas::diag::Span::START))),
        provenance: BTreeMap::new(),
    })
}

/// Masks every occurrence of each of `secrets` in the strings of `value`
/// (keys included); returns whether anything changed.
pub fn mask(value: &mut Value, secrets: &[String]) -> bool {
    if secrets.is_empty() {
        return false;
    }
    // Longest first, so a value that contains another is masked whole.
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    mask_in(value, &secrets)
}

/// Whether any string of `value` (keys included) contains one of `needles`.
fn holds_any(value: &Value, needles: &[&str]) -> bool {
    let hit = |s: &str| needles.iter().any(|n| s.contains(n));
    match value {
        Value::String(s) => hit(s),
        Value::Array(items) => items.iter().any(|v| holds_any(v, needles)),
        Value::Object(map) => map.iter().any(|(k, v)| hit(k) || holds_any(v, needles)),
        _ => false,
    }
}

fn mask_str(s: &mut String, secrets: &[&str]) -> bool {
    let mut changed = false;
    for secret in secrets {
        if s.contains(secret) {
            *s = s.replace(secret, floe_schemas::secret::MASK);
            changed = true;
        }
    }
    changed
}

fn mask_in(value: &mut Value, secrets: &[&str]) -> bool {
    match value {
        Value::String(s) => mask_str(s, secrets),
        Value::Array(items) => items.iter_mut().fold(false, |c, v| mask_in(v, secrets) | c),
        Value::Object(map) => {
            let mut changed = false;
            let entries = std::mem::take(map);
            for (mut k, mut v) in entries {
                changed |= mask_str(&mut k, secrets);
                changed |= mask_in(&mut v, secrets);
                map.insert(k, v);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_reaches_nested_strings_and_keys_longest_first() {
        let mut v = serde_json::json!({"a": ["x-s3cr3t-y", {"s3cr3t": 1}], "b": "s3cr3t-long"});
        assert!(mask(&mut v, &["s3cr3t".to_owned(), "s3cr3t-long".to_owned()]));
        assert_eq!(v, serde_json::json!({"a": ["x-********-y", {"********": 1}], "b": "********"}));
        assert!(!mask(&mut v, &["absent".to_owned()]));
    }

    #[test]
    fn a_part_that_is_absent_reads_as_null() {
        let input = Input::default().with("a", Value::from(1));
        assert_eq!(input.get("b"), &Value::Null);
        assert_eq!(input.hashes().len(), 1);
    }
}
