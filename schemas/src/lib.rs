//! Typed models of floe's inputs (`manifest.yaml`, `floe.yaml`) and outputs
//! (compiled artifacts), the YAML loader that reads inputs with positions, and the
//! diagnostic model every crate reports through.
//!
//! Loading a document never fails fast: [`load`] returns the typed value (when the
//! document is usable) together with *every* problem found in it.
//!
//! **Architecture Invariant:** this crate does no IO. It turns bytes handed to it
//! into values and diagnostics.

pub mod artifacts;
pub mod catalogue;
pub mod check;
pub mod diag;
pub mod editor;
pub mod enforcement;
pub mod manifest;
pub mod reference;
pub mod sarif;
pub mod secret;
pub mod spec;
pub mod yaml;

use std::sync::OnceLock;

use serde::de::DeserializeOwned;

pub use diag::{Code, Diagnostic, Severity, Span};
pub use manifest::Manifest;
pub use spec::FloeSpec;
pub use yaml::Node;

/// A document type floe reads from YAML.
pub trait Document: DeserializeOwned + schemars::JsonSchema {
    /// File name of its generated JSON Schema under `schemas/json/`.
    const SCHEMA_FILE: &'static str;
    /// The checked-in JSON Schema, parsed once per process.
    fn schema() -> &'static serde_json::Value;
    /// Checks beyond what the JSON Schema can say (forbidden keys, scopes, references).
    fn extra_checks(node: &Node, file: &str, diagnostics: &mut Vec<Diagnostic>);
}

/// A loaded document: the typed value when it is usable, its tree, and every problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<T> {
    pub value: Option<T>,
    pub node: Option<Node>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Loaded<T> {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, checks and converts one document. `file` is workspace-relative.
pub fn load<T: Document>(file: &str, bytes: &[u8]) -> Loaded<T> {
    let node = match yaml::parse(file, bytes) {
        Ok(node) => node,
        Err(d) => return Loaded { value: None, node: None, diagnostics: vec![d] },
    };
    let mut diagnostics = Vec::new();
    T::extra_checks(&node, file, &mut diagnostics);
    let mut node = node;
    let text = yaml::source_text(bytes);
    let mut checker = check::Checker::new(T::schema(), file).with_text(text);
    checker.check_document(&node);
    node.read_as_text(&checker.as_text, text);
    // A key the extra checks already explain (a forbidden connection key, an
    // environment key) is not reported a second time as merely unknown.
    let explained: Vec<Span> = diagnostics.iter().filter_map(|d| d.span).collect();
    diagnostics.extend(
        checker
            .diagnostics
            .into_iter()
            .filter(|d| !(d.code == Code::UnknownKey && d.span.is_some_and(|s| explained.contains(&s)))),
    );
    let value = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        match serde_json::from_value::<T>(node.to_json()) {
            Ok(v) => Some(v),
            Err(e) => {
                // The schema and the types come from the same source, so this is a
                // bug in floe; still report it as a diagnostic, never a panic.
                diagnostics.push(
                    Diagnostic::error(Code::Internal, format!("document does not fit its model: {e}"))
                        .at(file, node.span),
                );
                None
            }
        }
    };
    diag::sort(&mut diagnostics);
    Loaded { value, node: Some(node), diagnostics }
}

macro_rules! embedded_schema {
    ($file:literal) => {{
        static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            serde_json::from_str(include_str!(concat!("../json/", $file)))
                .expect("the checked-in JSON Schema is valid JSON (a test regenerates it)")
        })
    }};
}

impl Document for FloeSpec {
    const SCHEMA_FILE: &'static str = "floe.schema.json";
    fn schema() -> &'static serde_json::Value {
        embedded_schema!("floe.schema.json")
    }
    fn extra_checks(node: &Node, file: &str, diagnostics: &mut Vec<Diagnostic>) {
        spec::forbidden_keys(node, file, diagnostics);
    }
}

impl Document for Manifest {
    const SCHEMA_FILE: &'static str = "manifest.schema.json";
    fn schema() -> &'static serde_json::Value {
        embedded_schema!("manifest.schema.json")
    }
    fn extra_checks(node: &Node, file: &str, diagnostics: &mut Vec<Diagnostic>) {
        manifest::extra_checks(node, file, diagnostics);
    }
}

/// A data contract written beside `floe.yaml` (`datacontract.yaml`, ODCS
/// v3.1), or one of a product outside the workspace that input ports name by
/// its id.
impl Document for artifacts::OpenDataContractStandard {
    const SCHEMA_FILE: &'static str = "datacontract.schema.json";
    fn schema() -> &'static serde_json::Value {
        embedded_schema!("datacontract.schema.json")
    }
    fn extra_checks(_: &Node, _: &str, _: &mut Vec<Diagnostic>) {}
}

/// The JSON Schema (draft 2020-12) floe generates from type `T`.
fn root_schema<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>()
}

/// The JSON Schema (draft 2020-12) floe generates from type `T`, as a value.
pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    root_schema::<T>().to_value()
}

/// The JSON Schemas floe generates from its types, by file name, in a fixed order.
pub fn generated_schemas() -> Vec<(&'static str, String)> {
    fn render<T: schemars::JsonSchema>() -> String {
        // The schema itself serializes its keywords in their usual order
        // (`$schema`, `title`, `type`, ...), which a plain value would sort.
        let mut text = serde_json::to_string_pretty(&root_schema::<T>()).expect("schemas serialize");
        text.push('\n');
        text
    }
    vec![
        (FloeSpec::SCHEMA_FILE, render::<FloeSpec>()),
        (Manifest::SCHEMA_FILE, render::<Manifest>()),
        ("compiled-artifacts.schema.json", render::<artifacts::CompiledArtifacts>()),
        (artifacts::OpenDataContractStandard::SCHEMA_FILE, render::<artifacts::OpenDataContractStandard>()),
    ]
}
