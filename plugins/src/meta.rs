//! What a plugin says about itself: its category, versions, and the
//! capabilities it provides and requires of the plugins around it.

use std::fmt;

/// The plugin API this floe implements. A plugin written against `major.minor`
/// runs on any host of the same major version and at least that minor one.
pub const PLUGIN_API: ApiVersion = ApiVersion { major: 1, minor: 0 };

/// The fifteen plugin categories, in the order manifests and listings use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Compute,
    Orchestrator,
    Catalog,
    Storage,
    TelemetryBackend,
    LineageBackend,
    Dbt,
    SemanticLayer,
    Ingestion,
    Secrets,
    Identity,
    Quality,
    Rbac,
    AlertChannel,
    NetworkSecurity,
}

impl Category {
    pub const ALL: [Category; 15] = [
        Category::Compute,
        Category::Orchestrator,
        Category::Catalog,
        Category::Storage,
        Category::TelemetryBackend,
        Category::LineageBackend,
        Category::Dbt,
        Category::SemanticLayer,
        Category::Ingestion,
        Category::Secrets,
        Category::Identity,
        Category::Quality,
        Category::Rbac,
        Category::AlertChannel,
        Category::NetworkSecurity,
    ];

    /// The key under `plugins:` in a manifest.
    pub fn key(self) -> &'static str {
        match self {
            Category::Compute => "compute",
            Category::Orchestrator => "orchestrator",
            Category::Catalog => "catalog",
            Category::Storage => "storage",
            Category::TelemetryBackend => "telemetry_backend",
            Category::LineageBackend => "lineage_backend",
            Category::Dbt => "dbt",
            Category::SemanticLayer => "semantic_layer",
            Category::Ingestion => "ingestion",
            Category::Secrets => "secrets",
            Category::Identity => "identity",
            Category::Quality => "quality",
            Category::Rbac => "rbac",
            Category::AlertChannel => "alert_channel",
            Category::NetworkSecurity => "network_security",
        }
    }

    pub fn from_key(key: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The name people use for it.
    pub fn title(self) -> &'static str {
        match self {
            Category::Compute => "compute",
            Category::Orchestrator => "orchestrator",
            Category::Catalog => "catalog",
            Category::Storage => "storage",
            Category::TelemetryBackend => "telemetry backend",
            Category::LineageBackend => "lineage backend",
            Category::Dbt => "dbt runtime",
            Category::SemanticLayer => "semantic layer",
            Category::Ingestion => "ingestion",
            Category::Secrets => "secrets",
            Category::Identity => "identity",
            Category::Quality => "quality",
            Category::Rbac => "RBAC",
            Category::AlertChannel => "alert channel",
            Category::NetworkSecurity => "network security",
        }
    }

    /// The plugin a platform gets when it selects none for this category.
    pub fn default_plugin(self) -> Option<&'static str> {
        match self {
            Category::Dbt => Some("core"),
            Category::SemanticLayer => Some("none"),
            Category::Secrets => Some("k8s"),
            Category::Rbac => Some("k8s"),
            Category::NetworkSecurity => Some("k8s"),
            _ => None,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A fact a plugin establishes about the platform (`object-store: s3`,
/// `dbt-adapter: snowflake`), which other plugins' requirements name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability {
    pub kind: &'static str,
    pub value: &'static str,
}

/// Shorthand for a [`Capability`] in plugin tables.
pub const fn cap(kind: &'static str, value: &'static str) -> Capability {
    Capability { kind, value }
}

/// What a plugin needs from the plugin selected for another category: one
/// capability of `kind` with a value in `any_of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub category: Category,
    pub kind: &'static str,
    pub any_of: &'static [&'static str],
    /// Whether the category must be selected at all; when `false` the
    /// requirement holds vacuously without a selection.
    pub needed: bool,
    /// Why, in a sentence a platform engineer can act on.
    pub reason: &'static str,
}

/// Shorthand for a needed [`Requirement`].
pub const fn needs(
    category: Category,
    kind: &'static str,
    any_of: &'static [&'static str],
    reason: &'static str,
) -> Requirement {
    Requirement { category, kind, any_of, needed: true, reason }
}

