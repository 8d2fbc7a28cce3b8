//! The real file system behind the engine's `System` trait.
//!
//! This is the one module of floe allowed to touch the disk (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use floe_engine::{DirEntry, FileStat, IoError, System};

pub struct OsSystem;

fn io_error(op: &'static str, path: &Path, e: std::io::Error) -> IoError {
    IoError { op, path: path.to_path_buf(), message: e.to_string() }
}

fn stat_of(meta: &std::fs::Metadata) -> FileStat {
    FileStat { size: meta.len(), mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(), inode: meta.ino() }
}

impl System for OsSystem {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", path, e)),
        }
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", path, e)),
        };
        let mut buf = vec![0; len as usize];
        match f.seek(SeekFrom::Start(offset)).and_then(|_| f.read_exact(&mut buf)) {
            Ok(()) => Ok(Some(buf)),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io_error("read", path, e)),
        }
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(stat_of(&m))),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(io_error("stat", path, e)),
        }
    }

    fn stat_in(&self, dir: &Path, names: &[String]) -> Result<Vec<Option<FileStat>>, IoError> {
        use rustix::fs::{AtFlags, FileType, Mode, OFlags};
        use rustix::io::Errno;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let absent = |e: Errno| matches!(e, Errno::NOENT | Errno::NOTDIR);
        let fd = match rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if absent(e) => return Ok(vec![None; names.len()]),
            Err(e) => return Err(io_error("open", dir, e.into())),
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            // Each name is looked up in the open directory: one path component, not the whole path.
            out.push(match rustix::fs::statat(&fd, name.as_str(), AtFlags::empty()) {
                Ok(st) if FileType::from_raw_mode(st.st_mode).is_file() => Some(FileStat {
                    size: st.st_size as u64,
                    mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec as i64,
                    inode: st.st_ino,
                }),
                Ok(_) => None,
                Err(e) if absent(e) => None,
                Err(e) => return Err(io_error("stat", &dir.join(name), e.into())),
            });
        }
        Ok(out)
    }

    fn dir_mtime(&self, path: &Path) -> Result<Option<i64>, IoError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(Some(m.mtime() * 1_000_000_000 + m.mtime_nsec())),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(io_error("stat", path, e)),
        }
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError> {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", path, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("list", path, e))?;
            let file_type = entry.file_type().map_err(|e| io_error("list", path, e))?;
            // A symlink counts as what it points at; a dangling one is skipped.
            let is_dir = if file_type.is_symlink() {
                match std::fs::metadata(entry.path()) {
                    Ok(m) => m.is_dir(),
                    Err(_) => continue,
                }
            } else {
                file_type.is_dir()
            };
            out.push(DirEntry { name: entry.file_name().to_string_lossy().into_owned(), is_dir });
        }
        Ok(out)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<FileStat, IoError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
        let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            drop(f);
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error("write", path, e));
        }
        let meta = std::fs::metadata(path).map_err(|e| io_error("stat", path, e))?;
        Ok(stat_of(&meta))
    }

    fn remove_all(&self, path: &Path) -> Result<(), IoError> {
        let result = match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", path, e)),
        }
    }
}

/// Reads a file for rendering a diagnostic's snippet; failures just mean no snippet.
pub fn read_text(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The process's working directory.
pub fn current_dir() -> Result<std::path::PathBuf, IoError> {
    std::env::current_dir().map_err(|e| io_error("read the current directory", Path::new("."), e))
}

/// An absolute, symlink-free form of `path`.
pub fn canonicalize(path: &Path) -> Result<std::path::PathBuf, IoError> {
    std::fs::canonicalize(path).map_err(|e| io_error("resolve", path, e))
}

/// Seconds since the Unix epoch by the system clock: read once per run, only
/// for the evaluation date of expiring policy overrides when
/// `SOURCE_DATE_EPOCH` is not set.
pub fn now_epoch_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
