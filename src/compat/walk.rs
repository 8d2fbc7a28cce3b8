//! The product's directory as the workspace walk sees it, read-only and
//! bounded: a walk that lists more entries than any dbt project has stops (a
//! spec at the top of a home directory must not walk all of it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use floe_engine::system::{DirAndFiles, DirStat, Locked};
use floe_engine::{DirEntry, FileStat, IoError, System};

use crate::system::OsSystem;

/// Directory entries the walk lists at most.
pub const MAX_ENTRIES: usize = 200_000;

pub struct ProductDir {
    limit: usize,
    listed: AtomicUsize,
    exceeded: AtomicBool,
}

impl ProductDir {
    /// A walk that lists at most `limit` entries.
    pub fn new(limit: usize) -> ProductDir {
        ProductDir { limit, listed: AtomicUsize::new(0), exceeded: AtomicBool::new(false) }
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

    fn read_at_into(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError> {
        OsSystem.read_at_into(path, offset, len, buf)
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        OsSystem.stat(path)
    }

    fn stat_in(&self, dir: &Path, names: &[&str]) -> Result<Vec<Option<FileStat>>, IoError> {
        OsSystem.stat_in(dir, names)
    }

    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError> {
        OsSystem.dir_stat(path)
    }

    fn dir_stat_in(&self, dir: &Path, names: &[&str]) -> Result<Option<DirAndFiles>, IoError> {
        OsSystem.dir_stat_in(dir, names)
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError> {
        let entries = OsSystem.list_dir(path)?;
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
        let dir = ProductDir::new(limit);
        let found = floe_engine::discover::discover(&dir, root, &Default::default(), 0, 2)
            .map(|d| d.files.into_iter().map(|(p, _)| p.to_string()).collect());
        (found, dir.exceeded())
    }

    #[test]
    fn the_walk_finds_what_a_workspace_walk_finds_and_stops_at_its_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for dir in ["models/staging", "target/compiled/p/models", "seeds"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let files = ["floe.yaml", "dbt_project.yml", "models/a.sql", "models/staging/b.sql", "seeds/c.csv"];
        for file in files.iter().chain(&["target/compiled/p/models/a.sql", "notes.txt"]) {
            std::fs::write(root.join(file), "").unwrap();
        }
        let (found, exceeded) = walk(root, 100);
        let mut expected = files.to_vec();
        expected.sort_unstable();
        assert_eq!(found.unwrap(), expected);
        assert!(!exceeded);
        // Six entries at the top, two in models/: the walk stops there.
        let (found, exceeded) = walk(root, 7);
        assert!(found.is_err() && exceeded);
    }
}
