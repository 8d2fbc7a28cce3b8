//! What the language server's requests answer: hover, go to definition,
//! completion and quick fixes, from the warm session and the schemas.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse, CompletionItem,
    CompletionItemKind, CompletionParams, CompletionResponse, CompletionTextEdit, Documentation, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverContents, HoverParams, Location, MarkupContent, MarkupKind, Position, Range,
    TextEdit, Uri, WorkspaceEdit,
};
use serde_json::Value;

use floe_engine::layout::{PackageInfo, PackageKind};
use floe_engine::{Session, WsPath};
use floe_schemas::editor::{self, At, CompletionKind};
use floe_schemas::yaml::{self, Node, NodeKind, PathSeg, path_string};
use floe_schemas::{Diagnostic, Document as _, Span};

use super::overlay::OverlaySystem;
use super::text::LineIndex;
use super::{path_of, read_text, uri_of};

/// What a request may look at.
pub struct World<'a> {
    pub session: &'a mut Session,
    pub system: &'a Arc<OverlaySystem>,
    /// The diagnostics last published, by file: what quick fixes fix.
    pub published: &'a BTreeMap<WsPath, Vec<Diagnostic>>,
    /// What the client renders.
    pub formats: Formats,
}

/// Whether the client renders Markdown in hovers and in completions'
/// documentation (else it is sent as plain text).
#[derive(Clone, Copy, Default)]
pub struct Formats {
    pub hover: bool,
    pub completion: bool,
}

impl Formats {
    pub fn of(caps: &lsp_types::ClientCapabilities) -> Formats {
        let text = caps.text_document.as_ref();
        let markdown = |formats: Option<&Vec<MarkupKind>>| formats.is_some_and(|f| f.contains(&MarkupKind::Markdown));
        Formats {
            hover: markdown(text.and_then(|t| t.hover.as_ref()).and_then(|h| h.content_format.as_ref())),
            completion: markdown(
                text.and_then(|t| t.completion.as_ref())
                    .and_then(|c| c.completion_item.as_ref())
                    .and_then(|i| i.documentation_format.as_ref()),
            ),
        }
    }
}

/// What kind of file a document is to floe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Manifest,
    Spec,
    Contract,
    Sql,
    Other,
}

/// An open (or on-disk) document of the workspace.
struct Doc {
    uri: Uri,
    ws: WsPath,
    text: String,
    kind: Kind,
}

impl Doc {
    fn schema(&self) -> Option<&'static Value> {
        match self.kind {
            Kind::Manifest => Some(floe_schemas::manifest::Manifest::schema()),
            Kind::Spec => Some(floe_schemas::spec::FloeSpec::schema()),
            Kind::Contract => Some(floe_schemas::artifacts::OpenDataContractStandard::schema()),
            Kind::Sql | Kind::Other => None,
        }
    }

    fn tree(&self) -> Option<Node> {
        yaml::parse(self.ws.as_str(), self.text.as_bytes()).ok()
    }
}

impl World<'_> {
    fn root(&self) -> PathBuf {
        self.session.options.workspace.clone()
    }

    fn doc(&self, uri: &Uri) -> Option<Doc> {
        let abs = path_of(uri)?;
        let ws = WsPath::new(abs.strip_prefix(self.root()).ok()?.to_str()?)?;
        let name = ws.as_str().rsplit('/').next().unwrap_or("");
        let kind = match name {
            floe_engine::layout::MANIFEST => Kind::Manifest,
            floe_engine::layout::SPEC => Kind::Spec,
            _ if name.starts_with("datacontract") && (name.ends_with(".yaml") || name.ends_with(".yml")) => {
                Kind::Contract
            }
            _ if name.ends_with(".sql") => Kind::Sql,
            _ => Kind::Other,
        };
        Some(Doc { uri: uri.clone(), text: read_text(self.system.as_ref(), &abs), ws, kind })
    }

    fn text_of(&self, ws: &WsPath) -> String {
        read_text(self.system.as_ref(), &self.root().join(ws.as_str()))
    }

    fn location(&self, ws: &WsPath, span: Option<Span>) -> Option<Location> {
        let uri = uri_of(&self.root().join(ws.as_str()))?;
        let range = match span {
            Some(s) => LineIndex::new(&self.text_of(ws)).range(s.offset as usize, s.len as usize),
            None => Range::default(),
        };
        Some(Location { uri, range })
    }

    fn package_of_file(&self, ws: &WsPath) -> Option<usize> {
        self.session.layout.packages.iter().position(|p| p.file() == *ws)
    }

    /// The product whose directory holds `ws` (the deepest one).
    fn product_around(&self, ws: &WsPath) -> Option<&PackageInfo> {
        self.session
            .layout
            .packages
            .iter()
            .filter(|p| p.kind == PackageKind::Product && ws.as_str().starts_with(&format!("{}/", p.dir.as_str())))
            .max_by_key(|p| p.dir.as_str().len())
    }
}

