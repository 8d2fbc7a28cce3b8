//! `floe.yaml`: one data product (kind `FloeSpec`, alias `DataProduct`).
//!
//! Field names, constraints and defaults follow the Python implementation's
//! FloeSpec schema; `inputPorts`, `ingestion` and the richer `outputPorts` are the
//! Data Mesh extensions that implementation lacks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Code, Diagnostic};
use crate::manifest::{Classification, PolicyEnforcementLevel};
use crate::yaml::{Node, NodeKind};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "FloeSpec", description = "A floe data product (floe.yaml)")]
pub struct FloeSpec {
    /// Version of the floe.yaml format: `floe.dev/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    /// `FloeSpec`, or its alias `DataProduct`.
    pub kind: SpecKind,
    /// The product's name, version, owner and labels.
    pub metadata: ProductMetadata,
    /// The platform this product builds against; inside a workspace that is always the nearest manifest above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformRef>,
    /// The dbt models this product builds, one transform per model of its dbt project.
    #[schemars(length(min = 1))]
    pub transforms: Vec<TransformSpec>,
    /// When the orchestrator runs the product; without it, the orchestrator's `default_schedule`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// Other products' output ports this product reads; floe checks each exists and offers what is expected.
    #[serde(rename = "inputPorts", default, skip_serializing_if = "Option::is_none")]
    pub input_ports: Option<Vec<InputPort>>,
    /// Tables this product offers to others; each becomes a data contract in the compiled artifacts.
    #[serde(rename = "outputPorts", default, skip_serializing_if = "Option::is_none")]
    pub output_ports: Option<Vec<OutputPort>>,
    /// Files loaded into raw tables before dbt runs, by the platform's ingestion plugin (which must be selected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion: Option<Ingestion>,
    /// Reverse-ETL destinations; floe checks their form, and no output uses them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<DestinationConfig>>,
    /// This product's own guardrails, on top of its platform's: it may only tighten them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<ProductGovernance>,
}

/// A product's own guardrails: each may only be stronger than its platform's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductGovernance {
    /// The product's data contracts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_contracts: Option<ProductDataContracts>,
}

/// How the product's data contracts are held, at least as strictly as its platform says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDataContracts {
    /// How strictly runtimes enforce the product's contracts (`off`, `warn`, `strict`), written in
    /// each contract; at least the platform's `governance.data_contracts.enforcement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<PolicyEnforcementLevel>,
    /// The highest classification this product may read or offer; at most its platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_classification: Option<Classification>,
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
    /// What the product is for: its job's documentation in its lineage (`lineage.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    /// Team or person responsible for the product: its job's owner in its lineage (`lineage.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub owner: Option<String>,
    /// Free-form labels; `domain` names the product's domain when the platform has no domain tiers (else `default`), and its runs' namespace, `floe-<domain>` (so lowercase letters, digits and `-`, at most 58 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformRef {
    /// The platform's manifest.yaml, relative to this file: the manifest the product belongs to.
    /// An `oci://` reference is reported as unpinned (E0209).
    #[schemars(length(min = 1))]
    pub manifest: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// The dbt model this transform builds: the dbt project needs a model of that name, and each model a transform.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// Free text for people; no output carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Compute plugin this model runs on: the platform's default when absent, else one the enterprise approves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// Tags of the model, added to its dbt property file's for tag policies; copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Transforms this one reads; they must match the model's `ref()` calls, and order the orchestrator's steps.
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Medallion layer of the model (else its name prefix tells): picks its coverage threshold.
    /// Copied into the compiled artifacts as `quality_tier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Data quality checks of the model, copied into the compiled artifacts; floe itself runs none.
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
    /// Name of the check.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Kind of check, as the quality tool names it.
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub check_type: String,
    /// Column the check applies to; the whole model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Quality dimension the check counts towards.
    pub dimension: Dimension,
    /// How much a failure of the check weighs.
    #[serde(default)]
    pub severity: SeverityLevel,
    /// Weight of the check in the quality score, instead of its severity's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 10.0))]
    pub custom_weight: Option<f64>,
    /// Parameters of the check, passed on unchanged.
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Whether the check runs.
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
    /// Cron expression the orchestrator runs the product on; without it the product has no schedule of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Time zone the cron expression is read in (an IANA name such as `Europe/Berlin`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// `false` drops this schedule, leaving the orchestrator's `default_schedule`, if any.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A dependency on another product's output port: the consumer's derivations take
