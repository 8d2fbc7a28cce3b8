//! Arguments, workspace discovery and the commands.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use floe_engine::build::Status;
use floe_engine::label;
use floe_engine::{IoError, Options, Session, Settings, System, WsPath};
use floe_schemas::diag::{Code, Diagnostic, escape, escape_text};

use crate::output::{Format, Printer, Stream, Verbosity, WriteError, err, out, print_json};
use crate::system::OsSystem;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Parser)]
#[command(name = "floe", version, about = "The platform compiler for data platforms", after_help = crate::env::help())]
pub struct Cli {
    /// Run as if floe was started in DIR
    #[arg(short = 'C', long = "workspace", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub format: Format,
    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// List every derivation
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Store directory (default: $FLOE_STORE, else <workspace>/.floe)
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Parallel jobs (default: all cores)
    #[arg(short, long, global = true, value_name = "N")]
    pub jobs: Option<usize>,
    /// Take derivations from a remote cache before building them: a registry (`oci://HOST/REPO`) or a directory (default: $FLOE_REMOTE_CACHE)
    #[arg(long, global = true, value_name = "URL")]
    pub remote_cache: Option<String>,
    /// Also give the remote cache what this build builds (for trusted CI)
    #[arg(long, global = true)]
    pub remote_cache_write: bool,
    /// User name for registries (publish, promote, a registry remote cache); the password from --registry-password-stdin or $FLOE_REGISTRY_PASSWORD (default: $FLOE_REGISTRY_USERNAME, else the Docker config's credentials)
    #[arg(long, global = true, value_name = "USER", help_heading = "Registry options")]
    pub registry_username: Option<String>,
    /// Read the registry password from standard input (there is no password flag: a command line is visible to every user of the machine)
    #[arg(long, global = true, help_heading = "Registry options")]
    pub registry_password_stdin: bool,
    /// PEM file of CA certificates registries are trusted by, besides the system's (default: $FLOE_REGISTRY_CA); with one, a registry on this machine is spoken to in TLS too
    #[arg(long, global = true, value_name = "FILE", help_heading = "Registry options")]
    pub registry_ca: Option<PathBuf>,
    /// Write a profile of the run to FILE: a Chrome trace-event file of every phase and derivation, which Perfetto opens
    #[arg(long, global = true, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build packages: compiled artifacts, dbt profiles, derivation records
    Build {
        /// Labels to build (default: //...)
        labels: Vec<String>,
        /// Look at every output a build reuses, not only the directories that
        /// hold them: an output made writable and edited in place is restored
        #[arg(long)]
        check_outputs: bool,
        /// Build again after every save, until interrupted: one summary per build
        #[arg(long)]
        watch: bool,
    },
    /// Serve editors over stdio (Language Server Protocol): diagnostics as
    /// you type, hover, go to definition, completion and quick fixes
    Lsp,
    /// Validate and check every guardrail, writing no outputs
    Check {
        /// Labels to check (default: //...)
        labels: Vec<String>,
    },
    /// Pin the products' output ports in floe.lock: the baseline their next change is judged against
    Lock {
        /// Labels of the products to pin (default: //...)
        labels: Vec<String>,
    },
    /// Print derivation keys without building
    Hash {
        /// Labels to hash (default: //...)
        labels: Vec<String>,
    },
    /// Explain which inputs changed since a target was last built
    Why {
        #[arg(required = true)]
        labels: Vec<String>,
    },
    /// Draw the mesh: domains, products, their ports and who reads them
    /// (`--format dot|mermaid|svg|json`)
    Graph {
        /// Products to draw, with the products they read and that read them (default: //...)
        labels: Vec<String>,
    },
    /// List the packages (or targets) a pattern matches; `deps(LABEL)` and
    /// `rdeps(LABEL)`: the products a product reads, or that read it, through
    /// their ports
    Query {
        /// Label pattern (default: //...), or `deps(//x)`, `rdeps(//x)`
        pattern: Option<String>,
        /// List targets instead of packages
        #[arg(long)]
        targets: bool,
    },
    /// Remove floe-out/ (with --all, the store too), or the outputs of some packages
    Clean {
        /// Packages whose outputs to remove (default: all of floe-out/)
        #[arg(conflicts_with = "all")]
        labels: Vec<String>,
        /// Remove the store as well
        #[arg(long)]
        all: bool,
    },
    /// Explain a diagnostic code (`floe explain E0206`)
    Explain {
        /// The code; omitted: list every code
        code: Option<String>,
    },
    /// List the plugins floe has built in
    Plugins,
    /// Probe every network endpoint the platforms' plugins name (the only command that uses the network)
    Doctor {
        /// Platform packages to check (default: //...)
        labels: Vec<String>,
    },
    /// Print the JSON Schema of an input or output format
    Schema {
        /// floe, manifest or compiled-artifacts; omitted: list them
        name: Option<String>,
        /// Write every schema as DIR/<name>.schema.json instead, for editors
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "name")]
        write: Option<PathBuf>,
    },
    /// Create a workspace: a platform manifest and a first product with its dbt project
    Init {
        /// Where (default: the current directory)
        #[arg(value_name = "DIR")]
        path: Option<PathBuf>,
        /// A Data Mesh: an enterprise manifest and a domain, not one centralized manifest
        #[arg(long)]
        mesh: bool,
        /// The platform's name (default: from the directory's)
        #[arg(long, conflicts_with = "platform")]
        name: Option<String>,
        /// Build on a published platform instead of a manifest of your own:
        /// pull `oci://HOST/REPO:TAG` (as `floe platform publish` published it) and pin it in floe.lock
        #[arg(long, value_name = "REFERENCE", conflicts_with = "mesh")]
        platform: Option<String>,
        /// With --platform: require the platform to be signed by this public key (PEM), now and on every `floe pull`
        #[arg(long, value_name = "PUB", requires = "platform")]
        key: Option<PathBuf>,
        /// The first domain (with --mesh)
        #[arg(long, default_value = "analytics", requires = "mesh")]
        domain: String,
        /// The first product
        #[arg(long, default_value = "example")]
        product: String,
    },
    /// Add to the workspace: `floe new product //DOMAIN/NAME`
    New {
        #[command(subcommand)]
        command: NewCommand,
    },
    /// Build products and publish each as an OCI artifact (`--to oci://HOST/REPO` or `oci-layout:DIR`)
    Publish(crate::publish::PublishArgs),
    /// Give a published artifact another tag (`floe promote oci://HOST/REPO:1.2.0 --to prod`), uploading no blob
    Promote(crate::publish::PromoteArgs),
    /// Build products and bring their Kubernetes objects to a cluster: server-side apply of what changed, prune of what floe no longer renders
    Deploy(crate::deploy::DeployArgs),
    /// Show, as a unified diff per object, what `floe deploy` would change in the cluster
    Diff(crate::deploy::DiffArgs),
    /// Show, per product, the derivation the build wants, the one deployed, and its last run
    Status(crate::deploy::StatusArgs),
    /// Fetch the platform floe.lock pins into the store (`--update`: pin what its tag names now)
    Pull(crate::pull::PullArgs),
    /// Check that a published artifact carries a signature by a key, in cosign's format (`floe verify oci://HOST/REPO:1.2.0 --key key.pub`)
    Verify(crate::publish::sign::VerifyArgs),
    /// Maintain the store: `gc` drops what nothing needs, `verify` checks every entry
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// The platform: `compile` (the Python implementation's command), `publish` and `deploy`
    Platform {
        #[command(subcommand)]
        command: PlatformCommand,
    },
    /// Print the completion script of a shell (`floe completions bash`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print floe's manual page, in roff (`floe man | man -l -`)
    Man {
        /// A command, for its own page (`floe man build` prints floe-build(1))
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum NewCommand {
    /// A data product with a small dbt project, checked against its platform first
    Product {
        /// Its label: `//DOMAIN/NAME` in a Data Mesh, `//NAME` in a centralized workspace
        label: String,
    },
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Keep what the workspaces' last builds and the store's last N builds use; repack it and remove the rest
    Gc {
        /// How many of the store's most recent builds to keep whole
        #[arg(long, value_name = "N", default_value_t = 10)]
        keep_builds: usize,
    },
    /// Read every entry back and check it against its hash (exit 3 when something is damaged)
    Verify,
}

#[derive(Subcommand)]
pub enum PlatformCommand {
    /// Compile one floe.yaml against one manifest.yaml, as the Python implementation's command does
    Compile(crate::compat::CompileArgs),
    /// Publish the enterprise and domain manifests, resolved, as OCI artifacts (`platform`, `platform/<domain>`)
    Publish(crate::publish::PublishArgs),
    /// Install the platform chart with the values the build writes (`helm upgrade --install`), or print the command without helm
    Deploy(crate::deploy::PlatformDeployArgs),
}

/// Why a command could not finish.
pub enum Failure {
    /// The input or a policy failed; diagnostics were shown.
    User,
    Usage(String),
    Infra(IoError),
    /// `floe doctor` found endpoints that do not answer.
    Unreachable(usize),
    /// A cluster (its API server, or helm) failed or refused: the message
    /// says which and what to check (exit 3).
    Cluster(String),
    /// `floe store verify` found damaged entries.
    Damaged(usize),
    /// stdout or stderr could not be written (a closed pipe is no failure).
    Output(WriteError),
}

impl From<IoError> for Failure {
    fn from(e: IoError) -> Failure {
        Failure::Infra(e)
    }
}

impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Failure {
        Failure::Output(e)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are data on stdout (exit 0); a usage error goes to
        // stderr (exit 2), quoting the arguments escaped.
        Err(e) => {
            let stream = if e.use_stderr() { Stream::Stderr } else { Stream::Stdout };
            let code = u8::try_from(e.exit_code()).unwrap_or(2);
            return exit_code(code, crate::output::write(stream, &escape_text(&e.render().to_string())));
        }
    };
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let printer = Printer::new(cli.format, verbosity);
    // A profile's path is relative to where floe runs, as with `-C DIR`.
    let profile = cli.profile.as_deref().map(|p| base_dir(&cli).map(|b| b.join(p))).transpose();
    let ran = match profile.and_then(|p| crate::telemetry::start(p.as_deref())) {
        Ok(telemetry) => {
            let root = tracing::info_span!("floe").entered();
            let ran = run(&cli, &printer, &telemetry);
            drop(root);
            match telemetry.finish() {
                Err(e) if ran.is_ok() => Err(e),
                _ => ran,
            }
        }
        Err(e) => Err(e),
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::User) => ExitCode::from(1),
        Err(Failure::Usage(message)) => exit_code(2, err(&format!("error: {}\n", escape(&message)))),
        Err(Failure::Infra(e)) => exit_code(
            3,
            err(&format!(
                "error: {}\nhint: this is a problem with the machine or the store, not with the workspace; failures are not cached, so the next build tries again\n",
                escape(&e.to_string())
            )),
        ),
        Err(Failure::Cluster(message)) => exit_code(3, err(&format!("error: {message}\n"))),
        Err(Failure::Unreachable(n)) => exit_code(3, err(&format!("error: {n} endpoint(s) did not answer\n"))),
        Err(Failure::Damaged(n)) => exit_code(
            3,
            err(&format!(
                "error: the store has {n} damaged entr{}\nhint: `floe store gc` drops them; builds never serve them\n",
                if n == 1 { "y" } else { "ies" }
            )),
        ),
        Err(Failure::Output(e)) => exit_code(3, Err(e)),
    }
}

