//! The simulated cluster's control plane and kubelets: tasks that react to [`Store::changes`] and apply
//! the decisions of [`super::sim`] through the in-process store, so that objects behave as on a real
//! cluster (pods get scheduled and start, StatefulSets get pods and volumes, Services get endpoints…).
//!
//! One task owns every write: it drains the change feed, marks what needs a sync (deduplicated, so a
//! burst of events costs one sync per object), then syncs. Real delays (container start, Job run time,
//! volume resize, eviction after a node went NotReady, CronJob schedules) are timers that send a
//! [`Wake`] back to that task. Only started by [`super::Sandbox::start_controllers`] (needs a tokio
//! runtime); a sandbox without controllers stores objects and nothing else.
//!
//! Layout: `admission` (defaults applied at create: pod tolerations, PVC class), `faults` (the
//! `/_sandbox/...` fault routes and their state), `pods` (scheduler, kubelet, eviction), `storage`
//! (StorageClass, PVC binding and resize), `workloads` (StatefulSets, ReplicaSets, Deployments, Jobs,
//! CronJobs), `network` (Service IPs, Endpoints, EndpointSlices, PDB status).

pub(crate) mod admission;
pub mod faults;
mod network;
mod pods;
mod storage;
mod workloads;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

pub use faults::SimFaults;

use super::resources::ResourceType;
use super::selector::LabelSelector;
use super::store::{Change, EventType, HubMsg, ListOptions, PatchKind, Store, Subresource, WriteOptions};
use super::{ApiError, DeleteOptions};

/// Annotation on a pod template that makes the pods of a Job fail (exit code 1) instead of succeeding.
pub const FAIL_ANNOTATION: &str = "sandbox.dbdeck.io/fail";

/// How the simulated cluster behaves.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Number of nodes registered at start (zones `zone-a|b|c` round-robin).
    pub nodes: usize,
    /// From a pod bound to a node to its containers running and Ready.
    pub start_delay: Duration,
    /// How long a Job's pod runs before it succeeds or fails.
    pub job_duration: Duration,
    /// Between the steps of a volume expansion.
    pub resize_delay: Duration,
    /// From a node going NotReady to the eviction of its pods; `None` uses the pods' NoExecute
    /// tolerations (300 s as admission adds them).
    pub eviction_timeout: Option<Duration>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            nodes: 3,
            start_delay: Duration::from_millis(300),
            job_duration: Duration::from_millis(500),
            resize_delay: Duration::from_millis(500),
            eviction_timeout: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("the sandbox controllers need a tokio runtime")]
    NoRuntime,
    #[error("the sandbox controllers cannot start: the {0} kind is not served")]
    MissingKind(String),
    #[error("the sandbox controllers cannot register {name}: {source}")]
    Bootstrap { name: String, source: ApiError },
}

/// Namespace and name.
pub(crate) type Key = (String, String);

/// A timer that fired.
#[derive(Debug)]
enum Wake {
    Start(Key),
    Finish(Key),
    Resize(Key),
    Evict(String),
    Cron,
    /// A fault changed what the controllers should do with an object that did not itself change.
    Pod(Key),
    Pvc(Key),
}

/// The resource types the controllers write.
#[derive(Clone)]
struct Kinds {
    pods: ResourceType,
    nodes: ResourceType,
    pvcs: ResourceType,
    pvs: ResourceType,
    classes: ResourceType,
    sts: ResourceType,
    revisions: ResourceType,
    deployments: ResourceType,
    replicasets: ResourceType,
    jobs: ResourceType,
    cronjobs: ResourceType,
    services: ResourceType,
    endpoints: ResourceType,
    slices: ResourceType,
    pdbs: ResourceType,
    events: ResourceType,
    secrets: ResourceType,
}

