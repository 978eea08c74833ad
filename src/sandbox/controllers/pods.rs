//! Scheduler, kubelets and the node lifecycle controller: binding pending pods, starting bound pods
//! after a delay, finishing Job pods, and taking pods of a NotReady node out of service, then evicting them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{FAIL_ANNOTATION, Key, Sim, Wake, controller_of, key, name, now, stamp, str_at};
use crate::sandbox::sim::{nodes, scheduler};
use crate::sandbox::store::Subresource;

/// How long a pod stays on a NotReady node before the taint manager evicts it, from its NoExecute tolerations
/// of `node.kubernetes.io/not-ready`: none tolerates it → at once; one without `tolerationSeconds` → never
/// (`None`); otherwise the shortest `tolerationSeconds`.
fn eviction_delay(pod: &Value) -> Option<Duration> {
    let tolerations: Vec<&Value> = pod
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter(|t| {
                    let key_ok = match str_at(t, "/key") {
                        "" => str_at(t, "/operator") == "Exists",
                        k => k == nodes::TAINT_NOT_READY,
                    };
                    key_ok && matches!(str_at(t, "/effect"), "NoExecute" | "")
                })
                .collect()
        })
        .unwrap_or_default();
    if tolerations.is_empty() {
        return Some(Duration::ZERO);
    }
    let mut shortest: Option<u64> = None;
    for t in tolerations {
        let secs = t.get("tolerationSeconds").and_then(Value::as_u64)?;
        shortest = Some(shortest.map_or(secs, |s| s.min(secs)));
    }
    shortest.map(Duration::from_secs)
}

/// Guaranteed when every container limits cpu and memory to what it requests, BestEffort when none
/// asks for anything, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    let res = |c: &Value, kind: &str, r: &str| c.pointer(&format!("/resources/{kind}/{r}")).cloned();
    let any = containers.iter().any(|c| {
        ["requests", "limits"].iter().any(|k| {
            c.pointer(&format!("/resources/{k}")).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        })
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = res(c, "limits", r);
            limit.is_some() && res(c, "requests", r).is_none_or(|req| Some(req) == limit)
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

fn finished(pod: &Value) -> bool {
    matches!(str_at(pod, "/status/phase"), "Succeeded" | "Failed")
}

fn condition(kind: &str, ok: bool) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": stamp()})
}

/// Pod conditions for a bound pod whose containers are (not) ready.
fn conditions(ready: bool) -> Value {
    json!([
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", true),
    ])
}

/// Container statuses for the pod's containers, keeping restart counts.
fn container_statuses(pod: &Value, ready: bool, started_at: &str) -> Value {
    let old = pod.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        containers
            .iter()
            .map(|c| {
                let cname = str_at(c, "/name");
                let prev = old.iter().find(|s| str_at(s, "/name") == cname);
                let restarts = prev.and_then(|s| s.get("restartCount")).and_then(Value::as_u64).unwrap_or(0);
                let mut s = json!({
                    "name": cname,
                    "image": str_at(c, "/image"),
                    "imageID": format!("docker.io/library/{}@sha256:sandbox", str_at(c, "/image")),
                    "containerID": format!("containerd://{}", uuid::Uuid::new_v4().simple()),
                    "ready": ready,
                    "started": true,
                    "restartCount": restarts,
                    "state": {"running": {"startedAt": started_at}},
                });
                if let Some(last) = prev.and_then(|s| s.get("lastState")).filter(|l| !l.is_null()) {
                    s["lastState"] = last.clone();
                }
                s
            })
            .collect(),
    )
}

/// The claims a pod's volumes name.
fn claim_names(pod: &Value) -> impl Iterator<Item = &str> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
}

/// Why a pod's containers cannot start for want of a Secret, in the kubelet's words.
#[derive(Debug, PartialEq)]
struct SecretWait {
    /// The Secret to wait for.
    secret: String,
    /// `Some(volume)`: the volume cannot be mounted (the pod stays ContainerCreating); `None`: the container's
    /// environment cannot be built (CreateContainerConfigError).
    volume: Option<String>,
    message: String,
}

fn optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool) == Some(true)
}

