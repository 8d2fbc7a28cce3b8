//! Where floe's output goes when it cannot go where it should: into a closed
//! pipe floe ends quietly with the command's own exit code, a write that fails
//! otherwise is an infrastructure failure (3), and a panic is reported as a
//! bug in floe (70). And what floe prints for a person is safe for a terminal:
//! control characters from the workspace are escaped.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests open /dev/full and make pipes

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{Run, edit, floe, floe_cmd, run, workspace};

/// Where a stream of floe goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    /// A pipe the test reads.
    Read,
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
    /// A pipe whose reading end is closed before floe starts (`| head -0`).
    Closed,
}

fn stdio(sink: Sink) -> Stdio {
    match sink {
        Sink::Read => Stdio::piped(),
        Sink::Full => std::fs::File::options().write(true).open("/dev/full").unwrap().into(),
        Sink::Closed => {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            writer.into()
        }
    }
}

fn floe_into(dir: &Path, args: &[&str], stdout: Sink, stderr: Sink) -> Run {
    let mut cmd = floe_cmd(dir);
    cmd.args(args).stdout(stdio(stdout)).stderr(stdio(stderr));
    run(cmd)
}

/// Every command that prints data on stdout, with the workspace it runs in.
const DATA: &[(&str, &[&str])] = &[
    ("mesh", &["--help"]),
    ("mesh", &["--version"]),
    ("mesh", &["plugins"]),
    ("mesh", &["plugins", "--format", "json"]),
    ("mesh", &["explain"]),
    ("mesh", &["explain", "E0101"]),
    ("mesh", &["schema"]),
    ("mesh", &["schema", "floe"]),
    ("mesh", &["completions", "bash"]),
    ("mesh", &["man"]),
    ("mesh", &["query"]),
    ("mesh", &["query", "--targets", "--format", "json"]),
    ("mesh", &["query", "rdeps(//sales/orders)"]),
    ("mesh", &["graph"]),
    ("mesh", &["graph", "--format", "json"]),
    ("mesh", &["graph", "--format", "dot"]),
    ("mesh", &["graph", "--format", "mermaid"]),
    ("mesh", &["hash", "//..."]),
    ("mesh", &["why", "//sales/orders"]),
    ("mesh", &["why", "//sales/orders", "--format", "json"]),
    ("mesh", &["check", "--format", "json"]),
    ("mesh", &["check", "--format", "sarif"]),
    ("mesh", &["build", "--format", "json"]),
    // A platform without network endpoints: nothing is probed.
    ("dbt-run", &["doctor", "--format", "json"]),
];

#[test]
fn a_failed_write_to_stdout_is_an_infrastructure_failure() {
    for (name, args) in DATA {
        let ws = workspace(name);
        let r = floe_into(ws.path(), args, Sink::Full, Sink::Read);
        assert_eq!(r.code, 3, "floe {args:?} >/dev/full:\n{}", r.stderr);
        assert!(
            r.stderr.ends_with("error: cannot write to stdout: No space left on device (os error 28)\n"),
            "floe {args:?} >/dev/full:\n{}",
            r.stderr
        );
    }
}

#[test]
fn a_closed_stdout_ends_floe_quietly_with_the_commands_own_exit_code() {
    for (name, args) in DATA {
        let ws = workspace(name);
        let read = floe_into(ws.path(), args, Sink::Read, Sink::Read);
        assert!(!read.stdout.is_empty(), "floe {args:?} prints data");
        let ws = workspace(name);
        let closed = floe_into(ws.path(), args, Sink::Closed, Sink::Read);
        assert_eq!(closed.code, read.code, "floe {args:?} | head -0:\n{}", closed.stderr);
        assert_eq!(closed.stderr, read.stderr, "floe {args:?} | head -0 says nothing more");
    }
}

/// Commands that print on stderr only, with their exit code.
const MESSAGES: &[(&str, &[&str], i32)] = &[
    ("mesh", &["check"], 0),
    ("mesh", &["build"], 0),
    ("mesh", &["clean"], 0),
    ("mesh", &["schema", "--write", "schemas"], 0),
    ("mesh", &["man", "nope"], 2),
    ("mesh", &["query", "//nowhere"], 1),
    ("mesh", &["explain", "E9999"], 2),
    ("mesh", &["--no-such-flag"], 2),
    ("dbt-run", &["doctor"], 0),
    ("invalid", &["check", "//..."], 1),
];

#[test]
fn a_failed_write_to_stderr_is_an_infrastructure_failure() {
    for (name, args, _) in MESSAGES {
        let ws = workspace(name);
        let r = floe_into(ws.path(), args, Sink::Read, Sink::Full);
        assert_eq!(r.code, 3, "floe {args:?} 2>/dev/full");
    }
}

