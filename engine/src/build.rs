//! A build: from labels to materialized outputs, reusing what it can.
//!
//! 1. Discover the workspace's package files and hash them, trusting the stat
//!    cache for files whose stat has not changed.
//! 2. Select the packages the labels name.
//! 3. For each selected package, in parallel: if the last build's record still
//!    holds (every file it read has the same normalized hash, its outputs are
//!    intact), reuse it without parsing anything. Otherwise evaluate it in the
//!    salsa database, compute its derivation keys, and look each key up in the
//!    action cache; run the rule only on a miss.
//! 4. Materialize outputs under `floe-out/`, rewriting only what changed, and
//!    save the state for the next process.
//!
//! Failures are never cached: a package with errors leaves no record, and an
//! infrastructure error aborts the build without saving state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use floe_schemas::diag::{self, Diagnostic};
use salsa::Setter as _;
use serde::Serialize;

use crate::db::{self, Database, Derivation, Package, Settings, SourceFile, Workspace};
use crate::discover;
use crate::hash::Hash;
use crate::label::{self, Pattern, Target};
use crate::layout::{Layout, PackageKind};
use crate::path::{Cursor, WsPath};
use crate::store::{ActionEntry, DerivationRecord, FileRecord, OutputRecord, PackageRecord, State, Store};
use crate::system::{DirStat, FileStat, IoError, System};

/// A stat younger than this, relative to when the state was saved, is not
/// trusted: the file may have changed again within the file system's timestamp
/// granularity after floe hashed it.
const RACY_NS: i64 = 2_000_000_000;

/// The same for a timestamp with a sub-second part: it comes from a file
/// system that keeps sub-second times, stamped by the kernel's coarse clock,
/// which ticks at least every 10 ms (HZ ≥ 100). Two ticks. (A file system of
/// whole seconds or coarser gives a sub-second part of zero.) This matters
/// for the directories of outputs, which a build writes just before it saves
/// the state: with two seconds, a no-op build right after a build would look
/// into them all.
const RACY_FINE_NS: i64 = 20_000_000;

/// Whether a stat with mtime `mtime_ns` vouches for what it describes, the
/// state having been saved at `saved_ns` (by the file system's clock).
fn vouches(mtime_ns: i64, saved_ns: i64) -> bool {
    let margin = if mtime_ns.rem_euclid(1_000_000_000) == 0 { RACY_NS } else { RACY_FINE_NS };
    mtime_ns < saved_ns.saturating_sub(margin)
}

/// A record of every file of the workspace, by path.
type Files = BTreeMap<WsPath, FileRecord>;

/// The normalized hashes a build learned, asked for in path order: the
/// union of lists each in path order (every new record's dependencies),
/// merged as it is read rather than collected into a map (at 10,000
/// products, 300,000 pairs, 160,000 paths). A list out of order would
/// only lose hashes: a file without one is parsed again when it is needed.
struct Learned<'a> {
    lists: Vec<&'a [(WsPath, Hash)]>,
    /// The next pair of each list not yet passed, by its path.
    next: std::collections::BinaryHeap<std::cmp::Reverse<(&'a WsPath, usize)>>,
}

impl<'a> Learned<'a> {
    fn new(lists: impl IntoIterator<Item = &'a [(WsPath, Hash)]>) -> Learned<'a> {
        let lists: Vec<_> = lists.into_iter().filter(|l| !l.is_empty()).collect();
        debug_assert!(lists.iter().all(|l| l.is_sorted_by(|a, b| a.0 <= b.0)));
        let next = lists.iter().enumerate().map(|(i, l)| std::cmp::Reverse((&l[0].0, i))).collect();
        Learned { lists, next }
    }

    /// The hash learned for `path`; each call's path is after the last one's.
    fn get(&mut self, path: &WsPath) -> Option<Hash> {
        while let Some(std::cmp::Reverse((p, i))) = self.next.peek().copied() {
            if p >= path {
                let list = self.lists[i];
                return (p == path).then(|| list[0].1);
            }
            self.next.pop();
            self.lists[i] = &self.lists[i][1..];
            if let Some((p, _)) = self.lists[i].first() {
                self.next.push(std::cmp::Reverse((p, i)));
            }
        }
        None
    }
}

/// Pairs each file `found` (in path order) with the record the last build
/// left of it (`old`, in path order), in one merge: a lookup per file
/// compared paths ~14 times. Also gives the paths of the records no file
/// was found for.
fn pair<'a>(
    old: impl Iterator<Item = (&'a str, &'a FileRecord)>,
    found: &[(WsPath, FileStat)],
) -> (Vec<Option<&'a FileRecord>>, Vec<&'a str>) {
    let mut old = old.peekable();
    let mut gone = Vec::new();
    let paired = found
        .iter()
        .map(|(path, _)| {
            while let Some((p, _)) = old.next_if(|(p, _)| *p < path.as_str()) {
                gone.push(p);
            }
            old.next_if(|(p, _)| *p == path.as_str()).map(|(_, r)| r)
        })
        .collect();
    gone.extend(old.map(|(p, _)| p));
    (paired, gone)
}

/// The records of the files `found` (in path order), with the hashes of
/// their bytes now (`raws`) and the records the last build left of them
/// (`old`; `gone`: of files not found, see [`pair`]). A record's normalized
/// hash stands while its bytes do. Listed with the walk's paths: those the
/// last build's records were read with are not kept (see [`FileTable`]).
/// The map is made of the list in bulk, its nodes full (a map grown a
/// record at a time in order leaves each node half empty), once the old
/// records are dropped: at 10,000 products, both at once raised a no-op
/// build's peak by 16 MB.
fn renew_records(
    found: Vec<(WsPath, FileStat)>,
    raws: &[Hash],
    old: &[Option<&FileRecord>],
    gone: &[&str],
    changes: &mut Changes,
) -> Vec<(WsPath, FileRecord)> {
    // A first build: every record is new, and the state is written whole.
    if gone.is_empty() && old.iter().all(Option::is_none) {
        changes.whole = true;
    }
    for path in gone {
        changes.note_file(&WsPath::of_text(path));
    }
    let records = found.into_iter().zip(raws).zip(old).map(|(((path, stat), &raw), old)| {
        let record = match old {
            Some(old) if old.stat == stat && old.raw == raw => **old,
            _ => {
                changes.note_file(&path);
                FileRecord { stat, raw, normal: old.and_then(|o| o.normal.filter(|_| o.raw == raw)) }
            }
        };
        (path, record)
    });
    records.collect()
}

/// Gives the files whose normalized hash this build learned (lists each
/// in path order: every new record's dependencies) that hash, unless
/// their records have it already.
fn learn_normals<'a, L>(records: &mut Files, lists: L, changes: &mut Changes)
where
    L: Iterator<Item = &'a [(WsPath, Hash)]> + Clone,
{
    let pairs: usize = lists.clone().map(<[_]>::len).sum();
    // Few (an incremental build): each looked up.
    if pairs < records.len() / 8 {
        for (path, normal) in lists.flatten() {
            if let Some(record) = records.get_mut(path)
                && record.normal.is_none()
            {
                record.normal = Some(*normal);
                changes.note_file(path);
            }
        }
        return;
    }
    // Many (a cold build: 300,000 pairs at 10,000 products): merged with
    // the records in one pass.
    let mut learned = Learned::new(lists);
    for (path, record) in records.iter_mut().filter(|(_, r)| r.normal.is_none()) {
        if let Some(normal) = learned.get(path) {
            record.normal = Some(normal);
            changes.note_file(path);
        }
    }
}

/// Adds to `out` the keys whose values differ between `old` and `new`
/// (set in one, not in the other, or set to another value).
fn changed_keys<V: PartialEq>(old: &BTreeMap<WsPath, V>, new: &BTreeMap<WsPath, V>, out: &mut BTreeSet<WsPath>) {
    out.extend(new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, _)| k.clone()));
    out.extend(old.keys().filter(|k| !new.contains_key(*k)).cloned());
}

/// What builds changed in a state since it was read or saved: what the
/// next save appends to the state's log (see `store::log`), its records
/// as the state then holds them. Every change a build makes to the state
/// is noted here. (Whether there is a log to append to, the store knows:
/// none before a state was read, nor after a save that failed.)
#[derive(Debug, Default)]
struct Changes {
    dirs: BTreeSet<WsPath>,
    files: BTreeSet<WsPath>,
    packages: BTreeSet<WsPath>,
    /// Every file record is new (a first build): the state is written
    /// whole, and file changes are not noted.
    whole: bool,
}

impl Changes {
    fn note_file(&mut self, path: &WsPath) {
        if !self.whole {
            self.files.insert(path.clone());
        }
    }

    /// What to append, unless more than a sixteenth of the state's records
    /// changed: a log is kept to a sixteenth of its state, and a delta that
    /// large is not worth making.
    fn delta<'a>(&'a self, state: &'a State) -> Option<crate::store::DeltaOf<'a>> {
        let many = |changed: usize, all: usize| changed > (all / 16).max(64);
        if self.whole
            || many(self.dirs.len(), state.dirs.len())
            || many(self.files.len(), state.files.len())
            || many(self.packages.len(), state.packages.len())
        {
            return None;
        }
        Some(crate::store::DeltaOf {
            dirs: self.dirs.iter().map(|d| (d, state.dirs.get(d))).collect(),
            files: self.files.iter().map(|p| (p, state.files.get(p))).collect(),
            packages: self.packages.iter().map(|d| (d, state.packages.get(d))).collect(),
        })
    }
}

/// Packages evaluated with one database by a session that is not kept
/// warm (see [`Session::build`]): each batch sets the database's inputs
/// up again (every file's), and holds its packages' memos. At 10,000
/// products, a cold build in batches of 512 peaks lower than in batches
/// of 1,024 (194 and 200 MB, medians of three). Two under test, so that
/// every build the tests make is one of several batches.
const EVALUATION_BATCH: usize = if cfg!(test) { 2 } else { 512 };

/// How many bytes of the files it hashes opening a session keeps for the
/// evaluation (see [`db::Kept`]): all of a 1,000-product workspace's 7.4
/// MB; at 10,000 products, what its first batches read, and little beside
/// the peak of a clean build's memory.
const KEPT_BYTES: u64 = 8 << 20;

/// The name of the derivation record written beside each package's outputs.
pub const DRV_FILE: &str = "floe.drv.json";

/// What a build tells whoever shows its progress (the driver draws a bar
/// on a terminal). Called from worker threads.
pub trait Progress: Send + Sync {
    /// `packages` are to be evaluated: those the state could not settle.
    fn evaluating(&self, packages: usize);
    /// One of them is done.
    fn evaluated(&self);
}

pub struct Options {
    /// Absolute path of the workspace root.
    pub workspace: PathBuf,
    /// Absolute path of the store (`.floe/` by default).
    pub store: PathBuf,
    /// Absolute path of the output directory (`floe-out/`).
    pub out: PathBuf,
    /// The directory floe runs in, for relative labels.
    pub cwd: WsPath,
    pub labels: Vec<String>,
    pub settings: Settings,
    /// Worker threads.
    pub jobs: usize,
    /// A store elsewhere to take derivations from (and give them to).
    pub remote: Option<crate::remote::Remote>,
    /// Stat every output of a reused package, not only the directories that
    /// hold them: an output edited in place (made writable first) then shows.
    pub check_outputs: bool,
    /// Told how the evaluation goes, if anyone shows it.
    pub progress: Option<Arc<dyn Progress>>,
    /// Keep the database from one build to the next (a watch; see
    /// [`Session::refresh`]) rather than free it once a build has evaluated.
    pub warm: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Built,
    Reused,
    /// Taken from the remote store, verified.
    Fetched,
    Failed,
}

impl Status {
    /// As the JSON summary spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Built => "built",
            Status::Reused => "reused",
            Status::Fetched => "fetched",
            Status::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DerivationStatus {
    pub label: label::TargetLabel,
    pub rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Hash>,
    pub status: Status,
}

/// What `floe lock` pins: see [`Session::contract_pins`].
#[derive(Debug, Default)]
pub struct ContractPins {
    /// The selected products, whose earlier pins the new ones replace.
    pub products: Vec<String>,
    pub pins: BTreeMap<String, crate::lock::PinnedContract>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub derivations: Vec<DerivationStatus>,
    pub diagnostics: Vec<Diagnostic>,
    /// Output files written (changed) or removed (no longer produced) under `floe-out/`.
    pub written: usize,
    /// `floe check`: each product's enforcement report, by package label.
    pub enforcement: BTreeMap<String, serde_json::Value>,
    /// What went wrong outside the workspace without failing the build (a
    /// remote store that failed): never recorded, so said by every build it happens to.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.derivations.iter().filter(|d| d.status == status).count()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error) || self.count(Status::Failed) > 0
    }
}

/// The workspace as this process sees it: its database and everything else.
/// The database is set up only when something has to be evaluated: a no-op
/// build answers from the state alone.
pub struct Session {
    db: Option<Database>,
    pub cx: Context,
    /// The last build's state is not saved yet (a warm session's; see [`Session::save`]).
    unsaved: bool,
}

impl std::ops::Deref for Session {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.cx
    }
}

