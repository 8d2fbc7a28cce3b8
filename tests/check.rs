//! `floe check`: every guardrail, no outputs; SARIF for code-scanning tools.
#![allow(clippy::disallowed_methods)] // tests read schemas and workspaces on disk

mod common;

use common::{conformance, floe, repo, workspace};

#[test]
fn check_writes_nothing_and_passes_a_valid_workspace() {
    let ws = workspace("mesh");
    let r = floe(ws.path(), &["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("checked 12 packages: no problems"), "{}", r.stderr);
    assert!(!ws.path().join("floe-out").exists() && !ws.path().join(".floe").exists());
    assert_eq!(floe(ws.path(), &["build", "--format", "sarif"]).code, 2, "SARIF is the format of check");
}

#[test]
fn sarif_reports_validate_against_sarif_2_1_0() {
    let Some(conf) = conformance() else { return };
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(conf.join("schemas/sarif-schema-2.1.0.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = repo().join("testdata/invalid");
    let mut names: Vec<_> = std::fs::read_dir(&cases).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert!(names.len() >= 30);
    for name in names {
        let tmp = tempfile::tempdir().unwrap();
        common::copy_dir(&cases.join(&name), tmp.path());
        let r = floe(tmp.path(), &["check", "--format", "sarif"]);
        let what = name.to_string_lossy();
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        let log = r.json();
        let errors: Vec<String> =
            validator.iter_errors(&log).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{what}: SARIF does not validate:\n{}", errors.join("\n"));
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert!(results.iter().any(|r| r["level"] == "error"), "{what}: no error result");
        for result in results {
            let rule = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][rule]["id"], result["ruleId"], "{what}");
            let region = &result["locations"][0]["physicalLocation"]["region"];
            assert!(region["startLine"].as_u64().unwrap_or(0) >= 1, "{what}: a result without a line: {result}");
        }
    }
}
