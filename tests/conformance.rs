//! floe against files it did not write: the Python implementation's demos,
//! fixtures and JSON Schemas, and the ODCS schema.
#![allow(clippy::disallowed_methods)] // tests read conformance files

mod common;

use std::path::Path;

use common::{conformance, copy_dir, floe, tree};

fn validator(path: &Path) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not validate:\n{}", errors.join("\n"));
}

#[test]
fn anchor_demo_builds_validates_and_leaks_no_secret() {
    let Some(conf) = conformance() else { return };
    let ws = tempfile::tempdir().unwrap();
    copy_dir(&conf.join("anchor-demo/demo"), ws.path());
    let r = floe(ws.path(), &["build", "//..."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The inline credential is reported, and replaced by a reference everywhere.
    assert!(
        r.stderr.contains("warning[E0501]: inline credential at `plugins.catalog.config.oauth2.client_secret`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("demo-secret") && !r.stdout.contains("demo-secret"), "the secret was printed");
    let v = validator(&conf.join("schemas/anchor/CompiledArtifacts.schema.json"));
    for product in ["customer-360", "financial-risk", "iot-telemetry"] {
        let path = ws.path().join("floe-out").join(product).join("compiled_artifacts.json");
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_valid(&v, &doc, product);
        assert_eq!(doc["mode"], "centralized");
        assert_eq!(doc["inheritance_chain"][0]["name"], "floe-demo-platform");
        assert!(!doc["identity"]["domain"].as_str().unwrap().is_empty());
        let secret = &doc["plugins"]["catalog"]["config"]["oauth2"]["client_secret"]["secret_ref"];
        assert_eq!(secret["name"], "floe-catalog-polaris");
    }
    for dir in ["floe-out", ".floe"] {
        for (file, bytes) in tree(&ws.path().join(dir)) {
            assert!(
                !bytes.windows(b"demo-secret".len()).any(|w| w == b"demo-secret"),
                "the inline secret leaked into {dir}/{file}"
            );
        }
    }
}

#[test]
fn hello_orders_compiles_against_the_demo_manifest() {
    let Some(conf) = conformance() else { return };
    let out = tempfile::tempdir().unwrap();
    let demo = conf.join("anchor-demo");
    let r = floe(
        &demo,
        &[
            "platform",
            "compile",
            "--spec",
            "examples/hello-orders/floe.yaml",
            "--manifest",
            "demo/manifest.yaml",
            "--output",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("compiled_artifacts.json")).unwrap()).unwrap();
    assert_valid(&validator(&conf.join("schemas/anchor/CompiledArtifacts.schema.json")), &doc, "hello-orders");
    assert_eq!(doc["mode"], "simple");
    assert_eq!(doc["metadata"]["product_name"], "hello-orders");
    assert!(out.path().join("profiles.yml").exists());
}

#[test]
fn every_floe_spec_fixture_is_judged_like_the_python_models() {
    let Some(conf) = conformance() else { return };
    let inline = conf.join("anchor-fixtures/inline");
    let index: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(inline.join("_index.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut seen = 0;
    for entry in index.iter().filter(|e| e["kind"] == "FloeSpec") {
        seen += 1;
        let file = entry["file"].as_str().unwrap();
        let loaded = floe_schemas::load::<floe_schemas::FloeSpec>(file, &std::fs::read(inline.join(file)).unwrap());
        let valid = entry["valid"].as_bool().unwrap();
        if valid == loaded.has_errors() {
            failures.push(format!("{file}: expected valid={valid}, got {:?}", loaded.diagnostics));
        }
    }
    assert_eq!(seen, 14);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn anchor_demo_products_load() {
    let Some(conf) = conformance() else { return };
    for spec in ["demo/customer-360", "demo/financial-risk", "demo/iot-telemetry", "examples/hello-orders"] {
        let path = conf.join("anchor-demo").join(spec).join("floe.yaml");
        let loaded = floe_schemas::load::<floe_schemas::FloeSpec>("floe.yaml", &std::fs::read(path).unwrap());
        assert!(!loaded.has_errors(), "{spec}: {:?}", loaded.diagnostics);
    }
}

#[test]
fn generated_data_contracts_validate_against_odcs() {
    let Some(conf) = conformance() else { return };
    let ws = common::workspace("mesh");
    common::build_json(ws.path());
    let v = validator(&conf.join("schemas/odcs-json-schema-v3.1.0.json"));
    let mut contracts = 0;
    for product in ["sales/orders", "sales/customers", "finance/revenue"] {
        let path = ws.path().join("floe-out").join(product).join("compiled_artifacts.json");
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for c in doc["data_contracts"].as_array().unwrap() {
            assert_valid(&v, c, product);
            contracts += 1;
        }
    }
    assert_eq!(contracts, 3);
}

#[test]
fn warnings_follow_their_lines_through_a_comment_edit() {
    let Some(conf) = conformance() else { return };
    let ws = tempfile::tempdir().unwrap();
    copy_dir(&conf.join("anchor-demo/demo"), ws.path());
    let first = floe(ws.path(), &["build", "//..."]);
    assert!(first.stderr.contains("--> manifest.yaml:56:24"), "{}", first.stderr);
    let manifest = ws.path().join("manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("# Reviewed.\n{text}")).unwrap();
    let second = floe(ws.path(), &["build", "//...", "--format", "json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let report = second.json();
    assert_eq!(report["summary"]["built"], 0, "a comment changes no derivation");
    let lines: Vec<u64> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["file"] == "manifest.yaml")
        .map(|d| d["span"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [57], "the warning moved with its line");
}
