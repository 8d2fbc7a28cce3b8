//! `compiled_artifacts.json`: the per-product output of a build.
//!
//! Mirrors the Python implementation's CompiledArtifacts JSON Schema (contract
//! [`CONTRACT_VERSION`]) so its consumers read floe's output unchanged: the same
//! field names, enums and required fields, and a `null` wherever the Python output
//! writes one. Defaults are the anchor's, so older artifacts that omit defaulted
//! fields still load. The data contracts are the ODCS v3 subset the anchor embeds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// Governance and quality settings are written into the artifacts as the
// manifest resolved them: the same types.
pub use crate::manifest::{
    AuditLogging, CalculationParameters, DimensionWeights, GateTier, LineageTransport, PiiEncryption,
    PolicyEnforcementLevel as EnforcementLevel, QualityConfig, QualityGates, QualityThresholds, SeverityWeights,
    StaleTableRecoveryMode,
};
use crate::spec::{Dimension, SeverityLevel, Tier};

/// The CompiledArtifacts contract version this model implements.
pub const CONTRACT_VERSION: &str = "0.10.0";

const SEMVER: &str = r"^\d+\.\d+\.\d+$";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "CompiledArtifacts",
    description = "Output of a floe build for one data product (compiled_artifacts.json)"
)]
pub struct CompiledArtifacts {
    /// CompiledArtifacts contract version.
    #[serde(default = "contract_version")]
    #[schemars(regex(pattern = SEMVER))]
    pub version: String,
    pub metadata: CompilationMetadata,
    pub identity: ProductIdentity,
    #[serde(default)]
    pub mode: Mode,
    /// Manifests this product's platform inherits from, outermost first.
    #[serde(default)]
    pub inheritance_chain: Vec<ManifestRef>,
    pub observability: ObservabilityConfig,
    #[serde(default)]
    pub plugins: Option<ResolvedPlugins>,
    #[serde(default)]
    pub transforms: Option<ResolvedTransforms>,
    /// dbt `profiles.yml` content, by profile name. The anchor leaves its shape to
    /// each compute plugin's dbt adapter.
    #[serde(default)]
    pub dbt_profiles: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub governance: Option<ResolvedGovernance>,
    #[serde(default)]
    pub enforcement_result: Option<EnforcementResultSummary>,
    #[serde(default)]
    pub data_contracts: Vec<OpenDataContractStandard>,
    #[serde(default)]
    pub quality_config: Option<QualityConfig>,
}

