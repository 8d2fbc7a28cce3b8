//! Ingestion plugins: dlt and Airbyte. Each maps a product's sources to its
//! tool's own pipeline configuration, which floe places in the compiled
//! artifacts under `plugins.ingestion.config`, and gives the command a job
//! runs before dbt.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bind::{ProductContext, Selected, StorageBinding};
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Meta, PLUGIN_API, cap};
use crate::{Ingestion, Plugin};

pub(crate) static PLUGINS: &[&'static dyn Ingestion] = &[&Airbyte, &Dlt];

/// Where an ingestion command names the compiled artifacts. The command has
/// no job to know their path from; the orchestrator puts the job's in its place.
pub(crate) const ARTIFACTS_PATH_ARG: &str = "{artifacts_path}";

/// One of a product's `ingestion.sources`, as the product schema has checked it.
#[derive(Debug, Deserialize)]
struct Source {
    name: String,
    format: Format,
    path: String,
    /// `schema.table`.
    destination: String,
    #[serde(default)]
    write_mode: WriteMode,
    #[serde(default)]
    schema_contract: SchemaContract,
    primary_key: Option<Vec<String>>,
    cursor_field: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WriteMode {
    #[default]
    Append,
    Replace,
    Merge,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SchemaContract {
    #[default]
    Evolve,
    Freeze,
    DiscardValue,
}

impl Source {
    /// The sources of `ingestion.sources`; the product schema checked them, so
    /// one that does not read is left out rather than guessed at.
    fn all(sources: &Value) -> Vec<Source> {
        let items = sources.as_array().map(Vec::as_slice).unwrap_or_default();
        items.iter().filter_map(|s| serde_json::from_value(s.clone()).ok()).collect()
    }

    /// `schema` and `table` of `schema.table`.
    fn schema_and_table(&self) -> (&str, &str) {
        self.destination.split_once('.').unwrap_or(("raw", &self.destination))
    }
}

/// The directory and file name (or glob) of a source path.
fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", file)) => ("/", file),
        Some((dir, file)) => (dir, file),
        None => (".", path),
    }
}

// ---------------------------------------------------------------- dlt

/// dlt: file sources loaded by floe's dlt runner.
pub struct Dlt;

/// dlt's configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dlt ingestion config")]
pub struct DltConfig {
    /// Where tables load: `filesystem` (Iceberg in the platform's storage) or `duckdb`; by default `filesystem` with storage, else `duckdb`.
    pub destination: Option<DltDestination>,
    /// dlt dataset every source loads into, instead of the schema of its `destination`.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"), length(max = 128))]
    pub dataset_name: Option<String>,
    /// How a run reports its progress.
    pub progress: Option<DltProgress>,
    /// Drop the sources' tables and incremental state, and load everything again, on every run.
    pub full_refresh: Option<bool>,
    /// Where dlt keeps pipeline state and load packages (`pipelines_dir` of `dlt.pipeline`).
    #[schemars(length(min = 1))]
    pub pipelines_dir: Option<String>,
}

/// A dlt destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DltDestination {
    Filesystem,
    Duckdb,
}

/// A dlt progress collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DltProgress {
    Log,
    None,
}

static DLT: Meta = Meta {
    name: "dlt",
    category: crate::Category::Ingestion,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "dlt pipelines that load files into Iceberg tables or DuckDB",
    provides: &[cap("ingestion", "dlt")],
    requires: &[],
};

impl Plugin for Dlt {
    fn meta(&self) -> &'static Meta {
        &DLT
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DltConfig>()
    }
}

