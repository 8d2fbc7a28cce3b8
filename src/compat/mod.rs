//! `floe platform compile`: the Python implementation's command, a drop-in
//! for users switching over.
//!
//! It takes the same flags: `-s/--spec`, `-m/--manifest`, `-o/--output` (the
//! compiled artifacts' file, `target/compiled_artifacts.json` unless given),
//! `--output-format json|yaml|configmap` (the last a Kubernetes ConfigMap
//! holding them as `values.yaml`, named by `--configmap-name`, in
//! `--namespace` if given), `--enforcement-report FILE` with
//! `--enforcement-format json|sarif|html`, `--generate-definitions` (the
//! orchestrator's definitions beside the output) and `--skip-contracts`
//! (nothing to skip: compiling never reaches live infrastructure). An
//! `--output` that is an existing directory receives every output of the
//! product, as `floe build` writes them.
//!
//! `--drift-detection` compares contracts with live tables, which needs a
//! database connection; compiling never opens one, so it is refused (the
//! product's job detects drift, as `governance.data_contracts` configures).
//!
//! One product is compiled against one manifest outside any workspace. The
//! files are placed in an in-memory workspace and built there like any other
//! (`inputs`): the manifest at the root (a domain manifest below the
//! enterprise manifest its `parent_manifest` names), the product below it
//! with every file of its directory that a build reads. Only the outputs
//! reach the disk (`outputs`). Diagnostics name the real files; since the
//! in-memory layout is not the real one, the driver checks the product's
//! `platform.manifest` and the domain's `parent_manifest` against the real
//! paths itself.

mod inputs;
mod outputs;
mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_engine::{FileKind, Options, Session, System, WsPath};
use floe_schemas::diag::{Diagnostic, escape};

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, print_json};
use crate::system::OsSystem;

#[derive(clap::Args)]
pub struct CompileArgs {
    /// The data product's floe.yaml
    #[arg(short = 's', long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub spec: PathBuf,
    /// The platform's manifest.yaml (a domain manifest brings the enterprise manifest it names)
    #[arg(short = 'm', long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub manifest: PathBuf,
    /// Where the compiled artifacts go [default: target/compiled_artifacts.json];
    /// an existing directory receives every output of the product
    #[arg(short = 'o', long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Format of the compiled artifacts
    #[arg(long, value_enum, default_value = "json", ignore_case = true)]
    pub output_format: ArtifactsFormat,
    /// Also write the governance report to PATH
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub enforcement_report: Option<PathBuf>,
    /// Format of the governance report
    #[arg(long, value_enum, default_value = "json", ignore_case = true)]
    pub enforcement_format: ReportFormat,
    /// Also write the orchestrator's definitions (definitions.py, …) beside the compiled artifacts
    #[arg(long)]
    pub generate_definitions: bool,
    /// The ConfigMap's `metadata.name` (with `--output-format configmap`)
    #[arg(long, value_name = "NAME", default_value = DEFAULT_CONFIGMAP, value_parser = configmap_name)]
    pub configmap_name: String,
    /// The ConfigMap's `metadata.namespace` (with `--output-format configmap`), omitted unless given
    #[arg(long, value_name = "NAMESPACE", value_parser = namespace)]
    pub namespace: Option<String>,
    /// Accepted as the Python command takes it: compiling checks data contracts against the
    /// workspace only, never against live infrastructure, so there is nothing to skip
    #[arg(long)]
    pub skip_contracts: bool,
    /// Refused: drift is detected against live tables, and compiling connects to no database
    #[arg(long, hide = true)]
    pub drift_detection: bool,
}

pub const DEFAULT_CONFIGMAP: &str = "floe-compiled-values";

/// A Kubernetes object name (a DNS-1123 subdomain), as the API server checks it.
fn configmap_name(s: &str) -> Result<String, String> {
    let ok = s.len() <= 253 && !s.is_empty() && s.split('.').all(dns_label);
    ok.then(|| s.to_owned()).ok_or_else(|| {
        "a ConfigMap name is lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, \
         at most 253 characters"
            .to_owned()
    })
}

/// A namespace name (a DNS-1123 label).
fn namespace(s: &str) -> Result<String, String> {
    (dns_label(s) && s.len() <= 63).then(|| s.to_owned()).ok_or_else(|| {
        "a namespace is lowercase letters, digits and `-`, starting and ending with a letter or digit, \
         at most 63 characters"
            .to_owned()
    })
}

use floe_schemas::manifest::is_dns_label as dns_label;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArtifactsFormat {
    Json,
    Yaml,
    Configmap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Json,
    Sarif,
    Html,
}

