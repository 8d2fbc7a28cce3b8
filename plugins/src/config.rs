//! Typed plugin configuration: every plugin's `config` is a Rust type with a
//! JSON Schema, checked against that schema (all problems at once, each at its
//! key) before it is deserialized.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use floe_schemas::secret::SecretRef;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A problem with a plugin's configuration, at a path inside `config`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigError {
    /// Keys (and `[i]` indexes) from the selection's `config` down to the offending value.
    pub path: Vec<String>,
    pub message: String,
    pub help: Option<String>,
}

impl ConfigError {
    pub fn at(path: &[&str], message: impl Into<String>, help: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// The JSON Schema of a config type (draft 2020-12), with its title.
pub fn schema_of<C: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(C)).expect("schemas serialize")
}

/// Checks `config` against `schema`, reporting every problem. Unknown keys
/// are reported one by one, at the key, with the closest known key.
pub fn check(schema: &Value, config: &Value) -> Vec<ConfigError> {
    errors(schema, &validator(schema), config)
}

/// [`check`] against a built-in plugin's schema, whose generated schema and
/// compiled validator are kept for the process (a build checks the same
/// selections for every product).
pub(crate) fn check_plugin(plugin: &dyn crate::Plugin, config: &Value) -> Vec<ConfigError> {
    type Compiled = (Arc<Value>, Arc<jsonschema::Validator>);
    static BUILT_IN: OnceLock<Mutex<BTreeMap<(crate::Category, &'static str), Compiled>>> = OnceLock::new();
    let meta = plugin.meta();
    let compiled = {
        let mut cache = BUILT_IN.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry((meta.category, meta.name))
            .or_insert_with(|| {
                let schema = plugin.config_schema();
                let v = jsonschema::validator_for(&schema).expect("plugin config schemas are valid JSON Schemas");
                (Arc::new(schema), Arc::new(v))
            })
            .clone()
    };
    errors(&compiled.0, &compiled.1, config)
}

fn errors(schema: &Value, validator: &jsonschema::Validator, config: &Value) -> Vec<ConfigError> {
    if validator.is_valid(config) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for e in validator.iter_errors(config) {
        report(schema, &e, &mut errors);
    }
    errors.sort();
    errors.dedup();
    errors
}

fn report(schema: &Value, e: &jsonschema::ValidationError<'_>, errors: &mut Vec<ConfigError>) {
    use jsonschema::error::ValidationErrorKind as Kind;
    let path: Vec<String> = e
        .instance_path()
        .iter()
        .map(|s| match s {
            jsonschema::paths::LocationSegment::Property(p) => p.into_owned(),
            jsonschema::paths::LocationSegment::Index(i) => format!("[{i}]"),
        })
        .collect();
    match e.kind() {
        Kind::AdditionalProperties { unexpected } => {
            let known = known_keys(schema, &path);
            for key in unexpected {
                let mut at = path.clone();
                at.push(key.clone());
                let help = match floe_schemas::diag::suggest(key, known.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if known.is_empty() => "this plugin takes no configuration here".to_owned(),
                    None => format!("known keys: {}", known.join(", ")),
                };
                errors.push(ConfigError { path: at, message: format!("unknown key `{key}`"), help: Some(help) });
            }
        }
        // An optional or alternative value: report the problems of the
        // branch of the right type (an object against the object branch),
        // not "valid under none of the schemas".
        Kind::AnyOf { context } | Kind::OneOfNotValid { context } => {
            let wrong_type = |branch: &Vec<jsonschema::ValidationError<'static>>| {
                branch.iter().any(|b| matches!(b.kind(), Kind::Type { .. }) && b.instance_path() == e.instance_path())
            };
            match context.iter().filter(|b| !wrong_type(b)).min_by_key(|b| b.len()) {
                Some(branch) => branch.iter().for_each(|b| report(schema, b, errors)),
                None => errors.push(plain(path, e)),
            }
        }
        _ => errors.push(plain(path, e)),
    }
}

