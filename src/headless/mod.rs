//! Operator mode (`dbdeck --headless`): the reconcile engine without the console, as a Deployment runs it.
//!
//! Several replicas may run; a Lease elects the one that reconciles (`lease`). Every replica serves `/healthz`,
//! `/readyz`, `/metrics` and `/loglevel` (`http`). While this replica leads, the engine runs for each watched
//! scope; when the lease is lost the engine is stopped. On SIGTERM/SIGINT the engine stops taking work and
//! finishes what is in flight, then the lease is released so a follower takes over at once, and `run` returns.

pub mod args;
pub mod command;
pub mod engine;
pub mod http;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod rbac;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::join_all;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::observe::live::Scope;

pub use lease::{DEFAULT_LEASE_NAME, leader_elsewhere};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub type EngineFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What operator mode needs from a reconcile engine. `DbdeckEngine` is the real one; the seam lets the lease
/// and shutdown logic be exercised on their own.
pub trait Engine: Send + Sync + 'static {
    /// Adds the engine's metrics to the registry `/metrics` serves; called once, before any run.
    fn register_metrics(&self, registry: &mut Registry);

    /// Runs for one scope until `shutdown` resolves, then finishes in-flight work and returns. Sends `true` on
    /// `synced` once its caches hold a full list (what `/readyz` waits for).
    fn run(
        &self,
        client: kube::Client,
        scope: Scope,
        synced: watch::Sender<bool>,
        shutdown: BoxFuture<()>,
    ) -> BoxFuture<Result<(), EngineFailure>>;
}

/// How this replica runs.
#[derive(Clone, Debug)]
pub struct HeadlessOptions {
    /// One engine per scope: a list of namespaces, or `[Scope::All]`.
    pub scopes: Vec<Scope>,
    pub lease: lease::LeaseConfig,
    pub http_addr: SocketAddr,
    /// Who may change the log level over HTTP (`PUT /loglevel`); nobody by default.
    pub loglevel_writes: http::LogLevelWrites,
    /// How long the engine may take to finish in-flight reconciles once asked to stop. Past it the engine is
    /// dropped and the lease released anyway: better than the kubelet's SIGKILL leaving the lease held.
    pub shutdown_grace: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error("the reconcile engine for {scope} stopped: {reason}")]
    Engine { scope: String, reason: String },
    #[error("the leader election task ended unexpectedly: {0}")]
    Campaign(String),
    #[error(
        "the reconcile engine did not finish its in-flight work within {0:?} of being asked to stop; it was abandoned"
    )]
    StopTimeout(std::time::Duration),
}

