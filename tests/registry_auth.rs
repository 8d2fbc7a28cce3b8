//! Registries as users have them: htpasswd auth with credentials from flags,
//! the environment, a Docker config file or a credential helper (and a
//! clear refusal without them), a token service handing out bearer tokens,
//! and TLS with a custom CA; a planted password reaches no output and no
//! file of the workspace, its store or its outputs.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run a registry, tools and scripts

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::registry::{
    Answer, PASSWORD, Request, Setup, USER, floe_registry, program, proxy, registry, registry_with, tls,
};
use common::{Run, tree, workspace};

const LIMIT: Duration = Duration::from_secs(300);

fn run(ws: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Run {
    floe_registry(ws, args, env, None, LIMIT)
}

/// No form of the planted password in what floe printed.
fn clean(r: &Run) {
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(!text.contains(PASSWORD) && !text.contains(&header), "the password is on {name}:\n{text}");
    }
}

/// No form of the planted password in any file below `dir`.
fn clean_tree(dir: &Path) {
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for (path, bytes) in tree(dir) {
        for secret in [PASSWORD, header.as_str()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the password is in {path}");
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn credentials_come_from_flags_the_environment_a_docker_config_or_a_helper() {
    let Some(registry) = registry_with(&Setup { auth: true, tls: None }) else { return };
    let port = registry.port;
    let ws = workspace("mesh");
    let to = |repo: &str| format!("oci://127.0.0.1:{port}/{repo}");
    let publish = |repo: &str, extra: &[&str], env: &[(&str, &OsStr)], stdin: Option<&str>| {
        let to = to(repo);
        let args = [&["publish", "//sales/orders", "--to", to.as_str(), "--format", "json"], extra].concat();
        let r = floe_registry(ws.path(), &args, env, stdin, LIMIT);
        clean(&r);
        r
    };
    let ok = |r: &Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let user = OsStr::new(USER);
    let password = OsStr::new(PASSWORD);

    // Without credentials: refused, saying where floe looked (and no value).
    let r = publish("none", &[], &[], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("error: 127.0.0.1:{port} asks for credentials to look up")), "{}", r.stderr);
    for place in ["--registry-username", "$FLOE_REGISTRY_PASSWORD", "$FLOE_REGISTRY_TOKEN", "credHelpers"] {
        assert!(r.stderr.contains(place), "{place}: {}", r.stderr);
    }
    assert!(
        r.stderr.contains("note: `/nonexistent/floe-test-docker-config/config.json` does not exist"),
        "{}",
        r.stderr
    );

    // A wrong password: refused, naming where it came from, not what it is.
    let wrong = "wrong-pw-planted-7731";
    let r =
        publish("none", &[], &[("FLOE_REGISTRY_USERNAME", user), ("FLOE_REGISTRY_PASSWORD", OsStr::new(wrong))], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("refused the credentials from $FLOE_REGISTRY_USERNAME and $FLOE_REGISTRY_PASSWORD"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(wrong), "{}", r.stderr);

    // (a) The environment.
    let env = [("FLOE_REGISTRY_USERNAME", user), ("FLOE_REGISTRY_PASSWORD", password)];
    let first = ok(&publish("env", &[], &env, None));
    assert!(first["summary"]["uploaded"].as_u64().unwrap() > 0, "{first}");
    let digest = first["artifacts"][0]["digest"].as_str().unwrap().to_owned();

    // The flag, with the password on standard input (never on the command line).
    let r = publish(
        "stdin",
        &["--registry-username", USER, "--registry-password-stdin"],
        &[],
        Some(&format!("{PASSWORD}\n")),
    );
    ok(&r);
    let r = publish("stdin", &["--registry-password-stdin"], &[], Some(PASSWORD));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--registry-password-stdin needs a user name"), "{}", r.stderr);
    let r = publish("stdin", &["--registry-username", USER], &[], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("needs a password"), "{}", r.stderr);

    // (b) A Docker config file's `auths`, keyed as `docker login` keys it.
    let docker = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.path().join("config.json"),
        serde_json::json!({ "auths": { format!("https://127.0.0.1:{port}"): { "auth": auth } } }).to_string(),
    )
    .unwrap();
    let config = [("DOCKER_CONFIG", docker.path().as_os_str())];
    ok(&publish("config", &[], &config, None));

    // (c) A credential helper on PATH, as `credHelpers` and as `credsStore`.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-floetest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\nif [ \"$server\" = \"127.0.0.1:{port}\" ]; then\n  \
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}\\n' \"$server\"\n\
             else\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        [bin.path().to_path_buf()].into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let helpers = tempfile::tempdir().unwrap();
    std::fs::write(
        helpers.path().join("config.json"),
        serde_json::json!({ "credHelpers": { format!("127.0.0.1:{port}"): "floetest" } }).to_string(),
    )
    .unwrap();
    let helped = [("DOCKER_CONFIG", helpers.path().as_os_str()), ("PATH", path.as_os_str())];
    let r = ok(&publish("helper", &[], &helped, None));
    assert_eq!(r["artifacts"][0]["digest"], digest.as_str());
    // A helper that has nothing for the host: refused, saying so.
    std::fs::write(
        helpers.path().join("config.json"),
        serde_json::json!({ "credHelpers": { format!("127.0.0.1:{port}"): "floetest" } })
            .to_string()
            .replace("127.0.0.1", "localhost"),
    )
    .unwrap();
    let r = floe_registry(
        ws.path(),
        &["publish", "//sales/orders", "--to", &format!("oci://localhost:{port}/helper")],
        &helped,
        None,
        LIMIT,
    );
    clean(&r);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("`docker-credential-floetest` (`credHelpers` of"), "{}", r.stderr);
    assert!(r.stderr.contains("has no credentials for localhost:"), "{}", r.stderr);
    std::fs::write(helpers.path().join("config.json"), r#"{"credsStore": "floetest", "auths": {}}"#).unwrap();
    let promote = |env: &[(&str, &OsStr)]| {
        let from = format!("{}/sales/orders:1.0.0", to("helper"));
        let r = floe_registry(ws.path(), &["promote", &from, "--to", "prod"], env, None, LIMIT);
        clean(&r);
        r
    };
    let r = promote(&helped);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("its manifest sent, no blob"), "{}", r.stderr);
    assert_eq!(promote(&[]).code, 1);

    // A bearer token the registry does not take is refused like a password.
    let r = publish("token", &[], &[("FLOE_REGISTRY_TOKEN", OsStr::new("token-planted-9921"))], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("refused the credentials from $FLOE_REGISTRY_TOKEN"), "{}", r.stderr);
    assert!(!r.stderr.contains("token-planted-9921"));

    // The remote cache takes the same credentials.
    let cache = to("cache");
    let ci = workspace("mesh");
    let r = floe_registry(ci.path(), &["build", "--remote-cache", &cache, "--remote-cache-write"], &env, None, LIMIT);
    clean(&r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let dev = workspace("mesh");
    let r = floe_registry(dev.path(), &["build", "--remote-cache", &cache, "--format", "json"], &config, None, LIMIT);
    clean(&r);
    assert_eq!(r.json()["summary"]["fetched"], 52, "{}", r.stderr);
    let other = workspace("mesh");
    let r = run(other.path(), &["build", "--remote-cache", &cache], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("asks for credentials"), "{}", r.stderr);

    // What the registry holds is what floe published.
    if program("skopeo").is_some() {
        for repo in ["env", "stdin", "config", "helper"] {
            let out = Command::new("skopeo")
                .args(["inspect", "--raw", "--tls-verify=false", "--creds", &format!("{USER}:{PASSWORD}")])
                .arg(format!("docker://127.0.0.1:{port}/{repo}/sales/orders:1.0.0"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{repo}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(format!("sha256:{}", sha256_hex(&out.stdout)), digest, "{repo}");
        }
    }
    for dir in [&ws, &ci, &dev, &other] {
        clean_tree(dir.path());
    }
}

#[test]
fn a_registry_with_tls_is_trusted_through_a_custom_ca() {
    let Some(tls) = tls() else { return };
    let Some(registry) = registry_with(&Setup { auth: true, tls: Some(&tls) }) else { return };
    let port = registry.port;
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{port}/floe");
    let creds = [("FLOE_REGISTRY_USERNAME", OsStr::new(USER)), ("FLOE_REGISTRY_PASSWORD", OsStr::new(PASSWORD))];
    let publish = |to: &str, extra: &[&str], env: &[(&str, &OsStr)]| {
        let args = [&["publish", "//sales/orders", "--to", to, "--format", "json"], extra].concat();
        let env = [&creds[..], env].concat();
        let r = run(ws.path(), &args, &env);
        clean(&r);
        r
    };

    // Without its CA: a registry on this machine is spoken to in plain
    // HTTP, and it answers in TLS; floe says what to give it.
    let r = publish(&to, &[], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("speaks TLS"), "{}", r.stderr);
    assert!(r.stderr.contains("CA that signed its certificate with --registry-ca"), "{}", r.stderr);
    // With a CA that did not sign its certificate: it does not verify.
    let other = tls.other_ca.to_str().unwrap();
    let r = publish(&to, &["--registry-ca", other], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("the TLS certificate of 127.0.0.1:{port} does not verify")), "{}", r.stderr);
    assert!(r.stderr.contains("UnknownIssuer"), "{}", r.stderr);
    assert!(!r.stderr.contains("gave up after"), "a certificate is not retried:\n{}", r.stderr);

    // With it, by flag or environment, and by either name of this machine.
    let first = publish(&to, &["--registry-ca", tls.ca.to_str().unwrap()], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first = first.json();
    let again = publish(&to, &[], &[("FLOE_REGISTRY_CA", tls.ca.as_os_str())]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["summary"]["uploaded"], 0);
    let r = publish(&format!("oci://localhost:{port}/floe"), &[], &[("FLOE_REGISTRY_CA", tls.ca.as_os_str())]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A file that is no PEM certificate is a usage error.
    let manifest = ws.path().join("manifest.yaml");
    let r = publish(&to, &["--registry-ca", manifest.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds no PEM certificate"), "{}", r.stderr);

    // skopeo, trusting the same CA, reads the manifest floe wrote.
    if program("skopeo").is_some() {
        let certs = tempfile::tempdir().unwrap();
        std::fs::copy(&tls.ca, certs.path().join("ca.crt")).unwrap();
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--creds", &format!("{USER}:{PASSWORD}"), "--cert-dir"])
            .arg(certs.path())
            .arg(format!("docker://127.0.0.1:{port}/floe/sales/orders:1.0.0"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(format!("sha256:{}", sha256_hex(&out.stdout)), first["artifacts"][0]["digest"].as_str().unwrap());
    }
    clean_tree(ws.path());
}

#[test]
fn a_registry_that_asks_for_bearer_tokens_gets_them() {
    // A registry behind a token service, as Docker Hub, GHCR or Harbor
    // are: every request without the token meets a Bearer challenge, and
    // the token service hands the token out for the right password.
    let Some(registry) = registry() else { return };
    const TOKEN: &str = "bearer-planted-5120";
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = proxy(registry.port, {
        let issued = issued.clone();
        move |req: &Request| {
            let json = |s: &str| vec![("Content-Type".to_owned(), s.to_owned())];
            if req.line.starts_with("GET /token?") {
                if req.header("authorization") != Some(basic.as_str()) {
                    return Answer::Reply(
                        401,
                        json("application/json"),
                        r#"{"details":"wrong credentials"}"#.to_owned(),
                    );
                }
                issued.fetch_add(1, Ordering::SeqCst);
                return Answer::Reply(
                    200,
                    json("application/json"),
                    format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#),
                );
            }
            if req.header("authorization") == Some(format!("Bearer {TOKEN}").as_str()) {
                return Answer::Forward;
            }
            let host = req.header("host").unwrap_or_default();
            let challenge = format!(r#"Bearer realm="http://{host}/token",service="floe-test""#);
            let mut headers = json("application/json");
            headers.push(("WWW-Authenticate".to_owned(), challenge));
            Answer::Reply(
                401,
                headers,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_owned(),
            )
        }
    });
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{}/floe", tokens.port);
    let publish = |env: &[(&str, &OsStr)]| {
        let r = run(ws.path(), &["publish", "//sales/orders", "--to", &to, "--format", "json"], env);
        clean(&r);
        assert!(!r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN), "{}", r.stderr);
        r
    };
    // A user name and password: exchanged for a token.
    let r = publish(&[("FLOE_REGISTRY_USERNAME", OsStr::new(USER)), ("FLOE_REGISTRY_PASSWORD", OsStr::new(PASSWORD))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["summary"]["uploaded"].as_u64().unwrap() > 0);
    assert!(issued.load(Ordering::SeqCst) > 0);
    // A token already: sent as it is, no exchange.
    let before = issued.load(Ordering::SeqCst);
    let r = publish(&[("FLOE_REGISTRY_TOKEN", OsStr::new(TOKEN))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["summary"]["uploaded"], 0);
    assert_eq!(issued.load(Ordering::SeqCst), before);
    // No credentials, or a wrong password: refused (exit 1).
    let r = publish(&[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("asks for credentials"), "{}", r.stderr);
    let r = publish(&[("FLOE_REGISTRY_USERNAME", OsStr::new(USER)), ("FLOE_REGISTRY_PASSWORD", OsStr::new("nope"))]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("refused the credentials from $FLOE_REGISTRY_USERNAME"), "{}", r.stderr);
    clean_tree(ws.path());
}
