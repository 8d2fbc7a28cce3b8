//! A product's runs as Kubernetes objects, without Helm: the objects
//! `charts/floe-jobs` renders from the same values, built as typed k8s-openapi
//! objects (so a misspelt or misplaced field does not compile).
//!
//! The chart's README is the contract; `tests/charts.rs` renders every
//! product of `charts/floe-jobs/ci/mesh-values.yaml` through Helm and checks
//! that [`objects`] gives the same objects, field for field.

pub mod namespace;
mod values;

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

pub use values::{
    Artifacts, CpuMemory, Env, Image, JobsValues, ProductValues, Resources, Schedule, SecretEnv, values_yaml,
};

/// Where the ConfigMap's files are mounted in the run's container.
pub const ARTIFACTS_DIR: &str = "/opt/floe/artifacts";
/// The user and group of the run (Pod Security `restricted`: not root).
const RUN_AS: i64 = 65532;
/// How often a failed run's pod is retried.
const BACKOFF_LIMIT: i32 = 2;
/// Finished Jobs and CronJob runs kept, for their logs.
const HISTORY: i32 = 3;
/// A finished Job is deleted after a week.
const JOB_TTL_SECONDS: i32 = 604_800;
/// The longest product name: its Job's name (the name, a dash and 10 hex
/// digits) stays a DNS label, as the chart's schema requires.
pub const NAME_MAX: usize = 41;
/// The longest domain: its namespace, `floe-<domain>`, stays a DNS label.
pub const DOMAIN_MAX: usize = 58;
/// The annotation with the derivation key the objects come from.
pub const DERIVATION_ANNOTATION: &str = "floe.dev/derivation";
/// The annotation with the label of the package an object comes from.
pub const PACKAGE_ANNOTATION: &str = "floe.dev/package";

/// One of a product's objects.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Object {
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    ConfigMap(ConfigMap),
    // Boxed: each is several times the size of the others.
    CronJob(Box<CronJob>),
    Job(Box<Job>),
}

/// The product's objects in a fixed order: the ServiceAccount its runs use
/// (with their Role and RoleBinding when the Role grants anything), its
/// ConfigMap, then its CronJob (with a schedule) or its Job (without).
fn typed(p: &ProductValues) -> Vec<Object> {
    let mut out = vec![Object::ServiceAccount(service_account(p))];
    if !p.role_rules.is_empty() {
        out.push(Object::Role(role(p)));
        out.push(Object::RoleBinding(role_binding(p)));
    }
    out.push(Object::ConfigMap(config_map(p)));
    out.push(match &p.schedule {
        Some(schedule) => Object::CronJob(Box::new(cron_job(p, schedule))),
        None => Object::Job(Box::new(job(p))),
    });
    out
}

/// The product's objects ([`typed`]), as JSON values.
pub fn objects(p: &ProductValues) -> Vec<Value> {
    typed(p).iter().map(to_value).collect()
}

/// The product's objects as one YAML stream, [`to_yaml`] of [`objects`]
/// written without going through JSON values.
pub fn yaml(p: &ProductValues) -> String {
    to_yaml(&typed(p))
}

/// Objects as one YAML stream: each document after a `---` line, keys sorted
/// (floe's deterministic emitter), so that the same objects give the same bytes.
pub fn to_yaml(objects: &[impl serde::Serialize]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        crate::emit::yaml_to(&mut out, object);
    }
    out
}

/// The name of the Job of a product's run: its name and the first 10 hex
/// digits of the derivation key. A Job's pod template cannot change, so a new
/// derivation is a new Job.
pub fn job_name(p: &ProductValues) -> String {
    let hex = p.derivation.strip_prefix("blake3:").unwrap_or(&p.derivation);
    let short: String = hex.chars().take(10).collect();
    format!("{}-{short}", p.name)
}

/// The name of the ConfigMap with a product's artifacts.
pub fn config_map_name(p: &ProductValues) -> String {
    format!("{}-artifacts", p.name)
}

fn to_value(object: &impl serde::Serialize) -> Value {
    // Typed objects have string keys only: serializing them cannot fail.
    serde_json::to_value(object).expect("Kubernetes objects serialize")
}

/// The labels of every object and pod of a product.
fn labels(p: &ProductValues) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/managed-by", "floe"),
        ("app.kubernetes.io/name", &p.name),
        ("app.kubernetes.io/part-of", "floe"),
        ("app.kubernetes.io/version", &p.version),
        ("floe.dev/product", &p.name),
        ("floe.dev/domain", &p.domain),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn annotations(p: &ProductValues) -> BTreeMap<String, String> {
    BTreeMap::from([(DERIVATION_ANNOTATION.to_owned(), p.derivation.clone())])
}

/// An object's metadata: its name in the product's namespace, and the
/// package it comes from.
fn metadata(p: &ProductValues, name: String) -> ObjectMeta {
    let mut annotations = annotations(p);
    annotations.insert(PACKAGE_ANNOTATION.to_owned(), p.package.clone());
    ObjectMeta {
        name: Some(name),
        namespace: Some(p.namespace.clone()),
        annotations: Some(annotations),
        ..template_metadata(p)
    }
}

fn service_account(p: &ProductValues) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(p, p.service_account_name.clone()),
        automount_service_account_token: Some(p.automount_service_account_token),
        ..ServiceAccount::default()
    }
}

