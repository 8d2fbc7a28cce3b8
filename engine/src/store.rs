//! The store: content-addressed objects, the action cache, and build state.
//!
//! ```text
//! .floe/objects/ab/abcd…   blobs by blake3 (outputs, and the normalized inputs `floe why` diffs)
//! .floe/actions/ab/abcd…   derivation key -> rule, named input hashes, output hashes
//! .floe/state               directory and stat caches, per-package records of the last build
//! ```
//!
//! Every write is atomic (temporary file + rename). Every read is verified: an
//! object whose content does not hash to its name, an action entry that does not
//! parse or names another key, a state file that does not parse — each is
//! treated as absent (and rebuilt), never served.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use floe_schemas::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::path::WsPath;
use crate::system::{FileStat, IoError, System};

/// Bumped whenever the layout of anything under `.floe/` changes.
pub const STORE_VERSION: u32 = 1;

pub struct Store<'a> {
    sys: &'a dyn System,
    root: PathBuf,
}

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

/// What the store remembers of the workspace between processes. A no-op build
/// reads it and little else, so it is stored in a compact binary encoding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub floe_version: String,
    /// Hash of the settings every key depends on (`SOURCE_DATE_EPOCH`).
    pub settings: Hash,
    /// The newest modification time the file system gave a file floe wrote: its
    /// clock, so that stats too recent to trust are noticed without floe reading one.
    pub fs_now: i64,
    /// Directory listings by mtime, so unchanged directories are not read.
    pub dirs: BTreeMap<WsPath, crate::discover::DirRecord>,
    /// Stat cache: what each input file hashed to when it had this stat.
    pub files: BTreeMap<WsPath, FileRecord>,
    /// The last successful build of each package.
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
    /// Warnings of the last evaluation, replayed when it is reused.
    #[serde(with = "as_json")]
    pub warnings: Vec<Diagnostic>,
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

impl<'a> Store<'a> {
    pub fn new(sys: &'a dyn System, root: PathBuf) -> Store<'a> {
        Store { sys, root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, h: Hash) -> PathBuf {
        let hex = h.to_hex();
        self.root.join("objects").join(&hex[..2]).join(&hex)
    }

    fn action_path(&self, key: Hash) -> PathBuf {
        let hex = key.to_hex();
        self.root.join("actions").join(&hex[..2]).join(&hex)
    }

    /// Stores `bytes` under their hash; a present object is not written again.
    pub fn put_object(&self, bytes: &[u8]) -> Result<Hash, IoError> {
        let h = Hash::of(bytes);
        let path = self.object_path(h);
        if self.sys.stat(&path)?.is_none_or(|st| st.size != bytes.len() as u64) {
            self.sys.write_atomic(&path, bytes)?;
        }
        Ok(h)
    }

    /// The object's bytes, verified; a corrupt object is removed and reported absent.
    pub fn get_object(&self, h: Hash) -> Result<Option<Vec<u8>>, IoError> {
        let path = self.object_path(h);
        match self.sys.read(&path)? {
            Some(bytes) if Hash::of(&bytes) == h => Ok(Some(bytes)),
            Some(_) => {
                self.sys.remove_all(&path)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    pub fn put_action(&self, entry: &ActionEntry) -> Result<(), IoError> {
        let bytes = serde_json::to_vec(entry).expect("action entries serialize");
        self.sys.write_atomic(&self.action_path(entry.key), &bytes)?;
        Ok(())
    }

    /// The cached action for `key`; an entry that does not verify is removed.
    pub fn get_action(&self, key: Hash) -> Result<Option<ActionEntry>, IoError> {
        let path = self.action_path(key);
        let Some(bytes) = self.sys.read(&path)? else { return Ok(None) };
        match serde_json::from_slice::<ActionEntry>(&bytes) {
            Ok(entry) if entry.key == key => Ok(Some(entry)),
            _ => {
                self.sys.remove_all(&path)?;
                Ok(None)
            }
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The state of the last build; anything unreadable starts afresh.
    pub fn load_state(&self, floe_version: &str) -> Result<State, IoError> {
        let Some(bytes) = self.sys.read(&self.state_path())? else {
            return Ok(State::default());
        };
        // The version and floe version lead the encoding; check them before
        // decoding the rest, whose layout they decide.
        match postcard::from_bytes::<(u32, String)>(&bytes) {
            Ok((v, fv)) if v == STORE_VERSION && fv == floe_version => {}
            _ => return Ok(State::default()),
        }
        Ok(postcard::from_bytes::<State>(&bytes).unwrap_or_default())
    }

    pub fn save_state(&self, state: &State) -> Result<FileStat, IoError> {
        let bytes = postcard::to_stdvec(state).expect("state serializes");
        self.sys.write_atomic(&self.state_path(), &bytes)
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
    use super::*;
    use crate::system::MemorySystem;

    #[test]
    fn corrupt_entries_are_not_served() {
        let sys = MemorySystem::new();
        let store = Store::new(&sys, PathBuf::from("/s"));
        let h = store.put_object(b"hello").unwrap();
        assert_eq!(store.get_object(h).unwrap().as_deref(), Some(&b"hello"[..]));
        let hex = h.to_hex();
        sys.put(format!("/s/objects/{}/{hex}", &hex[..2]), "hellO");
        assert_eq!(store.get_object(h).unwrap(), None);
        assert_eq!(store.get_object(h).unwrap(), None, "the corrupt object was removed");

        let entry = ActionEntry {
            key: Hash::of(b"k"),
            label: "//a:artifacts".into(),
            rule: "r".into(),
            rule_version: 1,
            floe_version: "0".into(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
        };
        store.put_action(&entry).unwrap();
        assert_eq!(store.get_action(entry.key).unwrap(), Some(entry.clone()));
        let hex = entry.key.to_hex();
        sys.put(format!("/s/actions/{}/{hex}", &hex[..2]), "{\"key\":");
        assert_eq!(store.get_action(entry.key).unwrap(), None);

        let state = State { version: STORE_VERSION, floe_version: "0".into(), ..State::default() };
        store.save_state(&state).unwrap();
        assert_eq!(store.load_state("0").unwrap(), state);
        assert_eq!(store.load_state("1").unwrap(), State::default(), "another floe version starts afresh");
        sys.put("/s/state", [1u8, 2, 3]);
        assert_eq!(store.load_state("0").unwrap(), State::default());
    }
}
