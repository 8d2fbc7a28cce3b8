//! A dbt project as floe reads it: where `dbt_project.yml` keeps its nodes, and the nodes.

use std::collections::{BTreeMap, BTreeSet};

use floe_schemas::yaml::{Node, NodeKind};
use serde::Serialize;

use super::properties::{ModelDoc, Properties, strings};
use super::sql::{Dependency, scan_sql};

/// Where a dbt project keeps its nodes, from `dbt_project.yml` (`model-paths`,
/// `seed-paths`, …), relative to the project; dbt's defaults where it is
/// silent. Paths that leave the project (`../macros`) are not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Paths {
    pub models: Vec<String>,
    pub seeds: Vec<String>,
    pub snapshots: Vec<String>,
    /// Analyses, macros and tests: read for secrets only.
    pub others: Vec<String>,
}

/// What a file under [`Paths`] is to floe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Model,
    Seed,
    Snapshot,
    /// `packages.yml` or `dependencies.yml`, beside `dbt_project.yml`.
    Packages,
    Other,
}

/// The files, beside `dbt_project.yml`, that declare a project's packages.
pub const PACKAGE_FILES: [&str; 2] = ["packages.yml", "dependencies.yml"];

impl Default for Paths {
    fn default() -> Paths {
        let one = |p: &str| vec![p.to_owned()];
        Paths {
            models: one("models"),
            seeds: one("seeds"),
            snapshots: one("snapshots"),
            others: ["analyses", "macros", "tests"].map(str::to_owned).to_vec(),
        }
    }
}

impl Paths {
    pub fn of(project: &Node) -> Paths {
        let read = |key: &str, default: &[&str]| -> Vec<String> {
            let Some(node) = project.get(key) else { return default.iter().map(|p| (*p).to_owned()).collect() };
            let listed = match &node.kind {
                NodeKind::Str(s) => vec![s.clone()],
                _ => strings(Some(node)),
            };
            listed.iter().filter_map(|p| inside(p)).collect()
        };
        let mut others = read("analysis-paths", &["analyses"]);
        others.extend(read("macro-paths", &["macros"]));
        others.extend(read("test-paths", &["tests"]));
        Paths {
            models: read("model-paths", &["models"]),
            seeds: read("seed-paths", &["seeds"]),
            snapshots: read("snapshot-paths", &["snapshots"]),
            others,
        }
    }

    /// The role of the file at `rel` (relative to the project), if it lies
    /// under one of the paths.
    pub fn role(&self, rel: &str) -> Option<Role> {
        if PACKAGE_FILES.contains(&rel) {
            return Some(Role::Packages);
        }
        let under =
            |paths: &[String]| paths.iter().any(|p| rel.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/')));
        [
            (&self.models, Role::Model),
            (&self.seeds, Role::Seed),
            (&self.snapshots, Role::Snapshot),
            (&self.others, Role::Other),
        ]
        .into_iter()
        .find_map(|(paths, role)| under(paths).then_some(role))
    }
}

/// What else floe reads from `dbt_project.yml`: the project's name (a
/// `ref('<name>', 'model')` names its own model) and its vars (`ref(var('x'))`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub name: Option<String>,
    /// Vars global to the project, overridden by those scoped to it
    /// (`vars: {<name>: {…}}`). `None` for a value that is no plain string
    /// (a number, a list, Jinja), so no model name floe can know.
    pub vars: BTreeMap<String, Option<String>>,
}

impl Settings {
    pub fn of(project: &Node) -> Settings {
        let name = project.get("name").and_then(Node::as_str).map(str::to_owned);
        let mut vars = BTreeMap::new();
        let value = |v: &Node| v.as_str().filter(|s| !s.contains("{{") && !s.contains("{%")).map(str::to_owned);
        let all = entries(project.get("vars"));
        for (k, v) in all {
            // A mapping is a scope: this project's, or a package's.
            if !matches!(v.kind, NodeKind::Map(_)) {
                vars.insert(k.name.clone(), value(v));
            }
        }
        let own = all.iter().find(|(k, _)| Some(&k.name) == name.as_ref()).map(|(_, v)| v);
        for (k, v) in entries(own) {
            vars.insert(k.name.clone(), value(v));
        }
        Settings { name, vars }
    }
}

/// The entries of a mapping (none for anything else).
fn entries(node: Option<&Node>) -> &[(floe_schemas::yaml::Key, Node)] {
    match node.map(|n| &n.kind) {
        Some(NodeKind::Map(entries)) => entries,
        _ => &[],
    }
}

/// The packages a project's `packages.yml` or `dependencies.yml` declares
/// (dbt installs them into `dbt_packages/`, which floe does not read): a
/// `ref()` may name one of their models.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packages {
    /// Their project names, where the declaration says it: a hub package's
    /// (`dbt-labs/dbt_utils` is `dbt_utils`), a `name:`.
    pub names: BTreeSet<String>,
    /// Whether some declaration does not say its name (`git:`, `local:`).
    pub unnamed: bool,
}

