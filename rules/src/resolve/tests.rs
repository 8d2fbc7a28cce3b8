use floe_schemas::{Code, Manifest, load};
use serde_json::Value;

use super::*;

struct Doc {
    file: &'static str,
    label: &'static str,
    manifest: Manifest,
    raw: Value,
    node: Node,
}

fn doc(file: &'static str, label: &'static str, text: &str) -> Doc {
    let loaded = load::<Manifest>(file, text.as_bytes());
    assert!(!loaded.has_errors(), "{file}: {:?}", loaded.diagnostics);
    let node = loaded.node.unwrap();
    let mut raw = node.to_json();
    crate::secrets::redact_manifest(&mut raw);
    Doc { file, label, manifest: loaded.value.unwrap(), raw, node }
}

fn resolve_docs(docs: &[Doc]) -> (Option<ResolvedPlatform>, Vec<Diagnostic>) {
    let tiers: Vec<Tier<'_>> = docs
        .iter()
        .map(|d| Tier { label: d.label, file: d.file, manifest: &d.manifest, raw: &d.raw, node: &d.node })
        .collect();
    resolve(&tiers)
}

const ENTERPRISE: &str = "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: acme, version: 1.0.0, owner: platform@acme.io}
scope: enterprise
plugins:
  compute:
    type: duckdb
    config: {threads: 4, memory_limit: 2GB, extensions: [httpfs, json]}
  orchestrator: {type: dagster}
approved_plugins:
  compute: [duckdb, spark]
governance:
  policy_enforcement_level: strict
  data_retention_days: 30
  custom_rules:
    - {type: require_tags_for_prefix, prefix: fct_, required_tags: [tested]}
";

#[test]
fn domains_merge_config_and_keep_provenance() {
    let domain = "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: sales, version: 1.0.0, owner: sales@acme.io}
scope: domain
plugins:
  compute:
    type: duckdb
    config: {threads: 2, extensions: [httpfs]}
governance:
  data_retention_days: 90
  custom_rules:
    - {type: require_meta_field, field: owner}
";
    let (resolved, diags) =
        resolve_docs(&[doc("manifest.yaml", "//", ENTERPRISE), doc("sales/manifest.yaml", "//sales", domain)]);
    assert!(diags.is_empty(), "{diags:?}");
    let r = resolved.unwrap();
    let config = &r.merged["plugins"]["compute"]["config"];
    assert_eq!(config["threads"], 2, "the child wins on scalars");
    assert_eq!(config["memory_limit"], "2GB", "same-type config deep-merges");
    assert_eq!(config["extensions"], serde_json::json!(["httpfs"]), "lists replace");
    assert_eq!(r.merged["governance"]["data_retention_days"], 90);
    assert_eq!(r.merged["governance"]["custom_rules"].as_array().unwrap().len(), 2, "rule lists accumulate");
    let o = r.origin("plugins.compute.config.threads").unwrap();
    assert_eq!((o.file.as_str(), o.line), ("sales/manifest.yaml", 8));
    let o = r.origin("plugins.compute.config.memory_limit").unwrap();
    assert_eq!((o.file.as_str(), o.line), ("manifest.yaml", 8));
    assert_eq!(r.chain.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["//", "//sales"]);
}

#[test]
fn a_different_type_replaces_the_selection() {
    let domain = "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: sales, version: 1.0.0, owner: sales@acme.io}
scope: domain
plugins:
  compute: {type: spark, config: {master: local}}
";
    let (resolved, diags) =
        resolve_docs(&[doc("manifest.yaml", "//", ENTERPRISE), doc("sales/manifest.yaml", "//sales", domain)]);
    assert!(diags.is_empty(), "{diags:?}");
    let r = resolved.unwrap();
    assert_eq!(r.merged["plugins"]["compute"], serde_json::json!({"type": "spark", "config": {"master": "local"}}));
    assert!(r.origin("plugins.compute.config.threads").is_none());
}

#[test]
fn unapproved_plugins_and_loosened_governance_are_errors() {
    let domain = "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: sales, version: 1.0.0, owner: sales@acme.io}
scope: domain
plugins:
  compute: {type: snowflake}
governance:
  policy_enforcement_level: warn
  data_retention_days: 7
";
    let (resolved, diags) =
        resolve_docs(&[doc("manifest.yaml", "//", ENTERPRISE), doc("sales/manifest.yaml", "//sales", domain)]);
    let codes: Vec<(Code, u32)> = diags.iter().map(|d| (d.code, d.span.unwrap().line)).collect();
    assert_eq!(codes, [(Code::PluginNotApproved, 6), (Code::GovernanceLoosened, 8), (Code::GovernanceLoosened, 9)]);
    let r = resolved.unwrap();
    assert_eq!(r.merged["governance"]["policy_enforcement_level"], "strict", "the parent's value stays in force");
    assert_eq!(r.merged["governance"]["data_retention_days"], 30);
}

#[test]
fn the_enterprise_is_held_to_its_own_approved_plugins() {
    let enterprise = ENTERPRISE.replace("    type: duckdb\n", "    type: snowflake\n");
    let (_, diags) = resolve_docs(&[doc("manifest.yaml", "//", &enterprise)]);
    let found: Vec<(Code, &str, u32)> =
        diags.iter().map(|d| (d.code, d.file.as_deref().unwrap(), d.span.unwrap().line)).collect();
    assert_eq!(found, [(Code::PluginNotApproved, "manifest.yaml", 7)]);
    assert_eq!(diags[0].message, "`snowflake` is not an approved `compute` plugin");
    let (_, diags) = resolve_docs(&[doc("manifest.yaml", "//", ENTERPRISE)]);
    assert!(diags.is_empty(), "{diags:?}");
}
