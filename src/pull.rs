//! `floe init --platform` and `floe pull`: a published platform, or the
//! data contracts of a published product outside the workspace, fetched by
//! digest, verified, kept in the store and pinned in `floe.lock`.
//!
//! This is the only place either crosses the network: a build reads the
//! lock and the store (see `floe_engine::lock`). What is fetched is checked
//! at every step before anything is kept: the manifest's bytes against the
//! digest asked for, its artifact type, each layer's bytes against their
//! descriptor, and that a resolved manifest decodes as a platform and a
//! contract loads as ODCS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_engine::lock::{LOCK, Lock, Pin, ProductPin};
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
    /// With --update: what to pin, `oci://HOST/REPO:TAG`: another platform, or a
    /// published product whose data contracts ports read by id (`urn:…`)
    #[arg(value_name = "REFERENCE", requires = "update")]
    pub reference: Option<String>,
}

/// What a pull did with one pinned reference, for people and machines.
#[derive(Serialize)]
struct Pulled {
    reference: String,
    /// `platform`, or `product`: a product outside the workspace, for its contracts.
    kind: &'static str,
    digest: String,
    /// blake3 of the resolved manifest, as the store keeps it (a platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<String>,
    /// blake3 of each data contract, by its file name (a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    contracts: Option<BTreeMap<String, String>>,
    /// Whether anything was fetched (not already in the store).
    fetched: bool,
    /// Whether `floe.lock` now pins another digest than before.
    updated: bool,
}

/// What a published reference holds that a workspace pins.
enum Content {
    /// A platform's resolved manifest.
    Platform(Vec<u8>),
    /// A product's data contracts, by file name.
    Product(BTreeMap<String, Vec<u8>>),
}

impl Content {
    /// What the store keeps of it, as the lock names it.
    fn objects(&self) -> Vec<(&str, &[u8])> {
        match self {
            Content::Platform(resolved) => vec![(RESOLVED, resolved)],
            Content::Product(contracts) => contracts.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect(),
        }
    }
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

/// A layer's file name, as publishing titled it.
fn title(layer: &serde_json::Value) -> &str {
    layer.pointer("/annotations/org.opencontainers.image.title").and_then(|t| t.as_str()).unwrap_or("")
}

/// The artifact `digest` names: a platform's resolved manifest or a
/// product's data contracts, each layer verified against its descriptor and
/// decoded before anything is kept.
fn fetch(target: &Target, access: &Access, digest: &str) -> Result<Content, Failure> {
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
        let layers: Vec<&serde_json::Value> =
            manifest.get("layers").and_then(|l| l.as_array()).into_iter().flatten().collect();
        // One layer's bytes, checked against its descriptor.
        let blob = async |layer: &serde_json::Value| {
            let name = title(layer);
            let (Some(layer_digest), Some(size)) =
                (layer.get("digest").and_then(|d| d.as_str()), layer.get("size").and_then(|s| s.as_u64()))
            else {
                return Err(refused(format!("describes its `{}` layer without a digest or size", escape(name))));
            };
            let mut bytes = Vec::new();
            client.pull_blob(&reference, layer_digest, &mut bytes).await.map_err(|e| infra(target, e))?;
            if crate::publish::sha256(&bytes) != layer_digest || bytes.len() as u64 != size {
                return Err(infra(target, format!("the registry sent a `{name}` that is not {layer_digest}")));
            }
            Ok(bytes)
        };
        match manifest.get("artifactType").and_then(|t| t.as_str()).unwrap_or("") {
            crate::publish::PLATFORM_TYPE => {
                let layer = layers
                    .iter()
                    .find(|l| title(l) == RESOLVED)
                    .ok_or_else(|| refused(format!("has no `{RESOLVED}` layer")))?;
                let resolved = blob(layer).await?;
                floe_engine::db::check_pinned(&shown, &resolved)
                    .map_err(|why| refused(format!("holds a `{RESOLVED}` that does not decode: {why}")))?;
                Ok(Content::Platform(resolved))
            }
            crate::publish::ARTIFACT_TYPE => {
                let mut contracts = BTreeMap::new();
                for layer in layers.iter().filter(|l| floe_rules::contracts::is_file_name(title(l))) {
                    let (name, bytes) = (title(layer), blob(layer).await?);
                    floe_engine::db::check_contract(&format!("{shown}#{name}"), &bytes)
                        .map_err(|why| refused(format!("holds a `{}` that does not load: {why}", escape(name))))?;
                    contracts.insert(name.to_owned(), bytes);
                }
                if contracts.is_empty() {
                    return Err(refused(
                        "is a data product without data contracts: publish it with its `:contracts` built".to_owned(),
                    ));
                }
                Ok(Content::Product(contracts))
            }
            "" => Err(refused("is no floe artifact".to_owned())),
            other => Err(refused(format!("is of type `{}`, neither a platform nor a data product", escape(other)))),
        }
    })
}

