//! The orchestration rule: the platform's orchestrator's definitions of one
//! product's run (ingestion, then dbt), on the product's schedule.

use std::collections::BTreeMap;

use floe_plugins::{Any, Category, IngestionStep, JobSpec, ProductContext};
use floe_schemas::diag::{Code, Diagnostic, Span};
use floe_schemas::secret::{CREDENTIAL_KEYS, SecretRef};
use floe_schemas::spec::FloeSpec;
use serde_json::Value;

use crate::plugins::{self, Chosen};
use crate::resolve::ResolvedPlatform;

/// Where a job finds the product's compiled artifacts, relative to the
/// product directory it runs in.
pub const ARTIFACTS_PATH: &str = "compiled_artifacts.json";

/// The orchestrator's files for a product: (name, text) each.
pub fn definitions(
    platform: &ResolvedPlatform,
    spec: &FloeSpec,
    domain: Option<&str>,
) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let (chosen, _) = plugins::chosen(platform);
    let Some(orchestrator) = find(&chosen, Category::Orchestrator) else {
        return Err(vec![missing(platform, "orchestrator")]);
    };
    let Any::Orchestrator(o) = orchestrator.plugin else { return Err(Vec::new()) };
    let job = job(platform, &chosen, spec, domain)?;
    Ok(o.definitions(&orchestrator.selected(), &job))
}

/// The names of [`definitions`]' files, for the derivation (empty when the
/// platform has no orchestrator; building then reports why).
pub fn file_names(platform: &ResolvedPlatform, spec: &FloeSpec, domain: Option<&str>) -> Vec<String> {
    definitions(platform, spec, domain)
        .map(|files| files.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default()
}

fn find(chosen: &[Chosen], category: Category) -> Option<&Chosen> {
    chosen.iter().find(|c| c.category() == category)
}

/// What the orchestrator schedules for a product.
fn job<'a>(
    platform: &ResolvedPlatform,
    chosen: &[Chosen],
    spec: &'a FloeSpec,
    domain: Option<&'a str>,
) -> Result<JobSpec<'a>, Vec<Diagnostic>> {
    let product = ProductContext::new(&spec.metadata.name).in_domain(domain);
    let mut dbt_command = match find(chosen, Category::Dbt).map(|c| (c.plugin, c)) {
        Some((Any::Dbt(d), c)) => d.command(&c.selected()),
        _ => vec!["dbt".to_owned(), "build".to_owned()],
    };
    dbt_command
        .extend(["--project-dir", ".", "--profiles-dir", ".", "--target", crate::profile::TARGET].map(str::to_owned));
    let ingestion = match &spec.ingestion {
        None => None,
        Some(ingestion) => {
            let Some(c) = find(chosen, Category::Ingestion) else {
                return Err(vec![missing(platform, "ingestion")]);
            };
            let Any::Ingestion(i) = c.plugin else { return Err(Vec::new()) };
            Some(IngestionStep {
                plugin: c.plugin.meta().name.to_owned(),
                command: i.command(&c.selected(), &product),
                sources: ingestion.sources.iter().map(|s| s.name.clone()).collect(),
            })
        }
    };
    let schedule = spec
        .schedule
        .as_ref()
        .filter(|s| s.enabled)
        .and_then(|s| s.cron.clone().map(|cron| (cron, s.timezone.clone())));
    // Only the secrets the run reads: its dbt profile's and its ingestion's.
    let mut used =
        crate::profile::profile(platform, &spec.metadata.name, &[]).map(|p| p.to_string()).unwrap_or_default();
    if let (Some(c), Some(ingestion)) = (find(chosen, Category::Ingestion), &spec.ingestion)
        && let Any::Ingestion(i) = c.plugin
    {
        let sources = serde_json::to_value(&ingestion.sources).unwrap_or(Value::Null);
        used.push_str(&i.pipeline_config(&c.selected(), &sources, plugins::storage(chosen).as_ref()).to_string());
        used.push_str(&i.command(&c.selected(), &product).join(" "));
    }
    let secret_env = secret_env(platform).into_iter().filter(|(var, _)| used.contains(var.as_str())).collect();
    Ok(JobSpec {
        models: model_order(spec),
        schedule,
        dbt_command,
        ingestion,
        artifacts_path: ARTIFACTS_PATH.to_owned(),
        secret_env,
        product,
    })
}

