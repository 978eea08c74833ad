//! `ClusterView` from Kubernetes objects: a pure function of the cluster CR and the objects around it.
//!
//! The CRs come in as JSON (`DynamicObject`s turned into values) so one code path reads all three families and a
//! CR the typed model cannot parse still shows up (with the parse error as its validation reason). Components
//! come from the operator's status when it wrote one; members come from pods, found by Percona's labels.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use serde_json::Value;

use super::view::*;
use crate::api::AnyResource;
use crate::api::common::parse_cron;

/// Everything around the clusters, as the reflectors hold it (all namespaces mixed).
#[derive(Clone, Debug, Default)]
pub struct World {
    /// PerconaXtraDBCluster, PerconaServerMySQL and PerconaPGCluster objects.
    pub clusters: Vec<Value>,
    /// The six backup and restore kinds.
    pub backups: Vec<Value>,
    pub restores: Vec<Value>,
    pub pods: Vec<Pod>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub nodes: Vec<Node>,
    pub events: Vec<Event>,
}

/// Said when a cluster has no status at all: nothing has reconciled it yet.
pub const NO_OPERATOR: &str = "no operator is reconciling this cluster (its status is empty)";

/// What the nodes say, computed once for every cluster.
#[derive(Debug, Default)]
pub struct NodeFacts<'a> {
    /// Node name → `topology.kubernetes.io/zone`.
    pub zones: HashMap<&'a str, &'a str>,
    /// Node name → why it is not Ready (its Ready condition's reason and message), for nodes that are not.
    pub not_ready: HashMap<&'a str, String>,
}

