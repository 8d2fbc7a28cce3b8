//! `floe platform compile --spec F --manifest M`: the Python implementation's
//! command, for users switching over.
//!
//! One product is compiled against one manifest outside any workspace. The files
//! are placed in an in-memory workspace (manifest at the root, product below
//! it) and built there like any other; only the outputs reach the disk. Since
//! the product's `platform.manifest` names the real file, the driver checks that
//! reference against the real paths itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_engine::{MemorySystem, Options, Session, System, WsPath};
use floe_schemas::diag::{Code, Diagnostic, Span};

use crate::cli::{Cli, Failure};
use crate::output::Printer;
use crate::system::OsSystem;

const ROOT: &str = "/workspace";
const PRODUCT_DIR: &str = "product";

pub fn compile(
    cli: &Cli,
    printer: &Printer,
    spec: &Path,
    manifest: &Path,
    output: Option<&Path>,
) -> Result<(), Failure> {
    let cwd = crate::system::current_dir()?;
    let base = match &cli.dir {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    let real = |p: &Path, what: &str| {
        crate::system::canonicalize(&base.join(p))
            .map_err(|e| Failure::Usage(format!("{what} `{}`: {}", p.display(), e.message)))
    };
    let spec_path = real(spec, "--spec")?;
    let manifest_path = real(manifest, "--manifest")?;
    let os = OsSystem;
    let read = |p: &Path| -> Result<Vec<u8>, Failure> {
        os.read(p)?.ok_or_else(|| Failure::Usage(format!("`{}` is not a file", p.display())))
    };
    let spec_bytes = read(&spec_path)?;
    let manifest_bytes = read(&manifest_path)?;
    let dbt_path = spec_path.parent().map(|d| d.join(floe_engine::layout::DBT_PROJECT));
    let dbt_bytes = match &dbt_path {
        Some(p) => os.read(p)?,
        None => None,
    };

    let shown = |p: &Path| p.strip_prefix(&base).unwrap_or(p).display().to_string();
    let spec_shown = shown(&spec_path);
    let manifest_shown = shown(&manifest_path);
    let mut diagnostics = check_platform_ref(&spec_bytes, &spec_path, &manifest_path, &spec_shown);

    let mem = Arc::new(MemorySystem::new());
    let root = PathBuf::from(ROOT);
    mem.put(root.join(floe_engine::layout::MANIFEST), &manifest_bytes);
    mem.put(root.join(PRODUCT_DIR).join(floe_engine::layout::SPEC), &spec_bytes);
    if let Some(b) = &dbt_bytes {
        mem.put(root.join(PRODUCT_DIR).join(floe_engine::layout::DBT_PROJECT), b);
    }
    let mut settings = crate::cli::settings()?;
    settings.standalone = true;
    let options = Options {
        workspace: root.clone(),
        store: PathBuf::from("/store"),
        out: PathBuf::from("/out"),
        cwd: WsPath::ROOT,
        labels: vec![format!("//{PRODUCT_DIR}")],
        settings,
        jobs: 1,
    };
    let mut session = Session::open(mem.clone(), options)?;
    let report = session.build()?;

    // Diagnostics name the in-memory files; show the real ones.
    let rename = |f: &str| match f {
        "manifest.yaml" => manifest_shown.clone(),
        "product/floe.yaml" => spec_shown.clone(),
        "product/dbt_project.yml" => dbt_path.as_deref().map(shown).unwrap_or_default(),
        other => other.to_owned(),
    };
    diagnostics.extend(report.diagnostics.iter().cloned().map(|mut d| {
        d.file = d.file.as_deref().map(rename);
        for n in &mut d.notes {
            n.file = rename(&n.file);
        }
        d
    }));
    printer.diagnostics(&base, &diagnostics)?;
    if diagnostics.iter().any(Diagnostic::is_error) || report.has_errors() {
        return Err(Failure::User);
    }
    let out_dir = base.join(output.unwrap_or(Path::new(floe_engine::discover::OUT_DIR)));
    for file in mem.files_under(Path::new("/out").join(PRODUCT_DIR)) {
        let Some(name) = file.file_name() else { continue };
        let bytes = mem.get(&file).unwrap_or_default();
        os.write_atomic(&out_dir, &name.to_string_lossy(), &bytes)?;
        if printer.verbosity != crate::output::Verbosity::Quiet && printer.format == crate::output::Format::Human {
            crate::output::err(&format!("wrote {}\n", floe_schemas::diag::escape(&shown(&out_dir.join(name)))))?;
        }
    }
    Ok(())
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
    let span = Span { ..reference.span };
    vec![
        Diagnostic::error(Code::PlatformMismatch, format!("`{text}` is not the manifest given with --manifest"))
            .at(spec_shown, span)
            .with_help("compile against the manifest the product names, or correct `platform.manifest`"),
    ]
}
