//! Labels: Bazel-style names for packages and their outputs.
//!
//! `//...` every package, `//sales/...` every package under `sales/`,
//! `//sales/customer-360` one package, `//sales/customer-360:dbt-profile` one of
//! its targets, `//sales` and `//` platform packages. Without `//` a label is
//! relative to the directory floe runs in (`customer-360`, `:artifacts`, `...`).

use std::fmt;

use floe_schemas::diag::{self, Code, Diagnostic};

use crate::layout::{Layout, PackageKind};
use crate::path::WsPath;

/// What a product package builds.
pub const PRODUCT_TARGETS: &[Target] = &[
    Target::Artifacts,
    Target::DbtProfile,
    Target::Enforcement,
    Target::Contracts,
    Target::Lineage,
    Target::Orchestration,
    Target::JobsValues,
    Target::K8s,
];
/// What a platform package (the root, a domain) builds.
pub const PLATFORM_TARGETS: &[Target] = &[Target::Manifest, Target::HelmValues, Target::Namespaces, Target::Gitops];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `compiled_artifacts.json`.
    Artifacts,
    /// `profiles.yml`.
    DbtProfile,
    /// `enforcement.{json,sarif,html}`: the governance report.
    Enforcement,
    /// `datacontract-<port>.yaml`: the data contract (ODCS v3.1) of each
    /// output port.
    Contracts,
    /// `lineage.json`: the product's static OpenLineage declarations (its
    /// job, what it reads and writes, the schemas of what it writes).
    Lineage,
    /// The orchestrator's definitions of the product's run (`definitions.py`, …).
    Orchestration,
    /// `manifest.resolved.json`: the platform as resolved through its tiers.
    Manifest,
    /// `floe-platform.values.yaml`: the floe-platform Helm chart's values,
    /// assembled from every selected plugin.
    HelmValues,
    /// A product's `floe-jobs.values.yaml`: the floe-jobs Helm chart's values
    /// for its runs (a product's `:helm-values`).
    JobsValues,
    /// A product's `k8s.yaml`: the Kubernetes objects of its runs, the ones
    /// the floe-jobs chart renders from those values (a product's `:k8s`),
    /// and the `kustomization.yaml` that renders them.
    K8s,
    /// A platform's namespaces (a platform's `:k8s`): per namespace its
    /// runs go to, `namespaces/<namespace>/k8s.yaml`: the Namespace, its
    /// NetworkPolicies and the secrets plugin's objects.
    Namespaces,
    /// A platform's GitOps tree (`:gitops`): per namespace, a
    /// `kustomization.yaml` beside its objects with its products'
    /// directories, and one at the platform's directory with every
    /// namespace and domain below. Apart from `:k8s`, so that a product
    /// that comes or goes changes no object's key.
    Gitops,
}

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::Artifacts,
        Target::DbtProfile,
        Target::Enforcement,
        Target::Contracts,
        Target::Lineage,
        Target::Orchestration,
        Target::Manifest,
        Target::HelmValues,
        Target::JobsValues,
        Target::K8s,
        Target::Namespaces,
        Target::Gitops,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Artifacts => "artifacts",
            Target::DbtProfile => "dbt-profile",
            Target::Enforcement => "enforcement",
            Target::Contracts => "contracts",
            Target::Lineage => "lineage",
            Target::Orchestration => "orchestration",
            Target::Manifest => "manifest",
            Target::HelmValues | Target::JobsValues => "helm-values",
            Target::K8s | Target::Namespaces => "k8s",
            Target::Gitops => "gitops",
        }
    }

    /// The target of a package of `kind` named `s`.
    pub fn parse(kind: PackageKind, s: &str) -> Option<Target> {
        Target::for_kind(kind).iter().copied().find(|t| t.name() == s)
    }

    /// Whether another target's rule reads its outputs.
    pub fn is_read(self) -> bool {
        Target::ALL.iter().any(|t| t.reads().contains(&self))
    }

    /// The targets of the same package whose outputs its rule reads: each
    /// is built with it, and its key is part of this one's.
    pub fn reads(self) -> &'static [Target] {
        match self {
            Target::JobsValues => &[Target::Artifacts, Target::DbtProfile],
            Target::K8s => &[Target::Artifacts, Target::DbtProfile],
            _ => &[],
        }
    }

    /// The rule that builds it, as recorded in derivations.
    pub fn rule(self) -> &'static str {
        match self {
            Target::Artifacts => "floe.compiled-artifacts",
            Target::DbtProfile => "floe.dbt-profile",
            Target::Enforcement => "floe.enforcement",
            Target::Contracts => "floe.data-contracts",
            Target::Lineage => "floe.openlineage",
            Target::Orchestration => "floe.orchestration",
            Target::Manifest => "floe.resolved-manifest",
            Target::HelmValues => "floe.platform-helm-values",
            Target::JobsValues => "floe.jobs-helm-values",
            Target::K8s => "floe.k8s",
            Target::Namespaces => "floe.k8s-namespaces",
            Target::Gitops => "floe.gitops",
        }
    }

    /// The output files under `floe-out/<package>/`, for targets whose
    /// files do not depend on the platform (see `Derivation::outputs`).
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Target::Orchestration | Target::Contracts | Target::Namespaces | Target::Gitops => &[],
            Target::Artifacts => &["compiled_artifacts.json"],
            Target::Lineage => &["lineage.json"],
            Target::DbtProfile => &["profiles.yml"],
            Target::Enforcement => &["enforcement.json", "enforcement.sarif", "enforcement.html"],
            Target::Manifest => &["manifest.resolved.json"],
            Target::HelmValues => &["floe-platform.values.yaml"],
            Target::JobsValues => &["floe-jobs.values.yaml"],
            Target::K8s => &["k8s.yaml", "kustomization.yaml"],
        }
    }

    pub fn for_kind(kind: PackageKind) -> &'static [Target] {
        match kind {
            PackageKind::Product => PRODUCT_TARGETS,
            PackageKind::Root | PackageKind::Domain => PLATFORM_TARGETS,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed label pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One package, all its targets or one of them.
    Package { dir: WsPath, target: Option<String> },
    /// Every package at or below `dir`.
    Recursive { dir: WsPath },
}

