//! Catalog plugins: the Iceberg catalog a platform's tables are registered
//! in. Each one gives compute a secret-free [`CatalogBinding`] and, when floe
//! runs the catalog in the cluster, its part of the platform chart's values.
//!
//! A catalog with an Iceberg REST endpoint besides its own API (Glue, Unity)
//! gives that endpoint in the binding's properties as `rest.uri`, with the
//! warehouse a REST client names as `rest.warehouse`; the other property
//! names are the Iceberg catalog properties engines read (`glue.id`,
//! `rest.signing-name`, `header.Polaris-Realm`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{CatalogBinding, Egress, Selected, StorageBinding};
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap, if_selected, needs};
use crate::storage::{AWS_REGION, HTTP_URL, check_secret_key, in_cluster, secret_of};
use crate::{Catalog, Plugin};

pub(crate) static PLUGINS: &[&'static dyn Catalog] = &[&Polaris, &Glue, &Hive, &Unity];

/// The name engines attach a catalog as: a SQL identifier.
const CATALOG_NAME: &str = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$";
/// A Kubernetes Secret name.
const SECRET_NAME: &str = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$";
/// A storage URI of a warehouse.
const WAREHOUSE_URI: &str = r"^(s3a?|gs|abfss)://[^/\s]+(/\S*)?$";

/// The warehouse a catalog writes to: its own, else the storage's root.
fn warehouse_or_storage(own: Option<&String>, storage: Option<&StorageBinding>) -> String {
    match (own, storage) {
        (Some(w), _) => w.clone(),
        (None, Some(s)) => s.warehouse_uri(),
        // Composition requires storage of these catalogs; an empty warehouse
        // only reaches a caller that skipped it.
        (None, None) => String::new(),
    }
}

/// An error for a setting that configures a service floe deploys, on a
/// catalog whose endpoint is outside the cluster.
fn only_when_deployed(key: &str, endpoint_key: &str) -> ConfigError {
    ConfigError::at(
        &[key],
        format!("`{key}` configures a catalog floe deploys, but `{endpoint_key}` is outside the cluster"),
        format!("remove `{key}`, or point `{endpoint_key}` at an in-cluster Service"),
    )
}

// ---------------------------------------------------------------- Polaris

/// Apache Polaris, an Iceberg REST catalog.
pub struct Polaris;

/// Polaris catalog.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "polaris catalog config")]
pub struct PolarisConfig {
    /// The Iceberg REST endpoint (`http://floe-platform-polaris:8181/api/catalog`);
    /// floe deploys Polaris when it names a Service in the cluster.
    #[schemars(pattern(HTTP_URL))]
    pub uri: String,
    /// The Polaris catalog tables are registered in.
    #[schemars(length(min = 1))]
    pub warehouse: String,
    /// The name engines attach the catalog as (default: `warehouse`).
    #[schemars(pattern(CATALOG_NAME))]
    pub name: Option<String>,
    /// OAuth2 client credentials for the catalog.
    pub oauth2: Option<PolarisOAuth2>,
    /// The Polaris realm (a deployed Polaris's only realm; clients send it as
    /// the `Polaris-Realm` header). Default `POLARIS`.
    #[schemars(length(min = 1))]
    pub realm: Option<String>,
    /// For a deployed Polaris: the Secret with the metastore database's
    /// `username`, `password` and `jdbcUrl`; without it Polaris keeps its
    /// metadata in memory.
    #[schemars(pattern(SECRET_NAME))]
    pub persistence_secret: Option<String>,
    /// For a deployed Polaris: the Secret with the token broker's RSA key
    /// pair (`public.pem`, `private.pem`), which every replica must share.
    #[schemars(pattern(SECRET_NAME))]
    pub token_broker_secret: Option<String>,
}

/// OAuth2 client credentials (the client credentials flow).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolarisOAuth2 {
    /// The principal's client ID.
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// The principal's client secret (default: key `client_secret` of the
    /// `connection_secret_ref` Secret).
    pub client_secret: Option<Credential>,
    /// The scope tokens are requested for (`PRINCIPAL_ROLE:ALL`).
    #[schemars(length(min = 1))]
    pub scope: Option<String>,
    /// The token endpoint.
    #[schemars(pattern(HTTP_URL))]
    pub token_url: Option<String>,
}

