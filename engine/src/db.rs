//! The salsa database: inputs set by the build, queries that evaluate packages.
//!
//! Inputs are the workspace layout, one [`SourceFile`] per package-defining file
//! (its revision is the hash of its bytes) and one [`Package`] per package.
//! Queries read file bytes through the driver's [`System`] and nothing else.
//!
//! Small firewall queries stand in front of big ones: [`platform_key`] hashes
//! the resolved platform, [`compute_key`] only its compute selection,
//! [`contracts`] only a product's output ports. A derivation depends on these
//! hashes, so an edit that does not change what a derivation reads (a comment,
//! a governance edit for a dbt profile, a producer's transforms for a consumer)
//! stops there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use floe_rules::product as checks;
use floe_rules::resolve::{ResolvedPlatform, Tier};
use floe_rules::secrets::InlineSecret;
use floe_rules::{artifacts, emit, enforce, profile, resolve, scan, secrets};

use crate::rule;
use floe_schemas::artifacts::{Mode, OpenDataContractStandard};
use floe_schemas::diag::{Code, Diagnostic, Severity};
use floe_schemas::manifest::Classification;
use floe_schemas::yaml::{LazyNode, Node, NodeKind};
use floe_schemas::{FloeSpec, Loaded, Manifest};
use serde_json::Value;

use crate::drv::DrvRecord;
use crate::hash::{Canonical, Hash};
use crate::label::{self, Target};
use crate::layout::{Layout, PackageKind};
use crate::path::WsPath;
use crate::system::{IoError, System};

#[salsa::db]
pub trait Db: salsa::Database {
    /// The bytes of a workspace file, through the driver's [`System`].
    fn read_file(&self, path: &WsPath) -> Result<Option<Vec<u8>>, IoError>;
    /// Runs the out-of-tree plugin at `path` on one request (see [`crate::external`]).
    fn run_plugin(&self, path: &WsPath, stdin: &[u8], limit: std::time::Duration) -> Result<crate::Ran, IoError>;
    /// An object of the store, verified (the platform `floe.lock` pins).
    fn read_object(&self, hash: Hash) -> Result<Option<Vec<u8>>, IoError>;
}

#[salsa::db]
#[derive(Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
    system: Arc<dyn System>,
    root: Arc<PathBuf>,
    store: Option<Arc<crate::store::Store>>,
    kept: Option<Arc<Kept>>,
}

impl Database {
    pub fn new(system: Arc<dyn System>, root: PathBuf) -> Database {
        Database { storage: salsa::Storage::default(), system, root: Arc::new(root), store: None, kept: None }
    }

    /// Objects are read from `store`: a database without one has none.
    pub fn with_store(self, store: Arc<crate::store::Store>) -> Database {
        Database { store: Some(store), ..self }
    }

    /// Files `kept` holds are read from it, not from the system.
    pub fn with_kept(self, kept: Option<Arc<Kept>>) -> Database {
        Database { kept, ..self }
    }
}

/// Bytes of workspace files the build read to hash them, handed to the
/// database instead of read again, for as long as it evaluates: on a
/// clean build every input was read twice, and a product file three times
/// (its secrets are scanned apart). They are the bytes the file's revision
/// is the hash of.
#[derive(Debug, Default)]
pub struct Kept(std::sync::RwLock<std::collections::HashMap<WsPath, Vec<u8>>>);

impl Kept {
    pub fn new(files: impl IntoIterator<Item = (WsPath, Vec<u8>)>) -> Kept {
        Kept(std::sync::RwLock::new(files.into_iter().collect()))
    }

    /// The bytes of `path`, if they are held.
    fn get(&self, path: &WsPath) -> Option<Vec<u8>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(path).cloned()
    }

    /// Holds nothing more, once the evaluation is over.
    pub fn clear(&self) {
        std::mem::take(&mut *self.0.write().unwrap_or_else(|e| e.into_inner()));
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn read_file(&self, path: &WsPath) -> Result<Option<Vec<u8>>, IoError> {
        if let Some(bytes) = self.kept.as_ref().and_then(|k| k.get(path)) {
            return Ok(Some(bytes));
        }
        self.system.read(&self.root.join(path.as_str()))
    }

    fn run_plugin(&self, path: &WsPath, stdin: &[u8], limit: std::time::Duration) -> Result<crate::Ran, IoError> {
        self.system.run_plugin(&self.root.join(path.as_str()), stdin, limit)
    }

    fn read_object(&self, hash: Hash) -> Result<Option<Vec<u8>>, IoError> {
        self.store.as_ref().map_or(Ok(None), |s| s.get_object(hash))
    }
}

/// Settings every build reads; each is an impure input the driver resolves once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    pub floe_version: String,
    /// `SOURCE_DATE_EPOCH`, else 0: the only time an output may contain.
    pub source_date_epoch: i64,
    /// One product compiled against one manifest outside a workspace (the
    /// `platform compile` form): the mode is `simple` (`mesh` under a
    /// domain), and the driver, which knows the real paths, checks
    /// `platform.manifest` and a domain's `parent_manifest`.
    pub standalone: bool,
    /// The evaluation date (`YYYY-MM-DD`) for expiring policy overrides:
    /// `SOURCE_DATE_EPOCH`'s, else today's in UTC. Not part of [`Settings::hash`]:
    /// only the enforcement of a product whose platform has an expiring
    /// override reads it, so only that product's record carries it (and its
    /// derivations see it through the enforcement result).
    pub today: String,
    /// The rules' versions: [`floe_rules::versions::CURRENT`], except in
    /// tests of what bumping one does.
    pub rules: floe_rules::versions::Versions,
}

impl Settings {
    /// What a package's record of its last evaluation holds under: the floe
    /// version too, since a newer floe may evaluate the same files otherwise
    /// (the keys of what it derives do not: see [`crate::drv`]).
    pub fn hash(&self) -> Hash {
        let v = &self.rules;
        Canonical::new("floe.settings.v2")
            .str(&self.floe_version)
            .u64(self.source_date_epoch as u64)
            .u64(u64::from(self.standalone))
            .u64(u64::from(v.compiled_artifacts))
            .u64(u64::from(v.dbt_profile))
            .u64(u64::from(v.enforcement))
            .u64(u64::from(v.resolved_manifest))
            .u64(u64::from(v.orchestration))
            .u64(u64::from(v.platform_helm_values))
            .u64(u64::from(v.jobs_helm_values))
            .u64(u64::from(v.k8s))
            .u64(u64::from(v.k8s_namespaces))
            .u64(u64::from(v.gitops))
            .u64(u64::from(v.contracts))
            .u64(u64::from(v.lineage))
            .finish()
    }
}

#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(ref)]
    pub path: WsPath,
    /// blake3 of the file's bytes; a new revision invalidates what read it.
    #[returns(copy)]
    pub revision: Hash,
}

#[salsa::input(debug)]
pub struct Workspace {
    #[returns(ref)]
    pub layout: Arc<Layout>,
    /// Every package-defining file, by path.
    #[returns(ref)]
    pub files: Arc<BTreeMap<WsPath, SourceFile>>,
    #[returns(ref)]
    pub settings: Settings,
    /// One per package of the layout, in its order (see [`Package`]).
    #[returns(ref)]
    pub packages: Arc<Vec<Package>>,
}

/// A package: made by the session for a directory, and kept for that
/// directory as long as the session lives, so that what was computed for it
/// stays valid when other packages come or go (only its `index` in the
/// layout moves then).
#[salsa::input(debug)]
pub struct Package {
    #[returns(copy)]
    pub workspace: Workspace,
    #[returns(copy)]
    pub index: usize,
}

/// The packages of a workspace, by layout index.
pub fn packages(db: &dyn Db, ws: Workspace) -> &[Package] {
    ws.packages(db)
}

fn file_of(db: &dyn Db, ws: Workspace, path: &WsPath) -> Option<SourceFile> {
    ws.files(db).get(path).copied()
}

/// A parsed input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed<T> {
    pub loaded: Loaded<T>,
    /// The document as written, in JSON form, secrets replaced by references.
    pub raw: Option<Value>,
    /// Hash of the normalized value: what derivations depend on.
    pub normal: Option<Hash>,
    pub secrets: Vec<InlineSecret>,
    pub io_error: Option<IoError>,
}

fn read(db: &dyn Db, file: SourceFile) -> Result<Vec<u8>, IoError> {
    // Reading the revision makes the query depend on it.
    let _ = file.revision(db);
    let path = file.path(db);
    db.read_file(path)?.ok_or_else(|| IoError {
        op: "read",
        path: PathBuf::from(path.as_str()),
        message: "the file disappeared during the build".to_owned(),
    })
}

#[salsa::tracked(returns(ref))]
pub fn parsed_manifest(db: &dyn Db, file: SourceFile) -> Arc<Parsed<Manifest>> {
    let path = file.path(db).as_str();
    let bytes = match read(db, file) {
        Ok(b) => b,
        Err(e) => return Arc::new(io_failure(e)),
    };
    let mut loaded = floe_schemas::load::<Manifest>(path, &bytes);
    read_plugin_config_as_written(&mut loaded, &bytes);
    let mut secrets_found = Vec::new();
    let raw = loaded.node.as_ref().map(|n| {
        let mut raw = n.to_json();
        secrets_found = secrets::redact_manifest(&mut raw);
        raw
    });
    let normal = match (&loaded.value, &raw) {
        (Some(_), Some(raw)) => Some(Hash::of_value(raw)),
        _ => None,
    };
    Arc::new(Parsed { loaded, raw, normal, secrets: secrets_found, io_error: None })
}

/// A plugin's configuration is checked against the plugin's own schema, not
/// the manifest's: a plain scalar it wants as a string (`user: y`) is read as
/// the text written there, as the manifest's own keys are (see `floe_schemas::load`).
fn read_plugin_config_as_written(loaded: &mut Loaded<Manifest>, bytes: &[u8]) {
    let (Some(node), Some(_)) = (loaded.node.as_mut(), loaded.value.as_ref()) else { return };
    let text = floe_schemas::yaml::source_text(bytes);
    let mut offsets = Vec::new();
    if let Some(NodeKind::Map(selections)) = node.get("plugins").map(|n| &n.kind) {
        for (key, selection) in selections {
            let plugin = floe_plugins::Category::from_key(&key.name)
                .zip(selection.get("type").and_then(Node::as_str))
                .and_then(|(category, name)| floe_plugins::find(category, name));
            let (Some(plugin), Some(config)) = (plugin, selection.get("config")) else { continue };
            let schema = plugin.plugin().config_schema();
            let mut checker = floe_schemas::check::Checker::new(&schema, "").with_text(text);
            checker.check_document(config);
            offsets.extend(checker.as_text);
        }
    }
    if offsets.is_empty() {
        return;
    }
    node.read_as_text(&offsets, text);
    if let Ok(value) = serde_json::from_value(node.to_json()) {
        loaded.value = Some(value);
    }
}

#[salsa::tracked(returns(ref))]
pub fn parsed_spec(db: &dyn Db, file: SourceFile) -> Arc<Parsed<FloeSpec>> {
    let mut parsed = parsed_value(db, file);
    // What a build's state keeps of a product file (a contract file's
    // bytes are its value there; see `Context::normal_of`).
    parsed.normal = parsed.loaded.value.as_ref().map(Hash::of_json);
    Arc::new(parsed)
}

/// A `datacontract.yaml`: beside a product's floe.yaml, or of a product
/// outside the workspace.
#[salsa::tracked(returns(ref))]
pub fn parsed_contract(db: &dyn Db, file: SourceFile) -> Arc<Parsed<OpenDataContractStandard>> {
    Arc::new(parsed_value(db, file))
}

/// A document kept as its value only: products and contracts are many, so
/// not their trees (see `LazyNode`).
fn parsed_value<T: floe_schemas::Document>(db: &dyn Db, file: SourceFile) -> Parsed<T> {
    let path = file.path(db).as_str();
    let bytes = match read(db, file) {
        Ok(b) => b,
        Err(e) => return io_failure(e),
    };
    let mut loaded = floe_schemas::load::<T>(path, &bytes);
    loaded.node = None;
    Parsed { loaded, raw: None, normal: None, secrets: Vec::new(), io_error: None }
}

