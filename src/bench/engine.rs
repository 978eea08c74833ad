//! `dbdeck bench engine`: how fast the engine takes a PerconaXtraDBCluster from applied to ready, how many
//! API writes a reconcile costs (on create and when nothing changed), and the engine's memory with 100 and
//! 1,000 clusters. The sandbox runs as a separate `dbdeck sandbox` process, so this process's RSS is the
//! engine's (plus the client), not the API server's.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{WrapErr, bail, eyre};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use tokio::sync::oneshot;

use crate::api::pxc::PerconaXtraDBCluster;
use crate::engine::metrics::EngineMetrics;
use crate::engine::{EngineConfig, run as run_engine};
use crate::observe::live::Scope;

#[derive(Debug, serde::Serialize)]
pub struct EngineFigures {
    /// From creating one CR to its StatefulSets and PDBs (the last objects applied) existing.
    pub create_to_children_ms: f64,
    /// From creating one CR to `status.state: ready` (pods start after the sandbox's 300 ms delay).
    pub create_to_ready_ms: f64,
    /// API writes (non-GET requests) the engine made for that one cluster until it was ready.
    pub writes_until_ready: u64,
    /// Reconciles the engine ran for it meanwhile.
    pub reconciles_until_ready: u64,
    /// Writes of a full pass by a freshly started engine over `clusters_for_noop` ready clusters (the first
    /// count), nothing having changed.
    pub writes_on_noop_pass: u64,
    pub clusters_for_noop: usize,
    /// RSS of this process with the client only, then with the engine holding N clusters.
    pub rss_baseline_mib: f64,
    /// Per cluster count: `(clusters, RSS MiB with the engine running, seconds for its first pass)`.
    pub by_clusters: Vec<(usize, f64, f64)>,
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A small cluster: three Galera pods and two HAProxy pods with requests small enough that a thousand
/// clusters fit the sandbox's nodes.
fn cluster(name: &str) -> color_eyre::Result<PerconaXtraDBCluster> {
    let small = json!({"requests": {"cpu": "10m", "memory": "32Mi"}});
    Ok(serde_json::from_value(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "metadata": {"name": name},
        "spec": {
            "crVersion": "1.20.0",
            "pxc": {"size": 3, "resources": small, "image": "percona/percona-xtradb-cluster:8.4.7-7.1",
                    "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "1G"}}}}},
            "haproxy": {"enabled": true, "size": 2, "resources": small, "image": "percona/haproxy:2.8.17"}
        }
    }))?)
}

