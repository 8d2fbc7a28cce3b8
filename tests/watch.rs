//! `floe build --watch` on the real file system (inotify): a build after
//! every save, each writing what a clean build of the same tree writes; a
//! broken save is reported and the watch goes on; what floe writes itself,
//! and hidden files, start no build; what reads the workspace does not hold
//! a build off.
#![allow(clippy::disallowed_methods)] // tests edit workspaces on disk and run floe

mod common;

use std::io::BufRead as _;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use common::{copy_dir, edit, floe, floe_cmd, tree, workspace};

/// A `floe build --watch --format json`, killed when dropped: one JSON
/// report a line on stdout per build.
struct Watching {
    child: Child,
    reports: Receiver<String>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watching {
    fn start(dir: &std::path::Path, profile: &std::path::Path) -> Watching {
        let mut cmd = floe_cmd(dir);
        cmd.args(["build", "--watch", "--format", "json", "--profile"]).arg(profile);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching { child, reports }
    }

    /// The report of the next build.
    fn next(&self) -> serde_json::Value {
        let line = self.reports.recv_timeout(Duration::from_secs(60)).expect("a build within a minute");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON report ({e}): {line}"))
    }

    /// That no build starts for a while.
    fn quiet(&self) {
        match self.reports.recv_timeout(Duration::from_millis(1500)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("a build started: {other:?}"),
        }
    }
}

/// What a clean build of a copy of `dir` writes.
fn clean_build(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir, copy.path());
    let r = floe(copy.path(), &["build", "-q"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    tree(&copy.path().join("floe-out"))
}

/// The derivations built so far, as the profile of a running watch says
/// once the next build's spans are written out: its trace-event array is
/// whole but for the closing `]`, which the format allows to be missing.
fn profiled(profile: &std::path::Path, at_least: usize) -> usize {
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(profile).unwrap_or_default();
        let events: Vec<serde_json::Value> = serde_json::from_str(&format!("{text}\n]")).unwrap_or_default();
        let built = events
            .iter()
            .filter(|e| e["name"] == "derivation" && e["ph"] == "E" && e["args"]["status"] == "built")
            .count();
        if built >= at_least {
            return built;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the profile has {built} built derivations:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_watch_builds_after_every_save_what_a_clean_build_writes() {
    let ws = workspace("mesh");
    let trace = tempfile::tempdir().unwrap();
    let profile = trace.path().join("watch.json");
    let w = Watching::start(ws.path(), &profile);
    let first = w.next();
    assert_eq!(first["summary"]["built"], common::MESH_DERIVATIONS);

    // A save: the orders product's description. Its own targets are built
    // again, nothing else is, and the outputs are a clean build's.
    let product = ws.path().join("sales/orders/floe.yaml");
    edit(&product, |t| t.replacen("description: ", "description: Edited. ", 1));
    let second = w.next();
    let built = common::with_status(&second, "built");
    assert!(!built.is_empty() && built.iter().all(|l| l.starts_with("//sales/")), "{built:?}");
    // The line says what the save changed: the derivations left as they
    // were are counted, not listed.
    assert!(second["summary"]["reused"].as_u64().unwrap() > 0, "{second}");
    assert!(common::with_status(&second, "reused").is_empty(), "{second}");
    assert_eq!(second["derivations"].as_array().unwrap().len(), built.len(), "{second}");
    assert!(tree(&ws.path().join("floe-out")) == clean_build(ws.path()), "a rebuild wrote other outputs");
    // Each build's spans are written out as it ends: a watch ends by being interrupted.
    assert_eq!(profiled(&profile, common::MESH_DERIVATIONS + built.len()), common::MESH_DERIVATIONS + built.len());

    // A broken save is reported; the watch goes on.
    edit(&product, |t| t.replacen("apiVersion: floe.dev/v1", "apiVersion: floe.dev/v1\nbogus_key: 1", 1));
    let broken = w.next();
    assert!(broken["summary"]["failed"].as_u64().unwrap() > 0, "{broken}");
    let codes: Vec<&str> =
        broken["diagnostics"].as_array().unwrap().iter().filter_map(|d| d["code"].as_str()).collect();
    assert!(codes.contains(&"E0101"), "{codes:?}");
    edit(&product, |t| t.replacen("bogus_key: 1\n", "", 1));
    let fixed = w.next();
    assert_eq!(fixed["summary"]["failed"], 0, "{fixed}");
    assert!(tree(&ws.path().join("floe-out")) == clean_build(ws.path()), "a rebuild wrote other outputs");

    // An output deleted between builds starts no build, but the next build
    // restores it: the watch tells the session what changed below floe-out/,
    // which takes the packages it reused last time as they are.
    std::fs::remove_file(ws.path().join("floe-out/sales/customers/profiles.yml")).unwrap();
    w.quiet();
    edit(&product, |t| t.replacen("description: Edited. ", "description: ", 1));
    let restored = w.next();
    assert!(restored["summary"]["written"].as_u64().unwrap() >= 1, "{restored}");
    assert!(tree(&ws.path().join("floe-out")) == clean_build(ws.path()), "a rebuild wrote other outputs");

    // A file that appears, then goes: a new walk and layout in the same
    // session, and still what a clean build writes.
    let model = ws.path().join("sales/orders/models/stg_returns.sql");
    std::fs::write(&model, "select order_id from {{ ref('stg_web_orders') }}\n").unwrap();
    let added = w.next();
    assert!(!common::with_status(&added, "built").is_empty(), "{added}");
    assert!(tree(&ws.path().join("floe-out")) == clean_build(ws.path()), "a rebuild wrote other outputs");
    std::fs::remove_file(&model).unwrap();
    w.next();
    assert!(tree(&ws.path().join("floe-out")) == clean_build(ws.path()), "a rebuild wrote other outputs");

    // What floe writes itself, and hidden files, start no build.
    std::fs::write(ws.path().join("floe-out/notes.txt"), "mine").unwrap();
    std::fs::write(ws.path().join("sales/.orders.swp"), "swap").unwrap();
    w.quiet();
}

#[test]
fn reading_the_workspace_and_the_outputs_holds_no_build_off() {
    let ws = workspace("mesh");
    let trace = tempfile::tempdir().unwrap();
    let w = Watching::start(ws.path(), &trace.path().join("watch.json"));
    w.next();
    // A reader of an output and of an input (a browser on a report, an
    // editor), every few milliseconds: well within the debounce.
    let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reader = {
        let (reading, root) = (reading.clone(), ws.path().to_owned());
        std::thread::spawn(move || {
            while reading.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::read(root.join("floe-out/sales/orders/k8s.yaml"));
                let _ = std::fs::read(root.join("sales/customers/floe.yaml"));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    edit(&ws.path().join("sales/orders/floe.yaml"), |t| t.replacen("description: ", "description: Read. ", 1));
    let next = w.reports.recv_timeout(Duration::from_secs(20));
    reading.store(false, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    let report: serde_json::Value = serde_json::from_str(&next.expect("a build while the workspace is read")).unwrap();
    assert!(!common::with_status(&report, "built").is_empty(), "{report}");
}
