//! The store: content-addressed objects, the action cache, and build state.
//!
//! ```text
//! .floe/packs/<hash>.pack   immutable packs: the objects and action entries one build added
//! .floe/index               where each object and action entry lives (pack, offset, length)
//! .floe/state               this workspace's directory and stat caches and package records
//! .floe/state.log           what builds changed in the state since it was written whole (see `log`)
//! .floe/state.journal       present while a build of this workspace writes (see `Store::recover`)
//! .floe/lock, index.lock    advisory locks of builds sharing the store
//! .floe/CACHEDIR.TAG        tells backup tools the directory is a cache
//! ```
//!
//! Objects are blobs by blake3 (outputs, and the normalized inputs `floe why`
//! diffs); action entries map a derivation key to its rule, named input hashes
//! and output hashes. A build appends what it adds to one new pack instead of
//! creating a file per entry: creating thousands of small files is what a cold
//! build would otherwise spend its time on.
//!
//! Every file is written atomically (temporary file + rename) and a pack is
//! never changed once written. Every read is verified: an object whose content
//! does not hash to its name, an action entry that does not decode or names
//! another key, an index or state section whose checksum does not match or
//! whose lengths do not fit the file — each is treated as absent (and
//! rebuilt), never served. No length read from disk is allocated before it is
//! checked against the bytes that are really there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use floe_schemas::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::drv::DrvRecord;
use crate::hash::Hash;
use crate::path::WsPath;
use crate::system::{FileKind, FileStat, IoError, Lock, Locked, System};

mod index;
mod log;
mod maintain;
mod written;
use index::{Found, IndexFile};
pub use log::{Delta, DeltaOf, files_with_log};
pub use maintain::{GcReport, VerifyReport};

/// Bumped whenever the layout of anything under `.floe/` changes.
pub const STORE_VERSION: u32 = 14;

pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
/// The name (`pins`, or `pins-<workspace>` in a shared store) of the list of
/// objects a workspace's `floe.lock` pins.
const PINS: &str = "pins";
pub const CACHEDIR_TAG_TEXT: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
    # This file is a cache directory tag created by floe: its store, rebuilt from the workspace as needed.\n\
    # For information about cache directory tags, see https://bford.info/cachedir/\n";

/// The first bytes of a state file and of an index.
const STATE_MAGIC: &[u8; 8] = b"floeSTAT";
const INDEX_MAGIC: &[u8; 8] = b"floeINDX";

/// Held shared by every build while it has packs the index does not name yet;
/// taken exclusively to remove packs no index names.
const PACKS_LOCK: &str = "lock";
/// Held while the index is read, extended and written back, so that two builds
/// sharing the store do not lose each other's packs.
const INDEX_LOCK: &str = "index.lock";
/// How long a build waits for a lock another build holds (a sweep, an index
/// update: both short) before it gives up.
const LOCK_TRIES: u32 = 1000;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// One cached derivation: its record (what it was built from) and what it
/// produced. Stored under the record's key, which a reader recomputes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    pub drv: DrvRecord,
    /// The label it was first built for (packages with equal inputs share it).
    pub label: String,
    /// Output file name to content hash.
    pub outputs: BTreeMap<String, Hash>,
}

impl ActionEntry {
    pub fn key(&self) -> Hash {
        self.drv.key()
    }

    /// Whether it is the entry of `key`: its record hashes to it, and it has
    /// an output for each file the record names and no other.
    pub fn holds_for(&self, key: Hash) -> bool {
        self.drv.key() == key
            && self.outputs.len() == self.drv.outputs.len()
            && self.drv.outputs.iter().all(|o| self.outputs.contains_key(o))
    }
}

/// Where an entry lives: pack number (in [`Index::packs`]), offset, length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub pack: u32,
    pub offset: u64,
    pub len: u64,
}

/// Shared by every workspace using the store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub version: u32,
    /// Pack file names (their content hashes), in the order they were added.
    pub packs: Vec<Hash>,
    /// For each pack, the build that added it (counted from 0 in this store):
    /// `floe store gc` keeps what the last builds added.
    pub builds: Vec<u64>,
    pub objects: BTreeMap<Hash, Location>,
    pub actions: BTreeMap<Hash, Location>,
}

/// What the store remembers of one workspace between processes. A no-op build
/// reads it and little else, so it is stored in a compact binary encoding,
/// in parts of about a megabyte (see [`encode_state`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    pub version: u32,
    pub floe_version: String,
    /// Directory listings by mtime, so unchanged directories are not read.
    /// A part of its own, so the walk can start while the rest is still
    /// being decoded.
    pub dirs: crate::discover::Listings,
    /// Stat cache: what each input file hashed to when it had this stat.
    /// In a session, every file the workspace has now (see `build::Context`).
    pub files: BTreeMap<WsPath, FileRecord>,
    /// The last successful build of each package.
    pub packages: BTreeMap<WsPath, PackageRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub stat: FileStat,
    /// blake3 of the bytes.
    pub raw: Hash,
    /// Hash of the parsed, normalized value (comments and key order do not count).
    pub normal: Option<Hash>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Files whose normalized values decide this package's derivations, with
    /// those values' hashes when it was built.
    pub deps: Vec<(WsPath, Hash)>,
    /// Hash of the package's place in the layout (its tiers, its dbt project).
    pub structure: Hash,
    pub derivations: Vec<DerivationRecord>,
    /// Materialized files under `floe-out/`, with their hash and the stat floe left them with.
    pub outputs: Vec<OutputRecord>,
    /// The directories that hold them, with the stat floe left each with
    /// (none when it was gone by then): while it stands, no output in it was
    /// added, removed or replaced.
    pub dirs: Vec<(WsPath, Option<crate::system::DirStat>)>,
    /// Warnings of the last evaluation, replayed when it is reused.
    #[serde(with = "as_json")]
    pub warnings: Vec<Diagnostic>,
    /// The evaluation date its evaluation read (expiring policy overrides),
    /// if it read one: the record holds only on that date.
    pub date: Option<String>,
    /// The settings it was made under ([`crate::Settings::hash`]): under
    /// others it does not hold, but its outputs are still floe's to remove.
    pub settings: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivationRecord {
    /// A target's name: one of floe's own is held without a copy (a state
    /// holds eight per product), any other as it was read.
    #[serde(deserialize_with = "target_name")]
    pub target: std::borrow::Cow<'static, str>,
    pub key: Hash,
}

fn target_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::borrow::Cow<'static, str>, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = std::borrow::Cow<'static, str>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a target's name")
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
            let known =
                crate::label::PRODUCT_TARGETS.iter().chain(crate::label::PLATFORM_TARGETS).find(|t| t.name() == name);
            Ok(known.map_or_else(|| name.to_owned().into(), |t| t.name().into()))
        }
    }
    d.deserialize_str(Name)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub path: WsPath,
    pub hash: Hash,
    pub stat: FileStat,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Object,
    Action,
}

/// A pack is written once it holds this much, so a large build never keeps
/// all it adds in memory.
const PACK_BYTES: usize = 4 * 1024 * 1024;

/// What this process added: the pack being filled, and the packs it wrote.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    objects: BTreeMap<Hash, (u64, u64)>,
    actions: BTreeMap<Hash, (u64, u64)>,
    /// The packs this process wrote, by number, and where they hold each
    /// object and action: what a build wrote is found in one search of a
    /// few sorted runs, however many packs a large build writes.
    written: Vec<Hash>,
    written_objects: written::Runs,
    written_actions: written::Runs,
    /// The packs lock, shared, from the first pack written until the index names it.
    packs_lock: Option<Lock>,
}

impl Pending {
    /// Where a pack this process wrote holds `key`'s entry of `kind`.
    fn written(&self, kind: Kind, key: &Hash) -> Option<(Hash, (u64, u64))> {
        let entries = match kind {
            Kind::Object => &self.written_objects,
            Kind::Action => &self.written_actions,
        };
        let (_, at) = entries.find(key)?;
        Some((self.written[at.pack as usize], (at.offset, at.len)))
    }
}

/// The index as read: with the stat it had then, and whether it was sound
/// (absent, or verified and of this version). An index that is not sound is
/// used as empty, but may name packs this floe cannot see.
#[derive(Clone)]
struct Loaded {
    index: Arc<IndexFile>,
    stat: Option<FileStat>,
    sound: bool,
}