fn contract_version() -> String {
    CONTRACT_VERSION.to_owned()
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompilationMetadata {
    #[schemars(extend("format" = "date-time"))]
    pub compiled_at: String,
    pub floe_version: String,
    /// `sha256:<hex>` over the input files.
    pub source_hash: String,
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]*$"), length(min = 1, max = 128))]
    pub product_name: String,
    pub product_version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIdentity {
    /// `<domain>.<product>`, e.g. `sales.customer_360`.
    #[schemars(length(min = 1))]
    pub product_id: String,
    #[schemars(length(min = 1))]
    pub domain: String,
    /// Source repository URL; empty when unknown.
    pub repository: String,
    #[serde(default)]
    pub namespace_registered: bool,
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub registration_timestamp: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Simple,
    Centralized,
    Mesh,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestRef {
    pub name: String,
    pub version: String,
    pub scope: ManifestScope,
    /// OCI reference of the manifest artifact.
    #[serde(rename = "ref")]
    pub reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManifestScope {
    Enterprise,
    Domain,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservabilityConfig {
    pub telemetry: TelemetryConfig,
    /// Whether OpenLineage events are emitted.
    #[serde(default = "yes")]
    pub lineage: bool,
    #[schemars(length(min = 1))]
    pub lineage_namespace: String,
    #[serde(default)]
    pub lineage_endpoint: Option<String>,
    #[serde(default)]
    pub lineage_transport: Option<LineageTransport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// OTLP collector endpoint.
    #[serde(default = "default_otlp_endpoint")]
    pub otlp_endpoint: String,
    #[serde(default)]
    pub otlp_protocol: OtlpProtocol,
    #[serde(default)]
    pub sampling: SamplingConfig,
    pub resource_attributes: ResourceAttributes,
    #[serde(default)]
    pub authentication: Option<TelemetryAuth>,
    #[serde(default)]
    pub batch_processor: BatchSpanProcessorConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Telemetry backend plugin name (`console`, `jaeger`, ...).
    #[serde(default = "default_backend")]
    pub backend: String,
}

fn default_otlp_endpoint() -> String {
    "http://localhost:4317".to_owned()
}

fn default_backend() -> String {
    "console".to_owned()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    #[default]
    Grpc,
    Http,
}

/// Trace sampling ratio per environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    #[schemars(range(min = 0.0, max = 1.0))]
    pub dev: f64,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub staging: f64,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub prod: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { dev: 1.0, staging: 0.5, prod: 0.1 }
    }
}

/// OpenTelemetry resource attributes attached to every trace, metric and log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAttributes {
    #[schemars(length(min = 1, max = 128))]
    pub service_name: String,
    #[schemars(regex(pattern = r"^\d+\.\d+\.\d+.*$"))]
    pub service_version: String,
    pub deployment_environment: Environment,
    /// Catalog namespace of the product.
    #[schemars(length(min = 1, max = 128))]
    pub floe_namespace: String,
    #[schemars(length(min = 1, max = 128))]
    pub floe_product_name: String,
    pub floe_product_version: String,
    pub floe_mode: Environment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryAuth {
    pub auth_type: TelemetryAuthType,
    #[serde(default)]
    #[schemars(extend("format" = "password", "writeOnly" = true))]
    pub api_key: Option<String>,
    #[serde(default)]
    #[schemars(extend("format" = "password", "writeOnly" = true))]
    pub bearer_token: Option<String>,
    /// HTTP header that carries the credential.
    #[serde(default = "default_auth_header")]
    pub header_name: String,
}

fn default_auth_header() -> String {
    "Authorization".to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TelemetryAuthType {
    ApiKey,
    Bearer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSpanProcessorConfig {
    #[schemars(range(min = 1))]
    pub max_queue_size: u32,
    #[schemars(range(min = 1))]
    pub max_export_batch_size: u32,
    #[schemars(range(min = 1))]
    pub schedule_delay_millis: u32,
    #[schemars(range(min = 1))]
    pub export_timeout_millis: u32,
}

impl Default for BatchSpanProcessorConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            schedule_delay_millis: 5000,
            export_timeout_millis: 30000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// Minimum log level, case-insensitive.
    #[schemars(regex(pattern = r"^(?i)(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"))]
    pub log_level: String,
    /// JSON log lines (true) or console output (false).
    pub json_output: bool,
}

impl Default for LoggingConfig {
    // The Python runtime's defaults when FLOE_LOG_LEVEL and FLOE_LOG_JSON are unset.
    fn default() -> Self {
        Self { log_level: "INFO".to_owned(), json_output: true }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolvedPlugins {
    pub compute: PluginRef,
    pub orchestrator: PluginRef,
    #[serde(default)]
    pub catalog: Option<PluginRef>,
    #[serde(default)]
    pub storage: Option<PluginRef>,
    #[serde(default)]
    pub ingestion: Option<PluginRef>,
    #[serde(default)]
    pub semantic: Option<PluginRef>,
    #[serde(default)]
    pub lineage_backend: Option<PluginRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// Plugin type name (`duckdb`, `dagster`, ...).
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub plugin_type: String,
    #[schemars(regex(pattern = SEMVER))]
    pub version: String,
    /// Plugin-specific configuration; each plugin defines its own keys.
    #[serde(default)]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolvedTransforms {
    #[schemars(length(min = 1))]
    pub models: Vec<ResolvedModel>,
    /// Compute target of models that name none.
    #[schemars(length(min = 1))]
    pub default_compute: String,
}

/// A dbt model with its compute target resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolvedModel {
    #[schemars(length(min = 1))]
    pub name: String,
    #[schemars(length(min = 1))]
    pub compute: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    #[serde(default)]
    pub quality_checks: Option<Vec<QualityCheck>>,
    #[serde(default)]
    pub quality_tier: Option<Tier>,
}

/// A quality check as compiled: the floe.yaml check with every field written out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityCheck {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub check_type: String,
    /// Target column; `null` for a table-level check.
    #[serde(default)]
    pub column: Option<String>,
    pub dimension: Dimension,
    #[serde(default)]
    pub severity: SeverityLevel,
    #[serde(default)]
    #[schemars(range(min = 0.1, max = 10.0))]
    pub custom_weight: Option<f64>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Governance after inheritance: a child manifest can only strengthen these.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolvedGovernance {
    #[serde(default)]
    pub pii_encryption: Option<PiiEncryption>,
    #[serde(default)]
    pub audit_logging: Option<AuditLogging>,
    #[serde(default)]
    pub policy_enforcement_level: Option<EnforcementLevel>,
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub data_retention_days: Option<u32>,
    /// Table-level partition TTL.
    #[serde(default)]
    #[schemars(range(min = 1, max = 8760))]
    pub default_ttl_hours: Option<u32>,
    /// Minimum Iceberg snapshots kept per table.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub snapshot_keep_last: Option<u32>,
    #[serde(default)]
    pub stale_table_recovery_mode: Option<StaleTableRecoveryMode>,
}

/// The policy enforcement outcome in brief; full violations go to the SARIF report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforcementResultSummary {
    pub passed: bool,
    pub error_count: u32,
    pub warning_count: u32,
    pub policy_types_checked: Vec<String>,
    pub models_validated: u32,
    pub enforcement_level: EnforcementLevel,
    /// Authenticated principal from RBAC validation.
    #[serde(default)]
    pub rbac_principal: Option<String>,
    /// Secret-scanning violations found.
    #[serde(default)]
    pub secrets_scanned: u32,
}

// The Open Data Contract Standard (v3) subset the anchor embeds. Every field is
// optional there; absent ones are left out so a generated contract stays compact.
// Only the contract itself is closed to unknown keys, as in the anchor.

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenDataContractStandard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<Server>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Vec<SchemaObject>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<Vec<Support>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Pricing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<ContractTeam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_default_element: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_properties: Option<Vec<ServiceLevelAgreementProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_created_ts: Option<String>,
}

/// ODCS v3.1 takes a team object; v3.0 took a bare member list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ContractTeam {
    Team(Team),
    Members(Vec<TeamMember>),
}

/// One table (or other object) the contract describes. Closed, as in ODCS
/// v3.1 (a `columns` list of an older draft is an error, not ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchemaObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_granularity_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<SchemaProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Vec<Relationship>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Vec<DataQuality>>,
}

