//! Publishing to a registry (`oci://host[:port]/repo[:tag]`) over the OCI
//! distribution API, through `oci-client` on a `tokio` runtime that lives
//! only here, in the driver.
//!
//! Each product goes to `<repo>/<package path>`, tagged with its version (or
//! the target's tag, a channel like `latest` that may move). Every tag is
//! looked up before anything is sent, so a version that would move is
//! refused with nothing uploaded. Then blobs the registry has are skipped,
//! the rest uploaded, several at once, and each manifest is pushed after its
//! blobs, unless the tag already names it.
//!
//! Credentials come from `auth.rs` (flags, environment, Docker config), sent
//! as HTTP Basic, or exchanged for a token when the registry asks for a
//! bearer token (oci-client does the exchange), or sent as a bearer token.
//! A registry that refuses them (401, 403) is the user's to fix: exit 1,
//! with where floe looked. Every request is retried with backoff
//! (`retry.rs`); what still fails is infrastructure: exit 3, naming the
//! registry and the request, never a credential.
//!
//! TLS: HTTPS, trusting the system's CAs (or `$SSL_CERT_FILE`'s) and those
//! of `--registry-ca FILE` (`$FLOE_REGISTRY_CA`). A registry on this machine
//! (`localhost`, `127.0.0.1`, `[::1]`) is spoken to in plain HTTP as Docker
//! does, unless a CA is given: a CA says the registry speaks TLS, so with
//! one a local registry is spoken to in HTTPS too (and a local registry
//! that answers plain HTTP in TLS gets that advice).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;

use floe_schemas::diag::escape;
use futures_util::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::artifact::{Artifact, MANIFEST_TYPE, is_version};
pub use super::auth::Access;
use super::auth::Found;
use super::retry::{self, GaveUp};
use super::{Published, Refused};
use crate::cli::Failure;
use crate::output::err;

/// Artifacts (and tag lookups) in flight at once, and blobs of each.
const CONCURRENT: usize = 8;
const BLOBS_AT_ONCE: usize = 4;

/// Where `oci://…` points.
pub struct Target {
    /// `host[:port]`.
    pub registry: String,
    /// The repository products go below.
    pub repository: String,
    /// A tag for every product instead of its version.
    pub tag: Option<String>,
}

impl Target {
    /// `host[:port]/repo[/more][:tag]`.
    pub fn parse(rest: &str) -> Option<Target> {
        let (registry, path) = rest.split_once('/')?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_owned())),
            _ => (path, None),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.split('/').all(|c| {
                    !c.is_empty()
                        && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                })
        };
        let tag_ok = tag.as_deref().is_none_or(|t| {
            !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
        (!registry.is_empty() && plain(repository) && tag_ok).then(|| Target {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
        })
    }

    fn reference(&self, a: &Artifact) -> Reference {
        let tag = self.tag.clone().unwrap_or_else(|| a.tag.clone());
        Reference::with_tag(self.registry.clone(), format!("{}/{}", self.repository, a.repository), tag)
    }

    /// Registries on this machine are spoken to in plain HTTP.
    fn local(&self) -> bool {
        let host = self.registry.rsplit_once(':').map_or(self.registry.as_str(), |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) { h } else { self.registry.as_str() }
        });
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }
}

impl Target {
    /// `oci://host[:port]/repo`, for messages.
    pub fn shown(&self) -> String {
        escape(&format!("oci://{}/{}", self.registry, self.repository)).into_owned()
    }
}

/// Whether the registry says the manifest or repository does not exist.
pub fn absent(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown))
        }
        OciDistributionError::ServerError { code: 404, .. } | OciDistributionError::ImageManifestNotFoundError(_) => {
            true
        }
        _ => false,
    }
}

/// A registry request that failed for good: what floe was doing, on what, and why.
pub struct Failed {
    op: &'static str,
    subject: String,
    gave_up: GaveUp,
}

impl Failed {
    /// Whether the registry said that what was asked for does not exist.
    pub fn absent(&self) -> bool {
        absent(&self.gave_up.error)
    }
}

