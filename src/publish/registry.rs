//! Publishing to a registry (`oci://host[:port]/repo[:tag]`) over the OCI
//! distribution API, through `oci-client` on a `tokio` runtime that lives
//! only here, in the driver.
//!
//! Each product goes to `<repo>/<package path>`, tagged with its version (or
//! the target's tag, a channel like `latest` that may move). Every tag is
//! looked up before anything is sent, so a version that would move is
//! refused with nothing uploaded. Then blobs the registry has are skipped,
//! the rest uploaded, several at once, and each manifest is pushed after its
//! blobs, unless the tag already names it. HTTPS, except for registries on
//! this machine (`localhost`, `127.0.0.1`, `[::1]`), which are spoken to in
//! plain HTTP as Docker does.

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::artifact::{Artifact, MANIFEST_TYPE, is_version};
use super::{Published, Refused};
use crate::cli::Failure;

/// Artifacts (and tag lookups) in flight at once, and blobs of each.
const CONCURRENT: usize = 8;
const BLOBS_AT_ONCE: usize = 4;

/// Where `oci://…` points.
pub struct Target {
    /// `host[:port]`.
    pub registry: String,
    /// The repository products go below.
    pub repository: String,
    /// A tag for every product instead of its version.
    pub tag: Option<String>,
}

impl Target {
    /// `host[:port]/repo[/more][:tag]`.
    pub fn parse(rest: &str) -> Option<Target> {
        let (registry, path) = rest.split_once('/')?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_owned())),
            _ => (path, None),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.split('/').all(|c| {
                    !c.is_empty()
                        && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                })
        };
        let tag_ok = tag.as_deref().is_none_or(|t| {
            !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
        (!registry.is_empty() && plain(repository) && tag_ok).then(|| Target {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
        })
    }

    fn reference(&self, a: &Artifact) -> Reference {
        let tag = self.tag.clone().unwrap_or_else(|| a.tag.clone());
        Reference::with_tag(self.registry.clone(), format!("{}/{}", self.repository, a.repository), tag)
    }

    /// Registries on this machine are spoken to in plain HTTP.
    fn local(&self) -> bool {
        let host = self.registry.rsplit_once(':').map_or(self.registry.as_str(), |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) { h } else { self.registry.as_str() }
        });
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }
}

fn infra(target: &Target, e: impl std::fmt::Display) -> Failure {
    Failure::Infra(floe_engine::IoError {
        op: "publish",
        path: format!("oci://{}/{}", target.registry, target.repository).into(),
        message: e.to_string(),
    })
}

/// Whether the registry says the manifest or repository does not exist.
pub fn absent(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown))
        }
        OciDistributionError::ServerError { code: 404, .. } | OciDistributionError::ImageManifestNotFoundError(_) => {
            true
        }
        _ => false,
    }
}

/// A client for `target`'s registry, the credentials to present, and a
/// runtime for one thread to drive it on.
pub fn connect(target: &Target) -> Result<(Client, RegistryAuth, tokio::runtime::Runtime), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| infra(target, format!("cannot start the network runtime: {e}")))?;
    Ok((client(target), auth(target)?, runtime))
}

/// The credentials floe presents to `target`'s registry.
pub fn auth(_target: &Target) -> Result<RegistryAuth, Failure> {
    Ok(RegistryAuth::Anonymous)
}

/// A client for `target`'s registry.
pub fn client(target: &Target) -> Client {
    // One process-wide TLS provider, for every HTTPS connection floe makes:
    // ring, since aws-lc-rs would need cmake and minutes of C to build (ring
    // has no post-quantum key exchange, hence the deprecation).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = match target.local() {
        true => ClientProtocol::HttpsExcept(vec![target.registry.clone()]),
        false => ClientProtocol::Https,
    };
    // One request per blob (POST, then PUT with the bytes) instead of three:
    // floe's blobs are small.
    Client::new(ClientConfig { protocol, use_monolithic_push: true, ..ClientConfig::default() })
}

/// Gives the manifest `target` names (with its tag) a second tag in the same
/// repository: the registry has its blobs already, so only the manifest is
/// sent, and not even that when the tag names it already. A version tag
/// that names another manifest is not moved.
pub fn promote(target: &Target, to: &str) -> Result<Published, Failure> {
    let (client, auth, runtime) = connect(target)?;
    let from = Reference::with_tag(
        target.registry.clone(),
        target.repository.clone(),
        target.tag.clone().unwrap_or_else(|| "latest".to_owned()),
    );
    let dest = Reference::with_tag(target.registry.clone(), target.repository.clone(), to.to_owned());
    runtime.block_on(async {
        let (bytes, digest) =
            client.pull_manifest_raw(&from, &auth, &[MANIFEST_TYPE]).await.map_err(|e| match absent(&e) {
                true => Failure::Usage(format!("{} does not exist", from.whole())),
                false => infra(target, e),
            })?;
        let mut p = Published {
            label: from.whole(),
            reference: dest.whole(),
            digest: digest.clone(),
            uploaded: 0,
            skipped: 0,
            bytes: 0,
        };
        match client.fetch_manifest_digest(&dest, &auth).await {
            Ok(d) if d == digest => {
                p.skipped = 1;
                return Ok(p);
            }
            Ok(d) if is_version(to) => {
                return Err(super::refusal(&[Refused { label: from.whole(), reference: dest.whole(), published: d }]));
            }
            Ok(_) => {}
            Err(e) if absent(&e) => {}
            Err(e) => return Err(infra(target, e)),
        }
        let content_type = MANIFEST_TYPE.parse().expect("a valid header value");
        client.push_manifest_raw(&dest, bytes.clone(), content_type).await.map_err(|e| infra(target, e))?;
        p.uploaded = 1;
        p.bytes = bytes.len() as u64;
        Ok(p)
    })
}