static POLARIS_META: Meta = Meta {
    name: "polaris",
    category: Category::Catalog,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Apache Polaris, an Iceberg REST catalog",
    provides: &[cap("iceberg-catalog", "rest")],
    requires: &[if_selected(
        Category::Storage,
        "object-store",
        &["s3", "gcs", "azure"],
        "Polaris stores tables in S3, GCS or Azure storage",
    )],
};

impl PolarisConfig {
    fn client_secret(&self, sel: &Selected<'_>) -> Option<Credential> {
        let explicit = self.oauth2.as_ref().and_then(|o| o.client_secret.as_ref());
        Credential::or_secret(explicit, sel.connection_secret, "client_secret")
    }
}

impl Plugin for Polaris {
    fn meta(&self) -> &'static Meta {
        &POLARIS_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<PolarisConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: PolarisConfig = typed(sel);
        let mut errors = Vec::new();
        if let Some(o) = &c.oauth2 {
            if o.token_url.is_none() && c.uri.starts_with("https://") {
                errors.push(ConfigError::at(
                    &["oauth2", "token_url"],
                    "`oauth2` has no `token_url`, and `uri` is an external https endpoint",
                    "set `oauth2.token_url` to the token endpoint of the catalog's identity provider",
                ));
            }
            if c.client_secret(sel).is_none() {
                errors.push(ConfigError::at(
                    &["oauth2", "client_secret"],
                    "`oauth2` has no `client_secret`, and no `connection_secret_ref` holds one",
                    "set `oauth2.client_secret` to a secret reference, or `connection_secret_ref` to a Secret with key `client_secret`",
                ));
            }
            check_secret_key(&mut errors, &["oauth2", "client_secret"], o.client_secret.as_ref());
        }
        if !in_cluster(&c.uri) {
            if c.persistence_secret.is_some() {
                errors.push(only_when_deployed("persistence_secret", "uri"));
            }
            if c.token_broker_secret.is_some() {
                errors.push(only_when_deployed("token_broker_secret", "uri"));
            }
        }
        errors
    }

    /// The Apache Polaris chart's values: one realm, relational JDBC
    /// persistence from an existing Secret, and a shared token broker key.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: PolarisConfig = typed(sel);
        if !in_cluster(&c.uri) {
            return Value::Null;
        }
        let persistence = match &c.persistence_secret {
            Some(secret) => json!({"type": "relational-jdbc", "relationalJdbc": {"secret": {"name": secret}}}),
            None => json!({"type": "in-memory"}),
        };
        let mut polaris = json!({
            "enabled": true,
            "realmContext": {"realms": [c.realm.as_deref().unwrap_or("POLARIS")]},
            "persistence": persistence,
        });
        if let Some(secret) = &c.token_broker_secret {
            polaris["authentication"] = json!({"tokenBroker": {"type": "rsa-key-pair", "secret": {"name": secret}}});
        }
        json!({ "polaris": polaris })
    }
}

impl Catalog for Polaris {
    fn catalog_binding(&self, sel: &Selected<'_>, _storage: Option<&StorageBinding>) -> CatalogBinding {
        let c: PolarisConfig = typed(sel);
        let mut properties = BTreeMap::new();
        if let Some(o) = &c.oauth2 {
            properties.insert("client_id".to_owned(), o.client_id.clone());
            if let Some(scope) = &o.scope {
                properties.insert("scope".to_owned(), scope.clone());
            }
            if let Some(url) = &o.token_url {
                properties.insert("token_url".to_owned(), url.clone());
            }
        }
        if let Some(realm) = &c.realm {
            properties.insert("header.Polaris-Realm".to_owned(), realm.clone());
        }
        let secret = c.client_secret(sel);
        CatalogBinding {
            plugin: "polaris".to_owned(),
            kind: "rest".to_owned(),
            name: c.name.clone().unwrap_or_else(|| c.warehouse.clone()),
            uri: Some(c.uri.clone()),
            warehouse: c.warehouse.clone(),
            region: None,
            credentials_secret: secret_of(secret.as_ref()).map(|(name, _)| name.to_owned()),
            properties,
        }
    }
}

// ---------------------------------------------------------------- Glue

/// The AWS Glue Data Catalog.
pub struct Glue;