/// Why a request failed, as far as the user's next step goes.
enum Kind {
    /// 401: no credentials, or ones the registry does not take.
    Unauthorized,
    /// 403: credentials the registry knows, without the right to do this.
    Forbidden,
    /// The registry's TLS certificate did not verify.
    Certificate(String),
    /// Plain HTTP to a registry that speaks TLS.
    PlainToTls,
    Other,
}

/// A client for one registry, the credentials it presents, and where they came from.
pub struct Connection {
    pub client: Client,
    pub auth: RegistryAuth,
    registry: String,
    found: Found,
    ca: Option<(PathBuf, &'static str)>,
    /// The registry asks for no credentials (see [`Connection::ask_once`]).
    open: bool,
}

impl Connection {
    pub fn new(target: &Target, access: &Access) -> Result<Connection, Failure> {
        let found = access.credentials(&target.registry)?;
        Ok(Connection {
            client: client(target, access)?,
            auth: found.credential.registry_auth(),
            registry: target.registry.clone(),
            found,
            ca: access.ca.clone(),
            open: false,
        })
    }

    /// oci-client asks `/v2/` how to authenticate before every request it
    /// holds no token for, and a registry that asks for no credentials never
    /// gives one: each request would be two. With no credential of its own,
    /// floe asks once; when the registry names no scheme, requests to
    /// `reference`'s repository (and to others, once [`Connection::seed`]ed)
    /// carry empty Basic credentials, which such a registry ignores, and
    /// one request checks that they pass. If they do not, a fresh client
    /// goes on as before.
    pub async fn ask_once(&mut self, target: &Target, access: &Access, reference: &Reference) -> Result<(), Failure> {
        use oci_client::RegistryOperation::Pull;
        if !matches!(self.auth, RegistryAuth::Anonymous) {
            return Ok(());
        }
        if !matches!(self.client.auth(reference, &RegistryAuth::Anonymous, Pull).await, Ok(None)) {
            // A token (kept by the client), or a failure the requests will meet.
            return Ok(());
        }
        self.open = true;
        self.seed(reference).await;
        if let Err(e) = self.client.fetch_manifest_digest(reference, &self.auth).await
            && matches!(retry::status(&e), Some(401 | 403))
        {
            self.client = client(target, access)?;
            self.open = false;
        }
        Ok(())
    }

    /// Lets requests to `reference`'s repository go without asking `/v2/`
    /// first, when the registry asks for no credentials.
    pub async fn seed(&self, reference: &Reference) {
        use oci_client::RegistryOperation::{Pull, Push};
        use oci_client::token_cache::RegistryTokenType::Basic;
        if self.open {
            for op in [Pull, Push] {
                self.client.tokens.insert(reference, op, Basic(String::new(), String::new())).await;
            }
        }
    }