pub fn publish(target: &Target, artifacts: &[Artifact]) -> Result<Vec<Published>, Failure> {
    let (client, auth, runtime) = connect(target)?;
    runtime.block_on(async {
        client.store_auth_if_needed(&target.registry, &auth).await;
        // Every tag first: a version that would move stops the publish before any upload.
        let looked_up: Vec<Result<(Reference, Option<String>), Failure>> = futures_util::stream::iter(artifacts)
            .map(|a| {
                let (client, auth) = (&client, &auth);
                async move {
                    let reference = target.reference(a);
                    match client.fetch_manifest_digest(&reference, auth).await {
                        Ok(d) => Ok((reference, Some(d))),
                        Err(e) if absent(&e) => Ok((reference, None)),
                        Err(e) => Err(infra(target, e)),
                    }
                }
            })
            .buffered(CONCURRENT)
            .collect()
            .await;
        let mut current = Vec::with_capacity(artifacts.len());
        let mut refused = Vec::new();
        for (a, looked) in artifacts.iter().zip(looked_up) {
            let (reference, digest) = looked?;
            if let Some(d) = &digest
                && *d != a.manifest.descriptor.digest
                && is_version(reference.tag().unwrap_or_default())
            {
                refused.push(Refused { label: a.label.clone(), reference: reference.whole(), published: d.clone() });
            }
            current.push((reference, digest));
        }
        if !refused.is_empty() {
            return Err(super::refusal(&refused));
        }
        // Artifacts several at once (in order), each's blobs several at once,
        // each manifest after its own blobs.
        let out: Vec<Result<Published, Failure>> = futures_util::stream::iter(artifacts.iter().zip(current))
            .map(|(a, (reference, digest))| {
                let client = &client;
                async move {
                    let mut p = Published::new(a, reference.whole());
                    if digest.as_deref() == Some(a.manifest.descriptor.digest.as_str()) {
                        // Named already: so are its blobs.
                        p.skipped = a.layers.len() + 2;
                        return Ok(p);
                    }
                    let blobs: Vec<_> = a.layers.iter().chain([&a.config]).collect();
                    let sent: Vec<Result<Option<u64>, Failure>> = futures_util::stream::iter(blobs)
                        .map(|blob| {
                            let reference = &reference;
                            async move {
                                let digest = &blob.descriptor.digest;
                                if client.blob_exists(reference, digest).await.map_err(|e| infra(target, e))? {
                                    return Ok(None);
                                }
                                client
                                    .push_blob(reference, blob.bytes.clone(), digest)
                                    .await
                                    .map_err(|e| infra(target, e))?;
                                Ok(Some(blob.descriptor.size))
                            }
                        })
                        .buffer_unordered(BLOBS_AT_ONCE)
                        .collect()
                        .await;
                    for s in sent {
                        match s? {
                            Some(size) => {
                                p.uploaded += 1;
                                p.bytes += size;
                            }
                            None => p.skipped += 1,
                        }
                    }
                    let content_type = MANIFEST_TYPE.parse().expect("a valid header value");
                    client
                        .push_manifest_raw(&reference, a.manifest.bytes.clone(), content_type)
                        .await
                        .map_err(|e| infra(target, e))?;
                    p.uploaded += 1;
                    p.bytes += a.manifest.descriptor.size;
                    Ok(p)
                }
            })
            .buffered(CONCURRENT)
            .collect()
            .await;
        let out: Vec<Published> = out.into_iter().collect::<Result<_, _>>()?;
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_registries_repositories_and_tags() {
        let t = Target::parse("127.0.0.1:5000/floe/platform:latest").unwrap();
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_deref()),
            ("127.0.0.1:5000", "floe/platform", Some("latest"))
        );
        assert!(t.local());
        let t = Target::parse("registry.example.com/team/floe").unwrap();
        assert_eq!((t.repository.as_str(), t.tag.as_deref()), ("team/floe", None));
        assert!(!t.local());
        for bad in ["registry.example.com", "host/", "host/Upper", "host/a//b", "host/a:b/c:"] {
            assert!(Target::parse(bad).is_none(), "{bad}");
        }
    }
}
