//! Backups and restores of all three kinds (issue 9).
//!
//! The builders ([`pxc`], [`ps`], [`pg`]) turn a Backup or Restore object plus its cluster into the
//! Jobs Percona's operators would run, laid out as Percona lays them out; they do no I/O and read no
//! clock (the time that names a destination comes in as an argument). [`schedule`] computes cron runs,
//! scheduled Backup names and retention; [`status`] turns Jobs into backup states and walks restores
//! through their states. All of it is pure and unit-tested; the controllers drive it.
//!
//! The controllers ([`run`], or [`run_in_engine`] from `engine::run`), per family:
//! - Backup: refuses a cluster that is not `ready` unless its unsafe flag allows it, serialises
//!   backups of one cluster through the Lease `<pxc|ps|pg>-<cluster>-backup-lock` when
//!   `spec.backup.allowParallel: false` (PG always), creates the Job, and follows it to
//!   `Succeeded`/`Failed` (PS: `Error` when it never started) with `startingDeadlineSeconds` (until
//!   the Job exists, lease wait included), `runningDeadlineSeconds` (until a pod of it is ready; PXC
//!   default 300) and `activeDeadlineSeconds` (PXC: set on the Job, and also enforced here) failing it
//!   with the reason; `backoffLimit` goes to the Job. A failed Job and its pods stay (owned by the
//!   Backup) and the error names the pod whose logs explain it. Serialised backups carry the
//!   `BackupLeaseAcquired` condition (False while they wait, naming the holder).
//! - Deleting a Backup with the `percona.com/delete-backup` finalizer runs the cleanup Job
//!   `delete-backup-<backup>` (PXC/PS cloud storage) or deletes the `xb-<backup>` claim (PXC
//!   filesystem). When that cannot happen (cluster gone, cleanup Job failed) the reason goes to the
//!   status and a `DeleteBlocked` Event, and the user lets the object go with the annotation
//!   `dbdeck.io/release-finalizer: "true"` (the data may then remain in storage).
//! - Schedules: the cluster's `spec.backup.schedule[]` (PXC/PS) or pgBackRest repo `schedules` (PG)
//!   create Backup objects labelled with their schedule (`percona.com/backup-ancestor`), at most one
//!   catch-up run for runs missed while the engine was down; retention deletes the oldest finished
//!   ones beyond `retention.count` / `keep`. A clock task wakes the controller at the earliest due
//!   run (kube-runtime may drop a requeue).
//! - Restore: saves the sizes (annotation `dbdeck.io/saved-sizes`; PXC also `status.clusterSize`…),
//!   pauses the cluster, waits for its database pods to go, runs the restore Job (then PXC's PITR
//!   Job), unpauses with the saved sizes and waits for `ready`. One restore per cluster at a time
//!   (the oldest first) and none while a backup of it runs; a waiting or stuck restore says why (PXC
//!   `comments`, PS `stateDescription`, PG `message`, as `<step>: <why>`). The finalizer
//!   `dbdeck.io/cancel-restore` makes deleting a running restore cancel it: its Jobs are deleted and
//!   the cluster resumed.

pub mod common;
pub mod kinds;
pub mod lock;
pub mod pg;
pub mod ps;
pub mod pxc;
pub mod schedule;
pub mod status;

mod controller;
mod cron;
mod restore;

pub use controller::ControllerError;
pub use kinds::{DELETE_BACKUP_FINALIZER, RELEASE_ANNOTATION};
pub use restore::CANCEL_FINALIZER;

/// Runs the Backup, Restore and schedule controllers of all three families in `namespace` (`None`:
/// all) until `shutdown` resolves, letting in-flight reconciles finish. The CRDs must be installed.
pub async fn run(
    client: kube::Client,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let token = tokio_util::sync::CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    run_until(client, namespace, None, token).await;
}

