use serde_json::json;

use super::*;

/// A small product; `schedule` decides between a CronJob and a Job.
fn product(schedule: Option<Schedule>) -> ProductValues {
    serde_json::from_value(json!({
        "name": "orders",
        "domain": "sales",
        "namespace": "floe-sales",
        "version": "1.0.0",
        "derivation": "blake3:08d3ac0ec2647599306667c6add9722bc889a2eb64d7041d52965cd7cc6794fd",
        "package": "//sales/orders",
        "schedule": schedule,
        "image": {"repository": "registry.acme.example/floe/sales/orders", "tag": "1.0.0"},
        "command": ["dbt", "build"],
        "args": ["--target", "dev"],
        "serviceAccountName": "orders",
        "roleRules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["snowflake"], "verbs": ["get"]}],
        "artifacts": {"compiled_artifacts.json": "{\"version\": \"0.10.0\"}\n", "profiles.yml": "orders:\n  target: \"dev\"\n"},
        "secretEnv": [{"name": "SNOWFLAKE_PASSWORD", "secretName": "snowflake", "key": "password"}],
        "env": [{"name": "OTEL_SERVICE_NAME", "value": "orders"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    }))
    .unwrap()
}

/// The object of `kind` among `objects`.
fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

fn berlin() -> Option<Schedule> {
    Some(Schedule { cron: "*/30 * * * *".to_owned(), timezone: Some("Europe/Berlin".to_owned()) })
}

#[test]
fn a_scheduled_product_runs_as_a_cron_job() {
    insta::assert_snapshot!(to_yaml(&objects(&product(berlin()))));
}

#[test]
fn an_unscheduled_product_runs_once_as_a_job_named_by_its_derivation() {
    let objects = objects(&product(None));
    assert_eq!(find(&objects, "Job")["metadata"]["name"], "orders-08d3ac0ec2");
    insta::assert_snapshot!(to_yaml(&objects));
}

#[test]
fn objects_come_in_a_fixed_order_with_the_same_labels_and_annotation() {
    for objects in [objects(&product(berlin())), objects(&product(None))] {
        let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds[..4], ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"]);
        assert_eq!(objects[3]["metadata"]["name"], "orders-artifacts");
        let pod = match objects[4]["kind"].as_str() {
            Some("CronJob") => &objects[4]["spec"]["jobTemplate"]["spec"]["template"],
            _ => &objects[4]["spec"]["template"],
        };
        for object in &objects {
            assert_eq!(object["metadata"]["annotations"][PACKAGE_ANNOTATION], "//sales/orders");
        }
        for meta in objects.iter().map(|o| &o["metadata"]).chain([&pod["metadata"]]) {
            assert_eq!(meta["labels"]["floe.dev/product"], "orders");
            assert_eq!(meta["labels"]["app.kubernetes.io/version"], "1.0.0");
            assert_eq!(meta["annotations"][DERIVATION_ANNOTATION], product(None).derivation);
        }
        assert!(pod["metadata"]["annotations"].get(PACKAGE_ANNOTATION).is_none());
    }
}

#[test]
fn a_run_without_rules_gets_an_account_and_no_role() {
    let mut p = product(None);
    p.role_rules.clear();
    let objects = objects(&p);
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "Job"]);
    assert_eq!(objects[0]["automountServiceAccountToken"], false);
    assert_eq!(objects[2]["spec"]["template"]["spec"]["serviceAccountName"], "orders");
}

#[test]
fn empty_or_absent_optional_values_leave_their_fields_out() {
    let mut p = product(Some(Schedule { cron: "@daily".to_owned(), timezone: None }));
    p.args.clear();
    let objects = objects(&p);
    let spec = &find(&objects, "CronJob")["spec"];
    assert!(spec.get("timeZone").is_none(), "{spec}");
    let container = &spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert!(container.get("args").is_none(), "{container}");
    assert_eq!(spec["jobTemplate"]["spec"]["template"]["spec"]["volumes"][1], json!({"name": "tmp", "emptyDir": {}}));
}

#[test]
fn credentials_are_secret_references_after_the_plain_variables() {
    let objects = objects(&product(None));
    let env = &find(&objects, "Job")["spec"]["template"]["spec"]["containers"][0]["env"];
    let names: Vec<&str> = env.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "FLOE_ARTIFACTS",
            "DBT_PROFILES_DIR",
            "DBT_TARGET_PATH",
            "DBT_LOG_PATH",
            "HOME",
            "OTEL_SERVICE_NAME",
            "SNOWFLAKE_PASSWORD"
        ]
    );
    assert_eq!(
        env[6],
        json!({"name": "SNOWFLAKE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "snowflake", "key": "password"}}})
    );
}

#[test]
fn values_keep_the_charts_keys_and_refuse_others() {
    let p = product(berlin());
    let values = serde_json::to_value(JobsValues { products: vec![p.clone()] }).unwrap();
    let keys: Vec<&String> = values["products"][0].as_object().unwrap().keys().collect();
    assert!(keys.iter().any(|k| *k == "serviceAccountName") && keys.iter().any(|k| *k == "secretEnv"), "{keys:?}");
    assert!(values["products"][0]["artifacts"].get("compiled_artifacts.json").is_some());
    assert_eq!(serde_json::from_value::<JobsValues>(values.clone()).unwrap().products, [p]);

    let mut unknown = values["products"][0].clone();
    unknown["replicas"] = json!(2);
    let err = serde_json::from_value::<ProductValues>(unknown).unwrap_err().to_string();
    assert!(err.contains("unknown field `replicas`"), "{err}");

    // What the chart's schema allows to be absent may be.
    let mut minimal = values["products"][0].clone();
    for key in ["schedule", "args", "secretEnv", "env", "automountServiceAccountToken", "roleRules"] {
        minimal.as_object_mut().unwrap().remove(key);
    }
    let minimal: ProductValues = serde_json::from_value(minimal).unwrap();
    assert_eq!((minimal.schedule, minimal.args.len(), minimal.env.len()), (None, 0, 0));
}

#[test]
fn typed_objects_and_values_are_written_as_their_json_values_are() {
    for p in [product(berlin()), product(None)] {
        assert_eq!(yaml(&p), to_yaml(&objects(&p)));
        let values = json!({"products": [serde_json::to_value(&p).unwrap()]});
        assert_eq!(values_yaml(&p), crate::emit::yaml(&values));
    }
}
