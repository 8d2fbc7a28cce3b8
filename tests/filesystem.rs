//! A workspace's file system can be hostile: links that loop or leave it, FIFOs
//! where files should be, links committed inside `floe-out/`, leftovers of a
//! killed build, a store damaged on disk. floe reads only inside the workspace,
//! writes only what it owns, never hangs, and trusts nothing it cannot verify.
//!
//! Every command here runs with a deadline and a memory limit
//! (`common::floe_within`): the failures these tests guard against are hangs
//! and runaway walks.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests build hostile workspaces on disk

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{Run, build_json, workspace};

const LIMIT: Duration = Duration::from_secs(30);

fn floe(dir: &Path, args: &[&str]) -> Run {
    common::floe_within(dir, args, LIMIT)
}

fn mkfifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
}

/// The codes and files of the diagnostics of a JSON report.
fn diagnostics(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (s("code"), s("severity"), s("file"))
        })
        .collect();
    v.sort();
    v
}

fn labels(report: &serde_json::Value) -> Vec<String> {
    report["derivations"].as_array().unwrap().iter().map(|d| d["label"].as_str().unwrap().to_owned()).collect()
}

/// Every file below `dir`, relative and sorted, with the hash of its bytes.
fn tree(dir: &Path) -> Vec<(String, String)> {
    common::tree(dir).into_iter().map(|(p, b)| (p, blake3::hash(&b).to_hex()[..16].to_owned())).collect()
}

/// The outputs a fresh build of `testdata/<name>` writes.
fn clean_outputs(name: &str) -> Vec<(String, String)> {
    let ws = workspace(name);
    build_json(ws.path());
    tree(&ws.path().join("floe-out"))
}

#[test]
fn directory_links_that_loop_are_walked_once() {
    let ws = workspace("centralized");
    let plain = build_json(ws.path());
    symlink(".", ws.path().join("a")).unwrap();
    symlink(".", ws.path().join("b")).unwrap();
    symlink("..", ws.path().join("orders/up")).unwrap();
    let r = floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(labels(&report), labels(&plain), "the links add no package");
    let w = |f: &str| ("E0214".to_owned(), "warning".to_owned(), f.to_owned());
    assert_eq!(diagnostics(&report), [w("a"), w("b"), w("orders/up")]);
    // And again from the cached listings, which remember the links.
    backdate(ws.path());
    for _ in 0..2 {
        let report = floe(ws.path(), &["build", "--format", "json"]).json();
        assert_eq!(labels(&report), labels(&plain));
        assert_eq!(diagnostics(&report), [w("a"), w("b"), w("orders/up")]);
    }
}

#[test]
fn a_fifo_is_a_diagnostic_never_a_read() {
    // Where a package file goes in the workspace.
    for place in ["stray/manifest.yaml", "orders/floe.yaml", "orders/models/stg_orders.sql", ".floeignore"] {
        let ws = workspace("centralized");
        let path = ws.path().join(place);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        mkfifo(&path);
        let r = floe(ws.path(), &["build", "--format", "json"]);
        assert_eq!(r.code, 1, "{place}: {}", r.stderr);
        let report = r.json();
        assert!(
            diagnostics(&report).contains(&("E0212".to_owned(), "error".to_owned(), place.to_owned())),
            "{place}: {report}"
        );
    }
    // A `manifest.yaml` above the directory floe starts in, while it looks for
    // the workspace root.
    let ws = workspace("centralized");
    std::fs::create_dir_all(ws.path().join("x/y")).unwrap();
    mkfifo(&ws.path().join("x/manifest.yaml"));
    let r = floe(&ws.path().join("x/y"), &["check"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0212]") && r.stderr.contains("x/manifest.yaml"), "{}", r.stderr);
}

#[test]
fn outputs_are_never_written_through_links() {
    let ws = workspace("centralized");
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("profiles.yml"), "mine\n").unwrap();
    // A link committed where an output directory goes.
    std::fs::create_dir(ws.path().join("floe-out")).unwrap();
    symlink(victim.path(), ws.path().join("floe-out/orders")).unwrap();
    build_json(ws.path());
    assert_eq!(
        tree(victim.path()),
        [("profiles.yml".to_owned(), blake3::hash(b"mine\n").to_hex()[..16].to_owned())],
        "nothing written through"
    );
    let orders = ws.path().join("floe-out/orders");
    assert!(std::fs::symlink_metadata(&orders).unwrap().is_dir(), "the link was replaced by a directory");
    assert_eq!(tree(&ws.path().join("floe-out")), clean_outputs("centralized"));

    // A link where an output file goes is replaced, not written through.
    let profiles = ws.path().join("floe-out/customers/profiles.yml");
    std::fs::remove_file(&profiles).unwrap();
    symlink(victim.path().join("profiles.yml"), &profiles).unwrap();
    build_json(ws.path());
    assert_eq!(tree(victim.path()), [("profiles.yml".to_owned(), blake3::hash(b"mine\n").to_hex()[..16].to_owned())]);
    assert!(std::fs::symlink_metadata(&profiles).unwrap().is_file());
}

