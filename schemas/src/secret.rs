//! Which keys hold credentials, and keeping their values out of what floe prints.
//!
//! A credential is only ever a reference. Rules replace inline credentials
//! before anything is hashed or written; this module makes sure the human
//! renderer, which quotes source lines, never quotes one either.

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
