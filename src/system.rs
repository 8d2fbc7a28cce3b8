//! The real file system behind the engine's `System` trait.
//!
//! This is the one module of floe allowed to touch the disk (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use floe_engine::system::{
    DirAndFiles, DirStat, FileKind, Lock, Locked, Pieces, is_temporary, plain_components, temporary_name,
};
use floe_engine::{DirEntry, FileStat, IoError, Ran, System};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

pub struct OsSystem;

fn io_error(op: &'static str, path: &Path, e: std::io::Error) -> IoError {
    IoError { op, path: path.to_path_buf(), message: e.to_string() }
}

fn errno(op: &'static str, path: &Path, e: Errno) -> IoError {
    io_error(op, path, e.into())
}

fn stat_of(meta: &std::fs::Metadata) -> FileStat {
    FileStat { size: meta.len(), mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(), inode: meta.ino() }
}

fn stat_of_raw(st: &rustix::fs::Stat) -> FileStat {
    FileStat {
        size: st.st_size as u64,
        mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec as i64,
        inode: st.st_ino,
    }
}

fn kind_of(file_type: FileType) -> FileKind {
    match file_type {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Link,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        _ => FileKind::Device,
    }
}

fn kind_of_std(t: std::fs::FileType) -> FileKind {
    if t.is_symlink() {
        FileKind::Link
    } else if t.is_dir() {
        FileKind::Dir
    } else if t.is_file() {
        FileKind::File
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else {
        FileKind::Device
    }
}

fn absent(e: Errno) -> bool {
    matches!(e, Errno::NOENT | Errno::NOTDIR)
}

/// Opens a directory (following links, as [`System::dir_stat`] does) to
/// look names up in it; `None` when there is none at `dir`.
fn open_dir(dir: &Path) -> Result<Option<OwnedFd>, IoError> {
    match rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if absent(e) => Ok(None),
        Err(e) => Err(errno("open", dir, e)),
    }
}

/// `base/name`, when `name` is one plain component (a write's target).
fn plain_name_in(base: &Path, name: &str) -> Result<PathBuf, IoError> {
    let path = base.join(name);
    match plain_components(name) {
        Some(parts) if parts.len() == 1 => Ok(path),
        _ => Err(IoError { op: "write", path, message: "not a plain name".to_owned() }),
    }
}

/// The stats of `names` in the open directory `fd` (at `dir`), as
/// [`System::stat_in`] gives them: each name is one path component to look
/// up, not the whole path.
fn stats_in(fd: &OwnedFd, dir: &Path, names: &[&str]) -> Result<Vec<Option<FileStat>>, IoError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(match rustix::fs::statat(fd, *name, AtFlags::empty()) {
            Ok(st) if FileType::from_raw_mode(st.st_mode).is_file() => Some(stat_of_raw(&st)),
            Ok(_) => None,
            Err(e) if absent(e) => None,
            Err(e) => return Err(errno("stat", &dir.join(name), e)),
        });
    }
    Ok(out)
}

/// Opens a regular file for reading. `O_NONBLOCK`: opening a FIFO returns at
/// once instead of waiting for a writer; it is then refused, like anything but
/// a regular file. `None` when it does not exist.
fn open_regular(path: &Path) -> Result<Option<(OwnedFd, rustix::fs::Stat)>, IoError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if absent(e) => return Ok(None),
        Err(e) => return Err(errno("read", path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| errno("read", path, e))?;
    match kind_of(FileType::from_raw_mode(st.st_mode)) {
        FileKind::File => Ok(Some((fd, st))),
        other => Err(IoError {
            op: "read",
            path: path.to_path_buf(),
            message: format!("it is {}, not a regular file", other.describe()),
        }),
    }
}

/// The bytes of a regular file (see [`open_regular`]).
pub fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, IoError> {
    use std::io::Read;
    let Some((fd, st)) = open_regular(path)? else { return Ok(None) };
    // The size sizes the buffer (one byte more, so that the read that finds
    // the end is the second); the file may still grow. Plain reads: std's
    // `read_to_end` would stat and seek again to learn what we know.
    let mut file = std::fs::File::from(fd);
    let mut bytes = vec![0; usize::try_from(st.st_size).unwrap_or(0).min(1 << 26) + 1];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("read", path, e)),
        }
    }
    bytes.truncate(filled);
    Ok(Some(bytes))
}

