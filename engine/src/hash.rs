//! blake3 hashes and the canonical encodings they are computed over.
//!
//! A derivation key must not depend on anything but its inputs: not on map
//! order, not on the platform's float formatting, not on how a struct happens to
//! be laid out. [`Canonical`] is a length-prefixed byte encoding written in a
//! fixed order; values are hashed over their canonical JSON (sorted keys, no
//! whitespace), produced from ordered types only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// The hash of a value's canonical JSON.
    pub fn of_json(value: &impl Serialize) -> Hash {
        let bytes = serde_json::to_vec(value).expect("hashed values serialize");
        Hash::of(&bytes)
    }

    pub fn to_hex(self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    pub fn from_hex(s: &str) -> Option<Hash> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char).to_digit(16)?;
            let lo = (chunk[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Hash(out))
    }

    /// The first 12 hex digits, for people.
    pub fn short(self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.short())
    }
}

/// `blake3:<hex>` in text formats (records people read), 32 raw bytes in the
/// store's binary state.
impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.serialize_str(&self.to_string()) } else { self.0.serialize(s) }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        if !d.is_human_readable() {
            return <[u8; 32]>::deserialize(d).map(Hash);
        }
        let s = String::deserialize(d)?;
        s.strip_prefix("blake3:")
            .and_then(Hash::from_hex)
            .ok_or_else(|| serde::de::Error::custom(format!("not a blake3 hash: `{s}`")))
    }
}

/// A canonical, unambiguous byte encoding: every field is tagged and
/// length-prefixed, so no two different sequences of fields encode alike.
pub struct Canonical {
    hasher: blake3::Hasher,
}

impl Canonical {
    /// Starts an encoding in a domain (`floe.drv.v1`); different domains never collide.
    pub fn new(domain: &str) -> Canonical {
        let mut c = Canonical { hasher: blake3::Hasher::new() };
        c.str(domain);
        c
    }

    pub fn str(&mut self, s: &str) -> &mut Canonical {
        self.bytes(s.as_bytes())
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Canonical {
        self.hasher.update(&(b.len() as u64).to_le_bytes());
        self.hasher.update(b);
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Canonical {
        self.hasher.update(&v.to_le_bytes());
        self
    }

    pub fn hash(&mut self, h: &Hash) -> &mut Canonical {
        self.hasher.update(&h.0);
        self
    }

    pub fn finish(&self) -> Hash {
        Hash(*self.hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hash::of(b"floe");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
    }

    #[test]
    fn canonical_encoding_is_unambiguous() {
        let a = Canonical::new("d").str("ab").str("c").finish();
        let b = Canonical::new("d").str("a").str("bc").finish();
        assert_ne!(a, b);
    }
}
