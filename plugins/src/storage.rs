//! Storage plugins: the object stores a platform's tables live in. Each one
//! tells catalog, compute and orchestrator where and how to reach it (a
//! secret-free [`StorageBinding`]) and gives PyIceberg's FileIO properties for
//! it, under the names PyIceberg reads.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{Egress, Selected, StorageBinding};
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{Plugin, Storage};

pub(crate) static PLUGINS: &[&'static dyn Storage] = &[&S3, &Minio, &Gcs, &AzureBlob];

/// PyIceberg's FileIO on PyArrow: its first choice for `s3://` and `gs://`.
const PYARROW_FILE_IO: &str = "pyiceberg.io.pyarrow.PyArrowFileIO";
/// PyIceberg's FileIO on fsspec: its first choice for `abfss://`.
const FSSPEC_FILE_IO: &str = "pyiceberg.io.fsspec.FsspecFileIO";

/// An `http(s)://host[:port][/path]` URL.
pub(crate) const HTTP_URL: &str = r"^https?://[^/\s]+(/\S*)?$";
/// A key prefix without leading or trailing `/`.
const PREFIX: &str = r"^[^/](.*[^/])?$";
/// An AWS region (`eu-west-1`, `us-gov-west-1`).
pub(crate) const AWS_REGION: &str = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$";
/// An S3 bucket name.
const S3_BUCKET: &str = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";
/// A Kubernetes resource quantity (`10Gi`).
const QUANTITY: &str = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

/// Whether a URL names a Service inside the cluster, which floe deploys
/// itself, rather than an external endpoint.
pub(crate) fn in_cluster(url: &str) -> bool {
    let Some(e) = Egress::from_url("", url) else { return false };
    !e.host.contains('.') || e.host.ends_with(".svc") || e.host.ends_with(".cluster.local")
}

fn insert(out: &mut BTreeMap<String, Value>, key: &str, value: impl Into<Value>) {
    out.insert(key.to_owned(), value.into());
}

/// The Kubernetes Secret and key a credential refers to, when it is a reference.
pub(crate) fn secret_of(c: Option<&Credential>) -> Option<(&str, &str)> {
    match c? {
        Credential::Ref { secret_ref } => Some((secret_ref.name.as_str(), secret_ref.key.as_str())),
        Credential::Template(_) => None,
    }
}

/// Consumers read a credential from the Secret a binding names under the
/// key floe gives it (`access_key_id`, `client_secret`, …), since a binding
/// carries only the Secret's name; a reference to another key would be read
/// under the wrong name.
pub(crate) fn check_secret_key(errors: &mut Vec<ConfigError>, path: &[&str], c: Option<&Credential>) {
    let Some(field) = path.last() else { return };
    if let Some((name, key)) = secret_of(c)
        && key != *field
    {
        errors.push(ConfigError::at(
            path,
            format!("`{field}` refers to key `{key}` of Secret `{name}`; workloads read it as key `{field}`"),
            format!("store the value under key `{field}` in Secret `{name}`"),
        ));
    }
}

// ---------------------------------------------------------------- S3

/// Amazon S3, or an S3-compatible endpoint.
pub struct S3;

/// S3 storage.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "s3 storage config")]
pub struct S3Config {
    /// The bucket tables live in.
    #[schemars(pattern(S3_BUCKET))]
    pub bucket: String,
    /// The bucket's AWS region.
    #[schemars(pattern(AWS_REGION))]
    pub region: Option<String>,
    /// A non-default endpoint (a VPC endpoint, an S3-compatible server).
    #[schemars(pattern(HTTP_URL))]
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket` rather than `bucket.endpoint`.
    pub path_style_access: Option<bool>,
    /// Key prefix of the warehouse inside the bucket, without leading or trailing `/`.
    #[schemars(pattern(PREFIX))]
    pub prefix: Option<String>,
    /// Access key ID; without it, workloads use their IAM role (IRSA) or
    /// the `connection_secret_ref` Secret.
    pub access_key_id: Option<Credential>,
    /// Secret access key, with `access_key_id`.
    pub secret_access_key: Option<Credential>,
}

static S3_META: Meta = Meta {
    name: "s3",
    category: Category::Storage,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Amazon S3 or an S3-compatible endpoint",
    provides: &[cap("object-store", "s3"), cap("cloud", "aws")],
    requires: &[],
};

impl S3Config {
    /// The Secret with both keys: the one the references name, else the selection's.
    fn credentials_secret(&self, sel: &Selected<'_>) -> Option<String> {
        let named = secret_of(self.access_key_id.as_ref()).map(|(name, _)| name);
        named.or(sel.connection_secret).map(str::to_owned)
    }
}

impl Plugin for S3 {
    fn meta(&self) -> &'static Meta {
        &S3_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<S3Config>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: S3Config = typed(sel);
        let mut errors = Vec::new();
        match (&c.access_key_id, &c.secret_access_key) {
            // Located at the key that is written: the missing one has no place.
            (Some(_), None) => errors.push(ConfigError::at(
                &["access_key_id"],
                "`access_key_id` is set without `secret_access_key`",
                "set both keys, or neither to use the workload's IAM role",
            )),
            (None, Some(_)) => errors.push(ConfigError::at(
                &["secret_access_key"],
                "`secret_access_key` is set without `access_key_id`",
                "set both keys, or neither to use the workload's IAM role",
            )),
            _ => {}
        }
        let id = secret_of(c.access_key_id.as_ref()).map(|(name, _)| name);
        let key = secret_of(c.secret_access_key.as_ref()).map(|(name, _)| name);
        if let (Some(id), Some(key)) = (id, key)
            && id != key
        {
            errors.push(ConfigError::at(
                &["secret_access_key"],
                format!("the access key is in Secret `{id}` but the secret key is in Secret `{key}`"),
                "keep both keys in one Secret",
            ));
        }
        check_secret_key(&mut errors, &["access_key_id"], c.access_key_id.as_ref());
        check_secret_key(&mut errors, &["secret_access_key"], c.secret_access_key.as_ref());
        errors
    }
}

impl Storage for S3 {
    fn deployment_binding(&self, sel: &Selected<'_>) -> StorageBinding {
        let c: S3Config = typed(sel);
        StorageBinding {
            plugin: "s3".to_owned(),
            scheme: "s3".to_owned(),
            bucket: c.bucket.clone(),
            account: None,
            prefix: c.prefix.clone().unwrap_or_default(),
            region: c.region.clone(),
            endpoint: c.endpoint.clone(),
            path_style_access: c.path_style_access.unwrap_or(false),
            credentials_secret: c.credentials_secret(sel),
        }
    }

    fn pyiceberg_fileio(&self, sel: &Selected<'_>) -> BTreeMap<String, Value> {
        s3_fileio(&self.deployment_binding(sel))
    }
}

/// PyIceberg's S3 properties. PyIceberg has no `s3.path-style-access` (that
/// is Java Iceberg's); its PyArrow FileIO addresses buckets virtually unless
/// `s3.force-virtual-addressing` is false, and then uses path style for a
/// custom endpoint. Values are strings, as PyIceberg's properties are.
fn s3_fileio(b: &StorageBinding) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    insert(&mut out, "py-io-impl", PYARROW_FILE_IO);
    if let Some(region) = &b.region {
        insert(&mut out, "s3.region", region.clone());
    }
    if let Some(endpoint) = &b.endpoint {
        insert(&mut out, "s3.endpoint", endpoint.clone());
        insert(&mut out, "s3.force-virtual-addressing", (!b.path_style_access).to_string());
    }
    out
}

// ---------------------------------------------------------------- MinIO

/// MinIO, S3-compatible storage that floe can run in the cluster.
pub struct Minio;

/// How MinIO runs (the MinIO chart's `mode`).
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MinioMode {
    Standalone,
    Distributed,
}

impl MinioMode {
    fn name(self) -> &'static str {
        match self {
            MinioMode::Standalone => "standalone",
            MinioMode::Distributed => "distributed",
        }
    }
}

/// MinIO storage.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "minio storage config")]
pub struct MinioConfig {
    /// The MinIO S3 API endpoint (`http://floe-platform-minio:9000`); floe
    /// deploys MinIO when it names a Service in the cluster.
    #[schemars(pattern(HTTP_URL))]
    pub endpoint: String,
    /// The bucket tables live in; floe creates it in a MinIO it deploys.
    #[schemars(pattern(S3_BUCKET))]
    pub bucket: String,
    /// The region S3 clients sign for (default `us-east-1`).
    #[schemars(length(min = 1))]
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket` (default `true`).
    pub path_style_access: Option<bool>,
    /// Key prefix of the warehouse inside the bucket, without leading or trailing `/`.
    #[schemars(pattern(PREFIX))]
    pub prefix: Option<String>,
    /// How a deployed MinIO runs (default `standalone`).
    pub mode: Option<MinioMode>,
    /// Size of each volume of a deployed MinIO (`50Gi`).
    #[schemars(pattern(QUANTITY))]
    pub persistence_size: Option<String>,
}

static MINIO_META: Meta = Meta {
    name: "minio",
    category: Category::Storage,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "MinIO, S3-compatible storage in the cluster or outside it",
    provides: &[cap("object-store", "s3")],
    requires: &[],
};

impl Plugin for Minio {
    fn meta(&self) -> &'static Meta {
        &MINIO_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<MinioConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: MinioConfig = typed(sel);
        let mut errors = Vec::new();
        if in_cluster(&c.endpoint) && sel.connection_secret.is_none() {
            errors.push(ConfigError::at(
                &["endpoint"],
                "floe deploys this MinIO, but no `connection_secret_ref` names its credentials",
                "set `connection_secret_ref` to a Secret with `rootUser`, `rootPassword`, `access_key_id` and `secret_access_key`",
            ));
        }
        if c.mode.is_some() && !in_cluster(&c.endpoint) {
            errors.push(ConfigError::at(
                &["mode"],
                "`mode` applies only to a MinIO floe deploys, and `endpoint` is outside the cluster",
                "remove `mode`, or point `endpoint` at the in-cluster Service",
            ));
        }
        errors
    }

    /// The MinIO chart's values (charts.min.io): the root credentials come
    /// from the connection Secret (`existingSecret`, keys `rootUser` and
    /// `rootPassword`), and the bucket is created at install.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: MinioConfig = typed(sel);
        if !in_cluster(&c.endpoint) {
            return Value::Null;
        }
        let mut persistence = json!({"enabled": true});
        if let Some(size) = &c.persistence_size {
            persistence["size"] = Value::from(size.clone());
        }
        let mut minio = json!({
            "enabled": true,
            "mode": c.mode.unwrap_or(MinioMode::Standalone).name(),
            "buckets": [{"name": c.bucket, "policy": "none", "purge": false}],
            "persistence": persistence,
        });
        if let Some(secret) = sel.connection_secret {
            minio["existingSecret"] = Value::from(secret);
        }
        json!({ "minio": minio })
    }
}

impl Storage for Minio {
    fn deployment_binding(&self, sel: &Selected<'_>) -> StorageBinding {
        let c: MinioConfig = typed(sel);
        StorageBinding {
            plugin: "minio".to_owned(),
            scheme: "s3".to_owned(),
            bucket: c.bucket.clone(),
            account: None,
            prefix: c.prefix.clone().unwrap_or_default(),
            region: Some(c.region.clone().unwrap_or_else(|| "us-east-1".to_owned())),
            endpoint: Some(c.endpoint.clone()),
            path_style_access: c.path_style_access.unwrap_or(true),
            credentials_secret: sel.connection_secret.map(str::to_owned),
        }
    }

    fn pyiceberg_fileio(&self, sel: &Selected<'_>) -> BTreeMap<String, Value> {
        s3_fileio(&self.deployment_binding(sel))
    }
}

// ---------------------------------------------------------------- GCS

/// Google Cloud Storage.
pub struct Gcs;

/// Google Cloud Storage.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gcs storage config")]
pub struct GcsConfig {
    /// The bucket tables live in.
    #[schemars(pattern(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"))]
    pub bucket: String,
    /// The Google Cloud project that owns the bucket.
    #[schemars(pattern(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"))]
    pub project_id: String,
    /// Key prefix of the warehouse inside the bucket, without leading or trailing `/`.
    #[schemars(pattern(PREFIX))]
    pub prefix: Option<String>,
    /// The bucket's location (`EU`, `us-central1`).
    #[schemars(length(min = 1))]
    pub location: Option<String>,
}

static GCS_META: Meta = Meta {
    name: "gcs",
    category: Category::Storage,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Google Cloud Storage",
    provides: &[cap("object-store", "gcs"), cap("cloud", "gcp")],
    requires: &[],
};

impl Plugin for Gcs {
    fn meta(&self) -> &'static Meta {
        &GCS_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<GcsConfig>()
    }
}

impl Storage for Gcs {
    fn deployment_binding(&self, sel: &Selected<'_>) -> StorageBinding {
        let c: GcsConfig = typed(sel);
        StorageBinding {
            plugin: "gcs".to_owned(),
            scheme: "gs".to_owned(),
            bucket: c.bucket.clone(),
            account: None,
            prefix: c.prefix.clone().unwrap_or_default(),
            region: c.location.clone(),
            endpoint: None,
            path_style_access: false,
            credentials_secret: sel.connection_secret.map(str::to_owned),
        }
    }

    fn pyiceberg_fileio(&self, sel: &Selected<'_>) -> BTreeMap<String, Value> {
        let c: GcsConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "py-io-impl", PYARROW_FILE_IO);
        insert(&mut out, "gcs.project-id", c.project_id);
        if let Some(location) = c.location {
            insert(&mut out, "gcs.default-bucket-location", location);
        }
        out
    }
}

// ---------------------------------------------------------------- Azure

/// Azure Blob Storage with a hierarchical namespace (ADLS Gen2).
pub struct AzureBlob;

/// Azure Blob Storage.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "azure-blob storage config")]
pub struct AzureBlobConfig {
    /// The storage account.
    #[schemars(pattern(r"^[a-z0-9]{3,24}$"))]
    pub account_name: String,
    /// The container tables live in.
    #[schemars(pattern(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"))]
    pub container: String,
    /// Key prefix of the warehouse inside the container, without leading or trailing `/`.
    #[schemars(pattern(PREFIX))]
    pub prefix: Option<String>,
    /// A shared access signature; without it or `connection_string`, workloads
    /// use their workload identity.
    pub sas_token: Option<Credential>,
    /// The account's connection string, instead of `sas_token`.
    pub connection_string: Option<Credential>,
}

static AZURE_BLOB_META: Meta = Meta {
    name: "azure-blob",
    category: Category::Storage,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Azure Blob Storage (ADLS Gen2), over abfss",
    provides: &[cap("object-store", "azure"), cap("cloud", "azure")],
    requires: &[],
};

impl Plugin for AzureBlob {
    fn meta(&self) -> &'static Meta {
        &AZURE_BLOB_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AzureBlobConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: AzureBlobConfig = typed(sel);
        let mut errors = Vec::new();
        if c.sas_token.is_some() && c.connection_string.is_some() {
            errors.push(ConfigError::at(
                &["connection_string"],
                "both `sas_token` and `connection_string` are set",
                "keep one of them",
            ));
        }
        if c.container.contains("--") {
            errors.push(ConfigError::at(
                &["container"],
                format!("container name `{}` has two dashes in a row", c.container),
                "Azure container names use single dashes between letters and digits",
            ));
        }
        check_secret_key(&mut errors, &["sas_token"], c.sas_token.as_ref());
        check_secret_key(&mut errors, &["connection_string"], c.connection_string.as_ref());
        errors
    }
}

impl Storage for AzureBlob {
    fn deployment_binding(&self, sel: &Selected<'_>) -> StorageBinding {
        let c: AzureBlobConfig = typed(sel);
        let named = secret_of(c.sas_token.as_ref()).or(secret_of(c.connection_string.as_ref())).map(|(name, _)| name);
        StorageBinding {
            plugin: "azure-blob".to_owned(),
            scheme: "abfss".to_owned(),
            bucket: c.container.clone(),
            account: Some(c.account_name.clone()),
            prefix: c.prefix.clone().unwrap_or_default(),
            region: None,
            endpoint: None,
            path_style_access: false,
            credentials_secret: named.or(sel.connection_secret).map(str::to_owned),
        }
    }

    fn pyiceberg_fileio(&self, sel: &Selected<'_>) -> BTreeMap<String, Value> {
        let c: AzureBlobConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "py-io-impl", FSSPEC_FILE_IO);
        insert(&mut out, "adls.account-name", c.account_name);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{credential_keys_are_known, redact, shown};

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn outputs(p: &dyn Storage, sel: &Selected<'_>) -> Value {
        json!({
            "binding": p.deployment_binding(sel),
            "warehouse": p.deployment_binding(sel).warehouse_uri(),
            "fileio": p.pyiceberg_fileio(sel),
            "helm_values": p.helm_values(sel),
        })
    }

    #[test]
    fn demo_s3_config_is_accepted_unchanged() {
        let c = json!({
            "endpoint": "http://floe-platform-minio:9000",
            "bucket": "floe-iceberg",
            "region": "us-east-1",
            "path_style_access": true
        });
        assert_eq!(crate::validate(&S3, &sel(&c)), []);
        let b = S3.deployment_binding(&sel(&c));
        assert_eq!(b.warehouse_uri(), "s3://floe-iceberg");
        assert!(b.path_style_access);
    }

    #[test]
    fn s3_outputs() {
        let c = json!({"bucket": "acme-lakehouse", "region": "eu-west-1", "prefix": "warehouse/prod"});
        insta::assert_json_snapshot!(outputs(&S3, &Selected::new(Some(&c), Some("aws-lake-creds"))));
    }

    #[test]
    fn s3_with_an_endpoint_and_referenced_keys() {
        let c = json!({
            "bucket": "lake",
            "region": "us-east-1",
            "endpoint": "https://s3.internal.example.com",
            "access_key_id": {"secret_ref": {"source": "kubernetes", "name": "lake-keys", "key": "access_key_id"}},
            "secret_access_key": {"secret_ref": {"source": "kubernetes", "name": "lake-keys", "key": "secret_access_key"}}
        });
        assert_eq!(crate::validate(&S3, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&S3, &sel(&c)));
    }

    #[test]
    fn s3_validation() {
        let c = json!({"bucket": "Lake_Bucket", "regoin": "eu-west-1", "prefix": "/warehouse/"});
        let errors = shown(&crate::validate(&S3, &sel(&c)));
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].starts_with("bucket | `bucket`:"), "{errors:#?}");
        assert!(errors[1].starts_with("prefix | `prefix`:"), "{errors:#?}");
        assert_eq!(errors[2], "regoin | unknown key `regoin` | did you mean `region`?");
    }

    #[test]
    fn s3_keys_come_in_pairs_from_one_secret() {
        let r = |name: &str, key: &str| json!({"secret_ref": {"source": "kubernetes", "name": name, "key": key}});
        let half = json!({"bucket": "lake", "access_key_id": r("a", "access_key_id")});
        assert_eq!(
            shown(&crate::validate(&S3, &sel(&half))),
            [
                "access_key_id | `access_key_id` is set without `secret_access_key` | set both keys, or neither to use the workload's IAM role"
            ]
        );
        let split = json!({"bucket": "lake", "access_key_id": r("a", "access_key_id"), "secret_access_key": r("b", "secret_access_key")});
        assert_eq!(
            shown(&crate::validate(&S3, &sel(&split))),
            [
                "secret_access_key | the access key is in Secret `a` but the secret key is in Secret `b` | keep both keys in one Secret"
            ]
        );
        let renamed = json!({"bucket": "lake", "access_key_id": r("a", "AWS_ACCESS_KEY_ID"), "secret_access_key": r("a", "secret_access_key")});
        assert_eq!(
            shown(&crate::validate(&S3, &sel(&renamed))),
            [
                "access_key_id | `access_key_id` refers to key `AWS_ACCESS_KEY_ID` of Secret `a`; workloads read it as key `access_key_id` | store the value under key `access_key_id` in Secret `a`"
            ]
        );
    }

    #[test]
    fn minio_outputs_in_the_cluster() {
        let c = json!({
            "endpoint": "http://floe-platform-minio:9000",
            "bucket": "floe-iceberg",
            "persistence_size": "20Gi"
        });
        let s = Selected::new(Some(&c), Some("minio-credentials"));
        assert_eq!(crate::validate(&Minio, &s), []);
        insta::assert_json_snapshot!(outputs(&Minio, &s));
    }

    #[test]
    fn minio_outside_the_cluster_deploys_nothing() {
        let c = json!({"endpoint": "https://minio.corp.example.com", "bucket": "lake", "path_style_access": false});
        assert_eq!(Minio.helm_values(&sel(&c)), Value::Null);
        let fileio = Minio.pyiceberg_fileio(&sel(&c));
        assert_eq!(fileio["s3.force-virtual-addressing"], "true");
        assert_eq!(fileio["s3.region"], "us-east-1");
    }

    #[test]
    fn minio_validation() {
        let c = json!({"bucket": "lake", "mode": "cluster", "endpiont": "http://minio:9000"});
        let errors = shown(&crate::validate(&Minio, &sel(&c)));
        assert!(
            errors.iter().any(|e| e == "endpiont | unknown key `endpiont` | did you mean `endpoint`?"),
            "{errors:#?}"
        );
        assert!(errors.iter().any(|e| e.starts_with("mode | `mode`:")), "{errors:#?}");
        // A deployed MinIO needs its credentials named.
        let c = json!({"endpoint": "http://floe-platform-minio:9000", "bucket": "lake"});
        let errors = shown(&crate::validate(&Minio, &sel(&c)));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("endpoint | floe deploys this MinIO"), "{errors:#?}");
        let c = json!({"endpoint": "https://minio.example.com", "bucket": "lake", "mode": "distributed"});
        let errors = shown(&crate::validate(&Minio, &sel(&c)));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("mode | `mode` applies only"), "{errors:#?}");
    }

    #[test]
    fn gcs_outputs() {
        let c =
            json!({"bucket": "acme-lakehouse", "project_id": "acme-data-prod", "location": "EU", "prefix": "iceberg"});
        insta::assert_json_snapshot!(outputs(&Gcs, &Selected::new(Some(&c), Some("gcs-hmac"))));
    }

    #[test]
    fn gcs_validation() {
        let c = json!({"bucket": "acme-lakehouse", "projct_id": "acme-data-prod"});
        let errors = shown(&crate::validate(&Gcs, &sel(&c)));
        assert!(
            errors.contains(&"projct_id | unknown key `projct_id` | did you mean `project_id`?".to_owned()),
            "{errors:#?}"
        );
        let c = json!({"bucket": "acme-lakehouse", "project_id": "1bad"});
        let errors = shown(&crate::validate(&Gcs, &sel(&c)));
        assert!(errors[0].starts_with("project_id | `project_id`:"), "{errors:#?}");
    }

    #[test]
    fn azure_outputs() {
        let c = json!({
            "account_name": "acmelake",
            "container": "warehouse",
            "prefix": "prod",
            "sas_token": {"secret_ref": {"source": "kubernetes", "name": "adls-sas", "key": "sas_token"}}
        });
        assert_eq!(crate::validate(&AzureBlob, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&AzureBlob, &sel(&c)));
    }

    #[test]
    fn azure_validation() {
        let r = |key: &str| json!({"secret_ref": {"source": "kubernetes", "name": "adls", "key": key}});
        let c = json!({"account_name": "acmelake", "container": "ware--house", "sas_token": r("sas_token"), "connection_string": r("connection_string")});
        assert_eq!(
            shown(&crate::validate(&AzureBlob, &sel(&c))),
            [
                "connection_string | both `sas_token` and `connection_string` are set | keep one of them",
                "container | container name `ware--house` has two dashes in a row | Azure container names use single dashes between letters and digits",
            ]
        );
        let c = json!({"account_name": "Acme-Lake", "containr": "warehouse"});
        let errors = shown(&crate::validate(&AzureBlob, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("account_name | `account_name`:")), "{errors:#?}");
        assert!(
            errors.contains(&"containr | unknown key `containr` | did you mean `container`?".to_owned()),
            "{errors:#?}"
        );
    }

    #[test]
    fn no_output_holds_a_planted_secret() {
        const PLANTED: &str = "planted-Secret-v4lue";
        let cases: [(&dyn Storage, Value); 4] = [
            (
                &S3,
                json!({"bucket": "lake", "endpoint": "http://minio:9000", "access_key_id": PLANTED, "secret_access_key": PLANTED}),
            ),
            (&Minio, json!({"endpoint": "http://minio:9000", "bucket": "lake"})),
            (&Gcs, json!({"bucket": "lake", "project_id": "acme-data"})),
            (&AzureBlob, json!({"account_name": "acme", "container": "lake", "connection_string": PLANTED})),
        ];
        for (p, mut c) in cases {
            redact(&mut c, "floe-storage-creds");
            let s = Selected::new(Some(&c), Some("floe-storage-creds"));
            assert_eq!(crate::validate(p, &s), [], "{}", p.meta().name);
            let out = outputs(p, &s).to_string();
            assert!(!out.contains(PLANTED), "{}: {out}", p.meta().name);
        }
    }

    #[test]
    fn a_credential_under_an_unknown_key_is_caught() {
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Leaky {
            login: Option<Credential>,
        }
        assert_eq!(credential_keys_are_known(&config::schema_of::<Leaky>()), Err("login".to_owned()));
    }

    #[test]
    fn in_cluster_urls() {
        assert!(in_cluster("http://floe-platform-minio:9000"));
        assert!(in_cluster("thrift://hive-metastore.data.svc.cluster.local:9083"));
        assert!(!in_cluster("https://s3.eu-west-1.amazonaws.com"));
        assert!(!in_cluster("no-scheme"));
    }
}
