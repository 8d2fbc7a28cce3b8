//! The store's index: where each object and action entry lives, in buckets
//! by the leading bits of its key, so that a lookup reads and decodes the
//! one bucket its key falls in. At 10,000 products the index is 11 MB on
//! disk and 30 MB decoded; a build that evaluates one product looks a few
//! dozen keys up, and one that adds a few entries copies the buckets it
//! does not touch as they are.
//!
//! The file, as a state's: the magic, the buckets, then the [`Trailer`]
//! (the packs, the build that added each, each bucket's length and
//! blake3), then the trailer's length (u64, little endian) and its blake3.
//! A bucket whose bytes fail their sum (a damaged file, or one replaced
//! since its trailer was read) reads as unknown, never as other entries.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::{INDEX_MAGIC, Index, Kind, Location, Part, STORE_VERSION, Source, open_trailer, put_part, put_trailer};
use crate::hash::Hash;
use crate::system::IoError;

/// Entries per bucket the index aims at: a bucket is a few tens of
/// kilobytes, and a small store's index is one bucket.
const PER_BUCKET: usize = 512;
const MAX_BUCKETS: usize = 256;

type Entry = (Hash, Location);
type Entries = Vec<Entry>;
type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> std::io::Result<()>;

/// The entries whose keys fall in one bucket, each list sorted by key.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Bucket {
    pub objects: Entries,
    pub actions: Entries,
}

impl Bucket {
    fn list(&self, kind: Kind) -> &Entries {
        match kind {
            Kind::Object => &self.objects,
            Kind::Action => &self.actions,
        }
    }

    fn find(&self, kind: Kind, key: &Hash) -> Option<Location> {
        let list = self.list(kind);
        list.binary_search_by(|(h, _)| h.cmp(key)).ok().map(|i| list[i].1)
    }

    fn len(&self) -> usize {
        self.objects.len() + self.actions.len()
    }

    /// With `objects` and `actions` merged in: an added entry replaces one
    /// of the same key.
    fn merged(&self, objects: &[Entry], actions: &[Entry]) -> Bucket {
        Bucket { objects: merge(&self.objects, objects), actions: merge(&self.actions, actions) }
    }
}

fn merge(old: &[(Hash, Location)], added: &[(Hash, Location)]) -> Entries {
    let mut out = Vec::with_capacity(old.len() + added.len());
    let mut old = old.iter().peekable();
    for &(key, loc) in added {
        while let Some(e) = old.next_if(|(h, _)| *h < key) {
            out.push(*e);
        }
        old.next_if(|(h, _)| *h == key);
        out.push((key, loc));
    }
    out.extend(old.copied());
    out
}

/// How many buckets an index of `entries` entries has: a power of two.
fn buckets_for(entries: usize) -> usize {
    (entries / PER_BUCKET).max(1).next_power_of_two().min(MAX_BUCKETS)
}

