//! Compute plugins: the engines dbt runs models on, and the profile output
//! each dbt adapter documents.
//!
//! DuckDB and Spark in `session` mode run inside the job's container; the
//! others are remote engines that the job only sends queries to. Credentials
//! reach a profile only as `{{ env_var('FLOE_SECRET_…') }}`, and default to
//! keys of the selection's `connection_secret_ref`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{CatalogBinding, Datasource, ProductContext, Resources, Selected, StorageBinding, WorkloadSize};
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Meta, PLUGIN_API, cap, if_selected};
use crate::{Compute, Plugin};

pub(crate) static PLUGINS: &[&'static dyn Compute] = &[&DuckDb, &Snowflake, &Databricks, &BigQuery, &Spark];

/// dbt's default per-query timeout, as the Python implementation sets it.
const DEFAULT_TIMEOUT_SECONDS: u32 = 3600;

/// Threads against a remote engine when config sets none: the job only
/// waits on the engine, so a few queries in flight cost it nothing.
const DEFAULT_REMOTE_THREADS: u32 = 4;

fn insert(out: &mut BTreeMap<String, Value>, key: &str, value: impl Into<Value>) {
    out.insert(key.to_owned(), value.into());
}

fn insert_some(out: &mut BTreeMap<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        insert(out, key, v);
    }
}

/// The environment variable a credential reaches the runtime as, under `key`.
fn insert_env(properties: &mut BTreeMap<String, String>, key: &str, credential: Option<Credential>) {
    if let Some(var) = credential.and_then(|c| c.env_var()) {
        properties.insert(key.to_owned(), var);
    }
}

/// An error for each key that is set but not read in the chosen mode (`with`: `method: session`).
fn unused_keys(keys: &[(&str, bool)], with: &str, help: &str) -> Vec<ConfigError> {
    keys.iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| ConfigError::at(&[key], format!("`{key}` is not used with `{with}`"), help))
        .collect()
}

/// A value the chosen mode needs (`with`: `method: thrift`) and config lacks.
fn required_key(key: &str, with: &str, help: &str) -> ConfigError {
    ConfigError::at(&[key], format!("`{with}` needs `{key}`"), help)
}

/// A credential neither config nor the connection secret provides.
fn missing_credential(key: &str) -> ConfigError {
    ConfigError::at(
        &[key],
        format!("no `{key}` to log in with"),
        format!("set `{key}`, or `connection_secret_ref` to a Secret with a `{key}` key"),
    )
}

/// A product's schema (or dataset): the configured template, or the product's slug.
fn product_schema(configured: Option<&str>, product: &ProductContext<'_>) -> String {
    product.expand(configured.unwrap_or("{product_slug}"))
}

/// Job resources that suit an engine which runs inside the job's own
/// container (DuckDB).
fn in_process(size: WorkloadSize) -> Resources {
    match size {
        WorkloadSize::Small => Resources::new("250m", "1", "512Mi", "1Gi"),
        WorkloadSize::Medium => Resources::new("1", "2", "2Gi", "4Gi"),
        WorkloadSize::Large => Resources::new("2", "4", "8Gi", "16Gi"),
    }
}

/// Job resources for a dbt client whose queries run on a remote warehouse:
/// the container parses the project and waits, so it grows only with the
/// manifest and the threads it holds, not with the data.
fn remote_client(size: WorkloadSize) -> Resources {
    match size {
        WorkloadSize::Small => Resources::new("100m", "500m", "384Mi", "768Mi"),
        WorkloadSize::Medium => Resources::new("250m", "1", "512Mi", "1Gi"),
        WorkloadSize::Large => Resources::new("500m", "1", "1Gi", "2Gi"),
    }
}

/// Job resources for Spark in the job's container: a JVM driver with local
/// executors next to dbt, which needs several times DuckDB's memory.
fn local_spark(size: WorkloadSize) -> Resources {
    match size {
        WorkloadSize::Small => Resources::new("500m", "2", "2Gi", "4Gi"),
        WorkloadSize::Medium => Resources::new("1", "4", "4Gi", "8Gi"),
        WorkloadSize::Large => Resources::new("2", "8", "12Gi", "24Gi"),
    }
}

// ---------------------------------------------------------------- DuckDB

pub struct DuckDb;

/// DuckDB compute (dbt-duckdb).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "duckdb compute config")]
pub struct DuckDbConfig {
    /// Database file; `{product_slug}` and `{product_name}` expand per product, `:memory:` for none.
    #[schemars(length(min = 1))]
    pub path: Option<String>,
    /// Threads dbt runs models on.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Per-query timeout.
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// DuckDB `memory_limit` setting (`2GB`).
    pub memory_limit: Option<String>,
    /// Other DuckDB settings, as `SET key = value`.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// DuckDB extensions to load.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Databases to attach, as dbt-duckdb reads them.
    #[serde(default)]
    pub attach: Vec<Value>,
    /// dbt-duckdb plugins.
    #[serde(default)]
    pub plugins: Vec<Value>,
    pub schema: Option<String>,
    pub database: Option<String>,
}

static DUCKDB: Meta = Meta {
    name: "duckdb",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "DuckDB, in process, through dbt-duckdb",
    provides: &[cap("dbt-adapter", "duckdb"), cap("sql-datasource", "duckdb")],
    requires: &[],
};

impl Plugin for DuckDb {
    fn meta(&self) -> &'static Meta {
        &DUCKDB
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DuckDbConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DuckDbConfig = typed(sel);
        let mut errors = Vec::new();
        if c.memory_limit.is_some() && c.settings.contains_key("memory_limit") {
            errors.push(ConfigError::at(
                &["settings", "memory_limit"],
                "`memory_limit` is set twice, at the top and under `settings`",
                "keep one of them",
            ));
        }
        errors
    }
}

impl Compute for DuckDb {
    fn adapter(&self) -> &'static str {
        "duckdb"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: DuckDbConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "duckdb");
        let path = c.path.as_deref().unwrap_or("/tmp/floe/{product_slug}.duckdb");
        insert(&mut out, "path", product.expand(path));
        insert(&mut out, "threads", c.threads.unwrap_or(1));
        insert(&mut out, "timeout_seconds", c.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS));
        let mut settings = c.settings.clone();
        if let Some(m) = &c.memory_limit {
            settings.insert("memory_limit".to_owned(), Value::from(m.clone()));
        }
        if !settings.is_empty() {
            insert(&mut out, "settings", Value::Object(settings.into_iter().collect()));
        }
        let mut extensions = c.extensions.clone();
        let mut secrets = Vec::new();
        let mut attach = c.attach.clone();
        // Iceberg tables in object storage: DuckDB reads them through httpfs
        // with a DuckDB secret whose values come from the environment.
        if let Some(s) = storage {
            extensions.extend(["httpfs".to_owned(), "iceberg".to_owned()]);
            secrets.push(storage_secret(s));
        }
        if let Some(cat) = catalog.filter(|c| c.kind == "rest") {
            let mut options = serde_json::Map::new();
            if let Some(uri) = &cat.uri {
                options.insert("endpoint".to_owned(), Value::from(uri.clone()));
            }
            if let Some(secret) = &cat.credentials_secret {
                let name = format!("{}_catalog", cat.name.replace('-', "_"));
                let mut s = serde_json::Map::new();
                s.insert("type".to_owned(), Value::from("iceberg"));
                s.insert("name".to_owned(), Value::from(name.clone()));
                if let Some(id) = cat.properties.get("client_id") {
                    s.insert("client_id".to_owned(), Value::from(id.clone()));
                }
                s.insert(
                    "client_secret".to_owned(),
                    Value::from(Credential::from_secret(secret, "client_secret").dbt()),
                );
                if let Some(url) = cat.properties.get("token_url") {
                    s.insert("oauth2_server_uri".to_owned(), Value::from(url.clone()));
                }
                secrets.push(Value::Object(s));
                options.insert("secret".to_owned(), Value::from(name));
            }
            attach.push(json!({"path": cat.warehouse, "alias": cat.name.replace('-', "_"), "type": "iceberg", "options": options}));
            if !extensions.iter().any(|e| e == "iceberg") {
                extensions.push("iceberg".to_owned());
            }
        }
        extensions.sort();
        extensions.dedup();
        if !extensions.is_empty() {
            insert(&mut out, "extensions", extensions);
        }
        if !secrets.is_empty() {
            insert(&mut out, "secrets", secrets);
        }
        if !attach.is_empty() {
            insert(&mut out, "attach", attach);
        }
        if !c.plugins.is_empty() {
            insert(&mut out, "plugins", c.plugins.clone());
        }
        if let Some(s) = c.schema {
            insert(&mut out, "schema", s);
        }
        if let Some(d) = c.database {
            insert(&mut out, "database", d);
        }
        out
    }

    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-duckdb>=1.9,<2".to_owned()]
    }

    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        in_process(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: DuckDbConfig = typed(sel);
        let path = product.expand(c.path.as_deref().unwrap_or("/tmp/floe/{product_slug}.duckdb"));
        Some(Datasource {
            driver: "duckdb".to_owned(),
            properties: BTreeMap::from([("database_path".to_owned(), path)]),
        })
    }
}

/// A DuckDB secret for the platform's object storage (dbt-duckdb `secrets:`).
fn storage_secret(s: &StorageBinding) -> Value {
    let mut m = serde_json::Map::new();
    let kind = match s.scheme.as_str() {
        "gs" => "gcs",
        "abfss" => "azure",
        _ => "s3",
    };
    m.insert("type".to_owned(), Value::from(kind));
    if let Some(r) = &s.region {
        m.insert("region".to_owned(), Value::from(r.clone()));
    }
    if let Some(e) = &s.endpoint {
        let host = e.split_once("://").map_or(e.as_str(), |(_, h)| h);
        m.insert("endpoint".to_owned(), Value::from(host.trim_end_matches('/')));
        m.insert("use_ssl".to_owned(), Value::from(e.starts_with("https://")));
    }
    if s.path_style_access {
        m.insert("url_style".to_owned(), Value::from("path"));
    }
    match (&s.credentials_secret, kind) {
        (Some(secret), "s3" | "gcs") => {
            m.insert("key_id".to_owned(), Value::from(Credential::from_secret(secret, "access_key_id").dbt()));
            m.insert("secret".to_owned(), Value::from(Credential::from_secret(secret, "secret_access_key").dbt()));
        }
        (Some(secret), _) => {
            m.insert(
                "connection_string".to_owned(),
                Value::from(Credential::from_secret(secret, "connection_string").dbt()),
            );
        }
        (None, "azure") => {
            m.insert("provider".to_owned(), Value::from("credential_chain"));
        }
        (None, _) => {
            m.insert("provider".to_owned(), Value::from("credential_chain"));
        }
    }
    Value::Object(m)
}

