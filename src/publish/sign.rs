//! Signatures of published manifests in cosign's format, so that cosign,
//! policy controllers and `floe verify` all read them.
//!
//! The signature of manifest `sha256:<hex>` in repository `R` is an OCI
//! image manifest tagged `sha256-<hex>.sig` in `R`: one layer per signature,
//! of type `application/vnd.dev.cosign.simplesigning.v1+json`, whose blob is
//! the simple-signing payload naming `R` and the digest, and whose
//! annotation `dev.cosignproject.cosign/signature` is the base64 of the DER
//! ECDSA-P256-SHA256 signature of those bytes; the config is the image
//! config cosign writes for it. The payload depends on the repository and
//! the digest only, and the signature is deterministic (RFC 6979), so
//! signing an unchanged artifact again sends nothing. Signatures by other
//! keys in the same manifest are kept.

mod key;
mod sealed;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use floe_schemas::diag::escape;
use futures_util::StreamExt;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};

pub use key::{PrivateKey, PublicKey, load_private_key, load_public_key};

use super::artifact::{MANIFEST_TYPE, sha256};
use super::registry::{self, Target};
use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, err, print_json};

pub const PAYLOAD_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const SIGNATURE_KIND: &str = "cosign container image signature";
/// Signing payloads are a few hundred bytes; a layer that says it is larger is not one.
const PAYLOAD_LIMIT: u64 = 64 * 1024;
const CONCURRENT: usize = 8;

/// The simple-signing payload (containers/image's "atomic" signature, as
/// cosign writes it): field order and `"optional":null` as cosign's.
#[derive(Serialize, Deserialize)]
struct Payload {
    critical: Critical,
    optional: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The payload that says: `digest` is the manifest at `repository` (`host[:port]/path`).
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity { docker_reference: repository.to_owned() },
            image: Image { docker_manifest_digest: digest.to_owned() },
            kind: SIGNATURE_KIND.to_owned(),
        },
        optional: None,
    };
    serde_json::to_vec(&payload).expect("payloads serialize")
}

/// A descriptor with cosign's field order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    size: u64,
    digest: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The image config cosign gives a signature manifest (go-containerregistry's
/// empty image with the layers appended), at the zero time so that the same
/// layers give the same bytes.
fn config(layers: &[Descriptor]) -> Vec<u8> {
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    #[derive(Serialize)]
    struct History {
        created: &'static str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        diff_ids: Vec<&'a str>,
    }
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'static str,
        created: &'static str,
        history: Vec<History>,
        os: &'static str,
        rootfs: RootFs<'a>,
        config: BTreeMap<(), ()>,
    }
    let config = Config {
        architecture: "",
        created: ZERO_TIME,
        history: layers.iter().map(|_| History { created: ZERO_TIME }).collect(),
        os: "",
        rootfs: RootFs { kind: "layers", diff_ids: layers.iter().map(|l| l.digest.as_str()).collect() },
        config: BTreeMap::new(),
    };
    serde_json::to_vec(&config).expect("configs serialize")
}

/// The tag of the signature of manifest `digest` (`sha256:<hex>`).
pub fn signature_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1) + ".sig"
}

/// `sha256:` and 64 lowercase hex digits.
fn is_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// What signing one manifest did.
#[derive(Clone, Debug, Serialize)]
pub struct Signed {
    /// `<registry>/<repository>:sha256-<hex>.sig`.
    pub reference: String,
    /// The signature manifest's digest.
    pub digest: String,
    /// Blobs and manifests written, those already there, and the bytes written.
    pub uploaded: usize,
    pub skipped: usize,
    pub bytes: u64,
}

/// Signs each `(repository, digest)` in `target`'s registry with `key`:
/// the payload and the signature manifest are sent unless the manifest
/// holds this key's signature of that digest already.
pub fn sign(
    target: &Target,
    access: &registry::Access,
    subjects: &[(String, String)],
    key: &PrivateKey,
) -> Result<Vec<Signed>, Failure> {
    let (conn, runtime) = registry::connect(target, access)?;
    let (client, auth) = (conn.client, conn.auth);
    runtime.block_on(async {
        client.store_auth_if_needed(&target.registry, &auth).await;
        let signed: Vec<Result<Signed, Failure>> = futures_util::stream::iter(subjects)
            .map(|(repository, digest)| sign_one(&client, &auth, target, repository, digest, key))
            .buffered(CONCURRENT)
            .collect()
            .await;
        signed.into_iter().collect()
    })
}

