//! Packages of a workspace, from the files it holds.
//!
//! The root `manifest.yaml` is the root (platform) package. A directory below it
//! with a `manifest.yaml` is a domain package; a directory with a `floe.yaml` is
//! a product package, belonging to the nearest enclosing domain, else the root.
//! The layout is structure only: whether a domain manifest really says
//! `scope: domain` is checked when it is evaluated. A package must have a
//! label: a directory whose path no label can spell is reported, not built.

use floe_schemas::diag::{Code, Diagnostic};

use crate::path::WsPath;

pub const MANIFEST: &str = "manifest.yaml";
pub const SPEC: &str = "floe.yaml";
pub const DBT_PROJECT: &str = "dbt_project.yml";
/// A data contract (ODCS v3.1): beside `floe.yaml`, merged over the
/// product's generated contracts; anywhere else, the contract of a product
/// outside the workspace, which input ports name by its id.
pub const CONTRACT: &str = "datacontract.yaml";
/// Where a product's dbt models live (dbt's default `model-paths`).
pub const MODELS_DIR: &str = "models";

/// Where out-of-tree plugins live: `floe-plugins/<name>` at the workspace
/// root, each an executable that selects as `type: <name>`.
pub const PLUGINS_DIR: &str = "floe-plugins";

/// Whether a directory (as text) is the workspace's plugin directory.
pub fn is_plugin_dir(dir: &str) -> bool {
    dir == PLUGINS_DIR
}

/// Whether a directory lies in a `models/` tree, where dbt files are read.
pub fn in_model_dir(dir: &str) -> bool {
    dir.split('/').any(|s| s == MODELS_DIR)
}

