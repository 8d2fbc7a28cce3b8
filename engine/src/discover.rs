//! Finding the files a workspace is made of.
//!
//! Walks the workspace through [`System`], skipping hidden directories,
//! `floe-out/`, `.floe/` and whatever `.floeignore` (gitignore syntax) excludes,
//! and returns the files that define packages, each with its stat, and the
//! dbt sources of every dbt project (below a `dbt_project.yml`, except dbt's
//! own `target/`, `dbt_packages/` and `logs/`).
//!
//! A directory's modification time changes exactly when an entry is added,
//! removed or renamed in it, so the walk remembers each directory's listing
//! with its mtime and lists again only directories whose mtime moved: a no-op
//! build stats directories instead of reading them. Levels of the tree are
//! walked in parallel.
//!
//! The walk trusts nothing about the tree's shape. Only regular files are
//! package files: a FIFO or device with a package file's name is reported,
//! never read. Symbolic links are followed only while they stay inside the
//! workspace, and since what a link leads to can change while its directory
//! does not, links are resolved anew on every walk (a workspace without links
//! pays nothing for this). No directory is walked twice, however many links
//! lead to it: directories are told apart by device and inode, and those
//! reached through a link are walked after every real one, so a package is
//! found at its own path rather than at a link's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use floe_schemas::diag::{Code, Diagnostic};
use serde::{Deserialize, Serialize};

use crate::layout::{CONTRACT, DBT_PROJECT, MANIFEST, SPEC};
use crate::path::WsPath;
use crate::system::{FileKind, FileStat, IoError, System};

pub const IGNORE_FILE: &str = ".floeignore";
pub const OUT_DIR: &str = "floe-out";
pub const STORE_DIR: &str = ".floe";

/// What a directory held when it had this mtime: its visible subdirectories,
/// the package files and dbt sources among its entries (whether a dbt source
/// is read depends on the directories above, not on this listing), and what
/// the walk must look at again or report every time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirRecord {
    pub mtime_ns: i64,
    pub dirs: Names,
    /// Package files and dbt sources that are regular files.
    pub files: Names,
    /// Symbolic links among the visible entries, resolved on every walk.
    pub links: Names,
    /// Entries with a package file's or dbt source's name that are no regular
    /// file (a FIFO, a socket, a device).
    pub special: Vec<(String, FileKind)>,
}

/// Sorted names in a listing, in one text, each ended by a NUL (which no
/// file name holds): a workspace's listings are read before its walk can
/// start, and a name per allocation was most of that. Encoded as the list
/// of names it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names(String);

impl Names {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split_terminator('\0')
    }
}

impl<S: AsRef<str>> FromIterator<S> for Names {
    /// The names, sorted.
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> Names {
        let mut names: Vec<S> = names.into_iter().collect();
        names.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        let mut text = String::with_capacity(names.iter().map(|n| n.as_ref().len() + 1).sum());
        for name in &names {
            text.push_str(name.as_ref());
            text.push('\0');
        }
        Names(text)
    }
}

impl Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // Its length first: a binary encoding needs it.
        let mut seq = s.serialize_seq(Some(self.iter().count()))?;
        for name in self.iter() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Names, D::Error> {
        d.deserialize_seq(NamesVisitor)
    }
}

struct NamesVisitor;

impl<'de> serde::de::Visitor<'de> for NamesVisitor {
    type Value = Names;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of file names")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Names, A::Error> {
        let mut text = String::new();
        while seq.next_element_seed(Name(&mut text))?.is_some() {}
        Ok(Names(text))
    }
}

/// Appends one name, and its end, to a listing's text.
struct Name<'t>(&'t mut String);

impl<'de> serde::de::DeserializeSeed<'de> for Name<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Name<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a file name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<(), E> {
        if name.is_empty() || name.contains('\0') {
            return Err(E::custom("not a file name"));
        }
        self.0.push_str(name);
        self.0.push('\0');
        Ok(())
    }
}

/// Directory listings by path. Shared, not copied: a walk that trusts a
/// listing takes the one it was given, and telling two sets of listings
/// apart compares only those that are not the same.
pub type Listings = BTreeMap<WsPath, Arc<DirRecord>>;

