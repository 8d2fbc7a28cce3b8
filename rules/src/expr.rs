//! Policy expressions: the language of `custom` policy conditions.
//!
//! A platform manifest states a rule about models as a condition such as
//! `meta.owner != null && all(columns, it.description != null)`, and floe
//! evaluates it against each model's context (see
//! `docs/reference/policy-expressions.md` for the language and the context).
//!
//! The language is small and total on purpose: no assignments, no user
//! functions, no loops except the quantifiers over existing lists. Hard limits
//! on source size, nesting depth, evaluation steps and the size of built values
//! mean no condition can hang, overflow the stack, exhaust memory or panic. A
//! mistake (a type error, a division by zero) is an [`ExprError`] with a byte
//! range into the source, never a silent `false`.

use std::fmt;
use std::rc::Rc;

use floe_schemas::diag::suggest;
use serde_json::{Map, Value};

/// Longest expression source, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4096;
/// Deepest nesting of brackets, operators, postfixes and calls.
pub const MAX_DEPTH: usize = 64;
/// Most steps one evaluation may take: one per node visit, plus work in
/// proportion to the strings and lists an operation walks or builds.
pub const MAX_STEPS: u64 = 100_000;
/// Largest string or list an expression may build (or return), in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// What one list element counts towards [`MAX_VALUE_BYTES`].
const LIST_ELEMENT_BYTES: usize = 16;
/// Longest list an expression may build.
const MAX_LIST_LEN: usize = MAX_VALUE_BYTES / LIST_ELEMENT_BYTES;
/// Bytes of string work that cost one step.
const BYTES_PER_STEP: usize = 256;
/// What compiling a glob costs, in steps: as much as a few kilobytes of string work.
const GLOB_STEPS: u64 = 8;
/// Deepest value `==` compares or `eval` returns; context values are shallower.
const MAX_VALUE_DEPTH: usize = 128;

/// A problem with an expression: where it is (a byte range into the source),
/// what is wrong, and how to fix it when that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub help: Option<String>,
}

impl ExprError {
    fn new(span: Span, message: impl Into<String>) -> ExprError {
        ExprError { offset: span.offset, len: span.len, message: message.into(), help: None }
    }

    fn with_help(mut self, help: impl Into<String>) -> ExprError {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

/// A parsed expression. Equality is structural: where the parts came from in
/// the source does not matter, so `parse("a+b") == parse("a + b")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    root: Node,
}

/// Parses an expression, checking names, function arities and the limits.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.len() > MAX_SOURCE_BYTES {
        let message = format!("the expression is {} bytes; at most {MAX_SOURCE_BYTES} are allowed", src.len());
        return Err(ExprError::new(Span::new(0, src.len()), message));
    }
    let mut parser = Parser { src, toks: lex(src)?, pos: 0, depth: 0, it_scopes: 0 };
    let root = parser.binary(1)?;
    let next = parser.peek();
    if next.tok != Tok::End {
        let found = parser.describe(next);
        let err =
            ExprError::new(next.span, format!("expected an operator or the end of the expression, found {found}"));
        return Err(match parser.text(next) {
            "and" => err.with_help("use `&&`"),
            "or" => err.with_help("use `||`"),
            _ => err,
        });
    }
    Ok(Expr { root })
}

impl Expr {
    /// The value of the expression against a model context (a JSON object).
    pub fn eval(&self, ctx: &Value) -> Result<Value, ExprError> {
        let value = Eval { ctx, steps: 0 }.eval(&self.root, None)?;
        let mut budget = MAX_VALUE_BYTES;
        to_json(&value, &mut budget, 0).map_err(|message| ExprError::new(self.root.span, message))
    }

    /// The expression as a condition: anything but a boolean is an error at
    /// the whole expression.
    pub fn eval_bool(&self, ctx: &Value) -> Result<bool, ExprError> {
        let value = Eval { ctx, steps: 0 }.eval(&self.root, None)?;
        match value {
            Val::Bool(b) => Ok(b),
            other => {
                Err(ExprError::new(self.root.span, format!("a condition must be a boolean, found {}", other.kind()))
                    .with_help("compare the value, e.g. `meta.owner != null`"))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Syntax tree

/// A byte range into the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    offset: usize,
    len: usize,
}

impl Span {
    fn new(offset: usize, len: usize) -> Span {
        Span { offset, len }
    }

    /// From the start of `self` to the end of `end`.
    fn to(self, end: Span) -> Span {
        Span { offset: self.offset, len: (end.offset + end.len).saturating_sub(self.offset) }
    }
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    span: Span,
    /// How many levels of nodes are below this one (0 for a leaf), checked
    /// against [`MAX_DEPTH`] so every recursive walk of the tree is bounded.
    depth: usize,
}

/// Nodes compare by structure only.
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.kind == other.kind
    }
}

impl Node {
    fn new(kind: Kind, span: Span) -> Node {
        let deepest = match &kind {
            Kind::List(items) | Kind::Call(_, items) => items.iter().map(|n| n.depth).max(),
            Kind::Field(n, _) | Kind::Unary(_, n) => Some(n.depth),
            Kind::Index(a, b) | Kind::Binary(_, a, b) => Some(a.depth.max(b.depth)),
            Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Str(_) | Kind::Name(_) | Kind::It => None,
        };
        Node { kind, span, depth: deepest.map_or(0, |d| d + 1) }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Null,
    Bool(bool),
    /// Finite and not negative: `-1` is a negation.
    Num(f64),
    Str(String),
    List(Vec<Node>),
    /// A field of the model context.
    Name(String),
    /// The element a quantifier is looking at.
    It,
    Field(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Precedence of unary operators, and of postfixes and atoms.
const UNARY_PREC: u8 = 7;
const ATOM_PREC: u8 = 8;

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    fn prec(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In | BinOp::NotIn => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Len,
    Lower,
    Upper,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    Keys,
    All,
    Any,
    Count,
    Filter,
}

const FUNCS: [Func; 12] = [
    Func::Len,
    Func::Lower,
    Func::Upper,
    Func::StartsWith,
    Func::EndsWith,
    Func::Contains,
    Func::Matches,
    Func::Keys,
    Func::All,
    Func::Any,
    Func::Count,
    Func::Filter,
];

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::Len => "len",
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::StartsWith => "starts_with",
            Func::EndsWith => "ends_with",
            Func::Contains => "contains",
            Func::Matches => "matches",
            Func::Keys => "keys",
            Func::All => "all",
            Func::Any => "any",
            Func::Count => "count",
            Func::Filter => "filter",
        }
    }

    fn arity(self) -> usize {
        match self {
            Func::Len | Func::Lower | Func::Upper | Func::Keys => 1,
            _ => 2,
        }
    }

    /// Quantifiers evaluate their second argument once per element, with `it` bound.
    fn is_quantifier(self) -> bool {
        matches!(self, Func::All | Func::Any | Func::Count | Func::Filter)
    }
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    /// A name or keyword; its text is the source at its span.
    Ident,
    Punct(&'static str),
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    span: Span,
}

/// Longest first, so `<=` is not read as `<` `=`.
const PUNCTS: [&str; 20] =
    ["||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", ".", "[", "]", "(", ")", ","];

/// The source as tokens, always ending with [`Tok::End`].
fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = src.get(i..).and_then(|rest| rest.chars().next()) {
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let tok = if c.is_ascii_digit() {
            i = digits_end(bytes, i);
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i = digits_end(bytes, i + 1);
            }
            match src[start..i].parse::<f64>() {
                Ok(n) if n.is_finite() => Tok::Num(n),
                _ => return Err(ExprError::new(Span::new(start, i - start), "the number is too large")),
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                i += 1;
            }
            Tok::Ident
        } else if c == '\'' || c == '"' {
            let (text, end) = string(src, start, c)?;
            i = end;
            Tok::Str(text)
        } else if let Some(p) = PUNCTS.iter().find(|p| src[start..].starts_with(**p)) {
            i += p.len();
            Tok::Punct(p)
        } else {
            let err = ExprError::new(Span::new(start, c.len_utf8()), format!("unexpected character `{c}`"));
            return Err(match c {
                '=' => err.with_help("use `==` to compare"),
                '&' => err.with_help("use `&&`"),
                '|' => err.with_help("use `||`"),
                _ => err,
            });
        };
        toks.push(Token { tok, span: Span::new(start, i - start) });
    }
    toks.push(Token { tok: Tok::End, span: Span::new(src.len(), 0) });
    Ok(toks)
}

