//! Identity plugins: the OIDC provider platform services trust, and the
//! issuer URL each provider documents. Keycloak and Dex can run in the
//! platform; the others are external services.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bind::Selected;
use crate::config::typed;
use crate::config::{self, ConfigError, Credential};
use crate::meta::{Category, Meta, PLUGIN_API, cap};
use crate::{Identity, Plugin};

pub(crate) static PLUGINS: &[&'static dyn Identity] = &[&Auth0, &Authentik, &Dex, &Keycloak, &Okta];

/// A URL without a trailing `/`, so paths join cleanly.
fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Tokens from a plain-HTTP issuer can be read and replayed on the way, so
/// only an in-cluster issuer may opt out of HTTPS.
fn check_https(key: &str, url: &str, may_allow: bool, allowed: bool) -> Option<ConfigError> {
    if url.starts_with("https://") || (url.starts_with("http://") && allowed) {
        return None;
    }
    let help = match may_allow {
        true => format!("use an https:// `{key}`, or set `allow_insecure_http: true` for an issuer inside the cluster"),
        false => format!("use an https:// `{key}`"),
    };
    Some(ConfigError::at(&[key], format!("the issuer `{url}` is not served over HTTPS"), help))
}

/// The client secret set in config, else key `client_secret` of the connection secret.
fn client_secret(explicit: Option<&Credential>, sel: &Selected<'_>) -> Option<Credential> {
    Credential::or_secret(explicit, sel.connection_secret, "client_secret")
}

// ---------------------------------------------------------------- Keycloak

/// Keycloak, one realm of it.
pub struct Keycloak;

/// Keycloak.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "keycloak identity config")]
pub struct KeycloakConfig {
    /// Keycloak's base URL (`https://auth.example.com`).
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub url: String,
    /// The realm platform users and services live in.
    #[schemars(length(min = 1))]
    pub realm: String,
    /// Accept an http:// `url` (a Keycloak inside the cluster).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Run Keycloak in the platform (Bitnami's keycloak chart); `false` for an existing one.
    pub deploy: Option<bool>,
    /// The admin console's user.
    #[schemars(length(min = 1))]
    pub admin_user: Option<String>,
    /// The admin console's password, a Kubernetes Secret reference; defaults
    /// to key `password` of the connection secret.
    pub password: Option<Credential>,
}

impl KeycloakConfig {
    fn password(&self, sel: &Selected<'_>) -> Option<Credential> {
        Credential::or_secret(self.password.as_ref(), sel.connection_secret, "password")
    }
}

static KEYCLOAK: Meta = Meta {
    name: "keycloak",
    category: Category::Identity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Keycloak, a realm as the OIDC issuer",
    provides: &[cap("oidc", "keycloak")],
    requires: &[],
};

impl Plugin for Keycloak {
    fn meta(&self) -> &'static Meta {
        &KEYCLOAK
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<KeycloakConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: KeycloakConfig = typed(sel);
        let mut errors: Vec<ConfigError> =
            check_https("url", &c.url, true, c.allow_insecure_http).into_iter().collect();
        if c.deploy.unwrap_or(true) {
            match c.password(sel) {
                Some(Credential::Ref { .. }) => {}
                Some(Credential::Template(_)) => errors.push(ConfigError::at(
                    &["password"],
                    "the chart reads the admin password from a Kubernetes Secret, not from a template",
                    "reference a Secret: `{secret_ref: {source: kubernetes, name, key}}`",
                )),
                None => errors.push(ConfigError::at(
                    &["password"],
                    "a Keycloak run in the platform needs an admin password",
                    "set `password` to a secret reference or set `connection_secret_ref`, or set `deploy: false`",
                )),
            }
        }
        errors
    }

    /// Values for Bitnami's keycloak chart, the admin password from an existing Secret.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: KeycloakConfig = typed(sel);
        if !c.deploy.unwrap_or(true) {
            return Value::Null;
        }
        let mut auth = serde_json::Map::new();
        auth.insert("adminUser".to_owned(), Value::from(c.admin_user.as_deref().unwrap_or("admin")));
        if let Some(Credential::Ref { secret_ref }) = c.password(sel) {
            auth.insert("existingSecret".to_owned(), Value::from(secret_ref.name));
            auth.insert("passwordSecretKey".to_owned(), Value::from(secret_ref.key));
        }
        json!({"keycloak": {"enabled": true, "auth": auth}})
    }
}