pub struct Store {
    sys: Arc<dyn System>,
    root: PathBuf,
    /// Name of this workspace's state file.
    state_name: String,
    /// This workspace's output directory: what a killed build left there is
    /// removed with what it left in the store.
    out: PathBuf,
    /// Opened at the first lookup (its trailer; a bucket when a lookup
    /// reaches it). A flush extends the file it names and leaves the one it
    /// wrote here; a lookup whose bucket fails its sum opens the file anew
    /// if it was replaced.
    index: Mutex<Option<Result<Loaded, IoError>>>,
    /// The index this store's last flush wrote, with the stat it left.
    written: Mutex<Option<Loaded>>,
    pending: Mutex<Pending>,
    /// This workspace's journal, once this process has begun writing: `Some(None)`
    /// when another process of the same workspace held it.
    journal: Mutex<Option<Option<Lock>>>,
    /// Whether recovery could not finish (another build was adding packs): the
    /// journal then stays, for the next process to try again.
    recovery_left: AtomicBool,
    /// Where this workspace's state log stands, once this process has read
    /// or written the state: until then a save writes the state whole.
    log: Mutex<Option<log::At>>,
}

impl Store {
    /// `workspace_id` tells workspaces that share a store apart; `None` for a
    /// store of its own (the default `.floe/` inside the workspace). `out` is
    /// the workspace's output directory.
    pub fn new(sys: Arc<dyn System>, root: PathBuf, workspace_id: Option<Hash>, out: PathBuf) -> Store {
        let state_name = match workspace_id {
            None => "state".to_owned(),
            Some(h) => format!("state-{}", &h.to_hex()[..16]),
        };
        Store {
            sys,
            root,
            state_name,
            out,
            index: Mutex::new(None),
            written: Mutex::new(None),
            pending: Mutex::new(Pending::default()),
            journal: Mutex::new(None),
            recovery_left: AtomicBool::new(false),
            log: Mutex::new(None),
        }
    }

    /// The store of the workspace at `workspace`: its own (`<workspace>/.floe`)
    /// or one it shares (`FLOE_STORE`), where it keeps a state of its own.
    pub fn of_workspace(sys: Arc<dyn System>, root: PathBuf, workspace: &std::path::Path, out: PathBuf) -> Store {
        let own = root == workspace.join(crate::discover::STORE_DIR);
        let workspace_id = (!own).then(|| Hash::of(workspace.to_string_lossy().as_bytes()));
        Store::new(sys, root, workspace_id, out)
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join(&self.state_name)
    }

    /// What builds changed in the state since it was written whole.
    pub fn log_path(&self) -> PathBuf {
        self.root.join(log::name(&self.state_name))
    }

    /// Present while a build of this workspace writes: found at the start of
    /// the next one with nobody holding it, it says that build was killed.
    pub fn journal_path(&self) -> PathBuf {
        self.root.join(format!("{}.journal", self.state_name))
    }

