//! Model naming policy: the medallion or kimball convention, or the
//! platform's own regexes (`governance.naming`).
//!
//! A violation says what was expected and suggests a fix; a suggested rename
//! always passes the check itself, and when no mechanical rename exists the
//! suggestion says which characters are allowed instead.
//!
//! Custom patterns run on regex-lite, whose searches take `O(m * n)` time in
//! the worst case (`m` the compiled pattern's size, `n` the name's length): it
//! never backtracks, so no pattern can hang floe. The same manifest is read by
//! engines that do backtrack (Python's `re`, JavaScript), so [`guard`] also
//! rejects the pattern shapes that blow up there: a quantified part repeated
//! inside another unbounded repetition whose boundaries it can blur (`(a+)+`,
//! `(\w+\s?)*`), and repeated alternatives that start alike (`(a|ab)+`). The
//! check works on the pattern's syntax and is conservative: character classes
//! are compared with their Unicode meanings, as those engines read them. Each
//! rejection shows an equivalent safe rewrite where one is obvious.

use floe_schemas::manifest::{NamingConfig, NamingPattern, PolicyEnforcementLevel};
use regex_lite::{Regex, RegexBuilder};

/// Medallion layer of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Bronze,
    Silver,
    Gold,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }

    /// What a model of this layer holds, with its article.
    fn role(self) -> &'static str {
        match self {
            Layer::Bronze => "a raw/landing",
            Layer::Silver => "an intermediate/cleaned",
            Layer::Gold => "an aggregated/presentation",
        }
    }
}

/// Name prefixes (before the first `_`) that tell a model's layer: the layers
/// themselves and the common dbt ones.
const PREFIXES: [(&str, Layer); 14] = [
    ("bronze", Layer::Bronze),
    ("silver", Layer::Silver),
    ("gold", Layer::Gold),
    ("stg", Layer::Bronze),
    ("raw", Layer::Bronze),
    ("src", Layer::Bronze),
    ("base", Layer::Bronze),
    ("int", Layer::Silver),
    ("mart", Layer::Gold),
    ("fct", Layer::Gold),
    ("fact", Layer::Gold),
    ("dim", Layer::Gold),
    ("agg", Layer::Gold),
    ("rpt", Layer::Gold),
];

/// Layer from a model name's prefix (`stg_orders` is bronze), ignoring ASCII case.
pub fn layer_of_prefix(model: &str) -> Option<Layer> {
    let (head, _) = model.split_once('_')?;
    PREFIXES.iter().find(|(p, _)| head.eq_ignore_ascii_case(p)).map(|&(_, layer)| layer)
}

/// A transform's `tier`: `bronze`, `silver` or `gold`.
pub fn parse_layer(s: &str) -> Option<Layer> {
    match s {
        "bronze" => Some(Layer::Bronze),
        "silver" => Some(Layer::Silver),
        "gold" => Some(Layer::Gold),
        _ => None,
    }
}

const MEDALLION: [&str; 3] = ["bronze", "silver", "gold"];
const KIMBALL: [&str; 3] = ["dim", "fact", "bridge"];
const MEDALLION_REGEX: &str = "^(bronze|silver|gold)_[a-z][a-z0-9_]*$";
const KIMBALL_REGEX: &str = "^(dim|fact|bridge)_[a-z][a-z0-9_]*$";
/// What may follow a convention's prefix, for suggestions that cannot rename.
const ALLOWED: &str = "a lowercase letter, then only lowercase letters, digits and underscores";

/// `^(head|..)_[a-z][a-z0-9_]*$` for the given heads, without a regex.
fn conventional(name: &str, heads: &[&str]) -> bool {
    let Some((head, rest)) = name.split_once('_') else { return false };
    let mut chars = rest.chars();
    heads.contains(&head)
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A model name that breaks the naming policy, in the report's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingViolation {
    pub message: String,
    pub expected: String,
    pub actual: String,
    pub suggestion: String,
    pub documentation_url: String,
}

/// A custom pattern floe refuses (a naming or secret-scanning one), or a
/// custom naming policy without patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// Index into `custom_patterns`.
    pub index: usize,
    pub message: String,
    pub help: String,
}

/// Why [`guard`] refused a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardError {
    pub message: String,
    pub help: String,
}

/// A compiled naming policy.
#[derive(Clone, Debug)]
pub struct Naming {
    enforcement: PolicyEnforcementLevel,
    rule: Rule,
}

#[derive(Clone, Debug)]
enum Rule {
    Medallion,
    Kimball,
    Custom(Vec<(String, Regex)>),
}