impl Ingestion for Dlt {
    /// The arguments of dlt's calls: `dlt.pipeline(destination=…, progress=…,
    /// refresh=…)`, dlt config values by their config path
    /// (`destination.filesystem.bucket_url`), and per source the
    /// `filesystem(bucket_url, file_glob) | <reader>()` resource, its
    /// `dlt.sources.incremental(cursor_path)` and its `apply_hints(…)`.
    fn pipeline_config(&self, sel: &Selected<'_>, sources: &Value, storage: Option<&StorageBinding>) -> Value {
        let c: DltConfig = typed(sel);
        let destination = match (c.destination, storage) {
            (Some(d), _) => d,
            (None, Some(_)) => DltDestination::Filesystem,
            (None, None) => DltDestination::Duckdb,
        };
        let iceberg = destination == DltDestination::Filesystem;
        let mut pipeline = json!({"destination": match destination {
            DltDestination::Filesystem => "filesystem",
            DltDestination::Duckdb => "duckdb",
        }});
        if c.progress.unwrap_or(DltProgress::Log) == DltProgress::Log {
            pipeline["progress"] = json!("log");
        }
        if c.full_refresh == Some(true) {
            pipeline["refresh"] = json!("drop_sources");
        }
        if let Some(dir) = &c.pipelines_dir {
            pipeline["pipelines_dir"] = json!(dir);
        }
        let resources: Vec<Value> = Source::all(sources).iter().map(|s| dlt_resource(s, &c, iceberg)).collect();
        json!({
            "pipeline": pipeline,
            "config": match (destination, storage) {
                (DltDestination::Filesystem, Some(storage)) => filesystem_config(storage),
                // Without storage, dlt reads the bucket from its own config.
                _ => BTreeMap::new(),
            },
            "resources": resources,
        })
    }

    /// floe's dlt runner: it reads `plugins.ingestion.config` from the
    /// compiled artifacts, exports `config` as dlt's environment variables,
    /// builds each resource, and runs the resources of a dataset together in
    /// one pipeline named after `--pipeline-name` and the dataset.
    fn command(&self, _sel: &Selected<'_>, product: &ProductContext<'_>) -> Vec<String> {
        let args = ["python", "-m", "floe_ingest.dlt", "--artifacts", ARTIFACTS_PATH_ARG, "--pipeline-name"];
        let mut command: Vec<String> = args.map(str::to_owned).to_vec();
        command.push(product.slug.clone());
        command
    }
}

/// dlt config values of the filesystem destination, by config path.
/// Credentials are `${…}` references the runner expands from its environment.
fn filesystem_config(storage: &StorageBinding) -> BTreeMap<String, Value> {
    let mut config = BTreeMap::new();
    let mut set = |key: &str, value: Value| config.insert(format!("destination.filesystem.{key}"), value);
    set("bucket_url", json!(storage.warehouse_uri()));
    if storage.scheme == "s3" {
        if let Some(endpoint) = &storage.endpoint {
            set("credentials.endpoint_url", json!(endpoint));
        }
        if let Some(region) = &storage.region {
            set("credentials.region_name", json!(region));
        }
        if let Some(secret) = &storage.credentials_secret {
            let reference = |key| json!(Credential::from_secret(secret, key).shell());
            set("credentials.aws_access_key_id", reference("access_key_id"));
            set("credentials.aws_secret_access_key", reference("secret_access_key"));
        }
    }
    if let Some(account) = &storage.account {
        set("credentials.azure_storage_account_name", json!(account));
    }
    config
}

/// One source: its `filesystem` resource and reader, the dataset it loads
/// into, its incremental cursor, and the `apply_hints(…)` arguments.
fn dlt_resource(s: &Source, c: &DltConfig, iceberg: bool) -> Value {
    let (schema, table) = s.schema_and_table();
    let (bucket_url, file_glob) = split_path(&s.path);
    let mut hints = Map::new();
    hints.insert("table_name".to_owned(), json!(table));
    hints.insert("write_disposition".to_owned(), dlt_write_disposition(s.write_mode, iceberg));
    if let Some(pk) = &s.primary_key {
        hints.insert("primary_key".to_owned(), json!(pk));
    }
    hints.insert("schema_contract".to_owned(), dlt_schema_contract(s.schema_contract));
    if iceberg {
        hints.insert("table_format".to_owned(), json!("iceberg"));
    }
    let mut r = json!({
        "name": s.name,
        "bucket_url": bucket_url,
        "file_glob": file_glob,
        "reader": format!("read_{}", s.format.name()),
        "dataset_name": c.dataset_name.as_deref().unwrap_or(schema),
        "hints": hints,
    });
    if let Some(cursor) = &s.cursor_field {
        r["incremental"] = json!({"cursor_path": cursor});
    }
    r
}

