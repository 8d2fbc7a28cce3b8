//! Semantic layer plugins: metrics defined once over a product's models and
//! served to BI tools. Cube connects to the compute engine itself; the dbt
//! Semantic Layer is served by dbt Cloud; `none` is the explicit choice of
//! no semantic layer.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{Datasource, Selected};
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap, needs};
use crate::{Plugin, SemanticLayer};

pub(crate) static PLUGINS: &[&'static dyn SemanticLayer] = &[&Cube, &DbtSemanticLayer, &NoSemanticLayer];

// ---------------------------------------------------------------- Cube

/// Cube (cube.dev), reading the compute engine through its own driver.
pub struct Cube;

/// Cube's log levels (`CUBEJS_LOG_LEVEL`).
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CubeLogLevel {
    Error,
    #[default]
    Warn,
    Info,
    Trace,
}

impl CubeLogLevel {
    fn as_str(self) -> &'static str {
        match self {
            CubeLogLevel::Error => "error",
            CubeLogLevel::Warn => "warn",
            CubeLogLevel::Info => "info",
            CubeLogLevel::Trace => "trace",
        }
    }
}

/// Cube semantic layer.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cube semantic layer config")]
pub struct CubeConfig {
    /// Where Cube loads the data model from, relative to its project (`model`).
    #[schemars(length(min = 1))]
    pub schema_path: Option<String>,
    /// The key Cube signs and verifies API tokens with (`CUBEJS_API_SECRET`);
    /// defaults to key `api_secret` of the connection secret.
    pub secret: Option<Credential>,
    /// Cube's log level.
    pub log_level: Option<CubeLogLevel>,
    /// Development mode: the Playground on and API authentication off. Never in production.
    #[serde(default)]
    pub dev_mode: bool,
    /// Send usage telemetry to Cube.
    #[serde(default)]
    pub telemetry: bool,
    /// Accept the Databricks JDBC driver's license, which Cube's `databricks-jdbc` driver requires.
    #[serde(default)]
    pub accept_databricks_policy: bool,
    /// Cube API replicas.
    #[schemars(range(min = 1, max = 64))]
    pub api_replicas: Option<u32>,
    /// Cube refresh workers, which build pre-aggregations.
    #[schemars(range(min = 0, max = 64))]
    pub refresh_workers: Option<u32>,
}

impl CubeConfig {
    fn secret(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.secret.as_ref(), sel.connection_secret, "api_secret")
    }

    fn schema_path(&self) -> &str {
        self.schema_path.as_deref().unwrap_or("model")
    }
}

static CUBE: Meta = Meta {
    name: "cube",
    category: Category::SemanticLayer,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Cube, with its driver for the compute engine",
    provides: &[cap("semantic-layer", "cube")],
    requires: &[needs(
        Category::Compute,
        "sql-datasource",
        &["duckdb", "snowflake", "bigquery", "databricks", "spark"],
        "Cube needs a driver for the compute engine",
    )],
};

impl Plugin for Cube {
    fn meta(&self) -> &'static Meta {
        &CUBE
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<CubeConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: CubeConfig = typed(sel);
        let mut errors = Vec::new();
        // In development mode Cube makes up a key; in production it refuses to start without one.
        if !c.dev_mode && c.secret(sel).is_none() {
            errors.push(ConfigError::at(
                &["secret"],
                "Cube needs an API secret outside development mode",
                "set `secret` to a secret reference, or set `connection_secret_ref` to a Secret with key `api_secret`",
            ));
        }
        errors
    }

    /// The Cube chart's values (`cube` chart of gadsme/charts). The data
    /// source itself comes from the generated `.env`.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: CubeConfig = typed(sel);
        let mut config = serde_json::Map::new();
        config.insert("schemaPath".to_owned(), Value::from(c.schema_path()));
        config.insert("logLevel".to_owned(), Value::from(c.log_level.unwrap_or_default().as_str()));
        config.insert("devMode".to_owned(), Value::from(c.dev_mode));
        config.insert("telemetry".to_owned(), Value::from(c.telemetry));
        if let Some(Credential::Ref { secret_ref }) = c.secret(sel) {
            config.insert("apiSecretFromSecret".to_owned(), json!({"name": secret_ref.name, "key": secret_ref.key}));
        }
        let mut cube = serde_json::Map::new();
        cube.insert("enabled".to_owned(), Value::from(true));
        cube.insert("config".to_owned(), Value::Object(config));
        if let Some(n) = c.api_replicas {
            cube.insert("api".to_owned(), json!({"apiCount": n}));
        }
        if let Some(n) = c.refresh_workers {
            cube.insert("workers".to_owned(), json!({"workersCount": n}));
        }
        json!({"cube": cube})
    }
}

