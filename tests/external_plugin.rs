//! Out-of-tree plugins: `testdata/external-plugin` selects a compute plugin
//! that lives in `floe-plugins/acme-duckdb`. Its answers are cached like any
//! derivation, its executable's hash is part of the keys, and it runs with an
//! empty environment in an empty directory (the plugin refuses otherwise).
#![allow(clippy::disallowed_methods)] // tests edit the plugin

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn build(root: &Path) -> (common::Run, serde_json::Value) {
    let r = common::floe(root, &["build", "//...", "--format", "json"]);
    let report = serde_json::from_str(&r.stdout).unwrap_or(serde_json::Value::Null);
    (r, report)
}

fn write_plugin(root: &Path, text: &str) {
    let path = root.join("floe-plugins/acme-duckdb");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_external_plugin_is_cached_and_rebuilt_when_it_changes() {
    let ws = common::workspace("external-plugin");
    let root = ws.path();
    // Whatever floe's own environment holds, the plugin sees none of it.
    let (r, report) = build(root);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(common::with_status(&report, "built").contains(&"//shop:dbt-profile".to_owned()));
    let profile = std::fs::read_to_string(root.join("floe-out/shop/profiles.yml")).unwrap();
    assert!(profile.contains("path: \"/data/acme/shop.duckdb\""), "{profile}");
    assert!(profile.contains("threads: 4"), "{profile}");
    let drv = std::fs::read_to_string(root.join("floe-out/shop/floe.drv.json")).unwrap();

    // Unchanged: nothing runs again.
    let (r, report) = build(root);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(common::with_status(&report, "built").is_empty(), "{report:#}");

    // A new executable (one more comment) is a new input: what it produces rebuilds.
    let original = std::fs::read_to_string(root.join("floe-plugins/acme-duckdb")).unwrap();
    write_plugin(root, &format!("{original}# tuned\n"));
    let (r, report) = build(root);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let built = common::with_status(&report, "built");
    assert!(built.contains(&"//shop:dbt-profile".to_owned()), "{built:?}");
    assert!(built.contains(&"//shop:artifacts".to_owned()), "the artifacts embed the profile: {built:?}");
    assert!(!built.contains(&"//shop:enforcement".to_owned()), "enforcement does not read it: {built:?}");
    assert_ne!(std::fs::read_to_string(root.join("floe-out/shop/floe.drv.json")).unwrap(), drv);
}

#[test]
fn a_plugin_that_breaks_the_protocol_is_a_located_error_and_caches_nothing() {
    let ws = common::workspace("external-plugin");
    let root = ws.path();
    let original = std::fs::read_to_string(root.join("floe-plugins/acme-duckdb")).unwrap();

    // Too slow: killed at the time limit, together with what it started.
    write_plugin(root, "#!/bin/sh\nsleep 60 &\nsleep 60\n");
    let r = common::floe(root, &["build", "//..."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0119]"), "{}", r.stderr);
    assert!(r.stderr.contains("did not answer `describe` within 10 s"), "{}", r.stderr);
    assert!(r.stderr.contains("manifest.yaml:7:11"), "at the selection's type: {}", r.stderr);

    // Not JSON, and a failing exit with its last stderr line.
    write_plugin(root, "#!/bin/sh\necho hello\n");
    let r = common::floe(root, &["build", "//..."]);
    assert!(r.stderr.contains("with something that is not JSON"), "{}", r.stderr);
    write_plugin(root, "#!/bin/sh\necho 'no licence found' >&2\nexit 3\n");
    let r = common::floe(root, &["build", "//..."]);
    assert!(r.stderr.contains("exited with status 3 on `describe`: no licence found"), "{}", r.stderr);

    // A config the plugin's schema rejects, at the key.
    write_plugin(root, &original);
    let manifest = std::fs::read_to_string(root.join("manifest.yaml")).unwrap();
    std::fs::write(root.join("manifest.yaml"), manifest.replace("threads: 4", "threads: 0, colour: red")).unwrap();
    let r = common::floe(root, &["build", "//..."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0116]: compute `acme-duckdb`: unknown key `colour`"), "{}", r.stderr);
    assert!(r.stderr.contains("`threads`: 0 is less than the minimum of 1"), "{}", r.stderr);

    // Fixed: it builds, nothing failed was cached.
    std::fs::write(root.join("manifest.yaml"), manifest).unwrap();
    let (r, report) = build(root);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(common::with_status(&report, "built").contains(&"//shop:dbt-profile".to_owned()));
}

#[test]
fn a_machine_that_cannot_run_a_plugin_is_an_infrastructure_failure() {
    let ws = common::workspace("external-plugin");
    let root = ws.path();
    // The plugin's temporary directory cannot be made under a file.
    let mut cmd = common::floe_cmd(root);
    cmd.args(["build", "//..."]).env("TMPDIR", root.join("manifest.yaml"));
    let r = common::run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!r.stderr.contains("E0119"), "not the plugin's fault: {}", r.stderr);
    assert!(!root.join("floe-out").exists(), "nothing was written");
    // With a usable machine it builds.
    let (r, _) = build(root);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn what_reads_a_profile_the_plugin_failed_to_write_fails_with_it_and_says_nothing_more() {
    let ws = common::workspace("external-plugin");
    let root = ws.path();
    // The plugin checks the platform, then fails on the product's profile.
    let original = std::fs::read_to_string(root.join("floe-plugins/acme-duckdb")).unwrap();
    let failing = original.replace(
        "    if step == \"dbt_profile\":\n",
        "    if step == \"dbt_profile\":\n        return answer({\"error\": \"no licence for profiles\"})\n",
    );
    assert_ne!(failing, original);
    write_plugin(root, &failing);
    let (r, report) = build(root);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let codes: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    // The runs' values and objects read the profile (and the artifacts,
    // which embed it): they fail with it, and only the plugin's error is
    // reported, not a bug in floe.
    assert_eq!(codes, ["E0119"], "{:#}", report["diagnostics"]);
    assert!(report["diagnostics"][0]["message"].as_str().unwrap().contains("no licence for profiles"));
    let failed = common::with_status(&report, "failed");
    for target in ["//shop:artifacts", "//shop:dbt-profile", "//shop:helm-values", "//shop:k8s"] {
        assert!(failed.contains(&target.to_owned()), "{target}: {failed:?}");
    }
}
