//! Reading a product's dbt project: what its SQL depends on, what its
//! property files declare, and its seeds and snapshots (which `ref()` may
//! name too). The engine hands each file under the project's configured
//! paths ([`Paths`]) to [`Project`]; `crate::enforce` checks it.
//!
//! Pure functions over text and parsed YAML. Jinja is not evaluated: floe finds
//! `ref()` and `source()` calls with literal arguments inside `{{ }}` and
//! `{% %}` blocks (anywhere in the file, since Jinja renders before SQL is
//! parsed, so a call in a SQL comment still counts), and skips `{# #}`
//! comments. A call whose arguments are not literals is reported as dynamic.

use std::collections::{BTreeMap, BTreeSet};

use floe_schemas::diag::Span;
use floe_schemas::yaml::{Node, NodeKind};
use serde::Serialize;

/// A `ref()` or `source()` call found in SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dependency {
    /// `ref('model')` or `ref('package', 'model')`.
    Ref { package: Option<String>, model: String, span: Span },
    /// `source('source', 'table')`.
    Source { source: String, table: String, span: Span },
    /// A call whose arguments are not string literals (`ref(var('x'))`).
    Dynamic { call: &'static str, span: Span },
}

/// Every `ref()` and `source()` call in a SQL file, in order.
///
/// The text is only ever cut where an ASCII delimiter was found, so at a
/// character boundary whatever else the file holds, and each byte is looked
/// at a bounded number of times: a file of any size scans in linear time.
pub fn scan_sql(text: &str) -> Vec<Dependency> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = text.get(i..).and_then(|rest| rest.find('{')) {
        let open = i + rel;
        // Past the two ASCII bytes of the opening delimiter.
        let body = open + 2;
        let close = match text.as_bytes().get(open + 1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => {
                // A Jinja comment renders to nothing.
                i = text[body..].find("#}").map_or(text.len(), |e| body + e + 2);
                continue;
            }
            _ => {
                i = open + 1;
                continue;
            }
        };
        let end = text[body..].find(close).map_or(text.len(), |e| body + e);
        scan_block(&text[body..end], body, &mut out);
        i = (end + 2).min(text.len());
    }
    locate(text, &mut out);
    out
}

/// The calls in one Jinja block that starts at byte `base` of the file. Their
/// spans get a line and column later, in [`locate`].
fn scan_block(block: &str, base: usize, into: &mut Vec<Dependency>) {
    let first = into.len();
    for (call, is_ref) in [("ref", true), ("source", false)] {
        let mut from = 0;
        while let Some(pos) = find_call(block, call, from) {
            let args_start = pos + call.len();
            let open_at = args_start + (block[args_start..].len() - block[args_start..].trim_start().len());
            from = open_at + 1;
            // A literal call is located at the name it names (the model, or
            // `source', 'table`), so a caret sits under what is wrong.
            let args_at = base + open_at + 1;
            let at = |start: usize, end: usize| Span {
                line: 0,
                column: 0,
                offset: (args_at + start) as u32,
                len: (end - start) as u32,
            };
            let call_span = Span { line: 0, column: 0, offset: (base + pos) as u32, len: call.len() as u32 };
            let name = if is_ref { "ref" } else { "source" };
            let dep = match (is_ref, parse_args(&block[open_at + 1..]).as_deref()) {
                (true, Some([model])) => {
                    Dependency::Ref { package: None, model: model.text.clone(), span: at(model.start, model.end) }
                }
                (true, Some([package, model])) => Dependency::Ref {
                    package: Some(package.text.clone()),
                    model: model.text.clone(),
                    span: at(model.start, model.end),
                },
                (false, Some([source, table])) => Dependency::Source {
                    source: source.text.clone(),
                    table: table.text.clone(),
                    span: at(source.start, table.end),
                },
                _ => Dependency::Dynamic { call: name, span: call_span },
            };
            into.push(dep);
        }
    }
    // `ref` and `source` calls were found in two passes; restore their order.
    into[first..].sort_by_key(|d| match d {
        Dependency::Ref { span, .. } | Dependency::Source { span, .. } | Dependency::Dynamic { span, .. } => {
            span.offset
        }
    });
}

/// The next `name(` at a word boundary, allowing whitespace before `(`.
fn find_call(block: &str, name: &str, from: usize) -> Option<usize> {
    let mut search = from;
    while let Some(rel) = block.get(search..)?.find(name) {
        let pos = search + rel;
        let before_ok = block[..pos].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        let rest = block[pos + name.len()..].trim_start();
        if before_ok && rest.starts_with('(') {
            return Some(pos);
        }
        search = pos + name.len();
    }
    None
}

/// How far past `(` the arguments of one call are read. Model, package and
/// source names are identifiers; a call not closed by then is not a literal
/// one, and the bound keeps a file of unclosed calls from being read once
/// per call.
const MAX_ARGS_BYTES: usize = 1024;

