//! Lineage backend plugins: where jobs' OpenLineage events go. Each gives
//! the OpenLineage client's `transport` (the HTTP transport of its YAML
//! config: `url`, `endpoint`, `timeout`, `auth`) and the namespace a
//! product's jobs and datasets report under. An API key appears only as
//! `${FLOE_SECRET_…}`, set in the job's environment from its Secret.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bind::{ProductContext, Selected};
use crate::config::{self, ConfigError, Credential};
use crate::config::{missing_credential, typed};
use crate::meta::{Capability, Category, Meta, PLUGIN_API, cap};
use crate::storage::HTTP_URL;
use crate::{LineageBackend, Plugin};

pub(crate) static PLUGINS: &[&'static dyn LineageBackend] = &[&Marquez, &OpenMetadata, &Atlan];

const OPENLINEAGE_HTTP: &[Capability] = &[cap("openlineage", "http")];

/// The namespace a product reports under unless a template says otherwise.
const DEFAULT_NAMESPACE: &str = "{domain}.{product_name}";
/// A namespace template: text and the placeholders [`ProductContext::expand`] fills.
const NAMESPACE_TEMPLATE: &str = r"^([^{}]|\{(domain|product_name|product_slug)\})+$";

/// The namespace a product reports under by default: under a backend without
/// a `namespace_template`, and in its lineage declarations without a backend.
pub fn default_namespace(product: &ProductContext<'_>) -> String {
    product.expand(DEFAULT_NAMESPACE)
}

/// The OpenLineage client's HTTP transport.
fn http_transport(url: &str, endpoint: &str, timeout: Option<f64>, api_key: Option<&Credential>) -> Value {
    let mut t = Map::new();
    t.insert("type".to_owned(), Value::from("http"));
    t.insert("url".to_owned(), Value::from(url));
    t.insert("endpoint".to_owned(), Value::from(endpoint));
    // The client's own default, written out so the file says what happens.
    t.insert("timeout".to_owned(), Value::from(timeout.unwrap_or(5.0)));
    if let Some(key) = api_key {
        let mut auth = Map::new();
        auth.insert("type".to_owned(), Value::from("api_key"));
        auth.insert("apiKey".to_owned(), Value::from(key.shell()));
        t.insert("auth".to_owned(), Value::Object(auth));
    }
    Value::Object(t)
}

/// A template must tell products apart, or their jobs would share a namespace.
fn check_namespace_template(errors: &mut Vec<ConfigError>, template: Option<&String>) {
    if let Some(t) = template
        && !t.contains("{product_name}")
        && !t.contains("{product_slug}")
    {
        errors.push(ConfigError::at(
            &["namespace_template"],
            format!("namespace template `{t}` names no product, so every product would report under one namespace"),
            "include `{product_name}` or `{product_slug}`",
        ));
    }
}

/// The job reads the key from its environment, so it must be a reference or `${VAR}`.
fn check_env_credential(errors: &mut Vec<ConfigError>, key: &str, c: Option<&Credential>) {
    if let Some(c) = c
        && c.env_var().is_none()
    {
        errors.push(ConfigError::at(
            &[key],
            format!("`{key}` is a template the OpenLineage client cannot read from its environment"),
            format!("set `{key}` to a `secret_ref` or to `${{VARIABLE}}`"),
        ));
    }
}

// ---------------------------------------------------------------- Marquez

/// Marquez, the OpenLineage reference backend.
pub struct Marquez;

/// Marquez lineage backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "marquez lineage backend config")]
pub struct MarquezConfig {
    /// Marquez's API (`http://floe-platform-marquez:5000`).
    #[schemars(pattern(HTTP_URL))]
    pub url: String,
    /// Seconds a job waits at exit for queued events to be delivered.
    #[schemars(range(min = 0))]
    // Existing manifests set it, but the OpenLineage HTTP transport has no
    // key it maps to (the client takes a timeout only when closing), so it
    // is checked and not rendered.
    #[allow(dead_code)]
    pub drain_timeout: Option<f64>,
    /// Allow a plain `http://` URL, for a Marquez inside the cluster.
    pub allow_insecure_http: Option<bool>,
    /// The namespace of a product's jobs, from `{domain}`, `{product_name}`
    /// and `{product_slug}` (default `{domain}.{product_name}`).
    #[schemars(pattern(NAMESPACE_TEMPLATE))]
    pub namespace_template: Option<String>,
    /// An API key, for a Marquez behind an authenticating proxy (default:
    /// key `api_key` of the `connection_secret_ref` Secret, when set).
    pub api_key: Option<Credential>,
    /// Seconds to wait for Marquez to accept an event (default 5).
    #[schemars(range(min = 0))]
    pub timeout: Option<f64>,
}

static MARQUEZ_META: Meta = Meta {
    name: "marquez",
    category: Category::LineageBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Marquez, the OpenLineage reference backend",
    provides: OPENLINEAGE_HTTP,
    requires: &[],
};

impl Plugin for Marquez {
    fn meta(&self) -> &'static Meta {
        &MARQUEZ_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<MarquezConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: MarquezConfig = typed(sel);
        let mut errors = Vec::new();
        // Plain http stays inside the cluster (a Service name); anywhere else
        // it has to be asked for.
        if c.url.starts_with("http://") && !crate::storage::in_cluster(&c.url) && c.allow_insecure_http != Some(true) {
            errors.push(ConfigError::at(
                &["url"],
                format!("`url` is plain http (`{}`) outside the cluster, which sends lineage unencrypted", c.url),
                "use an https URL, or set `allow_insecure_http: true` if the network is trusted",
            ));
        }
        check_namespace_template(&mut errors, c.namespace_template.as_ref());
        check_env_credential(&mut errors, "api_key", c.api_key.as_ref());
        errors
    }
}