pub struct Discovery {
    /// Package files, sorted, with their stats.
    pub files: Vec<(WsPath, FileStat)>,
    /// The listing of every directory walked, for the next walk.
    pub dirs: Listings,
    /// What the walk refused to read or to walk, and why.
    pub diagnostics: Vec<Diagnostic>,
}

/// Every package-defining file below `root`. A cached listing is trusted when
/// the directory's mtime is unchanged and older than `trust_before` (a listing
/// taken in the same instant as a change could have missed it).
pub fn discover(
    sys: &dyn System,
    root: &Path,
    cache: &Listings,
    trust_before: i64,
    jobs: usize,
) -> Result<Discovery, IoError> {
    let walk = Walk { sys, root, cache, trust_before, real_root: OnceLock::new() };
    // The root is listed first: it says whether `.floeignore` may be read.
    let first = walk.list(&WsPath::ROOT, false)?;
    let ignore_file = WsPath::new(IGNORE_FILE).expect("a plain name");
    let ignore = match first.problems.iter().any(|p| p.path == ignore_file) {
        true => Ignore::default(),
        false => match sys.read(&root.join(IGNORE_FILE))? {
            Some(bytes) => Ignore::parse(&String::from_utf8_lossy(&bytes)),
            None => Ignore::default(),
        },
    };
    let mut out = Discovery { files: Vec::new(), dirs: BTreeMap::new(), diagnostics: Vec::new() };
    // Directories walked, by identity, with the path they were walked at.
    let mut seen: BTreeMap<(u64, u64), WsPath> = BTreeMap::new();
    let mut listed = vec![((WsPath::ROOT, false), Ok(first))];
    // Directories to walk, and whether they lie in a dbt project.
    let mut through_links: Vec<(WsPath, bool)> = Vec::new();
    loop {
        let mut next: Vec<(WsPath, bool)> = Vec::new();
        for ((dir, in_dbt), result) in listed {
            let l = result?;
            if let Some(id) = l.identity {
                if let Some(first) = seen.get(&id) {
                    out.diagnostics.push(repeated(&dir, first));
                    continue;
                }
                seen.insert(id, dir.clone());
            }
            out.files.extend(l.found.into_iter().filter(|(p, _)| !ignore.is_ignored(p, false)));
            for problem in l.problems {
                if problem.path == ignore_file || !ignore.is_ignored(&problem.path, problem.is_dir) {
                    out.diagnostics.push(problem.diagnostic);
                }
            }
            let project = l.record.files.iter().any(|f| f == DBT_PROJECT);
            for (name, via_link) in l.subdirs {
                let Some(path) = dir.join(&name) else { continue };
                if (dir.is_root() && name == OUT_DIR)
                    || (project && DBT_OUTPUT_DIRS.contains(&name.as_str()))
                    || ignore.is_ignored(&path, true)
                {
                    continue;
                }
                let entry = (path, in_dbt || project);
                if via_link { through_links.push(entry) } else { next.push(entry) }
            }
            out.dirs.insert(dir, l.record);
        }
        if next.is_empty() {
            // Every real directory is walked: now those only links lead to.
            // Checked before listing, so that a link back into the tree costs
            // a stat, not a listing, on every build.
            through_links.sort();
            for (dir, in_dbt) in std::mem::take(&mut through_links) {
                match sys.dir_stat(&root.join(dir.as_str()))? {
                    Some(st) if seen.contains_key(&(st.dev, st.ino)) => {
                        out.diagnostics.push(repeated(&dir, &seen[&(st.dev, st.ino)]));
                    }
                    Some(_) => next.push((dir, in_dbt)),
                    None => {}
                }
            }
        }
        if next.is_empty() {
            break;
        }
        listed =
            next.iter().cloned().zip(crate::par::map(&next, jobs, |(dir, in_dbt)| walk.list(dir, *in_dbt))).collect();
    }
    out.files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The diagnostic for a directory a link leads back to.
fn repeated(dir: &WsPath, first: &WsPath) -> Diagnostic {
    let first = if first.is_root() { "the workspace root".to_owned() } else { format!("`{first}`") };
    let mut d = Diagnostic::warning(
        Code::DirectoryRepeated,
        format!("`{dir}` leads to {first}, which the walk already covers; it is walked once"),
    )
    .with_help(format!("remove the link, or add `/{dir}` to .floeignore"));
    d.file = Some(dir.to_string());
    d
}

/// The walk's view of the file system.
struct Walk<'a> {
    sys: &'a dyn System,
    root: &'a Path,
    cache: &'a Listings,
    trust_before: i64,
    /// The root's link-free form, the first time a link needs it.
    real_root: OnceLock<Result<PathBuf, IoError>>,
}

