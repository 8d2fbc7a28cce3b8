//! Out-of-tree plugins: executables under `floe-plugins/` that a manifest
//! selects by file name (`type: acme-warehouse` runs
//! `floe-plugins/acme-warehouse`), spoken to in JSON over stdin and stdout,
//! one request per build step (protocol in `docs/reference/external-plugins.md`).
//!
//! The driver runs each request with an empty environment, a fresh temporary
//! working directory and [`TIME_LIMIT`]. The executable is a workspace input
//! like any other: its blake3 hash enters every derivation key that uses it,
//! so a changed executable rebuilds exactly what it produces.
//!
//! Out-of-tree plugins serve the compute category (the dbt profile); a
//! selection of another category that names one is an error that says so.

use std::time::Duration;

use floe_plugins::{ApiVersion, Category, PLUGIN_API};
use floe_schemas::diag::{Code, Diagnostic};
use serde_json::{Value, json};

use crate::db::{Db, SourceFile, Workspace};
use crate::system::{IoError, Ran};

/// The protocol every request and answer names.
pub const PROTOCOL: &str = "floe.plugin.v1";

/// How long one request may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// What `describe` answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Described {
    pub name: String,
    pub category: Category,
    pub version: String,
    pub api: ApiVersion,
    pub summary: String,
    pub config_schema: Value,
}

/// A plugin that did not answer as the protocol says: a problem with the
/// workspace's plugin, reported as a diagnostic, never cached.
pub type Failure = String;

/// One request: `{"protocol", "step", ...params}` in, `{"result": …}` or
/// `{"error": "…"}` out.
pub fn request(db: &dyn Db, file: SourceFile, step: &str, params: Value) -> Result<Result<Value, Failure>, IoError> {
    // Reading the revision makes the calling query depend on the executable.
    let _ = file.revision(db);
    let mut body = json!({"protocol": PROTOCOL, "step": step});
    if let (Value::Object(b), Value::Object(p)) = (&mut body, params) {
        b.extend(p);
    }
    let input = serde_json::to_vec(&body).expect("requests serialize");
    let name = file.path(db).file_name().to_owned();
    Ok(match db.run_plugin(file.path(db), &input, TIME_LIMIT)? {
        Ran::NotStarted { message } => Err(format!("`{name}` could not be started: {message}")),
        Ran::TimedOut => Err(format!("`{name}` did not answer `{step}` within {} s", TIME_LIMIT.as_secs())),
        Ran::Exited { code, stdout, stderr } => {
            let last = String::from_utf8_lossy(&stderr).lines().last().unwrap_or_default().trim().to_owned();
            match (code, serde_json::from_slice::<Value>(&stdout)) {
                (Some(0), Ok(answer)) => match (answer.get("result"), answer.get("error")) {
                    (_, Some(e)) => Err(format!("`{name}` refused `{step}`: {}", e.as_str().unwrap_or(&e.to_string()))),
                    (Some(r), None) => Ok(r.clone()),
                    (None, None) => Err(format!("`{name}` answered `{step}` with neither `result` nor `error`")),
                },
                (Some(0), Err(e)) => Err(format!("`{name}` answered `{step}` with something that is not JSON: {e}")),
                (code, _) => {
                    let how = code.map_or("was killed by a signal".to_owned(), |c| format!("exited with status {c}"));
                    match last.is_empty() {
                        true => Err(format!("`{name}` {how} on `{step}`")),
                        false => Err(format!("`{name}` {how} on `{step}`: {last}")),
                    }
                }
            }
        }
    })
}

/// The plugin's self-description, checked against what this floe runs.
#[salsa::tracked(returns(ref))]
pub fn describe(db: &dyn Db, file: SourceFile) -> Result<Result<Described, Failure>, IoError> {
    let answer = match request(db, file, "describe", json!({}))? {
        Ok(a) => a,
        Err(f) => return Ok(Err(f)),
    };
    let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
    let file_name = file.path(db).file_name().to_owned();
    let (Some(name), Some(category), Some(version), Some(api)) =
        (text("name"), text("category"), text("version"), text("api_version"))
    else {
        return Ok(Err(format!(
            "`{file_name}` described itself without `name`, `category`, `version` and `api_version`"
        )));
    };
    let Some(category) = Category::from_key(&category) else {
        return Ok(Err(format!("`{file_name}` names an unknown category `{category}`")));
    };
    let Some(api) = ApiVersion::parse(&api) else {
        return Ok(Err(format!("`{file_name}` names plugin API `{api}`, which is not `major.minor`")));
    };
    if !api.runs_on(PLUGIN_API) {
        return Ok(Err(format!(
            "`{file_name}` is written for plugin API {api}; this floe runs plugin API {PLUGIN_API}"
        )));
    }
    if name != file_name {
        return Ok(Err(format!("`{file_name}` calls itself `{name}`; the file and the plugin must have one name")));
    }
    let config_schema = answer.get("config_schema").cloned().unwrap_or(json!({"type": "object"}));
    if jsonschema::validator_for(&config_schema).is_err() {
        return Ok(Err(format!("`{file_name}` gave a `config_schema` that is not a valid JSON Schema")));
    }
    Ok(Ok(Described { name, category, version, api, summary: text("summary").unwrap_or_default(), config_schema }))
}