/// The product's ports against those `floe.lock` pins (see
/// `floe_rules::contracts::evolution`).
fn evolution_diagnostics(
    db: &dyn Db,
    pkg: Package,
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    file: &str,
) -> Vec<Diagnostic> {
    let ws = pkg.workspace(db);
    let pinned = pinned(db, ws);
    let Some(lock) = pinned.lock.as_ref().filter(|l| !l.contracts.is_empty()) else { return Vec::new() };
    let label = label::package_label(&ws.layout(db).packages[pkg.index(db)].dir);
    let Some(lock_file) = file_of(db, ws, &WsPath::new(crate::lock::LOCK).expect("a plain name")) else {
        return Vec::new();
    };
    let lock_node = tree(db, lock_file);
    let pins: Vec<(&str, floe_rules::contracts::evolution::Baseline<'_>)> = lock
        .contracts
        .iter()
        .filter_map(|(key, pin)| {
            let (product, port) = key.rsplit_once(':')?;
            (product == label).then(|| {
                let base = floe_rules::contracts::evolution::Baseline {
                    version: &pin.version,
                    port: &pin.port,
                    file: crate::lock::LOCK,
                    span: lock_node.span_at(&["contracts", key]),
                };
                (port, base)
            })
        })
        .collect();
    floe_rules::contracts::evolution::check(spec, node, file, &label, &pins)
}

/// Where a product's input port `name` names what it reads: its file and
/// the span of its `from`.
pub fn input_port_at(db: &dyn Db, pkg: Package, name: &str) -> Option<(String, floe_schemas::Span)> {
    let ws = pkg.workspace(db);
    let path = ws.layout(db).packages[pkg.index(db)].file();
    let file = file_of(db, ws, &path)?;
    let spec = parsed_spec(db, file).loaded.value.as_ref()?;
    let i = spec.input_ports.iter().flatten().position(|p| p.name == name)?;
    Some((path.to_string(), tree(db, file).span_at(&["inputPorts", &i.to_string(), "from"])))
}

/// A product's own `datacontract.yaml` and its file, if it has one.
fn own_contract(db: &dyn Db, pkg: Package) -> Option<(SourceFile, &Arc<Parsed<OpenDataContractStandard>>)> {
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    if !info.has_contract {
        return None;
    }
    let file = file_of(db, ws, &info.dir.join(crate::layout::CONTRACT).expect("joins"))?;
    Some((file, parsed_contract(db, file)))
}

fn io_failure<T>(e: IoError) -> Parsed<T> {
    Parsed {
        loaded: Loaded { value: None, node: None, diagnostics: Vec::new() },
        raw: None,
        normal: None,
        secrets: Vec::new(),
        io_error: Some(e),
    }
}

/// What floe reads from a product's `dbt_project.yml`.
#[derive(Clone, Debug, PartialEq)]
pub struct DbtProject {
    pub profile: Option<String>,
    /// `version`, which the enforcement report names.
    pub version: Option<String>,
    /// Where its models, seeds and snapshots are (`model-paths`, …).
    pub paths: floe_rules::dbt::Paths,
    /// Its name and vars.
    pub settings: floe_rules::dbt::Settings,
    pub normal: Option<Hash>,
    pub diagnostics: Vec<Diagnostic>,
    pub io_error: Option<IoError>,
}

#[salsa::tracked(returns(ref))]
pub fn dbt_project(db: &dyn Db, file: SourceFile) -> Arc<DbtProject> {
    let path = file.path(db).as_str();
    let bytes = match read(db, file) {
        Ok(b) => b,
        Err(e) => {
            let io_error = Some(e);
            return Arc::new(DbtProject {
                profile: None,
                version: None,
                paths: Default::default(),
                settings: Default::default(),
                normal: None,
                diagnostics: Vec::new(),
                io_error,
            });
        }
    };
    match floe_schemas::yaml::parse(path, &bytes) {
        Ok(node) => {
            let profile = node.get("profile").and_then(Node::as_str).map(str::to_owned);
            // `version: '1.0.0'`, or a bare `version: 1.10`, read as written
            // (YAML reads it as the number 1.1).
            let version = node.get("version").and_then(|v| match &v.kind {
                NodeKind::Str(s) => Some(s.clone()),
                NodeKind::Int(_) | NodeKind::Float(_) => {
                    floe_schemas::yaml::scalar_text(floe_schemas::yaml::source_text(&bytes), v.span)
                }
                _ => None,
            });
            let mut diagnostics = Vec::new();
            if let Some(p) = node.get("profile")
                && p.as_str().is_none_or(|s| s.is_empty())
            {
                diagnostics.push(
                    Diagnostic::error(Code::WrongType, "`profile` must be the name of a dbt profile")
                        .at(path, p.span)
                        .with_help("dbt looks this name up in profiles.yml, e.g. `profile: customer_360`"),
                );
            }
            let paths = floe_rules::dbt::Paths::of(&node);
            let settings = floe_rules::dbt::Settings::of(&node);
            // The profile name reaches the outputs, the version the enforcement
            // report, the paths which files are read, the name and vars what
            // `ref()` calls name.
            let normal = Some(Hash::of_json(&(&profile, &version, &paths, &settings)));
            Arc::new(DbtProject { profile, version, paths, settings, normal, diagnostics, io_error: None })
        }
        Err(d) => Arc::new(DbtProject {
            profile: None,
            version: None,
            paths: Default::default(),
            settings: Default::default(),
            normal: None,
            diagnostics: vec![d],
            io_error: None,
        }),
    }
}

/// A product's dbt project: its models, property files, seeds and snapshots,
/// under the paths its `dbt_project.yml` configures.
#[derive(Clone, Debug, PartialEq)]
pub struct DbtModels {
    pub project: floe_rules::dbt::Project,
    /// What secret scanning found in the model files.
    pub secrets: Secrets,
    pub diagnostics: Vec<Diagnostic>,
    pub io_error: Option<IoError>,
}

/// Not a query of its own: the project is large (every model, column and
/// test) and only [`enforcement`] needs it whole, so it lives only while that
/// query runs instead of being memoized for every product of the workspace.
fn dbt_models(db: &dyn Db, pkg: Package) -> DbtModels {
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    let (paths, settings) = match dbt_file(db, pkg) {
        Some(f) => (dbt_project(db, f).paths.clone(), dbt_project(db, f).settings.clone()),
        None => Default::default(),
    };
    let mut out = DbtModels {
        project: floe_rules::dbt::Project::new(settings),
        secrets: Secrets::default(),
        diagnostics: Vec::new(),
        io_error: None,
    };
    let scanner = scanner(db, pkg);
    for path in &info.models {
        let rel = path.as_str().strip_prefix(info.dir.as_str()).map_or(path.as_str(), |r| r.trim_start_matches('/'));
        let Some(role) = paths.role(rel) else { continue };
        let Some(file) = file_of(db, ws, path) else { continue };
        let bytes = match read(db, file) {
            Ok(b) => b,
            Err(e) => {
                out.io_error = Some(e);
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Some(scanner) = scanner {
            out.secrets.scan(scanner, path.as_str(), &text);
        }
        use floe_rules::dbt::Role;
        let ext = path.as_str().rsplit('.').next().unwrap_or_default();
        match (role, ext) {
            (Role::Model, "sql") => out.project.add_sql(path.as_str(), &text),
            (Role::Seed, "csv") => out.project.add_seed(path.as_str()),
            (Role::Snapshot, "sql") => out.project.add_snapshots(&text),
            (Role::Model | Role::Seed | Role::Snapshot | Role::Packages, "yml" | "yaml") => {
                match floe_schemas::yaml::parse(path.as_str(), &bytes) {
                    Ok(node) if role == Role::Packages => out.project.add_packages(&node),
                    Ok(node) => out.project.add_properties(path.as_str(), floe_rules::dbt::properties(&node)),
                    Err(d) => out.diagnostics.push(d),
                }
            }
            // Analyses, macros and tests are scanned for secrets, not read as nodes.
            _ => {}
        }
    }
    out
}

/// The secret scanner a product's platform configures (`None` when the
/// platform does not resolve or its patterns do not compile: it reports that).
fn scanner(db: &dyn Db, pkg: Package) -> Option<&scan::Scanner> {
    platform(db, parent_platform(db, pkg)?).scanner.as_ref()
}

/// What secret scanning found: where (for diagnostics) and the values
/// themselves (to mask in outputs). Held in memory only, never stored or printed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secrets {
    pub found: Vec<(String, scan::Finding)>,
    pub values: Vec<String>,
    /// How many files were scanned.
    pub scanned: usize,
}

impl Secrets {
    fn scan(&mut self, scanner: &scan::Scanner, path: &str, text: &str) {
        self.scanned += 1;
        let found = scanner.scan(path, text);
        for value in found.iter().filter_map(|f| secret_value(text, f)) {
            // A value over several lines (a block scalar) reaches outputs
            // folded or joined: each of its lines is masked on its own too.
            if value.contains('\n') {
                let lines = value.lines().map(str::trim).filter(|l| l.chars().count() >= 4);
                self.values.extend(lines.map(str::to_owned));
            }
            self.values.push(value);
        }
        self.found.extend(found.into_iter().map(|f| (path.to_owned(), f)));
    }
}

/// A product's governance: its dbt project and files checked against every
/// policy of its platform.
#[derive(Clone, Debug, PartialEq)]
pub struct EnforcementEval {
    /// `None` when the product or its platform cannot be evaluated.
    pub output: Option<enforce::Output>,
    /// Problems reading the dbt model files (a property file that does not parse).
    pub model_diagnostics: Vec<Diagnostic>,
    /// Values secret scanning found in the product's files and its platform:
    /// masked in every output. Held in memory only, never stored or printed.
    pub secret_values: Vec<String>,
    pub io_error: Option<IoError>,
}

#[salsa::tracked(returns(ref))]
pub fn enforcement(db: &dyn Db, pkg: Package) -> Arc<EnforcementEval> {
    let _span = tracing::info_span!("enforce").entered();
    let none = |io_error| {
        Arc::new(EnforcementEval { output: None, model_diagnostics: Vec::new(), secret_values: Vec::new(), io_error })
    };
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let Some(parent) = parent_platform(db, pkg) else { return none(None) };
    let platform_eval = platform(db, parent);
    let Some(resolved) = platform_eval.resolved.as_ref() else { return none(None) };
    let path = info.file();
    let Some(file) = file_of(db, ws, &path) else { return none(None) };
    let parsed = parsed_spec(db, file);
    let Some(spec) = parsed.loaded.value.as_ref() else { return none(None) };
    let mut io_error = None;
    let mut secrets = Secrets { found: Vec::new(), values: platform_eval.secret_values.clone(), scanned: 0 };
    let mut models = None;
    let mut dbt_version = None;
    let scanner = scanner(db, pkg);
    let mut scan_file = |f: SourceFile, secrets: &mut Secrets| match (read(db, f), scanner) {
        (Ok(bytes), Some(scanner)) => secrets.scan(scanner, f.path(db).as_str(), &String::from_utf8_lossy(&bytes)),
        (Ok(_), None) => {}
        (Err(e), _) => io_error = Some(e),
    };
    scan_file(file, &mut secrets);
    if let Some(f) = dbt_file(db, pkg) {
        scan_file(f, &mut secrets);
        dbt_version = dbt_project(db, f).version.clone();
        let m = dbt_models(db, pkg);
        io_error = io_error.or(m.io_error.clone());
        secrets.found.extend(m.secrets.found.iter().cloned());
        secrets.values.extend(m.secrets.values.iter().cloned());
        secrets.scanned += m.secrets.scanned;
        models = Some(m);
    }
    let empty = floe_rules::dbt::Project::default();
    let project = models.as_ref().map_or(&empty, |m| &m.project);
    let settings = ws.settings(db);
    let node = tree(db, file);
    let label = label::package_label(&info.dir);
    let domain = domain_of(spec, resolved);
    let input = enforce::Input {
        product: &label,
        spec,
        spec_file: path.as_str(),
        spec_node: &node,
        has_project: info.has_dbt_project,
        project,
        dbt_version: dbt_version.as_deref().unwrap_or("unknown"),
        platform: resolved,
        secrets: &secrets.found,
        files_scanned: secrets.scanned,
        today: &settings.today,
        timestamp: &floe_rules::rfc3339(settings.source_date_epoch),
        domain: &domain,
    };
    let output = Some(enforce::enforce(&input));
    let mut secret_values = secrets.values;
    secret_values.sort();
    secret_values.dedup();
    let model_diagnostics = models.map(|m| m.diagnostics).unwrap_or_default();
    Arc::new(EnforcementEval { output, model_diagnostics, secret_values, io_error })
}

/// The text a finding covers.
fn secret_value(text: &str, f: &scan::Finding) -> Option<String> {
    let start = f.offset as usize;
    text.get(start..start + f.bytes as usize).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The domain a product belongs to: its domain tier in a mesh, else its
/// `domain` label, else `default`.
/// The domain a product belongs to: its platform's domain tier, else its
/// `domain` label (`None` when its spec or platform does not load).
pub fn product_domain(db: &dyn Db, pkg: Package) -> Option<String> {
    let eval = product(db, pkg);
    let spec = eval.spec.as_ref()?.loaded.value.as_ref()?;
    let full = platform_full(db, parent_platform(db, pkg)?).as_ref()?;
    Some(domain_of(spec, &full.platform))
}

fn domain_of(spec: &FloeSpec, platform: &ResolvedPlatform) -> String {
    match domain_tier(platform) {
        Some(name) => name.to_owned(),
        None => {
            spec.metadata.labels.as_ref().and_then(|l| l.get("domain").cloned()).unwrap_or_else(|| "default".to_owned())
        }
    }
}

/// The name of the domain tier of a platform (in the workspace, or in a
/// published platform), if it has one.
fn domain_tier(platform: &ResolvedPlatform) -> Option<&str> {
    let last = platform.chain.last().filter(|t| t.scope == Some(floe_schemas::manifest::Scope::Domain))?;
    Some(&last.name)
}

/// The published platform `floe.lock` pins, read from the store as one tier.
#[derive(Clone, Debug, PartialEq)]
pub struct PinnedEval {
    pub lock: Option<crate::lock::Lock>,
    pub tier: Option<PinnedTier>,
    /// Problems with the lock or what it pins, located in `floe.lock`.
    pub diagnostics: Vec<Diagnostic>,
    pub io_error: Option<IoError>,
}

/// A published platform as the tier above a workspace's own: its resolved
/// manifest, with the tier keys resolution drops from it put back from the
/// record (the root's approved plugins, the nearest approved products, the
/// scope of its root).
#[derive(Clone, Debug, PartialEq)]
pub struct PinnedTier {
    /// The reference `floe.lock` pins: what diagnostics and provenance name.
    pub label: String,
    pub manifest: Manifest,
    pub raw: Value,
    pub node: Node,
    /// The published platform's own chain of manifests.
    pub chain: Vec<floe_rules::resolve::TierRef>,
}

impl PinnedTier {
    fn tier(&self) -> Tier<'_> {
        Tier { label: &self.label, file: &self.label, manifest: &self.manifest, raw: &self.raw, node: &self.node }
    }
}

/// The platform `floe.lock` pins: the lock from the workspace, the resolved
/// manifest from the store. Neither is ever fetched here.
#[salsa::tracked(returns(ref))]
pub fn pinned(db: &dyn Db, ws: Workspace) -> Arc<PinnedEval> {
    use crate::lock::{LOCK, Lock};
    let fail = |lock, d: Diagnostic| Arc::new(PinnedEval { lock, tier: None, diagnostics: vec![d], io_error: None });
    let Some(file) = file_of(db, ws, &WsPath::new(LOCK).expect("a plain name")) else {
        return Arc::new(PinnedEval { lock: None, tier: None, diagnostics: Vec::new(), io_error: None });
    };
    let bytes = match read(db, file) {
        Ok(b) => b,
        Err(e) => return Arc::new(PinnedEval { lock: None, tier: None, diagnostics: Vec::new(), io_error: Some(e) }),
    };
    let lock = match Lock::decode(&bytes) {
        Ok(l) => l,
        Err(why) => {
            return fail(
                None,
                Diagnostic::error(Code::InvalidLock, format!("floe.lock cannot be read: {why}"))
                    .in_file(LOCK)
                    .with_help("floe writes this file: run `floe pull --update` to write it again"),
            );
        }
    };
    let (Some(pin), Some(hash)) = (&lock.platform, lock.resolved()) else {
        // A lock of contracts only: the workspace's platform is its own manifest.
        let diagnostics = match ws.layout(db).packages.first().is_some_and(|p| p.pinned) {
            true => vec![
                Diagnostic::error(Code::InvalidLock, "floe.lock pins no platform, and the root has no manifest.yaml")
                    .in_file(LOCK)
                    .with_help("pin the platform with `floe pull --update REFERENCE`, or add a root manifest.yaml"),
            ],
            false => Vec::new(),
        };
        return Arc::new(PinnedEval { lock: Some(lock), tier: None, diagnostics, io_error: None });
    };
    let resolved = match db.read_object(hash) {
        Ok(Some(b)) => b,
        Ok(None) => {
            let message =
                format!("the platform floe.lock pins (`{}`, {}) is not in the store", pin.reference, pin.digest);
            return fail(
                Some(lock),
                Diagnostic::error(Code::PinnedNotInStore, message)
                    .in_file(LOCK)
                    .with_help("run `floe pull`: it fetches the pinned digest, verifies it and keeps it in the store"),
            );
        }
        Err(e) => {
            return Arc::new(PinnedEval { lock: Some(lock), tier: None, diagnostics: Vec::new(), io_error: Some(e) });
        }
    };
    match pinned_tier(&pin.reference, &resolved) {
        Ok(tier) => {
            Arc::new(PinnedEval { lock: Some(lock), tier: Some(tier), diagnostics: Vec::new(), io_error: None })
        }
        Err(why) => {
            let message = format!("the platform floe.lock pins (`{}`) does not decode: {why}", pin.reference);
            fail(
                Some(lock),
                Diagnostic::error(Code::InvalidLock, message)
                    .in_file(LOCK)
                    .with_help("pin a platform published by `floe platform publish`, with `floe pull --update`"),
            )
        }
    }
}

/// Whether a `manifest.resolved.json` reads as a platform to pin.
pub fn check_pinned(reference: &str, bytes: &[u8]) -> Result<(), String> {
    pinned_tier(reference, bytes).map(|_| ())
}

/// A `manifest.resolved.json` as the tier above a workspace's own.
fn pinned_tier(reference: &str, bytes: &[u8]) -> Result<PinnedTier, String> {
    use floe_rules::resolve::TierRef;
    let doc = floe_schemas::yaml::parse(reference, bytes).map_err(|d| d.message)?;
    let node = doc.get("manifest").ok_or("it has no `manifest`")?.clone();
    let value = doc.to_json();
    let chain: Vec<TierRef> = serde_json::from_value(value.get("chain").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("`chain`: {e}"))?;
    let chain: Vec<TierRef> =
        chain.into_iter().map(|t| TierRef { label: format!("{reference}{}", t.label), ..t }).collect();
    let mut raw = node.to_json();
    let object = raw.as_object_mut().ok_or("`manifest` is not a mapping")?;
    // It stands where the workspace's root manifest would: an enterprise
    // (domains may lie below) or, merged from an enterprise and a domain, a
    // platform whose products lie directly below.
    if chain.last().and_then(|t| t.scope) == Some(floe_schemas::manifest::Scope::Enterprise) {
        object.insert("scope".to_owned(), Value::from("enterprise"));
    } else {
        object.remove("scope");
    }
    for key in ["approved_plugins", "approved_products"] {
        if let Some(v) = value.get(key).filter(|v| !v.is_null()) {
            object.insert(key.to_owned(), v.clone());
        }
    }
    let manifest: Manifest = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    Ok(PinnedTier { label: reference.to_owned(), manifest, raw, node, chain })
}

/// A platform package (the root or a domain) resolved through its tiers.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformEval {
    pub resolved: Option<Arc<ResolvedPlatform>>,
    /// This package's own problems and those of every tier above it.
    pub diagnostics: Vec<Diagnostic>,
    /// Set when this package or a tier above it has errors.
    pub failed: bool,
    pub io_error: Option<IoError>,
    /// The files the resolution read, root first.
    pub files: Vec<SourceFile>,
    /// Values secret scanning found in this tier and those above it: masked
    /// in every output. Held in memory only, never stored or printed.
    pub secret_values: Vec<String>,
    /// The secret scanner the resolved governance configures, built once for
    /// every product below (`None` when its patterns do not compile).
    pub scanner: Option<scan::Scanner>,
}

#[salsa::tracked(returns(ref))]
pub fn platform(db: &dyn Db, pkg: Package) -> Arc<PlatformEval> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    debug_assert!(info.kind != PackageKind::Product);
    let parent_eval = info.parent.map(|p| platform(db, packages(db, ws)[p]).clone());
    let own_path = info.file();
    if info.pinned
        && let Some(lock_file) = file_of(db, ws, &own_path)
    {
        return pinned_platform(db, ws, lock_file);
    }
    // Below a pinned root, the published platform is the first tier.
    let pin = layout.packages.first().filter(|r| r.pinned && info.parent.is_some()).map(|_| pinned(db, ws));
    let Some(own_file) = file_of(db, ws, &own_path) else {
        return Arc::new(PlatformEval {
            resolved: None,
            diagnostics: Vec::new(),
            failed: true,
            io_error: None,
            files: Vec::new(),
            secret_values: Vec::new(),
            scanner: None,
        });
    };
    let mut files = parent_eval.as_ref().map(|p| p.files.clone()).unwrap_or_default();
    files.push(own_file);
    let own = parsed_manifest(db, own_file);
    let mut diagnostics = parent_eval.as_ref().map(|p| p.diagnostics.clone()).unwrap_or_default();
    let mut own_diags = own.loaded.diagnostics.clone();
    let io_error = own.io_error.clone().or_else(|| parent_eval.as_ref().and_then(|p| p.io_error.clone()));
    let mut secret_values = parent_eval.as_ref().map(|p| p.secret_values.clone()).unwrap_or_default();
    let mut scanner = None;

    // The manifests of the chain; a pinned root's lock is no manifest.
    let manifests = &files[usize::from(pin.is_some())..];
    let tiers_parsed: Vec<&Arc<Parsed<Manifest>>> = manifests.iter().map(|f| parsed_manifest(db, *f)).collect();
    let pinned_tier = pin.as_ref().map(|p| p.tier.as_ref());
    let mut resolved = None;
    let mut external_io = None;
    if tiers_parsed.iter().all(|p| p.loaded.value.is_some()) && pinned_tier.is_none_or(|t| t.is_some()) {
        let chain = layout.chain(pkg.index(db));
        let labels: Vec<String> = chain[chain.len() - manifests.len()..]
            .iter()
            .map(|i| label::package_label(&layout.packages[*i].dir))
            .collect();
        let file_names: Vec<&str> = manifests.iter().map(|f| f.path(db).as_str()).collect();
        let tiers: Vec<Tier<'_>> = pinned_tier
            .flatten()
            .map(PinnedTier::tier)
            .into_iter()
            .chain(tiers_parsed.iter().enumerate().map(|(i, p)| Tier {
                label: &labels[i],
                file: file_names[i],
                manifest: p.loaded.value.as_ref().expect("checked above"),
                raw: p.raw.as_ref().expect("a loaded document has a tree"),
                node: p.loaded.node.as_ref().expect("a loaded document has a tree"),
            }))
            .collect();
        let (mut r, diags) = resolve::resolve(&tiers);
        // The published platform's own chain stands for its one tier.
        if let (Some(r), Some(Some(t))) = (&mut r, pinned_tier) {
            r.chain.splice(0..1, t.chain.iter().cloned());
        }
        // Problems in tiers above are reported by those tiers' own evaluation.
        own_diags.extend(diags.into_iter().filter(|d| d.file.as_deref().is_none_or(|f| f == own_path.as_str())));
        if let Some(own_manifest) = own.loaded.value.as_ref() {
            own_diags.extend(parent_manifest_diagnostics(
                db,
                ws,
                info.parent,
                own_manifest,
                own.loaded.node.as_ref(),
                &own_path,
            ));
        }
        if let Some(r) = &r {
            let external_categories: Vec<floe_plugins::Category> =
                crate::external::selected(db, ws, &r.merged).into_iter().map(|(c, _)| c).collect();
            let external_diags = crate::external::check(db, ws, r).unwrap_or_else(|e| {
                external_io = Some(e);
                Vec::new()
            });
            let plugins_span =
                own.loaded.node.as_ref().and_then(|n| n.entry("plugins")).map(|(k, _)| k.span).unwrap_or_default();
            let index = pkg.index(db);
            let serves_products = layout.children(index).any(|p| p.kind == PackageKind::Product);
            own_diags.extend(
                profile::check_platform(r, own_path.as_str(), plugins_span, serves_products)
                    .into_iter()
                    .chain(floe_rules::plugins::check(r, own_path.as_str(), &external_categories))
                    .chain(external_diags)
                    .filter(|d| d.file.as_deref().is_none_or(|f| f == own_path.as_str())),
            );
        }
        resolved = r.map(Arc::new);
    }
    let level = resolved.as_ref().and_then(|r| {
        r.merged
            .get("governance")
            .and_then(|g| g.get("policy_enforcement_level"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    own_diags.extend(secret_diagnostics(own, own_path.as_str(), level.as_deref().unwrap_or("warn")));
    if let Some(r) = &resolved {
        let own_file_only = |d: &Diagnostic| d.file.as_deref().is_none_or(|f| f == own_path.as_str());
        own_diags.extend(enforce::check_config(r).into_iter().filter(own_file_only));
        // Secret values anywhere in the manifest, beyond the credential keys above.
        let gov = r.manifest.governance.as_ref();
        scanner = scan::Scanner::new(gov.and_then(|g| g.secret_scanning.as_ref())).ok();
        if let (Some(scanner), Ok(bytes)) = (&scanner, read(db, own_file)) {
            let mut secrets = Secrets::default();
            secrets.scan(scanner, own_path.as_str(), &String::from_utf8_lossy(&bytes));
            secret_values.extend(secrets.values);
            let inline: std::collections::BTreeSet<u32> = own_diags
                .iter()
                .filter(|d| d.code == Code::InlineSecret)
                .filter_map(|d| d.span.map(|s| s.line))
                .collect();
            let found = secrets.found.into_iter().filter(|(_, f)| !inline.contains(&f.line));
            own_diags.extend(enforce::secret_diagnostics(found, enforce::level(gov)));
        }
    }
    diagnostics.extend(own_diags);
    let failed = parent_eval.as_ref().is_some_and(|p| p.failed)
        || diagnostics.iter().any(Diagnostic::is_error)
        || resolved.is_none();
    let io_error = io_error.or(external_io);
    Arc::new(PlatformEval { resolved, diagnostics, failed, io_error, files, secret_values, scanner })
}

/// The root of a workspace `floe.lock` pins: the published platform, checked
/// where it was published and only resolved here.
fn pinned_platform(db: &dyn Db, ws: Workspace, lock_file: SourceFile) -> Arc<PlatformEval> {
    let p = pinned(db, ws);
    let mut diagnostics = p.diagnostics.clone();
    let resolved = p.tier.as_ref().and_then(|t| {
        let (r, diags) = resolve::resolve(&[t.tier()]);
        diagnostics.extend(diags);
        r.map(|mut r| {
            r.chain = t.chain.clone();
            Arc::new(r)
        })
    });
    let gov = resolved.as_ref().and_then(|r| r.manifest.governance.as_ref());
    let scanner = scan::Scanner::new(gov.and_then(|g| g.secret_scanning.as_ref())).ok();
    let failed = resolved.is_none() || diagnostics.iter().any(Diagnostic::is_error);
    Arc::new(PlatformEval {
        resolved,
        diagnostics,
        failed,
        io_error: p.io_error.clone(),
        files: vec![lock_file],
        secret_values: Vec::new(),
        scanner,
    })
}

/// A reference below a pinned root must name the pinned platform; `what`
/// gives, for the pinned reference, what the package should name and how.
fn pinned_reference_diagnostics(
    db: &dyn Db,
    ws: Workspace,
    reference: &str,
    (file, span): (&str, &dyn Fn() -> floe_schemas::diag::Span),
    what: impl FnOnce(&str) -> (&'static str, String),
) -> Vec<Diagnostic> {
    let pin = pinned(db, ws);
    // Without a readable lock, the lock's own diagnostic says why.
    let Some(lock) = &pin.lock else { return Vec::new() };
    let Some(platform) = &lock.platform else {
        return match reference.starts_with("oci://") {
            true => vec![
                Diagnostic::error(Code::UnpinnedReference, format!("`{reference}` is not pinned in floe.lock"))
                    .at(file, span())
                    .with_help(format!("pin it: `floe pull --update {reference}`")),
            ],
            false => Vec::new(),
        };
    };
    if crate::lock::names(platform, reference) {
        return Vec::new();
    }
    let (expected, help) = what(&platform.reference);
    let (code, message) = match reference.starts_with("oci://") {
        true => (Code::UnpinnedReference, format!("`{reference}` is not pinned in floe.lock")),
        false => (Code::PlatformMismatch, format!("`{reference}` is not {expected}")),
    };
    vec![Diagnostic::error(code, message).at(file, span()).with_help(help)]
}

/// A domain's `parent_manifest`, when given, must name the workspace root.
fn parent_manifest_diagnostics(
    db: &dyn Db,
    ws: Workspace,
    parent: Option<usize>,
    manifest: &Manifest,
    node: Option<&Node>,
    own_path: &WsPath,
) -> Vec<Diagnostic> {
    let Some(reference) = &manifest.parent_manifest else { return Vec::new() };
    if ws.settings(db).standalone {
        return Vec::new();
    }
    let span = node.and_then(|n| n.get("parent_manifest")).map(|n| n.span).unwrap_or_default();
    let file = own_path.as_str();
    let layout = ws.layout(db);
    if parent.is_some_and(|p| layout.packages[p].pinned) {
        return pinned_reference_diagnostics(db, ws, reference, (file, &|| span), |r| {
            (
                "this domain's parent",
                format!(
                    "the parent of this domain is the platform floe.lock pins: use `parent_manifest: {r}`, or remove the key"
                ),
            )
        });
    }
    if reference.starts_with("oci://") {
        return vec![
            Diagnostic::error(Code::UnpinnedReference, format!("`{reference}` is not pinned in floe.lock"))
                .at(file, span)
                .with_help("inside a workspace the parent is the root manifest: remove `parent_manifest`"),
        ];
    }
    let dir = own_path.parent().unwrap_or_default();
    let Some(target) = dir.join(reference) else {
        return vec![
            Diagnostic::error(Code::MissingParent, format!("`{reference}` leads outside the workspace"))
                .at(file, span)
                .with_help("point `parent_manifest` at the root manifest.yaml, or remove it"),
        ];
    };
    if &target == own_path {
        return vec![
            Diagnostic::error(Code::ManifestCycle, "this manifest names itself as its parent")
                .at(file, span)
                .with_help("remove `parent_manifest`: the parent is the workspace root manifest"),
        ];
    }
    let expected = parent.map(|p| layout.packages[p].file());
    if Some(&target) == expected.as_ref() {
        return Vec::new();
    }
    let help = match &expected {
        Some(e) => {
            format!("the parent of a domain is the workspace root: use `{}`, or remove the key", e.relative_from(&dir))
        }
        None => "the root manifest has no parent: remove `parent_manifest`".to_owned(),
    };
    if file_of(db, ws, &target).is_none() {
        return vec![
            Diagnostic::error(Code::MissingParent, format!("parent manifest `{reference}` does not exist"))
                .at(file, span)
                .with_help(help),
        ];
    }
    vec![
        Diagnostic::error(Code::PlatformMismatch, format!("`{reference}` is not this domain's parent"))
            .at(file, span)
            .with_help(help),
    ]
}

fn secret_diagnostics(parsed: &Parsed<Manifest>, file: &str, level: &str) -> Vec<Diagnostic> {
    let severity = match level {
        "strict" => Severity::Error,
        "off" => return Vec::new(),
        _ => Severity::Warning,
    };
    let node = parsed.loaded.node.as_ref();
    parsed
        .secrets
        .iter()
        .map(|s| {
            let span = node.map(|n| n.find(s.path.iter().map(String::as_str)).span).unwrap_or_default();
            let mut d = Diagnostic::error(
                Code::InlineSecret,
                format!("inline credential at `{}`", s.path.join(".").replace(".[", "[")),
            )
            .at(file, span)
            .with_help(format!(
                "store it in the Kubernetes Secret `{}` under key `{}`; floe references it and never writes the value",
                s.reference.name, s.reference.key
            ));
            d.severity = severity;
            d
        })
        .collect()
}

/// A platform as one [`rule::View`] sees it: the value derivations are keyed
/// on (secrets masked) and the platform decoded from that value alone.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformView {
    pub part: rule::Part,
    pub platform: Arc<ResolvedPlatform>,
}

fn view(db: &dyn Db, pkg: Package, view: rule::View) -> Option<Arc<PlatformView>> {
    let eval = platform(db, pkg);
    let mut value = view.value(eval.resolved.as_ref()?);
    rule::mask(&mut value, &eval.secret_values);
    let platform = rule::platform(&value).ok()?;
    Some(Arc::new(PlatformView { part: rule::Part::new(value), platform: Arc::new(platform) }))
}

/// The whole platform, decoded once for every product below it.
#[salsa::tracked(returns(ref))]
pub fn platform_full(db: &dyn Db, pkg: Package) -> Option<Arc<PlatformView>> {
    view(db, pkg, rule::View::Full)
}

/// The platform's identity and plugin selections, decoded once.
#[salsa::tracked(returns(ref))]
pub fn platform_plugins(db: &dyn Db, pkg: Package) -> Option<Arc<PlatformView>> {
    view(db, pkg, rule::View::Plugins)
}

/// What a dbt profile reads of the platform, decoded once.
#[salsa::tracked(returns(ref))]
pub fn platform_compute(db: &dyn Db, pkg: Package) -> Option<Arc<PlatformView>> {
    view(db, pkg, rule::View::Compute)
}

fn platform_view(db: &dyn Db, pkg: Package, v: rule::View) -> Option<&Arc<PlatformView>> {
    match v {
        rule::View::Full => platform_full(db, pkg),
        rule::View::Plugins => platform_plugins(db, pkg),
        rule::View::Compute => platform_compute(db, pkg),
    }
    .as_ref()
}

/// The secrets a platform's runs read, once per platform (from its plugins view).
#[salsa::tracked(returns(ref))]
pub fn orchestration_env(db: &dyn Db, pkg: Package) -> floe_rules::orchestration::SecretEnv {
    platform_plugins(db, pkg)
        .as_ref()
        .map(|v| floe_rules::orchestration::secret_env_of(&v.platform))
        .unwrap_or_default()
}

/// What a platform gives every product's runs on Kubernetes, once per
/// platform (from its full view).
#[salsa::tracked(returns(ref))]
pub fn runs(db: &dyn Db, pkg: Package) -> Option<floe_rules::jobs::Runs> {
    platform_full(db, pkg).as_ref().map(|v| floe_rules::jobs::Runs::of(&v.platform))
}

/// What a platform puts in each of its namespaces, once per platform (from
/// its full view).
#[salsa::tracked(returns(ref))]
pub fn namespace_plan(db: &dyn Db, pkg: Package) -> Option<floe_rules::k8s::namespace::Plan> {
    platform_full(db, pkg).as_ref().map(|v| floe_rules::k8s::namespace::Plan::of(&v.platform))
}

/// The domains whose namespaces a platform package makes, each with the
/// directories of its products there, relative to the platform's: the
/// products right below it, by their domain. A domain's are all its own; a
/// root's are named by their `domain` label, so the root reads their specs
/// (a product that cannot be read, or names a domain that cannot name a
/// namespace, has errors of its own and no namespace here).
#[salsa::tracked(returns(ref))]
pub fn namespaces(db: &dyn Db, pkg: Package) -> BTreeMap<String, Vec<String>> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let index = pkg.index(db);
    let Some(full) = platform_full(db, pkg).as_ref() else { return BTreeMap::new() };
    let dir = &layout.packages[index].dir;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for info in &layout.packages {
        if info.kind != PackageKind::Product || info.parent != Some(index) {
            continue;
        }
        let domain = match domain_tier(&full.platform) {
            Some(name) => name.to_owned(),
            None => {
                let Some(file) = file_of(db, ws, &info.file()) else { continue };
                let parsed = parsed_spec(db, file);
                let Some(spec) = parsed.loaded.value.as_ref() else { continue };
                domain_of(spec, &full.platform)
            }
        };
        if domain.len() > floe_rules::k8s::DOMAIN_MAX || !floe_schemas::manifest::is_dns_label(&domain) {
            continue;
        }
        let relative = info.dir.as_str().strip_prefix(dir.as_str()).unwrap_or(info.dir.as_str());
        out.entry(domain).or_default().push(relative.trim_start_matches('/').to_owned());
    }
    out
}

/// A product evaluated against its platform and the products it reads from.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductEval {
    pub spec: Option<Arc<Parsed<FloeSpec>>>,
    pub diagnostics: Vec<Diagnostic>,
    pub failed: bool,
    pub io_error: Option<IoError>,
    /// Input port name to the producing package.
    pub producers: BTreeMap<String, Package>,
}

fn parent_platform(db: &dyn Db, pkg: Package) -> Option<Package> {
    let ws = pkg.workspace(db);
    ws.layout(db).packages[pkg.index(db)].parent.map(|p| packages(db, ws)[p])
}

#[salsa::tracked(returns(ref))]
pub fn product(db: &dyn Db, pkg: Package) -> Arc<ProductEval> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let path = info.file();
    let mut diagnostics = Vec::new();
    let mut io_error = None;
    let platform_eval = parent_platform(db, pkg).map(|p| platform(db, p).clone());
    if let Some(p) = &platform_eval {
        diagnostics.extend(p.diagnostics.iter().cloned());
        io_error = p.io_error.clone();
    }
    let Some(file) = file_of(db, ws, &path) else {
        return Arc::new(ProductEval { spec: None, diagnostics, failed: true, io_error, producers: BTreeMap::new() });
    };
    let spec = parsed_spec(db, file).clone();
    io_error = io_error.or_else(|| spec.io_error.clone());
    diagnostics.extend(spec.loaded.diagnostics.iter().cloned());
    if info.has_dbt_project
        && let Some(f) = file_of(db, ws, &info.dir.join(crate::layout::DBT_PROJECT).expect("joins"))
    {
        let dbt = dbt_project(db, f);
        diagnostics.extend(dbt.diagnostics.iter().cloned());
        io_error = io_error.or_else(|| dbt.io_error.clone());
    }
    let mut producers = BTreeMap::new();
    if let Some(value) = &spec.loaded.value {
        let node = tree(db, file);
        let node = &node;
        let file_name = path.as_str();
        if !info.has_dbt_project && !value.transforms.is_empty() {
            diagnostics.push(checks::transforms_without_project(value, node, file_name));
        }
        if let Some(resolved) = platform_eval.as_ref().and_then(|p| p.resolved.as_ref()) {
            diagnostics.extend(checks::check(value, node, file_name, resolved));
            let e = enforcement(db, pkg);
            diagnostics.extend(e.model_diagnostics.iter().cloned());
            io_error = io_error.or_else(|| e.io_error.clone());
            diagnostics.extend(e.output.iter().flat_map(|o| o.diagnostics.iter().cloned()));
        }
        diagnostics.extend(platform_ref_diagnostics(db, pkg, value, node));
        let cap = platform_eval
            .as_ref()
            .and_then(|p| p.resolved.as_ref())
            .and_then(|r| floe_rules::classify::cap(value, node, file_name, r));
        producers = check_input_ports(db, pkg, value, node, cap.as_ref(), &mut diagnostics);
        if value.input_ports.iter().flatten().any(|p| floe_rules::contracts::external::is_urn(&p.from)) {
            io_error = io_error.or_else(|| stored_contracts(db, ws).io_error.clone());
        }
        diagnostics.extend(evolution_diagnostics(db, pkg, value, node, file_name));
        if let Some((cf, contract)) = own_contract(db, pkg) {
            io_error = io_error.or_else(|| contract.io_error.clone());
            diagnostics.extend(contract.loaded.diagnostics.iter().cloned());
            if let Some(doc) = &contract.loaded.value {
                let cpath = cf.path(db).as_str();
                diagnostics.extend(floe_rules::contracts::explicit::check(
                    doc,
                    &tree(db, cf),
                    cpath,
                    value,
                    node,
                    file_name,
                ));
            }
        }
    }
    let failed = platform_eval.as_ref().is_none_or(|p| p.failed)
        || spec.loaded.value.is_none()
        || diagnostics.iter().any(Diagnostic::is_error);
    Arc::new(ProductEval { spec: Some(spec), diagnostics, failed, io_error, producers })
}

/// A package's diagnostics and I/O failure, whatever its kind.
pub fn evaluation(db: &dyn Db, pkg: Package) -> (Vec<Diagnostic>, Option<IoError>) {
    let ws = pkg.workspace(db);
    match ws.layout(db).packages[pkg.index(db)].kind {
        PackageKind::Product => {
            let e = product(db, pkg);
            (e.diagnostics.clone(), e.io_error.clone())
        }
        PackageKind::Root | PackageKind::Domain => {
            let e = platform(db, pkg);
            (e.diagnostics.clone(), e.io_error.clone())
        }
    }
}

/// A product file's tree, parsed again only if a diagnostic needs a position.
fn tree(db: &dyn Db, file: SourceFile) -> LazyNode<'_> {
    LazyNode::new(move || {
        let path = file.path(db);
        let bytes = db.read_file(path).ok().flatten()?;
        floe_schemas::yaml::parse(path.as_str(), &bytes).ok()
    })
}

