//! The platform's Helm values: the floe-platform chart's `values.yaml`,
//! assembled from every selected plugin's contribution.

use floe_plugins::{Any, Category};
use serde_json::{Map, Value, json};

use crate::plugins;
use crate::resolve::ResolvedPlatform;

/// The receiver every platform alert routes to.
const ALERT_RECEIVER: &str = "floe";

/// The values document. Each plugin contributes the values of the service it
/// runs (`dagster`, `polaris`, `minio`, …); the telemetry backend overrides
/// the OpenTelemetry Collector's exporters; storage and catalog bindings say
/// where tables live. Secret-free: services read credentials from existing
/// Secrets.
pub fn values(platform: &ResolvedPlatform) -> Value {
    let (chosen, _) = plugins::chosen(platform);
    let mut selected = Map::new();
    for c in &chosen {
        let m = c.plugin.meta();
        selected.insert(m.category.key().to_owned(), json!({"type": m.name, "version": m.version}));
    }
    let mut values = json!({
        "global": {
            "platform": {
                "name": platform.manifest.metadata.name,
                "version": platform.manifest.metadata.version,
            },
            "plugins": selected,
        },
    });
    for c in &chosen {
        merge(&mut values, c.plugin.plugin().helm_values(&c.selected()));
        if let Any::TelemetryBackend(t) = c.plugin {
            merge(&mut values, json!({"opentelemetry-collector": t.helm_values_override(&c.selected())}));
        }
    }
    let storage = plugins::storage(&chosen);
    let catalog = plugins::catalog(&chosen, storage.as_ref());
    merge(&mut values, json!({"global": {"storage": storage, "catalog": catalog}}));
    // Alerts route to the selected channel (prometheus-community chart's
    // bundled Alertmanager, `alertmanager.config`).
    if let Some(c) = chosen.iter().find(|c| c.category() == Category::AlertChannel)
        && let Any::AlertChannel(a) = c.plugin
    {
        let receiver = a.receiver(&c.selected(), ALERT_RECEIVER);
        merge(
            &mut values,
            json!({"prometheus": {"alertmanager": {"config": {
                "route": {"receiver": ALERT_RECEIVER, "group_by": ["alertname", "product"]},
                "receivers": [receiver],
            }}}}),
        );
    }
    if let Some(c) = chosen.iter().find(|c| c.category() == Category::Identity)
        && let Any::Identity(i) = c.plugin
    {
        merge(&mut values, json!({"global": {"oidc": {"issuer": i.issuer(&c.selected())}}}));
    }
    values
}

/// Deep-merges `from` into `into`: objects key by key, anything else replaced.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_deep_and_ignores_nulls() {
        let mut v = json!({"a": {"x": 1, "y": {"z": 2}}, "b": 1});
        merge(&mut v, json!({"a": {"y": {"w": 3}}, "b": null, "c": [1]}));
        assert_eq!(v, json!({"a": {"x": 1, "y": {"z": 2, "w": 3}}, "b": 1, "c": [1]}));
    }
}