/// Files, hashes, layout and state: what build workers share (the database is
/// not shared; each worker has its own handle).
pub struct Context {
    pub system: Arc<dyn System>,
    pub options: Options,
    /// What opening read of the workspace's files, for the evaluation
    /// to read from (see [`db::Kept`]).
    kept: Option<Arc<db::Kept>>,
    /// The last build's records of packages, and a record of every file
    /// the workspace has now: its stat, the hash of its bytes, and the
    /// hash of its normalized value while those bytes stand.
    pub state: State,
    /// Whether hashing found stats the state could not vouch for.
    rehashed: bool,
    pub layout: Arc<Layout>,
    pub layout_diagnostics: Vec<Diagnostic>,
    /// Directory listings of this walk, saved for the next one.
    dirs: crate::discover::Listings,
    /// When the state was saved, by the file system's clock (see [`vouches`]).
    saved_ns: i64,
    /// What builds changed in the state since it was read or saved.
    changes: Changes,
    /// The span of the build's evaluation: the parent of the spans and
    /// events worker threads make for its packages.
    evaluating: tracing::Span,
    pub store: Arc<Store>,
    graph: Option<Graph>,
    /// The remote store's first failure in this process: it is not asked again.
    remote_failed: std::sync::OnceLock<String>,
    /// Packages a warm session's last build reused as they were, and that
    /// nothing reported since reaches: an input they read (`refresh`), the
    /// layout, or their outputs (`outputs_changed`). The next build reuses
    /// them without looking at their record's inputs or outputs again. Only
    /// with a driver that reports every change below the output directory
    /// ([`Session::watch_outputs`]); empty otherwise.
    vouched: BTreeSet<WsPath>,
    /// Whether the driver reports changes below the output directory.
    outputs_watched: bool,
    /// In a warm session, what its checks said of each package settled from
    /// its record, while nothing that record names moved and the layout
    /// stayed: a language server's next check answers those from here,
    /// rather than reading their enforcement reports from the store again.
    checked: BTreeMap<WsPath, Checked>,
}

/// What a check said of a package it settled from its record.
struct Checked {
    targets: Vec<Target>,
    warnings: Vec<Diagnostic>,
    derivations: Vec<DerivationStatus>,
    enforcement: Option<serde_json::Value>,
}

impl Checked {
    /// Says it again, of the package in `dir`.
    fn add_to(&self, dir: &WsPath, report: &mut Report, diagnostics: &mut Vec<Diagnostic>) {
        diagnostics.extend(self.warnings.iter().cloned());
        report.derivations.extend(self.derivations.iter().cloned());
        if let Some(json) = &self.enforcement {
            report.enforcement.insert(label::package_label(dir), json.clone());
        }
    }
}

/// The database's inputs, once it is set up.
struct Graph {
    workspace: Workspace,
    sources: Arc<BTreeMap<WsPath, SourceFile>>,
    /// Each package's input, by directory, for as long as the directory is one.
    packages: BTreeMap<WsPath, Package>,
}

impl Graph {
    /// The packages of `layout`, in its order: a directory that was a
    /// package keeps its input (and with it what was computed for it), told
    /// its new place if it moved; a new one gets an input of its own.
    fn place(&mut self, db: &mut Database, layout: &Layout) -> Arc<Vec<Package>> {
        let mut kept = BTreeMap::new();
        let mut list = Vec::with_capacity(layout.packages.len());
        for (index, info) in layout.packages.iter().enumerate() {
            let pkg = match self.packages.remove(&info.dir) {
                Some(pkg) => {
                    if pkg.index(&*db) != index {
                        pkg.set_index(db).to(index);
                    }
                    pkg
                }
                None => Package::new(&*db, self.workspace, index),
            };
            kept.insert(info.dir.clone(), pkg);
            list.push(pkg);
        }
        self.packages = kept;
        Arc::new(list)
    }
}

/// What the last build's record says about a package now.
enum Reuse {
    Reused(Box<PackageOutcome>),
    /// Something it read changed: evaluate it.
    Stale,
    /// A file it read has new bytes; whether its value changed takes parsing.
    NeedsDb,
}

impl Session {
    /// Discovers and hashes the workspace and loads the last build's state.
    pub fn open(system: Arc<dyn System>, options: Options) -> Result<Session, IoError> {
        let sys: &dyn System = &*system;
        // A store of its own keeps one state; a shared one keeps one per workspace.
        let store = Arc::new(Store::of_workspace(
            system.clone(),
            options.store.clone(),
            &options.workspace,
            options.out.clone(),
        ));
        // The state file's own mtime is the file system's clock at the last
        // save; its log's, when the last save appended to that.
        let saved_ns = sys.stat(&store.state_path())?.map_or(i64::MIN, |s| s.mtime_ns);
        let encoded = store.read_state(&options.settings.floe_version)?;
        let (deltas, logged) = match &encoded {
            Some(e) => store.read_log(e)?,
            None => (Vec::new(), None),
        };
        let saved_ns = logged.map_or(saved_ns, |s| s.mtime_ns.max(saved_ns));
        let trust_before = saved_ns.saturating_sub(RACY_NS);
        // The walk needs only the directory section; decode the rest
        // meanwhile, and lay out the files the state records: most walks
        // find those files and no other, and then that is the layout.
        let (state, found) = std::thread::scope(|s| {
            let file = encoded.as_ref();
            let deltas = &deltas;
            let rest = s.spawn(move || {
                let (files, mut state) = file.map_or(Ok(Default::default()), |e| e.records())?;
                deltas.iter().for_each(|d| d.apply_packages(&mut state.packages));
                let laid_out = Layout::from_files(crate::store::files_with_log(&files, deltas).map(|(p, _)| p));
                Ok::<_, IoError>((files, state, laid_out))
            });
            let dirs = encoded.as_ref().map_or(Ok(BTreeMap::new()), |e| e.dirs()).map(|mut dirs| {
                deltas.iter().for_each(|d| d.apply_dirs(&mut dirs));
                dirs
            });
            let found = dirs.and_then(|dirs| {
                let _span = tracing::info_span!("discover").entered();
                let found = discover::discover(sys, &options.workspace, &dirs, trust_before, options.jobs);
                found.map(|found| (dirs, found))
            });
            let rest = rest.join().expect("decoding the state does not panic");
            (rest, found)
        });
        let (dirs, found) = found?;
        let (table, state, laid_out) = state?;
        let (records, gone) = pair(crate::store::files_with_log(&table, &deltas), &found.files);
        let trusted = |i: usize| -> Option<&FileRecord> {
            let stat = &found.files[i].1;
            records[i].filter(|r| r.stat == *stat && r.stat.mtime_ns < trust_before)
        };
        // What is hashed is kept for the evaluation rather than read
        // again, up to `KEPT_BYTES`: the first files in path order,
        // which is the order packages are evaluated in. Plugins are run, not read.
        let mut room = KEPT_BYTES;
        let to_hash: Vec<(usize, bool)> = (0..found.files.len())
            .filter(|&i| trusted(i).is_none())
            .map(|i| {
                let (path, stat) = &found.files[i];
                let plugin = path.ancestors().next().is_some_and(crate::layout::is_plugin_dir);
                let keep = stat.size <= room && !plugin;
                room -= if keep { stat.size } else { 0 };
                (i, keep)
            })
            .collect();
        let root = options.workspace.clone();
        let hashing = tracing::info_span!("hash", files = to_hash.len()).entered();
        let hashed = crate::par::map(&to_hash, options.jobs, |&(i, keep)| {
            let bytes = sys.read(&root.join(found.files[i].0.as_str()))?;
            let hash = Hash::of(bytes.as_deref().unwrap_or_default());
            Ok::<_, IoError>((hash, bytes.filter(|_| keep)))
        });
        let mut fresh: Vec<Option<Hash>> = vec![None; found.files.len()];
        let mut kept = Vec::new();
        for (&(i, _), hashed) in to_hash.iter().zip(hashed) {
            let (hash, bytes) = hashed?;
            fresh[i] = Some(hash);
            kept.extend(bytes.map(|b| (found.files[i].0.clone(), b)));
        }
        let kept = (!kept.is_empty()).then(|| Arc::new(db::Kept::new(kept)));
        drop(hashing);
        let raws: Vec<Hash> = (0..found.files.len())
            .map(|i| fresh[i].unwrap_or_else(|| trusted(i).expect("hashed unless trusted").raw))
            .collect();
        let rehashed = !to_hash.is_empty() || found.dirs != dirs;
        // The state's file records become those of the files found.
        let mut changes = Changes::default();
        // The files found are those the state records, no more, no fewer.
        let same_files = gone.is_empty() && records.iter().all(Option::is_some);
        let files = renew_records(found.files, &raws, &records, &gone, &mut changes);
        drop((records, gone));
        drop(table);
        let state = State { dirs, files: files.into_iter().collect(), ..state };
        let (layout, mut layout_diagnostics) = match same_files {
            true => laid_out,
            false => Layout::from_files(state.files.keys()),
        };
        layout_diagnostics.extend(found.diagnostics);
        let cx = Context {
            system,
            options,
            kept,
            state,
            rehashed,
            layout: Arc::new(layout),
            layout_diagnostics,
            dirs: found.dirs,
            saved_ns,
            evaluating: tracing::Span::none(),
            store,
            graph: None,
            remote_failed: std::sync::OnceLock::new(),
            vouched: BTreeSet::new(),
            outputs_watched: false,
            checked: BTreeMap::new(),
            changes,
        };
        Ok(Session { db: None, cx, unsaved: false })
    }

    /// Takes in the files at `changed` (workspace paths), written, added or
    /// removed since the last build of this session, so that the next build
    /// evaluates only what they reach, from the memos the last one left
    /// ([`Options::warm`]). A file that appeared or went is a new walk of
    /// the workspace and a new layout, over which every package keeps its
    /// identity (see [`Package`]). `false`, changing nothing, when a warm
    /// session cannot take the change: other settings (the date moved on),
    /// or `floe.lock` (what it pins is read from the store by the database):
    /// a new session must be opened.
    pub fn refresh(&mut self, changed: &[WsPath], settings: &Settings) -> Result<bool, IoError> {
        if *settings != self.cx.options.settings || changed.iter().any(|p| p.as_str() == crate::lock::LOCK) {
            return Ok(false);
        }
        // What opening read may be older than the files now.
        self.release_kept();
        let mut fresh = Vec::new();
        let mut moved = false;
        for path in changed {
            let abs = self.cx.options.workspace.join(path.as_str());
            match (self.cx.state.files.get(path), self.cx.system.stat(&abs)?) {
                (Some(old), Some(stat)) if stat == old.stat => {}
                (Some(old), Some(stat)) => match self.cx.system.read(&abs)? {
                    Some(bytes) => fresh.push((path, stat, Hash::of(&bytes), old.raw)),
                    None => moved = true,
                },
                (None, None) => {}
                // Appeared, or went: the walk decides whether it is a file floe reads.
                _ => moved = true,
            }
        }
        // The store as a new session would find it: a store reads its index
        // once, so this one's lacks what the last build added (and what
        // other processes sharing it added or collected since).
        self.cx.store = Arc::new(self.cx.store.renewed()?);
        if moved {
            self.cx.vouched.clear();
            self.cx.checked.clear();
            self.relayout(changed)?;
            return Ok(true);
        }
        if !fresh.is_empty() {
            let state = &self.cx.state;
            let touched: BTreeSet<&WsPath> = fresh.iter().map(|(p, ..)| *p).collect();
            let untouched = |dir: &WsPath| {
                state.packages.get(dir).is_some_and(|r| !r.deps.iter().any(|(p, _)| touched.contains(p)))
            };
            self.cx.vouched.retain(|dir| untouched(dir));
            self.cx.checked.retain(|dir, _| untouched(dir));
        }
        for (path, stat, raw, old_raw) in fresh {
            if let Some(record) = self.cx.state.files.get_mut(path) {
                let normal = record.normal.filter(|_| raw == old_raw);
                *record = FileRecord { stat, raw, normal };
            }
            self.cx.changes.note_file(path);
            self.cx.rehashed = true;
            if raw == old_raw {
                continue;
            }
            if let (Some(db), Some(graph)) = (self.db.as_mut(), self.cx.graph.as_ref())
                && let Some(file) = graph.sources.get(path)
            {
                file.set_revision(db).to(raw);
            }
        }
        Ok(true)
    }

    /// Walks the workspace again (listings this session made are trusted as
    /// a new session would trust the ones it saved), hashes what is new or
    /// in `changed`, and sets the database's inputs to the new files and
    /// layout: a file kept keeps its input, a package its identity.
    fn relayout(&mut self, changed: &[WsPath]) -> Result<(), IoError> {
        let cx = &mut self.cx;
        let sys = &*cx.system;
        let trust_before = cx.saved_ns.saturating_sub(RACY_NS);
        let found = {
            let _span = tracing::info_span!("discover").entered();
            discover::discover(sys, &cx.options.workspace, &cx.dirs, trust_before, cx.options.jobs)?
        };
        let changed: BTreeSet<&WsPath> = changed.iter().collect();
        let (old, gone) = pair(cx.state.files.iter().map(|(p, r)| (p.as_str(), r)), &found.files);
        let mut raws = Vec::with_capacity(found.files.len());
        for ((path, stat), old) in found.files.iter().zip(&old) {
            raws.push(match old {
                Some(old) if old.stat == *stat && !changed.contains(path) => old.raw,
                _ => Hash::of(&sys.read(&cx.options.workspace.join(path.as_str()))?.unwrap_or_default()),
            });
        }
        let files = renew_records(found.files, &raws, &old, &gone, &mut cx.changes);
        drop((old, gone));
        drop(std::mem::take(&mut cx.state.files));
        cx.state.files = files.into_iter().collect();
        let (layout, mut diagnostics) = Layout::from_files(cx.state.files.keys());
        diagnostics.extend(found.diagnostics);
        cx.layout = Arc::new(layout);
        cx.layout_diagnostics = diagnostics;
        cx.dirs = found.dirs;
        cx.rehashed = true;
        if let (Some(db), Some(graph)) = (self.db.as_mut(), cx.graph.as_mut()) {
            let mut sources = BTreeMap::new();
            for (path, &FileRecord { raw, .. }) in &cx.state.files {
                let file = match graph.sources.get(path) {
                    Some(&file) => {
                        if file.revision(&*db) != raw {
                            file.set_revision(db).to(raw);
                        }
                        file
                    }
                    None => SourceFile::new(&*db, path.clone(), raw),
                };
                sources.insert(path.clone(), file);
            }
            graph.sources = Arc::new(sources);
            graph.workspace.set_files(db).to(graph.sources.clone());
            graph.workspace.set_layout(db).to(cx.layout.clone());
            let packages = graph.place(db, &cx.layout);
            graph.workspace.set_packages(db).to(packages);
        }
        Ok(())
    }