// ------------------------------------------------------------- Snowflake

/// Snowflake, through dbt-snowflake.
pub struct Snowflake;

/// How dbt logs in to Snowflake (`authenticator` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnowflakeAuthenticator {
    /// Snowflake's own login: a password or a key pair (see `auth`).
    #[default]
    Snowflake,
    /// Browser-based SSO. A scheduled job has no browser, so floe rejects it.
    Externalbrowser,
    /// An OAuth access token, or a refresh token with `oauth_client_id` and `client_secret`.
    Oauth,
    /// A password and a Duo MFA push (cache it with `ALLOW_CLIENT_MFA_CACHING`).
    UsernamePasswordMfa,
}

impl SnowflakeAuthenticator {
    /// Its value in config and in the profile.
    fn name(self) -> &'static str {
        match self {
            SnowflakeAuthenticator::Snowflake => "snowflake",
            SnowflakeAuthenticator::Externalbrowser => "externalbrowser",
            SnowflakeAuthenticator::Oauth => "oauth",
            SnowflakeAuthenticator::UsernamePasswordMfa => "username_password_mfa",
        }
    }
}

/// The credential of the `snowflake` and `username_password_mfa` authenticators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnowflakeAuth {
    /// A password (connection secret key `password`).
    Password,
    /// An RSA key pair (connection secret key `private_key`).
    Keypair,
}

/// Snowflake compute (dbt-snowflake).
///
/// Credentials default to keys of the selection's `connection_secret_ref`:
/// `password`; `private_key` for key-pair auth; `token` (and `client_secret`
/// with `oauth_client_id`) for OAuth. Iceberg tables reach Snowflake through
/// an external volume and a catalog integration created in Snowflake
/// (`CREATE CATALOG INTEGRATION`); the profile has no keys for them, so a
/// catalog binding adds nothing to it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "snowflake compute config")]
pub struct SnowflakeConfig {
    /// Account identifier (`myorg-myaccount`, or a locator such as `abc123.eu-west-1`), not the host name.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), length(max = 255))]
    pub account: String,
    /// User dbt logs in as.
    #[schemars(length(min = 1))]
    pub user: String,
    /// Role to assume after login.
    #[schemars(length(min = 1))]
    pub role: Option<String>,
    /// Database models are built in; `{product_slug}` and `{product_name}` expand per product.
    #[schemars(length(min = 1))]
    pub database: String,
    /// Virtual warehouse that runs the queries.
    #[schemars(length(min = 1))]
    pub warehouse: String,
    /// Schema models are built in; default `{product_slug}`.
    #[schemars(length(min = 1))]
    pub schema: Option<String>,
    /// Models dbt builds at once; default 4.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Login method; default `snowflake`.
    #[serde(default)]
    pub authenticator: SnowflakeAuthenticator,
    /// Credential of the `snowflake` authenticator: `password`, or `keypair` to
    /// log in with the connection secret's `private_key`. Setting `private_key` implies `keypair`.
    pub auth: Option<SnowflakeAuth>,
    /// Password; default: the connection secret's `password` key.
    pub password: Option<Credential>,
    /// Private key (PEM, or Base64 DER) for key-pair auth.
    pub private_key: Option<Credential>,
    /// Passphrase of an encrypted private key; unencrypted keys need none.
    pub private_key_passphrase: Option<Credential>,
    /// OAuth token: an access token, or a refresh token with `oauth_client_id`; default: the connection secret's `token` key.
    pub token: Option<Credential>,
    /// Client id of the Snowflake OAuth integration, to refresh `token`.
    #[schemars(length(min = 1))]
    pub oauth_client_id: Option<String>,
    /// Client secret of the OAuth integration; default: the connection secret's `client_secret` key.
    pub client_secret: Option<Credential>,
    /// Keep sessions alive past Snowflake's 4-hour idle timeout.
    pub client_session_keep_alive: Option<bool>,
    /// Tag on every query, searchable in QUERY_HISTORY; `{product_name}` expands per product.
    #[schemars(length(min = 1, max = 2000))]
    pub query_tag: Option<String>,
    /// Retries after a failed connection.
    #[schemars(range(max = 100))]
    pub connect_retries: Option<u32>,
    /// Seconds between connection retries.
    #[schemars(range(min = 1, max = 3600))]
    pub connect_timeout: Option<u32>,
    /// Retry queries that fail with a database error.
    pub retry_on_database_errors: Option<bool>,
    /// Retry queries on every connector error.
    pub retry_all: Option<bool>,
    /// Reuse idle connections.
    pub reuse_connections: Option<bool>,
}

static SNOWFLAKE: Meta = Meta {
    name: "snowflake",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Snowflake warehouses, through dbt-snowflake",
    provides: &[cap("dbt-adapter", "snowflake"), cap("sql-datasource", "snowflake")],
    requires: &[
        if_selected(
            crate::Category::Storage,
            "cloud",
            &["aws", "gcp", "azure"],
            "Snowflake external volumes live on S3, GCS or Azure, not on self-hosted object storage",
        ),
        if_selected(
            crate::Category::Catalog,
            "iceberg-catalog",
            &["rest", "glue"],
            "Snowflake catalog integrations read Iceberg REST catalogs and AWS Glue",
        ),
    ],
};

/// A Snowflake login with its credentials resolved (`None`: nowhere to read one from).
enum SnowflakeLogin {
    Password(Option<Credential>),
    KeyPair { key: Option<Credential>, passphrase: Option<Credential> },
    OAuth { token: Option<Credential>, client: Option<(String, Option<Credential>)> },
}

impl SnowflakeConfig {
    fn uses_key_pair(&self) -> bool {
        self.private_key.is_some() || self.auth == Some(SnowflakeAuth::Keypair)
    }

    fn login(&self, secret: Option<&str>) -> SnowflakeLogin {
        if self.authenticator == SnowflakeAuthenticator::Oauth {
            let client = self.oauth_client_id.clone().map(|id| {
                let client_secret = Credential::or_secret(self.client_secret.as_ref(), secret, "client_secret");
                (id, client_secret)
            });
            let token = Credential::or_secret(self.token.as_ref(), secret, "token");
            return SnowflakeLogin::OAuth { token, client };
        }
        if self.uses_key_pair() {
            let key = Credential::or_secret(self.private_key.as_ref(), secret, "private_key");
            return SnowflakeLogin::KeyPair { key, passphrase: self.private_key_passphrase.clone() };
        }
        SnowflakeLogin::Password(Credential::or_secret(self.password.as_ref(), secret, "password"))
    }
}

impl Plugin for Snowflake {
    fn meta(&self) -> &'static Meta {
        &SNOWFLAKE
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<SnowflakeConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: SnowflakeConfig = typed(sel);
        let mut errors = Vec::new();
        if c.account.to_ascii_lowercase().ends_with("snowflakecomputing.com") {
            errors.push(ConfigError::at(
                &["account"],
                "`account` is a host name, not an account identifier",
                "keep only the part before `.snowflakecomputing.com` (`myorg-myaccount`)",
            ));
        }
        match c.authenticator {
            SnowflakeAuthenticator::Externalbrowser => errors.push(ConfigError::at(
                &["authenticator"],
                "`externalbrowser` opens a browser, and a scheduled job has none",
                "use key-pair auth (`auth: keypair`) or `authenticator: oauth`",
            )),
            SnowflakeAuthenticator::Oauth => errors.extend(snowflake_unused_with_oauth(&c)),
            SnowflakeAuthenticator::Snowflake | SnowflakeAuthenticator::UsernamePasswordMfa => {
                errors.extend(snowflake_password_or_key_pair(&c));
            }
        }
        if c.client_secret.is_some() && c.oauth_client_id.is_none() {
            errors.push(ConfigError::at(
                &["client_secret"],
                "`client_secret` is set without `oauth_client_id`",
                "set `oauth_client_id` to the OAuth integration's client id, or remove `client_secret`",
            ));
        }
        if c.authenticator != SnowflakeAuthenticator::Externalbrowser {
            errors.extend(snowflake_missing_credentials(&c.login(sel.connection_secret)));
        }
        errors
    }
}

/// Keys that only the password and key-pair logins read.
fn snowflake_unused_with_oauth(c: &SnowflakeConfig) -> Vec<ConfigError> {
    unused_keys(
        &[
            ("auth", c.auth.is_some()),
            ("password", c.password.is_some()),
            ("private_key", c.private_key.is_some()),
            ("private_key_passphrase", c.private_key_passphrase.is_some()),
        ],
        "authenticator: oauth",
        "remove it: OAuth logs in with `token`",
    )
}

fn snowflake_password_or_key_pair(c: &SnowflakeConfig) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if c.password.is_some() && c.private_key.is_some() {
        errors.push(ConfigError::at(
            &["password"],
            "`password` and `private_key` are both set",
            "keep `private_key` for key-pair auth, or `password` for password auth",
        ));
    } else if c.password.is_some() && c.auth == Some(SnowflakeAuth::Keypair) {
        errors.push(ConfigError::at(
            &["password"],
            "`password` is set with `auth: keypair`",
            "remove `password`, or set `auth: password`",
        ));
    }
    if c.private_key.is_some() && c.auth == Some(SnowflakeAuth::Password) {
        errors.push(ConfigError::at(
            &["auth"],
            "`auth: password` contradicts `private_key`",
            "set `auth: keypair`, or remove `private_key`",
        ));
    }
    if c.authenticator == SnowflakeAuthenticator::UsernamePasswordMfa && c.uses_key_pair() {
        errors.push(ConfigError::at(
            &["authenticator"],
            "`username_password_mfa` logs in with a password, not a key pair",
            "use `authenticator: snowflake` for key-pair auth",
        ));
    }
    if c.private_key_passphrase.is_some() && !c.uses_key_pair() {
        errors.push(ConfigError::at(
            &["private_key_passphrase"],
            "`private_key_passphrase` is set without key-pair auth",
            "set `auth: keypair` or `private_key`, or remove the passphrase",
        ));
    }
    errors.extend(unused_keys(
        &[("token", c.token.is_some()), ("oauth_client_id", c.oauth_client_id.is_some())],
        &format!("authenticator: {}", c.authenticator.name()),
        "set `authenticator: oauth` to log in with a token, or remove it",
    ));
    errors
}

fn snowflake_missing_credentials(login: &SnowflakeLogin) -> Vec<ConfigError> {
    match login {
        SnowflakeLogin::Password(None) => vec![missing_credential("password")],
        SnowflakeLogin::KeyPair { key: None, .. } => vec![missing_credential("private_key")],
        SnowflakeLogin::OAuth { token, client } => {
            let mut errors = Vec::new();
            if token.is_none() {
                errors.push(missing_credential("token"));
            }
            if let Some((_, None)) = client {
                errors.push(missing_credential("client_secret"));
            }
            errors
        }
        SnowflakeLogin::Password(Some(_)) | SnowflakeLogin::KeyPair { key: Some(_), .. } => Vec::new(),
    }
}

