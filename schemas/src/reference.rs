//! `docs/reference/floe-yaml.md` and `docs/reference/manifest.md`, generated
//! from the JSON Schemas that `floe schema` prints (a test keeps the checked-in
//! pages current): every key with its path, type, default, allowed values and
//! description, the description being the doc comment of its model field.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{FloeSpec, Manifest};

/// The reference page of `floe.yaml`.
pub fn floe_yaml_markdown() -> String {
    page(
        "floe.yaml",
        "floe",
        "A data product: its dbt models (`transforms`), when they run, the tables it offers other products \
         (`outputPorts`), the ones it reads (`inputPorts`) and the files it loads (`ingestion`). One `floe.yaml` \
         sits in each product directory, beside the dbt project.",
        &crate::schema_of::<FloeSpec>(),
    )
}

/// The reference page of `manifest.yaml`.
pub fn manifest_markdown() -> String {
    page(
        "manifest.yaml",
        "manifest",
        "A platform: the plugin of each category, the governance every product is checked against, and settings \
         floe copies into products' compiled artifacts or keeps in `manifest.resolved.json`. The workspace root holds one; in a Data Mesh (`scope: enterprise`) each domain \
         directory holds another (`scope: domain`), which inherits the root's: plugin selections and maps merge, \
         rule lists add up, and governance may only get stricter.",
        &crate::schema_of::<Manifest>(),
    )
}

/// One key of a document.
struct Row {
    path: String,
    ty: String,
    default: String,
    allowed: String,
    description: String,
}

fn page(file: &str, schema_name: &str, intro: &str, schema: &Value) -> String {
    let mut out = format!(
        "# `{file}` reference\n\n\
         <!-- Generated from the JSON Schema by `cargo test --test reference`; do not edit. -->\n\n\
         {intro}\n\n\
         Every key below, with its type, default, allowed values and meaning. An unknown key is an error \
         (with the closest known key as a hint), and so is a value of the wrong type or outside what the key \
         allows; `floe check` reports every such problem at its line and column.\n\n\
         ## Editor support\n\n\
         `floe schema {schema_name}` prints the JSON Schema this page is generated from. `floe init` writes all of \
         floe's schemas into a new workspace's `schemas/`, and `floe schema --write schemas` writes them again (after \
         an upgrade of floe, say). Editors that use yaml-language-server then complete keys, check values and show \
         these descriptions in any `{file}` whose first line names the schema by a path relative to the file, as \
         the files `floe init` writes do:\n\n\
         ```yaml\n# yaml-language-server: $schema=../schemas/{schema_name}.schema.json\n```\n"
    );
    let mut walk = Walk { root: schema, expanded: Vec::new() };
    let mut top = Vec::new();
    let mut sections: Vec<(String, Vec<Row>)> = Vec::new();
    for (key, property, required) in properties(schema) {
        let mut rows = Vec::new();
        walk.property(key, property, required, &mut rows);
        let mut rows = rows.into_iter();
        top.extend(rows.next());
        let below: Vec<Row> = rows.collect();
        if !below.is_empty() {
            sections.push((key.to_owned(), below));
        }
    }
    out.push_str("\n## Top level\n\n");
    table(&mut out, &top);
    for (key, rows) in sections {
        let _ = write!(out, "\n## `{key}`\n\n");
        table(&mut out, &rows);
    }
    out
}

fn table(out: &mut String, rows: &[Row]) {
    out.push_str("| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(out, "| `{}` | {} | {} | {} | {} |", r.path, r.ty, r.default, r.allowed, r.description);
    }
}

/// The properties of an object schema: the required ones in the order the
/// model declares them, then the others by name.
fn properties(schema: &Value) -> Vec<(&str, &Value, bool)> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut out: Vec<(&str, &Value, bool)> =
        required.iter().filter_map(|k| props.get_key_value(*k)).map(|(k, v)| (k.as_str(), v, true)).collect();
    out.extend(props.iter().filter(|(k, _)| !required.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v, false)));
    out
}

