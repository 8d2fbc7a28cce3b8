//! `floe init` and `floe new product`: a workspace, and products in it, that
//! build clean the first time.
//!
//! Nothing is written unless everything can be: the files are laid out in
//! memory first, checked against what is already on disk, and, for a new
//! product, built in an in-memory copy of its platform, so that a name its
//! domain does not approve is refused with the domain's own diagnostic. Every
//! YAML file starts with a `yaml-language-server` line naming the JSON Schemas
//! written into the workspace's `schemas/`, so editors complete and check keys
//! with no setup.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_engine::layout::{DBT_PROJECT, MANIFEST, SPEC};
use floe_engine::lock::LOCK;
use floe_engine::{MemorySystem, Options, Session, System, WsPath};
use floe_schemas::diag::Diagnostic;

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity};
use crate::system::OsSystem;

/// Where scaffolded workspaces keep the JSON Schemas their files name.
pub const SCHEMA_DIR: &str = "schemas";

/// What `floe init` lays out.
pub struct InitOptions {
    pub mesh: bool,
    pub name: Option<String>,
    pub domain: String,
    pub product: String,
}

/// `floe init [DIR]`: a new workspace in DIR (default: the current directory).
pub fn init(cli: &Cli, printer: &Printer, dir: Option<&Path>, opts: &InitOptions) -> Result<(), Failure> {
    let base = crate::cli::base_dir(cli)?;
    let root = dir.map_or_else(|| base.clone(), |d| base.join(d));
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => workspace_name(&root)
            .ok_or_else(|| Failure::Usage(format!("cannot name a platform after `{}`: pass --name", root.display())))?,
    };
    for (what, n) in [("--name", &name), ("--domain", &opts.domain), ("--product", &opts.product)] {
        check_name(what, n)?;
    }
    let mut files = vec![(".gitignore".to_owned(), GITIGNORE.to_owned())];
    files.extend(schema_files());
    let product_dir = if opts.mesh {
        files.push((MANIFEST.to_owned(), enterprise_manifest(&name)));
        files.push((format!("{}/{MANIFEST}", opts.domain), domain_manifest(&opts.domain, &opts.product)));
        format!("{}/{}", opts.domain, opts.product)
    } else {
        files.push((MANIFEST.to_owned(), centralized_manifest(&name)));
        opts.product.clone()
    };
    files.extend(product_files(&product_dir, &opts.product, true, true));
    write_new(&root, &files)?;
    // What to run next, from where floe was run: the directory as it was given.
    let given: PathBuf = cli.dir.iter().map(PathBuf::as_path).chain(dir).collect();
    report_files(printer, &root, &files, &next_build(&given, &product_dir))
}