/// An output as the last build recorded it (under `out`): its bytes, only
/// if they still hash as recorded; `doing` (`publish`, `deploy`) says what
/// to run again when they do not.
pub fn read_output(out: &Path, output: &floe_engine::store::OutputRecord, doing: &str) -> Result<Vec<u8>, IoError> {
    let path = out.join(output.path.as_str());
    read_regular(&path)?.filter(|b| floe_engine::Hash::of(b) == output.hash).ok_or_else(|| IoError {
        op: "read",
        path: path.clone(),
        message: format!("the output changed while floe used it; {doing} again"),
    })
}

/// The executable `name` of `$PATH`, if there is one: the first, as a shell
/// finds it (through links: packaged programs often are one).
pub fn program_on_path(name: &str) -> Option<PathBuf> {
    let path = crate::env::get(&crate::env::PATH)?;
    std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()).map(|d| d.join(name)).find(|p| executable(p))
}

#[allow(clippy::disallowed_methods)] // the driver looks at a program's mode before it runs it
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What is at `path`, without following a link; `None` when nothing is.
pub fn kind(path: &Path) -> Result<Option<FileKind>, IoError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(kind_of_std(m.file_type()))),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(io_error("stat", path, e)),
    }
}

/// Opens directory `name` in `dir` without following a link. A link (or a
/// stray file) where the directory goes is replaced by a directory: floe
/// owns everything below a base it writes to, and writes through no link.
fn open_dir_below(dir: &OwnedFd, name: &str, shown: &Path) -> Result<OwnedFd, IoError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for _ in 0..3 {
        match rustix::fs::openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(errno("create directory", shown, e)),
            },
            // ELOOP: a link (O_NOFOLLOW); ENOTDIR: something else.
            Err(Errno::LOOP | Errno::NOTDIR) => {
                let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| errno("create directory", shown, e))?;
                if kind_of(FileType::from_raw_mode(st.st_mode)) != FileKind::Link {
                    return Err(IoError {
                        op: "create directory",
                        path: shown.to_path_buf(),
                        message: "a file is in the way".to_owned(),
                    });
                }
                match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(errno("remove the link", shown, e)),
                }
            }
            Err(e) => return Err(errno("open", shown, e)),
        }
    }
    Err(IoError { op: "open", path: shown.to_path_buf(), message: "it keeps changing".to_owned() })
}

/// A fresh temporary file beside `name` in `dir`, locked for as long as it is
/// open: [`OsSystem::sweep`] removes only temporary files nobody holds.
fn create_temporary(dir: &OwnedFd, name: &str, shown: &Path) -> Result<(String, OwnedFd), IoError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // Asked once: each ask is a system call, and a build makes a temporary
    // file per output.
    static PID: OnceLock<u32> = OnceLock::new();
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for _ in 0..8 {
        let pid = *PID.get_or_init(std::process::id);
        let unique = format!("{pid}-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let tmp = temporary_name(name, &unique);
        let fd = match rustix::fs::openat(dir, tmp.as_str(), flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(errno("write", shown, e)),
        };
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            // Without locks (see `try_lock`) nothing is swept either.
            Ok(()) | Err(Errno::NOLCK | Errno::OPNOTSUPP | Errno::NOSYS) => return Ok((tmp, fd)),
            // A sweep took it in the instant between creating and locking: it
            // removes that file; this write takes another.
            Err(Errno::WOULDBLOCK) => continue,
            Err(e) => return Err(errno("lock", shown, e)),
        }
    }
    Err(IoError { op: "write", path: shown.to_path_buf(), message: "no temporary file could be made".to_owned() })
}

/// Removes entry `name` of `dir`, a directory with all it holds, following
/// no link: a link is removed, not what it leads to.
fn remove_entry(dir: &OwnedFd, name: &std::ffi::CStr, shown: &Path) -> Result<(), IoError> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(errno("remove", shown, e)),
    };
    if kind_of(FileType::from_raw_mode(st.st_mode)) != FileKind::Dir {
        return match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(errno("remove", shown, e)),
        };
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let sub = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| errno("remove", shown, e))?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&sub).map_err(|e| errno("list", shown, e))? {
        let entry = entry.map_err(|e| errno("list", shown, e))?;
        if !matches!(entry.file_name().to_bytes(), b"." | b"..") {
            names.push(entry.file_name().to_owned());
        }
    }
    for n in &names {
        remove_entry(&sub, n, &shown.join(n.to_string_lossy().as_ref()))?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(errno("remove", shown, e)),
    }
}