/// A running replica's handles, for callers that need the address (the listener binds before `run` starts work).
pub struct Started {
    pub http_addr: SocketAddr,
    pub is_leader: watch::Receiver<bool>,
    pub not_ready: watch::Receiver<Option<String>>,
    pub registry: Arc<Registry>,
    task: tokio::task::JoinHandle<Result<(), HeadlessError>>,
    /// The background tasks, so `abort` can stop them all at once.
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Started {
    /// Waits until the replica has shut down (after its shutdown future resolved, or on an engine failure).
    pub async fn wait(self) -> Result<(), HeadlessError> {
        self.task.await.map_err(|e| HeadlessError::Campaign(e.to_string()))?
    }

    /// Kills the replica without any cleanup, as a crashed process would leave things (tests use it).
    pub fn abort(&self) {
        self.task.abort();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Namespace(ns) => format!("namespace {ns}"),
        Scope::All => "all namespaces".to_string(),
    }
}

/// Why a replica is not ready, from what it knows: nothing before its first election round; a follower is
/// ready; a leader once every engine synced.
pub fn readiness(joined: bool, leading: bool, synced: bool) -> Option<String> {
    if !joined {
        Some("has not completed a leader-election round yet".into())
    } else if leading && !synced {
        Some("leader, but the engine's caches have not synced yet".into())
    } else {
        None
    }
}

/// Binds the HTTP address and starts the replica in the background; `shutdown` resolving starts the orderly exit.
pub async fn start(
    client: kube::Client,
    opts: HeadlessOptions,
    engine: Arc<dyn Engine>,
    log: Option<logging::LogControl>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Started, HeadlessError> {
    let headless_metrics = metrics::HeadlessMetrics::default();
    let mut registry = Registry::default();
    headless_metrics.register(&mut registry);
    engine.register_metrics(&mut registry);
    let registry = Arc::new(registry);

    let (not_ready_tx, not_ready) = watch::channel(readiness(false, false, false));
    let listener = http::bind(opts.http_addr).await?;
    let http_addr = listener.local_addr().map_err(|source| http::HttpError::Bind { addr: opts.http_addr, source })?;
    tracing::info!(%http_addr, "serving /healthz, /readyz, /metrics and /loglevel");
    let (http_stop_tx, mut http_stop) = watch::channel(false);
    let http_state = http::HttpState {
        registry: registry.clone(),
        not_ready: not_ready.clone(),
        log,
        log_writes: opts.loglevel_writes.clone(),
    };
    let http_task = tokio::spawn(http::serve(listener, http_state, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));

    let (leader_tx, is_leader) = watch::channel(false);
    let (joined_tx, joined) = watch::channel(false);
    let (campaign_stop_tx, campaign_stop) = watch::channel(false);
    let elector = lease::Elector::new(client.clone(), opts.lease.clone());
    let round_metrics = headless_metrics.clone();
    let campaign = tokio::spawn(elector.campaign(leader_tx, campaign_stop, move |round| {
        round_metrics.record(round);
        joined_tx.send_replace(true);
    }));

    let (synced_tx, synced) = watch::channel(false);
    let readiness_task = tokio::spawn(keep_readiness(joined, is_leader.clone(), synced, not_ready_tx));

    let tasks = vec![http_task.abort_handle(), campaign.abort_handle(), readiness_task.abort_handle()];
    let leader_rx = is_leader.clone();
    let task = tokio::spawn(async move {
        let outcome =
            lead_while_elected(client, &opts, engine, leader_rx, synced_tx, &headless_metrics, shutdown).await;
        // In-flight reconciles are done (or the engine failed): now let a follower take over at once.
        campaign_stop_tx.send_replace(true);
        let campaign_result = campaign.await;
        headless_metrics.set_leader(false);
        readiness_task.abort();
        http_stop_tx.send_replace(true);
        if let Ok(Err(e)) = http_task.await {
            tracing::warn!(error = %e, "metrics server");
        }
        outcome?;
        campaign_result.map(|_| ()).map_err(|e| HeadlessError::Campaign(e.to_string()))
    });
    Ok(Started { http_addr, is_leader, not_ready, registry, task, tasks })
}

/// `start`, then wait for the end.
pub async fn run(
    client: kube::Client,
    opts: HeadlessOptions,
    engine: Arc<dyn Engine>,
    log: Option<logging::LogControl>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HeadlessError> {
    start(client, opts, engine, log, shutdown).await?.wait().await
}

async fn keep_readiness(
    mut joined: watch::Receiver<bool>,
    mut leader: watch::Receiver<bool>,
    mut synced: watch::Receiver<bool>,
    out: watch::Sender<Option<String>>,
) {
    loop {
        let now = readiness(*joined.borrow_and_update(), *leader.borrow_and_update(), *synced.borrow_and_update());
        out.send_if_modified(|cur| {
            let changed = *cur != now;
            *cur = now.clone();
            changed
        });
        tokio::select! {
            r = joined.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            r = synced.changed() => if r.is_err() { return },
        }
    }
}

/// The leader loop: wait for the lease, run the engines, stop them when the lease is lost or on shutdown.
async fn lead_while_elected(
    client: kube::Client,
    opts: &HeadlessOptions,
    engine: Arc<dyn Engine>,
    mut is_leader: watch::Receiver<bool>,
    synced_out: watch::Sender<bool>,
    metrics: &metrics::HeadlessMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HeadlessError> {
    let (shutdown_tx, mut shutting_down) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        shutdown_tx.send_replace(true);
    });
    loop {
        tokio::select! {
            _ = shutting_down.wait_for(|s| *s) => return Ok(()),
            r = is_leader.wait_for(|l| *l) => if r.is_err() {
                return Err(HeadlessError::Campaign("the leader election stopped".into()));
            },
        }
        metrics.set_leader(true);
        synced_out.send_replace(false);
        tracing::info!(scopes = ?opts.scopes, "leading: starting the reconcile engine");

        // Every engine stops when the term ends or the process is asked to stop.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut syncs = Vec::new();
        let mut runs = Vec::new();
        for scope in &opts.scopes {
            let (tx, rx) = watch::channel(false);
            syncs.push(rx);
            let mut stop = stop_rx.clone();
            let stopped: BoxFuture<()> = Box::pin(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            let label = describe(scope);
            let fut = engine.run(client.clone(), scope.clone(), tx, stopped);
            runs.push(async move { fut.await.map_err(|e| (label, e.to_string())) });
        }
        let out = &synced_out;
        // Never completes: it only flips `/readyz` when every engine has synced.
        let all_synced = async move {
            let mut all = true;
            for mut rx in syncs {
                all &= rx.wait_for(|s| *s).await.is_ok();
            }
            if all {
                out.send_replace(true);
                tracing::info!("engine caches synced");
            }
            std::future::pending::<()>().await
        };
        let mut engines = Box::pin(join_all(runs));
        let term_end = tokio::select! {
            results = &mut engines => Some(results),
            _ = shutting_down.wait_for(|s| *s) => None,
            _ = is_leader.wait_for(|l| !*l) => None,
            _ = all_synced => None,
        };
        let results = match term_end {
            Some(results) => results,
            None => {
                // Stop taking work; the engines finish their in-flight reconciles before they return.
                tracing::info!("stopping the reconcile engine");
                stop_tx.send_replace(true);
                match tokio::time::timeout(opts.shutdown_grace, engines).await {
                    Ok(results) => results,
                    Err(_) => {
                        metrics.set_leader(false);
                        tracing::error!(grace = ?opts.shutdown_grace, "the engine did not stop in time; abandoning it");
                        return Err(HeadlessError::StopTimeout(opts.shutdown_grace));
                    }
                }
            }
        };
        metrics.set_leader(false);
        // A later term starts unsynced, and readiness must not see this term's caches as its own.
        synced_out.send_replace(false);
        for result in results {
            if let Err((scope, reason)) = result {
                return Err(HeadlessError::Engine { scope, reason });
            }
        }
        if *shutting_down.borrow() {
            return Ok(());
        }
        if *is_leader.borrow() {
            // The engines returned by themselves while we still lead: nothing would reconcile, so leave and let
            // a restart (or a follower) take over.
            return Err(HeadlessError::Engine {
                scope: opts.scopes.iter().map(describe).collect::<Vec<_>>().join(", "),
                reason: "it returned without being asked to stop".into(),
            });
        }
        tracing::warn!("lost the lease: the engine stopped, following again");
    }
}

/// Resolves on SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops dbdeck");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_are_ready_and_leaders_wait_for_the_engine() {
        assert!(readiness(false, false, false).is_some());
        assert_eq!(readiness(true, false, false), None);
        assert!(readiness(true, true, false).unwrap().contains("synced"));
        assert_eq!(readiness(true, true, true), None);
    }
}
