//! floe's own telemetry: `--profile FILE` writes a Chrome trace-event file
//! with a span for every phase and every derivation built (label, key,
//! status) and an event for every one reused, matching the build's own JSON
//! summary. (Perfetto's trace processor is not installable here: it is
//! fetched from outside PyPI at run time; the file is checked against the
//! trace-event format it reads instead.)
#![allow(clippy::disallowed_methods)] // tests read the profile from disk

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{floe, workspace};

/// The derivations a build reported, as (label, key, status).
fn summary(report: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    let ds = report["derivations"].as_array().unwrap();
    ds.iter()
        .map(|d| {
            (
                d["label"].as_str().unwrap().into(),
                d["key"].as_str().unwrap().into(),
                d["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The trace's events, checked against the trace-event format: each names
/// its phase, process, thread and time, and on each thread every span that
/// begins ends, innermost first.
fn events(path: &Path) -> Vec<serde_json::Value> {
    let events: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut open: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut last: BTreeMap<u64, f64> = BTreeMap::new();
    for e in &events {
        let ph = e["ph"].as_str().unwrap();
        assert!(["B", "E", "i", "M"].contains(&ph), "{e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64() && e["name"].is_string(), "{e}");
        if ph == "M" {
            continue;
        }
        let (tid, ts) = (e["tid"].as_u64().unwrap(), e["ts"].as_f64().unwrap());
        assert!(ts >= *last.get(&tid).unwrap_or(&0.0), "time runs backwards on thread {tid}: {e}");
        last.insert(tid, ts);
        let name = e["name"].as_str().unwrap().to_owned();
        match ph {
            "B" => open.entry(tid).or_default().push(name),
            "E" => assert_eq!(open.entry(tid).or_default().pop(), Some(name), "{e}"),
            _ => {}
        }
    }
    assert!(open.values().all(Vec::is_empty), "spans left open: {open:?}");
    events
}

/// The derivations the trace reports: spans (at their end, with their
/// status) and events.
fn traced(events: &[serde_json::Value]) -> BTreeSet<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["name"] == "derivation" && (e["ph"] == "E" || e["ph"] == "i"))
        .map(|e| {
            let a = &e["args"];
            (
                a["label"].as_str().unwrap().into(),
                a["key"].as_str().unwrap().into(),
                a["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn spans(events: &[serde_json::Value]) -> BTreeSet<&str> {
    events.iter().filter(|e| e["ph"] == "B").map(|e| e["name"].as_str().unwrap()).collect()
}

#[test]
fn a_profile_traces_every_phase_and_every_derivation() {
    let ws = workspace("mesh");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("cold.json");
    let r = floe(ws.path(), &["build", "--format", "json", "--profile", profile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cold = events(&profile);
    assert_eq!(traced(&cold), summary(&r.json()));
    assert_eq!(traced(&cold).len(), common::MESH_DERIVATIONS);
    let phases = ["derivation", "discover", "enforce", "evaluate", "flush", "hash", "write"];
    assert_eq!(spans(&cold), BTreeSet::from(phases));

    // A no-op build: each derivation is an event, reused.
    let profile = dir.path().join("no-op.json");
    let r = floe(ws.path(), &["build", "--format", "json", "--profile", profile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let no_op = events(&profile);
    assert_eq!(traced(&no_op), summary(&r.json()));
    assert!(traced(&no_op).iter().all(|(_, _, status)| status == "reused"));
    assert_eq!(spans(&no_op), BTreeSet::from(["discover", "evaluate", "flush", "hash"]));

    // Relative to where floe runs, as `-C` says.
    let r = floe(ws.path(), &["build", "-q", "--profile", "relative.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    events(&ws.path().join("relative.json"));
}

#[test]
fn a_profile_that_cannot_be_written_is_an_infrastructure_failure() {
    let ws = workspace("mesh");
    let r = floe(ws.path(), &["build", "--profile", "no/such/dir/trace.json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("trace.json"), "{}", r.stderr);
    assert!(!ws.path().join("floe-out").exists(), "nothing is built without the profile asked for");
}
