//! `floe publish --to oci-layout:DIR`: one artifact per product, the same
//! digests from any checkout, nothing uploaded twice, versions that never
//! move; and the layout as skopeo and a real registry (distribution v2,
//! Debian's `docker-registry`) read it.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests run tools and a registry

mod common;

use std::path::Path;
use std::process::Command;

use common::registry::{program, registry, writes};
use common::{edit, floe, tree, workspace};

/// Publishes `ws` into `layout`; the JSON summary.
fn publish(ws: &Path, layout: &Path) -> serde_json::Value {
    let r = floe(ws, &["publish", "--to", &format!("oci-layout:{}", layout.display()), "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
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
    assert_eq!(first["summary"]["artifacts"], 8);
    assert!(tree(&la) == tree(&lb), "two checkouts published different bytes");
    let refs: Vec<&str> =
        first["artifacts"].as_array().unwrap().iter().map(|a| a["reference"].as_str().unwrap()).collect();
    assert_eq!(
        refs,
        [
            "finance/revenue:2.2.0",
            "finance/risk-exposure:1.0.0",
            "marketing/attribution:2.0.0",
            "marketing/campaigns:0.4.0",
            "marketing/spend:1.3.0",
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
    // Its compiled artifacts, its port's contract and its lineage (they
    // name the version), its runs' values and objects (which carry the
    // artifacts), its derivation records and its manifest;
    // every other blob is there already.
    assert_eq!(
        uploaded,
        [
            ("finance/revenue:2.2.0", 0),
            ("finance/risk-exposure:1.0.0", 0),
            ("marketing/attribution:2.0.0", 0),
            ("marketing/campaigns:0.4.0", 0),
            ("marketing/spend:1.3.0", 0),
            ("sales/customers:1.1.0", 0),
            ("sales/orders:1.0.1", 7),
            ("sales/pipeline-forecast:0.3.0", 0)
        ]
    );
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(la.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 9, "1.0.0 stays beside 1.0.1");

    // skopeo reads the layout: the manifest it sees is the one floe wrote.
    if program("skopeo").is_none() {
        return;
    }
    let layout = format!("oci:{}:sales/orders:1.0.0", lb.display());
    let raw = skopeo(&["inspect", "--raw", &layout]);
    let digest = first["artifacts"][6]["digest"].as_str().unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
    let copied = layouts.path().join("copied");
    skopeo(&["copy", "--quiet", &layout, &format!("dir:{}", copied.display())]);
    assert_eq!(std::fs::read(copied.join("manifest.json")).unwrap(), raw);
}

#[test]
fn without_a_target_products_publish_to_the_workspace_layout() {
    let ws = workspace("mesh");
    let r = floe(ws.path(), &["publish", "//sales/orders", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = ws.path().join("floe-out/oci");
    assert_eq!(r.json()["target"], format!("oci-layout:{}", layout.display()));
    assert!(layout.join("index.json").is_file() && layout.join("oci-layout").is_file());
    // The SHA-256 of what was published, by blake3, kept in the store.
    let digests = std::fs::read_to_string(ws.path().join(".floe/sha256")).unwrap();
    assert!(digests.lines().count() > 5 && digests.contains(" sha256:"), "{digests}");
    // Or where $FLOE_PUBLISH_TO says.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = common::floe_cmd(ws.path());
    cmd.args(["publish", "//sales/orders", "-q"])
        .env("FLOE_PUBLISH_TO", format!("oci-layout:{}", elsewhere.path().display()));
    let r = common::run(cmd);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert!(tree(elsewhere.path()) == tree(&layout), "the same artifact, wherever it is published");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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

#[test]
fn products_publish_to_a_registry_once() {
    let Some(registry) = registry() else { return };
    let log = registry.dir.path().join("access.log");
    let ws = workspace("mesh");
    let to = format!("oci://127.0.0.1:{}/floe", registry.port);
    let run = |ws: &Path| {
        let r = floe(ws, &["publish", "--to", &to, "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let first = run(ws.path());
    // The same digests as the layout a checkout elsewhere publishes.
    let layouts = tempfile::tempdir().unwrap();
    let layout = publish(workspace("mesh").path(), layouts.path());
    let digests = |r: &serde_json::Value| -> Vec<String> {
        r["artifacts"].as_array().unwrap().iter().map(|a| a["digest"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(digests(&first), digests(&layout));
    // A blob upload is a POST and a PUT with its bytes; a manifest one PUT.
    let (uploaded, manifests) = (
        first["summary"]["uploaded"].as_u64().unwrap() as usize,
        first["summary"]["artifacts"].as_u64().unwrap() as usize,
    );
    assert_eq!(writes(&log), 2 * (uploaded - manifests) + manifests);
    // Again: nothing is written, by floe's count and by the registry's; and
    // how to authenticate is asked once, not before each lookup.
    let before = writes(&log);
    let seen = std::fs::read_to_string(&log).unwrap().len();
    let again = run(ws.path());
    assert_eq!(again["summary"]["uploaded"], 0);
    assert_eq!(writes(&log), before);
    let since = std::fs::read_to_string(&log).unwrap()[seen..].to_owned();
    assert_eq!(since.matches("\"GET /v2/ HTTP").count(), 1, "{since}");
    // A version that would move is refused before anything is sent.
    let orders = ws.path().join("sales/orders/floe.yaml");
    edit(&orders, |t| t.replace("Orders from the web shop", "Orders from the shop"));
    let r = floe(ws.path(), &["publish", "--to", &to]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("/floe/sales/orders:1.0.0` is published already as sha256:"), "{}", r.stderr);
    assert_eq!(writes(&log), before);
    // A new version: its changed blobs (artifacts, contract, lineage, runs'
    // values and objects, derivation record) and its manifest, nothing else.
    edit(&orders, |t| t.replace("version: 1.0.0", "version: 1.0.1"));
    let bumped = run(ws.path());
    assert_eq!(bumped["summary"]["uploaded"], 7, "{bumped}");
    assert_eq!(writes(&log), before + 2 * 6 + 1);
    // Promoted: the registry receives one manifest and no blob, and the
    // tag names the digest published; promoted again, nothing.
    let before = writes(&log);
    let promote = |tag: &str| floe(ws.path(), &["promote", &format!("{to}/sales/orders:1.0.0"), "--to", tag]);
    let r = promote("prod");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("its manifest sent, no blob"), "{}", r.stderr);
    assert_eq!(writes(&log), before + 1);
    assert!(promote("prod").stderr.contains("it named it already"));
    assert_eq!(writes(&log), before + 1);
    // Onto a version that names something else: refused.
    let r = promote("1.0.1");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is published already as"), "{}", r.stderr);
    assert_eq!(floe(ws.path(), &["promote", &format!("{to}/sales/nothing:1.0.0"), "--to", "prod"]).code, 2);
    // A channel tag moves.
    let latest = format!("{to}:latest");
    for _ in 0..2 {
        let r = floe(ws.path(), &["publish", "//sales/orders", "--to", &latest, "-q"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    if program("skopeo").is_none() {
        return;
    }
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{}/floe/sales/orders:latest", registry.port),
    ]);
    let orders = bumped["artifacts"].as_array().unwrap().iter().find(|a| a["label"] == "//sales/orders").unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), orders["digest"].as_str().unwrap());
    let prod = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{}/floe/sales/orders:prod", registry.port),
    ]);
    assert_eq!(format!("sha256:{}", sha256_hex(&prod)), first["artifacts"][6]["digest"].as_str().unwrap());
}

#[test]
fn a_registry_that_does_not_answer_is_an_infrastructure_failure() {
    let ws = workspace("mesh");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = floe(ws.path(), &["publish", "--to", &format!("oci://127.0.0.1:{port}/floe")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("hint: this is a problem with the machine"), "{}", r.stderr);
    for bad in ["s3://bucket", "oci://host", "oci://host/Upper", "oci-layout:", "ftp://x/y"] {
        let r = floe(ws.path(), &["publish", "--to", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("is no publish target"), "{}", r.stderr);
    }
}

#[test]
fn the_platform_publishes_its_resolved_manifests() {
    let ws = workspace("mesh");
    let layout = tempfile::tempdir().unwrap();
    let r = floe(
        ws.path(),
        &["platform", "publish", "--to", &format!("oci-layout:{}", layout.path().display()), "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    let refs: Vec<&str> =
        report["artifacts"].as_array().unwrap().iter().map(|a| a["reference"].as_str().unwrap()).collect();
    assert_eq!(refs, ["platform:3.0.0", "platform/finance:2.0.1", "platform/marketing:1.0.0", "platform/sales:1.4.0"]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.path().join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "platform/sales:1.4.0")
        .unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.floe.platform.v1+json");
    let blob = |digest: &str| std::fs::read(layout.path().join("blobs/sha256").join(&digest[7..])).unwrap();
    let sales: serde_json::Value = serde_json::from_slice(&blob(manifest["digest"].as_str().unwrap())).unwrap();
    let titles: Vec<&str> = sales["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["annotations"]["org.opencontainers.image.title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["floe-platform.values.yaml", "manifest.resolved.json"]);
    // Its config is the derivation records the build wrote beside them.
    let config = blob(sales["config"]["digest"].as_str().unwrap());
    assert!(config == std::fs::read(ws.path().join("floe-out/sales/floe.drv.json")).unwrap());
    // The resolved manifest in it is the one the build wrote.
    let resolved = blob(sales["layers"][1]["digest"].as_str().unwrap());
    assert!(resolved == std::fs::read(ws.path().join("floe-out/sales/manifest.resolved.json")).unwrap());
    // Labels that select no platform package are a usage error.
    let r = floe(ws.path(), &["platform", "publish", "//sales/orders", "--to", "oci-layout:x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
