//! Incrementality, read from the JSON summary: exactly which derivations a
//! build rebuilds after each kind of edit.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests edit workspaces on disk

mod common;

use std::io::Write as _;

use common::{build_json, edit, with_status, workspace};

const SALES: &[&str] = &[
    "//sales/customers:artifacts",
    "//sales/customers:dbt-profile",
    "//sales/customers:helm-values",
    "//sales/customers:k8s",
    "//sales/customers:orchestration",
    "//sales/orders:artifacts",
    "//sales/orders:dbt-profile",
    "//sales/orders:helm-values",
    "//sales/orders:k8s",
    "//sales/orders:orchestration",
    "//sales/pipeline-forecast:artifacts",
    "//sales/pipeline-forecast:dbt-profile",
    "//sales/pipeline-forecast:helm-values",
    "//sales/pipeline-forecast:k8s",
    "//sales/pipeline-forecast:orchestration",
    "//sales:helm-values",
    "//sales:k8s",
    "//sales:manifest",
];

#[test]
fn cold_then_no_op() {
    let ws = workspace("mesh");
    let cold = build_json(ws.path());
    // Finance selects the same plugins as the root, so their Helm values
    // share a key; "reused" means found from an earlier build, so both count
    // as built whichever worker came first.
    assert_eq!(cold["summary"]["built"], common::MESH_DERIVATIONS);
    assert_eq!(cold["summary"]["reused"], 0);
    let again = build_json(ws.path());
    assert_eq!(with_status(&again, "built"), Vec::<String>::new());
    assert_eq!(again["summary"]["reused"], common::MESH_DERIVATIONS);
    assert_eq!(again["summary"]["written"], 0, "a no-op build writes nothing");
}

#[test]
fn one_product_edit_rebuilds_that_product_only() {
    let ws = workspace("mesh");
    build_json(ws.path());
    common::tag_an_orders_transform(ws.path());
    let r = build_json(ws.path());
    // Consumers read the orders port's contract, which did not change, and the
    // dbt profile reads no transforms; the runs carry the artifacts.
    assert_eq!(
        with_status(&r, "built"),
        ["//sales/orders:artifacts", "//sales/orders:helm-values", "//sales/orders:k8s"]
    );
}

#[test]
fn port_schema_edit_rechecks_its_consumers() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // A column more: consumers are checked again against the new contract,
    // and no output of theirs reads it, so none is rebuilt.
    common::add_an_orders_column(ws.path());
    let r = build_json(ws.path());
    assert_eq!(
        with_status(&r, "built"),
        [
            "//sales/orders:artifacts",
            "//sales/orders:contracts",
            "//sales/orders:helm-values",
            "//sales/orders:k8s",
            "//sales/orders:lineage"
        ]
    );
    // A column a consumer expects goes: that consumer fails, on a warm store too.
    edit(&ws.path().join("sales/orders/floe.yaml"), |s| {
        s.replace("      - {name: ordered_at, type: timestamp, required: true}\n", "")
    });
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let files: Vec<&str> = doc["diagnostics"].as_array().unwrap().iter().filter_map(|d| d["file"].as_str()).collect();
    assert!(files.contains(&"finance/revenue/floe.yaml"), "{}", doc["diagnostics"]);
}

#[test]
fn domain_edit_rebuilds_that_domain_only() {
    let ws = workspace("mesh");
    build_json(ws.path());
    edit(&ws.path().join("sales/manifest.yaml"), |s| s.replace("threads: 2", "threads: 3"));
    let r = build_json(ws.path());
    // Orchestration reads every plugin selection (the dbt adapter a job
    // installs, the secrets its profile reads), compute's configuration too.
    assert_eq!(with_status(&r, "built"), SALES);
}

#[test]
fn comment_and_key_order_edits_rebuild_nothing() {
    let ws = workspace("mesh");
    build_json(ws.path());
    edit(&ws.path().join("manifest.yaml"), |s| format!("# Reviewed by the platform team.\n{s}\n# end\n"));
    edit(&ws.path().join("finance/risk-exposure/floe.yaml"), |s| {
        s.replace("  version: 1.0.0\n  owner: risk@acme.example\n", "  owner: risk@acme.example\n  version: 1.0.0\n")
    });
    let r = build_json(ws.path());
    assert_eq!(with_status(&r, "built"), Vec::<String>::new());
    assert_eq!(r["summary"]["reused"], common::MESH_DERIVATIONS);
}

