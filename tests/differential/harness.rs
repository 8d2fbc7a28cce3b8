//! Workspaces built twice, incrementally in place and clean in a copy, and
//! everything the two builds disagree on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common;

pub const DAY: i64 = 86_400;
/// The evaluation date every run starts at: 2024-03-10, 00:00 UTC.
pub const START: i64 = 1_710_028_800;

/// The environment's one impure input to outputs: `SOURCE_DATE_EPOCH`.
/// `Unset` leaves floe to judge expiring overrides by the clock's date while
/// `compiled_at` stays at the epoch, the same setting hash as `At(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epoch {
    Unset,
    At(i64),
}

impl Epoch {
    pub fn describe(self) -> String {
        match self {
            Epoch::Unset => "SOURCE_DATE_EPOCH unset (overrides judged by today's date)".to_owned(),
            Epoch::At(s) => format!("SOURCE_DATE_EPOCH={s} ({})", date(s)),
        }
    }
}

/// `YYYY-MM-DD` of a Unix time (proleptic Gregorian, UTC), as floe computes it.
pub fn date(secs: i64) -> String {
    floe_rules::rfc3339(secs)[..10].to_owned()
}

/// Names at the workspace root that are floe's, never sources.
const GENERATED: &[&str] = &["floe-out", ".floe"];

/// Copies a workspace's sources: everything but `floe-out/` and `.floe/` at
/// its root, so no build ever sees what an earlier command left behind.
pub fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if GENERATED.iter().any(|g| entry.file_name() == *g) {
            continue;
        }
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            common::copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

/// Every source file of a workspace (relative, `/`-separated, sorted).
pub fn source_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            if GENERATED.contains(&rel.as_str()) {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// What one `floe build //... --format json` shows.
pub struct Outcome {
    pub code: i32,
    pub report: Option<Value>,
    pub stdout: String,
    /// With the workspace and store paths replaced by placeholders.
    pub stderr: String,
    /// `floe-out/`, file by file.
    pub out: BTreeMap<String, Vec<u8>>,
}

pub fn build(dir: &Path, store: Option<&Path>, epoch: Epoch) -> Outcome {
    let mut cmd = common::floe_cmd(dir);
    cmd.args(["build", "//...", "--format", "json"]);
    if let Some(store) = store {
        cmd.arg("--store").arg(store);
    }
    if let Epoch::At(s) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", s.to_string());
    }
    // Not `common::run`: a panic is one more difference to report, not the
    // end of the run.
    let out = cmd.output().unwrap();
    let run = common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // The one environmental part of a message: where the workspace is.
    let mut stderr = run.stderr.replace(&dir.to_string_lossy().into_owned(), "<workspace>");
    if let Some(store) = store {
        stderr = stderr.replace(&store.to_string_lossy().into_owned(), "<store>");
    }
    Outcome {
        code: run.code,
        report: serde_json::from_str(&run.stdout).ok(),
        stdout: run.stdout,
        stderr,
        out: common::tree(&dir.join("floe-out")).into_iter().collect(),
    }
}

/// One thing the incremental and the clean build disagree on. `class` names
/// the kind of disagreement without the package it happened in, so that the
/// same defect found in two packages or two runs counts once.
#[derive(Clone, Debug)]
pub struct Difference {
    pub class: String,
    pub detail: String,
}

