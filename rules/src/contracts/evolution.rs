//! Contract evolution: each output port against the one `floe.lock` pins.
//! A breaking change needs a new major version of the product (a new minor
//! one before 1.0.0), an additive change at least a new minor one; the
//! consumers a breaking change reaches are the engine's to name.

use floe_schemas::diag::{Code, Diagnostic, Span};
use floe_schemas::spec::{FloeSpec, OutputPort, Sla};
use floe_schemas::yaml::LazyNode;

use crate::classify::port_level;
use crate::product::duration_secs;

/// A port as `floe.lock` pins it, and where.
pub struct Baseline<'a> {
    pub version: &'a str,
    pub port: &'a OutputPort,
    pub file: &'a str,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Additive,
    Breaking,
}

/// One difference from the baseline, and where it is written in floe.yaml.
#[derive(Debug, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub what: String,
    pub path: Vec<String>,
}

/// The changes of `port` (the `index`th of its product) since `base`.
pub fn changes(base: &OutputPort, port: &OutputPort, index: usize) -> Vec<Change> {
    let at = |rest: &[&str]| {
        let mut path = vec!["outputPorts".to_owned(), index.to_string()];
        path.extend(rest.iter().map(|s| (*s).to_owned()));
        path
    };
    let change = |kind, what: String, path| Change { kind, what, path };
    let mut out = Vec::new();
    for old in &base.schema {
        let Some((j, new)) = port.schema.iter().enumerate().find(|(_, c)| c.name == old.name) else {
            out.push(change(Kind::Breaking, format!("column `{}` removed", old.name), at(&["schema"])));
            continue;
        };
        let j = j.to_string();
        if new.column_type != old.column_type {
            let what = format!("column `{}` changed from `{}` to `{}`", old.name, old.column_type, new.column_type);
            out.push(change(Kind::Breaking, what, at(&["schema", &j, "type"])));
        }
        if new.required != old.required {
            let (kind, what) = match new.required {
                true => (Kind::Breaking, "optional to required"),
                false => (Kind::Additive, "required to optional"),
            };
            out.push(change(
                kind,
                format!("column `{}` changed from {what}", old.name),
                at(&["schema", &j, "required"]),
            ));
        }
        if new.primary_key != old.primary_key {
            let what =
                format!("column `{}` {} the primary key", old.name, if new.primary_key { "joined" } else { "left" });
            out.push(change(Kind::Breaking, what, at(&["schema", &j, "primaryKey"])));
        }
    }
    for (j, new) in port.schema.iter().enumerate() {
        if !base.schema.iter().any(|c| c.name == new.name) {
            out.push(change(
                Kind::Additive,
                format!("column `{}` added", new.name),
                at(&["schema", &j.to_string(), "name"]),
            ));
        }
    }
    if let (Some(old), new) = (port_level(base), port_level(port))
        && new.is_some_and(|n| n > old)
    {
        let what = format!("classification raised from `{old}` to `{}`", new.expect("checked"));
        out.push(change(Kind::Breaking, what, at(&["classification"])));
    }
    sla_changes(base.sla.as_ref(), port.sla.as_ref(), &at, &mut out);
    out
}