    fn loaded(&self) -> Result<Loaded, IoError> {
        let mut slot = self.index.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| self.read_index()).clone()
    }

    /// Where the index says `key`'s entry of `kind` is: which pack, and
    /// where in it.
    fn locate(&self, kind: Kind, key: &Hash) -> Result<Option<(Hash, Location)>, IoError> {
        let loaded = self.loaded()?;
        let found = match loaded.index.find(kind, key)? {
            Found::Unknown => {
                // Its bucket fails its sum: the index was replaced since its
                // trailer was read (another build sharing the store added to
                // it), or it is damaged. Replaced: read anew, once.
                let path = self.root.join("index");
                if self.sys.stat(&path)? == loaded.stat {
                    return Ok(None);
                }
                let fresh = self.read_index()?;
                let found = fresh.index.find(kind, key)?;
                *self.index.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(fresh));
                found
            }
            found => found,
        };
        Ok(match found {
            Found::At(pack, loc) => Some((pack, loc)),
            Found::Absent | Found::Unknown => None,
        })
    }

    fn read_index(&self) -> Result<Loaded, IoError> {
        let path = self.root.join("index");
        let Some(stat) = self.sys.stat(&path)? else {
            return Ok(Loaded { index: Arc::new(IndexFile::empty()), stat: None, sound: true });
        };
        let source = Source::File { sys: self.sys.clone(), path, len: stat.size };
        Ok(match IndexFile::open(source)? {
            Some(index) => Loaded { index: Arc::new(index), stat: Some(stat), sound: true },
            None => Loaded { index: Arc::new(IndexFile::empty()), stat: Some(stat), sound: false },
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A lock another build may hold for a moment: tried until it is free.
    fn wait_for_lock(&self, name: &str, exclusive: bool) -> Result<Lock, IoError> {
        let path = self.root.join(name);
        for _ in 0..LOCK_TRIES {
            if let Locked::Held(lock) = self.sys.try_lock(&path, exclusive, true)? {
                return Ok(lock);
            }
            std::thread::sleep(LOCK_PAUSE);
        }
        Err(IoError { op: "lock", path, message: "another floe process keeps holding it".to_owned() })
    }

    /// Marks that this process writes (outputs, packs, the state), until
    /// [`Store::end_writes`]: the journal exists and this process holds it.
    fn begin_writes(&self) -> Result<(), IoError> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if journal.is_none() {
            // Busy: another build of this workspace writes at the same time,
            // under the same journal; it stays while either holds it.
            *journal = Some(match self.sys.try_lock(&self.journal_path(), true, true)? {
                Locked::Held(lock) => Some(lock),
                Locked::Busy | Locked::Absent => None,
            });
        }
        Ok(())
    }

    /// Everything this process wrote is in place: the journal goes.
    fn end_writes(&self) -> Result<(), IoError> {
        let held = self.journal.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Some(lock)) = held {
            if !self.recovery_left.load(Ordering::Relaxed) {
                // Removed while still held, so that nobody finds it unheld.
                self.sys.remove_all(&self.journal_path())?;
            }
            drop(lock);
        }
        Ok(())
    }

    /// Cleans up after a build of this workspace that was killed while it
    /// wrote (its journal is there, and nobody holds it): the temporary files
    /// it left among the outputs and in the store, and the packs it wrote that
    /// no index names. A build that finished leaves no journal, so this costs
    /// a no-op build one failed open.
    fn recover(&self) -> Result<(), IoError> {
        let Locked::Held(journal) = self.sys.try_lock(&self.journal_path(), true, false)? else { return Ok(()) };
        // Temporary files are swept by their own locks: another build writing
        // into a shared store or the same outputs keeps its own.
        self.sys.sweep(&self.out)?;
        self.sys.sweep(&self.root)?;
        if self.remove_orphan_packs()? {
            self.sys.remove_all(&self.journal_path())?;
        } else {
            self.recovery_left.store(true, Ordering::Relaxed);
        }
        drop(journal);
        Ok(())
    }

    /// Removes the packs no index names; `false` when that cannot be decided
    /// now. Why a lock and not an age: a build sharing the store is between
    /// writing a pack and naming it in the index for as long as that build
    /// runs, which no margin bounds; it holds the packs lock (shared) for
    /// exactly that time. With the lock held exclusively, a pack the index
    /// does not name is one nobody will name.
    fn remove_orphan_packs(&self) -> Result<bool, IoError> {
        let Locked::Held(_all) = self.sys.try_lock(&self.root.join(PACKS_LOCK), true, true)? else {
            return Ok(false);
        };
        let loaded = self.read_index()?;
        if !loaded.sound {
            // Damaged, or another floe version's: it may name any pack, and
            // this build replaces it anyway.
            return Ok(true);
        }
        let named: BTreeSet<Hash> = loaded.index.packs.iter().copied().collect();
        let dir = self.root.join("packs");
        for entry in self.sys.list_dir(&dir)? {
            let Some(hash) = entry.name.strip_suffix(".pack").and_then(Hash::from_hex) else { continue };
            if entry.kind == FileKind::File && !named.contains(&hash) {
                self.sys.remove_all(&dir.join(&entry.name))?;
            }
        }
        Ok(true)
    }

    fn add(&self, kind: Kind, key: Hash, bytes: &[u8]) -> Result<(), IoError> {
        let known = kind == Kind::Object && self.locate(kind, &key)?.is_some();
        // Whatever this process adds, it writes: its outputs first, then packs.
        self.begin_writes()?;
        let mut p = self.pending();
        let present = match kind {
            Kind::Object => p.objects.contains_key(&key),
            Kind::Action => p.actions.contains_key(&key),
        };
        // An action entry may be replaced (its objects were lost); an object never
        // needs to be: the same hash is the same bytes.
        if (known || present) && kind == Kind::Object {
            return Ok(());
        }
        let at = (p.bytes.len() as u64, bytes.len() as u64);
        // Room for a whole pack at once, and then only for what comes: grown
        // by doubling, a pack's buffer would pass through every size below
        // it and end at twice its size. (Pages not written to are not
        // memory the process holds.)
        let room = if p.bytes.capacity() == 0 { PACK_BYTES.max(bytes.len()) } else { bytes.len() };
        p.bytes.reserve_exact(room);
        p.bytes.extend_from_slice(bytes);
        match kind {
            Kind::Object => p.objects.insert(key, at),
            Kind::Action => p.actions.insert(key, at),
        };
        if p.bytes.len() >= PACK_BYTES {
            self.write_pack(&mut p)?;
        }
        Ok(())
    }

    fn pack_path(&self, name: Hash) -> PathBuf {
        self.root.join("packs").join(format!("{}.pack", name.to_hex()))
    }

    /// Writes the pack being filled and starts a new one.
    fn write_pack(&self, p: &mut Pending) -> Result<(), IoError> {
        if p.bytes.is_empty() {
            return Ok(());
        }
        if p.packs_lock.is_none() {
            p.packs_lock = Some(self.wait_for_lock(PACKS_LOCK, false)?);
        }
        let name = Hash::of(&p.bytes);
        self.sys.write_atomic(&self.root, &format!("packs/{}.pack", name.to_hex()), &p.bytes)?;
        // The next pack fills the same buffer: its pages are in memory
        // already, where a new one's would each be faulted in (a 1,000-
        // product clean build writes 16 packs; `flush` frees it).
        p.bytes.clear();
        let (objects, actions) = (std::mem::take(&mut p.objects), std::mem::take(&mut p.actions));
        let at = p.written.len() as u32;
        let run = |map: BTreeMap<Hash, (u64, u64)>| {
            map.into_iter().map(|(k, (offset, len))| (k, Location { pack: at, offset, len })).collect()
        };
        p.written_objects.push(run(objects));
        p.written_actions.push(run(actions));
        p.written.push(name);
        Ok(())
    }

    /// `this_build`: also what this process added.
    fn get(&self, kind: Kind, key: Hash, this_build: bool) -> Result<Option<Vec<u8>>, IoError> {
        let pick = |objects: &BTreeMap<Hash, (u64, u64)>, actions: &BTreeMap<Hash, (u64, u64)>| match kind {
            Kind::Object => objects.get(&key).copied(),
            Kind::Action => actions.get(&key).copied(),
        };
        let found = if !this_build {
            None
        } else {
            let p = self.pending();
            if let Some((offset, len)) = pick(&p.objects, &p.actions) {
                return Ok(Some(p.bytes[offset as usize..(offset + len) as usize].to_vec()));
            }
            p.written(kind, &key)
        };
        let (pack, (offset, len)) = match found {
            Some(f) => f,
            None => match self.locate(kind, &key)? {
                Some((name, loc)) => (name, (loc.offset, loc.len)),
                None => return Ok(None),
            },
        };
        // The system reads no more than the pack has, whatever the index says.
        self.sys.read_at(&self.pack_path(pack), offset, len)
    }

    /// Stores `bytes` under their hash.
    pub fn put_object(&self, bytes: &[u8]) -> Result<Hash, IoError> {
        let h = Hash::of(bytes);
        self.add(Kind::Object, h, bytes)?;
        Ok(h)
    }

    /// Whether an object of this hash is stored, or added by this process
    /// (unverified: for skipping work, never for serving).
    pub fn has_object(&self, h: Hash) -> Result<bool, IoError> {
        if self.locate(Kind::Object, &h)?.is_some() {
            return Ok(true);
        }
        let p = self.pending();
        Ok(p.objects.contains_key(&h) || p.written(Kind::Object, &h).is_some())
    }

    /// The object's bytes, verified: a damaged object is reported absent.
    pub fn get_object(&self, h: Hash) -> Result<Option<Vec<u8>>, IoError> {
        Ok(self.get(Kind::Object, h, true)?.filter(|bytes| Hash::of(bytes) == h))
    }

    pub fn put_action(&self, entry: &ActionEntry) -> Result<(), IoError> {
        let bytes = serde_json::to_vec(entry).expect("action entries serialize");
        self.add(Kind::Action, entry.key(), &bytes)
    }

    /// The cached action for `key`, if it decodes and holds for that key.
    pub fn get_action(&self, key: Hash) -> Result<Option<ActionEntry>, IoError> {
        self.action(key, true)
    }

    /// The cached action for `key` as earlier builds left it. A build asks
    /// this, so that whether a derivation counts as reused does not depend
    /// on which worker reached an equal key first.
    pub fn get_earlier_action(&self, key: Hash) -> Result<Option<ActionEntry>, IoError> {
        self.action(key, false)
    }

    fn action(&self, key: Hash, this_build: bool) -> Result<Option<ActionEntry>, IoError> {
        let Some(bytes) = self.get(Kind::Action, key, this_build)? else { return Ok(None) };
        Ok(serde_json::from_slice::<ActionEntry>(&bytes).ok().filter(|e| e.holds_for(key)))
    }

    /// Writes what this process added and adds its packs to the index.
    pub fn flush(&self) -> Result<(), IoError> {
        let (written, written_objects, written_actions, packs_lock) = {
            let mut p = self.pending();
            self.write_pack(&mut p)?;
            p.bytes = Vec::new();
            let objects = std::mem::take(&mut p.written_objects);
            let actions = std::mem::take(&mut p.written_actions);
            (std::mem::take(&mut p.written), objects, actions, p.packs_lock.take())
        };
        if written.is_empty() {
            return self.end_writes();
        }
        let index_lock = self.wait_for_lock(INDEX_LOCK, true)?;
        // Start from the index on disk: another process sharing the store may
        // have added packs since this one read it.
        let path = self.root.join("index");
        let on_disk = self.sys.stat(&path)?;
        let taken = self.index.lock().unwrap_or_else(|e| e.into_inner()).take();
        let loaded = match taken {
            Some(Ok(loaded)) if loaded.stat == on_disk => loaded,
            _ => self.read_index()?,
        };
        // What the last flush kept for a renewed store is replaced below.
        drop(self.written.lock().unwrap_or_else(|e| e.into_inner()).take());
        let old = &loaded.index;
        let mut packs = old.packs.clone();
        let mut builds = old.builds.clone();
        let build = builds.iter().max().map_or(0, |b| b + 1);
        let numbers: Vec<u32> = written
            .iter()
            .map(|name| match packs.iter().position(|p| p == name) {
                Some(n) => n as u32,
                None => {
                    packs.push(*name);
                    builds.push(build);
                    (packs.len() - 1) as u32
                }
            })
            .collect();
        // Of the entries of one key, the latest run's replaces the others
        // (an action entry added again, its objects having been lost).
        let located = |entries: written::Runs| {
            let mut runs = entries.into_runs();
            for (_, at) in runs.iter_mut().flatten() {
                at.pack = numbers[at.pack as usize];
            }
            runs
        };
        let (objects, actions) = (located(written_objects), located(written_actions));
        let added = index::Added { packs, builds, objects, actions };
        // Written a bucket at a time, those it does not reach copied as
        // they are: the old index is never decoded whole, nor the new one
        // made whole in memory.
        // `write_atomic_pieces` may start the write again: the pieces are
        // made from what is prepared here, as often as it asks.
        let extension = old.extension(added);
        let failed = std::cell::RefCell::new(None);
        let made = std::cell::RefCell::new(None);
        let result = self.sys.write_atomic_pieces(&self.root, "index", &|sink| {
            *made.borrow_mut() = Some(old.write_with(&extension, sink, &failed)?);
            Ok(())
        });
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        let stat = result?;
        self.tag_cache()?;
        let made = made.into_inner().expect("the index was written");
        // Kept for a store that follows this one (`renewed`), if no other
        // process writes the index before; and for this one's lookups.
        let source = Source::File { sys: self.sys.clone(), path, len: stat.size };
        let loaded = Loaded { index: Arc::new(made.open(source)), stat: Some(stat), sound: true };
        *self.index.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(loaded.clone()));
        *self.written.lock().unwrap_or_else(|e| e.into_inner()) = Some(loaded);
        drop((index_lock, packs_lock));
        self.end_writes()
    }

    /// This store as a new process would open it, to see what was added
    /// since this one read its index (by this process's last flush, or by
    /// another process). The index this one wrote or read is kept when the
    /// file is still as it was then: decoding it again was most of what a
    /// warm rebuild spent looking up its derivations.
    pub fn renewed(&self) -> Result<Store, IoError> {
        let store = Store::new(self.sys.clone(), self.root.clone(), None, self.out.clone());
        let log = Mutex::new(*self.log.lock().unwrap_or_else(|e| e.into_inner()));
        let store = Store { state_name: self.state_name.clone(), log, ..store };
        let on_disk = self.sys.stat(&self.root.join("index"))?;
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner()).take();
        let read = self.index.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let known = match (written, read) {
            (Some(w), _) if w.stat == on_disk => Some(w),
            (_, Some(Ok(l))) if l.stat == on_disk && on_disk.is_some() => Some(l),
            _ => None,
        };
        *store.index.lock().unwrap_or_else(|e| e.into_inner()) = known.map(Ok);
        Ok(store)
    }

    /// Writes a whole index (GC makes one anew).
    fn write_index(&self, index: &Index) -> Result<(), IoError> {
        self.sys.write_atomic_pieces(&self.root, "index", &|sink| index::write_whole(index, sink))?;
        self.tag_cache()
    }

    /// Writes the tag that tells backup and archiving tools the store is a
    /// cache (<https://bford.info/cachedir/>), if it is not there.
    fn tag_cache(&self) -> Result<(), IoError> {
        if self.sys.stat(&self.root.join(CACHEDIR_TAG))?.is_none() {
            self.sys.write_atomic(&self.root, CACHEDIR_TAG, CACHEDIR_TAG_TEXT.as_bytes())?;
        }
        Ok(())
    }

    /// The encoded state of the last build, when it is sound and of this store
    /// version and floe version; decode its parts with [`StateFile`].
    /// First cleans up after a killed build (see [`Store::recover`]).
    pub fn read_state(&self, floe_version: &str) -> Result<Option<StateFile>, IoError> {
        self.recover()?;
        let path = self.state_path();
        let Some(stat) = self.sys.stat(&path)? else { return Ok(None) };
        StateFile::open(Source::File { sys: self.sys.clone(), path, len: stat.size }, Some(floe_version))
    }

    /// Records the objects the workspace's `floe.lock` pins, which GC keeps
    /// as it keeps what the workspace's state references.
    pub fn save_pins(&self, pins: &[Hash]) -> Result<(), IoError> {
        let text: String = pins.iter().map(|h| format!("{}\n", h.to_hex())).collect();
        self.begin_writes()?;
        self.sys.write_atomic(&self.root, &self.state_name.replacen("state", PINS, 1), text.as_bytes())?;
        self.end_writes()
    }

    /// The entries of the state log that follows `file` (the state as read),
    /// to apply in order, and the log's stat when every byte of it is sound
    /// (the time of the last save). Remembers where the log stands, for
    /// [`Store::save_state`].
    pub fn read_log(&self, file: &StateFile) -> Result<(Vec<Delta>, Option<FileStat>), IoError> {
        let path = self.log_path();
        let read = match self.sys.stat(&path)? {
            Some(stat) => {
                self.sys.read(&path)?.and_then(|bytes| Some((log::read(&bytes, &file.id)?, bytes.len(), stat)))
            }
            None => None,
        };
        let at = log::At { state: file.id, state_len: file.source.len(), len: 0 };
        let (at, deltas, stat) = match read {
            // None, or another state's: the next save's replaces it.
            None => (Some(at), Vec::new(), None),
            Some((read, len, stat)) if read.sound => (Some(log::At { len: len as u64, ..at }), read.deltas, Some(stat)),
            // Torn: the next save writes the state whole.
            Some((read, ..)) => (None, read.deltas, None),
        };
        *self.log.lock().unwrap_or_else(|e| e.into_inner()) = at;
        Ok((deltas, stat))
    }

    /// Saves `state`: `delta` (what changed since the state this process
    /// last read or wrote) appended to the state's log while the log is
    /// small, else the state whole, its log removed. Returns the stat of
    /// the file written (its mtime is the time of the save). After a save
    /// that failed, what the log holds is not known: the next is whole.
    pub fn save_state(&self, state: &State, delta: Option<&DeltaOf<'_>>) -> Result<FileStat, IoError> {
        self.begin_writes()?;
        let mut at = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let saved = self.save_state_at(state, delta, at.take());
        *at = saved.as_ref().ok().map(|(_, a)| *a);
        drop(at);
        let (stat, _) = saved?;
        self.end_writes()?;
        Ok(stat)
    }

    /// [`Store::save_state`] from where the log stands (`at`); where it
    /// stands after.
    fn save_state_at(
        &self,
        state: &State,
        delta: Option<&DeltaOf<'_>>,
        at: Option<log::At>,
    ) -> Result<(FileStat, log::At), IoError> {
        let name = log::name(&self.state_name);
        match delta.zip(at).map(|(d, a)| (log::entry(d), a)).filter(|(e, a)| a.takes(e)) {
            Some((entry, a)) if a.len == 0 => {
                let bytes = [log::header(&a.state), entry].concat();
                let stat = self.sys.write_atomic(&self.root, &name, &bytes)?;
                Ok((stat, log::At { len: bytes.len() as u64, ..a }))
            }
            Some((entry, a)) => {
                let stat = self.sys.append(&self.root, &name, &entry)?;
                Ok((stat, log::At { len: a.len + entry.len() as u64, ..a }))
            }
            None => {
                // Written a part at a time: at 10,000 products the state is
                // 60 MB, and a copy of it whole was the largest part of a
                // saving build's peak memory.
                let id = Mutex::new([0; 32]);
                let stat = self.sys.write_atomic_pieces(&self.root, &self.state_name, &|sink| {
                    *id.lock().unwrap_or_else(|e| e.into_inner()) = encode_state(state, sink)?;
                    Ok(())
                })?;
                // After the state: a log left by a build killed in between
                // names the state before, and is not read.
                self.sys.remove_all(&self.root.join(&name))?;
                let id = id.into_inner().unwrap_or_else(|e| e.into_inner());
                Ok((stat, log::At { state: id, state_len: stat.size, len: 0 }))
            }
        }
    }
}