/// `platform.manifest` must point at the manifest the product belongs to.
fn platform_ref_diagnostics(db: &dyn Db, pkg: Package, spec: &FloeSpec, node: &LazyNode<'_>) -> Vec<Diagnostic> {
    let Some(reference) = spec.platform.as_ref().map(|p| p.manifest.as_str()) else { return Vec::new() };
    let ws = pkg.workspace(db);
    if ws.settings(db).standalone {
        return Vec::new();
    }
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let path = info.file();
    // Asked for only by a diagnostic: finding it parses the file again.
    let span = || node.span_at(&["platform", "manifest"]);
    if info.parent.is_some_and(|p| layout.packages[p].pinned) {
        return pinned_reference_diagnostics(db, ws, reference, (path.as_str(), &span), |r| {
            (
                "the manifest this product belongs to",
                format!(
                    "this product belongs to the platform floe.lock pins: use `manifest: {r}`, or remove `platform`"
                ),
            )
        });
    }
    let expected = info.parent.map(|p| layout.packages[p].file());
    let help = |e: &Option<WsPath>| match e {
        Some(e) => format!(
            "this product belongs to `{}`: use `manifest: {}`, or remove `platform`",
            e,
            e.relative_from(&info.dir)
        ),
        None => "this product belongs to no platform manifest".to_owned(),
    };
    if reference.starts_with("oci://") {
        return vec![
            Diagnostic::error(Code::UnpinnedReference, format!("`{reference}` is not pinned in floe.lock"))
                .at(path.as_str(), span())
                .with_help(help(&expected)),
        ];
    }
    let target = info.dir.join(reference);
    if target.is_some() && target == expected {
        return Vec::new();
    }
    let exists = target.as_ref().is_some_and(|t| file_of(db, ws, t).is_some());
    let (code, message) = if exists {
        (Code::PlatformMismatch, format!("`{reference}` is not the manifest this product belongs to"))
    } else {
        (Code::MissingParent, format!("platform manifest `{reference}` does not exist"))
    };
    vec![Diagnostic::error(code, message).at(path.as_str(), span()).with_help(help(&expected))]
}

