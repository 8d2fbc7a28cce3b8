//! Secret scanning: credentials found by their shape in every file floe reads.
//!
//! `crate::secrets` replaces the values of credential keys in manifests; this
//! module finds secret *values* by pattern anywhere in any input (manifests,
//! `floe.yaml`, `dbt_project.yml`, model SQL and property files, descriptions
//! included), as `governance.secret_scanning` configures it. Built-in patterns
//! cover well-known token formats; the values of credential keys in every
//! shape, and URL user-info, are found by [`floe_schemas::secret::find`], the
//! reading floe's printed source lines are masked by; a platform adds its own
//! patterns.
//!
//! A [`Finding`] locates a secret and names its pattern but never holds it, so
//! no diagnostic built from one can repeat what it reports. [`Scanner::redact`]
//! masks every match whatever the configuration says: it is the last line of
//! defence before floe writes anything.
//!
//! Patterns run on regex-lite, whose matching is linear in the text, so no
//! pattern, built-in or custom, can make a build hang.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use floe_schemas::manifest::{SecretScanningConfig, SecretSeverity};
use floe_schemas::secret::{self, How, MASK};
use regex_lite::{Regex, RegexBuilder};

use crate::glob::path_matches;

/// Scans texts for secrets, and masks them.
#[derive(Clone, Debug)]
pub struct Scanner {
    patterns: Vec<Pattern>,
    enabled: bool,
    exclude: Vec<String>,
}

/// Scanners are equal when they search for the same patterns, in the same
/// files, with the same severities: what a pattern extracts follows from its
/// name and regex.
impl PartialEq for Scanner {
    fn eq(&self, other: &Scanner) -> bool {
        fn key(p: &Pattern) -> (&str, SecretSeverity, &str) {
            let regex = match &p.matcher {
                Matcher::Regex(regex, _) => regex.as_str(),
                Matcher::Shape(_) => "",
            };
            (p.name.as_str(), p.severity, regex)
        }
        self.enabled == other.enabled
            && self.exclude == other.exclude
            && self.patterns.iter().map(key).eq(other.patterns.iter().map(key))
    }
}

/// A custom pattern that cannot be used: the same report as naming's.
pub use crate::naming::PatternError;

/// Where a secret is. Never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The pattern's name: a built-in one (`aws-access-key-id`) or a custom one.
    pub rule: String,
    /// 1-based line of the secret's first character.
    pub line: u32,
    /// 1-based column of the secret's first character, in characters.
    pub column: u32,
    /// Length of the secret in characters; the text around it is not counted.
    pub len: u32,
    /// The secret's bytes in the text: `text[offset..offset + bytes]`.
    pub offset: u32,
    pub bytes: u32,
    pub severity: SecretSeverity,
}

impl Scanner {
    /// The built-in patterns plus the config's custom ones. Without a config
    /// scanning is on and findings are errors. Every bad custom pattern is
    /// reported at once.
    ///
    /// A custom pattern reports its `secret` group if it has one
    /// (`pin=(?P<secret>\d{6})`), else its whole match; `^` and `$` match at
    /// line ends.
    pub fn new(config: Option<&SecretScanningConfig>) -> Result<Scanner, Vec<PatternError>> {
        let severity = config.map_or(SecretSeverity::Error, |c| c.severity);
        let mut patterns: Vec<Pattern> = built_ins().iter().map(|p| Pattern { severity, ..p.clone() }).collect();
        let mut errors = Vec::new();
        let custom = config.and_then(|c| c.custom_patterns.as_deref()).unwrap_or_default();
        for (index, custom) in custom.iter().enumerate() {
            match compile_custom(&custom.name, &custom.pattern) {
                Ok(regex) => patterns.push(Pattern {
                    name: custom.name.clone(),
                    severity: custom.severity,
                    matcher: Matcher::Regex(regex, whole),
                    needles: &[],
                    reach: Reach::Text,
                }),
                Err((message, help)) => errors.push(PatternError { index, message, help }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Scanner {
            patterns,
            enabled: config.is_none_or(|c| c.enabled),
            exclude: config.map(|c| c.exclude_patterns.clone()).unwrap_or_default(),
        })
    }

    /// Whether `path` (workspace-relative) matches an exclude pattern.
    pub fn excluded(&self, path: &str) -> bool {
        self.exclude.iter().any(|pattern| path_matches(pattern, path))
    }

    /// The secrets in `text`, sorted by position; none when scanning is
    /// disabled or `path` is excluded. A secret inside another one (a URL's
    /// password inside a quoted connection string) is reported once, as the
    /// outer one.
    pub fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        if !self.enabled || self.excluded(path) {
            return Vec::new();
        }
        let mut hits = self.hits(text);
        hits.sort_by_key(|h| (h.range.start, std::cmp::Reverse(h.range.end), h.pattern));
        let line_starts = line_starts(text);
        let mut findings = Vec::new();
        let mut covered = 0;
        // Columns are counted on from the previous finding on the same line,
        // so a long line with many findings is read once.
        let (mut at, mut at_line, mut at_column) = (0, 1, 1);
        for hit in hits {
            if hit.range.end <= covered {
                continue;
            }
            covered = hit.range.end;
            let start = hit.range.start;
            let line = line_starts.partition_point(|&s| s <= start);
            let from = if line == at_line { at } else { line_starts.get(line.wrapping_sub(1)).copied().unwrap_or(0) };
            at_column = text[from..start].chars().count() + if line == at_line { at_column } else { 1 };
            (at, at_line) = (start, line);
            let pattern = &self.patterns[hit.pattern];
            findings.push(Finding {
                rule: pattern.name.clone(),
                line: saturate(line),
                column: saturate(at_column),
                len: saturate(text[hit.range.clone()].chars().count()),
                offset: saturate(hit.range.start),
                bytes: saturate(hit.range.len()),
                severity: pattern.severity,
            });
        }
        findings
    }

    /// `text` with every secret masked, whether or not scanning is enabled:
    /// each match of a pattern, and every other occurrence of a matched
    /// secret, becomes [`MASK`]. Text without secrets is returned as is.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let hits = self.hits(text);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut secrets: Vec<&str> = hits.iter().map(|h| &text[h.range.clone()]).collect();
        secrets.sort_unstable();
        secrets.dedup();
        // Every match is an occurrence of its own secret, so this covers them all.
        let mut out = mask(text, occurrences(&secrets, text));
        // Masking removes every occurrence from the text around it, so a secret
        // can only reappear where a mask meets that text, and then only one that
        // contains `*`. Each round masks more; a text that keeps rebuilding a
        // secret around its masks is masked whole.
        let starred: Vec<&str> = secrets.into_iter().filter(|s| s.contains('*')).collect();
        if !starred.is_empty() {
            let mut rounds = 0;
            loop {
                let again = occurrences(&starred, &out);
                if again.is_empty() {
                    break;
                }
                rounds += 1;
                if rounds > MAX_REDACT_ROUNDS {
                    return Cow::Owned(MASK.to_owned());
                }
                out = mask(&out, again);
            }
        }
        Cow::Owned(out)
    }

