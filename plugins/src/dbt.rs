//! dbt runtimes: dbt Core (`dbt`), the dbt Fusion engine (`dbtf`) and the
//! dbt Cloud CLI. Each gives the command line a run starts from, before the
//! caller adds project and profile flags, and what a job installs for it.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap, needs};
use crate::{Compute, DbtRuntime, Plugin, Selected};

pub(crate) static PLUGINS: &[&'static dyn DbtRuntime] = &[&Cloud, &Core, &Fusion];

/// A pip version specifier: comma-separated clauses (`>=1.9,<1.10`).
const PIP_SPEC: &str = r"^\s*(===|~=|==|!=|<=|>=|<|>)\s*[0-9][0-9A-Za-z.*+!-]*\s*(,\s*(===|~=|==|!=|<=|>=|<|>)\s*[0-9][0-9A-Za-z.*+!-]*\s*)*$";

// ---------------------------------------------------------------- dbt Core

/// dbt Core: the `dbt` CLI and the compute's adapter, from PyPI.
pub struct Core;

/// dbt Core's configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dbt core runtime config")]
pub struct CoreConfig {
    /// pip version specifier of `dbt-core` (`>=1.10,<1.11`); the adapter follows the compute.
    #[schemars(regex(pattern = PIP_SPEC))]
    pub version: Option<String>,
    /// Stop the run at the first failing model or test (`--fail-fast`).
    pub fail_fast: Option<bool>,
    /// Threads of every run (`--threads`), over the profile's.
    #[schemars(range(min = 1, max = 1024))]
    pub threads_override: Option<u32>,
}

/// The `dbt-core` releases the compute plugins' adapters are built for.
const DBT_CORE_VERSION: &str = ">=1.9,<2";

static CORE: Meta = Meta {
    name: "core",
    category: Category::Dbt,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "dbt Core, the dbt CLI with the compute's adapter from PyPI",
    provides: &[cap("dbt-runtime", "core")],
    requires: &[],
};

impl Plugin for Core {
    fn meta(&self) -> &'static Meta {
        &CORE
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<CoreConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: CoreConfig = typed(sel);
        match c.version.as_deref() {
            Some(spec) if !allows_supported_core(spec) => vec![ConfigError::at(
                &["version"],
                format!("`{spec}` allows no dbt-core release from 1.9 below 2, the ones the compute adapters support"),
                "allow a release from 1.9 on, for example `>=1.10,<1.11`",
            )],
            _ => Vec::new(),
        }
    }
}

/// Whether a pip specifier allows a dbt-core release in `>=1.9,<2`: no
/// clause caps it below 1.9 or raises it to 2.
fn allows_supported_core(spec: &str) -> bool {
    spec.split(',').all(|clause| {
        let clause = clause.trim();
        let (op, version) = clause.split_at(clause.find(|c: char| c.is_ascii_digit()).unwrap_or(clause.len()));
        let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        match op.trim() {
            "<" => v > (1, 9),
            "<=" | "==" | "===" | "~=" => ((1, 9)..(2, 0)).contains(&v),
            ">" | ">=" => v < (2, 0),
            _ => true,
        }
    })
}

impl DbtRuntime for Core {
    fn command(&self, sel: &Selected<'_>) -> Vec<String> {
        let c: CoreConfig = typed(sel);
        let mut command = vec!["dbt".to_owned(), "build".to_owned()];
        if c.fail_fast == Some(true) {
            command.push("--fail-fast".to_owned());
        }
        if let Some(threads) = c.threads_override {
            command.extend(["--threads".to_owned(), threads.to_string()]);
        }
        command
    }

    /// `dbt-core` at the configured version, then the compute's adapter packages.
    fn requirements(&self, compute: &dyn Compute) -> Vec<String> {
        // `requirements` has no selection, so the configured version cannot
        // reach it: the job gets the range every adapter supports.
        let mut packages = vec![format!("dbt-core{DBT_CORE_VERSION}")];
        packages.extend(compute.required_dbt_packages());
        packages
    }
}

// ---------------------------------------------------------------- dbt Fusion

