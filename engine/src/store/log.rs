//! A state's log: what each build changed in the state, appended, so that
//! a build that changed a few records writes those rather than the whole
//! state (6 MB at 1,000 products, 60 MB at 10,000).
//!
//! `<state>.log` starts with its magic and the id of the state it follows
//! (the blake3 of that state's trailer, which sums every part of it). Each
//! entry is its length (u64, little endian), the blake3 of its bytes, and
//! its bytes: a [`Delta`]. A log that names another state is left by a
//! build killed between writing a state and removing the old log, and is
//! not read. Entries are read up to the first that fails its sum or does
//! not decode (a build killed while appending): what the rest said, the
//! next build does again, as it would with no state at all.
//!
//! The state with its log applied is, record for record, the state the
//! build would have written whole (see `build::Changes`). Every build
//! reads the whole log (a no-op too), so it is kept short: once it would
//! outgrow a sixteenth of the state, the save writes the state whole and
//! removes the log (at 1,000 products, after some 80 one-product edits).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{FileRecord, FileTable, PackageRecord, State};
use crate::discover::{DirRecord, Listings};
use crate::path::WsPath;

const LOG_MAGIC: &[u8; 8] = b"floeSLOG";
const HEADER_LEN: usize = LOG_MAGIC.len() + 32;
/// A log is appended to while it is at most a sixteenth of its state, or
/// this long (a small workspace's state is a few kilobytes).
const AT_LEAST: u64 = 64 * 1024;

/// The log of the state named `state_name`.
pub fn name(state_name: &str) -> String {
    format!("{state_name}.log")
}

/// What one save changed: listings and records set (`Some`) or removed (`None`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub dirs: Vec<(WsPath, Option<Arc<DirRecord>>)>,
    pub files: Vec<(WsPath, Option<FileRecord>)>,
    pub packages: Vec<(WsPath, Option<PackageRecord>)>,
}

impl Delta {
    /// Its listings: applied first, for the walk that needs them.
    pub fn apply_dirs(&self, dirs: &mut Listings) {
        for (dir, record) in &self.dirs {
            match record {
                Some(record) => dirs.insert(dir.clone(), Arc::clone(record)),
                None => dirs.remove(dir),
            };
        }
    }

    /// Its records.
    pub fn apply(&self, state: &mut State) {
        for (path, record) in &self.files {
            match record {
                Some(record) => state.files.insert(path.clone(), *record),
                None => state.files.remove(path),
            };
        }
        self.apply_packages(&mut state.packages);
    }

    /// Its package records (a build reads its file records with
    /// [`files_with_log`]).
    pub fn apply_packages(&self, packages: &mut BTreeMap<WsPath, PackageRecord>) {
        for (dir, record) in &self.packages {
            match record {
                Some(record) => packages.insert(dir.clone(), record.clone()),
                None => packages.remove(dir),
            };
        }
    }
}

/// The file records of a state's `table` with its log's `deltas` applied,
/// in path order: what the log last says of a path (set or removed)
/// stands for what the table says.
pub fn files_with_log<'a>(
    table: &'a FileTable,
    deltas: &'a [Delta],
) -> impl Iterator<Item = (&'a str, &'a FileRecord)> {
    let mut logged: BTreeMap<&str, Option<&FileRecord>> = BTreeMap::new();
    for (path, record) in deltas.iter().flat_map(|d| &d.files) {
        logged.insert(path.as_str(), record.as_ref());
    }
    let mut table = table.iter().map(|(p, r)| (p, Some(r))).peekable();
    let mut logged = logged.into_iter().peekable();
    std::iter::from_fn(move || {
        loop {
            let next = match (table.peek(), logged.peek()) {
                (None, None) => return None,
                (Some(_), None) => table.next(),
                (None, Some(_)) => logged.next(),
                (Some((t, _)), Some((l, _))) => match t.cmp(l) {
                    Ordering::Less => table.next(),
                    Ordering::Greater => logged.next(),
                    Ordering::Equal => {
                        table.next();
                        logged.next()
                    }
                },
            };
            if let Some((path, Some(record))) = next {
                return Some((path, record));
            }
        }
    })
}

/// A [`Delta`] as a save makes it, of the records as the state holds them:
/// encoded as the delta it is read back as.
#[derive(Debug, Default, Serialize)]
pub struct DeltaOf<'a> {
    pub dirs: Vec<(&'a WsPath, Option<&'a Arc<DirRecord>>)>,
    pub files: Vec<(&'a WsPath, Option<&'a FileRecord>)>,
    pub packages: Vec<(&'a WsPath, Option<&'a PackageRecord>)>,
}

/// A log as read for the state `id` names.
#[derive(Debug, Default)]
pub struct Read {
    pub deltas: Vec<Delta>,
    /// Every byte of it is sound: it can be appended to.
    pub sound: bool,
}

