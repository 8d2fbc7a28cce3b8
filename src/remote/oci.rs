//! A remote cache in a registry (`oci://HOST[:PORT]/REPO`): every derivation
//! is one manifest in REPO, tagged `floe-<key>`, whose config is its action
//! entry and whose layers are its outputs, in the order the entry names them.
//! Each package is also kept whole, tagged `floe-pkg-<hash of its keys>`:
//! one blob of all its entries and outputs (`bundle.rs`), which a package of
//! modest size also carries inside its manifest (the descriptor's `data`
//! field, OCI 1.1), so that a fresh checkout fetches a package in one
//! request; a build that asks for other keys (part of a package) reads
//! derivation by derivation. All packages a build is about to build are
//! asked for at once.
//!
//! blake3 inside, SHA-256 at the registry: each layer carries the blake3 of
//! its bytes in a `dev.floe.blake3` annotation, which is how an object the
//! engine asks for by blake3 is found once its entry has been read (and the
//! engine checks both the entry against its key and every object against
//! its blake3). Calls come from the build's worker threads; they share one
//! multi-threaded runtime. Credentials, TLS and retries are the registry
//! module's, as for `floe publish`; a request that still fails is a warning
//! of the build, which then builds here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use floe_engine::Hash;
use floe_engine::remote::{Bundled, RemoteError, RemoteStore};
use floe_engine::store::ActionEntry;
use futures_util::{FutureExt, StreamExt};
use oci_client::Reference;
use serde::{Deserialize, Serialize};

use crate::cli::Failure;
use crate::publish::registry::{self, Access, Connection, Failed, Target};

mod bundle;

const ANNOTATION: &str = "dev.floe.blake3";
const ENTRY_TYPE: &str = "application/vnd.floe.action.v1+json";
const CACHE_TYPE: &str = "application/vnd.floe.derivation.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// A package's derivations together: the keys as config, one blob of them all.
const PACKAGE_TYPE: &str = "application/vnd.floe.package.v1+json";
const PACKAGE_KEYS_TYPE: &str = "application/vnd.floe.package-keys.v1+json";
const BUNDLE_TYPE: &str = "application/vnd.floe.bundle.v1";

pub struct OciRemote {
    cache: Arc<Cache>,
    runtime: tokio::runtime::Runtime,
    /// Packages `prefetch` is fetching in the background, by each of their
    /// keys: a lookup of one waits for it.
    inflight: Mutex<BTreeMap<Hash, Pending>>,
    /// At most [`IN_FLIGHT`] of them at once.
    limit: Arc<tokio::sync::Semaphore>,
}

type Pending = futures_util::future::Shared<futures_util::future::BoxFuture<'static, ()>>;

/// The registry side, shared with the background fetches.
struct Cache {
    target: Target,
    conn: Connection,
    /// Where each object the entries read so far keep is: blake3 to (digest, size).
    objects: Mutex<BTreeMap<Hash, (String, u64)>>,
    /// What `prefetch` fetched: entries by key (handed over once, then
    /// dropped), objects by blake3 (kept: packages built at once may share
    /// an output, and the second to ask must find it too).
    entries: Mutex<BTreeMap<Hash, Vec<u8>>>,
    fetched: Mutex<BTreeMap<Hash, Vec<u8>>>,
}

/// A package bundle up to this size travels inside its manifest too (as
/// base64, well below the manifest sizes registries accept).
const EMBED_MAX: usize = 512 * 1024;

/// Packages fetched at once, and derivations of each when it was not kept whole.
const IN_FLIGHT: usize = 16;
const BLOBS_AT_ONCE: usize = 4;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: String,
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    /// The content itself, base64: what it describes, embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

impl Descriptor {
    /// The embedded content, if there is any and it is what the descriptor
    /// says (size and digest); otherwise it is fetched.
    fn embedded(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(self.data.as_ref()?).ok()?;
        (bytes.len() as u64 == self.size && crate::publish::sha256(&bytes) == self.digest).then_some(bytes)
    }
}

/// Any reference in the cache's repository: blobs are addressed by digest.
fn repository(target: &Target) -> Reference {
    Reference::with_tag(target.registry.clone(), target.repository.clone(), "latest".to_owned())
}

fn failed(e: impl std::fmt::Display) -> RemoteError {
    RemoteError(e.to_string())
}

