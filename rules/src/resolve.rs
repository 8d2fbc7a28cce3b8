//! Tier resolution: enterprise → domain → the platform a product builds against.
//!
//! Works on the manifests *as written* (their JSON form, secrets already
//! replaced) rather than on the typed models, so that a default a child did not
//! write never overrides a value its parent did write. The merged document is
//! converted to the typed [`Manifest`] at the end, where defaults apply once.
//!
//! Rules (spec §5): plugins in a domain must be approved by the enterprise;
//! governance is strengthen-only; rule lists accumulate; same-type plugin
//! `config` deep-merges (child wins on scalars, lists replace), a different
//! type replaces the selection; other maps merge key by key. Every resolved leaf
//! remembers the file and position it came from.

use std::collections::BTreeMap;

use floe_schemas::diag::{self, Code, Diagnostic, Span};
use floe_schemas::yaml::Node;
use floe_schemas::{Manifest, manifest::Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One manifest of the chain, root first.
pub struct Tier<'a> {
    /// The package label (`//`, `//sales`).
    pub label: &'a str,
    /// Workspace-relative file (`sales/manifest.yaml`).
    pub file: &'a str,
    pub manifest: &'a Manifest,
    /// The document as written, secrets replaced.
    pub raw: &'a Value,
    pub node: &'a Node,
}

/// Where a resolved value was written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The bytes it covers in its file, so a diagnostic underlines all of it.
    pub offset: u32,
    pub len: u32,
}

impl Origin {
    pub fn at(file: &str, span: Span) -> Origin {
        Origin { file: file.to_owned(), line: span.line, column: span.column, offset: span.offset, len: span.len }
    }

    pub fn span(&self) -> Span {
        Span { line: self.line, column: self.column, offset: self.offset, len: self.len }
    }
}

/// A manifest of the chain, as compiled artifacts name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRef {
    pub name: String,
    pub version: String,
    pub scope: Option<Scope>,
    pub label: String,
}

/// The platform a product builds against.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedPlatform {
    /// The effective manifest: merged settings, metadata of the nearest tier.
    pub manifest: Manifest,
    /// The merged document in JSON form, as hashed and stored.
    pub merged: Value,
    pub chain: Vec<TierRef>,
    /// The enterprise's `approved_plugins`, when it has one.
    pub approved_plugins: Option<BTreeMap<String, Vec<String>>>,
    /// The domain's `approved_products` and where the list is written.
    pub approved_products: Option<(Vec<String>, Origin)>,
    /// Path (`plugins.compute.config.threads`) to where it was written: a
    /// leaf's value, a map's or list's key.
    pub provenance: BTreeMap<String, Origin>,
}

impl ResolvedPlatform {
    /// The value that decides a derivation key: everything but positions.
    pub fn key_value(&self) -> Value {
        let mut v = Map::new();
        v.insert("merged".to_owned(), self.merged.clone());
        v.insert("chain".to_owned(), serde_json::to_value(&self.chain).unwrap_or(Value::Null));
        v.insert("approved_plugins".to_owned(), serde_json::to_value(&self.approved_plugins).unwrap_or(Value::Null));
        v.insert(
            "approved_products".to_owned(),
            serde_json::to_value(self.approved_products.as_ref().map(|(list, _)| list)).unwrap_or(Value::Null),
        );
        Value::Object(v)
    }

    pub fn origin(&self, path: &str) -> Option<&Origin> {
        self.provenance.get(path)
    }

    /// Where the first leaf below `prefix` (`plugins.catalog.config`) is written.
    pub fn origin_under(&self, prefix: &str) -> Option<&Origin> {
        let start = format!("{prefix}.");
        self.provenance.range(start.clone()..).next().filter(|(k, _)| k.starts_with(&start)).map(|(_, o)| o)
    }
}

/// Keys that describe one tier itself and are never inherited.
const TIER_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "scope",
    "parent_manifest",
    "approved_plugins",
    "approved_sinks",
    "approved_products",
];

/// Governance lists that accumulate down the chain instead of being replaced.
const ACCUMULATING: &[&str] = &["custom_rules", "policies", "policy_overrides"];

enum Order {
    /// Later entries are stronger.
    Rank(&'static [&'static str]),
    /// A larger number is stronger.
    Higher,
    /// `true` is stronger than `false`.
    Flag,
}