impl SemanticLayer for Cube {
    fn config_files(&self, sel: &Selected<'_>, datasource: &Datasource) -> Vec<(String, String)> {
        let c: CubeConfig = typed(sel);
        let driver = cube_driver(&datasource.driver);
        vec![("cube.js".to_owned(), cube_js(&c, driver)), (".env".to_owned(), cube_env(&c, sel, driver, datasource))]
    }
}

/// Cube's `CUBEJS_DB_TYPE` for a datasource driver. Spark is reached
/// through Cube's Hive / SparkSQL driver (Thrift), Databricks through JDBC.
fn cube_driver(driver: &str) -> &str {
    match driver {
        "spark" | "sparksql" => "hive",
        "databricks" => "databricks-jdbc",
        other => other,
    }
}

/// `cube.js`: the model path, telemetry, and the driver type; the driver
/// reads its connection from the environment.
fn cube_js(c: &CubeConfig, driver: &str) -> String {
    let js = |s: &str| serde_json::to_string(s).expect("strings serialize");
    format!(
        "// Cube configuration. The data source's connection comes from the\n\
         // environment (`.env`): CUBEJS_DB_TYPE and the driver's CUBEJS_DB_* variables.\n\
         module.exports = {{\n  \
           schemaPath: {},\n  \
           telemetry: {},\n  \
           driverFactory: () => ({{ type: {} }}),\n\
         }};\n",
        js(c.schema_path()),
        c.telemetry,
        js(driver),
    )
}

/// One environment variable a Cube driver reads, and the datasource
/// properties it is taken from (first present wins).
struct DriverVar {
    env: &'static str,
    properties: &'static [&'static str],
    secret: bool,
}