fn check_input_ports(
    db: &dyn Db,
    pkg: Package,
    spec: &FloeSpec,
    node: &LazyNode<'_>,
    cap: Option<&floe_rules::classify::Cap>,
    out: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Package> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let file = info.file();
    let mut producers = BTreeMap::new();
    for (i, port) in spec.input_ports.iter().flatten().enumerate() {
        let index = i.to_string();
        let err = |message: String, help: String| {
            let span = node.span_at(&["inputPorts", &index, "from"]);
            Diagnostic::error(Code::UnknownInputPort, message).at(file.as_str(), span).with_help(help)
        };
        if floe_rules::contracts::external::is_urn(&port.from) {
            check_urn_port(db, pkg, i, port, node, file.as_str(), cap, out);
            continue;
        }
        let Some((target, port_name)) = port.from.rsplit_once(':') else {
            out.push(err(
                format!("`{}` names no output port", port.from),
                "write `from: //domain/product:port`".to_owned(),
            ));
            continue;
        };
        let dir = match label::parse(target, &info.dir) {
            Ok(label::Pattern::Package { dir, target: None }) => dir,
            _ => {
                out.push(err(
                    format!("`{}` is not a product label", port.from),
                    "write `from: //domain/product:port`".to_owned(),
                ));
                continue;
            }
        };
        let producer_index = layout.find(&dir).filter(|i| layout.packages[*i].kind == PackageKind::Product);
        let Some(pi) = producer_index else {
            let labels: Vec<String> = layout
                .packages
                .iter()
                .filter(|p| p.kind == PackageKind::Product)
                .map(|p| label::package_label(&p.dir))
                .collect();
            let help = match floe_schemas::diag::suggest(&label::package_label(&dir), labels.iter().map(String::as_str))
            {
                Some(s) => format!("did you mean `{s}:{port_name}`?"),
                None => "`floe query //...` lists every product".to_owned(),
            };
            out.push(err(format!("no product `{}`", label::package_label(&dir)), help));
            continue;
        };
        let producer = packages(db, ws)[pi];
        if producer == pkg {
            out.push(err("a product cannot read its own output port".to_owned(), "remove this input port".to_owned()));
            continue;
        }
        let producer_file = layout.packages[pi].file();
        let Some(psf) = file_of(db, ws, &producer_file) else { continue };
        let parsed = parsed_spec(db, psf);
        let pnode = tree(db, psf);
        let Some(pspec) = &parsed.loaded.value else {
            out.push(err(
                format!("`{}` has errors; its ports cannot be read", label::package_label(&dir)),
                format!("fix `{producer_file}` first"),
            ));
            continue;
        };
        // A product its domain does not approve offers nothing to anyone.
        let approved = parent_platform(db, producer)
            .and_then(|parent| platform(db, parent).resolved.clone())
            .and_then(|r| r.approved_products.clone())
            .is_none_or(|(list, _)| list.contains(&pspec.metadata.name));
        if !approved {
            out.push(
                Diagnostic::error(
                    Code::ProductNotApproved,
                    format!("`{}` is not approved by its domain; its ports cannot be read", label::package_label(&dir)),
                )
                .at(file.as_str(), node.span_at(&["inputPorts", &index, "from"]))
                .with_help(format!(
                    "read an approved product, or ask its domain to add `{}` to `approved_products`",
                    pspec.metadata.name
                )),
            );
            continue;
        }
        let ports: Vec<&str> = pspec.output_ports.iter().flatten().map(|p| p.name.as_str()).collect();
        let Some(pidx) = ports.iter().position(|p| *p == port_name) else {
            let help = match floe_schemas::diag::suggest(port_name, ports.iter().copied()) {
                Some(s) => format!("did you mean `{}:{s}`?", label::package_label(&dir)),
                None if ports.is_empty() => format!("`{}` has no output ports", label::package_label(&dir)),
                None => format!("`{}` offers {}", label::package_label(&dir), ports.join(", ")),
            };
            out.push(err(format!("`{}` has no output port `{port_name}`", label::package_label(&dir)), help));
            continue;
        };
        let check = checks::PortCheck {
            port_index: i,
            port,
            producer: &pspec.output_ports.as_ref().expect("ports exist")[pidx],
            producer_file: producer_file.as_str(),
            producer_node: &pnode,
            producer_port_index: pidx,
        };
        out.extend(checks::check_input_port(&check, node, file.as_str()));
        if let Some(cap) = cap {
            let offered = &pspec.output_ports.as_ref().expect("ports exist")[pidx];
            let most = read_through(db, producer, offered, port.from.clone());
            if let Some(most) = most.filter(|m| m.level > cap.level) {
                let through =
                    if most.origin == port.from { String::new() } else { format!(" (from `{}`)", most.origin) };
                out.push(
                    Diagnostic::error(
                        Code::ClassificationNotAllowed,
                        format!(
                            "`{}` holds `{}` data{through}, above `{}`, the most this product may read",
                            port.from, most.level, cap.level
                        ),
                    )
                    .at(file.as_str(), node.span_at(&["inputPorts", &index, "from"]))
                    .with_help(format!(
                        "read a port classified at most `{}` (an anonymized one), or ask for a higher cap",
                        cap.level
                    ))
                    .with_note(
                        producer_file.as_str(),
                        pnode.span_at(&["outputPorts", &pidx.to_string(), "name"]),
                        "the producer's port is defined here",
                    )
                    .with_note(&cap.file, cap.span, "the cap is set here"),
                );
            }
        }
        producers.insert(port.name.clone(), producer);
    }
    if let Some(cycle) = product_cycle(db, pkg).as_ref() {
        let names: Vec<String> =
            cycle.iter().map(|p| label::package_label(&layout.packages[p.index(db)].dir)).collect();
        // Point at this product's port that leads into the cycle.
        let port = spec.input_ports.iter().flatten().position(|p| producers.get(&p.name) == Some(&cycle[1]));
        let span = match port {
            Some(i) => node.span_at(&["inputPorts", &i.to_string(), "from"]),
            None => node.span_at(&["inputPorts"]),
        };
        out.push(
            Diagnostic::error(
                Code::ProductCycle,
                format!("products read from each other in a cycle: {}", names.join(" → ")),
            )
            .at(file.as_str(), span)
            .with_help("data products form a DAG; one of these input ports has to go"),
        );
    }
    producers
}