/// `code`, unless what was to be written could not be: that is an
/// infrastructure failure of its own (exit 3), said on stderr if stderr still
/// works.
fn exit_code(code: u8, written: Result<(), WriteError>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            let _ = err(&format!("error: cannot write to {}: {}\n", e.stream, e.error));
            ExitCode::from(3)
        }
    }
}

fn run(cli: &Cli, printer: &Printer, telemetry: &crate::telemetry::Telemetry) -> Result<(), Failure> {
    if cli.format == Format::Sarif && !matches!(cli.command, Command::Check { .. }) {
        return Err(Failure::Usage("`--format sarif` is for `floe check`".to_owned()));
    }
    if cli.format.is_drawing() && !matches!(cli.command, Command::Graph { .. }) {
        return Err(Failure::Usage("`--format dot`, `mermaid` and `svg` are for `floe graph`".to_owned()));
    }
    match &cli.command {
        Command::Schema { write: Some(dir), .. } => crate::schema_files::command(cli, printer, dir),
        Command::Schema { name, write: None } => schema(name.as_deref()),
        Command::Init { path, platform: Some(reference), product, key, .. } => {
            crate::pull::init(cli, printer, path.as_deref(), reference, product, key.as_deref())
        }
        Command::Pull(args) => crate::pull::pull(cli, printer, args),
        Command::Init { path, mesh, name, domain, product, platform: None, key: _ } => {
            let opts = crate::init::InitOptions {
                mesh: *mesh,
                name: name.clone(),
                domain: domain.clone(),
                product: product.clone(),
            };
            crate::init::init(cli, printer, path.as_deref(), &opts)
        }
        Command::New { command: NewCommand::Product { label } } => crate::init::new_product(cli, printer, label),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Plugins => plugins(cli.format),
        Command::Doctor { labels } => crate::doctor::doctor(open(cli, labels)?, cli.format, printer),
        Command::Platform { command: PlatformCommand::Compile(args) } => crate::compat::compile(cli, printer, args),
        Command::Store { command } => crate::store_cmd::run(cli, printer, command),
        Command::Publish(args) => crate::publish::publish(cli, printer, args, false),
        Command::Promote(args) => crate::publish::promote(cli, printer, args),
        Command::Verify(args) => crate::publish::sign::command(cli, printer, args),
        Command::Platform { command: PlatformCommand::Publish(args) } => {
            crate::publish::publish(cli, printer, args, true)
        }
        Command::Deploy(args) => crate::deploy::deploy(cli, printer, args),
        Command::Diff(args) => crate::deploy::diff(cli, printer, args),
        Command::Status(args) => crate::deploy::status(cli, printer, args),
        Command::Platform { command: PlatformCommand::Deploy(args) } => {
            crate::deploy::platform_deploy(cli, printer, args)
        }
        Command::Completions { shell } => crate::completions::completions(*shell),
        Command::Man { command } => crate::completions::man(command),
        Command::Build { labels, check_outputs, watch: false } => build(cli, printer, labels, *check_outputs),
        Command::Build { labels, check_outputs, watch: true } => {
            crate::watch::watch(cli, printer, labels, *check_outputs, telemetry)
        }
        Command::Lsp => crate::lsp::serve(cli),
        Command::Check { labels } => {
            let mut session = open(cli, labels)?;
            let mut report = session.check()?;
            let root = session.options.workspace.clone();
            // A breaking change names every consumer it reaches, where it reads the port.
            for d in report.diagnostics.iter_mut().filter(|d| d.code == floe_schemas::Code::ContractVersion) {
                let Some(port) = floe_rules::contracts::evolution::broken_port(&d.message) else { continue };
                for (consumer, file, span) in session.consumers_of(port) {
                    d.notes.push(floe_schemas::diag::Note { file, span, message: format!("{consumer} reads it here") });
                }
            }
            match cli.format {
                Format::Human => {
                    printer.diagnostics(&root, &report.diagnostics)?;
                    if printer.verbosity != Verbosity::Quiet {
                        let packages: std::collections::BTreeSet<&WsPath> =
                            report.derivations.iter().map(|d| &d.label.dir).collect();
                        let counts = floe_schemas::diag::summary_line(&report.diagnostics);
                        err(&format!(
                            "checked {} package{}: {}\n",
                            packages.len(),
                            if packages.len() == 1 { "" } else { "s" },
                            counts.as_deref().unwrap_or("no problems")
                        ))?;
                    }
                }
                Format::Json | Format::Dot | Format::Mermaid | Format::Svg => print_json(&serde_json::json!({
                    "diagnostics": report.diagnostics,
                    "enforcement": report.enforcement,
                }))?,
                Format::Sarif => {
                    let root_uri = format!("file://{}/", floe_schemas::sarif::percent_encode(&root.to_string_lossy()));
                    print_json(&floe_schemas::sarif::log(&report.diagnostics, VERSION, Some(&root_uri)))?;
                }
            }
            if report.has_errors() { Err(Failure::User) } else { Ok(()) }
        }
        Command::Lock { labels } => crate::lock_cmd::lock(cli, printer, labels),
        Command::Hash { labels } => {
            let mut session = open(cli, labels)?;
            let report = session.keys()?;
            printer.diagnostics(&session.options.workspace, &report.diagnostics)?;
            match cli.format {
                Format::Json | Format::Sarif | Format::Dot | Format::Mermaid | Format::Svg => {
                    print_json(&serde_json::json!({
                        "derivations": report.derivations,
                        "diagnostics": report.diagnostics,
                    }))?
                }
                Format::Human => {
                    let mut text = String::new();
                    for d in report.derivations.iter().filter(|d| d.status != Status::Failed) {
                        if let Some(key) = d.key {
                            let _ = writeln!(text, "{key} {}", escape(&d.label.to_string()));
                        }
                    }
                    out(&text)?;
                }
            }
            if report.has_errors() { Err(Failure::User) } else { Ok(()) }
        }
        Command::Why { labels } => {
            let mut session = open(cli, labels)?;
            let reports = floe_engine::why::why(&mut session)?;
            let diags: Vec<Diagnostic> = reports.iter().flat_map(|r| r.diagnostics.iter().cloned()).collect();
            printer.diagnostics(&session.options.workspace, &diags)?;
            match cli.format {
                Format::Json | Format::Sarif | Format::Dot | Format::Mermaid | Format::Svg => print_json(&reports)?,
                Format::Human => out(&why_text(&reports))?,
            }
            if diags.iter().any(Diagnostic::is_error) { Err(Failure::User) } else { Ok(()) }
        }
        Command::Graph { labels } => crate::graph::command(cli, printer, labels),
        Command::Query { pattern: Some(pattern), targets: false } if crate::graph::is_walk(pattern) => {
            crate::graph::query(cli, printer, pattern)
        }
        Command::Query { pattern, targets } => {
            let labels: Vec<String> = pattern.iter().cloned().collect();
            let session = open(cli, &labels)?;
            let (selected, diags) = session.select();
            printer.diagnostics(&session.options.workspace, &diags)?;
            if diags.iter().any(Diagnostic::is_error) {
                return Err(Failure::User);
            }
            let mut rows = Vec::new();
            for sel in &selected {
                let info = &session.layout.packages[sel.package];
                let kind = match info.kind {
                    floe_engine::layout::PackageKind::Root => "platform",
                    floe_engine::layout::PackageKind::Domain => "domain",
                    floe_engine::layout::PackageKind::Product => "product",
                };
                if *targets {
                    rows.extend(sel.targets.iter().map(|t| (label::target_label(&info.dir, *t), kind)));
                } else {
                    rows.push((label::package_label(&info.dir), kind));
                }
            }
            match cli.format {
                Format::Json | Format::Sarif | Format::Dot | Format::Mermaid | Format::Svg => {
                    let v: Vec<_> = rows.iter().map(|(l, k)| serde_json::json!({"label": l, "kind": k})).collect();
                    print_json(&v)?;
                }
                Format::Human => out(&rows.iter().map(|(l, _)| format!("{}\n", escape(l))).collect::<String>())?,
            }
            Ok(())
        }
        Command::Clean { labels, all: _ } if !labels.is_empty() => {
            let mut session = open(cli, labels)?;
            let (removed, diags) = session.clean()?;
            printer.diagnostics(&session.options.workspace, &diags)?;
            if diags.iter().any(Diagnostic::is_error) {
                return Err(Failure::User);
            }
            if printer.verbosity != Verbosity::Quiet && cli.format == Format::Human {
                err(&format!("removed {removed} output file{}\n", if removed == 1 { "" } else { "s" }))?;
            }
            Ok(())
        }
        Command::Clean { labels: _, all } => {
            let (root, _) = locate(cli)?;
            let sys = OsSystem;
            sys.remove_all(&root.join(floe_engine::discover::OUT_DIR))?;
            if *all {
                sys.remove_all(&store_dir(cli, &root))?;
            }
            if printer.verbosity != Verbosity::Quiet && cli.format == Format::Human {
                err(&format!("removed floe-out/{}\n", if *all { " and the store" } else { "" }))?;
            }
            Ok(())
        }
    }
}

