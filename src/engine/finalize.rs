//! Percona's opt-in `percona.com/delete-*` finalizers: the steps they ask for, done one at a time,
//! each removed from the CR once its work is done, so a stuck one is visible by name.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::apply::retrying;

/// A plain delete with the server's default propagation (what `kubectl delete` sends).
pub const DELETE: DeleteParams =
    DeleteParams { dry_run: false, grace_period_seconds: None, propagation_policy: None, preconditions: None };
use super::error::ReconcileError;

/// Deletes one pod so its StatefulSet recreates it at the new revision (smart and rolling updates); a pod
/// already gone is fine. `why` names the update in the error.
pub async fn delete_pod(client: &kube::Client, namespace: &str, pod: &str, why: &str) -> Result<(), ReconcileError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match retrying(Default::default(), || pods.delete(pod, &DELETE)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ReconcileError::kube(format!("deleting pod {namespace}/{pod} for the {why}"), e)),
    }
}

/// Removes `finalizer` from the object, guarded by a freshly read resourceVersion so a concurrent
/// edit (or our own status write a moment ago) is re-read rather than overwritten.
pub async fn remove<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), ReconcileError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = obj.name_any();
    let fail = |e| ReconcileError::kube(format!("removing finalizer {finalizer} from {name}"), e);
    for _ in 0..5 {
        let Some(live) = retrying(Default::default(), || api.get_opt(&name)).await.map_err(fail)? else {
            return Ok(());
        };
        if !live.finalizers().iter().any(|f| f == finalizer) {
            return Ok(());
        }
        let left: Vec<&String> = live.finalizers().iter().filter(|f| *f != finalizer).collect();
        let patch = json!({"metadata": {"finalizers": left, "resourceVersion": live.resource_version()}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    Err(ReconcileError::Kube {
        what: format!("removing finalizer {finalizer} from {name}"),
        message: "the object kept changing (5 conflicts in a row)".into(),
    })
}

/// Deletes every PVC in `namespace` matching `selector`; returns their names.
pub async fn delete_pvcs(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<String>, ReconcileError> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(selector);
    let list = retrying(Default::default(), || api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing PVCs {selector} in {namespace}"), e))?;
    let mut names = Vec::new();
    for pvc in list.items {
        let name = pvc.name_any();
        match retrying(Default::default(), || api.delete(&name, &DELETE)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube(format!("deleting PVC {namespace}/{name}"), e)),
        }
        names.push(name);
    }
    Ok(names)
}

/// Deletes the named Secrets that exist; returns those it deleted.
pub async fn delete_secrets(
    client: &kube::Client,
    namespace: &str,
    names: &[String],
) -> Result<Vec<String>, ReconcileError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut gone = Vec::new();
    for name in names {
        match retrying(Default::default(), || api.delete(name, &DELETE)).await {
            Ok(_) => gone.push(name.clone()),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube(format!("deleting Secret {namespace}/{name}"), e)),
        }
    }
    Ok(gone)
}

/// Names of the pods matching `selector`, sorted.
pub async fn pod_names(client: &kube::Client, namespace: &str, selector: &str) -> Result<Vec<String>, ReconcileError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(selector);
    let list = retrying(Default::default(), || api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing pods {selector} in {namespace}"), e))?;
    let mut names: Vec<String> = list.items.iter().map(|p| p.name_any()).collect();
    names.sort();
    Ok(names)
}