async fn sign_one(
    client: &Client,
    auth: &RegistryAuth,
    target: &Target,
    repository: &str,
    digest: &str,
    key: &PrivateKey,
) -> Result<Signed, Failure> {
    let infra = |e: &dyn std::fmt::Display| {
        Failure::Infra(floe_engine::IoError {
            op: "sign",
            path: format!("oci://{}/{repository}", target.registry).into(),
            message: e.to_string(),
        })
    };
    let reference = Reference::with_tag(target.registry.clone(), repository.to_owned(), signature_tag(digest));
    let payload = payload(&format!("{}/{repository}", target.registry), digest);
    let signature = key.sign(&payload);
    let layer = Descriptor {
        media_type: PAYLOAD_TYPE.to_owned(),
        size: payload.len() as u64,
        digest: sha256(&payload),
        annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), BASE64.encode(&signature))]),
    };
    let mut signed = Signed { reference: reference.whole(), digest: String::new(), uploaded: 0, skipped: 0, bytes: 0 };
    let mut layers = match client.pull_manifest_raw(&reference, auth, &[MANIFEST_TYPE]).await {
        Ok((bytes, there)) => {
            // The tag is cosign's place for this digest's signatures: what
            // is there and is no signature manifest is replaced.
            let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
                return push_signature(client, &reference, signed, payload, vec![layer]).await.map_err(|e| infra(&e));
            };
            // This key's signature of this digest is there already: done.
            let ours = |l: &Descriptor| {
                l.media_type == PAYLOAD_TYPE
                    && l.digest == layer.digest
                    && l.annotations
                        .get(SIGNATURE_ANNOTATION)
                        .and_then(|s| BASE64.decode(s).ok())
                        .is_some_and(|s| key.verifies(&payload, &s))
            };
            if manifest.layers.iter().any(ours) {
                signed.digest = there;
                signed.skipped = 1;
                return Ok(signed);
            }
            manifest.layers
        }
        Err(e) if registry::absent(&e) => Vec::new(),
        Err(e) => return Err(infra(&e)),
    };
    layers.push(layer);
    push_signature(client, &reference, signed, payload, layers).await.map_err(|e| infra(&e))
}

/// Sends the payload and the config unless the registry has them, then the
/// signature manifest of `layers`.
async fn push_signature(
    client: &Client,
    reference: &Reference,
    mut signed: Signed,
    payload: Vec<u8>,
    layers: Vec<Descriptor>,
) -> Result<Signed, oci_client::errors::OciDistributionError> {
    let config = config(&layers);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_TYPE.to_owned()),
        config: Descriptor {
            media_type: CONFIG_TYPE.to_owned(),
            size: config.len() as u64,
            digest: sha256(&config),
            annotations: BTreeMap::new(),
        },
        layers,
    };
    for blob in [payload, config] {
        let digest = sha256(&blob);
        if client.blob_exists(reference, &digest).await? {
            signed.skipped += 1;
            continue;
        }
        signed.bytes += blob.len() as u64;
        client.push_blob(reference, blob, &digest).await?;
        signed.uploaded += 1;
    }
    let bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    signed.digest = sha256(&bytes);
    signed.bytes += bytes.len() as u64;
    let content_type = MANIFEST_TYPE.parse().expect("a valid header value");
    client.push_manifest_raw(reference, bytes, content_type).await?;
    signed.uploaded += 1;
    Ok(signed)
}

/// A manifest whose signature verified.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// `<registry>/<repository>@sha256:<hex>`.
    pub reference: String,
    pub digest: String,
    /// `<registry>/<repository>:sha256-<hex>.sig`.
    pub signature: String,
    /// The key file it verified with.
    pub key: String,
    /// How many of the signature manifest's signatures verified, of how many.
    pub verified: usize,
    pub signatures: usize,
}

/// Why a manifest's signature did not verify.
enum Rejected {
    Unsigned,
    Malformed,
    NotByKey { signatures: usize },
    OtherDigest(String),
    OtherRepository(String),
}

/// Checks that the manifest `digest` in `target`'s repository carries a
/// signature by `key`, in cosign's format, that names this digest and this
/// repository. A missing or wrong signature is a user error (said on
/// stderr, saying which); a registry that does not answer, an
/// infrastructure failure.
pub fn verify(target: &Target, access: &registry::Access, digest: &str, key: &PublicKey) -> Result<Verified, Failure> {
    let (conn, runtime) = registry::connect(target, access)?;
    let (client, auth) = (conn.client, conn.auth);
    runtime.block_on(verify_with(&client, &auth, target, digest, key))
}