impl Naming {
    /// Compiles the policy, reporting every bad custom pattern at once.
    pub fn new(config: &NamingConfig) -> Result<Naming, Vec<PatternError>> {
        let rule = match config.pattern {
            NamingPattern::Medallion => Rule::Medallion,
            NamingPattern::Kimball => Rule::Kimball,
            NamingPattern::Custom => {
                let patterns = config.custom_patterns.as_deref().unwrap_or_default();
                if patterns.is_empty() {
                    return Err(vec![PatternError {
                        index: 0,
                        message: "naming pattern `custom` needs at least one regex in `custom_patterns`".into(),
                        help: "add patterns such as `^(stg|int|mart)_[a-z0-9_]+$`, or use `pattern: medallion` \
                               or `pattern: kimball`"
                            .into(),
                    }]);
                }
                let mut compiled = Vec::new();
                let mut errors = Vec::new();
                for (index, pattern) in patterns.iter().enumerate() {
                    match guard(pattern) {
                        Ok(regex) => compiled.push((pattern.clone(), regex)),
                        Err(e) => errors.push(PatternError { index, message: e.message, help: e.help }),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                Rule::Custom(compiled)
            }
        };
        Ok(Naming { enforcement: config.enforcement, rule })
    }

    /// How strictly violations count; `off` makes [`Naming::check`] pass everything.
    pub fn enforcement(&self) -> PolicyEnforcementLevel {
        self.enforcement
    }

    /// The violation of one model name, if any.
    pub fn check(&self, model: &str) -> Option<NamingViolation> {
        if self.enforcement == PolicyEnforcementLevel::Off {
            return None;
        }
        let (convention, expected, suggestion) = match &self.rule {
            Rule::Medallion if conventional(model, &MEDALLION) => return None,
            Rule::Medallion => {
                ("medallion", format!("{MEDALLION_REGEX} (medallion architecture)"), medallion_suggestion(model))
            }
            Rule::Kimball if conventional(model, &KIMBALL) => return None,
            Rule::Kimball => {
                ("kimball", format!("{KIMBALL_REGEX} (kimball dimensional modelling)"), kimball_suggestion(model))
            }
            Rule::Custom(patterns) => {
                if patterns.iter().any(|(_, re)| re.is_match(model)) {
                    return None;
                }
                let suggestion = match patterns.as_slice() {
                    [(only, _)] => format!("rename the model so its name matches `{only}`"),
                    _ => "rename the model so its name matches one of the `custom_patterns`".to_owned(),
                };
                let expected = patterns.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(" or ");
                ("custom", expected, suggestion)
            }
        };
        Some(NamingViolation {
            message: format!("model name `{model}` does not match the {convention} naming convention"),
            expected,
            actual: model.to_owned(),
            suggestion,
            documentation_url: format!("https://floe.dev/docs/naming#{convention}"),
        })
    }
}

/// Splits at the first `_`, lowercasing (ASCII) both halves.
fn split_lower(name: &str) -> Option<(String, String)> {
    let (head, rest) = name.split_once('_')?;
    Some((head.to_ascii_lowercase(), rest.to_ascii_lowercase()))
}

/// For a name whose head is already the convention's: lowercase it if that helps.
fn respell(name: &str, head: &str, heads: &[&str]) -> String {
    let lower = name.to_ascii_lowercase();
    if lower != name && conventional(&lower, heads) {
        format!("rename it `{lower}`: model names are lowercase")
    } else {
        format!("after the `{head}_` prefix a model name needs {ALLOWED}")
    }
}

fn medallion_suggestion(name: &str) -> String {
    if let Some((head, rest)) = split_lower(name) {
        if MEDALLION.contains(&head.as_str()) {
            return respell(name, &head, &MEDALLION);
        }
        if let Some(layer) = layer_of_prefix(name) {
            // Quote the prefix as written; lowercasing ASCII keeps its length.
            let written = name.get(..head.len()).unwrap_or(&head);
            let why = format!("the `{written}_` prefix says this is {} layer model", layer.role());
            let renamed = format!("{}_{rest}", layer.as_str());
            return if conventional(&renamed, &MEDALLION) {
                format!("rename it `{renamed}`: {why}")
            } else {
                format!("{why}: name it `{}_` followed by {ALLOWED}", layer.as_str())
            };
        }
    }
    let lower = name.to_ascii_lowercase();
    if conventional(&format!("bronze_{lower}"), &MEDALLION) {
        format!("prefix the name with its layer: `bronze_{lower}`, `silver_{lower}` or `gold_{lower}`")
    } else {
        format!("prefix the name with its layer (`bronze_`, `silver_` or `gold_`), followed by {ALLOWED}")
    }
}

fn kimball_suggestion(name: &str) -> String {
    const ROLES: &str = "use `dim_` for dimension tables, `fact_` for fact tables and `bridge_` for bridge tables";
    let mut entity = name.to_ascii_lowercase();
    if let Some((head, rest)) = split_lower(name) {
        if KIMBALL.contains(&head.as_str()) {
            return respell(name, &head, &KIMBALL);
        }
        if head == "fct" {
            let renamed = format!("fact_{rest}");
            return if conventional(&renamed, &KIMBALL) {
                format!("rename it `{renamed}`: Kimball naming spells the `fct_` prefix `fact_`")
            } else {
                format!("Kimball naming spells the `fct_` prefix `fact_`, followed by {ALLOWED}")
            };
        }
        // A staging or mart prefix says nothing about the dimensional role.
        if layer_of_prefix(name).is_some() {
            entity = rest;
        }
    }
    if conventional(&format!("dim_{entity}"), &KIMBALL) {
        format!("{ROLES}, e.g. `dim_{entity}` or `fact_{entity}`")
    } else {
        format!("{ROLES}, followed by {ALLOWED}")
    }
}

/// Longest custom pattern, in characters.
const MAX_PATTERN_CHARS: usize = 512;
/// Compiled-size cap: `a{1000}{1000}` is short to write but compiles huge, and
/// search time grows with the compiled size.
const SIZE_LIMIT: usize = 1 << 20;
/// A counted repetition allowing more iterations than this is treated as unbounded.
const LOOP_BOUND: u32 = 10;

/// Compiles a platform's pattern, refusing over-long ones, ones regex-lite
/// cannot compile, and ones that would backtrack catastrophically elsewhere.
pub fn guard(pattern: &str) -> Result<Regex, GuardError> {
    let len = pattern.chars().count();
    if len > MAX_PATTERN_CHARS {
        return Err(GuardError {
            message: format!("pattern is {len} characters long, over the limit of {MAX_PATTERN_CHARS}"),
            help: "split it into several `custom_patterns`: a name passes when it matches any of them".into(),
        });
    }
    let regex = compile(pattern).map_err(|e| GuardError {
        message: format!("not a valid pattern: {e}"),
        help: "patterns use regex-lite syntax (Rust's `regex` without Unicode classes): look-around, \
               backreferences and `\\p{..}` are not available"
            .into(),
    })?;
    match analyze(pattern) {
        None => Ok(regex),
        Some(e) => Err(e),
    }
}

fn compile(pattern: &str) -> Result<Regex, regex_lite::Error> {
    RegexBuilder::new(pattern).size_limit(SIZE_LIMIT).build()
}

/// The first catastrophic shape in a pattern, reported with a rewrite if one is obvious.
fn analyze(pattern: &str) -> Option<GuardError> {
    let parsed = Parser::new(pattern).parse();
    let finding = check(&parsed.root, &Set::default(), None)?;
    // Textual rewrites could move text across flag scopes or verbose-mode whitespace.
    let rewrite = if parsed.flags { None } else { safe_rewrite(pattern, &finding) };
    let outer = text(pattern, finding.outer.span);
    let inner = text(pattern, finding.inner.span);
    const ENGINES: &str = "a backtracking engine (Python's `re`, JavaScript)";
    let (message, fallback) = match finding.other {
        None => (
            format!(
                "nested quantifier: `{inner}` repeats inside `{outer}` and can also match what follows it, \
                 so {ENGINES} may try exponentially many ways to split a name"
            ),
            format!(
                "end each repetition of `{outer}` with a required character that `{inner}` cannot match \
                 (a separator such as `_`), or drop the outer quantifier"
            ),
        ),
        Some(other) => (
            format!(
                "overlapping alternatives: `{inner}` and `{}` in the repeated `{outer}` can start with the same \
                 character, so {ENGINES} may try exponentially many combinations",
                text(pattern, other.span)
            ),
            "give the alternatives different first characters, e.g. by factoring out what they share".to_owned(),
        ),
    };
    let help = match rewrite {
        Some(r) => format!("write `{r}` instead: it matches the same names"),
        None => fallback,
    };
    Some(GuardError { message, help })
}

/// `src[span]`, or nothing for a span that is not one.
fn text(src: &str, (start, end): (usize, usize)) -> &str {
    src.get(start..end).unwrap_or("")
}

// ---- character sets -------------------------------------------------------

const MAX_CHAR: u32 = 0x10_FFFF;

/// Sorted, disjoint, non-adjacent ranges of code points.
#[derive(Clone, Debug, Default, PartialEq)]
struct Set(Vec<(u32, u32)>);

impl Set {
    fn of(ranges: impl IntoIterator<Item = (u32, u32)>) -> Set {
        let mut all: Vec<(u32, u32)> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        Set(out)
    }

    fn chars(a: char, b: char) -> Set {
        Set::of([(a as u32, b as u32)])
    }

    fn any() -> Set {
        Set(vec![(0, MAX_CHAR)])
    }

    fn union(&self, other: &Set) -> Set {
        Set::of(self.0.iter().chain(&other.0).copied())
    }

    fn complement(&self) -> Set {
        let mut out = Vec::new();
        let mut next = 0u32;
        for &(a, b) in &self.0 {
            if a > next {
                out.push((next, a - 1));
            }
            next = b.saturating_add(1);
        }
        if next <= MAX_CHAR {
            out.push((next, MAX_CHAR));
        }
        Set(out)
    }

    fn overlaps(&self, other: &Set) -> bool {
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), other.0.get(j)) {
            if a0 <= b1 && b0 <= a1 {
                return true;
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    /// Adds the other ASCII case of every ASCII letter, as `(?i)` does.
    fn fold_case(&self) -> Set {
        let mut extra = Vec::new();
        for &(a, b) in &self.0 {
            for (lo, hi, shift) in [(0x41u32, 0x5Au32, 0x20i64), (0x61, 0x7A, -0x20)] {
                let (s, e) = (a.max(lo), b.min(hi));
                if s <= e {
                    let moved = |c: u32| u32::try_from(i64::from(c) + shift).unwrap_or(c);
                    extra.push((moved(s), moved(e)));
                }
            }
        }
        self.union(&Set(extra))
    }
}

/// Non-ASCII white space, as Unicode-aware engines read `\s`.
const UNICODE_SPACE: [(u32, u32); 8] = [
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

fn space() -> Set {
    Set::of([(0x09, 0x0D), (0x20, 0x20)].into_iter().chain(UNICODE_SPACE))
}

/// Every non-ASCII character but white space. Python and JavaScript give `\w`
/// and `\d` Unicode meanings; counting all of these in keeps overlap checks safe.
fn non_ascii() -> Set {
    Set::of([(0, 0x7F)]).union(&space()).complement()
}

fn word() -> Set {
    Set::of([(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)]).union(&non_ascii())
}

fn digit() -> Set {
    Set::chars('0', '9').union(&non_ascii())
}

fn posix(name: &str) -> Set {
    let ranges: &[(char, char)] = match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7F')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1F'), ('\x7F', '\x7F')],
        "digit" => &[('0', '9')],
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => &[('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')],
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return Set::any(),
    };
    Set::of(ranges.iter().map(|&(a, b)| (a as u32, b as u32)))
}

// ---- syntax ---------------------------------------------------------------

/// A pattern's structure, as far as backtracking cares. Spans are byte ranges.
#[derive(Debug)]
struct Node {
    kind: Kind,
    span: (usize, usize),
}

#[derive(Debug)]
enum Kind {
    /// Assertions (`^`, `\b`) and flag directives: they match no character.
    Empty,
    /// One character from the set.
    Set(Set),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// A group; one that sets flags (`(?i:..)`) must not be unwrapped by a rewrite.
    Group {
        inner: Box<Node>,
        flagged: bool,
    },
    Repeat {
        sub: Box<Node>,
        min: u32,
        max: Option<u32>,
        quant: (usize, usize),
    },
}

struct Parsed {
    root: Node,
    /// Whether any flag (`(?i)`, `(?x:..)`) appears.
    flags: bool,
}

/// Escape sequences, inside or outside a class.
enum Escape {
    Char(char),
    Set(Set),
    Assertion,
}

/// A forgiving recursive-descent reader of regex syntax: it never fails, and
/// reads anything it does not know as literal characters.
struct Parser<'p> {
    src: &'p str,
    chars: Vec<(usize, char)>,
    pos: usize,
    fold: bool,
    verbose: bool,
    flags: bool,
}

