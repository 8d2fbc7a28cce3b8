//! Incremental equals clean, tested differentially.
//!
//! Random sequences of edits of every kind (`differential/edits.rs`) are
//! applied to copies of the shipped examples; after each edit the workspace
//! is built incrementally, in place and with its store, and a copy of its
//! sources is built clean, in a fresh directory with a fresh store and the
//! same `SOURCE_DATE_EPOCH`. The exit codes, the diagnostics, the
//! derivation keys and `floe-out/` must match byte for byte
//! (`differential/harness.rs` says what is compared and what is not).
//! A variant shares one store between two workspaces, edited in turn.
//!
//! ```sh
//! cargo test --test differential                        # fixed seeds, a few hundred edits
//! FLOE_DIFF_EDITS=5000 cargo test --release --test differential   # thousands, per random test
//! FLOE_DIFF_SEED=7 FLOE_DIFF_STEPS=12 cargo test --test differential random_edits_match_clean_builds -- --exact
//! ```
//!
//! `FLOE_DIFF_EDITS` is the number of edits each random test makes (default
//! 320 and 240), `FLOE_DIFF_STEPS` the edits per seed (default 20);
//! `FLOE_DIFF_SEED` replays one seed, the first `FLOE_DIFF_STEPS` edits of
//! it; `FLOE_DIFF_VERBOSE=1` prints every difference as it is found (with
//! `--nocapture`). A random test runs to the end and then fails with every class of
//! difference it met, each with the seed, the step, the edits that led there
//! and a diff. Every difference ever found becomes a named test below, with
//! the shortest sequence of edits that shows it.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests edit workspaces on disk

mod common;
#[path = "differential/edits.rs"]
mod edits;
#[path = "differential/harness.rs"]
mod harness;
#[path = "differential/yaml.rs"]
mod yaml;

use std::collections::BTreeMap;

use harness::{Difference, Epoch, Session};

// ---------------------------------------------------------------------------
// Random edits

/// A step whose builds differ.
struct Found {
    seed: u64,
    step: usize,
    /// [`Session::explain`] of the step.
    explanation: String,
    diffs: Vec<Difference>,
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, found `{v}`")))
}

/// The seeds a random test runs and the edits each makes.
fn plan(default_edits: u64) -> Vec<(u64, usize)> {
    let steps = env_number("FLOE_DIFF_STEPS").unwrap_or(20).max(1);
    if let Some(seed) = env_number("FLOE_DIFF_SEED") {
        return vec![(seed, steps as usize)];
    }
    let edits = env_number("FLOE_DIFF_EDITS").unwrap_or(default_edits);
    let seeds = edits.div_ceil(steps);
    (1..=seeds).map(|s| (s, (edits - (s - 1) * steps).min(steps) as usize)).collect()
}

/// One seed: `steps` random edits, the workspaces edited in turn, each build
/// compared with a clean one. After a difference the stores start empty
/// again, so that one defect is not counted at every later step.
fn run_seed(seed: u64, steps: usize, examples: &[&str], shared: bool) -> Vec<Found> {
    let mut session = Session::new(examples, shared);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut found = Vec::new();
    let mut check = |session: &mut Session, ws: usize, step: usize| {
        let diffs = session.compare(ws);
        if !diffs.is_empty() {
            let explanation = session.explain(&diffs);
            if std::env::var_os("FLOE_DIFF_VERBOSE").is_some() {
                eprintln!("seed {seed} step {step}: {explanation}");
            }
            found.push(Found { seed, step, explanation, diffs });
            session.cold_start();
        }
    };
    for ws in 0..examples.len() {
        check(&mut session, ws, 0);
    }
    for step in 1..=steps {
        let ws = (step - 1) % examples.len();
        let (dir, example) = session.workspaces[ws].clone();
        let what = edits::random_edit(&mut rng, &dir, &example, &mut session.epoch);
        session.note(ws, what);
        check(&mut session, ws, step);
    }
    found
}

