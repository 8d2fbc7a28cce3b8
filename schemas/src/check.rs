//! Checks a spanned document against the JSON Schema generated from floe's types.
//!
//! The schema is the single source of truth for what a document may hold: the
//! typed models generate it (schemars), it is checked in under `schemas/json/`, and
//! this checker walks a [`Node`] tree against it to report *every* problem at once
//! with its position, which serde's first-error deserialization cannot do. Only the
//! subset of JSON Schema that schemars emits is interpreted.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

use crate::diag::{self, Code, Diagnostic, Span};
use crate::yaml::{Node, NodeKind, PathSeg, path_string};

pub struct Checker<'a> {
    root: &'a Value,
    file: &'a str,
    /// The document's text, when plain scalars may be read as the text written.
    text: Option<&'a str>,
    pub diagnostics: Vec<Diagnostic>,
    /// Plain scalars that YAML reads as a boolean, number or null where the
    /// schema wants a string (`level: off`, `version: 1.10`), by offset: the
    /// document holds the text written there (see [`Node::read_as_text`]).
    pub as_text: Vec<u32>,
}

impl<'a> Checker<'a> {
    pub fn new(root: &'a Value, file: &'a str) -> Checker<'a> {
        Checker { root, file, text: None, diagnostics: Vec::new(), as_text: Vec::new() }
    }

    /// Reads a plain scalar where a string is wanted as the text written in
    /// `text` (the document's source), instead of reporting its YAML type.
    pub fn with_text(mut self, text: &'a str) -> Checker<'a> {
        self.text = Some(text);
        self
    }

    /// `node` as a string, when it is a scalar the schema wants as one and the
    /// text written is at hand.
    fn written_text(&self, node: &Node, schema: &Value) -> Option<Node> {
        let wants_string =
            schema.get("type").is_some_and(|t| !type_matches(t, node) && type_names(t).contains(&"a string"));
        if !wants_string
            || !matches!(node.kind, NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Null)
        {
            return None;
        }
        let written = crate::yaml::scalar_text(self.text?, node.span)?;
        // An alias, an anchor or a tag says more than the text: the value stays as YAML reads it.
        if written.starts_with(['*', '&', '!']) {
            return None;
        }
        Some(Node { kind: NodeKind::Str(written), span: node.span })
    }

    /// Checks `node` against the root schema.
    pub fn check_document(&mut self, node: &Node) {
        let mut path = Vec::new();
        self.check(node, self.root, &mut path, node.span);
    }

    fn resolve(&self, schema: &'a Value) -> &'a Value {
        resolve(self.root, schema)
    }

    /// `key_span` is where the value is named (its key), used for "missing key".
    fn check(&mut self, node: &Node, schema: &'a Value, path: &mut Vec<PathSeg>, key_span: Span) {
        let schema = self.resolve(schema);
        let as_text = self.written_text(node, schema);
        if as_text.is_some() {
            self.as_text.push(node.span.offset);
        }
        let node = as_text.as_ref().unwrap_or(node);
        if let Some(Value::Bool(false)) = Some(schema) {
            self.push(Code::UnknownKey, node.span, format!("`{}` is not allowed here", path_string(path)), None);
            return;
        }
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            self.check_any_of(node, branches, path, key_span);
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(node, s, path, key_span);
            }
        }
        if let Some(ty) = schema.get("type")
            && !type_matches(ty, node)
        {
            let expected = type_names(ty);
            let mut help = Some(format!("write {} here", join_or(&expected)));
            if let NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) = node.kind
                && expected.contains(&"a string")
            {
                help = Some("quote the value to make it a string".to_owned());
            }
            self.push(
                Code::WrongType,
                node.span,
                format!("`{}` must be {}, found {}", display_path(path), join_or(&expected), node.kind_name()),
                help,
            );
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            self.check_enum(node, allowed, path);
        }
        if let Some(constant) = schema.get("const")
            && &node.to_json() != constant
        {
            let code = enum_code(path);
            self.push(
                code,
                node.span,
                format!("`{}` must be `{}`", display_path(path), scalar_text(constant)),
                kind_help(path),
            );
        }
        match &node.kind {
            NodeKind::Map(entries) => self.check_map(node, entries, schema, path, key_span),
            NodeKind::Seq(items) => {
                self.check_len(node, items.len(), schema, "minItems", "maxItems", "item", path);
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathSeg::Index(i));
                        self.check(item, item_schema, path, item.span);
                        path.pop();
                    }
                }
            }
            NodeKind::Str(s) => {
                self.check_len(node, s.chars().count(), schema, "minLength", "maxLength", "character", path);
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                    && let Some(re) = compiled(pattern)
                    && !re.is_match(s)
                {
                    let help = match describe_pattern(pattern) {
                        Some(d) => format!("write {d}"),
                        None => format!("it must match `{pattern}`"),
                    };
                    self.push(
                        Code::PatternMismatch,
                        node.span,
                        format!("`{}` has an invalid value{}", display_path(path), echo(path, s)),
                        Some(help),
                    );
                }
            }
            NodeKind::Int(_) | NodeKind::Float(_) => self.check_range(node, schema, path),
            NodeKind::Null | NodeKind::Bool(_) => {}
        }
    }

    fn check_any_of(&mut self, node: &Node, branches: &'a [Value], path: &mut Vec<PathSeg>, key_span: Span) {
        // Try every branch on its own; the node is fine if one accepts it. Otherwise
        // report the branch whose top-level type fits, so that a mistyped field inside
        // an optional mapping is reported as such, not as "expected null".
        let mut best: Option<Vec<Diagnostic>> = None;
        for branch in branches {
            let resolved = self.resolve(branch);
            let mut sub = Checker { text: self.text, ..Checker::new(self.root, self.file) };
            sub.check(node, branch, path, key_span);
            if sub.diagnostics.is_empty() {
                self.as_text.extend(sub.as_text);
                return;
            }
            let fits = resolved.get("type").is_none_or(|t| type_matches(t, node));
            if fits && best.as_ref().is_none_or(|b| sub.diagnostics.len() < b.len()) {
                best = Some(sub.diagnostics);
            }
        }
        match best {
            Some(diags) => self.diagnostics.extend(diags),
            None => {
                let mut expected: Vec<&str> = Vec::new();
                for b in branches {
                    if let Some(t) = self.resolve(b).get("type") {
                        for name in type_names(t) {
                            if !expected.contains(&name) {
                                expected.push(name);
                            }
                        }
                    }
                }
                self.push(
                    Code::WrongType,
                    node.span,
                    format!("`{}` must be {}, found {}", display_path(path), join_or(&expected), node.kind_name()),
                    None,
                );
            }
        }
    }

    fn check_enum(&mut self, node: &Node, allowed: &[Value], path: &[PathSeg]) {
        let value = node.to_json();
        if allowed.contains(&value) {
            return;
        }
        let names: Vec<String> = allowed.iter().map(scalar_text).collect();
        let given = scalar_text(&value);
        let help = match (kind_help(path), diag::suggest(&given, names.iter().map(String::as_str))) {
            (Some(h), _) => h,
            (None, Some(s)) => format!("did you mean `{s}`?"),
            (None, None) => {
                format!("expected one of {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
            }
        };
        self.push(
            enum_code(path),
            node.span,
            format!("`{}` has an invalid value{}", display_path(path), echo(path, &given)),
            Some(help),
        );
    }

    fn check_map(
        &mut self,
        node: &Node,
        entries: &[(crate::yaml::Key, Node)],
        schema: &'a Value,
        path: &mut Vec<PathSeg>,
        key_span: Span,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, value) in entries {
            path.push(PathSeg::Key(key.name.clone()));
            match properties.and_then(|p| p.get(&key.name)) {
                Some(prop) => self.check(value, prop, path, key.span),
                None => match additional {
                    Some(Value::Bool(false)) => {
                        let known: Vec<&str> =
                            properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        let help = match diag::suggest(&key.name, known.iter().copied()) {
                            Some(s) => Some(format!("did you mean `{s}`?")),
                            None if known.is_empty() => None,
                            None if known.len() <= 16 => Some(format!(
                                "expected one of {}",
                                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                            )),
                            None => None,
                        };
                        let message = match path.len() {
                            1 => format!("unknown key `{}`", key.name),
                            _ => format!("unknown key `{}` in `{}`", key.name, display_path(&path[..path.len() - 1])),
                        };
                        self.push(Code::UnknownKey, key.span, message, help);
                    }
                    Some(extra @ Value::Object(_)) => self.check(value, extra, path, key.span),
                    _ => {}
                },
            }
            path.pop();
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _)| k.name == name) {
                    let at = if path.is_empty() { node.span } else { key_span };
                    let message = match path.len() {
                        0 => format!("missing required key `{name}`"),
                        _ => format!("`{}` is missing the required key `{name}`", display_path(path)),
                    };
                    self.push(Code::MissingKey, at, message, Some(format!("add `{name}:`")));
                }
            }
        }
        self.check_len(node, entries.len(), schema, "minProperties", "maxProperties", "entry", path);
    }

    #[allow(clippy::too_many_arguments)]
    fn check_len(
        &mut self,
        node: &Node,
        len: usize,
        schema: &Value,
        min: &str,
        max: &str,
        unit: &str,
        path: &[PathSeg],
    ) {
        let plural = |n: u64| if n == 1 { format!("{n} {unit}") } else { format!("{n} {unit}s") };
        if let Some(m) = schema.get(min).and_then(Value::as_u64)
            && (len as u64) < m
        {
            let (message, help) = if m == 1 && unit == "item" {
                (format!("`{}` must not be empty", display_path(path)), Some("add at least one entry".to_owned()))
            } else {
                (format!("`{}` must have at least {}", display_path(path), plural(m)), None)
            };
            self.push(Code::InvalidLength, node.span, message, help);
        }
        if let Some(m) = schema.get(max).and_then(Value::as_u64)
            && (len as u64) > m
        {
            self.push(
                Code::InvalidLength,
                node.span,
                format!("`{}` must have at most {}, found {len}", display_path(path), plural(m)),
                None,
            );
        }
    }

    fn check_range(&mut self, node: &Node, schema: &Value, path: &[PathSeg]) {
        let v = match node.kind {
            NodeKind::Int(i) => i as f64,
            NodeKind::Float(f) => f,
            _ => return,
        };
        let bound = |k: &str| schema.get(k).and_then(Value::as_f64);
        let shown = scalar_text(&node.to_json());
        let p = display_path(path);
        let problem = if let Some(m) = bound("minimum").filter(|m| v < *m) {
            Some(format!("at least {}", fmt_num(m)))
        } else if let Some(m) = bound("maximum").filter(|m| v > *m) {
            Some(format!("at most {}", fmt_num(m)))
        } else if let Some(m) = bound("exclusiveMinimum").filter(|m| v <= *m) {
            Some(format!("greater than {}", fmt_num(m)))
        } else {
            bound("exclusiveMaximum").filter(|m| v >= *m).map(|m| format!("less than {}", fmt_num(m)))
        };
        if let Some(problem) = problem {
            let value = match echo(path, &shown) {
                e if e.is_empty() => "out of range".to_owned(),
                _ => shown,
            };
            self.push(Code::OutOfRange, node.span, format!("`{p}` is {value}; it must be {problem}"), None);
        }
    }

    fn push(&mut self, code: Code, span: Span, message: String, help: Option<String>) {
        let mut d = Diagnostic::error(code, message).at(self.file, span);
        d.help = help;
        self.diagnostics.push(d);
    }
}