async fn run_until(
    client: kube::Client,
    namespace: Option<String>,
    metrics: Option<std::sync::Arc<crate::engine::metrics::EngineMetrics>>,
    token: tokio_util::sync::CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for kind in kinds::ALL {
        if let Some(m) = &metrics {
            m.declare_unqueued(kind.backup.0);
            m.declare_unqueued(kind.restore.0);
        }
        tasks.spawn(controller::run(
            client.clone(),
            kind,
            namespace.clone(),
            metrics.clone(),
            token.clone().cancelled_owned(),
        ));
        tasks.spawn(restore::run(
            client.clone(),
            kind,
            namespace.clone(),
            metrics.clone(),
            token.clone().cancelled_owned(),
        ));
        tasks.spawn(cron::run(client.clone(), kind, namespace.clone(), token.clone().cancelled_owned()));
    }
    tokio::select! {
        _ = async { while tasks.join_next().await.is_some() {} } => return,
        _ = token.cancelled() => {}
    }
    // Stop requested: in-flight reconciles get a short grace, then the rest are dropped. Every
    // reconcile is idempotent and picks up from the objects' status on the next start.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!("backup controllers did not stop within {SHUTDOWN_GRACE:?}; aborting them");
        tasks.abort_all();
    }
}

/// How long a stop waits for in-flight backup reconciles.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The engine's entry for these controllers (one line in `engine::run`): counts as synced once the
/// Backup and Restore kinds of all three families answer a list.
pub async fn run_in_engine(
    ctx: std::sync::Arc<crate::engine::Context>,
    scope: crate::observe::live::Scope,
    token: tokio_util::sync::CancellationToken,
    synced: std::sync::Arc<crate::engine::context::Synced>,
) {
    let namespace = match scope {
        crate::observe::live::Scope::Namespace(ns) => Some(ns),
        crate::observe::live::Scope::All => None,
    };
    let client = ctx.client.clone();
    let probe = client.clone();
    let ns = namespace.clone();
    tokio::spawn(async move {
        loop {
            let mut ok = true;
            for kind in kinds::ALL {
                for ar in [kind.backup_ar(), kind.restore_ar()] {
                    let api: kube::Api<kube::api::DynamicObject> = match &ns {
                        Some(n) => kube::Api::namespaced_with(probe.clone(), n, &ar),
                        None => kube::Api::all_with(probe.clone(), &ar),
                    };
                    if let Err(e) = api.list(&kube::api::ListParams::default().limit(1)).await {
                        tracing::warn!(kind = %ar.kind, error = %e, "backup controllers cannot list their kind yet");
                        ok = false;
                    }
                }
            }
            if ok {
                synced.done();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
    run_until(client, namespace, Some(ctx.metrics.clone()), token).await;
}

/// Runs one Backup or Restore reconcile with the engine's per-kind counters (reconciles, errors, durations,
/// in flight), as `engine::controller::measured` does for the cluster kinds.
async fn measured<T, E>(
    metrics: Option<&crate::engine::metrics::EngineMetrics>,
    kind: &str,
    obj: &kube::api::DynamicObject,
    reconcile: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    use kube::ResourceExt;
    let Some(m) = metrics else { return reconcile.await };
    let started = std::time::Instant::now();
    m.started(kind, obj.namespace().as_deref(), &obj.name_any());
    let result = reconcile.await;
    m.finished(kind, started.elapsed(), result.is_ok());
    result
}

#[cfg(test)]
mod tests {
    use crate::engine::metrics::EngineMetrics;
    use kube::api::DynamicObject;

    #[tokio::test]
    async fn backup_and_restore_reconciles_are_counted_per_kind() {
        let m = EngineMetrics::default();
        let mut obj = DynamicObject::new("b1", &super::kinds::PXC.backup_ar());
        obj.metadata.namespace = Some("default".into());
        let kind = super::kinds::PXC.backup.0;
        let ok: Result<(), ()> = super::measured(Some(&m), kind, &obj, async { Ok(()) }).await;
        let failed: Result<(), ()> = super::measured(Some(&m), kind, &obj, async { Err(()) }).await;
        assert!(ok.is_ok() && failed.is_err());
        assert_eq!(m.reconciles(kind), 2);
        assert_eq!(m.errors(kind), 1);
        assert_eq!(m.in_flight(), 0);
    }
}
