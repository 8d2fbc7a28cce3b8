//! What a scalar is: its tag's meaning, and the value a plain scalar spells.
//!
//! The rules are those floe's documents have always been read with: YAML 1.1
//! booleans (`yes`, `off`, …), integers in decimal, hex, octal and binary with
//! `_` separators, YAML 1.2 floats, redundant leading zeros (`012`) kept as
//! text, and non-finite floats (`.inf`, `1e999`) rejected.

use std::borrow::Cow;

use granit_parser::{ScalarStyle, Tag};

use super::Fail;
use super::events::Loc;
use crate::yaml::NodeKind;

const YAML_NAMESPACE: &str = "tag:yaml.org,2002:";

/// What a tag asks of its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum TagKind {
    None,
    Int,
    Float,
    Bool,
    Null,
    Seq,
    Map,
    Timestamp,
    Time,
    Binary,
    Str,
    Merge,
    Value,
    NonSpecific,
    Include,
    Degrees,
    Radians,
    Other,
}

/// The shape of node a tag may sit on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Scalar,
    Seq,
    Map,
}

impl TagKind {
    pub(super) fn of(tag: &Tag) -> TagKind {
        if is_include(tag) {
            return TagKind::Include;
        }
        if let Some(kind) = tag.core_suffix().and_then(core_kind) {
            return kind;
        }
        let in_yaml = tag.suffix_in_namespace(YAML_NAMESPACE);
        match in_yaml.as_deref() {
            Some("merge") => TagKind::Merge,
            Some("value") => TagKind::Value,
            Some(name) => named_kind(name.strip_prefix('!').unwrap_or(name)),
            None => match tag.suffix_in_namespace("!").as_deref() {
                None => TagKind::Other,
                Some("" | "!") => TagKind::NonSpecific,
                Some("!timestamp") => TagKind::Timestamp,
                Some("!binary") => TagKind::Binary,
                Some(name) => match name.strip_prefix('!') {
                    Some(core) => core_kind(core).unwrap_or(TagKind::Other),
                    None => named_kind(name),
                },
            },
        }
    }

    /// The shape the tag requires, if any: `!!int [1]` is an error.
    pub(super) fn requires(self) -> Option<Shape> {
        use TagKind::*;
        match self {
            Int | Float | Bool | Null | Timestamp | Time | Binary | Str | Merge | Value | Include | Degrees
            | Radians => Some(Shape::Scalar),
            Seq => Some(Shape::Seq),
            Map => Some(Shape::Map),
            None | NonSpecific | Other => Option::None,
        }
    }

    pub(super) fn forces_string(self) -> bool {
        matches!(self, TagKind::Str | TagKind::NonSpecific)
    }

    pub(super) fn can_be_string(self) -> bool {
        use TagKind::*;
        matches!(self, None | Str | Merge | Value | Other | Include | NonSpecific)
    }

    fn is_core(self) -> bool {
        use TagKind::*;
        matches!(self, Int | Float | Bool | Null | Seq | Map | Str)
    }

    fn is_angle_or_time(self) -> bool {
        matches!(self, TagKind::Time | TagKind::Degrees | TagKind::Radians)
    }
}

/// `!include`, also with a `#fragment`, in its three spellings.
fn is_include(tag: &Tag) -> bool {
    ["!include", "tag:yaml.org,2002:include", "tag:yaml.org,2002:!include"]
        .iter()
        .any(|prefix| tag.suffix_in_namespace(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('#')))
}

fn core_kind(suffix: &str) -> Option<TagKind> {
    Some(match suffix {
        "null" => TagKind::Null,
        "bool" => TagKind::Bool,
        "int" => TagKind::Int,
        "float" => TagKind::Float,
        "map" => TagKind::Map,
        "seq" => TagKind::Seq,
        "str" => TagKind::Str,
        _ => return None,
    })
}

fn named_kind(name: &str) -> TagKind {
    match name {
        "timestamp" => TagKind::Timestamp,
        "time" => TagKind::Time,
        "binary" => TagKind::Binary,
        "include" => TagKind::Include,
        "degrees" => TagKind::Degrees,
        "radians" => TagKind::Radians,
        name => core_kind(name).unwrap_or(TagKind::Other),
    }
}

/// Whether a scalar is null: tagged so, or an untyped plain `~`, `null` or nothing.
pub(super) fn is_null(tag: TagKind, value: &str, style: ScalarStyle) -> bool {
    tag == TagKind::Null
        || (!tag.is_core()
            && !tag.forces_string()
            && !matches!(tag, TagKind::Binary | TagKind::Timestamp)
            && !tag.is_angle_or_time()
            && is_nullish(value, style))
}