/// `floe new product LABEL`: a product in the workspace floe runs in.
pub fn new_product(cli: &Cli, printer: &Printer, label: &str) -> Result<(), Failure> {
    let (root, start) = crate::cli::locate(cli)?;
    let rel = start.strip_prefix(&root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = resolve_label(label, &rel)?;
    let name = dir.rsplit('/').next().unwrap_or(&dir).to_owned();
    check_name("the product", &name)?;
    // Its `floe.yaml` names the schemas when the workspace has them (`floe init` writes them).
    let os = OsSystem;
    let schemas = os.stat(&root.join(SCHEMA_DIR).join("floe.schema.json"))?.is_some();
    // A root without a manifest of its own takes its platform from its lock.
    let lock = match os.read(&root.join(MANIFEST))? {
        Some(_) => None,
        None => os.read(&root.join(LOCK))?,
    };
    let pinned = lock.is_some();
    let files = product_files(&dir, &name, schemas, !pinned || dir.contains('/'));
    for (rel, _) in &files {
        if crate::system::kind(&root.join(rel))?.is_some() {
            return Err(Failure::Usage(format!("`{rel}` exists: //{dir} is already a product")));
        }
    }
    // The product, checked where it would stand, with the manifests above it.
    let mut above = Vec::new();
    let mut at = Some(dir.as_str());
    while let Some(d) = at {
        let parent = d.rsplit_once('/').map(|(p, _)| p);
        let manifest = match parent {
            Some(p) => format!("{p}/{MANIFEST}"),
            None => MANIFEST.to_owned(),
        };
        if let Some(bytes) = os.read(&root.join(&manifest))? {
            above.push((manifest, bytes));
        }
        at = parent;
    }
    // Or the platform the workspace's lock pins, from its store.
    let mut object = None;
    if let Some(bytes) = lock {
        if let Some(hash) = floe_engine::lock::Lock::decode(&bytes).ok().and_then(|l| l.resolved()) {
            object = crate::pull::store(cli, &root).get_object(hash)?;
        }
        above.push((LOCK.to_owned(), bytes));
    }
    check_in_memory(printer, &root, &files, &above, object.as_deref(), &dir)?;
    write_new(&root, &files)?;
    report_files(printer, &root, &files, &format!("floe build //{dir}"))
}

/// Builds the product at `dir` in memory, as `files` lay it out below the
/// files `above` it (and a store holding `object`): refused, with the
/// platform's own diagnostics, when its platform does not accept it.
fn check_in_memory(
    printer: &Printer,
    root: &Path,
    files: &[(String, String)],
    above: &[(String, Vec<u8>)],
    object: Option<&[u8]>,
    dir: &str,
) -> Result<(), Failure> {
    let mem = Arc::new(MemorySystem::new());
    let mem_root = PathBuf::from("/workspace");
    for (rel, bytes) in above {
        mem.put(mem_root.join(rel), bytes);
    }
    for (rel, text) in files {
        mem.put(mem_root.join(rel), text);
    }
    let store = PathBuf::from("/store");
    if let Some(bytes) = object {
        let s = floe_engine::store::Store::new(mem.clone(), store.clone(), None, PathBuf::from("/out"));
        s.put_object(bytes)?;
        s.flush()?;
    }
    let options = Options {
        workspace: mem_root,
        store,
        out: PathBuf::from("/out"),
        cwd: WsPath::ROOT,
        labels: vec![format!("//{dir}")],
        settings: crate::cli::settings()?,
        jobs: 1,
        remote: None,
        check_outputs: false,
        progress: None,
        warm: false,
    };
    let report = Session::open(mem, options)?.check()?;
    let errors: Vec<Diagnostic> = report.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        printer.diagnostics(root, &errors)?;
        crate::output::err(&format!("error: //{dir} was not created: its platform refuses it (see above)\n"))?;
        return Err(Failure::User);
    }
    Ok(())
}

/// The files of a workspace on the platform `lock` pins (whose resolved
/// manifest is `resolved`) with a first product, checked, then written.
pub(crate) fn pinned_files(
    printer: &Printer,
    root: &Path,
    lock: &floe_engine::lock::Lock,
    resolved: &[u8],
    product: &str,
    extra: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Failure> {
    let lock_text = String::from_utf8(lock.encode()).expect("a lock is JSON text");
    let mut files = vec![(".gitignore".to_owned(), GITIGNORE.to_owned())];
    files.extend(schema_files());
    files.push((LOCK.to_owned(), lock_text));
    files.extend(extra);
    files.extend(product_files(product, product, true, false));
    check_in_memory(printer, root, &files, &[], Some(resolved), product)?;
    write_new(root, &files)?;
    Ok(files)
}

/// What to run next: a build of `product_dir`, from where floe was run
/// (`given`: the directory as it was given).
pub(crate) fn next_build(given: &Path, product_dir: &str) -> String {
    match given.as_os_str().is_empty() {
        true => format!("floe build //{product_dir}"),
        false => format!("floe -C {} build //{product_dir}", shell_word(&given.to_string_lossy())),
    }
}

/// A product label (`//sales/orders`, or relative to where floe runs) as a
/// workspace-relative directory.
fn resolve_label(label: &str, cwd: &str) -> Result<String, Failure> {
    let dir = match label.strip_prefix("//") {
        Some(abs) => abs.to_owned(),
        None if cwd.is_empty() => label.to_owned(),
        None => format!("{cwd}/{label}"),
    };
    let plain = !dir.is_empty() && dir.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if !plain || dir.contains(':') || dir.contains("...") {
        return Err(Failure::Usage(format!("`{label}` is not a product label, like `//sales/orders`")));
    }
    Ok(dir)
}

/// A name as floe's names are written: lowercase letters, digits and `-`,
/// starting with a letter.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Failure> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "{what} `{name}` is not a name floe accepts: lowercase letters, digits and `-`, starting with a letter"
    )))
}

