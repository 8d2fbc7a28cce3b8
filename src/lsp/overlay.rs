//! The file system as an editor sees it: open buffers over the disk.
//!
//! The engine reads only through [`System`], so a session over an
//! [`OverlaySystem`] checks the text a person is typing, saved or not,
//! exactly as `floe check` checks files. An open buffer's stat is one no file
//! can have (inode `u64::MAX`, a negative mtime that moves with every edit):
//! it never matches a stat in the workspace's state, so its hash is never
//! taken from there, and a refresh always reads it again. Nothing the
//! language server runs saves a state or writes an output, so these stats
//! are never recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use floe_engine::system::{Locked, Ran};
use floe_engine::{DirEntry, DirStat, FileKind, FileStat, IoError, System};

/// Open buffers by absolute path, each with the edit count it was last changed at.
type Buffers = BTreeMap<PathBuf, (u64, Arc<Vec<u8>>)>;

#[derive(Default)]
pub struct Overlays {
    buffers: RwLock<Buffers>,
    edits: std::sync::atomic::AtomicU64,
}

impl Overlays {
    pub fn set(&self, path: PathBuf, text: &str) {
        let edit = self.edits.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.write().insert(path, (edit, Arc::new(text.as_bytes().to_vec())));
    }

    pub fn remove(&self, path: &Path) -> bool {
        self.write().remove(path).is_some()
    }

    fn get(&self, path: &Path) -> Option<(u64, Arc<Vec<u8>>)> {
        self.buffers.read().unwrap_or_else(|e| e.into_inner()).get(path).cloned()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Buffers> {
        self.buffers.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Buffers directly in `dir`, by file name.
    fn in_dir(&self, dir: &Path) -> Vec<(String, u64)> {
        let guard = self.buffers.read().unwrap_or_else(|e| e.into_inner());
        guard
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, (edit, _))| Some((p.file_name()?.to_str()?.to_owned(), *edit)))
            .collect()
    }
}

/// `disk` with the open buffers of `overlays` in place of their files.
pub struct OverlaySystem {
    pub disk: Arc<dyn System>,
    pub overlays: Arc<Overlays>,
}

fn overlay_stat(edit: u64, bytes: &[u8]) -> FileStat {
    FileStat { size: bytes.len() as u64, mtime_ns: -i64::try_from(edit).unwrap_or(i64::MAX), inode: u64::MAX }
}

impl System for OverlaySystem {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, IoError> {
        match self.overlays.get(path) {
            Some((_, bytes)) => Ok(Some(bytes.as_ref().clone())),
            None => self.disk.read(path),
        }
    }

