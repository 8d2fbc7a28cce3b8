//! Keeping a store in shape: `floe store gc` drops what nothing needs and
//! repacks the rest; `floe store verify` reads everything back and checks it.
//!
//! GC holds both of the store's locks exclusively while it works, so no build
//! is between writing a pack and naming it in the index: a pack the index
//! does not name is garbage, and the index GC writes names everything any
//! build has finished adding. A build that read the index before GC started
//! may still look an entry up in a pack GC removed: it finds nothing, and
//! builds the derivation again (reads are verified, so nothing half-gone is
//! ever served).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{
    ActionEntry, INDEX_LOCK, Index, Location, PACK_BYTES, PACKS_LOCK, STORE_VERSION, Source, StateFile, Store,
};
use crate::hash::Hash;
use crate::system::{FileKind, IoError};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub packs_before: usize,
    pub packs_after: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub actions_kept: usize,
    pub actions_removed: usize,
    pub objects_kept: usize,
    pub objects_removed: usize,
    /// Entries that did not verify: dropped, to be built again when needed.
    pub damaged: usize,
    /// Workspace states whose derivations were kept.
    pub states: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub packs: usize,
    pub bytes: u64,
    pub objects: usize,
    pub actions: usize,
    pub states: usize,
    /// What is wrong, one line each; empty for a sound store.
    pub problems: Vec<String>,
}

/// What GC keeps of one kind of entry: key to (the build that added it, where).
type Kept = BTreeMap<Hash, (u64, Location)>;

impl Store {
    /// Keeps what the workspaces' states reference (the derivations of their
    /// last builds, with their outputs and the inputs `floe why` compares)
    /// and everything the last `keep_builds` builds added; verifies it,
    /// writes it into new packs in the order it was added, and removes the
    /// rest.
    pub fn gc(&self, keep_builds: usize) -> Result<GcReport, IoError> {
        let _packs = self.wait_for_lock(PACKS_LOCK, true)?;
        let _index = self.wait_for_lock(INDEX_LOCK, true)?;
        // Entries in a bucket that does not read back are lost: what they
        // named is built again when needed.
        let (index, _) = self.read_index()?.index.whole()?;
        let (roots, pins, states) = self.roots()?;
        let mut report = GcReport { states, ..GcReport::default() };
        let (on_disk, bytes_before) = self.pack_files()?;
        report.packs_before = on_disk.len();
        report.bytes_before = bytes_before;

        let builds: BTreeSet<u64> = index.builds.iter().copied().collect();
        let recent: BTreeSet<u64> = builds.into_iter().rev().take(keep_builds).collect();
        let build_of = |loc: &Location| index.builds.get(loc.pack as usize).copied();
        let mut actions = Kept::new();
        // What each kept entry produced, and every object some kept entry reads.
        let mut outputs: BTreeMap<Hash, Vec<Hash>> = BTreeMap::new();
        let mut wanted = BTreeSet::new();
        for (key, loc) in &index.actions {
            let Some(build) = build_of(loc) else { continue };
            if !roots.contains(key) && !recent.contains(&build) {
                report.actions_removed += 1;
                continue;
            }
            let entry = self.read_loc(&index, loc)?.and_then(|b| serde_json::from_slice::<ActionEntry>(&b).ok());
            match entry.filter(|e| e.holds_for(*key)) {
                Some(e) => {
                    wanted.extend(e.outputs.values().chain(e.drv.inputs.values()).copied());
                    outputs.insert(*key, e.outputs.into_values().collect::<Vec<_>>());
                    actions.insert(*key, (build, *loc));
                }
                None => report.damaged += 1,
            }
        }
        let mut objects = Kept::new();
        for (hash, loc) in &index.objects {
            let Some(build) = build_of(loc) else { continue };
            if wanted.contains(hash) || pins.contains(hash) || recent.contains(&build) {
                objects.insert(*hash, (build, *loc));
            } else {
                report.objects_removed += 1;
            }
        }

        // Repack, a build at a time, so that the next GC still tells builds
        // apart; a build's objects before its entries. An entry's outputs
        // were added by its build or an earlier one, so when an entry comes
        // up, whether all of them survived is known: one that lost any is
        // dropped too (its derivation would be built again anyway).
        let mut fresh = Index { version: STORE_VERSION, ..Index::default() };
        let mut entries: Vec<(u64, bool, Hash, Location)> = Vec::new();
        entries.extend(objects.iter().map(|(h, (b, l))| (*b, true, *h, *l)));
        entries.extend(actions.iter().map(|(h, (b, l))| (*b, false, *h, *l)));
        entries.sort_by_key(|(b, is_object, h, _)| (*b, !*is_object, *h));
        let mut pack = Pack::default();
        for (build, is_object, hash, loc) in entries {
            if pack.build != Some(build) || pack.bytes.len() >= PACK_BYTES {
                self.write_fresh_pack(&mut fresh, &mut pack)?;
                pack.build = Some(build);
            }
            let Some(bytes) = self.read_loc(&index, &loc)? else {
                report.damaged += 1;
                continue;
            };
            let sound = match is_object {
                true => Hash::of(&bytes) == hash,
                false => outputs[&hash].iter().all(|o| fresh.objects.contains_key(o) || pack.objects.contains_key(o)),
            };
            if !sound {
                report.damaged += 1;
                continue;
            }
            let at = (pack.bytes.len() as u64, bytes.len() as u64);
            pack.bytes.extend_from_slice(&bytes);
            let into = if is_object { &mut pack.objects } else { &mut pack.actions };
            into.insert(hash, at);
        }
        self.write_fresh_pack(&mut fresh, &mut pack)?;
        report.objects_kept = fresh.objects.len();
        report.actions_kept = fresh.actions.len();
        self.write_index(&fresh)?;

        // Nobody is adding packs: every pack the new index does not name goes.
        let named: BTreeSet<Hash> = fresh.packs.iter().copied().collect();
        let dir = self.root.join("packs");
        for name in on_disk.keys().filter(|n| !named.contains(n)) {
            self.sys.remove_all(&dir.join(format!("{}.pack", name.to_hex())))?;
        }
        self.sys.sweep(&self.root)?;
        let (after, bytes_after) = self.pack_files()?;
        report.packs_after = after.len();
        report.bytes_after = bytes_after;
        Ok(report)
    }

