//! `floe init` and `floe new product`: a workspace that builds clean the
//! first time, files editors can check, and a product its domain must approve.
#![allow(clippy::disallowed_methods)] // tests read the scaffolded files

mod common;

use std::path::Path;

use common::{floe, tree};

/// Builds `//...` and returns its diagnostics: none, for a scaffolded workspace.
fn build_clean(ws: &Path) {
    let r = floe(ws, &["build", "//...", "--format", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["diagnostics"], serde_json::json!([]), "a new workspace builds without a finding");
}

fn files(ws: &Path) -> Vec<String> {
    tree(ws)
        .into_iter()
        .map(|(rel, _)| rel)
        .filter(|r| !r.starts_with("floe-out") && !r.starts_with(".floe/"))
        .collect()
}

#[test]
fn a_centralized_workspace_builds_clean_on_the_first_try() {
    let tmp = tempfile::tempdir().unwrap();
    let r = floe(tmp.path(), &["init", "Acme Data"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("next: floe -C "), "{}", r.stderr);
    let ws = tmp.path().join("Acme Data");
    insta::assert_snapshot!("centralized_files", files(&ws).join("\n"));
    let manifest = std::fs::read_to_string(ws.join("manifest.yaml")).unwrap();
    assert!(manifest.contains("  name: acme-data\n"), "named after its directory:\n{manifest}");
    insta::assert_snapshot!("centralized_floe_yaml", std::fs::read_to_string(ws.join("example/floe.yaml")).unwrap());
    build_clean(&ws);
}

#[test]
fn a_mesh_workspace_has_an_enterprise_a_domain_and_a_product() {
    let tmp = tempfile::tempdir().unwrap();
    let r = floe(tmp.path(), &["init", "--mesh", "--domain", "sales", "--product", "orders", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed = r.json();
    assert_eq!(listed["next"], format!("floe -C {} build //sales/orders", tmp.path().display()));
    let ws = tmp.path();
    insta::assert_snapshot!("mesh_files", files(ws).join("\n"));
    insta::assert_snapshot!("mesh_domain_manifest", std::fs::read_to_string(ws.join("sales/manifest.yaml")).unwrap());
    build_clean(ws);
}

#[test]
fn init_writes_nothing_where_a_workspace_is() {
    let ws = common::workspace("centralized");
    let before = tree(ws.path());
    let r = floe(ws.path(), &["init"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`manifest.yaml`"), "{}", r.stderr);
    assert!(tree(ws.path()) == before, "nothing was written");
    let r = floe(ws.path(), &["init", "x", "--name", "Not_A_Name"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--name `Not_A_Name`"), "{}", r.stderr);
    let r = floe(ws.path(), &["init", "x", "--domain", "d"]);
    assert_eq!(r.code, 2, "--domain needs --mesh: {}", r.stderr);
}

#[test]
fn a_product_its_domain_does_not_approve_is_refused_with_the_reason() {
    let ws = tempfile::tempdir().unwrap();
    assert_eq!(floe(ws.path(), &["init", "--mesh", "-q"]).code, 0);
    let before = tree(ws.path());
    let r = floe(ws.path(), &["new", "product", "//analytics/orders"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0205]: product `orders` is not approved by its domain"), "{}", r.stderr);
    assert!(r.stderr.contains("analytics/manifest.yaml:"), "points at the domain's list: {}", r.stderr);
    assert!(tree(ws.path()) == before, "nothing was written");

    common::edit(&ws.path().join("analytics/manifest.yaml"), |t| t.replace("[example]", "[example, orders]"));
    // A label relative to where floe runs, like every other command's.
    let r = floe(&ws.path().join("analytics"), &["new", "product", "orders"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ws.path().join("analytics/orders/models/fct_orders.sql").is_file());
    build_clean(ws.path());
    let r = floe(ws.path(), &["new", "product", "//analytics/orders"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already a product"), "{}", r.stderr);
    assert_eq!(floe(ws.path(), &["new", "product", "//analytics/Orders"]).code, 2);
    assert_eq!(floe(ws.path(), &["new", "product", "//analytics/x:artifacts"]).code, 2);
}

/// Every scaffolded YAML file names a schema that is there, and that schema
/// accepts the file: what an editor with yaml-language-server checks.
#[test]
fn scaffolded_files_name_schemas_that_accept_them() {
    let ws = tempfile::tempdir().unwrap();
    assert_eq!(floe(ws.path(), &["init", "--mesh", "-q"]).code, 0);
    let mut checked = 0;
    for (rel, bytes) in tree(ws.path()) {
        let text = String::from_utf8(bytes).unwrap();
        let Some(schema) = text.lines().next().and_then(|l| l.strip_prefix("# yaml-language-server: $schema=")) else {
            continue;
        };
        let path = ws.path().join(&rel).parent().unwrap().join(schema);
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let node = floe_schemas::yaml::parse(&rel, text.as_bytes()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&node.to_json()).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        checked += 1;
    }
    assert_eq!(checked, 3, "the enterprise and domain manifests and the product's floe.yaml");
}
