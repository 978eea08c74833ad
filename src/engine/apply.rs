//! The engine's apply step: server-side apply of a cluster's desired objects, then a sweep of the
//! objects the cluster owns but no longer wants.
//!
//! A reconcile that changes nothing must write nothing: every write bumps a resourceVersion and
//! wakes every watcher, including our own controller. So each object is first read, and applied
//! only when applying would change what the server holds: a desired field differs from the live
//! object, or a field this manager applied before is no longer desired (SSA would remove it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Map, Value};

/// The field manager of every dbdeck apply.
pub const FIELD_MANAGER: &str = "dbdeck";

/// The custom resource that owns a desired set (what its children's ownerReferences point at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

/// What one `apply_all` or `delete_orphans` pass did. Names are `Kind/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Objects written with server-side apply.
    pub applied: Vec<String>,
    /// Objects already as desired, left untouched.
    pub unchanged: usize,
    /// Orphans deleted.
    pub deleted: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("desired object #{index} has no {field}; every desired object needs apiVersion, kind and metadata.name")]
    Incomplete { index: usize, field: &'static str },
    #[error("{verb} {kind} {namespace}/{name}: {message}")]
    Api { verb: &'static str, kind: String, namespace: String, name: String, message: String },
    #[error("{verb} {kind} in {namespace}: {message}")]
    ListKind { verb: &'static str, kind: String, namespace: String, message: String },
    /// The object exists under another controller: applying would take it over (server-side apply forces).
    #[error(
        "{kind} {namespace}/{name} belongs to {other_kind} {other_name}, not to {owner_kind} {owner_name}: two \
         clusters whose objects share names cannot live in one namespace; rename or move one of them"
    )]
    OwnedByAnother {
        kind: String,
        namespace: String,
        name: String,
        other_kind: String,
        other_name: String,
        owner_kind: String,
        owner_name: String,
    },
}

/// How often a request answered 409/429/503 (or a transport error) is tried, and the first pause.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 8, first_delay: Duration::from_millis(20), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        self.first_delay.saturating_mul(1u32 << attempt.min(16)).min(self.max_delay)
    }
}

/// Applies desired sets and sweeps orphans with one field manager.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    field_manager: String,
    retry: RetryPolicy,
}

/// A request that may be tried again: throttling, unavailability, conflicts and broken transport.
fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 409 | 429 | 500 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// `apps/v1` → GroupVersionKind; the core group has no slash.
fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}

struct Target<'a> {
    resource: ApiResource,
    name: &'a str,
    namespace: String,
    body: &'a Value,
    owner: &'a OwnerRef,
}

impl Applier {
    pub fn new(client: kube::Client) -> Applier {
        Applier { client, field_manager: FIELD_MANAGER.to_string(), retry: RetryPolicy::default() }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Applier {
        self.retry = retry;
        self
    }

    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// Applies every desired object that differs from the live one; objects without a namespace go
    /// to the owner's. Stops at the first object that cannot be applied.
    pub async fn apply_all(&self, owner: &OwnerRef, desired: Vec<Value>) -> Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport::default();
        for (index, body) in desired.iter().enumerate() {
            let field = |f: &'static str| ApplyError::Incomplete { index, field: f };
            let api_version = body.get("apiVersion").and_then(Value::as_str).ok_or_else(|| field("apiVersion"))?;
            let kind = body.get("kind").and_then(Value::as_str).ok_or_else(|| field("kind"))?;
            let meta = body.get("metadata");
            let name =
                meta.and_then(|m| m.get("name")).and_then(Value::as_str).ok_or_else(|| field("metadata.name"))?;
            let namespace =
                meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or(&owner.namespace).to_string();
            let resource = ApiResource::from_gvk(&gvk(api_version, kind));
            let target = Target { resource, name, namespace, body, owner };
            if self.apply_one(&target).await? {
                report.applied.push(format!("{kind}/{name}"));
            } else {
                report.unchanged += 1;
            }
        }
        tracing::debug!(owner = %owner.name, applied = report.applied.len(), unchanged = report.unchanged, "apply pass");
        Ok(report)
    }