impl<'p> Parser<'p> {
    fn new(src: &'p str) -> Parser<'p> {
        Parser { src, chars: src.char_indices().collect(), pos: 0, fold: false, verbose: false, flags: false }
    }

    fn parse(mut self) -> Parsed {
        let mut parts = vec![self.alternation()];
        // A stray `)` ends the top level early; read on past it.
        while self.bump().is_some() {
            parts.push(self.alternation());
        }
        let root = if parts.len() == 1 {
            parts.pop().unwrap_or(Node { kind: Kind::Empty, span: (0, 0) })
        } else {
            Node { kind: Kind::Concat(parts), span: (0, self.src.len()) }
        };
        Parsed { root, flags: self.flags }
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).map(|&(_, c)| c)
    }

    fn byte(&self) -> usize {
        self.chars.get(self.pos).map_or(self.src.len(), |&(b, _)| b)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// In verbose mode (`(?x)`), white space and `#` comments are not part of the pattern.
    fn skip_space(&mut self) {
        while self.verbose {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.pos += 1,
                Some('#') => while self.bump().is_some_and(|c| c != '\n') {},
                _ => break,
            }
        }
    }

    fn alternation(&mut self) -> Node {
        let start = self.byte();
        let mut alts = vec![self.concat()];
        while self.eat('|') {
            alts.push(self.concat());
        }
        match alts.len() {
            1 => alts.pop().unwrap_or(Node { kind: Kind::Empty, span: (start, start) }),
            _ => Node { kind: Kind::Alt(alts), span: (start, self.byte()) },
        }
    }