impl Identity for Keycloak {
    fn issuer(&self, sel: &Selected<'_>) -> String {
        let c: KeycloakConfig = typed(sel);
        format!("{}/realms/{}", base(&c.url), c.realm)
    }
}

// ---------------------------------------------------------------- Dex

/// Dex, federating upstream identity providers through its connectors.
pub struct Dex;

/// One Dex connector (`connectors[]` in Dex's configuration).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DexConnector {
    /// The connector type (`github`, `oidc`, `ldap`, `saml`, `microsoft`, `google`, `gitlab`).
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub kind: String,
    /// Its id, unique among the connectors.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub id: String,
    /// The name on Dex's login page.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Dex's client ID at the upstream provider (`config.clientID`).
    #[schemars(length(min = 1))]
    pub client_id: Option<String>,
    /// Dex's client secret there (`config.clientSecret`), a secret reference.
    pub client_secret: Option<Credential>,
    /// The rest of the connector's `config`, as Dex documents it for its type. No secrets here.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
}

/// Dex.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dex identity config")]
pub struct DexConfig {
    /// The issuer URL Dex serves and signs tokens as.
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub issuer: String,
    /// Upstream identity providers.
    #[serde(default)]
    pub connectors: Vec<DexConnector>,
    /// The OIDC client platform services use, registered as a Dex static client.
    #[schemars(length(min = 1))]
    pub client_id: Option<String>,
    /// That client's secret; defaults to key `client_secret` of the connection secret.
    pub client_secret: Option<Credential>,
    /// Where Dex may send that client's users back after login.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Accept an http:// `issuer` (a Dex inside the cluster).
    #[serde(default)]
    pub allow_insecure_http: bool,
}

static DEX: Meta = Meta {
    name: "dex",
    category: Category::Identity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Dex, federating upstream identity providers",
    provides: &[cap("oidc", "dex")],
    requires: &[],
};

/// Whether a connector `config` key is one Dex reads a credential from.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret") || k.contains("password") || k.contains("token") || k == "bindpw" || k.contains("privatekey")
}

impl Plugin for Dex {
    fn meta(&self) -> &'static Meta {
        &DEX
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<DexConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: DexConfig = typed(sel);
        let mut errors: Vec<ConfigError> =
            check_https("issuer", &c.issuer, true, c.allow_insecure_http).into_iter().collect();
        let mut ids = BTreeSet::new();
        for (i, conn) in c.connectors.iter().enumerate() {
            let at = format!("[{i}]");
            if !ids.insert(conn.id.as_str()) {
                errors.push(ConfigError::at(
                    &["connectors", &at, "id"],
                    format!("connector id `{}` is used twice", conn.id),
                    "give each connector its own `id`",
                ));
            }
            if let Some(e) = check_env_credential(&["connectors", &at, "client_secret"], conn.client_secret.as_ref()) {
                errors.push(e);
            }
            for key in conn.config.keys().filter(|k| looks_secret(k)) {
                errors.push(ConfigError::at(
                    &["connectors", &at, "config", key],
                    format!("`{key}` holds a credential in plain connector config"),
                    "set the connector's `client_secret` to a secret reference instead",
                ));
            }
        }
        if let Some(e) = check_env_credential(&["client_secret"], c.client_secret.as_ref()) {
            errors.push(e);
        }
        if c.client_id.is_some() && c.redirect_uris.is_empty() {
            errors.push(ConfigError::at(
                &["redirect_uris"],
                "a Dex client without redirect URIs cannot complete a login",
                "list the URLs Dex may redirect to after login in `redirect_uris`",
            ));
        }
        errors
    }

    /// Values for the dex chart: its `config` (issuer, storage, connectors,
    /// static client) and `envVars` bringing each credential from its Secret.
    /// Dex expands `${VAR}` in its configuration, so no secret is written here.
    fn helm_values(&self, sel: &Selected<'_>) -> Value {
        let c: DexConfig = typed(sel);
        let mut env = BTreeMap::new();
        let connectors: Vec<Value> = c.connectors.iter().map(|conn| dex_connector(conn, &mut env)).collect();
        let mut config = serde_json::Map::new();
        config.insert("issuer".to_owned(), Value::from(c.issuer.clone()));
        config.insert("storage".to_owned(), json!({"type": "kubernetes", "config": {"inCluster": true}}));
        config.insert("connectors".to_owned(), Value::from(connectors));
        if let Some(id) = &c.client_id {
            let mut client = serde_json::Map::new();
            client.insert("id".to_owned(), Value::from(id.clone()));
            client.insert("name".to_owned(), Value::from("floe"));
            client.insert("redirectURIs".to_owned(), Value::from(c.redirect_uris.clone()));
            if let Some(secret) = client_secret(c.client_secret.as_ref(), sel) {
                client.insert("secretEnv".to_owned(), Value::from(env_for(&secret, &mut env)));
            }
            config.insert("staticClients".to_owned(), json!([client]));
        }
        let env_vars: Vec<Value> = env.into_values().collect();
        json!({"dex": {"enabled": true, "config": config, "envVars": env_vars}})
    }
}

