//! The store: content-addressed objects, the action cache, and build state.
//!
//! ```text
//! .floe/packs/<hash>.pack   immutable packs: the objects and action entries one build added
//! .floe/index               where each object and action entry lives (pack, offset, length)
//! .floe/state               this workspace's directory and stat caches and package records
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
//! another key, an index or state that does not decode — each is treated as
//! absent (and rebuilt), never served.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use floe_schemas::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::path::WsPath;
use crate::system::{FileStat, IoError, System};

/// Bumped whenever the layout of anything under `.floe/` changes.
pub const STORE_VERSION: u32 = 4;

/// One cached derivation: what it was built from and what it produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    pub key: Hash,
    pub label: String,
    pub rule: String,
    pub rule_version: u32,
    pub floe_version: String,
    /// Named input hashes: the input manifest `floe why` compares.
    pub inputs: BTreeMap<String, Hash>,
    /// Output file name to content hash.
    pub outputs: BTreeMap<String, Hash>,
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
    pub objects: BTreeMap<Hash, Location>,
    pub actions: BTreeMap<Hash, Location>,
}

/// What the store remembers of one workspace between processes. A no-op build
/// reads it and little else, so it is stored in a compact binary encoding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub floe_version: String,
    /// Hash of the settings every key depends on (`SOURCE_DATE_EPOCH`).
    pub settings: Hash,
    /// Directory listings by mtime, so unchanged directories are not read.
    /// Stored in a section of its own, so the walk can start while the rest
    /// is still being decoded.
    #[serde(skip)]
    pub dirs: BTreeMap<WsPath, crate::discover::DirRecord>,
    /// Stat cache: what each input file hashed to when it had this stat.
    #[serde(deserialize_with = "sorted_map")]
    pub files: BTreeMap<WsPath, FileRecord>,
    /// The last successful build of each package.
    #[serde(deserialize_with = "sorted_map")]
    pub packages: BTreeMap<WsPath, PackageRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The mtime of the package's directory under `floe-out/` once its outputs
    /// were written: while it holds, no output was added, removed or replaced.
    pub out_dir_mtime: Option<i64>,
    /// Warnings of the last evaluation, replayed when it is reused.
    #[serde(with = "as_json")]
    pub warnings: Vec<Diagnostic>,
    /// The evaluation date its evaluation read (expiring policy overrides),
    /// if it read one: the record holds only on that date.
    pub date: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivationRecord {
    pub target: String,
    pub key: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub path: WsPath,
    pub hash: Hash,
    pub stat: FileStat,
}

#[derive(Clone, Copy, PartialEq, Eq)]
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
    written: Vec<WrittenPack>,
}

struct WrittenPack {
    name: Hash,
    objects: BTreeMap<Hash, (u64, u64)>,
    actions: BTreeMap<Hash, (u64, u64)>,
}

pub struct Store {
    sys: Arc<dyn System>,
    root: PathBuf,
    /// Name of this workspace's state file.
    state_name: String,
    /// The index as read, with the stat it had then.
    index: OnceLock<Result<(Index, Option<FileStat>), IoError>>,
    pending: Mutex<Pending>,
}

impl Store {
    /// `workspace_id` tells workspaces that share a store apart; `None` for a
    /// store of its own (the default `.floe/` inside the workspace).
    pub fn new(sys: Arc<dyn System>, root: PathBuf, workspace_id: Option<Hash>) -> Store {
        let state_name = match workspace_id {
            None => "state".to_owned(),
            Some(h) => format!("state-{}", &h.to_hex()[..16]),
        };
        Store { sys, root, state_name, index: OnceLock::new(), pending: Mutex::new(Pending::default()) }
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join(&self.state_name)
    }

    fn index(&self) -> Result<&Index, IoError> {
        self.index.get_or_init(|| self.read_index()).as_ref().map(|(i, _)| i).map_err(Clone::clone)
    }

