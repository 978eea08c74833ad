//! What Services resolve to: the Endpoints and EndpointSlice objects built from a Service's selector
//! and the pods it matches, and clusterIP allocation from the service range.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::labels::labels_of;
use super::statefulset::template_hash;
use super::{is_terminating, name_of, namespace_of, pod_is_ready, uid_of};

/// The service range, 10.96.0.0/12 as kubeadm and kind default to.
pub const SERVICE_CIDR_BASE: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 0);
const SERVICE_CIDR_SIZE: u32 = 1 << 20;
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EndpointsError {
    /// Every address of the service range is taken (upstream `ErrFull`).
    #[error("failed to allocate a serviceIP: range is full")]
    RangeFull,
}

/// The `index`-th usable address of 10.96.0.0/12 (index 0 is 10.96.0.1, by convention the
/// `kubernetes` Service). The network and broadcast addresses are never handed out.
pub fn cluster_ip(index: u32) -> Result<Ipv4Addr, EndpointsError> {
    if index >= SERVICE_CIDR_SIZE - 2 {
        return Err(EndpointsError::RangeFull);
    }
    Ok(Ipv4Addr::from(u32::from(SERVICE_CIDR_BASE) + 1 + index))
}

fn selector(service: &Value) -> Option<&Map<String, Value>> {
    service.pointer("/spec/selector").and_then(Value::as_object).filter(|s| !s.is_empty())
}

fn is_headless(service: &Value) -> bool {
    service.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None")
}

fn publish_not_ready(service: &Value) -> bool {
    service.pointer("/spec/publishNotReadyAddresses").and_then(Value::as_bool) == Some(true)
}

/// Pods the service selects: same namespace, all selector labels equal, not finished, with an IP.
fn selected_pods<'a>(service: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let Some(sel) = selector(service) else {
        return Vec::new();
    };
    let ns = namespace_of(service);
    pods.iter()
        .filter(|p| namespace_of(p) == ns)
        .filter(|p| {
            let l = labels_of(p);
            sel.iter().all(|(k, v)| l.get(k) == Some(v))
        })
        .filter(|p| !matches!(p.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed")))
        .filter(|p| p.pointer("/status/podIP").and_then(Value::as_str).is_some_and(|ip| !ip.is_empty()))
        .collect()
}

/// The service's ports as this pod serves them: a named targetPort resolves to the container port of
/// that name; a port the pod does not expose is left out, as upstream does.
fn pod_ports(service: &Value, pod: &Value) -> Vec<Value> {
    let ports = service.pointer("/spec/ports").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let mut out: Vec<Value> = ports
        .iter()
        .filter_map(|sp| {
            let protocol = sp.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            let target = match sp.get("targetPort") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(name)) => name.parse::<i64>().ok().or_else(|| {
                    pod.pointer("/spec/containers")?.as_array()?.iter().find_map(|c| {
                        c.get("ports")?.as_array()?.iter().find_map(|cp| {
                            (cp.get("name").and_then(Value::as_str) == Some(name)
                                && cp.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == protocol)
                                .then(|| cp.get("containerPort").and_then(Value::as_i64))
                                .flatten()
                        })
                    })
                }),
                _ => sp.get("port").and_then(Value::as_i64),
            }?;
            let mut p = json!({"port": target, "protocol": protocol});
            if let Some(name) = sp.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                p["name"] = json!(name);
            }
            if let Some(ap) = sp.get("appProtocol") {
                p["appProtocol"] = ap.clone();
            }
            Some(p)
        })
        .collect();
    out.sort_by_key(Value::to_string);
    out
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": namespace_of(pod), "name": name_of(pod), "uid": uid_of(pod)})
}

fn pod_ip(pod: &Value) -> &str {
    pod.pointer("/status/podIP").and_then(Value::as_str).unwrap_or("")
}

/// A pod's DNS hostname under the service: only when the pod names the service as its subdomain.
fn dns_hostname<'a>(service: &Value, pod: &'a Value) -> Option<&'a str> {
    let hostname = pod.pointer("/spec/hostname").and_then(Value::as_str).filter(|h| !h.is_empty())?;
    (pod.pointer("/spec/subdomain").and_then(Value::as_str) == Some(name_of(service))).then_some(hostname)
}

