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

/// Replaces every inline credential of a manifest (as written, in JSON form)
/// by a reference, and returns what was replaced: every literal under a key
/// that holds credentials, however deep (a scalar, each item of a list, each
/// leaf of a map). Every other copy of such a string in the document, which
/// is how an alias of the credential's anchor reads, becomes the template
/// the runtime fills in with the same secret: a string stays a string.
pub fn redact_manifest(doc: &mut Value) -> Vec<InlineSecret> {
    let mut found = Vec::new();
    let mut values = Vec::new();
    let Some(top) = doc.as_object_mut() else {
        return found;
    };
    for (name, value) in top.iter_mut() {
        match value {
            Value::Object(plugins) if name == "plugins" => {
                for (category, selection) in plugins.iter_mut() {
                    let plugin_type = selection.get("type").and_then(Value::as_str).unwrap_or(category).to_owned();
                    let secret_name = k8s_name(&format!("floe-{category}-{plugin_type}"));
                    let mut path = vec!["plugins".to_owned(), category.clone()];
                    redact_value(selection, &mut path, &secret_name, None, &mut found, &mut values);
                }
            }
            _ => {
                let secret_name = k8s_name(&format!("floe-{name}"));
                redact_value(value, &mut vec![name.clone()], &secret_name, None, &mut found, &mut values);
            }
        }
    }
    values.retain(|(v, _)| alias_worthy(v));
    if !values.is_empty() {
        replace_copies(doc, &mut Vec::new(), &values, &mut found);
    }
    found
}

/// Redacts `v`, found at `path`; `under` is the reference key when `v` lies
/// under a credential key (`token`, `token.0`, `credentials.key`).
fn redact_value(
    v: &mut Value,
    path: &mut Vec<String>,
    secret_name: &str,
    under: Option<&str>,
    found: &mut Vec<InlineSecret>,
    values: &mut Vec<(Value, SecretRef)>,
) {
    match v {
        Value::Object(map) => {
            // Already a reference: nothing inline below it.
            if map.contains_key(SECRET_REF_KEY) {
                return;
            }
            for (key, value) in map.iter_mut() {
                // Inside a credential, `valueFrom` or `env_var` points elsewhere;
                // outside one, `env` is an ordinary map that may hold credentials.
                if under.is_some() && floe_schemas::secret::is_reference_key(key) {
                    continue;
                }
                let here = match under {
                    Some(parent) => Some(format!("{parent}.{key}")),
                    None => is_secret_key(key).then(|| key.clone()),
                };
                path.push(key.clone());
                redact_value(value, path, secret_name, here.as_deref(), found, values);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let here = under.map(|parent| format!("{parent}.{i}"));
                path.push(format!("[{i}]"));
                redact_value(item, path, secret_name, here.as_deref(), found, values);
                path.pop();
            }
        }
        scalar => {
            let Some(key) = under.filter(|_| is_literal(scalar)) else { return };
            let reference =
                SecretRef { source: "kubernetes".to_owned(), name: secret_name.to_owned(), key: key.to_owned() };
            let literal = std::mem::replace(scalar, reference.to_value());
            values.push((literal, reference.clone()));
            found.push(InlineSecret { path: path.clone(), reference });
        }
    }
}

/// Replaces every remaining copy of a redacted string by its reference's template.
fn replace_copies(v: &mut Value, path: &mut Vec<String>, values: &[(Value, SecretRef)], found: &mut Vec<InlineSecret>) {
    match v {
        Value::Object(map) => {
            if map.contains_key(SECRET_REF_KEY) {
                return;
            }
            for (key, value) in map.iter_mut() {
                path.push(key.clone());
                replace_copies(value, path, values, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                replace_copies(item, path, values, found);
                path.pop();
            }
        }
        scalar => {
            if let Some((_, reference)) = values.iter().find(|(literal, _)| literal == scalar) {
                *scalar = Value::from(reference.dbt_template());
                found.push(InlineSecret { path: path.clone(), reference: reference.clone() });
            }
        }
    }
}

/// Whether a copy of a credential elsewhere in a document is taken for an
/// alias of it: a string, as numbers and values as short as `dev` recur by
/// chance (secret scanning still masks them in every output).
fn alias_worthy(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.chars().count() >= 4)
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
    fn credentials_are_found_by_pattern_in_every_shape() {
        let mut doc: Value = serde_json::from_str(
            r#"{"metadata": {"name": "acme", "description": "S-anchored"},
                "plugins": {"compute": {"type": "duckdb", "config": {
                    "settings": {"s3_secret_access_key": "S-a", "s3_session_token": "S-b", "db_password": 1234,
                                 "clientSecret": "S-c", "api-key": "S-d", "pwd": "S-anchored", "use_ssl": true,
                                 "password": {"secret_ref": {"source": "kubernetes", "name": "n", "key": "k"}},
                                 "token_url": "https://idp/token", "secret_name": "pg", "password_policy": "strict"},
                    "memory_limit": "S-anchored",
                    "env": {"DB_PASSWORD": "S-h", "DB_USER": "etl"},
                    "attach": [{"alias": "lake", "token": ["S-e", "S-f"]},
                               {"alias": "other", "credentials": {"user": "etl", "key": "S-g", "port": null}}]}}}}"#,
        )
        .unwrap();
        let found = redact_manifest(&mut doc);
        let paths: Vec<String> = found.iter().map(|f| format!("{} -> {}", f.path.join("."), f.reference.key)).collect();
        assert_eq!(
            paths,
            [
                "plugins.compute.config.attach.[0].token.[0] -> token.0",
                "plugins.compute.config.attach.[0].token.[1] -> token.1",
                "plugins.compute.config.attach.[1].credentials.key -> credentials.key",
                "plugins.compute.config.attach.[1].credentials.user -> credentials.user",
                "plugins.compute.config.env.DB_PASSWORD -> DB_PASSWORD",
                "plugins.compute.config.settings.api-key -> api-key",
                "plugins.compute.config.settings.clientSecret -> clientSecret",
                "plugins.compute.config.settings.db_password -> db_password",
                "plugins.compute.config.settings.pwd -> pwd",
                "plugins.compute.config.settings.s3_secret_access_key -> s3_secret_access_key",
                "plugins.compute.config.settings.s3_session_token -> s3_session_token",
                // Copies of a credential, as an alias of its anchor reads.
                "metadata.description -> pwd",
                "plugins.compute.config.memory_limit -> pwd",
            ]
        );
        let text = doc.to_string();
        for secret in ["S-a", "S-b", "1234", "S-c", "S-d", "S-anchored", "S-e", "S-f", "S-g", "S-h"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What is not a credential is left as it is.
        for kept in ["https://idp/token", "\"secret_name\":\"pg\"", "strict", "\"use_ssl\":true", "\"name\":\"n\""] {
            assert!(text.contains(kept), "{kept} not in {text}");
        }
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
