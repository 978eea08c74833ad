//! `dbdeck bench sandbox`: request rates, watch fan-out latency and memory of the sandbox, over HTTPS on
//! loopback with kube-rs as the client (as kubectl and the engine use it).

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use super::rss_mib;
use crate::sandbox::serve::{ServeOptions, start};

/// Figures from one run.
#[derive(Debug, serde::Serialize)]
pub struct SandboxFigures {
    pub pods: usize,
    pub get_per_sec: f64,
    pub list_1000_per_sec: f64,
    pub watchers: usize,
    pub watch_fanout_ms: f64,
    pub objects_for_memory: usize,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

fn pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("bench-{i}"), "labels": {"app": "bench", "shard": (i % 10).to_string()}},
        "spec": {"containers": [{"name": "c", "image": "percona/percona-xtradb-cluster:8.0",
                  "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
    }))
    .unwrap_or_default()
}

/// Runs the sandbox benchmark for about `seconds` per rate measurement.
pub async fn run(seconds: u64) -> color_eyre::Result<SandboxFigures> {
    let state = tempfile_dir()?;
    let running =
        start(ServeOptions { kubeconfig_out: Some(state.join("kubeconfig")), ..ServeOptions::private() }).await?;
    let client = running.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let n = 1000;
    for i in 0..n {
        pods.create(&PostParams::default(), &pod(i)).await?;
    }

    // GET rate with 8 requests in flight.
    let window = Duration::from_secs(seconds);
    let start_t = Instant::now();
    let mut gets = 0usize;
    while start_t.elapsed() < window {
        let names: Vec<String> = (0..8).map(|k| format!("bench-{}", (gets + k) % n)).collect();
        let batch = futures::future::try_join_all(names.iter().map(|name| pods.get(name))).await?;
        gets += batch.len();
    }
    let get_per_sec = gets as f64 / start_t.elapsed().as_secs_f64();

    // LIST of all 1,000 pods (one page), sequentially.
    let start_t = Instant::now();
    let mut lists = 0usize;
    while start_t.elapsed() < window {
        let l = pods.list(&ListParams::default()).await?;
        if l.items.len() != n {
            color_eyre::eyre::bail!("LIST returned {} pods, expected {n}", l.items.len());
        }
        lists += 1;
    }
    let list_1000_per_sec = lists as f64 / start_t.elapsed().as_secs_f64();

    // 50 watchers, one change, time until all have it.
    let watchers = 50;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "fanout"}, "data": {"v": "0"}}))?;
    let created = cms.create(&PostParams::default(), &cm).await?;
    let rv = created.metadata.resource_version.clone().unwrap_or_default();
    let mut streams = Vec::new();
    for _ in 0..watchers {
        let wp = WatchParams::default().fields("metadata.name=fanout");
        streams.push(cms.watch(&wp, &rv).await?.boxed());
    }
    let t0 = Instant::now();
    cms.patch("fanout", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "1"}}))).await?;
    let waits = streams.into_iter().map(|mut s| async move {
        while let Some(ev) = s.try_next().await? {
            if let WatchEvent::Modified(_) = ev {
                return Ok::<Duration, kube::Error>(t0.elapsed());
            }
        }
        Ok(t0.elapsed())
    });
    let times = futures::future::try_join_all(waits).await?;
    let watch_fanout_ms = times.iter().max().copied().unwrap_or_default().as_secs_f64() * 1000.0;

    // Memory: 10,000 ConfigMaps of ~1 KiB each.
    let objects = 10_000;
    let rss_before = rss_mib();
    let payload = "x".repeat(1000);
    let mut in_flight = futures::stream::iter(0..objects)
        .map(|i| {
            let cms = cms.clone();
            let payload = payload.clone();
            async move {
                let cm: ConfigMap =
                    serde_json::from_value(json!({"metadata": {"name": format!("mem-{i}")}, "data": {"p": payload}}))
                        .unwrap_or_default();
                cms.create(&PostParams::default(), &cm).await.map(|_| ())
            }
        })
        .buffer_unordered(16);
    while let Some(r) = in_flight.next().await {
        r?;
    }
    let rss_after = rss_mib();
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&state);
    Ok(SandboxFigures {
        pods: n,
        get_per_sec,
        list_1000_per_sec,
        watchers,
        watch_fanout_ms,
        objects_for_memory: objects,
        rss_before_mib: rss_before,
        rss_after_mib: rss_after,
    })
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("dbdeck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