    fn concat(&mut self) -> Node {
        let start = self.byte();
        let mut items: Vec<Node> = Vec::new();
        loop {
            self.skip_space();
            let at = self.byte();
            let Some(c) = self.peek() else { break };
            let kind = match c {
                '|' | ')' => break,
                '*' | '+' | '?' | '{' if !items.is_empty() => {
                    if let Some((min, max)) = self.quantifier() {
                        if let Some(sub) = items.pop() {
                            let span = (sub.span.0, self.byte());
                            items.push(Node {
                                kind: Kind::Repeat { sub: Box::new(sub), min, max, quant: (at, span.1) },
                                span,
                            });
                        }
                        continue;
                    }
                    self.pos += 1;
                    self.literal(c)
                }
                '(' => {
                    items.push(self.group());
                    continue;
                }
                '[' => self.class(),
                '\\' => match self.escape() {
                    Escape::Char(c) => self.literal(c),
                    Escape::Set(set) => Kind::Set(set),
                    Escape::Assertion => Kind::Empty,
                },
                '.' => {
                    self.pos += 1;
                    Kind::Set(Set::any())
                }
                '^' | '$' => {
                    self.pos += 1;
                    Kind::Empty
                }
                _ => {
                    self.pos += 1;
                    self.literal(c)
                }
            };
            items.push(Node { kind, span: (at, self.byte()) });
        }
        Node { kind: Kind::Concat(items), span: (start, self.byte()) }
    }

    fn literal(&self, c: char) -> Kind {
        let set = Set::chars(c, c);
        Kind::Set(if self.fold { set.fold_case() } else { set })
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (`{,m}` too), each maybe lazy.
    /// Leaves the position alone when there is none.
    fn quantifier(&mut self) -> Option<(u32, Option<u32>)> {
        let save = self.pos;
        let bounds = match self.bump() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.braces() {
                Some(bounds) => bounds,
                None => {
                    self.pos = save;
                    return None;
                }
            },
            _ => {
                self.pos = save;
                return None;
            }
        };
        self.skip_space();
        self.eat('?');
        Some(bounds)
    }

    fn braces(&mut self) -> Option<(u32, Option<u32>)> {
        self.blank();
        let min = self.number();
        self.blank();
        let bounds = if self.eat(',') {
            self.blank();
            let max = self.number();
            self.blank();
            (min.unwrap_or(0), max)
        } else {
            let n = min?;
            (n, Some(n))
        };
        self.eat('}').then_some(bounds)
    }

    fn blank(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn number(&mut self) -> Option<u32> {
        let mut n: Option<u32> = None;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d));
            self.pos += 1;
        }
        n
    }

    fn group(&mut self) -> Node {
        let start = self.byte();
        self.pos += 1;
        let (fold, verbose) = (self.fold, self.verbose);
        let mut flagged = false;
        if self.eat('?') {
            if self.eat(':') {
            } else if self.peek() == Some('<') || (self.peek() == Some('P') && self.peek_at(1) == Some('<')) {
                while self.bump().is_some_and(|c| c != '>') {}
            } else {
                self.flags = true;
                let mut on = true;
                while let Some(c) = self.peek() {
                    match c {
                        ':' | ')' => break,
                        '-' => on = false,
                        'i' => self.fold = on,
                        'x' => self.verbose = on,
                        _ => {}
                    }
                    self.pos += 1;
                }
                // `(?i)` changes the flags for the rest of the enclosing group.
                if self.eat(')') {
                    return Node { kind: Kind::Empty, span: (start, self.byte()) };
                }
                self.eat(':');
                flagged = true;
            }
        }
        let inner = self.alternation();
        self.eat(')');
        (self.fold, self.verbose) = (fold, verbose);
        Node { kind: Kind::Group { inner: Box::new(inner), flagged }, span: (start, self.byte()) }
    }

    /// `[...]`: a `]` first is literal, `[)]` holds a `)`, `[:alpha:]` is a POSIX class.
    fn class(&mut self) -> Kind {
        self.pos += 1;
        let negate = self.eat('^');
        let mut set = Set::default();
        let mut first = true;
        loop {
            self.skip_space();
            let Some(c) = self.peek() else { break };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            let (lo, lo_char) = self.class_item();
            let range_end = self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']');
            if let (true, Some(a)) = (range_end, lo_char) {
                self.pos += 1;
                match self.class_item() {
                    (_, Some(b)) => set = set.union(&Set::of([(a as u32, b as u32)])),
                    (hi, None) => set = set.union(&lo).union(&hi).union(&Set::chars('-', '-')),
                }
            } else {
                set = set.union(&lo);
            }
        }
        if self.fold {
            set = set.fold_case();
        }
        Kind::Set(if negate { set.complement() } else { set })
    }

    /// One class member, with its character when it is a single one.
    fn class_item(&mut self) -> (Set, Option<char>) {
        match self.peek() {
            Some('[') if self.peek_at(1) == Some(':') => {
                let save = self.pos;
                self.pos += 2;
                let mut name = String::new();
                while let Some(c) = self.peek().filter(char::is_ascii_alphabetic) {
                    name.push(c);
                    self.pos += 1;
                }
                if self.eat(':') && self.eat(']') {
                    return (posix(&name), None);
                }
                self.pos = save + 1;
                (Set::chars('[', '['), Some('['))
            }
            Some('\\') => match self.escape() {
                Escape::Char(c) => (Set::chars(c, c), Some(c)),
                Escape::Set(set) => (set, None),
                // `\b` in a class is a backspace in most engines; any character is safe.
                Escape::Assertion => (Set::any(), None),
            },
            Some(c) => {
                self.pos += 1;
                (Set::chars(c, c), Some(c))
            }
            None => (Set::default(), None),
        }
    }

    fn escape(&mut self) -> Escape {
        self.pos += 1;
        let Some(c) = self.bump() else { return Escape::Char('\\') };
        match c {
            'd' => Escape::Set(digit()),
            'D' => Escape::Set(digit().complement()),
            'w' => Escape::Set(word()),
            'W' => Escape::Set(word().complement()),
            's' => Escape::Set(space()),
            'S' => Escape::Set(space().complement()),
            'n' => Escape::Char('\n'),
            't' => Escape::Char('\t'),
            'r' => Escape::Char('\r'),
            'f' => Escape::Char('\x0C'),
            'v' => Escape::Char('\x0B'),
            'a' => Escape::Char('\x07'),
            'x' | 'u' | 'U' => self.hex(c),
            'b' => {
                // `\b{start}` and friends; `\b{5}` is a repetition.
                if self.peek() == Some('{') && self.peek_at(1).is_some_and(|c| c.is_ascii_alphabetic()) {
                    while self.bump().is_some_and(|c| c != '}') {}
                }
                Escape::Assertion
            }
            'B' | 'A' | 'z' | 'Z' | '<' | '>' => Escape::Assertion,
            'p' | 'P' => {
                if self.eat('{') {
                    while self.bump().is_some_and(|c| c != '}') {}
                } else {
                    self.bump();
                }
                Escape::Set(Set::any())
            }
            // A backreference can match anything.
            '0'..='9' => Escape::Set(Set::any()),
            other => Escape::Char(other),
        }
    }

    /// `\xHH`, `\x{H..}`, `\uHHHH`, `\UHHHHHHHH`; an unreadable one may be any character.
    fn hex(&mut self, kind: char) -> Escape {
        let mut digits = String::new();
        if self.eat('{') {
            while let Some(c) = self.bump() {
                if c == '}' {
                    break;
                }
                digits.push(c);
            }
        } else {
            let len = match kind {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            while digits.len() < len
                && let Some(c) = self.peek().filter(char::is_ascii_hexdigit)
            {
                digits.push(c);
                self.pos += 1;
            }
        }
        match u32::from_str_radix(digits.trim(), 16).ok().and_then(char::from_u32) {
            Some(c) => Escape::Char(c),
            None => Escape::Set(Set::any()),
        }
    }
}

