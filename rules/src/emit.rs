//! Deterministic text encodings of output values.
//!
//! Outputs must be byte-identical for identical inputs, so floe writes them with
//! its own small emitters instead of a general serializer whose formatting could
//! change between versions: JSON pretty-printed with two spaces and a final
//! newline, YAML in block style with every string double-quoted (which YAML reads
//! exactly as JSON does, so no value can be misread as a number or boolean).

use serde_json::Value;

/// Pretty JSON with a trailing newline.
pub fn json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("output values serialize");
    out.push(b'\n');
    out
}

/// Block-style YAML for a JSON value, with a trailing newline.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        scalar => {
            write_scalar(&mut out, scalar);
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in map {
        pad(out, indent);
        write_key(out, k);
        out.push(':');
        write_child(out, v, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for v in items {
        pad(out, indent);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first entry shares the dash's line, the rest align with it.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        pad(out, indent + 2);
                    }
                    write_key(out, k);
                    out.push(':');
                    write_child(out, val, indent + 2);
                }
            }
            other => write_child(out, other, indent),
        }
    }
}

fn write_child(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent + 2);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar);
            out.push('\n');
        }
    }
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

fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        // JSON string syntax is valid YAML double-quoted syntax.
        Value::String(s) => write_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// A string in JSON syntax, escaped exactly as serde_json escapes it: runs
/// of characters that need no escape are copied whole.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            "" => out.push_str(&format!("\\u{b:04x}")),
            e => out.push_str(e),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
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
}