/// The label of a package directory: `//sales/customer-360`, `//` for the root.
pub fn package_label(dir: &WsPath) -> String {
    format!("//{}", dir.as_str())
}

/// The label of one target of a package.
pub fn target_label(dir: &WsPath, target: Target) -> String {
    TargetLabel::new(dir.clone(), target).to_string()
}

/// The label of one target of a package, `//dir:target`, kept as its
/// parts: a build reports one per derivation (80,000 at 10,000 products),
/// and the directory's text is the package's own. It reads, compares and
/// serializes as its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetLabel {
    pub dir: WsPath,
    pub target: Target,
}

impl TargetLabel {
    pub fn new(dir: WsPath, target: Target) -> TargetLabel {
        TargetLabel { dir, target }
    }

    /// The text after `//`.
    fn tail(&self) -> impl Iterator<Item = u8> + '_ {
        self.dir.as_str().bytes().chain([b':']).chain(self.target.name().bytes())
    }
}

impl fmt::Display for TargetLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "//{}:{}", self.dir.as_str(), self.target.name())
    }
}

impl Ord for TargetLabel {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // The directories' common length compared at once; the rest (a
        // `:`, a name) byte by byte.
        let (a, b) = (self.dir.as_str().as_bytes(), other.dir.as_str().as_bytes());
        let n = a.len().min(b.len());
        a[..n].cmp(&b[..n]).then_with(|| self.tail().skip(n).cmp(other.tail().skip(n)))
    }
}

impl PartialOrd for TargetLabel {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for TargetLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses `text`; relative labels are resolved against `cwd`.
pub fn parse(text: &str, cwd: &WsPath) -> Result<Pattern, Diagnostic> {
    let invalid = |why: &str| {
        Diagnostic::error(Code::InvalidLabel, format!("invalid label `{text}`: {why}")).with_help(
            "labels look like `//...`, `//sales/...`, `//sales/customer-360` or `//sales/customer-360:artifacts`",
        )
    };
    let (absolute, rest) = match text.strip_prefix("//") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.starts_with('/') {
        return Err(invalid("too many slashes"));
    }
    let base = if absolute { WsPath::ROOT } else { cwd.clone() };
    let (path_part, target) = match rest.split_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (rest, None),
    };
    if let Some(t) = target
        && (t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(invalid("a target name is letters, digits and `-`"));
    }
    if !path_part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')) {
        return Err(invalid("package paths are letters, digits, `-`, `_`, `.` and `/`"));
    }
    let recursive = path_part == "..." || path_part.ends_with("/...");
    let dir_text = if recursive { path_part.trim_end_matches("...").trim_end_matches('/') } else { path_part };
    let dir = base.join(dir_text).ok_or_else(|| invalid("it leads outside the workspace"))?;
    if recursive {
        if target.is_some() {
            return Err(invalid("`...` names packages; it cannot have a target"));
        }
        return Ok(Pattern::Recursive { dir });
    }
    Ok(Pattern::Package { dir, target: target.map(str::to_owned) })
}

/// A package with the targets a pattern selects in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub package: usize,
    pub targets: Vec<Target>,
}