/// The deepest key or scalar at `offset`: its path, the span under the
/// cursor, and whether the cursor is on the key itself.
fn node_at(node: &Node, offset: u32) -> Option<(Vec<PathSeg>, Span, Option<&Node>)> {
    fn within(span: Span, offset: u32) -> bool {
        span.offset <= offset && offset <= span.offset.saturating_add(span.len)
    }
    fn walk<'n>(
        node: &'n Node,
        offset: u32,
        path: &mut Vec<PathSeg>,
    ) -> Option<(Vec<PathSeg>, Span, Option<&'n Node>)> {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    path.push(PathSeg::Key(key.name.clone()));
                    if within(key.span, offset) {
                        return Some((path.clone(), key.span, None));
                    }
                    if let Some(found) = walk(value, offset, path) {
                        return Some(found);
                    }
                    path.pop();
                }
                None
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    if let Some(found) = walk(item, offset, path) {
                        return Some(found);
                    }
                    path.pop();
                }
                None
            }
            _ if within(node.span, offset) && node.span.len > 0 => Some((path.clone(), node.span, Some(node))),
            _ => None,
        }
    }
    walk(node, offset, &mut Vec::new())
}

fn value_at<'v>(value: &'v Value, path: &[PathSeg]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        PathSeg::Key(k) => v.get(k),
        PathSeg::Index(i) => v.get(i),
    })
}

fn markup(markdown: bool, value: String) -> MarkupContent {
    MarkupContent { kind: if markdown { MarkupKind::Markdown } else { MarkupKind::PlainText }, value }
}