fn role(p: &ProductValues) -> Role {
    Role { metadata: metadata(p, p.service_account_name.clone()), rules: Some(p.role_rules.clone()) }
}

fn role_binding(p: &ProductValues) -> RoleBinding {
    RoleBinding {
        metadata: metadata(p, p.service_account_name.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: p.service_account_name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: p.service_account_name.clone(),
            namespace: Some(p.namespace.clone()),
            ..Subject::default()
        }]),
    }
}

/// A template's metadata (job template, pod): labels and annotation only.
fn template_metadata(p: &ProductValues) -> ObjectMeta {
    ObjectMeta { labels: Some(labels(p)), annotations: Some(annotations(p)), ..ObjectMeta::default() }
}

fn config_map(p: &ProductValues) -> ConfigMap {
    ConfigMap {
        metadata: metadata(p, config_map_name(p)),
        data: Some(BTreeMap::from([
            ("compiled_artifacts.json".to_owned(), p.artifacts.compiled_artifacts.clone()),
            ("profiles.yml".to_owned(), p.artifacts.profiles.clone()),
        ])),
        ..ConfigMap::default()
    }
}

fn cron_job(p: &ProductValues, schedule: &Schedule) -> CronJob {
    CronJob {
        metadata: metadata(p, p.name.clone()),
        spec: Some(CronJobSpec {
            schedule: schedule.cron.clone(),
            // The chart omits an empty time zone as it omits a null one.
            time_zone: schedule.timezone.clone().filter(|tz| !tz.is_empty()),
            concurrency_policy: Some("Forbid".to_owned()),
            successful_jobs_history_limit: Some(HISTORY),
            failed_jobs_history_limit: Some(HISTORY),
            job_template: JobTemplateSpec {
                metadata: Some(template_metadata(p)),
                spec: Some(JobSpec { backoff_limit: Some(BACKOFF_LIMIT), template: pod(p), ..JobSpec::default() }),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    }
}

fn job(p: &ProductValues) -> Job {
    Job {
        metadata: metadata(p, job_name(p)),
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            ttl_seconds_after_finished: Some(JOB_TTL_SECONDS),
            template: pod(p),
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// The run's pod: one container with the artifacts mounted read-only, a
/// writable `/tmp` (the root filesystem is read-only), credentials only as
/// Secret references, and Pod Security `restricted`.
fn pod(p: &ProductValues) -> PodTemplateSpec {
    let seccomp = || SeccompProfile { type_: "RuntimeDefault".to_owned(), ..SeccompProfile::default() };
    let container = Container {
        name: "run".to_owned(),
        image: Some(format!("{}:{}", p.image.repository, p.image.tag)),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(p.command.clone()),
        // The chart leaves out an empty list; so does k8s-openapi only for None.
        args: (!p.args.is_empty()).then(|| p.args.clone()),
        env: Some(env(p)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&p.resources.requests)),
            limits: Some(quantities(&p.resources.limits)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), ..Capabilities::default() }),
            seccomp_profile: Some(seccomp()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "artifacts".to_owned(),
                mount_path: ARTIFACTS_DIR.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() },
        ]),
        ..Container::default()
    };
    PodTemplateSpec {
        metadata: Some(template_metadata(p)),
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_owned()),
            service_account_name: Some(p.service_account_name.clone()),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUN_AS),
                run_as_group: Some(RUN_AS),
                fs_group: Some(RUN_AS),
                seccomp_profile: Some(seccomp()),
                ..PodSecurityContext::default()
            }),
            containers: vec![container],
            volumes: Some(vec![
                Volume {
                    name: "artifacts".to_owned(),
                    config_map: Some(ConfigMapVolumeSource { name: config_map_name(p), ..Default::default() }),
                    ..Volume::default()
                },
                Volume {
                    name: "tmp".to_owned(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Volume::default()
                },
            ]),
            ..PodSpec::default()
        }),
    }
}

/// The run's environment: where dbt finds its files and may write, then the
/// plain variables, then the credentials, each in the values' order.
fn env(p: &ProductValues) -> Vec<EnvVar> {
    let plain =
        |name: &str, value: &str| EnvVar { name: name.to_owned(), value: Some(value.to_owned()), ..EnvVar::default() };
    let mut env = vec![
        plain("FLOE_ARTIFACTS", &format!("{ARTIFACTS_DIR}/compiled_artifacts.json")),
        plain("DBT_PROFILES_DIR", ARTIFACTS_DIR),
        plain("DBT_TARGET_PATH", "/tmp/dbt/target"),
        plain("DBT_LOG_PATH", "/tmp/dbt/logs"),
        plain("HOME", "/tmp"),
    ];
    env.extend(p.env.iter().map(|e| plain(&e.name, &e.value)));
    env.extend(p.secret_env.iter().map(|s| EnvVar {
        name: s.name.clone(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: s.secret_name.clone(),
                key: s.key.clone(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }));
    env
}

fn quantities(r: &CpuMemory) -> BTreeMap<String, Quantity> {
    BTreeMap::from([("cpu".to_owned(), Quantity(r.cpu.clone())), ("memory".to_owned(), Quantity(r.memory.clone()))])
}

#[cfg(test)]
mod tests;
