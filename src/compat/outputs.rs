//! What `platform compile` writes: the compiled artifacts where `--output`
//! says, in JSON or YAML; the governance report and the orchestrator's
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
        ArtifactsFormat::Yaml => {
            let value: serde_json::Value =
                serde_json::from_slice(&output(ARTIFACTS)).expect("compiled artifacts are JSON");
            floe_rules::emit::yaml(&value).into_bytes()
        }
    };
    let extension = match args.output_format {
        ArtifactsFormat::Json => "json",
        ArtifactsFormat::Yaml => "yaml",
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
            let rel = format!("compiled_artifacts.{extension}");
            plan.push(Planned { dir, rel, bytes: artifacts, what: "the compiled artifacts" });
        }
        None => {
            let default = PathBuf::from(format!("target/compiled_artifacts.{extension}"));
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
