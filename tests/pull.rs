//! `floe init --platform` and `floe pull` against a real registry
//! (distribution v2): a workspace on a published platform builds from its
//! lock and store alone, a fresh clone is told to pull, a tag that moved is
//! refused naming both digests, and GC keeps what the lock pins.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run a registry

mod common;

use std::path::Path;

use common::registry::registry;
use common::{copy_dir, edit, floe, tree, workspace};

/// Publishes the platform of `ws` (enterprise and domains) to `repo`.
fn publish_platform(ws: &Path, repo: &str) {
    let r = floe(ws, &["platform", "publish", "--to", repo]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn outputs(ws: &Path) -> Vec<(String, Vec<u8>)> {
    tree(&ws.join("floe-out"))
}

#[test]
fn a_workspace_on_a_published_platform_builds_from_its_lock_and_store() {
    let Some(reg) = registry() else { return };
    let mesh = workspace("mesh");
    let repo = format!("oci://127.0.0.1:{}/acme", reg.port);
    publish_platform(mesh.path(), &repo);

    // The enterprise, pinned; a product of a domain of its own below it.
    let tmp = tempfile::tempdir().unwrap();
    let reference = format!("{repo}/platform:3.0.0");
    let r = floe(tmp.path(), &["init", "--platform", &reference, "--product", "orders", "ws", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ws = tmp.path().join("ws");
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(ws.join("floe.lock")).unwrap()).unwrap();
    assert_eq!(lock["platform"]["reference"], reference.as_str());
    assert!(lock["platform"]["digest"].as_str().unwrap().starts_with("sha256:"));
    let r = floe(&ws, &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let artifacts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("floe-out/orders/compiled_artifacts.json")).unwrap()).unwrap();
    assert_eq!(artifacts["mode"], "centralized");
    assert_eq!(artifacts["inheritance_chain"][0]["name"], "acme-enterprise");

    // A domain of the workspace's own below the pinned enterprise: a mesh,
    // held to the enterprise's governance floor.
    std::fs::create_dir_all(ws.join("sales")).unwrap();
    std::fs::write(
        ws.join("sales/manifest.yaml"),
        format!(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {{name: sales, version: 1.0.0, owner: s@acme.example}}\n\
             scope: domain\nparent_manifest: {reference}\napproved_products: [leads]\n\
             plugins: {{compute: {{type: duckdb, config: {{threads: 1}}}}}}\n"
        ),
    )
    .unwrap();
    let r = floe(&ws, &["new", "product", "//sales/leads"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let leads: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("floe-out/sales/leads/compiled_artifacts.json")).unwrap())
            .unwrap();
    assert_eq!(leads["mode"], "mesh");
    assert_eq!(leads["identity"]["domain"], "sales");
    edit(&ws.join("sales/manifest.yaml"), |t| {
        t.replace("parent_manifest: ", "governance: {policy_enforcement_level: off}\nparent_manifest: ")
    });
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0206]"), "{}", r.stderr);
    edit(&ws.join("sales/manifest.yaml"), |t| {
        t.replace("governance: {policy_enforcement_level: off}\n", "").replace(":3.0.0", ":2.0.0")
    });
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0209]") && r.stderr.contains("the platform floe.lock pins"), "{}", r.stderr);
    edit(&ws.join("sales/manifest.yaml"), |t| t.replace(":2.0.0", ":3.0.0"));

    // Built with the registry gone: a build never reads the network.
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let built = outputs(&ws);
    drop(reg);
    std::fs::remove_dir_all(ws.join("floe-out")).unwrap();
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(&ws) == built, "a build without the registry wrote other outputs");

    // GC keeps what the lock pins, however few builds it keeps: with the
    // state gone, a build reads the platform from what GC left.
    let r = floe(&ws, &["store", "gc", "--keep-builds", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(ws.join("floe-out")).unwrap();
    std::fs::remove_file(ws.join(".floe/state")).unwrap();
    let r = floe(&ws, &["store", "gc", "--keep-builds", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = floe(&ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(&ws) == built, "a build from what GC kept wrote other outputs");

    // A store without it: told to pull.
    std::fs::remove_dir_all(ws.join("floe-out")).unwrap();
    std::fs::remove_dir_all(ws.join(".floe")).unwrap();
    let clone = tempfile::tempdir().unwrap();
    copy_dir(&ws, clone.path());
    let r = floe(clone.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0217]") && r.stderr.contains("run `floe pull`"), "{}", r.stderr);
}

#[test]
fn a_fresh_clone_pulls_what_its_lock_pins_and_a_moved_tag_is_refused() {
    let Some(reg) = registry() else { return };
    let mesh = workspace("mesh");
    let repo = format!("oci://127.0.0.1:{}/acme", reg.port);
    // A channel tag, which may move.
    publish_platform(mesh.path(), &format!("{repo}:stable"));
    let reference = format!("{repo}/platform/sales:stable");
    let tmp = tempfile::tempdir().unwrap();
    let r = floe(tmp.path(), &["init", "--platform", &reference, "--product", "orders", "a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = tmp.path().join("a");
    let r = floe(&a, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let artifacts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("floe-out/orders/compiled_artifacts.json")).unwrap()).unwrap();
    assert_eq!((artifacts["mode"].as_str(), artifacts["identity"]["domain"].as_str()), (Some("mesh"), Some("sales")));

    // A product the pinned domain does not approve is not created.
    let r = floe(&a, &["new", "product", "//bogus"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0205]"), "{}", r.stderr);

    // A fresh clone in another directory: told to pull, then the same outputs.
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    let r = floe(&b, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0217]"), "{}", r.stderr);
    let r = floe(&b, &["pull", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pulled = &r.json()["pulled"][0];
    assert_eq!((pulled["fetched"].as_bool(), pulled["updated"].as_bool()), (Some(true), Some(false)));
    assert_eq!(pulled["kind"], "platform");
    let r = floe(&b, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(&a) == outputs(&b), "two checkouts of one lock built different outputs");

    // The tag moves: pull names both digests and changes nothing; --update pins it.
    edit(&mesh.path().join("sales/manifest.yaml"), |t| t.replace("threads: 2", "threads: 3"));
    publish_platform(mesh.path(), &format!("{repo}:stable"));
    let lock_before = std::fs::read(b.join("floe.lock")).unwrap();
    let pinned = serde_json::from_slice::<serde_json::Value>(&lock_before).unwrap()["platform"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = floe(&b, &["pull"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("but floe.lock pins {pinned}")), "{}", r.stderr);
    assert_eq!(std::fs::read(b.join("floe.lock")).unwrap(), lock_before);
    let r = floe(&b, &["pull", "--update", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let now = r.json()["pulled"][0].clone();
    assert_eq!(now["updated"], true);
    assert_ne!(now["digest"].as_str(), Some(pinned.as_str()));
    assert!(r.stdout.contains(now["digest"].as_str().unwrap()));
    let r = floe(&b, &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let profile = std::fs::read_to_string(b.join("floe-out/orders/profiles.yml")).unwrap();
    assert!(profile.contains("threads: 3"), "{profile}");

    // A product artifact is no platform to start a workspace on.
    let r = floe(mesh.path(), &["publish", "--to", &repo]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = floe(tmp.path(), &["init", "--platform", &format!("{repo}/sales/orders:1.0.0"), "--product", "x", "c"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is a data product, not a platform"), "{}", r.stderr);
    assert!(!tmp.path().join("c").exists());
}

/// Ports read a published product by its contract's id: `floe pull
/// --update` pins its contracts in `floe.lock` and keeps them in the store,
/// a build resolves them from there and never from the network, a fresh
/// clone is told to pull, GC keeps them, and a port that disagrees with the
/// published contract is located in both.
#[test]
fn ports_read_a_published_products_contracts_from_the_lock_and_store() {
    let Some(reg) = registry() else { return };
    let mesh = workspace("mesh");
    let repo = format!("oci://127.0.0.1:{}/acme", reg.port);
    let r = floe(mesh.path(), &["publish", "//sales/orders", "--to", &repo]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A workspace that no longer builds orders: its consumers read it by id.
    let ws = workspace("mesh");
    let ws = ws.path();
    std::fs::remove_dir_all(ws.join("sales/orders")).unwrap();
    for consumer in ["finance/revenue", "marketing/attribution", "sales/pipeline-forecast"] {
        edit(&ws.join(consumer).join("floe.yaml"), |t| {
            let urn = "from: urn:datacontract:acme:sales:orders:1.0.0";
            t.replace("from: //sales/orders:orders", urn).replace("from: ../orders:orders", urn)
        });
    }
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let unknown = "no contract `urn:datacontract:acme:sales:orders` in the workspace or pinned in floe.lock";
    assert!(r.stderr.contains("error[E0401]") && r.stderr.contains(unknown), "{}", r.stderr);

    let reference = format!("{repo}/sales/orders:1.0.0");
    let r = floe(ws, &["pull", "--update", &reference, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pulled = &r.json()["pulled"][0];
    assert_eq!((pulled["kind"].as_str(), pulled["updated"].as_bool()), (Some("product"), Some(true)));
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(ws.join("floe.lock")).unwrap()).unwrap();
    let contract = &lock["products"][&reference]["contracts"]["datacontract-orders.yaml"];
    assert_eq!(contract.as_str().map(str::len), Some(64), "{lock}");
    assert!(lock.get("platform").is_none(), "the workspace's platform is its own manifest: {lock}");

    let r = floe(ws, &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The published product is named as it names itself.
    let lineage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("floe-out/finance/revenue/lineage.json")).unwrap()).unwrap();
    assert_eq!(lineage[0]["inputs"], serde_json::json!([{"name": "orders", "namespace": "sales.orders"}]));
    let built = outputs(ws);

    // A fresh clone has the lock but not the store: told to pull, then the same outputs.
    let clone = tempfile::tempdir().unwrap();
    copy_dir(ws, clone.path());
    let r = floe(clone.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0217]") && r.stderr.contains("datacontract-orders.yaml"), "{}", r.stderr);
    let r = floe(clone.path(), &["pull", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pulled = &r.json()["pulled"][0];
    assert_eq!((pulled["fetched"].as_bool(), pulled["updated"].as_bool()), (Some(true), Some(false)));
    let r = floe(clone.path(), &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(clone.path()) == built, "two checkouts of one lock built different outputs");

    // The registry gone, and GC run with no build kept: a build reads the
    // contract from the store alone.
    drop(reg);
    let r = floe(ws, &["store", "gc", "--keep-builds", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(ws.join("floe-out")).unwrap();
    std::fs::remove_file(ws.join(".floe/state")).unwrap();
    let r = floe(ws, &["store", "gc", "--keep-builds", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(ws) == built, "a build from what GC kept wrote other outputs");

    // A port expecting a column the published contract lacks: located at
    // the port, with a note in the contract, named by where it was published.
    edit(&ws.join("finance/revenue/floe.yaml"), |t| {
        t.replace("expects: [order_id,", "expects: [discount_eur, order_id,")
    });
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0403]") && r.stderr.contains("discount_eur"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{reference}#datacontract-orders.yaml:")), "{}", r.stderr);
    edit(&ws.join("finance/revenue/floe.yaml"), |t| t.replace("discount_eur, ", ""));

    // A file in the workspace with the same id, of another major version:
    // a URN reads the first contract whose version it accepts.
    std::fs::create_dir_all(ws.join("external/orders-next")).unwrap();
    std::fs::write(
        ws.join("external/orders-next/datacontract.yaml"),
        "apiVersion: v3.1.0\nkind: DataContract\nid: urn:datacontract:acme:sales:orders\nversion: 2.0.0\n\
         status: draft\nschema:\n  - name: orders\n    properties:\n      - {name: order_id, logicalType: string}\n",
    )
    .unwrap();
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(outputs(ws) == built, "a contract of another major version changed what the 1.0.0 ports read");
    edit(&ws.join("finance/revenue/floe.yaml"), |t| t.replace("sales:orders:1.0.0", "sales:orders:3.0.0"));
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("but its contracts here are versions `2.0.0`, `1.0.0`"), "{}", r.stderr);
}

/// A P-256 key pair openssl writes in `dir`: `<name>.pem` and `<name>.pub`.
fn key_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (private, public) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.pub")));
    for args in [
        vec!["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", private.to_str().unwrap()],
        vec!["pkey", "-in", private.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()],
    ] {
        let out = std::process::Command::new("openssl").args(&args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    (private, public)
}

#[test]
fn a_workspace_that_requires_signatures_pulls_only_signed_platforms() {
    let (Some(_), Some(reg)) = (common::registry::program("openssl"), registry()) else { return };
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(keys.path(), "platform");
    let (_, stranger) = key_pair(keys.path(), "stranger");
    let mesh = workspace("mesh");
    let repo = format!("oci://127.0.0.1:{}/acme", reg.port);
    publish_platform(mesh.path(), &format!("{repo}:unsigned"));
    let tmp = tempfile::tempdir().unwrap();
    let init = |reference: &str, key: &Path, dir: &str| {
        floe(tmp.path(), &["init", "--platform", reference, "--key", key.to_str().unwrap(), "--product", "orders", dir])
    };

    // Unsigned: refused, and nothing written.
    let r = init(&format!("{repo}/platform:unsigned"), &public, "a");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!tmp.path().join("a/floe.lock").exists());

    // Signed by the key: pinned, with the key as the workspace's trust root.
    let r = floe(mesh.path(), &["platform", "publish", "--to", &repo, "--sign", private.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = init(&format!("{repo}/platform:3.0.0"), &public, "a");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = tmp.path().join("a");
    let lock = std::fs::read_to_string(a.join("floe.lock")).unwrap();
    assert!(lock.contains("\"key\": \"platform.pub\""), "{lock}");
    assert_eq!(std::fs::read(a.join("platform.pub")).unwrap(), std::fs::read(&public).unwrap());
    let r = floe(&a, &["pull"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Signed by someone else: refused, by init and by pull.
    let r = init(&format!("{repo}/platform:3.0.0"), &stranger, "b");
    assert_eq!(r.code, 1, "{}", r.stderr);
    std::fs::copy(&stranger, a.join("platform.pub")).unwrap();
    let r = floe(&a, &["pull"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}