/// The dbt Fusion engine: the standalone `dbtf` binary.
pub struct Fusion;

/// The dbt Fusion engine's configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dbt fusion runtime config")]
pub struct FusionConfig {
    /// Release of the dbt Fusion engine the job image installs (`2.0.0-preview.219`).
    #[schemars(regex(pattern = r"^2\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"))]
    // Read once a runtime can say how its binary is installed; pip
    // requirements cannot.
    #[allow(dead_code)]
    pub version: Option<String>,
}

static FUSION: Meta = Meta {
    name: "fusion",
    category: Category::Dbt,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "The dbt Fusion engine, a standalone dbtf binary with built-in adapters",
    provides: &[cap("dbt-runtime", "fusion")],
    requires: &[needs(
        Category::Compute,
        "dbt-adapter",
        &["snowflake", "databricks", "bigquery"],
        "dbt Fusion supports the Snowflake, Databricks, BigQuery and Redshift adapters",
    )],
};

impl Plugin for Fusion {
    fn meta(&self) -> &'static Meta {
        &FUSION
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<FusionConfig>()
    }
}

impl DbtRuntime for Fusion {
    fn command(&self, _sel: &Selected<'_>) -> Vec<String> {
        // The installer names the binary `dbt` and aliases it `dbtf`; the
        // alias cannot be mistaken for a dbt Core on the same PATH.
        vec!["dbtf".to_owned(), "build".to_owned()]
    }

    /// None: the engine is a standalone binary with its adapters built in,
    /// installed into the job image by dbt Labs' installer, not from PyPI.
    fn requirements(&self, _compute: &dyn Compute) -> Vec<String> {
        Vec::new()
    }
}

// ---------------------------------------------------------------- dbt Cloud

/// The dbt Cloud CLI: dbt commands that run in a dbt Cloud project.
pub struct Cloud;

/// The dbt Cloud CLI's configuration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dbt cloud runtime config")]
pub struct CloudConfig {
    /// dbt Cloud account ID (the number after `/accounts/` in its URLs).
    #[schemars(range(min = 1))]
    pub account_id: u64,
    /// dbt Cloud project ID (`dbt-cloud: project-id` in `dbt_project.yml`).
    #[schemars(range(min = 1))]
    pub project_id: u64,
    /// Account host, without scheme: `cloud.getdbt.com`, `emea.dbt.com`, `ACCOUNT_PREFIX.us1.dbt.com`.
    #[schemars(regex(
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
    ))]
    pub host: Option<String>,
    /// API key the CLI authenticates with; by default the key `token` of `connection_secret_ref`.
    pub token: Option<Credential>,
}

/// dbt Cloud's multi-tenant host in North America.
const DEFAULT_HOST: &str = "cloud.getdbt.com";

static CLOUD: Meta = Meta {
    name: "cloud",
    category: Category::Dbt,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "The dbt Cloud CLI, which runs commands in a dbt Cloud project",
    provides: &[cap("dbt-runtime", "cloud")],
    requires: &[needs(
        Category::Compute,
        "dbt-adapter",
        &["snowflake", "databricks", "bigquery", "spark"],
        "dbt Cloud has no DuckDB adapter",
    )],
};

impl Plugin for Cloud {
    fn meta(&self) -> &'static Meta {
        &CLOUD
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<CloudConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: CloudConfig = typed(sel);
        match Credential::or_secret(c.token.as_ref(), sel.connection_secret, "token") {
            Some(_) => Vec::new(),
            None => vec![ConfigError::at(
                &["token"],
                "the dbt Cloud CLI needs an API token, and none is set",
                "set `token` to a secret reference, or `connection_secret_ref` to a Secret with a `token` key",
            )],
        }
    }
}

impl DbtRuntime for Cloud {
    fn command(&self, _sel: &Selected<'_>) -> Vec<String> {
        // The Cloud CLI installs as `dbt` and takes dbt Core's commands.
        vec!["dbt".to_owned(), "build".to_owned()]
    }

