//! One package's derivations as one blob, so that a fresh checkout fetches
//! a package in two requests rather than a few per derivation.
//!
//! The encoding is floe's own and trusts nothing it reads: lengths are
//! checked against what is left, and the engine verifies every entry against
//! its key and every object against its blake3 before using either. Per
//! derivation: its key (64 hex digits), its entry (length-prefixed), the
//! number of its objects, then each object's blake3 (64 hex digits) and
//! bytes (length-prefixed). Lengths are little-endian `u64`, counts `u32`.

use floe_engine::Hash;
use floe_engine::remote::Bundled;

const MAGIC: &[u8] = b"floe.bundle.v1\n";

/// The tag of the package whose derivations are `keys`: the same whatever
/// their order.
pub fn tag(keys: &[Hash]) -> String {
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_hex()).collect();
    sorted.sort();
    format!("floe-pkg-{}", Hash::of(sorted.join("\n").as_bytes()).to_hex())
}

pub fn encode(derivations: &[Bundled<'_>]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for d in derivations {
        out.extend_from_slice(d.key.to_hex().as_bytes());
        put(&mut out, &d.entry);
        out.extend_from_slice(&(d.objects.len() as u32).to_le_bytes());
        for (hash, bytes) in &d.objects {
            out.extend_from_slice(hash.to_hex().as_bytes());
            put(&mut out, bytes);
        }
    }
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A derivation as a bundle holds it: its key, its entry, its objects by hash.
pub type Decoded = (Hash, Vec<u8>, Vec<(Hash, Vec<u8>)>);

/// Each derivation's key, entry and objects; `None` for bytes that are not a bundle.
pub fn decode(bytes: &[u8]) -> Option<Vec<Decoded>> {
    let mut r = Reader { rest: bytes.strip_prefix(MAGIC)? };
    let mut out = Vec::new();
    while !r.rest.is_empty() {
        let key = r.hash()?;
        let entry = r.bytes()?.to_vec();
        let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let mut objects = Vec::new();
        for _ in 0..count {
            objects.push((r.hash()?, r.bytes()?.to_vec()));
        }
        out.push((key, entry, objects));
    }
    Some(out)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    fn hash(&mut self) -> Option<Hash> {
        Hash::from_hex(std::str::from_utf8(self.take(64)?).ok()?)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
        self.take(usize::try_from(len).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_decodes_to_what_was_encoded_and_nothing_else_decodes() {
        let (a, b) = (Hash::of(b"a"), Hash::of(b"b"));
        let derivations = [
            Bundled { key: a, entry: b"{\"e\":1}".to_vec(), objects: vec![(b, &b"bytes"[..]), (a, &b""[..])] },
            Bundled { key: b, entry: Vec::new(), objects: Vec::new() },
        ];
        let bytes = encode(&derivations);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0], (a, b"{\"e\":1}".to_vec(), vec![(b, b"bytes".to_vec()), (a, Vec::new())]));
        assert_eq!(decoded[1], (b, Vec::new(), Vec::new()));
        // Cut anywhere, or not a bundle: nothing.
        for end in [MAGIC.len() + 10, bytes.len() - 1] {
            assert!(decode(&bytes[..end]).is_none(), "{end}");
        }
        assert!(decode(b"{}").is_none());
        assert_eq!(tag(&[a, b]), tag(&[b, a]));
        assert_ne!(tag(&[a, b]), tag(&[a]));
    }
}
