//! How results are shown: human text (colour only as emphasis, `NO_COLOR`
//! respected) or JSON for machines.

use std::io::IsTerminal;
use std::path::Path;

use floe_engine::build::{DerivationStatus, Report, Status};
use floe_schemas::diag::{self, Code, Diagnostic};
use serde::Serialize;
use std::io::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for `floe check`.
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
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

    /// Renders diagnostics on stderr with source snippets read from `root`.
    pub fn diagnostics(&self, root: &Path, diags: &[Diagnostic]) {
        if self.format != Format::Human {
            return;
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
            eprintln!("{}", diag::render_human(d, &source, self.color));
        }
    }

    pub fn build_summary(&self, report: &Report, millis: f64) {
        match self.format {
            Format::Json | Format::Sarif => {
                #[derive(Serialize)]
                struct Summary {
                    built: usize,
                    reused: usize,
                    failed: usize,
                    written: usize,
                    duration_ms: f64,
                }
                #[derive(Serialize)]
                struct Doc<'a> {
                    summary: Summary,
                    derivations: &'a [DerivationStatus],
                    diagnostics: &'a [Diagnostic],
                }
                let doc = Doc {
                    summary: Summary {
                        built: report.count(Status::Built),
                        reused: report.count(Status::Reused),
                        failed: report.count(Status::Failed),
                        written: report.written,
                        duration_ms: (millis * 1000.0).round() / 1000.0,
                    },
                    derivations: &report.derivations,
                    diagnostics: &report.diagnostics,
                };
                print_json(&doc);
            }
            Format::Human => {
                if self.verbosity == Verbosity::Verbose {
                    for d in &report.derivations {
                        eprintln!("{:>7} {}", status_word(d), d.label);
                    }
                }
                if self.verbosity == Verbosity::Quiet {
                    return;
                }
                let failed = report.count(Status::Failed);
                let mut line = format!(
                    "built {}, reused {} derivations in {}",
                    report.count(Status::Built),
                    report.count(Status::Reused),
                    format_duration(millis)
                );
                if failed > 0 {
                    line.push_str(&format!("; {failed} failed"));
                }
                if let Some(counts) = diag::summary_line(&report.diagnostics) {
                    line.push_str(&format!(" ({counts})"));
                }
                let (on, off) = if self.color { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
                eprintln!("{on}{line}{off}");
            }
        }
    }
}

/// One JSON document on stdout, compact (it is for machines), with a newline.
pub fn print_json(value: &impl Serialize) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // A closed pipe is the reader's choice, not floe's failure.
    let _ = serde_json::to_writer(&mut out, value).map_err(std::io::Error::from).and_then(|()| out.write_all(b"\n"));
    let _ = out.flush();
}

fn status_word(d: &DerivationStatus) -> &'static str {
    match d.status {
        Status::Built => "built",
        Status::Reused => "reused",
        Status::Failed => "failed",
    }
}

pub fn format_duration(millis: f64) -> String {
    if millis < 1000.0 { format!("{millis:.0} ms") } else { format!("{:.2} s", millis / 1000.0) }
}
