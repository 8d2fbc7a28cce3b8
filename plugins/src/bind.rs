//! What plugins hand one another and what they are asked about: typed,
//! secret-free values. A credential crosses a binding only as the name of the
//! Kubernetes Secret that holds it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One selected plugin's configuration, as the manifest resolved it (inline
/// credentials already replaced by references).
#[derive(Clone, Copy, Debug)]
pub struct Selected<'a> {
    /// `config:`, or `None` when the selection has none.
    pub config: Option<&'a Value>,
    /// `connection_secret_ref:`: the Kubernetes Secret with the plugin's credentials.
    pub connection_secret: Option<&'a str>,
}

impl<'a> Selected<'a> {
    pub const EMPTY: Selected<'static> = Selected { config: None, connection_secret: None };

    pub fn new(config: Option<&'a Value>, connection_secret: Option<&'a str>) -> Selected<'a> {
        Selected { config, connection_secret }
    }
}

/// The product a plugin renders for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductContext<'a> {
    /// `metadata.name` (`customer-360`).
    pub name: &'a str,
    /// The name with `-` replaced by `_` (`customer_360`), safe in paths and SQL.
    pub slug: String,
    /// The product's domain in a mesh.
    pub domain: Option<&'a str>,
}

impl<'a> ProductContext<'a> {
    pub fn new(name: &'a str) -> ProductContext<'a> {
        ProductContext { name, slug: name.replace('-', "_"), domain: None }
    }

    pub fn in_domain(mut self, domain: Option<&'a str>) -> ProductContext<'a> {
        self.domain = domain;
        self
    }

    /// Expands `{product_slug}`, `{product_name}` and `{domain}` in a template.
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{product_slug}", &self.slug)
            .replace("{product_name}", self.name)
            .replace("{domain}", self.domain.unwrap_or("default"))
    }
}

/// Where a platform's tables live: what storage tells catalog, compute, the
/// orchestrator and the Helm values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StorageBinding {
    /// The storage plugin (`s3`, `minio`, …).
    pub plugin: String,
    /// URI scheme of its objects: `s3`, `gs` or `abfss`.
    pub scheme: String,
    /// Bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// Azure storage account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Key prefix inside the bucket, without leading or trailing `/`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A non-default endpoint (MinIO, a private link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub path_style_access: bool,
    /// The Kubernetes Secret with the storage credentials, when not from the workload's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

impl StorageBinding {
    /// The URI of the warehouse root (`s3://bucket/prefix`).
    pub fn warehouse_uri(&self) -> String {
        let host = match (&self.account, self.scheme.as_str()) {
            (Some(account), "abfss") => format!("{}@{account}.dfs.core.windows.net", self.bucket),
            _ => self.bucket.clone(),
        };
        match self.prefix.is_empty() {
            true => format!("{}://{host}", self.scheme),
            false => format!("{}://{host}/{}", self.scheme, self.prefix),
        }
    }
}

/// The Iceberg catalog compute attaches to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogBinding {
    pub plugin: String,
    /// `rest`, `glue`, `hive` or `unity`.
    pub kind: String,
    /// The catalog name engines attach it as.
    pub name: String,
    /// Endpoint (REST, Thrift); none for Glue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Warehouse: a name (REST) or a storage URI.
    pub warehouse: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The Kubernetes Secret with the catalog credentials (OAuth2 client, token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    /// Extra connection properties, secret-free.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// How a semantic layer reaches the compute engine's tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Datasource {
    /// The driver (`duckdb`, `snowflake`, `bigquery`, `databricks-jdbc`, …).
    pub driver: String,
    /// Connection settings, secret-free; credentials as environment variable names.
    pub properties: BTreeMap<String, String>,
}

/// A workload size, from the product's resource preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkloadSize {
    Small,
    Medium,
    Large,
}

impl WorkloadSize {
    pub const ALL: [WorkloadSize; 3] = [WorkloadSize::Small, WorkloadSize::Medium, WorkloadSize::Large];

