//! A product's static lineage: the OpenLineage (spec 2-0-2) events its
//! `:lineage` writes as `lineage.json`, declared at build time rather than
//! observed at run time.
//!
//! One `JobEvent` for the product's job (its type, its description and owner,
//! its version as a tag), reading a dataset per input port (named as its
//! producer declares it, so the edges between products join by namespace and
//! name) and per ingestion source, and writing a dataset per output port and
//! per ingestion destination; then one `DatasetEvent` per dataset the product
//! writes, a port's with its schema. The datasets a product reads carry no
//! facet: their producer declares them, so a producer's column edit rebuilds
//! no consumer's lineage.

use floe_plugins::{Any, Category, ProductContext};
use floe_schemas::spec::OutputPort;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::resolve::ResolvedPlatform;

/// The file `:lineage` writes.
pub const FILE: &str = "lineage.json";

/// The OpenLineage specification the events follow.
const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json";

/// The facets floe writes, by the `$id` of their schema (OpenLineage
/// versions each facet apart from the specification).
const JOB_TYPE: &str = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json";
const JOB_DOCUMENTATION: &str = "https://openlineage.io/spec/facets/1-1-0/DocumentationJobFacet.json";
const JOB_OWNERSHIP: &str = "https://openlineage.io/spec/facets/1-0-1/OwnershipJobFacet.json";
const JOB_TAGS: &str = "https://openlineage.io/spec/facets/1-0-0/TagsJobFacet.json";
const DATASET_SCHEMA: &str = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json";
const DATASET_DOCUMENTATION: &str = "https://openlineage.io/spec/facets/1-1-0/DocumentationDatasetFacet.json";
const DATASET_TYPE: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json";

/// The namespace a product's jobs and datasets report under: what its
/// platform's lineage backend maps it to ([`plugin_namespace`]), else
/// `{domain}.{product_name}`.
pub fn namespace(platform: &ResolvedPlatform, product: &str, domain: &str) -> String {
    plugin_namespace(platform, product, domain).unwrap_or_else(|| {
        floe_plugins::default_lineage_namespace(&ProductContext::new(product).in_domain(Some(domain)))
    })
}

/// The namespace the platform's lineage backend gives a product (its
/// `namespace_mapping`), when the platform selects one: the one its runs
/// report under (`OPENLINEAGE_NAMESPACE`).
pub fn plugin_namespace(platform: &ResolvedPlatform, product: &str, domain: &str) -> Option<String> {
    let chosen = crate::plugins::plugin(platform, Category::LineageBackend)?;
    let Any::LineageBackend(backend) = chosen.plugin else { return None };
    let ctx = ProductContext::new(product).in_domain(Some(domain));
    Some(backend.namespace_mapping(&chosen.selected(), &ctx))
}

/// A dataset as OpenLineage names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
}

/// What lineage reads of an output port: its name, its description and its
/// columns' names, types and descriptions (not its SLA, keys or
/// classifications, whose edits rebuild no lineage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub fields: Vec<Field>,
}

/// A column of a [`Port`]: a field of its dataset's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Port {
    pub fn of(port: &OutputPort) -> Port {
        Port {
            name: port.name.clone(),
            description: port.description.clone(),
            fields: port
                .schema
                .iter()
                .map(|c| Field {
                    name: c.name.clone(),
                    field_type: c.column_type.clone(),
                    description: c.description.clone(),
                })
                .collect(),
        }
    }
}

/// What lineage reads of an ingestion source: the files it loads and the
/// table it writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    pub path: String,
    pub destination: String,
}

/// Everything the rule reads.
pub struct LineageInput<'a> {
    pub product: &'a str,
    pub version: &'a str,
    pub description: Option<&'a str>,
    pub owner: Option<&'a str>,
    /// The product's own namespace ([`namespace`]).
    pub namespace: &'a str,
    pub ports: &'a [Port],
    pub ingestion: &'a [Load],
    /// The datasets its input ports read, as their producers name them.
    pub inputs: &'a [Dataset],
    /// RFC 3339, from `SOURCE_DATE_EPOCH`; never the clock.
    pub compiled_at: &'a str,
    pub floe_version: &'a str,
}

/// `lineage.json`: the events, as a JSON array.
pub fn file(input: &LineageInput<'_>) -> Vec<u8> {
    crate::emit::json(&events(input))
}

