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

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use serde_saphyr::budget::BudgetBreach;

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

impl Node {
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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    options.leading_zero_numbers_as_strings = true;
    options.alias_limits.max_total_replayed_events = MAX_NODES;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_documents = 1;
    options.budget = Some(budget);
    match serde_saphyr::from_str_with_options::<Option<Spanned<Raw>>>(text, options) {
        Ok(Some(raw)) => Ok(convert(raw, text)),
        Ok(None) => Ok(Node { kind: NodeKind::Null, span: Span { line: 1, column: 1, offset: 0, len: 0 } }),
        Err(err) => Err(yaml_error(file, &err)),
    }
}

fn yaml_error(file: &str, err: &serde_saphyr::Error) -> Diagnostic {
    // Alias and snippet wrappers carry the error that happened; classify that one.
    let mut err = err;
    while let serde_saphyr::Error::AliasError { error, .. } | serde_saphyr::Error::WithSnippet { error, .. } = err {
        err = error;
    }
    let rendered = err.to_string();
    // The library prefixes "line L column C: "; floe shows the location itself.
    let message = match rendered.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") || head.starts_with("error: line ") => rest,
        _ => rendered.as_str(),
    };
    let message = message.lines().next().unwrap_or("").trim();
    let (code, message, help) = match err {
        serde_saphyr::Error::DuplicateMappingKey { .. } => {
            let key = message.strip_prefix("duplicate mapping key: ").unwrap_or(message);
            let key = key.split(", set ").next().unwrap_or(key);
            (Code::DuplicateKey, format!("duplicate key `{key}`"), "remove one of the two entries".to_owned())
        }
        serde_saphyr::Error::Budget { breach: BudgetBreach::Documents { .. }, .. }
        | serde_saphyr::Error::MultipleDocuments { .. } => (
            Code::YamlSyntax,
            "the file holds more than one YAML document".to_owned(),
            "keep one document per file (remove the extra `---`)".to_owned(),
        ),
        serde_saphyr::Error::Budget { breach: BudgetBreach::Depth { .. }, .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => (
            Code::YamlLimit,
            format!("the document nests deeper than {MAX_DEPTH} levels"),
            "flatten the structure; floe's documents are a few levels deep".to_owned(),
        ),
        serde_saphyr::Error::Budget { .. }
        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => (
            Code::YamlLimit,
            format!("the document expands to more than {MAX_NODES} values (through aliases, or sheer size)"),
            "use fewer aliases (`*name`) or split the document".to_owned(),
        ),
        _ => (
            Code::YamlSyntax,
            format!("invalid YAML: {}", strip_location(message)),
            "check the indentation and quoting on this line".to_owned(),
        ),
    };
    let diag = Diagnostic::error(code, message).with_help(help);
    match err.location() {
        Some(loc) if loc.line() > 0 => {
            let offset = loc.span().byte_offset().unwrap_or(0) as u32;
            let len = loc.span().byte_len().unwrap_or(0) as u32;
            diag.at(file, Span { line: loc.line() as u32, column: loc.column() as u32, offset, len })
        }
        _ => diag.in_file(file),
    }
}

/// The parser's messages end with the position, which floe shows on its own line.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains("column") => &message[..i],
        _ => message,
    }
}

/// What serde-saphyr hands back: values wrapped in their locations.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

fn span_of(loc: &serde_saphyr::Location, text: &str) -> Span {
    let offset = loc.span().byte_offset().unwrap_or(0) as u32;
    let mut len = loc.span().byte_len().unwrap_or(0) as u32;
    // Keep the span inside the text, so renderers can slice it.
    if len > 0 && (offset as usize) < text.len() {
        len = len.min((text.len() - offset as usize) as u32);
    }
    Span { line: loc.line() as u32, column: loc.column() as u32, offset, len }
}

fn convert(raw: Spanned<Raw>, text: &str) -> Node {
    let span = span_of(&raw.referenced, text);
    let kind = match raw.value {
        Raw::Null => NodeKind::Null,
        Raw::Bool(b) => NodeKind::Bool(b),
        Raw::Int(i) => NodeKind::Int(i),
        Raw::Float(f) => NodeKind::Float(f),
        Raw::Str(s) => NodeKind::Str(s),
        Raw::Seq(items) => NodeKind::Seq(items.into_iter().map(|i| convert(i, text)).collect()),
        Raw::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key { span: span_of(&k.referenced, text), name: k.value };
                    (key, convert(v, text))
                })
                .collect(),
        ),
    };
    Node { kind, span }
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
    fn empty_documents_are_null() {
        assert!(parse("e.yaml", b"# only a comment\n").unwrap().is_null());
    }
}