/// A string literal argument: its text, and where the text (inside the
/// quotes) starts and ends, in bytes from the call's `(`.
struct Arg {
    text: String,
    start: usize,
    end: usize,
}

/// Literal positional arguments up to the closing `)`; `None` when one is not
/// a string literal. Keyword arguments (`version=2`) are skipped.
fn parse_args(s: &str) -> Option<Vec<Arg>> {
    let mut cut = s.len().min(MAX_ARGS_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut rest = s[..cut].trim_start();
    let mut args = Vec::new();
    loop {
        if rest.starts_with(')') {
            return Some(args);
        }
        let quote = rest.chars().next()?;
        if quote == '\'' || quote == '"' {
            let close = rest[1..].find(quote)?;
            // `rest` ends where `s` was cut: its offset is what it lacks of that.
            let start = cut - rest.len() + 1;
            args.push(Arg { text: rest[1..1 + close].to_owned(), start, end: start + close });
            rest = rest[close + 2..].trim_start();
        } else if is_keyword_arg(rest) {
            // Skip to the next `,` or `)`.
            let stop = rest.find([',', ')'])?;
            rest = &rest[stop..];
        } else {
            return None;
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// Whether `s` starts with `name=` (`v=2`, `version = 2`).
fn is_keyword_arg(s: &str) -> bool {
    let name = s.len() - s.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_').len();
    name > 0 && s[name..].trim_start().starts_with('=')
}

/// Fills in the line and column (in characters, from 1) of each span, in
/// one pass over the text: the spans are in order.
fn locate(text: &str, deps: &mut [Dependency]) {
    let (mut at, mut line, mut column) = (0, 1u32, 1u32);
    for d in deps {
        let span = match d {
            Dependency::Ref { span, .. } | Dependency::Source { span, .. } | Dependency::Dynamic { span, .. } => span,
        };
        let offset = span.offset as usize;
        let between = &text[at..offset];
        match between.rfind('\n') {
            Some(nl) => {
                line += between.bytes().filter(|b| *b == b'\n').count() as u32;
                column = between[nl + 1..].chars().count() as u32 + 1;
            }
            None => column += between.chars().count() as u32,
        }
        at = offset;
        span.line = line;
        span.column = column;
    }
}

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

fn strings(node: Option<&Node>) -> Vec<String> {
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

/// Where a dbt project keeps its nodes, from `dbt_project.yml` (`model-paths`,
/// `seed-paths`, …), relative to the project; dbt's defaults where it is
/// silent. Paths that leave the project (`../macros`) are not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Paths {
    pub models: Vec<String>,
    pub seeds: Vec<String>,
    pub snapshots: Vec<String>,
    /// Analyses, macros and tests: read for secrets only.
    pub others: Vec<String>,
}

/// What a file under [`Paths`] is to floe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Model,
    Seed,
    Snapshot,
    Other,
}

impl Default for Paths {
    fn default() -> Paths {
        let one = |p: &str| vec![p.to_owned()];
        Paths {
            models: one("models"),
            seeds: one("seeds"),
            snapshots: one("snapshots"),
            others: ["analyses", "macros", "tests"].map(str::to_owned).to_vec(),
        }
    }
}

impl Paths {
    pub fn of(project: &Node) -> Paths {
        let read = |key: &str, default: &[&str]| -> Vec<String> {
            let Some(node) = project.get(key) else { return default.iter().map(|p| (*p).to_owned()).collect() };
            let listed = match &node.kind {
                NodeKind::Str(s) => vec![s.clone()],
                _ => strings(Some(node)),
            };
            listed.iter().filter_map(|p| inside(p)).collect()
        };
        let mut others = read("analysis-paths", &["analyses"]);
        others.extend(read("macro-paths", &["macros"]));
        others.extend(read("test-paths", &["tests"]));
        Paths {
            models: read("model-paths", &["models"]),
            seeds: read("seed-paths", &["seeds"]),
            snapshots: read("snapshot-paths", &["snapshots"]),
            others,
        }
    }

    /// The role of the file at `rel` (relative to the project), if it lies
    /// under one of the paths.
    pub fn role(&self, rel: &str) -> Option<Role> {
        let under =
            |paths: &[String]| paths.iter().any(|p| rel.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/')));
        [
            (&self.models, Role::Model),
            (&self.seeds, Role::Seed),
            (&self.snapshots, Role::Snapshot),
            (&self.others, Role::Other),
        ]
        .into_iter()
        .find_map(|(paths, role)| under(paths).then_some(role))
    }
}

/// A configured path as a plain relative path inside the project, or `None`.
fn inside(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let plain = !parts.is_empty() && !path.starts_with('/') && parts.iter().all(|s| *s != "..");
    plain.then(|| parts.join("/"))
}

/// A product's dbt project as floe reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Project {
    pub models: BTreeMap<String, Model>,
    /// Declared `(source, table)` pairs.
    pub sources: BTreeSet<(String, String)>,
    /// Seeds (a CSV file, or a property file's `seeds:`) and snapshots
    /// (`{% snapshot name %}`, or `snapshots:`): not models, but `ref()` names them.
    pub seeds: BTreeSet<String>,
    pub snapshots: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// The model's SQL file and what it depends on.
    pub sql: Option<(String, Vec<Dependency>)>,
    /// The property file that documents it, and what it says.
    pub doc: Option<(String, ModelDoc)>,
}

impl Project {
    pub fn add_sql(&mut self, file: &str, text: &str) {
        let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".sql").to_owned();
        self.models.entry(name).or_default().sql = Some((file.to_owned(), scan_sql(text)));
    }

    pub fn add_properties(&mut self, file: &str, props: Properties) {
        for m in props.models {
            let entry = self.models.entry(m.name.clone()).or_default();
            entry.doc = Some((file.to_owned(), m));
        }
        for s in props.sources {
            self.sources.insert((s.source, s.table));
        }
        self.seeds.extend(props.seeds);
        self.snapshots.extend(props.snapshots);
    }

    /// A seed: its name is its CSV file's.
    pub fn add_seed(&mut self, file: &str) {
        let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".csv");
        self.seeds.insert(name.to_owned());
    }

    /// A snapshot file: every `{% snapshot name %}` block in it.
    pub fn add_snapshots(&mut self, text: &str) {
        for block in text.split("{%").skip(1) {
            let block = block.trim_start_matches('-').trim_start();
            if let Some(rest) = block.strip_prefix("snapshot")
                && rest.starts_with(char::is_whitespace)
                && let Some(name) = rest.split_whitespace().next()
            {
                let name = name.trim_end_matches("-%}").trim_end_matches("%}");
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    self.snapshots.insert(name.to_owned());
                }
            }
        }
    }

    /// Whether `ref('name')` names a node of this project.
    pub fn has_node(&self, name: &str) -> bool {
        self.models.contains_key(name) || self.seeds.contains(name) || self.snapshots.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(sql: &str) -> Vec<String> {
        scan_sql(sql)
            .into_iter()
            .map(|d| match d {
                Dependency::Ref { package: Some(p), model, .. } => format!("ref {p}.{model}"),
                Dependency::Ref { package: None, model, .. } => format!("ref {model}"),
                Dependency::Source { source, table, .. } => format!("source {source}.{table}"),
                Dependency::Dynamic { call, .. } => format!("dynamic {call}"),
            })
            .collect()
    }

    #[test]
    fn finds_refs_and_sources_in_every_spelling() {
        let sql = "select * from {{ ref('stg_orders') }} o\n\
                   join {{ref(\"stg_customers\")}} c using (id)\n\
                   join {{ ref( 'finance' , 'fx_rates' ) }}\n\
                   join {{ source('raw', 'payments') }}\n\
                   -- {{ ref('in_a_sql_comment') }}\n\
                   {# {{ ref('in_a_jinja_comment') }} #}\n\
                   {% set x = ref('in_a_statement') %}\n\
                   {{ ref('versioned', v=2) }} {{ ref(var('model')) }} {{ my_ref('not_a_call') }}";
        assert_eq!(
            refs(sql),
            [
                "ref stg_orders",
                "ref stg_customers",
                "ref finance.fx_rates",
                "source raw.payments",
                "ref in_a_sql_comment",
                "ref in_a_statement",
                "ref versioned",
                "dynamic ref"
            ]
        );
        // Located at the model it names: that is what a caret should underline.
        let Dependency::Ref { span, .. } = &scan_sql("select 1\n  from {{ ref('a') }}")[0] else { panic!() };
        assert_eq!((span.line, span.column, span.len), (2, 16, 1));
    }

    #[test]
    fn text_is_read_by_character() {
        // Every byte offset the scanner used to cut at: inside `ä`, right after `{`, in arguments.
        let sql = "-- Umsätze je Bestellung\n\
                   select 'ü{' as x, {{ ref('stg_bestellungen') }} {ä {%ä%} {#ä#} {{ ref('größe') }}\n\
                   {{ ref( 'ä', 'ö' ) }} {{ source('roh','zahlungen') }} {{ ref(v=2, 'ß') }} {{ ref('é\n";
        assert_eq!(
            refs(sql),
            ["ref stg_bestellungen", "ref größe", "ref ä.ö", "source roh.zahlungen", "ref ß", "dynamic ref"]
        );
        let spans: Vec<(u32, u32)> = scan_sql(sql)
            .iter()
            .map(|d| match d {
                Dependency::Ref { span, .. } | Dependency::Source { span, .. } | Dependency::Dynamic { span, .. } => {
                    (span.line, span.column)
                }
            })
            .collect();
        assert_eq!(spans, [(2, 27), (2, 72), (3, 15), (3, 34), (3, 68), (3, 78)]);
        for cut in ["{", "{{", "{%", "{#", "{{ ref(", "{{ ref('", "{{ ref('ä"] {
            assert_eq!(refs(&format!("ü{cut}")), if cut.contains("ref") { vec!["dynamic ref"] } else { vec![] });
        }
    }

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
