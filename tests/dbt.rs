//! Real consumers of what floe generates: dbt-core with dbt-duckdb checks and
//! runs `testdata/dbt-run` with the generated `profiles.yml`, and Python
//! compiles the generated orchestrator definitions. The test command installs
//! them and names dbt in `FLOE_TEST_DBT` (its venv's `python` sits next to it).
#![allow(clippy::disallowed_methods)] // tests run dbt and Python and read their results

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn dbt() -> Option<PathBuf> {
    match std::env::var_os("FLOE_TEST_DBT") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            common::skip("FLOE_TEST_DBT is not set (.ci/test installs dbt)");
            None
        }
    }
}

/// Runs dbt `command` on the product with the generated profile, from `cwd`
/// (the profile's DuckDB path is relative to it).
fn run_dbt(dbt: &Path, cwd: &Path, product: &Path, profiles: &Path, command: &str) -> String {
    let out = Command::new(dbt)
        .current_dir(cwd)
        .args([command, "--project-dir"])
        .arg(product)
        .arg("--profiles-dir")
        .arg(profiles)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_VERSION_CHECK", "false")
        .env("DBT_LOG_PATH", cwd.join("dbt-logs"))
        .env("DBT_TARGET_PATH", cwd.join("dbt-target"))
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "dbt {command} failed:\n{log}");
    log
}

#[test]
fn dbt_checks_and_runs_the_project_with_the_generated_profile() {
    let Some(dbt) = dbt() else { return };
    let ws = common::workspace("dbt-run");
    let root = ws.path();
    std::fs::create_dir_all(root.join("warehouse")).unwrap();
    let r = common::floe(root, &["build", "//daily-orders"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let product = root.join("daily-orders");
    let profiles = root.join("floe-out/daily-orders");

    let debug = run_dbt(&dbt, root, &product, &profiles, "debug");
    assert!(debug.contains("All checks passed!"), "{debug}");
    let run = run_dbt(&dbt, root, &product, &profiles, "run");
    assert!(run.contains("Completed successfully"), "{run}");
    assert!(run.contains("PASS=2"), "both models ran:\n{run}");
    assert!(root.join("warehouse/daily_orders.duckdb").exists(), "dbt wrote to the path the profile names");

    // The job's requirements admit the dbt packages this run used.
    let requirements = std::fs::read_to_string(profiles.join("requirements.txt")).unwrap();
    let dbt_lines: Vec<&str> = requirements.lines().filter(|l| l.starts_with("dbt-")).collect();
    assert_eq!(dbt_lines.len(), 2, "dbt-core and the adapter:\n{requirements}");
    let check = "import sys, importlib.metadata as m, packaging.requirements as r\n\
                 for line in sys.argv[1:]:\n\
                 \x20   req = r.Requirement(line)\n\
                 \x20   have = m.version(req.name)\n\
                 \x20   assert req.specifier.contains(have), f'{line} excludes installed {have}'\n";
    let out = Command::new(dbt.with_file_name("python")).arg("-c").arg(check).args(&dbt_lines).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn generated_orchestrator_definitions_compile() {
    let Some(dbt) = dbt() else { return };
    let python = dbt.with_file_name("python");
    let ws = common::workspace("dbt-run");
    let root = ws.path();
    for orchestrator in ["dagster", "airflow", "prefect"] {
        let manifest = std::fs::read_to_string(root.join("manifest.yaml")).unwrap();
        let manifest = ["dagster", "airflow", "prefect"]
            .iter()
            .fold(manifest, |m, o| m.replace(&format!("type: {o}"), &format!("type: {orchestrator}")));
        std::fs::write(root.join("manifest.yaml"), manifest).unwrap();
        let r = common::floe(root, &["build", "//daily-orders:orchestration", "--format", "json"]);
        assert_eq!(r.code, 0, "{orchestrator}: {}", r.stderr);
        let drv: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("floe-out/daily-orders/floe.drv.json")).unwrap())
                .unwrap();
        let files: Vec<String> = drv["derivations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["target"] == "//daily-orders:orchestration")
            .flat_map(|d| d["drv"]["outputs"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_owned()))
            .collect();
        assert!(!files.is_empty(), "{orchestrator} wrote no files");
        for file in files.iter().filter(|f| f.ends_with(".py")) {
            let path = root.join("floe-out/daily-orders").join(file);
            let out = Command::new(&python).args(["-m", "py_compile"]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{orchestrator} {file}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// What `floe init` scaffolds is a dbt project dbt builds, models and tests,
/// with the profile floe generates for it.
#[test]
fn dbt_builds_the_product_floe_init_scaffolds() {
    let Some(dbt) = dbt() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let r = common::floe(root, &["init", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = common::floe(root, &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::create_dir_all(root.join("warehouse")).unwrap();
    let build = run_dbt(&dbt, root, &root.join("example"), &root.join("floe-out/example"), "build");
    assert!(build.contains("Completed successfully"), "{build}");
    assert!(build.contains("PASS=8"), "two models and six tests:\n{build}");
}