/// The bucket `key` falls in, of `buckets` (a power of two up to 256).
fn bucket_of(key: &Hash, buckets: usize) -> usize {
    match buckets {
        1 => 0,
        n => usize::from(key.0[0]) >> (8 - n.trailing_zeros()),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    version: u32,
    packs: Vec<Hash>,
    builds: Vec<u64>,
    buckets: Vec<Part>,
    /// How many entries each bucket holds.
    counts: Vec<u64>,
}

/// An index whose trailer was read; its buckets are decoded as lookups
/// reach them, and kept.
pub(super) struct IndexFile {
    source: Source,
    /// Pack file names (their content hashes), in the order they were added.
    pub packs: Vec<Hash>,
    /// For each pack, the build that added it (counted from 0 in this store).
    pub builds: Vec<u64>,
    counts: Vec<u64>,
    /// Each bucket's offset in the file and its part; none in an empty index.
    parts: Vec<(u64, Part)>,
    /// `Some(None)`: read, and its bytes failed their sum or did not decode.
    decoded: Vec<OnceLock<Option<Arc<Bucket>>>>,
}

/// What a lookup found.
pub(super) enum Found {
    At(Hash, Location),
    Absent,
    /// Its bucket did not read back.
    Unknown,
}

impl IndexFile {
    pub fn empty() -> IndexFile {
        IndexFile::new(Source::Bytes(Vec::new()), Trailer::default(), Vec::new())
    }

    fn new(source: Source, trailer: Trailer, decoded: Vec<Option<Arc<Bucket>>>) -> IndexFile {
        let mut at = INDEX_MAGIC.len() as u64;
        let parts: Vec<(u64, Part)> = trailer
            .buckets
            .iter()
            .map(|p| {
                at += p.len;
                (at - p.len, *p)
            })
            .collect();
        let cells = (0..parts.len())
            .map(|b| match decoded.get(b) {
                Some(Some(bucket)) => OnceLock::from(Some(bucket.clone())),
                _ => OnceLock::new(),
            })
            .collect();
        IndexFile {
            source,
            packs: trailer.packs,
            builds: trailer.builds,
            counts: trailer.counts,
            parts,
            decoded: cells,
        }
    }

    /// The index in `source`, when its trailer is sound and of this store
    /// version.
    pub fn open(source: Source) -> Result<Option<IndexFile>, IoError> {
        let Some((trailer, trailer_at, _)) = open_trailer::<Trailer>(&source, INDEX_MAGIC)? else { return Ok(None) };
        let end = trailer.buckets.iter().try_fold(INDEX_MAGIC.len() as u64, |at, p| at.checked_add(p.len));
        let sound = end == Some(trailer_at)
            && trailer.version == STORE_VERSION
            && trailer.builds.len() == trailer.packs.len()
            && trailer.counts.len() == trailer.buckets.len()
            && trailer.buckets.len().is_power_of_two()
            && trailer.buckets.len() <= MAX_BUCKETS;
        Ok(sound.then(|| IndexFile::new(source, trailer, Vec::new())))
    }

    /// The bytes of bucket `b`, when they match their sum.
    fn raw(&self, b: usize) -> Result<Option<std::borrow::Cow<'_, [u8]>>, IoError> {
        let (at, part) = self.parts[b];
        let Some(bytes) = self.source.get(at, part.len)? else { return Ok(None) };
        Ok((blake3::hash(&bytes).as_bytes() == &part.sum).then_some(bytes))
    }

    /// Bucket `b`, decoded once; `None` when it does not read back.
    fn bucket(&self, b: usize) -> Result<Option<Arc<Bucket>>, IoError> {
        if let Some(done) = self.decoded[b].get() {
            return Ok(done.clone());
        }
        let bucket = self.raw(b)?.and_then(|bytes| postcard::from_bytes::<Bucket>(&bytes).ok()).map(Arc::new);
        Ok(self.decoded[b].get_or_init(|| bucket).clone())
    }

    /// Where `key`'s entry of `kind` is: in which pack, and where in it.
    pub fn find(&self, kind: Kind, key: &Hash) -> Result<Found, IoError> {
        if self.parts.is_empty() {
            return Ok(Found::Absent);
        }
        let Some(bucket) = self.bucket(bucket_of(key, self.parts.len()))? else { return Ok(Found::Unknown) };
        Ok(match bucket.find(kind, key) {
            Some(loc) => match self.packs.get(loc.pack as usize) {
                Some(pack) => Found::At(*pack, loc),
                None => Found::Absent,
            },
            None => Found::Absent,
        })
    }

    /// Every entry, and how many buckets did not read back.
    pub fn whole(&self) -> Result<(Index, usize), IoError> {
        let mut index = Index {
            version: STORE_VERSION,
            packs: self.packs.clone(),
            builds: self.builds.clone(),
            ..Index::default()
        };
        let mut damaged = 0;
        for b in 0..self.parts.len() {
            match self.bucket(b)? {
                Some(bucket) => {
                    index.objects.extend(bucket.objects.iter().copied());
                    index.actions.extend(bucket.actions.iter().copied());
                }
                None => damaged += 1,
            }
        }
        Ok((index, damaged))
    }

    /// What `added` makes of this index: its entries in the buckets of the
    /// index they extend. Made once, written as often as a write starts
    /// again ([`IndexFile::write_with`]).
    pub fn extension(&self, added: Added) -> Extension {
        // Counted as the index will hold them: a key in two runs once.
        let mut distinct = 0;
        for runs in [&added.objects, &added.actions] {
            union(runs.iter().map(Vec::as_slice).collect(), |_| distinct += 1);
        }
        let count = buckets_for(self.counts.iter().sum::<u64>() as usize + distinct);
        // A bucket's keys are a run of each sorted list: its leading bits.
        let starts = |runs: &Vec<Entries>| -> Vec<Vec<usize>> {
            let at = |run: &Entries, b| run.partition_point(|(key, _)| bucket_of(key, count) < b);
            runs.iter().map(|run| (0..=count).map(|b| at(run, b)).collect()).collect()
        };
        let starts = (starts(&added.objects), starts(&added.actions));
        Extension {
            packs: added.packs,
            builds: added.builds,
            objects: added.objects,
            actions: added.actions,
            count,
            starts,
        }
    }

    /// The index `self` is with `extension`'s packs and entries, written to
    /// `sink`; and what a reader of the written file needs beside its bytes
    /// (see [`Written::open`]). A bucket the extension does not reach is
    /// copied as its bytes are, unless they fail their sum (then it is left
    /// out, as it would read). Reading `self` may fail: that error comes
    /// back in `failed`, and the sink is told to stop.
    pub fn write_with(
        &self,
        extension: &Extension,
        sink: Sink<'_>,
        failed: &RefCell<Option<IoError>>,
    ) -> std::io::Result<Written> {
        let stop = |e: IoError| {
            *failed.borrow_mut() = Some(e);
            std::io::Error::other("the index being extended could not be read")
        };
        let count = extension.count;
        // Bucketed as before: each bucket is its old self, merged with what
        // falls in it. Otherwise (the index grew past a power of two) its
        // entries are bucketed anew, in one pass.
        let same = count == self.parts.len();
        let mut anew = match same {
            true => Vec::new(),
            false => {
                let (whole, _) = self.whole().map_err(stop)?;
                bucketed(whole.objects, whole.actions, count)
            }
        }
        .into_iter();
        // What a warm rebuild added falls in a few buckets: they are kept
        // decoded for the next one. A large build's reaches most of them: a
        // lookup decodes what it needs again rather than the whole index
        // staying (nor is it held whole while it is written).
        let decoded_after = (0..count)
            .filter(|&b| !same || extension.reaches(b) || self.decoded[b].get().is_some_and(Option::is_some))
            .count();
        let keep = decoded_after <= count / 4 + 1;
        sink(INDEX_MAGIC)?;
        let mut buf = Vec::new();
        let mut parts = Vec::with_capacity(count);
        let mut decoded = Vec::with_capacity(count);
        let mut counts = Vec::with_capacity(count);
        for b in 0..count {
            let (objects, actions) = extension.added(b);
            if same && !extension.reaches(b) {
                let Some(bytes) = self.raw(b).map_err(stop)? else {
                    parts.push(put_part(&mut buf, sink, &Bucket::default())?);
                    counts.push(0);
                    decoded.push(None);
                    continue;
                };
                sink(&bytes)?;
                parts.push(self.parts[b].1);
                counts.push(self.counts[b]);
                decoded.push(self.decoded[b].get().cloned().flatten().filter(|_| keep));
                continue;
            }
            let old = match same {
                true => self.bucket(b).map_err(stop)?.unwrap_or_default(),
                false => Arc::new(anew.next().unwrap_or_default()),
            };
            let bucket = old.merged(&objects, &actions);
            counts.push(bucket.len() as u64);
            parts.push(put_part(&mut buf, sink, &bucket)?);
            decoded.push(keep.then(|| Arc::new(bucket)));
        }
        let trailer = Trailer {
            version: STORE_VERSION,
            packs: extension.packs.clone(),
            builds: extension.builds.clone(),
            buckets: parts,
            counts,
        };
        put_trailer(&trailer, sink)?;
        Ok(Written { trailer, decoded })
    }
}

