//! Registry credentials, as a user has them: from flags, the environment, or
//! the Docker config file and its credential helpers; held in types whose
//! `Debug` shows no secret, with where floe looked, so that messages name
//! places and never values.
//!
//! In order, the first that gives credentials wins:
//! 1. `--registry-username USER` with the password on standard input
//!    (`--registry-password-stdin`) or in `$FLOE_REGISTRY_PASSWORD`; there is
//!    no password flag, so no password is ever on a command line;
//! 2. `$FLOE_REGISTRY_USERNAME` and `$FLOE_REGISTRY_PASSWORD`, or a bearer
//!    token in `$FLOE_REGISTRY_TOKEN`;
//! 3. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: the
//!    credential helper `credHelpers` names for the host, else the
//!    `credsStore` (`docker-credential-NAME get`, the server on stdin), else
//!    the `auths` entry (`auth`: base64 of `user:password`; `registrytoken`
//!    or `identitytoken`: sent as a bearer token). Hosts match as Docker
//!    matches them: `host:port`, `https://host:port`, `http://host:port/v1/`.
//!
//! Flags and environment apply to every registry a run talks to; the
//! Docker config's entries only to their host.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::cli::{Cli, Failure};
use crate::env;
use floe_schemas::diag::escape;

/// A secret value: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What floe presents to a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Credential {
    pub fn registry_auth(&self) -> RegistryAuth {
        match self {
            Credential::Anonymous => RegistryAuth::Anonymous,
            Credential::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.0.clone()),
            Credential::Bearer(token) => RegistryAuth::Bearer(token.0.clone()),
        }
    }

    /// `text` with every form of the secret (as is, and the base64 of
    /// `user:password` a Basic header carries) replaced: for messages that
    /// quote what a registry said.
    pub fn scrub(&self, text: &str) -> String {
        let forms: Vec<String> = match self {
            Credential::Anonymous => Vec::new(),
            Credential::Basic { username, password } => vec![
                password.0.clone(),
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.0)),
            ],
            Credential::Bearer(token) => vec![token.0.clone()],
        };
        let mut out = text.to_owned();
        for form in forms.iter().filter(|f| !f.is_empty()) {
            out = out.replace(form.as_str(), "<redacted>");
        }
        out
    }
}

/// The credentials for one registry: what they are, where they came from,
/// and what floe found on the way (for the help of a refusal).
#[derive(Debug)]
pub struct Found {
    pub credential: Credential,
    /// Where they came from (`$FLOE_REGISTRY_TOKEN`, a file's entry, a helper), if anywhere.
    pub source: Option<String>,
    /// Notes on the places floe looked in: a file that does not exist, a host it has no entry for.
    pub notes: Vec<String>,
}

/// What the command line and the environment say about registries.
#[derive(Clone, Debug)]
pub struct Access {
    username: Option<String>,
    password_stdin: bool,
    /// A PEM file of CA certificates to trust, and how it was named (for messages).
    pub ca: Option<(PathBuf, &'static str)>,
    /// How long a registry may take to accept a connection or to answer.
    pub timeout: Duration,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Access {
    pub fn new(cli: &Cli) -> Result<Access, Failure> {
        let ca = match &cli.registry_ca {
            Some(path) => Some((crate::cli::base_dir(cli)?.join(path), "--registry-ca")),
            None => env::get(&env::FLOE_REGISTRY_CA).map(|p| (PathBuf::from(p), "$FLOE_REGISTRY_CA")),
        };
        let timeout = match env::get(&env::FLOE_REGISTRY_TIMEOUT) {
            None => DEFAULT_TIMEOUT,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    Failure::Usage(format!("FLOE_REGISTRY_TIMEOUT must be a number of seconds, found `{}`", escape(&v)))
                })?,
        };
        Ok(Access { username: cli.registry_username.clone(), password_stdin: cli.registry_password_stdin, ca, timeout })
    }

    /// The credentials for `registry` (`host[:port]`).
    pub fn credentials(&self, registry: &str) -> Result<Found, Failure> {
        let env_user = env::get(&env::FLOE_REGISTRY_USERNAME);
        let env_password = env::get(&env::FLOE_REGISTRY_PASSWORD);
        let token = env::get(&env::FLOE_REGISTRY_TOKEN);
        let (username, user_from) = match (&self.username, env_user) {
            (Some(u), _) => (Some(u.clone()), "--registry-username"),
            (None, Some(u)) => (Some(u), "$FLOE_REGISTRY_USERNAME"),
            (None, None) => (None, ""),
        };
        if let Some(username) = username {
            // A flag outranks the environment; two variables that disagree are a mistake.
            if token.is_some() && self.username.is_none() {
                return Err(Failure::Usage(format!(
                    "both a registry user name ({user_from}) and $FLOE_REGISTRY_TOKEN are set: give one of them"
                )));
            }
            let (password, password_from) = match self.password_stdin {
                true => (stdin_password()?, "the password on standard input"),
                false => match env_password {
                    Some(p) => (p, "$FLOE_REGISTRY_PASSWORD"),
                    None => {
                        return Err(Failure::Usage(format!(
                            "the registry user name of {user_from} needs a password: pipe it to \
                             --registry-password-stdin, or set $FLOE_REGISTRY_PASSWORD"
                        )));
                    }
                },
            };
            return Ok(Found {
                credential: Credential::Basic { username, password: Secret(password) },
                source: Some(format!("{user_from} and {password_from}")),
                notes: Vec::new(),
            });
        }
        if self.password_stdin {
            return Err(Failure::Usage(
                "--registry-password-stdin needs a user name: --registry-username or $FLOE_REGISTRY_USERNAME"
                    .to_owned(),
            ));
        }
        if env_password.is_some() {
            return Err(Failure::Usage(
                "$FLOE_REGISTRY_PASSWORD needs a user name: --registry-username or $FLOE_REGISTRY_USERNAME".to_owned(),
            ));
        }
        if let Some(token) = token {
            return Ok(Found {
                credential: Credential::Bearer(Secret(token)),
                source: Some("$FLOE_REGISTRY_TOKEN".to_owned()),
                notes: Vec::new(),
            });
        }
        docker(registry)
    }
}

