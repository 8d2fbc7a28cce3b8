//! YAML to a spanned document tree.
//!
//! Every input file is first read into a [`Node`] tree that remembers where each
//! key and value stands. The schema checker walks that tree to report every
//! problem with its line and column, tier resolution uses it for provenance, and
//! only then is it converted into the typed models.
//!
//! Hostile input is bounded: files over [`MAX_FILE_BYTES`], documents nested deeper
//! than [`MAX_DEPTH`], alias bombs (more than [`MAX_NODES`] nodes after expansion)
//! and duplicate keys are errors, never a hang or a crash.
//!
//! The tree is built straight from granit-parser's events (`events` expands
//! aliases and charges the `budget`, `tree` assembles nodes, `scalar` types
//! them) rather than through a serde deserializer: reading YAML was half of a
//! cold build, and most of that was the deserializer's layers (span wrappers,
//! key fingerprints, anchor bookkeeping), not the parser. The rules are the
//! ones floe always read YAML by: YAML 1.1 booleans, integers in any radix,
//! `012` kept as text, merge keys, string keys only, one document.

mod budget;
mod events;
mod scalar;
mod tree;

use std::borrow::Cow;

use crate::diag::{Code, Diagnostic, Span};

/// The largest input file floe reads.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The deepest nesting of mappings and sequences floe accepts. Real manifests
/// stay under ten levels; the bound also keeps the recursive conversion well
/// inside a thread's stack.
pub const MAX_DEPTH: usize = 32;
/// The most nodes a document may hold once aliases are expanded.
pub const MAX_NODES: usize = 100_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