    /// Every match of every pattern, in no particular order.
    fn hits(&self, text: &str) -> Vec<Hit> {
        let line_starts = line_starts(text);
        // Every built-in's needles in one pass over the text, rather than one
        // pass per needle: most files hold none, and most of a file no needle.
        let needles = needle_finder();
        let mut found: Vec<Vec<usize>> = vec![Vec::new(); built_ins().len()];
        for m in needles.automaton.find_overlapping_iter(text) {
            found[needles.pattern[m.pattern().as_usize()]].push(m.start());
        }
        let mut hits = Vec::new();
        // Already masked, or nothing at all.
        let masked = |s: &str| s.bytes().all(|b| b == b'*');
        for (index, pattern) in self.patterns.iter().enumerate() {
            let Matcher::Regex(regex, refine) = &pattern.matcher else { continue };
            let at = found.get(index).map_or(&[][..], Vec::as_slice);
            for window in pattern.windows(text, at, &line_starts) {
                let hay = &text[window.clone()];
                for caps in regex.captures_iter(hay) {
                    let Some(m) = caps.name("secret").filter(|m| !m.is_empty()).or_else(|| caps.get(0)) else {
                        continue;
                    };
                    let Some(r) = refine(m.as_str()).filter(|r| !r.is_empty()) else { continue };
                    let r = m.start() + r.start..m.start() + r.end;
                    if !masked(&hay[r.clone()]) {
                        hits.push(Hit { pattern: index, range: window.start + r.start..window.start + r.end });
                    }
                }
            }
        }
        for found in secret::find(text) {
            let Some(shape) = Shape::of(found.how) else { continue };
            let Some(index) = self.patterns.iter().position(|p| matches!(p.matcher, Matcher::Shape(s) if s == shape))
            else {
                continue;
            };
            let value = &text[found.range.clone()];
            let plain = found.how == (How::Value { quoted: false });
            let certain = match shape {
                Shape::Assignment | Shape::UrlPassword => literal(value, plain),
                Shape::UrlToken => true,
            };
            if certain && !masked(value) {
                hits.push(Hit { pattern: index, range: found.range });
            }
        }
        hits
    }
}

/// Rounds of re-masking before [`Scanner::redact`] gives up and masks a text whole.
const MAX_REDACT_ROUNDS: usize = 8;

/// Longest private key block, in bytes: far more than any real key, and
/// a bound on how much text an unterminated block makes the scanner read.
const MAX_KEY_BLOCK: usize = 64 << 10;

/// Compiled size limit of a custom pattern.
const CUSTOM_SIZE_LIMIT: usize = 1 << 20;

/// Shortest literal a credential key or URL password is taken to hold. Shorter
/// values are placeholders (`x`, `-`, `no`, `~`, `n/a`), and redaction masks
/// every occurrence of a secret, which for one or two characters would mangle
/// the text around it.
const MIN_LITERAL: usize = 4;

#[derive(Clone, Debug)]
struct Pattern {
    name: String,
    severity: SecretSeverity,
    matcher: Matcher,
    /// Lowercase literals one of which every match contains; a text without
    /// any is not searched. Empty: always searched.
    needles: &'static [&'static str],
    /// How far from a needle a match can extend.
    reach: Reach,
}

