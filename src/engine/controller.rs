//! What every cluster controller (PXC, PS, PG) shares around its own reconcile: the watched APIs for a scope,
//! a `Controller` for a cluster kind configured the engine's way, the run loop until shutdown, the error
//! policy (per-object backoff) and the metrics around each reconcile.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::context::{Context, Synced, WatchBackoff, report_synced};
use super::error::ReconcileError;
use crate::observe::live::Scope;

/// Quiet time before a burst of child changes becomes one reconcile.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// `Api<K>` over the engine's scope: one namespace or all.
pub fn scoped<K>(client: &kube::Client, scope: &Scope) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Scope::All => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// A controller for the cluster kind `K` with the engine's concurrency, debounce and watch backoff; it also
/// reports to `synced` once the kind's first full list arrived. Callers add `owns`/`watches`.
pub fn cluster_controller<K>(
    client: &kube::Client,
    scope: &Scope,
    concurrency: u16,
    synced: Arc<Synced>,
) -> Controller<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    report_synced(scoped::<K>(client, scope), synced);
    Controller::new(scoped::<K>(client, scope), watcher::Config::default())
        .with_config(ControllerConfig::default().concurrency(concurrency).debounce(DEBOUNCE))
        .trigger_backoff(WatchBackoff::default())
}

/// Runs `controller` until `token` is cancelled; in-flight reconciles finish (within the engine's grace).
pub async fn drive<K, C, R, RFut>(controller: Controller<K>, token: CancellationToken, reconcile: R, ctx: Arc<C>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    C: AsRef<Context> + Send + Sync + 'static,
    R: FnMut(Arc<K>, Arc<C>) -> RFut,
    RFut: Future<Output = Result<Action, ReconcileError>> + Send + 'static,
{
    let kind = K::kind(&()).to_string();
    controller
        .graceful_shutdown_on(token.cancelled_owned())
        .run(reconcile, error_policy::<K, C>, ctx)
        .for_each(|res| {
            let kind = kind.clone();
            async move {
                if let Err(e) = res {
                    tracing::debug!(kind = %kind, error = %e, "controller event");
                }
            }
        })
        .await;
}

/// `Kind/namespace/name`: the key of the object's error backoff.
pub fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("{}/{}/{}", K::kind(&()), obj.namespace().unwrap_or_default(), obj.name_any())
}

fn error_policy<K, C>(obj: Arc<K>, err: &ReconcileError, ctx: Arc<C>) -> Action
where
    K: Resource<DynamicType = ()>,
    C: AsRef<Context>,
{
    tracing::warn!(kind = %K::kind(&()), cluster = %obj.name_any(), error = %err, "reconcile failed");
    ctx.as_ref().as_ref().backoff(&key(obj.as_ref()))
}

/// Runs one reconcile of `obj` with its metrics, and resets the object's error backoff when it succeeded.
pub async fn measured<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    reconcile: impl Future<Output = Result<Action, ReconcileError>>,
) -> Result<Action, ReconcileError> {
    let kind = K::kind(&());
    let started = Instant::now();
    ctx.metrics.started(&kind);
    let result = reconcile.await;
    ctx.metrics.finished(&kind, started.elapsed(), result.is_ok());
    if result.is_ok() {
        ctx.succeeded(&key(obj));
    }
    result
}
