//! The built-in plugins, registered statically.

use std::sync::OnceLock;

use crate::meta::{Category, Meta};
use crate::{
    AlertChannel, Catalog, Compute, DbtRuntime, Identity, Ingestion, LineageBackend, NetworkSecurity, Orchestrator,
    Plugin, Quality, Rbac, Secrets, SemanticLayer, Storage, TelemetryBackend,
};

/// A plugin of any category, with its category's interface.
#[derive(Clone, Copy)]
pub enum Any {
    Compute(&'static dyn Compute),
    Orchestrator(&'static dyn Orchestrator),
    Catalog(&'static dyn Catalog),
    Storage(&'static dyn Storage),
    TelemetryBackend(&'static dyn TelemetryBackend),
    LineageBackend(&'static dyn LineageBackend),
    Dbt(&'static dyn DbtRuntime),
    SemanticLayer(&'static dyn SemanticLayer),
    Ingestion(&'static dyn Ingestion),
    Secrets(&'static dyn Secrets),
    Identity(&'static dyn Identity),
    Quality(&'static dyn Quality),
    Rbac(&'static dyn Rbac),
    AlertChannel(&'static dyn AlertChannel),
    NetworkSecurity(&'static dyn NetworkSecurity),
}

impl Any {
    pub fn plugin(self) -> &'static dyn Plugin {
        match self {
            Any::Compute(p) => p,
            Any::Orchestrator(p) => p,
            Any::Catalog(p) => p,
            Any::Storage(p) => p,
            Any::TelemetryBackend(p) => p,
            Any::LineageBackend(p) => p,
            Any::Dbt(p) => p,
            Any::SemanticLayer(p) => p,
            Any::Ingestion(p) => p,
            Any::Secrets(p) => p,
            Any::Identity(p) => p,
            Any::Quality(p) => p,
            Any::Rbac(p) => p,
            Any::AlertChannel(p) => p,
            Any::NetworkSecurity(p) => p,
        }
    }

    pub fn meta(self) -> &'static Meta {
        self.plugin().meta()
    }
}

impl std::fmt::Debug for Any {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.meta().category, self.meta().name)
    }
}

/// Every built-in plugin, by category (in [`Category::ALL`] order), then name.
pub fn all() -> &'static [Any] {
    static ALL: OnceLock<Vec<Any>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Any> = Vec::new();
        all.extend(crate::compute::PLUGINS.iter().map(|p| Any::Compute(*p)));
        all.extend(crate::orchestrator::PLUGINS.iter().map(|p| Any::Orchestrator(*p)));
        all.extend(crate::catalog::PLUGINS.iter().map(|p| Any::Catalog(*p)));
        all.extend(crate::storage::PLUGINS.iter().map(|p| Any::Storage(*p)));
        all.extend(crate::telemetry::PLUGINS.iter().map(|p| Any::TelemetryBackend(*p)));
        all.extend(crate::lineage::PLUGINS.iter().map(|p| Any::LineageBackend(*p)));
        all.extend(crate::dbt::PLUGINS.iter().map(|p| Any::Dbt(*p)));
        all.extend(crate::semantic::PLUGINS.iter().map(|p| Any::SemanticLayer(*p)));
        all.extend(crate::ingestion::PLUGINS.iter().map(|p| Any::Ingestion(*p)));
        all.extend(crate::secrets::PLUGINS.iter().map(|p| Any::Secrets(*p)));
        all.extend(crate::identity::PLUGINS.iter().map(|p| Any::Identity(*p)));
        all.extend(crate::quality::PLUGINS.iter().map(|p| Any::Quality(*p)));
        all.extend(crate::rbac::PLUGINS.iter().map(|p| Any::Rbac(*p)));
        all.extend(crate::alert::PLUGINS.iter().map(|p| Any::AlertChannel(*p)));
        all.extend(crate::network::PLUGINS.iter().map(|p| Any::NetworkSecurity(*p)));
        all.sort_by_key(|p| (p.meta().category, p.meta().name));
        all
    })
}

/// The built-in plugin `name` of `category`.
pub fn find(category: Category, name: &str) -> Option<Any> {
    all().iter().copied().find(|p| p.meta().category == category && p.meta().name == name)
}

/// The names of a category's plugins, sorted.
pub fn names(category: Category) -> Vec<&'static str> {
    all().iter().map(|p| p.meta()).filter(|m| m.category == category).map(|m| m.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::PLUGIN_API;

    #[test]
    fn every_plugin_is_registered_once_under_its_own_category() {
        let mut seen = std::collections::BTreeSet::new();
        for p in all() {
            let m = p.meta();
            let category = match p {
                Any::Compute(_) => Category::Compute,
                Any::Orchestrator(_) => Category::Orchestrator,
                Any::Catalog(_) => Category::Catalog,
                Any::Storage(_) => Category::Storage,
                Any::TelemetryBackend(_) => Category::TelemetryBackend,
                Any::LineageBackend(_) => Category::LineageBackend,
                Any::Dbt(_) => Category::Dbt,
                Any::SemanticLayer(_) => Category::SemanticLayer,
                Any::Ingestion(_) => Category::Ingestion,
                Any::Secrets(_) => Category::Secrets,
                Any::Identity(_) => Category::Identity,
                Any::Quality(_) => Category::Quality,
                Any::Rbac(_) => Category::Rbac,
                Any::AlertChannel(_) => Category::AlertChannel,
                Any::NetworkSecurity(_) => Category::NetworkSecurity,
            };
            assert_eq!(m.category, category, "{}", m.name);
            assert!(seen.insert((m.category, m.name)), "{} registered twice", m.name);
            assert!(m.semver().is_some(), "{}: version {}", m.name, m.version);
            assert!(m.api.runs_on(PLUGIN_API), "{}", m.name);
            assert!(!m.summary.is_empty() && !m.summary.ends_with('.'), "{}: summary", m.name);
            // The schema is a valid JSON Schema of an object that rejects unknown keys.
            let schema = p.plugin().config_schema();
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", m.name));
            assert_eq!(schema["type"], "object", "{}", m.name);
            assert_eq!(schema["additionalProperties"], false, "{}", m.name);
            // floe replaces literals only under keys it knows hold credentials.
            if let Err(key) = crate::testing::credential_keys_are_known(&schema) {
                panic!("{}: credential field `{key}` is not a known credential key", m.name);
            }
        }
        for c in Category::ALL {
            assert!(!names(c).is_empty(), "no plugin for {c}");
            if let Some(d) = c.default_plugin() {
                assert!(find(c, d).is_some(), "default {d} of {c} is not registered");
            }
        }
    }

    #[test]
    fn requirements_name_values_some_plugin_provides() {
        for p in all() {
            for r in p.meta().requires {
                for v in r.any_of {
                    assert!(
                        all().iter().any(|q| q.meta().category == r.category && q.meta().provides(r.kind, v)),
                        "{}: no {} plugin provides {}={v}",
                        p.meta().name,
                        r.category,
                        r.kind
                    );
                }
            }
        }
    }
}
