//! A remote cache in a directory: what one build gives it, a fresh checkout
//! takes instead of building; what it serves is verified; when it fails, the
//! build builds here.
#![allow(clippy::disallowed_methods)] // tests set up workspaces and caches on disk

mod common;

use std::path::Path;

use common::{floe, tree, with_status, workspace};

fn build(ws: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let r = floe(ws, &[&["build", "--format", "json"], extra].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    (r.json(), r.stderr)
}

fn files(dir: &Path) -> usize {
    tree(dir).len()
}

#[test]
fn a_fresh_checkout_takes_what_ci_built() {
    let cache = tempfile::tempdir().unwrap();
    let remote = cache.path().join("cache");
    let url = format!("file://{}", remote.display());
    // Reading only: nothing is given to the cache.
    let ci = workspace("mesh");
    let missing = floe(ci.path(), &["build", "--remote-cache", &url]);
    assert_eq!(missing.code, 0, "{}", missing.stderr);
    assert!(missing.stderr.contains("warning: the remote cache file://"), "{}", missing.stderr);
    assert!(missing.stderr.contains("is no directory"), "{}", missing.stderr);
    std::fs::remove_dir_all(ci.path().join(".floe")).unwrap();
    // CI builds and writes.
    let (report, _) = build(ci.path(), &["--remote-cache", &url, "--remote-cache-write"]);
    let n = with_status(&report, "built").len();
    assert_eq!(n, 52);
    assert_eq!(files(&remote.join("ac")), n);
    // A fresh checkout builds nothing and writes the same files.
    let dev = workspace("mesh");
    let (report, _) = build(dev.path(), &["--remote-cache", &url]);
    assert_eq!(report["summary"]["built"], 0, "{report}");
    assert_eq!(report["summary"]["fetched"], n);
    assert!(tree(&dev.path().join("floe-out")) == tree(&ci.path().join("floe-out")));
    // And keeps it: the next build reuses its own store.
    let r = floe(dev.path(), &["build", "--remote-cache", &url]);
    assert!(r.stderr.starts_with("built 0, reused 52 derivations"), "{}", r.stderr);
    // An edit without write access is built here and not given away.
    common::edit(&dev.path().join("sales/orders/floe.yaml"), |t| t.replace("Orders from", "Orders, from"));
    let before = files(&remote.join("ac"));
    let (report, _) = build(dev.path(), &["--remote-cache", &url]);
    assert!(!with_status(&report, "built").is_empty());
    assert_eq!(files(&remote.join("ac")), before);
}

#[test]
fn what_the_cache_serves_is_verified_and_its_failures_build_here() {
    let cache = tempfile::tempdir().unwrap();
    let url = cache.path().display().to_string();
    let ci = workspace("mesh");
    build(ci.path(), &["--remote-cache", &url, "--remote-cache-write"]);
    let clean = tree(&ci.path().join("floe-out"));
    // Tamper with one object: it does not hash to its name.
    let objects: Vec<_> = tree(&cache.path().join("cas"));
    let (victim, bytes) = &objects[0];
    let mut tampered = bytes.clone();
    tampered.push(b' ');
    std::fs::write(cache.path().join("cas").join(victim), tampered).unwrap();
    let dev = workspace("mesh");
    let (report, stderr) = build(dev.path(), &["--remote-cache", &url]);
    assert!(stderr.contains("does not hash to its name"), "{stderr}");
    assert!(!with_status(&report, "built").is_empty());
    assert!(tree(&dev.path().join("floe-out")) == clean, "the tampered object reached the outputs");
    // A cache that cannot be read (not a directory) is a warning; the build builds.
    let file = cache.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let other = workspace("mesh");
    let r = floe(other.path(), &["build", "--remote-cache", &format!("file://{}", file.display())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning: the remote cache"), "{}", r.stderr);
    assert!(r.stderr.contains("built 52, reused 0 derivations"), "{}", r.stderr);
    // Asked once in a build, not once per derivation.
    assert_eq!(r.stderr.matches("warning:").count(), 1, "{}", r.stderr);
    // What is not a directory cache is a usage error.
    let r = floe(other.path(), &["build", "--remote-cache", "s3://bucket/cache"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = floe(other.path(), &["build", "--remote-cache-write"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_registry_serves_as_the_remote_cache() {
    let Some(registry) = common::registry::registry() else { return };
    let url = format!("oci://127.0.0.1:{}/floe-cache", registry.port);
    let ci = workspace("mesh");
    let (report, _) = build(ci.path(), &["--remote-cache", &url, "--remote-cache-write"]);
    assert_eq!(with_status(&report, "built").len(), 52);
    // A fresh checkout builds nothing, and writes what CI wrote.
    let log = registry.dir.path().join("access.log");
    let read = || std::fs::read_to_string(&log).unwrap();
    let seen = read().len();
    let dev = workspace("mesh");
    let (report, stderr) = build(dev.path(), &["--remote-cache", &url]);
    assert_eq!(report["summary"]["fetched"], 52, "{stderr}");
    assert_eq!(report["summary"]["built"], 0);
    assert!(tree(&dev.path().join("floe-out")) == tree(&ci.path().join("floe-out")));
    // Package by package: one request for each of the 8 packages (its
    // manifest carries its bundle), no manifest of a single derivation, no
    // blob; and how to authenticate is asked once, not before each request.
    let since = read()[seen..].to_owned();
    let gets = |what: &str| since.lines().filter(|l| l.contains("\"GET ") && l.contains(what)).count();
    assert_eq!(gets("/manifests/floe-pkg-"), 8, "{since}");
    assert_eq!(gets("/manifests/floe-"), 8, "{since}");
    assert_eq!(gets("/blobs/"), 0, "{since}");
    assert_eq!(gets(" /v2/ HTTP"), 1, "{since}");
    // A build of part of a package asks for its derivations one by one.
    let part = workspace("mesh");
    let (report, stderr) = build(part.path(), &["//sales/orders:dbt-profile", "--remote-cache", &url]);
    assert_eq!(
        (report["summary"]["fetched"].as_u64(), report["summary"]["built"].as_u64()),
        (Some(1), Some(0)),
        "{stderr}"
    );
    // Only with write access does a build give the registry anything.
    let before = common::registry::writes(&log);
    common::edit(&dev.path().join("sales/orders/floe.yaml"), |t| t.replace("Orders from", "Orders, from"));
    build(dev.path(), &["--remote-cache", &url]);
    assert_eq!(common::registry::writes(&log), before);
    // A registry that is gone is a warning, and the build builds.
    drop(registry);
    let other = workspace("mesh");
    let r = floe(other.path(), &["build", "--remote-cache", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning: the remote cache oci://127.0.0.1:"), "{}", r.stderr);
    assert!(r.stderr.contains("built 52, reused 0 derivations"), "{}", r.stderr);
}