/// the producer's contract (not its whole floe.yaml) as an input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputPort {
    /// Name of the input port, unique in this product.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// `//domain/product:port`, or relative to this product's directory; for a product outside
    /// the workspace, its contract's id, `urn:…[:<version>][#<table>]`, read from a
    /// `datacontract.yaml` in the workspace.
    #[schemars(length(min = 1))]
    pub from: String,
    /// Free text for people; no output carries it.
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
    /// Port name, unique in this product: consumers read it as `//domain/product:<name>`; it names the data contract.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// Purpose of the port: the data contract's `description.purpose`, and its dataset's documentation in the lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    /// Team responsible for the port, for people; no output carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub owner: Option<String>,
    /// The dbt model that materializes this port; the port name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Columns the port offers: the data contract's schema, which consumers' `expects` are checked against.
    #[schemars(length(min = 1))]
    pub schema: Vec<OutputPortColumn>,
    /// Service levels the port promises: the contract's `slaProperties`; consumers may ask for no more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    /// Data classification of the columns that set none, in the data contract; at least that of
    /// anything the product reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPortColumn {
    /// Column name.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// ODCS v3 logicalType.
    #[serde(rename = "type")]
    pub column_type: String,
    /// Column description, in the data contract and the lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    /// Whether the column always has a value, in the data contract.
    #[serde(default)]
    pub required: bool,
    /// Whether the column is part of the primary key, in the data contract.
    #[serde(rename = "primaryKey", default)]
    pub primary_key: bool,
    /// Data classification of the column (`pii`, `confidential`, …) in the data contract; the port's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Maximum age of the data as an ISO-8601 duration (`PT1H`, `P1D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^P(\d+W|(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)$"))]
    pub freshness: Option<String>,
    /// Availability in percent, from 0 to 100: `99.5` or `"99.5%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Percent>,
}

/// A percentage, written `99.5` or `"99.5%"`: held (and hashed, and
/// written) as the number, so both spellings are one value.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "PercentText", into = "f64")]
pub struct Percent(pub f64);

impl From<Percent> for f64 {
    fn from(p: Percent) -> f64 {
        p.0
    }
}

impl TryFrom<PercentText> for Percent {
    type Error = String;

    fn try_from(text: PercentText) -> Result<Percent, String> {
        let value = match text {
            PercentText::Number(n) => n,
            PercentText::Text(t) => {
                let number = t.trim().strip_suffix('%').unwrap_or(&t);
                number.trim().parse::<f64>().map_err(|_| format!("`{t}` is not a percentage"))?
            }
        };
        match (0.0..=100.0).contains(&value) {
            true => Ok(Percent(value)),
            false => Err(format!("{value} is not between 0 and 100")),
        }
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A percentage: a number from 0 to 100, or the same followed by `%` (`99.5`, `\"99.5%\"`).",
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": "^(100(\\.0+)?|[0-9]{1,2}(\\.[0-9]+)?)%$"}
            ]
        })
    }
}

/// A percentage as it may be written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PercentText {
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingestion {
    /// The sources to load, one raw table each.
    #[schemars(length(min = 1))]
    pub sources: Vec<IngestionSource>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestionSource {
    /// Source name, unique in this product; the ingestion step loads each source under its name.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"), length(min = 1, max = 128))]
    pub name: String,
    /// File format the source is read as.
    pub format: SourceFormat,
    /// Where the files are: a directory or bucket URL ending in a file name or glob (`s3://landing/orders/*.csv`).
    #[schemars(length(min = 1))]
    pub path: String,
    /// Raw table written to, `schema.table` (e.g. `bronze.raw_customers`).
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*\.[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub destination: String,
    /// How a load writes the table: `append` adds rows, `replace` overwrites it, `merge` updates rows by `primary_key`.
    #[serde(default)]
    pub write_mode: WriteMode,
    /// What a load does when columns or types change: `evolve` adapts the table, `freeze` fails,
    /// `discard_value` drops the values that do not fit.
    #[serde(default)]
    pub schema_contract: SchemaContract,
    /// Columns that identify a row, for `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Vec<String>>,
    /// Column of an incremental load: each load reads only rows past the last value it saw.
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
    /// Destination name.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Kind of sink the rows are sent to.
    #[schemars(length(min = 1))]
    pub sink_type: String,
    /// Kubernetes Secret holding the destination's credentials.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$"), length(max = 253))]
    pub connection_secret_ref: String,
    /// Table whose rows are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_table: Option<String>,
    /// Settings of the sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// Column of the source table to field of the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mapping: Option<BTreeMap<String, String>>,
    /// Rows sent per batch.
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