async fn verify_with(
    client: &Client,
    auth: &RegistryAuth,
    target: &Target,
    digest: &str,
    key: &PublicKey,
) -> Result<Verified, Failure> {
    let infra = |e: &dyn std::fmt::Display| {
        Failure::Infra(floe_engine::IoError {
            op: "verify",
            path: format!("oci://{}/{}", target.registry, target.repository).into(),
            message: e.to_string(),
        })
    };
    let repository = format!("{}/{}", target.registry, target.repository);
    let subject = format!("{repository}@{digest}");
    if !is_digest(digest) {
        return Err(Failure::Usage(format!("`{}` is no `sha256:<hex>` digest", escape(digest))));
    }
    let reference = Reference::with_tag(target.registry.clone(), target.repository.clone(), signature_tag(digest));
    let mut verified = Verified {
        reference: subject.clone(),
        digest: digest.to_owned(),
        signature: reference.whole(),
        key: key.name.clone(),
        verified: 0,
        signatures: 0,
    };
    let (manifest, mut rejected) = match client.pull_manifest_raw(&reference, auth, &[MANIFEST_TYPE]).await {
        Ok((bytes, _)) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => (Some(m), Rejected::Unsigned),
            Err(_) => (None, Rejected::Malformed),
        },
        Err(e) if registry::absent(&e) => (None, Rejected::Unsigned),
        Err(e) => return Err(infra(&e)),
    };
    for layer in manifest.iter().flat_map(|m| &m.layers).filter(|l| l.media_type == PAYLOAD_TYPE) {
        verified.signatures += 1;
        let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION).and_then(|s| BASE64.decode(s).ok()) else {
            continue;
        };
        if layer.size > PAYLOAD_LIMIT {
            continue;
        }
        // The client checks the bytes against the layer's digest.
        let mut payload = Vec::new();
        client.pull_blob(&reference, layer.digest.as_str(), &mut payload).await.map_err(|e| infra(&e))?;
        if !key.verifies(&payload, &signature) {
            continue;
        }
        let Ok(claim) = serde_json::from_slice::<Payload>(&payload).map(|p| p.critical) else { continue };
        if claim.kind != SIGNATURE_KIND {
            continue;
        }
        // Signed by this key; for this manifest and this repository?
        if claim.image.docker_manifest_digest != digest {
            rejected = Rejected::OtherDigest(claim.image.docker_manifest_digest);
        } else if !same_repository(&claim.identity.docker_reference, &repository) {
            if !matches!(rejected, Rejected::OtherDigest(_)) {
                rejected = Rejected::OtherRepository(claim.identity.docker_reference);
            }
        } else {
            verified.verified += 1;
        }
    }
    if verified.verified > 0 {
        return Ok(verified);
    }
    if verified.signatures > 0 && matches!(rejected, Rejected::Unsigned) {
        rejected = Rejected::NotByKey { signatures: verified.signatures };
    }
    let (error, hint) = match rejected {
        Rejected::Unsigned => (
            format!("`{subject}` has no signature: `{}` does not exist", reference.whole()),
            "`floe publish --sign KEY` signs what it publishes".to_owned(),
        ),
        Rejected::Malformed => (
            format!("`{subject}` has no signature: `{}` is no signature manifest", reference.whole()),
            "`floe publish --sign KEY` signs what it publishes".to_owned(),
        ),
        Rejected::NotByKey { signatures } => (
            format!(
                "`{subject}` is not signed by the key `{}`: none of its {signatures} signature{} verifies with it",
                escape(&key.name),
                if signatures == 1 { "" } else { "s" }
            ),
            "it was signed with another key, or its signature or payload was altered".to_owned(),
        ),
        Rejected::OtherDigest(other) => (
            format!(
                "`{subject}` is not what was signed: the signature by `{}` names the manifest `{}`",
                escape(&key.name),
                escape(&other)
            ),
            "the signature was copied from another manifest; sign this one with `floe publish --sign KEY`".to_owned(),
        ),
        Rejected::OtherRepository(other) => (
            format!("`{subject}` is signed by `{}` for another repository: `{}`", escape(&key.name), escape(&other)),
            "a signature names the repository it was published to; sign the copy where it is now".to_owned(),
        ),
    };
    err(&format!("error: {error}\nhint: {hint}\n"))?;
    Err(Failure::User)
}