/// dlt's `schema_contract`. The contract binds a table's columns and types;
/// the table itself may always be created, or the first run could load nothing.
fn dlt_schema_contract(contract: SchemaContract) -> Value {
    let mode = match contract {
        SchemaContract::Evolve => return json!("evolve"),
        SchemaContract::Freeze => "freeze",
        SchemaContract::DiscardValue => "discard_value",
    };
    json!({"tables": "evolve", "columns": mode, "data_type": mode})
}

/// dlt's `write_disposition`. Iceberg tables merge by upsert: the default
/// delete-insert strategy needs a SQL destination.
fn dlt_write_disposition(mode: WriteMode, iceberg: bool) -> Value {
    match (mode, iceberg) {
        (WriteMode::Append, _) => json!("append"),
        (WriteMode::Replace, _) => json!("replace"),
        (WriteMode::Merge, true) => json!({"disposition": "merge", "strategy": "upsert"}),
        (WriteMode::Merge, false) => json!("merge"),
    }
}

// ---------------------------------------------------------------- Airbyte

/// Airbyte: a File source and connection per source, synced through its API.
pub struct Airbyte;

/// Airbyte's configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "airbyte ingestion config")]
pub struct AirbyteConfig {
    /// Root of the Airbyte API: `https://api.airbyte.com` (Cloud) or `http://airbyte:8000/api/public`.
    #[schemars(regex(pattern = r"^https?://[^\s'\x22\\]+[^/\s'\x22\\]$"))]
    pub server_url: String,
    /// Workspace the product's connections are in.
    #[schemars(regex(pattern = UUID))]
    pub workspace_id: String,
    /// Client ID of the Airbyte application floe's jobs authenticate as.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub client_id: String,
    /// The application's client secret; by default the key `client_secret` of `connection_secret_ref`.
    pub client_secret: Option<Credential>,
    /// `manual`: the orchestrator starts every sync; `cron`: Airbyte also syncs on `cron_expression`.
    pub schedule_type: Option<AirbyteSchedule>,
    /// Airbyte's own schedule, a Quartz cron expression (`0 0 6 * * ?`), when `schedule_type` is `cron`.
    #[schemars(regex(pattern = r"^\S+(\s+\S+){5,6}$"))]
    pub cron_expression: Option<String>,
    /// Iceberg REST catalog the S3 Data Lake destination registers tables in.
    #[schemars(regex(pattern = r"^https?://\S+$"))]
    pub catalog_uri: Option<String>,
}

const UUID: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// How an Airbyte connection is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AirbyteSchedule {
    Manual,
    Cron,
}

static AIRBYTE: Meta = Meta {
    name: "airbyte",
    category: crate::Category::Ingestion,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Airbyte connections from file sources to Iceberg tables, synced through its API",
    provides: &[cap("ingestion", "airbyte")],
    requires: &[],
};

/// The Airbyte variable of the client secret when no credential names one.
const CLIENT_SECRET_ENV: &str = "AIRBYTE_CLIENT_SECRET";

impl Plugin for Airbyte {
    fn meta(&self) -> &'static Meta {
        &AIRBYTE
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AirbyteConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: AirbyteConfig = typed(sel);
        let mut errors = Vec::new();
        if Credential::or_secret(c.client_secret.as_ref(), sel.connection_secret, "client_secret").is_none() {
            errors.push(ConfigError::at(
                &["client_secret"],
                "the Airbyte API needs the application's client secret, and none is set",
                "set `client_secret` to a secret reference, or `connection_secret_ref` to a Secret with a `client_secret` key",
            ));
        }
        match (c.schedule_type, &c.cron_expression) {
            (Some(AirbyteSchedule::Cron), None) => errors.push(ConfigError::at(
                &["cron_expression"],
                "`schedule_type: cron` needs a `cron_expression`",
                "set `cron_expression` to a Quartz cron expression, or `schedule_type` to `manual`",
            )),
            (Some(AirbyteSchedule::Manual) | None, Some(_)) => errors.push(ConfigError::at(
                &["cron_expression"],
                "`cron_expression` is only used with `schedule_type: cron`",
                "set `schedule_type: cron`, or remove `cron_expression`",
            )),
            _ => {}
        }
        errors
    }
}

