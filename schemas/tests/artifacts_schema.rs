#![allow(clippy::disallowed_methods)] // tests read the conformance files and the CI flag
//! The compiled-artifacts model against the Python implementation: its real
//! outputs load and serialize back unchanged (same keys, same nulls, same key
//! order), and what the model serializes validates against its JSON Schema.

use std::path::{Path, PathBuf};

use floe_schemas::artifacts::{
    BatchSpanProcessorConfig, CONTRACT_VERSION, CompilationMetadata, CompiledArtifacts, Environment, LoggingConfig,
    ManifestRef, ManifestScope, Mode, ObservabilityConfig, OpenDataContractStandard, OtlpProtocol, ProductIdentity,
    ResourceAttributes, SamplingConfig, SchemaObject, SchemaProperty, TelemetryConfig,
};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

mod common;

use common::conformance;

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The Python implementation's `compiled_artifacts.json` outputs, sorted by name.
fn anchor_outputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("anchor-outputs"))
        .expect("list anchor-outputs")
        .map(|entry| entry.expect("read anchor-outputs entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".compiled_artifacts.json")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.compiled_artifacts.json under {}", dir.display());
    files
}

fn anchor_validator(dir: &Path) -> jsonschema::Validator {
    let schema = read_json(&dir.join("schemas/anchor/CompiledArtifacts.schema.json"));
    jsonschema::validator_for(&schema).expect("the anchor CompiledArtifacts schema compiles")
}

/// Prints every validation error before failing, so one run shows them all.
fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("at `{}`: {e}", e.instance_path())).collect();
    for error in &errors {
        eprintln!("{what}: {error}");
    }
    assert!(errors.is_empty(), "{what}: {} schema violation(s), printed above", errors.len());
}

#[test]
fn anchor_outputs_round_trip_unchanged() {
    let Some(dir) = conformance() else { return };
    for path in anchor_outputs(&dir) {
        let original = read_json(&path);
        let artifacts: CompiledArtifacts = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{} does not fit CompiledArtifacts: {e}", path.display()));
        let back = serde_json::to_value(&artifacts).expect("artifacts serialize");
        assert_eq!(back, original, "{} changed in the round trip", path.display());
    }
}

#[test]
fn reserialized_anchor_outputs_validate() {
    let Some(dir) = conformance() else { return };
    let validator = anchor_validator(&dir);
    for path in anchor_outputs(&dir) {
        let artifacts: CompiledArtifacts = serde_json::from_value(read_json(&path)).expect("fits CompiledArtifacts");
        let value = serde_json::to_value(&artifacts).expect("artifacts serialize");
        assert_valid(&validator, &value, &path.display().to_string());
    }
}

/// floe's own generated schema accepts what the Python implementation wrote.
#[test]
fn anchor_outputs_validate_against_floe_schema() {
    let Some(dir) = conformance() else { return };
    let (_, text) = floe_schemas::generated_schemas()
        .into_iter()
        .find(|(name, _)| *name == "compiled-artifacts.schema.json")
        .expect("floe generates a compiled-artifacts schema");
    let schema: Value = serde_json::from_str(&text).expect("generated schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the generated schema compiles");
    for path in anchor_outputs(&dir) {
        assert_valid(&validator, &read_json(&path), &path.display().to_string());
    }
}

/// A JSON value that keeps the order of object keys, which `serde_json::Value`
/// (without `preserve_order`) does not.
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered::Object(entries))
            }
        }
        deserializer.deserialize_any(OrderedVisitor)
    }
}

/// Free-form maps: `serde_json::Value` sorts their keys, where Python keeps the
/// order they were written in. Only typed objects must keep the Python order.
const FREE_FORM: &[&str] = &["config", "dbt_profiles", "parameters"];

fn assert_same_key_order(ours: &Ordered, python: &Ordered, path: &str) {
    match (ours, python) {
        (Ordered::Object(a), Ordered::Object(b)) => {
            let keys_a: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
            let keys_b: Vec<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys_a, keys_b, "key order differs at `{path}`");
            for ((key, va), (_, vb)) in a.iter().zip(b) {
                if !FREE_FORM.contains(&key.as_str()) {
                    assert_same_key_order(va, vb, &format!("{path}/{key}"));
                }
            }
        }
        (Ordered::Array(a), Ordered::Array(b)) => {
            assert_eq!(a.len(), b.len(), "array length differs at `{path}`");
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                assert_same_key_order(va, vb, &format!("{path}/{i}"));
            }
        }
        (Ordered::Scalar, Ordered::Scalar) => {}
        _ => panic!("value kind differs at `{path}`"),
    }
}

#[test]
fn fields_serialize_in_python_order() {
    let Some(dir) = conformance() else { return };
    for path in anchor_outputs(&dir) {
        let text = read_text(&path);
        let artifacts: CompiledArtifacts = serde_json::from_str(&text).expect("fits CompiledArtifacts");
        let ours: Ordered =
            serde_json::from_str(&serde_json::to_string(&artifacts).expect("serialize")).expect("parse");
        let python: Ordered = serde_json::from_str(&text).expect("parse");
        assert_same_key_order(&ours, &python, &path.display().to_string());
    }
}