    fn read_index(&self) -> Result<(Index, Option<FileStat>), IoError> {
        let path = self.root.join("index");
        let stat = self.sys.stat(&path)?;
        let index = match self.sys.read(&path)? {
            Some(bytes) => {
                postcard::from_bytes::<Index>(&bytes).ok().filter(|i| i.version == STORE_VERSION).unwrap_or_default()
            }
            None => Index::default(),
        };
        Ok((index, stat))
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, kind: Kind, key: Hash, bytes: &[u8]) -> Result<(), IoError> {
        let index = self.index()?;
        let known = match kind {
            Kind::Object => index.objects.contains_key(&key),
            Kind::Action => index.actions.contains_key(&key),
        };
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
        let name = Hash::of(&p.bytes);
        self.sys.write_atomic(&self.pack_path(name), &p.bytes)?;
        p.bytes = Vec::new();
        let (objects, actions) = (std::mem::take(&mut p.objects), std::mem::take(&mut p.actions));
        p.written.push(WrittenPack { name, objects, actions });
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
            p.written.iter().find_map(|w| pick(&w.objects, &w.actions).map(|at| (w.name, at)))
        };
        let (pack, (offset, len)) = match found {
            Some(f) => f,
            None => {
                let index = self.index()?;
                let loc = match kind {
                    Kind::Object => index.objects.get(&key),
                    Kind::Action => index.actions.get(&key),
                };
                let Some(loc) = loc else { return Ok(None) };
                let Some(name) = index.packs.get(loc.pack as usize) else { return Ok(None) };
                (*name, (loc.offset, loc.len))
            }
        };
        self.sys.read_at(&self.pack_path(pack), offset, len)
    }

    /// Stores `bytes` under their hash.
    pub fn put_object(&self, bytes: &[u8]) -> Result<Hash, IoError> {
        let h = Hash::of(bytes);
        self.add(Kind::Object, h, bytes)?;
        Ok(h)
    }

    /// The object's bytes, verified: a damaged object is reported absent.
    pub fn get_object(&self, h: Hash) -> Result<Option<Vec<u8>>, IoError> {
        Ok(self.get(Kind::Object, h, true)?.filter(|bytes| Hash::of(bytes) == h))
    }

    pub fn put_action(&self, entry: &ActionEntry) -> Result<(), IoError> {
        let bytes = serde_json::to_vec(entry).expect("action entries serialize");
        self.add(Kind::Action, entry.key, &bytes)
    }

    /// The cached action for `key`, if it decodes and names that key.
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
        Ok(serde_json::from_slice::<ActionEntry>(&bytes).ok().filter(|e| e.key == key))
    }

    /// Writes what this process added and adds its packs to the index.
    pub fn flush(&self) -> Result<(), IoError> {
        let written = {
            let mut p = self.pending();
            self.write_pack(&mut p)?;
            std::mem::take(&mut p.written)
        };
        if written.is_empty() {
            return Ok(());
        }
        // Start from the index on disk: another process sharing the store may
        // have added packs since this one read it.
        let on_disk = self.sys.stat(&self.root.join("index"))?;
        let mut index = match self.index.get() {
            Some(Ok((index, stat))) if *stat == on_disk => index.clone(),
            _ => self.read_index()?.0,
        };
        index.version = STORE_VERSION;
        for pack in written {
            let n = match index.packs.iter().position(|p| *p == pack.name) {
                Some(n) => n as u32,
                None => {
                    index.packs.push(pack.name);
                    (index.packs.len() - 1) as u32
                }
            };
            for (key, (offset, len)) in pack.objects {
                index.objects.insert(key, Location { pack: n, offset, len });
            }
            for (key, (offset, len)) in pack.actions {
                index.actions.insert(key, Location { pack: n, offset, len });
            }
        }
        let bytes = postcard::to_stdvec(&index).expect("the index serializes");
        self.sys.write_atomic(&self.root.join("index"), &bytes)?;
        Ok(())
    }

    /// The encoded state of the last build, when it is of this store version
    /// and floe version; decode its two sections with [`StateBytes`].
    pub fn read_state(&self, floe_version: &str) -> Result<Option<StateBytes>, IoError> {
        let Some(bytes) = self.sys.read(&self.state_path())? else { return Ok(None) };
        // Layout: header (store version, floe version), the length of the
        // directory section, the directory section, the rest.
        let Ok(((v, fv), rest)) = postcard::take_from_bytes::<(u32, String)>(&bytes) else { return Ok(None) };
        if v != STORE_VERSION || fv != floe_version || rest.len() < 8 {
            return Ok(None);
        }
        let header = bytes.len() - rest.len();
        let dirs_len = u64::from_le_bytes(rest[..8].try_into().expect("eight bytes")) as usize;
        let dirs = header + 8..header + 8 + dirs_len;
        if dirs.end > bytes.len() {
            return Ok(None);
        }
        let main = dirs.end..bytes.len();
        Ok(Some(StateBytes { bytes, dirs, main }))
    }

    pub fn save_state(&self, state: &State) -> Result<FileStat, IoError> {
        let mut bytes = postcard::to_stdvec(&(state.version, &state.floe_version)).expect("the header serializes");
        let dirs = postcard::to_stdvec(&state.dirs).expect("directories serialize");
        bytes.extend_from_slice(&(dirs.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&dirs);
        bytes.extend_from_slice(&postcard::to_stdvec(state).expect("state serializes"));
        self.sys.write_atomic(&self.state_path(), &bytes)
    }
}

