//! Events to a [`Node`] tree: typed scalars, sequences, and mappings with
//! string keys, no duplicates, and merge keys (`<<`) applied.
//!
//! A mapping's explicit entries come first, in order; entries a `<<` brings
//! in follow once the mapping has closed, each unless an earlier entry has its
//! key. A node copied by an alias is placed at the alias, a merged entry at
//! its merge key's value.

use std::borrow::Cow;
use std::collections::HashSet;

use granit_parser::ScalarStyle;

use super::Fail;
use super::events::{Captured, Ev, Live, Loc, NodeTag, Origin, Replay, Source, recursive};
use super::scalar::{self, TagKind, int_signed, int_unsigned, is_nullish, trim};
use crate::diag::Span;
use crate::yaml::{Key, Node, NodeKind};

/// The document's root; a null document is null at its first character.
pub(super) fn document(live: &mut Live<'_>) -> Result<Node, Fail> {
    let root = match live.peek()? {
        Some(Ev::Scalar { value, style, tag, .. }) if scalar::is_null(tag.kind, value, *style) => {
            live.next()?;
            None
        }
        None | Some(Ev::SeqEnd { .. } | Ev::MapEnd { .. }) => None,
        Some(_) => Some(Builder::default().node(live)?),
    };
    live.finish()?;
    Ok(root.unwrap_or(Node { kind: NodeKind::Null, span: Span { line: 1, column: 1, offset: 0, len: 0 } }))
}

fn span(loc: Loc) -> Span {
    Span { line: loc.line, column: loc.column, offset: loc.offset, len: loc.len }
}

/// Where the node about to be read is written.
fn placed<'a>(src: &mut impl Source<'a>) -> Result<Loc, Fail> {
    let own = src.peek()?.map(Ev::loc);
    Ok(match src.origin() {
        Origin::Alias(at) | Origin::Merge(at) => at,
        Origin::Direct => own.unwrap_or_else(|| src.last_loc()),
    })
}

fn eof(loc: Loc) -> Fail {
    Fail::syntax("unexpected end of input", loc)
}

/// Builds nodes, keeping the keys of the mappings open around the one being read.
#[derive(Default)]
struct Builder<'a> {
    /// Each open mapping's keys, outermost first: mappings nest, so one stack
    /// serves them all without an allocation per mapping.
    keys: Vec<Fingerprint<'a>>,
}

impl<'a> Builder<'a> {
    fn node(&mut self, src: &mut impl Source<'a>) -> Result<Node, Fail> {
        let at = placed(src)?;
        let kind = match src.peek()? {
            Some(Ev::Scalar { .. }) => match src.next()? {
                Some(Ev::Scalar { value, style, tag, loc }) => scalar::value(value, style, tag.kind, loc)?,
                _ => NodeKind::Null,
            },
            Some(Ev::SeqStart { .. }) => self.seq(src)?,
            Some(Ev::MapStart { .. }) => self.map(src)?,
            Some(Ev::SeqEnd { loc }) => return Err(Fail::syntax("unexpected sequence end", *loc)),
            Some(Ev::MapEnd { loc }) => return Err(Fail::syntax("unexpected mapping end", *loc)),
            Some(Ev::Recursive { loc, .. }) => return Err(recursive(*loc)),
            None => NodeKind::Null,
        };
        Ok(Node { kind, span: span(at) })
    }

    fn seq(&mut self, src: &mut impl Source<'a>) -> Result<NodeKind, Fail> {
        src.next()?;
        let mut items = Vec::new();
        loop {
            match src.peek()? {
                Some(Ev::SeqEnd { .. }) => break,
                Some(_) => items.push(self.node(src)?),
                None => return Err(eof(src.last_loc())),
            }
        }
        src.next()?;
        Ok(NodeKind::Seq(items))
    }

    fn map(&mut self, src: &mut impl Source<'a>) -> Result<NodeKind, Fail> {
        src.next()?;
        let mut seen = Seen::starting_at(self.keys.len());
        let mut entries = Vec::new();
        let mut merged: Vec<Vec<Entry<'a>>> = Vec::new();
        loop {
            match src.peek()? {
                Some(Ev::MapEnd { .. }) => break,
                Some(_) => {}
                None => return Err(eof(src.last_loc())),
            }
            let key = take_key(src)?;
            if key.is_merge() {
                let at = placed(src)?;
                let batch = merge_value(src, at)?;
                if !batch.is_empty() {
                    merged.push(batch);
                }
                continue;
            }
            let fingerprint = key.fingerprint();
            if seen.contains(&self.keys, &fingerprint) {
                return Err(key.duplicate());
            }
            let key = key.into_key()?;
            seen.insert(&mut self.keys, fingerprint);
            entries.push((key, self.node(src)?));
        }
        src.next()?;
        for entry in merged.into_iter().flatten() {
            let fingerprint = entry.key.fingerprint();
            if seen.contains(&self.keys, &fingerprint) {
                continue;
            }
            let key = entry.key.into_key()?;
            seen.insert(&mut self.keys, fingerprint);
            entries.push((key, self.node(&mut Replay::new(entry.value, None))?));
        }
        self.keys.truncate(seen.base);
        Ok(NodeKind::Map(entries))
    }
}

