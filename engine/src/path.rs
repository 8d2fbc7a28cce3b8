//! Workspace-relative paths.
//!
//! Everything the engine names is relative to the workspace root and spelled with
//! `/`, so that outputs, keys and diagnostics are the same in any checkout
//! directory and on any machine.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map::Range;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A normalized workspace-relative path: no leading `/`, no `.` or `..`
/// segments, `/` separators. The empty path is the workspace root.
///
/// Its text is shared between clones: a large workspace's paths are held
/// by the walk, the state, the layout and the database at once, and a
/// clone costs a count rather than a copy. The root holds no text, so
/// that it can be a constant.
#[derive(Clone, Default)]
pub struct WsPath(Option<Arc<str>>);

impl WsPath {
    pub const ROOT: WsPath = WsPath(None);

    /// A path already normalized, its text copied once into the shared text.
    pub(crate) fn of_text(text: &str) -> WsPath {
        WsPath((!text.is_empty()).then(|| Arc::from(text)))
    }

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
        Some(WsPath::of_text(&segs.join("/")))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    pub fn is_root(&self) -> bool {
        self.0.is_none()
    }

    pub fn join(&self, rel: &str) -> Option<WsPath> {
        // A plain name (the common case: walking, output files) needs no normalizing.
        let plain = !rel.is_empty() && rel != "." && rel != ".." && !rel.contains(['/', '\\']);
        let this = self.as_str();
        match (plain, this.is_empty()) {
            (true, true) => Some(WsPath::of_text(rel)),
            // Joined in a buffer kept by the thread, so that the shared
            // text is the one allocation: a walk joins a name per file.
            (true, false) => JOINED.with_borrow_mut(|joined| {
                joined.clear();
                joined.push_str(this);
                joined.push('/');
                joined.push_str(rel);
                Some(WsPath::of_text(joined))
            }),
            (false, true) => WsPath::new(rel),
            (false, false) => WsPath::new(&format!("{this}/{rel}")),
        }
    }

    pub fn parent(&self) -> Option<WsPath> {
        let this = self.0.as_deref()?;
        Some(WsPath::of_text(dir_of(this)))
    }

    /// The directories `self` lies below, nearest first, ending with the
    /// root: none for the root itself.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        ancestors(self.as_str())
    }

    pub fn file_name(&self) -> &str {
        file_name(self.as_str())
    }

    /// Whether `self` is `dir` or lies below it.
    pub fn starts_with(&self, dir: &WsPath) -> bool {
        let (this, dir) = (self.as_str(), dir.as_str());
        dir.is_empty()
            || this == dir
            || (this.len() > dir.len() && this.starts_with(dir) && this.as_bytes()[dir.len()] == b'/')
    }

    /// The path of `self` relative to `dir`, which it must lie in.
    pub fn strip_prefix(&self, dir: &WsPath) -> Option<&str> {
        let (this, dir) = (self.as_str(), dir.as_str());
        if dir.is_empty() {
            return Some(this);
        }
        if this == dir {
            return Some("");
        }
        this.strip_prefix(dir)?.strip_prefix('/')
    }

    /// The relative path that leads from directory `from` to `self`.
    pub fn relative_from(&self, from: &WsPath) -> String {
        let a: Vec<&str> = from.as_str().split('/').filter(|s| !s.is_empty()).collect();
        let b: Vec<&str> = self.as_str().split('/').filter(|s| !s.is_empty()).collect();
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let mut parts: Vec<&str> = vec![".."; a.len() - common];
        parts.extend(&b[common..]);
        if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
    }
}

thread_local! {
    /// Where [`WsPath::join`] joins.
    static JOINED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// [`WsPath::ancestors`] of a path's text.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let first = (!path.is_empty()).then(|| dir_of(path));
    std::iter::successors(first, |a| (!a.is_empty()).then(|| dir_of(a)))
}

