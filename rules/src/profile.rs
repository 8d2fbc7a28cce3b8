//! The dbt profile rule: `profiles.yml` for one product.

use floe_plugins::{Any, Category, ProductContext, Selected};
use floe_schemas::diag::{self, Code, Diagnostic, Span};
use serde_json::{Map, Value};

use crate::resolve::ResolvedPlatform;
use crate::secrets;

/// The dbt target every product profile defines. One artifact is promoted
/// unchanged across environments, so there is exactly one.
pub const TARGET: &str = "dev";

/// The profile (`{target, outputs}`) a product's dbt project runs with, or the
/// reasons it cannot be rendered. The `dev` output (the target) runs on the
/// platform's compute; each other compute in `also` (transforms that name an
/// approved engine) gets an output named after it, with that plugin's
/// defaults, for `dbt run --target <compute>`.
pub fn profile(platform: &ResolvedPlatform, product: &str, also: &[&str]) -> Result<Value, Vec<Diagnostic>> {
    let compute = platform.manifest.plugins.get("compute");
    let Some(compute) = compute else {
        return Err(vec![
            Diagnostic::error(Code::MissingKey, "the platform selects no compute plugin")
                .in_file(platform.chain.last().map_or("manifest.yaml", |_| leaf_file(platform)))
                .with_help("add `plugins.compute` (e.g. `type: duckdb`) to the platform manifest"),
        ]);
    };
    let origin = platform.origin("plugins.compute.type");
    let at = |d: Diagnostic, path: &str| match platform.origin(path).or(origin) {
        Some(o) => d.at(&o.file, o.span()),
        None => d,
    };
    let config = compute.config.as_ref().map(|c| Value::Object(c.clone().into_iter().collect()));
    let sel = Selected::new(config.as_ref(), compute.connection_secret_ref.as_deref());
    let mut outputs = Map::new();
    let mut errors = Vec::new();
    match output(platform, &compute.plugin_type, &sel, product) {
        Ok(o) => {
            outputs.insert(TARGET.to_owned(), Value::Object(o));
        }
        Err(e) => errors.extend(e.into_iter().map(|(path, d)| at(d, &format!("plugins.compute.{path}")))),
    }
    for other in also.iter().filter(|c| **c != compute.plugin_type) {
        match output(platform, other, &Selected::EMPTY, product) {
            Ok(o) => {
                outputs.insert((*other).to_owned(), Value::Object(o));
            }
            Err(e) => errors.extend(e.into_iter().map(|(_, d)| {
                let mut d = d;
                d.message = format!("transforms run on `{other}`, which has no configuration here: {}", d.message);
                d.help = Some(format!(
                    "select `{other}` as the platform's compute (with its `config`), or run these transforms on `{}`",
                    compute.plugin_type
                ));
                at(d, "plugins.compute.type")
            })),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut profile = Map::new();
    profile.insert("target".to_owned(), Value::from(TARGET));
    profile.insert("outputs".to_owned(), Value::Object(outputs));
    Ok(Value::Object(profile))
}

/// One profile output of compute plugin `name`, or its problems, each with
/// its path below the selection (`type`, `config.threads`).
fn output(
    platform: &ResolvedPlatform,
    name: &str,
    sel: &Selected<'_>,
    product: &str,
) -> Result<Map<String, Value>, Vec<(String, Diagnostic)>> {
    let Some(Any::Compute(plugin)) = floe_plugins::find(Category::Compute, name) else {
        let names = floe_plugins::registry::names(Category::Compute);
        let help = match diag::suggest(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("floe builds profiles for: {}", names.join(", ")),
        };
        let d = Diagnostic::error(Code::UnknownPlugin, format!("unknown compute plugin `{name}`")).with_help(help);
        return Err(vec![("type".to_owned(), d)]);
    };
    let errors = floe_plugins::validate(plugin, sel);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| {
                let mut d = Diagnostic::error(Code::InvalidPluginConfig, e.message);
                d.help = e.help;
                (format!("config.{}", e.path.join(".")), d)
            })
            .collect());
    }
    // Storage and catalog bindings: tables live in the platform's object
    // store and attach through its catalog.
    let (chosen, _) = crate::plugins::chosen(platform);
    let storage = crate::plugins::storage(&chosen);
    let catalog = crate::plugins::catalog(&chosen, storage.as_ref());
    // Free-form values (DuckDB `settings`) may hold references too.
    Ok(plugin
        .dbt_profile(sel, &ProductContext::new(product), storage.as_ref(), catalog.as_ref())
        .into_iter()
        .map(|(k, v)| (k, secrets::render_for_dbt(&v)))
        .collect())
}

/// The plugins every product needs, missing from a platform that has
/// products of its own (`serves_products`). The selections themselves are
/// checked by [`crate::plugins::check`].
pub fn check_platform(
    platform: &ResolvedPlatform,
    file: &str,
    plugins_span: Span,
    serves_products: bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if serves_products {
        for category in ["compute", "orchestrator"] {
            if platform.manifest.plugins.get(category).is_none() {
                out.push(
                    Diagnostic::error(Code::MissingKey, format!("the platform selects no `{category}` plugin"))
                        .at(file, plugins_span)
                        .with_help(format!("every data product needs one: add `plugins.{category}`")),
                );
            }
        }
    }
    out
}

/// `profiles.yml`: the profile under the name the dbt project asks for.
pub fn profiles_yml(profile_name: &str, profile: &Value) -> String {
    let mut doc = Map::new();
    doc.insert(profile_name.to_owned(), profile.clone());
    crate::emit::yaml(&Value::Object(doc))
}

fn leaf_file(platform: &ResolvedPlatform) -> &str {
    platform.origin("metadata.name").map_or("manifest.yaml", |o| o.file.as_str())
}