/// Replaces `name` in `dir` with a file holding what `pieces` makes:
/// written to a temporary file, then renamed over whatever is there, a link
/// included; `read_only` leaves it so (mode 0444).
fn write_in(dir: &OwnedFd, name: &str, path: &Path, pieces: Pieces<'_>, read_only: bool) -> Result<FileStat, IoError> {
    // A sweep can remove a temporary file in the instant between its
    // creation and its lock (see `create_temporary`); then the rename
    // finds nothing, and the write starts again.
    for _ in 0..3 {
        let (tmp, fd) = create_temporary(dir, name, path)?;
        let mut file = std::fs::File::from(fd);
        let written = pieces(&mut |piece| file.write_all(piece)).map_err(|e| io_error("write", path, e));
        let written = written.and_then(|()| match read_only {
            true => rustix::fs::fchmod(&file, Mode::from_raw_mode(0o444)).map_err(|e| errno("write", path, e)),
            false => Ok(()),
        });
        let stat = written.and_then(|()| {
            let meta = file.metadata().map_err(|e| io_error("stat", path, e))?;
            Ok(stat_of(&meta))
        });
        let renamed = stat.and_then(|st| match rustix::fs::renameat(dir, tmp.as_str(), dir, name) {
            Ok(()) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(errno("write", path, e)),
        });
        match renamed {
            Ok(Some(st)) => return Ok(st),
            Ok(None) => continue,
            Err(e) => {
                let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
                return Err(e);
            }
        }
    }
    Err(IoError { op: "write", path: path.to_path_buf(), message: "its temporary file kept disappearing".to_owned() })
}

/// [`System::write_all_atomic`], each file read-only if `read_only`.
fn write_files(base: &Path, files: &[(&str, &[u8])], read_only: bool) -> Result<Vec<FileStat>, IoError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(base).map_err(|e| io_error("create directory", base, e))?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open(base, flags, Mode::empty()).map_err(|e| errno("open", base, e))?;
    // The directories of the previous file, each open below the one
    // before: the next file opens only the ones it does not share.
    let mut open: Vec<(&str, OwnedFd)> = Vec::new();
    let mut stats = Vec::with_capacity(files.len());
    for (rel, bytes) in files {
        let path = base.join(rel);
        let parts = plain_components(rel).unwrap_or_default();
        let Some((name, dirs)) = parts.split_last() else {
            return Err(IoError { op: "write", path, message: "not a plain relative path".to_owned() });
        };
        let shared = open.iter().zip(dirs).take_while(|((o, _), d)| o == *d).count();
        open.truncate(shared);
        for (i, d) in dirs.iter().enumerate().skip(shared) {
            let shown = base.join(dirs[..=i].join("/"));
            let below = open_dir_below(open.last().map_or(&root, |(_, fd)| fd), d, &shown)?;
            open.push((d, below));
        }
        let dir = open.last().map_or(&root, |(_, fd)| fd);
        stats.push(write_in(dir, name, &path, &|sink| sink(bytes), read_only)?);
    }
    Ok(stats)
}

impl System for OsSystem {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError> {
        read_regular(path)
    }