/// [`WsPath::file_name`] of a path's text.
pub(crate) fn file_name(path: &str) -> &str {
    last_slash(path).map_or(path, |i| &path[i + 1..])
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

// Compared, ordered and hashed as its text, so that it is looked up by
// text in maps and sets (`Borrow<str>`) and sorts as the text does.
impl PartialEq for WsPath {
    fn eq(&self, other: &WsPath) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for WsPath {}

impl PartialOrd for WsPath {
    fn partial_cmp(&self, other: &WsPath) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for WsPath {
    fn cmp(&self, other: &WsPath) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for WsPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::borrow::Borrow<str> for WsPath {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for WsPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Taken as written: a path the store or a wire format holds was normalized
/// when it was made.
impl<'de> Deserialize<'de> for WsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WsPath, D::Error> {
        d.deserialize_str(Text)
    }
}

/// Makes the shared text straight from what the decoder holds.
struct Text;

impl serde::de::Visitor<'_> for Text {
    type Value = WsPath;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a workspace-relative path")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<WsPath, E> {
        Ok(WsPath::of_text(text))
    }
}

impl fmt::Display for WsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for WsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Looks paths up in a map, each after the last, from where the last one
/// was: a package's dependencies are sorted, and most are files of its own
/// directory, next to each other in the map. A step or two forward then
/// does what a search from the root of the map would do in a dozen.
pub struct Cursor<'a, V> {
    map: &'a BTreeMap<WsPath, V>,
    /// The keys after the last one looked up, and that one (or the one
    /// just before where it would be), when known.
    rest: Option<(&'a WsPath, Range<'a, WsPath, V>)>,
}

/// How many keys a lookup steps over before it searches instead.
const NEAR: usize = 4;

impl<'a, V> Cursor<'a, V> {
    pub fn new(map: &'a BTreeMap<WsPath, V>) -> Cursor<'a, V> {
        Cursor { map, rest: None }
    }

    pub fn get(&mut self, path: &WsPath) -> Option<&'a V> {
        // Forward only from a key before `path`: no key lies between it
        // and where the last lookup stopped, so `path` is ahead or absent.
        if let Some((before, rest)) = self.rest.as_mut().filter(|(before, _)| *before < path) {
            for _ in 0..NEAR {
                let (key, value) = rest.clone().next()?;
                match key.cmp(path) {
                    Ordering::Less => {
                        rest.next();
                        *before = key;
                    }
                    Ordering::Equal => {
                        rest.next();
                        *before = key;
                        return Some(value);
                    }
                    Ordering::Greater => return None,
                }
            }
        }
        let mut rest = self.map.range::<WsPath, _>(path..);
        match rest.clone().next() {
            Some((key, value)) if key == path => {
                rest.next();
                self.rest = Some((key, rest));
                Some(value)
            }
            _ => {
                self.rest = None;
                None
            }
        }
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

    #[test]
    fn a_cursor_finds_what_the_map_does_in_any_order() {
        let map: BTreeMap<WsPath, usize> =
            ["a", "a/b", "a/b/c", "a/c", "a-b", "b", "b/x", "b/y", "b/z", "c", "d/e/f", "d/e/g"]
                .iter()
                .enumerate()
                .map(|(i, p)| (WsPath::new(p).unwrap(), i))
                .collect();
        let asked = ["", "a", "a/b", "a/b/c", "a/bb", "a/c", "b", "b/z", "c", "d", "d/e/g", "z"];
        let sequences: Vec<Vec<&str>> = vec![
            asked.to_vec(),
            asked.iter().rev().copied().collect(),
            vec!["b/x", "a", "b/y", "a/c", "a/c", "a/b", "d/e/f", "d/e/g"],
            asked.iter().step_by(3).copied().collect(),
        ];
        for paths in sequences {
            let mut cursor = Cursor::new(&map);
            for p in &paths {
                let path = WsPath::new(p).unwrap_or_default();
                assert_eq!(cursor.get(&path), map.get(&path), "{p} of {paths:?}");
            }
        }
    }
}
