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
use floe_rules::{artifacts, emit, enforce, profile, resolve, scan, secrets, versions};
use floe_schemas::artifacts::Mode;
use floe_schemas::diag::{Code, Diagnostic, Severity};
use floe_schemas::yaml::{LazyNode, Node};
use floe_schemas::{FloeSpec, Loaded, Manifest};
use serde_json::Value;

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
}

#[salsa::db]
#[derive(Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
    system: Arc<dyn System>,
    root: Arc<PathBuf>,
}

impl Database {
    pub fn new(system: Arc<dyn System>, root: PathBuf) -> Database {
        Database { storage: salsa::Storage::default(), system, root: Arc::new(root) }
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn read_file(&self, path: &WsPath) -> Result<Option<Vec<u8>>, IoError> {
        self.system.read(&self.root.join(path.as_str()))
    }

    fn run_plugin(&self, path: &WsPath, stdin: &[u8], limit: std::time::Duration) -> Result<crate::Ran, IoError> {
        self.system.run_plugin(&self.root.join(path.as_str()), stdin, limit)
    }
}

/// Settings every build reads; each is an impure input the driver resolves once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    pub floe_version: String,
    /// `SOURCE_DATE_EPOCH`, else 0: the only time an output may contain.
    pub source_date_epoch: i64,
    /// One product compiled against one manifest outside a workspace (the
    /// `platform compile` form): the mode is `simple`, and the driver, which
    /// knows the real paths, checks `platform.manifest`.
    pub standalone: bool,
    /// The evaluation date (`YYYY-MM-DD`) for expiring policy overrides:
    /// `SOURCE_DATE_EPOCH`'s, else today's in UTC. Not part of [`Settings::hash`]:
    /// only the enforcement of a product whose platform has an expiring
    /// override reads it, and only that derivation's key carries it.
    pub today: String,
}

