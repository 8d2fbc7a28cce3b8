//! Checks of a data product against itself and the platform it builds on.

use std::collections::{BTreeMap, BTreeSet};

use floe_schemas::diag::{self, Code, Diagnostic, Span};
use floe_schemas::spec::{FloeSpec, OutputPort};
use floe_schemas::yaml::LazyNode;
use serde_json::Value;

use crate::resolve::{Origin, ResolvedPlatform};

fn note_span(o: &Origin) -> Span {
    o.span()
}

/// Every problem of the product that does not involve other products.
pub fn check(spec: &FloeSpec, node: &LazyNode<'_>, file: &str, platform: &ResolvedPlatform) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_approved(spec, node, file, platform, &mut out);
    check_domain_label(spec, node, file, platform, &mut out);
    crate::classify::check(spec, node, file, platform, &mut out);
    let name = &spec.metadata.name;
    if name.len() > crate::k8s::NAME_MAX {
        out.push(
            Diagnostic::error(
                Code::RunNameTooLong,
                format!(
                    "product name `{name}` has {} characters, too many to name its runs on Kubernetes",
                    name.chars().count()
                ),
            )
            .at(file, node.span_at(&["metadata", "name"]))
            .with_help(format!(
                "shorten it to at most {} characters: its Job is named `<name>-<10 hex digits>`, a DNS label",
                crate::k8s::NAME_MAX
            )),
        );
    }
    check_transforms(spec, node, file, platform, &mut out);
    check_unique(
        spec.output_ports.iter().flatten().map(|p| p.name.as_str()),
        "outputPorts",
        "output port",
        node,
        file,
        &mut out,
    );
    check_unique(
        spec.input_ports.iter().flatten().map(|p| p.name.as_str()),
        "inputPorts",
        "input port",
        node,
        file,
        &mut out,
    );
    if spec.ingestion.is_some() && platform.manifest.plugins.get("ingestion").is_none() {
        let mut d = Diagnostic::error(
            Code::MissingKey,
            "this product declares ingestion, but its platform selects no ingestion plugin",
        )
        .at(file, node.span_at(&["ingestion"]))
        .with_help("the platform team adds `plugins.ingestion` (e.g. `type: dlt`) to the manifest");
        if let Some(o) = platform.origin("metadata.name") {
            d = d.with_note(&o.file, note_span(o), "the platform manifest");
        }
        out.push(d);
    }
    if let Some(ingestion) = &spec.ingestion {
        let names = ingestion.sources.iter().map(|s| s.name.as_str());
        let mut seen = BTreeSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name) {
                out.push(
                    Diagnostic::error(Code::DuplicateName, format!("ingestion source `{name}` is defined twice"))
                        .at(file, node.span_at(&["ingestion", "sources", &i.to_string(), "name"]))
                        .with_help("give every source its own name"),
                );
            }
        }
    }
    out
}

/// A domain named by the product's label (on a platform with no domain
/// tier) must name a namespace, `floe-<domain>`.
fn check_domain_label(
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    file: &str,
    platform: &ResolvedPlatform,
    out: &mut Vec<Diagnostic>,
) {
    if platform.chain.last().is_some_and(|t| t.scope == Some(floe_schemas::manifest::Scope::Domain)) {
        return;
    }
    let Some(domain) = spec.metadata.labels.as_ref().and_then(|l| l.get("domain")) else { return };
    if !(floe_schemas::manifest::is_dns_label(domain) && domain.len() <= crate::k8s::DOMAIN_MAX) {
        out.push(
            Diagnostic::error(
                Code::InvalidDomainLabel,
                format!("domain `{domain}` cannot name the namespace of this product's runs"),
            )
            .at(file, node.span_at(&["metadata", "labels", "domain"]))
            .with_help(format!(
                "write lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {} characters (e.g. `sales`)",
                crate::k8s::DOMAIN_MAX
            )),
        );
    }
}

fn check_approved(
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    file: &str,
    platform: &ResolvedPlatform,
    out: &mut Vec<Diagnostic>,
) {
    let Some((approved, origin)) = &platform.approved_products else { return };
    let name = &spec.metadata.name;
    if approved.iter().any(|a| a == name) {
        return;
    }
    let help = match diag::suggest(name, approved.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? otherwise ask the domain to add `{name}` to `approved_products`"),
        None => format!("the domain's platform team adds `{name}` to `approved_products`"),
    };
    out.push(
        Diagnostic::error(Code::ProductNotApproved, format!("product `{name}` is not approved by its domain"))
            .at(file, node.span_at(&["metadata", "name"]))
            .with_help(help)
            .with_note(&origin.file, note_span(origin), "approved products are listed here"),
    );
}