    /// Runs one registry request, retried while it fails for reasons that
    /// may pass; `op` and `subject` say what it was if it fails for good.
    pub async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        subject: &(dyn fmt::Display + Sync),
        request: F,
    ) -> Result<T, Failed>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        retry::retry(request).await.map_err(|gave_up| Failed { op, subject: subject.to_string(), gave_up })
    }

    fn kind(&self, f: &Failed) -> Kind {
        let e = &f.gave_up.error;
        match retry::status(e) {
            Some(401) => return Kind::Unauthorized,
            Some(403) => return Kind::Forbidden,
            _ => {}
        }
        if let OciDistributionError::RequestError(r) = e
            && let Some(tls) = retry::certificate(r)
        {
            return Kind::Certificate(tls);
        }
        if retry::status(e) == Some(400) && retry::chain(e).contains("HTTP request to an HTTPS server") {
            return Kind::PlainToTls;
        }
        Kind::Other
    }

    /// What went wrong, in one sentence with no credential in it.
    pub fn describe(&self, f: &Failed) -> String {
        let registry = escape(&self.registry);
        let what = format!("{} `{}`", f.op, escape(&f.subject));
        let source = self.found.source.as_deref();
        let text = match (self.kind(f), source) {
            (Kind::Unauthorized, None) => format!("{registry} asks for credentials to {what}, and floe found none"),
            (Kind::Unauthorized, Some(s)) => {
                format!("{registry} refused the credentials from {s} (401 Unauthorized, to {what})")
            }
            (Kind::Forbidden, None) => {
                format!("{registry} denied access without credentials (403 Forbidden, to {what})")
            }
            (Kind::Forbidden, Some(s)) => {
                format!("{registry} denied the credentials from {s} access (403 Forbidden, to {what})")
            }
            (Kind::Certificate(why), _) => match &self.ca {
                Some((path, how)) => format!(
                    "the TLS certificate of {registry} does not verify ({why}) with the system's CAs and those \
                     of `{}` ({how})",
                    escape(&path.display().to_string())
                ),
                None => format!(
                    "the TLS certificate of {registry} does not verify ({why}): if a CA of your own signed it, \
                     give that CA's certificate with --registry-ca FILE or $FLOE_REGISTRY_CA"
                ),
            },
            (Kind::PlainToTls, _) => format!(
                "{registry} speaks TLS, and a registry on this machine is spoken to in plain HTTP unless floe \
                 has a CA certificate for it: give the CA that signed its certificate with --registry-ca FILE \
                 or $FLOE_REGISTRY_CA"
            ),
            (Kind::Other, _) => {
                let why = match &f.gave_up.error {
                    OciDistributionError::ServerError { code, url, message } => {
                        let said: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
                        let said: String = said.chars().take(300).collect();
                        match said.is_empty() {
                            true => format!("{url} answered HTTP {code}"),
                            false => format!("{url} answered HTTP {code}: {said}"),
                        }
                    }
                    e => retry::chain(e),
                };
                let mut text = format!("{what}: {}", escape(&why));
                if f.gave_up.attempts > 1 {
                    text.push_str(&format!(" (gave up after {} attempts)", f.gave_up.attempts));
                }
                text
            }
        };
        self.found.credential.scrub(&text)
    }

    /// How a command ends on `f`: a registry that refuses the credentials
    /// is the user's to fix (exit 1, with where floe looked); anything else
    /// is infrastructure (exit 3), naming the registry and what was done.
    pub fn failure(&self, target: &Target, op: &'static str, f: Failed) -> Failure {
        if !matches!(self.kind(&f), Kind::Unauthorized | Kind::Forbidden) {
            return Failure::Infra(floe_engine::IoError {
                op,
                path: target.shown().into(),
                message: self.describe(&f),
            });
        }
        let mut text = format!("error: {}\n  = help: {}\n", self.describe(&f), super::auth::places());
        for note in &self.found.notes {
            text.push_str(&format!("  = note: {}\n", escape(note)));
        }
        match err(&text) {
            Ok(()) => Failure::User,
            Err(e) => Failure::Output(e),
        }
    }
}

/// A connection to `target`'s registry and a runtime for one thread to drive it on.
pub fn connect(target: &Target, access: &Access) -> Result<(Connection, tokio::runtime::Runtime), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        Failure::Infra(floe_engine::IoError {
            op: "start the network runtime for",
            path: target.shown().into(),
            message: e.to_string(),
        })
    })?;
    Ok((Connection::new(target, access)?, runtime))
}

