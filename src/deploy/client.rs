//! The connection to a cluster: kube's client on a runtime of its own, discovery once per run, and every request retried.
//!
//! Requests that may pass on another try (5xx, 429, 408, a timeout, a refused
//! or dropped connection, and a conflict on an apply) are retried with
//! exponential backoff and full jitter, as the registry's are; a refusal
//! (401, 403) or an invalid object is not. Every message that leaves this
//! module has the kubeconfig's credentials scrubbed out of it.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use serde_json::Value;

use super::kubeconfig::Loaded;
use crate::cli::Failure;

/// The field manager of floe's server-side applies.
pub const MANAGER: &str = "floe";
/// The label every object floe renders carries, and what its lists select.
pub const MANAGED: &str = "app.kubernetes.io/managed-by=floe";
/// Attempts per request, and the backoff between them.
pub const ATTEMPTS: u32 = 5;
const BASE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);
/// Seconds a request may take without `$FLOE_KUBE_TIMEOUT`.
const TIMEOUT: u64 = 30;
/// Objects per page of a list.
const PAGE: u32 = 500;

/// How the server serves one kind.
#[derive(Clone, Debug)]
pub struct Resource {
    pub group: String,
    /// The version lists ask for (the group's preferred one).
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Resource {
    /// The resource in `api_version` (an object's own), so an object is
    /// applied in the version it was written in.
    fn api(&self, api_version: &str) -> ApiResource {
        let version = api_version.rsplit('/').next().unwrap_or(&self.version);
        ApiResource {
            group: self.group.clone(),
            version: version.to_owned(),
            api_version: api_version.to_owned(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// A request that failed for good.
#[derive(Debug)]
pub struct RequestError {
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// One line, credentials scrubbed.
    pub message: String,
    pub attempts: u32,
}

/// A cluster floe talks to.
pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    /// The kubeconfig's context, and the API server's address.
    pub context: String,
    pub server: String,
    secrets: Vec<String>,
    /// (group, kind) → how it is served; filled by [`Cluster::discover`].
    resources: BTreeMap<(String, String), Resource>,
}

impl Cluster {
    /// A client for the kubeconfig's context; nothing is sent yet.
    pub fn connect(loaded: Loaded) -> Result<Cluster, Failure> {
        // kube's TLS is rustls, with floe's one provider.
        crate::publish::registry::install_tls_provider();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            Failure::Infra(floe_engine::IoError {
                op: "start",
                path: "the network runtime".into(),
                message: e.to_string(),
            })
        })?;
        let timeout = Duration::from_secs(
            crate::env::get(&crate::env::FLOE_KUBE_TIMEOUT).and_then(|t| t.trim().parse().ok()).unwrap_or(TIMEOUT),
        );
        let Loaded { kubeconfig, context, secrets, files } = loaded;
        let mut config = runtime
            .block_on(kube::Config::from_custom_kubeconfig(kubeconfig, &super::kubeconfig::options(&context)))
            .map_err(|e| {
                let files = files.iter().map(|f| format!("`{}`", f.display())).collect::<Vec<_>>().join(", ");
                Failure::Usage(format!(
                    "cannot use context `{context}` of the kubeconfig {files}: {}",
                    scrub(&chain(&e), &secrets)
                ))
            })?;
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        // floe retries itself, with its own policy and counts.
        config.default_retry = false;
        let server = config.cluster_url.to_string().trim_end_matches('/').to_owned();
        let client = {
            let _guard = runtime.enter();
            kube::Client::try_from(config).map_err(|e| {
                Failure::Usage(format!(
                    "cannot use context `{context}` (server {server}): {}",
                    scrub(&chain(&e), &secrets)
                ))
            })?
        };
        Ok(Cluster { runtime, client, context, server, secrets, resources: BTreeMap::new() })
    }

    /// Runs `f` on the cluster's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Asks the server once which kinds of these API groups it serves.
    pub fn discover(&mut self, groups: &[&str]) -> Result<(), Failure> {
        let client = self.client.clone();
        let found = self.block_on(self.retry(false, || {
            let client = client.clone();
            async move {
                // Aggregated discovery (two requests) where the server has
                // it, else a request per group version.
                match Discovery::new(client.clone()).filter(groups).run_aggregated().await {
                    Ok(d) => Ok(d),
                    Err(_) => Discovery::new(client).filter(groups).run().await,
                }
            }
        }));
        let discovery = found.map_err(|e| self.fatal("discover the resources it serves", &e))?;
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                let resource = Resource {
                    group: ar.group.clone(),
                    version: ar.version.clone(),
                    kind: ar.kind.clone(),
                    plural: ar.plural.clone(),
                    namespaced: caps.scope == Scope::Namespaced,
                };
                self.resources.insert((ar.group, ar.kind), resource);
            }
        }
        Ok(())
    }

    /// How the server serves a kind, if it does.
    pub fn resource(&self, group: &str, kind: &str) -> Option<&Resource> {
        self.resources.get(&(group.to_owned(), kind.to_owned()))
    }