impl<'a> NodeFacts<'a> {
    pub fn of(nodes: &'a [Node]) -> Self {
        let mut out = NodeFacts::default();
        for n in nodes {
            let Some(name) = n.metadata.name.as_deref() else { continue };
            if let Some(zone) = n.metadata.labels.as_ref().and_then(|l| l.get("topology.kubernetes.io/zone")) {
                out.zones.insert(name, zone.as_str());
            }
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
            // A node that never reported a Ready condition is not judged (a hand-made node in a test, say).
            if let Some(c) = ready.filter(|c| c.status != "True") {
                let why = match (c.reason.as_deref(), c.message.as_deref()) {
                    (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
                    (Some(r), _) => r.to_string(),
                    (None, Some(m)) => m.to_string(),
                    (None, None) => format!("Ready is {}", c.status),
                };
                out.not_ready.insert(name, why);
            }
        }
        out
    }
}

/// Views of every cluster in `world`, sorted by namespace, name and kind.
pub fn build_all(world: &World, now: DateTime<Utc>) -> Vec<ClusterView> {
    let nodes = NodeFacts::of(&world.nodes);
    let mut out: Vec<ClusterView> = world.clusters.iter().filter_map(|c| build(c, world, &nodes, now)).collect();
    out.sort_by(|a, b| (&a.namespace, &a.name, a.kind).cmp(&(&b.namespace, &b.name, b.kind)));
    out
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}
fn st<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    s(v, path).and_then(Value::as_str).filter(|x| !x.is_empty())
}
fn num(v: &Value, path: &[&str]) -> Option<u32> {
    s(v, path).and_then(Value::as_u64).map(|n| n as u32)
}
fn time(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    st(v, path).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// A Kubernetes timestamp (whatever time crate k8s-openapi uses) as chrono, through its RFC 3339 form.
fn k8s_time<T: serde::Serialize>(t: &T) -> Option<DateTime<Utc>> {
    match serde_json::to_value(t).ok()? {
        Value::String(s) => DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

fn kind_of(cr: &Value) -> Option<ClusterKind> {
    match cr.get("kind")?.as_str()? {
        "PerconaXtraDBCluster" => Some(ClusterKind::Pxc),
        // Percona's default cluster type is group replication (`with_defaults`).
        "PerconaServerMySQL" => Some(ClusterKind::Ps {
            cluster_type: match st(cr, &["spec", "mysql", "clusterType"]) {
                Some("async") => PsClusterType::Async,
                _ => PsClusterType::GroupReplication,
            },
        }),
        "PerconaPGCluster" => Some(ClusterKind::Pg),
        _ => None,
    }
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// The component a pod belongs to, by the family's labels, when it belongs to this cluster.
fn pod_component(kind: ClusterKind, cluster: &str, pod: &Pod) -> Option<String> {
    match kind {
        ClusterKind::Pxc => {
            if label(pod, "app.kubernetes.io/instance") != Some(cluster)
                || label(pod, "app.kubernetes.io/part-of").is_some_and(|p| p != "percona-xtradb-cluster")
            {
                return None;
            }
            match label(pod, "app.kubernetes.io/component")? {
                c @ ("pxc" | "haproxy" | "proxysql") => Some(c.to_string()),
                _ => None,
            }
        }
        ClusterKind::Ps { .. } => {
            if label(pod, "app.kubernetes.io/instance") != Some(cluster)
                || label(pod, "app.kubernetes.io/part-of").is_some_and(|p| p != "percona-server")
            {
                return None;
            }
            match label(pod, "app.kubernetes.io/name")? {
                c @ ("mysql" | "orchestrator" | "haproxy" | "router") => Some(c.to_string()),
                _ => None,
            }
        }
        ClusterKind::Pg => {
            if label(pod, "postgres-operator.crunchydata.com/cluster") != Some(cluster) {
                return None;
            }
            if label(pod, "postgres-operator.crunchydata.com/role") == Some("pgbouncer") {
                return Some("pgbouncer".into());
            }
            if let Some(set) = label(pod, "postgres-operator.crunchydata.com/instance-set") {
                return Some(set.to_string());
            }
            (label(pod, "postgres-operator.crunchydata.com/data") == Some("pgbackrest")).then(|| "repo-host".into())
        }
    }
}

fn component_kind(kind: ClusterKind, name: &str) -> ComponentKind {
    match (kind, name) {
        (ClusterKind::Pxc, "pxc") => ComponentKind::Pxc,
        (_, "haproxy") => ComponentKind::Haproxy,
        (_, "proxysql") => ComponentKind::Proxysql,
        (_, "mysql") => ComponentKind::Mysql,
        (_, "orchestrator") => ComponentKind::Orchestrator,
        (_, "router") => ComponentKind::Router,
        (_, "pgbouncer") => ComponentKind::Pgbouncer,
        (ClusterKind::Pg, "repo-host") => ComponentKind::RepoHost,
        _ => ComponentKind::InstanceSet,
    }
}

/// The role a pod's labels state. Database roles are only given when a label says so (`None` = unknown).
fn role(kind: ClusterKind, component: &str, pod: &Pod, has_primary_label: bool) -> Option<Role> {
    match component_kind(kind, component) {
        ComponentKind::Pxc => Some(Role::GaleraMember),
        ComponentKind::Haproxy | ComponentKind::Proxysql => Some(Role::Proxy),
        ComponentKind::Router => Some(Role::Router),
        ComponentKind::Orchestrator => Some(Role::Orchestrator),
        ComponentKind::Pgbouncer => Some(Role::PgBouncer),
        ComponentKind::RepoHost => Some(Role::RepoHost),
        ComponentKind::Mysql => match label(pod, "mysql.percona.com/primary") {
            Some("true") => Some(Role::Source),
            // Once some pod carries the primary label, the others are replicas.
            _ if has_primary_label => Some(Role::Replica),
            _ => None,
        },
        ComponentKind::InstanceSet => match label(pod, "postgres-operator.crunchydata.com/role") {
            Some("primary" | "master") => Some(Role::Primary),
            Some("replica") => Some(Role::Standby),
            _ => None,
        },
    }
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn member(kind: ClusterKind, component: &str, pod: &Pod, has_primary: bool, zones: &HashMap<&str, &str>) -> MemberView {
    let status = pod.status.as_ref();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let role = role(kind, component, pod, has_primary);
    let lag = match role {
        Some(r) if r.is_follower() => LagView::Unknown { reason: "not probed yet".into() },
        None if component_kind(kind, component).is_database() => {
            LagView::Unknown { reason: "role not known yet; not probed".into() }
        }
        _ => LagView::NotApplicable,
    };
    MemberView {
        pod: pod.metadata.name.clone().unwrap_or_default(),
        component: component.to_string(),
        role,
        zone: node.as_deref().and_then(|n| zones.get(n)).map(|z| z.to_string()),
        node,
        ready: pod_ready(pod),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| c.restart_count.max(0) as u32).sum())
            .unwrap_or(0),
        started: status.and_then(|s| s.start_time.as_ref()).and_then(k8s_time),
        lag,
        lag_history: Vec::new(),
        replication_error: None,
    }
}

/// Component counts from the operator's status, in the family's order.
fn status_components(kind: ClusterKind, cr: &Value) -> Vec<ComponentView> {
    let comp = |name: &str, key: &str, state_key: &str| -> Option<ComponentView> {
        let sec = s(cr, &["status", key])?;
        let size = num(sec, &["size"])?;
        Some(ComponentView {
            kind: component_kind(kind, name),
            name: name.to_string(),
            size,
            ready: num(sec, &["ready"]).unwrap_or(0),
            status: st(sec, &[state_key]).unwrap_or("").to_string(),
        })
    };
    match kind {
        ClusterKind::Pxc => ["pxc", "haproxy", "proxysql"].iter().filter_map(|c| comp(c, c, "status")).collect(),
        ClusterKind::Ps { .. } => {
            ["mysql", "orchestrator", "haproxy", "router"].iter().filter_map(|c| comp(c, c, "state")).collect()
        }
        ClusterKind::Pg => {
            let mut out: Vec<ComponentView> = s(cr, &["status", "postgres", "instances"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    Some(ComponentView {
                        kind: ComponentKind::InstanceSet,
                        name: st(i, &["name"])?.to_string(),
                        size: num(i, &["size"]).unwrap_or(0),
                        ready: num(i, &["ready"]).unwrap_or(0),
                        status: String::new(),
                    })
                })
                .collect();
            out.extend(comp("pgbouncer", "pgbouncer", "state"));
            out
        }
    }
}

fn enabled(cr: &Value, path: &[&str], default: bool) -> bool {
    s(cr, path).and_then(Value::as_bool).unwrap_or(default)
}

/// What the spec asks for, when no operator has written status: sizes from the spec, ready counted from pods.
fn spec_components(kind: ClusterKind, cr: &Value) -> Vec<(String, u32)> {
    let size = |path: &[&str], default: u32| num(cr, path).unwrap_or(default);
    match kind {
        ClusterKind::Pxc => {
            let mut v = vec![("pxc".to_string(), size(&["spec", "pxc", "size"], 3))];
            if enabled(cr, &["spec", "haproxy", "enabled"], false) {
                v.push(("haproxy".into(), size(&["spec", "haproxy", "size"], 3)));
            }
            if enabled(cr, &["spec", "proxysql", "enabled"], false) {
                v.push(("proxysql".into(), size(&["spec", "proxysql", "size"], 3)));
            }
            v
        }
        ClusterKind::Ps { .. } => {
            // As the api's `with_defaults`: an unset `enabled` is false for every PS side component.
            let mut v = vec![("mysql".to_string(), size(&["spec", "mysql", "size"], 3))];
            if enabled(cr, &["spec", "orchestrator", "enabled"], false) {
                v.push(("orchestrator".into(), size(&["spec", "orchestrator", "size"], 3)));
            }
            if enabled(cr, &["spec", "proxy", "haproxy", "enabled"], false) {
                v.push(("haproxy".into(), size(&["spec", "proxy", "haproxy", "size"], 3)));
            }
            if enabled(cr, &["spec", "proxy", "router", "enabled"], false) {
                v.push(("router".into(), size(&["spec", "proxy", "router", "size"], 3)));
            }
            v
        }
        ClusterKind::Pg => {
            let mut v: Vec<(String, u32)> = s(cr, &["spec", "instances"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| Some((st(i, &["name"])?.to_string(), num(i, &["replicas"]).unwrap_or(1))))
                .collect();
            if s(cr, &["spec", "proxy", "pgBouncer"]).is_some() {
                v.push(("pgbouncer".into(), size(&["spec", "proxy", "pgBouncer", "replicas"], 3)));
            }
            v
        }
    }
}

fn backup_cluster(b: &Value) -> Option<&str> {
    st(b, &["spec", "pxcCluster"]).or_else(|| st(b, &["spec", "clusterName"])).or_else(|| st(b, &["spec", "pgCluster"]))
}

fn family_of_object(kind: &str) -> Option<&'static str> {
    if kind.starts_with("PerconaXtraDBCluster") {
        Some("pxc")
    } else if kind.starts_with("PerconaServerMySQL") {
        Some("ps")
    } else if kind.starts_with("PerconaPG") {
        Some("pg")
    } else {
        None
    }
}

/// Whether a backup/restore object belongs to this cluster (same family, namespace and cluster name).
fn belongs(obj: &Value, kind: ClusterKind, ns: &str, name: &str) -> bool {
    st(obj, &["metadata", "namespace"]) == Some(ns)
        && backup_cluster(obj) == Some(name)
        && st(obj, &["kind"]).and_then(family_of_object) == Some(kind.short())
}

fn backup_view(b: &Value) -> BackupView {
    BackupView {
        name: st(b, &["metadata", "name"]).unwrap_or("").to_string(),
        state: st(b, &["status", "state"]).unwrap_or("").to_string(),
        storage: st(b, &["spec", "storageName"]).or_else(|| st(b, &["spec", "repoName"])).map(str::to_string),
        destination: st(b, &["status", "destination"]).map(str::to_string),
        started: time(b, &["metadata", "creationTimestamp"]),
        completed: time(b, &["status", "completed"]),
        // PS keeps the reason in stateDescription.
        error: st(b, &["status", "error"]).or_else(|| st(b, &["status", "stateDescription"])).map(str::to_string),
        latest_restorable_time: time(b, &["status", "latestRestorableTime"]),
    }
}

/// The bare step names restores show (Percona's restore states), which say nothing beyond the state.
const RESTORE_STEPS: [&str; 9] = [
    "Starting",
    "Running",
    "Stopping Cluster",
    "Restoring",
    "Point-in-time recovering",
    "Starting Cluster",
    "Preparing Cluster",
    "Succeeded",
    "Failed",
];

/// `error` of a restore: why it failed, or what an unfinished one waits for. Each operator keeps the
/// text elsewhere: PXC in `comments`, PS in `stateDescription`, PG in `message` (where the step name
/// alone, `Restoring`, is not worth repeating).
fn restore_view(r: &Value) -> RestoreView {
    let state = st(r, &["status", "state"]).unwrap_or("").to_string();
    let said = ["error", "comments", "stateDescription", "message"]
        .into_iter()
        .filter_map(|f| st(r, &["status", f]))
        .find(|t| !t.is_empty() && !RESTORE_STEPS.contains(t));
    RestoreView {
        name: st(r, &["metadata", "name"]).unwrap_or("").to_string(),
        backup: st(r, &["spec", "backupName"])
            .or_else(|| st(r, &["spec", "backupSource", "destination"]))
            .or_else(|| st(r, &["spec", "repoName"]))
            .map(str::to_string),
        started: time(r, &["metadata", "creationTimestamp"]),
        completed: time(r, &["status", "completed"]),
        error: said.map(str::to_string),
        state,
    }
}

/// PITR of a cluster that has it on. The time comes only from a backup's `status.latestRestorableTime`
/// (Percona's operators compute it from the binlog/WAL storage, which dbdeck does not read); without
/// one it is unknown, and says so.
fn pitr_view(kind: ClusterKind, cr: &Value, has_storage: bool, latest: Option<DateTime<Utc>>) -> Option<PitrView> {
    let on = match kind {
        ClusterKind::Pg => has_storage,
        _ => enabled(cr, &["spec", "backup", "pitr", "enabled"], false),
    };
    on.then(|| PitrView {
        latest_restorable_time: latest,
        unknown_reason: latest.is_none().then(|| {
            "no backup reports status.latestRestorableTime (dbdeck does not read the binlog/WAL storage)".into()
        }),
    })
}

/// A backup schedule from the spec: its name, cron expression and storage.
type Plan = (String, String, Option<String>);

/// Storage names and schedules from the spec.
fn backup_plan(kind: ClusterKind, cr: &Value) -> (Vec<String>, Vec<Plan>) {
    match kind {
        ClusterKind::Pg => {
            if !enabled(cr, &["spec", "backups", "enabled"], true) {
                return (vec![], vec![]);
            }
            let repos = s(cr, &["spec", "backups", "pgbackrest", "repos"]).and_then(Value::as_array);
            let mut names = Vec::new();
            let mut plans = Vec::new();
            for r in repos.into_iter().flatten() {
                let Some(name) = st(r, &["name"]) else { continue };
                names.push(name.to_string());
                for typ in ["full", "differential", "incremental"] {
                    if let Some(cron) = st(r, &["schedules", typ]) {
                        plans.push((format!("{name}-{typ}"), cron.to_string(), Some(name.to_string())));
                    }
                }
            }
            (names, plans)
        }
        _ => {
            let ps = matches!(kind, ClusterKind::Ps { .. });
            if ps && !enabled(cr, &["spec", "backup", "enabled"], true) {
                return (vec![], vec![]);
            }
            let names = s(cr, &["spec", "backup", "storages"])
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let plans = s(cr, &["spec", "backup", "schedule"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        st(p, &["name"]).unwrap_or("").to_string(),
                        st(p, &["schedule"])?.to_string(),
                        st(p, &["storageName"]).map(str::to_string),
                    ))
                })
                .collect();
            (names, plans)
        }
    }
}

fn conditions(cr: &Value) -> Vec<ConditionView> {
    s(cr, &["status", "conditions"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| ConditionView {
            type_: st(c, &["type"]).unwrap_or("").to_string(),
            status: st(c, &["status"]).unwrap_or("").to_string(),
            reason: st(c, &["reason"]).map(str::to_string),
            message: st(c, &["message"]).map(str::to_string),
            last_transition: time(c, &["lastTransitionTime"]),
        })
        .collect()
}

/// Conditions that say something is wrong. PXC keeps a history of state conditions, so an `error` entry
/// counts only when it is the newest; elsewhere the latest entry per type decides.
fn failing_conditions(conds: &[ConditionView]) -> Vec<Reason> {
    let mut latest: BTreeMap<&str, &ConditionView> = BTreeMap::new();
    for c in conds {
        match latest.get(c.type_.as_str()) {
            Some(old) if old.last_transition > c.last_transition => {}
            _ => {
                latest.insert(&c.type_, c);
            }
        }
    }
    let newest = conds.iter().max_by_key(|c| c.last_transition);
    latest
        .values()
        .filter(|c| {
            let t = c.type_.as_str();
            if t.eq_ignore_ascii_case("error") {
                c.status == "True" && newest.is_some_and(|n| n.type_ == c.type_)
            } else if t == "StandbyLagging" {
                c.status == "True"
            } else {
                c.status == "False"
                    && (t.ends_with("Ready")
                        || t.ends_with("Available")
                        || t.ends_with("Initialized")
                        || t == "InnoDBClusterBootstrapped")
            }
        })
        .map(|c| Reason {
            kind: ReasonKind::Condition,
            source: format!("condition/{}", c.type_),
            message: match (&c.reason, &c.message) {
                (Some(r), Some(m)) => format!("{r}: {m}"),
                (Some(x), None) | (None, Some(x)) => x.clone(),
                (None, None) => format!("{} is {}", c.type_, c.status),
            },
        })
        .collect()
}

/// The newest Event about `kind/name` in `ns` with one of `reasons` (any reason when empty).
fn latest_event<'a>(events: &'a [Event], ns: &str, kind: &str, name: &str, reasons: &[&str]) -> Option<&'a Event> {
    events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some(kind)
                && o.name.as_deref() == Some(name)
                && o.namespace.as_deref().or(e.metadata.namespace.as_deref()) == Some(ns)
                && (reasons.is_empty() || e.reason.as_deref().is_some_and(|r| reasons.contains(&r)))
        })
        .max_by_key(|e| event_view(e).last_seen)
}

