//! DuckDB compute: dbt-duckdb profiles.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{ComputePlugin, ConfigError, ProductContext};

/// dbt's default per-query timeout, as the Python implementation sets it.
const DEFAULT_TIMEOUT_SECONDS: i64 = 3600;

/// Keys dbt-duckdb reads from a profile output as they are; anything else in
/// `config` is a DuckDB setting and goes under `settings`.
const PROFILE_KEYS: &[&str] =
    &["path", "threads", "timeout_seconds", "extensions", "attach", "schema", "database", "settings", "plugins"];

pub struct DuckDb;

impl ComputePlugin for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn dbt_adapter(&self) -> &'static str {
        "dbt-duckdb"
    }

    fn validate(&self, config: &BTreeMap<String, Value>) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let error = |key: &str, message: String, help: &str| ConfigError {
            path: vec![key.to_owned()],
            message,
            help: Some(help.to_owned()),
        };
        if let Some(threads) = config.get("threads")
            && !threads.as_i64().is_some_and(|t| (1..=1024).contains(&t))
        {
            errors.push(error(
                "threads",
                format!("DuckDB `threads` must be a whole number from 1 to 1024, found `{threads}`"),
                "set `threads: 4`",
            ));
        }
        if let Some(path) = config.get("path")
            && path.as_str().is_none_or(|p| p.is_empty())
        {
            errors.push(error(
                "path",
                format!("DuckDB `path` must be a non-empty string, found `{path}`"),
                "set `path: /data/{product_slug}.duckdb`, or `:memory:`",
            ));
        }
        if let Some(timeout) = config.get("timeout_seconds")
            && timeout.as_i64().is_none_or(|t| t <= 0)
        {
            errors.push(error(
                "timeout_seconds",
                format!("`timeout_seconds` must be a positive whole number, found `{timeout}`"),
                "set `timeout_seconds: 3600`",
            ));
        }
        errors
    }

    fn dbt_output(&self, config: &BTreeMap<String, Value>, product: &ProductContext<'_>) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        out.insert("type".to_owned(), Value::from("duckdb"));
        let path = config.get("path").and_then(Value::as_str).unwrap_or("/tmp/floe/{product_slug}.duckdb");
        out.insert("path".to_owned(), Value::from(expand(path, product)));
        out.insert("threads".to_owned(), config.get("threads").cloned().unwrap_or(Value::from(1)));
        out.insert(
            "timeout_seconds".to_owned(),
            config.get("timeout_seconds").cloned().unwrap_or(Value::from(DEFAULT_TIMEOUT_SECONDS)),
        );
        for key in ["extensions", "attach", "schema", "database", "plugins"] {
            if let Some(v) = config.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        let mut settings: BTreeMap<String, Value> = match config.get("settings") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => BTreeMap::new(),
        };
        for (k, v) in config {
            if !PROFILE_KEYS.contains(&k.as_str()) {
                settings.insert(k.clone(), v.clone());
            }
        }
        if !settings.is_empty() {
            out.insert("settings".to_owned(), Value::Object(settings.into_iter().collect()));
        }
        out
    }
}

/// Expands the placeholders a platform may use in paths.
fn expand(template: &str, product: &ProductContext<'_>) -> String {
    template.replace("{product_slug}", &product.slug).replace("{product_name}", product.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> BTreeMap<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn profile_output_matches_the_python_implementation() {
        let c = config(r#"{"path": "/tmp/floe/{product_slug}.duckdb", "threads": 4, "memory_limit": "2GB"}"#);
        let out = DuckDb.dbt_output(&c, &ProductContext::new("customer-360"));
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"path":"/tmp/floe/customer_360.duckdb","settings":{"memory_limit":"2GB"},"threads":4,"timeout_seconds":3600,"type":"duckdb"}"#
        );
    }

    #[test]
    fn invalid_config_is_reported_per_key() {
        let errors = DuckDb.validate(&config(r#"{"threads": 0, "path": "", "timeout_seconds": "soon"}"#));
        let keys: Vec<_> = errors.iter().map(|e| e.path[0].as_str()).collect();
        assert_eq!(keys, ["threads", "path", "timeout_seconds"]);
    }
}