/// Entries (each list sorted by key) in `count` buckets.
fn bucketed(
    objects: impl IntoIterator<Item = (Hash, Location)>,
    actions: impl IntoIterator<Item = (Hash, Location)>,
    count: usize,
) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = (0..count).map(|_| Bucket::default()).collect();
    for (key, loc) in objects {
        buckets[bucket_of(&key, count)].objects.push((key, loc));
    }
    for (key, loc) in actions {
        buckets[bucket_of(&key, count)].actions.push((key, loc));
    }
    buckets
}

/// What a flush adds, with where each bucket of the index it extends
/// starts in its sorted lists.
pub(super) struct Extension {
    packs: Vec<Hash>,
    builds: Vec<u64>,
    objects: Vec<Entries>,
    actions: Vec<Entries>,
    count: usize,
    /// For each list, for each bucket and one past the last, where its
    /// entries start.
    starts: (Vec<Vec<usize>>, Vec<Vec<usize>>),
}

impl Extension {
    /// The objects and actions added to bucket `b`, each sorted by key.
    fn added(&self, b: usize) -> (Entries, Entries) {
        fn slices<'a>(runs: &'a [Entries], starts: &[Vec<usize>], b: usize) -> Vec<&'a [Entry]> {
            runs.iter().zip(starts).map(|(run, at)| &run[at[b]..at[b + 1]]).collect()
        }
        let union_of = |lists| {
            let mut out = Vec::new();
            union(lists, |e| out.push(e));
            out
        };
        (union_of(slices(&self.objects, &self.starts.0, b)), union_of(slices(&self.actions, &self.starts.1, b)))
    }

    /// Whether anything is added to bucket `b`.
    fn reaches(&self, b: usize) -> bool {
        let some = |starts: &[Vec<usize>]| starts.iter().any(|at| at[b] < at[b + 1]);
        some(&self.starts.0) || some(&self.starts.1)
    }
}

