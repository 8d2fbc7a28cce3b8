//! Telemetry backend plugins: where OpenTelemetry traces, metrics and logs
//! end up. Jobs' SDKs send OTLP to the platform's OpenTelemetry Collector;
//! each backend configures the collector's exporter for it (the collector
//! chart's `config`, in opentelemetry-collector-contrib's exporter names and
//! fields) and the environment its credentials come from. Credentials appear
//! only as `${env:FLOE_SECRET_…}`, which the collector expands at start.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bind::{OtlpExporter, Selected};
use crate::config::{self, ConfigError, Credential};
use crate::config::{missing_credential, typed};
use crate::meta::{Capability, Category, Meta, PLUGIN_API, cap};
use crate::storage::{AWS_REGION, HTTP_URL, in_cluster, secret_of};
use crate::{Plugin, TelemetryBackend};

pub(crate) static PLUGINS: &[&'static dyn TelemetryBackend] = &[&Jaeger, &Datadog, &GrafanaCloud, &AwsXray, &Console];

/// The platform chart's OpenTelemetry Collector Service.
const COLLECTOR: &str = "http://floe-platform-otel-collector";

/// Jobs reach every backend through the collector, which receives OTLP over
/// both gRPC and HTTP.
const OTLP: &[Capability] = &[cap("otlp", "grpc"), cap("otlp", "http")];

/// The OTLP protocol jobs' SDKs send with (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Where jobs' SDKs send OTLP.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// The OTLP endpoint (default: the platform's collector,
    /// `http://floe-platform-otel-collector:4317` for gRPC, `:4318` for HTTP).
    #[schemars(pattern(HTTP_URL))]
    pub endpoint: Option<String>,
    /// The OTLP protocol (default `grpc`).
    pub protocol: Option<OtlpProtocol>,
}

/// Where jobs send OTLP: the collector's port for the protocol, unless overridden.
fn job_exporter(collector: Option<&Collector>) -> OtlpExporter {
    let (endpoint, protocol) = collector.map_or((None, None), |c| (c.endpoint.as_ref(), c.protocol));
    let (name, port) = match protocol.unwrap_or_default() {
        OtlpProtocol::Grpc => ("grpc", 4317),
        OtlpProtocol::HttpProtobuf => ("http/protobuf", 4318),
    };
    OtlpExporter {
        endpoint: endpoint.cloned().unwrap_or_else(|| format!("{COLLECTOR}:{port}")),
        protocol: name.to_owned(),
        headers: Default::default(),
        compression: None,
    }
}

/// A credential as the collector's configuration reads it.
fn collector_env(c: &Credential) -> String {
    match c.env_var() {
        Some(var) => format!("${{env:{var}}}"),
        // `check` rejects credentials the collector cannot read.
        None => String::new(),
    }
}

/// The collector's environment entry that fills a referenced credential
/// from its Secret (the collector chart's `extraEnvs`).
fn secret_env(c: &Credential) -> Option<Value> {
    let (name, key) = secret_of(Some(c))?;
    Some(json!({"name": c.env_var()?, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}))
}

/// The collector expands only environment variables, so a credential must be
/// a reference or a `${VAR}` template.
fn check_env_credential(errors: &mut Vec<ConfigError>, key: &str, c: Option<&Credential>) {
    if let Some(c) = c
        && c.env_var().is_none()
    {
        errors.push(ConfigError::at(
            &[key],
            format!("`{key}` is a template the OpenTelemetry Collector cannot expand"),
            format!("set `{key}` to a `secret_ref` or to `${{VARIABLE}}`"),
        ));
    }
}

/// The collector chart's values: its `config` override and the environment
/// the override's credentials come from.
fn collector_values(config: Value, env: Vec<Value>) -> Value {
    let mut values = Map::new();
    values.insert("config".to_owned(), config);
    if !env.is_empty() {
        values.insert("extraEnvs".to_owned(), Value::Array(env));
    }
    Value::Object(values)
}

/// `service.pipelines` sending each listed signal to `exporters`. Helm merges
/// these maps into the chart's pipelines, so their receivers and processors stay.
fn pipelines(signals: &[&str], exporters: &[&str]) -> Value {
    signals.iter().map(|s| ((*s).to_owned(), json!({"exporters": exporters}))).collect::<Map<_, _>>().into()
}