impl Compute for Snowflake {
    fn adapter(&self) -> &'static str {
        "snowflake"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        _storage: Option<&StorageBinding>,
        _catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: SnowflakeConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "snowflake");
        insert(&mut out, "account", c.account.clone());
        insert(&mut out, "user", c.user.clone());
        insert_some(&mut out, "role", c.role.clone());
        insert(&mut out, "database", product.expand(&c.database));
        insert(&mut out, "warehouse", c.warehouse.clone());
        insert(&mut out, "schema", product_schema(c.schema.as_deref(), product));
        insert(&mut out, "threads", c.threads.unwrap_or(DEFAULT_REMOTE_THREADS));
        // The documented password and key-pair profiles leave the default authenticator out.
        if matches!(c.authenticator, SnowflakeAuthenticator::Oauth | SnowflakeAuthenticator::UsernamePasswordMfa) {
            insert(&mut out, "authenticator", c.authenticator.name());
        }
        match c.login(sel.connection_secret) {
            SnowflakeLogin::Password(password) => insert_some(&mut out, "password", password.map(|p| p.dbt())),
            SnowflakeLogin::KeyPair { key, passphrase } => {
                insert_some(&mut out, "private_key", key.map(|k| k.dbt()));
                insert_some(&mut out, "private_key_passphrase", passphrase.map(|p| p.dbt()));
            }
            SnowflakeLogin::OAuth { token, client } => {
                insert_some(&mut out, "token", token.map(|t| t.dbt()));
                if let Some((id, client_secret)) = client {
                    insert(&mut out, "oauth_client_id", id);
                    insert_some(&mut out, "oauth_client_secret", client_secret.map(|s| s.dbt()));
                }
            }
        }
        insert_some(&mut out, "client_session_keep_alive", c.client_session_keep_alive);
        insert_some(&mut out, "query_tag", c.query_tag.as_deref().map(|t| product.expand(t)));
        insert_some(&mut out, "connect_retries", c.connect_retries);
        insert_some(&mut out, "connect_timeout", c.connect_timeout);
        insert_some(&mut out, "retry_on_database_errors", c.retry_on_database_errors);
        insert_some(&mut out, "retry_all", c.retry_all);
        insert_some(&mut out, "reuse_connections", c.reuse_connections);
        out
    }

    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-snowflake>=1.9,<2".to_owned()]
    }

    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        remote_client(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: SnowflakeConfig = typed(sel);
        let mut properties = BTreeMap::from([
            ("account".to_owned(), c.account.clone()),
            ("user".to_owned(), c.user.clone()),
            ("database".to_owned(), product.expand(&c.database)),
            ("warehouse".to_owned(), c.warehouse.clone()),
            ("schema".to_owned(), product_schema(c.schema.as_deref(), product)),
        ]);
        if let Some(role) = &c.role {
            properties.insert("role".to_owned(), role.clone());
        }
        match c.login(sel.connection_secret) {
            SnowflakeLogin::Password(password) => insert_env(&mut properties, "password_env", password),
            SnowflakeLogin::KeyPair { key, passphrase } => {
                insert_env(&mut properties, "private_key_env", key);
                insert_env(&mut properties, "private_key_passphrase_env", passphrase);
            }
            SnowflakeLogin::OAuth { token, client } => {
                properties.insert("authenticator".to_owned(), "oauth".to_owned());
                insert_env(&mut properties, "token_env", token);
                if let Some((id, client_secret)) = client {
                    properties.insert("oauth_client_id".to_owned(), id);
                    insert_env(&mut properties, "client_secret_env", client_secret);
                }
            }
        }
        Some(Datasource { driver: "snowflake".to_owned(), properties })
    }
}

// ------------------------------------------------------------ Databricks

/// Databricks SQL warehouses and clusters, through dbt-databricks.
pub struct Databricks;

/// How dbt-databricks authenticates (`auth_type` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabricksAuth {
    /// A personal access token (connection secret key `token`).
    #[default]
    Token,
    /// OAuth machine-to-machine: a service principal's `client_id` and `client_secret`.
    Oauth,
}

/// Databricks compute (dbt-databricks), on a SQL warehouse or an all-purpose cluster.
///
/// Databricks reads storage through the workspace's own credentials (Unity
/// Catalog external locations), so a storage binding adds nothing to the profile.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "databricks compute config")]
pub struct DatabricksConfig {
    /// Workspace host name, without `https://` (`dbc-a1b2c3d4-e5f6.cloud.databricks.com`).
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$"))]
    pub host: String,
    /// HTTP path of the SQL warehouse or cluster (`/sql/1.0/warehouses/1a2b3c4d5e6f7a8b`).
    #[schemars(regex(pattern = r"^/\S+$"))]
    pub http_path: String,
    /// Unity Catalog catalog; default: the catalog binding's name when it is Unity Catalog.
    #[schemars(length(min = 1))]
    pub catalog: Option<String>,
    /// Schema models are built in; default `{product_slug}`.
    #[schemars(length(min = 1))]
    pub schema: Option<String>,
    /// Models dbt builds at once; default 4.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Personal access token; default: the connection secret's `token` key.
    pub token: Option<Credential>,
    /// `token` (default) or `oauth`.
    #[serde(default)]
    pub auth_type: DatabricksAuth,
    /// Application id of the service principal, with `auth_type: oauth`.
    #[schemars(length(min = 1))]
    pub client_id: Option<String>,
    /// OAuth secret of the service principal; default: the connection secret's `client_secret` key.
    pub client_secret: Option<Credential>,
    /// Retries after a failed connection (a cluster may still be starting).
    #[schemars(range(max = 100))]
    pub connect_retries: Option<u32>,
    /// Seconds before a connection attempt times out.
    #[schemars(range(min = 1, max = 3600))]
    pub connect_timeout: Option<u32>,
}

static DATABRICKS: Meta = Meta {
    name: "databricks",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Databricks SQL warehouses and clusters, through dbt-databricks",
    provides: &[cap("dbt-adapter", "databricks"), cap("sql-datasource", "databricks")],
    requires: &[
        if_selected(
            crate::Category::Storage,
            "cloud",
            &["aws", "gcp", "azure"],
            "Databricks workspaces read tables from S3, GCS or ADLS, not from self-hosted object storage",
        ),
        if_selected(
            crate::Category::Catalog,
            "iceberg-catalog",
            &["unity", "glue", "hive"],
            "Databricks governs tables in Unity Catalog or a Glue/Hive metastore",
        ),
    ],
};

impl DatabricksConfig {
    fn token(&self, secret: Option<&str>) -> Option<Credential> {
        Credential::or_secret(self.token.as_ref(), secret, "token")
    }

    fn client_secret(&self, secret: Option<&str>) -> Option<Credential> {
        Credential::or_secret(self.client_secret.as_ref(), secret, "client_secret")
    }

    /// The Unity Catalog catalog: configured, or the one the catalog binding names.
    fn catalog(&self, catalog: Option<&CatalogBinding>) -> Option<String> {
        let bound = catalog.filter(|c| c.kind == "unity").map(|c| c.name.clone());
        self.catalog.clone().or(bound)
    }
}

impl Plugin for Databricks {
    fn meta(&self) -> &'static Meta {
        &DATABRICKS
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DatabricksConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DatabricksConfig = typed(sel);
        let secret = sel.connection_secret;
        match c.auth_type {
            DatabricksAuth::Token => {
                let mut errors = unused_keys(
                    &[("client_id", c.client_id.is_some()), ("client_secret", c.client_secret.is_some())],
                    "auth_type: token",
                    "set `auth_type: oauth` to log in as a service principal, or remove it",
                );
                if c.token(secret).is_none() {
                    errors.push(missing_credential("token"));
                }
                errors
            }
            DatabricksAuth::Oauth => {
                let mut errors = unused_keys(
                    &[("token", c.token.is_some())],
                    "auth_type: oauth",
                    "remove it, or set `auth_type: token`",
                );
                if c.client_id.is_none() {
                    errors.push(ConfigError::at(
                        &["client_id"],
                        "`auth_type: oauth` needs `client_id`",
                        "set `client_id` to the service principal's application id",
                    ));
                }
                // Without a secret, dbt-databricks falls back to the browser (U2M) flow.
                if c.client_secret(secret).is_none() {
                    errors.push(missing_credential("client_secret"));
                }
                errors
            }
        }
    }
}

impl Compute for Databricks {
    fn adapter(&self) -> &'static str {
        "databricks"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        _storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: DatabricksConfig = typed(sel);
        let secret = sel.connection_secret;
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "databricks");
        insert(&mut out, "host", c.host.clone());
        insert(&mut out, "http_path", c.http_path.clone());
        insert_some(&mut out, "catalog", c.catalog(catalog));
        insert(&mut out, "schema", product_schema(c.schema.as_deref(), product));
        insert(&mut out, "threads", c.threads.unwrap_or(DEFAULT_REMOTE_THREADS));
        match c.auth_type {
            DatabricksAuth::Token => insert_some(&mut out, "token", c.token(secret).map(|t| t.dbt())),
            DatabricksAuth::Oauth => {
                insert(&mut out, "auth_type", "oauth");
                insert_some(&mut out, "client_id", c.client_id.clone());
                insert_some(&mut out, "client_secret", c.client_secret(secret).map(|s| s.dbt()));
            }
        }
        insert_some(&mut out, "connect_retries", c.connect_retries);
        insert_some(&mut out, "connect_timeout", c.connect_timeout);
        out
    }

    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-databricks>=1.9,<2".to_owned()]
    }

    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        remote_client(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: DatabricksConfig = typed(sel);
        let secret = sel.connection_secret;
        let mut properties = BTreeMap::from([
            ("host".to_owned(), c.host.clone()),
            ("port".to_owned(), "443".to_owned()),
            ("http_path".to_owned(), c.http_path.clone()),
            ("schema".to_owned(), product_schema(c.schema.as_deref(), product)),
        ]);
        if let Some(catalog) = &c.catalog {
            properties.insert("catalog".to_owned(), catalog.clone());
        }
        match c.auth_type {
            DatabricksAuth::Token => insert_env(&mut properties, "token_env", c.token(secret)),
            DatabricksAuth::Oauth => {
                if let Some(id) = &c.client_id {
                    properties.insert("client_id".to_owned(), id.clone());
                }
                insert_env(&mut properties, "client_secret_env", c.client_secret(secret));
            }
        }
        Some(Datasource { driver: "databricks-jdbc".to_owned(), properties })
    }
}

