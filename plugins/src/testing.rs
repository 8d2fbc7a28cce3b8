//! Helpers the plugins' tests share.

use serde_json::{Value, json};

use crate::config::ConfigError;

/// Each error as `path | message | help`.
pub(crate) fn shown(errors: &[ConfigError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{} | {} | {}", e.path.join("."), e.message, e.help.as_deref().unwrap_or("")))
        .collect()
}

/// What floe does to an inline credential before a plugin sees it:
/// replaces it by a reference to its key in the selection's Secret.
pub(crate) fn redact(v: &mut Value, secret: &str) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if floe_schemas::secret::is_credential_key(key) && value.is_string() {
                    *value = json!({"secret_ref": {"source": "kubernetes", "name": secret, "key": key}});
                } else {
                    redact(value, secret);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact(i, secret)),
        _ => {}
    }
}

/// Whether every config key that takes a credential is one floe knows
/// to hold credentials (and so replaces inline values of).
pub(crate) fn credential_keys_are_known(schema: &Value) -> Result<(), String> {
    for (key, prop) in schema["properties"].as_object().into_iter().flatten() {
        if prop.to_string().contains("#/$defs/Credential") && !floe_schemas::secret::is_credential_key(key) {
            return Err(key.clone());
        }
    }
    for def in schema["$defs"].as_object().into_iter().flatten().map(|(_, d)| d) {
        credential_keys_are_known(def)?;
    }
    Ok(())
}
