//! `floe init --platform` and `floe pull`: a published platform, fetched by
//! digest, verified, kept in the store and pinned in `floe.lock`.
//!
//! This is the only place a workspace's platform crosses the network: a
//! build reads the lock and the store (see `floe_engine::lock`). What is
//! fetched is checked at every step before anything is kept: the manifest's
//! bytes against the digest asked for, its artifact type, the resolved
//! manifest's bytes against their descriptor, and that the resolved
//! manifest decodes as a platform.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_engine::lock::{LOCK, LOCK_VERSION, Lock, Pin};
use floe_engine::store::Store;
use floe_engine::{Hash, System};
use floe_schemas::diag::escape;
use oci_client::Reference;
use serde::Serialize;

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, err, print_json};
use crate::publish::registry::{self, Access, Target};
use crate::system::OsSystem;

/// Where `floe init --platform --key` keeps the key the platform must be signed by.
const TRUSTED_KEY: &str = "platform.pub";

/// The layer a platform artifact carries its resolved manifest in.
const RESOLVED: &str = "manifest.resolved.json";

#[derive(clap::Args)]
pub struct PullArgs {
    /// Pin the digest the reference's tag names now (the lock's reference, or
    /// REFERENCE), instead of refusing a tag that moved
    #[arg(long)]
    pub update: bool,
    /// With --update: another published platform to pin, `oci://HOST/REPO:TAG`
    #[arg(value_name = "REFERENCE", requires = "update")]
    pub reference: Option<String>,
}

/// What a pull did, for people and machines.
#[derive(Serialize)]
struct Pulled {
    reference: String,
    digest: String,
    /// blake3 of the resolved manifest, as the store keeps it.
    resolved: String,
    /// Whether the platform was fetched (not already in the store).
    fetched: bool,
    /// Whether `floe.lock` now pins another digest than before.
    updated: bool,
}

