//! Quality plugins: what a product's data quality checks need installed.
//! Manifests configure the checks themselves in their own block, so these
//! plugins take no `config` keys.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config;
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{Plugin, Quality};

pub(crate) static PLUGINS: &[&'static dyn Quality] = &[&DbtExpectations, &GreatExpectations, &Soda];

/// A quality plugin's config: none.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "quality config")]
// An empty `properties` makes a stray key an unknown key, reported at that key.
#[schemars(extend("properties" = {}))]
pub struct NoConfig {}

// ---------------------------------------------------------------- Great Expectations

/// Great Expectations (GX Core), run by the job in Python.
pub struct GreatExpectations;

static GREAT_EXPECTATIONS: Meta = Meta {
    name: "great_expectations",
    category: Category::Quality,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Great Expectations (GX Core 1.x) suites run by the job",
    provides: &[cap("quality", "great_expectations")],
    requires: &[],
};

impl Plugin for GreatExpectations {
    fn meta(&self) -> &'static Meta {
        &GREAT_EXPECTATIONS
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<NoConfig>()
    }
}

impl Quality for GreatExpectations {
    fn dbt_packages(&self) -> Vec<Value> {
        Vec::new()
    }

    fn requirements(&self) -> Vec<String> {
        vec!["great_expectations>=1.0,<2".to_owned()]
    }
}

// ---------------------------------------------------------------- Soda

/// Soda Core, running SodaCL checks.
pub struct Soda;

static SODA: Meta = Meta {
    name: "soda",
    category: Category::Quality,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Soda Core SodaCL checks, read through DuckDB",
    provides: &[cap("quality", "soda")],
    requires: &[],
};

impl Plugin for Soda {
    fn meta(&self) -> &'static Meta {
        &SODA
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<NoConfig>()
    }
}

impl Quality for Soda {
    fn dbt_packages(&self) -> Vec<Value> {
        Vec::new()
    }

    /// Soda Core 3 with its DuckDB data source: DuckDB reads the product's
    /// Iceberg and Parquet tables in object storage whichever engine wrote
    /// them, so one data-source package serves every compute plugin.
    fn requirements(&self) -> Vec<String> {
        vec!["soda-core>=3.5,<4".to_owned(), "soda-core-duckdb>=3.5,<4".to_owned()]
    }
}

// ---------------------------------------------------------------- dbt_expectations

/// dbt-expectations, Great Expectations-style tests as dbt generic tests.
pub struct DbtExpectations;

static DBT_EXPECTATIONS: Meta = Meta {
    name: "dbt_expectations",
    category: Category::Quality,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "dbt-expectations generic tests, run by dbt itself",
    provides: &[cap("quality", "dbt_expectations")],
    requires: &[],
};

impl Plugin for DbtExpectations {
    fn meta(&self) -> &'static Meta {
        &DBT_EXPECTATIONS
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<NoConfig>()
    }
}

impl Quality for DbtExpectations {
    /// The package moved from `calogica/` to `metaplane/` on dbt Hub; the
    /// old name no longer gets releases.
    fn dbt_packages(&self) -> Vec<Value> {
        vec![json!({"package": "metaplane/dbt_expectations", "version": [">=0.10.0", "<0.11.0"]})]
    }

    fn requirements(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::Selected;

    #[test]
    fn packages_and_requirements() {
        let all: Vec<Value> = PLUGINS
            .iter()
            .map(|p| json!({"plugin": p.meta().name, "dbt_packages": p.dbt_packages(), "requirements": p.requirements()}))
            .collect();
        insta::assert_json_snapshot!(all);
    }

    #[test]
    fn schemas_are_empty_objects() {
        for p in PLUGINS {
            let schema = p.config_schema();
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
            assert!(schema.get("properties").is_none_or(|p| p.as_object().is_some_and(|o| o.is_empty())));
        }
    }

    #[test]
    fn config_keys_are_rejected() {
        let c = json!({"checks": ["not_null"]});
        for p in PLUGINS {
            let errors = crate::validate(*p, &Selected::new(Some(&c), None));
            assert_eq!(errors.len(), 1, "{}", p.meta().name);
            assert_eq!(errors[0].path, ["checks"]);
            assert_eq!(errors[0].help.as_deref(), Some("this plugin takes no configuration here"));
        }
        assert!(crate::validate(&Soda, &Selected::EMPTY).is_empty());
    }

    #[test]
    fn requirements_are_pip_specifiers() {
        for p in PLUGINS {
            for r in p.requirements() {
                let name = r.split(['>', '<', '=', '[']).next().unwrap_or_default();
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                    "{r}"
                );
                assert!(r.contains(">=") && r.contains(",<"), "{r} has no upper bound");
            }
        }
    }
}
