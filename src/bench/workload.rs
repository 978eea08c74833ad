//! `dbdeck bench sandbox --workload-pods N`: the simulated cluster at the size of ~300 database clusters.
//!
//! StatefulSets of three replicas (each pod with one PVC from a volumeClaimTemplate and required anti-affinity on
//! the hostname, as Percona's database pods have) are created over HTTPS; the figures are the time until every pod
//! is Ready, then GET/LIST/watch latencies while the sandbox holds them all, and the process's RSS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

use super::{Latency, rss_mib};
use crate::sandbox::controllers::ControllerConfig;
use crate::sandbox::serve::{ServeOptions, start};

/// Pods per StatefulSet: a three-member database cluster.
const REPLICAS: usize = 3;
/// The simulated nodes (8 CPU and 110 pods each): room for 4,400 pods of 50m CPU.
const NODES: usize = 40;
/// How long the whole scenario may take to become Ready before it is reported as a failure.
const READY_DEADLINE: Duration = Duration::from_secs(900);
/// How often progress goes to standard error while waiting.
const PROGRESS: Duration = Duration::from_secs(10);

#[derive(Debug, serde::Serialize)]
pub struct WorkloadFigures {
    pub statefulsets: usize,
    pub pods: usize,
    pub pvcs_bound: usize,
    pub nodes: usize,
    /// Time to create every StatefulSet (16 requests in flight).
    pub create_s: f64,
    /// From the first create to every pod Ready (as seen by a kube-rs watcher).
    pub all_ready_s: f64,
    pub get_pod: Latency,
    pub list_all_pods: Latency,
    pub list_all_pvcs: Latency,
    /// LIST with a label selector matching one StatefulSet's three pods.
    pub list_selector: Latency,
    /// A pod annotation patched, until a watch on that StatefulSet's pods sees it.
    pub watch_selector: Latency,
    /// The same, for a watch on every pod of the namespace.
    pub watch_all: Latency,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("sandbox: {0}")]
    Serve(#[from] crate::sandbox::serve::ServeError),
    #[error("API request: {0}")]
    Kube(#[from] kube::Error),
    #[error("pod watch: {0}")]
    Watch(#[from] watcher::Error),
    #[error("only {ready} of {want} pods were Ready after {secs}s")]
    NotReady { ready: usize, want: usize, secs: u64 },
    #[error("{what}: got {got}, expected {want}")]
    Count { what: &'static str, got: usize, want: usize },
    #[error("the watch ended before it saw the change to {0}")]
    WatchEnded(String),
}

fn statefulset(i: usize) -> StatefulSet {
    let name = format!("db{i:04}");
    let labels = json!({"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "mysql"});
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": REPLICAS, "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}
                    ]}},
                    "containers": [{"name": "mysql", "image": "percona/percona-server:8.4",
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                        "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/mysql"}]}]
                }
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "datadir"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    }))
    .unwrap_or_default()
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Follows every pod with a kube-rs watcher until `want` of them are Ready.
async fn wait_all_ready(pods: Api<Pod>, want: usize) -> Result<(), WorkloadError> {
    // Pod name → (bound to a node, Ready).
    let mut ready: HashMap<String, (bool, bool)> = HashMap::new();
    let mut stream = watcher(pods, watcher::Config::default()).boxed();
    let mut count = 0;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + READY_DEADLINE;
    let mut next_report = Instant::now() + PROGRESS;
    while count < want {
        if Instant::now() >= next_report {
            next_report += PROGRESS;
            let bound = ready.values().filter(|(b, _)| *b).count();
            eprintln!(
                "bench: {:>4.0}s  pods {} · bound {bound} · ready {count} of {want}",
                started.elapsed().as_secs_f64(),
                ready.len()
            );
        }
        let ev = match tokio::time::timeout_at(deadline, stream.try_next()).await {
            Ok(ev) => ev?,
            Err(_) => return Err(WorkloadError::NotReady { ready: count, want, secs: READY_DEADLINE.as_secs() }),
        };
        let Some(ev) = ev else { break };
        match ev {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                let bound = p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
                ready.insert(p.metadata.name.clone().unwrap_or_default(), (bound, pod_ready(&p)));
            }
            watcher::Event::Delete(p) => {
                ready.remove(&p.metadata.name.clone().unwrap_or_default());
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
        count = ready.values().filter(|(_, r)| *r).count();
    }
    if count < want {
        return Err(WorkloadError::NotReady { ready: count, want, secs: READY_DEADLINE.as_secs() });
    }
    Ok(())
}

/// Patches an annotation on `pod` and returns how long until `watch` (opened before the patch) delivers it.
async fn watch_round(
    pods: &Api<Pod>,
    pod: &str,
    params: &WatchParams,
    round: usize,
) -> Result<Duration, WorkloadError> {
    // From the collection's current version: a pod's own version may be older than the watch history kept.
    let rv = pods.list_metadata(&ListParams::default().limit(1)).await?.metadata.resource_version.unwrap_or_default();
    let mut stream = pods.watch(params, &rv).await?.boxed();
    let value = round.to_string();
    let t0 = Instant::now();
    let patch = json!({"metadata": {"annotations": {"bench.dbdeck.io/round": value}}});
    pods.patch(pod, &PatchParams::default(), &Patch::Merge(patch)).await?;
    while let Some(ev) = stream.try_next().await? {
        if let WatchEvent::Modified(p) = ev
            && p.metadata.name.as_deref() == Some(pod)
            && p.metadata.annotations.as_ref().and_then(|a| a.get("bench.dbdeck.io/round")) == Some(&value)
        {
            return Ok(t0.elapsed());
        }
    }
    Err(WorkloadError::WatchEnded(pod.to_string()))
}

/// Runs the scenario with `pods` pods (rounded up to whole StatefulSets of three).
pub async fn run(pods_wanted: usize) -> Result<WorkloadFigures, WorkloadError> {
    let sets = pods_wanted.div_ceil(REPLICAS).max(1);
    let want = sets * REPLICAS;
    let controllers = ControllerConfig { nodes: NODES, ..Default::default() };
    let running = start(ServeOptions { controllers: Some(controllers), ..ServeOptions::private() }).await?;
    let outcome = scenario(&running.client().await?, sets, want).await;
    running.shutdown().await;
    outcome
}

async fn scenario(client: &kube::Client, sets: usize, want: usize) -> Result<WorkloadFigures, WorkloadError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let rss_before = rss_mib();

    let t0 = Instant::now();
    let ready = tokio::spawn(wait_all_ready(pods.clone(), want));
    let mut creates = futures::stream::iter(0..sets)
        .map(|i| {
            let sts = sts.clone();
            async move { sts.create(&PostParams::default(), &statefulset(i)).await.map(|_| ()) }
        })
        .buffer_unordered(16);
    while let Some(r) = creates.next().await {
        r?;
    }
    let create_s = t0.elapsed().as_secs_f64();
    match ready.await {
        Ok(r) => r?,
        Err(e) => return Err(WorkloadError::WatchEnded(format!("the readiness watcher task ({e})"))),
    }
    let all_ready_s = t0.elapsed().as_secs_f64();

    let bound = pvcs
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
        .count();
    if bound != want {
        return Err(WorkloadError::Count { what: "Bound PVCs", got: bound, want });
    }

    // Latencies at full size. The pods are picked spread over the StatefulSets.
    let pick = |k: usize| format!("db{:04}-{}", (k * 7919) % sets, k % REPLICAS);
    let mut get_pod = Vec::new();
    for k in 0..300 {
        let t = Instant::now();
        pods.get(&pick(k)).await?;
        get_pod.push(t.elapsed());
    }
    let mut list_all_pods = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let n = pods.list(&ListParams::default()).await?.items.len();
        list_all_pods.push(t.elapsed());
        if n != want {
            return Err(WorkloadError::Count { what: "pods listed", got: n, want });
        }
    }
    let mut list_all_pvcs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        pvcs.list(&ListParams::default()).await?;
        list_all_pvcs.push(t.elapsed());
    }
    let mut list_selector = Vec::new();
    for k in 0..100 {
        let selector = format!("app.kubernetes.io/instance=db{:04}", (k * 7919) % sets);
        let t = Instant::now();
        let n = pods.list(&ListParams::default().labels(&selector)).await?.items.len();
        list_selector.push(t.elapsed());
        if n != REPLICAS {
            return Err(WorkloadError::Count { what: "pods of one StatefulSet", got: n, want: REPLICAS });
        }
    }
    let mut watch_selector = Vec::new();
    let mut watch_all = Vec::new();
    for k in 0..20 {
        let pod = pick(k);
        let set = pod.rsplit_once('-').map(|(s, _)| s.to_string()).unwrap_or_default();
        let by_label = WatchParams::default().labels(&format!("app.kubernetes.io/instance={set}"));
        watch_selector.push(watch_round(&pods, &pod, &by_label, 2 * k).await?);
        watch_all.push(watch_round(&pods, &pod, &WatchParams::default(), 2 * k + 1).await?);
    }

    Ok(WorkloadFigures {
        statefulsets: sets,
        pods: want,
        pvcs_bound: bound,
        nodes: NODES,
        create_s,
        all_ready_s,
        get_pod: Latency::of(get_pod),
        list_all_pods: Latency::of(list_all_pods),
        list_all_pvcs: Latency::of(list_all_pvcs),
        list_selector: Latency::of(list_selector),
        watch_selector: Latency::of(watch_selector),
        watch_all: Latency::of(watch_all),
        rss_before_mib: rss_before,
        rss_after_mib: rss_mib(),
    })
}