// ---- analysis -------------------------------------------------------------

/// The characters a node can start with, and whether it can match nothing.
struct Info {
    first: Set,
    nullable: bool,
}

fn info(node: &Node) -> Info {
    match &node.kind {
        Kind::Empty => Info { first: Set::default(), nullable: true },
        Kind::Set(set) => Info { first: set.clone(), nullable: false },
        Kind::Group { inner, .. } => info(inner),
        Kind::Concat(items) => {
            let mut first = Set::default();
            for item in items {
                let i = info(item);
                first = first.union(&i.first);
                if !i.nullable {
                    return Info { first, nullable: false };
                }
            }
            Info { first, nullable: true }
        }
        Kind::Alt(alts) => {
            let mut out = Info { first: Set::default(), nullable: false };
            for alt in alts {
                let i = info(alt);
                out.first = out.first.union(&i.first);
                out.nullable |= i.nullable;
            }
            out
        }
        Kind::Repeat { max: Some(0), .. } => Info { first: Set::default(), nullable: true },
        Kind::Repeat { sub, min, .. } => {
            let i = info(sub);
            Info { first: i.first, nullable: *min == 0 || i.nullable }
        }
    }
}

/// A catastrophic shape: `inner` repeats inside the loop `outer` and can also
/// match what follows it (nested quantifiers), or `inner` and `other` are
/// alternatives of `outer` that start alike.
struct Finding<'n> {
    outer: &'n Node,
    inner: &'n Node,
    other: Option<&'n Node>,
}

/// Group and single-item wrappers off, down to the node that matters.
fn strip(node: &Node) -> &Node {
    let mut n = node;
    loop {
        match &n.kind {
            Kind::Group { inner, flagged: false } => n = inner,
            Kind::Concat(items) if items.len() == 1 => n = &items[0],
            _ => return n,
        }
    }
}

/// Walks the tree with the set of characters that may follow each node. Inside
/// a loop, a variable repetition whose characters can also be what follows it
/// gives a backtracking engine a choice at every character: where one
/// repetition ends and the next begins. Those choices multiply across the
/// loop's iterations.
fn check<'n>(node: &'n Node, follow: &Set, inside: Option<&'n Node>) -> Option<Finding<'n>> {
    match &node.kind {
        Kind::Empty | Kind::Set(_) => None,
        Kind::Group { inner, .. } => check(inner, follow, inside),
        Kind::Alt(alts) => alts.iter().find_map(|alt| check(alt, follow, inside)),
        Kind::Concat(items) => {
            let mut follows = vec![Set::default(); items.len()];
            let mut after = follow.clone();
            for (i, item) in items.iter().enumerate().rev() {
                follows[i] = after.clone();
                let it = info(item);
                after = if it.nullable { it.first.union(&after) } else { it.first };
            }
            items.iter().zip(&follows).find_map(|(item, after)| check(item, after, inside))
        }
        Kind::Repeat { sub, min, max, .. } => {
            let first = info(sub).first;
            let variable = max.is_none_or(|m| m > *min);
            if variable
                && let Some(outer) = inside
                && first.overlaps(follow)
            {
                return Some(Finding { outer, inner: node, other: None });
            }
            let loops = max.is_none_or(|m| m > LOOP_BOUND);
            if loops && let Kind::Alt(alts) = &strip(sub).kind {
                for (i, a) in alts.iter().enumerate() {
                    let fa = info(a).first;
                    if let Some(b) = alts[i + 1..].iter().find(|b| fa.overlaps(&info(b).first)) {
                        return Some(Finding { outer: node, inner: a, other: Some(b) });
                    }
                }
            }
            let follow = if max.is_none_or(|m| m > 1) { first.union(follow) } else { follow.clone() };
            check(sub, &follow, if loops { Some(node) } else { inside })
        }
    }
}

/// An equivalent rewrite of the pattern that passes [`guard`], if an obvious one does.
fn safe_rewrite(pattern: &str, finding: &Finding<'_>) -> Option<String> {
    let mut current = rewrite(pattern, finding)?;
    // `((a+)+)+` takes one step per level.
    for _ in 0..8 {
        compile(&current).ok()?;
        let parsed = Parser::new(&current).parse();
        match check(&parsed.root, &Set::default(), None) {
            None => return Some(current),
            Some(next) => current = rewrite(&current, &next)?,
        }
    }
    None
}

/// One step: `(X+)+` → `X+`, `(X*)*`/`(X+)*`/`(X?)*` → `X*`; repeated
/// alternatives get their common prefix factored out (`(a|ab)+` → `(ab?)+`) or,
/// when all are single characters, become one class (`(\w|_)+` → `[\w_]+`).
fn rewrite(src: &str, finding: &Finding<'_>) -> Option<String> {
    let outer = finding.outer;
    let Kind::Repeat { sub, quant, .. } = &outer.kind else { return None };
    let outer_q = text(src, *quant);
    // Laziness (`+?`) changes which match is found, never whether one is.
    let plain = |q: &str| q.strip_suffix('?').filter(|q| !q.is_empty()).unwrap_or(q).to_owned();
    let replacement = match &strip(sub).kind {
        Kind::Repeat { sub: x, quant: inner, .. } => {
            let (oq, iq) = (plain(outer_q), plain(text(src, *inner)));
            if !matches!(oq.as_str(), "*" | "+") || !matches!(iq.as_str(), "*" | "+" | "?") {
                return None;
            }
            let q = if oq == "+" && iq == "+" { "+" } else { "*" };
            format!("{}{q}", text(src, x.span))
        }
        Kind::Alt(alts) => {
            let (body, atom) = factor(src, alts)?;
            if atom { format!("{body}{outer_q}") } else { format!("({body}){outer_q}") }
        }
        _ => return None,
    };
    let (start, end) = outer.span;
    Some(format!("{}{replacement}{}", src.get(..start)?, src.get(end..)?))
}