/// The first Secret a pod needs that `lookup` does not find (or that lacks a key the pod names): volumes first,
/// as the kubelet mounts before it creates containers, then each container's `env` and `envFrom`.
fn missing_secret(pod: &Value, lookup: impl Fn(&str) -> Option<Value>) -> Option<SecretWait> {
    let ns = str_at(pod, "/metadata/namespace");
    let volumes = pod.pointer("/spec/volumes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for vol in volumes {
        let vname = str_at(vol, "/name");
        let mut sources: Vec<&Value> = vol.get("secret").into_iter().collect();
        if let Some(projected) = vol.pointer("/projected/sources").and_then(Value::as_array) {
            sources.extend(projected.iter().filter_map(|s| s.get("secret")));
        }
        for src in sources {
            let secret = match src.get("secretName").or_else(|| src.get("name")).and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n,
                _ => continue,
            };
            if optional(src) {
                continue;
            }
            let wait =
                |message: String| SecretWait { secret: secret.to_string(), volume: Some(vname.to_string()), message };
            let Some(found) = lookup(secret) else {
                return Some(wait(format!(
                    "MountVolume.SetUp failed for volume {vname:?} : secret {secret:?} not found"
                )));
            };
            let items = src.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            for key in items.iter().map(|i| str_at(i, "/key")) {
                if found.pointer(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1"))).is_none() {
                    return Some(wait(format!(
                        "MountVolume.SetUp failed for volume {vname:?} : references non-existent secret key: {key}"
                    )));
                }
            }
        }
    }
    let containers = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let env = c.get("env").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for r in env.iter().filter_map(|e| e.pointer("/valueFrom/secretKeyRef")) {
            let secret = str_at(r, "/name");
            if optional(r) || secret.is_empty() {
                continue;
            }
            let key = str_at(r, "/key");
            let wait = |message: String| SecretWait { secret: secret.to_string(), volume: None, message };
            match lookup(secret) {
                None => return Some(wait(format!("secret {secret:?} not found"))),
                Some(found) if found.get("data").and_then(|d| d.get(key)).is_none() => {
                    return Some(wait(format!("couldn't find key {key} in Secret {ns}/{secret}")));
                }
                Some(_) => {}
            }
        }
        let env_from = c.get("envFrom").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for r in env_from.iter().filter_map(|e| e.get("secretRef")) {
            let secret = str_at(r, "/name");
            if optional(r) || secret.is_empty() {
                continue;
            }
            if lookup(secret).is_none() {
                return Some(SecretWait {
                    secret: secret.to_string(),
                    volume: None,
                    message: format!("secret {secret:?} not found"),
                });
            }
        }
    }
    None
}

