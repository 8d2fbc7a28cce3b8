//! Data contracts as files (`:contracts`): one ODCS v3.1 document per output
//! port, the one the compiled artifacts embed, valid against the ODCS schema.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read workspaces on disk

mod common;

use serde_json::Value;

use common::{build_json, conformance, edit, with_status, workspace};

#[test]
fn every_output_port_has_a_contract_file_that_odcs_accepts() {
    let Some(conformance) = conformance() else { return };
    let schema: Value =
        serde_json::from_slice(&std::fs::read(conformance.join("schemas/odcs-json-schema-v3.1.0.json")).unwrap())
            .unwrap();
    let odcs = jsonschema::validator_for(&schema).expect("the ODCS schema compiles");
    let ws = workspace("mesh");
    build_json(ws.path());
    let out = ws.path().join("floe-out");
    let mut seen = Vec::new();
    let products: Vec<String> = common::tree(&out)
        .into_iter()
        .filter_map(|(p, _)| p.strip_suffix("/compiled_artifacts.json").map(str::to_owned))
        .collect();
    for product in &products {
        let artifacts: Value =
            serde_json::from_slice(&std::fs::read(out.join(product).join("compiled_artifacts.json")).unwrap()).unwrap();
        let embedded = artifacts["data_contracts"].as_array().unwrap();
        let mut files: Vec<String> = std::fs::read_dir(out.join(product))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("datacontract-"))
            .collect();
        files.sort();
        let mut expected: Vec<String> = embedded
            .iter()
            .map(|c| format!("datacontract-{}.yaml", c["schema"][0]["name"].as_str().unwrap()))
            .collect();
        expected.sort();
        assert_eq!(files, expected, "{product}");
        for contract in embedded {
            let port = contract["schema"][0]["name"].as_str().unwrap();
            let path = out.join(product).join(format!("datacontract-{port}.yaml"));
            let bytes = std::fs::read(&path).unwrap();
            let doc = floe_schemas::yaml::parse("datacontract.yaml", &bytes).unwrap().to_json();
            let errors: Vec<String> = odcs.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            assert_eq!(&doc, contract, "{}: the file is the contract the artifacts embed", path.display());
            seen.push(format!("{product}:{port}"));
        }
    }
    // The mesh's ports: each has its file, and a product without ports has none.
    assert_eq!(
        seen,
        [
            "finance/revenue:monthly_revenue",
            "marketing/attribution:channel_roi",
            "marketing/campaigns:audiences",
            "marketing/spend:daily_spend",
            "sales/customers:customers",
            "sales/orders:orders"
        ]
    );
    assert_eq!(products.len(), 8, "products without ports are checked too");
}

#[test]
fn a_contract_is_rebuilt_when_its_port_changes_and_only_then() {
    let ws = workspace("mesh");
    build_json(ws.path());
    // A transform edit reaches the artifacts and the runs, not the contract.
    common::tag_an_orders_transform(ws.path());
    let built = with_status(&build_json(ws.path()), "built");
    assert!(!built.iter().any(|l| l.ends_with(":contracts")), "{built:?}");
    // A column more: the port's contract is rebuilt, and it says so.
    common::add_an_orders_column(ws.path());
    let built = with_status(&build_json(ws.path()), "built");
    assert!(built.contains(&"//sales/orders:contracts".to_owned()), "{built:?}");
    assert_eq!(built.iter().filter(|l| l.ends_with(":contracts")).count(), 1, "{built:?}");
    let text = std::fs::read_to_string(ws.path().join("floe-out/sales/orders/datacontract-orders.yaml")).unwrap();
    assert!(text.contains("name: \"coupon\""), "{text}");
}

