//! The bounds on what one document may cost: nodes, nesting, aliases, and text.
//!
//! Every event the parser produces and every event an alias replays is counted,
//! so an alias bomb stops at the limit instead of expanding; the limits past
//! floe's own ([`MAX_NODES`], [`MAX_DEPTH`], one document) are generous
//! backstops that real manifests never approach.

use super::{MAX_DEPTH, MAX_NODES};

const MAX_EVENTS: usize = 1_000_000;
const MAX_ALIASES: usize = 50_000;
const MAX_ANCHORS: usize = 50_000;
const MAX_RECORDED_EVENTS: usize = 1_000_000;
const MAX_RECORDED_BYTES: usize = 64 * 1024 * 1024;
const MAX_SCALAR_BYTES: usize = 64 * 1024 * 1024;
const MAX_MERGE_KEYS: usize = 10_000;
/// Many aliases to few anchors is the shape of a bomb even below the other limits.
const RATIO_MIN_ALIASES: usize = 100;
const RATIO_MULTIPLIER: usize = 10;

/// Which bound a document broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Breach {
    Depth,
    Documents,
    /// Anything else: too many nodes, aliases, replayed events or bytes.
    Size,
}

/// One event as the budget sees it.
pub(super) enum Counted<'e> {
    Scalar {
        value: &'e str,
        anchor: usize,
        tag_len: usize,
        /// A `<<` that merges when it is a key: plain and untagged, or `!!merge`.
        merge: bool,
    },
    Start {
        map: bool,
        anchor: usize,
        tag_len: usize,
    },
    End,
    DocumentStart,
    Other,
}

#[derive(Clone, Copy)]
enum Container {
    Seq { in_value: bool },
    Map { expecting_key: bool, in_value: bool },
}

#[derive(Default)]
pub(super) struct Budget {
    events: usize,
    aliases: usize,
    anchors: usize,
    recorded_events: usize,
    recorded_bytes: usize,
    documents: usize,
    nodes: usize,
    depth: usize,
    scalar_bytes: usize,
    merge_keys: usize,
    containers: Vec<Container>,
}

fn over(count: usize, max: usize) -> Result<(), Breach> {
    if count > max { Err(Breach::Size) } else { Ok(()) }
}

impl Budget {
    pub(super) fn observe(&mut self, event: Counted<'_>) -> Result<(), Breach> {
        self.events += 1;
        over(self.events, MAX_EVENTS)?;
        match event {
            Counted::Scalar { value, anchor, tag_len, merge } => {
                self.node()?;
                self.scalar_bytes(value.len().saturating_add(tag_len))?;
                self.anchor(anchor)?;
                self.scalar(merge)
            }
            Counted::Start { map, anchor, tag_len } => {
                self.node()?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Breach::Depth);
                }
                self.scalar_bytes(tag_len)?;
                let in_value = self.enter();
                self.containers.push(if map {
                    Container::Map { expecting_key: true, in_value }
                } else {
                    Container::Seq { in_value }
                });
                self.anchor(anchor)
            }
            Counted::End => {
                self.depth = self.depth.saturating_sub(1);
                let in_value = match self.containers.pop() {
                    Some(Container::Seq { in_value } | Container::Map { in_value, .. }) => in_value,
                    None => false,
                };
                if in_value {
                    self.value_done();
                }
                Ok(())
            }
            Counted::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 { Err(Breach::Documents) } else { Ok(()) }
            }
            Counted::Other => Ok(()),
        }
    }

    /// An alias read from the text; what it replays is counted event by event.
    pub(super) fn alias(&mut self) -> Result<(), Breach> {
        self.events += 1;
        over(self.events, MAX_EVENTS)?;
        self.aliases += 1;
        over(self.aliases, MAX_ALIASES)
    }

    /// One event copied into an anchor's recording, with the bytes it owns.
    pub(super) fn recorded(&mut self, owned_bytes: usize) -> Result<(), Breach> {
        self.recorded_events += 1;
        over(self.recorded_events, MAX_RECORDED_EVENTS)?;
        self.recorded_bytes = self.recorded_bytes.saturating_add(owned_bytes);
        over(self.recorded_bytes, MAX_RECORDED_BYTES)
    }

    /// The check that needs the whole document: aliases out of proportion to anchors.
    pub(super) fn finish(&self) -> Result<(), Breach> {
        let lopsided = self.anchors == 0 || self.aliases > RATIO_MULTIPLIER.saturating_mul(self.anchors);
        if self.aliases >= RATIO_MIN_ALIASES && lopsided { Err(Breach::Size) } else { Ok(()) }
    }

    fn node(&mut self) -> Result<(), Breach> {
        self.nodes += 1;
        over(self.nodes, MAX_NODES)
    }

    fn scalar_bytes(&mut self, bytes: usize) -> Result<(), Breach> {
        self.scalar_bytes = self.scalar_bytes.saturating_add(bytes);
        over(self.scalar_bytes, MAX_SCALAR_BYTES)
    }

    /// Parser anchor ids are unique, so each anchored event is a new anchor.
    fn anchor(&mut self, anchor: usize) -> Result<(), Breach> {
        if anchor != 0 {
            self.anchors += 1;
            over(self.anchors, MAX_ANCHORS)?;
        }
        Ok(())
    }

    fn scalar(&mut self, merge: bool) -> Result<(), Breach> {
        if let Some(Container::Map { expecting_key, .. }) = self.containers.last_mut() {
            if *expecting_key {
                *expecting_key = false;
                if merge {
                    self.merge_keys += 1;
                    over(self.merge_keys, MAX_MERGE_KEYS)?;
                }
            } else {
                self.value_done();
            }
        }
        Ok(())
    }

    /// Whether a collection starting now is a mapping's value.
    fn enter(&mut self) -> bool {
        match self.containers.last_mut() {
            Some(Container::Map { expecting_key, .. }) if *expecting_key => {
                *expecting_key = false;
                false
            }
            Some(Container::Map { .. }) => true,
            _ => false,
        }
    }

    fn value_done(&mut self) {
        if let Some(Container::Map { expecting_key, .. }) = self.containers.last_mut() {
            *expecting_key = true;
        }
    }
}