    /// Reads every pack, object, action entry and state back: a report of
    /// what is wrong, never a repair (`gc` drops what does not verify).
    pub fn verify(&self) -> Result<VerifyReport, IoError> {
        // Shared: builds may add packs meanwhile, but GC cannot remove any.
        let _packs = self.wait_for_lock(PACKS_LOCK, false)?;
        let loaded = self.read_index()?;
        let mut report = VerifyReport::default();
        if !loaded.sound {
            report.problems.push(
                "the index is damaged or of another floe store version: the next build starts it afresh".to_owned(),
            );
        }
        let (index, damaged) = loaded.index.whole()?;
        if damaged > 0 {
            report.problems.push(format!(
                "{damaged} of the index's buckets are damaged: what they name is built again when needed"
            ));
        }
        let (on_disk, _) = self.pack_files()?;
        for name in &index.packs {
            match on_disk.get(name) {
                Some(size) => report.bytes += size,
                None => report.problems.push(format!("pack {} is named by the index but missing", name.short())),
            }
        }
        report.packs = index.packs.len();
        for (hash, loc) in &index.objects {
            report.objects += 1;
            match self.read_loc(&index, loc)? {
                Some(bytes) if Hash::of(&bytes) == *hash => {}
                Some(_) => report.problems.push(format!("object {hash} does not hash to its name")),
                None => report.problems.push(format!("object {hash} is missing from its pack")),
            }
        }
        for (key, loc) in &index.actions {
            report.actions += 1;
            let entry = self.read_loc(&index, loc)?.and_then(|b| serde_json::from_slice::<ActionEntry>(&b).ok());
            match entry {
                Some(e) if e.holds_for(*key) => {
                    for (name, hash) in &e.outputs {
                        if !index.objects.contains_key(hash) {
                            report.problems.push(format!(
                                "derivation {key} ({}) has output `{name}` as object {hash}, which the store lacks",
                                e.label
                            ));
                        }
                    }
                }
                Some(_) => report.problems.push(format!("the entry stored under {key} is another derivation's")),
                None => report.problems.push(format!("the entry of derivation {key} does not read back")),
            }
        }
        report.states = self.roots()?.2;
        Ok(report)
    }

