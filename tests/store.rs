//! The store shared: builds of several workspaces at once on one store
//! (`FLOE_STORE`), `floe store verify` and `floe store gc`.
#![allow(clippy::disallowed_methods)] // tests set up workspaces and stores on disk

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_dir, edit, floe, floe_cmd, repo, run, tree, with_status};

/// `floe build` of `ws` on the store `store`, with JSON output.
fn build_on(ws: &Path, store: &Path) -> Command {
    let mut cmd = floe_cmd(ws);
    cmd.args(["build", "//...", "--format", "json"]).env("FLOE_STORE", store);
    cmd
}

/// What a build from scratch of `ws`'s sources writes, on a store of its own.
fn clean_outputs(ws: &Path) -> Vec<(String, Vec<u8>)> {
    let fresh = tempfile::tempdir().unwrap();
    copy_dir(ws, fresh.path());
    let r = floe(fresh.path(), &["build", "//..."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    tree(&fresh.path().join("floe-out"))
}

fn store_cmd(store: &Path, args: &[&str]) -> common::Run {
    let mut cmd = floe_cmd(store);
    cmd.arg("store").args(args).env("FLOE_STORE", store);
    run(cmd)
}

#[test]
fn builds_at_once_on_one_store_lose_nothing() {
    let store = tempfile::tempdir().unwrap();
    let workspaces: Vec<tempfile::TempDir> = (0..4)
        .map(|_| {
            let ws = tempfile::tempdir().unwrap();
            copy_dir(&repo().join("testdata/mesh"), ws.path());
            ws
        })
        .collect();
    for round in 0..20 {
        // 2, 3 or 4 builds at once, each of a workspace edited in its own way.
        let at_once = 2 + round % 3;
        let children: Vec<_> = workspaces[..at_once]
            .iter()
            .enumerate()
            .map(|(i, ws)| {
                edit(&ws.path().join("sales/orders/floe.yaml"), |t| {
                    let old = t.lines().find(|l| l.starts_with("  description:")).unwrap().to_owned();
                    t.replace(&old, &format!("  description: Orders, workspace {i}, round {round}"))
                });
                build_on(ws.path(), store.path()).stdout(std::process::Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stdout));
        }
    }
    let verify = store_cmd(store.path(), &["verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    for ws in &workspaces {
        // Every derivation the shared store saw is in its index: a new
        // checkout of the same sources builds nothing, and writes what a
        // clean build writes.
        let copy = tempfile::tempdir().unwrap();
        copy_dir(ws.path(), copy.path());
        let report: serde_json::Value =
            serde_json::from_slice(&build_on(copy.path(), store.path()).output().unwrap().stdout).unwrap();
        assert_eq!(with_status(&report, "built"), Vec::<String>::new());
        let expected = clean_outputs(ws.path());
        assert!(tree(&ws.path().join("floe-out")) == expected, "outputs differ from a clean build");
        assert!(tree(&copy.path().join("floe-out")) == expected, "outputs differ from a clean build");
    }
    assert!(store.path().join("CACHEDIR.TAG").is_file());

    // GC keeping no build whole keeps what the workspaces' states name.
    let gc = store_cmd(store.path(), &["gc", "--keep-builds", "0", "--format", "json"]).json();
    assert!(gc["actions_removed"].as_u64().unwrap() > 0, "{gc}");
    assert!(gc["bytes_after"].as_u64() < gc["bytes_before"].as_u64(), "{gc}");
    assert_eq!(store_cmd(store.path(), &["verify"]).code, 0);
    std::fs::remove_dir_all(workspaces[0].path().join("floe-out")).unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&build_on(workspaces[0].path(), store.path()).output().unwrap().stdout).unwrap();
    assert_eq!(with_status(&report, "built"), Vec::<String>::new());
    assert!(tree(&workspaces[0].path().join("floe-out")) == clean_outputs(workspaces[0].path()));
}

#[test]
fn verify_finds_damage_and_gc_repairs_it() {
    let ws = common::workspace("mesh");
    let store = ws.path().join(".floe");
    assert_eq!(floe(ws.path(), &["build", "-q"]).code, 0);
    let verify = floe(ws.path(), &["store", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(verify.stderr.starts_with("checked 52 derivations, "), "{}", verify.stderr);
    // Flip the last byte of the pack: the last entry written no longer verifies.
    let pack = std::fs::read_dir(store.join("packs")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&pack).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    let verify = floe(ws.path(), &["store", "verify"]);
    assert_eq!(verify.code, 3, "{}", verify.stderr);
    assert!(verify.stderr.contains("damaged: "), "{}", verify.stderr);
    assert!(verify.stderr.contains("error: the store has 1 damaged entry"), "{}", verify.stderr);
    let gc = floe(ws.path(), &["store", "gc"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(gc.stderr.contains("dropped 1 damaged entry"), "{}", gc.stderr);
    assert_eq!(floe(ws.path(), &["store", "verify", "-q"]).code, 0);
    // A clean build writes what it wrote before, building only what was lost.
    let before = tree(&ws.path().join("floe-out"));
    std::fs::remove_dir_all(ws.path().join("floe-out")).unwrap();
    let report = common::build_json(ws.path());
    assert!(with_status(&report, "built").len() <= 1, "{report}");
    assert!(tree(&ws.path().join("floe-out")) == before);
    // Outside a workspace, a store is named outright.
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(store_cmd(&store, &["verify", "-q"]).code, 0);
    let none = store_cmd(elsewhere.path(), &["verify"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
}