// -------------------------------------------------------------- BigQuery

/// Google BigQuery, through dbt-bigquery.
pub struct BigQuery;

/// How dbt-bigquery finds its Google credentials (`method` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BigQueryMethod {
    /// Application Default Credentials: the job's Workload Identity on GKE.
    #[default]
    Oauth,
    /// A service account key file at `keyfile`, mounted into the job from a Secret.
    ServiceAccount,
    /// The key file's JSON from `credentials`, read from the environment at run time.
    ServiceAccountJson,
}

/// BigQuery job priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BigQueryPriority {
    /// Run as soon as possible (the default).
    Interactive,
    /// Queue until idle slots are free.
    Batch,
}

/// BigQuery compute (dbt-bigquery).
///
/// Prefer `oauth` with Workload Identity, then `service-account` with the key
/// file mounted from a Secret: neither puts key material in the environment.
/// `service-account-json` reads the whole key file's JSON from one secret key
/// and turns it into the profile's `keyfile_json` mapping with dbt's
/// `as_native` filter, because the mapping itself cannot hold a reference.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "bigquery compute config")]
pub struct BigQueryConfig {
    /// Google Cloud project models are built in.
    #[schemars(regex(pattern = r"^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$"))]
    pub project: String,
    /// Dataset models are built in; default `{product_slug}`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_{}]{1,1024}$"))]
    pub dataset: Option<String>,
    /// Location of the datasets dbt creates (`US`, `EU`, `europe-west1`); default: the GCS bucket's region.
    #[schemars(length(min = 1))]
    pub location: Option<String>,
    /// Credentials: `oauth` (default), `service-account` or `service-account-json`.
    #[serde(default)]
    pub method: BigQueryMethod,
    /// Absolute path of the service account key file in the job container, with `service-account`.
    #[schemars(regex(pattern = r"^/\S*$"))]
    pub keyfile: Option<String>,
    /// The service account key file's JSON, with `service-account-json`; default: the connection secret's `credentials` key.
    pub credentials: Option<Credential>,
    /// Models dbt builds at once; default 4.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Seconds dbt waits for a query job to finish.
    #[schemars(range(min = 1))]
    pub job_execution_timeout_seconds: Option<u32>,
    /// Retries of a failed query job.
    #[schemars(range(max = 100))]
    pub job_retries: Option<u32>,
    /// Query priority; `batch` waits for idle slots.
    pub priority: Option<BigQueryPriority>,
    /// Fail queries that would bill more bytes than this.
    #[schemars(range(min = 1))]
    pub maximum_bytes_billed: Option<u64>,
    /// Service account to impersonate after authenticating.
    #[schemars(regex(pattern = r"^[^@\s]+@[^@\s]+\.gserviceaccount\.com$"))]
    pub impersonate_service_account: Option<String>,
}

static BIGQUERY: Meta = Meta {
    name: "bigquery",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Google BigQuery, through dbt-bigquery",
    provides: &[cap("dbt-adapter", "bigquery"), cap("sql-datasource", "bigquery")],
    requires: &[
        if_selected(
            crate::Category::Storage,
            "object-store",
            &["gcs"],
            "BigQuery reads Iceberg tables from Google Cloud Storage (BigLake)",
        ),
        if_selected(
            crate::Category::Catalog,
            "iceberg-catalog",
            &["rest"],
            "BigQuery reads Iceberg through a REST catalog (BigLake metastore)",
        ),
    ],
};

impl BigQueryConfig {
    /// The key file's JSON, with `service-account-json`.
    fn key_json(&self, secret: Option<&str>) -> Option<Credential> {
        match self.method {
            BigQueryMethod::ServiceAccountJson => {
                Credential::or_secret(self.credentials.as_ref(), secret, "credentials")
            }
            _ => None,
        }
    }

    /// BigLake tables need the dataset where their bucket is, so the bucket's
    /// region is the default location.
    fn location(&self, storage: Option<&StorageBinding>) -> Option<String> {
        let bucket_region = storage.filter(|s| s.scheme == "gs").and_then(|s| s.region.clone());
        self.location.clone().or(bucket_region)
    }
}

/// `keyfile_json` for dbt: the environment variable's JSON, parsed into a mapping at run time.
fn keyfile_json(credentials: &Credential) -> Option<String> {
    credentials.env_var().map(|var| format!("{{{{ env_var('{var}') | as_native }}}}"))
}

impl Plugin for BigQuery {
    fn meta(&self) -> &'static Meta {
        &BIGQUERY
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<BigQueryConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: BigQueryConfig = typed(sel);
        let keyfile = ("keyfile", c.keyfile.is_some());
        let credentials = ("credentials", c.credentials.is_some());
        match c.method {
            BigQueryMethod::Oauth => unused_keys(
                &[keyfile, credentials],
                "method: oauth",
                "remove it: `oauth` uses the job's Workload Identity; or choose a `service-account` method",
            ),
            BigQueryMethod::ServiceAccount => {
                let mut errors = unused_keys(
                    &[credentials],
                    "method: service-account",
                    "remove it: the key is read from `keyfile`; or set `method: service-account-json`",
                );
                if c.keyfile.is_none() {
                    errors.push(ConfigError::at(
                        &["keyfile"],
                        "`method: service-account` needs `keyfile`",
                        "set `keyfile` to where the job mounts the key file Secret (`/var/run/secrets/bigquery/key.json`)",
                    ));
                }
                errors
            }
            BigQueryMethod::ServiceAccountJson => {
                let mut errors = unused_keys(
                    &[keyfile],
                    "method: service-account-json",
                    "remove it, or set `method: service-account` to read the key from `keyfile`",
                );
                match c.key_json(sel.connection_secret) {
                    None => errors.push(missing_credential("credentials")),
                    Some(key) if keyfile_json(&key).is_none() => errors.push(ConfigError::at(
                        &["credentials"],
                        "`credentials` is a template dbt cannot parse into a key file mapping",
                        "use a secret reference, or `${VAR}` naming one environment variable",
                    )),
                    Some(_) => {}
                }
                errors
            }
        }
    }
}

impl Compute for BigQuery {
    fn adapter(&self) -> &'static str {
        "bigquery"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        storage: Option<&StorageBinding>,
        _catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: BigQueryConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "bigquery");
        let method = match c.method {
            BigQueryMethod::Oauth => "oauth",
            BigQueryMethod::ServiceAccount => "service-account",
            BigQueryMethod::ServiceAccountJson => "service-account-json",
        };
        insert(&mut out, "method", method);
        insert(&mut out, "project", c.project.clone());
        insert(&mut out, "dataset", product_schema(c.dataset.as_deref(), product));
        insert(&mut out, "threads", c.threads.unwrap_or(DEFAULT_REMOTE_THREADS));
        insert_some(&mut out, "location", c.location(storage));
        if c.method == BigQueryMethod::ServiceAccount {
            insert_some(&mut out, "keyfile", c.keyfile.clone());
        }
        insert_some(&mut out, "keyfile_json", c.key_json(sel.connection_secret).as_ref().and_then(keyfile_json));
        insert_some(&mut out, "job_execution_timeout_seconds", c.job_execution_timeout_seconds);
        insert_some(&mut out, "job_retries", c.job_retries);
        let priority = c.priority.map(|p| match p {
            BigQueryPriority::Interactive => "interactive",
            BigQueryPriority::Batch => "batch",
        });
        insert_some(&mut out, "priority", priority);
        insert_some(&mut out, "maximum_bytes_billed", c.maximum_bytes_billed);
        insert_some(&mut out, "impersonate_service_account", c.impersonate_service_account.clone());
        out
    }

    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-bigquery>=1.9,<2".to_owned()]
    }

    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        remote_client(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: BigQueryConfig = typed(sel);
        let mut properties = BTreeMap::from([
            ("project".to_owned(), c.project.clone()),
            ("dataset".to_owned(), product_schema(c.dataset.as_deref(), product)),
        ]);
        if let Some(location) = &c.location {
            properties.insert("location".to_owned(), location.clone());
        }
        if let (BigQueryMethod::ServiceAccount, Some(keyfile)) = (c.method, &c.keyfile) {
            properties.insert("keyfile".to_owned(), keyfile.clone());
        }
        insert_env(&mut properties, "credentials_env", c.key_json(sel.connection_secret));
        Some(Datasource { driver: "bigquery".to_owned(), properties })
    }
}

// ----------------------------------------------------------------- Spark

/// Apache Spark, through dbt-spark.
pub struct Spark;

/// How dbt-spark reaches Spark (`method` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SparkMethod {
    /// A Spark Thrift Server (HiveServer2 protocol), on Kubernetes or EMR.
    Thrift,
    /// A Databricks all-purpose cluster over HTTP.
    Http,
    /// A Databricks cluster or SQL endpoint through the Databricks ODBC driver.
    Odbc,
    /// PySpark inside the job's own container: the default, as it needs no server.
    #[default]
    Session,
}

/// Apache Spark compute (dbt-spark).
///
/// A catalog binding becomes an Iceberg `SparkCatalog` in
/// `server_side_parameters`, and the product's default catalog. With
/// `session`, Spark runs in the job, so the storage binding also becomes its
/// Hadoop file system settings; a remote server reads storage with its own.
/// The Spark image must ship the Iceberg runtime and the file system jars.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "spark compute config")]
pub struct SparkConfig {
    /// `session` (default), `thrift`, `http` or `odbc`.
    #[serde(default)]
    pub method: SparkMethod,
    /// Host name of the Thrift server or the workspace, without a scheme; not used by `session`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$"))]
    pub host: Option<String>,
    /// Port; default 10000 (the Spark Thrift Server's) for `thrift`, 443 for `http` and `odbc`.
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Cluster id, with `http` (required) or `odbc`.
    #[schemars(length(min = 1))]
    pub cluster: Option<String>,
    /// SQL endpoint id, with `odbc` instead of `cluster`.
    #[schemars(length(min = 1))]
    pub endpoint: Option<String>,
    /// Workspace organization id (Azure Databricks), with `http` or `odbc`.
    #[schemars(regex(pattern = r"^[0-9]+$"))]
    pub organization: Option<String>,
    /// ODBC driver name or path, with `odbc`.
    #[schemars(length(min = 1))]
    pub driver: Option<String>,
    /// Schema (database) models are built in; default `{product_slug}`.
    #[schemars(length(min = 1))]
    pub schema: Option<String>,
    /// Models dbt builds at once; default 4.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u32>,
    /// Personal access token, with `http` and `odbc`; default: the connection secret's `token` key.
    pub token: Option<Credential>,
    /// User to connect as, with `thrift`.
    #[schemars(length(min = 1))]
    pub user: Option<String>,
    /// Spark settings for dbt's session (`spark.sql.shuffle.partitions: "200"`); they override floe's.
    #[serde(default)]
    pub server_side_parameters: BTreeMap<String, String>,
    /// Retries after a failed connection (a cluster may still be starting).
    #[schemars(range(max = 100))]
    pub connect_retries: Option<u32>,
    /// Seconds between connection retries.
    #[schemars(range(min = 1, max = 3600))]
    pub connect_timeout: Option<u32>,
}