impl LineageBackend for Marquez {
    fn transport_config(&self, sel: &Selected<'_>) -> Value {
        let c: MarquezConfig = typed(sel);
        let key = Credential::or_secret(c.api_key.as_ref(), sel.connection_secret, "api_key");
        http_transport(&c.url, "api/v1/lineage", c.timeout, key.as_ref())
    }

    fn namespace_mapping(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> String {
        let c: MarquezConfig = typed(sel);
        product.expand(c.namespace_template.as_deref().unwrap_or(DEFAULT_NAMESPACE))
    }
}

// ---------------------------------------------------------------- OpenMetadata

/// OpenMetadata, through its OpenLineage endpoint.
pub struct OpenMetadata;

/// OpenMetadata lineage backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "openmetadata lineage backend config")]
pub struct OpenMetadataConfig {
    /// The OpenMetadata server, without `/api` (`https://openmetadata.example.com`).
    #[schemars(pattern(HTTP_URL))]
    pub url: String,
    /// The JWT of a bot or user with the EditLineage permission (default:
    /// key `token` of the `connection_secret_ref` Secret).
    pub token: Option<Credential>,
    /// The namespace of a product's jobs, from `{domain}`, `{product_name}`
    /// and `{product_slug}` (default `{domain}.{product_name}`).
    #[schemars(pattern(NAMESPACE_TEMPLATE))]
    pub namespace_template: Option<String>,
    /// Seconds to wait for OpenMetadata to accept an event (default 5).
    #[schemars(range(min = 0))]
    pub timeout: Option<f64>,
}

static OPENMETADATA_META: Meta = Meta {
    name: "openmetadata",
    category: Category::LineageBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "OpenMetadata, through its OpenLineage API",
    provides: OPENLINEAGE_HTTP,
    requires: &[],
};

impl OpenMetadataConfig {
    fn token(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.token.as_ref(), sel.connection_secret, "token")
    }
}

impl Plugin for OpenMetadata {
    fn meta(&self) -> &'static Meta {
        &OPENMETADATA_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<OpenMetadataConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: OpenMetadataConfig = typed(sel);
        let mut errors = Vec::new();
        if let Some(server) = c.url.trim_end_matches('/').strip_suffix("/api") {
            errors.push(ConfigError::at(
                &["url"],
                format!("`url` ends in `/api`: `{}`", c.url),
                format!("set `url` to the server, `{server}`; floe adds the API path"),
            ));
        }
        if c.token(sel).is_none() {
            errors.push(missing_credential("token", "OpenMetadata's OpenLineage API"));
        }
        check_namespace_template(&mut errors, c.namespace_template.as_ref());
        check_env_credential(&mut errors, "token", c.token.as_ref());
        errors
    }
}

impl LineageBackend for OpenMetadata {
    /// OpenMetadata takes a JWT as a bearer token, which the client's
    /// `api_key` auth sends.
    fn transport_config(&self, sel: &Selected<'_>) -> Value {
        let c: OpenMetadataConfig = typed(sel);
        let token = c.token(sel);
        http_transport(c.url.trim_end_matches('/'), "api/v1/openlineage/lineage", c.timeout, token.as_ref())
    }

