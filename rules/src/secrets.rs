//! Inline credentials: found, reported, and replaced by references.
//!
//! A credential is only ever a reference. A literal one in a manifest
//! (`client_secret: demo-secret`) is a policy violation, and in every enforcement
//! mode its value is replaced by a [`SecretRef`] before anything is hashed,
//! stored or written, so no output, store entry or log can carry it.

use serde_json::Value;

pub use floe_schemas::secret::{SECRET_REF_KEY, SecretRef};

/// An inline credential that was replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineSecret {
    /// JSON path of the value, `plugins.catalog.config.oauth2.client_secret`.
    pub path: Vec<String>,
    pub reference: SecretRef,
}

/// Replaces every inline credential under `plugins.*.config` of a manifest (as
/// written, in JSON form) by a reference, and returns what was replaced.
pub fn redact_manifest(doc: &mut Value) -> Vec<InlineSecret> {
    let mut found = Vec::new();
    let Some(plugins) = doc.get_mut("plugins").and_then(Value::as_object_mut) else {
        return found;
    };
    for (category, selection) in plugins.iter_mut() {
        let plugin_type = selection.get("type").and_then(Value::as_str).unwrap_or(category).to_owned();
        let secret_name = k8s_name(&format!("floe-{category}-{plugin_type}"));
        if let Some(config) = selection.get_mut("config") {
            let mut path = vec!["plugins".to_owned(), category.clone(), "config".to_owned()];
            redact_value(config, &mut path, &secret_name, &mut found);
        }
    }
    found
}

fn redact_value(v: &mut Value, path: &mut Vec<String>, secret_name: &str, found: &mut Vec<InlineSecret>) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                redact_value(item, path, secret_name, found);
                path.pop();
            }
        }
        return;
    };
    // Already a reference: nothing inline below it.
    if map.contains_key(SECRET_REF_KEY) {
        return;
    }
    for (key, value) in map.iter_mut() {
        path.push(key.clone());
        if is_secret_key(key) && is_literal(value) {
            let reference =
                SecretRef { source: "kubernetes".to_owned(), name: secret_name.to_owned(), key: key.clone() };
            *value = reference.to_value();
            found.push(InlineSecret { path: path.clone(), reference });
        } else {
            redact_value(value, path, secret_name, found);
        }
        path.pop();
    }
}

pub fn is_secret_key(key: &str) -> bool {
    floe_schemas::secret::is_credential_key(key)
}

/// A literal value, as opposed to a reference or an environment template.
fn is_literal(v: &Value) -> bool {
    match v {
        Value::String(s) => !(s.is_empty() || s.contains("{{") || s.starts_with("${")),
        Value::Number(_) => true,
        _ => false,
    }
}

/// A valid Kubernetes object name (RFC 1123 label) derived from `s`.
fn k8s_name(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    out.truncate(63);
    out.trim_matches('-').to_owned()
}

/// Replaces references inside a value by the templates a dbt profile reads.
pub fn render_for_dbt(v: &Value) -> Value {
    if let Some(r) = SecretRef::from_value(v) {
        return Value::from(r.dbt_template());
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), render_for_dbt(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(render_for_dbt).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_credentials_become_references() {
        let mut doc: Value = serde_json::from_str(
            r#"{"plugins": {"catalog": {"type": "polaris", "config": {"uri": "http://x", "oauth2": {"client_id": "a", "client_secret": "demo-secret"}}}}}"#,
        )
        .unwrap();
        let found = redact_manifest(&mut doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path.join("."), "plugins.catalog.config.oauth2.client_secret");
        assert!(!doc.to_string().contains("demo-secret"));
        let r = &found[0].reference;
        assert_eq!((r.name.as_str(), r.key.as_str()), ("floe-catalog-polaris", "client_secret"));
        assert_eq!(r.dbt_template(), "{{ env_var('FLOE_SECRET_FLOE_CATALOG_POLARIS_CLIENT_SECRET') }}");
        // Redaction is idempotent: a reference is not a literal.
        assert!(redact_manifest(&mut doc).is_empty());
    }

    #[test]
    fn templates_are_left_alone() {
        let mut doc: Value = serde_json::from_str(
            r#"{"plugins": {"compute": {"type": "snowflake", "config": {"password": "{{ env_var('PW') }}"}}}}"#,
        )
        .unwrap();
        assert!(redact_manifest(&mut doc).is_empty());
    }
}
