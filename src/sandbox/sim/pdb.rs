//! PodDisruptionBudget status, computed as the disruption controller does from the pods the budget
//! selects and the scale of their controllers.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::labels::{labels_of, selector_matches};
use super::{condition_status, is_terminating, namespace_of, pod_is_ready, uid_of};

/// `intstr` value of `minAvailable`/`maxUnavailable`: a count, or a percentage of `total` rounded up.
fn resolve(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<i64>().ok().map(|p| (p * total + 99).div_euclid(100)),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

fn controller_ref(obj: &Value) -> Option<&Value> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// The scale (`spec.replicas`) behind a pod: its controller, or the Deployment above a ReplicaSet.
/// `None` when the controller is unknown.
fn scale_owner<'a>(pod: &Value, controllers: &'a [Value]) -> Option<&'a Value> {
    let uid = controller_ref(pod)?.get("uid")?.as_str()?;
    let owner = controllers.iter().find(|c| uid_of(c) == uid)?;
    if owner.get("kind").and_then(Value::as_str) == Some("ReplicaSet")
        && let Some(dep_uid) = controller_ref(owner).and_then(|r| r.get("uid")).and_then(Value::as_str)
        && let Some(dep) = controllers.iter().find(|c| uid_of(c) == dep_uid)
    {
        return Some(dep);
    }
    Some(owner)
}

/// The budget's new `status`. `pods` and `controllers` (StatefulSets, ReplicaSets, Deployments… of the
/// namespace) may include unrelated objects.
pub fn pdb_status(pdb: &Value, pods: &[Value], controllers: &[Value], now: DateTime<Utc>) -> Value {
    let ns = namespace_of(pdb);
    let selected: Vec<&Value> = pods
        .iter()
        .filter(|p| namespace_of(p) == ns && selector_matches(pdb.pointer("/spec/selector"), &labels_of(p)))
        .collect();
    let controllers_scale = || -> i64 {
        let mut seen = BTreeMap::new();
        for p in &selected {
            if let Some(c) = scale_owner(p, controllers) {
                seen.insert(uid_of(c).to_string(), c.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1));
            }
        }
        seen.values().sum()
    };
    let (expected, desired) = match (pdb.pointer("/spec/maxUnavailable"), pdb.pointer("/spec/minAvailable")) {
        (Some(max), _) if !max.is_null() => {
            let expected = controllers_scale();
            (expected, (expected - resolve(max, expected).unwrap_or(0)).max(0))
        }
        (_, Some(min @ Value::Number(_))) => (selected.len() as i64, resolve(min, 0).unwrap_or(0)),
        (_, Some(min)) if !min.is_null() => {
            let expected = controllers_scale();
            (expected, resolve(min, expected).unwrap_or(0))
        }
        _ => (0, 0),
    };
    let healthy = selected.iter().filter(|p| !is_terminating(p) && pod_is_ready(p)).count() as i64;
    let allowed = if expected <= 0 { 0 } else { (healthy - desired).max(0) };
    let generation = pdb.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    let cond_status = if allowed > 0 { "True" } else { "False" };
    let transition = match condition_status(pdb, "DisruptionAllowed") {
        Some(s) if s == cond_status => pdb
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionAllowed")))
            .and_then(|c| c.get("lastTransitionTime").cloned()),
        _ => None,
    }
    .unwrap_or_else(|| json!(now.to_rfc3339_opts(SecondsFormat::Secs, true)));
    json!({
        "observedGeneration": generation,
        "disruptedPods": {},
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": cond_status,
            "reason": if allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": generation,
            "lastTransitionTime": transition,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "labels": {"app": "db"},
                "ownerReferences": [{"kind": "StatefulSet", "name": "db", "uid": "sts", "controller": true}]},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    fn pdb(spec: Value) -> Value {
        let mut spec = spec;
        spec["selector"] = json!({"matchLabels": {"app": "db"}});
        json!({"metadata": {"name": "db", "namespace": "ns", "generation": 2}, "spec": spec})
    }

    fn sts(replicas: i64) -> Value {
        json!({"kind": "StatefulSet", "metadata": {"name": "db", "uid": "sts"}, "spec": {"replicas": replicas}})
    }

    #[test]
    fn min_available_count() {
        let pods = [pod("db-0", true), pod("db-1", true), pod("db-2", false)];
        let st = pdb_status(&pdb(json!({"minAvailable": 1})), &pods, &[], Utc::now());
        assert_eq!(st["expectedPods"], 3);
        assert_eq!(st["currentHealthy"], 2);
        assert_eq!(st["desiredHealthy"], 1);
        assert_eq!(st["disruptionsAllowed"], 1);
        assert_eq!(st["observedGeneration"], 2);
        assert_eq!(st["conditions"][0]["reason"], "SufficientPods");
    }

    #[test]
    fn max_unavailable_uses_controller_scale() {
        let pods = [pod("db-0", true), pod("db-1", true)];
        let st = pdb_status(&pdb(json!({"maxUnavailable": 1})), &pods, &[sts(3)], Utc::now());
        assert_eq!(st["expectedPods"], 3);
        assert_eq!(st["desiredHealthy"], 2);
        assert_eq!(st["disruptionsAllowed"], 0);
        assert_eq!(st["conditions"][0]["status"], "False");
        assert_eq!(st["conditions"][0]["reason"], "InsufficientPods");
    }

    #[test]
    fn percentages_round_up() {
        let pods = [pod("db-0", true), pod("db-1", true), pod("db-2", true)];
        let st = pdb_status(&pdb(json!({"minAvailable": "50%"})), &pods, &[sts(3)], Utc::now());
        assert_eq!(st["desiredHealthy"], 2);
        assert_eq!(st["disruptionsAllowed"], 1);
        let st = pdb_status(&pdb(json!({"maxUnavailable": "34%"})), &pods, &[sts(3)], Utc::now());
        assert_eq!(st["desiredHealthy"], 1);
        assert_eq!(st["disruptionsAllowed"], 2);
    }

    #[test]
    fn terminating_and_foreign_pods_are_not_healthy() {
        let mut gone = pod("db-0", true);
        gone["metadata"]["deletionTimestamp"] = json!("2030-01-01T00:00:00Z");
        let mut other = pod("x", true);
        other["metadata"]["namespace"] = json!("elsewhere");
        let st = pdb_status(&pdb(json!({"minAvailable": 1})), &[gone, other], &[], Utc::now());
        assert_eq!(st["currentHealthy"], 0);
        assert_eq!(st["expectedPods"], 1);
        assert_eq!(st["disruptionsAllowed"], 0);
    }

    #[test]
    fn deployment_scale_is_found_through_its_replica_set() {
        let mut p = pod("web-abc", true);
        p["metadata"]["ownerReferences"] =
            json!([{"kind": "ReplicaSet", "name": "web-1", "uid": "rs", "controller": true}]);
        let rs = json!({"kind": "ReplicaSet", "metadata": {"name": "web-1", "uid": "rs",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "dep", "controller": true}]},
            "spec": {"replicas": 2}});
        let dep = json!({"kind": "Deployment", "metadata": {"name": "web", "uid": "dep"}, "spec": {"replicas": 4}});
        let st = pdb_status(&pdb(json!({"maxUnavailable": 1})), &[p], &[rs, dep], Utc::now());
        assert_eq!(st["expectedPods"], 4);
        assert_eq!(st["desiredHealthy"], 3);
    }
}