/// The product's events: its job's, then one per dataset it writes.
pub fn events(input: &LineageInput<'_>) -> Value {
    let producer = producer(input.floe_version);
    let facet = |schema: &str, name: &str, fields: Value| {
        let mut f = Map::new();
        f.insert("_producer".to_owned(), Value::from(producer.as_str()));
        f.insert("_schemaURL".to_owned(), Value::from(format!("{schema}#/$defs/{name}")));
        if let Value::Object(fields) = fields {
            f.extend(fields);
        }
        Value::Object(f)
    };
    let own = |name: &str| Dataset { namespace: input.namespace.to_owned(), name: name.to_owned() };

    let mut reads: Vec<Dataset> = Vec::new();
    for d in input.inputs.iter().cloned().chain(input.ingestion.iter().map(|l| source(&l.path))) {
        if !reads.contains(&d) {
            reads.push(d);
        }
    }
    // What the product writes: each port, then each table its ingestion
    // loads, with the facets of its dataset event.
    let mut writes: Vec<(Dataset, Map<String, Value>)> = Vec::new();
    for port in input.ports {
        let mut facets = Map::new();
        let fields = json!({"fields": port.fields});
        facets.insert("schema".to_owned(), facet(DATASET_SCHEMA, "SchemaDatasetFacet", fields));
        if let Some(d) = &port.description {
            facets.insert(
                "documentation".to_owned(),
                facet(DATASET_DOCUMENTATION, "DocumentationDatasetFacet", json!({"description": d})),
            );
        }
        facets.insert(
            "datasetType".to_owned(),
            facet(DATASET_TYPE, "DatasetTypeDatasetFacet", json!({"datasetType": "TABLE"})),
        );
        writes.push((own(&port.name), facets));
    }
    for load in input.ingestion {
        let dataset = own(&load.destination);
        if writes.iter().any(|(d, _)| *d == dataset) {
            continue;
        }
        let mut facets = Map::new();
        facets.insert(
            "datasetType".to_owned(),
            facet(DATASET_TYPE, "DatasetTypeDatasetFacet", json!({"datasetType": "TABLE"})),
        );
        writes.push((dataset, facets));
    }

    let mut job_facets = Map::new();
    job_facets.insert(
        "jobType".to_owned(),
        facet(
            JOB_TYPE,
            "JobTypeJobFacet",
            json!({"processingType": "BATCH", "integration": "FLOE", "jobType": "DATA_PRODUCT"}),
        ),
    );
    if let Some(d) = input.description {
        job_facets.insert(
            "documentation".to_owned(),
            facet(JOB_DOCUMENTATION, "DocumentationJobFacet", json!({"description": d})),
        );
    }
    if let Some(o) = input.owner {
        job_facets.insert(
            "ownership".to_owned(),
            facet(JOB_OWNERSHIP, "OwnershipJobFacet", json!({"owners": [{"name": o}]})),
        );
    }
    job_facets.insert(
        "tags".to_owned(),
        facet(
            JOB_TAGS,
            "TagsJobFacet",
            json!({"tags": [{"key": "version", "value": input.version, "source": "FLOE"}]}),
        ),
    );
    let name_of = |d: &Dataset| json!({"namespace": d.namespace, "name": d.name});
    let job = json!({
        "eventTime": input.compiled_at,
        "producer": producer,
        "schemaURL": format!("{SPEC}#/$defs/JobEvent"),
        "job": {"namespace": input.namespace, "name": input.product, "facets": job_facets},
        "inputs": reads.iter().map(name_of).collect::<Vec<_>>(),
        "outputs": writes.iter().map(|(d, _)| name_of(d)).collect::<Vec<_>>(),
    });
    let mut events = vec![job];
    for (d, facets) in writes {
        events.push(json!({
            "eventTime": input.compiled_at,
            "producer": producer,
            "schemaURL": format!("{SPEC}#/$defs/DatasetEvent"),
            "dataset": {"namespace": d.namespace, "name": d.name, "facets": facets},
        }));
    }
    Value::Array(events)
}

/// The URI the events and facets name as their producer: floe at its version.
fn producer(floe_version: &str) -> String {
    format!("https://floe.dev/floe/{floe_version}")
}

