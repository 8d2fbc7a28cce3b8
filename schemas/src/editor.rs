//! Where the cursor stands in a YAML buffer being typed, and what the schema offers there.
//!
//! The buffer often does not parse (a key half typed, a value missing), so the
//! cursor is placed by reading indentation line by line, as YAML language
//! servers do, never by the loader. The schemas are the JSON Schemas floe
//! generates (see [`crate::check`] for the subset they use).

use serde_json::Value;

use crate::check::{resolve, scalar_text};
use crate::yaml::{NodeKind, PathSeg};

/// Where a position in a YAML document stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The mapping keys and sequence entries from the root to the mapping the cursor is in (for
    /// [`At::Key`]) or to the key whose value is being written (for [`At::Value`], the path
    /// includes that key).
    pub path: Vec<PathSeg>,
    /// Whether a key or a value is being written, and what is typed of it.
    pub at: At,
}

/// What is being written at the cursor. A prefix after an opening quote starts after the quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// Writing a key: the text typed so far on this line and the byte column where it starts.
    Key { prefix: String, start: usize },
    /// Writing the value after `key:` (or a sequence entry `- `): what is typed so far and where
    /// it starts.
    Value { prefix: String, start: usize },
}

/// Whether a completion is a key or a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Key,
    Value,
}

/// One completion offered at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The key or value itself.
    pub label: String,
    pub kind: CompletionKind,
    /// The type (`string`, `integer`, `object`, `array`), or `one of: a, b` for an enumeration.
    pub detail: Option<String>,
    /// The schema's description.
    pub documentation: Option<String>,
    /// What to write from the cursor's `start`: `name: ` for a key, the value for a value
    /// (double-quoted only where YAML would read it as something else, e.g. `"off"`).
    pub insert_text: String,
}

/// What the schema says of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// The key's own description, else its type's.
    pub description: Option<String>,
    /// `string`, `integer`, ... (several joined with ` or `); `null` is left out.
    pub type_name: Option<String>,
    /// The `enum` and `const` values, in the schema's order.
    pub values: Vec<String>,
    /// The schema's `default`, as YAML would show it (`[]`, `warn`).
    pub default: Option<String>,
}

/// Where the cursor stands in `text`: `line` is 0-based, `column` a byte offset in the line
/// (clamped to it). Never fails: any text reads as some position.
pub fn cursor(text: &str, line: usize, column: usize) -> Cursor {
    analyze(text, line, column).cursor
}

/// Completions at the position: at a key, the keys the schema allows in the cursor's mapping
/// that it does not hold yet; at a value, the key's `enum`/`const` values (`true`/`false` for a
/// boolean) and what `values` returns for the cursor's path. Only those starting with the typed
/// prefix (case-insensitively), required keys first, then alphabetical.
pub fn complete(
    schema: &Value,
    text: &str,
    line: usize,
    column: usize,
    values: &dyn Fn(&[PathSeg]) -> Vec<String>,
) -> Vec<Completion> {
    let a = analyze(text, line, column);
    let ctx = Context { root: schema, quoted: a.quoted, after_colon: a.after_colon };
    let candidates = walk(schema, &a.cursor.path);
    match &a.cursor.at {
        At::Key { prefix, .. } => ctx.keys(&candidates, prefix, &a.siblings),
        // `- na` may be the first key of an entry mapping as well as a scalar entry: the
        // schema of the entries tells.
        At::Value { prefix, .. } if a.entry && candidates.iter().any(|c| has_properties(schema, c)) => {
            ctx.keys(&candidates, prefix, &a.siblings)
        }
        At::Value { prefix, .. } => ctx.values(&candidates, prefix, values(&a.cursor.path)),
    }
}

/// What the schema says of the key at `path` (sequence indexes step into `items`): its
/// description, type and allowed values; `None` when the schema does not know the path.
pub fn describe(schema: &Value, path: &[PathSeg]) -> Option<Description> {
    let candidates = walk(schema, path);
    if candidates.is_empty() {
        return None;
    }
    Some(describe_candidates(schema, &candidates))
}