/// File records and package records per part of a state: about a megabyte
/// each, so that a build reading or writing the state holds one part's
/// bytes at a time.
const FILES_PER_PART: usize = 8192;
const PACKAGES_PER_PART: usize = 256;

/// A state's layout: its magic, then its parts (the directory listings,
/// the file records, the package records), then what they are (the
/// [`Trailer`]), then the trailer's length (u64, little endian) and its
/// blake3. A reader reads the trailer first, then one part at a time, each
/// checked against the sum the trailer gives it: a part of another state
/// (the file replaced between two reads) does not pass for one of this.
/// Written in that order to `sink`, a part at a time. Returns the state's
/// id: its trailer's blake3.
fn encode_state(state: &State, sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<[u8; 32]> {
    sink(STATE_MAGIC)?;
    let mut buf = Vec::new();
    let dirs = put_part(&mut buf, sink, &state.dirs)?;
    let mut trailer = Trailer {
        version: state.version,
        floe_version: state.floe_version.clone(),
        dirs,
        files: Vec::new(),
        packages: Vec::new(),
    };
    trailer.files = put_parts(&mut buf, sink, &state.files, FILES_PER_PART)?;
    trailer.packages = put_parts(&mut buf, sink, &state.packages, PACKAGES_PER_PART)?;
    put_trailer(&trailer, sink)
}

/// Hands `map`'s entries to `sink` as parts of `per_part` entries each,
/// and says what they are. A part's entries are listed (by reference) one
/// part at a time: at 10,000 products a list of all the file records
/// would take 2 MB as a cold build's memory is highest.
fn put_parts<V: Serialize>(
    buf: &mut Vec<u8>,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    map: &BTreeMap<WsPath, V>,
    per_part: usize,
) -> std::io::Result<Vec<Part>> {
    let mut parts = Vec::with_capacity(map.len().div_ceil(per_part));
    let mut entries = map.iter().peekable();
    let mut part: Vec<(&WsPath, &V)> = Vec::with_capacity(per_part.min(map.len()));
    while entries.peek().is_some() {
        part.clear();
        part.extend(entries.by_ref().take(per_part));
        parts.push(put_part(buf, sink, &part)?);
    }
    Ok(parts)
}

/// Ends a file of parts: its trailer, the trailer's length (u64, little
/// endian) and its blake3, which it returns.
fn put_trailer<T: Serialize>(
    trailer: &T,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<[u8; 32]> {
    let bytes = postcard::to_stdvec(trailer).expect("a trailer serializes");
    sink(&bytes)?;
    sink(&(bytes.len() as u64).to_le_bytes())?;
    let sum = *blake3::hash(&bytes).as_bytes();
    sink(&sum)?;
    Ok(sum)
}

/// The trailer of a file of parts in `source` (a state, an index), where it
/// starts, and its sum; `None` unless the file starts with `magic` and the
/// trailer's length and sum hold.
fn open_trailer<T: serde::de::DeserializeOwned>(
    source: &Source,
    magic: &[u8; 8],
) -> Result<Option<(T, u64, [u8; 32])>, IoError> {
    let Some(tail_at) = source.len().checked_sub(40) else { return Ok(None) };
    if source.get(0, magic.len() as u64)?.is_none_or(|m| *m != magic[..]) {
        return Ok(None);
    }
    let Some(tail) = source.get(tail_at, 40)? else { return Ok(None) };
    let trailer_len = u64::from_le_bytes(tail[..8].try_into().expect("eight bytes"));
    let Some(trailer_at) = tail_at.checked_sub(trailer_len) else { return Ok(None) };
    let Some(bytes) = source.get(trailer_at, trailer_len)? else { return Ok(None) };
    if blake3::hash(&bytes).as_bytes()[..] != tail[8..] {
        return Ok(None);
    }
    let sum = tail[8..].try_into().expect("32 bytes");
    Ok(postcard::from_bytes::<T>(&bytes).ok().map(|t| (t, trailer_at, sum)))
}

/// Hands `value`'s serialization to `sink` as one part (made in `buf`, a
/// buffer kept from part to part), and says what it is.
fn put_part<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    value: &T,
) -> std::io::Result<Part> {
    buf.clear();
    *buf = postcard::to_extend(value, std::mem::take(buf)).expect("store records serialize");
    sink(buf)?;
    Ok(Part { len: buf.len() as u64, sum: *blake3::hash(buf).as_bytes() })
}

/// One part of a state: its length and the blake3 of its bytes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Part {
    len: u64,
    sum: [u8; 32],
}

