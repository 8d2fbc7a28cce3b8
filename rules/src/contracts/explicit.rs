//! A product's own `datacontract.yaml`, merged over the contracts floe
//! generates from its output ports: it adds what floe.yaml cannot say and
//! wins where both speak, but it may not describe other data than the ports
//! (consumers are checked against the ports).

use floe_schemas::artifacts::OpenDataContractStandard;
use floe_schemas::diag::{self, Code, Diagnostic};
use floe_schemas::manifest::Classification;
use floe_schemas::spec::{FloeSpec, OutputPort};
use floe_schemas::yaml::LazyNode;
use serde_json::Value;

/// Custom properties floe decides (guardrails): a contract file cannot set them.
const OWNED: &[&str] = &["enforcement", "classification"];

/// The contract of `port` with `explicit` (the file's document) merged over
/// `generated`. With several ports, an explicit `id` names the product and
/// each port's contract is `<id>:<port>`.
pub fn merge(mut generated: Value, explicit: &Value, port: &str, several_ports: bool) -> Value {
    let (Some(out), Some(file)) = (generated.as_object_mut(), explicit.as_object()) else { return generated };
    for (key, value) in file {
        match key.as_str() {
            "schema" => {
                let object = value.as_array().into_iter().flatten().find(|o| o["name"] == port);
                if let (Some(object), Some(Value::Array(ours))) = (object, out.get_mut("schema"))
                    && let Some(ours) = ours.first_mut()
                {
                    merge_object(ours, object);
                }
            }
            "id" if several_ports => {
                out.insert(key.clone(), Value::from(format!("{}:{port}", value.as_str().unwrap_or_default())));
            }
            "customProperties" => {
                let ours = out.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                let Some(ours) = ours.as_array_mut() else { continue };
                for p in value.as_array().into_iter().flatten() {
                    let name = p["property"].as_str().unwrap_or_default();
                    if !OWNED.contains(&name) {
                        ours.retain(|o| o["property"] != name);
                        ours.push(p.clone());
                    }
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    generated
}

/// A schema object over floe's: its keys win, its properties are merged by
/// name, and a classification only ever rises.
fn merge_object(ours: &mut Value, theirs: &Value) {
    let (Some(ours), Some(theirs)) = (ours.as_object_mut(), theirs.as_object()) else { return };
    for (key, value) in theirs {
        if key != "properties" {
            ours.insert(key.clone(), value.clone());
            continue;
        }
        let Some(Value::Array(props)) = ours.get_mut("properties") else { continue };
        for prop in props.iter_mut() {
            let Some(their) = value.as_array().into_iter().flatten().find(|p| p["name"] == prop["name"]) else {
                continue;
            };
            let floor = level(&prop["classification"]);
            let Some(prop) = prop.as_object_mut() else { continue };
            for (k, v) in their.as_object().into_iter().flatten() {
                prop.insert(k.clone(), v.clone());
            }
            if let Some(floor) = floor
                && level(&prop["classification"]).is_none_or(|l| l < floor)
            {
                prop.insert("classification".to_owned(), Value::from(floor.as_str()));
            }
        }
    }
}

fn level(v: &Value) -> Option<Classification> {
    serde_json::from_value(v.clone()).ok()
}

/// Where `doc` (the file `file`, tree `node`) says something else than the
/// product's output ports (`spec`, in `spec_file` with tree `spec_node`).
pub fn check(
    doc: &OpenDataContractStandard,
    node: &LazyNode<'_>,
    file: &str,
    spec: &FloeSpec,
    spec_node: &LazyNode<'_>,
    spec_file: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let ports = spec.output_ports.as_deref().unwrap_or_default();
    let err = |message: String, path: &[&str], help: String| {
        Diagnostic::error(Code::ContractDisagrees, message).at(file, node.span_at(path)).with_help(help)
    };
    if ports.is_empty() {
        out.push(
            err(
                "a data contract beside a product without output ports".to_owned(),
                &[],
                "a contract describes what a product offers: declare `outputPorts` in floe.yaml, or remove this file"
                    .to_owned(),
            )
            .with_note(spec_file, spec_node.span_at(&["metadata", "name"]), "the product"),
        );
        return out;
    }
    if let Some(name) = &doc.data_product
        && *name != spec.metadata.name
    {
        out.push(
            err(
                format!("`dataProduct` is `{name}`, but this is product `{}`", spec.metadata.name),
                &["dataProduct"],
                "remove it (floe writes the product's name) or write the product's name".to_owned(),
            )
            .with_note(spec_file, spec_node.span_at(&["metadata", "name"]), "the product's name"),
        );
    }
    for (i, object) in doc.schema.iter().flatten().enumerate() {
        let i = i.to_string();
        let name = object.name.as_deref().unwrap_or_default();
        let Some((pi, port)) = ports.iter().enumerate().find(|(_, p)| p.name == name) else {
            let names = ports.iter().map(|p| p.name.as_str());
            let help = match diag::suggest(name, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("each schema object names an output port: {}", names.collect::<Vec<_>>().join(", ")),
            };
            out.push(
                err(format!("schema object `{name}` names no output port"), &["schema", &i, "name"], help).with_note(
                    spec_file,
                    spec_node.span_at(&["outputPorts"]),
                    "the output ports",
                ),
            );
            continue;
        };
        let pi = pi.to_string();
        for (j, prop) in object.properties.iter().flatten().enumerate() {
            let j = j.to_string();
            fn at<'a>(i: &'a str, j: &'a str, key: &'a str) -> [&'a str; 5] {
                ["schema", i, "properties", j, key]
            }
            let column = prop.name.as_deref().unwrap_or_default();
            let Some((ci, col)) = port.schema.iter().enumerate().find(|(_, c)| c.name == column) else {
                let names = port.schema.iter().map(|c| c.name.as_str());
                let help = match diag::suggest(column, names.clone()) {
                    Some(s) => format!("did you mean `{s}`? a column is added to the port in floe.yaml"),
                    None => "a column is added to the port in floe.yaml, where consumers see it".to_owned(),
                };
                out.push(err(format!("port `{name}` has no column `{column}`"), &at(&i, &j, "name"), help).with_note(
                    spec_file,
                    spec_node.span_at(&["outputPorts", &pi, "schema"]),
                    "the port's columns",
                ));
                continue;
            };
            let ci = ci.to_string();
            let mut differs = |key: &str, theirs: String, ours: String, spec_key: &str| {
                out.push(
                    err(
                        format!(
                            "column `{column}` of port `{name}` has {key} `{theirs}` here but `{ours}` in floe.yaml"
                        ),
                        &at(&i, &j, key),
                        format!(
                            "write `{ours}`, or change the port in floe.yaml (its consumers are checked against it)"
                        ),
                    )
                    .with_note(
                        spec_file,
                        spec_node.span_at(&["outputPorts", &pi, "schema", &ci, spec_key]),
                        "the port says so here",
                    ),
                );
            };
            if let Some(t) = &prop.logical_type
                && *t != col.column_type
            {
                differs("logicalType", t.clone(), col.column_type.clone(), "type");
            }
            if let Some(r) = prop.required
                && r != col.required
            {
                differs("required", r.to_string(), col.required.to_string(), "required");
            }
            if let Some(k) = prop.primary_key
                && k != col.primary_key
            {
                differs("primaryKey", k.to_string(), col.primary_key.to_string(), "primaryKey");
            }
            if let (Some(theirs), Some(ours)) = (&prop.classification, col.classification.or(port.classification)) {
                match serde_json::from_value::<Classification>(Value::from(theirs.as_str())) {
                    Ok(level) if level >= ours => {}
                    _ => differs("classification", theirs.clone(), ours.as_str().to_owned(), "classification"),
                }
            }
        }
    }
    for (pi, port) in ports.iter().enumerate() {
        check_sla(doc, port, &pi.to_string(), node, file, spec_node, spec_file, &mut out);
    }
    out
}

/// An SLA the port promises is the one the contract states.
#[allow(clippy::too_many_arguments)]
fn check_sla(
    doc: &OpenDataContractStandard,
    port: &OutputPort,
    pi: &str,
    node: &LazyNode<'_>,
    file: &str,
    spec_node: &LazyNode<'_>,
    spec_file: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(sla) = &port.sla else { return };
    for (k, p) in doc.sla_properties.iter().flatten().enumerate() {
        let property = p.property.as_deref().unwrap_or_default();
        let ours = match property {
            "freshness" => sla.freshness.as_ref().map(|f| Value::from(f.as_str())),
            "availability" => sla.availability.map(|a| Value::from(a.0)),
            _ => None,
        };
        let theirs = serde_json::to_value(&p.value).unwrap_or(Value::Null);
        let Some(ours) = ours else { continue };
        let same = match (&ours, &theirs) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        if !same {
            let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            out.push(
                Diagnostic::error(
                    Code::ContractDisagrees,
                    format!(
                        "the contract states {} `{}`, but port `{}` promises `{}`",
                        property,
                        show(&theirs),
                        port.name,
                        show(&ours)
                    ),
                )
                .at(file, node.span_at(&["slaProperties", &k.to_string(), "value"]))
                .with_help(
                    "consumers are checked against the port's SLA: change it in floe.yaml, or state the same here",
                )
                .with_note(
                    spec_file,
                    spec_node.span_at(&["outputPorts", pi, "sla", property]),
                    "the port's SLA",
                ),
            );
        }
    }
}

/// The file as a JSON value, `None` when there is none.
pub fn value(doc: Option<&OpenDataContractStandard>) -> Value {
    doc.and_then(|d| serde_json::to_value(d).ok()).unwrap_or(Value::Null)
}
