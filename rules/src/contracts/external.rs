//! Input ports on products outside the workspace, named by their contract's
//! id (`urn:datacontract:…`, optionally `:<version>` and `#<table>`) and
//! read from a `datacontract.yaml` in the workspace: never fetched while
//! building.

use floe_schemas::artifacts::{OpenDataContractStandard, Scalar, SchemaObject};
use floe_schemas::diag::{self, Code, Diagnostic};
use floe_schemas::manifest::Classification;
use floe_schemas::spec::InputPort;
use floe_schemas::yaml::LazyNode;

/// Whether an input port's `from` names a contract rather than a label.
pub fn is_urn(from: &str) -> bool {
    from.starts_with("urn:")
}

/// What a `from` URN asks for: the contract id, a version, a table.
#[derive(Debug, PartialEq)]
pub struct Wanted<'a> {
    pub id: &'a str,
    pub version: Option<semver::Version>,
    pub table: Option<&'a str>,
}

/// Splits `urn:…[:<version>][#<table>]`; `ids` are the contracts' ids, which
/// tell an id ending in a version-like part from an id with a version.
pub fn wanted<'a>(from: &'a str, ids: &[&str]) -> Wanted<'a> {
    let (urn, table) = match from.split_once('#') {
        Some((u, t)) => (u, Some(t)),
        None => (from, None),
    };
    if !ids.contains(&urn)
        && let Some((id, v)) = urn.rsplit_once(':')
        && let Ok(version) = semver::Version::parse(v)
    {
        return Wanted { id, version: Some(version), table };
    }
    Wanted { id: urn, version: None, table }
}

/// A contract version satisfies a wanted one as a caret requirement does:
/// the same major version (minor for 0.x), at least as new.
pub fn satisfies(have: &str, want: &semver::Version) -> bool {
    let Ok(have) = semver::Version::parse(have) else { return false };
    let Ok(req) = semver::VersionReq::parse(&format!("^{want}")) else { return false };
    req.matches(&have)
}

/// The schema object a port reads: the one named, else the only one.
pub fn object<'d>(doc: &'d OpenDataContractStandard, table: Option<&str>) -> Result<(usize, &'d SchemaObject), String> {
    let objects = doc.schema.as_deref().unwrap_or_default();
    match table {
        Some(t) => objects.iter().enumerate().find(|(_, o)| o.name.as_deref() == Some(t)).ok_or_else(|| {
            let names: Vec<&str> = objects.iter().filter_map(|o| o.name.as_deref()).collect();
            match diag::suggest(t, names.iter().copied()) {
                Some(s) => format!("the contract has no table `{t}`; did you mean `#{s}`?"),
                None => format!("the contract has no table `{t}`; it describes {}", names.join(", ")),
            }
        }),
        None if objects.len() == 1 => Ok((0, &objects[0])),
        None => {
            let names: Vec<&str> = objects.iter().filter_map(|o| o.name.as_deref()).collect();
            Err(format!(
                "the contract describes {} tables: name one with `#<table>` ({})",
                objects.len(),
                names.join(", ")
            ))
        }
    }
}

/// The level of the data a schema object holds: its most sensitive column.
pub fn level(object: &SchemaObject) -> Option<Classification> {
    object
        .properties
        .iter()
        .flatten()
        .filter_map(|p| serde_json::from_value(serde_json::Value::from(p.classification.as_deref()?)).ok())
        .max()
}

/// What a consumer's input port expects of an external contract's table.
pub struct Check<'a> {
    pub port_index: usize,
    pub port: &'a InputPort,
    pub doc: &'a OpenDataContractStandard,
    pub object_index: usize,
    pub object: &'a SchemaObject,
    pub contract_file: &'a str,
    pub contract_node: &'a LazyNode<'a>,
}

/// Checks the columns and service levels a port expects against the contract.
pub fn check(c: &Check<'_>, node: &LazyNode<'_>, file: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let idx = c.port_index.to_string();
    let oi = c.object_index.to_string();
    let columns: Vec<&str> = c.object.properties.iter().flatten().filter_map(|p| p.name.as_deref()).collect();
    let table = || c.contract_node.span_at(&["schema", &oi, "name"]);
    for (j, col) in c.port.expects.iter().flatten().enumerate() {
        if columns.contains(&col.as_str()) {
            continue;
        }
        let help = match diag::suggest(col, columns.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the contract's table has the columns {}", columns.join(", ")),
        };
        out.push(
            Diagnostic::error(
                Code::PortExpectation,
                format!("input port `{}` expects column `{col}`, which the contract does not describe", c.port.name),
            )
            .at(file, node.span_at(&["inputPorts", &idx, "expects", &j.to_string()]))
            .with_help(help)
            .with_note(c.contract_file, table(), "the contract's table"),
        );
    }
    let Some(want) = &c.port.sla else { return out };
    for (k, p) in c.doc.sla_properties.iter().flatten().enumerate() {
        let at = || c.contract_node.span_at(&["slaProperties", &k.to_string(), "value"]);
        let value = match &p.value {
            Some(Scalar::String(s)) => Some(s.clone()),
            Some(Scalar::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let (Some(property), Some(value)) = (p.property.as_deref(), value) else { continue };
        let weaker = match property {
            "freshness" => want.freshness.as_deref().and_then(|w| {
                let (w_s, h_s) = (crate::product::duration_secs(w)?, crate::product::duration_secs(&value)?);
                (h_s > w_s).then(|| format!("data fresher than {w}, but the contract promises only {value}"))
            }),
            "availability" => want.availability.and_then(|w| {
                let have: f64 = value.trim_end_matches('%').parse().ok()?;
                (have < w.0).then(|| format!("{}% availability, but the contract promises {have}%", w.0))
            }),
            _ => None,
        };
        if let Some(what) = weaker {
            out.push(
                Diagnostic::error(Code::PortExpectation, format!("input port `{}` needs {what}", c.port.name))
                    .at(file, node.span_at(&["inputPorts", &idx, "sla", property]))
                    .with_help("relax this expectation, or agree a stronger SLA with the producer")
                    .with_note(c.contract_file, at(), "the contract's service level"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urn_may_pin_a_version_and_name_a_table() {
        let w = wanted("urn:datacontract:acme:crm:customers:1.2.0#accounts", &["urn:datacontract:acme:crm:customers"]);
        assert_eq!(w.id, "urn:datacontract:acme:crm:customers");
        assert_eq!(w.version, Some(semver::Version::new(1, 2, 0)));
        assert_eq!(w.table, Some("accounts"));
        // An id that itself ends in something version-like is the id.
        let w = wanted("urn:x:1.0.0", &["urn:x:1.0.0"]);
        assert_eq!((w.id, w.version), ("urn:x:1.0.0", None));
        assert!(satisfies("1.4.0", &semver::Version::new(1, 2, 0)));
        assert!(!satisfies("2.0.0", &semver::Version::new(1, 2, 0)));
        assert!(!satisfies("1.1.0", &semver::Version::new(1, 2, 0)));
    }
}