/// Why a pod is not ready: the scheduler's message (from the condition, else its FailedScheduling Event), a
/// waiting/terminated container's reason, a failing readiness probe, or the Ready condition itself. Each names
/// the node the pod is on. A pod on a NotReady node is left to the node's reason (see `node_reasons`).
fn pod_reasons(pod: &Pod, ns: &str, events: &[Event], nodes: &NodeFacts) -> Vec<Reason> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(status) = pod.status.as_ref() else { return vec![] };
    let conds = status.conditions.iter().flatten();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty());
    let unschedulable = conds
        .clone()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"));
    let failed_scheduling =
        || latest_event(events, ns, "Pod", &name, &["FailedScheduling"]).and_then(|e| e.message.clone());
    if let Some(c) = unschedulable {
        return vec![Reason {
            kind: ReasonKind::Unschedulable,
            source: format!("pod/{name}"),
            message: c
                .message
                .clone()
                .filter(|m| !m.is_empty())
                .or_else(failed_scheduling)
                .unwrap_or_else(|| "the scheduler cannot place this pod".into()),
        }];
    }
    if pod_ready(pod) || matches!(status.phase.as_deref(), Some("Succeeded")) {
        return vec![];
    }
    if node.is_none() {
        // Not placed yet: the scheduler's last word, when it said one.
        return failed_scheduling()
            .map(|message| Reason { kind: ReasonKind::Unschedulable, source: format!("pod/{name}"), message })
            .into_iter()
            .collect();
    }
    if node.is_some_and(|n| nodes.not_ready.contains_key(n)) {
        return vec![];
    }
    let on = node.map(|n| format!("on node {n}: ")).unwrap_or_default();
    let mut out = Vec::new();
    for cs in status.container_statuses.iter().flatten() {
        let st = cs.state.as_ref();
        let (reason, message) = match (st.and_then(|s| s.waiting.as_ref()), st.and_then(|s| s.terminated.as_ref())) {
            (Some(w), _) => (w.reason.clone(), w.message.clone()),
            (None, Some(t)) => (t.reason.clone(), t.message.clone()),
            _ => (None, None),
        };
        if let Some(reason) = reason.filter(|r| r != "ContainerCreating" && r != "PodInitializing") {
            let msg = message.filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default();
            out.push(Reason {
                kind: ReasonKind::Pod,
                source: format!("pod/{name}"),
                message: format!("{on}container {}: {reason}{msg}", cs.name),
            });
        }
    }
    if !out.is_empty() {
        return out;
    }
    let running_unready: Vec<&str> = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|cs| !cs.ready && cs.state.as_ref().is_some_and(|s| s.running.is_some()))
        .map(|cs| cs.name.as_str())
        .collect();
    let probe = latest_event(events, ns, "Pod", &name, &["Unhealthy"]).and_then(|e| e.message.clone());
    let message = match (probe, running_unready.is_empty()) {
        (Some(said), _) => format!("{on}{said}"),
        (None, false) => {
            format!(
                "{on}container {} is running but not ready: its readiness probe is failing",
                running_unready.join(", ")
            )
        }
        (None, true) => {
            let ready = conds.clone().find(|c| c.type_ == "Ready");
            let said = ready.and_then(|c| match (c.reason.as_deref(), c.message.as_deref()) {
                (Some(r), Some(m)) if !m.is_empty() => Some(format!("{r}: {m}")),
                (Some(r), _) => Some(r.to_string()),
                (None, Some(m)) if !m.is_empty() => Some(m.to_string()),
                _ => None,
            });
            let phase = status.phase.as_deref().unwrap_or("Pending");
            match said {
                Some(said) => format!("{on}not ready ({phase}): {said}"),
                None => format!("{on}not ready ({phase})"),
            }
        }
    };
    vec![Reason { kind: ReasonKind::Pod, source: format!("pod/{name}"), message }]
}