    fn read_at_into(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError> {
        match self.overlays.get(path) {
            Some((_, bytes)) => Ok(floe_engine::system::range_into(bytes.as_ref(), offset, len, buf)),
            None => self.disk.read_at_into(path, offset, len, buf),
        }
    }

    fn stat(&self, path: &Path) -> Result<Option<FileStat>, IoError> {
        match self.overlays.get(path) {
            Some((edit, bytes)) => Ok(Some(overlay_stat(edit, &bytes))),
            None => self.disk.stat(path),
        }
    }

    fn stat_in(&self, dir: &Path, names: &[&str]) -> Result<Vec<Option<FileStat>>, IoError> {
        let mut stats = self.disk.stat_in(dir, names)?;
        for (name, stat) in names.iter().zip(stats.iter_mut()) {
            if let Some((edit, bytes)) = self.overlays.get(&dir.join(name)) {
                *stat = Some(overlay_stat(edit, &bytes));
            }
        }
        Ok(stats)
    }

    fn dir_stat(&self, path: &Path) -> Result<Option<DirStat>, IoError> {
        let Some(mut stat) = self.disk.dir_stat(path)? else { return Ok(None) };
        // A buffer not on disk yet is an entry the directory's own mtime does
        // not show: the listing a state remembers must not be trusted.
        let unsaved = self.overlays.in_dir(path).into_iter().filter(|(n, _)| !self.on_disk(path, n)).map(|(_, e)| e);
        if let Some(edit) = unsaved.max() {
            stat.mtime_ns = i64::MIN + i64::try_from(edit).unwrap_or(0);
        }
        Ok(Some(stat))
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, IoError> {
        let mut entries = self.disk.list_dir(path)?;
        for (name, _) in self.overlays.in_dir(path) {
            if !entries.iter().any(|e| e.name == name) {
                entries.push(DirEntry { name, kind: FileKind::File });
            }
        }
        Ok(entries)
    }

    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, FileKind)>, IoError> {
        match self.disk.resolve(path)? {
            None if self.overlays.get(path).is_some() => Ok(Some((path.to_owned(), FileKind::File))),
            found => Ok(found),
        }
    }

    fn write_all_atomic(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        self.disk.write_all_atomic(base, files)
    }

    fn write_outputs(&self, base: &Path, files: &[(&str, &[u8])]) -> Result<Vec<FileStat>, IoError> {
        self.disk.write_outputs(base, files)
    }

    fn append(&self, base: &Path, name: &str, bytes: &[u8]) -> Result<FileStat, IoError> {
        self.disk.append(base, name, bytes)
    }

    fn remove_all(&self, path: &Path) -> Result<(), IoError> {
        self.disk.remove_all(path)
    }

    fn remove_below(&self, base: &Path, rel: &str) -> Result<(), IoError> {
        self.disk.remove_below(base, rel)
    }

    fn try_lock(&self, path: &Path, exclusive: bool, create: bool) -> Result<Locked, IoError> {
        self.disk.try_lock(path, exclusive, create)
    }

    fn sweep(&self, dir: &Path) -> Result<usize, IoError> {
        self.disk.sweep(dir)
    }

    fn run_plugin(&self, program: &Path, stdin: &[u8], limit: std::time::Duration) -> Result<Ran, IoError> {
        self.disk.run_plugin(program, stdin, limit)
    }
}

impl OverlaySystem {
    fn on_disk(&self, dir: &Path, name: &str) -> bool {
        matches!(self.disk.stat(&dir.join(name)), Ok(Some(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_engine::MemorySystem;

    #[test]
    fn a_buffer_hides_its_file_and_its_stat_never_matches_one() {
        let disk = Arc::new(MemorySystem::new());
        disk.put("/ws/a.yaml", "on disk");
        let overlays = Arc::new(Overlays::default());
        let sys = OverlaySystem { disk: disk.clone(), overlays: overlays.clone() };
        let path = Path::new("/ws/a.yaml");
        let on_disk = sys.stat(path).unwrap().unwrap();
        overlays.set(path.to_owned(), "typed");
        assert_eq!(sys.read(path).unwrap().unwrap(), b"typed");
        let first = sys.stat(path).unwrap().unwrap();
        assert_ne!(first, on_disk);
        overlays.set(path.to_owned(), "typed");
        assert_ne!(sys.stat(path).unwrap().unwrap(), first, "every edit is a new stat");
        assert_eq!(sys.stat_in(Path::new("/ws"), &["a.yaml"]).unwrap()[0], sys.stat(path).unwrap());
        overlays.remove(path);
        assert_eq!(sys.read(path).unwrap().unwrap(), b"on disk");
    }

    #[test]
    fn an_unsaved_new_file_is_listed_and_moves_its_directory() {
        let disk = Arc::new(MemorySystem::new());
        disk.put("/ws/manifest.yaml", "x");
        let overlays = Arc::new(Overlays::default());
        let sys = OverlaySystem { disk: disk.clone(), overlays: overlays.clone() };
        let before = sys.dir_stat(Path::new("/ws")).unwrap().unwrap();
        overlays.set(PathBuf::from("/ws/floe.yaml"), "new");
        let names: Vec<String> = sys.list_dir(Path::new("/ws")).unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.contains(&"floe.yaml".to_owned()), "{names:?}");
        assert_ne!(sys.dir_stat(Path::new("/ws")).unwrap().unwrap(), before);
        assert_eq!(sys.resolve(Path::new("/ws/floe.yaml")).unwrap().unwrap().1, FileKind::File);
    }
}
