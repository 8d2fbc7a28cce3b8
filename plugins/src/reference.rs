//! `docs/reference/plugins.md`, generated from the plugins' metadata and
//! configuration schemas (a test keeps the checked-in page current).

use std::fmt::Write as _;

use serde_json::Value;

use crate::meta::{Category, PLUGIN_API};
use crate::registry::all;

/// The whole reference page.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# Plugins\n\n\
         <!-- Generated from the plugins' metadata by `cargo test --test plugins`; do not edit. -->\n\n\
         A platform selects one plugin per category under `plugins:` in its manifest:\n\n\
         ```yaml\nplugins:\n  compute:\n    type: duckdb\n    version: \"0.1.0\"      # optional pin, compared as cargo compares `^0.1.0`\n    \
         config: {threads: 4}\n    connection_secret_ref: duckdb-creds   # a Kubernetes Secret with the plugin's credentials\n```\n\n",
    );
    let _ = writeln!(
        out,
        "floe implements plugin API {PLUGIN_API}. Each plugin's `config` is typed: unknown keys are errors at \
         their line, with the closest known key. A credential is only ever a reference: a literal under a \
         credential key is reported and replaced by a `secret_ref`, and credential fields default to the key \
         of the same name in `connection_secret_ref`. `floe plugins --format json` prints all of this, \
         with each configuration's JSON Schema.\n"
    );
    for category in Category::ALL {
        let plugins: Vec<_> = all().iter().filter(|p| p.meta().category == category).collect();
        let _ = writeln!(out, "## {} (`plugins.{}`)\n", capitalized(category.title()), category.key());
        if let Some(d) = category.default_plugin() {
            let _ = writeln!(out, "Without a selection the platform uses `{d}`.\n");
        }
        out.push_str("| plugin | version | what it is | provides |\n|---|---|---|---|\n");
        for p in &plugins {
            let m = p.meta();
            let provides: Vec<String> = m.provides.iter().map(|c| format!("`{}:{}`", c.kind, c.value)).collect();
            let _ = writeln!(out, "| `{}` | {} | {} | {} |", m.name, m.version, m.summary, provides.join(" "));
        }
        out.push('\n');
        for p in &plugins {
            let m = p.meta();
            let _ = writeln!(out, "### `{}`\n", m.name);
            let schema = p.plugin().config_schema();
            let rows = config_rows(&schema);
            if rows.is_empty() {
                out.push_str("Takes no `config`.\n\n");
                continue;
            }
            out.push_str("| key | type | description |\n|---|---|---|\n");
            for (key, ty, description) in rows {
                let _ = writeln!(out, "| `{key}` | {ty} | {description} |");
            }
            out.push('\n');
        }
    }
    out.push_str(
        "## Compatibility\n\n\
         Requirements between categories, from each plugin's metadata. A selection that breaks one is \
         error E0118 at the manifest line, with the plugins that would work.\n\n",
    );
    out.push_str(&crate::compose::matrix_markdown());
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// (key, type, description) of each top-level property, sorted by key.
fn config_rows(schema: &Value) -> Vec<(String, String, String)> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    props
        .iter()
        .map(|(k, v)| {
            let mut ty = type_of(schema, v);
            if required.contains(&k.as_str()) {
                ty.push_str(", required");
            }
            let description =
                v.get("description").and_then(Value::as_str).unwrap_or("").replace('\n', " ").replace('|', "\\|");
            (k.clone(), ty, description)
        })
        .collect()
}

/// A short type name for a property schema.
fn type_of(root: &Value, v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return match (name, root.pointer(&format!("/$defs/{name}"))) {
            ("Credential", _) => "credential".to_owned(),
            (_, Some(def)) if def.get("properties").is_none() => type_of(root, def),
            _ => "object".to_owned(),
        };
    }
    if v.get("enum").is_some() {
        return enum_values(v);
    }
    for alt in ["anyOf", "oneOf"] {
        if let Some(alts) = v.get(alt).and_then(Value::as_array) {
            // A documented enum: one `const` per variant.
            let consts: Vec<String> = alts
                .iter()
                .filter_map(|a| a.get("const"))
                .map(|c| format!("`{}`", c.as_str().unwrap_or_default()))
                .collect();
            if !consts.is_empty() && consts.len() == alts.len() {
                return consts.join(" \\| ");
            }
            let types: Vec<String> =
                alts.iter().filter(|a| a.get("type") != Some(&Value::from("null"))).map(|a| type_of(root, a)).collect();
            return types.join(" or ");
        }
    }
    match v.get("type") {
        Some(Value::String(t)) if t == "array" => match v.get("items") {
            Some(items) => format!("list of {}", type_of(root, items)),
            None => "list".to_owned(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" or ")
        }
        _ => "any".to_owned(),
    }
}

fn enum_values(v: &Value) -> String {
    let values: Vec<String> = v
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|x| !x.is_null())
        .map(|x| format!("`{}`", x.as_str().map_or_else(|| x.to_string(), str::to_owned)))
        .collect();
    values.join(" \\| ")
}