/// AWS Glue Data Catalog.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "glue catalog config")]
pub struct GlueConfig {
    /// The AWS region of the Data Catalog.
    #[schemars(pattern(AWS_REGION))]
    pub region: String,
    /// The catalog's AWS account ID (default: the caller's account).
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub catalog_id: Option<String>,
    /// Where new tables go (default: the storage's warehouse root).
    #[schemars(pattern(r"^s3a?://[^/\s]+(/\S*)?$"))]
    pub warehouse: Option<String>,
    /// An IAM role to assume for the catalog and its tables.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$"))]
    pub role_arn: Option<String>,
    /// The name engines attach the catalog as (default `glue`).
    #[schemars(pattern(CATALOG_NAME))]
    pub name: Option<String>,
}

static GLUE_META: Meta = Meta {
    name: "glue",
    category: Category::Catalog,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "The AWS Glue Data Catalog, natively or through its Iceberg REST endpoint",
    provides: &[cap("iceberg-catalog", "glue"), cap("iceberg-catalog", "rest")],
    requires: &[needs(Category::Storage, "object-store", &["s3"], "AWS Glue Data Catalog tables live in Amazon S3")],
};

impl Plugin for Glue {
    fn meta(&self) -> &'static Meta {
        &GLUE_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<GlueConfig>()
    }
}

impl Catalog for Glue {
    fn catalog_binding(&self, sel: &Selected<'_>, storage: Option<&StorageBinding>) -> CatalogBinding {
        let c: GlueConfig = typed(sel);
        let mut properties = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            properties.insert(k.to_owned(), v.to_owned());
        };
        set("glue.region", &c.region);
        if let Some(id) = &c.catalog_id {
            set("glue.id", id);
            // The REST endpoint names a catalog by its account ID.
            set("rest.warehouse", id);
        }
        if let Some(arn) = &c.role_arn {
            set("client.role-arn", arn);
        }
        set("rest.uri", &format!("https://glue.{}.amazonaws.com/iceberg", c.region));
        set("rest.sigv4-enabled", "true");
        set("rest.signing-name", "glue");
        set("rest.signing-region", &c.region);
        CatalogBinding {
            plugin: "glue".to_owned(),
            kind: "glue".to_owned(),
            name: c.name.clone().unwrap_or_else(|| "glue".to_owned()),
            uri: None,
            warehouse: warehouse_or_storage(c.warehouse.as_ref(), storage),
            region: Some(c.region.clone()),
            credentials_secret: sel.connection_secret.map(str::to_owned),
            properties,
        }
    }
}

// ---------------------------------------------------------------- Hive

/// A Hive Metastore, over Thrift.
pub struct Hive;

/// Hive Metastore catalog.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hive catalog config")]
pub struct HiveConfig {
    /// The metastore's Thrift endpoint (`thrift://hive-metastore:9083`);
    /// floe deploys the metastore when it names a Service in the cluster.
    #[schemars(pattern(r"^thrift://[^/\s:]+:[0-9]{1,5}$"))]
    pub uri: String,
    /// Where new tables go (default: the storage's warehouse root).
    #[schemars(pattern(WAREHOUSE_URI))]
    pub warehouse: Option<String>,
    /// The name engines attach the catalog as (default `hive`).
    #[schemars(pattern(CATALOG_NAME))]
    pub name: Option<String>,
    /// For a deployed metastore: the PostgreSQL database it keeps metadata
    /// in; without it, an embedded Derby database that a restart loses.
    pub database: Option<HiveDatabase>,
}

/// The metastore's PostgreSQL database.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HiveDatabase {
    /// JDBC URL (`jdbc:postgresql://postgres:5432/metastore`).
    #[schemars(pattern(r"^jdbc:postgresql://\S+$"))]
    pub url: String,
    /// Database user.
    #[schemars(length(min = 1))]
    pub user: String,
    /// Database password (default: key `password` of the `connection_secret_ref` Secret).
    pub password: Option<Credential>,
}

/// The metastore image: Apache Hive's, which runs a standalone metastore
/// with `SERVICE_NAME=metastore`.
const HIVE_IMAGE: (&str, &str) = ("apache/hive", "4.0.1");

static HIVE_META: Meta = Meta {
    name: "hive",
    category: Category::Catalog,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "A Hive Metastore, over Thrift",
    provides: &[cap("iceberg-catalog", "hive")],
    requires: &[if_selected(
        Category::Storage,
        "object-store",
        &["s3", "gcs", "azure"],
        "the Hive Metastore registers tables in S3, GCS or Azure storage",
    )],
};