#[test]
fn deleted_outputs_are_restored_from_the_store() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // Long after, as far as floe can tell: the output's directory vouches
    // for it, and its deletion moved the directory's mtime.
    let state = std::fs::File::options().append(true).open(ws.path().join(".floe/state")).unwrap();
    state.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)).unwrap();
    let out = ws.path().join("floe-out/finance/revenue/compiled_artifacts.json");
    let before = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let r = build_json(ws.path());
    assert_eq!(with_status(&r, "built"), Vec::<String>::new());
    assert_eq!(r["summary"]["written"], 1);
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn outputs_are_read_only_and_edited_in_place_are_restored_with_check_outputs() {
    use std::os::unix::fs::PermissionsExt as _;
    let ws = workspace("mesh");
    build_json(ws.path());
    build_json(ws.path());
    // Long after the build, as far as floe can tell (its state saved an hour
    // later): no stat is too recent to trust.
    let state = std::fs::File::options().append(true).open(ws.path().join(".floe/state")).unwrap();
    state.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)).unwrap();
    let out = ws.path().join("floe-out/sales/orders/profiles.yml");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444, "outputs are written read-only");
    // An edit in place, made writable first: same inode, same directory
    // mtime. A build trusts the directory; one with --check-outputs does not.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&out).unwrap();
    let mut edited = before.clone();
    edited.extend_from_slice(b"# edited\n");
    std::fs::OpenOptions::new().append(true).open(&out).unwrap().write_all(b"# edited\n").unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), edited);
    let drv = ws.path().join("floe-out/sales/orders/floe.drv.json");
    std::fs::set_permissions(&drv, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::OpenOptions::new().append(true).open(&drv).unwrap().write_all(b" ").unwrap();
    let r = build_json(ws.path());
    assert_eq!(r["summary"]["written"], 0);
    assert_eq!(std::fs::read(&out).unwrap(), edited);
    let r = common::floe(ws.path(), &["build", "--check-outputs", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = r.json();
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o444);
    assert!(!std::fs::read_to_string(&drv).unwrap().ends_with(' '));
    assert_eq!(with_status(&r, "built"), Vec::<String>::new());
    let again = build_json(ws.path());
    assert_eq!(again["summary"]["written"], 0);
}

#[test]
fn corrupt_store_entries_are_rebuilt_not_served() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // Damage every stored byte and forget the fast path: each derivation must
    // be rebuilt from its inputs, never served from a damaged entry.
    for (rel, bytes) in common::tree(&ws.path().join(".floe/packs")) {
        let flipped: Vec<u8> = bytes.iter().map(|b| b ^ 0x20).collect();
        std::fs::write(ws.path().join(".floe/packs").join(rel), flipped).unwrap();
    }
    std::fs::remove_file(ws.path().join(".floe/state")).unwrap();
    std::fs::remove_dir_all(ws.path().join("floe-out")).unwrap();
    let r = build_json(ws.path());
    assert_eq!(r["summary"]["reused"], 0, "nothing damaged is served");
    assert_eq!(r["summary"]["built"], common::MESH_DERIVATIONS);
    let artifacts = std::fs::read_to_string(ws.path().join("floe-out/sales/orders/compiled_artifacts.json")).unwrap();
    assert!(artifacts.contains("\"product_name\": \"orders\""));
}

/// What a new finding in orders rebuilds: its report, its artifacts (which
/// count the findings) and the runs that carry them.
const ORDERS_REPORTED: [&str; 4] =
    ["//sales/orders:artifacts", "//sales/orders:enforcement", "//sales/orders:helm-values", "//sales/orders:k8s"];

#[test]
fn dbt_model_edits_rebuild_what_their_findings_reach() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // A new model appears: the product is checked again; its report changes,
    // and so do its artifacts, which count its warnings.
    let models = ws.path().join("sales/orders/models");
    std::fs::write(models.join("int_returns.sql"), "select * from {{ ref('stg_web_orders') }}\n").unwrap();
    let r = build_json(ws.path());
    assert_eq!(with_status(&r, "built"), ORDERS_REPORTED);
    let codes: Vec<&str> = r["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0602"]);
    // An edited model is checked again too.
    std::fs::remove_file(models.join("int_returns.sql")).unwrap();
    edit(&models.join("fct_orders.sql"), |s| s.replace("ref('int_orders_unioned')", "ref('stg_web_orders')"));
    let r = build_json(ws.path());
    assert_eq!(with_status(&r, "built"), ORDERS_REPORTED);
    let codes: Vec<&str> = r["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0603", "E0603"], "{}", r["diagnostics"]);
}

#[test]
fn outputs_no_longer_produced_are_removed() {
    let ws = workspace("centralized");
    build_json(ws.path());
    let out = ws.path().join("floe-out");
    // Another orchestrator writes other files: the old ones go.
    assert!(out.join("orders/definitions.py").is_file());
    edit(&ws.path().join("manifest.yaml"), |s| s.replace("    type: dagster\n", "    type: airflow\n"));
    let r = build_json(ws.path());
    assert!(r["summary"]["written"].as_u64().unwrap() > 0);
    assert!(!out.join("orders/definitions.py").exists());
    assert!(out.join("orders/dags/orders.py").is_file());
    // A product that fails leaves no outputs to pass for current.
    edit(&ws.path().join("orders/floe.yaml"), |s| s.replace("kind: FloeSpec", "kind: FloeSpecc"));
    let r = common::floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1);
    assert!(!out.join("orders").exists(), "{:?}", common::tree(&out.join("orders")));
    // A product that is gone leaves nothing behind either.
    std::fs::remove_dir_all(ws.path().join("customers")).unwrap();
    common::floe(ws.path(), &["build"]);
    assert!(!out.join("customers").exists());
    assert!(out.join("manifest.resolved.json").is_file());
}