impl Packages {
    /// Whether `name` may be a declared package.
    pub fn may_be(&self, name: &str) -> bool {
        self.unnamed || self.names.contains(name)
    }
}

/// A configured path as a plain relative path inside the project, or `None`.
fn inside(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let plain = !parts.is_empty() && !path.starts_with('/') && parts.iter().all(|s| *s != "..");
    plain.then(|| parts.join("/"))
}

/// A product's dbt project as floe reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Project {
    pub models: BTreeMap<String, Model>,
    /// Declared `(source, table)` pairs.
    pub sources: BTreeSet<(String, String)>,
    /// Seeds (a CSV file, or a property file's `seeds:`) and snapshots
    /// (`{% snapshot name %}`, or `snapshots:`): not models, but `ref()` names them.
    pub seeds: BTreeSet<String>,
    pub snapshots: BTreeSet<String>,
    pub settings: Settings,
    /// `None` when the project declares no package.
    pub packages: Option<Packages>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// The model's SQL file and what it depends on.
    pub sql: Option<(String, Vec<Dependency>)>,
    /// The property file that documents it, and what it says.
    pub doc: Option<(String, ModelDoc)>,
}

impl Project {
    pub fn new(settings: Settings) -> Project {
        Project { settings, ..Project::default() }
    }

    /// A model's SQL file, with each `ref(var('x'))` resolved through the
    /// project's vars (an undefined one stays a `Var`, which dbt rejects) and
    /// `ref('<this project>', 'm')` read as `ref('m')`.
    pub fn add_sql(&mut self, file: &str, text: &str) {
        let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".sql").to_owned();
        let mut deps = scan_sql(text);
        for dep in &mut deps {
            match dep {
                Dependency::Var { name, default, span } => {
                    let model = match self.settings.vars.get(name.as_str()) {
                        Some(Some(value)) => Some(value.clone()),
                        // Defined, but as nothing floe can read as a name.
                        Some(None) => {
                            *dep = Dependency::Dynamic { call: "ref", span: *span };
                            continue;
                        }
                        None => default.clone(),
                    };
                    if let Some(model) = model {
                        *dep = Dependency::Ref { package: None, model, var: Some(name.clone()), span: *span };
                    }
                }
                Dependency::Ref { package, .. } if package.is_some() && *package == self.settings.name => {
                    *package = None;
                }
                _ => {}
            }
        }
        self.models.entry(name).or_default().sql = Some((file.to_owned(), deps));
    }

    /// A `packages.yml` or `dependencies.yml`: its `packages:` (hub, git,
    /// local, tarball) and `projects:` (other dbt projects a two-argument
    /// `ref()` may name).
    pub fn add_packages(&mut self, node: &Node) {
        let entries = ["packages", "projects"].into_iter().filter_map(|k| match node.get(k).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => Some(items.iter()),
            _ => None,
        });
        for entry in entries.flatten() {
            let packages = self.packages.get_or_insert_with(Packages::default);
            let named = entry.get("name").and_then(Node::as_str);
            let hub = entry.get("package").and_then(Node::as_str).map(|p| p.rsplit('/').next().unwrap_or(p));
            match named.or(hub) {
                Some(name) => packages.names.insert(name.to_owned()),
                None => std::mem::replace(&mut packages.unnamed, true),
            };
        }
    }

    pub fn add_properties(&mut self, file: &str, props: Properties) {
        for m in props.models {
            let entry = self.models.entry(m.name.clone()).or_default();
            entry.doc = Some((file.to_owned(), m));
        }
        for s in props.sources {
            self.sources.insert((s.source, s.table));
        }
        self.seeds.extend(props.seeds);
        self.snapshots.extend(props.snapshots);
    }

    /// A seed: its name is its CSV file's.
    pub fn add_seed(&mut self, file: &str) {
        let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".csv");
        self.seeds.insert(name.to_owned());
    }

    /// A snapshot file: every `{% snapshot name %}` block in it.
    pub fn add_snapshots(&mut self, text: &str) {
        for block in text.split("{%").skip(1) {
            let block = block.trim_start_matches('-').trim_start();
            if let Some(rest) = block.strip_prefix("snapshot")
                && rest.starts_with(char::is_whitespace)
                && let Some(name) = rest.split_whitespace().next()
            {
                let name = name.trim_end_matches("-%}").trim_end_matches("%}");
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    self.snapshots.insert(name.to_owned());
                }
            }
        }
    }

    /// Whether `ref('name')` names a node of this project.
    pub fn has_node(&self, name: &str) -> bool {
        self.models.contains_key(name) || self.seeds.contains(name) || self.snapshots.contains(name)
    }
}
