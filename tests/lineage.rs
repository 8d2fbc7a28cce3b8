//! Static lineage (`:lineage`): each product's `lineage.json`, OpenLineage
//! 2-0-2 events valid against the specification's schemas and each facet's,
//! whose datasets join across products, rebuilt when what they declare
//! changes and only then.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read workspaces on disk

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use common::{build_json, conformance, edit, with_status, workspace};

const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json";
const FACETS: &str = "https://openlineage.io/spec/facets/";

/// The OpenLineage schemas of the conformance folder, by the URL they are
/// published under: what `$ref`s and `_schemaURL`s name, served without
/// the network.
struct Schemas {
    by_url: BTreeMap<String, Value>,
}

impl Schemas {
    fn load(conformance: &Path) -> Schemas {
        let dir = conformance.join("schemas/openlineage");
        let read = |p: PathBuf| -> Value { serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap() };
        let mut by_url = BTreeMap::new();
        let spec = read(dir.join("OpenLineage.json"));
        assert_eq!(spec["$id"], SPEC);
        by_url.insert(SPEC.to_owned(), spec);
        for entry in std::fs::read_dir(dir.join("facets")).unwrap() {
            let facet = read(entry.unwrap().path());
            let id = facet["$id"].as_str().unwrap().to_owned();
            assert!(id.starts_with(FACETS), "{id}");
            by_url.insert(id, facet);
        }
        Schemas { by_url }
    }

    /// A validator of `schema`, its references resolved here; formats
    /// (`date-time`, `uri`) are checked too.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        jsonschema::options()
            .should_validate_formats(true)
            .with_retriever(Local(self.by_url.clone()))
            .build(schema)
            .unwrap_or_else(|e| panic!("{schema} does not compile: {e}"))
    }
}

struct Local(BTreeMap<String, Value>);

impl jsonschema::Retrieve for Local {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let url = uri.as_str();
        self.0.get(url.split('#').next().unwrap_or(url)).cloned().ok_or_else(|| format!("not here: {url}").into())
    }
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Checks every event of every `lineage.json` below `out` against the
/// specification and every facet against its own schema; returns the
/// events by product directory.
fn validated(conformance: &Path, out: &Path, products: &[&str]) -> BTreeMap<String, Vec<Value>> {
    let schemas = Schemas::load(conformance);
    let job_event = schemas.validator(&json!({"$ref": format!("{SPEC}#/$defs/JobEvent")}));
    let dataset_event = schemas.validator(&json!({"$ref": format!("{SPEC}#/$defs/DatasetEvent")}));
    // A facet against its file: the file's root names the facet's key.
    let check_facets = |facets: &Value, at: &str| {
        for (key, facet) in facets.as_object().unwrap() {
            let url = facet["_schemaURL"].as_str().unwrap();
            let (file, pointer) = url.split_once('#').unwrap();
            let schema = schemas.by_url.get(file).unwrap_or_else(|| panic!("{at}: no facet schema {file}"));
            let name = pointer.strip_prefix("/$defs/").unwrap();
            assert!(schema["$defs"].get(name).is_some(), "{at}: {url} names no definition");
            assert_eq!(
                schema["properties"][key]["$ref"],
                format!("#/$defs/{name}"),
                "{at}: facet `{key}` is not the one {file} defines"
            );
            let errs = errors(&schemas.validator(schema), &json!({ key: facet }));
            assert!(errs.is_empty(), "{at}: facet `{key}`: {errs:#?}");
            assert!(facet["_producer"].as_str().unwrap().starts_with("https://floe.dev/floe/"), "{at}: {facet}");
        }
    };
    let mut all = BTreeMap::new();
    for product in products {
        let path = out.join(product).join("lineage.json");
        let events: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for (i, event) in events.iter().enumerate() {
            let at = format!("{product}/lineage.json[{i}]");
            let url = event["schemaURL"].as_str().unwrap();
            let validator = match url.strip_prefix(SPEC) {
                Some("#/$defs/JobEvent") => &job_event,
                Some("#/$defs/DatasetEvent") => &dataset_event,
                _ => panic!("{at}: schemaURL {url}"),
            };
            let errs = errors(validator, event);
            assert!(errs.is_empty(), "{at}: {errs:#?}");
            if let Some(job) = event.get("job") {
                check_facets(&job["facets"], &at);
                for d in event["inputs"].as_array().unwrap() {
                    assert!(d.get("facets").is_none(), "{at}: the producer declares {d}");
                }
            } else {
                check_facets(&event["dataset"]["facets"], &at);
            }
        }
        all.insert((*product).to_owned(), events);
    }
    all
}

