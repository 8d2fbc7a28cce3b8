//! Alert channel plugins: where alerts go, each as an Alertmanager receiver
//! (`receivers[]` of Alertmanager's configuration). Credentials never appear
//! inline: Alertmanager reads them from files of the Secrets mounted at
//! `/etc/alertmanager/secrets/<secret>/<key>`, as the Prometheus Operator
//! mounts an Alertmanager's `secrets`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::Selected;
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{AlertChannel, Plugin};

pub(crate) static PLUGINS: &[&'static dyn AlertChannel] = &[&AlertmanagerForward, &Email, &PagerDuty, &Slack, &Webhook];

/// Where Alertmanager finds a Secret's key.
const SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// The file Alertmanager reads a credential from.
fn secret_file(c: &Credential) -> Option<String> {
    match c {
        Credential::Ref { secret_ref } => Some(format!("{SECRETS_DIR}/{}/{}", secret_ref.name, secret_ref.key)),
        Credential::Template(_) => None,
    }
}

/// Alertmanager does not expand environment variables in its configuration,
/// so a credential must be a Secret it can read as a file.
fn check_credential(key: &str, c: Option<&Credential>, needed: bool) -> Option<ConfigError> {
    match c {
        Some(Credential::Ref { .. }) => None,
        Some(Credential::Template(_)) => Some(ConfigError::at(
            &[key],
            "Alertmanager reads credentials from files, not from environment variables",
            "reference a Kubernetes Secret: `{secret_ref: {source: kubernetes, name, key}}`",
        )),
        None if needed => Some(ConfigError::at(
            &[key],
            format!("`{key}` is not set and there is no `connection_secret_ref`"),
            format!("set `{key}` to a secret reference, or set `connection_secret_ref`"),
        )),
        None => None,
    }
}

fn default_true() -> bool {
    true
}

// ---------------------------------------------------------------- Slack

/// Slack, through an incoming webhook.
pub struct Slack;

/// Slack.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "slack alert channel config")]
pub struct SlackConfig {
    /// The channel or user to post to (`#data-alerts`).
    #[schemars(regex(pattern = r"^[#@]?[A-Za-z0-9._-]{1,80}$"))]
    pub channel: String,
    /// The incoming webhook URL (Alertmanager's `api_url`), a secret
    /// reference; defaults to key `api_url` of the connection secret.
    pub secret: Option<Credential>,
    /// Also notify when alerts resolve.
    #[serde(default)]
    pub send_resolved: bool,
    /// Message title, an Alertmanager template.
    #[schemars(length(min = 1))]
    pub title: Option<String>,
    /// Message text, an Alertmanager template.
    #[schemars(length(min = 1))]
    pub text: Option<String>,
}

impl SlackConfig {
    fn secret(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.secret.as_ref(), sel.connection_secret, "api_url")
    }
}

static SLACK: Meta = Meta {
    name: "slack",
    category: Category::AlertChannel,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Slack messages through an incoming webhook",
    provides: &[cap("alerts", "slack")],
    requires: &[],
};

impl Plugin for Slack {
    fn meta(&self) -> &'static Meta {
        &SLACK
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<SlackConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: SlackConfig = typed(sel);
        check_credential("secret", c.secret(sel).as_ref(), true).into_iter().collect()
    }
}

impl AlertChannel for Slack {
    fn receiver(&self, sel: &Selected<'_>, name: &str) -> Value {
        let c: SlackConfig = typed(sel);
        let mut slack = serde_json::Map::new();
        if let Some(file) = c.secret(sel).as_ref().and_then(secret_file) {
            slack.insert("api_url_file".to_owned(), Value::from(file));
        }
        slack.insert("channel".to_owned(), Value::from(c.channel.clone()));
        slack.insert("send_resolved".to_owned(), Value::from(c.send_resolved));
        if let Some(t) = &c.title {
            slack.insert("title".to_owned(), Value::from(t.clone()));
        }
        if let Some(t) = &c.text {
            slack.insert("text".to_owned(), Value::from(t.clone()));
        }
        json!({"name": name, "slack_configs": [slack]})
    }
}

// ---------------------------------------------------------------- webhook

/// Any HTTP endpoint that takes Alertmanager's webhook payload.
pub struct Webhook;

/// Webhook.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "webhook alert channel config")]
pub struct WebhookConfig {
    /// Where Alertmanager POSTs notifications.
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub url: String,
    /// A bearer token the endpoint requires, a secret reference; defaults
    /// to key `token` of the connection secret when there is one.
    pub token: Option<Credential>,
    /// Also notify when alerts resolve.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Most alerts in one notification; 0 sends them all.
    #[schemars(range(min = 0))]
    pub max_alerts: Option<u32>,
}

impl WebhookConfig {
    fn token(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.token.as_ref(), sel.connection_secret, "token")
    }
}