/// One process-wide TLS provider, for every HTTPS connection floe makes
/// (registries, Kubernetes, an OTLP collector): ring, since aws-lc-rs would
/// need cmake and minutes of C to build (ring has no post-quantum key
/// exchange, hence the deprecation). Installing it again does nothing.
pub fn install_tls_provider() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for `target`'s registry: HTTPS (trusting the system's CAs, or
/// `$SSL_CERT_FILE`'s, and those `access` adds), plain HTTP for one on this
/// machine unless a CA is given; every connection and read bounded in time.
pub fn client(target: &Target, access: &Access) -> Result<Client, Failure> {
    install_tls_provider();
    let mut extra_root_certificates = Vec::new();
    if let Some((path, how)) = &access.ca {
        let shown = escape(&path.display().to_string()).into_owned();
        let pem = crate::system::read_regular(path)?
            .ok_or_else(|| Failure::Usage(format!("the CA file `{shown}` ({how}) does not exist")))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(Failure::Usage(format!(
                "`{shown}` ({how}) holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)"
            )));
        }
        extra_root_certificates.push(Certificate { encoding: CertificateEncoding::Pem, data: pem });
    }
    let protocol = match target.local() && access.ca.is_none() {
        true => ClientProtocol::HttpsExcept(vec![target.registry.clone()]),
        false => ClientProtocol::Https,
    };
    let config = ClientConfig {
        protocol,
        extra_root_certificates,
        // One request per blob (POST, then PUT with the bytes) instead of
        // three: floe's blobs are small.
        use_monolithic_push: true,
        connect_timeout: Some(access.timeout),
        read_timeout: Some(access.timeout),
        user_agent: concat!("floe/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    };
    // `Client::new` would fall back to a default client on a bad certificate.
    Client::try_from(config).map_err(|e| {
        let ca =
            access.ca.as_ref().map(|(p, how)| format!(" (the CA file `{}`, {how})", escape(&p.display().to_string())));
        Failure::Usage(format!(
            "cannot set up a client for {}{}: {}",
            target.shown(),
            ca.unwrap_or_default(),
            retry::chain(&e)
        ))
    })
}

/// The `Content-Type` of floe's manifests.
pub fn manifest_type<T: std::str::FromStr<Err: fmt::Debug>>() -> T {
    MANIFEST_TYPE.parse().expect("a valid header value")
}

/// Gives the manifest `target` names (with its tag) a second tag in the same
/// repository: the registry has its blobs already, so only the manifest is
/// sent, and not even that when the tag names it already. A version tag
/// that names another manifest is not moved.
pub fn promote(target: &Target, access: &Access, to: &str) -> Result<Published, Failure> {
    let (conn, runtime) = connect(target, access)?;
    let from = Reference::with_tag(
        target.registry.clone(),
        target.repository.clone(),
        target.tag.clone().unwrap_or_else(|| "latest".to_owned()),
    );
    let dest = Reference::with_tag(target.registry.clone(), target.repository.clone(), to.to_owned());
    let (client, auth) = (&conn.client, &conn.auth);
    let fail = |f: Failed| conn.failure(target, "promote in", f);
    runtime.block_on(async {
        let pulled =
            conn.run("fetch the manifest", &from, || client.pull_manifest_raw(&from, auth, &[MANIFEST_TYPE])).await;
        let (bytes, digest) = match pulled {
            Ok(found) => found,
            Err(f) if f.absent() => return Err(Failure::Usage(format!("{} does not exist", from.whole()))),
            Err(f) => return Err(fail(f)),
        };
        let mut p = Published {
            label: from.whole(),
            reference: dest.whole(),
            digest: digest.clone(),
            uploaded: 0,
            skipped: 0,
            bytes: 0,
        };
        match conn.run("look up", &dest, || client.fetch_manifest_digest(&dest, auth)).await {
            Ok(d) if d == digest => {
                p.skipped = 1;
                return Ok(p);
            }
            Ok(d) if is_version(to) => {
                return Err(super::refusal(&[Refused { label: from.whole(), reference: dest.whole(), published: d }]));
            }
            Ok(_) => {}
            Err(f) if f.absent() => {}
            Err(f) => return Err(fail(f)),
        }
        conn.run("push the manifest", &dest, || client.push_manifest_raw(&dest, bytes.clone(), manifest_type()))
            .await
            .map_err(fail)?;
        p.uploaded = 1;
        p.bytes = bytes.len() as u64;
        Ok(p)
    })
}

pub fn publish(
    target: &Target,
    access: &Access,
    artifacts: &[Artifact],
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Published>, Failure> {
    let (mut conn, runtime) = connect(target, access)?;
    if let Some(first) = artifacts.first() {
        runtime.block_on(conn.ask_once(target, access, &target.reference(first)))?;
    }
    let (client, auth) = (&conn.client, &conn.auth);
    let fail = |f: Failed| conn.failure(target, "publish to", f);
    runtime.block_on(async {
        client.store_auth_if_needed(&target.registry, auth).await;
        // Every tag first: a version that would move stops the publish before any upload.
        let looked_up: Vec<Result<(Reference, Option<String>), Failed>> = futures_util::stream::iter(artifacts)
            .map(|a| {
                let conn = &conn;
                async move {
                    let reference = target.reference(a);
                    conn.seed(&reference).await;
                    match conn.run("look up", &reference, || client.fetch_manifest_digest(&reference, auth)).await {
                        Ok(d) => Ok((reference, Some(d))),
                        Err(f) if f.absent() => Ok((reference, None)),
                        Err(f) => Err(f),
                    }
                }
            })
            .buffered(CONCURRENT)
            .collect()
            .await;
        let mut current = Vec::with_capacity(artifacts.len());
        let mut refused = Vec::new();
        for (a, looked) in artifacts.iter().zip(looked_up) {
            let (reference, digest) = looked.map_err(fail)?;
            if let Some(d) = &digest
                && *d != a.manifest.descriptor.digest
                && is_version(reference.tag().unwrap_or_default())
            {
                refused.push(Refused { label: a.label.clone(), reference: reference.whole(), published: d.clone() });
            }
            current.push((reference, digest));
        }
        if !refused.is_empty() {
            return Err(super::refusal(&refused));
        }
        // Artifacts several at once (in order), each's blobs several at once,
        // each manifest only once every one of its blobs is there: a publish
        // cut short leaves no manifest naming a missing blob, and the next
        // run skips the blobs this one finished.
        let out: Vec<Result<Published, Failed>> = futures_util::stream::iter(artifacts.iter().zip(current))
            .map(|(a, (reference, digest))| {
                let conn = &conn;
                async move {
                    let mut p = Published::new(a, reference.whole());
                    if digest.as_deref() == Some(a.manifest.descriptor.digest.as_str()) {
                        // Named already: so are its blobs.
                        p.skipped = a.layers.len() + 2;
                        return Ok(p);
                    }
                    let blobs: Vec<_> = a.layers.iter().chain([&a.config]).collect();
                    let sent: Vec<Result<Option<u64>, Failed>> = futures_util::stream::iter(blobs)
                        .map(|blob| {
                            let reference = &reference;
                            async move {
                                let digest = &blob.descriptor.digest;
                                let subject = format!("{}/{}@{digest}", reference.registry(), reference.repository());
                                if conn
                                    .run("check for blob", &subject, || client.blob_exists(reference, digest))
                                    .await?
                                {
                                    return Ok(None);
                                }
                                conn.run("upload blob", &subject, || {
                                    client.push_blob(reference, blob.bytes.clone(), digest)
                                })
                                .await?;
                                Ok(Some(blob.descriptor.size))
                            }
                        })
                        .buffer_unordered(BLOBS_AT_ONCE)
                        .collect()
                        .await;
                    for s in sent {
                        match s? {
                            Some(size) => {
                                p.uploaded += 1;
                                p.bytes += size;
                            }
                            None => p.skipped += 1,
                        }
                    }
                    conn.run("push the manifest", &reference, || {
                        client.push_manifest_raw(&reference, a.manifest.bytes.clone(), manifest_type())
                    })
                    .await?;
                    p.uploaded += 1;
                    p.bytes += a.manifest.descriptor.size;
                    Ok(p)
                }
            })
            .buffered(CONCURRENT)
            .inspect(|_| progress.inc(1))
            .collect()
            .await;
        out.into_iter().collect::<Result<Vec<Published>, Failed>>().map_err(fail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_registries_repositories_and_tags() {
        let t = Target::parse("127.0.0.1:5000/floe/platform:latest").unwrap();
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_deref()),
            ("127.0.0.1:5000", "floe/platform", Some("latest"))
        );
        assert!(t.local());
        let t = Target::parse("registry.example.com/team/floe").unwrap();
        assert_eq!((t.repository.as_str(), t.tag.as_deref()), ("team/floe", None));
        assert!(!t.local());
        for bad in ["registry.example.com", "host/", "host/Upper", "host/a//b", "host/a:b/c:"] {
            assert!(Target::parse(bad).is_none(), "{bad}");
        }
    }
}
