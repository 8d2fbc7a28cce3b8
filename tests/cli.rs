//! The command line as a user meets it: determinism, exit codes, labels,
//! `hash`, `why`, `query`, `clean`, `schema`.
#![allow(clippy::disallowed_methods)] // tests set up workspaces on disk

mod common;

use common::{build_json, edit, floe, floe_cmd, run, tree, workspace};

#[test]
fn outputs_are_byte_identical_across_directories_and_environments() {
    let a = workspace("mesh");
    let b = workspace("mesh");
    let mut cmd = floe_cmd(a.path());
    cmd.args(["build", "//..."]).env("TZ", "America/Los_Angeles").env("LANG", "C");
    assert_eq!(run(cmd).code, 0);
    let mut cmd = floe_cmd(b.path());
    cmd.args(["build", "//...", "-j", "1"])
        .env("TZ", "Asia/Kolkata")
        .env("LANG", "de_DE.UTF-8")
        .env("HOME", "/nowhere");
    assert_eq!(run(cmd).code, 0);
    let (ta, tb) = (tree(&a.path().join("floe-out")), tree(&b.path().join("floe-out")));
    assert_eq!(ta.len(), 132, "120 outputs and 12 derivation records");
    assert!(ta == tb, "floe-out differs between two directories");
}

/// The allocator's settings are built in (`.cargo/config.toml`): a floe
/// built without them would keep what a 10,000-product build's batches
/// free, and peak 12-18 MB higher (docs/benchmarks.md, "jemalloc").
#[cfg(not(target_env = "msvc"))]
#[test]
fn the_allocator_hands_freed_pages_back_at_once() {
    let ws = tempfile::tempdir().unwrap();
    let mut cmd = floe_cmd(ws.path());
    cmd.arg("--version").env("_RJEM_MALLOC_CONF", "stats_print:true");
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for setting in ["opt.dirty_decay_ms: 0 ", "opt.muzzy_decay_ms: 0 "] {
        assert!(r.stderr.contains(setting), "jemalloc's statistics lack `{setting}`:\n{}", r.stderr);
    }
}