/// Dex reads a credential from an environment variable, so a template
/// must name one.
fn check_env_credential(path: &[&str], c: Option<&Credential>) -> Option<ConfigError> {
    let c = c?;
    c.env_var().is_none().then(|| {
        ConfigError::at(
            path,
            "this template names no environment variable Dex could read",
            "use a secret reference, or `${VAR}`",
        )
    })
}

/// A connector as Dex reads it, its secret as a `${VAR}` Dex expands.
fn dex_connector(conn: &DexConnector, env: &mut BTreeMap<String, Value>) -> Value {
    let mut config: serde_json::Map<String, Value> = conn.config.clone().into_iter().collect();
    if let Some(id) = &conn.client_id {
        config.insert("clientID".to_owned(), Value::from(id.clone()));
    }
    if let Some(secret) = &conn.client_secret {
        let var = env_for(secret, env);
        config.insert("clientSecret".to_owned(), Value::from(format!("${{{var}}}")));
    }
    json!({"type": conn.kind, "id": conn.id, "name": conn.name, "config": config})
}

/// The variable a credential reaches Dex's container as; a Secret
/// reference adds the `envVars` entry that brings it from its Secret.
fn env_for(secret: &Credential, env: &mut BTreeMap<String, Value>) -> String {
    let var = secret.env_var().unwrap_or_default();
    if let Credential::Ref { secret_ref } = secret {
        env.insert(
            var.clone(),
            json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret_ref.name, "key": secret_ref.key}}}),
        );
    }
    var
}

impl Identity for Dex {
    fn issuer(&self, sel: &Selected<'_>) -> String {
        typed::<DexConfig>(sel).issuer
    }
}

// ---------------------------------------------------------------- authentik

/// authentik, one OAuth2/OpenID provider application of it.
pub struct Authentik;

/// authentik.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "authentik identity config")]
pub struct AuthentikConfig {
    /// authentik's base URL (`https://authentik.example.com`).
    #[schemars(regex(pattern = r"^https?://[^/\s]+(/\S*)?$"))]
    pub url: String,
    /// The slug of the application whose OAuth2/OpenID provider platform services use.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub application_slug: String,
}

static AUTHENTIK: Meta = Meta {
    name: "authentik",
    category: Category::Identity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "authentik, an application's OAuth2/OpenID provider as the issuer",
    provides: &[cap("oidc", "authentik")],
    requires: &[],
};

impl Plugin for Authentik {
    fn meta(&self) -> &'static Meta {
        &AUTHENTIK
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<AuthentikConfig>()
    }

    fn check(&self, sel: &Selected<'_>) -> Vec<ConfigError> {
        let c: AuthentikConfig = typed(sel);
        check_https("url", &c.url, false, false).into_iter().collect()
    }
}

impl Identity for Authentik {
    fn issuer(&self, sel: &Selected<'_>) -> String {
        let c: AuthentikConfig = typed(sel);
        format!("{}/application/o/{}/", base(&c.url), c.application_slug)
    }
}

// ---------------------------------------------------------------- Okta

/// Okta, through one of its authorization servers.
pub struct Okta;

/// Okta.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "okta identity config")]
pub struct OktaConfig {
    /// The Okta domain, without scheme (`example.okta.com`).
    #[schemars(regex(
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
    ))]
    pub domain: String,
    /// The custom authorization server's ID; `default` is the one every org has.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]+$"))]
    pub authorization_server: Option<String>,
}

static OKTA: Meta = Meta {
    name: "okta",
    category: Category::Identity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Okta, a custom authorization server as the issuer",
    provides: &[cap("oidc", "okta")],
    requires: &[],
};

impl Plugin for Okta {
    fn meta(&self) -> &'static Meta {
        &OKTA
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<OktaConfig>()
    }
}

impl Identity for Okta {
    fn issuer(&self, sel: &Selected<'_>) -> String {
        let c: OktaConfig = typed(sel);
        format!("https://{}/oauth2/{}", c.domain, c.authorization_server.as_deref().unwrap_or("default"))
    }
}

