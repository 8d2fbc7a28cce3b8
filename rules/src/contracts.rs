//! Data contracts (ODCS v3.1), one per output port: the documents a
//! product's `:contracts` writes as `datacontract-<port>.yaml`, and the ones
//! its compiled artifacts embed under `data_contracts`.

use floe_schemas::spec::OutputPort;
use serde_json::{Value, json};

/// The file of a port's contract.
pub fn file_name(port: &str) -> String {
    format!("datacontract-{port}.yaml")
}

/// The contract files of `ports` of a product, in the ports' order.
pub fn files(product: &str, version: &str, ports: &[OutputPort], domain: &str) -> Vec<Vec<u8>> {
    ports.iter().map(|p| crate::emit::yaml(&contract(product, version, p, domain)).into_bytes()).collect()
}

/// The ODCS v3.1 data contract of one output port of `product` at `version`.
pub fn contract(product: &str, version: &str, port: &OutputPort, domain: &str) -> Value {
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
            if let Some(cl) = c.classification.as_ref().or(port.classification.as_ref()) {
                p["classification"] = Value::from(cl.clone());
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
    });
    if let Some(d) = &port.description {
        c["description"] = json!({"purpose": d});
    }
    if !sla.is_empty() {
        c["slaProperties"] = Value::Array(sla);
    }
    c
}
