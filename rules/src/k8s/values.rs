//! The floe-jobs chart's values of a product's runs, typed: the keys and
//! shapes of `charts/floe-jobs/README.md` and its `values.schema.json`.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::{Deserialize, Serialize};

/// The values file a product's `:helm-values` target writes: the chart's
/// `products`, one product in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsValues {
    pub products: Vec<ProductValues>,
}

/// The values file of one product's runs: [`JobsValues`] with it alone,
/// written without a copy of it.
pub fn values_yaml(product: &ProductValues) -> String {
    #[derive(Serialize)]
    struct One<'a> {
        products: [&'a ProductValues; 1],
    }
    crate::emit::yaml(&One { products: [product] })
}

/// One product's runs, as the chart reads them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductValues {
    /// A DNS label of at most 41 characters, so that the Job's name (this,
    /// a dash and 10 hex digits) stays a DNS label.
    pub name: String,
    pub domain: String,
    /// `floe-<domain>`.
    pub namespace: String,
    pub version: String,
    /// The derivation key, `blake3:<64 hex>`.
    pub derivation: String,
    /// The label of the package the objects come from (`//sales/customer-360`):
    /// what `floe deploy` prunes by.
    pub package: String,
    /// Absent or null: the product runs once, as a Job.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    pub image: Image,
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub service_account_name: String,
    /// Whether the ServiceAccount's API token is mounted into the run's pod.
    #[serde(default)]
    pub automount_service_account_token: bool,
    /// The rules of the run's Role; none: no Role and no RoleBinding.
    #[serde(default)]
    pub role_rules: Vec<PolicyRule>,
    pub artifacts: Artifacts,
    #[serde(default)]
    pub secret_env: Vec<SecretEnv>,
    #[serde(default)]
    pub env: Vec<Env>,
    pub resources: Resources,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub cron: String,
    /// An IANA time zone; null: the controller's.
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub repository: String,
    pub tag: String,
}

/// The ConfigMap's two files, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifacts {
    #[serde(rename = "compiled_artifacts.json")]
    pub compiled_artifacts: String,
    #[serde(rename = "profiles.yml")]
    pub profiles: String,
}

/// A credential variable: a reference to a Secret's key, never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEnv {
    pub name: String,
    pub secret_name: String,
    pub key: String,
}

/// A plain variable (telemetry and lineage endpoints only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Env {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: CpuMemory,
    pub limits: CpuMemory,
}

/// Kubernetes quantities, as strings (`100m`, `512Mi`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuMemory {
    pub cpu: String,
    pub memory: String,
}
