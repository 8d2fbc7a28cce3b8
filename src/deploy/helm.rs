//! `floe platform deploy`: the platform chart installed with the values the build wrote, by `helm` when it is on PATH, else the exact command printed.

use std::path::{Path, PathBuf};

use floe_engine::FileKind;
use floe_engine::layout::PackageKind;
use floe_schemas::diag::escape;

use super::kubeconfig::KubeArgs;
use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, err, out, print_json};

/// The Helm values of a platform package, as its build writes them.
pub const VALUES_FILE: &str = "floe-platform.values.yaml";
/// Where the platform chart lies in floe's repository.
const CHART_DIR: &str = "charts/floe-platform";

#[derive(clap::Args)]
pub struct PlatformDeployArgs {
    /// The platform package whose values to install (default: //, the enterprise or centralized platform)
    pub label: Option<String>,
    /// The floe-platform chart: a directory, a packaged chart or a reference helm accepts
    /// (default: charts/floe-platform of the floe repository the workspace lies in)
    #[arg(long, value_name = "CHART")]
    pub chart: Option<String>,
    /// The Helm release
    #[arg(long, value_name = "NAME", default_value = "floe-platform")]
    pub release: String,
    /// The namespace of the release, created if it is not there
    #[arg(long, value_name = "NS", default_value = "floe-platform")]
    pub namespace: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Builds the platform package, then runs (or prints) `helm upgrade --install`.
pub fn platform_deploy(cli: &Cli, printer: &Printer, args: &PlatformDeployArgs) -> Result<(), Failure> {
    let labels = vec![args.label.clone().unwrap_or_else(|| "//".to_owned())];
    let mut session = crate::cli::open(cli, &labels)?;
    let root = session.options.workspace.clone();
    let report = session.build()?;
    printer.diagnostics(&root, &report.diagnostics)?;
    if report.has_errors() {
        if printer.format != crate::output::Format::Human {
            crate::output::print_json(&serde_json::json!({ "diagnostics": report.diagnostics }))?;
        }
        return Err(Failure::User);
    }
    let (selected, _) = session.select();
    let platforms: Vec<_> = selected
        .iter()
        .map(|s| &session.layout.packages[s.package])
        .filter(|p| p.kind != PackageKind::Product)
        .collect();
    let [package] = platforms.as_slice() else {
        return Err(Failure::Usage(format!(
            "`{}` selects {} platform packages; `floe platform deploy` installs one: `//` or a domain's label",
            escape(&labels[0]),
            platforms.len()
        )));
    };
    let values = session.options.out.join(package.dir.as_str()).join(VALUES_FILE);
    if crate::system::kind(&values)? != Some(FileKind::File) {
        return Err(Failure::Usage(format!(
            "{} has no Helm values (`{}`): a pinned platform's are deployed where it was published",
            floe_engine::label::package_label(&package.dir),
            values.display()
        )));
    }
    let chart = match &args.chart {
        Some(c) => c.clone(),
        None => find_chart(&root)?.display().to_string(),
    };
    let base = crate::cli::base_dir(cli)?;
    let mut command = vec![
        "helm".to_owned(),
        "upgrade".to_owned(),
        "--install".to_owned(),
        args.release.clone(),
        chart,
        "-f".to_owned(),
        values.display().to_string(),
        "--namespace".to_owned(),
        args.namespace.clone(),
        "--create-namespace".to_owned(),
    ];
    if let Some(k) = &args.kube.kubeconfig {
        command.extend(["--kubeconfig".to_owned(), base.join(k).display().to_string()]);
    }
    if let Some(c) = &args.kube.context {
        command.extend(["--kube-context".to_owned(), c.clone()]);
    }
    let helm = crate::system::program_on_path("helm");
    let ran = match &helm {
        Some(exe) => {
            run(exe, &command[1..])?;
            true
        }
        None => false,
    };
    if printer.format != Format::Human {
        print_json(&serde_json::json!({
            "release": args.release, "namespace": args.namespace, "values": values,
            "command": command, "ran": ran,
        }))?;
        return Ok(());
    }
    let line = command.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    if ran {
        if printer.verbosity != Verbosity::Quiet {
            err(&format!("installed release {} in namespace {}: {}\n", args.release, args.namespace, escape(&line)))?;
        }
    } else {
        if printer.verbosity != Verbosity::Quiet {
            err("helm is not on PATH: the values are written; install the platform with this command:\n")?;
        }
        out(&format!("{}\n", escape(&line)))?;
    }
    Ok(())
}

/// `charts/floe-platform` of the floe repository the workspace lies in
/// (the workspace's directory or one above it).
fn find_chart(root: &Path) -> Result<PathBuf, Failure> {
    for dir in root.ancestors() {
        let chart = dir.join(CHART_DIR);
        if crate::system::kind(&chart.join("Chart.yaml"))? == Some(FileKind::File) {
            return Ok(chart);
        }
    }
    Err(Failure::Usage(format!(
        "no platform chart: the workspace does not lie in floe's repository (no `{CHART_DIR}` above it)\n  = help: \
         pass `--chart` with the chart's directory, a packaged chart or a reference helm accepts (`oci://…`)"
    )))
}

/// Runs helm, its output on stderr (floe's stdout is for data).
#[allow(clippy::disallowed_methods)] // the one process `floe platform deploy` runs
fn run(exe: &Path, args: &[String]) -> Result<(), Failure> {
    let status = std::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Failure::Cluster(format!("cannot run `{}`: {e}", exe.display())))?;
    if status.success() {
        return Ok(());
    }
    let code = status.code().map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    Err(Failure::Cluster(format!(
        "`helm upgrade --install` failed ({code}); its output is above\n  = help: the values are in place: fix what \
         helm says and run `floe platform deploy` again"
    )))
}

/// An argument as a POSIX shell reads it back.
fn quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c)) {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}
