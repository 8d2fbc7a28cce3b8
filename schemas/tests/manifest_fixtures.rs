#![allow(clippy::disallowed_methods)] // tests read the conformance files and the CI flag
//! The manifest model against the Python implementation's test-suite: every
//! manifest its models accept loads without errors, every one they reject gets at
//! least one error, and the demo and quickstart manifests load.

use std::path::Path;

use floe_schemas::{Diagnostic, Loaded, Manifest, load};

mod common;

use common::conformance;

fn load_file(root: &Path, relative: &str) -> Loaded<Manifest> {
    let path = root.join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    load::<Manifest>(relative, &bytes)
}

fn errors(loaded: &Loaded<Manifest>) -> Vec<&Diagnostic> {
    loaded.diagnostics.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn anchor_inline_manifests() {
    let Some(root) = conformance() else { return };
    let inline = root.join("anchor-fixtures/inline");
    let index_path = inline.join("_index.json");
    let index_text =
        std::fs::read_to_string(&index_path).unwrap_or_else(|e| panic!("read {}: {e}", index_path.display()));
    let index: serde_json::Value = serde_json::from_str(&index_text).expect("_index.json is JSON");
    let entries = index.as_array().expect("_index.json is a list");

    let (mut valid, mut invalid) = (0, 0);
    let mut failures = Vec::new();
    for entry in entries.iter().filter(|e| e["kind"] == "Manifest") {
        let file = entry["file"].as_str().expect("entry has a file");
        let loaded = load_file(&inline, file);
        let errs = errors(&loaded);
        if entry["valid"] == true {
            valid += 1;
            if !errs.is_empty() || loaded.value.is_none() {
                failures.push(format!("{file}: accepted by the Python models, rejected here: {errs:#?}"));
            }
        } else {
            invalid += 1;
            if errs.is_empty() {
                failures.push(format!("{file}: rejected by the Python models, accepted here"));
            }
        }
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    eprintln!("{valid} valid and {invalid} invalid manifests checked");
    assert!(valid > 0 && invalid > 0, "the index lists no Manifest fixtures of one kind");
    assert!(failures.is_empty(), "{} of {} manifests disagree with the Python models", failures.len(), valid + invalid);
}

#[test]
fn demo_and_quickstart_manifests_load() {
    let Some(root) = conformance() else { return };
    for file in
        ["anchor-demo/demo/manifest.yaml", "anchor-fixtures/packages/floe-core/tests/fixtures/quickstart/manifest.yaml"]
    {
        let loaded = load_file(&root, file);
        assert!(errors(&loaded).is_empty(), "{file}: {:#?}", loaded.diagnostics);
        assert!(loaded.value.is_some(), "{file} has no value");
    }
}
