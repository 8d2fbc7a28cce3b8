//! What `platform compile` reads, laid out as a workspace in memory: the
//! manifest at the root, or, for a domain manifest, the enterprise manifest
//! its `parent_manifest` names at the root and the domain below it; the
//! product below that, with every file of its directory that a build reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use floe_engine::layout::{MANIFEST, MODELS_DIR, PLUGINS_DIR, SPEC};
use floe_engine::{FileKind, MemorySystem, System, WsPath};
use floe_schemas::diag::{Code, Diagnostic};

use super::walk::MAX_ENTRIES;
use crate::cli::Failure;
use crate::system::OsSystem;

/// Where the in-memory workspace lives.
pub const ROOT: &str = "/workspace";

/// Bounds on what is held in memory at once: a product directory is a dbt
/// project, and a larger tree is built in a workspace, where files are read
/// one at a time.
const MAX_FILES: usize = 20_000;
const MAX_BYTES: u64 = 256 << 20;

pub struct Inputs {
    pub mem: MemorySystem,
    /// The product's package directory in the in-memory workspace.
    pub product: WsPath,
    /// In-memory workspace path → the real file, as shown.
    pub shown: BTreeMap<String, String>,
    /// What the driver found itself: the references between the files, and
    /// what the walk of the product directory refused.
    pub diagnostics: Vec<Diagnostic>,
    /// The manifest chain could not be resolved: there is nothing to build.
    pub unbuildable: bool,
}