const fn var(env: &'static str, properties: &'static [&'static str]) -> DriverVar {
    DriverVar { env, properties, secret: false }
}

const fn secret_var(env: &'static str, properties: &'static [&'static str]) -> DriverVar {
    DriverVar { env, properties, secret: true }
}

// The environment variables of each driver, as Cube's data source pages give them.

const DUCKDB_VARS: &[DriverVar] = &[
    var("CUBEJS_DB_DUCKDB_DATABASE_PATH", &["database_path", "path"]),
    var("CUBEJS_DB_DUCKDB_SCHEMA", &["schema"]),
    var("CUBEJS_DB_DUCKDB_MEMORY_LIMIT", &["memory_limit"]),
    var("CUBEJS_DB_DUCKDB_EXTENSIONS", &["extensions"]),
    var("CUBEJS_DB_DUCKDB_S3_REGION", &["s3_region", "region"]),
    var("CUBEJS_DB_DUCKDB_S3_ENDPOINT", &["s3_endpoint", "endpoint"]),
    var("CUBEJS_DB_DUCKDB_S3_URL_STYLE", &["s3_url_style", "url_style"]),
    var("CUBEJS_DB_DUCKDB_S3_USE_SSL", &["s3_use_ssl", "use_ssl"]),
    secret_var("CUBEJS_DB_DUCKDB_S3_ACCESS_KEY_ID", &["access_key_id"]),
    secret_var("CUBEJS_DB_DUCKDB_S3_SECRET_ACCESS_KEY", &["secret_access_key"]),
    secret_var("CUBEJS_DB_DUCKDB_MOTHERDUCK_TOKEN", &["motherduck_token", "token"]),
];

const SNOWFLAKE_VARS: &[DriverVar] = &[
    var("CUBEJS_DB_SNOWFLAKE_ACCOUNT", &["account"]),
    var("CUBEJS_DB_SNOWFLAKE_REGION", &["region"]),
    var("CUBEJS_DB_SNOWFLAKE_WAREHOUSE", &["warehouse"]),
    var("CUBEJS_DB_SNOWFLAKE_ROLE", &["role"]),
    var("CUBEJS_DB_NAME", &["database"]),
    var("CUBEJS_DB_USER", &["user"]),
    var("CUBEJS_DB_SNOWFLAKE_AUTHENTICATOR", &["authenticator"]),
    var("CUBEJS_DB_SNOWFLAKE_PRIVATE_KEY_PATH", &["private_key_path"]),
    var("CUBEJS_DB_SNOWFLAKE_CLIENT_SESSION_KEEP_ALIVE", &["client_session_keep_alive"]),
    secret_var("CUBEJS_DB_PASS", &["password"]),
    secret_var("CUBEJS_DB_SNOWFLAKE_PRIVATE_KEY_PASS", &["private_key_passphrase"]),
];

const BIGQUERY_VARS: &[DriverVar] = &[
    var("CUBEJS_DB_BQ_PROJECT_ID", &["project", "project_id"]),
    var("CUBEJS_DB_BQ_LOCATION", &["location"]),
    var("CUBEJS_DB_BQ_KEY_FILE", &["keyfile", "key_file"]),
    secret_var("CUBEJS_DB_BQ_CREDENTIALS", &["credentials"]),
];

const DATABRICKS_JDBC_VARS: &[DriverVar] = &[
    var("CUBEJS_DB_DATABRICKS_URL", &["jdbc_url", "url"]),
    var("CUBEJS_DB_DATABRICKS_CATALOG", &["catalog"]),
    var("CUBEJS_DB_NAME", &["schema", "database"]),
    secret_var("CUBEJS_DB_DATABRICKS_TOKEN", &["token"]),
];

const HIVE_VARS: &[DriverVar] = &[
    var("CUBEJS_DB_HOST", &["host"]),
    var("CUBEJS_DB_PORT", &["port"]),
    var("CUBEJS_DB_NAME", &["schema", "database"]),
    var("CUBEJS_DB_USER", &["user"]),
    secret_var("CUBEJS_DB_PASS", &["password", "token"]),
];

/// The environment variables Cube's `driver` reads.
fn driver_vars(driver: &str) -> &'static [DriverVar] {
    match driver {
        "duckdb" => DUCKDB_VARS,
        "snowflake" => SNOWFLAKE_VARS,
        "bigquery" => BIGQUERY_VARS,
        "databricks-jdbc" => DATABRICKS_JDBC_VARS,
        "hive" => HIVE_VARS,
        _ => &[],
    }
}

/// The `.env` Cube reads: the driver and its connection from the
/// datasource, then the server settings. Credentials appear only as
/// `${FLOE_SECRET_…}` references.
fn cube_env(c: &CubeConfig, sel: &Selected<'_>, driver: &str, ds: &Datasource) -> String {
    let mut lines = vec![env_line("CUBEJS_DB_TYPE", driver)];
    let mut used = Vec::new();
    for v in driver_vars(driver) {
        let Some((key, value)) = lookup(&ds.properties, v) else { continue };
        if !v.secret {
            lines.push(env_line(v.env, value));
            used.push(key);
            continue;
        }
        // A credential crosses the binding only as a variable name; anything
        // else might be the secret itself, so it is left out.
        match env_reference(value) {
            Some(reference) => lines.push(env_line(v.env, &reference)),
            None => lines.push(format!("# {}: `{key}` is not an environment variable name, left out", v.env)),
        }
        used.push(key);
    }
    if driver == "databricks-jdbc" {
        if !used.iter().any(|k| k == "jdbc_url" || k == "url")
            && let Some(url) = databricks_jdbc_url(&ds.properties)
        {
            used.extend(["host".to_owned(), "http_path".to_owned()]);
            lines.insert(1, env_line("CUBEJS_DB_DATABRICKS_URL", &url));
        }
        lines.push(env_line("CUBEJS_DB_DATABRICKS_ACCEPT_POLICY", &c.accept_databricks_policy.to_string()));
    }
    let unread: Vec<&str> = ds.properties.keys().map(String::as_str).filter(|k| !used.iter().any(|u| u == k)).collect();
    if !unread.is_empty() {
        lines.push(format!("# not read by Cube's {driver} driver: {}", unread.join(", ")));
    }
    if let Some(secret) = c.secret(sel) {
        lines.push(env_line("CUBEJS_API_SECRET", &secret.shell()));
    }
    lines.push(env_line("CUBEJS_SCHEMA_PATH", c.schema_path()));
    lines.push(env_line("CUBEJS_LOG_LEVEL", c.log_level.unwrap_or_default().as_str()));
    lines.push(env_line("CUBEJS_DEV_MODE", &c.dev_mode.to_string()));
    lines.push(env_line("CUBEJS_TELEMETRY", &c.telemetry.to_string()));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The first property `v` reads that the datasource has; a credential may
/// also come as `<key>_env`.
fn lookup<'a>(props: &'a BTreeMap<String, String>, v: &DriverVar) -> Option<(String, &'a str)> {
    for key in v.properties {
        if let Some(value) = props.get(*key) {
            return Some(((*key).to_owned(), value));
        }
        let env_key = format!("{key}_env");
        if v.secret
            && let Some(value) = props.get(&env_key)
        {
            return Some((env_key, value));
        }
    }
    None
}

/// `${NAME}` for a value that names an environment variable (`NAME`,
/// `${NAME}` or `{{ env_var('NAME') }}`).
fn env_reference(value: &str) -> Option<String> {
    let template = Credential::Template(value.to_owned());
    let name = template.env_var().unwrap_or_else(|| value.to_owned());
    is_env_name(&name).then(|| format!("${{{name}}}"))
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The JDBC URL Cube's Databricks page gives, from the host and HTTP path
/// dbt-databricks uses; the token comes from `CUBEJS_DB_DATABRICKS_TOKEN`.
fn databricks_jdbc_url(props: &BTreeMap<String, String>) -> Option<String> {
    let host = props.get("host")?;
    let http_path = props.get("http_path")?;
    let host = host.trim_start_matches("https://").trim_end_matches('/');
    Some(format!(
        "jdbc:databricks://{host}:443/default;transportMode=http;ssl=1;httpPath={};AuthMech=3;UID=token",
        http_path.trim_start_matches('/')
    ))
}

/// `NAME=value`, double-quoted when the value has characters dotenv would
/// otherwise cut at.
fn env_line(name: &str, value: &str) -> String {
    let plain = value.chars().all(|c| !c.is_whitespace() && !matches!(c, '#' | '"' | '\'' | '\\' | '`'));
    match plain {
        true => format!("{name}={value}"),
        false => format!("{name}={}", serde_json::to_string(value).expect("strings serialize")),
    }
}

// ---------------------------------------------------------------- dbt Semantic Layer

/// The dbt Semantic Layer, served by dbt Cloud for a production environment.
pub struct DbtSemanticLayer;

/// dbt Semantic Layer.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dbt-semantic-layer semantic layer config")]
pub struct DbtSemanticLayerConfig {
    /// The dbt Cloud production environment whose metrics are served.
    #[schemars(range(min = 1))]
    pub environment_id: u64,
    /// The Semantic Layer host of the account's region: its access URL with
    /// the `semantic-layer.` prefix, without scheme.
    #[schemars(regex(pattern = r"^[A-Za-z0-9.-]+$"))]
    pub host: Option<String>,
    /// A service token with Semantic Layer permissions; defaults to key
    /// `token` of the connection secret.
    pub token: Option<Credential>,
}

/// dbt Cloud's North America multi-tenant Semantic Layer host.
const DEFAULT_SEMANTIC_LAYER_HOST: &str = "semantic-layer.cloud.getdbt.com";

impl DbtSemanticLayerConfig {
    fn host(&self) -> &str {
        self.host.as_deref().unwrap_or(DEFAULT_SEMANTIC_LAYER_HOST)
    }

    fn token(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.token.as_ref(), sel.connection_secret, "token")
    }
}

static DBT_SEMANTIC_LAYER: Meta = Meta {
    name: "dbt-semantic-layer",
    category: Category::SemanticLayer,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "The dbt Semantic Layer, served by dbt Cloud over JDBC and GraphQL",
    provides: &[cap("semantic-layer", "dbt-semantic-layer")],
    requires: &[
        needs(Category::Dbt, "dbt-runtime", &["cloud"], "the dbt Semantic Layer is served by dbt Cloud"),
        needs(
            Category::Compute,
            "sql-datasource",
            &["snowflake", "bigquery", "databricks"],
            "the dbt Semantic Layer supports Snowflake, BigQuery, Databricks, Redshift, Postgres and Trino",
        ),
    ],
};

impl Plugin for DbtSemanticLayer {
    fn meta(&self) -> &'static Meta {
        &DBT_SEMANTIC_LAYER
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DbtSemanticLayerConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DbtSemanticLayerConfig = typed(sel);
        let mut errors = Vec::new();
        if !c.host().starts_with("semantic-layer.") {
            errors.push(ConfigError::at(
                &["host"],
                format!("`{}` is not a Semantic Layer host", c.host()),
                "use the account's access URL with the `semantic-layer.` prefix (`semantic-layer.cloud.getdbt.com`)",
            ));
        }
        if c.token(sel).is_none() {
            errors.push(ConfigError::at(
                &["token"],
                "the dbt Semantic Layer needs a service token",
                "set `token` to a secret reference, or set `connection_secret_ref` to a Secret with key `token`",
            ));
        }
        errors
    }
}