fn describe_candidates(root: &Value, candidates: &[&Value]) -> Description {
    // A property's own description (beside its `$ref`) says more than its type's.
    let alts: Vec<&Value> = candidates.iter().flat_map(|c| alternatives(root, c)).collect();
    let first = |keyword: &str| candidates.iter().chain(&alts).find_map(|s| s.get(keyword));
    let mut types = Vec::new();
    let mut values = Vec::new();
    for alt in &alts {
        for t in type_list(alt) {
            push_new(&mut types, t.to_owned());
        }
        for v in enum_values(alt) {
            push_new(&mut values, scalar_text(v));
        }
    }
    Description {
        description: first("description").and_then(Value::as_str).map(str::to_owned),
        type_name: (!types.is_empty()).then(|| types.join(" or ")),
        values,
        default: first("default").map(scalar_text),
    }
}

/// The cursor and what completing at it needs besides.
struct Analysis {
    cursor: Cursor,
    /// Keys already in the mapping a key would be added to.
    siblings: Vec<String>,
    /// The value is a sequence entry with no key on its line (`- na`).
    entry: bool,
    /// The prefix follows an opening quote.
    quoted: bool,
    /// The value starts right after `key:`, with no space between.
    after_colon: bool,
}

/// A key or a sequence entry's `-`, at its column.
#[derive(Debug)]
struct Elem {
    col: usize,
    key: Option<String>,
}

/// The structure of one line: its indentation, `- ` markers and key.
struct Shape {
    dashes: Vec<usize>,
    /// Column of what follows the indentation and the dashes.
    content: usize,
    key: Option<KeyAt>,
}

struct KeyAt {
    name: String,
    col: usize,
    /// Column just after the `:`.
    value: usize,
}

fn analyze(text: &str, line: usize, column: usize) -> Analysis {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let current = lines.get(line).copied().unwrap_or("");
    let mut column = column.min(current.len());
    while !current.is_char_boundary(column) {
        column -= 1;
    }
    // Only the document holding the cursor counts in a multi-document file.
    let doc_start = lines[..line.min(lines.len())].iter().rposition(|l| is_doc_marker(l)).map_or(0, |i| i + 1);
    let doc_end =
        lines.iter().skip(line.saturating_add(1)).position(|l| is_doc_marker(l)).map_or(lines.len(), |i| line + 1 + i);

    let mut elems: Vec<Elem> = Vec::new();
    // While in a block scalar (`key: |`): the column its lines are indented beyond, and
    // the element it is the value of.
    let mut block: Option<(usize, usize)> = None;
    let mut result = None;
    let mut split = 0;
    for (n, raw) in lines.iter().enumerate().take(doc_end).skip(doc_start) {
        let is_cursor = n == line;
        let before = if is_cursor { &current[..column] } else { raw };
        let blank = before.trim().is_empty();
        let indent = if is_cursor && blank { column } else { indent_of(raw) };
        if let Some((owner_col, owner)) = block {
            if (blank && !is_cursor) || indent > owner_col {
                if is_cursor {
                    let typed = before.get(indent..).unwrap_or("");
                    result = Some(value_at(path_of(&elems, owner), typed, indent));
                    split = elems.len();
                }
                continue;
            }
            block = None;
        }
        if is_cursor {
            result = Some(if blank {
                (Cursor { path: path_before(&elems, column, false), at: key_at("", column) }, Some(column), false)
            } else {
                cursor_in_line(&mut elems, before)
            });
            split = elems.len();
            continue;
        }
        let shape = shape_of(raw);
        elems.extend(shape.dashes.iter().map(|&col| Elem { col, key: None }));
        // The line's last element may take a block scalar (`|`, `>`) as its value.
        let (owner_col, rest) = match (shape.key, shape.dashes.last()) {
            (Some(k), _) => {
                elems.push(Elem { col: k.col, key: Some(k.name) });
                (k.col, &raw[k.value..])
            }
            (None, Some(&d)) => (d, &raw[shape.content..]),
            (None, None) => continue,
        };
        if rest.trim_start().starts_with(['|', '>']) {
            block = Some((owner_col, elems.len() - 1));
        }
    }
    let (cursor, mapping_col, entry) =
        result.unwrap_or_else(|| (Cursor { path: Vec::new(), at: key_at("", column) }, Some(column), false));
    let siblings = mapping_col.map(|col| siblings(&elems[..split], &elems[split..], col)).unwrap_or_default();
    let start = match &cursor.at {
        At::Key { start, .. } | At::Value { start, .. } => *start,
    };
    let quoted = start > 0 && current[..start].ends_with(['"', '\'']);
    let after_colon = matches!(cursor.at, At::Value { .. }) && current[..start].ends_with(':');
    Analysis { cursor, siblings, entry, quoted, after_colon }
}