    fn namespace_mapping(&self, sel: &Selected<'_>, product: &ProductContext<'_>) -> String {
        let c: OpenMetadataConfig = typed(sel);
        product.expand(c.namespace_template.as_deref().unwrap_or(DEFAULT_NAMESPACE))
    }
}

// ---------------------------------------------------------------- Atlan

/// Atlan, through its OpenLineage event endpoint.
pub struct Atlan;

/// Atlan lineage backend.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "atlan lineage backend config")]
pub struct AtlanConfig {
    /// The Atlan tenant (`https://acme.atlan.com`).
    #[schemars(pattern(r"^https://[a-z0-9-]+\.atlan\.com/?$"))]
    pub url: String,
    /// The Atlan OpenLineage connector the events are for, as its event
    /// URL names it (`airflow`, `spark`).
    #[schemars(pattern(r"^[a-z0-9][a-z0-9-]*$"))]
    pub source: String,
    /// The Atlan connection the events belong to. Atlan matches events to
    /// it by namespace, so every product reports under this name.
    #[schemars(length(min = 1))]
    pub connection_name: String,
    /// An Atlan API token (default: key `api_key` of the
    /// `connection_secret_ref` Secret).
    pub api_key: Option<Credential>,
    /// Seconds to wait for Atlan to accept an event (default 5).
    #[schemars(range(min = 0))]
    pub timeout: Option<f64>,
}

static ATLAN_META: Meta = Meta {
    name: "atlan",
    category: Category::LineageBackend,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Atlan, through its OpenLineage event endpoint",
    provides: OPENLINEAGE_HTTP,
    requires: &[],
};

impl AtlanConfig {
    fn api_key(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.api_key.as_ref(), sel.connection_secret, "api_key")
    }
}

impl Plugin for Atlan {
    fn meta(&self) -> &'static Meta {
        &ATLAN_META
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AtlanConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: AtlanConfig = typed(sel);
        let mut errors = Vec::new();
        if c.api_key(sel).is_none() {
            errors.push(missing_credential("api_key", "Atlan's OpenLineage endpoint"));
        }
        check_env_credential(&mut errors, "api_key", c.api_key.as_ref());
        errors
    }
}

impl LineageBackend for Atlan {
    fn transport_config(&self, sel: &Selected<'_>) -> Value {
        let c: AtlanConfig = typed(sel);
        let url = format!("{}/events/openlineage/{}/", c.url.trim_end_matches('/'), c.source);
        http_transport(&url, "api/v1/lineage", c.timeout, c.api_key(sel).as_ref())
    }

