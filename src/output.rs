//! How results are shown: human text (colour only as emphasis, `NO_COLOR`
//! respected, workspace text escaped) or JSON for machines, all of it written
//! through [`write`], which reports every failure.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::io::Write as _;
use std::path::Path;

use floe_engine::build::{DerivationStatus, Report, Status};
use floe_schemas::diag::{self, Code, Diagnostic, escape};
use serde::Serialize;

/// The stream a write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// A write to stdout or stderr that failed, other than into a closed pipe.
#[derive(Debug)]
pub struct WriteError {
    pub stream: Stream,
    pub error: std::io::Error,
}

/// Writes `text` to `stream` and flushes it, so that a failure shows here
/// rather than being lost when the process exits. A closed pipe (`floe … |
/// head -1`) is the reader's choice, not a failure: the rest of the text is
/// dropped and the command still ends with its own exit code.
pub fn write(stream: Stream, text: &str) -> Result<(), WriteError> {
    let result = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes()).and_then(|()| err.flush())
        }
    };
    match result {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(WriteError { stream, error }),
        _ => Ok(()),
    }
}

/// Data: `text` on stdout.
pub fn out(text: &str) -> Result<(), WriteError> {
    write(Stream::Stdout, text)
}

/// Everything else: `text` on stderr.
pub fn err(text: &str) -> Result<(), WriteError> {
    write(Stream::Stderr, text)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for `floe check`.
    Sarif,
    /// Graphviz DOT, for `floe graph`.
    Dot,
    /// A Mermaid flowchart, for `floe graph`.
    Mermaid,
    /// SVG drawn by Graphviz's `dot`, for `floe graph`.
    Svg,
}

