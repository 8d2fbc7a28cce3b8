//! A product's runs on Kubernetes as the floe-jobs chart's values
//! (`charts/floe-jobs/README.md` is the contract): its identity, schedule,
//! image, command, artifacts, environment and resources, for one product.
//!
//! The values are made from the product's compiled artifacts and dbt profile
//! (their text goes into the run's ConfigMap as is) and from the platform:
//! the dbt runtime's command, the secrets a run reads (as references), the
//! compute plugin's requirements and the platform's `resource_presets`, and
//! the registry product images are published to.

use floe_plugins::{Any, Category, Resources, RunAccess, WorkloadSize};
use floe_schemas::manifest::ResourcePreset;
use floe_schemas::spec::FloeSpec;
use serde_json::Value;

use crate::k8s::{self, Artifacts, CpuMemory, Env, Image, ProductValues, Schedule, SecretEnv};
use crate::plugins;
use crate::resolve::ResolvedPlatform;

/// The preset a product's run takes its resources from.
const PRESET: &str = "small";
/// An image named without a registry: one loaded into the cluster's nodes
/// (as `kind load` and `k3s ctr images import` do), which no pull reaches.
const LOCAL_REGISTRY: &str = "localhost";

/// What a platform gives every product's runs: computed once per platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runs {
    /// Where product images are: `<registry>` of `<registry>/<domain>/<name>`.
    pub registry: String,
    /// The dbt runtime's command line, without flags.
    pub command: Vec<String>,
    /// The secrets a run reads, as references.
    pub secret_env: crate::orchestration::SecretEnv,
    /// What a run may do through its ServiceAccount (the RBAC plugin's say).
    pub access: RunAccess,
    pub resources: k8s::Resources,
}

impl Runs {
    pub fn of(platform: &ResolvedPlatform) -> Runs {
        let registry = platform
            .manifest
            .artifacts
            .as_ref()
            .map(|a| a.registry.uri.trim_start_matches("oci://").trim_end_matches('/').to_owned())
            .unwrap_or_else(|| LOCAL_REGISTRY.to_owned());
        let secret_env = crate::orchestration::secret_env_of(platform);
        Runs {
            registry,
            command: dbt_command(platform),
            access: access(platform, &secret_env),
            secret_env,
            resources: resources(platform),
        }
    }
}

/// What one product's values are made from.
pub struct JobInput<'a> {
    pub runs: &'a Runs,
    pub spec: &'a FloeSpec,
    pub domain: &'a str,
    /// The text of `compiled_artifacts.json` and `profiles.yml`.
    pub artifacts: &'a str,
    pub profile: &'a str,
    /// The key of the derivation the objects come from (`blake3:<hex>`).
    pub key: &'a str,
    /// The product's package label.
    pub package: &'a str,
}

/// The floe-jobs values of one product.
pub fn values(input: &JobInput<'_>) -> ProductValues {
    let (spec, runs) = (input.spec, input.runs);
    // Both are DNS labels already: a product name by the spec's pattern, a
    // domain by the manifest's or by E0219.
    let (name, domain) = (spec.metadata.name.clone(), input.domain.to_owned());
    let version = spec.metadata.version.clone();
    let schedule =
        spec.schedule.as_ref().filter(|s| s.enabled).and_then(|s| {
            s.cron.as_ref().map(|cron| Schedule { cron: cron.clone(), timezone: Some(s.timezone.clone()) })
        });
    let secret_env = runs
        .secret_env
        .iter()
        .map(|(var, (secret, key))| SecretEnv { name: var.clone(), secret_name: secret.clone(), key: key.clone() })
        .collect();
    ProductValues {
        namespace: format!("floe-{domain}"),
        derivation: input.key.to_owned(),
        package: input.package.to_owned(),
        schedule,
        image: Image { repository: format!("{}/{domain}/{name}", runs.registry), tag: version.clone() },
        command: runs.command.clone(),
        args: ["--project-dir", ".", "--profiles-dir", k8s::ARTIFACTS_DIR, "--target", crate::profile::TARGET]
            .map(str::to_owned)
            .to_vec(),
        service_account_name: name.clone(),
        automount_service_account_token: runs.access.automount_token,
        // The plugin's rules follow its configuration schema: each is a PolicyRule.
        role_rules: runs.access.rules.iter().filter_map(|r| serde_json::from_value(r.clone()).ok()).collect(),
        artifacts: Artifacts { compiled_artifacts: input.artifacts.to_owned(), profiles: input.profile.to_owned() },
        secret_env,
        env: telemetry_env(input.artifacts),
        resources: runs.resources.clone(),
        name,
        domain,
        version,
    }
}

/// The dbt runtime's command line, without flags.
fn dbt_command(platform: &ResolvedPlatform) -> Vec<String> {
    let (chosen, _) = plugins::chosen(platform);
    chosen
        .iter()
        .find_map(|c| match c.plugin {
            Any::Dbt(d) => Some(d.command(&c.selected())),
            _ => None,
        })
        .unwrap_or_else(|| vec!["dbt".to_owned(), "build".to_owned()])
}

