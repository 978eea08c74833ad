//! The scheduler's decision for one pending pod: filter the nodes like the default kube-scheduler plugins
//! (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit, InterPodAffinity, in that order,
//! stopping at the first failing plugin per node), score the feasible ones and pick the best
//! deterministically. When nothing fits, the error carries the upstream `FitError` message so that
//! `kubectl describe pod` reads as on a real cluster.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use thiserror::Error;

use super::labels::{labels_of, node_selector_term_matches, selector_matches};
use super::nodes::{TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE, Taint, taints_of};
use super::quantity::parse_milli;
use super::{condition_status, name_of, namespace_of};

pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";

// Reason strings of the upstream filter plugins (pkg/scheduler/framework/plugins).
const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const REASON_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const REASON_POD_AFFINITY: &str = "node(s) didn't match pod affinity rules";
const REASON_POD_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
const REASON_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
const REASON_TOO_MANY_PODS: &str = "Too many pods";
const PREEMPTION_NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream `ErrNoNodesAvailable`.
const NO_NODES: &str = "no nodes available to schedule pods";

/// Requests the scoring assumes for a container that sets none (upstream `DefaultMilliCPURequest` and
/// `DefaultMemoryRequest`), so that empty pods still spread.
const NONZERO_CPU_MILLI: i128 = 100;
const NONZERO_MEMORY_MILLI: i128 = 200 * 1024 * 1024 * 1000;

/// No node can take the pod. `message` is the scheduler's text for the `PodScheduled` condition.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct Unschedulable {
    pub message: String,
    /// Each filter reason with the number of nodes it was reported for.
    pub reasons: BTreeMap<String, usize>,
}

impl Unschedulable {
    /// The `PodScheduled=False` condition a pending pod carries.
    pub fn pod_scheduled_condition(&self, now: DateTime<Utc>) -> Value {
        json!({
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": self.message,
            "lastProbeTime": null,
            "lastTransitionTime": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
    }
}

/// Why one node was filtered out. `resolvable` is false for upstream `UnschedulableAndUnresolvable`
/// statuses, on which preemption is "not helpful".
struct NodeFailure {
    reasons: Vec<String>,
    resolvable: bool,
}

impl NodeFailure {
    fn unresolvable(reason: impl Into<String>) -> Self {
        NodeFailure { reasons: vec![reason.into()], resolvable: false }
    }
    fn resolvable(reasons: Vec<String>) -> Self {
        NodeFailure { reasons, resolvable: true }
    }
}

/// What the scheduler knows about one node: its labels and what the pods already bound to it use.
struct NodeInfo {
    node: Value,
    name: String,
    allocatable: Resources,
    taints: Vec<Taint>,
    labels: Map<String, Value>,
    requested: BTreeMap<String, i128>,
    nonzero_cpu: i128,
    nonzero_memory: i128,
    pods: Vec<BoundPod>,
}

/// What the scheduler needs of a pod bound to a node, read once.
struct BoundPod {
    name: String,
    requests: Resources,
    nonzero: (i128, i128),
    labels: Map<String, Value>,
    namespace: String,
    anti_terms: Vec<Value>,
    controller_uid: Option<String>,
}

impl NodeInfo {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).and_then(Value::as_str)
    }
}

type Resources = BTreeMap<String, i128>;

fn container_requests(c: &Value) -> Resources {
    let mut out = Resources::new();
    // The API server defaults a missing request to the limit; the store may not, so do it here.
    for source in ["limits", "requests"] {
        if let Some(map) = c.pointer(&format!("/resources/{source}")).and_then(Value::as_object) {
            for (k, v) in map {
                let q = match v {
                    Value::String(s) => parse_milli(s).ok(),
                    Value::Number(n) => n.as_f64().map(|f| (f * 1000.0).ceil() as i128),
                    _ => None,
                };
                if let Some(q) = q {
                    out.insert(k.clone(), q);
                }
            }
        }
    }
    out
}

fn add_into(into: &mut Resources, from: &Resources) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn max_into(into: &mut Resources, from: &Resources) {
    for (k, v) in from {
        let e = into.entry(k.clone()).or_default();
        *e = (*e).max(*v);
    }
}

fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// A pod's effective requests in milli-units: the sum over containers, raised to the peak of init
/// containers (sidecars — init containers with `restartPolicy: Always` — keep running and add up),
/// plus `spec.overhead`.
pub fn pod_requests(pod: &Value) -> Resources {
    let mut containers = Resources::new();
    for c in array(pod, "/spec/containers") {
        add_into(&mut containers, &container_requests(c));
    }
    let mut sidecars = Resources::new();
    let mut init_peak = Resources::new();
    for c in array(pod, "/spec/initContainers") {
        let req = container_requests(c);
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            add_into(&mut sidecars, &req);
            max_into(&mut init_peak, &sidecars);
        } else {
            let mut during = sidecars.clone();
            add_into(&mut during, &req);
            max_into(&mut init_peak, &during);
        }
    }
    add_into(&mut containers, &sidecars);
    max_into(&mut containers, &init_peak);
    if let Some(overhead) = pod.pointer("/spec/overhead") {
        add_into(&mut containers, &container_requests(&json!({"resources": {"requests": overhead}})));
    }
    containers
}