fn object_labels(service: &Value) -> Map<String, Value> {
    let mut labels = labels_of(service);
    if is_headless(service) {
        labels.insert(LABEL_HEADLESS.into(), json!(""));
    }
    labels
}

/// The Endpoints object for a service with a selector (`None` for selector-less services, whose
/// Endpoints are managed by hand). Ready pods go to `addresses`, others to `notReadyAddresses` unless
/// the service publishes not-ready addresses; terminating pods are left out unless it does.
pub fn endpoints_for(service: &Value, pods: &[Value]) -> Option<Value> {
    selector(service)?;
    let publish = publish_not_ready(service);
    // Subsets group pods that serve the same resolved ports.
    // (ports, ready addresses, not-ready addresses) per resolved port set.
    type Subset = (Vec<Value>, Vec<Value>, Vec<Value>);
    let mut groups: BTreeMap<String, Subset> = BTreeMap::new();
    for pod in selected_pods(service, pods) {
        if is_terminating(pod) && !publish {
            continue;
        }
        let ports = pod_ports(service, pod);
        let has_ports = service.pointer("/spec/ports").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
        if has_ports && ports.is_empty() {
            continue;
        }
        let mut addr = json!({"ip": pod_ip(pod), "targetRef": target_ref(pod)});
        if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
            addr["nodeName"] = json!(node);
        }
        if let Some(h) = dns_hostname(service, pod) {
            addr["hostname"] = json!(h);
        }
        let entry = groups.entry(Value::Array(ports.clone()).to_string()).or_insert_with(|| (ports, vec![], vec![]));
        if publish || pod_is_ready(pod) {
            entry.1.push(addr);
        } else {
            entry.2.push(addr);
        }
    }
    let by_ip = |a: &Value, b: &Value| a["ip"].as_str().cmp(&b["ip"].as_str());
    let subsets: Vec<Value> = groups
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(by_ip);
            not_ready.sort_by(by_ip);
            let mut s = Map::new();
            if !ready.is_empty() {
                s.insert("addresses".into(), Value::Array(ready));
            }
            if !not_ready.is_empty() {
                s.insert("notReadyAddresses".into(), Value::Array(not_ready));
            }
            if !ports.is_empty() {
                s.insert("ports".into(), Value::Array(ports));
            }
            Value::Object(s)
        })
        .collect();
    let mut ep = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name_of(service), "namespace": namespace_of(service), "labels": object_labels(service)},
    });
    if !subsets.is_empty() {
        ep["subsets"] = Value::Array(subsets);
    }
    Some(ep)
}