fn plain(path: Vec<String>, e: &jsonschema::ValidationError<'_>) -> ConfigError {
    use jsonschema::error::ValidationErrorKind as Kind;
    // A value under a credential key, or one holding a credential (a URL's
    // password), is never repeated: the message names it by its key only.
    let credential = path.iter().any(|k| floe_schemas::secret::is_credential_key(k))
        || !floe_schemas::secret::find(&e.instance().to_string()).is_empty();
    let shown = if credential { e.masked_with("the value").to_string() } else { e.to_string() };
    let message = match path.last() {
        Some(key) => format!("`{key}`: {shown}"),
        None => shown,
    };
    let help = match e.kind() {
        Kind::Minimum { limit } => Some(format!("use a value of at least {limit}")),
        Kind::Maximum { limit } => Some(format!("use a value of at most {limit}")),
        Kind::Required { property } => Some(format!("add `{}`", property.as_str().unwrap_or_default())),
        Kind::Enum { options } => {
            let list: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| format!("`{}`", o.as_str().map_or_else(|| o.to_string(), str::to_owned)))
                .collect();
            Some(format!("use one of {}", list.join(", ")))
        }
        Kind::MinLength { .. } => Some("give a non-empty value".to_owned()),
        _ => None,
    };
    ConfigError { path, message, help }
}

/// Compiled validators, each with the schema it checks.
type Validators = Mutex<Vec<(Value, Arc<jsonschema::Validator>)>>;

/// Compiled validators by schema, so each plugin's is compiled once per process.
fn validator(schema: &Value) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Validators> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, v)) = cache.iter().find(|(s, _)| s == schema) {
        return v.clone();
    }
    let v = Arc::new(jsonschema::validator_for(schema).expect("plugin config schemas are valid JSON Schemas"));
    cache.push((schema.clone(), v.clone()));
    v
}

/// The property names the schema allows at `path` (following `$ref`s into `$defs`).
fn known_keys(schema: &Value, path: &[String]) -> Vec<String> {
    let resolve = |node: &Value| -> Value {
        let mut node = node.clone();
        for _ in 0..8 {
            let Some(r) = node.get("$ref").and_then(Value::as_str) else { break };
            let Some(name) = r.strip_prefix("#/$defs/") else { break };
            match schema.pointer(&format!("/$defs/{name}")) {
                Some(n) => node = n.clone(),
                None => break,
            }
        }
        node
    };
    let mut node = resolve(schema);
    for seg in path {
        let next = if seg.starts_with('[') {
            node.get("items").cloned()
        } else {
            node.get("properties").and_then(|p| p.get(seg)).cloned()
        };
        let Some(next) = next else { return Vec::new() };
        node = resolve(&next);
        // An optional value is `anyOf: [T, null]`; look through it.
        if let Some(alts) = node.get("anyOf").and_then(Value::as_array)
            && let Some(obj) = alts.iter().map(&resolve).find(|a| a.get("properties").is_some())
        {
            node = obj;
        }
    }
    node.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// Deserializes a config that [`check`] accepted. `None` (no `config:`) is `{}`.
pub fn parse<C: DeserializeOwned>(config: Option<&Value>) -> Result<C, ConfigError> {
    let empty = Value::Object(Map::new());
    serde_json::from_value(config.unwrap_or(&empty).clone()).map_err(|e| ConfigError {
        path: Vec::new(),
        message: format!("invalid configuration: {e}"),
        help: None,
    })
}

/// A selection's config, typed. [`check`] accepted it before any plugin
/// method runs, so a failure here cannot happen; the defaults stand in.
pub(crate) fn typed<C: DeserializeOwned + Default>(sel: &crate::Selected<'_>) -> C {
    parse(sel.config).unwrap_or_default()
}

/// A credential that is set nowhere: neither in `config` nor in the
/// selection's `connection_secret_ref`.
pub(crate) fn missing_credential(key: &str, what: &str) -> ConfigError {
    ConfigError::at(
        &[key],
        format!("{what} needs `{key}`, and no `connection_secret_ref` holds one"),
        format!("set `{key}` to a secret reference, or `connection_secret_ref` to a Secret with key `{key}`"),
    )
}

/// A credential in plugin configuration: a reference to a secret held
/// outside floe, or a template the runtime fills in. A literal value never
/// gets here: floe replaces it by a reference first (and reports it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Credential {
    Ref {
        secret_ref: SecretRef,
    },
    /// `{{ env_var('NAME') }}` or `${NAME}`.
    Template(#[schemars(regex(pattern = r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|.*\{\{.*\}\}.*)$"))] String),
}

impl Credential {
    /// The credential `key` of the Kubernetes Secret a selection names in
    /// `connection_secret_ref`.
    pub fn from_secret(secret: &str, key: &str) -> Credential {
        Credential::Ref {
            secret_ref: SecretRef { source: "kubernetes".to_owned(), name: secret.to_owned(), key: key.to_owned() },
        }
    }

    /// The credential set in config, else the key of the selection's connection secret.
    pub fn or_secret(explicit: Option<&Credential>, secret: Option<&str>, key: &str) -> Option<Credential> {
        explicit.cloned().or_else(|| secret.map(|s| Credential::from_secret(s, key)))
    }

    /// The environment variable the runtime exposes it as, when it is a reference.
    pub fn env_var(&self) -> Option<String> {
        match self {
            Credential::Ref { secret_ref } => Some(secret_ref.env_var()),
            Credential::Template(t) => template_var(t).map(str::to_owned),
        }
    }

    /// As a dbt profile reads it: `{{ env_var('FLOE_SECRET_…') }}`.
    pub fn dbt(&self) -> String {
        match self {
            Credential::Ref { secret_ref } => secret_ref.dbt_template(),
            Credential::Template(t) => match t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(var) => format!("{{{{ env_var('{var}') }}}}"),
                None => t.clone(),
            },
        }
    }

    /// As shell-style configuration reads it: `${FLOE_SECRET_…}`.
    pub fn shell(&self) -> String {
        match self.env_var() {
            Some(var) => format!("${{{var}}}"),
            None => self.dbt(),
        }
    }
}

