//! RBAC plugins: the identity a product's jobs run as and what it may do in
//! the cluster, least privilege first.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bind::Selected;
use crate::config::typed;
use crate::config::{self, ConfigError};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{Plugin, Rbac, RunAccess};

pub(crate) static PLUGINS: &[&'static dyn Rbac] = &[&K8sRbac];

/// Kubernetes RBAC (`rbac.authorization.k8s.io/v1`).
pub struct K8sRbac;

/// A verb a Role may grant.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    Deletecollection,
}

/// A PolicyRule, as Kubernetes RBAC reads it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyRule {
    /// API groups of the resources; `""` is the core group.
    #[schemars(length(min = 1))]
    pub api_groups: Vec<String>,
    /// Resources (`configmaps`, `jobs`, `pods/log`).
    #[schemars(length(min = 1))]
    pub resources: Vec<String>,
    /// What may be done to them.
    #[schemars(length(min = 1))]
    pub verbs: Vec<Verb>,
    /// Only these objects, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
}

/// Kubernetes RBAC.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "k8s rbac config")]
pub struct K8sRbacConfig {
    /// The product's ConfigMap its jobs may read.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub configmap: Option<String>,
    /// More rules for the product's Role.
    #[serde(default)]
    pub extra_rules: Vec<PolicyRule>,
    /// Mount the ServiceAccount's API token into job pods; only for jobs that call the Kubernetes API.
    #[serde(default)]
    pub automount_token: bool,
}

static K8S: Meta = Meta {
    name: "k8s",
    category: Category::Rbac,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Kubernetes RBAC: a ServiceAccount, a least-privilege Role and its RoleBinding",
    provides: &[cap("rbac", "k8s")],
    requires: &[],
};

impl Plugin for K8sRbac {
    fn meta(&self) -> &'static Meta {
        &K8S
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<K8sRbacConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: K8sRbacConfig = typed(sel);
        let mut errors = Vec::new();
        for (i, rule) in c.extra_rules.iter().enumerate() {
            let at = format!("[{i}]");
            for (key, values) in [("apiGroups", &rule.api_groups), ("resources", &rule.resources)] {
                if values.iter().any(|v| v == "*") {
                    errors.push(ConfigError::at(
                        &["extra_rules", &at, key],
                        format!("`*` in `{key}` grants far more than a product's jobs need"),
                        format!("list the {key} the jobs use"),
                    ));
                }
            }
            // A Secret rule without names would hand the jobs every credential in the namespace.
            if rule.resources.iter().any(|r| r == "secrets") && rule.resource_names.is_empty() {
                errors.push(ConfigError::at(
                    &["extra_rules", &at, "resources"],
                    "this rule grants every Secret in the namespace",
                    "name the Secrets in `resourceNames`; the product's own Secrets are granted already",
                ));
            }
        }
        errors
    }
}

impl Rbac for K8sRbac {
    fn run_access(&self, sel: &Selected<'_>, secrets: &[String]) -> RunAccess {
        let c: K8sRbacConfig = typed(sel);
        RunAccess { automount_token: c.automount_token, rules: rules(&c, secrets) }
    }
}

/// `get` on exactly the product's Secrets and its ConfigMap, then the extra rules.
fn rules(c: &K8sRbacConfig, secrets: &[String]) -> Vec<Value> {
    let mut rules = Vec::new();
    let mut names: Vec<&str> = secrets.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    if !names.is_empty() {
        rules.push(json!({"apiGroups": [""], "resources": ["secrets"], "resourceNames": names, "verbs": ["get"]}));
    }
    if let Some(cm) = &c.configmap {
        rules.push(json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [cm], "verbs": ["get"]}));
    }
    rules.extend(c.extra_rules.iter().map(|r| serde_json::to_value(r).expect("rules serialize")));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    #[test]
    fn run_access() {
        let c = json!({
            "configmap": "customer-360-artifacts",
            "extra_rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]
        });
        let secrets = ["snowflake-creds".to_owned(), "minio-creds".to_owned(), "snowflake-creds".to_owned()];
        let access = K8sRbac.run_access(&sel(&c), &secrets);
        assert!(!access.automount_token);
        insta::assert_json_snapshot!(access.rules);
    }

    #[test]
    fn without_secrets_or_configmap_the_role_grants_nothing() {
        let access = K8sRbac.run_access(&Selected::EMPTY, &[]);
        assert_eq!(access, RunAccess::default());
        assert!(K8sRbac.run_access(&sel(&json!({"automount_token": true})), &[]).automount_token);
    }

    #[test]
    fn rules_are_checked() {
        let shown = |c: Value| -> Vec<String> {
            crate::validate(&K8sRbac, &sel(&c))
                .iter()
                .map(|e| format!("{} | {}", e.path.join("."), e.help.as_deref().unwrap_or("")))
                .collect()
        };
        assert_eq!(
            shown(
                json!({"extra_rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"], "resourceName": ["x"]}]})
            ),
            [
                "extra_rules.[0].resourceName | did you mean `resourceNames`?",
                "extra_rules.[0].verbs.[0] | use one of `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`"
            ]
        );
        assert_eq!(
            shown(json!({"extra_rules": [{"apiGroups": [], "resources": ["pods"], "verbs": ["get"]}]})).len(),
            1
        );
        assert_eq!(
            shown(json!({"extra_rules": [{"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["get"]}]})),
            [
                "extra_rules.[0].apiGroups | list the apiGroups the jobs use",
                "extra_rules.[0].resources | name the Secrets in `resourceNames`; the product's own Secrets are granted already"
            ]
        );
        assert!(
            shown(json!({"extra_rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["tls"], "verbs": ["get"]}]}))
                .is_empty()
        );
        assert_eq!(shown(json!({"automount_tokn": true})), ["automount_tokn | did you mean `automount_token`?"]);
    }
}