static WEBHOOK: Meta = Meta {
    name: "webhook",
    category: Category::AlertChannel,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Alertmanager's webhook payload to an HTTP endpoint",
    provides: &[cap("alerts", "webhook")],
    requires: &[],
};

impl Plugin for Webhook {
    fn meta(&self) -> &'static Meta {
        &WEBHOOK
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<WebhookConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: WebhookConfig = typed(sel);
        check_credential("token", c.token(sel).as_ref(), false).into_iter().collect()
    }
}

impl AlertChannel for Webhook {
    fn receiver(&self, sel: &Selected<'_>, name: &str) -> Value {
        let c: WebhookConfig = typed(sel);
        let mut hook = serde_json::Map::new();
        hook.insert("url".to_owned(), Value::from(c.url.clone()));
        hook.insert("send_resolved".to_owned(), Value::from(c.send_resolved));
        if let Some(n) = c.max_alerts {
            hook.insert("max_alerts".to_owned(), Value::from(n));
        }
        if let Some(file) = c.token(sel).as_ref().and_then(secret_file) {
            hook.insert(
                "http_config".to_owned(),
                json!({"authorization": {"type": "Bearer", "credentials_file": file}}),
            );
        }
        json!({"name": name, "webhook_configs": [hook]})
    }
}

// ---------------------------------------------------------------- email

/// Email through an SMTP server.
pub struct Email;

/// Email.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "email alert channel config")]
pub struct EmailConfig {
    /// The address to notify.
    #[schemars(regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub to: String,
    /// The sender address.
    #[schemars(regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub from: String,
    /// The SMTP server, `host:port`.
    #[schemars(regex(pattern = r"^[^:\s]+:[0-9]{1,5}$"))]
    pub smarthost: String,
    /// The SMTP user.
    #[schemars(length(min = 1))]
    pub auth_username: Option<String>,
    /// The SMTP password (Alertmanager's `auth_password`), a secret
    /// reference; defaults to key `password` of the connection secret.
    pub password: Option<Credential>,
    /// Require STARTTLS.
    #[serde(default = "default_true")]
    pub require_tls: bool,
    /// Also notify when alerts resolve.
    #[serde(default)]
    pub send_resolved: bool,
}

impl EmailConfig {
    fn password(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.password.as_ref(), sel.connection_secret, "password")
    }
}

static EMAIL: Meta = Meta {
    name: "email",
    category: Category::AlertChannel,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Email through an SMTP server",
    provides: &[cap("alerts", "email")],
    requires: &[],
};

impl Plugin for Email {
    fn meta(&self) -> &'static Meta {
        &EMAIL
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<EmailConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: EmailConfig = typed(sel);
        let password = c.password(sel);
        let mut errors: Vec<ConfigError> = check_credential("password", password.as_ref(), false).into_iter().collect();
        if password.is_some() && c.auth_username.is_none() {
            errors.push(ConfigError::at(
                &["auth_username"],
                "an SMTP password without a user cannot log in",
                "set `auth_username`, or drop the password for a server without authentication",
            ));
        }
        errors
    }
}

impl AlertChannel for Email {
    fn receiver(&self, sel: &Selected<'_>, name: &str) -> Value {
        let c: EmailConfig = typed(sel);
        let mut email = serde_json::Map::new();
        email.insert("to".to_owned(), Value::from(c.to.clone()));
        email.insert("from".to_owned(), Value::from(c.from.clone()));
        email.insert("smarthost".to_owned(), Value::from(c.smarthost.clone()));
        if let Some(user) = &c.auth_username {
            email.insert("auth_username".to_owned(), Value::from(user.clone()));
        }
        if let Some(file) = c.password(sel).as_ref().and_then(secret_file) {
            email.insert("auth_password_file".to_owned(), Value::from(file));
        }
        email.insert("require_tls".to_owned(), Value::from(c.require_tls));
        email.insert("send_resolved".to_owned(), Value::from(c.send_resolved));
        json!({"name": name, "email_configs": [email]})
    }
}

// ---------------------------------------------------------------- PagerDuty

/// PagerDuty, through an Events API integration.
pub struct PagerDuty;

/// The PagerDuty Events API version of the integration.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventsApi {
    /// Events API v2: the integration key is a routing key.
    #[default]
    V2,
    /// Events API v1: the integration key is a service key.
    V1,
}

/// PagerDuty.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pagerduty alert channel config")]
pub struct PagerDutyConfig {
    /// The integration key (Alertmanager's `routing_key`, or `service_key`
    /// for Events API v1), a secret reference; defaults to key `routing_key`
    /// (`service_key` for v1) of the connection secret.
    pub secret: Option<Credential>,
    /// The Events API version of the integration.
    pub events_api: Option<EventsApi>,
    /// Incident severity, an Alertmanager template (`critical`, `error`, `warning`, `info`).
    #[schemars(length(min = 1))]
    pub severity: Option<String>,
    /// Also notify when alerts resolve.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
}

