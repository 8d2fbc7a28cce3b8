//! Data contracts (ODCS v3.1), one per output port: the documents a
//! product's `:contracts` writes as `datacontract-<port>.yaml`, and the ones
//! its compiled artifacts embed under `data_contracts`.

pub mod evolution;
pub mod explicit;
pub mod external;

use floe_schemas::manifest::{Classification, PolicyEnforcementLevel};
use floe_schemas::spec::OutputPort;
use serde_json::{Value, json};

/// What a product's contracts say beyond its ports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Terms<'a> {
    /// How strictly runtimes enforce them (the product's level or its platform's).
    pub enforcement: PolicyEnforcementLevel,
    /// The highest classification of what the product reads: nothing it
    /// offers is classified lower.
    pub inherited: Option<Classification>,
    /// The product's own `datacontract.yaml` (null without one), merged over
    /// each port's (see [`explicit`]).
    pub explicit: &'a Value,
}

/// The file of a port's contract.
pub fn file_name(port: &str) -> String {
    format!("datacontract-{port}.yaml")
}

/// Whether `name` is a contract file as `:contracts` names them.
pub fn is_file_name(name: &str) -> bool {
    name.strip_prefix("datacontract-")
        .and_then(|n| n.strip_suffix(".yaml"))
        .is_some_and(|p| !p.is_empty() && !p.contains('/'))
}

/// The contract files of `ports` of a product, in the ports' order.
pub fn files(product: &str, version: &str, ports: &[OutputPort], domain: &str, terms: Terms<'_>) -> Vec<Vec<u8>> {
    all(product, version, ports, domain, terms).iter().map(|c| crate::emit::yaml(c).into_bytes()).collect()
}

/// The contracts of `ports` of a product, in the ports' order, its own
/// `datacontract.yaml` merged over each.
pub fn all(product: &str, version: &str, ports: &[OutputPort], domain: &str, terms: Terms<'_>) -> Vec<Value> {
    ports
        .iter()
        .map(|p| {
            let generated = contract(product, version, p, domain, terms);
            match terms.explicit {
                Value::Null => generated,
                file => explicit::merge(generated, file, &p.name, ports.len() > 1),
            }
        })
        .collect()
}

/// The ODCS v3.1 data contract of one output port of `product` at `version`.
fn contract(product: &str, version: &str, port: &OutputPort, domain: &str, terms: Terms<'_>) -> Value {
    let properties: Vec<Value> = port
        .schema
        .iter()
        .map(|c| {
            let mut p = json!({
                "name": c.name,
                "logicalType": c.column_type,
                "required": c.required,
                "primaryKey": c.primary_key,
            });
            if let Some(d) = &c.description {
                p["description"] = Value::from(d.clone());
            }
            if let Some(cl) = c.classification.or(port.classification).max(terms.inherited) {
                p["classification"] = Value::from(cl.as_str());
            }
            p
        })
        .collect();
    let mut sla = Vec::new();
    if let Some(s) = &port.sla {
        if let Some(f) = &s.freshness {
            sla.push(json!({"property": "freshness", "value": f, "unit": "iso8601"}));
        }
        if let Some(a) = s.availability {
            sla.push(json!({"property": "availability", "value": a.0, "unit": "percent"}));
        }
    }
    let mut custom = vec![json!({"property": "enforcement", "value": terms.enforcement.as_str()})];
    // The port as a whole (ODCS classifies properties only): its most
    // sensitive column, or what it is made from.
    if let Some(cl) = crate::classify::port_level(port).max(terms.inherited) {
        custom.push(json!({"property": "classification", "value": cl.as_str()}));
    }
    let mut c = json!({
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": format!("urn:floe:{domain}:{product}:{}", port.name),
        "name": format!("{product}-{}", port.name),
        "version": version,
        "status": "active",
        "domain": domain,
        "dataProduct": product,
        "schema": [{
            "name": port.name,
            "physicalName": port.table.as_deref().unwrap_or(&port.name),
            "logicalType": "object",
            "properties": properties,
        }],
        "customProperties": custom,
    });
    if let Some(d) = &port.description {
        c["description"] = json!({"purpose": d});
    }
    if !sla.is_empty() {
        c["slaProperties"] = Value::Array(sla);
    }
    c
}