/// How a pattern finds its secrets.
#[derive(Clone, Debug)]
enum Matcher {
    /// A regex; its `secret` group, or its whole match, narrowed by the
    /// function (`None`: no secret).
    Regex(Regex, fn(&str) -> Option<Range<usize>>),
    /// Values [`secret::find`] reads from the text's structure.
    Shape(Shape),
}

/// What [`secret::find`] found, by the pattern name it is reported under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// The value of a credential key, in any shape.
    Assignment,
    UrlPassword,
    UrlToken,
}

impl Shape {
    fn of(how: How) -> Option<Shape> {
        match how {
            How::Value { .. } => Some(Shape::Assignment),
            How::UrlPassword => Some(Shape::UrlPassword),
            How::UrlToken => Some(Shape::UrlToken),
            // Prose or code after a credential key: masked where quoted, not reported.
            How::Uncertain => None,
        }
    }
}

impl Pattern {
    /// The parts of `text` a match can lie in, each starting at a line start
    /// so that `^`, `\b` and a value's line read as they do in the whole text.
    /// `at` holds where the pattern's needles occur in `text`.
    fn windows(&self, text: &str, at: &[usize], line_starts: &[usize]) -> Vec<Range<usize>> {
        if self.needles.is_empty() {
            return std::iter::once(0..text.len()).collect();
        }
        let mut spans: Vec<Range<usize>> = at
            .iter()
            .map(|&i| {
                let line = line_starts.partition_point(|&s| s <= i).saturating_sub(1);
                let start = line_starts.get(line).copied().unwrap_or(0);
                let end = match self.reach {
                    Reach::Line => line_starts.get(line + 1).map_or(text.len(), |next| next - 1),
                    Reach::Bytes(n) => floor_char_boundary(text, i.saturating_add(n)),
                    Reach::Text => text.len(),
                };
                start..end
            })
            .collect();
        spans.sort_by_key(|r| (r.start, r.end));
        let mut windows: Vec<Range<usize>> = Vec::new();
        for span in spans {
            match windows.last_mut() {
                // Overlapping, or on consecutive lines.
                Some(w) if span.start <= w.end + 1 => w.end = w.end.max(span.end),
                _ => windows.push(span),
            }
        }
        windows
    }
}

/// How far from a needle a match can extend.
#[derive(Clone, Copy, Debug)]
enum Reach {
    /// To the end of the needle's line.
    Line,
    /// This many bytes past the needle.
    Bytes(usize),
    /// Anywhere.
    Text,
}

#[derive(Debug)]
struct Hit {
    pattern: usize,
    range: Range<usize>,
}

fn built_ins() -> &'static [Pattern] {
    static BUILT_INS: OnceLock<Vec<Pattern>> = OnceLock::new();
    BUILT_INS.get_or_init(|| {
        type Refine = fn(&str) -> Option<Range<usize>>;
        let table: [(&str, &str, &'static [&'static str], Refine); 16] = [
            ("aws-access-key-id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", &["akia", "asia"], whole),
            (
                "aws-secret-access-key",
                r#"(?i)secret_?access_?key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|\z)"#,
                &["secret"],
                whole,
            ),
            (
                "github-token",
                r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82,251})\b",
                &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
                whole,
            ),
            (
                // Routable tokens carry a `.`-separated suffix, with or without a version.
                "gitlab-token",
                r"\bglpat-[0-9A-Za-z_-]{20,300}(?:\.[0-9a-z]{2}\.[0-9a-z]{9}|\.[0-9a-z]{9})?",
                &["glpat-"],
                whole,
            ),
            ("slack-token", r"\bxox[abposr]-[0-9A-Za-z-]{10,250}", &["xox"], whole),
            ("stripe-secret-key", r"\b[rs]k_live_[0-9A-Za-z]{20,247}", &["k_live_"], whole),
            (
                "google-api-key",
                r"\b(?P<secret>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|\z)",
                &["aiza"],
                whole,
            ),
            (
                // The body up to the matching END line, or while it looks like
                // key material when the block is cut short. `\n` escapes and
                // PEM headers (`Proc-Type: 4,ENCRYPTED`) are part of a body.
                "private-key",
                r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<secret>[A-Za-z0-9+/=\s\\:,.()-]*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[^A-Za-z0-9+/=\s\\:,.()-]|\z)",
                &["private key"],
                key_body,
            ),
            (
                "jwt",
                r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
                &["eyj"],
                whole,
            ),
            ("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", &["npm_"], whole),
            ("pypi-token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}", &["pypi-ageichlwas5vcmc"], whole),
            ("huggingface-token", r"\bhf_[A-Za-z0-9]{34,40}\b", &["hf_"], whole),
            ("databricks-token", r"\bdapi[0-9a-f]{32}(?:-[0-9])?\b", &["dapi"], whole),
            ("sendgrid-api-key", r"\bSG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}\b", &["sg."], whole),
            (
                "openai-api-key",
                r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,200}T3BlbkFJ[A-Za-z0-9_-]{16,200}",
                &["t3blbkfj"],
                whole,
            ),
            ("anthropic-api-key", r"\bsk-ant-[a-z]{3,5}[0-9]{2}-[A-Za-z0-9_-]{80,200}", &["sk-ant-"], whole),
        ];
        let shapes = [
            ("credential-assignment", Shape::Assignment),
            ("url-password", Shape::UrlPassword),
            ("url-token", Shape::UrlToken),
        ];
        table
            .into_iter()
            .map(|(name, regex, needles, refine)| Pattern {
                name: name.to_owned(),
                severity: SecretSeverity::Error,
                matcher: Matcher::Regex(Regex::new(regex).expect("built-in secret patterns compile"), refine),
                needles,
                // A private key's body spans lines; every other built-in stays on one.
                reach: if name == "private-key" { Reach::Bytes(MAX_KEY_BLOCK) } else { Reach::Line },
            })
            .chain(shapes.into_iter().map(|(name, shape)| Pattern {
                name: name.to_owned(),
                severity: SecretSeverity::Error,
                matcher: Matcher::Shape(shape),
                needles: &[],
                reach: Reach::Text,
            }))
            .collect()
    })
}

