//! `floe graph` and `floe query 'deps(…)'` / `'rdeps(…)'`: the mesh's
//! products, ports and who reads what, drawn and walked.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run floe on workspaces on disk

mod common;

use common::{floe, repo, skip, workspace};

/// A copy of the mesh example (kept alive for the process: the tests only read it).
fn mesh() -> std::path::PathBuf {
    static MESH: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    MESH.get_or_init(|| workspace("mesh")).path().to_path_buf()
}

#[test]
fn the_mesh_is_drawn_as_text_json_dot_and_mermaid() {
    for (name, args) in [
        ("graph_text", &["graph"][..]),
        ("graph_json", &["graph", "--format", "json"]),
        ("graph_dot", &["graph", "--format", "dot"]),
        ("graph_mermaid", &["graph", "--format", "mermaid"]),
        // One product: it, what it reads and what reads it.
        ("graph_orders_dot", &["graph", "//sales/orders", "--format", "dot"]),
    ] {
        let r = floe(&mesh(), args);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert_eq!(r.stderr, "", "{name}: data only, on stdout");
        insta::assert_snapshot!(name, r.stdout);
    }
}

#[test]
fn deps_and_rdeps_follow_the_ports_both_ways() {
    let lines = |args: &[&str]| {
        let r = floe(&mesh(), args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(
        lines(&["query", "deps(//sales/pipeline-forecast)"]),
        ["//sales/customers", "//sales/orders", "//sales/pipeline-forecast", "urn:datacontract:acme:crm:accounts"]
    );
    assert_eq!(lines(&["query", "deps(//sales/orders)"]), ["//sales/orders"]);
    assert_eq!(
        lines(&["query", "rdeps(//sales/orders)"]),
        ["//finance/revenue", "//marketing/attribution", "//sales/orders", "//sales/pipeline-forecast"]
    );
    // Relative to where floe runs, as every label.
    let r = floe(&mesh().join("finance"), &["query", "rdeps(revenue)", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), serde_json::json!([{"label": "//finance/revenue", "kind": "product"}]));
    // They start from one product.
    let r = floe(&mesh(), &["query", "deps(//sales/...)"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("selects 3 products"), "{}", r.stderr);
}

#[test]
fn an_svg_drawing_shows_every_product_and_every_edge() {
    let on_path =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("dot").is_file()));
    if !on_path {
        skip("no Graphviz `dot` on PATH (.ci/test installs it)");
        return;
    }
    let r = floe(&mesh(), &["graph", "--format", "svg"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("<?xml") && r.stdout.trim_end().ends_with("</svg>"), "{}", r.stdout);
    // Graphviz titles each node by its name and each edge `from->to`, with
    // `-` and `>` as entities.
    let svg = r.stdout.replace("&#45;", "-").replace("&gt;", ">");
    for product in ["//finance/revenue", "//finance/risk-exposure", "//sales/customers", "//sales/orders"] {
        assert!(svg.contains(&format!("<title>{product}</title>")), "{product}: {svg}");
    }
    for (from, to) in [("//sales/orders", "//finance/revenue"), ("//sales/customers", "//sales/pipeline-forecast")] {
        assert!(svg.contains(&format!("<title>{from}->{to}</title>")), "{from} -> {to}: {svg}");
    }
    // The domains are clusters, labelled.
    assert!(svg.contains(">finance</text>") && svg.contains(">sales</text>"), "{svg}");
}

#[test]
fn a_port_that_does_not_resolve_is_reported_and_left_out() {
    let ws = repo().join("testdata/invalid/44-input-port-unknown-port");
    let r = floe(&ws, &["graph", "--format", "dot"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("has no output port"), "{}", r.stderr);
    assert!(r.stdout.starts_with("digraph mesh {"), "the rest is drawn: {}", r.stdout);
}

#[test]
fn drawing_formats_are_for_graph_only() {
    let r = floe(&mesh(), &["build", "--format", "mermaid"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("are for `floe graph`"), "{}", r.stderr);
}