/// The EndpointSlices for a service with a selector, one per set of resolved ports, with
/// ready/serving/terminating conditions per pod and the zone of its node (from `nodes`). Names are
/// derived from the service and the slice's position, so a service with one port set keeps one slice
/// name whatever its pods do.
pub fn endpoint_slices_for(service: &Value, pods: &[Value], nodes: &[Value]) -> Option<Vec<Value>> {
    selector(service)?;
    let publish = publish_not_ready(service);
    let mut groups: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for pod in selected_pods(service, pods) {
        let ports = pod_ports(service, pod);
        let terminating = is_terminating(pod);
        let ready = pod_is_ready(pod);
        let mut ep = json!({
            "addresses": [pod_ip(pod)],
            "conditions": {"ready": publish || (ready && !terminating), "serving": publish || ready, "terminating": terminating},
            "targetRef": target_ref(pod),
        });
        if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
            ep["nodeName"] = json!(node);
            let zone = nodes
                .iter()
                .find(|n| name_of(n) == node)
                .and_then(|n| n.pointer("/metadata/labels/topology.kubernetes.io~1zone"))
                .and_then(Value::as_str);
            if let Some(z) = zone {
                ep["zone"] = json!(z);
            }
        }
        if let Some(h) = dns_hostname(service, pod) {
            ep["hostname"] = json!(h);
        }
        groups.entry(Value::Array(ports.clone()).to_string()).or_insert_with(|| (ports, vec![])).1.push(ep);
    }
    if groups.is_empty() {
        // A service with no endpoints still gets one empty slice carrying its ports.
        let ports = service.pointer("/spec/ports").and_then(Value::as_array).map(|ps| {
            ps.iter()
                .map(|sp| {
                    let mut p = json!({"port": sp.get("port"), "protocol": sp.get("protocol").and_then(Value::as_str).unwrap_or("TCP")});
                    if let Some(n) = sp.get("name") {
                        p["name"] = n.clone();
                    }
                    p
                })
                .collect::<Vec<_>>()
        });
        groups.insert(String::new(), (ports.unwrap_or_default(), vec![]));
    }
    let mut labels = object_labels(service);
    labels.insert(LABEL_SERVICE_NAME.into(), json!(name_of(service)));
    labels.insert(LABEL_MANAGED_BY.into(), json!("endpointslice-controller.k8s.io"));
    let owner = json!({"apiVersion": "v1", "kind": "Service", "name": name_of(service), "uid": uid_of(service),
                       "controller": true, "blockOwnerDeletion": true});
    let slices = groups
        .into_values()
        .enumerate()
        .map(|(index, (ports, mut endpoints))| {
            endpoints.sort_by(|a, b| a["addresses"][0].as_str().cmp(&b["addresses"][0].as_str()));
            let suffix: String = template_hash(&json!([name_of(service), index]), 0).chars().take(5).collect();
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": format!("{}-{suffix}", name_of(service)),
                    "namespace": namespace_of(service),
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            })
        })
        .collect();
    Some(slices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::sim::nodes::make_nodes;

    fn service(extra: Value) -> Value {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db", "namespace": "ns", "uid": "svc-uid", "labels": {"app": "db"}},
            "spec": {"selector": {"app": "db"}, "clusterIP": "None",
                     "ports": [{"name": "mysql", "port": 3306, "targetPort": "mysql"}]},
        });
        if let (Some(spec), Some(e)) = (s["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(e.clone());
        }
        s
    }

    fn pod(i: u8, ready: bool) -> Value {
        json!({
            "metadata": {"name": format!("db-{i}"), "namespace": "ns", "uid": format!("p{i}"), "labels": {"app": "db"}},
            "spec": {"nodeName": format!("dbdeck-node-{}", i + 1), "hostname": format!("db-{i}"), "subdomain": "db",
                     "containers": [{"name": "c", "ports": [{"name": "mysql", "containerPort": 3306}]}]},
            "status": {"phase": "Running", "podIP": format!("10.244.{}.5", i + 1),
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        })
    }

    #[test]
    fn cluster_ips_are_deterministic_and_bounded() {
        assert_eq!(cluster_ip(0), Ok(Ipv4Addr::new(10, 96, 0, 1)));
        assert_eq!(cluster_ip(9), Ok(Ipv4Addr::new(10, 96, 0, 10)));
        assert_eq!(cluster_ip(300), Ok(Ipv4Addr::new(10, 96, 1, 45)));
        assert_eq!(cluster_ip((1 << 20) - 3), Ok(Ipv4Addr::new(10, 111, 255, 254)));
        assert_eq!(cluster_ip((1 << 20) - 2), Err(EndpointsError::RangeFull));
    }

    #[test]
    fn endpoints_follow_readiness() {
        let svc = service(json!({}));
        let pods = vec![pod(0, true), pod(1, false), pod(2, true)];
        let ep = endpoints_for(&svc, &pods).unwrap();
        let subset = &ep["subsets"][0];
        let ips: Vec<&str> =
            subset["addresses"].as_array().unwrap().iter().map(|a| a["ip"].as_str().unwrap()).collect();
        assert_eq!(ips, ["10.244.1.5", "10.244.3.5"]);
        assert_eq!(subset["notReadyAddresses"][0]["ip"], "10.244.2.5");
        assert_eq!(subset["addresses"][0]["hostname"], "db-0");
        assert_eq!(subset["addresses"][0]["targetRef"]["name"], "db-0");
        assert_eq!(subset["ports"], json!([{"port": 3306, "protocol": "TCP", "name": "mysql"}]));
        assert_eq!(ep["metadata"]["labels"][LABEL_HEADLESS], "");
        // db-1 becomes ready.
        let pods = vec![pod(0, true), pod(1, true), pod(2, true)];
        let ep = endpoints_for(&svc, &pods).unwrap();
        assert_eq!(ep["subsets"][0]["addresses"].as_array().unwrap().len(), 3);
        assert!(ep["subsets"][0].get("notReadyAddresses").is_none());
        // No pod at all: no subsets.
        assert!(endpoints_for(&svc, &[]).unwrap().get("subsets").is_none());
    }

    #[test]
    fn publish_not_ready_addresses() {
        let svc = service(json!({"publishNotReadyAddresses": true}));
        let ep = endpoints_for(&svc, &[pod(0, false)]).unwrap();
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.244.1.5");
        let slices = endpoint_slices_for(&svc, &[pod(0, false)], &[]).unwrap();
        assert_eq!(slices[0]["endpoints"][0]["conditions"]["ready"], true);
    }

    #[test]
    fn selectorless_services_and_unresolvable_ports() {
        let mut svc = service(json!({}));
        svc["spec"].as_object_mut().unwrap().remove("selector");
        assert!(endpoints_for(&svc, &[pod(0, true)]).is_none());
        assert!(endpoint_slices_for(&svc, &[pod(0, true)], &[]).is_none());
        let svc = service(json!({"ports": [{"name": "x", "port": 80, "targetPort": "http"}]}));
        assert!(endpoints_for(&svc, &[pod(0, true)]).unwrap().get("subsets").is_none());
    }

    #[test]
    fn terminating_pods_leave_endpoints_but_stay_in_slices() {
        let svc = service(json!({}));
        let mut p = pod(0, true);
        p["metadata"]["deletionTimestamp"] = json!("2030-01-01T00:00:00Z");
        assert!(endpoints_for(&svc, std::slice::from_ref(&p)).unwrap().get("subsets").is_none());
        let slices = endpoint_slices_for(&svc, &[p], &[]).unwrap();
        assert_eq!(
            slices[0]["endpoints"][0]["conditions"],
            json!({"ready": false, "serving": true, "terminating": true})
        );
    }

    #[test]
    fn slices_carry_labels_zone_and_owner() {
        let svc = service(json!({}));
        let nodes = make_nodes(3, &[]);
        let slices = endpoint_slices_for(&svc, &[pod(1, true), pod(0, false)], &nodes).unwrap();
        assert_eq!(slices.len(), 1);
        let s = &slices[0];
        assert!(s["metadata"]["name"].as_str().unwrap().starts_with("db-"));
        assert_eq!(s["metadata"]["labels"][LABEL_SERVICE_NAME], "db");
        assert_eq!(s["metadata"]["labels"][LABEL_MANAGED_BY], "endpointslice-controller.k8s.io");
        assert_eq!(s["metadata"]["ownerReferences"][0]["uid"], "svc-uid");
        assert_eq!(s["addressType"], "IPv4");
        assert_eq!(s["endpoints"][0]["addresses"][0], "10.244.1.5");
        assert_eq!(s["endpoints"][0]["conditions"]["ready"], false);
        assert_eq!(s["endpoints"][1]["zone"], "zone-b");
        assert_eq!(s["endpoints"][1]["hostname"], "db-1");
        assert_eq!(s["ports"][0]["port"], 3306);
        // The slice keeps its name as pods come and go, and an empty service still has it, with its ports.
        assert_eq!(
            endpoint_slices_for(&svc, &[pod(0, true)], &nodes).unwrap()[0]["metadata"]["name"],
            s["metadata"]["name"]
        );
        let empty = endpoint_slices_for(&svc, &[], &nodes).unwrap();
        assert_eq!(empty[0]["metadata"]["name"], s["metadata"]["name"]);
        assert_eq!(empty[0]["endpoints"], json!([]));
        assert_eq!(empty[0]["ports"][0]["port"], 3306);
    }
}
