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
//!
//! Products outside the workspace are pinned the same way: `floe pull
//! --update oci://…/<product>:<version>` keeps the data contracts a
//! published product carries in the store, and the lock names each by its
//! blake3, so that ports naming them by id (`urn:…`) resolve without the
//! network and a changed contract is a changed lock.

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
    /// Published products outside the workspace whose contracts its ports
    /// read by id, by their `oci://` reference.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub products: BTreeMap<String, ProductPin>,
}

/// One published product: the OCI manifest the reference named when it was
/// pinned, and the contracts it carries (`datacontract-<port>.yaml`) by the
/// blake3 of their bytes, as the store keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPin {
    pub digest: String,
    pub contracts: BTreeMap<String, String>,
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
    /// A lock that pins nothing yet.
    pub fn empty() -> Lock {
        Lock { version: LOCK_VERSION, platform: None, contracts: BTreeMap::new(), products: BTreeMap::new() }
    }

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
        let published = lock.platform.iter().map(|p| (&p.reference, &p.digest, [&p.resolved].to_vec()));
        let products = lock.products.iter().map(|(r, p)| (r, &p.digest, p.contracts.values().collect()));
        for (reference, digest, objects) in published.chain(products) {
            if !reference.starts_with("oci://") {
                return Err(format!("`{reference}` is not an `oci://` reference"));
            }
            let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !digest.strip_prefix("sha256:").is_some_and(hex) {
                return Err(format!("`{digest}` is not a `sha256:` digest"));
            }
            if let Some(bad) = objects.into_iter().find(|o| Hash::from_hex(o).is_none()) {
                return Err(format!("`{bad}` is not a blake3 hash"));
            }
        }
        Ok(lock)
    }

    /// The blake3 hash of the pinned resolved manifest, if a platform is pinned.
    pub fn resolved(&self) -> Option<Hash> {
        Some(Hash::from_hex(&self.platform.as_ref()?.resolved).expect("checked when decoded"))
    }

    /// Everything the lock pins in the store: what `floe store gc` keeps.
    pub fn objects(&self) -> Vec<Hash> {
        let contracts = self.products.values().flat_map(|p| p.contracts.values());
        let contracts = contracts.map(|h| Hash::from_hex(h).expect("checked when decoded"));
        self.resolved().into_iter().chain(contracts).collect()
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
            products: BTreeMap::from([(
                "oci://127.0.0.1:5000/floe/sales/orders:1.0.0".to_owned(),
                ProductPin {
                    digest: format!("sha256:{}", "cd".repeat(32)),
                    contracts: BTreeMap::from([("datacontract-orders.yaml".to_owned(), Hash::of(b"c").to_hex())]),
                },
            )]),
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
        let mut l = lock();
        l.products.values_mut().for_each(|p| p.contracts.values_mut().for_each(|h| *h = "c0ffee".into()));
        assert!(Lock::decode(&l.encode()).unwrap_err().contains("`c0ffee` is not a blake3 hash"));
        let mut l = lock();
        l.products = l.products.into_values().map(|p| ("https://x/y:1".to_owned(), p)).collect();
        assert!(Lock::decode(&l.encode()).unwrap_err().contains("not an `oci://` reference"));
    }

    #[test]
    fn the_objects_a_lock_pins_are_its_platform_and_its_products_contracts() {
        let l = lock();
        assert_eq!(l.objects(), [Hash::of(b"{}"), Hash::of(b"c")]);
        let contracts_only = Lock { platform: None, ..l };
        assert_eq!(contracts_only.objects(), [Hash::of(b"c")]);
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
