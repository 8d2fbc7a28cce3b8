//! The JSON Schemas under `schemas/json/` are generated from the types. This test
//! regenerates them and fails when the checked-in copies were stale, so a change
//! to a type cannot land without its schema.
#![allow(clippy::disallowed_methods)] // a test that maintains checked-in files

use std::path::Path;

#[test]
fn json_schemas_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
    let mut stale = Vec::new();
    for (name, text) in floe_schemas::generated_schemas() {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, &text).expect("write schema");
            stale.push(name);
        }
    }
    assert!(stale.is_empty(), "regenerated stale JSON Schemas {stale:?}: rebuild and commit them");
}