/// Alternatives with their common prefix factored out, and whether the result is a single atom.
fn factor(src: &str, alts: &[Node]) -> Option<(String, bool)> {
    let items: Vec<&[Node]> = alts
        .iter()
        .map(|a| match &a.kind {
            Kind::Concat(items) => items.as_slice(),
            _ => std::slice::from_ref(a),
        })
        .collect();
    let at = |item: &[Node], k: usize| item.get(k).map(|n| text(src, n.span));
    let shortest = items.iter().map(|i| i.len()).min()?;
    let k = (0..shortest).take_while(|&k| items.iter().all(|&i| at(i, k) == at(items[0], k))).count();
    if k == 0 {
        let mut members: Vec<&str> = Vec::new();
        for item in &items {
            let [one] = item else { return None };
            let t = text(src, one.span);
            if !matches!(one.kind, Kind::Set(_)) || !class_member(t) {
                return None;
            }
            if !members.contains(&t) {
                members.push(t);
            }
        }
        return Some((format!("[{}]", members.concat()), true));
    }
    let prefix = text(src, (items[0].first()?.span.0, items[0].get(k - 1)?.span.1));
    let mut rests: Vec<(&str, bool)> = Vec::new();
    let mut optional = false;
    for item in &items {
        match (item.get(k), item.last()) {
            (Some(from), Some(to)) => {
                let rest = text(src, (from.span.0, to.span.1));
                let atom = item.len() == k + 1 && matches!(from.kind, Kind::Set(_) | Kind::Group { .. });
                if !rests.iter().any(|(r, _)| *r == rest) {
                    rests.push((rest, atom));
                }
            }
            _ => optional = true,
        }
    }
    let tail = match rests.as_slice() {
        [] => String::new(),
        [(rest, _)] if !optional => (*rest).to_owned(),
        [(rest, true)] => format!("{rest}?"),
        _ => {
            let alts: Vec<&str> = rests.iter().map(|(r, _)| *r).collect();
            format!("(?:{}){}", alts.join("|"), if optional { "?" } else { "" })
        }
    };
    let atom = k == 1 && rests.is_empty() && matches!(items[0].first()?.kind, Kind::Set(_));
    Some((format!("{prefix}{tail}"), atom))
}