/// The platform's name from its directory's: `Acme Data` becomes `acme-data`.
fn workspace_name(root: &Path) -> Option<String> {
    let base = crate::system::canonicalize(root).ok().or_else(|| Some(root.to_path_buf()))?;
    let raw = base.file_name()?.to_string_lossy().to_lowercase();
    let mut name = String::new();
    for c in raw.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_owned();
    name.starts_with(|c: char| c.is_ascii_lowercase()).then_some(name)
}

/// Writes every file, or none: any that exists already stops it first.
fn write_new(root: &Path, files: &[(String, String)]) -> Result<(), Failure> {
    let mut existing = Vec::new();
    for (rel, _) in files {
        if crate::system::kind(&root.join(rel))?.is_some() {
            existing.push(rel.as_str());
        }
    }
    if !existing.is_empty() {
        return Err(Failure::Usage(format!(
            "`{}` already holds {}; floe init writes only into a directory without them",
            shown(root),
            existing.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let batch: Vec<(&str, &[u8])> = files.iter().map(|(rel, text)| (rel.as_str(), text.as_bytes())).collect();
    OsSystem.write_all_atomic(root, &batch)?;
    Ok(())
}

/// One line per file written, and what to run next.
pub(crate) fn report_files(
    printer: &Printer,
    root: &Path,
    files: &[(String, String)],
    next: &str,
) -> Result<(), Failure> {
    if printer.format == Format::Json {
        let list: Vec<String> = files.iter().map(|(rel, _)| rel.clone()).collect();
        let value = serde_json::json!({"root": shown(root), "files": list, "next": next});
        return Ok(crate::output::out(&format!("{value}\n"))?);
    }
    if printer.verbosity == Verbosity::Quiet {
        return Ok(());
    }
    for (rel, _) in files {
        crate::output::err(&format!("created {}\n", floe_schemas::diag::escape(rel)))?;
    }
    crate::output::err(&format!("next: {}\n", floe_schemas::diag::escape(next)))?;
    Ok(())
}

/// `word` as a shell reads it back: quoted when it holds anything but plain characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./+=:@%".contains(c)) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// `schemas/<name>.schema.json`, for the `yaml-language-server` lines.
fn schema_files() -> Vec<(String, String)> {
    floe_schemas::generated_schemas().into_iter().map(|(file, text)| (format!("{SCHEMA_DIR}/{file}"), text)).collect()
}

/// The `yaml-language-server` line of a file at `rel`, naming `schema`.
fn schema_line(rel: &str, schema: &str) -> String {
    let up = "../".repeat(rel.matches('/').count());
    format!("# yaml-language-server: $schema={up}{SCHEMA_DIR}/{schema}.schema.json\n")
}

const GITIGNORE: &str =
    "# What floe and dbt write; rebuilt from the sources.\nfloe-out/\n.floe/\nwarehouse/\ntarget/\nlogs/\n";

/// The compute every scaffolded platform starts with: DuckDB, a database file
/// per product under `warehouse/`, so `dbt run` works on a laptop.
const COMPUTE: &str = concat!(
    "  compute:\n",
    "    type: duckdb\n",
    "    config:\n",
    "      path: 'warehouse/{product_slug}.duckdb'\n",
    "      threads: 2\n",
    "      memory_limit: 1GB\n",
    "  orchestrator:\n",
    "    type: dagster\n",
    "  dbt:\n",
    "    type: core\n",
);

/// Strict from the start: a finding fails the build while there are few.
const GOVERNANCE: &str = concat!(
    "governance:\n",
    "  policy_enforcement_level: strict\n",
    "  quality_gates:\n",
    "    minimum_test_coverage: 80\n",
    "    require_descriptions: true\n",
);

fn centralized_manifest(name: &str) -> String {
    format!(
        "{}# The platform: what every product runs on, and the rules it follows.\n\
         apiVersion: floe.dev/v1\n\
         kind: Manifest\n\
         metadata:\n  name: {name}\n  version: 0.1.0\n  owner: platform@example.com\n\
         plugins:\n{COMPUTE}{GOVERNANCE}",
        schema_line(MANIFEST, "manifest")
    )
}

fn enterprise_manifest(name: &str) -> String {
    format!(
        "{}# The enterprise tier: the plugins every domain starts from, the ones\n\
         # domains may choose, and the governance floor they all inherit.\n\
         apiVersion: floe.dev/v1\n\
         kind: Manifest\n\
         metadata:\n  name: {name}\n  version: 0.1.0\n  owner: platform@example.com\n\
         scope: enterprise\n\
         plugins:\n{COMPUTE}\
         approved_plugins:\n  compute: [duckdb]\n  orchestrator: [dagster]\n{GOVERNANCE}",
        schema_line(MANIFEST, "manifest")
    )
}

fn domain_manifest(domain: &str, product: &str) -> String {
    let rel = format!("{domain}/{MANIFEST}");
    format!(
        "{}# The {domain} domain: what it narrows of the enterprise's platform, and\n\
         # the products it approves (`floe new product //{domain}/NAME` needs the name here).\n\
         apiVersion: floe.dev/v1\n\
         kind: Manifest\n\
         metadata:\n  name: {domain}\n  version: 0.1.0\n  owner: {domain}-platform@example.com\n\
         scope: domain\n\
         plugins:\n  compute: {{type: duckdb}}\n\
         approved_products: [{product}]\n",
        schema_line(&rel, "manifest")
    )
}

/// A product at `dir` (workspace-relative) named `name`: its `floe.yaml` and
/// a small dbt project whose every model and column is described and tested.
/// `platform`: whether it names the manifest above it (none, directly below
/// the platform `floe.lock` pins).
fn product_files(dir: &str, name: &str, schema: bool, platform: bool) -> Vec<(String, String)> {
    let slug = name.replace('-', "_");
    let spec_rel = format!("{dir}/{SPEC}");
    let spec = format!(
        "{}apiVersion: floe.dev/v1\n\
         kind: FloeSpec\n\
         metadata:\n  name: {name}\n  version: 0.1.0\n  description: The {name} data product\n  owner: data@example.com\n\
         {}\
         transforms:\n  - {{name: stg_{slug}, tier: bronze}}\n  - {{name: fct_{slug}, tier: gold, dependsOn: [stg_{slug}]}}\n\
         schedule: {{cron: '0 6 * * *', timezone: UTC}}\n",
        if schema { schema_line(&spec_rel, "floe") } else { String::new() },
        if platform { format!("platform:\n  manifest: ../{MANIFEST}\n") } else { String::new() },
    );
    let dbt = format!("name: {slug}\nversion: '0.1.0'\nconfig-version: 2\nprofile: {slug}\nmodel-paths: [models]\n");
    let staging = "-- Replace with a select from your sources.\nselect 1 as id, 'first' as label\n".to_owned();
    let facts = format!("select id, label from {{{{ ref('stg_{slug}') }}}}\n");
    let schema = format!(
        "version: 2\n\
         models:\n\
         \x20 - name: stg_{slug}\n    description: The {name} records, cleaned.\n    columns:\n\
         \x20     - name: id\n        description: Identifies a record.\n        data_tests: [not_null, unique]\n\
         \x20     - name: label\n        description: What the record is called.\n        data_tests: [not_null]\n\
         \x20 - name: fct_{slug}\n    description: One row per {name} record.\n    columns:\n\
         \x20     - name: id\n        description: Identifies a record.\n        data_tests: [not_null, unique]\n\
         \x20     - name: label\n        description: What the record is called.\n        data_tests: [not_null]\n"
    );
    vec![
        (spec_rel, spec),
        (format!("{dir}/{DBT_PROJECT}"), dbt),
        (format!("{dir}/models/stg_{slug}.sql"), staging),
        (format!("{dir}/models/fct_{slug}.sql"), facts),
        (format!("{dir}/models/schema.yml"), schema),
    ]
}