fn key_at(prefix: &str, start: usize) -> At {
    At::Key { prefix: prefix.to_owned(), start }
}

/// A value typed at `start`, after its opening quote if any.
fn value_at(path: Vec<PathSeg>, typed: &str, start: usize) -> (Cursor, Option<usize>, bool) {
    let (prefix, start) = unquote(typed, start);
    (Cursor { path, at: At::Value { prefix: prefix.to_owned(), start } }, None, false)
}

fn unquote(typed: &str, start: usize) -> (&str, usize) {
    match typed.strip_prefix(['"', '\'']) {
        Some(rest) => (rest, start + 1),
        None => (typed, start),
    }
}

/// The cursor on a line with text before it (`before`), whose elements are added to `elems`.
/// Returns the cursor, the column of the mapping a key would go in, and whether it is a bare
/// sequence entry.
fn cursor_in_line(elems: &mut Vec<Elem>, before: &str) -> (Cursor, Option<usize>, bool) {
    let mut shape = shape_of(before);
    // `-` right before the cursor is being typed, not yet an entry.
    if shape.key.is_none() && shape.dashes.last().is_some_and(|&d| d + 1 == before.len()) {
        shape.content = shape.dashes.pop().unwrap_or(shape.content);
    }
    elems.extend(shape.dashes.iter().map(|&col| Elem { col, key: None }));
    if let Some(k) = shape.key {
        elems.push(Elem { col: k.col, key: Some(k.name) });
        let typed = before[k.value..].trim_start_matches([' ', '\t']);
        return value_at(path_of(elems, elems.len() - 1), typed, before.len() - typed.len());
    }
    let typed = &before[shape.content..];
    if shape.dashes.is_empty() {
        let (prefix, start) = unquote(typed, shape.content);
        let path = path_before(elems, shape.content, false);
        (Cursor { path, at: key_at(prefix, start) }, Some(shape.content), false)
    } else {
        let (cursor, _, _) = value_at(path_of(elems, elems.len() - 1), typed, shape.content);
        (cursor, Some(shape.content), true)
    }
}

fn is_doc_marker(line: &str) -> bool {
    (line.starts_with("---") || line.starts_with("..."))
        && line.as_bytes().get(3).is_none_or(|b| b.is_ascii_whitespace())
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Reads a line's indentation, `- ` markers and `key:` (plain or quoted).
fn shape_of(line: &str) -> Shape {
    let bytes = line.as_bytes();
    let mut i = indent_of(line);
    let mut dashes = Vec::new();
    while bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_none_or(|b| *b == b' ' || *b == b'\t') {
        dashes.push(i);
        i += 1;
        i += line[i..].len() - line[i..].trim_start_matches([' ', '\t']).len();
    }
    let key = key_of(&line[i..]).map(|(name, colon)| KeyAt { name, col: i, value: i + colon + 1 });
    Shape { dashes, content: i, key }
}

/// The key a line's content starts with, and the offset of its `:`.
fn key_of(content: &str) -> Option<(String, usize)> {
    let colon_ends = |at: usize| {
        content.as_bytes().get(at) == Some(&b':')
            && content.as_bytes().get(at + 1).is_none_or(|b| *b == b' ' || *b == b'\t')
    };
    let quote = content.chars().next()?;
    if quote == '"' || quote == '\'' {
        let mut name = String::new();
        let mut chars = content.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if quote == '"' => {
                    if let Some((_, escaped)) = chars.next() {
                        name.push(escaped);
                    }
                }
                '\'' if quote == '\'' && chars.peek().is_some_and(|(_, c)| *c == '\'') => {
                    chars.next();
                    name.push('\'');
                }
                c if c == quote => {
                    let after = i + 1;
                    let colon = after + content[after..].len() - content[after..].trim_start_matches(' ').len();
                    return colon_ends(colon).then_some((name, colon));
                }
                c => name.push(c),
            }
        }
        return None;
    }
    // Flow collections, comments, block scalars, aliases, tags and directives start no key.
    if content.starts_with(['#', '{', '[', '|', '>', '*', '!', '&', '%', '@', '`', '?', ',', ':']) {
        return None;
    }
    let mut prev_space = false;
    for (i, c) in content.char_indices() {
        if c == '#' && prev_space {
            return None;
        }
        if colon_ends(i) {
            let name = content[..i].trim_end();
            return (!name.is_empty()).then(|| (name.to_owned(), i));
        }
        prev_space = c == ' ' || c == '\t';
    }
    None
}

