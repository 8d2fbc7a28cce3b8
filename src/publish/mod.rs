//! `floe publish`: each selected product as an immutable OCI artifact.
//!
//! The products are built first (what is published is what a build of this
//! tree writes, read back from `floe-out/` and checked against the hashes
//! the build recorded), then each becomes one artifact (`artifact.rs`) named
//! `<package path>:<product version>` and is written to the target: a
//! registry (`oci://…`, `registry.rs`) or an OCI image layout on disk
//! (`oci-layout:DIR`, `layout.rs`); both get the same bytes, so the same
//! digests. A version, once published, never moves: publishing
//! other outputs under it is refused, naming both digests. With `--sign
//! KEY`, each published manifest is then signed in cosign's format
//! (`sign.rs`), which `floe verify` checks.

mod artifact;
mod auth;
mod digests;
mod layout;
pub mod registry;
mod retry;

pub use retry::chain;
pub mod sign;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use floe_engine::layout::PackageKind;
use floe_schemas::diag::escape;
use serde::Serialize;

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, err, print_json};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// Packages to publish (default: //...): products, or with `floe platform publish` the platform packages
    pub labels: Vec<String>,
    /// Where to: `oci://HOST[:PORT]/REPO[:TAG]`, a registry, or `oci-layout:DIR`, an OCI image layout on disk
    /// (default: $FLOE_PUBLISH_TO, else the layout `floe-out/oci` of the workspace)
    #[arg(long, value_name = "TARGET")]
    pub to: Option<String>,
    /// Sign each published manifest, in cosign's format, with this ECDSA P-256 private key (PEM)
    #[arg(long, value_name = "KEY")]
    pub sign: Option<std::path::PathBuf>,
}

/// The OCI image layout below `floe-out/` that publishing goes to when no
/// target is given or configured.
const DEFAULT_LAYOUT: &str = "oci";

/// What publishing one artifact did.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    pub label: String,
    /// `<repository>:<tag>` within the target.
    pub reference: String,
    pub digest: String,
    /// Blobs written, blobs already there, and the bytes written.
    pub uploaded: usize,
    pub skipped: usize,
    pub bytes: u64,
}

impl Published {
    fn new(a: &artifact::Artifact, reference: String) -> Published {
        Published {
            label: a.label.clone(),
            reference,
            digest: a.manifest.descriptor.digest.clone(),
            uploaded: 0,
            skipped: 0,
            bytes: 0,
        }
    }
}

/// A version already published as something else.
pub struct Refused {
    label: String,
    reference: String,
    published: String,
}

fn refusal(refused: &[Refused]) -> Failure {
    let mut text = String::new();
    for r in refused {
        let _ = writeln!(
            text,
            "error: `{}` is published already as {}, and the outputs of {} differ from it\n  = help: a version never moves: raise `metadata.version` in its floe.yaml",
            escape(&r.reference),
            r.published,
            escape(&r.label)
        );
    }
    match err(&text) {
        Ok(()) => Failure::User,
        Err(e) => Failure::Output(e),
    }
}