/// Governance fields a child may keep or tighten, never loosen.
const STRENGTHEN_ONLY: &[(&str, Order)] = &[
    ("policy_enforcement_level", Order::Rank(&["off", "warn", "strict"])),
    ("audit_logging", Order::Rank(&["disabled", "enabled"])),
    ("pii_encryption", Order::Rank(&["optional", "required"])),
    ("data_retention_days", Order::Higher),
    ("quality_gates.minimum_test_coverage", Order::Higher),
    ("quality_gates.require_descriptions", Order::Flag),
    ("quality_gates.block_on_failure", Order::Flag),
    ("data_contracts.enforcement", Order::Rank(&["off", "warn", "strict"])),
    // A lower cap is stronger.
    (
        "data_contracts.max_classification",
        Order::Rank(&["restricted", "sensitive", "phi", "pii", "confidential", "internal", "public"]),
    ),
];

pub fn resolve(tiers: &[Tier<'_>]) -> (Option<ResolvedPlatform>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(root) = tiers.first() else {
        return (None, diags);
    };
    check_scopes(tiers, &mut diags);
    let approved_plugins = root.manifest.approved_plugins.clone();

    let mut merged = Map::new();
    let mut provenance = BTreeMap::new();
    for (depth, tier) in tiers.iter().enumerate() {
        let Some(doc) = tier.raw.as_object() else { continue };
        // The enterprise's own selections are held to its list like every domain's.
        check_approved_plugins(tier, approved_plugins.as_ref(), root, &mut diags);
        if depth > 0 {
            check_governance(tier, &merged, &provenance, &mut diags);
        }
        for (key, value) in doc {
            if TIER_KEYS.contains(&key.as_str()) {
                continue;
            }
            let mut path = vec![key.clone()];
            match key.as_str() {
                "plugins" => merge_plugins(&mut merged, value, tier, &mut provenance),
                "governance" => merge_governance(&mut merged, value, tier, &mut provenance),
                _ => deep_merge_entry(&mut merged, key, value, &mut path, tier, &mut provenance),
            }
        }
    }

    let leaf = tiers.last().expect("tiers is not empty");
    let leaf_doc = leaf.raw.as_object();
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(v) = leaf_doc.and_then(|d| d.get(key)) {
            merged.insert(key.to_owned(), v.clone());
            record_leaves(&mut provenance, &mut vec![key.to_owned()], v, leaf);
        }
    }
    let merged = Value::Object(merged);
    let manifest = match serde_json::from_value::<Manifest>(merged.clone()) {
        Ok(m) => m,
        Err(e) => {
            diags.push(
                Diagnostic::error(Code::Internal, format!("the merged platform manifest is not valid: {e}"))
                    .in_file(leaf.file)
                    .with_help("check the settings this manifest overrides from its parent"),
            );
            return (None, diags);
        }
    };
    let chain = tiers
        .iter()
        .map(|t| TierRef {
            name: t.manifest.metadata.name.clone(),
            version: t.manifest.metadata.version.clone(),
            scope: t.manifest.scope,
            label: t.label.to_owned(),
        })
        .collect();
    let approved_products = tiers.iter().rev().find_map(|t| {
        let list = t.manifest.approved_products.clone()?;
        Some((list, origin_of(t, &["approved_products".to_owned()])))
    });
    (Some(ResolvedPlatform { manifest, merged, chain, approved_plugins, approved_products, provenance }), diags)
}