/// The needles of every built-in pattern in one automaton (ASCII case
/// insensitive), with the pattern each one belongs to.
struct NeedleFinder {
    automaton: aho_corasick::AhoCorasick,
    pattern: Vec<usize>,
}

fn needle_finder() -> &'static NeedleFinder {
    static FINDER: OnceLock<NeedleFinder> = OnceLock::new();
    FINDER.get_or_init(|| {
        let (mut needles, mut pattern) = (Vec::new(), Vec::new());
        for (index, p) in built_ins().iter().enumerate() {
            for needle in p.needles {
                needles.push(*needle);
                pattern.push(index);
            }
        }
        let automaton = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&needles)
            .expect("the built-in needles build an automaton");
        NeedleFinder { automaton, pattern }
    })
}

/// A custom pattern, compiled, or what is wrong with it and how to fix it.
fn compile_custom(name: &str, pattern: &str) -> Result<Regex, (String, String)> {
    if name.trim().is_empty() {
        return Err((
            "custom secret pattern has no name".to_owned(),
            "give it a `name`: findings are reported under it".to_owned(),
        ));
    }
    let regex = RegexBuilder::new(pattern)
        .size_limit(CUSTOM_SIZE_LIMIT)
        .nest_limit(64)
        .multi_line(true)
        .crlf(true)
        .build()
        .map_err(|e| {
            (
                format!("custom secret pattern `{name}` is not a valid regex: {e}"),
                "patterns use Rust regex syntax without look-around or backreferences, \
                 and must compile to at most 1 MiB"
                    .to_owned(),
            )
        })?;
    // An empty match would flag every position. Probing a few texts catches
    // `a*`, `(x)?` and `\b` alike; scanning skips empty matches regardless.
    let matches_empty = ["", "a", "a a", "0", "-", "\n"].iter().any(|t| regex.find_iter(t).any(|m| m.is_empty()));
    if matches_empty {
        return Err((
            format!("custom secret pattern `{name}` matches the empty string"),
            "it would flag every position: require at least one character (`+` rather than `*`)".to_owned(),
        ));
    }
    Ok(regex)
}

fn whole(s: &str) -> Option<Range<usize>> {
    Some(0..s.len())
}

/// A private key's body without the whitespace and `\n` escapes around it,
/// if it holds key material rather than a placeholder (`...`).
fn key_body(body: &str) -> Option<Range<usize>> {
    let mut s = body;
    loop {
        let t = s.trim_start();
        match t.strip_prefix("\\n").or_else(|| t.strip_prefix("\\r")) {
            Some(rest) => s = rest,
            None => break s = t,
        }
    }
    let start = body.len() - s.len();
    loop {
        let t = s.trim_end();
        match t.strip_suffix("\\n").or_else(|| t.strip_suffix("\\r")) {
            Some(rest) => s = rest,
            None => break s = t,
        }
    }
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    let material = s.as_bytes().split(|b| !base64(b)).any(|run| run.len() >= 16);
    material.then(|| start..start + s.len())
}

/// Whether a value is a literal secret rather than a placeholder, a null or
/// a boolean (`plain`: it was unquoted).
fn literal(value: &str, plain: bool) -> bool {
    let unquoted_only: &[&str] = if plain { &["true", "false"] } else { &[] };
    value.chars().count() >= MIN_LITERAL
        && !value.trim().is_empty()
        && !["null", "none"].iter().chain(unquoted_only).any(|w| value.eq_ignore_ascii_case(w))
        && !placeholder(value)
}