/// `floe publish` (products), or `floe platform publish` (`platform`: the
/// enterprise and domain manifests, resolved, with their Helm values).
pub fn publish(cli: &Cli, printer: &Printer, args: &PublishArgs, platform: bool) -> Result<(), Failure> {
    // Without a registry configured, the layout every workspace has.
    let to = match args.to.clone().or_else(|| crate::env::get(&crate::env::FLOE_PUBLISH_TO)) {
        Some(to) => to,
        None => {
            let root = crate::cli::locate(cli)?.0;
            format!("oci-layout:{}", root.join(floe_engine::discover::OUT_DIR).join(DEFAULT_LAYOUT).display())
        }
    };
    let target = match to.split_once(':') {
        Some(("oci-layout", rest)) if !rest.is_empty() => Target::Layout(crate::cli::base_dir(cli)?.join(rest)),
        Some(("oci", rest)) if rest.starts_with("//") => match registry::Target::parse(&rest[2..]) {
            Some(t) => Target::Registry(t),
            None => return Err(bad_target(&to)),
        },
        _ => return Err(bad_target(&to)),
    };
    // The key is read before anything is built, so a bad one costs nothing.
    let key = match (&args.sign, &target) {
        (None, _) => None,
        (Some(_), Target::Layout(_)) => {
            return Err(Failure::Usage(
                "`--sign` needs a registry target (`oci://HOST/REPO`): a signature names the repository its \
                 artifact is published to, which a layout on disk does not know"
                    .to_owned(),
            ));
        }
        (Some(path), Target::Registry(_)) => Some(sign::load_private_key(&crate::cli::base_dir(cli)?.join(path))?),
    };
    let mut session = crate::cli::open(cli, &args.labels)?;
    let root = session.options.workspace.clone();
    let report = session.build()?;
    printer.diagnostics(&root, &report.diagnostics)?;
    for w in &report.warnings {
        printer.warn(&escape(w))?;
    }
    if report.has_errors() {
        return Err(Failure::User);
    }
    let (selected, _) = session.select();
    let created = floe_rules::rfc3339(session.options.settings.source_date_epoch);
    let mut artifacts = Vec::new();
    let mut digests = digests::Digests::open(&session.options.store)?;
    for sel in &selected {
        let info = &session.layout.packages[sel.package];
        // A pinned root was published where it came from.
        if (info.kind == PackageKind::Product) == platform || info.pinned {
            continue;
        }
        let label = floe_engine::label::package_label(&info.dir);
        let record = session.state.packages.get(&info.dir).ok_or_else(|| {
            Failure::Usage(format!("{label} has no record of its build in the store: build it, then publish"))
        })?;
        let (mut files, mut sha256) = (BTreeMap::new(), BTreeMap::new());
        for o in &record.outputs {
            let bytes = crate::system::read_output(&session.options.out, o, "publish")?;
            let name = o.path.as_str().strip_prefix(info.dir.as_str()).unwrap_or(o.path.as_str());
            let name = name.trim_start_matches('/');
            // A platform's artifact is its resolved manifest and its chart's
            // values (what a pinned workspace reads), with its derivation
            // records; the Kubernetes objects of its namespaces are
            // deployed, not published. Files below its directory are its
            // own or its domains' and products'.
            let published = name == floe_engine::build::DRV_FILE
                || [floe_engine::label::Target::Manifest, floe_engine::label::Target::HelmValues]
                    .iter()
                    .any(|t| t.outputs().contains(&name));
            if !platform || published {
                sha256.insert(name.to_owned(), digests.sha256(o.hash, &bytes));
                files.insert(name.to_owned(), bytes);
            }
        }
        // The version the package's own file gives it, as its outputs say.
        let (first, pointer) = match platform {
            false => ("compiled_artifacts.json", "/metadata/product_version"),
            true => ("manifest.resolved.json", "/manifest/metadata/version"),
        };
        let version = files
            .get(first)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.pointer(pointer).and_then(|v| v.as_str()).map(str::to_owned));
        let Some(version) = version else {
            return Err(Failure::Usage(format!("{label} has no `{first}` to publish")));
        };
        let (artifact_type, repository) = match (platform, info.dir.as_str()) {
            (false, dir) => (artifact::ARTIFACT_TYPE, dir.to_owned()),
            (true, "") => (artifact::PLATFORM_TYPE, "platform".to_owned()),
            (true, dir) => (artifact::PLATFORM_TYPE, format!("platform/{dir}")),
        };
        artifacts.push(artifact::package(artifact_type, &label, &repository, &version, &created, &files, &sha256));
    }
    if artifacts.is_empty() {
        let what = if platform { "platform package" } else { "product" };
        return Err(Failure::Usage(format!("the labels select no {what} to publish")));
    }
    digests.save()?;
    let published = match &target {
        Target::Layout(dir) => layout::publish(dir, &artifacts)?,
        Target::Registry(t) => {
            let bar = crate::output::progress(printer, artifacts.len() as u64, "publishing");
            let published = registry::publish(t, &registry::Access::new(cli)?, &artifacts, &bar);
            bar.finish_and_clear();
            published?
        }
    };
    let signed = match (&key, &target) {
        (Some(key), Target::Registry(t)) => {
            let subjects: Vec<(String, String)> = artifacts
                .iter()
                .zip(&published)
                .map(|(a, p)| (format!("{}/{}", t.repository, a.repository), p.digest.clone()))
                .collect();
            sign::sign(t, &registry::Access::new(cli)?, &subjects, key)?.into_iter().map(Some).collect()
        }
        _ => vec![None; published.len()],
    };
    let entries: Vec<Entry> = published
        .iter()
        .zip(&signed)
        .map(|(published, signature)| Entry { published, signature: signature.as_ref() })
        .collect();
    summary(printer, &to, &entries)
}

