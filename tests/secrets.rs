//! A credential is only ever a reference (spec §7). Distinct secrets are
//! planted wherever a user could write one; none may appear in `floe-out/`,
//! the store, or anything any command prints.
#![allow(clippy::disallowed_methods)] // tests set up workspaces on disk

mod common;

use std::path::Path;

use common::{floe, tree};

const SECRETS: &[&str] = &[
    "S1-catalog-oauth-secret",
    "S2-storage-access-key",
    "S3-compute-password",
    "S4-nested-list-token",
    "S5-domain-api-key",
    "S6-floe-yaml-password",
    "S7-destination-api-key",
    "S8-quoted, with comma",
    "S14-storage-key-id",
    "S15-lineage-api-key",
    // Found by pattern, not by key: in SQL, a property file, a description,
    // a URL and a dbt project file.
    concat!("AKIA", "S9SQLCOMMENTKEY0"),
    concat!("ghp_", "S10schemaDescriptionToken0000000000"),
    concat!("glpat-", "S11floeYamlDescr0001"),
    "S12-url-password",
    concat!("xoxb-", "S13-1234567890-dbtproject"),
];

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn workspace(root: &Path) {
    write(
        root,
        "manifest.yaml",
        r#"apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: acme, version: 1.0.0, owner: platform@acme.io}
scope: enterprise
plugins:
  compute:
    type: duckdb
    config:
      threads: 2
      settings: {password: S3-compute-password}
      attach:
        - {path: 'md:lake', alias: lake, token: S4-nested-list-token}
        - {path: 'md:other', alias: other, api_key: "S8-quoted, with comma"}
  orchestrator: {type: dagster}
  catalog:
    type: polaris
    config:
      uri: http://polaris:8181/api/catalog
      warehouse: lake
      oauth2: {client_id: floe, client_secret: S1-catalog-oauth-secret}
  storage:
    type: s3
    config:
      bucket: lake
      access_key_id: S14-storage-key-id
      secret_access_key: "S2-storage-access-key"
  lineage_backend:
    type: marquez
    config:
      url: http://marquez:5000
      api_key: S15-lineage-api-key
"#,
    );
    write(
        root,
        "sales/manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: sales, version: 1.0.0, owner: s@acme.io}\nscope: domain\nplugins:\n  compute:\n    type: duckdb\n    config:\n      settings: {api_key: S5-domain-api-key}\n",
    );
    write(
        root,
        "sales/orders/floe.yaml",
        &format!(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata:\n  name: orders\n  version: 1.0.0\n  description: \"Orders; old token {}\"\ntransforms:\n  - {{name: stg_orders}}\n",
            SECRETS[10]
        ),
    );
    write(
        root,
        "sales/orders/dbt_project.yml",
        &format!("name: orders\nversion: '1.0.0'\nprofile: orders\n# slack: {}\n", SECRETS[12]),
    );
    write(
        root,
        "sales/orders/models/stg_orders.sql",
        &format!(
            "-- loaded with {}\nselect * from read_csv('https://loader:{}@files.example.com/orders.csv')\n",
            SECRETS[8], SECRETS[11]
        ),
    );
    write(
        root,
        "sales/orders/models/schema.yml",
        &format!("version: 2\nmodels:\n  - name: stg_orders\n    description: \"Orders (token {})\"\n", SECRETS[9]),
    );
    write(
        root,
        "sales/leads/floe.yaml",
        "apiVersion: floe.dev/v1
kind: FloeSpec
metadata: {name: leads, version: 1.0.0}
transforms:
  - {name: stg_leads}
password: S6-floe-yaml-password
destinations:
  - name: crm
    sink_type: rest_api
    connection_secret_ref: crm-api
    config: {api_key: S7-destination-api-key}
",
    );
}

#[test]
fn no_secret_reaches_outputs_the_store_or_any_command_output() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path());
    let mut printed = String::new();
    let runs: &[&[&str]] = &[
        &["build"],
        &["build", "--format", "json", "-v"],
        &["build", "//sales/orders"],
        &["check"],
        &["check", "--format", "json"],
        &["check", "--format", "sarif"],
        &["hash", "//..."],
        &["why", "//sales/orders:artifacts", "//sales/orders:dbt-profile"],
        &["why", "//sales/orders", "--format", "json"],
        &["query", "//...", "--targets"],
    ];
    for args in runs {
        let r = floe(ws.path(), args);
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
    }
    // The broken product is reported, the others are built.
    assert!(printed.contains("error[E0109]"), "{printed}");
    assert!(printed.contains("warning[E0501]"), "{printed}");
    assert!(printed.contains("warning[E0750]"), "{printed}");
    assert!(ws.path().join("floe-out/sales/orders/enforcement.html").exists());
    let profile = std::fs::read_to_string(ws.path().join("floe-out/sales/orders/profiles.yml")).unwrap();
    assert!(profile.contains("{{ env_var('FLOE_SECRET_FLOE_COMPUTE_DUCKDB_PASSWORD') }}"), "{profile}");
    let mut files = tree(&ws.path().join("floe-out"));
    files.extend(tree(&ws.path().join(".floe")));
    assert!(!files.is_empty());
    for secret in SECRETS {
        assert!(!printed.contains(secret), "`{secret}` was printed:\n{printed}");
        for (file, bytes) in &files {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "`{secret}` reached {file}");
        }
    }
}