impl Ingestion for Airbyte {
    /// The objects to create through the Airbyte API, in its request shapes:
    /// a File source per source, one destination, and a connection per source
    /// that names its source and destination by `name`.
    fn pipeline_config(&self, sel: &Selected<'_>, sources: &Value, storage: Option<&StorageBinding>) -> Value {
        let c: AirbyteConfig = typed(sel);
        let sources = Source::all(sources);
        let destination = airbyte_destination(&c, storage);
        let connections: Vec<Value> = sources.iter().map(|s| airbyte_connection(&c, s, &destination)).collect();
        json!({
            "workspaceId": c.workspace_id,
            "sources": sources.iter().map(|s| airbyte_source(&c, s)).collect::<Vec<_>>(),
            "destination": destination,
            "connections": connections,
        })
    }

    /// A shell script that syncs the product's connections one after the
    /// other and waits for each, so dbt starts on loaded tables. It finds the
    /// connections by the names in the artifacts, and needs `curl` and `jq`.
    fn command(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Vec<String> {
        let c: AirbyteConfig = typed(sel);
        let secret = Credential::or_secret(c.client_secret.as_ref(), sel.connection_secret, "client_secret")
            .map(|s| s.shell())
            .unwrap_or_else(|| format!("${{{CLIENT_SECRET_ENV}}}"));
        let script = sync_script(&c, &secret, product);
        ["sh", "-c", &script, "floe-airbyte-sync", ARTIFACTS_PATH_ARG].map(str::to_owned).to_vec()
    }
}

fn airbyte_source(c: &AirbyteConfig, s: &Source) -> Value {
    let (_, table) = s.schema_and_table();
    let storage = match s.path.split_once("://").map(|(scheme, _)| scheme) {
        Some("s3") => "S3",
        Some("gs" | "gcs") => "GCS",
        Some("az" | "abfs" | "abfss" | "azure") => "AzBlob",
        Some("http" | "https") => "HTTPS",
        _ => "local",
    };
    json!({
        "name": s.name,
        "workspaceId": c.workspace_id,
        "configuration": {
            "sourceType": "file",
            // The stream, and so the table, takes the dataset's name.
            "dataset_name": table,
            "format": s.format.name(),
            "url": s.path,
            "provider": {"storage": storage},
        },
    })
}

/// The S3 Data Lake (Iceberg) destination in the platform's storage, else DuckDB.
fn airbyte_destination(c: &AirbyteConfig, storage: Option<&StorageBinding>) -> Value {
    let Some(storage) = storage else {
        return json!({
            "name": "floe-duckdb",
            "workspaceId": c.workspace_id,
            "configuration": {"destinationType": "duckdb", "destination_path": "/local/floe.duckdb"},
        });
    };
    let mut conf = Map::new();
    let mut set = |key: &str, value: Value| conf.insert(key.to_owned(), value);
    set("destinationType", json!("s3-data-lake"));
    set("warehouse_location", json!(storage.warehouse_uri()));
    set("s3_bucket_name", json!(storage.bucket));
    set("main_branch_name", json!("main"));
    if let Some(region) = &storage.region {
        set("s3_bucket_region", json!(region));
    }
    if let Some(endpoint) = &storage.endpoint {
        set("s3_endpoint", json!(endpoint));
    }
    if let Some(secret) = &storage.credentials_secret {
        set("access_key_id", json!(Credential::from_secret(secret, "access_key_id").shell()));
        set("secret_access_key", json!(Credential::from_secret(secret, "secret_access_key").shell()));
    }
    if let Some(uri) = &c.catalog_uri {
        set("catalog_type", json!({"catalog_type": "REST", "server_uri": uri}));
    }
    json!({"name": format!("floe-{}", storage.bucket), "workspaceId": c.workspace_id, "configuration": conf})
}

fn airbyte_connection(c: &AirbyteConfig, s: &Source, destination: &Value) -> Value {
    let (schema, table) = s.schema_and_table();
    let mut stream = Map::new();
    stream.insert("name".to_owned(), json!(table));
    stream.insert("syncMode".to_owned(), json!(sync_mode(s)));
    if let Some(cursor) = &s.cursor_field {
        stream.insert("cursorField".to_owned(), json!([cursor]));
    }
    if let Some(pk) = &s.primary_key {
        let pk: Vec<Vec<&String>> = pk.iter().map(|k| vec![k]).collect();
        stream.insert("primaryKey".to_owned(), json!(pk));
    }
    let schedule = match (c.schedule_type, &c.cron_expression) {
        (Some(AirbyteSchedule::Cron), Some(cron)) => json!({"scheduleType": "cron", "cronExpression": cron}),
        _ => json!({"scheduleType": "manual"}),
    };
    json!({
        "name": s.name,
        "source": s.name,
        "destination": destination["name"],
        "namespaceDefinition": "custom_format",
        "namespaceFormat": schema,
        "schedule": schedule,
        "nonBreakingSchemaUpdatesBehavior": match s.schema_contract {
            SchemaContract::Evolve => "propagate_fully",
            SchemaContract::Freeze => "disable_connection",
            SchemaContract::DiscardValue => "ignore",
        },
        "configurations": {"streams": [stream]},
    })
}

/// The stream's sync mode: incremental when the source has a cursor, deduped
/// when it merges on a key.
fn sync_mode(s: &Source) -> &'static str {
    match (s.write_mode, s.cursor_field.is_some()) {
        (WriteMode::Merge, true) => "incremental_deduped_history",
        (WriteMode::Merge, false) => "full_refresh_overwrite_deduped",
        (WriteMode::Append, true) => "incremental_append",
        (WriteMode::Append, false) => "full_refresh_append",
        (WriteMode::Replace, _) => "full_refresh_overwrite",
    }
}