/// Older compiled artifacts (contract 0.1 to 0.8), which omit fields added or
/// defaulted since, still load and serialize to a valid current shape.
#[test]
fn older_golden_artifacts_load() {
    let Some(dir) = conformance() else { return };
    let validator = anchor_validator(&dir);
    let goldens = [
        ("anchor-fixtures/tests/contract/fixtures/v0.1_compiled_artifacts.json", None),
        ("anchor-fixtures/tests/fixtures/golden/v0.5_compiled_artifacts_with_semantic.json", None),
        ("anchor-fixtures/tests/fixtures/golden/v0.6_compiled_artifacts_with_ingestion.json", None),
        ("anchor-fixtures/testing/fixtures/golden/oci_pull/pull_success_artifact_structure.json", Some("output")),
    ];
    for (file, field) in goldens {
        let mut value = read_json(&dir.join(file));
        if let Some(field) = field {
            value = value[field].take();
        }
        // A fixture annotation, not part of the contract.
        value.as_object_mut().expect("an object").remove("$comment");
        let artifacts: CompiledArtifacts =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{file} does not fit CompiledArtifacts: {e}"));
        assert_valid(&validator, &serde_json::to_value(&artifacts).expect("serialize"), file);
    }
}

fn column(name: &str, logical_type: &str, primary_key: bool) -> SchemaProperty {
    SchemaProperty {
        name: Some(name.to_owned()),
        logical_type: Some(logical_type.to_owned()),
        physical_type: Some(logical_type.to_uppercase()),
        required: Some(true),
        primary_key: primary_key.then_some(true),
        ..SchemaProperty::default()
    }
}

fn mesh_artifacts() -> CompiledArtifacts {
    let contract = OpenDataContractStandard {
        api_version: Some("v3.1.0".to_owned()),
        kind: Some("DataContract".to_owned()),
        id: Some("sales.orders".to_owned()),
        version: Some("1.0.0".to_owned()),
        status: Some("active".to_owned()),
        name: Some("orders".to_owned()),
        domain: Some("sales".to_owned()),
        schema: Some(vec![SchemaObject {
            name: Some("orders".to_owned()),
            logical_type: Some("object".to_owned()),
            physical_name: Some("gold.orders".to_owned()),
            properties: Some(vec![column("order_id", "string", true), column("amount", "number", false)]),
            ..SchemaObject::default()
        }]),
        ..OpenDataContractStandard::default()
    };
    let manifest = |name: &str, scope| ManifestRef {
        name: name.to_owned(),
        version: "1.0.0".to_owned(),
        scope,
        reference: format!("oci://registry.example.com/manifests/{name}:1.0.0"),
    };
    CompiledArtifacts {
        version: CONTRACT_VERSION.to_owned(),
        metadata: CompilationMetadata {
            compiled_at: "2026-01-01T00:00:00Z".to_owned(),
            floe_version: "0.1.0".to_owned(),
            source_hash: "sha256:0000000000000000000000000000000000000000000000000000000000000000".to_owned(),
            product_name: "orders".to_owned(),
            product_version: "1.0.0".to_owned(),
        },
        identity: ProductIdentity {
            product_id: "sales.orders".to_owned(),
            domain: "sales".to_owned(),
            repository: "github.com/acme/orders".to_owned(),
            namespace_registered: false,
            registration_timestamp: None,
        },
        mode: Mode::Mesh,
        inheritance_chain: vec![manifest("acme", ManifestScope::Enterprise), manifest("sales", ManifestScope::Domain)],
        observability: ObservabilityConfig {
            telemetry: TelemetryConfig {
                enabled: true,
                otlp_endpoint: "http://otel-collector:4317".to_owned(),
                otlp_protocol: OtlpProtocol::Grpc,
                sampling: SamplingConfig::default(),
                resource_attributes: ResourceAttributes {
                    service_name: "orders".to_owned(),
                    service_version: "1.0.0".to_owned(),
                    deployment_environment: Environment::Prod,
                    floe_namespace: "sales".to_owned(),
                    floe_product_name: "orders".to_owned(),
                    floe_product_version: "1.0.0".to_owned(),
                    floe_mode: Environment::Prod,
                },
                authentication: None,
                batch_processor: BatchSpanProcessorConfig::default(),
                logging: LoggingConfig::default(),
                backend: "console".to_owned(),
            },
            lineage: true,
            lineage_namespace: "sales".to_owned(),
            lineage_endpoint: None,
            lineage_transport: None,
        },
        plugins: None,
        transforms: None,
        dbt_profiles: None,
        governance: None,
        enforcement_result: None,
        data_contracts: vec![contract],
        quality_config: None,
    }
}

#[test]
fn hand_built_mesh_artifacts_validate() {
    let artifacts = mesh_artifacts();
    let value = serde_json::to_value(&artifacts).expect("serialize");
    assert_eq!(value["mode"], "mesh");
    assert_eq!(value["inheritance_chain"][1]["ref"], "oci://registry.example.com/manifests/sales:1.0.0");
    // Unset ODCS fields are left out, not written as null.
    assert_eq!(value["data_contracts"][0]["schema"][0]["properties"][1].as_object().map(|o| o.len()), Some(4));
    let back: CompiledArtifacts = serde_json::from_value(value.clone()).expect("reads back");
    assert_eq!(back, artifacts);

    let Some(dir) = conformance() else { return };
    assert_valid(&anchor_validator(&dir), &value, "hand-built mesh artifacts");
    // The embedded contract is also a valid standalone ODCS v3.1 document.
    let odcs = jsonschema::validator_for(&read_json(&dir.join("schemas/odcs-json-schema-v3.1.0.json")))
        .expect("the ODCS schema compiles");
    assert_valid(&odcs, &value["data_contracts"][0], "hand-built data contract (ODCS v3.1)");
}
