//! `floe.yaml`: one data product (kind `FloeSpec`, alias `DataProduct`).
//!
//! Field names, constraints and defaults follow the Python implementation's
//! FloeSpec schema; `inputPorts`, `ingestion` and the richer `outputPorts` are the
//! Data Mesh extensions that implementation lacks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Code, Diagnostic};
use crate::yaml::{Node, NodeKind};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "FloeSpec", description = "A floe data product (floe.yaml)")]
pub struct FloeSpec {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: SpecKind,
    pub metadata: ProductMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformRef>,
    #[schemars(length(min = 1))]
    pub transforms: Vec<TransformSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    #[serde(rename = "inputPorts", default, skip_serializing_if = "Option::is_none")]
    pub input_ports: Option<Vec<InputPort>>,
    #[serde(rename = "outputPorts", default, skip_serializing_if = "Option::is_none")]
    pub output_ports: Option<Vec<OutputPort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion: Option<Ingestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<DestinationConfig>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    #[serde(rename = "floe.dev/v1")]
    V1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SpecKind {
    FloeSpec,
    DataProduct,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductMetadata {
    /// Product name (DNS-compatible: lowercase, starts with a letter).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"), length(min = 1, max = 63))]
    pub name: String,
    /// Semantic version MAJOR.MINOR.PATCH.
    #[schemars(regex(pattern = r"^\d+\.\d+\.\d+$"))]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformRef {
    /// A path relative to this file, or an `oci://` reference pinned in `floe.lock`.
    #[schemars(length(min = 1))]
    pub manifest: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// dbt model name.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Compute plugin for this model; the platform default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(rename = "qualityChecks", default, skip_serializing_if = "Option::is_none")]
    pub quality_checks: Option<Vec<QualityCheck>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Completeness,
    Accuracy,
    Validity,
    Consistency,
    Timeliness,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    Critical,
    #[default]
    Warning,
    Info,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityCheck {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub check_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub dimension: Dimension,
    #[serde(default)]
    pub severity: SeverityLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 10.0))]
    pub custom_weight: Option<f64>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn utc() -> String {
    "UTC".to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A dependency on another product's output port: the consumer's derivations take
/// the producer's contract (not its whole floe.yaml) as an input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputPort {
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// `//domain/product:port`, or relative to this product's directory.
    #[schemars(length(min = 1))]
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Columns this product reads; each must exist in the producer's port schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expects: Option<Vec<String>>,
    /// Service levels this product needs; the producer's must be at least as strong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPort {
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub owner: Option<String>,
    /// The dbt model that materializes this port; the port name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[schemars(length(min = 1))]
    pub schema: Vec<OutputPortColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPortColumn {
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// ODCS v3 logicalType.
    #[serde(rename = "type")]
    pub column_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(rename = "primaryKey", default)]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Maximum age of the data as an ISO-8601 duration (`PT1H`, `P1D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^P(\d+W|(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)$"))]
    pub freshness: Option<String>,
    /// Availability in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub availability: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingestion {
    #[schemars(length(min = 1))]
    pub sources: Vec<IngestionSource>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestionSource {
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    pub format: SourceFormat,
    #[schemars(length(min = 1))]
    pub path: String,
    /// Raw table written to, `schema.table` (e.g. `bronze.raw_customers`).
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*\.[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub destination: String,
    #[serde(default)]
    pub write_mode: WriteMode,
    #[serde(default)]
    pub schema_contract: SchemaContract,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    #[default]
    Append,
    Replace,
    Merge,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemaContract {
    #[default]
    Evolve,
    Freeze,
    DiscardValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(min = 1))]
    pub sink_type: String,
    /// Kubernetes Secret holding the destination's credentials.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$"), length(max = 253))]
    pub connection_secret_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mapping: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub batch_size: Option<u32>,
}

/// Keys that name an environment or a connection. A data product is promoted
/// unchanged across environments, so these belong to the platform, never here.
pub const CONNECTION_KEYS: &[&str] =
    &["host", "hostname", "port", "user", "username", "connection_url", "database_url", "dsn"];

/// Connection settings and credentials ([`crate::secret::CREDENTIAL_KEYS`]).
pub fn is_forbidden_key(key: &str) -> bool {
    CONNECTION_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) || crate::secret::is_credential_key(key)
}

/// Checks the whole document for connection keys, at any depth.
pub(crate) fn forbidden_keys(node: &Node, file: &str, out: &mut Vec<Diagnostic>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                if is_forbidden_key(&key.name) {
                    out.push(
                        Diagnostic::error(
                            Code::ForbiddenConnectionKey,
                            format!("`{}` is a connection setting and is not allowed in floe.yaml", key.name),
                        )
                        .at(file, key.span)
                        .with_help("connections belong to the platform manifest; credentials are secret references"),
                    );
                }
                forbidden_keys(value, file, out);
            }
        }
        NodeKind::Seq(items) => items.iter().for_each(|i| forbidden_keys(i, file, out)),
        _ => {}
    }
}
