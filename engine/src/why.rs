//! `floe why`: which inputs of a derivation changed since it was last built,
//! down to the changed values and the file and line each comes from.
//!
//! A build stores the normalized value of every input it keys a derivation on
//! (content-addressed, so shared inputs are stored once). `why` recomputes the
//! current inputs, loads the previous ones by the hashes in the last action
//! entry, and diffs them leaf by leaf.

use std::collections::{BTreeMap, BTreeSet};

use floe_schemas::Diagnostic;
use floe_schemas::yaml::Node;
use serde::Serialize;
use serde_json::Value;

use crate::build::Session;
use crate::db::{self, Package};
use crate::hash::Hash;
use crate::label::{self, Pattern};
use crate::layout::PackageKind;
use crate::system::IoError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WhyReport {
    pub label: String,
    /// `None` when the target was never built (or its record was lost).
    pub previous_key: Option<Hash>,
    pub current_key: Option<Hash>,
    pub inputs: Vec<InputChange>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputChange {
    pub input: String,
    /// `changed`, `added` or `removed`.
    pub change: &'static str,
    /// Leaf paths inside the input that differ, with where each is written now.
    pub leaves: Vec<LeafChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeafChange {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

pub fn why(session: &mut Session) -> Result<Vec<WhyReport>, IoError> {
    session.ensure_db();
    let session = &*session;
    let (selected, diags) = session.select();
    if !diags.is_empty() {
        return Ok(vec![WhyReport {
            label: session.options.labels.join(" "),
            previous_key: None,
            current_key: None,
            inputs: Vec::new(),
            diagnostics: diags,
        }]);
    }
    let only_exact = session
        .options
        .labels
        .iter()
        .all(|l| matches!(label::parse(l, &session.options.cwd), Ok(Pattern::Package { .. })));
    let db = session.db();
    let store = &session.store;
    let mut reports = Vec::new();
    for sel in selected {
        let info = &session.layout.packages[sel.package];
        let pkg = session.package(sel.package);
        let current = db::derivations(db, pkg);
        let (diagnostics, _) = db::evaluation(db, pkg);
        for target in &sel.targets {
            let label = label::target_label(&info.dir, *target);
            let cur = current.as_ref().and_then(|d| d.iter().find(|d| d.target == *target).cloned());
            let previous_key = session
                .state
                .packages
                .get(&info.dir)
                .and_then(|r| r.derivations.iter().find(|d| d.target == target.name()).map(|d| d.key));
            let previous = match previous_key {
                Some(k) => store.get_action(k)?,
                None => None,
            };
            let mut inputs = Vec::new();
            if let (Some(prev), Some(cur)) = (&previous, &cur)
                && prev.drv.rule_version != cur.rule_version
            {
                // The rule itself changed: this floe writes something else for the same input.
                let path = format!("rule: {} version {} → {}", cur.rule, prev.drv.rule_version, cur.rule_version);
                let leaves = vec![LeafChange { path, file: None, line: None, column: None }];
                inputs.push(InputChange { input: "rule".to_owned(), change: "changed", leaves });
            }
            if let (Some(prev), Some(cur)) = (&previous, &cur) {
                let names: BTreeSet<&String> = prev.drv.inputs.keys().chain(cur.inputs.keys()).collect();
                let values: BTreeMap<String, Vec<u8>> = cur.input.encoded().into_iter().collect();
                for name in names {
                    let (old, new) = (prev.drv.inputs.get(name), cur.inputs.get(name));
                    if old == new {
                        continue;
                    }
                    let change = match (old, new) {
                        (None, _) => "added",
                        (_, None) => "removed",
                        _ => "changed",
                    };
                    let mut leaves = Vec::new();
                    if let (Some(old), Some(new_bytes)) = (old, values.get(name))
                        && let Some(old_bytes) = store.get_object(*old)?
                    {
                        let a: Value = serde_json::from_slice(&old_bytes).unwrap_or(Value::Null);
                        let b: Value = serde_json::from_slice(new_bytes).unwrap_or(Value::Null);
                        let mut paths = Vec::new();
                        diff(&a, &b, &mut String::new(), &mut paths);
                        leaves = paths.into_iter().map(|p| locate(session, pkg, name, &p)).collect();
                    }
                    if leaves.is_empty() {
                        leaves.push(whole_input(session, pkg, name));
                    }
                    inputs.push(InputChange { input: name.clone(), change, leaves });
                }
            }
            if !only_exact && previous.as_ref().map(|p| p.key()) == cur.as_ref().map(|c| c.key) {
                continue;
            }
            reports.push(WhyReport {
                label,
                previous_key: previous.map(|p| p.key()),
                current_key: cur.map(|c| c.key),
                inputs,
                diagnostics: diagnostics.iter().filter(|d| d.is_error()).cloned().collect(),
            });
        }
    }
    Ok(reports)
}

fn diff(a: &Value, b: &Value, path: &mut String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                diff(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), path, out);
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (xa, yb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                diff(xa, yb, path, out);
                path.truncate(len);
            }
        }
        _ if a == b => {}
        _ => out.push(path.clone()),
    }
}

