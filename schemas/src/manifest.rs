//! `manifest.yaml`: one platform's configuration (kind `Manifest`), owned by a
//! platform team and shared by every data product that builds against it.
//!
//! Field names, constraints and defaults follow the Python implementation's
//! PlatformManifest schema. floe is stricter about the top level (an unknown key is
//! an error) and also reads resource presets in the flat `cpu_request` form the demo
//! manifest uses. Rules that relate several keys are in [`extra_checks`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Code, Diagnostic};
use crate::spec::ApiVersion;
use crate::yaml::{Node, NodeKind};

/// A Kubernetes object name: lowercase alphanumerics and hyphens, no hyphen at the ends.
const K8S_NAME: &str = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$";

/// Whether `s` is a DNS-1123 label's characters (what [`K8S_NAME`] matches):
/// lowercase letters, digits and `-`, starting and ending with a letter or
/// digit. Its length is the caller's to bound.
pub fn is_dns_label(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    edge(s.chars().next())
        && edge(s.chars().next_back())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
const SEMVER: &str = r"^\d+\.\d+\.\d+$";
/// What the Python models accept as an HTTP(S) URL.
const HTTP_URL: &str = r"^https?://[^\s/?#]+([/?#]\S*)?$";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Manifest", description = "A floe platform manifest (manifest.yaml)")]
pub struct Manifest {
    /// Version of the manifest format: `floe.dev/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    /// Always `Manifest`.
    pub kind: ManifestKind,
    /// The platform's name, version, owner and description.
    pub metadata: ManifestMetadata,
    /// No scope: a single platform; `enterprise` and `domain` form a two-level hierarchy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The enterprise manifest a domain manifest inherits from (domain scope only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_manifest: Option<String>,
    /// The plugin selected for each platform category; a domain's selections merge over the enterprise's.
    pub plugins: PluginsConfig,
    /// Policies every product is checked against; a domain may add to the enterprise's, never loosen them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<GovernanceConfig>,
    /// Approved plugin types per category (enterprise scope only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_plugins: Option<BTreeMap<String, Vec<String>>>,
    /// Reverse-ETL sink types the enterprise approves (enterprise scope only); not yet checked against `destinations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_sinks: Option<Vec<String>>,
    /// Data products this domain approves (domain scope only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_products: Option<Vec<String>>,
    /// Free-form default settings (`compute: duckdb`), kept in `manifest.resolved.json`; floe reads none of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<BTreeMap<String, String>>,
    /// OCI registry, signing and promotion of platform artifacts: checked and kept in `manifest.resolved.json`;
    /// floe neither publishes nor promotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<ArtifactsConfig>,
    /// Tracing, lineage and logging of product runs, written into each product's compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<ObservabilityManifestConfig>,
    /// Named CPU and memory presets for workloads, kept in `manifest.resolved.json`; no output uses them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_presets: Option<BTreeMap<String, ResourcePreset>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum ManifestKind {
    Manifest,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestMetadata {
    /// Manifest name (lowercase alphanumerics and hyphens); a domain manifest's name is its products' domain.
    #[schemars(regex(pattern = K8S_NAME), length(min = 1, max = 63))]
    pub name: String,
    /// Semantic version MAJOR.MINOR.PATCH.
    #[schemars(regex(pattern = SEMVER))]
    pub version: String,
    /// Owner email or team name.
    #[schemars(length(min = 1))]
    pub owner: String,
    /// What the platform is, for people; no output carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Enterprise,
    Domain,
}

/// The plugin chosen for each platform capability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Compute engine (duckdb, snowflake, spark, bigquery, databricks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<PluginSelection>,
    /// Workflow orchestration (dagster, airflow, prefect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<PluginSelection>,
    /// Iceberg catalog (polaris, glue, hive, unity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PluginSelection>,
    /// Object storage (s3, gcs, azure-blob, minio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<PluginSelection>,
    /// Semantic layer (cube, dbt-semantic-layer, none); `none` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_layer: Option<PluginSelection>,
    /// Data ingestion (dlt, airbyte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion: Option<PluginSelection>,
    /// Secret management (k8s, external-secrets, vault, infisical); `k8s` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<PluginSelection>,
    /// OTLP telemetry backend (jaeger, datadog, grafana-cloud, aws-xray, console).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_backend: Option<PluginSelection>,
    /// OpenLineage backend (marquez, atlan, openmetadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_backend: Option<PluginSelection>,
    /// Identity provider, OIDC (keycloak, dex, authentik, okta, auth0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PluginSelection>,
    /// dbt execution runtime (core, fusion, cloud); `core` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbt: Option<PluginSelection>,
    /// Data quality (great_expectations, soda, dbt_expectations): `provider` selects the plugin; the other
    /// settings are kept in `manifest.resolved.json`, and floe reads none of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityConfig>,
    /// Kubernetes RBAC for product workloads (k8s); `k8s` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<PluginSelection>,
    /// Where alerts go (slack, webhook, email, pagerduty, alertmanager).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_channel: Option<PluginSelection>,
    /// Network policies for product namespaces (k8s); `k8s` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_security: Option<PluginSelection>,
}

impl PluginsConfig {
    /// The categories holding a [`PluginSelection`], in field order.
    pub const CATEGORIES: &'static [&'static str] = &[
        "compute",
        "orchestrator",
        "catalog",
        "storage",
        "semantic_layer",
        "ingestion",
        "secrets",
        "telemetry_backend",
        "lineage_backend",
        "identity",
        "dbt",
        "rbac",
        "alert_channel",
        "network_security",
    ];

    /// The selection for `category`, when the category exists and is set.
    pub fn get(&self, category: &str) -> Option<&PluginSelection> {
        let slot = match category {
            "compute" => &self.compute,
            "orchestrator" => &self.orchestrator,
            "catalog" => &self.catalog,
            "storage" => &self.storage,
            "semantic_layer" => &self.semantic_layer,
            "ingestion" => &self.ingestion,
            "secrets" => &self.secrets,
            "telemetry_backend" => &self.telemetry_backend,
            "lineage_backend" => &self.lineage_backend,
            "identity" => &self.identity,
            "dbt" => &self.dbt,
            "rbac" => &self.rbac,
            "alert_channel" => &self.alert_channel,
            "network_security" => &self.network_security,
            _ => return None,
        };
        slot.as_ref()
    }

    /// The slot for `category` (set or not), so that merging can fill or replace it.
    pub fn get_mut(&mut self, category: &str) -> Option<&mut Option<PluginSelection>> {
        Some(match category {
            "compute" => &mut self.compute,
            "orchestrator" => &mut self.orchestrator,
            "catalog" => &mut self.catalog,
            "storage" => &mut self.storage,
            "semantic_layer" => &mut self.semantic_layer,
            "ingestion" => &mut self.ingestion,
            "secrets" => &mut self.secrets,
            "telemetry_backend" => &mut self.telemetry_backend,
            "lineage_backend" => &mut self.lineage_backend,
            "identity" => &mut self.identity,
            "dbt" => &mut self.dbt,
            "rbac" => &mut self.rbac,
            "alert_channel" => &mut self.alert_channel,
            "network_security" => &mut self.network_security,
            _ => return None,
        })
    }

    /// Every set selection, in [`Self::CATEGORIES`] order.
    pub fn selections(&self) -> Vec<(&'static str, &PluginSelection)> {
        Self::CATEGORIES.iter().filter_map(|&c| self.get(c).map(|s| (c, s))).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSelection {
    /// Plugin name: a built-in plugin of the category (`floe plugins`), or for `compute` an executable
    /// under `floe-plugins/`.
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub plugin_type: String,
    /// Version the plugin must satisfy, compared as cargo compares `^1.2.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SEMVER))]
    pub version: Option<String>,
    /// The plugin's configuration, checked against its schema (docs/reference/plugins.md); the same plugin's
    /// configuration deep-merges down the tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// Kubernetes Secret holding the plugin's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = K8S_NAME), length(min = 1, max = 253))]
    pub connection_secret_ref: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// The quality plugin (great_expectations, soda, dbt_expectations).
    #[schemars(length(min = 1))]
    pub provider: String,
    /// Minimum coverage and score per tier, for the quality tool.
    #[serde(default)]
    pub quality_gates: QualityGates,
    /// Weight of each quality dimension in a product's score.
    #[serde(default)]
    pub dimension_weights: DimensionWeights,
    /// How a product's quality score is calculated.
    #[serde(default)]
    pub calculation: CalculationParameters,
    /// Scores under which a product fails or gets a warning.
    #[serde(default)]
    pub thresholds: QualityThresholds,
    /// Time limit of one quality check, in seconds.
    #[serde(default = "five_minutes")]
    #[schemars(range(min = 1, max = 3600))]
    pub check_timeout_seconds: u32,
    /// Whether quality checks run.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Quality requirements per tier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct QualityGates {
    /// Requirements of bronze models.
    pub bronze: GateTier,
    /// Requirements of silver models.
    pub silver: GateTier,
    /// Requirements of gold models.
    pub gold: GateTier,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GateTier {
    /// Minimum column test coverage, in percent.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub min_test_coverage: f64,
    /// Tests every model of the tier must have.
    pub required_tests: Vec<String>,
    /// Minimum quality score.
    #[schemars(range(min = 0, max = 100))]
    pub min_score: u32,
    /// Whether a product may override these requirements.
    pub overridable: bool,
}

impl Default for GateTier {
    fn default() -> Self {
        GateTier { min_test_coverage: 0.0, required_tests: Vec::new(), min_score: 0, overridable: true }
    }
}

/// Weights of the quality dimensions in a product's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DimensionWeights {
    /// Weight of completeness checks.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub completeness: f64,
    /// Weight of accuracy checks.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub accuracy: f64,
    /// Weight of validity checks.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub validity: f64,
    /// Weight of consistency checks.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub consistency: f64,
    /// Weight of timeliness checks.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub timeliness: f64,
}

impl Default for DimensionWeights {
    fn default() -> Self {
        DimensionWeights { completeness: 0.25, accuracy: 0.25, validity: 0.2, consistency: 0.15, timeliness: 0.15 }
    }
}

/// How a quality score is calculated from a baseline and capped influences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CalculationParameters {
    /// Score before any check counts.
    #[schemars(range(min = 0, max = 100))]
    pub baseline_score: u32,
    /// Most that passing checks add to the baseline.
    #[schemars(range(min = 0, max = 100))]
    pub max_positive_influence: u32,
    /// Most that failing checks take from the baseline.
    #[schemars(range(min = 0, max = 100))]
    pub max_negative_influence: u32,
    /// Weight of a check by its severity.
    pub severity_weights: SeverityWeights,
}

impl Default for CalculationParameters {
    fn default() -> Self {
        CalculationParameters {
            baseline_score: 70,
            max_positive_influence: 30,
            max_negative_influence: 50,
            severity_weights: SeverityWeights::default(),
        }
    }
}

/// Numeric weight of each check severity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityWeights {
    /// Weight of a critical check.
    pub critical: f64,
    /// Weight of a warning check.
    pub warning: f64,
    /// Weight of an info check.
    pub info: f64,
}