/// `floe why` for a person; labels, inputs and paths come from the workspace
/// and are escaped.
fn why_text(reports: &[floe_engine::why::WhyReport]) -> String {
    let mut text = String::new();
    for r in reports {
        let label = escape(&r.label);
        let _ = match (r.previous_key, r.current_key) {
            (None, Some(_)) => writeln!(text, "{label}: never built (no record in the store)"),
            (_, None) => writeln!(text, "{label}: cannot be built now (see the errors above)"),
            (Some(p), Some(c)) if p == c => writeln!(text, "{label}: up to date ({})", c.short()),
            (Some(p), Some(c)) => {
                let _ = writeln!(text, "{label}: rebuilds ({} → {})", p.short(), c.short());
                for input in &r.inputs {
                    let _ = writeln!(text, "  input `{}` {}", escape(&input.input), input.change);
                    for leaf in &input.leaves {
                        let at = match (&leaf.file, leaf.line, leaf.column) {
                            (Some(f), Some(l), Some(c)) => format!("  {}:{l}:{c}", escape(f)),
                            (Some(f), _, _) => format!("  {}", escape(f)),
                            _ => String::new(),
                        };
                        let _ = writeln!(text, "    {}{at}", escape(&leaf.path));
                    }
                }
                Ok(())
            }
        };
    }
    text
}