/// Hands `f` the entries of sorted `lists`, in key order, each key once:
/// of entries of one key, the last list's. (The lists are the few runs a
/// flush adds: a scan of their heads is enough.)
fn union(mut lists: Vec<&[Entry]>, mut f: impl FnMut(Entry)) {
    loop {
        let mut least: Option<Entry> = None;
        for list in &lists {
            if let Some(e) = list.first()
                && least.is_none_or(|(key, _)| e.0 <= key)
            {
                least = Some(*e);
            }
        }
        let Some(entry) = least else { return };
        f(entry);
        for list in &mut lists {
            if list.first().is_some_and(|(key, _)| *key == entry.0) {
                *list = &list[1..];
            }
        }
    }
}

/// What a flush adds: the index's packs and builds as they are to be
/// written (the old ones with the new ones after them), and the entries
/// of the new packs, as lists each sorted by key (of entries of one key,
/// the last list's stands).
pub(super) struct Added {
    pub packs: Vec<Hash>,
    pub builds: Vec<u64>,
    pub objects: Vec<Entries>,
    pub actions: Vec<Entries>,
}

/// An index as it was written, for reading it back without its trailer
/// read again, and with the buckets the writer held already decoded.
pub(super) struct Written {
    trailer: Trailer,
    decoded: Vec<Option<Arc<Bucket>>>,
}

impl Written {
    pub fn open(self, source: Source) -> IndexFile {
        IndexFile::new(source, self.trailer, self.decoded)
    }
}

impl Default for Trailer {
    fn default() -> Trailer {
        Trailer {
            version: STORE_VERSION,
            packs: Vec::new(),
            builds: Vec::new(),
            buckets: Vec::new(),
            counts: Vec::new(),
        }
    }
}

