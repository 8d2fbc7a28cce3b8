//! floe in editors and shells: `floe schema --write` and what editors make of
//! the schemas it writes (every example workspace's files validate, and
//! yaml-language-server checks, describes and completes keys with them),
//! `floe completions` and `floe man`.
#![allow(clippy::disallowed_methods)] // tests set up directories on disk

mod common;

use std::path::{Path, PathBuf};

use common::{floe, floe_cmd, run};
use serde_json::{Value, json};

/// The files `floe schema --write` writes, by the names `floe schema` lists.
const SCHEMAS: [&str; 4] =
    ["floe.schema.json", "manifest.schema.json", "compiled-artifacts.schema.json", "datacontract.schema.json"];

#[test]
fn schema_write_writes_every_schema_and_the_same_bytes_again() {
    let dir = tempfile::tempdir().unwrap();
    let listed = floe(dir.path(), &["schema"]);
    let names: Vec<String> = listed.stdout.lines().map(|n| format!("{n}.schema.json")).collect();
    assert_eq!(names, SCHEMAS);

    let r = floe(dir.path(), &["schema", "--write", "editor/schemas"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "the schemas go to files, nothing to stdout");
    let schemas = dir.path().join("editor/schemas");
    let mut first = Vec::new();
    for name in SCHEMAS {
        let bytes = std::fs::read(schemas.join(name)).unwrap();
        // The file is what `floe schema NAME` prints.
        let printed = floe(dir.path(), &["schema", name.trim_end_matches(".schema.json")]);
        assert_eq!(bytes, printed.stdout.as_bytes(), "{name}");
        assert!(r.stderr.contains(&format!("wrote editor/schemas/{name}\n")), "{}", r.stderr);
        first.push(bytes);
    }
    assert_eq!(std::fs::read_dir(&schemas).unwrap().count(), SCHEMAS.len(), "no other file is left behind");

    // Again, quietly, over the first files, from elsewhere with -C: the same bytes.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = floe_cmd(dir.path());
    cmd.current_dir(elsewhere.path()).args(["schema", "--write", "editor/schemas", "-q"]);
    let r = run(cmd);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    for (name, bytes) in SCHEMAS.iter().zip(&first) {
        assert_eq!(&std::fs::read(schemas.join(name)).unwrap(), bytes, "{name} changed between runs");
    }
}

#[test]
fn schema_write_refuses_a_file_and_a_schema_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schemas"), "not a directory\n").unwrap();
    let r = floe(dir.path(), &["schema", "--write", "schemas"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr, "error: `schemas` is a regular file, not a directory\n");
    let r = floe(dir.path(), &["schema", "floe", "--write", "out"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!dir.path().join("out").exists());
}

/// Every `floe.yaml` and `manifest.yaml` under `dir`, sorted.
fn documents(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') && name != "floe-out" {
            documents(&path, out);
        } else if name == "floe.yaml" || name == "manifest.yaml" {
            out.push(path);
        }
    }
}

/// The valid documents of the example workspaces: all but `testdata/invalid/`.
fn valid_documents() -> Vec<PathBuf> {
    let testdata = common::repo().join("testdata");
    let mut all = Vec::new();
    documents(&testdata, &mut all);
    all.retain(|p| !p.starts_with(testdata.join("invalid")));
    assert!(all.len() >= 20, "only {} documents under testdata/", all.len());
    all
}

fn schema_name(document: &Path) -> &'static str {
    if document.ends_with("floe.yaml") { "floe.schema.json" } else { "manifest.schema.json" }
}

/// A YAML document as the JSON value a JSON Schema validator checks.
fn as_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    floe_schemas::yaml::parse(&path.display().to_string(), &bytes).unwrap().to_json()
}

#[test]
fn every_example_document_validates_against_the_written_schemas() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(floe(dir.path(), &["schema", "--write", "schemas", "-q"]).code, 0);
    let validator = |name: &str| {
        let schema: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("schemas").join(name)).unwrap()).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name} is not a valid JSON Schema: {e}"))
    };
    let (spec, manifest) = (validator("floe.schema.json"), validator("manifest.schema.json"));
    for document in valid_documents() {
        let v = if schema_name(&document) == "floe.schema.json" { &spec } else { &manifest };
        let errors: Vec<String> =
            v.iter_errors(&as_json(&document)).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{}:\n{}", document.display(), errors.join("\n"));
    }
    // The schemas reject what floe rejects: a misspelt key, a value outside its enumeration.
    let mut wrong = as_json(&common::repo().join("testdata/centralized/manifest.yaml"));
    wrong["governence"] = json!({});
    wrong["scope"] = json!("global");
    assert_eq!(manifest.iter_errors(&wrong).count(), 2, "{wrong}");
}