/// Everything the incremental build shows that the clean build does not, or
/// the other way round. Compared: the exit code; the diagnostics, exactly;
/// each derivation's label, rule, key and whether it failed; stderr; and
/// `floe-out/`, byte for byte. Not compared: the summary (how many
/// derivations were built, reused or written, and the duration, which is
/// the point of an incremental build) and each derivation's built/reused
/// status (the same).
pub fn compare(incremental: &Outcome, clean: &Outcome) -> Vec<Difference> {
    let mut diffs = Vec::new();
    for (side, o) in [("incremental", incremental), ("clean", clean)] {
        if o.stderr.contains("panicked") {
            diffs.push(Difference { class: format!("floe panicked ({side} build)"), detail: o.stderr.clone() });
        }
    }
    if incremental.code != clean.code {
        diffs.push(Difference {
            class: format!("exit code {} instead of {}", incremental.code, clean.code),
            detail: format!("incremental exit code {}, clean {}", incremental.code, clean.code),
        });
    }
    match (&incremental.report, &clean.report) {
        (Some(a), Some(b)) => {
            diffs.extend(compare_diagnostics(&a["diagnostics"], &b["diagnostics"]));
            let (da, db) = (derivation_lines(a), derivation_lines(b));
            if da != db {
                // Named by the rules of the lines that differ.
                let rule = |l: &String| l.split(' ').nth(1).unwrap_or("?").trim_matches('"').to_owned();
                let rules: BTreeSet<String> = da
                    .iter()
                    .filter(|l| !db.contains(l))
                    .chain(db.iter().filter(|l| !da.contains(l)))
                    .map(rule)
                    .collect();
                diffs.push(Difference {
                    class: format!("derivations differ: {}", rules.into_iter().collect::<Vec<_>>().join(", ")),
                    detail: text_diff(&da.join("\n"), &db.join("\n")),
                });
            }
        }
        _ if incremental.stdout != clean.stdout => {
            diffs.push(Difference { class: "stdout".to_owned(), detail: text_diff(&incremental.stdout, &clean.stdout) })
        }
        _ => {}
    }
    if incremental.stderr != clean.stderr {
        diffs.push(Difference { class: "stderr".to_owned(), detail: text_diff(&incremental.stderr, &clean.stderr) });
    }
    diffs.extend(compare_outputs(&incremental.out, &clean.out));
    diffs
}

fn compare_diagnostics(a: &Value, b: &Value) -> Vec<Difference> {
    if a == b {
        return Vec::new();
    }
    let lines = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().map(Value::to_string).collect()).unwrap_or_default()
    };
    let codes = |v: &Value| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for d in v.as_array().into_iter().flatten() {
            let key = format!("{} {}", d["severity"].as_str().unwrap_or("?"), d["code"].as_str().unwrap_or("?"));
            *m.entry(key).or_insert(0) += 1;
        }
        m
    };
    let (ca, cb) = (codes(a), codes(b));
    let only = |x: &BTreeMap<String, usize>, y: &BTreeMap<String, usize>| -> Vec<String> {
        x.iter().filter(|(k, n)| y.get(*k).is_none_or(|m| m < n)).map(|(k, _)| k.clone()).collect()
    };
    let (oa, ob) = (only(&ca, &cb), only(&cb, &ca));
    let class = if oa.is_empty() && ob.is_empty() {
        "diagnostics: same codes, different positions or text".to_owned()
    } else {
        let mut parts = Vec::new();
        if !oa.is_empty() {
            parts.push(format!("only incremental: {}", oa.join(", ")));
        }
        if !ob.is_empty() {
            parts.push(format!("only clean: {}", ob.join(", ")));
        }
        format!("diagnostics: {}", parts.join("; "))
    };
    vec![Difference { class, detail: text_diff(&lines(a).join("\n"), &lines(b).join("\n")) }]
}

/// `label rule key [failed]` per derivation: the report minus built/reused.
fn derivation_lines(report: &Value) -> Vec<String> {
    report["derivations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let failed = if d["status"] == "failed" { " failed" } else { "" };
            format!("{} {} {}{failed}", d["label"].as_str().unwrap_or("?"), d["rule"], d["key"])
        })
        .collect()
}

