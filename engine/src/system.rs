//! The engine's only window on the world.
//!
//! **Architecture Invariant:** the engine reads, lists, stats and writes files
//! exclusively through [`System`]. The driver implements it over the real file
//! system; tests use [`MemorySystem`]. Nothing else in the engine can observe the
//! file system, the environment, the clock or the network (clippy enforces it).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// What a stat tells the engine: enough to notice that a file changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    /// Modification time in nanoseconds since the epoch, as the file system keeps it.
    pub mtime_ns: i64,
    pub inode: u64,
}

/// What a directory entry is, as the directory lists it (a link is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FileKind {
    File,
    Dir,
    /// A symbolic link; [`System::resolve`] says where it leads.
    Link,
    Fifo,
    Socket,
    Device,
}

impl FileKind {
    /// How a diagnostic names it.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::File => "a regular file",
            FileKind::Dir => "a directory",
            FileKind::Link => "a symbolic link",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: FileKind,
}

/// A directory's modification time and identity: the walk follows no
/// directory twice, however many links lead to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirStat {
    pub mtime_ns: i64,
    pub dev: u64,
    pub ino: u64,
}

/// What makes a file's bytes a piece at a time: it hands each piece, in
/// order, to the sink it is given (see [`System::write_atomic_pieces`]).
pub type Pieces<'a> = &'a dyn Fn(&mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>;

/// A directory's stat and the stats of files in it: see [`System::dir_stat_in`].
pub type DirAndFiles = (DirStat, Vec<Option<FileStat>>);

/// An advisory lock, held until it is dropped or its process ends (however it
/// ends: a killed process holds nothing).
pub struct Lock(#[allow(dead_code)] Box<dyn std::any::Any + Send + Sync>);

impl Lock {
    pub fn new(guard: impl std::any::Any + Send + Sync) -> Lock {
        Lock(Box::new(guard))
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lock")
    }
}

/// What [`System::try_lock`] found.
#[derive(Debug)]
pub enum Locked {
    Held(Lock),
    /// Another process holds a lock that conflicts.
    Busy,
    /// There is no such file (and it was not to be created).
    Absent,
}

/// The name of the temporary file a write of `name` goes through: hidden, and
/// marked, so that one whose writer was killed can be told apart and removed.
/// `unique` tells concurrent writers apart.
pub fn temporary_name(name: &str, unique: &str) -> String {
    format!(".{name}{TEMPORARY_MARK}{unique}")
}

const TEMPORARY_MARK: &str = ".floe-tmp-";

/// `len` bytes of `bytes` at `offset`, or `None` when it has not that many.
pub fn range(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let end = offset.checked_add(len)?;
    bytes.get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?)
}

/// [`range`] into `buf`, in place of what it held, as
/// [`System::read_at_into`] answers: `false` (and `buf` empty) when
/// `bytes` has not that many.
pub fn range_into(bytes: &[u8], offset: u64, len: u64, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let Some(r) = range(bytes, offset, len) else { return false };
    buf.extend_from_slice(r);
    true
}

/// Whether `name` is a temporary file of [`temporary_name`].
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMPORARY_MARK)
}

