//! The reconcile engine: one kube-runtime controller per cluster kind, each reconciling in the shape
//! dereference → validate → build (pure) → apply → status. [`run`] starts them all and stops them
//! on a signal, letting in-flight reconciles finish.

pub mod apply;
pub mod backup;
pub mod context;
pub mod controller;
pub mod error;
pub mod finalize;
pub mod lenient;
pub mod metrics;
pub mod pg;
pub mod ps;
pub mod pxc;
pub mod status;
pub mod volumes;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::api::{Api, ListParams};
use tokio_util::sync::CancellationToken;

use crate::observe::live::Scope;
pub use context::Context;
pub use error::ReconcileError;
use metrics::EngineMetrics;

/// How long in-flight reconciles may run on after the shutdown signal.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How the engine runs: where it looks, how much it does at once, where it reports.
#[derive(Clone)]
pub struct EngineConfig {
    pub scope: Scope,
    /// Reconciles running at once, per kind.
    pub concurrency: u16,
    pub metrics: Option<Arc<EngineMetrics>>,
    /// Set once every controller's cache has its first full list (for `/readyz`).
    pub ready: Arc<AtomicBool>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { scope: Scope::All, concurrency: 8, metrics: None, ready: Arc::new(AtomicBool::new(false)) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "the {kind} custom resource definition is not installed on this cluster ({message}); run `dbdeck crd --apply` first"
    )]
    CrdMissing { kind: &'static str, message: String },
    #[error("cannot reach the API server to start the engine: {0}")]
    Unreachable(String),
}

/// Runs every controller until `shutdown` resolves, then waits for in-flight reconciles and returns.
pub async fn run(
    client: kube::Client,
    config: EngineConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EngineError> {
    preflight(&client, &config.scope).await?;
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let metrics = config.metrics.clone().unwrap_or_default();
    let ctx = Arc::new(Context::new(client, metrics));
    let synced = Arc::new(context::Synced::default());
    let (scope, n) = (config.scope.clone(), config.concurrency);
    // One entry per controller; each signals `synced` once when its cache has the first full list.
    let controllers: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = vec![
        Box::pin(pxc::reconcile::run(ctx.clone(), scope.clone(), n, token.clone(), synced.clone())),
        Box::pin(ps::reconcile::run(ctx.clone(), scope.clone(), n, token.clone(), synced.clone())),
        Box::pin(pg::reconcile::run(ctx.clone(), scope.clone(), n, token.clone(), synced.clone())),
        Box::pin(backup::run_in_engine(ctx.clone(), scope.clone(), token.clone(), synced.clone())),
    ];
    let count = controllers.len();
    let ready = config.ready.clone();
    let waiter = synced.clone();
    let ready_task = tokio::spawn(async move {
        waiter.wait_for(count).await;
        ready.store(true, Ordering::SeqCst);
        tracing::info!("engine caches synced");
    });
    tracing::info!(scope = ?config.scope, concurrency = config.concurrency, "engine started");
    // In-flight reconciles get a grace to finish after the signal; past it they are dropped (every step is
    // idempotent, the next engine redoes it) so a stuck request cannot hold a shutdown.
    let grace = token.clone();
    tokio::select! {
        _ = futures::future::join_all(controllers) => {}
        _ = async move {
            grace.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running after the shutdown grace; dropped"),
    }
    ready_task.abort();
    tracing::info!("engine stopped");
    Ok(())
}

/// Fails early, with the fix, when the CRDs are missing or the server cannot be reached.
async fn preflight(client: &kube::Client, scope: &Scope) -> Result<(), EngineError> {
    check_crd::<crate::api::pxc::PerconaXtraDBCluster>(client, scope, "PerconaXtraDBCluster").await?;
    check_crd::<crate::api::ps::PerconaServerMySQL>(client, scope, "PerconaServerMySQL").await?;
    check_crd::<crate::api::pg::PerconaPGCluster>(client, scope, "PerconaPGCluster").await
}

async fn check_crd<K>(client: &kube::Client, scope: &Scope, kind: &'static str) -> Result<(), EngineError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match scope {
        Scope::All => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    };
    // An API server that is throttling or briefly unavailable at start-up is not a reason to give up; a
    // missing CRD (404) or an unreachable server after ~6 s of retries is.
    let policy = apply::RetryPolicy {
        attempts: 7,
        first_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(2),
    };
    // Metadata only: whether the kind is served, not whether every stored object parses (the controllers
    // report those one by one).
    let params = ListParams::default().limit(1);
    match apply::retrying(policy, || api.list_metadata(&params)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(EngineError::CrdMissing { kind, message: s.message }),
        Err(e) => Err(EngineError::Unreachable(e.to_string())),
    }
}