/// Where the in-memory build writes.
const OUT: &str = "/out";

pub fn compile(cli: &Cli, printer: &Printer, args: &CompileArgs) -> Result<(), Failure> {
    if args.drift_detection {
        return Err(Failure::Usage(
            "--drift-detection compares contracts with live tables, and compiling connects to no database; \
             the product's job detects drift as `governance.data_contracts.drift_detection` configures"
                .to_owned(),
        ));
    }
    let configmap = args.output_format == ArtifactsFormat::Configmap;
    if !configmap && (args.configmap_name != DEFAULT_CONFIGMAP || args.namespace.is_some()) {
        printer.warn("--configmap-name and --namespace are only used with --output-format configmap")?;
    }
    let base = crate::cli::base_dir(cli)?;
    // Paths are shown relative to `base`; both sides are link-free.
    let base = crate::system::canonicalize(&base).unwrap_or(base);
    let spec = input_file(&base, &args.spec, "--spec")?;
    let manifest = input_file(&base, &args.manifest, "--manifest")?;

    let inputs = inputs::gather(&base, &spec, &manifest, crate::cli::jobs(cli))?;
    if inputs.unbuildable {
        return fail(printer, &base, &inputs.diagnostics);
    }
    let mem = Arc::new(inputs.mem);
    let mut settings = crate::cli::settings()?;
    settings.standalone = true;
    let options = Options {
        workspace: PathBuf::from(inputs::ROOT),
        store: PathBuf::from("/store"),
        out: PathBuf::from(OUT),
        cwd: WsPath::ROOT,
        labels: vec![floe_engine::label::package_label(&inputs.product)],
        settings,
        jobs: 1,
        remote: None,
        check_outputs: false,
        progress: None,
        warm: false,
    };
    let mut session = Session::open(mem.clone(), options)?;
    let report = session.build()?;
    let mut diagnostics = inputs.diagnostics;
    diagnostics.extend(report.diagnostics.iter().cloned().map(|d| rename(d, &inputs.shown)));
    if diagnostics.iter().any(Diagnostic::is_error) || report.has_errors() {
        return fail(printer, &base, &diagnostics);
    }

    let out_dir = Path::new(OUT).join(inputs.product.as_str());
    let produced: BTreeMap<String, Vec<u8>> = mem
        .files_under(&out_dir)
        .into_iter()
        .filter_map(|file| {
            let rel = file.strip_prefix(&out_dir).ok()?.to_str()?.to_owned();
            Some((rel, mem.get(&file)?))
        })
        .collect();
    printer.diagnostics(&base, &diagnostics)?;
    let plan = outputs::plan(&base, args, &produced)?;
    let written: Vec<String> = outputs::write(&OsSystem, &plan)?.iter().map(|p| inputs::show(&base, p)).collect();
    match printer.format {
        Format::Human if printer.verbosity != Verbosity::Quiet => {
            crate::output::err(&written.iter().map(|p| format!("wrote {}\n", escape(p))).collect::<String>())?;
        }
        Format::Human => {}
        _ => print_json(&serde_json::json!({ "diagnostics": diagnostics, "written": written }))?,
    }
    Ok(())
}

/// Shows the diagnostics of a compilation that failed: rendered on stderr,
/// or, with `--format json`, as one document on stdout.
fn fail(printer: &Printer, base: &Path, diagnostics: &[Diagnostic]) -> Result<(), Failure> {
    printer.diagnostics(base, diagnostics)?;
    if printer.format != Format::Human {
        print_json(&serde_json::json!({ "diagnostics": diagnostics, "written": [] }))?;
    }
    Err(Failure::User)
}

/// `--spec` or `--manifest`: an existing file, link-free.
fn input_file(base: &Path, given: &Path, flag: &str) -> Result<PathBuf, Failure> {
    let shown = given.display();
    match OsSystem.resolve(&base.join(given))? {
        Some((path, FileKind::File)) => Ok(path),
        Some((_, kind)) => Err(Failure::Usage(format!("{flag} `{shown}` is {}, not a file", kind.describe()))),
        None => Err(Failure::Usage(format!("{flag} `{shown}` does not exist"))),
    }
}

/// A diagnostic of the in-memory build, naming the real files.
fn rename(mut d: Diagnostic, shown: &BTreeMap<String, String>) -> Diagnostic {
    let real = |f: &str| shown.get(f).cloned().unwrap_or_else(|| f.to_owned());
    d.file = d.file.as_deref().map(real);
    for n in &mut d.notes {
        n.file = real(&n.file);
    }
    d
}
