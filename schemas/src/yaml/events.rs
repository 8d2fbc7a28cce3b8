//! The events a tree is built from: granit-parser's, with aliases expanded.
//!
//! [`Live`] pulls events from the parser one at a time (with one event of
//! lookahead), records what each anchor spans and replays it where an alias
//! stands, and charges everything to the [`Budget`]. [`Replay`] plays back
//! events captured earlier: keys, and the mappings a merge key (`<<`) brings in.

use std::borrow::Cow;

use granit_parser::{ErrorKind, Event, Parser, ScalarStyle, ScanError, Span as ParserSpan, StrInput, Tag};

use super::Fail;
use super::budget::{Budget, Counted};
use super::scalar::{Shape, TagKind};
use crate::yaml::MAX_NODES;

/// Where an event stands in the text; the column counts from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Loc {
    pub line: u32,
    pub column: u32,
    pub offset: u32,
    pub len: u32,
}

impl Loc {
    fn of(span: &ParserSpan) -> Loc {
        let start = span.start.byte_offset().unwrap_or(0);
        let end = span.end.byte_offset().unwrap_or(start);
        Loc {
            line: span.start.line() as u32,
            column: span.start.col() as u32 + 1,
            offset: start as u32,
            len: end.saturating_sub(start) as u32,
        }
    }
}

/// A node's tag: what it means, and its resolved spelling when there is one.
#[derive(Clone, Debug)]
pub(super) struct NodeTag {
    pub kind: TagKind,
    pub text: Option<Box<str>>,
}

impl NodeTag {
    const NONE: NodeTag = NodeTag { kind: TagKind::None, text: None };

    fn of(tag: Option<&Tag>) -> NodeTag {
        tag.map_or(NodeTag::NONE, |tag| NodeTag { kind: TagKind::of(tag), text: Some(tag.to_string().into()) })
    }

    fn len(&self) -> usize {
        self.text.as_deref().map_or(0, str::len)
    }
}

#[derive(Clone, Debug)]
pub(super) enum Ev<'a> {
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
        tag: NodeTag,
        loc: Loc,
    },
    SeqStart {
        tag: NodeTag,
        loc: Loc,
    },
    SeqEnd {
        loc: Loc,
    },
    MapStart {
        tag: NodeTag,
        loc: Loc,
    },
    MapEnd {
        loc: Loc,
    },
    /// An alias inside the node its anchor is on (`&a [*a]`): an error once read.
    Recursive {
        anchor: usize,
        loc: Loc,
    },
}

impl Ev<'_> {
    pub(super) fn loc(&self) -> Loc {
        match self {
            Ev::Scalar { loc, .. }
            | Ev::SeqStart { loc, .. }
            | Ev::SeqEnd { loc }
            | Ev::MapStart { loc, .. }
            | Ev::MapEnd { loc }
            | Ev::Recursive { loc, .. } => *loc,
        }
    }

    /// What a recorded copy of the event holds beyond borrowed text.
    fn owned_bytes(&self) -> usize {
        match self {
            Ev::Scalar { value, tag, .. } => {
                let value = if let Cow::Owned(v) = value { v.len() } else { 0 };
                value + tag.len()
            }
            Ev::SeqStart { tag, .. } | Ev::MapStart { tag, .. } => tag.len(),
            _ => 0,
        }
    }

    /// How a replayed copy is charged: no anchor, and no tag but `!!merge`.
    fn counted(&self) -> Counted<'_> {
        match self {
            Ev::Scalar { value, style, tag, .. } => {
                let merge_tag = tag.kind == TagKind::Merge;
                Counted::Scalar {
                    value,
                    anchor: 0,
                    tag_len: if merge_tag { "tag:yaml.org,2002:merge".len() } else { 0 },
                    merge: value == "<<" && (merge_tag || *style == ScalarStyle::Plain),
                }
            }
            Ev::SeqStart { .. } => Counted::Start { map: false, anchor: 0, tag_len: 0 },
            Ev::MapStart { .. } => Counted::Start { map: true, anchor: 0, tag_len: 0 },
            Ev::SeqEnd { .. } | Ev::MapEnd { .. } => Counted::End,
            Ev::Recursive { .. } => Counted::Scalar { value: "", anchor: 0, tag_len: 0, merge: false },
        }
    }
}

/// Where a node was written, when that is not where its events stand: the
/// alias that copied it, or the merge key that brought it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    Direct,
    Alias(Loc),
    Merge(Loc),
}