/// The path to the value of `elems[i]`: its mapping's path and its key, or its sequence's
/// path and its index.
fn path_of(elems: &[Elem], i: usize) -> Vec<PathSeg> {
    let Some(e) = elems.get(i) else { return path_before(elems, 0, false) };
    match &e.key {
        Some(name) => {
            let mut path = path_before(&elems[..i], e.col, false);
            path.push(PathSeg::Key(name.clone()));
            path
        }
        None => path_before(&elems[..i], e.col, true),
    }
}

/// The path to a node at `col` that follows `elems`: for a key (`dash` false), the path of
/// its mapping; for a sequence entry, the sequence's path and the entry's index.
fn path_before(elems: &[Elem], col: usize, dash: bool) -> Vec<PathSeg> {
    let (mut col, mut dash, mut end) = (col, dash, elems.len());
    let mut reversed = Vec::new();
    'up: loop {
        let mut index = 0;
        for i in (0..end).rev() {
            let e = &elems[i];
            // The parent is the nearest element to the left; for an entry, earlier `-` at
            // its column are its siblings, and a key at its column owns an unindented
            // sequence (`key:\n- a`).
            let parent = if dash {
                if e.col == col && e.key.is_none() {
                    index += 1;
                }
                e.col < col || e.col == col && e.key.is_some()
            } else {
                e.col < col
            };
            if !parent {
                continue;
            }
            if dash {
                reversed.push(PathSeg::Index(index));
            }
            match &e.key {
                Some(name) => {
                    reversed.push(PathSeg::Key(name.clone()));
                    dash = false;
                }
                None => dash = true,
            }
            (col, end) = (e.col, i);
            continue 'up;
        }
        if dash {
            reversed.push(PathSeg::Index(index));
        }
        break;
    }
    reversed.reverse();
    reversed
}

/// The keys at `col` in the mapping around the cursor: upward and downward until a line
/// that is less indented.
fn siblings(before: &[Elem], after: &[Elem], col: usize) -> Vec<String> {
    let up = before.iter().rev().take_while(|e| e.col >= col);
    let down = after.iter().take_while(|e| e.col >= col);
    up.chain(down).filter(|e| e.col == col).filter_map(|e| e.key.clone()).collect()
}

/// The schemas the value at `path` may follow: a key steps into `properties` (else
/// `additionalProperties`), an index into `items`, through every `anyOf`/`oneOf`/`allOf`
/// branch. Empty when the schema does not know the path.
fn walk<'v>(root: &'v Value, path: &[PathSeg]) -> Vec<&'v Value> {
    let mut current = vec![root];
    for seg in path {
        let mut next = Vec::new();
        for alt in current.iter().flat_map(|c| alternatives(root, c)) {
            let step = match seg {
                PathSeg::Key(k) => {
                    alt.get("properties").and_then(|p| p.get(k)).or_else(|| alt.get("additionalProperties"))
                }
                PathSeg::Index(_) => alt.get("items"),
            };
            // `additionalProperties: true` allows anything, and says nothing of it.
            if let Some(s) = step.filter(|s| s.is_object()) {
                push_unique(&mut next, s);
            }
        }
        current = next;
    }
    current
}