/// cpu and memory requests for scoring, with the non-zero defaults for containers that set none.
fn nonzero_requests(pod: &Value) -> (i128, i128) {
    array(pod, "/spec/containers").iter().fold((0, 0), |(cpu, mem), c| {
        let r = container_requests(c);
        (
            cpu + r.get("cpu").copied().filter(|v| *v > 0).unwrap_or(NONZERO_CPU_MILLI),
            mem + r.get("memory").copied().filter(|v| *v > 0).unwrap_or(NONZERO_MEMORY_MILLI),
        )
    })
}

fn same_pod(a: &Value, b: &Value) -> bool {
    name_of(a) == name_of(b) && namespace_of(a) == namespace_of(b)
}

fn pod_counts(pod: &Value) -> bool {
    !matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"))
}

/// The cluster as the scheduler sees it: nodes with what their bound pods use. Build it once and
/// [`Snapshot::assume`] each binding to schedule many pods without re-reading every pod each time.
pub struct Snapshot {
    infos: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Where each assumed pod (namespace, name) is counted, so a later state of it replaces the earlier one.
    placed: HashMap<(String, String), usize>,
}

impl Snapshot {
    /// A snapshot of `nodes` with `bound_pods` (pods without `spec.nodeName`, on unknown nodes or
    /// finished are ignored).
    pub fn new<'a>(nodes: &[Value], bound_pods: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut snapshot = Snapshot::with_nodes(nodes);
        for p in bound_pods {
            snapshot.assume(p);
        }
        snapshot
    }

    fn with_nodes(nodes: &[Value]) -> Self {
        let infos: Vec<NodeInfo> = nodes
            .iter()
            .map(|n| NodeInfo {
                node: n.clone(),
                name: name_of(n).to_string(),
                allocatable: n
                    .pointer("/status/allocatable")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), parse_milli(v.as_str()?).ok()?))).collect())
                    .unwrap_or_default(),
                taints: effective_taints(n),
                labels: labels_of(n),
                requested: Resources::new(),
                nonzero_cpu: 0,
                nonzero_memory: 0,
                pods: Vec::new(),
            })
            .collect();
        let index = infos.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        Snapshot { infos, index, placed: HashMap::new() }
    }

    /// Accounts for a pod bound to `spec.nodeName` (as the scheduler cache "assumes" a binding). A pod
    /// assumed before is replaced by this state of it, so the snapshot can follow pods as they change.
    pub fn assume(&mut self, pod: &Value) {
        self.forget(namespace_of(pod), name_of(pod));
        if !pod_counts(pod) {
            return;
        }
        let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) else {
            return;
        };
        if let Some(&i) = self.index.get(node) {
            let info = &mut self.infos[i];
            let requests = pod_requests(pod);
            add_into(&mut info.requested, &requests);
            let (c, m) = nonzero_requests(pod);
            info.nonzero_cpu += c;
            info.nonzero_memory += m;
            self.placed.insert((namespace_of(pod).to_string(), name_of(pod).to_string()), i);
            info.pods.push(BoundPod {
                name: name_of(pod).to_string(),
                requests,
                nonzero: (c, m),
                labels: labels_of(pod),
                namespace: namespace_of(pod).to_string(),
                anti_terms: array(pod, &format!("/spec/affinity/podAntiAffinity/{REQUIRED}")).to_vec(),
                controller_uid: controller_uid(pod).map(str::to_string),
            });
        }
    }

    /// Stops counting a pod (deleted, unbound or finished); nothing happens for a pod not counted.
    pub fn forget(&mut self, namespace: &str, name: &str) {
        let Some(i) = self.placed.remove(&(namespace.to_string(), name.to_string())) else { return };
        let info = &mut self.infos[i];
        let Some(at) = info.pods.iter().position(|p| p.name == name && p.namespace == namespace) else { return };
        let gone = info.pods.swap_remove(at);
        for (k, v) in &gone.requests {
            *info.requested.entry(k.clone()).or_default() -= v;
        }
        info.nonzero_cpu -= gone.nonzero.0;
        info.nonzero_memory -= gone.nonzero.1;
    }

    /// Picks the node for `pod`, which must not be among the pods already assumed. Ties go to the
    /// node whose name sorts first.
    pub fn schedule(&self, pod: &Value) -> Result<String, Unschedulable> {
        if self.infos.is_empty() {
            return Err(Unschedulable { message: NO_NODES.to_string(), reasons: BTreeMap::new() });
        }
        let infos = &self.infos;
        let pod_req = pod_requests(pod);
        let affinity = PodAffinity::build(pod, infos);
        let mut feasible = Vec::new();
        let mut failures = Vec::new();
        for info in infos {
            match filter(pod, &pod_req, info, &affinity) {
                Ok(()) => feasible.push(info),
                Err(f) => failures.push(f),
            }
        }
        if feasible.is_empty() {
            return Err(fit_error(pod, infos.len(), &failures));
        }
        let scores = score(pod, &feasible, infos, &affinity);
        let best = (0..feasible.len())
            .max_by(|&a, &b| scores[a].cmp(&scores[b]).then_with(|| feasible[b].name.cmp(&feasible[a].name)))
            .unwrap_or(0);
        Ok(feasible[best].name.clone())
    }
}