/// What the platform's RBAC plugin lets a run do, given the Secrets it
/// reads; without one, an account with no token and no Role.
fn access(platform: &ResolvedPlatform, secret_env: &crate::orchestration::SecretEnv) -> RunAccess {
    let (chosen, _) = plugins::chosen(platform);
    let mut secrets: Vec<String> = secret_env.values().map(|(secret, _)| secret.clone()).collect();
    secrets.sort_unstable();
    secrets.dedup();
    chosen
        .iter()
        .find_map(|c| match c.plugin {
            Any::Rbac(r) => Some(r.run_access(&c.selected(), &secrets)),
            _ => None,
        })
        .unwrap_or_default()
}

/// The OpenTelemetry and OpenLineage variables of a run, from what the
/// compiled artifacts say of telemetry and lineage.
fn telemetry_env(artifacts: &str) -> Vec<Env> {
    // Only `observability` is read: the rest of the document is skipped, not built.
    #[derive(Default, serde::Deserialize)]
    #[serde(default)]
    struct Observability {
        telemetry: Option<Telemetry>,
        lineage: Option<bool>,
        lineage_endpoint: Option<String>,
        lineage_namespace: Option<String>,
    }
    #[derive(Default, serde::Deserialize)]
    #[serde(default)]
    struct Telemetry {
        enabled: Option<bool>,
        otlp_endpoint: Option<String>,
        otlp_protocol: Option<String>,
        resource_attributes: Option<std::collections::BTreeMap<String, Value>>,
    }
    let Some(o) = observability::<Observability>(artifacts) else { return Vec::new() };
    let mut env = Vec::new();
    let mut set = |name: &str, value: String| env.push(Env { name: name.to_owned(), value });
    if let Some(t) = o.telemetry.filter(|t| t.enabled == Some(true)) {
        let attributes = t.resource_attributes.unwrap_or_default();
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        set("OTEL_EXPORTER_OTLP_ENDPOINT", t.otlp_endpoint.unwrap_or_default());
        set("OTEL_EXPORTER_OTLP_PROTOCOL", t.otlp_protocol.unwrap_or_default());
        set("OTEL_SERVICE_NAME", attributes.get("service_name").map(text).unwrap_or_default());
        let pairs: Vec<String> =
            attributes.iter().map(|(k, v)| format!("{}={}", k.replace('_', "."), text(v))).collect();
        set("OTEL_RESOURCE_ATTRIBUTES", pairs.join(","));
    }
    if o.lineage == Some(true)
        && let Some(endpoint) = &o.lineage_endpoint
    {
        set("OPENLINEAGE_URL", endpoint.trim_end_matches("/api/v1/lineage").to_owned());
        set("OPENLINEAGE_NAMESPACE", o.lineage_namespace.unwrap_or_default());
    }
    env
}

/// The `observability` member of compiled artifacts as floe writes them
/// (pretty JSON, two spaces a level): read from where it starts, without
/// reading the 10 KB before it; the whole document when it is not found.
fn observability<T: serde::de::DeserializeOwned>(artifacts: &str) -> Option<T> {
    const MEMBER: &str = "\n  \"observability\": ";
    if let Some(at) = artifacts.find(MEMBER) {
        let mut values = serde_json::Deserializer::from_str(&artifacts[at + MEMBER.len()..]).into_iter::<T>();
        return values.next()?.ok();
    }
    #[derive(serde::Deserialize)]
    struct Doc<T> {
        observability: T,
    }
    serde_json::from_str::<Doc<T>>(artifacts).ok().map(|d| d.observability)
}

/// A run's requests and limits: the compute plugin's for a small workload,
/// each overridden by the platform's `small` preset where it sets one.
fn resources(platform: &ResolvedPlatform) -> k8s::Resources {
    let (chosen, _) = plugins::chosen(platform);
    let mut r = chosen
        .iter()
        .find(|c| c.category() == Category::Compute)
        .and_then(|c| match c.plugin {
            Any::Compute(p) => Some(p.resource_requirements(WorkloadSize::Small)),
            _ => None,
        })
        .unwrap_or_else(|| Resources::new("250m", "1", "512Mi", "1Gi"));
    match platform.manifest.resource_presets.as_ref().and_then(|p| p.get(PRESET)) {
        Some(ResourcePreset::Structured(s)) => {
            r = Resources::new(&s.requests.cpu, &s.limits.cpu, &s.requests.memory, &s.limits.memory);
        }
        Some(ResourcePreset::Flat(f)) => {
            for (to, from) in [
                (&mut r.cpu_request, &f.cpu_request),
                (&mut r.cpu_limit, &f.cpu_limit),
                (&mut r.memory_request, &f.memory_request),
                (&mut r.memory_limit, &f.memory_limit),
            ] {
                if let Some(v) = from {
                    v.clone_into(to);
                }
            }
        }
        None => {}
    }
    k8s::Resources {
        requests: CpuMemory { cpu: r.cpu_request, memory: r.memory_request },
        limits: CpuMemory { cpu: r.cpu_limit, memory: r.memory_limit },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn observability_is_read_where_it_starts_or_from_the_whole_document() {
        let doc = json!({"a": {"observability": 1}, "observability": {"lineage": true}, "z": [1]});
        let pretty = String::from_utf8(crate::emit::json(&doc)).unwrap();
        let compact = doc.to_string();
        for text in [pretty.as_str(), compact.as_str()] {
            assert_eq!(super::observability::<Value>(text), Some(json!({"lineage": true})), "{text}");
        }
        assert_eq!(super::observability::<Value>("{\"other\": 1}"), None);
    }
}