/// `{{ env_var('X') }}`, `{{ var('x') }}`, `${X}`, `$X`, `{x}`, `<x>`, `***`.
fn placeholder(v: &str) -> bool {
    let wrapped = |open: char, close: char| v.starts_with(open) && v.ends_with(close);
    let env = v.strip_prefix('$').is_some_and(|name| {
        (name.starts_with('{') && name.ends_with('}'))
            || (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    });
    v.contains("{{")
        || v.contains("{%")
        || env
        || wrapped('{', '}')
        || wrapped('<', '>')
        || v.bytes().all(|b| b == b'*')
}

/// `text` with each run of overlapping or touching ranges replaced by [`MASK`],
/// line by line, so a quoted file keeps its line numbers.
fn mask(text: &str, ranges: Vec<Range<usize>>) -> String {
    secret::mask_ranges(text, ranges)
}

/// Every occurrence of any of `needles` in `text`, overlapping ones too, in
/// one pass however many needles there are.
fn occurrences(needles: &[&str], text: &str) -> Vec<Range<usize>> {
    let automaton = aho_corasick::AhoCorasick::new(needles).expect("secret values build an automaton");
    automaton.find_overlapping_iter(text).map(|m| m.range()).collect()
}

/// The largest char boundary of `text` at or before `i`.
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte offset of each line's first character.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_schemas::manifest::SecretPatternConfig;
    use proptest::prelude::*;

    fn config(custom: &[(&str, &str, SecretSeverity)]) -> SecretScanningConfig {
        SecretScanningConfig {
            enabled: true,
            exclude_patterns: vec!["**/*.md".to_owned(), "tests/**".to_owned()],
            custom_patterns: Some(
                custom
                    .iter()
                    .map(|&(name, pattern, severity)| SecretPatternConfig {
                        name: name.to_owned(),
                        pattern: pattern.to_owned(),
                        severity,
                    })
                    .collect(),
            ),
            severity: SecretSeverity::Warning,
        }
    }

    /// The text a finding points at, from its line, column and length.
    fn located<'t>(text: &'t str, f: &Finding) -> &'t str {
        let line_start: usize = text.split_inclusive('\n').take(f.line as usize - 1).map(str::len).sum();
        let start =
            line_start + text[line_start..].chars().take(f.column as usize - 1).map(char::len_utf8).sum::<usize>();
        let len = text[start..].chars().take(f.len as usize).map(char::len_utf8).sum::<usize>();
        &text[start..start + len]
    }

    /// `(rule, secret)` for every finding of the default scanner.
    fn found(text: &str) -> Vec<(String, String)> {
        let scanner = Scanner::new(None).expect("built-ins");
        scanner.scan("models/x.yml", text).iter().map(|f| (f.rule.clone(), located(text, f).to_owned())).collect()
    }

    // Fake credentials, assembled so that this file holds none verbatim.
    fn aws_key() -> String {
        concat!("AKIA", "ABCDEFGHIJKLMNOP").to_owned()
    }
    fn aws_secret() -> String {
        format!("fake{}", "EXAMPLEKEY/0123456789".repeat(2))[..40].to_owned()
    }
    fn github() -> String {
        format!("ghp_{}", "0123456789ab".repeat(3))
    }
    fn github_pat() -> String {
        format!("github_pat_{}_{}", "11FAKE".repeat(4)[..22].to_owned(), "fAkE0".repeat(12)[..59].to_owned())
    }
    fn gitlab() -> String {
        format!("glpat-{}", "fake-Token_0".repeat(2))
    }
    fn slack() -> String {
        format!("xoxb-{}-{}-{}", "1234567890", "0987654321", "FakeFakeFakeFake")
    }
    fn stripe() -> String {
        format!("sk_live_{}", "FAKE0fake1".repeat(3))
    }
    fn google() -> String {
        format!("AIza{}", "Fake_Key-0123456789".repeat(2)[..35].to_owned())
    }
    fn pem_body() -> String {
        ["MIIEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake", "FAKEfakeFAKEfake0123456789+/fakeFAKE=="].join("\n")
    }
    fn npm() -> String {
        format!("npm_{}", "FakeNpmToken0123456789".repeat(2)[..36].to_owned())
    }
    fn huggingface() -> String {
        format!("hf_{}", "FakeHuggingFace0123".repeat(2)[..34].to_owned())
    }
    fn databricks() -> String {
        format!("dapi{}", "0123456789abcdef".repeat(2))
    }
    fn jwt() -> String {
        format!("eyJ{}.eyJ{}.{}", "hbGciOiJub25lIn0", "zdWIiOiJmYWtlIn0", "ZmFrZS1zaWduYXR1cmU")
    }

    #[test]
    fn built_ins_compile() {
        assert_eq!(built_ins().len(), 19);
    }

    #[test]
    fn each_built_in_finds_its_secret() {
        let pem = pem_body();
        let cases: Vec<(&str, String, String)> = vec![
            ("aws-access-key-id", format!("aws_access_key_id: {}", aws_key()), aws_key()),
            (
                "aws-access-key-id",
                format!("select '{}' as k", aws_key().replacen("AKIA", "ASIA", 1)),
                aws_key().replacen("AKIA", "ASIA", 1),
            ),
            ("aws-secret-access-key", format!("AWS_SECRET_ACCESS_KEY={}", aws_secret()), aws_secret()),
            ("aws-secret-access-key", format!("\"SecretAccessKey\": \"{}\"", aws_secret()), aws_secret()),
            ("github-token", format!("-- deploy with {}", github()), github()),
            ("github-token", format!("url: x?t={}", github_pat()), github_pat()),
            (
                "github-token",
                format!("t {} t", github().replacen("ghp_", "ghs_", 1)),
                github().replacen("ghp_", "ghs_", 1),
            ),
            ("gitlab-token", format!("GITLAB={}", gitlab()), gitlab()),
            ("gitlab-token", format!("x {}.01.0z11111is", gitlab()), format!("{}.01.0z11111is", gitlab())),
            ("slack-token", format!("hook: {}", slack()), slack()),
            ("stripe-secret-key", format!("k = {}", stripe()), stripe()),
            ("google-api-key", format!("maps({})", google()), google()),
            (
                "private-key",
                format!(
                    "key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  {}\n  -----END RSA PRIVATE KEY-----\n",
                    pem.replace('\n', "\n  ")
                ),
                pem.replace('\n', "\n  "),
            ),
            (
                "private-key",
                format!(
                    "{{\"k\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"}}",
                    pem.replace('\n', "\\n")
                ),
                pem.replace('\n', "\\n"),
            ),
            ("private-key", format!("-----BEGIN EC PRIVATE KEY-----\n{pem}\n"), pem.clone()),
            ("jwt", format!("-- Authorization: Bearer {}", jwt()), jwt()),
            ("url-password", "dsn: postgres://etl:s3cr:t@pw@db.internal:5432/x".to_owned(), "s3cr:t@pw".to_owned()),
            ("url-password", "  - 'https://:hunter22@example.com'".to_owned(), "hunter22".to_owned()),
            ("credential-assignment", "password: hunter22".to_owned(), "hunter22".to_owned()),
            ("credential-assignment", "  - client_secret: 'it''s-me'  # rotate".to_owned(), "it''s-me".to_owned()),
            ("credential-assignment", "{\"api_key\":\"abc 123\", \"x\": 1}".to_owned(), "abc 123".to_owned()),
            ("credential-assignment", "{% set token = 'tok-1234' %}".to_owned(), "tok-1234".to_owned()),
            ("credential-assignment", "create user etl PASSWORD = 'Sup3r!'".to_owned(), "Sup3r!".to_owned()),
            ("credential-assignment", "conn: {user: a, pwd: s3cret, port: 1}".to_owned(), "s3cret".to_owned()),
            ("credential-assignment", "description: \"set the password: s3cret\"".to_owned(), "s3cret".to_owned()),
            ("credential-assignment", "refresh_token: 12345678".to_owned(), "12345678".to_owned()),
            // Keys by pattern, values in every shape.
            ("credential-assignment", "s3_secret_access_key: abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "  s3_session_token: 'abcd1234'".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "db_password: abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "{clientSecret: abcd1234}".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "api-key: abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "  \"token\": abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "password:\n  abcd1234\n".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "password: >-\n  abcd\n  1234\nuser: x".to_owned(), "abcd\n  1234".to_owned()),
            ("credential-assignment", "secret:\tabcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "? private_key\n: abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "pwd: &pw abcd1234\nmemory: *pw".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "x: &pw abcd1234\npassword: *pw".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "token: [abcd1234]".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "credentials:\n  - abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "uri: http://h/api?token=abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "-- connect with password=abcd1234".to_owned(), "abcd1234".to_owned()),
            ("credential-assignment", "Server=h;Password=abcd1234;".to_owned(), "abcd1234".to_owned()),
            (
                "url-token",
                "path: 'https://abcdef0123456789xyz@files.example.com/x'".to_owned(),
                "abcdef0123456789xyz".to_owned(),
            ),
            ("npm-token", format!("//registry/:_authToken {}", npm()), npm()),
            ("huggingface-token", format!("hub {}", huggingface()), huggingface()),
            ("databricks-token", format!("dbx {}", databricks()), databricks()),
        ];
        for (rule, text, secret) in cases {
            assert_eq!(found(&text), [(rule.to_owned(), secret)], "{text}");
        }
    }

    #[test]
    fn near_misses_and_ordinary_files_find_nothing() {
        let cases = [
            // aws-access-key-id: too short, lowercase, inside a longer word
            concat!("AKIA", "ABCDEFGHIJKLMNO"),
            concat!("akia", "abcdefghijklmnop"),
            concat!("XAKIA", "ABCDEFGHIJKLMNOP"),
            // aws-secret-access-key: too short, not after the key
            "aws_secret_access_key = tooShort0123456789",
            "region: asia-east1",
            // github-token
            "ghp_short",
            "branch: ghp_0123456789ab0123456789ab0123456789a_b",
            // gitlab, slack, stripe, google
            "glpat-abc",
            "xoxb-123",
            "sk_test_FAKE0fake1FAKE0fake1FAKE0fake1",
            "AIzaShort",
            // private-key: a public key, a placeholder body
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
            // jwt: two segments, not at a word start
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",
            "xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            // url-password: placeholders, a port, a user only
            "postgres://etl:{{ env_var('PG_PASSWORD') }}@db:5432/x",
            "postgres://etl:${PG_PASSWORD}@db:5432/x",
            "postgres://etl:********@db/x",
            "https://example.com:443/a@b",
            "ssh://git@github.com:22/org/repo.git",
            // credential-assignment: placeholders, references, nulls, prose, SQL
            "password: \"{{ env_var('DBT_PASSWORD') }}\"",
            "token: \"{{ var('token') }}\"",
            "api_key: ${API_KEY}",
            "secret: $SECRET",
            "client_secret: ********",
            "client_secret: \"********\"",
            "password:\n  secret_ref: {name: warehouse, key: password}",
            "credentials: {secret_ref: {name: x, key: y}}",
            "refresh_token: null",
            "private_key: ~",
            "pwd: \"\"",
            "token: true",
            "password: x",
            "description: The password: stored in vault, never here",
            "select password_hash, token from users where u.token = 'abc12345'",
            "where token = $1 and password = other_password",
            "{% if password == 'abcdefgh' %}",
            "select password::text from t",
            "password:hunter22",
            // Keys that name or point at a credential, prose after a key.
            "token_url: https://idp.example.com/oauth/token",
            "persistence_secret: polaris-persistence",
            "password_policy: strict-policy",
            "secret_name: warehouse-creds",
            "tokenizer: wordpiece-default",
            "password:\n  secret_ref: {name: warehouse, key: password}\nuser: etl-user",
            "token: {valueFrom: {secretKeyRef: {name: x, key: token}}}",
            "password: >-\n  {{ env_var('PW') }}\n",
            "-- the password: rotated by the vault agent",
            "# token=",
            "ssh://git@github.com/org/repo.git",
            "https://loader@files.example.com/x",
            "automount_token: false",
        ];
        for text in cases {
            assert_eq!(found(text), [], "{text}");
        }
        let schema = "version: 2\n\
            models:\n\
            \x20 - name: users\n\
            \x20   description: \"Application users. The password column holds a bcrypt hash.\"\n\
            \x20   columns:\n\
            \x20     - name: token\n\
            \x20       description: Session token, rotated daily\n\
            \x20       tests: [not_null, unique]\n\
            \x20     - name: password_hash\n\
            \x20       meta: {pii: true, auth: {type: token}}\n";
        let sql = "{{ config(materialized='table') }}\n\
            select id, password_hash, token, api_key_id\n\
            from {{ ref('stg_users') }} -- join on token\n\
            where token is not null";
        let manifest = "plugins:\n\
            \x20 catalog:\n\
            \x20   type: polaris\n\
            \x20   connection_secret_ref: polaris-credentials\n\
            \x20   config: {uri: 'http://polaris:8181/api/catalog', token: {secret_ref: {name: p, key: token}}}\n\
            governance:\n\
            \x20 secret_scanning: {enabled: true, exclude_patterns: ['tests/**']}\n";
        for text in [schema, sql, manifest] {
            assert_eq!(found(text), [], "{text}");
        }
    }

    #[test]
    fn custom_patterns_carry_their_severity() {
        let cfg = config(&[
            ("acme-key", r"acme_[0-9a-f]{8}", SecretSeverity::Warning),
            ("acme-pin", r"pin=(?P<secret>\d{6})\b", SecretSeverity::Error),
        ]);
        let scanner = Scanner::new(Some(&cfg)).expect("valid");
        let text = format!("x: acme_deadbeef\ny: pin=123456\nz: {}", aws_key());
        let got: Vec<_> = scanner
            .scan("a.yml", &text)
            .iter()
            .map(|f| (f.rule.clone(), located(&text, f).to_owned(), f.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("acme-key".to_owned(), "acme_deadbeef".to_owned(), SecretSeverity::Warning),
                ("acme-pin".to_owned(), "123456".to_owned(), SecretSeverity::Error),
                // Built-ins take the config's severity.
                ("aws-access-key-id".to_owned(), aws_key(), SecretSeverity::Warning),
            ]
        );
    }

    #[test]
    fn bad_custom_patterns_are_all_reported() {
        let cfg = config(&[
            ("ok", "fine[0-9]+", SecretSeverity::Error),
            ("open", "(unclosed", SecretSeverity::Error),
            ("look", "(?=x)y", SecretSeverity::Error),
            ("star", "x*", SecretSeverity::Error),
            ("boundary", r"\b", SecretSeverity::Error),
            ("huge", "(?:[a-z]{1000}){1000}", SecretSeverity::Error),
            ("", "named", SecretSeverity::Error),
        ]);
        let errors = Scanner::new(Some(&cfg)).expect_err("invalid");
        assert_eq!(errors.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        assert!(errors[0].message.starts_with("custom secret pattern `open` is not a valid regex"), "{errors:?}");
        assert!(errors[2].message.ends_with("matches the empty string"), "{errors:?}");
        assert!(errors[3].message.ends_with("matches the empty string"), "{errors:?}");
        assert!(errors.iter().all(|e| !e.help.is_empty()));
    }

    #[test]
    fn excluded_paths_are_not_scanned() {
        let scanner = Scanner::new(Some(&config(&[]))).expect("valid");
        let text = format!("k: {}", aws_key());
        for path in ["docs/guide/readme.md", "README.md", "tests/fixtures/x.yml"] {
            assert!(scanner.excluded(path), "{path}");
            assert_eq!(scanner.scan(path, &text), [], "{path}");
        }
        assert_eq!(scanner.scan("models/tests/x.yml", &text).len(), 1);
        assert!(!Scanner::new(None).expect("built-ins").excluded("tests/x.yml"));
    }

    #[test]
    fn disabled_scanning_still_redacts() {
        let cfg = SecretScanningConfig { enabled: false, ..config(&[]) };
        let scanner = Scanner::new(Some(&cfg)).expect("valid");
        let text = format!("k: {}", aws_key());
        assert_eq!(scanner.scan("a.yml", &text), []);
        assert_eq!(scanner.redact(&text), format!("k: {MASK}"));
    }

    #[test]
    fn positions_count_characters() {
        let text =
            format!("name: 日本語\ndescription: «café» ключ {} end\n{{pwd: «ü»pass, token: 'ö-tok-1'}}", github());
        let scanner = Scanner::new(None).expect("built-ins");
        let at = |line, column, len, rule: &str| (line, column, len, rule.to_owned());
        let found: Vec<_> =
            scanner.scan("a.yml", &text).into_iter().map(|f| (f.line, f.column, f.len, f.rule)).collect();
        assert_eq!(
            found,
            [
                at(2, 26, 40, "github-token"),
                at(3, 7, 7, "credential-assignment"),
                at(3, 24, 7, "credential-assignment"),
            ]
        );
        for finding in scanner.scan("a.yml", &text) {
            assert_eq!(located(&text, &finding).chars().count(), finding.len as usize);
            let (start, bytes) = (finding.offset as usize, finding.bytes as usize);
            assert_eq!(&text[start..start + bytes], located(&text, &finding), "byte range of {finding:?}");
        }
    }

    #[test]
    fn flow_style_ends_plain_values_at_delimiters() {
        let text = "a: {user: u, pwd: s3cret, port: 1}\npassword: p,w}rd\n{\"token\": abcd1234, \"secret\": \"x y z\"}";
        assert_eq!(
            found(text),
            [
                ("credential-assignment".to_owned(), "s3cret".to_owned()),
                ("credential-assignment".to_owned(), "p,w}rd".to_owned()),
                ("credential-assignment".to_owned(), "abcd1234".to_owned()),
                ("credential-assignment".to_owned(), "x y z".to_owned()),
            ]
        );
    }

    #[test]
    fn redact_masks_findings_and_nothing_else() {
        let scanner = Scanner::new(None).expect("built-ins");
        let text = format!(
            "name: «ünïcode»\nconfig:\n  password: hunter22 # old\n  key: {}\n  dsn: 'mysql://u:pa55word@h/db'\n\
             -- ok {} and hunter22 again\n",
            aws_key(),
            jwt()
        );
        assert_eq!(
            scanner.redact(&text),
            "name: «ünïcode»\nconfig:\n  password: ******** # old\n  key: ********\n  dsn: 'mysql://u:********@h/db'\n\
             -- ok ******** and ******** again\n"
        );
        let clean = "models:\n  - name: token\n    description: «plain»\n";
        assert!(matches!(scanner.redact(clean), Cow::Borrowed(t) if t == clean));
    }

    #[test]
    fn secrets_that_rebuild_around_masks_mask_the_text() {
        let cfg = config(&[("star", r"x\*", SecretSeverity::Error)]);
        let scanner = Scanner::new(Some(&cfg)).expect("valid");
        assert_eq!(scanner.redact("a x* b"), format!("a {MASK} b"));
        let chain = format!("{}*", "x".repeat(40));
        assert_eq!(scanner.redact(&chain), MASK);
    }

    #[test]
    fn findings_never_hold_the_secret() {
        let text = format!("password: hunter22\nk: {}\nt: {}", aws_key(), github());
        let findings = Scanner::new(None).expect("built-ins").scan("a.yml", &text);
        assert_eq!(findings.len(), 3);
        let debug = format!("{findings:?}");
        for secret in ["hunter22", &aws_key(), &github()] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    /// Pieces of secrets, their contexts and plain text, for texts to be cut
    /// and joined at random.
    fn fragment() -> impl Strategy<Value = String> {
        let pieces: Vec<String> = [
            "password: ",
            "aws_secret_access_key = ",
            "\"api_key\": \"",
            "token = '",
            "{pwd: ",
            "secret: ",
            "postgres://u:",
            "https://:",
            "@h/",
            "-----BEGIN PRIVATE KEY-----",
            "-----END PRIVATE KEY-----",
            "\\n",
            "\n",
            " # ",
            "'",
            "\"",
            ",",
            "}",
            "*",
            "x*",
            "eyJ",
            ".",
            "AKIA",
            "ghp_",
            "${X}",
            "{{ env_var('X') }}",
            "é",
            "日本",
            "\r\n",
            "  - ",
            "pa55word",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([aws_key(), aws_secret(), github(), gitlab(), slack(), stripe(), google(), pem_body(), jwt()])
        .collect();
        prop_oneof![prop::sample::select(pieces), "[A-Za-z0-9+/=_.:@*-]{0,50}", any::<char>().prop_map(String::from),]
    }

    proptest! {
        #[test]
        fn redaction_removes_every_finding(parts in prop::collection::vec(fragment(), 0..40)) {
            let text = parts.concat();
            let cfg = config(&[("starred", r"x\*[a-z*]+", SecretSeverity::Warning)]);
            let scanner = Scanner::new(Some(&cfg)).expect("valid");
            let redacted = scanner.redact(&text);
            for finding in scanner.scan("a.yml", &text) {
                let secret = located(&text, &finding);
                prop_assert!(!secret.is_empty());
                prop_assert!(!redacted.contains(secret), "{secret:?} in {redacted:?}");
            }
        }
    }
}