impl HiveDatabase {
    /// The Secret and key of the password, when it is a Kubernetes reference.
    fn password_ref(&self, sel: &Selected<'_>) -> Option<(String, String)> {
        let c = Credential::or_secret(self.password.as_ref(), sel.connection_secret, "password");
        secret_of(c.as_ref()).map(|(name, key)| (name.to_owned(), key.to_owned()))
    }
}

impl Plugin for Hive {
    fn meta(&self) -> &'static Meta {
        &HIVE_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<HiveConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: HiveConfig = typed(sel);
        let mut errors = Vec::new();
        let Some(db) = &c.database else { return errors };
        if !in_cluster(&c.uri) {
            errors.push(only_when_deployed("database", "uri"));
        } else if db.password_ref(sel).is_none() {
            errors.push(ConfigError::at(
                &["database", "password"],
                "the metastore database has no password Secret: `database.password` is not a Kubernetes secret reference, and there is no `connection_secret_ref`",
                "set `database.password` to a `secret_ref`, or `connection_secret_ref` to a Secret with key `password`",
            ));
        }
        errors
    }

    /// A standalone metastore from the Apache Hive image, configured as the
    /// image documents: `SERVICE_NAME`, `DB_DRIVER` and the JDO connection
    /// in `SERVICE_OPTS`, whose password Kubernetes expands from a Secret.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: HiveConfig = typed(sel);
        if !in_cluster(&c.uri) {
            return Value::Null;
        }
        let port = Egress::from_url("metastore", &c.uri).map_or(9083, |e| e.port);
        let mut env = vec![json!({"name": "SERVICE_NAME", "value": "metastore"})];
        if let Some(db) = &c.database
            && let Some((secret, key)) = db.password_ref(sel)
        {
            env.push(json!({"name": "DB_DRIVER", "value": "postgres"}));
            env.push(json!({
                "name": "HIVE_METASTORE_DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
            }));
            let opts = [
                "-Djavax.jdo.option.ConnectionDriverName=org.postgresql.Driver".to_owned(),
                format!("-Djavax.jdo.option.ConnectionURL={}", db.url),
                format!("-Djavax.jdo.option.ConnectionUserName={}", db.user),
                "-Djavax.jdo.option.ConnectionPassword=$(HIVE_METASTORE_DB_PASSWORD)".to_owned(),
            ];
            env.push(json!({"name": "SERVICE_OPTS", "value": opts.join(" ")}));
        }
        json!({
            "hive-metastore": {
                "enabled": true,
                "image": {"repository": HIVE_IMAGE.0, "tag": HIVE_IMAGE.1},
                "service": {"port": port},
                "env": env,
            }
        })
    }
}

impl Catalog for Hive {
    fn catalog_binding(&self, sel: &Selected<'_>, storage: Option<&StorageBinding>) -> CatalogBinding {
        let c: HiveConfig = typed(sel);
        CatalogBinding {
            plugin: "hive".to_owned(),
            kind: "hive".to_owned(),
            name: c.name.clone().unwrap_or_else(|| "hive".to_owned()),
            uri: Some(c.uri.clone()),
            warehouse: warehouse_or_storage(c.warehouse.as_ref(), storage),
            region: None,
            credentials_secret: None,
            properties: BTreeMap::new(),
        }
    }
}

// ---------------------------------------------------------------- Unity

/// Unity Catalog: a Databricks workspace's, or an open-source server.
pub struct Unity;

/// Where Unity Catalog serves the Iceberg REST catalog API, under its server URL.
const UNITY_ICEBERG_REST_PATH: &str = "/api/2.1/unity-catalog/iceberg-rest";

/// Unity Catalog.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "unity catalog config")]
pub struct UnityConfig {
    /// The Unity Catalog server: a Databricks workspace URL
    /// (`https://dbc-1234.cloud.databricks.com`) or an open-source server.
    #[schemars(pattern(HTTP_URL))]
    pub uri: String,
    /// The Unity catalog tables are registered in.
    #[schemars(pattern(CATALOG_NAME))]
    pub catalog: String,
    /// A personal access or OAuth token (default: key `token` of the
    /// `connection_secret_ref` Secret).
    pub token: Option<Credential>,
    /// The name engines attach the catalog as (default: `catalog`).
    #[schemars(pattern(CATALOG_NAME))]
    pub name: Option<String>,
}