impl OciRemote {
    pub fn new(target: Target, access: &Access) -> Result<OciRemote, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failure::Usage(format!("cannot start the network runtime: {e}")))?;
        let mut conn = Connection::new(&target, access)?;
        runtime.block_on(conn.client.store_auth_if_needed(&target.registry, &conn.auth));
        // Everything is in one repository: asked about once, then seeded.
        runtime.block_on(conn.ask_once(&target, access, &repository(&target)))?;
        let cache = Cache {
            target,
            conn,
            objects: Mutex::new(BTreeMap::new()),
            entries: Mutex::new(BTreeMap::new()),
            fetched: Mutex::new(BTreeMap::new()),
        };
        Ok(OciRemote {
            cache: Arc::new(cache),
            runtime,
            inflight: Mutex::new(BTreeMap::new()),
            limit: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
        })
    }

    /// Waits for the background fetch of the package `key` is in, if any.
    fn settled(&self, key: Hash) {
        let pending = lock(&self.inflight).remove(&key);
        if let Some(pending) = pending {
            self.runtime.block_on(pending);
        }
    }
}

impl Cache {
    fn reference(&self, key: Hash) -> Reference {
        self.tagged(format!("floe-{}", key.to_hex()))
    }

    fn tagged(&self, tag: String) -> Reference {
        Reference::with_tag(self.target.registry.clone(), self.target.repository.clone(), tag)
    }

    fn repository(&self) -> Reference {
        repository(&self.target)
    }

    /// A request that failed for good, as the build's warning says it.
    fn failed(&self, f: Failed) -> RemoteError {
        RemoteError(self.conn.describe(&f))
    }

    async fn blob(&self, digest: &str) -> Result<Vec<u8>, RemoteError> {
        let repository = self.repository();
        let client = &self.conn.client;
        let subject = format!("{}/{}@{digest}", repository.registry(), repository.repository());
        // Each attempt into a fresh buffer: a cut-off one leaves nothing behind.
        let fetch = || async {
            let mut out = Vec::new();
            client.pull_blob(&repository, digest, &mut out).await.map(|()| out)
        };
        self.conn.run("fetch blob", &subject, fetch).await.map_err(|f| self.failed(f))
    }