impl Settings {
    pub fn hash(&self) -> Hash {
        Canonical::new("floe.settings.v1")
            .str(&self.floe_version)
            .u64(self.source_date_epoch as u64)
            .u64(u64::from(self.standalone))
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
}

#[salsa::input(debug)]
pub struct Package {
    #[returns(copy)]
    pub workspace: Workspace,
    #[returns(copy)]
    pub index: usize,
}

/// The packages of a workspace, by layout index.
#[salsa::tracked(returns(ref))]
pub fn packages(db: &dyn Db, ws: Workspace) -> Vec<Package> {
    (0..ws.layout(db).packages.len()).map(|i| Package::new(db, ws, i)).collect()
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
    let loaded = floe_schemas::load::<Manifest>(path, &bytes);
    let mut secrets_found = Vec::new();
    let raw = loaded.node.as_ref().map(|n| {
        let mut raw = n.to_json();
        secrets_found = secrets::redact_manifest(&mut raw);
        raw
    });
    let normal = match (&loaded.value, &raw) {
        (Some(_), Some(raw)) => Some(Hash::of_json(raw)),
        _ => None,
    };
    Arc::new(Parsed { loaded, raw, normal, secrets: secrets_found, io_error: None })
}

#[salsa::tracked(returns(ref))]
pub fn parsed_spec(db: &dyn Db, file: SourceFile) -> Arc<Parsed<FloeSpec>> {
    let path = file.path(db).as_str();
    let bytes = match read(db, file) {
        Ok(b) => b,
        Err(e) => return Arc::new(io_failure(e)),
    };
    let mut loaded = floe_schemas::load::<FloeSpec>(path, &bytes);
    let normal = loaded.value.as_ref().map(Hash::of_json);
    // Products are many: keep the value, not the tree (see `LazyNode`).
    loaded.node = None;
    Arc::new(Parsed { loaded, raw: None, normal, secrets: Vec::new(), io_error: None })
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
                normal: None,
                diagnostics: Vec::new(),
                io_error,
            });
        }
    };
    match floe_schemas::yaml::parse(path, &bytes) {
        Ok(node) => {
            let profile = node.get("profile").and_then(Node::as_str).map(str::to_owned);
            // `version: '1.0.0'`, or a bare `version: 1.0` that YAML reads as a number.
            let version = node.get("version").and_then(|v| match v.to_json() {
                Value::String(s) => Some(s),
                n @ Value::Number(_) => Some(n.to_string()),
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
            // Only the profile name reaches an output.
            let normal = Some(Hash::of_json(&profile));
            Arc::new(DbtProject { profile, version, normal, diagnostics, io_error: None })
        }
        Err(d) => {
            Arc::new(DbtProject { profile: None, version: None, normal: None, diagnostics: vec![d], io_error: None })
        }
    }
}

/// A product's dbt project: its models and property files under `models/`.
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
    let mut out =
        DbtModels { project: Default::default(), secrets: Secrets::default(), diagnostics: Vec::new(), io_error: None };
    let scanner = scanner(db, pkg);
    for path in &info.models {
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
        if path.as_str().ends_with(".sql") {
            out.project.add_sql(path.as_str(), &text);
            continue;
        }
        match floe_schemas::yaml::parse(path.as_str(), &bytes) {
            Ok(node) => out.project.add_properties(path.as_str(), floe_rules::dbt::properties(&node)),
            Err(d) => out.diagnostics.push(d),
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
}

impl Secrets {
    fn scan(&mut self, scanner: &scan::Scanner, path: &str, text: &str) {
        let found = scanner.scan(path, text);
        self.values.extend(found.iter().filter_map(|f| secret_value(text, f)));
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
    let mut secrets = Secrets { found: Vec::new(), values: platform_eval.secret_values.clone() };
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
        models = Some(m);
    }
    let empty = floe_rules::dbt::Project::default();
    let project = models.as_ref().map_or(&empty, |m| &m.project);
    let settings = ws.settings(db);
    let node = tree(db, file);
    let label = label::package_label(&info.dir);
    let domain = domain_of(db, pkg, spec, resolved);
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

/// `bytes` with every found secret value replaced by the mask.
fn mask_values(bytes: Vec<u8>, values: &[String]) -> Vec<u8> {
    if values.is_empty() {
        return bytes;
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    // Longest first, so a value that contains another is masked whole.
    let mut values: Vec<&String> = values.iter().collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in values {
        text = text.replace(v.as_str(), floe_schemas::secret::MASK);
    }
    text.into_bytes()
}

/// Hash of what the enforcement report says and of the files it quotes: the
/// evaluation runs for every product anyway (its diagnostics decide the
/// build), so the report's derivation is keyed on its result, and an edit that
/// changes no finding (a comment, a reordered key) rebuilds no report.
#[salsa::tracked(returns(copy))]
pub fn enforcement_key(db: &dyn Db, pkg: Package) -> Option<Hash> {
    let out = enforcement(db, pkg).output.as_ref()?;
    let ws = pkg.workspace(db);
    let mut c = Canonical::new("floe.enforcement.v1");
    // The page names its product: two products with equal findings differ.
    let info = &ws.layout(db).packages[pkg.index(db)];
    c.str(&label::package_label(&info.dir)).hash(&Hash::of_json(&out.result));
    let mut quoted = std::collections::BTreeSet::new();
    for (file, span) in out.locations.iter().flatten() {
        c.str(file).u64(u64::from(span.line)).u64(u64::from(span.column)).u64(u64::from(span.len));
        quoted.insert(file.as_str());
    }
    for file in quoted {
        let revision = WsPath::new(file).and_then(|p| file_of(db, ws, &p)).map(|f| f.revision(db));
        c.str(file).hash(&revision.unwrap_or_default());
    }
    Some(c.finish())
}

/// The domain a product belongs to: its domain tier in a mesh, else its
/// `domain` label, else `default`.
fn domain_of(db: &dyn Db, pkg: Package, spec: &FloeSpec, platform: &ResolvedPlatform) -> String {
    let ws = pkg.workspace(db);
    if ws.layout(db).chain(pkg.index(db)).len() > 1 {
        platform.chain.last().map(|t| t.name.clone()).unwrap_or_default()
    } else {
        spec.metadata.labels.as_ref().and_then(|l| l.get("domain").cloned()).unwrap_or_else(|| "default".to_owned())
    }
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

    let tiers_parsed: Vec<&Arc<Parsed<Manifest>>> = files.iter().map(|f| parsed_manifest(db, *f)).collect();
    let mut resolved = None;
    let mut external_io = None;
    if tiers_parsed.iter().all(|p| p.loaded.value.is_some()) {
        let labels: Vec<String> =
            layout.chain(pkg.index(db)).iter().map(|i| label::package_label(&layout.packages[*i].dir)).collect();
        let file_names: Vec<&str> = files.iter().map(|f| f.path(db).as_str()).collect();
        let tiers: Vec<Tier<'_>> = tiers_parsed
            .iter()
            .enumerate()
            .map(|(i, p)| Tier {
                label: &labels[i],
                file: file_names[i],
                manifest: p.loaded.value.as_ref().expect("checked above"),
                raw: p.raw.as_ref().expect("a loaded document has a tree"),
                node: p.loaded.node.as_ref().expect("a loaded document has a tree"),
            })
            .collect();
        let (r, diags) = resolve::resolve(&tiers);
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
            let serves_products =
                layout.packages.iter().any(|p| p.kind == PackageKind::Product && p.parent == Some(index));
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
    let span = node.and_then(|n| n.get("parent_manifest")).map(|n| n.span).unwrap_or_default();
    let file = own_path.as_str();
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
    let layout = ws.layout(db);
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

/// Hash of everything the resolved platform decides, positions excluded.
#[salsa::tracked(returns(copy))]
pub fn platform_key(db: &dyn Db, pkg: Package) -> Option<Hash> {
    platform_input(db, pkg).map(|v| Hash::of_json(&v))
}

/// What the `platform` input of a derivation is the hash of.
pub fn platform_input(db: &dyn Db, pkg: Package) -> Option<Value> {
    let r = platform(db, pkg).resolved.clone()?;
    Some(crate::external::with_executables(db, pkg.workspace(db), &r.merged, r.key_value()))
}

/// What the `compute` input of a profile is the hash of.
pub fn compute_input(db: &dyn Db, pkg: Package) -> Option<Value> {
    let eval = platform(db, pkg);
    let merged = &eval.resolved.as_ref()?.merged;
    let plugins = merged.get("plugins");
    let part = |c: &str| plugins.and_then(|p| p.get(c)).cloned().unwrap_or(Value::Null);
    let value = serde_json::json!([part("compute"), part("storage"), part("catalog")]);
    Some(crate::external::with_executables(db, pkg.workspace(db), merged, value))
}

/// What the `orchestrator` input of a product's orchestration is the hash of.
pub fn orchestration_platform_input(db: &dyn Db, pkg: Package) -> Option<Value> {
    let eval = platform(db, pkg);
    let r = eval.resolved.as_ref()?;
    let value = floe_rules::orchestration::platform_input(r, orchestration_env(db, pkg));
    Some(crate::external::with_executables(db, pkg.workspace(db), &r.merged, value))
}

/// The secrets a platform's runs read, once per platform.
#[salsa::tracked(returns(ref))]
pub fn orchestration_env(db: &dyn Db, pkg: Package) -> floe_rules::orchestration::SecretEnv {
    platform(db, pkg).resolved.as_ref().map(|r| floe_rules::orchestration::secret_env_of(r)).unwrap_or_default()
}

/// [`orchestration_platform_input`]'s hash, once per platform.
#[salsa::tracked(returns(copy))]
pub fn orchestration_key(db: &dyn Db, pkg: Package) -> Option<Hash> {
    orchestration_platform_input(db, pkg).map(|v| Hash::of_json(&v))
}

/// What the `plugins` input of the platform's Helm values is the hash of.
pub fn plugins_input(db: &dyn Db, pkg: Package) -> Option<Value> {
    let eval = platform(db, pkg);
    let merged = &eval.resolved.as_ref()?.merged;
    let value = merged.get("plugins").cloned().unwrap_or(Value::Null);
    Some(crate::external::with_executables(db, pkg.workspace(db), merged, value))
}

/// Hash of the selections a dbt profile reads: compute, and the storage and
/// catalog it attaches to.
#[salsa::tracked(returns(copy))]
pub fn compute_key(db: &dyn Db, pkg: Package) -> Option<Hash> {
    compute_input(db, pkg).map(|v| Hash::of_json(&v))
}

/// Hash of every plugin selection of a platform (not its governance or metadata).
#[salsa::tracked(returns(copy))]
pub fn plugins_key(db: &dyn Db, pkg: Package) -> Option<Hash> {
    plugins_input(db, pkg).map(|v| Hash::of_json(&v))
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
        if let Some(resolved) = platform_eval.as_ref().and_then(|p| p.resolved.as_ref()) {
            diagnostics.extend(checks::check(value, node, file_name, resolved));
            let e = enforcement(db, pkg);
            diagnostics.extend(e.model_diagnostics.iter().cloned());
            io_error = io_error.or_else(|| e.io_error.clone());
            diagnostics.extend(e.output.iter().flat_map(|o| o.diagnostics.iter().cloned()));
        }
        diagnostics.extend(platform_ref_diagnostics(db, pkg, value, node));
        producers = check_input_ports(db, pkg, value, node, &mut diagnostics);
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

/// `platform.manifest` must point at the manifest the product belongs to.
/// A product file's tree, parsed again only if a diagnostic needs a position.
fn tree(db: &dyn Db, file: SourceFile) -> LazyNode<'_> {
    LazyNode::new(move || {
        let path = file.path(db);
        let bytes = db.read_file(path).ok().flatten()?;
        floe_schemas::yaml::parse(path.as_str(), &bytes).ok()
    })
}

fn platform_ref_diagnostics(db: &dyn Db, pkg: Package, spec: &FloeSpec, node: &LazyNode<'_>) -> Vec<Diagnostic> {
    let Some(reference) = spec.platform.as_ref().map(|p| p.manifest.as_str()) else { return Vec::new() };
    let ws = pkg.workspace(db);
    if ws.settings(db).standalone {
        return Vec::new();
    }
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let path = info.file();
    let span = node.span_at(&["platform", "manifest"]);
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
                .at(path.as_str(), span)
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
    vec![Diagnostic::error(code, message).at(path.as_str(), span).with_help(help(&expected))]
}

fn check_input_ports(
    db: &dyn Db,
    pkg: Package,
    spec: &FloeSpec,
    node: &LazyNode<'_>,
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
        producers.insert(port.name.clone(), producer);
    }
    if let Some(cycle) = product_cycle(db, pkg) {
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

/// The products a product reads from, by parsing specs only (no evaluation, so
/// a cycle among products cannot become a cycle among queries).
fn direct_producers(db: &dyn Db, pkg: Package) -> Vec<Package> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let Some(file) = file_of(db, ws, &info.file()) else { return Vec::new() };
    let parsed = parsed_spec(db, file);
    let Some(spec) = &parsed.loaded.value else { return Vec::new() };
    spec.input_ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let (target, _) = p.from.rsplit_once(':')?;
            match label::parse(target, &info.dir) {
                Ok(label::Pattern::Package { dir, target: None }) => layout
                    .find(&dir)
                    .filter(|i| layout.packages[*i].kind == PackageKind::Product)
                    .map(|i| packages(db, ws)[i]),
                _ => None,
            }
        })
        .collect()
}

/// A cycle of products through `start`, as the packages along it (starting
/// and ending with `start`).
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

/// The contracts a product offers, by output port: its interface to consumers.
#[salsa::tracked(returns(ref))]
pub fn contracts(db: &dyn Db, pkg: Package) -> BTreeMap<String, Hash> {
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    let Some(file) = file_of(db, ws, &info.file()) else { return BTreeMap::new() };
    let parsed = parsed_spec(db, file);
    let Some(spec) = &parsed.loaded.value else { return BTreeMap::new() };
    spec.output_ports.iter().flatten().map(|p| (p.name.clone(), Hash::of_json(&checks::contract(spec, p)))).collect()
}

/// One derivation: a target, the rule that builds it, and the hashes of its named inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derivation {
    pub target: Target,
    pub rule: &'static str,
    pub rule_version: u32,
    pub inputs: BTreeMap<String, Hash>,
    pub key: Hash,
    /// Its files under `floe-out/<package>/`, in the order the rule returns them.
    pub outputs: Vec<String>,
}

impl Derivation {
    fn new(target: Target, rule_version: u32, floe_version: &str, inputs: BTreeMap<String, Hash>) -> Derivation {
        let outputs = target.outputs().iter().map(|o| (*o).to_owned()).collect();
        Derivation::with_outputs(target, rule_version, floe_version, inputs, outputs)
    }

    /// A derivation whose file names depend on its inputs (an orchestrator's
    /// files); the names are then part of the key.
    fn with_outputs(
        target: Target,
        rule_version: u32,
        floe_version: &str,
        inputs: BTreeMap<String, Hash>,
        outputs: Vec<String>,
    ) -> Derivation {
        let rule = target.rule();
        let mut c = Canonical::new("floe.drv.v1");
        c.str(rule).u64(u64::from(rule_version)).str(floe_version).u64(inputs.len() as u64);
        for (name, h) in &inputs {
            c.str(name).hash(h);
        }
        if outputs != target.outputs() {
            c.u64(outputs.len() as u64);
            for o in &outputs {
                c.str(o);
            }
        }
        Derivation { target, rule, rule_version, key: c.finish(), inputs, outputs }
    }
}

/// The derivations of a package, or `None` when it cannot be built (see its diagnostics).
#[salsa::tracked(returns(ref))]
pub fn derivations(db: &dyn Db, pkg: Package) -> Option<Vec<Derivation>> {
    let ws = pkg.workspace(db);
    let layout = ws.layout(db);
    let info = &layout.packages[pkg.index(db)];
    let settings = ws.settings(db);
    let version = settings.floe_version.as_str();
    match info.kind {
        PackageKind::Root | PackageKind::Domain => {
            if platform(db, pkg).failed {
                return None;
            }
            let inputs = BTreeMap::from([("platform".to_owned(), platform_key(db, pkg)?)]);
            let helm = BTreeMap::from([("plugins".to_owned(), plugins_key(db, pkg)?)]);
            Some(vec![
                Derivation::new(Target::Manifest, versions::RESOLVED_MANIFEST, version, inputs),
                Derivation::new(Target::HelmValues, versions::PLATFORM_HELM_VALUES, version, helm),
            ])
        }
        PackageKind::Product => {
            let eval = product(db, pkg);
            if eval.failed {
                return None;
            }
            let parent = parent_platform(db, pkg)?;
            let spec_hash = eval.spec.as_ref()?.normal?;
            let dbt = dbt_key(db, pkg);
            let mut artifacts = BTreeMap::from([
                ("spec".to_owned(), spec_hash),
                ("platform".to_owned(), platform_key(db, parent)?),
                ("dbt_project".to_owned(), dbt),
                ("settings".to_owned(), settings.hash()),
            ]);
            let spec = eval.spec.as_ref()?.loaded.value.as_ref()?;
            for port in spec.input_ports.iter().flatten() {
                let producer = *eval.producers.get(&port.name)?;
                let (_, port_name) = port.from.rsplit_once(':')?;
                let h = *contracts(db, producer).get(port_name)?;
                artifacts.insert(format!("port:{}", port.name), h);
            }
            let mut profile = BTreeMap::from([
                ("compute".to_owned(), compute_key(db, parent)?),
                ("product".to_owned(), Hash::of(spec.metadata.name.as_bytes())),
                ("dbt_project".to_owned(), dbt),
            ]);
            // Transforms on another engine add an output for it.
            let mut computes: Vec<&str> = spec.transforms.iter().filter_map(|t| t.compute.as_deref()).collect();
            computes.sort_unstable();
            computes.dedup();
            if !computes.is_empty() {
                profile.insert("computes".to_owned(), Hash::of_json(&computes));
            }
            let mut enforcement = BTreeMap::from([("report".to_owned(), enforcement_key(db, pkg)?)]);
            let gov = platform(db, parent).resolved.as_ref().and_then(|r| r.manifest.governance.clone());
            if gov.as_ref().is_some_and(enforce::needs_date) {
                enforcement.insert("date".to_owned(), Hash::of(settings.today.as_bytes()));
            }
            let resolved = platform(db, parent).resolved.clone()?;
            let domain = domain_of(db, pkg, spec, &resolved);
            let orchestration = BTreeMap::from([
                ("job".to_owned(), Hash::of_json(&floe_rules::orchestration::job_input(spec))),
                ("orchestrator".to_owned(), orchestration_key(db, parent)?),
                ("domain".to_owned(), Hash::of(domain.as_bytes())),
            ]);
            let files = floe_rules::orchestration::file_names(&resolved, spec);
            Some(vec![
                Derivation::new(Target::Artifacts, versions::COMPILED_ARTIFACTS, version, artifacts),
                Derivation::new(Target::DbtProfile, versions::DBT_PROFILE, version, profile),
                Derivation::new(Target::Enforcement, versions::ENFORCEMENT, version, enforcement),
                Derivation::with_outputs(Target::Orchestration, versions::ORCHESTRATION, version, orchestration, files),
            ])
        }
    }
}

fn dbt_file(db: &dyn Db, pkg: Package) -> Option<SourceFile> {
    let ws = pkg.workspace(db);
    let info = &ws.layout(db).packages[pkg.index(db)];
    if !info.has_dbt_project {
        return None;
    }
    file_of(db, ws, &info.dir.join(crate::layout::DBT_PROJECT).expect("joins"))
}

/// A product's dbt profile: from the compute plugin, built in or out of tree.
fn product_profile(
    db: &dyn Db,
    pkg: Package,
    spec: &FloeSpec,
    platform: &ResolvedPlatform,
) -> Result<Value, OutputError> {
    let ws = pkg.workspace(db);
    let external = crate::external::selected(db, ws, &platform.merged);
    let Some((_, file)) = external.into_iter().find(|(c, _)| *c == floe_plugins::Category::Compute) else {
        let mut also: Vec<&str> = spec.transforms.iter().filter_map(|t| t.compute.as_deref()).collect();
        also.sort_unstable();
        also.dedup();
        return Ok(profile::profile(platform, &spec.metadata.name, &also)?);
    };
    let domain = domain_of(db, pkg, spec, platform);
    // A plugin that breaks the protocol is the product's diagnostic; a
    // machine that cannot run it is an infrastructure failure.
    match crate::external::dbt_profile(db, file, platform, &spec.metadata.name, &domain) {
        Ok(Ok(output)) => Ok(serde_json::json!({"target": profile::TARGET, "outputs": {profile::TARGET: output}})),
        Ok(Err(failure)) => Err(OutputError::Diagnostics(vec![
            Diagnostic::error(Code::ExternalPlugin, failure)
                .in_file(spec_file(db, pkg).as_str())
                .with_help(format!("the plugin is `{}`", file.path(db))),
        ])),
        Err(io) => Err(OutputError::Io(io)),
    }
}

fn spec_file(db: &dyn Db, pkg: Package) -> WsPath {
    pkg.workspace(db).layout(db).packages[pkg.index(db)].file()
}

/// The dbt profile name a product's profile is written under.
fn profile_name(db: &dyn Db, pkg: Package, spec: &FloeSpec) -> String {
    dbt_file(db, pkg)
        .and_then(|f| dbt_project(db, f).profile.clone())
        .unwrap_or_else(|| spec.metadata.name.replace('-', "_"))
}

fn dbt_key(db: &dyn Db, pkg: Package) -> Hash {
    dbt_file(db, pkg).and_then(|f| dbt_project(db, f).normal).unwrap_or_else(|| Hash::of_json(&Option::<String>::None))
}

/// The bytes of one target's output, or the problems that prevent it.
/// One entry per file of [`Target::outputs`], in that order.
pub type Output = Result<Vec<Arc<Vec<u8>>>, OutputError>;

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

/// Runs the rule behind a target. Not memoized: each output is computed once
/// per build and written away, and holding it would only cost memory.
pub fn output(db: &dyn Db, pkg: Package, target: Target) -> Output {
    let files = unmasked_output(db, pkg, target)?;
    // The last line of defence: a value secret scanning found in any input
    // (a token in a description, a password in a URL) reaches no output.
    let values = secret_values(db, pkg);
    Ok(files.into_iter().map(|f| Arc::new(mask_values(Arc::unwrap_or_clone(f), &values))).collect())
}

/// Values secret scanning found in what a package reads.
pub fn secret_values(db: &dyn Db, pkg: Package) -> Vec<String> {
    let ws = pkg.workspace(db);
    match ws.layout(db).packages[pkg.index(db)].kind {
        PackageKind::Product => enforcement(db, pkg).secret_values.clone(),
        PackageKind::Root | PackageKind::Domain => platform(db, pkg).secret_values.clone(),
    }
}

fn unmasked_output(db: &dyn Db, pkg: Package, target: Target) -> Output {
    match target {
        Target::Manifest => {
            let eval = platform(db, pkg);
            let r = eval.resolved.as_ref().ok_or_else(Vec::new)?;
            Ok(vec![Arc::new(emit::json(&resolved_manifest_doc(r)))])
        }
        Target::HelmValues => {
            let eval = platform(db, pkg);
            let r = eval.resolved.as_ref().ok_or_else(Vec::new)?;
            Ok(vec![Arc::new(emit::yaml(&floe_rules::helm::values(r)).into_bytes())])
        }
        Target::Orchestration => {
            let eval = product(db, pkg);
            let spec = eval.spec.as_ref().and_then(|s| s.loaded.value.as_ref()).ok_or_else(Vec::new)?;
            let parent = parent_platform(db, pkg).ok_or_else(Vec::new)?;
            let platform_eval = platform(db, parent);
            let platform = platform_eval.resolved.as_ref().ok_or_else(Vec::new)?;
            let domain = domain_of(db, pkg, spec, platform);
            let files =
                floe_rules::orchestration::definitions(platform, spec, Some(&domain), orchestration_env(db, parent))?;
            Ok(files.into_iter().map(|(_, text)| Arc::new(text.into_bytes())).collect())
        }
        Target::Artifacts | Target::DbtProfile => {
            let eval = product(db, pkg);
            let spec = eval.spec.as_ref().and_then(|s| s.loaded.value.as_ref()).ok_or_else(Vec::new)?;
            let parent = parent_platform(db, pkg).ok_or_else(Vec::new)?;
            let platform_eval = platform(db, parent);
            let platform = platform_eval.resolved.as_ref().ok_or_else(Vec::new)?;
            let profile_value = product_profile(db, pkg, spec, platform)?;
            let name = profile_name(db, pkg, spec);
            if target == Target::DbtProfile {
                return Ok(vec![Arc::new(profile::profiles_yml(&name, &profile_value).into_bytes())]);
            }
            let ws = pkg.workspace(db);
            let settings = ws.settings(db);
            let layout = ws.layout(db);
            let chain = layout.chain(pkg.index(db));
            // Inside a workspace a product has a platform package above it: two
            // tiers (root and product) are centralized, three are a mesh.
            let mode = match chain.len() {
                _ if settings.standalone => Mode::Simple,
                1 => Mode::Centralized,
                _ => Mode::Mesh,
            };
            let domain = domain_of(db, pkg, spec, platform);
            let key = derivations(db, pkg)
                .as_ref()
                .and_then(|d| d.iter().find(|d| d.target == Target::Artifacts).map(|d| d.key))
                .unwrap_or_default();
            let warning_count = eval.diagnostics.iter().filter(|d| !d.is_error()).count() as u32;
            let input = artifacts::ArtifactsInput {
                spec,
                platform,
                mode,
                domain: &domain,
                profile_name: &name,
                profile: &profile_value,
                compiled_at: &floe_rules::rfc3339(settings.source_date_epoch),
                floe_version: &settings.floe_version,
                source_hash: &key.to_string(),
                warning_count,
            };
            let compiled = artifacts::compile(&input)?;
            Ok(vec![Arc::new(emit::json(&compiled))])
        }
        Target::Enforcement => {
            let e = enforcement(db, pkg);
            let out = e.output.as_ref().ok_or_else(Vec::new)?;
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
            // The files the report quotes, secrets masked.
            let mut sources = BTreeMap::new();
            for (file, _) in out.locations.iter().flatten() {
                if sources.contains_key(file) {
                    continue;
                }
                let Some(path) = WsPath::new(file) else { continue };
                if let Ok(Some(bytes)) = db.read_file(&path) {
                    let text = scanner.redact(&String::from_utf8_lossy(&bytes)).into_owned();
                    let masked: Vec<String> = text.lines().map(floe_schemas::secret::mask_line).collect();
                    sources.insert(file.clone(), masked.join("\n"));
                }
            }
            let settings = ws.settings(db);
            let label = label::package_label(&info.dir);
            let html = floe_rules::report::html(&label, &out.result, &out.locations, &sources);
            let sarif = floe_schemas::sarif::log(&enforce::located(out), &settings.floe_version, None);
            Ok(vec![Arc::new(emit::json(&out.result)), Arc::new(emit::json(&sarif)), Arc::new(html.into_bytes())])
        }
    }
}

/// `manifest.resolved.json`: the platform as its products see it.
fn resolved_manifest_doc(r: &ResolvedPlatform) -> Value {
    serde_json::json!({
        "chain": r.chain.iter().map(|t| serde_json::json!({
            "name": t.name, "version": t.version, "scope": t.scope, "label": t.label,
        })).collect::<Vec<_>>(),
        "manifest": r.merged,
    })
}