/// Whether a toleration tolerates a taint (upstream `Toleration.ToleratesTaint`).
pub fn tolerates(toleration: &Value, taint: &Taint) -> bool {
    let s = |k: &str| toleration.get(k).and_then(Value::as_str).unwrap_or("");
    if !s("effect").is_empty() && s("effect") != taint.effect {
        return false;
    }
    let op = if s("operator").is_empty() { "Equal" } else { s("operator") };
    if s("key").is_empty() {
        // An empty key with Exists tolerates every taint; with Equal it is invalid and tolerates nothing.
        return op == "Exists";
    }
    if s("key") != taint.key {
        return false;
    }
    match op {
        "Exists" => true,
        "Equal" => s("value") == taint.value,
        _ => false,
    }
}

fn pod_tolerates(pod: &Value, taint: &Taint) -> bool {
    array(pod, "/spec/tolerations").iter().any(|t| tolerates(t, taint))
}

/// The node's taints plus the one the node lifecycle controller would have added for a node that is
/// not Ready, so a NotReady node repels pods even if no controller has tainted it yet.
fn effective_taints(node: &Value) -> Vec<Taint> {
    let mut taints = taints_of(node);
    let implicit = match condition_status(node, "Ready") {
        Some("True") => None,
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => Some(TAINT_NOT_READY),
    };
    if let Some(key) = implicit
        && !taints.iter().any(|t| t.key == key && t.effect == "NoSchedule")
    {
        taints.push(Taint::new(key, "", "NoSchedule"));
    }
    taints
}

fn node_affinity_matches(pod: &Value, node: &NodeInfo) -> bool {
    if let Some(sel) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object)
        && sel.iter().any(|(k, v)| node.label(k) != v.as_str())
    {
        return false;
    }
    match pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution") {
        Some(req) if !req.is_null() => {
            array(req, "/nodeSelectorTerms").iter().any(|t| node_selector_term_matches(t, &node.node))
        }
        _ => true,
    }
}

fn resource_reasons(pod_req: &Resources, node: &NodeInfo) -> Vec<String> {
    let alloc = &node.allocatable;
    let mut reasons = Vec::new();
    let max_pods = alloc.get("pods").copied().unwrap_or(0) / 1000;
    if node.pods.len() as i128 + 1 > max_pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    // Upstream order: cpu, memory, ephemeral-storage, then extended resources.
    let mut order: Vec<&str> = vec!["cpu", "memory", "ephemeral-storage"];
    order.extend(
        pod_req.keys().map(String::as_str).filter(|k| !["cpu", "memory", "ephemeral-storage", "pods"].contains(k)),
    );
    for r in order {
        let want = pod_req.get(r).copied().unwrap_or(0);
        if want <= 0 {
            continue;
        }
        let free = alloc.get(r).copied().unwrap_or(0) - node.requested.get(r).copied().unwrap_or(0);
        if want > free {
            reasons.push(format!("Insufficient {r}"));
        }
    }
    reasons
}

/// Whether a pod-affinity term declared by a pod in `owner_ns` selects a pod of namespace `ns` with
/// `labels`. With neither `namespaces` nor `namespaceSelector` the term is about the owner's
/// namespace. Namespace labels are not known here, so a namespaceSelector sees only
/// `kubernetes.io/metadata.name`, which every namespace carries.
fn term_selects(term: &Value, owner_ns: &str, ns: &str, labels: &Map<String, Value>) -> bool {
    let names = array(term, "/namespaces");
    let ns_selector = term.get("namespaceSelector").filter(|s| !s.is_null());
    let ns_ok = if names.is_empty() && ns_selector.is_none() {
        ns == owner_ns
    } else {
        names.iter().any(|n| n.as_str() == Some(ns))
            || ns_selector.is_some_and(|sel| {
                let mut l = Map::new();
                l.insert("kubernetes.io/metadata.name".into(), json!(ns));
                selector_matches(Some(sel), &l)
            })
    };
    ns_ok && selector_matches(term.get("labelSelector"), labels)
}

fn topology_key(term: &Value) -> &str {
    term.get("topologyKey").and_then(Value::as_str).unwrap_or("")
}

/// One pod-affinity term of the incoming pod with, per value of its topology key, how many bound pods
/// it selects there. Built once per scheduling so each node is checked in constant time.
struct TermDomains {
    key: String,
    counts: HashMap<String, i128>,
    weight: i128,
}

impl TermDomains {
    fn build(term: &Value, owner_ns: &str, infos: &[NodeInfo], weight: i128) -> Self {
        let key = topology_key(term).to_string();
        let mut counts = HashMap::new();
        for n in infos {
            let Some(v) = n.label(&key) else { continue };
            let c = n.pods.iter().filter(|p| term_selects(term, owner_ns, &p.namespace, &p.labels)).count();
            if c > 0 {
                *counts.entry(v.to_string()).or_insert(0) += c as i128;
            }
        }
        TermDomains { key, counts, weight }
    }

    /// Bound pods the term selects in the candidate's domain (0 when the node lacks the key).
    fn count_on(&self, node: &NodeInfo) -> i128 {
        node.label(&self.key).and_then(|v| self.counts.get(v)).copied().unwrap_or(0)
    }
}

/// Inter-pod (anti-)affinity of the incoming pod against the bound pods, precomputed.
struct PodAffinity {
    required: Vec<TermDomains>,
    self_match: bool,
    anti: Vec<TermDomains>,
    /// Topology domains (key → values) that bound pods' required anti-affinity closes to this pod.
    existing_anti: HashMap<String, HashSet<String>>,
    preferred: Vec<TermDomains>,
}

const REQUIRED: &str = "requiredDuringSchedulingIgnoredDuringExecution";
const PREFERRED: &str = "preferredDuringSchedulingIgnoredDuringExecution";