// ---------------------------------------------------------------- Jaeger

/// Jaeger, which takes OTLP over gRPC.
pub struct Jaeger;

/// The Jaeger collector's OTLP gRPC endpoint, `[scheme://]host:port`.
const GRPC_ENDPOINT: &str = r"^(https?://)?[^/\s:]+:[0-9]{1,5}$";

/// Jaeger telemetry backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jaeger telemetry backend config")]
pub struct JaegerConfig {
    /// Jaeger's OTLP gRPC endpoint (default `floe-platform-jaeger-collector:4317`).
    #[schemars(pattern(GRPC_ENDPOINT))]
    pub endpoint: Option<String>,
    /// Send without TLS (default: for an endpoint in the cluster).
    pub tls_insecure: Option<bool>,
    /// Where jobs' SDKs send OTLP (default: the platform's collector).
    pub collector: Option<Collector>,
}

static JAEGER_META: Meta = Meta {
    name: "jaeger",
    category: Category::TelemetryBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Jaeger, over OTLP gRPC from the collector",
    provides: OTLP,
    requires: &[],
};

impl JaegerConfig {
    fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or("floe-platform-jaeger-collector:4317")
    }

    fn tls_insecure(&self) -> bool {
        let endpoint = self.endpoint();
        let in_cluster = match endpoint.split_once("://") {
            Some(("https", _)) => false,
            Some(_) => in_cluster(endpoint),
            None => in_cluster(&format!("http://{endpoint}")),
        };
        self.tls_insecure.unwrap_or(in_cluster)
    }
}

impl Plugin for Jaeger {
    fn meta(&self) -> &'static Meta {
        &JAEGER_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<JaegerConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: JaegerConfig = typed(sel);
        let mut errors = Vec::new();
        if c.tls_insecure == Some(true) && c.endpoint().starts_with("https://") {
            errors.push(ConfigError::at(
                &["tls_insecure"],
                "`tls_insecure` is true, but `endpoint` is an https URL",
                "remove `tls_insecure`, or give `endpoint` without `https://`",
            ));
        }
        errors
    }
}

impl TelemetryBackend for Jaeger {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter {
        let c: JaegerConfig = typed(sel);
        job_exporter(c.collector.as_ref())
    }

    fn helm_values_override(&self, sel: &Selected<'_>) -> Value {
        let c: JaegerConfig = typed(sel);
        let config = json!({
            "exporters": {"otlp/jaeger": {"endpoint": c.endpoint(), "tls": {"insecure": c.tls_insecure()}}},
            "service": {"pipelines": pipelines(&["traces"], &["otlp/jaeger"])},
        });
        collector_values(config, Vec::new())
    }
}

// ---------------------------------------------------------------- Datadog

/// Datadog, through the collector's Datadog exporter and connector.
pub struct Datadog;

/// The Datadog site an organization is on.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
pub enum DatadogSite {
    #[default]
    #[serde(rename = "datadoghq.com")]
    Us1,
    #[serde(rename = "us3.datadoghq.com")]
    Us3,
    #[serde(rename = "us5.datadoghq.com")]
    Us5,
    #[serde(rename = "datadoghq.eu")]
    Eu1,
    #[serde(rename = "ap1.datadoghq.com")]
    Ap1,
    #[serde(rename = "ap2.datadoghq.com")]
    Ap2,
    #[serde(rename = "ddog-gov.com")]
    Gov,
}

impl DatadogSite {
    fn host(self) -> &'static str {
        match self {
            DatadogSite::Us1 => "datadoghq.com",
            DatadogSite::Us3 => "us3.datadoghq.com",
            DatadogSite::Us5 => "us5.datadoghq.com",
            DatadogSite::Eu1 => "datadoghq.eu",
            DatadogSite::Ap1 => "ap1.datadoghq.com",
            DatadogSite::Ap2 => "ap2.datadoghq.com",
            DatadogSite::Gov => "ddog-gov.com",
        }
    }
}