/// A stream of events, with one event of lookahead.
pub(super) trait Source<'a> {
    /// The next event, left in place. An alias inside its own anchor is an
    /// error here, unless capture is [deferring](Source::defer) it.
    fn peek(&mut self) -> Result<Option<&Ev<'a>>, Fail>;
    fn next(&mut self) -> Result<Option<Ev<'a>>, Fail>;
    /// The origin of the event [`peek`](Source::peek) returned.
    fn origin(&self) -> Origin;
    fn last_loc(&self) -> Loc;
    /// Sets whether recursive aliases pass through; returns the previous setting.
    fn defer(&mut self, defer: bool) -> bool;
}

pub(super) fn recursive(loc: Loc) -> Fail {
    Fail::syntax("recursive references require weak recursion types", loc)
}

fn resolve(ev: &Ev<'_>, defer: bool) -> Result<(), Fail> {
    match ev {
        Ev::Recursive { loc, .. } if !defer => Err(recursive(*loc)),
        _ => Ok(()),
    }
}

/// An anchored collection whose events are being recorded until it closes.
struct Recording<'a> {
    anchor: usize,
    /// Open collections inside it, itself included.
    depth: usize,
    events: Vec<Ev<'a>>,
}

/// An alias being replayed: its anchor's events, and where the alias stands.
struct Replaying {
    anchor: usize,
    next: usize,
    alias: Loc,
}