fn explain(code: Option<&str>) -> Result<(), Failure> {
    let Some(text) = code else {
        let list: String = Code::ALL.iter().map(|c| format!("{}  {}\n", c.as_str(), c.summary())).collect();
        return Ok(out(&list)?);
    };
    match Code::parse(&text.to_ascii_uppercase()) {
        Some(c) => Ok(out(&floe_schemas::catalogue::explain(c))?),
        None => Err(Failure::Usage(format!("no diagnostic code `{text}`; `floe explain` lists them"))),
    }
}

fn schema(name: Option<&str>) -> Result<(), Failure> {
    let schemas = floe_schemas::generated_schemas();
    let names: Vec<&str> = schemas.iter().map(|(file, _)| file.trim_end_matches(".schema.json")).collect();
    let Some(name) = name else {
        return Ok(out(&names.iter().map(|n| format!("{n}\n")).collect::<String>())?);
    };
    match schemas.iter().find(|(file, _)| file.trim_end_matches(".schema.json") == name) {
        Some((_, text)) => Ok(out(text)?),
        None => Err(Failure::Usage(format!("no schema `{name}`; floe has: {}", names.join(", ")))),
    }
}

/// The directory paths on the command line are relative to: `-C DIR`, or the current one.
pub(crate) fn base_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    let cwd = crate::system::current_dir()?;
    Ok(match &cli.dir {
        Some(d) => cwd.join(d),
        None => cwd,
    })
}

