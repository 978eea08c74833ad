//! Live cluster views: kube-runtime reflectors (watches, not polling) over the nine custom resources, pods, PVCs,
//! nodes and events, and one task that rebuilds `Vec<ClusterView>` after changes settle and publishes it on a
//! `tokio::sync::watch` channel. A watch that fails marks the snapshot `lost`; the watcher's backoff retries
//! by itself and the flag clears with the next good event.
//!
//! A second task probes the databases every few seconds with a [`Collector`] and hands its readings to the
//! builder, which merges the latest ones into every snapshot; probing never holds up a snapshot.
//!
//! `list_world` reads the same objects once, for `dbdeck status`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::build::{World, build_all};
use super::collect::{Collector, CollectorConfig, Readings};
use super::view::ClusterView;
use crate::api::{pg, ps, pxc};

/// Changes closer together than this are folded into one rebuild.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How the live task probes the databases.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `None` switches probing off; members then say they were not probed.
    pub probe: Option<CollectorConfig>,
    /// Time between the start of one probe round and the next.
    pub probe_every: Duration,
    /// Longest one round may take; members not read by then say so.
    pub probe_deadline: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            probe: Some(CollectorConfig::default()),
            probe_every: Duration::from_secs(5),
            probe_deadline: Duration::from_secs(10),
        }
    }
}

/// Which namespaces to watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

/// What the console renders: the views, and whether the watches are healthy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub clusters: Vec<ClusterView>,
    /// Every watch has delivered its first full list.
    pub synced: bool,
    /// Why the connection is lost (a watch failing), while it is.
    pub lost: Option<String>,
}

/// Why the clusters cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "the Percona custom resource definitions are not installed in this cluster (missing: {}); \
         install them with `dbdeck crd --apply`",
        missing.join(", ")
    )]
    MissingCrds { missing: Vec<String> },
    #[error("cannot reach the Kubernetes API server: {0}")]
    Unreachable(String),
    #[error("listing {resource}: {source}")]
    Api { resource: String, source: kube::Error },
}

/// The role of a custom resource in a cluster view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CrRole {
    Cluster,
    Backup,
    Restore,
}

fn custom_resources() -> Vec<(ApiResource, CrRole)> {
    use kube::Resource;
    fn ar<K: Resource<DynamicType = ()>>() -> ApiResource {
        ApiResource::erase::<K>(&())
    }
    vec![
        (ar::<pxc::PerconaXtraDBCluster>(), CrRole::Cluster),
        (ar::<pxc::PerconaXtraDBClusterBackup>(), CrRole::Backup),
        (ar::<pxc::PerconaXtraDBClusterRestore>(), CrRole::Restore),
        (ar::<ps::PerconaServerMySQL>(), CrRole::Cluster),
        (ar::<ps::PerconaServerMySQLBackup>(), CrRole::Backup),
        (ar::<ps::PerconaServerMySQLRestore>(), CrRole::Restore),
        (ar::<pg::PerconaPGCluster>(), CrRole::Cluster),
        (ar::<pg::PerconaPGBackup>(), CrRole::Backup),
        (ar::<pg::PerconaPGRestore>(), CrRole::Restore),
    ]
}

fn dyn_api(client: &kube::Client, scope: &Scope, ar: &ApiResource) -> Api<DynamicObject> {
    match scope {
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, ar),
        Scope::All => Api::all_with(client.clone(), ar),
    }
}

fn typed_api<K>(client: &kube::Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
        Scope::All => Api::all(client.clone()),
    }
}

/// A custom resource as JSON with its apiVersion and kind (list items may come without them).
fn cr_value(obj: &DynamicObject, ar: &ApiResource) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        m.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    v
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// An error with the causes under it (`client error (Connect): tcp connect error: Connection refused`): the top
/// line alone does not say whether the port is closed, the name unknown or the certificate refused.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = c.source();
    }
    text
}

