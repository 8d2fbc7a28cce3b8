//! Plugin traits and the built-in plugins.
//!
//! A platform names one implementation per category in `manifest.yaml`
//! (`plugins.compute.type: duckdb`). floe looks the name up here; a plugin turns
//! the resolved selection into what its consumers need. For now that is the
//! compute category, which renders the dbt profile output a product's models run
//! with.
//!
//! **Architecture Invariant:** plugins are pure functions of the resolved
//! configuration. They never connect to the system they describe: a DuckDB plugin
//! does not open a database, a Snowflake plugin would not log in.

mod duckdb;

use std::collections::BTreeMap;

use serde_json::Value;

pub use duckdb::DuckDb;

/// What a compute plugin knows about the product it renders for.
#[derive(Clone, Debug)]
pub struct ProductContext<'a> {
    /// Product name as in `metadata.name` (`customer-360`).
    pub name: &'a str,
    /// The name with `-` replaced by `_` (`customer_360`), safe in paths and SQL.
    pub slug: String,
}

impl<'a> ProductContext<'a> {
    pub fn new(name: &'a str) -> ProductContext<'a> {
        ProductContext { name, slug: name.replace('-', "_") }
    }
}

/// A problem with a plugin's configuration, at a path inside `config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Keys from the selection's `config` down to the offending value.
    pub path: Vec<String>,
    pub message: String,
    pub help: Option<String>,
}

/// A compute engine dbt runs models on.
pub trait ComputePlugin: Send + Sync {
    /// The `type` that selects this plugin in a manifest.
    fn name(&self) -> &'static str;
    /// The dbt adapter package the profile needs (`dbt-duckdb`).
    fn dbt_adapter(&self) -> &'static str;
    /// Checks the selection's `config`, reporting every problem.
    fn validate(&self, config: &BTreeMap<String, Value>) -> Vec<ConfigError>;
    /// One dbt profile output (`outputs.<target>`) for a product. Secret references
    /// in `config` arrive already rendered as `env_var` templates.
    fn dbt_output(&self, config: &BTreeMap<String, Value>, product: &ProductContext<'_>) -> BTreeMap<String, Value>;
}

/// The built-in compute plugins, by name.
pub fn compute(name: &str) -> Option<&'static dyn ComputePlugin> {
    static DUCKDB: DuckDb = DuckDb;
    match name {
        "duckdb" => Some(&DUCKDB),
        _ => None,
    }
}

/// Names of the built-in compute plugins, for "did you mean" and `floe plugins`.
pub const COMPUTE_PLUGINS: &[&str] = &["duckdb"];
