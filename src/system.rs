//! The real file system behind the engine's `System` trait.
//!
//! This is the one module of floe allowed to touch the disk (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use floe_engine::{DirEntry, FileStat, IoError, Ran, System};

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