/// One reason per NotReady node that holds pods of the cluster, naming the pods.
fn node_reasons(pods: &[(&Pod, String)], nodes: &NodeFacts) -> Vec<Reason> {
    let mut by_node: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, _) in pods {
        let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { continue };
        if nodes.not_ready.contains_key(node) && !pod_ready(p) {
            by_node.entry(node).or_default().push(p.metadata.name.as_deref().unwrap_or(""));
        }
    }
    by_node
        .into_iter()
        .map(|(node, pods)| {
            let why = nodes.not_ready.get(node).map(String::as_str).unwrap_or("");
            let (noun, verb) = if pods.len() == 1 { ("pod", "is") } else { ("pods", "are") };
            Reason {
                kind: ReasonKind::Node,
                source: format!("node/{node}"),
                message: format!("node is NotReady ({why}); {noun} {} on it {verb} not ready", pods.join(", ")),
            }
        })
        .collect()
}

/// Why a claim is not bound: the newest Warning Event about it (the provisioner's `ProvisioningFailed`, say), else
/// the newest Normal one (`WaitForFirstConsumer`, `ExternalProvisioning`), else the StorageClass it waits on.
fn claim_reason(pvc: &PersistentVolumeClaim, ns: &str, events: &[Event], used_by: Option<&str>) -> Option<Reason> {
    let name = pvc.metadata.name.as_deref()?;
    let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if phase == "Bound" {
        return None;
    }
    let about: Vec<&Event> = events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some("PersistentVolumeClaim")
                && o.name.as_deref() == Some(name)
                && o.namespace.as_deref().or(e.metadata.namespace.as_deref()) == Some(ns)
        })
        .collect();
    let newest = |warning: bool| {
        about
            .iter()
            .filter(|e| (e.type_.as_deref() == Some("Warning")) == warning)
            .max_by_key(|e| event_view(e).last_seen)
            .map(|e| format!("{}: {}", e.reason.as_deref().unwrap_or(""), e.message.as_deref().unwrap_or("")))
    };
    let class = pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref());
    let said = newest(true).or_else(|| newest(false)).unwrap_or_else(|| match class {
        Some(c) => format!("waiting for a volume of StorageClass \"{c}\" to be bound"),
        None => "waiting for a volume of the default StorageClass to be bound".into(),
    });
    let user = used_by.map(|p| format!("; pod {p} waits for it")).unwrap_or_default();
    Some(Reason { kind: ReasonKind::Claim, source: format!("pvc/{name}"), message: format!("{phase}: {said}{user}") })
}

fn pvc_view(pvc: &PersistentVolumeClaim, used_by: Option<String>) -> PvcView {
    let spec = pvc.spec.as_ref();
    let status = pvc.status.as_ref();
    let storage = |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
        m.and_then(|m| m.get("storage")).map(|q| q.0.clone())
    };
    PvcView {
        name: pvc.metadata.name.clone().unwrap_or_default(),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        capacity: storage(status.and_then(|s| s.capacity.as_ref())),
        request: storage(spec.and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref())),
        storage_class: spec.and_then(|s| s.storage_class_name.clone()),
        resizing: status.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
            cs.iter().any(|c| (c.type_ == "Resizing" || c.type_ == "FileSystemResizePending") && c.status == "True")
        }),
        used_by,
    }
}

/// Whether a PVC belongs to the cluster though no pod mounts it now: by labels or by the StatefulSet claim names.
fn pvc_is_clusters(kind: ClusterKind, cluster: &str, pvc: &PersistentVolumeClaim) -> bool {
    let labels = pvc.metadata.labels.as_ref();
    let l = |k: &str| labels.and_then(|m| m.get(k)).map(String::as_str);
    let name = pvc.metadata.name.as_deref().unwrap_or("");
    match kind {
        ClusterKind::Pxc => {
            name.starts_with(&format!("datadir-{cluster}-pxc-"))
                || name.starts_with(&format!("proxydata-{cluster}-proxysql-"))
        }
        ClusterKind::Ps { .. } => name.starts_with(&format!("datadir-{cluster}-mysql-")),
        ClusterKind::Pg => l("postgres-operator.crunchydata.com/cluster") == Some(cluster),
    }
}

fn event_view(e: &Event) -> EventView {
    let obj = &e.involved_object;
    EventView {
        type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        object: format!("{}/{}", obj.kind.as_deref().unwrap_or(""), obj.name.as_deref().unwrap_or("")),
        message: e.message.clone().unwrap_or_default(),
        // events.k8s.io series count their repeats in `series.count`, core/v1 in `count`.
        count: e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1).max(1) as u32,
        last_seen: event_time(e),
    }
}

/// When an event last happened, as precisely as it says: a series' last observation, `eventTime`
/// (microseconds) when it is the later one, `lastTimestamp` (seconds), else its creation.
fn event_time(e: &Event) -> Option<DateTime<Utc>> {
    let series = e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).and_then(k8s_time);
    let last = e.last_timestamp.as_ref().and_then(k8s_time);
    let at = e.event_time.as_ref().and_then(k8s_time);
    series
        .or(match (last, at) {
            // lastTimestamp has whole seconds: eventTime within that second is the finer figure.
            (Some(l), Some(a)) if a >= l => Some(a),
            (Some(l), _) => Some(l),
            (None, a) => a,
        })
        .or_else(|| e.metadata.creation_timestamp.as_ref().and_then(k8s_time))
}

/// Newest first: by time, then (events within the same second) by resourceVersion, which the API server
/// hands out in write order.
fn event_order(a: &Event, b: &Event) -> std::cmp::Ordering {
    let rv = |e: &Event| e.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok());
    event_time(b).cmp(&event_time(a)).then_with(|| rv(b).cmp(&rv(a)))
}

#[cfg(test)]
mod event_order_tests {
    use super::*;