/// A whole index (GC makes one anew), written to `sink`: an empty one
/// extended by every entry.
pub(super) fn write_whole(index: &Index, sink: Sink<'_>) -> std::io::Result<()> {
    let empty = IndexFile::empty();
    let extension = empty.extension(Added {
        packs: index.packs.clone(),
        builds: index.builds.clone(),
        objects: vec![index.objects.iter().map(|(k, l)| (*k, *l)).collect()],
        actions: vec![index.actions.iter().map(|(k, l)| (*k, *l)).collect()],
    });
    empty.write_with(&extension, sink, &RefCell::new(None)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(first: u8, n: u8) -> Hash {
        let mut h = [n; 32];
        h[0] = first;
        Hash(h)
    }

    fn loc(n: u64) -> Location {
        Location { pack: 0, offset: n, len: 1 }
    }

    fn bytes(write: impl Fn(Sink<'_>) -> std::io::Result<()>) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut |piece: &[u8]| {
            out.extend_from_slice(piece);
            Ok(())
        })
        .unwrap();
        out
    }

    fn index(objects: impl IntoIterator<Item = (Hash, Location)>) -> Index {
        Index {
            version: STORE_VERSION,
            packs: vec![Hash::of(b"pack")],
            builds: vec![0],
            objects: objects.into_iter().collect(),
            actions: Default::default(),
        }
    }

    #[test]
    fn buckets_follow_the_leading_bits_of_a_key() {
        assert_eq!(buckets_for(0), 1);
        assert_eq!(buckets_for(3 * PER_BUCKET), 4);
        assert_eq!(buckets_for(1 << 30), MAX_BUCKETS);
        assert_eq!(bucket_of(&key(0xff, 0), 1), 0);
        assert_eq!(bucket_of(&key(0xff, 0), 4), 3);
        assert_eq!(bucket_of(&key(0x40, 0), 4), 1);
        assert_eq!(bucket_of(&key(0xab, 0), 256), 0xab);
    }

    #[test]
    fn a_lookup_decodes_only_its_bucket() {
        let entries =
            (0..=255u8).flat_map(|b| (0..8u8).map(move |n| (key(b, n), loc(u64::from(b) * 8 + u64::from(n)))));
        let whole = index(entries);
        let file = IndexFile::open(Source::Bytes(bytes(|sink| write_whole(&whole, sink)))).unwrap().unwrap();
        assert_eq!(file.parts.len(), 4);
        let Found::At(pack, at) = file.find(Kind::Object, &key(0x81, 3)).unwrap() else { panic!("found") };
        assert_eq!((pack, at), (Hash::of(b"pack"), loc(0x81 * 8 + 3)));
        assert!(matches!(file.find(Kind::Action, &key(0x81, 3)).unwrap(), Found::Absent));
        let decoded: Vec<bool> = file.decoded.iter().map(|d| d.get().is_some()).collect();
        assert_eq!(decoded, [false, false, true, false]);
        assert_eq!(file.whole().unwrap(), (whole, 0));
    }

    #[test]
    fn an_extended_index_is_as_one_written_whole() {
        // Under a power of two of buckets, and past it: either way the
        // file is the one a whole index of the same entries makes.
        for before in [3, 1000, 1100] {
            let old: Vec<(Hash, Location)> = (0..before).map(|i: u64| (Hash::of(&i.to_le_bytes()), loc(i))).collect();
            let file =
                IndexFile::open(Source::Bytes(bytes(|sink| write_whole(&index(old.clone()), sink)))).unwrap().unwrap();
            let mut new: Entries =
                (before - 2..before + 30).map(|i| (Hash::of(&i.to_le_bytes()), loc(i + 7))).collect();
            new.sort_by_key(|(k, _)| *k);
            let failed = RefCell::new(None);
            let added = || Added {
                packs: vec![Hash::of(b"pack"), Hash::of(b"new")],
                builds: vec![0, 1],
                objects: vec![new.clone()],
                actions: Vec::new(),
            };
            // As often as a write starts again: the same bytes each time.
            let extension = file.extension(added());
            let extended = bytes(|sink| file.write_with(&extension, sink, &failed).map(drop));
            assert_eq!(extended, bytes(|sink| file.write_with(&extension, sink, &failed).map(drop)));
            let mut whole = index(old.iter().copied().chain(new.iter().copied()));
            whole.packs.push(Hash::of(b"new"));
            whole.builds.push(1);
            assert_eq!(extended, bytes(|sink| write_whole(&whole, sink)), "{before} entries before");
            let reread = IndexFile::open(Source::Bytes(extended)).unwrap().unwrap();
            assert_eq!(reread.whole().unwrap(), (whole, 0));
        }
    }

    #[test]
    fn of_a_key_in_two_runs_the_later_stands() {
        let k = |n: u64| Hash::of(&n.to_le_bytes());
        let mut first: Entries = (0..600).map(|n| (k(n), loc(n))).collect();
        let mut second: Entries = (500..1200).map(|n| (k(n), loc(n + 10_000))).collect();
        first.sort_by_key(|(key, _)| *key);
        second.sort_by_key(|(key, _)| *key);
        let empty = IndexFile::empty();
        let added = Added {
            packs: vec![Hash::of(b"pack")],
            builds: vec![0],
            objects: vec![first, second],
            actions: Vec::new(),
        };
        let extension = empty.extension(added);
        let extended = bytes(|sink| empty.write_with(&extension, sink, &RefCell::new(None)).map(drop));
        let whole = index((0..1200).map(|n| (k(n), loc(if n < 500 { n } else { n + 10_000 }))));
        assert_eq!(extended, bytes(|sink| write_whole(&whole, sink)));
        assert_eq!(IndexFile::open(Source::Bytes(extended)).unwrap().unwrap().whole().unwrap(), (whole, 0));
    }

    #[test]
    fn a_damaged_bucket_is_unknown_and_the_rest_is_served() {
        let whole = index((0..=255u8).flat_map(|b| (0..8u8).map(move |n| (key(b, n), loc(u64::from(n))))));
        let mut written = bytes(|sink| write_whole(&whole, sink));
        // Into the first bucket's bytes (buckets of equal length here).
        written[INDEX_MAGIC.len() + 3] ^= 1;
        let file = IndexFile::open(Source::Bytes(written)).unwrap().unwrap();
        assert!(matches!(file.find(Kind::Object, &key(0x01, 1)).unwrap(), Found::Unknown));
        assert!(matches!(file.find(Kind::Object, &key(0xf1, 1)).unwrap(), Found::At(..)));
        let (whole, damaged) = file.whole().unwrap();
        assert_eq!((whole.objects.len(), damaged), (3 * 512, 1));
    }
}
