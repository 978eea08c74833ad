//! The engine tests' harness: an in-process sandbox with six simulated nodes and the CRDs, the
//! engine running on a client that counts its write requests, and restarts of that engine.
//!
//! Use from a test file with `#[path = "support/engine_env.rs"] mod engine_env;` and add the
//! kind's own helpers in an `impl Env` block there.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dbdeck::engine::metrics::EngineMetrics;
use dbdeck::engine::{EngineConfig, run};
use dbdeck::observe::live::Scope;
use dbdeck::sandbox::controllers::ControllerConfig;
use dbdeck::sandbox::serve::{self, RunningSandbox, ServeOptions};
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use kube::Client;
use tokio::sync::oneshot;

pub struct Env {
    pub sb: Sandbox,
    /// The test's own client (its requests are not counted).
    pub client: Client,
    /// Write requests (anything but GET) the engine sent.
    pub engine_writes: Arc<AtomicU64>,
    pub engine_client: Client,
    pub metrics: Arc<EngineMetrics>,
    pub stop: Option<oneshot::Sender<()>>,
    pub engine: Option<tokio::task::JoinHandle<()>>,
    /// The running engine's readiness (every controller's cache has its first full list): `/readyz`.
    pub ready: Arc<AtomicBool>,
    /// Set by [`Env::served`]: the sandbox's HTTPS listener, kept alive with the Env.
    pub served: Option<RunningSandbox>,
}

fn controllers() -> ControllerConfig {
    ControllerConfig {
        nodes: 6,
        start_delay: Duration::from_millis(40),
        job_duration: Duration::from_millis(80),
        resize_delay: Duration::from_millis(80),
        eviction_timeout: Some(Duration::from_millis(300)),
    }
}

impl Env {
    pub async fn new() -> Env {
        let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
        sb.start_controllers(controllers()).expect("controllers start");
        let client = Client::new(sb.router(), "default");
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
        let engine_writes = Arc::new(AtomicU64::new(0));
        let counter = engine_writes.clone();
        let svc = tower::ServiceBuilder::new()
            .map_request(move |r: http::Request<kube::client::Body>| {
                if r.method() != http::Method::GET {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                r
            })
            .service(sb.router());
        let engine_client = Client::new(svc, "default");
        let mut env = Env {
            sb,
            client,
            engine_writes,
            engine_client,
            metrics: Arc::new(EngineMetrics::default()),
            stop: None,
            engine: None,
            ready: Arc::new(AtomicBool::new(false)),
            served: None,
        };
        env.start_engine();
        env
    }

    /// Like [`Env::new`], but the sandbox serves HTTPS on a loopback port and every client goes through it,
    /// as kubectl or a remote engine would: the port-forward subresource (a WebSocket upgrade) the engine uses
    /// to reach pods cannot pass through the in-process router. The engine's writes are counted as in `new`.
    pub async fn served() -> Env {
        let opts = ServeOptions { controllers: Some(controllers()), ..ServeOptions::private() };
        let running = serve::start(opts).await.expect("sandbox serves");
        let client = running.client().await.expect("client");
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
        let engine_writes = Arc::new(AtomicU64::new(0));
        let counter = engine_writes.clone();
        let count = tower::util::MapRequestLayer::new(move |r: http::Request<kube::client::Body>| {
            if r.method() != http::Method::GET {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            r
        });
        let config = running.client_config().await.expect("client config");
        let engine_client =
            kube::client::ClientBuilder::try_from(config).expect("client builder").with_layer(&count).build();
        let mut env = Env {
            sb: running.sandbox.clone(),
            client,
            engine_writes,
            engine_client,
            metrics: Arc::new(EngineMetrics::default()),
            stop: None,
            engine: None,
            ready: Arc::new(AtomicBool::new(false)),
            served: Some(running),
        };
        env.start_engine();
        env
    }

    pub fn start_engine(&mut self) {
        let (tx, rx) = oneshot::channel();
        self.ready = Arc::new(AtomicBool::new(false));
        let config = EngineConfig {
            scope: Scope::Namespace("default".into()),
            metrics: Some(self.metrics.clone()),
            ready: self.ready.clone(),
            ..Default::default()
        };
        let client = self.engine_client.clone();
        self.engine = Some(tokio::spawn(async move {
            run(client, config, async move {
                let _ = rx.await;
            })
            .await
            .expect("engine runs");
        }));
        self.stop = Some(tx);
    }

    pub async fn stop_engine(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.engine.take() {
            tokio::time::timeout(Duration::from_secs(10), h).await.expect("engine stops in time").unwrap();
        }
    }
}

/// How long the engine tests wait for anything the engine converges to.
pub const DEADLINE: Duration = Duration::from_secs(40);

/// Polls `f` every 50 ms until it gives a value; fails the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A JSON merge of `patch` into `base` (objects merged key by key, anything else replaced).
pub fn json_merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                json_merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[path = "big_stack.rs"]
mod big_stack;
#[allow(unused_imports)] // not every engine test file drives its own runtime
pub use big_stack::runtime;