impl Kinds {
    fn load(store: &Store) -> Result<Kinds, ControllerError> {
        let get = |g: &str, v: &str, p: &str| {
            store.resource(g, v, p).ok_or_else(|| ControllerError::MissingKind(format!("{g}/{v} {p}")))
        };
        Ok(Kinds {
            pods: get("", "v1", "pods")?,
            nodes: get("", "v1", "nodes")?,
            pvcs: get("", "v1", "persistentvolumeclaims")?,
            pvs: get("", "v1", "persistentvolumes")?,
            classes: get("storage.k8s.io", "v1", "storageclasses")?,
            sts: get("apps", "v1", "statefulsets")?,
            revisions: get("apps", "v1", "controllerrevisions")?,
            deployments: get("apps", "v1", "deployments")?,
            replicasets: get("apps", "v1", "replicasets")?,
            jobs: get("batch", "v1", "jobs")?,
            cronjobs: get("batch", "v1", "cronjobs")?,
            services: get("", "v1", "services")?,
            endpoints: get("", "v1", "endpoints")?,
            slices: get("discovery.k8s.io", "v1", "endpointslices")?,
            pdbs: get("policy", "v1", "poddisruptionbudgets")?,
            events: get("", "v1", "events")?,
            secrets: get("", "v1", "secrets")?,
        })
    }
}

/// What needs a sync after a batch of changes.
#[derive(Default)]
struct Dirty {
    schedule: bool,
    pods: BTreeSet<Key>,
    nodes: BTreeSet<String>,
    pvcs: BTreeSet<Key>,
    deleted_pvcs: Vec<Value>,
    sts: BTreeSet<Key>,
    replicasets: BTreeSet<Key>,
    deployments: BTreeSet<Key>,
    jobs: BTreeSet<Key>,
    cron: bool,
    services: BTreeSet<Key>,
    deleted_services: Vec<Key>,
    endpoints_ns: BTreeSet<String>,
    pdb_ns: BTreeSet<String>,
}

impl Dirty {
    fn is_empty(&self) -> bool {
        !self.schedule
            && !self.cron
            && self.pods.is_empty()
            && self.nodes.is_empty()
            && self.pvcs.is_empty()
            && self.deleted_pvcs.is_empty()
            && self.sts.is_empty()
            && self.replicasets.is_empty()
            && self.deployments.is_empty()
            && self.jobs.is_empty()
            && self.services.is_empty()
            && self.deleted_services.is_empty()
            && self.endpoints_ns.is_empty()
            && self.pdb_ns.is_empty()
    }
}

