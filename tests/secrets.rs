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
    let mut printed = run_all(ws.path(), runs);
    // A profile of a cold build: every span and derivation of it.
    std::fs::remove_dir_all(ws.path().join("floe-out")).unwrap();
    std::fs::remove_dir_all(ws.path().join(".floe")).unwrap();
    let trace = tempfile::tempdir().unwrap();
    let profile = trace.path().join("profile.json");
    printed.push_str(&run_all(ws.path(), &[&["build", "--profile", profile.to_str().unwrap()]]));
    let traced = std::fs::read_to_string(&profile).unwrap();
    assert!(traced.contains("\"derivation\""), "{traced}");
    printed.push_str(&traced);
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

/// Every shape a credential can take in a platform manifest, a model's SQL
/// and a diagnostic's source line, each with a secret of its own: none may be
/// printed, written or stored.
const SHAPES: &[(&str, &str)] = &[
    ("duckdb setting `s3_secret_access_key`", "S21-s3-secret-access-key"),
    ("duckdb setting `s3_session_token`", "S22-s3-session-token"),
    ("duckdb setting `db_password`", "S23-db-password"),
    ("camelCase `clientSecret`", "S24-camel-client-secret"),
    ("kebab-case `api-key`", "S25-kebab-api-key"),
    ("quoted key `\"token\": X`", "S26-quoted-key-token"),
    ("value on the line after `password:`", "S27-next-line-password"),
    ("`>-` block scalar", "S28-folded-block-secret-key"),
    ("tab after the colon", "S29-tab-separated-secret"),
    ("explicit `? private_key` key", "S30-explicit-key-value"),
    ("anchored `&pw` and aliased `*pw`", "S31-anchored-pwd"),
    ("list under a credential key", "S32-list-token-one"),
    ("list under a credential key, second item", "S33-list-token-two"),
    ("map under a credential key", "S34-map-credentials-key"),
    ("token-only URL user-info", "S35tokenOnlyUserinfo0123456789"),
    ("`?token=` in an endpoint URL", "S36-query-token"),
    ("`password=` in a SQL comment", "S37-sql-comment-password"),
];

fn shapes_workspace(root: &Path) {
    let secret = |n: usize| SHAPES[n].1;
    write(
        root,
        "manifest.yaml",
        &format!(
            "apiVersion: floe.dev/v1
kind: Manifest
metadata: {{name: acme, version: 1.0.0, owner: platform@acme.io}}
scope: enterprise
plugins:
  compute:
    type: duckdb
    config:
      threads: 2
      settings:
        s3_secret_access_key: {}
        s3_session_token: {}
        db_password: {}
        clientSecret: {}
        api-key: {}
        \"token\": {}
        password:
          {}
        secret_key: >-
          {}
        secret:\t{}
        ? private_key
        : {}
        pwd: &pw {}
      memory_limit: *pw
      attach:
        - {{path: 'md:lake', alias: lake, token: [{}, {}]}}
        - {{path: 'md:other', alias: other, credentials: {{user: etl, key: {}}}}}
        - {{path: 'https://{}@files.example.com/lake.duckdb', alias: remote}}
  orchestrator: {{type: dagster}}
  catalog:
    type: polaris
    config:
      uri: http://polaris:8181/api/catalog?token={}
      warehouse: lake
",
            secret(0),
            secret(1),
            secret(2),
            secret(3),
            secret(4),
            secret(5),
            secret(6),
            secret(7),
            secret(8),
            secret(9),
            secret(10),
            secret(11),
            secret(12),
            secret(13),
            secret(14),
            secret(15),
        ),
    );
    write(
        root,
        "sales/manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: sales, version: 1.0.0, owner: s@acme.io}\nscope: domain\nplugins: {compute: {type: duckdb}}\n",
    );
    write(
        root,
        "sales/orders/floe.yaml",
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: orders, version: 1.0.0}\ntransforms:\n  - {name: stg_orders}\n",
    );
    write(root, "sales/orders/dbt_project.yml", "name: orders\nversion: '1.0.0'\nprofile: orders\n");
    write(
        root,
        "sales/orders/models/stg_orders.sql",
        &format!(
            "-- loaded with {}\n-- connect with password={}\nselect 1 as id\n",
            concat!("AKIA", "S38SQLCOMMENTKEY"),
            secret(16)
        ),
    );
}

