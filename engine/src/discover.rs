//! Finding the files a workspace is made of.
//!
//! Walks the workspace through [`System`], skipping hidden directories,
//! `floe-out/`, `.floe/` and whatever `.floeignore` (gitignore syntax) excludes,
//! and returns the files that define packages, each with its stat.
//!
//! A directory's modification time changes exactly when an entry is added,
//! removed or renamed in it, so the walk remembers each directory's listing
//! with its mtime and lists again only directories whose mtime moved: a no-op
//! build stats directories instead of reading them. Levels of the tree are
//! walked in parallel.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::layout::{DBT_PROJECT, MANIFEST, SPEC};
use crate::path::WsPath;
use crate::system::{FileStat, IoError, System};

pub const IGNORE_FILE: &str = ".floeignore";
pub const OUT_DIR: &str = "floe-out";
pub const STORE_DIR: &str = ".floe";

/// What a directory held when it had this mtime: its visible subdirectories and
/// the package files among its entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirRecord {
    pub mtime_ns: i64,
    pub dirs: Vec<String>,
    pub files: Vec<String>,
}

pub struct Discovery {
    /// Package files, sorted, with their stats.
    pub files: Vec<(WsPath, FileStat)>,
    /// The listing of every directory walked, for the next walk.
    pub dirs: BTreeMap<WsPath, DirRecord>,
}

/// Every package-defining file below `root`. A cached listing is trusted when
/// the directory's mtime is unchanged and older than `trust_before` (a listing
/// taken in the same instant as a change could have missed it).
pub fn discover(
    sys: &dyn System,
    root: &Path,
    cache: &BTreeMap<WsPath, DirRecord>,
    trust_before: i64,
    jobs: usize,
) -> Result<Discovery, IoError> {
    let ignore = match sys.read(&root.join(IGNORE_FILE))? {
        Some(bytes) => Ignore::parse(&String::from_utf8_lossy(&bytes)),
        None => Ignore::default(),
    };
    let mut files = Vec::new();
    let mut dirs = BTreeMap::new();
    let mut level = vec![WsPath::ROOT];
    while !level.is_empty() {
        let listed = crate::par::map(&level, jobs, |dir| list(sys, root, dir, cache, trust_before));
        let mut next = Vec::new();
        for (dir, result) in level.iter().zip(listed) {
            let (record, found) = result?;
            files.extend(found.into_iter().filter(|(p, _)| !ignore.is_ignored(p, false)));
            for name in &record.dirs {
                let Some(path) = dir.join(name) else { continue };
                if (dir.is_root() && name == OUT_DIR) || ignore.is_ignored(&path, true) {
                    continue;
                }
                next.push(path);
            }
            dirs.insert(dir.clone(), record);
        }
        level = next;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Discovery { files, dirs })
}

fn list(
    sys: &dyn System,
    root: &Path,
    dir: &WsPath,
    cache: &BTreeMap<WsPath, DirRecord>,
    trust_before: i64,
) -> Result<(DirRecord, Vec<(WsPath, FileStat)>), IoError> {
    let abs = root.join(dir.as_str());
    let mtime = sys.dir_mtime(&abs)?;
    let record = match (cache.get(dir), mtime) {
        (Some(r), Some(m)) if r.mtime_ns == m && m < trust_before => r.clone(),
        _ => {
            let in_models = crate::layout::in_model_dir(dir);
            let in_plugins = crate::layout::is_plugin_dir(dir);
            let mut record = DirRecord { mtime_ns: mtime.unwrap_or_default(), ..DirRecord::default() };
            for entry in sys.list_dir(&abs)? {
                if entry.name.starts_with('.') {
                    continue;
                }
                if entry.is_dir {
                    record.dirs.push(entry.name);
                } else if matches!(entry.name.as_str(), MANIFEST | SPEC | DBT_PROJECT)
                    || (in_models && is_model_file(&entry.name))
                    || in_plugins
                {
                    record.files.push(entry.name);
                }
            }
            record.dirs.sort();
            record.files.sort();
            record
        }
    };
    let stats = sys.stat_in(&abs, &record.files)?;
    let mut found = Vec::with_capacity(record.files.len());
    for (name, stat) in record.files.iter().zip(stats) {
        if let (Some(path), Some(stat)) = (dir.join(name), stat) {
            found.push((path, stat));
        }
    }
    Ok((record, found))
}

/// dbt models and their property files.
fn is_model_file(name: &str) -> bool {
    name.ends_with(".sql") || name.ends_with(".yml") || name.ends_with(".yaml")
}

/// The gitignore subset floe honours: `#` comments, `!` negation, a trailing `/`
/// for directories only, a leading or inner `/` anchoring to the workspace root,
/// and the wildcards `*`, `?` and `**`. The last matching rule wins.
#[derive(Clone, Debug, Default)]
pub struct Ignore {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Rule {
    negate: bool,
    dir_only: bool,
    anchored: bool,
    pattern: Vec<String>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, line) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let (dir_only, line) = match line.strip_suffix('/') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let anchored = line.contains('/');
            let line = line.trim_start_matches('/');
            if line.is_empty() {
                continue;
            }
            let pattern = line.split('/').map(str::to_owned).collect();
            rules.push(Rule { negate, dir_only, anchored, pattern });
        }
        Ignore { rules }
    }

    pub fn is_ignored(&self, path: &WsPath, is_dir: bool) -> bool {
        let segs: Vec<&str> = path.as_str().split('/').collect();
        let mut ignored = false;
        for rule in &self.rules {
            if rule.dir_only && !is_dir {
                continue;
            }
            let hit = if rule.anchored {
                floe_rules::glob::segments_match(&rule.pattern, &segs)
            } else {
                segs.last().is_some_and(|last| floe_rules::glob::matches(&rule.pattern[0], last))
            };
            if hit {
                ignored = !rule.negate;
            }
        }
        ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::MemorySystem;

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
}