/// `schema` with its `$ref`s followed into `root`'s `$defs`.
pub(crate) fn resolve<'v>(root: &'v Value, schema: &'v Value) -> &'v Value {
    let mut schema = schema;
    // A `$ref` with siblings (schemars puts `default` beside it) is still the ref.
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or(r);
                match root.get("$defs").and_then(|d| d.get(name)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
            }
            None => return schema,
        }
    }
    schema
}

/// `apiVersion` and `kind` say what a document is; a wrong one is not a typo
/// in a value but the wrong kind of document.
fn enum_code(path: &[PathSeg]) -> Code {
    match path {
        [PathSeg::Key(k)] if k == "apiVersion" || k == "kind" => Code::WrongKind,
        _ => Code::InvalidEnumValue,
    }
}

fn kind_help(path: &[PathSeg]) -> Option<String> {
    match path {
        [PathSeg::Key(k)] if k == "apiVersion" => Some("floe reads `apiVersion: floe.dev/v1`".to_owned()),
        [PathSeg::Key(k)] if k == "kind" => Some(
            "a floe.yaml holds `kind: FloeSpec` (or `DataProduct`), a manifest.yaml holds `kind: Manifest`".to_owned(),
        ),
        _ => None,
    }
}

/// What the patterns of floe's schemas ask for, in words.
fn describe_pattern(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        r"^[a-z][a-z0-9-]*$" => "lowercase letters, digits and `-`, starting with a letter (e.g. `customer-360`)",
        r"^\d+\.\d+\.\d+$" | r"^\d+\.\d+\.\d+.*$" => "a version MAJOR.MINOR.PATCH (e.g. `1.2.0`)",
        r"^[a-zA-Z_][a-zA-Z0-9_]*$" => "letters, digits and `_`, not starting with a digit (e.g. `stg_orders`)",
        r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$" => {
            "a Kubernetes name: lowercase letters, digits and `-`, starting and ending with a letter or digit"
        }
        r"^[a-zA-Z_][a-zA-Z0-9_]*\.[a-zA-Z_][a-zA-Z0-9_]*$" => "a table as `schema.table` (e.g. `bronze.raw_orders`)",
        p if p.starts_with("^P(") => "an ISO-8601 duration (e.g. `PT1H`, `P1D`)",
        p if p.starts_with("^(100(") => "a percentage from 0 to 100 (e.g. `99.5` or `\"99.5%\"`)",
        _ => return None,
    })
}