#[test]
fn source_date_epoch_is_the_only_time_in_outputs() {
    let ws = workspace("centralized");
    let mut cmd = floe_cmd(ws.path());
    cmd.args(["build"]).env("SOURCE_DATE_EPOCH", "1700000000");
    assert_eq!(run(cmd).code, 0);
    let text = std::fs::read_to_string(ws.path().join("floe-out/orders/compiled_artifacts.json")).unwrap();
    assert!(text.contains("\"compiled_at\": \"2023-11-14T22:13:20Z\""), "{text}");
    let mut cmd = floe_cmd(ws.path());
    cmd.args(["build", "--format", "json"]).env("SOURCE_DATE_EPOCH", "not-a-number");
    let r = run(cmd);
    assert_eq!(r.code, 2, "a malformed setting is a usage error");
    assert!(r.stderr.contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn exit_codes() {
    let ws = workspace("mesh");
    assert_eq!(floe(ws.path(), &["build", "--no-such-flag"]).code, 2);
    let outside = tempfile::tempdir().unwrap();
    let r = floe(outside.path(), &["build"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no workspace"), "{}", r.stderr);
    // A store that cannot be written is an infrastructure failure, not the user's.
    let blocker = ws.path().join("blocker");
    std::fs::write(&blocker, "a file where the store should be").unwrap();
    let r = floe(ws.path(), &["build", "--store", blocker.join("store").to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    edit(&ws.path().join("sales/orders/floe.yaml"), |s| s.replace("    tier: gold\n", "    tier: platinum\n"));
    assert_eq!(floe(ws.path(), &["build"]).code, 1);
}

#[test]
fn labels_select_packages_and_targets() {
    let ws = workspace("mesh");
    let r = floe(ws.path(), &["query", "//sales/..."]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "//sales\n//sales/customers\n//sales/orders\n//sales/pipeline-forecast\n");
    let r = floe(&ws.path().join("sales/orders"), &["query", ":dbt-profile", "--targets"]);
    assert_eq!(r.stdout, "//sales/orders:dbt-profile\n");
    let r = floe(&ws.path().join("finance"), &["query", "revenue", "../sales/orders"]);
    assert_eq!(r.stdout, "", "query takes one pattern");
    assert_eq!(r.code, 2);
    let r = floe(ws.path(), &["build", "//sales/order"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`//sales/order` matches no package"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `//sales/orders`?"), "{}", r.stderr);
    let r = floe(ws.path(), &["build", "//sales/orders:dbt-profil"]);
    assert!(r.stderr.contains("did you mean `//sales/orders:dbt-profile`?"), "{}", r.stderr);
    let report = {
        let r = floe(&ws.path().join("sales"), &["build", "orders:artifacts", "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    assert_eq!(common::with_status(&report, "built"), ["//sales/orders:artifacts"]);
}

#[test]
fn hash_computes_keys_without_building() {
    let ws = workspace("mesh");
    let r = floe(ws.path(), &["hash", "//finance/..."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 20);
    assert!(lines.iter().all(|l| l.starts_with("blake3:")));
    assert!(!ws.path().join("floe-out").exists() && !ws.path().join(".floe").exists(), "hash wrote nothing");
    let built = build_json(ws.path());
    let key =
        built["derivations"].as_array().unwrap().iter().find(|d| d["label"] == "//finance/revenue:artifacts").unwrap()
            ["key"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(r.stdout.contains(&format!("{key} //finance/revenue:artifacts")));
}

#[test]
fn why_names_the_changed_inputs_with_their_lines() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let r = floe(ws.path(), &["why", "//sales/orders:artifacts"]);
    assert_eq!(r.stdout, format!("{}\n", r.stdout.lines().next().unwrap()));
    assert!(r.stdout.contains("up to date"), "{}", r.stdout);
    edit(&ws.path().join("sales/manifest.yaml"), |s| s.replace("threads: 2", "threads: 6"));
    edit(&ws.path().join("sales/orders/floe.yaml"), |s| s.replace("cron: \"*/30 * * * *\"", "cron: \"*/15 * * * *\""));
    let r = floe(ws.path(), &["why", "//sales/orders:artifacts"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("input `platform` changed"), "{}", r.stdout);
    assert!(r.stdout.contains("platform: plugins.compute.config.threads  sales/manifest.yaml:13:16"), "{}", r.stdout);
    assert!(r.stdout.contains("input `spec` changed"), "{}", r.stdout);
    assert!(r.stdout.contains("spec: schedule.cron  sales/orders/floe.yaml:21:18"), "{}", r.stdout);
    let r = floe(ws.path(), &["why", "//sales/orders:dbt-profile", "--format", "json"]);
    let doc = r.json();
    // A profile reads the platform's compute view: the edit reaches it there.
    assert_eq!(doc[0]["inputs"][0]["input"], "platform");
    assert_eq!(doc[0]["inputs"][0]["leaves"][0]["path"], "platform: plugins.compute.config.threads");
    assert_eq!(doc[0]["inputs"][0]["leaves"][0]["line"], 13);
}

#[test]
fn clean_and_schema() {
    let ws = workspace("centralized");
    build_json(ws.path());
    assert_eq!(floe(ws.path(), &["clean"]).code, 0);
    assert!(!ws.path().join("floe-out").exists() && ws.path().join(".floe").exists());
    assert_eq!(floe(ws.path(), &["clean", "--all"]).code, 0);
    assert!(!ws.path().join(".floe").exists());
    let r = floe(ws.path(), &["schema"]);
    assert_eq!(r.stdout, "floe\nmanifest\ncompiled-artifacts\ndatacontract\n");
    let r = floe(ws.path(), &["schema", "floe"]);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(schema["title"], "FloeSpec");
    assert_eq!(floe(ws.path(), &["schema", "nope"]).code, 2);
}

#[test]
fn benchmark_workspaces_build() {
    // `floe-bench` measures builds of the workspaces it generates: they must build.
    let ws = common::bench_workspace(2, 3);
    let r = floe(ws.path(), &["build", "//..."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn test_workspaces_never_carry_what_a_build_left_in_the_tree() {
    // The README's first command builds `testdata/mesh` in place; the tests
    // that copy it must not copy its outputs and store along.
    let src = tempfile::tempdir().unwrap();
    common::copy_dir(&common::repo().join("testdata/centralized"), src.path());
    assert_eq!(floe(src.path(), &["build"]).code, 0);
    let copy = tempfile::tempdir().unwrap();
    common::copy_dir(src.path(), copy.path());
    assert!(copy.path().join("manifest.yaml").is_file());
    assert!(!copy.path().join("floe-out").exists() && !copy.path().join(".floe").exists());
}

#[test]
fn every_label_the_readme_builds_exists_in_the_example_workspace() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let labels: Vec<&str> = readme
        .split('`')
        .filter_map(|code| code.strip_prefix("floe build "))
        .filter(|label| label.starts_with("//") && !label.contains("..."))
        .collect();
    assert!(!labels.is_empty(), "the README builds a product by its label");
    let ws = workspace("mesh");
    for label in labels {
        let r = floe(ws.path(), &["query", label]);
        assert_eq!((r.code, r.stdout.trim()), (0, label), "`floe build {label}` in the README: {}", r.stderr);
    }
}

#[test]
fn clean_with_labels_removes_only_those_packages_outputs() {
    let ws = workspace("mesh");
    assert_eq!(floe(ws.path(), &["build"]).code, 0);
    let out = ws.path().join("floe-out");
    let r = floe(ws.path(), &["clean", "//sales/orders"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.starts_with("removed ") && r.stderr.contains(" output files"), "{}", r.stderr);
    assert!(!out.join("sales/orders").exists(), "the package's outputs and their directory are gone");
    assert!(out.join("sales/customers/profiles.yml").is_file(), "other packages keep theirs");
    assert!(out.join("sales/manifest.resolved.json").is_file(), "the domain keeps its own");
    // The next build restores from the store, evaluating nothing again.
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.starts_with("built 0, reused "), "{}", r.stderr);
    assert!(out.join("sales/orders/profiles.yml").is_file());
    assert_eq!(floe(ws.path(), &["clean", "//sales/nope"]).code, 1, "an unknown label is an error");
    assert_eq!(floe(ws.path(), &["clean", "//sales/orders", "--all"]).code, 2, "--all is the whole store");
}

#[test]
fn hash_defaults_to_everything_like_the_other_commands() {
    let ws = workspace("centralized");
    let all = floe(ws.path(), &["hash"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.stdout, floe(ws.path(), &["hash", "//..."]).stdout);
    assert!(all.stdout.lines().count() > 4, "{}", all.stdout);
}

#[test]
fn the_summary_counts_one_derivation_in_the_singular() {
    let ws = workspace("centralized");
    assert_eq!(floe(ws.path(), &["build"]).code, 0);
    let r = floe(ws.path(), &["build", "//orders:dbt-profile"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.starts_with("built 0, reused 1 derivation in "), "{}", r.stderr);
}

#[test]
fn why_names_the_file_and_line_an_inherited_change_is_written_in() {
    let ws = workspace("mesh");
    assert_eq!(floe(ws.path(), &["build", "-q"]).code, 0);
    edit(&ws.path().join("manifest.yaml"), |s| s.replace("      threads: 8\n", "      threads: 6\n"));
    let r = floe(ws.path(), &["why", "//finance/revenue:dbt-profile", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let leaf = &r.json()[0]["inputs"][0]["leaves"][0];
    assert_eq!(leaf["path"], "platform: plugins.compute.config.threads");
    assert_eq!(
        (leaf["file"].as_str(), leaf["line"].as_u64()),
        (Some("manifest.yaml"), Some(15)),
        "the enterprise's line"
    );
}
