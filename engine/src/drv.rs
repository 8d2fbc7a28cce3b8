//! A derivation as a value: the record its key is the hash of.
//!
//! As in Nix and tvix, a derivation is data with one canonical byte encoding
//! that parses back: the rule and its version, the hash of each named input
//! part, and the names of the files it writes. Its key is blake3 of those
//! bytes, so anyone holding a record can check the key it is stored under,
//! and a record fetched from elsewhere is verified by re-encoding it. The floe
//! version is not in it: a floe that changes no rule reuses every key (an
//! output that embeds the floe version has it as an input part).
//! `floe.drv.json` lists a package's records, and the store keeps each one in
//! the action entry of its key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::{Hash, write_string};

/// The format tag of a record, part of its encoding (so of its key).
pub const FORMAT: &str = "floe.drv.v3";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrvRecord {
    pub format: String,
    pub rule: String,
    pub rule_version: u32,
    /// Each input part's name and the hash of its canonical JSON.
    pub inputs: BTreeMap<String, Hash>,
    /// The files it writes, in the order the rule returns them.
    pub outputs: Vec<String>,
}

impl DrvRecord {
    pub fn new(rule: &str, rule_version: u32, inputs: BTreeMap<String, Hash>, outputs: Vec<String>) -> DrvRecord {
        DrvRecord { format: FORMAT.to_owned(), rule: rule.to_owned(), rule_version, inputs, outputs }
    }

    /// The record's one encoding: canonical JSON (keys sorted, no space),
    /// written field by field: every derivation of a build is encoded.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + 96 * self.inputs.len());
        out.extend_from_slice(b"{\"format\":");
        write_string(&self.format, &mut out);
        out.extend_from_slice(b",\"inputs\":{");
        // A BTreeMap of strings iterates in byte order, as canonical JSON sorts.
        for (i, (name, hash)) in self.inputs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(name, &mut out);
            out.extend_from_slice(b":\"");
            hash.write_to(&mut out);
            out.push(b'"');
        }
        out.extend_from_slice(b"},\"outputs\":[");
        for (i, output) in self.outputs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(output, &mut out);
        }
        out.extend_from_slice(b"],\"rule\":");
        write_string(&self.rule, &mut out);
        out.extend_from_slice(b",\"rule_version\":");
        out.extend_from_slice(self.rule_version.to_string().as_bytes());
        out.push(b'}');
        out
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("records serialize")
    }

    /// blake3 of [`DrvRecord::encode`].
    pub fn key(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// A record from its encoding: only the canonical bytes of a record of
    /// this format decode, so a record and its bytes are one-to-one.
    pub fn decode(bytes: &[u8]) -> Result<DrvRecord, String> {
        let record: DrvRecord = serde_json::from_slice(bytes).map_err(|e| format!("not a derivation record: {e}"))?;
        if record.format != FORMAT {
            return Err(format!("a record of format `{}`, not `{FORMAT}`", record.format));
        }
        if record.encode() != bytes {
            return Err("not the canonical encoding of its record".to_owned());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::canonical_json;

    fn sample() -> DrvRecord {
        let inputs = [("spec", Hash::of(b"spec")), ("platform", Hash::of(b"platform"))]
            .into_iter()
            .map(|(n, h)| (n.to_owned(), h))
            .collect();
        DrvRecord::new("dbt-profile", 2, inputs, vec!["profiles.yml".to_owned()])
    }

    #[test]
    fn a_record_round_trips_through_its_one_encoding() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(DrvRecord::decode(&bytes), Ok(r.clone()));
        assert_eq!(Hash::of(&bytes), r.key());
        // Any other spelling of the same value is refused: pretty-printed,
        // reordered, or with a field records do not have.
        let pretty = serde_json::to_vec_pretty(&r).unwrap();
        assert!(DrvRecord::decode(&pretty).is_err());
        let mut other = r.to_value();
        other["extra"] = Value::Bool(true);
        assert!(DrvRecord::decode(&canonical_json(&other)).is_err());
        let old = DrvRecord { format: "floe.drv.v2".to_owned(), ..r };
        assert!(DrvRecord::decode(&old.encode()).is_err());
    }

    #[test]
    fn every_field_is_in_the_key() {
        let base = sample();
        let mut changed = vec![
            DrvRecord { rule: "artifacts".to_owned(), ..base.clone() },
            DrvRecord { rule_version: 3, ..base.clone() },
            DrvRecord { outputs: vec!["profile.yml".to_owned()], ..base.clone() },
        ];
        let mut inputs = base.inputs.clone();
        inputs.insert("extra".to_owned(), Hash::of(b""));
        changed.push(DrvRecord { inputs, ..base.clone() });
        for c in changed {
            assert_ne!(c.key(), base.key(), "{c:?}");
        }
    }

    #[test]
    fn the_encoding_is_the_canonical_json_of_the_record() {
        let odd = "a\"b\\c\nd\u{1}é€";
        let inputs = [(odd, Hash::of(b"x")), ("", Hash::of(b"")), ("B", Hash::of(b"b")), ("a", Hash::of(b"a"))]
            .into_iter()
            .map(|(n, h)| (n.to_owned(), h))
            .collect();
        for r in [
            sample(),
            DrvRecord::new(odd, u32::MAX, inputs, vec![odd.to_owned(), "z".to_owned(), "a".to_owned()]),
            DrvRecord::new("r", 0, BTreeMap::new(), Vec::new()),
        ] {
            assert_eq!(
                String::from_utf8(r.encode()).unwrap(),
                String::from_utf8(canonical_json(&r.to_value())).unwrap()
            );
        }
    }
}