#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    version: u32,
    floe_version: String,
    dirs: Part,
    files: Vec<Part>,
    packages: Vec<Part>,
}

/// Where a state's bytes are read from, a range at a time.
pub(crate) enum Source {
    Bytes(Vec<u8>),
    File { sys: Arc<dyn System>, path: PathBuf, len: u64 },
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
        }
    }

    /// The bytes at `at`, `None` when the source has not that many (a file
    /// replaced since it was measured).
    fn get(&self, at: u64, len: u64) -> Result<Option<std::borrow::Cow<'_, [u8]>>, IoError> {
        Ok(match self {
            Source::Bytes(b) => crate::system::range(b, at, len).map(std::borrow::Cow::Borrowed),
            Source::File { sys, path, .. } => sys.read_at(path, at, len)?.map(std::borrow::Cow::Owned),
        })
    }

    /// The same into `buf`, kept from range to range: `false` when the
    /// source has not that many bytes.
    fn get_into(&self, at: u64, len: u64, buf: &mut Vec<u8>) -> Result<bool, IoError> {
        match self {
            Source::Bytes(b) => Ok(crate::system::range_into(b, at, len, buf)),
            Source::File { sys, path, .. } => sys.read_at_into(path, at, len, buf),
        }
    }
}

/// An encoded state whose trailer was read, decoded a part at a time (the
/// listings and the rest each on its own thread, if the caller likes). A
/// part whose bytes fail their sum, or do not decode, is left out: the build
/// redoes what it would have said.
pub struct StateFile {
    source: Source,
    trailer: Trailer,
    /// Its trailer's blake3, which sums every part: what its log names.
    id: [u8; 32],
}

impl StateFile {
    /// `floe_version`: the floe the state must be of (`None`: any).
    pub(crate) fn open(source: Source, floe_version: Option<&str>) -> Result<Option<StateFile>, IoError> {
        let Some((trailer, trailer_at, id)) = open_trailer::<Trailer>(&source, STATE_MAGIC)? else { return Ok(None) };
        let mut parts = std::iter::once(&trailer.dirs).chain(&trailer.files).chain(&trailer.packages);
        let end = parts.try_fold(STATE_MAGIC.len() as u64, |at, p| at.checked_add(p.len));
        let sound = end == Some(trailer_at)
            && trailer.version == STORE_VERSION
            && floe_version.is_none_or(|v| v == trailer.floe_version);
        Ok(sound.then_some(StateFile { source, trailer, id }))
    }

    /// The decoded parts `parts`, from the part at `at` on, each as `T`.
    fn decode<'a, T: serde::de::DeserializeOwned>(
        &'a self,
        mut at: u64,
        parts: &'a [Part],
    ) -> impl Iterator<Item = Result<Option<T>, IoError>> + 'a {
        parts.iter().map(move |p| {
            let start = at;
            at += p.len;
            let Some(bytes) = self.source.get(start, p.len)? else { return Ok(None) };
            if blake3::hash(&bytes).as_bytes() != &p.sum {
                return Ok(None);
            }
            Ok(postcard::from_bytes(&bytes).ok())
        })
    }

    /// What its log names it by.
    pub(crate) fn id(&self) -> &[u8; 32] {
        &self.id
    }

    pub fn dirs(&self) -> Result<crate::discover::Listings, IoError> {
        let mut parts = self.decode::<Vec<(WsPath, Arc<crate::discover::DirRecord>)>>(
            STATE_MAGIC.len() as u64,
            std::slice::from_ref(&self.trailer.dirs),
        );
        Ok(parts.next().transpose()?.flatten().unwrap_or_default().into_iter().collect())
    }

    /// Everything but the directories.
    pub fn state(&self) -> Result<State, IoError> {
        let (files, state) = self.records()?;
        Ok(State { files: files.iter().map(|(path, r)| (WsPath::of_text(path), *r)).collect(), ..state })
    }

    /// Everything but the directories, with the file records as a table
    /// (see [`FileTable`]).
    pub fn records(&self) -> Result<(FileTable, State), IoError> {
        let t = &self.trailer;
        let files_at = STATE_MAGIC.len() as u64 + t.dirs.len;
        let packages_at = files_at + t.files.iter().map(|p| p.len).sum::<u64>();
        let total: u64 = t.files.iter().map(|p| p.len).sum();
        let mut files = FileTable {
            // No more than the parts' bytes: the pages it does not fill are never touched.
            text: String::with_capacity(usize::try_from(total).unwrap_or(0)),
            records: Vec::with_capacity(bound(t.files.len(), FILES_PER_PART, total)),
        };
        self.read_parts(files_at, &t.files, |bytes| files.append(bytes))?;
        // Sorted parts of sorted pairs: the map is built in bulk.
        let total: u64 = t.packages.iter().map(|p| p.len).sum();
        let mut packages = Vec::with_capacity(bound(t.packages.len(), PACKAGES_PER_PART, total));
        self.read_parts(packages_at, &t.packages, |bytes| {
            let before = packages.len();
            let mut de = postcard::Deserializer::from_bytes(bytes);
            if serde::de::DeserializeSeed::deserialize(Append(&mut packages), &mut de).is_err() {
                packages.truncate(before);
            }
        })?;
        let state = State {
            version: t.version,
            floe_version: t.floe_version.clone(),
            dirs: BTreeMap::new(),
            files: BTreeMap::new(),
            packages: packages.into_iter().collect(),
        };
        Ok((files, state))
    }

    /// Hands each of the parts `parts` (from the part at `at` on) that
    /// passes its sum to `decode`, in order, all read into one buffer. A
    /// megabyte per part allocated, touched and freed was half a no-op's
    /// page faults beyond glibc's once the allocator handed freed pages
    /// back at once. `decode` leaves out a part that does not decode.
    fn read_parts(&self, mut at: u64, parts: &[Part], mut decode: impl FnMut(&[u8])) -> Result<(), IoError> {
        let mut bytes = Vec::new();
        for p in parts {
            let start = at;
            at += p.len;
            if self.source.get_into(start, p.len, &mut bytes)? && blake3::hash(&bytes).as_bytes() == &p.sum {
                decode(&bytes);
            }
        }
        Ok(())
    }
}

/// How many entries `parts` parts of at most `per_part` entries each, of
/// `total` bytes, can hold: each holds a 32-byte hash, so a damaged
/// trailer asks for no more than its parts' bytes could hold. Lists are
/// made at that size: grown by copying, they were copied as a no-op's
/// memory was highest.
fn bound(parts: usize, per_part: usize, total: u64) -> usize {
    parts.saturating_mul(per_part).min(usize::try_from(total / 32).unwrap_or(usize::MAX))
}

/// A state's file records as read: their paths in one text, not each in
/// an allocation of its own. A build pairs each record with the file the
/// walk found and keeps the walk's path (see `build::Session::open`): a
/// path made per record was made only to be dropped, and the decoding
/// competed with the walk for the same two cores.
#[derive(Debug, Default)]
pub struct FileTable {
    text: String,
    /// Each record, with where its path ends in `text` (it starts where
    /// the one before ends).
    records: Vec<(usize, FileRecord)>,
}

impl FileTable {
    /// The records, in the order of their paths.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FileRecord)> {
        self.records.iter().scan(0, |start, (end, record)| {
            let path = &self.text[*start..*end];
            *start = *end;
            Some((path, record))
        })
    }

    /// Decodes a part (a list of paths with their records) onto the end;
    /// one that does not decode adds nothing.
    fn append(&mut self, part: &[u8]) {
        let (text, records) = (self.text.len(), self.records.len());
        let mut de = postcard::Deserializer::from_bytes(part);
        if serde::de::DeserializeSeed::deserialize(AppendFiles(self), &mut de).is_err() {
            self.text.truncate(text);
            self.records.truncate(records);
        }
    }
}