/// Checks that the API answers and the nine CRDs are served, before anything watches them.
pub async fn preflight(client: &kube::Client, scope: &Scope) -> Result<(), LiveError> {
    let mut missing = Vec::new();
    for (ar, _) in custom_resources() {
        match dyn_api(client, scope, &ar).list(&ListParams::default().limit(1)).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => missing.push(format!("{}.{}", ar.plural, ar.group)),
            Err(kube::Error::Api(s)) => {
                return Err(LiveError::Api {
                    resource: format!("{}.{}", ar.plural, ar.group),
                    source: kube::Error::Api(s),
                });
            }
            Err(e) => return Err(LiveError::Unreachable(with_causes(&e))),
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(LiveError::MissingCrds { missing }) }
}

/// Lists every object the views need, once.
pub async fn list_world(client: &kube::Client, scope: &Scope) -> Result<World, LiveError> {
    preflight(client, scope).await?;
    let mut world = World::default();
    for (ar, role) in custom_resources() {
        let list = dyn_api(client, scope, &ar)
            .list(&ListParams::default())
            .await
            .map_err(|source| LiveError::Api { resource: format!("{}.{}", ar.plural, ar.group), source })?;
        let values = list.items.iter().map(|o| cr_value(o, &ar));
        match role {
            CrRole::Cluster => world.clusters.extend(values),
            CrRole::Backup => world.backups.extend(values),
            CrRole::Restore => world.restores.extend(values),
        }
    }
    let api_err = |resource: &str| {
        let resource = resource.to_string();
        move |source| LiveError::Api { resource, source }
    };
    let lp = ListParams::default();
    world.pods = typed_api::<Pod>(client, scope).list(&lp).await.map_err(api_err("pods"))?.items;
    world.pvcs = typed_api::<PersistentVolumeClaim>(client, scope)
        .list(&lp)
        .await
        .map_err(api_err("persistentvolumeclaims"))?
        .items;
    world.events = typed_api::<Event>(client, scope).list(&lp).await.map_err(api_err("events"))?.items;
    // Nodes only add zones; a namespaced user who may not list them still gets everything else.
    world.nodes = match Api::<Node>::all(client.clone()).list(&lp).await {
        Ok(l) => l.items,
        Err(e) => {
            tracing::debug!("nodes not listed, zones stay unknown: {e}");
            Vec::new()
        }
    };
    Ok(world)
}

/// News from one watch (or the prober) to the builder.
enum Signal {
    Changed,
    Probed(Arc<Readings>),
    Synced(usize),
    Failed(usize, String),
    Recovered(usize),
}

/// The reflectors' caches.
struct Stores {
    crs: Vec<(ApiResource, CrRole, Store<DynamicObject>)>,
    pods: Store<Pod>,
    pvcs: Store<PersistentVolumeClaim>,
    nodes: Store<Node>,
    events: Store<Event>,
}

fn owned<K: Clone>(v: Vec<Arc<K>>) -> Vec<K> {
    v.into_iter().map(|a| (*a).clone()).collect()
}

impl Stores {
    fn world(&self) -> World {
        let mut w = World::default();
        for (ar, role, store) in &self.crs {
            let values = store.state().into_iter().map(|o| cr_value(&o, ar));
            match role {
                CrRole::Cluster => w.clusters.extend(values),
                CrRole::Backup => w.backups.extend(values),
                CrRole::Restore => w.restores.extend(values),
            }
        }
        w.pods = owned(self.pods.state());
        w.pvcs = owned(self.pvcs.state());
        w.nodes = owned(self.nodes.state());
        w.events = owned(self.events.state());
        w
    }
}