/// A mapping key as read: one scalar event, or a whole captured node.
enum KeyNode<'a> {
    Scalar { value: Cow<'a, str>, style: ScalarStyle, tag: NodeTag, loc: Loc, origin: Origin },
    Captured(Captured<'a>),
}

fn take_key<'a>(src: &mut impl Source<'a>) -> Result<KeyNode<'a>, Fail> {
    if let Some(Ev::Scalar { .. }) = src.peek()? {
        let origin = src.origin();
        if let Some(Ev::Scalar { value, style, tag, loc }) = src.next()? {
            return Ok(KeyNode::Scalar { value, style, tag, loc, origin });
        }
    }
    capture(src).map(KeyNode::Captured)
}

impl<'a> KeyNode<'a> {
    fn from_captured(mut events: Captured<'a>) -> KeyNode<'a> {
        if let [(Ev::Scalar { .. }, _)] = events.as_slice()
            && let Some((Ev::Scalar { value, style, tag, loc }, origin)) = events.pop()
        {
            return KeyNode::Scalar { value, style, tag, loc, origin };
        }
        KeyNode::Captured(events)
    }

    /// `<<`, plain and untagged or `!!merge`.
    fn is_merge(&self) -> bool {
        matches!(self, KeyNode::Scalar { value, style, tag, .. }
            if value == "<<" && (tag.kind == TagKind::Merge || (tag.kind == TagKind::None && *style == ScalarStyle::Plain)))
    }

    fn loc(&self) -> Loc {
        match self {
            KeyNode::Scalar { loc, .. } => *loc,
            KeyNode::Captured(events) => events.first().map_or_else(Loc::default, |(ev, _)| ev.loc()),
        }
    }

    fn fingerprint(&self) -> Fingerprint<'a> {
        match self {
            KeyNode::Scalar { value, style, tag, .. } => Fingerprint::scalar(value, *style, tag),
            KeyNode::Captured(events) => Fingerprint::of(events, &mut 0),
        }
    }

    fn duplicate(&self) -> Fail {
        let text = match self {
            KeyNode::Scalar { value, tag, .. } if tag.kind.can_be_string() => Some(value.as_ref()),
            _ => None,
        };
        Fail::duplicate(text, self.loc())
    }

    /// The key as a string, placed where it is written.
    fn into_key(self) -> Result<Key, Fail> {
        match self {
            KeyNode::Scalar { value, style, tag, loc, origin } => {
                let at = match origin {
                    Origin::Alias(at) | Origin::Merge(at) => at,
                    Origin::Direct => loc,
                };
                let null = tag.kind == TagKind::Null || is_nullish(&value, style);
                if null && !tag.kind.forces_string() {
                    return Err(Fail::syntax("cannot deserialize null into string; use Option<String>", loc));
                }
                Ok(Key { name: scalar::string(value, tag.kind, loc)?, span: span(at) })
            }
            KeyNode::Captured(events) => match events.first() {
                Some((Ev::Recursive { loc, .. }, _)) => Err(recursive(*loc)),
                Some((ev, _)) => Err(Fail::syntax("expected string scalar", ev.loc())),
                None => Err(eof(Loc::default())),
            },
        }
    }
}

/// One node's events, taken whole; an alias inside its own anchor is kept
/// for whoever reads the node.
fn capture<'a>(src: &mut impl Source<'a>) -> Result<Captured<'a>, Fail> {
    let before = src.defer(true);
    let mut events = Vec::new();
    let captured = capture_into(src, &mut events);
    src.defer(before);
    captured.map(|()| events)
}

fn capture_into<'a>(src: &mut impl Source<'a>, out: &mut Captured<'a>) -> Result<(), Fail> {
    src.peek()?;
    let origin = src.origin();
    let Some(ev) = src.next()? else { return Err(eof(src.last_loc())) };
    let map = match ev {
        Ev::SeqStart { .. } => false,
        Ev::MapStart { .. } => true,
        Ev::SeqEnd { loc } | Ev::MapEnd { loc } => {
            return Err(Fail::syntax("unexpected container end while reading key", loc));
        }
        Ev::Scalar { .. } | Ev::Recursive { .. } => {
            out.push((ev, origin));
            return Ok(());
        }
    };
    out.push((ev, origin));
    loop {
        match src.peek()? {
            Some(Ev::SeqEnd { .. } | Ev::MapEnd { .. }) => {
                let origin = src.origin();
                if let Some(end) = src.next()? {
                    out.push((end, origin));
                }
                return Ok(());
            }
            Some(_) => {
                capture_into(src, out)?;
                if map {
                    capture_into(src, out)?;
                }
            }
            None => return Err(eof(src.last_loc())),
        }
    }
}