fn check_scopes(tiers: &[Tier<'_>], diags: &mut Vec<Diagnostic>) {
    for (depth, tier) in tiers.iter().enumerate() {
        let scope = tier.manifest.scope;
        let span = tier.node.get("scope").map_or(tier.node.span, |n| n.span);
        let problem = match (depth, scope) {
            (0, Some(Scope::Domain)) => Some("the root manifest cannot have `scope: domain`"),
            (0, _) => None,
            (_, Some(Scope::Domain)) => None,
            (_, _) => Some("a manifest below the workspace root must have `scope: domain`"),
        };
        if let Some(message) = problem {
            let help = if depth == 0 {
                "use `scope: enterprise` for a Data Mesh root, or no `scope` for a centralized platform"
            } else {
                "set `scope: domain`; its parent is the manifest at the workspace root"
            };
            diags.push(Diagnostic::error(Code::ScopeMismatch, message).at(tier.file, span).with_help(help));
        }
    }
    // Reported at the domain, the tier that needs an enterprise above it.
    if let [root, .., domain] = tiers
        && root.manifest.scope != Some(Scope::Enterprise)
    {
        let span = domain.node.get("scope").map_or(domain.node.span, |n| n.span);
        let root_span = root.node.get("scope").map_or(root.node.span, |n| n.span);
        diags.push(
            Diagnostic::error(Code::ScopeMismatch, "a domain needs an enterprise manifest at the workspace root")
                .at(domain.file, span)
                .with_help("set `scope: enterprise` in the root manifest")
                .with_note(root.file, root_span, "the root manifest has no `scope: enterprise`"),
        );
    }
}

fn check_approved_plugins(
    tier: &Tier<'_>,
    approved: Option<&BTreeMap<String, Vec<String>>>,
    root: &Tier<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(approved) = approved else { return };
    for (category, selection) in tier.manifest.plugins.selections() {
        let Some(allowed) = approved.get(category) else { continue };
        if allowed.iter().any(|a| a == &selection.plugin_type) {
            continue;
        }
        let span = node_at(tier.node, &["plugins", category, "type"]).map_or(tier.node.span, |n| n.span);
        let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        let help = match diag::suggest(&selection.plugin_type, allowed.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? the enterprise approves {list} for `{category}`"),
            None => format!("the enterprise approves {list} for `{category}`"),
        };
        let mut d = Diagnostic::error(
            Code::PluginNotApproved,
            format!("`{}` is not an approved `{category}` plugin", selection.plugin_type),
        )
        .at(tier.file, span)
        .with_help(help);
        if let Some(n) = node_at(root.node, &["approved_plugins", category]) {
            d = d.with_note(root.file, n.span, "approved here");
        }
        diags.push(d);
    }
}

fn check_governance(
    tier: &Tier<'_>,
    merged: &Map<String, Value>,
    provenance: &BTreeMap<String, Origin>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(child) = tier.raw.get("governance") else { return };
    let Some(parent) = merged.get("governance") else { return };
    for (field, order) in STRENGTHEN_ONLY {
        let keys: Vec<&str> = field.split('.').collect();
        let (Some(c), Some(p)) = (lookup(child, &keys), lookup(parent, &keys)) else { continue };
        if c.is_null() || p.is_null() || !loosens(order, c, p) {
            continue;
        }
        let mut full = vec!["governance"];
        full.extend(&keys);
        let span = node_at(tier.node, &full).map_or(tier.node.span, |n| n.span);
        let path = full.join(".");
        let mut d = Diagnostic::error(
            Code::GovernanceLoosened,
            format!("`{path}` loosens the inherited `{}` to `{}`", show(p), show(c)),
        )
        .at(tier.file, span)
        .with_help(format!(
            "governance is strengthen-only: keep `{}` or tighten it, or remove the key to inherit",
            show(p)
        ));
        if let Some(o) = provenance.get(&path) {
            d = d.with_note(&o.file, o.span(), "inherited from here");
        }
        diags.push(d);
    }
}

fn loosens(order: &Order, child: &Value, parent: &Value) -> bool {
    match order {
        Order::Rank(ranks) => {
            let rank = |v: &Value| v.as_str().and_then(|s| ranks.iter().position(|r| *r == s));
            matches!((rank(child), rank(parent)), (Some(c), Some(p)) if c < p)
        }
        Order::Higher => matches!((child.as_f64(), parent.as_f64()), (Some(c), Some(p)) if c < p),
        Order::Flag => child.as_bool() == Some(false) && parent.as_bool() == Some(true),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lookup<'v>(v: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(v, |v, k| v.get(*k))
}

fn node_at<'n>(node: &'n Node, keys: &[&str]) -> Option<&'n Node> {
    keys.iter().try_fold(node, |n, k| n.get(k))
}

fn merge_plugins(
    merged: &mut Map<String, Value>,
    plugins: &Value,
    tier: &Tier<'_>,
    prov: &mut BTreeMap<String, Origin>,
) {
    let Some(child) = plugins.as_object() else { return };
    let dst = merged.entry("plugins").or_insert_with(|| Value::Object(Map::new()));
    let Some(dst) = dst.as_object_mut() else { return };
    for (category, selection) in child {
        let mut path = vec!["plugins".to_owned(), category.clone()];
        let same_type = match (dst.get(category), selection.get("type")) {
            (Some(parent), Some(t)) => parent.get("type") == Some(t),
            (Some(_), None) => true,
            _ => false,
        };
        if same_type {
            deep_merge_entry(dst, category, selection, &mut path, tier, prov);
        } else {
            remove_prefix(prov, &path_key(&path));
            dst.insert(category.clone(), selection.clone());
            record_leaves(prov, &mut path, selection, tier);
        }
    }
}