static SPARK: Meta = Meta {
    name: "spark",
    category: crate::Category::Compute,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Apache Spark with Iceberg, through dbt-spark",
    provides: &[cap("dbt-adapter", "spark"), cap("sql-datasource", "spark")],
    requires: &[],
};

impl SparkConfig {
    fn port(&self) -> u16 {
        let default = match self.method {
            SparkMethod::Thrift => 10000,
            _ => 443,
        };
        self.port.unwrap_or(default)
    }

    /// The personal access token, for the methods that send one.
    fn token(&self, secret: Option<&str>) -> Option<Credential> {
        match self.method {
            SparkMethod::Http | SparkMethod::Odbc => Credential::or_secret(self.token.as_ref(), secret, "token"),
            SparkMethod::Thrift | SparkMethod::Session => None,
        }
    }

    /// The cluster's or endpoint's HTTP path, as dbt-spark builds it.
    fn http_path(&self) -> Option<String> {
        let organization = self.organization.as_deref().unwrap_or("0");
        match (&self.cluster, &self.endpoint) {
            (Some(cluster), _) => Some(format!("/sql/protocolv1/o/{organization}/{cluster}")),
            (None, Some(endpoint)) => Some(format!("/sql/1.0/endpoints/{endpoint}")),
            (None, None) => None,
        }
    }
}

impl Plugin for Spark {
    fn meta(&self) -> &'static Meta {
        &SPARK
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<SparkConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: SparkConfig = typed(sel);
        match c.method {
            SparkMethod::Thrift => spark_thrift_problems(&c),
            SparkMethod::Http => spark_http_problems(&c, sel.connection_secret),
            SparkMethod::Odbc => spark_odbc_problems(&c, sel.connection_secret),
            SparkMethod::Session => unused_keys(
                &[
                    ("host", c.host.is_some()),
                    ("port", c.port.is_some()),
                    ("cluster", c.cluster.is_some()),
                    ("endpoint", c.endpoint.is_some()),
                    ("organization", c.organization.is_some()),
                    ("driver", c.driver.is_some()),
                    ("token", c.token.is_some()),
                    ("user", c.user.is_some()),
                ],
                "method: session",
                "remove it: `session` runs Spark inside the job",
            ),
        }
    }
}

fn spark_thrift_problems(c: &SparkConfig) -> Vec<ConfigError> {
    let mut errors = unused_keys(
        &[
            ("cluster", c.cluster.is_some()),
            ("endpoint", c.endpoint.is_some()),
            ("organization", c.organization.is_some()),
            ("driver", c.driver.is_some()),
            ("token", c.token.is_some()),
        ],
        "method: thrift",
        "remove it: a Thrift server takes a `user`",
    );
    if c.host.is_none() {
        errors.push(required_key("host", "method: thrift", "set `host` to the Spark Thrift Server's host name"));
    }
    errors
}

fn spark_http_problems(c: &SparkConfig, secret: Option<&str>) -> Vec<ConfigError> {
    let mut errors = unused_keys(
        &[("endpoint", c.endpoint.is_some()), ("driver", c.driver.is_some()), ("user", c.user.is_some())],
        "method: http",
        "remove it: `http` connects to a cluster with a token",
    );
    if c.host.is_none() {
        errors.push(required_key("host", "method: http", "set `host` to the workspace host name"));
    }
    if c.cluster.is_none() {
        errors.push(required_key("cluster", "method: http", "set `cluster` to the all-purpose cluster's id"));
    }
    if c.token(secret).is_none() {
        errors.push(missing_credential("token"));
    }
    errors
}

fn spark_odbc_problems(c: &SparkConfig, secret: Option<&str>) -> Vec<ConfigError> {
    let mut errors =
        unused_keys(&[("user", c.user.is_some())], "method: odbc", "remove it: `odbc` connects with a token");
    if c.host.is_none() {
        errors.push(required_key("host", "method: odbc", "set `host` to the workspace host name"));
    }
    if c.driver.is_none() {
        errors.push(required_key("driver", "method: odbc", "set `driver` to the Databricks ODBC driver's path"));
    }
    match (&c.cluster, &c.endpoint) {
        (Some(_), Some(_)) => errors.push(ConfigError::at(
            &["endpoint"],
            "`cluster` and `endpoint` are both set",
            "keep `cluster` for an all-purpose cluster, or `endpoint` for a SQL endpoint",
        )),
        (None, None) => errors.push(ConfigError::at(
            &["cluster"],
            "`method: odbc` needs `cluster` or `endpoint`",
            "set `cluster` to a cluster id, or `endpoint` to a SQL endpoint id",
        )),
        _ => {}
    }
    if c.token(secret).is_none() {
        errors.push(missing_credential("token"));
    }
    errors
}

impl Compute for Spark {
    fn adapter(&self) -> &'static str {
        "spark"
    }

    fn dbt_profile(
        &self,
        sel: &Selected<'_>,
        product: &ProductContext<'_>,
        storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> BTreeMap<String, Value> {
        let c: SparkConfig = typed(sel);
        let mut out = BTreeMap::new();
        insert(&mut out, "type", "spark");
        let method = match c.method {
            SparkMethod::Thrift => "thrift",
            SparkMethod::Http => "http",
            SparkMethod::Odbc => "odbc",
            SparkMethod::Session => "session",
        };
        insert(&mut out, "method", method);
        insert(&mut out, "schema", product_schema(c.schema.as_deref(), product));
        insert(&mut out, "threads", c.threads.unwrap_or(DEFAULT_REMOTE_THREADS));
        if c.method == SparkMethod::Session {
            // Not used by a session, but dbt-spark refuses a profile without it.
            insert(&mut out, "host", "NA");
        } else {
            insert_some(&mut out, "host", c.host.clone());
            insert(&mut out, "port", c.port());
        }
        insert_some(&mut out, "user", c.user.clone());
        insert_some(&mut out, "token", c.token(sel.connection_secret).map(|t| t.dbt()));
        insert_some(&mut out, "cluster", c.cluster.clone());
        insert_some(&mut out, "endpoint", c.endpoint.clone());
        insert_some(&mut out, "organization", c.organization.clone());
        insert_some(&mut out, "driver", c.driver.clone());
        insert_some(&mut out, "connect_retries", c.connect_retries);
        insert_some(&mut out, "connect_timeout", c.connect_timeout);
        let parameters = spark_parameters(&c, storage, catalog);
        if !parameters.is_empty() {
            insert(
                &mut out,
                "server_side_parameters",
                Value::Object(parameters.into_iter().map(|(k, v)| (k, v.into())).collect()),
            );
        }
        out
    }

    /// The PyHive extra serves `thrift` and `http`, `session` serves itself;
    /// `odbc` needs the Databricks ODBC driver, which only the job image can
    /// provide, along with pyodbc.
    fn required_dbt_packages(&self) -> Vec<String> {
        vec!["dbt-spark[PyHive,session]>=1.9,<2".to_owned()]
    }

    /// Sized for `session`, the method that runs Spark in the job.
    fn resource_requirements(&self, size: WorkloadSize) -> Resources {
        local_spark(size)
    }

    fn datasource(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> Option<Datasource> {
        let c: SparkConfig = typed(sel);
        let mut properties = BTreeMap::from([
            ("host".to_owned(), c.host.clone().unwrap_or_default()),
            ("port".to_owned(), c.port().to_string()),
            ("schema".to_owned(), product_schema(c.schema.as_deref(), product)),
        ]);
        let driver = match c.method {
            // A session lives only as long as its job: there is nothing to connect to.
            SparkMethod::Session => return None,
            // The Spark Thrift Server speaks HiveServer2.
            SparkMethod::Thrift => {
                if let Some(user) = &c.user {
                    properties.insert("user".to_owned(), user.clone());
                }
                "hive"
            }
            SparkMethod::Http | SparkMethod::Odbc => {
                if let Some(path) = c.http_path() {
                    properties.insert("http_path".to_owned(), path);
                }
                insert_env(&mut properties, "token_env", c.token(sel.connection_secret));
                "databricks-jdbc"
            }
        };
        Some(Datasource { driver: driver.to_owned(), properties })
    }
}

/// `server_side_parameters`: floe's storage and catalog settings, then the configured ones.
fn spark_parameters(
    c: &SparkConfig,
    storage: Option<&StorageBinding>,
    catalog: Option<&CatalogBinding>,
) -> BTreeMap<String, String> {
    let in_job = c.method == SparkMethod::Session;
    let mut parameters = BTreeMap::new();
    if let Some(s) = storage.filter(|_| in_job) {
        parameters.extend(hadoop_storage(s));
    }
    if let Some(cat) = catalog {
        parameters.extend(iceberg_catalog(cat, storage, in_job));
    }
    parameters.extend(c.server_side_parameters.clone());
    parameters
}

/// An Iceberg `SparkCatalog` for the binding, made the default catalog.
fn iceberg_catalog(cat: &CatalogBinding, storage: Option<&StorageBinding>, in_job: bool) -> BTreeMap<String, String> {
    let name = cat.name.replace('-', "_");
    let prefix = format!("spark.sql.catalog.{name}");
    let mut p = BTreeMap::new();
    let mut set = |key: &str, value: String| p.insert(format!("{prefix}.{key}"), value);
    match cat.kind.as_str() {
        "glue" => {
            set("catalog-impl", "org.apache.iceberg.aws.glue.GlueCatalog".to_owned());
            set("io-impl", "org.apache.iceberg.aws.s3.S3FileIO".to_owned());
            if let Some(region) = &cat.region {
                set("client.region", region.clone());
            }
        }
        "hive" => {
            set("type", "hive".to_owned());
        }
        // Unity Catalog serves Iceberg through its REST endpoint.
        _ => {
            set("type", "rest".to_owned());
            if let Some(secret) = &cat.credentials_secret {
                for (key, value) in rest_credentials(cat, secret) {
                    set(key, value);
                }
            }
        }
    }
    if let Some(uri) = &cat.uri {
        set("uri", uri.clone());
    }
    set("warehouse", cat.warehouse.clone());
    // S3FileIO reads its endpoint from the catalog, not from Hadoop.
    if let Some(s) = storage.filter(|s| s.scheme == "s3")
        && let Some(endpoint) = &s.endpoint
    {
        set("s3.endpoint", endpoint.clone());
        if s.path_style_access {
            set("s3.path-style-access", "true".to_owned());
        }
    }
    p.insert(prefix, "org.apache.iceberg.spark.SparkCatalog".to_owned());
    p.insert("spark.sql.defaultCatalog".to_owned(), name);
    // Static: only a session Spark starts for dbt can take it.
    if in_job {
        p.insert(
            "spark.sql.extensions".to_owned(),
            "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions".to_owned(),
        );
    }
    p
}

/// Iceberg REST OAuth2 settings: a client credential when the binding names
/// a client, else a bearer token; dbt fills the secret in from the environment.
fn rest_credentials(cat: &CatalogBinding, secret: &str) -> Vec<(&'static str, String)> {
    let Some(client_id) = cat.properties.get("client_id") else {
        return vec![("token", Credential::from_secret(secret, "token").dbt())];
    };
    let client_secret = Credential::from_secret(secret, "client_secret").dbt();
    let mut out = vec![("credential", format!("{client_id}:{client_secret}"))];
    if let Some(url) = cat.properties.get("token_url") {
        out.push(("oauth2-server-uri", url.clone()));
    }
    if let Some(scope) = cat.properties.get("scope") {
        out.push(("scope", scope.clone()));
    }
    out
}

/// Hadoop file system settings for the platform's storage, for Spark in the job.
fn hadoop_storage(s: &StorageBinding) -> BTreeMap<String, String> {
    match s.scheme.as_str() {
        "s3" => hadoop_s3a(s),
        "gs" => hadoop_gcs(s),
        "abfss" => hadoop_abfs(s),
        _ => BTreeMap::new(),
    }
}

fn hadoop_s3a(s: &StorageBinding) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    // Table locations say `s3://`; S3A serves them.
    p.insert("spark.hadoop.fs.s3.impl".to_owned(), "org.apache.hadoop.fs.s3a.S3AFileSystem".to_owned());
    if s.path_style_access {
        p.insert("spark.hadoop.fs.s3a.path.style.access".to_owned(), "true".to_owned());
    }
    if let Some(endpoint) = &s.endpoint {
        p.insert("spark.hadoop.fs.s3a.endpoint".to_owned(), endpoint.clone());
    }
    if let Some(region) = &s.region {
        p.insert("spark.hadoop.fs.s3a.endpoint.region".to_owned(), region.clone());
    }
    // Without a secret, S3A's default provider chain finds the workload's identity.
    if let Some(secret) = &s.credentials_secret {
        p.insert(
            "spark.hadoop.fs.s3a.aws.credentials.provider".to_owned(),
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider".to_owned(),
        );
        p.insert("spark.hadoop.fs.s3a.access.key".to_owned(), Credential::from_secret(secret, "access_key_id").dbt());
        p.insert(
            "spark.hadoop.fs.s3a.secret.key".to_owned(),
            Credential::from_secret(secret, "secret_access_key").dbt(),
        );
    }
    p
}

