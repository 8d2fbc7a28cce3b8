//! Plugin selections, checked once at the platform: every selected plugin
//! exists, satisfies the version the manifest pins, accepts its `config`, and
//! works with the plugins selected for the other categories.

use floe_plugins::compose;
use floe_plugins::{Any, CatalogBinding, Category, Egress, Selected, StorageBinding};
use floe_schemas::diag::{self, Code, Diagnostic, Span};
use serde_json::Value;

use crate::resolve::{Origin, ResolvedPlatform};

/// The plugin a platform uses for one category, with its configuration.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub plugin: Any,
    pub config: Option<Value>,
    pub connection_secret: Option<String>,
    /// Pinned in the manifest (`version:`).
    pub version: Option<String>,
    /// Selected in the manifest, rather than the category's default.
    pub explicit: bool,
}

impl Chosen {
    pub fn selected(&self) -> Selected<'_> {
        Selected::new(self.config.as_ref(), self.connection_secret.as_deref())
    }

    pub fn category(&self) -> Category {
        self.plugin.meta().category
    }
}

/// Every category's plugin (selected, or the category's default), in category
/// order, and a diagnostic for each selection floe has no plugin for.
pub fn chosen(platform: &ResolvedPlatform) -> (Vec<Chosen>, Vec<(Category, Diagnostic)>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for category in Category::ALL {
        let Some((name, config, secret, version)) = selection(platform, category) else {
            if let Some(default) = category.default_plugin()
                && let Some(plugin) = floe_plugins::find(category, default)
            {
                out.push(Chosen { plugin, config: None, connection_secret: None, version: None, explicit: false });
            }
            continue;
        };
        match floe_plugins::find(category, &name) {
            Some(plugin) => out.push(Chosen { plugin, config, connection_secret: secret, version, explicit: true }),
            None => diags.push((category, unknown(platform, category, &name))),
        }
    }
    (out, diags)
}

/// The plugin of `category`, if the platform uses one floe has.
pub fn plugin(platform: &ResolvedPlatform, category: Category) -> Option<Chosen> {
    chosen(platform).0.into_iter().find(|c| c.category() == category)
}

/// Where the platform's tables live, from its storage plugin.
pub fn storage(chosen: &[Chosen]) -> Option<StorageBinding> {
    chosen.iter().find_map(|c| match c.plugin {
        Any::Storage(s) => Some(s.deployment_binding(&c.selected())),
        _ => None,
    })
}

/// The Iceberg catalog compute attaches to, bound to the platform's
/// storage (as [`storage`] gives it).
pub fn catalog(chosen: &[Chosen], storage: Option<&StorageBinding>) -> Option<CatalogBinding> {
    chosen.iter().find_map(|c| match c.plugin {
        Any::Catalog(cat) => Some(cat.catalog_binding(&c.selected(), storage)),
        _ => None,
    })
}

/// The network endpoints a platform's plugins talk to: every URL in their
/// configuration, and those their bindings and exporters derive. What
/// `floe doctor` probes, and what a product's network policy must allow.
pub fn endpoints(platform: &ResolvedPlatform) -> Vec<(Category, &'static str, Egress)> {
    let (chosen, _) = chosen(platform);
    let mut out = Vec::new();
    for c in &chosen {
        let (category, name) = (c.category(), c.plugin.meta().name);
        let mut urls = Vec::new();
        if let Some(config) = &c.config {
            collect_urls(config, &mut urls);
        }
        match c.plugin {
            Any::TelemetryBackend(t) => urls.push(t.otlp_exporter_config(&c.selected()).endpoint),
            Any::LineageBackend(l) => {
                if let Some(url) = l.transport_config(&c.selected()).get("url").and_then(Value::as_str) {
                    urls.push(url.to_owned());
                }
            }
            Any::Storage(s) => urls.extend(s.deployment_binding(&c.selected()).endpoint),
            _ => {}
        }
        for url in urls {
            if let Some(e) = Egress::from_url(category.key(), &url) {
                out.push((category, name, e));
            }
        }
    }
    out.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    out.dedup();
    out
}

fn collect_urls(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains("://") => out.push(s.clone()),
        Value::Object(m) => m.values().for_each(|v| collect_urls(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_urls(v, out)),
        _ => {}
    }
}

/// Name, config, connection secret and pinned version of a category's selection.
type Selection = (String, Option<Value>, Option<String>, Option<String>);

fn selection(platform: &ResolvedPlatform, category: Category) -> Option<Selection> {
    let plugins = &platform.manifest.plugins;
    if category == Category::Quality {
        return plugins.quality.as_ref().map(|q| (q.provider.clone(), None, None, None));
    }
    let s = plugins.get(category.key())?;
    let config = s.config.as_ref().map(|c| Value::Object(c.clone().into_iter().collect()));
    Some((s.plugin_type.clone(), config, s.connection_secret_ref.clone(), s.version.clone()))
}

/// Where a category's plugin name is written.
fn type_path(category: Category) -> String {
    match category {
        Category::Quality => "plugins.quality.provider".to_owned(),
        c => format!("plugins.{}.type", c.key()),
    }
}

fn unknown(platform: &ResolvedPlatform, category: Category, name: &str) -> Diagnostic {
    let names = floe_plugins::registry::names(category);
    let help = match diag::suggest(name, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("floe has these {} plugins: {}", category.title(), names.join(", ")),
    };
    let d =
        Diagnostic::error(Code::UnknownPlugin, format!("unknown {} plugin `{name}`", category.title())).with_help(help);
    at(platform, d, &type_path(category), None)
}

