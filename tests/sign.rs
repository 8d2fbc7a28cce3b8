//! `floe publish --sign` and `floe verify`: signatures in cosign's format on
//! a real registry (distribution v2), with keys openssl makes, checked by
//! floe and by an independent implementation (Python's `cryptography`,
//! fetching the bytes over HTTP itself); altered signatures, copied ones and
//! other keys are rejected by both.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run tools and a registry

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::registry::{program, registry, writes};
use common::{edit, floe, skip, workspace};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A key pair openssl writes in `dir`: `<name>.pem` (SEC1, or PKCS#8 with
/// `pkcs8`) and `<name>.pub` (SPKI).
fn key_pair(dir: &Path, name: &str, pkcs8: bool) -> (PathBuf, PathBuf) {
    let (private, public) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.pub")));
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let p = private.to_str().unwrap();
    match pkcs8 {
        // With its `EC PARAMETERS` block first, as `ecparam -genkey` writes it.
        false => openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-out", p]),
        true => openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p]),
    }
    openssl(&["pkey", "-in", p, "-pubout", "-out", public.to_str().unwrap()]);
    (private, public)
}

/// One request to the registry on 127.0.0.1:`port`: the status and the body.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let kind = if path.contains("/manifests/") { MANIFEST_TYPE } else { "application/octet-stream" };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nAccept: {MANIFEST_TYPE}\r\n\
         Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
    let headers = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(!headers.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{headers}");
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    (status, headers, response[split + 4..].to_vec())
}

fn get(port: u16, path: &str) -> Vec<u8> {
    let (status, headers, body) = http(port, "GET", path, b"");
    assert_eq!(status, 200, "GET {path}: {headers}");
    body
}

/// Uploads a blob (POST, then PUT with its bytes); its digest.
fn put_blob(port: u16, repo: &str, bytes: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let (status, headers, _) = http(port, "POST", &format!("/v2/{repo}/blobs/uploads/"), b"");
    assert_eq!(status, 202, "{headers}");
    let location = headers
        .lines()
        .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
        .unwrap()
        .trim()
        .to_owned();
    let location = location.split_once("//").map_or(location.as_str(), |(_, l)| &l[l.find('/').unwrap()..]).to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    let (status, headers, _) = http(port, "PUT", &format!("{location}{sep}digest={digest}"), bytes);
    assert_eq!(status, 201, "{headers}");
    digest
}

