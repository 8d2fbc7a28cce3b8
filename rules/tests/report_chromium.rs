#![allow(clippy::disallowed_methods)] // runs a browser and writes its files
//! `enforcement.html` in a real browser: headless Chromium renders a realistic
//! report, its screenshot is not blank, and its DOM holds the verdict and every
//! violation. The screenshot and the page are kept at
//! `target/enforcement-report.{png,html}` for a person to look at. The test
//! command installs Chromium and names it in `FLOE_TEST_CHROMIUM`.

#[path = "../../tests/common/skip.rs"]
mod skip;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use floe_schemas::diag::Span;
use floe_schemas::enforcement::{EnforcementResult, EnforcementSummary, PolicyKind, Violation, ViolationSeverity};
use floe_schemas::manifest::PolicyEnforcementLevel;

fn chromium() -> Option<PathBuf> {
    match std::env::var_os("FLOE_TEST_CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            skip::skip("FLOE_TEST_CHROMIUM is not set (.ci/test installs Chromium)");
            None
        }
    }
}

const SQL: &str = "\
-- One row per order line, straight from the shop database.
select
    o.id as OrderID,
    o.customer_id,
    o.amount_cents / 100.0 as amount,
    o.created_at
from {{ source('shop', 'orders') }} as o
where o.status != 'test'
";

const SCHEMA: &str = "\
version: 2
models:
  - name: orders_raw
    columns:
      - name: OrderID
        data_tests: [not_null]
      - name: customer_id
      - name: amount
        description: Order amount in EUR
  - name: gold_daily_revenue
    description: Revenue per day, in EUR
    meta:
      owner: finance
    columns:
      - name: day
        data_tests: [unique, not_null]
      - name: revenue
";

struct Case {
    severity: ViolationSeverity,
    code: &'static str,
    kind: PolicyKind,
    model: &'static str,
    column: Option<&'static str>,
    message: &'static str,
    expected: &'static str,
    actual: &'static str,
    suggestion: &'static str,
    url: &'static str,
    at: (&'static str, u32, u32, u32),
}

/// Where each violation points: a file and a span in it.
type Locations = Vec<Option<(String, Span)>>;

fn report() -> (EnforcementResult, Locations, BTreeMap<String, String>) {
    use ViolationSeverity::{Error, Warning};
    let sql = "sales/orders/models/orders_raw.sql";
    let yml = "sales/orders/models/schema.yml";
    let cases = [
        Case {
            severity: Warning,
            code: "FLOE-E0721",
            kind: PolicyKind::Documentation,
            model: "gold_daily_revenue",
            column: Some("revenue"),
            message: "Column 'revenue' of model 'gold_daily_revenue' is missing a description.",
            expected: "a description for every column",
            actual: "no description",
            suggestion: "Add a description to column 'revenue' of model 'gold_daily_revenue' in schema.yml.",
            url: "https://floe.dev/docs/documentation",
            at: (yml, 17, 15, 7),
        },
        Case {
            severity: Error,
            code: "FLOE-E0731",
            kind: PolicyKind::Custom,
            model: "gold_daily_revenue",
            column: None,
            message: "Model 'gold_daily_revenue' is missing required meta field 'owner_team'",
            expected: "meta.owner_team set and non-empty",
            actual: "meta has no owner_team",
            suggestion: concat!(
                "Add it to the model in your dbt YAML:\n",
                "  models:\n",
                "    - name: gold_daily_revenue\n",
                "      meta:\n",
                "        owner_team: <value>"
            ),
            url: "https://floe.dev/docs/enforcement/custom-rules#require-meta-field",
            at: (yml, 12, 5, 4),
        },
        Case {
            severity: Error,
            code: "FLOE-E0605",
            kind: PolicyKind::Semantic,
            model: "orders_raw",
            column: None,
            message: "Model 'orders_raw' references undefined source 'shop.orders'",
            expected: "Source 'shop.orders' should be defined in a sources.yml file",
            actual: "source('shop', 'orders') resolves to nothing",
            suggestion: concat!(
                "Declare the source in models/sources.yml:\n",
                "  sources:\n",
                "    - name: shop\n",
                "      tables:\n",
                "        - name: orders"
            ),
            url: "https://floe.dev/docs/enforcement/semantic#missing-source",
            at: (sql, 7, 9, 24),
        },
        Case {
            severity: Error,
            code: "FLOE-E0701",
            kind: PolicyKind::Naming,
            model: "orders_raw",
            column: None,
            message: "Model 'orders_raw' does not follow the medallion naming convention",
            expected: "a name starting with bronze_, silver_ or gold_",
            actual: "orders_raw",
            suggestion: "Rename the model to 'bronze_orders' and update every ref('orders_raw').",
            url: "https://floe.dev/docs/naming#medallion",
            at: (yml, 3, 11, 10),
        },
        Case {
            severity: Warning,
            code: "FLOE-E0701",
            kind: PolicyKind::Naming,
            model: "orders_raw",
            column: Some("OrderID"),
            message: "Column 'OrderID' of model 'orders_raw' is not snake_case",
            expected: "snake_case column names",
            actual: "OrderID",
            suggestion: "Rename the column to 'order_id'.",
            url: "https://floe.dev/docs/naming#medallion",
            at: (sql, 3, 13, 7),
        },
        Case {
            severity: Error,
            code: "FLOE-E0710",
            kind: PolicyKind::Coverage,
            model: "orders_raw",
            column: None,
            message: "Model 'orders_raw' has 33.3% test coverage, below the required 80% threshold.",
            expected: "80% column-level test coverage (bronze layer)",
            actual: "33.3% (1/3 columns tested)",
            suggestion: concat!(
                "Add tests to the untested columns:\n",
                "      - name: customer_id\n",
                "        data_tests: [not_null]\n",
                "      - name: amount\n",
                "        data_tests: [not_null]"
            ),
            url: "https://floe.dev/docs/coverage",
            at: (yml, 3, 5, 16),
        },
    ];
    let mut violations = Vec::new();
    let mut locations = Vec::new();
    for c in cases {
        let (file, line, column, len) = c.at;
        violations.push(Violation {
            error_code: c.code.to_owned(),
            severity: c.severity,
            policy_type: c.kind,
            model_name: c.model.to_owned(),
            column_name: c.column.map(str::to_owned),
            message: c.message.to_owned(),
            expected: c.expected.to_owned(),
            actual: c.actual.to_owned(),
            suggestion: c.suggestion.to_owned(),
            documentation_url: c.url.to_owned(),
            downstream_impact: (c.model == "orders_raw").then(|| vec!["gold_daily_revenue".to_owned()]),
            first_detected: None,
            occurrences: None,
            override_applied: (c.column == Some("OrderID")).then(|| "orders_*".to_owned()),
        });
        locations.push(Some((file.to_owned(), Span { line, column, offset: 0, len })));
    }
    let result = EnforcementResult {
        passed: false,
        violations,
        summary: EnforcementSummary {
            total_models: 2,
            models_validated: 2,
            naming_violations: 2,
            coverage_violations: 1,
            documentation_violations: 1,
            semantic_violations: 1,
            custom_rule_violations: 1,
            overrides_applied: 1,
            ..EnforcementSummary::default()
        },
        enforcement_level: PolicyEnforcementLevel::Strict,
        manifest_version: "1.4.0".to_owned(),
        timestamp: "2026-03-01T09:30:00Z".to_owned(),
    };
    let sources = BTreeMap::from([(sql.to_owned(), SQL.to_owned()), (yml.to_owned(), SCHEMA.to_owned())]);
    (result, locations, sources)
}

/// Runs Chromium headless on `page` and returns what it printed; a browser that hangs is killed.
fn run(chromium: &Path, dir: &Path, page: &Path, arg: &str) -> String {
    let mut child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(arg)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while waiting, so a large DOM cannot fill one and stall the browser.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish {arg} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "chromium {arg} failed ({status}):\n{stderr}");
    stdout
}

