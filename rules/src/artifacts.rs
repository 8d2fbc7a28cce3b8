//! The compiled-artifacts rule: `compiled_artifacts.json` for one product.
//!
//! The output follows the Python implementation's CompiledArtifacts contract so
//! its runtime reads it unchanged, and fills what that implementation leaves
//! empty: the mode, the inheritance chain, the domain of the product's identity
//! and a data contract (ODCS v3.1) for every output port.

use floe_schemas::Diagnostic;
use floe_schemas::artifacts::{CONTRACT_VERSION, CompiledArtifacts, Mode};
use floe_schemas::diag::Code;
use floe_schemas::spec::FloeSpec;
use serde_json::{Map, Value, json};

use crate::contracts;
use crate::resolve::ResolvedPlatform;

/// Everything the rule reads. Positions are not among them: moving a line in
/// an input changes no output.
pub struct ArtifactsInput<'a> {
    pub spec: &'a FloeSpec,
    pub platform: &'a ResolvedPlatform,
    pub mode: Mode,
    /// The domain the product belongs to (`identity.domain`).
    pub domain: &'a str,
    /// The dbt profile name and the profile `profiles.yml` holds.
    pub profile_name: &'a str,
    pub profile: &'a Value,
    /// RFC 3339, from `SOURCE_DATE_EPOCH`; never the clock.
    pub compiled_at: &'a str,
    pub floe_version: &'a str,
    /// The hash of everything the product was compiled from.
    pub source_hash: &'a str,
    pub warning_count: u32,
    /// The policy types enforcement ran, and how many files it scanned for secrets.
    pub policy_types_checked: &'a [String],
    pub secrets_scanned: u32,
    /// The highest classification of what the product reads (see [`contracts::Terms`]).
    pub inherited: Option<floe_schemas::manifest::Classification>,
    /// The product's own `datacontract.yaml`, null without one.
    pub explicit: &'a Value,
}