    /// Declares that the driver reports every change below the output
    /// directory ([`Session::outputs_changed`]), as a watch does: a warm
    /// build then takes the packages its last build reused, and that
    /// nothing reported since reaches, as they are, without statting their
    /// outputs' directories again.
    pub fn watch_outputs(&mut self, on: bool) {
        self.cx.outputs_watched = on;
        self.cx.vouched.clear();
    }

    /// Takes in changes below the output directory (paths relative to it):
    /// the packages whose outputs may lie there are looked at again.
    pub fn outputs_changed(&mut self, paths: &[WsPath]) {
        let cx = &mut self.cx;
        let state = &cx.state;
        cx.vouched.retain(|dir| {
            state.packages.get(dir).is_some_and(|r| {
                !paths.iter().any(|p| p.is_root() || r.dirs.iter().any(|(d, _)| p.starts_with(d) || d.starts_with(p)))
            })
        });
    }

    /// Keep the database from one build to the next (see [`Options::warm`]).
    pub fn set_warm(&mut self, on: bool) {
        self.cx.options.warm = on;
    }

    /// Stat every output of a reused package (see [`Options::check_outputs`]).
    pub fn set_check_outputs(&mut self, on: bool) {
        self.cx.options.check_outputs = on;
    }

    /// Tells `progress` how the evaluation goes (see [`Options::progress`]).
    pub fn set_progress(&mut self, progress: Arc<dyn Progress>) {
        self.cx.options.progress = Some(progress);
    }

    /// Sets up the database (once): one input per package file.
    pub fn ensure_db(&mut self) {
        if self.db.is_some() {
            return;
        }
        let cx = &mut self.cx;
        let mut db = Database::new(cx.system.clone(), cx.options.workspace.clone())
            .with_store(cx.store.clone())
            .with_kept(cx.kept.clone());
        let sources: BTreeMap<WsPath, SourceFile> =
            cx.state.files.iter().map(|(p, r)| (p.clone(), SourceFile::new(&db, p.clone(), r.raw))).collect();
        let sources = Arc::new(sources);
        let workspace =
            Workspace::new(&db, cx.layout.clone(), sources.clone(), cx.options.settings.clone(), Arc::new(Vec::new()));
        let mut graph = Graph { workspace, sources, packages: BTreeMap::new() };
        let packages = graph.place(&mut db, &cx.layout);
        workspace.set_packages(&mut db).to(packages);
        cx.graph = Some(graph);
        self.db = Some(db);
    }

    /// The database; [`Session::ensure_db`] must have set it up.
    pub fn db(&self) -> &Database {
        self.db.as_ref().expect("ensure_db sets the database up first")
    }

    pub fn package(&self, index: usize) -> Package {
        self.cx.package(self.db(), index)
    }

    /// The selected products' labels, their output ports as `floe.lock`
    /// pins them (by `//domain/product:port`), and the errors of the
    /// products that cannot be pinned (a product is pinned as it builds, or
    /// not at all).
    pub fn contract_pins(&mut self) -> ContractPins {
        let (selected, diagnostics) = self.select();
        let mut out = ContractPins { diagnostics, ..ContractPins::default() };
        if out.diagnostics.iter().any(Diagnostic::is_error) {
            return out;
        }
        self.ensure_db();
        let db = self.db();
        for sel in &selected {
            let info = &self.cx.layout.packages[sel.package];
            if info.kind != PackageKind::Product {
                continue;
            }
            let product = label::package_label(&info.dir);
            let eval = db::product(db, self.cx.package(db, sel.package));
            let spec = eval.spec.as_ref().and_then(|s| s.loaded.value.as_ref());
            match spec {
                Some(spec) if !eval.failed => {
                    for port in spec.output_ports.iter().flatten() {
                        let version = spec.metadata.version.clone();
                        let pin = crate::lock::PinnedContract { version, port: port.clone() };
                        out.pins.insert(format!("{product}:{}", port.name), pin);
                    }
                }
                _ => out.diagnostics.extend(eval.diagnostics.iter().filter(|d| d.is_error()).cloned()),
            }
            out.products.push(product);
        }
        diag::sort(&mut out.diagnostics);
        out
    }

    /// The labels of the products whose input ports read `port`
    /// (`//domain/product:port`), each with where it reads it.
    pub fn consumers_of(&mut self, port: &str) -> Vec<(String, String, floe_schemas::Span)> {
        self.ensure_db();
        let db = self.db();
        let ws = self.cx.graph().workspace;
        let Some((producer, name)) = port.rsplit_once(':') else { return Vec::new() };
        let mesh = crate::mesh::Mesh::of(db, ws);
        mesh.edges
            .iter()
            .filter(|e| e.producer == producer && e.port == name)
            .filter_map(|e| {
                let dir = WsPath::new(e.consumer.trim_start_matches("//"))?;
                let index = self.cx.layout.find(&dir)?;
                let (file, span) = db::input_port_at(db, self.cx.package(db, index), &e.input)?;
                Some((e.consumer.clone(), file, span))
            })
            .collect()
    }

    /// The mesh of the workspace's products, and the errors of the products
    /// and ports it leaves out.
    pub fn mesh(&mut self) -> (crate::mesh::Mesh, Vec<Diagnostic>) {
        self.ensure_db();
        let db = self.db();
        let ws = self.cx.graph().workspace;
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        for (index, info) in self.cx.layout.packages.iter().enumerate() {
            if info.kind == PackageKind::Product {
                let eval = db::product(db, self.cx.package(db, index));
                diagnostics.extend(eval.diagnostics.iter().filter(|d| d.is_error()).cloned());
            }
        }
        diag::sort(&mut diagnostics);
        (crate::mesh::Mesh::of(db, ws), diagnostics)
    }

    /// The derivation keys of the selected targets, without building or writing.
    pub fn keys(&mut self) -> Result<Report, IoError> {
        self.ensure_db();
        let (selected, mut diagnostics) = self.select();
        let mut derivations = Vec::new();
        if !diagnostics.iter().any(Diagnostic::is_error) {
            for sel in &selected {
                let (diags, statuses) = self.evaluate(sel)?;
                diagnostics.extend(diags);
                derivations.extend(statuses);
            }
        }
        self.release_kept();
        diag::sort(&mut diagnostics);
        Ok(Report { derivations, diagnostics, ..Report::default() })
    }

    /// Holds no file opening read, once the evaluation is over.
    fn release_kept(&mut self) {
        if let Some(kept) = self.cx.kept.take() {
            kept.clear();
        }
    }

    /// One package evaluated in the database: its diagnostics, and the keys of
    /// its selected targets (known keys read as reused, missing ones as failed).
    fn evaluate(&self, sel: &label::Selected) -> Result<(Vec<Diagnostic>, Vec<DerivationStatus>), IoError> {
        let dir = &self.layout.packages[sel.package].dir;
        let pkg = self.package(sel.package);
        let (diags, io_error) = db::evaluation(self.db(), pkg);
        if let Some(e) = io_error {
            return Err(e);
        }
        let drvs = db::derivations(self.db(), pkg);
        let statuses = sel
            .targets
            .iter()
            .map(|t| {
                let key = drvs.as_ref().and_then(|d| d.iter().find(|d| d.target == *t)).map(|d| d.key);
                known_key(dir, *t, key)
            })
            .collect();
        Ok((diags, statuses))
    }

    /// Validation and enforcement only, writing nothing. A package whose last
    /// build still holds is not evaluated again: its recorded warnings and its
    /// enforcement report (from the store) are the answer.
    pub fn check(&mut self) -> Result<Report, IoError> {
        let (selected, mut diagnostics) = self.select();
        let mut report = Report::default();
        if diagnostics.iter().any(Diagnostic::is_error) {
            diag::sort(&mut diagnostics);
            report.diagnostics = diagnostics;
            return Ok(report);
        }
        let mut pending = Vec::new();
        for sel in &selected {
            let info = &self.layout.packages[sel.package];
            if let Some(c) = self.cx.checked.get(&info.dir).filter(|c| c.targets == sel.targets) {
                c.add_to(&info.dir, &mut report, &mut diagnostics);
                continue;
            }
            let Ok(record) = self.cx.holding_record(None, sel) else {
                pending.push(sel);
                continue;
            };
            let cached = record.derivations.iter().find(|d| d.target == Target::Enforcement.name());
            let json = match cached {
                Some(d) => self.cx.stored_output(d.key, "enforcement.json")?,
                None => None,
            };
            if info.kind == PackageKind::Product && json.is_none() {
                pending.push(sel);
                continue;
            }
            let derivations: Vec<DerivationStatus> = sel
                .targets
                .iter()
                .map(|target| {
                    let key = record.derivations.iter().find(|d| d.target == target.name()).map(|d| d.key);
                    known_key(&info.dir, *target, key)
                })
                .collect();
            if self.cx.options.warm {
                let checked = Checked {
                    targets: sel.targets.clone(),
                    warnings: record.warnings.clone(),
                    derivations,
                    enforcement: json,
                };
                checked.add_to(&info.dir, &mut report, &mut diagnostics);
                self.cx.checked.insert(info.dir.clone(), checked);
            } else {
                diagnostics.extend(record.warnings.iter().cloned());
                report.derivations.extend(derivations);
                if let Some(json) = json {
                    report.enforcement.insert(label::package_label(&info.dir), json);
                }
            }
        }
        if !pending.is_empty() {
            self.ensure_db();
            for sel in pending {
                let (diags, statuses) = self.evaluate(sel)?;
                diagnostics.extend(diags);
                report.derivations.extend(statuses);
                let info = &self.layout.packages[sel.package];
                if info.kind == PackageKind::Product
                    && let Some(out) = &db::enforcement(self.db(), self.package(sel.package)).output
                {
                    let json = serde_json::to_value(&out.result).unwrap_or_default();
                    report.enforcement.insert(label::package_label(&info.dir), json);
                }
            }
        }
        self.release_kept();
        diagnostics.extend(self.layout_diagnostics.iter().cloned());
        diag::sort(&mut diagnostics);
        report.derivations.sort_by(|a, b| a.label.cmp(&b.label));
        report.diagnostics = diagnostics;
        Ok(report)
    }

