//! The engine's only window on the world.
//!
//! **Architecture Invariant:** the engine reads, lists, stats and writes files
//! exclusively through [`System`]. The driver implements it over the real file
//! system; tests use [`MemorySystem`]. Nothing else in the engine can observe the
//! file system, the environment, the clock or the network (clippy enforces it).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What a stat tells the engine: enough to notice that a file changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    /// Modification time in nanoseconds since the epoch, as the file system keeps it.
    pub mtime_ns: i64,
    pub inode: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// An infrastructure failure: the file system did not do what was asked. Never
/// cached, and reported with its own exit code, apart from problems in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoError {
    pub op: &'static str,
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} `{}`: {}", self.op, self.path.display(), self.message)
    }
}

impl std::error::Error for IoError {}

/// What an out-of-tree plugin's process did with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    /// It exited; `code` is `None` when a signal ended it.
    Exited { code: Option<i32>, stdout: Vec<u8>, stderr: Vec<u8> },
    /// It was still running at the time limit, and was killed.
    TimedOut,
    /// It could not be started (not executable, no interpreter).
    NotStarted { message: String },
}

pub trait System: Send + Sync {
    /// The file's bytes, or `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError>;
    /// `len` bytes at `offset` of a file, or `None` when it does not exist or
    /// is shorter.
    fn read_at(&self, path: &Path, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError>;
    /// The file's stat, or `None` when it does not exist.
    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError>;
    /// The stats of `names` in directory `dir`, in order, as [`System::stat`]
    /// gives them. A batch, so that a real file system resolves the directory
    /// once rather than once per name.
    fn stat_in(&self, dir: &Path, names: &[String]) -> Result<Vec<Option<FileStat>>, IoError> {
        names.iter().map(|n| self.stat(&dir.join(n))).collect()
    }
    /// A directory's modification time (it changes when an entry is added,
    /// removed or renamed), or `None` when it does not exist.
    fn dir_mtime(&self, path: &Path) -> Result<Option<i64>, IoError>;
    /// A directory's entries, in any order; empty when it does not exist.
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError>;
    /// Replaces the file at once (temporary file and rename), creating parent
    /// directories; returns the new file's stat.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<FileStat, IoError>;
    /// Removes a file or a whole directory; absent is fine.
    fn remove_all(&self, path: &Path) -> Result<(), IoError>;
    /// Runs an out-of-tree plugin: `program` with `stdin`, an empty
    /// environment, a fresh temporary working directory, killed after
    /// `limit`. Not being able to make the temporary directory is an
    /// `IoError`; everything the program does is a [`Ran`].
    fn run_plugin(&self, program: &Path, stdin: &[u8], limit: std::time::Duration) -> Result<Ran, IoError> {
        let _ = (stdin, limit);
        Ok(Ran::NotStarted { message: format!("`{}`: this system runs no processes", program.display()) })
    }
}

/// An in-memory [`System`] for tests: deterministic stats, no disk.
#[derive(Default)]
pub struct MemorySystem {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    files: BTreeMap<PathBuf, (Vec<u8>, FileStat)>,
    /// Directory mtimes: bumped when an entry appears in or leaves a directory.
    dirs: BTreeMap<PathBuf, i64>,
    clock: i64,
    reads: u64,
    lists: u64,
}

impl MemoryState {
    /// Records that `path` appeared or disappeared: its parent's listing
    /// changed, and so did each ancestor's that gained or lost a subdirectory.
    fn touch_parents(&mut self, path: &Path) {
        let mut child = path;
        while let Some(parent) = child.parent() {
            let existed = self.dirs.contains_key(parent);
            self.dirs.insert(parent.to_path_buf(), self.clock);
            if existed {
                break;
            }
            child = parent;
        }
    }
}

impl MemorySystem {
    pub fn new() -> MemorySystem {
        MemorySystem::default()
    }

    /// Writes a file as a user would (not through the engine).
    pub fn put(&self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        let _ = self.write_atomic(path.as_ref(), bytes.as_ref());
    }

    pub fn get(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        self.lock().files.get(path.as_ref()).map(|(b, _)| b.clone())
    }

    /// How many times `read` was called, to prove what a build did not read.
    pub fn reads(&self) -> u64 {
        self.lock().reads
    }

    /// How many directories were listed.
    pub fn lists(&self) -> u64 {
        self.lock().lists
    }

    /// Every file below `dir`, for inspection.
    pub fn files_under(&self, dir: impl AsRef<Path>) -> Vec<PathBuf> {
        self.lock().files.keys().filter(|p| p.starts_with(dir.as_ref())).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl System for MemorySystem {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError> {
        let mut s = self.lock();
        s.reads += 1;
        Ok(s.files.get(path).map(|(b, _)| b.clone()))
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError> {
        let mut s = self.lock();
        s.reads += 1;
        let range = offset as usize..(offset + len) as usize;
        Ok(s.files.get(path).and_then(|(b, _)| b.get(range)).map(<[u8]>::to_vec))
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        Ok(self.lock().files.get(path).map(|(_, st)| *st))
    }

    fn dir_mtime(&self, path: &Path) -> Result<Option<i64>, IoError> {
        Ok(self.lock().dirs.get(path).copied())
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError> {
        let mut s = self.lock();
        s.lists += 1;
        let mut out: BTreeMap<String, bool> = BTreeMap::new();
        for p in s.files.keys() {
            if let Ok(rest) = p.strip_prefix(path) {
                let mut comps = rest.components();
                if let Some(first) = comps.next() {
                    let is_dir = comps.next().is_some();
                    let name = first.as_os_str().to_string_lossy().into_owned();
                    *out.entry(name).or_insert(false) |= is_dir;
                }
            }
        }
        Ok(out.into_iter().map(|(name, is_dir)| DirEntry { name, is_dir }).collect())
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<FileStat, IoError> {
        let mut s = self.lock();
        s.clock += 1_000_000_000;
        let stat = FileStat { size: bytes.len() as u64, mtime_ns: s.clock, inode: s.clock as u64 };
        if s.files.insert(path.to_path_buf(), (bytes.to_vec(), stat)).is_none() {
            s.touch_parents(path);
        }
        Ok(stat)
    }

    fn remove_all(&self, path: &Path) -> Result<(), IoError> {
        let mut s = self.lock();
        s.clock += 1_000_000_000;
        s.files.retain(|p, _| !p.starts_with(path));
        s.dirs.retain(|p, _| !p.starts_with(path));
        if let Some(parent) = path.parent() {
            let clock = s.clock;
            s.dirs.insert(parent.to_path_buf(), clock);
        }
        Ok(())
    }
}