    fn ev(rv: &str, last: &str, micro: Option<&str>, count: Option<i32>, series: Option<i32>) -> Event {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("e{rv}"), "namespace": "db", "resourceVersion": rv},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "lastTimestamp": last,
            "eventTime": micro,
            "count": count,
            "series": series.map(|c| serde_json::json!({"count": c, "lastObservedTime": "2026-01-01T00:00:09.000001Z"})),
            "message": rv,
        }))
        .unwrap()
    }

    #[test]
    fn same_second_events_keep_write_order_and_series_count() {
        let mut v = vec![
            ev("7", "2026-01-01T00:00:05Z", None, Some(1), None),
            ev("9", "2026-01-01T00:00:05Z", None, Some(4), None),
            ev("8", "2026-01-01T00:00:05Z", None, None, None),
            ev("3", "2026-01-01T00:00:04Z", Some("2026-01-01T00:00:04.900000Z"), None, None),
            ev("2", "2026-01-01T00:00:04Z", Some("2026-01-01T00:00:04.100000Z"), None, None),
            ev("1", "2026-01-01T00:00:01Z", None, None, Some(12)),
        ];
        v.sort_by(event_order);
        let order: Vec<_> = v.iter().map(|e| e.metadata.resource_version.clone().unwrap()).collect();
        assert_eq!(order, ["1", "9", "8", "7", "3", "2"], "series last seen at :09 is newest; then by rv");
        let views: Vec<EventView> = v.iter().map(event_view).collect();
        assert_eq!(views[0].count, 12, "series.count");
        assert_eq!(views[1].count, 4);
        assert_eq!(views[2].count, 1, "no count at all is one");
    }
}

fn version(kind: ClusterKind, cr: &Value) -> Option<String> {
    let image_tag = |path: &[&str]| st(cr, path).and_then(|i| i.rsplit_once(':')).map(|(_, t)| t.to_string());
    match kind {
        ClusterKind::Pxc => {
            st(cr, &["status", "pxc", "version"]).map(str::to_string).or_else(|| image_tag(&["spec", "pxc", "image"]))
        }
        ClusterKind::Ps { .. } => st(cr, &["status", "mysql", "version"])
            .map(str::to_string)
            .or_else(|| image_tag(&["spec", "mysql", "image"])),
        ClusterKind::Pg => st(cr, &["status", "postgres", "version"])
            .map(str::to_string)
            .or_else(|| s(cr, &["status", "postgres", "version"]).and_then(Value::as_u64).map(|v| v.to_string()))
            .or_else(|| s(cr, &["spec", "postgresVersion"]).and_then(Value::as_u64).map(|v| v.to_string())),
    }
}