#[test]
fn an_availability_is_a_number_or_a_percentage_and_both_are_one_value() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let orders = ws.path().join("sales/orders/floe.yaml");
    edit(&orders, |s| s.replace("availability: 99.9}", "availability: \"99.9%\"}"));
    // The same value: nothing is rebuilt, and the contract says 99.9.
    assert_eq!(with_status(&build_json(ws.path()), "built"), Vec::<String>::new());
    let text = std::fs::read_to_string(ws.path().join("floe-out/sales/orders/datacontract-orders.yaml")).unwrap();
    assert!(text.contains("property: \"availability\"\n    unit: \"percent\"\n    value: 99.9\n"), "{text}");
    // A consumer that needs more than the producer promises, written either way.
    let revenue = ws.path().join("finance/revenue/floe.yaml");
    edit(&revenue, |s| s.replace("availability: 99.5}", "availability: \"99.95%\"}"));
    let r = common::floe(ws.path(), &["check", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let diagnostics = r.json()["diagnostics"].clone();
    let d = &diagnostics[0];
    assert_eq!(
        (d["file"].as_str(), d["span"]["line"].as_u64()),
        (Some("finance/revenue/floe.yaml"), Some(17)),
        "{diagnostics}"
    );
    assert!(d["message"].as_str().unwrap().contains("needs 99.95% availability"), "{diagnostics}");
    // What is no percentage is refused where it is written.
    edit(&revenue, |s| s.replace("availability: \"99.95%\"}", "availability: \"150%\"}"));
    let r = common::floe(ws.path(), &["check", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let diagnostics = r.json()["diagnostics"].clone();
    assert_eq!(diagnostics[0]["span"]["line"], 17, "{diagnostics}");
    assert_eq!(diagnostics[0]["code"], "E0105", "{diagnostics}");
    assert!(diagnostics[0]["help"].as_str().unwrap().contains("a percentage from 0 to 100"), "{diagnostics}");
}

/// A port's level, as its contract says, and each column's.
fn classification(ws: &std::path::Path, product: &str, port: &str) -> (Option<String>, Vec<Option<String>>) {
    let path = ws.join(format!("floe-out/{product}/datacontract-{port}.yaml"));
    let doc = floe_schemas::yaml::parse("c.yaml", &std::fs::read(&path).unwrap()).unwrap().to_json();
    let port_level = doc["customProperties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["property"] == "classification")
        .map(|p| p["value"].as_str().unwrap().to_owned());
    let columns = doc["schema"][0]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["classification"].as_str().map(str::to_owned))
        .collect();
    (port_level, columns)
}

#[test]
fn data_keeps_its_classification_downstream() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let pii = Some("pii".to_owned());
    // Customers offers email addresses; campaigns reads them, attribution
    // reads campaigns: both are personal data through and through.
    assert_eq!(classification(ws.path(), "sales/customers", "customers").0, pii);
    for (product, port) in [("marketing/campaigns", "audiences"), ("marketing/attribution", "channel_roi")] {
        let (level, columns) = classification(ws.path(), product, port);
        assert_eq!(level, pii, "{product}");
        assert!(columns.iter().all(|c| *c == pii), "{product}: {columns:?}");
    }
    // Spend reads nothing and says `internal`; orders classifies nothing.
    assert_eq!(classification(ws.path(), "marketing/spend", "daily_spend").0, Some("internal".to_owned()));
    assert_eq!(classification(ws.path(), "sales/orders", "orders").0, None);
    // Attribution's contract is held strictly, as it asks; the others as the platform says.
    let text = std::fs::read_to_string(ws.path().join("floe-out/marketing/attribution/datacontract-channel_roi.yaml"));
    assert!(text.unwrap().contains("property: \"enforcement\"\n    value: \"strict\""));

    // The email columns are anonymized, customers' own and the CRM's it
    // reads: every contract downstream follows, and nothing else is rebuilt.
    edit(&ws.path().join("sales/customers/floe.yaml"), |s| {
        s.replace("classification: pii", "classification: confidential")
    });
    let crm = ws.path().join("external/crm-accounts/datacontract.yaml");
    edit(&crm, |s| s.replace("classification: pii", "classification: confidential"));
    let built = with_status(&build_json(ws.path()), "built");
    for label in ["//marketing/attribution:contracts", "//marketing/campaigns:contracts", "//sales/customers:contracts"]
    {
        assert!(built.contains(&label.to_owned()), "{built:?}");
    }
    assert!(!built.iter().any(|l| l.starts_with("//finance") || l.starts_with("//marketing/spend")), "{built:?}");
    let confidential = Some("confidential".to_owned());
    assert_eq!(classification(ws.path(), "marketing/attribution", "channel_roi").0, confidential);

    // A PII-free domain cannot read it while it is personal data.
    edit(&ws.path().join("finance/revenue/floe.yaml"), |s| {
        s.replace("outputPorts:", "  - {name: roi, from: \"//marketing/attribution:channel_roi\"}\noutputPorts:")
    });
    assert_eq!(with_status(&build_json(ws.path()), "failed"), Vec::<String>::new(), "confidential is allowed");
    edit(&ws.path().join("sales/customers/floe.yaml"), |s| {
        s.replace("classification: confidential", "classification: pii")
    });
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("E0404"), "{}", r.stdout);
}

#[test]
fn a_contract_file_beside_floe_yaml_is_merged_over_the_generated_contract() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let contract =
        || std::fs::read_to_string(ws.path().join("floe-out/sales/orders/datacontract-orders.yaml")).unwrap();
    let text = contract();
    // Its id, terms, support and quality rules; the port's columns and SLA.
    assert!(text.contains("id: \"urn:datacontract:acme:sales:orders\""), "{text}");
    assert!(text.contains("usage: \"Revenue recognition, attribution and forecasting.\""), "{text}");
    assert!(text.contains("metric: \"duplicateValues\""), "{text}");
    assert!(text.contains("name: \"ordered_at\"") && text.contains("value: \"PT1H\""), "{text}");
    // A comment edit rebuilds nothing; a description edit rebuilds the
    // product's contract and what embeds it, no consumer.
    let file = ws.path().join("sales/orders/datacontract.yaml");
    edit(&file, |s| format!("# reviewed\n{s}"));
    assert_eq!(with_status(&build_json(ws.path()), "built"), Vec::<String>::new());
    edit(&file, |s| s.replace("The shop's order number", "The order number"));
    let built = with_status(&build_json(ws.path()), "built");
    assert!(built.iter().all(|l| l.starts_with("//sales/orders:")), "{built:?}");
    assert!(built.contains(&"//sales/orders:contracts".to_owned()), "{built:?}");
    assert!(contract().contains("description: \"The order number\""));
    // Saying another type than the port is an error in the contract file.
    edit(&file, |s| {
        s.replace("      - name: amount_eur\n", "      - name: amount_eur\n        logicalType: integer\n")
    });
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("E0405") && r.stdout.contains("sales/orders/datacontract.yaml"), "{}", r.stdout);
    // Removed, the generated contract is back as it was.
    std::fs::remove_file(&file).unwrap();
    build_json(ws.path());
    assert!(contract().contains("id: \"urn:floe:sales:orders:orders\""));
}

