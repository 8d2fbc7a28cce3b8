//! The one diagnostic model of floe and its renderers (human and JSON).
//!
//! Every problem floe finds in its input is a [`Diagnostic`]: a stable [`Code`],
//! a severity, a one-line message, the workspace-relative file, a span and,
//! when a fix is known, a help line. Analyses never stop at the first problem:
//! they return their value together with every diagnostic they found.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A position in a source file: 1-based line and column, byte offset and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub offset: u32,
    pub len: u32,
}

impl Span {
    /// The start of a file, for problems with the file as a whole.
    pub const START: Span = Span { line: 1, column: 1, offset: 0, len: 0 };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $summary:literal;)*) => {
        /// Stable diagnostic codes. Each code is one enum variant, so two problems can
        /// never share a code by accident; the string form never changes once released.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $(#[doc = $summary] $variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn parse(s: &str) -> Option<Code> {
                match s { $($code => Some(Code::$variant),)* _ => None }
            }

            /// One line on what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    YamlSyntax = "E0001", "The file is not valid YAML";
    DuplicateKey = "E0002", "A mapping has the same key twice";
    YamlLimit = "E0003", "The document exceeds a structural limit (nesting depth, node count, alias expansion)";
    FileTooLarge = "E0004", "The file is larger than floe reads";
    NotUtf8 = "E0005", "The file is not UTF-8";
    UnknownKey = "E0101", "A key that the schema does not define";
    MissingKey = "E0102", "A required key is absent";
    WrongType = "E0103", "A value has the wrong type";
    InvalidEnumValue = "E0104", "A value is not one of the allowed values";
    PatternMismatch = "E0105", "A string does not match the required format";
    OutOfRange = "E0106", "A number is outside its allowed range";
    InvalidLength = "E0107", "A string or list is too short or too long";
    EnvironmentKey = "E0108", "An environment-specific key in a manifest (one artifact is promoted unchanged)";
    ForbiddenConnectionKey = "E0109", "A connection or credential key in floe.yaml";
    WrongKind = "E0110", "`apiVersion` or `kind` is not one floe reads";
    DuplicateName = "E0111", "Two entries of a list share a name that must be unique";
    UnknownReference = "E0112", "A reference inside the document points at nothing (e.g. `dependsOn`)";
    TransformCycle = "E0114", "Transforms depend on one another in a cycle";
    UnknownPlugin = "E0115", "A plugin type floe has no implementation of";
    InvalidPluginConfig = "E0116", "A plugin's `config` that the plugin rejects";
    PluginVersion = "E0117", "A pinned plugin version that floe's plugin does not satisfy";
    IncompatiblePlugins = "E0118", "Selected plugins that cannot work together";
    ExternalPlugin = "E0119", "An out-of-tree plugin that does not answer as the plugin protocol says";
    ManifestCycle = "E0201", "The manifest chain loops back on itself";
    MissingParent = "E0202", "A parent manifest (or a product's platform manifest) does not exist";
    PluginNotApproved = "E0203", "A plugin that the enterprise manifest does not approve";
    ComputeNotApproved = "E0204", "A transform's compute is neither the default nor an approved one";
    ProductNotApproved = "E0205", "A product that its domain does not approve";
    GovernanceLoosened = "E0206", "A child manifest loosens a governance setting of its parent";
    PlatformMismatch = "E0207", "`platform.manifest` (or a domain's `parent_manifest`) does not point at the manifest the package belongs to";
    ScopeMismatch = "E0208", "A scope-restricted key in a manifest of the wrong scope, or a misplaced scope";
    UnpinnedReference = "E0209", "An OCI reference that `floe.lock` does not pin";
    NoWorkspace = "E0210", "No workspace: no platform manifest at the root";
    PackageConflict = "E0211", "A directory that is both a platform package and a product";
    NotARegularFile = "E0212", "A package file that is a FIFO, socket or device, not a regular file";
    LinkLeavesWorkspace = "E0213", "A symbolic link that leads outside the workspace";
    DirectoryRepeated = "E0214", "A symbolic link to a directory the workspace walk already covers";
    UnaddressablePackage = "E0215", "A package directory whose path no label can name";
    InvalidLock = "E0216", "A `floe.lock` that floe cannot read, or a platform it pins that does not decode";
    PinnedNotInStore = "E0217", "A platform or contract `floe.lock` pins that the store does not hold";
    RunNameTooLong = "E0218", "A product name too long to name its runs' Kubernetes objects";
    InvalidDomainLabel = "E0219", "A product's `domain` label that cannot name a Kubernetes namespace";
    InvalidLabel = "E0301", "A label that does not parse";
    NoSuchLabel = "E0302", "A label that matches no package or target";
    UnknownInputPort = "E0401", "An input port that names no product, or no output port of it";
    ProductCycle = "E0402", "Products depend on one another in a cycle";
    PortExpectation = "E0403", "An input port expects columns or service levels its producer does not offer";
    ClassificationNotAllowed = "E0404", "A product reads or offers data classified above what it or its platform allows";
    ContractDisagrees = "E0405", "A product's `datacontract.yaml` disagrees with its output ports";
    ContractVersion = "E0406", "A contract change without the version bump it needs (major when breaking, minor when additive)";
    InlineSecret = "E0501", "A credential written inline instead of referenced";
    TransformWithoutModel = "E0601", "A transform with no dbt model";
    ModelWithoutTransform = "E0602", "A dbt model with no transform";
    DependsOnMismatch = "E0603", "A transform's `dependsOn` disagrees with its model's `ref()` calls";
    UnknownModel = "E0604", "A `ref()` to a model the project does not have";
    UndefinedSource = "E0605", "A `source()` that no property file declares";
    ModelCycle = "E0606", "dbt models depend on one another in a cycle";
    TransformsWithoutProject = "E0607", "A product with transforms and no dbt project";
    UndefinedVar = "E0608", "A `ref(var('x'))` whose var `dbt_project.yml` does not define";
    NamingViolation = "E0701", "A model name that breaks the platform's naming convention";
    UnsafePattern = "E0702", "A naming or secret pattern that is invalid or could backtrack catastrophically";
    CoverageBelowThreshold = "E0710", "A model's column test coverage is below its threshold";
    ModelDescriptionMissing = "E0720", "A model without a description";
    ColumnDescriptionMissing = "E0721", "A column without a description";
    PlaceholderDescription = "E0722", "A description that is a placeholder (`TBD`, `TODO`)";
    MissingTagsForPrefix = "E0730", "A model with a governed prefix lacks a required tag";
    MissingMetaField = "E0731", "A model lacks a `meta` field a custom rule requires";
    MissingTestsOfType = "E0732", "Too few columns of a model carry a test type a custom rule requires";
    PolicyRequiredTags = "E0740", "A model lacks tags a `required_tags` policy requires";
    PolicyNaming = "E0741", "A model name that a `naming_convention` policy rejects";
    PolicyMaxTransforms = "E0742", "A product with more transforms than a `max_transforms` policy allows";
    PolicyCondition = "E0743", "A model for which a `custom` policy's condition is false";
    InvalidPolicy = "E0744", "A policy or override floe cannot evaluate";
    SecretInSource = "E0750", "A secret value found in an input file";
    OverrideExpired = "E0760", "A policy override past its expiry date";
    Internal = "E0900", "floe failed on input it accepted: a bug in floe, never in the workspace";
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown code `{s}`")))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    /// Workspace-relative path with `/` separators; `None` for workspace-wide problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Secondary locations ("the parent's value is here").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Note {
    pub file: String,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: None,
            span: None,
            message: message.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    pub fn at(mut self, file: &str, span: Span) -> Diagnostic {
        self.file = Some(file.to_owned());
        self.span = Some(span);
        self
    }

    /// A problem with a file as a whole: reported at its start.
    pub fn in_file(self, file: &str) -> Diagnostic {
        self.at(file, Span::START)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, file: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        self.notes.push(Note { file: file.to_owned(), span, message: message.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics into the order they are reported in (by file, position,
/// code) and drops repeats: packages that share a tier report its problems once.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (&a.file, a.span.map(|s| (s.line, s.column)), a.code, &a.message)
            .cmp(&(&b.file, b.span.map(|s| (s.line, s.column)), b.code, &b.message))
            .then_with(|| a.cmp(b))
    });
    diags.dedup();
}

/// `did you mean` for a misspelt name: the closest candidate within a small edit distance.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (edit_distance(name, c), c)).filter(|(d, _)| *d <= limit).min().map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Colours used by the human renderer; all empty when colour is off.
struct Palette {
    error: &'static str,
    warning: &'static str,
    accent: &'static str,
    bold: &'static str,
    reset: &'static str,
}

impl Palette {
    fn new(color: bool) -> Palette {
        if color {
            Palette {
                error: "\x1b[1;31m",
                warning: "\x1b[1;33m",
                accent: "\x1b[1;34m",
                bold: "\x1b[1m",
                reset: "\x1b[0m",
            }
        } else {
            Palette { error: "", warning: "", accent: "", bold: "", reset: "" }
        }
    }
}

/// Renders a diagnostic for a person: header, location, source snippet, help.
/// `source` looks up the text of a workspace file, if the caller has it.
pub fn render_human(diag: &Diagnostic, source: &dyn Fn(&str) -> Option<String>, color: bool) -> String {
    let p = Palette::new(color);
    let (sev, sev_color) = match diag.severity {
        Severity::Error => ("error", p.error),
        Severity::Warning => ("warning", p.warning),
    };
    let mut out = String::new();
    let message = escape(&diag.message);
    let _ = writeln!(out, "{sev_color}{sev}[{}]{}{}: {message}{}", diag.code, p.reset, p.bold, p.reset);
    let gutter_width = diag
        .span
        .iter()
        .map(|s| s.line)
        .chain(diag.notes.iter().map(|n| n.span.line))
        .max()
        .map_or(1, |l| l.to_string().len());
    let pad = " ".repeat(gutter_width);
    if let Some(file) = &diag.file {
        match diag.span {
            Some(span) => {
                let _ = writeln!(out, "{pad}{}-->{} {}:{}:{}", p.accent, p.reset, escape(file), span.line, span.column);
                let mut text = source(file);
                // A secret found by scanning is masked where it is, whatever its key.
                if diag.code == Code::SecretInSource {
                    text = text.map(|t| mask_span(&t, span));
                }
                snippet(&mut out, text.as_deref(), span, gutter_width, sev_color, "", &p);
            }
            None => {
                let _ = writeln!(out, "{pad}{}-->{} {}", p.accent, p.reset, escape(file));
            }
        }
    }
    for note in &diag.notes {
        let _ = writeln!(
            out,
            "{pad}{}-->{} {}:{}:{}",
            p.accent,
            p.reset,
            escape(&note.file),
            note.span.line,
            note.span.column
        );
        let text = source(&note.file);
        snippet(&mut out, text.as_deref(), note.span, gutter_width, p.accent, &escape(&note.message), &p);
    }
    if let Some(help) = &diag.help {
        // Continuation lines of a multi-line help align under its first.
        let help = escape_text(help).replace('\n', &format!("\n{pad}         "));
        let _ = writeln!(out, "{pad} {}={} {}help{}: {help}", p.accent, p.reset, p.bold, p.reset);
    }
    out
}

/// `text` with every byte of `span` turned into `*` (a character of several
/// bytes into as many), so byte offsets, and the columns before the span, stay
/// where they were, and masking twice changes nothing. A span that does not fall on character
/// boundaries masks its whole line.
pub fn mask_span(text: &str, span: Span) -> String {
    let (start, end) = (span.offset as usize, span.offset.saturating_add(span.len) as usize);
    let range = match text.get(start..end) {
        Some(_) => start..end,
        None => {
            let Some(line) = text.split_inclusive('\n').nth(span.line.saturating_sub(1) as usize) else {
                return text.to_owned();
            };
            let from: usize = text.split_inclusive('\n').take(span.line.saturating_sub(1) as usize).map(str::len).sum();
            from..from + line.trim_end_matches('\n').len()
        }
    };
    let stars = "*".repeat(range.len());
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..range.start]);
    out.push_str(&stars);
    out.push_str(&text[range.end..]);
    out
}