// ---------------------------------------------------------------- Auth0

/// Auth0, one tenant.
pub struct Auth0;

/// Auth0.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "auth0 identity config")]
pub struct Auth0Config {
    /// The tenant's domain or custom domain, without scheme (`example.eu.auth0.com`).
    #[schemars(regex(
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
    ))]
    pub domain: String,
}

static AUTH0: Meta = Meta {
    name: "auth0",
    category: Category::Identity,
    version: "0.1.0",
    api: PLUGIN_API,
    summary: "Auth0, a tenant as the issuer",
    provides: &[cap("oidc", "auth0")],
    requires: &[],
};

impl Plugin for Auth0 {
    fn meta(&self) -> &'static Meta {
        &AUTH0
    }

    fn config_schema(&self) -> Value {
        config::schema_of::<Auth0Config>()
    }
}

impl Identity for Auth0 {
    fn issuer(&self, sel: &Selected<'_>) -> String {
        format!("https://{}/", typed::<Auth0Config>(sel).domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &Value) -> Selected<'_> {
        Selected::new(Some(v), None)
    }

    fn secret(name: &str, key: &str) -> Value {
        json!({"secret_ref": {"source": "kubernetes", "name": name, "key": key}})
    }

    fn keycloak() -> Value {
        json!({
            "url": "https://auth.example.com/",
            "realm": "data-platform",
            "admin_user": "platform-admin",
            "password": secret("keycloak-admin", "admin-password")
        })
    }

    fn dex() -> Value {
        json!({
            "issuer": "https://dex.example.com",
            "connectors": [{
                "type": "github",
                "id": "github",
                "name": "GitHub",
                "client_id": "Iv1.0123456789abcdef",
                "client_secret": secret("dex-github", "client_secret"),
                "config": {"redirectURI": "https://dex.example.com/callback", "orgs": [{"name": "example"}]}
            }],
            "client_id": "floe",
            "redirect_uris": ["https://floe.example.com/oauth2/callback"]
        })
    }

    fn errors(p: &dyn Plugin, s: &Selected<'_>) -> Vec<String> {
        crate::testing::shown(&crate::validate(p, s))
    }

    #[test]
    fn issuers() {
        let c = keycloak();
        let okta = json!({"domain": "example.okta.com"});
        let issuers = json!({
            "keycloak": Keycloak.issuer(&sel(&c)),
            "dex": Dex.issuer(&sel(&dex())),
            "authentik": Authentik.issuer(&sel(&json!({"url": "https://authentik.example.com", "application_slug": "floe"}))),
            "okta": Okta.issuer(&sel(&okta)),
            "okta_custom": Okta.issuer(&sel(&json!({"domain": "example.okta.com", "authorization_server": "aus1a2b3c4"}))),
            "auth0": Auth0.issuer(&sel(&json!({"domain": "example.eu.auth0.com"}))),
        });
        insta::assert_json_snapshot!(issuers);
    }

    #[test]
    fn keycloak_helm_values() {
        let c = keycloak();
        insta::assert_json_snapshot!(Keycloak.helm_values(&sel(&c)));
        let external = json!({"url": "https://auth.example.com", "realm": "r", "deploy": false});
        assert_eq!(Keycloak.helm_values(&sel(&external)), Value::Null);
        assert!(errors(&Keycloak, &sel(&external)).is_empty());
    }

    #[test]
    fn dex_helm_values() {
        let c = dex();
        let s = Selected::new(Some(&c), Some("dex-clients"));
        insta::assert_json_snapshot!(Dex.helm_values(&s));
    }

    #[test]
    fn only_in_cluster_issuers_may_use_http() {
        let kc = json!({"url": "http://keycloak.identity.svc:8080", "realm": "r", "deploy": false});
        assert_eq!(
            errors(&Keycloak, &sel(&kc)),
            [
                "url | the issuer `http://keycloak.identity.svc:8080` is not served over HTTPS | use an https:// `url`, or set `allow_insecure_http: true` for an issuer inside the cluster"
            ]
        );
        let kc = json!({"url": "http://keycloak.identity.svc:8080", "realm": "r", "deploy": false, "allow_insecure_http": true});
        assert!(errors(&Keycloak, &sel(&kc)).is_empty());
        let dex = json!({"issuer": "http://dex.identity.svc:5556", "allow_insecure_http": true});
        assert!(errors(&Dex, &sel(&dex)).is_empty());
        let ak = json!({"url": "http://authentik.example.com", "application_slug": "floe"});
        assert_eq!(errors(&Authentik, &sel(&ak)).len(), 1);
        // authentik has no such escape hatch.
        let ak =
            json!({"url": "http://authentik.example.com", "application_slug": "floe", "allow_insecure_http": true});
        assert_eq!(
            errors(&Authentik, &sel(&ak)),
            ["allow_insecure_http | unknown key `allow_insecure_http` | known keys: application_slug, url"]
        );
        // Okta and Auth0 take a domain, always served over HTTPS.
        assert_eq!(errors(&Okta, &sel(&json!({"domain": "https://example.okta.com"}))).len(), 1);
        assert_eq!(
            errors(&Auth0, &sel(&json!({"domain": "example.eu.auth0.com", "domian": "x"})))[0],
            "domian | unknown key `domian` | did you mean `domain`?"
        );
    }

