//! `floe status`: per product, the derivation the build wants, the one its live CronJob or Job runs, and its last run.

use std::fmt::Write as _;

use floe_schemas::diag::escape;
use serde::Serialize;
use serde_json::Value;

use super::desired::{self, Desired};
use crate::cli::Failure;
use crate::output::{Format, Printer, out, print_json};

#[derive(Serialize)]
struct Row {
    product: String,
    /// `CronJob` or `Job`.
    kind: Option<String>,
    desired: Option<String>,
    live: Option<String>,
    /// `current`, `outdated` or `not deployed`.
    state: &'static str,
    /// When it last ran and how: `never` without a run.
    last_run: String,
}

/// Prints the table (stdout) or the JSON rows.
pub fn show(printer: &Printer, desired: &Desired, live: &[Value]) -> Result<(), Failure> {
    let is_run = |o: &Value| o["apiVersion"] == "batch/v1" && matches!(o["kind"].as_str(), Some("CronJob" | "Job"));
    let mut rows = Vec::new();
    for p in desired.packages.iter().filter(|p| p.product) {
        let want = desired.objects.iter().map(|(_, o)| o).find(|o| is_run(o) && desired::package(o) == Some(&p.label));
        let want_drv = want.and_then(|o| desired::derivation(o)).map(str::to_owned);
        let kind = want.and_then(|o| o["kind"].as_str());
        // A product's live run: its CronJob, or of its Jobs (named by their
        // derivation) the one of the desired derivation, else the newest.
        let mut mine: Vec<&Value> = live
            .iter()
            .filter(|o| is_run(o) && desired::package(o) == Some(&p.label) && kind.is_none_or(|k| o["kind"] == k))
            .collect();
        mine.sort_by_key(|o| o["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_owned());
        let got = mine
            .iter()
            .find(|o| desired::derivation(o).is_some() && desired::derivation(o) == want_drv.as_deref())
            .or(mine.last())
            .copied();
        let live_drv = got.and_then(|o| desired::derivation(o)).map(str::to_owned);
        let state = match (&live_drv, got) {
            (_, None) => "not deployed",
            (Some(l), _) if Some(l) == want_drv.as_ref() => "current",
            _ => "outdated",
        };
        rows.push(Row {
            product: p.label.clone(),
            kind: kind.or(got.and_then(|o| o["kind"].as_str())).map(str::to_owned),
            desired: want_drv,
            live: live_drv,
            state,
            last_run: got.map_or_else(|| "never".to_owned(), last_run),
        });
    }
    if printer.format != Format::Human {
        print_json(&serde_json::json!({ "products": rows }))?;
        return Ok(());
    }
    let short = |d: &Option<String>| match d {
        Some(d) => d.strip_prefix("blake3:").unwrap_or(d).chars().take(12).collect(),
        None => "-".to_owned(),
    };
    let width = rows.iter().map(|r| r.product.len()).max().unwrap_or(0).max("PRODUCT".len());
    let mut text = format!("{:width$}  {:12}  {:12}  {:12}  LAST RUN\n", "PRODUCT", "DESIRED", "LIVE", "STATE");
    for r in &rows {
        let _ = writeln!(
            text,
            "{:width$}  {:12}  {:12}  {:12}  {}",
            escape(&r.product),
            short(&r.desired),
            short(&r.live),
            r.state,
            escape(&r.last_run)
        );
    }
    out(&text)?;
    Ok(())
}

/// A CronJob's last successful or scheduled run, a Job's completion or
/// outcome; `never` without one.
fn last_run(o: &Value) -> String {
    let status = &o["status"];
    let at = |key: &str| status[key].as_str().map(str::to_owned);
    if o["kind"] == "CronJob" {
        return match (at("lastSuccessfulTime"), at("lastScheduleTime")) {
            (Some(ok), Some(s)) if s > ok => format!("{s} (scheduled; last success {ok})"),
            (Some(ok), _) => format!("{ok} (succeeded)"),
            (None, Some(s)) => format!("{s} (scheduled)"),
            (None, None) => "never".to_owned(),
        };
    }
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let condition = |t: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == t && c["status"] == "True")
            .map(|c| c["lastTransitionTime"].as_str().unwrap_or("").to_owned())
    };
    if let Some(when) = at("completionTime").or_else(|| condition("Complete")) {
        return format!("{when} (succeeded)");
    }
    if let Some(when) = condition("Failed") {
        return format!("{when} (failed)");
    }
    match at("startTime") {
        Some(start) => format!("{start} (running)"),
        None => "never".to_owned(),
    }
}
