//! `floe diff`: a unified diff, per object a deploy would write, of the live object and what the server would make of the desired one.
//!
//! An update is compared with the server's answer to a dry-run apply of the
//! desired object (what `kubectl diff` does), so defaults and fields other
//! managers own show as they would be; a new object is diffed against
//! nothing, a pruned one to nothing. Fields only the server sets
//! (managedFields, resourceVersion, uid, timestamps, generation, status)
//! are left out of both sides.

use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::Value;

use super::client::Cluster;
use super::plan::{Action, Step};
use crate::cli::Failure;
use crate::output::{Format, Printer, out, print_json};

/// Metadata the server sets, which no manifest says.
const SERVER_METADATA: &[&str] =
    &["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"];

#[derive(Serialize)]
struct Record<'a> {
    action: Action,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    package: Option<&'a str>,
    diff: String,
}

/// Prints the diffs; whether there was any.
pub fn diff(cluster: &Cluster, printer: &Printer, steps: &[Step]) -> Result<bool, Failure> {
    let changing: Vec<&Step> = steps.iter().filter(|s| s.action.writes()).collect();
    // What the server would store for each update, asked concurrently.
    let previews: Vec<Result<Option<Value>, Failure>> = cluster.block_on(
        futures_util::stream::iter(&changing)
            .map(|s| async move {
                match (s.action, &s.desired, cluster.resource(&s.id.group, &s.id.kind)) {
                    (Action::Updated, Some(object), Some(res)) => cluster
                        .apply(res, object, true)
                        .await
                        .map(Some)
                        .map_err(|e| cluster.fatal(&format!("preview {}", s.id.display()), &e)),
                    _ => Ok(None),
                }
            })
            .buffered(16)
            .collect(),
    );
    let mut records = Vec::new();
    for (s, preview) in changing.iter().zip(previews) {
        let preview = preview?;
        let live = s.live.as_ref().map(clean).map(|v| floe_rules::emit::yaml(&v)).unwrap_or_default();
        let desired = match (&preview, &s.desired) {
            (Some(p), _) => floe_rules::emit::yaml(&clean(p)),
            (None, Some(d)) => floe_rules::emit::yaml(&clean(d)),
            (None, None) => String::new(),
        };
        let path =
            format!("{}/{}/{}", s.id.kind, if s.id.namespace.is_empty() { "-" } else { &s.id.namespace }, s.id.name);
        let text = similar::TextDiff::from_lines(&live, &desired)
            .unified_diff()
            .context_radius(3)
            .header(&format!("live/{path}"), &format!("desired/{path}"))
            .to_string();
        if text.is_empty() {
            continue;
        }
        records.push(Record {
            action: s.action,
            kind: &s.id.kind,
            namespace: Some(s.id.namespace.as_str()).filter(|n| !n.is_empty()),
            name: &s.id.name,
            package: s.package.as_deref(),
            diff: text,
        });
    }
    if printer.format != Format::Human {
        print_json(&serde_json::json!({ "context": cluster.context, "objects": records }))?;
    } else {
        let text: String = records.iter().map(|r| r.diff.as_str()).collect();
        out(&text)?;
    }
    Ok(!records.is_empty())
}

/// An object without what only the server sets.
fn clean(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                meta.remove(*key);
            }
            for key in ["annotations", "labels"] {
                if meta.get(key).and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
                    meta.remove(key);
                }
            }
        }
    }
    object
}