fn snippet(out: &mut String, text: Option<&str>, span: Span, width: usize, color: &str, label: &str, p: &Palette) {
    let Some(line) = text.and_then(|t| t.lines().nth(span.line.saturating_sub(1) as usize)) else {
        return;
    };
    let pad = " ".repeat(width);
    let start = (span.column.saturating_sub(1)) as usize;
    let line_chars = line.chars().count();
    // A quoted line never shows a credential, even one the diagnostic is about,
    // nor one whose key is on an earlier line (a block scalar, a next-line value).
    let index = span.line.saturating_sub(1) as usize;
    let shown =
        text.and_then(|t| crate::secret::masked_line(t, index)).unwrap_or_else(|| crate::secret::mask_line(line));
    let masked_here = shown != line && shown.chars().skip(start).collect::<String>().starts_with(crate::secret::MASK);
    let carets = if span.len == 0 {
        1
    } else if masked_here {
        // Underline the mask, not the (longer or shorter) value it hides.
        crate::secret::MASK.len()
    } else {
        // The span may run past the end of the line (a multi-line value): underline
        // what is on this line.
        let len = text
            .and_then(|t| t.get(span.offset as usize..span.offset.saturating_add(span.len) as usize))
            .map_or(1, |s| s.lines().next().map_or(1, |l| l.chars().count()));
        len.clamp(1, line_chars.saturating_sub(start).max(1))
    };
    // The line is shown with its controls escaped; the carets move with the
    // wider escapes, and a tab before them stays a tab so they line up.
    let chars: Vec<char> = shown.chars().collect();
    let indent: String = (0..start)
        .map(|i| match chars.get(i) {
            Some('\t') => "\t".to_owned(),
            Some(&c) => " ".repeat(shown_width(c)),
            None => " ".to_owned(),
        })
        .collect();
    let carets: usize = (start..start + carets).map(|i| chars.get(i).map_or(1, |&c| shown_width(c))).sum();
    let _ = writeln!(out, "{pad} {}|{}", p.accent, p.reset);
    let _ = writeln!(out, "{}{:>width$} |{} {}", p.accent, span.line, p.reset, escape_text(&shown));
    let label = if label.is_empty() { String::new() } else { format!(" {label}") };
    let _ = writeln!(out, "{pad} {}|{} {indent}{color}{}{label}{}", p.accent, p.reset, "^".repeat(carets), p.reset);
}

