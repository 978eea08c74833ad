//! Faults of the simulated cluster, on the admin endpoint (all `POST`, answered with the object changed):
//!
//! - `/_sandbox/nodes/{node}/notready` | `ready`: the node's Ready condition and `not-ready` taints; its
//!   pods turn NotReady and are evicted after the timeout (`--eviction-timeout`, else their tolerations);
//! - `/_sandbox/nodes/{node}/cordon` | `uncordon`: `spec.unschedulable` and its taint;
//! - `/_sandbox/pods/{ns}/{pod}/kill`: the containers restart (`restartCount` +1, NotReady, then Ready
//!   after the start delay);
//! - `/_sandbox/pods/{ns}/{pod}/unready` | `ready`: readiness as a failing/passing probe would set it;
//! - `/_sandbox/pvcs/{ns}/{claim}/hold` | `release`: the claim stays Pending / may bind;
//! - `/_sandbox/jobs/fail-next`: the next Job created fails (its pods exit 1).

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Key, Wake, str_at};
use crate::sandbox::sim::nodes;
use crate::sandbox::store::{PatchKind, Store, Subresource};
use crate::sandbox::{ApiError, Sandbox};

/// Fault state the controllers consult.
#[derive(Default)]
pub struct SimFaults {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    unready: HashSet<Key>,
    held_pvcs: HashSet<Key>,
    fail_next_job: bool,
    /// Reaches the controllers when a fault needs a sync without an object change.
    wake: Option<mpsc::UnboundedSender<Wake>>,
}

impl SimFaults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn connect(&self, wake: mpsc::UnboundedSender<Wake>) {
        self.state().wake = Some(wake);
    }

    pub(super) fn is_unready(&self, k: &Key) -> bool {
        self.state().unready.contains(k)
    }

    pub(super) fn is_pvc_held(&self, k: &Key) -> bool {
        self.state().held_pvcs.contains(k)
    }

    pub(super) fn take_fail_next_job(&self) -> bool {
        std::mem::take(&mut self.state().fail_next_job)
    }

    fn poke(&self, w: Wake) {
        if let Some(tx) = &self.state().wake {
            let _ = tx.send(w);
        }
    }
}

fn kind(store: &Store, plural: &str) -> Result<crate::sandbox::resources::ResourceType, ApiError> {
    store.resource("", "v1", plural).ok_or_else(|| ApiError::internal(format!("no {plural} kind")))
}

fn patch(store: &Store, plural: &str, k: &Key, body: Value, sub: Subresource) -> Result<Value, ApiError> {
    let rt = kind(store, plural)?;
    Ok(store.patch(&rt, &k.0, &k.1, PatchKind::Merge, &body, sub, &super::opts())?.0)
}

/// Serves a fault route, or `None` when the path is not one of them.
pub(crate) fn admin(sb: &Sandbox, method: &str, path: &str) -> Option<Result<Value, ApiError>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match segs.as_slice() {
        ["_sandbox", "nodes", node, action] => Route::Node(node.to_string(), action.to_string()),
        ["_sandbox", "pods", ns, pod, action] => Route::Pod((ns.to_string(), pod.to_string()), action.to_string()),
        ["_sandbox", "pvcs", ns, claim, action] => Route::Pvc((ns.to_string(), claim.to_string()), action.to_string()),
        ["_sandbox", "jobs", "fail-next"] => Route::FailNextJob,
        _ => return None,
    };
    if method != "POST" {
        return Some(Err(ApiError::bad_request(format!("{path}: use POST"))));
    }
    Some(apply(sb.store(), sb.sim_faults(), route))
}

enum Route {
    Node(String, String),
    Pod(Key, String),
    Pvc(Key, String),
    FailNextJob,
}

fn unknown(action: &str, allowed: &str) -> ApiError {
    ApiError::bad_request(format!("unknown fault action {action:?}; expected one of {allowed}"))
}