/// The entries of `bytes` that follow the state `id`; `None` when they are
/// not a log of that state.
pub fn read(bytes: &[u8], id: &[u8; 32]) -> Option<Read> {
    if bytes.len() < HEADER_LEN || bytes[..8] != LOG_MAGIC[..] || bytes[8..HEADER_LEN] != id[..] {
        return None;
    }
    let mut read = Read::default();
    let mut rest = &bytes[HEADER_LEN..];
    while !rest.is_empty() {
        let Some(delta) = next(&mut rest) else { return Some(read) };
        read.deltas.push(delta);
    }
    read.sound = true;
    Some(read)
}

/// The entry at the start of `rest`, which it then starts after.
fn next(rest: &mut &[u8]) -> Option<Delta> {
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().expect("eight bytes"));
    let end = usize::try_from(len).ok()?.checked_add(40)?;
    let (sum, bytes) = (rest.get(8..40)?, rest.get(40..end)?);
    if blake3::hash(bytes).as_bytes()[..] != *sum {
        return None;
    }
    let delta = postcard::from_bytes(bytes).ok()?;
    *rest = &rest[end..];
    Some(delta)
}

/// The start of a log of the state `id`.
pub fn header(id: &[u8; 32]) -> Vec<u8> {
    [&LOG_MAGIC[..], &id[..]].concat()
}

/// `delta` as an entry.
pub fn entry(delta: &DeltaOf<'_>) -> Vec<u8> {
    let bytes = postcard::to_stdvec(delta).expect("store records serialize");
    let mut entry = Vec::with_capacity(40 + bytes.len());
    entry.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    entry.extend_from_slice(blake3::hash(&bytes).as_bytes());
    entry.extend_from_slice(&bytes);
    entry
}

/// Where a state's log stands, as this process last read or wrote it.
#[derive(Clone, Copy, Debug)]
pub struct At {
    /// The state's id and length.
    pub state: [u8; 32],
    pub state_len: u64,
    /// The log's length; 0 when there is none of this state.
    pub len: u64,
}

impl At {
    /// Whether `entry` goes on the log, rather than the state being written whole.
    pub fn takes(&self, entry: &[u8]) -> bool {
        let len = self.len.max(HEADER_LEN as u64) + entry.len() as u64;
        len <= (self.state_len / 16).max(AT_LEAST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::system::FileStat;

    fn delta(path: &str, size: u64) -> Delta {
        let record = FileRecord { stat: FileStat { size, ..FileStat::default() }, raw: Hash::of(b"x"), normal: None };
        Delta { dirs: Vec::new(), files: vec![(WsPath::new(path).unwrap(), Some(record))], packages: Vec::new() }
    }

    fn entry(delta: &Delta) -> Vec<u8> {
        let of = DeltaOf {
            dirs: delta.dirs.iter().map(|(p, r)| (p, r.as_ref())).collect(),
            files: delta.files.iter().map(|(p, r)| (p, r.as_ref())).collect(),
            packages: delta.packages.iter().map(|(p, r)| (p, r.as_ref())).collect(),
        };
        super::entry(&of)
    }

    #[test]
    fn entries_are_read_up_to_the_first_torn_one_and_only_for_their_state() {
        let id = [7; 32];
        let mut log = header(&id);
        log.extend(entry(&delta("a.sql", 1)));
        log.extend(entry(&delta("b.sql", 2)));
        let whole = read(&log, &id).unwrap();
        assert!(whole.sound);
        assert_eq!(whole.deltas, vec![delta("a.sql", 1), delta("b.sql", 2)]);
        assert!(read(&log, &[8; 32]).is_none(), "another state's log");
        // Killed while appending: every shorter log keeps the entries it holds whole.
        let first_end = HEADER_LEN + entry(&delta("a.sql", 1)).len();
        for cut in HEADER_LEN..log.len() {
            let torn = read(&log[..cut], &id).unwrap();
            assert_eq!(torn.sound, cut == HEADER_LEN || cut == first_end, "{cut}");
            assert_eq!(torn.deltas.len(), usize::from(cut >= first_end), "{cut}");
        }
        // A flipped byte in an entry ends the log there.
        let mut flipped = log.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(read(&flipped, &id).unwrap().deltas.len(), 1);
    }

    #[test]
    fn a_log_is_appended_to_while_it_is_small_beside_its_state() {
        let at = |state_len, len| At { state: [0; 32], state_len, len };
        assert!(at(16_000_000, 800_000).takes(&[0; 200_000]));
        assert!(!at(16_000_000, 800_000).takes(&[0; 200_001]));
        assert!(at(1_000, 0).takes(&[0; 60_000]), "a small state's log may reach 64 KiB");
    }
}
