//! Keys pinned beside their inputs. `golden/keys.json` holds JSON values with
//! their canonical encoding and its hash, and one derivation record of each
//! rule (from the example workspace) with its key, all computed by an
//! independent implementation (Python's `json.dumps(sort_keys=True)` and the
//! `blake3` package; float spellings written by hand). A change that moves
//! any of them changes every key floe has ever stored or published.

use floe_engine::Hash;
use floe_engine::drv::DrvRecord;
use floe_engine::hash::canonical_json;
use serde_json::Value;

fn golden() -> Value {
    let text = include_str!("golden/keys.json");
    serde_json::from_str(text).expect("golden/keys.json is JSON")
}

fn hash(v: &Value) -> Hash {
    let s = v.as_str().and_then(|s| s.strip_prefix("blake3:")).expect("a blake3 hash");
    Hash::from_hex(s).expect("64 hex digits")
}

#[test]
fn canonical_json_is_pinned() {
    let cases = golden()["canonical"].as_array().unwrap().clone();
    assert!(cases.len() >= 8);
    for case in cases {
        let bytes = canonical_json(&case["value"]);
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), case["canonical"].as_str().unwrap());
        assert_eq!(Hash::of(&bytes), hash(&case["hash"]));
        // It parses back to a value with the same encoding.
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonical_json(&back), bytes);
    }
}

#[test]
fn derivation_keys_are_pinned() {
    let cases = golden()["derivations"].as_array().unwrap().clone();
    let rules: std::collections::BTreeSet<&str> = cases.iter().map(|c| c["record"]["rule"].as_str().unwrap()).collect();
    assert_eq!(rules.len(), 6, "one record of each rule");
    for case in &cases {
        let record: DrvRecord = serde_json::from_value(case["record"].clone()).unwrap();
        assert_eq!(record.key(), hash(&case["key"]), "{}", case["target"]);
        assert_eq!(DrvRecord::decode(&record.encode()).as_ref(), Ok(&record));
    }
}