static UNITY_META: Meta = Meta {
    name: "unity",
    category: Category::Catalog,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Unity Catalog, natively or through its Iceberg REST endpoint",
    provides: &[cap("iceberg-catalog", "unity"), cap("iceberg-catalog", "rest")],
    requires: &[if_selected(
        Category::Storage,
        "object-store",
        &["s3", "gcs", "azure"],
        "Unity Catalog manages tables in S3, GCS or Azure storage",
    )],
};

impl UnityConfig {
    fn server(&self) -> &str {
        self.uri.trim_end_matches('/')
    }
}

impl Plugin for Unity {
    fn meta(&self) -> &'static Meta {
        &UNITY_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<UnityConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: UnityConfig = typed(sel);
        let mut errors = Vec::new();
        if let Some((server, _)) = c.uri.split_once("/api/") {
            errors.push(ConfigError::at(
                &["uri"],
                format!("`uri` includes an API path: `{}`", c.uri),
                format!("set `uri` to the server, `{server}`; floe adds the API paths"),
            ));
        }
        if c.token.is_none() && sel.connection_secret.is_none() && c.uri.starts_with("https://") {
            errors.push(ConfigError::at(
                &["token"],
                "Unity Catalog at an https endpoint needs a token, and neither `token` nor `connection_secret_ref` is set",
                "set `token` to a secret reference, or `connection_secret_ref` to a Secret with key `token`",
            ));
        }
        check_secret_key(&mut errors, &["token"], c.token.as_ref());
        errors
    }
}

impl Catalog for Unity {
    fn catalog_binding(&self, sel: &Selected<'_>, _storage: Option<&StorageBinding>) -> CatalogBinding {
        let c: UnityConfig = typed(sel);
        let token = Credential::or_secret(c.token.as_ref(), sel.connection_secret, "token");
        let properties = BTreeMap::from([
            ("rest.uri".to_owned(), format!("{}{UNITY_ICEBERG_REST_PATH}", c.server())),
            ("rest.warehouse".to_owned(), c.catalog.clone()),
        ]);
        CatalogBinding {
            plugin: "unity".to_owned(),
            kind: "unity".to_owned(),
            name: c.name.clone().unwrap_or_else(|| c.catalog.clone()),
            uri: Some(c.server().to_owned()),
            warehouse: c.catalog.clone(),
            region: None,
            credentials_secret: secret_of(token.as_ref()).map(|(name, _)| name.to_owned()),
            properties,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Any, find};
    use crate::testing::{redact, shown};

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn s3_storage() -> StorageBinding {
        StorageBinding {
            plugin: "s3".into(),
            scheme: "s3".into(),
            bucket: "acme-lakehouse".into(),
            account: None,
            prefix: "warehouse".into(),
            region: Some("eu-west-1".into()),
            endpoint: None,
            path_style_access: false,
            credentials_secret: None,
        }
    }

    fn outputs(p: &dyn Catalog, sel: &Selected<'_>) -> Value {
        json!({
            "binding": p.catalog_binding(sel, Some(&s3_storage())),
            "helm_values": p.helm_values(sel),
        })
    }

    fn secret_ref(name: &str, key: &str) -> Value {
        json!({"secret_ref": {"source": "kubernetes", "name": name, "key": key}})
    }

    #[test]
    fn demo_polaris_config_is_accepted_unchanged() {
        // The demo's inline `client_secret`, as floe replaced it.
        let c = json!({
            "uri": "http://floe-platform-polaris:8181/api/catalog",
            "warehouse": "floe-demo",
            "oauth2": {
                "client_id": "demo-admin",
                "client_secret": secret_ref("floe-catalog-polaris", "client_secret"),
                "scope": "PRINCIPAL_ROLE:ALL",
                "token_url": "http://floe-platform-polaris:8181/api/catalog/v1/oauth/tokens"
            }
        });
        assert_eq!(crate::validate(&Polaris, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&Polaris, &sel(&c)));
    }

    #[test]
    fn polaris_deployed_for_production() {
        let c = json!({
            "uri": "http://floe-platform-polaris:8181/api/catalog",
            "warehouse": "analytics",
            "name": "lake",
            "realm": "ACME",
            "persistence_secret": "polaris-db",
            "token_broker_secret": "polaris-token-keys",
            "oauth2": {"client_id": "floe-jobs", "scope": "PRINCIPAL_ROLE:ALL", "token_url": "http://floe-platform-polaris:8181/api/catalog/v1/oauth/tokens"}
        });
        let s = Selected::new(Some(&c), Some("polaris-credentials"));
        assert_eq!(crate::validate(&Polaris, &s), []);
        insta::assert_json_snapshot!(outputs(&Polaris, &s));
    }

    #[test]
    fn polaris_validation() {
        let c = json!({"uri": "ftp://polaris", "warehouse": "w", "oauth2": {"client_id": "a", "scop": "x"}});
        let errors = shown(&crate::validate(&Polaris, &sel(&c)));
        assert!(errors.contains(&"oauth2.scop | unknown key `scop` | did you mean `scope`?".to_owned()), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("uri | `uri`:")), "{errors:#?}");
        // An external catalog needs the token endpoint and a client secret.
        let c = json!({"uri": "https://polaris.acme.example.com/api/catalog", "warehouse": "w", "oauth2": {"client_id": "a"}, "persistence_secret": "db"});
        assert_eq!(
            shown(&crate::validate(&Polaris, &sel(&c))),
            [
                "oauth2.token_url | `oauth2` has no `token_url`, and `uri` is an external https endpoint | set `oauth2.token_url` to the token endpoint of the catalog's identity provider",
                "oauth2.client_secret | `oauth2` has no `client_secret`, and no `connection_secret_ref` holds one | set `oauth2.client_secret` to a secret reference, or `connection_secret_ref` to a Secret with key `client_secret`",
                "persistence_secret | `persistence_secret` configures a catalog floe deploys, but `uri` is outside the cluster | remove `persistence_secret`, or point `uri` at an in-cluster Service",
            ]
        );
        // An external Polaris deploys nothing.
        let s = Selected::new(Some(&c), Some("x"));
        assert_eq!(Polaris.helm_values(&s), Value::Null);
    }

