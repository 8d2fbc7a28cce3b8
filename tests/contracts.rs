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
    for product in ["sales/orders", "sales/customers", "finance/revenue", "finance/risk-exposure"] {
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
    assert_eq!(seen, ["sales/orders:orders", "sales/customers:customers", "finance/revenue:monthly_revenue"]);
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