impl SemanticLayer for DbtSemanticLayer {
    /// `semantic_layer.json`: what a client needs to connect, keyed as the
    /// dbt-sl-sdk client takes it, with the JDBC (Arrow Flight SQL) and
    /// GraphQL endpoints. The datasource is dbt Cloud's concern, not ours.
    fn config_files(&self, sel: &Selected<'_>, _datasource: &Datasource) -> Vec<(String, String)> {
        let c: DbtSemanticLayerConfig = typed(sel);
        let host = c.host();
        let token = c.token(sel).map(|t| t.shell());
        let mut jdbc = format!("jdbc:arrow-flight-sql://{host}:443?&environmentId={}", c.environment_id);
        if let Some(t) = &token {
            jdbc.push_str(&format!("&token={t}"));
        }
        let settings = json!({
            "environment_id": c.environment_id,
            "host": host,
            "auth_token": token,
            "jdbc_url": jdbc,
            "graphql_url": format!("https://{host}/api/graphql"),
        });
        let mut text = serde_json::to_string_pretty(&settings).expect("values serialize");
        text.push('\n');
        vec![("semantic_layer.json".to_owned(), text)]
    }
}

// ---------------------------------------------------------------- none

/// No semantic layer: the explicit choice, and the category's default.
pub struct NoSemanticLayer;

