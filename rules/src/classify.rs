//! Data classification through the mesh: the cap a product may read or offer
//! (its platform's `max_classification`, lowered by its own), the level a
//! port offers, and the product's own contract guardrails (strengthen-only).

use floe_schemas::diag::{Code, Diagnostic, Span};
use floe_schemas::manifest::{Classification, PolicyEnforcementLevel};
use floe_schemas::spec::{FloeSpec, OutputPort};
use floe_schemas::yaml::LazyNode;

use crate::resolve::ResolvedPlatform;

const ENFORCEMENT: &str = "governance.data_contracts.enforcement";
const MAX: &str = "governance.data_contracts.max_classification";

/// The highest classification a product may read or offer, and where that is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Cap {
    pub level: Classification,
    pub file: String,
    pub span: Span,
}

/// The level a port offers: the highest of its own and its columns'.
pub fn port_level(port: &OutputPort) -> Option<Classification> {
    port.schema.iter().filter_map(|c| c.classification).chain(port.classification).max()
}

/// How strictly the product's contracts are enforced: its own level or its
/// platform's, whichever is stronger.
pub fn enforcement(spec: &FloeSpec, platform: &ResolvedPlatform) -> PolicyEnforcementLevel {
    let inherited = inherited(platform).map(|d| d.enforcement).unwrap_or_default();
    own(spec).and_then(|d| d.enforcement).map_or(inherited, |e| e.max(inherited))
}

fn inherited(platform: &ResolvedPlatform) -> Option<&floe_schemas::manifest::DataContractsConfig> {
    platform.manifest.governance.as_ref()?.data_contracts.as_ref()
}

fn own(spec: &FloeSpec) -> Option<&floe_schemas::spec::ProductDataContracts> {
    spec.governance.as_ref()?.data_contracts.as_ref()
}

fn platform_cap(platform: &ResolvedPlatform) -> Option<Cap> {
    let level = inherited(platform)?.max_classification?;
    let origin = platform.origin(MAX)?;
    Some(Cap { level, file: origin.file.clone(), span: origin.span() })
}

/// The product's cap: its own when it sets one at most its platform's, else its platform's.
pub fn cap(spec: &FloeSpec, node: &LazyNode<'_>, file: &str, platform: &ResolvedPlatform) -> Option<Cap> {
    let inherited = platform_cap(platform);
    let Some(level) = own(spec).and_then(|d| d.max_classification) else { return inherited };
    match inherited {
        Some(p) if p.level < level => Some(p),
        _ => Some(Cap {
            level,
            file: file.to_owned(),
            span: node.span_at(&["governance", "data_contracts", "max_classification"]),
        }),
    }
}

/// The product's guardrails against its platform's (it may only tighten
/// them), and its output ports' classifications against its cap.
pub fn check(spec: &FloeSpec, node: &LazyNode<'_>, file: &str, platform: &ResolvedPlatform, out: &mut Vec<Diagnostic>) {
    let loosened = |key: &str, inherited: &str, own: &str| {
        let mut d = Diagnostic::error(
            Code::GovernanceLoosened,
            format!("`{key}` loosens the platform's `{inherited}` to `{own}`"),
        )
        .at(file, node.span_at(&["governance", "data_contracts", key.rsplit('.').next().unwrap_or(key)]))
        .with_help(format!(
            "a product may only tighten its platform's guardrails: keep `{inherited}` or tighten it, or remove the key"
        ));
        if let Some(o) = platform.origin(key) {
            d = d.with_note(&o.file, o.span(), "the platform's setting");
        }
        d
    };
    let inherited = inherited(platform);
    // Absent, the platform's level is `warn`.
    let theirs = inherited.map(|d| d.enforcement).unwrap_or_default();
    if let Some(mine) = own(spec).and_then(|d| d.enforcement)
        && mine < theirs
    {
        out.push(loosened(ENFORCEMENT, theirs.as_str(), mine.as_str()));
    }
    if let (Some(mine), Some(theirs)) =
        (own(spec).and_then(|d| d.max_classification), inherited.and_then(|d| d.max_classification))
        && mine > theirs
    {
        out.push(loosened(MAX, theirs.as_str(), mine.as_str()));
    }
    let Some(cap) = cap(spec, node, file, platform) else { return };
    for (i, port) in spec.output_ports.iter().flatten().enumerate() {
        let i = i.to_string();
        let mut written: Vec<(Classification, Vec<String>)> = Vec::new();
        if let Some(level) = port.classification {
            written.push((level, vec![i.clone()]));
        }
        for (j, c) in port.schema.iter().enumerate() {
            if let Some(level) = c.classification {
                written.push((level, vec![i.clone(), "schema".to_owned(), j.to_string()]));
            }
        }
        for (level, at) in written.into_iter().filter(|(l, _)| *l > cap.level) {
            let mut path = vec!["outputPorts"];
            path.extend(at.iter().map(String::as_str));
            path.push("classification");
            out.push(
                Diagnostic::error(
                    Code::ClassificationNotAllowed,
                    format!(
                        "port `{}` offers `{level}` data, above `{}`, the most this product may offer",
                        port.name, cap.level
                    ),
                )
                .at(file, node.span_at(&path))
                .with_help(format!(
                    "offer at most `{}` (leave out or anonymize these columns), or ask for a higher cap",
                    cap.level
                ))
                .with_note(&cap.file, cap.span, "the cap is set here"),
            );
        }
    }
}
