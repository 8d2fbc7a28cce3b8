//! blake3 inside, SHA-256 at the registry boundary: the SHA-256 of every
//! output floe has published, by the blake3 the store knows it by, kept in
//! the store (`sha256`), so that publishing again hashes nothing twice.
//!
//! One line per object, `<blake3> <sha256>`, sorted, then a last line with
//! the blake3 of the lines before it: a file that does not check out is
//! ignored whole (and written anew), never half-trusted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use floe_engine::{Hash, System};

use crate::cli::Failure;
use crate::system::OsSystem;

const FILE: &str = "sha256";

pub struct Digests {
    dir: PathBuf,
    known: BTreeMap<Hash, String>,
    added: bool,
}

impl Digests {
    /// The mapping of the store at `dir` (empty when there is none yet).
    pub fn open(dir: &Path) -> Result<Digests, Failure> {
        let known = OsSystem.read(&dir.join(FILE))?.and_then(|b| parse(&b)).unwrap_or_default();
        Ok(Digests { dir: dir.to_path_buf(), known, added: false })
    }

    /// The SHA-256 of `bytes`, whose blake3 is `blake3`: known, or computed once.
    pub fn sha256(&mut self, blake3: Hash, bytes: &[u8]) -> String {
        if let Some(d) = self.known.get(&blake3) {
            return d.clone();
        }
        let d = super::sha256(bytes);
        self.known.insert(blake3, d.clone());
        self.added = true;
        d
    }

    /// Keeps what this publish learned, when it learned anything.
    pub fn save(&self) -> Result<(), Failure> {
        if !self.added {
            return Ok(());
        }
        let mut text = String::with_capacity(self.known.len() * 137);
        for (b, s) in &self.known {
            text.push_str(&b.to_hex());
            text.push(' ');
            text.push_str(s);
            text.push('\n');
        }
        let sum = Hash::of(text.as_bytes()).to_hex();
        text.push_str(&sum);
        text.push('\n');
        OsSystem.write_atomic(&self.dir, FILE, text.as_bytes())?;
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> Option<BTreeMap<Hash, String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let body_end = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
    let (body, sum) = text.split_at(body_end);
    if Hash::from_hex(sum.trim_end()) != Some(Hash::of(body.as_bytes())) {
        return None;
    }
    body.lines()
        .map(|line| {
            let (b, s) = line.split_once(' ')?;
            let ok = s.len() == 71 && s.starts_with("sha256:");
            Some((Hash::from_hex(b)?, s.to_owned())).filter(|_| ok)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // the test damages the file by hand
    fn the_mapping_is_kept_and_a_damaged_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Digests::open(dir.path()).ok().unwrap();
        let h = Hash::of(b"bytes");
        assert_eq!(d.sha256(h, b"bytes"), super::super::sha256(b"bytes"));
        assert!(d.save().is_ok());
        // Known now: the bytes are not hashed again (these are not them).
        let mut again = Digests::open(dir.path()).ok().unwrap();
        assert_eq!(again.sha256(h, b"other"), super::super::sha256(b"bytes"));
        assert!(!again.added);
        // Damaged: ignored whole.
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path).unwrap().replacen("sha256:", "sha256:0", 1);
        std::fs::write(&path, text).unwrap();
        assert!(Digests::open(dir.path()).ok().unwrap().known.is_empty());
    }
}