impl Default for SeverityWeights {
    fn default() -> Self {
        SeverityWeights { critical: 3.0, warning: 1.0, info: 0.5 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct QualityThresholds {
    /// Score under which a product fails.
    #[schemars(range(min = 0, max = 100))]
    pub min_score: u32,
    /// Score under which a product gets a warning.
    #[schemars(range(min = 0, max = 100))]
    pub warn_score: u32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        QualityThresholds { min_score: 70, warn_score: 85 }
    }
}

/// Security and compliance settings; a child manifest may only strengthen them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GovernanceConfig {
    /// Whether PII must be encrypted; a domain may only tighten it. Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_encryption: Option<PiiEncryption>,
    /// Whether audit logging is on; a domain may only tighten it. Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_logging: Option<AuditLogging>,
    /// `off` checks no policy, `warn` reports errors as warnings (except `block` policies),
    /// `strict` keeps them errors; `warn` when absent. A domain may only tighten it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_enforcement_level: Option<PolicyEnforcementLevel>,
    /// Row-level data retention in days; a domain may only raise it. Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub data_retention_days: Option<u32>,
    /// Table-level partition TTL in hours. Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub default_ttl_hours: Option<u32>,
    /// Minimum number of Iceberg snapshots kept per table. Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub snapshot_keep_last: Option<u32>,
    /// How runtimes treat catalog entries whose Iceberg metadata is missing.
    /// Copied into the compiled artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_table_recovery_mode: Option<StaleTableRecoveryMode>,
    /// The naming convention every model's name is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming: Option<NamingConfig>,
    /// Test coverage and documentation every model needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_gates: Option<QualityGatesConfig>,
    /// Rules on models' tags, meta fields and tests; the lists of all tiers add up.
    #[serde(default)]
    pub custom_rules: Vec<CustomRule>,
    /// Exceptions to policy enforcement, for gradual migration: the first that matches a finding applies.
    /// The lists of all tiers add up.
    #[serde(default)]
    pub policy_overrides: Vec<PolicyOverride>,
    /// Data contract settings, kept in `manifest.resolved.json`; a domain may only tighten `enforcement`.
    /// floe writes a contract for every output port whatever they say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_contracts: Option<DataContractsConfig>,
    /// Access control settings, kept in `manifest.resolved.json`; floe enforces none of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<RbacConfig>,
    /// Which files are scanned for secret values, with which patterns, at which severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_scanning: Option<SecretScanningConfig>,
    /// Network policy settings, kept in `manifest.resolved.json`; the `network_security` plugin
    /// writes the policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policies: Option<NetworkPoliciesConfig>,
    /// Policies as code over models and products; the lists of all tiers add up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicyDefinitionConfig>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEnforcementLevel {
    Off,
    #[default]
    Warn,
    Strict,
}

impl PolicyEnforcementLevel {
    /// The level as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyEnforcementLevel::Off => "off",
            PolicyEnforcementLevel::Warn => "warn",
            PolicyEnforcementLevel::Strict => "strict",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditLogging {
    Disabled,
    Enabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PiiEncryption {
    Optional,
    Required,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StaleTableRecoveryMode {
    Strict,
    Repair,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NamingConfig {
    /// `off` skips the check, `warn` reports violations as warnings, `strict` as errors.
    pub enforcement: PolicyEnforcementLevel,
    /// `medallion`: names start `bronze_`, `silver_` or `gold_`; `kimball`: `dim_`, `fact_` or `bridge_`;
    /// `custom`: names match one of `custom_patterns`.
    pub pattern: NamingPattern,
    /// Regexes model names must match; needed when `pattern` is `custom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_patterns: Option<Vec<String>>,
}

impl Default for NamingConfig {
    fn default() -> Self {
        NamingConfig {
            enforcement: PolicyEnforcementLevel::Warn,
            pattern: NamingPattern::Medallion,
            custom_patterns: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamingPattern {
    #[default]
    Medallion,
    Kimball,
    Custom,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct QualityGatesConfig {
    /// Minimum share of a model's documented columns that have a test, in percent;
    /// a domain may only raise it.
    #[schemars(range(min = 0, max = 100))]
    pub minimum_test_coverage: u32,
    /// Every model needs a description in its property file (a placeholder such as `TBD`
    /// is a warning); a domain may only turn it on.
    pub require_descriptions: bool,
    /// Every documented column needs a description (a placeholder is a warning).
    pub require_column_descriptions: bool,
    /// Whether coverage and documentation errors fail the build; `false` shows them as warnings.
    /// A domain may only turn it on.
    pub block_on_failure: bool,
    /// Coverage thresholds per medallion layer; they override `minimum_test_coverage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_thresholds: Option<LayerThresholds>,
    /// The `coverage` a custom policy sees for a model without documented columns:
    /// `report_na` (null) or `report_100_percent` (100). Such a model never fails the coverage gate.
    pub zero_column_coverage_behavior: ZeroColumnCoverage,
}

impl Default for QualityGatesConfig {
    fn default() -> Self {
        QualityGatesConfig {
            minimum_test_coverage: 80,
            require_descriptions: false,
            require_column_descriptions: false,
            block_on_failure: true,
            layer_thresholds: None,
            zero_column_coverage_behavior: ZeroColumnCoverage::ReportNa,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LayerThresholds {
    /// Coverage required of bronze models, in percent.
    #[schemars(range(min = 0, max = 100))]
    pub bronze: u32,
    /// Coverage required of silver models, in percent.
    #[schemars(range(min = 0, max = 100))]
    pub silver: u32,
    /// Coverage required of gold models, in percent.
    #[schemars(range(min = 0, max = 100))]
    pub gold: u32,
}

impl Default for LayerThresholds {
    fn default() -> Self {
        LayerThresholds { bronze: 50, silver: 80, gold: 100 }
    }
}

/// Coverage reported for a model without columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZeroColumnCoverage {
    #[serde(rename = "report_100_percent")]
    Report100Percent,
    #[default]
    ReportNa,
}

/// A custom validation rule, selected by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schemars(transform = describe_rule_type)]
pub enum CustomRule {
    /// Models whose name starts with `prefix` must carry every tag in `required_tags`.
    RequireTagsForPrefix {
        /// The model name prefix the rule applies to.
        #[schemars(length(min = 1))]
        prefix: String,
        /// Tags each such model must carry, in its property file or its transform.
        #[schemars(length(min = 1))]
        required_tags: Vec<String>,
        /// Glob selecting the models the rule applies to.
        #[serde(default = "all_models")]
        applies_to: String,
    },
    /// Models must set the meta field `field`.
    RequireMetaField {
        /// The `meta` key each model must set.
        #[schemars(length(min = 1))]
        field: String,
        /// Whether the field must also be non-empty.
        #[serde(default = "yes")]
        required: bool,
        /// Glob selecting the models the rule applies to.
        #[serde(default = "all_models")]
        applies_to: String,
    },
    /// At least `min_columns` columns must carry each test in `test_types`.
    RequireTestsOfType {
        /// Test names (`unique`, `not_null`, `package.test`).
        #[schemars(length(min = 1))]
        test_types: Vec<String>,
        /// How many columns must carry each of the tests.
        #[serde(default = "one")]
        #[schemars(range(min = 1))]
        min_columns: u32,
        /// Glob selecting the models the rule applies to.
        #[serde(default = "all_models")]
        applies_to: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Glob matching model names (e.g. `legacy_*`).
    #[schemars(length(min = 1))]
    pub pattern: String,
    /// `downgrade` reports the findings it matches as warnings; `exclude` drops them.
    pub action: OverrideAction,
    /// Why the override exists, for the audit trail.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// Date (`YYYY-MM-DD`) after which the override no longer applies, and is reported as expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub expires: Option<String>,
    /// Policy types the override is limited to (`naming`, `coverage`, `documentation`, `semantic`,
    /// `custom`, `secret_scanning`, …); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_types: Option<Vec<String>>,
}

/// `downgrade` turns errors into warnings; `exclude` skips validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverrideAction {
    Downgrade,
    Exclude,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DataContractsConfig {
    /// How strictly contracts are enforced; a domain may only tighten it.
    pub enforcement: PolicyEnforcementLevel,
    /// Generation of contracts from output ports.
    pub auto_generation: AutoGenerationConfig,
    /// Detection of tables that drift from their contracts.
    pub drift_detection: DriftDetectionConfig,
    /// How a child contract combines with its parent's.
    pub inheritance_mode: ContractInheritance,
    /// The highest classification the products below may read or offer (`confidential` keeps
    /// personal data out); a domain may only lower it. None when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_classification: Option<Classification>,
}

/// How a child contract combines with its parent's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContractInheritance {
    #[default]
    Merge,
    Override,
    Strict,
}

/// Generation of data contracts from output ports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AutoGenerationConfig {
    /// Whether contracts are generated.
    pub enabled: bool,
    /// Whether generated contracts carry descriptions.
    pub include_descriptions: bool,
    /// Classification of columns that set none.
    pub default_classification: Classification,
}

impl Default for AutoGenerationConfig {
    fn default() -> Self {
        AutoGenerationConfig {
            enabled: true,
            include_descriptions: true,
            default_classification: Classification::Internal,
        }
    }
}

/// How sensitive data is, from least to most: each level needs every protection of
/// those before it (health data and special categories are personal data too, and
/// `restricted` is the top). Data read from a port keeps its level downstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    Public,
    #[default]
    Internal,
    Confidential,
    Pii,
    Phi,
    Sensitive,
    Restricted,
}

impl Classification {
    pub const ALL: [Classification; 7] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Pii,
        Classification::Phi,
        Classification::Sensitive,
        Classification::Restricted,
    ];

    /// The level as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Pii => "pii",
            Classification::Phi => "phi",
            Classification::Sensitive => "sensitive",
            Classification::Restricted => "restricted",
        }
    }
}

impl std::fmt::Display for Classification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Schema drift detection between a contract and the actual table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DriftDetectionConfig {
    /// Whether drift is detected.
    pub enabled: bool,
    /// A column whose type differs from the contract's fails.
    pub fail_on_type_mismatch: bool,
    /// A contract column the table lacks fails.
    pub fail_on_missing_column: bool,
    /// A table column the contract lacks is a warning.
    pub warn_on_extra_column: bool,
}

impl Default for DriftDetectionConfig {
    fn default() -> Self {
        DriftDetectionConfig {
            enabled: true,
            fail_on_type_mismatch: true,
            fail_on_missing_column: true,
            warn_on_extra_column: true,
        }
    }
}

/// Compile-time access control.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RbacConfig {
    /// Whether access control is on.
    pub enabled: bool,
    /// Role the caller must have (e.g. `platform-engineer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_role: Option<String>,
    /// Whether a caller without an OIDC token may name its principal instead.
    pub allow_principal_fallback: bool,
}

impl Default for RbacConfig {
    fn default() -> Self {
        RbacConfig { enabled: false, required_role: None, allow_principal_fallback: true }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecretScanningConfig {
    /// Whether files are scanned: a `secret_scanning` block without it turns scanning off, while with no
    /// block at all files are scanned. Secrets in printed source lines are masked either way.
    pub enabled: bool,
    /// Globs of files not scanned.
    pub exclude_patterns: Vec<String>,
    /// Patterns scanned for beyond the built-in ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_patterns: Option<Vec<SecretPatternConfig>>,
    /// Severity of what the built-in patterns find.
    pub severity: SecretSeverity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretPatternConfig {
    /// Pattern name, shown in its findings.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Regex that matches the secret.
    #[schemars(length(min = 1))]
    pub pattern: String,
    /// Severity of what the pattern finds.
    #[serde(default)]
    pub severity: SecretSeverity,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretSeverity {
    Warning,
    #[default]
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkPoliciesConfig {
    /// Whether network policies are generated.
    pub enabled: bool,
    /// Whether traffic no rule allows is denied.
    pub default_deny: bool,
    /// Egress rules merged into the generated policies, as Kubernetes writes them.
    pub custom_egress_rules: Vec<BTreeMap<String, serde_json::Value>>,
}

impl Default for NetworkPoliciesConfig {
    fn default() -> Self {
        NetworkPoliciesConfig { enabled: false, default_deny: true, custom_egress_rules: Vec::new() }
    }
}

/// A policy-as-code definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefinitionConfig {
    /// Policy name, shown in its findings.
    #[schemars(length(min = 1))]
    pub name: String,
    /// `required_tags` (`config.tags`), `naming_convention` (`config.pattern`), `max_transforms`
    /// (`config.max`), or `custom` (`config.condition`, docs/reference/policy-expressions.md).
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    /// `warn` reports a warning, `error` an error, `block` an error that `policy_enforcement_level: warn`
    /// leaves an error.
    pub action: PolicyAction,
    /// What a violation reports.
    #[schemars(length(min = 1))]
    pub message: String,
    /// The policy's settings: `tags`, `pattern`, `max` or `condition` by `type`, and `applies_to`,
    /// a glob of the model names it checks.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    RequiredTags,
    NamingConvention,
    MaxTransforms,
    Custom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    Warn,
    Error,
    Block,
}

/// OCI artifact storage and the promotion lifecycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// The OCI registry platform artifacts are published to.
    pub registry: RegistryConfig,
    /// Promotion between environments; none disables promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// OCI registry URI (e.g. `oci://harbor.example.com/namespace`).
    #[schemars(
        regex(pattern = r"^oci://[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9](:[0-9]+)?(/[a-zA-Z0-9._-]+)*$"),
        length(min = 1)
    )]
    pub uri: String,
    /// How clients authenticate to the registry.
    pub auth: RegistryAuth,
    /// Verify TLS certificates; disable only for local testing.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Local cache of pulled artifacts.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Retries and circuit breaking of registry requests.
    #[serde(default)]
    pub resilience: ResilienceConfig,
    /// How artifacts are signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningConfig>,
    /// How signatures are verified before an artifact is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    /// Authentication method.
    #[serde(rename = "type")]
    pub auth_type: AuthType,
    /// Credentials for basic and token auth; none for cloud identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<SecretReference>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthType {
    Anonymous,
    Basic,
    Token,
    AwsIrsa,
    AzureManagedIdentity,
    GcpWorkloadIdentity,
}

/// A credential named in a secret backend; the value never appears in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    /// The secret backend the credential is read from.
    #[serde(default)]
    pub source: SecretSource,
    /// Secret name (lowercase alphanumerics and hyphens).
    #[schemars(regex(pattern = K8S_NAME), length(min = 1, max = 253))]
    pub name: String,
    /// Key within a multi-value secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretSource {
    Env,
    #[default]
    Kubernetes,
    Vault,
    ExternalSecrets,
    Infisical,
}

/// Local cache of pulled artifacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether pulled artifacts are cached.
    pub enabled: bool,
    /// Cache directory.
    pub path: String,
    /// Size limit of the cache, in GB.
    #[schemars(range(min = 1))]
    pub max_size_gb: u32,
    /// How long a mutable tag stays cached, in hours.
    #[schemars(range(min = 1))]
    pub ttl_hours: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { enabled: true, path: "/var/cache/floe/oci".to_owned(), max_size_gb: 10, ttl_hours: 24 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Retries of failed requests.
    pub retry: RetryConfig,
    /// Pausing requests to a registry that keeps failing.
    pub circuit_breaker: CircuitBreakerConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request, the first included.
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds.
    #[schemars(range(min = 100))]
    pub initial_delay_ms: u32,
    /// Factor by which each delay grows.
    #[schemars(range(min = 1.0, max = 5.0))]
    pub backoff_multiplier: f64,
    /// Longest delay between attempts, in milliseconds.
    #[schemars(range(min = 1000))]
    pub max_delay_ms: u32,
    /// Randomize delays so that clients do not retry in lockstep.
    pub jitter: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_delay_ms: 1000,
            backoff_multiplier: 2.0,
            max_delay_ms: 30_000,
            jitter: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Whether the circuit breaker is on.
    pub enabled: bool,
    /// Consecutive failures that open the circuit.
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    /// Time the circuit stays open before probing again.
    #[schemars(range(min = 1000))]
    pub recovery_timeout_ms: u32,
    /// Probe requests allowed while half open.
    #[schemars(range(min = 1))]
    pub half_open_requests: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig { enabled: true, failure_threshold: 5, recovery_timeout_ms: 60_000, half_open_requests: 1 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// `keyless` (Sigstore, through `oidc_issuer`) or `key-based` (`private_key_ref`).
    pub mode: SigningMode,
    /// OIDC provider for keyless signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = HTTP_URL), length(min = 1, max = 2083))]
    pub oidc_issuer: Option<String>,
    /// Rekor transparency log.
    #[serde(default = "rekor_url")]
    #[schemars(regex(pattern = HTTP_URL), length(min = 1, max = 2083))]
    pub rekor_url: String,
    /// Fulcio certificate authority.
    #[serde(default = "fulcio_url")]
    #[schemars(regex(pattern = HTTP_URL), length(min = 1, max = 2083))]
    pub fulcio_url: String,
    /// Private key for key-based signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_ref: Option<SecretReference>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SigningMode {
    Keyless,
    KeyBased,
}

/// What happens when a signature does not verify.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEnforcement {
    Off,
    Warn,
    #[default]
    Enforce,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationPolicy {
    /// Whether signatures are verified.
    pub enabled: bool,
    /// What a signature that does not verify does: nothing (`off`), a warning, or a refusal (`enforce`).
    pub enforcement: SignatureEnforcement,
    /// Signing identities that are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Whether a Rekor transparency log entry is required.
    pub require_rekor: bool,
    /// Whether an SBOM attestation is required.
    pub require_sbom: bool,
    /// Public key for key-based verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_ref: Option<SecretReference>,
    /// Overrides by environment name.
    pub environments: BTreeMap<String, EnvironmentPolicy>,
    /// Days an expired certificate is still accepted during key rotation.
    #[schemars(range(min = 0, max = 90))]
    pub grace_period_days: u32,
    /// Relax attestation verification for private infrastructure.
    pub private_infrastructure: bool,
}

impl Default for VerificationPolicy {
    fn default() -> Self {
        VerificationPolicy {
            enabled: true,
            enforcement: SignatureEnforcement::Enforce,
            trusted_issuers: Vec::new(),
            require_rekor: true,
            require_sbom: false,
            public_key_ref: None,
            environments: BTreeMap::new(),
            grace_period_days: 7,
            private_infrastructure: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// OIDC issuer URL.
    #[schemars(regex(pattern = HTTP_URL), length(min = 1, max = 2083))]
    pub issuer: String,
    /// Exact certificate subject to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Regex the certificate subject must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub subject_regex: Option<String>,
}

/// Signature verification in one environment, instead of the registry-wide settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPolicy {
    /// Signature enforcement in this environment.
    pub enforcement: SignatureEnforcement,
    /// Whether this environment requires an SBOM attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_sbom: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PromotionConfig {
    /// The promotion path, in order; dev, staging, prod when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub environments: Option<Vec<EnvironmentConfig>>,
    /// Where promotion and rollback records are stored.
    pub audit_backend: AuditBackend,
    /// Time limit of a promotion, in seconds.
    #[schemars(range(min = 30, max = 3600))]
    pub default_timeout_seconds: u32,
    /// Endpoints told of promotion events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Vec<WebhookConfig>>,
    /// Commands that run custom gates, by gate name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_commands: Option<BTreeMap<String, GateCommand>>,
    /// Signature enforcement when promoting.
    pub signature_enforcement: SignatureEnforcement,
    /// Registries every promoted artifact is also copied to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_registries: Option<Vec<String>>,
    /// Check that the digests in all registries match after a copy.
    pub verify_secondary_digests: bool,
}

impl Default for PromotionConfig {
    fn default() -> Self {
        PromotionConfig {
            environments: None,
            audit_backend: AuditBackend::Oci,
            default_timeout_seconds: 300,
            webhooks: None,
            gate_commands: None,
            signature_enforcement: SignatureEnforcement::Enforce,
            secondary_registries: None,
            verify_secondary_digests: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditBackend {
    #[default]
    Oci,
    S3,
    Database,
}

/// A gate's command line, or a full scanner configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum GateCommand {
    Command(String),
    Scanner(SecurityGateConfig),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Environment name (`dev`, `staging`, `prod`).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_-]*$"), length(min = 1, max = 50))]
    pub name: String,
    /// Gates that must pass before promotion to this environment.
    #[schemars(transform = describe_gates)]
    pub gates: BTreeMap<PromotionGate, GateSetting>,
    /// Time limit of each gate, in seconds.
    #[serde(default = "five_minutes")]
    #[schemars(range(min = 30, max = 3600))]
    pub gate_timeout_seconds: u32,
    /// Who may promote to this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationConfig>,
    /// While locked, nothing is promoted to this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<EnvironmentLock>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionGate {
    PolicyCompliance,
    Tests,
    SecurityScan,
    CostAnalysis,
    PerformanceBaseline,
}

/// A gate switched on or off, or a security scan with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum GateSetting {
    Enabled(bool),
    Scanner(SecurityGateConfig),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGateConfig {
    /// Scanner command; `${ARTIFACT_REF}` is replaced by the artifact.
    #[schemars(length(min = 1))]
    pub command: String,
    /// Vulnerability severities that block promotion.
    #[serde(default)]
    pub block_on_severity: Vec<String>,
    /// Ignore vulnerabilities that have no fix.
    #[serde(default)]
    pub ignore_unfixed: bool,
    /// Output format of the scanner.
    #[serde(default)]
    pub scanner_format: ScannerFormat,
    /// Time limit of the scan, in seconds.
    #[serde(default = "ten_minutes")]
    #[schemars(range(min = 30, max = 3600))]
    pub timeout_seconds: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScannerFormat {
    #[default]
    Trivy,
    Grype,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Groups allowed to promote to this environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    /// Operators allowed to promote to this environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_operators: Option<Vec<String>>,
    /// The same operator may not promote to two consecutive environments.
    pub separation_of_duties: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentLock {
    /// Whether the environment is locked.
    pub locked: bool,
    /// Why it is locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who locked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
    /// When the lock was applied: an ISO-8601 date-time, UTC unless an offset is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"))]
    pub locked_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// URL the events are posted to.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Event types sent to this webhook.
    #[schemars(length(min = 1))]
    pub events: Vec<String>,
    /// HTTP headers sent with each event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Time limit of one call, in seconds.
    #[serde(default = "thirty")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: u32,
    /// Retries of a failed call.
    #[serde(default = "three")]
    #[schemars(range(min = 0, max = 10))]
    pub retry_count: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilityManifestConfig {
    /// Tracing of product runs: the compiled artifacts' `observability.telemetry`.
    pub tracing: TracingManifestConfig,
    /// OpenLineage events of product runs: `lineage` and `lineage_*` of the compiled artifacts' `observability`.
    pub lineage: LineageManifestConfig,
    /// Logs of product runs: the compiled artifacts' `observability.telemetry.logging`.
    pub logging: LoggingManifestConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TracingManifestConfig {
    /// Whether product runs export traces.
    pub enabled: bool,
    /// Kind of trace exporter; kept in `manifest.resolved.json`, the `telemetry_backend` plugin decides.
    pub exporter: TraceExporter,
    /// OTLP collector endpoint (`http://localhost:4317` when absent); a `telemetry_backend` plugin's wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Default for TracingManifestConfig {
    fn default() -> Self {
        TracingManifestConfig { enabled: true, exporter: TraceExporter::Otlp, endpoint: None }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceExporter {
    #[default]
    Otlp,
    Console,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LineageManifestConfig {
    /// Whether product runs emit lineage events.
    pub enabled: bool,
    /// How lineage events are sent; a `lineage_backend` plugin's transport wins.
    pub transport: LineageTransport,
    /// OpenLineage API endpoint; a `lineage_backend` plugin's wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Default for LineageManifestConfig {
    fn default() -> Self {
        LineageManifestConfig { enabled: true, transport: LineageTransport::Http, endpoint: None }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineageTransport {
    #[default]
    Http,
    Console,
    Noop,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingManifestConfig {
    /// Log level of product runs.
    pub level: LogLevel,
    /// Log lines as JSON or as text.
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// A preset as `requests`/`limits`, or flat (`cpu_request`, `memory_limit`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ResourcePreset {
    Structured(ManifestResourcePreset),
    Flat(FlatResourcePreset),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestResourcePreset {
    /// Resources a workload is guaranteed.
    pub requests: ManifestResourceSpec,
    /// Resources a workload may use at most.
    pub limits: ManifestResourceSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestResourceSpec {
    /// Kubernetes CPU quantity, e.g. `500m` or `2`.
    pub cpu: String,
    /// Kubernetes memory quantity, e.g. `512Mi` or `4Gi`.
    pub memory: String,
}

/// Kubernetes quantities, one key per resource and bound.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlatResourcePreset {
    /// CPU a workload is guaranteed, a Kubernetes quantity (`500m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_request: Option<String>,
    /// CPU a workload may use at most (`2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<String>,
    /// Memory a workload is guaranteed (`512Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_request: Option<String>,
    /// Memory a workload may use at most (`4Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
    /// Local disk a workload is guaranteed (`1Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_request: Option<String>,
    /// Local disk a workload may use at most (`10Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_limit: Option<String>,
}

/// Describes the `type` key of each custom rule: serde's tag has no doc comment of its own.
fn describe_rule_type(schema: &mut schemars::Schema) {
    for variant in schema.get_mut("oneOf").and_then(serde_json::Value::as_array_mut).into_iter().flatten() {
        let Some(tag) = variant.pointer_mut("/properties/type") else { continue };
        let name = tag.get("const").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        tag["description"] = format!("Selects the rule `{name}`.").into();
    }
}

/// Describes each promotion gate: the keys of `gates` come from [`PromotionGate`], which has no fields to document.
fn describe_gates(schema: &mut schemars::Schema) {
    const GATES: &[(&str, &str)] = &[
        ("policy_compliance", "The policy compliance"),
        ("tests", "The test"),
        ("security_scan", "The security scan"),
        ("cost_analysis", "The cost analysis"),
        ("performance_baseline", "The performance baseline"),
    ];
    for (gate, what) in GATES {
        if let Some(property) = schema.get_mut("properties").and_then(|p| p.get_mut(*gate)) {
            property["description"] =
                format!("{what} gate: `true` to require it, or the scanner that decides it.").into();
        }
    }
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn three() -> u32 {
    3
}

fn thirty() -> u32 {
    30
}

fn five_minutes() -> u32 {
    300
}

fn ten_minutes() -> u32 {
    600
}

fn all_models() -> String {
    "*".to_owned()
}

fn rekor_url() -> String {
    "https://rekor.sigstore.io/".to_owned()
}

fn fulcio_url() -> String {
    "https://fulcio.sigstore.dev/".to_owned()
}

/// Top-level keys that name an environment. One manifest is promoted unchanged from
/// dev to prod, so per-environment values never belong in it.
pub const ENVIRONMENT_KEYS: &[&str] = &[
    "env",
    "envs",
    "environment",
    "environments",
    "dev",
    "development",
    "test",
    "testing",
    "qa",
    "uat",
    "staging",
    "stage",
    "prod",
    "production",
    "local",
    "overrides",
];

const ENVIRONMENT_KEY_HELP: &str =
    "a manifest is promoted unchanged from dev to prod; put per-environment values in the deployment, not the manifest";

/// Checks the JSON Schema cannot express: environment keys and the keys each scope
/// allows. Reads the tree, so it reports even when the document does not deserialize.
pub fn extra_checks(node: &Node, file: &str, out: &mut Vec<Diagnostic>) {
    let NodeKind::Map(entries) = &node.kind else {
        return;
    };
    for (key, _) in entries {
        if ENVIRONMENT_KEYS.contains(&key.name.to_ascii_lowercase().as_str()) {
            out.push(
                Diagnostic::error(
                    Code::EnvironmentKey,
                    format!("environment-specific key `{}` in a manifest", key.name),
                )
                .at(file, key.span)
                .with_help(ENVIRONMENT_KEY_HELP),
            );
        }
    }
    scope_checks(node, file, out);
}

/// Which keys each scope allows (the Python implementation's rules C001, C003-C006).
fn scope_checks(node: &Node, file: &str, out: &mut Vec<Diagnostic>) {
    let scope = match node.get("scope") {
        None => None,
        Some(s) if s.is_null() => None,
        Some(s) => match s.as_str() {
            Some("enterprise") => Some(Scope::Enterprise),
            Some("domain") => Some(Scope::Domain),
            // The schema reports an invalid scope; judging keys against it would only add noise.
            _ => return,
        },
    };
    let rules: [(&str, Scope, &str); 4] = [
        (
            "approved_plugins",
            Scope::Enterprise,
            "plugins are approved once, in the enterprise manifest; move this key there or set `scope: enterprise`",
        ),
        (
            "approved_sinks",
            Scope::Enterprise,
            "sinks are approved once, in the enterprise manifest; move this key there or set `scope: enterprise`",
        ),
        (
            "approved_products",
            Scope::Domain,
            "each domain manifest approves its own data products; move this key there or set `scope: domain`",
        ),
        (
            "parent_manifest",
            Scope::Domain,
            "only a domain manifest inherits from an enterprise manifest; remove this key or set `scope: domain`",
        ),
    ];
    for (name, allowed, help) in rules {
        let Some((key, value)) = node.entry(name) else {
            continue;
        };
        if value.is_null() || scope == Some(allowed) {
            continue;
        }
        let allowed_in = match allowed {
            Scope::Enterprise => "an enterprise manifest",
            Scope::Domain => "a domain manifest",
        };
        let actual = match scope {
            Some(Scope::Enterprise) => "this manifest has `scope: enterprise`",
            Some(Scope::Domain) => "this manifest has `scope: domain`",
            None => "this manifest has no `scope`",
        };
        out.push(
            Diagnostic::error(Code::ScopeMismatch, format!("`{name}` is only allowed in {allowed_in}, but {actual}"))
                .at(file, key.span)
                .with_help(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Loaded, load};

    const HEAD: &str = concat!(
        "apiVersion: floe.dev/v1\n",
        "kind: Manifest\n",
        "metadata:\n",
        "  name: acme\n",
        "  version: 1.0.0\n",
        "  owner: platform@acme.com\n",
        "plugins:\n",
        "  compute:\n",
        "    type: duckdb\n",
    );

    fn load_text(text: &str) -> Loaded<Manifest> {
        load::<Manifest>("platform/manifest.yaml", text.as_bytes())
    }

    fn errors(loaded: &Loaded<Manifest>) -> Vec<&Diagnostic> {
        loaded.diagnostics.iter().filter(|d| d.is_error()).collect()
    }

    #[test]
    fn minimal_manifest_loads_with_defaults() {
        let loaded = load_text(HEAD);
        assert!(errors(&loaded).is_empty(), "{:?}", loaded.diagnostics);
        let manifest = loaded.value.expect("a value");
        assert_eq!(manifest.plugins.get("compute").map(|p| p.plugin_type.as_str()), Some("duckdb"));
        assert_eq!(manifest.scope, None);
    }

    #[test]
    fn environment_key_is_reported_once() {
        let loaded = load_text(&format!("{HEAD}prod:\n  compute:\n    type: snowflake\n"));
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::EnvironmentKey);
        assert_eq!(errs[0].message, "environment-specific key `prod` in a manifest");
        assert_eq!(errs[0].span.map(|s| (s.line, s.column)), Some((10, 1)));
        assert!(errs[0].help.as_deref().is_some_and(|h| h.contains("promoted unchanged")));
    }

    #[test]
    fn approved_products_in_an_enterprise_manifest() {
        let loaded = load_text(&format!("{HEAD}scope: enterprise\napproved_products:\n  - orders\n"));
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::ScopeMismatch);
        assert_eq!(
            errs[0].message,
            "`approved_products` is only allowed in a domain manifest, but this manifest has `scope: enterprise`"
        );
        assert_eq!(errs[0].span.map(|s| s.line), Some(11));
        assert!(errs[0].help.is_some());
    }

    #[test]
    fn scope_rules_accept_the_right_scope() {
        let enterprise =
            format!("{HEAD}scope: enterprise\napproved_plugins:\n  compute: [duckdb]\napproved_sinks: [s3]\n");
        assert!(errors(&load_text(&enterprise)).is_empty());
        let domain = format!(
            "{HEAD}scope: domain\nparent_manifest: oci://reg.acme.com/platform:1.0.0\napproved_products: [orders]\n"
        );
        let loaded = load_text(&domain);
        assert!(errors(&loaded).is_empty(), "{:?}", loaded.diagnostics);
        assert_eq!(loaded.value.and_then(|m| m.scope), Some(Scope::Domain));
    }

    #[test]
    fn parent_manifest_without_scope() {
        let loaded = load_text(&format!("{HEAD}parent_manifest: ../enterprise/manifest.yaml\n"));
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::ScopeMismatch);
        assert!(errs[0].message.ends_with("this manifest has no `scope`"), "{}", errs[0].message);
    }

    #[test]
    fn misspelt_top_level_key_suggests_the_right_one() {
        let loaded = load_text(&format!("{HEAD}governence:\n  audit_logging: enabled\n"));
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::UnknownKey);
        assert_eq!(errs[0].message, "unknown key `governence`");
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `governance`?"));
    }

    #[test]
    fn invalid_enum_in_an_optional_field_is_reported_as_such() {
        let loaded = load_text(&format!("{HEAD}governance:\n  policy_enforcement_level: strikt\n"));
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::InvalidEnumValue);
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `strict`?"));
    }

    #[test]
    fn custom_rules_are_selected_by_type() {
        let text = format!(
            "{HEAD}{}",
            concat!(
                "governance:\n",
                "  custom_rules:\n",
                "    - type: require_meta_field\n",
                "      field: owner\n",
                "    - type: require_tags_for_prefix\n",
                "      prefix: gold_\n",
                "      required_tags: [certified]\n",
            )
        );
        let loaded = load_text(&text);
        assert!(errors(&loaded).is_empty(), "{:?}", loaded.diagnostics);
        let rules = loaded.value.and_then(|m| m.governance).map(|g| g.custom_rules).unwrap_or_default();
        assert_eq!(
            rules[0],
            CustomRule::RequireMetaField { field: "owner".to_owned(), required: true, applies_to: "*".to_owned() }
        );
        let missing = load_text(&format!("{HEAD}governance:\n  custom_rules:\n    - type: require_tests_of_type\n"));
        let errs = errors(&missing);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].code, Code::MissingKey);
    }

    #[test]
    fn both_resource_preset_forms_load() {
        let text = format!(
            "{HEAD}{}",
            concat!(
                "resource_presets:\n",
                "  small:\n",
                "    cpu_request: 100m\n",
                "    memory_limit: 512Mi\n",
                "  large:\n",
                "    requests: {cpu: '1', memory: 1Gi}\n",
                "    limits: {cpu: '2', memory: 2Gi}\n",
            )
        );
        let loaded = load_text(&text);
        assert!(errors(&loaded).is_empty(), "{:?}", loaded.diagnostics);
        let presets = loaded.value.and_then(|m| m.resource_presets).unwrap_or_default();
        assert!(matches!(presets["small"], ResourcePreset::Flat(_)));
        assert!(matches!(presets["large"], ResourcePreset::Structured(_)));
    }

    #[test]
    fn plugin_categories_cover_every_selection_field() {
        let mut plugins = PluginsConfig::default();
        for (i, category) in PluginsConfig::CATEGORIES.iter().enumerate() {
            let slot = plugins.get_mut(category).expect("every category has a slot");
            *slot = Some(PluginSelection {
                plugin_type: format!("p{i}"),
                version: None,
                config: None,
                connection_secret_ref: None,
            });
        }
        assert_eq!(plugins.get("quality"), None);
        assert!(plugins.get_mut("quality").is_none());
        let selections = plugins.selections();
        let names: Vec<&str> = selections.iter().map(|(c, _)| *c).collect();
        assert_eq!(names, PluginsConfig::CATEGORIES);
        // Every selection field is set now, so the serialized keys are exactly the
        // fields: a field missing from CATEGORIES (or named differently) shows here.
        let json = serde_json::to_value(&plugins).expect("serializes");
        let mut keys: Vec<&str> = json.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        keys.sort_unstable();
        let mut categories = PluginsConfig::CATEGORIES.to_vec();
        categories.sort_unstable();
        assert_eq!(keys, categories);
    }

    #[test]
    fn strengthen_only_orderings() {
        assert!(PolicyEnforcementLevel::Off < PolicyEnforcementLevel::Warn);
        assert!(PolicyEnforcementLevel::Warn < PolicyEnforcementLevel::Strict);
        assert!(AuditLogging::Disabled < AuditLogging::Enabled);
        assert!(PiiEncryption::Optional < PiiEncryption::Required);
    }
}
