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

mod find;

pub use find::{Found, How, find};

/// Canonical credential key names: the keys a `connection_secret_ref` Secret
/// is expected to hold. Which keys hold credentials is decided by pattern
/// ([`is_credential_key`]), of which these are examples.
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

/// Last words that make a key a credential key on their own (`db_password`,
/// `s3_session_token`, `clientSecret`, `apikey`).
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "credential",
    "credentials",
    "apikey",
    "secretkey",
    "accesskey",
    "privatekey",
    "bearer",
];

/// Words before `key` that make it a credential (`api-key`, `s3_secret_access_key`).
const KEY_KINDS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "account",
    "client",
    "signing",
    "encryption",
    "master",
    "shared",
    "session",
    "service",
    "app",
    "storage",
    "sas",
    "auth",
    "routing",
    "license",
    "subscription",
];

/// Words before `secret` that make the key name a Kubernetes Secret rather
/// than hold one (`persistence_secret`, `token_broker_secret`, `tls_secret`).
const SECRET_OBJECT_KINDS: &[&str] = &[
    "persistence",
    "broker",
    "tls",
    "ssl",
    "existing",
    "pull",
    "cert",
    "certs",
    "certificate",
    "ca",
    "registry",
    "image",
    "connection",
    "kube",
    "k8s",
    "vault",
    "external",
];

/// Whether a key holds a credential, by pattern: whatever its case and
/// separators (`_`, `-`, `.`, camelCase), with any prefix (`db_password`,
/// `s3_secret_access_key`, `clientSecret`, `api-key`, `X-Api-Key`) and a
/// value suffix (`secret_string`, `password_value`). References to
/// credentials (`secret_ref`, `secretKeyRef`, `secret_name`, `token_url`,
/// `password_policy`) are not credentials.
pub fn is_credential_key(key: &str) -> bool {
    // Most keys hold none of the words a credential's key ends in: say so
    // before splitting the key into words, which allocates.
    if key.is_ascii() && !CREDENTIAL_HINTS.iter().any(|h| holds_ignoring_case(key, h)) {
        return false;
    }
    let words = words(key);
    credential_words(&words)
        || matches!(&words[..], [rest @ .., last]
            if matches!(last.as_str(), "value" | "string" | "text" | "plain" | "raw") && credential_words(rest))
}

fn credential_words(words: &[String]) -> bool {
    match words {
        [] => false,
        [.., kind, last] if last == "secret" => !SECRET_OBJECT_KINDS.contains(&kind.as_str()),
        [.., last] if CREDENTIAL_WORDS.contains(&last.as_str()) => true,
        [.., kind, last] if last == "key" => KEY_KINDS.contains(&kind.as_str()),
        [.., kind, key, id] if key == "key" && id == "id" => kind == "access",
        [.., a, b] => a == "connection" && b == "string",
        [_] => false,
    }
}

/// Whether the value under `key` only points at a credential held elsewhere
/// (`secret_ref`, `secretKeyRef`, `valueFrom`, `env_var`), so nothing under it
/// is one.
pub fn is_reference_key(key: &str) -> bool {
    if key.is_ascii() && !REFERENCE_WORDS.iter().any(|h| holds_ignoring_case(key, h)) {
        return false;
    }
    let words = words(key);
    words.last().is_some_and(|w| REFERENCE_WORDS.contains(&w.as_str()))
}

/// The last words of a key whose value points at a credential held elsewhere.
const REFERENCE_WORDS: &[&str] = &["ref", "reference", "from", "env", "var"];

/// One of these is part of every credential key's words (see
/// [`is_credential_key`]; a test checks every word it accepts holds one).
pub(crate) const CREDENTIAL_HINTS: &[&str] =
    &["pass", "pwd", "secret", "token", "credential", "key", "bearer", "string"];

