//! The plugin reference page is generated from the plugins' metadata; this
//! test regenerates it and fails when the checked-in copy was stale.
#![allow(clippy::disallowed_methods)] // a test that maintains a checked-in file

mod common;

#[test]
fn plugin_reference_is_fresh() {
    let path = common::repo().join("docs/reference/plugins.md");
    let fresh = floe_plugins::reference::markdown();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != fresh {
        std::fs::write(&path, &fresh).unwrap();
        panic!("docs/reference/plugins.md was stale and has been regenerated; commit it");
    }
    // Every category and every plugin has its section.
    for p in floe_plugins::all() {
        let m = p.meta();
        assert!(fresh.contains(&format!("### `{}`", m.name)), "{} has no section", m.name);
        assert!(fresh.contains(&format!("(`plugins.{}`)", m.category.key())));
    }
}

#[test]
fn floe_plugins_lists_every_plugin_in_both_formats() {
    let ws = common::workspace("centralized");
    let human = common::floe(ws.path(), &["plugins"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    let json = common::floe(ws.path(), &["plugins", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(listed.len(), floe_plugins::all().len());
    for (p, l) in floe_plugins::all().iter().zip(&listed) {
        let m = p.meta();
        assert_eq!(l["name"], m.name);
        assert_eq!(l["category"], m.category.key());
        assert!(human.stdout.contains(&format!("{}/{}", m.category.key(), m.name)));
        // The listed schema is the one configs are checked against.
        assert!(jsonschema::validator_for(&l["config_schema"]).is_ok(), "{}", m.name);
    }
}

#[test]
fn doctor_probes_every_endpoint_for_real() {
    use std::net::TcpListener;
    // One endpoint that answers, one that does not (a port just released).
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("manifest.yaml"),
        format!(
            "apiVersion: floe.dev/v1
kind: Manifest
metadata: {{name: probe, version: 1.0.0, owner: platform@acme.example}}
plugins:
  compute: {{type: duckdb}}
  orchestrator: {{type: dagster}}
  lineage_backend:
    type: marquez
    config: {{url: 'http://127.0.0.1:{}', allow_insecure_http: true}}
  catalog:
    type: polaris
    config: {{uri: 'http://127.0.0.1:{closed}/api/catalog', warehouse: lake}}
",
            open.local_addr().unwrap().port()
        ),
    )
    .unwrap();
    let r = common::floe(ws.path(), &["doctor", "--format", "json"]);
    assert_eq!(r.code, 3, "an unreachable endpoint is an infrastructure failure:\n{}", r.stderr);
    let probes: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let by_category =
        |c: &str| probes.iter().find(|p| p["category"] == c).unwrap_or_else(|| panic!("{c}: {probes:#?}"));
    assert_eq!(by_category("lineage_backend")["reachable"], true);
    assert_eq!(by_category("catalog")["reachable"], false);
    assert_eq!(by_category("catalog")["port"], closed);
    // A build never probes: the same workspace builds offline.
    let b = common::floe(ws.path(), &["build", "//..."]);
    assert_eq!(b.code, 0, "{}", b.stderr);
}

#[test]
fn doctor_probes_an_endpoint_domains_inherit_once() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = tempfile::tempdir().unwrap();
    let manifest = |scope: &str, name: &str, plugins: &str| {
        format!(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {{name: {name}, version: 1.0.0, owner: p@acme.example}}\n\
             scope: {scope}\nplugins:\n{plugins}"
        )
    };
    let enterprise = format!(
        "  compute: {{type: duckdb}}\n  orchestrator: {{type: dagster}}\n  lineage_backend:\n    type: marquez\n    \
         config: {{url: 'http://127.0.0.1:{port}', allow_insecure_http: true}}\n"
    );
    std::fs::write(ws.path().join("manifest.yaml"), manifest("enterprise", "acme", &enterprise)).unwrap();
    for domain in ["sales", "finance"] {
        std::fs::create_dir(ws.path().join(domain)).unwrap();
        let own = manifest("domain", domain, "  compute: {type: duckdb}\n");
        std::fs::write(ws.path().join(domain).join("manifest.yaml"), own).unwrap();
    }
    let r = common::floe(ws.path(), &["doctor", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let probes: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(probes.len(), 3, "each platform lists the endpoint: {probes:#?}");
    listener.set_nonblocking(true).unwrap();
    let connections = std::iter::from_fn(|| listener.accept().ok()).count();
    assert_eq!(connections, 1, "one probe for the three platforms naming it");
}

#[test]
fn platform_helm_values_assemble_every_plugin_and_hold_no_secret() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("manifest.yaml"),
        "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: acme, version: 1.0.0, owner: platform@acme.example}
plugins:
  compute: {type: duckdb}
  orchestrator: {type: airflow}
  storage:
    type: minio
    config: {endpoint: 'http://minio:9000', bucket: lake}
    connection_secret_ref: minio-root
  catalog:
    type: polaris
    config: {uri: 'http://polaris:8181/api/catalog', warehouse: lake}
  telemetry_backend:
    type: datadog
    config: {api_key: dd-planted-api-key-0001}
  alert_channel:
    type: slack
    config: {channel: '#data-alerts', secret: 'https://hooks.slack.com/services/T0/B0/planted'}
  identity:
    type: keycloak
    config: {url: 'https://sso.acme.example', realm: data}
    connection_secret_ref: keycloak-admin
",
    )
    .unwrap();
    let r = common::floe(ws.path(), &["build", "//:helm-values"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let values = std::fs::read_to_string(ws.path().join("floe-out/floe-platform.values.yaml")).unwrap();
    for part in [
        "airflow:",                 // the orchestrator's service
        "minio:",                   // storage runs in the cluster
        "opentelemetry-collector:", // the telemetry override
        "datadog",                  // its exporter
        "slack_configs",            // the alert channel's receiver
        "issuer: \"https://sso.acme.example/realms/data\"",
        "warehouse: \"lake\"", // the catalog binding
    ] {
        assert!(values.contains(part), "{part} missing:\n{values}");
    }
    assert!(!values.contains("dd-planted-api-key-0001") && !values.contains("planted"), "{values}");
    assert!(values.contains("FLOE_SECRET_"), "credentials are references:\n{values}");
}

#[test]
fn a_half_key_pair_is_reported_at_the_key_that_is_written() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("manifest.yaml"),
        "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: s3, version: 1.0.0, owner: p@acme.example}
plugins:
  compute: {type: duckdb}
  orchestrator: {type: dagster}
  storage:
    type: s3
    config:
      bucket: lake
      access_key_id: {secret_ref: {source: kubernetes, name: keys, key: access_key_id}}
",
    )
    .unwrap();
    let r = common::floe(ws.path(), &["check", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["message"], "storage `s3`: `access_key_id` is set without `secret_access_key`");
    assert_eq!((d["span"]["line"].as_u64(), d["span"]["column"].as_u64()), (Some(11), Some(7)), "{d}");
}

/// A plain scalar where a string is wanted is the text written there, not
/// what YAML 1.1 makes of it: `off`, `y`, `2024` and `1.10` stay as typed, in
/// the manifest's own keys and in a plugin's configuration alike.
#[test]
fn plain_scalars_where_strings_are_wanted_are_read_as_written() {
    let ws = tempfile::tempdir().unwrap();
    assert_eq!(common::floe(ws.path(), &["init", "-q"]).code, 0);
    let manifest = ws.path().join("manifest.yaml");
    common::edit(&manifest, |t| {
        t.replace("policy_enforcement_level: strict", "policy_enforcement_level: off").replace(
            "    type: duckdb\n    config:\n      path: 'warehouse/{product_slug}.duckdb'\n      threads: 2\n      memory_limit: 1GB\n",
            "    type: snowflake\n    config:\n      account: y\n      user: y\n      database: 2024\n      warehouse: off\n      \
             password: {secret_ref: {source: kubernetes, name: sf, key: password}}\n",
        )
    });
    let r = common::floe(ws.path(), &["build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let profile = std::fs::read_to_string(ws.path().join("floe-out/example/profiles.yml")).unwrap();
    for line in ["account: \"y\"", "user: \"y\"", "database: \"2024\"", "warehouse: \"off\""] {
        assert!(profile.contains(line), "{line} in:\n{profile}");
    }
    let artifacts = std::fs::read_to_string(ws.path().join("floe-out/example/compiled_artifacts.json")).unwrap();
    assert!(artifacts.contains("\"policy_enforcement_level\": \"off\""), "{artifacts}");
    // A version is text too: `1.10` is reported as written, not as `1.1`.
    common::edit(&ws.path().join("example/floe.yaml"), |t| t.replace("  version: 0.1.0\n", "  version: 1.10\n"));
    let r = common::floe(ws.path(), &["build"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`metadata.version` has an invalid value `1.10`"), "{}", r.stderr);
}
