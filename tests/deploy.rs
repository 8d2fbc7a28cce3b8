//! `floe deploy`, `floe diff`, `floe status` and `floe platform deploy`
//! against the fake Kubernetes API server (`tests/kube/fake_apiserver.py`),
//! reached through real kubeconfigs: a mesh workspace deployed twice (the
//! second time without a write), an edited product (only its objects
//! written), a removed one (pruned), scoped prunes, objects floe does not
//! manage, injected errors and timeouts, unreachable and forbidding
//! servers, HTTPS with a token, a client certificate or an exec plugin, and
//! no credential in any output. The fake's request log is the witness of
//! what was written.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run a server and floe

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::kube::{FakeKube, Fault, READ_TOKEN, Setup, TOKEN, client_cert, fake_kube, fake_kube_with};
use common::{Run, floe_cmd, run_within};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);

/// floe in `ws` against `kubeconfig`, with `env` set, killed after [`LIMIT`].
fn floe_env(ws: &Path, kubeconfig: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = floe_cmd(ws);
    cmd.args(args).arg("--kubeconfig").arg(kubeconfig).env_remove("KUBECONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_within(cmd, None, LIMIT, &args.join(" "))
}

fn floe(ws: &Path, kube: &FakeKube, args: &[&str]) -> Run {
    floe_env(ws, &kube.kubeconfig, args, &[])
}

#[track_caller]
fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// A copy of testdata/mesh, and a fake server.
fn setup() -> Option<(tempfile::TempDir, FakeKube)> {
    let kube = fake_kube()?;
    Some((common::workspace("mesh"), kube))
}

/// The paths of the requests that wrote, since the log was last reset.
fn written(kube: &FakeKube) -> BTreeSet<String> {
    kube.requests().iter().filter(|r| r["write"] == true).map(|r| r["path"].as_str().unwrap().to_owned()).collect()
}

/// The objects of every `k8s.yaml` the build wrote (floe's emitter quotes
/// every string, so its YAML is read back by its own parser through kubectl-free means).
fn rendered(ws: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for (path, bytes) in common::tree(&ws.join("floe-out")) {
        if path.ends_with("k8s.yaml") {
            let text = String::from_utf8(bytes).unwrap();
            for doc in text.split("---\n").filter(|d| !d.trim().is_empty()) {
                out.push(yaml_doc(doc));
            }
        }
    }
    out
}

/// One document of floe's YAML: block maps and lists, double-quoted strings,
/// numbers and booleans; enough to compare names and annotations.
fn yaml_doc(doc: &str) -> Value {
    let mut root = json!({});
    let mut stack: Vec<(usize, Vec<String>)> = vec![];
    for line in doc.lines() {
        let indent = line.len() - line.trim_start().len();
        let l = line.trim_start();
        if l.starts_with('-') {
            continue; // lists are not compared
        }
        let Some((key, value)) = l.split_once(':') else { continue };
        let key = key.trim_matches('"').to_owned();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut path: Vec<String> = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
        path.push(key);
        let value = value.trim();
        if value.is_empty() {
            stack.push((indent, path));
        } else if let Ok(v) = serde_json::from_str::<Value>(value) {
            let mut at = &mut root;
            for seg in &path[..path.len() - 1] {
                at = at.as_object_mut().unwrap().entry(seg.clone()).or_insert(json!({}));
                if !at.is_object() {
                    break;
                }
            }
            if let Some(m) = at.as_object_mut() {
                m.insert(path.last().unwrap().clone(), v);
            }
        }
    }
    root
}

/// `(kind, namespace, name)` of what floe manages on the server.
fn managed(kube: &FakeKube) -> BTreeSet<(String, String, String)> {
    kube.objects()
        .iter()
        .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "floe")
        .filter(|o| o["metadata"]["annotations"]["floe.dev/package"].is_string())
        .map(|o| {
            let m = &o["metadata"];
            (
                o["kind"].as_str().unwrap().to_owned(),
                m["namespace"].as_str().unwrap_or("").to_owned(),
                m["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ids(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            (
                o["kind"].as_str().unwrap().to_owned(),
                m["namespace"].as_str().unwrap_or("").to_owned(),
                m["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The human output, with what changes between floe versions (derivation
/// keys, and the Job names made of them) masked.
fn stable(text: &str) -> String {
    let hex = |s: &str, n: usize| s.len() >= n && s[..n].bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("blake3:") && hex(&rest[7..], 64) {
            out.push_str("blake3:[key]");
            rest = &rest[71..];
        } else if c == '-' && hex(&rest[1..], 10) && !rest[11..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
            out.push_str("-[key]");
            rest = &rest[11..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn a_mesh_is_deployed_then_left_alone_then_updated_and_pruned_product_by_product() {
    let Some((ws, kube)) = setup() else { return };
    let ws = ws.path();

    // First deploy: every rendered object created, and the records say so.
    let first = floe(ws, &kube, &["deploy", "--format", "json"]);
    ok(&first);
    let doc = first.json();
    let records = doc["objects"].as_array().unwrap();
    let want = rendered(ws);
    assert_eq!(records.len(), want.len(), "{doc}");
    assert!(records.iter().all(|r| r["action"] == "created"), "{doc}");
    assert_eq!(doc["summary"]["created"], want.len());
    assert_eq!(managed(&kube), ids(&want));
    for o in &want {
        let m = &o["metadata"];
        let live = kube.object(
            o["kind"].as_str().unwrap(),
            m["namespace"].as_str().unwrap_or(""),
            m["name"].as_str().unwrap(),
        );
        let live = live.unwrap();
        assert_eq!(live["metadata"]["annotations"], m["annotations"]);
        // The API server names a namespace in a label of its own.
        let mut labels = live["metadata"]["labels"].clone();
        if o["kind"] == "Namespace" {
            labels.as_object_mut().unwrap().remove("kubernetes.io/metadata.name");
        }
        assert_eq!(labels, m["labels"]);
        let manager = live["metadata"]["managedFields"][0]["manager"].clone();
        assert_eq!(manager, "floe", "applied by the field manager floe: {live}");
    }
    let record = records.iter().find(|r| r["kind"] == "CronJob" && r["name"] == "orders").unwrap();
    assert_eq!(record["namespace"], "floe-sales");
    assert_eq!(record["package"], "//sales/orders");
    assert!(record["derivation"].as_str().unwrap().starts_with("blake3:"));

    // Second deploy: not one write, and no GET per object (lists only).
    kube.reset_log();
    let second = floe(ws, &kube, &["deploy"]);
    ok(&second);
    assert_eq!(kube.writes(), 0, "{:#?}", kube.requests());
    let gets = kube.requests().iter().filter(|r| r["method"] == "GET").count();
    assert!(gets <= 20, "{gets} GETs for {} objects: lists, not a GET per object", want.len());
    assert!(
        second.stderr.contains(&format!("deployed to fake: 0 created, 0 updated, {} unchanged, 0 pruned", want.len())),
        "{}",
        second.stderr
    );

    // Status: every product current, never run (the fake runs nothing).
    let status = floe(ws, &kube, &["status", "--format", "json"]);
    ok(&status);
    let rows = status.json()["products"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        assert_eq!(row["state"], "current", "{row}");
        assert_eq!(row["desired"], row["live"]);
        assert_eq!(row["last_run"], "never");
    }
    let table = floe(ws, &kube, &["status"]);
    ok(&table);
    assert!(table.stdout.lines().next().unwrap().starts_with("PRODUCT"), "{}", table.stdout);
    assert!(table.stdout.contains("//sales/orders") && table.stdout.contains("never"), "{}", table.stdout);

    // An edited product: diff shows exactly its objects, a dry run writes
    // nothing, and the deploy writes only them.
    common::edit(&ws.join("sales/orders/floe.yaml"), |t| {
        t.replace("Orders from the web shop and the stores", "Orders from every channel")
    });
    let mine: BTreeSet<String> = [
        "/api/v1/namespaces/floe-sales/serviceaccounts/orders",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/floe-sales/roles/orders",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/floe-sales/rolebindings/orders",
        "/api/v1/namespaces/floe-sales/configmaps/orders-artifacts",
        "/apis/batch/v1/namespaces/floe-sales/cronjobs/orders",
    ]
    .map(str::to_owned)
    .into();
    kube.reset_log();
    let diff = floe(ws, &kube, &["diff"]);
    ok(&diff);
    let headers: BTreeSet<&str> = diff.stdout.lines().filter_map(|l| l.strip_prefix("+++ desired/")).collect();
    assert_eq!(
        headers,
        [
            "ServiceAccount/floe-sales/orders",
            "Role/floe-sales/orders",
            "RoleBinding/floe-sales/orders",
            "ConfigMap/floe-sales/orders-artifacts",
            "CronJob/floe-sales/orders"
        ]
        .into(),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("-    \"floe.dev/derivation\""), "{}", diff.stdout);
    assert!(diff.stdout.contains("+    \"floe.dev/derivation\""), "{}", diff.stdout);
    assert_eq!(kube.writes(), 0, "diff previews with dry runs only");
    let code = floe(ws, &kube, &["diff", "--exit-code"]).code;
    assert_eq!(code, 1, "--exit-code: 1 when something differs");

    let dry = floe(ws, &kube, &["deploy", "--dry-run", "--format", "json"]);
    ok(&dry);
    assert_eq!(dry.json()["summary"]["updated"], 5);
    assert_eq!(kube.writes(), 0, "a dry run writes nothing");
    assert_eq!(kube.changes(), 0);
    let dry_runs = kube.requests().iter().filter(|r| r["dry_run"] == true).count();
    assert!(dry_runs >= 5, "the dry run asked the server: {dry_runs}");

    kube.reset_log();
    let edited = floe(ws, &kube, &["deploy"]);
    ok(&edited);
    assert_eq!(written(&kube), mine, "{}", edited.stderr);
    assert!(
        edited
            .stderr
            .contains(&format!("deployed to fake: 0 created, 5 updated, {} unchanged, 0 pruned", want.len() - 5)),
        "{}",
        edited.stderr
    );
    let ok_diff = floe(ws, &kube, &["diff", "--exit-code"]);
    assert_eq!((ok_diff.code, ok_diff.stdout.as_str()), (0, ""), "nothing left to diff");

    // A removed product: its objects pruned, nothing else written.
    std::fs::remove_dir_all(ws.join("sales/pipeline-forecast")).unwrap();
    kube.reset_log();
    let pruned = floe(ws, &kube, &["deploy", "--format", "json"]);
    ok(&pruned);
    let doc = pruned.json();
    let gone: Vec<&Value> = doc["objects"].as_array().unwrap().iter().filter(|r| r["action"] == "pruned").collect();
    assert_eq!(gone.len(), 5, "{doc}");
    assert!(gone.iter().all(|r| r["package"] == "//sales/pipeline-forecast"));
    let deletes =
        kube.requests().iter().filter(|r| r["write"] == true).map(|r| r["method"].clone()).collect::<Vec<_>>();
    assert_eq!(deletes, ["DELETE"; 5]);
    assert!(managed(&kube).iter().all(|(_, _, name)| !name.starts_with("pipeline-forecast")));
    assert_eq!(managed(&kube), ids(&rendered(ws)));
}

#[test]
fn the_human_report_lists_each_written_object() {
    let Some((ws, kube)) = setup() else { return };
    let first = floe(ws.path(), &kube, &["deploy", "//sales/orders", "//finance/..."]);
    ok(&first);
    insta::assert_snapshot!("first_deploy", stable(&first.stderr));
    std::fs::remove_dir_all(ws.path().join("finance/revenue")).unwrap();
    let again = floe(ws.path(), &kube, &["deploy", "//sales/orders", "//finance/...", "--dry-run"]);
    ok(&again);
    insta::assert_snapshot!("dry_run_prune", stable(&again.stderr));
}

#[test]
fn a_scoped_deploy_prunes_only_in_its_scope_and_never_what_floe_does_not_own() {
    let Some((ws, kube)) = setup() else { return };
    let ws = ws.path();
    ok(&floe(ws, &kube, &["deploy"]));
    // Beside floe's: a ConfigMap of someone else, one with floe's label but
    // no package annotation, and one of a package outside the scope.
    for (name, labels, annotations) in [
        ("theirs", json!({}), json!({})),
        ("labelled", json!({"app.kubernetes.io/managed-by": "floe"}), json!({})),
        ("elsewhere", json!({"app.kubernetes.io/managed-by": "floe"}), json!({"floe.dev/package": "//finance/old"})),
    ] {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": name, "namespace": "floe-sales", "labels": labels, "annotations": annotations}});
        let (code, answer) = kube.request(
            "POST",
            "/api/v1/namespaces/floe-sales/configmaps",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(code, 201, "{answer}");
    }
    std::fs::remove_dir_all(ws.join("finance/revenue")).unwrap();
    kube.reset_log();
    let sales = floe(ws, &kube, &["deploy", "//sales/..."]);
    ok(&sales);
    assert_eq!(kube.writes(), 0, "finance's objects are outside //sales/...: {}", sales.stderr);
    kube.reset_log();
    let all = floe(ws, &kube, &["deploy", "--format", "json"]);
    ok(&all);
    let pruned: BTreeSet<String> = all.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "pruned")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(pruned.contains("elsewhere") && pruned.contains("revenue-artifacts"), "{pruned:?}");
    for name in ["theirs", "labelled"] {
        assert!(kube.object("ConfigMap", "floe-sales", name).is_some(), "{name} is not floe's to prune");
        assert!(!pruned.contains(name));
    }
}

#[test]
fn transient_failures_are_retried() {
    let Some((ws, kube)) = setup() else { return };
    let ws = ws.path();
    kube.inject("PATCH", "configmaps/orders-artifacts", 1, Fault::Status(500));
    kube.inject("PATCH", "serviceaccounts/revenue", 1, Fault::Status(409));
    kube.inject("PATCH", "cronjobs/risk-exposure", 1, Fault::Slow(Duration::from_secs(3)));
    kube.inject("PATCH", "serviceaccounts/customers", 1, Fault::Hang(Duration::ZERO));
    kube.inject("GET", "cronjobs", 1, Fault::TooManyRequests(0));
    let r = floe_env(ws, &kube.kubeconfig, &["deploy"], &[("FLOE_KUBE_TIMEOUT", "1")]);
    ok(&r);
    assert!(r.stderr.contains(&format!("{} created", rendered(ws).len())), "{}", r.stderr);
    assert_eq!(managed(&kube), ids(&rendered(ws)));
    let answered = |path: &str, codes: &[u64]| {
        kube.requests()
            .iter()
            .any(|q| q["path"].as_str().unwrap().ends_with(path) && codes.contains(&q["code"].as_u64().unwrap()))
    };
    assert!(
        answered("configmaps/orders-artifacts", &[500]) && answered("configmaps/orders-artifacts", &[200, 201]),
        "{:#?}",
        kube.requests()
    );
    assert!(answered("serviceaccounts/revenue", &[409]) && answered("serviceaccounts/revenue", &[200, 201]));
    assert!(answered("serviceaccounts/customers", &[0]) && answered("serviceaccounts/customers", &[200, 201]));
    kube.reset_log();
    ok(&floe(ws, &kube, &["deploy"]));
    assert_eq!(kube.writes(), 0);
}

#[test]
fn a_persistent_failure_says_what_was_and_was_not_applied() {
    let Some((ws, kube)) = setup() else { return };
    let ws = ws.path();
    kube.inject("PATCH", r"cronjobs/orders\?", 100, Fault::Status(500));
    let r = floe(ws, &kube, &["deploy"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let err = &r.stderr;
    assert!(err.contains("error: the deploy to context `fake` stopped: 1 object failed"), "{err}");
    assert!(err.contains("applying CronJob floe-sales/orders (after 5 attempts): 500 InternalError"), "{err}");
    assert!(err.contains("namespace floe-sales: applied "), "{err}");
    assert!(err.contains("not applied CronJob orders (to be created)"), "{err}");
    assert!(
        err.contains("namespace floe-finance: applied ") && err.contains("ServiceAccount revenue (created)"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let tries = kube.requests().iter().filter(|q| q["path"].as_str().unwrap().ends_with("cronjobs/orders")).count();
    assert_eq!(tries, 5);
    // Once the server is well again, the rest is applied.
    kube.request("DELETE", "/_fake/inject", "", b"");
    let again = floe(ws, &kube, &["deploy", "--format", "json"]);
    ok(&again);
    assert_eq!(again.json()["summary"]["created"], 1);
}

#[test]
fn unreachable_and_forbidding_servers_end_with_exit_3_and_one_cause() {
    let Some((ws, kube)) = setup() else { return };
    let ws = ws.path();
    // Nothing listens at the port of a server that was stopped.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = ws.join("dead.kubeconfig");
    std::fs::write(&dead, kube.kubeconfig_text(TOKEN, None).replace(&format!(":{}", kube.port), &format!(":{port}")))
        .unwrap();
    let r = floe_env(ws, &dead, &["deploy"], &[("FLOE_KUBE_TIMEOUT", "2")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("cannot reach the API server http://127.0.0.1:{port} (context `fake`)")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("(after 5 attempts)") && r.stderr.contains("= help: "), "{}", r.stderr);

    let Some(tls) = common::registry::tls() else { return };
    let Some(kube) = fake_kube_with(&Setup { tls: Some(&tls), read_token: true, ..Setup::default() }) else { return };
    let ca = base64(&std::fs::read(&tls.ca).unwrap());
    let reader = ws.join("reader.kubeconfig");
    std::fs::write(&reader, kube.kubeconfig_text(READ_TOKEN, Some(&ca))).unwrap();
    let r = floe_env(ws, &reader, &["deploy"], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("403 Forbidden"), "{}", r.stderr);
    assert!(r.stderr.contains("not applied"), "{}", r.stderr);
    assert!(r.stderr.contains("refused the user of context `fake`"), "{}", r.stderr);
    let wrong = ws.join("wrong.kubeconfig");
    std::fs::write(&wrong, kube.kubeconfig_text("not-the-token-Pq7", Some(&ca))).unwrap();
    let r = floe_env(ws, &wrong, &["deploy"], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("did not accept the credentials"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-token-Pq7"), "{}", r.stderr);
    // A context the kubeconfig does not have is the user's mistake.
    let r = floe_env(ws, &reader, &["deploy", "--context", "prod"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no context `prod`") && r.stderr.contains("it has: fake"), "{}", r.stderr);
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn https_with_a_token_a_client_certificate_or_an_exec_plugin_and_no_secret_in_any_output() {
    let Some(tls) = common::registry::tls() else { return };
    if common::registry::program("kubectl").is_none() {
        return;
    }
    let Some(kube) = fake_kube_with(&Setup { tls: Some(&tls), client_ca: Some(&tls.ca), ..Setup::default() }) else {
        return;
    };
    let ws = common::workspace("mesh");
    let ws = ws.path();
    let ca = base64(&std::fs::read(&tls.ca).unwrap());
    let server = kube.server();
    let mut outputs = Vec::new();

    // A token, in a kubeconfig found through KUBECONFIG (a list, merged: the
    // first file's current-context, the second file's context).
    let other = ws.join("other.kubeconfig");
    std::fs::write(&other, "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\nclusters: []\nusers: []\ncontexts:\n- name: elsewhere\n  context:\n    cluster: none\n    user: none\n").unwrap();
    let list = format!("{}:{}:{}", ws.join("missing").display(), kube.kubeconfig.display(), other.display());
    let mut cmd = floe_cmd(ws);
    cmd.args(["deploy", "--context", "fake"]).env("KUBECONFIG", &list);
    let r = run_within(cmd, None, LIMIT, "deploy");
    ok(&r);
    assert!(r.stderr.contains(&format!("deployed to fake: {} created", rendered(ws).len())), "{}", r.stderr);
    outputs.push(r);

    // A client certificate.
    let (cert, key) = client_cert(&tls);
    let key_pem = std::fs::read(&key).unwrap();
    let certs = ws.join("cert.kubeconfig");
    std::fs::write(
        &certs,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
             users:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
             contexts:\n- name: by-cert\n  context:\n    cluster: c\n    user: u\ncurrent-context: by-cert\n",
            base64(&std::fs::read(&cert).unwrap()),
            base64(&key_pem)
        ),
    )
    .unwrap();
    kube.reset_log();
    let r = floe_env(ws, &certs, &["deploy"], &[]);
    ok(&r);
    assert!(r.stderr.contains("deployed to by-cert: 0 created, 0 updated, 55 unchanged"), "{}", r.stderr);
    assert!(kube.requests().iter().all(|q| q["code"] == 200), "{:#?}", kube.requests());
    outputs.push(r);
    outputs.push(floe_env(ws, &certs, &["status", "--format", "json"], &[]));

    // An exec credential plugin printing an ExecCredential with the token.
    let plugin = ws.join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exec = ws.join("exec.kubeconfig");
    std::fs::write(
        &exec,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
             users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n\
             contexts:\n- name: by-exec\n  context:\n    cluster: c\n    user: u\ncurrent-context: by-exec\n",
            plugin.display()
        ),
    )
    .unwrap();
    let r = floe_env(ws, &exec, &["status"], &[]);
    ok(&r);
    assert!(r.stdout.contains("current"), "{}", r.stdout);
    outputs.push(r);
    let r = floe_env(ws, &exec, &["diff"], &[]);
    ok(&r);
    outputs.push(r);

    // Failures quote no credential either.
    let bad = ws.join("bad.kubeconfig");
    std::fs::write(&bad, kube.kubeconfig_text("floe-kube-token-wrong-planted-9", Some(&ca))).unwrap();
    outputs.push(floe_env(ws, &bad, &["deploy", "-v"], &[]));
    outputs.push(floe_env(ws, &bad, &["status", "--format", "json"], &[]));

    let key_text = String::from_utf8(key_pem).unwrap();
    let key_line = key_text.lines().nth(1).unwrap();
    for r in &outputs {
        for secret in [TOKEN, "floe-kube-token-wrong-planted-9", key_line] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "a credential leaked:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
    }
    let log = std::fs::read_to_string(kube.dir.path().join("requests.jsonl")).unwrap();
    assert!(!log.contains(TOKEN));
}

#[test]
fn platform_deploy_prints_the_helm_command_without_helm() {
    let ws = common::workspace("mesh");
    let ws = ws.path();
    let mut cmd = floe_cmd(ws);
    cmd.args(["platform", "deploy", "--chart", "charts/floe-platform"]).env("PATH", "/nonexistent");
    let r = run_within(cmd, None, LIMIT, "platform deploy");
    ok(&r);
    let values = ws.join("floe-out/floe-platform.values.yaml");
    assert!(values.is_file());
    assert_eq!(
        r.stdout,
        format!(
            "helm upgrade --install floe-platform charts/floe-platform -f {} --namespace floe-platform --create-namespace\n",
            values.display()
        )
    );
    assert!(r.stderr.contains("helm is not on PATH"), "{}", r.stderr);
    // Outside floe's repository, with no --chart, there is no chart to name.
    let mut cmd = floe_cmd(ws);
    cmd.args(["platform", "deploy"]).env("PATH", "/nonexistent");
    let r = run_within(cmd, None, LIMIT, "platform deploy");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--chart"), "{}", r.stderr);
}

/// The helm path with a stub `helm` that records its arguments: this tests
/// only how floe invokes helm (no Helm, no cluster, is involved).
#[test]
fn platform_deploy_runs_helm_when_it_is_on_path() {
    let ws = common::workspace("mesh");
    let ws = ws.path();
    let bin = ws.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let argv = ws.join("argv");
    // On PATH as a link to the program, as package managers install it.
    let program = ws.join("helm-v4");
    std::fs::write(
        &program,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\necho 'Release \"x\" has been upgraded.'\n", argv.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&program, bin.join("helm")).unwrap();
    let mut cmd = floe_cmd(ws);
    cmd.args([
        "platform",
        "deploy",
        "--chart",
        "oci://charts.example/floe-platform",
        "--release",
        "acme",
        "--namespace",
        "data-platform",
        "--context",
        "prod",
    ])
    .env("PATH", &bin);
    let r = run_within(cmd, None, LIMIT, "platform deploy");
    ok(&r);
    assert_eq!(r.stdout, "", "helm's output goes to stderr");
    assert!(r.stderr.contains("has been upgraded") && r.stderr.contains("installed release acme"), "{}", r.stderr);
    let values = ws.join("floe-out/floe-platform.values.yaml");
    let got = std::fs::read_to_string(argv).unwrap();
    let want = format!(
        "upgrade\n--install\nacme\noci://charts.example/floe-platform\n-f\n{}\n--namespace\ndata-platform\n--create-namespace\n--kube-context\nprod\n",
        values.display()
    );
    assert_eq!(got, want);
}
