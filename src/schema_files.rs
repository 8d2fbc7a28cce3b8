//! floe's JSON Schemas as files, for editors (`floe schema --write DIR`): a
//! YAML file names its schema in a first line
//! `# yaml-language-server: $schema=<path>`.

use std::path::{Path, PathBuf};

use floe_engine::{IoError, System};

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity};
use crate::system::OsSystem;

/// `floe schema --write DIR`: DIR is taken relative to where floe runs (`-C`).
pub fn command(cli: &Cli, printer: &Printer, dir: &Path) -> Result<(), Failure> {
    let base = crate::cli::base_dir(cli)?;
    let target = base.join(dir);
    // Something else where the directory goes is the caller's mistake, not the machine's.
    if let Some((_, kind)) = OsSystem.resolve(&target)?
        && kind != floe_engine::FileKind::Dir
    {
        return Err(Failure::Usage(format!("`{}` is {}, not a directory", dir.display(), kind.describe())));
    }
    let written = write_schemas(&target)?;
    if printer.verbosity != Verbosity::Quiet && printer.format == Format::Human {
        let shown = |p: &Path| p.strip_prefix(&base).unwrap_or(p).display().to_string();
        let lines: String =
            written.iter().map(|p| format!("wrote {}\n", floe_schemas::diag::escape(&shown(p)))).collect();
        crate::output::err(&lines)?;
    }
    Ok(())
}

/// Writes every schema `floe schema` lists as `dir/<name>.schema.json`,
/// creating `dir`, and returns the files in that order. Each file is replaced
/// at once (a temporary file, then a rename) and holds the same bytes on every
/// run of the same floe.
pub fn write_schemas(dir: &Path) -> Result<Vec<PathBuf>, IoError> {
    write_schemas_to(&OsSystem, dir)
}

/// [`write_schemas`] through `sys`.
pub fn write_schemas_to(sys: &dyn System, dir: &Path) -> Result<Vec<PathBuf>, IoError> {
    let schemas = floe_schemas::generated_schemas();
    let files: Vec<(&str, &[u8])> = schemas.iter().map(|(name, text)| (*name, text.as_bytes())).collect();
    sys.write_all_atomic(dir, &files)?;
    Ok(schemas.iter().map(|(name, _)| dir.join(name)).collect())
}

#[cfg(test)]
mod tests {
    use floe_engine::MemorySystem;

    use super::*;

    #[test]
    fn every_schema_is_written_under_its_listed_name() {
        let sys = MemorySystem::new();
        let dir = Path::new("/ws/schemas");
        let written = write_schemas_to(&sys, dir).unwrap();
        let names: Vec<&str> = written.iter().filter_map(|p| p.file_name()?.to_str()).collect();
        assert_eq!(
            names,
            ["floe.schema.json", "manifest.schema.json", "compiled-artifacts.schema.json", "datacontract.schema.json"]
        );
        for (name, text) in floe_schemas::generated_schemas() {
            assert_eq!(sys.get(dir.join(name)), Some(text.into_bytes()), "{name}");
        }
    }
}