pub(super) struct Live<'a> {
    /// `None` once the parser has failed: its errors are final.
    parser: Option<Parser<'a, StrInput<'a>>>,
    look: Option<(Ev<'a>, Origin)>,
    defer: bool,
    /// Where the last event read stands, for errors at the end of the input.
    last_loc: Loc,
    /// Whether a node came out; a stream without one is a null document.
    produced_any: bool,
    budget: Budget,
    /// Recorded events by anchor id, once the anchored node is complete.
    anchors: Vec<Option<Box<[Ev<'a>]>>>,
    recording: Vec<Recording<'a>>,
    replaying: Option<Replaying>,
    /// Events replayed so far; past [`MAX_NODES`] the document is a bomb.
    replayed: usize,
}

impl<'a> Live<'a> {
    pub(super) fn new(text: &'a str) -> Live<'a> {
        // The parser's own limits, far past MAX_DEPTH; it meets them first only
        // when it scans ahead through hundreds of `[`.
        let options = granit_parser::options! {
            simple_key_max_lookahead: 1024,
            flow_nesting_limit: 255,
            block_nesting_limit: 255,
            emit_comments: false,
        };
        Live {
            parser: Some(Parser::new_from_str_with_options(text, options)),
            look: None,
            defer: false,
            last_loc: Loc::default(),
            produced_any: false,
            budget: Budget::default(),
            anchors: Vec::new(),
            recording: Vec::new(),
            replaying: None,
            replayed: 0,
        }
    }

    /// After the document: nothing may follow, and the whole must be in proportion.
    pub(super) fn finish(&mut self) -> Result<(), Fail> {
        if self.peek()?.is_some() {
            return Err(Fail::documents(self.last_loc));
        }
        self.budget.finish().map_err(|b| Fail::limit(b, self.last_loc))
    }

    fn pump(&mut self) -> Result<Option<(Ev<'a>, Origin)>, Fail> {
        if let Some(replayed) = self.replay()? {
            return Ok(Some(replayed));
        }
        while let Some(item) = self.parser.as_mut().and_then(Iterator::next) {
            let (event, span) = item.map_err(|e| {
                self.parser = None;
                scan_error(&e)
            })?;
            let loc = Loc::of(&span);
            self.last_loc = loc;
            let ev = match event {
                Event::Scalar(value, style, anchor, tag) => self.scalar(value, style, anchor, tag.as_deref(), loc)?,
                Event::SequenceStart(_, anchor, tag) => self.start(false, anchor, tag.as_deref(), loc)?,
                Event::MappingStart(_, anchor, tag) => self.start(true, anchor, tag.as_deref(), loc)?,
                Event::SequenceEnd => self.end(false, loc)?,
                Event::MappingEnd => self.end(true, loc)?,
                Event::Alias(anchor) => match self.alias(anchor, loc)? {
                    Some(ev) => return Ok(Some(ev)),
                    None => continue,
                },
                Event::DocumentStart(..) => {
                    self.charge(Counted::DocumentStart, loc)?;
                    self.reset();
                    continue;
                }
                Event::DocumentEnd => {
                    self.charge(Counted::Other, loc)?;
                    self.reset();
                    continue;
                }
                Event::StreamStart | Event::StreamEnd => {
                    self.charge(Counted::Other, loc)?;
                    continue;
                }
                _ => {
                    self.charge(Counted::Other, loc)?;
                    return Err(Fail::syntax("unsupported event from granit-parser", loc));
                }
            };
            self.produced_any = true;
            return Ok(Some((ev, Origin::Direct)));
        }
        if self.produced_any {
            return Ok(None);
        }
        // A stream without a document is one null document.
        self.produced_any = true;
        let null = NodeTag { kind: TagKind::Null, text: None };
        Ok(Some((
            Ev::Scalar { value: Cow::Borrowed(""), style: ScalarStyle::Plain, tag: null, loc: self.last_loc },
            Origin::Direct,
        )))
    }

    fn charge(&mut self, counted: Counted<'_>, loc: Loc) -> Result<(), Fail> {
        self.budget.observe(counted).map_err(|b| Fail::limit(b, loc))
    }

    fn scalar(
        &mut self,
        value: Cow<'a, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        loc: Loc,
    ) -> Result<Ev<'a>, Fail> {
        let node_tag = NodeTag::of(tag);
        let merge =
            value == "<<" && (node_tag.kind == TagKind::Merge || (tag.is_none() && style == ScalarStyle::Plain));
        self.charge(Counted::Scalar { value: &value, anchor, tag_len: node_tag.len(), merge }, loc)?;
        check_shape(node_tag.kind, tag, Shape::Scalar, loc)?;
        let ev = Ev::Scalar { value, style, tag: node_tag, loc };
        self.record(&ev, false)?;
        if anchor != 0 {
            self.copy_charge(&ev)?;
            self.store(anchor, Box::new([ev.clone()]));
        }
        Ok(ev)
    }

    fn start(&mut self, map: bool, anchor: usize, tag: Option<&Tag>, loc: Loc) -> Result<Ev<'a>, Fail> {
        let node_tag = NodeTag::of(tag);
        self.charge(Counted::Start { map, anchor, tag_len: node_tag.len() }, loc)?;
        check_shape(node_tag.kind, tag, if map { Shape::Map } else { Shape::Seq }, loc)?;
        let ev = if map { Ev::MapStart { tag: node_tag, loc } } else { Ev::SeqStart { tag: node_tag, loc } };
        for recording in &mut self.recording {
            recording.depth += 1;
        }
        if anchor != 0 {
            self.copy_charge(&ev)?;
            self.recording.push(Recording { anchor, depth: 1, events: vec![ev.clone()] });
        }
        self.record(&ev, anchor != 0)?;
        Ok(ev)
    }

    fn end(&mut self, map: bool, loc: Loc) -> Result<Ev<'a>, Fail> {
        self.charge(Counted::End, loc)?;
        let ev = if map { Ev::MapEnd { loc } } else { Ev::SeqEnd { loc } };
        self.record(&ev, false)?;
        for recording in &mut self.recording {
            recording.depth = recording.depth.saturating_sub(1);
        }
        while self.recording.last().is_some_and(|r| r.depth == 0) {
            if let Some(done) = self.recording.pop() {
                self.store(done.anchor, done.events.into_boxed_slice());
            }
        }
        Ok(ev)
    }

    /// Starts replaying an anchor, or returns the alias itself when it sits
    /// inside its own anchor.
    fn alias(&mut self, anchor: usize, loc: Loc) -> Result<Option<(Ev<'a>, Origin)>, Fail> {
        self.budget.alias().map_err(|b| Fail::limit(b, loc))?;
        if self.recording.iter().any(|r| r.anchor == anchor) {
            let ev = Ev::Recursive { anchor, loc };
            self.record(&ev, false)?;
            self.produced_any = true;
            return Ok(Some((ev, Origin::Direct)));
        }
        if self.anchors.get(anchor).is_none_or(Option::is_none) {
            return Err(Fail::syntax("alias references unknown anchor", loc));
        }
        self.replaying = Some(Replaying { anchor, next: 0, alias: loc });
        self.replay()
    }

    /// The next event of the alias being replayed, counted like a parsed one.
    fn replay(&mut self) -> Result<Option<(Ev<'a>, Origin)>, Fail> {
        let Some(replaying) = &mut self.replaying else { return Ok(None) };
        let recorded = self.anchors.get(replaying.anchor).and_then(Option::as_deref).unwrap_or_default();
        let Some(ev) = recorded.get(replaying.next).cloned() else {
            self.replaying = None;
            return Ok(None);
        };
        replaying.next += 1;
        let origin = Origin::Alias(replaying.alias);
        let loc = ev.loc();
        self.replayed += 1;
        if self.replayed > MAX_NODES {
            return Err(Fail::limit(super::budget::Breach::Size, loc));
        }
        self.charge(ev.counted(), loc)?;
        self.record(&ev, false)?;
        self.last_loc = loc;
        self.produced_any = true;
        Ok(Some((ev, origin)))
    }

    /// Copies an event into every open recording (but the one it just opened).
    fn record(&mut self, ev: &Ev<'a>, skip_newest: bool) -> Result<(), Fail> {
        let count = self.recording.len().saturating_sub(usize::from(skip_newest));
        for i in 0..count {
            self.copy_charge(ev)?;
            self.recording[i].events.push(ev.clone());
        }
        Ok(())
    }

    fn copy_charge(&mut self, ev: &Ev<'_>) -> Result<(), Fail> {
        self.budget.recorded(ev.owned_bytes()).map_err(|b| Fail::limit(b, ev.loc()))
    }

    fn store(&mut self, anchor: usize, events: Box<[Ev<'a>]>) {
        if anchor >= self.anchors.len() {
            self.anchors.resize_with(anchor + 8, || None);
        }
        self.anchors[anchor] = Some(events);
    }

    /// Anchors do not reach across a document boundary.
    fn reset(&mut self) {
        self.replaying = None;
        self.recording.clear();
        self.anchors.fill(None);
        self.replayed = 0;
    }
}