/// The directory floe runs in and the workspace root above it.
pub(crate) fn locate(cli: &Cli) -> Result<(PathBuf, PathBuf), Failure> {
    let cwd = crate::system::current_dir()?;
    let start = match &cli.dir {
        Some(d) => crate::system::canonicalize(&cwd.join(d))
            .map_err(|e| Failure::Usage(format!("`{}`: {}", d.display(), e.message)))?,
        None => cwd,
    };
    locate_from(start)
}

/// The workspace root at or above `start`, and `start`.
pub(crate) fn locate_from(start: PathBuf) -> Result<(PathBuf, PathBuf), Failure> {
    let mut outermost_domain = None;
    // Manifests that are links out of their own directory: such a directory
    // cannot be the root; the walk of the root found above judges them.
    let mut leaving = Vec::new();
    for dir in start.ancestors() {
        let bytes = match manifest_in(dir)? {
            // A root whose platform is published: `floe.lock` pins it.
            Manifest::Absent if is_lock(dir)? => return Ok((dir.to_path_buf(), start)),
            Manifest::Absent => continue,
            Manifest::Leaves(link, target) => {
                leaving.push((link, target));
                continue;
            }
            Manifest::Found(bytes) => bytes,
        };
        // A domain manifest is not the root: keep walking up.
        let scope = floe_schemas::yaml::parse("manifest.yaml", &bytes)
            .ok()
            .and_then(|n| n.get("scope").and_then(|s| s.as_str().map(str::to_owned)));
        if scope.as_deref() != Some("domain") {
            return Ok((dir.to_path_buf(), start));
        }
        outermost_domain = Some(dir.to_path_buf());
    }
    // Only domain manifests above: the outermost is the root, and its build
    // says that a root cannot be a domain.
    if let Some(root) = outermost_domain {
        return Ok((root, start));
    }
    for (link, target) in leaving {
        report(
            Diagnostic::error(
                Code::LinkLeavesWorkspace,
                format!("`{}` is a symbolic link to `{}`, outside its directory", link.display(), target.display()),
            )
            .with_help("a workspace's root manifest.yaml must lie in the workspace: copy it in"),
            &link,
        )?;
    }
    report(
        Diagnostic::error(
            Code::NoWorkspace,
            format!("no workspace: no platform manifest.yaml in `{}` or above", start.display()),
        )
        .with_help("run floe inside a workspace, or pass `-C DIR`; `floe init` makes one, `floe init --platform oci://…` one on a published platform"),
        Path::new(""),
    )?;
    Err(Failure::User)
}

