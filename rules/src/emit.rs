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
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_text(k));
        out.push(':');
        write_child(out, v, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for v in items {
        out.push_str(&" ".repeat(indent));
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
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&key_text(k));
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
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn key_text(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !k.starts_with(['-', '.'])
        && !matches!(k, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~")
        && k.parse::<f64>().is_err();
    if plain { k.to_owned() } else { Value::from(k).to_string() }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        // JSON string syntax is valid YAML double-quoted syntax.
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