impl PodAffinity {
    fn build(pod: &Value, infos: &[NodeInfo]) -> Self {
        let ns = namespace_of(pod);
        let labels = labels_of(pod);
        let terms = |kind: &str| array(pod, &format!("/spec/affinity/{kind}/{REQUIRED}"));
        // As upstream, affinity counts only pods that match all the required terms together.
        let affinity_terms = terms("podAffinity");
        let required: Vec<TermDomains> = affinity_terms
            .iter()
            .map(|t| {
                let key = topology_key(t).to_string();
                let mut counts = HashMap::new();
                for n in infos {
                    let Some(v) = n.label(&key) else { continue };
                    let c = n
                        .pods
                        .iter()
                        .filter(|p| affinity_terms.iter().all(|t| term_selects(t, ns, &p.namespace, &p.labels)))
                        .count();
                    if c > 0 {
                        *counts.entry(v.to_string()).or_insert(0) += c as i128;
                    }
                }
                TermDomains { key, counts, weight: 1 }
            })
            .collect();
        let self_match = terms("podAffinity").iter().all(|t| term_selects(t, ns, ns, &labels));
        let anti = terms("podAntiAffinity").iter().map(|t| TermDomains::build(t, ns, infos, 1)).collect();
        let mut existing_anti: HashMap<String, HashSet<String>> = HashMap::new();
        for n in infos {
            for p in &n.pods {
                for t in &p.anti_terms {
                    let key = topology_key(t);
                    if let Some(v) = n.label(key)
                        && term_selects(t, &p.namespace, ns, &labels)
                    {
                        existing_anti.entry(key.to_string()).or_default().insert(v.to_string());
                    }
                }
            }
        }
        let mut preferred = Vec::new();
        for (kind, sign) in [("podAffinity", 1), ("podAntiAffinity", -1)] {
            for w in array(pod, &format!("/spec/affinity/{kind}/{PREFERRED}")) {
                let weight = w.get("weight").and_then(Value::as_i64).unwrap_or(0) as i128;
                let term = w.get("podAffinityTerm").cloned().unwrap_or(Value::Null);
                preferred.push(TermDomains::build(&term, ns, infos, sign * weight));
            }
        }
        PodAffinity { required, self_match, anti, existing_anti, preferred }
    }

    /// The InterPodAffinity filter: the pod's affinity, its anti-affinity, then bound pods' anti-affinity.
    fn check(&self, candidate: &NodeInfo) -> Result<(), NodeFailure> {
        if !self.required.iter().all(|t| t.count_on(candidate) > 0) {
            // The first pod of a group may follow itself: allowed when no pod anywhere matches the
            // terms yet and the pod matches all of them.
            let any_match = self.required.iter().any(|t| !t.counts.is_empty());
            let has_keys = self.required.iter().all(|t| candidate.label(&t.key).is_some());
            if any_match || !self.self_match || !has_keys {
                return Err(NodeFailure::unresolvable(REASON_POD_AFFINITY));
            }
        }
        if self.anti.iter().any(|t| t.count_on(candidate) > 0) {
            return Err(NodeFailure::resolvable(vec![REASON_POD_ANTI_AFFINITY.into()]));
        }
        let closed = self.existing_anti.iter().any(|(k, vs)| candidate.label(k).is_some_and(|v| vs.contains(v)));
        if closed {
            return Err(NodeFailure::resolvable(vec![REASON_EXISTING_ANTI_AFFINITY.into()]));
        }
        Ok(())
    }

    fn preferred_score(&self, node: &NodeInfo) -> i128 {
        self.preferred.iter().map(|t| t.weight * t.count_on(node)).sum()
    }
}

fn filter(pod: &Value, pod_req: &Resources, node: &NodeInfo, affinity: &PodAffinity) -> Result<(), NodeFailure> {
    if node.node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true)
        && !pod_tolerates(pod, &Taint::new(TAINT_UNSCHEDULABLE, "", "NoSchedule"))
    {
        return Err(NodeFailure::unresolvable(REASON_UNSCHEDULABLE));
    }
    if let Some(t) =
        node.taints.iter().find(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !pod_tolerates(pod, t))
    {
        return Err(NodeFailure::unresolvable(format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value)));
    }
    if !node_affinity_matches(pod, node) {
        return Err(NodeFailure::unresolvable(REASON_NODE_AFFINITY));
    }
    let reasons = resource_reasons(pod_req, node);
    if !reasons.is_empty() {
        return Err(NodeFailure::resolvable(reasons));
    }
    affinity.check(node)
}

/// `"1 Insufficient cpu, 2 node(s) had …"`: counts per reason, sorted as strings like upstream.
fn histogram_text(hist: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = hist.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    parts.join(", ")
}

fn fit_error(pod: &Value, total: usize, failures: &[NodeFailure]) -> Unschedulable {
    let mut reasons = BTreeMap::new();
    let mut preemption = BTreeMap::new();
    for f in failures {
        for r in &f.reasons {
            *reasons.entry(r.clone()).or_insert(0) += 1;
        }
        let p = if f.resolvable { PREEMPTION_NO_VICTIMS } else { PREEMPTION_NOT_HELPFUL };
        *preemption.entry(p.to_string()).or_insert(0) += 1;
    }
    let post_filter = if pod.pointer("/spec/preemptionPolicy").and_then(Value::as_str) == Some("Never") {
        "preemption: not eligible due to preemptionPolicy=Never.".to_string()
    } else {
        // The sandbox has no pod priorities, so preemption never finds a lower-priority victim.
        format!("preemption: 0/{total} nodes are available: {}.", histogram_text(&preemption))
    };
    Unschedulable {
        message: format!("0/{total} nodes are available: {}. {post_filter}", histogram_text(&reasons)),
        reasons,
    }
}

