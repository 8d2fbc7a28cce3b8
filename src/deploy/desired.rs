//! What the workspace wants deployed: the selection built as `floe build` builds it, and every object of its packages' `k8s.yaml`.

use floe_engine::WsPath;
use floe_engine::label::{self, Pattern};
use floe_rules::k8s::{DERIVATION_ANNOTATION, PACKAGE_ANNOTATION};
use floe_schemas::diag::escape;
use serde_json::Value;

use crate::cli::{Cli, Failure};
use crate::output::Printer;

/// The file of Kubernetes objects a package's build writes.
pub const K8S_FILE: &str = "k8s.yaml";
/// The target that renders it.
const K8S_TARGET: &str = "k8s";

/// Which object: its API group (not its version, so that a new version of
/// a kind names the same object), kind, namespace (`""` for none) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Id {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Id {
    /// The id of an object (desired or live); `None` without a kind or name.
    pub fn of(object: &Value) -> Option<Id> {
        let api_version = object["apiVersion"].as_str()?;
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Some(Id {
            group: group.to_owned(),
            kind: object["kind"].as_str()?.to_owned(),
            namespace: object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned(),
            name: object["metadata"]["name"].as_str().filter(|n| !n.is_empty())?.to_owned(),
        })
    }

    /// `Kind namespace/name`, or `Kind name` for a cluster-wide object.
    pub fn display(&self) -> String {
        match self.namespace.as_str() {
            "" => format!("{} {}", self.kind, self.name),
            ns => format!("{} {ns}/{}", self.kind, self.name),
        }
    }
}

/// The annotation floe names the object's package with.
pub fn package(object: &Value) -> Option<&str> {
    object["metadata"]["annotations"][PACKAGE_ANNOTATION].as_str()
}

/// The annotation floe names the object's derivation with.
pub fn derivation(object: &Value) -> Option<&str> {
    object["metadata"]["annotations"][DERIVATION_ANNOTATION].as_str()
}

/// A package the selection built.
pub struct Package {
    pub label: String,
    pub product: bool,
}

/// The objects to deploy, and what the selection covers.
pub struct Desired {
    pub objects: Vec<(Id, Value)>,
    pub packages: Vec<Package>,
    /// The selection's label patterns: what prune may remove objects of.
    pub patterns: Vec<Pattern>,
}

impl Desired {
    /// Whether the package an object names is one the labels select, whether
    /// or not it still exists: `//...` covers every package, `//sales/...`
    /// every one under sales.
    pub fn covers(&self, package_label: &str) -> bool {
        covers(&self.patterns, package_label)
    }
}

/// Whether a package label (`//sales/orders`, `//` for the root) is matched by a pattern.
pub fn covers(patterns: &[Pattern], package_label: &str) -> bool {
    let Some(dir) = package_label.strip_prefix("//").and_then(WsPath::new) else { return false };
    patterns.iter().any(|p| match p {
        Pattern::Recursive { dir: under } => dir.starts_with(under),
        Pattern::Package { dir: one, .. } => &dir == one,
    })
}