/// `schema` and the branches it may take, `$ref`s resolved.
fn alternatives<'v>(root: &'v Value, schema: &'v Value) -> Vec<&'v Value> {
    fn collect<'v>(root: &'v Value, schema: &'v Value, depth: usize, out: &mut Vec<&'v Value>) {
        let schema = resolve(root, schema);
        // The depth bounds recursive definitions.
        if depth > 8 || out.iter().any(|s| std::ptr::eq(*s, schema)) {
            return;
        }
        out.push(schema);
        for keyword in ["anyOf", "oneOf", "allOf"] {
            for branch in schema.get(keyword).and_then(Value::as_array).into_iter().flatten() {
                collect(root, branch, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    collect(root, schema, 0, &mut out);
    out
}

fn has_properties(root: &Value, schema: &Value) -> bool {
    alternatives(root, schema)
        .iter()
        .any(|a| a.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty()))
}

/// The types a schema names, `null` left out.
fn type_list(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
    .into_iter()
    .filter(|t| *t != "null")
    .collect()
}

fn enum_values(schema: &Value) -> impl Iterator<Item = &Value> {
    let listed = schema.get("enum").and_then(Value::as_array).into_iter().flatten();
    listed.chain(schema.get("const")).filter(|v| !v.is_null())
}

fn push_unique<'v>(out: &mut Vec<&'v Value>, schema: &'v Value) {
    if !out.iter().any(|s| std::ptr::eq(*s, schema)) {
        out.push(schema);
    }
}

fn push_new(out: &mut Vec<String>, item: String) {
    if !out.contains(&item) {
        out.push(item);
    }
}

/// What completing needs besides the candidates: the schema's root and how the text around
/// the cursor shapes what to insert.
struct Context<'v> {
    root: &'v Value,
    quoted: bool,
    after_colon: bool,
}

impl Context<'_> {
    fn keys(&self, candidates: &[&Value], prefix: &str, present: &[String]) -> Vec<Completion> {
        let mut out: Vec<(bool, Completion)> = Vec::new();
        for alt in candidates.iter().flat_map(|c| alternatives(self.root, c)) {
            let required: Vec<&str> =
                alt.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            for (name, property) in alt.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if present.contains(name) || !starts_with(name, prefix) {
                    continue;
                }
                let is_required = required.contains(&name.as_str());
                if let Some((r, _)) = out.iter_mut().find(|(_, c)| c.label == *name) {
                    // A key one branch requires is required there: list it first.
                    *r |= is_required;
                    continue;
                }
                let d = describe_candidates(self.root, &[property]);
                let detail =
                    if d.values.is_empty() { d.type_name } else { Some(format!("one of: {}", d.values.join(", "))) };
                let insert_text = if self.quoted { name.clone() } else { format!("{}: ", plain_or_quoted(name)) };
                out.push((
                    is_required,
                    Completion {
                        label: name.clone(),
                        kind: CompletionKind::Key,
                        detail,
                        documentation: d.description,
                        insert_text,
                    },
                ));
            }
        }
        out.sort_by(|(ra, a), (rb, b)| rb.cmp(ra).then_with(|| alphabetical(&a.label, &b.label)));
        out.into_iter().map(|(_, c)| c).collect()
    }

    fn values(&self, candidates: &[&Value], prefix: &str, extra: Vec<String>) -> Vec<Completion> {
        let mut out: Vec<Completion> = Vec::new();
        let mut add = |label: String, string: bool, detail: Option<String>, documentation: Option<String>| {
            if !starts_with(&label, prefix) || out.iter().any(|c| c.label == label) {
                return;
            }
            let text = if string && !self.quoted { plain_or_quoted(&label) } else { label.clone() };
            let insert_text = if self.after_colon { format!(" {text}") } else { text };
            out.push(Completion { label, kind: CompletionKind::Value, detail, documentation, insert_text });
        };
        for candidate in candidates {
            for alt in alternatives(self.root, candidate) {
                let types = type_list(alt);
                let detail = (!types.is_empty()).then(|| types.join(" or "));
                // A `const` is one branch of a `oneOf`, whose description tells that value apart.
                let doc = alt.get("const").and(alt.get("description").or(candidate.get("description")));
                for v in enum_values(alt) {
                    add(scalar_text(v), v.is_string(), detail.clone(), doc.and_then(Value::as_str).map(str::to_owned));
                }
                if types.contains(&"boolean") {
                    for b in ["true", "false"] {
                        add(b.to_owned(), false, Some("boolean".to_owned()), None);
                    }
                }
            }
        }
        for v in extra {
            add(v, true, None, None);
        }
        out.sort_by(|a, b| alphabetical(&a.label, &b.label));
        out
    }
}