struct Walk<'a> {
    root: &'a Value,
    /// Definitions whose keys are listed already, with the path they are listed under.
    expanded: Vec<(String, String)>,
}

impl<'a> Walk<'a> {
    /// The definition a `$ref` names, with its name.
    fn resolve(&self, v: &'a Value) -> Option<(&'a str, &'a Value)> {
        let name = v.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
        Some((name, self.root.pointer(&format!("/$defs/{name}"))?))
    }

    /// `v` without its `null` alternative and with its `$ref` followed: the
    /// schema the value must satisfy, and the definition it came from.
    fn target(&self, v: &'a Value) -> (&'a Value, Option<&'a str>) {
        let v = match v.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) {
            Some([a, b]) if is_null(b) => a,
            Some([a, b]) if is_null(a) => b,
            _ => v,
        };
        match self.resolve(v) {
            Some((name, def)) => (def, Some(name)),
            None => (v, None),
        }
    }

    /// The row of one key, then the rows of the keys below it.
    fn property(&mut self, path: &str, v: &'a Value, required: bool, rows: &mut Vec<Row>) {
        let (target, def) = self.target(v);
        let mut ty = self.type_of(v);
        if required {
            ty.push_str(", required");
        }
        let description = one_line(v.get("description").or_else(|| target.get("description")));
        let index = rows.len();
        rows.push(Row {
            path: path.to_owned(),
            ty,
            default: v.get("default").map(|d| default(d, target)).unwrap_or_default(),
            allowed: self.allowed(target),
            description,
        });
        if let Some(name) = def
            && has_keys(target)
        {
            if let Some((_, at)) = self.expanded.iter().find(|(n, _)| n == name) {
                let note = format!(" Its keys are those of `{at}`.");
                rows[index].description.push_str(&note);
                return;
            }
            self.expanded.push((name.to_owned(), path.to_owned()));
        }
        self.below(path, target, rows);
    }

    /// The rows of the keys below a value of schema `v` at `path`.
    fn below(&mut self, path: &str, v: &'a Value, rows: &mut Vec<Row>) {
        for (key, property, required) in properties(v) {
            self.property(&format!("{path}.{key}"), property, required, rows);
        }
        if let Some(items) = v.get("items") {
            let (target, _) = self.target(items);
            self.below(&format!("{path}[]"), target, rows);
        }
        // A map's entries, when they have keys of their own.
        if let Some(values) = v.get("additionalProperties").filter(|a| a.is_object())
            && has_keys(self.target(values).0)
        {
            self.property(&format!("{path}.<name>"), values, false, rows);
        }
        // Alternatives: a tagged enum's variants (each with its `type`), or
        // untagged forms that are all objects (their keys are all listed).
        for alternative in v.get("oneOf").or_else(|| v.get("anyOf")).and_then(Value::as_array).into_iter().flatten() {
            let (target, def) = self.target(alternative);
            if let Some(name) = def
                && has_keys(target)
            {
                if let Some((_, at)) = self.expanded.iter().find(|(n, _)| n == name) {
                    let note = format!(" Its keys are those of `{at}`.");
                    if let Some(row) = rows.iter_mut().rev().find(|r| r.path == path) {
                        row.description.push_str(&note);
                    }
                    continue;
                }
                self.expanded.push((name.to_owned(), path.to_owned()));
            }
            let tag = target.pointer("/properties/type/const").and_then(Value::as_str);
            match tag {
                Some(tag) => {
                    let at = match path.strip_suffix("[]") {
                        Some(list) => format!("{list}[type={tag}]"),
                        None => format!("{path}(type={tag})"),
                    };
                    rows.push(Row {
                        path: at.clone(),
                        ty: "object".to_owned(),
                        default: String::new(),
                        allowed: String::new(),
                        description: one_line(target.get("description")),
                    });
                    for (key, property, required) in properties(target).into_iter().filter(|(k, _, _)| *k != "type") {
                        self.property(&format!("{at}.{key}"), property, required, rows);
                    }
                }
                None => self.below(path, target, rows),
            }
        }
    }

    /// A short type name: `string`, `list of object`, `map of string`, `boolean or object`.
    fn type_of(&self, v: &Value) -> String {
        if let Some((_, def)) = self.resolve(v) {
            return self.type_of(def);
        }
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            let mut types: Vec<&str> = values.iter().filter(|x| !x.is_null()).map(json_type).collect();
            types.dedup();
            return types.join(" or ");
        }
        if let Some(c) = v.get("const") {
            return json_type(c).to_owned();
        }
        if let Some(alternatives) = v.get("anyOf").or_else(|| v.get("oneOf")).and_then(Value::as_array) {
            let mut types: Vec<String> = alternatives.iter().filter(|a| !is_null(a)).map(|a| self.type_of(a)).collect();
            types.dedup();
            return types.join(" or ");
        }
        let one = |t: &str| match t {
            "array" => match v.get("items") {
                Some(items) => format!("list of {}", self.type_of(items)),
                None => "list".to_owned(),
            },
            "object" => match v.get("additionalProperties").filter(|a| a.is_object()) {
                Some(values) if v.get("properties").is_none() => format!("map of {}", self.type_of(values)),
                _ => "object".to_owned(),
            },
            other => other.to_owned(),
        };
        match v.get("type") {
            Some(Value::String(t)) => one(t),
            Some(Value::Array(ts)) => {
                ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").map(one).collect::<Vec<_>>().join(" or ")
            }
            _ => "any".to_owned(),
        }
    }

    /// What a value may be: its enumeration, pattern, range and lengths.
    fn allowed(&self, v: &Value) -> String {
        let mut out = Vec::new();
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            let values: Vec<String> = values.iter().filter(|x| !x.is_null()).map(|x| code(&scalar(x))).collect();
            out.push(values.join(" \\| "));
        }
        if let Some(c) = v.get("const") {
            out.push(code(&scalar(c)));
        }
        if let Some(p) = v.get("pattern").and_then(Value::as_str) {
            out.push(format!("matches {}", code(p)));
        }
        let number = |k: &str| v.get(k).filter(|n| n.is_number()).map(Value::to_string);
        match (number("minimum"), number("maximum")) {
            (Some(lo), Some(hi)) => out.push(format!("{lo} to {hi}")),
            (Some(lo), None) => out.push(format!("at least {lo}")),
            (None, Some(hi)) => out.push(format!("at most {hi}")),
            (None, None) => {}
        }
        let count = |k: &str| v.get(k).and_then(Value::as_u64);
        for (min, max, unit) in [("minLength", "maxLength", "characters"), ("minItems", "maxItems", "items")] {
            match (count(min), count(max)) {
                (Some(lo), Some(hi)) => out.push(format!("{lo} to {hi} {unit}")),
                (Some(lo), None) if lo > 0 => out.push(format!("at least {lo} {}", singular(unit, lo))),
                (_, Some(hi)) => out.push(format!("at most {hi} {unit}")),
                _ => {}
            }
        }
        if let Some(items) = v.get("items") {
            let (target, _) = self.target(items);
            let inner = self.allowed(target);
            if !inner.is_empty() {
                out.push(format!("each: {inner}"));
            }
        }
        out.join("; ")
    }
}

/// A description on one line of a table cell.
fn one_line(description: Option<&Value>) -> String {
    let text = description.and_then(Value::as_str).unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn is_null(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

/// Whether values of schema `v` have keys of their own worth listing.
fn has_keys(v: &Value) -> bool {
    v.get("properties").is_some() || v.get("oneOf").is_some() || v.get("anyOf").is_some()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `text` as inline code in a table cell.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.contains('`') { format!("`` {text} ``") } else { format!("`{text}`") }
}

fn singular(unit: &str, n: u64) -> &str {
    if n == 1 { unit.trim_end_matches('s') } else { unit }
}

/// A default as the table shows it: the value, or where an object's are.
fn default(d: &Value, target: &Value) -> String {
    match d {
        Value::Object(m) if !m.is_empty() && has_keys(target) => "see its keys".to_owned(),
        other => code(&scalar(other)),
    }
}
