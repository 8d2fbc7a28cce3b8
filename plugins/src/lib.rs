//! Plugin traits, metadata and the built-in plugins.
//!
//! A platform names one implementation per category in `manifest.yaml`
//! (`plugins.compute.type: duckdb`). floe looks the name up in [`registry`];
//! the plugin checks its typed configuration and turns the resolved selection
//! into what its consumers need: a dbt profile output, orchestrator
//! definitions, OTLP and OpenLineage settings, Helm values, Kubernetes objects.
//! Plugins pass each other typed, secret-free [`bind`]ings (storage → catalog,
//! compute, orchestrator; catalog → compute; compute → semantic layer), and
//! [`compose`] checks that the selected set can work together.
//!
//! **Architecture Invariant:** plugins are pure functions of the resolved
//! configuration. They never connect to the system they describe: a DuckDB
//! plugin does not open a database, a Snowflake plugin does not log in.
//! Checking a connection for real is `floe doctor`'s job, outside the build.

pub mod bind;
pub mod compose;
pub mod config;
pub mod meta;
pub mod reference;
pub mod registry;

mod alert;
mod catalog;
mod compute;
mod dbt;
mod identity;
mod ingestion;
mod lineage;
mod network;
mod orchestrator;
mod quality;
mod rbac;
mod secrets;
mod semantic;
mod storage;
mod telemetry;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;

use serde_json::Value;

pub use bind::{
    CatalogBinding, Datasource, Egress, IngestionStep, JobSpec, OtlpExporter, ProductContext, Resources, Selected,
    StorageBinding, WorkloadSize,
};
pub use config::{ConfigError, Credential};
pub use lineage::default_namespace as default_lineage_namespace;
pub use meta::{ApiVersion, Capability, Category, Meta, PLUGIN_API, Requirement, satisfies};
pub use registry::{Any, all, find};

/// What every plugin has: metadata, a configuration schema, its checks, and
/// its part of the floe-platform Helm values.
pub trait Plugin: Send + Sync {
    fn meta(&self) -> &'static Meta;

    /// The JSON Schema of `config` (unknown keys are errors).
    fn config_schema(&self) -> Value;

    /// Checks beyond the schema (values that depend on each other). Runs only
    /// on a config the schema accepted.
    fn check(&self, _sel: &Selected<'_>) -> Vec<ConfigError> {
        Vec::new()
    }

    /// Its values in the floe-platform chart (`{<service>: {enabled: true, …}}`),
    /// or `Null` when it runs no platform service. Never holds a secret value.
    fn helm_values(&self, _sel: &Selected<'_>) -> Value {
        Value::Null
    }
}

/// Every problem with a selection's configuration: the schema's, then the plugin's own.
pub fn validate(plugin: &dyn Plugin, sel: &Selected<'_>) -> Vec<ConfigError> {
    let empty = Value::Object(Default::default());
    let errors = config::check_plugin(plugin, sel.config.unwrap_or(&empty));
    if !errors.is_empty() {
        return errors;
    }
    plugin.check(sel)
}

/// A compute engine dbt runs models on.
pub trait Compute: Plugin {
    /// The dbt adapter's `type` in a profile (`duckdb`, `snowflake`).
    fn adapter(&self) -> &'static str;
    /// One dbt profile output (`outputs.<name>`) for a product, in the shape the
    /// adapter documents; credentials only as `{{ env_var('FLOE_SECRET_…') }}`.
    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value>;
    /// The Python packages a job needs to run dbt on it (`dbt-duckdb>=1.9,<2`).
    fn required_dbt_packages(&self) -> Vec<String>;
    /// Container resources for a product's dbt job of this size.
    fn resource_requirements(&self, size: WorkloadSize) -> Resources;
    /// How a semantic layer reaches the tables this engine writes.
    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource>;
}