    /// Every object of a kind that floe manages, in every namespace: one
    /// paginated list.
    pub async fn list_managed(&self, res: &Resource) -> Result<Vec<Value>, RequestError> {
        let api_version =
            if res.group.is_empty() { res.version.clone() } else { format!("{}/{}", res.group, res.version) };
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &res.api(&api_version));
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().labels(MANAGED).limit(PAGE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page = self.retry(false, || api.list(&params)).await?;
            for item in page.items {
                let mut value = serde_json::to_value(&item).unwrap_or(Value::Null);
                // Items of built-in lists carry no apiVersion and kind.
                value["apiVersion"] = api_version.clone().into();
                value["kind"] = res.kind.clone().into();
                out.push(value);
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Server-side apply of `object` as floe, forcing floe's fields (floe's
    /// manifests are the source of truth); the object as the server has it then.
    pub async fn apply(&self, res: &Resource, object: &Value, dry_run: bool) -> Result<Value, RequestError> {
        let api = self.api(res, object);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut params = PatchParams::apply(MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        let patch = Patch::Apply(object);
        let applied = self.retry(true, || api.patch(name, &params, &patch)).await?;
        Ok(serde_json::to_value(&applied).unwrap_or(Value::Null))
    }

    /// Deletes an object (its dependents in the background); one already gone is no failure.
    pub async fn delete(&self, res: &Resource, object: &Value, dry_run: bool) -> Result<(), RequestError> {
        let api = self.api(res, object);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut params = DeleteParams::background();
        if dry_run {
            params = params.dry_run();
        }
        match self.retry(false, || api.delete(name, &params)).await {
            Err(RequestError { status: Some(404), .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn api(&self, res: &Resource, object: &Value) -> Api<DynamicObject> {
        let ar = res.api(object["apiVersion"].as_str().unwrap_or_default());
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if res.namespaced => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// Runs `request` until it succeeds, fails for a reason a retry cannot
    /// change, or has been tried [`ATTEMPTS`] times. `apply`: a conflict
    /// (409) is retried too, since floe's applies force.
    pub async fn retry<T, F, Fut>(&self, apply: bool, mut request: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match request().await {
                Ok(v) => return Ok(v),
                Err(e) if attempts < ATTEMPTS && transient(&e, apply) => tokio::time::sleep(delay(attempts)).await,
                Err(e) => {
                    return Err(RequestError {
                        status: status(&e),
                        message: scrub(&describe(&e), &self.secrets),
                        attempts,
                    });
                }
            }
        }
    }

    /// A failure that stops the command before any object is written: what
    /// floe was doing, where, why, and what to check.
    pub fn fatal(&self, what: &str, e: &RequestError) -> Failure {
        let (context, server) = (&self.context, &self.server);
        let tries = match e.attempts {
            1 => String::new(),
            n => format!(" (after {n} attempts)"),
        };
        let text = match e.status {
            Some(401) => format!(
                "the API server {server} (context `{context}`) did not accept the credentials of the context's user \
                 when floe tried to {what}: {}\n  = help: check the user of context `{context}` in the kubeconfig \
                 (its token, client certificate or exec plugin)",
                e.message
            ),
            Some(403) => format!(
                "the API server {server} (context `{context}`) forbids floe to {what}: {}\n  = help: the user of \
                 context `{context}` needs get, list, patch and delete on the kinds floe deploys",
                e.message
            ),
            Some(_) => format!("the API server {server} (context `{context}`) failed to {what}{tries}: {}", e.message),
            None => format!(
                "cannot reach the API server {server} (context `{context}`) to {what}{tries}: {}\n  = help: check \
                 that the cluster is up and that the context's server is its address; $FLOE_KUBE_TIMEOUT sets how \
                 many seconds a request may take",
                e.message
            ),
        };
        Failure::Cluster(text)
    }
}

/// How long to wait after failed attempt `n` (from 1): full jitter below the exponential ceiling.
fn delay(n: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << (n - 1).min(16)).min(CAP);
    Duration::from_nanos(fastrand::u64(0..=ceiling.as_nanos() as u64))
}

/// The HTTP status of an answer the server gave.
fn status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Whether trying again may succeed.
fn transient(e: &kube::Error, apply: bool) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 408 | 429 | 500..=599) || (apply && s.code == 409),
        // No answer: refused, timed out or dropped; a certificate that does
        // not verify stays so.
        kube::Error::HyperError(_) | kube::Error::Service(_) => !chain(e).contains("certificate"),
        _ => false,
    }
}

/// An error in one line: a `Status`'s code, reason and message, or the causes of a failed connection.
fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => format!("{} {}: {}", s.code, s.reason, s.message),
        kube::Error::Api(s) => format!("{} {}", s.code, s.reason),
        other => chain(other),
    }
}

/// An error with its causes, each said once, on one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::publish::chain(e).replace('\n', " ")
}

/// `text` without any of `secrets`, and with values under credential-like
/// keys masked, so that no credential reaches a message.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for s in secrets {
        text = text.replace(s.as_str(), "***");
    }
    text.lines().map(floe_schemas::secret::mask_line).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_below_the_cap() {
        for n in 1..=20 {
            let ceiling = BASE.saturating_mul(1 << (n - 1).min(16)).min(CAP);
            assert!(delay(n) <= ceiling);
        }
    }

    #[test]
    fn scrubbing_removes_planted_values() {
        let s = scrub("token abcdef123456 refused", &["abcdef123456".to_owned()]);
        assert!(!s.contains("abcdef123456"), "{s}");
    }
}