/// An entry a merge key brings in, read when its mapping closes.
struct Entry<'a> {
    key: KeyNode<'a>,
    value: Captured<'a>,
}

fn merge_error(loc: Loc) -> Fail {
    Fail::syntax("YAML merge value must be mapping or sequence of mappings", loc)
}

/// The entries the value of a `<<` key brings: a mapping's, or those of each
/// mapping in a sequence, in order; null brings none.
fn merge_value<'a>(src: &mut impl Source<'a>, at: Loc) -> Result<Vec<Entry<'a>>, Fail> {
    match src.peek()? {
        Some(Ev::Scalar { value, style, tag, .. }) if scalar::is_null(tag.kind, value, *style) => {
            src.next()?;
            Ok(Vec::new())
        }
        Some(Ev::Recursive { loc, .. }) => Err(recursive(*loc)),
        Some(Ev::MapStart { .. }) => merge_events(capture(src)?, at),
        Some(Ev::SeqStart { .. }) => {
            src.next()?;
            let mut entries = Vec::new();
            loop {
                match src.peek()? {
                    Some(Ev::SeqEnd { .. }) => break,
                    Some(_) => {
                        let item_at = placed(src)?;
                        entries.extend(merge_events(capture(src)?, item_at)?);
                    }
                    None => return Err(eof(src.last_loc())),
                }
            }
            src.next()?;
            Ok(entries)
        }
        Some(ev) => Err(merge_error(ev.loc())),
        None => Err(eof(src.last_loc())),
    }
}

/// [`merge_value`] of a captured node, whose nodes are placed at `at`.
fn merge_events<'a>(events: Captured<'a>, at: Loc) -> Result<Vec<Entry<'a>>, Fail> {
    let first = events.first().map(|(ev, _)| ev.loc()).unwrap_or_default();
    let mut replay = Replay::new(events, Some(at));
    match replay.peek()? {
        Some(Ev::Scalar { value, style, tag, .. }) if scalar::is_null(tag.kind, value, *style) => Ok(Vec::new()),
        Some(Ev::MapStart { .. }) => merge_map(&mut replay),
        Some(Ev::SeqStart { .. }) => {
            replay.next()?;
            let mut entries = Vec::new();
            loop {
                match replay.peek()? {
                    Some(Ev::SeqEnd { .. }) => break,
                    Some(_) => {
                        let item_at = placed(&mut replay)?;
                        entries.extend(merge_events(capture(&mut replay)?, item_at)?);
                    }
                    None => return Err(eof(replay.last_loc())),
                }
            }
            Ok(entries)
        }
        Some(ev) => Err(merge_error(ev.loc())),
        None => Err(eof(first)),
    }
}

/// A merged mapping's entries: its own, which must not repeat a key, then
/// those of its own merge keys.
fn merge_map<'a>(replay: &mut Replay<'a>) -> Result<Vec<Entry<'a>>, Fail> {
    replay.next()?;
    let mut own: Vec<Entry<'a>> = Vec::new();
    let mut nested = Vec::new();
    loop {
        match replay.peek()? {
            Some(Ev::MapEnd { .. }) => break,
            Some(_) => {}
            None => return Err(eof(replay.last_loc())),
        }
        let key = KeyNode::from_captured(capture(replay)?);
        if key.is_merge() {
            let at = placed(replay)?;
            nested.push(merge_value(replay, at)?);
            continue;
        }
        let value = capture(replay)?;
        own.push(Entry { key, value });
    }
    replay.next()?;
    let mut seen = HashSet::with_capacity(own.len());
    for entry in &own {
        if !seen.insert(entry.key.fingerprint()) {
            return Err(entry.key.duplicate());
        }
    }
    own.extend(nested.into_iter().flatten());
    Ok(own)
}

