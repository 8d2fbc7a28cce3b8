//! The YAML loader, built from parser events, against the serde-saphyr based
//! loader it replaced ([`reference`]): on every YAML file of the test data and
//! of the conformance suite (when it is beside the checkout), on those files cut
//! short and with lines repeated, on crafted inputs at each structural limit,
//! and on generated and mutated texts, both return the same tree (kinds,
//! values, spans) or the same diagnostic (code, message, help, span). The one
//! deliberate difference: a tab in indentation is reported at the tab, with
//! its own message and help (the same error, on the same line).
#![allow(clippy::disallowed_methods)] // reads the test data and the conformance files

mod reference;
mod texts;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use floe_schemas::yaml::{MAX_DEPTH, MAX_NODES, parse};
use proptest::prelude::*;

fn compare(name: &str, text: &[u8]) -> Result<(), String> {
    let new = parse("f.yaml", text);
    let old = reference::parse("f.yaml", text);
    if new == old {
        return Ok(());
    }
    if let (Err(n), Err(o)) = (&new, &old)
        && n.message.starts_with("a tab indents this line")
        && o.message.contains("tabs disallowed")
        && (n.code, n.span.map(|s| s.line)) == (o.code, o.span.map(|s| s.line))
    {
        return Ok(());
    }
    Err(format!("{name}: {:?}\n  before: {old:?}\n  now:    {new:?}", String::from_utf8_lossy(text)))
}

fn assert_all_alike(inputs: impl IntoIterator<Item = (String, Vec<u8>)>) -> usize {
    let mut count = 0;
    let failures: Vec<String> =
        inputs.into_iter().inspect(|_| count += 1).filter_map(|(name, text)| compare(&name, &text).err()).collect();
    assert!(failures.is_empty(), "{} of {count} inputs load differently:\n{}", failures.len(), failures.join("\n"));
    count
}

fn yaml_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            into.push(path);
        }
    }
}

/// The YAML files of the test data and, when it is there, the conformance suite.
fn corpus() -> &'static [(String, Vec<u8>)] {
    static CORPUS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    yaml_files(&root.join("../testdata"), &mut paths);
    yaml_files(&root.join("../../shared/conformance"), &mut paths);
    paths.sort();
    let read = |p: PathBuf| (p.display().to_string(), std::fs::read(&p).unwrap_or_default());
    paths.into_iter().map(read).collect()
}

#[test]
fn every_yaml_file_loads_alike() {
    let count = assert_all_alike(corpus().iter().cloned());
    assert!(count > 100, "only {count} YAML files found");
}

/// Each file cut after every line, and with every line written twice: broken
/// documents, duplicate keys, and lists one item longer.
#[test]
fn every_yaml_file_cut_short_or_with_a_line_repeated_loads_alike() {
    let mut inputs = Vec::new();
    for (name, text) in corpus() {
        let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
        for i in 0..lines.len() {
            inputs.push((format!("{name} up to line {}", i + 1), lines[..i].concat()));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            inputs.push((format!("{name} with line {} twice", i + 1), doubled.concat()));
        }
    }
    assert_all_alike(inputs);
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    open.repeat(depth) + &close.repeat(depth)
}

fn block_depth(depth: usize) -> String {
    (0..depth).map(|i| format!("{}k:\n", "  ".repeat(i))).collect()
}