/// Datadog telemetry backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "datadog telemetry backend config")]
pub struct DatadogConfig {
    /// The Datadog site (default `datadoghq.com`).
    pub site: Option<DatadogSite>,
    /// The Datadog API key (default: key `api_key` of the `connection_secret_ref` Secret).
    pub api_key: Option<Credential>,
    /// Where jobs' SDKs send OTLP (default: the platform's collector).
    pub collector: Option<Collector>,
}

static DATADOG_META: Meta = Meta {
    name: "datadog",
    category: Category::TelemetryBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Datadog, through the collector's Datadog exporter",
    provides: OTLP,
    requires: &[],
};

impl Plugin for Datadog {
    fn meta(&self) -> &'static Meta {
        &DATADOG_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DatadogConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DatadogConfig = typed(sel);
        let mut errors = Vec::new();
        if c.api_key.is_none() && sel.connection_secret.is_none() {
            errors.push(missing_credential("api_key", "the Datadog exporter"));
        }
        check_env_credential(&mut errors, "api_key", c.api_key.as_ref());
        errors
    }
}

impl TelemetryBackend for Datadog {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter {
        let c: DatadogConfig = typed(sel);
        job_exporter(c.collector.as_ref())
    }

    /// The exporter sends all three signals; the connector computes APM
    /// trace metrics from spans and feeds them to the metrics pipeline, as
    /// Datadog documents. Datadog asks for 10 s batches of traces.
    fn helm_values_override(&self, sel: &Selected<'_>) -> Value {
        let c: DatadogConfig = typed(sel);
        let key = Credential::or_secret(c.api_key.as_ref(), sel.connection_secret, "api_key");
        let site = c.site.unwrap_or_default().host();
        let config = json!({
            "exporters": {"datadog": {"api": {"key": key.as_ref().map(collector_env), "site": site}}},
            "connectors": {"datadog/connector": {}},
            "processors": {"batch": {"timeout": "10s"}},
            "service": {"pipelines": {
                "traces": {"exporters": ["datadog/connector", "datadog"]},
                "metrics": {"receivers": ["otlp", "datadog/connector"], "exporters": ["datadog"]},
                "logs": {"exporters": ["datadog"]},
            }},
        });
        collector_values(config, key.iter().filter_map(secret_env).collect())
    }
}

// ---------------------------------------------------------------- Grafana Cloud

/// Grafana Cloud, through its OTLP gateway.
pub struct GrafanaCloud;

/// Grafana Cloud telemetry backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "grafana-cloud telemetry backend config")]
pub struct GrafanaCloudConfig {
    /// The stack's OTLP gateway (`https://otlp-gateway-prod-eu-west-2.grafana.net/otlp`).
    #[schemars(pattern(r"^https://otlp-gateway-[a-z0-9-]+\.grafana\.net/otlp/?$"))]
    pub endpoint: String,
    /// The stack's instance ID, the basic auth user.
    #[schemars(range(min = 1))]
    pub instance_id: u64,
    /// A Cloud Access Policy token with write scopes (default: key `token`
    /// of the `connection_secret_ref` Secret).
    pub token: Option<Credential>,
    /// The token under its older name, instead of `token`.
    pub api_key: Option<Credential>,
    /// Where jobs' SDKs send OTLP (default: the platform's collector).
    pub collector: Option<Collector>,
}

static GRAFANA_CLOUD_META: Meta = Meta {
    name: "grafana-cloud",
    category: Category::TelemetryBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Grafana Cloud, over OTLP/HTTP with basic auth from the collector",
    provides: OTLP,
    requires: &[],
};

impl GrafanaCloudConfig {
    fn token(&self, sel: &Selected<'_>) -> Option<Credential> {
        let explicit = self.token.as_ref().or(self.api_key.as_ref());
        Credential::or_secret(explicit, sel.connection_secret, "token")
    }
}

impl Plugin for GrafanaCloud {
    fn meta(&self) -> &'static Meta {
        &GRAFANA_CLOUD_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<GrafanaCloudConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: GrafanaCloudConfig = typed(sel);
        let mut errors = Vec::new();
        if c.token.is_some() && c.api_key.is_some() {
            errors.push(ConfigError::at(
                &["api_key"],
                "both `token` and `api_key` are set",
                "keep `token`; `api_key` is its older name",
            ));
        }
        if c.token(sel).is_none() {
            errors.push(missing_credential("token", "Grafana Cloud's OTLP gateway"));
        }
        check_env_credential(&mut errors, "token", c.token.as_ref());
        check_env_credential(&mut errors, "api_key", c.api_key.as_ref());
        errors
    }
}

