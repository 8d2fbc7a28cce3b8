//! Remote caches, the driver's implementations of the engine's `RemoteStore`:
//! a directory (`dir.rs`) or a registry (`oci.rs`), chosen by
//! `--remote-cache` or `$FLOE_REMOTE_CACHE`.

mod dir;
mod oci;

use std::path::PathBuf;
use std::sync::Arc;

use floe_engine::System;
use floe_engine::remote::Remote;

use crate::cli::{Cli, Failure};
use crate::system::OsSystem;

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
        Some(("oci", rest)) => match crate::publish::registry_target(rest) {
            Some(target) => {
                let store = oci::OciRemote::new(target, &crate::publish::registry::Access::new(cli)?)?;
                return Ok(Some(Remote { store: Arc::new(store), write: cli.remote_cache_write }));
            }
            None => return Err(bad(&url)),
        },
        Some(_) => return Err(bad(&url)),
    };
    if cli.remote_cache_write && OsSystem.dir_stat(&path)?.is_none() {
        // A cache this build fills may start empty: create it, tagged as a cache.
        use floe_engine::store::{CACHEDIR_TAG, CACHEDIR_TAG_TEXT};
        OsSystem.write_atomic(&path, CACHEDIR_TAG, CACHEDIR_TAG_TEXT.as_bytes())?;
    }
    let shown = format!("file://{}", path.display());
    Ok(Some(Remote { store: Arc::new(dir::DirRemote { root: path, shown }), write: cli.remote_cache_write }))
}

fn bad(url: &str) -> Failure {
    Failure::Usage(format!(
        "a remote cache is a registry (`oci://HOST[:PORT]/REPO`) or a directory (`file:///path`, or a path); `{}` is neither",
        floe_schemas::diag::escape(url)
    ))
}