fn hadoop_gcs(s: &StorageBinding) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([
        ("spark.hadoop.fs.gs.impl".to_owned(), "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem".to_owned()),
        (
            "spark.hadoop.fs.AbstractFileSystem.gs.impl".to_owned(),
            "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS".to_owned(),
        ),
    ]);
    if let Some(endpoint) = &s.endpoint {
        p.insert("spark.hadoop.fs.gs.storage.root.url".to_owned(), endpoint.clone());
    }
    p
}

/// ABFS with Azure Workload Identity: the AKS webhook puts the identity in
/// `AZURE_*` variables, which dbt reads when it renders the profile. ABFS
/// takes no connection string, so a storage secret is left to the image's
/// Hadoop configuration.
fn hadoop_abfs(s: &StorageBinding) -> BTreeMap<String, String> {
    let (Some(account), None) = (&s.account, &s.credentials_secret) else {
        return BTreeMap::new();
    };
    let host = format!("{account}.dfs.core.windows.net");
    let from_env = |var: &str| format!("{{{{ env_var('{var}', '') }}}}");
    BTreeMap::from([
        (format!("spark.hadoop.fs.azure.account.auth.type.{host}"), "OAuth".to_owned()),
        (
            format!("spark.hadoop.fs.azure.account.oauth.provider.type.{host}"),
            "org.apache.hadoop.fs.azurebfs.oauth2.WorkloadIdentityTokenProvider".to_owned(),
        ),
        (format!("spark.hadoop.fs.azure.account.oauth2.msi.tenant.{host}"), from_env("AZURE_TENANT_ID")),
        (format!("spark.hadoop.fs.azure.account.oauth2.client.id.{host}"), from_env("AZURE_CLIENT_ID")),
        (format!("spark.hadoop.fs.azure.account.oauth2.token.file.{host}"), from_env("AZURE_FEDERATED_TOKEN_FILE")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn with_secret<'a>(v: &'a Value, secret: &'a str) -> Selected<'a> {
        Selected::new(Some(v), Some(secret))
    }

    fn product() -> ProductContext<'static> {
        ProductContext::new("customer-360")
    }

    fn storage(plugin: &str, scheme: &str) -> StorageBinding {
        StorageBinding {
            plugin: plugin.into(),
            scheme: scheme.into(),
            bucket: "lake".into(),
            account: None,
            prefix: "floe".into(),
            region: None,
            endpoint: None,
            path_style_access: false,
            credentials_secret: None,
        }
    }

    fn minio() -> StorageBinding {
        StorageBinding {
            endpoint: Some("http://minio.storage:9000".into()),
            path_style_access: true,
            credentials_secret: Some("minio-creds".into()),
            ..storage("minio", "s3")
        }
    }

    fn aws_s3() -> StorageBinding {
        StorageBinding { region: Some("eu-west-1".into()), ..storage("s3", "s3") }
    }

    fn gcs() -> StorageBinding {
        StorageBinding { region: Some("europe-west1".into()), ..storage("gcs", "gs") }
    }

    fn azure() -> StorageBinding {
        StorageBinding { account: Some("floelake".into()), ..storage("azure-blob", "abfss") }
    }

    fn catalog(kind: &str, name: &str, uri: Option<&str>, warehouse: &str) -> CatalogBinding {
        CatalogBinding {
            plugin: kind.into(),
            kind: kind.into(),
            name: name.into(),
            uri: uri.map(Into::into),
            warehouse: warehouse.into(),
            region: None,
            credentials_secret: None,
            properties: BTreeMap::new(),
        }
    }

    fn polaris() -> CatalogBinding {
        CatalogBinding {
            plugin: "polaris".into(),
            credentials_secret: Some("polaris-creds".into()),
            properties: BTreeMap::from([
                ("client_id".to_owned(), "floe-engine".to_owned()),
                ("token_url".to_owned(), "http://polaris.catalog:8181/api/catalog/v1/oauth/tokens".to_owned()),
                ("scope".to_owned(), "PRINCIPAL_ROLE:ALL".to_owned()),
            ]),
            ..catalog("rest", "floe-lake", Some("http://polaris.catalog:8181/api/catalog"), "floe_lake")
        }
    }

    fn glue() -> CatalogBinding {
        CatalogBinding {
            plugin: "glue".into(),
            region: Some("eu-west-1".into()),
            ..catalog("glue", "glue", None, "s3://lake/floe")
        }
    }

    fn unity() -> CatalogBinding {
        CatalogBinding {
            plugin: "unity".into(),
            ..catalog(
                "unity",
                "main",
                Some("https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/api/2.1/unity-catalog/iceberg"),
                "main",
            )
        }
    }

    /// What a compute plugin hands the rest of floe, for a snapshot.
    fn outputs(
        plugin: &dyn Compute,
        sel: &Selected<'_>,
        storage: Option<&StorageBinding>,
        catalog: Option<&CatalogBinding>,
    ) -> Value {
        let errors = crate::validate(plugin, sel);
        assert!(errors.is_empty(), "{}: {errors:#?}", plugin.meta().name);
        json!({
            "profile": plugin.dbt_profile(sel, &product(), storage, catalog),
            "packages": plugin.required_dbt_packages(),
            "datasource": plugin.datasource(sel, &product()),
        })
    }

    /// `path | message | help` of each problem, for assertions.
    fn problems(plugin: &dyn Compute, sel: &Selected<'_>) -> Vec<String> {
        crate::validate(plugin, sel)
            .iter()
            .map(|e| format!("{} | {} | {}", e.path.join("."), e.message, e.help.as_deref().unwrap_or("")))
            .collect()
    }

    fn has(problems: &[String], path: &str, text: &str) -> bool {
        problems.iter().any(|p| p.starts_with(&format!("{path} | ")) && p.contains(text))
    }

    #[test]
    fn profile_output_matches_the_python_implementation() {
        let c = json!({"path": "/tmp/floe/{product_slug}.duckdb", "threads": 4, "memory_limit": "2GB"});
        let out = DuckDb.dbt_profile(&sel(&c), &ProductContext::new("customer-360"), None, None);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"path":"/tmp/floe/customer_360.duckdb","settings":{"memory_limit":"2GB"},"threads":4,"timeout_seconds":3600,"type":"duckdb"}"#
        );
    }

    #[test]
    fn invalid_config_is_reported_per_key() {
        let c = json!({"threads": 0, "path": "", "timeout_seconds": "soon", "memory_limt": "1GB"});
        let errors = crate::validate(&DuckDb, &sel(&c));
        let keys: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
        assert_eq!(keys, ["memory_limt", "path", "threads", "timeout_seconds"]);
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `memory_limit`?"));
    }

    // ------------------------------------------------------------- Snowflake

    fn snowflake_config() -> Value {
        json!({
            "account": "myorg-analytics",
            "user": "FLOE_SVC",
            "role": "TRANSFORMER",
            "database": "ANALYTICS",
            "warehouse": "TRANSFORMING",
            "threads": 8,
            "auth": "keypair",
            "query_tag": "floe:{product_name}",
            "connect_retries": 3,
            "client_session_keep_alive": false
        })
    }

    #[test]
    fn snowflake_key_pair_profile() {
        let c = snowflake_config();
        insta::assert_json_snapshot!(
            "snowflake_key_pair",
            outputs(&Snowflake, &with_secret(&c, "snowflake-creds"), None, None)
        );
    }

    #[test]
    fn snowflake_adds_nothing_for_bindings() {
        let c = json!({
            "account": "myorg-analytics", "user": "FLOE_SVC", "database": "ANALYTICS", "warehouse": "TRANSFORMING",
            "schema": "{product_slug}_marts",
            "password": {"secret_ref": {"source": "kubernetes", "name": "snowflake-creds", "key": "password"}}
        });
        let s = sel(&c);
        let bare = Snowflake.dbt_profile(&s, &product(), None, None);
        let bound = Snowflake.dbt_profile(&s, &product(), Some(&aws_s3()), Some(&polaris()));
        assert_eq!(bare, bound);
        insta::assert_json_snapshot!(
            "snowflake_password_with_bindings",
            outputs(&Snowflake, &s, Some(&aws_s3()), Some(&polaris()))
        );
    }

    #[test]
    fn snowflake_oauth_refreshes_with_the_client() {
        let c = json!({
            "account": "myorg-analytics", "user": "FLOE_SVC", "database": "ANALYTICS", "warehouse": "TRANSFORMING",
            "authenticator": "oauth", "oauth_client_id": "floe-dbt"
        });
        let s = with_secret(&c, "snowflake-oauth");
        assert!(problems(&Snowflake, &s).is_empty());
        let out = Snowflake.dbt_profile(&s, &product(), None, None);
        assert_eq!(out["authenticator"], "oauth");
        assert_eq!(out["token"], "{{ env_var('FLOE_SECRET_SNOWFLAKE_OAUTH_TOKEN') }}");
        assert_eq!(out["oauth_client_id"], "floe-dbt");
        assert_eq!(out["oauth_client_secret"], "{{ env_var('FLOE_SECRET_SNOWFLAKE_OAUTH_CLIENT_SECRET') }}");
        assert!(!out.contains_key("password") && !out.contains_key("private_key"));
    }

    #[test]
    fn snowflake_config_problems() {
        let mut c = snowflake_config();
        c["account"] = json!("myorg-analytics.snowflakecomputing.com");
        c["warehous"] = json!("X");
        c["threads"] = json!(0);
        c["authenticator"] = json!("externalbrowser");
        let found = problems(&Snowflake, &with_secret(&c, "s"));
        assert!(has(&found, "warehous", "did you mean `warehouse`?"), "{found:#?}");
        assert!(has(&found, "threads", "`threads`"), "{found:#?}");

        c.as_object_mut().unwrap().remove("warehous");
        c["threads"] = json!(2);
        let found = problems(&Snowflake, &with_secret(&c, "s"));
        assert!(has(&found, "account", "host name"), "{found:#?}");
        assert!(has(&found, "authenticator", "opens a browser"), "{found:#?}");

        let secret = json!({"secret_ref": {"source": "kubernetes", "name": "sf", "key": "k"}});
        let both = json!({
            "account": "a", "user": "u", "database": "d", "warehouse": "w",
            "password": secret, "private_key": secret
        });
        let found = problems(&Snowflake, &sel(&both));
        assert!(has(&found, "password", "`password` and `private_key` are both set"), "{found:#?}");

        let oauth = json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "authenticator": "oauth", "password": secret});
        let found = problems(&Snowflake, &with_secret(&oauth, "s"));
        assert!(has(&found, "password", "not used with `authenticator: oauth`"), "{found:#?}");

        let nothing = json!({"account": "a", "user": "u", "database": "d", "warehouse": "w"});
        let found = problems(&Snowflake, &sel(&nothing));
        assert!(has(&found, "password", "connection_secret_ref"), "{found:#?}");

        let stray = json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "private_key_passphrase": secret, "client_secret": secret});
        let found = problems(&Snowflake, &with_secret(&stray, "s"));
        assert!(has(&found, "private_key_passphrase", "without key-pair auth"), "{found:#?}");
        assert!(has(&found, "client_secret", "without `oauth_client_id`"), "{found:#?}");

        let mfa = json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "authenticator": "username_password_mfa", "token": secret});
        let found = problems(&Snowflake, &with_secret(&mfa, "s"));
        assert!(has(&found, "token", "not used with `authenticator: username_password_mfa`"), "{found:#?}");
    }

    // ------------------------------------------------------------ Databricks

    fn databricks_config() -> Value {
        json!({
            "host": "dbc-a1b2c3d4-e5f6.cloud.databricks.com",
            "http_path": "/sql/1.0/warehouses/1a2b3c4d5e6f7a8b",
            "catalog": "analytics",
            "threads": 8,
            "connect_retries": 3,
            "connect_timeout": 120
        })
    }

    #[test]
    fn databricks_token_profile() {
        let c = databricks_config();
        insta::assert_json_snapshot!(
            "databricks_token",
            outputs(&Databricks, &with_secret(&c, "databricks-creds"), None, None)
        );
    }

    #[test]
    fn databricks_oauth_profile_takes_the_unity_catalog() {
        let c = json!({
            "host": "dbc-a1b2c3d4-e5f6.cloud.databricks.com",
            "http_path": "/sql/1.0/warehouses/1a2b3c4d5e6f7a8b",
            "auth_type": "oauth",
            "client_id": "9a8b7c6d-0000-4e5f-8a9b-1c2d3e4f5a6b"
        });
        let s = with_secret(&c, "databricks-sp");
        insta::assert_json_snapshot!(
            "databricks_oauth_with_bindings",
            outputs(&Databricks, &s, Some(&aws_s3()), Some(&unity()))
        );
        let glue_profile = Databricks.dbt_profile(&s, &product(), Some(&aws_s3()), Some(&glue()));
        assert!(!glue_profile.contains_key("catalog"));
        let configured =
            Databricks.dbt_profile(&with_secret(&databricks_config(), "x"), &product(), None, Some(&unity()));
        assert_eq!(configured["catalog"], "analytics");
    }

    #[test]
    fn databricks_config_problems() {
        let mut c = databricks_config();
        c["host"] = json!("https://dbc-a1b2c3d4-e5f6.cloud.databricks.com");
        c["htp_path"] = json!("/sql");
        let found = problems(&Databricks, &with_secret(&c, "s"));
        assert!(has(&found, "host", "`host`"), "{found:#?}");
        assert!(has(&found, "htp_path", "did you mean `http_path`?"), "{found:#?}");

        let oauth =
            json!({"host": "h.cloud.databricks.com", "http_path": "/sql/1", "auth_type": "oauth", "token": "${PAT}"});
        let found = problems(&Databricks, &sel(&oauth));
        assert!(has(&found, "token", "not used with `auth_type: oauth`"), "{found:#?}");
        assert!(has(&found, "client_id", "needs `client_id`"), "{found:#?}");
        assert!(has(&found, "client_secret", "connection_secret_ref"), "{found:#?}");

        let token = json!({"host": "h.cloud.databricks.com", "http_path": "/sql/1", "client_id": "x"});
        let found = problems(&Databricks, &sel(&token));
        assert!(has(&found, "client_id", "not used with `auth_type: token`"), "{found:#?}");
        assert!(has(&found, "token", "connection_secret_ref"), "{found:#?}");
    }

    // -------------------------------------------------------------- BigQuery

    #[test]
    fn bigquery_workload_identity_profile() {
        let c = json!({
            "project": "acme-analytics",
            "location": "EU",
            "threads": 8,
            "job_execution_timeout_seconds": 600,
            "job_retries": 2,
            "priority": "interactive",
            "maximum_bytes_billed": 1_000_000_000_000u64,
            "impersonate_service_account": "dbt-runner@acme-analytics.iam.gserviceaccount.com"
        });
        insta::assert_json_snapshot!("bigquery_oauth", outputs(&BigQuery, &sel(&c), None, None));
    }

    #[test]
    fn bigquery_service_account_json_profile() {
        let c =
            json!({"project": "acme-analytics", "dataset": "{product_slug}_marts", "method": "service-account-json"});
        let s = with_secret(&c, "bigquery-sa");
        insta::assert_json_snapshot!(
            "bigquery_service_account_json_with_bindings",
            outputs(&BigQuery, &s, Some(&gcs()), Some(&polaris()))
        );
    }

    #[test]
    fn bigquery_service_account_reads_the_mounted_key_file() {
        let c = json!({"project": "acme-analytics", "method": "service-account", "keyfile": "/var/run/secrets/bigquery/key.json"});
        let out = BigQuery.dbt_profile(&with_secret(&c, "bigquery-sa"), &product(), None, None);
        assert_eq!(out["method"], "service-account");
        assert_eq!(out["keyfile"], "/var/run/secrets/bigquery/key.json");
        assert!(!out.contains_key("keyfile_json") && !out.contains_key("location"));
    }

    #[test]
    fn bigquery_config_problems() {
        let c = json!({"project": "Acme", "method": "service-acount", "datset": "x"});
        let found = problems(&BigQuery, &sel(&c));
        assert!(has(&found, "project", "`project`"), "{found:#?}");
        assert!(has(&found, "method", "`method`"), "{found:#?}");
        assert!(has(&found, "datset", "did you mean `dataset`?"), "{found:#?}");

        let secret = json!({"secret_ref": {"source": "kubernetes", "name": "sa", "key": "credentials"}});
        let oauth = json!({"project": "acme-analytics", "keyfile": "/k.json", "credentials": secret});
        let found = problems(&BigQuery, &sel(&oauth));
        assert!(has(&found, "keyfile", "not used with `method: oauth`"), "{found:#?}");
        assert!(has(&found, "credentials", "not used with `method: oauth`"), "{found:#?}");

        let file = json!({"project": "acme-analytics", "method": "service-account", "credentials": secret});
        let found = problems(&BigQuery, &sel(&file));
        assert!(has(&found, "keyfile", "needs `keyfile`"), "{found:#?}");
        assert!(has(&found, "credentials", "not used with `method: service-account`"), "{found:#?}");

        let json_key = json!({"project": "acme-analytics", "method": "service-account-json", "keyfile": "/k.json"});
        let found = problems(&BigQuery, &sel(&json_key));
        assert!(has(&found, "keyfile", "not used with `method: service-account-json`"), "{found:#?}");
        assert!(has(&found, "credentials", "connection_secret_ref"), "{found:#?}");

        let template =
            json!({"project": "acme-analytics", "method": "service-account-json", "credentials": "{{ var('key') }}"});
        let found = problems(&BigQuery, &sel(&template));
        assert!(has(&found, "credentials", "cannot parse"), "{found:#?}");
    }

    // ----------------------------------------------------------------- Spark

    #[test]
    fn spark_thrift_profile() {
        let c = json!({
            "method": "thrift",
            "host": "spark-thrift.compute.svc",
            "user": "dbt",
            "connect_retries": 5,
            "connect_timeout": 30,
            "server_side_parameters": {"spark.sql.shuffle.partitions": "64"}
        });
        insta::assert_json_snapshot!("spark_thrift", outputs(&Spark, &sel(&c), None, None));
    }

    #[test]
    fn spark_thrift_with_polaris_and_minio() {
        let c = json!({"method": "thrift", "host": "spark-thrift.compute.svc", "user": "dbt"});
        insta::assert_json_snapshot!(
            "spark_thrift_with_bindings",
            outputs(&Spark, &sel(&c), Some(&minio()), Some(&polaris()))
        );
    }

    #[test]
    fn spark_session_with_glue_on_s3() {
        let c = json!({"method": "session", "threads": 2});
        insta::assert_json_snapshot!(
            "spark_session_with_bindings",
            outputs(&Spark, &sel(&c), Some(&aws_s3()), Some(&glue()))
        );
    }

    #[test]
    fn spark_configured_parameters_win_over_floes() {
        let c = json!({"method": "session", "server_side_parameters": {"spark.sql.defaultCatalog": "spark_catalog"}});
        let out = Spark.dbt_profile(&sel(&c), &product(), None, Some(&glue()));
        assert_eq!(out["server_side_parameters"]["spark.sql.defaultCatalog"], "spark_catalog");
        assert_eq!(out["server_side_parameters"]["spark.sql.catalog.glue"], "org.apache.iceberg.spark.SparkCatalog");
    }

    #[test]
    fn spark_session_storage_settings() {
        let c = json!({"method": "session"});
        let params = |storage: &StorageBinding, cat: Option<&CatalogBinding>| {
            Spark.dbt_profile(&sel(&c), &product(), Some(storage), cat)["server_side_parameters"].clone()
        };
        let hive = catalog(
            "hive",
            "hive",
            Some("thrift://hive-metastore.catalog:9083"),
            "abfss://lake@floelake.dfs.core.windows.net/floe",
        );
        insta::assert_json_snapshot!("spark_session_azure_hive", params(&azure(), Some(&hive)));
        let gs = params(&gcs(), None);
        assert_eq!(gs["spark.hadoop.fs.gs.impl"], "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem");
        let s3 = params(&minio(), None);
        assert_eq!(s3["spark.hadoop.fs.s3a.endpoint"], "http://minio.storage:9000");
        assert_eq!(s3["spark.hadoop.fs.s3a.path.style.access"], "true");
        assert_eq!(s3["spark.hadoop.fs.s3a.access.key"], "{{ env_var('FLOE_SECRET_MINIO_CREDS_ACCESS_KEY_ID') }}");
        // A remote server reads storage with its own Hadoop settings.
        let thrift = json!({"method": "thrift", "host": "sts"});
        let remote = Spark.dbt_profile(&sel(&thrift), &product(), Some(&minio()), None);
        assert!(!remote.contains_key("server_side_parameters"));
    }

    #[test]
    fn spark_databricks_methods() {
        let http = json!({"method": "http", "host": "adb-1234.5.azuredatabricks.net", "cluster": "0123-456789-abcdefgh", "organization": "1234567890"});
        insta::assert_json_snapshot!("spark_http", outputs(&Spark, &with_secret(&http, "databricks-pat"), None, None));
        let odbc = json!({"method": "odbc", "host": "h.cloud.databricks.com", "driver": "/opt/simba/spark/lib/64/libsparkodbc_sb64.so", "endpoint": "1a2b3c"});
        let s = with_secret(&odbc, "databricks-pat");
        assert!(problems(&Spark, &s).is_empty());
        let ds = Spark.datasource(&s, &product()).unwrap();
        assert_eq!(ds.properties["http_path"], "/sql/1.0/endpoints/1a2b3c");
        assert_eq!(Spark.datasource(&sel(&json!({"method": "session"})), &product()), None);
    }

    #[test]
    fn spark_config_problems() {
        let c = json!({"method": "thrift", "port": 0, "schma": "x", "token": "${PAT}"});
        let found = problems(&Spark, &sel(&c));
        assert!(has(&found, "port", "`port`"), "{found:#?}");
        assert!(has(&found, "schma", "did you mean `schema`?"), "{found:#?}");

        let thrift = json!({"method": "thrift", "token": "${PAT}"});
        let found = problems(&Spark, &sel(&thrift));
        assert!(has(&found, "host", "`method: thrift` needs `host`"), "{found:#?}");
        assert!(has(&found, "token", "not used with `method: thrift`"), "{found:#?}");

        let odbc = json!({"method": "odbc", "host": "h", "cluster": "c", "endpoint": "e"});
        let found = problems(&Spark, &sel(&odbc));
        assert!(has(&found, "driver", "needs `driver`"), "{found:#?}");
        assert!(has(&found, "endpoint", "both set"), "{found:#?}");
        assert!(has(&found, "token", "connection_secret_ref"), "{found:#?}");

        let http = json!({"method": "http", "host": "h"});
        let found = problems(&Spark, &with_secret(&http, "pat"));
        assert!(has(&found, "cluster", "needs `cluster`"), "{found:#?}");

        let session = json!({"method": "session", "host": "h"});
        let found = problems(&Spark, &sel(&session));
        assert!(has(&found, "host", "not used with `method: session`"), "{found:#?}");

        let missing = json!({"host": "h"});
        assert!(problems(&Spark, &sel(&missing)).iter().any(|p| p.contains("method")));
    }

    // ----------------------------------------------------------- All of them

    const PLANTED: &str = "planted-S3CR3T-value";

    /// A config as a platform engineer may write it, with literal credentials
    /// replaced by references, as floe does before a plugin sees it.
    fn redacted(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| match v {
                        Value::String(_) if floe_schemas::secret::is_credential_key(k) => {
                            let r = floe_schemas::secret::SecretRef {
                                source: "kubernetes".into(),
                                name: "planted".into(),
                                key: k.clone(),
                            };
                            (k.clone(), r.to_value())
                        }
                        _ => (k.clone(), redacted(v)),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn no_output_holds_a_credential_value() {
        let p = PLANTED;
        let configs: Vec<(&dyn Compute, Value)> = vec![
            (&Snowflake, json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "password": p})),
            (
                &Snowflake,
                json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "private_key": p, "private_key_passphrase": p}),
            ),
            (
                &Snowflake,
                json!({"account": "a", "user": "u", "database": "d", "warehouse": "w", "authenticator": "oauth", "token": p, "oauth_client_id": "c", "client_secret": p}),
            ),
            (&Databricks, json!({"host": "h.cloud.databricks.com", "http_path": "/sql/1", "token": p})),
            (
                &Databricks,
                json!({"host": "h.cloud.databricks.com", "http_path": "/sql/1", "auth_type": "oauth", "client_id": "c", "client_secret": p}),
            ),
            (&BigQuery, json!({"project": "acme-analytics", "method": "service-account-json", "credentials": p})),
            (&Spark, json!({"method": "http", "host": "h", "cluster": "c", "token": p})),
            (&Spark, json!({"method": "session"})),
        ];
        for (plugin, written) in configs {
            let config = redacted(&written);
            let s = sel(&config);
            let name = plugin.meta().name;
            if written.to_string().contains(p) {
                // A literal left in place is rejected before any output exists.
                assert!(!crate::validate(plugin, &sel(&written)).is_empty(), "{name}");
            }
            assert!(crate::validate(plugin, &s).is_empty(), "{name}: {:#?}", crate::validate(plugin, &s));
            for (storage, cat) in [(minio(), polaris()), (azure(), glue())] {
                let all = json!({
                    "profile": plugin.dbt_profile(&s, &product(), Some(&storage), Some(&cat)),
                    "datasource": plugin.datasource(&s, &product()),
                    "helm": plugin.helm_values(&s),
                })
                .to_string();
                assert!(!all.contains(p), "{name}: {all}");
                assert!(!all.contains("secret_ref"), "{name}: {all}");
            }
            let profile = plugin.dbt_profile(&s, &product(), None, None);
            for (key, value) in &profile {
                if floe_schemas::secret::is_credential_key(key) || key.ends_with("client_secret") {
                    let v = value.as_str().unwrap_or_default();
                    assert!(v.starts_with("{{ env_var('FLOE_SECRET_PLANTED_"), "{name}.{key}: {v}");
                }
            }
        }
    }

    /// Millicores of a Kubernetes CPU quantity (`250m`, `1`, `0.5`).
    fn millicores(q: &str) -> Option<u64> {
        match q.strip_suffix('m') {
            Some(m) => m.parse().ok(),
            None => q.parse::<f64>().ok().filter(|c| *c > 0.0).map(|c| (c * 1000.0).round() as u64),
        }
    }

    /// Bytes of a Kubernetes memory quantity (`512Mi`, `1G`, `1048576`).
    fn bytes(q: &str) -> Option<u64> {
        let units: [(&str, u64); 8] = [
            ("Ki", 1 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
            ("k", 1_000),
            ("M", 1_000_000),
            ("G", 1_000_000_000),
            ("T", 1_000_000_000_000),
        ];
        for (suffix, factor) in units {
            if let Some(n) = q.strip_suffix(suffix) {
                return n.parse::<u64>().ok().map(|n| n * factor);
            }
        }
        q.parse().ok()
    }

    #[test]
    fn quantity_parsers() {
        assert_eq!(millicores("250m"), Some(250));
        assert_eq!(millicores("2"), Some(2000));
        assert_eq!(millicores("0.5"), Some(500));
        assert_eq!(millicores("lots"), None);
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1Gb"), None);
    }

    #[test]
    fn resources_are_kubernetes_quantities_with_requests_within_limits() {
        for plugin in PLUGINS {
            let name = plugin.meta().name;
            let mut previous: Option<(u64, u64)> = None;
            for size in WorkloadSize::ALL {
                let r = plugin.resource_requirements(size);
                let at = format!("{name} {}: {r:?}", size.name());
                let cpu = (millicores(&r.cpu_request).expect(&at), millicores(&r.cpu_limit).expect(&at));
                let memory = (bytes(&r.memory_request).expect(&at), bytes(&r.memory_limit).expect(&at));
                assert!(cpu.0 <= cpu.1 && memory.0 <= memory.1, "{at}");
                // A larger workload never gets less memory.
                if let Some(p) = previous {
                    assert!(memory.0 >= p.0 && memory.1 >= p.1, "{at}");
                }
                previous = Some(memory);
            }
        }
        assert!(
            bytes(&Spark.resource_requirements(WorkloadSize::Small).memory_request)
                > bytes(&Snowflake.resource_requirements(WorkloadSize::Small).memory_request)
        );
    }

    #[test]
    fn each_plugin_names_its_adapter_and_packages() {
        for plugin in PLUGINS {
            let m = plugin.meta();
            assert!(m.provides("dbt-adapter", plugin.adapter()), "{}", m.name);
            assert!(m.provides("sql-datasource", plugin.adapter()), "{}", m.name);
            let packages = plugin.required_dbt_packages();
            assert!(packages.iter().all(|p| p.starts_with(&format!("dbt-{}", plugin.adapter()))), "{packages:?}");
        }
    }
}