/// What of a product its orchestration reads: name, transforms and their
/// order, schedule and ingestion (not tags, owners or ports), so that other
/// edits rebuild no orchestration.
pub fn job_input(spec: &FloeSpec) -> Value {
    let transforms: Vec<Value> = spec
        .transforms
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "depends_on": t.depends_on, "compute": t.compute}))
        .collect();
    serde_json::json!({
        "name": spec.metadata.name,
        "transforms": transforms,
        "schedule": spec.schedule,
        "ingestion": spec.ingestion,
    })
}

/// What of a platform a product's orchestration reads: the orchestrator,
/// dbt runtime and ingestion selections, and which secrets the run needs.
pub fn platform_input(platform: &ResolvedPlatform, spec: &FloeSpec) -> Value {
    let plugins = platform.merged.get("plugins");
    let part = |c: &str| plugins.and_then(|p| p.get(c)).cloned().unwrap_or(Value::Null);
    let (chosen, _) = plugins::chosen(platform);
    let env: Vec<String> =
        job(platform, &chosen, spec, None).map(|j| j.secret_env.into_keys().collect()).unwrap_or_default();
    serde_json::json!({
        "orchestrator": part("orchestrator"),
        "dbt": part("dbt"),
        "ingestion": part("ingestion"),
        "secret_env": env,
    })
}

/// Transforms in an order `dependsOn` allows: declaration order, each after
/// what it depends on (cycles are reported elsewhere and left in place).
fn model_order(spec: &FloeSpec) -> Vec<String> {
    let names: Vec<&str> = spec.transforms.iter().map(|t| t.name.as_str()).collect();
    let mut done: Vec<String> = Vec::new();
    fn visit(spec: &FloeSpec, name: &str, done: &mut Vec<String>, stack: &mut Vec<String>) {
        if done.iter().any(|d| d == name) || stack.iter().any(|s| s == name) {
            return;
        }
        let Some(t) = spec.transforms.iter().find(|t| t.name == name) else { return };
        stack.push(name.to_owned());
        for dep in t.depends_on.iter().flatten() {
            visit(spec, dep, done, stack);
        }
        stack.pop();
        done.push(name.to_owned());
    }
    for name in names {
        visit(spec, name, &mut done, &mut Vec::new());
    }
    done
}

/// Every secret the platform's plugins reference, as the environment
/// variable a job reads it from: references written in `config`, and the
/// credential keys of each `connection_secret_ref`.
pub fn secret_env(platform: &ResolvedPlatform) -> BTreeMap<String, (String, String)> {
    let mut refs = Vec::new();
    if let Some(plugins) = platform.merged.get("plugins").and_then(Value::as_object) {
        for selection in plugins.values() {
            if let Some(config) = selection.get("config") {
                collect_refs(config, &mut refs);
            }
            if let Some(secret) = selection.get("connection_secret_ref").and_then(Value::as_str) {
                for key in CREDENTIAL_KEYS {
                    refs.push(SecretRef {
                        source: "kubernetes".to_owned(),
                        name: secret.to_owned(),
                        key: (*key).to_owned(),
                    });
                }
            }
        }
    }
    refs.into_iter().map(|r| (r.env_var(), (r.name, r.key))).collect()
}

fn collect_refs(v: &Value, out: &mut Vec<SecretRef>) {
    if let Some(r) = SecretRef::from_value(v) {
        out.push(r);
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|v| collect_refs(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn missing(platform: &ResolvedPlatform, category: &str) -> Diagnostic {
    let d = Diagnostic::error(Code::MissingKey, format!("the platform selects no `{category}` plugin"))
        .with_help(format!("add `plugins.{category}` to the platform manifest (`floe plugins` lists them)"));
    match platform.origin("metadata.name") {
        Some(o) => d.at(&o.file, Span { line: o.line, column: o.column, offset: 0, len: 0 }),
        None => d,
    }
}