    /// Reads the live object and applies only when needed; true when it wrote.
    async fn apply_one(&self, t: &Target<'_>) -> Result<bool, ApplyError> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &t.namespace, &t.resource);
        let err = |verb, e: &kube::Error| ApplyError::Api {
            verb,
            kind: t.resource.kind.clone(),
            namespace: t.namespace.clone(),
            name: t.name.to_string(),
            message: message(e),
        };
        let params = PatchParams::apply(&self.field_manager).force();
        let mut attempt = 0;
        let mut conflicts = 0;
        loop {
            // Re-reading on every attempt is what turns a 409 into a fresh decision.
            let live = match api.get_opt(t.name).await {
                Ok(live) => live,
                Err(e) if retryable(&e) && attempt + 1 < self.retry.attempts => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(err("reading", &e)),
            };
            if let Some(live) = &live {
                if let Some(other) = foreign_controller(t.body, live, t.owner) {
                    return Err(ApplyError::OwnedByAnother {
                        kind: t.resource.kind.clone(),
                        namespace: t.namespace.clone(),
                        name: t.name.to_string(),
                        other_kind: other.kind.clone(),
                        other_name: other.name.clone(),
                        owner_kind: t.owner.kind.clone(),
                        owner_name: t.owner.name.clone(),
                    });
                }
                let live = serde_json::to_value(live).unwrap_or(Value::Null);
                if !needs_apply(t.body, &live, &self.field_manager) {
                    return Ok(false);
                }
            }
            match api.patch(t.name, &params, &Patch::Apply(t.body)).await {
                Ok(_) => {
                    tracing::info!(kind = %t.resource.kind, namespace = %t.namespace, name = %t.name, "applied");
                    return Ok(true);
                }
                // A conflict is re-read and decided once more; a second one is the caller's to see.
                Err(e) if is_conflict(&e) && conflicts > 0 => return Err(err("applying", &e)),
                Err(e) if retryable(&e) && attempt + 1 < self.retry.attempts => {
                    conflicts += u32::from(is_conflict(&e));
                    tracing::debug!(kind = %t.resource.kind, name = %t.name, error = %message(&e), "apply retried");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(err("applying", &e)),
            }
        }
    }

    /// Deletes the objects of `kinds` (`(apiVersion, kind)`) that carry all `selector` labels, are
    /// owned by `owner`'s uid and are not in `keep` (`(kind, name)`). PersistentVolumeClaims are
    /// never swept: data goes only through an explicit finalizer.
    pub async fn delete_orphans(
        &self,
        owner: &OwnerRef,
        kinds: &[(&str, &str)],
        selector: &BTreeMap<String, String>,
        keep: &BTreeSet<(String, String)>,
    ) -> Result<Vec<String>, ApplyError> {
        let labels = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut deleted = Vec::new();
        for &(api_version, kind) in kinds {
            if kind == "PersistentVolumeClaim" {
                tracing::warn!(owner = %owner.name, "PersistentVolumeClaims are never swept as orphans; skipped");
                continue;
            }
            let resource = ApiResource::from_gvk(&gvk(api_version, kind));
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &owner.namespace, &resource);
            let lp = ListParams::default().labels(&labels);
            let list = self.retrying(|| api.list(&lp)).await.map_err(|e| ApplyError::ListKind {
                verb: "listing",
                kind: kind.to_string(),
                namespace: owner.namespace.clone(),
                message: message(&e),
            })?;
            for item in list.items {
                let Some(name) = item.metadata.name.clone() else { continue };
                let owned = item.metadata.owner_references.iter().flatten().any(|r| r.uid == owner.uid);
                if !owned || keep.contains(&(kind.to_string(), name.clone())) {
                    continue;
                }
                let dp = DeleteParams::background();
                match self.retrying(|| api.delete(&name, &dp)).await {
                    Ok(_) => {}
                    // Someone else removed it meanwhile: the goal is reached.
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        return Err(ApplyError::Api {
                            verb: "deleting orphaned",
                            kind: kind.to_string(),
                            namespace: owner.namespace.clone(),
                            name,
                            message: message(&e),
                        });
                    }
                }
                tracing::info!(kind, namespace = %owner.namespace, name = %name, "deleted orphan");
                deleted.push(format!("{kind}/{name}"));
            }
        }
        Ok(deleted)
    }

    /// One reconcile's write step: apply the desired set, then sweep what it no longer holds.
    pub async fn reconcile(
        &self,
        owner: &OwnerRef,
        desired: Vec<Value>,
        kinds: &[(&str, &str)],
        selector: &BTreeMap<String, String>,
    ) -> Result<ApplyReport, ApplyError> {
        let keep: BTreeSet<(String, String)> = desired
            .iter()
            .filter_map(|o| {
                let kind = o.get("kind")?.as_str()?;
                let name = o.get("metadata")?.get("name")?.as_str()?;
                Some((kind.to_string(), name.to_string()))
            })
            .collect();
        let mut report = self.apply_all(owner, desired).await?;
        report.deleted = self.delete_orphans(owner, kinds, selector, &keep).await?;
        Ok(report)
    }

    async fn retrying<T, F, Fut>(&self, call: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        retrying(self.retry, call).await
    }
}

