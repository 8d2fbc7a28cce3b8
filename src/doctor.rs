//! `floe doctor`: the one command that reaches the network. Builds check
//! plugin configurations statically; the doctor probes, for real, whether
//! every endpoint a platform's plugins name answers (a TCP connection to its
//! host and port).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use floe_engine::Session;
use floe_engine::db;
use floe_engine::layout::PackageKind;
use floe_schemas::diag::{Diagnostic, escape};
use serde::Serialize;

use crate::cli::Failure;
use crate::output::{Format, Printer, err, out, print_json};

/// How long one probe waits for a connection.
const PROBE_LIMIT: Duration = Duration::from_secs(3);

#[derive(Serialize)]
struct Probe {
    platform: String,
    category: &'static str,
    plugin: &'static str,
    purpose: String,
    host: String,
    port: u16,
    reachable: bool,
    /// Milliseconds to connect, when reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    millis: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Probes every endpoint of the selected platform packages (all of them for
/// `//...`). Unreachable endpoints are an infrastructure failure (exit 3).
pub fn doctor(mut session: Session, format: Format, printer: &Printer) -> Result<(), Failure> {
    let (selected, diags) = session.select();
    if diags.iter().any(Diagnostic::is_error) {
        printer.diagnostics(&session.options.workspace, &diags)?;
        return Err(Failure::User);
    }
    session.ensure_db();
    let mut probes = Vec::new();
    let mut problems = Vec::new();
    // Domains inherit their enterprise's endpoints: each is probed once, and
    // the result shown for every platform that names it.
    let mut probed: BTreeMap<(String, u16), Result<Duration, String>> = BTreeMap::new();
    for sel in &selected {
        let info = &session.layout.packages[sel.package];
        if info.kind == PackageKind::Product {
            continue;
        }
        let pkg = session.package(sel.package);
        let eval = db::platform(session.db(), pkg);
        problems.extend(eval.diagnostics.iter().filter(|d| d.is_error()).cloned());
        let Some(platform) = eval.resolved.as_ref() else { continue };
        let label = floe_engine::label::package_label(&info.dir);
        for (category, plugin, e) in floe_rules::plugins::endpoints(platform) {
            let result = probed
                .entry((e.host.clone(), e.port))
                .or_insert_with(|| crate::system::probe_tcp(&e.host, e.port, PROBE_LIMIT))
                .clone();
            probes.push(Probe {
                platform: label.clone(),
                category: category.key(),
                plugin,
                purpose: e.purpose,
                host: e.host,
                port: e.port,
                reachable: result.is_ok(),
                millis: result.as_ref().ok().map(|d| d.as_millis() as u64),
                error: result.err(),
            });
        }
    }
    printer.diagnostics(&session.options.workspace, &problems)?;
    match format {
        Format::Json | Format::Sarif | Format::Dot | Format::Mermaid | Format::Svg => print_json(&probes)?,
        Format::Human => {
            let mut text = String::new();
            for p in &probes {
                let state = match (&p.millis, &p.error) {
                    (Some(ms), _) => format!("ok ({ms} ms)"),
                    (None, Some(e)) => format!("UNREACHABLE: {e}"),
                    (None, None) => "UNREACHABLE".to_owned(),
                };
                // Hosts come from the manifests: escaped like every workspace value.
                let _ = writeln!(
                    text,
                    "{}  {}/{}  {}:{}  {}",
                    escape(&p.platform),
                    p.category,
                    p.plugin,
                    escape(&p.host),
                    p.port,
                    escape(&state)
                );
            }
            out(&text)?;
            if probes.is_empty() {
                err("no plugin of the selected platforms names a network endpoint\n")?;
            }
        }
    }
    if !problems.is_empty() {
        return Err(Failure::User);
    }
    match probes.iter().filter(|p| !p.reachable).count() {
        0 => Ok(()),
        n => Err(Failure::Unreachable(n)),
    }
}