/// The schema's word on a key, then the value its tiers resolve to and
/// where each part of it was written: `floe why` for one key.
pub fn hover(world: &mut World<'_>, params: HoverParams) -> Option<Hover> {
    let at = params.text_document_position_params;
    let doc = world.doc(&at.text_document.uri)?;
    let schema = doc.schema()?;
    let index = LineIndex::new(&doc.text);
    let offset = u32::try_from(index.offset(at.position)).ok()?;
    let tree = doc.tree()?;
    let (path, span, _) = node_at(&tree, offset)?;
    let mut text = format!("**`{}`**", path_string(&path));
    if let Some(d) = editor::describe(schema, &path) {
        if let Some(t) = &d.type_name {
            text.push_str(&format!(" · {t}"));
        }
        if let Some(desc) = &d.description {
            text.push_str(&format!("\n\n{desc}"));
        }
        if !d.values.is_empty() {
            text.push_str(&format!(
                "\n\nOne of: {}",
                d.values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some(default) = &d.default {
            text.push_str(&format!("\n\nDefault: `{default}`"));
        }
    }
    // The platform this file's package resolves (a manifest's own; a
    // product's, for the guardrails it may only tighten).
    let platform = match doc.kind {
        Kind::Manifest => world.package_of_file(&doc.ws),
        Kind::Spec => world.package_of_file(&doc.ws).and_then(|i| world.session.layout.packages[i].parent),
        _ => None,
    };
    if let Some(i) = platform
        && !world.session.layout.packages[i].pinned
        && let Some(resolved) = resolved_platform(world.session, i)
    {
        text.push_str(&provenance(&resolved, &path, &doc.ws, doc.kind == Kind::Spec));
    }
    Some(Hover {
        contents: HoverContents::Markup(markup(world.formats.hover, text)),
        range: Some(index.range(span.offset as usize, span.len as usize)),
    })
}

fn resolved_platform(session: &mut Session, index: usize) -> Option<Arc<floe_rules::resolve::ResolvedPlatform>> {
    session.ensure_db();
    let pkg = session.package(index);
    floe_engine::db::platform(session.db(), pkg).resolved.clone()
}

/// The resolved value at `path` and the tier, file and line of each part.
fn provenance(
    resolved: &floe_rules::resolve::ResolvedPlatform,
    path: &[PathSeg],
    here: &WsPath,
    platform_of_product: bool,
) -> String {
    let key = path_string(path);
    let Some(value) = value_at(&resolved.merged, path) else { return String::new() };
    let shown = serde_json::to_string(value).unwrap_or_default();
    let shown =
        if shown.chars().count() > 200 { format!("{}…", shown.chars().take(200).collect::<String>()) } else { shown };
    let whose = if platform_of_product { "The platform resolves" } else { "Resolved" };
    let mut text = format!("\n\n---\n{whose}: `{shown}`");
    let parts: Vec<_> = resolved
        .provenance
        .range(key.clone()..)
        .take_while(|(k, _)| k.starts_with(&key))
        .filter(|(k, _)| k.len() == key.len() || k[key.len()..].starts_with(['.', '[']))
        .take(12)
        .collect();
    for (k, origin) in parts {
        let dir = origin.file.rsplit_once('/').map_or("", |(d, _)| d);
        let label = format!("//{dir}");
        let tier = resolved.chain.iter().find(|t| t.label == label).map_or_else(
            || "tier".to_owned(),
            |t| match t.scope {
                Some(floe_schemas::manifest::Scope::Enterprise) => format!("enterprise `{}`", t.name),
                Some(floe_schemas::manifest::Scope::Domain) => format!("domain `{}`", t.name),
                None => format!("platform `{}`", t.name),
            },
        );
        let place = if origin.file == here.as_str() { "this file".to_owned() } else { format!("`{}`", origin.file) };
        text.push_str(&format!("\n- `{k}`: {tier}, {place}:{}:{}", origin.line, origin.column));
    }
    text
}

/// Where a label, a port, a `ref()`, a transform or a manifest a file names is.
pub fn definition(world: &mut World<'_>, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let at = params.text_document_position_params;
    let doc = world.doc(&at.text_document.uri)?;
    let index = LineIndex::new(&doc.text);
    let offset = index.offset(at.position);
    let found = match doc.kind {
        Kind::Sql => {
            let name = ref_at(&doc.text, offset)?;
            model(world, &doc.ws, &name)
        }
        Kind::Manifest | Kind::Spec => {
            let tree = doc.tree()?;
            let (path, _, node) = node_at(&tree, u32::try_from(offset).ok()?)?;
            let value = node?.as_str()?.to_owned();
            yaml_target(world, &doc, &path, &value)
        }
        _ => None,
    }?;
    Some(GotoDefinitionResponse::Scalar(found))
}

fn key(path: &[PathSeg], from_end: usize) -> Option<&str> {
    match path.get(path.len().checked_sub(from_end + 1)?)? {
        PathSeg::Key(k) => Some(k),
        PathSeg::Index(_) => None,
    }
}

fn yaml_target(world: &World<'_>, doc: &Doc, path: &[PathSeg], value: &str) -> Option<Location> {
    let dir = doc.ws.as_str().rsplit_once('/').map_or(WsPath::default(), |(d, _)| WsPath::new(d).unwrap_or_default());
    let first = match path.first() {
        Some(PathSeg::Key(k)) => k.as_str(),
        _ => "",
    };
    if key(path, 0) == Some("parent_manifest") || (first == "platform" && key(path, 0) == Some("manifest")) {
        if value.starts_with("oci://") {
            return None;
        }
        let target = dir.join(value)?;
        return world.session.state.files.contains_key(&target).then(|| world.location(&target, None)).flatten();
    }
    if first == "inputPorts" && key(path, 0) == Some("from") {
        return if value.starts_with("urn:") { contract(world, value) } else { port(world, &dir, value) };
    }
    if value.starts_with("//") {
        return port(world, &dir, value);
    }
    if first == "transforms" && (key(path, 0) == Some("name") || key(path, 1) == Some("dependsOn")) {
        return model(world, &doc.ws, value);
    }
    if first == "approved_products" && doc.kind == Kind::Manifest {
        let here = world.package_of_file(&doc.ws)?;
        let product = world
            .session
            .layout
            .children(here)
            .find(|p| p.kind == PackageKind::Product && p.dir.as_str().rsplit('/').next() == Some(value))?;
        return world.location(&product.file(), None);
    }
    None
}

/// A label (`//sales/orders`, `../campaigns:audiences`): the package's file,
/// at the output port it names, if it names one.
fn port(world: &World<'_>, dir: &WsPath, label: &str) -> Option<Location> {
    let floe_engine::label::Pattern::Package { dir: target, target: port } =
        floe_engine::label::parse(label, dir).ok()?
    else {
        return None;
    };
    let package = world.session.layout.packages.iter().find(|p| p.dir == target)?;
    let file = package.file();
    let Some(port) = port else { return world.location(&file, None) };
    let text = world.text_of(&file);
    let tree = yaml::parse(file.as_str(), text.as_bytes()).ok();
    let span = tree.as_ref().and_then(|t| {
        let NodeKind::Seq(ports) = &t.get("outputPorts")?.kind else { return None };
        ports.iter().find_map(|p| p.get("name").filter(|n| n.as_str() == Some(port.as_str())).map(|n| n.span))
    });
    world.location(&file, span)
}

/// A contract id (`urn:datacontract:…[:version][#table]`): the workspace's contract file with that id.
fn contract(world: &World<'_>, urn: &str) -> Option<Location> {
    world.session.layout.contracts.iter().find_map(|file| {
        let text = world.text_of(file);
        let tree = yaml::parse(file.as_str(), text.as_bytes()).ok()?;
        let id = tree.get("id")?;
        let rest = urn.strip_prefix(id.as_str()?)?;
        (rest.is_empty() || rest.starts_with([':', '#'])).then(|| world.location(file, Some(id.span))).flatten()
    })
}

/// The model `name` of the product around `ws`.
fn model(world: &World<'_>, ws: &WsPath, name: &str) -> Option<Location> {
    let product = world.product_around(ws)?;
    let file = format!("{name}.sql");
    let found = product.models.iter().find(|m| m.as_str().rsplit('/').next() == Some(file.as_str()))?;
    world.location(found, None)
}

/// The model a `ref('name')` at `offset` names (the one-argument form: a
/// package's models are not floe's to find).
fn ref_at(text: &str, offset: usize) -> Option<String> {
    let mut from = 0;
    while let Some(found) = text[from..].find("ref(") {
        let start = from + found;
        let end = start + text[start..].find(')')? + 1;
        if (start..end).contains(&offset) {
            let args: Vec<&str> =
                text[start + 4..end - 1].split(',').map(|a| a.trim().trim_matches(['\'', '"'])).collect();
            return (args.len() == 1 && !args[0].is_empty()).then(|| args[0].to_owned());
        }
        from = end;
    }
    None
}

/// Keys, enum values and plugin names the schemas allow at the cursor, and
/// the output ports of the workspace where an input port names one.
pub fn completion(world: &mut World<'_>, params: CompletionParams) -> Option<CompletionResponse> {
    let at = params.text_document_position;
    let doc = world.doc(&at.text_document.uri)?;
    let schema = doc.schema()?;
    let index = LineIndex::new(&doc.text);
    let (line, column) = index.line_column(at.position);
    let start = match editor::cursor(&doc.text, line, column).at {
        At::Key { start, .. } | At::Value { start, .. } => start,
    };
    let line_start = index.offset(Position { line: at.position.line, character: 0 });
    let range = Range { start: index.position(line_start + start.min(column)), end: at.position };
    let values = |path: &[PathSeg]| -> Vec<String> {
        let keys: Vec<&str> =
            path.iter().filter_map(|s| if let PathSeg::Key(k) = s { Some(k.as_str()) } else { None }).collect();
        match (doc.kind, keys.as_slice()) {
            (Kind::Manifest, ["plugins", category, "type"]) => floe_plugins::all()
                .iter()
                .map(|p| p.meta())
                .filter(|m| m.category.key() == *category)
                .map(|m| m.name.to_owned())
                .collect(),
            (Kind::Spec, ["inputPorts", "from"]) => output_ports(world),
            _ => Vec::new(),
        }
    };
    let markdown = world.formats.completion;
    let items = editor::complete(schema, &doc.text, line, column, &values)
        .into_iter()
        .map(|c| CompletionItem {
            kind: Some(match c.kind {
                CompletionKind::Key => CompletionItemKind::PROPERTY,
                CompletionKind::Value => CompletionItemKind::VALUE,
            }),
            detail: c.detail,
            documentation: c.documentation.map(|d| Documentation::MarkupContent(markup(markdown, d))),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: c.insert_text })),
            label: c.label,
            ..CompletionItem::default()
        })
        .collect();
    Some(CompletionResponse::Array(items))
}

