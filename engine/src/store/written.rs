//! Where the packs this process wrote hold each entry, until the index names them.

use super::Location;
use crate::hash::Hash;

/// An entry of a written pack: its key, and where it is, by the pack's
/// number among those this process wrote (made the index's number when
/// the index names the pack, in place).
pub type Entry = (Hash, Location);

/// The entries of one kind, as runs sorted by key, each shorter than the
/// one before: a pack's entries come as a run, and merge with the runs
/// before them while those are not longer. So a lookup searches a few runs
/// (at most one per power of two), each entry is moved a few times, and a
/// merge adds to the older run in place rather than making a third.
#[derive(Default)]
pub struct Runs {
    runs: Vec<Vec<Entry>>,
}

impl Runs {
    /// Adds a pack's entries, sorted by key.
    pub fn push(&mut self, run: Vec<Entry>) {
        debug_assert!(run.is_sorted_by_key(|e| e.0));
        if run.is_empty() {
            return;
        }
        self.runs.push(run);
        while let [.., older, newer] = &self.runs[..]
            && newer.len() >= older.len()
        {
            let newer = self.runs.pop().expect("two runs");
            let older = self.runs.last_mut().expect("two runs");
            merge(older, &newer);
        }
    }

    /// The latest entry of `key`.
    pub fn find(&self, key: &Hash) -> Option<Entry> {
        self.runs.iter().rev().find_map(|run| {
            let at = run.partition_point(|e| e.0 < *key);
            run.get(at).filter(|e| e.0 == *key).copied()
        })
    }

    /// The runs, oldest first: each sorted by key; of entries of one key,
    /// the latest run's is the one that stands.
    pub fn into_runs(self) -> Vec<Vec<Entry>> {
        self.runs
    }
}

/// Merges `newer` into `older` from the back, in place: of two entries of
/// one key, the newer comes first.
fn merge(older: &mut Vec<Entry>, newer: &[Entry]) {
    let mut i = older.len();
    older.reserve_exact(newer.len());
    older.extend_from_slice(newer);
    let mut k = older.len();
    for n in newer.iter().rev() {
        while i > 0 && older[i - 1].0 >= n.0 {
            k -= 1;
            older[k] = older[i - 1];
            i -= 1;
        }
        k -= 1;
        older[k] = *n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> Hash {
        let mut h = [0u8; 32];
        h[..2].copy_from_slice(&n.to_be_bytes());
        Hash(h)
    }

    #[test]
    fn runs_stay_few_and_the_latest_entry_of_a_key_is_found() {
        let mut written = Runs::default();
        let mut all = Vec::new();
        // Packs of uneven sizes, keys interleaved, some written again.
        for (pack, range) in [(0, 0..40), (1, 10..20), (2, 5..8), (3, 30..90), (4, 0..1), (5, 17..18)] {
            let mut run: Vec<Entry> =
                range.map(|n| (key(n * 3 % 97), Location { pack, offset: u64::from(n), len: 1 })).collect();
            run.sort_by_key(|e| e.0);
            all.extend(run.iter().copied());
            written.push(run);
            assert!(written.runs.len() <= 3, "runs stay few: {}", written.runs.len());
        }
        // Every key is found in the latest pack that holds it.
        for n in 0..97u16 {
            let latest = all.iter().rev().find(|e| e.0 == key(n)).copied();
            assert_eq!(written.find(&key(n)), latest, "key {n}");
        }
        let runs = written.into_runs();
        assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), all.len());
        assert!(runs.iter().all(|r| r.is_sorted_by_key(|e| e.0)));
    }
}