/// `!!int [1]`, `!!map x`: a tag on the wrong shape of node.
fn check_shape(kind: TagKind, tag: Option<&Tag>, shape: Shape, loc: Loc) -> Result<(), Fail> {
    match kind.requires() {
        Some(required) if required != shape => Err(if kind == TagKind::Include {
            Fail::syntax("!include currently only supports the scalar form: !include <path>", loc)
        } else {
            Fail::syntax(format!("unsupported tag `{}`", tag.map(Tag::original).unwrap_or_default()), loc)
        }),
        _ => Ok(()),
    }
}

/// The parser's own errors carry a position but no byte range.
fn scan_error(e: &ScanError) -> Fail {
    let mark = e.marker();
    let loc = Loc { line: mark.line() as u32, column: mark.col() as u32 + 1, offset: 0, len: 0 };
    match e.kind() {
        ErrorKind::UnknownAnchor => Fail::syntax("alias references unknown anchor", loc),
        ErrorKind::MultipleDocumentsUnsupported => Fail::documents(loc),
        _ => Fail::syntax(e.info(), loc),
    }
}

impl<'a> Source<'a> for Live<'a> {
    fn peek(&mut self) -> Result<Option<&Ev<'a>>, Fail> {
        if self.look.is_none() {
            self.look = self.pump()?;
        }
        match &self.look {
            Some((ev, _)) => {
                resolve(ev, self.defer)?;
                self.last_loc = ev.loc();
                Ok(Some(ev))
            }
            None => Ok(None),
        }
    }

    fn next(&mut self) -> Result<Option<Ev<'a>>, Fail> {
        let ev = match self.look.take() {
            Some((ev, _)) => {
                self.last_loc = ev.loc();
                Some(ev)
            }
            None => self.pump()?.map(|(ev, _)| ev),
        };
        if let Some(ev) = &ev {
            resolve(ev, self.defer)?;
        }
        Ok(ev)
    }

    fn origin(&self) -> Origin {
        self.look.as_ref().map_or(Origin::Direct, |(_, origin)| *origin)
    }

    fn last_loc(&self) -> Loc {
        self.last_loc
    }

    fn defer(&mut self, defer: bool) -> bool {
        std::mem::replace(&mut self.defer, defer)
    }
}

/// Events captured from a source, in order, each with its origin.
pub(super) type Captured<'a> = Vec<(Ev<'a>, Origin)>;

/// Captured events played back. With a merge `reference`, nodes not copied
/// by an alias are placed at the merge.
pub(super) struct Replay<'a> {
    /// The events still to come, last first.
    rest: Captured<'a>,
    last: Loc,
    reference: Option<Loc>,
    defer: bool,
}

impl<'a> Replay<'a> {
    pub(super) fn new(mut events: Captured<'a>, reference: Option<Loc>) -> Replay<'a> {
        events.reverse();
        Replay { rest: events, last: Loc::default(), reference, defer: false }
    }
}

impl<'a> Source<'a> for Replay<'a> {
    fn peek(&mut self) -> Result<Option<&Ev<'a>>, Fail> {
        match self.rest.last() {
            Some((ev, _)) => {
                resolve(ev, self.defer)?;
                Ok(Some(ev))
            }
            None => Ok(None),
        }
    }

    fn next(&mut self) -> Result<Option<Ev<'a>>, Fail> {
        if let Some((ev, _)) = self.rest.last() {
            resolve(ev, self.defer)?;
        }
        Ok(self.rest.pop().map(|(ev, _)| {
            self.last = ev.loc();
            ev
        }))
    }

    fn origin(&self) -> Origin {
        let recorded = self.rest.last().map_or(Origin::Direct, |(_, origin)| *origin);
        match (recorded, self.reference) {
            (Origin::Alias(_), _) | (_, None) => recorded,
            (_, Some(reference)) => Origin::Merge(reference),
        }
    }

    fn last_loc(&self) -> Loc {
        self.last
    }

    fn defer(&mut self, defer: bool) -> bool {
        std::mem::replace(&mut self.defer, defer)
    }
}
