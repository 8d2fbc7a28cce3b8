//! dbt projects as they are: the paths `dbt_project.yml` configures, seeds and
//! snapshots that `ref()` names, vars, declared packages and refs to their
//! models, and dbt's own output left alone.
#![allow(clippy::disallowed_methods)] // tests write dbt projects on disk

mod common;

use std::path::Path;

use common::{edit, floe};

/// A workspace from `floe init`, its product's dbt project rearranged by `arrange`.
fn scaffold(arrange: impl FnOnce(&Path)) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    assert_eq!(floe(ws.path(), &["init", "-q"]).code, 0);
    arrange(&ws.path().join("example"));
    ws
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `(code, file)` of every diagnostic of a build.
fn findings(ws: &Path) -> (i32, Vec<(String, String)>) {
    let r = floe(ws, &["build", "--format", "json"]);
    let report = r.json();
    let found = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_owned(), d["file"].as_str().unwrap_or_default().to_owned()))
        .collect();
    (r.code, found)
}

#[test]
fn refs_to_seeds_snapshots_and_packages_are_not_unknown_models() {
    let ws = scaffold(|p| {
        write(&p.join("seeds/raw_labels.csv"), "id,label\n1,a\n");
        write(
            &p.join("snapshots/labels.sql"),
            "{% snapshot labels_snapshot %}\nselect * from {{ ref('raw_labels') }}\n{% endsnapshot %}\n",
        );
        write(&p.join("seeds/properties.yml"), "version: 2\nseeds:\n  - name: documented_only\n");
        write(&p.join("packages.yml"), "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\"]\n");
        write(
            &p.join("models/stg_example.sql"),
            "select id, label from {{ ref('raw_labels') }}\n\
             join {{ ref('labels_snapshot') }} using (id)\n\
             join {{ ref('documented_only') }} using (id)\n\
             join {{ ref('dbt_utils', 'date_spine') }} using (id)\n",
        );
    });
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    // A ref that names nothing is still reported, with the seeds among the suggestions.
    edit(&ws.path().join("example/models/stg_example.sql"), |t| t.replace("ref('raw_labels')", "ref('raw_label')"));
    let stderr = failing(ws.path());
    let message =
        "error[E0604]: model `stg_example` refs `raw_label`, which is no model, seed or snapshot of the project";
    assert!(stderr.contains(message), "{stderr}");
    assert!(stderr.contains("did you mean `raw_labels`?"), "{stderr}");
}

#[test]
fn model_paths_come_from_dbt_project_yml() {
    let ws = scaffold(|p| {
        std::fs::rename(p.join("models"), p.join("transform")).unwrap();
        edit(&p.join("dbt_project.yml"), |t| t.replace("model-paths: [models]", "model-paths: [\"transform\"]"));
    });
    assert_eq!(findings(ws.path()), (0, Vec::new()), "the models are found under transform/");
    // Back to dbt's default while the files stay: every transform lacks its model.
    edit(&ws.path().join("example/dbt_project.yml"), |t| t.replace("model-paths: [\"transform\"]\n", ""));
    let (code, found) = findings(ws.path());
    assert_eq!(code, 1);
    let missing: Vec<&str> = found.iter().filter(|(c, _)| c == "E0601").map(|(_, f)| f.as_str()).collect();
    assert_eq!(missing, ["example/floe.yaml", "example/floe.yaml"], "{found:?}");
}

#[test]
fn what_dbt_writes_into_its_project_is_not_read() {
    let ws = scaffold(|p| {
        for dir in ["target/compiled/example/models", "dbt_packages/dbt_utils/models", "logs"] {
            write(&p.join(dir).join("junk.sql"), "select * from {{ ref('nowhere') }}\n");
            write(&p.join(dir).join("junk.yml"), "version: 2\nmodels: [{name: [broken\n");
        }
    });
    assert_eq!(findings(ws.path()), (0, Vec::new()));
}

#[test]
fn transforms_without_a_dbt_project_are_an_error() {
    let ws = scaffold(|p| std::fs::remove_file(p.join("dbt_project.yml")).unwrap());
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error[E0607]: 2 transforms but no dbt project beside `floe.yaml`"), "{}", r.stderr);
    assert!(!ws.path().join("floe-out/example/definitions.py").exists(), "no job that would run dbt on nothing");
}

