//! Credential values in any text, found by the shape they are written in.
//!
//! One pass over the text, line by line, carrying what the lines before say:
//! a credential key whose value follows on deeper lines (a YAML block
//! mapping or list, a block scalar, an explicit `? key`), a quoted value or a
//! flow collection running over several lines, and anchors, so that an anchor
//! aliased under a credential key is found where its value is written. Keys
//! are recognised anywhere a key can start (YAML, JSON, SQL, Jinja, INI, a
//! comment, a query string), so the same pass reads every file floe quotes.
//!
//! Input is arbitrary text: positions are bytes, every cut is at an ASCII
//! delimiter or a char boundary, and every value is read a bounded length, so
//! the pass is linear in practice and never panics.

use std::ops::Range;

use super::{CREDENTIAL_HINTS, is_credential_key, is_reference_key};

/// A credential value in a text. Never printed: it only locates the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The value's bytes: without its quotes, possibly over several lines.
    pub range: Range<usize>,
    pub how: How,
}

/// How a value was written, which says how sure it is to be a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// The value of a credential key: a word, a quoted string, a block, an
    /// item of a collection under the key, an anchor aliased under it.
    Value { quoted: bool },
    /// After a credential key, but possibly prose or code rather than a value
    /// (`password: stored in vault`, `password:x`, `where token = other`):
    /// masked where floe quotes text, not reported.
    Uncertain,
    /// A URL's password (`https://user:PASSWORD@host`).
    UrlPassword,
    /// A URL's user-info that is a token on its own (`https://TOKEN@host`).
    UrlToken,
}

/// Every credential value in `text`, sorted by position.
pub fn find(text: &str) -> Vec<Found> {
    // Most texts hold no word a credential key, a query secret or a URL
    // needs: one pass of a needle search, rather than the line-by-line pass.
    if !may_hold(text) {
        return Vec::new();
    }
    find_all(text)
}

/// Whether [`find_all`] can find anything in `text`: every value it reports
/// is under a key [`is_credential_key`] or [`is_query_secret`] accepts, and
/// each of those holds one of the needles in an ASCII text, or in a URL's
/// user-info, after `://`. A text that is not ASCII is always read (a key's
/// words are lowercased by Unicode, which can make an ASCII needle).
fn may_hold(text: &str) -> bool {
    static NEEDLES: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    let needles = NEEDLES.get_or_init(|| {
        let words = CREDENTIAL_HINTS.iter().chain(QUERY_SECRET_HINTS).chain(&["://"]);
        aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).build(words).expect("literal needles")
    });
    !text.is_ascii() || needles.is_match(text)
}

/// Every credential value in `text`, read line by line.
fn find_all(text: &str) -> Vec<Found> {
    let mut f = Finder {
        text,
        b: text.as_bytes(),
        out: Vec::new(),
        anchors: Vec::new(),
        aliased: Vec::new(),
        block: None,
        anchor_span: None,
        explicit: None,
        block_found: None,
    };
    f.run();
    f.resolve_aliases();
    f.out.sort_by_key(|x| (x.range.start, x.range.end));
    f.out.dedup();
    f.out
}

/// Longest quoted value or flow collection read, in bytes.
const MAX_VALUE: usize = 16 << 10;
/// Anchors remembered: far more than real documents hold, and a bound on
/// what a text of anchors can make the pass read.
const MAX_ANCHORS: usize = 1024;
/// Deepest flow collection parsed; deeper ones are skipped whole.
const MAX_DEPTH: usize = 64;