/// With a key (the workspace requires signed platforms): refuses `digest`
/// unless it carries a signature by that key, in cosign's format.
fn signed(target: &Target, access: &Access, digest: &str, key: Option<&Path>) -> Result<(), Failure> {
    let Some(key) = key else { return Ok(()) };
    let key = crate::publish::sign::load_public_key(key)?;
    crate::publish::sign::verify(target, access, digest, &key).map(|_| ())
}

/// Keeps what was fetched in the workspace's store, and pins everything
/// `lock` pins against GC.
fn keep(store: &Store, fetched: &[&Content], lock: &Lock) -> Result<(), Failure> {
    for (_, bytes) in fetched.iter().flat_map(|c| c.objects()) {
        store.put_object(bytes)?;
    }
    store.flush()?;
    Ok(store.save_pins(&lock.objects())?)
}

/// The store of the workspace at `root`.
pub(crate) fn store(cli: &Cli, root: &Path) -> Store {
    let dir = crate::cli::store_dir(cli, root);
    Store::of_workspace(Arc::new(OsSystem), dir, root, root.join(floe_engine::discover::OUT_DIR))
}

/// The artifact `reference` names (its tag's digest now, or the digest it
/// gives), fetched and verified; a platform is refused unless signed by
/// `key` when one is required.
fn resolve(cli: &Cli, reference: &str, key: Option<&Path>) -> Result<(String, Content), Failure> {
    let (target, digest) = parse(reference)?;
    let access = Access::new(cli)?;
    let digest = match digest {
        Some(d) => d,
        None => current_digest(&target, &access)?,
    };
    let content = fetch(&target, &access, &digest)?;
    if let Content::Platform(_) = content {
        signed(&target, &access, &digest, key)?;
    }
    Ok((digest, content))
}

/// The lock's names for what `content` holds: blake3 of each object.
fn hashes(content: &Content) -> BTreeMap<String, String> {
    content.objects().into_iter().map(|(n, b)| (n.to_owned(), Hash::of(b).to_hex())).collect()
}

/// Pins `content`, published at `reference` as `digest`, in `lock`: the
/// platform (keeping the key it must be signed by), or a product (in place
/// of any other version of it).
fn pin(lock: &mut Lock, reference: &str, digest: String, content: &Content) -> Result<(), Failure> {
    match content {
        Content::Platform(resolved) => {
            let key = lock.platform.as_ref().and_then(|p| p.key.clone());
            let resolved = Hash::of(resolved).to_hex();
            lock.platform = Some(Pin { reference: reference.to_owned(), digest, resolved, key });
        }
        Content::Product(_) => {
            let (target, _) = parse(reference)?;
            let same = |r: &str| {
                parse(r).is_ok_and(|(t, _)| {
                    (t.registry, t.repository) == (target.registry.clone(), target.repository.clone())
                })
            };
            lock.products.retain(|r, _| !same(r));
            lock.products.insert(reference.to_owned(), ProductPin { digest, contracts: hashes(content) });
        }
    }
    Ok(())
}

/// One reference the lock pins: the platform's, or a product's.
struct Pinned {
    reference: String,
    digest: String,
    objects: BTreeMap<String, String>,
    platform: bool,
}

fn pinned(lock: &Lock) -> Vec<Pinned> {
    let platform = lock.platform.iter().map(|p| Pinned {
        reference: p.reference.clone(),
        digest: p.digest.clone(),
        objects: BTreeMap::from([(RESOLVED.to_owned(), p.resolved.clone())]),
        platform: true,
    });
    let products = lock.products.iter().map(|(r, p)| Pinned {
        reference: r.clone(),
        digest: p.digest.clone(),
        objects: p.contracts.clone(),
        platform: false,
    });
    platform.chain(products).collect()
}