pub(super) fn is_nullish(value: &str, style: ScalarStyle) -> bool {
    style == ScalarStyle::Plain && matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// The value of a scalar in value position.
pub(super) fn value(text: Cow<'_, str>, style: ScalarStyle, tag: TagKind, loc: Loc) -> Result<NodeKind, Fail> {
    match tag {
        TagKind::Null => return Ok(NodeKind::Null),
        TagKind::Bool => return yaml11_bool(&text).map(NodeKind::Bool).ok_or_else(|| invalid("boolean", loc)),
        TagKind::Int => return typed_int(&text, loc),
        TagKind::Float => return float(&text, loc)?.ok_or_else(|| invalid("floating point", loc)),
        tag if tag.is_angle_or_time() => return Err(invalid("floating point", loc)),
        _ => {}
    }
    if is_null(tag, &text, style) {
        return Ok(NodeKind::Null);
    }
    if style != ScalarStyle::Plain || !tag.can_be_string() || tag == TagKind::Binary || tag.forces_string() {
        return string(text, tag, loc).map(NodeKind::Str);
    }
    infer(text, loc)
}

/// The text of a scalar that must be a string: a quoted or string-tagged value, or a key.
pub(super) fn string(text: Cow<'_, str>, tag: TagKind, loc: Loc) -> Result<String, Fail> {
    match tag {
        TagKind::Binary => binary_text(&text, loc),
        tag if !tag.can_be_string() => Err(Fail::syntax("cannot deserialize tagged scalar into string", loc)),
        _ => Ok(text.into_owned()),
    }
}

/// A plain, untyped scalar: boolean, integer, float, or else text.
fn infer(text: Cow<'_, str>, loc: Loc) -> Result<NodeKind, Fail> {
    if let Some(b) = yaml11_bool(&text) {
        return Ok(NodeKind::Bool(b));
    }
    let t = trim(&text);
    if leading_zero_decimal(t) {
        return Ok(NodeKind::Str(text.into_owned()));
    }
    let int = if t.starts_with('-') {
        int_signed(t).and_then(|v| i64::try_from(v).ok()).map(NodeKind::Int)
    } else {
        int_unsigned(t).and_then(|v| u64::try_from(v).ok()).map(unsigned)
    };
    if let Some(int) = int {
        return Ok(int);
    }
    match float(&text, loc)? {
        Some(kind) => Ok(kind),
        None => Ok(NodeKind::Str(text.into_owned())),
    }
}

/// An integer beyond `i64` is kept as a float, the nearest a JSON number can say.
fn unsigned(v: u64) -> NodeKind {
    i64::try_from(v).map_or(NodeKind::Float(v as f64), NodeKind::Int)
}

fn typed_int(text: &str, loc: Loc) -> Result<NodeKind, Fail> {
    if trim(text).starts_with('-') {
        int_signed(text).and_then(|v| i64::try_from(v).ok()).map(NodeKind::Int).ok_or_else(|| invalid("i64", loc))
    } else {
        int_unsigned(text).and_then(|v| u64::try_from(v).ok()).map(unsigned).ok_or_else(|| invalid("u64", loc))
    }
}

/// A float, `None` when the text is not one; infinities and NaN are errors
/// since JSON cannot carry them.
fn float(text: &str, loc: Loc) -> Result<Option<NodeKind>, Fail> {
    match float_incl_overflow(text) {
        Some(v) if v.is_finite() => Ok(Some(NodeKind::Float(v))),
        Some(_) => Err(Fail::syntax(format!("non-finite float `{text}` rejected by the configured policy"), loc)),
        None => Ok(None),
    }
}

fn invalid(ty: &str, loc: Loc) -> Fail {
    Fail::syntax(format!("invalid {ty}"), loc)
}

/// Trims the ASCII padding scalar conversion ignores.
pub(super) fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// YAML 1.1 booleans, any letter case: `y`, `yes`, `true`, `on` and their opposites.
fn yaml11_bool(s: &str) -> Option<bool> {
    let t = trim(s);
    let is = |words: [&str; 4]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(["true", "yes", "y", "on"]) {
        Some(true)
    } else if is(["false", "no", "n", "off"]) {
        Some(false)
    } else {
        None
    }
}

/// `0127`, `+0127`, `-0127`: decimal digits with a redundant leading zero.
fn leading_zero_decimal(t: &str) -> bool {
    let s = trim(t);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn int_signed(s: &str) -> Option<i128> {
    let t = trim(s);
    let (negative, rest) = match t.strip_prefix('+') {
        Some(rest) => (false, rest),
        None => t.strip_prefix('-').map_or((false, t), |rest| (true, rest)),
    };
    let magnitude = magnitude(rest)?;
    if negative {
        if magnitude == i128::MAX as u128 + 1 { Some(i128::MIN) } else { i128::try_from(magnitude).ok().map(|m| -m) }
    } else {
        i128::try_from(magnitude).ok()
    }
}

pub(super) fn int_unsigned(s: &str) -> Option<u128> {
    let t = trim(s);
    if t.starts_with('-') {
        return None;
    }
    magnitude(t.strip_prefix('+').unwrap_or(t))
}

/// The unsigned value of `0x…`, `0o…`, `0b…` or decimal digits; a decimal
/// with a leading zero is not an integer.
fn magnitude(rest: &str) -> Option<u128> {
    let prefixed = |lower: &str, upper: &str| rest.strip_prefix(lower).or_else(|| rest.strip_prefix(upper));
    if let Some(digits) = prefixed("0x", "0X") {
        digits_in(digits, 16)
    } else if let Some(digits) = prefixed("0o", "0O") {
        digits_in(digits, 8)
    } else if let Some(digits) = prefixed("0b", "0B") {
        digits_in(digits, 2)
    } else if rest.starts_with('0') && rest != "0" {
        None
    } else {
        digits_in(rest, 10)
    }
}

/// Digits of `radix`, single `_` allowed between them.
fn digits_in(digits: &str, radix: u32) -> Option<u128> {
    let bytes = digits.as_bytes();
    let mut value: u128 = 0;
    let mut any = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let between = i > 0 && bytes[i - 1] != b'_' && bytes.get(i + 1).is_some_and(|&n| n != b'_');
            if !between {
                return None;
            }
            continue;
        }
        let digit = (b as char).to_digit(16).filter(|&d| d < radix)?;
        value = value.checked_mul(u128::from(radix))?.checked_add(u128::from(digit))?;
        any = true;
    }
    any.then_some(value)
}

