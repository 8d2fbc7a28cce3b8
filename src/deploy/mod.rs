//! `floe deploy`, `floe diff`, `floe status` and `floe platform deploy`: the selection's Kubernetes objects brought to a cluster.
//!
//! The selection is built as `floe build` builds it and the objects of its
//! packages' `k8s.yaml` are read back (`desired.rs`); the live objects floe
//! manages are listed once per kind, cluster-wide, by floe's label
//! (`client.rs`); each object is then created, updated or left alone by its
//! derivation annotation, and what floe owns under the selection but no
//! longer renders is pruned (`plan.rs`, `apply.rs`). Everything that talks
//! to the network is in this module's `client.rs`; `docs/deploy.md` says how
//! it is tested.

mod apply;
mod client;
mod desired;
mod diff;
mod helm;
pub mod kubeconfig;
mod plan;
mod report;
mod status;

use futures_util::StreamExt as _;
use serde_json::Value;

use crate::cli::{Cli, Failure};
use crate::output::Printer;
use client::Cluster;
use desired::Desired;
pub use helm::{PlatformDeployArgs, platform_deploy};
use kubeconfig::KubeArgs;

#[derive(clap::Args)]
pub struct DeployArgs {
    /// Packages to deploy (default: //...); objects floe deployed for packages these labels cover and no longer renders are pruned
    pub labels: Vec<String>,
    /// Send every write as a server-side dry run (`dryRun=All`): the same plan and report, nothing changed
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// Packages to compare (default: //...)
    pub labels: Vec<String>,
    /// Exit with 1 when there is a difference, as `git diff --exit-code` does
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// Products to show (default: //...)
    pub labels: Vec<String>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The kinds floe may render, listed whether or not this selection renders
/// them, so that what it rendered before is found to prune: the workloads
/// of products, the namespace-level objects of platform packages, and the
/// custom resources of the secrets operators floe supports (listed only
/// where their CRDs are installed).
const KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("batch", "CronJob"),
    ("batch", "Job"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("external-secrets.io", "ExternalSecret"),
    ("secrets.hashicorp.com", "VaultStaticSecret"),
    ("secrets.infisical.com", "InfisicalSecret"),
];

/// `floe deploy`.
pub fn deploy(cli: &Cli, printer: &Printer, args: &DeployArgs) -> Result<(), Failure> {
    let desired = desired::build(cli, printer, &args.labels)?;
    let loaded = kubeconfig::load(cli, &args.kube)?;
    let (mut cluster, live) = observe(loaded, &desired, KINDS)?;
    let steps = plan::plan(&desired, live);
    let writes = steps.iter().filter(|s| s.action.writes()).count() as u64;
    let bar = crate::output::progress(printer, writes, if args.dry_run { "dry run" } else { "deploying" });
    let done = apply::execute(&mut cluster, &steps, args.dry_run, &bar);
    bar.finish_and_clear();
    report::deploy(printer, (&cluster.context, &cluster.server), args.dry_run, &steps, &done)
}

/// `floe diff`.
pub fn diff(cli: &Cli, printer: &Printer, args: &DiffArgs) -> Result<(), Failure> {
    let desired = desired::build(cli, printer, &args.labels)?;
    let loaded = kubeconfig::load(cli, &args.kube)?;
    let (cluster, live) = observe(loaded, &desired, KINDS)?;
    let steps = plan::plan(&desired, live);
    let differs = diff::diff(&cluster, printer, &steps)?;
    if differs && args.exit_code { Err(Failure::User) } else { Ok(()) }
}

/// `floe status`.
pub fn status(cli: &Cli, printer: &Printer, args: &StatusArgs) -> Result<(), Failure> {
    let desired = desired::build(cli, printer, &args.labels)?;
    let loaded = kubeconfig::load(cli, &args.kube)?;
    let (_, live) = observe(loaded, &desired, &[("batch", "CronJob"), ("batch", "Job")])?;
    status::show(printer, &desired, &live)
}

/// Connects, discovers the kinds of `kinds` and of the desired objects, and
/// lists every live object floe manages of each kind the server serves.
fn observe(
    loaded: kubeconfig::Loaded,
    desired: &Desired,
    kinds: &[(&str, &str)],
) -> Result<(Cluster, Vec<Value>), Failure> {
    let mut cluster = Cluster::connect(loaded)?;
    let mut wanted: std::collections::BTreeSet<(String, String)> =
        kinds.iter().map(|(g, k)| ((*g).to_owned(), (*k).to_owned())).collect();
    wanted.extend(desired.objects.iter().map(|(id, _)| (id.group.clone(), id.kind.clone())));
    let groups: std::collections::BTreeSet<&str> = wanted.iter().map(|(g, _)| g.as_str()).collect();
    cluster.discover(&groups.into_iter().collect::<Vec<_>>())?;
    // A kind the server does not serve yet may be typed by a CRD the
    // selection deploys; any other is a cluster without what floe needs.
    let crds = desired.objects.iter().any(|(id, _)| id.kind == "CustomResourceDefinition");
    let missing: Vec<String> = desired
        .objects
        .iter()
        .filter(|(id, _)| cluster.resource(&id.group, &id.kind).is_none())
        .map(|(id, o)| format!("{} ({})", id.kind, o["apiVersion"].as_str().unwrap_or_default()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() && !crds {
        return Err(Failure::Cluster(format!(
            "the API server {} (context `{}`) does not serve {}, which the selection renders\n  = help: install \
             the operator that defines it (its CustomResourceDefinition), or choose a plugin the cluster has",
            cluster.server,
            cluster.context,
            missing.join(", ")
        )));
    }
    let served: Vec<client::Resource> = wanted.iter().filter_map(|(g, k)| cluster.resource(g, k)).cloned().collect();
    let lists: Vec<Result<Vec<Value>, (String, client::RequestError)>> = cluster.block_on(
        futures_util::stream::iter(&served)
            .map(|res| {
                let cluster = &cluster;
                async move { cluster.list_managed(res).await.map_err(|e| (res.plural.clone(), e)) }
            })
            .buffered(4)
            .collect(),
    );
    let mut live = Vec::new();
    for list in lists {
        match list {
            Ok(items) => live.extend(items),
            Err((plural, e)) => return Err(cluster.fatal(&format!("list {plural}"), &e)),
        }
    }
    Ok((cluster, live))
}