/// A PNG's width, height and compressed pixel data size (the IDAT chunks).
fn png(bytes: &[u8]) -> (u32, u32, usize) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (mut at, mut size, mut idat) = (8, (0, 0), 0);
    while at + 8 <= bytes.len() {
        let len = be(&bytes[at..]) as usize;
        match &bytes[at + 4..at + 8] {
            b"IHDR" => size = (be(&bytes[at + 8..]), be(&bytes[at + 12..])),
            b"IDAT" => idat += len,
            _ => {}
        }
        at += 12 + len;
    }
    (size.0, size.1, idat)
}

fn screenshot(chromium: &Path, dir: &Path, page: &Path, name: &str) -> (Vec<u8>, (u32, u32, usize)) {
    let out = dir.join(name);
    run(chromium, dir, page, &format!("--screenshot={}", out.display()));
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", out.display()));
    let info = png(&bytes);
    (bytes, info)
}

#[test]
fn chromium_renders_the_enforcement_report() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (result, locations, sources) = report();
    let page = dir.join("enforcement.html");
    std::fs::write(&page, floe_rules::report::html("//sales/orders", &result, &locations, &sources)).unwrap();
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>-</title></head></html>")
        .unwrap();

    let (_, (_, _, blank_idat)) = screenshot(&chromium, dir, &blank, "blank.png");
    let (bytes, (width, height, idat)) = screenshot(&chromium, dir, &page, "enforcement.png");
    assert_eq!((width, height), (1280, 1600));
    assert!(bytes.len() > 20_000, "screenshot is only {} bytes", bytes.len());
    // A uniform page compresses to almost nothing; text, tables and code do not.
    assert!(idat > 10 * blank_idat.max(1), "pixel data {idat} bytes, a blank page's {blank_idat}");

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(dir.join("enforcement.png"), target.join("enforcement-report.png")).unwrap();
    std::fs::copy(&page, target.join("enforcement-report.html")).unwrap();

    let dom = run(&chromium, dir, &page, "--dump-dom");
    // The serialized DOM escapes text as HTML does.
    let text = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(dom.contains("<b>FAILED</b>"), "{dom}");
    for v in &result.violations {
        assert!(dom.contains(&text(&v.message)), "missing `{}` in the rendered DOM", v.message);
    }
}