#[derive(clap::Args)]
pub struct PromoteArgs {
    /// What to promote: `oci://HOST[:PORT]/REPO:TAG`, as `floe publish` published it
    pub reference: String,
    /// The tag it gets beside its own (an environment: `prod`, `staging`)
    #[arg(long, value_name = "TAG")]
    pub to: String,
}

/// `floe promote`: the manifest a reference names gets another tag, with no
/// blob uploaded.
pub fn promote(cli: &Cli, printer: &Printer, args: &PromoteArgs) -> Result<(), Failure> {
    let target = args
        .reference
        .strip_prefix("oci://")
        .and_then(registry::Target::parse)
        .filter(|t| t.tag.is_some())
        .ok_or_else(|| {
            Failure::Usage(format!("`{}` is no `oci://HOST/REPO:TAG` reference", escape(&args.reference)))
        })?;
    let tag_ok = !args.to.is_empty()
        && args.to.len() <= 128
        && args.to.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !tag_ok {
        return Err(Failure::Usage(format!("`{}` is no tag: letters, digits, `.`, `_` and `-`", escape(&args.to))));
    }
    let p = registry::promote(&target, &registry::Access::new(cli)?, &args.to)?;
    if printer.format != Format::Human {
        print_json(&p)?;
    } else if printer.verbosity != Verbosity::Quiet {
        let how = if p.uploaded == 0 { "it named it already" } else { "its manifest sent, no blob" };
        err(&format!("promoted {} ({}) to {}: {how}\n", escape(&p.label), p.digest, escape(&p.reference)))?;
    }
    Ok(())
}

pub use artifact::{ARTIFACT_TYPE, MANIFEST_TYPE, PLATFORM_TYPE, media_type, sha256};

/// `HOST[:PORT]/REPO` (after `oci://`) as a registry target, without a tag.
pub fn registry_target(rest: &str) -> Option<registry::Target> {
    registry::Target::parse(rest).filter(|t| t.tag.is_none())
}

enum Target {
    Layout(std::path::PathBuf),
    Registry(registry::Target),
}

fn bad_target(to: &str) -> Failure {
    Failure::Usage(format!(
        "`{}` is no publish target: `oci://HOST[:PORT]/REPO[:TAG]` (a registry; lowercase repository \
         names) or `oci-layout:DIR` (an OCI image layout on disk)",
        escape(to)
    ))
}

/// A published artifact in the summary, with what signing it did.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    published: &'a Published,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a sign::Signed>,
}

fn summary(printer: &Printer, target: &str, published: &[Entry]) -> Result<(), Failure> {
    // Signatures count with the blobs and manifests of their artifacts.
    let (uploaded, skipped, bytes) = published
        .iter()
        .flat_map(|e| {
            let p = e.published;
            [(p.uploaded, p.skipped, p.bytes)].into_iter().chain(e.signature.map(|s| (s.uploaded, s.skipped, s.bytes)))
        })
        .fold((0, 0, 0), |(u, s, b), (pu, ps, pb)| (u + pu, s + ps, b + pb));
    let signed = published.iter().filter(|p| p.signature.is_some()).count();
    let signed_new = published.iter().filter(|p| p.signature.as_ref().is_some_and(|s| s.uploaded > 0)).count();
    if printer.format != Format::Human {
        let mut summary = serde_json::json!({
            "artifacts": published.len(), "uploaded": uploaded, "skipped": skipped, "bytes": bytes,
        });
        if signed > 0 {
            summary["signed"] = signed.into();
            summary["signatures_uploaded"] = signed_new.into();
        }
        print_json(&serde_json::json!({ "target": target, "artifacts": published, "summary": summary }))?;
        return Ok(());
    }
    if printer.verbosity == Verbosity::Quiet {
        return Ok(());
    }
    let mut text = String::new();
    if printer.verbosity == Verbosity::Verbose {
        for p in published.iter().map(|e| e.published) {
            let _ = writeln!(text, "{} {} ({})", escape(&p.label), escape(&p.reference), p.digest);
        }
    }
    let _ = writeln!(
        text,
        "published {} artifact{} to {}: uploaded {uploaded} blob{} ({}), skipped {skipped}",
        published.len(),
        if published.len() == 1 { "" } else { "s" },
        escape(target),
        if uploaded == 1 { "" } else { "s" },
        crate::store_cmd::bytes(bytes),
    );
    if signed > 0 {
        text.pop();
        match signed_new {
            0 => _ = writeln!(text, "; signed {signed}, each signed by this key already"),
            n => _ = writeln!(text, "; signed {signed}, {n} with a new signature"),
        }
    }
    err(&text)?;
    Ok(())
}
