//! What a deploy says: a line per written object and a summary on stderr, or one JSON record per object on stdout; and, when it stops, what was and was not applied, per namespace.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use floe_schemas::diag::escape;
use serde::Serialize;

use super::apply::Outcome;
use super::plan::{self, Action, Step};
use crate::cli::Failure;
use crate::output::{Format, Printer, Verbosity, err, print_json};

/// One object in `--format json`.
#[derive(Serialize)]
struct Record<'a> {
    action: Action,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    package: Option<&'a str>,
    derivation: Option<&'a str>,
    /// False when the write was not made (it failed, or an earlier phase did).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    not_applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Reports a deploy; a failed one ends in [`Failure::Cluster`] naming what
/// was and was not applied.
pub fn deploy(
    printer: &Printer,
    (context, server): (&str, &str),
    dry_run: bool,
    steps: &[Step],
    done: &[Outcome],
) -> Result<(), Failure> {
    let failed: Vec<(&Step, &super::client::RequestError)> = steps
        .iter()
        .zip(done)
        .filter_map(|(s, d)| match d {
            Outcome::Failed(e) => Some((s, e)),
            _ => None,
        })
        .collect();
    if printer.format != Format::Human {
        let records: Vec<Record> = steps
            .iter()
            .zip(done)
            .map(|(s, d)| Record {
                action: s.action,
                kind: &s.id.kind,
                namespace: Some(s.id.namespace.as_str()).filter(|n| !n.is_empty()),
                name: &s.id.name,
                package: s.package.as_deref(),
                derivation: s.derivation.as_deref(),
                not_applied: matches!(d, Outcome::Failed(_) | Outcome::NotTried),
                error: match d {
                    Outcome::Failed(e) => Some(e.message.as_str()),
                    _ => None,
                },
            })
            .collect();
        let [created, updated, unchanged, pruned] = plan::counts(steps.iter().map(|s| &s.action));
        print_json(&serde_json::json!({
            "context": context,
            "dry_run": dry_run,
            "objects": records,
            "summary": {"created": created, "updated": updated, "unchanged": unchanged, "pruned": pruned,
                        "failed": failed.len()},
        }))?;
    } else if printer.verbosity != Verbosity::Quiet {
        let mut text = String::new();
        for (s, d) in steps.iter().zip(done) {
            let (shown, word) = match d {
                Outcome::Written => (true, word(s.action, dry_run)),
                Outcome::Skipped => (printer.verbosity == Verbosity::Verbose, word(s.action, dry_run)),
                Outcome::Failed(_) | Outcome::NotTried => (true, "not applied"),
            };
            if shown {
                let _ = writeln!(
                    text,
                    "{word:>12} {} ({})",
                    escape(&s.id.display()),
                    escape(s.package.as_deref().unwrap_or("no package"))
                );
            }
        }
        let done_actions: Vec<Action> = steps
            .iter()
            .zip(done)
            .filter(|(_, d)| matches!(d, Outcome::Written | Outcome::Skipped))
            .map(|(s, _)| s.action)
            .collect();
        let [created, updated, unchanged, pruned] = plan::counts(&done_actions);
        let verb = if dry_run { "dry run against" } else { "deployed to" };
        let _ = writeln!(
            text,
            "{verb} {}: {created} created, {updated} updated, {unchanged} unchanged, {pruned} pruned{}",
            escape(context),
            if dry_run { " (nothing changed)" } else { "" }
        );
        err(&text)?;
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Failure::Cluster(stopped((context, server), steps, done, &failed)))
}

fn word(action: Action, dry_run: bool) -> &'static str {
    match (action, dry_run) {
        (Action::Created, false) => "created",
        (Action::Updated, false) => "updated",
        (Action::Pruned, false) => "pruned",
        (Action::Created, true) => "would create",
        (Action::Updated, true) => "would update",
        (Action::Pruned, true) => "would prune",
        (Action::Unchanged, _) => "unchanged",
    }
}

/// The message of a deploy that stopped: each failure, then per namespace
/// what was applied and what was not.
fn stopped(
    (context, server): (&str, &str),
    steps: &[Step],
    done: &[Outcome],
    failed: &[(&Step, &super::client::RequestError)],
) -> String {
    let mut text = format!(
        "the deploy to context `{}` stopped: {} object{} failed\n",
        escape(context),
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for (s, e) in failed {
        let tries = if e.attempts > 1 { format!(" (after {} attempts)", e.attempts) } else { String::new() };
        let _ = writeln!(text, "  {} {}{tries}: {}", verb(s.action), escape(&s.id.display()), escape(&e.message));
    }
    // namespace → (applied, not applied)
    let mut by_ns: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (s, d) in steps.iter().zip(done) {
        let entry = by_ns.entry(s.id.namespace.as_str()).or_default();
        let what = format!("{} {}", s.id.kind, s.id.name);
        match d {
            Outcome::Written => entry.0.push(format!("{what} ({})", word(s.action, false))),
            Outcome::Failed(_) | Outcome::NotTried => entry.1.push(format!("{what} (to be {})", word(s.action, false))),
            Outcome::Skipped => {}
        }
    }
    for (ns, (applied, not)) in by_ns {
        if applied.is_empty() && not.is_empty() {
            continue;
        }
        let ns = if ns.is_empty() { "cluster-wide".to_owned() } else { format!("namespace {}", escape(ns)) };
        let list = |v: &[String]| if v.is_empty() { "nothing".to_owned() } else { escape(&v.join(", ")).into_owned() };
        let _ = writeln!(text, "  {ns}: applied {}; not applied {}", list(&applied), list(&not));
    }
    if failed.iter().any(|(_, e)| matches!(e.status, Some(401 | 403))) {
        let _ = writeln!(
            text,
            "  = help: the API server {server} refused the user of context `{}`: it needs get, list, patch and \
             delete on the kinds floe deploys",
            escape(context)
        );
    }
    text.push_str(
        "  = help: objects not listed are as they were; `floe deploy` again applies only what is not there yet",
    );
    text
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Pruned => "deleting",
        _ => "applying",
    }
}
