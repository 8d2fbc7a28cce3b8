//! Secrets plugins: how the Kubernetes Secrets that credential references
//! name come to exist in a product's namespace. floe never writes Secret
//! data; at most it writes the operator objects that sync a Secret from a
//! secret store.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::Selected;
use crate::config::typed;
use crate::config::{self, ConfigError};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{Plugin, Secrets};

pub(crate) static PLUGINS: &[&'static dyn Secrets] = &[&ExternalSecrets, &Infisical, &K8sSecrets, &Vault];

fn metadata(namespace: &str, name: &str) -> Value {
    json!({"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "floe"}})
}

/// The keys, sorted and without repeats, so output does not depend on the caller's order.
fn sorted(keys: &[String]) -> Vec<&str> {
    let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A per-Secret template without `{name}` makes every Secret read the same
/// remote entry, so their keys would collide.
fn check_template(key: &str, template: Option<&str>) -> Option<ConfigError> {
    let t = template?;
    (!t.contains("{name}")).then(|| {
        ConfigError::at(
            &[key],
            format!("`{t}` is the same for every Secret"),
            format!("put `{{name}}` in `{key}`, where the Secret's name goes (`floe/{{name}}`)"),
        )
    })
}

// ---------------------------------------------------------------- k8s

/// Plain Kubernetes Secrets, created by whoever runs the platform.
pub struct K8sSecrets;

/// Kubernetes Secrets; takes no configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "k8s secrets config")]
// An empty `properties` makes a stray key an unknown key, reported at that key.
#[schemars(extend("properties" = {}))]
pub struct K8sSecretsConfig {}

static K8S: Meta = Meta {
    name: "k8s",
    category: Category::Secrets,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Kubernetes Secrets that already exist in the namespace",
    provides: &[cap("secret-store", "k8s")],
    requires: &[],
};

impl Plugin for K8sSecrets {
    fn meta(&self) -> &'static Meta {
        &K8S
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<K8sSecretsConfig>()
    }
}

impl Secrets for K8sSecrets {
    /// None: the Secret is expected to exist, and floe never writes Secret data.
    fn secret_objects(&self, _sel: &Selected<'_>, _namespace: &str, _name: &str, _keys: &[String]) -> Vec<Value> {
        Vec::new()
    }
}

// ---------------------------------------------------------------- External Secrets Operator

/// The External Secrets Operator, syncing from any store it supports.
pub struct ExternalSecrets;

/// The kind of store an ExternalSecret reads from.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
pub enum StoreKind {
    #[default]
    SecretStore,
    ClusterSecretStore,
}

impl StoreKind {
    fn as_str(self) -> &'static str {
        match self {
            StoreKind::SecretStore => "SecretStore",
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// External Secrets Operator.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "external-secrets secrets config")]
pub struct ExternalSecretsConfig {
    /// The SecretStore or ClusterSecretStore to read from.
    #[schemars(length(min = 1))]
    pub store_name: String,
    /// `SecretStore` (in the namespace) or `ClusterSecretStore`.
    pub store_kind: Option<StoreKind>,
    /// How often the operator re-reads the store, as a Go duration (`1h`); `0s` reads once.
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub refresh_interval: Option<String>,
    /// The remote key per Secret; `{name}` is the Secret's name (`floe/{name}`).
    #[schemars(length(min = 1))]
    pub key_template: Option<String>,
}

static EXTERNAL_SECRETS: Meta = Meta {
    name: "external-secrets",
    category: Category::Secrets,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "External Secrets Operator ExternalSecrets, one per Secret",
    provides: &[cap("secret-store", "external-secrets")],
    requires: &[],
};

impl Plugin for ExternalSecrets {
    fn meta(&self) -> &'static Meta {
        &EXTERNAL_SECRETS
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<ExternalSecretsConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: ExternalSecretsConfig = typed(sel);
        check_template("key_template", c.key_template.as_deref()).into_iter().collect()
    }
}

impl Secrets for ExternalSecrets {
    fn secret_objects(&self, sel: &Selected<'_>, namespace: &str, name: &str, keys: &[String]) -> Vec<Value> {
        let c: ExternalSecretsConfig = typed(sel);
        let remote_key = c.key_template.as_deref().unwrap_or("floe/{name}").replace("{name}", name);
        let data: Vec<Value> = sorted(keys)
            .into_iter()
            .map(|k| json!({"secretKey": k, "remoteRef": {"key": remote_key, "property": k}}))
            .collect();
        vec![json!({
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": metadata(namespace, name),
            "spec": {
                "refreshInterval": c.refresh_interval.as_deref().unwrap_or("1h"),
                "secretStoreRef": {"name": c.store_name, "kind": c.store_kind.unwrap_or_default().as_str()},
                "target": {"name": name, "creationPolicy": "Owner"},
                "data": data,
            },
        })]
    }
}

// ---------------------------------------------------------------- Vault

/// HashiCorp Vault, through the Vault Secrets Operator.
pub struct Vault;

/// Vault Secrets Operator, reading a KV secrets engine.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vault secrets config")]
pub struct VaultConfig {
    /// The KV secrets engine's mount (`kvv2`).
    #[schemars(length(min = 1))]
    pub mount: String,
    /// The path per Secret inside the mount; `{name}` is the Secret's name (`floe/{name}`).
    #[schemars(length(min = 1))]
    pub path_template: Option<String>,
    /// The VaultAuth the operator authenticates with; its default one when unset.
    #[schemars(length(min = 1))]
    pub vault_auth_ref: Option<String>,
    /// The KV engine's version.
    #[schemars(range(min = 1, max = 2))]
    pub kv_version: Option<u8>,
    /// How often the operator re-reads the secret, as a Go duration (`60s`).
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub refresh_after: Option<String>,
}

static VAULT: Meta = Meta {
    name: "vault",
    category: Category::Secrets,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "HashiCorp Vault KV secrets through the Vault Secrets Operator",
    provides: &[cap("secret-store", "vault")],
    requires: &[],
};

impl Plugin for Vault {
    fn meta(&self) -> &'static Meta {
        &VAULT
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<VaultConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: VaultConfig = typed(sel);
        let mut errors: Vec<ConfigError> =
            check_template("path_template", c.path_template.as_deref()).into_iter().collect();
        if let Some(p) = &c.path_template
            && (p.starts_with('/') || p.starts_with(&format!("{}/", c.mount)))
        {
            errors.push(ConfigError::at(
                &["path_template"],
                format!("`{p}` is not a path inside mount `{}`", c.mount),
                "give the path relative to the mount, without a leading `/` or the mount's name",
            ));
        }
        errors
    }
}

impl Secrets for Vault {
    fn secret_objects(&self, sel: &Selected<'_>, namespace: &str, name: &str, keys: &[String]) -> Vec<Value> {
        let c: VaultConfig = typed(sel);
        let path = c.path_template.as_deref().unwrap_or("floe/{name}").replace("{name}", name);
        let kv = match c.kv_version.unwrap_or(2) {
            1 => "kv-v1",
            _ => "kv-v2",
        };
        // Only the keys floe asked for reach the Secret, whatever else the Vault entry holds.
        let includes: Vec<String> = sorted(keys).into_iter().map(|k| format!("^{}$", regex_escape(k))).collect();
        let mut spec = serde_json::Map::new();
        if let Some(auth) = &c.vault_auth_ref {
            spec.insert("vaultAuthRef".to_owned(), Value::from(auth.clone()));
        }
        spec.insert("mount".to_owned(), Value::from(c.mount.clone()));
        spec.insert("type".to_owned(), Value::from(kv));
        spec.insert("path".to_owned(), Value::from(path));
        spec.insert("refreshAfter".to_owned(), Value::from(c.refresh_after.as_deref().unwrap_or("60s")));
        spec.insert(
            "destination".to_owned(),
            json!({"name": name, "create": true, "transformation": {"includes": includes}}),
        );
        vec![json!({
            "apiVersion": "secrets.hashicorp.com/v1beta1",
            "kind": "VaultStaticSecret",
            "metadata": metadata(namespace, name),
            "spec": spec,
        })]
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------- Infisical

/// Infisical, through the Infisical Kubernetes operator.
pub struct Infisical;

/// Infisical Kubernetes operator, authenticating with a machine identity's Universal Auth.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "infisical secrets config")]
pub struct InfisicalConfig {
    /// The Infisical API (`https://app.infisical.com/api`, or a self-hosted one).
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub host_api: Option<String>,
    /// The project's slug.
    #[schemars(length(min = 1))]
    pub project_slug: String,
    /// The environment's slug (`prod`).
    #[schemars(length(min = 1))]
    pub env_slug: String,
    /// The folder per Secret; `{name}` is the Secret's name (`/floe/{name}`).
    #[schemars(regex(pattern = r"^/"))]
    pub secrets_path: Option<String>,
    /// The Kubernetes Secret in the namespace with the machine identity's `clientId` and `clientSecret`.
    #[schemars(length(min = 1))]
    pub credentials_ref: String,
    /// Seconds between syncs.
    #[schemars(range(min = 5))]
    pub resync_interval: Option<u32>,
}

static INFISICAL: Meta = Meta {
    name: "infisical",
    category: Category::Secrets,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Infisical secrets through the Infisical Kubernetes operator",
    provides: &[cap("secret-store", "infisical")],
    requires: &[],
};

impl Plugin for Infisical {
    fn meta(&self) -> &'static Meta {
        &INFISICAL
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<InfisicalConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: InfisicalConfig = typed(sel);
        check_template("secrets_path", c.secrets_path.as_deref()).into_iter().collect()
    }
}

impl Secrets for Infisical {
    /// One InfisicalSecret per Secret. The operator copies every secret in
    /// the Secret's folder, so `keys` shape nothing here; keep one folder
    /// per Secret.
    fn secret_objects(&self, sel: &Selected<'_>, namespace: &str, name: &str, _keys: &[String]) -> Vec<Value> {
        let c: InfisicalConfig = typed(sel);
        let path = c.secrets_path.as_deref().unwrap_or("/floe/{name}").replace("{name}", name);
        vec![json!({
            "apiVersion": "secrets.infisical.com/v1alpha1",
            "kind": "InfisicalSecret",
            "metadata": metadata(namespace, name),
            "spec": {
                "hostAPI": c.host_api.as_deref().unwrap_or("https://app.infisical.com/api"),
                "resyncInterval": c.resync_interval.unwrap_or(60),
                "authentication": {
                    "universalAuth": {
                        "secretsScope": {"projectSlug": c.project_slug, "envSlug": c.env_slug, "secretsPath": path},
                        "credentialsRef": {"secretName": c.credentials_ref, "secretNamespace": namespace},
                    },
                },
                "managedKubeSecretReferences": [
                    {"secretName": name, "secretNamespace": namespace, "creationPolicy": "Owner"},
                ],
            },
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn keys() -> Vec<String> {
        vec!["password".to_owned(), "private_key".to_owned(), "password".to_owned()]
    }

    fn errors(p: &dyn Plugin, c: &Value) -> Vec<String> {
        crate::validate(p, &sel(c))
            .iter()
            .map(|e| format!("{} | {}", e.path.join("."), e.help.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn k8s_writes_nothing() {
        assert!(
            K8sSecrets.secret_objects(&Selected::EMPTY, "floe-customer-360", "snowflake-creds", &keys()).is_empty()
        );
        assert_eq!(
            errors(&K8sSecrets, &json!({"namespace": "x"})),
            ["namespace | this plugin takes no configuration here"]
        );
    }

    #[test]
    fn external_secret() {
        let c =
            json!({"store_name": "aws-secrets-manager", "store_kind": "ClusterSecretStore", "refresh_interval": "15m"});
        insta::assert_json_snapshot!(ExternalSecrets.secret_objects(
            &sel(&c),
            "floe-customer-360",
            "snowflake-creds",
            &keys()
        ));
    }

    #[test]
    fn vault_static_secret() {
        let c = json!({"mount": "kvv2", "path_template": "data-platform/{name}", "vault_auth_ref": "floe", "refresh_after": "5m"});
        insta::assert_json_snapshot!(Vault.secret_objects(&sel(&c), "floe-customer-360", "snowflake-creds", &keys()));
    }

    #[test]
    fn infisical_secret() {
        let c =
            json!({"project_slug": "data-platform", "env_slug": "prod", "credentials_ref": "infisical-universal-auth"});
        insta::assert_json_snapshot!(Infisical.secret_objects(
            &sel(&c),
            "floe-customer-360",
            "snowflake-creds",
            &keys()
        ));
    }

    #[test]
    fn configs_are_checked() {
        assert_eq!(
            errors(
                &ExternalSecrets,
                &json!({"store_name": "s", "store_kind": "Vault", "refresh_interval": "1 hour", "key_templat": "x"})
            ),
            [
                "key_templat | did you mean `key_template`?",
                "refresh_interval | ",
                "store_kind | use one of `SecretStore`, `ClusterSecretStore`"
            ]
        );
        assert_eq!(
            errors(&ExternalSecrets, &json!({"store_name": "s", "key_template": "floe/shared"})),
            ["key_template | put `{name}` in `key_template`, where the Secret's name goes (`floe/{name}`)"]
        );
        assert_eq!(
            errors(&Vault, &json!({"mount": "kvv2", "kv_version": 3})),
            ["kv_version | use a value of at most 2"]
        );
        assert_eq!(
            errors(&Vault, &json!({"mount": "kvv2", "path_template": "kvv2/{name}"})),
            ["path_template | give the path relative to the mount, without a leading `/` or the mount's name"]
        );
        assert_eq!(
            errors(
                &Infisical,
                &json!({"project_slug": "p", "env_slug": "prod", "credentials_ref": "c", "secrets_path": "floe", "resync_interval": 1})
            ),
            ["resync_interval | use a value of at least 5", "secrets_path | "]
        );
        assert_eq!(
            errors(
                &Infisical,
                &json!({"project_slug": "p", "env_slug": "prod", "credentials_ref": "c", "secrets_path": "/floe"})
            ),
            ["secrets_path | put `{name}` in `secrets_path`, where the Secret's name goes (`floe/{name}`)"]
        );
        // Required keys are reported at the object.
        assert_eq!(errors(&Infisical, &json!({"project_slug": "p"})).len(), 2);
    }

    #[test]
    fn no_object_holds_secret_data() {
        let configs: [(&dyn Secrets, Value); 3] = [
            (&ExternalSecrets, json!({"store_name": "s"})),
            (&Vault, json!({"mount": "kvv2"})),
            (&Infisical, json!({"project_slug": "p", "env_slug": "prod", "credentials_ref": "c"})),
        ];
        for (p, c) in configs {
            for o in p.secret_objects(&sel(&c), "ns", "creds", &keys()) {
                assert_ne!(o["kind"], "Secret", "{o}");
                assert!(o.get("data").is_none() && o.get("stringData").is_none(), "{o}");
                assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "floe");
            }
        }
    }

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(regex_escape("tls.crt"), r"tls\.crt");
        assert_eq!(regex_escape("a+b"), r"a\+b");
    }
}
