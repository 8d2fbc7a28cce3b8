//! The generated `profiles.yml` works with real dbt: dbt-core with dbt-duckdb
//! runs a product's models with it. The test command installs dbt and names it
//! in `FLOE_TEST_DBT`.
#![allow(clippy::disallowed_methods)] // tests run dbt and read its results

mod common;

use std::path::PathBuf;
use std::process::Command;

fn dbt() -> Option<PathBuf> {
    match std::env::var_os("FLOE_TEST_DBT") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FLOE_TEST_DBT is not set; run the suite with .ci/test"
            );
            eprintln!("skipping: FLOE_TEST_DBT is not set (.ci/test installs dbt)");
            None
        }
    }
}

#[test]
fn dbt_runs_models_with_the_generated_profile() {
    let Some(dbt) = dbt() else { return };
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    let warehouse = root.join("warehouse");
    std::fs::write(
        root.join("manifest.yaml"),
        format!(
            "apiVersion: floe.dev/v1
kind: Manifest
metadata: {{name: dbt-check, version: 1.0.0, owner: platform@acme.example}}
plugins:
  compute:
    type: duckdb
    config: {{path: '{}/{{product_slug}}.duckdb', threads: 2, memory_limit: 1GB}}
  orchestrator: {{type: dagster}}
",
            warehouse.display()
        ),
    )
    .unwrap();
    let product = root.join("daily-orders");
    std::fs::create_dir_all(product.join("models")).unwrap();
    std::fs::create_dir_all(&warehouse).unwrap();
    std::fs::write(
        product.join("floe.yaml"),
        "apiVersion: floe.dev/v1
kind: FloeSpec
metadata: {name: daily-orders, version: 1.0.0}
transforms:
  - {name: stg_orders, tier: bronze}
  - {name: fct_daily_orders, tier: gold, dependsOn: [stg_orders]}
",
    )
    .unwrap();
    std::fs::write(
        product.join("dbt_project.yml"),
        "name: daily_orders\nversion: '1.0.0'\nconfig-version: 2\nprofile: daily_orders\nmodel-paths: [models]\n",
    )
    .unwrap();
    std::fs::write(product.join("models/stg_orders.sql"), "select 1 as order_id, date '2026-01-02' as day\n").unwrap();
    std::fs::write(
        product.join("models/fct_daily_orders.sql"),
        "select day, count(*) as orders from {{ ref('stg_orders') }} group by day\n",
    )
    .unwrap();

    let r = common::floe(root, &["build", "//daily-orders"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let profiles = root.join("floe-out/daily-orders");
    let out = Command::new(&dbt)
        .args(["run", "--project-dir"])
        .arg(&product)
        .arg("--profiles-dir")
        .arg(&profiles)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_VERSION_CHECK", "false")
        .env("DBT_LOG_PATH", root.join("dbt-logs"))
        .env("DBT_TARGET_PATH", root.join("dbt-target"))
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "dbt run failed:\n{log}");
    assert!(log.contains("Completed successfully"), "{log}");
    assert!(warehouse.join("daily_orders.duckdb").exists(), "dbt wrote to the path the profile names");
}