/// Every output port of the workspace's products, as an input port names it.
fn output_ports(world: &World<'_>) -> Vec<String> {
    let mut labels = Vec::new();
    for p in world.session.layout.packages.iter().filter(|p| p.kind == PackageKind::Product) {
        let file = p.file();
        let text = world.text_of(&file);
        let Ok(tree) = yaml::parse(file.as_str(), text.as_bytes()) else { continue };
        let Some(NodeKind::Seq(ports)) = tree.get("outputPorts").map(|n| &n.kind) else { continue };
        for port in ports {
            if let Some(name) = port.get("name").and_then(Node::as_str) {
                labels.push(format!("//{}:{name}", p.dir.as_str()));
            }
        }
    }
    labels
}

/// "did you mean" as an edit: offered only where the suggestion is a near
/// spelling of a word under the diagnostic, so the fix replaces that word.
pub fn code_actions(world: &mut World<'_>, params: CodeActionParams) -> Option<CodeActionResponse> {
    let doc = world.doc(&params.text_document.uri)?;
    let index = LineIndex::new(&doc.text);
    let wanted = (index.offset(params.range.start), index.offset(params.range.end));
    let mut actions = Vec::new();
    for d in world.published.get(&doc.ws).into_iter().flatten() {
        let (Some(span), Some(help)) = (d.span, d.help.as_deref()) else { continue };
        let (start, end) = (span.offset as usize, (span.offset + span.len) as usize);
        if end < wanted.0 || start > wanted.1 {
            continue;
        }
        let Some(suggestion) = suggestion(help) else { continue };
        let Some((from, to)) = misspelt(&doc.text, start, end, suggestion) else { continue };
        let edit = TextEdit { range: index.range(from, to - from), new_text: suggestion.to_owned() };
        let diagnostic = super::to_lsp(d, &index, &world.root(), world.system.as_ref());
        // The protocol's map, by URI; a `Uri` is never changed once built.
        #[allow(clippy::mutable_key_type)]
        let changes = HashMap::from([(doc.uri.clone(), vec![edit])]);
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("Replace `{}` with `{suggestion}`", &doc.text[from..to]),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diagnostic]),
            edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    Some(actions)
}