fn check_transforms(
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    file: &str,
    platform: &ResolvedPlatform,
    out: &mut Vec<Diagnostic>,
) {
    let names: Vec<&str> = spec.transforms.iter().map(|t| t.name.as_str()).collect();
    check_unique(names.iter().copied(), "transforms", "transform", node, file, out);
    let default_compute = platform.manifest.plugins.get("compute").map(|c| c.plugin_type.as_str());
    let approved_compute: Option<&Vec<String>> = platform.approved_plugins.as_ref().and_then(|a| a.get("compute"));
    for (i, t) in spec.transforms.iter().enumerate() {
        let idx = i.to_string();
        for (j, dep) in t.depends_on.iter().flatten().enumerate() {
            if !names.contains(&dep.as_str()) {
                let help = match diag::suggest(dep, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "`dependsOn` names other transforms of this product".to_owned(),
                };
                out.push(
                    Diagnostic::error(
                        Code::UnknownReference,
                        format!("transform `{}` depends on unknown transform `{dep}`", t.name),
                    )
                    .at(file, node.span_at(&["transforms", &idx, "dependsOn", &j.to_string()]))
                    .with_help(help),
                );
            }
        }
        if let Some(compute) = &t.compute {
            let ok = Some(compute.as_str()) == default_compute || approved_compute.is_some_and(|a| a.contains(compute));
            if !ok {
                let mut allowed: Vec<String> = default_compute.into_iter().map(str::to_owned).collect();
                allowed.extend(approved_compute.into_iter().flatten().cloned());
                allowed.sort();
                allowed.dedup();
                let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                out.push(
                    Diagnostic::error(
                        Code::ComputeNotApproved,
                        format!("transform `{}` runs on `{compute}`, which the platform does not approve", t.name),
                    )
                    .at(file, node.span_at(&["transforms", &idx, "compute"]))
                    .with_help(match allowed.len() {
                        1 => format!("use {list}, or remove `compute` to run on the default"),
                        _ => format!("use one of {list}, or remove `compute` to run on the default"),
                    }),
                );
            }
        }
    }
    if let Some(cycle) = find_cycle(spec) {
        // Point at the dependency that closes the cycle.
        let (from, to) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
        let t = spec.transforms.iter().position(|t| &t.name == from).unwrap_or(0);
        let d = spec.transforms[t].depends_on.iter().flatten().position(|d| d == to).unwrap_or(0);
        out.push(
            Diagnostic::error(
                Code::TransformCycle,
                format!("transforms depend on each other in a cycle: {}", cycle.join(" → ")),
            )
            .at(file, node.span_at(&["transforms", &t.to_string(), "dependsOn", &d.to_string()]))
            .with_help("dbt models must form a DAG; remove one of these `dependsOn` entries"),
        );
    }
}

fn find_cycle(spec: &FloeSpec) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = spec
        .transforms
        .iter()
        .map(|t| (t.name.as_str(), t.depends_on.iter().flatten().map(String::as_str).collect()))
        .collect();
    // 0 unvisited, 1 on the stack, 2 done.
    let mut mark: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        mark: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(n, 1);
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if deps.contains_key(d)
                && let Some(c) = visit(d, deps, mark, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        mark.insert(n, 2);
        None
    }
    let mut stack = Vec::new();
    deps.keys().find_map(|n| visit(n, &deps, &mut mark, &mut stack))
}

fn check_unique<'a>(
    names: impl Iterator<Item = &'a str>,
    list: &str,
    what: &str,
    node: &LazyNode<'_>,
    file: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in names.enumerate() {
        match first.get(name) {
            None => {
                first.insert(name, i);
            }
            Some(f) => out.push(
                Diagnostic::error(Code::DuplicateName, format!("{what} `{name}` is defined twice"))
                    .at(file, node.span_at(&[list, &i.to_string(), "name"]))
                    .with_help(format!("give every {what} its own name"))
                    .with_note(file, node.span_at(&[list, &f.to_string(), "name"]), "first defined here"),
            ),
        }
    }
}

