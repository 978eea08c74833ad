//! The real reconcile engine (`crate::engine::run`) behind the `Engine` seam operator mode uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::engine::metrics::EngineMetrics;
use crate::engine::{EngineConfig, EngineError};
use crate::observe::live::Scope;

use super::{BoxFuture, Engine, EngineFailure};

/// How often the engine's readiness flag is looked at: `/readyz` turns true at most this long after the sync.
const READY_POLL: Duration = Duration::from_millis(100);

/// One set of metrics across every scope and every term of leadership, so counters never go back to zero while
/// the process lives.
pub struct DbdeckEngine {
    pub metrics: Arc<EngineMetrics>,
    pub concurrency: u16,
}

impl Default for DbdeckEngine {
    fn default() -> Self {
        DbdeckEngine { metrics: Arc::new(EngineMetrics::default()), concurrency: EngineConfig::default().concurrency }
    }
}

impl Engine for DbdeckEngine {
    fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry.sub_registry_with_prefix("dbdeck"));
    }

    fn run(
        &self,
        client: kube::Client,
        scope: Scope,
        synced: watch::Sender<bool>,
        shutdown: BoxFuture<()>,
    ) -> BoxFuture<Result<(), EngineFailure>> {
        let ready = Arc::new(AtomicBool::new(false));
        let config = EngineConfig {
            scope,
            concurrency: self.concurrency,
            metrics: Some(self.metrics.clone()),
            ready: ready.clone(),
        };
        Box::pin(async move {
            let engine = crate::engine::run(client, config, shutdown);
            // The engine sets an atomic flag; `/readyz` reads a channel.
            let relay = async move {
                while !ready.load(Ordering::SeqCst) {
                    tokio::time::sleep(READY_POLL).await;
                }
                synced.send_replace(true);
                std::future::pending::<()>().await
            };
            tokio::select! {
                result = engine => result.map_err(|e: EngineError| Box::new(e) as EngineFailure),
                _ = relay => Ok(()),
            }
        })
    }
}