/// Builds the selection as `floe build` would (failing with its diagnostics
/// when it fails), then reads the objects of each selected package.
pub fn build(cli: &Cli, printer: &Printer, labels: &[String]) -> Result<Desired, Failure> {
    let mut session = crate::cli::open(cli, labels)?;
    // A product's runs need their namespace: the platform package that
    // makes it is built with them, and its objects in that namespace are
    // applied (but pruned only when the platform is selected itself).
    let (chosen, _) = session.select();
    let mut platforms: Vec<usize> = Vec::new();
    for sel in &chosen {
        let info = &session.layout.packages[sel.package];
        if let (floe_engine::layout::PackageKind::Product, Some(parent)) = (info.kind, info.parent) {
            platforms.push(parent);
        }
    }
    platforms.sort_unstable();
    platforms.dedup();
    let added: Vec<String> = platforms
        .iter()
        .map(|p| format!("{}:{K8S_TARGET}", label::package_label(&session.layout.packages[*p].dir)))
        .collect();
    // No labels is every package, platforms included.
    if !session.options.labels.is_empty() {
        session.cx.options.labels.extend(added);
    }
    let root = session.options.workspace.clone();
    let report = session.build()?;
    printer.diagnostics(&root, &report.diagnostics)?;
    for w in &report.warnings {
        printer.warn(&escape(w))?;
    }
    if report.has_errors() {
        if printer.format != crate::output::Format::Human {
            crate::output::print_json(&serde_json::json!({ "diagnostics": report.diagnostics }))?;
        }
        return Err(Failure::User);
    }
    let texts: Vec<String> = if labels.is_empty() { vec!["//...".to_owned()] } else { labels.to_vec() };
    let mut patterns = Vec::new();
    for text in &texts {
        // The build has accepted every label already. A label of another
        // target than the objects' (`//sales/orders:artifacts`) deploys
        // what its package renders but prunes nothing of it.
        match label::parse(text, &session.options.cwd) {
            Ok(Pattern::Package { target: Some(t), .. }) if t != K8S_TARGET => {}
            Ok(p) => patterns.push(p),
            Err(_) => {}
        }
    }
    let (selected, _) = session.select();
    let mut objects = Vec::new();
    let mut packages = Vec::new();
    // Namespaces of what was asked for, and objects of platforms that came
    // only for theirs.
    let mut needed = std::collections::BTreeSet::new();
    let mut brought = Vec::new();
    for sel in &selected {
        let info = &session.layout.packages[sel.package];
        let package_label = label::package_label(&info.dir);
        let asked = chosen.iter().any(|c| c.package == sel.package);
        if asked {
            packages.push(Package {
                label: package_label.clone(),
                product: info.kind == floe_engine::layout::PackageKind::Product,
            });
        }
        let Some(record) = session.state.packages.get(&info.dir) else { continue };
        // A product's objects, or a platform's, one file per namespace.
        for output in record.outputs.iter().filter(|o| o.path.file_name() == K8S_FILE) {
            let path = session.options.out.join(output.path.as_str());
            let bytes = crate::system::read_output(&session.options.out, output, "deploy")?;
            for object in parse_stream(output.path.as_str(), &bytes)? {
                let id = Id::of(&object).ok_or_else(|| {
                    Failure::Usage(format!("`{}` holds an object without a kind or a name", path.display()))
                })?;
                match asked {
                    true => {
                        needed.insert(namespace_of(&id).to_owned());
                        objects.push((id, object));
                    }
                    false => brought.push((id, object)),
                }
            }
        }
    }
    // First, as the namespaces they make come first.
    let brought: Vec<_> = brought.into_iter().filter(|(id, _)| needed.contains(namespace_of(id))).collect();
    objects.splice(0..0, brought);
    Ok(Desired { objects, packages, patterns })
}

/// The namespace an object is in, or is.
fn namespace_of(id: &Id) -> &str {
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "Namespace") => &id.name,
        _ => &id.namespace,
    }
}

/// The documents of a YAML stream as floe writes it (`---` before each).
pub fn parse_stream(file: &str, bytes: &[u8]) -> Result<Vec<Value>, Failure> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut doc = String::new();
    let mut flush = |doc: &mut String| -> Result<(), Failure> {
        if doc.trim().is_empty() {
            doc.clear();
            return Ok(());
        }
        let node = floe_schemas::yaml::parse(file, doc.as_bytes())
            .map_err(|d| Failure::Usage(format!("`{file}` is not what floe wrote: {}", d.message)))?;
        let value = node.to_json();
        if !value.is_null() {
            out.push(value);
        }
        doc.clear();
        Ok(())
    };
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            flush(&mut doc)?;
        } else {
            doc.push_str(line);
        }
    }
    flush(&mut doc)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_packages_that_may_be_gone() {
        let root = WsPath::ROOT;
        let pats: Vec<Pattern> =
            ["//sales/...", "//finance/revenue"].iter().map(|t| label::parse(t, &root).unwrap()).collect();
        assert!(covers(&pats, "//sales"));
        assert!(covers(&pats, "//sales/removed"));
        assert!(covers(&pats, "//finance/revenue"));
        assert!(!covers(&pats, "//finance/risk"));
        assert!(!covers(&pats, "//"));
        assert!(!covers(&pats, "//salesforce/x"));
        let all = vec![label::parse("//...", &root).unwrap()];
        assert!(covers(&all, "//") && covers(&all, "//a/b"));
        assert!(!covers(&all, "not-a-label"));
    }

    #[test]
    fn a_stream_is_split_at_its_separators() {
        let Ok(docs) = parse_stream("k8s.yaml", b"---\nkind: \"A\"\n---\nkind: \"B\"\nn: 3\n") else {
            panic!("parsed")
        };
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["n"], 3);
    }
}