/// A contract of a product outside the workspace, published and pinned in
/// `floe.lock`, as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredContract {
    /// `oci://…/sales/orders:1.0.0#datacontract-orders.yaml`: what diagnostics name it by.
    pub label: String,
    /// Loaded with its tree: such contracts are few, and have no file to parse again.
    pub doc: Arc<Parsed<OpenDataContractStandard>>,
}

/// The contracts `floe.lock` pins, read from the store (never fetched here).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredContracts {
    pub contracts: Vec<StoredContract>,
    /// Pinned contracts the store does not hold, located in `floe.lock`.
    pub diagnostics: Vec<Diagnostic>,
    pub io_error: Option<IoError>,
}

#[salsa::tracked(returns(ref))]
pub fn stored_contracts(db: &dyn Db, ws: Workspace) -> Arc<StoredContracts> {
    let mut out = StoredContracts { contracts: Vec::new(), diagnostics: Vec::new(), io_error: None };
    let Some(lock) = pinned(db, ws).lock.as_ref() else { return Arc::new(out) };
    for (reference, product) in &lock.products {
        for (name, hex) in &product.contracts {
            match db.read_object(Hash::from_hex(hex).expect("checked when decoded")) {
                Ok(Some(bytes)) => {
                    let label = format!("{reference}#{name}");
                    let loaded = floe_schemas::load::<OpenDataContractStandard>(&label, &bytes);
                    let doc = Parsed { loaded, raw: None, normal: None, secrets: Vec::new(), io_error: None };
                    out.contracts.push(StoredContract { label, doc: Arc::new(doc) });
                }
                Ok(None) => out.diagnostics.push(
                    Diagnostic::error(
                        Code::PinnedNotInStore,
                        format!("the contract `{name}` of `{reference}`, which floe.lock pins, is not in the store"),
                    )
                    .in_file(crate::lock::LOCK)
                    .with_help("run `floe pull`: it fetches the pinned digest, verifies it and keeps it in the store"),
                ),
                Err(e) => out.io_error = out.io_error.take().or(Some(e)),
            }
        }
    }
    Arc::new(out)
}

/// Whether a published product's contract file loads as one a port can
/// name by id: the error if not.
pub fn check_contract(label: &str, bytes: &[u8]) -> Result<(), String> {
    let loaded = floe_schemas::load::<OpenDataContractStandard>(label, bytes);
    if let Some(d) = loaded.diagnostics.iter().find(|d| d.is_error()) {
        return Err(d.message.clone());
    }
    match loaded.value.and_then(|v| v.id) {
        Some(_) => Ok(()),
        None => Err("it has no `id`".to_owned()),
    }
}

/// The contract a URN names among the contracts of products outside the
/// workspace (its files first, then those `floe.lock` pins from the store),
/// and the table the port reads; or what is wrong, with a help and where to
/// look.
#[derive(Clone)]
struct ExternalPort {
    /// The workspace file, or the label of a stored contract.
    path: String,
    file: Option<SourceFile>,
    doc: Arc<Parsed<OpenDataContractStandard>>,
    object: usize,
}

impl ExternalPort {
    fn node<'db>(&self, db: &'db dyn Db) -> LazyNode<'db> {
        match self.file {
            Some(f) => tree(db, f),
            None => {
                let node = self.doc.loaded.node.clone();
                LazyNode::new(move || node.clone())
            }
        }
    }
}

type UrnError = (String, String, Option<(String, floe_schemas::Span)>);

fn resolve_urn(db: &dyn Db, ws: Workspace, from: &str) -> Result<ExternalPort, UrnError> {
    use floe_rules::contracts::external;
    let files = ws.layout(db).contracts.iter().filter_map(|p| file_of(db, ws, p));
    let mut contracts: Vec<ExternalPort> = files
        .map(|f| ExternalPort {
            path: f.path(db).as_str().to_owned(),
            file: Some(f),
            doc: parsed_contract(db, f).clone(),
            object: 0,
        })
        .collect();
    contracts.extend(stored_contracts(db, ws).contracts.iter().map(|c| ExternalPort {
        path: c.label.clone(),
        file: None,
        doc: c.doc.clone(),
        object: 0,
    }));
    fn id(c: &ExternalPort) -> Option<&str> {
        c.doc.loaded.value.as_ref()?.id.as_deref()
    }
    let ids: Vec<&str> = contracts.iter().filter_map(id).collect();
    let wanted = external::wanted(from, &ids);
    let found: Vec<&ExternalPort> = contracts.iter().filter(|c| id(c) == Some(wanted.id)).collect();
    if found.is_empty() {
        let help = match floe_schemas::diag::suggest(wanted.id, ids.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "put the producer's contract in the workspace as a `datacontract.yaml`, or pin its published \
                     product with `floe pull --update oci://…` (floe never fetches one while building)"
                .to_owned(),
        };
        return Err((format!("no contract `{}` in the workspace or pinned in floe.lock", wanted.id), help, None));
    }
    let version = |c: &ExternalPort| c.doc.loaded.value.as_ref().and_then(|d| d.version.clone()).unwrap_or_default();
    // The first that satisfies the URN's version, if it names one.
    let at = match &wanted.version {
        Some(want) => found.iter().position(|c| external::satisfies(&version(c), want)),
        None => Some(0),
    };
    let Some(at) = at else {
        let want = wanted.version.as_ref().expect("no match without a version");
        let first = &found[0];
        let have = version(first);
        let versions: Vec<String> = found.iter().map(|c| format!("`{}`", version(c))).collect();
        let here = match versions.as_slice() {
            [one] => format!("its contract here is version {one}"),
            many => format!("its contracts here are versions {}", many.join(", ")),
        };
        return Err((
            format!("`{from}` asks for version {want} of `{}`, but {here}", wanted.id),
            match semver::Version::parse(&have) {
                Ok(h) if h.major == want.major && h < *want => {
                    format!("the contract here is older: update it, or read `{}:{have}`", wanted.id)
                }
                _ => format!(
                    "read a version compatible with `{have}` (the same major version), or update the contract file"
                ),
            },
            Some((first.path.clone(), first.node(db).span_at(&["version"]))),
        ));
    };
    let mut ext = found[at].clone();
    let doc = ext.doc.loaded.value.as_ref().expect("found by its id");
    let (object, _) = external::object(doc, wanted.table).map_err(|m| {
        (
            m,
            "name the table after the contract's id: `urn:…#<table>`".to_owned(),
            Some((ext.path.clone(), ext.node(db).span_at(&["schema"]))),
        )
    })?;
    ext.object = object;
    Ok(ext)
}