/// Runs the plan and fails listing every class of difference met.
fn random_edits(test: &str, default_edits: u64, examples: impl Fn(u64) -> Vec<&'static str>, shared: bool) {
    let plan = plan(default_edits);
    let edits: usize = plan.iter().map(|p| p.1).sum();
    let found: Vec<Found> =
        plan.iter().flat_map(|&(seed, steps)| run_seed(seed, steps, &examples(seed), shared)).collect();
    if found.is_empty() {
        return;
    }
    // Each class once, with its first occurrence.
    let mut classes: BTreeMap<&str, (usize, &Found)> = BTreeMap::new();
    for f in &found {
        for d in &f.diffs {
            classes.entry(&d.class).or_insert((0, f)).0 += 1;
        }
    }
    let mut msg = format!(
        "{} of {edits} edits led to a build that differs from a clean build; {} classes of difference:\n",
        found.len(),
        classes.len()
    );
    for (class, (count, _)) in &classes {
        msg.push_str(&format!("  - {class} ({count}×)\n"));
    }
    for (i, (class, (count, f))) in classes.iter().enumerate() {
        let examples = examples(f.seed).join(" + ");
        msg.push_str(&format!(
            "\n[{}] {class}: {count}×, first at seed {} step {} ({examples})\n\
             replay: FLOE_DIFF_SEED={} FLOE_DIFF_STEPS={} cargo test --test differential {test} -- --exact\n{}",
            i + 1,
            f.seed,
            f.step,
            f.seed,
            f.step,
            f.explanation
        ));
    }
    panic!("{msg}");
}

const EXAMPLES: [&str; 3] = ["mesh", "centralized", "governance"];

#[test]
fn random_edits_match_clean_builds() {
    random_edits("random_edits_match_clean_builds", 320, |seed| vec![EXAMPLES[seed as usize % 3]], false);
}

#[test]
fn random_edits_through_a_shared_store_match_clean_builds() {
    let pairs = [["mesh", "mesh"], ["mesh", "centralized"], ["centralized", "governance"]];
    random_edits(
        "random_edits_through_a_shared_store_match_clean_builds",
        240,
        |seed| pairs[seed as usize % 3].to_vec(),
        true,
    );
}

// ---------------------------------------------------------------------------
// The harness: it sees no difference where there is none, and every kind
// where there is one.

#[test]
fn harness_sees_no_difference_in_a_cold_build() {
    for example in EXAMPLES {
        Session::new(&[example], false).assert_same(0);
    }
}

#[test]
fn harness_sees_every_kind_of_difference() {
    let outcome = |code, status: &str, diagnostics: serde_json::Value, out: &[(&str, &str)]| harness::Outcome {
        code,
        report: Some(serde_json::json!({
            "summary": {"built": u8::from(status == "built"), "duration_ms": code},
            "derivations": [{"label": "//p:artifacts", "rule": "floe.compiled-artifacts", "key": "k", "status": status}],
            "diagnostics": diagnostics,
        })),
        stdout: String::new(),
        stderr: String::new(),
        out: out.iter().map(|(p, b)| (p.to_string(), b.as_bytes().to_vec())).collect(),
    };
    let warning = serde_json::json!([{"severity": "warning", "code": "E0710", "message": "m"}]);
    let a = outcome(0, "reused", warning, &[("p/floe.drv.json", "{}"), ("p/a.json", "1\n"), ("q/floe.drv.json", "{}")]);
    let b =
        outcome(1, "built", serde_json::json!([]), &[("p/floe.drv.json", "{}"), ("p/a.json", "2\n"), ("p/b.py", "")]);
    let classes: Vec<String> = harness::compare(&a, &b).into_iter().map(|d| d.class).collect();
    assert_eq!(
        classes,
        [
            "exit code 0 instead of 1",
            "diagnostics: only incremental: warning E0710",
            "floe-out: outputs of a package the clean build writes nothing for, left behind",
            "floe-out: b.py missing after the incremental build",
            "floe-out: a.json differs",
        ]
    );
    // Built or reused, and the summary, are what incremental builds change.
    let c = outcome(0, "built", a.report.as_ref().unwrap()["diagnostics"].clone(), &[]);
    let d = outcome(0, "reused", a.report.as_ref().unwrap()["diagnostics"].clone(), &[]);
    assert!(harness::compare(&c, &d).is_empty());
}

