//! blake3 hashes and the canonical encodings they are computed over.
//!
//! A derivation key must not depend on anything but its inputs: not on map
//! order, not on the platform's float formatting, not on how a struct happens to
//! be laid out, not on which features of `serde_json` some dependency turns on
//! (`preserve_order` keeps objects in insertion order). [`Canonical`] is a
//! length-prefixed byte encoding written in a fixed order; values are hashed
//! over their canonical JSON ([`canonical_json`]), written by floe itself.

use std::fmt;
use std::io::Write as _;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// As the bytes compare, a word at a time: ordering hashes is all that a
/// lookup in the store's sorted runs and maps does, and comparing bytes
/// calls `memcmp` for each comparison.
impl Ord for Hash {
    fn cmp(&self, other: &Hash) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Hash {
    fn partial_cmp(&self, other: &Hash) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash {
    /// The bytes as four big-endian words, which compare as the bytes do.
    fn words(&self) -> [u64; 4] {
        std::array::from_fn(|i| u64::from_be_bytes(self.0[i * 8..i * 8 + 8].try_into().expect("eight bytes")))
    }

    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// The hash of a value's canonical JSON.
    pub fn of_json(value: &impl Serialize) -> Hash {
        Hash::of_value(&serde_json::to_value(value).expect("hashed values serialize"))
    }

    /// The hash of a JSON value's canonical encoding.
    pub fn of_value(value: &Value) -> Hash {
        Hash::of(&canonical_json(value))
    }

    /// `blake3:<hex>`, as it is displayed, made on the stack: a report
    /// or record shows thousands of hashes.
    fn text(self) -> [u8; 71] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 71];
        out[..7].copy_from_slice(b"blake3:");
        for (i, b) in self.0.into_iter().enumerate() {
            out[7 + 2 * i] = HEX[usize::from(b >> 4)];
            out[8 + 2 * i] = HEX[usize::from(b & 15)];
        }
        out
    }

    /// Appends `blake3:<hex>`, as it is displayed.
    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.text());
    }

    pub fn to_hex(self) -> String {
        String::from_utf8_lossy(&self.text()[7..]).into_owned()
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
        f.write_str(&String::from_utf8_lossy(&self.text()))
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
        if s.is_human_readable() {
            s.serialize_str(&String::from_utf8_lossy(&self.text()))
        } else {
            self.0.serialize(s)
        }
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

/// A JSON value's one encoding: object keys sorted by their UTF-8 bytes, no
/// whitespace, strings with only `"`, `\\` and control characters escaped
/// (the short forms where JSON has them, else `\\u00xx`), integers in
/// decimal, other numbers in Rust's shortest form that reads back as the same
/// `f64` (`1.0`, `0.1`, `1e21`). It parses back as JSON to a value that
/// encodes to the same bytes.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            // Writing into a Vec cannot fail.
            let _ = match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => write!(out, "{u}"),
                (_, Some(i), _) => write!(out, "{i}"),
                (_, _, Some(f)) => write!(out, "{f:?}"),
                _ => write!(out, "{n}"),
            };
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
    }
}

pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
    fn hashes_order_as_their_bytes() {
        // Differing in each byte, high and low values, and equal up to it.
        let mut hashes: Vec<Hash> = (0..64u8).map(|i| Hash::of(&[i])).collect();
        for at in 0..32 {
            for b in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut h = [0x80u8; 32];
                h[at] = b;
                hashes.push(Hash(h));
            }
        }
        for a in &hashes {
            for b in &hashes {
                assert_eq!(a.cmp(b), a.0.cmp(&b.0), "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn canonical_encoding_is_unambiguous() {
        let a = Canonical::new("d").str("ab").str("c").finish();
        let b = Canonical::new("d").str("a").str("bc").finish();
        assert_ne!(a, b);
    }
}