/// `NAME` of `${NAME}` or of `{{ env_var('NAME') }}`.
fn template_var(t: &str) -> Option<&str> {
    if let Some(var) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        return Some(var);
    }
    let inner = t.split("env_var(").nth(1)?;
    let inner = inner.trim_start().strip_prefix(['\'', '"'])?;
    inner.split(['\'', '"']).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        client_id: String,
        scope: Option<String>,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        uri: String,
        #[schemars(range(min = 1, max = 64))]
        threads: Option<u32>,
        oauth2: Option<Inner>,
        password: Option<Credential>,
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let schema = schema_of::<Sample>();
        let config = serde_json::json!({
            "urii": "x", "threads": 0, "oauth2": {"client_id": "a", "scop": "b"}, "password": "hunter22"
        });
        let errors = check(&schema, &config);
        let shown: Vec<String> = errors
            .iter()
            .map(|e| format!("{} | {} | {}", e.path.join("."), e.message, e.help.as_deref().unwrap_or("")))
            .collect();
        assert!(shown.contains(&"urii | unknown key `urii` | did you mean `uri`?".to_owned()), "{shown:#?}");
        assert!(shown.contains(&"oauth2.scop | unknown key `scop` | did you mean `scope`?".to_owned()), "{shown:#?}");
        assert!(shown.iter().any(|s| s.starts_with("threads | `threads`:")), "{shown:#?}");
        assert!(shown.iter().any(|s| s.starts_with("password | `password`:")), "{shown:#?}");
        // A rejected credential is not repeated.
        assert!(shown.iter().all(|s| !s.contains("hunter22")), "{shown:#?}");
        // `uri` is missing: reported at the object.
        assert!(shown.iter().any(|s| s.starts_with(" | ") && s.contains("uri")), "{shown:#?}");
    }

    #[test]
    fn credentials_render_as_references() {
        let r: Credential = serde_json::from_value(
            serde_json::json!({"secret_ref": {"source": "kubernetes", "name": "snowflake-creds", "key": "password"}}),
        )
        .unwrap();
        assert_eq!(r.dbt(), "{{ env_var('FLOE_SECRET_SNOWFLAKE_CREDS_PASSWORD') }}");
        assert_eq!(r.shell(), "${FLOE_SECRET_SNOWFLAKE_CREDS_PASSWORD}");
        let t = Credential::Template("${PW}".to_owned());
        assert_eq!(t.dbt(), "{{ env_var('PW') }}");
        let t = Credential::Template("{{ env_var('PW') }}".to_owned());
        assert_eq!(t.env_var().as_deref(), Some("PW"));
    }
}