impl PagerDutyConfig {
    fn api(&self) -> EventsApi {
        self.events_api.unwrap_or_default()
    }

    fn secret(&self, sel: &Selected<'_>) -> Option<Credential> {
        let key = match self.api() {
            EventsApi::V2 => "routing_key",
            EventsApi::V1 => "service_key",
        };
        Credential::or_secret(self.secret.as_ref(), sel.connection_secret, key)
    }
}

static PAGERDUTY: Meta = Meta {
    name: "pagerduty",
    category: Category::AlertChannel,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "PagerDuty incidents through an Events API integration",
    provides: &[cap("alerts", "pagerduty")],
    requires: &[],
};

impl Plugin for PagerDuty {
    fn meta(&self) -> &'static Meta {
        &PAGERDUTY
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<PagerDutyConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: PagerDutyConfig = typed(sel);
        check_credential("secret", c.secret(sel).as_ref(), true).into_iter().collect()
    }
}

impl AlertChannel for PagerDuty {
    fn receiver(&self, sel: &Selected<'_>, name: &str) -> Value {
        let c: PagerDutyConfig = typed(sel);
        let mut pd = serde_json::Map::new();
        if let Some(file) = c.secret(sel).as_ref().and_then(secret_file) {
            let key = match c.api() {
                EventsApi::V2 => "routing_key_file",
                EventsApi::V1 => "service_key_file",
            };
            pd.insert(key.to_owned(), Value::from(file));
        }
        if let Some(s) = &c.severity {
            pd.insert("severity".to_owned(), Value::from(s.clone()));
        }
        pd.insert("send_resolved".to_owned(), Value::from(c.send_resolved));
        json!({"name": name, "pagerduty_configs": [pd]})
    }
}

// ---------------------------------------------------------------- Alertmanager

/// An existing Alertmanager: the platform's Prometheus sends alerts to it
/// directly, and the platform runs no routing of its own.
pub struct AlertmanagerForward;

/// An existing Alertmanager.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "alertmanager alert channel config")]
pub struct AlertmanagerForwardConfig {
    /// The Alertmanager's base URL (`http://alertmanager.monitoring.svc:9093`,
    /// or with a path prefix when it is served under one).
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub url: String,
}

static ALERTMANAGER: Meta = Meta {
    name: "alertmanager",
    category: Category::AlertChannel,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "An existing Alertmanager that the platform's Prometheus sends alerts to",
    provides: &[cap("alerts", "alertmanager")],
    requires: &[],
};

impl Plugin for AlertmanagerForward {
    fn meta(&self) -> &'static Meta {
        &ALERTMANAGER
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AlertmanagerForwardConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: AlertmanagerForwardConfig = typed(sel);
        let path = c.url.trim_end_matches('/');
        if path.ends_with("/api/v2/alerts") || path.ends_with("/api/v1/alerts") {
            return vec![ConfigError::at(
                &["url"],
                format!("`{}` is an API path, not the Alertmanager's base URL", c.url),
                "give the base URL; Prometheus adds the API path",
            )];
        }
        Vec::new()
    }

    /// Prometheus (prometheus-community chart) alerts the existing
    /// Alertmanager instead of a bundled one (`alerting.alertmanagers`).
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: AlertmanagerForwardConfig = typed(sel);
        let Some((scheme, rest)) = c.url.split_once("://") else { return Value::Null };
        let (authority, prefix) = match rest.split_once('/') {
            Some((a, p)) => (a, format!("/{}", p.trim_end_matches('/'))),
            None => (rest, "/".to_owned()),
        };
        let target = match authority.contains(':') {
            true => authority.to_owned(),
            false => format!("{authority}:{}", if scheme == "https" { 443 } else { 80 }),
        };
        json!({"prometheus": {
            "alertmanager": {"enabled": false},
            "server": {"alertmanagers": [{
                "scheme": scheme,
                "path_prefix": prefix,
                "api_version": "v2",
                "static_configs": [{"targets": [target]}],
            }]},
        }})
    }
}