    async fn push(&self, bytes: &[u8]) -> Result<(String, u64), RemoteError> {
        let digest = crate::publish::sha256(bytes);
        let repository = self.repository();
        let (conn, client) = (&self.conn, &self.conn.client);
        let subject = format!("{}/{}@{digest}", repository.registry(), repository.repository());
        let exists = conn.run("check for blob", &subject, || client.blob_exists(&repository, &digest));
        if !exists.await.map_err(|f| self.failed(f))? {
            conn.run("upload blob", &subject, || client.push_blob(&repository, bytes.to_vec(), &digest))
                .await
                .map_err(|f| self.failed(f))?;
        }
        Ok((digest, bytes.len() as u64))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, BTreeMap<Hash, (String, u64)>> {
        lock(&self.objects)
    }

    /// The manifest `reference` names, if the registry has it.
    async fn pull_manifest(&self, reference: &Reference) -> Result<Option<Manifest>, RemoteError> {
        let (client, auth) = (&self.conn.client, &self.conn.auth);
        let pulled = self
            .conn
            .run("fetch the manifest", reference, || client.pull_manifest_raw(reference, auth, &[MANIFEST_TYPE]));
        let (bytes, _) = match pulled.await {
            Ok(found) => found,
            Err(f) if f.absent() => return Ok(None),
            Err(f) => return Err(self.failed(f)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| failed(format!("{reference}: {e}")))
    }

    /// The manifest of derivation `key`, if the registry has one; its
    /// layers' places are remembered.
    async fn manifest(&self, key: Hash) -> Result<Option<Manifest>, RemoteError> {
        let Some(manifest) = self.pull_manifest(&self.reference(key)).await? else { return Ok(None) };
        let mut known = self.known();
        for layer in &manifest.layers {
            if let Some(h) = blake3_of(layer) {
                known.insert(h, (layer.digest.clone(), layer.size));
            }
        }
        Ok(Some(manifest))
    }

    /// A package offered whole ([`RemoteStore::put_package`]) under exactly
    /// these keys: its manifest, and its one blob (carried inside when
    /// small), whose entries and objects wait for the lookups (which verify
    /// them). Whether it was there.
    async fn fetch_package(&self, keys: &[Hash]) -> Result<bool, RemoteError> {
        let reference = self.tagged(bundle::tag(keys));
        let Some(manifest) = self.pull_manifest(&reference).await? else { return Ok(false) };
        let [layer] = manifest.layers.as_slice() else {
            return Err(failed(format!("{reference}: a package holds one layer")));
        };
        let body = match layer.embedded() {
            Some(body) => body,
            None => self.blob(&layer.digest).await?,
        };
        let decoded =
            bundle::decode(&body).ok_or_else(|| failed(format!("{reference}: the package does not decode")))?;
        let (mut entries, mut fetched) = (lock(&self.entries), lock(&self.fetched));
        for (key, entry, objects) in decoded {
            entries.insert(key, entry);
            fetched.extend(objects);
        }
        Ok(true)
    }

    /// One package's derivations: the package whole, in two requests, when
    /// it was offered whole; else derivation by derivation.
    async fn fetch_whole(&self, keys: &[Hash]) {
        if let Ok(true) = self.fetch_package(keys).await {
            return;
        }
        futures_util::stream::iter(keys.to_vec())
            .map(|key| self.fetch_all(key))
            .buffer_unordered(BLOBS_AT_ONCE)
            .for_each(|_| async {})
            .await
    }

    /// One derivation, whole: its manifest, then its entry and outputs at once.
    async fn fetch_all(&self, key: Hash) -> Result<(), RemoteError> {
        let Some(manifest) = self.manifest(key).await? else { return Ok(()) };
        let layers: Vec<&Descriptor> = manifest.layers.iter().collect();
        let (entry, blobs) = futures_util::join!(
            self.blob(&manifest.config.digest),
            futures_util::future::join_all(layers.iter().map(|l| self.blob(&l.digest)))
        );
        lock(&self.entries).insert(key, entry?);
        let mut fetched = lock(&self.fetched);
        for (layer, bytes) in layers.into_iter().zip(blobs) {
            if let (Some(h), Ok(bytes)) = (blake3_of(layer), bytes) {
                fetched.insert(h, bytes);
            }
        }
        Ok(())
    }
}

/// A prefetched object, served to every lookup that asks for it.
fn served(fetched: &Mutex<BTreeMap<Hash, Vec<u8>>>, hash: Hash) -> Option<Vec<u8>> {
    lock(fetched).get(&hash).cloned()
}

fn blake3_of(layer: &Descriptor) -> Option<Hash> {
    layer.annotations.get(ANNOTATION).and_then(|h| h.strip_prefix("blake3:")).and_then(Hash::from_hex)
}

impl RemoteStore for OciRemote {
    fn describe(&self) -> String {
        format!("oci://{}/{}", self.cache.target.registry, self.cache.target.repository)
    }

    fn get_action(&self, key: Hash) -> Result<Option<Vec<u8>>, RemoteError> {
        self.settled(key);
        if let Some(entry) = lock(&self.cache.entries).remove(&key) {
            return Ok(Some(entry));
        }
        self.runtime.block_on(async {
            let Some(manifest) = self.cache.manifest(key).await? else { return Ok(None) };
            self.cache.blob(&manifest.config.digest).await.map(Some)
        })
    }

    fn get_object(&self, hash: Hash) -> Result<Option<Vec<u8>>, RemoteError> {
        if let Some(bytes) = served(&self.cache.fetched, hash) {
            return Ok(Some(bytes));
        }
        let Some((digest, _)) = self.cache.known().get(&hash).cloned() else { return Ok(None) };
        self.runtime.block_on(self.cache.blob(&digest)).map(Some)
    }

    fn prefetches(&self) -> bool {
        true
    }

    fn prefetch(&self, keys: &[Hash]) {
        // In the background, a few packages at once; failures are left for
        // the lookups that follow to meet and report.
        let (cache, limit, keys_owned) = (self.cache.clone(), self.limit.clone(), keys.to_vec());
        let task = self.runtime.spawn(async move {
            let _permit = limit.acquire_owned().await;
            cache.fetch_whole(&keys_owned).await;
        });
        let pending: Pending = task.map(|_| ()).boxed().shared();
        let mut inflight = lock(&self.inflight);
        for key in keys {
            inflight.insert(*key, pending.clone());
        }
    }

    fn put_package(&self, derivations: &[Bundled<'_>]) -> Result<(), RemoteError> {
        let keys: Vec<Hash> = derivations.iter().map(|d| d.key).collect();
        let reference = self.cache.tagged(bundle::tag(&keys));
        let (conn, client, auth) = (&self.cache.conn, &self.cache.conn.client, &self.cache.conn.auth);
        self.runtime.block_on(async {
            match conn.run("look up", &reference, || client.fetch_manifest_digest(&reference, auth)).await {
                Ok(_) => return Ok(()),
                Err(f) if f.absent() => {}
                Err(f) => return Err(self.cache.failed(f)),
            }
            let body = bundle::encode(derivations);
            let keys_json = serde_json::to_vec(&keys.iter().map(|k| k.to_hex()).collect::<Vec<_>>()).map_err(failed)?;
            let ((digest, size), (config, config_size)) =
                futures_util::try_join!(self.cache.push(&body), self.cache.push(&keys_json))?;
            let manifest = Manifest {
                schema_version: 2,
                media_type: MANIFEST_TYPE.to_owned(),
                artifact_type: PACKAGE_TYPE.to_owned(),
                config: Descriptor {
                    media_type: PACKAGE_KEYS_TYPE.to_owned(),
                    digest: config,
                    size: config_size,
                    annotations: BTreeMap::new(),
                    data: None,
                },
                layers: vec![Descriptor {
                    media_type: BUNDLE_TYPE.to_owned(),
                    digest,
                    size,
                    annotations: BTreeMap::new(),
                    data: (body.len() <= EMBED_MAX).then(|| {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.encode(&body)
                    }),
                }],
            };
            let body = serde_json::to_vec(&manifest).map_err(failed)?;
            conn.run("push the manifest", &reference, || {
                client.push_manifest_raw(&reference, body.clone(), registry::manifest_type())
            })
            .await
            .map_err(|f| self.cache.failed(f))?;
            Ok(())
        })
    }

    fn put_object(&self, hash: Hash, bytes: &[u8]) -> Result<(), RemoteError> {
        let at = self.runtime.block_on(self.cache.push(bytes))?;
        self.cache.known().insert(hash, at);
        Ok(())
    }

    fn put_action(&self, key: Hash, bytes: &[u8]) -> Result<(), RemoteError> {
        let entry: ActionEntry = serde_json::from_slice(bytes).map_err(failed)?;
        let mut layers = Vec::with_capacity(entry.drv.outputs.len());
        for name in &entry.drv.outputs {
            let hash = entry.outputs[name];
            let (digest, size) = self
                .cache
                .known()
                .get(&hash)
                .cloned()
                .ok_or_else(|| failed(format!("output `{name}` was not uploaded")))?;
            let annotations = BTreeMap::from([
                (ANNOTATION.to_owned(), hash.to_string()),
                ("org.opencontainers.image.title".to_owned(), name.clone()),
            ]);
            layers.push(Descriptor {
                media_type: crate::publish::media_type(name).to_owned(),
                digest,
                size,
                annotations,
                data: None,
            });
        }
        self.runtime.block_on(async {
            let (digest, size) = self.cache.push(bytes).await?;
            let manifest = Manifest {
                schema_version: 2,
                media_type: MANIFEST_TYPE.to_owned(),
                artifact_type: CACHE_TYPE.to_owned(),
                config: Descriptor {
                    media_type: ENTRY_TYPE.to_owned(),
                    digest,
                    size,
                    annotations: BTreeMap::new(),
                    data: None,
                },
                layers,
            };
            let body = serde_json::to_vec(&manifest).map_err(failed)?;
            let reference = self.cache.reference(key);
            let client = &self.cache.conn.client;
            self.cache
                .conn
                .run("push the manifest", &reference, || {
                    client.push_manifest_raw(&reference, body.clone(), registry::manifest_type())
                })
                .await
                .map_err(|f| self.cache.failed(f))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_content_is_used_only_when_it_is_what_the_descriptor_says() {
        use base64::Engine as _;
        let bytes = b"floe.bundle.v1\n".to_vec();
        let encode = |b: &[u8]| Some(base64::engine::general_purpose::STANDARD.encode(b));
        let mut d = Descriptor {
            media_type: BUNDLE_TYPE.to_owned(),
            digest: crate::publish::sha256(&bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
            data: encode(&bytes),
        };
        assert_eq!(d.embedded(), Some(bytes.clone()));
        // Other bytes, bytes of another size, not base64, or none: fetched instead.
        d.data = encode(b"floe.bundle.v1\r");
        assert_eq!(d.embedded(), None);
        d.size += 1;
        d.data = encode(&bytes);
        assert_eq!(d.embedded(), None);
        d.size -= 1;
        d.data = Some("not base64!".to_owned());
        assert_eq!(d.embedded(), None);
        d.data = None;
        assert_eq!(d.embedded(), None);
    }

    #[test]
    fn an_object_two_derivations_share_is_served_to_both() {
        // Two packages built at once, each with an output of these bytes:
        // both prefetch it, and both must find it when they look it up.
        let fetched = Mutex::new(BTreeMap::new());
        let h = Hash::of(b"dbt-core\n");
        lock(&fetched).insert(h, b"dbt-core\n".to_vec());
        lock(&fetched).insert(h, b"dbt-core\n".to_vec());
        assert_eq!(served(&fetched, h).as_deref(), Some(&b"dbt-core\n"[..]));
        assert_eq!(served(&fetched, h).as_deref(), Some(&b"dbt-core\n"[..]));
    }
}