fn merge_governance(
    merged: &mut Map<String, Value>,
    governance: &Value,
    tier: &Tier<'_>,
    prov: &mut BTreeMap<String, Origin>,
) {
    let Some(child) = governance.as_object() else { return };
    let dst = merged.entry("governance").or_insert_with(|| Value::Object(Map::new()));
    let Some(dst) = dst.as_object_mut() else { return };
    for (key, value) in child {
        let mut path = vec!["governance".to_owned(), key.clone()];
        if ACCUMULATING.contains(&key.as_str()) {
            let (Some(items), Some(existing)) =
                (value.as_array(), dst.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new())).as_array_mut())
            else {
                continue;
            };
            for item in items {
                path.push(format!("[{}]", existing.len()));
                record_leaves(prov, &mut path, item, tier);
                path.pop();
                existing.push(item.clone());
            }
            continue;
        }
        deep_merge_entry(dst, key, value, &mut path, tier, prov);
    }
}

/// Merges `value` into `dst[key]`: maps key by key, anything else replaces.
fn deep_merge_entry(
    dst: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    path: &mut Vec<String>,
    tier: &Tier<'_>,
    prov: &mut BTreeMap<String, Origin>,
) {
    match (dst.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(child)) => {
            for (k, v) in child {
                path.push(k.clone());
                deep_merge_entry(existing, k, v, path, tier, prov);
                path.pop();
            }
        }
        // A loosened governance value was reported; the parent's stays in force.
        (existing, _) if is_loosening(path, value, existing.as_deref()) => {}
        _ => {
            remove_prefix(prov, &path_key(path));
            dst.insert(key.to_owned(), value.clone());
            record_leaves(prov, path, value, tier);
        }
    }
}

/// Whether setting governance `path` to `child` would loosen the `parent` value.
fn is_loosening(path: &[String], child: &Value, parent: Option<&Value>) -> bool {
    let (Some(parent), Some((first, rest))) = (parent, path.split_first()) else { return false };
    if first != "governance" {
        return false;
    }
    let field = rest.join(".");
    STRENGTHEN_ONLY.iter().any(|(f, order)| *f == field && loosens(order, child, parent))
}

fn path_key(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

fn remove_prefix(prov: &mut BTreeMap<String, Origin>, prefix: &str) {
    let doomed: Vec<String> = prov
        .range(prefix.to_owned()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter(|(k, _)| k.len() == prefix.len() || matches!(k.as_bytes()[prefix.len()], b'.' | b'['))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        prov.remove(&k);
    }
}

fn record_leaves(prov: &mut BTreeMap<String, Origin>, path: &mut Vec<String>, value: &Value, tier: &Tier<'_>) {
    // A map or list is recorded where its key is written, so that a
    // diagnostic about it (`access_key_id: {secret_ref: …}`) points there.
    if matches!(value, Value::Object(m) if !m.is_empty()) || matches!(value, Value::Array(a) if !a.is_empty()) {
        prov.insert(path_key(path), key_origin(tier, path));
    }
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(k.clone());
                record_leaves(prov, path, v, tier);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                record_leaves(prov, path, v, tier);
                path.pop();
            }
        }
        _ => {
            prov.insert(path_key(path), origin_of(tier, path));
        }
    }
}

/// The position of the key that names `path` in the tier's file (of the item,
/// for a list's), else as [`origin_of`].
fn key_origin(tier: &Tier<'_>, path: &[String]) -> Origin {
    if let Some((last, parent)) = path.split_last()
        && !last.starts_with('[')
        && let Some((key, _)) = tier.node.find(parent.iter().map(String::as_str)).entry(last)
    {
        return Origin::at(tier.file, key.span);
    }
    origin_of(tier, path)
}

/// The position of `path` in the tier's file: the value itself, or the nearest
/// ancestor that is written there (a replaced secret has no node of its own).
fn origin_of(tier: &Tier<'_>, path: &[String]) -> Origin {
    let node = tier.node.find(path.iter().map(String::as_str));
    Origin::at(tier.file, node.span)
}

/// The platform of one manifest's text, for tests.
#[cfg(test)]
pub(crate) fn resolve_text(text: &str) -> ResolvedPlatform {
    let loaded = floe_schemas::load::<Manifest>("manifest.yaml", text.as_bytes());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let (node, manifest) = (loaded.node.unwrap(), loaded.value.unwrap());
    let mut raw = node.to_json();
    crate::secrets::redact_manifest(&mut raw);
    let tier = Tier { label: "//", file: "manifest.yaml", manifest: &manifest, raw: &raw, node: &node };
    let (platform, diags) = resolve(&[tier]);
    assert!(diags.is_empty(), "{diags:?}");
    platform.unwrap()
}

#[cfg(test)]
mod tests;