#[test]
fn every_shape_of_a_credential_stays_secret() {
    let ws = tempfile::tempdir().unwrap();
    shapes_workspace(ws.path());
    let runs: &[&[&str]] = &[
        &["build"],
        &["build", "--format", "json", "-v"],
        &["check"],
        &["check", "--format", "json"],
        &["check", "--format", "sarif"],
        &["why", "//sales/orders:artifacts", "//sales/orders:dbt-profile"],
    ];
    let printed = run_all(ws.path(), runs);
    // Inline credentials are reported and the platform still builds.
    assert!(printed.contains("warning[E0501]"), "{printed}");
    let out = ws.path().join("floe-out");
    for file in ["manifest.resolved.json", "sales/orders/profiles.yml", "sales/orders/compiled_artifacts.json"] {
        assert!(out.join(file).exists(), "{file} was not written:\n{printed}");
    }
    let profile = std::fs::read_to_string(out.join("sales/orders/profiles.yml")).unwrap();
    assert!(profile.contains("{{ env_var('FLOE_SECRET_FLOE_COMPUTE_DUCKDB_DB_PASSWORD') }}"), "{profile}");
    let mut files = tree(&out);
    files.extend(tree(&ws.path().join(".floe")));
    let mut leaks = Vec::new();
    for (shape, secret) in SHAPES {
        if printed.contains(secret) {
            leaks.push(format!("{shape}: printed"));
        }
        for (file, bytes) in &files {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                leaks.push(format!("{shape}: in {file}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}\n\n{printed}", leaks.join("\n"));
}

#[test]
fn a_rejected_credential_is_not_repeated() {
    let ws = tempfile::tempdir().unwrap();
    let secret = "S39-rejected-api-key";
    write(
        ws.path(),
        "manifest.yaml",
        &format!(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {{name: acme, version: 1.0.0, owner: p@acme.io}}\n\
             scope: enterprise\nplugins:\n  compute: {{type: duckdb}}\n  orchestrator: {{type: dagster}}\n  \
             lineage_backend:\n    type: marquez\n    config:\n      url: http://marquez:5000\n      \
             api_key: \"{{{{ {secret}\"\n"
        ),
    );
    for args in [&["check"][..], &["check", "--format", "json"], &["check", "--format", "sarif"]] {
        let r = floe(ws.path(), args);
        let printed = format!("{}{}", r.stdout, r.stderr);
        assert!(printed.contains("E0116"), "{printed}");
        assert!(!printed.contains(secret), "`{secret}` was printed:\n{printed}");
    }
}

#[test]
fn non_ascii_text_before_a_colon_is_quoted_safely() {
    let ws = tempfile::tempdir().unwrap();
    write(
        ws.path(),
        "manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: acme, version: 1.0.0, owner: p@acme.io}\n\
         scope: enterprise\nplugins:\n  compute: {type: duckdb}\n  orchestrator: {type: dagster}\n",
    );
    write(
        ws.path(),
        "orders/floe.yaml",
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: orders, version: 1.0.0}\n\
         descripción: \"pedidos\"\ntransforms:\n  - {name: stg_orders}\n",
    );
    write(
        ws.path(),
        "sales/manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: sales, version: 1.0.0, owner: s@acme.io}\nscope: domain\nplugins: {compute: {type: duckdb}}\n",
    );
    write(
        ws.path(),
        "sales/orders/floe.yaml",
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: orders, version: 1.0.0}\ntransforms:\n  - {name: stg_orders}\n",
    );
    write(ws.path(), "sales/orders/dbt_project.yml", "name: orders\nversion: '1.0.0'\nprofile: orders\n");
    write(ws.path(), "sales/orders/models/stg_orders.sql", "select 1 as id\n");
    write(
        ws.path(),
        "sales/orders/models/schema.yml",
        &format!(
            "version: 2\nmodels:\n  - name: stg_orders\n    description: \"Kundenübersicht: Bestellungen ({})\"\n",
            concat!("AKIA", "S40SCHEMADESCRIP")
        ),
    );
    // `run` fails on a panic; the unknown key is reported with its line.
    let check = floe(ws.path(), &["check"]);
    assert!(check.stderr.contains("descripción"), "{}", check.stderr);
    let build = floe(ws.path(), &["build"]);
    let html = std::fs::read_to_string(ws.path().join("floe-out/sales/orders/enforcement.html"))
        .unwrap_or_else(|e| panic!("{e}:\n{}", build.stderr));
    assert!(html.contains("Kundenübersicht"), "{html}");
}

/// Everything the commands `runs` print, stdout and stderr, one after the other.
fn run_all(dir: &std::path::Path, runs: &[&[&str]]) -> String {
    let mut printed = String::new();
    for args in runs {
        let r = floe(dir, args);
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
    }
    printed
}
