//! `kubectl get` columns for built-in kinds, as the apiserver's table printers compute them (READY
//! `1/3`, STATUS, RESTARTS, PORT(S), ...). Columns are ordinary printer-column specs; computed ones
//! carry `x-dbdeck-cell`, which [`cell`] evaluates.

use serde_json::{Value, json};

use super::resources::ResourceType;

fn col(name: &str, cell: &str) -> Value {
    json!({"name": name, "type": "string", "x-dbdeck-cell": cell})
}

fn path_col(name: &str, path: &str) -> Value {
    json!({"name": name, "type": "string", "jsonPath": path})
}

/// Shown only with `-o wide`.
fn wide(mut c: Value) -> Value {
    c["priority"] = json!(1);
    c
}

fn age() -> Value {
    json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
}

/// The columns for a built-in kind; empty for kinds that only show NAME and AGE.
pub fn builtin_columns(rt: &ResourceType) -> Vec<Value> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => vec![
            col("Ready", "pod-ready"),
            col("Status", "pod-status"),
            col("Restarts", "pod-restarts"),
            age(),
            wide(path_col("IP", ".status.podIP")),
            wide(path_col("Node", ".spec.nodeName")),
        ],
        ("apps", "StatefulSet") => vec![col("Ready", "replicas-ready"), age()],
        ("apps", "Deployment") => vec![
            col("Ready", "replicas-ready"),
            path_col("Up-to-date", ".status.updatedReplicas"),
            path_col("Available", ".status.availableReplicas"),
            age(),
        ],
        ("batch", "Job") => vec![col("Completions", "job-completions"), age()],
        ("", "Service") => vec![
            col("Type", "service-type"),
            path_col("Cluster-IP", ".spec.clusterIP"),
            col("Port(s)", "service-ports"),
            age(),
        ],
        ("", "PersistentVolumeClaim") => vec![
            path_col("Status", ".status.phase"),
            path_col("Volume", ".spec.volumeName"),
            path_col("Capacity", ".status.capacity.storage"),
            age(),
        ],
        ("", "Namespace") => vec![path_col("Status", ".status.phase"), age()],
        ("", "Node") => vec![col("Status", "node-status"), age()],
        ("", "ConfigMap") => vec![col("Data", "data-count"), age()],
        ("", "Secret") => vec![path_col("Type", ".type"), col("Data", "data-count"), age()],
        _ => vec![],
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// A computed cell for `kind` (an `x-dbdeck-cell` value) of one object.
pub fn cell(kind: &str, o: &Value) -> Value {
    let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    match kind {
        "pod-ready" => {
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"].as_bool() == Some(true)).count();
            json!(format!("{ready}/{total}"))
        }
        "pod-status" => {
            if !o["metadata"]["deletionTimestamp"].is_null() {
                return json!("Terminating");
            }
            // A waiting or terminated container reason (CrashLoopBackOff, Error) wins over the phase.
            let reason = statuses.iter().find_map(|s| {
                s["state"]["waiting"]["reason"].as_str().or_else(|| s["state"]["terminated"]["reason"].as_str())
            });
            json!(reason.or_else(|| o["status"]["phase"].as_str()).unwrap_or("Pending"))
        }
        "pod-restarts" => json!(statuses.iter().map(|s| int(&s["restartCount"])).sum::<i64>()),
        "replicas-ready" => {
            let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
            json!(format!("{}/{want}", int(&o["status"]["readyReplicas"])))
        }
        "job-completions" => {
            let want = o["spec"]["completions"].as_i64().unwrap_or(1);
            json!(format!("{}/{want}", int(&o["status"]["succeeded"])))
        }
        "service-type" => json!(o["spec"]["type"].as_str().unwrap_or("ClusterIP")),
        "service-ports" => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{}:{np}/{proto}", int(&p["port"])),
                        None => format!("{}/{proto}", int(&p["port"])),
                    }
                })
                .collect();
            json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") })
        }
        "node-status" => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "True");
            json!(if ready { "Ready" } else { "NotReady" })
        }
        "data-count" => {
            let n = |k: &str| o[k].as_object().map_or(0, |m| m.len());
            json!(n("data") + n("binaryData"))
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_cells_follow_kubectl() {
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": {"phase": "Running",
            "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}}},
                                  {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(cell("pod-ready", &pod), "1/2");
        assert_eq!(cell("pod-status", &pod), "CrashLoopBackOff");
        assert_eq!(cell("pod-restarts", &pod), 3);
        let svc = json!({"spec": {"ports": [{"port": 3306}, {"port": 33060, "protocol": "TCP", "nodePort": 30001}]}});
        assert_eq!(cell("service-ports", &svc), "3306/TCP,33060:30001/TCP");
        assert_eq!(cell("replicas-ready", &json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}})), "2/3");
    }
}