#[test]
fn links_leaving_the_workspace_are_not_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::create_dir(outside.path().join("vendor")).unwrap();
    std::fs::write(outside.path().join("vendor/floe.yaml"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();

    let ws = workspace("centralized");
    std::fs::remove_file(ws.path().join("orders/floe.yaml")).unwrap();
    symlink(outside.path().join("passwd"), ws.path().join("orders/floe.yaml")).unwrap();
    symlink(outside.path().join("vendor"), ws.path().join("vendor")).unwrap();
    for format in ["human", "json"] {
        let r = floe(ws.path(), &["build", "--format", format]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(!r.stderr.contains("root:x") && !r.stdout.contains("root:x"), "quoted:\n{}{}", r.stdout, r.stderr);
        if format == "json" {
            let e = |c: &str, s: &str, f: &str| (c.to_owned(), s.to_owned(), f.to_owned());
            assert_eq!(
                diagnostics(&r.json()),
                [e("E0213", "error", "orders/floe.yaml"), e("E0213", "warning", "vendor")]
            );
        }
    }

    // The root manifest itself, while floe looks for the workspace.
    let ws = workspace("centralized");
    std::fs::remove_file(ws.path().join("manifest.yaml")).unwrap();
    symlink(outside.path().join("passwd"), ws.path().join("manifest.yaml")).unwrap();
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("root:x"), "quoted:\n{}", r.stderr);
    assert!(r.stderr.contains("error[E0213]") && r.stderr.contains("error[E0210]"), "{}", r.stderr);

    // Links that stay inside are followed.
    let ws = workspace("centralized");
    std::fs::create_dir(ws.path().join("shared")).unwrap();
    std::fs::rename(ws.path().join("customers/floe.yaml"), ws.path().join("shared/customers.yaml")).unwrap();
    symlink("../shared/customers.yaml", ws.path().join("customers/floe.yaml")).unwrap();
    build_json(ws.path());
    assert_eq!(tree(&ws.path().join("floe-out")), clean_outputs("centralized"));
}

/// An advisory lock as another floe process would hold it.
fn hold(path: &Path, exclusive: bool) -> std::fs::File {
    use rustix::fs::{FlockOperation, flock};
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).unwrap();
    let op = if exclusive { FlockOperation::LockExclusive } else { FlockOperation::LockShared };
    flock(&file, op).unwrap();
    file
}