/// The first segment of `dir` that a label cannot spell, if any. Label
/// paths are ASCII letters, digits, `-`, `_` and `.` (see `label::parse`);
/// hidden directories, whose names could read as `.` or `...`, are never walked.
pub fn unaddressable(dir: &WsPath) -> Option<&str> {
    let spelt = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    dir.as_str().split('/').filter(|s| !s.is_empty()).find(|s| !spelt(s) || s.starts_with('.'))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageKind {
    Root,
    Domain,
    Product,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageInfo {
    pub dir: WsPath,
    pub kind: PackageKind,
    /// Index of the enclosing platform package (domain or root); `None` for the root.
    pub parent: Option<usize>,
    /// Whether the directory holds a `dbt_project.yml`.
    pub has_dbt_project: bool,
    /// A root with no manifest of its own: its platform is the published one
    /// `floe.lock` pins (see [`crate::lock`]).
    pub pinned: bool,
    /// Whether a product's directory holds a `datacontract.yaml`.
    pub has_contract: bool,
    /// A product's dbt sources: every model, property file, seed, snapshot,
    /// analysis and macro below its directory (sorted), of which the paths
    /// its `dbt_project.yml` configures are read.
    pub models: Vec<WsPath>,
}

impl PackageInfo {
    /// The file that defines the package.
    pub fn file(&self) -> WsPath {
        let name = match self.kind {
            PackageKind::Product => SPEC,
            _ if self.pinned => crate::lock::LOCK,
            _ => MANIFEST,
        };
        self.dir.join(name).expect("a file name joins")
    }
}

/// A file's path as [`Layout::from_files`] takes it: the walk's paths,
/// or the text a state's records were read with (see
/// `store::FileTable`), which makes a path of its own only for the files
/// the layout keeps.
pub trait FilePath {
    fn text(&self) -> &str;
    fn path(&self) -> WsPath;
}

impl FilePath for &WsPath {
    fn text(&self) -> &str {
        self.as_str()
    }

    fn path(&self) -> WsPath {
        (*self).clone()
    }
}

impl FilePath for &str {
    fn text(&self) -> &str {
        self
    }

    fn path(&self) -> WsPath {
        WsPath::of_text(self)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Sorted by directory; the root comes first.
    pub packages: Vec<PackageInfo>,
    /// Out-of-tree plugin executables under `floe-plugins/`, sorted.
    pub plugins: Vec<WsPath>,
    /// Contracts of products outside the workspace: every `datacontract.yaml`
    /// not beside a `floe.yaml`, sorted.
    pub contracts: Vec<WsPath>,
    /// Each package's children (packages whose parent it is), in order:
    /// looked up for every package, where a scan of all was quadratic.
    children: Vec<Vec<usize>>,
}

impl Layout {
    /// Builds the layout from every relevant file in the workspace. The root
    /// manifest, or a `floe.lock` at the root, must be among them.
    pub fn from_files<F: FilePath>(files: impl IntoIterator<Item = F>) -> (Layout, Vec<Diagnostic>) {
        use std::collections::{BTreeMap, BTreeSet};
        let mut manifests = BTreeSet::new();
        let mut specs = BTreeSet::new();
        let mut dbt: BTreeSet<WsPath> = BTreeSet::new();
        let mut contract_dirs = BTreeSet::new();
        let mut sources: Vec<F> = Vec::new();
        let mut plugins = Vec::new();
        let mut lock = false;
        // Directories are compared as text: a workspace has tens of thousands
        // of files, and a path made per file was most of this.
        for f in files {
            let Some(dir) = crate::path::ancestors(f.text()).next() else { continue };
            if is_plugin_dir(dir) {
                plugins.push(f.path());
                continue;
            }
            let set = match crate::path::file_name(f.text()) {
                MANIFEST => &mut manifests,
                SPEC => &mut specs,
                DBT_PROJECT => &mut dbt,
                CONTRACT => &mut contract_dirs,
                crate::lock::LOCK if dir.is_empty() => {
                    lock = true;
                    continue;
                }
                _ => {
                    sources.push(f);
                    continue;
                }
            };
            if !in_model_dir(dir) {
                // The directory of a path, normalized as that is.
                set.insert(WsPath::of_text(dir));
            }
        }
        // Each dbt source belongs to the dbt project it lies below (the
        // nearest `dbt_project.yml` above its directory), and so do the files
        // beside it that declare its packages; others are not read. Files
        // come sorted, so a directory's files come together: its project is
        // looked up once, and a project's files are gathered before they are
        // filed under it.
        let mut by_project: BTreeMap<WsPath, Vec<WsPath>> = BTreeMap::new();
        let mut last: Option<(&str, Option<&str>)> = None;
        let mut run: Option<(&str, Vec<WsPath>)> = None;
        for f in &sources {
            let text = f.text();
            let dir = crate::path::ancestors(text).next().unwrap_or_default();
            // The files declaring a project's packages lie beside its `dbt_project.yml`.
            let project = if floe_rules::dbt::PACKAGE_FILES.contains(&crate::path::file_name(text)) && dbt.contains(dir)
            {
                Some(dir)
            } else {
                if last.is_none_or(|(d, _)| d != dir) {
                    last = Some((dir, crate::path::ancestors(text).skip(1).find(|a| dbt.contains(*a))));
                }
                last.and_then(|(_, p)| p)
            };
            let Some(project) = project else { continue };
            match &mut run {
                Some((p, files)) if *p == project => files.push(f.path()),
                _ => {
                    if let Some((p, files)) = run.replace((project, vec![f.path()])) {
                        by_project.entry(WsPath::of_text(p)).or_default().extend(files);
                    }
                }
            }
        }
        if let Some((p, files)) = run {
            by_project.entry(WsPath::of_text(p)).or_default().extend(files);
        }
        let mut diags = Vec::new();
        let mut packages: Vec<PackageInfo> = Vec::new();
        let mut children: Vec<Vec<usize>> = Vec::new();
        let mut dirs: Vec<(WsPath, PackageKind)> = Vec::new();
        for dir in &manifests {
            if specs.contains(dir) {
                diags.push(
                    Diagnostic::error(
                        Code::PackageConflict,
                        "a directory holds both a manifest.yaml and a floe.yaml; a package is a platform or a product",
                    )
                    .in_file(dir.join(SPEC).expect("joins").as_str())
                    .with_help("move the data product into a directory of its own"),
                );
                continue;
            }
            dirs.push((dir.clone(), if dir.is_root() { PackageKind::Root } else { PackageKind::Domain }));
        }
        for dir in &specs {
            if !manifests.contains(dir) {
                dirs.push((dir.clone(), PackageKind::Product));
            }
        }
        // Without a root manifest, the lock's platform is the root.
        let pinned = lock && !manifests.contains(&WsPath::ROOT);
        if pinned {
            // Both would be `//`: the products of a pinned platform live below it.
            if specs.contains(&WsPath::ROOT) {
                diags.push(
                    Diagnostic::error(
                        Code::PackageConflict,
                        "the workspace root holds both a floe.lock and a floe.yaml; a package is a platform or a product",
                    )
                    .in_file(SPEC)
                    .with_help("the root of a workspace that floe.lock pins is its platform: move the data product into a directory of its own"),
                );
                dirs.retain(|(dir, _)| !dir.is_root());
            }
            dirs.push((WsPath::ROOT, PackageKind::Root));
        }
        dirs.sort();
        dirs.retain(|(dir, kind)| {
            let Some(segment) = unaddressable(dir) else { return true };
            let file = dir.join(if *kind == PackageKind::Product { SPEC } else { MANIFEST }).expect("joins");
            let mut d = Diagnostic::error(
                Code::UnaddressablePackage,
                format!("no label can name the package in `{dir}`: labels cannot spell `{segment}`"),
            )
            .with_help("label paths are ASCII letters, digits, `-`, `_` and `.`: rename the directory");
            // About the path, not the file's text: no position in it.
            d.file = Some(file.to_string());
            diags.push(d);
            false
        });
        // The platform packages placed so far, by directory.
        let mut platforms: std::collections::BTreeMap<String, usize> = Default::default();
        for (dir, kind) in dirs {
            // The nearest enclosing platform package; packages are sorted, so
            // every ancestor is already placed.
            let parent = dir.ancestors().find_map(|a| platforms.get(a).copied());
            if kind == PackageKind::Domain
                && let Some(pi) = parent
                && packages[pi].kind == PackageKind::Domain
            {
                diags.push(
                    Diagnostic::error(
                        Code::ScopeMismatch,
                        format!("domain `//{}` lies inside domain `//{}`; domains do not nest", dir, packages[pi].dir),
                    )
                    .in_file(dir.join(MANIFEST).expect("joins").as_str())
                    .with_help("the tiers are enterprise, domain and product: move this domain beside the other"),
                );
                continue;
            }
            let has_dbt_project = dbt.contains(&dir);
            let mut models = match kind {
                PackageKind::Product => by_project.remove(&dir).unwrap_or_default(),
                _ => Vec::new(),
            };
            models.sort();
            let pinned = pinned && kind == PackageKind::Root;
            let has_contract = kind == PackageKind::Product && contract_dirs.remove(&dir);
            if kind != PackageKind::Product {
                platforms.insert(dir.as_str().to_owned(), packages.len());
            }
            if let Some(p) = parent {
                children[p].push(packages.len());
            }
            children.push(Vec::new());
            packages.push(PackageInfo { dir, kind, parent, pinned, has_dbt_project, has_contract, models });
        }
        plugins.sort();
        // What no product claimed; sorted, as the set was.
        let contracts = contract_dirs.into_iter().map(|d| d.join(CONTRACT).expect("joins")).collect();
        (Layout { packages, plugins, contracts, children }, diags)
    }

    /// The executable of the out-of-tree plugin `name`, if the workspace has one.
    pub fn plugin(&self, name: &str) -> Option<&WsPath> {
        self.plugins.iter().find(|p| p.file_name() == name)
    }

    /// The packages whose parent is package `index`, in order.
    pub fn children(&self, index: usize) -> impl Iterator<Item = &PackageInfo> {
        self.children[index].iter().map(|&i| &self.packages[i])
    }

    pub fn find(&self, dir: &WsPath) -> Option<usize> {
        self.packages.binary_search_by(|p| p.dir.cmp(dir)).ok()
    }

    /// The platform packages a package builds against, root first, ending with
    /// its own parent (for a product) or itself (for a platform package).
    pub fn chain(&self, index: usize) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut cur = match self.packages[index].kind {
            PackageKind::Product => self.packages[index].parent,
            _ => Some(index),
        };
        while let Some(i) = cur {
            chain.push(i);
            cur = self.packages[i].parent;
        }
        chain.reverse();
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_and_parents() {
        let files: Vec<WsPath> = [
            "manifest.yaml",
            "sales/manifest.yaml",
            "sales/c360/floe.yaml",
            "sales/c360/dbt_project.yml",
            "loose/floe.yaml",
            "sales/nested/manifest.yaml",
            "both/manifest.yaml",
            "both/floe.yaml",
        ]
        .iter()
        .map(|s| WsPath::new(s).unwrap())
        .collect();
        let (layout, diags) = Layout::from_files(&files);
        let dirs: Vec<(&str, PackageKind, Option<usize>)> =
            layout.packages.iter().map(|p| (p.dir.as_str(), p.kind, p.parent)).collect();
        assert_eq!(
            dirs,
            [
                ("", PackageKind::Root, None),
                ("loose", PackageKind::Product, Some(0)),
                ("sales", PackageKind::Domain, Some(0)),
                ("sales/c360", PackageKind::Product, Some(2)),
            ]
        );
        assert_eq!(diags.len(), 2);
        assert_eq!(layout.chain(3), [0, 2]);
        let children = |i| layout.children(i).map(|p| p.dir.as_str()).collect::<Vec<_>>();
        assert_eq!(
            (children(0), children(1), children(2), children(3)),
            (vec!["loose", "sales"], vec![], vec!["sales/c360"], vec![])
        );
        assert!(layout.packages[3].has_dbt_project);
    }

    #[test]
    fn dbt_files_go_to_the_nearest_project_and_products_to_the_nearest_platform() {
        // In sorted order `sales-2` comes between `sales` and `sales/a`, and
        // a nested project's files between two runs of `sales/a`'s.
        let files: Vec<WsPath> = [
            "loose/models/q.sql",
            "manifest.yaml",
            "sales-2/manifest.yaml",
            "sales-2/p/floe.yaml",
            "sales/a/dbt_project.yml",
            "sales/a/floe.yaml",
            "sales/a/models/sub/y.sql",
            "sales/a/models/w.sql",
            "sales/a/nested/dbt_project.yml",
            "sales/a/nested/models/z.sql",
            "sales/a/packages.yml",
            "sales/manifest.yaml",
        ]
        .iter()
        .map(|s| WsPath::new(s).unwrap())
        .collect();
        let (layout, diags) = Layout::from_files(&files);
        // The same from the paths' text, as a state's records are read.
        assert_eq!(Layout::from_files(files.iter().map(WsPath::as_str)), (layout.clone(), diags.clone()));
        assert_eq!(diags, []);
        let packages: Vec<(&str, Option<&str>, Vec<&str>)> = layout
            .packages
            .iter()
            .map(|p| {
                let parent = p.parent.map(|i| layout.packages[i].dir.as_str());
                (p.dir.as_str(), parent, p.models.iter().map(WsPath::as_str).collect())
            })
            .collect();
        assert_eq!(
            packages,
            [
                ("", None, vec![]),
                ("sales", Some(""), vec![]),
                ("sales-2", Some(""), vec![]),
                ("sales-2/p", Some("sales-2"), vec![]),
                (
                    "sales/a",
                    Some("sales"),
                    vec!["sales/a/models/sub/y.sql", "sales/a/models/w.sql", "sales/a/packages.yml"]
                ),
            ]
        );
    }

    #[test]
    fn a_package_is_built_only_if_a_label_can_name_it() {
        // What the layout accepts is exactly what labels parse to.
        for (dir, ok) in [
            ("sales/c360", true),
            ("sales/v1.2_x-y", true),
            ("sales/a b", false),
            ("a:b", false),
            ("café", false),
            ("sales/x@y", false),
        ] {
            let path = WsPath::new(dir).unwrap();
            assert_eq!(unaddressable(&path).is_none(), ok, "{dir}");
            let parsed = crate::label::parse(&format!("//{dir}"), &WsPath::ROOT);
            let names = matches!(&parsed, Ok(crate::label::Pattern::Package { dir: d, target: None }) if *d == path);
            assert_eq!(names, ok, "{dir}: {parsed:?}");
        }
        let files: Vec<WsPath> =
            ["manifest.yaml", "ok/floe.yaml", "my product/floe.yaml", "my product/models/x.sql", "d:x/manifest.yaml"]
                .iter()
                .map(|s| WsPath::new(s).unwrap())
                .collect();
        let (layout, diags) = Layout::from_files(&files);
        let dirs: Vec<&str> = layout.packages.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(dirs, ["", "ok"]);
        let reported: Vec<(Code, Option<&str>)> = diags.iter().map(|d| (d.code, d.file.as_deref())).collect();
        assert_eq!(
            reported,
            [
                (Code::UnaddressablePackage, Some("d:x/manifest.yaml")),
                (Code::UnaddressablePackage, Some("my product/floe.yaml"))
            ]
        );
    }
}