/// One column (or nested field) of a schema object; closed, as in ODCS v3.1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchemaProperty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_position: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_type_options: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key_position: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_source_objects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_logic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_description: Option<String>,
    /// Sample values, of any JSON type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_data_element: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Vec<Relationship>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Vec<DataQuality>>,
    /// Fields of an object-typed property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<SchemaProperty>>,
    /// Element of an array-typed property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<SchemaProperty>>,
}

/// One service level; closed, as in ODCS v3.1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceLevelAgreementProperty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The service level measured (`latency`, `frequency`, `retention`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_ext: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// A JSON scalar. Numbers keep their integer or float form, so `99` is not
/// rewritten as `99.0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    String(String),
    Number(serde_json::Number),
    Boolean(bool),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<TeamMember>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_out: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Support {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_level_approvers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_level_approvers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pricing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_amount: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_unit: Option<String>,
}

/// Where the contracted data is served. Which location fields apply depends on
/// `type` (a `host` and `port` for a database, a `location` for object storage).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub server_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
}

/// The contract's description (a schema object's is plain text).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Description {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitations: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthoritativeDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub definition_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomProperty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A foreign-key style link between columns (`schema.column` references).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub relationship_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ColumnRefs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ColumnRefs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
}

/// One column reference, or several for a composite key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ColumnRefs {
    One(String),
    Many(Vec<String>),
}

/// A data quality rule on a schema object or property.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataQuality {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authoritative_definitions: Option<Vec<AuthoritativeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_impact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub quality_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<BTreeMap<String, serde_json::Value>>,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be: Option<serde_json::Value>,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_not_be: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be_greater_than: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be_greater_or_equal_to: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be_less_than: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be_less_or_equal_to: Option<serde_json::Number>,
    /// Inclusive `[low, high]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_be_between: Option<[serde_json::Number; 2]>,
    /// Inclusive `[low, high]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_not_be_between: Option<[serde_json::Number; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<Implementation>,
}

/// How a custom quality rule is run: engine-specific text, or a structured spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Implementation {
    Text(String),
    Spec(BTreeMap<String, serde_json::Value>),
}