    #[test]
    fn quickstart_polaris_without_a_warehouse_is_rejected() {
        let c = json!({"uri": "https://polaris.acme.com/api/catalog"});
        let errors = shown(&crate::validate(&Polaris, &sel(&c)));
        assert_eq!(errors, [" | \"warehouse\" is a required property | add `warehouse`"]);
    }

    #[test]
    fn glue_outputs() {
        let c = json!({"region": "eu-west-1", "catalog_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/floe-glue"});
        assert_eq!(crate::validate(&Glue, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&Glue, &sel(&c)));
    }

    #[test]
    fn glue_validation() {
        let c = json!({"region": "Europe", "catalog_id": "1234", "warehouse": "gs://lake", "regoin": "x"});
        let errors = shown(&crate::validate(&Glue, &sel(&c)));
        let keys: Vec<&str> = errors.iter().map(|e| e.split(" | ").next().unwrap_or("")).collect();
        assert_eq!(keys, ["catalog_id", "region", "regoin", "warehouse"], "{errors:#?}");
        assert!(errors.contains(&"regoin | unknown key `regoin` | did you mean `region`?".to_owned()), "{errors:#?}");
    }

    #[test]
    fn glue_needs_s3() {
        let glue = find(Category::Catalog, "glue").expect("glue is registered");
        let storage = |name| find(Category::Storage, name).expect("storage is registered");
        let conflicts = crate::compose::check(&[glue, storage("gcs")]);
        assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
        assert_eq!(
            conflicts[0].message,
            "catalog `glue` cannot work with storage `gcs`: AWS Glue Data Catalog tables live in Amazon S3"
        );
        assert!(conflicts[0].help.starts_with("select storage `minio` or `s3`"), "{}", conflicts[0].help);
        assert_eq!(crate::compose::check(&[glue, storage("minio")]), []);
        assert_eq!(crate::compose::check(&[glue, storage("s3")]), []);
        let alone = crate::compose::check(&[glue]);
        assert_eq!(
            alone[0].message,
            "catalog `glue` needs a storage plugin: AWS Glue Data Catalog tables live in Amazon S3"
        );
        // The other catalogs take any object store, or none.
        for name in ["polaris", "hive", "unity"] {
            let catalog = find(Category::Catalog, name).expect("registered");
            assert!(matches!(catalog, Any::Catalog(_)));
            assert_eq!(crate::compose::check(&[catalog, storage("azure-blob")]), [], "{name}");
            assert_eq!(crate::compose::check(&[catalog]), [], "{name}");
        }
    }