fn digits_end(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// The string literal opening with `quote` at `start`: its value and the offset after it.
fn string(src: &str, start: usize, quote: char) -> Result<(String, usize), ExprError> {
    let unterminated = || {
        ExprError::new(Span::new(start, src.len() - start), "unterminated string")
            .with_help(format!("close it with `{quote}`"))
    };
    let mut out = String::new();
    let mut chars = src[start..].char_indices().skip(1);
    while let Some((j, c)) = chars.next() {
        if c == quote {
            return Ok((out, start + j + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, e @ ('\\' | '\'' | '"'))) => out.push(e),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((k, e)) => {
                return Err(ExprError::new(
                    Span::new(start + j, k - j + e.len_utf8()),
                    format!("unknown escape `\\{e}`"),
                )
                .with_help(r#"the escapes are `\\`, `\'`, `\"`, `\n` and `\t`"#));
            }
            None => return Err(unterminated()),
        }
    }
    Err(unterminated())
}

// ---------------------------------------------------------------------------
// Parser: recursive descent, one function per precedence class.

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    /// Nesting of the descent itself; the tree's height is checked in [`Parser::node`].
    depth: usize,
    /// How many quantifier conditions enclose the current position, so `it` is bound.
    it_scopes: usize,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> &Token {
        // `lex` always ends with `End`, and `bump` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.tok != Tok::End {
            self.pos += 1;
        }
        tok
    }

    fn text(&self, tok: &Token) -> &'s str {
        self.src.get(tok.span.offset..tok.span.offset + tok.span.len).unwrap_or("")
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek().tok, Tok::Punct(q) if q == p)
    }

    fn is_word(&self, tok: &Token, word: &str) -> bool {
        tok.tok == Tok::Ident && self.text(tok) == word
    }

    fn describe(&self, tok: &Token) -> String {
        match &tok.tok {
            Tok::End => "the end of the expression".to_owned(),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Num(_) if tok.span.len > 24 => "a number".to_owned(),
            _ => format!("`{}`", self.text(tok)),
        }
    }

    fn expect(&mut self, p: &str) -> Result<Span, ExprError> {
        if self.is_punct(p) {
            return Ok(self.bump().span);
        }
        let next = self.peek();
        Err(ExprError::new(next.span, format!("expected `{p}`, found {}", self.describe(next))))
    }

    /// Goes one level deeper at `at`, refusing to go past [`MAX_DEPTH`].
    fn enter(&mut self, at: Span) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep(at));
        }
        Ok(())
    }

    fn node(&self, kind: Kind, span: Span) -> Result<Node, ExprError> {
        let node = Node::new(kind, span);
        if node.depth > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(node)
    }

    /// An expression nested in the bracket (or call) opened at `open`.
    fn nested(&mut self, open: Span) -> Result<Node, ExprError> {
        self.enter(open)?;
        let node = self.binary(1)?;
        self.depth -= 1;
        Ok(node)
    }

    /// Operators binding at least as tightly as `min`, all left-associative.
    fn binary(&mut self, min: u8) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        while let Some((op, width)) = self.peek_binop()
            && op.prec() >= min
        {
            for _ in 0..width {
                self.bump();
            }
            let right = self.binary(op.prec() + 1)?;
            let span = left.span.to(right.span);
            left = self.node(Kind::Binary(op, Box::new(left), Box::new(right)), span)?;
        }
        Ok(left)
    }

    /// The binary operator ahead, and how many tokens it takes.
    fn peek_binop(&self) -> Option<(BinOp, usize)> {
        let tok = self.peek();
        let op = match tok.tok {
            Tok::Punct("||") => BinOp::Or,
            Tok::Punct("&&") => BinOp::And,
            Tok::Punct("==") => BinOp::Eq,
            Tok::Punct("!=") => BinOp::Ne,
            Tok::Punct("<") => BinOp::Lt,
            Tok::Punct("<=") => BinOp::Le,
            Tok::Punct(">") => BinOp::Gt,
            Tok::Punct(">=") => BinOp::Ge,
            Tok::Punct("+") => BinOp::Add,
            Tok::Punct("-") => BinOp::Sub,
            Tok::Punct("*") => BinOp::Mul,
            Tok::Punct("/") => BinOp::Div,
            Tok::Punct("%") => BinOp::Rem,
            Tok::Ident if self.is_word(tok, "in") => BinOp::In,
            Tok::Ident if self.is_word(tok, "not") && self.is_word(self.peek_at(1), "in") => {
                return Some((BinOp::NotIn, 2));
            }
            _ => return None,
        };
        Some((op, 1))
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let op = match self.peek().tok {
            Tok::Punct("!") => UnOp::Not,
            Tok::Punct("-") => UnOp::Neg,
            _ => return self.postfix(),
        };
        let start = self.bump().span;
        self.enter(start)?;
        let operand = self.unary()?;
        self.depth -= 1;
        let span = start.to(operand.span);
        self.node(Kind::Unary(op, Box::new(operand)), span)
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut node = self.primary()?;
        loop {
            if self.is_punct(".") {
                self.bump();
                let name = self.peek().clone();
                if name.tok != Tok::Ident {
                    let found = self.describe(&name);
                    return Err(ExprError::new(name.span, format!("expected a field name after `.`, found {found}")));
                }
                self.bump();
                let span = node.span.to(name.span);
                node = self.node(Kind::Field(Box::new(node), self.text(&name).to_owned()), span)?;
            } else if self.is_punct("[") {
                let open = self.bump().span;
                let index = self.nested(open)?;
                let end = self.expect("]")?;
                let span = node.span.to(end);
                node = self.node(Kind::Index(Box::new(node), Box::new(index)), span)?;
            } else {
                return Ok(node);
            }
        }
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let tok = self.peek().clone();
        let kind = match &tok.tok {
            Tok::Num(n) => Kind::Num(*n),
            Tok::Str(s) => Kind::Str(s.clone()),
            Tok::Punct("(") => {
                self.bump();
                let mut inner = self.nested(tok.span)?;
                let end = self.expect(")")?;
                inner.span = tok.span.to(end);
                return Ok(inner);
            }
            Tok::Punct("[") => return self.list(),
            Tok::Ident => match self.text(&tok) {
                "null" => Kind::Null,
                "true" => Kind::Bool(true),
                "false" => Kind::Bool(false),
                "it" if self.it_scopes > 0 => Kind::It,
                "it" => {
                    return Err(ExprError::new(
                        tok.span,
                        "`it` is only defined inside the condition of all(), any(), count() or filter()",
                    ));
                }
                word @ ("in" | "not") => {
                    let err = ExprError::new(tok.span, format!("expected an expression, found `{word}`"));
                    return Err(if word == "not" { err.with_help("use `!` to negate") } else { err });
                }
                name if self.peek_at(1).tok == Tok::Punct("(") => return self.call(name, tok.span),
                name => Kind::Name(name.to_owned()),
            },
            _ => {
                let found = self.describe(&tok);
                return Err(ExprError::new(tok.span, format!("expected an expression, found {found}")));
            }
        };
        self.bump();
        self.node(kind, tok.span)
    }

    fn list(&mut self) -> Result<Node, ExprError> {
        let start = self.bump().span;
        let mut items = Vec::new();
        while !self.is_punct("]") {
            items.push(self.nested(start)?);
            if !self.is_punct("]") {
                self.expect(",")?;
            }
        }
        let end = self.bump().span;
        self.node(Kind::List(items), start.to(end))
    }

    fn call(&mut self, name: &str, start: Span) -> Result<Node, ExprError> {
        let Some(func) = FUNCS.into_iter().find(|f| f.name() == name) else {
            let err = ExprError::new(start, format!("unknown function `{name}`"));
            return Err(match suggest(name, FUNCS.iter().map(|f| f.name())) {
                Some(s) => err.with_help(format!("did you mean `{s}`?")),
                None => {
                    let all: Vec<&str> = FUNCS.iter().map(|f| f.name()).collect();
                    err.with_help(format!("the functions are {}", all.join(", ")))
                }
            });
        };
        self.bump();
        let open = self.bump().span;
        let mut args = Vec::new();
        while !self.is_punct(")") {
            let condition = func.is_quantifier() && args.len() == 1;
            self.it_scopes += usize::from(condition);
            args.push(self.nested(open)?);
            self.it_scopes -= usize::from(condition);
            if !self.is_punct(")") {
                self.expect(",")?;
                if self.is_punct(")") {
                    let found = self.describe(self.peek());
                    return Err(ExprError::new(self.peek().span, format!("expected an expression, found {found}")));
                }
            }
        }
        let span = start.to(self.bump().span);
        if args.len() != func.arity() {
            let (want, plural) = (func.arity(), if func.arity() == 1 { "" } else { "s" });
            let message = format!("`{}()` takes {want} argument{plural}, found {}", func.name(), args.len());
            return Err(ExprError::new(span, message));
        }
        self.node(Kind::Call(func, args), span)
    }
}

