//! Simulated Node objects: what `--nodes N` puts in the store, and the transitions the node lifecycle
//! controller makes on them (NotReady taints, cordon).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Zones used when the caller gives none.
pub const DEFAULT_ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
/// Taint the node lifecycle controller puts on a node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint the node lifecycle controller puts on a node whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint that goes with `spec.unschedulable` (cordon).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// A taint to put on a node (`effect` is NoSchedule, PreferNoSchedule or NoExecute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    pub fn new(key: &str, value: &str, effect: &str) -> Self {
        Taint { key: key.into(), value: value.into(), effect: effect.into() }
    }

    fn to_json(&self, now: &str) -> Value {
        let mut t = json!({"key": self.key, "effect": self.effect});
        if !self.value.is_empty() {
            t["value"] = json!(self.value);
        }
        if self.effect == "NoExecute" {
            t["timeAdded"] = json!(now);
        }
        t
    }
}

fn ts(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `n` Node objects named `dbdeck-node-1..n`, zones assigned round-robin from `zones`
/// (`zone-a|b|c` when empty), each Ready with 8 cpu, 32Gi memory and 110 pods.
pub fn make_nodes(n: usize, zones: &[&str]) -> Vec<Value> {
    make_nodes_at(n, zones, Utc::now())
}

/// [`make_nodes`] with an explicit clock, for condition timestamps.
pub fn make_nodes_at(n: usize, zones: &[&str], now: DateTime<Utc>) -> Vec<Value> {
    let zones: &[&str] = if zones.is_empty() { &DEFAULT_ZONES } else { zones };
    let now = ts(now);
    (1..=n)
        .map(|i| {
            let name = format!("dbdeck-node-{i}");
            let zone = zones[(i - 1) % zones.len()];
            // kind-like node addresses (172.18.0.x) so host IPs look familiar in `-o wide`.
            let ip = format!("172.18.0.{}", (i % 250) + 2);
            let resources = json!({
                "cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"
            });
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/zone": zone,
                        "topology.kubernetes.io/region": "dbdeck",
                    },
                    "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
                },
                "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")]},
                "status": {
                    "capacity": resources,
                    "allocatable": resources,
                    "conditions": node_conditions(true, &now),
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "Hostname", "address": name},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "architecture": "amd64",
                        "bootID": format!("dbdeck-boot-{i}"),
                        "containerRuntimeVersion": "containerd://2.0.0",
                        "kernelVersion": "6.8.0",
                        "kubeProxyVersion": "v1.33.0",
                        "kubeletVersion": "v1.33.0",
                        "machineID": format!("dbdeck-machine-{i}"),
                        "operatingSystem": "linux",
                        "osImage": "dbdeck sandbox",
                        "systemUUID": format!("dbdeck-node-uuid-{i}"),
                    },
                    "phase": "Running",
                }
            })
        })
        .collect()
}

fn node_conditions(ready: bool, now: &str) -> Value {
    let pressure = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "False", "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let ready_cond = if ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
               "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now})
    } else {
        json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
               "message": "container runtime is down", "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!([
        pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready_cond,
    ])
}

/// Replaces the node's taints with `taints` (an empty slice removes them all).
pub fn set_taints(node: &mut Value, taints: &[Taint], now: DateTime<Utc>) {
    let now = ts(now);
    let list: Vec<Value> = taints.iter().map(|t| t.to_json(&now)).collect();
    set_spec_field(node, "taints", if list.is_empty() { None } else { Some(Value::Array(list)) });
}

/// The node's current taints.
pub fn taints_of(node: &Value) -> Vec<Taint> {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    Taint { key: s("key"), value: s("value"), effect: s("effect") }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set_spec_field(node: &mut Value, field: &str, value: Option<Value>) {
    if !node.get("spec").is_some_and(Value::is_object) {
        node["spec"] = json!({});
    }
    if let Some(spec) = node.get_mut("spec").and_then(Value::as_object_mut) {
        match value {
            Some(v) => {
                spec.insert(field.into(), v);
            }
            None => {
                spec.remove(field);
            }
        }
    }
}

/// Marks the node Ready or NotReady, as the kubelet stopping and the node lifecycle controller would:
/// the Ready condition flips and the `not-ready` NoSchedule + NoExecute taints are added or removed.
pub fn set_ready(node: &mut Value, ready: bool, now: DateTime<Utc>) {
    let stamp = ts(now);
    if let Some(conds) = node.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
        for c in conds.iter_mut().filter(|c| c.get("type").and_then(Value::as_str) == Some("Ready")) {
            let was_ready = c.get("status").and_then(Value::as_str) == Some("True");
            let fresh = node_conditions(ready, &stamp);
            let mut cond = fresh[3].clone();
            if was_ready == ready {
                cond["lastTransitionTime"] = c.get("lastTransitionTime").cloned().unwrap_or(json!(stamp));
            }
            *c = cond;
        }
    }
    let mut taints: Vec<Taint> = taints_of(node).into_iter().filter(|t| t.key != TAINT_NOT_READY).collect();
    if !ready {
        taints.push(Taint::new(TAINT_NOT_READY, "", "NoSchedule"));
        taints.push(Taint::new(TAINT_NOT_READY, "", "NoExecute"));
    }
    set_taints(node, &taints, now);
}

