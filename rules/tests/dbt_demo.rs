//! The anchor demos' dbt property files, read as floe reads them; the counts
//! were taken by hand from the files.
#![allow(clippy::disallowed_methods)] // reads conformance files

#[path = "../../tests/common/skip.rs"]
mod skip;

use std::path::Path;

use floe_rules::dbt::properties;

#[test]
fn anchor_demo_property_files() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/anchor-demo/demo");
    if !demo.is_dir() {
        skip::skip(&format!("no conformance data at {}", demo.display()));
        return;
    }
    // product, models, columns, column tests, columns with tests
    let expected =
        [("customer-360", 6, 54, 31, 21), ("financial-risk", 6, 34, 36, 30), ("iot-telemetry", 6, 44, 53, 42)];
    for (product, models, columns, tests, tested) in expected {
        let path = demo.join(product).join("models/schema.yml");
        let node = floe_schemas::yaml::parse("models/schema.yml", &std::fs::read(path).unwrap()).unwrap();
        let p = properties(&node);
        let cols: Vec<_> = p.models.iter().flat_map(|m| &m.columns).collect();
        assert_eq!(p.models.len(), models, "{product}");
        assert_eq!(cols.len(), columns, "{product}");
        assert_eq!(cols.iter().map(|c| c.tests.len()).sum::<usize>(), tests, "{product}");
        assert_eq!(cols.iter().filter(|c| !c.tests.is_empty()).count(), tested, "{product}");
        assert!(cols.iter().all(|c| c.description.is_some()), "{product}: every demo column is described");
    }
}