    /// The Cloud CLI alone: models run in dbt Cloud, so no adapter is installed.
    fn requirements(&self, _compute: &dyn Compute) -> Vec<String> {
        // From 2.0 the `dbt` distribution on PyPI is another product; the
        // 1.0.0.40 line is the Cloud CLI's last.
        vec!["dbt>=1.0.0.40,<2".to_owned()]
    }
}

impl Cloud {
    /// `~/.dbt/dbt_cloud.yml`, which the Cloud CLI reads, in its documented
    /// shape. The API key is a `${…}` reference the job expands when it
    /// writes the file.
    // `DbtRuntime` has no way yet to hand a runtime file to the job.
    #[allow(dead_code)]
    pub fn dbt_cloud_yml(&self, sel: &Selected<'_>) -> String {
        let c: CloudConfig = typed(sel);
        let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
        let project = quote(&c.project_id.to_string());
        let host = quote(c.host.as_deref().unwrap_or(DEFAULT_HOST));
        let account = quote(&c.account_id.to_string());
        let mut out = format!(
            "version: \"1\"\ncontext:\n  active-project: {project}\n  active-host: {host}\nprojects:\n  \
             - project-id: {project}\n    account-id: {account}\n    account-host: {host}\n"
        );
        if let Some(token) = Credential::or_secret(c.token.as_ref(), sel.connection_secret, "token") {
            out.push_str(&format!("    api-key: {}\n", quote(&token.shell())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Any, find};
    use serde_json::json;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn duckdb() -> &'static dyn Compute {
        match find(Category::Compute, "duckdb") {
            Some(Any::Compute(c)) => c,
            other => panic!("duckdb compute: {other:?}"),
        }
    }

    fn errors(p: &dyn Plugin, sel: &Selected<'_>) -> Vec<String> {
        crate::testing::shown(&crate::validate(p, sel))
    }

    #[test]
    fn commands_and_requirements() {
        let core = json!({"version": ">=1.10,<1.11", "fail_fast": true, "threads_override": 8});
        let cloud = json!({"account_id": 26228, "project_id": 123456, "host": "emea.dbt.com"});
        let out = json!({
            "core": {"command": Core.command(&sel(&core)), "requirements": Core.requirements(duckdb())},
            "fusion": {"command": Fusion.command(&sel(&json!({}))), "requirements": Fusion.requirements(duckdb())},
            "cloud": {"command": Cloud.command(&sel(&cloud)), "requirements": Cloud.requirements(duckdb())},
        });
        insta::assert_json_snapshot!(out);
    }

    #[test]
    fn core_command_without_options_is_plain_build() {
        assert_eq!(Core.command(&Selected::EMPTY), ["dbt", "build"]);
    }

    #[test]
    fn dbt_cloud_yml() {
        let c = json!({"account_id": 26228, "project_id": 123456, "host": "emea.dbt.com"});
        insta::assert_snapshot!(Cloud.dbt_cloud_yml(&Selected::new(Some(&c), Some("dbt-cloud"))));
    }

    #[test]
    fn fusion_rejects_a_duckdb_compute() {
        let Some(Any::Dbt(fusion)) = find(Category::Dbt, "fusion") else { panic!("fusion is registered") };
        let selected = [Any::Compute(duckdb()), Any::Dbt(fusion)];
        let conflicts = crate::compose::check(&selected);
        assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
        let c = &conflicts[0];
        assert_eq!((c.plugin, c.found), ("fusion", Some("duckdb")));
        assert_eq!(
            c.message,
            "dbt runtime `fusion` cannot work with compute `duckdb`: dbt Fusion supports the Snowflake, Databricks, BigQuery and Redshift adapters"
        );
        assert!(c.help.contains("`core`"), "{}", c.help);
        // dbt Core runs on duckdb.
        let Some(core) = find(Category::Dbt, "core") else { panic!("core is registered") };
        assert!(crate::compose::check(&[Any::Compute(duckdb()), core]).is_empty());
    }

    #[test]
    fn cloud_rejects_a_duckdb_compute() {
        let Some(cloud) = find(Category::Dbt, "cloud") else { panic!("cloud is registered") };
        let conflicts = crate::compose::check(&[Any::Compute(duckdb()), cloud]);
        assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
        assert!(conflicts[0].message.ends_with("dbt Cloud has no DuckDB adapter"), "{}", conflicts[0].message);
    }

    #[test]
    fn invalid_core_config() {
        let c = json!({"version": "1.9", "threads_override": 0, "fail_fats": true});
        let shown = errors(&Core, &sel(&c));
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert_eq!(shown[0], "fail_fats | unknown key `fail_fats` | did you mean `fail_fast`?");
        assert!(shown[1].starts_with("threads_override | `threads_override`:"), "{shown:#?}");
        assert!(shown[2].starts_with("version | `version`:"), "{shown:#?}");
        for ok in ["~=1.10.0", ">=1.9,<2", "==1.10.*", ">1.9.0"] {
            assert!(errors(&Core, &sel(&json!({"version": ok}))).is_empty(), "{ok}");
        }
        for bad in ["==1.8.0", "<1.9", ">=2.0", ">=1.5,<1.8"] {
            let shown = errors(&Core, &sel(&json!({"version": bad})));
            assert_eq!(shown.len(), 1, "{bad}: {shown:#?}");
            assert!(shown[0].starts_with(&format!("version | `{bad}` allows no dbt-core release")), "{shown:#?}");
        }
    }

    #[test]
    fn invalid_fusion_config() {
        let shown = errors(&Fusion, &sel(&json!({"version": "1.9.0", "verison": "2.0.0"})));
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert_eq!(shown[0], "verison | unknown key `verison` | did you mean `version`?");
        assert!(shown[1].starts_with("version | `version`:"), "{shown:#?}");
        assert!(errors(&Fusion, &sel(&json!({"version": "2.0.0-preview.219"}))).is_empty());
    }

    #[test]
    fn invalid_cloud_config() {
        let c = json!({"account_id": 0, "project_id": 1, "host": "https://cloud.getdbt.com", "tokn": "x"});
        let shown = errors(&Cloud, &sel(&c));
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(shown[0].starts_with("account_id | `account_id`:"), "{shown:#?}");
        assert!(shown[1].starts_with("host | `host`:"), "{shown:#?}");
        assert_eq!(shown[2], "tokn | unknown key `tokn` | did you mean `token`?");
        // Required keys are reported at the config.
        let shown = errors(&Cloud, &sel(&json!({})));
        assert!(shown.iter().any(|s| s.starts_with(" | ") && s.contains("account_id")), "{shown:#?}");
        // With neither `token` nor a connection secret there is no API key.
        let c = json!({"account_id": 1, "project_id": 2});
        assert_eq!(
            errors(&Cloud, &sel(&c)),
            [
                "token | the dbt Cloud CLI needs an API token, and none is set | set `token` to a secret reference, or `connection_secret_ref` to a Secret with a `token` key"
            ]
        );
        assert!(errors(&Cloud, &Selected::new(Some(&c), Some("dbt-cloud"))).is_empty());
    }

    #[test]
    fn the_cloud_token_is_only_a_reference() {
        let planted = "dbtc_planted-token-value";
        // A literal token is refused: floe hands plugins references only.
        let literal = json!({"account_id": 1, "project_id": 2, "token": planted});
        assert!(errors(&Cloud, &sel(&literal)).iter().any(|e| e.starts_with("token | `token`:")));
        let c = json!({
            "account_id": 1, "project_id": 2,
            "token": {"secret_ref": {"source": "kubernetes", "name": "dbt-cloud-api", "key": "token"}},
        });
        let s = sel(&c);
        let yml = Cloud.dbt_cloud_yml(&s);
        assert!(yml.contains("api-key: \"${FLOE_SECRET_DBT_CLOUD_API_TOKEN}\""), "{yml}");
        let out = format!("{yml}{:?}{:?}{}", Cloud.command(&s), Cloud.requirements(duckdb()), Cloud.helm_values(&s));
        assert!(!out.contains(planted), "{out}");
    }
}