    fn read_at_into(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError> {
        use std::io::{Read, Seek, SeekFrom};
        buf.clear();
        let Some((fd, st)) = open_regular(path)? else { return Ok(false) };
        // Never allocate for bytes the file does not have: a damaged index
        // could ask for any length.
        match offset.checked_add(len) {
            Some(end) if end <= st.st_size as u64 => {}
            _ => return Ok(false),
        }
        let Ok(want) = usize::try_from(len) else { return Ok(false) };
        buf.reserve_exact(want);
        // Read into the buffer's spare room, not zeroed first: a no-op
        // build reads its whole state this way, megabytes of it.
        let mut file = std::fs::File::from(fd);
        let read = file.seek(SeekFrom::Start(offset)).and_then(|_| (&mut file).take(len).read_to_end(buf));
        match read {
            Ok(n) if n == want => Ok(true),
            // Fewer bytes: the file shrank since it was measured.
            Ok(_) => {
                buf.clear();
                Ok(false)
            }
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

    fn stat_in(&self, dir: &Path, names: &[&str]) -> Result<Vec<Option<FileStat>>, IoError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        match open_dir(dir)? {
            Some(fd) => stats_in(&fd, dir, names),
            None => Ok(vec![None; names.len()]),
        }
    }

    fn write_atomic_pieces(&self, base: &Path, name: &str, pieces: Pieces<'_>) -> Result<FileStat, IoError> {
        let path = plain_name_in(base, name)?;
        std::fs::create_dir_all(base).map_err(|e| io_error("create directory", base, e))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(base, flags, Mode::empty()).map_err(|e| errno("open", base, e))?;
        write_in(&dir, name, &path, pieces, false)
    }

    fn append(&self, base: &Path, name: &str, bytes: &[u8]) -> Result<FileStat, IoError> {
        let path = plain_name_in(base, name)?;
        // One write: appends of other processes land before or after it, not within.
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&path, flags, Mode::from_raw_mode(0o644)).map_err(|e| errno("write", &path, e))?;
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes).map_err(|e| io_error("write", &path, e))?;
        let meta = file.metadata().map_err(|e| io_error("stat", &path, e))?;
        Ok(stat_of(&meta))
    }