fn apply(store: &Store, faults: &SimFaults, route: Route) -> Result<Value, ApiError> {
    match route {
        Route::Node(node, action) => {
            let rt = kind(store, "nodes")?;
            let mut obj = store.get(&rt, "", &node)?;
            let now = chrono::Utc::now();
            match action.as_str() {
                "notready" => nodes::set_ready(&mut obj, false, now),
                "ready" => nodes::set_ready(&mut obj, true, now),
                "cordon" => nodes::set_cordoned(&mut obj, true, now),
                "uncordon" => nodes::set_cordoned(&mut obj, false, now),
                other => return Err(unknown(other, "notready, ready, cordon, uncordon")),
            }
            tracing::info!(%node, %action, "sandbox fault: node");
            let k = (String::new(), node);
            // A merge patch keeps keys it does not mention: a dropped taint list or uncordon must say null.
            let field = |f: &str| obj.pointer(&format!("/spec/{f}")).cloned().unwrap_or(Value::Null);
            let spec = json!({"taints": field("taints"), "unschedulable": field("unschedulable")});
            patch(store, "nodes", &k, json!({"spec": spec}), Subresource::Main)?;
            patch(
                store,
                "nodes",
                &k,
                json!({"status": {"conditions": obj["status"]["conditions"]}}),
                Subresource::Status,
            )
        }
        Route::Pod(k, action) => {
            let rt = kind(store, "pods")?;
            let pod = store.get(&rt, &k.0, &k.1)?;
            tracing::info!(namespace = %k.0, pod = %k.1, %action, "sandbox fault: pod");
            match action.as_str() {
                "kill" => patch(store, "pods", &k, killed(&pod), Subresource::Status),
                "unready" => {
                    faults.state().unready.insert(k.clone());
                    patch(store, "pods", &k, readiness(&pod, false), Subresource::Status)
                }
                "ready" => {
                    faults.state().unready.remove(&k);
                    if str_at(&pod, "/status/phase") == "Running" {
                        patch(store, "pods", &k, readiness(&pod, true), Subresource::Status)
                    } else {
                        faults.poke(Wake::Pod(k));
                        Ok(pod)
                    }
                }
                other => Err(unknown(other, "kill, unready, ready")),
            }
        }
        Route::Pvc(k, action) => {
            let rt = kind(store, "persistentvolumeclaims")?;
            let claim = store.get(&rt, &k.0, &k.1)?;
            match action.as_str() {
                "hold" => faults.state().held_pvcs.insert(k.clone()),
                "release" => faults.state().held_pvcs.remove(&k),
                other => return Err(unknown(other, "hold, release")),
            };
            tracing::info!(namespace = %k.0, claim = %k.1, %action, "sandbox fault: claim");
            faults.poke(Wake::Pvc(k));
            Ok(claim)
        }
        Route::FailNextJob => {
            faults.state().fail_next_job = true;
            tracing::info!("sandbox fault: the next Job fails");
            Ok(json!({"failNextJob": true}))
        }
    }
}

fn conditions_with_ready(pod: &Value, ready: bool) -> Value {
    let mut conds = pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for kind in ["Ready", "ContainersReady"] {
        let status = if ready { "True" } else { "False" };
        match conds.iter_mut().find(|c| str_at(c, "/type") == kind) {
            Some(c) if str_at(c, "/status") == status => {}
            Some(c) => {
                c["status"] = json!(status);
                c["lastTransitionTime"] = json!(stamp);
            }
            None => {
                conds.push(json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": stamp}))
            }
        }
    }
    Value::Array(conds)
}

fn readiness(pod: &Value, ready: bool) -> Value {
    let mut statuses = pod.pointer("/status/containerStatuses").cloned().unwrap_or_else(|| json!([]));
    for s in statuses.as_array_mut().into_iter().flatten() {
        s["ready"] = json!(ready);
    }
    json!({"status": {"conditions": conditions_with_ready(pod, ready), "containerStatuses": statuses}})
}

/// The containers died: restart count up, last state terminated, not ready until restarted.
fn killed(pod: &Value) -> Value {
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut statuses = pod.pointer("/status/containerStatuses").cloned().unwrap_or_else(|| json!([]));
    for s in statuses.as_array_mut().into_iter().flatten() {
        let restarts = s.get("restartCount").and_then(Value::as_u64).unwrap_or(0) + 1;
        let started = s.pointer("/state/running/startedAt").cloned().unwrap_or(Value::Null);
        s["restartCount"] = json!(restarts);
        s["ready"] = json!(false);
        s["started"] = json!(false);
        s["lastState"] =
            json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": stamp}});
        s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
    }
    json!({"status": {"conditions": conditions_with_ready(pod, false), "containerStatuses": statuses}})
}