/// The controllers' state: the store, timers in flight and allocation counters.
struct Sim {
    store: Store,
    kinds: Kinds,
    cfg: ControllerConfig,
    faults: Arc<SimFaults>,
    wake: mpsc::UnboundedSender<Wake>,
    /// Pods waiting for their start timer.
    starting: HashSet<Key>,
    /// Job pods waiting to finish.
    finishing: HashSet<Key>,
    /// Pods that wait for their claims to bind.
    blocked: HashMap<Key, Vec<String>>,
    /// Pods whose containers cannot start for want of a Secret (its name), as a kubelet retries them.
    secret_blocked: HashMap<Key, String>,
    /// Pods and ControllerRevisions by the StatefulSet that controls them (from the change feed), so a
    /// sync reads its own objects instead of filtering the namespace.
    sts_children: HashMap<Key, (HashSet<String>, HashSet<String>)>,
    /// Pods and ControllerRevisions with no controller, under the StatefulSet name theirs points to: what a
    /// set deleted with `propagationPolicy=Orphan` left behind, for a set of that name to adopt.
    sts_orphans: HashMap<Key, (HashSet<String>, HashSet<String>)>,
    /// Pods without a node, as seen on the change feed: the scheduler lists the cluster only when
    /// there are some.
    unbound: HashSet<Key>,
    /// The scheduler's view (nodes and what their pods use), kept up to date from the change feed so that
    /// scheduling a new pod does not re-read every pod; dropped when nodes change or after a resync.
    sched: Option<super::sim::scheduler::Snapshot>,
    /// Claims waiting for their next resize step.
    resizing: HashSet<Key>,
    /// NotReady nodes whose pods wait for eviction, and since when.
    evicting: HashMap<String, std::time::Instant>,
    /// Next pod IP (10.244.0.0/16 host part).
    next_pod_ip: u32,
    /// Service IPs in use, filled on first allocation.
    service_ips: Option<HashSet<String>>,
    /// Jobs whose pods fail because of the "next Job fails" fault (by uid).
    failing_jobs: HashSet<String>,
    /// When each CronJob (by uid) last created a Job.
    cron_last: HashMap<String, chrono::DateTime<chrono::Utc>>,
    cron_timer: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the controllers on the current tokio runtime: registers nodes and the default StorageClass,
/// then spawns the task that follows the change feed.
pub(crate) fn start(
    store: Store,
    faults: Arc<SimFaults>,
    cfg: ControllerConfig,
) -> Result<tokio::task::JoinHandle<()>, ControllerError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ControllerError::NoRuntime)?;
    let kinds = Kinds::load(&store)?;
    // Subscribe before bootstrapping so that nothing created from here on is missed.
    let changes = store.changes();
    let (wake, wakes) = mpsc::unbounded_channel();
    faults.connect(wake.clone());
    let mut sim = Sim {
        store,
        kinds,
        cfg,
        faults,
        wake,
        starting: HashSet::new(),
        finishing: HashSet::new(),
        blocked: HashMap::new(),
        secret_blocked: HashMap::new(),
        unbound: HashSet::new(),
        sts_children: HashMap::new(),
        sts_orphans: HashMap::new(),
        sched: None,
        resizing: HashSet::new(),
        evicting: HashMap::new(),
        next_pod_ip: 0,
        service_ips: None,
        failing_jobs: HashSet::new(),
        cron_last: HashMap::new(),
        cron_timer: None,
    };
    sim.bootstrap()?;
    Ok(runtime.spawn(sim.run(changes, wakes)))
}

impl Sim {
    fn bootstrap(&mut self) -> Result<(), ControllerError> {
        let existing: HashSet<String> = self.list(&self.kinds.nodes.clone(), None, None).iter().map(name).collect();
        for node in super::sim::nodes::make_nodes(self.cfg.nodes, &[]) {
            let n = name(&node);
            if existing.contains(&n) {
                continue;
            }
            let created = self
                .store
                .create(&self.kinds.nodes, "", node.clone(), &opts())
                .map_err(|source| ControllerError::Bootstrap { name: format!("node {n}"), source })?;
            // Creation drops the status (a subresource): write it as the kubelet would.
            self.store
                .patch(
                    &self.kinds.nodes,
                    "",
                    &name(&created),
                    PatchKind::Merge,
                    &json!({"status": node["status"]}),
                    Subresource::Status,
                    &opts(),
                )
                .map_err(|source| ControllerError::Bootstrap { name: format!("node {n}"), source })?;
        }
        self.ensure_default_class()
            .map_err(|source| ControllerError::Bootstrap { name: "storage class".into(), source })
    }

    async fn run(mut self, mut changes: broadcast::Receiver<HubMsg>, mut wakes: mpsc::UnboundedReceiver<Wake>) {
        // Objects that existed before the controllers started (a reloaded state) need a first sync.
        let mut dirty = self.everything();
        loop {
            if !dirty.is_empty() {
                self.sync(std::mem::take(&mut dirty));
                continue;
            }
            tokio::select! {
                msg = changes.recv() => match msg {
                    Ok(HubMsg::Change(c)) => self.note(&c, &mut dirty),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "sandbox controllers fell behind the change feed; resyncing");
                        dirty = self.everything();
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                Some(w) = wakes.recv() => self.woke(w, &mut dirty),
            }
            // Drain what is already queued so that a burst becomes one batch.
            loop {
                match changes.try_recv() {
                    Ok(HubMsg::Change(c)) => self.note(&c, &mut dirty),
                    Ok(_) => {}
                    Err(broadcast::error::TryRecvError::Lagged(_)) => dirty = self.everything(),
                    Err(_) => break,
                }
            }
        }
    }