/// Runs `call` until it succeeds, fails for good, or `policy.attempts` are spent; 409/429/5xx and
/// broken transport are tried again after a growing pause.
pub async fn retrying<T, F, Fut>(policy: RetryPolicy, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if retryable(&e) && attempt + 1 < policy.attempts => {
                tokio::time::sleep(policy.delay(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// True when applying `desired` would change `live`: a desired field is missing or different, or a
/// field `manager` applied before is no longer desired.
/// The live object's controller when it is not `owner` while the desired object names `owner` as its
/// controller: then applying would silently move the object from one cluster to the other.
fn foreign_controller<'a>(
    desired: &Value,
    live: &'a DynamicObject,
    owner: &OwnerRef,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    let wants_control = desired
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r.get("controller") == Some(&Value::Bool(true))));
    if !wants_control {
        return None;
    }
    live.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true) && r.uid != owner.uid)
}

pub fn needs_apply(desired: &Value, live: &Value, manager: &str) -> bool {
    if !is_subset(desired, live) {
        return true;
    }
    let owned = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        })
        .filter_map(|e| e.get("fieldsV1"));
    owned.into_iter().any(|fields| !still_desired(fields, desired))
}

/// Every field of `want` is in `got` with the same value; lists match item for item (the server may
/// have defaulted fields inside the items).
fn is_subset(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w.iter().all(|(k, wv)| match g.get(k) {
            Some(gv) => is_subset(wv, gv),
            // An absent field and an empty map or list are the same to the server.
            None => is_empty(wv),
        }),
        (Value::Array(w), Value::Array(g)) => w.len() == g.len() && w.iter().zip(g).all(|(a, b)| is_subset(a, b)),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => want == got,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Every path in a managedFields `fieldsV1` set is still present in `desired`.
fn still_desired(fields: &Value, desired: &Value) -> bool {
    let Some(fields) = fields.as_object() else { return true };
    // Each owned list item needs its own desired item; this also catches two owned items that a
    // desired item without its defaulted key fields would both seem to match (TCP and UDP on one port).
    let items = fields.keys().filter(|k| k.starts_with("k:") || k.starts_with("v:")).count();
    if items > desired.as_array().map_or(0, Vec::len) {
        return false;
    }
    fields.iter().all(|(key, child)| {
        if key == "." {
            return true;
        }
        let Some((prefix, rest)) = key.split_at_checked(2) else { return false };
        match prefix {
            "f:" => desired.get(rest).is_some_and(|d| still_desired(child, d)),
            "k:" => {
                let Ok(keys) = serde_json::from_str::<Map<String, Value>>(rest) else { return false };
                // A key field the desired item leaves out was filled with its default by the
                // server (a port's protocol), so only the key fields it states must match.
                desired.as_array().into_iter().flatten().any(|item| {
                    keys.iter().all(|(k, v)| item.get(k).is_none_or(|iv| is_subset(v, iv)))
                        && still_desired(child, item)
                })
            }
            "v:" => {
                let Ok(value) = serde_json::from_str::<Value>(rest) else { return false };
                desired.as_array().is_some_and(|a| a.contains(&value))
            }
            "i:" => rest
                .parse::<usize>()
                .ok()
                .and_then(|i| desired.as_array()?.get(i))
                .is_some_and(|d| still_desired(child, d)),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live_with(fields: Value) -> Value {
        json!({
            "metadata": {"name": "a", "labels": {"x": "1"},
                "managedFields": [{"manager": "dbdeck", "operation": "Apply", "fieldsV1": fields}]},
            "spec": {"replicas": 3, "ports": [{"name": "mysql", "port": 3306, "protocol": "TCP"}]}
        })
    }

    #[test]
    fn same_fields_need_no_apply() {
        let live = live_with(json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:replicas": {},
            "f:ports": {"k:{\"port\":3306,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}}}}));
        let desired = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 3, "ports": [{"name": "mysql", "port": 3306}]}});
        assert!(!needs_apply(&desired, &live, "dbdeck"));
    }

    #[test]
    fn changed_value_needs_apply() {
        let live = live_with(json!({"f:spec": {"f:replicas": {}}}));
        let desired = json!({"metadata": {"name": "a"}, "spec": {"replicas": 5}});
        assert!(needs_apply(&desired, &live, "dbdeck"));
    }

    #[test]
    fn dropped_owned_field_needs_apply() {
        let live = live_with(json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:replicas": {}}}));
        // Same values, but the label we applied before is gone from the desired object: SSA removes it.
        let desired = json!({"metadata": {"name": "a"}, "spec": {"replicas": 3}});
        assert!(needs_apply(&desired, &live, "dbdeck"));
        // Another manager's fields do not count.
        assert!(!needs_apply(&desired, &live, "someone-else"));
    }

    #[test]
    fn dropped_list_item_needs_apply() {
        let live = live_with(json!({"f:spec": {"f:ports": {"k:{\"port\":3306,\"protocol\":\"TCP\"}": {}}}}));
        let desired = json!({"spec": {"replicas": 3, "ports": []}});
        assert!(needs_apply(&desired, &live, "dbdeck"));
    }

    #[test]
    fn two_owned_items_need_two_desired_items() {
        let live = live_with(json!({"f:spec": {"f:ports": {
            "k:{\"port\":3306,\"protocol\":\"TCP\"}": {}, "k:{\"port\":3306,\"protocol\":\"UDP\"}": {}}}}));
        let one = json!({"spec": {"ports": [{"port": 3306}]}});
        assert!(!still_desired(&live["metadata"]["managedFields"][0]["fieldsV1"], &one));
        let both = json!({"spec": {"ports": [{"port": 3306}, {"port": 3306, "protocol": "UDP"}]}});
        assert!(still_desired(&live["metadata"]["managedFields"][0]["fieldsV1"], &both));
    }

    #[test]
    fn retry_classes() {
        let api = |code| kube::Error::Api(Box::new(kube::core::Status { code, ..Default::default() }));
        assert!(retryable(&api(409)) && retryable(&api(429)) && retryable(&api(503)));
        assert!(!retryable(&api(422)) && !retryable(&api(404)));
        assert_eq!(gvk("v1", "Service"), GroupVersionKind::gvk("", "v1", "Service"));
        assert_eq!(gvk("policy/v1", "PodDisruptionBudget").group, "policy");
    }
}
