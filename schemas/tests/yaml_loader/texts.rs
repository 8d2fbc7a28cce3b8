//! YAML-ish texts for the differential test: lines of keys, values, list items,
//! merges and markers, built from fragments that spell every kind of scalar,
//! tag, anchor and alias, at random indentation, with CRLF, tabs, a BOM and
//! multibyte text now and then. Most are valid YAML, many are not; both
//! loaders must agree on either.

use proptest::prelude::*;

const KEYS: &[&str] = &[
    "a",
    "b",
    "key",
    "name",
    "<<",
    "\"a\"",
    "'a'",
    "\"<<\"",
    "!!merge <<",
    "1",
    "0x1",
    "+1",
    "01",
    "1_0",
    "10",
    "-0",
    "0",
    "~",
    "null",
    "\"\"",
    "yes",
    "true",
    "1.5",
    "é",
    "ключ",
    "日本",
    "&k a",
    "&k b",
    "*k",
    "*a",
    "!!str a",
    "!!str ~",
    "!!int 1",
    "!!int x",
    "!!null a",
    "!!binary aGk=",
    "!!binary !!",
    "!x a",
    "!x b",
    "! a",
    "!map a",
    "!!timestamp 1",
    "!include a",
    "[a]",
    "[a, b]",
    "{a: 1}",
    "{}",
    "[]",
    "a b",
    "a\tb",
    "\" a \"",
    "'a, set b'",
    "\"\\n\"",
    "'<<'",
    "&a <<",
    "*m",
];

const SCALARS: &[&str] = &[
    "x",
    "text",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "OFF",
    "True",
    "FALSE",
    "tRuE",
    "0x1F",
    "0X1f",
    "0o17",
    "0b101",
    "0x",
    "012",
    "+012",
    "-012",
    "00",
    "-0",
    "0",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "+5",
    "-5",
    ".inf",
    "-.inf",
    "+.INF",
    ".nan",
    ".NaN",
    "-.nan",
    "inf",
    "nan",
    "1e3",
    "1E3",
    "1e999",
    "-1e999",
    "1.10",
    "1.",
    ".5",
    "-1.5e-3",
    "1_0.5",
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "",
    "'quoted'",
    "'yes'",
    "'1'",
    "\"1\"",
    "\"dq\\n\"",
    "\"\\t\"",
    "\"esc \\u00e9\"",
    "\"\\x01\"",
    "''",
    "\"\"",
    "'~'",
    "!!str 1",
    "!!str",
    "!!str ~",
    "! 5",
    "!!int 0x10",
    "!!int -0x10",
    "!!int x",
    "!!int",
    "!!int 18446744073709551615",
    "!!int -9223372036854775809",
    "!!int \"7\"",
    "!!float 1",
    "!!float x",
    "!!float .inf",
    "!!float 1e999",
    "!!bool yes",
    "!!bool x",
    "!!bool \"off\"",
    "!!null a",
    "!!null",
    "!!binary aGVsbG8=",
    "!!binary aGVsbG9=",
    "!!binary /w==",
    "!!binary \"aGk=\"",
    "!!timestamp 2001-01-01",
    "!foo bar",
    "!foo 5",
    "!foo ~",
    "!include x",
    "!include 5",
    "!time 5",
    "!degrees 1",
    "!!merge <<",
    "!!value =",
    "!<tag:yaml.org,2002:int> 3",
    "!<tag:x> y",
    "!e!x y",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "0xFFFFFFFFFFFFFFFF",
    "0x1FFFFFFFFFFFFFFFFF",
    "ü",
    "日本語",
    "a\tb",
    "a #c",
    "a#b",
    "@x",
    "`x",
    "%x",
    "a: b",
    "- x",
    "[",
    "{",
    "]",
    "}",
    ",",
    "\"unterminated",
    "'un",
    "&a 1",
    "&a x",
    "&b [1, 2]",
    "&m {x: 1, y: 2}",
    "&m {<<: *a}",
    "&k key",
    "*a",
    "*b",
    "*m",
    "*k",
    "*zz",
    "&a",
    "*",
    "&a *b",
    "[]",
    "{}",
    "[a, b, {c: d}]",
    "[*a, *a]",
    "{a: 1, a: 2}",
    "{a: 1, b: 2}",
    "{<<: *m, x: 3}",
    "{<<: [*m, {z: 1}]}",
    "[a, [b, [c]]]",
    "{? a}",
    "{a}",
    "[a: 1]",
    "|\n  lit\n",
    "|-\n  lit\n  more\n",
    ">\n  folded\n  text\n",
    ">+\n  x\n\n",
    "|2\n   x\n",
    "'multi\n  line'",
    "\"multi\n  line\"",
    "plain\n  continued",
    "- a\n- b",
    "\n  k: v",
    "\n  - 1\n  - 2",
    "\u{feff}x",
    "x\u{85}y",
    "\u{2028}",
    "ǅ",
];

const LINES: &[&str] =
    &["---", "--- x", "...", "# comment", "", " ", "\t", "%YAML 1.2", "%TAG !e! tag:e.com,2000:", "?", ":", "-"];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(list).prop_map(str::to_owned)
}

/// A value: a fragment, a flow collection of fragments, or one with an anchor.
fn value() -> impl Strategy<Value = String> {
    let flow = prop::collection::vec(pick(SCALARS), 0..4).prop_map(|items| format!("[{}]", items.join(", ")));
    let flow_map = prop::collection::vec((pick(KEYS), pick(SCALARS)), 0..4).prop_map(|entries| {
        let entries: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{{}}}", entries.join(", "))
    });
    let anchored =
        (prop::sample::select(&["&a ", "&b ", "&m ", "&k "][..]), pick(SCALARS)).prop_map(|(a, v)| format!("{a}{v}"));
    prop_oneof![6 => pick(SCALARS), 1 => flow, 1 => flow_map, 1 => anchored]
}