    /// Marks every object of the kinds the controllers own (start-up and after lagging).
    fn everything(&mut self) -> Dirty {
        let mut d = Dirty { schedule: true, cron: true, ..Default::default() };
        self.sched = None;
        let k = self.kinds.clone();
        let pods = self.list(&k.pods, None, None);
        self.unbound = pods.iter().filter(|p| str_at(p, "/spec/nodeName").is_empty()).map(key).collect();
        d.pods = pods.iter().map(key).collect();
        self.sts_children.clear();
        self.sts_orphans.clear();
        for p in &pods {
            self.index_child(p, false, false);
        }
        for r in self.list(&k.revisions, None, None) {
            self.index_child(&r, true, false);
        }
        d.nodes = self.list(&k.nodes, None, None).iter().map(name).collect();
        d.pvcs = self.list(&k.pvcs, None, None).iter().map(key).collect();
        d.sts = self.list(&k.sts, None, None).iter().map(key).collect();
        d.replicasets = self.list(&k.replicasets, None, None).iter().map(key).collect();
        d.deployments = self.list(&k.deployments, None, None).iter().map(key).collect();
        d.jobs = self.list(&k.jobs, None, None).iter().map(key).collect();
        d.services = self.list(&k.services, None, None).iter().map(key).collect();
        d.endpoints_ns = d.services.iter().map(|(ns, _)| ns.clone()).collect();
        d.pdb_ns = self.list(&k.pdbs, None, None).iter().map(|p| key(p).0).collect();
        d
    }

    /// Records what one change makes dirty.
    fn note(&mut self, c: &Change, d: &mut Dirty) {
        let obj = &*c.object;
        let k = (c.key.namespace.clone(), c.key.name.clone());
        let deleted = c.kind == EventType::Deleted;
        match (c.key.gr.group.as_str(), c.key.gr.resource.as_str()) {
            ("", "pods") => {
                let finished = matches!(str_at(obj, "/status/phase"), "Succeeded" | "Failed");
                if let Some(snap) = &mut self.sched {
                    if deleted {
                        snap.forget(&k.0, &k.1);
                    } else {
                        snap.assume(obj);
                    }
                }
                if deleted {
                    self.starting.remove(&k);
                    self.finishing.remove(&k);
                    self.blocked.remove(&k);
                    self.secret_blocked.remove(&k);
                    self.unbound.remove(&k);
                    d.schedule = true;
                } else {
                    if str_at(obj, "/spec/nodeName").is_empty() && !finished {
                        self.unbound.insert(k.clone());
                        d.schedule = true;
                    } else {
                        self.unbound.remove(&k);
                    }
                    d.pods.insert(k.clone());
                }
                self.index_child(obj, false, deleted);
                if let Some(owner) = controller_of(obj) {
                    let ok = (k.0.clone(), owner.1);
                    match owner.0.as_str() {
                        "StatefulSet" => d.sts.insert(ok),
                        "ReplicaSet" => d.replicasets.insert(ok),
                        "Job" => d.jobs.insert(ok),
                        _ => false,
                    };
                }
                d.endpoints_ns.insert(k.0.clone());
                d.pdb_ns.insert(k.0);
            }
            ("", "nodes") => {
                self.sched = None;
                d.schedule = true;
                d.nodes.insert(k.1);
            }
            ("", "persistentvolumeclaims") => {
                if deleted {
                    d.deleted_pvcs.push(obj.clone());
                } else {
                    d.pvcs.insert(k.clone());
                }
                // Pods waiting for a claim of this namespace look again.
                // Only the pods waiting for this claim: re-reading every waiting pod of the namespace on each
                // claim change made thousands of StatefulSet pods settle in quadratic time.
                d.pods.extend(
                    self.blocked
                        .iter()
                        .filter(|(b, claims)| b.0 == k.0 && claims.contains(&k.1))
                        .map(|(b, _)| b.clone()),
                );
            }
            ("", "secrets") => {
                // A kubelet retries pods that wait for a Secret; the one that appeared (or changed) lets them go.
                d.pods.extend(
                    self.secret_blocked.iter().filter(|(p, s)| p.0 == k.0 && **s == k.1).map(|(p, _)| p.clone()),
                );
            }
            ("apps", "controllerrevisions") => self.index_child(obj, true, deleted),
            ("apps", "statefulsets") if !deleted => {
                d.sts.insert(k.clone());
                d.pdb_ns.insert(k.0);
            }
            ("apps", "replicasets") => {
                if let Some(("Deployment", owner)) = controller_of(obj).as_ref().map(|(a, b)| (a.as_str(), b.clone())) {
                    d.deployments.insert((k.0.clone(), owner));
                }
                if !deleted {
                    d.replicasets.insert(k);
                }
            }
            ("apps", "deployments") if !deleted => {
                d.deployments.insert(k);
            }
            ("batch", "jobs") => {
                if !deleted {
                    d.jobs.insert(k);
                }
                if controller_of(obj).is_some_and(|o| o.0 == "CronJob") {
                    d.cron = true;
                }
            }
            ("batch", "cronjobs") => d.cron = true,
            ("", "services") => {
                if deleted {
                    d.deleted_services.push(k);
                } else {
                    d.endpoints_ns.insert(k.0.clone());
                    d.services.insert(k);
                }
            }
            ("policy", "poddisruptionbudgets") if !deleted => {
                d.pdb_ns.insert(k.0);
            }
            _ => {}
        }
    }