/// Shorthand for a [`Requirement`] that holds only when the category is selected.
pub const fn if_selected(
    category: Category,
    kind: &'static str,
    any_of: &'static [&'static str],
    reason: &'static str,
) -> Requirement {
    Requirement { category, kind, any_of, needed: false, reason }
}

/// A plugin's metadata.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// The `type` that selects it in a manifest.
    pub name: &'static str,
    pub category: Category,
    /// The plugin's own version (semver); a manifest may pin it.
    pub version: &'static str,
    /// The plugin API it was written against.
    pub api: ApiVersion,
    /// One line on what it is.
    pub summary: &'static str,
    pub provides: &'static [Capability],
    pub requires: &'static [Requirement],
}

impl Meta {
    pub fn provides(&self, kind: &str, value: &str) -> bool {
        self.provides.iter().any(|c| c.kind == kind && c.value == value)
    }

    /// Its version, parsed; every built-in plugin's parses (a registry test checks).
    pub fn semver(&self) -> Option<semver::Version> {
        semver::Version::parse(self.version).ok()
    }
}

/// A plugin API version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u16,
    pub minor: u16,
}

impl ApiVersion {
    /// Whether a plugin written against `self` runs on `host`.
    pub fn runs_on(self, host: ApiVersion) -> bool {
        self.major == host.major && self.minor <= host.minor
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion { major: major.parse().ok()?, minor: minor.parse().ok()? })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Whether a plugin at `version` satisfies the version a manifest pins,
/// read as cargo reads a bare requirement (`^`): the same left-most non-zero
/// part, and not older. Pre-releases follow the `semver` crate: `1.2.3-rc.1`
/// satisfies no pin but one on a pre-release of `1.2.3`. `Err` when the pin is
/// not a version requirement (`01.2.3`: a leading zero).
pub fn satisfies(version: &semver::Version, pinned: &str) -> Result<bool, semver::Error> {
    Ok(semver::VersionReq::parse(pinned)?.matches(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_round_trip_through_their_keys() {
        for c in Category::ALL {
            assert_eq!(Category::from_key(c.key()), Some(c));
        }
        assert_eq!(Category::from_key("computer"), None);
    }

    #[test]
    fn caret_compatibility() {
        let ok = |version: &str, pinned: &str| satisfies(&semver::Version::parse(version).unwrap(), pinned).unwrap();
        assert!(ok("0.1.3", "0.1.0"));
        assert!(!ok("0.2.0", "0.1.0"));
        assert!(!ok("0.1.0", "0.1.2"));
        assert!(ok("1.4.0", "1.2.0"));
        assert!(!ok("2.0.0", "1.2.0"));
        assert!(!ok("0.0.4", "0.0.3"));
        assert!(ok("1.2.3", "1.2.3"));
    }

    #[test]
    fn pre_releases_satisfy_only_pins_on_pre_releases() {
        let ok = |version: &str, pinned: &str| satisfies(&semver::Version::parse(version).unwrap(), pinned).unwrap();
        assert!(!ok("1.2.3-rc.1", "1.2.3"), "a pre-release comes before its release");
        assert!(!ok("1.3.0-rc.1", "1.2.3"), "a pin on a release admits no pre-release");
        assert!(ok("1.2.3-rc.2", "1.2.3-rc.1"));
        assert!(ok("1.2.3", "1.2.3-rc.1"));
        assert!(ok("1.2.3+build.5", "1.2.3"), "build metadata does not matter");
    }

    #[test]
    fn pins_that_are_not_versions_are_errors() {
        let v = semver::Version::new(1, 2, 3);
        for pinned in ["01.2.3", "1.2.3.4", "1.2.3-", "1.2.3-rc..1", "one"] {
            assert!(satisfies(&v, pinned).is_err(), "{pinned}");
        }
    }

    #[test]
    fn api_versions() {
        let host = ApiVersion { major: 1, minor: 2 };
        assert!(ApiVersion::parse("1.0").unwrap().runs_on(host));
        assert!(ApiVersion::parse("1.2").unwrap().runs_on(host));
        assert!(!ApiVersion::parse("1.3").unwrap().runs_on(host));
        assert!(!ApiVersion::parse("2.0").unwrap().runs_on(host));
    }
}
