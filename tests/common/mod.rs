//! Shared helpers of the command-line tests: workspaces on disk and a floe runner.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, dead_code)] // tests set up workspaces on disk

pub mod kube;
pub mod registry;
mod skip;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use skip::skip;

/// Derivations of a cold build of `testdata/mesh`: per product one per
/// product target, per platform package (the root and three domains) four.
pub const MESH_DERIVATIONS: usize = 80;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The conformance folder beside the checkout (or where `FLOE_CONFORMANCE`
/// says, for a checkout elsewhere); `None` after recording the test as
/// skipped (a failure under CI).
pub fn conformance() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOE_CONFORMANCE").map_or_else(|| repo().join("../shared/conformance"), PathBuf::from);
    if dir.is_dir() {
        return Some(dir);
    }
    skip(&format!("no conformance data at {}", dir.display()));
    None
}

/// A copy of a workspace's sources: what a build left in the tree
/// (`floe-out/`, `.floe/`) is not one, and no test depends on it.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "floe-out" || entry.file_name() == ".floe" {
            continue;
        }
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A copy of `testdata/<name>` in a fresh temporary directory.
pub fn workspace(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("testdata").join(name), tmp.path());
    tmp
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

pub fn floe_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_floe"));
    cmd.arg("-C").arg(dir).env("NO_COLOR", "1").env_remove("SOURCE_DATE_EPOCH").env_remove("FLOE_STORE");
    cmd
}

pub fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "floe panicked:\n{}", run.stderr);
    run
}

pub fn floe(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = floe_cmd(dir);
    cmd.args(args);
    run(cmd)
}

/// A synthetic workspace, as `floe-bench generate` writes one.
pub fn bench_workspace(domains: usize, products_per_domain: usize) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_floe-bench"))
        .args(["generate", "--domains", &domains.to_string()])
        .args(["--products-per-domain", &products_per_domain.to_string(), "--out"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ws
}

/// Builds `//...` with JSON output and returns the parsed report.
pub fn build_json(dir: &Path) -> serde_json::Value {
    let r = floe(dir, &["build", "//...", "--format", "json"]);
    assert_eq!(r.code, 0, "build failed:\n{}\n{}", r.stdout, r.stderr);
    r.json()
}

/// Labels of the derivations with the given status, sorted.
pub fn with_status(report: &serde_json::Value, status: &str) -> Vec<String> {
    let mut v: Vec<String> = report["derivations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == status)
        .map(|d| d["label"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// Every file below `dir`, relative, sorted, with its bytes.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

pub fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let new = f(text.clone());
    assert_ne!(text, new, "the edit of {} changed nothing", path.display());
    std::fs::write(path, new).unwrap();
}

/// Runs floe like `common::floe`, but kills it after `limit` (and fails the
/// test) instead of waiting forever, and caps its memory.
pub fn floe_within(dir: &Path, args: &[&str], limit: std::time::Duration) -> Run {
    let mut cmd = Command::new("sh");
    // 4 GiB of address space: a walk that explodes fails fast instead of
    // exhausting the machine.
    cmd.arg("-c").arg("ulimit -v 4194304; exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_floe"));
    cmd.arg("-C").arg(dir).args(args);
    cmd.env("NO_COLOR", "1").env_remove("SOURCE_DATE_EPOCH").env_remove("FLOE_STORE");
    run_within(cmd, None, limit, &args.join(" "))
}

/// Runs `cmd` (floe, `what` it was asked), with `stdin` piped in; kills it
/// (failing the test) after `limit`, and fails on a panic or a signal.
pub fn run_within(mut cmd: Command, stdin: Option<&str>, limit: std::time::Duration, what: &str) -> Run {
    use std::io::{Read, Write};
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`floe {what}` did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let run = Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    assert!(!run.stderr.contains("panicked"), "floe panicked:\n{}", run.stderr);
    assert!(status.code().is_some(), "floe was killed by a signal ({status}):\n{}", run.stderr);
    run
}

/// In a copy of the mesh example, a tag more on one of the orders
/// product's transforms: an edit that reaches no port.
pub fn tag_an_orders_transform(ws: &Path) {
    edit(&ws.join("sales/orders/floe.yaml"), |s| {
        s.replace(
            "  - {name: stg_store_orders, tags: [staging], tier: bronze}\n",
            "  - {name: stg_store_orders, tags: [staging, pos], tier: bronze}\n",
        )
    });
}

/// In a copy of the mesh example, a column more on the orders port.
pub fn add_an_orders_column(ws: &Path) {
    edit(&ws.join("sales/orders/floe.yaml"), |s| {
        s.replace(
            "      - {name: channel, type: string}\n",
            "      - {name: channel, type: string}\n      - {name: coupon, type: string}\n",
        )
    });
}