fn line() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        4 => (pick(KEYS), value()).prop_map(|(k, v)| format!("{k}: {v}")),
        1 => pick(KEYS).prop_map(|k| format!("{k}:")),
        2 => value().prop_map(|v| format!("- {v}")),
        2 => (pick(KEYS), value()).prop_map(|(k, v)| format!("- {k}: {v}")),
        1 => prop::sample::select(&["*a", "*m", "*b", "[*a, *m]", "[*m, {q: 1}]", "~", "{}", "3"][..])
            .prop_map(|v| format!("<<: {v}")),
        1 => pick(KEYS).prop_map(|k| format!("? {k}")),
        1 => value().prop_map(|v| format!(": {v}")),
        1 => pick(LINES),
        1 => value(),
        1 => (pick(KEYS), value(), pick(SCALARS)).prop_map(|(k, v, c)| format!("{k}: {v} # {c}")),
    ];
    let indent = prop_oneof![6 => (0..4usize).prop_map(|n| "  ".repeat(n)), 1 => Just("\t".to_owned()), 1 => Just(" ".to_owned())];
    (indent, body).prop_map(|(indent, body)| format!("{indent}{body}"))
}

pub fn document() -> impl Strategy<Value = String> {
    prop_oneof![1 => lines(), 2 => tree()]
}

/// Random lines: mostly broken documents.
fn lines() -> impl Strategy<Value = String> {
    (any::<bool>(), any::<u8>(), prop::collection::vec(line(), 0..14)).prop_map(|(crlf, extra, lines)| {
        let mut text = String::new();
        if extra % 16 == 0 {
            text.push('\u{feff}');
        }
        text.push_str(&lines.join(if crlf { "\r\n" } else { "\n" }));
        if extra % 3 == 0 {
            text.push('\n');
        }
        text
    })
}

/// A block-structured document, so that most texts are valid YAML and reach
/// keys, merges and aliases; anchors are defined first.
#[derive(Clone, Debug)]
enum Shape {
    Leaf(String),
    Map(Vec<(String, Shape)>),
    Seq(Vec<Shape>),
}

const ANCHORS: &str = "defs:\n  - &a 1\n  - &m {x: 1, y: 2}\n  - &b [1, 2]\n  - &k key\n  - &n {<<: *m, z: 3}\n";

/// Keys and values that keep a document valid, so most trees load.
const SAFE_KEYS: &[&str] = &["<<", "<<", "a", "b", "1", "0x2", "\"c\"", "yes", "é", "*k", "&k2 d", "!x a", "!!str e"];
const SAFE_SCALARS: &[&str] = &[
    "x",
    "yes",
    "off",
    "0x1F",
    "0o17",
    "012",
    "1_000",
    "1e3",
    "1.10",
    "-7",
    "~",
    "",
    "'q'",
    "\"1\"",
    "*a",
    "*m",
    "*b",
    "*n",
    "&c 5",
    "*k",
    "[*a, *m]",
    "[*m, {q: 1}]",
    "{<<: *m, x: 3}",
    "{x: 9}",
    "[]",
    "{}",
    "!!str 5",
];

fn safe_key() -> impl Strategy<Value = Option<String>> {
    prop_oneof![6 => Just(None), 3 => pick(SAFE_KEYS).prop_map(Some), 1 => pick(KEYS).prop_map(Some)]
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![6 => pick(SAFE_SCALARS), 1 => value()].prop_map(Shape::Leaf);
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec((safe_key(), inner.clone()), 1..5).prop_map(|entries| {
                // Keys not picked are numbered, so that most mappings have no duplicate.
                let entries = entries.into_iter().enumerate();
                Shape::Map(entries.map(|(i, (key, value))| (key.unwrap_or_else(|| format!("k{i}")), value)).collect())
            }),
            prop::collection::vec(inner, 1..4).prop_map(Shape::Seq),
        ]
    })
}

fn tree() -> impl Strategy<Value = String> {
    let top = prop::collection::vec(shape(), 1..5);
    (any::<u8>(), any::<bool>(), top).prop_map(|(anchors, crlf, top)| {
        let mut text = if anchors % 8 != 0 { ANCHORS.to_owned() } else { String::new() };
        let top = top.into_iter().enumerate().map(|(i, value)| (format!("t{i}"), value)).collect();
        render(&Shape::Map(top), 0, &mut text);
        if crlf { text.replace('\n', "\r\n") } else { text }
    })
}

fn render(shape: &Shape, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match shape {
        Shape::Leaf(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Shape::Map(entries) => {
            for (i, (key, value)) in entries.iter().enumerate() {
                // The first entry of a list item follows its `- `.
                if i > 0 || !out.ends_with("- ") {
                    out.push_str(&pad);
                }
                out.push_str(key);
                out.push(':');
                nested(value, indent + 2, out);
            }
        }
        Shape::Seq(items) => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Shape::Leaf(text) => {
                        out.push_str(text);
                        out.push('\n');
                    }
                    Shape::Map(_) => render(item, indent + 2, out),
                    Shape::Seq(_) => {
                        out.push('\n');
                        render(item, indent + 2, out);
                    }
                }
            }
        }
    }
}

fn nested(value: &Shape, indent: usize, out: &mut String) {
    match value {
        Shape::Leaf(text) => {
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        _ => {
            out.push('\n');
            render(value, indent, out);
        }
    }
}