/// The files of a clean build of `ws`'s sources, in a fresh directory.
fn clean_build_of(ws: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let fresh = tempfile::tempdir().unwrap();
    common::copy_dir(ws, fresh.path());
    for dir in ["floe-out", ".floe"] {
        let _ = std::fs::remove_dir_all(fresh.path().join(dir));
    }
    build_json(fresh.path());
    common::tree(&fresh.path().join("floe-out"))
}

#[test]
fn a_products_domain_label_moves_its_runs_to_that_namespace() {
    let ws = workspace("centralized");
    build_json(ws.path());
    let out = ws.path().join("floe-out");
    assert!(out.join("namespaces/floe-commerce/k8s.yaml").exists());
    edit(&ws.path().join("orders/floe.yaml"), |s| s.replace("{domain: commerce,", "{domain: crm,"));
    let r = build_json(ws.path());
    // The root lays out its namespaces by its products' domains.
    assert!(with_status(&r, "built").contains(&"//:k8s".to_owned()), "{:?}", with_status(&r, "built"));
    assert!(!out.join("namespaces/floe-commerce").exists(), "an empty namespace's files are removed");
    let kustomization = std::fs::read_to_string(out.join("namespaces/floe-crm/kustomization.yaml")).unwrap();
    assert!(kustomization.contains("\"../../customers\"") && kustomization.contains("\"../../orders\""));
    assert_eq!(common::tree(&out), clean_build_of(ws.path()), "incremental equals clean");
}

#[test]
fn a_removed_product_leaves_its_domains_namespace() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let kustomization = ws.path().join("floe-out/sales/namespaces/floe-sales/kustomization.yaml");
    assert!(std::fs::read_to_string(&kustomization).unwrap().contains("pipeline-forecast"));
    std::fs::remove_dir_all(ws.path().join("sales/pipeline-forecast")).unwrap();
    let r = build_json(ws.path());
    // Its namespace's objects stay as they are: only the GitOps tree changes.
    assert_eq!(with_status(&r, "built"), ["//sales:gitops"]);
    assert!(!std::fs::read_to_string(&kustomization).unwrap().contains("pipeline-forecast"));
    assert_eq!(common::tree(&ws.path().join("floe-out")), clean_build_of(ws.path()), "incremental equals clean");
}

#[test]
fn a_domain_that_stops_approving_a_producer_fails_its_consumers_on_a_warm_store() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // finance/revenue reads //sales/orders: the sales domain's list decides
    // whether it may, so revenue's record no longer holds.
    edit(&ws.path().join("sales/manifest.yaml"), |s| s.replace("[orders, ", "["));
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let at: Vec<(&str, &str)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "E0205")
        .map(|d| (d["file"].as_str().unwrap(), d["message"].as_str().unwrap()))
        .collect();
    assert!(
        at.iter().any(|(f, m)| *f == "finance/revenue/floe.yaml" && m.contains("`//sales/orders` is not approved")),
        "{at:?}"
    );
}

#[test]
fn a_build_that_cannot_save_its_state_fails_as_the_machines_and_the_next_catches_up() {
    let ws = workspace("mesh");
    // A directory where the state file goes: everything else is written,
    // then the state's rename fails.
    let blocker = ws.path().join(".floe/state");
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let r = common::floe(ws.path(), &["build", "//..."]);
    assert_eq!(r.code, 3, "an infrastructure failure, not the user's: {}", r.stderr);
    assert!(r.stderr.contains(".floe/state"), "{}", r.stderr);
    // What it wrote before the failure stands; the failure itself is not kept.
    assert!(r.stderr.contains("failures are not cached, so the next build tries again"), "{}", r.stderr);
    // No temporary file is left behind, in the store or the outputs.
    let left: Vec<_> = [".floe", "floe-out"]
        .iter()
        .flat_map(|d| common::tree(&ws.path().join(d)))
        .map(|(path, _)| path)
        .filter(|p| p.rsplit('/').next().is_some_and(floe_engine::system::is_temporary))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    // Once the state can be saved, the next build writes what a clean build writes.
    std::fs::remove_dir_all(&blocker).unwrap();
    let next = build_json(ws.path());
    assert_eq!(next["summary"]["failed"], 0);
    assert_eq!(common::tree(&ws.path().join("floe-out")), clean_build_of(ws.path()));
    let again = build_json(ws.path());
    assert_eq!(again["summary"]["written"], 0, "and the one after it has nothing left to do");
    assert_eq!(with_status(&again, "built"), Vec::<String>::new());
}