/// Whether printing `c` could move the cursor, recolour or clear the screen, or
/// reorder the text around it: C0 and C1 controls, DEL, and the bidi
/// embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// How `c` is written when it is escaped: `\n`, `\r`, `\t`, else `\u{1b}`.
fn escaped(c: char) -> String {
    match c {
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        c => c.escape_unicode().to_string(),
    }
}

/// The columns `c` takes in a snippet line shown with [`escape_text`].
fn shown_width(c: char) -> usize {
    if is_unsafe(c) && c != '\t' { escaped(c).len() } else { 1 }
}

fn escape_unless(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) && !keep(c) {
            out.push_str(&escaped(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` made safe for a terminal, as one line: every control character
/// (line breaks and tabs too) and bidi override is written as a visible escape,
/// so a value read from a workspace can neither clear the screen nor print a
/// line of its own.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_unless(text, |_| false)
}

/// Like [`escape`], but line breaks and tabs stay: for text they lay out (a
/// help, a source line).
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape_unless(text, |c| c == '\n' || c == '\t')
}

/// Renders a one-line summary of error and warning counts, or nothing when clean.
pub fn summary_line(diags: &[Diagnostic]) -> Option<String> {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| if n == 1 { format!("{n} {w}") } else { format!("{n} {w}s") };
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(plural(w, "warning")),
        (e, 0) => Some(plural(e, "error")),
        (e, w) => Some(format!("{}, {}", plural(e, "error"), plural(w, "warning"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("schedul", ["schedule", "transforms"]), Some("schedule"));
        assert_eq!(suggest("xyz", ["schedule", "transforms"]), None);
        assert_eq!(suggest("dependson", ["dependsOn", "tags"]), Some("dependsOn"));
    }

    #[test]
    fn human_rendering() {
        let src = "apiVersion: floe.dev/v1\nschedul:\n  cron: x\n";
        let d = Diagnostic::error(Code::UnknownKey, "unknown key `schedul`")
            .at("a/floe.yaml", Span { line: 2, column: 1, offset: 24, len: 7 })
            .with_help("did you mean `schedule`?");
        let out = render_human(&d, &|_| Some(src.to_owned()), false);
        assert_eq!(
            out,
            "error[E0101]: unknown key `schedul`\n --> a/floe.yaml:2:1\n  |\n2 | schedul:\n  | ^^^^^^^\n  = help: did you mean `schedule`?\n"
        );
    }

    #[test]
    fn controls_from_the_workspace_are_escaped_and_carets_stay_aligned() {
        // A value that would clear the screen, then print a line of its own.
        let src = "a: \"\u{1b}[2J\u{202e}x\"\n\tb: \u{7}bad\n";
        let d = Diagnostic::error(Code::WrongType, "value `\u{1b}[2J\nALL CHECKS PASSED\r`")
            .at("dir\u{1b}/floe.yaml", Span { line: 1, column: 10, offset: 11, len: 1 })
            .with_note("n.yaml", Span { line: 2, column: 5, offset: 18, len: 4 }, "note \u{9b}31m")
            .with_help("first\nsecond \u{1b}]0;title\u{7}");
        let out = render_human(&d, &|_| Some(src.to_owned()), false);
        let expected: [&str; 11] = [
            r"error[E0103]: value `\u{1b}[2J\nALL CHECKS PASSED\r`",
            r" --> dir\u{1b}/floe.yaml:1:10",
            r"  |",
            r#"1 | a: "\u{1b}[2J\u{202e}x""#,
            &format!("  | {}^", " ".repeat(21)),
            r" --> n.yaml:2:5",
            r"  |",
            "2 | \tb: \\u{7}bad",
            &format!("  | \t   {} note \\u{{9b}}31m", "^".repeat(8)),
            r"  = help: first",
            r"          second \u{1b}]0;title\u{7}",
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn snippets_mask_values_whose_key_is_on_an_earlier_line() {
        let src = "config:\n  password:\n    hunter22\n  token: >-\n    abc\n  user: etl\n";
        let at = |line, offset| Span { line, column: 5, offset, len: 3 };
        for (span, shown) in [(at(3, 24), "3 |     ********"), (at(5, 50), "5 |     ********")] {
            let d = Diagnostic::warning(Code::InlineSecret, "inline credential").at("m.yaml", span);
            let out = render_human(&d, &|_| Some(src.to_owned()), false);
            assert!(out.contains(shown), "{out}");
            assert!(!out.contains("hunter22") && !out.contains("abc"), "{out}");
        }
    }
}