/// Whether ASCII `text` contains `needle` (lowercase), whatever the case.
fn holds_ignoring_case(text: &str, needle: &str) -> bool {
    text.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The lowercase words of a key: split at non-alphanumerics and at camelCase
/// humps (`APIKey` is `api`, `key`); digits stay with their word (`s3`).
fn words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let hump = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if hump && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// What a masked value shows.
pub const MASK: &str = "********";

/// `text` with every credential value [`find`] sees masked: the value of a
/// credential key in any YAML style (plain, quoted, next line, block scalar,
/// flow collection, anchored and aliased), in JSON, SQL and free text, and a
/// URL's user-info and token parameters. Each masked piece becomes [`MASK`];
/// a value spanning lines is masked line by line, so the text keeps its lines.
pub fn mask_source(text: &str) -> String {
    mask_ranges(text, find(text).into_iter().map(|f| f.range).collect())
}

/// `text` with each run of overlapping or touching byte ranges masked, line
/// by line: each line's piece of a range becomes [`MASK`], its indentation and
/// line break kept. A range cutting a character is widened to cover it.
pub fn mask_ranges(text: &str, ranges: Vec<std::ops::Range<usize>>) -> String {
    let ranges = ranges.into_iter().map(|r| floor(text, r.start)..ceil(text, r.end)).collect();
    let ranges = merged(ranges);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        out.push_str(&text[at..r.start]);
        for (i, piece) in text[r.clone()].split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            // Keep a line's indentation and a CRLF's `\r`: only the value goes.
            let body = piece.trim_start_matches([' ', '\t']);
            let lead = &piece[..piece.len() - body.len()];
            let cr = if body.ends_with('\r') { "\r" } else { "" };
            out.push_str(lead);
            if !body.trim().is_empty() {
                out.push_str(MASK);
            }
            out.push_str(cr);
        }
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The 0-based line `index` of `text`, masked as [`mask_source`] masks it:
/// what a diagnostic quoting that line shows. The whole text is read (a
/// value's shape is known from the lines before it, and an anchored value
/// from where it is aliased), once for the many diagnostics of one file.
pub fn masked_line(text: &str, index: usize) -> Option<String> {
    thread_local! {
        static LAST: std::cell::RefCell<(String, String)> = const { std::cell::RefCell::new((String::new(), String::new())) };
    }
    LAST.with_borrow_mut(|(source, masked)| {
        if source != text {
            *masked = mask_source(text);
            text.clone_into(source);
        }
        let line = masked.split('\n').nth(index)?;
        Some(line.trim_end_matches('\r').to_owned())
    })
}

/// `line` masked as [`mask_source`] masks it, for a caller that holds one
/// line only (a value whose shape depends on the lines before it is masked
/// by [`mask_source`] over the whole text).
pub fn mask_line(line: &str) -> String {
    mask_source(line)
}

fn floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Ranges sorted, overlapping and touching ones merged.
fn merged(mut ranges: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for r in ranges.into_iter().filter(|r| !r.is_empty()) {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_word_holds_a_hint() {
        let last_words = CREDENTIAL_WORDS.iter().chain(&["secret", "key", "string"]);
        for w in last_words {
            assert!(CREDENTIAL_HINTS.iter().any(|h| w.contains(h)), "`{w}` holds no hint");
        }
        assert!(is_credential_key("DB_PASSWORD") && is_credential_key("xApiKey") && !is_credential_key("threads"));
        assert!(is_reference_key("secretKeyRef") && !is_reference_key("threads"));
    }
    use proptest::prelude::*;

    #[test]
    fn credential_keys_by_pattern() {
        let credentials = [
            "password",
            "PASSWORD",
            "db_password",
            "dbPassword",
            "passwd",
            "pwd",
            "db_pass",
            "private_key_passphrase",
            "secret",
            "client_secret",
            "clientSecret",
            "ClientSecret",
            "api_secret",
            "token",
            "s3_session_token",
            "aws_session_token",
            "X-Amz-Security-Token",
            "access_token",
            "bearer_token",
            "api_key",
            "api-key",
            "apiKey",
            "APIKey",
            "X-API-Key",
            "apikey",
            "secret_access_key",
            "s3_secret_access_key",
            "s3SecretAccessKey",
            "AWS_SECRET_ACCESS_KEY",
            "SecretAccessKey",
            "access_key_id",
            "account_key",
            "private_key",
            "privateKey",
            "credentials",
            "credential",
            "connection_string",
            "sas_token",
            "secret_string",
            "password_value",
            "--password",
        ];
        for key in credentials {
            assert!(is_credential_key(key), "{key}");
        }
        let others = [
            "key",
            "secret_ref",
            "secretKeyRef",
            "secret_name",
            "connection_secret_ref",
            "persistence_secret",
            "token_broker_secret",
            "tls_secret",
            "token_url",
            "tokenUrl",
            "tokenizer",
            "max_tokens",
            "password_policy",
            "password_hash",
            "password_file",
            "private_key_path",
            "primary_key",
            "key_template",
            "secret_scanning",
            "secrets",
            "auth",
            "authorization",
            "auth_type",
            "passed",
            "bypass",
            "api_key_id",
            "description",
            "descripción",
            "",
            "_",
        ];
        for key in others {
            assert!(!is_credential_key(key), "{key}");
        }
        // Every canonical key is one by pattern too.
        assert!(CREDENTIAL_KEYS.iter().all(|k| is_credential_key(k)));
    }

    #[test]
    fn credential_values_are_masked() {
        let cases = [
            ("        client_secret: demo-secret  # note", "        client_secret: ********  # note"),
            ("  oauth2: {client_id: a, client_secret: s3cr3t}", "  oauth2: {client_id: a, client_secret: ********}"),
            ("password: \"p: w\"", "password: \"********\""),
            ("  uri: http://x:8181/api", "  uri: http://x:8181/api"),
            ("token:", "token:"),
            ("{password: \"a,b\", x: 1}", "{password: \"********\", x: 1}"),
            // By pattern, whatever the key's case and separators.
            ("s3_secret_access_key: abc", "s3_secret_access_key: ********"),
            ("  clientSecret: abc", "  clientSecret: ********"),
            ("  api-key: abc", "  api-key: ********"),
            // A quoted key, a tab, an anchor, a list, a map.
            ("  \"token\": abc", "  \"token\": ********"),
            ("{\"token\":\"abc\"}", "{\"token\":\"********\"}"),
            ("secret:\tabc", "secret:\t********"),
            ("pwd: &pw abc", "pwd: &pw ********"),
            ("token: [one, 'two']", "token: [********, '********']"),
            ("credentials: {user: etl, key: abc}", "credentials: {user: ********, key: ********}"),
            ("password: {secret_ref: {name: n, key: password}}", "password: {secret_ref: {name: n, key: password}}"),
            // URLs: a password, a token as user-info, a token parameter.
            ("dsn: postgres://etl:s3cr:t@pw@db:5432/x", "dsn: postgres://etl:********@db:5432/x"),
            ("url: https://abcdef0123456789abcdef@host/x", "url: https://********@host/x"),
            ("url: ssh://git@github.com:22/org/repo.git", "url: ssh://git@github.com:22/org/repo.git"),
            ("uri: http://h/api?a=1&token=abc#f", "uri: http://h/api?a=1&token=********#f"),
            // Free text: a comment, a connection string, SQL.
            ("-- connect with password=hunter22", "-- connect with password=********"),
            ("Server=db;Password=abc;", "Server=db;Password=********;"),
            ("create user etl PASSWORD = 'Sup3r!'", "create user etl PASSWORD = '********'"),
            ("description: \"the password: s3cret\"", "description: \"the password: ********\""),
            // Not credentials.
            ("select password_hash, u.token from users", "select password_hash, u.token from users"),
            ("select password::text", "select password::text"),
            ("{% if password == 'x' %}", "{% if password == 'x' %}"),
            ("descripción: \"Kundenübersicht: alles\"", "descripción: \"Kundenübersicht: alles\""),
            ("connection_secret_ref: polaris-credentials", "connection_secret_ref: polaris-credentials"),
        ];
        for (line, masked) in cases {
            assert_eq!(mask_line(line), masked, "{line}");
        }
    }

    #[test]
    fn values_over_several_lines_are_masked_where_they_are() {
        let text = "settings:\n\
            \x20 password:\n\
            \x20   next-line-value\n\
            \x20 passphrase: >-\n\
            \x20   folded\n\
            \x20   block\n\
            \x20 ? private_key\n\
            \x20 : explicit-value\n\
            \x20 token:\n\
            \x20 - item-one\n\
            \x20 - {nested: item-two}\n\
            \x20 credentials:\n\
            \x20   user: etl\n\
            \x20   secret_ref: {name: n, key: k}\n\
            \x20 api_key: \"quoted over\n\
            \x20   two lines\"\n\
            \x20 anchored: &k plain-anchored\n\
            \x20 secret: *k\n\
            \x20 password_file: /run/secrets/pw\r\n\
            \x20 user: etl\n";
        let masked = mask_source(text);
        assert_eq!(
            masked,
            "settings:\n\
            \x20 password:\n\
            \x20   ********\n\
            \x20 passphrase: >-\n\
            \x20   ********\n\
            \x20   ********\n\
            \x20 ? private_key\n\
            \x20 : ********\n\
            \x20 token:\n\
            \x20 - ********\n\
            \x20 - {nested: ********}\n\
            \x20 credentials:\n\
            \x20   user: ********\n\
            \x20   secret_ref: {name: n, key: k}\n\
            \x20 api_key: \"********\n\
            \x20   ********\"\n\
            \x20 anchored: &k ********\n\
            \x20 secret: *k\n\
            \x20 password_file: /run/secrets/pw\r\n\
            \x20 user: etl\n"
        );
        for (i, line) in masked.split('\n').enumerate() {
            assert_eq!(masked_line(text, i).as_deref(), Some(line.trim_end_matches('\r')));
        }
        assert_eq!(masked_line(text, 100), None);
    }

    #[test]
    fn how_sure_a_value_is() {
        let how = |text: &str| find(text).into_iter().map(|f| (text[f.range].to_owned(), f.how)).collect::<Vec<_>>();
        let value = How::Value { quoted: false };
        assert_eq!(how("password: hunter22"), [("hunter22".to_owned(), value)]);
        assert_eq!(how("password: stored in vault"), [("stored in vault".to_owned(), How::Uncertain)]);
        assert_eq!(how("password:hunter22"), [("hunter22".to_owned(), How::Uncertain)]);
        assert_eq!(how("where token = other"), [("other".to_owned(), How::Uncertain)]);
        assert_eq!(how("# token=abcd"), [("abcd".to_owned(), value)]);
        assert_eq!(how("x: https://u:pw@h"), [("pw".to_owned(), How::UrlPassword)]);
    }

    #[test]
    fn text_that_is_not_ascii_is_read_by_character() {
        for line in [
            "descripción: \"x\"",
            "    description: \"Kundenübersicht: Umsätze\"",
            "ключ: значение, пароль: x",
            "日本語: password: 秘密",
            "«password»: «x»",
            "é:",
            "password: é",
            "token: 'ü",
            "https://ü:ö@ä",
        ] {
            let masked = mask_line(line);
            assert_eq!(masked.lines().count(), line.lines().count(), "{line}");
        }
        assert_eq!(mask_line("password: «geheim»"), "password: ********");
    }

    proptest! {
        #[test]
        fn masking_never_panics_and_keeps_lines(parts in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![
                "password", "token", "api-key", "secret_ref", ":", " ", "\t", "\n", "\r\n", "- ", "? ", "&a ", "*a",
                "\"", "'", "{", "}", "[", "]", ",", "#", "|", ">-", "=", "--", "://", "@", "?token=", "é", "日本",
                "  ", "x",
            ]).prop_map(str::to_owned),
            any::<String>(),
        ], 0..40)) {
            let text = parts.concat();
            let masked = mask_source(&text);
            prop_assert_eq!(masked.split('\n').count(), text.split('\n').count());
            for found in find(&text) {
                prop_assert!(text.get(found.range.clone()).is_some(), "{:?}", found);
            }
            for i in 0..3 {
                let _ = masked_line(&text, i);
            }
        }
    }
}