/// YAML 1.2 floats, and numerals too large for `f64` (as infinities).
fn float_incl_overflow(s: &str) -> Option<f64> {
    let t = trim(s);
    if let Some(v) = yaml12_float(t) {
        return Some(v);
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !unsigned.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_infinite())
}

fn yaml12_float(t: &str) -> Option<f64> {
    let (negative, unsigned) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    match unsigned {
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        ".inf" | ".Inf" | ".INF" if negative => Some(f64::NEG_INFINITY),
        ".inf" | ".Inf" | ".INF" => Some(f64::INFINITY),
        _ => t.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// A `!!binary` scalar, decoded; it must hold UTF-8 text.
fn binary_text(text: &str, loc: Loc) -> Result<String, Fail> {
    let bytes = base64(text).ok_or_else(|| Fail::syntax("invalid !!binary base64", loc))?;
    String::from_utf8(bytes).map_err(|_| {
        Fail::syntax(
            "!!binary scalar is not valid UTF-8 so cannot be stored into string. If you just use !!binary for \
             documentation/annotation, set ignore_binary_tag_for_string in Options",
            loc,
        )
    })
}

/// Standard base64 with `=` padding; ASCII whitespace is ignored.
fn base64(text: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let sextet = |b: u8| -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let chunks = clean.chunks_exact(4);
    let last = chunks.len().saturating_sub(1);
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for (i, chunk) in chunks.enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 0 && i != last {
            return None;
        }
        let (a, b) = (sextet(chunk[0])?, sextet(chunk[1])?);
        let c = if chunk[2] == b'=' { (pad >= 2).then_some(0)? } else { sextet(chunk[2])? };
        let d = if chunk[3] == b'=' { (pad > 0).then_some(0)? } else { sextet(chunk[3])? };
        if (pad == 2 && b & 0x0F != 0) || (pad == 1 && c & 0x03 != 0) {
            return None;
        }
        let triple = (a << 18) | (b << 12) | (c << 6) | d;
        out.push((triple >> 16) as u8);
        if pad < 2 {
            out.push((triple >> 8) as u8);
        }
        if pad == 0 {
            out.push(triple as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_spelling() {
        assert_eq!(int_unsigned("0x1F"), Some(31));
        assert_eq!(int_unsigned("0o17"), Some(15));
        assert_eq!(int_unsigned("0b101"), Some(5));
        assert_eq!(int_unsigned("+1_000"), Some(1000));
        assert_eq!(int_signed("-0x80000000000000000000000000000000"), Some(i128::MIN));
        assert_eq!(int_unsigned("012"), None);
        assert_eq!(int_unsigned("1__0"), None);
        assert_eq!(int_unsigned("_1"), None);
        assert_eq!(int_unsigned("0x"), None);
    }

    #[test]
    fn base64_needs_canonical_padding() {
        assert_eq!(base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64("aGVsbG9="), None);
        assert_eq!(base64("aG=s"), None);
    }
}