/// The view of one cluster CR; `None` when the object is not one of the three cluster kinds.
pub fn build(cr: &Value, world: &World, nodes: &NodeFacts, now: DateTime<Utc>) -> Option<ClusterView> {
    let kind = kind_of(cr)?;
    let ns = st(cr, &["metadata", "namespace"]).unwrap_or("default").to_string();
    let name = st(cr, &["metadata", "name"])?.to_string();
    let mut v = ClusterView::new(kind, ns.clone(), name.clone());
    v.state = ClusterState::parse(st(cr, &["status", "state"]).unwrap_or(""));
    v.host = st(cr, &["status", "host"]).map(str::to_string);
    v.created = time(cr, &["metadata", "creationTimestamp"]);
    v.version = version(kind, cr);
    v.cr_version = st(cr, &["spec", "crVersion"]).map(str::to_string);
    v.paused = enabled(cr, &["spec", "pause"], false);
    v.finalizers = s(cr, &["metadata", "finalizers"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    v.deleting = time(cr, &["metadata", "deletionTimestamp"]);
    let has_status = s(cr, &["status"]).and_then(Value::as_object).is_some_and(|m| !m.is_empty());
    v.state_reason = if !has_status {
        Some(NO_OPERATOR.to_string())
    } else {
        // PXC keeps a list of messages, PS one string.
        let messages: Vec<&str> = match s(cr, &["status", "message"]) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).filter(|m| !m.is_empty()).collect(),
            Some(Value::String(m)) if !m.is_empty() => vec![m.as_str()],
            _ => vec![],
        };
        (!messages.is_empty()).then(|| messages.join("; "))
    };

    // Members: the cluster's pods, in component then name order.
    let mut pods: Vec<(&Pod, String)> = world
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter_map(|p| pod_component(kind, &name, p).map(|c| (p, c)))
        .collect();
    pods.sort_by(|a, b| (&a.1, &a.0.metadata.name).cmp(&(&b.1, &b.0.metadata.name)));
    let has_primary = pods.iter().any(|(p, _)| label(p, "mysql.percona.com/primary") == Some("true"));
    v.members = pods.iter().map(|(p, c)| member(kind, c, p, has_primary, &nodes.zones)).collect();

    v.components = status_components(kind, cr);
    if v.components.is_empty() {
        v.components = spec_components(kind, cr)
            .into_iter()
            .map(|(c, size)| ComponentView {
                kind: component_kind(kind, &c),
                ready: v.members.iter().filter(|m| m.component == c && m.ready).count() as u32,
                name: c,
                size,
                status: String::new(),
            })
            .collect();
    }

    // PVCs: the ones the cluster's pods mount (with the pod), then unmounted ones that carry the cluster's names.
    let mut used_by: HashMap<&str, &str> = HashMap::new();
    for (p, _) in &pods {
        for vol in p.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let (Some(claim), Some(pod)) = (vol.persistent_volume_claim.as_ref(), p.metadata.name.as_deref()) {
                used_by.insert(claim.claim_name.as_str(), pod);
            }
        }
    }
    let mut claims: Vec<(PvcView, &PersistentVolumeClaim)> = world
        .pvcs
        .iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter_map(|c| {
            let n = c.metadata.name.as_deref()?;
            match used_by.get(n) {
                Some(pod) => Some((pvc_view(c, Some(pod.to_string())), c)),
                None if pvc_is_clusters(kind, &name, c) => Some((pvc_view(c, None), c)),
                None => None,
            }
        })
        .collect();
    claims.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    v.pvcs = claims.iter().map(|(view, _)| view.clone()).collect();

    // Backups and restores, newest first.
    v.backups = world.backups.iter().filter(|b| belongs(b, kind, &ns, &name)).map(backup_view).collect();
    v.backups.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.name.cmp(&b.name)));
    v.restores = world.restores.iter().filter(|r| belongs(r, kind, &ns, &name)).map(restore_view).collect();
    v.restores.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.name.cmp(&b.name)));
    v.last_successful_backup = v.backups.iter().filter(|b| b.state == "Succeeded").filter_map(|b| b.completed).max();
    let (storages, plans) = backup_plan(kind, cr);
    v.pitr = pitr_view(kind, cr, !storages.is_empty(), v.latest_restorable_time());
    v.backup_storages = storages;
    v.next_scheduled_backup = plans
        .into_iter()
        .filter_map(|(schedule_name, cron, storage)| {
            let at = parse_cron(&cron).ok()?.next_after(now)?;
            Some(ScheduledBackupView { schedule_name, cron, storage, at })
        })
        .min_by_key(|p| p.at);

    v.conditions = conditions(cr);

    // Events about the cluster, its backups/restores and its pods and claims, newest first.
    let children: Vec<&str> = v
        .members
        .iter()
        .map(|m| m.pod.as_str())
        .chain(v.pvcs.iter().map(|p| p.name.as_str()))
        .chain(v.backups.iter().map(|b| b.name.as_str()))
        .chain(v.restores.iter().map(|r| r.name.as_str()))
        .collect();
    let (_, cr_kind) = kind.api_version_kind();
    let mut events: Vec<&Event> = world
        .events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            let on = o.name.as_deref().unwrap_or("");
            o.namespace.as_deref().or(e.metadata.namespace.as_deref()) == Some(ns.as_str())
                && ((o.kind.as_deref() == Some(cr_kind) && on == name)
                    || children.contains(&on)
                    || (matches!(o.kind.as_deref(), Some("StatefulSet" | "Deployment" | "Service" | "Job"))
                        && on.starts_with(&format!("{name}-"))))
        })
        .collect();
    events.sort_by(|a, b| event_order(a, b));
    v.events = events.into_iter().map(event_view).collect();

    // Why not ready.
    let mut why = Vec::new();
    if v.deleting.is_some() {
        for f in &v.finalizers {
            why.push(Reason {
                kind: ReasonKind::Finalizer,
                source: f.clone(),
                message: "deletion waits until the operator finishes this clean-up and removes the finalizer".into(),
            });
        }
    }
    why.extend(node_reasons(&pods, nodes));
    for (p, _) in &pods {
        why.extend(pod_reasons(p, &ns, &world.events, nodes));
    }
    for (view, pvc) in &claims {
        why.extend(claim_reason(pvc, &ns, &world.events, view.used_by.as_deref()));
    }
    why.extend(failing_conditions(&v.conditions));
    for c in &v.components {
        if c.ready < c.size {
            // Name the pods that are short, so the count points somewhere.
            let unready: Vec<String> = v
                .members
                .iter()
                .filter(|m| m.component == c.name && !m.ready)
                .map(|m| match &m.node {
                    Some(n) => format!("{} on {n}", m.pod),
                    None => format!("{} (not scheduled)", m.pod),
                })
                .collect();
            let detail =
                if unready.is_empty() { String::new() } else { format!(": not ready: {}", unready.join(", ")) };
            why.push(Reason {
                kind: ReasonKind::Component,
                source: c.name.clone(),
                message: format!("{} of {} pods ready{detail}", c.ready, c.size),
            });
        }
    }
    match AnyResource::from_value(cr.clone()) {
        Ok(r) => why.extend(r.validate().0.into_iter().map(|p| Reason {
            kind: ReasonKind::Validation,
            source: p.path,
            message: p.message,
        })),
        Err(e) => why.push(Reason { kind: ReasonKind::Validation, source: "spec".into(), message: e.to_string() }),
    }
    v.why_not_ready = why;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn pxc_pod(name: &str, comp: &str, ready: bool, node: &str) -> Pod {
        pod(json!({
            "metadata": {"name": name, "namespace": "db", "labels": {
                "app.kubernetes.io/instance": name.split('-').next().unwrap(), "app.kubernetes.io/component": comp,
                "app.kubernetes.io/part-of": "percona-xtradb-cluster"}},
            "spec": {"nodeName": node, "containers": [{"name": comp}],
                     "volumes": [{"name": "datadir", "persistentVolumeClaim": {"claimName": format!("datadir-{name}")}}]},
            "status": {"phase": "Running", "startTime": "2026-03-01T10:00:00Z",
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                       "containerStatuses": [{"name": comp, "ready": ready, "restartCount": 2, "image": "x", "imageID": "",
                                              "state": {"running": {}}}]}
        }))
    }

    fn pxc_cr(status: Value) -> Value {
        json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
            "metadata": {"name": "cluster1", "namespace": "db", "creationTimestamp": "2026-03-01T09:00:00Z"},
            "spec": {"crVersion": "1.20.0",
                     "pxc": {"size": 3, "image": "percona/percona-xtradb-cluster:8.4.7-7.1",
                             "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "6G"}}}}},
                     "haproxy": {"enabled": true, "size": 3, "image": "percona/haproxy:2.8.17"},
                     "backup": {"image": "percona/percona-xtrabackup:8.4.0-5.1",
                                "storages": {"s3-us-west": {"type": "s3", "s3": {"bucket": "b", "credentialsSecret": "c"}}},
                                "schedule": [{"name": "daily", "schedule": "0 0 * * *", "storageName": "s3-us-west"}]}},
            "status": status
        })
    }

    #[test]
    fn pxc_without_status_says_no_operator_and_counts_pods() {
        let world = World {
            clusters: vec![pxc_cr(json!({}))],
            pods: vec![
                pxc_pod("cluster1-pxc-0", "pxc", true, "n1"),
                pxc_pod("cluster1-pxc-1", "pxc", false, "n2"),
                pxc_pod("cluster1-haproxy-0", "haproxy", true, "n1"),
                pxc_pod("other-pxc-0", "pxc", true, "n1"),
            ],
            nodes: vec![
                serde_json::from_value(
                    json!({"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "a"}}}),
                )
                .unwrap(),
            ],
            ..Default::default()
        };
        let v = &build_all(&world, now())[0];
        assert_eq!(v.state, ClusterState::Unknown(String::new()));
        assert_eq!(v.state_reason.as_deref(), Some(NO_OPERATOR));
        assert_eq!(v.members.len(), 3, "the other cluster's pod is not ours");
        let pxc = v.components.iter().find(|c| c.name == "pxc").unwrap();
        assert_eq!((pxc.size, pxc.ready), (3, 1));
        assert_eq!(v.members[1].role, Some(Role::GaleraMember));
        assert_eq!(v.members[1].zone.as_deref(), Some("a"));
        assert_eq!(v.members[1].restarts, 2);
        assert_eq!(v.members[0].role, Some(Role::Proxy));
        assert!(
            v.why_not_ready.iter().any(|r| r.kind == ReasonKind::Component
                && r.message == "1 of 3 pods ready: not ready: cluster1-pxc-1 on n2")
        );
        assert!(!v.why_not_ready.iter().any(|r| r.kind == ReasonKind::Validation), "{:?}", v.why_not_ready);
        let next = v.next_scheduled_backup.as_ref().unwrap();
        assert_eq!(next.at.to_rfc3339(), "2026-03-02T00:00:00+00:00");
        assert_eq!(v.backup_storages, ["s3-us-west"]);
        assert_eq!(v.version.as_deref(), Some("8.4.7-7.1"));
    }

    #[test]
    fn a_ps_status_message_string_is_the_state_reason() {
        let cr = json!({"apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
            "metadata": {"name": "inv", "namespace": "default"},
            "status": {"state": "ready", "message": "resizing volumes: 1 of 3 claims at 20Gi"}});
        let v = build(&cr, &World::default(), &NodeFacts::default(), now()).unwrap();
        assert_eq!(v.state_reason.as_deref(), Some("resizing volumes: 1 of 3 claims at 20Gi"));
        let mut pxc = pxc_cr(json!({"state": "ready", "message": ["resizing volumes: 0 of 3 claims at 20G"]}));
        pxc["metadata"]["namespace"] = json!("default");
        let v = build(&pxc, &World::default(), &NodeFacts::default(), now()).unwrap();
        assert_eq!(v.state_reason.as_deref(), Some("resizing volumes: 0 of 3 claims at 20G"));
    }

    #[test]
    fn status_components_win_and_unschedulable_pods_explain() {
        let mut p = pxc_pod("cluster1-pxc-2", "pxc", false, "");
        let st = p.status.as_mut().unwrap();
        st.phase = Some("Pending".into());
        st.conditions = Some(vec![
            serde_json::from_value(json!({"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient memory."}))
            .unwrap(),
        ]);
        let world = World {
            clusters: vec![pxc_cr(json!({"state": "initializing", "host": "cluster1-haproxy.db",
                "pxc": {"size": 3, "ready": 2, "status": "initializing"},
                "haproxy": {"size": 3, "ready": 3, "status": "ready"},
                "conditions": [{"type": "ready", "status": "True", "lastTransitionTime": "2026-03-01T10:00:00Z"},
                               {"type": "error", "status": "True", "reason": "ErrorReconcile", "message": "old", "lastTransitionTime": "2026-03-01T09:00:00Z"}]}))],
            pods: vec![p],
            pvcs: vec![
                serde_json::from_value(json!({"metadata": {"name": "datadir-cluster1-pxc-2", "namespace": "db"},
                "spec": {"resources": {"requests": {"storage": "6G"}}, "storageClassName": "standard"},
                "status": {"phase": "Bound", "capacity": {"storage": "6G"}}}))
                .unwrap(),
                serde_json::from_value(json!({"metadata": {"name": "datadir-cluster1-pxc-9", "namespace": "db"}}))
                    .unwrap(),
            ],
            ..Default::default()
        };
        let v = &build_all(&world, now())[0];
        assert_eq!(v.state, ClusterState::Initializing);
        assert_eq!(v.host.as_deref(), Some("cluster1-haproxy.db"));
        assert_eq!(v.components.len(), 2);
        assert_eq!((v.components[0].ready, v.components[0].status.as_str()), (2, "initializing"));
        let un: Vec<_> = v.why_not_ready.iter().filter(|r| r.kind == ReasonKind::Unschedulable).collect();
        assert_eq!(un.len(), 1);
        assert_eq!(un[0].source, "pod/cluster1-pxc-2");
        assert!(un[0].message.contains("Insufficient memory"));
        assert!(!v.why_not_ready.iter().any(|r| r.kind == ReasonKind::Condition), "an old error is history");
        assert_eq!(v.pvcs.len(), 2);
        assert_eq!(v.pvcs[0].used_by.as_deref(), Some("cluster1-pxc-2"));
        assert_eq!(v.pvcs[0].capacity.as_deref(), Some("6G"));
        assert_eq!(v.pvcs[1].used_by, None);
    }

    #[test]
    fn restores_say_why_and_pitr_says_when_it_is_unknown() {
        // Each operator keeps a restore's reason in its own field; bare step names are not reasons.
        let r = |status: Value| {
            restore_view(&json!({"metadata": {"name": "r"}, "spec": {"backupName": "b"}, "status": status}))
        };
        let pxc = r(json!({"state": "Restoring", "comments": "Job j: pod p is Pending: no nodes"}));
        assert_eq!(pxc.error.as_deref(), Some("Job j: pod p is Pending: no nodes"));
        let ps = r(json!({"state": "Running", "stateDescription": "Restoring"}));
        assert_eq!(ps.error, None);
        let pg = r(json!({"state": "Failed", "message": "backup b failed; there is nothing to restore"}));
        assert_eq!(pg.error.as_deref(), Some("backup b failed; there is nothing to restore"));

        let pxc_on = json!({"spec": {"backup": {"pitr": {"enabled": true}}}});
        let p = pitr_view(ClusterKind::Pxc, &pxc_on, true, None).unwrap();
        assert!(p.unknown_reason.unwrap().contains("latestRestorableTime"));
        assert_eq!(pitr_view(ClusterKind::Pxc, &json!({"spec": {}}), true, None), None, "PITR off");
        let t = Utc::now();
        let p = pitr_view(ClusterKind::Pg, &json!({}), true, Some(t)).unwrap();
        assert_eq!((p.latest_restorable_time, p.unknown_reason), (Some(t), None));
    }

    #[test]
    fn ps_roles_from_the_primary_label_and_backups() {
        let ps_pod = |name: &str, primary: Option<&str>| {
            let mut labels = json!({"app.kubernetes.io/instance": "ps1", "app.kubernetes.io/name": "mysql"});
            if let Some(p) = primary {
                labels["mysql.percona.com/primary"] = json!(p);
            }
            pod(json!({"metadata": {"name": name, "namespace": "db", "labels": labels}}))
        };
        let cr = json!({"apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
            "metadata": {"name": "ps1", "namespace": "db"},
            "spec": {"mysql": {"clusterType": "async", "size": 2}}});
        let backup = |name: &str, state: &str, done: &str| {
            json!({"apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLBackup",
                   "metadata": {"name": name, "namespace": "db", "creationTimestamp": "2026-03-01T01:00:00Z"},
                   "spec": {"clusterName": "ps1", "storageName": "s3"},
                   "status": {"state": state, "completed": done}})
        };
        let mut world = World {
            clusters: vec![cr],
            pods: vec![ps_pod("ps1-mysql-0", None), ps_pod("ps1-mysql-1", None)],
            backups: vec![
                backup("b1", "Succeeded", "2026-03-01T02:00:00Z"),
                backup("b2", "Failed", "2026-03-01T03:00:00Z"),
                json!({"kind": "PerconaXtraDBClusterBackup", "metadata": {"name": "x", "namespace": "db"},
                       "spec": {"pxcCluster": "ps1"}}),
            ],
            ..Default::default()
        };
        let v = build_all(&world, now()).remove(0);
        assert_eq!(v.kind, ClusterKind::Ps { cluster_type: PsClusterType::Async });
        assert!(v.members.iter().all(|m| m.role.is_none()), "no label, no made-up role");
        assert_eq!(v.backups.len(), 2, "a PXC backup naming the same cluster is not this cluster's");
        assert_eq!(v.last_successful_backup.unwrap().to_rfc3339(), "2026-03-01T02:00:00+00:00");
        world.pods[1] = ps_pod("ps1-mysql-1", Some("true"));
        let v = build_all(&world, now()).remove(0);
        assert_eq!(v.members[0].role, Some(Role::Replica));
        assert_eq!(v.members[1].role, Some(Role::Source));
        assert_eq!(v.members[1].lag, LagView::NotApplicable);
        assert!(matches!(v.members[0].lag, LagView::Unknown { .. }));
    }

    #[test]
    fn pg_roles_deleting_finalizers_failing_conditions_and_validation() {
        let pg_pod = |name: &str, role: &str| {
            pod(json!({"metadata": {"name": name, "namespace": "db", "labels": {
                "postgres-operator.crunchydata.com/cluster": "pg1",
                "postgres-operator.crunchydata.com/instance-set": "instance1",
                "postgres-operator.crunchydata.com/role": role}}}))
        };
        let cr = json!({"apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
            "metadata": {"name": "pg1", "namespace": "db", "deletionTimestamp": "2026-03-01T11:00:00Z",
                         "finalizers": ["percona.com/delete-pvc"]},
            "spec": {"postgresVersion": 99, "instances": [{"name": "instance1", "replicas": 2}]},
            "status": {"state": "ready", "postgres": {"size": 2, "ready": 2, "instances": [{"name": "instance1", "size": 2, "ready": 2}]},
                       "conditions": [{"type": "ProxyAvailable", "status": "False", "reason": "NoPods", "message": "0 pgbouncer pods"}]}});
        let world = World {
            clusters: vec![cr],
            pods: vec![pg_pod("pg1-instance1-abcd-0", "master"), pg_pod("pg1-instance1-efgh-0", "replica")],
            events: vec![
                serde_json::from_value(json!({"metadata": {"name": "e1", "namespace": "db"},
                "involvedObject": {"kind": "PerconaPGCluster", "name": "pg1", "namespace": "db"},
                "reason": "Deleting", "message": "m", "type": "Warning", "lastTimestamp": "2026-03-01T11:00:00Z"}))
                .unwrap(),
            ],
            ..Default::default()
        };
        let v = build_all(&world, now()).remove(0);
        assert_eq!(v.display_state(), "deleting");
        assert_eq!(v.members[0].role, Some(Role::Primary));
        assert_eq!(v.members[1].role, Some(Role::Standby));
        let kinds: Vec<_> = v.why_not_ready.iter().map(|r| (r.kind, r.source.as_str())).collect();
        assert!(kinds.contains(&(ReasonKind::Finalizer, "percona.com/delete-pvc")), "{kinds:?}");
        assert!(kinds.contains(&(ReasonKind::Condition, "condition/ProxyAvailable")), "{kinds:?}");
        assert!(kinds.contains(&(ReasonKind::Validation, "spec.postgresVersion")), "{kinds:?}");
        assert_eq!(v.events.len(), 1);
        assert_eq!(v.events[0].object, "PerconaPGCluster/pg1");
        assert_eq!(v.version.as_deref(), Some("99"));
    }

    fn event(kind: &str, name: &str, typ: &str, reason: &str, message: &str, at: &str) -> Event {
        serde_json::from_value(json!({"metadata": {"name": format!("{name}.{reason}.{at}"), "namespace": "db"},
            "involvedObject": {"kind": kind, "name": name, "namespace": "db"},
            "type": typ, "reason": reason, "message": message, "lastTimestamp": at}))
        .unwrap()
    }

    fn node(name: &str, ready: bool) -> Node {
        let (status, reason, message) = if ready {
            ("True", "KubeletReady", "kubelet is posting ready status")
        } else {
            ("False", "KubeletNotReady", "container runtime is down")
        };
        serde_json::from_value(json!({"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message}]}}))
        .unwrap()
    }

    fn ready_cluster() -> Value {
        pxc_cr(json!({"state": "initializing", "pxc": {"size": 3, "ready": 2, "status": "initializing"},
                      "haproxy": {"size": 3, "ready": 3, "status": "ready"}}))
    }

    /// A NotReady node names itself and the pods on it; the short count names the pods and nodes too.
    #[test]
    fn a_not_ready_node_names_the_node_and_its_pods() {
        let world = World {
            clusters: vec![ready_cluster()],
            pods: vec![
                pxc_pod("cluster1-pxc-0", "pxc", true, "n1"),
                pxc_pod("cluster1-pxc-1", "pxc", false, "n2"),
                pxc_pod("cluster1-pxc-2", "pxc", true, "n3"),
            ],
            nodes: vec![node("n1", true), node("n2", false), node("n3", true)],
            ..Default::default()
        };
        let v = &build_all(&world, now())[0];
        let node = v.why_not_ready.iter().find(|r| r.kind == ReasonKind::Node).expect("a node reason");
        assert_eq!(node.source, "node/n2");
        assert_eq!(
            node.message,
            "node is NotReady (KubeletNotReady: container runtime is down); pod cluster1-pxc-1 on it is not ready"
        );
        assert!(!v.why_not_ready.iter().any(|r| r.kind == ReasonKind::Pod), "the node says it: {:?}", v.why_not_ready);
        let comp = v.why_not_ready.iter().find(|r| r.kind == ReasonKind::Component).unwrap();
        assert_eq!(comp.message, "2 of 3 pods ready: not ready: cluster1-pxc-1 on n2");
    }

    /// A waiting container says its reason and message, a running but unready one its failing readiness probe (from
    /// the kubelet's Unhealthy Event when there is one), each with the node; a Pending pod the scheduler's
    /// FailedScheduling message from its Event.
    #[test]
    fn unready_pods_say_why_with_their_node() {
        let mut crash = pxc_pod("cluster1-pxc-0", "pxc", false, "n1");
        let cs = &mut crash.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0];
        cs.state = Some(
            serde_json::from_value(json!({"waiting": {"reason": "CreateContainerConfigError",
                "message": "secret \"internal-cluster1\" not found"}}))
            .unwrap(),
        );
        let probe = pxc_pod("cluster1-pxc-1", "pxc", false, "n2");
        let quiet = pxc_pod("cluster1-pxc-2", "pxc", false, "n3");
        let mut pending = pxc_pod("cluster1-haproxy-0", "haproxy", false, "");
        pending.spec.as_mut().unwrap().node_name = None;
        let st = pending.status.as_mut().unwrap();
        st.phase = Some("Pending".into());
        st.conditions = None;
        st.container_statuses = None;
        let world = World {
            clusters: vec![ready_cluster()],
            pods: vec![crash, probe, quiet, pending],
            nodes: vec![node("n1", true), node("n2", true), node("n3", true)],
            events: vec![
                event(
                    "Pod",
                    "cluster1-pxc-1",
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: ERROR 2003",
                    "2026-03-01T11:00:00Z",
                ),
                event("Pod", "cluster1-haproxy-0", "Warning", "FailedScheduling", "old", "2026-03-01T10:00:00Z"),
                event(
                    "Pod",
                    "cluster1-haproxy-0",
                    "Warning",
                    "FailedScheduling",
                    "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
                    "2026-03-01T11:00:00Z",
                ),
            ],
            ..Default::default()
        };
        let v = &build_all(&world, now())[0];
        let of = |pod: &str| -> Vec<&Reason> {
            v.why_not_ready.iter().filter(|r| r.source == format!("pod/{pod}")).collect()
        };
        let crash = of("cluster1-pxc-0");
        assert_eq!(crash.len(), 1, "{:?}", v.why_not_ready);
        assert_eq!(
            crash[0].message,
            "on node n1: container pxc: CreateContainerConfigError: secret \"internal-cluster1\" not found"
        );
        assert_eq!(of("cluster1-pxc-1")[0].message, "on node n2: Readiness probe failed: ERROR 2003");
        assert_eq!(
            of("cluster1-pxc-2")[0].message,
            "on node n3: container pxc is running but not ready: its readiness probe is failing"
        );
        let pending = of("cluster1-haproxy-0");
        assert_eq!(pending[0].kind, ReasonKind::Unschedulable);
        assert_eq!(pending[0].message, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.");
    }

    /// A claim that does not bind names itself and the cause: the provisioner's Event, else the class it waits on.
    #[test]
    fn pending_claims_name_the_claim_and_the_cause() {
        let claim = |name: &str, class: &str| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "db"},
                "spec": {"storageClassName": class, "resources": {"requests": {"storage": "6G"}}},
                "status": {"phase": "Pending"}}))
            .unwrap()
        };
        let mut waiting = pxc_pod("cluster1-pxc-0", "pxc", false, "");
        waiting.spec.as_mut().unwrap().node_name = None;
        waiting.status.as_mut().unwrap().phase = Some("Pending".into());
        let world = World {
            clusters: vec![ready_cluster()],
            pods: vec![waiting],
            pvcs: vec![claim("datadir-cluster1-pxc-0", "fast"), claim("datadir-cluster1-pxc-1", "slow")],
            events: vec![event(
                "PersistentVolumeClaim",
                "datadir-cluster1-pxc-0",
                "Warning",
                "ProvisioningFailed",
                "storageclass.storage.k8s.io \"fast\" not found",
                "2026-03-01T11:00:00Z",
            )],
            ..Default::default()
        };
        let v = &build_all(&world, now())[0];
        let claims: Vec<(&str, &str)> = v
            .why_not_ready
            .iter()
            .filter(|r| r.kind == ReasonKind::Claim)
            .map(|r| (r.source.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(
            claims,
            [
                (
                    "pvc/datadir-cluster1-pxc-0",
                    "Pending: ProvisioningFailed: storageclass.storage.k8s.io \"fast\" not found; pod cluster1-pxc-0 \
                     waits for it"
                ),
                ("pvc/datadir-cluster1-pxc-1", "Pending: waiting for a volume of StorageClass \"slow\" to be bound"),
            ]
        );
    }
}
