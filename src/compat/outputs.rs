//! What `platform compile` writes: the compiled artifacts where `--output`
//! says, in JSON, YAML or a Kubernetes ConfigMap; the governance report and the orchestrator's
//! definitions when asked; or, for an `--output` that is a directory, every
//! output of the product as `floe build` writes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use floe_engine::label::{PRODUCT_TARGETS, Target};
use floe_engine::{FileKind, System};

use super::{ArtifactsFormat, CompileArgs, ReportFormat};
use crate::cli::Failure;
use crate::system::OsSystem;

const ARTIFACTS: &str = "compiled_artifacts.json";

/// A file to write: a directory and a `/`-separated path below it.
pub struct Planned {
    pub dir: PathBuf,
    pub rel: String,
    pub bytes: Vec<u8>,
    /// What it is, for a message.
    pub what: &'static str,
}

/// The files to write, from the product's outputs by name.
pub fn plan(base: &Path, args: &CompileArgs, produced: &BTreeMap<String, Vec<u8>>) -> Result<Vec<Planned>, Failure> {
    // A product that builds without errors has every one of these.
    let output = |name: &str| produced.get(name).cloned().expect("a product that builds has its outputs");
    let artifacts = match args.output_format {
        ArtifactsFormat::Json => output(ARTIFACTS),
        ArtifactsFormat::Yaml | ArtifactsFormat::Configmap => {
            let value: serde_json::Value =
                serde_json::from_slice(&output(ARTIFACTS)).expect("compiled artifacts are JSON");
            let yaml = floe_rules::emit::yaml(&value);
            match args.output_format {
                ArtifactsFormat::Configmap => configmap(&args.configmap_name, args.namespace.as_deref(), &yaml),
                _ => yaml,
            }
            .into_bytes()
        }
    };
    let default_name = match args.output_format {
        ArtifactsFormat::Json => "compiled_artifacts.json",
        ArtifactsFormat::Yaml => "compiled_artifacts.yaml",
        ArtifactsFormat::Configmap => "floe-compiled-values.yaml",
    };
    let mut plan = Vec::new();
    match args.output.as_deref().filter(|o| is_dir(&base.join(o))) {
        // Every output, as `floe build` lays them out.
        Some(dir) => {
            let dir = base.join(dir);
            for (rel, bytes) in produced {
                if rel != ARTIFACTS {
                    plan.push(Planned { dir: dir.clone(), rel: rel.clone(), bytes: bytes.clone(), what: "an output" });
                }
            }
            let rel = default_name.to_owned();
            plan.push(Planned { dir, rel, bytes: artifacts, what: "the compiled artifacts" });
        }
        None => {
            let default = Path::new("target").join(default_name);
            let file = base.join(args.output.as_deref().unwrap_or(&default));
            let (dir, rel) = split(&file)?;
            if args.generate_definitions {
                for (rel, bytes) in orchestration(produced) {
                    let what = "the orchestrator's definitions";
                    plan.push(Planned { dir: dir.clone(), rel: rel.to_owned(), bytes: bytes.clone(), what });
                }
            }
            plan.push(Planned { dir, rel, bytes: artifacts, what: "the compiled artifacts" });
        }
    }
    if let Some(report) = &args.enforcement_report {
        let name = match args.enforcement_format {
            ReportFormat::Json => "enforcement.json",
            ReportFormat::Sarif => "enforcement.sarif",
            ReportFormat::Html => "enforcement.html",
        };
        let (dir, rel) = split(&base.join(report))?;
        plan.push(Planned { dir, rel, bytes: output(name), what: "the governance report" });
    }
    let mut seen = BTreeMap::new();
    for p in &plan {
        let path = p.dir.join(&p.rel);
        if let Some(first) = seen.insert(path.clone(), p.what) {
            return Err(Failure::Usage(format!(
                "`{}` would receive both {first} and {}: give them different paths",
                path.display(),
                p.what
            )));
        }
    }
    Ok(plan)
}

/// A v1 ConfigMap holding the compiled artifacts' YAML as `data.values.yaml`,
/// a literal block so it reads as written. `name` and `namespace` are DNS
/// names (checked when parsed) and the emitter's lines never start with a
/// space or hold a tab, so the block needs no indentation indicator.
fn configmap(name: &str, namespace: Option<&str>, values: &str) -> String {
    let mut out = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    if let Some(ns) = namespace {
        out.push_str(&format!("  namespace: {ns}\n"));
    }
    out.push_str("data:\n  values.yaml: |\n");
    for line in values.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Writes the plan, each file at once (never half written); the paths written.
pub fn write(sys: &OsSystem, plan: &[Planned]) -> Result<Vec<PathBuf>, Failure> {
    let mut written = Vec::with_capacity(plan.len());
    for p in plan {
        sys.write_atomic(&p.dir, &p.rel, &p.bytes)?;
        written.push(p.dir.join(&p.rel));
    }
    Ok(written)
}

/// The orchestrator's files among a product's outputs: what no other target
/// of the product writes.
fn orchestration(produced: &BTreeMap<String, Vec<u8>>) -> impl Iterator<Item = (&str, &Vec<u8>)> {
    let others: Vec<&str> = PRODUCT_TARGETS
        .iter()
        .filter(|t| **t != Target::Orchestration)
        .flat_map(|t| t.outputs().iter().copied())
        .chain([floe_engine::build::DRV_FILE])
        .collect();
    produced.iter().map(|(k, v)| (k.as_str(), v)).filter(move |(k, _)| !others.contains(k))
}

/// Whether `path` is a directory (or a link to one), or is written as one
/// (`out/`).
fn is_dir(path: &Path) -> bool {
    path.as_os_str().to_string_lossy().ends_with('/') || matches!(OsSystem.resolve(path), Ok(Some((_, FileKind::Dir))))
}

/// A file path as the directory it goes in and its name.
fn split(file: &Path) -> Result<(PathBuf, String), Failure> {
    match (file.parent(), file.file_name().and_then(|n| n.to_str())) {
        (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.to_owned())),
        _ => Err(Failure::Usage(format!("`{}` cannot be a file", file.display()))),
    }
}