/// Matches patterns against the layout. Every pattern must match something;
/// those that do not get a diagnostic with the nearest label as suggestion.
pub fn select(layout: &Layout, patterns: &[(String, Pattern)]) -> (Vec<Selected>, Vec<Diagnostic>) {
    let mut chosen: std::collections::BTreeMap<usize, std::collections::BTreeSet<Target>> = Default::default();
    let mut diags = Vec::new();
    for (text, pattern) in patterns {
        let mut matched = false;
        match pattern {
            Pattern::Recursive { dir } => {
                for (i, p) in layout.packages.iter().enumerate() {
                    if p.dir.starts_with(dir) {
                        matched = true;
                        chosen.entry(i).or_default().extend(Target::for_kind(p.kind));
                    }
                }
            }
            Pattern::Package { dir, target } => {
                if let Some(i) = layout.find(dir) {
                    let kind = layout.packages[i].kind;
                    let allowed = Target::for_kind(kind);
                    match target {
                        None => {
                            matched = true;
                            chosen.entry(i).or_default().extend(allowed);
                        }
                        Some(t) => match Target::parse(kind, t) {
                            Some(t) => {
                                matched = true;
                                chosen.entry(i).or_default().insert(t);
                            }
                            None => {
                                let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
                                let help = match diag::suggest(t, names.iter().copied()) {
                                    Some(s) => {
                                        format!("did you mean `{}`?", format_args!("{}:{s}", package_label(dir)))
                                    }
                                    None => format!("`{}` has the targets {}", package_label(dir), names.join(", ")),
                                };
                                diags.push(
                                    Diagnostic::error(
                                        Code::NoSuchLabel,
                                        format!("no target `{t}` in `{}`", package_label(dir)),
                                    )
                                    .with_help(help),
                                );
                                continue;
                            }
                        },
                    }
                }
            }
        }
        if !matched {
            let wanted = match pattern {
                Pattern::Package { dir, .. } | Pattern::Recursive { dir } => package_label(dir),
            };
            let labels: Vec<String> = layout.packages.iter().map(|p| package_label(&p.dir)).collect();
            let help = match diag::suggest(&wanted, labels.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`floe query //...` lists every package".to_owned(),
            };
            diags.push(Diagnostic::error(Code::NoSuchLabel, format!("`{text}` matches no package")).with_help(help));
        }
    }
    // A target is built with those it reads.
    for targets in chosen.values_mut() {
        let mut todo: Vec<Target> = targets.iter().copied().collect();
        while let Some(t) = todo.pop() {
            todo.extend(t.reads().iter().filter(|r| targets.insert(**r)));
        }
    }
    let selected = chosen
        .into_iter()
        .map(|(package, targets)| Selected { package, targets: targets.into_iter().collect() })
        .collect();
    (selected, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> WsPath {
        WsPath::new(s).unwrap()
    }

    #[test]
    fn target_labels_read_and_order_as_their_text() {
        let dirs = ["", "a", "a-b", "a/b", "a.b", "ab", "a/b-c", "sales/c360"];
        let targets = [Target::K8s, Target::Artifacts, Target::DbtProfile, Target::Manifest];
        let labels: Vec<TargetLabel> =
            dirs.iter().flat_map(|d| targets.iter().map(|t| TargetLabel::new(p(d), *t))).collect();
        for a in &labels {
            assert_eq!(a.to_string(), format!("//{}:{}", a.dir.as_str(), a.target.name()));
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::Value::String(a.to_string()));
            for b in &labels {
                assert_eq!(a.cmp(b), a.to_string().cmp(&b.to_string()), "{a} and {b}");
            }
        }
    }

    #[test]
    fn parsing() {
        assert_eq!(parse("//...", &p("x")).unwrap(), Pattern::Recursive { dir: WsPath::ROOT });
        assert_eq!(parse("//sales/...", &p("")).unwrap(), Pattern::Recursive { dir: p("sales") });
        assert_eq!(
            parse("//sales/c360:dbt-profile", &p("")).unwrap(),
            Pattern::Package { dir: p("sales/c360"), target: Some("dbt-profile".into()) }
        );
        assert_eq!(parse("//", &p("a")).unwrap(), Pattern::Package { dir: WsPath::ROOT, target: None });
        assert_eq!(parse("c360", &p("sales")).unwrap(), Pattern::Package { dir: p("sales/c360"), target: None });
        assert_eq!(
            parse(":artifacts", &p("sales/c360")).unwrap(),
            Pattern::Package { dir: p("sales/c360"), target: Some("artifacts".into()) }
        );
        assert_eq!(parse("...", &p("sales")).unwrap(), Pattern::Recursive { dir: p("sales") });
        assert_eq!(parse("../..", &p("sales/c360")).unwrap(), Pattern::Package { dir: WsPath::ROOT, target: None });
        for bad in ["///x", "//a:", "//a b", "//...:x", "../../..", "//a:b:c"] {
            assert!(parse(bad, &p("sales")).is_err(), "{bad} should not parse");
        }
    }
}