/// No semantic layer; takes no configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "none semantic layer config")]
// An empty `properties` makes a stray key an unknown key, reported at that key.
#[schemars(extend("properties" = {}))]
pub struct NoSemanticLayerConfig {}

static NONE: Meta = Meta {
    name: "none",
    category: Category::SemanticLayer,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "No semantic layer; metrics stay in the dbt project",
    provides: &[],
    requires: &[],
};

impl Plugin for NoSemanticLayer {
    fn meta(&self) -> &'static Meta {
        &NONE
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<NoSemanticLayerConfig>()
    }
}

impl SemanticLayer for NoSemanticLayer {
    fn config_files(&self, _sel: &Selected<'_>, _datasource: &Datasource) -> Vec<(String, String)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Capability;
    use crate::registry::{Any, find};
    use crate::{Compute, DbtRuntime};

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn duckdb_datasource() -> Datasource {
        Datasource {
            driver: "duckdb".to_owned(),
            properties: BTreeMap::from([("database_path".to_owned(), "/tmp/floe/customer_360.duckdb".to_owned())]),
        }
    }

    fn snowflake_datasource() -> Datasource {
        let props = [
            ("account", "xy12345.eu-west-1"),
            ("database", "ANALYTICS"),
            ("warehouse", "TRANSFORMING"),
            ("role", "CUBE_READER"),
            ("user", "cube"),
            ("password", "FLOE_SECRET_SNOWFLAKE_CREDS_PASSWORD"),
            ("query_tag", "floe"),
        ];
        Datasource {
            driver: "snowflake".to_owned(),
            properties: props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    fn files(files: Vec<(String, String)>) -> String {
        files.into_iter().map(|(name, text)| format!("--- {name}\n{text}")).collect()
    }

    fn cube_config() -> Value {
        json!({
            "secret": {"secret_ref": {"source": "kubernetes", "name": "cube-api", "key": "api_secret"}},
            "log_level": "info",
            "api_replicas": 2,
            "refresh_workers": 1
        })
    }

    #[test]
    fn cube_files_for_duckdb() {
        let c = cube_config();
        insta::assert_snapshot!(files(Cube.config_files(&sel(&c), &duckdb_datasource())));
    }

    #[test]
    fn cube_files_for_snowflake() {
        let c = cube_config();
        insta::assert_snapshot!(files(Cube.config_files(&sel(&c), &snowflake_datasource())));
    }

    #[test]
    fn cube_builds_the_databricks_jdbc_url() {
        let ds = Datasource {
            driver: "databricks".to_owned(),
            properties: [
                ("host", "dbc-a1b2c3d4-e5f6.cloud.databricks.com"),
                ("http_path", "/sql/1.0/warehouses/abc123"),
                ("catalog", "main"),
                ("schema", "customer_360"),
                ("token", "{{ env_var('FLOE_SECRET_DATABRICKS_TOKEN') }}"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        };
        let c = json!({"dev_mode": true, "accept_databricks_policy": true});
        let env = &Cube.config_files(&sel(&c), &ds)[1].1;
        assert!(env.contains("CUBEJS_DB_TYPE=databricks-jdbc\n"), "{env}");
        assert!(
            env.contains(
                "CUBEJS_DB_DATABRICKS_URL=jdbc:databricks://dbc-a1b2c3d4-e5f6.cloud.databricks.com:443/default;\
                 transportMode=http;ssl=1;httpPath=sql/1.0/warehouses/abc123;AuthMech=3;UID=token\n"
            ),
            "{env}"
        );
        assert!(env.contains("CUBEJS_DB_DATABRICKS_TOKEN=${FLOE_SECRET_DATABRICKS_TOKEN}\n"), "{env}");
        assert!(env.contains("CUBEJS_DB_DATABRICKS_ACCEPT_POLICY=true\n"), "{env}");
        assert!(!env.contains("not read by"), "{env}");
    }

    #[test]
    fn cube_reaches_spark_through_the_hive_driver() {
        let ds = Datasource {
            driver: "spark".to_owned(),
            properties: BTreeMap::from([("host".to_owned(), "spark-thrift".to_owned())]),
        };
        let c = json!({"dev_mode": true});
        let [(_, js), (_, env)] = <[_; 2]>::try_from(Cube.config_files(&sel(&c), &ds)).unwrap();
        assert!(js.contains("driverFactory: () => ({ type: \"hive\" })"), "{js}");
        assert!(env.starts_with("CUBEJS_DB_TYPE=hive\nCUBEJS_DB_HOST=spark-thrift\n"), "{env}");
    }

    #[test]
    fn cube_helm_values() {
        let c = cube_config();
        insta::assert_json_snapshot!(Cube.helm_values(&sel(&c)));
    }

    #[test]
    fn dbt_semantic_layer_files() {
        let c = json!({"environment_id": 202339, "host": "semantic-layer.emea.dbt.com"});
        let s = Selected::new(Some(&c), Some("dbt-cloud"));
        insta::assert_snapshot!(files(DbtSemanticLayer.config_files(&s, &snowflake_datasource())));
    }

    #[test]
    fn none_has_no_files_and_takes_no_keys() {
        assert!(NoSemanticLayer.config_files(&Selected::EMPTY, &duckdb_datasource()).is_empty());
        assert!(crate::validate(&NoSemanticLayer, &Selected::EMPTY).is_empty());
        let errors = crate::validate(&NoSemanticLayer, &sel(&json!({"engine": "cube"})));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, ["engine"]);
        assert_eq!(errors[0].help.as_deref(), Some("this plugin takes no configuration here"));
    }

    #[test]
    fn cube_config_is_checked() {
        let c = json!({"log_level": "debug", "api_replicas": 0, "schema_pth": "model"});
        let errors = crate::validate(&Cube, &sel(&c));
        let keys: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
        assert_eq!(keys, ["api_replicas", "log_level", "schema_pth"]);
        assert_eq!(errors[2].help.as_deref(), Some("did you mean `schema_path`?"));
        // Outside development mode Cube needs an API secret.
        let errors = crate::validate(&Cube, &sel(&json!({})));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, ["secret"]);
        assert!(crate::validate(&Cube, &sel(&json!({"dev_mode": true}))).is_empty());
        assert!(crate::validate(&Cube, &Selected::new(None, Some("cube-api"))).is_empty());
    }

    #[test]
    fn dbt_semantic_layer_config_is_checked() {
        let errors = crate::validate(&DbtSemanticLayer, &sel(&json!({"environment_id": 0, "tokn": "x"})));
        let keys: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
        assert_eq!(keys, ["environment_id", "tokn"]);
        assert_eq!(errors[1].help.as_deref(), Some("did you mean `token`?"));
        let errors =
            crate::validate(&DbtSemanticLayer, &sel(&json!({"environment_id": 1, "host": "cloud.getdbt.com"})));
        let keys: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
        assert_eq!(keys, ["host", "token"]);
        let c = json!({"environment_id": 1});
        assert!(crate::validate(&DbtSemanticLayer, &Selected::new(Some(&c), Some("dbt-cloud"))).is_empty());
    }

    #[test]
    fn no_output_holds_a_secret_value() {
        const PLANTED: &str = "hunter2-planted-secret";
        let mut ds = snowflake_datasource();
        // A datasource that breaks its contract and passes a value instead of a variable name.
        ds.properties.insert("password".to_owned(), PLANTED.to_owned());
        ds.properties.insert("private_key_passphrase".to_owned(), format!("{PLANTED} with spaces"));
        let c = cube_config();
        let cube = files(Cube.config_files(&sel(&c), &ds));
        assert!(!cube.contains(PLANTED), "{cube}");
        assert!(cube.contains("# CUBEJS_DB_PASS: `password` is not an environment variable name, left out"));
        assert!(cube.contains("CUBEJS_API_SECRET=${FLOE_SECRET_CUBE_API_API_SECRET}"), "{cube}");
        let helm = Cube.helm_values(&sel(&c)).to_string();
        assert!(
            !helm.contains(PLANTED) && helm.contains(r#""apiSecretFromSecret":{"key":"api_secret","name":"cube-api"}"#)
        );

        let c = json!({"environment_id": 7, "token": {"secret_ref": {"source": "kubernetes", "name": "dbt", "key": "token"}}});
        let dsl = files(DbtSemanticLayer.config_files(&sel(&c), &ds));
        assert!(!dsl.contains(PLANTED), "{dsl}");
        assert!(dsl.contains("&token=${FLOE_SECRET_DBT_TOKEN}"), "{dsl}");
    }

    // A dbt runtime stands in for the ones other modules define.
    struct Runtime(&'static Meta);

    impl Plugin for Runtime {
        fn meta(&self) -> &'static Meta {
            self.0
        }

        fn config_schema(&self) -> Value {
            json!({"type": "object", "additionalProperties": false})
        }
    }

    impl DbtRuntime for Runtime {
        fn command(&self, _sel: &Selected<'_>) -> Vec<String> {
            vec!["dbt".to_owned(), "build".to_owned()]
        }

        fn requirements(&self, _compute: &dyn Compute) -> Vec<String> {
            Vec::new()
        }
    }

    const fn runtime_meta(name: &'static str, provides: &'static [Capability]) -> Meta {
        Meta {
            name,
            category: Category::Dbt,
            version: "0.1.0",
            api: PLUGIN_API,
            summary: "test runtime",
            provides,
            requires: &[],
        }
    }

    static CLOUD_META: Meta = runtime_meta("cloud", &[cap("dbt-runtime", "cloud")]);
    static CORE_META: Meta = runtime_meta("core", &[cap("dbt-runtime", "core")]);
    static CLOUD: Runtime = Runtime(&CLOUD_META);
    static CORE: Runtime = Runtime(&CORE_META);

    fn selection(semantic: &str, dbt: Option<&'static Runtime>) -> Vec<Any> {
        let mut s = vec![
            find(Category::SemanticLayer, semantic).unwrap(),
            find(Category::Compute, "duckdb").expect("duckdb is registered"),
        ];
        s.extend(dbt.map(|r| Any::Dbt(r)));
        s
    }

    #[test]
    fn dbt_semantic_layer_is_rejected_on_duckdb() {
        let conflicts = crate::compose::check(&selection("dbt-semantic-layer", Some(&CLOUD)));
        assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
        assert_eq!(conflicts[0].requirement.category, Category::Compute);
        assert_eq!(conflicts[0].found, Some("duckdb"));
        assert!(conflicts[0].message.contains("cannot work with compute `duckdb`"), "{}", conflicts[0].message);
        // Cube works with DuckDB, so it is offered instead.
        assert!(conflicts[0].help.contains("`cube`"), "{}", conflicts[0].help);
    }

    #[test]
    fn dbt_semantic_layer_needs_dbt_cloud() {
        let conflicts = crate::compose::check(&selection("dbt-semantic-layer", Some(&CORE)));
        let dbt: Vec<_> = conflicts.iter().filter(|c| c.requirement.category == Category::Dbt).collect();
        assert_eq!(dbt.len(), 1, "{conflicts:#?}");
        assert_eq!(dbt[0].found, Some("core"));
        assert!(dbt[0].message.contains("served by dbt Cloud"), "{}", dbt[0].message);

        let conflicts = crate::compose::check(&selection("dbt-semantic-layer", None));
        let dbt: Vec<_> = conflicts.iter().filter(|c| c.requirement.category == Category::Dbt).collect();
        assert_eq!(dbt.len(), 1, "{conflicts:#?}");
        assert_eq!(dbt[0].found, None);
    }

    #[test]
    fn cube_and_none_work_with_duckdb() {
        assert_eq!(crate::compose::check(&selection("cube", Some(&CORE))), []);
        assert_eq!(crate::compose::check(&selection("none", None)), []);
    }
}