impl AlertChannel for AlertmanagerForward {
    /// A receiver without integrations: alerts reach the existing
    /// Alertmanager from Prometheus, which routes them there; nothing is
    /// forwarded twice.
    fn receiver(&self, _sel: &Selected<'_>, name: &str) -> Value {
        json!({"name": name})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, key: &str) -> Value {
        json!({"secret_ref": {"source": "kubernetes", "name": name, "key": key}})
    }

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn configs() -> Vec<(&'static dyn AlertChannel, Value)> {
        vec![
            (
                &Slack,
                json!({
                    "channel": "#data-alerts",
                    "secret": secret("alerting-slack", "api_url"),
                    "send_resolved": true,
                    "title": "{{ .CommonLabels.alertname }}",
                    "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"
                }),
            ),
            (&Webhook, json!({"url": "https://hooks.example.com/floe", "token": secret("alerting-webhook", "token")})),
            (
                &Email,
                json!({
                    "to": "data-oncall@example.com",
                    "from": "floe@example.com",
                    "smarthost": "smtp.example.com:587",
                    "auth_username": "floe@example.com",
                    "password": secret("alerting-smtp", "password")
                }),
            ),
            (&PagerDuty, json!({"secret": secret("alerting-pagerduty", "routing_key"), "severity": "critical"})),
            (&AlertmanagerForward, json!({"url": "http://alertmanager.monitoring.svc:9093/"})),
        ]
    }

    #[test]
    fn receivers() {
        let all: Vec<Value> = configs().iter().map(|(p, c)| p.receiver(&sel(c), p.meta().name)).collect();
        insta::assert_json_snapshot!(all);
    }

    #[test]
    fn pagerduty_events_api_v1_uses_a_service_key() {
        let r = PagerDuty.receiver(&Selected::new(Some(&json!({"events_api": "v1"})), Some("pd")), "oncall");
        assert_eq!(
            r,
            json!({"name": "oncall", "pagerduty_configs": [{"service_key_file": "/etc/alertmanager/secrets/pd/service_key", "send_resolved": true}]})
        );
    }

    #[test]
    fn configs_are_checked() {
        let shown = |p: &dyn Plugin, c: Value| -> Vec<String> {
            crate::validate(p, &sel(&c))
                .iter()
                .map(|e| format!("{} | {}", e.path.join("."), e.help.as_deref().unwrap_or("")))
                .collect()
        };
        assert_eq!(
            shown(&Slack, json!({"channel": "#data alerts", "chanel": "x"})),
            ["chanel | did you mean `channel`?", "channel | "]
        );
        assert_eq!(
            shown(&Slack, json!({"channel": "#data-alerts"})),
            ["secret | set `secret` to a secret reference, or set `connection_secret_ref`"]
        );
        assert_eq!(
            shown(&PagerDuty, json!({"secret": "${PAGERDUTY_KEY}"})),
            ["secret | reference a Kubernetes Secret: `{secret_ref: {source: kubernetes, name, key}}`"]
        );
        assert_eq!(shown(&PagerDuty, json!({"secret": secret("pd", "k"), "events_api": "v3"})), ["events_api | "]);
        assert_eq!(
            shown(
                &Email,
                json!({"to": "a@example.com", "from": "b@example.com", "smarthost": "smtp.example.com", "password": secret("s", "p")})
            ),
            ["smarthost | "]
        );
        assert_eq!(
            shown(
                &Email,
                json!({"to": "a@example.com", "from": "b@example.com", "smarthost": "smtp.example.com:25", "password": secret("s", "p")})
            ),
            ["auth_username | set `auth_username`, or drop the password for a server without authentication"]
        );
        assert!(
            shown(&Email, json!({"to": "a@example.com", "from": "b@example.com", "smarthost": "mail:25"})).is_empty()
        );
        assert_eq!(shown(&Webhook, json!({"url": "hooks.example.com"})), ["url | "]);
        assert_eq!(
            shown(&AlertmanagerForward, json!({"url": "http://am:9093/api/v2/alerts"})),
            ["url | give the base URL; Prometheus adds the API path"]
        );
    }

    #[test]
    fn an_existing_alertmanager_is_prometheus_s_target() {
        let c = json!({"url": "https://alerts.example.com/am/"});
        let v = AlertmanagerForward.helm_values(&sel(&c));
        let am = &v["prometheus"]["server"]["alertmanagers"][0];
        assert_eq!(am["static_configs"][0]["targets"][0], "alerts.example.com:443");
        assert_eq!(am["scheme"], "https");
        assert_eq!(am["path_prefix"], "/am");
        assert_eq!(v["prometheus"]["alertmanager"]["enabled"], false);
        assert_eq!(AlertmanagerForward.receiver(&sel(&c), "r"), json!({"name": "r"}));
    }

    #[test]
    fn no_receiver_holds_a_secret_value() {
        const PLANTED: &str = "https://hooks.slack.com/services/T000/B000/planted";
        for (p, c) in configs() {
            let out = p.receiver(&sel(&c), "r").to_string();
            assert!(!out.contains(PLANTED), "{out}");
            // Every credential is a file under the mounted Secrets.
            for key in ["api_url", "routing_key", "service_key", "auth_password", "credentials"] {
                assert!(!out.contains(&format!("\"{key}\":")), "{key} inline in {out}");
            }
        }
        let s = json!({"channel": "#x", "secret": PLANTED});
        assert_eq!(crate::validate(&Slack, &sel(&s)).len(), 1, "a literal is not a reference");
    }
}