fn sla_changes(base: Option<&Sla>, now: Option<&Sla>, at: &dyn Fn(&[&str]) -> Vec<String>, out: &mut Vec<Change>) {
    let Some(base) = base else {
        if now.is_some_and(|s| s.freshness.is_some() || s.availability.is_some()) {
            out.push(Change { kind: Kind::Additive, what: "service levels promised".to_owned(), path: at(&["sla"]) });
        }
        return;
    };
    let fresh = |s: Option<&Sla>| s.and_then(|s| duration_secs(s.freshness.as_deref()?));
    match (fresh(Some(base)), fresh(now)) {
        (Some(_), None) => {
            out.push(Change { kind: Kind::Breaking, what: "freshness promise dropped".to_owned(), path: at(&["sla"]) })
        }
        (Some(b), Some(n)) if n != b => out.push(Change {
            kind: if n > b { Kind::Breaking } else { Kind::Additive },
            what: format!(
                "freshness {} from {} to {}",
                if n > b { "weakened" } else { "strengthened" },
                base.freshness.as_deref().unwrap_or_default(),
                now.and_then(|s| s.freshness.as_deref()).unwrap_or_default()
            ),
            path: at(&["sla", "freshness"]),
        }),
        _ => {}
    }
    let avail = |s: Option<&Sla>| s.and_then(|s| s.availability).map(|a| a.0);
    match (avail(Some(base)), avail(now)) {
        (Some(_), None) => out.push(Change {
            kind: Kind::Breaking,
            what: "availability promise dropped".to_owned(),
            path: at(&["sla"]),
        }),
        (Some(b), Some(n)) if n != b => out.push(Change {
            kind: if n < b { Kind::Breaking } else { Kind::Additive },
            what: format!("availability {} from {b}% to {n}%", if n < b { "weakened" } else { "strengthened" }),
            path: at(&["sla", "availability"]),
        }),
        _ => {}
    }
}

/// How an E0406 of a breaking change begins; [`broken_port`] reads it back.
const BREAKING: &str = "breaking change";

/// The port (`//domain/product:port`) an E0406 message says a breaking
/// change reaches, for naming its consumers; `None` for an additive one.
pub fn broken_port(message: &str) -> Option<&str> {
    message.strip_prefix(BREAKING)?.strip_prefix(" to `")?.split('`').next()
}

/// The bump a change needs from `pinned`: `None` when `now` has it.
fn missing_bump(kind: Kind, pinned: &semver::Version, now: &semver::Version) -> Option<semver::Version> {
    let (major, minor) = (now.major > pinned.major, now.major == pinned.major && now.minor > pinned.minor);
    match kind {
        Kind::Breaking if pinned.major == 0 && (major || minor) => None,
        Kind::Breaking if major => None,
        Kind::Breaking if pinned.major == 0 => Some(semver::Version::new(0, pinned.minor + 1, 0)),
        Kind::Breaking => Some(semver::Version::new(pinned.major + 1, 0, 0)),
        Kind::Additive if major || minor => None,
        Kind::Additive => Some(semver::Version::new(pinned.major, pinned.minor + 1, 0)),
    }
}