/// The directory `.ci/test` installs yaml-language-server into, and node;
/// `None` after recording the test as skipped.
fn yaml_language_server() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("FLOE_TEST_YAML_LS").map(PathBuf::from) else {
        common::skip("FLOE_TEST_YAML_LS is not set (.ci/test installs yaml-language-server)");
        return None;
    };
    if !dir.join("node_modules/yaml-language-server").is_dir() {
        common::skip(&format!("no yaml-language-server under {}", dir.display()));
        return None;
    }
    if std::process::Command::new("node").arg("--version").output().is_err() {
        common::skip("no node to run yaml-language-server");
        return None;
    }
    Some(dir)
}

#[test]
fn yaml_language_server_checks_describes_and_completes_with_the_written_schemas() {
    let Some(server) = yaml_language_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(floe(dir.path(), &["schema", "--write", "schemas", "-q"]).code, 0);
    // Every example document at its place in a copy of testdata/, its first
    // line naming its schema by a path relative to it, as a workspace's files do.
    let testdata = common::repo().join("testdata");
    let mut files = Vec::new();
    for document in valid_documents() {
        let rel = document.strip_prefix(&testdata).unwrap();
        let up = "../".repeat(rel.components().count() - 1);
        let copy = dir.path().join("testdata").join(rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&document).unwrap();
        let modeline = format!("# yaml-language-server: $schema={up}../schemas/{}\n", schema_name(&document));
        std::fs::write(&copy, format!("{modeline}{text}")).unwrap();
        files.push(copy);
    }
    let wrong = dir.path().join("testdata/wrong/floe.yaml");
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    std::fs::write(
        &wrong,
        "# yaml-language-server: $schema=../../schemas/floe.schema.json\n\
         apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: orders, version: 1.0.0}\n\
         transforms:\n  - name: stg_orders\n    tier: platinum\nschedul: {cron: '0 6 * * *'}\n",
    )
    .unwrap();
    let partial = dir.path().join("testdata/partial/floe.yaml");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(
        &partial,
        "# yaml-language-server: $schema=../../schemas/floe.schema.json\napiVersion: floe.dev/v1\n\n",
    )
    .unwrap();
    files.push(wrong.clone());
    let request = json!({
        "files": files,
        "hover": {"file": wrong, "line": 2, "character": 2},
        "completion": {"file": partial, "line": 3, "character": 0},
    });

    let mut cmd = std::process::Command::new("node");
    cmd.arg(common::repo().join("tests/editors/yaml-language-server.mjs")).arg(&server);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();

    for file in &files[..files.len() - 1] {
        let found = &answer["diagnostics"][file.to_str().unwrap()];
        assert_eq!(found, &json!([]), "{}", file.display());
    }
    let found = answer["diagnostics"][wrong.to_str().unwrap()].as_array().unwrap();
    let lines: Vec<u64> = found.iter().filter_map(|d| d["line"].as_u64()).collect();
    assert!(lines.contains(&7) && lines.contains(&8), "the wrong tier and the misspelt key: {found:?}");
    let hover = answer["hover"].as_str().unwrap_or_default();
    assert!(hover.contains("Version of the floe.yaml format"), "{hover}");
    let offered: Vec<&str> = answer["completion"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for key in ["kind", "metadata", "transforms", "outputPorts"] {
        assert!(offered.contains(&key), "{key} not offered: {offered:?}");
    }
}

/// The commands `floe --help` lists.
fn commands() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let help = floe(dir.path(), &["--help"]).stdout;
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(listed.len() >= 14 && listed.iter().any(|c| c == "completions"), "{help}");
    listed
}

#[test]
fn completions_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let bash = floe(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    for command in commands() {
        assert!(bash.stdout.contains(&format!("floe,{command})")), "bash completes no `{command}`");
    }
    assert!(bash.stdout.contains("platform,compile)"), "bash completes no `platform compile`");
    assert!(bash.stdout.contains("complete -F _floe"), "the script registers itself");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let r = floe(dir.path(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("explain") && r.stdout.contains("workspace"), "{shell}:\n{}", r.stdout);
    }
    let r = floe(dir.path(), &["completions", "tcsh"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
}

#[test]
fn man_page_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = floe(dir.path(), &["man"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(page.stdout.starts_with(".ie") && page.stdout.contains(".TH floe 1 "), "{}", page.stdout);
    for command in commands() {
        assert!(page.stdout.contains(&format!("floe\\-{command}(1)")), "the page names no `{command}`");
    }
    // Each command's own page, as floe(1) names it.
    let build = floe(dir.path(), &["man", "build"]);
    assert!(build.stdout.contains(".TH floe-build 1 ") && build.stdout.contains("floe\\-build \\- Build packages"));
    let compile = floe(dir.path(), &["man", "platform", "compile"]);
    assert!(compile.stdout.contains(".TH floe-platform-compile 1 "), "{}", compile.stdout);
    let r = floe(dir.path(), &["man", "nope"]);
    assert_eq!((r.code, r.stderr.as_str()), (2, "error: no command `nope`; `floe --help` lists them\n"));
}