/// Schedules and runs a product's jobs.
pub trait Orchestrator: Plugin {
    /// The product's orchestration files (`definitions.py`), each as (file name, text).
    fn definitions(&self, sel: &Selected<'_>, job: &JobSpec<'_>) -> Vec<(String, String)>;
    /// The names of [`Orchestrator::definitions`]' files, in order, without
    /// generating them (a derivation needs its file names before it builds).
    fn files(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Vec<String>;
    /// Python packages the definitions import.
    fn requirements(&self) -> Vec<String>;
}

/// The Iceberg catalog tables are registered in.
pub trait Catalog: Plugin {
    fn catalog_binding(&self, sel: &Selected<'_>, storage: Option<&StorageBinding>) -> CatalogBinding;
}

/// Object storage the tables' files live in.
pub trait Storage: Plugin {
    /// Where and how to reach it, secret-free.
    fn deployment_binding(&self, sel: &Selected<'_>) -> StorageBinding;
    /// PyIceberg FileIO properties (`s3.endpoint`, …); credentials come from
    /// the environment or the workload identity, never from here.
    fn pyiceberg_fileio(&self, sel: &Selected<'_>) -> BTreeMap<String, Value>;
}

/// Where OpenTelemetry traces, metrics and logs go.
pub trait TelemetryBackend: Plugin {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter;
    /// Overrides of the OpenTelemetry Collector's values in the platform chart.
    fn helm_values_override(&self, sel: &Selected<'_>) -> Value;
}

/// Where OpenLineage events go.
pub trait LineageBackend: Plugin {
    /// The OpenLineage client's `transport` (shape of the client's YAML config).
    fn transport_config(&self, sel: &Selected<'_>) -> Value;
    /// The OpenLineage namespace a product's jobs and datasets report under.
    fn namespace_mapping(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> String;
}

/// The dbt runtime that runs the project.
pub trait DbtRuntime: Plugin {
    /// The command line of a run, without flags (`["dbt", "build"]`).
    fn command(&self, sel: &Selected<'_>) -> Vec<String>;
    /// Python packages (or none, for a standalone binary) a job installs.
    fn requirements(&self, compute: &dyn Compute) -> Vec<String>;
}

/// Metrics defined once over the product's models.
pub trait SemanticLayer: Plugin {
    /// Its configuration files for a datasource (`cube.js`), each (file name, text).
    fn config_files(&self, sel: &Selected<'_>, datasource: &Datasource) -> Vec<(String, String)>;
}

/// Loads source data into raw tables.
pub trait Ingestion: Plugin {
    /// The pipeline configuration of a product's sources, placed in the
    /// compiled artifacts under `plugins.ingestion.config`.
    fn pipeline_config(&self, sel: &Selected<'_>, sources: &Value, storage: Option<&StorageBinding>) -> Value;
    /// The command a job runs to ingest.
    fn command(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Vec<String>;
}

/// Makes referenced secrets available to workloads.
pub trait Secrets: Plugin {
    /// Kubernetes objects that make the Secret `name` (with `keys`) exist in
    /// `namespace`; none when it is expected to exist already.
    fn secret_objects(&self, sel: &Selected<'_>, namespace: &str, name: &str, keys: &[String]) -> Vec<Value>;
}

/// Who people and services are (OIDC).
pub trait Identity: Plugin {
    /// The OIDC issuer URL platform services trust.
    fn issuer(&self, sel: &Selected<'_>) -> String;
}

/// Runs data quality checks.
pub trait Quality: Plugin {
    /// dbt packages (`packages.yml` entries) the checks need.
    fn dbt_packages(&self) -> Vec<Value>;
    /// Python packages a job installs to run them.
    fn requirements(&self) -> Vec<String>;
}

/// Who may do what in the cluster.
pub trait Rbac: Plugin {
    /// What a product's jobs may do through their ServiceAccount, given the
    /// Secrets they read: floe makes the account, its Role and RoleBinding.
    fn run_access(&self, sel: &Selected<'_>, secrets: &[String]) -> RunAccess;
}

/// A product's jobs' access to the Kubernetes API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunAccess {
    /// Whether the ServiceAccount's API token is mounted into the pods.
    pub automount_token: bool,
    /// The Role's rules, as Kubernetes reads them (`apiGroups`, `resources`,
    /// `resourceNames`, `verbs`); none: no Role and no RoleBinding.
    pub rules: Vec<Value>,
}

/// Where alerts are sent.
pub trait AlertChannel: Plugin {
    /// An Alertmanager receiver named `name`.
    fn receiver(&self, sel: &Selected<'_>, name: &str) -> Value;
}

/// Which traffic is allowed.
pub trait NetworkSecurity: Plugin {
    /// NetworkPolicies for a product namespace: default deny plus `egress`.
    fn network_policies(&self, sel: &Selected<'_>, namespace: &str, egress: &[Egress]) -> Vec<Value>;
}