/// The running watches; dropping it stops them.
pub struct Live {
    pub snapshots: watch::Receiver<Snapshot>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Longest pause between two attempts of a failing watch: a console should notice a server that is back within
/// seconds (kube's default backoff, made for controllers, waits up to 30 s).
const RETRY_MAX: Duration = Duration::from_secs(4);
/// How often a failing watch asks the server whether it answers again, and how long one ask may take.
const RECHECK_EVERY: Duration = Duration::from_secs(1);
const RECHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Doubling from 250 ms to [`RETRY_MAX`]; one console against one server needs no jitter.
struct RetryBackoff {
    next: Duration,
}

impl RetryBackoff {
    fn new() -> Self {
        RetryBackoff { next: Duration::from_millis(250) }
    }
}

impl Iterator for RetryBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (self.next * 2).min(RETRY_MAX);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for RetryBackoff {
    fn reset(&mut self) {
        *self = RetryBackoff::new();
    }
}

/// A watch stream that waits `backoff` after an error before trying again — except after 410 Gone: the
/// server's history no longer has the watch's resourceVersion, the watcher has dropped it and lists afresh on
/// the next poll, so a wait there only keeps the cache stale longer. (kube's `StreamBackoff` waits after every
/// error; several watches expired at once then add their waits up.)
pub fn backoff_except_desync<K, S, B>(
    stream: S,
    backoff: B,
) -> impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    B: kube::runtime::utils::Backoff + Send + 'static,
{
    futures::stream::unfold(
        (Box::pin(stream), backoff, None::<Duration>),
        |(mut stream, mut backoff, wait)| async move {
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            let item = stream.next().await?;
            let wait = match &item {
                Ok(_) => {
                    backoff.reset();
                    None
                }
                Err(e) if is_desync(e) => None,
                Err(_) => Some(backoff.next().unwrap_or(RETRY_MAX)),
            };
            Some((item, (stream, backoff, wait)))
        },
    )
}

/// The watch was told its resourceVersion is too old (410 Gone / Expired): only a new list helps.
pub fn is_desync(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::WatchError(s) if s.code == 410)
}

/// Drives one reflector and reports what it sees. `quiet` watches (nodes) never flag the connection.
///
/// A watch that fails resumes from its last resourceVersion and then yields nothing until an object changes, so
/// on a quiet cluster no event would ever say the server is back: while failing, the task also lists one object
/// every [`RECHECK_EVERY`] and reports the recovery as soon as the server answers.
fn spawn_watch<K>(
    index: usize,
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    tx: mpsc::UnboundedSender<Signal>,
    quiet: bool,
) -> JoinHandle<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    tokio::spawn(async move {
        let mut failing = false;
        let check = api.clone();
        let stream =
            backoff_except_desync(watcher(api, watcher::Config::default()), RetryBackoff::new()).reflect(writer);
        futures::pin_mut!(stream);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let item = tokio::select! {
                item = stream.next() => match item {
                    Some(item) => item,
                    None => break,
                },
                _ = recheck.tick(), if failing => {
                    let answered = tokio::time::timeout(RECHECK_TIMEOUT, check.list(&ListParams::default().limit(1)))
                        .await
                        .is_ok_and(|r| r.is_ok());
                    if answered {
                        failing = false;
                        if tx.send(Signal::Recovered(index)).is_err() {
                            break;
                        }
                    }
                    continue;
                }
            };
            let signal = match item {
                Ok(ev) => {
                    if failing {
                        failing = false;
                        let _ = tx.send(Signal::Recovered(index));
                    }
                    match ev {
                        watcher::Event::InitDone => Signal::Synced(index),
                        watcher::Event::Init | watcher::Event::InitApply(_) => continue,
                        _ => Signal::Changed,
                    }
                }
                Err(e) if quiet => {
                    tracing::debug!("watch {index} failed (ignored): {e}");
                    // Nodes only add zones: count it as synced so the console does not wait for it.
                    Signal::Synced(index)
                }
                // The server dropped the watch's place in its history: the watcher lists again at once.
                Err(e) if is_desync(&e) => {
                    tracing::debug!("watch {index} expired; listing again: {e}");
                    continue;
                }
                Err(e) => {
                    tracing::warn!("watch {index} failed, retrying: {e}");
                    failing = true;
                    Signal::Failed(index, e.to_string())
                }
            };
            if tx.send(signal).is_err() {
                break;
            }
        }
    })
}

