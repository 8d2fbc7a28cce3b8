//! The product's directory as the workspace walk sees it, read-only and
//! bounded: dbt's own directories at its top are not listed, and a walk that
//! lists more entries than any dbt project has stops (a spec at the top of a
//! home directory must not walk all of it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use floe_engine::system::{DirStat, Locked};
use floe_engine::{DirEntry, FileStat, IoError, System};

use crate::system::OsSystem;

/// dbt's own directories in a project (compiled SQL, installed packages,
/// logs): nothing a build of the product reads.
const DBT_OWN: &[&str] = &["target", "dbt_packages", "logs"];

/// Directory entries the walk lists at most.
pub const MAX_ENTRIES: usize = 200_000;

pub struct ProductDir {
    root: PathBuf,
    limit: usize,
    listed: AtomicUsize,
    exceeded: AtomicBool,
}

impl ProductDir {
    /// A walk of `root` that lists at most `limit` entries.
    pub fn new(root: &Path, limit: usize) -> ProductDir {
        let (listed, exceeded) = (AtomicUsize::new(0), AtomicBool::new(false));
        ProductDir { root: root.to_path_buf(), limit, listed, exceeded }
    }

    /// Whether the walk stopped at its limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

fn read_only(op: &'static str, path: &Path) -> IoError {
    IoError { op, path: path.to_path_buf(), message: "the product's directory is only read".to_owned() }
}

impl System for ProductDir {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError> {
        OsSystem.read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError> {
        OsSystem.read_at(path, offset, len)
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        OsSystem.stat(path)
    }

    fn stat_in(&self, dir: &Path, names: &[String]) -> Result<Vec<Option<FileStat>>, IoError> {
        OsSystem.stat_in(dir, names)
    }

    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError> {
        OsSystem.dir_stat(path)
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError> {
        let mut entries = OsSystem.list_dir(path)?;
        if path == self.root {
            entries.retain(|e| !DBT_OWN.contains(&e.name.as_str()));
        }
        if self.listed.fetch_add(entries.len(), Ordering::Relaxed) + entries.len() > self.limit {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(IoError {
                op: "list",
                path: path.to_path_buf(),
                message: format!("the walk stops after {} entries", self.limit),
            });
        }
        Ok(entries)
    }

    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, floe_engine::FileKind)>, IoError> {
        OsSystem.resolve(path)
    }

    fn write_all_atomic(&self, base: &Path, _: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        Err(read_only("write", base))
    }

    fn remove_all(&self, path: &Path) -> Result<(), IoError> {
        Err(read_only("remove", path))
    }

    fn remove_below(&self, base: &Path, _: &str) -> Result<(), IoError> {
        Err(read_only("remove", base))
    }

    fn try_lock(&self, path: &Path, _: bool, _: bool) -> Result<Locked, IoError> {
        Err(read_only("lock", path))
    }

    fn sweep(&self, dir: &Path) -> Result<usize, IoError> {
        Err(read_only("sweep", dir))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // the tests lay out a directory on disk
    use super::*;

    fn walk(root: &Path, limit: usize) -> (Result<Vec<String>, IoError>, bool) {
        let dir = ProductDir::new(root, limit);
        let found = floe_engine::discover::discover(&dir, root, &Default::default(), 0, 2)
            .map(|d| d.files.into_iter().map(|(p, _)| p.to_string()).collect());
        (found, dir.exceeded())
    }

    #[test]
    fn dbt_directories_are_skipped_and_the_walk_is_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for dir in ["models/staging", "target/compiled/p/models", "dbt_packages/u/models", "logs", "seeds/models"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "floe.yaml",
            "models/a.sql",
            "models/staging/b.sql",
            "target/compiled/p/models/a.sql",
            "dbt_packages/u/models/c.sql",
            "logs/dbt.log",
            "seeds/models/d.sql",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        let (found, exceeded) = walk(root, 100);
        assert_eq!(found.unwrap(), ["floe.yaml", "models/a.sql", "models/staging/b.sql", "seeds/models/d.sql"]);
        assert!(!exceeded);
        // floe.yaml, models and seeds at the top; a, staging and models below.
        let (found, exceeded) = walk(root, 5);
        assert!(found.is_err() && exceeded);
    }
}
