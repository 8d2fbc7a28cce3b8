//! dbt projects as they are: the paths `dbt_project.yml` configures, seeds and
//! snapshots that `ref()` names, package refs, and dbt's own output left alone.
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
    let r = floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "error[E0604]: model `stg_example` refs `raw_label`, which is no model, seed or snapshot of the project"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean `raw_labels`?"), "{}", r.stderr);
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