/// The out-of-tree plugins a platform's selections name, with their files.
pub fn selected(db: &dyn Db, ws: Workspace, merged: &Value) -> Vec<(Category, SourceFile)> {
    let layout = ws.layout(db);
    let mut out = Vec::new();
    for category in Category::ALL {
        let Some(name) = merged.pointer(&format!("/plugins/{}/type", category.key())).and_then(Value::as_str) else {
            continue;
        };
        if floe_plugins::find(category, name).is_some() {
            continue;
        }
        if let Some(path) = layout.plugin(name)
            && let Some(file) = ws.files(db).get(path).copied()
        {
            out.push((category, file));
        }
    }
    out
}

/// `value` with the hashes of the executables a platform's selections name
/// added (`[value, {category: hash}]`), or `value` itself when they name
/// none: every key that reads what out-of-tree plugins produce has them.
pub fn with_executables(db: &dyn Db, ws: Workspace, merged: &Value, value: Value) -> Value {
    let revisions: serde_json::Map<String, Value> = selected(db, ws, merged)
        .into_iter()
        .map(|(c, f)| (c.key().to_owned(), Value::from(f.revision(db).to_hex())))
        .collect();
    match revisions.is_empty() {
        true => value,
        false => json!([value, revisions]),
    }
}

/// Problems with the out-of-tree plugins a platform selects: one that does
/// not describe itself, serves another category, or rejects its `config`.
pub fn check(
    db: &dyn Db,
    ws: Workspace,
    platform: &floe_rules::resolve::ResolvedPlatform,
) -> Result<Vec<Diagnostic>, IoError> {
    let mut out = Vec::new();
    for (category, file) in selected(db, ws, &platform.merged) {
        let at = |d: Diagnostic, path: &str| match platform
            .origin(path)
            .or_else(|| platform.origin(&format!("plugins.{}.type", category.key())))
        {
            Some(o) => d.at(&o.file, o.span()),
            None => d,
        };
        let type_path = format!("plugins.{}.type", category.key());
        let failed = |message: String| {
            Diagnostic::error(Code::ExternalPlugin, message).with_help(format!(
                "the plugin is `{}`; `docs/reference/external-plugins.md` has the protocol",
                file.path(db)
            ))
        };
        let described = match describe(db, file) {
            Err(e) => return Err(e.clone()),
            Ok(Err(f)) => {
                out.push(at(failed(f.clone()), &type_path));
                continue;
            }
            Ok(Ok(d)) => d,
        };
        if described.category != category {
            out.push(at(
                failed(format!(
                    "`{}` is a {} plugin, selected as {}",
                    described.name,
                    described.category.title(),
                    category.title()
                )),
                &type_path,
            ));
            continue;
        }
        if category != Category::Compute {
            out.push(at(
                failed(format!(
                    "out-of-tree plugins serve the compute category; `{}` is a {} plugin",
                    described.name,
                    category.title()
                )),
                &type_path,
            ));
            continue;
        }
        let config = platform.merged.pointer(&format!("/plugins/{}/config", category.key())).cloned();
        let base = format!("plugins.{}.config", category.key());
        let mut errors = floe_plugins::config::check(&described.config_schema, config.as_ref().unwrap_or(&json!({})));
        if errors.is_empty() {
            match request(db, file, "validate", json!({"category": category.key(), "config": config}))? {
                Err(f) => out.push(at(failed(f), &type_path)),
                Ok(answer) => errors.extend(config_errors(&answer)),
            }
        }
        for e in errors {
            let path = if e.path.is_empty() { base.clone() } else { format!("{base}.{}", e.path.join(".")) };
            let mut d = Diagnostic::error(
                Code::InvalidPluginConfig,
                format!("{} `{}`: {}", category.title(), described.name, e.message),
            );
            d.help = e.help;
            out.push(at(d, &path));
        }
    }
    Ok(out)
}

/// `{"errors": [{"path": [...], "message", "help"}]}`, as `validate` answers.
fn config_errors(answer: &Value) -> Vec<floe_plugins::ConfigError> {
    answer
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| floe_plugins::ConfigError {
            path: e
                .get("path")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
            message: e.get("message").and_then(Value::as_str).unwrap_or("rejected").to_owned(),
            help: e.get("help").and_then(Value::as_str).map(str::to_owned),
        })
        .collect()
}

/// A product's dbt profile output from an out-of-tree compute plugin.
pub fn dbt_profile(
    db: &dyn Db,
    file: SourceFile,
    platform: &floe_rules::resolve::ResolvedPlatform,
    product: &str,
    domain: &str,
) -> Result<Result<Value, Failure>, IoError> {
    let config = platform.merged.pointer("/plugins/compute/config").cloned();
    let secret = platform.merged.pointer("/plugins/compute/connection_secret_ref").cloned();
    let (chosen, _) = floe_rules::plugins::chosen(platform);
    let storage = floe_rules::plugins::storage(&chosen);
    let catalog = floe_rules::plugins::catalog(&chosen, storage.as_ref());
    let params = json!({
        "category": "compute",
        "config": config,
        "connection_secret": secret,
        "product": {"name": product, "slug": product.replace('-', "_"), "domain": domain},
        "storage": storage,
        "catalog": catalog,
    });
    Ok(request(db, file, "dbt_profile", params)?.and_then(|v| match v {
        Value::Object(_) => Ok(v),
        other => Err(format!("`dbt_profile` answered {other}, not a profile output (a mapping)")),
    }))
}