impl Sim {
    /// Binds every unbound pod it can; the others get `PodScheduled=False` with the scheduler's message.
    pub(super) fn schedule(&mut self) {
        if self.unbound.is_empty() {
            return;
        }
        let k = self.kinds.clone();
        // Shared, not copied: this runs for every batch that has a new pod, and deep copies of thousands of
        // pods per batch made a 3,000-pod cluster take minutes to settle.
        let pods = self.list_shared(&k.pods);
        let pending: Vec<&Value> = pods
            .iter()
            .map(|p| &**p)
            .filter(|p| {
                str_at(p, "/spec/nodeName").is_empty() && !finished(p) && !crate::sandbox::sim::is_terminating(p)
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let mut snap = match self.sched.take() {
            Some(snap) => snap,
            None => {
                let nodes = self.list(&k.nodes, None, None);
                let bound =
                    pods.iter().map(|p| &**p).filter(|p| !str_at(p, "/spec/nodeName").is_empty() && !finished(p));
                scheduler::Snapshot::new(&nodes, bound)
            }
        };
        for pod in pending {
            let pk = key(pod);
            match snap.schedule(pod) {
                Ok(node) => {
                    let Some(bound) = self.patch(&k.pods, &pk, json!({"spec": {"nodeName": node}}), Subresource::Main)
                    else {
                        continue;
                    };
                    let mut conds: Vec<Value> = bound
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .map(|c| c.iter().filter(|c| str_at(c, "/type") != "PodScheduled").cloned().collect())
                        .unwrap_or_default();
                    conds.push(condition("PodScheduled", true));
                    self.patch(
                        &k.pods,
                        &pk,
                        json!({"status": {"phase": "Pending", "conditions": conds}}),
                        Subresource::Status,
                    );
                    snap.assume(&bound);
                    self.event(
                        &bound,
                        false,
                        "Scheduled",
                        &format!("Successfully assigned {}/{} to {node}", pk.0, pk.1),
                        "default-scheduler",
                    );
                    tracing::debug!(namespace = %pk.0, pod = %pk.1, %node, "sandbox scheduler: bound");
                }
                Err(unsched) => {
                    let current = pod
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .and_then(|c| c.iter().find(|c| str_at(c, "/type") == "PodScheduled"));
                    if current.is_some_and(|c| str_at(c, "/message") == unsched.message) {
                        continue;
                    }
                    let cond = unsched.pod_scheduled_condition(now());
                    self.patch(
                        &k.pods,
                        &pk,
                        json!({"status": {"phase": "Pending", "conditions": [cond]}}),
                        Subresource::Status,
                    );
                    // `kubectl describe pod` shows the scheduler's reasons through this Event.
                    self.event(pod, true, "FailedScheduling", &unsched.message, "default-scheduler");
                }
            }
        }
        self.sched = Some(snap);
    }

    /// The kubelet's view of one pod: start it after the delay, or take it out of service.
    pub(super) fn sync_pod(&mut self, pk: &Key) {
        let k = self.kinds.clone();
        let Some(pod) = self.get(&k.pods, pk) else { return };
        if crate::sandbox::sim::is_terminating(&pod) || finished(&pod) {
            return;
        }
        let node_name = str_at(&pod, "/spec/nodeName");
        if node_name.is_empty() {
            if pod.pointer("/status/phase").is_none() {
                self.patch(&k.pods, pk, json!({"status": {"phase": "Pending"}}), Subresource::Status);
            }
            return;
        }
        let node_ready =
            self.get(&k.nodes, &(String::new(), node_name.to_string())).is_some_and(|n| nodes::node_is_ready(&n));
        if !node_ready || self.faults.is_unready(pk) {
            if crate::sandbox::sim::pod_is_ready(&pod) {
                self.set_not_ready(&pod);
            }
            return;
        }
        if crate::sandbox::sim::pod_is_ready(&pod) {
            self.maybe_finish_later(&pod);
            return;
        }
        if self.starting.contains(pk) {
            return;
        }
        if !self.claims_bound(&pod) {
            self.blocked.insert(pk.clone(), claim_names(&pod).map(str::to_string).collect());
            return;
        }
        self.blocked.remove(pk);
        if self.waits_for_secret(&pod) {
            return;
        }
        self.starting.insert(pk.clone());
        self.after(self.cfg.start_delay, Wake::Start(pk.clone()));
    }

    /// Whether the pod cannot start for want of a Secret; if so its status and an Event say why (once per cause),
    /// and the Secret's arrival re-syncs it.
    fn waits_for_secret(&mut self, pod: &Value) -> bool {
        let pk = key(pod);
        let ns = pk.0.clone();
        let secrets = self.kinds.secrets.clone();
        let Some(wait) = missing_secret(pod, |name| self.get(&secrets, &(ns.clone(), name.to_string()))) else {
            self.secret_blocked.remove(&pk);
            return false;
        };
        self.secret_blocked.insert(pk.clone(), wait.secret.clone());
        let (reason, message) = match &wait.volume {
            Some(_) => ("ContainerCreating", None),
            None => ("CreateContainerConfigError", Some(wait.message.clone())),
        };
        let current = pod.pointer("/status/containerStatuses/0/state/waiting");
        let same = current.is_some_and(|w| {
            str_at(w, "/reason") == reason && w.get("message").and_then(Value::as_str) == message.as_deref()
        });
        if same {
            return true;
        }
        let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
        let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let mut waiting = json!({"reason": reason});
                if let Some(m) = &message {
                    waiting["message"] = json!(m);
                }
                json!({"name": str_at(c, "/name"), "image": str_at(c, "/image"), "imageID": "", "ready": false,
                       "started": false, "restartCount": 0, "state": {"waiting": waiting}})
            })
            .collect();
        let unready = |kind: &str| {
            let mut c = condition(kind, false);
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(format!("containers with unready status: [{}]", names.join(" ")));
            c
        };
        let conds = json!([
            condition("PodReadyToStartContainers", wait.volume.is_none()),
            condition("Initialized", true),
            unready("Ready"),
            unready("ContainersReady"),
            condition("PodScheduled", true),
        ]);
        let start_time = match str_at(pod, "/status/startTime") {
            "" => stamp(),
            t => t.to_string(),
        };
        let status = json!({"phase": "Pending", "conditions": conds, "startTime": start_time,
                            "qosClass": qos_class(pod), "containerStatuses": statuses});
        self.patch(&self.kinds.pods, &pk, json!({"status": status}), Subresource::Status);
        match &wait.volume {
            Some(_) => self.event(pod, true, "FailedMount", &wait.message, "kubelet"),
            None => self.event(pod, true, "Failed", &format!("Error: {}", wait.message), "kubelet"),
        }
        tracing::debug!(namespace = %pk.0, pod = %pk.1, why = %wait.message, "sandbox kubelet: waiting for a Secret");
        true
    }

