//! Governance enforcement end to end. `testdata/governance` is a platform whose
//! `governance` block sets every policy floe enforces; each of its products
//! breaks exactly one policy, in the ways listed atop its `floe.yaml`, and
//! `clean` breaks none. The anchor demo's coverage is checked against counts
//! taken by hand from its property files.
#![allow(clippy::disallowed_methods)] // tests read workspaces and schemas on disk

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{conformance, copy_dir, edit, floe, floe_cmd, run, tree, workspace};
use serde_json::Value;

/// A planned violation: `(error code, model, severity)`.
type Planned = (&'static str, &'static str, &'static str);

/// Every product's planned violations. The report must hold exactly these, as
/// a multiset.
const PLANNED: &[(&str, &[Planned])] = &[
    ("clean", &[]),
    (
        "naming",
        &[
            ("E0701", "stg_orders", "error"),
            ("E0701", "fct_sales", "error"),
            ("E0701", "Gold_Customers", "error"),
            ("E0701", "orders_summary", "error"),
            ("E0701", "silver_2024_orders", "error"),
        ],
    ),
    (
        "coverage",
        &[
            ("E0710", "bronze_clicks", "error"),
            ("E0710", "silver_sessions", "error"),
            ("E0710", "silver_visits", "error"),
            ("E0710", "gold_engagement", "error"),
            ("E0710", "gold_retention", "error"),
        ],
    ),
    (
        "documentation",
        &[
            ("E0720", "silver_accounts", "error"),
            ("E0720", "gold_pipeline", "error"),
            ("E0722", "silver_contacts", "warning"),
            ("E0722", "silver_accounts", "warning"),
            ("E0721", "silver_deals", "error"),
            ("E0721", "silver_deals", "error"),
            ("E0722", "silver_deals", "warning"),
        ],
    ),
    (
        "semantic",
        &[
            ("E0601", "silver_refunds", "error"),
            ("E0602", "bronze_audit_log", "error"),
            ("E0603", "silver_orders", "error"),
            ("E0603", "gold_revenue", "error"),
            ("E0604", "gold_revenue", "error"),
            ("E0605", "bronze_payments", "error"),
            ("E0606", "silver_balances", "error"),
            ("E0603", "silver_balances", "error"),
            ("E0603", "silver_ledger", "error"),
        ],
    ),
    (
        "custom-rules",
        &[
            ("E0730", "gold_cert_revenue", "error"),
            ("E0730", "gold_cert_margin", "error"),
            ("E0731", "silver_owned_accounts", "error"),
            ("E0731", "silver_owned_contacts", "error"),
            ("E0732", "bronze_keyed_events", "error"),
            ("E0732", "bronze_keyed_sessions", "error"),
        ],
    ),
    (
        "policies",
        &[
            ("E0742", "policies", "error"),
            ("E0740", "silver_pii_customers", "error"),
            ("E0740", "silver_pii_addresses", "error"),
            ("E0741", "gold_kpi_revenue", "warning"),
            ("E0741", "gold_kpi_orders_hourly", "warning"),
            ("E0743", "gold_agg_sales", "error"),
            ("E0743", "gold_agg_returns", "error"),
        ],
    ),
    (
        "overrides",
        &[
            ("E0720", "bronze_temp_import", "error"),
            ("E0710", "silver_migrating_events", "warning"),
            ("E0721", "silver_migrating_events", "warning"),
            ("E0603", "silver_migrating_events", "error"),
        ],
    ),
    (
        "secrets",
        &[
            ("E0750", "bronze_vendor_feed", "error"),
            ("E0750", "silver_vendor_orders", "error"),
            ("E0750", "secrets", "error"),
            ("E0750", "secrets", "warning"),
        ],
    ),
];

/// Violations the `exclude` override (`gold_legacy_*`) excuses, and those the
/// `downgrade` override (`silver_migrating_*`) turns into warnings.
const EXCLUDED: usize = 3;
const DOWNGRADED: usize = 2;

/// Every secret planted in the workspace (all fake), including the one in an
/// excluded fixture, and distinctive parts of them: none may ever be printed
/// or written.
const SECRETS: &[&str] = &[
    "AKIAFLOEFAKEKEY00001",
    "AKIAFLOEFAKEKEY00002",
    "FLOEFAKEKEY",
    "floe-fake-password",
    "ghp_FLOEfakeTOKENforTESTSonly00000000001",
    "FLOEfakeTOKEN",
    "floe_ptk_fakefakefakefakefake0001",
    "fakefakefake",
];

fn assert_no_secret(text: &str, what: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "the planted secret `{s}` appears in {what}");
    }
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator(path: &Path) -> jsonschema::Validator {
    jsonschema::validator_for(&read_json(path)).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not validate:\n{}", errors.join("\n"));
}

