//! `floe publish --to oci-layout:DIR`: one artifact per product, the same
//! digests from any checkout, nothing uploaded twice, versions that never
//! move; and the layout as skopeo and a real registry (distribution v2,
//! Debian's `docker-registry`) read it.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run tools and a registry

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::{edit, floe, tree, workspace};

/// Publishes `ws` into `layout`; the JSON summary.
fn publish(ws: &Path, layout: &Path) -> serde_json::Value {
    let r = floe(ws, &["publish", "--to", &format!("oci-layout:{}", layout.display()), "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

/// A program on PATH, or `None` after recording the test as skipped.
fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        common::skip(&format!("no `{name}` on PATH (.ci/test installs it)"));
    }
    found
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn products_publish_as_the_same_artifacts_from_any_checkout() {
    let (a, b) = (workspace("mesh"), workspace("mesh"));
    let layouts = tempfile::tempdir().unwrap();
    let (la, lb) = (layouts.path().join("a"), layouts.path().join("b"));
    let first = publish(a.path(), &la);
    publish(b.path(), &lb);
    assert_eq!(first["summary"]["artifacts"], 5);
    assert!(tree(&la) == tree(&lb), "two checkouts published different bytes");
    let refs: Vec<&str> =
        first["artifacts"].as_array().unwrap().iter().map(|a| a["reference"].as_str().unwrap()).collect();
    assert_eq!(
        refs,
        [
            "finance/revenue:2.2.0",
            "finance/risk-exposure:1.0.0",
            "sales/customers:1.1.0",
            "sales/orders:1.0.0",
            "sales/pipeline-forecast:0.3.0"
        ]
    );

    // Unchanged: nothing uploaded.
    let again = publish(a.path(), &la);
    assert_eq!((again["summary"]["uploaded"].as_u64(), again["summary"]["bytes"].as_u64()), (Some(0), Some(0)));
    assert!(tree(&la) == tree(&lb));

    // Other outputs under a published version: refused, and nothing written.
    let orders = a.path().join("sales/orders/floe.yaml");
    edit(&orders, |t| t.replace("Orders from the web shop", "Orders from the shop"));
    let r = floe(a.path(), &["publish", "--to", &format!("oci-layout:{}", la.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error: `sales/orders:1.0.0` is published already as sha256:"), "{}", r.stderr);
    assert!(r.stderr.contains("raise `metadata.version`"), "{}", r.stderr);
    assert!(tree(&la) == tree(&lb), "a refused publish wrote");

    // A new version of one product uploads that product's changed blobs only.
    edit(&orders, |t| t.replace("version: 1.0.0", "version: 1.0.1"));
    let bumped = publish(a.path(), &la);
    let uploaded: Vec<(&str, u64)> = bumped["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["reference"].as_str().unwrap(), a["uploaded"].as_u64().unwrap()))
        .collect();
    // Its compiled artifacts (they name the version), its derivation records
    // and its manifest; every other blob is there already.
    assert_eq!(
        uploaded,
        [
            ("finance/revenue:2.2.0", 0),
            ("finance/risk-exposure:1.0.0", 0),
            ("sales/customers:1.1.0", 0),
            ("sales/orders:1.0.1", 3),
            ("sales/pipeline-forecast:0.3.0", 0)
        ]
    );
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(la.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 6, "1.0.0 stays beside 1.0.1");

    // skopeo reads the layout: the manifest it sees is the one floe wrote.
    if program("skopeo").is_none() {
        return;
    }
    let layout = format!("oci:{}:sales/orders:1.0.0", lb.display());
    let raw = skopeo(&["inspect", "--raw", &layout]);
    let digest = first["artifacts"][3]["digest"].as_str().unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
    let copied = layouts.path().join("copied");
    skopeo(&["copy", "--quiet", &layout, &format!("dir:{}", copied.display())]);
    assert_eq!(std::fs::read(copied.join("manifest.json")).unwrap(), raw);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A registry on 127.0.0.1, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry() -> Option<Registry> {
    let exe = program("docker-registry")?;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(exe)
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Owned at once, so it is killed whatever happens next.
    let registry = Registry { child, port, _dir: dir };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(registry);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("the registry did not start on port {port}");
}

#[test]
fn a_registry_takes_the_published_layout() {
    let (Some(_), Some(registry)) = (program("skopeo"), registry()) else { return };
    let ws = workspace("mesh");
    let layouts = tempfile::tempdir().unwrap();
    let report = publish(ws.path(), layouts.path());
    let http = format!("127.0.0.1:{}", registry.port);
    for artifact in report["artifacts"].as_array().unwrap() {
        let reference = artifact["reference"].as_str().unwrap();
        let dest = format!("docker://{http}/floe/{reference}");
        skopeo(&[
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("oci:{}:{reference}", layouts.path().display()),
            &dest,
        ]);
        // The registry serves the manifest floe wrote, byte for byte.
        let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]);
        assert_eq!(format!("sha256:{}", sha256_hex(&raw)), artifact["digest"].as_str().unwrap(), "{reference}");
    }
}
