//! Workspace-relative paths.
//!
//! Everything the engine names is relative to the workspace root and spelled with
//! `/`, so that outputs, keys and diagnostics are the same in any checkout
//! directory and on any machine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A normalized workspace-relative path: no leading `/`, no `.` or `..`
/// segments, `/` separators. The empty path is the workspace root.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WsPath(String);

impl WsPath {
    pub const ROOT: WsPath = WsPath(String::new());

    /// Normalizes `path`; `None` when it climbs above the root.
    pub fn new(path: &str) -> Option<WsPath> {
        let mut segs: Vec<&str> = Vec::new();
        for seg in path.split(['/', '\\']) {
            match seg {
                "" | "." => {}
                ".." => {
                    segs.pop()?;
                }
                s => segs.push(s),
            }
        }
        Some(WsPath(segs.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn join(&self, rel: &str) -> Option<WsPath> {
        // A plain name (the common case: walking, output files) needs no normalizing.
        let plain = !rel.is_empty() && rel != "." && rel != ".." && !rel.contains(['/', '\\']);
        match (plain, self.0.is_empty()) {
            (true, true) => Some(WsPath(rel.to_owned())),
            (true, false) => {
                let mut joined = String::with_capacity(self.0.len() + 1 + rel.len());
                joined.push_str(&self.0);
                joined.push('/');
                joined.push_str(rel);
                Some(WsPath(joined))
            }
            (false, true) => WsPath::new(rel),
            (false, false) => WsPath::new(&format!("{}/{rel}", self.0)),
        }
    }

    pub fn parent(&self) -> Option<WsPath> {
        if self.0.is_empty() {
            return None;
        }
        Some(WsPath(dir_of(&self.0).to_owned()))
    }

    /// The directories `self` lies below, nearest first, ending with the
    /// root: none for the root itself.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        std::iter::successors((!self.0.is_empty()).then(|| dir_of(&self.0)), |a| (!a.is_empty()).then(|| dir_of(a)))
    }

    pub fn file_name(&self) -> &str {
        last_slash(&self.0).map_or(&self.0, |i| &self.0[i + 1..])
    }

    /// Whether `self` is `dir` or lies below it.
    pub fn starts_with(&self, dir: &WsPath) -> bool {
        dir.0.is_empty()
            || self.0 == dir.0
            || (self.0.len() > dir.0.len() && self.0.starts_with(&dir.0) && self.0.as_bytes()[dir.0.len()] == b'/')
    }

    /// The path of `self` relative to `dir`, which it must lie in.
    pub fn strip_prefix(&self, dir: &WsPath) -> Option<&str> {
        if dir.0.is_empty() {
            return Some(&self.0);
        }
        if self.0 == dir.0 {
            return Some("");
        }
        self.0.strip_prefix(&dir.0)?.strip_prefix('/')
    }

    /// The relative path that leads from directory `from` to `self`.
    pub fn relative_from(&self, from: &WsPath) -> String {
        let a: Vec<&str> = from.0.split('/').filter(|s| !s.is_empty()).collect();
        let b: Vec<&str> = self.0.split('/').filter(|s| !s.is_empty()).collect();
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let mut parts: Vec<&str> = vec![".."; a.len() - common];
        parts.extend(&b[common..]);
        if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
    }
}

/// Where the last `/` of a path is. A plain loop: paths are short, and
/// the general search was most of the time spent on a workspace's layout.
fn last_slash(path: &str) -> Option<usize> {
    path.bytes().rposition(|b| b == b'/')
}

/// The directory of a non-root path's last segment.
fn dir_of(path: &str) -> &str {
    last_slash(path).map_or("", |i| &path[..i])
}

/// Looked up by text in maps and sets: a path's order is its text's.
impl std::borrow::Borrow<str> for WsPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        assert_eq!(WsPath::new("./sales//c360/../c360/").unwrap().as_str(), "sales/c360");
        assert_eq!(WsPath::new("../x"), None);
        let p = WsPath::new("sales/c360/floe.yaml").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "sales/c360");
        assert!(p.starts_with(&WsPath::new("sales").unwrap()));
        assert!(!p.starts_with(&WsPath::new("sal").unwrap()));
        assert_eq!(p.ancestors().collect::<Vec<_>>(), ["sales/c360", "sales", ""]);
        assert_eq!(WsPath::ROOT.ancestors().count(), 0);
        assert_eq!(
            WsPath::new("manifest.yaml").unwrap().relative_from(&WsPath::new("sales/c360").unwrap()),
            "../../manifest.yaml"
        );
        assert_eq!(p.parent().unwrap().join("../manifest.yaml").unwrap().as_str(), "sales/manifest.yaml");
    }
}
