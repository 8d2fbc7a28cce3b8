//! What a dbt property file (`version: 2`) declares: models, columns, tests, sources.

use std::collections::BTreeMap;

use floe_schemas::diag::Span;
use floe_schemas::yaml::{Node, NodeKind};

/// A model as a property file describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelDoc {
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub meta: BTreeMap<String, serde_json::Value>,
    /// `config.materialized`, when the property file sets it.
    pub materialized: Option<String>,
    pub columns: Vec<ColumnDoc>,
    /// Tests on the model as a whole.
    pub tests: Vec<TestDoc>,
    /// Where its `name` is written.
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnDoc {
    pub name: String,
    pub description: Option<String>,
    pub tests: Vec<TestDoc>,
    pub span: Span,
}

/// A data test: a generic one (`not_null`), or a package's (`dbt_utils.unique_combination_of_columns`).
#[derive(Clone, Debug, PartialEq)]
pub struct TestDoc {
    pub name: String,
    pub package: Option<String>,
    pub span: Span,
}

/// A source table as a property file declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceTable {
    pub source: String,
    pub table: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    pub models: Vec<ModelDoc>,
    pub sources: Vec<SourceTable>,
    /// Seeds and snapshots it documents: nodes a `ref()` may name.
    pub seeds: Vec<String>,
    pub snapshots: Vec<String>,
}

/// What a property file (`version: 2`) declares. Entries that do not have the
/// expected shape are skipped; dbt itself reports them.
pub fn properties(node: &Node) -> Properties {
    let mut out = Properties::default();
    for m in items(node.get("models")) {
        let Some((name, span)) = name_of(m) else { continue };
        let config = m.get("config");
        let mut tags = strings(m.get("tags"));
        tags.extend(strings(config.and_then(|c| c.get("tags"))));
        let mut meta = BTreeMap::new();
        for source in [m.get("meta"), config.and_then(|c| c.get("meta"))].into_iter().flatten() {
            if let NodeKind::Map(entries) = &source.kind {
                for (k, v) in entries {
                    meta.insert(k.name.clone(), v.to_json());
                }
            }
        }
        let columns = items(m.get("columns"))
            .filter_map(|c| {
                let (name, span) = name_of(c)?;
                Some(ColumnDoc { name, description: text(c.get("description")), tests: tests(c), span })
            })
            .collect();
        out.models.push(ModelDoc {
            name,
            description: text(m.get("description")),
            materialized: text(config.and_then(|c| c.get("materialized"))),
            tags,
            meta,
            columns,
            tests: tests(m),
            span,
        });
    }
    out.seeds = items(node.get("seeds")).filter_map(|n| name_of(n).map(|(name, _)| name)).collect();
    out.snapshots = items(node.get("snapshots")).filter_map(|n| name_of(n).map(|(name, _)| name)).collect();
    for s in items(node.get("sources")) {
        let Some((source, _)) = name_of(s) else { continue };
        for t in items(s.get("tables")) {
            if let Some((table, span)) = name_of(t) {
                out.sources.push(SourceTable { source: source.clone(), table, span });
            }
        }
    }
    out
}

fn items(node: Option<&Node>) -> impl Iterator<Item = &Node> {
    let items: &[Node] = match node.map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items,
        _ => &[],
    };
    items.iter()
}

fn name_of(node: &Node) -> Option<(String, Span)> {
    let name = node.get("name")?;
    Some((name.as_str()?.to_owned(), name.span))
}

fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::as_str).map(str::to_owned)
}

pub(super) fn strings(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.kind) {
        Some(NodeKind::Str(s)) => vec![s.clone()],
        Some(NodeKind::Seq(items)) => items.iter().filter_map(Node::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// `tests:` and its newer name `data_tests:`, each entry a name or a one-key mapping.
fn tests(node: &Node) -> Vec<TestDoc> {
    let mut out = Vec::new();
    for entry in items(node.get("tests")).chain(items(node.get("data_tests"))) {
        let (full, span) = match &entry.kind {
            NodeKind::Str(s) => (s.clone(), entry.span),
            NodeKind::Map(entries) => match entries.first() {
                Some((k, _)) => (k.name.clone(), k.span),
                None => continue,
            },
            _ => continue,
        };
        let (package, name) = match full.rsplit_once('.') {
            Some((p, n)) => (Some(p.to_owned()), n.to_owned()),
            None => (None, full),
        };
        out.push(TestDoc { name, package, span });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_property_files() {
        let yml = b"version: 2
models:
  - name: stg_orders
    description: Orders, cleaned
    config: {tags: [staging], meta: {owner: sales}}
    tests:
      - dbt_utils.unique_combination_of_columns: {combination_of_columns: [id, day]}
    columns:
      - name: id
        description: Order id
        tests: [not_null, unique]
      - name: status
        data_tests:
          - accepted_values: {values: [open, closed]}
          - relationships: {to: ref('stg_status'), field: code}
sources:
  - name: raw
    tables: [{name: orders}, {name: payments}]
";
        let node = floe_schemas::yaml::parse("models/schema.yml", yml).unwrap();
        let p = properties(&node);
        let m = &p.models[0];
        assert_eq!((m.name.as_str(), m.span.line), ("stg_orders", 3));
        assert_eq!(m.tags, ["staging"]);
        assert_eq!(m.meta["owner"], "sales");
        assert_eq!(m.tests[0].package.as_deref(), Some("dbt_utils"));
        let tests: Vec<&str> = m.columns.iter().flat_map(|c| c.tests.iter().map(|t| t.name.as_str())).collect();
        assert_eq!(tests, ["not_null", "unique", "accepted_values", "relationships"]);
        assert_eq!(m.columns[1].description, None);
        let sources: Vec<String> = p.sources.iter().map(|s| format!("{}.{}", s.source, s.table)).collect();
        assert_eq!(sources, ["raw.orders", "raw.payments"]);
    }
}