/// Every problem with the platform's plugins: unknown ones, pinned versions
/// they do not satisfy, configurations they reject, and combinations that
/// cannot work. A conflict between two selections is reported at the one
/// written in `own_file` when there is one, so that the tier which made the
/// combination is the one that hears of it.
///
/// Selections of the categories in `external` name out-of-tree plugins,
/// which the engine checks (it can run them).
pub fn check(platform: &ResolvedPlatform, own_file: &str, external: &[Category]) -> Vec<Diagnostic> {
    let (chosen, unknown) = chosen(platform);
    let mut out: Vec<Diagnostic> = unknown.into_iter().filter(|(c, _)| !external.contains(c)).map(|(_, d)| d).collect();
    for c in chosen.iter().filter(|c| c.explicit) {
        let meta = c.plugin.meta();
        if let Some(pinned) = &c.version
            && let Some(have) = meta.semver()
        {
            let d = match floe_plugins::satisfies(&have, pinned) {
                Ok(true) => None,
                Ok(false) => Some(
                    Diagnostic::error(
                        Code::PluginVersion,
                        format!(
                            "{} plugin `{}` is version {have}, which does not satisfy the pinned `{pinned}`",
                            meta.category.title(),
                            meta.name
                        ),
                    )
                    .with_help(format!(
                        "pin a version compatible with {have} (`version: \"{have}\"`), or remove `version`"
                    )),
                ),
                Err(e) => Some(
                    Diagnostic::error(
                        Code::PluginVersion,
                        format!("the pinned version `{pinned}` is not a version: {e}"),
                    )
                    .with_help(format!("pin `major.minor.patch` (`version: \"{have}\"`), or remove `version`")),
                ),
            };
            if let Some(d) = d {
                out.push(at(platform, d, &format!("plugins.{}.version", meta.category.key()), None));
            }
        }
        for e in floe_plugins::validate(c.plugin.plugin(), &c.selected()) {
            let base = format!("plugins.{}.config", meta.category.key());
            let path = if e.path.is_empty() { base.clone() } else { format!("{base}.{}", e.path.join(".")) };
            let mut d = Diagnostic::error(
                Code::InvalidPluginConfig,
                format!("{} `{}`: {}", meta.category.title(), meta.name, e.message),
            );
            d.help = e.help;
            out.push(at(platform, d, &path, Some(&base)));
        }
    }
    let plugins: Vec<Any> = chosen.iter().map(|c| c.plugin).collect();
    for conflict in compose::check(&plugins) {
        let mine = platform.origin(&type_path(conflict.category));
        let theirs = platform.origin(&type_path(conflict.requirement.category));
        let d = Diagnostic::error(Code::IncompatiblePlugins, conflict.message).with_help(conflict.help);
        let (here, there, note) = match (mine, theirs) {
            (Some(m), Some(t)) if m.file != own_file && t.file == own_file => (
                t,
                Some(m),
                format!("the {} `{}` that needs it is selected here", conflict.category.title(), conflict.plugin),
            ),
            (Some(m), t) => (m, t, format!("the {} is selected here", conflict.requirement.category.title())),
            (None, Some(t)) => (t, None, String::new()),
            (None, None) => {
                out.push(d);
                continue;
            }
        };
        let mut d = d.at(&here.file, span(here));
        if let Some(t) = there {
            d = d.with_note(&t.file, span(t), note);
        }
        out.push(d);
    }
    out
}

fn span(o: &Origin) -> Span {
    o.span()
}

/// `d` located where `path` is written, else where `fallback` or the
/// selection's type is.
fn at(platform: &ResolvedPlatform, d: Diagnostic, path: &str, fallback: Option<&str>) -> Diagnostic {
    let category = path.split('.').nth(1).unwrap_or_default();
    let origin = platform
        .origin(path)
        .or_else(|| fallback.and_then(|f| platform.origin_under(f)))
        .or_else(|| platform.origin(&format!("plugins.{category}.type")))
        .or_else(|| platform.origin("plugins.quality.provider").filter(|_| category == "quality"));
    match origin {
        Some(o) => d.at(&o.file, span(o)),
        None => d,
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    /// The E0117 diagnostics of a platform pinning DuckDB (0.1.0) at `pinned`, as `(line, column, message)`.
    fn pinned(pinned: &str) -> Vec<(u32, u32, String)> {
        let text = format!(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {{name: acme, version: 1.0.0, owner: p@acme.io}}\n\
             plugins:\n  compute:\n    type: duckdb\n    version: \"{pinned}\"\n  orchestrator: {{type: dagster}}\n"
        );
        check(&crate::resolve::resolve_text(&text), "manifest.yaml", &[])
            .into_iter()
            .filter(|d| d.code == Code::PluginVersion)
            .map(|d| {
                let span = d.span.unwrap_or_default();
                (span.line, span.column, d.message)
            })
            .collect()
    }

    #[test]
    fn pinned_versions_are_read_as_caret_requirements() {
        assert_eq!(pinned("0.1.0"), []);
        let found = pinned("0.2.0");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].1), (7, 14));
        assert!(found[0].2.contains("does not satisfy the pinned `0.2.0`"), "{}", found[0].2);
    }

    #[test]
    fn a_pin_that_is_not_a_version_is_reported_where_it_is_written() {
        // The manifest schema admits it (`\d+.\d+.\d+`); semver does not.
        let found = pinned("00.1.0");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].1), (7, 14));
        assert!(found[0].2.starts_with("the pinned version `00.1.0` is not a version: "), "{}", found[0].2);
    }
}