/// The components of a relative path below a base, each a plain name: no
/// `.`, no `..`, nothing absolute. `None` otherwise.
pub fn plain_components(rel: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = rel.split('/').collect();
    let plain = |p: &&str| !p.is_empty() && *p != "." && *p != ".." && !p.contains(['\\', '\0']);
    parts.iter().all(plain).then_some(parts)
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
    /// The bytes of a regular file, or `None` when it does not exist. Anything
    /// else (a FIFO, a device) is an error, and opening it never waits.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError>;
    /// `len` bytes at `offset` of a file, or `None` when it does not exist or
    /// is shorter. Nothing is allocated for bytes the file does not have.
    fn read_at(&self, path: &Path, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError> {
        let mut buf = Vec::new();
        Ok(self.read_at_into(path, offset, len, &mut buf)?.then_some(buf))
    }
    /// The same into `buf`, in place of what it held, so that a reader of
    /// many ranges reuses one buffer; `false` (and `buf` empty) when the
    /// file does not exist or is shorter.
    fn read_at_into(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError>;
    /// The file's stat, or `None` when it does not exist.
    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError>;
    /// The stats of `names` in directory `dir`, in order, as [`System::stat`]
    /// gives them. A batch, so that a real file system resolves the directory
    /// once rather than once per name.
    fn stat_in(&self, dir: &Path, names: &[&str]) -> Result<Vec<Option<FileStat>>, IoError> {
        names.iter().map(|n| self.stat(&dir.join(n))).collect()
    }
    /// A directory's modification time (it changes when an entry is added,
    /// removed or renamed) and identity, or `None` when it does not exist. A
    /// link to a directory counts as the directory.
    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError>;
    /// A directory's stat, as [`System::dir_stat`] gives it, then the stats
    /// of `names` in it, as [`System::stat_in`] gives them; `None` when it
    /// does not exist. One batch, so that a real file system looks the
    /// directory up once for both: a walk that trusts a directory's listing
    /// stats it and the files it lists.
    fn dir_stat_in(&self, dir: &Path, names: &[&str]) -> Result<Option<DirAndFiles>, IoError> {
        let Some(stat) = self.dir_stat(dir)? else { return Ok(None) };
        Ok(Some((stat, self.stat_in(dir, names)?)))
    }
    /// A directory's modification time, as [`System::dir_stat`] gives it.
    fn dir_mtime(&self, path: &Path) -> Result<Option<i64>, IoError> {
        Ok(self.dir_stat(path)?.map(|d| d.mtime_ns))
    }
    /// A directory's entries, in any order, as it lists them (links are not
    /// followed); empty when it does not exist.
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError>;
    /// Where a path leads once every link is followed: its absolute,
    /// link-free form and what is there (never [`FileKind::Link`]); `None`
    /// when it leads nowhere (a dangling link, a loop of links).
    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, FileKind)>, IoError>;
    /// Replaces the file `base/rel` at once (temporary file and rename),
    /// creating the directories of `rel` below `base`, and returns the new
    /// file's stat. `base` is taken as it is; below it nothing is written
    /// through a link: a link where a directory of `rel` goes is replaced by
    /// a directory, one where the file goes by the file. `rel` is `/`-separated
    /// plain names (see [`plain_components`]).
    fn write_atomic(&self, base: &Path, rel: &str, bytes: &[u8]) -> Result<FileStat, IoError> {
        Ok(self.write_all_atomic(base, &[(rel, bytes)])?.remove(0))
    }
    /// [`System::write_atomic`] of the file `name` (a plain name) in `base`,
    /// whose bytes `pieces` makes a piece at a time: no copy of the whole
    /// file need be held (a state is 60 MB at 10,000 products). `pieces` may
    /// be called more than once (a write started again) and must make the
    /// same bytes each time.
    fn write_atomic_pieces(&self, base: &Path, name: &str, pieces: Pieces<'_>) -> Result<FileStat, IoError> {
        let mut bytes = Vec::new();
        pieces(&mut |piece| {
            bytes.extend_from_slice(piece);
            Ok(())
        })
        .map_err(|e| IoError { op: "write", path: base.join(name), message: e.to_string() })?;
        self.write_atomic(base, name, &bytes)
    }
    /// Appends `bytes` to the file `name` (a plain name) in `base`, creating
    /// it if it is not there, and returns its stat. Not atomic: what reads
    /// the file must tell a torn end (a state log sums each entry). Here the
    /// file is written anew, whole; a real file system appends.
    fn append(&self, base: &Path, name: &str, bytes: &[u8]) -> Result<FileStat, IoError> {
        let mut whole = self.read(&base.join(name))?.unwrap_or_default();
        whole.extend_from_slice(bytes);
        self.write_atomic(base, name, &whole)
    }
    /// Each file as [`System::write_atomic`] writes it, in order, returning
    /// their stats: one call for the outputs of a package, so that the
    /// directories they share are opened once.
    fn write_all_atomic(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError>;
    /// Outputs, as [`System::write_all_atomic`] writes files but read-only, as
    /// Bazel and Nix leave theirs: an output is replaced, not edited in
    /// place, so the directory that holds it shows every change to it (see
    /// `build::Context::reuse`). A file system without modes writes them as
    /// any other file.
    fn write_outputs(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        self.write_all_atomic(base, files)
    }
    /// Removes a file or a whole directory (a link, not what it leads to);
    /// absent is fine.
    fn remove_all(&self, path: &Path) -> Result<(), IoError>;
    /// Removes `base/rel` (a file, a link, a whole directory) as
    /// [`System::remove_all`] does, but, like [`System::write_atomic`],
    /// through no link below `base`: where a link stands in for a directory of
    /// `rel`, nothing below it is floe's, and nothing is removed.
    fn remove_below(&self, base: &Path, rel: &str) -> Result<(), IoError>;
    /// Takes an advisory lock on the file at `path` (`exclusive`, or shared
    /// with other shared holders), creating the file first if `create`.
    /// Never waits: a conflicting holder makes it [`Locked::Busy`].
    fn try_lock(&self, path: &Path, exclusive: bool, create: bool) -> Result<Locked, IoError>;
    /// Removes, below `dir`, the temporary files of writes whose process is
    /// gone (killed mid-write); a write still under way keeps its own.
    /// Returns how many it removed.
    fn sweep(&self, dir: &Path) -> Result<usize, IoError>;
    /// Runs an out-of-tree plugin: `program` with `stdin`, an empty
    /// environment, a fresh temporary working directory, killed after
    /// `limit`. Not being able to make the temporary directory is an
    /// `IoError`; everything the program does is a [`Ran`].
    fn run_plugin(&self, program: &Path, stdin: &[u8], limit: std::time::Duration) -> Result<Ran, IoError> {
        let _ = (stdin, limit);
        Ok(Ran::NotStarted { message: format!("`{}`: this system runs no processes", program.display()) })
    }
}

/// An in-memory [`System`] for tests: deterministic stats, no disk, no links.
#[derive(Default)]
pub struct MemorySystem {
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    files: BTreeMap<PathBuf, (Vec<u8>, FileStat)>,
    /// Directory mtimes: bumped when an entry appears in or leaves a directory.
    dirs: BTreeMap<PathBuf, i64>,
    clock: i64,
    reads: u64,
    /// Every file `read` was asked for, with how many times.
    read_counts: BTreeMap<PathBuf, u64>,
    lists: u64,
    /// Every file `stat` was asked about, with how many times.
    stats: BTreeMap<PathBuf, u64>,
    /// How many times `dir_stat` was asked about anything.
    dir_stats: u64,
    /// Locks held: shared holders, and whether one holds it exclusively.
    locks: BTreeMap<PathBuf, (usize, bool)>,
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

    fn insert(&mut self, path: &Path, bytes: &[u8]) -> FileStat {
        self.clock += 1_000_000_000;
        let stat = FileStat { size: bytes.len() as u64, mtime_ns: self.clock, inode: self.clock as u64 };
        if self.files.insert(path.to_path_buf(), (bytes.to_vec(), stat)).is_none() {
            self.touch_parents(path);
        }
        stat
    }

    /// A file renamed over `path`: its directory's listing changed.
    fn renamed_into(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            let clock = self.clock;
            self.dirs.insert(parent.to_path_buf(), clock);
        }
    }

    fn locked(&self, path: &Path) -> bool {
        self.locks.get(path).is_some_and(|(shared, exclusive)| *shared > 0 || *exclusive)
    }
}

/// A lock of a [`MemorySystem`], released when dropped.
struct MemoryLock {
    state: Arc<Mutex<MemoryState>>,
    path: PathBuf,
    exclusive: bool,
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((shared, exclusive)) = s.locks.get_mut(&self.path) {
            if self.exclusive {
                *exclusive = false;
            } else {
                *shared = shared.saturating_sub(1);
            }
        }
    }
}