    fn claims_bound(&self, pod: &Value) -> bool {
        let ns = str_at(pod, "/metadata/namespace");
        claim_names(pod).all(|c| {
            self.get(&self.kinds.pvcs, &(ns.to_string(), c.to_string()))
                .is_some_and(|pvc| str_at(&pvc, "/status/phase") == "Bound")
        })
    }

    /// The start timer fired: containers run and report Ready, if nothing changed meanwhile.
    pub(super) fn start_pod(&mut self, pk: &Key) {
        let k = self.kinds.clone();
        let Some(pod) = self.get(&k.pods, pk) else { return };
        let node_name = str_at(&pod, "/spec/nodeName").to_string();
        let node = self.get(&k.nodes, &(String::new(), node_name.clone()));
        let node_ready = node.as_ref().is_some_and(nodes::node_is_ready);
        if node_name.is_empty()
            || !node_ready
            || self.faults.is_unready(pk)
            || finished(&pod)
            || crate::sandbox::sim::is_terminating(&pod)
            || !self.claims_bound(&pod)
            || self.waits_for_secret(&pod)
        {
            // The next change of the pod, its node, its claims or its Secrets starts it again.
            return;
        }
        let started = stamp();
        let pod_ip = match str_at(&pod, "/status/podIP") {
            "" => {
                self.next_pod_ip += 1;
                let n = self.next_pod_ip;
                format!("10.244.{}.{}", (n / 250) % 256, n % 250 + 2)
            }
            ip => ip.to_string(),
        };
        let host_ip = node.as_ref().and_then(|n| nodes::internal_ip(n)).unwrap_or("").to_string();
        let start_time = match str_at(&pod, "/status/startTime") {
            "" => started.clone(),
            t => t.to_string(),
        };
        let status = json!({
            "phase": "Running",
            "conditions": conditions(true),
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": start_time,
            "qosClass": qos_class(&pod),
            "containerStatuses": container_statuses(&pod, true, &started),
        });
        if let Some(running) = self.patch(&k.pods, pk, json!({"status": status}), Subresource::Status) {
            self.maybe_finish_later(&running);
        }
    }

    /// Job pods run for a while, then end.
    fn maybe_finish_later(&mut self, pod: &Value) {
        if controller_of(pod).is_none_or(|o| o.0 != "Job") {
            return;
        }
        let pk = key(pod);
        if self.finishing.insert(pk.clone()) {
            self.after(self.cfg.job_duration, Wake::Finish(pk));
        }
    }