/// Every change of the product's ports since `floe.lock` pinned them that
/// its version does not account for, at the changed line. `label` is the
/// product's (`//sales/orders`); `baseline` finds a port's pin by name.
pub fn check<'a>(
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    file: &str,
    label: &str,
    pins: &[(&'a str, Baseline<'a>)],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Ok(now) = semver::Version::parse(&spec.metadata.version) else { return out };
    let ports = spec.output_ports.as_deref().unwrap_or_default();
    let mut found: Vec<(Change, &Baseline<'_>, &str)> = Vec::new();
    for (name, base) in pins {
        match ports.iter().enumerate().find(|(_, p)| p.name == *name) {
            Some((i, port)) => found.extend(changes(base.port, port, i).into_iter().map(|c| (c, base, *name))),
            None => {
                let path = vec!["outputPorts".to_owned()];
                found.push((Change { kind: Kind::Breaking, what: "port removed".to_owned(), path }, base, name));
            }
        }
    }
    // A port no pin names is new: additive, judged against the product's pins.
    if let Some((_, base)) = pins.first() {
        for (i, port) in ports.iter().enumerate().filter(|(_, p)| !pins.iter().any(|(n, _)| *n == p.name)) {
            let path = vec!["outputPorts".to_owned(), i.to_string(), "name".to_owned()];
            found.push((
                Change { kind: Kind::Additive, what: "port added".to_owned(), path },
                base,
                port.name.as_str(),
            ));
        }
    }
    for (change, base, port) in found {
        let Ok(pinned) = semver::Version::parse(base.version) else { continue };
        let Some(bump) = missing_bump(change.kind, &pinned, &now) else { continue };
        let (what, needs) = match change.kind {
            Kind::Breaking => (BREAKING, "a new major version"),
            Kind::Additive => ("change", "at least a new minor version"),
        };
        let path: Vec<&str> = change.path.iter().map(String::as_str).collect();
        out.push(
            Diagnostic::error(
                Code::ContractVersion,
                format!("{what} to `{label}:{port}` needs {needs}: {} (pinned at {pinned}, now {now})", change.what),
            )
            .at(file, node.span_at(&path))
            .with_help(format!("bump `metadata.version` to {bump}, or undo the change"))
            .with_note(base.file, base.span, "the port as floe.lock pins it")
            .with_note(file, node.span_at(&["metadata", "version"]), "the product's version"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(yaml: &str) -> OutputPort {
        serde_json::from_value(floe_schemas::yaml::parse("p.yaml", yaml.as_bytes()).unwrap().to_json()).unwrap()
    }

    #[test]
    fn changes_are_breaking_or_additive() {
        let base = port(
            "{name: o, schema: [{name: id, type: string, required: true, primaryKey: true}, \
             {name: amount, type: number}, {name: note, type: string}], sla: {freshness: PT1H, availability: 99.9}}",
        );
        let now = port(
            "{name: o, schema: [{name: id, type: integer, required: true, primaryKey: true}, \
             {name: amount, type: number, required: true}, {name: coupon, type: string}], \
             sla: {freshness: PT30M}}",
        );
        let got: Vec<(Kind, String)> = changes(&base, &now, 0).into_iter().map(|c| (c.kind, c.what)).collect();
        assert_eq!(
            got,
            [
                (Kind::Breaking, "column `id` changed from `string` to `integer`".to_owned()),
                (Kind::Breaking, "column `amount` changed from optional to required".to_owned()),
                (Kind::Breaking, "column `note` removed".to_owned()),
                (Kind::Additive, "column `coupon` added".to_owned()),
                (Kind::Additive, "freshness strengthened from PT1H to PT30M".to_owned()),
                (Kind::Breaking, "availability promise dropped".to_owned()),
            ]
        );
    }

    #[test]
    fn the_bump_a_change_needs() {
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert_eq!(missing_bump(Kind::Breaking, &v("1.2.3"), &v("1.9.0")), Some(v("2.0.0")));
        assert_eq!(missing_bump(Kind::Breaking, &v("1.2.3"), &v("2.0.0")), None);
        assert_eq!(missing_bump(Kind::Additive, &v("1.2.3"), &v("1.2.4")), Some(v("1.3.0")));
        assert_eq!(missing_bump(Kind::Additive, &v("1.2.3"), &v("1.3.0")), None);
        // Before 1.0.0 a minor version is a major one.
        assert_eq!(missing_bump(Kind::Breaking, &v("0.3.0"), &v("0.3.1")), Some(v("0.4.0")));
        assert_eq!(missing_bump(Kind::Breaking, &v("0.3.0"), &v("0.4.0")), None);
    }

    #[test]
    fn a_breaking_change_names_its_port() {
        let spec: FloeSpec = serde_json::from_value(
            floe_schemas::yaml::parse(
                "floe.yaml",
                b"{apiVersion: floe.dev/v1, kind: FloeSpec, metadata: {name: o, version: 1.0.0}, \
                  transforms: [{name: t}], outputPorts: [{name: p, schema: [{name: b, type: string}]}]}",
            )
            .unwrap()
            .to_json(),
        )
        .unwrap();
        let base = port("{name: p, schema: [{name: a, type: string}]}");
        let pins = [("p", Baseline { version: "1.0.0", port: &base, file: "floe.lock", span: Span::default() })];
        let found = check(&spec, &LazyNode::new(|| None), "floe.yaml", "//d/o", &pins);
        let ports: Vec<Option<&str>> = found.iter().map(|d| broken_port(&d.message)).collect();
        // `a` removed is breaking; `b` added is not.
        assert_eq!(ports, [Some("//d/o:p"), None]);
    }
}