impl Format {
    /// Whether it is one of `floe graph`'s drawings.
    pub fn is_drawing(self) -> bool {
        matches!(self, Format::Dot | Format::Mermaid | Format::Svg)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Whether progress is drawn: on a terminal, for people (never with
/// `--format json` or `-q`).
fn shows_progress(printer: &Printer) -> bool {
    std::io::stderr().is_terminal() && printer.format == Format::Human && printer.verbosity != Verbosity::Quiet
}

/// A bar of `template`, without colour.
fn bar_style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

/// A progress bar on stderr for `len` steps, drawn only when
/// [`shows_progress`].
pub fn progress(printer: &Printer, len: u64, what: &'static str) -> indicatif::ProgressBar {
    if !shows_progress(printer) {
        return indicatif::ProgressBar::hidden();
    }
    indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr())
        .with_style(bar_style("{msg} [{bar:30}] {pos}/{len}"))
        .with_message(what)
}

/// A build's progress on stderr, when [`shows_progress`]: nothing for its
/// first second, since most builds are over by then, then a bar of the
/// packages evaluated.
pub struct BuildProgress {
    bar: indicatif::ProgressBar,
    /// `None` when it is never to be shown.
    started: Option<std::time::Instant>,
    shown: std::sync::atomic::AtomicBool,
}

impl BuildProgress {
    #[allow(clippy::disallowed_methods)] // the driver times progress
    pub fn new(printer: &Printer) -> BuildProgress {
        let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden())
            .with_style(bar_style("building [{bar:30}] {pos}/{len} packages"));
        BuildProgress { bar, started: shows_progress(printer).then(std::time::Instant::now), shown: false.into() }
    }

    /// Clears the bar, if it was drawn, before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl floe_engine::build::Progress for BuildProgress {
    fn evaluating(&self, packages: usize) {
        self.bar.set_length(packages as u64);
    }

    fn evaluated(&self) {
        self.bar.inc(1);
        use std::sync::atomic::Ordering;
        let due = self.started.is_some_and(|s| s.elapsed() >= std::time::Duration::from_secs(1));
        if due && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

pub struct Printer {
    pub format: Format,
    pub verbosity: Verbosity,
    pub color: bool,
}

impl Printer {
    pub fn new(format: Format, verbosity: Verbosity) -> Printer {
        let color = std::io::stderr().is_terminal()
            && crate::env::get(&crate::env::NO_COLOR).is_none()
            && crate::env::get(&crate::env::TERM).as_deref() != Some("dumb");
        Printer { format, verbosity, color }
    }

    /// A warning about how floe was called (not about the workspace: that is
    /// a diagnostic), on stderr unless quiet.
    pub fn warn(&self, message: &str) -> Result<(), WriteError> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        let (on, off) = if self.color { ("\x1b[1;33m", "\x1b[0m") } else { ("", "") };
        err(&format!("{on}warning{off}: {message}\n"))
    }

    /// Renders diagnostics on stderr with source snippets read from `root`.
    pub fn diagnostics(&self, root: &Path, diags: &[Diagnostic]) -> Result<(), WriteError> {
        // A drawing is data on stdout like JSON, but has no room for them.
        if self.format != Format::Human && !self.format.is_drawing() {
            return Ok(());
        }
        // Each file is read once; secrets that scanning found in it are masked
        // in every snippet that shows their line.
        let cache = std::cell::RefCell::new(std::collections::BTreeMap::<String, Option<String>>::new());
        let source = |file: &str| {
            let mut cache = cache.borrow_mut();
            let text = cache.entry(file.to_owned()).or_insert_with(|| {
                let mut text = crate::system::read_text(&root.join(file))?;
                for d in diags.iter().filter(|d| d.code == Code::SecretInSource && d.file.as_deref() == Some(file)) {
                    if let Some(span) = d.span {
                        text = diag::mask_span(&text, span);
                    }
                }
                Some(text)
            });
            text.clone()
        };
        for d in diags {
            if self.verbosity == Verbosity::Quiet && !d.is_error() {
                continue;
            }
            err(&format!("{}\n", diag::render_human(d, &source, self.color)))?;
        }
        Ok(())
    }

    /// The summary of a build, with the derivations `listing` names (in
    /// JSON, and with `-v`): the counts are always of every one.
    pub fn build_summary(&self, report: &Report, millis: f64, listing: Listing) -> Result<(), WriteError> {
        // Made only when printed: a quiet build lists nothing.
        let listed = || -> Vec<&DerivationStatus> {
            let every = report.derivations.iter();
            every.filter(|d| listing == Listing::Every || d.status != Status::Reused).collect()
        };
        match self.format {
            Format::Json | Format::Sarif | Format::Dot | Format::Mermaid | Format::Svg => {
                #[derive(Serialize)]
                struct Summary {
                    built: usize,
                    reused: usize,
                    fetched: usize,
                    failed: usize,
                    written: usize,
                    duration_ms: f64,
                }
                #[derive(Serialize)]
                struct Doc<'a> {
                    summary: Summary,
                    derivations: &'a [&'a DerivationStatus],
                    diagnostics: &'a [Diagnostic],
                }
                let doc = Doc {
                    summary: Summary {
                        built: report.count(Status::Built),
                        reused: report.count(Status::Reused),
                        fetched: report.count(Status::Fetched),
                        failed: report.count(Status::Failed),
                        written: report.written,
                        duration_ms: (millis * 1000.0).round() / 1000.0,
                    },
                    derivations: &listed(),
                    diagnostics: &report.diagnostics,
                };
                print_json(&doc)
            }
            Format::Human => {
                if self.verbosity == Verbosity::Verbose {
                    let mut list = String::new();
                    for d in listed() {
                        let _ = writeln!(list, "{:>7} {}", d.status.as_str(), escape(&d.label.to_string()));
                    }
                    err(&list)?;
                }
                if self.verbosity == Verbosity::Quiet {
                    return Ok(());
                }
                let failed = report.count(Status::Failed);
                let reused = report.count(Status::Reused);
                let fetched = report.count(Status::Fetched);
                // The last count names the unit; `fetched` only when a remote served any.
                let counts = match fetched {
                    0 => format!("built {}, reused {reused} derivation{}", report.count(Status::Built), plural(reused)),
                    n => format!(
                        "built {}, reused {reused}, fetched {n} derivation{}",
                        report.count(Status::Built),
                        plural(n)
                    ),
                };
                let mut line = format!("{counts} in {}", format_duration(millis));
                if failed > 0 {
                    line.push_str(&format!("; {failed} failed"));
                }
                if let Some(counts) = diag::summary_line(&report.diagnostics) {
                    line.push_str(&format!(" ({counts})"));
                }
                let (on, off) = if self.color { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
                err(&format!("{on}{line}{off}\n"))
            }
        }
    }
}

/// Which derivations a build's summary lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// All of them: the report of one build.
    Every,
    /// Those built, fetched or failed: a watch's line per rebuild says what
    /// the save changed, not the thousands of derivations it left as they were.
    NotReused,
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One JSON document on stdout, compact (it is for machines), with a newline.
pub fn print_json(value: &impl Serialize) -> Result<(), WriteError> {
    // floe's reports have string keys only: serializing them cannot fail.
    let mut text = serde_json::to_string(value).expect("floe's reports serialize to JSON");
    text.push('\n');
    out(&text)
}

pub fn format_duration(millis: f64) -> String {
    if millis < 1000.0 { format!("{millis:.0} ms") } else { format!("{:.2} s", millis / 1000.0) }
}