    pub fn name(self) -> &'static str {
        match self {
            WorkloadSize::Small => "small",
            WorkloadSize::Medium => "medium",
            WorkloadSize::Large => "large",
        }
    }
}

/// Kubernetes resources for a job's container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
}

impl Resources {
    pub fn new(cpu_request: &str, cpu_limit: &str, memory_request: &str, memory_limit: &str) -> Resources {
        Resources {
            cpu_request: cpu_request.to_owned(),
            cpu_limit: cpu_limit.to_owned(),
            memory_request: memory_request.to_owned(),
            memory_limit: memory_limit.to_owned(),
        }
    }
}

/// Where an OTLP exporter sends telemetry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtlpExporter {
    pub endpoint: String,
    /// `grpc` or `http/protobuf`.
    pub protocol: String,
    /// Headers; credentials only as `${ENV}` references.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
}

/// A product's run, as an orchestrator schedules it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec<'a> {
    pub product: ProductContext<'a>,
    /// Cron and time zone, when the product is scheduled and enabled.
    pub schedule: Option<(String, String)>,
    /// The product's dbt models, in the order `dependsOn` allows.
    pub models: Vec<String>,
    /// The dbt command line the run executes (`dbt build` or `dbtf build`, with flags).
    pub dbt_command: Vec<String>,
    /// The ingestion step before dbt, when the product declares sources.
    pub ingestion: Option<IngestionStep>,
    /// Where the compiled artifacts are mounted in the job.
    pub artifacts_path: String,
    /// Environment variables the job needs, each from a secret (`FLOE_SECRET_…` → (secret, key)).
    pub secret_env: BTreeMap<String, (String, String)>,
}

/// The ingestion command a job runs before dbt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestionStep {
    /// The ingestion plugin (`dlt`, `airbyte`).
    pub plugin: String,
    pub command: Vec<String>,
    /// Source names, for task names.
    pub sources: Vec<String>,
}

/// A destination a product's pods must be allowed to reach.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Egress {
    /// What it is for (`storage`, `catalog`, `otlp`).
    pub purpose: String,
    /// Host name or address.
    pub host: String,
    pub port: u16,
}

impl Egress {
    /// The host and port of a URL (`http://x:9000/...`), with the scheme's default port.
    pub fn from_url(purpose: &str, url: &str) -> Option<Egress> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit('@').next()?;
        let default_port = match scheme {
            "https" | "grpcs" => 443,
            "http" | "grpc" => 80,
            "thrift" => 9083,
            _ => 0,
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, p.parse().ok()?),
            _ if default_port != 0 => (authority, default_port),
            _ => return None,
        };
        (!host.is_empty()).then(|| Egress { purpose: purpose.to_owned(), host: host.to_owned(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warehouse_uris() {
        let mut b = StorageBinding {
            plugin: "s3".into(),
            scheme: "s3".into(),
            bucket: "lake".into(),
            account: None,
            prefix: "floe".into(),
            region: None,
            endpoint: None,
            path_style_access: false,
            credentials_secret: None,
        };
        assert_eq!(b.warehouse_uri(), "s3://lake/floe");
        b.scheme = "abfss".into();
        b.account = Some("acct".into());
        b.prefix.clear();
        assert_eq!(b.warehouse_uri(), "abfss://lake@acct.dfs.core.windows.net");
    }

    #[test]
    fn egress_from_urls() {
        let e = |u| Egress::from_url("x", u).map(|e| (e.host, e.port));
        assert_eq!(e("http://minio:9000/bucket"), Some(("minio".into(), 9000)));
        assert_eq!(e("https://polaris.example.com/api/catalog"), Some(("polaris.example.com".into(), 443)));
        assert_eq!(e("thrift://hive:9083"), Some(("hive".into(), 9083)));
        assert_eq!(e("no-scheme"), None);
    }
}