impl MemorySystem {
    pub fn new() -> MemorySystem {
        MemorySystem::default()
    }

    /// Writes a file as a user would (not through the engine): an existing
    /// one is edited in place, and its directory's mtime stays.
    pub fn put(&self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        self.lock().insert(path.as_ref(), bytes.as_ref());
    }

    /// Replaces a file as most editors save one (a new file renamed over
    /// it): its directory's mtime moves.
    pub fn replace(&self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        let mut s = self.lock();
        s.insert(path.as_ref(), bytes.as_ref());
        s.renamed_into(path.as_ref());
    }

    /// How many times `stat` was asked about files below `dir`.
    pub fn stats_below(&self, dir: impl AsRef<Path>) -> u64 {
        self.lock().stats.iter().filter(|(p, _)| p.starts_with(dir.as_ref())).map(|(_, n)| n).sum()
    }

    /// How many times `dir_stat` was asked about any directory.
    pub fn dir_stats(&self) -> u64 {
        self.lock().dir_stats
    }

    pub fn get(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        self.lock().files.get(path.as_ref()).map(|(b, _)| b.clone())
    }

    /// How many times `read` was called, to prove what a build did not read.
    pub fn reads(&self) -> u64 {
        self.lock().reads
    }

    /// How many times `read` was asked for `path`.
    pub fn reads_of(&self, path: impl AsRef<Path>) -> u64 {
        self.lock().read_counts.get(path.as_ref()).copied().unwrap_or(0)
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
        *s.read_counts.entry(path.to_path_buf()).or_default() += 1;
        Ok(s.files.get(path).map(|(b, _)| b.clone()))
    }