/// Where a changed leaf is written now.
fn locate(session: &Session, pkg: Package, input: &str, path: &str) -> LeafChange {
    let db = session.db();
    let info = &session.layout.packages[pkg.index(db)];
    let shown = if input == "platform" { path.strip_prefix("merged.").unwrap_or(path) } else { path };
    let mut leaf = LeafChange { path: format!("{input}: {shown}"), file: None, line: None, column: None };
    match input {
        "platform" => {
            let p = if info.kind == PackageKind::Product { info.parent.map(|p| session.package(p)) } else { Some(pkg) };
            let Some(p) = p else { return leaf };
            let eval = db::platform(db, p);
            let Some(r) = eval.resolved.as_ref() else { return leaf };
            let inner = path.strip_prefix("merged.").unwrap_or(path).to_owned();
            // The nearest recorded leaf at or below this path.
            if let Some((_, o)) = r.provenance.range(inner.clone()..).find(|(k, _)| k.starts_with(&inner)) {
                leaf.file = Some(o.file.clone());
                leaf.line = Some(o.line);
                leaf.column = Some(o.column);
            } else if let Some(p) = session.layout.chain(p.index(db)).last() {
                leaf.file = Some(session.layout.packages[*p].file().to_string());
            }
        }
        "spec" | "job" => {
            let file = info.file();
            let text = session.system.read(&session.options.workspace.join(file.as_str())).ok().flatten();
            let node = text.and_then(|t| floe_schemas::yaml::parse(file.as_str(), &t).ok());
            leaf.file = Some(file.to_string());
            if let Some(n) = node.as_ref().map(|n| find_node(n, path)) {
                leaf.line = Some(n.span.line);
                leaf.column = Some(n.span.column);
            }
        }
        _ => {}
    }
    leaf
}

fn whole_input(session: &Session, pkg: Package, input: &str) -> LeafChange {
    let info = &session.layout.packages[pkg.index(session.db())];
    let file = match input {
        "compiled_at" | "floe_version" => None,
        "profile_name" => info.dir.join(crate::layout::DBT_PROJECT).map(|p| p.to_string()),
        "executable" => None,
        "platform" => {
            session.layout.chain(pkg.index(session.db())).last().map(|p| session.layout.packages[*p].file().to_string())
        }
        // Everything else a product's derivations read is decided by the product.
        _ => Some(info.file().to_string()),
    };
    let path = match input {
        "compiled_at" => "compiled_at: SOURCE_DATE_EPOCH".to_owned(),
        "floe_version" => "floe_version: the floe version".to_owned(),
        "executable" => "executable: the out-of-tree compute plugin".to_owned(),
        "warning_count" => "warning_count: the product's warnings".to_owned(),
        "report" | "sources" => format!("{input}: the product's governance findings"),
        _ => input.to_owned(),
    };
    LeafChange { path, file, line: None, column: None }
}

/// The node a normalized path (`transforms[2].tags`) points at, or its nearest ancestor.
/// Normalized names are the serde names, so the document uses the same.
fn find_node<'n>(root: &'n Node, path: &str) -> &'n Node {
    // `transforms[2].tags` → `transforms`, `[2]`, `tags`.
    let segs = path.split('.').flat_map(|seg| {
        let (key, indices) = seg.split_at(seg.find('[').unwrap_or(seg.len()));
        std::iter::once(key).filter(|k| !k.is_empty()).chain(indices.split_inclusive(']'))
    });
    root.find(segs)
}