    /// A Job pod's containers exit: code 1 when the pod carries the fail annotation, else 0.
    pub(super) fn finish_pod(&mut self, pk: &Key) {
        let k = self.kinds.clone();
        let Some(pod) = self.get(&k.pods, pk) else { return };
        if finished(&pod) || crate::sandbox::sim::is_terminating(&pod) {
            return;
        }
        let fail = str_at(&pod, &format!("/metadata/annotations/{}", FAIL_ANNOTATION.replace('/', "~1"))) == "true";
        let (code, reason, phase) = if fail { (1, "Error", "Failed") } else { (0, "Completed", "Succeeded") };
        let ended = stamp();
        let mut statuses = container_statuses(&pod, false, &ended);
        if let Some(arr) = statuses.as_array_mut() {
            for s in arr {
                let started = str_at(&pod, "/status/startTime").to_string();
                s["started"] = json!(false);
                s["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ended}});
            }
        }
        let mut conds = conditions(false);
        if let Some(a) = conds.as_array_mut() {
            for c in a.iter_mut().filter(|c| str_at(c, "/type") == "Ready" || str_at(c, "/type") == "ContainersReady") {
                c["reason"] = json!("PodCompleted");
            }
        }
        self.patch(
            &k.pods,
            pk,
            json!({"status": {"phase": phase, "conditions": conds, "containerStatuses": statuses}}),
            Subresource::Status,
        );
    }

    /// Ready=False on a running pod (node NotReady, a readiness fault, or a killed container).
    pub(super) fn set_not_ready(&self, pod: &Value) {
        let mut statuses = pod.pointer("/status/containerStatuses").cloned().unwrap_or_else(|| json!([]));
        if let Some(arr) = statuses.as_array_mut() {
            for s in arr {
                s["ready"] = json!(false);
            }
        }
        self.patch(
            &self.kinds.pods,
            &key(pod),
            json!({"status": {"conditions": conditions(false), "containerStatuses": statuses}}),
            Subresource::Status,
        );
    }

    /// A node changed: if NotReady, its pods stop being Ready and an eviction timer starts; if Ready,
    /// its pods start again.
    pub(super) fn sync_node(&mut self, node_name: &str) {
        let k = self.kinds.clone();
        let node = self.get(&k.nodes, &(String::new(), node_name.to_string()));
        if let Some(n) = &node {
            self.sync_unschedulable_taint(n);
        }
        let ready = node.as_ref().is_some_and(nodes::node_is_ready);
        let on_node: Vec<Value> = self
            .list(&k.pods, None, None)
            .into_iter()
            .filter(|p| str_at(p, "/spec/nodeName") == node_name && !finished(p))
            .collect();
        if ready {
            self.evicting.remove(node_name);
            for p in &on_node {
                self.sync_pod(&key(p));
            }
            return;
        }
        for p in &on_node {
            if crate::sandbox::sim::pod_is_ready(p) {
                self.set_not_ready(p);
                self.event(p, true, "NodeNotReady", "Node is not ready", "node-controller");
            }
        }
        if on_node.is_empty() || self.evicting.contains_key(node_name) {
            return;
        }
        self.evicting.insert(node_name.to_string(), Instant::now());
        tracing::info!(node = node_name, "sandbox: node NotReady; its pods are evicted once their tolerations expire");
        self.evict(node_name);
    }

    /// `kubectl cordon` only sets `spec.unschedulable`; the node lifecycle controller adds (or removes) the
    /// matching `node.kubernetes.io/unschedulable:NoSchedule` taint, as with TaintNodesByCondition.
    fn sync_unschedulable_taint(&self, node: &Value) {
        let cordoned = node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
        let taints = node.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
        let tainted = taints.iter().any(|t| str_at(t, "/key") == nodes::TAINT_UNSCHEDULABLE);
        if cordoned == tainted {
            return;
        }
        let mut kept: Vec<Value> =
            taints.into_iter().filter(|t| str_at(t, "/key") != nodes::TAINT_UNSCHEDULABLE).collect();
        if cordoned {
            kept.push(json!({"key": nodes::TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}));
        }
        let list = if kept.is_empty() { Value::Null } else { Value::Array(kept) };
        self.patch(&self.kinds.nodes, &key(node), json!({"spec": {"taints": list}}), Subresource::Main);
    }

    /// How long pods of a NotReady node stay before eviction: `--eviction-timeout`, else each pod's tolerations.
    fn eviction_delay_of(&self, pod: &Value) -> Option<Duration> {
        self.cfg.eviction_timeout.or_else(|| eviction_delay(pod))
    }

    /// Deletes the pods of a still-NotReady node whose eviction delay has passed (their controllers create
    /// replacements, which the scheduler places elsewhere), and wakes up again for the next one due.
    pub(super) fn evict(&mut self, node_name: &str) {
        let k = self.kinds.clone();
        let node = self.get(&k.nodes, &(String::new(), node_name.to_string()));
        let Some(since) = self.evicting.get(node_name).copied() else { return };
        if node.as_ref().is_none_or(nodes::node_is_ready) {
            self.evicting.remove(node_name);
            return;
        }
        let elapsed = since.elapsed();
        let mut next: Option<Duration> = None;
        for p in self.list(&k.pods, None, None) {
            if str_at(&p, "/spec/nodeName") != node_name || finished(&p) || crate::sandbox::sim::is_terminating(&p) {
                continue;
            }
            match self.eviction_delay_of(&p) {
                Some(d) if d <= elapsed => {
                    tracing::info!(node = node_name, pod = %name(&p), "sandbox: evicting pod from NotReady node");
                    let msg = format!("Marking for deletion Pod {}/{}", str_at(&p, "/metadata/namespace"), name(&p));
                    self.event(&p, false, "TaintManagerEviction", &msg, "taint-eviction-controller");
                    self.delete(&k.pods, &key(&p));
                }
                Some(d) => next = Some(next.map_or(d - elapsed, |n| n.min(d - elapsed))),
                None => {}
            }
        }
        if let Some(wait) = next {
            self.after(wait, Wake::Evict(node_name.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_secrets_are_found_as_a_kubelet_reports_them() {
        let pod = json!({"metadata": {"namespace": "db"}, "spec": {
            "volumes": [{"name": "ssl", "secret": {"secretName": "c-ssl"}},
                        {"name": "extra", "secret": {"secretName": "c-extra", "optional": true}}],
            "containers": [{"name": "db",
                "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "c-secrets", "key": "root"}}},
                        {"name": "Q", "valueFrom": {"secretKeyRef": {"name": "c-opt", "key": "x", "optional": true}}}],
                "envFrom": [{"secretRef": {"name": "c-env"}}]}]}});
        let have = |names: &'static [&'static str]| {
            move |n: &str| names.iter().any(|x| *x == n).then(|| json!({"data": {"root": "cg=="}}))
        };
        let w = missing_secret(&pod, have(&[])).unwrap();
        assert_eq!(w.volume.as_deref(), Some("ssl"));
        assert_eq!(w.message, r#"MountVolume.SetUp failed for volume "ssl" : secret "c-ssl" not found"#);
        let w = missing_secret(&pod, have(&["c-ssl"])).unwrap();
        assert_eq!(
            (w.volume, w.message.as_str(), w.secret.as_str()),
            (None, r#"secret "c-secrets" not found"#, "c-secrets")
        );
        let w = missing_secret(&pod, have(&["c-ssl", "c-secrets"])).unwrap();
        assert_eq!(w.message, r#"secret "c-env" not found"#);
        assert_eq!(missing_secret(&pod, have(&["c-ssl", "c-secrets", "c-env"])), None);
        let no_key = |n: &str| (n != "none").then(|| json!({"data": {"other": "cg=="}}));
        let w = missing_secret(&pod, no_key).unwrap();
        assert_eq!(w.message, "couldn't find key root in Secret db/c-secrets");
    }

    #[test]
    fn qos_classes() {
        let pod = |res: Value| json!({"spec": {"containers": [{"name": "c", "resources": res}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(qos_class(&pod(json!({"requests": {"cpu": "1"}}))), "Burstable");
        let exact = json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}});
        assert_eq!(qos_class(&pod(exact)), "Guaranteed");
        assert_eq!(qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))), "Guaranteed");
    }

    #[test]
    fn eviction_waits_for_the_shortest_not_ready_toleration() {
        let pod = json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "tolerationSeconds": 30},
            {"key": "other", "effect": "NoExecute", "tolerationSeconds": 1}]}});
        assert_eq!(eviction_delay(&pod), Some(Duration::from_secs(30)));
        // No toleration of the taint: evicted at once; tolerated without a limit: never.
        assert_eq!(eviction_delay(&json!({"spec": {}})), Some(Duration::ZERO));
        let forever = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert_eq!(eviction_delay(&forever), None);
    }
}
