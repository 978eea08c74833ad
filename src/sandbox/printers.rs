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

fn date_col(name: &str, path: &str) -> Value {
    json!({"name": name, "type": "date", "jsonPath": path})
}

/// CONTAINERS, IMAGES and SELECTOR of a workload, shown with `-o wide`.
fn workload_wide(selector: bool) -> Vec<Value> {
    let mut cols = vec![wide(col("Containers", "template-containers")), wide(col("Images", "template-images"))];
    if selector {
        cols.push(wide(col("Selector", "selector")));
    }
    cols
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
            wide(path_col("Nominated Node", ".status.nominatedNodeName")),
            wide(col("Readiness Gates", "readiness-gates")),
        ],
        ("apps", "StatefulSet") => [vec![col("Ready", "replicas-ready"), age()], workload_wide(false)].concat(),
        ("apps", "Deployment") => [
            vec![
                col("Ready", "replicas-ready"),
                col("Up-to-date", "updated-replicas"),
                col("Available", "available-replicas"),
                age(),
            ],
            workload_wide(true),
        ]
        .concat(),
        ("apps", "ReplicaSet") => [
            vec![
                col("Desired", "desired-replicas"),
                col("Current", "current-replicas"),
                col("Ready", "ready-replicas"),
                age(),
            ],
            workload_wide(true),
        ]
        .concat(),
        ("apps", "ControllerRevision") => {
            vec![col("Controller", "controller"), path_col("Revision", ".revision"), age()]
        }
        ("batch", "Job") => [
            vec![
                col("Status", "job-status"),
                col("Completions", "job-completions"),
                col("Duration", "job-duration"),
                age(),
            ],
            workload_wide(true),
        ]
        .concat(),
        ("batch", "CronJob") => vec![
            path_col("Schedule", ".spec.schedule"),
            path_col("Timezone", ".spec.timeZone"),
            col("Suspend", "cron-suspend"),
            col("Active", "cron-active"),
            date_col("Last Schedule", ".status.lastScheduleTime"),
            age(),
            wide(col("Containers", "jobtemplate-containers")),
            wide(col("Images", "jobtemplate-images")),
        ],
        ("", "Service") => vec![
            col("Type", "service-type"),
            path_col("Cluster-IP", ".spec.clusterIP"),
            col("External-IP", "service-external-ip"),
            col("Port(s)", "service-ports"),
            age(),
            wide(col("Selector", "service-selector")),
        ],
        ("", "Endpoints") => vec![col("Endpoints", "endpoints"), age()],
        ("discovery.k8s.io", "EndpointSlice") => vec![
            path_col("AddressType", ".addressType"),
            col("Ports", "slice-ports"),
            col("Endpoints", "slice-endpoints"),
            age(),
        ],
        ("policy", "PodDisruptionBudget") => vec![
            col("Min Available", "pdb-min-available"),
            col("Max Unavailable", "pdb-max-unavailable"),
            col("Allowed Disruptions", "pdb-allowed"),
            age(),
        ],
        ("", "PersistentVolumeClaim") => vec![
            path_col("Status", ".status.phase"),
            path_col("Volume", ".spec.volumeName"),
            path_col("Capacity", ".status.capacity.storage"),
            col("Access Modes", "status-access-modes"),
            path_col("StorageClass", ".spec.storageClassName"),
            path_col("VolumeAttributesClass", ".spec.volumeAttributesClassName"),
            age(),
            wide(path_col("VolumeMode", ".spec.volumeMode")),
        ],
        ("", "PersistentVolume") => vec![
            path_col("Capacity", ".spec.capacity.storage"),
            col("Access Modes", "spec-access-modes"),
            path_col("Reclaim Policy", ".spec.persistentVolumeReclaimPolicy"),
            path_col("Status", ".status.phase"),
            col("Claim", "pv-claim"),
            path_col("StorageClass", ".spec.storageClassName"),
            path_col("VolumeAttributesClass", ".spec.volumeAttributesClassName"),
            path_col("Reason", ".status.reason"),
            age(),
            wide(path_col("VolumeMode", ".spec.volumeMode")),
        ],
        ("storage.k8s.io", "StorageClass") => vec![
            path_col("Provisioner", ".provisioner"),
            path_col("ReclaimPolicy", ".reclaimPolicy"),
            path_col("VolumeBindingMode", ".volumeBindingMode"),
            col("AllowVolumeExpansion", "allow-expansion"),
            age(),
        ],
        ("", "Namespace") => vec![path_col("Status", ".status.phase"), age()],
        ("", "Node") => vec![
            col("Status", "node-status"),
            col("Roles", "node-roles"),
            age(),
            path_col("Version", ".status.nodeInfo.kubeletVersion"),
            wide(col("Internal-IP", "node-internal-ip")),
            wide(col("External-IP", "node-external-ip")),
            wide(path_col("OS-Image", ".status.nodeInfo.osImage")),
            wide(path_col("Kernel-Version", ".status.nodeInfo.kernelVersion")),
            wide(path_col("Container-Runtime", ".status.nodeInfo.containerRuntimeVersion")),
        ],
        ("", "Event") => vec![
            date_col("Last Seen", ".lastTimestamp"),
            path_col("Type", ".type"),
            path_col("Reason", ".reason"),
            col("Object", "event-object"),
            path_col("Message", ".message"),
        ],
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
            let ready = o["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
            let mut status = match ready.and_then(|c| c["status"].as_str()) {
                Some("True") => "Ready".to_string(),
                Some("False") => "NotReady".to_string(),
                _ => "Unknown".to_string(),
            };
            if o["spec"]["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            json!(status)
        }
        "node-roles" => {
            let roles: Vec<&str> = o["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") })
        }
        "node-internal-ip" | "node-external-ip" => {
            let want = if kind == "node-internal-ip" { "InternalIP" } else { "ExternalIP" };
            let ip = o["status"]["addresses"].as_array().into_iter().flatten().find(|a| a["type"] == want);
            json!(ip.and_then(|a| a["address"].as_str()).unwrap_or("<none>"))
        }
        "readiness-gates" => {
            let gates = o["spec"]["readinessGates"].as_array().map_or(0, Vec::len);
            if gates == 0 {
                return json!("<none>");
            }
            let conds = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let met = o["spec"]["readinessGates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|g| conds.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True"))
                .count();
            json!(format!("{met}/{gates}"))
        }
        "updated-replicas" => json!(int(&o["status"]["updatedReplicas"])),
        "available-replicas" => json!(int(&o["status"]["availableReplicas"])),
        "desired-replicas" => json!(o["spec"]["replicas"].as_i64().unwrap_or(1)),
        "current-replicas" => json!(int(&o["status"]["replicas"])),
        "ready-replicas" => json!(int(&o["status"]["readyReplicas"])),
        "template-containers" | "template-images" | "jobtemplate-containers" | "jobtemplate-images" => {
            let containers = if kind.starts_with("jobtemplate") {
                &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            } else {
                &o["spec"]["template"]["spec"]["containers"]
            };
            let field = if kind.ends_with("containers") { "name" } else { "image" };
            let list: Vec<&str> =
                containers.as_array().into_iter().flatten().filter_map(|c| c[field].as_str()).collect();
            json!(list.join(","))
        }
        "selector" => json!(selector_text(&o["spec"]["selector"])),
        "service-selector" => {
            let sel = o["spec"]["selector"].as_object().filter(|m| !m.is_empty());
            json!(sel.map_or("<none>".to_string(), |m| pairs(m)))
        }
        "service-external-ip" => {
            let ingress: Vec<&str> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
                .collect();
            let external: Vec<&str> =
                o["spec"]["externalIPs"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let all = [ingress, external].concat();
            match (o["spec"]["type"].as_str(), all.is_empty()) {
                (_, false) => json!(all.join(",")),
                (Some("LoadBalancer"), true) => json!("<pending>"),
                _ => json!("<none>"),
            }
        }
        "job-status" => {
            let has = |t: &str| {
                o["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else if has("FailureTarget") {
                "FailureTarget"
            } else if o["spec"]["suspend"] == true {
                "Suspended"
            } else {
                "Running"
            };
            json!(status)
        }
        "job-duration" => {
            let parse = |v: &Value| v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
            match parse(&o["status"]["startTime"]) {
                None => json!("<none>"),
                Some(start) => {
                    let end = parse(&o["status"]["completionTime"])
                        .map_or_else(chrono::Utc::now, |e| e.with_timezone(&chrono::Utc));
                    let secs = (end - start.with_timezone(&chrono::Utc)).num_seconds().max(0);
                    json!(if secs < 120 { format!("{secs}s") } else { format!("{}m", secs / 60) })
                }
            }
        }
        "cron-suspend" => json!(if o["spec"]["suspend"] == true { "True" } else { "False" }),
        "cron-active" => json!(o["status"]["active"].as_array().map_or(0, Vec::len)),
        "controller" => {
            let owner =
                o["metadata"]["ownerReferences"].as_array().into_iter().flatten().find(|r| r["controller"] == true);
            json!(owner.map_or("<none>".to_string(), |r| format!(
                "{}.{}/{}",
                r["kind"].as_str().unwrap_or("").to_lowercase(),
                r["apiVersion"].as_str().unwrap_or("").split('/').next().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )))
        }
        "endpoints" => {
            let mut out: Vec<String> = Vec::new();
            for subset in o["subsets"].as_array().into_iter().flatten() {
                for addr in subset["addresses"].as_array().into_iter().flatten() {
                    let ip = addr["ip"].as_str().unwrap_or("");
                    match subset["ports"].as_array().filter(|p| !p.is_empty()) {
                        Some(ports) => out.extend(ports.iter().map(|p| format!("{ip}:{}", int(&p["port"])))),
                        None => out.push(ip.to_string()),
                    }
                }
            }
            json!(abbreviated(out))
        }
        "slice-ports" => {
            let ports: Vec<String> =
                o["ports"].as_array().into_iter().flatten().map(|p| int(&p["port"]).to_string()).collect();
            json!(if ports.is_empty() { "<unset>".to_string() } else { ports.join(",") })
        }
        "slice-endpoints" => {
            let ips: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            json!(abbreviated(ips))
        }
        "pdb-min-available" | "pdb-max-unavailable" => {
            let field = if kind == "pdb-min-available" { "minAvailable" } else { "maxUnavailable" };
            match &o["spec"][field] {
                Value::Null => json!("N/A"),
                Value::String(s) => json!(s),
                v => json!(v.to_string()),
            }
        }
        "pdb-allowed" => json!(int(&o["status"]["disruptionsAllowed"])),
        "status-access-modes" => json!(access_modes(&o["status"]["accessModes"])),
        "spec-access-modes" => json!(access_modes(&o["spec"]["accessModes"])),
        "pv-claim" => match o["spec"]["claimRef"]["name"].as_str() {
            Some(n) => json!(format!("{}/{n}", o["spec"]["claimRef"]["namespace"].as_str().unwrap_or(""))),
            None => json!(""),
        },
        "allow-expansion" => json!(if o["allowVolumeExpansion"] == true { "true" } else { "false" }),
        "event-object" => {
            let io = &o["involvedObject"];
            json!(format!("{}/{}", io["kind"].as_str().unwrap_or("").to_lowercase(), io["name"].as_str().unwrap_or("")))
        }
        "data-count" => {
            let n = |k: &str| o[k].as_object().map_or(0, |m| m.len());
            json!(n("data") + n("binaryData"))
        }
        _ => Value::Null,
    }
}