/// Cordons (`true`) or uncordons a node: `spec.unschedulable` plus the matching NoSchedule taint.
pub fn set_cordoned(node: &mut Value, cordoned: bool, now: DateTime<Utc>) {
    set_spec_field(node, "unschedulable", cordoned.then_some(Value::Bool(true)));
    let mut taints: Vec<Taint> = taints_of(node).into_iter().filter(|t| t.key != TAINT_UNSCHEDULABLE).collect();
    if cordoned {
        taints.push(Taint::new(TAINT_UNSCHEDULABLE, "", "NoSchedule"));
    }
    set_taints(node, &taints, now);
}

/// True when the node's Ready condition is True.
pub fn node_is_ready(node: &Value) -> bool {
    super::condition_status(node, "Ready") == Some("True")
}

/// The node's InternalIP address.
pub fn internal_ip(node: &Value) -> Option<&str> {
    node.pointer("/status/addresses")?
        .as_array()?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))?
        .get("address")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_zones_and_capacity() {
        let nodes = make_nodes(4, &[]);
        assert_eq!(nodes.len(), 4);
        let zone = |n: &Value| n["metadata"]["labels"]["topology.kubernetes.io/zone"].as_str().unwrap().to_string();
        assert_eq!(nodes[0]["metadata"]["name"], "dbdeck-node-1");
        assert_eq!(nodes[3]["metadata"]["labels"]["kubernetes.io/hostname"], "dbdeck-node-4");
        assert_eq!(nodes.iter().map(zone).collect::<Vec<_>>(), ["zone-a", "zone-b", "zone-c", "zone-a"]);
        assert_eq!(nodes[0]["status"]["allocatable"]["cpu"], "8");
        assert_eq!(nodes[0]["status"]["capacity"]["memory"], "32Gi");
        assert_eq!(nodes[0]["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
        assert!(node_is_ready(&nodes[0]));
        assert_eq!(internal_ip(&nodes[0]), Some("172.18.0.3"));
    }

    #[test]
    fn custom_zones_round_robin() {
        let nodes = make_nodes(3, &["east", "west"]);
        let z: Vec<_> = nodes.iter().map(|n| n["metadata"]["labels"]["topology.kubernetes.io/zone"].clone()).collect();
        assert_eq!(z, [json!("east"), json!("west"), json!("east")]);
    }

    #[test]
    fn not_ready_adds_taints_and_back() {
        let mut node = make_nodes(1, &[]).remove(0);
        set_taints(&mut node, &[Taint::new("dedicated", "db", "NoSchedule")], Utc::now());
        set_ready(&mut node, false, Utc::now());
        assert!(!node_is_ready(&node));
        let keys: Vec<_> = taints_of(&node).into_iter().map(|t| (t.key, t.effect)).collect();
        assert!(keys.contains(&("dedicated".into(), "NoSchedule".into())));
        assert!(keys.contains(&(TAINT_NOT_READY.into(), "NoExecute".into())));
        set_ready(&mut node, true, Utc::now());
        assert!(node_is_ready(&node));
        assert_eq!(taints_of(&node), vec![Taint::new("dedicated", "db", "NoSchedule")]);
    }

    #[test]
    fn cordon_and_uncordon() {
        let mut node = make_nodes(1, &[]).remove(0);
        set_cordoned(&mut node, true, Utc::now());
        assert_eq!(node["spec"]["unschedulable"], true);
        assert_eq!(taints_of(&node)[0].key, TAINT_UNSCHEDULABLE);
        set_cordoned(&mut node, false, Utc::now());
        assert!(node["spec"].get("unschedulable").is_none());
        assert!(node["spec"].get("taints").is_none());
    }
}