    fn read_at_into(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError> {
        let mut s = self.lock();
        s.reads += 1;
        match s.files.get(path) {
            Some((bytes, _)) => Ok(range_into(bytes, offset, len, buf)),
            None => {
                buf.clear();
                Ok(false)
            }
        }
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        let mut s = self.lock();
        *s.stats.entry(path.to_path_buf()).or_default() += 1;
        Ok(s.files.get(path).map(|(_, st)| *st))
    }

    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError> {
        let mut s = self.lock();
        s.dir_stats += 1;
        Ok(s.dirs.get(path).map(|mtime| {
            // Paths are all a memory system has to tell directories apart.
            let id = blake3::hash(path.as_os_str().as_encoded_bytes());
            let ino = u64::from_le_bytes(id.as_bytes()[..8].try_into().expect("eight bytes"));
            DirStat { mtime_ns: *mtime, dev: 0, ino }
        }))
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
        Ok(out
            .into_iter()
            .map(|(name, is_dir)| DirEntry { name, kind: if is_dir { FileKind::Dir } else { FileKind::File } })
            .collect())
    }

    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, FileKind)>, IoError> {
        let s = self.lock();
        Ok(if s.files.contains_key(path) {
            Some((path.to_path_buf(), FileKind::File))
        } else if s.dirs.contains_key(path) {
            Some((path.to_path_buf(), FileKind::Dir))
        } else {
            None
        })
    }

    fn write_all_atomic(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        let mut stats = Vec::with_capacity(files.len());
        for (rel, bytes) in files {
            let path = base.join(rel);
            if plain_components(rel).is_none() {
                return Err(IoError { op: "write", path, message: "not a plain relative path".to_owned() });
            }
            // A temporary file renamed over it, as on a real file system.
            let mut s = self.lock();
            stats.push(s.insert(&path, bytes));
            s.renamed_into(&path);
        }
        Ok(stats)
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

    fn remove_below(&self, base: &Path, rel: &str) -> Result<(), IoError> {
        if plain_components(rel).is_none() {
            return Err(IoError {
                op: "remove",
                path: base.join(rel),
                message: "not a plain relative path".to_owned(),
            });
        }
        self.remove_all(&base.join(rel))
    }

    fn try_lock(&self, path: &Path, exclusive: bool, create: bool) -> Result<Locked, IoError> {
        let mut s = self.lock();
        if !s.files.contains_key(path) {
            if !create {
                return Ok(Locked::Absent);
            }
            s.insert(path, b"");
        }
        let (shared, held) = s.locks.entry(path.to_path_buf()).or_default();
        if *held || (exclusive && *shared > 0) {
            return Ok(Locked::Busy);
        }
        if exclusive {
            *held = true;
        } else {
            *shared += 1;
        }
        drop(s);
        Ok(Locked::Held(Lock::new(MemoryLock { state: self.state.clone(), path: path.to_path_buf(), exclusive })))
    }

    fn sweep(&self, dir: &Path) -> Result<usize, IoError> {
        let mut s = self.lock();
        let abandoned: Vec<PathBuf> = s
            .files
            .keys()
            .filter(|p| p.starts_with(dir))
            .filter(|p| p.file_name().is_some_and(|n| is_temporary(&n.to_string_lossy())))
            .filter(|p| !s.locked(p))
            .cloned()
            .collect();
        for p in &abandoned {
            s.files.remove(p);
        }
        Ok(abandoned.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_what_the_bytes_have_and_no_more() {
        let bytes = b"hello";
        assert_eq!(range(bytes, 1, 3), Some(&b"ell"[..]));
        assert_eq!(range(bytes, 0, 5), Some(&b"hello"[..]));
        assert_eq!(range(bytes, 5, 0), Some(&b""[..]));
        for (offset, len) in [(0, 6), (4, 2), (6, 0), (u64::MAX, 2), (2, u64::MAX)] {
            assert_eq!(range(bytes, offset, len), None, "{offset} {len}");
        }
        let mut buf = b"left from the last range".to_vec();
        assert!(range_into(bytes, 3, 2, &mut buf));
        assert_eq!(buf, b"lo");
        assert!(!range_into(bytes, 4, 2, &mut buf));
        assert!(buf.is_empty());
    }
}
