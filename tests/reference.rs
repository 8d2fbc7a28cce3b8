//! The reference pages of `floe.yaml` and `manifest.yaml` are generated from
//! the JSON Schemas (`floe_schemas::reference`). This test regenerates them and
//! fails when a checked-in copy was stale, and holds the schemas to describing
//! every key: the descriptions are what editors show and what the pages say.
#![allow(clippy::disallowed_methods)] // a test that maintains checked-in files

mod common;

use serde_json::Value;

#[test]
fn schema_references_are_fresh() {
    let mut stale = Vec::new();
    for (page, fresh) in [
        ("docs/reference/floe-yaml.md", floe_schemas::reference::floe_yaml_markdown()),
        ("docs/reference/manifest.md", floe_schemas::reference::manifest_markdown()),
    ] {
        let path = common::repo().join(page);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            std::fs::write(&path, &fresh).unwrap();
            stale.push(page);
        }
    }
    assert!(stale.is_empty(), "{stale:?} were stale and have been regenerated: commit them");
}

/// `(path, property)` for every property anywhere in `schema`: of the root,
/// of each definition, of alternatives and list items.
fn properties<'a>(path: &str, schema: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "properties" => {
                        for (name, property) in value.as_object().into_iter().flatten() {
                            let at = format!("{path}.{name}");
                            out.push((at.clone(), property));
                            properties(&at, property, out);
                        }
                    }
                    "$defs" => {
                        for (name, def) in value.as_object().into_iter().flatten() {
                            properties(&format!("#/$defs/{name}"), def, out);
                        }
                    }
                    // `default` and `examples` hold values, not schemas.
                    "default" | "examples" | "const" | "enum" => {}
                    _ => properties(path, value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| properties(path, item, out)),
        _ => {}
    }
}

#[test]
fn every_input_key_has_a_description() {
    for (name, schema) in [
        ("floe", floe_schemas::schema_of::<floe_schemas::FloeSpec>()),
        ("manifest", floe_schemas::schema_of::<floe_schemas::Manifest>()),
    ] {
        let mut all = Vec::new();
        properties("", &schema, &mut all);
        assert!(all.len() > 50, "{name}: only {} properties found", all.len());
        if name == "manifest" {
            // Keys without a field of their own: a map's enum keys and a tagged enum's tag.
            for deep in ["#/$defs/EnvironmentConfig.gates.security_scan", "#/$defs/CustomRule.type"] {
                assert!(all.iter().any(|(path, _)| path == deep), "{deep} is not walked");
            }
        }
        let bare: Vec<&str> = all
            .iter()
            .filter(|(_, p)| p.get("description").and_then(Value::as_str).is_none_or(|d| d.trim().is_empty()))
            .map(|(path, _)| path.as_str())
            .collect();
        assert!(bare.is_empty(), "{name}.schema.json: these keys have no description (add a doc comment): {bare:#?}");
    }
}