/// The dataset an ingestion source reads, named as OpenLineage names files:
/// `scheme://authority` and the path below it (`s3://landing` and
/// `crm/customers.csv`), `file` and the path for a local one.
fn source(path: &str) -> Dataset {
    let dataset = |namespace: &str, name: &str| Dataset { namespace: namespace.to_owned(), name: name.to_owned() };
    match path.split_once("://") {
        Some(("file", rest)) => dataset("file", rest),
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((authority, key)) => dataset(&format!("{scheme}://{authority}"), key),
            None => dataset(&format!("{scheme}://{rest}"), ""),
        },
        None => dataset("file", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(yaml: &str) -> Port {
        let port: OutputPort =
            serde_json::from_value(floe_schemas::yaml::parse("p.yaml", yaml.as_bytes()).unwrap().to_json()).unwrap();
        Port::of(&port)
    }

    #[test]
    fn sources_are_named_as_openlineage_names_files() {
        let ds = |p: &str| {
            let d = source(p);
            (d.namespace, d.name)
        };
        assert_eq!(ds("s3://landing/crm/customers.csv"), ("s3://landing".into(), "crm/customers.csv".into()));
        assert_eq!(ds("gs://bucket/a/*.parquet"), ("gs://bucket".into(), "a/*.parquet".into()));
        assert_eq!(ds("file:///data/in.csv"), ("file".into(), "/data/in.csv".into()));
        assert_eq!(ds("/data/in.csv"), ("file".into(), "/data/in.csv".into()));
        assert_eq!(ds("data/in.csv"), ("file".into(), "data/in.csv".into()));
    }

    #[test]
    fn a_product_declares_its_job_and_the_datasets_it_writes() {
        let ports = [port(
            "name: orders\ndescription: One row per order\nschema:\n  - {name: order_id, type: string, description: The key}\n  - {name: amount, type: number}\n",
        )];
        let ingestion = [
            Load { path: "s3://landing/orders/*.csv".into(), destination: "bronze.raw_orders".into() },
            Load { path: "s3://landing/orders/*.csv".into(), destination: "bronze.raw_orders".into() },
        ];
        let inputs = [Dataset { namespace: "sales.customers".into(), name: "customers".into() }];
        let input = LineageInput {
            product: "orders",
            version: "1.0.0",
            description: Some("Orders"),
            owner: Some("orders@acme.example"),
            namespace: "sales.orders",
            ports: &ports,
            ingestion: &ingestion,
            inputs: &inputs,
            compiled_at: "1970-01-01T00:00:00Z",
            floe_version: "0.1.0",
        };
        let events = events(&input);
        let events = events.as_array().unwrap();
        assert_eq!(events.len(), 3, "the job, the port and the raw table");
        let job = &events[0];
        assert_eq!(job["schemaURL"], "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent");
        assert_eq!(job["producer"], "https://floe.dev/floe/0.1.0");
        assert_eq!(job["job"]["namespace"], "sales.orders");
        assert_eq!(job["job"]["facets"]["documentation"]["description"], "Orders");
        assert_eq!(job["job"]["facets"]["ownership"]["owners"][0]["name"], "orders@acme.example");
        assert_eq!(
            job["inputs"],
            json!([
                {"namespace": "sales.customers", "name": "customers"},
                {"namespace": "s3://landing", "name": "orders/*.csv"}
            ])
        );
        assert_eq!(
            job["outputs"],
            json!([
                {"namespace": "sales.orders", "name": "orders"},
                {"namespace": "sales.orders", "name": "bronze.raw_orders"}
            ])
        );
        let orders = &events[1]["dataset"];
        assert_eq!(events[1]["schemaURL"], "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent");
        assert_eq!(
            orders["facets"]["schema"]["fields"],
            json!([
                {"name": "order_id", "type": "string", "description": "The key"},
                {"name": "amount", "type": "number"}
            ])
        );
        assert_eq!(
            orders["facets"]["schema"]["_schemaURL"],
            "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
        );
        assert_eq!(orders["facets"]["documentation"]["description"], "One row per order");
        assert_eq!(events[2]["dataset"]["name"], "bronze.raw_orders");
        // Without description or owner, the job has neither facet.
        let bare = LineageInput { description: None, owner: None, ..input };
        let facets = &events_of(&bare)[0]["job"]["facets"];
        assert!(facets.get("documentation").is_none() && facets.get("ownership").is_none(), "{facets}");
        // The same input, the same bytes.
        assert_eq!(file(&input), file(&input));
    }

    fn events_of(input: &LineageInput<'_>) -> Vec<Value> {
        events(input).as_array().unwrap().clone()
    }
}