/// Inputs at and past each bound the loader enforces, and the shapes aliases
/// and merges take.
fn crafted() -> Vec<(String, Vec<u8>)> {
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, text: String| texts.push((name.to_owned(), text));
    for depth in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 300] {
        add(&format!("flow list depth {depth}"), nested("[", "]", depth));
        add(&format!("flow map depth {depth}"), nested("{a: ", "}", depth));
        add(&format!("block depth {depth}"), block_depth(depth));
        add(&format!("list items depth {depth}"), (0..depth).map(|i| format!("{}- \n", "  ".repeat(i))).collect());
    }
    // An anchor 20 deep holding 12 more levels, used 15 deep: only the copy is too deep.
    let inner = nested("[", "]", 12);
    add("alias deepens", format!("{}&a {inner}{}\n", "[".repeat(20), "]".repeat(20)));
    add(
        "alias past the depth",
        format!("a: {}&a {inner}{}\nb: {}*a{}\n", "[".repeat(20), "]".repeat(20), "[".repeat(21), "]".repeat(21)),
    );
    // Alias bombs: each level doubles, or multiplies by ten.
    let mut bomb = String::from("a: &a [1,1,1,1,1,1,1,1,1,1]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().zip(["b", "c", "d", "e", "f", "g", "h", "i"]) {
        bomb.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
    }
    add("alias bomb", bomb);
    let mut doubling = String::from("l0: &l0 [x, x]\n");
    for i in 1..20 {
        doubling.push_str(&format!("l{i}: &l{i} [*l{p}, *l{p}]\n", p = i - 1));
    }
    add("doubling aliases", doubling);
    // Sizes around the node bound, with and without aliases.
    for n in [MAX_NODES - 2, MAX_NODES - 1, MAX_NODES, MAX_NODES + 1] {
        add(&format!("{n} items"), format!("[{}]", vec!["1"; n].join(",")));
    }
    add("replays at the node bound", format!("a: &a [{}]\nb: *a\n", vec!["1"; MAX_NODES / 2].join(",")));
    // Many aliases to few anchors, around the ratio the loader allows.
    for (aliases, anchors) in [(99, 0), (100, 0), (100, 10), (101, 10), (110, 11), (111, 11), (50_001, 1)] {
        let mut text: String = (0..anchors.max(1)).map(|i| format!("a{i}: &a{i} x\n")).collect();
        if anchors == 0 {
            text = "a0: x\n".to_owned();
        }
        let alias = if anchors == 0 { "[]" } else { "*a0" };
        text.push_str(&format!("l: [{}]\n", vec![alias; aliases].join(", ")));
        add(&format!("{aliases} aliases to {anchors} anchors"), text);
    }
    add("50001 anchors", (0..50_001).map(|i| format!("- &a{i} 1\n")).collect());
    add("10001 merge keys", format!("a: &a {{x: 1}}\nl:\n{}", "- <<: *a\n".repeat(10_001)));
    // Replayed text past the scalar and recorded-anchor byte bounds.
    let big = "y".repeat(700_000);
    add("replayed bytes", format!("s: &s {big}\nl: [{}]\n", vec!["*s"; 100].join(", ")));
    add("recorded bytes", format!("s: &s \"{big}\\n\"\nl: &l [{}]\n", vec!["*s"; 100].join(", ")));
    let wide: String = vec!["1"; 40_000].join(",");
    add("recorded events", format!("{}{wide}{}\n", "&x [".repeat(30), "]".repeat(30)));
    // Merges: precedence, sequences, nesting, duplicates, errors.
    for body in [
        "b: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n",
        "b: &b {x: 1}\nc: &c {x: 2, z: 3}\nd: {<<: [*b, *c], w: 4}\n",
        "d: {<<: {a: 1, a: 2}}\n",
        "d: {<<: [{a: 1}, {a: 2}]}\n",
        "d: {<<: {<<: {a: 1}, a: 2, b: 3}}\n",
        "d: {<<: [[{a: 1}], ~, {b: 2}]}\n",
        "d: {<<: 1}\n",
        "d: {<<: [1]}\n",
        "d: {<<: {x: !!int y}, x: 1}\n",
        "d: {<<: {x: !!int y}, z: 1}\n",
        "d: {<<: {~: 1}, z: 1}\n",
        "d: {<<: {[a]: 1, [a]: 2}}\n",
        "d: {<<: {[a]: 1}}\n",
        "d:\n  <<:\n    a: 1\n  b: 2\n",
        "a: &a {x: 1}\nd: {!!merge <<: *a}\n",
        "a: &a {x: 1}\nd: {\"<<\": *a}\n",
        "a: &a <<\nb: &b {x: 1}\nd: {*a : *b}\n",
        "a: &a {<<: {x: 1}}\nd: *a\n",
        "x: &x {a: 1}\nd: {<<: *x, <<: {b: 2}, a: 3}\n",
        "&r {<<: {a: *r}}\n",
        "&r {<<: *r}\n",
        "&r [*r]\n",
        "&r {k: *r}\n",
        "&r {[*r]: 1}\n",
        "&r {*r : 1}\n",
        "a: &a [1, {b: *a}]\n",
    ] {
        add(body, body.to_owned());
    }
    // Mappings past the length where duplicates are looked up in a set, with
    // mappings inside them.
    let keys = |n: usize| (0..n).map(|i| format!("k{i}: {{a: {i}, b: [{i}]}}")).collect::<Vec<_>>().join(", ");
    add("40 keys", format!("{{{}}}", keys(40)));
    add("40 keys, one twice", format!("{{{}, k7: again}}", keys(40)));
    add("40 keys merged", format!("b: &b {{{}}}\nc: {{<<: *b, k3: x, k39: y}}\n", keys(40)));
    add("40 keys merged twice", format!("b: &b {{{}}}\nc: {{k3: x, <<: [*b, *b]}}\n", keys(40)));
    // Keys that are not strings, and keys that are the same.
    for body in [
        "1: a\n0x1: b\n",
        "1: a\n\"1\": b\n",
        "a: 1\n'a': 2\n",
        "a: 1\n!x a: 2\n",
        "!x a: 1\n!x a: 2\n",
        "!!str a: 1\na: 2\n",
        "1: a\n!!int 1: b\n",
        "!!int 1: a\n!!int 1: b\n",
        "? [a]\n: 1\n",
        "? {a: 1}\n: 1\n",
        "~: 1\n",
        ": 1\n",
        "!!str ~: 1\n",
        "!!binary aGk=: 1\n",
        "!!binary aGk=: 1\n!!binary aGk=: 2\n",
        "&k a: 1\n*k : 2\n",
        "k: &v [1]\n*v : 2\n",
        "\"a, set b\": 1\n\"a, set b\": 2\n",
        "\" a \": 1\n\" a \": 2\n",
        "\"\\t\": 1\n\"\\t\": 2\n",
    ] {
        add(body, body.to_owned());
    }
    // Documents, markers and stray bytes.
    for body in [
        "",
        "---",
        "--- \n...",
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n",
        "a: 1\n...\n---\n",
        "# c\n",
        "~",
        "null",
        "\u{feff}a: 1",
    ] {
        add(body, body.to_owned());
    }
    texts.into_iter().map(|(name, text)| (name, text.into_bytes())).collect()
}