/// Whether a payload's `docker-reference` names `repository`, as cosign
/// spells Docker Hub's (`index.docker.io`) or as it was published.
fn same_repository(named: &str, repository: &str) -> bool {
    let hub = |r: &str| match r.split_once('/') {
        Some(("docker.io" | "index.docker.io" | "registry-1.docker.io", rest)) => format!("docker.io/{rest}"),
        _ => r.to_owned(),
    };
    named == repository || hub(named) == hub(repository)
}

/// The digest of the manifest `target`'s tag names.
fn resolve(target: &Target, access: &registry::Access) -> Result<String, Failure> {
    let (conn, runtime) = registry::connect(target, access)?;
    let (client, auth) = (conn.client, conn.auth);
    let tagged =
        Reference::with_tag(target.registry.clone(), target.repository.clone(), target.tag.clone().unwrap_or_default());
    runtime.block_on(client.fetch_manifest_digest(&tagged, &auth)).map_err(|e| match registry::absent(&e) {
        true => Failure::Usage(format!("{} does not exist", tagged.whole())),
        false => Failure::Infra(floe_engine::IoError {
            op: "verify",
            path: format!("oci://{}", tagged.whole()).into(),
            message: e.to_string(),
        }),
    })
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// What to verify: `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:<hex>`
    pub reference: String,
    /// The public key (PEM, `-----BEGIN PUBLIC KEY-----`), as `openssl ec -pubout` or cosign writes it
    #[arg(long, value_name = "PUB")]
    pub key: std::path::PathBuf,
}

/// `floe verify`: the digest the reference names carries a signature by the key.
pub fn command(cli: &Cli, printer: &Printer, args: &VerifyArgs) -> Result<(), Failure> {
    let bad = || {
        Failure::Usage(format!(
            "`{}` is no `oci://HOST/REPO:TAG` or `oci://HOST/REPO@sha256:<hex>` reference",
            escape(&args.reference)
        ))
    };
    let rest = args.reference.strip_prefix("oci://").ok_or_else(bad)?;
    let (name, digest) = match rest.split_once('@') {
        Some((name, digest)) if is_digest(digest) => (name, Some(digest.to_owned())),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let target = registry::Target::parse(name).filter(|t| digest.is_none() || t.tag.is_none()).ok_or_else(bad)?;
    if digest.is_none() && target.tag.is_none() {
        return Err(bad());
    }
    let key = load_public_key(&crate::cli::base_dir(cli)?.join(&args.key))?;
    let access = registry::Access::new(cli)?;
    let digest = match digest {
        Some(d) => d,
        None => resolve(&target, &access)?,
    };
    let verified = verify(&target, &access, &digest, &key)?;
    if printer.format != Format::Human {
        print_json(&verified)?;
    } else if printer.verbosity != Verbosity::Quiet {
        err(&format!(
            "verified {}: signed by `{}` ({} of {} signature{})\n",
            escape(&verified.reference),
            escape(&verified.key),
            verified.verified,
            verified.signatures,
            if verified.signatures == 1 { "" } else { "s" }
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_cosigns_simple_signing_payload() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let bytes = payload("registry.example.com/floe/sales/orders", &digest);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example.com/floe/sales/orders\"}},\
                 \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\
                 \"optional\":null}}"
            )
        );
        assert_eq!(signature_tag(&digest), format!("sha256-{}.sig", "ab".repeat(32)));
        assert!(is_digest(&digest) && !is_digest("sha256:AB") && !is_digest(&digest.replace("sha256", "sha512")));
    }

    #[test]
    fn the_config_is_cosigns_with_one_diff_id_per_layer() {
        let layer = Descriptor {
            media_type: PAYLOAD_TYPE.to_owned(),
            size: 3,
            digest: "sha256:00".to_owned(),
            annotations: BTreeMap::new(),
        };
        assert_eq!(
            String::from_utf8(config(&[layer])).unwrap(),
            "{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{\"created\":\"0001-01-01T00:00:00Z\"}],\
             \"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:00\"]},\"config\":{}}"
        );
    }

    #[test]
    fn docker_hub_is_one_registry_by_any_of_its_names() {
        assert!(same_repository("index.docker.io/team/floe", "docker.io/team/floe"));
        assert!(same_repository("127.0.0.1:5000/floe/a", "127.0.0.1:5000/floe/a"));
        assert!(!same_repository("127.0.0.1:5000/floe/a", "127.0.0.1:5000/floe/b"));
    }
}