/// The stderr of a build that fails on the workspace (exit 1).
fn failing(ws: &Path) -> String {
    let r = floe(ws, &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.stderr
}

/// The messages of a build's diagnostics with `code`.
fn messages(ws: &Path, code: &str) -> Vec<String> {
    let report = floe(ws, &["build", "--format", "json"]).json();
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_ref_through_a_var_is_read_through_dbt_project_yml() {
    let ws = scaffold(|p| {
        edit(&p.join("dbt_project.yml"), |t| {
            format!(
                "{t}vars:\n  staged: stg_wrong\n  example:\n    staged: stg_example\n  other_package:\n    more: x\n"
            )
        });
        write(
            &p.join("models/fct_example.sql"),
            "select id, label from {{ ref(var('staged')) }}\njoin {{ ref(var('unset', 'stg_example')) }} using (id)\n",
        );
    });
    // The var scoped to the project wins over the global one.
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    let sql = ws.path().join("example/models/fct_example.sql");
    edit(&sql, |t| t.replace("var('unset', 'stg_example')", "var('unset')"));
    let stderr = failing(ws.path());
    let message =
        "error[E0608]: model `fct_example` refs the model named by var `unset`, which dbt_project.yml does not define";
    assert!(stderr.contains(message), "{stderr}");
    // The caret sits under the var's name.
    assert!(stderr.contains("fct_example.sql:2:"), "{stderr}");
    edit(&sql, |t| t.replace("var('unset')", "var('unset', 'stg_exampel')"));
    assert_eq!(
        messages(ws.path(), "E0604"),
        [
            "model `fct_example` refs `stg_exampel` (the value of var `unset`), which is no model, seed or snapshot of the project"
        ]
    );
    // An edit of the vars alone reaches the models that read them.
    edit(&sql, |t| t.replace("var('unset', 'stg_exampel')", "var('staged')"));
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    edit(&ws.path().join("example/dbt_project.yml"), |t| {
        t.replace("    staged: stg_example\n", "    staged: stg_gone\n")
    });
    assert_eq!(
        messages(ws.path(), "E0604"),
        ["model `fct_example` refs `stg_gone` (the value of var `staged`), which is no model, seed or snapshot of the project";
            2]
    );
}

#[test]
fn models_of_declared_packages_may_be_named() {
    let ws = scaffold(|p| {
        write(
            &p.join("models/fct_example.sql"),
            "select id, label from {{ ref('stg_example') }}\n\
             join {{ ref('stripe__customers') }} using (id)\n\
             join {{ ref('dbt_utils', 'date_spine') }} using (id)\n\
             join {{ ref('example', 'stg_example') }} using (id)\n",
        );
    });
    // Without packages, a model of none is unknown.
    assert_eq!(
        messages(ws.path(), "E0604"),
        [
            "model `fct_example` refs `stripe__customers`, which is no model, seed or snapshot of the project",
            "model `fct_example` refs `date_spine` of package `dbt_utils`, which the project does not declare",
        ]
    );
    // Declaring them is an edit floe sees, in the incremental build as in a clean one.
    let packages = ws.path().join("example/packages.yml");
    write(
        &packages,
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n  - package: fivetran/stripe\n    version: 0.15.0\n",
    );
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    assert_eq!(floe(ws.path(), &["clean"]).code, 0);
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    // A package name that is none of those declared, and a near miss of a model of the project.
    let sql = ws.path().join("example/models/fct_example.sql");
    edit(&sql, |t| {
        t.replace("ref('dbt_utils'", "ref('dbt_utlis'").replace("ref('stg_example') }}\n", "ref('stg_exampel') }}\n")
    });
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `dbt_utils`?"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `stg_example`? (a model of a package"), "{}", r.stderr);
    // A package known only by where it lives may be any name.
    edit(&packages, |t| format!("{t}  - git: https://github.com/example/dbt-helpers.git\n    revision: 1.0.0\n"));
    assert_eq!(
        messages(ws.path(), "E0604"),
        ["model `fct_example` refs `stg_exampel`, which is no model, seed or snapshot of the project"]
    );
}

#[test]
fn a_bare_project_version_reaches_the_report_as_written() {
    let ws = scaffold(|p| edit(&p.join("dbt_project.yml"), |t| t.replace("version: '0.1.0'", "version: 1.10")));
    assert_eq!(findings(ws.path()), (0, Vec::new()));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("floe-out/example/enforcement.json")).unwrap()).unwrap();
    assert_eq!(report["manifest_version"], "1.10");
}
