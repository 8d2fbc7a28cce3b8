//! Network security plugins: which traffic a product namespace's pods may
//! send and receive. Everything is denied unless a policy allows it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::{Egress, Selected};
use crate::config::typed;
use crate::config::{self, ConfigError};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{NetworkSecurity, Plugin};

pub(crate) static PLUGINS: &[&'static dyn NetworkSecurity] = &[&K8sNetworkPolicies];

/// Kubernetes NetworkPolicies (`networking.k8s.io/v1`).
pub struct K8sNetworkPolicies;

/// Kubernetes NetworkPolicies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "k8s network security config")]
pub struct K8sNetworkConfig {
    /// Allow DNS lookups through kube-dns; without them pods resolve no names.
    #[serde(default = "default_true")]
    pub allow_dns: bool,
    /// Address ranges pods may reach on any port (`10.20.0.0/16`).
    #[serde(default)]
    pub extra_egress_cidrs: Vec<String>,
}

impl Default for K8sNetworkConfig {
    fn default() -> K8sNetworkConfig {
        K8sNetworkConfig { allow_dns: true, extra_egress_cidrs: Vec::new() }
    }
}

fn default_true() -> bool {
    true
}

static K8S: Meta = Meta {
    name: "k8s",
    category: Category::NetworkSecurity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Kubernetes NetworkPolicies: default deny, DNS, and each product egress",
    provides: &[cap("network-policy", "k8s")],
    requires: &[],
};

impl Plugin for K8sNetworkPolicies {
    fn meta(&self) -> &'static Meta {
        &K8S
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<K8sNetworkConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: K8sNetworkConfig = typed(sel);
        let mut errors = Vec::new();
        for (i, cidr) in c.extra_egress_cidrs.iter().enumerate() {
            if parse_cidr(cidr).is_none() {
                errors.push(ConfigError::at(
                    &["extra_egress_cidrs", &format!("[{i}]")],
                    format!("`{cidr}` is not a CIDR block"),
                    "write an address and a prefix length within its family (`10.20.0.0/16`, `fd00::/8`)",
                ));
            }
        }
        errors
    }
}

/// An address and a prefix length that fits its family.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

fn metadata(namespace: &str, name: &str) -> Value {
    json!({"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "floe"}})
}

fn policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(namespace, name), "spec": spec})
}

impl NetworkSecurity for K8sNetworkPolicies {
    fn network_policies(&self, sel: &Selected<'_>, namespace: &str, egress: &[Egress]) -> Vec<Value> {
        let c: K8sNetworkConfig = typed(sel);
        let mut policies = vec![policy(
            namespace,
            "floe-default-deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        )];
        if c.allow_dns {
            policies.push(policy(namespace, "floe-allow-dns", dns_spec()));
        }
        let rules = egress_rules(&c, egress);
        if !rules.is_empty() {
            policies.push(policy(
                namespace,
                "floe-allow-egress",
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": rules}),
            ));
        }
        policies
    }
}

/// Lookups to kube-dns in kube-system, over UDP and TCP (large answers).
fn dns_spec() -> Value {
    json!({
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{
            "to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }],
    })
}

/// One rule per destination. Core NetworkPolicy matches addresses, not
/// names: an IP host is allowed as a single-address `ipBlock`, while a DNS
/// name can only be allowed as its port, to any address. Restricting by
/// name needs a CNI that extends NetworkPolicy (Cilium's `toFQDNs`).
fn egress_rules(c: &K8sNetworkConfig, egress: &[Egress]) -> Vec<Value> {
    let mut to_ips = BTreeSet::new();
    let mut name_ports = BTreeSet::new();
    for e in egress {
        let host = e.host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                to_ips.insert((ip, e.port));
            }
            Err(_) => {
                name_ports.insert(e.port);
            }
        }
    }
    let mut rules: Vec<Value> = to_ips
        .into_iter()
        .map(|(ip, port)| {
            let cidr = match ip {
                IpAddr::V4(_) => format!("{ip}/32"),
                IpAddr::V6(_) => format!("{ip}/128"),
            };
            json!({"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]})
        })
        .collect();
    rules.extend(name_ports.into_iter().map(|port| json!({"ports": [{"protocol": "TCP", "port": port}]})));
    let cidrs: BTreeSet<&str> = c.extra_egress_cidrs.iter().map(String::as_str).collect();
    rules.extend(cidrs.into_iter().map(|cidr| json!({"to": [{"ipBlock": {"cidr": cidr}}]})));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress() -> Vec<Egress> {
        let e =
            |purpose: &str, host: &str, port: u16| Egress { purpose: purpose.to_owned(), host: host.to_owned(), port };
        vec![
            e("storage", "minio.storage.svc.cluster.local", 9000),
            e("catalog", "polaris.example.com", 443),
            e("otlp", "10.0.12.7", 4317),
            e("lineage", "marquez.example.com", 443),
            e("warehouse", "[fd00::12]", 443),
        ]
    }

    #[test]
    fn policies() {
        let c = json!({"extra_egress_cidrs": ["10.20.0.0/16"]});
        insta::assert_json_snapshot!(K8sNetworkPolicies.network_policies(
            &Selected::new(Some(&c), None),
            "floe-customer-360",
            &egress()
        ));
    }

    #[test]
    fn without_dns_or_egress_only_the_default_deny_remains() {
        let c = json!({"allow_dns": false});
        let policies = K8sNetworkPolicies.network_policies(&Selected::new(Some(&c), None), "ns", &[]);
        assert_eq!(policies.len(), 1);
        assert_eq!(policies[0]["spec"], json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
        // DNS is allowed unless turned off.
        assert_eq!(K8sNetworkPolicies.network_policies(&Selected::EMPTY, "ns", &[]).len(), 2);
    }

    #[test]
    fn output_does_not_depend_on_egress_order() {
        let mut reversed = egress();
        reversed.reverse();
        let a = K8sNetworkPolicies.network_policies(&Selected::EMPTY, "ns", &egress());
        let b = K8sNetworkPolicies.network_policies(&Selected::EMPTY, "ns", &reversed);
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }

    #[test]
    fn config_is_checked() {
        let shown = |c: Value| -> Vec<String> {
            crate::validate(&K8sNetworkPolicies, &Selected::new(Some(&c), None))
                .iter()
                .map(|e| format!("{} | {}", e.path.join("."), e.message))
                .collect()
        };
        assert_eq!(
            shown(json!({"extra_egress_cidrs": ["10.0.0.0/33", "fd00::/64", "example.com"]})),
            [
                "extra_egress_cidrs.[0] | `10.0.0.0/33` is not a CIDR block",
                "extra_egress_cidrs.[2] | `example.com` is not a CIDR block"
            ]
        );
        let errors = crate::validate(&K8sNetworkPolicies, &Selected::new(Some(&json!({"allow_dn": false})), None));
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `allow_dns`?"));
        assert_eq!(shown(json!({"allow_dns": "yes"})).len(), 1);
    }

    #[test]
    fn no_policy_holds_a_secret_value() {
        // NetworkPolicies carry no credentials; a URL's userinfo never reaches them.
        let e = Egress::from_url("catalog", "https://user:hunter2-planted@polaris.example.com/api").unwrap();
        let out = serde_json::to_string(&K8sNetworkPolicies.network_policies(&Selected::EMPTY, "ns", &[e])).unwrap();
        assert!(!out.contains("hunter2-planted"), "{out}");
        assert!(out.contains(r#""ports":[{"port":443,"protocol":"TCP"}]"#), "{out}");
    }
}