/// Decodes a list of paths and their records onto the end of a table,
/// each path copied from the decoder's bytes into the table's text.
struct AppendFiles<'t>(&'t mut FileTable);

impl<'de> serde::de::DeserializeSeed<'de> for AppendFiles<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for AppendFiles<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of file records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let table = self.0;
        while let Some((path, record)) = seq.next_element::<(&'de str, FileRecord)>()? {
            table.text.push_str(path);
            table.records.push((table.text.len(), record));
        }
        Ok(())
    }
}

/// Decodes a list onto the end of a vector, made at its size (see [`bound`]).
struct Append<'v, T>(&'v mut Vec<T>);

impl<'de, T: Deserialize<'de>> serde::de::DeserializeSeed<'de> for Append<'_, T> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Append<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element()? {
            self.0.push(entry);
        }
        Ok(())
    }
}

/// Diagnostics carry optional fields a binary encoding cannot skip; they are
/// stored as JSON text inside it.
mod as_json {
    use floe_schemas::Diagnostic;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Diagnostic], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(v).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Diagnostic>, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::system::MemorySystem;

    fn entry(rule: &[u8]) -> ActionEntry {
        let rule = String::from_utf8_lossy(rule);
        ActionEntry {
            drv: DrvRecord::new(&rule, 1, BTreeMap::new(), Vec::new()),
            label: "//a:artifacts".into(),
            outputs: BTreeMap::new(),
        }
    }

    fn store(sys: &Arc<MemorySystem>) -> Store {
        Store::new(sys.clone(), PathBuf::from("/s"), None, PathBuf::from("/w/floe-out"))
    }

    #[test]
    fn a_renewed_store_keeps_the_index_it_wrote_unless_another_wrote_since() {
        let sys = Arc::new(MemorySystem::new());
        let first = store(&sys);
        let a = first.put_object(b"a").unwrap();
        first.flush().unwrap();
        let reads = sys.reads();
        let renewed = first.renewed().unwrap();
        assert_eq!(renewed.get_object(a).unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(sys.reads() - reads, 1, "the pack is read, the index is not");
        // Another process adds to the index: a renewed store reads it again.
        let other = store(&sys);
        let b = other.put_object(b"b").unwrap();
        other.flush().unwrap();
        let again = renewed.renewed().unwrap();
        assert_eq!(again.get_object(b).unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(again.get_object(a).unwrap().as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn a_known_target_name_is_read_without_a_copy() {
        for (name, known) in [("k8s", true), ("helm-values", true), ("a-later-target", false)] {
            let record = DerivationRecord { target: name.to_owned().into(), key: Hash::of(name.as_bytes()) };
            let read: DerivationRecord = postcard::from_bytes(&postcard::to_stdvec(&record).unwrap()).unwrap();
            assert_eq!(read, record);
            assert_eq!(matches!(read.target, std::borrow::Cow::Borrowed(_)), known, "{name}");
        }
    }

    #[test]
    fn what_a_build_wrote_is_found_by_its_whole_key() {
        let key = |last: u8| {
            let mut h = [7u8; 32];
            h[31] = last;
            Hash(h)
        };
        let mut p = Pending::default();
        for (i, k) in [key(1), key(2)].into_iter().enumerate() {
            p.written_objects.push(vec![(k, Location { pack: i as u32, offset: i as u64, len: 1 })]);
            p.written.push(Hash::of(&[i as u8]));
        }
        assert_eq!(p.written(Kind::Object, &key(1)), Some((Hash::of(&[0]), (0, 1))));
        assert_eq!(p.written(Kind::Object, &key(2)), Some((Hash::of(&[1]), (1, 1))));
        assert_eq!(p.written(Kind::Object, &key(3)), None);
        assert_eq!(p.written(Kind::Action, &key(2)), None);
    }

    #[test]
    fn entries_survive_a_flush_and_a_new_process() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let h = store.put_object(b"hello").unwrap();
        store.put_action(&entry(b"k")).unwrap();
        assert_eq!(store.get_object(h).unwrap().as_deref(), Some(&b"hello"[..]), "served before the flush");
        store.flush().unwrap();
        let store = self::store(&sys);
        assert_eq!(store.get_object(h).unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(store.get_action(entry(b"k").key()).unwrap(), Some(entry(b"k")));
        assert_eq!(sys.files_under("/s/packs").len(), 1, "one pack for everything a build adds");
        assert_eq!(sys.get(store.journal_path()), None, "a build that finished leaves no journal");
    }

    #[test]
    fn what_fills_several_packs_is_served_from_each() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        // Five objects of 1.5 MB: a pack is written once it holds 4 MB, and
        // the second, filled in the first one's buffer, by the flush.
        let objects: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 3 << 19]).collect();
        let hashes: Vec<Hash> = objects.iter().map(|o| store.put_object(o).unwrap()).collect();
        assert_eq!(sys.files_under("/s/packs").len(), 1, "written once it held 4 MB");
        for (h, o) in hashes.iter().zip(&objects) {
            assert_eq!(store.get_object(*h).unwrap().as_ref(), Some(o), "served before the flush");
        }
        store.flush().unwrap();
        let packs = sys.files_under("/s/packs");
        assert_eq!(packs.len(), 2);
        let held: usize = packs.iter().map(|p| sys.get(p).unwrap().len()).sum();
        assert_eq!(held, objects.iter().map(Vec::len).sum::<usize>(), "each object in one pack");
        for pack in &packs {
            let bytes = sys.get(pack).unwrap();
            let name = pack.file_stem().unwrap().to_string_lossy().into_owned();
            assert_eq!(Hash::of(&bytes).to_hex(), name, "a pack holds what it is named for");
        }
        let store = self::store(&sys);
        for (h, o) in hashes.iter().zip(&objects) {
            assert_eq!(store.get_object(*h).unwrap().as_ref(), Some(o));
        }
    }

    #[test]
    fn damaged_entries_are_not_served() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let h = store.put_object(b"hello").unwrap();
        store.put_action(&entry(b"k")).unwrap();
        store.flush().unwrap();
        let pack = sys.files_under("/s/packs").pop().unwrap();
        let mut bytes = sys.get(&pack).unwrap();
        bytes[0] ^= 1;
        let n = bytes.len();
        bytes[n - 2] ^= 1;
        sys.put(&pack, bytes);
        let store = self::store(&sys);
        assert_eq!(store.get_object(h).unwrap(), None);
        assert_eq!(store.get_action(entry(b"k").key()).unwrap(), None);

        sys.put("/s/index", [9u8, 9, 9]);
        let store = self::store(&sys);
        assert_eq!(store.get_action(entry(b"k").key()).unwrap(), None, "an unreadable index starts afresh");
    }

    /// Every byte of a stored file in turn: flipped, and each run of eight
    /// overwritten by the largest lengths (wrapping or not) a damaged file can
    /// hold. `check` must neither panic nor trust the result.
    fn damage(original: &[u8], mut check: impl FnMut(Vec<u8>)) {
        for at in 0..original.len() {
            let mut flipped = original.to_vec();
            flipped[at] ^= 0x80;
            check(flipped);
            for value in [u64::MAX, u64::MAX - 40, 1 << 62] {
                let mut long = original.to_vec();
                let end = (at + 8).min(long.len());
                long[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
                check(long);
            }
        }
    }

    #[test]
    fn a_damaged_index_is_never_trusted_and_never_allocated_from() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let h = store.put_object(b"hello").unwrap();
        store.put_action(&entry(b"k")).unwrap();
        store.flush().unwrap();
        let original = sys.get("/s/index").unwrap();
        damage(&original, |bytes| {
            sys.put("/s/index", &bytes);
            let store = self::store(&sys);
            // Either the entry as it was, or nothing: never a panic, never other bytes.
            let object = store.get_object(h).unwrap();
            assert!(object.is_none() || object.as_deref() == Some(&b"hello"[..]));
            let action = store.get_action(entry(b"k").key()).unwrap();
            assert!(action.is_none() || action == Some(entry(b"k")));
        });
    }

    #[test]
    fn an_index_that_names_more_bytes_than_a_pack_has_serves_nothing() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let h = store.put_object(b"hello").unwrap();
        store.flush().unwrap();
        // Sound as a file (its sums match), wrong in what it says.
        let whole = |bytes: Vec<u8>| index::IndexFile::open(Source::Bytes(bytes)).unwrap().unwrap().whole().unwrap().0;
        let written = |index: &Index| {
            let mut out = Vec::new();
            index::write_whole(index, &mut |piece| {
                out.extend_from_slice(piece);
                Ok(())
            })
            .unwrap();
            out
        };
        let mut index = whole(sys.get("/s/index").unwrap());
        let loc = index.objects.get_mut(&h).unwrap();
        (loc.offset, loc.len) = (8, u64::MAX - 4);
        sys.put("/s/index", written(&index));
        assert_eq!(self::store(&sys).get_object(h).unwrap(), None);
        index.objects.get_mut(&h).unwrap().len = u64::MAX / 2;
        sys.put("/s/index", written(&index));
        assert_eq!(self::store(&sys).get_object(h).unwrap(), None);
    }

    fn load(store: &Store, floe_version: &str) -> State {
        let encoded = store.read_state(floe_version).unwrap();
        encoded.map(|e| State { dirs: e.dirs().unwrap(), ..e.state().unwrap() }).unwrap_or_default()
    }

    fn sample_state() -> State {
        let mut state = State { version: STORE_VERSION, floe_version: "0".into(), ..State::default() };
        // Both sections: the directory listings and the rest.
        let record = crate::discover::DirRecord {
            mtime_ns: 7,
            dirs: ["sales"].into_iter().collect(),
            files: ["models"].into_iter().collect(),
            ..Default::default()
        };
        state.dirs.insert(WsPath::ROOT, Arc::new(record));
        let stat = FileStat { size: 3, mtime_ns: 5, inode: 9 };
        let rec = FileRecord { stat, raw: Hash::of(b"raw"), normal: None };
        state.files.insert(WsPath::new("sales/models/stg_orders.sql").unwrap(), rec);
        state
    }

    /// A state of `n` file records, in parts of [`FILES_PER_PART`].
    fn large_state(n: usize, tag: &[u8]) -> State {
        let mut state = sample_state();
        for i in 0..n {
            let stat = FileStat { size: i as u64, mtime_ns: 5, inode: 9 };
            let rec = FileRecord { stat, raw: Hash::of(tag), normal: None };
            state.files.insert(WsPath::new(&format!("p/{i:06}.sql")).unwrap(), rec);
        }
        state
    }

    #[test]
    fn a_save_appends_to_the_log_of_the_state_read_and_a_whole_one_removes_it() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let state = large_state(10, b"a");
        // No state read yet: written whole, whatever the delta.
        store.save_state(&state, Some(&DeltaOf::default())).unwrap();
        assert!(sys.get(store.log_path()).is_none());
        let mut next = large_state(10, b"a");
        // One record changed, one removed, three added: two before the table's first, one after its last.
        let changed = WsPath::new("p/000003.sql").unwrap();
        let (removed, added) = (WsPath::new("p/000005.sql").unwrap(), WsPath::new("a.sql").unwrap());
        let (first, last) = (WsPath::new("a/first.sql").unwrap(), WsPath::new("z.sql").unwrap());
        next.files.get_mut(&changed).unwrap().raw = Hash::of(b"b");
        next.files.remove(&removed);
        for p in [&added, &first, &last] {
            next.files.insert(p.clone(), FileRecord { raw: Hash::of(p.as_str().as_bytes()), ..next.files[&changed] });
        }
        let delta = DeltaOf {
            files: [&first, &added, &changed, &removed, &last].map(|p| (p, next.files.get(p))).to_vec(),
            ..DeltaOf::default()
        };
        let fresh = self::store(&sys);
        let file = fresh.read_state("0").unwrap().unwrap();
        assert_eq!(fresh.read_log(&file).unwrap().0, Vec::new());
        fresh.save_state(&next, Some(&delta)).unwrap();
        fresh.save_state(&next, Some(&DeltaOf::default())).unwrap();
        // Read back: the state and what its log says, in order.
        let again = self::store(&sys);
        let file = again.read_state("0").unwrap().unwrap();
        let (deltas, logged) = again.read_log(&file).unwrap();
        assert_eq!(deltas.len(), 2);
        assert_eq!(logged, sys.stat(&again.log_path()).unwrap(), "a sound log's stat is the last save's");
        let mut read = file.state().unwrap();
        deltas.iter().for_each(|d| d.apply(&mut read));
        assert_eq!(read.files, next.files);
        // As a build reads them: the file records' table, with the log.
        let (table, _) = file.records().unwrap();
        let with_log: Vec<(&str, &FileRecord)> = files_with_log(&table, &deltas).collect();
        let expected: Vec<(&str, &FileRecord)> = next.files.iter().map(|(p, r)| (p.as_str(), r)).collect();
        assert_eq!(with_log, expected);
        // Written whole: the log goes with the state it followed.
        again.save_state(&next, None).unwrap();
        assert!(sys.get(again.log_path()).is_none());
        let file = self::store(&sys).read_state("0").unwrap().unwrap();
        assert_eq!(file.state().unwrap().files, next.files);
    }

    #[test]
    fn a_state_is_read_a_part_at_a_time_and_a_damaged_part_is_left_out() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let state = large_state(2 * FILES_PER_PART + 10, b"a");
        store.save_state(&state, None).unwrap();
        assert_eq!(load(&store, "0"), state);
        // Damage in the second part of the file records: only its records go.
        let mut bytes = sys.get(store.state_path()).unwrap();
        let at = bytes.windows(9).position(|w| w == b"p/008200.").unwrap();
        bytes[at + 2] ^= 0x01;
        sys.put(store.state_path(), &bytes);
        let loaded = load(&store, "0");
        assert_eq!(loaded.dirs, state.dirs);
        assert_eq!(loaded.files.len(), state.files.len() - FILES_PER_PART);
        assert!(loaded.files.iter().all(|(p, r)| state.files.get(p) == Some(r)));
    }

    #[test]
    fn a_part_that_passes_its_sum_but_does_not_decode_adds_nothing() {
        // A part cut short, with a sum to match: the records decoded
        // before the cut are taken back; the next part is read as usual.
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let state = large_state(FILES_PER_PART + 10, b"a");
        store.save_state(&state, None).unwrap();
        let bytes = sys.get(store.state_path()).unwrap();
        let file = StateFile::open(Source::Bytes(bytes.clone()), Some("0")).unwrap().unwrap();
        let mut trailer = file.trailer;
        let at = (STATE_MAGIC.len() as u64 + trailer.dirs.len) as usize;
        let end = at + trailer.files[0].len as usize;
        let cut = &bytes[at..(at + end) / 2];
        trailer.files[0] = Part { len: cut.len() as u64, sum: *blake3::hash(cut).as_bytes() };
        let torn = [&bytes[..at], cut, &bytes[end..]].concat();
        let torn = StateFile { source: Source::Bytes(torn), trailer, id: file.id };
        let files = torn.state().unwrap().files;
        let second: BTreeMap<_, _> = state.files.into_iter().skip(FILES_PER_PART).collect();
        assert_eq!((files.len(), second.len()), (11, 11), "only the second part's records");
        assert!(files == second);
    }

    #[test]
    fn a_part_of_another_state_is_not_taken_for_one_of_this() {
        // The file replaced between two reads: the trailer read first names
        // the sums of its own parts, and a part of the other state, even one
        // at the same place with the same length, fails them.
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        store.save_state(&large_state(10, b"a"), None).unwrap();
        let first = sys.get(store.state_path()).unwrap();
        store.save_state(&large_state(10, b"b"), None).unwrap();
        let second = sys.get(store.state_path()).unwrap();
        assert_eq!(first.len(), second.len());
        let source = Source::Bytes(first.clone());
        let file = StateFile::open(source, Some("0")).unwrap().unwrap();
        let torn = StateFile { source: Source::Bytes(second), trailer: file.trailer, id: file.id };
        assert_eq!(torn.dirs().unwrap(), large_state(0, b"a").dirs, "the listings are the same in both");
        assert!(torn.state().unwrap().files.is_empty());
    }

    #[test]
    fn state_round_trips_and_is_dropped_when_unreadable() {
        let sys = Arc::new(MemorySystem::new());
        let store = Store::new(sys.clone(), PathBuf::from("/s"), Some(Hash::of(b"/ws")), PathBuf::from("/ws/floe-out"));
        let state = sample_state();
        store.save_state(&state, None).unwrap();
        assert!(store.state_path().to_string_lossy().starts_with("/s/state-"));
        assert_eq!(load(&store, "0"), state);
        assert_eq!(load(&store, "1"), State::default(), "another floe version starts afresh");
        sys.put(store.state_path(), [1u8, 2, 3]);
        assert_eq!(load(&store, "0"), State::default());
    }

    #[test]
    fn a_damaged_state_is_dropped_even_when_it_still_decodes() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        let state = sample_state();
        store.save_state(&state, None).unwrap();
        let original = sys.get(store.state_path()).unwrap();
        // A renamed entry of a listing and of the stat cache: both still decode.
        for name in [&b"models"[..], b"stg_orders"] {
            let at = original.windows(name.len()).position(|w| w == name).unwrap();
            let mut renamed = original.clone();
            renamed[at] ^= 0x01;
            sys.put(store.state_path(), renamed);
            let loaded = load(&store, "0");
            assert!(loaded.dirs.is_empty() || loaded.files.is_empty(), "a damaged section is dropped");
            assert!(loaded.dirs.is_empty() || loaded.dirs == state.dirs);
            assert!(loaded.files.is_empty() || loaded.files == state.files);
        }
        damage(&original, |bytes| {
            sys.put(store.state_path(), &bytes);
            let loaded = load(&store, "0");
            assert!(loaded.dirs.is_empty() || loaded.dirs == state.dirs);
            assert!(loaded.files.is_empty() || loaded.files == state.files);
        });
    }

    #[test]
    fn a_killed_build_is_cleaned_up_after() {
        let sys = Arc::new(MemorySystem::new());
        let store = store(&sys);
        store.put_object(b"kept").unwrap();
        store.flush().unwrap();
        let kept = sys.files_under("/s/packs");
        // What a build killed while it wrote leaves behind.
        let orphan = format!("/s/packs/{}.pack", Hash::of(b"orphan").to_hex());
        let left = [
            orphan.clone(),
            "/w/floe-out/a/.profiles.yml.floe-tmp-9-0".to_owned(),
            "/s/packs/.x.pack.floe-tmp-9-1".to_owned(),
        ];
        for path in &left {
            sys.put(path, "partial");
        }
        sys.put(store.journal_path(), "");

        // While another build is adding packs, its packs are not touched;
        // the journal stays for a later build to finish the job.
        let other = match sys.try_lock(Path::new("/s/lock"), false, true).unwrap() {
            Locked::Held(lock) => lock,
            other => panic!("{other:?}"),
        };
        self::store(&sys).read_state("0").unwrap();
        assert!(sys.get(&orphan).is_some());
        assert!(sys.get("/w/floe-out/a/.profiles.yml.floe-tmp-9-0").is_none(), "temporary files go at once");
        assert!(sys.get(store.journal_path()).is_some());
        drop(other);

        self::store(&sys).read_state("0").unwrap();
        for path in &left {
            assert!(sys.get(path).is_none(), "{path} is still there");
        }
        assert_eq!(sys.get(store.journal_path()), None);
        assert_eq!(sys.files_under("/s/packs"), kept, "packs the index names stay");

        // Without a journal (the last build finished), nothing is looked at.
        sys.put(&orphan, "partial");
        self::store(&sys).read_state("0").unwrap();
        assert!(sys.get(&orphan).is_some());
    }

    #[test]
    fn a_build_of_the_same_workspace_under_way_is_left_alone() {
        let sys = Arc::new(MemorySystem::new());
        let writing = store(&sys);
        writing.put_object(b"being written").unwrap();
        assert!(sys.get(writing.journal_path()).is_some(), "the journal is there while a build writes");
        sys.put("/w/floe-out/a/.profiles.yml.floe-tmp-9-0", "partial");
        store(&sys).read_state("0").unwrap();
        assert!(sys.get("/w/floe-out/a/.profiles.yml.floe-tmp-9-0").is_some());
        writing.flush().unwrap();
        assert_eq!(sys.get(writing.journal_path()), None);
    }

    /// An entry whose output is the object `output`.
    fn entry_with(rule: &str, output: Hash) -> ActionEntry {
        let drv = DrvRecord::new(rule, 1, BTreeMap::new(), vec!["out".into()]);
        ActionEntry { drv, label: format!("//{rule}:artifacts"), outputs: BTreeMap::from([("out".to_owned(), output)]) }
    }

    /// Three builds on one store; a workspace state names the first build's entry.
    fn three_builds(sys: &Arc<MemorySystem>) -> [ActionEntry; 3] {
        let entries = ["first", "second", "third"].map(|rule| {
            let store = store(sys);
            let out = store.put_object(rule.as_bytes()).unwrap();
            store.put_object(format!("{rule} scratch").as_bytes()).unwrap();
            let e = entry_with(rule, out);
            store.put_action(&e).unwrap();
            store.flush().unwrap();
            e
        });
        let mut state = State { version: STORE_VERSION, floe_version: "another floe".into(), ..State::default() };
        let record = PackageRecord {
            deps: Vec::new(),
            structure: Hash::of(b""),
            derivations: vec![DerivationRecord { target: "artifacts".into(), key: entries[0].key() }],
            outputs: Vec::new(),
            dirs: Vec::new(),
            warnings: Vec::new(),
            date: None,
            settings: Hash::of(b""),
        };
        state.packages.insert(WsPath::new("a").unwrap(), record);
        store(sys).save_state(&state, None).unwrap();
        entries
    }

    #[test]
    fn gc_keeps_what_a_states_log_references() {
        let sys = Arc::new(MemorySystem::new());
        let [_, second, _] = three_builds(&sys);
        // A later build's record, in the state's log.
        let store = store(&sys);
        let file = store.read_state("another floe").unwrap().unwrap();
        store.read_log(&file).unwrap();
        let mut state = file.state().unwrap();
        let mut record = state.packages[&WsPath::new("a").unwrap()].clone();
        record.derivations[0].key = second.key();
        let b = WsPath::new("b").unwrap();
        state.packages.insert(b.clone(), record);
        store
            .save_state(&state, Some(&DeltaOf { packages: vec![(&b, state.packages.get(&b))], ..DeltaOf::default() }))
            .unwrap();
        assert!(sys.get(store.log_path()).is_some());
        let report = self::store(&sys).gc(1).unwrap();
        assert_eq!((report.actions_kept, report.actions_removed), (3, 0));
    }

    #[test]
    fn gc_keeps_what_states_and_the_last_builds_reference() {
        let sys = Arc::new(MemorySystem::new());
        let [first, second, third] = three_builds(&sys);
        assert_eq!(sys.files_under("/s/packs").len(), 3);
        let report = store(&sys).gc(1).unwrap();
        assert_eq!((report.packs_before, report.states, report.damaged), (3, 1, 0));
        // The state's entry with its output (not the scratch object of its
        // build), and everything the last build added.
        assert_eq!((report.actions_kept, report.actions_removed), (2, 1));
        assert_eq!((report.objects_kept, report.objects_removed), (3, 3));
        assert!(report.bytes_after < report.bytes_before);
        let after = store(&sys);
        assert_eq!(after.get_action(first.key()).unwrap(), Some(first.clone()));
        assert_eq!(after.get_object(first.outputs["out"]).unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(after.get_action(second.key()).unwrap(), None);
        assert_eq!(after.get_object(Hash::of(b"third scratch")).unwrap().as_deref(), Some(&b"third scratch"[..]));
        assert_eq!(after.get_action(third.key()).unwrap(), Some(third));
        // Builds stay apart: with one build kept, a second GC keeps the same.
        assert_eq!(after.verify().unwrap().problems, Vec::<String>::new());
        let again = store(&sys).gc(1).unwrap();
        assert_eq!((again.actions_kept, again.objects_kept, again.actions_removed), (2, 3, 0));
        assert_eq!(sys.get("/s/CACHEDIR.TAG").unwrap()[..43], b"Signature: 8a477f597d28d172789f06886806bc55"[..]);
    }

    #[test]
    fn verify_reports_damage_and_gc_drops_it() {
        let sys = Arc::new(MemorySystem::new());
        let [first, ..] = three_builds(&sys);
        assert_eq!(store(&sys).verify().unwrap().problems, Vec::<String>::new());
        // Flip a byte of the first build's output object, inside its pack.
        let index = index::IndexFile::open(Source::Bytes(sys.get("/s/index").unwrap())).unwrap().unwrap();
        let (index, _) = index.whole().unwrap();
        let loc = index.objects[&first.outputs["out"]];
        let pack = format!("/s/packs/{}.pack", index.packs[loc.pack as usize].to_hex());
        let mut bytes = sys.get(&pack).unwrap();
        bytes[loc.offset as usize] ^= 1;
        sys.put(&pack, bytes);
        let report = store(&sys).verify().unwrap();
        assert_eq!(report.problems, [format!("object {} does not hash to its name", first.outputs["out"])]);
        assert_eq!((report.packs, report.objects, report.actions, report.states), (3, 6, 3, 1));
        // GC drops the object and the entry that produced it (its next build
        // builds it again), and leaves a sound store.
        let gc = store(&sys).gc(3).unwrap();
        assert_eq!((gc.damaged, gc.actions_kept, gc.objects_kept), (2, 2, 5));
        assert_eq!(store(&sys).verify().unwrap().problems, Vec::<String>::new());
        assert_eq!(store(&sys).get_action(first.key()).unwrap(), None);
    }
}