    #[test]
    fn hive_deployed_with_postgres() {
        let c = json!({
            "uri": "thrift://floe-platform-hive-metastore:9083",
            "database": {"url": "jdbc:postgresql://floe-platform-postgresql:5432/metastore", "user": "hive"}
        });
        let s = Selected::new(Some(&c), Some("hive-metastore-db"));
        assert_eq!(crate::validate(&Hive, &s), []);
        insta::assert_json_snapshot!(outputs(&Hive, &s));
    }

    #[test]
    fn hive_validation() {
        let c = json!({"uri": "http://hive:9083", "warehous": "s3://lake"});
        let errors = shown(&crate::validate(&Hive, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("uri | `uri`:")), "{errors:#?}");
        assert!(
            errors.contains(&"warehous | unknown key `warehous` | did you mean `warehouse`?".to_owned()),
            "{errors:#?}"
        );
        let db = json!({"url": "jdbc:postgresql://pg:5432/metastore", "user": "hive"});
        let c = json!({"uri": "thrift://hive-metastore:9083", "database": db});
        let errors = shown(&crate::validate(&Hive, &sel(&c)));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("database.password | the metastore database has no password Secret"),
            "{errors:#?}"
        );
        let c = json!({"uri": "thrift://metastore.corp.example.com:9083", "database": db});
        let errors = shown(&crate::validate(&Hive, &sel(&c)));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("database | `database` configures a catalog floe deploys"), "{errors:#?}");
    }

    #[test]
    fn hive_outside_the_cluster() {
        let c = json!({"uri": "thrift://metastore.corp.example.com:9083", "warehouse": "s3a://lake/hive"});
        assert_eq!(Hive.helm_values(&sel(&c)), Value::Null);
        let b = Hive.catalog_binding(&sel(&c), Some(&s3_storage()));
        assert_eq!(b.warehouse, "s3a://lake/hive");
        assert_eq!(b.kind, "hive");
    }

    #[test]
    fn unity_outputs() {
        let c = json!({
            "uri": "https://dbc-1234abcd-5678.cloud.databricks.com/",
            "catalog": "analytics",
            "token": secret_ref("databricks-pat", "token")
        });
        assert_eq!(crate::validate(&Unity, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&Unity, &sel(&c)));
    }

    #[test]
    fn unity_validation() {
        let c = json!({"uri": "https://dbc-1.cloud.databricks.com/api/2.1/unity-catalog/iceberg-rest", "catalog": "analytics"});
        assert_eq!(
            shown(&crate::validate(&Unity, &sel(&c))),
            [
                "uri | `uri` includes an API path: `https://dbc-1.cloud.databricks.com/api/2.1/unity-catalog/iceberg-rest` | set `uri` to the server, `https://dbc-1.cloud.databricks.com`; floe adds the API paths",
                "token | Unity Catalog at an https endpoint needs a token, and neither `token` nor `connection_secret_ref` is set | set `token` to a secret reference, or `connection_secret_ref` to a Secret with key `token`",
            ]
        );
        let c = json!({"uri": "http://unity-catalog:8080", "catalog": "1st catalog", "tokn": "x"});
        let errors = shown(&crate::validate(&Unity, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("catalog | `catalog`:")), "{errors:#?}");
        assert!(errors.contains(&"tokn | unknown key `tokn` | did you mean `token`?".to_owned()), "{errors:#?}");
    }

    #[test]
    fn no_output_holds_a_planted_secret() {
        const PLANTED: &str = "planted-Secret-v4lue";
        let cases: [(&dyn Catalog, Value); 4] = [
            (
                &Polaris,
                json!({"uri": "http://polaris:8181/api/catalog", "warehouse": "w", "oauth2": {"client_id": "floe", "client_secret": PLANTED}}),
            ),
            (&Glue, json!({"region": "us-east-1"})),
            (
                &Hive,
                json!({"uri": "thrift://hive:9083", "database": {"url": "jdbc:postgresql://pg/hms", "user": "hive", "password": PLANTED}}),
            ),
            (&Unity, json!({"uri": "https://unity.example.com", "catalog": "main", "token": PLANTED})),
        ];
        for (p, mut c) in cases {
            redact(&mut c, "floe-catalog-creds");
            let s = sel(&c);
            assert_eq!(crate::validate(p, &s), [], "{}", p.meta().name);
            let out = outputs(p, &s).to_string();
            assert!(!out.contains(PLANTED), "{}: {out}", p.meta().name);
        }
    }
}