/// The password piped to `--registry-password-stdin`, read once per run
/// (publish and a remote cache may both ask), without its final line break.
fn stdin_password() -> Result<String, Failure> {
    static READ: OnceLock<Result<String, String>> = OnceLock::new();
    let read = READ.get_or_init(|| {
        use std::io::Read;
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| e.to_string())?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
    });
    match read {
        Ok(p) if !p.is_empty() => Ok(p.clone()),
        Ok(_) => Err(Failure::Usage("--registry-password-stdin read nothing from standard input".to_owned())),
        Err(e) => Err(Failure::Usage(format!("cannot read the registry password from standard input: {e}"))),
    }
}

/// `config.json` as Docker writes it (what floe reads of it).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// Where the Docker config file is: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    match env::get(&env::DOCKER_CONFIG) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => env::get(&env::HOME).map(|home| PathBuf::from(home).join(".docker/config.json")),
    }
}

/// The host a Docker config key names: `https://host:port/v1/` → `host:port`;
/// Docker Hub's names are one.
fn host_of(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "docker.io" | "registry-1.docker.io" => "index.docker.io",
        _ => host,
    }
}

/// The entry of `map` for `registry`: the key as it is first, then any key naming the same host.
fn lookup<'a, T>(map: &'a BTreeMap<String, T>, registry: &str) -> Option<(&'a str, &'a T)> {
    if let Some((k, v)) = map.get_key_value(registry) {
        return Some((k, v));
    }
    let host = host_of(registry);
    map.iter().find(|(k, _)| host_of(k) == host).map(|(k, v)| (k.as_str(), v))
}

fn docker(registry: &str) -> Result<Found, Failure> {
    let mut found = Found { credential: Credential::Anonymous, source: None, notes: Vec::new() };
    let Some(path) = docker_config_path() else {
        found.notes.push("no Docker config file: $DOCKER_CONFIG and $HOME are unset".to_owned());
        return Ok(found);
    };
    let shown = path.display().to_string();
    let Some(bytes) = crate::system::read_regular(&path)? else {
        found.notes.push(format!("`{shown}` does not exist"));
        return Ok(found);
    };
    let config: DockerConfig = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Usage(format!("`{shown}` is no Docker config file: {e}")))?;
    let helper = match lookup(&config.cred_helpers, registry) {
        Some((_, name)) => Some((name.clone(), "credHelpers")),
        None => config.creds_store.clone().filter(|s| !s.is_empty()).map(|s| (s, "credsStore")),
    };
    if let Some((name, key)) = helper {
        let program = format!("docker-credential-{name}");
        let server = match host_of(registry) {
            "index.docker.io" => "https://index.docker.io/v1/",
            _ => registry,
        };
        match run_helper(&name, server) {
            Ok(Some(credential)) => {
                found.credential = credential;
                found.source = Some(format!("the credential helper `{program}` (`{key}` of `{shown}`)"));
                return Ok(found);
            }
            Ok(None) => found.notes.push(format!("`{program}` (`{key}` of `{shown}`) has no credentials for {server}")),
            // A credential store the machine does not have: Docker Desktop's
            // `desktop` in a config copied to CI, say. The file's own entries may still do.
            Err(HelperError::Missing) if key == "credsStore" => {
                found.notes.push(format!("`{program}` (`credsStore` of `{shown}`) is not on PATH"))
            }
            Err(HelperError::Missing) => {
                return Err(Failure::Usage(format!(
                    "`{shown}` names the credential helper `{program}` for {registry} (`credHelpers`), which is not on PATH"
                )));
            }
            Err(HelperError::Failed(why)) => {
                return Err(Failure::Infra(floe_engine::IoError {
                    op: "get credentials from",
                    path: PathBuf::from(program),
                    message: format!("for {server}: {why}"),
                }));
            }
        }
    }
    let Some((key, entry)) = lookup(&config.auths, registry) else {
        found.notes.push(format!("`{shown}` has no `auths` entry for {registry}"));
        return Ok(found);
    };
    let token = entry.registrytoken.clone().or_else(|| entry.identitytoken.clone()).filter(|t| !t.is_empty());
    let basic = match (&entry.auth, &entry.username, &entry.password) {
        (Some(auth), _, _) if !auth.is_empty() => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
            match decoded {
                Some(pair) => Some(pair),
                None => {
                    return Err(Failure::Usage(format!(
                        "the `auths` entry `{}` of `{shown}` is no base64 of `user:password`",
                        escape(key)
                    )));
                }
            }
        }
        (_, Some(u), Some(p)) if !u.is_empty() => Some((u.clone(), p.clone())),
        _ => None,
    };
    found.credential = match (token, basic) {
        (Some(token), _) => Credential::Bearer(Secret(token)),
        (None, Some((username, password))) => Credential::Basic { username, password: Secret(password) },
        (None, None) => {
            found.notes.push(format!("the `auths` entry `{}` of `{shown}` holds no credentials", escape(key)));
            return Ok(found);
        }
    };
    found.source = Some(format!("the `auths` entry `{}` of `{shown}`", escape(key)));
    Ok(found)
}