/// `path` as diagnostics and messages show it: relative to `base` when it
/// lies below it.
pub fn show(base: &Path, path: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// Reads the manifest chain, the spec and the product's files (`spec` and
/// `manifest` are link-free paths of regular files).
pub fn gather(base: &Path, spec: &Path, manifest: &Path, jobs: usize) -> Result<Inputs, Failure> {
    let os = OsSystem;
    let manifest_bytes = read(&os, manifest)?;
    let spec_bytes = read(&os, spec)?;
    let spec_shown = show(base, spec);
    let manifest_shown = show(base, manifest);
    let mut diagnostics = check_platform_ref(&spec_bytes, spec, manifest, &spec_shown);

    // The tiers, root first.
    let mut tiers = vec![(manifest.to_path_buf(), manifest_bytes)];
    match parent_of(&tiers[0].1, manifest, &manifest_shown)? {
        Parent::None => {}
        Parent::File(path) => {
            let bytes = read(&os, &path)?;
            tiers.insert(0, (path, bytes));
        }
        Parent::Broken(d) => {
            diagnostics.push(d);
            return Ok(Inputs {
                mem: MemorySystem::new(),
                product: WsPath::ROOT,
                shown: BTreeMap::new(),
                diagnostics,
                unbuildable: true,
            });
        }
    }

    let mem = MemorySystem::new();
    let root = Path::new(ROOT);
    let mut shown = BTreeMap::new();
    let mut put = |at: &WsPath, real: &Path, bytes: &[u8]| {
        mem.put(root.join(at.as_str()), bytes);
        shown.insert(at.to_string(), show(base, real));
    };
    let platform = match tiers.len() {
        1 => WsPath::ROOT,
        _ => WsPath::ROOT.join(&package_name(manifest, "domain")).expect("a plain name joins"),
    };
    for (i, (path, bytes)) in tiers.iter().enumerate() {
        let dir = if i == 0 { WsPath::ROOT } else { platform.clone() };
        put(&dir.join(MANIFEST).expect("a plain name joins"), path, bytes);
    }
    let product = platform.join(&package_name(spec, "product")).expect("a plain name joins");
    put(&product.join(SPEC).expect("a plain name joins"), spec, &spec_bytes);

    let dir = spec.parent().unwrap_or(Path::new("/"));
    let walk = super::walk::ProductDir::new(MAX_ENTRIES);
    let found = match floe_engine::discover::discover(&walk, dir, &BTreeMap::new(), 0, jobs) {
        Err(_) if walk.exceeded() => return Err(too_large(base, dir, &format!("more than {MAX_ENTRIES} entries"))),
        found => found?,
    };
    // The product's files, not those of a package below it (another
    // product, a platform), which a build reads for that package.
    let nested: Vec<WsPath> = found
        .files
        .iter()
        .filter(|(rel, _)| matches!(rel.file_name(), MANIFEST | SPEC))
        .filter_map(|(rel, _)| rel.parent())
        .filter(|d| !d.is_root() && !floe_engine::layout::in_model_dir(d.as_str()))
        .collect();
    let own = |rel: &WsPath| !nested.iter().any(|n| rel.starts_with(n));
    for mut d in found.diagnostics {
        if d.file.as_deref().and_then(WsPath::new).is_none_or(|f| own(&f)) {
            d.file = d.file.map(|f| show(base, &dir.join(f)));
            diagnostics.push(d);
        }
    }
    // The product's platform is the manifest given, and its spec the one
    // given, whatever else its directory holds.
    let files: Vec<_> =
        found.files.iter().filter(|(rel, _)| own(rel) && rel.as_str() != SPEC && rel.as_str() != MANIFEST).collect();
    let bytes: u64 = files.iter().map(|(_, st)| st.size).sum();
    if files.len() > MAX_FILES || bytes > MAX_BYTES {
        return Err(too_large(base, dir, &format!("{} files of {bytes} bytes that a build reads", files.len())));
    }
    for (rel, _) in files {
        let real = dir.join(rel.as_str());
        // A file gone since the walk is not part of the product any more.
        if let Some(bytes) = os.read(&real)? {
            put(&product.join(rel.as_str()).expect("a relative path joins"), &real, &bytes);
        }
    }
    Ok(Inputs { mem, product, shown, diagnostics, unbuildable: false })
}

fn too_large(base: &Path, dir: &Path, holds: &str) -> Failure {
    Failure::Usage(format!(
        "`{}` holds {holds}, more than `platform compile` takes ({MAX_FILES} files of {MAX_BYTES} bytes, \
         {MAX_ENTRIES} entries); build it in a workspace with `floe build`",
        show(base, dir)
    ))
}

fn read(os: &OsSystem, path: &Path) -> Result<Vec<u8>, Failure> {
    os.read(path)?.ok_or_else(|| Failure::Usage(format!("`{}` is not a file", path.display())))
}

/// The in-memory directory name of the package whose file is `file`: its
/// real directory's name when a label can spell it and the layout would not
/// read it as something else, else `fallback`.
fn package_name(file: &Path, fallback: &str) -> String {
    let name = file.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("");
    let usable = WsPath::new(name)
        .is_some_and(|p| p.as_str() == name && floe_engine::layout::unaddressable(&p).is_none())
        && !name.is_empty()
        && ![MODELS_DIR, PLUGINS_DIR, floe_engine::discover::OUT_DIR].contains(&name);
    if usable { name.to_owned() } else { fallback.to_owned() }
}

enum Parent {
    /// Not a domain manifest: it is the root.
    None,
    /// The enterprise manifest a domain manifest names, link-free.
    File(PathBuf),
    /// A domain manifest whose enterprise manifest cannot be read.
    Broken(Diagnostic),
}

/// The enterprise manifest above a domain manifest, from its `parent_manifest`.
fn parent_of(bytes: &[u8], path: &Path, shown: &str) -> Result<Parent, Failure> {
    // A manifest that does not parse is reported by the build.
    let Ok(node) = floe_schemas::yaml::parse(shown, bytes) else { return Ok(Parent::None) };
    let Some(scope) = node.get("scope").filter(|s| s.as_str() == Some("domain")) else { return Ok(Parent::None) };
    let Some(reference) = node.get("parent_manifest").filter(|r| !r.is_null()) else {
        return Ok(Parent::Broken(
            Diagnostic::error(Code::MissingParent, "this domain manifest names no enterprise manifest to inherit from")
                .at(shown, scope.span)
                .with_help("add `parent_manifest: PATH` (the enterprise manifest.yaml), or compile against the enterprise manifest"),
        ));
    };
    // Not a string: the build reports its type.
    let Some(text) = reference.as_str() else { return Ok(Parent::None) };
    let broken = |code, message: String, help: &str| {
        Ok(Parent::Broken(Diagnostic::error(code, message).at(shown, reference.span).with_help(help.to_owned())))
    };
    if text.starts_with("oci://") {
        return broken(
            Code::UnpinnedReference,
            format!("`{text}` is a registry reference; `platform compile` reads the enterprise manifest from a file"),
            "pull the enterprise manifest and point `parent_manifest` at its file",
        );
    }
    let target = path.parent().unwrap_or(Path::new("/")).join(text);
    match OsSystem.resolve(&target)? {
        Some((real, _)) if real == path => broken(
            Code::ManifestCycle,
            "this manifest names itself as its parent".to_owned(),
            "point `parent_manifest` at the enterprise manifest.yaml",
        ),
        Some((real, FileKind::File)) => Ok(Parent::File(real)),
        Some((_, kind)) => broken(
            Code::MissingParent,
            format!("parent manifest `{text}` is {}, not a file", kind.describe()),
            "point `parent_manifest` at the enterprise manifest.yaml",
        ),
        None => broken(
            Code::MissingParent,
            format!("parent manifest `{text}` does not exist"),
            "point `parent_manifest` at the enterprise manifest.yaml",
        ),
    }
}

/// The spec's `platform.manifest`, when relative, must lead to `--manifest`.
fn check_platform_ref(spec: &[u8], spec_path: &Path, manifest_path: &Path, spec_shown: &str) -> Vec<Diagnostic> {
    let Ok(node) = floe_schemas::yaml::parse(spec_shown, spec) else { return Vec::new() };
    let Some(reference) = node.get("platform").and_then(|p| p.get("manifest")) else { return Vec::new() };
    let Some(text) = reference.as_str() else { return Vec::new() };
    if text.starts_with("oci://") {
        return Vec::new();
    }
    let target = spec_path.parent().map(|d| d.join(text));
    let resolved = target.as_deref().and_then(|t| crate::system::canonicalize(t).ok());
    if resolved.as_deref() == Some(manifest_path) {
        return Vec::new();
    }
    vec![
        Diagnostic::error(Code::PlatformMismatch, format!("`{text}` is not the manifest given with --manifest"))
            .at(spec_shown, reference.span)
            .with_help("compile against the manifest the product names, or correct `platform.manifest`"),
    ]
}
