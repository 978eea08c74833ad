//! Status rules shared by the three kinds (reference §0): component state from pod counts, the
//! capped condition history, and writing status only when it changed.

use chrono::{SecondsFormat, Utc};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::common::{ClusterCondition, state};

/// Percona keeps at most this many conditions (a history of states).
pub const MAX_CONDITIONS: usize = 20;

/// `ready == size` → ready; paused with pods left → stopping; paused with none → paused; else initializing.
pub fn component_state(size: i32, ready: i32, paused: bool) -> &'static str {
    match (paused, ready) {
        (true, 0) => state::PAUSED,
        (true, _) => state::STOPPING,
        (false, r) if r == size && size > 0 => state::READY,
        _ => state::INITIALIZING,
    }
}

/// Appends a condition for a new state, keeping the last [`MAX_CONDITIONS`].
pub fn push_state_condition(
    conditions: &mut Vec<ClusterCondition>,
    new_state: &str,
    reason: Option<String>,
    message: Option<String>,
) {
    if conditions.last().is_some_and(|c| c.type_ == new_state && c.message == message) {
        return;
    }
    conditions.push(ClusterCondition {
        type_: new_state.to_string(),
        status: "True".into(),
        reason,
        message,
        last_transition_time: Some(now()),
        observed_generation: None,
    });
    let excess = conditions.len().saturating_sub(MAX_CONDITIONS);
    conditions.drain(..excess);
}

pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// True when the pod is ContainersReady and runs `revision` (when one is given): Percona counts a
/// pod at an old revision as not ready, so a rollout shows as initializing.
pub fn pod_ready_at(pod: &Pod, revision: Option<&str>) -> bool {
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "ContainersReady" && c.status == "True"));
    let at_revision = match revision {
        Some(rev) => pod_revision(pod) == Some(rev),
        None => true,
    };
    ready && at_revision && pod.metadata.deletion_timestamp.is_none()
}

pub fn pod_revision(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref().and_then(|l| l.get("controller-revision-hash")).map(String::as_str)
}

/// The scheduler's message for a pod it could not place, if that is why the pod waits.
pub fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find_map(|c| {
        (c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")).then(|| {
            format!("{}: {}", pod.metadata.name.clone().unwrap_or_default(), c.message.clone().unwrap_or_default())
        })
    })
}

/// `(replicas the StatefulSet runs, its update revision, whether a rollout is unfinished)`.
pub fn sts_progress(sts: Option<&StatefulSet>) -> (i32, Option<String>, bool) {
    let Some(status) = sts.and_then(|s| s.status.as_ref()) else { return (0, None, false) };
    let upgrading = status.replicas > status.updated_replicas.unwrap_or(0);
    (status.replicas, status.update_revision.clone(), upgrading)
}

/// Writes `status` through the status subresource when it differs from what the server holds now;
/// the status it replaced when it wrote. The object is read fresh rather than taken from the controller's cache: a
/// cache that has not yet seen our last write would make the diff miss fields to clear. The patch
/// carries only what changed, with `null` for fields that went away.
pub async fn write_if_changed<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<Option<S>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    S: Serialize + DeserializeOwned + Default,
{
    let live = super::apply::retrying(Default::default(), || api.get_status(name)).await?;
    let old = serde_json::to_value(&live).ok().and_then(|v| v.get("status").cloned()).unwrap_or(Value::Null);
    let new = serde_json::to_value(status).unwrap_or(Value::Null);
    let Some(diff) = merge_diff(&old, &new) else { return Ok(None) };
    let patch = serde_json::json!({ "status": diff });
    let pp = PatchParams::default();
    let patch = Patch::Merge(&patch);
    super::apply::retrying(Default::default(), || api.patch_status(name, &pp, &patch)).await?;
    Ok(Some(serde_json::from_value(old).unwrap_or_default()))
}

/// The JSON merge patch that turns `old` into `new`, or None when they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = serde_json::Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(d) = merge_diff(ov, nv) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None => {
                        out.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (a, b) if same(a, b) => None,
        (_, b) => Some(b.clone()),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_state_follows_the_reference() {
        assert_eq!(component_state(3, 3, false), "ready");
        assert_eq!(component_state(3, 2, false), "initializing");
        assert_eq!(component_state(3, 1, true), "stopping");
        assert_eq!(component_state(3, 0, true), "paused");
        assert_eq!(component_state(0, 0, false), "initializing");
    }

    #[test]
    fn conditions_are_capped_and_not_repeated() {
        let mut c = Vec::new();
        for i in 0..30 {
            push_state_condition(&mut c, if i % 2 == 0 { "ready" } else { "initializing" }, None, None);
        }
        assert_eq!(c.len(), MAX_CONDITIONS);
        assert_eq!(c.last().unwrap().type_, "initializing");
        push_state_condition(&mut c, "initializing", None, None);
        assert_eq!(c.len(), MAX_CONDITIONS);
    }

    #[test]
    fn merge_diff_nulls_what_went_away_and_skips_equal() {
        let old = serde_json::json!({"state": "error", "message": ["x"], "pxc": {"size": 3, "ready": 1}});
        let new = serde_json::json!({"state": "ready", "pxc": {"size": 3, "ready": 3}});
        assert_eq!(
            merge_diff(&old, &new),
            Some(serde_json::json!({"state": "ready", "message": null, "pxc": {"ready": 3}}))
        );
        assert_eq!(merge_diff(&new, &new), None);
    }
}