    fn namespace_mapping(&self, sel: &Selected<'_>, _product: &ProductContext<'_>) -> String {
        let c: AtlanConfig = typed(sel);
        c.connection_name
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{redact, shown};

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn outputs(p: &dyn LineageBackend, sel: &Selected<'_>) -> Value {
        let product = ProductContext::new("customer-360");
        let in_domain = ProductContext::new("customer-360").in_domain(Some("sales"));
        json!({
            "transport": p.transport_config(sel),
            "namespace": p.namespace_mapping(sel, &product),
            "namespace_in_domain": p.namespace_mapping(sel, &in_domain),
        })
    }

    #[test]
    fn demo_marquez_config_is_accepted_unchanged() {
        let c = json!({"url": "http://floe-platform-marquez:5000", "drain_timeout": 30.0, "allow_insecure_http": true});
        assert_eq!(crate::validate(&Marquez, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&Marquez, &sel(&c)));
    }

    #[test]
    fn marquez_with_a_key_and_a_template() {
        let c = json!({
            "url": "https://marquez.acme.example.com",
            "namespace_template": "acme-{domain}-{product_slug}",
            "timeout": 10.0
        });
        let s = Selected::new(Some(&c), Some("marquez-proxy"));
        assert_eq!(crate::validate(&Marquez, &s), []);
        insta::assert_json_snapshot!(outputs(&Marquez, &s));
    }

    #[test]
    fn marquez_validation() {
        let c = json!({"url": "http://marquez.example.com:5000"});
        assert_eq!(
            shown(&crate::validate(&Marquez, &sel(&c))),
            [
                "url | `url` is plain http (`http://marquez.example.com:5000`) outside the cluster, which sends lineage unencrypted | use an https URL, or set `allow_insecure_http: true` if the network is trusted"
            ]
        );
        // A Service inside the cluster may speak plain http.
        assert_eq!(crate::validate(&Marquez, &sel(&json!({"url": "http://marquez:5000"}))), []);
        let c = json!({"url": "https://marquez.example.com", "namespace_template": "{domain}.lineage"});
        assert_eq!(
            shown(&crate::validate(&Marquez, &sel(&c))),
            [
                "namespace_template | namespace template `{domain}.lineage` names no product, so every product would report under one namespace | include `{product_name}` or `{product_slug}`"
            ]
        );
        let c = json!({"url": "marquez:5000", "drain_timeout": -1, "namespace_template": "{team}.{product_name}", "drain_timout": 3});
        let errors = shown(&crate::validate(&Marquez, &sel(&c)));
        let keys: Vec<&str> = errors.iter().map(|e| e.split(" | ").next().unwrap_or("")).collect();
        assert_eq!(keys, ["drain_timeout", "drain_timout", "namespace_template", "url"], "{errors:#?}");
        assert!(
            errors.contains(&"drain_timout | unknown key `drain_timout` | did you mean `drain_timeout`?".to_owned())
        );
    }

    #[test]
    fn openmetadata_outputs() {
        let c = json!({
            "url": "http://openmetadata:8585",
            "token": {"secret_ref": {"source": "kubernetes", "name": "openmetadata-bot", "key": "token"}}
        });
        assert_eq!(crate::validate(&OpenMetadata, &sel(&c)), []);
        insta::assert_json_snapshot!(outputs(&OpenMetadata, &sel(&c)));
    }

    #[test]
    fn openmetadata_validation() {
        let c = json!({"url": "https://openmetadata.example.com/api"});
        assert_eq!(
            shown(&crate::validate(&OpenMetadata, &sel(&c))),
            [
                "url | `url` ends in `/api`: `https://openmetadata.example.com/api` | set `url` to the server, `https://openmetadata.example.com`; floe adds the API path",
                "token | OpenMetadata's OpenLineage API needs `token`, and no `connection_secret_ref` holds one | set `token` to a secret reference, or `connection_secret_ref` to a Secret with key `token`",
            ]
        );
        let c = json!({"url": "openmetadata", "tokn": "x"});
        let errors = shown(&crate::validate(&OpenMetadata, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("url | `url`:")), "{errors:#?}");
        assert!(errors.contains(&"tokn | unknown key `tokn` | did you mean `token`?".to_owned()), "{errors:#?}");
    }

    #[test]
    fn atlan_outputs() {
        let c = json!({"url": "https://acme.atlan.com", "source": "airflow", "connection_name": "production"});
        let s = Selected::new(Some(&c), Some("atlan-api-token"));
        assert_eq!(crate::validate(&Atlan, &s), []);
        insta::assert_json_snapshot!(outputs(&Atlan, &s));
    }

    #[test]
    fn atlan_validation() {
        let c = json!({"url": "https://acme.atlan.com", "source": "airflow", "connection_name": "production"});
        assert_eq!(
            shown(&crate::validate(&Atlan, &sel(&c))),
            [
                "api_key | Atlan's OpenLineage endpoint needs `api_key`, and no `connection_secret_ref` holds one | set `api_key` to a secret reference, or `connection_secret_ref` to a Secret with key `api_key`"
            ]
        );
        let c = json!({"url": "https://atlan.example.com", "source": "Airflow", "conection_name": "x"});
        let errors = shown(&crate::validate(&Atlan, &sel(&c)));
        assert!(errors.iter().any(|e| e.starts_with("url | `url`:")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("source | `source`:")), "{errors:#?}");
        assert!(
            errors.contains(
                &"conection_name | unknown key `conection_name` | did you mean `connection_name`?".to_owned()
            ),
            "{errors:#?}"
        );
    }

    #[test]
    fn no_output_holds_a_planted_secret() {
        const PLANTED: &str = "planted-Secret-v4lue";
        let cases: [(&dyn LineageBackend, Value); 3] = [
            (&Marquez, json!({"url": "https://marquez.example.com", "api_key": PLANTED})),
            (&OpenMetadata, json!({"url": "https://openmetadata.example.com", "token": PLANTED})),
            (
                &Atlan,
                json!({"url": "https://acme.atlan.com", "source": "spark", "connection_name": "prod", "api_key": PLANTED}),
            ),
        ];
        for (p, mut c) in cases {
            redact(&mut c, "floe-lineage-creds");
            let s = sel(&c);
            assert_eq!(crate::validate(p, &s), [], "{}", p.meta().name);
            let out = outputs(p, &s).to_string();
            assert!(!out.contains(PLANTED), "{}: {out}", p.meta().name);
            assert!(out.contains("${FLOE_SECRET_FLOE_LINEAGE_CREDS_"), "{}: {out}", p.meta().name);
        }
    }
}