fn too_deep(span: Span) -> ExprError {
    ExprError::new(span, format!("the expression nests more than {MAX_DEPTH} levels deep"))
        .with_help("split the condition into simpler parts")
}

// ---------------------------------------------------------------------------
// Canonical text

/// The canonical text: single spaces around binary operators, single quotes,
/// and parentheses only where precedence needs them. It parses back to an
/// equal expression (as long as it stays within [`MAX_SOURCE_BYTES`]).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.root)
    }
}

fn prec(node: &Node) -> u8 {
    match node.kind {
        Kind::Binary(op, ..) => op.prec(),
        Kind::Unary(..) => UNARY_PREC,
        _ => ATOM_PREC,
    }
}

/// `node`, in parentheses when it binds less tightly than `min`.
fn write_operand(f: &mut fmt::Formatter<'_>, node: &Node, min: u8) -> fmt::Result {
    if prec(node) < min {
        f.write_str("(")?;
        write_node(f, node)?;
        f.write_str(")")
    } else {
        write_node(f, node)
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Node]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_node(f, item)?;
    }
    Ok(())
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node) -> fmt::Result {
    match &node.kind {
        Kind::Null => f.write_str("null"),
        Kind::Bool(b) => write!(f, "{b}"),
        // Rust prints the shortest text that reads back as the same number,
        // never with an exponent.
        Kind::Num(n) => write!(f, "{n}"),
        Kind::Str(s) => {
            f.write_str("'")?;
            for c in s.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '\'' => f.write_str("\\'")?,
                    '\n' => f.write_str("\\n")?,
                    '\t' => f.write_str("\\t")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("'")
        }
        Kind::List(items) => {
            f.write_str("[")?;
            write_list(f, items)?;
            f.write_str("]")
        }
        Kind::Name(name) => f.write_str(name),
        Kind::It => f.write_str("it"),
        Kind::Field(base, name) => {
            write_operand(f, base, ATOM_PREC)?;
            write!(f, ".{name}")
        }
        Kind::Index(base, index) => {
            write_operand(f, base, ATOM_PREC)?;
            f.write_str("[")?;
            write_node(f, index)?;
            f.write_str("]")
        }
        Kind::Unary(op, operand) => {
            f.write_str(if *op == UnOp::Not { "!" } else { "-" })?;
            write_operand(f, operand, UNARY_PREC)
        }
        Kind::Binary(op, left, right) => {
            write_operand(f, left, op.prec())?;
            write!(f, " {} ", op.symbol())?;
            // Left-associative: an equal-precedence right operand needs parentheses.
            write_operand(f, right, op.prec() + 1)
        }
        Kind::Call(func, args) => {
            write!(f, "{}(", func.name())?;
            write_list(f, args)?;
            f.write_str(")")
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation

/// A value during evaluation. Values from the context and the expression are
/// borrowed, and built strings and lists are shared, so copying a value is
/// cheap and only building one allocates.
#[derive(Clone, Debug)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'a str),
    String(Rc<str>),
    Array(&'a [Value]),
    List(Rc<Vec<Val<'a>>>),
    Object(&'a Map<String, Value>),
}

/// The elements of a list value, wherever they live.
#[derive(Clone, Copy)]
enum Items<'v, 'a> {
    Json(&'a [Value]),
    Vals(&'v [Val<'a>]),
}

impl<'a> Items<'_, 'a> {
    fn len(self) -> usize {
        match self {
            Items::Json(items) => items.len(),
            Items::Vals(items) => items.len(),
        }
    }

    fn get(self, i: usize) -> Val<'a> {
        match self {
            Items::Json(items) => items.get(i).map_or(Val::Null, Val::json),
            Items::Vals(items) => items.get(i).cloned().unwrap_or(Val::Null),
        }
    }
}

impl<'a> Val<'a> {
    fn json(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n.as_f64().filter(|n| n.is_finite()).map_or(Val::Null, Val::Num),
            Value::String(s) => Val::Str(s),
            Value::Array(items) => Val::Array(items),
            Value::Object(map) => Val::Object(map),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::String(s) => Some(s),
            _ => None,
        }
    }

    fn items(&self) -> Option<Items<'_, 'a>> {
        match self {
            Val::Array(items) => Some(Items::Json(items)),
            Val::List(items) => Some(Items::Vals(items)),
            _ => None,
        }
    }

    /// The type, as error messages name it.
    fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Num(_) => "a number",
            Val::Str(_) | Val::String(_) => "a string",
            Val::Array(_) | Val::List(_) => "a list",
            Val::Object(_) => "an object",
        }
    }
}

/// Steps for walking `bytes` of strings.
fn work(bytes: usize) -> u64 {
    (bytes / BYTES_PER_STEP) as u64
}

struct Eval<'a> {
    ctx: &'a Value,
    steps: u64,
}

impl<'a> Eval<'a> {
    /// Spends `n` steps, failing instead when the budget would run out.
    fn charge(&mut self, span: Span, n: u64) -> Result<(), ExprError> {
        match self.steps.checked_add(n) {
            Some(steps) if steps <= MAX_STEPS => {
                self.steps = steps;
                Ok(())
            }
            _ => Err(ExprError::new(span, format!("evaluation takes more than {MAX_STEPS} steps"))
                .with_help("the condition runs for every model; quantifiers inside quantifiers multiply its work")),
        }
    }