struct Finder<'t> {
    text: &'t str,
    b: &'t [u8],
    out: Vec<Found>,
    /// Anchor name and the extent of its node.
    anchors: Vec<(&'t str, Range<usize>)>,
    /// Anchors aliased where a credential is expected.
    aliased: Vec<&'t str>,
    /// Lines deeper than a credential key that belong to its value.
    block: Option<Block>,
    /// An anchored block value being extended over its lines.
    anchor_span: Option<(&'t str, usize, Range<usize>)>,
    /// Column of an explicit `? key` naming a credential, awaiting its `: value` line.
    explicit: Option<usize>,
    /// The value a block scalar's lines extend, one line after another.
    block_found: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    /// Lines indented deeper than this column belong to the value.
    column: usize,
    kind: BlockKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// A block scalar (`|`, `>-`): every line is the value.
    Scalar,
    /// A mapping, list or scalar on the lines below the key. Inside it, a
    /// reference key's subtree is skipped, and a nested block scalar's lines
    /// are taken whole.
    Nested { skip_deeper_than: Option<usize>, scalar_deeper_than: Option<usize> },
    /// The lines a plain scalar continues on.
    Continuation,
}

/// What a value left open at the end of its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    None,
    /// Nothing on the key's line: the value is on the lines below.
    Nested,
    /// A block scalar header.
    Scalar,
    /// A plain scalar that may continue on deeper lines.
    Plain,
}

/// Where a value is read.
#[derive(Clone, Copy, Debug, Default)]
struct Ctx {
    /// Under a credential key: found values are credentials.
    secret: bool,
    /// `=` rather than `:`.
    equals: bool,
    /// No space between `:` and the value (`password:x`).
    tight: bool,
    /// The key was quoted (JSON).
    quoted_key: bool,
    /// Inside a flow collection on this line: `,` `]` `}` end a plain value.
    flow: bool,
    /// An unquoted `=` value counts: in a comment, a query string, a
    /// connection string.
    assign: bool,
    /// Inside a credential's YAML structure: a plain scalar of several words
    /// is a value, not prose.
    structured: bool,
}