pub fn compile(input: &ArtifactsInput<'_>) -> Result<CompiledArtifacts, Vec<Diagnostic>> {
    let spec = input.spec;
    let terms = contracts::Terms {
        enforcement: crate::classify::enforcement(spec, input.platform),
        inherited: input.inherited,
        explicit: input.explicit,
    };
    let manifest = &input.platform.manifest;
    let product = spec.metadata.name.as_str();
    let mut errors = Vec::new();

    let mut plugins = Map::new();
    for (category, key) in [
        ("compute", "compute"),
        ("orchestrator", "orchestrator"),
        ("catalog", "catalog"),
        ("storage", "storage"),
        ("ingestion", "ingestion"),
        ("semantic_layer", "semantic"),
        ("lineage_backend", "lineage_backend"),
    ] {
        let selection = manifest.plugins.get(category);
        let value = match selection {
            Some(s) => json!({
                "type": s.plugin_type,
                "version": s.version.clone().unwrap_or_else(|| "0.0.0".to_owned()),
                "config": s.config,
            }),
            None => Value::Null,
        };
        plugins.insert(key.to_owned(), value);
    }
    for required in ["compute", "orchestrator"] {
        if plugins.get(required).is_none_or(Value::is_null) {
            errors.push(missing_plugin(input.platform, required));
        }
    }
    if let Some(ingestion) = &spec.ingestion {
        match plugins.get_mut("ingestion").and_then(Value::as_object_mut) {
            Some(selection) => {
                let config = selection.entry("config").or_insert(Value::Null);
                if !config.is_object() {
                    *config = Value::Object(Map::new());
                }
                if let Some(c) = config.as_object_mut() {
                    c.insert("sources".to_owned(), serde_json::to_value(&ingestion.sources).unwrap_or(Value::Null));
                }
            }
            None => errors.push(missing_plugin(input.platform, "ingestion")),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let default_compute = manifest.plugins.get("compute").map_or("", |c| c.plugin_type.as_str());
    let models: Vec<Value> = spec
        .transforms
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "compute": t.compute.as_deref().unwrap_or(default_compute),
                "tags": t.tags,
                "depends_on": t.depends_on,
                "quality_checks": t.quality_checks,
                "quality_tier": t.tier,
            })
        })
        .collect();

    let observability = manifest.observability.as_ref();
    let tracing = observability.map(|o| &o.tracing);
    let lineage = observability.map(|o| &o.lineage);
    let logging = observability.map(|o| &o.logging);
    let telemetry = json!({
        "enabled": tracing.is_none_or(|t| t.enabled),
        "otlp_endpoint": tracing.and_then(|t| t.endpoint.clone()).unwrap_or_else(|| "http://localhost:4317".to_owned()),
        "otlp_protocol": "grpc",
        "sampling": {"dev": 1.0, "staging": 0.5, "prod": 0.1},
        "resource_attributes": {
            "service_name": product,
            "service_version": spec.metadata.version,
            "deployment_environment": "dev",
            "floe_namespace": input.domain,
            "floe_product_name": product,
            "floe_product_version": spec.metadata.version,
            "floe_mode": "dev",
        },
        "authentication": null,
        "batch_processor": {
            "max_queue_size": 2048,
            "max_export_batch_size": 512,
            "schedule_delay_millis": 5000,
            "export_timeout_millis": 30000,
        },
        "logging": {
            "log_level": logging.map_or(Value::from("INFO"), |l| serde_json::to_value(l.level).unwrap_or(Value::Null)),
            "json_output": logging.is_none_or(|l| serde_json::to_value(l.format).ok() == Some(Value::from("json"))),
        },
        "backend": "console",
    });

    let mut telemetry = telemetry;
    // The lineage backend's namespace, the one `lineage.json` declares too;
    // without a backend, the product's name, as the Python implementation
    // writes it (`lineage.json` then declares `{domain}.{product_name}`).
    let lineage_namespace = crate::lineage::plugin_namespace(input.platform, product, input.domain)
        .map_or_else(|| Value::from(product), Value::from);
    let mut lineage_endpoint = lineage.and_then(|l| l.endpoint.clone()).map(Value::from).unwrap_or(Value::Null);
    let mut lineage_transport = lineage.map(|l| serde_json::to_value(l.transport).unwrap_or(Value::Null));
    let (chosen, _) = crate::plugins::chosen(input.platform);
    for c in &chosen {
        match c.plugin {
            floe_plugins::Any::TelemetryBackend(t) => {
                let e = t.otlp_exporter_config(&c.selected());
                telemetry["otlp_endpoint"] = Value::from(e.endpoint.clone());
                telemetry["otlp_protocol"] = Value::from(if e.protocol == "grpc" { "grpc" } else { "http" });
                telemetry["backend"] = Value::from(c.plugin.meta().name);
                telemetry["authentication"] = otlp_auth(&e);
            }
            floe_plugins::Any::LineageBackend(l) => {
                let transport = l.transport_config(&c.selected());
                if let Some(url) = transport.get("url").and_then(Value::as_str) {
                    let path = transport.get("endpoint").and_then(Value::as_str).unwrap_or("");
                    let joined = match path.is_empty() {
                        true => url.to_owned(),
                        false => format!("{}/{}", url.trim_end_matches('/'), path.trim_start_matches('/')),
                    };
                    lineage_endpoint = Value::from(joined);
                }
                if let Some(kind) = transport.get("type").and_then(Value::as_str) {
                    lineage_transport = Some(Value::from(kind));
                }
            }
            _ => {}
        }
    }

    let governance = input.platform.merged.get("governance");
    let pick = |k: &str| governance.and_then(|g| g.get(k)).cloned().unwrap_or(Value::Null);
    let level = pick("policy_enforcement_level");
    let enforcement_level = if level.is_null() { Value::from("warn") } else { level.clone() };

    let chain: Vec<Value> = input
        .platform
        .chain
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "version": t.version,
                // The root of a centralized platform is the enterprise tier of a
                // two-tier chain.
                "scope": t.scope.map_or(Value::from("enterprise"), |s| serde_json::to_value(s).unwrap_or(Value::Null)),
                "ref": t.label,
            })
        })
        .collect();

    let domain_id = input.domain.replace('-', "_");
    let doc = json!({
        "version": CONTRACT_VERSION,
        "metadata": {
            "compiled_at": input.compiled_at,
            "floe_version": input.floe_version,
            "source_hash": input.source_hash,
            "product_name": product,
            "product_version": spec.metadata.version,
        },
        "identity": {
            "product_id": format!("{domain_id}.{}", product.replace('-', "_")),
            "domain": input.domain,
            "repository": "",
            "namespace_registered": false,
            "registration_timestamp": null,
        },
        "mode": input.mode,
        "inheritance_chain": if input.mode == Mode::Simple { Vec::new() } else { chain },
        "observability": {
            "telemetry": telemetry,
            "lineage": lineage.is_none_or(|l| l.enabled),
            "lineage_namespace": lineage_namespace,
            "lineage_endpoint": lineage_endpoint,
            "lineage_transport": lineage_transport,
        },
        "plugins": plugins,
        "transforms": {"models": models, "default_compute": default_compute},
        "dbt_profiles": {input.profile_name: input.profile},
        "governance": {
            "pii_encryption": pick("pii_encryption"),
            "audit_logging": pick("audit_logging"),
            "policy_enforcement_level": level,
            "data_retention_days": pick("data_retention_days"),
            "default_ttl_hours": pick("default_ttl_hours"),
            "snapshot_keep_last": pick("snapshot_keep_last"),
            "stale_table_recovery_mode": pick("stale_table_recovery_mode"),
        },
        "enforcement_result": {
            "passed": true,
            "error_count": 0,
            "warning_count": input.warning_count,
            "policy_types_checked": input.policy_types_checked,
            "models_validated": spec.transforms.len(),
            "enforcement_level": enforcement_level,
            "rbac_principal": null,
            "secrets_scanned": input.secrets_scanned,
        },
        "data_contracts": contracts::all(&spec.metadata.name, &spec.metadata.version, spec.output_ports.as_deref().unwrap_or_default(), input.domain, terms),
        "quality_config": null,
    });
    serde_json::from_value::<CompiledArtifacts>(doc).map_err(|e| {
        vec![Diagnostic::error(Code::Internal, format!("compiled artifacts do not fit their contract: {e}"))]
    })
}

fn missing_plugin(platform: &ResolvedPlatform, category: &str) -> Diagnostic {
    let d = Diagnostic::error(Code::MissingKey, format!("the platform selects no `{category}` plugin"))
        .with_help(format!("add `plugins.{category}` to the platform manifest"));
    match platform.origin("metadata.name") {
        Some(o) => d.in_file(&o.file),
        None => d,
    }
}

/// The OTLP exporter's credential header as the contract's `authentication`:
/// the header's value is an environment reference, never a secret.
fn otlp_auth(e: &floe_plugins::OtlpExporter) -> Value {
    let Some((name, value)) = e.headers.iter().next() else { return Value::Null };
    if name.eq_ignore_ascii_case("authorization") {
        let token = value.strip_prefix("Bearer ").unwrap_or(value);
        return json!({"auth_type": "bearer", "bearer_token": token, "header_name": name});
    }
    json!({"auth_type": "api_key", "api_key": value, "header_name": name})
}
