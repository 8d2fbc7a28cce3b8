//! Composition contracts: whether a platform's selected plugins can work
//! together, and the compatibility matrix that follows from their metadata.

use crate::meta::{Category, Requirement};
use crate::registry::{Any, all};

/// A requirement of a selected plugin that the selection does not meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The plugin with the requirement; the diagnostic points at its selection.
    pub category: Category,
    pub plugin: &'static str,
    pub requirement: Requirement,
    /// What the required category has selected (`None`: nothing).
    pub found: Option<&'static str>,
    pub message: String,
    pub help: String,
}

/// Every unmet requirement of `selected` (one plugin per category), in
/// category order.
pub fn check(selected: &[Any]) -> Vec<Conflict> {
    let chosen = |c: Category| selected.iter().copied().find(|p| p.meta().category == c);
    let mut out = Vec::new();
    for p in selected {
        let m = p.meta();
        for r in m.requires {
            let other = chosen(r.category);
            let met = match other {
                Some(o) => r.any_of.iter().any(|v| o.meta().provides(r.kind, v)),
                None => !r.needed,
            };
            if met {
                continue;
            }
            let found = other.map(|o| o.meta().name);
            let wanted = providers(r);
            let message = match found {
                Some(f) => format!(
                    "{} `{}` cannot work with {} `{f}`: {}",
                    m.category.title(),
                    m.name,
                    r.category.title(),
                    r.reason
                ),
                None => {
                    format!("{} `{}` needs a {} plugin: {}", m.category.title(), m.name, r.category.title(), r.reason)
                }
            };
            let mut help = format!("select {} {}", r.category.title(), or_list(&wanted));
            let instead = alternatives(m.category, selected);
            if !instead.is_empty() {
                help.push_str(&format!(", or a {} that works with it: {}", m.category.title(), or_list(&instead)));
            }
            out.push(Conflict { category: m.category, plugin: m.name, requirement: *r, found, message, help });
        }
    }
    out
}

/// Plugins of the required category that meet `r`.
pub fn providers(r: &Requirement) -> Vec<&'static str> {
    all()
        .iter()
        .map(|p| p.meta())
        .filter(|m| m.category == r.category && r.any_of.iter().any(|v| m.provides(r.kind, v)))
        .map(|m| m.name)
        .collect()
}

/// Plugins of `category` whose requirements the rest of the selection meets.
fn alternatives(category: Category, selected: &[Any]) -> Vec<&'static str> {
    all()
        .iter()
        .filter(|p| p.meta().category == category)
        .filter(|p| {
            let mut trial: Vec<Any> = selected.iter().copied().filter(|s| s.meta().category != category).collect();
            trial.push(**p);
            check_one(**p, &trial)
        })
        .map(|p| p.meta().name)
        .collect()
}

fn check_one(p: Any, selected: &[Any]) -> bool {
    p.meta().requires.iter().all(|r| match selected.iter().find(|s| s.meta().category == r.category) {
        Some(o) => r.any_of.iter().any(|v| o.meta().provides(r.kind, v)),
        None => !r.needed,
    })
}

/// `` `a`, `b` or `c` ``.
fn or_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "(none is built in)".to_owned(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// The compatibility matrix as Markdown: for each plugin with requirements,
/// what it needs and which plugins meet it. Generated from the metadata.
pub fn matrix_markdown() -> String {
    let mut out = String::new();
    out.push_str("| plugin | needs | because | met by |\n|---|---|---|---|\n");
    for p in all() {
        let m = p.meta();
        for r in m.requires {
            let needs = format!(
                "{}{} with {} {}",
                if r.needed { "" } else { "if selected: " },
                r.category.title(),
                r.kind,
                r.any_of.join(" / ")
            );
            let met: Vec<String> = providers(r).iter().map(|n| format!("`{n}`")).collect();
            out.push_str(&format!(
                "| {} `{}` | {} | {} | {} |\n",
                m.category.title(),
                m.name,
                needs,
                r.reason,
                met.join(", ")
            ));
        }
    }
    out
}
