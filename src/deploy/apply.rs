//! Carrying out a plan: namespaces and CRDs first, then the rest, concurrently with a bound; then prune, namespaced objects before namespaces.

use futures_util::StreamExt as _;

use super::client::{Cluster, RequestError};
use super::plan::{Action, Step};

/// Requests in flight at once.
const CONCURRENCY: usize = 16;

/// What became of one step.
pub enum Outcome {
    /// Applied or deleted (or, in a dry run, accepted by the server).
    Written,
    /// Not written: the step needs no write.
    Skipped,
    Failed(RequestError),
    /// Not tried, since an earlier phase failed.
    NotTried,
}

/// Runs the writes of `steps`, phase by phase; a phase with a failure is
/// finished (what is in flight completes) and no later phase starts, so
/// nothing is pruned while something desired is missing.
pub fn execute(cluster: &mut Cluster, steps: &[Step], dry_run: bool, bar: &indicatif::ProgressBar) -> Vec<Outcome> {
    let mut done: Vec<Outcome> =
        steps.iter().map(|s| if s.action.writes() { Outcome::NotTried } else { Outcome::Skipped }).collect();
    let phases: [(bool, u8); 4] = [(false, 0), (false, 1), (true, 1), (true, 0)];
    for (prune, rank) in phases {
        let indices: Vec<usize> = (0..steps.len())
            .filter(|&i| {
                let s = &steps[i];
                s.action.writes() && (s.action == Action::Pruned) == prune && s.rank() == rank
            })
            .collect();
        if indices.is_empty() {
            continue;
        }
        let shared: &Cluster = cluster;
        let results: Vec<(usize, Result<(), RequestError>)> = shared.block_on(
            futures_util::stream::iter(indices)
                .map(|i| {
                    let step = &steps[i];
                    async move {
                        let result = write(shared, step, dry_run).await;
                        bar.inc(1);
                        (i, result)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect(),
        );
        let mut failed = false;
        for (i, r) in results {
            done[i] = match r {
                Ok(()) => Outcome::Written,
                Err(e) => {
                    failed = true;
                    Outcome::Failed(e)
                }
            };
        }
        if failed {
            break;
        }
        if rank == 0 && !prune {
            rediscover(cluster, steps);
        }
    }
    done
}

/// After CustomResourceDefinitions are applied, the kinds they define and
/// other desired objects use are looked up again.
fn rediscover(cluster: &mut Cluster, steps: &[Step]) {
    let missing: std::collections::BTreeSet<&str> = steps
        .iter()
        .filter(|s| s.desired.is_some() && cluster.resource(&s.id.group, &s.id.kind).is_none())
        .map(|s| s.id.group.as_str())
        .collect();
    if !missing.is_empty() {
        // What is still missing then fails on its own write, named.
        let _ = cluster.discover(&missing.into_iter().collect::<Vec<_>>());
    }
}

async fn write(cluster: &Cluster, step: &Step, dry_run: bool) -> Result<(), RequestError> {
    let Some(res) = cluster.resource(&step.id.group, &step.id.kind) else {
        return Err(RequestError {
            status: None,
            message: format!("the server does not serve {} ({})", step.id.kind, step.api_version),
            attempts: 0,
        });
    };
    match (&step.desired, &step.live) {
        (Some(object), _) => cluster.apply(res, object, dry_run).await.map(|_| ()),
        (None, Some(object)) => cluster.delete(res, object, dry_run).await,
        (None, None) => Ok(()),
    }
}
