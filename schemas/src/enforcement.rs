//! The enforcement report (`enforcement.json`): every policy violation of a
//! product, in the shape of the Python implementation's `EnforcementResult`
//! so that tools written against it read floe's reports unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::PolicyEnforcementLevel;

/// What `floe build //p:enforcement` writes to `enforcement.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforcementResult {
    /// No violation blocks the build.
    pub passed: bool,
    pub violations: Vec<Violation>,
    pub summary: EnforcementSummary,
    pub enforcement_level: PolicyEnforcementLevel,
    /// The dbt project's `version` (floe reads the project, not a dbt manifest).
    pub manifest_version: String,
    /// `SOURCE_DATE_EPOCH` as RFC 3339, never the clock.
    pub timestamp: String,
}

/// One violation, with what was expected, what was found and how to fix it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    /// `FLOE-` and the diagnostic code (`FLOE-E0701`).
    pub error_code: String,
    pub severity: ViolationSeverity,
    pub policy_type: PolicyKind,
    /// The dbt model (or, for product-wide policies, the product).
    pub model_name: String,
    pub column_name: Option<String>,
    pub message: String,
    pub expected: String,
    pub actual: String,
    pub suggestion: String,
    pub documentation_url: String,
    /// Models that `ref()` this one, directly or not.
    pub downstream_impact: Option<Vec<String>>,
    /// Always null: a build is a function of its inputs and keeps no history.
    pub first_detected: Option<String>,
    /// Always null, for the same reason.
    pub occurrences: Option<u32>,
    /// The `policy_overrides` pattern that downgraded this violation.
    pub override_applied: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ViolationSeverity {
    Error,
    Warning,
}

/// The policy a violation belongs to (`policy_types` in overrides name these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Naming,
    Coverage,
    Documentation,
    Semantic,
    Custom,
    DataContract,
    Rbac,
    SecretScanning,
    NetworkPolicy,
}

impl PolicyKind {
    pub const ALL: &'static [PolicyKind] = &[
        PolicyKind::Naming,
        PolicyKind::Coverage,
        PolicyKind::Documentation,
        PolicyKind::Semantic,
        PolicyKind::Custom,
        PolicyKind::DataContract,
        PolicyKind::Rbac,
        PolicyKind::SecretScanning,
        PolicyKind::NetworkPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Naming => "naming",
            PolicyKind::Coverage => "coverage",
            PolicyKind::Documentation => "documentation",
            PolicyKind::Semantic => "semantic",
            PolicyKind::Custom => "custom",
            PolicyKind::DataContract => "data_contract",
            PolicyKind::Rbac => "rbac",
            PolicyKind::SecretScanning => "secret_scanning",
            PolicyKind::NetworkPolicy => "network_policy",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// Counts per policy. `duration_ms` is always 0: outputs are a function of
/// their inputs, and a measured duration would make every report differ.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforcementSummary {
    pub total_models: u32,
    pub models_validated: u32,
    pub naming_violations: u32,
    pub coverage_violations: u32,
    pub documentation_violations: u32,
    pub semantic_violations: u32,
    pub custom_rule_violations: u32,
    pub overrides_applied: u32,
    pub contract_violations: u32,
    pub rbac_violations: u32,
    pub secret_violations: u32,
    pub network_policy_violations: u32,
    pub duration_ms: f64,
}