enum HelperError {
    /// The program is not on PATH.
    Missing,
    Failed(String),
}

/// What `docker-credential-NAME get` says for `server`: `None` when it has nothing for it.
fn run_helper(name: &str, server: &str) -> Result<Option<Credential>, HelperError> {
    use std::io::Write;
    use std::process::Stdio;
    if name.is_empty() || name.contains(['/', '\0']) {
        return Err(HelperError::Failed(format!("`{}` is no credential helper name", escape(name))));
    }
    // A credential helper is a program the user's Docker config names, run
    // as Docker runs it: with the user's environment.
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new(format!("docker-credential-{name}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(HelperError::Missing),
        Err(e) => return Err(HelperError::Failed(e.to_string())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| HelperError::Failed(e.to_string()))?;
    if !out.status.success() {
        // Docker's helpers say this on stdout; others on stderr.
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if stdout.contains("credentials not found") || stderr.contains("credentials not found") {
            return Ok(None);
        }
        let said = if stderr.trim().is_empty() { stdout } else { stderr };
        let first: String = said.lines().next().unwrap_or("").chars().take(200).collect();
        return Err(HelperError::Failed(format!("it failed ({}): {}", out.status, escape(first.trim()))));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        #[serde(default)]
        username: String,
        #[serde(default)]
        secret: String,
    }
    // The parse error names no value: serde_json reports positions only.
    let answer: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|e| HelperError::Failed(format!("its answer is not the JSON of a credential: {e}")))?;
    Ok(match (answer.username.as_str(), answer.secret) {
        (_, s) if s.is_empty() => None,
        ("<token>", s) => Some(Credential::Bearer(Secret(s))),
        (_, s) => Some(Credential::Basic { username: answer.username, password: Secret(s) }),
    })
}

/// Where floe looks for credentials, for the help of a refusal.
pub fn places() -> String {
    let file = docker_config_path().map_or_else(|| "~/.docker/config.json".to_owned(), |p| p.display().to_string());
    format!(
        "floe takes registry credentials from --registry-username (with --registry-password-stdin or \
         $FLOE_REGISTRY_PASSWORD), $FLOE_REGISTRY_USERNAME and $FLOE_REGISTRY_PASSWORD, $FLOE_REGISTRY_TOKEN, \
         then `{file}` (`credHelpers`, `credsStore`, `auths`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_their_secrets() {
        let c = Credential::Basic { username: "ci".to_owned(), password: Secret("hunter2-planted".to_owned()) };
        let shown = format!("{c:?} {:?} {}", Credential::Bearer(Secret("tok-planted".to_owned())), Secret("x".into()));
        assert!(!shown.contains("planted") && shown.contains("<redacted>"), "{shown}");
        assert!(!format!("{:?}", c.registry_auth()).contains("planted"));
        let header = base64::engine::general_purpose::STANDARD.encode("ci:hunter2-planted");
        let scrubbed = c.scrub(&format!("said hunter2-planted and Basic {header}"));
        assert_eq!(scrubbed, "said <redacted> and Basic <redacted>");
    }

    #[test]
    fn docker_config_keys_match_as_docker_matches_them() {
        let map: BTreeMap<String, u8> = [
            ("https://index.docker.io/v1/".to_owned(), 1),
            ("https://registry.example.com".to_owned(), 2),
            ("http://127.0.0.1:5000/v1/".to_owned(), 3),
            ("127.0.0.1:5001".to_owned(), 4),
        ]
        .into();
        let at = |r: &str| lookup(&map, r).map(|(_, v)| *v);
        assert_eq!(at("docker.io"), Some(1));
        assert_eq!(at("registry-1.docker.io"), Some(1));
        assert_eq!(at("registry.example.com"), Some(2));
        assert_eq!(at("127.0.0.1:5000"), Some(3));
        assert_eq!(at("127.0.0.1:5001"), Some(4));
        assert_eq!(at("127.0.0.1"), None);
        assert_eq!(at("registry.example.com:444"), None);
    }
}