    fn eval(&mut self, node: &'a Node, it: Option<&Val<'a>>) -> Result<Val<'a>, ExprError> {
        self.charge(node.span, 1)?;
        Ok(match &node.kind {
            Kind::Null => Val::Null,
            Kind::Bool(b) => Val::Bool(*b),
            Kind::Num(n) => Val::Num(*n),
            Kind::Str(s) => Val::Str(s),
            Kind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item, it)?);
                }
                Val::List(Rc::new(out))
            }
            Kind::Name(name) => self.ctx.get(name).map_or(Val::Null, Val::json),
            Kind::It => it.cloned().unwrap_or(Val::Null),
            Kind::Field(base, name) => match self.eval(base, it)? {
                Val::Null => Val::Null,
                Val::Object(map) => map.get(name).map_or(Val::Null, Val::json),
                other => {
                    return Err(ExprError::new(node.span, format!("cannot read field `{name}` of {}", other.kind())));
                }
            },
            Kind::Index(base, index) => {
                let base_val = self.eval(base, it)?;
                let index_val = self.eval(index, it)?;
                self.index(&base_val, base.span, &index_val, index.span)?
            }
            Kind::Unary(op, operand) => match (op, self.eval(operand, it)?) {
                (UnOp::Not, Val::Bool(b)) => Val::Bool(!b),
                (UnOp::Neg, Val::Num(n)) => Val::Num(-n),
                (UnOp::Not, other) => {
                    return Err(ExprError::new(node.span, format!("`!` needs a boolean, found {}", other.kind())));
                }
                (UnOp::Neg, other) => {
                    return Err(ExprError::new(node.span, format!("`-` needs a number, found {}", other.kind())));
                }
            },
            Kind::Binary(op @ (BinOp::And | BinOp::Or), left, right) => {
                // Short-circuit: `false && x` and `true || x` never look at `x`.
                let l = logic_operand(*op, self.eval(left, it)?, left.span)?;
                if l == (*op == BinOp::Or) {
                    Val::Bool(l)
                } else {
                    Val::Bool(logic_operand(*op, self.eval(right, it)?, right.span)?)
                }
            }
            Kind::Binary(op, left, right) => {
                let l = self.eval(left, it)?;
                let r = self.eval(right, it)?;
                self.binary(*op, &l, &r, node.span)?
            }
            Kind::Call(func, args) => self.call(*func, args, it, node.span)?,
        })
    }

    fn index(
        &mut self,
        base: &Val<'a>,
        base_span: Span,
        index: &Val<'a>,
        index_span: Span,
    ) -> Result<Val<'a>, ExprError> {
        if let Val::Object(map) = base {
            let Some(key) = index.text() else {
                let message = format!("an object key must be a string, found {}", index.kind());
                return Err(ExprError::new(index_span, message));
            };
            return Ok(map.get(key).map_or(Val::Null, Val::json));
        }
        let Some(items) = base.items() else {
            return match base {
                Val::Null => Ok(Val::Null),
                _ => Err(ExprError::new(base_span, format!("cannot index {}", base.kind()))
                    .with_help("only lists and objects have elements")),
            };
        };
        match *index {
            Val::Num(n) if n.fract() != 0.0 => {
                Err(ExprError::new(index_span, format!("a list index must be a whole number, found `{n}`")))
            }
            Val::Num(n) if n >= 0.0 && n < items.len() as f64 => Ok(items.get(n as usize)),
            Val::Num(_) => Ok(Val::Null),
            _ => Err(ExprError::new(index_span, format!("a list index must be a number, found {}", index.kind()))),
        }
    }

    fn binary(&mut self, op: BinOp, l: &Val<'a>, r: &Val<'a>, span: Span) -> Result<Val<'a>, ExprError> {
        let mismatch =
            |what: &str| ExprError::new(span, format!("`{}` {what}, not {} and {}", op.symbol(), l.kind(), r.kind()));
        Ok(match op {
            BinOp::And | BinOp::Or => match (l, r) {
                (Val::Bool(x), Val::Bool(y)) => Val::Bool(if op == BinOp::And { *x && *y } else { *x || *y }),
                _ => return Err(mismatch("needs booleans")),
            },
            BinOp::Eq | BinOp::Ne => Val::Bool(self.equal(l, r, span, 0)? == (op == BinOp::Eq)),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (l, r, l.text(), r.text()) {
                    (Val::Num(x), Val::Num(y), ..) => x.partial_cmp(y),
                    (.., Some(x), Some(y)) => {
                        self.charge(span, work(x.len().min(y.len())))?;
                        Some(x.cmp(y))
                    }
                    _ => None,
                };
                let Some(ord) = ord else { return Err(mismatch("compares two numbers or two strings")) };
                Val::Bool(match op {
                    BinOp::Lt => ord.is_lt(),
                    BinOp::Le => ord.is_le(),
                    BinOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            BinOp::In | BinOp::NotIn => {
                let found = match r {
                    Val::Object(map) => match l.text() {
                        Some(key) => map.contains_key(key),
                        None => {
                            let message = format!("`in` looks for a string key in an object, not {}", l.kind());
                            return Err(ExprError::new(span, message));
                        }
                    },
                    _ => match self.contains(r, l, span, "`in`")? {
                        Some(found) => found,
                        None => {
                            let message = format!("`in` needs a list, string or object on the right, not {}", r.kind());
                            return Err(ExprError::new(span, message));
                        }
                    },
                };
                Val::Bool(found == (op == BinOp::In))
            }
            BinOp::Add => match (l, r) {
                (Val::Num(x), Val::Num(y)) => number(x + y, span)?,
                _ => match (l.text(), r.text(), l.items(), r.items()) {
                    (Some(x), Some(y), ..) => {
                        let len = x.len() + y.len();
                        if len > MAX_VALUE_BYTES {
                            return Err(too_big_string(span));
                        }
                        self.charge(span, work(len))?;
                        Val::String(Rc::from(format!("{x}{y}")))
                    }
                    (.., Some(x), Some(y)) => {
                        let len = x.len() + y.len();
                        if len > MAX_LIST_LEN {
                            return Err(too_big_list(span));
                        }
                        self.charge(span, len as u64)?;
                        Val::List(Rc::new(
                            (0..x.len()).map(|i| x.get(i)).chain((0..y.len()).map(|i| y.get(i))).collect(),
                        ))
                    }
                    _ => return Err(mismatch("needs two numbers, two strings or two lists")),
                },
            },
            BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let (Val::Num(x), Val::Num(y)) = (l, r) else { return Err(mismatch("needs two numbers")) };
                match op {
                    BinOp::Sub => number(x - y, span)?,
                    BinOp::Mul => number(x * y, span)?,
                    _ if *y == 0.0 => return Err(ExprError::new(span, "division by zero")),
                    BinOp::Div => number(x / y, span)?,
                    _ => number(x % y, span)?,
                }
            }
        })
    }

    /// Structural equality; numbers compare by value, so `1 == 1.0`.
    fn equal(&mut self, l: &Val<'a>, r: &Val<'a>, span: Span, depth: usize) -> Result<bool, ExprError> {
        self.charge(span, 1)?;
        if depth > MAX_VALUE_DEPTH {
            return Err(ExprError::new(
                span,
                format!("cannot compare values nested more than {MAX_VALUE_DEPTH} levels"),
            ));
        }
        if let (Some(x), Some(y)) = (l.text(), r.text()) {
            self.charge(span, work(x.len().min(y.len())))?;
            return Ok(x == y);
        }
        if let (Some(x), Some(y)) = (l.items(), r.items()) {
            if x.len() != y.len() {
                return Ok(false);
            }
            for i in 0..x.len() {
                if !self.equal(&x.get(i), &y.get(i), span, depth + 1)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        Ok(match (l, r) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Num(x), Val::Num(y)) => x == y,
            (Val::Object(x), Val::Object(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (key, value) in x.iter() {
                    let Some(other) = y.get(key) else { return Ok(false) };
                    if !self.equal(&Val::json(value), &Val::json(other), span, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        })
    }

    /// Whether `hay` (a list or string) holds `needle`; `None` when `hay` is neither.
    fn contains(&mut self, hay: &Val<'a>, needle: &Val<'a>, span: Span, what: &str) -> Result<Option<bool>, ExprError> {
        if let Some(items) = hay.items() {
            for i in 0..items.len() {
                if self.equal(&items.get(i), needle, span, 0)? {
                    return Ok(Some(true));
                }
            }
            return Ok(Some(false));
        }
        let Some(text) = hay.text() else { return Ok(None) };
        let Some(part) = needle.text() else {
            return Err(ExprError::new(span, format!("{what} looks for a string in a string, not {}", needle.kind())));
        };
        self.charge(span, work(text.len() + part.len()))?;
        Ok(Some(text.contains(part)))
    }

    fn call(&mut self, func: Func, args: &'a [Node], it: Option<&Val<'a>>, span: Span) -> Result<Val<'a>, ExprError> {
        let wrong_arity = || ExprError::new(span, format!("`{}()` takes {} arguments", func.name(), func.arity()));
        let [first, rest @ ..] = args else { return Err(wrong_arity()) };
        if func.is_quantifier() {
            let [condition] = rest else { return Err(wrong_arity()) };
            return self.quantify(func, first, condition, it);
        }
        let x = self.eval(first, it)?;
        let not_a = |what: &str, v: &Val<'_>, at: &Node| {
            ExprError::new(at.span, format!("{}() takes {what}, not {}", func.name(), v.kind()))
        };
        if func.arity() == 1 {
            if !rest.is_empty() {
                return Err(wrong_arity());
            }
            return Ok(match func {
                Func::Len => match (&x, x.text(), x.items()) {
                    (.., Some(s), _) => {
                        self.charge(span, work(s.len()))?;
                        Val::Num(s.chars().count() as f64)
                    }
                    (.., Some(items)) => Val::Num(items.len() as f64),
                    (Val::Object(map), ..) => Val::Num(map.len() as f64),
                    _ => return Err(not_a("a string, list or object", &x, first)),
                },
                Func::Keys => {
                    let Val::Object(map) = x else { return Err(not_a("an object", &x, first)) };
                    self.charge(span, map.len() as u64)?;
                    if map.len() > MAX_LIST_LEN {
                        return Err(too_big_list(span));
                    }
                    let mut keys: Vec<&'a str> = map.keys().map(String::as_str).collect();
                    keys.sort_unstable();
                    Val::List(Rc::new(keys.into_iter().map(Val::Str).collect()))
                }
                _ => {
                    let Some(s) = x.text() else { return Err(not_a("a string", &x, first)) };
                    if s.len() > MAX_VALUE_BYTES {
                        return Err(too_big_string(span));
                    }
                    self.charge(span, work(s.len()))?;
                    let out = if func == Func::Lower { s.to_lowercase() } else { s.to_uppercase() };
                    if out.len() > MAX_VALUE_BYTES {
                        return Err(too_big_string(span));
                    }
                    Val::String(Rc::from(out))
                }
            });
        }
        let [second] = rest else { return Err(wrong_arity()) };
        let y = self.eval(second, it)?;
        if func == Func::Contains {
            return match self.contains(&x, &y, second.span, "contains()")? {
                Some(found) => Ok(Val::Bool(found)),
                None => Err(not_a("a string or a list", &x, first)),
            };
        }
        let Some(s) = x.text() else { return Err(not_a("strings", &x, first)) };
        let Some(p) = y.text() else { return Err(not_a("strings", &y, second)) };
        Ok(Val::Bool(match func {
            Func::StartsWith => {
                self.charge(span, work(p.len()))?;
                s.starts_with(p)
            }
            Func::EndsWith => {
                self.charge(span, work(p.len()))?;
                s.ends_with(p)
            }
            _ => {
                // Compiling the pattern (once per thread; charged every time, so
                // that the count does not depend on what ran before), then
                // simulating it over the text: at worst text × pattern.
                self.charge(span, GLOB_STEPS + work(s.len().saturating_mul(p.len() + 1)))?;
                crate::glob::matches(p, s)
            }
        }))
    }

    /// `all`, `any`, `count` and `filter`: the condition once per element, as `it`.
    fn quantify(
        &mut self,
        func: Func,
        list: &'a Node,
        condition: &'a Node,
        it: Option<&Val<'a>>,
    ) -> Result<Val<'a>, ExprError> {
        let list_val = self.eval(list, it)?;
        let Some(items) = list_val.items() else {
            return Err(ExprError::new(list.span, format!("{}() takes a list, not {}", func.name(), list_val.kind())));
        };
        let (mut count, mut kept) = (0usize, Vec::new());
        for i in 0..items.len() {
            let item = items.get(i);
            let holds = match self.eval(condition, Some(&item))? {
                Val::Bool(b) => b,
                other => {
                    let message =
                        format!("the condition of {}() must be a boolean, found {}", func.name(), other.kind());
                    return Err(ExprError::new(condition.span, message));
                }
            };
            match func {
                Func::All if !holds => return Ok(Val::Bool(false)),
                Func::Any if holds => return Ok(Val::Bool(true)),
                Func::Filter if holds => {
                    if kept.len() == MAX_LIST_LEN {
                        return Err(too_big_list(list.span));
                    }
                    kept.push(item);
                }
                _ => count += usize::from(holds),
            }
        }
        Ok(match func {
            Func::All => Val::Bool(true),
            Func::Any => Val::Bool(false),
            Func::Filter => Val::List(Rc::new(kept)),
            _ => Val::Num(count as f64),
        })
    }
}

