//! `docs/reference/errors.md` is generated: every diagnostic code with its
//! explanation (`schemas/src/catalogue.rs`, also behind `floe explain`) and an
//! example as floe prints it, taken from the snapshots of `testdata/invalid/` or
//! produced here for the codes no workspace case shows. This test regenerates the
//! page and fails when the checked-in copy was stale, so codes, explanations and
//! examples cannot drift apart.
#![allow(clippy::disallowed_methods)] // a test that maintains a checked-in file

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use floe_schemas::Code;

/// The block of one diagnostic with `code` in a rendered stderr, if any.
fn block(text: &str, code: Code) -> Option<String> {
    let heads = [format!("error[{}]", code.as_str()), format!("warning[{}]", code.as_str())];
    let start = text.lines().position(|l| heads.iter().any(|h| l.starts_with(h.as_str())))?;
    let lines: Vec<&str> = text.lines().skip(start).take_while(|l| !l.is_empty()).collect();
    Some(lines.join("\n"))
}

/// Examples from the snapshots of the invalid-input cases and the governance
/// workspace's products: the first case that shows each code.
fn snapshot_examples() -> BTreeMap<Code, (String, String)> {
    let dir = common::repo().join("tests/snapshots");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = BTreeMap::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let source = match (name.strip_prefix("invalid__"), name.strip_prefix("governance__")) {
            (Some(case), _) => format!("testdata/invalid/{}", case.trim_end_matches(".snap")),
            (_, Some(product)) => format!("testdata/governance/{}", product.trim_end_matches(".snap")),
            _ => continue,
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for code in Code::ALL {
            if !out.contains_key(code)
                && let Some(b) = block(&text, *code)
            {
                out.insert(*code, (source.clone(), b));
            }
        }
    }
    out
}

/// Examples for codes that only the command line, or an unusual file, shows.
fn produced_examples() -> BTreeMap<Code, (String, String)> {
    let mut out = BTreeMap::new();
    let ws = common::workspace("centralized");
    let r = common::floe(ws.path(), &["build", "//orders:artifacts", "//bad label"]);
    out.insert(
        Code::InvalidLabel,
        ("floe build '//bad label'".to_owned(), block(&r.stderr, Code::InvalidLabel).unwrap()),
    );
    let r = common::floe(ws.path(), &["build", "//order"]);
    out.insert(Code::NoSuchLabel, ("floe build //order".to_owned(), block(&r.stderr, Code::NoSuchLabel).unwrap()));
    let big = format!("{}\n", "# padding\n".repeat(110_000));
    std::fs::write(ws.path().join("orders/floe.yaml"), big).unwrap();
    let r = common::floe(ws.path(), &["build"]);
    out.insert(
        Code::FileTooLarge,
        ("a floe.yaml over 1 MiB".to_owned(), block(&r.stderr, Code::FileTooLarge).unwrap()),
    );
    for (code, what, setup) in [
        (Code::NotARegularFile, "a FIFO named manifest.yaml", "mkdir stray && mkfifo stray/manifest.yaml"),
        (
            Code::LinkLeavesWorkspace,
            "floe.yaml, a link out of the workspace",
            "ln -sf \"$OUTSIDE/passwd\" orders/floe.yaml",
        ),
        (Code::DirectoryRepeated, "a link back to the workspace root", "ln -s . loop"),
        (Code::UnaddressablePackage, "a product directory with a space", "cp -r orders 'orders copy'"),
    ] {
        let ws = common::workspace("centralized");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("passwd"), "root:x:0:0\n").unwrap();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(setup)
            .current_dir(ws.path())
            .env("OUTSIDE", outside.path())
            .status()
            .unwrap();
        assert!(status.success(), "{setup}");
        // Bounded: a FIFO read by mistake would wait forever.
        let r = common::floe_within(ws.path(), &["build"], std::time::Duration::from_secs(30));
        let text = r.stderr.replace(&outside.path().display().to_string(), "/home/me");
        out.insert(code, (what.to_owned(), block(&text, code).unwrap_or_else(|| panic!("{code}: {text}"))));
    }
    let empty = tempfile::tempdir().unwrap();
    let r = common::floe(empty.path(), &["build"]);
    let text = r.stderr.replace(&empty.path().display().to_string(), "/home/me/projects");
    out.insert(
        Code::NoWorkspace,
        ("floe build, outside a workspace".to_owned(), block(&text, Code::NoWorkspace).unwrap()),
    );
    out
}

#[test]
fn error_catalogue_is_complete_and_fresh() {
    let mut examples = snapshot_examples();
    examples.extend(produced_examples());
    let mut md = String::from(
        "# Diagnostic codes\n\n\
         Every problem floe reports carries one of these codes, and `floe explain CODE` prints \
         the explanation given here. Codes never change meaning and are never reused.\n\n\
         This page is generated from `schemas/src/catalogue.rs` and the snapshots of the \
         invalid-input cases under `testdata/invalid/` and of the governance workspace \
         `testdata/governance/`; `cargo test --test catalogue` regenerates it.\n",
    );
    for code in Code::ALL {
        let _ = write!(
            md,
            "\n## {}: {}\n\n{}\n",
            code.as_str(),
            code.summary(),
            floe_schemas::catalogue::explanation(*code)
        );
        match examples.get(code) {
            Some((source, text)) => {
                let _ = write!(md, "\nExample ({source}):\n\n```text\n{text}\n```\n");
            }
            None => {
                assert_eq!(*code, Code::Internal, "no example shows {}: add an invalid-input case", code.as_str());
                md.push_str("\nNo input is known to produce it.\n");
            }
        }
    }
    let path = common::repo().join("docs/reference/errors.md");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(md.as_str()) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &md).unwrap();
        panic!("docs/reference/errors.md was stale and has been regenerated: commit it");
    }
}

#[test]
fn explain_prints_the_catalogue_entry() {
    let ws = common::workspace("centralized");
    let r = common::floe(ws.path(), &["explain", "e0206"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("E0206: A child manifest loosens a governance setting of its parent\n\n"));
    assert!(r.stdout.contains("strengthen-only"));
    let r = common::floe(ws.path(), &["explain"]);
    assert_eq!(r.stdout.lines().count(), Code::ALL.len());
    assert_eq!(common::floe(ws.path(), &["explain", "E9999"]).code, 2);
}