fn name(d: &Value) -> (String, String) {
    (d["namespace"].as_str().unwrap().to_owned(), d["name"].as_str().unwrap().to_owned())
}

const MESH: &[&str] = &[
    "sales/orders",
    "sales/customers",
    "sales/pipeline-forecast",
    "finance/revenue",
    "finance/risk-exposure",
    "marketing/spend",
    "marketing/campaigns",
    "marketing/attribution",
];

#[test]
fn every_product_declares_valid_openlineage_events_whose_datasets_join() {
    let Some(conformance) = conformance() else { return };
    let ws = workspace("mesh");
    build_json(ws.path());
    let out = ws.path().join("floe-out");
    let events = validated(&conformance, &out, MESH);
    // What each product declares it writes, and what each job reads.
    let mut declared = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for (product, events) in &events {
        let artifacts: Value =
            serde_json::from_slice(&std::fs::read(out.join(product).join("compiled_artifacts.json")).unwrap()).unwrap();
        let (domain, name_) = product.split_once('/').unwrap();
        let namespace = format!("{domain}.{name_}");
        // The job first, then a dataset event per output, in its order.
        let (job, datasets) = events.split_first().unwrap();
        assert_eq!(job["job"]["namespace"], namespace.as_str(), "{product}");
        assert_eq!(job["job"]["name"], name_, "{product}");
        // The namespace the product's runs report under.
        assert_eq!(artifacts["observability"]["lineage_namespace"], namespace.as_str(), "{product}");
        let outputs: Vec<_> = job["outputs"].as_array().unwrap().iter().map(name).collect();
        let written: Vec<_> = datasets.iter().map(|e| name(&e["dataset"])).collect();
        assert_eq!(outputs, written, "{product}: each output has its dataset event");
        for e in events {
            assert_eq!(e["eventTime"], artifacts["metadata"]["compiled_at"], "{product}");
            let version = artifacts["metadata"]["floe_version"].as_str().unwrap();
            assert_eq!(e["producer"], format!("https://floe.dev/floe/{version}"), "{product}");
        }
        for (ns, _) in &written {
            assert_eq!(ns, &namespace, "{product}");
        }
        declared.extend(written);
        for d in job["inputs"].as_array().unwrap() {
            let (ns, port) = name(d);
            edges.insert((format!("{ns}:{port}"), namespace.clone()));
        }
    }
    // The mesh's edges between products, each joined to the dataset its
    // producer declares.
    let expected: BTreeSet<(String, String)> = [
        ("sales.orders:orders", "finance.revenue"),
        ("sales.customers:customers", "sales.pipeline-forecast"),
        ("sales.orders:orders", "sales.pipeline-forecast"),
        ("sales.customers:customers", "marketing.campaigns"),
        ("marketing.campaigns:audiences", "marketing.attribution"),
        ("sales.orders:orders", "marketing.attribution"),
        ("marketing.spend:daily_spend", "marketing.attribution"),
        // A product outside the workspace, named as its contract says.
        ("crm.accounts:accounts", "sales.customers"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(edges, expected);
    for (dataset, consumer) in edges.iter().filter(|(d, _)| !d.starts_with("crm.")) {
        let (ns, port) = dataset.split_once(':').unwrap();
        assert!(declared.contains(&(ns.to_owned(), port.to_owned())), "{consumer} reads {dataset}, declared by none");
    }
    // The schema a producer declares is its port's.
    let orders = &events["sales/orders"][1]["dataset"]["facets"];
    let fields: Vec<&str> =
        orders["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, ["order_id", "customer_id", "channel", "amount_eur", "ordered_at"]);
    assert_eq!(orders["documentation"]["description"], "One row per order, all channels");
    assert_eq!(
        events["sales/orders"][0]["job"]["facets"]["ownership"]["owners"],
        json!([{"name": "orders@acme.example"}])
    );
    // A product without ports declares its job alone.
    assert_eq!(events["finance/risk-exposure"].len(), 1);
    assert_eq!(events["finance/risk-exposure"][0]["outputs"], json!([]));
}

#[test]
fn without_a_lineage_backend_a_product_declares_under_its_domain_and_its_ingestion_too() {
    let Some(conformance) = conformance() else { return };
    let ws = workspace("centralized");
    build_json(ws.path());
    let out = ws.path().join("floe-out");
    let events = validated(&conformance, &out, &["customers", "orders"]);
    let customers = &events["customers"];
    let job = &customers[0];
    assert_eq!(job["job"]["namespace"], "crm.customers");
    // Its ingestion reads files and writes a raw table, which it declares.
    assert_eq!(job["inputs"], json!([{"namespace": "s3://landing", "name": "crm/customers.csv"}]));
    assert_eq!(job["outputs"], json!([{"namespace": "crm.customers", "name": "bronze.raw_customers"}]));
    assert_eq!(customers.len(), 2);
    assert_eq!(customers[1]["dataset"]["facets"]["datasetType"]["datasetType"], "TABLE");
    assert_eq!(events["orders"][0]["job"]["namespace"], "commerce.orders");
}

#[test]
fn lineage_is_rebuilt_when_what_it_declares_changes_and_only_then() {
    let ws = workspace("mesh");
    let lineage = |report: &Value| -> Vec<String> {
        with_status(report, "built").into_iter().filter(|l| l.ends_with(":lineage")).collect()
    };
    build_json(ws.path());
    // A transform edit of a producer: no lineage.
    common::tag_an_orders_transform(ws.path());
    assert_eq!(lineage(&build_json(ws.path())), Vec::<String>::new());
    // A column more: the producer's schema, not its consumers'.
    common::add_an_orders_column(ws.path());
    assert_eq!(lineage(&build_json(ws.path())), ["//sales/orders:lineage"]);
    // Nor an SLA, which lineage does not declare.
    edit(&ws.path().join("sales/orders/floe.yaml"), |s| s.replace("availability: 99.9}", "availability: 99.95}"));
    assert_eq!(lineage(&build_json(ws.path())), Vec::<String>::new());
    // A consumer naming the same port otherwise reads the same dataset.
    edit(&ws.path().join("sales/pipeline-forecast/floe.yaml"), |s| {
        s.replace("from: ../orders:orders", "from: //sales/orders:orders")
    });
    assert_eq!(lineage(&build_json(ws.path())), Vec::<String>::new());
    // A port renamed (its consumers follow): the producer and both consumers.
    edit(&ws.path().join("sales/orders/floe.yaml"), |s| s.replace("  - name: orders\n", "  - name: all_orders\n"));
    edit(&ws.path().join("sales/orders/datacontract.yaml"), |s| {
        s.replace("  - name: orders\n", "  - name: all_orders\n")
    });
    for consumer in ["finance/revenue", "sales/pipeline-forecast", "marketing/attribution"] {
        edit(&ws.path().join(consumer).join("floe.yaml"), |s| {
            s.replace("/sales/orders:orders", "/sales/orders:all_orders")
        });
    }
    assert_eq!(
        lineage(&build_json(ws.path())),
        [
            "//finance/revenue:lineage",
            "//marketing/attribution:lineage",
            "//sales/orders:lineage",
            "//sales/pipeline-forecast:lineage"
        ]
    );
    let revenue = std::fs::read_to_string(ws.path().join("floe-out/finance/revenue/lineage.json")).unwrap();
    assert!(revenue.contains("\"name\": \"all_orders\""), "{revenue}");
    // The sales domain names its namespaces otherwise: every sales
    // product, and finance's consumer of a sales port, whose own files did
    // not change (its record depends on its producers' platforms).
    edit(&ws.path().join("sales/manifest.yaml"), |s| {
        s.replace(
            "      memory_limit: 2GB\n",
            "      memory_limit: 2GB\n  lineage_backend:\n    type: marquez\n    \
             config: {namespace_template: \"acme.{domain}.{product_slug}\"}\n",
        )
    });
    assert_eq!(
        lineage(&build_json(ws.path())),
        [
            "//finance/revenue:lineage",
            "//marketing/attribution:lineage",
            "//marketing/campaigns:lineage",
            "//sales/customers:lineage",
            "//sales/orders:lineage",
            "//sales/pipeline-forecast:lineage"
        ]
    );
    let revenue: Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("floe-out/finance/revenue/lineage.json")).unwrap())
            .unwrap();
    assert_eq!(revenue[0]["inputs"], json!([{"namespace": "acme.sales.orders", "name": "all_orders"}]));
    assert_eq!(revenue[0]["job"]["namespace"], "finance.revenue");
    let forecast: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("floe-out/sales/pipeline-forecast/lineage.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(forecast[0]["job"]["namespace"], "acme.sales.pipeline_forecast");
    // A clean build of the same files writes the same lineage.
    let fresh = workspace("mesh");
    for domain in ["sales", "finance", "marketing"] {
        std::fs::remove_dir_all(fresh.path().join(domain)).unwrap();
        common::copy_dir(&ws.path().join(domain), &fresh.path().join(domain));
    }
    build_json(fresh.path());
    for product in MESH {
        let read = |root: &Path| std::fs::read(root.join("floe-out").join(product).join("lineage.json")).unwrap();
        assert!(read(ws.path()) == read(fresh.path()), "{product}: incremental and clean builds differ");
    }
}