/// The product outside the workspace a URN port reads, as the mesh draws
/// it: the contract's id, its domain (`external` when it names none) and
/// the table.
pub fn external_producer(db: &dyn Db, ws: Workspace, from: &str) -> Option<(String, String, String)> {
    if !floe_rules::contracts::external::is_urn(from) {
        return None;
    }
    let ext = resolve_urn(db, ws, from).ok()?;
    let doc = ext.doc.loaded.value.as_ref()?;
    let table = doc.schema.as_deref()?[ext.object].name.clone().unwrap_or_default();
    Some((doc.id.clone()?, doc.domain.clone().unwrap_or_else(|| "external".to_owned()), table))
}

/// An input port naming a contract by its id: resolved, and its columns,
/// service levels and classification checked against the contract.
#[allow(clippy::too_many_arguments)]
fn check_urn_port(
    db: &dyn Db,
    pkg: Package,
    i: usize,
    port: &floe_schemas::spec::InputPort,
    node: &LazyNode<'_>,
    file: &str,
    cap: Option<&floe_rules::classify::Cap>,
    out: &mut Vec<Diagnostic>,
) {
    let index = i.to_string();
    // Asked for only by a diagnostic: finding it parses the file again.
    let span = || node.span_at(&["inputPorts", &index, "from"]);
    let ext = match resolve_urn(db, pkg.workspace(db), &port.from) {
        Ok(e) => e,
        Err((message, help, note)) => {
            let mut d = Diagnostic::error(Code::UnknownInputPort, message).at(file, span()).with_help(help);
            if let Some((f, s)) = note {
                d = d.with_note(&f, s, "the contract");
            }
            out.push(d);
            // A contract that does not load, or is not in the store, has no
            // id to be found by: its own errors say why.
            let ws = pkg.workspace(db);
            for path in &ws.layout(db).contracts {
                let Some(f) = file_of(db, ws, path) else { continue };
                let parsed = parsed_contract(db, f);
                if parsed.loaded.value.is_none() {
                    out.extend(parsed.loaded.diagnostics.iter().cloned());
                }
            }
            let stored = stored_contracts(db, ws);
            out.extend(stored.diagnostics.iter().cloned());
            let broken = stored.contracts.iter().filter(|c| c.doc.loaded.value.is_none());
            out.extend(broken.flat_map(|c| c.doc.loaded.diagnostics.iter().cloned()));
            return;
        }
    };
    let doc = ext.doc.loaded.value.as_ref().expect("resolved");
    let object = &doc.schema.as_deref().unwrap_or_default()[ext.object];
    let cfile = ext.path.as_str();
    let cnode = ext.node(db);
    let check = floe_rules::contracts::external::Check {
        port_index: i,
        port,
        doc,
        object_index: ext.object,
        object,
        contract_file: cfile,
        contract_node: &cnode,
    };
    out.extend(floe_rules::contracts::external::check(&check, node, file));
    if let (Some(cap), Some(level)) = (cap, floe_rules::contracts::external::level(object))
        && level > cap.level
    {
        out.push(
            Diagnostic::error(
                Code::ClassificationNotAllowed,
                format!("`{}` holds `{level}` data, above `{}`, the most this product may read", port.from, cap.level),
            )
            .at(file, span())
            .with_help(format!("read a table classified at most `{}`, or ask for a higher cap", cap.level))
            .with_note(cfile, cnode.span_at(&["schema", &ext.object.to_string(), "name"]), "the contract's table")
            .with_note(&cap.file, cap.span, "the cap is set here"),
        );
    }
}

/// The ports a product reads, as (producer, port name), by parsing specs
/// only (no evaluation, so a cycle among products cannot become a cycle
/// among queries).
fn direct_reads(db: &dyn Db, pkg: Package) -> Vec<(Package, String)> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let Some(spec) = spec_value(db, pkg) else { return Vec::new() };
    spec.input_ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let (target, port) = p.from.rsplit_once(':')?;
            match label::parse(target, &info.dir) {
                Ok(label::Pattern::Package { dir, target: None }) => layout
                    .find(&dir)
                    .filter(|i| layout.packages[*i].kind == PackageKind::Product)
                    .map(|i| (packages(db, ws)[i], port.to_owned())),
                _ => None,
            }
        })
        // Reading its own port is an error of its own, not a cycle.
        .filter(|(producer, _)| *producer != pkg)
        .collect()
}

/// The products a product reads from.
fn direct_producers(db: &dyn Db, pkg: Package) -> Vec<Package> {
    direct_reads(db, pkg).into_iter().map(|(p, _)| p).collect()
}

/// The levels of the tables a product reads from contracts of products
/// outside the workspace, by the URN it reads them through.
fn external_levels(db: &dyn Db, pkg: Package) -> Vec<(String, Classification)> {
    let ws = pkg.workspace(db);
    let Some(spec) = spec_value(db, pkg) else { return Vec::new() };
    spec.input_ports
        .iter()
        .flatten()
        .filter(|p| floe_rules::contracts::external::is_urn(&p.from))
        .filter_map(|p| {
            let ext = resolve_urn(db, ws, &p.from).ok()?;
            let doc = ext.doc.loaded.value.as_ref()?;
            let level = floe_rules::contracts::external::level(&doc.schema.as_deref()?[ext.object])?;
            Some((p.from.clone(), level))
        })
        .collect()
}

/// The most sensitive data a product reads, and the port that classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inherited {
    pub level: Classification,
    /// `//domain/product:port`.
    pub origin: String,
}

/// The most sensitive data a product reads through any number of products:
/// data keeps its classification downstream. `None` in a cycle (an error of
/// its own) and when nothing read is classified.
#[salsa::tracked(returns(ref))]
pub fn inherited(db: &dyn Db, pkg: Package) -> Option<Inherited> {
    if product_cycle(db, pkg).is_some() {
        return None;
    }
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let mut most: Option<Inherited> = None;
    for (from, level) in external_levels(db, pkg) {
        if most.as_ref().is_none_or(|m| level > m.level) {
            most = Some(Inherited { level, origin: from });
        }
    }
    for (producer, port) in direct_reads(db, pkg) {
        let Some(offered) =
            spec_value(db, producer).and_then(|s| s.output_ports.as_ref()?.iter().find(|p| p.name == port))
        else {
            continue;
        };
        let origin = format!("{}:{port}", label::package_label(&layout.packages[producer.index(db)].dir));
        if let Some(candidate) = read_through(db, producer, offered, origin)
            && most.as_ref().is_none_or(|m| candidate.level > m.level)
        {
            most = Some(candidate);
        }
    }
    most
}

/// The most sensitive data reading `port` of `producer` brings: the port's
/// own level (named `origin`) or what the producer reads, the port's on a tie.
fn read_through(
    db: &dyn Db,
    producer: Package,
    port: &floe_schemas::spec::OutputPort,
    origin: String,
) -> Option<Inherited> {
    let own = floe_rules::classify::port_level(port).map(|level| Inherited { level, origin });
    match (own, inherited(db, producer).clone()) {
        (Some(own), Some(up)) if up.level > own.level => Some(up),
        (own, up) => own.or(up),
    }
}

/// A cycle of products through `start`, as the packages along it (starting
/// and ending with `start`). Memoized: both the ports' check and the
/// inherited classification ask.
#[salsa::tracked(returns(ref))]
fn product_cycle(db: &dyn Db, start: Package) -> Option<Vec<Package>> {
    let mut stack = vec![(start, vec![start])];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((cur, trail)) = stack.pop() {
        for next in direct_producers(db, cur) {
            if next == start {
                let mut cycle = trail.clone();
                cycle.push(start);
                return Some(cycle);
            }
            if seen.insert(next.index(db)) {
                let mut t = trail.clone();
                t.push(next);
                stack.push((next, t));
            }
        }
    }
    None
}

/// The OpenLineage namespace a product reports under
/// ([`floe_rules::lineage::namespace`]): from its name, its domain and its
/// platform's lineage backend. Its consumers name the datasets of its ports
/// under it, so it reads the spec and the platform only, never the product's
/// evaluation (a consumer's record covers both: see `deps_of`).
#[salsa::tracked(returns(ref))]
pub fn lineage_namespace(db: &dyn Db, pkg: Package) -> Option<String> {
    let spec = spec_value(db, pkg)?;
    let full = platform_full(db, parent_platform(db, pkg)?).as_ref()?;
    let domain = domain_of(spec, &full.platform);
    Some(floe_rules::lineage::namespace(&full.platform, &spec.metadata.name, &domain))
}

/// One derivation: a target, the rule that builds it, and the one value the
/// rule reads (see [`rule`]); its key is the hash of exactly that value.
#[derive(Clone, Debug, PartialEq)]
pub struct Derivation {
    pub target: Target,
    pub rule: &'static str,
    pub rule_version: u32,
    pub input: rule::Input,
    /// Each part of `input` by its hash, as `floe.drv.json` lists them.
    pub inputs: BTreeMap<String, Hash>,
    pub key: Hash,
    /// Its files under `floe-out/<package>/`, in the order the rule returns them.
    pub outputs: Vec<String>,
}

impl Derivation {
    fn new(target: Target, rule_version: u32, input: rule::Input) -> Derivation {
        let outputs = target.outputs().iter().map(|o| (*o).to_owned()).collect();
        Derivation::with_outputs(target, rule_version, input, outputs)
    }

    /// A derivation whose file names depend on its input (an orchestrator's files).
    fn with_outputs(target: Target, rule_version: u32, input: rule::Input, outputs: Vec<String>) -> Derivation {
        let rule = target.rule();
        let inputs = input.hashes();
        let key = DrvRecord::new(rule, rule_version, inputs.clone(), outputs.clone()).key();
        Derivation { target, rule, rule_version, input, key, inputs, outputs }
    }

    /// The record its key is the hash of.
    pub fn record(&self) -> DrvRecord {
        DrvRecord::new(self.rule, self.rule_version, self.inputs.clone(), self.outputs.clone())
    }
}