impl TelemetryBackend for GrafanaCloud {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter {
        let c: GrafanaCloudConfig = typed(sel);
        job_exporter(c.collector.as_ref())
    }

    /// The `otlphttp` exporter authenticated by the `basicauth` extension,
    /// as Grafana documents; `service.extensions` keeps the chart's
    /// `health_check`, since Helm replaces lists.
    fn helm_values_override(&self, sel: &Selected<'_>) -> Value {
        let c: GrafanaCloudConfig = typed(sel);
        let token = c.token(sel);
        let config = json!({
            "extensions": {"basicauth/grafana_cloud": {"client_auth": {
                "username": c.instance_id.to_string(),
                "password": token.as_ref().map(collector_env),
            }}},
            "exporters": {"otlphttp/grafana_cloud": {
                "endpoint": c.endpoint,
                "auth": {"authenticator": "basicauth/grafana_cloud"},
            }},
            "service": {
                "extensions": ["health_check", "basicauth/grafana_cloud"],
                "pipelines": pipelines(&["traces", "metrics", "logs"], &["otlphttp/grafana_cloud"]),
            },
        });
        collector_values(config, token.iter().filter_map(secret_env).collect())
    }
}

// ---------------------------------------------------------------- AWS X-Ray

/// AWS X-Ray, through the collector's X-Ray exporter.
pub struct AwsXray;

/// AWS X-Ray telemetry backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "aws-xray telemetry backend config")]
pub struct AwsXrayConfig {
    /// The AWS region traces go to (default: the collector's environment).
    #[schemars(pattern(AWS_REGION))]
    pub region: Option<String>,
    /// An IAM role the exporter assumes to send.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$"))]
    pub role_arn: Option<String>,
    /// Where jobs' SDKs send OTLP (default: the platform's collector).
    pub collector: Option<Collector>,
}

static AWS_XRAY_META: Meta = Meta {
    name: "aws-xray",
    category: Category::TelemetryBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "AWS X-Ray, through the collector's X-Ray exporter",
    provides: OTLP,
    requires: &[],
};

impl Plugin for AwsXray {
    fn meta(&self) -> &'static Meta {
        &AWS_XRAY_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AwsXrayConfig>()
    }
}

impl TelemetryBackend for AwsXray {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter {
        let c: AwsXrayConfig = typed(sel);
        job_exporter(c.collector.as_ref())
    }

    /// X-Ray takes traces only. Without a connection Secret the exporter
    /// uses the collector's IAM role (IRSA); with one, the AWS SDK reads the
    /// Secret's keys from its standard variables.
    fn helm_values_override(&self, sel: &Selected<'_>) -> Value {
        let c: AwsXrayConfig = typed(sel);
        let mut exporter = Map::new();
        if let Some(region) = &c.region {
            exporter.insert("region".to_owned(), Value::from(region.clone()));
        }
        if let Some(arn) = &c.role_arn {
            exporter.insert("role_arn".to_owned(), Value::from(arn.clone()));
        }
        let config = json!({
            "exporters": {"awsxray": exporter},
            "service": {"pipelines": pipelines(&["traces"], &["awsxray"])},
        });
        let env = sel.connection_secret.map(|secret| {
            [("AWS_ACCESS_KEY_ID", "access_key_id"), ("AWS_SECRET_ACCESS_KEY", "secret_access_key")]
                .map(|(var, key)| json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}))
        });
        collector_values(config, env.into_iter().flatten().collect())
    }
}

// ---------------------------------------------------------------- Console

/// The collector's own log, for development.
pub struct Console;

/// How much of each item the debug exporter logs.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

impl Verbosity {
    fn name(self) -> &'static str {
        match self {
            Verbosity::Basic => "basic",
            Verbosity::Normal => "normal",
            Verbosity::Detailed => "detailed",
        }
    }
}

/// Console telemetry backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "console telemetry backend config")]
pub struct ConsoleConfig {
    /// How much the debug exporter logs (default `basic`).
    pub verbosity: Option<Verbosity>,
    /// Where jobs' SDKs send OTLP (default: the platform's collector).
    pub collector: Option<Collector>,
}