/// The sync script. `$1` is the compiled artifacts' path; the client secret
/// (`secret`, a `${…}` reference) comes from the job's environment, and
/// reaches curl on its standard input, not its command line.
fn sync_script(c: &AirbyteConfig, secret: &str, product: &ProductContext<'_>) -> String {
    // The schema allows no quote in these values, so single quotes hold them.
    let api = format!("{}/v1", c.server_url);
    format!(
        r#"set -eu
api='{api}'
workspace='{workspace}'
# Access tokens live minutes: take a fresh one for every request.
token() {{
  jq -n --arg id '{client_id}' --arg secret "{secret}" \
    '{{client_id: $id, client_secret: $secret, "grant-type": "client_credentials"}}' |
    curl -fsS -X POST "$api/applications/token" -H 'Content-Type: application/json' --data @- |
    jq -r .access_token
}}
call() {{
  curl -fsS -H "Authorization: Bearer $(token)" -H 'Content-Type: application/json' "$@"
}}
names=$(jq -c '[.plugins.ingestion.config.connections[].name]' "$1")
ids=$(call "$api/connections?workspaceIds=$workspace&limit=100" |
  jq -r --argjson names "$names" '.data[] | select(.name as $n | $names | index($n)) | .connectionId')
if [ -z "$ids" ]; then
  echo "no Airbyte connection of {product} in workspace $workspace" >&2
  exit 1
fi
for id in $ids; do
  job=$(call -X POST "$api/jobs" -d "{{\"connectionId\": \"$id\", \"jobType\": \"sync\"}}" | jq -r .jobId)
  while :; do
    status=$(call "$api/jobs/$job" | jq -r .status)
    case "$status" in
      succeeded) break ;;
      pending | running | incomplete) sleep 10 ;;
      *) echo "Airbyte job $job of connection $id: ${{status:-no status}}" >&2; exit 1 ;;
    esac
  done
