//! `ref()` and `source()` calls in a model's SQL, found without evaluating Jinja.

use floe_schemas::diag::Span;

/// A `ref()` or `source()` call found in SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dependency {
    /// `ref('model')` or `ref('package', 'model')`; `var` names the var of
    /// `dbt_project.yml` the model's name came from, if it did.
    Ref { package: Option<String>, model: String, var: Option<String>, span: Span },
    /// `ref(var('name'))` or `ref(var('name', 'default'))`: a model named by
    /// a var, until [`crate::dbt::Project::add_sql`] resolves it to a `Ref`.
    Var { name: String, default: Option<String>, span: Span },
    /// `source('source', 'table')`.
    Source { source: String, table: String, span: Span },
    /// A call whose arguments are not string literals (`ref(model_name)`).
    Dynamic { call: &'static str, span: Span },
}

impl Dependency {
    /// Where the call is: at the name it names, or at the call for a dynamic one.
    pub fn span(&self) -> Span {
        match self {
            Dependency::Ref { span, .. }
            | Dependency::Var { span, .. }
            | Dependency::Source { span, .. }
            | Dependency::Dynamic { span, .. } => *span,
        }
    }

    fn span_mut(&mut self) -> &mut Span {
        match self {
            Dependency::Ref { span, .. }
            | Dependency::Var { span, .. }
            | Dependency::Source { span, .. }
            | Dependency::Dynamic { span, .. } => span,
        }
    }
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
            let args = &block[open_at + 1..];
            let dep = match (is_ref, parse_args(args).map(|(a, _)| a).as_deref()) {
                (true, Some([model])) => Dependency::Ref {
                    package: None,
                    model: model.text.clone(),
                    var: None,
                    span: at(model.start, model.end),
                },
                (true, Some([package, model])) => Dependency::Ref {
                    package: Some(package.text.clone()),
                    model: model.text.clone(),
                    var: None,
                    span: at(model.start, model.end),
                },
                (false, Some([source, table])) => Dependency::Source {
                    source: source.text.clone(),
                    table: table.text.clone(),
                    span: at(source.start, table.end),
                },
                (true, None) => match parse_var(args) {
                    Some((var, default)) => Dependency::Var {
                        name: var.text,
                        default: default.map(|d| d.text),
                        span: at(var.start, var.end),
                    },
                    None => Dependency::Dynamic { call: name, span: call_span },
                },
                _ => Dependency::Dynamic { call: name, span: call_span },
            };
            into.push(dep);
        }
    }
    // `ref` and `source` calls were found in two passes; restore their order.
    into[first..].sort_by_key(|d| d.span().offset);
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

/// Literal positional arguments up to the closing `)`, and where that `)` is;
/// `None` when one is not a string literal. Keyword arguments (`version=2`)
/// are skipped.
fn parse_args(s: &str) -> Option<(Vec<Arg>, usize)> {
    let mut cut = s.len().min(MAX_ARGS_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut rest = s[..cut].trim_start();
    let mut args = Vec::new();
    loop {
        if rest.starts_with(')') {
            return Some((args, cut - rest.len()));
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

/// The arguments of `var('name')` or `var('name', 'default')` when it is the
/// only argument of the call whose arguments `s` starts at, with offsets from
/// the same place as [`parse_args`]'.
fn parse_var(s: &str) -> Option<(Arg, Option<Arg>)> {
    let call = s.trim_start().strip_prefix("var")?.trim_start().strip_prefix('(')?;
    let inner_at = s.len() - call.len();
    let (args, close) = parse_args(call)?;
    // Nothing but the outer call's `)` may follow.
    call[close + 1..].trim_start().starts_with(')').then_some(())?;
    let shift = |a: Arg| Arg { start: a.start + inner_at, end: a.end + inner_at, ..a };
    let mut args = args.into_iter().map(shift);
    match (args.next(), args.next(), args.next()) {
        (Some(name), default, None) => Some((name, default)),
        _ => None,
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
        let span = d.span_mut();
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
                Dependency::Var { name, default: None, .. } => format!("var {name}"),
                Dependency::Var { name, default: Some(d), .. } => format!("var {name} or {d}"),
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
                "var model"
            ]
        );
        // Located at the model it names: that is what a caret should underline.
        let Dependency::Ref { span, .. } = &scan_sql("select 1\n  from {{ ref('a') }}")[0] else { panic!() };
        assert_eq!((span.line, span.column, span.len), (2, 16, 1));
    }

    #[test]
    fn a_model_named_by_a_var_is_read_as_one() {
        let sql = "{{ ref(var('orders')) }} {{ ref( var ( \"items\" , 'stg_items' ) ) }}\n\
                   {{ ref(var('a', 'b', 'c')) }} {{ ref(var('x') ~ '_v2') }} {{ ref(var(name)) }} {{ ref(var('p'), v=1) }}";
        assert_eq!(
            refs(sql),
            ["var orders", "var items or stg_items", "dynamic ref", "dynamic ref", "dynamic ref", "dynamic ref"]
        );
        // At the var's name, where the fix goes.
        let spans: Vec<(u32, u32, u32)> =
            scan_sql(sql).iter().take(2).map(|d| (d.span().line, d.span().column, d.span().len)).collect();
        assert_eq!(spans, [(1, 13, 6), (1, 41, 5)]);
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
        let spans: Vec<(u32, u32)> = scan_sql(sql).iter().map(|d| (d.span().line, d.span().column)).collect();
        assert_eq!(spans, [(2, 27), (2, 72), (3, 15), (3, 34), (3, 68), (3, 78)]);
        for cut in ["{", "{{", "{%", "{#", "{{ ref(", "{{ ref('", "{{ ref('ä"] {
            assert_eq!(refs(&format!("ü{cut}")), if cut.contains("ref") { vec!["dynamic ref"] } else { vec![] });
        }
    }
}