#[test]
fn a_closed_stderr_ends_floe_quietly_with_the_commands_own_exit_code() {
    for (name, args, code) in MESSAGES {
        let ws = workspace(name);
        assert_eq!(floe_into(ws.path(), args, Sink::Read, Sink::Read).code, *code, "floe {args:?}");
        let ws = workspace(name);
        assert_eq!(floe_into(ws.path(), args, Sink::Read, Sink::Closed).code, *code, "floe {args:?} 2>&-");
    }
}

#[test]
fn a_panic_is_reported_as_a_bug_in_floe_on_any_thread() {
    let ws = workspace("mesh");
    for place in ["main", "worker"] {
        let mut cmd = floe_cmd(ws.path());
        cmd.args(["check"]).env("FLOE_INTERNAL_PANIC", place).env("RUST_BACKTRACE", "full");
        let r = run(cmd);
        assert_eq!(r.code, 70, "{}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "one line and a request to report it, no backtrace:\n{}", r.stderr);
        assert!(
            lines[0]
                .starts_with(&format!("error: floe failed unexpectedly: FLOE_INTERNAL_PANIC={place} at src/main.rs:")),
            "{}",
            r.stderr
        );
        assert!(lines[1].starts_with("hint: this is a bug in floe, not in the workspace; please report it"));
        assert!(r.stdout.is_empty());
    }
}

/// Nothing but line breaks (and tabs) that could act on a terminal.
fn assert_inert(text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?} reach the terminal:\n{text}");
}

#[test]
fn control_characters_from_the_workspace_reach_no_terminal() {
    // A value that clears the screen and prints a success line of its own.
    let ws = workspace("mesh");
    let spec = ws.path().join("sales/orders/floe.yaml");
    edit(&spec, |s| s.replacen("tier: bronze}", r#"tier: "\e[2J\rALL CHECKS PASSED\n"}"#, 1));
    let r = floe(ws.path(), &["check"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_inert(&r.stderr);
    assert!(r.stderr.contains(r"invalid value `\u{1b}[2J\rALL CHECKS PASSED\n`"), "{}", r.stderr);
    // JSON carries the value as it is, escaped the JSON way.
    let json = floe(ws.path(), &["check", "--format", "json"]);
    assert_inert(&json.stdout);
    assert!(json.stdout.contains(r"invalid value `\u001b[2J\rALL CHECKS PASSED\n`"), "{}", json.stdout);

    // The same bytes raw in a source line: the snippet shows them escaped.
    edit(&spec, |s| s.replacen("tier: silver", "tier: silver  # \u{1b}[2J\u{202e}", 1));
    let r = floe(ws.path(), &["check"]);
    assert_inert(&r.stderr);
    assert!(r.stderr.contains(r"tier: silver  # \u{1b}[2J\u{202e}"), "{}", r.stderr);

    // Arguments quoted back in a usage error.
    let r = floe(ws.path(), &["build", "--no-such-flag\u{1b}[2J"]);
    assert_eq!(r.code, 2);
    assert_inert(&r.stderr);

    // Package directories are labels in `query`, `hash`, `why` and `build -v`.
    let ws = workspace("mesh");
    let evil = ws.path().join("sales/evil\u{1b}[2J\u{202e}\nALL CHECKS PASSED");
    common::copy_dir(&ws.path().join("sales/orders"), &evil);
    for args in [&["query", "//..."][..], &["hash", "//..."], &["why", "//..."], &["build", "-v"]] {
        let r = floe(ws.path(), args);
        assert_inert(&r.stdout);
        assert_inert(&r.stderr);
        assert!(!r.stdout.lines().chain(r.stderr.lines()).any(|l| l == "ALL CHECKS PASSED"), "{args:?}");
    }
}

/// A build longer than a second shows its progress on a terminal (stderr,
/// cleared before the summary), and never with `-q`, `--format json` or
/// when stderr is not a terminal. `script` (util-linux) gives floe the
/// terminal.
#[test]
fn a_long_build_shows_its_progress_on_a_terminal_only() {
    let Some(script) = common::registry::program("script") else {
        return common::skip("`script` (util-linux) is not installed");
    };
    // Long enough to take more than a second in the build the tests run.
    let ws = common::bench_workspace(4, 100);
    let on_terminal = |args: &str| {
        let typescript = ws.path().join("typescript");
        let command = format!("{} -C {} build {args}", env!("CARGO_BIN_EXE_floe"), ws.path().display());
        let r = std::process::Command::new(&script)
            .args(["-qec", &command])
            .arg(&typescript)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        std::fs::remove_dir_all(ws.path().join("floe-out")).unwrap();
        std::fs::remove_dir_all(ws.path().join(".floe")).unwrap();
        String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned()
    };
    let shown = on_terminal("");
    assert!(shown.contains("building [") && shown.contains("/405 packages"), "{shown}");
    // Cleared, then the summary.
    let summary = shown.rfind("built ").unwrap();
    assert!(shown[..summary].ends_with("\u{1b}[2K"), "{shown}");
    for quiet in ["-q", "--format json"] {
        let text = on_terminal(quiet);
        assert!(!text.contains("building ["), "{quiet}: {text}");
    }
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("building ["), "{}", r.stderr);
}
