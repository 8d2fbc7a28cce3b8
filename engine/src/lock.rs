//! `floe.lock`: the published platform a workspace builds against, pinned
//! by digest, and the data contracts its products offer, pinned as the
//! baseline their next change is judged against (see
//! `floe_rules::contracts::evolution`).
//!
//! A workspace whose root has no `manifest.yaml` of its own takes its
//! platform from the lock: `floe init --platform` and `floe pull` fetch the
//! artifact, verify it and keep its resolved manifest in the store; a build
//! reads the lock and the store, never the network. The lock pins both
//! digests: the registry's (SHA-256 of the OCI manifest, what a pull checks
//! the registry against) and floe's (blake3 of the resolved manifest, what
//! the store serves), so its bytes decide everything a build reads of the
//! platform.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Hash;

/// The lock's file name, at the workspace root.
pub const LOCK: &str = "floe.lock";

/// The lock format this floe writes and reads.
pub const LOCK_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// The published platform, for a workspace without a root manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Pin>,
    /// Output ports by label (`//sales/orders:orders`), as `floe lock
    /// --contracts` pinned them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contracts: BTreeMap<String, PinnedContract>,
}

/// An output port as it was pinned: the product's version then, and the
/// port as `floe.yaml` declared it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedContract {
    pub version: String,
    pub port: floe_schemas::spec::OutputPort,
}

/// One published platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// `oci://host[:port]/repo:tag`, as it was asked for.
    pub reference: String,
    /// `sha256:<hex>`: the OCI manifest the reference named when it was pinned.
    pub digest: String,
    /// blake3 of the artifact's `manifest.resolved.json`, as the store keeps it.
    pub resolved: String,
    /// The public key (a path from the workspace root) whose signature the
    /// platform must carry: set, the workspace requires signed platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Lock {
    /// The lock's one spelling: pretty JSON with a final newline, so that it
    /// diffs well in review.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("locks serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a lock; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Lock, String> {
        let lock: Lock = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if lock.version != LOCK_VERSION {
            return Err(format!("lock version {} is not one this floe reads (it reads {LOCK_VERSION})", lock.version));
        }
        let Some(p) = &lock.platform else { return Ok(lock) };
        if !p.reference.starts_with("oci://") {
            return Err(format!("`{}` is not an `oci://` reference", p.reference));
        }
        let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !p.digest.strip_prefix("sha256:").is_some_and(hex) {
            return Err(format!("`{}` is not a `sha256:` digest", p.digest));
        }
        if Hash::from_hex(&p.resolved).is_none() {
            return Err(format!("`{}` is not a blake3 hash", p.resolved));
        }
        Ok(lock)
    }

    /// The blake3 hash of the pinned resolved manifest, if a platform is pinned.
    pub fn resolved(&self) -> Option<Hash> {
        Some(Hash::from_hex(&self.platform.as_ref()?.resolved).expect("checked when decoded"))
    }
}

/// Whether `reference` names the pinned platform: the same address, with or
/// without the pinned digest after it (`oci://h/r:1.0.0@sha256:…`).
pub fn names(pin: &Pin, reference: &str) -> bool {
    match reference.split_once('@') {
        Some((r, digest)) => r == pin.reference && digest == pin.digest,
        None => reference == pin.reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> Lock {
        Lock {
            version: LOCK_VERSION,
            platform: Some(Pin {
                reference: "oci://127.0.0.1:5000/floe/platform:1.2.3".into(),
                digest: format!("sha256:{}", "ab".repeat(32)),
                resolved: Hash::of(b"{}").to_hex(),
                key: None,
            }),
            contracts: BTreeMap::new(),
        }
    }

    #[test]
    fn a_lock_decodes_to_what_was_encoded() {
        let l = lock();
        assert_eq!(Lock::decode(&l.encode()).unwrap(), l);
        assert!(String::from_utf8(l.encode()).unwrap().ends_with("}\n"));
    }

    #[test]
    fn a_lock_that_pins_nothing_checkable_is_refused() {
        let mut l = lock();
        l.platform.as_mut().unwrap().digest = "sha256:nothex".into();
        assert!(Lock::decode(&l.encode()).unwrap_err().contains("sha256"));
        let mut l = lock();
        l.version = 2;
        assert!(Lock::decode(&l.encode()).unwrap_err().contains("version 2"));
        assert!(Lock::decode(b"{\"version\":2}").is_err());
        assert!(Lock::decode(b"{\"version\":1,\"platform\":{}}").is_err());
    }

    #[test]
    fn a_reference_names_the_pin_with_or_without_its_digest() {
        let l = lock();
        let p = l.platform.as_ref().unwrap();
        assert!(names(p, &p.reference));
        assert!(names(p, &format!("{}@{}", p.reference, p.digest)));
        assert!(!names(p, &format!("{}@sha256:{}", p.reference, "cd".repeat(32))));
        assert!(!names(p, "oci://127.0.0.1:5000/floe/platform:1.2.4"));
    }
}