/// The derivations of a package, or `None` when it cannot be built (see its
/// diagnostics). Not memoized: their inputs are large (the text of the files a
/// report quotes, the report itself), each caller asks once per package, and
/// what they are made of (evaluations, platform views) is memoized already.
pub fn derivations(db: &dyn Db, pkg: Package) -> Option<Vec<Derivation>> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let settings = ws.settings(db);
    let version = settings.floe_version.as_str();
    let v = &settings.rules;
    match info.kind {
        PackageKind::Root | PackageKind::Domain => {
            if platform(db, pkg).failed {
                return None;
            }
            let full_part = platform_full(db, pkg).as_ref()?.part.clone();
            let full = rule::Input::default().with("platform", full_part.clone());
            let plugins = rule::Input::default().with("platform", platform_plugins(db, pkg).as_ref()?.part.clone());
            let owned = namespaces(db, pkg);
            let domain_dirs: Vec<String> = layout
                .children(pkg.index(db))
                .filter(|p| p.kind == PackageKind::Domain)
                .map(|p| p.dir.as_str().strip_prefix(info.dir.as_str()).unwrap_or(p.dir.as_str()))
                .map(|d| d.trim_start_matches('/').to_owned())
                .collect();
            let dir = |domain: &str| format!("namespaces/{}", floe_rules::k8s::namespace::name(domain));
            let objects: Vec<String> = owned.keys().map(|d| format!("{}/k8s.yaml", dir(d))).collect();
            let mut layout_files: Vec<String> =
                owned.keys().map(|d| format!("{}/kustomization.yaml", dir(d))).collect();
            layout_files.push("kustomization.yaml".to_owned());
            let package = Value::from(crate::label::package_label(&info.dir));
            // The objects depend on which namespaces there are, not on
            // which products run in them: those are the GitOps tree's.
            let namespaces = rule::Input::default()
                .with("platform", full_part)
                .with("domains", serde_json::json!(owned.keys().collect::<Vec<_>>()))
                .with("package", package);
            let gitops = rule::Input::default()
                .with("namespaces", serde_json::to_value(owned).ok()?)
                .with("domain_dirs", serde_json::json!(domain_dirs));
            Some(vec![
                Derivation::new(Target::Manifest, v.resolved_manifest, full),
                Derivation::new(Target::HelmValues, v.platform_helm_values, plugins),
                Derivation::with_outputs(Target::Namespaces, v.k8s_namespaces, namespaces, objects),
                Derivation::with_outputs(Target::Gitops, v.gitops, gitops, layout_files),
            ])
        }
        PackageKind::Product => {
            let eval = product(db, pkg);
            if eval.failed {
                return None;
            }
            let parent = parent_platform(db, pkg)?;
            let spec = eval.spec.as_ref()?.loaded.value.as_ref()?;
            // Every value secret scanning found in what the product reads is
            // masked in every part (the platform's own are masked in its views).
            let secrets = &enforcement(db, pkg).secret_values;
            let spec_value = serde_json::to_value(spec).ok()?;
            let job = floe_rules::orchestration::job_spec(&spec_value);
            let full = platform_full(db, parent).as_ref()?;
            let domain = domain_of(spec, &full.platform);
            let name = profile_name(db, pkg, spec);
            let mut computes: Vec<&str> = spec.transforms.iter().filter_map(|t| t.compute.as_deref()).collect();
            computes.sort_unstable();
            computes.dedup();
            let executable = external_compute(db, pkg, &full.platform.merged);

            let mut profile = rule::Input::default()
                .with("platform", platform_compute(db, parent).as_ref()?.part.clone())
                .with("product", Value::from(spec.metadata.name.as_str()))
                .with("profile_name", Value::from(name.as_str()))
                .with("computes", serde_json::json!(computes));
            // Inside a workspace a product has a platform above it: two tiers
            // (root and product) are centralized, three are a mesh. Compiled
            // on its own against one manifest, a product is simple.
            let tiers = platform(db, parent).resolved.as_ref().map_or(1, |r| r.chain.len());
            let mode = match tiers {
                1 if settings.standalone => Mode::Simple,
                1 => Mode::Centralized,
                _ => Mode::Mesh,
            };
            // Its own contract file, merged over the generated ones.
            let explicit = floe_rules::contracts::explicit::value(
                own_contract(db, pkg).and_then(|(_, c)| c.loaded.value.as_ref()),
            );
            // What the product reads classifies what it offers.
            let inherited_level = serde_json::to_value(inherited(db, pkg).as_ref().map(|i| i.level)).ok()?;
            let warning_count = eval.diagnostics.iter().filter(|d| !d.is_error()).count();
            let enforced = enforcement(db, pkg).output.as_ref();
            let checked = enforced.map(|o| o.checked.clone()).unwrap_or_default();
            let files_scanned = enforced.map_or(0, |o| o.files_scanned);
            let mut artifacts = rule::Input::default()
                .with("spec", spec_value)
                .with("platform", full.part.clone())
                .with("mode", serde_json::to_value(mode).ok()?)
                .with("domain", Value::from(domain.as_str()))
                .with("profile_name", Value::from(name.as_str()))
                .with("compiled_at", Value::from(floe_rules::rfc3339(settings.source_date_epoch)))
                .with("floe_version", Value::from(version))
                .with("warning_count", Value::from(warning_count))
                .with("policy_types_checked", serde_json::json!(checked))
                .with("secrets_scanned", Value::from(files_scanned))
                .with("inherited", inherited_level.clone())
                .with("explicit", explicit.clone());
            if let Some(exe) = executable {
                // An out-of-tree compute plugin writes the profile: what it is
                // and what it is told (the domain) are read too.
                profile = profile.with("executable", exe.clone()).with("domain", Value::from(domain.as_str()));
                artifacts = artifacts.with("executable", exe);
            }
            let plugins = platform_plugins(db, parent).as_ref()?;
            let orchestration = rule::Input::default()
                .with("job", job.clone())
                .with("platform", plugins.part.clone())
                .with("domain", Value::from(domain.as_str()));
            let files = floe_rules::orchestration::file_names(&plugins.platform, spec);
            let enforcement = enforcement_input(db, pkg)?;
            let masked = |input: rule::Input| input.masked(secrets);
            let artifacts = Derivation::new(Target::Artifacts, v.compiled_artifacts, masked(artifacts));
            let profile = Derivation::new(Target::DbtProfile, v.dbt_profile, masked(profile));
            // The runs' values read the two files above: their keys stand for them.
            let runs = rule::Input::default()
                .with("artifacts", Value::from(artifacts.key.to_string()))
                .with("dbt_profile", Value::from(profile.key.to_string()))
                .with("job", job)
                .with("platform", full.part.clone())
                .with("domain", Value::from(domain.as_str()))
                .with("package", Value::from(crate::label::package_label(&info.dir)));
            let runs = masked(runs);
            // The objects carry the key of the derivation they come from, and
            // the values name it too (the chart annotates with it).
            let k8s = Derivation::new(Target::K8s, v.k8s, runs.clone());
            // A port's contract is made of the port, the product's name and
            // version and its domain: nothing else of the product reaches it.
            let ports = spec.output_ports.as_deref().unwrap_or_default();
            let contract_files = ports.iter().map(|p| floe_rules::contracts::file_name(&p.name)).collect();
            let contracts = rule::Input::default()
                .with("ports", serde_json::to_value(ports).ok()?)
                .with("product", Value::from(spec.metadata.name.as_str()))
                .with("version", Value::from(spec.metadata.version.as_str()))
                .with("domain", Value::from(domain.as_str()))
                .with("enforcement", Value::from(floe_rules::classify::enforcement(spec, &full.platform).as_str()))
                .with("inherited", inherited_level.clone())
                .with("explicit", explicit.clone());
            let values = runs.with("k8s", Value::from(k8s.key.to_string()));
            let lineage = masked(lineage_input(db, pkg, eval, spec, settings)?);
            // A product without ports has the target too, without files: a
            // build's record of a package holds a derivation per target.
            let contracts = Derivation::with_outputs(Target::Contracts, v.contracts, masked(contracts), contract_files);
            Some(vec![
                artifacts,
                profile,
                Derivation::new(Target::Enforcement, v.enforcement, masked(enforcement)),
                contracts,
                Derivation::new(Target::Lineage, v.lineage, lineage),
                Derivation::with_outputs(Target::Orchestration, v.orchestration, masked(orchestration), files),
                Derivation::new(Target::JobsValues, v.jobs_helm_values, values),
                k8s,
            ])
        }
    }
}

/// The lineage declarations' input: the product's name, version,
/// description and owner, its namespace, its output ports and what its
/// ingestion loads, and the datasets its input ports read, each as its
/// producer names it (the producer's namespace and port). Not its transforms,
/// nor anything of a producer but those names: a producer's column edit
/// rebuilds no consumer's lineage, a port renamed or a namespace moved does.
fn lineage_input(
    db: &dyn Db,
    pkg: Package,
    eval: &ProductEval,
    spec: &FloeSpec,
    settings: &Settings,
) -> Option<rule::Input> {
    let mut inputs = Vec::new();
    for port in spec.input_ports.iter().flatten() {
        // A product outside the workspace: named as its contract says it
        // reports, `<domain>.<dataProduct>` (the default template), else by
        // the contract's id.
        if floe_rules::contracts::external::is_urn(&port.from) {
            let Ok(ext) = resolve_urn(db, pkg.workspace(db), &port.from) else { continue };
            let Some(doc) = ext.doc.loaded.value.as_ref() else { continue };
            let namespace = match (&doc.domain, &doc.data_product) {
                (Some(d), Some(p)) => format!("{d}.{p}"),
                _ => doc.id.clone().unwrap_or_default(),
            };
            let name = doc.schema.as_deref().unwrap_or_default()[ext.object].name.clone().unwrap_or_default();
            let dataset = floe_rules::lineage::Dataset { namespace, name };
            if !inputs.contains(&dataset) {
                inputs.push(dataset);
            }
            continue;
        }
        // Every port of a product that builds has resolved to its producer.
        let Some(producer) = eval.producers.get(&port.name).copied() else { continue };
        let Some((_, name)) = port.from.rsplit_once(':') else { continue };
        // A producer whose platform does not load has no namespace (and
        // fails itself): its edge is declared once that platform loads, which
        // this product's record depends on.
        let Some(namespace) = lineage_namespace(db, producer).clone() else { continue };
        let dataset = floe_rules::lineage::Dataset { namespace, name: name.to_owned() };
        if !inputs.contains(&dataset) {
            inputs.push(dataset);
        }
    }
    let ingestion: Vec<floe_rules::lineage::Load> = spec
        .ingestion
        .iter()
        .flat_map(|i| &i.sources)
        .map(|s| floe_rules::lineage::Load { path: s.path.clone(), destination: s.destination.clone() })
        .collect();
    let ports: Vec<floe_rules::lineage::Port> =
        spec.output_ports.iter().flatten().map(floe_rules::lineage::Port::of).collect();
    let optional = |v: &Option<String>| v.as_deref().map_or(Value::Null, Value::from);
    Some(
        rule::Input::default()
            .with("product", Value::from(spec.metadata.name.as_str()))
            .with("version", Value::from(spec.metadata.version.as_str()))
            .with("description", optional(&spec.metadata.description))
            .with("owner", optional(&spec.metadata.owner))
            .with("namespace", Value::from(lineage_namespace(db, pkg).clone()?))
            .with("ports", serde_json::to_value(ports).ok()?)
            .with("ingestion", serde_json::to_value(ingestion).ok()?)
            .with("inputs", serde_json::to_value(inputs).ok()?)
            .with("compiled_at", Value::from(floe_rules::rfc3339(settings.source_date_epoch)))
            .with("floe_version", Value::from(settings.floe_version.as_str())),
    )
}

/// The enforcement report's input: what it says, where each finding is
/// written, and the text of the files it quotes (secrets masked). The
/// evaluation runs for every product anyway (its diagnostics decide the
/// build), so an edit that changes no finding changes no part of it.
fn enforcement_input(db: &dyn Db, pkg: Package) -> Option<rule::Input> {
    let out = enforcement(db, pkg).output.as_ref()?;
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    let fallback;
    let scanner = match scanner(db, pkg) {
        Some(s) => s,
        None => {
            fallback = scan::Scanner::new(None).expect("built-in patterns compile");
            &fallback
        }
    };
    let mut sources = BTreeMap::new();
    for (file, _) in out.locations.iter().flatten() {
        if sources.contains_key(file) {
            continue;
        }
        let Some(path) = WsPath::new(file) else { continue };
        let Some(f) = file_of(db, ws, &path) else { continue };
        if let Ok(bytes) = read(db, f) {
            let text = scanner.redact(&String::from_utf8_lossy(&bytes)).into_owned();
            sources.insert(file.clone(), floe_schemas::secret::mask_source(&text));
        }
    }
    let report = serde_json::json!({
        // The page names its product: two products with equal findings differ.
        "label": label::package_label(&info.dir),
        "result": out.result,
        "locations": out.locations,
    });
    Some(
        rule::Input::default()
            .with("report", report)
            .with("sources", serde_json::to_value(sources).ok()?)
            .with("floe_version", Value::from(ws.settings(db).floe_version.as_str())),
    )
}

/// The out-of-tree compute plugin a platform selects, as its path and the
/// hash of its bytes: a profile it writes depends on both.
fn external_compute(db: &dyn Db, pkg: Package, merged: &Value) -> Option<Value> {
    let ws = pkg.workspace(db);
    crate::external::selected(db, ws, merged)
        .into_iter()
        .find(|(c, _)| *c == floe_plugins::Category::Compute)
        .map(|(_, f)| serde_json::json!({"path": f.path(db).as_str(), "revision": f.revision(db).to_hex()}))
}

/// Whether a package's evaluation reads the evaluation date: a product whose
/// platform has an expiring policy override.
pub fn reads_date(db: &dyn Db, pkg: Package) -> bool {
    let ws = pkg.workspace(db);
    if ws.layout(db).packages[pkg.index(db)].kind != PackageKind::Product {
        return false;
    }
    parent_platform(db, pkg)
        .and_then(|p| platform(db, p).resolved.clone())
        .and_then(|r| r.manifest.governance.clone())
        .is_some_and(|g| enforce::needs_date(&g))
}

fn dbt_file(db: &dyn Db, pkg: Package) -> Option<SourceFile> {
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    if !info.has_dbt_project {
        return None;
    }
    file_of(db, ws, &info.dir.join(crate::layout::DBT_PROJECT).expect("joins"))
}

fn spec_file(db: &dyn Db, pkg: Package) -> WsPath {
    pkg.workspace(db).layout(db).packages[pkg.index(db)].file()
}

/// A product's `floe.yaml` as parsed, when it loads: read without
/// evaluating the product (so a cycle among products cannot become one
/// among queries).
fn spec_value(db: &dyn Db, pkg: Package) -> Option<&FloeSpec> {
    let file = file_of(db, pkg.workspace(db), &spec_file(db, pkg))?;
    parsed_spec(db, file).loaded.value.as_ref()
}

/// The dbt profile name a product's profile is written under.
fn profile_name(db: &dyn Db, pkg: Package, spec: &FloeSpec) -> String {
    dbt_file(db, pkg)
        .and_then(|f| dbt_project(db, f).profile.clone())
        .unwrap_or_else(|| spec.metadata.name.replace('-', "_"))
}

/// The bytes of one target's output, or the problems that prevent it.
/// One entry per file of [`Target::outputs`], in that order.
pub type Output = Result<Vec<Arc<Vec<u8>>>, OutputError>;

/// A product's floe-jobs values, from its `:helm-values` or `:k8s` input
/// (the same parts), naming `key`: the `:k8s` derivation's.
fn jobs_values(
    db: &dyn Db,
    pkg: Package,
    input: &rule::Input,
    key: &str,
    read: &Read,
) -> Result<Arc<floe_rules::k8s::ProductValues>, OutputError> {
    if let Some((made_for, values)) = read.values.get()
        && made_for == key
    {
        return Ok(values.clone());
    }
    let values = Arc::new(product_values(db, pkg, input, key, read)?);
    // Kept for the other target of the pair, when it is built too.
    let _ = read.values.set((key.to_owned(), values.clone()));
    Ok(values)
}

fn product_values(
    db: &dyn Db,
    pkg: Package,
    input: &rule::Input,
    key: &str,
    read: &Read,
) -> Result<floe_rules::k8s::ProductValues, OutputError> {
    let full = decoded(db, pkg, input, rule::View::Full)?;
    // What the platform gives every run, once per platform when the input
    // holds the platform's own view.
    let memo = parent_platform(db, pkg).and_then(|parent| {
        let view = platform_full(db, parent).as_ref()?;
        Arc::ptr_eq(&view.platform, &full).then(|| runs(db, parent).as_ref())?
    });
    let runs = match memo {
        Some(runs) => std::borrow::Cow::Borrowed(runs),
        None => std::borrow::Cow::Owned(floe_rules::jobs::Runs::of(&full)),
    };
    let spec: FloeSpec = input.decode("job").map_err(internal)?;
    let (artifacts, profile) = (read.text(Target::Artifacts)?, read.text(Target::DbtProfile)?);
    Ok(floe_rules::jobs::values(&floe_rules::jobs::JobInput {
        runs: &runs,
        spec: &spec,
        domain: input.str("domain"),
        artifacts: &artifacts,
        profile: &profile,
        key,
        package: input.str("package"),
    }))
}

