//! The fake Kubernetes API server (`tests/kube/fake_apiserver.py`) that
//! `floe deploy` is tested against, driven by the real `kubectl`: server-side
//! apply creates, and an identical re-apply changes nothing; label
//! selectors; `diff --server-side` (dry run); deletion; conflicts between
//! field managers; injected errors, throttling and timeouts; HTTPS with a CA
//! and a bearer token. And raw requests for what kubectl does not show:
//! discovery, YAML apply bodies, `Status` errors, generations.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run a server and kubectl

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::kube::{FakeKube, Fault, NAMESPACE, Setup, TOKEN, fake_kube, fake_kube_with};
use common::registry::{program, tls};
use common::{Run, run_within};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// A namespace, a ConfigMap and a CronJob, as a product's deployment has
/// them, each with the path a server-side apply of it goes to.
const OBJECTS: [(&str, &str); 3] = [
    ("/api/v1/namespaces/floe-test", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: floe-test\n"),
    (
        "/api/v1/namespaces/floe-test/configmaps/settings",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: floe-test
  labels: {app: orders, tier: data}
data:
  mode: batch
"#,
    ),
    (
        "/apis/batch/v1/namespaces/floe-test/cronjobs/nightly",
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: floe-test
  labels: {app: orders, tier: jobs}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: run
            image: registry.example/orders:1
"#,
    ),
];

/// The objects as one stream of YAML documents, as kubectl reads them.
fn base() -> String {
    OBJECTS.map(|(_, doc)| doc).join("---\n")
}

/// Applies the objects as field manager `floe` without kubectl (faster),
/// for tests about something else.
fn seed(kube: &FakeKube) {
    for (path, doc) in OBJECTS {
        let (code, body) =
            kube.request("PATCH", &format!("{path}?fieldManager=floe"), "application/apply-patch+yaml", doc.as_bytes());
        assert_eq!(code, 201, "{body}");
    }
}

/// kubectl and a plain server, or `None` (recorded as skipped).
fn setup() -> Option<(PathBuf, FakeKube)> {
    let kubectl = program("kubectl")?;
    Some((kubectl, fake_kube()?))
}

fn kubectl(kube: &FakeKube, exe: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = kube.kubectl(exe);
    cmd.args(args);
    run_within(cmd, stdin, LIMIT, &format!("kubectl {}", args.join(" ")))
}

/// `kubectl apply --server-side` of `manifests` as field manager `manager`.
fn apply(kube: &FakeKube, exe: &Path, manifests: &str, manager: &str, extra: &[&str]) -> Run {
    let args = [&["apply", "--server-side", "--field-manager", manager, "-f", "-"][..], extra].concat();
    kubectl(kube, exe, &args, Some(manifests))
}

/// Each stored object's `kind/name` and resourceVersion.
fn versions(kube: &FakeKube) -> BTreeMap<String, String> {
    kube.objects()
        .iter()
        .map(|o| {
            let name = format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap());
            (name, o["metadata"]["resourceVersion"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

/// `text` fit for a URL's query.
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn logged<'a>(requests: &'a [Value], method: &str) -> Vec<&'a Value> {
    requests.iter().filter(|r| r["method"] == method).collect()
}

#[test]
fn server_side_apply_creates_and_an_identical_reapply_changes_nothing() {
    let Some((exe, kube)) = setup() else { return };
    let first = apply(&kube, &exe, &base(), "floe", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    for line in ["namespace/floe-test", "configmap/settings", "cronjob.batch/nightly"] {
        assert!(first.stdout.contains(&format!("{line} serverside-applied")), "{}", first.stdout);
    }
    let requests = kube.requests();
    let patches = logged(&requests, "PATCH");
    assert_eq!(patches.len(), 3, "{requests:#?}");
    for p in &patches {
        assert_eq!(p["code"], 201, "{p}");
        assert_eq!(p["changed"], true, "{p}");
        assert_eq!(p["content_type"], "application/apply-patch+yaml", "{p}");
        assert!(p["query"].as_str().unwrap().contains("fieldManager=floe"), "{p}");
    }
    // Counter-based uids and timestamps: the seeded namespaces and CRD
    // took the first four.
    let cm = kube.object("ConfigMap", NAMESPACE, "settings").unwrap();
    assert_eq!(cm["metadata"]["uid"], "00000000-0000-4000-8000-000000000006", "{cm}");
    assert_eq!(cm["metadata"]["creationTimestamp"], "2025-01-01T00:00:06Z", "{cm}");
    assert_eq!(cm["metadata"].get("generation"), None, "ConfigMaps have no generation: {cm}");
    let managed = &cm["metadata"]["managedFields"];
    assert_eq!(managed.as_array().unwrap().len(), 1, "{managed}");
    assert_eq!(managed[0]["manager"], "floe");
    assert_eq!(managed[0]["operation"], "Apply");
    assert_eq!(
        managed[0]["fieldsV1"],
        serde_json::json!({"f:data": {"f:mode": {}}, "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}})
    );

    // Again, identical: kubectl patches each object, the server changes none.
    let before = versions(&kube);
    let (writes, changes) = (kube.writes(), kube.changes());
    let again = apply(&kube, &exe, &base(), "floe", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(versions(&kube), before);
    assert_eq!(kube.writes(), writes + 3);
    assert_eq!(kube.changes(), changes);
    let requests = kube.requests();
    for p in logged(&requests, "PATCH").iter().skip(3) {
        assert_eq!((p["code"].as_u64(), p["changed"].as_bool()), (Some(200), Some(false)), "{p}");
    }

    // One object edited: only it changes; a label is not its spec.
    let edited = base().replace("mode: batch", "mode: stream").replace("tier: jobs", "tier: cron");
    let third = apply(&kube, &exe, &edited, "floe", &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let after = versions(&kube);
    let moved: Vec<&String> = after.keys().filter(|k| after[*k] != before[*k]).collect();
    assert_eq!(moved, ["ConfigMap/settings", "CronJob/nightly"]);
    assert_eq!(kube.changes(), changes + 2);
    let cron = kube.object("CronJob", NAMESPACE, "nightly").unwrap();
    assert_eq!(cron["metadata"]["generation"], 1, "{cron}");
    let get = kubectl(&kube, &exe, &["get", "configmap", "settings", "-o", "json"], None);
    assert_eq!(get.code, 0, "{}", get.stderr);
    assert_eq!(get.json()["data"]["mode"], "stream");
}

#[test]
fn label_selectors_select_what_kubectl_asks_for() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);
    for (name, labels) in [("web", "{app: orders, tier: web}"), ("bills", "{app: billing}"), ("bare", "{}")] {
        let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {labels}}}\n");
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps/{name}?fieldManager=floe");
        let (code, body) = kube.request("PATCH", &path, "application/apply-patch+yaml", doc.as_bytes());
        assert_eq!(code, 201, "{body}");
    }
    for (selector, expected) in [
        ("app=orders", &["settings", "web"][..]),
        ("tier in (web,data)", &["settings", "web"]),
        ("app!=orders", &["bare", "bills"]),
    ] {
        let get = kubectl(&kube, &exe, &["get", "configmaps", "-l", selector, "-o", "json"], None);
        assert_eq!(get.code, 0, "{selector}: {}", get.stderr);
        assert_eq!(names(&get.json()), expected, "{selector}");
    }
    // Every form, without kubectl's start-up each time.
    for (selector, expected) in [
        ("app==orders,tier=data", &["settings"][..]),
        ("tier notin (web)", &["bare", "bills", "settings"]),
        ("tier", &["settings", "web"]),
        ("!tier", &["bare", "bills"]),
        ("app in (orders),!tier", &[]),
        ("app in (billing, orders),tier!=web", &["bills", "settings"]),
    ] {
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps?labelSelector={}", query_escape(selector));
        let (code, list) = kube.request("GET", &path, "", b"");
        assert_eq!(code, 200, "{selector}: {list}");
        assert_eq!(names(&list), expected, "{selector}");
    }
    // One the server cannot parse is a 400.
    let path = format!("/api/v1/configmaps?labelSelector={}", query_escape("app=(x"));
    let (code, status) = kube.request("GET", &path, "", b"");
    assert_eq!((code, status["reason"].as_str()), (400, Some("BadRequest")), "{status}");
    // Across namespaces: the cluster-wide collection.
    let all = kubectl(&kube, &exe, &["get", "cronjobs", "--all-namespaces", "-l", "app=orders", "-o", "json"], None);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(names(&all.json()), ["nightly"]);
    let requests = kube.requests();
    assert!(
        requests.iter().any(|r| r["path"] == "/apis/batch/v1/cronjobs"
            && r["query"].as_str().unwrap().contains("labelSelector=app%3Dorders")),
        "{requests:#?}"
    );
}

#[test]
fn diff_server_side_is_a_dry_run_that_stores_nothing() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);
    let before = versions(&kube);
    let changes = kube.changes();
    let edited = base().replace("mode: batch", "mode: stream");
    let args = ["diff", "--server-side", "--field-manager", "floe", "-f", "-"];
    let diff = kubectl(&kube, &exe, &args, Some(&edited));
    assert_eq!(diff.code, 1, "a difference found:\n{}\n{}", diff.stdout, diff.stderr);
    assert!(diff.stdout.contains("-  mode: batch") && diff.stdout.contains("+  mode: stream"), "{}", diff.stdout);
    assert!(!diff.stdout.contains("nightly"), "only the ConfigMap differs:\n{}", diff.stdout);
    let requests = kube.requests();
    let dry: Vec<&Value> = logged(&requests, "PATCH").into_iter().filter(|r| r["dry_run"] == true).collect();
    assert_eq!(dry.len(), 3, "{requests:#?}");
    assert!(dry.iter().all(|r| r["write"] == false && r["changed"] == false));
    assert_eq!(versions(&kube), before);
    assert_eq!(kube.changes(), changes);
    let same = kubectl(&kube, &exe, &args, Some(&base()));
    assert_eq!(same.code, 0, "no difference:\n{}\n{}", same.stdout, same.stderr);
    assert_eq!(same.stdout, "");
}

#[test]
fn delete_removes_and_a_namespace_takes_its_contents() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);
    let dry = kubectl(&kube, &exe, &["delete", "cronjob", "nightly", "--dry-run=server"], None);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(kube.object("CronJob", NAMESPACE, "nightly").is_some());
    let gone = kubectl(&kube, &exe, &["delete", "configmap", "settings"], None);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    assert!(gone.stdout.contains("configmap \"settings\" deleted"), "{}", gone.stdout);
    assert!(kube.object("ConfigMap", NAMESPACE, "settings").is_none());
    let requests = kube.requests();
    let deletes = logged(&requests, "DELETE");
    assert_eq!(deletes.len(), 2, "{requests:#?}");
    assert_eq!((deletes[0]["dry_run"].as_bool(), deletes[0]["changed"].as_bool()), (Some(true), Some(false)));
    assert_eq!((deletes[1]["write"].as_bool(), deletes[1]["changed"].as_bool()), (Some(true), Some(true)));
    let ns = kubectl(&kube, &exe, &["delete", "namespace", NAMESPACE], None);
    assert_eq!(ns.code, 0, "{}", ns.stderr);
    assert!(kube.object("CronJob", NAMESPACE, "nightly").is_none(), "the namespace took its CronJob");
    assert!(kube.object("Namespace", "", NAMESPACE).is_none());
}

