//! `floe graph` and `floe query 'deps(…)'` / `'rdeps(…)'`: the mesh of
//! products and their ports, drawn (DOT, Mermaid, SVG through Graphviz, JSON,
//! or text) or walked.

use std::collections::BTreeSet;

use floe_engine::label;
use floe_engine::layout::PackageKind;
use floe_schemas::Diagnostic;
use floe_schemas::diag::escape;

use crate::cli::{Cli, Failure, open};
use crate::output::{Format, Printer, out, print_json};

/// Draws the products `labels` select (all by default) with the products
/// they read and that read them.
pub fn command(cli: &Cli, printer: &Printer, labels: &[String]) -> Result<(), Failure> {
    let mut session = open(cli, labels)?;
    let (selected, diags) = session.select();
    printer.diagnostics(&session.options.workspace, &diags)?;
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Failure::User);
    }
    let (mesh, errors) = session.mesh();
    printer.diagnostics(&session.options.workspace, &errors)?;
    let shown = match labels.is_empty() {
        true => mesh,
        false => {
            let wanted: BTreeSet<String> = products(&session, &selected).into_iter().collect();
            mesh.around(&wanted)
        }
    };
    match cli.format {
        Format::Json | Format::Sarif => print_json(&shown)?,
        Format::Dot => out(&shown.dot())?,
        Format::Mermaid => out(&shown.mermaid())?,
        Format::Svg => out(&svg(&shown.dot())?)?,
        Format::Human => out(&text(&shown))?,
    }
    if errors.is_empty() { Ok(()) } else { Err(Failure::User) }
}

/// Whether a query pattern walks the mesh (`deps(…)`, `rdeps(…)`).
pub fn is_walk(pattern: &str) -> bool {
    walk(pattern).is_some()
}

fn walk(pattern: &str) -> Option<(bool, &str)> {
    let inner = |prefix: &str| pattern.trim().strip_prefix(prefix)?.strip_suffix(')').map(str::trim);
    inner("deps(").map(|l| (false, l)).or_else(|| inner("rdeps(").map(|l| (true, l)))
}

/// `deps(LABEL)`: the product and every product it reads, through their
/// ports, directly or not; `rdeps(LABEL)`: the product and every product
/// that reads it. As Bazel's, the product itself is in the answer.
pub fn query(cli: &Cli, printer: &Printer, pattern: &str) -> Result<(), Failure> {
    let Some((reverse, text)) = walk(pattern) else {
        return Err(Failure::Usage(format!("`{pattern}` is not `deps(LABEL)` or `rdeps(LABEL)`")));
    };
    let labels = vec![text.to_owned()];
    let mut session = open(cli, &labels)?;
    let (selected, diags) = session.select();
    printer.diagnostics(&session.options.workspace, &diags)?;
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Failure::User);
    }
    let products = products(&session, &selected);
    let [start] = products.as_slice() else {
        return Err(Failure::Usage(format!(
            "`{text}` selects {} products; `deps` and `rdeps` start from one",
            products.len()
        )));
    };
    let (mesh, errors) = session.mesh();
    printer.diagnostics(&session.options.workspace, &errors)?;
    let found = if reverse { mesh.rdeps(start) } else { mesh.deps(start) };
    match cli.format {
        Format::Human => out(&found.iter().map(|l| format!("{}\n", escape(l))).collect::<String>())?,
        _ => {
            let rows: Vec<_> = found.iter().map(|l| serde_json::json!({"label": l, "kind": "product"})).collect();
            print_json(&rows)?;
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Failure::User) }
}

/// The labels of the selected products.
fn products(session: &floe_engine::build::Session, selected: &[label::Selected]) -> Vec<String> {
    selected
        .iter()
        .map(|s| &session.layout.packages[s.package])
        .filter(|p| p.kind == PackageKind::Product)
        .map(|p| label::package_label(&p.dir))
        .collect()
}

/// The mesh as text: each domain's products with their ports, then who
/// reads what.
fn text(mesh: &floe_engine::mesh::Mesh) -> String {
    let mut out = String::new();
    let mut domain = None;
    let mut products: Vec<_> = mesh.products.iter().collect();
    products.sort_by(|a, b| (&a.domain, &a.label).cmp(&(&b.domain, &b.label)));
    for p in products {
        if domain != Some(&p.domain) {
            out.push_str(&format!("domain {}\n", escape(&p.domain)));
            domain = Some(&p.domain);
        }
        let ports: String = p.ports.iter().map(|s| format!(" :{}", escape(s))).collect();
        out.push_str(&format!("  {}{ports}\n", escape(&p.label)));
    }
    for e in &mesh.edges {
        out.push_str(&format!(
            "{}:{} -> {} ({})\n",
            escape(&e.producer),
            escape(&e.port),
            escape(&e.consumer),
            escape(&e.input)
        ));
    }
    out
}

/// The DOT drawing as SVG, by Graphviz's `dot` from `$PATH`.
#[allow(clippy::disallowed_methods)] // the one process `floe graph --format svg` runs
fn svg(dot: &str) -> Result<String, Failure> {
    use std::io::Write as _;
    let Some(exe) = crate::system::program_on_path("dot") else {
        return Err(Failure::Usage(
            "`--format svg` draws with Graphviz's `dot`, which is not on PATH: install Graphviz, or write \
             `--format dot` and render it elsewhere"
                .to_owned(),
        ));
    };
    let failed = |why: String| Failure::Usage(format!("`{} -Tsvg` failed: {why}", exe.display()));
    let mut child = std::process::Command::new(&exe)
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    // The drawing is small: written whole before the output is read.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(dot.as_bytes()).map_err(|e| failed(e.to_string()))?;
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    String::from_utf8(output.stdout).map_err(|_| failed("its output is not UTF-8".to_owned()))
}