    fn dir_stat_in(&self, dir: &Path, names: &[&str]) -> Result<Option<DirAndFiles>, IoError> {
        // The directory is looked up once: its own stat comes from the
        // handle, where a stat by path would walk the whole path again.
        let Some(fd) = open_dir(dir)? else { return Ok(None) };
        let st = rustix::fs::fstat(&fd).map_err(|e| errno("stat", dir, e))?;
        let stat =
            DirStat { mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec as i64, dev: st.st_dev, ino: st.st_ino };
        Ok(Some((stat, stats_in(&fd, dir, names)?)))
    }

    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                Ok(Some(DirStat { mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(), dev: m.dev(), ino: m.ino() }))
            }
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
            // The type the directory records (no stat where the file system keeps it).
            let kind = kind_of_std(entry.file_type().map_err(|e| io_error("list", path, e))?);
            out.push(DirEntry { name: entry.file_name().to_string_lossy().into_owned(), kind });
        }
        Ok(out)
    }

    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, FileKind)>, IoError> {
        let target = match std::fs::canonicalize(path) {
            Ok(t) => t,
            Err(e)
                if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
                    || e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(io_error("resolve", path, e)),
        };
        Ok(kind(&target)?.map(|k| (target, k)))
    }

    fn write_all_atomic(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        write_files(base, files, false)
    }

    fn write_outputs(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        write_files(base, files, true)
    }

    fn remove_below(&self, base: &Path, rel: &str) -> Result<(), IoError> {
        let path = base.join(rel);
        let Some((name, dirs)) =
            plain_components(rel).as_deref().and_then(<[&str]>::split_last).map(|(n, d)| (*n, d.to_vec()))
        else {
            return Err(IoError { op: "remove", path, message: "not a plain relative path".to_owned() });
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let mut dir = match rustix::fs::open(base, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if absent(e) => return Ok(()),
            Err(e) => return Err(errno("remove", &path, e)),
        };
        for d in dirs {
            dir = match rustix::fs::openat(&dir, d, flags | OFlags::NOFOLLOW, Mode::empty()) {
                Ok(fd) => fd,
                // Nothing there, or a link or a file where a directory would
                // be: nothing of floe's is below it.
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(()),
                Err(e) => return Err(errno("remove", &path, e)),
            };
        }
        let name = std::ffi::CString::new(name).map_err(|e| io_error("remove", &path, e.into()))?;
        remove_entry(&dir, &name, &path)
    }

    fn try_lock(&self, path: &Path, exclusive: bool, create: bool) -> Result<Locked, IoError> {
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        if create {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error("create directory", parent, e))?;
            }
            flags |= OFlags::CREATE;
        }
        let fd = match rustix::fs::open(path, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if !create => return Ok(Locked::Absent),
            Err(e) => return Err(errno("lock", path, e)),
        };
        let op =
            if exclusive { FlockOperation::NonBlockingLockExclusive } else { FlockOperation::NonBlockingLockShared };
        match rustix::fs::flock(&fd, op) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Ok(Locked::Busy),
            // A file system without locks (some network mounts): writers go
            // on as they would without them, and nothing is judged abandoned,
            // so nothing is swept.
            Err(Errno::NOLCK | Errno::OPNOTSUPP | Errno::NOSYS) => {
                return Ok(if create { Locked::Held(Lock::new(fd)) } else { Locked::Busy });
            }
            Err(e) => return Err(errno("lock", path, e)),
        }
        // Removed by its last holder while this one waited: what it guarded is over.
        let st = rustix::fs::fstat(&fd).map_err(|e| errno("lock", path, e))?;
        if st.st_nlink == 0 {
            return if create { self.try_lock(path, exclusive, create) } else { Ok(Locked::Absent) };
        }
        Ok(Locked::Held(Lock::new(fd)))
    }

    fn sweep(&self, dir: &Path) -> Result<usize, IoError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => return Ok(0),
            Err(e) => return Err(io_error("list", dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("list", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            match kind_of_std(entry.file_type().map_err(|e| io_error("list", dir, e))?) {
                // Links are not followed: nothing outside is swept.
                FileKind::Dir => removed += self.sweep(&path)?,
                FileKind::File if is_temporary(&name) => {
                    // Its writer holds a lock on it until it is renamed; a
                    // lock that can be taken belongs to nobody any more.
                    if let Locked::Held(_lock) = self.try_lock(&path, true, false)? {
                        match std::fs::remove_file(&path) {
                            Ok(()) => removed += 1,
                            Err(e) if e.kind() == ErrorKind::NotFound => {}
                            Err(e) => return Err(io_error("remove", &path, e)),
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(removed)
    }

    fn run_plugin(&self, program: &Path, stdin: &[u8], limit: std::time::Duration) -> Result<Ran, IoError> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "floe-plugin-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create directory", &dir, e))?;
        use std::os::unix::process::CommandExt;
        let spawned = Command::new(program)
            // Its own process group, so that whatever it starts ends with it.
            .process_group(0)
            .env_clear()
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Ok(Ran::NotStarted { message: e.to_string() });
            }
        };
        // Pipes are drained on their own threads, so a chatty plugin cannot
        // block on a full pipe while floe waits for it to exit.
        let mut input = child.stdin.take();
        let request = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(i) = input.as_mut() {
                let _ = i.write_all(&request);
            }
        });
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let started = std::time::Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() >= limit => {
                    let group = rustix::process::Pid::from_child(&child);
                    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(2)),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(io_error("wait for", program, e));
                }
            }
        };
        // Nothing it left behind may outlive it (or hold its pipes open).
        let group = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = writer.join();
        let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(match status {
            Some(s) => Ran::Exited { code: s.code(), stdout, stderr },
            None => Ran::TimedOut,
        })
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