fn put_manifest(port: u16, repo: &str, tag: &str, manifest: &serde_json::Value) {
    let (status, headers, body) =
        http(port, "PUT", &format!("/v2/{repo}/manifests/{tag}"), &serde_json::to_vec(manifest).unwrap());
    assert_eq!(status, 201, "{headers}\n{}", String::from_utf8_lossy(&body));
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sig_tag(digest: &str) -> String {
    format!("sha256-{}.sig", &digest[7..])
}

/// The independent check: Python's `cryptography` verifies the signature
/// manifest of `digest` in `repo`, fetched over HTTP, with the public key:
/// the number of its signatures that verify and name this digest and
/// repository. `None` (and the test recorded as skipped) without
/// `FLOE_TEST_PYTHON`.
fn python_verifies(port: u16, repo: &str, digest: &str, public: &Path) -> Option<usize> {
    const SCRIPT: &str = r#"
import base64, hashlib, json, sys, urllib.request
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

registry, repo, digest, public = sys.argv[1:]
def get(path):
    request = urllib.request.Request(f"http://{registry}/v2/{repo}/{path}",
                                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return urllib.request.urlopen(request).read()
key = serialization.load_pem_public_key(open(public, "rb").read())
manifest = json.loads(get(f"manifests/sha256-{digest[7:]}.sig"))
good = 0
for layer in manifest["layers"]:
    if layer["mediaType"] != "application/vnd.dev.cosign.simplesigning.v1+json":
        continue
    payload = get(f"blobs/{layer['digest']}")
    assert "sha256:" + hashlib.sha256(payload).hexdigest() == layer["digest"]
    signature = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        continue
    claim = json.loads(payload)["critical"]
    if (claim["type"] == "cosign container image signature"
            and claim["image"]["docker-manifest-digest"] == digest
            and claim["identity"]["docker-reference"] == f"{registry}/{repo}"):
        good += 1
print(good)
"#;
    let Some(python) = std::env::var_os("FLOE_TEST_PYTHON") else {
        skip("FLOE_TEST_PYTHON is not set (.ci/test sets it to a Python with `cryptography`)");
        return None;
    };
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .args([&format!("127.0.0.1:{port}"), repo, digest, public.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

#[test]
fn published_artifacts_are_signed_in_cosigns_format() {
    let (Some(_), Some(registry)) = (program("openssl"), registry()) else { return };
    let port = registry.port;
    let log = registry.dir.path().join("access.log");
    let keys = tempfile::tempdir().unwrap();
    let (sec1, sec1_pub) = key_pair(keys.path(), "sec1", false);
    let (pkcs8, pkcs8_pub) = key_pair(keys.path(), "pkcs8", true);
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{port}/floe");
    let publish = |key: &Path| {
        let r = floe(ws.path(), &["publish", "--to", &to, "--sign", key.to_str().unwrap(), "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let first = publish(&sec1);
    assert_eq!((first["summary"]["artifacts"].as_u64(), first["summary"]["signed"].as_u64()), (Some(8), Some(8)));
    let orders = first["artifacts"].as_array().unwrap().iter().find(|a| a["label"] == "//sales/orders").unwrap();
    let digest = orders["digest"].as_str().unwrap();
    let signature = &orders["signature"];
    assert_eq!(
        signature["reference"].as_str().unwrap(),
        format!("127.0.0.1:{port}/floe/sales/orders:{}", sig_tag(digest))
    );
    // Payload, config and manifest, once each.
    assert_eq!((signature["uploaded"].as_u64(), signature["skipped"].as_u64()), (Some(3), Some(0)));

    // cosign's layout, byte for byte where cosign fixes the bytes.
    let raw = get(port, &format!("/v2/floe/sales/orders/manifests/{}", sig_tag(digest)));
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), signature["digest"].as_str().unwrap());
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["mediaType"], MANIFEST_TYPE);
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
    assert!(layers[0]["annotations"]["dev.cosignproject.cosign/signature"].is_string());
    let payload = get(port, &format!("/v2/floe/sales/orders/blobs/{}", layers[0]["digest"].as_str().unwrap()));
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"127.0.0.1:{port}/floe/sales/orders\"}},\
             \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\
             \"optional\":null}}"
        )
    );
    let config: serde_json::Value = serde_json::from_slice(&get(
        port,
        &format!("/v2/floe/sales/orders/blobs/{}", manifest["config"]["digest"].as_str().unwrap()),
    ))
    .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], layers[0]["digest"]);

    // floe verifies it, by tag and by digest.
    let verify = |reference: &str, key: &Path| {
        floe(ws.path(), &["verify", reference, "--key", key.to_str().unwrap(), "--format", "json"])
    };
    let r = floe(ws.path(), &["verify", &format!("{to}/sales/orders:1.0.0"), "--key", sec1_pub.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.starts_with(&format!("verified 127.0.0.1:{port}/floe/sales/orders@{digest}")), "{}", r.stderr);
    let r = verify(&format!("{to}/sales/orders@{digest}"), &sec1_pub);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((r.json()["digest"].as_str(), r.json()["verified"].as_u64()), (Some(digest), Some(1)));

    // Signed again, unchanged: nothing is sent, by floe's count and the registry's.
    let before = writes(&log);
    let again = publish(&sec1);
    assert_eq!(
        (again["summary"]["uploaded"].as_u64(), again["summary"]["signatures_uploaded"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(writes(&log), before);

    // A second key adds its signature beside the first (the payload is
    // there already: a config and a manifest each); both verify.
    let second = publish(&pkcs8);
    assert_eq!(second["summary"]["signatures_uploaded"], 8);
    assert_eq!(writes(&log), before + 8 * (2 + 1));
    for key in [&sec1_pub, &pkcs8_pub] {
        let r = verify(&format!("{to}/sales/orders:1.0.0"), key);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!((r.json()["verified"].as_u64(), r.json()["signatures"].as_u64()), (Some(1), Some(2)));
    }

    // And so does an implementation that is not floe's.
    for artifact in second["artifacts"].as_array().unwrap() {
        let repo = format!("floe/{}", artifact["reference"].as_str().unwrap().split_once("/floe/").unwrap().1);
        let repo = repo.rsplit_once(':').unwrap().0;
        for key in [&sec1_pub, &pkcs8_pub] {
            let Some(good) = python_verifies(port, repo, artifact["digest"].as_str().unwrap(), key) else { return };
            assert_eq!(good, 1, "{repo} with {}", key.display());
        }
    }
}

#[test]
fn altered_copied_and_missing_signatures_and_other_keys_are_rejected() {
    let (Some(_), Some(registry)) = (program("openssl"), registry()) else { return };
    let port = registry.port;
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(keys.path(), "key", false);
    let (_, other) = key_pair(keys.path(), "other", true);
    let p384 = keys.path().join("p384.pem");
    let out = Command::new("openssl")
        .args(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", p384.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{port}/floe");
    let r = floe(
        ws.path(),
        &["publish", "//sales/orders", "--to", &to, "--sign", key.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r.json()["artifacts"][0]["digest"].as_str().unwrap().to_owned();
    let repo = "floe/sales/orders";
    let reference = format!("{to}/sales/orders@{digest}");
    let verify = |reference: &str, key: &Path| floe(ws.path(), &["verify", reference, "--key", key.to_str().unwrap()]);
    let rejected = |r: common::Run, says: &str| {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert!(r.stderr.contains("\nhint: "), "{}", r.stderr);
    };
    assert_eq!(verify(&reference, &public).code, 0);
    let python = python_verifies(port, repo, &digest, &public);
    if python.is_some() {
        assert_eq!(python, Some(1));
    }

    // Another key.
    rejected(verify(&reference, &other), "is not signed by the key");
    if python.is_some() {
        assert_eq!(python_verifies(port, repo, &digest, &other), Some(0));
    }

    // The signature, altered.
    let tag = sig_tag(&digest);
    let original: serde_json::Value =
        serde_json::from_slice(&get(port, &format!("/v2/{repo}/manifests/{tag}"))).unwrap();
    let annotation = "dev.cosignproject.cosign/signature";
    let mut altered = original.clone();
    let signature = original["layers"][0]["annotations"][annotation].as_str().unwrap();
    // The last bit of the DER signature flipped: still base64 and DER, no longer the signature.
    let flipped = {
        use base64::Engine as _;
        let mut der = base64::engine::general_purpose::STANDARD.decode(signature).unwrap();
        *der.last_mut().unwrap() ^= 1;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    altered["layers"][0]["annotations"][annotation] = flipped.into();
    put_manifest(port, repo, &tag, &altered);
    rejected(verify(&reference, &public), "is not signed by the key");
    if python.is_some() {
        assert_eq!(python_verifies(port, repo, &digest, &public), Some(0));
    }

    // The payload, altered (another repository named), with the signature kept.
    let payload = get(port, &format!("/v2/{repo}/blobs/{}", original["layers"][0]["digest"].as_str().unwrap()));
    let forged = String::from_utf8(payload).unwrap().replace("/floe/sales/orders", "/floe/sales/forged");
    let forged_digest = put_blob(port, repo, forged.as_bytes());
    let mut altered = original.clone();
    altered["layers"][0]["digest"] = forged_digest.into();
    altered["layers"][0]["size"] = forged.len().into();
    put_manifest(port, repo, &tag, &altered);
    rejected(verify(&reference, &public), "is not signed by the key");
    if python.is_some() {
        assert_eq!(python_verifies(port, repo, &digest, &public), Some(0));
    }
    put_manifest(port, repo, &tag, &original);
    assert_eq!(verify(&reference, &public).code, 0, "restored");

    // The artifact, altered under its tag: what the tag names now was never signed.
    let mut artifact: serde_json::Value =
        serde_json::from_slice(&get(port, &format!("/v2/{repo}/manifests/1.0.0"))).unwrap();
    artifact["annotations"]["org.opencontainers.image.title"] = "forged".into();
    put_manifest(port, repo, "1.0.0", &artifact);
    rejected(verify(&format!("{to}/sales/orders:1.0.0"), &public), "has no signature");
    assert_eq!(verify(&reference, &public).code, 0, "the signed digest still verifies");

    // A new version, published unsigned: no signature.
    let floe_yaml = ws.path().join("sales/orders/floe.yaml");
    edit(&floe_yaml, |t| t.replace("version: 1.0.0", "version: 1.0.1"));
    let r = floe(ws.path(), &["publish", "//sales/orders", "--to", &to, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let newer = r.json()["artifacts"][0]["digest"].as_str().unwrap().to_owned();
    rejected(verify(&format!("{to}/sales/orders:1.0.1"), &public), "has no signature");
    // The old version's signature, copied to it: a valid signature of another manifest.
    put_manifest(port, repo, &sig_tag(&newer), &original);
    rejected(verify(&format!("{to}/sales/orders:1.0.1"), &public), &format!("names the manifest `{digest}`"));
    if python.is_some() {
        assert_eq!(python_verifies(port, repo, &newer, &public), Some(0));
    }

    // Bad input is a usage error; a registry that does not answer, an infrastructure failure.
    for (args, says) in [
        (vec!["verify", &reference, "--key", key.to_str().unwrap()], "is a private key"),
        (vec!["verify", "oci://127.0.0.1/floe/sales/orders", "--key", public.to_str().unwrap()], "is no `oci://"),
        (vec!["publish", "--to", &to, "--sign", public.to_str().unwrap()], "is a public key"),
        (vec!["publish", "--to", &to, "--sign", p384.to_str().unwrap()], "is no ECDSA P-256 private key"),
        (vec!["publish", "--to", &to, "--sign", "missing.pem"], "cannot read the key"),
        (vec!["publish", "--to", "oci-layout:out", "--sign", key.to_str().unwrap()], "needs a registry target"),
    ] {
        let r = floe(ws.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = verify(&format!("oci://127.0.0.1:{closed}/floe/sales/orders:1.0.0"), &public);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn a_key_cosign_encrypted_signs_with_its_password() {
    let Some(registry) = registry() else { return };
    let port = registry.port;
    // tests/keys/cosign.key: sealed as `cosign generate-key-pair` seals, by libsodium.
    let keys = common::repo().join("tests/keys");
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{port}/floe");
    let publish = |password: Option<&str>| {
        let mut cmd = common::floe_cmd(ws.path());
        cmd.args(["publish", "//sales/orders", "--to", &to, "--format", "json", "--sign"]).arg(keys.join("cosign.key"));
        match password {
            Some(p) => cmd.env("COSIGN_PASSWORD", p),
            None => cmd.env_remove("COSIGN_PASSWORD"),
        };
        common::run(cmd)
    };
    let r = publish(None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is encrypted with a password: set COSIGN_PASSWORD"), "{}", r.stderr);
    let r = publish(Some("not it"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("COSIGN_PASSWORD is not the password of"), "{}", r.stderr);
    assert!(!r.stderr.contains("not it"), "the password is never shown: {}", r.stderr);
    let r = publish(Some("floe-test-password"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r.json()["artifacts"][0]["digest"].as_str().unwrap().to_owned();
    let public = keys.join("cosign.pub");
    let r = floe(ws.path(), &["verify", &format!("{to}/sales/orders:1.0.0"), "--key", public.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    if let Some(good) = python_verifies(port, "floe/sales/orders", &digest, &public) {
        assert_eq!(good, 1);
    }
}
