//! Compute plugins: the engines dbt runs models on, and the profile output
//! each dbt adapter documents.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{CatalogBinding, Datasource, ProductContext, Resources, Selected, StorageBinding, WorkloadSize};
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Meta, PLUGIN_API, cap};
use crate::{Compute, Plugin};

pub(crate) static PLUGINS: &[&'static dyn Compute] = &[&DuckDb];

/// dbt's default per-query timeout, as the Python implementation sets it.
const DEFAULT_TIMEOUT_SECONDS: u32 = 3600;

/// Deserializes a selection's config; the schema check ran first, so a
/// failure here is a bug, and the defaults stand in.
fn typed<C: serde::de::DeserializeOwned + Default>(sel: &Selected<'_>) -> C {
    config::parse(sel.config).unwrap_or_default()
}

fn insert(out: &mut BTreeMap<String, Value>, key: &str, value: impl Into<Value>) {
    out.insert(key.to_owned(), value.into());
}

/// Job resources that suit an engine which runs inside the job's own
/// container (DuckDB, Spark in local mode).
fn in_process(size: WorkloadSize) -> Resources {
    match size {
        WorkloadSize::Small => Resources::new("250m", "1", "512Mi", "1Gi"),
        WorkloadSize::Medium => Resources::new("1", "2", "2Gi", "4Gi"),
        WorkloadSize::Large => Resources::new("2", "4", "8Gi", "16Gi"),
    }
}

// ---------------------------------------------------------------- DuckDB

pub struct DuckDb;

/// DuckDB compute (dbt-duckdb).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "duckdb compute config")]
pub struct DuckDbConfig {
    /// Database file; `{product_slug}` and `{product_name}` expand per product, `:memory:` for none.
    #[schemars(length(min = 1))]
    pub path: Option<String>,
    /// Threads dbt runs models on.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Per-query timeout.
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// DuckDB `memory_limit` setting (`2GB`).
    pub memory_limit: Option<String>,
    /// Other DuckDB settings, as `SET key = value`.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// DuckDB extensions to load.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Databases to attach, as dbt-duckdb reads them.
    #[serde(default)]
    pub attach: Vec<Value>,
    /// dbt-duckdb plugins.
    #[serde(default)]
    pub plugins: Vec<Value>,
    pub schema: Option<String>,
    pub database: Option<String>,
}

static DUCKDB: Meta = Meta {
    name: "duckdb",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "DuckDB, in process, through dbt-duckdb",
    provides: &[cap("dbt-adapter", "duckdb"), cap("sql-datasource", "duckdb")],
    requires: &[],
};

impl Plugin for DuckDb {
    fn meta(&self) -> &'static Meta {
        &DUCKDB
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DuckDbConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DuckDbConfig = typed(sel);
        let mut errors = Vec::new();
        if c.memory_limit.is_some() && c.settings.contains_key("memory_limit") {
            errors.push(ConfigError::at(
                &["settings", "memory_limit"],
                "`memory_limit` is set twice, at the top and under `settings`",
                "keep one of them",
            ));
        }
        errors
    }
}