impl<'t> Finder<'t> {
    fn run(&mut self) {
        let len = self.b.len();
        let mut pos = 0;
        // A value running over lines resumes mid-line: the rest of that line
        // is read as text, without the indentation rules of a line start.
        let mut mid_line = false;
        while pos < len {
            let line_end = self.line_end(pos);
            let end = if line_end > pos && self.b[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
            let next = (line_end + 1).min(len);
            if mid_line {
                let r = self.scan(pos, end, None);
                (pos, mid_line) = self.resume(r, next);
                continue;
            }
            let content = self.skip_ws(pos, end);
            let indent = content - pos;
            let blank = content == end;
            if blank {
                pos = next;
                continue;
            }
            self.extend_anchor_span(indent, end);
            if let Some(block) = self.block {
                let seq_item = self.is_marker(content, end, b'-');
                let nested = matches!(block.kind, BlockKind::Nested { .. });
                if indent > block.column || (nested && indent == block.column && seq_item) {
                    let r = match block.kind {
                        BlockKind::Scalar => {
                            self.emit_block_line(content..self.trim_end(content, end), How::Value { quoted: true });
                            next
                        }
                        BlockKind::Continuation => {
                            self.emit_block_line(content..self.trim_end(content, end), How::Uncertain);
                            next
                        }
                        BlockKind::Nested { .. } => self.nested_line(pos, content, end, next),
                    };
                    (pos, mid_line) = self.resume(r, next);
                    continue;
                }
                // A comment less indented does not end a block.
                if self.b[content] == b'#' && block.kind != BlockKind::Continuation {
                    pos = next;
                    continue;
                }
                self.block = None;
                self.block_found = None;
            }
            if let Some(column) = self.explicit.take()
                && indent == column
                && self.is_marker(content, end, b':')
            {
                let ctx = Ctx { secret: true, ..Ctx::default() };
                let (r, opened) = self.value(content + 1, end, ctx);
                self.open(opened, column);
                (pos, mid_line) = self.resume(r, next);
                continue;
            }
            let r = self.scan(pos, end, Some(content));
            (pos, mid_line) = self.resume(r, next);
        }
        if let Some((name, _, range)) = self.anchor_span.take() {
            self.remember(name, range);
        }
    }

    /// Where to go on after a line's reading ended at `r`.
    fn resume(&self, r: usize, next: usize) -> (usize, bool) {
        if r >= next { (r, r < self.b.len() && !self.at_line_start(r)) } else { (next, false) }
    }

    fn at_line_start(&self, i: usize) -> bool {
        i == 0 || self.b[i - 1] == b'\n'
    }

    /// Reads one line (from `from`, or its content start `content` when at
    /// a line start) for credential keys, URLs and anchors. Returns where
    /// reading ended: the line's end, or past it when a value ran on.
    fn scan(&mut self, from: usize, end: usize, content: Option<usize>) -> usize {
        let b = self.b;
        // `? key`: an explicit key, whose value is on a `: value` line below.
        if let Some(c) = content
            && self.is_marker(c, end, b'?')
        {
            let k = self.skip_ws(c + 1, end);
            let key_end = self.trim_end(k, self.comment_start(k, end));
            if is_credential_key(self.text[k..key_end].trim_matches(['"', '\''])) {
                self.explicit = Some(c - from);
                return end;
            }
        }
        // Where a key is the first thing on its line, after `- ` and `? `.
        let key_start = content.map(|c| self.skip_markers(c, end));
        let mut i = from;
        let mut comment = false;
        let mut flow = false;
        while i < end {
            let c = b[i];
            let prev = if i > from { Some(b[i - 1]) } else { None };
            match c {
                b'{' | b'[' => flow = true,
                b'#' if prev.is_none_or(is_ws) => comment = true,
                b'-' if b.get(i + 1) == Some(&b'-') => comment = true,
                b'/' if matches!(b.get(i + 1), Some(b'*' | b'/')) && prev != Some(b':') => comment = true,
                _ => {}
            }
            if c == b'&' && prev.is_none_or(|p| is_ws(p) || matches!(p, b':' | b'[' | b'{' | b',')) {
                self.anchor(i, end, from, key_start);
                i += 1;
                continue;
            }
            if c == b':' && b[i..end].starts_with(b"://") {
                i = self.url(i + 3, end);
                continue;
            }
            if !is_key_byte(c) || !prev.is_none_or(is_key_boundary) {
                i += 1;
                continue;
            }
            let run_end = (i..end).find(|&j| !is_key_byte(b[j])).unwrap_or(end);
            let quote = prev.filter(|&p| p == b'"' || p == b'\'');
            let quoted_key = quote.is_some_and(|q| b.get(run_end) == Some(&q));
            let after_key = if quoted_key { run_end + 1 } else { run_end };
            let Some((equals, sep_end)) = self.separator(self.skip_ws(after_key, end), end) else {
                i = run_end;
                continue;
            };
            let key = &self.text[i..run_end];
            let opener = if quoted_key { i - 1 } else { i };
            let query = matches!(prev, Some(b'?' | b'&'));
            if !(is_credential_key(key) || (query && is_query_secret(key))) {
                i = run_end;
                continue;
            }
            let ctx = Ctx {
                secret: true,
                equals,
                tight: !equals && sep_end < end && !is_ws(b[sep_end]),
                quoted_key,
                flow: flow || (quoted_key && quote == Some(b'"')),
                assign: comment || matches!(prev, Some(b'?' | b'&' | b';')),
                structured: false,
            };
            let (r, opened) = self.value(sep_end, end, ctx);
            if key_start == Some(opener) {
                self.open(opened, opener - from);
            }
            if r > end {
                return r;
            }
            i = r.max(sep_end);
        }
        end
    }

    /// Starts the block a credential value left open, its key at `column`.
    fn open(&mut self, opened: Opened, column: usize) {
        let kind = match opened {
            Opened::None => return,
            Opened::Nested => BlockKind::Nested { skip_deeper_than: None, scalar_deeper_than: None },
            Opened::Scalar => BlockKind::Scalar,
            Opened::Plain => BlockKind::Continuation,
        };
        self.block = Some(Block { column, kind });
        self.block_found = None;
    }

    /// A line inside a credential's nested value: every value on it is a
    /// credential, but keys are not, and a reference's subtree is skipped.
    fn nested_line(&mut self, line: usize, content: usize, end: usize, next: usize) -> usize {
        let Some(Block { column, kind: BlockKind::Nested { skip_deeper_than, scalar_deeper_than } }) = self.block
        else {
            return next;
        };
        let indent = content - line;
        if skip_deeper_than.is_some_and(|s| indent > s) {
            return next;
        }
        if scalar_deeper_than.is_some_and(|s| indent > s) {
            self.emit_block_line(content..self.trim_end(content, end), How::Value { quoted: true });
            return next;
        }
        self.block_found = None;
        let set = |this: &mut Self, skip: Option<usize>, scalar: Option<usize>| {
            this.block =
                Some(Block { column, kind: BlockKind::Nested { skip_deeper_than: skip, scalar_deeper_than: scalar } });
        };
        set(self, None, None);
        let mut i = self.skip_markers(content, end);
        if self.is_marker(i, end, b':') {
            i = self.skip_ws(i + 1, end);
        }
        if i >= end || self.b[i] == b'#' {
            return next;
        }
        let ctx = Ctx { secret: true, structured: true, ..Ctx::default() };
        if let Some((key, sep_end)) = self.block_key(i, end) {
            if is_reference_key(key) {
                set(self, Some(i - line), None);
                return next;
            }
            let (r, opened) = self.value(sep_end, end, ctx);
            if opened == Opened::Scalar {
                set(self, None, Some(i - line));
            }
            return r;
        }
        self.value(i, end, ctx).0
    }

    /// A block mapping key at `i` (`key:` or `"key":`), and where its `:` ends.
    fn block_key(&self, i: usize, end: usize) -> Option<(&'t str, usize)> {
        let b = self.b;
        if matches!(b[i], b'"' | b'\'') {
            let close = (i + 1..end).find(|&j| b[j] == b[i])?;
            let s = self.skip_ws(close + 1, end);
            return (s < end && b[s] == b':').then(|| (&self.text[i + 1..close], s + 1));
        }
        // A flow collection, an alias, a block scalar: a value, not a key.
        if matches!(b[i], b'{' | b'[' | b'*' | b'&' | b'!' | b'|' | b'>') {
            return None;
        }
        let colon = (i..end).find(|&j| b[j] == b':' && (j + 1 == end || is_ws(b[j + 1])))?;
        let key = self.text[i..colon].trim_end();
        (!key.contains(" #")).then_some((key, colon + 1))
    }

    /// The value starting at or after `at` on a line ending at `end`. Emits
    /// it when `ctx.secret`, remembers it under its anchor, and returns
    /// where it ends (past `end` when it runs over lines) and what it left open.
    fn value(&mut self, at: usize, end: usize, ctx: Ctx) -> (usize, Opened) {
        let b = self.b;
        let mut v = self.skip_ws(at, end);
        let mut anchor = None;
        // Node properties: an anchor and a tag, in either order.
        for _ in 0..2 {
            if v < end && b[v] == b'&' {
                let name_end = self.name_end(v + 1, end);
                anchor = Some(&self.text[v + 1..name_end]);
                v = self.skip_ws(name_end, end);
            } else if v < end && b[v] == b'!' {
                v = self.skip_ws(self.name_end(v + 1, end), end);
            }
        }
        let start = v;
        let (r, opened) = self.node(v, end, ctx, at);
        if let Some(name) = anchor {
            match opened {
                Opened::Nested | Opened::Scalar if !ctx.secret => {
                    self.anchor_span = Some((name, self.column_of(at), start..end));
                }
                _ => self.remember(name, start..r.min(self.b.len())),
            }
        }
        (r, opened)
    }

    fn node(&mut self, v: usize, end: usize, ctx: Ctx, at: usize) -> (usize, Opened) {
        let b = self.b;
        if v >= end || (b[v] == b'#' && v > at && is_ws(b[v - 1])) {
            return (end, if ctx.equals || ctx.tight { Opened::None } else { Opened::Nested });
        }
        match b[v] {
            b'|' | b'>' if !ctx.equals && self.block_header(v + 1, end) => (end, Opened::Scalar),
            b'*' => {
                let name_end = self.name_end(v + 1, end);
                if ctx.secret {
                    self.aliased.push(&self.text[v + 1..name_end]);
                }
                (name_end, Opened::None)
            }
            b'"' | b'\'' => {
                let (inner, r) = self.quoted(v);
                let how = if ctx.tight && !ctx.quoted_key { How::Uncertain } else { How::Value { quoted: true } };
                if ctx.secret {
                    self.emit(inner, how);
                }
                (r, Opened::None)
            }
            b'{' | b'[' if !ctx.equals => (self.flow(v, ctx.secret, 0), Opened::None),
            _ => self.plain(v, end, ctx),
        }
    }

    /// A plain value: one word is a value; several are prose unless
    /// inside a credential's structure.
    fn plain(&mut self, v: usize, end: usize, ctx: Ctx) -> (usize, Opened) {
        let b = self.b;
        let stops = |c: u8| {
            is_ws(c)
                || (ctx.flow && matches!(c, b',' | b']' | b'}'))
                || (ctx.equals && matches!(c, b'&' | b';' | b'"' | b'\'' | b'`' | b')' | b'<' | b'>' | b'#'))
        };
        let word_end = (v..end).find(|&j| stops(b[j])).unwrap_or(end);
        // A key quoted inside a string (`description: "the password: x"`).
        let mut word = word_end;
        while word > v && matches!(b[word - 1], b'"' | b'\'' | b'`') {
            word -= 1;
        }
        let tail = self.skip_ws(word_end, end);
        let single = tail == end
            || b[tail] == b'#'
            || b[tail..end].starts_with(b"--")
            || (ctx.flow && matches!(b[tail], b',' | b']' | b'}'))
            || ctx.equals;
        let how = |certain: bool| if certain { How::Value { quoted: false } } else { How::Uncertain };
        if single {
            let certain = (ctx.quoted_key || !ctx.tight) && (ctx.assign || !ctx.equals);
            if ctx.secret {
                self.emit(v..word, how(certain));
            }
            let opened = if ctx.equals || ctx.flow || ctx.tight { Opened::None } else { Opened::Plain };
            return (word_end, opened);
        }
        // Several words: up to a comment, or the end of a flow entry.
        let stop = if ctx.flow {
            (v..end).find(|&j| matches!(b[j], b',' | b']' | b'}')).unwrap_or(end)
        } else {
            self.comment_start(v, end)
        };
        let stop = self.trim_end(v, stop);
        if ctx.secret {
            self.emit(v..stop, how(ctx.structured && !ctx.tight));
        }
        (stop, if ctx.flow || ctx.tight || ctx.equals { Opened::None } else { Opened::Plain })
    }

    /// A flow collection opening at `open`; every scalar in it is emitted
    /// when `secret`, or under a credential key inside it, except under a
    /// reference key. Returns where it ends.
    fn flow(&mut self, open: usize, secret: bool, depth: usize) -> usize {
        let b = self.b;
        let limit = floor_boundary(self.text, open.saturating_add(MAX_VALUE));
        if depth >= MAX_DEPTH {
            return self.skip_flow(open, limit);
        }
        let mut i = open + 1;
        loop {
            i = self.skip_flow_space(i, limit);
            if i >= limit {
                return limit;
            }
            match b[i] {
                b']' | b'}' => return i + 1,
                b',' => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let (key_end, scalar) = self.flow_node(i, limit, secret, depth);
            let colon = self.skip_ws(key_end, limit);
            let is_key = scalar.is_some() && colon < limit && b[colon] == b':';
            match scalar {
                Some((range, _)) if is_key => {
                    let key = &self.text[range];
                    let child = secret || is_credential_key(key);
                    let v = self.skip_flow_space(colon + 1, limit);
                    if v >= limit {
                        return limit;
                    }
                    if matches!(b[v], b',' | b']' | b'}') {
                        i = v;
                        continue;
                    }
                    let reference = is_reference_key(key);
                    let (r, value) = self.flow_node(v, limit, child && !reference, depth);
                    if let Some((range, quoted)) = value
                        && child
                        && !reference
                    {
                        self.emit(range, How::Value { quoted });
                    }
                    i = r.max(v + 1);
                }
                Some((range, quoted)) => {
                    if secret {
                        self.emit(range, How::Value { quoted });
                    }
                    i = key_end.max(i + 1);
                }
                None => i = key_end.max(i + 1),
            }
        }
    }

    /// One node in a flow collection at `i`: a collection (parsed, emitting
    /// when `secret`), an alias, or a scalar, whose range it returns.
    fn flow_node(
        &mut self,
        mut i: usize,
        limit: usize,
        secret: bool,
        depth: usize,
    ) -> (usize, Option<(Range<usize>, bool)>) {
        let b = self.b;
        let mut anchor = None;
        while i < limit && matches!(b[i], b'&' | b'!') {
            let name_end = self.name_end(i + 1, limit);
            if b[i] == b'&' {
                anchor = Some(&self.text[i + 1..name_end]);
            }
            i = self.skip_flow_space(name_end, limit);
        }
        if i >= limit {
            return (limit, None);
        }
        let start = i;
        let (end, scalar) = match b[i] {
            b'{' | b'[' => (self.flow(i, secret, depth + 1), None),
            b'*' => {
                let name_end = self.name_end(i + 1, limit);
                if secret {
                    self.aliased.push(&self.text[i + 1..name_end]);
                }
                (name_end, None)
            }
            b'"' | b'\'' => {
                let (inner, r) = self.quoted(i);
                (r, Some((inner, true)))
            }
            _ => {
                // A plain scalar ends at a flow indicator, `: `, ` #` or the line's end.
                let mut j = i;
                while j < limit {
                    let c = b[j];
                    if matches!(c, b',' | b']' | b'}' | b'\n')
                        || (c == b':' && b.get(j + 1).is_none_or(|&n| is_ws(n) || matches!(n, b',' | b']' | b'}')))
                        || (c == b'#' && j > i && is_ws(b[j - 1]))
                    {
                        break;
                    }
                    j += 1;
                }
                let r = self.trim_end(i, j);
                (j, (r > i).then_some((i..r, false)))
            }
        };
        if let Some(name) = anchor {
            self.remember(name, start..end);
        }
        (end, scalar)
    }

    /// Past a flow collection too deep to parse: brackets counted, quotes skipped.
    fn skip_flow(&self, open: usize, limit: usize) -> usize {
        let mut depth = 0usize;
        let mut i = open;
        while i < limit {
            match self.b[i] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b'"' | b'\'' => {
                    i = self.quoted(i).1;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        limit
    }

    /// The inside of the quoted string opening at `q`, and where it ends.
    /// It may run over lines; unclosed within [`MAX_VALUE`], it ends with its line.
    fn quoted(&self, q: usize) -> (Range<usize>, usize) {
        let b = self.b;
        let quote = b[q];
        let limit = floor_boundary(self.text, q.saturating_add(MAX_VALUE));
        let mut i = q + 1;
        while i < limit {
            match b[i] {
                b'\\' if quote == b'"' => i += 1,
                // `''` is an escaped quote in YAML and SQL single-quoted strings.
                b'\'' if quote == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 1,
                c if c == quote => return (q + 1..i, i + 1),
                _ => {}
            }
            i += 1;
        }
        let end = self.line_end(q + 1);
        let end = if end > q + 1 && b[end - 1] == b'\r' { end - 1 } else { end };
        (q + 1..self.trim_end(q + 1, end).max(q + 1), end)
    }

    /// A URL's user-info, from just past `://`; returns where reading goes on.
    fn url(&mut self, start: usize, end: usize) -> usize {
        let b = self.b;
        let authority_end = (start..end)
            .find(|&j| is_ws(b[j]) || matches!(b[j], b'/' | b'?' | b'#' | b'\'' | b'"' | b'<' | b'>' | b'`'))
            .unwrap_or(end);
        let Some(at) = (start..authority_end).rev().find(|&j| b[j] == b'@') else {
            return start;
        };
        if at + 1 == authority_end {
            return start;
        }
        match (start..at).find(|&j| b[j] == b':') {
            Some(colon) => self.emit(colon + 1..at, How::UrlPassword),
            None => token_like(&self.text[start..at]) && self.emit(start..at, How::UrlToken),
        };
        // The query string after it is read as text (`?token=`).
        at + 1
    }

    /// `&name` at `i`, outside a credential's value: remembers the value it
    /// anchors, for an alias of it under a credential key. Reading goes on
    /// inside the value.
    fn anchor(&mut self, i: usize, end: usize, from: usize, key_start: Option<usize>) {
        if self.anchors.len() >= MAX_ANCHORS || i + 1 >= end || !is_anchor_byte(self.b[i + 1]) {
            return;
        }
        self.value(i, end, Ctx::default());
        if let Some((name, _, range)) = self.anchor_span.take() {
            // The value is on the lines below: they are deeper than its key.
            let column = key_start.map_or(i - from, |k| k - from);
            self.anchor_span = Some((name, column, range));
        }
    }

    /// Extends the anchored block being read by a line deeper than its key,
    /// or closes it.
    fn extend_anchor_span(&mut self, indent: usize, end: usize) {
        let Some((name, column, range)) = self.anchor_span.take() else { return };
        if indent > column {
            self.anchor_span = Some((name, column, range.start..end.max(range.end)));
        } else {
            self.remember(name, range);
        }
    }

    fn remember(&mut self, name: &'t str, range: Range<usize>) {
        if self.anchors.len() < MAX_ANCHORS && !range.is_empty() {
            self.anchors.push((name, range));
        }
    }

    /// Anchored values aliased under a credential key are credentials where written.
    fn resolve_aliases(&mut self) {
        self.aliased.sort_unstable();
        self.aliased.dedup();
        for (name, range) in &self.anchors {
            if self.aliased.binary_search(name).is_ok() {
                let range = range.start..self.trim_end(range.start, range.end);
                self.out.push(Found { range, how: How::Value { quoted: false } });
            }
        }
    }

    /// A line of a block scalar: the block is one value, however many lines.
    fn emit_block_line(&mut self, range: Range<usize>, how: How) {
        match self.block_found.and_then(|i| self.out.get_mut(i)) {
            Some(found) if found.how == how && found.range.end <= range.start => found.range.end = range.end,
            _ => {
                if self.emit(range, how) {
                    self.block_found = Some(self.out.len() - 1);
                }
            }
        }
    }

    /// Records a value; one already masked (all `*`) is left as it is.
    fn emit(&mut self, range: Range<usize>, how: How) -> bool {
        let valid =
            range.start < range.end && range.end <= self.b.len() && !self.b[range.clone()].iter().all(|&c| c == b'*');
        if valid {
            self.out.push(Found { range, how });
        }
        valid
    }

    /// `:` or `=` (not `::`, `==`, `=>`) at `s`: whether it is `=`, and where it ends.
    fn separator(&self, s: usize, end: usize) -> Option<(bool, usize)> {
        let b = self.b;
        if s >= end {
            return None;
        }
        let next = b.get(s + 1).copied();
        match b[s] {
            b':' if next == Some(b'=') => Some((true, s + 2)),
            b':' if next != Some(b':') => Some((false, s + 1)),
            b'=' if !matches!(next, Some(b'=' | b'>' | b'~')) => Some((true, s + 1)),
            _ => None,
        }
    }

    /// Whether `c` at `i` is an indicator followed by a space or the line's end (`- `, `? `, `: `).
    fn is_marker(&self, i: usize, end: usize, c: u8) -> bool {
        i < end && self.b[i] == c && (i + 1 == end || is_ws(self.b[i + 1]))
    }

    /// Past the `- ` and `? ` indicators starting a line's content.
    fn skip_markers(&self, mut i: usize, end: usize) -> usize {
        while self.is_marker(i, end, b'-') {
            i = self.skip_ws(i + 1, end);
        }
        if self.is_marker(i, end, b'?') {
            i = self.skip_ws(i + 1, end);
        }
        i
    }

    /// After `|` or `>`: chomping and indentation indicators, then nothing but a comment.
    fn block_header(&self, i: usize, end: usize) -> bool {
        let j = (i..end).find(|&j| !matches!(self.b[j], b'+' | b'-' | b'0'..=b'9')).unwrap_or(end);
        let k = self.skip_ws(j, end);
        k == end || (k > j && self.b[k] == b'#')
    }

    fn column_of(&self, i: usize) -> usize {
        i - self.b[..i].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1)
    }

    fn line_end(&self, i: usize) -> usize {
        self.b[i.min(self.b.len())..].iter().position(|&c| c == b'\n').map_or(self.b.len(), |p| i + p)
    }

    fn skip_ws(&self, mut i: usize, end: usize) -> usize {
        while i < end && is_ws(self.b[i]) {
            i += 1;
        }
        i
    }

    /// Spaces, line breaks and comments between flow entries.
    fn skip_flow_space(&self, mut i: usize, limit: usize) -> usize {
        while i < limit {
            match self.b[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' if i > 0 && is_ws_or_break(self.b[i - 1]) => i = self.line_end(i).min(limit),
                _ => break,
            }
        }
        i
    }

    fn trim_end(&self, start: usize, mut end: usize) -> usize {
        while end > start && is_ws_or_break(self.b[end - 1]) {
            end -= 1;
        }
        end
    }

    /// Where a ` #` comment starts on a line, or its end.
    fn comment_start(&self, from: usize, end: usize) -> usize {
        (from..end).find(|&j| self.b[j] == b'#' && (j == from || is_ws(self.b[j - 1]))).unwrap_or(end)
    }

    /// The end of an anchor, alias or tag name.
    fn name_end(&self, i: usize, end: usize) -> usize {
        (i..end).find(|&j| !is_anchor_byte(self.b[j])).unwrap_or(end)
    }
}

/// One of these is part of every name [`is_query_secret`] accepts.
const QUERY_SECRET_HINTS: &[&str] = &["sig", "credential"];

/// Query parameters that carry a credential besides credential keys.
fn is_query_secret(key: &str) -> bool {
    ["sig", "signature", "x-amz-signature", "x-amz-credential", "x-goog-signature", "x-goog-credential"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// A URL user-info without a password that is a token rather than a user
/// name (`git`, `etl`): long, of token characters, letters and digits mixed.
fn token_like(s: &str) -> bool {
    s.len() >= 16
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'~' | b'+' | b'/' | b'='))
        && s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes().any(|c| c.is_ascii_alphabetic())
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn is_ws_or_break(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// What may stand before a key: a key does not continue a word, a path or
/// a member access (`password_hash`, `u.token`).
fn is_key_boundary(c: u8) -> bool {
    is_ws(c) || matches!(c, b'{' | b',' | b'(' | b'[' | b';' | b'?' | b'&' | b'"' | b'\'' | b'|')
}

fn is_anchor_byte(c: u8) -> bool {
    c > b' ' && !matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

/// The largest char boundary of `text` at or before `i`.
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_needle_search_passes_every_shape() {
        for text in [
            "password: hunter22",
            "x: https://etl:pw1234@h",
            "x: https://ghp1234567890abcdefXYZ@h",
            "url: s3://b/k?X-Amz-Signature=abcd1234",
            "url: h?sig=abcd1234",
            "DB_PASSWD=abcd1234",
            "apiKey: abcd1234",
            "a: &x abcd1234\ncredentials: *x",
        ] {
            assert!(!find_all(text).is_empty(), "{text}");
            assert!(may_hold(text), "{text}");
        }
        assert!(!may_hold("select id, amount from orders\n"));
        assert!(may_hold("名前: x"), "text that is not ASCII is always read");
    }

    proptest! {
        #[test]
        fn what_the_needle_search_skips_holds_nothing(parts in prop::collection::vec(prop::sample::select(vec![
            "pass", "word", "pwd", "sec", "ret", "tok", "en", "key", "api", "si", "g", "x-amz-", "cred", "ential",
            "bear", "er", "str", "ing", ":", "=", "?", "&", "/", "//", "@", " ", "\n", "- ", "\"", "'", "{", "}", "[",
            "]", ",", "#", "|", "*a", "&a ", "abcd1234", "Ab9", "_", "-",
        ]), 0..24)) {
            let text = parts.concat();
            if !may_hold(&text) {
                prop_assert!(find_all(&text).is_empty(), "{:?}", text);
            }
        }
    }
}