fn spawn_dyn_watch(
    index: usize,
    api: Api<DynamicObject>,
    ar: ApiResource,
    tx: mpsc::UnboundedSender<Signal>,
) -> (Store<DynamicObject>, JoinHandle<()>) {
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    (reader, spawn_watch(index, api, writer, tx, false))
}

fn spawn_typed_watch<K>(
    index: usize,
    api: Api<K>,
    tx: mpsc::UnboundedSender<Signal>,
    quiet: bool,
) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    (reader, spawn_watch(index, api, writer, tx, quiet))
}

/// Starts the watches, the builder and the database prober with default options. The first snapshot is empty and
/// not `synced`.
pub fn start(client: kube::Client, scope: Scope) -> Live {
    start_with(client, scope, LiveOptions::default())
}

/// Probes the databases of the current clusters every `opts.probe_every`, once the watches have synced.
fn spawn_prober(
    client: kube::Client,
    config: CollectorConfig,
    opts: LiveOptions,
    stores: Arc<Stores>,
    snapshots: watch::Receiver<Snapshot>,
    tx: mpsc::UnboundedSender<Signal>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut synced = snapshots;
        if synced.wait_for(|s| s.synced).await.is_err() {
            return;
        }
        let collector = Collector::new(client, config);
        let mut ticks = tokio::time::interval(opts.probe_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let world = stores.world();
            let views = build_all(&world, Utc::now());
            let readings = collector.collect(&world, &views, Some(opts.probe_deadline)).await;
            if tx.send(Signal::Probed(Arc::new(readings))).is_err() {
                break;
            }
        }
    })
}