fn compare_outputs(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<Difference> {
    // Packages are the directories holding a derivation record, compiled
    // artifacts or a resolved manifest.
    let packages = |t: &BTreeMap<String, Vec<u8>>| -> BTreeSet<String> {
        let markers = ["floe.drv.json", "compiled_artifacts.json", "manifest.resolved.json"];
        t.keys()
            .filter_map(|p| markers.iter().find_map(|m| p.strip_suffix(m)))
            .filter(|d| d.is_empty() || d.ends_with('/'))
            .map(|d| d.trim_end_matches('/').to_owned())
            .collect()
    };
    let (pa, pb) = (packages(a), packages(b));
    // A file's package: the nearest directory holding a record, in either tree.
    let package_of = |path: &str| -> String {
        pa.iter()
            .chain(&pb)
            .filter(|d| d.is_empty() || path.starts_with(&format!("{d}/")))
            .max_by_key(|d| d.len())
            .cloned()
            .unwrap_or_default()
    };
    let in_package = |path: &str, dir: &str| path.strip_prefix(dir).unwrap_or(path).trim_start_matches('/').to_owned();
    let mut diffs = Vec::new();
    // Files on one side only: a whole package (it has a record on that side
    // only) is one difference, else each file is.
    let mut one_sided = |only: Vec<&String>, mine: &BTreeSet<String>, theirs: &BTreeSet<String>, incremental: bool| {
        let mut whole: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in only {
            let dir = package_of(path);
            if mine.contains(&dir) && !theirs.contains(&dir) {
                whole.entry(dir.clone()).or_default().push(in_package(path, &dir));
                continue;
            }
            let file = in_package(path, &dir);
            diffs.push(match incremental {
                true => Difference {
                    class: format!("floe-out: {file} left behind by the incremental build"),
                    detail: format!("floe-out/{path} exists after the incremental build only"),
                },
                false => Difference {
                    class: format!("floe-out: {file} missing after the incremental build"),
                    detail: format!("floe-out/{path} exists after the clean build only"),
                },
            });
        }
        for (dir, files) in whole {
            let shown = if dir.is_empty() { "floe-out/".to_owned() } else { format!("floe-out/{dir}/") };
            diffs.push(match incremental {
                true => Difference {
                    class: "floe-out: outputs of a package the clean build writes nothing for, left behind".to_owned(),
                    detail: format!("{shown} after the incremental build only: {}", files.join(", ")),
                },
                false => Difference {
                    class: "floe-out: a package's outputs missing after the incremental build".to_owned(),
                    detail: format!("{shown} after the clean build only: {}", files.join(", ")),
                },
            });
        }
    };
    one_sided(a.keys().filter(|p| !b.contains_key(*p)).collect(), &pa, &pb, true);
    one_sided(b.keys().filter(|p| !a.contains_key(*p)).collect(), &pb, &pa, false);
    for (path, bytes) in a {
        if let Some(other) = b.get(path).filter(|o| *o != bytes) {
            diffs.push(Difference {
                class: format!("floe-out: {} differs", in_package(path, &package_of(path))),
                detail: format!(
                    "floe-out/{path} differs (- incremental, + clean):\n{}",
                    text_diff(&String::from_utf8_lossy(bytes), &String::from_utf8_lossy(other))
                ),
            });
        }
    }
    diffs
}

/// A short unified diff, `-` the incremental side, `+` the clean one.
pub fn text_diff(a: &str, b: &str) -> String {
    const LINES: usize = 24;
    const WIDTH: usize = 160;
    let diff = similar::TextDiff::from_lines(a, b);
    let text = diff.unified_diff().context_radius(1).missing_newline_hint(false).to_string();
    let mut out: Vec<String> = text
        .lines()
        .take(LINES)
        .map(|l| match l.char_indices().nth(WIDTH) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_owned(),
        })
        .collect();
    if text.lines().count() > LINES {
        out.push(format!("… ({} more diff lines)", text.lines().count() - LINES));
    }
    out.join("\n")
}

/// One or more workspaces edited in place and built incrementally, each
/// compared after every build with a clean build of a copy of its sources.
pub struct Session {
    tmp: tempfile::TempDir,
    /// Workspace directories and the examples they started from.
    pub workspaces: Vec<(PathBuf, PathBuf)>,
    /// The store they share, if they share one.
    pub store: Option<PathBuf>,
    pub epoch: Epoch,
    /// The edits since the stores were last empty, as the failure shows them.
    pub log: Vec<String>,
    /// The edits before that: they shaped the tree, their builds matched.
    earlier: Vec<String>,
    /// The evaluation date when the stores were last empty.
    since: Epoch,
}

