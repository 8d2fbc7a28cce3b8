//! floe's YAML, written straight from any `Serialize` value: block style,
//! every string double-quoted, every map's keys in sorted order (as
//! `serde_json::Map` keeps them), so that a typed value and its
//! `serde_json::Value` give the same bytes. Going through no intermediate
//! tree matters for the large objects a build writes per product.
//!
//! Each value is written where it stands: as a map's value after `key:`, as
//! a sequence's item after its dash, or alone. A map whose fields do not
//! arrive sorted (a struct's fields come in declaration order) is reordered
//! once in place when it ends; sorted ones, such as `BTreeMap`s, never move.

use std::borrow::Cow;
use std::fmt::{self, Display};

use serde::ser::{self, Impossible, Serialize};

use super::{pad, write_key, write_string};

/// What a value that cannot be written as YAML map key or value is.
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

/// Appends `value` to `out` as a YAML document's content, with a trailing
/// newline.
pub fn write(out: &mut String, value: &(impl Serialize + ?Sized)) -> Result<(), Error> {
    value.serialize(Ser { out, at: At::Top })
}

/// Where a value is written, which decides what comes before it.
#[derive(Clone, Copy)]
enum At {
    /// The whole document.
    Top,
    /// A map's value, after `key:` at this indent.
    Value(usize),
    /// A sequence's item, its dash at this indent.
    Item(usize),
}

struct Ser<'a> {
    out: &'a mut String,
    at: At,
}

impl Ser<'_> {
    fn plain(self, text: &str) -> Result<(), Error> {
        scalar(self.out, self.at, |out| out.push_str(text));
        Ok(())
    }
}

/// A scalar, written by `text` where it stands.
fn scalar(out: &mut String, at: At, text: impl FnOnce(&mut String)) {
    match at {
        At::Top => {}
        At::Value(_) => out.push(' '),
        At::Item(indent) => {
            pad(out, indent);
            out.push_str("- ");
        }
    }
    text(out);
    out.push('\n');
}

/// A map being written: its entries' keys and where each entry's text is.
struct MapState {
    at: At,
    /// Where the map's text starts (an empty map's is rewritten as `{}`).
    start: usize,
    /// Where its first entry starts.
    entries_start: usize,
    entry_indent: usize,
    entries: Vec<(Cow<'static, str>, usize, usize)>,
    /// A map's key, between `serialize_key` and `serialize_value`.
    key: Option<String>,
}

impl MapState {
    fn begin(out: &mut String, at: At) -> MapState {
        let start = out.len();
        let entry_indent = match at {
            At::Top => 0,
            At::Value(indent) => {
                out.push('\n');
                indent + 2
            }
            At::Item(indent) => indent + 2,
        };
        MapState { at, start, entries_start: out.len(), entry_indent, entries: Vec::new(), key: None }
    }

    /// Writes `key:` for an entry and returns where the entry starts.
    fn key_text(&self, out: &mut String, key: &str) -> usize {
        let start = out.len();
        pad(out, self.entry_indent);
        write_key(out, key);
        out.push(':');
        start
    }

    fn entry(
        &mut self,
        out: &mut String,
        key: Cow<'static, str>,
        value: &(impl Serialize + ?Sized),
    ) -> Result<(), Error> {
        let start = self.key_text(out, &key);
        value.serialize(Ser { out, at: At::Value(self.entry_indent) })?;
        self.entries.push((key, start, out.len()));
        Ok(())
    }

    fn finish(mut self, out: &mut String) {
        if self.entries.is_empty() {
            out.truncate(self.start);
            return scalar(out, self.at, |out| out.push_str("{}"));
        }
        if !self.entries.windows(2).all(|w| w[0].0 < w[1].0) {
            // Sorted by key, the last of equal keys kept (as a map's insert keeps it).
            self.entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            self.entries.dedup_by(|later, kept| later.0 == kept.0);
            let text = out.split_off(self.entries_start);
            for (_, start, end) in &self.entries {
                out.push_str(&text[start - self.entries_start..end - self.entries_start]);
            }
        }
        if let At::Item(indent) = self.at {
            // The first entry shares the dash's line (`- key:`), its indent
            // two more than the dash's.
            let dash = self.entries_start + indent;
            out.replace_range(dash..=dash, "-");
        }
    }
}

/// A sequence being written.
struct SeqState {
    at: At,
    start: usize,
    item_indent: usize,
    empty: bool,
}

impl SeqState {
    fn begin(out: &mut String, at: At) -> SeqState {
        let start = out.len();
        let item_indent = match at {
            At::Top => 0,
            At::Value(indent) => {
                out.push('\n');
                indent + 2
            }
            At::Item(indent) => {
                pad(out, indent);
                out.push_str("-\n");
                indent + 2
            }
        };
        SeqState { at, start, item_indent, empty: true }
    }