/// Reads a file for rendering a diagnostic's snippet; failures (a FIFO
/// included, which is never waited on) just mean no snippet.
pub fn read_text(path: &Path) -> Option<String> {
    read_regular(path).ok().flatten().map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The process's working directory.
/// A new file at `path` (an existing one is truncated), to stream into: a
/// profile, written as the build runs.
pub fn create_file(path: &Path) -> Result<std::fs::File, IoError> {
    std::fs::File::create(path).map_err(|e| io_error("create", path, e))
}

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

/// Opens a TCP connection to `host:port` (resolving the name) and closes it:
/// how long it took, or why it failed. `floe doctor`'s probe; builds never
/// touch the network.
pub fn probe_tcp(host: &str, port: u16, limit: std::time::Duration) -> Result<std::time::Duration, String> {
    use std::net::ToSocketAddrs;
    let started = std::time::Instant::now();
    let addrs: Vec<std::net::SocketAddr> =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve `{host}`: {e}"))?.collect();
    let mut last = format!("`{host}` resolves to no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, limit) {
            Ok(_) => return Ok(started.elapsed()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_never_allocates_more_than_the_file_has() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pack");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(OsSystem.read_at(&path, 1, 3).unwrap().as_deref(), Some(&b"ell"[..]));
        // What a damaged index could ask for: refused before any allocation.
        for (offset, len) in [(0, u64::MAX / 2), (u64::MAX, 2), (3, 3), (0, 1 << 40)] {
            assert_eq!(OsSystem.read_at(&path, offset, len).unwrap(), None, "{offset} {len}");
        }
        // Into a buffer kept from read to read: what it held is replaced.
        let mut buf = b"left from the last read".to_vec();
        assert!(OsSystem.read_at_into(&path, 3, 2, &mut buf).unwrap());
        assert_eq!(buf, b"lo");
        assert!(!OsSystem.read_at_into(&path, 4, 2, &mut buf).unwrap());
        assert!(buf.is_empty());
    }

    #[test]
    fn a_file_written_in_pieces_is_whole_or_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("store");
        let st = OsSystem.write_atomic_pieces(&base, "state", &|sink| sink(b"ab").and_then(|()| sink(b"cd"))).unwrap();
        assert_eq!(std::fs::read(base.join("state")).unwrap(), b"abcd");
        assert_eq!(Some(st), OsSystem.stat(&base.join("state")).unwrap());
        // A producer that fails half way: the old file stands, no temporary is left.
        let failing = |sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>| {
            sink(b"xy")?;
            Err(std::io::Error::other("the disk is full"))
        };
        let err = OsSystem.write_atomic_pieces(&base, "state", &failing).unwrap_err();
        assert!(err.message.contains("the disk is full"), "{err}");
        assert_eq!(std::fs::read(base.join("state")).unwrap(), b"abcd");
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 1);
        // Only a plain name, in `base` itself.
        assert!(OsSystem.write_atomic_pieces(&base, "a/state", &|sink| sink(b"x")).is_err());
        assert!(OsSystem.write_atomic_pieces(&base, "..", &|sink| sink(b"x")).is_err());
    }

    #[test]
    fn an_append_adds_to_the_end_and_makes_the_file_if_it_is_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        OsSystem.append(base, "state.log", b"ab").unwrap();
        let st = OsSystem.append(base, "state.log", b"cd").unwrap();
        assert_eq!(std::fs::read(base.join("state.log")).unwrap(), b"abcd");
        assert_eq!(Some(st), OsSystem.stat(&base.join("state.log")).unwrap());
        // Only a plain name, in `base` itself.
        assert!(OsSystem.append(base, "a/state.log", b"x").is_err());
        assert!(OsSystem.append(base, "..", b"x").is_err());
    }

    #[test]
    fn a_directory_and_its_files_statted_at_once_are_as_statted_apart() {
        let dir = tempfile::tempdir().unwrap();
        let sales = dir.path().join("sales");
        std::fs::create_dir(&sales).unwrap();
        std::fs::write(sales.join("floe.yaml"), b"name: x").unwrap();
        std::fs::create_dir(sales.join("models")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
        let names = ["floe.yaml", "models", "gone.sql"];
        let (stat, stats) = OsSystem.dir_stat_in(&sales, &names).unwrap().unwrap();
        assert_eq!(Some(stat), OsSystem.dir_stat(&sales).unwrap());
        assert_eq!(stats, OsSystem.stat_in(&sales, &names).unwrap());
        assert!(stats[0].is_some() && stats[1].is_none() && stats[2].is_none(), "{stats:?}");
        // A link to a directory counts as the directory, as for `dir_stat`.
        let linked = OsSystem.dir_stat_in(&dir.path().join("link"), &[]).unwrap().unwrap().0;
        assert_eq!(Some(linked), OsSystem.dir_stat(dir.path()).unwrap());
        // Nothing there, or a file there: no directory.
        assert_eq!(OsSystem.dir_stat_in(&dir.path().join("none"), &names).unwrap(), None);
        assert_eq!(OsSystem.dir_stat_in(&sales.join("floe.yaml"), &names).unwrap(), None);
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        use rustix::fs::{CWD, mknodat};
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("manifest.yaml");
        mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        // Were it opened for reading without O_NONBLOCK, these would wait for
        // a writer forever: they run on a thread the test waits for a while only.
        let (done, finished) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let err = OsSystem.read(&path).unwrap_err();
            assert!(err.message.contains("a FIFO"), "{err}");
            assert!(OsSystem.read_at(&path, 0, 1).is_err());
            assert_eq!(read_text(&path), None);
            let _ = done.send(());
        });
        finished.recv_timeout(std::time::Duration::from_secs(10)).expect("reading a FIFO returns at once, refused");
        assert_eq!(kind(&fifo).unwrap(), Some(FileKind::Fifo));
    }

    #[test]
    fn writes_replace_links_instead_of_following_them() {
        let base = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        std::fs::write(victim.path().join("profiles.yml"), "mine").unwrap();
        std::os::unix::fs::symlink(victim.path(), base.path().join("orders")).unwrap();
        std::os::unix::fs::symlink(victim.path().join("profiles.yml"), base.path().join("x.yml")).unwrap();
        OsSystem.write_atomic(base.path(), "orders/profiles.yml", b"floe").unwrap();
        OsSystem.write_atomic(base.path(), "x.yml", b"floe").unwrap();
        assert_eq!(std::fs::read(victim.path().join("profiles.yml")).unwrap(), b"mine");
        assert!(std::fs::symlink_metadata(base.path().join("orders")).unwrap().is_dir());
        assert_eq!(std::fs::read(base.path().join("orders/profiles.yml")).unwrap(), b"floe");
        assert!(std::fs::symlink_metadata(base.path().join("x.yml")).unwrap().is_file());
        for bad in ["../escape", "/abs", "a//b", "a/./b", ""] {
            assert!(OsSystem.write_atomic(base.path(), bad, b"x").is_err(), "{bad}");
            assert!(OsSystem.remove_below(base.path(), bad).is_err(), "{bad}");
        }
        let left: Vec<String> = std::fs::read_dir(base.path().join("orders"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["profiles.yml"], "no temporary file stays");
    }

    #[test]
    fn removals_stop_at_links() {
        let base = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        std::fs::create_dir(victim.path().join("sub")).unwrap();
        std::fs::write(victim.path().join("sub/profiles.yml"), "mine").unwrap();
        std::fs::create_dir_all(base.path().join("a/b")).unwrap();
        std::fs::write(base.path().join("a/b/x.json"), "floe").unwrap();
        std::os::unix::fs::symlink(victim.path(), base.path().join("a/b/link")).unwrap();
        std::os::unix::fs::symlink(victim.path(), base.path().join("orders")).unwrap();
        // Through a link: nothing below it is floe's.
        OsSystem.remove_below(base.path(), "orders/sub/profiles.yml").unwrap();
        OsSystem.remove_below(base.path(), "orders/sub").unwrap();
        assert!(victim.path().join("sub/profiles.yml").exists());
        // A tree holding a link: the link goes, not what it leads to.
        OsSystem.remove_below(base.path(), "a").unwrap();
        assert!(!base.path().join("a").exists());
        assert!(victim.path().join("sub/profiles.yml").exists());
        // The link itself is floe's to remove; absent is fine.
        OsSystem.remove_below(base.path(), "orders").unwrap();
        assert!(std::fs::symlink_metadata(base.path().join("orders")).is_err());
        assert!(victim.path().join("sub/profiles.yml").exists());
        OsSystem.remove_below(base.path(), "gone/x").unwrap();
    }

    #[test]
    fn a_sweep_removes_abandoned_temporary_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let abandoned = dir.path().join("a").join(temporary_name("profiles.yml", "1-0"));
        let in_use = dir.path().join(temporary_name("index", "2-0"));
        let output = dir.path().join("a/profiles.yml");
        for p in [&abandoned, &in_use, &output] {
            std::fs::write(p, "x").unwrap();
        }
        // A writer still at work holds its temporary file locked.
        let held = OsSystem.try_lock(&in_use, true, false).unwrap();
        assert!(matches!(held, Locked::Held(_)));
        assert!(matches!(OsSystem.try_lock(&in_use, true, false).unwrap(), Locked::Busy));
        assert_eq!(OsSystem.sweep(dir.path()).unwrap(), 1);
        assert!(!abandoned.exists() && in_use.exists() && output.exists());
        drop(held);
        assert_eq!(OsSystem.sweep(dir.path()).unwrap(), 1);
        assert!(!in_use.exists());
    }
}
