//! The loader floe used before: serde-saphyr deserializing into `Spanned`
//! values, converted to a [`Node`] tree. Kept verbatim as the reference the
//! event-built loader is compared with.

use floe_schemas::diag::{Code, Diagnostic, Span};
use floe_schemas::yaml::{Key, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, Node, NodeKind};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use serde_saphyr::budget::BudgetBreach;

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