/// `floe pull`: makes sure the store holds what `floe.lock` pins, and that
/// the registry still names it; with `--update`, pins what the references
/// name now, or pins REFERENCE: a platform, or a product whose contracts
/// the workspace's ports read by id.
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
    let mut lock = old.clone().unwrap_or_else(Lock::empty);
    let key = lock.platform.as_ref().and_then(|p| p.key.as_ref()).map(|k| root.join(k));
    let store = store(cli, &root);
    let mut pulled = Vec::new();
    let mut fetched = Vec::new();
    if args.update {
        let references: Vec<String> = match &args.reference {
            Some(r) => vec![r.clone()],
            None => pinned(&lock).into_iter().map(|p| p.reference).collect(),
        };
        if references.is_empty() {
            return Err(Failure::Usage(format!(
                "{LOCK} pins nothing: name a platform or a product, `floe pull --update REFERENCE`"
            )));
        }
        for reference in references {
            let (digest, content) = resolve(cli, &reference, key.as_deref())?;
            pin(&mut lock, &reference, digest, &content)?;
            fetched.push(content);
        }
    } else {
        let access = Access::new(cli)?;
        let all = pinned(&lock);
        if all.is_empty() {
            return Err(Failure::Usage(format!(
                "{LOCK} pins no platform and no product: name one, `floe pull --update REFERENCE`"
            )));
        }
        for p in &all {
            let (target, pinned_digest) = parse(&p.reference)?;
            // A reference with a digest in it cannot move; a tag can.
            if pinned_digest.is_none() {
                let now = current_digest(&target, &access)?;
                if now != p.digest {
                    let what = if p.platform { "a platform" } else { "a product" };
                    err(&format!(
                        "error: `{}` names {now} in the registry, but {LOCK} pins {}\n  = help: {what} version never \
                         moves: if this one was published again on purpose, `floe pull --update` pins what it names now\n",
                        escape(&p.reference),
                        p.digest
                    ))?;
                    return Err(Failure::User);
                }
            }
            if p.platform {
                signed(&target, &access, &p.digest, key.as_deref())?;
            }
            let mut missing = false;
            for hex in p.objects.values() {
                missing |= !store.has_object(Hash::from_hex(hex).expect("checked when decoded"))?;
            }
            if missing {
                let content = fetch(&target, &access, &p.digest)?;
                if hashes(&content) != p.objects {
                    err(&format!(
                        "error: what {} names is not what {LOCK} pins: {}\n  = help: `floe pull --update` pins what \
                         the registry serves now\n",
                        p.digest,
                        differences(&p.objects, &hashes(&content))
                    ))?;
                    return Err(Failure::User);
                }
                fetched.push(content);
            }
            pulled.push(Pulled::of(p, missing, false));
        }
    }
    keep(&store, &fetched.iter().collect::<Vec<_>>(), &lock)?;
    if args.update {
        let before = old.as_ref().map(pinned).unwrap_or_default();
        for p in pinned(&lock) {
            let updated = !before.iter().any(|b| b.reference == p.reference && b.digest == p.digest);
            pulled.push(Pulled::of(&p, true, updated));
        }
        if old.as_ref() != Some(&lock) {
            os.write_all_atomic(&root, &[(LOCK, &lock.encode())])?;
        }
        // Only what was named, when a reference was.
        if let Some(r) = &args.reference {
            pulled.retain(|p| &p.reference == r);
        }
    }
    report(printer, &pulled)
}

/// How the objects a registry serves differ from those the lock pins.
fn differences(pinned: &BTreeMap<String, String>, served: &BTreeMap<String, String>) -> String {
    let names: std::collections::BTreeSet<&String> = pinned.keys().chain(served.keys()).collect();
    let said = |o: Option<&String>| o.map_or_else(|| "none".to_owned(), Clone::clone);
    names
        .into_iter()
        .filter(|n| pinned.get(*n) != served.get(*n))
        .map(|n| format!("its `{n}` is {}, the lock says {}", said(served.get(n)), said(pinned.get(n))))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Pulled {
    fn of(p: &Pinned, fetched: bool, updated: bool) -> Pulled {
        Pulled {
            reference: p.reference.clone(),
            kind: if p.platform { "platform" } else { "product" },
            digest: p.digest.clone(),
            resolved: p.platform.then(|| p.objects.get(RESOLVED).cloned()).flatten(),
            contracts: (!p.platform).then(|| p.objects.clone()),
            fetched,
            updated,
        }
    }
}

fn report(printer: &Printer, pulled: &[Pulled]) -> Result<(), Failure> {
    if printer.format != Format::Human {
        return Ok(print_json(&serde_json::json!({ "pulled": pulled }))?);
    }
    if printer.verbosity == Verbosity::Quiet {
        return Ok(());
    }
    let mut text = String::new();
    for p in pulled {
        let what = match (p.updated, p.fetched) {
            (true, _) => "pinned",
            (false, true) => "fetched",
            (false, false) => "up to date:",
        };
        text.push_str(&format!("{what} {} ({})\n", escape(&p.reference), p.digest));
    }
    Ok(err(&text)?)
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
    let (digest, content) = resolve(cli, reference, key.as_deref())?;
    let Content::Platform(resolved) = &content else {
        return Err(Failure::Usage(format!(
            "`{}` is a data product, not a platform; `floe platform publish` publishes platforms (to `<repo>/platform`)",
            escape(reference)
        )));
    };
    let mut lock = Lock::empty();
    pin(&mut lock, reference, digest, &content)?;
    lock.platform.as_mut().expect("pinned above").key = key_bytes.is_some().then(|| TRUSTED_KEY.to_owned());
    let mut extra = Vec::new();
    if let Some(bytes) = key_bytes {
        let text = String::from_utf8(bytes).map_err(|_| Failure::Usage("the key is not PEM text".to_owned()))?;
        extra.push((TRUSTED_KEY.to_owned(), text));
    }
    let files = crate::init::pinned_files(printer, &root, &lock, resolved, product, extra)?;
    // The store names a workspace by its real path, which exists now.
    let real = crate::system::canonicalize(&root)?;
    keep(&store(cli, &real), &[&content], &lock)?;
    let given: PathBuf = cli.dir.iter().map(PathBuf::as_path).chain(dir).collect();
    crate::init::report_files(printer, &root, &files, &crate::init::next_build(&given, product))
}