/// Whether `dir` holds a `floe.lock` (a regular file: it is read later).
fn is_lock(dir: &Path) -> Result<bool, Failure> {
    Ok(crate::system::kind(&dir.join(floe_engine::lock::LOCK))? == Some(floe_engine::FileKind::File))
}

/// What a directory's `manifest.yaml` is to the walk up to the root.
enum Manifest {
    Absent,
    /// The bytes of a regular file, or of a link to one inside the directory.
    Found(Vec<u8>),
    /// A link that leads out of the directory.
    Leaves(PathBuf, PathBuf),
}

/// The `manifest.yaml` of `dir`, read only if it is a regular file: a FIFO is
/// never opened (it would wait for a writer forever), a device never read.
fn manifest_in(dir: &Path) -> Result<Manifest, Failure> {
    use floe_engine::FileKind;
    let path = dir.join(floe_engine::layout::MANIFEST);
    let kind = match crate::system::kind(&path)? {
        Some(FileKind::Link) => match OsSystem.resolve(&path)? {
            Some((target, _)) if !target.starts_with(dir) => return Ok(Manifest::Leaves(path, target)),
            Some((_, kind)) => kind,
            None => return Ok(Manifest::Absent),
        },
        Some(kind) => kind,
        None => return Ok(Manifest::Absent),
    };
    match kind {
        FileKind::File => Ok(crate::system::read_regular(&path)?.map_or(Manifest::Absent, Manifest::Found)),
        FileKind::Dir => Ok(Manifest::Absent),
        other => {
            report(
                Diagnostic::error(
                    Code::NotARegularFile,
                    format!("`{}` is {}, not a regular file; floe does not read it", path.display(), other.describe()),
                )
                .with_help("replace it with a regular file"),
                &path,
            )?;
            Err(Failure::User)
        }
    }
}