/// The name in "did you mean `name`?" (also "did you mean the model `name`?").
fn suggestion(help: &str) -> Option<&str> {
    let rest = &help[help.find("did you mean")?..];
    let open = rest.find('`')? + 1;
    let close = open + rest[open..].find('`')?;
    Some(&rest[open..close])
}

/// The word between `start` and `end` that `suggestion` is a near spelling of.
fn misspelt(text: &str, start: usize, end: usize, suggestion: &str) -> Option<(usize, usize)> {
    let span = text.get(start..end)?;
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '#');
    let mut at = 0;
    for piece in span.split(|c: char| !word(c)) {
        let from = start + at;
        at += piece.len() + 1;
        if piece.is_empty() || piece == suggestion {
            continue;
        }
        if floe_schemas::diag::suggest(piece, [suggestion]).is_some() {
            return Some((from, from + piece.len()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fix_replaces_only_the_misspelt_word() {
        let text = "select * from {{ ref('custmers') }}";
        let start = text.find("ref").unwrap();
        let (from, to) = misspelt(text, start, text.len(), "customers").unwrap();
        assert_eq!(&text[from..to], "custmers");
        assert_eq!(misspelt(text, start, text.len(), "orders_by_month"), None, "no near spelling, no fix");
        assert_eq!(suggestion("did you mean the model `customers`? otherwise add `models/x.sql`"), Some("customers"));
        assert_eq!(suggestion("add it to the list"), None);
    }

    #[test]
    fn a_ref_is_found_around_the_cursor() {
        let text = "select 1 from {{ ref('stg_orders') }} join {{ ref('dbt_utils', 'x') }}";
        assert_eq!(ref_at(text, text.find("stg").unwrap()).as_deref(), Some("stg_orders"));
        assert_eq!(ref_at(text, text.find("dbt_utils").unwrap()), None);
        assert_eq!(ref_at(text, 0), None);
    }

    #[test]
    fn the_node_under_the_cursor_has_its_path() {
        let text = "plugins:\n  compute:\n    type: duckdb\nlist: [a, b]\n";
        let tree = yaml::parse("m.yaml", text.as_bytes()).unwrap();
        let (path, _, node) = node_at(&tree, text.find("duckdb").unwrap() as u32).unwrap();
        assert_eq!(path_string(&path), "plugins.compute.type");
        assert_eq!(node.and_then(Node::as_str), Some("duckdb"));
        let (path, _, node) = node_at(&tree, text.find("compute").unwrap() as u32 + 2).unwrap();
        assert_eq!((path_string(&path), node.is_none()), ("plugins.compute".to_owned(), true));
        let (path, _, _) = node_at(&tree, text.find("b]").unwrap() as u32).unwrap();
        assert_eq!(path_string(&path), "list[1]");
    }
}