/// The rendered diagnostics whose primary location is under `dir/`.
fn human_blocks(stderr: &str, dir: &str) -> String {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("error[E") || line.starts_with("warning[E") {
            blocks.push(vec![line]);
        } else if line.starts_with("checked ") {
            break;
        } else if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    let prefix = format!("{dir}/");
    let mut out = String::new();
    for block in blocks {
        let primary = block.iter().find_map(|l| l.trim_start().strip_prefix("--> "));
        if primary.is_some_and(|p| p.starts_with(&prefix)) {
            let text = block.join("\n");
            out.push_str(text.trim_end());
            out.push_str("\n\n");
        }
    }
    out
}

fn count(violations: &[Value], policy_type: &str) -> u64 {
    violations.iter().filter(|v| v["policy_type"] == policy_type).count() as u64
}

/// `(code, model, severity)` of each violation, sorted.
fn found(violations: &[Value]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = violations
        .iter()
        .map(|v| {
            let code = v["error_code"].as_str().unwrap();
            (
                code.strip_prefix("FLOE-").unwrap_or(code).to_owned(),
                v["model_name"].as_str().unwrap().to_owned(),
                v["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn planned(list: &[Planned]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> =
        list.iter().map(|(c, m, s)| ((*c).to_owned(), (*m).to_owned(), (*s).to_owned())).collect();
    out.sort();
    out
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`")) as u64 + 1
}

#[test]
fn every_policy_reports_exactly_its_planted_violations() {
    let ws = workspace("governance");
    let json_run = floe(ws.path(), &["check", "--format", "json"]);
    assert_eq!(json_run.code, 1, "an error blocks:\n{}", json_run.stderr);
    let human = floe(ws.path(), &["check"]);
    assert_eq!(human.code, 1, "{}", human.stderr);
    for (text, what) in [
        (&json_run.stdout, "the JSON report"),
        (&json_run.stderr, "stderr of check --format json"),
        (&human.stdout, "stdout of check"),
        (&human.stderr, "the rendered diagnostics"),
    ] {
        assert_no_secret(text, what);
    }

    let report = json_run.json();
    let enforcement = report["enforcement"].as_object().expect("an `enforcement` object");
    let labels: Vec<&str> = enforcement.keys().map(String::as_str).collect();
    let mut expected: Vec<String> = PLANNED.iter().map(|(p, _)| format!("//{p}")).collect();
    expected.sort();
    assert_eq!(labels, expected);

    let anchor = conformance().map(|c| validator(&c.join("schemas/anchor/EnforcementResult.schema.json")));
    for (product, plan) in PLANNED {
        let result = &enforcement[&format!("//{product}")];
        if let Some(v) = &anchor {
            assert_valid(v, result, product);
        }
        let violations = result["violations"].as_array().unwrap();
        assert_eq!(found(violations), planned(plan), "{product}: violations other than planned");
        assert_eq!(result["enforcement_level"], "strict", "{product}");
        let blocks = plan.iter().any(|(_, _, severity)| *severity == "error");
        assert_eq!(result["passed"], !blocks, "{product}");
        let summary = &result["summary"];
        for (field, policy_type) in [
            ("naming_violations", "naming"),
            ("coverage_violations", "coverage"),
            ("documentation_violations", "documentation"),
            ("semantic_violations", "semantic"),
            ("custom_rule_violations", "custom"),
            ("contract_violations", "data_contract"),
            ("rbac_violations", "rbac"),
            ("secret_violations", "secret_scanning"),
            ("network_policy_violations", "network_policy"),
        ] {
            assert_eq!(summary[field], count(violations, policy_type), "{product}: summary.{field}");
        }
        if *product != "overrides" {
            assert_eq!(summary["overrides_applied"], 0, "{product}");
            assert_eq!(summary["models_validated"], summary["total_models"], "{product}");
            assert!(violations.iter().all(|v| v["override_applied"].is_null()), "{product}");
        }
        let text = format!(
            "{}--- violations\n{}\n",
            human_blocks(&human.stderr, product),
            serde_json::to_string_pretty(&result["violations"]).unwrap()
        );
        insta::assert_snapshot!(*product, text);
    }

    let clean = &enforcement["//clean"];
    assert_eq!(clean["passed"], true);
    assert_eq!(clean["violations"], serde_json::json!([]));
    assert_eq!(clean["summary"]["total_models"], 4);

    // Overrides: `gold_legacy_*` excludes, `silver_migrating_*` downgrades
    // coverage and documentation only, `bronze_temp_*` has expired.
    let overrides = &enforcement["//overrides"];
    let violations = overrides["violations"].as_array().unwrap();
    assert!(violations.iter().all(|v| v["model_name"] != "gold_legacy_orders"), "excluded violations are absent");
    assert_eq!(overrides["summary"]["overrides_applied"], (EXCLUDED + DOWNGRADED) as u64);
    assert_eq!(overrides["summary"]["total_models"], 4);
    assert_eq!(overrides["summary"]["models_validated"], 3, "the excluded model is not validated");
    for v in violations {
        let downgraded = v["model_name"] == "silver_migrating_events"
            && (v["policy_type"] == "coverage" || v["policy_type"] == "documentation");
        if downgraded {
            assert_eq!(v["severity"], "warning", "{v}");
            assert_eq!(v["override_applied"], "silver_migrating_*", "{v}");
        } else {
            assert!(v["override_applied"].is_null(), "{v}");
            assert_eq!(v["severity"], "error", "{v}");
        }
    }
    let expired = expired_override(&report);
    assert_eq!(expired["severity"], "warning");
    assert_eq!(expired["message"], "the policy override `bronze_temp_*` expired on 2020-01-01 and no longer applies");
    assert!(human.stderr.contains("warning[E0760]: the policy override `bronze_temp_*` expired"), "{}", human.stderr);
}

/// The one E0760 diagnostic of a check report.
fn expired_override(report: &Value) -> &Value {
    let expired: Vec<&Value> =
        report["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "E0760").collect();
    assert_eq!(expired.len(), 1, "the expired override is reported once: {expired:?}");
    expired[0]
}

#[test]
fn expired_override_is_reported_at_its_date() {
    let ws = workspace("governance");
    let report = floe(ws.path(), &["check", "--format", "json"]).json();
    let expired = expired_override(&report);
    let manifest = std::fs::read_to_string(ws.path().join("manifest.yaml")).unwrap();
    assert_eq!(expired["file"], "manifest.yaml", "{expired}");
    assert_eq!(expired["span"]["line"], line_of(&manifest, "expires: 2020-01-01"), "{expired}");
}

#[test]
fn build_under_warn_writes_reports_that_validate_and_leak_nothing() {
    let ws = workspace("governance");
    let manifest = ws.path().join("manifest.yaml");
    edit(&manifest, |t| t.replace("policy_enforcement_level: strict", "policy_enforcement_level: warn"));
    let build = |dir: &Path| {
        let mut cmd = floe_cmd(dir);
        cmd.args(["build", "//..."]).env("SOURCE_DATE_EPOCH", "1700000000");
        run(cmd)
    };

    // `warn` caps every violation to a warning except those of a policy whose
    // action is `block`: the oversized product still fails, and only it.
    let capped = build(ws.path());
    assert_eq!(capped.code, 1, "{}", capped.stderr);
    let errors: Vec<&str> = capped.stderr.lines().filter(|l| l.starts_with("error[")).collect();
    assert_eq!(errors, ["error[E0742]: Products stay small (policy `small-products`: 10 transforms, at most 8)"]);
    edit(&manifest, |t| t.replace("action: block", "action: warn"));
    let r = build(ws.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_secret(&r.stdout, "stdout of build");
    assert_no_secret(&r.stderr, "stderr of build");

    let conf = conformance();
    let anchor = conf.as_ref().map(|c| validator(&c.join("schemas/anchor/EnforcementResult.schema.json")));
    let sarif = conf.as_ref().map(|c| validator(&c.join("schemas/sarif-schema-2.1.0.json")));
    for (product, plan) in PLANNED {
        let out = ws.path().join("floe-out").join(product);
        for ext in ["json", "sarif", "html"] {
            assert!(out.join(format!("enforcement.{ext}")).is_file(), "{product}: no enforcement.{ext}");
        }
        let result = read_json(&out.join("enforcement.json"));
        if let Some(v) = &anchor {
            assert_valid(v, &result, &format!("{product}/enforcement.json"));
        }
        assert_eq!(result["enforcement_level"], "warn", "{product}");
        assert_eq!(result["timestamp"], "2023-11-14T22:13:20Z", "{product}");
        let violations = result["violations"].as_array().unwrap();
        assert_eq!(violations.len(), plan.len(), "{product}");
        assert!(violations.iter().all(|v| v["severity"] == "warning"), "{product}: `warn` caps every violation");
        assert_eq!(result["passed"], true, "{product}");
        let log = read_json(&out.join("enforcement.sarif"));
        if let Some(v) = &sarif {
            assert_valid(v, &log, &format!("{product}/enforcement.sarif"));
        }
        // Every planted violation has a place in the product's own files.
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), plan.len(), "{product}: one SARIF result per violation");
        for result in results {
            let location = &result["locations"][0]["physicalLocation"];
            let uri = location["artifactLocation"]["uri"].as_str().unwrap_or_default();
            assert!(uri.starts_with(&format!("{product}/")), "{product}: a result outside the product: {result}");
            assert!(location["region"]["startLine"].as_u64().unwrap_or(0) >= 1, "{product}: no line: {result}");
        }
    }
    for dir in ["floe-out", ".floe"] {
        let files = tree(&ws.path().join(dir));
        assert!(!files.is_empty(), "nothing under {dir}");
        for (file, bytes) in files {
            assert_no_secret(&String::from_utf8_lossy(&bytes), &format!("{dir}/{file}"));
        }
    }
}

/// A model of the demo: `(name, documented columns, columns with a test)`.
type Counted = (&'static str, u32, u32);

/// Column test coverage of the anchor demo's models, counted by hand from each
/// `models/schema.yml` (tests on a column, not the number of tests). The demo
/// manifest's `quality_gates` has `minimum_test_coverage: 80` and no
/// `layer_thresholds`, so 80% holds for every model.
///
/// | product        | model                     | columns | tested | coverage |
/// |----------------|---------------------------|---------|--------|----------|
/// | customer-360   | stg_crm_customers         | 6       | 4      | 66.7%  ✗ |
/// | customer-360   | stg_transactions          | 7       | 5      | 71.4%  ✗ |
/// | customer-360   | stg_support_tickets       | 8       | 5      | 62.5%  ✗ |
/// | customer-360   | int_customer_orders       | 10      | 1      | 10.0%  ✗ |
/// | customer-360   | int_customer_support      | 8       | 1      | 12.5%  ✗ |
/// | customer-360   | mart_customer_360         | 15      | 5      | 33.3%  ✗ |
/// | financial-risk | stg_positions             | 6       | 6      | 100%     |
/// | financial-risk | stg_market_data           | 6       | 5      | 83.3%    |
/// | financial-risk | stg_counterparties        | 5       | 5      | 100%     |
/// | financial-risk | int_portfolio_risk        | 5       | 5      | 100%     |
/// | financial-risk | int_counterparty_exposure | 4       | 4      | 100%     |
/// | financial-risk | mart_risk_dashboard       | 8       | 5      | 62.5%  ✗ |
/// | iot-telemetry  | stg_sensors               | 6       | 6      | 100%     |
/// | iot-telemetry  | stg_readings              | 6       | 6      | 100%     |
/// | iot-telemetry  | stg_maintenance           | 6       | 6      | 100%     |
/// | iot-telemetry  | int_sensor_metrics        | 9       | 9      | 100%     |
/// | iot-telemetry  | int_anomaly_detection     | 9       | 9      | 100%     |
/// | iot-telemetry  | mart_equipment_health     | 8       | 6      | 75.0%  ✗ |
///
/// (financial-risk's `seeds:` entries are seeds, not models.)
const DEMO_MODELS: &[(&str, &[Counted])] = &[
    (
        "customer-360",
        &[
            ("stg_crm_customers", 6, 4),
            ("stg_transactions", 7, 5),
            ("stg_support_tickets", 8, 5),
            ("int_customer_orders", 10, 1),
            ("int_customer_support", 8, 1),
            ("mart_customer_360", 15, 5),
        ],
    ),
    (
        "financial-risk",
        &[
            ("stg_positions", 6, 6),
            ("stg_market_data", 6, 5),
            ("stg_counterparties", 5, 5),
            ("int_portfolio_risk", 5, 5),
            ("int_counterparty_exposure", 4, 4),
            ("mart_risk_dashboard", 8, 5),
        ],
    ),
    (
        "iot-telemetry",
        &[
            ("stg_sensors", 6, 6),
            ("stg_readings", 6, 6),
            ("stg_maintenance", 6, 6),
            ("int_sensor_metrics", 9, 9),
            ("int_anomaly_detection", 9, 9),
            ("mart_equipment_health", 8, 6),
        ],
    ),
];

/// The coverage violations the table above predicts: `(model, actual)`.
const DEMO_COVERAGE: &[(&str, &[(&str, &str)])] = &[
    (
        "customer-360",
        &[
            ("int_customer_orders", "10.0% (1/10 columns tested)"),
            ("int_customer_support", "12.5% (1/8 columns tested)"),
            ("mart_customer_360", "33.3% (5/15 columns tested)"),
            ("stg_crm_customers", "66.7% (4/6 columns tested)"),
            ("stg_support_tickets", "62.5% (5/8 columns tested)"),
            ("stg_transactions", "71.4% (5/7 columns tested)"),
        ],
    ),
    ("financial-risk", &[("mart_risk_dashboard", "62.5% (5/8 columns tested)")]),
    ("iot-telemetry", &[("mart_equipment_health", "75.0% (6/8 columns tested)")]),
];

fn coverage_violations(result: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["error_code"] == "FLOE-E0710")
        .map(|v| (v["model_name"].as_str().unwrap().to_owned(), v["actual"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

/// Checks the workspace at `dir` and asserts the table's coverage results.
fn assert_demo_coverage(dir: &Path) {
    let r = floe(dir, &["check", "--format", "json"]);
    assert_eq!(r.code, 0, "the demo's gates do not block: {}", r.stderr);
    let report = r.json();
    let expected: BTreeMap<&str, &[(&str, &str)]> = DEMO_COVERAGE.iter().copied().collect();
    for (product, models) in DEMO_MODELS {
        let result = &report["enforcement"][&format!("//{product}")];
        assert_eq!(result["summary"]["total_models"], models.len() as u64, "{product}");
        let mut want: Vec<(String, String)> =
            expected[product].iter().map(|(m, a)| ((*m).to_owned(), (*a).to_owned())).collect();
        want.sort();
        assert_eq!(coverage_violations(result), want, "{product}");
        assert_eq!(result["summary"]["coverage_violations"], want.len() as u64, "{product}");
        // The table and the expectations agree: a model fails exactly when under 80%.
        for (model, columns, tested) in *models {
            let fails = want.iter().any(|(m, _)| m == model);
            assert_eq!(fails, tested * 100 < 80 * columns, "{product}/{model}");
        }
        for v in result["violations"].as_array().unwrap().iter().filter(|v| v["error_code"] == "FLOE-E0710") {
            assert_eq!(v["expected"], "80% column-level test coverage", "{v}");
            // The demo's level is `warn`, which caps every finding.
            assert_eq!(v["severity"], "warning", "{v}");
        }
    }
}

#[test]
fn anchor_demo_coverage_matches_the_hand_count() {
    let Some(conf) = conformance() else { return };
    let ws = tempfile::tempdir().unwrap();
    copy_dir(&conf.join("anchor-demo/demo"), ws.path());
    // The demo ships property files but no SQL; a documented model with a
    // transform is enforced all the same.
    assert_demo_coverage(ws.path());
    // SQL files change nothing about coverage, which reads the property files.
    for (product, models) in DEMO_MODELS {
        for (model, _, _) in *models {
            std::fs::write(ws.path().join(product).join("models").join(format!("{model}.sql")), "select 1\n").unwrap();
        }
    }
    assert_demo_coverage(ws.path());
}

/// The compiled artifacts say which policies ran and how many files were
/// scanned for secrets: for `clean`, every policy the platform configures,
/// and all eight of its files.
#[test]
fn compiled_artifacts_list_the_policies_that_ran_and_the_files_scanned() {
    let ws = common::workspace("governance");
    let r = common::floe(ws.path(), &["build", "//clean"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let artifacts = read_json(&ws.path().join("floe-out/clean/compiled_artifacts.json"));
    let result = &artifacts["enforcement_result"];
    let checked = ["coverage", "custom", "documentation", "naming", "secret_scanning", "semantic"];
    assert_eq!(result["policy_types_checked"], serde_json::json!(checked));
    let files = common::tree(&ws.path().join("clean")).len();
    assert_eq!((result["secrets_scanned"].as_u64(), files), (Some(8), 8), "every file of the product");
}

/// A quality gate that does not block (`block_on_failure: false`) is a
/// warning on the terminal, in `check --format sarif` and in every report,
/// and the HTML never reads "PASSED" beside errors.
#[test]
fn a_gate_that_does_not_block_is_a_warning_everywhere() {
    let ws = common::workspace("governance");
    edit(&ws.path().join("manifest.yaml"), |t| t.replace("block_on_failure: true", "block_on_failure: false"));
    let r = common::floe(ws.path(), &["build", "//coverage", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let terminal: Vec<String> = r.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "E0710")
        .map(|d| d["severity"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(terminal, vec!["warning"; 5]);
    let out = ws.path().join("floe-out/coverage");
    let report = read_json(&out.join("enforcement.json"));
    let in_json: Vec<&str> =
        report["violations"].as_array().unwrap().iter().map(|v| v["severity"].as_str().unwrap()).collect();
    assert_eq!(in_json, vec!["warning"; 5]);
    let sarif = read_json(&out.join("enforcement.sarif"));
    let in_sarif: Vec<&str> =
        sarif["runs"][0]["results"].as_array().unwrap().iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(in_sarif, vec!["warning"; 5]);
    let check = common::floe(ws.path(), &["check", "//coverage", "--format", "sarif"]);
    let log: Value = serde_json::from_str(&check.stdout).unwrap();
    let levels: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "E0710")
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, vec!["warning"; 5]);
    let html = std::fs::read_to_string(out.join("enforcement.html")).unwrap();
    assert!(html.contains("PASSED") && !html.contains(" error"), "the page shows no error beside PASSED");
}
