//! Diagnostics as SARIF 2.1.0, for code-scanning tools and CI annotations.
//!
//! One run, one rule per code that occurs (with its summary and explanation
//! from the catalogue), one result per diagnostic. Locations are relative to
//! the workspace root, named by the `WORKSPACE` base id, which the caller maps
//! to the root's `file://` URI.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::catalogue;
use crate::diag::{Code, Diagnostic, Severity, Span};

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log for `diagnostics`. `root_uri` is the workspace root as a
/// `file://` URI ending in `/`, when known.
pub fn log(diagnostics: &[Diagnostic], tool_version: &str, root_uri: Option<&str>) -> Value {
    let codes: Vec<Code> = {
        let mut c: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
        c.sort();
        c.dedup();
        c
    };
    let index: BTreeMap<Code, usize> = codes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": format!("{c:?}"),
                "shortDescription": {"text": c.summary()},
                "fullDescription": {"text": catalogue::explanation(*c)},
                "help": {"text": catalogue::explanation(*c)},
                "helpUri": format!("https://floe.dev/reference/errors#{}", c.as_str().to_ascii_lowercase()),
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics.iter().map(|d| result(d, index[&d.code])).collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": "floe",
            "version": tool_version,
            "informationUri": "https://floe.dev",
            "rules": rules,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let Some(root) = root_uri {
        run["originalUriBaseIds"] = json!({"WORKSPACE": {"uri": root}});
    }
    json!({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]})
}

fn result(d: &Diagnostic, rule_index: usize) -> Value {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let mut r = json!({
        "ruleId": d.code.as_str(),
        "ruleIndex": rule_index,
        "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": {"text": message},
    });
    if let Some(file) = &d.file {
        r["locations"] = json!([location(file, d.span, None)]);
    }
    if !d.notes.is_empty() {
        let related: Vec<Value> =
            d.notes.iter().enumerate().map(|(i, n)| location(&n.file, Some(n.span), Some((i, &n.message)))).collect();
        r["relatedLocations"] = Value::Array(related);
    }
    r
}

fn location(file: &str, span: Option<Span>, note: Option<(usize, &str)>) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": percent_encode(file), "uriBaseId": "WORKSPACE"}});
    if let Some(s) = span.filter(|s| s.line > 0) {
        physical["region"] = json!({"startLine": s.line, "startColumn": s.column.max(1)});
    }
    let mut loc = json!({"physicalLocation": physical});
    if let Some((id, message)) = note {
        loc["id"] = json!(id);
        loc["message"] = json!({"text": message});
    }
    loc
}

/// A relative path as a URI reference: unreserved characters and `/` stay.
pub fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_point_at_files_and_rules() {
        let d = Diagnostic::error(Code::UnknownKey, "unknown key `schedul`")
            .at("sales/my orders/floe.yaml", Span { line: 3, column: 1, offset: 0, len: 7 })
            .with_help("did you mean `schedule`?");
        let log = log(&[d], "0.1.0", Some("file:///ws/"));
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "E0101");
        let r = &run["results"][0];
        assert_eq!(r["level"], "error");
        assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "sales/my%20orders/floe.yaml");
        assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
        assert_eq!(run["originalUriBaseIds"]["WORKSPACE"]["uri"], "file:///ws/");
    }
}