/// An operand of `&&` or `||`, which must be a boolean.
fn logic_operand(op: BinOp, value: Val<'_>, span: Span) -> Result<bool, ExprError> {
    match value {
        Val::Bool(b) => Ok(b),
        other => {
            let err = ExprError::new(span, format!("`{}` needs booleans, found {}", op.symbol(), other.kind()));
            Err(if matches!(other, Val::Null) {
                err.with_help("a missing field is null; compare it with `!= null`")
            } else {
                err
            })
        }
    }
}

/// An arithmetic result, which must stay finite.
fn number<'a>(n: f64, span: Span) -> Result<Val<'a>, ExprError> {
    if n.is_finite() { Ok(Val::Num(n)) } else { Err(ExprError::new(span, "the result is too large for a number")) }
}

fn too_big_string(span: Span) -> ExprError {
    ExprError::new(span, format!("the string would be larger than {MAX_VALUE_BYTES} bytes (1 MiB)"))
}

fn too_big_list(span: Span) -> ExprError {
    ExprError::new(span, format!("the list would have more than {MAX_LIST_LEN} elements (1 MiB)"))
}

/// The JSON of a result, within [`MAX_VALUE_BYTES`] (a node counts 16 bytes
/// plus the bytes of its strings).
fn to_json(value: &Val<'_>, budget: &mut usize, depth: usize) -> Result<Value, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!("the result nests more than {MAX_VALUE_DEPTH} levels deep"));
    }
    spend(budget, value.text().map_or(0, str::len))?;
    if let Some(text) = value.text() {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(items) = value.items() {
        let mut out = Vec::with_capacity(items.len().min(MAX_LIST_LEN));
        for i in 0..items.len() {
            out.push(to_json(&items.get(i), budget, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    Ok(match value {
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => json_number(*n),
        Val::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map.iter() {
                spend(budget, key.len())?;
                out.insert(key.clone(), to_json(&Val::json(item), budget, depth + 1)?);
            }
            Value::Object(out)
        }
        _ => Value::Null,
    })
}

/// Takes a node of `bytes` from the result budget.
fn spend(budget: &mut usize, bytes: usize) -> Result<(), String> {
    match budget.checked_sub(LIST_ELEMENT_BYTES + bytes) {
        Some(left) => {
            *budget = left;
            Ok(())
        }
        None => Err(format!("the result is larger than {MAX_VALUE_BYTES} bytes (1 MiB)")),
    }
}

/// Whole numbers as JSON integers (`3`, not `3.0`).
fn json_number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole f64 up to here is exact
    if n.fract() == 0.0 && n.abs() <= EXACT {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::json;

    const REFERENCE: &str = include_str!("../../docs/reference/policy-expressions.md");

    fn eval(src: &str, ctx: &Value) -> Result<Value, ExprError> {
        parse(src)?.eval(ctx)
    }

    /// The example context and the rows of the examples table of the reference.
    fn examples() -> (Value, Vec<(String, String)>) {
        let (_, after) = REFERENCE.split_once("### Example context").expect("an `Example context` heading");
        let (_, after) = after.split_once("```json\n").expect("a json block after the heading");
        let (json, after) = after.split_once("```").expect("the end of the json block");
        let ctx = serde_json::from_str(json).expect("the example context is JSON");
        let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
        assert_eq!(lines.next().map(str::trim), Some("| expression | result |"), "the table follows the context");
        lines.next();
        let rows = lines
            .take_while(|l| l.starts_with('|'))
            .map(|line| match cells(line).as_slice() {
                [expr, result] => (expr.clone(), result.clone()),
                _ => panic!("not a two-cell row: {line}"),
            })
            .collect();
        (ctx, rows)
    }

    /// The cells of a markdown table row, `\|` unescaped and code spans unwrapped.
    fn cells(row: &str) -> Vec<String> {
        let inner = row.trim().strip_prefix('|').and_then(|r| r.strip_suffix('|')).unwrap_or(row);
        let mut cells = vec![String::new()];
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'|') => {
                    chars.next();
                    cells.last_mut().map(|cell| cell.push('|')).unwrap_or_default();
                }
                '|' => cells.push(String::new()),
                c => cells.last_mut().map(|cell| cell.push(c)).unwrap_or_default(),
            }
        }
        cells
            .iter()
            .map(|cell| {
                let cell = cell.trim();
                cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')).unwrap_or(cell).to_owned()
            })
            .collect()
    }

    #[test]
    fn reference_examples() {
        let (ctx, rows) = examples();
        assert!(rows.len() >= 30, "only {} examples", rows.len());
        for (src, want) in rows {
            let got = eval(&src, &ctx);
            match want.strip_prefix("error:") {
                Some(message) => {
                    let err = got.expect_err(&src);
                    assert!(err.message.contains(message.trim()), "{src}: {err:?}");
                }
                None => {
                    let want: Value = serde_json::from_str(&want).unwrap_or_else(|e| panic!("{src}: {want}: {e}"));
                    assert_eq!(got, Ok(want), "{src}");
                }
            }
            if let Ok(expr) = parse(&src) {
                assert_eq!(parse(&expr.to_string()), Ok(expr), "{src}");
            }
        }
    }

    #[test]
    fn precedence() {
        // (source, canonical text, value)
        let cases = [
            ("1 + 2 * 3", "1 + 2 * 3", json!(7)),
            ("(1 + 2) * 3", "(1 + 2) * 3", json!(9)),
            ("10 - 4 - 3", "10 - 4 - 3", json!(3)),
            ("10 - (4 - 3)", "10 - (4 - 3)", json!(9)),
            ("((10 - 4)) - 3", "10 - 4 - 3", json!(3)),
            ("2 * 3 % 4", "2 * 3 % 4", json!(2)),
            ("2 * (3 % 4)", "2 * (3 % 4)", json!(6)),
            ("-2 * 3", "-2 * 3", json!(-6)),
            ("-(2 * 3)", "-(2 * 3)", json!(-6)),
            ("- -2", "--2", json!(2)),
            ("-7 % 3", "-7 % 3", json!(-1)),
            ("1 / 4", "1 / 4", json!(0.25)),
            ("true || false && false", "true || false && false", json!(true)),
            ("(true || false) && false", "(true || false) && false", json!(false)),
            ("1 < 2 == 2 < 3", "1 < 2 == 2 < 3", json!(true)),
            ("1 < (2 == 2)", "1 < (2 == 2)", json!(null)),
            ("!false == true", "!false == true", json!(true)),
            ("!(1 == 2)", "!(1 == 2)", json!(true)),
            ("1+1 in [2]", "1 + 1 in [2]", json!(true)),
            ("'a' not in ['b'] && true", "'a' not in ['b'] && true", json!(true)),
            ("-[1][0]", "-[1][0]", json!(-1)),
            ("(-[1])[0]", "(-[1])[0]", json!(null)),
            ("len([1,2,])*2", "len([1, 2]) * 2", json!(4)),
            ("\"a\\\"b\" + 'c\\n'", "'a\"b' + 'c\\n'", json!("a\"bc\n")),
        ];
        for (src, canonical, value) in cases {
            let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            assert_eq!(expr.to_string(), canonical, "{src}");
            if !value.is_null() {
                assert_eq!(expr.eval(&json!({})), Ok(value), "{src}");
            }
        }
    }

    #[test]
    fn short_circuit() {
        let cases = [
            ("false && len(3)", Ok(false)),
            ("true || len(3)", Ok(true)),
            ("false && 1", Ok(false)),
            ("true || 'x'", Ok(true)),
            ("true && false || true", Ok(true)),
            ("all([], len(3))", Ok(true)),
            ("any([1, 2], it == 1 || len(3))", Ok(true)),
            ("true && len(3)", Err("len() takes a string, list or object, not a number")),
            ("1 && true", Err("`&&` needs booleans, found a number")),
            ("false || 1", Err("`||` needs booleans, found a number")),
            ("all([1, 2], it == 2 && len(3))", Ok(false)),
            ("all([1, 2], it == 1 && len(3))", Err("len() takes")),
        ];
        for (src, want) in cases {
            let got = parse(src).and_then(|e| e.eval_bool(&json!({})));
            match want {
                Ok(b) => assert_eq!(got, Ok(b), "{src}"),
                Err(message) => assert!(got.is_err_and(|e| e.message.contains(message)), "{src}"),
            }
        }
    }

    #[test]
    fn null_paths() {
        let ctx = json!({"meta": {"owner": "x", "a-b": 1}, "columns": [{"name": "id"}], "nothing": null});
        for (src, want) in [
            ("meta.missing", json!(null)),
            ("meta.missing.deeper.still", json!(null)),
            ("missing", json!(null)),
            ("nothing[0]", json!(null)),
            ("nothing['k']", json!(null)),
            ("columns[5].name", json!(null)),
            ("columns[-1]", json!(null)),
            ("columns[0].name", json!("id")),
            ("meta['a-b']", json!(1)),
            ("meta.owner != null", json!(true)),
            ("meta.reviewer != null", json!(false)),
            ("meta.missing == null", json!(true)),
            ("meta == {}", json!(null)),
        ] {
            if src.contains('{') {
                assert!(parse(src).is_err(), "there are no object literals");
                continue;
            }
            assert_eq!(eval(src, &ctx), Ok(want), "{src}");
        }
    }

    #[test]
    fn errors_point_at_their_cause() {
        let ctx = json!({"name": "gold_orders", "columns": [{"name": "id"}]});
        // (source, offset, len, message, help)
        let cases: &[(&str, usize, usize, &str, Option<&str>)] = &[
            ("", 0, 0, "expected an expression, found the end of the expression", None),
            ("a +", 3, 0, "expected an expression, found the end of the expression", None),
            ("(a", 2, 0, "expected `)`, found the end of the expression", None),
            ("[1 2]", 3, 1, "expected `,`, found `2`", None),
            ("a b", 2, 1, "expected an operator or the end of the expression, found `b`", None),
            ("a and b", 2, 3, "expected an operator or the end of the expression, found `and`", Some("use `&&`")),
            ("a = b", 2, 1, "unexpected character `=`", Some("use `==` to compare")),
            ("a & b", 2, 1, "unexpected character `&`", Some("use `&&`")),
            ("é", 0, 2, "unexpected character `é`", None),
            ("'abc", 0, 4, "unterminated string", Some("close it with `'`")),
            ("x == 'a\\qb'", 7, 2, "unknown escape `\\q`", None),
            ("len(1, 2)", 0, 9, "`len()` takes 1 argument, found 2", None),
            ("all(x)", 0, 6, "`all()` takes 2 arguments, found 1", None),
            ("len(x,)", 6, 1, "expected an expression, found `)`", None),
            ("lenn(tags)", 0, 4, "unknown function `lenn`", Some("did you mean `len`?")),
            ("start_with(a, b)", 0, 10, "unknown function `start_with`", Some("did you mean `starts_with`?")),
            ("not a", 0, 3, "expected an expression, found `not`", Some("use `!` to negate")),
            ("x.1", 2, 1, "expected a field name after `.`, found `1`", None),
            ("it.name", 0, 2, "`it` is only defined inside the condition of all(), any(), count() or filter()", None),
            (
                "all(it, true)",
                4,
                2,
                "`it` is only defined inside the condition of all(), any(), count() or filter()",
                None,
            ),
            ("len(3)", 4, 1, "len() takes a string, list or object, not a number", None),
            ("name + 1", 0, 8, "`+` needs two numbers, two strings or two lists, not a string and a number", None),
            ("true && name", 8, 4, "`&&` needs booleans, found a string", None),
            (
                "missing || true",
                0,
                7,
                "`||` needs booleans, found null",
                Some("a missing field is null; compare it with `!= null`"),
            ),
            ("!name", 0, 5, "`!` needs a boolean, found a string", None),
            ("-name", 0, 5, "`-` needs a number, found a string", None),
            ("name < 1", 0, 8, "`<` compares two numbers or two strings, not a string and a number", None),
            ("1 in 2", 0, 6, "`in` needs a list, string or object on the right, not a number", None),
            ("1 in name", 0, 9, "`in` looks for a string in a string, not a number", None),
            ("columns[0.5]", 8, 3, "a list index must be a whole number, found `0.5`", None),
            ("columns['a']", 8, 3, "a list index must be a number, found a string", None),
            ("columns[0][0]", 11, 1, "an object key must be a string, found a number", None),
            ("name[0]", 0, 4, "cannot index a string", Some("only lists and objects have elements")),
            ("1[0]", 0, 1, "cannot index a number", None),
            ("name.first", 0, 10, "cannot read field `first` of a string", None),
            ("(1 / (2 - 2))", 0, 13, "division by zero", None),
            ("5 % 0", 0, 5, "division by zero", None),
            ("all(name, true)", 4, 4, "all() takes a list, not a string", None),
            ("any(columns, it.name)", 13, 7, "the condition of any() must be a boolean, found a string", None),
            ("starts_with(name, 1)", 18, 1, "starts_with() takes strings, not a number", None),
            ("contains(1, 1)", 9, 1, "contains() takes a string or a list, not a number", None),
            ("contains(name, 1)", 15, 1, "contains() looks for a string in a string, not a number", None),
            ("keys(columns)", 5, 7, "keys() takes an object, not a list", None),
            ("upper(null)", 6, 4, "upper() takes a string, not null", None),
        ];
        for &(src, offset, len, message, help) in cases {
            let err = eval(src, &ctx).expect_err(src);
            assert_eq!((err.offset, err.len, err.message.as_str()), (offset, len, message), "{src}");
            if help.is_some() {
                assert_eq!(err.help.as_deref(), help, "{src}");
            }
        }
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(
            eval(&huge, &ctx).map_err(|e| (e.offset, e.len, e.message)),
            Err((0, 401, "the number is too large".into()))
        );
        let err = eval("1 + 2 * 3", &ctx).err();
        assert_eq!(err, None);
        let big = format!("1{}", "0".repeat(200));
        let overflow = eval(&format!("{big} * {big}"), &ctx).expect_err("overflow");
        assert_eq!(overflow.message, "the result is too large for a number");
    }

    #[test]
    fn conditions_must_be_booleans() {
        let expr = parse("  len(name)  ").expect("parses");
        let err = expr.eval_bool(&json!({"name": "abc"})).expect_err("a number is no condition");
        assert_eq!((err.offset, err.len), (2, 9));
        assert_eq!(err.message, "a condition must be a boolean, found a number");
        assert_eq!(parse("(true)").and_then(|e| e.eval_bool(&json!({}))), Ok(true));
        let err = parse("( 1 )").and_then(|e| e.eval_bool(&json!({}))).expect_err("a number");
        assert_eq!((err.offset, err.len), (0, 5), "parentheses are part of the span");
    }

    #[test]
    fn quantifiers_bind_it() {
        let ctx = json!({"columns": [{"name": "a", "tests": ["x", "y"]}, {"name": "b", "tests": ["y"]}], "it": 5});
        for (src, want) in [
            ("filter(columns, any(it.tests, it == 'x'))[0].name", json!("a")),
            ("count(columns, all(it.tests, it == 'y'))", json!(1)),
            ("filter(columns, contains(it.tests, 'y'))", ctx["columns"].clone()),
            ("filter([1, 2, 3, 4], it % 2 == 0)", json!([2, 4])),
            ("all(columns, count(it.tests, true) >= 1) && count([[1], [2, 3]], len(it) == 2) == 1", json!(true)),
            ("any([], true)", json!(false)),
            ("count([], true)", json!(0)),
            ("filter([], true)", json!([])),
            ("keys({})", json!(null)),
        ] {
            if src.contains('{') {
                continue;
            }
            assert_eq!(eval(src, &ctx), Ok(want), "{src}");
        }
    }

    #[test]
    fn functions() {
        let ctx = json!({"meta": {"b": 1, "a": 2, "c": null}, "s": "Straße"});
        for (src, want) in [
            ("keys(meta)", json!(["a", "b", "c"])),
            ("len(meta)", json!(3)),
            ("len(s)", json!(6)),
            ("upper(s)", json!("STRASSE")),
            ("lower('ÀB')", json!("àb")),
            ("matches('gold_orders', 'gold_*')", json!(true)),
            ("matches('gold/orders', 'gold*')", json!(false)),
            ("matches('ab', 'a?')", json!(true)),
            ("starts_with('', '')", json!(true)),
            ("ends_with('abc', 'bc')", json!(true)),
            ("contains([1, [2]], [2.0])", json!(true)),
            ("contains('abc', '')", json!(true)),
            ("[1, 2] + [] == [1, 2]", json!(true)),
            ("meta == meta && meta != null && 'c' in meta", json!(true)),
            ("null == false", json!(false)),
            ("'b' > 'a' && 'B' < 'a'", json!(true)),
        ] {
            assert_eq!(eval(src, &ctx), Ok(want), "{src}");
        }
    }

    #[test]
    fn nesting_is_bounded_without_deep_recursion() {
        let nested =
            |open: &str, inner: &str, close: &str, n: usize| format!("{}{inner}{}", open.repeat(n), close.repeat(n));
        for deepest in [
            nested("(", "1", ")", MAX_DEPTH),
            nested("[", "1", "]", MAX_DEPTH),
            nested("!", "true", "", MAX_DEPTH),
            nested("len([", "", "])", MAX_DEPTH / 2),
            format!("a{}", ".b".repeat(MAX_DEPTH)),
        ] {
            let expr = parse(&deepest).unwrap_or_else(|e| panic!("{deepest}: {e:?}"));
            assert!(expr.eval(&json!({})).is_ok() || deepest.starts_with('a'));
            assert_eq!(parse(&expr.to_string()), Ok(expr));
        }
        for (src, offset) in [
            (nested("(", "1", ")", MAX_DEPTH + 1), MAX_DEPTH),
            (nested("[", "1", "]", MAX_DEPTH + 1), MAX_DEPTH),
            (nested("!", "true", "", MAX_DEPTH + 1), MAX_DEPTH),
            (nested("-", "1", "", 4000), MAX_DEPTH),
            (nested("(", "", "", 4000), MAX_DEPTH),
            (nested("len(", "", "", 1000), 4 * MAX_DEPTH + 3),
            (nested("a[", "", "", 2000), 2 * MAX_DEPTH + 1),
            (format!("a{}", ".b".repeat(MAX_DEPTH + 1)), 0),
            (format!("a{}", "[0]".repeat(MAX_DEPTH + 1)), 0),
            (format!("1{}", " + 1".repeat(MAX_DEPTH + 1)), 0),
        ] {
            let err = parse(&src).expect_err("too deep");
            assert_eq!(err.message, "the expression nests more than 64 levels deep", "{src}");
            assert_eq!(err.offset, offset, "{src}");
        }
        assert!(parse(&format!("1{}", " + 1".repeat(MAX_DEPTH))).is_ok());
        let err = parse(&"(".repeat(10_000)).expect_err("too long");
        assert_eq!((err.offset, err.len), (0, 10_000));
        assert_eq!(err.message, "the expression is 10000 bytes; at most 4096 are allowed");
    }

    #[test]
    fn evaluation_is_bounded() {
        let ctx = json!({
            "xs": (0..1000).collect::<Vec<_>>(),
            "long": (0..40_000).collect::<Vec<_>>(),
            "s": "x".repeat(600_000),
        });
        assert_eq!(eval("count(xs, it < 10)", &ctx), Ok(json!(10)));
        for (src, message) in [
            ("all(xs, all(xs, true))", "evaluation takes more than 100000 steps"),
            ("count(xs, count(xs, count(xs, true) > 0) > 0)", "evaluation takes more than 100000 steps"),
            ("any(xs, any(xs, matches(s, '*x*x*x*y')))", "evaluation takes more than 100000 steps"),
            ("all(xs, long == long)", "evaluation takes more than 100000 steps"),
            ("s + s", "the string would be larger than 1048576 bytes (1 MiB)"),
            ("long + long", "the list would have more than 65536 elements (1 MiB)"),
            ("[long, long]", "the result is larger than 1048576 bytes (1 MiB)"),
            ("[s, s]", "the result is larger than 1048576 bytes (1 MiB)"),
        ] {
            // Not `expect_err`: the values are too large to print.
            assert_eq!(eval(src, &ctx).err().map(|e| e.message), Some(message.to_owned()), "{src}");
        }
        assert_eq!(eval("len(s + 'y')", &ctx), Ok(json!(600_001)));
        assert_eq!(eval("len(long + xs)", &ctx), Ok(json!(41_000)));
        assert_eq!(eval("len(filter(long, true))", &ctx), Ok(json!(40_000)));
    }

    // -----------------------------------------------------------------------
    // Properties

    fn config() -> ProptestConfig {
        ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// Words the generators avoid as context names.
    const KEYWORDS: [&str; 6] = ["null", "true", "false", "in", "not", "it"];

    /// Fragments of the language, valid and not, for sources that get past the lexer.
    const TOKENS: &[&str] = &[
        "(", ")", "[", "]", ",", ".", "!", "-", "+", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "=",
        "&", "|", " in ", " not ", "null", "true", "false", "it", "len", "all", "count", "filter", "keys", "x", "meta",
        "tags", "0", "12", "2.5", "'s'", "\"t\"", "'", "\"", "\\", " ", "é", "#", "\n",
    ];

    const BINOPS: [BinOp; 15] = [
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::In,
        BinOp::NotIn,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
    ];

    fn node(kind: Kind) -> Node {
        Node::new(kind, Span::default())
    }

    /// An error's range must lie within the source, on character boundaries.
    fn check_span(src: &str, err: &ExprError) -> Result<(), TestCaseError> {
        let end = err.offset + err.len;
        prop_assert!(
            end <= src.len() && src.is_char_boundary(err.offset) && src.is_char_boundary(end),
            "{err:?} in {src:?}"
        );
        Ok(())
    }

    fn check_source(src: &str) -> Result<(), TestCaseError> {
        match parse(src) {
            Err(err) => check_span(src, &err),
            Ok(expr) => {
                prop_assert_eq!(parse(&expr.to_string()), Ok(expr.clone()));
                let ctx = json!({"x": [1, "a", null], "meta": {"k": true}, "tags": ["a"]});
                if let Err(err) = expr.eval(&ctx) {
                    check_span(src, &err)?;
                }
                Ok(())
            }
        }
    }

    /// Expressions over all of the language, `it` only where a quantifier binds it.
    fn tree(names: BoxedStrategy<String>, fields: BoxedStrategy<String>) -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            Just(Kind::Null),
            any::<bool>().prop_map(Kind::Bool),
            (0u32..1000).prop_map(|n| Kind::Num(f64::from(n))),
            (0.0f64..1e9).prop_map(Kind::Num),
            vec(any::<char>(), 0..6).prop_map(|c| Kind::Str(c.into_iter().collect())),
            names.prop_map(Kind::Name),
            Just(Kind::It),
        ]
        .prop_map(node);
        leaf.prop_recursive(5, 48, 4, move |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Kind::List),
                (inner.clone(), fields.clone()).prop_map(|(base, field)| Kind::Field(Box::new(base), field)),
                (inner.clone(), inner.clone()).prop_map(|(base, index)| Kind::Index(Box::new(base), Box::new(index))),
                (select(vec![UnOp::Not, UnOp::Neg]), inner.clone()).prop_map(|(op, x)| Kind::Unary(op, Box::new(x))),
                (select(BINOPS.to_vec()), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Kind::Binary(
                    op,
                    Box::new(l),
                    Box::new(r)
                )),
                select(FUNCS.to_vec())
                    .prop_flat_map(move |f| vec(inner.clone(), f.arity()).prop_map(move |args| Kind::Call(f, args))),
            ]
            .prop_map(node)
        })
        .prop_map(|n| bind_it(n, false))
    }

    /// `node` with every `it` outside a quantifier's condition replaced by a name.
    fn bind_it(n: Node, bound: bool) -> Node {
        let rec = |n: Box<Node>| Box::new(bind_it(*n, bound));
        node(match n.kind {
            Kind::It if !bound => Kind::Name("x".to_owned()),
            Kind::List(items) => Kind::List(items.into_iter().map(|n| bind_it(n, bound)).collect()),
            Kind::Field(base, field) => Kind::Field(rec(base), field),
            Kind::Index(base, index) => Kind::Index(rec(base), rec(index)),
            Kind::Unary(op, x) => Kind::Unary(op, rec(x)),
            Kind::Binary(op, l, r) => Kind::Binary(op, rec(l), rec(r)),
            Kind::Call(f, args) => Kind::Call(
                f,
                args.into_iter().enumerate().map(|(i, n)| bind_it(n, bound || (f.is_quantifier() && i == 1))).collect(),
            ),
            other => other,
        })
    }

    fn any_name() -> BoxedStrategy<String> {
        "[a-zA-Z_][a-zA-Z0-9_]{0,5}".prop_filter("a keyword", |s| !KEYWORDS.contains(&s.as_str())).boxed()
    }

    /// Integer arithmetic and logic, with type errors and divisions by zero.
    fn arithmetic() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![(0u8..20).prop_map(|n| Kind::Num(f64::from(n))), any::<bool>().prop_map(Kind::Bool)];
        let ops = vec![
            BinOp::Or,
            BinOp::And,
            BinOp::Eq,
            BinOp::Ne,
            BinOp::Lt,
            BinOp::Le,
            BinOp::Gt,
            BinOp::Ge,
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::Div,
            BinOp::Rem,
        ];
        leaf.prop_map(node).prop_recursive(6, 64, 2, move |inner| {
            prop_oneof![
                (select(vec![UnOp::Not, UnOp::Neg]), inner.clone())
                    .prop_map(|(op, x)| node(Kind::Unary(op, Box::new(x)))),
                (select(ops.clone()), inner.clone(), inner).prop_map(|(op, l, r)| node(Kind::Binary(
                    op,
                    Box::new(l),
                    Box::new(r)
                ))),
            ]
        })
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Exact {
        Int(i128),
        Bool(bool),
    }

    /// What an arithmetic expression means, in exact integers: `Some(Err(()))`
    /// for an error, `None` where f64 and integers may differ (a fraction, or
    /// a magnitude past 2^53).
    fn reference(n: &Node) -> Option<Result<Exact, ()>> {
        let value = match &n.kind {
            Kind::Num(x) => Exact::Int(*x as i128),
            Kind::Bool(b) => Exact::Bool(*b),
            Kind::Unary(op, x) => match (op, reference(x)?) {
                (UnOp::Not, Ok(Exact::Bool(b))) => Exact::Bool(!b),
                (UnOp::Neg, Ok(Exact::Int(i))) => Exact::Int(-i),
                _ => return Some(Err(())),
            },
            Kind::Binary(op @ (BinOp::And | BinOp::Or), l, r) => {
                let Ok(Exact::Bool(x)) = reference(l)? else { return Some(Err(())) };
                if x == (*op == BinOp::Or) {
                    Exact::Bool(x)
                } else {
                    let Ok(Exact::Bool(y)) = reference(r)? else { return Some(Err(())) };
                    Exact::Bool(y)
                }
            }
            Kind::Binary(op, l, r) => {
                let Ok(x) = reference(l)? else { return Some(Err(())) };
                let Ok(y) = reference(r)? else { return Some(Err(())) };
                match (op, x, y) {
                    (BinOp::Eq, x, y) => Exact::Bool(x == y),
                    (BinOp::Ne, x, y) => Exact::Bool(x != y),
                    (op, Exact::Int(x), Exact::Int(y)) => match op {
                        BinOp::Lt => Exact::Bool(x < y),
                        BinOp::Le => Exact::Bool(x <= y),
                        BinOp::Gt => Exact::Bool(x > y),
                        BinOp::Ge => Exact::Bool(x >= y),
                        BinOp::Add => Exact::Int(x + y),
                        BinOp::Sub => Exact::Int(x - y),
                        BinOp::Mul => Exact::Int(x * y),
                        BinOp::Div | BinOp::Rem if y == 0 => return Some(Err(())),
                        BinOp::Div if x % y != 0 => return None,
                        BinOp::Div => Exact::Int(x / y),
                        BinOp::Rem => Exact::Int(x % y),
                        _ => return None,
                    },
                    _ => return Some(Err(())),
                }
            }
            _ => return None,
        };
        match value {
            Exact::Int(i) if i.abs() > 1 << 53 => None,
            value => Some(Ok(value)),
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-c ]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..8).prop_map(Value::Array),
                btree_map("[a-c]", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `tree` inside up to three quantifiers over the 500 elements of `big`, so
    /// that evaluation often runs into the step budget.
    fn quantified(tree: impl Strategy<Value = Node>) -> impl Strategy<Value = Node> {
        let quantifiers = vec![Func::All, Func::Any, Func::Count, Func::Filter];
        (vec(select(quantifiers), 0..4), tree).prop_map(|(quantifiers, root)| {
            quantifiers.into_iter().fold(root, |body, q| {
                let condition = node(Kind::Binary(BinOp::Ne, Box::new(body), Box::new(node(Kind::Null))));
                node(Kind::Call(q, vec![node(Kind::Name("big".to_owned())), condition]))
            })
        })
    }

    fn context() -> impl Strategy<Value = Value> {
        btree_map(select(vec!["a", "b", "c"]).prop_map(str::to_owned), json_value(), 0..4).prop_map(|mut m| {
            m.insert("big".to_owned(), json!((0..500).collect::<Vec<_>>()));
            Value::Object(m.into_iter().collect())
        })
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn parse_never_panics(src in any::<String>()) {
            check_source(&src)?;
        }

        #[test]
        fn parse_never_panics_on_token_soup(tokens in vec(select(TOKENS), 0..48)) {
            check_source(&tokens.concat())?;
        }

        #[test]
        fn display_round_trips(root in tree(any_name(), any_name())) {
            let expr = Expr { root };
            let text = expr.to_string();
            prop_assert_eq!(parse(&text), Ok(expr), "{}", text);
        }

        #[test]
        fn arithmetic_agrees_with_exact_integers(root in arithmetic()) {
            let expected = reference(&root);
            prop_assume!(expected.is_some());
            let got = Expr { root }.eval(&json!({}));
            let agrees = match (&got, expected) {
                (Ok(Value::Bool(x)), Some(Ok(Exact::Bool(y)))) => *x == y,
                (Ok(Value::Number(x)), Some(Ok(Exact::Int(y)))) => x.as_f64() == Some(y as f64),
                (Err(_), Some(Err(()))) => true,
                _ => false,
            };
            prop_assert!(agrees, "{:?} but exactly {:?}", got, expected);
        }

        #[test]
        fn evaluation_is_total_and_bounded(
            root in quantified(tree(
                select(vec!["a", "b", "c", "big"]).prop_map(str::to_owned).boxed(),
                select(vec!["a", "b", "c"]).prop_map(str::to_owned).boxed(),
            )),
            ctx in context(),
        ) {
            let mut eval = Eval { ctx: &ctx, steps: 0 };
            let _ = eval.eval(&root, None);
            prop_assert!(eval.steps <= MAX_STEPS);
            let expr = Expr { root };
            let text = expr.to_string();
            let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
            for result in [parsed.eval(&ctx).map(|_| ()), parsed.eval_bool(&ctx).map(|_| ())] {
                if let Err(err) = result {
                    check_span(&text, &err)?;
                }
            }
        }
    }
}