/// Prints a diagnostic of the walk up to the root (there is no workspace yet
/// to render it against): about `file` as a whole, never quoting it.
fn report(mut diagnostic: Diagnostic, file: &Path) -> Result<(), Failure> {
    if !file.as_os_str().is_empty() {
        diagnostic.file = Some(file.display().to_string());
    }
    Ok(err(&format!("{}\n", floe_schemas::diag::render_human(&diagnostic, &|_| None, false)))?)
}

pub(crate) fn store_dir(cli: &Cli, root: &Path) -> PathBuf {
    cli.store
        .clone()
        .or_else(|| crate::env::get(&crate::env::FLOE_STORE).map(PathBuf::from))
        .unwrap_or_else(|| root.join(floe_engine::discover::STORE_DIR))
}

pub fn settings() -> Result<Settings, Failure> {
    let source_date_epoch =
        match crate::env::get(&crate::env::SOURCE_DATE_EPOCH) {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                Failure::Usage(format!("SOURCE_DATE_EPOCH must be whole seconds since 1970, found `{v}`"))
            })?),
            None => None,
        };
    // Expiring policy overrides are judged against this date; see `Settings::today`.
    let today = floe_rules::enforce::date_of(source_date_epoch.unwrap_or_else(crate::system::now_epoch_secs));
    Ok(Settings {
        floe_version: VERSION.to_owned(),
        source_date_epoch: source_date_epoch.unwrap_or(0),
        standalone: false,
        today,
        rules: floe_rules::versions::CURRENT,
    })
}

