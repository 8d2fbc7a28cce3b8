//! Deterministic text encodings of output values.
//!
//! Outputs must be byte-identical for identical inputs, so floe writes them with
//! its own small emitters instead of a general serializer whose formatting could
//! change between versions: JSON pretty-printed with two spaces and a final
//! newline, YAML in block style with every string double-quoted (which YAML reads
//! exactly as JSON does, so no value can be misread as a number or boolean).

/// Pretty JSON with a trailing newline.
pub fn json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("output values serialize");
    out.push(b'\n');
    out
}

mod yaml;

/// Block-style YAML of a value, with a trailing newline: what
/// [`yaml_to`] appends.
pub fn yaml(value: &(impl serde::Serialize + ?Sized)) -> String {
    let mut out = String::new();
    yaml_to(&mut out, value);
    out
}

/// Appends `value` to `out` as block-style YAML with a trailing newline,
/// maps' keys sorted: the same text for a typed value as for its
/// `serde_json::Value`.
pub fn yaml_to(out: &mut String, value: &(impl serde::Serialize + ?Sized)) {
    yaml::write(out, value).expect("output values serialize");
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_key(out: &mut String, k: &str) {
    let plain = !k.is_empty()
        && k.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        && !k.starts_with(['-', '.'])
        && !matches!(k, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~")
        && !reads_as_number(k);
    match plain {
        true => out.push_str(k),
        false => write_string(out, k),
    }
}

/// Whether a plain key would read as a number (`1`, `1.5`, `1e3`, `inf`,
/// `NaN`): only those need the parse.
fn reads_as_number(k: &str) -> bool {
    let starts_like_one = k.starts_with(|c: char| c.is_ascii_digit())
        || ["inf", "infinity", "nan"].iter().any(|w| k.eq_ignore_ascii_case(w));
    starts_like_one && k.parse::<f64>().is_ok()
}

/// For each byte, what follows the backslash of its escape (`u`: a
/// `\u00XX` escape), or 0 when it is written as it is.
static ESCAPE: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table
};

/// A string in JSON syntax, escaped exactly as serde_json escapes it: runs
/// of characters that need no escape are copied whole. Hot: the artifacts a
/// product's objects carry go through here, a byte table and room reserved
/// up front keep it at a copy's pace.
fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + s.len() / 4 + 2);
    out.push('"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.push_str(&s[start..i]);
        out.push('\\');
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(escape));
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let all: String = (0u8..0x80).map(char::from).chain("é€\u{1F600}\u{2028}".chars()).collect();
        for s in [all.as_str(), "", "plain", "\"\\\n\u{7f}", "{\"a\": \"b\\n\"}\n"] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(out, Value::from(s).to_string(), "{s:?}");
        }
        for k in ["1", "1.5", "1e3", "inf", "NaN", "Infinity", "x1", "a.b", "10x"] {
            let mut out = String::new();
            write_key(&mut out, k);
            let number = k.parse::<f64>().is_ok();
            assert_eq!(out.starts_with('"'), number, "{k}");
        }
    }

    #[test]
    fn yaml_is_block_style_and_quoted() {
        let v: Value = serde_json::from_str(
            r#"{"p": {"target": "dev", "outputs": {"dev": {"threads": 4, "path": "/tmp/x.duckdb", "on": true}}}, "list": [{"a": 1, "b": "2"}, "x", []], "empty": {}}"#,
        )
        .unwrap();
        assert_eq!(
            yaml(&v),
            "empty: {}\nlist:\n  - a: 1\n    b: \"2\"\n  - \"x\"\n  - []\np:\n  outputs:\n    dev:\n      \"on\": true\n      path: \"/tmp/x.duckdb\"\n      threads: 4\n  target: \"dev\"\n"
        );
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        zeta: Vec<Vec<u8>>,
        alpha: Option<String>,
        empty_list: Vec<Typed>,
        items: Vec<Typed>,
        #[serde(skip_serializing_if = "Option::is_none")]
        inner: Option<Box<Typed>>,
        map: std::collections::BTreeMap<u32, Shape>,
        flag: bool,
        ratio: f64,
    }

    #[derive(Serialize)]
    enum Shape {
        Dot,
        Line(u8),
        Pair(i8, i8),
        Box { w: u16, a: &'static str },
    }

    fn typed(depth: u8) -> Typed {
        Typed {
            zeta: vec![vec![1, 2], vec![], vec![3]],
            alpha: depth.is_multiple_of(2).then(|| "a \"quoted\"\nline".to_owned()),
            empty_list: Vec::new(),
            items: match depth {
                0 => Vec::new(),
                _ => vec![typed(depth - 1), typed(depth - 1)],
            },
            inner: (depth > 0).then(|| Box::new(typed(depth - 1))),
            map: [(10, Shape::Dot), (2, Shape::Line(7)), (3, Shape::Pair(-1, 1)), (1, Shape::Box { w: 2, a: "x" })]
                .into_iter()
                .collect(),
            flag: depth == 1,
            ratio: f64::from(depth) / 4.0,
        }
    }

    #[test]
    fn a_typed_value_is_written_as_its_json_value_is() {
        // Fields out of order, sequences in sequences, empty maps and
        // sequences in every position, variants and numeric keys.
        for value in [typed(0), typed(1), typed(3)] {
            let as_value = serde_json::to_value(&value).unwrap();
            assert_eq!(yaml(&value), yaml(&as_value));
        }
        for (value, text) in
            [(json!([]), "[]\n"), (json!({}), "{}\n"), (json!("x"), "\"x\"\n"), (json!(null), "null\n")]
        {
            assert_eq!(yaml(&value), text);
        }
        assert_eq!(yaml(&json!([[1, []], {"b": {}, "a": [{}]}])), "-\n  - 1\n  - []\n- a:\n    - {}\n  b: {}\n");
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                for (k, v) in [("b", 1), ("a", 2), ("b", 3)] {
                    map.serialize_entry(k, &v)?;
                }
                map.end()
            }
        }
        assert_eq!(yaml(&Twice), yaml(&serde_json::to_value(Twice).unwrap()));
        assert_eq!(yaml(&[Twice]), "- a: 2\n  b: 3\n");
    }
}
