//! `floe platform compile`, the Python implementation's command: it reads the
//! product's whole dbt project, a domain manifest's enterprise manifest, and
//! the Python command's flags, and on the Python implementation's demos it
//! finds what `floe build` finds and writes what the Python schemas accept.
#![allow(clippy::disallowed_methods)] // tests set up products on disk

mod common;

use std::path::Path;

use common::{conformance, copy_dir, floe, workspace};

type Finding = (String, String, String, u64);

/// Code, severity, file and line of each diagnostic of a JSON report, sorted.
fn findings<'a>(diagnostics: impl IntoIterator<Item = &'a serde_json::Value>) -> Vec<Finding> {
    let mut v: Vec<Finding> = diagnostics
        .into_iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["severity"].as_str().unwrap().to_owned(),
                d["file"].as_str().unwrap_or("").to_owned(),
                d["span"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator(path: &Path) -> jsonschema::Validator {
    jsonschema::validator_for(&read_json(path)).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not validate:\n{}", errors.join("\n"));
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A product with a model for every transform compiles without a finding,
/// as it builds in its workspace: the models, property files and sources of
/// its directory are read, not only `dbt_project.yml`.
#[test]
fn compile_reads_the_products_dbt_project() {
    let ws = workspace("centralized");
    let out = tempfile::tempdir().unwrap();
    for product in ["orders", "customers"] {
        let spec = format!("{product}/floe.yaml");
        let dir = out.path().join(product);
        std::fs::create_dir(&dir).unwrap();
        let r = floe(
            ws.path(),
            &["platform", "compile", "--spec", &spec, "--manifest", "manifest.yaml", "--output", path_str(&dir)],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("warning") && !r.stderr.contains("error"), "{product}:\n{}", r.stderr);
        let artifacts = read_json(&dir.join("compiled_artifacts.json"));
        assert_eq!(artifacts["metadata"]["product_name"], product);
        let report = read_json(&dir.join("enforcement.json"));
        assert_eq!(report["violations"], serde_json::json!([]), "{product}");
    }
}

/// A domain manifest brings the enterprise manifest its `parent_manifest`
/// names: the product compiles as it builds in the mesh workspace, and the
/// artifacts carry both tiers.
#[test]
fn compile_resolves_a_domain_manifests_enterprise_manifest() {
    let ws = workspace("mesh");
    common::edit(&ws.path().join("sales/manifest.yaml"), |t| {
        t.replace("scope: domain\n", "scope: domain\nparent_manifest: ../manifest.yaml\n")
    });
    let out = tempfile::tempdir().unwrap();
    let r = floe(
        ws.path(),
        &[
            "platform",
            "compile",
            "--spec",
            "sales/orders/floe.yaml",
            "--manifest",
            "sales/manifest.yaml",
            "--output",
            path_str(out.path()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning") && !r.stderr.contains("error"), "{}", r.stderr);
    let artifacts = read_json(&out.path().join("compiled_artifacts.json"));
    assert_eq!(artifacts["mode"], "mesh");
    let chain: Vec<&str> =
        artifacts["inheritance_chain"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(chain, ["acme-enterprise", "sales"]);
    // The domain narrows the enterprise's compute; the enterprise's catalog is inherited.
    assert_eq!(artifacts["plugins"]["compute"]["config"]["threads"], 2);
    assert_eq!(artifacts["plugins"]["catalog"]["type"], "polaris");
}

/// The enterprise manifest anywhere on disk: found by the domain's
/// `parent_manifest`, and its findings reported at its real path.
#[test]
fn a_domain_names_its_enterprise_manifest_by_path() {
    let mesh = workspace("mesh");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("platform")).unwrap();
    std::fs::create_dir_all(root.join("domains/sales")).unwrap();
    let enterprise = std::fs::read_to_string(mesh.path().join("manifest.yaml")).unwrap().replace(
        "      warehouse: acme\n",
        "      warehouse: acme\n      oauth2:\n        client_id: floe\n        client_secret: plain-text-key\n",
    );
    std::fs::write(root.join("platform/manifest.yaml"), &enterprise).unwrap();
    let line = enterprise.lines().position(|l| l.contains("client_secret")).unwrap() as u64 + 1;
    let domain = std::fs::read_to_string(mesh.path().join("sales/manifest.yaml"))
        .unwrap()
        .replace("scope: domain\n", "scope: domain\nparent_manifest: ../../platform/manifest.yaml\n");
    std::fs::write(root.join("domains/sales/manifest.yaml"), domain).unwrap();
    copy_dir(&mesh.path().join("sales/orders"), &root.join("domains/sales/orders"));

    let r = floe(
        root,
        &[
            "platform",
            "compile",
            "-s",
            "domains/sales/orders/floe.yaml",
            "-m",
            "domains/sales/manifest.yaml",
            "-o",
            "out/compiled_artifacts.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        findings(report["diagnostics"].as_array().unwrap()),
        [("E0501".to_owned(), "warning".to_owned(), "platform/manifest.yaml".to_owned(), line)]
    );
    assert_eq!(report["written"], serde_json::json!(["out/compiled_artifacts.json"]));
    let artifacts = read_json(&root.join("out/compiled_artifacts.json"));
    assert_eq!(artifacts["mode"], "mesh");
    assert_eq!(artifacts["identity"]["domain"], "sales");
    assert!(!std::fs::read_to_string(root.join("out/compiled_artifacts.json")).unwrap().contains("plain-text-key"));
}

/// A domain manifest whose enterprise manifest cannot be found is reported
/// at the domain manifest, and nothing is written.
#[test]
fn a_domain_without_its_enterprise_manifest_is_reported_where_it_says_so() {
    let cases = [
        ("", "E0202", "scope: domain"),
        ("parent_manifest: ../missing/manifest.yaml\n", "E0202", "parent_manifest"),
        ("parent_manifest: oci://registry.example/platform:1.0.0\n", "E0209", "parent_manifest"),
        ("parent_manifest: manifest.yaml\n", "E0201", "parent_manifest"),
        ("parent_manifest: orders\n", "E0202", "parent_manifest"),
    ];
    for (parent, code, at) in cases {
        let ws = workspace("mesh");
        let path = ws.path().join("sales/manifest.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap().replace("scope: domain\n", &format!("scope: domain\n{parent}"));
        std::fs::write(&path, &text).unwrap();
        let line = text.lines().position(|l| l.starts_with(at)).unwrap() as u64 + 1;
        let r = floe(
            ws.path(),
            &[
                "platform",
                "compile",
                "--spec",
                "sales/orders/floe.yaml",
                "--manifest",
                "sales/manifest.yaml",
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 1, "{parent}: {}", r.stderr);
        let found = findings(r.json()["diagnostics"].as_array().unwrap());
        assert_eq!(found, [(code.to_owned(), "error".to_owned(), "sales/manifest.yaml".to_owned(), line)], "{parent}");
        assert!(!ws.path().join("target").exists(), "{parent}: something was written");
    }
}

/// The Python command's flags on the Python implementation's demos: each
/// product compiles, with the findings `floe build` reports for it, compiled
/// artifacts that validate against the Python schema and an enforcement
/// report that validates as SARIF (or, in JSON, against the Python schema).
#[test]
fn demo_products_compile_like_the_python_command() {
    let Some(conf) = conformance() else { return };
    let ws = tempfile::tempdir().unwrap();
    copy_dir(&conf.join("anchor-demo/demo"), ws.path());
    let build = floe(ws.path(), &["build", "//...", "--format", "json"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let build = build.json();
    let schemas = conf.join("schemas");
    let artifacts_schema = validator(&schemas.join("anchor/CompiledArtifacts.schema.json"));
    let enforcement_schema = validator(&schemas.join("anchor/EnforcementResult.schema.json"));
    let sarif_schema = validator(&schemas.join("sarif-schema-2.1.0.json"));
    for product in ["customer-360", "financial-risk", "iot-telemetry"] {
        let out = tempfile::tempdir().unwrap();
        let artifacts = out.path().join("compiled_artifacts.json");
        let sarif = out.path().join("enforcement.sarif");
        let spec = format!("{product}/floe.yaml");
        let r = floe(
            ws.path(),
            &[
                "platform",
                "compile",
                "-s",
                &spec,
                "-m",
                "manifest.yaml",
                "-o",
                path_str(&artifacts),
                "--enforcement-report",
                path_str(&sarif),
                "--enforcement-format",
                "sarif",
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{product}: {}", r.stderr);
        let expected = findings(build["diagnostics"].as_array().unwrap().iter().filter(|d| {
            let file = d["file"].as_str().unwrap_or("");
            file == "manifest.yaml" || file.starts_with(&format!("{product}/"))
        }));
        assert!(expected.iter().any(|f| f.0 == "E0710"), "{product}: the demo's coverage findings");
        assert_eq!(findings(r.json()["diagnostics"].as_array().unwrap()), expected, "{product}");

        let doc = read_json(&artifacts);
        assert_valid(&artifacts_schema, &doc, product);
        assert_eq!(doc["metadata"]["product_name"], product);
        assert_valid(&sarif_schema, &read_json(&sarif), product);
        let names: Vec<String> = common::tree(out.path()).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["compiled_artifacts.json", "enforcement.sarif"], "only what was asked for");

        // The enforcement report in its default format, JSON.
        let report = out.path().join("report/enforcement.json");
        let r = floe(
            ws.path(),
            &[
                "platform",
                "compile",
                "-s",
                &spec,
                "-m",
                "manifest.yaml",
                "-o",
                path_str(&artifacts),
                "--enforcement-report",
                path_str(&report),
            ],
        );
        assert_eq!(r.code, 0, "{product}: {}", r.stderr);
        assert_valid(&enforcement_schema, &read_json(&report), product);
    }
}

/// `--output-format yaml`, an HTML report and `--generate-definitions`: the
/// definitions beside the artifacts, every file byte-identical across runs,
/// and the YAML the same value as the JSON.
#[test]
fn python_flags_write_yaml_reports_and_definitions() {
    let ws = workspace("centralized");
    let run = |out: &str, format: &str, report: &str| {
        let artifacts = format!("{out}/nested/compiled_artifacts.{format}");
        let report_file = format!("{out}/enforcement.{report}");
        let r = floe(
            ws.path(),
            &[
                "platform",
                "compile",
                "--spec=orders/floe.yaml",
                "--manifest=manifest.yaml",
                "--output",
                &artifacts,
                "--output-format",
                format,
                "--enforcement-report",
                &report_file,
                "--enforcement-format",
                &report.to_uppercase(),
                "--generate-definitions",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.is_empty(), "data only on stdout: {}", r.stdout);
        assert!(r.stderr.contains(&format!("wrote {artifacts}")), "{}", r.stderr);
        common::tree(&ws.path().join(out))
    };
    let yaml = run("a", "yaml", "html");
    let names: Vec<&str> = yaml.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "enforcement.html",
            "nested/compiled_artifacts.yaml",
            "nested/datacontract-orders.yaml",
            "nested/definitions.py",
            "nested/requirements.txt",
            "nested/workspace.yaml"
        ]
    );
    assert!(yaml == run("b", "yaml", "html"), "a second run wrote other bytes");
    let json = run("c", "json", "sarif");
    assert!(json == run("d", "json", "sarif"), "a second run wrote other bytes");
    let file = |tree: &[(String, Vec<u8>)], name: &str| tree.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let from_yaml =
        floe_schemas::yaml::parse("a.yaml", &file(&yaml, "nested/compiled_artifacts.yaml")).unwrap().to_json();
    let from_json: serde_json::Value = serde_json::from_slice(&file(&json, "nested/compiled_artifacts.json")).unwrap();
    assert_eq!(from_yaml, from_json);
    assert!(String::from_utf8(file(&yaml, "enforcement.html")).unwrap().starts_with("<!DOCTYPE html>"));
    assert_eq!(file(&yaml, "nested/definitions.py"), file(&json, "nested/definitions.py"));

    // Without --output: where the Python command writes.
    let r = floe(ws.path(), &["platform", "compile", "-s", "orders/floe.yaml", "-m", "manifest.yaml", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let names: Vec<String> = common::tree(&ws.path().join("target")).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["compiled_artifacts.json"]);
}

/// `--output-format configmap`: a v1 ConfigMap whose `values.yaml` is the
/// compiled artifacts, where the Python command writes it unless told.
#[test]
fn configmap_output_holds_the_compiled_artifacts() {
    let ws = workspace("centralized");
    let base = ["platform", "compile", "-s", "orders/floe.yaml", "-m", "manifest.yaml", "--skip-contracts"];
    let r = floe(ws.path(), &[&base[..], &["-o", "a.json"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let artifacts = read_json(&ws.path().join("a.json"));
    let r = floe(ws.path(), &[&base[..], &["--output-format", "configmap", "--namespace", "floe-sales"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = ws.path().join("target/floe-compiled-values.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: floe-compiled-values\n  namespace: floe-sales\ndata:\n  values.yaml: |\n    "), "{text}");
    let cm = floe_schemas::yaml::parse("cm.yaml", text.as_bytes()).unwrap().to_json();
    let values = cm["data"]["values.yaml"].as_str().unwrap();
    assert_eq!(floe_schemas::yaml::parse("values.yaml", values.as_bytes()).unwrap().to_json(), artifacts);
    // Named, without a namespace, at a path of its own; the same bytes every time.
    let named = [&base[..], &["--output-format=configmap", "--configmap-name", "sales.orders-values", "-o", "cm.yaml"]]
        .concat();
    assert_eq!(floe(ws.path(), &named).code, 0);
    let text = std::fs::read(ws.path().join("cm.yaml")).unwrap();
    let cm = floe_schemas::yaml::parse("cm.yaml", &text).unwrap().to_json();
    assert_eq!(cm["metadata"], serde_json::json!({"name": "sales.orders-values"}));
    assert_eq!(floe(ws.path(), &named).code, 0);
    assert_eq!(std::fs::read(ws.path().join("cm.yaml")).unwrap(), text);
    // A ConfigMap flag without the ConfigMap format is said to do nothing.
    let r = floe(ws.path(), &[&base[..], &["--namespace", "floe-sales"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: --configmap-name and --namespace are only used with --output-format configmap"),
        "{}",
        r.stderr
    );
}

/// What the command cannot do is a usage error (exit 2) that writes nothing.
#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let ws = workspace("centralized");
    let cases: &[&[&str]] = &[
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "--output-format", "toml"],
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "--drift-detection"],
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "--output-format=configmap", "--configmap-name", "Values"],
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "--output-format=configmap", "--namespace", "a.b"],
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "--enforcement-report", "r", "--enforcement-format", "pdf"],
        &["-m", "manifest.yaml"],
        &["-s", "orders", "-m", "manifest.yaml"],
        &["-s", "orders/missing.yaml", "-m", "manifest.yaml"],
        &["-s", "orders/floe.yaml", "-m", "manifest.yaml", "-o", "x.json", "--enforcement-report", "x.json"],
    ];
    for args in cases {
        let mut all = vec!["platform", "compile"];
        all.extend_from_slice(args);
        let r = floe(ws.path(), &all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert!(r.stderr.starts_with("error:"), "{args:?}: {}", r.stderr);
        assert!(!ws.path().join("x.json").exists() && !ws.path().join("target").exists(), "{args:?} wrote");
    }
}

fn mkfifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
}

/// The product's directory is read as a build reads it: dbt's own
/// directories and packages below the product are not the product's, a FIFO
/// is reported and never opened, a link out of the directory not followed.
#[test]
fn the_product_directory_is_read_as_a_build_reads_it() {
    let limit = std::time::Duration::from_secs(60);
    let compile = |ws: &Path| {
        common::floe_within(
            ws,
            &["platform", "compile", "-s", "orders/floe.yaml", "-m", "manifest.yaml", "--format", "json"],
            limit,
        )
    };
    let ws = workspace("centralized");
    let orders = ws.path().join("orders");
    for dir in ["target/run/orders/models", "dbt_packages/utils/models", "logs", "nested/models"] {
        std::fs::create_dir_all(orders.join(dir)).unwrap();
    }
    mkfifo(&orders.join("target/run/orders/models/stg_orders.sql"));
    mkfifo(&orders.join("dbt_packages/utils/models/x.sql"));
    mkfifo(&orders.join("nested/models/z.sql"));
    std::fs::write(orders.join("nested/floe.yaml"), "not: [a product").unwrap();
    std::fs::write(orders.join("nested/models/y.sql"), "select * from {{ ref('nowhere') }}").unwrap();
    let r = compile(ws.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["diagnostics"], serde_json::json!([]));
    std::fs::remove_dir_all(ws.path().join("target")).unwrap();

    mkfifo(&orders.join("models/extra.sql"));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("elsewhere.sql"), "select 1").unwrap();
    std::os::unix::fs::symlink(outside.path().join("elsewhere.sql"), orders.join("models/linked.sql")).unwrap();
    let r = compile(ws.path());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found: Vec<(String, String)> =
        findings(r.json()["diagnostics"].as_array().unwrap()).into_iter().map(|(c, _, f, _)| (c, f)).collect();
    assert_eq!(
        found,
        [
            ("E0212".to_owned(), "orders/models/extra.sql".to_owned()),
            ("E0213".to_owned(), "orders/models/linked.sql".to_owned())
        ]
    );
    assert!(!ws.path().join("target").exists(), "a failed compilation wrote");
}

/// A directory far larger than a dbt project is refused before it is read.
#[test]
fn a_huge_product_directory_is_refused() {
    let ws = workspace("centralized");
    let dir = ws.path().join("orders/models/generated");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..20_001 {
        std::fs::write(dir.join(format!("m{i}.sql")), "").unwrap();
    }
    let r = floe(ws.path(), &["platform", "compile", "-s", "orders/floe.yaml", "-m", "manifest.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("build it in a workspace with `floe build`"), "{}", r.stderr);
    assert!(!ws.path().join("target").exists());
}