struct Engine {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

fn start(client: kube::Client, metrics: Arc<EngineMetrics>) -> Engine {
    let (stop, stopped) = oneshot::channel::<()>();
    let config = EngineConfig {
        scope: Scope::Namespace("default".into()),
        metrics: Some(metrics),
        concurrency: 16,
        ..Default::default()
    };
    let handle = tokio::spawn(async move {
        if let Err(e) = run_engine(client, config, async move {
            let _ = stopped.await;
        })
        .await
        {
            eprintln!("engine: {e}");
        }
    });
    Engine { stop, handle }
}

impl Engine {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut f: F) -> color_eyre::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let t = Instant::now();
    while !f().await {
        if t.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn sandbox_process(dir: &Path) -> color_eyre::Result<(tokio::process::Child, kube::Config)> {
    let exe = std::env::current_exe()?;
    let kubeconfig = dir.join("kubeconfig");
    let child = tokio::process::Command::new(exe)
        .args(["sandbox", "--nodes", "200", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .wrap_err("starting `dbdeck sandbox`")?;
    wait_for("the sandbox's kubeconfig", Duration::from_secs(30), || async { kubeconfig.exists() }).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok((child, config))
}

pub async fn run(counts: &[usize]) -> color_eyre::Result<EngineFigures> {
    let dir = std::env::temp_dir().join(format!("dbdeck-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (mut child, config) = sandbox_process(&dir).await?;
    let writes = Arc::new(AtomicU64::new(0));
    let counter = writes.clone();
    let client = kube::client::ClientBuilder::try_from(config.clone())?
        .with_layer(&tower::layer::layer_fn(move |svc| {
            let counter = counter.clone();
            tower::util::MapRequest::new(svc, move |r: http::Request<kube::client::Body>| {
                if r.method() != http::Method::GET {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                r
            })
        }))
        .build();
    let plain = kube::Client::try_from(config)?;
    crate::cmd::crd::apply_all(plain.clone()).await.map_err(|e| eyre!("installing CRDs: {e}"))?;
    let crs: Api<PerconaXtraDBCluster> = Api::namespaced(plain.clone(), "default");
    let rss_baseline_mib = rss_mib();

    // One cluster, timed from create.
    let metrics = Arc::new(EngineMetrics::default());
    let engine = start(client.clone(), metrics.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = writes.load(Ordering::Relaxed);
    let t0 = Instant::now();
    crs.create(&PostParams::default(), &cluster("bench-0")?).await?;
    let sts: Api<StatefulSet> = Api::namespaced(plain.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(plain.clone(), "default");
    let lp = ListParams::default().labels("app.kubernetes.io/instance=bench-0");
    if let Err(e) = wait_for("bench-0's children", Duration::from_secs(60), || async {
        sts.list(&lp).await.map(|l| l.items.len() == 2).unwrap_or(false)
            && pdbs.list(&lp).await.map(|l| l.items.len() == 2).unwrap_or(false)
    })
    .await
    {
        let status = crs.get("bench-0").await.ok().and_then(|c| c.status);
        bail!("{e}; bench-0 status: {status:?}; engine reconciles {}", metrics.total());
    }
    let create_to_children_ms = t0.elapsed().as_secs_f64() * 1000.0;
    wait_for("bench-0 to be ready", Duration::from_secs(120), || async {
        crs.get("bench-0").await.ok().and_then(|c| c.status?.state).as_deref() == Some("ready")
    })
    .await?;
    let create_to_ready_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let writes_until_ready = writes.load(Ordering::Relaxed) - before;
    let reconciles_until_ready = metrics.reconciles("PerconaXtraDBCluster");
    engine.stop().await;

    eprintln!(
        "bench engine: one cluster: children after {create_to_children_ms:.0} ms, ready after \
         {create_to_ready_ms:.0} ms, {writes_until_ready} writes"
    );

    // Memory and first-pass time with each count (clusters created while the engine is stopped). The no-op
    // pass runs at the first count: every cluster must be ready first, and the sandbox's simulated kubelets
    // start pods too slowly under a busy engine for thousands of pods to settle within a bench run.
    let mut by_clusters = Vec::new();
    let mut created = 1;
    let mut noop: Option<(u64, usize)> = None;
    for &target in counts {
        while created < target {
            crs.create(&PostParams::default(), &cluster(&format!("bench-{created}"))?).await?;
            created += 1;
        }
        let metrics = Arc::new(EngineMetrics::default());
        let t = Instant::now();
        let engine = start(client.clone(), metrics.clone());
        wait_for(&format!("a first pass over {target} clusters"), Duration::from_secs(1800), || async {
            metrics.reconciles("PerconaXtraDBCluster") >= target as u64
        })
        .await?;
        let pass = t.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_mib();
        eprintln!("bench engine: {target} clusters: first pass {pass:.1} s, RSS {rss:.1} MiB");
        by_clusters.push((target, rss, pass));
        if noop.is_some() {
            engine.stop().await;
            continue;
        }
        // The engine keeps running until every cluster is ready; then a fresh engine's pass is counted.
        let t = Instant::now();
        wait_for("every cluster to be ready", Duration::from_secs(1800), || async {
            crs.list(&ListParams::default())
                .await
                .map(|l| l.items.iter().all(|c| c.status.as_ref().and_then(|s| s.state.as_deref()) == Some("ready")))
                .unwrap_or(false)
        })
        .await?;
        eprintln!("bench engine: {target} clusters ready after {:.0} s", t.elapsed().as_secs_f64());
        engine.stop().await;
        let metrics = Arc::new(EngineMetrics::default());
        let before = writes.load(Ordering::Relaxed);
        let engine = start(client.clone(), metrics.clone());
        wait_for("the no-op pass", Duration::from_secs(1800), || async {
            metrics.reconciles("PerconaXtraDBCluster") >= created as u64 && metrics.in_flight() == 0
        })
        .await?;
        let w = writes.load(Ordering::Relaxed) - before;
        eprintln!("bench engine: no-op pass over {created} ready clusters: {w} writes");
        noop = Some((w, created));
        engine.stop().await;
    }
    let (writes_on_noop_pass, clusters_for_noop) = noop.unwrap_or((0, 0));
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);

    Ok(EngineFigures {
        create_to_children_ms,
        create_to_ready_ms,
        writes_until_ready,
        reconciles_until_ready,
        writes_on_noop_pass,
        clusters_for_noop,
        rss_baseline_mib,
        by_clusters,
    })
}