fn normalize(raw: &[i128]) -> Vec<i128> {
    let (Some(&min), Some(&max)) = (raw.iter().min(), raw.iter().max()) else {
        return Vec::new();
    };
    raw.iter().map(|&r| if max == min { 0 } else { (r - min) * 100 / (max - min) }).collect()
}

fn least_allocated(node: &NodeInfo, pod_cpu: i128, pod_mem: i128) -> i128 {
    let alloc = |r: &str| node.allocatable.get(r).copied();
    let score = |cap: Option<i128>, used: i128| match cap {
        Some(cap) if cap > 0 && used <= cap => (cap - used) * 100 / cap,
        _ => 0,
    };
    (score(alloc("cpu"), node.nonzero_cpu + pod_cpu) + score(alloc("memory"), node.nonzero_memory + pod_mem)) / 2
}

fn controller_uid(pod: &Value) -> Option<&str> {
    array(pod, "/metadata/ownerReferences")
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|o| o.get("uid").and_then(Value::as_str))
}

/// Scores for the feasible nodes: least requested, preferred node affinity, preferred pod
/// (anti-)affinity and spreading of pods with the same controller over hostnames and zones, each
/// normalised to 0..=100 and summed.
fn score(pod: &Value, feasible: &[&NodeInfo], infos: &[NodeInfo], affinity: &PodAffinity) -> Vec<i128> {
    let (pod_cpu, pod_mem) = nonzero_requests(pod);
    let least: Vec<i128> = feasible.iter().map(|n| least_allocated(n, pod_cpu, pod_mem)).collect();

    let preferred_nodes = array(pod, &format!("/spec/affinity/nodeAffinity/{PREFERRED}"));
    let node_aff: Vec<i128> = feasible
        .iter()
        .map(|n| {
            preferred_nodes
                .iter()
                .filter(|p| p.get("preference").is_some_and(|t| node_selector_term_matches(t, &n.node)))
                .map(|p| p.get("weight").and_then(Value::as_i64).unwrap_or(0) as i128)
                .sum()
        })
        .collect();
    let node_aff_max = node_aff.iter().copied().max().unwrap_or(0);
    let node_aff: Vec<i128> =
        node_aff.iter().map(|s| if node_aff_max > 0 { s * 100 / node_aff_max } else { 0 }).collect();

    let pod_aff = normalize(&feasible.iter().map(|n| affinity.preferred_score(n)).collect::<Vec<_>>());

    let spread: Vec<i128> = match controller_uid(pod) {
        Some(owner) => {
            let siblings =
                |n: &NodeInfo| n.pods.iter().filter(|p| p.controller_uid.as_deref() == Some(owner)).count() as i128;
            let mut per_zone: HashMap<&str, i128> = HashMap::new();
            for n in infos {
                if let Some(z) = n.label(ZONE_KEY) {
                    *per_zone.entry(z).or_insert(0) += siblings(n);
                }
            }
            let raw: Vec<i128> = feasible
                .iter()
                .map(|n| 2 * siblings(n) + n.label(ZONE_KEY).and_then(|z| per_zone.get(z)).copied().unwrap_or(0))
                .collect();
            normalize(&raw).into_iter().map(|s| 100 - s).collect()
        }
        None => vec![0; feasible.len()],
    };

    (0..feasible.len()).map(|i| least[i] + node_aff[i] + pod_aff[i] + spread[i]).collect()
}