    /// Records (or forgets) a pod or revision under the StatefulSet that controls it.
    fn index_child(&mut self, obj: &Value, revision: bool, deleted: bool) {
        fn side(e: &mut (HashSet<String>, HashSet<String>), revision: bool) -> &mut HashSet<String> {
            if revision { &mut e.1 } else { &mut e.0 }
        }
        let (ns, child) = key(obj);
        // Pods are `<set>-<ordinal>`, revisions `<set>-<hash>`.
        let parent = child.rsplit_once('-').map(|(p, _)| (ns.clone(), p.to_string()));
        match controller_of(obj) {
            Some((kind, owner)) if kind == "StatefulSet" => {
                if let Some(e) = parent.as_ref().and_then(|p| self.sts_orphans.get_mut(p)) {
                    side(e, revision).remove(&child);
                }
                let set = side(self.sts_children.entry((ns, owner)).or_default(), revision);
                if deleted {
                    set.remove(&child);
                } else {
                    set.insert(child);
                }
            }
            Some(_) => {}
            None => {
                let Some(parent) = parent else { return };
                if let Some(e) = self.sts_children.get_mut(&parent) {
                    side(e, revision).remove(&child);
                }
                let set = side(self.sts_orphans.entry(parent).or_default(), revision);
                if deleted {
                    set.remove(&child);
                } else {
                    set.insert(child);
                }
            }
        }
    }

    fn woke(&mut self, w: Wake, d: &mut Dirty) {
        match w {
            Wake::Start(k) => {
                self.starting.remove(&k);
                self.start_pod(&k);
            }
            Wake::Finish(k) => {
                self.finishing.remove(&k);
                self.finish_pod(&k);
            }
            Wake::Resize(k) => {
                self.resizing.remove(&k);
                self.resize_pvc(&k);
            }
            Wake::Evict(node) => {
                self.evict(&node);
            }
            Wake::Cron => {
                self.cron_timer = None;
                d.cron = true;
            }
            Wake::Pod(k) => {
                d.pods.insert(k);
            }
            Wake::Pvc(k) => {
                d.pvcs.insert(k);
            }
        }
    }

