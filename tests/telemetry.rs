//! floe's own telemetry: `--profile FILE` writes a Chrome trace-event file
//! with a span for every phase and every derivation built (label, key,
//! status) and an event for every one reused, matching the build's own JSON
//! summary. (Perfetto's trace processor is not installable here: it is
//! fetched from outside PyPI at run time; the file is checked against the
//! trace-event format it reads instead.) With `OTEL_EXPORTER_OTLP_ENDPOINT`
//! set, the same spans reach a real OpenTelemetry collector (rotel, from
//! PyPI), in one trace, and no secret of the workspace or of the exporter's
//! own settings is in any of them.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the profile from disk, run a collector

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::skip;
use common::{edit, floe, floe_cmd, workspace};

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
    let phases = ["derivation", "discover", "enforce", "evaluate", "floe", "flush", "hash", "package", "write"];
    assert_eq!(spans(&cold), BTreeSet::from(phases));

    // A no-op build: each derivation is an event, reused.
    let profile = dir.path().join("no-op.json");
    let r = floe(ws.path(), &["build", "--format", "json", "--profile", profile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let no_op = events(&profile);
    assert_eq!(traced(&no_op), summary(&r.json()));
    assert!(traced(&no_op).iter().all(|(_, _, status)| status == "reused"));
    assert_eq!(spans(&no_op), BTreeSet::from(["discover", "evaluate", "floe", "flush", "hash"]));

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

/// A rotel collector on free ports that logs every span it receives, in
/// detail, and exports none.
struct Collector {
    child: Child,
    log: PathBuf,
    http: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn collector() -> Option<Collector> {
    let Some(exe) = std::env::var_os("FLOE_TEST_ROTEL") else {
        skip("FLOE_TEST_ROTEL is not set (.ci/test installs rotel from PyPI and points it at its agent)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rotel.log");
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(exe)
        .args(["start", "--exporter", "blackhole", "--debug-log", "traces", "--debug-log-verbosity", "detailed"])
        .arg("--otlp-http-endpoint")
        .arg(format!("127.0.0.1:{http}"))
        .arg("--otlp-grpc-endpoint")
        .arg(format!("127.0.0.1:{grpc}"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let collector = Collector { child, log, http, _dir: dir };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "rotel did not listen on {http}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(collector)
}

/// One span as the collector logged it: its name, trace and attributes.
#[derive(Debug)]
struct Received {
    name: String,
    trace: String,
    attributes: BTreeMap<String, String>,
}

/// The spans the collector has logged, once `floe` (the last to end) is among them.
fn received(c: &Collector) -> (Vec<Received>, String) {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&c.log).unwrap_or_default();
        if text.contains("Name           : floe") {
            let spans = text.split("\nSpan #").skip(1).map(parse).collect();
            return (spans, text);
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no `floe` span reached the collector:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn parse(block: &str) -> Received {
    let field = |key: &str| {
        block.lines().find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix(':')).unwrap_or("").trim().to_owned()
    };
    // `     -> label: Str(//sales/orders:artifacts)`, up to the span's events.
    let attributes = block
        .split("Events:")
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-> "))
        .filter_map(|kv| kv.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.strip_prefix("Str(").and_then(|v| v.strip_suffix(')')).unwrap_or(v).to_owned()))
        .collect();
    Received { name: field("Name"), trace: field("Trace ID"), attributes }
}

#[test]
fn spans_reach_an_otlp_collector_in_one_trace_without_a_secret() {
    let Some(c) = collector() else { return };
    let ws = workspace("mesh");
    // Secrets where a user could put one: in a manifest, and in the
    // exporter's own settings (a header, the endpoint's user info).
    edit(&ws.path().join("manifest.yaml"), |t| {
        t.replace(
            "      memory_limit: 8GB\n",
            "      memory_limit: 8GB\n      settings: {password: S91-planted-password}\n",
        )
    });
    let mut cmd = floe_cmd(ws.path());
    cmd.args(["build", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://floe:S92-endpoint-secret@127.0.0.1:{}", c.http))
        .env("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer S93-header-token")
        .env("OTEL_SERVICE_NAME", "floe-ci");
    let r = common::run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (spans, text) = received(&c);
    let names: BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let phases = ["derivation", "discover", "enforce", "evaluate", "floe", "flush", "hash", "package", "write"];
    assert_eq!(names, BTreeSet::from(phases), "{text}");
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace.as_str()).collect();
    assert_eq!(traces.len(), 1, "one build, one trace: {traces:?}");
    let derivations: BTreeSet<(String, String, String)> = spans
        .iter()
        .filter(|s| s.name == "derivation")
        .map(|s| {
            let a = |k: &str| s.attributes.get(k).cloned().unwrap_or_default();
            (a("label"), a("key"), a("status"))
        })
        .collect();
    assert_eq!(derivations, summary(&r.json()));
    assert!(text.contains("service.name: Str(floe-ci)"), "{text}");
    for secret in ["S91-planted-password", "S92-endpoint-secret", "S93-header-token"] {
        assert!(!text.contains(secret), "`{secret}` reached a span:\n{text}");
        assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret), "`{secret}` was printed");
    }
}

#[test]
fn an_unreachable_collector_is_a_warning_not_a_failure() {
    let ws = workspace("mesh");
    let mut cmd = floe_cmd(ws.path());
    let port = free_port();
    cmd.args(["build", "-q"]).env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://u:S94-secret@127.0.0.1:{port}"));
    let r = common::run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning: floe's spans could not be exported"), "{}", r.stderr);
    assert!(!r.stderr.contains("S94-secret"), "{}", r.stderr);
    // Not a protocol floe speaks: said, and the build goes on.
    let mut cmd = floe_cmd(ws.path());
    cmd.args(["build", "-q"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    let r = common::run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("floe exports over `http/protobuf` only"), "{}", r.stderr);
}