/// Whether a single-character atom can be copied into a `[...]` as is.
fn class_member(atom: &str) -> bool {
    let mut chars = atom.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(c), None, None) => !matches!(c, '\\' | ']' | '[' | '^' | '-'),
        (Some('\\'), Some(c), None) => c.is_ascii_punctuation() || matches!(c, 'd' | 'D' | 'w' | 'W' | 's' | 'S'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naming(pattern: NamingPattern, custom: Option<&[&str]>) -> Result<Naming, Vec<PatternError>> {
        Naming::new(&NamingConfig {
            enforcement: PolicyEnforcementLevel::Strict,
            pattern,
            custom_patterns: custom.map(|c| c.iter().map(|s| s.to_string()).collect()),
        })
    }

    fn medallion() -> Naming {
        naming(NamingPattern::Medallion, None).unwrap()
    }

    fn kimball() -> Naming {
        naming(NamingPattern::Kimball, None).unwrap()
    }

    #[test]
    fn reference_report() {
        let v = medallion().check("stg_crm_customers").unwrap();
        assert_eq!(v.message, "model name `stg_crm_customers` does not match the medallion naming convention");
        assert_eq!(v.expected, "^(bronze|silver|gold)_[a-z][a-z0-9_]*$ (medallion architecture)");
        assert_eq!(v.actual, "stg_crm_customers");
        assert_eq!(
            v.suggestion,
            "rename it `bronze_crm_customers`: the `stg_` prefix says this is a raw/landing layer model"
        );
        assert_eq!(v.documentation_url, "https://floe.dev/docs/naming#medallion");

        let v = medallion().check("mart_customer_360").unwrap();
        assert_eq!(v.message, "model name `mart_customer_360` does not match the medallion naming convention");
        assert_eq!(v.actual, "mart_customer_360");
        assert_eq!(
            v.suggestion,
            "rename it `gold_customer_360`: the `mart_` prefix says this is an aggregated/presentation layer model"
        );
    }

    #[test]
    fn medallion_suggestions() {
        let cases = [
            ("bronze_orders", None),
            ("gold_customer_360", None),
            (
                "int_orders",
                Some("rename it `silver_orders`: the `int_` prefix says this is an intermediate/cleaned layer model"),
            ),
            ("STG_Orders", Some("rename it `bronze_orders`: the `STG_` prefix says this is a raw/landing layer model")),
            ("Gold_Orders", Some("rename it `gold_orders`: model names are lowercase")),
            (
                "gold_1st",
                Some(
                    "after the `gold_` prefix a model name needs a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
            (
                "stg_crm-customers",
                Some(
                    "the `stg_` prefix says this is a raw/landing layer model: name it `bronze_` followed by a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
            ("orders", Some("prefix the name with its layer: `bronze_orders`, `silver_orders` or `gold_orders`")),
            ("Orders", Some("prefix the name with its layer: `bronze_orders`, `silver_orders` or `gold_orders`")),
            (
                "9lives",
                Some(
                    "prefix the name with its layer (`bronze_`, `silver_` or `gold_`), followed by a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
            (
                "",
                Some(
                    "prefix the name with its layer (`bronze_`, `silver_` or `gold_`), followed by a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(medallion().check(name).map(|v| v.suggestion).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn kimball_names() {
        let cases = [
            ("dim_customer", None),
            ("fact_orders", None),
            ("bridge_customer_account", None),
            ("fct_orders", Some("rename it `fact_orders`: Kimball naming spells the `fct_` prefix `fact_`")),
            ("Dim_Customer", Some("rename it `dim_customer`: model names are lowercase")),
            (
                "fct_",
                Some(
                    "Kimball naming spells the `fct_` prefix `fact_`, followed by a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
            (
                "stg_orders",
                Some(
                    "use `dim_` for dimension tables, `fact_` for fact tables and `bridge_` for bridge tables, e.g. `dim_orders` or `fact_orders`",
                ),
            ),
            (
                "customers",
                Some(
                    "use `dim_` for dimension tables, `fact_` for fact tables and `bridge_` for bridge tables, e.g. `dim_customers` or `fact_customers`",
                ),
            ),
            (
                "my-model",
                Some(
                    "use `dim_` for dimension tables, `fact_` for fact tables and `bridge_` for bridge tables, followed by a lowercase letter, then only lowercase letters, digits and underscores",
                ),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(kimball().check(name).map(|v| v.suggestion).as_deref(), want, "{name}");
        }
        let v = kimball().check("fct_orders").unwrap();
        assert_eq!(v.message, "model name `fct_orders` does not match the kimball naming convention");
        assert_eq!(v.expected, "^(dim|fact|bridge)_[a-z][a-z0-9_]*$ (kimball dimensional modelling)");
        assert_eq!(v.documentation_url, "https://floe.dev/docs/naming#kimball");
    }

    #[test]
    fn custom_names() {
        let rule = naming(NamingPattern::Custom, Some(&[r"^(stg|int|mart)_\w+$", "^seed_"])).unwrap();
        assert_eq!(rule.check("stg_orders"), None);
        assert_eq!(rule.check("seed_countries"), None);
        let v = rule.check("orders").unwrap();
        assert_eq!(v.message, "model name `orders` does not match the custom naming convention");
        assert_eq!(v.expected, r"^(stg|int|mart)_\w+$ or ^seed_");
        assert_eq!(v.actual, "orders");
        assert_eq!(v.suggestion, "rename the model so its name matches one of the `custom_patterns`");
        assert_eq!(v.documentation_url, "https://floe.dev/docs/naming#custom");

        let one = naming(NamingPattern::Custom, Some(&["^x_"])).unwrap();
        assert_eq!(one.check("y").unwrap().suggestion, "rename the model so its name matches `^x_`");
    }

    #[test]
    fn custom_pattern_errors() {
        let errors = naming(NamingPattern::Custom, Some(&["^ok_", "(a+)+", "^fine$", "(unclosed"])).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(errors[0].help, "write `a+` instead: it matches the same names");
        assert!(errors[1].message.starts_with("not a valid pattern: "), "{}", errors[1].message);

        for missing in [None, Some(&[][..])] {
            let errors = naming(NamingPattern::Custom, missing).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].index, 0);
            assert!(errors[0].message.contains("needs at least one regex in `custom_patterns`"));
        }
    }

    #[test]
    fn enforcement_off_passes_everything() {
        let off = Naming::new(&NamingConfig { enforcement: PolicyEnforcementLevel::Off, ..NamingConfig::default() });
        let off = off.unwrap();
        assert_eq!(off.enforcement(), PolicyEnforcementLevel::Off);
        assert_eq!(off.check("stg_orders"), None);
    }

    #[test]
    fn layers() {
        assert_eq!(layer_of_prefix("stg_orders"), Some(Layer::Bronze));
        assert_eq!(layer_of_prefix("int_orders"), Some(Layer::Silver));
        assert_eq!(layer_of_prefix("FCT_orders"), Some(Layer::Gold));
        assert_eq!(layer_of_prefix("stg"), None);
        assert_eq!(layer_of_prefix("stage_orders"), None);
        assert_eq!(layer_of_prefix("orders_stg_x"), None);
        assert_eq!(parse_layer("silver"), Some(Layer::Silver));
        assert_eq!(parse_layer("Silver"), None);
        assert_eq!(Layer::Gold.as_str(), "gold");
        assert!(Layer::Bronze < Layer::Silver && Layer::Silver < Layer::Gold);
    }

    /// `(pattern, Some(help))` is rejected with that help; `(pattern, None)` is accepted.
    const GUARD: &[(&str, Option<&str>)] = &[
        (r"(a+)+", Some("write `a+` instead: it matches the same names")),
        (r"^(a*)*$", Some("write `^a*$` instead: it matches the same names")),
        (r"(a+)*", Some("write `a*` instead: it matches the same names")),
        (r"(.*)*", Some("write `.*` instead: it matches the same names")),
        (r"^(\w+)+$", Some(r"write `^\w+$` instead: it matches the same names")),
        (r"((a+)+)+", Some("write `a+` instead: it matches the same names")),
        (r"a**", Some("write `a*` instead: it matches the same names")),
        (r"(a|a)*", Some("write `a*` instead: it matches the same names")),
        (r"(a|ab)+", Some("write `(ab?)+` instead: it matches the same names")),
        (r"^(stg_|stg_x_)+$", Some("write `^(stg_(?:x_)?)+$` instead: it matches the same names")),
        (r"(\w|_)+", Some(r"write `[\w_]+` instead: it matches the same names")),
        (
            r"(\w+\s?)*",
            Some(
                r"end each repetition of `(\w+\s?)*` with a required character that `\w+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"^([a-z]+_?)+$",
            Some(
                "end each repetition of `([a-z]+_?)+` with a required character that `[a-z]+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(a+a)+",
            Some(
                "end each repetition of `(a+a)+` with a required character that `a+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"^\w+(_\w+)*$",
            Some(
                "end each repetition of `(_\\w+)*` with a required character that `\\w+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(a{1,5})+",
            Some(
                "end each repetition of `(a{1,5})+` with a required character that `a{1,5}` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(\d+|\d+\.)*",
            Some("give the alternatives different first characters, e.g. by factoring out what they share"),
        ),
        (
            r"(?i:a+)+",
            Some(
                "end each repetition of `(?i:a+)+` with a required character that `a+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(?i)(A|a)+",
            Some("give the alternatives different first characters, e.g. by factoring out what they share"),
        ),
        (
            r"(a|b+)+",
            Some(
                "end each repetition of `(a|b+)+` with a required character that `b+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(a+){1,20}",
            Some(
                "end each repetition of `(a+){1,20}` with a required character that `a+` cannot match (a separator such as `_`), or drop the outer quantifier",
            ),
        ),
        (
            r"(",
            Some(
                "patterns use regex-lite syntax (Rust's `regex` without Unicode classes): look-around, backreferences and `\\p{..}` are not available",
            ),
        ),
        (
            r"\p{L}+",
            Some(
                "patterns use regex-lite syntax (Rust's `regex` without Unicode classes): look-around, backreferences and `\\p{..}` are not available",
            ),
        ),
        (
            r"^(?=a)",
            Some(
                "patterns use regex-lite syntax (Rust's `regex` without Unicode classes): look-around, backreferences and `\\p{..}` are not available",
            ),
        ),
        (r"^[a-z]+_[a-z0-9_]+$", None),
        (r"^(stg|int|mart)_\w+$", None),
        (r"a{2,5}", None),
        (r"[(+)]+", None),
        (r"[)]+(a+)", None),
        (r"\(a+\)+", None),
        (r"^([a-z0-9]+_)*[a-z0-9]+$", None),
        (r"^[a-z]+(_[a-z0-9]+)*$", None),
        (r"^(\d{1,3}\.){3}\d{1,3}$", None),
        (r"^(bronze|silver|gold)_[a-z][a-z0-9_]*$", None),
        (r"(ab|cd)*", None),
        (r"^(?i)STG_\w+$", None),
        (r"[\w-]+", None),
        (r"(\w+\s)*", None),
        (r"(?x) ^ stg_ [a-z]+ $  # staging models", None),
        (r"(a?)", None),
    ];

    #[test]
    fn guard_table() {
        for (pattern, want) in GUARD {
            let got = guard(pattern).err();
            assert_eq!(got.as_ref().map(|e| e.help.as_str()), *want, "{pattern}: {got:?}");
        }
        assert!(GUARD.iter().filter(|(_, w)| w.is_some()).count() >= 12);
        assert!(GUARD.iter().filter(|(_, w)| w.is_none()).count() >= 8);
    }

    #[test]
    fn guard_messages() {
        let e = guard(r"(\w+\s?)*").unwrap_err();
        assert_eq!(
            e.message,
            r"nested quantifier: `\w+` repeats inside `(\w+\s?)*` and can also match what follows it, so a backtracking engine (Python's `re`, JavaScript) may try exponentially many ways to split a name"
        );
        let e = guard("(a|ab)+").unwrap_err();
        assert_eq!(
            e.message,
            "overlapping alternatives: `a` and `ab` in the repeated `(a|ab)+` can start with the same character, so a backtracking engine (Python's `re`, JavaScript) may try exponentially many combinations"
        );
        let long = "a".repeat(513);
        assert_eq!(guard(&long).unwrap_err().message, "pattern is 513 characters long, over the limit of 512");
        assert!(guard(&"a".repeat(512)).is_ok());
    }

    /// Every suggested rewrite is accepted and matches the same names on a sample.
    #[test]
    fn rewrites_are_equivalent() {
        let sample =
            ["", "a", "aa", "ab", "abab", "aab", "ba", "_", "a_b", "1.2", "1.", "12.3.4", "stg_", "stg_x_stg_"];
        for (pattern, want) in GUARD {
            let Some(rewrite) = want.and_then(|h| h.strip_prefix("write `")).and_then(|h| h.split_once('`')) else {
                continue;
            };
            let (original, rewritten) = (Regex::new(pattern).unwrap(), guard(rewrite.0).unwrap());
            for name in sample {
                assert_eq!(original.is_match(name), rewritten.is_match(name), "{pattern} vs {} on {name:?}", rewrite.0);
            }
        }
    }

    /// The analysis recurses over the pattern's nesting, which the length limit keeps shallow.
    #[test]
    fn deep_nesting() {
        assert!(analyze(&format!("{}a{}", "(".repeat(512), ")+".repeat(512))).is_some());
        assert!(analyze(&format!("{}a{}", "(".repeat(512), ")".repeat(512))).is_none());
        assert!(guard(&format!("{}a{}", "(?:".repeat(40), ")".repeat(40))).is_ok());
        let too_deep = guard(&format!("{}a{}", "(".repeat(200), ")".repeat(200))).unwrap_err();
        assert_eq!(too_deep.message, "not a valid pattern: pattern has too much nesting");
    }

    const ATOMS: &[&str] = &["a", r"\w", r"\d", r"\s", ".", "[a-z]", "[^_]", "(?:ab)", "[0-9_]", "(a|b)", r"\.", "x?"];

    proptest! {
        #[test]
        fn medallion_names_pass(name in "(bronze|silver|gold)_[a-z][a-z0-9_]{0,20}") {
            prop_assert_eq!(medallion().check(&name), None);
        }

        #[test]
        fn suggested_renames_pass(name in "[a-z][a-z0-9_]{0,20}") {
            if let Some(v) = medallion().check(&name) {
                if let Some((_, rest)) = v.suggestion.split_once("rename it `") {
                    let renamed = rest.split('`').next().unwrap_or_default();
                    prop_assert_eq!(medallion().check(renamed), None, "{} -> {}", name, renamed);
                }
                if let Some((_, rest)) = v.suggestion.split_once("prefix the name with its layer: `") {
                    let renamed = rest.split('`').next().unwrap_or_default();
                    prop_assert_eq!(medallion().check(renamed), None, "{} -> {}", name, renamed);
                }
            }
        }

        #[test]
        fn conventions_agree_with_their_regexes(name in "(bronze|silver|gold|dim|fact|bridge|stg|x)?_?[a-zA-Z0-9_é-]{0,6}") {
            let (m, k) = (Regex::new(MEDALLION_REGEX).unwrap(), Regex::new(KIMBALL_REGEX).unwrap());
            prop_assert_eq!(conventional(&name, &MEDALLION), m.is_match(&name));
            prop_assert_eq!(conventional(&name, &KIMBALL), k.is_match(&name));
        }

        #[test]
        fn never_panics(s in any::<String>(), t in ".*", r in r"[()\[\]|*+?{}.,:^$\\a-z0-9_<>=PpxwdsbBiU -]{0,40}") {
            for p in [&s, &t, &r] {
                let _ = guard(p);
                let _ = analyze(p);
                if let Ok(rule) = naming(NamingPattern::Custom, Some(&[p.as_str()])) {
                    let _ = rule.check(p);
                }
                let _ = medallion().check(p);
                let _ = kimball().check(p);
            }
        }

        #[test]
        fn nested_quantifiers_rejected(
            atom in proptest::sample::select(ATOMS),
            quants in proptest::sample::select(&[("+", "+"), ("*", "*"), ("+", "*")][..]),
            anchored in any::<bool>(),
        ) {
            let core = format!("({atom}{}){}", quants.0, quants.1);
            let pattern = if anchored { format!("^{core}$") } else { core };
            prop_assert!(guard(&pattern).is_err(), "{}", pattern);
        }

        #[test]
        fn prefixes_give_layers(i in 0..PREFIXES.len(), rest in "[a-z0-9_]{0,20}") {
            let (p, layer) = PREFIXES[i];
            prop_assert_eq!(layer_of_prefix(&format!("{p}_{rest}")), Some(layer));
        }
    }
}
