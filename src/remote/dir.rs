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

use floe_engine::remote::{RemoteError, RemoteStore};
use floe_engine::{Hash, IoError, System};

use crate::system::OsSystem;

pub struct DirRemote {
    pub root: PathBuf,
    pub shown: String,
}

impl DirRemote {
    fn object(hash: Hash) -> String {
        let hex = hash.to_hex();
        format!("cas/{}/{hex}", &hex[..2])
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let found = OsSystem.read(&self.root.join(rel)).map_err(failed)?;
        // A miss in a missing directory is a misnamed cache, not an empty one.
        if found.is_none() && OsSystem.dir_stat(&self.root).map_err(failed)?.is_none() {
            return Err(RemoteError(format!("`{}` is no directory", self.root.display())));
        }
        Ok(found)
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