#[test]
fn a_build_removes_what_a_killed_build_left() {
    use floe_engine::system::temporary_name;
    let ws = workspace("centralized");
    build_json(ws.path());
    let packs = ws.path().join(".floe/packs");
    let kept = tree(&packs);
    let outputs = tree(&ws.path().join("floe-out"));
    // What a build killed while writing leaves behind: its journal (the
    // workspace's state file's name, `.journal`), a temporary file beside an
    // output, a pack the index never learnt of, and a pack's temporary file.
    let journal = ws.path().join(".floe/state.journal");
    let orphan = packs.join(format!("{}.pack", "ab".repeat(32)));
    let left = [
        ws.path().join("floe-out/orders").join(temporary_name("profiles.yml", "999999-0")),
        packs.join(temporary_name(&format!("{}.pack", "cd".repeat(32)), "999999-1")),
    ];
    // And what another build, still running, is writing.
    let in_use = ws.path().join("floe-out/customers").join(temporary_name("profiles.yml", "999998-0"));
    for path in left.iter().chain([&journal, &orphan, &in_use]) {
        std::fs::write(path, "partial").unwrap();
    }
    let writer = hold(&in_use, true);
    // That build has also written a pack it has not named in the index yet.
    let adding = hold(&ws.path().join(".floe/lock"), false);

    let r = floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for path in &left {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert!(in_use.exists(), "a write under way keeps its temporary file");
    assert!(orphan.exists(), "a pack another build is adding stays");
    assert!(journal.exists(), "the journal stays until the packs can be judged");

    drop((writer, adding));
    let r = floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for path in [&journal, &orphan] {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert_eq!(tree(&packs), kept, "packs the index names stay");
    assert!(!in_use.exists(), "once its writer is gone");
    assert_eq!(tree(&ws.path().join("floe-out")), outputs);
}

/// Replaces every occurrence of `from` in `bytes` by `to` (same length).
fn replace(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

/// Backdates every directory and file below `dir`, so that the next build's
/// listings and stats are old enough to be trusted by the one after.
fn backdate(dir: &Path) {
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            backdate(&entry.path());
        }
        std::fs::File::open(entry.path()).unwrap().set_modified(past).unwrap();
    }
    std::fs::File::open(dir).unwrap().set_modified(past).unwrap();
}

#[test]
fn a_corrupted_state_that_still_decodes_is_dropped() {
    let ws = workspace("centralized");
    backdate(ws.path());
    build_json(ws.path());
    // A damaged name in the cached directory listing, the stat cache and the
    // package record: it still decodes.
    let state = ws.path().join(".floe/state");
    let mut bytes = std::fs::read(&state).unwrap();
    assert!(replace(&mut bytes, b"stg_orders.sql", b"stg_orderz.sql") > 0);
    std::fs::write(&state, bytes).unwrap();
    let r = floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(tree(&ws.path().join("floe-out")), clean_outputs("centralized"));
}

#[test]
fn damaged_state_and_index_never_panic_and_are_rebuilt() {
    let clean = clean_outputs("centralized");
    for file in ["state", "index"] {
        let ws = workspace("centralized");
        backdate(ws.path());
        build_json(ws.path());
        let path = ws.path().join(".floe").join(file);
        let original = std::fs::read(&path).unwrap();
        // Bytes across the whole file, each damaged in a way of its own.
        let step = (original.len() / 16).max(1);
        for (n, at) in (0..original.len()).step_by(step).enumerate() {
            let mut bytes = original.clone();
            bytes[at] ^= [0x01, 0x80, 0xff, 0x40][n % 4];
            std::fs::write(&path, &bytes).unwrap();
            let r = floe(ws.path(), &["build", "--format", "json"]);
            assert_eq!(r.code, 0, "{file} damaged at {at}: {}", r.stderr);
            assert_eq!(tree(&ws.path().join("floe-out")), clean, "{file} damaged at {at}");
            std::fs::write(&path, &original).unwrap();
        }
    }
}

#[test]
fn names_no_label_can_address_are_reported() {
    let ws = workspace("centralized");
    for name in ["orders copy", "a:b", "café"] {
        common::copy_dir(&ws.path().join("orders"), &ws.path().join(name));
    }
    let r = floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let e = |f: &str| ("E0215".to_owned(), "error".to_owned(), format!("{f}/floe.yaml"));
    assert_eq!(diagnostics(&r.json()), [e("a:b"), e("café"), e("orders copy")]);
    assert!(!ws.path().join("floe-out").exists(), "nothing was built");
}