/// One directory, looked at.
struct Listed {
    /// Device and inode; `None` when the directory does not exist.
    identity: Option<(u64, u64)>,
    record: Arc<DirRecord>,
    found: Vec<(WsPath, FileStat)>,
    /// Subdirectories to walk, and whether a link leads to each.
    subdirs: Vec<(String, bool)>,
    problems: Vec<Problem>,
}

struct Problem {
    path: WsPath,
    is_dir: bool,
    diagnostic: Diagnostic,
}

impl Walk<'_> {
    /// Lists `dir`; `in_dbt`: it lies in a dbt project, so its dbt sources are read.
    fn list(&self, dir: &WsPath, in_dbt: bool) -> Result<Listed, IoError> {
        let abs = self.root.join(dir.as_str());
        let recorded = |name: &str| recorded(dir, name);
        let plugins = crate::layout::is_plugin_dir(dir.as_str());
        let lock = |name: &str| dir.is_root() && name == crate::lock::LOCK;
        let wanted = |name: &str| is_package_file(name) || lock(name) || plugins || (in_dbt && is_dbt_source(name));
        // The files a remembered listing names are statted with the
        // directory, as most listings hold; they are statted again if not.
        let cached = self.cache.get(dir);
        let guess = cached.map(|r| wanted_in(r, &wanted)).unwrap_or_default();
        let (stat, guessed) = match self.sys.dir_stat_in(&abs, &guess)? {
            Some((stat, stats)) => (Some(stat), stats),
            None => (None, Vec::new()),
        };
        let (record, guessed) = match (cached, stat) {
            (Some(r), Some(st)) if r.mtime_ns == st.mtime_ns && st.mtime_ns < self.trust_before => {
                (Arc::clone(r), Some(guessed))
            }
            _ => {
                let mut special = Vec::new();
                let (mut dirs, mut files, mut links) = (Vec::new(), Vec::new(), Vec::new());
                for entry in self.sys.list_dir(&abs)? {
                    let hidden = entry.name.starts_with('.');
                    // The one hidden file floe reads.
                    let ignore_file = dir.is_root() && entry.name == IGNORE_FILE;
                    if hidden && !ignore_file {
                        continue;
                    }
                    match entry.kind {
                        FileKind::Dir if !hidden => dirs.push(entry.name),
                        FileKind::Dir if ignore_file => special.push((entry.name, entry.kind)),
                        FileKind::File if recorded(&entry.name) => files.push(entry.name),
                        FileKind::Link => links.push(entry.name),
                        FileKind::Fifo | FileKind::Socket | FileKind::Device
                            if ignore_file || recorded(&entry.name) =>
                        {
                            special.push((entry.name, entry.kind));
                        }
                        _ => {}
                    }
                }
                special.sort();
                let record = DirRecord {
                    mtime_ns: stat.map_or(0, |s| s.mtime_ns),
                    dirs: dirs.into_iter().collect(),
                    files: files.into_iter().collect(),
                    links: links.into_iter().collect(),
                    special,
                };
                (Arc::new(record), None)
            }
        };
        let (mut to_stat, mut stats) = match guessed {
            Some(stats) => (guess, stats),
            None => {
                let to_stat = wanted_in(&record, &wanted);
                let stats = self.sys.stat_in(&abs, &to_stat)?;
                (to_stat, stats)
            }
        };
        let mut problems = Vec::new();
        for (name, kind) in record.special.iter().filter(|(n, _)| n == IGNORE_FILE || wanted(n)) {
            let path = dir.join(name).expect("a listed name joins");
            problems.push(not_regular(path, *kind));
        }
        let mut subdirs: Vec<(String, bool)> = record.dirs.iter().map(|d| (d.to_owned(), false)).collect();
        let mut linked = Vec::new();
        for name in record.links.iter() {
            let Some(path) = dir.join(name) else { continue };
            let Some((target, kind)) = self.sys.resolve(&abs.join(name))? else { continue };
            let is_ignore_file = dir.is_root() && name == IGNORE_FILE;
            let relevant = kind == FileKind::Dir || is_ignore_file || wanted(name);
            if !relevant {
                continue;
            }
            if !target.starts_with(self.real_root()?) {
                problems.push(leaves(path, &target, kind == FileKind::Dir));
                continue;
            }
            match kind {
                FileKind::Dir => subdirs.push((name.to_owned(), true)),
                FileKind::File if !is_ignore_file => linked.push(name),
                FileKind::File => {}
                other => problems.push(not_regular(path, other)),
            }
        }
        stats.extend(self.sys.stat_in(&abs, &linked)?);
        to_stat.extend(linked);
        let mut found = Vec::with_capacity(to_stat.len());
        for (name, stat) in to_stat.iter().zip(stats) {
            if let (Some(path), Some(stat)) = (dir.join(name), stat) {
                found.push((path, stat));
            }
        }
        let identity = stat.map(|s| (s.dev, s.ino));
        Ok(Listed { identity, record, found, subdirs, problems })
    }

    fn real_root(&self) -> Result<&Path, IoError> {
        let resolved = self.real_root.get_or_init(|| {
            Ok(match self.sys.resolve(self.root)? {
                Some((path, _)) => path,
                None => self.root.to_path_buf(),
            })
        });
        resolved.as_deref().map_err(Clone::clone)
    }
}

