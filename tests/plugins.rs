//! The plugin reference page is generated from the plugins' metadata; this
//! test regenerates it and fails when the checked-in copy was stale.
#![allow(clippy::disallowed_methods)] // a test that maintains a checked-in file

mod common;

#[test]
fn plugin_reference_is_fresh() {
    let path = common::repo().join("docs/reference/plugins.md");
    let fresh = floe_plugins::reference::markdown();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != fresh {
        std::fs::write(&path, &fresh).unwrap();
        panic!("docs/reference/plugins.md was stale and has been regenerated; commit it");
    }
    // Every category and every plugin has its section.
    for p in floe_plugins::all() {
        let m = p.meta();
        assert!(fresh.contains(&format!("### `{}`", m.name)), "{} has no section", m.name);
        assert!(fresh.contains(&format!("(`plugins.{}`)", m.category.key())));
    }
}

#[test]
fn floe_plugins_lists_every_plugin_in_both_formats() {
    let ws = common::workspace("centralized");
    let human = common::floe(ws.path(), &["plugins"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    let json = common::floe(ws.path(), &["plugins", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(listed.len(), floe_plugins::all().len());
    for (p, l) in floe_plugins::all().iter().zip(&listed) {
        let m = p.meta();
        assert_eq!(l["name"], m.name);
        assert_eq!(l["category"], m.category.key());
        assert!(human.stdout.contains(&format!("{}/{}", m.category.key(), m.name)));
        // The listed schema is the one configs are checked against.
        assert!(jsonschema::validator_for(&l["config_schema"]).is_ok(), "{}", m.name);
    }
}
