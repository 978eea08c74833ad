//! `POST /api/v1/namespaces/{ns}/pods/{name}/eviction`: a pod deletion that honours PodDisruptionBudgets, as
//! `kubectl drain` and the cluster autoscaler use it. Upstream's rules, in the order it applies them:
//! - a pod that already finished (Succeeded/Failed) or is being deleted goes without a budget check;
//! - a pod covered by more than one budget is refused (500, the eviction API does not support that);
//! - a pod that is not Ready goes without using the budget when the budget's `unhealthyPodEvictionPolicy` is
//!   `AlwaysAllow`, or when the budget is currently met (`IfHealthyBudget`, the default);
//! - otherwise the budget must allow a disruption: the eviction takes one (`disruptionsAllowed` - 1 and the pod
//!   in `disruptedPods`, written with the budget's resourceVersion so two evictions cannot both take the last
//!   one), else 429 TooManyRequests with upstream's message and a `DisruptionBudget` cause.

use serde_json::{Value, json};

use super::sim::labels::{labels_of, selector_matches};
use super::sim::{is_terminating, pod_is_ready};
use super::status::ApiError;
use super::store::{DeleteOptions, ListOptions, PatchKind, Store, Subresource, WriteOptions, str_at};

/// Evicts the pod `ns/name` (the Eviction `body` as decoded from the request); answers the `Status` to return
/// with 201 Created.
pub(crate) fn evict(
    store: &Store,
    ns: &str,
    name: &str,
    body: &Value,
    opts: &DeleteOptions,
) -> Result<Value, ApiError> {
    let pods = kind(store, "", "pods")?;
    let body_name = str_at(body, "/metadata/name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {body_name}"
        )));
    }
    let pod = store.get(&pods, ns, name)?;
    let finished = matches!(str_at(&pod, "/status/phase"), "Succeeded" | "Failed");
    if finished || is_terminating(&pod) {
        return delete(store, ns, name, opts);
    }
    let pdbs = kind(store, "policy", "poddisruptionbudgets")?;
    let labels = labels_of(&pod);
    let covering: Vec<Value> = store
        .list(&pdbs, Some(ns), &ListOptions::default())?
        .items
        .into_iter()
        .filter(|b| selector_matches(b.pointer("/spec/selector"), &labels))
        .collect();
    let budget = match covering.as_slice() {
        [] => return delete(store, ns, name, opts),
        [one] => one,
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
    };
    let int = |p: &str| budget.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let (healthy, desired, allowed) =
        (int("/status/currentHealthy"), int("/status/desiredHealthy"), int("/status/disruptionsAllowed"));
    if !pod_is_ready(&pod) {
        let always = str_at(budget, "/spec/unhealthyPodEvictionPolicy") == "AlwaysAllow";
        if always || healthy >= desired {
            return delete(store, ns, name, opts);
        }
    }
    let pdb_name = str_at(budget, "/metadata/name").to_string();
    let generation = int("/metadata/generation");
    if allowed <= 0 || int("/status/observedGeneration") < generation {
        let mut e =
            ApiError::new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
        e.details = Some(Box::new(json!({"causes": [{
            "reason": "DisruptionBudget",
            "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently"),
        }]})));
        // No Retry-After, as upstream: client-go would otherwise retry silently instead of kubectl drain saying why.
        return Err(e);
    }
    if !opts.dry_run {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let take = json!({
            "metadata": {"resourceVersion": str_at(budget, "/metadata/resourceVersion")},
            "status": {"disruptionsAllowed": allowed - 1, "disruptedPods": {name: now}},
        });
        let manager = WriteOptions { field_manager: Some("dbdeck-sandbox-eviction".into()), ..Default::default() };
        store.patch(&pdbs, ns, &pdb_name, PatchKind::Merge, &take, Subresource::Status, &manager).map_err(|e| {
            if e.code == 409 {
                // Another eviction took a disruption first: the client retries, as against a real server.
                ApiError::new(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                )
            } else {
                e
            }
        })?;
    }
    tracing::info!(namespace = ns, pod = name, budget = %pdb_name, "sandbox: pod evicted");
    delete(store, ns, name, opts)
}

fn kind(store: &Store, group: &str, plural: &str) -> Result<super::resources::ResourceType, ApiError> {
    let version = "v1";
    store.resource(group, version, plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

fn delete(store: &Store, ns: &str, name: &str, opts: &DeleteOptions) -> Result<Value, ApiError> {
    let pods = kind(store, "", "pods")?;
    store.delete(&pods, ns, name, opts)?;
    Ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
}