    /// Builds the selected packages and saves the state.
    pub fn build(&mut self) -> Result<Report, IoError> {
        let (selected, mut diagnostics) = self.select();
        if diagnostics.iter().any(Diagnostic::is_error) {
            diag::sort(&mut diagnostics);
            return Ok(Report { diagnostics, ..Report::default() });
        }
        // Records are made anew: what checks said of them is not kept.
        self.cx.checked.clear();
        // First from the state alone; then, for what that could not settle, with
        // the database.
        let jobs = self.cx.options.jobs;
        let span = tracing::info_span!("evaluate", packages = selected.len());
        self.cx.evaluating = span.clone();
        let evaluating = span.entered();
        let cx = &self.cx;
        let first =
            crate::par::map(&selected, jobs, |sel| match cx.vouched.contains(&cx.layout.packages[sel.package].dir) {
                true => Ok(cx.reused_as_is(sel)),
                false => cx.reuse(None, sel),
            });
        let mut outcomes = Vec::with_capacity(selected.len());
        let mut pending = Vec::new();
        // What this build reuses as it was, in a warm session whose driver
        // reports changes to outputs: the next build need not look at it
        // again. A package built or restored is looked at once more, so
        // that its own writes need not have been reported.
        let watched = cx.options.warm && cx.outputs_watched && !cx.options.check_outputs;
        let mut vouched = BTreeSet::new();
        for (sel, result) in selected.iter().zip(first) {
            match result? {
                Reuse::Reused(outcome) => {
                    if watched && outcome.written == 0 && outcome.failed.is_none() {
                        vouched.insert(cx.layout.packages[sel.package].dir.clone());
                    }
                    outcomes.push(*outcome)
                }
                Reuse::Stale | Reuse::NeedsDb => pending.push(sel.clone()),
            }
        }
        // A session that is not kept warm evaluates in batches, each with a
        // database of its own, dropped before the next: the memos of a
        // cold build of 10,000 products would otherwise all be held at once.
        // What packages of different batches share (their platforms, a
        // producer's spec) is evaluated again, once per batch.
        let batch = match self.cx.options.warm {
            true => pending.len().max(1),
            false => EVALUATION_BATCH,
        };
        let (mut evaluated, mut later) = (0, pending.len());
        for batch in pending.chunks(batch) {
            later -= batch.len();
            let mut pending = batch.to_vec();
            self.ensure_db();
            let (db, cx) = (self.db(), &self.cx);
            let handles = || (0..jobs.max(1)).map(|_| db.clone()).collect();
            // With a remote to read from, what every package of the batch
            // lacks is asked for before any is built: the remote fetches
            // while the build goes on, rather than a round trip's wait per
            // package.
            if cx.options.remote.as_ref().is_some_and(|r| r.store.prefetches()) {
                let prefetched = crate::par::map_with(&pending, handles(), |db, sel| cx.prefetch(db, sel));
                let mut still = Vec::with_capacity(pending.len());
                for (sel, result) in pending.into_iter().zip(prefetched) {
                    match result? {
                        Reuse::Reused(outcome) => outcomes.push(*outcome),
                        Reuse::Stale | Reuse::NeedsDb => still.push(sel),
                    }
                }
                pending = still;
            }
            if let Some(p) = &cx.options.progress {
                p.evaluating(evaluated + pending.len() + later);
            }
            evaluated += pending.len();
            let built = crate::par::map_with(&pending, handles(), |db, sel| {
                let built = cx.build_package(db, sel);
                if let Some(p) = &cx.options.progress {
                    p.evaluated();
                }
                built
            });
            for (sel, outcome) in pending.iter().zip(built) {
                let outcome = outcome?;
                if watched && outcome.written == 0 && outcome.failed.is_none() {
                    vouched.insert(cx.layout.packages[sel.package].dir.clone());
                }
                outcomes.push(outcome);
            }
            // This batch is over: free its memoized values before the next
            // batch or the state is assembled, so that they never need
            // memory at the same time; unless the next build is to start
            // from them.
            if !self.cx.options.warm {
                self.db = None;
                self.cx.graph = None;
            }
        }
        self.cx.vouched = vouched;
        self.release_kept();
        // Closed here, not when the session goes (a driver may never drop it).
        self.cx.evaluating = tracing::Span::none();
        drop(evaluating);
        let mut report = Report::default();
        let mut new_records = BTreeMap::new();
        let mut learned_by_parsing = Vec::new();
        let mut failed = Vec::new();
        let mut changed = self.rehashed;
        // Made at its size: grown by doubling, 80,000 statuses at 10,000
        // products would be copied as the build's memory is highest.
        report.derivations.reserve_exact(outcomes.iter().map(|o| o.statuses.len()).sum());
        // Listed by label. Two labels of different packages compare as
        // their directories do, whatever their targets (a directory a label
        // can name holds no `:`), so each package's few statuses are sorted,
        // then the packages by their first, rather than all of them at once
        // (8,044 at 1,000 products, 2 % of a no-op). A package's labels
        // share its directory, so they compare as their targets' names.
        for outcome in &mut outcomes {
            debug_assert!(outcome.statuses.windows(2).all(|w| w[0].label.dir == w[1].label.dir));
            outcome.statuses.sort_unstable_by(|a, b| a.label.target.name().cmp(b.label.target.name()));
        }
        outcomes
            .sort_unstable_by(|a, b| a.statuses.first().map(|s| &s.label).cmp(&b.statuses.first().map(|s| &s.label)));
        for outcome in outcomes {
            report.derivations.extend(outcome.statuses);
            report.diagnostics.extend(outcome.diagnostics);
            report.written += outcome.written;
            changed |= outcome.written > 0 || outcome.record_changed || !outcome.learned.is_empty();
            learned_by_parsing.push(outcome.learned);
            if let Some((dir, record)) = outcome.record {
                new_records.insert(dir, record);
            }
            if let Some(dir) = outcome.failed {
                changed |= self.cx.state.packages.contains_key(&dir);
                failed.push(dir);
            }
        }
        // A package that is gone leaves nothing behind: a clean build would
        // not have its outputs either.
        for (dir, record) in &self.cx.state.packages {
            if self.layout.find(dir).is_none() {
                report.written += self.cx.remove_outputs(record.outputs.iter().map(|o| &o.path))?;
                changed = true;
            }
        }
        report.diagnostics.extend(self.layout_diagnostics.iter().cloned());
        diag::sort(&mut report.diagnostics);
        debug_assert!(report.derivations.is_sorted_by(|a, b| a.label <= b.label));
        report.warnings.extend(self.cx.remote_failed.get().cloned());

        let _span = tracing::info_span!("flush", state = changed).entered();
        // A warm session's driver flushes the store with the state, once
        // it has reported the build (`save`): the outputs are written.
        if !self.cx.options.warm {
            self.store.flush()?;
        }
        if changed {
            let mut state = std::mem::take(&mut self.cx.state);
            let mut changes = std::mem::take(&mut self.cx.changes);
            state.version = crate::store::STORE_VERSION;
            state.floe_version = self.options.settings.floe_version.clone();
            // Normalized hashes this build learned, never parsing a file just to
            // record one: a later build computes what it needs.
            let learned = learned_by_parsing.iter().map(Vec::as_slice);
            learn_normals(
                &mut state.files,
                learned.chain(new_records.values().map(|r| r.deps.as_slice())),
                &mut changes,
            );
            // Directory listings: only a walk changes them.
            if self.cx.dirs != state.dirs {
                let dirs = match self.cx.options.warm {
                    true => self.cx.dirs.clone(),
                    false => std::mem::take(&mut self.cx.dirs),
                };
                changed_keys(&state.dirs, &dirs, &mut changes.dirs);
                state.dirs = dirs;
            }
            state.packages.retain(|dir, _| {
                let kept = self.layout.find(dir).is_some() && !failed.contains(dir);
                if !kept {
                    changes.packages.insert(dir.clone());
                }
                kept
            });
            changes.packages.extend(new_records.keys().cloned());
            state.packages.extend(new_records);
            self.cx.changes = changes;
            // Kept: what the build left is what a driver publishes from.
            self.cx.state = state;
            self.cx.rehashed = false;
            self.unsaved = true;
            // A warm session's driver saves it once it has reported the build.
            if !self.cx.options.warm {
                self.save()?;
            }
        }
        Ok(report)
    }

    /// Saves the state the last build left, if it has not been: what the
    /// next session starts from. (Until then it is only a cache that lags:
    /// a session that finds an older state evaluates again what changed
    /// since, and outputs are never taken from a record that no longer
    /// holds.)
    pub fn save(&mut self) -> Result<(), IoError> {
        // What the state names must be in the store first.
        self.store.flush()?;
        if !std::mem::take(&mut self.unsaved) {
            return Ok(());
        }
        // Taken whether or not the save goes through: after one that fails,
        // the store writes the next state whole.
        let changes = std::mem::take(&mut self.cx.changes);
        let saved = self.store.save_state(&self.cx.state, changes.delta(&self.cx.state).as_ref())?;
        // As a new session would find it.
        self.cx.saved_ns = saved.mtime_ns;
        Ok(())
    }
}

impl Options {
    /// A build of everything in `workspace`, with its store and outputs where
    /// floe keeps them by default, on one thread.
    pub fn at(workspace: impl Into<PathBuf>, settings: Settings) -> Options {
        let workspace = workspace.into();
        Options {
            store: workspace.join(discover::STORE_DIR),
            out: workspace.join(discover::OUT_DIR),
            workspace,
            cwd: WsPath::ROOT,
            labels: vec!["//...".into()],
            settings,
            jobs: 1,
            remote: None,
            check_outputs: false,
            progress: None,
            warm: false,
        }
    }
}

impl Session {
    /// `floe clean LABELS`: removes the outputs the selected packages' last
    /// builds wrote, and the directories that leaves empty; returns how many
    /// files were there. Their records stay, so the next build restores the
    /// outputs from the store instead of evaluating again. A target label
    /// cleans its whole package: outputs are recorded by package.
    pub fn clean(&mut self) -> Result<(usize, Vec<Diagnostic>), IoError> {
        let (selected, diagnostics) = self.select();
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Ok((0, diagnostics));
        }
        let mut removed = 0;
        for sel in &selected {
            if let Some(record) = self.cx.state.packages.get(&self.layout.packages[sel.package].dir) {
                removed += self.cx.remove_outputs(record.outputs.iter().map(|o| &o.path))?;
            }
        }
        Ok((removed, diagnostics))
    }
}

impl Context {
    fn graph(&self) -> &Graph {
        self.graph.as_ref().expect("the database is set up before it is queried")
    }

    pub fn package(&self, db: &Database, index: usize) -> Package {
        db::packages(db, self.graph().workspace)[index]
    }

    /// Parses the labels and selects packages; problems are user errors.
    pub fn select(&self) -> (Vec<label::Selected>, Vec<Diagnostic>) {
        let mut diags = self.layout_diagnostics.clone();
        if self.layout.find(&WsPath::ROOT).is_none() {
            diags.push(
                Diagnostic::error(floe_schemas::Code::NoWorkspace, "the workspace root has no manifest.yaml")
                    .with_help("a workspace is the directory tree under a platform manifest.yaml"),
            );
            return (Vec::new(), diags);
        }
        let mut patterns = Vec::new();
        for text in &self.options.labels {
            match label::parse(text, &self.options.cwd) {
                Ok(p) => patterns.push((text.clone(), p)),
                Err(d) => diags.push(d),
            }
        }
        if self.options.labels.is_empty() {
            patterns.push(("//...".to_owned(), Pattern::Recursive { dir: WsPath::ROOT }));
        }
        let (selected, more) = label::select(&self.layout, &patterns);
        diags.extend(more);
        (selected, diags)
    }