fn starts_with(label: &str, prefix: &str) -> bool {
    label.to_lowercase().starts_with(&prefix.to_lowercase())
}

fn alphabetical(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| a.cmp(b))
}

/// `text` as a plain scalar when floe's loader reads it back as that string, else
/// double-quoted (`off` is a boolean, `1.0` a number, `a: b` a mapping).
fn plain_or_quoted(text: &str) -> String {
    let plain =
        matches!(crate::yaml::parse("", text.as_bytes()), Ok(node) if node.kind == NodeKind::Str(text.to_owned()));
    // A JSON string is a valid double-quoted YAML scalar.
    if plain { text.to_owned() } else { Value::String(text.to_owned()).to_string() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::artifacts::OpenDataContractStandard;
    use crate::{Document, FloeSpec, Manifest};

    fn key(k: &str) -> PathSeg {
        PathSeg::Key(k.to_owned())
    }

    /// Splits `text` at its `^`, the cursor.
    fn at(text: &str) -> (String, usize, usize) {
        let offset = text.find('^').expect("the text marks the cursor with ^");
        let line = text[..offset].matches('\n').count();
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
        (text.replacen('^', "", 1), line, column)
    }

    fn cursor_at(text: &str) -> Cursor {
        let (text, line, column) = at(text);
        cursor(&text, line, column)
    }

    fn complete_at(schema: &Value, text: &str) -> Vec<Completion> {
        let (text, line, column) = at(text);
        complete(schema, &text, line, column, &|_| Vec::new())
    }

    fn labels(completions: &[Completion]) -> Vec<&str> {
        completions.iter().map(|c| c.label.as_str()).collect()
    }

    #[test]
    fn root_keys_of_floe_yaml_leave_out_those_present() {
        let text = "apiVersion: floe.dev/v1\nkind: FloeSpec\n^\nmetadata:\n  name: orders\n";
        let completions = complete_at(FloeSpec::schema(), text);
        assert_eq!(
            labels(&completions),
            [
                "transforms",
                "destinations",
                "governance",
                "ingestion",
                "inputPorts",
                "outputPorts",
                "platform",
                "schedule"
            ]
        );
        let input_ports = completions.iter().find(|c| c.label == "inputPorts").expect("inputPorts is offered");
        assert_eq!(input_ports.kind, CompletionKind::Key);
        assert_eq!(input_ports.insert_text, "inputPorts: ");
        assert_eq!(input_ports.detail.as_deref(), Some("array"));
        assert!(input_ports.documentation.as_deref().is_some_and(|d| d.starts_with("Other products' output ports")));
    }

    #[test]
    fn keys_of_a_nested_mapping_follow_the_typed_prefix() {
        let text = "plugins:\n  compute:\n    type: duckdb\n  or^\n  storage:\n    type: s3\n";
        assert_eq!(
            cursor_at(text),
            Cursor { path: vec![key("plugins")], at: At::Key { prefix: "or".to_owned(), start: 2 } }
        );
        assert_eq!(labels(&complete_at(Manifest::schema(), text)), ["orchestrator"]);

        // Every category but those written, above and below the cursor.
        let text = "plugins:\n  compute:\n    type: duckdb\n  ^\n  storage:\n    type: s3\n";
        let categories = labels(&complete_at(Manifest::schema(), text)).join(" ");
        assert_eq!(
            categories,
            "alert_channel catalog dbt identity ingestion lineage_backend network_security orchestrator \
             quality rbac secrets semantic_layer telemetry_backend"
        );

        let text = "governance:\n  policy_enforcement_level: strict\n  data_re^\n";
        let completions = complete_at(Manifest::schema(), text);
        assert_eq!(labels(&completions), ["data_retention_days"]);
        assert_eq!(completions[0].detail.as_deref(), Some("integer"));
    }

    #[test]
    fn enum_values_are_quoted_where_yaml_would_read_them_otherwise() {
        let text = "governance:\n  policy_enforcement_level: ^\n";
        let completions = complete_at(Manifest::schema(), text);
        assert_eq!(labels(&completions), ["off", "strict", "warn"]);
        // YAML 1.1, which floe reads, takes a plain `off` for false.
        let inserted: Vec<&str> = completions.iter().map(|c| c.insert_text.as_str()).collect();
        assert_eq!(inserted, ["\"off\"", "strict", "warn"]);
        assert!(completions.iter().all(|c| c.kind == CompletionKind::Value && c.detail.as_deref() == Some("string")));

        // Inside quotes, the value goes in as it is.
        let text = "governance:\n  policy_enforcement_level: \"o^\n";
        assert_eq!(
            cursor_at(text).at,
            At::Value { prefix: "o".to_owned(), start: "  policy_enforcement_level: \"".len() }
        );
        assert_eq!(complete_at(Manifest::schema(), text)[0].insert_text, "off");

        // The key's description says what the key's detail lists.
        let text = "governance:\n  policy_enf^\n";
        let completions = complete_at(Manifest::schema(), text);
        assert_eq!(completions[0].detail.as_deref(), Some("one of: off, warn, strict"));
    }

    #[test]
    fn const_values_of_one_of_branches_carry_their_descriptions() {
        let text = "governance:\n  custom_rules:\n    - type: require_t^\n";
        let completions = complete_at(Manifest::schema(), text);
        assert_eq!(labels(&completions), ["require_tags_for_prefix", "require_tests_of_type"]);
        assert_eq!(completions[0].documentation.as_deref(), Some("Selects the rule `require_tags_for_prefix`."));
    }

    #[test]
    fn values_come_from_the_caller_too() {
        let text = "plugins:\n  compute:\n    type: du^\n";
        let (text, line, column) = at(text);
        let asked = std::cell::RefCell::new(Vec::new());
        let plugins = |path: &[PathSeg]| {
            asked.borrow_mut().push(path.to_vec());
            vec!["duckdb".to_owned(), "databricks".to_owned(), "spark".to_owned()]
        };
        let completions = complete(Manifest::schema(), &text, line, column, &plugins);
        assert_eq!(labels(&completions), ["duckdb"]);
        assert_eq!(completions[0].insert_text, "duckdb");
        assert_eq!(asked.into_inner(), [vec![key("plugins"), key("compute"), key("type")]]);
    }

    #[test]
    fn booleans_complete_to_true_and_false() {
        let text = "governance:\n  custom_rules:\n    - type: require_meta_field\n      required: ^\n";
        assert_eq!(labels(&complete_at(Manifest::schema(), text)), ["false", "true"]);
    }

    #[test]
    fn sequence_entries_are_indexed() {
        let text = "transforms:\n  - name: a\n  - name: b\n    tags:\n      - x\n      - pi^\n";
        assert_eq!(
            cursor_at(text),
            Cursor {
                path: vec![key("transforms"), PathSeg::Index(1), key("tags"), PathSeg::Index(1)],
                at: At::Value { prefix: "pi".to_owned(), start: 8 },
            }
        );

        let text = "inputPorts:\n  - name: a\n    fr^\n";
        assert_eq!(
            cursor_at(text),
            Cursor {
                path: vec![key("inputPorts"), PathSeg::Index(0)],
                at: At::Key { prefix: "fr".to_owned(), start: 4 }
            }
        );
        assert_eq!(labels(&complete_at(FloeSpec::schema(), text)), ["from"]);

        // An unindented sequence, and a key on an entry's first line.
        let text = "inputPorts:\n- name: a\n- name: b\n  from: ^\n";
        assert_eq!(cursor_at(text).path, [key("inputPorts"), PathSeg::Index(1), key("from")]);
        let text = "inputPorts:\n- name: a\n- from: x\n  name: ^\n";
        assert_eq!(cursor_at(text).path, [key("inputPorts"), PathSeg::Index(1), key("name")]);

        // Nested sequences on one line.
        let text = "a:\n  - - x\n    - y^\n";
        assert_eq!(cursor_at(text).path, [key("a"), PathSeg::Index(0), PathSeg::Index(1)]);
    }

    #[test]
    fn a_bare_entry_of_mappings_completes_keys() {
        let text = "inputPorts:\n  - name: a\n    from: x\n  - ^\n    name: b\n";
        assert_eq!(
            cursor_at(text),
            Cursor {
                path: vec![key("inputPorts"), PathSeg::Index(1)],
                at: At::Value { prefix: String::new(), start: 4 }
            }
        );
        // `name` is written below the cursor, in the same entry.
        assert_eq!(labels(&complete_at(FloeSpec::schema(), text)), ["from", "description", "expects", "sla"]);
    }

    #[test]
    fn the_cursor_reads_broken_documents() {
        // An empty line stands where its cursor is.
        let text = "metadata:\n  name: x\n\n  ^\nkind: [unclosed\n";
        assert_eq!(
            cursor_at(text),
            Cursor { path: vec![key("metadata")], at: At::Key { prefix: String::new(), start: 2 } }
        );
        let text = "metadata:\n  name: x\n^";
        assert_eq!(cursor_at(text).path, []);

        // Comments, quoted keys and a previous document do not count.
        let text = "x: 1\n---\n\"metadata\":  # the product\n  # name: x\n  'version': 1\n  ^";
        assert_eq!(cursor_at(text).path, [key("metadata")]);
        let completions = complete_at(FloeSpec::schema(), text);
        assert_eq!(labels(&completions), ["name", "description", "labels", "owner"]);

        // A block scalar's lines are its value, not keys.
        let text = "metadata:\n  description: |\n    name: not a key\n    some te^\n";
        assert_eq!(
            cursor_at(text),
            Cursor {
                path: vec![key("metadata"), key("description")],
                at: At::Value { prefix: "some te".to_owned(), start: 4 }
            }
        );
        let text = "metadata:\n  description: >\n    name: not a key\n  ^\n";
        assert_eq!(labels(&complete_at(FloeSpec::schema(), text)), ["name", "version", "labels", "owner"]);

        // Right after the colon, a value is inserted with its space.
        let text = "kind:^";
        assert_eq!(labels(&complete_at(FloeSpec::schema(), text)), ["DataProduct", "FloeSpec"]);
        assert_eq!(complete_at(FloeSpec::schema(), text)[0].insert_text, " DataProduct");
    }

    #[test]
    fn describe_follows_maps_and_sequences() {
        let schema = Manifest::schema();
        let d = describe(schema, &[key("plugins"), key("compute"), key("type")]).expect("a known path");
        assert!(d.description.is_some_and(|d| d.starts_with("Plugin name")));
        assert_eq!(d.type_name.as_deref(), Some("string"));

        let d = describe(schema, &[key("governance"), key("policies"), PathSeg::Index(3), key("action")])
            .expect("a known path");
        assert_eq!(d.values, ["warn", "error", "block"]);

        // Through `additionalProperties`.
        let d = describe(schema, &[key("approved_plugins"), key("compute")]).expect("a known path");
        assert_eq!(d.type_name.as_deref(), Some("array"));

        let d = describe(schema, &[key("governance"), key("policy_enforcement_level")]).expect("a known path");
        assert_eq!((d.values.len(), d.default), (3, None));
        let d = describe(schema, &[key("governance"), key("custom_rules")]).expect("a known path");
        assert_eq!(d.default.as_deref(), Some("[]"));

        assert_eq!(describe(schema, &[key("nope")]), None);
        assert_eq!(describe(schema, &[key("plugins"), key("compute"), key("config"), key("anything")]), None);
        assert_eq!(describe(schema, &[key("plugins"), PathSeg::Index(0)]), None);
    }

    proptest! {
        #[test]
        fn any_text_and_position_is_read_without_panic(
            text in "[ a-z:\\-\"'#|>\\[\\]{}\n\t\r\\\\é]{0,160}",
            line in 0usize..12,
            column in 0usize..40,
        ) {
            let _ = cursor(&text, line, column);
            let _ = complete(Manifest::schema(), &text, line, column, &|_| vec!["on".to_owned()]);
            let _ = complete(FloeSpec::schema(), &text, line, column, &|_| Vec::new());
            let _ = complete(OpenDataContractStandard::schema(), &text, line, column, &|_| Vec::new());
        }
    }
}