/// A product that lists transforms but has no dbt project to build them.
pub fn transforms_without_project(spec: &FloeSpec, node: &LazyNode<'_>, file: &str) -> Diagnostic {
    let n = spec.transforms.len();
    Diagnostic::error(
        Code::TransformsWithoutProject,
        format!("{n} transform{} but no dbt project beside `floe.yaml`", if n == 1 { "" } else { "s" }),
    )
    .at(file, node.span_at(&["transforms"]))
    .with_help("add `dbt_project.yml` and the models beside `floe.yaml` (`floe new product` scaffolds them)")
}

/// The contract a product offers through one output port: what consumers build
/// against. Transforms, schedule and everything else stay out of it, so editing
/// them rebuilds no consumer.
pub fn contract(spec: &FloeSpec, port: &OutputPort) -> Value {
    serde_json::json!({
        "product": spec.metadata.name,
        "version": spec.metadata.version,
        "port": port,
    })
}

/// What a consumer learned about a producer's port when checking its input port.
pub struct PortCheck<'a> {
    pub port_index: usize,
    pub port: &'a floe_schemas::spec::InputPort,
    pub producer: &'a OutputPort,
    pub producer_file: &'a str,
    pub producer_node: &'a LazyNode<'a>,
    pub producer_port_index: usize,
}

/// Checks that a producer's port gives what the consumer's input port expects.
pub fn check_input_port(c: &PortCheck<'_>, node: &LazyNode<'_>, file: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let idx = c.port_index.to_string();
    let columns: Vec<&str> = c.producer.schema.iter().map(|col| col.name.as_str()).collect();
    let port_index = c.producer_port_index.to_string();
    let producer_span = || c.producer_node.span_at(&["outputPorts", &port_index, "name"]);
    for (j, col) in c.port.expects.iter().flatten().enumerate() {
        if !columns.contains(&col.as_str()) {
            let help = match diag::suggest(col, columns.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("`{}` has the columns {}", c.port.from, columns.join(", ")),
            };
            out.push(
                Diagnostic::error(
                    Code::PortExpectation,
                    format!(
                        "input port `{}` expects column `{col}`, which `{}` does not offer",
                        c.port.name, c.port.from
                    ),
                )
                .at(file, node.span_at(&["inputPorts", &idx, "expects", &j.to_string()]))
                .with_help(help)
                .with_note(c.producer_file, producer_span(), "the producer's port is defined here"),
            );
        }
    }
    if let (Some(want), Some(have)) = (c.port.sla.as_ref(), c.producer.sla.as_ref()) {
        if let (Some(w), Some(h)) =
            (want.freshness.as_deref().and_then(duration_secs), have.freshness.as_deref().and_then(duration_secs))
            && h > w
        {
            out.push(
                Diagnostic::error(
                    Code::PortExpectation,
                    format!(
                        "input port `{}` needs data fresher than {}, but `{}` promises only {}",
                        c.port.name,
                        want.freshness.as_deref().unwrap_or_default(),
                        c.port.from,
                        have.freshness.as_deref().unwrap_or_default()
                    ),
                )
                .at(file, node.span_at(&["inputPorts", &idx, "sla", "freshness"]))
                .with_help("relax this expectation, or agree a stronger SLA with the producer")
                .with_note(c.producer_file, producer_span(), "the producer's port is defined here"),
            );
        }
        if let (Some(w), Some(h)) = (want.availability.map(f64::from), have.availability.map(f64::from))
            && h < w
        {
            out.push(
                Diagnostic::error(
                    Code::PortExpectation,
                    format!(
                        "input port `{}` needs {w}% availability, but `{}` promises {h}%",
                        c.port.name, c.port.from
                    ),
                )
                .at(file, node.span_at(&["inputPorts", &idx, "sla", "availability"]))
                .with_help("relax this expectation, or agree a stronger SLA with the producer")
                .with_note(c.producer_file, producer_span(), "the producer's port is defined here"),
            );
        }
    }
    out
}

/// Seconds in an ISO-8601 duration (`PT6H`, `P1D`, `P1W`); months and years
/// count as 30 and 365 days.
pub fn duration_secs(s: &str) -> Option<f64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0.0;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let unit = units.iter().find(|(u, _)| *u == c)?.1;
                total += num.parse::<f64>().ok()? * unit;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    parse(date, &[('Y', 365.0 * 86400.0), ('M', 30.0 * 86400.0), ('W', 7.0 * 86400.0), ('D', 86400.0)])?;
    parse(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("PT6H"), Some(21600.0));
        assert_eq!(duration_secs("P1DT30M"), Some(88200.0));
        assert_eq!(duration_secs("P1W"), Some(604800.0));
        assert_eq!(duration_secs("6H"), None);
    }
}