/// The files of `record` that are `wanted`, by the names it holds: a walk
/// stats every file it reads, and copied names were a tenth of a no-op
/// build's allocations.
fn wanted_in<'r>(record: &'r DirRecord, wanted: &impl Fn(&str) -> bool) -> Vec<&'r str> {
    record.files.iter().filter(|n| wanted(n)).collect()
}

/// What dbt writes into its project: never read, never walked.
const DBT_OUTPUT_DIRS: &[&str] = &["target", "dbt_packages", "logs"];

/// Whether a listing records a file named `name` in `dir`: a package file,
/// the root's `floe.lock`, a dbt source (read only in a dbt project) or a plugin.
fn recorded(dir: &WsPath, name: &str) -> bool {
    is_package_file(name)
        || (dir.is_root() && name == crate::lock::LOCK)
        || is_dbt_source(name)
        || crate::layout::is_plugin_dir(dir.as_str())
}

/// Package files, data contracts, and the files beside `dbt_project.yml`
/// that declare its packages (recorded wherever they are; the layout keeps
/// those of a project).
fn is_package_file(name: &str) -> bool {
    matches!(name, MANIFEST | SPEC | DBT_PROJECT | CONTRACT) || floe_rules::dbt::PACKAGE_FILES.contains(&name)
}

fn not_regular(path: WsPath, kind: FileKind) -> Problem {
    let mut d = Diagnostic::error(
        Code::NotARegularFile,
        format!("`{path}` is {}, not a regular file; floe does not read it", kind.describe()),
    )
    .with_help("replace it with a regular file, or add it to .floeignore");
    d.file = Some(path.to_string());
    Problem { path, is_dir: false, diagnostic: d }
}

/// A link that leads out of the workspace: an error where a package file
/// goes (the package cannot be built), a warning for a directory (it is not
/// walked).
fn leaves(path: WsPath, target: &Path, is_dir: bool) -> Problem {
    let message = format!(
        "`{path}` is a symbolic link to `{}`, outside the workspace; floe does not follow it",
        target.display()
    );
    let mut d = match is_dir {
        true => Diagnostic::warning(Code::LinkLeavesWorkspace, message),
        false => Diagnostic::error(Code::LinkLeavesWorkspace, message),
    }
    .with_help("floe reads only inside the workspace: copy what it points at in, or add the link to .floeignore");
    d.file = Some(path.to_string());
    Problem { path, is_dir, diagnostic: d }
}

/// dbt models, snapshots, analyses and macros, property files, seeds.
fn is_dbt_source(name: &str) -> bool {
    [".sql", ".yml", ".yaml", ".csv"].iter().any(|ext| name.ends_with(ext))
}