    fn item(&mut self, out: &mut String, value: &(impl Serialize + ?Sized)) -> Result<(), Error> {
        self.empty = false;
        value.serialize(Ser { out, at: At::Item(self.item_indent) })
    }

    fn finish(self, out: &mut String) {
        if self.empty {
            out.truncate(self.start);
            scalar(out, self.at, |out| out.push_str("[]"));
        }
    }
}

struct Map<'a> {
    out: &'a mut String,
    state: MapState,
}

struct Seq<'a> {
    out: &'a mut String,
    state: SeqState,
}

/// `{variant: …}` whose value is a sequence or a map (`S`), which closes the
/// outer map when it ends.
struct Variant<'a, S> {
    out: &'a mut String,
    outer: MapState,
    variant: &'static str,
    entry_start: usize,
    inner: S,
}

impl<'a, S> Variant<'a, S> {
    fn begin(out: &'a mut String, at: At, variant: &'static str, inner: impl FnOnce(&mut String, At) -> S) -> Self {
        let outer = MapState::begin(out, at);
        let entry_start = outer.key_text(out, variant);
        let inner = inner(out, At::Value(outer.entry_indent));
        Variant { out, outer, variant, entry_start, inner }
    }

    fn finish(mut self) {
        self.outer.entries.push((Cow::Borrowed(self.variant), self.entry_start, self.out.len()));
        self.outer.finish(self.out);
    }
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Variant<'a, SeqState>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Variant<'a, MapState>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.plain(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.plain(&v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(v), _) => self.serialize_i64(v),
            (_, Ok(v)) => self.serialize_u64(v),
            _ => Err(Error(format!("{v} is out of range for a number"))),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.plain(&v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => Err(Error(format!("{v} is out of range for a number"))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // As JSON writes it: a number that is not finite is null.
        self.plain(&serde_json::Value::from(v).to_string())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.plain(&serde_json::Value::from(v).to_string())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        scalar(self.out, self.at, |out| write_string(out, v));
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        ser::Serializer::collect_seq(self, v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut map = MapState::begin(self.out, self.at);
        map.entry(self.out, Cow::Borrowed(variant), value)?;
        map.finish(self.out);
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Error> {
        let state = SeqState::begin(self.out, self.at);
        Ok(Seq { out: self.out, state })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Variant<'a, SeqState>, Error> {
        Ok(Variant::begin(self.out, self.at, variant, SeqState::begin))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Map<'a>, Error> {
        let state = MapState::begin(self.out, self.at);
        Ok(Map { out: self.out, state })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map<'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Variant<'a, MapState>, Error> {
        Ok(Variant::begin(self.out, self.at, variant, MapState::begin))
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.state.item(self.out, value)
    }
    fn end(self) -> Result<(), Error> {
        self.state.finish(self.out);
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.state.item(self.out, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.state.item(self.out, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Variant<'_, SeqState> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.inner.item(self.out, value)
    }
    fn end(self) -> Result<(), Error> {
        let Variant { out, outer, variant, entry_start, inner } = self;
        inner.finish(out);
        Variant { out, outer, variant, entry_start, inner: () }.finish();
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.state.key = Some(key.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.state.key.take().ok_or_else(|| Error("a map's value without its key".to_owned()))?;
        self.state.entry(self.out, Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.state.finish(self.out);
        Ok(())
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.state.entry(self.out, Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

impl ser::SerializeStructVariant for Variant<'_, MapState> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.inner.entry(self.out, Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        let Variant { out, outer, variant, entry_start, inner } = self;
        inner.finish(out);
        Variant { out, outer, variant, entry_start, inner: () }.finish();
        Ok(())
    }
}

/// A map's key as text: strings as they are, and what JSON writes as a
/// string key (numbers, booleans, characters, unit variants).
struct KeySer;

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        Err(not_a_key("a number with a fraction"))
    }
    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        Err(not_a_key("a number with a fraction"))
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Err(not_a_key("bytes"))
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_a_key("null"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Error> {
        Err(not_a_key("an option"))
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(not_a_key("null"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        Err(not_a_key("null"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(not_a_key("a variant with a value"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key("a tuple"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key("a variant with values"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key("a variant with fields"))
    }
}

fn not_a_key(what: &str) -> Error {
    Error(format!("{what} cannot be a map's key"))
}