/// Picks the node for `pod` among `nodes`, given the pods already bound (`spec.nodeName` set; others,
/// finished pods and `pod` itself are ignored). Ties go to the node whose name sorts first.
pub fn schedule(pod: &Value, nodes: &[Value], bound_pods: &[Value]) -> Result<String, Unschedulable> {
    let mut snapshot = Snapshot::with_nodes(nodes);
    for p in bound_pods.iter().filter(|p| !same_pod(p, pod)) {
        snapshot.assume(p);
    }
    snapshot.schedule(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_follows_pods_that_change_and_go() {
        let nodes = make_nodes(2, &[]);
        let pod = |name: &str, node: &str, cpu: &str| {
            json!({"metadata": {"name": name, "namespace": "db", "labels": {"app": "x"}},
                   "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
                            "affinity": {"podAntiAffinity": {REQUIRED: [
                                {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}}})
        };
        let n0 = name_of(&nodes[0]).to_string();
        let n1 = name_of(&nodes[1]).to_string();
        let mut incremental = Snapshot::new(&nodes, []);
        incremental.assume(&pod("a", &n0, "1"));
        incremental.assume(&pod("a", &n0, "2")); // the same pod again: replaced, not added
        incremental.assume(&pod("b", &n1, "1"));
        let fresh = Snapshot::new(&nodes, [&pod("a", &n0, "2"), &pod("b", &n1, "1")]);
        for (x, y) in incremental.infos.iter().zip(&fresh.infos) {
            assert_eq!((x.pods.len(), &x.requested, x.nonzero_cpu), (y.pods.len(), &y.requested, y.nonzero_cpu));
        }
        // Anti-affinity: a third pod fits nowhere until one of the others is forgotten.
        assert!(incremental.schedule(&pod("c", "", "1")).is_err());
        incremental.forget("db", "b");
        assert_eq!(incremental.schedule(&pod("c", "", "1")).unwrap(), n1);
        assert_eq!(incremental.infos[1].requested.get("cpu"), Some(&0));
        incremental.forget("db", "nobody");
    }
    use crate::sandbox::sim::nodes::{make_nodes, set_cordoned, set_ready, set_taints};

    fn pod(name: &str, extra: Value) -> Value {
        let mut p = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "db", "labels": {"app": "mysql"}},
            "spec": {"containers": [{"name": "c", "image": "percona",
                      "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
        });
        merge(&mut p, extra);
        p
    }

    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn anti_affinity(key: &str) -> Value {
        json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "mysql"}}, "topologyKey": key}]}}}})
    }

    /// Schedules pods one after another, binding each, as the scheduler loop would.
    fn place_all(pods: Vec<Value>, nodes: &[Value], bound: &mut Vec<Value>) -> Vec<Result<String, Unschedulable>> {
        pods.into_iter()
            .map(|mut p| {
                let r = schedule(&p, nodes, bound);
                if let Ok(n) = &r {
                    p["spec"]["nodeName"] = json!(n);
                    bound.push(p);
                }
                r
            })
            .collect()
    }

    #[test]
    fn hostname_anti_affinity_three_then_fourth_unschedulable() {
        let nodes = make_nodes(3, &[]);
        let pods = (0..4).map(|i| pod(&format!("db-{i}"), anti_affinity(HOSTNAME_KEY))).collect();
        let mut bound = Vec::new();
        let results = place_all(pods, &nodes, &mut bound);
        let mut placed: Vec<String> = results[..3].iter().map(|r| r.clone().unwrap()).collect();
        placed.sort();
        assert_eq!(placed, ["dbdeck-node-1", "dbdeck-node-2", "dbdeck-node-3"]);
        let err = results[3].clone().unwrap_err();
        assert_eq!(
            err.message,
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
        let cond = err.pod_scheduled_condition(Utc::now());
        assert_eq!(cond["reason"], "Unschedulable");
        assert_eq!(cond["status"], "False");
    }

    #[test]
    fn zone_anti_affinity_one_per_zone() {
        let nodes = make_nodes(4, &["zone-a", "zone-b"]);
        let pods = (0..3).map(|i| pod(&format!("db-{i}"), anti_affinity(ZONE_KEY))).collect();
        let mut bound = Vec::new();
        let results = place_all(pods, &nodes, &mut bound);
        let zone_of = |n: &str| {
            nodes.iter().find(|x| name_of(x) == n).unwrap()["metadata"]["labels"][ZONE_KEY]
                .as_str()
                .unwrap()
                .to_string()
        };
        let z0 = zone_of(results[0].as_ref().unwrap());
        let z1 = zone_of(results[1].as_ref().unwrap());
        assert_ne!(z0, z1);
        assert_eq!(
            results[2].as_ref().unwrap_err().message,
            "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules. \
             preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn anti_affinity_ignores_other_namespaces_and_labels() {
        let nodes = make_nodes(1, &[]);
        let mut other_ns = pod("x", json!({"metadata": {"namespace": "other"}, "spec": {"nodeName": "dbdeck-node-1"}}));
        other_ns["metadata"]["labels"] = json!({"app": "mysql"});
        let other_app = pod("y", json!({"metadata": {"labels": {"app": "pg"}}, "spec": {"nodeName": "dbdeck-node-1"}}));
        let p = pod("db-0", anti_affinity(HOSTNAME_KEY));
        assert_eq!(schedule(&p, &nodes, &[other_ns, other_app]).unwrap(), "dbdeck-node-1");
    }

    #[test]
    fn existing_pods_anti_affinity_repels_newcomer() {
        let nodes = make_nodes(1, &[]);
        let mut existing = pod("guard", anti_affinity(HOSTNAME_KEY));
        existing["metadata"]["labels"] = json!({"app": "guard"});
        existing["spec"]["nodeName"] = json!("dbdeck-node-1");
        let err = schedule(&pod("db-0", json!({})), &nodes, &[existing]).unwrap_err();
        assert!(
            err.message
                .starts_with("0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.")
        );
    }

    #[test]
    fn pod_affinity_follows_and_first_pod_may_self_match() {
        let nodes = make_nodes(3, &[]);
        let aff = json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "mysql"}}, "topologyKey": HOSTNAME_KEY}]}}}});
        // Nothing matches yet, but the pod matches its own term: it may go anywhere.
        assert!(schedule(&pod("first", aff.clone()), &nodes, &[]).is_ok());
        let mut leader = pod("leader", json!({"spec": {"nodeName": "dbdeck-node-2"}}));
        leader["spec"]["containers"][0]["resources"] = json!({});
        assert_eq!(schedule(&pod("follower", aff.clone()), &nodes, &[leader]).unwrap(), "dbdeck-node-2");
        // A pod that does not match its own term and has no partner cannot be placed.
        let mut lonely = pod("lonely", aff);
        lonely["metadata"]["labels"] = json!({"app": "proxy"});
        let err = schedule(&lonely, &nodes, &[]).unwrap_err();
        assert_eq!(
            err.message,
            "0/3 nodes are available: 3 node(s) didn't match pod affinity rules. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn pod_affinity_terms_must_match_the_same_pod() {
        let nodes = make_nodes(3, &[]);
        let term = |app: &str, key: &str| json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key});
        let two_terms = json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            term("mysql", HOSTNAME_KEY), term("proxy", ZONE_KEY)]}}}});
        // One pod matches the first term, another the second: no single pod matches both.
        let mysql = pod("m", json!({"spec": {"nodeName": "dbdeck-node-1"}}));
        let proxy = pod("p", json!({"metadata": {"labels": {"app": "proxy"}}, "spec": {"nodeName": "dbdeck-node-1"}}));
        let mut p = pod("x", two_terms);
        p["metadata"]["labels"] = json!({"app": "other"});
        let err = schedule(&p, &nodes, &[mysql, proxy]).unwrap_err();
        assert!(err.message.starts_with("0/3 nodes are available: 3 node(s) didn't match pod affinity rules."));
    }

    #[test]
    fn taints_and_tolerations() {
        let mut nodes = make_nodes(3, &[]);
        for n in &mut nodes {
            set_taints(n, &[Taint::new("dedicated", "db", "NoSchedule")], Utc::now());
        }
        let err = schedule(&pod("p", json!({})), &nodes, &[]).unwrap_err();
        assert_eq!(
            err.message,
            "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: db}. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
        let equal = json!({"spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}});
        assert!(schedule(&pod("p", equal), &nodes, &[]).is_ok());
        let wrong_value = json!({"spec": {"tolerations": [{"key": "dedicated", "value": "web"}]}});
        assert!(schedule(&pod("p", wrong_value), &nodes, &[]).is_err());
        let exists_all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert!(schedule(&pod("p", exists_all), &nodes, &[]).is_ok());
        let wrong_effect =
            json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}});
        assert!(schedule(&pod("p", wrong_effect), &nodes, &[]).is_err());
        // PreferNoSchedule does not filter.
        for n in &mut nodes {
            set_taints(n, &[Taint::new("soft", "x", "PreferNoSchedule")], Utc::now());
        }
        assert!(schedule(&pod("p", json!({})), &nodes, &[]).is_ok());
    }

    #[test]
    fn insufficient_cpu_mixed_with_taints_sorted_like_upstream() {
        let mut nodes = make_nodes(3, &[]);
        for n in &mut nodes[1..] {
            set_taints(n, &[Taint::new("k", "v", "NoSchedule")], Utc::now());
        }
        let hog = pod(
            "hog",
            json!({"spec": {"nodeName": "dbdeck-node-1",
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "7600m"}}}]}}),
        );
        let err = schedule(&pod("p", json!({})), &nodes, &[hog]).unwrap_err();
        assert_eq!(
            err.message,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling."
        );
        assert_eq!(err.reasons.get("Insufficient cpu"), Some(&1));
    }

    #[test]
    fn insufficient_memory_and_cpu_reported_together() {
        let nodes = make_nodes(2, &[]);
        let big = json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "9", "memory": "40Gi"}}}]}});
        let err = schedule(&pod("p", big), &nodes, &[]).unwrap_err();
        assert!(err.message.starts_with("0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory."));
    }

    #[test]
    fn limits_count_as_requests_and_finished_pods_free_resources() {
        let nodes = make_nodes(1, &[]);
        let limits_only = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "6"}}}]}});
        let mut running = pod("a", limits_only.clone());
        running["spec"]["nodeName"] = json!("dbdeck-node-1");
        assert!(schedule(&pod("b", limits_only.clone()), &nodes, std::slice::from_ref(&running)).is_err());
        running["status"] = json!({"phase": "Succeeded"});
        assert!(schedule(&pod("b", limits_only), &nodes, &[running]).is_ok());
    }

    #[test]
    fn init_containers_take_the_max_and_sidecars_add() {
        let p = pod(
            "p",
            json!({"spec": {
                "initContainers": [
                    {"name": "init", "resources": {"requests": {"cpu": "2"}}},
                    {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "250m"}}}],
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}),
        );
        assert_eq!(pod_requests(&p)["cpu"], 2_000);
        let p = pod(
            "p",
            json!({"spec": {
                "initContainers": [{"name": "sidecar", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "250m"}}}],
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}),
        );
        assert_eq!(pod_requests(&p)["cpu"], 1_250);
    }

    #[test]
    fn too_many_pods() {
        let mut nodes = make_nodes(1, &[]);
        nodes[0]["status"]["allocatable"]["pods"] = json!("1");
        let existing = pod("a", json!({"spec": {"nodeName": "dbdeck-node-1"}}));
        let err = schedule(&pod("b", json!({})), &nodes, &[existing]).unwrap_err();
        assert!(err.message.starts_with("0/1 nodes are available: 1 Too many pods."));
    }

    #[test]
    fn node_selector_and_required_node_affinity() {
        let nodes = make_nodes(3, &[]);
        let sel = json!({"spec": {"nodeSelector": {ZONE_KEY: "zone-b"}}});
        assert_eq!(schedule(&pod("p", sel), &nodes, &[]).unwrap(), "dbdeck-node-2");
        let aff = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": ZONE_KEY, "operator": "NotIn", "values": ["zone-a", "zone-b"]}]}]}}}}});
        assert_eq!(schedule(&pod("p", aff), &nodes, &[]).unwrap(), "dbdeck-node-3");
        let fields = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["dbdeck-node-1"]}]}]}}}}});
        assert_eq!(schedule(&pod("p", fields), &nodes, &[]).unwrap(), "dbdeck-node-1");
        let none = json!({"spec": {"nodeSelector": {"disk": "nvme"}}});
        assert_eq!(
            schedule(&pod("p", none), &nodes, &[]).unwrap_err().message,
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn cordoned_and_not_ready_nodes_are_skipped() {
        let mut nodes = make_nodes(3, &[]);
        set_cordoned(&mut nodes[0], true, Utc::now());
        set_ready(&mut nodes[1], false, Utc::now());
        assert_eq!(schedule(&pod("p", json!({})), &nodes, &[]).unwrap(), "dbdeck-node-3");
        // A NotReady node without taints (no lifecycle controller ran) is still avoided.
        nodes[2]["status"]["conditions"][3]["status"] = json!("Unknown");
        let err = schedule(&pod("p", json!({})), &nodes, &[]).unwrap_err();
        assert_eq!(
            err.message,
            "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
             1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn preemption_policy_never() {
        let nodes = make_nodes(1, &[]);
        let p = pod("p", json!({"spec": {"preemptionPolicy": "Never", "nodeSelector": {"x": "y"}}}));
        assert_eq!(
            schedule(&p, &nodes, &[]).unwrap_err().message,
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. \
             preemption: not eligible due to preemptionPolicy=Never."
        );
        assert_eq!(schedule(&p, &[], &[]).unwrap_err().message, "no nodes available to schedule pods");
    }

    #[test]
    fn scoring_prefers_free_nodes_and_breaks_ties_by_name() {
        let nodes = make_nodes(3, &[]);
        assert_eq!(schedule(&pod("p", json!({})), &nodes, &[]).unwrap(), "dbdeck-node-1");
        let busy = pod("busy", json!({"spec": {"nodeName": "dbdeck-node-1"}}));
        assert_eq!(schedule(&pod("p", json!({})), &nodes, &[busy]).unwrap(), "dbdeck-node-2");
    }

    #[test]
    fn preferred_affinities_weigh_in() {
        let nodes = make_nodes(3, &[]);
        let pref = json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": {"matchExpressions": [{"key": ZONE_KEY, "operator": "In", "values": ["zone-c"]}]}}]}}}});
        assert_eq!(schedule(&pod("p", pref), &nodes, &[]).unwrap(), "dbdeck-node-3");
        let mut other = pod("other", json!({"spec": {"nodeName": "dbdeck-node-1"}}));
        other["spec"]["containers"][0]["resources"] = json!({});
        let soft_anti = json!({"spec": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "mysql"}}, "topologyKey": HOSTNAME_KEY}}]}}}});
        assert_ne!(schedule(&pod("p", soft_anti), &nodes, &[other]).unwrap(), "dbdeck-node-1");
    }

    #[test]
    fn siblings_spread_over_zones() {
        let nodes = make_nodes(6, &[]);
        let owned = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u1", "controller": true}]}});
        let pods = (0..3).map(|i| pod(&format!("db-{i}"), owned.clone())).collect();
        let mut bound = Vec::new();
        let placed: Vec<String> = place_all(pods, &nodes, &mut bound).into_iter().map(Result::unwrap).collect();
        let zones: std::collections::BTreeSet<_> = placed
            .iter()
            .map(|n| nodes.iter().find(|x| name_of(x) == n).unwrap()["metadata"]["labels"][ZONE_KEY].to_string())
            .collect();
        assert_eq!(zones.len(), 3, "placed on {placed:?}");
    }

    #[test]
    fn snapshot_places_many_clusters_with_anti_affinity_and_zone_spread() {
        let nodes = make_nodes(6, &[]);
        let mut snapshot = Snapshot::new(&nodes, []);
        for c in 0..100 {
            let mut zones = std::collections::BTreeSet::new();
            let mut hosts = std::collections::BTreeSet::new();
            for i in 0..3 {
                let mut p = pod(
                    &format!("c{c}-{i}"),
                    json!({"metadata": {"labels": {"app": format!("c{c}")}, "ownerReferences": [
                        {"kind": "StatefulSet", "name": format!("c{c}"), "uid": format!("u{c}"), "controller": true}]},
                      "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}}],
                        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": format!("c{c}")}}, "topologyKey": HOSTNAME_KEY}]}}}}),
                );
                let node = snapshot.schedule(&p).unwrap();
                let zone =
                    nodes.iter().find(|n| name_of(n) == node).unwrap()["metadata"]["labels"][ZONE_KEY].to_string();
                hosts.insert(node.clone());
                zones.insert(zone);
                p["spec"]["nodeName"] = json!(node);
                snapshot.assume(&p);
            }
            assert_eq!(hosts.len(), 3, "cluster c{c} on {hosts:?}");
            assert_eq!(zones.len(), 3, "cluster c{c} spread over {zones:?}");
        }
        // 300 pods over 6 nodes: the least-requested score keeps them balanced, within the score's
        // integer granularity (one point is several of these small pods).
        let per_node: Vec<usize> = snapshot.infos.iter().map(|n| n.pods.len()).collect();
        let (min, max) = (per_node.iter().min().unwrap(), per_node.iter().max().unwrap());
        assert_eq!(per_node.iter().sum::<usize>(), 300);
        assert!(max - min <= 6, "{per_node:?}");
    }
}
