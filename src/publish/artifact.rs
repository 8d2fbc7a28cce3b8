//! A product as an OCI artifact: its derivation records as the config, one
//! layer per output file with a media type of its own, and annotations that
//! say what it is. Pure: the same outputs give the same bytes, so the same
//! manifest digest, on any machine and in any directory.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub const ARTIFACT_TYPE: &str = "application/vnd.floe.product.v1+json";
/// A resolved enterprise or domain manifest, with the Helm values it gives the platform chart.
pub const PLATFORM_TYPE: &str = "application/vnd.floe.platform.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.floe.drv.v1+json";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// The annotation an OCI image layout names a manifest by.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Bytes with the descriptor that points at them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub descriptor: Descriptor,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>, annotations: BTreeMap<String, String>) -> Blob {
        let digest = sha256(&bytes);
        Blob::with_digest(media_type, bytes, digest, annotations)
    }

    /// A blob whose SHA-256 is known already (`digest` must be the bytes').
    pub fn with_digest(
        media_type: &str,
        bytes: Vec<u8>,
        digest: String,
        annotations: BTreeMap<String, String>,
    ) -> Blob {
        let descriptor = Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size: bytes.len() as u64,
            artifact_type: None,
            annotations,
        };
        Blob { descriptor, bytes }
    }
}

/// `sha256:<hex>`: digests at the registry boundary are SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// One product, ready to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// `//sales/orders`.
    pub label: String,
    /// `sales/orders`: where it goes below the target's repository.
    pub repository: String,
    /// The product's version: a semver tag, never moved once published.
    pub tag: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    /// The manifest itself.
    pub manifest: Blob,
}

/// The media type of an output file, by its name.
pub fn media_type(name: &str) -> &'static str {
    let file = name.rsplit('/').next().unwrap_or(name);
    match file {
        "compiled_artifacts.json" => "application/vnd.floe.compiled-artifacts.v1+json",
        "profiles.yml" => "application/vnd.floe.dbt-profiles.v1+yaml",
        "enforcement.json" => "application/vnd.floe.enforcement.v1+json",
        "enforcement.sarif" => "application/sarif+json",
        "manifest.resolved.json" => "application/vnd.floe.resolved-manifest.v1+json",
        "floe-platform.values.yaml" => "application/vnd.floe.helm-values.v1+yaml",
        _ => match file.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => "text/html",
            Some("py") => "text/x-python",
            Some("yaml" | "yml") => "application/yaml",
            Some("json") => "application/json",
            Some("txt") => "text/plain",
            _ => "application/octet-stream",
        },
    }
}

/// The artifact of the package `label` (at `repository`, version `tag`), of
/// type `artifact_type`: its `floe.drv.json` as the config, every other
/// output a layer, in name order. `created` is the compile time its outputs
/// carry (`SOURCE_DATE_EPOCH`); `digests`, the SHA-256 of the files whose
/// digest is known already (the others are computed).
pub fn package(
    artifact_type: &str,
    label: &str,
    repository: &str,
    tag: &str,
    created: &str,
    files: &BTreeMap<String, Vec<u8>>,
    digests: &BTreeMap<String, String>,
) -> Artifact {
    let config =
        Blob::new(CONFIG_TYPE, files.get(floe_engine::build::DRV_FILE).cloned().unwrap_or_default(), BTreeMap::new());
    let layers: Vec<Blob> = files
        .iter()
        .filter(|(name, _)| name.as_str() != floe_engine::build::DRV_FILE)
        .map(|(name, bytes)| {
            let title = BTreeMap::from([("org.opencontainers.image.title".to_owned(), name.clone())]);
            match digests.get(name) {
                Some(d) => Blob::with_digest(media_type(name), bytes.clone(), d.clone(), title),
                None => Blob::new(media_type(name), bytes.clone(), title),
            }
        })
        .collect();
    let annotations = BTreeMap::from([
        ("dev.floe.label".to_owned(), label.to_owned()),
        ("org.opencontainers.image.created".to_owned(), created.to_owned()),
        ("org.opencontainers.image.title".to_owned(), repository.rsplit('/').next().unwrap_or(repository).to_owned()),
        ("org.opencontainers.image.version".to_owned(), tag.to_owned()),
    ]);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest<'a> {
        schema_version: u32,
        media_type: &'a str,
        artifact_type: &'a str,
        config: &'a Descriptor,
        layers: Vec<&'a Descriptor>,
        annotations: &'a BTreeMap<String, String>,
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_TYPE,
        artifact_type,
        config: &config.descriptor,
        layers: layers.iter().map(|l| &l.descriptor).collect(),
        annotations: &annotations,
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    let mut manifest = Blob::new(MANIFEST_TYPE, bytes, BTreeMap::new());
    manifest.descriptor.artifact_type = Some(artifact_type.to_owned());
    Artifact {
        label: label.to_owned(),
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        config,
        layers,
        manifest,
    }
}

/// Whether a tag is a version (immutable once published) rather than a
/// channel (`latest`, `dev`) that may move.
pub fn is_version(tag: &str) -> bool {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_registrys_digest() {
        // The SHA-256 of the empty string, as every registry knows it.
        assert_eq!(sha256(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn the_same_outputs_give_the_same_manifest() {
        let files: BTreeMap<String, Vec<u8>> = [
            ("floe.drv.json", &b"{}"[..]),
            ("profiles.yml", b"p: 1\n"),
            ("compiled_artifacts.json", b"{\"a\":1}"),
            ("dags/orders.py", b"print()"),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_owned(), b.to_vec()))
        .collect();
        let none = BTreeMap::new();
        let a =
            package(ARTIFACT_TYPE, "//sales/orders", "sales/orders", "1.0.0", "1970-01-01T00:00:00Z", &files, &none);
        let b =
            package(ARTIFACT_TYPE, "//sales/orders", "sales/orders", "1.0.0", "1970-01-01T00:00:00Z", &files, &none);
        assert_eq!(a, b);
        let types: Vec<&str> = a.layers.iter().map(|l| l.descriptor.media_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "application/vnd.floe.compiled-artifacts.v1+json",
                "text/x-python",
                "application/vnd.floe.dbt-profiles.v1+yaml"
            ]
        );
        assert_eq!(a.config.bytes, b"{}");
        let manifest: serde_json::Value = serde_json::from_slice(&a.manifest.bytes).unwrap();
        assert_eq!(manifest["artifactType"], ARTIFACT_TYPE);
        assert_eq!(manifest["layers"][1]["annotations"]["org.opencontainers.image.title"], "dags/orders.py");
        let mut other = files.clone();
        other.insert("profiles.yml".into(), b"p: 2\n".to_vec());
        let c =
            package(ARTIFACT_TYPE, "//sales/orders", "sales/orders", "1.0.0", "1970-01-01T00:00:00Z", &other, &none);
        assert_ne!(c.manifest.descriptor.digest, a.manifest.descriptor.digest);
        assert_eq!(c.layers[0], a.layers[0], "an unchanged file is the same blob");
    }

    #[test]
    fn versions_are_semver_and_channels_are_not() {
        assert!(is_version("1.2.3") && is_version("v1.2.3") && is_version("2.0.0-rc.1"));
        assert!(!is_version("latest") && !is_version("dev") && !is_version("1.2"));
    }
}
