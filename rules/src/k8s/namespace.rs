//! A platform's namespaces as Kubernetes objects: per domain, the namespace
//! its products run in (Pod Security `restricted`), the NetworkPolicies the
//! network plugin makes of what runs reach, and the objects the secrets
//! plugin makes so that the Secrets runs read exist.

use std::collections::BTreeMap;

use floe_plugins::{Any, Category, Egress};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::plugins;
use crate::resolve::ResolvedPlatform;

/// The Pod Security Standards version a namespace is held to: the one of
/// the Kubernetes schemas floe's objects are written against.
const POD_SECURITY_VERSION: &str = "v1.33";

/// The namespace a domain's products run in.
pub fn name(domain: &str) -> String {
    format!("floe-{domain}")
}

/// Where a namespace's objects come from: the derivation and the package.
pub struct Origin<'a> {
    /// The derivation key, `blake3:<hex>`.
    pub key: &'a str,
    /// The platform package's label (`//sales`, `//`).
    pub package: &'a str,
}

/// What a platform puts in each of its namespaces, computed once per platform.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Hosts and ports runs reach: the plugins' endpoints and the
    /// observability endpoints of the manifest.
    egress: Vec<Egress>,
    /// The Secrets runs read, each with its keys.
    secrets: BTreeMap<String, Vec<String>>,
}

impl Plan {
    pub fn of(platform: &ResolvedPlatform) -> Plan {
        let mut egress: Vec<Egress> = plugins::endpoints(platform).into_iter().map(|(_, _, e)| e).collect();
        if let Some(o) = &platform.manifest.observability {
            let urls = [("otlp", o.tracing.endpoint.as_deref()), ("lineage", o.lineage.endpoint.as_deref())];
            egress.extend(urls.into_iter().filter_map(|(purpose, url)| Egress::from_url(purpose, url?)));
        }
        egress.sort();
        egress.dedup();
        let mut secrets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (secret, key) in crate::orchestration::secret_env_of(platform).into_values() {
            secrets.entry(secret).or_default().push(key);
        }
        for keys in secrets.values_mut() {
            keys.sort_unstable();
            keys.dedup();
        }
        Plan { egress, secrets }
    }
}

/// The objects of `domain`'s namespace, in a fixed order: the Namespace,
/// the NetworkPolicies, then the secrets plugin's objects by Secret name.
/// Each carries floe's labels and the derivation and package annotations.
pub fn objects(platform: &ResolvedPlatform, plan: &Plan, domain: &str, origin: &Origin<'_>) -> Vec<Value> {
    let namespace = name(domain);
    let (chosen, _) = plugins::chosen(platform);
    let mut out = vec![to_value(&Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.clone()),
            labels: Some(namespace_labels(domain)),
            annotations: Some(annotations(origin)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })];
    let selected = |category: Category| chosen.iter().find(|c| c.category() == category);
    let mut plugin_objects = Vec::new();
    if let Some(c) = selected(Category::NetworkSecurity)
        && let Any::NetworkSecurity(n) = c.plugin
    {
        // Typed where Kubernetes defines the kind, so that a misshapen
        // policy reads as its type does (a field of another type is left out).
        plugin_objects.extend(n.network_policies(&c.selected(), &namespace, &plan.egress).into_iter().map(|policy| {
            match serde_json::from_value::<NetworkPolicy>(policy.clone()) {
                Ok(typed) => to_value(&typed),
                Err(_) => policy,
            }
        }));
    }
    if let Some(c) = selected(Category::Secrets)
        && let Any::Secrets(s) = c.plugin
    {
        for (secret, keys) in &plan.secrets {
            plugin_objects.extend(s.secret_objects(&c.selected(), &namespace, secret, keys));
        }
    }
    for mut object in plugin_objects {
        stamp(&mut object, domain, origin);
        out.push(object);
    }
    out
}

/// The labels of every object of a namespace.
fn labels(domain: &str) -> BTreeMap<String, String> {
    [("app.kubernetes.io/managed-by", "floe"), ("app.kubernetes.io/part-of", "floe"), ("floe.dev/domain", domain)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The namespace's own labels: floe's, and Pod Security `restricted`
/// enforced (and audited and warned of, so that a violation says why).
fn namespace_labels(domain: &str) -> BTreeMap<String, String> {
    let mut labels = labels(domain);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".to_owned());
        labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), POD_SECURITY_VERSION.to_owned());
    }
    labels
}

fn annotations(origin: &Origin<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        (super::DERIVATION_ANNOTATION.to_owned(), origin.key.to_owned()),
        (super::PACKAGE_ANNOTATION.to_owned(), origin.package.to_owned()),
    ])
}

/// Adds floe's labels and annotations to a plugin's object, over its own.
fn stamp(object: &mut Value, domain: &str, origin: &Origin<'_>) {
    let Some(object) = object.as_object_mut() else { return };
    let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    let Some(metadata) = metadata.as_object_mut() else { return };
    for (field, entries) in [("labels", labels(domain)), ("annotations", annotations(origin))] {
        let map = metadata.entry(field).or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            map.extend(entries.into_iter().map(|(k, v)| (k, Value::String(v))));
        }
    }
}

fn to_value(object: &impl serde::Serialize) -> Value {
    serde_json::to_value(object).expect("Kubernetes objects serialize")
}

/// A kustomization of `resources` (files and directories, relative to it):
/// what `kubectl kustomize` and Argo CD or Flux render a directory from.
pub fn kustomization(resources: &[String]) -> String {
    crate::emit::yaml(&serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(yaml: &str) -> ResolvedPlatform {
        let text = format!(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {{name: acme, version: 1.0.0, owner: a@b.c}}\n{yaml}"
        );
        crate::resolve::resolve_text(&text)
    }

    #[test]
    fn a_namespace_enforces_restricted_and_allows_what_runs_reach() {
        let p = platform(
            "plugins:\n  compute: {type: duckdb}\n  storage: {type: s3, config: {bucket: b, endpoint: 'http://10.0.0.5:9000'}, connection_secret_ref: lake}\n  secrets: {type: external-secrets, config: {store_name: vault}}\nobservability:\n  tracing: {enabled: true, exporter: otlp, endpoint: 'http://otel:4317'}\n",
        );
        let origin = Origin { key: "blake3:00", package: "//" };
        let objects = objects(&p, &Plan::of(&p), "sales", &origin);
        insta::assert_snapshot!(crate::k8s::to_yaml(&objects));
        for o in &objects {
            assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "floe", "{o}");
            assert_eq!(o["metadata"]["annotations"][super::super::PACKAGE_ANNOTATION], "//", "{o}");
        }
    }
}
