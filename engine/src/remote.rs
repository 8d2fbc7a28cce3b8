//! Stores elsewhere, as the engine sees them: a read side (an action entry by
//! its key, an object by its hash) and a write side (off unless asked for),
//! which the driver implements over whatever it reaches. No network here.
//!
//! Nothing fetched is trusted: an entry must hold for the key it was asked
//! for and each object must hash to its name, before either is used or
//! stored locally. A remote that fails never fails a build that can build
//! here: the derivation is built, the failure reported once as a warning
//! (never recorded in the store, so the next build asks again), and the
//! remote not asked again in that build.

use std::fmt;
use std::sync::Arc;

use crate::hash::Hash;
use crate::store::ActionEntry;

/// Why a remote could not answer (unreachable, refused, broken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError(pub String);

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A store elsewhere. Bytes go both ways unverified: the engine checks them.
pub trait RemoteStore: Send + Sync {
    /// Where it is, for messages (never with a credential in it).
    fn describe(&self) -> String;
    /// The action entry stored under `key`, as stored.
    fn get_action(&self, key: Hash) -> Result<Option<Vec<u8>>, RemoteError>;
    /// The object stored under `hash`.
    fn get_object(&self, hash: Hash) -> Result<Option<Vec<u8>>, RemoteError>;
    /// Stores an object under its hash (a no-op when it is there already).
    fn put_object(&self, hash: Hash, bytes: &[u8]) -> Result<(), RemoteError>;
    /// Stores an action entry under its key, after its objects.
    fn put_action(&self, key: Hash, bytes: &[u8]) -> Result<(), RemoteError>;
    /// Says which derivations of one package are about to be looked up
    /// (those whose entries the local store lacks), so that a remote far
    /// away can ask for them together. It may fetch them in the background
    /// and return at once (the build says so for every package before it
    /// builds any); a lookup of one of them then waits for that fetch.
    /// Nothing is expected of it.
    fn prefetch(&self, _keys: &[Hash]) {}
    /// Whether it does anything with [`RemoteStore::prefetch`]: the build
    /// evaluates every package once more to say it, only for a remote
    /// that gains from it.
    fn prefetches(&self) -> bool {
        false
    }
    /// Offers every derivation of one package at once (each with its entry
    /// and its outputs, all uploaded already), so that a remote far away can
    /// keep them together and serve a later [`RemoteStore::prefetch`] of the
    /// same keys in one request. Nothing is expected of it.
    fn put_package(&self, _derivations: &[Bundled<'_>]) -> Result<(), RemoteError> {
        Ok(())
    }
}

/// One derivation offered with its package: its key, its entry as stored,
/// and its outputs by hash.
pub struct Bundled<'a> {
    pub key: Hash,
    pub entry: Vec<u8>,
    pub objects: Vec<(Hash, &'a [u8])>,
}

/// A remote store a build uses, and whether it may write to it.
#[derive(Clone)]
pub struct Remote {
    pub store: Arc<dyn RemoteStore>,
    pub write: bool,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Remote({}, write: {})", self.store.describe(), self.write)
    }
}

/// What looking a derivation up found.
pub enum Fetched {
    /// Its entry and its outputs' bytes, in the order of `names`, all verified.
    Hit(ActionEntry, Vec<Vec<u8>>),
    Miss,
    /// The remote failed, or answered with something that does not verify.
    Failed(String),
}

/// Looks up the derivation `key`, whose outputs are `names`.
pub fn fetch(remote: &dyn RemoteStore, key: Hash, names: &[String]) -> Fetched {
    let bytes = match remote.get_action(key) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Fetched::Miss,
        Err(e) => return Fetched::Failed(e.0),
    };
    let entry = match serde_json::from_slice::<ActionEntry>(&bytes) {
        Ok(e) if e.holds_for(key) && e.drv.outputs == names => e,
        _ => return Fetched::Failed(format!("its entry for {key} is not that derivation's")),
    };
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let hash = entry.outputs[name];
        match remote.get_object(hash) {
            Ok(Some(bytes)) if Hash::of(&bytes) == hash => files.push(bytes),
            Ok(Some(_)) => return Fetched::Failed(format!("its object {hash} does not hash to its name")),
            // An entry whose outputs are gone is no hit.
            Ok(None) => return Fetched::Miss,
            Err(e) => return Fetched::Failed(e.0),
        }
    }
    Fetched::Hit(entry, files)
}

/// Uploads a derivation built here: its outputs, then its entry (so that a
/// reader never finds an entry whose objects are not there yet).
pub fn upload(remote: &dyn RemoteStore, entry: &ActionEntry, files: &[&[u8]]) -> Result<(), RemoteError> {
    for (name, bytes) in entry.drv.outputs.iter().zip(files) {
        remote.put_object(entry.outputs[name], bytes)?;
    }
    let bytes = serde_json::to_vec(entry).expect("action entries serialize");
    remote.put_action(entry.key(), &bytes)
}