    /// A cursor for [`Context::normal_of`] over the files' records, for
    /// paths asked in order.
    fn near(&self) -> Near<'_> {
        Near { files: Cursor::new(&self.state.files) }
    }

    /// The normalized hash of a file, from the last build when its bytes are
    /// unchanged, else by parsing it.
    fn normal_of(&self, db: Option<&Database>, path: &WsPath, near: &mut Near<'_>) -> Result<Option<Hash>, NeedsDb> {
        let Some(record) = near.files.get(path) else { return Ok(None) };
        if let Some(n) = record.normal {
            return Ok(Some(n));
        }
        // dbt sources and plugins are read as they are: their bytes are their value.
        let dir = path.parent().unwrap_or_default();
        let package_file =
            matches!(path.file_name(), crate::layout::MANIFEST | crate::layout::SPEC | crate::layout::DBT_PROJECT);
        if !package_file || crate::layout::in_model_dir(dir.as_str()) || crate::layout::is_plugin_dir(dir.as_str()) {
            return Ok(Some(record.raw));
        }
        let db = db.ok_or(NeedsDb)?;
        let Some(file) = self.graph().sources.get(path).copied() else { return Ok(None) };
        Ok(match path.file_name() {
            crate::layout::MANIFEST => db::parsed_manifest(db, file).normal,
            crate::layout::SPEC => db::parsed_spec(db, file).normal,
            crate::layout::DBT_PROJECT => db::dbt_project(db, file).normal,
            _ => None,
        })
    }

    /// The files a package's derivations are decided by.
    fn deps_of(&self, db: &Database, pkg: Package) -> Vec<WsPath> {
        let index = pkg.index(db);
        let info = &self.layout.packages[index];
        let mut deps: BTreeSet<WsPath> =
            self.layout.chain(index).iter().map(|i| self.layout.packages[*i].file()).collect();
        if info.kind == PackageKind::Product {
            deps.insert(info.file());
            if info.has_dbt_project {
                deps.insert(info.dir.join(crate::layout::DBT_PROJECT).expect("joins"));
            }
            deps.extend(info.models.iter().cloned());
            if info.has_contract {
                deps.insert(info.dir.join(crate::layout::CONTRACT).expect("joins"));
            }
            // Its ports are judged against those floe.lock pins.
            let lock = WsPath::new(crate::lock::LOCK).expect("a plain name");
            if self.state.files.contains_key(&lock) {
                deps.insert(lock);
            }
            // Ports named by a contract's id read the workspace's contracts
            // of products outside it.
            let by_urn = db::product(db, pkg).spec.as_ref().and_then(|s| s.loaded.value.as_ref()).is_some_and(|s| {
                s.input_ports.iter().flatten().any(|p| floe_rules::contracts::external::is_urn(&p.from))
            });
            if by_urn {
                deps.extend(self.layout.contracts.iter().cloned());
            }
            // Every product upstream: ports are checked against direct
            // producers, and a cycle through this product runs through any;
            // and their platforms, whose domain decides whether they may
            // offer ports at all (`approved_products`).
            let mut todo: Vec<Package> = db::product(db, pkg).producers.values().copied().collect();
            while let Some(producer) = todo.pop() {
                let at = producer.index(db);
                if deps.insert(self.layout.packages[at].file()) {
                    deps.extend(self.layout.chain(at).iter().map(|i| self.layout.packages[*i].file()));
                    todo.extend(db::product(db, producer).producers.values().copied());
                }
            }
        }
        // A root names its products' namespaces by their domain labels.
        if info.kind == PackageKind::Root {
            deps.extend(self.layout.children(index).filter(|p| p.kind == PackageKind::Product).map(|p| p.file()));
        }
        // The out-of-tree plugins its platform runs for it.
        let platform = match info.kind {
            PackageKind::Product => info.parent.map(|p| self.package(db, p)),
            PackageKind::Root | PackageKind::Domain => Some(pkg),
        };
        if let Some(platform) = platform
            && let Some(r) = db::platform(db, platform).resolved.as_ref()
        {
            deps.extend(
                crate::external::selected(db, pkg.workspace(db), &r.merged)
                    .into_iter()
                    .map(|(_, f)| f.path(db).clone()),
            );
        }
        deps.into_iter().collect()
    }

    fn structure(&self, index: usize) -> Hash {
        let info = &self.layout.packages[index];
        let mut c = crate::hash::Canonical::new("floe.structure.v1");
        c.u64(info.kind as u64).u64(u64::from(info.has_dbt_project)).u64(u64::from(info.has_contract));
        for i in self.layout.chain(index) {
            c.str(self.layout.packages[i].dir.as_str());
        }
        // A platform is checked for what the products below it need, and
        // lays out the directories of its products and domains.
        for p in self.layout.children(index) {
            c.u64(p.kind as u64).str(p.dir.as_str());
        }
        // A contract of a product outside the workspace that appears or goes
        // changes what a port naming it resolves to.
        if info.kind == PackageKind::Product {
            c.u64(u64::from(self.state.files.contains_key(crate::lock::LOCK)));
            c.u64(self.layout.contracts.len() as u64);
            for f in &self.layout.contracts {
                c.str(f.as_str());
            }
        }
        // A model file that appears or goes changes what the product is checked against.
        c.u64(info.models.len() as u64);
        for m in &info.models {
            c.str(m.as_str());
        }
        c.finish()
    }

    fn build_package(&self, db: &Database, sel: &label::Selected) -> Result<PackageOutcome, IoError> {
        let info = &self.layout.packages[sel.package];
        if let Reuse::Reused(outcome) = self.reuse(Some(db), sel)? {
            return Ok(*outcome);
        }
        let span = tracing::info_span!(parent: &self.evaluating, "package", label = %label::package_label(&info.dir));
        let _entered = span.enter();
        let pkg = self.package(db, sel.package);
        let store = &self.store;
        let (diagnostics, io_error) = db::evaluation(db, pkg);
        if let Some(e) = io_error {
            return Err(e);
        }
        let mut outcome = PackageOutcome { diagnostics, failed: Some(info.dir.clone()), ..PackageOutcome::default() };
        let Some(drvs) = db::derivations(db, pkg) else {
            if let Some(previous) = self.state.packages.get(&info.dir)
                && Target::for_kind(info.kind).iter().all(|t| sel.targets.contains(t))
            {
                outcome.written += self.remove_outputs(previous.outputs.iter().map(|o| &o.path))?;
            }
            outcome.statuses = sel
                .targets
                .iter()
                .map(|t| DerivationStatus {
                    label: label::TargetLabel::new(info.dir.clone(), *t),
                    rule: t.rule(),
                    key: None,
                    status: Status::Failed,
                })
                .collect();
            return Ok(outcome);
        };
        let mut derivation_records = Vec::new();
        let mut produced: Vec<(WsPath, Vec<u8>)> = Vec::new();
        // What the remote is offered as one package, when it is written to.
        let mut bundle: Vec<(ActionEntry, usize)> = Vec::new();
        let bundling = self.options.remote.as_ref().is_some_and(|r| r.write);
        let mut failed = false;
        // Outputs of targets another target of the package reads.
        let mut read = db::Read::default();
        let selected: Vec<&Derivation> = drvs.iter().filter(|d| sel.targets.contains(&d.target)).collect();
        let earlier: Vec<Option<ActionEntry>> =
            selected.iter().map(|d| store.get_earlier_action(d.key)).collect::<Result<_, _>>()?;
        for (drv, earlier) in selected.into_iter().zip(earlier) {
            let label = label::TargetLabel::new(info.dir.clone(), drv.target);
            let span =
                tracing::info_span!("derivation", label = %label, key = %drv.key, status = tracing::field::Empty);
            let _entered = span.enter();
            let failed_status = |label| {
                span.record("status", tracing::field::display(Status::Failed.as_str()));
                DerivationStatus { label, rule: drv.rule, key: Some(drv.key), status: Status::Failed }
            };
            // A target whose input failed fails with it; its error is said once.
            if drv.target.reads().iter().any(|t| !read.outputs.contains_key(t)) {
                outcome.statuses.push(failed_status(label));
                continue;
            }
            let names = &drv.outputs;
            let mut cached = Vec::with_capacity(names.len());
            if let Some(action) = &earlier {
                for name in names {
                    let Some(h) = action.outputs.get(name) else { break };
                    let Some(bytes) = store.get_object(*h)? else { break };
                    cached.push(bytes);
                }
            }
            // Each arm's entry too: what the package is offered to the remote with.
            let (files, status, entry) = if let Some(entry) = earlier.filter(|_| cached.len() == names.len()) {
                (cached, Status::Reused, entry)
            } else if let Some((entry, files)) = self.fetch(drv.key, names) {
                for bytes in &files {
                    store.put_object(bytes)?;
                }
                self.store_inputs(db, pkg, drv)?;
                store.put_action(&entry)?;
                (files, Status::Fetched, entry)
            } else {
                match db::output(db, pkg, drv, &read) {
                    Ok(files) => {
                        let mut outputs = BTreeMap::new();
                        for (name, bytes) in names.iter().zip(&files) {
                            outputs.insert(name.clone(), store.put_object(bytes)?);
                        }
                        self.store_inputs(db, pkg, drv)?;
                        let entry = ActionEntry { drv: drv.record(), label: label.to_string(), outputs };
                        store.put_action(&entry)?;
                        self.upload(&entry, &files);
                        (files.iter().map(|b| b.to_vec()).collect(), Status::Built, entry)
                    }
                    Err(db::OutputError::Io(e)) => return Err(e),
                    Err(db::OutputError::Diagnostics(diags)) => {
                        outcome.diagnostics.extend(diags.iter().cloned());
                        failed = true;
                        outcome.statuses.push(failed_status(label));
                        continue;
                    }
                }
            };
            if bundling {
                bundle.push((entry, produced.len()));
            }
            if drv.target.is_read() {
                read.outputs.insert(drv.target, files.clone());
            }
            span.record("status", tracing::field::display(status.as_str()));
            outcome.statuses.push(DerivationStatus { label, rule: drv.rule, key: Some(drv.key), status });
            derivation_records.push(DerivationRecord { target: drv.target.name().into(), key: drv.key });
            for (name, bytes) in names.iter().zip(files) {
                produced.push((info.dir.join(name).expect("joins"), bytes));
            }
        }
        if bundling && !failed {
            self.upload_package(&bundle, &produced);
        }
        let previous = self.state.packages.get(&info.dir);
        // Outputs are removed only when every target of the package was
        // asked for: building one target leaves the others as they are.
        let whole = Target::for_kind(info.kind).iter().all(|t| sel.targets.contains(t));
        if failed || outcome.diagnostics.iter().any(Diagnostic::is_error) {
            // A package that fails has no outputs, as in a clean build: none
            // of the last build's is left to pass for current.
            if let Some(previous) = previous.filter(|_| whole) {
                outcome.written += self.remove_outputs(previous.outputs.iter().map(|o| &o.path))?;
            }
            return Ok(outcome);
        }
        produced.push((info.dir.join(DRV_FILE).expect("joins"), drv_record(&info.dir, &drvs)));
        let writing = tracing::info_span!("write").entered();
        let (outputs, written) = self.materialize(produced, previous)?;
        let mut written = written;
        if let Some(previous) = previous.filter(|_| whole) {
            // Files the last build wrote that this one does not (an
            // orchestrator's files when it changes).
            let stale = previous.outputs.iter().map(|o| &o.path).filter(|p| !outputs.iter().any(|o| &o.path == *p));
            written += self.remove_outputs(stale)?;
        }
        outcome.written = written;
        let dirs = self.output_dirs(&outputs)?;
        drop(writing);
        let mut near = self.near();
        let deps = self
            .deps_of(db, pkg)
            .into_iter()
            .map(|p| {
                let n = self.normal_of(Some(db), &p, &mut near).ok().flatten().unwrap_or_default();
                (p, n)
            })
            .collect();
        let record = PackageRecord {
            deps,
            structure: self.structure(sel.package),
            derivations: derivation_records,
            outputs,
            dirs,
            warnings: outcome.diagnostics.clone(),
            date: db::reads_date(db, pkg).then(|| self.options.settings.today.clone()),
            settings: self.options.settings.hash(),
        };
        outcome.record_changed = previous != Some(&record);
        outcome.failed = None;
        outcome.record = Some((info.dir.clone(), record));
        Ok(outcome)
    }

    /// Whether a package evaluated now is reused after all; if not, the
    /// remote is told which of its selected derivations the store has no
    /// entry for, to fetch them while the build goes on.
    fn prefetch(&self, db: &Database, sel: &label::Selected) -> Result<Reuse, IoError> {
        if let reused @ Reuse::Reused(_) = self.reuse(Some(db), sel)? {
            return Ok(reused);
        }
        let (Some(remote), Some(drvs)) = (&self.options.remote, db::derivations(db, self.package(db, sel.package)))
        else {
            return Ok(Reuse::Stale);
        };
        let mut keys = Vec::new();
        for drv in drvs.iter().filter(|d| sel.targets.contains(&d.target)) {
            if self.store.get_earlier_action(drv.key)?.is_none() {
                keys.push(drv.key);
            }
        }
        if !keys.is_empty() {
            remote.store.prefetch(&keys);
        }
        Ok(Reuse::Stale)
    }

    /// The derivation `key` from the remote store, verified; `None` when there
    /// is none, it does not have it, or it failed (said once, then not asked again).
    fn fetch(&self, key: Hash, names: &[String]) -> Option<(ActionEntry, Vec<Vec<u8>>)> {
        let remote = self.options.remote.as_ref()?;
        if self.remote_failed.get().is_some() {
            return None;
        }
        match crate::remote::fetch(remote.store.as_ref(), key, names) {
            crate::remote::Fetched::Hit(entry, files) => Some((entry, files)),
            crate::remote::Fetched::Miss => None,
            crate::remote::Fetched::Failed(why) => {
                self.remote_failure(remote, why);
                None
            }
        }
    }

    /// Uploads a derivation built here, when the remote store is written to.
    fn upload(&self, entry: &ActionEntry, files: &[Arc<Vec<u8>>]) {
        let Some(remote) = self.options.remote.as_ref().filter(|r| r.write) else { return };
        if self.remote_failed.get().is_some() {
            return;
        }
        let files: Vec<&[u8]> = files.iter().map(|f| f.as_slice()).collect();
        if let Err(e) = crate::remote::upload(remote.store.as_ref(), entry, &files) {
            self.remote_failure(remote, e.0);
        }
    }

    /// Offers a package's derivations to the remote as one: `bundle` holds
    /// each entry with where its outputs start in `produced`.
    fn upload_package(&self, bundle: &[(ActionEntry, usize)], produced: &[(WsPath, Vec<u8>)]) {
        let Some(remote) = self.options.remote.as_ref().filter(|r| r.write) else { return };
        if self.remote_failed.get().is_some() || bundle.is_empty() {
            return;
        }
        let derivations: Vec<crate::remote::Bundled<'_>> = bundle
            .iter()
            .map(|(entry, start)| crate::remote::Bundled {
                key: entry.key(),
                entry: serde_json::to_vec(entry).expect("action entries serialize"),
                objects: entry
                    .drv
                    .outputs
                    .iter()
                    .zip(&produced[*start..])
                    .map(|(name, (_, bytes))| (entry.outputs[name], bytes.as_slice()))
                    .collect(),
            })
            .collect();
        if let Err(e) = remote.store.put_package(&derivations) {
            self.remote_failure(remote, e.0);
        }
    }

    fn remote_failure(&self, remote: &crate::remote::Remote, why: String) {
        let _ = self.remote_failed.set(format!(
            "the remote cache {} failed ({why}); derivations it would have served are built here",
            remote.store.describe()
        ));
    }

    /// One output file of a stored derivation, as JSON.
    fn stored_output(&self, key: Hash, name: &str) -> Result<Option<serde_json::Value>, IoError> {
        let Some(action) = self.store.get_action(key)? else { return Ok(None) };
        let Some(hash) = action.outputs.get(name) else { return Ok(None) };
        Ok(self.store.get_object(*hash)?.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Stores the normalized inputs a derivation was keyed on, so that a later
    /// `floe why` can say what changed inside them.
    fn store_inputs(&self, db: &Database, pkg: Package, drv: &Derivation) -> Result<(), IoError> {
        let secrets = db::secret_values(db, pkg);
        for (name, hash, value) in drv.input.parts() {
            // A platform's view is a part of all its products' inputs: stored once.
            if self.store.has_object(hash)? {
                continue;
            }
            let bytes = crate::hash::canonical_json(value);
            // An input holding a value secret scanning found is not kept:
            // `floe why` then says less, and the store holds no secret.
            if secrets.iter().any(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes())) {
                continue;
            }
            debug_assert_eq!(Hash::of(&bytes), hash, "input `{name}` of {}", drv.rule);
            self.store.put_object(&bytes)?;
        }
        Ok(())
    }

    /// The last build's record of a package, when it still holds: made under
    /// these settings (and on this date, if it read one), and nothing it read
    /// changed.
    fn holding_record(&self, db: Option<&Database>, sel: &label::Selected) -> Result<&PackageRecord, Reuse> {
        let info = &self.layout.packages[sel.package];
        let Some(record) = self.state.packages.get(&info.dir) else { return Err(Reuse::Stale) };
        if record.structure != self.structure(sel.package) {
            return Err(Reuse::Stale);
        }
        if !sel.targets.iter().all(|t| record.derivations.iter().any(|d| d.target == t.name())) {
            return Err(Reuse::Stale);
        }
        // A record made under other settings (`SOURCE_DATE_EPOCH`, the floe
        // version) does not hold; it is kept until replaced, for the outputs
        // it lists. One that read the date (an expiring override) holds on
        // that date only.
        if record.settings != self.options.settings.hash()
            || record.date.as_ref().is_some_and(|d| *d != self.options.settings.today)
        {
            return Err(Reuse::Stale);
        }
        let mut near = self.near();
        for (path, normal) in &record.deps {
            match self.normal_of(db, path, &mut near) {
                Ok(n) if n == Some(*normal) => {}
                Ok(_) => return Err(Reuse::Stale),
                Err(NeedsDb) => return Err(Reuse::NeedsDb),
            }
        }
        // Same values, but a file was edited (a comment, say): recorded warnings
        // would point at old lines. Evaluate again; the keys will match.
        if !record.warnings.is_empty() && record.deps.iter().any(|(p, _)| self.normal_unknown(p)) {
            return Err(Reuse::Stale);
        }
        Ok(record)
    }

    /// Whether a file's bytes are not those the state knows the
    /// normalized value of (edited, or new).
    fn normal_unknown(&self, path: &WsPath) -> bool {
        self.state.files.get(path).is_none_or(|r| r.normal.is_none())
    }

    fn reuse(&self, db: Option<&Database>, sel: &label::Selected) -> Result<Reuse, IoError> {
        let info = &self.layout.packages[sel.package];
        let record = match self.holding_record(db, sel) {
            Ok(r) => r,
            Err(reuse) => return Ok(reuse),
        };
        // An output added, removed or replaced (floe writes them read-only,
        // so an edit is a replacement) moves the mtime of its directory: only
        // the outputs of directories whose stat moved, or is too recent to
        // vouch for them, are stat'ed, and compared with the stat floe left
        // them with (size, mtime, inode). With `check_outputs`, all are, so
        // that an output made writable and edited in place shows too. (A
        // file with another stat is never read: it may be a link or a FIFO
        // someone put there.) Such an output is restored from the store or,
        // when the store lost it, rebuilt.
        let mut moved = BTreeSet::new();
        for (dir, stat) in &record.dirs {
            let now = self.system.dir_stat(&self.options.out.join(dir.as_str()))?;
            if stat.is_none_or(|s| now != Some(s) || !vouches(s.mtime_ns, self.saved_ns)) {
                moved.insert(dir);
            }
        }
        // The record lists the directory of every output (`output_dirs`): on
        // a no-op build, no output is looked at at all.
        let mut to_restore = Vec::new();
        for (i, out) in record.outputs.iter().enumerate() {
            let looked_at = self.options.check_outputs
                || (!moved.is_empty() && moved.contains(&out.path.parent().unwrap_or(WsPath::ROOT)));
            if !looked_at {
                continue;
            }
            if self.system.stat(&self.options.out.join(out.path.as_str()))? == Some(out.stat) {
                continue;
            }
            let bytes = if out.path.file_name() == DRV_FILE { None } else { self.store.get_object(out.hash)? };
            let Some(bytes) = bytes else { return Ok(Reuse::Stale) };
            to_restore.push((i, bytes));
        }
        // Written only once every one can be: a package that must be
        // evaluated again is not half restored first.
        let written = to_restore.len();
        let files: Vec<(&str, &[u8])> =
            to_restore.iter().map(|(i, bytes)| (record.outputs[*i].path.as_str(), bytes.as_slice())).collect();
        let stats = self.system.write_outputs(&self.options.out, &files)?;
        let restored: Vec<(usize, FileStat)> = to_restore.iter().map(|(i, _)| *i).zip(stats).collect();
        let statuses = self.reused_statuses(sel, record);
        // The record stands as it is unless an output's stat changed, or a
        // directory's did (vouched for now, it need not be looked into again).
        let diagnostics = record.warnings.clone();
        let learned = match db {
            Some(_) => record.deps.iter().filter(|(p, _)| self.normal_unknown(p)).cloned().collect(),
            None => Vec::new(),
        };
        let record = match restored.is_empty() && moved.is_empty() {
            true => None,
            false => {
                let mut r = record.clone();
                for (i, stat) in restored {
                    r.outputs[i].stat = stat;
                }
                r.dirs = self.output_dirs(&r.outputs)?;
                Some((info.dir.clone(), r))
            }
        };
        Ok(Reuse::Reused(Box::new(PackageOutcome {
            statuses,
            diagnostics,
            written,
            record_changed: record.is_some(),
            record,
            failed: None,
            learned,
        })))
    }

    /// The selected targets of a package reused from `record`.
    fn reused_statuses(&self, sel: &label::Selected, record: &PackageRecord) -> Vec<DerivationStatus> {
        let info = &self.layout.packages[sel.package];
        record
            .derivations
            .iter()
            .filter_map(|d| {
                let target = Target::parse(info.kind, &d.target)?;
                if !sel.targets.contains(&target) {
                    return None;
                }
                let label = label::TargetLabel::new(info.dir.clone(), target);
                tracing::debug!(name: "derivation", parent: &self.evaluating, label = %label, key = %d.key, status = %Status::Reused.as_str());
                Some(DerivationStatus { label, rule: target.rule(), key: Some(d.key), status: Status::Reused })
            })
            .collect()
    }

    /// A package the last build of this warm session reused as it was, and
    /// that nothing reported since reaches (see `Context::vouched`).
    fn reused_as_is(&self, sel: &label::Selected) -> Reuse {
        let Some(record) = self.state.packages.get(&self.layout.packages[sel.package].dir) else {
            return Reuse::Stale;
        };
        Reuse::Reused(Box::new(PackageOutcome {
            statuses: self.reused_statuses(sel, record),
            diagnostics: record.warnings.clone(),
            written: 0,
            record: None,
            record_changed: false,
            failed: None,
            learned: Vec::new(),
        }))
    }

    /// Removes output files floe wrote (paths under `floe-out/`), and the
    /// directories that leaves empty; returns how many files were there.
    fn remove_outputs<'p>(&self, paths: impl Iterator<Item = &'p WsPath>) -> Result<usize, IoError> {
        let mut removed = 0;
        let mut dirs = BTreeSet::new();
        for path in paths {
            if self.system.stat(&self.options.out.join(path.as_str()))?.is_some() {
                removed += 1;
            }
            self.system.remove_below(&self.options.out, path.as_str())?;
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| *d != WsPath::ROOT) {
                dir = d.parent();
                dirs.insert(d);
            }
        }
        // Deepest first, so a parent is looked at after its children.
        for dir in dirs.iter().rev() {
            let abs = self.options.out.join(dir.as_str());
            if self.system.dir_mtime(&abs)?.is_some() && self.system.list_dir(&abs)?.is_empty() {
                self.system.remove_below(&self.options.out, dir.as_str())?;
            }
        }
        Ok(removed)
    }

    /// The directories that hold `outputs`, with their stats now (once
    /// every output of the package is written).
    fn output_dirs(&self, outputs: &[OutputRecord]) -> Result<Vec<(WsPath, Option<DirStat>)>, IoError> {
        let dirs: BTreeSet<WsPath> = outputs.iter().map(|o| o.path.parent().unwrap_or(WsPath::ROOT)).collect();
        let mut out = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let stat = self.system.dir_stat(&self.options.out.join(dir.as_str()))?;
            out.push((dir, stat));
        }
        Ok(out)
    }

    /// Writes outputs whose content differs from what is on disk.
    fn materialize(
        &self,
        produced: Vec<(WsPath, Vec<u8>)>,
        previous: Option<&PackageRecord>,
    ) -> Result<(Vec<OutputRecord>, usize), IoError> {
        let mut records = Vec::with_capacity(produced.len());
        let mut to_write = Vec::new();
        for (i, (path, bytes)) in produced.iter().enumerate() {
            let hash = Hash::of(bytes);
            // Only a file recorded with these bytes can be left as it is:
            // any other is written, and the write says what it left.
            let same = previous.and_then(|p| p.outputs.iter().find(|o| o.path == *path)).filter(|o| o.hash == hash);
            let unchanged = match same {
                Some(o) => self.system.stat(&self.options.out.join(path.as_str()))? == Some(o.stat),
                None => false,
            };
            if !unchanged {
                to_write.push(i);
            }
            let stat = same.filter(|_| unchanged).map_or_else(FileStat::default, |o| o.stat);
            records.push(OutputRecord { path: path.clone(), hash, stat });
        }
        // One call, so that the outputs' shared directories are opened once.
        let files: Vec<(&str, &[u8])> =
            to_write.iter().map(|&i| (produced[i].0.as_str(), produced[i].1.as_slice())).collect();
        let stats = self.system.write_outputs(&self.options.out, &files)?;
        for (&i, stat) in to_write.iter().zip(stats) {
            records[i].stat = stat;
        }
        Ok((records, to_write.len()))
    }
}