    fn sync(&mut self, d: Dirty) {
        for n in &d.nodes {
            self.sync_node(n);
        }
        for p in &d.deleted_pvcs {
            self.release_volume(p);
        }
        for k in &d.pvcs {
            self.sync_pvc(k);
        }
        for k in &d.deployments {
            self.sync_deployment(k);
        }
        for k in &d.replicasets {
            self.sync_replicaset(k);
        }
        for k in &d.sts {
            self.sync_statefulset(k);
        }
        for k in &d.jobs {
            self.sync_job(k);
        }
        if d.cron {
            self.sync_cronjobs();
        }
        if d.schedule {
            self.schedule();
        }
        for k in &d.pods {
            self.sync_pod(k);
        }
        for k in &d.services {
            self.sync_service_ip(k);
        }
        for k in &d.deleted_services {
            self.remove_endpoints(k);
        }
        for ns in &d.endpoints_ns {
            self.sync_endpoints(ns);
        }
        for ns in &d.pdb_ns {
            self.sync_pdbs(ns);
        }
    }

    // ---- small store helpers; failures are logged: the next change or resync tries again ----

    fn list(&self, rt: &ResourceType, ns: Option<&str>, selector: Option<&LabelSelector>) -> Vec<Value> {
        let opts = ListOptions { labels: selector.cloned().unwrap_or_default(), ..Default::default() };
        match self.store.list(rt, ns, &opts) {
            Ok(page) => page.items,
            Err(e) => {
                tracing::warn!(kind = %rt.kind, error = %e.message, "sandbox controllers: list failed");
                Vec::new()
            }
        }
    }

    /// Every object of a kind, shared with the store rather than copied (for read-only passes over many).
    fn list_shared(&self, rt: &ResourceType) -> Vec<Arc<Value>> {
        match self.store.list_shared(rt, None, &ListOptions::default()) {
            Ok(page) => page.items,
            Err(e) => {
                tracing::warn!(kind = %rt.kind, error = %e.message, "sandbox controllers: list failed");
                Vec::new()
            }
        }
    }

    fn get(&self, rt: &ResourceType, k: &Key) -> Option<Value> {
        self.store.get(rt, &k.0, &k.1).ok()
    }

    fn patch(&self, rt: &ResourceType, k: &Key, body: Value, sub: Subresource) -> Option<Value> {
        match self.store.patch(rt, &k.0, &k.1, PatchKind::Merge, &body, sub, &opts()) {
            Ok((v, _)) => Some(v),
            Err(e) if e.code == 404 => None,
            Err(e) => {
                tracing::warn!(kind = %rt.kind, namespace = %k.0, name = %k.1, error = %e.message, "sandbox controllers: write failed");
                None
            }
        }
    }

    /// Writes `status` unless it equals the current one (timestamps aside), so syncs settle.
    fn set_status(&self, rt: &ResourceType, obj: &Value, status: Value) {
        if same_ignoring_times(obj.get("status").unwrap_or(&Value::Null), &status) {
            return;
        }
        let mut body = json!({"status": status});
        // A merge patch keeps keys it does not mention: clear the ones the new status dropped.
        if let (Some(old), Some(new)) = (obj.get("status").and_then(Value::as_object), status.as_object()) {
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                body["status"][k] = Value::Null;
            }
        }
        self.patch(rt, &key(obj), body, Subresource::Status);
    }

    fn create(&self, rt: &ResourceType, ns: &str, obj: Value) -> Option<Value> {
        match self.store.create(rt, ns, obj, &opts()) {
            Ok(v) => Some(v),
            Err(e) if e.code == 409 => None,
            Err(e) => {
                tracing::warn!(kind = %rt.kind, namespace = ns, error = %e.message, "sandbox controllers: create failed");
                None
            }
        }
    }

    /// Records a core/v1 Event about `about` (a stored object) as the named control-plane component would,
    /// so `kubectl describe` and `kubectl get events` tell what the simulated cluster did and why.
    fn event(&self, about: &Value, warning: bool, reason: &str, message: &str, component: &str) {
        let (ns, obj_name) = key(about);
        let ns = if ns.is_empty() { "default".to_string() } else { ns };
        let at = stamp();
        let uid = uuid::Uuid::new_v4().simple().to_string();
        let ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{obj_name}.{}", &uid[..16]), "namespace": ns},
            "involvedObject": {
                "apiVersion": str_at(about, "/apiVersion"),
                "kind": str_at(about, "/kind"),
                "namespace": str_at(about, "/metadata/namespace"),
                "name": obj_name,
                "uid": str_at(about, "/metadata/uid"),
                "resourceVersion": str_at(about, "/metadata/resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": component,
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
        });
        // An Event is a courtesy: a namespace being deleted refuses it, and that is no reason to warn.
        if let Err(e) = self.store.create(&self.kinds.events, &ns, ev, &opts()) {
            tracing::debug!(namespace = %ns, reason, error = %e.message, "sandbox controllers: event not recorded");
        }
    }

    fn delete(&self, rt: &ResourceType, k: &Key) {
        match self.store.delete(rt, &k.0, &k.1, &DeleteOptions::default()) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(kind = %rt.kind, namespace = %k.0, name = %k.1, error = %e.message, "sandbox controllers: delete failed")
            }
        }
    }

    fn after(&self, delay: Duration, w: Wake) {
        let tx = self.wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(w);
        });
    }
}