// ---------------------------------------------------------------------------
// Every difference found, as the shortest sequence of edits that shows it.

/// `:helm-values` is keyed on the platform's plugins, but the values name the
/// platform (`metadata.name`, `metadata.version`): a metadata edit kept the
/// old values.
#[test]
fn helm_values_follow_platform_metadata() {
    let mut s = Session::new(&["centralized"], false);
    s.assert_same(0);
    s.edit(0, "manifest.yaml", "metadata.version = 2.4.0", |t| t.replace("version: 2.3.0", "version: 2.4.0"));
    s.assert_same(0);
}

/// The mesh root and `//finance` select the same plugins, so their Helm
/// values shared a key: once the root was evaluated again (here after a
/// governance edit), it was served finance's values, `name: "finance"`.
#[test]
fn helm_values_of_platforms_with_the_same_plugins_keep_their_names() {
    let mut s = Session::new(&["mesh"], false);
    s.assert_same(0);
    s.edit(0, "manifest.yaml", "governance.data_retention_days = 90", |t| {
        t.replace("data_retention_days: 30", "data_retention_days: 90")
    });
    s.assert_same(0);
}

/// The same through a shared store: a second workspace whose platform is
/// named differently was served the first workspace's values.
#[test]
fn helm_values_through_a_shared_store_keep_their_workspace_identity() {
    let mut s = Session::new(&["centralized", "centralized"], true);
    s.assert_same(0);
    s.edit(1, "manifest.yaml", "metadata.name = acme-marketing", |t| {
        t.replace("name: acme-analytics", "name: acme-marketing")
    });
    s.assert_same(1);
}

/// `compiled_artifacts.json` embeds the enforcement summary (its warning
/// count), which its key did not cover: renaming a model in a property file
/// adds a warning, and the artifacts kept the old count.
#[test]
fn artifacts_follow_enforcement_warnings() {
    let mut s = Session::new(&["mesh"], false);
    s.assert_same(0);
    s.edit(0, "sales/orders/models/schema.yml", "model fct_orders renamed fct_orders_v2", |t| {
        t.replace("  - name: fct_orders\n", "  - name: fct_orders_v2\n")
    });
    s.assert_same(0);
}

/// `version:` of `dbt_project.yml` is written into the enforcement report
/// and the derivation record, but only the profile name was part of the
/// file's value: editing the version re-evaluated nothing.
#[test]
fn dbt_project_version_reaches_enforcement() {
    let mut s = Session::new(&["mesh"], false);
    s.assert_same(0);
    s.edit(0, "sales/orders/dbt_project.yml", "version = 1.1.0", |t| t.replace("version: '1.0.0'", "version: '1.1.0'"));
    s.assert_same(0);
}

/// Overrides expire by the evaluation date, which was not part of the check
/// that a package's last build still holds. A store warmed on the day before
/// the override expired (here `SOURCE_DATE_EPOCH=0`, 1970-01-01) and a build
/// on a later day (unset: today's date, with the same settings hash as 0)
/// reused the package: exit 0 where a fresh store fails with E0760 and the
/// errors the override no longer excuses. (Once the date is checked, the
/// packages fail; their outputs from the day before must then go too, see
/// `outputs_of_a_failing_package_are_removed`.)
#[test]
fn expired_override_fails_on_a_warm_store() {
    let mut s = Session::new(&["centralized"], false);
    s.edit(0, "manifest.yaml", "strict descriptions, excused by an override expiring 2024-03-10", |t| {
        t.replace("policy_enforcement_level: warn", "policy_enforcement_level: strict")
            .replace("require_descriptions: false", "require_descriptions: true")
            .replace(
                "    block_on_failure: false\n",
                "    block_on_failure: true\n  policy_overrides:\n    - pattern: \"*\"\n      action: downgrade\n      \
                 reason: Descriptions are being written\n      expires: 2024-03-10\n",
            )
    });
    s.set_epoch(Epoch::At(0));
    s.assert_same(0);
    s.set_epoch(Epoch::Unset);
    s.assert_same(0);
}