#[test]
fn crafted_inputs_load_alike() {
    assert_all_alike(crafted());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_texts_load_alike(text in texts::document()) {
        if let Err(difference) = compare("generated", text.as_bytes()) {
            return Err(TestCaseError::fail(difference));
        }
    }
}

/// An edit of a corpus file: at a character boundary, cut some bytes or put in
/// a fragment that matters to YAML.
fn mutated() -> impl Strategy<Value = (String, Vec<u8>)> {
    const FRAGMENTS: &[&str] = &[
        ":", ": ", "- ", "? ", "#", "\"", "'", "[", "]", "{", "}", ",", "&a ", "*a", "<<: ", "!!int ", "!x ", "|", ">",
        "---\n", "...\n", "\t", "\n", "\r\n", "  ", "\n  ", "%", "@", "`", "é", "\u{feff}", "~", "0x", "\\",
    ];
    let edit = (any::<prop::sample::Index>(), 0..4usize, prop::sample::select(FRAGMENTS));
    (any::<prop::sample::Index>(), prop::collection::vec(edit, 1..4)).prop_map(|(file, edits)| {
        let (name, text) = &corpus()[file.index(corpus().len())];
        let mut text = String::from_utf8_lossy(text).into_owned();
        for (at, cut, fragment) in edits {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(at..end, if cut == 0 { fragment } else { "" });
        }
        (format!("{name} edited"), text.into_bytes())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn edited_yaml_files_load_alike((name, text) in mutated()) {
        if let Err(difference) = compare(&name, &text) {
            return Err(TestCaseError::fail(difference));
        }
    }
}