/// An encoded state, decoded a section at a time (each on its own thread, if
/// the caller likes). A section that does not decode is empty.
pub struct StateBytes {
    bytes: Vec<u8>,
    dirs: std::ops::Range<usize>,
    main: std::ops::Range<usize>,
}

impl StateBytes {
    pub fn dirs(&self) -> BTreeMap<WsPath, crate::discover::DirRecord> {
        let pairs: Vec<(WsPath, crate::discover::DirRecord)> =
            postcard::from_bytes(&self.bytes[self.dirs.clone()]).unwrap_or_default();
        pairs.into_iter().collect()
    }

    /// Everything but the directories.
    pub fn state(&self) -> State {
        postcard::from_bytes(&self.bytes[self.main.clone()]).unwrap_or_default()
    }
}

/// A map decoded as the sorted sequence of pairs it was encoded as (postcard
/// encodes both alike) and built in bulk: tens of thousands of one-by-one
/// inserts were a visible part of a no-op build.
fn sorted_map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
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
    use super::*;
    use crate::system::MemorySystem;

    fn entry(key: &[u8]) -> ActionEntry {
        ActionEntry {
            key: Hash::of(key),
            label: "//a:artifacts".into(),
            rule: "r".into(),
            rule_version: 1,
            floe_version: "0".into(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    #[test]
    fn entries_survive_a_flush_and_a_new_process() {
        let sys = Arc::new(MemorySystem::new());
        let store = Store::new(sys.clone(), PathBuf::from("/s"), None);
        let h = store.put_object(b"hello").unwrap();
        store.put_action(&entry(b"k")).unwrap();
        assert_eq!(store.get_object(h).unwrap().as_deref(), Some(&b"hello"[..]), "served before the flush");
        store.flush().unwrap();
        let store = Store::new(sys.clone(), PathBuf::from("/s"), None);
        assert_eq!(store.get_object(h).unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(store.get_action(Hash::of(b"k")).unwrap(), Some(entry(b"k")));
        assert_eq!(sys.files_under("/s/packs").len(), 1, "one pack for everything a build adds");
    }

    #[test]
    fn damaged_entries_are_not_served() {
        let sys = Arc::new(MemorySystem::new());
        let store = Store::new(sys.clone(), PathBuf::from("/s"), None);
        let h = store.put_object(b"hello").unwrap();
        store.put_action(&entry(b"k")).unwrap();
        store.flush().unwrap();
        let pack = sys.files_under("/s/packs").pop().unwrap();
        let mut bytes = sys.get(&pack).unwrap();
        bytes[0] ^= 1;
        let n = bytes.len();
        bytes[n - 2] ^= 1;
        sys.put(&pack, bytes);
        let store = Store::new(sys.clone(), PathBuf::from("/s"), None);
        assert_eq!(store.get_object(h).unwrap(), None);
        assert_eq!(store.get_action(Hash::of(b"k")).unwrap(), None);

        sys.put("/s/index", [9u8, 9, 9]);
        let store = Store::new(sys.clone(), PathBuf::from("/s"), None);
        assert_eq!(store.get_action(Hash::of(b"k")).unwrap(), None, "an unreadable index starts afresh");
    }

    fn load(store: &Store, floe_version: &str) -> State {
        let encoded = store.read_state(floe_version).unwrap();
        encoded.map(|e| State { dirs: e.dirs(), ..e.state() }).unwrap_or_default()
    }

    #[test]
    fn state_round_trips_and_is_dropped_when_unreadable() {
        let sys = Arc::new(MemorySystem::new());
        let store = Store::new(sys.clone(), PathBuf::from("/s"), Some(Hash::of(b"/ws")));
        let mut state = State { version: STORE_VERSION, floe_version: "0".into(), ..State::default() };
        // Both sections: the directory listings and the rest.
        let record = crate::discover::DirRecord { mtime_ns: 7, dirs: vec!["sales".into()], files: vec![] };
        state.dirs.insert(WsPath::ROOT, record);
        state.settings = Hash::of(b"settings");
        store.save_state(&state).unwrap();
        assert!(store.state_path().to_string_lossy().starts_with("/s/state-"));
        assert_eq!(load(&store, "0"), state);
        assert_eq!(load(&store, "1"), State::default(), "another floe version starts afresh");
        sys.put(store.state_path(), [1u8, 2, 3]);
        assert_eq!(load(&store, "0"), State::default());
    }
}