/// `.floeignore`: gitignore syntax, matched by the `ignore` crate (what git
/// and ripgrep mean by it: `!` negation, a trailing `/` for directories, a
/// leading or inner `/` anchoring to the workspace root, `*`, `?`, `**`; the
/// last matching line wins). A line that is no valid glob is skipped, as git
/// skips it.
#[derive(Clone, Debug, Default)]
pub struct Ignore {
    matcher: Option<ignore::gitignore::Gitignore>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        // Paths are matched as the workspace-relative paths the walk gives.
        let mut builder = ignore::gitignore::GitignoreBuilder::new(".");
        for line in text.lines() {
            let _ = builder.add_line(None, line);
        }
        Ignore { matcher: builder.build().ok().filter(|m| !m.is_empty()) }
    }

    pub fn is_ignored(&self, path: &WsPath, is_dir: bool) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.matched(path.as_str(), is_dir).is_ignore())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::MemorySystem;

    #[test]
    fn names_are_sorted_and_encoded_as_the_list_they_are() {
        let names: Names = ["stg_b.sql", "a b.sql", "stg_a.sql"].into_iter().collect();
        assert_eq!(names.iter().collect::<Vec<_>>(), ["a b.sql", "stg_a.sql", "stg_b.sql"]);
        let list = vec!["a b.sql".to_owned(), "stg_a.sql".to_owned(), "stg_b.sql".to_owned()];
        let bytes = postcard::to_stdvec(&names).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&list).unwrap());
        assert_eq!(postcard::from_bytes::<Names>(&bytes).unwrap(), names);
        let none = Names::default();
        assert_eq!(postcard::from_bytes::<Names>(&postcard::to_stdvec(&none).unwrap()).unwrap(), none);
        // No file has such a name: a list that holds one is not a listing.
        for bad in [vec!["a\0b".to_owned()], vec![String::new()]] {
            assert!(postcard::from_bytes::<Names>(&postcard::to_stdvec(&bad).unwrap()).is_err());
        }
    }

    #[test]
    fn walk_skips_hidden_output_and_ignored() {
        let sys = MemorySystem::new();
        for f in [
            "/w/manifest.yaml",
            "/w/sales/manifest.yaml",
            "/w/sales/a/floe.yaml",
            "/w/sales/a/dbt_project.yml",
            "/w/sales/a/models/x.sql",
            "/w/.git/floe.yaml",
            "/w/floe-out/sales/a/floe.yaml",
            "/w/archive/old/floe.yaml",
            "/w/archive/keep/floe.yaml",
            "/w/tmp-x/floe.yaml",
        ] {
            sys.put(f, "x");
        }
        sys.put("/w/.floeignore", "# old products\n/archive/*\n!/archive/keep\ntmp-*/\n");
        let found: Vec<String> = discover(&sys, Path::new("/w"), &BTreeMap::new(), i64::MAX, 2)
            .unwrap()
            .files
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "archive/keep/floe.yaml",
                "manifest.yaml",
                "sales/a/dbt_project.yml",
                "sales/a/floe.yaml",
                "sales/a/models/x.sql",
                "sales/manifest.yaml"
            ]
        );
    }

    #[test]
    fn globs() {
        let ig = Ignore::parse("docs/**/draft\n");
        assert!(ig.is_ignored(&WsPath::new("docs/a/b/draft").unwrap(), true));
        assert!(ig.is_ignored(&WsPath::new("docs/draft").unwrap(), true));
        assert!(!ig.is_ignored(&WsPath::new("x/docs/draft").unwrap(), true));
    }

    #[test]
    fn ignore_files_read_as_git_reads_them() {
        let ig = Ignore::parse("*.bak\n!keep.bak\nbuild/\n/top\n\\#literal\n[ab]-*\n");
        let ignored = |p: &str, dir: bool| ig.is_ignored(&WsPath::new(p).unwrap(), dir);
        assert!(ignored("a/x.bak", false) && !ignored("a/keep.bak", false));
        assert!(ignored("a/build", true) && !ignored("a/build", false));
        assert!(ignored("top", true) && !ignored("a/top", true));
        assert!(ignored("#literal", false));
        // Character classes, which the old matcher did not know.
        assert!(ignored("a-1", true) && !ignored("c-1", true));
        // A long path under `**` patterns costs no more than a short one.
        let many = Ignore::parse(&"**/d/".repeat(20));
        assert!(many.is_ignored(&WsPath::new(&vec!["d"; 200].join("/")).unwrap(), true));
        assert!(!many.is_ignored(&WsPath::new(&[vec!["d"; 200].join("/"), "e".to_owned()].join("/")).unwrap(), true));
    }
}