/// A removed product's outputs stayed in `floe-out/`.
#[test]
fn outputs_of_a_removed_product_are_removed() {
    let mut s = Session::new(&["centralized"], false);
    s.assert_same(0);
    std::fs::remove_dir_all(s.dir(0).join("customers")).unwrap();
    s.note(0, "customers/ removed".to_owned());
    s.assert_same(0);
}

/// A package that fails writes nothing in a clean build, but its outputs
/// from the last successful build stayed in `floe-out/`.
#[test]
fn outputs_of_a_failing_package_are_removed() {
    let mut s = Session::new(&["centralized"], false);
    s.assert_same(0);
    s.edit(0, "customers/floe.yaml", "unknown key `schedul`", |t| format!("{t}schedul: daily\n"));
    s.assert_same(0);
}

/// Under new settings (another `SOURCE_DATE_EPOCH`) the last build's records
/// were dropped whole, and with them the list of outputs floe had written: a
/// package that then failed left its outputs behind (found by seed 51 of the
/// shared-store variant, 1,500 edits).
#[test]
fn outputs_of_a_package_failing_under_new_settings_are_removed() {
    let mut s = Session::new(&["centralized"], false);
    s.set_epoch(Epoch::At(0));
    s.assert_same(0);
    s.set_epoch(Epoch::At(86_400));
    s.edit(0, "customers/floe.yaml", "unknown key `schedul`", |t| format!("{t}schedul: daily\n"));
    s.assert_same(0);
}

/// Outputs a package no longer produces (another orchestrator writes other
/// files) stayed in `floe-out/`.
#[test]
fn outputs_a_plugin_no_longer_writes_are_removed() {
    let mut s = Session::new(&["centralized"], false);
    s.assert_same(0);
    s.edit(0, "manifest.yaml", "plugins.orchestrator.type = airflow", |t| {
        t.replace("    type: dagster\n", "    type: airflow\n")
    });
    s.assert_same(0);
}

/// `floe clean` removes `floe-out/` only; the next build restores outputs
/// from the store, and the mesh root's Helm values came back as finance's.
#[test]
fn helm_values_restored_after_floe_clean_keep_their_names() {
    let mut s = Session::new(&["mesh"], false);
    s.assert_same(0);
    s.floe(0, &["clean"]);
    s.assert_same(0);
}

/// A product's orchestration pins the dbt adapter of its platform's compute
/// (`requirements.txt`), but its key covered the orchestrator only: a domain
/// that switched its compute to Spark kept `dbt-duckdb`.
#[test]
fn orchestration_requirements_follow_the_compute_plugin() {
    let mut s = Session::new(&["mesh"], false);
    s.assert_same(0);
    s.edit(0, "finance/manifest.yaml", "plugins.compute.type = spark", |t| {
        t.replace("plugins: {}\n", "plugins:\n  compute:\n    type: spark\n")
    });
    s.assert_same(0);
}

/// A product that `.floeignore` hides is gone for a clean build; its
/// outputs stayed in `floe-out/`.
#[test]
fn outputs_of_an_ignored_product_are_removed() {
    let mut s = Session::new(&["centralized"], false);
    s.assert_same(0);
    std::fs::write(s.dir(0).join(".floeignore"), "/customers/\n").unwrap();
    s.note(0, ".floeignore: new, `/customers/`".to_owned());
    s.assert_same(0);
}