done
"#,
        workspace = c.workspace_id,
        client_id = c.client_id,
        product = product.name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn sources() -> Value {
        json!([
            {"name": "crm_export", "format": "csv", "path": "s3://landing/crm/customers.csv",
             "destination": "bronze.raw_customers", "write_mode": "merge", "primary_key": ["customer_id"],
             "cursor_field": "updated_at"},
            {"name": "orders_feed", "format": "jsonl", "path": "s3://landing/orders/*.jsonl",
             "destination": "bronze.raw_orders", "write_mode": "append", "schema_contract": "freeze",
             "cursor_field": "created_at"},
            {"name": "fx_rates", "format": "parquet", "path": "data/fx_rates.parquet",
             "destination": "bronze.raw_fx_rates", "write_mode": "replace", "schema_contract": "discard_value"},
        ])
    }

    fn minio() -> StorageBinding {
        StorageBinding {
            plugin: "minio".to_owned(),
            scheme: "s3".to_owned(),
            bucket: "lakehouse".to_owned(),
            account: None,
            prefix: "floe".to_owned(),
            region: Some("us-east-1".to_owned()),
            endpoint: Some("http://minio:9000".to_owned()),
            path_style_access: true,
            credentials_secret: Some("minio-creds".to_owned()),
        }
    }

    fn airbyte_config() -> Value {
        json!({
            "server_url": "http://airbyte:8000/api/public",
            "workspace_id": "9da660ff-57bf-4aad-8f9e-fc1b4512c103",
            "client_id": "0f0c8f3a-2c44-4b49-9d11-6a3c0bd84c11",
            "client_secret": {"secret_ref": {"source": "kubernetes", "name": "airbyte-app", "key": "client_secret"}},
            "catalog_uri": "http://polaris:8181/api/catalog",
        })
    }

    fn errors(p: &dyn Plugin, sel: &Selected<'_>) -> Vec<String> {
        crate::testing::shown(&crate::validate(p, sel))
    }

    #[test]
    fn source_paths_split_into_bucket_and_glob() {
        assert_eq!(split_path("s3://landing/crm/customers.csv"), ("s3://landing/crm", "customers.csv"));
        assert_eq!(split_path("s3://landing/*.csv"), ("s3://landing", "*.csv"));
        assert_eq!(split_path("data/fx.parquet"), ("data", "fx.parquet"));
        assert_eq!(split_path("fx.parquet"), (".", "fx.parquet"));
        assert_eq!(split_path("/fx.parquet"), ("/", "fx.parquet"));
    }

    #[test]
    fn dlt_pipeline_into_iceberg() {
        let c = json!({"full_refresh": true});
        insta::assert_json_snapshot!(Dlt.pipeline_config(&sel(&c), &sources(), Some(&minio())));
    }

    #[test]
    fn dlt_pipeline_into_duckdb() {
        let c = json!({"dataset_name": "landing", "progress": "none"});
        insta::assert_json_snapshot!(Dlt.pipeline_config(&sel(&c), &sources(), None));
    }

    #[test]
    fn dlt_command() {
        assert_eq!(
            Dlt.command(&Selected::EMPTY, &ProductContext::new("customer-360")),
            ["python", "-m", "floe_ingest.dlt", "--artifacts", "{artifacts_path}", "--pipeline-name", "customer_360"]
        );
    }

    #[test]
    fn airbyte_connection_spec() {
        let c = airbyte_config();
        insta::assert_json_snapshot!(Airbyte.pipeline_config(&sel(&c), &sources(), Some(&minio())));
    }

    #[test]
    fn airbyte_without_storage_loads_duckdb_on_airbytes_schedule() {
        let mut c = airbyte_config();
        c["schedule_type"] = json!("cron");
        c["cron_expression"] = json!("0 0 6 * * ?");
        let spec = Airbyte.pipeline_config(&sel(&c), &sources(), None);
        assert_eq!(spec["destination"]["configuration"]["destinationType"], "duckdb");
        assert_eq!(
            spec["connections"][0]["schedule"],
            json!({"scheduleType": "cron", "cronExpression": "0 0 6 * * ?"})
        );
        assert_eq!(spec["connections"][0]["destination"], "floe-duckdb");
    }

    #[test]
    fn airbyte_sync_command() {
        let command = Airbyte.command(&sel(&airbyte_config()), &ProductContext::new("customer-360"));
        assert_eq!(command[..2], ["sh", "-c"]);
        assert_eq!(command[3..], ["floe-airbyte-sync", "{artifacts_path}"]);
        insta::assert_snapshot!(command[2]);
    }

    /// The sync script is valid shell. Runs `sh -n`, which floe's core never
    /// does; tests may.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn airbyte_sync_script_parses() {
        let command = Airbyte.command(&sel(&airbyte_config()), &ProductContext::new("customer-360"));
        let out = std::process::Command::new("sh").args(["-n", "-c", &command[2]]).output().expect("sh runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn invalid_dlt_config() {
        let shown = errors(&Dlt, &sel(&json!({"destination": "bigquery", "dataset_nam": "x", "full_refresh": "yes"})));
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert_eq!(shown[0], "dataset_nam | unknown key `dataset_nam` | did you mean `dataset_name`?");
        assert!(shown[1].starts_with("destination | `destination`:"), "{shown:#?}");
        assert!(shown[2].starts_with("full_refresh | `full_refresh`:"), "{shown:#?}");
    }

    #[test]
    fn invalid_airbyte_config() {
        let mut c = airbyte_config();
        c["workspace_id"] = json!("my-workspace");
        c["server_url"] = json!("http://airbyte:8000/api/public/");
        c["client_secrte"] = json!("x");
        let shown = errors(&Airbyte, &sel(&c));
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert_eq!(shown[0], "client_secrte | unknown key `client_secrte` | did you mean `client_secret`?");
        assert!(shown[1].starts_with("server_url | `server_url`:"), "{shown:#?}");
        assert!(shown[2].starts_with("workspace_id | `workspace_id`:"), "{shown:#?}");

        let mut c = airbyte_config();
        c.as_object_mut().unwrap().remove("client_secret");
        c["schedule_type"] = json!("cron");
        assert_eq!(
            errors(&Airbyte, &sel(&c)),
            [
                "client_secret | the Airbyte API needs the application's client secret, and none is set | set `client_secret` to a secret reference, or `connection_secret_ref` to a Secret with a `client_secret` key",
                "cron_expression | `schedule_type: cron` needs a `cron_expression` | set `cron_expression` to a Quartz cron expression, or `schedule_type` to `manual`",
            ]
        );
        c["schedule_type"] = json!("manual");
        c["cron_expression"] = json!("0 0 6 * * ?");
        let shown = errors(&Airbyte, &Selected::new(Some(&c), Some("airbyte-app")));
        assert_eq!(
            shown,
            [
                "cron_expression | `cron_expression` is only used with `schedule_type: cron` | set `schedule_type: cron`, or remove `cron_expression`"
            ]
        );
    }

    #[test]
    fn credentials_reach_the_outputs_only_as_references() {
        let planted = "planted-secret-value-7f3a";
        // A literal client secret is refused: floe hands plugins references only.
        let mut literal = airbyte_config();
        literal["client_secret"] = json!(planted);
        assert!(errors(&Airbyte, &sel(&literal)).iter().any(|e| e.starts_with("client_secret | `client_secret`:")));

        let c = airbyte_config();
        let product = ProductContext::new("customer-360");
        let outputs = [
            Airbyte.pipeline_config(&sel(&c), &sources(), Some(&minio())).to_string(),
            Airbyte.command(&sel(&c), &product).join(" "),
            Dlt.pipeline_config(&Selected::EMPTY, &sources(), Some(&minio())).to_string(),
            Dlt.command(&Selected::EMPTY, &product).join(" "),
        ];
        let all = outputs.join("\n");
        assert!(!all.contains(planted), "{all}");
        for reference in [
            "${FLOE_SECRET_MINIO_CREDS_ACCESS_KEY_ID}",
            "${FLOE_SECRET_MINIO_CREDS_SECRET_ACCESS_KEY}",
            "${FLOE_SECRET_AIRBYTE_APP_CLIENT_SECRET}",
        ] {
            assert!(all.contains(reference), "{reference} in {all}");
        }
    }

    #[test]
    fn outputs_are_deterministic() {
        let c = airbyte_config();
        for p in PLUGINS {
            let s = if p.meta().name == "airbyte" { sel(&c) } else { Selected::EMPTY };
            let a = p.pipeline_config(&s, &sources(), Some(&minio())).to_string();
            assert_eq!(a, p.pipeline_config(&s, &sources(), Some(&minio())).to_string());
        }
    }
}