impl Session {
    /// Copies of `testdata/<example>`, one workspace each; `shared`: one store
    /// for all, outside every workspace.
    pub fn new(examples: &[&str], shared: bool) -> Session {
        let tmp = tempfile::tempdir().unwrap();
        let workspaces = examples
            .iter()
            .enumerate()
            .map(|(i, example)| {
                let src = common::repo().join("testdata").join(example);
                let dir = tmp.path().join(format!("ws{i}-{example}"));
                copy_sources(&src, &dir);
                (dir, src)
            })
            .collect();
        let store = shared.then(|| tmp.path().join("store"));
        Session {
            tmp,
            workspaces,
            store,
            epoch: Epoch::At(START),
            log: Vec::new(),
            earlier: Vec::new(),
            since: Epoch::At(START),
        }
    }

    pub fn dir(&self, ws: usize) -> &Path {
        &self.workspaces[ws].0
    }

    /// Edits a file of workspace `ws` (the edit must change it) and logs it.
    pub fn edit(&mut self, ws: usize, rel: &str, what: &str, f: impl FnOnce(String) -> String) {
        common::edit(&self.dir(ws).join(rel), f);
        self.note(ws, format!("{rel}: {what}"));
    }

    /// Logs an edit made some other way.
    pub fn note(&mut self, ws: usize, what: String) {
        let prefix = if self.workspaces.len() > 1 { format!("[ws{ws}] ") } else { String::new() };
        self.log.push(format!("{prefix}{what}"));
    }

    pub fn set_epoch(&mut self, epoch: Epoch) {
        self.epoch = epoch;
        self.log.push(format!("evaluation date: {}", epoch.describe()));
    }

    /// Runs another floe command in workspace `ws` (e.g. `clean`), logged.
    pub fn floe(&mut self, ws: usize, args: &[&str]) {
        let mut cmd = common::floe_cmd(self.dir(ws));
        cmd.args(args);
        if let Some(store) = &self.store {
            cmd.arg("--store").arg(store);
        }
        let run = common::run(cmd);
        assert_eq!(run.code, 0, "floe {args:?} failed:\n{}", run.stderr);
        self.note(ws, format!("floe {}", args.join(" ")));
    }

    /// Builds workspace `ws` incrementally, then a copy of its sources clean
    /// (fresh directory, fresh store, same environment); what differs.
    pub fn compare(&self, ws: usize) -> Vec<Difference> {
        let incremental = build(self.dir(ws), self.store.as_deref(), self.epoch);
        let copy = tempfile::tempdir_in(self.tmp.path()).unwrap();
        copy_sources(self.dir(ws), copy.path());
        let clean = build(copy.path(), None, self.epoch);
        compare(&incremental, &clean)
    }

    /// [`Session::compare`], failing with the edits that led here.
    pub fn assert_same(&self, ws: usize) {
        let diffs = self.compare(ws);
        if !diffs.is_empty() {
            panic!("the incremental build of ws{ws} differs from a clean build\n{}", self.explain(&diffs));
        }
    }

    /// The edit log and the differences, for a failure message.
    pub fn explain(&self, diffs: &[Difference]) -> String {
        let mut s = String::new();
        if !self.earlier.is_empty() {
            s.push_str("earlier edits, built on stores emptied since:\n");
            for (i, e) in self.earlier.iter().enumerate() {
                s.push_str(&format!("  {:>3}. {e}\n", i + 1));
            }
        }
        s.push_str(&format!(
            "edits since the stores were empty (starting at {}, now {}):\n",
            self.since.describe(),
            self.epoch.describe()
        ));
        for (i, e) in self.log.iter().enumerate() {
            s.push_str(&format!("  {:>3}. {e}\n", self.earlier.len() + i + 1));
        }
        s.push_str("differences:\n");
        for d in diffs {
            s.push_str(&format!("  * {}\n{}", d.class, indent_block(&d.detail)));
        }
        s
    }

    /// Forgets every build: no outputs, empty stores. After a divergence, so
    /// that the next one is not the same defect seen again.
    pub fn cold_start(&mut self) {
        for (dir, _) in &self.workspaces {
            for g in GENERATED {
                let _ = std::fs::remove_dir_all(dir.join(g));
            }
        }
        if let Some(store) = &self.store {
            let _ = std::fs::remove_dir_all(store);
        }
        self.earlier.append(&mut self.log);
        self.since = self.epoch;
    }
}

fn indent_block(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