/// The text of the scalar at `span` in `text` as it is written: a plain
/// scalar over several lines folded into one, as YAML folds it. `None` for an
/// empty scalar (`key:`), which stays null.
pub fn scalar_text(text: &str, span: Span) -> Option<String> {
    let start = span.offset as usize;
    let written = text.get(start..start.checked_add(span.len as usize)?)?.trim();
    (!written.is_empty()).then(|| written.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Node {
    /// Makes every scalar that starts at one of `offsets` the string written
    /// there in `text` (see [`crate::check::Checker::as_text`]).
    pub fn read_as_text(&mut self, offsets: &[u32], text: &str) {
        if offsets.is_empty() {
            return;
        }
        match &mut self.kind {
            NodeKind::Seq(items) => items.iter_mut().for_each(|n| n.read_as_text(offsets, text)),
            NodeKind::Map(entries) => entries.iter_mut().for_each(|(_, n)| n.read_as_text(offsets, text)),
            NodeKind::Str(_) => {}
            _ if offsets.contains(&self.span.offset) => {
                if let Some(written) = scalar_text(text, self.span) {
                    self.kind = NodeKind::Str(written);
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The child a path segment names: a key in a mapping, an index (`2` or
    /// `[2]`) in a list.
    pub fn descend(&self, seg: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(_) => self.get(seg),
            NodeKind::Seq(items) => {
                let index = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(seg);
                items.get(index.parse::<usize>().ok()?)
            }
            _ => None,
        }
    }

    /// The node at the end of `path`, or the deepest one on the way that exists.
    pub fn find<'p>(&self, path: impl IntoIterator<Item = &'p str>) -> &Node {
        let mut node = self;
        for seg in path {
            match node.descend(seg) {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// A short name for the kind of value, for "expected X, found Y".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON for typed deserialization. Key order is kept as written;
    /// typed models decide the order of anything they emit.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect())
            }
        }
    }
}

/// A document tree parsed only when a position is asked for.
///
/// Checks run on typed values and need positions only to report a problem, so
/// a memoized evaluation keeps the value and drops the tree (which is many
/// times larger); the tree is rebuilt for the rare diagnostic.
pub struct LazyNode<'a> {
    load: Box<dyn Fn() -> Option<Node> + 'a>,
    cell: std::cell::OnceCell<Option<Node>>,
}

impl<'a> LazyNode<'a> {
    pub fn new(load: impl Fn() -> Option<Node> + 'a) -> LazyNode<'a> {
        LazyNode { load: Box::new(load), cell: std::cell::OnceCell::new() }
    }

    pub fn get(&self) -> Option<&Node> {
        self.cell.get_or_init(|| (self.load)()).as_ref()
    }

    /// Where the value at `path` (keys, and list indices as numbers) is
    /// written: a scalar itself, a mapping or list by its key. When the path
    /// does not exist, the nearest ancestor that does.
    pub fn span_at(&self, path: &[&str]) -> Span {
        let Some(mut node) = self.get() else { return Span::default() };
        let mut span = node.span;
        for seg in path {
            let next = match &node.kind {
                NodeKind::Map(_) => node.entry(seg).map(|(k, v)| match v.kind {
                    NodeKind::Map(_) | NodeKind::Seq(_) => (k.span, v),
                    _ => (v.span, v),
                }),
                _ => node.descend(seg).map(|n| (n.span, n)),
            };
            match next {
                Some((s, n)) => {
                    span = s;
                    node = n;
                }
                None => break,
            }
        }
        span
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for PathSeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathSeg::Key(k) => f.write_str(k),
            PathSeg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path as `plugins.compute.config` / `transforms[2].name`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Parses one YAML document. `file` is the workspace-relative path used in diagnostics.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Node, Diagnostic> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            Code::FileTooLarge,
            format!("file is {} bytes; floe reads files up to {} bytes", bytes.len(), MAX_FILE_BYTES),
        )
        .in_file(file)
        .with_help("split the document, or move bulky data out of the manifest"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        let column = (before.len() - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1)) as u32 + 1;
        Diagnostic::error(Code::NotUtf8, "file is not valid UTF-8")
            .at(file, Span { line, column, offset: e.valid_up_to() as u32, len: 1 })
            .with_help("save the file as UTF-8")
    })?;
    let text = without_bom(text);
    tree::document(&mut events::Live::new(text)).map_err(|fail| at_the_tab(fail.diagnostic(file), text))
}

/// The text of `bytes` that [`parse`] reads and spans point into: without a
/// byte-order mark (empty when it is not UTF-8, which `parse` reports).
pub fn source_text(bytes: &[u8]) -> &str {
    without_bom(std::str::from_utf8(bytes).unwrap_or_default())
}

fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A tab where YAML wants indentation is reported at the tab itself (the
/// parser stops after it), with what to do about it.
fn at_the_tab(mut d: Diagnostic, text: &str) -> Diagnostic {
    let Some(span) = d.span.filter(|_| d.code == Code::YamlSyntax && d.message.contains("tabs disallowed")) else {
        return d;
    };
    let index = span.line.saturating_sub(1) as usize;
    let Some(line) = text.split('\n').nth(index) else { return d };
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let Some(tab) = line[..indent].find('\t') else { return d };
    let line_start: usize = text.split('\n').take(index).map(|l| l.len() + 1).sum();
    d.span = Some(Span { line: span.line, column: tab as u32 + 1, offset: (line_start + tab) as u32, len: 1 });
    d.message = "a tab indents this line; YAML indents with spaces only".to_owned();
    d.help = Some("replace the tab with spaces (two per level, as in the rest of the file)".to_owned());
    d
}

/// Why a document could not be read, and where.
#[derive(Debug)]
struct Fail {
    kind: FailKind,
    at: events::Loc,
}

#[derive(Debug)]
enum FailKind {
    /// Not valid YAML, or not a value floe reads (`!!int x`, `.inf`, a list as a key).
    Syntax(Cow<'static, str>),
    /// The key, when it is a string.
    Duplicate(Option<String>),
    Depth,
    Documents,
    Size,
}

impl Fail {
    fn syntax(message: impl Into<Cow<'static, str>>, at: events::Loc) -> Fail {
        Fail { kind: FailKind::Syntax(message.into()), at }
    }

    fn duplicate(key: Option<&str>, at: events::Loc) -> Fail {
        Fail { kind: FailKind::Duplicate(key.map(str::to_owned)), at }
    }

    fn documents(at: events::Loc) -> Fail {
        Fail { kind: FailKind::Documents, at }
    }

    fn limit(breach: budget::Breach, at: events::Loc) -> Fail {
        let kind = match breach {
            budget::Breach::Depth => FailKind::Depth,
            budget::Breach::Documents => FailKind::Documents,
            budget::Breach::Size => FailKind::Size,
        };
        Fail { kind, at }
    }

    fn diagnostic(self, file: &str) -> Diagnostic {
        let (code, message, help) = match self.kind {
            FailKind::Duplicate(key) => {
                // Keys were shown escaped and cut at `, set `, where the message went on.
                let key = key.as_deref().map_or(Cow::Borrowed("duplicate mapping key"), escape);
                let key = key.split(", set ").next().unwrap_or_default();
                (Code::DuplicateKey, format!("duplicate key `{key}`"), "remove one of the two entries")
            }
            FailKind::Documents => (
                Code::YamlSyntax,
                "the file holds more than one YAML document".to_owned(),
                "keep one document per file (remove the extra `---`)",
            ),
            FailKind::Depth => (
                Code::YamlLimit,
                format!("the document nests deeper than {MAX_DEPTH} levels"),
                "flatten the structure; floe's documents are a few levels deep",
            ),
            FailKind::Size => (
                Code::YamlLimit,
                format!("the document expands to more than {MAX_NODES} values (through aliases, or sheer size)"),
                "use fewer aliases (`*name`) or split the document",
            ),
            FailKind::Syntax(message) => (
                Code::YamlSyntax,
                format!("invalid YAML: {}", shown(&message, self.at)),
                "check the indentation and quoting on this line",
            ),
        };
        let diag = Diagnostic::error(code, message).with_help(help);
        let at = self.at;
        if at.line == 0 {
            return diag.in_file(file);
        }
        diag.at(file, Span { line: at.line, column: at.column, offset: at.offset, len: at.len })
    }
}

/// A message as a diagnostic shows it: control characters escaped, on one line.
fn shown(text: &str, at: events::Loc) -> String {
    let escaped = escape(text);
    // Messages were rendered with their position, then cut back to the first line.
    let rendered = format!("{escaped} at line {}, column {}", at.line, at.column);
    let line = rendered.lines().next().unwrap_or("").trim();
    let line = match line.rfind(" at line ") {
        Some(i) if line[i..].contains("column") => &line[..i],
        _ => line,
    };
    line.to_owned()
}

/// Control characters (and the Unicode line separators) as Rust escapes.
fn escape(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_keys_and_values() {
        let node = parse("f.yaml", b"a: 1\nb:\n  c: [x, \"y\"]\n").unwrap();
        let (key, value) = node.get("b").unwrap().entry("c").unwrap();
        assert_eq!((key.span.line, key.span.column), (3, 3));
        let NodeKind::Seq(items) = &value.kind else { panic!("expected a list") };
        assert_eq!((items[1].span.line, items[1].span.column), (3, 10));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("f.yaml", b"a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.code, Code::DuplicateKey);
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.span.map(|s| s.line), Some(3));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut doc = String::from("a: &a [1,1,1,1,1,1,1,1,1,1]\n");
        for (prev, name) in
            ["a", "b", "c", "d", "e", "f", "g", "h"].iter().zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            doc.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
        }
        let err = parse("bomb.yaml", doc.as_bytes()).unwrap_err();
        assert_eq!(err.code, Code::YamlLimit);
    }

    #[test]
    fn deep_documents_are_bounded() {
        let doc = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(parse("deep.yaml", doc.as_bytes()).unwrap_err().code, Code::YamlLimit);
        let doc: String = (0..100).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
        assert_eq!(parse("deep.yaml", doc.as_bytes()).unwrap_err().code, Code::YamlLimit);
    }

    #[test]
    fn large_files_are_rejected_before_parsing() {
        let doc = vec![b'#'; MAX_FILE_BYTES + 1];
        assert_eq!(parse("big.yaml", &doc).unwrap_err().code, Code::FileTooLarge);
    }

    #[test]
    fn a_tab_in_indentation_is_reported_at_the_tab() {
        let err = parse("m.yaml", b"plugins:\n  compute:\n  \ttype: duckdb\n").unwrap_err();
        assert_eq!(err.message, "a tab indents this line; YAML indents with spaces only");
        let span = err.span.unwrap();
        assert_eq!((span.line, span.column, span.offset, span.len), (3, 3, 22, 1));
        assert!(err.help.unwrap().starts_with("replace the tab with spaces"));
    }

    #[test]
    fn empty_documents_are_null() {
        assert!(parse("e.yaml", b"# only a comment\n").unwrap().is_null());
    }

    #[test]
    fn copies_are_placed_at_their_alias() {
        let node = parse("f.yaml", b"a: &x {k: [1]}\nb: *x\n").unwrap();
        let copy = node.get("b").unwrap();
        let (key, list) = copy.entry("k").unwrap();
        let at = |s: Span| (s.line, s.column, s.len);
        assert_eq!([at(copy.span), at(key.span), at(list.span)], [(2, 4, 2); 3]);
        assert_eq!(copy.to_json(), node.get("a").unwrap().to_json());
    }

    #[test]
    fn merged_entries_follow_and_yield_to_written_ones() {
        let node = parse("f.yaml", b"base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n  z: 4\n").unwrap();
        let c = node.get("c").unwrap();
        let NodeKind::Map(entries) = &c.kind else { panic!("expected a mapping") };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(keys, ["y", "z", "x"]);
        assert_eq!(c.get("y").unwrap().kind, NodeKind::Int(3));
        assert_eq!((c.entry("x").unwrap().0.span.line, c.entry("x").unwrap().0.span.column), (3, 7));
    }

    #[test]
    fn plain_scalars_are_typed_as_yaml_1_1_and_quoted_ones_are_text() {
        let node = parse("f.yaml", b"[yes, off, 0x1F, 0o17, 012, 1_000, 1.10, ~, '1', 9223372036854775808]").unwrap();
        let NodeKind::Seq(items) = node.kind else { panic!("expected a list") };
        let kinds: Vec<NodeKind> = items.into_iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                NodeKind::Bool(true),
                NodeKind::Bool(false),
                NodeKind::Int(31),
                NodeKind::Int(15),
                NodeKind::Str("012".into()),
                NodeKind::Int(1000),
                NodeKind::Float(1.1),
                NodeKind::Null,
                NodeKind::Str("1".into()),
                NodeKind::Float(9_223_372_036_854_775_808.0),
            ]
        );
        assert_eq!(parse("f.yaml", b"a: .inf").unwrap_err().code, Code::YamlSyntax);
    }
}