/// A key's identity: `1` and `0x1` are the same key, `a` and `"a"` too, but
/// not `a` and `!x a`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fingerprint<'a> {
    Recursive(usize),
    Int { negative: bool, magnitude: u128 },
    Scalar { value: Cow<'a, str>, tag: KeyTag },
    Seq { tag: KeyTag, items: Vec<Fingerprint<'a>> },
    Map { tag: KeyTag, entries: Vec<(Fingerprint<'a>, Fingerprint<'a>)> },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyTag {
    Kind(TagKind),
    Custom(Box<str>),
}

impl KeyTag {
    /// Untagged, `!` and string-like tags are one; unknown tags (and the local
    /// `!map`) by their spelling.
    fn of(kind: TagKind, text: Option<&str>, implicit: TagKind) -> KeyTag {
        if let Some(text) = text
            && (kind == TagKind::Other || (implicit == TagKind::Map && kind == TagKind::Map && text == "!map"))
        {
            return KeyTag::Custom(text.into());
        }
        KeyTag::Kind(match kind {
            TagKind::None | TagKind::NonSpecific => implicit,
            kind if implicit == TagKind::Str && kind.can_be_string() => TagKind::Str,
            kind => kind,
        })
    }
}

impl<'a> Fingerprint<'a> {
    fn scalar(value: &Cow<'a, str>, style: ScalarStyle, tag: &NodeTag) -> Fingerprint<'a> {
        if (tag.kind == TagKind::Int || (tag.kind == TagKind::None && style == ScalarStyle::Plain))
            && let Some(int) = Fingerprint::int(value)
        {
            return int;
        }
        let kind = if tag.kind == TagKind::None && is_nullish(value, style) { TagKind::Null } else { tag.kind };
        Fingerprint::Scalar { value: value.clone(), tag: KeyTag::of(kind, tag.text.as_deref(), TagKind::Str) }
    }

    fn int(value: &str) -> Option<Fingerprint<'a>> {
        let t = trim(value);
        let (negative, magnitude) = if t.starts_with('-') {
            let v = int_signed(t)?;
            (v < 0, v.unsigned_abs())
        } else {
            (false, int_unsigned(t)?)
        };
        Some(Fingerprint::Int { negative, magnitude })
    }

    /// The fingerprint of the node starting at `events[*at]`; moves `at` past it.
    fn of(events: &Captured<'a>, at: &mut usize) -> Fingerprint<'a> {
        let Some((ev, _)) = events.get(*at) else { return Fingerprint::Recursive(0) };
        *at += 1;
        match ev {
            Ev::Scalar { value, style, tag, .. } => Fingerprint::scalar(value, *style, tag),
            Ev::Recursive { anchor, .. } => Fingerprint::Recursive(*anchor),
            Ev::SeqStart { tag, .. } => {
                let tag = KeyTag::of(tag.kind, tag.text.as_deref(), TagKind::Seq);
                let mut items = Vec::new();
                while !Fingerprint::at_end(events, at) {
                    items.push(Fingerprint::of(events, at));
                }
                Fingerprint::Seq { tag, items }
            }
            Ev::MapStart { tag, .. } => {
                let tag = KeyTag::of(tag.kind, tag.text.as_deref(), TagKind::Map);
                let mut entries = Vec::new();
                while !Fingerprint::at_end(events, at) {
                    entries.push((Fingerprint::of(events, at), Fingerprint::of(events, at)));
                }
                // A mapping's entries are unordered: `{a: 1, b: 2}` is `{b: 2, a: 1}`.
                entries.sort();
                Fingerprint::Map { tag, entries }
            }
            Ev::SeqEnd { .. } | Ev::MapEnd { .. } => Fingerprint::Recursive(0),
        }
    }

    /// Whether a collection ends at `events[*at]`; moves `at` past its end.
    fn at_end(events: &Captured<'a>, at: &mut usize) -> bool {
        match events.get(*at) {
            Some((Ev::SeqEnd { .. } | Ev::MapEnd { .. }, _)) => {
                *at += 1;
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

/// The keys a mapping has so far: its part of the builder's stack, and a set
/// once there are many.
struct Seen<'a> {
    base: usize,
    set: Option<HashSet<Fingerprint<'a>>>,
}

impl<'a> Seen<'a> {
    /// Past this many keys, a set finds duplicates faster than a scan.
    const SCAN: usize = 16;

    fn starting_at(base: usize) -> Seen<'a> {
        Seen { base, set: None }
    }

    fn contains(&self, stack: &[Fingerprint<'a>], key: &Fingerprint<'a>) -> bool {
        match &self.set {
            Some(set) => set.contains(key),
            None => stack[self.base..].contains(key),
        }
    }

    fn insert(&mut self, stack: &mut Vec<Fingerprint<'a>>, key: Fingerprint<'a>) {
        if let Some(set) = &mut self.set {
            set.insert(key);
        } else if stack.len() - self.base < Self::SCAN {
            stack.push(key);
        } else {
            let mut set: HashSet<_> = stack.drain(self.base..).collect();
            set.insert(key);
            self.set = Some(set);
        }
    }
}