impl Compute for DuckDb {
    fn adapter(&self) -> &'static str {
        "duckdb"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: DuckDbConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "duckdb");
        let path = c.path.as_deref().unwrap_or("/tmp/floe/{product_slug}.duckdb");
        insert(&mut out, "path", product.expand(path));
        insert(&mut out, "threads", c.threads.unwrap_or(1));
        insert(&mut out, "timeout_seconds", c.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS));
        let mut settings = c.settings.clone();
        if let Some(m) = &c.memory_limit {
            settings.insert("memory_limit".to_owned(), Value::from(m.clone()));
        }
        if !settings.is_empty() {
            insert(&mut out, "settings", Value::Object(settings.into_iter().collect()));
        }
        let mut extensions = c.extensions.clone();
        let mut secrets = Vec::new();
        let mut attach = c.attach.clone();
        // Iceberg tables in object storage: DuckDB reads them through httpfs
        // with a DuckDB secret whose values come from the environment.
        if let Some(s) = storage {
            extensions.extend(["httpfs".to_owned(), "iceberg".to_owned()]);
            secrets.push(storage_secret(s));
        }
        if let Some(cat) = catalog.filter(|c| c.kind == "rest") {
            let mut options = serde_json::Map::new();
            if let Some(uri) = &cat.uri {
                options.insert("endpoint".to_owned(), Value::from(uri.clone()));
            }
            if let Some(secret) = &cat.credentials_secret {
                let name = format!("{}_catalog", cat.name.replace('-', "_"));
                let mut s = serde_json::Map::new();
                s.insert("type".to_owned(), Value::from("iceberg"));
                s.insert("name".to_owned(), Value::from(name.clone()));
                if let Some(id) = cat.properties.get("client_id") {
                    s.insert("client_id".to_owned(), Value::from(id.clone()));
                }
                s.insert(
                    "client_secret".to_owned(),
                    Value::from(Credential::from_secret(secret, "client_secret").dbt()),
                );
                if let Some(url) = cat.properties.get("token_url") {
                    s.insert("oauth2_server_uri".to_owned(), Value::from(url.clone()));
                }
                secrets.push(Value::Object(s));
                options.insert("secret".to_owned(), Value::from(name));
            }
            attach.push(json!({"path": cat.warehouse, "alias": cat.name.replace('-', "_"), "type": "iceberg", "options": options}));
            if !extensions.iter().any(|e| e == "iceberg") {
                extensions.push("iceberg".to_owned());
            }
        }
        extensions.sort();
        extensions.dedup();
        if !extensions.is_empty() {
            insert(&mut out, "extensions", extensions);
        }
        if !secrets.is_empty() {
            insert(&mut out, "secrets", secrets);
        }
        if !attach.is_empty() {
            insert(&mut out, "attach", attach);
        }
        if !c.plugins.is_empty() {
            insert(&mut out, "plugins", c.plugins.clone());
        }
        if let Some(s) = c.schema {
            insert(&mut out, "schema", s);
        }
        if let Some(d) = c.database {
            insert(&mut out, "database", d);
        }
        out
    }

    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-duckdb>=1.9,<2".to_owned()]
    }

    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        in_process(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: DuckDbConfig = typed(sel);
        let path = product.expand(c.path.as_deref().unwrap_or("/tmp/floe/{product_slug}.duckdb"));
        Some(Datasource {
            driver: "duckdb".to_owned(),
            properties: BTreeMap::from([("database_path".to_owned(), path)]),
        })
    }
}

/// A DuckDB secret for the platform's object storage (dbt-duckdb `secrets:`).
fn storage_secret(s: &StorageBinding) -> Value {
    let mut m = serde_json::Map::new();
    let kind = match s.scheme.as_str() {
        "gs" => "gcs",
        "abfss" => "azure",
        _ => "s3",
    };
    m.insert("type".to_owned(), Value::from(kind));
    if let Some(r) = &s.region {
        m.insert("region".to_owned(), Value::from(r.clone()));
    }
    if let Some(e) = &s.endpoint {
        let host = e.split_once("://").map_or(e.as_str(), |(_, h)| h);
        m.insert("endpoint".to_owned(), Value::from(host.trim_end_matches('/')));
        m.insert("use_ssl".to_owned(), Value::from(e.starts_with("https://")));
    }
    if s.path_style_access {
        m.insert("url_style".to_owned(), Value::from("path"));
    }
    match (&s.credentials_secret, kind) {
        (Some(secret), "s3" | "gcs") => {
            m.insert("key_id".to_owned(), Value::from(Credential::from_secret(secret, "access_key_id").dbt()));
            m.insert("secret".to_owned(), Value::from(Credential::from_secret(secret, "secret_access_key").dbt()));
        }
        (Some(secret), _) => {
            m.insert(
                "connection_string".to_owned(),
                Value::from(Credential::from_secret(secret, "connection_string").dbt()),
            );
        }
        (None, "azure") => {
            m.insert("provider".to_owned(), Value::from("credential_chain"));
        }
        (None, _) => {
            m.insert("provider".to_owned(), Value::from("credential_chain"));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    #[test]
    fn profile_output_matches_the_python_implementation() {
        let c = json!({"path": "/tmp/floe/{product_slug}.duckdb", "threads": 4, "memory_limit": "2GB"});
        let out = DuckDb.dbt_profile(&sel(&c), &ProductContext::new("customer-360"), None, None);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"path":"/tmp/floe/customer_360.duckdb","settings":{"memory_limit":"2GB"},"threads":4,"timeout_seconds":3600,"type":"duckdb"}"#
        );
    }

    #[test]
    fn invalid_config_is_reported_per_key() {
        let c = json!({"threads": 0, "path": "", "timeout_seconds": "soon", "memory_limt": "1GB"});
        let errors = crate::validate(&DuckDb, &sel(&c));
        let keys: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
        assert_eq!(keys, ["memory_limt", "path", "threads", "timeout_seconds"]);
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `memory_limit`?"));
    }
}