/// `RWO,ROX` as kubectl abbreviates access modes.
fn access_modes(modes: &Value) -> String {
    modes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn pairs(m: &serde_json::Map<String, Value>) -> String {
    m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
}

/// A label selector as kubectl prints it (`app=db,tier in (a,b)`).
fn selector_text(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"].as_object().map(|m| vec![pairs(m)]).unwrap_or_default();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or("");
        let vals: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(match e["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() { "<none>".to_string() } else { parts.join(",") }
}

/// At most three entries, then `+ N more...`, as kubectl's Endpoints column.
fn abbreviated(items: Vec<String>) -> String {
    if items.is_empty() {
        return "<none>".to_string();
    }
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if items.len() > 3 { format!("{shown} + {} more...", items.len() - 3) } else { shown }
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

    #[test]
    fn node_volume_and_endpoint_cells_follow_kubectl() {
        let node = json!({"spec": {"unschedulable": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}]}, "metadata": {"labels": {}}});
        assert_eq!(cell("node-status", &node), "Ready,SchedulingDisabled");
        assert_eq!(cell("node-roles", &node), "<none>");
        assert_eq!(cell("node-internal-ip", &node), "172.18.0.3");
        let pvc = json!({"status": {"accessModes": ["ReadWriteOnce", "ReadWriteMany"]}});
        assert_eq!(cell("status-access-modes", &pvc), "RWO,RWX");
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 3306}, {"port": 33060}]}]});
        assert_eq!(cell("endpoints", &ep), "10.0.0.1:3306,10.0.0.1:33060,10.0.0.2:3306 + 1 more...");
        let sel = json!({"spec": {"selector": {"matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}});
        assert_eq!(cell("selector", &sel), "app=db,tier in (a,b)");
        assert_eq!(cell("pdb-min-available", &json!({"spec": {"minAvailable": 2}})), "2");
        assert_eq!(cell("pdb-max-unavailable", &json!({"spec": {"minAvailable": 2}})), "N/A");
        let job = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}],
            "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:05Z"}});
        assert_eq!(cell("job-status", &job), "Complete");
        assert_eq!(cell("job-duration", &job), "5s");
    }
}
