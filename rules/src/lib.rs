//! Build rules: pure functions from resolved inputs to outputs.
//!
//! A rule sees values, never files: the engine hands it parsed, normalized,
//! resolved inputs and stores what it returns. Each rule has an id and a version
//! that enter every derivation key it produces; changing what a rule writes
//! means bumping its version, so stale cache entries can never be served.
//!
//! **Architecture Invariant:** rules know nothing about the store, salsa, the
//! file system, dbt's CLI or Helm's; they cannot fail except with diagnostics.

pub mod artifacts;
pub mod classify;
pub mod contracts;
pub mod dbt;
pub mod emit;
pub mod enforce;
pub mod expr;
pub mod glob;
pub mod helm;
pub mod jobs;
pub mod k8s;
pub mod lineage;
pub mod naming;
pub mod orchestration;
pub mod plugins;
pub mod product;
pub mod profile;
pub mod report;
pub mod resolve;
pub mod scan;
pub mod secrets;

/// Versions of the rules, part of every derivation key they produce: bump a
/// rule's version whenever it writes something else for the same input, and
/// only that rule's outputs are built again. floe's own version is in no key.
pub mod versions {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Versions {
        pub compiled_artifacts: u32,
        pub dbt_profile: u32,
        pub enforcement: u32,
        pub resolved_manifest: u32,
        pub orchestration: u32,
        pub platform_helm_values: u32,
        pub jobs_helm_values: u32,
        pub k8s: u32,
        pub k8s_namespaces: u32,
        pub gitops: u32,
        pub contracts: u32,
        pub lineage: u32,
    }

    /// The versions of the rules this floe has.
    pub const CURRENT: Versions = Versions {
        compiled_artifacts: 2,
        dbt_profile: 2,
        enforcement: 1,
        resolved_manifest: 2,
        orchestration: 1,
        platform_helm_values: 1,
        jobs_helm_values: 2,
        k8s: 2,
        k8s_namespaces: 1,
        gitops: 1,
        contracts: 1,
        lineage: 1,
    };

    impl Default for Versions {
        fn default() -> Versions {
            CURRENT
        }
    }
}

/// RFC 3339 UTC time for seconds since the Unix epoch, without a clock.
pub fn rfc3339(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
