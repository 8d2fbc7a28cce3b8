//! The narrow views of a platform that rules run on are enough for them: on
//! every shipped example, each rule gives the same output from its view as
//! from the platform resolution produced. (A rule cannot read beyond its
//! view, so its key covers what it reads; this checks the views are not so
//! narrow that a rule would miss something it needs.)
#![allow(clippy::disallowed_methods)] // the examples are read from disk

#[path = "../../tests/common/skip.rs"]
mod skip;

use std::path::Path;
use std::sync::Arc;

use floe_engine::db::{self, Package};
use floe_engine::layout::PackageKind;
use floe_engine::{MemorySystem, Options, Session, Settings};
use floe_rules::orchestration::{definitions, job_spec, secret_env_of};
use floe_rules::{helm, profile};
use floe_schemas::FloeSpec;

fn load(sys: &MemorySystem, src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // What an earlier build left in the tree is not part of the example.
        if name == "floe-out" || name == ".floe" {
            continue;
        }
        let (from, to) = (entry.path(), dst.join(&name));
        if entry.file_type().unwrap().is_dir() {
            load(sys, &from, &to);
        } else {
            sys.put(&to, std::fs::read(&from).unwrap());
        }
    }
}

fn session(example: &Path) -> Session {
    let sys = Arc::new(MemorySystem::new());
    load(&sys, example, Path::new("/w"));
    let settings = Settings {
        floe_version: "test".into(),
        source_date_epoch: 0,
        standalone: false,
        today: "2026-01-01".into(),
        rules: Default::default(),
    };
    let options = Options::at("/w", settings);
    let mut s = Session::open(sys, options).unwrap();
    s.ensure_db();
    s
}

fn check(example: &str) -> usize {
    let s = session(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(example));
    let db = s.db();
    let mut compared = 0;
    for (i, info) in s.layout.packages.iter().enumerate() {
        let pkg = s.package(i);
        let platform_pkg: Package = match info.kind {
            PackageKind::Product => s.package(info.parent.unwrap()),
            _ => pkg,
        };
        let Some(resolved) = db::platform(db, platform_pkg).resolved.clone() else { continue };
        let plugins = db::platform_plugins(db, platform_pkg).clone().unwrap();
        let compute = db::platform_compute(db, platform_pkg).clone().unwrap();
        let full = db::platform_full(db, platform_pkg).clone().unwrap();
        let at = &info.dir;
        if info.kind != PackageKind::Product {
            assert_eq!(helm::values(&plugins.platform), helm::values(&resolved), "{example} {at}: Helm values");
            assert_eq!(full.platform.merged, resolved.merged, "{example} {at}: the full view");
            assert_eq!(full.platform.chain, resolved.chain, "{example} {at}: the full view's chain");
            compared += 1;
            continue;
        }
        let Some(spec) = db::product(db, pkg).spec.as_ref().and_then(|s| s.loaded.value.clone()) else { continue };
        let also: Vec<&str> = spec.transforms.iter().filter_map(|t| t.compute.as_deref()).collect();
        let name = &spec.metadata.name;
        assert_eq!(
            profile::profile(&compute.platform, name, &also).ok(),
            profile::profile(&resolved, name, &also).ok(),
            "{example} {at}: dbt profile"
        );
        let job: FloeSpec = serde_json::from_value(job_spec(&serde_json::to_value(&spec).unwrap())).unwrap();
        let from_view = definitions(&plugins.platform, &job, Some("d"), &secret_env_of(&plugins.platform));
        let from_all = definitions(&resolved, &spec, Some("d"), &secret_env_of(&resolved));
        assert_eq!(from_view.ok(), from_all.ok(), "{example} {at}: orchestration");
        compared += 1;
    }
    compared
}

#[test]
fn views_suffice_for_their_rules_on_every_example() {
    for example in ["mesh", "centralized", "governance", "dbt-run", "external-plugin"] {
        let compared = check(&format!("testdata/{example}"));
        assert!(compared > 0, "{example}: nothing compared");
    }
}

/// The Python implementation's demo selects plugins none of the examples does.
#[test]
fn views_suffice_for_their_rules_on_the_conformance_demo() {
    let demo = "../shared/conformance/anchor-demo/demo";
    if !Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(demo).is_dir() {
        return skip::skip(&format!("no conformance data at {demo}"));
    }
    assert!(check(demo) > 0);
}
