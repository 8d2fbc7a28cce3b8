//! The Helm charts `charts/floe-platform` and `charts/floe-jobs`, through the
//! real Helm v4 engine (helm-python-sdk): both lint and render with the values
//! floe generates, for several plugin selections; every rendered object
//! validates against the Kubernetes 1.33 schemas, every pod meets Pod Security
//! `restricted`; and each chart's `values.schema.json`, enforced by Helm,
//! refuses values it cannot render. `tests/charts/render.py` does the Helm and
//! Kubernetes side; these tests decide what must come out.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run floe and Python on files

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use common::{build_json, copy_dir, repo, skip, workspace};

/// The test venv's Python with helm-python-sdk and kubernetes-validate, or
/// `None` after recording the skip (a failure under CI).
fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("FLOE_TEST_PYTHON").map(PathBuf::from) else {
        skip("FLOE_TEST_PYTHON is not set (.ci/test points it at its venv)");
        return None;
    };
    let ok = Command::new(&python)
        .args(["-c", "import helm_python, kubernetes_validate"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!("{} lacks helm-python-sdk or kubernetes-validate", python.display()));
        return None;
    }
    Some(python)
}

/// Runs `tests/charts/render.py` with `args`; its stdout, after asserting success.
fn render(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python).arg(repo().join("tests/charts/render.py")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "render.py {}:\n{stderr}", args.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

fn chart(name: &str) -> String {
    repo().join("charts").join(name).display().to_string()
}

/// Lints and renders `chart` with each values file, validating everything;
/// per values file, its objects (`kind`, `name`, `namespace`, `labels`,
/// `annotations`, `object`).
fn check(python: &Path, chart_name: &str, release: &str, namespace: &str, values: &[PathBuf]) -> Vec<Vec<Value>> {
    let mut args = vec!["check".to_owned(), chart(chart_name), release.to_owned(), namespace.to_owned()];
    args.extend(values.iter().map(|v| v.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary: Value = serde_json::from_str(&render(python, &args)).unwrap();
    summary.as_array().unwrap().iter().map(|s| s["objects"].as_array().unwrap().clone()).collect()
}

/// A copy of the centralized example with `tests/charts/platforms/<name>.yaml`
/// as its manifest, built.
fn platform(name: &str) -> tempfile::TempDir {
    let ws = workspace("centralized");
    std::fs::copy(repo().join(format!("tests/charts/platforms/{name}.yaml")), ws.path().join("manifest.yaml")).unwrap();
    build_json(ws.path());
    ws
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .map(|o| &o["object"])
        .unwrap_or_else(|| panic!("no {kind}/{name} among {:?}", names(objects)))
}

fn names(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap())).collect()
}

fn has(objects: &[Value], kind: &str, name: &str) -> bool {
    objects.iter().any(|o| o["kind"] == kind && o["name"] == name)
}

/// The containers of a pod-running object.
fn containers(object: &Value) -> &Vec<Value> {
    let spec = &object["spec"];
    let pod = match object["kind"].as_str() {
        Some("CronJob") => &spec["jobTemplate"]["spec"]["template"]["spec"],
        _ => &spec["template"]["spec"],
    };
    pod["containers"].as_array().unwrap()
}

fn env_names(container: &Value) -> Vec<&str> {
    container["env"].as_array().map_or(Vec::new(), |e| e.iter().map(|v| v["name"].as_str().unwrap()).collect())
}

#[test]
fn platform_chart_runs_the_services_of_each_plugin_selection() {
    let Some(python) = python() else { return };
    let mesh = workspace("mesh");
    build_json(mesh.path());
    let selections = ["services", "prefect", "snowflake"].map(platform);
    let mut values: Vec<PathBuf> = ["", "sales", "finance"]
        .iter()
        .map(|d| mesh.path().join("floe-out").join(d).join("floe-platform.values.yaml"))
        .collect();
    values.extend(selections.iter().map(|ws| ws.path().join("floe-out/floe-platform.values.yaml")));
    let rendered = check(&python, "floe-platform", "floe-platform", "floe-platform", &values);
    let [mesh_root, sales, finance, services, prefect, snowflake] = &rendered[..] else { panic!("{rendered:?}") };

    for objects in &rendered {
        // The chart holds no secret value: it only names Secrets.
        assert!(!objects.iter().any(|o| o["kind"] == "Secret"), "{:?}", names(objects));
        for o in objects {
            assert_eq!(o["labels"]["app.kubernetes.io/part-of"], "floe", "{}", o["name"]);
        }
    }

    // The mesh: Dagster with its PostgreSQL, Polaris answering as the
    // catalog's `uri` names it, Marquez; the domains run the same services.
    for objects in [mesh_root, sales, finance] {
        for (kind, name) in [
            ("Deployment", "floe-platform-dagster-webserver"),
            ("Deployment", "floe-platform-dagster-daemon"),
            ("StatefulSet", "floe-platform-dagster-postgresql"),
            ("Deployment", "floe-platform-polaris"),
            ("Service", "polaris"),
            ("Deployment", "floe-platform-marquez"),
            ("ConfigMap", "floe-platform-platform"),
        ] {
            assert!(has(objects, kind, name), "no {kind}/{name} in {:?}", names(objects));
        }
        assert!(!names(objects).iter().any(|n| n.contains("airflow") || n.contains("minio")), "{:?}", names(objects));
    }
    let platform = &find(finance, "ConfigMap", "floe-platform-platform")["data"]["platform.json"];
    assert_eq!(platform, r#"{"name":"finance","version":"2.0.1"}"#);

    // Every service floe can run in the cluster.
    for (kind, name) in [
        ("Deployment", "floe-platform-airflow-scheduler"),
        ("Deployment", "floe-platform-airflow-webserver"),
        ("Role", "floe-platform-airflow-worker"),
        ("Deployment", "floe-platform-hive-metastore"),
        ("Service", "hive-metastore"),
        ("StatefulSet", "floe-platform-minio"),
        ("Job", "floe-platform-minio-buckets"),
        ("Deployment", "floe-platform-otel-collector"),
        ("Service", "floe-platform-otel-collector"),
        ("Service", "floe-platform-jaeger-collector"),
        ("Deployment", "floe-platform-marquez"),
        ("Deployment", "floe-platform-cube"),
        ("Deployment", "floe-platform-cube-refresh-worker"),
        ("StatefulSet", "floe-platform-cubestore"),
        ("Deployment", "floe-platform-keycloak"),
        ("StatefulSet", "floe-platform-keycloak-postgresql"),
        ("Deployment", "floe-platform-prometheus"),
        ("Deployment", "floe-platform-alertmanager"),
    ] {
        assert!(has(services, kind, name), "no {kind}/{name} in {:?}", names(services));
    }
    let cube = find(services, "Deployment", "floe-platform-cube");
    assert_eq!(cube["spec"]["replicas"], 2);
    let hive = &containers(find(services, "Deployment", "floe-platform-hive-metastore"))[0];
    let password = hive["env"].as_array().unwrap().iter().find(|e| e["name"] == "HIVE_METASTORE_DB_PASSWORD").unwrap();
    assert_eq!(password["valueFrom"]["secretKeyRef"], json!({"name": "hive-metastore-db", "key": "password"}));
    let keycloak = &containers(find(services, "Deployment", "floe-platform-keycloak"))[0];
    let hostname = keycloak["env"].as_array().unwrap().iter().find(|e| e["name"] == "KC_HOSTNAME").unwrap();
    assert_eq!(hostname["value"], "http://floe-platform-keycloak:8080");
    let alertmanager = find(services, "Deployment", "floe-platform-alertmanager");
    let volumes = &alertmanager["spec"]["template"]["spec"]["volumes"];
    assert!(volumes.as_array().unwrap().iter().any(|v| v["secret"]["secretName"] == "slack-webhook"), "{volumes}");
    let minio = find(services, "StatefulSet", "floe-platform-minio");
    assert_eq!(minio["spec"]["replicas"], 1);
    assert_eq!(minio["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "50Gi");

    // Prefect (its server named as the worker reaches it), Polaris on JDBC
    // with a token broker, distributed MinIO, Datadog, Dex, an existing
    // Alertmanager.
    for (kind, name) in [
        ("Service", "prefect-server"),
        ("Deployment", "floe-platform-prefect-server"),
        ("Deployment", "floe-platform-prefect-worker"),
        ("Service", "floe-platform-polaris"),
        ("Deployment", "floe-platform-dex"),
        ("ClusterRole", "floe-platform-dex-floe-platform"),
        ("Deployment", "floe-platform-prometheus"),
    ] {
        assert!(has(prefect, kind, name), "no {kind}/{name} in {:?}", names(prefect));
    }
    assert!(!has(prefect, "Deployment", "floe-platform-alertmanager"), "{:?}", names(prefect));
    assert!(!has(prefect, "Deployment", "floe-platform-marquez"), "{:?}", names(prefect));
    let polaris = &containers(find(prefect, "Deployment", "floe-platform-polaris"))[0];
    assert_eq!(
        env_names(polaris),
        ["QUARKUS_DATASOURCE_JDBC_URL", "QUARKUS_DATASOURCE_PASSWORD", "QUARKUS_DATASOURCE_USERNAME"]
    );
    let properties =
        find(prefect, "ConfigMap", "floe-platform-polaris")["data"]["application.properties"].as_str().unwrap();
    assert!(properties.contains("polaris.realm-context.realms=ACME\n"), "{properties}");
    assert!(properties.contains("polaris.authentication.token-broker.type=rsa-key-pair\n"), "{properties}");
    assert_eq!(find(prefect, "StatefulSet", "floe-platform-minio")["spec"]["replicas"], 4);
    let collector = &containers(find(prefect, "Deployment", "floe-platform-otel-collector"))[0];
    assert_eq!(env_names(collector), ["FLOE_SECRET_DATADOG_API_KEY"]);
    let config = find(prefect, "ConfigMap", "floe-platform-otel-collector")["data"]["config.yaml"].as_str().unwrap();
    assert!(config.contains("key: ${env:FLOE_SECRET_DATADOG_API_KEY}"), "{config}");
    let prometheus = find(prefect, "ConfigMap", "floe-platform-prometheus")["data"]["prometheus.yml"].as_str().unwrap();
    assert!(prometheus.contains("- alertmanager.monitoring.svc:9093"), "{prometheus}");

    // Dagster with run retries, an external Keycloak (none deployed), no
    // MinIO for S3, Grafana Cloud, PagerDuty.
    let instance =
        find(snowflake, "ConfigMap", "floe-platform-dagster-instance")["data"]["dagster.yaml"].as_str().unwrap();
    assert!(instance.contains("run_retries:\n  enabled: true\n  max_retries: 2\n"), "{instance}");
    assert!(!names(snowflake).iter().any(|n| n.contains("keycloak") || n.contains("minio")), "{:?}", names(snowflake));
    let collector = &containers(find(snowflake, "Deployment", "floe-platform-otel-collector"))[0];
    assert_eq!(env_names(collector), ["FLOE_SECRET_GRAFANA_CLOUD_TOKEN"]);
    let alertmanager = find(snowflake, "Deployment", "floe-platform-alertmanager");
    let volumes = &alertmanager["spec"]["template"]["spec"]["volumes"];
    assert!(volumes.as_array().unwrap().iter().any(|v| v["secret"]["secretName"] == "pagerduty"), "{volumes}");
}

/// Objects of the floe-jobs chart as (kind, namespace, product), the Job's
/// derivation suffix aside.
fn runs(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            let s = |v: &Value| v.as_str().unwrap().to_owned();
            (s(&o["kind"]), s(&o["namespace"]), s(&o["labels"]["floe.dev/product"]))
        })
        .collect()
}

#[test]
fn jobs_chart_runs_each_product_as_floe_builds_it() {
    let Some(python) = python() else { return };
    let mesh = workspace("mesh");
    build_json(mesh.path());
    let selections = ["snowflake", "services"].map(platform);
    let dir = tempfile::tempdir().unwrap();
    let workspaces = [("mesh", mesh.path()), ("snowflake", selections[0].path()), ("services", selections[1].path())];
    let mut values = Vec::new();
    for (name, ws) in workspaces {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, render(&python, &["jobs-values", &ws.display().to_string()])).unwrap();
        values.push(file);
    }
    values.push(repo().join("charts/floe-jobs/ci/mesh-values.yaml"));
    let rendered = check(&python, "floe-jobs", "floe-jobs", "floe", &values);
    let [mesh_jobs, snowflake, services, example] = &rendered[..] else { panic!("{rendered:?}") };

    // Scheduled products are CronJobs (with their time zone, when they name
    // one), the others Jobs named by their derivation; each with its ConfigMap.
    let orders = find(mesh_jobs, "CronJob", "orders");
    assert_eq!(
        (&orders["spec"]["schedule"], &orders["spec"]["timeZone"]),
        (&json!("*/30 * * * *"), &json!("Europe/Berlin"))
    );
    let risk = find(mesh_jobs, "CronJob", "risk-exposure");
    // A schedule names no time zone: the spec's default, UTC.
    assert_eq!((&risk["spec"]["schedule"], &risk["spec"]["timeZone"]), (&json!("0 6 * * 1-5"), &json!("UTC")));
    // Each with the ServiceAccount its runs use, and the Role (with its
    // binding) that lets them read the lakehouse's Secret.
    let products = [
        ("floe-finance", "revenue", "Job"),
        ("floe-finance", "risk-exposure", "CronJob"),
        ("floe-marketing", "attribution", "Job"),
        ("floe-marketing", "campaigns", "Job"),
        ("floe-marketing", "spend", "Job"),
        ("floe-sales", "customers", "Job"),
        ("floe-sales", "orders", "CronJob"),
        ("floe-sales", "pipeline-forecast", "Job"),
    ];
    let expected: BTreeSet<(String, String, String)> = products
        .iter()
        .flat_map(|(ns, p, run)| ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", run].map(|k| (k, *ns, *p)))
        .map(|(k, n, p)| (k.to_owned(), n.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(runs(mesh_jobs), expected);
    // The example in the chart describes the products a build of the mesh has.
    assert_eq!(runs(example), expected);

    let artifacts = std::fs::read_to_string(mesh.path().join("floe-out/sales/orders/compiled_artifacts.json")).unwrap();
    let config = find(mesh_jobs, "ConfigMap", "orders-artifacts");
    assert_eq!(config["data"]["compiled_artifacts.json"], artifacts.as_str());
    let profile = std::fs::read_to_string(mesh.path().join("floe-out/sales/orders/profiles.yml")).unwrap();
    assert_eq!(config["data"]["profiles.yml"], profile.as_str());

    for objects in &rendered {
        for o in objects {
            let product = o["labels"]["floe.dev/product"].as_str().unwrap();
            let labels = &o["labels"];
            assert_eq!(labels["app.kubernetes.io/managed-by"], "floe", "{}", o["name"]);
            assert_eq!(labels["app.kubernetes.io/name"], product, "{}", o["name"]);
            assert_eq!(labels["app.kubernetes.io/part-of"], "floe", "{}", o["name"]);
            let domain = labels["floe.dev/domain"].as_str().unwrap();
            assert_eq!(o["namespace"], format!("floe-{domain}"), "{}", o["name"]);
            let key = o["annotations"]["floe.dev/derivation"].as_str().unwrap();
            assert!(key.starts_with("blake3:") && key.len() == 71, "{}: {key}", o["name"]);
            if !matches!(o["kind"].as_str(), Some("CronJob" | "Job")) {
                continue;
            }
            // Secrets only by reference; telemetry and lineage as plain values.
            for e in containers(&o["object"])[0]["env"].as_array().unwrap() {
                let name = e["name"].as_str().unwrap();
                assert_eq!(name.starts_with("FLOE_SECRET_"), e.get("valueFrom").is_some(), "{}: {e}", o["name"]);
            }
        }
    }
    let orders = &containers(find(mesh_jobs, "CronJob", "orders"))[0];
    assert!(env_names(orders).contains(&"OTEL_EXPORTER_OTLP_ENDPOINT"), "{orders}");
    assert!(env_names(orders).contains(&"OPENLINEAGE_NAMESPACE"), "{orders}");
    assert_eq!(orders["resources"]["limits"], json!({"cpu": "500m", "memory": "512Mi"}));

    // Snowflake's password, and the Airflow operator's storage credentials,
    // reach runs from their Secrets.
    let run = &containers(find(snowflake, "CronJob", "orders"))[0];
    let password =
        run["env"].as_array().unwrap().iter().find(|e| e["name"] == "FLOE_SECRET_SNOWFLAKE_PASSWORD").unwrap();
    assert_eq!(password["valueFrom"]["secretKeyRef"], json!({"name": "snowflake", "key": "password"}));
    let run = &containers(find(services, "CronJob", "orders"))[0];
    assert!(env_names(run).contains(&"FLOE_SECRET_MINIO_CREDENTIALS_SECRET_ACCESS_KEY"), "{run}");
}

/// One valid product, which the bad values below each break in one place.
fn product() -> Value {
    json!({
        "name": "orders",
        "domain": "sales",
        "namespace": "floe-sales",
        "version": "1.0.0",
        "derivation": format!("blake3:{}", "0".repeat(64)),
        "package": "//sales/orders",
        "schedule": {"cron": "0 * * * *", "timezone": "UTC"},
        "image": {"repository": "registry.acme.example/floe/sales/orders", "tag": "1.0.0"},
        "command": ["dbt", "build"],
        "serviceAccountName": "orders",
        "automountServiceAccountToken": true,
        "roleRules": [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["warehouse"], "verbs": ["get"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]},
        ],
        "artifacts": {"compiled_artifacts.json": "{}", "profiles.yml": "orders: {}"},
        "secretEnv": [{"name": "FLOE_SECRET_PASSWORD", "secretName": "warehouse", "key": "password"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    })
}

/// Where two JSON values first differ (a JSON pointer and both sides), or
/// `None` when they are equal.
fn first_difference(ours: &Value, helm: &Value, at: &str) -> Option<String> {
    match (ours, helm) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (a, b) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                first_difference(a, b, &format!("{at}/{k}"))
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (a, b))| first_difference(a, b, &format!("{at}/{i}")))
        }
        _ if ours == helm => None,
        _ => Some(format!("{at}: floe has {ours}, Helm has {helm}")),
    }
}

#[test]
fn floe_renders_the_jobs_charts_objects_natively() {
    let Some(python) = python() else { return };
    // Every product of the chart's example, and values a YAML reader would
    // take for numbers or booleans if the chart did not quote them.
    let mut tricky = product();
    tricky["name"] = json!("1234");
    tricky["schedule"] = Value::Null;
    tricky["image"] = json!({"repository": "10", "tag": "30"});
    tricky["serviceAccountName"] = json!("0755");
    tricky["args"] = json!([]);
    tricky["secretEnv"] = json!([{"name": "ON", "secretName": "1.5", "key": "NO"}]);
    tricky["env"] = json!([{"name": "OTEL_SERVICE_NAME", "value": "true"}]);
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.yaml");
    std::fs::write(&extra, json!({"products": [product(), tricky]}).to_string()).unwrap();

    let mut checked = Vec::new();
    for values in [repo().join("charts/floe-jobs/ci/mesh-values.yaml"), extra] {
        let rendered: Value =
            serde_json::from_str(&render(&python, &["template", &chart("floe-jobs"), &values.display().to_string()]))
                .unwrap();
        for entry in rendered.as_array().unwrap() {
            // The values as the chart read them are floe's typed values.
            let product: floe_rules::k8s::ProductValues = serde_json::from_value(entry["product"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", entry["product"]["name"]));
            let ours = floe_rules::k8s::objects(&product);
            let helm = entry["objects"].as_array().unwrap();
            let kinds = |objects: &[Value]| -> Vec<String> {
                objects.iter().map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"])).collect()
            };
            assert_eq!(kinds(&ours), kinds(helm), "{}", product.name);
            // Equal objects, compared as JSON whatever the order of keys.
            // render.py validated each of Helm's objects against the
            // Kubernetes 1.33 schemas, so floe's are valid too.
            for (ours, helm) in ours.iter().zip(helm) {
                if let Some(difference) = first_difference(ours, helm, "") {
                    panic!("{} {}: {difference}", product.name, ours["kind"]);
                }
            }
            checked.push(product.name);
        }
    }
    assert_eq!(
        checked,
        [
            "revenue",
            "risk-exposure",
            "attribution",
            "campaigns",
            "spend",
            "customers",
            "orders",
            "pipeline-forecast",
            "orders",
            "1234"
        ]
    );
}

#[test]
fn a_build_writes_the_objects_the_jobs_chart_renders_from_its_values() {
    let Some(python) = python() else { return };
    let mesh = workspace("mesh");
    build_json(mesh.path());
    // Every product the build wrote runs for, and only those.
    let out = mesh.path().join("floe-out");
    let dirs: Vec<String> = common::tree(&out)
        .into_iter()
        .filter_map(|(p, _)| p.strip_suffix("/floe-jobs.values.yaml").map(str::to_owned))
        .collect();
    assert_eq!(
        dirs,
        [
            "finance/revenue",
            "finance/risk-exposure",
            "marketing/attribution",
            "marketing/campaigns",
            "marketing/spend",
            "sales/customers",
            "sales/orders",
            "sales/pipeline-forecast"
        ]
    );
    for dir in &dirs {
        let out = out.join(dir);
        let values = out.join("floe-jobs.values.yaml").display().to_string();
        let rendered: Value =
            serde_json::from_str(&render(&python, &["template", &chart("floe-jobs"), &values])).unwrap();
        let [entry] = rendered.as_array().unwrap().as_slice() else { panic!("{dir}: one product per values file") };
        let helm = entry["objects"].as_array().unwrap();
        let k8s = out.join("k8s.yaml").display().to_string();
        let ours: Value = serde_json::from_str(&render(&python, &["documents", &k8s])).unwrap();
        let ours = ours.as_array().unwrap();
        assert_eq!(ours.len(), helm.len(), "{dir}");
        for (ours, helm) in ours.iter().zip(helm) {
            if let Some(difference) = first_difference(ours, helm, "") {
                panic!("{dir} {}: {difference}", ours["kind"]);
            }
        }
        // The objects name the derivation that wrote them.
        let drv: Value = serde_json::from_slice(&std::fs::read(out.join("floe.drv.json")).unwrap()).unwrap();
        let key = drv["derivations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["target"].as_str().unwrap().ends_with(":k8s"))
            .unwrap()["key"]
            .clone();
        assert!(ours.iter().all(|o| o["metadata"]["annotations"]["floe.dev/derivation"] == key), "{dir}");
    }
}

#[test]
fn schemas_refuse_values_the_charts_cannot_render() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, values: &Value| {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_string_pretty(values).unwrap()).unwrap();
        file
    };
    // The unbroken values render.
    let good = write("good", &json!({"products": [product()]}));
    check(&python, "floe-jobs", "floe-jobs", "floe", &[good]);
    let platform = json!({"global": {"platform": {"name": "acme", "version": "1.0.0"}}, "dagster": {"enabled": true}});
    check(&python, "floe-platform", "floe-platform", "floe-platform", &[write("platform", &platform)]);

    let with = |edit: &dyn Fn(&mut Value)| {
        let mut p = product();
        edit(&mut p);
        json!({"products": [p]})
    };
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "floe-jobs",
            "unknown-key",
            with(&|p| p["replicas"] = json!(2)),
            "additional properties 'replicas' not allowed",
        ),
        ("floe-jobs", "wrong-type", with(&|p| p["schedule"]["cron"] = json!(5)), "at '/products/0/schedule"),
        (
            "floe-jobs",
            "plain-secret",
            with(&|p| p["env"] = json!([{"name": "FLOE_SECRET_PASSWORD", "value": "x"}])),
            "at '/products/0/env/0/name'",
        ),
        (
            "floe-jobs",
            "secret-value",
            with(&|p| p["secretEnv"][0]["value"] = json!("x")),
            "additional properties 'value' not allowed",
        ),
        ("floe-jobs", "latest", with(&|p| p["image"]["tag"] = json!("latest")), "at '/products/0/image/tag'"),
        (
            "floe-jobs",
            "no-artifacts",
            with(&|p| drop(p.as_object_mut().unwrap().remove("artifacts"))),
            "missing property 'artifacts'",
        ),
        ("floe-jobs", "top-level", json!({"products": [], "image": "x"}), "additional properties 'image' not allowed"),
        (
            "floe-platform",
            "unknown-service",
            json!({"grafana": {"enabled": true}}),
            "additional properties 'grafana' not allowed",
        ),
        (
            "floe-platform",
            "wrong-type",
            json!({"dagster": {"enabled": "yes"}}),
            "at '/dagster/enabled': got string, want boolean",
        ),
        (
            "floe-platform",
            "unknown-key",
            json!({"minio": {"rootPassword": "x"}}),
            "additional properties 'rootPassword' not allowed",
        ),
        (
            "floe-platform",
            "category",
            json!({"global": {"plugins": {"warehouse": {"type": "x"}}}}),
            "invalid propertyName 'warehouse'",
        ),
        (
            "floe-platform",
            "jdbc-without-secret",
            json!({"polaris": {"enabled": true, "persistence": {"type": "relational-jdbc"}}}),
            "missing property 'relationalJdbc'",
        ),
        ("floe-platform", "minio-without-secret", json!({"minio": {"enabled": true}}), "at '/minio/existingSecret'"),
        (
            "floe-platform",
            "inline-secret",
            json!({"hive-metastore": {"env": [{"name": "PASSWORD", "valueFrom": {"configMapKeyRef": {"name": "a", "key": "b"}}}]}}),
            "at '/hive-metastore/env/0'",
        ),
    ];
    for (chart_name, case, values, expected) in cases {
        let file = write(&format!("{chart_name}-{case}"), &values);
        let message = render(&python, &["reject", &chart(chart_name), &file.display().to_string()]);
        assert!(message.contains("don't meet the specifications of the schema"), "{chart_name} {case}: {message}");
        assert!(message.contains(expected), "{chart_name} {case}: expected {expected:?} in:\n{message}");
    }
}