/// ` `value`` for a message, unless the value sits under a credential key: a
/// diagnostic never repeats a secret.
fn echo(path: &[PathSeg], value: &str) -> String {
    match path.last() {
        Some(PathSeg::Key(k)) if crate::secret::is_credential_key(k) => String::new(),
        _ => format!(" `{value}`"),
    }
}

fn display_path(path: &[PathSeg]) -> String {
    if path.is_empty() { "document".to_owned() } else { path_string(path) }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_matches(ty: &Value, node: &Node) -> bool {
    match ty {
        Value::String(t) => one_type_matches(t, node),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| one_type_matches(t, node)),
        _ => true,
    }
}

fn one_type_matches(t: &str, node: &Node) -> bool {
    match (t, &node.kind) {
        ("null", NodeKind::Null)
        | ("boolean", NodeKind::Bool(_))
        | ("string", NodeKind::Str(_))
        | ("object", NodeKind::Map(_))
        | ("array", NodeKind::Seq(_))
        | ("integer", NodeKind::Int(_))
        | ("number", NodeKind::Int(_) | NodeKind::Float(_)) => true,
        ("integer", NodeKind::Float(f)) => f.fract() == 0.0,
        _ => false,
    }
}

fn type_names(ty: &Value) -> Vec<&'static str> {
    let one = |t: &str| match t {
        "null" => "null",
        "boolean" => "a boolean",
        "string" => "a string",
        "object" => "a mapping",
        "array" => "a list",
        "integer" => "an integer",
        "number" => "a number",
        _ => "a value",
    };
    match ty {
        Value::String(t) => vec![one(t)],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(one).collect(),
        _ => vec![],
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => "a value".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Patterns are compiled once per process; the schema holds only a handful.
fn compiled(pattern: &str) -> Option<Arc<regex_lite::Regex>> {
    static CACHE: OnceLock<RwLock<BTreeMap<String, Option<Arc<regex_lite::Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return re;
    }
    let re = regex_lite::Regex::new(pattern).ok().map(Arc::new);
    if let Ok(mut c) = cache.write() {
        c.insert(pattern.to_owned(), re.clone());
    }
    re
}