/// `oci://HOST/REPO:TAG` or `oci://HOST/REPO@sha256:…`: where, and the digest if given.
fn parse(reference: &str) -> Result<(Target, Option<String>), Failure> {
    let bad = || {
        Failure::Usage(format!(
            "`{}` is no platform reference: `oci://HOST[:PORT]/REPO:TAG` (as `floe platform publish` \
             published it, e.g. `oci://registry.example.com/floe/platform:1.2.0`) or `…@sha256:DIGEST`",
            escape(reference)
        ))
    };
    let rest = reference.strip_prefix("oci://").ok_or_else(bad)?;
    let (rest, digest) = match rest.split_once('@') {
        Some((r, d)) if d.strip_prefix("sha256:").is_some_and(|h| h.len() == 64) => (r, Some(d.to_owned())),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let target = Target::parse(rest).ok_or_else(bad)?;
    if target.tag.is_none() && digest.is_none() {
        return Err(bad());
    }
    Ok((target, digest))
}

fn infra(target: &Target, e: impl std::fmt::Display) -> Failure {
    Failure::Infra(floe_engine::IoError {
        op: "pull",
        path: format!("oci://{}/{}", target.registry, target.repository).into(),
        message: e.to_string(),
    })
}

/// The digest `reference`'s tag names in the registry now.
fn current_digest(target: &Target, access: &Access) -> Result<String, Failure> {
    let (conn, runtime) = registry::connect(target, access)?;
    let (client, auth) = (conn.client, conn.auth);
    let tag = target.tag.clone().unwrap_or_default();
    let reference = Reference::with_tag(target.registry.clone(), target.repository.clone(), tag);
    runtime.block_on(async {
        client.fetch_manifest_digest(&reference, &auth).await.map_err(|e| match registry::absent(&e) {
            true => Failure::Usage(format!("`{}` is not in the registry", reference.whole())),
            false => infra(target, e),
        })
    })
}

/// The platform artifact `digest` names: its resolved manifest, verified.
fn fetch(target: &Target, access: &Access, digest: &str) -> Result<Vec<u8>, Failure> {
    let (conn, runtime) = registry::connect(target, access)?;
    let (client, auth) = (conn.client, conn.auth);
    let reference = Reference::with_digest(target.registry.clone(), target.repository.clone(), digest.to_owned());
    let shown = format!("oci://{}/{}@{digest}", target.registry, target.repository);
    let refused = |why: String| Failure::Usage(format!("`{}` {why}", escape(&shown)));
    runtime.block_on(async {
        let (bytes, _) =
            client.pull_manifest_raw(&reference, &auth, &[crate::publish::MANIFEST_TYPE]).await.map_err(|e| {
                match registry::absent(&e) {
                    true => refused("is not in the registry".to_owned()),
                    false => infra(target, e),
                }
            })?;
        if crate::publish::sha256(&bytes) != digest {
            return Err(infra(target, format!("the registry sent a manifest that is not {digest}")));
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| refused(format!("is not an OCI manifest ({e})")))?;
        let kind = manifest.get("artifactType").and_then(|t| t.as_str()).unwrap_or("");
        if kind != crate::publish::PLATFORM_TYPE {
            let what = match kind {
                crate::publish::ARTIFACT_TYPE => "a data product".to_owned(),
                "" => "no floe artifact".to_owned(),
                other => format!("of type `{}`", escape(other)),
            };
            return Err(refused(format!(
                "is {what}, not a platform; `floe platform publish` publishes platforms (to `<repo>/platform`)"
            )));
        }
        let layer = manifest
            .get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
            .find(|l| {
                l.pointer("/annotations/org.opencontainers.image.title").and_then(|t| t.as_str()) == Some(RESOLVED)
            })
            .ok_or_else(|| refused(format!("has no `{RESOLVED}` layer")))?;
        let (Some(layer_digest), Some(size)) =
            (layer.get("digest").and_then(|d| d.as_str()), layer.get("size").and_then(|s| s.as_u64()))
        else {
            return Err(refused(format!("describes its `{RESOLVED}` layer without a digest or size")));
        };
        let mut resolved = Vec::new();
        client.pull_blob(&reference, layer_digest, &mut resolved).await.map_err(|e| infra(target, e))?;
        if crate::publish::sha256(&resolved) != layer_digest || resolved.len() as u64 != size {
            return Err(infra(target, format!("the registry sent a `{RESOLVED}` that is not {layer_digest}")));
        }
        floe_engine::db::check_pinned(&shown, &resolved)
            .map_err(|why| refused(format!("holds a `{RESOLVED}` that does not decode: {why}")))?;
        Ok(resolved)
    })
}

/// With a key (the workspace requires signed platforms): refuses `digest`
/// unless it carries a signature by that key, in cosign's format.
fn signed(target: &Target, access: &Access, digest: &str, key: Option<&Path>) -> Result<(), Failure> {
    let Some(key) = key else { return Ok(()) };
    let key = crate::publish::sign::load_public_key(key)?;
    crate::publish::sign::verify(target, access, digest, &key).map(|_| ())
}

/// Keeps the resolved manifest in the workspace's store, pinned against GC.
fn keep(store: &Store, resolved: &[u8]) -> Result<Hash, Failure> {
    let hash = store.put_object(resolved)?;
    store.flush()?;
    store.save_pins(&[hash])?;
    Ok(hash)
}

/// The store of the workspace at `root`.
pub(crate) fn store(cli: &Cli, root: &Path) -> Store {
    let dir = crate::cli::store_dir(cli, root);
    Store::of_workspace(Arc::new(OsSystem), dir, root, root.join(floe_engine::discover::OUT_DIR))
}

/// The platform `reference` names (its tag's digest now, or the digest it
/// gives), refused unless signed by `key` when one is required, fetched and
/// verified: its pin, and its resolved manifest.
fn resolve(cli: &Cli, reference: &str, key: Option<&Path>) -> Result<(Pin, Vec<u8>), Failure> {
    let (target, digest) = parse(reference)?;
    let access = Access::new(cli)?;
    let digest = match digest {
        Some(d) => d,
        None => current_digest(&target, &access)?,
    };
    signed(&target, &access, &digest, key)?;
    let resolved = fetch(&target, &access, &digest)?;
    let pin = Pin { reference: reference.to_owned(), digest, resolved: Hash::of(&resolved).to_hex(), key: None };
    Ok((pin, resolved))
}

/// `floe pull`: makes sure the store holds what `floe.lock` pins, and that
/// the registry still names it; with `--update`, pins what it names now.
pub fn pull(cli: &Cli, printer: &Printer, args: &PullArgs) -> Result<(), Failure> {
    let (root, _) = crate::cli::locate(cli)?;
    let os = OsSystem;
    let path = root.join(LOCK);
    let old = os.read(&path)?.map(|bytes| {
        Lock::decode(&bytes).map_err(|why| {
            Failure::Usage(format!("{LOCK} cannot be read: {why}; `floe pull --update REFERENCE` writes it again"))
        })
    });
    let old = match (old, args.update) {
        (Some(Ok(l)), _) => Some(l),
        (Some(Err(e)), false) => return Err(e),
        (Some(Err(_)) | None, true) => None,
        (None, false) => {
            return Err(Failure::Usage(format!(
                "`{}` has no {LOCK}: its platform is its own manifest.yaml, and there is nothing to pull",
                root.display()
            )));
        }
    };
    let reference =
        args.reference.clone().or_else(|| old.as_ref().and_then(|l| Some(l.platform.as_ref()?.reference.clone())));
    let Some(reference) = reference else {
        return Err(Failure::Usage(format!(
            "{LOCK} cannot be read: name the platform, `floe pull --update REFERENCE`"
        )));
    };
    let key = old.as_ref().and_then(|l| l.platform.as_ref()?.key.clone());
    let key_path = key.as_ref().map(|k| root.join(k));
    let pulled = if args.update {
        let (pin, resolved) = resolve(cli, &reference, key_path.as_deref())?;
        keep(&store(cli, &root), &resolved)?;
        // The contracts it pins stay as they are.
        let contracts = old.as_ref().map(|l| l.contracts.clone()).unwrap_or_default();
        let lock = Lock { version: LOCK_VERSION, platform: Some(Pin { key, ..pin }), contracts };
        let updated = old.as_ref().is_none_or(|l| l.platform != lock.platform);
        let pin = lock.platform.as_ref().expect("set above");
        if updated {
            os.write_all_atomic(&root, &[(LOCK, &lock.encode())])?;
        }
        Pulled {
            reference: pin.reference.clone(),
            digest: pin.digest.clone(),
            resolved: pin.resolved.clone(),
            fetched: true,
            updated,
        }
    } else {
        let lock = old.expect("read above");
        let Some(p) = &lock.platform else {
            return Err(Failure::Usage(format!("{LOCK} pins no platform: name one, `floe pull --update REFERENCE`")));
        };
        let (target, pinned_digest) = parse(&p.reference)?;
        let access = Access::new(cli)?;
        // A reference with a digest in it cannot move; a tag can.
        if pinned_digest.is_none() {
            let now = current_digest(&target, &access)?;
            if now != p.digest {
                err(&format!(
                    "error: `{}` names {now} in the registry, but {LOCK} pins {}\n  = help: a platform version \
                     never moves: if this one was published again on purpose, `floe pull --update` pins what it names now\n",
                    escape(&p.reference),
                    p.digest
                ))?;
                return Err(Failure::User);
            }
        }
        signed(&target, &access, &p.digest, key_path.as_deref())?;
        let store = store(cli, &root);
        let pinned = lock.resolved().expect("a platform is pinned");
        let fetched = !store.has_object(pinned)?;
        if fetched {
            let resolved = fetch(&target, &access, &p.digest)?;
            if Hash::of(&resolved) != pinned {
                err(&format!(
                    "error: the platform {} names is not the one {LOCK} pins: its resolved manifest is {}, the lock \
                     says {}\n  = help: `floe pull --update` pins what the registry serves now\n",
                    p.digest,
                    Hash::of(&resolved).to_hex(),
                    p.resolved
                ))?;
                return Err(Failure::User);
            }
            keep(&store, &resolved)?;
        } else {
            store.save_pins(&[pinned])?;
        }
        Pulled {
            reference: p.reference.clone(),
            digest: p.digest.clone(),
            resolved: p.resolved.clone(),
            fetched,
            updated: false,
        }
    };
    report(printer, &pulled)
}

fn report(printer: &Printer, p: &Pulled) -> Result<(), Failure> {
    if printer.format != Format::Human {
        return Ok(print_json(p)?);
    }
    if printer.verbosity == Verbosity::Quiet {
        return Ok(());
    }
    let what = match (p.updated, p.fetched) {
        (true, _) => "pinned",
        (false, true) => "fetched",
        (false, false) => "up to date:",
    };
    Ok(err(&format!("{what} {} ({})\n", escape(&p.reference), p.digest))?)
}

/// `floe init --platform REFERENCE [DIR]`: a workspace on a published
/// platform: its lock, and a first product checked against the platform
/// before anything is written.
pub fn init(
    cli: &Cli,
    printer: &Printer,
    dir: Option<&Path>,
    reference: &str,
    product: &str,
    key: Option<&Path>,
) -> Result<(), Failure> {
    let base = crate::cli::base_dir(cli)?;
    let root: PathBuf = dir.map_or_else(|| base.clone(), |d| base.join(d));
    crate::init::check_name("--product", product)?;
    parse(reference)?;
    if OsSystem.read(&root.join(LOCK))?.is_some() {
        return Err(Failure::Usage(format!(
            "`{}` has a {LOCK} already: `floe pull --update {}` pins another platform",
            root.display(),
            escape(reference)
        )));
    }
    // The key that must have signed it goes into the workspace, as its trust root.
    let key = key.map(|k| base.join(k));
    let key_bytes = match &key {
        Some(k) => Some(OsSystem.read(k)?.ok_or_else(|| Failure::Usage(format!("no key at `{}`", k.display())))?),
        None => None,
    };
    let (pin, resolved) = resolve(cli, reference, key.as_deref())?;
    let pin = Pin { key: key_bytes.is_some().then(|| TRUSTED_KEY.to_owned()), ..pin };
    let lock = Lock { version: LOCK_VERSION, platform: Some(pin), contracts: Default::default() };
    let mut extra = Vec::new();
    if let Some(bytes) = key_bytes {
        let text = String::from_utf8(bytes).map_err(|_| Failure::Usage("the key is not PEM text".to_owned()))?;
        extra.push((TRUSTED_KEY.to_owned(), text));
    }
    let files = crate::init::pinned_files(printer, &root, &lock, &resolved, product, extra)?;
    // The store names a workspace by its real path, which exists now.
    let real = crate::system::canonicalize(&root)?;
    keep(&store(cli, &real), &resolved)?;
    let given: PathBuf = cli.dir.iter().map(PathBuf::as_path).chain(dir).collect();
    crate::init::report_files(printer, &root, &files, &crate::init::next_build(&given, product))
}