fn opts() -> WriteOptions {
    WriteOptions { field_manager: Some("dbdeck-sandbox-controllers".into()), ..Default::default() }
}

pub(crate) fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn name(v: &Value) -> String {
    str_at(v, "/metadata/name").to_string()
}

fn key(v: &Value) -> Key {
    (str_at(v, "/metadata/namespace").to_string(), name(v))
}

/// Kind and name of the controlling owner.
fn controller_of(obj: &Value) -> Option<(String, String)> {
    let refs = obj.pointer("/metadata/ownerReferences")?.as_array()?;
    let r = refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    Some((str_at(r, "/kind").to_string(), str_at(r, "/name").to_string()))
}

/// True when `obj` is controlled by the object with this uid.
fn owned_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|refs| {
        refs.iter().any(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("uid").and_then(Value::as_str) == Some(uid)
        })
    })
}

/// A label selector from `spec.selector` (`matchLabels` and `matchExpressions`), for store lists.
fn selector_of(obj: &Value) -> Option<LabelSelector> {
    let sel = obj.pointer("/spec/selector")?;
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))));
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let k = str_at(e, "/key");
            let vals: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match str_at(e, "/operator") {
                "In" => parts.push(format!("{k} in ({})", vals.join(","))),
                "NotIn" => parts.push(format!("{k} notin ({})", vals.join(","))),
                "Exists" => parts.push(k.to_string()),
                "DoesNotExist" => parts.push(format!("!{k}")),
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        return None;
    }
    LabelSelector::parse(&parts.join(",")).ok()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn stamp() -> String {
    now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Equality that ignores condition timestamps, so recomputed statuses do not cause writes.
fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "lastTransitionTime" | "lastUpdateTime" | "lastProbeTime"))
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_from_match_labels_and_expressions() {
        let obj = json!({"spec": {"selector": {"matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]}}});
        let sel = selector_of(&obj).unwrap();
        assert!(sel.matches(&json!({"metadata": {"labels": {"app": "db", "tier": "b"}}})));
        assert!(!sel.matches(&json!({"metadata": {"labels": {"app": "db", "tier": "c"}}})));
        assert!(!sel.matches(&json!({"metadata": {"labels": {"app": "db", "tier": "a", "gone": "x"}}})));
        assert!(selector_of(&json!({"spec": {}})).is_none());
    }

    #[test]
    fn statuses_differing_only_in_timestamps_are_the_same() {
        let a = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "1"}]});
        let b = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2"}]});
        let c = json!({"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "1"}]});
        assert!(same_ignoring_times(&a, &b));
        assert!(!same_ignoring_times(&a, &c));
    }

    #[test]
    fn controllers_need_a_runtime() {
        let sb = crate::sandbox::Sandbox::new(Default::default()).unwrap();
        assert!(matches!(sb.start_controllers(ControllerConfig::default()), Err(ControllerError::NoRuntime)));
    }
}