/// A platform's `:k8s` files: the objects of each of its namespaces.
fn namespace_files(db: &dyn Db, pkg: Package, input: &rule::Input, key: &str) -> Result<Vec<Vec<u8>>, OutputError> {
    use floe_rules::k8s::namespace;
    let full = decoded(db, pkg, input, rule::View::Full)?;
    let memo = platform_full(db, pkg)
        .as_ref()
        .filter(|view| Arc::ptr_eq(&view.platform, &full))
        .and_then(|_| namespace_plan(db, pkg).as_ref());
    let plan = match memo {
        Some(plan) => std::borrow::Cow::Borrowed(plan),
        None => std::borrow::Cow::Owned(namespace::Plan::of(&full)),
    };
    let domains: Vec<String> = input.decode("domains").map_err(internal)?;
    let origin = namespace::Origin { key, package: input.str("package") };
    let yaml = |domain: &String| floe_rules::k8s::to_yaml(&namespace::objects(&full, &plan, domain, &origin));
    Ok(domains.iter().map(|d| yaml(d).into_bytes()).collect())
}

/// A platform's `:gitops` files: each namespace's kustomization (its
/// objects and its products' directories), then the platform's (its
/// namespaces and its domains).
fn gitops_files(input: &rule::Input) -> Result<Vec<Vec<u8>>, OutputError> {
    use floe_rules::k8s::namespace;
    let owned: BTreeMap<String, Vec<String>> = input.decode("namespaces").map_err(internal)?;
    let domain_dirs: Vec<String> = input.decode("domain_dirs").map_err(internal)?;
    let mut files = Vec::new();
    let mut top = Vec::new();
    for (domain, products) in &owned {
        let mut resources = vec!["k8s.yaml".to_owned()];
        resources.extend(products.iter().map(|p| format!("../../{p}")));
        files.push(namespace::kustomization(&resources).into_bytes());
        top.push(format!("namespaces/{}", namespace::name(domain)));
    }
    top.extend(domain_dirs);
    files.push(namespace::kustomization(&top).into_bytes());
    Ok(files)
}

/// The outputs of the package's targets built before this one, for a rule
/// that reads them ([`Target::reads`]); its key holds their keys.
#[derive(Default)]
pub struct Read {
    pub outputs: BTreeMap<Target, Vec<Vec<u8>>>,
    /// A product's floe-jobs values, made for the `:k8s` key they name:
    /// `:helm-values` and `:k8s` of one product are made of the same input
    /// (the first's is the second's with that key), so the second reuses them.
    values: std::sync::OnceLock<(String, Arc<floe_rules::k8s::ProductValues>)>,
}

impl Read {
    /// The first output of `target`, as text.
    fn text(&self, target: Target) -> Result<String, OutputError> {
        let bytes = self.outputs.get(&target).and_then(|files| files.first());
        let bytes = bytes
            .ok_or_else(|| OutputError::from(internal(format!("`{target}` was not built before what reads it"))))?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Why a target has no output: problems in the input, or a machine that
/// failed (never cached, and reported apart from the input's problems).
#[derive(Debug)]
pub enum OutputError {
    Diagnostics(Vec<Diagnostic>),
    Io(IoError),
}

impl From<Vec<Diagnostic>> for OutputError {
    fn from(diags: Vec<Diagnostic>) -> OutputError {
        OutputError::Diagnostics(diags)
    }
}

/// Values secret scanning found in what a package reads.
pub fn secret_values(db: &dyn Db, pkg: Package) -> Vec<String> {
    let ws = pkg.workspace(db);
    match ws.layout(db).packages[pkg.index(db)].kind {
        PackageKind::Product => enforcement(db, pkg).secret_values.clone(),
        PackageKind::Root | PackageKind::Domain => platform(db, pkg).secret_values.clone(),
    }
}

/// Runs the rule behind a derivation on its input, and on nothing else. Not
/// memoized: each output is computed once per build and written away.
///
/// The database is at hand for two things only: the decoded platform of a
/// view, reused when the input holds that very view's value (decoding it
/// again would give the same platform), and running the out-of-tree compute
/// plugin the input names by path and hash.
pub fn output(db: &dyn Db, pkg: Package, drv: &Derivation, read: &Read) -> Output {
    let input = &drv.input;
    let files = match drv.target {
        Target::JobsValues => {
            let product = jobs_values(db, pkg, input, input.str("k8s"), read)?;
            vec![floe_rules::k8s::values_yaml(&product).into_bytes()]
        }
        Target::K8s => {
            let product = jobs_values(db, pkg, input, &drv.key.to_string(), read)?;
            vec![
                floe_rules::k8s::yaml(&product).into_bytes(),
                floe_rules::k8s::namespace::kustomization(&["k8s.yaml".to_owned()]).into_bytes(),
            ]
        }
        Target::Namespaces => namespace_files(db, pkg, input, &drv.key.to_string())?,
        Target::Contracts => {
            let ports: Vec<floe_schemas::spec::OutputPort> = input.decode("ports").map_err(internal)?;
            let terms = floe_rules::contracts::Terms {
                enforcement: input.decode("enforcement").map_err(internal)?,
                inherited: input.decode("inherited").map_err(internal)?,
                explicit: input.get("explicit"),
            };
            floe_rules::contracts::files(input.str("product"), input.str("version"), &ports, input.str("domain"), terms)
        }
        Target::Lineage => {
            let ports: Vec<floe_rules::lineage::Port> = input.decode("ports").map_err(internal)?;
            let ingestion: Vec<floe_rules::lineage::Load> = input.decode("ingestion").map_err(internal)?;
            let inputs: Vec<floe_rules::lineage::Dataset> = input.decode("inputs").map_err(internal)?;
            let text = |name: &str| input.get(name).as_str();
            vec![floe_rules::lineage::file(&floe_rules::lineage::LineageInput {
                product: input.str("product"),
                version: input.str("version"),
                description: text("description"),
                owner: text("owner"),
                namespace: input.str("namespace"),
                ports: &ports,
                ingestion: &ingestion,
                inputs: &inputs,
                compiled_at: input.str("compiled_at"),
                floe_version: input.str("floe_version"),
            })]
        }
        Target::Gitops => gitops_files(input)?,
        Target::Manifest => {
            let p = decoded(db, pkg, input, rule::View::Full)?;
            vec![emit::json(&resolved_manifest_doc(&p))]
        }
        Target::HelmValues => {
            let p = decoded(db, pkg, input, rule::View::Plugins)?;
            vec![emit::yaml(&floe_rules::helm::values(&p)).into_bytes()]
        }
        Target::Orchestration => {
            let p = decoded(db, pkg, input, rule::View::Plugins)?;
            let spec: FloeSpec = input.decode("job").map_err(internal)?;
            let memo = parent_platform(db, pkg).and_then(|parent| {
                let view = platform_plugins(db, parent).as_ref()?;
                Arc::ptr_eq(&view.platform, &p).then(|| orchestration_env(db, parent))
            });
            let env = match memo {
                Some(env) => std::borrow::Cow::Borrowed(env),
                None => std::borrow::Cow::Owned(floe_rules::orchestration::secret_env_of(&p)),
            };
            let files = floe_rules::orchestration::definitions(&p, &spec, Some(input.str("domain")), &env)?;
            files.into_iter().map(|(_, text)| text.into_bytes()).collect()
        }
        Target::DbtProfile => {
            let p = decoded(db, pkg, input, rule::View::Compute)?;
            let computes: Vec<String> = input.decode("computes").map_err(internal)?;
            let profile = product_profile(db, pkg, input, &p, input.str("product"), &computes)?;
            vec![profile::profiles_yml(input.str("profile_name"), &profile).into_bytes()]
        }
        Target::Artifacts => {
            let full = decoded(db, pkg, input, rule::View::Full)?;
            // The profile the artifacts embed is made from the same view of
            // the platform as `profiles.yml` (decoded once per platform when
            // the input holds the platform's own full view).
            let memo = parent_platform(db, pkg).and_then(|parent| {
                let full_view = platform_full(db, parent).as_ref()?;
                Arc::ptr_eq(&full_view.platform, &full).then(|| platform_compute(db, parent).as_ref())?
            });
            let compute = match memo {
                Some(view) => view.platform.clone(),
                None => Arc::new(rule::platform(&rule::View::Compute.value(&full)).map_err(internal)?),
            };
            let spec: FloeSpec = input.decode("spec").map_err(internal)?;
            let mut computes: Vec<String> = spec.transforms.iter().filter_map(|t| t.compute.clone()).collect();
            computes.sort_unstable();
            computes.dedup();
            let profile_value = product_profile(db, pkg, input, &compute, &spec.metadata.name, &computes)?;
            let mode: Mode = input.decode("mode").map_err(internal)?;
            let warning_count: u32 = input.decode("warning_count").map_err(internal)?;
            let policy_types_checked: Vec<String> = input.decode("policy_types_checked").map_err(internal)?;
            let secrets_scanned: u32 = input.decode("secrets_scanned").map_err(internal)?;
            let compiled = artifacts::compile(&artifacts::ArtifactsInput {
                spec: &spec,
                platform: &full,
                mode,
                domain: input.str("domain"),
                profile_name: input.str("profile_name"),
                profile: &profile_value,
                compiled_at: input.str("compiled_at"),
                floe_version: input.str("floe_version"),
                source_hash: &drv.key.to_string(),
                warning_count,
                policy_types_checked: &policy_types_checked,
                secrets_scanned,
                inherited: input.decode("inherited").map_err(internal)?,
                explicit: input.get("explicit"),
            })?;
            vec![emit::json(&compiled)]
        }
        Target::Enforcement => {
            let report = input.get("report");
            let field = |name: &str| report.get(name).cloned().unwrap_or(Value::Null);
            let result: floe_schemas::enforcement::EnforcementResult =
                serde_json::from_value(field("result")).map_err(|e| internal(e.to_string()))?;
            let locations: Vec<Option<(String, floe_schemas::diag::Span)>> =
                serde_json::from_value(field("locations")).map_err(|e| internal(e.to_string()))?;
            let sources: BTreeMap<String, String> = input.decode("sources").map_err(internal)?;
            let label = report.get("label").and_then(Value::as_str).unwrap_or_default();
            let html = floe_rules::report::html(label, &result, &locations, &sources);
            let out =
                enforce::Output { result, diagnostics: Vec::new(), locations, checked: Vec::new(), files_scanned: 0 };
            let sarif = floe_schemas::sarif::log(&enforce::located(&out), input.str("floe_version"), None);
            vec![emit::json(&out.result), emit::json(&sarif), html.into_bytes()]
        }
    };
    Ok(files.into_iter().map(Arc::new).collect())
}

/// A part that does not decode is floe's own bug: its input was built from
/// values that did.
fn internal(message: String) -> Vec<Diagnostic> {
    vec![Diagnostic::error(Code::Internal, message).with_help("this is a bug in floe; please report it")]
}

/// The platform in `input`'s `platform` part: the memoized decoding of the
/// platform's view when the part is that very value, else decoded from it.
fn decoded(
    db: &dyn Db,
    pkg: Package,
    input: &rule::Input,
    view: rule::View,
) -> Result<Arc<ResolvedPlatform>, Vec<Diagnostic>> {
    let platform_pkg = match pkg.workspace(db).layout(db).packages[pkg.index(db)].kind {
        PackageKind::Product => parent_platform(db, pkg),
        PackageKind::Root | PackageKind::Domain => Some(pkg),
    };
    let part = input.part("platform");
    if let (Some(p), Some(part)) = (platform_pkg, part)
        && let Some(memo) = platform_view(db, p, view)
        && Arc::ptr_eq(memo.part.value(), part)
    {
        return Ok(memo.platform.clone());
    }
    rule::platform(input.get("platform")).map(Arc::new).map_err(internal)
}

/// A product's dbt profile: from the compute plugin, built in or out of tree.
fn product_profile(
    db: &dyn Db,
    pkg: Package,
    input: &rule::Input,
    platform: &ResolvedPlatform,
    name: &str,
    also: &[String],
) -> Result<Value, OutputError> {
    let executable = input.get("executable");
    let Some(path) = executable.get("path").and_then(Value::as_str) else {
        let also: Vec<&str> = also.iter().map(String::as_str).collect();
        return Ok(profile::profile(platform, name, &also)?);
    };
    let ws = pkg.workspace(db);
    let file = WsPath::new(path).and_then(|p| file_of(db, ws, &p));
    let revision = executable.get("revision").and_then(Value::as_str);
    let Some(file) = file.filter(|f| Some(f.revision(db).to_hex().as_str()) == revision) else {
        return Err(OutputError::Diagnostics(internal(format!("the plugin `{path}` changed during the build"))));
    };
    // A plugin that breaks the protocol is the product's diagnostic; a
    // machine that cannot run it is an infrastructure failure.
    match crate::external::dbt_profile(db, file, platform, name, input.str("domain")) {
        Ok(Ok(output)) => Ok(serde_json::json!({"target": profile::TARGET, "outputs": {profile::TARGET: output}})),
        Ok(Err(failure)) => Err(OutputError::Diagnostics(vec![
            Diagnostic::error(Code::ExternalPlugin, failure)
                .in_file(spec_file(db, pkg).as_str())
                .with_help(format!("the plugin is `{}`", file.path(db))),
        ])),
        Err(io) => Err(OutputError::Io(io)),
    }
}

/// `manifest.resolved.json`: the platform as its products see it.
/// `manifest.resolved.json`: the merged manifest, the chain it was merged
/// from, and what the chain approves (which a workspace that pins the
/// published platform holds its own manifests and products to).
fn resolved_manifest_doc(r: &ResolvedPlatform) -> Value {
    let mut doc = serde_json::json!({
        "chain": r.chain.iter().map(|t| serde_json::json!({
            "name": t.name, "version": t.version, "scope": t.scope, "label": t.label,
        })).collect::<Vec<_>>(),
        "manifest": r.merged,
    });
    if let Some(list) = &r.approved_plugins {
        doc["approved_plugins"] = serde_json::to_value(list).unwrap_or(Value::Null);
    }
    if let Some((list, _)) = &r.approved_products {
        doc["approved_products"] = serde_json::json!(list);
    }
    doc
}
