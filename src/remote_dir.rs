//! A remote cache in a directory (a network file system, a mounted bucket, a
//! CI cache): the driver's implementation of the engine's `RemoteStore`.
//!
//! ```text
//! <dir>/ac/<key>            action entries, by derivation key
//! <dir>/cas/<ab>/<hash>     objects, by blake3, fanned out by their first byte
//! ```
//!
//! Every file is written atomically (temporary file, then rename), so
//! readers and writers on other machines never see half a file; the engine
//! verifies whatever is read anyway.

use std::path::PathBuf;
use std::sync::Arc;

use floe_engine::remote::{Remote, RemoteError, RemoteStore};
use floe_engine::{Hash, IoError, System};

use crate::cli::{Cli, Failure};
use crate::system::OsSystem;

pub struct DirRemote {
    root: PathBuf,
    shown: String,
}

/// The remote cache `--remote-cache` (or `$FLOE_REMOTE_CACHE`) names, if any.
pub fn remote(cli: &Cli) -> Result<Option<Remote>, Failure> {
    let Some(url) = cli.remote_cache.clone().or_else(|| crate::env::get(&crate::env::FLOE_REMOTE_CACHE)) else {
        if cli.remote_cache_write {
            return Err(Failure::Usage("--remote-cache-write needs --remote-cache".to_owned()));
        }
        return Ok(None);
    };
    let path = match url.split_once("://") {
        None => crate::cli::base_dir(cli)?.join(&url),
        Some(("file", path)) if path.starts_with('/') => PathBuf::from(path),
        Some(_) => {
            return Err(Failure::Usage(format!(
                "a remote cache is a directory, `file:///path` or a path; `{}` is neither",
                floe_schemas::diag::escape(&url)
            )));
        }
    };
    if cli.remote_cache_write && OsSystem.dir_stat(&path)?.is_none() {
        // A cache this build fills may start empty: create it, tagged as a cache.
        use floe_engine::store::{CACHEDIR_TAG, CACHEDIR_TAG_TEXT};
        OsSystem.write_atomic(&path, CACHEDIR_TAG, CACHEDIR_TAG_TEXT.as_bytes())?;
    }
    let shown = format!("file://{}", path.display());
    Ok(Some(Remote { store: Arc::new(DirRemote { root: path, shown }), write: cli.remote_cache_write }))
}

impl DirRemote {
    fn object(hash: Hash) -> String {
        let hex = hash.to_hex();
        format!("cas/{}/{hex}", &hex[..2])
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        // A missing directory is a misnamed cache, not an empty one.
        if OsSystem.dir_stat(&self.root).map_err(failed)?.is_none() {
            return Err(RemoteError(format!("`{}` is no directory", self.root.display())));
        }
        OsSystem.read(&self.root.join(rel)).map_err(failed)
    }
}

fn failed(e: IoError) -> RemoteError {
    RemoteError(e.to_string())
}

impl RemoteStore for DirRemote {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn get_action(&self, key: Hash) -> Result<Option<Vec<u8>>, RemoteError> {
        self.read(&format!("ac/{}", key.to_hex()))
    }

    fn get_object(&self, hash: Hash) -> Result<Option<Vec<u8>>, RemoteError> {
        self.read(&Self::object(hash))
    }

    fn put_object(&self, hash: Hash, bytes: &[u8]) -> Result<(), RemoteError> {
        let rel = Self::object(hash);
        if OsSystem.stat(&self.root.join(&rel)).map_err(failed)?.is_some() {
            return Ok(());
        }
        OsSystem.write_atomic(&self.root, &rel, bytes).map(drop).map_err(failed)
    }

    fn put_action(&self, key: Hash, bytes: &[u8]) -> Result<(), RemoteError> {
        OsSystem.write_atomic(&self.root, &format!("ac/{}", key.to_hex()), bytes).map(drop).map_err(failed)
    }
}