#[test]
fn platform_scenarios_are_valid_floe_manifests() {
    // The platforms above are real floe workspaces: they build without a
    // diagnostic, so the values the chart is tested with are floe's own.
    for name in ["services", "prefect", "snowflake"] {
        let ws = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("testdata/centralized"), ws.path());
        std::fs::copy(repo().join(format!("tests/charts/platforms/{name}.yaml")), ws.path().join("manifest.yaml"))
            .unwrap();
        let report = build_json(ws.path());
        assert_eq!(report["diagnostics"].as_array().map_or(0, Vec::len), 0, "{name}: {report}");
    }
}

/// `kubectl` and the test venv's Python, or `None` (recorded as skipped).
fn kubectl_and_python() -> Option<(PathBuf, PathBuf)> {
    let python = python()?;
    let kubectl = common::registry::program("kubectl")?;
    Some((kubectl, python))
}

/// The objects `kubectl kustomize` renders from `dir`.
fn kustomize(kubectl: &Path, python: &Path, dir: &Path) -> Vec<Value> {
    let out = Command::new(kubectl).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "kubectl kustomize {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &out.stdout).unwrap();
    let objects: Value =
        serde_json::from_str(&render(python, &["documents", &file.path().display().to_string()])).unwrap();
    objects.as_array().unwrap().clone()
}