    #[test]
    fn keycloak_needs_an_admin_password_it_can_mount() {
        let c = json!({"url": "https://auth.example.com", "realm": "r"});
        assert_eq!(errors(&Keycloak, &sel(&c)).len(), 1);
        assert!(errors(&Keycloak, &Selected::new(Some(&c), Some("keycloak-admin"))).is_empty());
        let c = json!({"url": "https://auth.example.com", "realm": "r", "password": "${KC_PASSWORD}"});
        assert_eq!(
            errors(&Keycloak, &sel(&c)),
            [
                "password | the chart reads the admin password from a Kubernetes Secret, not from a template | reference a Secret: `{secret_ref: {source: kubernetes, name, key}}`"
            ]
        );
    }

    #[test]
    fn dex_connectors_are_checked() {
        let c = json!({
            "issuer": "https://dex.example.com",
            "connectors": [
                {"type": "ldap", "id": "corp", "name": "Corp", "config": {"host": "ldap.example.com:636", "bindPW": "x"}},
                {"type": "github", "id": "corp", "name": "GitHub", "config": {"clientSecret": "x"}},
                {"type": "oidc", "id": "Bad Id", "name": "OIDC"}
            ],
            "client_id": "floe"
        });
        let shown = errors(&Dex, &sel(&c));
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].starts_with("connectors.[2].id | "), "{shown:#?}");
        let c = json!({
            "issuer": "https://dex.example.com",
            "connectors": [
                {"type": "ldap", "id": "corp", "name": "Corp", "config": {"host": "ldap.example.com:636", "bindPW": "x"}},
                {"type": "github", "id": "corp", "name": "GitHub", "config": {"clientSecret": "x"}}
            ],
            "client_id": "floe"
        });
        let shown: Vec<String> = crate::validate(&Dex, &sel(&c)).iter().map(|e| e.path.join(".")).collect();
        let c = json!({"issuer": "https://dex.example.com", "client_secret": "{{ secrets.dex }}"});
        assert_eq!(
            errors(&Dex, &sel(&c)),
            [
                "client_secret | this template names no environment variable Dex could read | use a secret reference, or `${VAR}`"
            ]
        );
        assert_eq!(
            shown,
            [
                "connectors.[0].config.bindPW",
                "connectors.[1].id",
                "connectors.[1].config.clientSecret",
                "redirect_uris"
            ]
        );
    }

    #[test]
    fn no_output_holds_a_secret_value() {
        const PLANTED: &str = "hunter2-planted-secret";
        // What the referenced Secrets would hold; floe never sees it, and nothing may print it.
        let store = BTreeMap::from([
            (("keycloak-admin", "admin-password"), PLANTED),
            (("dex-github", "client_secret"), PLANTED),
        ]);
        let kc = Keycloak.helm_values(&sel(&keycloak())).to_string();
        let c = dex();
        let dx = Dex.helm_values(&Selected::new(Some(&c), Some("dex-clients"))).to_string();
        for out in [&kc, &dx] {
            assert!(!out.contains(store[&("keycloak-admin", "admin-password")]), "{out}");
        }
        assert!(
            kc.contains(r#""existingSecret":"keycloak-admin""#)
                && kc.contains(r#""passwordSecretKey":"admin-password""#)
        );
        assert!(dx.contains(r#""clientSecret":"${FLOE_SECRET_DEX_GITHUB_CLIENT_SECRET}""#), "{dx}");
        assert!(dx.contains(r#""secretKeyRef":{"key":"client_secret","name":"dex-github"}"#), "{dx}");
        assert!(dx.contains(r#""secretEnv":"FLOE_SECRET_DEX_CLIENTS_CLIENT_SECRET""#), "{dx}");
    }
}
