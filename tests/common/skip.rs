//! Skipping a test at run time. Rust's test harness has no runtime skip: a test
//! that cannot run here, for lack of a tool or of data, calls [`skip`] and
//! returns, and the harness reports it as passed. [`skip`] therefore records
//! the skip in the directory `FLOE_TEST_SKIPS` names (`.ci/test` sets it and
//! counts every record as skipped, not passed) and says `SKIPPED` on stderr.
//! Under `CI=true` a skip is a failure: CI has every tool and every data set.
//!
//! Included with `#[path]` by the test helpers of every crate.
#![allow(clippy::disallowed_methods)] // reads CI and FLOE_TEST_SKIPS, writes the record

/// Records that the running test cannot run, and why; the caller returns.
pub fn skip(reason: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{reason} (under CI=true every test must run)");
    // The harness runs each test on a thread named after it.
    let test = std::thread::current().name().unwrap_or("unnamed").to_owned();
    // Test binaries are named `<target>-<hash>`.
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let target = stem.rsplit_once('-').map_or(stem.as_str(), |(name, _)| name);
    let id = format!("{target}::{test}");
    eprintln!("SKIPPED: {id}: {reason}");
    if let Some(dir) = std::env::var_os("FLOE_TEST_SKIPS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let record = dir.join(id.replace('/', "_"));
        std::fs::write(&record, format!("{id}: {reason}\n"))
            .unwrap_or_else(|e| panic!("cannot record the skip in {}: {e}", record.display()));
    }
}