#[test]
fn field_managers_conflict_unless_forced_and_share_equal_values() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);
    let other =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: floe-test}\ndata: {mode: stream}\n";
    let refused = apply(&kube, &exe, other, "other", &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(r#"conflict with "floe" using v1: .data.mode"#), "{}", refused.stderr);
    assert!(refused.stderr.contains("--force-conflicts"), "{}", refused.stderr);
    let requests = kube.requests();
    let last = requests.last().unwrap();
    assert_eq!((last["code"].as_u64(), last["reason"].as_str()), (Some(409), Some("Conflict")), "{last}");
    let cm = kube.object("ConfigMap", NAMESPACE, "settings").unwrap();
    assert_eq!(cm["data"]["mode"], "batch");

    let forced = apply(&kube, &exe, other, "other", &["--force-conflicts"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let cm = kube.object("ConfigMap", NAMESPACE, "settings").unwrap();
    assert_eq!(cm["data"]["mode"], "stream");
    let owners = |cm: &Value| -> BTreeMap<String, Value> {
        cm["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["manager"].as_str().unwrap().to_owned(), m["fieldsV1"].clone()))
            .collect()
    };
    let now = owners(&cm);
    assert_eq!(now["floe"], serde_json::json!({"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}}));
    assert_eq!(now["other"], serde_json::json!({"f:data": {"f:mode": {}}}));
    // floe's own apply now meets other's field.
    let (path, doc) = OBJECTS[1];
    let (code, back) =
        kube.request("PATCH", &format!("{path}?fieldManager=floe"), "application/apply-patch+yaml", doc.as_bytes());
    assert_eq!(code, 409, "{back}");
    assert_eq!(back["message"], r#"Apply failed with 1 conflict: conflict with "other" using v1: .data.mode"#);
    assert_eq!(back["details"]["causes"][0]["field"], ".data.mode", "{back}");
    // The same value is no conflict: both own it.
    let shared = apply(&kube, &exe, other, "third", &[]);
    assert_eq!(shared.code, 0, "{}", shared.stderr);
    let now = owners(&kube.object("ConfigMap", NAMESPACE, "settings").unwrap());
    assert_eq!(now["third"], now["other"]);
}

#[test]
fn injected_errors_and_throttling_reach_kubectl() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);
    let get = ["get", "configmaps", "-o", "json"];

    kube.inject("GET", "/configmaps", 1, Fault::Status(500));
    let failed = kubectl(&kube, &exe, &get, None);
    assert_eq!(failed.code, 1);
    assert!(failed.stderr.contains("(InternalError)"), "{}", failed.stderr);

    kube.inject("PATCH", "/configmaps/settings", 1, Fault::Status(409));
    let conflict = apply(&kube, &exe, &base(), "floe", &[]);
    assert_eq!(conflict.code, 1);
    assert!(conflict.stderr.contains("injected 409 Conflict"), "{}", conflict.stderr);

    // Throttled, kubectl waits as told and tries again.
    kube.inject("GET", "/configmaps", 1, Fault::TooManyRequests(1));
    let started = Instant::now();
    let throttled = kubectl(&kube, &exe, &get, None);
    assert_eq!(throttled.code, 0, "{}", throttled.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    let requests = kube.requests();
    let codes: Vec<u64> = requests.iter().rev().take(2).map(|r| r["code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [200, 429]);
    assert_eq!(requests.last().unwrap().get("injected"), None);
}

#[test]
fn timeouts_reach_kubectl_and_a_slow_write_still_happens() {
    let Some((exe, kube)) = setup() else { return };
    seed(&kube);

    // A server that never answers: kubectl gives up at its timeout.
    kube.inject("GET", "/configmaps", 1, Fault::Hang(Duration::from_secs(5)));
    let started = Instant::now();
    let hung = kubectl(&kube, &exe, &["get", "configmaps", "--request-timeout=1s"], None);
    assert_eq!(hung.code, 1);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(hung.stderr.contains("Timeout") || hung.stderr.contains("deadline exceeded"), "{}", hung.stderr);

    // A slow one: the client gave up, yet the write happened.
    let changes = kube.changes();
    kube.inject("PATCH", "/configmaps/settings", 1, Fault::Slow(Duration::from_secs(2)));
    let edited = base().replace("mode: batch", "mode: stream");
    let slow = apply(&kube, &exe, &edited, "floe", &["--request-timeout=1s"]);
    assert_eq!(slow.code, 1, "{}", slow.stderr);
    let waited = Instant::now();
    while kube.changes() == changes && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(kube.object("ConfigMap", NAMESPACE, "settings").unwrap()["data"]["mode"], "stream");
}

#[test]
fn https_with_a_ca_and_a_token_and_a_wrong_token_is_refused() {
    let Some(exe) = program("kubectl") else { return };
    let Some(tls) = tls() else { return };
    let Some(kube) = fake_kube_with(&Setup { tls: Some(&tls), ..Setup::default() }) else { return };
    let ns = kubectl(&kube, &exe, &["get", "namespaces", "-o", "json"], None);
    assert_eq!(ns.code, 0, "{}", ns.stderr);
    assert_eq!(names(&ns.json()), ["default", "kube-public", "kube-system"]);
    assert_eq!(apply(&kube, &exe, &base(), "floe", &[]).code, 0);

    let ca = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(&tls.ca).unwrap());
    let wrong = kube.dir.path().join("wrong-token.kubeconfig");
    std::fs::write(&wrong, kube.kubeconfig_text("not-the-token", Some(&ca))).unwrap();
    let mut cmd = kube.kubectl_with(&exe, &wrong);
    cmd.args(["get", "configmaps"]);
    let refused = run_within(cmd, None, LIMIT, "kubectl get configmaps");
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("Unauthorized") || refused.stderr.contains("provide credentials"),
        "{}",
        refused.stderr
    );
    assert!(kube.requests().iter().any(|r| r["code"] == 401));

    // Without the CA, the server's certificate is not trusted.
    let untrusting = kube.dir.path().join("no-ca.kubeconfig");
    std::fs::write(&untrusting, kube.kubeconfig_text(TOKEN, None)).unwrap();
    let mut cmd = kube.kubectl_with(&exe, &untrusting);
    cmd.args(["get", "configmaps"]);
    let untrusted = run_within(cmd, None, LIMIT, "kubectl get configmaps");
    assert_eq!(untrusted.code, 1);
    assert!(untrusted.stderr.contains("certificate"), "{}", untrusted.stderr);

    // The token is a credential: the server logs none of it.
    for file in ["requests.jsonl", "stderr.log"] {
        let text = std::fs::read_to_string(kube.dir.path().join(file)).unwrap();
        assert!(!text.contains(TOKEN), "the token is in {file}");
    }
}

#[test]
fn raw_requests_meet_discovery_apply_bodies_and_status_errors() {
    let Some(kube) = fake_kube() else { return };
    // Discovery of every resource floe deploys.
    for (path, plural, kind, namespaced) in [
        ("/api/v1", "namespaces", "Namespace", false),
        ("/api/v1", "configmaps", "ConfigMap", true),
        ("/api/v1", "secrets", "Secret", true),
        ("/api/v1", "serviceaccounts", "ServiceAccount", true),
        ("/api/v1", "services", "Service", true),
        ("/apis/apps/v1", "deployments", "Deployment", true),
        ("/apis/apps/v1", "statefulsets", "StatefulSet", true),
        ("/apis/batch/v1", "jobs", "Job", true),
        ("/apis/batch/v1", "cronjobs", "CronJob", true),
        ("/apis/rbac.authorization.k8s.io/v1", "roles", "Role", true),
        ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true),
        ("/apis/networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", true),
        ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false),
        ("/apis/external-secrets.io/v1beta1", "externalsecrets", "ExternalSecret", true),
    ] {
        let (code, list) = kube.request("GET", path, "", b"");
        assert_eq!(code, 200, "{path}: {list}");
        let found = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == plural);
        let found = found.unwrap_or_else(|| panic!("no {plural} in {path}: {list}"));
        assert_eq!((found["kind"].as_str(), found["namespaced"].as_bool()), (Some(kind), Some(namespaced)));
        let verbs: Vec<&str> = found["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for verb in ["create", "delete", "get", "list", "patch", "update", "watch"] {
            assert!(verbs.contains(&verb), "{plural}: {verbs:?}");
        }
    }
    let (code, list) = kube.request("GET", "/api/v1/namespaces", "", b"");
    assert_eq!((code, list["kind"].as_str()), (200, Some("NamespaceList")), "{list}");
    assert_eq!(list["metadata"]["resourceVersion"], "4", "{list}");
    assert!(list["items"].as_array().unwrap().iter().all(|n| n["metadata"]["resourceVersion"].is_string()));
    let (_, groups) = kube.request("GET", "/apis", "", b"");
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "external-secrets.io"), "{groups}");

    // A YAML apply body (block scalar, flow map, comments).
    let apply = "application/apply-patch+yaml";
    let cm = "/api/v1/namespaces/default/configmaps/script";
    let yaml = "# settings\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  labels: {app: orders}\n\
                data:\n  run.sh: |\n    #!/bin/sh\n    echo hi\n  flag: \"yes\"  # quoted\n";
    let (code, obj) = kube.request("PATCH", &format!("{cm}?fieldManager=floe"), apply, yaml.as_bytes());
    assert_eq!(code, 201, "{obj}");
    assert_eq!(obj["data"], serde_json::json!({"run.sh": "#!/bin/sh\necho hi\n", "flag": "yes"}));
    assert_eq!(obj["metadata"]["resourceVersion"], "5", "{obj}");

    // Errors are Status objects.
    let status = |code: u16, body: &Value, reason: &str| {
        assert_eq!((body["kind"].as_str(), body["code"].as_u64()), (Some("Status"), Some(code as u64)), "{body}");
        assert_eq!(body["reason"], reason, "{body}");
    };
    let (code, body) = kube.request("GET", "/api/v1/namespaces/default/configmaps/nope", "", b"");
    status(code, &body, "NotFound");
    assert_eq!(body["message"], r#"configmaps "nope" not found"#);
    let (code, body) = kube.request("PATCH", cm, apply, yaml.as_bytes());
    status(code, &body, "Invalid");
    assert!(body["message"].as_str().unwrap().contains("fieldManager: Required value"), "{body}");
    let bad = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#;
    let (code, body) =
        kube.request("POST", "/api/v1/namespaces/default/configmaps", "application/json", bad.as_bytes());
    status(code, &body, "Invalid");
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name", "{body}");
    let (code, body) = kube.request("PATCH", &format!("{cm}?fieldManager=floe"), apply, bad.as_bytes());
    status(code, &body, "BadRequest");
    let dup = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"script"}}"#;
    let (code, body) =
        kube.request("POST", "/api/v1/namespaces/default/configmaps", "application/json", dup.as_bytes());
    status(code, &body, "AlreadyExists");
    let (code, body) = kube.request("POST", "/api/v1/namespaces/absent/configmaps", "application/json", dup.as_bytes());
    status(code, &body, "NotFound");
    assert_eq!(body["message"], r#"namespaces "absent" not found"#);

    // A dry run answers as if done and stores nothing.
    let before = kube.objects();
    let dry = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}"#;
    let (code, obj) =
        kube.request("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", "application/json", dry.as_bytes());
    assert_eq!(code, 201, "{obj}");
    assert_eq!(obj["metadata"]["name"], "dry");
    assert_eq!(kube.objects(), before);

    // A Deployment's generation counts changes of its spec, not of its labels;
    // its selector is immutable.
    let deployment = |replicas: u32, label: &str, app: &str| {
        format!(
            r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"api","labels":{{"v":"{label}"}}}},
               "spec":{{"replicas":{replicas},"selector":{{"matchLabels":{{"app":"{app}"}}}},
               "template":{{"metadata":{{"labels":{{"app":"{app}"}}}},"spec":{{"containers":[{{"name":"api","image":"api:1"}}]}}}}}}}}"#
        )
    };
    let path = "/apis/apps/v1/namespaces/default/deployments/api?fieldManager=floe";
    let mut generations = Vec::new();
    for body in [deployment(1, "a", "api"), deployment(1, "b", "api"), deployment(2, "b", "api")] {
        let (code, obj) = kube.request("PATCH", path, apply, body.as_bytes());
        assert!(code == 200 || code == 201, "{obj}");
        generations.push(obj["metadata"]["generation"].as_u64().unwrap());
    }
    assert_eq!(generations, [1, 1, 2]);
    let (code, body) = kube.request("PATCH", path, apply, deployment(2, "b", "other").as_bytes());
    status(code, &body, "Invalid");
    assert!(body["message"].as_str().unwrap().contains("spec.selector"), "{body}");
}
