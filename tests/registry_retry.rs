//! Registries that fail: one killed mid-publish (floe exits 3, neither
//! hanging nor panicking; restarted, a re-run completes without uploading a
//! finished blob again, and every artifact is whole), one that answers 503
//! and 429 for a while (retried with backoff), one that never answers
//! (timed out), each a real registry behind a proxy that fails on purpose.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run a registry and a proxy

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::registry::{Answer, Request, blobs_uploaded, floe_registry, program, proxy, registry};
use common::{Run, workspace};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn a_publish_cut_short_by_a_killed_registry_completes_on_a_rerun() {
    let Some(registry) = registry() else { return };
    let (port, log) = (registry.port, registry.log());
    let registry = Arc::new(Mutex::new(registry));
    // The registry dies as the fourth blob's bytes reach it, once the three
    // before are stored: other blobs are on their way, no manifest is pushed.
    const KILL_AT: usize = 4;
    let puts = AtomicUsize::new(0);
    let proxy = proxy(port, {
        let (registry, log) = (registry.clone(), log.clone());
        move |req: &Request| {
            let line = &req.line;
            let blob = line.starts_with("PUT ") && line.contains("/blobs/uploads/");
            if blob && puts.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AT {
                let waited = Instant::now();
                while blobs_uploaded(&log).len() < KILL_AT - 1 && waited.elapsed() < Duration::from_secs(20) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                registry.lock().unwrap().kill();
            }
            Answer::Forward
        }
    });
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{}/floe", proxy.port);
    let publish = || floe_registry(ws.path(), &["publish", "--to", &to, "--format", "json"], &[], None, LIMIT);
    let cut = publish();
    assert_eq!(cut.code, 3, "{}", cut.stderr);
    assert!(cut.stderr.contains(&format!("error: cannot publish to `{to}`: ")), "{}", cut.stderr);
    assert!(cut.stderr.contains("(gave up after 5 attempts)"), "{}", cut.stderr);
    let finished: BTreeSet<String> = blobs_uploaded(&log).into_iter().collect();
    assert!(finished.len() >= KILL_AT - 1, "{finished:?}");
    let manifests = |log: &std::path::Path| {
        std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"PUT ") && l.contains("/manifests/"))
            .count()
    };
    assert_eq!(manifests(&log), 0, "a manifest was pushed before all blobs were");

    // Restarted on the same port and storage, a re-run completes, uploading
    // none of the blobs the first run finished.
    registry.lock().unwrap().restart();
    let before = blobs_uploaded(&log).len();
    let rerun = publish();
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let report = rerun.json();
    assert_eq!(report["summary"]["artifacts"], 8, "{report}");
    let again: Vec<String> = blobs_uploaded(&log)[before..].to_vec();
    let twice: Vec<&String> = again.iter().filter(|d| finished.contains(*d)).collect();
    assert!(twice.is_empty(), "uploaded again: {twice:?}");
    assert!(report["summary"]["skipped"].as_u64().unwrap() >= finished.len() as u64, "{report}");
    assert_eq!(manifests(&log), 8);
    // And it is all there: a third run finds every tag naming its manifest.
    let third = publish();
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.json()["summary"]["uploaded"], 0);

    // Each artifact is whole: skopeo copies it, reading and checking every blob.
    if program("skopeo").is_none() {
        return;
    }
    let copies = tempfile::tempdir().unwrap();
    for (i, artifact) in report["artifacts"].as_array().unwrap().iter().enumerate() {
        let reference = artifact["reference"].as_str().unwrap();
        let reference = reference.rsplit_once("/floe/").map_or(reference, |(_, r)| r);
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://127.0.0.1:{port}/floe/{reference}"))
            .arg(format!("dir:{}", copies.path().join(i.to_string()).display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{reference}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_busy_registry_is_retried_with_backoff() {
    let Some(registry) = registry() else { return };
    let ws = workspace("mesh");
    // The first requests, the first blob upload begun and the first blob
    // sent meet 503 or 429; then the registry answers.
    let (busy, posts, puts) = (Arc::new(AtomicUsize::new(0)), AtomicUsize::new(0), AtomicUsize::new(0));
    let flaky = proxy(registry.port, {
        let busy = busy.clone();
        let seen = AtomicUsize::new(0);
        move |req: &Request| {
            let (line, n) = (&req.line, seen.fetch_add(1, Ordering::SeqCst));
            let first = |c: &AtomicUsize| c.fetch_add(1, Ordering::SeqCst) == 0;
            let refuse = n < 3
                || (line.starts_with("POST ") && first(&posts))
                || (line.starts_with("PUT ") && line.contains("/blobs/") && first(&puts));
            if !refuse {
                return Answer::Forward;
            }
            busy.fetch_add(1, Ordering::SeqCst);
            Answer::Status(if n % 2 == 0 { 503 } else { 429 })
        }
    });
    let to = format!("oci://127.0.0.1:{}/floe", flaky.port);
    let r = floe_registry(ws.path(), &["publish", "//sales/orders", "--to", &to, "--format", "json"], &[], None, LIMIT);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(busy.load(Ordering::SeqCst), 5);
    assert_eq!(r.json()["summary"]["artifacts"], 1);

    // Busy for good: floe gives up after its attempts, naming the registry,
    // the request and the status.
    let down = proxy(registry.port, |_| Answer::Status(503));
    let to = format!("oci://127.0.0.1:{}/floe", down.port);
    let started = Instant::now();
    let r = floe_registry(ws.path(), &["publish", "//sales/orders", "--to", &to], &[], None, LIMIT);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("cannot publish to `{to}`: look up `127.0.0.1:{}/floe/sales/orders:1.0.0`", down.port)),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("503") && r.stderr.contains("(gave up after 5 attempts)"), "{}", r.stderr);
    // Four waits of at most 0.1, 0.2, 0.4 and 0.8 s.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn a_registry_that_never_answers_times_out() {
    let ws = workspace("mesh");
    // Built first, so that the time below is the registry's.
    let built = common::floe(ws.path(), &["build", "//sales/orders", "-q"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let silent = proxy(port, |_| Answer::Silent);
    let to = format!("oci://127.0.0.1:{}/floe", silent.port);
    let timeout = [("FLOE_REGISTRY_TIMEOUT", OsStr::new("0.3"))];
    let started = Instant::now();
    let r: Run = floe_registry(ws.path(), &["publish", "//sales/orders", "--to", &to], &timeout, None, LIMIT);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("timed out") && r.stderr.contains("(gave up after 5 attempts)"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let r = floe_registry(
        ws.path(),
        &["publish", "//sales/orders", "--to", &to],
        &[("FLOE_REGISTRY_TIMEOUT", OsStr::new("soon"))],
        None,
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("FLOE_REGISTRY_TIMEOUT must be a number of seconds"), "{}", r.stderr);
}