#[test]
fn a_port_reads_a_product_outside_the_workspace_by_its_contract() {
    let ws = workspace("mesh");
    build_json(ws.path());
    let crm = ws.path().join("external/crm-accounts/datacontract.yaml");
    // The contract promises less than customers needs: customers fails, on
    // a warm store too; the contract as it was rebuilds nothing.
    edit(&crm, |s| s.replace("value: PT12H", "value: P2D"));
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("E0403") && r.stdout.contains("P2D"), "{}", r.stdout);
    edit(&crm, |s| s.replace("value: P2D", "value: PT12H"));
    assert_eq!(with_status(&build_json(ws.path()), "built"), Vec::<String>::new());
    // A new major version no longer satisfies `:2.0.0`.
    edit(&crm, |s| s.replace("version: 2.3.0", "version: 3.0.0"));
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("asks for version 2.0.0"), "{}", r.stdout);
    // The graph draws the product outside the workspace by its contract's id.
    edit(&crm, |s| s.replace("version: 3.0.0", "version: 2.3.0"));
    let deps = common::floe(ws.path(), &["query", "deps(//marketing/campaigns)"]);
    assert_eq!(deps.stdout, "//marketing/campaigns\n//sales/customers\nurn:datacontract:acme:crm:accounts\n");
}

#[test]
fn a_pinned_contract_changes_only_with_the_version_it_needs() {
    let ws = workspace("mesh");
    let r = common::floe(ws.path(), &["lock"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("//sales/orders:orders 1.0.0\n"), "{}", r.stdout);
    build_json(ws.path());
    let orders = ws.path().join("sales/orders/floe.yaml");
    // A column gone at the same version: an error at the port, on a warm
    // store too, and `floe check` names every consumer where it reads it.
    edit(&orders, |s| s.replace("      - {name: channel, type: string}\n", ""));
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("E0406") && r.stdout.contains("column `channel` removed"), "{}", r.stdout);
    let check = common::floe(ws.path(), &["check"]);
    assert_eq!(check.code, 1);
    for consumer in ["//finance/revenue", "//marketing/attribution", "//sales/pipeline-forecast"] {
        assert!(check.stderr.contains(&format!("{consumer} reads it here")), "{}", check.stderr);
    }
    // A new major version: it builds, and its consumers with it.
    edit(&orders, |s| s.replace("version: 1.0.0", "version: 2.0.0"));
    build_json(ws.path());
    // Pinned again, a column more needs a new minor version, not a patch.
    assert_eq!(common::floe(ws.path(), &["lock", "//sales/orders"]).code, 0);
    let lock = std::fs::read_to_string(ws.path().join("floe.lock")).unwrap();
    assert!(lock.contains("\"version\": \"2.0.0\"") && lock.contains("//finance/revenue:monthly_revenue"), "{lock}");
    edit(&orders, |s| {
        s.replace("version: 2.0.0", "version: 2.0.1")
            .replace("      - {name: ordered_at", "      - {name: coupon, type: string}\n      - {name: ordered_at")
    });
    let r = common::floe(ws.path(), &["build", "--format", "json"]);
    assert!(r.stdout.contains("needs at least a new minor version"), "{}", r.stdout);
    edit(&orders, |s| s.replace("version: 2.0.1", "version: 2.1.0"));
    build_json(ws.path());
    // Without the lock, nothing is judged: a clean checkout builds the same.
    std::fs::remove_file(ws.path().join("floe.lock")).unwrap();
    build_json(ws.path());
}