/// Objects as a sorted list of their JSON texts: equal lists, equal objects.
fn sorted(objects: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    texts.sort();
    texts
}

/// The namespace an object is in, or is.
fn namespace_of(object: &Value) -> &str {
    match object["kind"].as_str() {
        Some("Namespace") => object["metadata"]["name"].as_str().unwrap(),
        _ => object["metadata"]["namespace"].as_str().unwrap(),
    }
}

#[test]
fn a_build_lays_out_a_kustomization_per_namespace_that_kubectl_renders_unchanged() {
    let Some((kubectl, python)) = kubectl_and_python() else { return };
    for (example, namespaces) in [
        ("mesh", &["finance/namespaces/floe-finance", "sales/namespaces/floe-sales"][..]),
        ("centralized", &["namespaces/floe-commerce", "namespaces/floe-crm"][..]),
    ] {
        let ws = workspace(example);
        build_json(ws.path());
        let out = ws.path().join("floe-out");
        // Every object the build wrote, each valid against the Kubernetes
        // 1.33 schemas (custom resources aside).
        let files: Vec<String> = common::tree(&out)
            .into_iter()
            .filter(|(p, _)| p.ends_with("k8s.yaml"))
            .map(|(p, _)| out.join(p).display().to_string())
            .collect();
        let mut args = vec!["validate"];
        args.extend(files.iter().map(String::as_str));
        let validated: Value = serde_json::from_str(&render(&python, &args)).unwrap();
        let written: Vec<Value> =
            validated.as_array().unwrap().iter().flat_map(|f| f["objects"].as_array().unwrap().clone()).collect();
        for o in &written {
            let meta = &o["metadata"];
            assert_eq!(meta["labels"]["app.kubernetes.io/managed-by"], "floe", "{example}: {o}");
            assert!(meta["annotations"]["floe.dev/derivation"].as_str().unwrap().starts_with("blake3:"), "{o}");
            assert!(meta["annotations"]["floe.dev/package"].as_str().unwrap().starts_with("//"), "{o}");
        }

        // The output directory renders every object, as written.
        assert_eq!(sorted(&kustomize(&kubectl, &python, &out)), sorted(&written), "{example}");
        // And each namespace's directory renders exactly that namespace's.
        for dir in namespaces {
            let name = dir.rsplit('/').next().unwrap();
            let rendered = kustomize(&kubectl, &python, &out.join(dir));
            let expected: Vec<Value> = written.iter().filter(|o| namespace_of(o) == name).cloned().collect();
            assert_eq!(sorted(&rendered), sorted(&expected), "{example} {dir}");
            let ns = expected.iter().find(|o| o["kind"] == "Namespace").unwrap();
            assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
            let policies: Vec<&str> = expected
                .iter()
                .filter(|o| o["kind"] == "NetworkPolicy")
                .map(|o| o["metadata"]["name"].as_str().unwrap())
                .collect();
            assert_eq!(policies, ["floe-default-deny", "floe-allow-dns", "floe-allow-egress"], "{example} {dir}");
        }
    }
}
