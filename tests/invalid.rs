#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests set up workspaces on disk

//! Data-driven tests of floe's diagnostics: every folder under
//! `testdata/invalid/` is a small workspace with a known defect. Each is copied
//! into a fresh temporary directory and built with `floe -C <dir> build //...`;
//! the build must fail with exit code 1, report at least one error and never
//! panic. What it prints is compared with `tests/snapshots/invalid__<case>.snap`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::copy_dir;

/// Deleting cases must make this test fail, not pass with less coverage.
const MIN_CASES: usize = 30;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join("invalid")
}

/// Every case folder, sorted by name.
fn cases() -> Vec<(String, PathBuf)> {
    let dir = cases_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut cases: Vec<(String, PathBuf)> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|path| path.is_dir())
        .map(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).expect("case folder names are UTF-8").to_owned();
            (name, path)
        })
        .collect();
    cases.sort();
    cases
}

/// Builds one case in a fresh copy; returns the exit code and stderr.
fn build(case: &Path) -> (Option<i32>, String, String, String) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    copy_dir(case, tmp.path());
    let output = Command::new(env!("CARGO_BIN_EXE_floe"))
        .arg("-C")
        .arg(tmp.path())
        .args(["build", "//..."])
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("FLOE_STORE")
        .output()
        .expect("floe runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stdout, stderr, tmp.path().display().to_string())
}

/// Checks one case; panics with a description of what is wrong.
fn check(name: &str, case: &Path) {
    let has_files = std::fs::read_dir(case).map(|mut d| d.next().is_some()).unwrap_or(false);
    assert!(has_files, "case `{name}` is empty");
    let (code, stdout, stderr, tmp) = build(case);
    let context = format!("case `{name}`\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(!stdout.contains("panicked") && !stderr.contains("panicked"), "floe panicked: {context}");
    assert_eq!(code, Some(1), "expected exit code 1: {context}");
    assert!(stderr.lines().any(|l| l.starts_with("error[E")), "expected an `error[E…]` line: {context}");

    let text = format!("exit: {}\n{stderr}", code.unwrap_or(-1));
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    settings.set_info(&format!("testdata/invalid/{name}"));
    // The build summary says how long the build took: `in 12 ms`, `in 1.20 s`.
    settings.add_filter(r"\bin \d+(\.\d+)? m?s\b", "in [duration]");
    // Nothing should print the temporary workspace path, but never let it leak into a snapshot.
    settings.add_filter(&regex_escape(&tmp), "[workspace]");
    settings.bind(|| insta::assert_snapshot!(format!("invalid__{name}"), text));
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[test]
fn invalid_workspaces_fail_with_diagnostics() {
    let cases = cases();
    assert!(
        cases.len() >= MIN_CASES,
        "expected at least {MIN_CASES} cases in {}, found {}",
        cases_dir().display(),
        cases.len()
    );
    // Run every case before failing, so one run shows (and writes) every mismatch.
    let mut failures = Vec::new();
    for (name, path) in &cases {
        if let Err(panic) = std::panic::catch_unwind(|| check(name, path)) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