    /// The derivation keys every workspace's state names, and how many
    /// states there are (of this store version, whatever floe wrote them).
    /// The derivations the workspaces' states reference, the objects their
    /// locks pin, and how many states there are.
    fn roots(&self) -> Result<(BTreeSet<Hash>, BTreeSet<Hash>, usize), IoError> {
        let mut keys = BTreeSet::new();
        let mut pins = BTreeSet::new();
        let mut states = 0;
        for entry in self.sys.list_dir(&self.root)? {
            let is_pins =
                entry.name == super::PINS || entry.name.strip_prefix("pins-").is_some_and(|r| !r.contains('.'));
            if entry.kind == FileKind::File
                && is_pins
                && let Some(bytes) = self.sys.read(&self.root.join(&entry.name))?
            {
                pins.extend(String::from_utf8_lossy(&bytes).lines().filter_map(Hash::from_hex));
                continue;
            }
            let is_state = entry.name == "state" || entry.name.strip_prefix("state-").is_some_and(|r| !r.contains('.'));
            if entry.kind != FileKind::File || !is_state {
                continue;
            }
            let Some(bytes) = self.sys.read(&self.root.join(&entry.name))? else { continue };
            let Some(file) = StateFile::open(Source::Bytes(bytes), None)? else { continue };
            states += 1;
            // With what its log says: the records a build reads next.
            let mut state = file.state()?;
            let log = self.sys.read(&self.root.join(super::log::name(&entry.name)))?;
            let deltas = log.and_then(|bytes| super::log::read(&bytes, file.id())).map_or_else(Vec::new, |l| l.deltas);
            deltas.iter().for_each(|d| d.apply(&mut state));
            for record in state.packages.values() {
                keys.extend(record.derivations.iter().map(|d| d.key));
            }
        }
        Ok((keys, pins, states))
    }

    /// The packs in the store's directory, by name, with their sizes; and their total.
    fn pack_files(&self) -> Result<(BTreeMap<Hash, u64>, u64), IoError> {
        let dir = self.root.join("packs");
        let mut packs = BTreeMap::new();
        for entry in self.sys.list_dir(&dir)? {
            let Some(name) = entry.name.strip_suffix(".pack").and_then(Hash::from_hex) else { continue };
            if entry.kind == FileKind::File
                && let Some(stat) = self.sys.stat(&dir.join(&entry.name))?
            {
                packs.insert(name, stat.size);
            }
        }
        let total = packs.values().sum();
        Ok((packs, total))
    }

    fn read_loc(&self, index: &Index, loc: &Location) -> Result<Option<Vec<u8>>, IoError> {
        let Some(name) = index.packs.get(loc.pack as usize) else { return Ok(None) };
        self.sys.read_at(&self.pack_path(*name), loc.offset, loc.len)
    }

    /// Writes the pack GC is filling and names it in `index`.
    fn write_fresh_pack(&self, index: &mut Index, pack: &mut Pack) -> Result<(), IoError> {
        let (Some(build), false) = (pack.build, pack.bytes.is_empty()) else { return Ok(()) };
        let name = Hash::of(&pack.bytes);
        self.sys.write_atomic(&self.root, &format!("packs/{}.pack", name.to_hex()), &pack.bytes)?;
        let n = index.packs.len() as u32;
        index.packs.push(name);
        index.builds.push(build);
        for (h, (offset, len)) in std::mem::take(&mut pack.objects) {
            index.objects.insert(h, Location { pack: n, offset, len });
        }
        for (h, (offset, len)) in std::mem::take(&mut pack.actions) {
            index.actions.insert(h, Location { pack: n, offset, len });
        }
        pack.bytes.clear();
        Ok(())
    }
}

#[derive(Default)]
struct Pack {
    build: Option<u64>,
    bytes: Vec<u8>,
    objects: BTreeMap<Hash, (u64, u64)>,
    actions: BTreeMap<Hash, (u64, u64)>,
}