static CONSOLE_META: Meta = Meta {
    name: "console",
    category: Category::TelemetryBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "The collector's log, through its debug exporter",
    provides: OTLP,
    requires: &[],
};

impl Plugin for Console {
    fn meta(&self) -> &'static Meta {
        &CONSOLE_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<ConsoleConfig>()
    }
}

impl TelemetryBackend for Console {
    fn otlp_exporter_config(&self, sel: &Selected<'_>) -> OtlpExporter {
        let c: ConsoleConfig = typed(sel);
        job_exporter(c.collector.as_ref())
    }

    fn helm_values_override(&self, sel: &Selected<'_>) -> Value {
        let c: ConsoleConfig = typed(sel);
        let config = json!({
            "exporters": {"debug": {"verbosity": c.verbosity.unwrap_or_default().name()}},
            "service": {"pipelines": pipelines(&["traces", "metrics", "logs"], &["debug"])},
        });
        collector_values(config, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{redact, shown};

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn outputs(p: &dyn TelemetryBackend, sel: &Selected<'_>) -> Value {
        json!({
            "otlp_exporter": p.otlp_exporter_config(sel),
            "collector_values": p.helm_values_override(sel),
        })
    }

    #[test]
    fn jaeger_outputs() {
        insta::assert_json_snapshot!(outputs(&Jaeger, &Selected::EMPTY));
    }

    #[test]
    fn jaeger_outside_the_cluster_uses_tls() {
        let c =
            json!({"endpoint": "jaeger.observability.example.com:4317", "collector": {"protocol": "http/protobuf"}});
        let out = outputs(&Jaeger, &sel(&c));
        assert_eq!(out["collector_values"]["config"]["exporters"]["otlp/jaeger"]["tls"]["insecure"], false);
        assert_eq!(out["otlp_exporter"]["endpoint"], "http://floe-platform-otel-collector:4318");
        assert_eq!(out["otlp_exporter"]["protocol"], "http/protobuf");
    }

    #[test]
    fn jaeger_validation() {
        let c = json!({"endpoint": "https://jaeger.example.com:4317", "tls_insecure": true});
        assert_eq!(
            shown(&crate::validate(&Jaeger, &sel(&c))),
            [
                "tls_insecure | `tls_insecure` is true, but `endpoint` is an https URL | remove `tls_insecure`, or give `endpoint` without `https://`"
            ]
        );
        let c = json!({"endpoint": "jaeger", "tls_insecur": true, "collector": {"protocol": "http"}});
        let errors = shown(&crate::validate(&Jaeger, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("endpoint | `endpoint`:")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("collector.protocol | `protocol`:")), "{errors:#?}");
        assert!(
            errors.contains(&"tls_insecur | unknown key `tls_insecur` | did you mean `tls_insecure`?".to_owned()),
            "{errors:#?}"
        );
    }

    #[test]
    fn datadog_outputs() {
        let c = json!({"site": "datadoghq.eu"});
        let s = Selected::new(Some(&c), Some("datadog"));
        assert_eq!(crate::validate(&Datadog, &s), []);
        insta::assert_json_snapshot!(outputs(&Datadog, &s));
    }

    #[test]
    fn datadog_validation() {
        assert_eq!(
            shown(&crate::validate(&Datadog, &Selected::EMPTY)),
            [
                "api_key | the Datadog exporter needs `api_key`, and no `connection_secret_ref` holds one | set `api_key` to a secret reference, or `connection_secret_ref` to a Secret with key `api_key`"
            ]
        );
        let c = json!({"site": "datadoghq.de", "api_kye": "x"});
        let errors = shown(&crate::validate(&Datadog, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("site | `site`:")), "{errors:#?}");
        assert!(
            errors.contains(&"api_kye | unknown key `api_kye` | did you mean `api_key`?".to_owned()),
            "{errors:#?}"
        );
        let c = json!({"api_key": "{{ vault('datadog') }}"});
        assert_eq!(
            shown(&crate::validate(&Datadog, &sel(&c))),
            [
                "api_key | `api_key` is a template the OpenTelemetry Collector cannot expand | set `api_key` to a `secret_ref` or to `${VARIABLE}`"
            ]
        );
    }

    #[test]
    fn grafana_cloud_outputs() {
        let c = json!({
            "endpoint": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
            "instance_id": 1234567,
            "token": {"secret_ref": {"source": "kubernetes", "name": "grafana-cloud", "key": "token"}}
        });
        assert_eq!(crate::validate(&GrafanaCloud, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&GrafanaCloud, &sel(&c)));
    }

    #[test]
    fn grafana_cloud_validation() {
        let r = |key: &str| json!({"secret_ref": {"source": "kubernetes", "name": "g", "key": key}});
        let c = json!({"endpoint": "https://otlp-gateway-prod-us-central-0.grafana.net/otlp", "instance_id": 1, "token": r("token"), "api_key": r("api_key")});
        assert_eq!(
            shown(&crate::validate(&GrafanaCloud, &sel(&c))),
            ["api_key | both `token` and `api_key` are set | keep `token`; `api_key` is its older name"]
        );
        let c = json!({"endpoint": "https://otlp-gateway-prod-us-central-0.grafana.net/otlp", "instance_id": 1});
        assert_eq!(
            shown(&crate::validate(&GrafanaCloud, &sel(&c))),
            [
                "token | Grafana Cloud's OTLP gateway needs `token`, and no `connection_secret_ref` holds one | set `token` to a secret reference, or `connection_secret_ref` to a Secret with key `token`"
            ]
        );
        let c = json!({"endpoint": "https://grafana.example.com/otlp", "instance_id": 0, "instanceid": 1});
        let errors = shown(&crate::validate(&GrafanaCloud, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("endpoint | `endpoint`:")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("instance_id | `instance_id`:")), "{errors:#?}");
        assert!(
            errors.contains(&"instanceid | unknown key `instanceid` | did you mean `instance_id`?".to_owned()),
            "{errors:#?}"
        );
    }

    #[test]
    fn aws_xray_outputs() {
        let c = json!({"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/floe-xray"});
        let s = Selected::new(Some(&c), Some("xray-writer"));
        insta::assert_json_snapshot!(outputs(&AwsXray, &s));
    }

    #[test]
    fn aws_xray_validation() {
        let c = json!({"region": "Ireland", "role": "arn:aws:iam::123456789012:role/x"});
        let errors = shown(&crate::validate(&AwsXray, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("region | `region`:")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("role | unknown key `role`")), "{errors:#?}");
        // Without a Secret, the exporter runs on the collector's role.
        let c = json!({});
        assert_eq!(AwsXray.helm_values_override(&sel(&c)).get("extraEnvs"), None);
    }

    #[test]
    fn console_outputs() {
        let c = json!({"verbosity": "detailed", "collector": {"endpoint": "http://otel-collector.observability:4317"}});
        insta::assert_json_snapshot!(outputs(&Console, &sel(&c)));
    }

    #[test]
    fn console_validation() {
        let c = json!({"verbosity": "loud", "verbosty": "basic"});
        let errors = shown(&crate::validate(&Console, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("verbosity | `verbosity`:")), "{errors:#?}");
        assert!(
            errors.contains(&"verbosty | unknown key `verbosty` | did you mean `verbosity`?".to_owned()),
            "{errors:#?}"
        );
    }

    #[test]
    fn no_output_holds_a_planted_secret() {
        const PLANTED: &str = "planted-Secret-v4lue";
        let cases: [(&dyn TelemetryBackend, Value); 5] = [
            (&Jaeger, json!({})),
            (&Datadog, json!({"api_key": PLANTED})),
            (
                &GrafanaCloud,
                json!({"endpoint": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp", "instance_id": 7, "token": PLANTED}),
            ),
            (&AwsXray, json!({"region": "us-east-1"})),
            (&Console, json!({})),
        ];
        for (p, mut c) in cases {
            redact(&mut c, "floe-telemetry-creds");
            let s = Selected::new(Some(&c), Some("floe-telemetry-creds"));
            assert_eq!(crate::validate(p, &s), [], "{}", p.meta().name);
            let out = outputs(p, &s).to_string();
            assert!(!out.contains(PLANTED), "{}: {out}", p.meta().name);
        }
    }
}
