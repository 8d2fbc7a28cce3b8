//! Which keys hold credentials, and keeping their values out of what floe prints.
//!
//! A credential is only ever a reference. Rules replace inline credentials
//! before anything is hashed or written; this module makes sure the human
//! renderer, which quotes source lines, never quotes one either.

use serde_json::{Map, Value};

/// The key under which a reference replaces an inline value in resolved config.
pub const SECRET_REF_KEY: &str = "secret_ref";

/// A reference to a credential held outside floe (a Kubernetes Secret by default).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Where the secret lives (`kubernetes`, `vault`, …).
    pub source: String,
    /// The secret's name.
    pub name: String,
    /// The key inside the secret.
    pub key: String,
}

impl SecretRef {
    pub fn to_value(&self) -> Value {
        let mut inner = Map::new();
        inner.insert("source".to_owned(), Value::from(self.source.clone()));
        inner.insert("name".to_owned(), Value::from(self.name.clone()));
        inner.insert("key".to_owned(), Value::from(self.key.clone()));
        let mut outer = Map::new();
        outer.insert(SECRET_REF_KEY.to_owned(), Value::Object(inner));
        Value::Object(outer)
    }

    pub fn from_value(v: &Value) -> Option<SecretRef> {
        let inner = v.as_object()?.get(SECRET_REF_KEY)?.as_object()?;
        Some(SecretRef {
            source: inner.get("source")?.as_str()?.to_owned(),
            name: inner.get("name")?.as_str()?.to_owned(),
            key: inner.get("key")?.as_str()?.to_owned(),
        })
    }

    /// The environment variable a runtime exposes the secret as.
    pub fn env_var(&self) -> String {
        let norm = |s: &str| {
            s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect::<String>()
        };
        format!("FLOE_SECRET_{}_{}", norm(&self.name), norm(&self.key))
    }

    /// How dbt profiles read the secret.
    pub fn dbt_template(&self) -> String {
        format!("{{{{ env_var('{}') }}}}", self.env_var())
    }
}

/// Key names that hold credentials, wherever they appear.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "secret_key",
    "secret_access_key",
    "access_key",
    "access_key_id",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "private_key",
    "private_key_passphrase",
    "credentials",
    "connection_string",
    "sas_token",
];

pub fn is_credential_key(key: &str) -> bool {
    CREDENTIAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// What a masked value shows.
pub const MASK: &str = "********";

/// `line` with the value of every credential key on it masked, in block
/// (`password: x`) and flow (`{password: x, user: y}`) style alike.
pub fn mask_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(colon) = rest.find(':') {
        let (before, after) = rest.split_at(colon);
        let key_start =
            before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).map_or(0, |i| i + 1);
        let key = before[key_start..].trim_matches(['"', '\'']);
        out.push_str(before);
        out.push(':');
        let after = &after[1..];
        // `key: value` only: a colon inside a value (`http://`) is not a key.
        if !is_credential_key(key) || !(after.is_empty() || after.starts_with(' ')) {
            rest = after;
            continue;
        }
        let value_start = after.len() - after.trim_start().len();
        let value = &after[value_start..];
        // A quoted value ends at its closing quote; a plain one at a delimiter.
        let end = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].find(q).map_or(value.len(), |i| i + 2),
            _ => value.find([',', '}', '#']).unwrap_or(value.len()),
        };
        let (secret, tail) = value.split_at(end);
        out.push_str(&after[..value_start]);
        if secret.trim().is_empty() {
            out.push_str(secret);
        } else {
            out.push_str(MASK);
            // Keep the spacing before a trailing comment or delimiter.
            out.push_str(&secret[secret.trim_end().len()..]);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_values_are_masked() {
        assert_eq!(mask_line("        client_secret: demo-secret  # note"), "        client_secret: ********  # note");
        assert_eq!(
            mask_line("  oauth2: {client_id: a, client_secret: s3cr3t}"),
            "  oauth2: {client_id: a, client_secret: ********}"
        );
        assert_eq!(mask_line("password: \"p: w\""), "password: ********");
        assert_eq!(mask_line("  uri: http://x:8181/api"), "  uri: http://x:8181/api");
        assert_eq!(mask_line("token:"), "token:");
        assert_eq!(mask_line("{password: \"a,b\", x: 1}"), "{password: ********, x: 1}");
    }
}