/// `floe build`: builds, then prints the diagnostics and the summary.
fn build(cli: &Cli, printer: &Printer, labels: &[String], check_outputs: bool) -> Result<(), Failure> {
    #[allow(clippy::disallowed_methods)] // the driver times the build for its summary
    let started = std::time::Instant::now();
    let mut session = open(cli, labels)?;
    session.set_check_outputs(check_outputs);
    let built = build_in(&mut session, printer, started, crate::output::Listing::Every);
    // The process ends right after this: tearing down tens of thousands of
    // small allocations would cost a no-op build milliseconds.
    std::mem::forget(session);
    built
}

/// Builds what `session` selects, then prints the diagnostics and the
/// summary (listing the derivations `listing` names), timed from `started`.
pub(crate) fn build_in(
    session: &mut Session,
    printer: &Printer,
    started: std::time::Instant,
    listing: crate::output::Listing,
) -> Result<(), Failure> {
    let progress = Arc::new(crate::output::BuildProgress::new(printer));
    session.set_progress(progress.clone());
    let root = session.options.workspace.clone();
    let report = session.build();
    progress.finish();
    let report = report?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    printer.diagnostics(&root, &report.diagnostics)?;
    for w in &report.warnings {
        printer.warn(&escape(w))?;
    }
    printer.build_summary(&report, millis, listing)?;
    if report.has_errors() { Err(Failure::User) } else { Ok(()) }
}

pub fn jobs(cli: &Cli) -> usize {
    cli.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

pub(crate) fn open(cli: &Cli, labels: &[String]) -> Result<Session, Failure> {
    let (root, start) = locate(cli)?;
    let cwd = start.strip_prefix(&root).ok().and_then(|rel| WsPath::new(&rel.to_string_lossy())).unwrap_or_default();
    let options = Options {
        store: store_dir(cli, &root),
        out: root.join(floe_engine::discover::OUT_DIR),
        workspace: root,
        cwd,
        labels: labels.to_vec(),
        settings: settings()?,
        jobs: jobs(cli),
        remote: crate::remote::remote(cli)?,
        check_outputs: false,
        progress: None,
        warm: false,
    };
    Ok(Session::open(Arc::new(OsSystem), options)?)
}

/// `floe plugins`: every built-in plugin, by category.
fn plugins(format: Format) -> Result<(), Failure> {
    let all = floe_plugins::all();
    if format == Format::Json {
        let list: Vec<serde_json::Value> = all
            .iter()
            .map(|p| {
                let m = p.meta();
                serde_json::json!({
                    "category": m.category.key(),
                    "name": m.name,
                    "version": m.version,
                    "api_version": m.api.to_string(),
                    "summary": m.summary,
                    "provides": m.provides.iter().map(|c| serde_json::json!({"kind": c.kind, "value": c.value})).collect::<Vec<_>>(),
                    "requires": m.requires.iter().map(|r| serde_json::json!({
                        "category": r.category.key(), "kind": r.kind, "any_of": r.any_of, "needed": r.needed, "reason": r.reason,
                    })).collect::<Vec<_>>(),
                    "config_schema": p.plugin().config_schema(),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&list).expect("plugin listings serialize");
        return Ok(out(&format!("{text}\n"))?);
    }
    let width = all.iter().map(|p| p.meta().category.key().len() + 1 + p.meta().name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for p in all {
        let m = p.meta();
        let name = escape(&format!("{}/{}", m.category.key(), m.name)).into_owned();
        let _ = writeln!(text, "{name:width$}  {}  {}", escape(m.version), escape(m.summary));
    }
    Ok(out(&text)?)
}