/// A target whose key is known without building it: reused when known, failed when not.
fn known_key(dir: &WsPath, target: Target, key: Option<Hash>) -> DerivationStatus {
    DerivationStatus {
        label: label::TargetLabel::new(dir.clone(), target),
        rule: target.rule(),
        key,
        status: if key.is_some() { Status::Reused } else { Status::Failed },
    }
}

/// A file's normalized value is not known without parsing it.
struct NeedsDb;

/// Where the last of a package's dependencies was found (see [`Context::near`]).
struct Near<'a> {
    files: Cursor<'a, FileRecord>,
}

#[derive(Default)]
struct PackageOutcome {
    statuses: Vec<DerivationStatus>,
    diagnostics: Vec<Diagnostic>,
    written: usize,
    record: Option<(WsPath, PackageRecord)>,
    record_changed: bool,
    /// A package that failed: its old record no longer describes it.
    failed: Option<WsPath>,
    /// Normalized hashes of files whose bytes changed, found by parsing
    /// them to see that the record still holds: kept, so that the next
    /// build need not parse them again.
    learned: Vec<(WsPath, Hash)>,
}

/// `floe.drv.json`: a package's derivations, each its record and the key
/// that record hashes to.
fn drv_record(dir: &WsPath, drvs: &[Derivation]) -> Vec<u8> {
    let derivations: Vec<serde_json::Value> = drvs
        .iter()
        .map(|d| {
            serde_json::json!({
                "target": label::target_label(dir, d.target),
                "key": d.key,
                "drv": d.record().to_value(),
            })
        })
        .collect();
    floe_rules::emit::json(&serde_json::json!({
        "package": label::package_label(dir),
        "derivations": derivations,
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::system::MemorySystem;

    const ROOT: &str = "apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: acme, version: 1.0.0, owner: p@acme.io}
scope: enterprise
plugins:
  compute: {type: duckdb, config: {threads: 4}}
  orchestrator: {type: dagster}
";

    #[test]
    fn a_first_build_makes_its_file_records_in_bulk_and_the_state_whole() {
        let stat = FileStat { size: 1, mtime_ns: 0, inode: 1 };
        let found = (0..20_000).map(|i| (WsPath::new(&format!("p{i:05}")).unwrap(), stat, Hash::of(&[1])));
        let mut changes = Changes::default();
        let records = renewed(&BTreeMap::new(), found, &mut changes);
        let record = FileRecord { stat, raw: Hash::of(&[1]), normal: None };
        assert_eq!(records.len(), 20_000);
        assert!(records.values().all(|r| *r == record));
        assert!(changes.whole && changes.files.is_empty());
    }

    /// `records` renewed as a build renews them (see [`Session::open`]).
    fn renewed(records: &Files, found: impl Iterator<Item = (WsPath, FileStat, Hash)>, changes: &mut Changes) -> Files {
        let (found, raws): (Vec<_>, Vec<_>) = found.map(|(path, stat, raw)| ((path, stat), raw)).unzip();
        let (old, gone) = pair(records.iter().map(|(p, r)| (p.as_str(), r)), &found);
        renew_records(found, &raws, &old, &gone, changes).into_iter().collect()
    }

    fn path(p: &str) -> WsPath {
        WsPath::new(p).unwrap()
    }

    fn paths(ps: &[&str]) -> BTreeSet<WsPath> {
        ps.iter().map(|p| path(p)).collect()
    }

    #[test]
    fn file_records_are_renewed_as_a_map_made_anew_would_be() {
        let stat = |n: u64| FileStat { size: n, mtime_ns: 0, inode: n };
        let h = |s: &str| Hash::of(s.as_bytes());
        let record =
            |n: u64, raw: &str, normal: Option<&str>| FileRecord { stat: stat(n), raw: h(raw), normal: normal.map(h) };
        // b is gone, c's bytes changed, e's normalized hash was learned;
        // a, d and f are new: before, between and after what was there.
        let mut records: Files = [
            ("b", record(1, "b", Some("B"))),
            ("c", record(2, "c", Some("C"))),
            ("e", record(3, "e", None)),
            ("g", record(4, "g", Some("G"))),
        ]
        .into_iter()
        .map(|(p, r)| (path(p), r))
        .collect();
        let found = [
            ("a", 10, "a"),
            ("c", 12, "c2"),
            ("d", 13, "d"),
            ("e", 3, "e"),
            ("f", 15, "f"),
            ("g", 4, "g"),
            ("h", 16, "h"),
        ];
        let found = || found.iter().map(|&(p, n, raw)| (path(p), stat(n), h(raw)));
        let (d, e) = (path("d"), path("e"));
        // Learned by two packages, one path by both.
        let lists = [vec![(d.clone(), h("D"))], vec![(d.clone(), h("D")), (e.clone(), h("E"))]];
        let learned = || lists.iter().map(Vec::as_slice);
        let mut changes = Changes::default();
        records = renewed(&records, found(), &mut changes);
        assert_eq!(changes.files, paths(&["a", "b", "c", "d", "f", "h"]));
        learn_normals(&mut records, learned(), &mut changes);
        assert_eq!(changes.files, paths(&["a", "b", "c", "d", "e", "f", "h"]));
        let expected: Files = [
            ("a", record(10, "a", None)),
            ("c", record(12, "c2", None)),
            ("d", record(13, "d", Some("D"))),
            ("e", record(3, "e", Some("E"))),
            ("f", record(15, "f", None)),
            ("g", record(4, "g", Some("G"))),
            ("h", record(16, "h", None)),
        ]
        .into_iter()
        .map(|(p, r)| (path(p), r))
        .collect();
        assert_eq!(records, expected);
        // A first build's: what it learned, and nothing of before.
        let mut changes = Changes::default();
        let mut first = renewed(&Files::new(), found(), &mut changes);
        learn_normals(&mut first, learned(), &mut changes);
        let g = expected.get("g").map(|r| FileRecord { normal: None, ..*r });
        let first_expected: Files =
            expected.into_iter().map(|(p, r)| if p.as_str() == "g" { (p, g.unwrap()) } else { (p, r) }).collect();
        assert_eq!(first, first_expected);
        assert!(changes.whole && changes.files.is_empty());
    }

    #[test]
    fn a_few_learned_hashes_are_looked_up_as_many_are_merged() {
        let h = |s: &str| Hash::of(s.as_bytes());
        let stat = FileStat { size: 1, mtime_ns: 0, inode: 1 };
        let known = path("p10");
        let records = |n: usize| -> Files {
            (0..n)
                .map(|i| {
                    let p = path(&format!("p{i:02}"));
                    let normal = (p == known).then(|| h("known"));
                    (p, FileRecord { stat, raw: h("raw"), normal })
                })
                .collect()
        };
        // One names a file the workspace no longer has; one a file whose
        // hash is known.
        let lists = [vec![(path("p03"), h("3")), (known.clone(), h("other"))], vec![(path("q"), h("q"))]];
        let learn = |records: &mut Files| {
            let mut changes = Changes::default();
            learn_normals(records, lists.iter().map(Vec::as_slice), &mut changes);
            changes.files
        };
        // Three pairs among 64 records are looked up; among 16, merged.
        let (mut many, mut few) = (records(64), records(16));
        let (by_lookup, by_merge) = (learn(&mut many), learn(&mut few));
        assert_eq!(by_lookup, paths(&["p03"]));
        assert_eq!(by_merge, by_lookup);
        assert_eq!(many[&path("p03")].normal, Some(h("3")));
        assert_eq!(many[&known].normal, Some(h("known")));
        assert!(!many.contains_key(&path("q")));
        assert_eq!(many.values().filter(|r| r.normal.is_some()).count(), 2);
        assert!(few.iter().all(|(p, r)| many.get(p) == Some(r)));
    }

    fn product(name: &str) -> String {
        format!(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {{name: {name}, version: 1.0.0}}\ntransforms:\n  - {{name: stg_a}}\n"
        )
    }

    fn workspace() -> Arc<MemorySystem> {
        let sys = Arc::new(MemorySystem::new());
        sys.put("/w/manifest.yaml", ROOT);
        sys.put("/w/sales/manifest.yaml", "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: sales, version: 1.0.0, owner: s@acme.io}\nscope: domain\nplugins: {}\n");
        for p in ["orders", "customers", "leads"] {
            add_product(&sys, &format!("/w/sales/{p}"), p);
        }
        sys
    }

    /// A product with the dbt project its one transform needs.
    fn add_product(sys: &MemorySystem, dir: &str, name: &str) {
        sys.put(format!("{dir}/floe.yaml"), product(name));
        sys.put(format!("{dir}/dbt_project.yml"), format!("name: {}\nprofile: {}\n", name, name));
        sys.put(format!("{dir}/models/stg_a.sql"), "select 1 as id\n");
    }

    fn build(sys: &Arc<MemorySystem>) -> Report {
        build_on(sys, "1970-01-01")
    }

    fn settings(today: &str) -> Settings {
        Settings {
            floe_version: "test".into(),
            source_date_epoch: 0,
            standalone: false,
            today: today.into(),
            rules: Default::default(),
        }
    }

    fn build_on(sys: &Arc<MemorySystem>, today: &str) -> Report {
        build_with(sys, settings(today))
    }

    fn build_with(sys: &Arc<MemorySystem>, settings: Settings) -> Report {
        let options = Options { jobs: 2, ..Options::at("/w", settings) };
        let report = Session::open(sys.clone(), options).unwrap().build().unwrap();
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report
    }

    /// The rules whose derivations a build built, each once.
    fn built_rules(report: &Report) -> BTreeSet<&'static str> {
        report.derivations.iter().filter(|d| d.status == Status::Built).map(|d| d.rule).collect()
    }

    #[test]
    fn a_new_floe_reuses_every_derivation_that_does_not_embed_its_version() {
        let sys = workspace();
        build_with(&sys, Settings { floe_version: "1.0.0".into(), ..settings("2026-01-01") });
        let upgraded = build_with(&sys, Settings { floe_version: "1.1.0".into(), ..settings("2026-01-01") });
        // The compiled artifacts, the SARIF report and the lineage
        // declarations name the floe that wrote them, and the runs carry the
        // artifacts; nothing else does.
        assert_eq!(
            built_rules(&upgraded),
            BTreeSet::from([
                "floe.compiled-artifacts",
                "floe.enforcement",
                "floe.jobs-helm-values",
                "floe.k8s",
                "floe.openlineage"
            ])
        );
        assert_eq!(upgraded.count(Status::Reused), 17, "{:?}", upgraded.derivations);
        let artifacts = sys.get(Path::new("/w/floe-out/sales/orders/compiled_artifacts.json")).unwrap();
        assert!(String::from_utf8(artifacts).unwrap().contains("1.1.0"));
    }

    #[test]
    fn bumping_a_rules_version_rebuilds_only_what_it_derives() {
        let sys = workspace();
        build(&sys);
        let mut bumped = settings("1970-01-01");
        bumped.rules.dbt_profile += 1;
        // `floe why` says it is the rule, not an input.
        let options =
            Options { labels: vec!["//sales/orders:dbt-profile".into()], ..Options::at("/w", bumped.clone()) };
        let why = crate::why::why(&mut Session::open(sys.clone(), options).unwrap()).unwrap();
        let changes: Vec<&str> = why[0].inputs.iter().flat_map(|i| &i.leaves).map(|l| l.path.as_str()).collect();
        assert_eq!(changes, ["rule: floe.dbt-profile version 2 → 3"]);
        let report = build_with(&sys, bumped.clone());
        // And what reads the profile: its key holds the profile's.
        assert_eq!(built_rules(&report), BTreeSet::from(["floe.dbt-profile", "floe.jobs-helm-values", "floe.k8s"]));
        assert_eq!(report.count(Status::Built), 9, "a profile and the runs that read it, per product");
        // The profiles were built again to the same bytes: an incremental
        // build writes what a clean one does.
        let again = build_with(&sys, bumped);
        assert_eq!(again.count(Status::Built), 0);
    }

    #[test]
    fn a_record_that_read_the_date_holds_on_that_date_only() {
        let sys = workspace();
        let governed = format!(
            "{ROOT}governance:\n  policy_overrides:\n    - {{pattern: \"stg_*\", action: exclude, reason: cut-over, expires: 2026-06-30}}\n"
        );
        sys.put("/w/manifest.yaml", governed);
        let expired =
            |r: &Report| r.diagnostics.iter().filter(|d| d.code == floe_schemas::Code::OverrideExpired).count();
        assert_eq!(expired(&build_on(&sys, "2026-06-30")), 0);
        assert_eq!(expired(&build_on(&sys, "2026-06-30")), 0);
        // The next day, on the same store, the override has expired (one
        // warning, at the manifest, for every product).
        assert_eq!(expired(&build_on(&sys, "2026-07-01")), 1);
        // Packages that read no date are still reused.
        let report = build_on(&sys, "2026-07-02");
        assert_eq!(report.count(Status::Built), 0);
        assert_eq!(report.count(Status::Reused), 32);
    }

    #[test]
    fn a_clean_build_stats_no_output_it_has_no_record_of() {
        let sys = workspace();
        build(&sys);
        // Nothing recorded could be left as it is: every output is written,
        // and the write says what it left.
        assert_eq!(sys.stats_below("/w/floe-out"), 0);
        // An output that was written and is again the same is looked at,
        // to leave it alone if it is as floe left it.
        sys.put("/w/sales/orders/models/stg_a.sql", "select 2 as id\n");
        let before = sys.stats_below("/w/floe-out/sales/orders");
        build(&sys);
        assert!(sys.stats_below("/w/floe-out/sales/orders") > before);
    }

    #[test]
    fn a_clean_build_parses_no_product_file_again_for_a_position() {
        let sys = workspace();
        let spec =
            product("orders").replace("kind: FloeSpec\n", "kind: FloeSpec\nplatform: {manifest: ../manifest.yaml}\n");
        sys.put("/w/sales/orders/floe.yaml", spec);
        // A port reading a contract of the workspace by its id.
        sys.put(
            "/w/crm/datacontract.yaml",
            include_str!("../../testdata/mesh/external/crm-accounts/datacontract.yaml"),
        );
        let reads = "inputPorts:\n  - {name: accounts, from: \"urn:datacontract:acme:crm:accounts:2.0.0\", expects: [account_id]}\n";
        sys.put("/w/sales/leads/floe.yaml", format!("{}{reads}", product("leads")));
        build(&sys);
        // Hashed, then evaluated and scanned for secrets from the bytes
        // the hash was of: a correct reference or port is never looked for
        // in the file's tree, which takes reading the file again.
        assert_eq!(sys.reads_of("/w/sales/orders/floe.yaml"), 1);
        assert_eq!(sys.reads_of("/w/sales/leads/floe.yaml"), 1);
        // A wrong one is reported where it is written.
        sys.put(
            "/w/sales/orders/floe.yaml",
            product("orders")
                .replace("kind: FloeSpec\n", "kind: FloeSpec\nplatform: {manifest: ../../manifest.yaml}\n"),
        );
        let options = Options { jobs: 2, ..Options::at("/w", settings("1970-01-01")) };
        let report = Session::open(sys.clone(), options).unwrap().build().unwrap();
        let d = report.diagnostics.iter().find(|d| d.code == floe_schemas::Code::PlatformMismatch).expect("reported");
        assert_eq!(d.span.map(|s| (s.line, s.column)), Some((3, 22)));
    }

    #[test]
    fn what_a_build_hashes_it_evaluates_without_reading_again() {
        let sys = workspace();
        let model = "/w/sales/orders/models/stg_a.sql";
        let first = build(&sys);
        assert!(!first.has_errors(), "{:?}", first.diagnostics);
        // A clean build: each file read once, to be hashed, and evaluated
        // from those bytes; a manifest by every batch, a product file by
        // its evaluation and its scan for secrets.
        for f in [model, "/w/sales/manifest.yaml", "/w/sales/orders/floe.yaml"] {
            assert_eq!(sys.reads_of(f), 1, "{f}");
        }
        // An edit: the file is hashed again, and evaluated from those bytes.
        let spec = "/w/sales/orders/floe.yaml";
        let edit = |sys: &MemorySystem| sys.replace(spec, product("orders").replace("1.0.0", "1.1.0"));
        edit(&sys);
        let reads = sys.reads_of(spec);
        let edited = build(&sys);
        assert!(edited.derivations.iter().any(|d| d.status == Status::Built));
        assert_eq!(sys.reads_of(spec) - reads, 1);
        // The same outputs as a clean build of the edited workspace.
        let clean = workspace();
        edit(&clean);
        build(&clean);
        assert_eq!(outputs(&sys), outputs(&clean));
    }

    #[test]
    fn a_no_op_build_reads_and_lists_nothing_of_the_workspace() {
        let sys = workspace();
        // Two platform packages with the same plugins share their Helm values'
        // key; within one build both count as built.
        let cold = build(&sys);
        assert_eq!((cold.count(Status::Built), cold.count(Status::Reused)), (32, 0));
        // A second build re-reads files whose stats were too fresh to trust.
        build(&sys);
        let (reads, lists) = (sys.reads(), sys.lists());
        let report = build(&sys);
        assert_eq!(report.count(Status::Reused), 32);
        // The state file, a part at a time (its magic, its trailer, the
        // listings, the file records, the package records), its log (the
        // second build listed the root again, with floe-out/ in it), and the
        // (absent) .floeignore; no package file, no listing.
        assert_eq!(sys.reads() - reads, 8);
        assert_eq!(sys.lists() - lists, 0);
    }

    #[test]
    fn a_build_in_batches_writes_what_a_build_in_one_batch_writes() {
        // Seven packages, five of them evaluated: three batches of a
        // database each, against one database kept for a warm session.
        let batched = workspace();
        let report = build(&batched);
        let whole = workspace();
        let options = Options { jobs: 2, warm: true, ..Options::at("/w", settings("1970-01-01")) };
        let mut session = Session::open(whole.clone(), options).unwrap();
        let one = session.build().unwrap();
        session.save().unwrap();
        assert_eq!(report.derivations, one.derivations);
        assert_eq!(report.count(Status::Built), 32);
        assert_eq!(outputs(&batched), outputs(&whole));
    }

    #[test]
    fn a_state_read_with_its_log_is_the_state_the_last_build_left() {
        let sys = workspace();
        let open = || Session::open(sys.clone(), Options { jobs: 2, ..Options::at("/w", settings("1970-01-01")) });
        // Settled: the second build lists the root again, with floe-out/ in it.
        build(&sys);
        build(&sys);
        let log = Path::new("/w/.floe/state.log");
        // What is edited (nothing: the stats too fresh to trust are hashed
        // again), and what is appended to it.
        let edits = [
            ("a comment in the domain's manifest", "/w/sales/manifest.yaml", "# sales\n"),
            ("a product's model", "/w/sales/orders/models/stg_a.sql", "-- edited\n"),
            ("a product's spec", "/w/sales/leads/floe.yaml", "description: Leads.\n"),
            ("nothing", "", ""),
            ("a product's spec again", "/w/sales/leads/floe.yaml", "# reviewed\n"),
        ];
        for (edit, path, text) in edits {
            if !path.is_empty() {
                let old = String::from_utf8(sys.get(path).unwrap()).unwrap();
                sys.replace(path, format!("{old}{text}"));
            }
            let mut session = open().unwrap();
            session.build().unwrap();
            assert!(sys.get(log).is_some(), "{edit}: the build appended to the log");
            let reopened = open().unwrap();
            assert!(reopened.cx.state == session.cx.state, "{edit}: the state read is not the state left");
            // Laid out from the state's records while the walk went on.
            assert_eq!(*reopened.cx.layout, Layout::from_files(reopened.cx.state.files.keys()).0, "{edit}");
        }
        // A new product: new listings too.
        add_product(&sys, "/w/sales/refunds", "refunds");
        let mut session = open().unwrap();
        session.build().unwrap();
        assert!(open().unwrap().cx.state == session.cx.state, "a new product: the state read is not the state left");
        // The product removed: listings go too.
        sys.remove_all(Path::new("/w/sales/refunds")).unwrap();
        let mut session = open().unwrap();
        session.build().unwrap();
        assert!(session.cx.state.dirs.keys().all(|d| !d.as_str().starts_with("sales/refunds")), "its listings went");
        assert!(
            open().unwrap().cx.state == session.cx.state,
            "a product removed: the state read is not the state left"
        );
    }

    #[test]
    fn a_comment_is_parsed_by_the_build_that_sees_it_and_by_no_build_after() {
        let sys = workspace();
        build(&sys);
        build(&sys);
        // Its value is the same: every derivation is reused.
        let manifest = Path::new("/w/sales/manifest.yaml");
        let text = String::from_utf8(sys.get(manifest).unwrap()).unwrap();
        sys.replace(manifest, format!("{text}# owned by the sales team\n"));
        assert_eq!(build(&sys).count(Status::Reused), 32);
        // Too fresh a stat to trust yet: read again, not parsed.
        build(&sys);
        let reads = sys.reads();
        assert_eq!(build(&sys).count(Status::Reused), 32);
        assert_eq!(sys.reads() - reads, 8, "the state's parts, its log and .floeignore: the manifest is not read");
    }

    #[test]
    fn a_stat_vouches_once_two_ticks_of_its_file_systems_clock_have_passed() {
        const S: i64 = 1_000_000_000;
        // Whole seconds: two of them.
        assert!(!vouches(10 * S, 11 * S) && !vouches(10 * S, 12 * S) && vouches(10 * S, 12 * S + 1));
        // Sub-second times: 20 ms.
        let t = 10 * S + 123_456_789;
        assert!(!vouches(t, t) && !vouches(t, t + 20_000_000) && vouches(t, t + 20_000_001));
        assert!(!vouches(t, i64::MIN), "no state, no trust");
    }

    #[test]
    fn a_no_op_build_stats_no_output_yet_restores_a_replaced_one() {
        let sys = workspace();
        // The first builds look into directories written too recently to
        // vouch for their outputs; then none is looked into.
        for _ in 0..3 {
            build(&sys);
        }
        let before = sys.stats_below("/w/floe-out");
        let report = build(&sys);
        assert_eq!((report.count(Status::Reused), report.written), (32, 0));
        assert_eq!(sys.stats_below("/w/floe-out"), before, "a no-op build stats no output");
        // Replaced, as an editor saves: its directory shows it.
        let out = Path::new("/w/floe-out/sales/orders/profiles.yml");
        let good = sys.get(out).unwrap();
        sys.replace(out, "edited");
        let report = build(&sys);
        assert_eq!((report.count(Status::Built), report.written), (0, 1));
        assert_eq!(sys.get(out).unwrap(), good);
        // Edited in place (made writable first), it shows only to a build
        // that looks at every output.
        for _ in 0..3 {
            build(&sys);
        }
        sys.put(out, "edited in place");
        assert_eq!(build(&sys).written, 0);
        let options = Options { jobs: 2, check_outputs: true, ..Options::at("/w", settings("1970-01-01")) };
        let report = Session::open(sys.clone(), options).unwrap().build().unwrap();
        assert_eq!((report.count(Status::Built), report.written), (0, 1));
        assert_eq!(sys.get(out).unwrap(), good);
    }

    #[test]
    fn an_edit_between_opening_and_the_first_build_is_what_is_built() {
        let sys = workspace();
        let options = Options { jobs: 2, warm: true, ..Options::at("/w", settings("1970-01-01")) };
        // Opening read every file to hash it, and kept the bytes.
        let mut warm = Session::open(sys.clone(), options).unwrap();
        let edited = product("orders").replace("version: 1.0.0", "version: 1.1.0");
        sys.put("/w/sales/orders/floe.yaml", &edited);
        let path = WsPath::new("sales/orders/floe.yaml").unwrap();
        assert!(warm.refresh(std::slice::from_ref(&path), &settings("1970-01-01")).unwrap());
        warm.build().unwrap();
        assert_eq!(outputs(&sys), outputs(&built_fresh(&edited)));
    }

    /// What a new session, with a store of its own, writes over the
    /// workspace with `spec` as a product's `floe.yaml`.
    fn built_fresh(spec: &str) -> Arc<MemorySystem> {
        let fresh = workspace();
        fresh.put("/w/sales/orders/floe.yaml", spec);
        build(&fresh);
        fresh
    }

    /// Every output and its bytes.
    fn outputs(s: &MemorySystem) -> Vec<(PathBuf, Vec<u8>)> {
        s.files_under("/w/floe-out").into_iter().map(|p| (p.clone(), s.get(&p).unwrap())).collect()
    }

    #[test]
    fn a_warm_session_builds_after_an_edit_what_a_new_one_builds() {
        let sys = workspace();
        let options = || Options { jobs: 2, warm: true, ..Options::at("/w", settings("1970-01-01")) };
        let mut warm = Session::open(sys.clone(), options()).unwrap();
        warm.build().unwrap();
        let edited = product("orders").replace("version: 1.0.0", "version: 1.1.0");
        sys.put("/w/sales/orders/floe.yaml", &edited);
        let path = WsPath::new("sales/orders/floe.yaml").unwrap();
        assert!(warm.refresh(std::slice::from_ref(&path), &settings("1970-01-01")).unwrap());
        let report = warm.build().unwrap();
        let built: BTreeSet<String> =
            report.derivations.iter().filter(|d| d.status == Status::Built).map(|d| d.label.to_string()).collect();
        assert!(!built.is_empty() && built.iter().all(|l| l.starts_with("//sales/orders:")), "{built:?}");
        // What a new session over the same tree, with a store of its own, writes.
        let fresh = built_fresh(&edited);
        assert_eq!(outputs(&sys), outputs(&fresh));
        // What it saves is what a new session finds on disk: every file's
        // record, and nothing left to build.
        let saved_holds = |warm: &mut Session| {
            warm.save().unwrap();
            let mut again = Session::open(sys.clone(), options()).unwrap();
            // Renewed from the walk, the records it read change in nothing.
            assert!(again.cx.changes.files.is_empty() && !again.cx.changes.whole);
            assert_eq!(again.state.files, warm.state.files);
            let report = again.build().unwrap();
            assert_eq!((report.count(Status::Built), report.written), (0, 0));
        };
        saved_holds(&mut warm);

        // A product comes and one goes: the same session walks again, and
        // every package that stays keeps its identity, and so its memos.
        let customers_before =
            warm.package(warm.layout.packages.iter().position(|p| p.dir.as_str() == "sales/customers").unwrap());
        for s in [&sys, &fresh] {
            add_product(s, "/w/sales/accounts", "accounts");
            s.remove_all(Path::new("/w/sales/leads")).unwrap();
        }
        let moved: Vec<WsPath> = [
            "sales/accounts/floe.yaml",
            "sales/accounts/dbt_project.yml",
            "sales/accounts/models/stg_a.sql",
            "sales/leads/floe.yaml",
        ]
        .iter()
        .map(|p| WsPath::new(p).unwrap())
        .collect();
        let before = warm.layout.packages.iter().position(|p| p.dir.as_str() == "sales/customers").unwrap();
        assert!(warm.refresh(&moved, &settings("1970-01-01")).unwrap());
        let customers = warm.layout.packages.iter().position(|p| p.dir.as_str() == "sales/customers").unwrap();
        assert_eq!(
            warm.package(customers),
            customers_before,
            "sales/customers moved in the layout, and is the same package"
        );
        assert_eq!((before + 1, warm.package(customers).index(warm.db())), (customers, customers));
        let report = warm.build().unwrap();
        let built: BTreeSet<String> =
            report.derivations.iter().filter(|d| d.status == Status::Built).map(|d| d.label.to_string()).collect();
        assert!(built.iter().all(|l| l.starts_with("//sales/accounts:") || l.starts_with("//sales:")), "{built:?}");
        build(&fresh);
        assert_eq!(outputs(&sys), outputs(&fresh));
        assert!(outputs(&sys).iter().all(|(p, _)| !p.starts_with("/w/floe-out/sales/leads")));
        saved_holds(&mut warm);

        // What it cannot take: another day, the lock.
        assert!(!warm.refresh(&[WsPath::new("floe.lock").unwrap()], &settings("1970-01-01")).unwrap());
        assert!(!warm.refresh(&[], &settings("1970-01-02")).unwrap());
    }

    #[test]
    fn a_watched_warm_session_looks_again_only_at_what_it_is_told_of() {
        let sys = workspace();
        let mut warm =
            Session::open(sys.clone(), Options { jobs: 2, warm: true, ..Options::at("/w", settings("1970-01-01")) })
                .unwrap();
        warm.watch_outputs(true);
        let built = warm.build().unwrap();
        let rebuild = |warm: &mut Session, changed: &[&str]| {
            let changed: Vec<WsPath> = changed.iter().map(|p| WsPath::new(p).unwrap()).collect();
            assert!(warm.refresh(&changed, &settings("1970-01-01")).unwrap());
            let before = sys.dir_stats();
            let report = warm.build().unwrap();
            warm.save().unwrap();
            (report, sys.dir_stats() - before)
        };
        // The second build looks at every package's outputs once more (the
        // first wrote them); from the third, nothing is looked at again.
        let (second, looked) = rebuild(&mut warm, &[]);
        assert_eq!((second.count(Status::Reused), looked > 0), (built.derivations.len(), true));
        let (third, looked) = rebuild(&mut warm, &[]);
        assert_eq!((third.count(Status::Reused), looked), (built.derivations.len(), 0));
        assert_eq!(third.derivations, second.derivations);
        // An output that goes unreported stays gone (the driver's promise);
        // reported, it is restored.
        let profile = Path::new("/w/floe-out/sales/orders/profiles.yml");
        let bytes = sys.get(profile).unwrap();
        sys.remove_all(profile).unwrap();
        assert_eq!(rebuild(&mut warm, &[]).0.written, 0);
        warm.outputs_changed(&[WsPath::new("sales/orders/profiles.yml").unwrap()]);
        let (restored, looked) = rebuild(&mut warm, &[]);
        assert_eq!((restored.written, looked > 0), (1, true));
        assert_eq!(sys.get(profile).unwrap(), bytes);
        // An input edit: what reads it is evaluated, the rest left as it is.
        let edited = product("leads").replace("version: 1.0.0", "version: 1.0.1");
        sys.put("/w/sales/leads/floe.yaml", &edited);
        let (report, _) = rebuild(&mut warm, &["sales/leads/floe.yaml"]);
        let built: BTreeSet<String> =
            report.derivations.iter().filter(|d| d.status == Status::Built).map(|d| d.label.to_string()).collect();
        assert!(!built.is_empty() && built.iter().all(|l| l.starts_with("//sales/leads:")), "{built:?}");
    }

    #[test]
    fn a_warm_check_answers_what_no_edit_reached_from_its_last_check() {
        let sys = workspace();
        build(&sys);
        let options = || Options { jobs: 2, warm: true, ..Options::at("/w", settings("1970-01-01")) };
        let mut warm = Session::open(sys.clone(), options()).unwrap();
        let first = warm.check().unwrap();
        let reads = sys.reads();
        let second = warm.check().unwrap();
        assert_eq!(sys.reads(), reads, "the second check reads nothing");
        assert_eq!(
            (&second.diagnostics, &second.derivations, &second.enforcement),
            (&first.diagnostics, &first.derivations, &first.enforcement)
        );
        // An edit: its product is checked again, and the answer is a new session's.
        sys.put("/w/sales/leads/floe.yaml", product("leads").replace("version: 1.0.0", "version: 1.0.1\nbogus: 1"));
        assert!(warm.refresh(&[WsPath::new("sales/leads/floe.yaml").unwrap()], &settings("1970-01-01")).unwrap());
        let edited = warm.check().unwrap();
        let fresh = Session::open(sys.clone(), options()).unwrap().check().unwrap();
        assert_eq!((&edited.diagnostics, &edited.derivations), (&fresh.diagnostics, &fresh.derivations));
        assert!(
            edited.diagnostics.iter().any(|d| d.file.as_deref() == Some("sales/leads/floe.yaml")),
            "{:?}",
            edited.diagnostics
        );
    }

    #[test]
    fn new_packages_are_found_through_directory_mtimes() {
        let sys = workspace();
        build(&sys);
        build(&sys);
        add_product(&sys, "/w/sales/prospects", "prospects");
        let report = build(&sys);
        // The product's eight, and its domain's GitOps tree, which now lists it.
        assert_eq!(report.count(Status::Built), 9, "{:?}", report.derivations);
        assert!(sys.get(Path::new("/w/floe-out/sales/prospects/profiles.yml")).is_some());
    }

    /// A remote that records what it is told and asked, in order, and has nothing.
    #[derive(Default)]
    struct Recording(std::sync::Mutex<Vec<(&'static str, Hash)>>);

    impl crate::remote::RemoteStore for Recording {
        fn describe(&self) -> String {
            "recording".into()
        }
        fn get_action(&self, key: Hash) -> Result<Option<Vec<u8>>, crate::remote::RemoteError> {
            self.0.lock().unwrap().push(("get", key));
            Ok(None)
        }
        fn get_object(&self, _: Hash) -> Result<Option<Vec<u8>>, crate::remote::RemoteError> {
            Ok(None)
        }
        fn put_object(&self, _: Hash, _: &[u8]) -> Result<(), crate::remote::RemoteError> {
            Ok(())
        }
        fn put_action(&self, _: Hash, _: &[u8]) -> Result<(), crate::remote::RemoteError> {
            Ok(())
        }
        fn prefetches(&self) -> bool {
            true
        }
        fn prefetch(&self, keys: &[Hash]) {
            self.0.lock().unwrap().extend(keys.iter().map(|k| ("prefetch", *k)));
        }
    }

    #[test]
    fn a_remote_hears_of_every_derivation_of_a_batch_to_fetch_before_the_batch_looks_one_up() {
        let sys = workspace();
        let remote = Arc::new(Recording::default());
        let store: Arc<dyn crate::remote::RemoteStore> = remote.clone();
        let options = Options {
            jobs: 2,
            remote: Some(crate::remote::Remote { store, write: false }),
            ..Options::at("/w", settings("1970-01-01"))
        };
        let report = Session::open(sys.clone(), options).unwrap().build().unwrap();
        assert_eq!(report.count(Status::Built), 32);
        let calls = remote.0.lock().unwrap();
        // Runs of prefetches, each followed by the lookups of its batch.
        let mut batches: Vec<(BTreeSet<Hash>, BTreeSet<Hash>)> = Vec::new();
        let mut last = "get";
        for (what, key) in calls.iter() {
            if *what == "prefetch" && last == "get" {
                batches.push(Default::default());
            }
            let (told, asked) = batches.last_mut().expect("a prefetch comes first");
            match *what {
                "prefetch" => told.insert(*key),
                _ => asked.insert(*key),
            };
            last = what;
        }
        assert!(batches.len() > 1, "the build went in batches");
        for (told, asked) in &batches {
            assert_eq!(told, asked);
        }
        assert_eq!(batches.iter().map(|(_, asked)| asked.len()).sum::<usize>(), 32);
    }
}