/// Starts the watches, the builder and (unless switched off) the database prober.
pub fn start_with(client: kube::Client, scope: Scope, opts: LiveOptions) -> Live {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let mut crs = Vec::new();
    for (i, (ar, role)) in custom_resources().into_iter().enumerate() {
        let (store, task) = spawn_dyn_watch(i, dyn_api(&client, &scope, &ar), ar.clone(), tx.clone());
        crs.push((ar, role, store));
        tasks.push(task);
    }
    let base = crs.len();
    let (pods, t) = spawn_typed_watch(base, typed_api::<Pod>(&client, &scope), tx.clone(), false);
    tasks.push(t);
    let (pvcs, t) = spawn_typed_watch(base + 1, typed_api::<PersistentVolumeClaim>(&client, &scope), tx.clone(), false);
    tasks.push(t);
    let (events, t) = spawn_typed_watch(base + 2, typed_api::<Event>(&client, &scope), tx.clone(), false);
    tasks.push(t);
    let (nodes, t) = spawn_typed_watch(base + 3, Api::<Node>::all(client.clone()), tx.clone(), true);
    tasks.push(t);
    let watches = base + 4;
    let stores = Arc::new(Stores { crs, pods, pvcs, nodes, events });

    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    if let Some(config) = opts.probe.clone() {
        tasks.push(spawn_prober(client.clone(), config, opts.clone(), stores.clone(), snap_rx.clone(), tx.clone()));
    }
    drop(tx);
    let probing = opts.probe.is_some();
    tasks.push(tokio::spawn(async move {
        let mut synced = vec![false; watches];
        let mut failed: BTreeMap<usize, String> = BTreeMap::new();
        let mut readings: Option<Arc<Readings>> = None;
        while let Some(first) = rx.recv().await {
            let mut apply = |s: Signal| match s {
                Signal::Changed => {}
                Signal::Probed(r) => readings = Some(r),
                Signal::Synced(i) => synced[i] = true,
                Signal::Failed(i, e) => {
                    failed.insert(i, e);
                }
                Signal::Recovered(i) => {
                    failed.remove(&i);
                }
            };
            apply(first);
            // Fold the burst that usually follows one change (pod, PVC, status) into one rebuild.
            let deadline = tokio::time::Instant::now() + DEBOUNCE;
            while let Ok(Some(s)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                apply(s);
            }
            let mut clusters = build_all(&stores.world(), Utc::now());
            match &readings {
                Some(r) => r.apply(&mut clusters),
                None if !probing => {
                    clusters.iter_mut().for_each(|c| super::merge::mark_unprobed(c, "not probed: probing is off"))
                }
                None => {}
            }
            let snapshot =
                Snapshot { clusters, synced: synced.iter().all(|s| *s), lost: failed.values().next().cloned() };
            if snap_tx.send(snapshot).is_err() {
                break;
            }
        }
    }));
    Live { snapshots: snap_rx, tasks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nine_kinds_are_watched_by_role() {
        let crs = custom_resources();
        assert_eq!(crs.len(), 9);
        assert_eq!(crs.iter().filter(|(_, r)| *r == CrRole::Cluster).count(), 3);
        let cluster_kinds: Vec<_> =
            crs.iter().filter(|(_, r)| *r == CrRole::Cluster).map(|(a, _)| a.kind.as_str()).collect();
        assert_eq!(cluster_kinds, ["PerconaXtraDBCluster", "PerconaServerMySQL", "PerconaPGCluster"]);
    }

    #[test]
    fn list_items_get_their_type_back() {
        let ar = custom_resources().remove(0).0;
        let obj: DynamicObject =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "c"}, "spec": {}})).unwrap();
        let v = cr_value(&obj, &ar);
        assert_eq!(v["kind"], "PerconaXtraDBCluster");
        assert_eq!(v["apiVersion"], "pxc.percona.com/v1");
        assert_eq!(v["metadata"]["name"], "c");
    }

    /// Against an in-process sandbox: missing CRDs are a distinct error; after installing them the watches sync,
    /// a created cluster appears in a snapshot and its deletion takes it away again.
    #[tokio::test]
    async fn watches_follow_the_sandbox() {
        let sandbox = crate::sandbox::serve::start(crate::sandbox::serve::ServeOptions::private()).await.unwrap();
        let client = kube::Client::try_from(sandbox.client_config().await.unwrap()).unwrap();
        let scope = Scope::Namespace("default".into());
        assert!(
            matches!(preflight(&client, &scope).await, Err(LiveError::MissingCrds { missing }) if missing.len() == 9)
        );
        crate::cmd::crd::apply_all(client.clone()).await.unwrap();
        preflight(&client, &scope).await.unwrap();

        let live = start(client.clone(), scope.clone());
        let mut rx = live.snapshots.clone();
        let wait = |rx: &mut watch::Receiver<Snapshot>, f: fn(&Snapshot) -> bool| {
            let mut rx = rx.clone();
            async move { tokio::time::timeout(Duration::from_secs(20), rx.wait_for(f)).await.unwrap().unwrap().clone() }
        };
        wait(&mut rx, |s| s.synced).await;
        let ar = custom_resources().remove(0).0;
        let api = dyn_api(&client, &scope, &ar);
        let cr: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
            "metadata": {"name": "live1"}, "spec": {"pxc": {"size": 3}}
        }))
        .unwrap();
        api.create(&Default::default(), &cr).await.unwrap();
        let s = wait(&mut rx, |s| s.clusters.iter().any(|c| c.name == "live1")).await;
        assert_eq!(s.clusters.len(), 1);
        assert_eq!(s.clusters[0].state_reason.as_deref(), Some(super::super::build::NO_OPERATOR));
        assert!(s.lost.is_none());
        let world = list_world(&client, &scope).await.unwrap();
        assert_eq!(world.clusters.len(), 1);
        api.delete("live1", &Default::default()).await.unwrap();
        wait(&mut rx, |s| s.clusters.is_empty()).await;
        drop(live);
        sandbox.shutdown().await;
    }
    /// Stop the server the watches use and start it again on the same address and state: the snapshot says the
    /// connection is lost, then recovers by itself although nothing changed in between (a resumed watch is silent).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_connection_recovers_when_the_server_is_back() {
        use crate::sandbox::serve::{ServeOptions, start as serve};
        let dir = tempfile::tempdir().unwrap();
        let opts = ServeOptions { state_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let sandbox = serve(opts.clone()).await.unwrap();
        let addr = sandbox.addr;
        let client = kube::Client::try_from(sandbox.client_config().await.unwrap()).unwrap();
        crate::cmd::crd::apply_all(client.clone()).await.unwrap();
        let live =
            start_with(client, Scope::Namespace("default".into()), LiveOptions { probe: None, ..Default::default() });
        let mut rx = live.snapshots.clone();
        let within = Duration::from_secs(20);
        tokio::time::timeout(within, rx.wait_for(|s| s.synced && s.lost.is_none())).await.unwrap().unwrap();

        sandbox.shutdown().await;
        tokio::time::timeout(within, rx.wait_for(|s| s.lost.is_some())).await.expect("lost flagged").unwrap();

        let again = serve(ServeOptions { listen: Some(addr), ..opts }).await.unwrap();
        tokio::time::timeout(within, rx.wait_for(|s| s.lost.is_none())).await.expect("recovered by itself").unwrap();
        drop(live);
        again.shutdown().await;
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    use crate::observe::view::LagView;
    use kube::api::{Patch, PatchParams, PostParams};

    /// The background prober runs on its own schedule and its readings reach the snapshots; switched off, the
    /// members say so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_carry_the_probe_readings() {
        let sandbox = crate::sandbox::serve::start(crate::sandbox::serve::ServeOptions::private()).await.unwrap();
        let client = kube::Client::try_from(sandbox.client_config().await.unwrap()).unwrap();
        crate::cmd::crd::apply_all(client.clone()).await.unwrap();
        let ar = custom_resources().remove(3).0;
        assert_eq!(ar.kind, "PerconaServerMySQL");
        let cr: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
            "metadata": {"name": "ps1"}, "spec": {"mysql": {"clusterType": "async", "size": 1}}
        }))
        .unwrap();
        dyn_api(&client, &Scope::Namespace("default".into()), &ar).create(&PostParams::default(), &cr).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ps1-mysql-0", "labels": {"app.kubernetes.io/instance": "ps1", "app.kubernetes.io/name": "mysql"}},
            "spec": {"containers": [{"name": "mysql", "image": "percona/percona-server:8.4"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let running = Patch::Merge(serde_json::json!({"status": {"phase": "Running"}}));
        pods.patch_status("ps1-mysql-0", &PatchParams::default(), &running).await.unwrap();

        let scope = Scope::Namespace("default".into());
        let opts = LiveOptions { probe_every: Duration::from_millis(200), ..LiveOptions::default() };
        let live = start_with(client.clone(), scope.clone(), opts);
        let mut rx = live.snapshots.clone();
        let probed = |s: &Snapshot| s.clusters.iter().any(|c| c.db_facts.len() == 1);
        let snap = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(probed)).await.unwrap().unwrap().clone();
        let member = &snap.clusters[0].members[0];
        assert!(
            matches!(&member.lag, LagView::Unknown { reason } if reason.contains("none of the Secrets internal-ps1, ps1-secrets")),
            "{:?}",
            member.lag
        );
        drop(live);

        let off = start_with(client, scope, LiveOptions { probe: None, ..LiveOptions::default() });
        let mut rx = off.snapshots.clone();
        let snap = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| s.synced && !s.clusters.is_empty()))
            .await
            .unwrap()
            .unwrap()
            .clone();
        assert_eq!(snap.clusters[0].members[0].lag, LagView::Unknown { reason: "not probed: probing is off".into() });
        assert!(snap.clusters[0].db_facts.is_empty());
        drop(off);
        sandbox.shutdown().await;
    }
}
