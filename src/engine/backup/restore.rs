//! The Restore controller (one per family): saves the cluster's sizes and pauses it, runs the restore
//! Job (and PXC's point-in-time Job), unpauses with the saved sizes, and waits for the cluster to be
//! ready. A finalizer (`dbdeck.io/cancel-restore`) makes deleting a running restore cancel it: its
//! Jobs are deleted and the cluster is brought back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Map, Value, json};

use super::common::kube_time;
use super::controller::{ControllerError, Ctx, create_if_absent, kube_err};
use super::kinds::Kind;
use super::status::{self, Family, JobPhase, RestoreAction, RestoreFacts, RestorePhase};
use super::{pg, ps, pxc};

pub const CANCEL_FINALIZER: &str = "dbdeck.io/cancel-restore";
/// The sizes saved before the cluster was paused (JSON: pointer → value).
pub const SAVED_SIZES_ANNOTATION: &str = "dbdeck.io/saved-sizes";

/// Runs the Restore controller of `kind` until `shutdown`.
pub async fn run(
    client: Client,
    kind: &'static Kind,
    namespace: Option<String>,
    metrics: Option<Arc<crate::engine::metrics::EngineMetrics>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let ar = kind.restore_ar();
    let ctx = Arc::new(Ctx::new(client, kind, namespace, metrics));
    Controller::new_with(ctx.scoped(&ar), watcher::Config::default(), ar)
        .owns(ctx.scoped_jobs(), watcher::Config::default())
        // Short waits after watch errors (kube's default grows to 30 s), as the cluster controllers.
        .trigger_backoff(crate::engine::context::WatchBackoff::default())
        .graceful_shutdown_on(shutdown)
        .run(
            reconcile,
            |_, err, _| {
                tracing::warn!(error = %err, "restore reconcile failed; retrying");
                Action::requeue(Duration::from_secs(2))
            },
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "restore reconcile");
            }
        })
        .await;
}

fn restores(ctx: &Ctx, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(ctx.client.clone(), ns, &ctx.kind.restore_ar())
}

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

/// Where the family keeps the step: PXC's state is the step; PS and PG keep it in a description.
fn phase_of(kind: &Kind, v: &Value) -> RestorePhase {
    let ptr = match kind.family {
        Family::Pxc => "/status/state",
        Family::Ps => "/status/stateDescription",
        Family::Pg => "/status/message",
    };
    // PS and PG descriptions read `<step>` or `<step>: <why it waits>`.
    let text = s(v, ptr).unwrap_or_default();
    let step = if kind.family == Family::Pxc { text.as_str() } else { text.split(": ").next().unwrap_or_default() };
    let p = RestorePhase::parse(step);
    // A description may hold a message instead of a step name; the state still tells final ones.
    match s(v, "/status/state").as_deref() {
        Some(status::SUCCEEDED) => RestorePhase::Succeeded,
        Some(status::FAILED) | Some(status::ERROR) => RestorePhase::Failed,
        _ => p,
    }
}

fn job_names(kind: &Kind, restore: &str, cluster: &str) -> (String, Option<String>) {
    match kind.family {
        Family::Pxc => (pxc::restore_job_name(restore, cluster), Some(pxc::pitr_job_name(restore, cluster))),
        Family::Ps => (ps::restore_job_name(restore), None),
        Family::Pg => (pg::restore_job_name(cluster), None),
    }
}

async fn job_phase(jobs: &Api<Job>, name: &str) -> Result<Option<JobPhase>, ControllerError> {
    Ok(jobs.get_opt(name).await.map_err(kube_err("Job", name))?.as_ref().map(status::job_phase))
}

/// Writes the phase in the family's words, with `message` where the family keeps messages.
async fn write(
    ctx: &Ctx,
    obj: &DynamicObject,
    phase: RestorePhase,
    message: Option<String>,
) -> Result<(), ControllerError> {
    let f = ctx.kind.family;
    let mut st = json!({"state": phase.state(f)});
    // The step stays readable from the description (phase_of) even when it carries a message.
    let text = match &message {
        Some(m) if !phase.is_final() => format!("{}: {m}", phase.description()),
        Some(m) => m.clone(),
        None => phase.description().to_string(),
    };
    match f {
        Family::Pxc => st["comments"] = json!(message),
        Family::Ps => st["stateDescription"] = json!(text),
        Family::Pg => st["message"] = json!(text),
    }
    if phase.is_final() {
        st["completed"] = json!(kube_time(Utc::now()));
    }
    let before = obj.data.get("status").cloned().unwrap_or(Value::Null);
    let unchanged = st.as_object().is_some_and(|m| {
        m.iter().filter(|(k, _)| *k != "completed").all(|(k, v)| before.get(k).unwrap_or(&Value::Null) == v)
    });
    if unchanged {
        return Ok(());
    }
    let name = obj.name_any();
    restores(ctx, &obj.namespace().unwrap_or_default())
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": st})))
        .await
        .map_err(kube_err(ctx.kind.restore.0, &name))?;
    Ok(())
}

/// `{"/spec/pxc/size": 3}` → `{"spec": {"pxc": {"size": 3}}}`.
fn nest(pointers: &BTreeMap<String, Value>) -> Value {
    let mut root = Value::Object(Map::new());
    for (ptr, val) in pointers {
        let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
        let mut cur = &mut root;
        for (i, p) in parts.iter().enumerate() {
            let Value::Object(m) = cur else { break };
            if i + 1 == parts.len() {
                m.insert((*p).to_string(), val.clone());
                break;
            }
            cur = m.entry((*p).to_string()).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    root
}

async fn patch_cluster(ctx: &Ctx, ns: &str, cluster: &str, patch: Value) -> Result<(), ControllerError> {
    ctx.clusters(ns)
        .patch(cluster, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(kube_err(ctx.kind.cluster.0, cluster))?;
    Ok(())
}

fn saved_sizes(obj: &DynamicObject) -> Option<BTreeMap<String, Value>> {
    obj.annotations().get(SAVED_SIZES_ANNOTATION).and_then(|s| serde_json::from_str(s).ok())
}

/// Unpauses the cluster and writes back the sizes saved before it was paused.
async fn resume(ctx: &Ctx, obj: &DynamicObject, ns: &str, cluster: &str) -> Result<(), ControllerError> {
    let mut patch = nest(&saved_sizes(obj).unwrap_or_default());
    patch["spec"]["pause"] = json!(false);
    patch_cluster(ctx, ns, cluster, patch).await
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let metrics = ctx.metrics.clone();
    super::measured(metrics.as_deref(), ctx.kind.restore.0, &obj, reconcile_restore(obj.clone(), ctx)).await
}

async fn reconcile_restore(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let kind = ctx.kind;
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    let v = serde_json::to_value(obj.as_ref()).unwrap_or(Value::Null);
    let phase = phase_of(kind, &v);
    let api = restores(&ctx, &ns);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cluster_name = kind.cluster_of(&v);

    if obj.meta().deletion_timestamp.is_some() {
        if !obj.finalizers().iter().any(|f| f == CANCEL_FINALIZER) {
            return Ok(Action::await_change());
        }
        if !phase.is_final()
            && let Some(c) = &cluster_name
        {
            let (job, pitr) = job_names(kind, &name, c);
            let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
            for j in std::iter::once(job).chain(pitr) {
                match jobs.delete(&j, &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(ControllerError::Kube { kind: "Job", name: j, source: e }),
                }
            }
            if saved_sizes(&obj).is_some()
                && ctx.clusters(&ns).get_opt(c).await.map_err(kube_err(kind.cluster.0, c))?.is_some()
            {
                resume(&ctx, &obj, &ns, c).await?;
            }
            ctx.event(
                &obj,
                &kind.restore_ar(),
                true,
                "RestoreCancelled",
                format!(
                    "the restore was deleted while {}; its Jobs were deleted and cluster {c} resumed",
                    phase.description()
                ),
            )
            .await;
        }
        let rest: Vec<&String> = obj.finalizers().iter().filter(|f| *f != CANCEL_FINALIZER).collect();
        let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": obj.resource_version()}});
        return match api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                Ok(Action::requeue(Duration::from_millis(200)))
            }
            Err(e) => Err(ControllerError::Kube { kind: kind.restore.0, name, source: e }),
        };
    }
    if phase.is_final() {
        return Ok(Action::await_change());
    }
    if !obj.finalizers().iter().any(|f| f == CANCEL_FINALIZER) {
        let mut fins: Vec<String> = obj.finalizers().to_vec();
        fins.push(CANCEL_FINALIZER.into());
        let patch = json!({"metadata": {"finalizers": fins, "resourceVersion": obj.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(kube_err(kind.restore.0, &name))?;
        return Ok(Action::await_change());
    }

    // Before anything is paused: the rules `dbdeck validate` applies, then what the spec refers to.
    if matches!(phase, RestorePhase::New | RestorePhase::Starting) {
        if let Some(why) = invalid(&v) {
            refuse(&ctx, &obj, why).await?;
            return Ok(Action::await_change());
        }
        if let Some(why) = missing_references(&ctx, &ns, &v).await? {
            refuse(&ctx, &obj, why).await?;
            return Ok(Action::await_change());
        }
    }
    let Some(cluster_name) = cluster_name else {
        refuse(&ctx, &obj, format!("spec.{} is required", kind.cluster_field)).await?;
        return Ok(Action::await_change());
    };
    let Some(cluster) =
        ctx.clusters(&ns).get_opt(&cluster_name).await.map_err(kube_err(kind.cluster.0, &cluster_name))?
    else {
        refuse(&ctx, &obj, format!("cluster {cluster_name} does not exist")).await?;
        return Ok(Action::await_change());
    };
    let cluster = serde_json::to_value(&cluster).unwrap_or(Value::Null);

    // The source: a named Backup must exist and have succeeded; the Jobs must build.
    let backup = match kind.restore_backup_name(&v) {
        Some(b) => ctx
            .backups(&ns)
            .get_opt(&b)
            .await
            .map_err(kube_err(kind.backup.0, &b))?
            .map(|o| serde_json::to_value(&o).unwrap_or(Value::Null)),
        None => None,
    };
    let mut source_ok = true;
    if let (Some(bname), Some(b)) = (kind.restore_backup_name(&v), &backup) {
        match s(b, "/status/state").as_deref() {
            Some(status::SUCCEEDED) => {}
            Some(status::FAILED) | Some(status::ERROR) => {
                refuse(&ctx, &obj, format!("backup {bname} failed; there is nothing to restore")).await?;
                return Ok(Action::await_change());
            }
            _ => source_ok = false,
        }
    }
    // One restore per cluster at a time, and none while a backup of it runs: the first one created
    // goes first, the others wait in Starting and say for what.
    if phase == RestorePhase::Starting
        && let Some(why) = busy_with(&ctx, &ns, &name, &cluster_name, &v).await?
    {
        write(&ctx, &obj, RestorePhase::Starting, Some(why)).await?;
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let pgdata = if kind.family == Family::Pg { pgdata_claim(&ctx, &ns, &cluster_name).await? } else { None };
    let built = if source_ok
        && matches!(
            phase,
            RestorePhase::New
                | RestorePhase::Starting
                | RestorePhase::StoppingCluster
                | RestorePhase::Restoring
                | RestorePhase::PointInTime
        ) {
        match kind.build_restore(&v, backup.as_ref(), &cluster, pgdata.as_deref()) {
            Ok(b) => Some(b),
            Err(e) if matches!(phase, RestorePhase::New | RestorePhase::Starting) => {
                refuse(&ctx, &obj, e.to_string()).await?;
                return Ok(Action::await_change());
            }
            Err(e) => {
                // The cluster is already stopped: fail and bring it back.
                resume(&ctx, &obj, &ns, &cluster_name).await?;
                refuse(&ctx, &obj, e.to_string()).await?;
                return Ok(Action::await_change());
            }
        }
    } else {
        None
    };

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let db_pods = pods
        .list(&ListParams::default().labels(&kind.db_pod_selector(&cluster_name)))
        .await
        .map_err(kube_err("Pod", &cluster_name))?
        .items
        .len() as i32;
    let (job_name, pitr_name) = job_names(kind, &name, &cluster_name);
    let facts = RestoreFacts {
        source_ok,
        db_pods,
        restore_job: job_phase(&jobs, &job_name).await?,
        pitr_job: match &pitr_name {
            Some(p) => job_phase(&jobs, p).await?,
            None => None,
        },
        wants_pitr: built.as_ref().is_some_and(|(_, p)| p.is_some()),
        cluster_ready: kind.cluster_ready(&cluster) && !kind.paused(&cluster),
    };
    let (next, action, mut message) = status::restore_step(phase, &facts);
    // A restore Job that does not get going says why (its pod is unschedulable, its claim missing…).
    if action == RestoreAction::Wait && message.is_none() {
        let waiting_job = match next {
            RestorePhase::Restoring => Some(&job_name),
            RestorePhase::PointInTime => pitr_name.as_ref(),
            _ => None,
        };
        if let Some(j) = waiting_job {
            message = why_pending(&ctx, &ns, j).await?;
        }
    }
    match action {
        RestoreAction::Wait | RestoreAction::Done => {}
        RestoreAction::PauseCluster => {
            let sizes: BTreeMap<String, Value> = kind
                .sizes
                .iter()
                .filter_map(|p| cluster.pointer(p).filter(|v| !v.is_null()).map(|v| (p.to_string(), v.clone())))
                .collect();
            let ann = json!({"metadata": {"annotations": {SAVED_SIZES_ANNOTATION: serde_json::to_string(&sizes).unwrap_or_default()}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(ann))
                .await
                .map_err(kube_err(kind.restore.0, &name))?;
            if kind.family == Family::Pxc {
                let st = json!({"status": {
                    "clusterSize": sizes.get("/spec/pxc/size"),
                    "haproxySize": sizes.get("/spec/haproxy/size"),
                    "proxysqlSize": sizes.get("/spec/proxysql/size"),
                }});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(st))
                    .await
                    .map_err(kube_err(kind.restore.0, &name))?;
            }
            patch_cluster(&ctx, &ns, &cluster_name, json!({"spec": {"pause": true}})).await?;
            ctx.event(
                &obj,
                &kind.restore_ar(),
                false,
                "StoppingCluster",
                format!("paused cluster {cluster_name} for the restore"),
            )
            .await;
        }
        RestoreAction::CreateRestoreJob => {
            if let Some((job, _)) = &built {
                create_if_absent(&jobs, job, "Job").await?;
            }
        }
        RestoreAction::CreatePitrJob => {
            if let Some((_, Some(p))) = &built {
                create_if_absent(&jobs, p, "Job").await?;
            }
        }
        RestoreAction::ResumeCluster => {
            resume(&ctx, &obj, &ns, &cluster_name).await?;
        }
    }
    write(&ctx, &obj, next, message.clone()).await?;
    if next == RestorePhase::Failed {
        ctx.event(&obj, &kind.restore_ar(), true, "RestoreFailed", message.unwrap_or_default()).await;
    } else if next == RestorePhase::Succeeded {
        ctx.event(&obj, &kind.restore_ar(), false, "RestoreSucceeded", format!("cluster {cluster_name} restored"))
            .await;
    }
    Ok(match next {
        RestorePhase::Succeeded | RestorePhase::Failed => Action::await_change(),
        // Pods going away and the cluster becoming ready do not touch the restore: look again soon.
        _ => Action::requeue(Duration::from_millis(500)),
    })
}

/// Marks the restore failed with `why` and says so in a Warning Event, as a failed backup does.
async fn refuse(ctx: &Ctx, obj: &DynamicObject, why: String) -> Result<(), ControllerError> {
    write(ctx, obj, RestorePhase::Failed, Some(why.clone())).await?;
    ctx.event(obj, &ctx.kind.restore_ar(), true, "RestoreFailed", why).await;
    Ok(())
}

/// What `dbdeck validate` says against the restore, in one line (`None` when it passes).
fn invalid(v: &Value) -> Option<String> {
    let name = s(v, "/metadata/name").unwrap_or_default();
    let kind = s(v, "/kind").unwrap_or_default();
    match crate::api::AnyResource::from_value(v.clone()) {
        Err(e) => Some(format!("{kind} {name}: {e}")),
        Ok(r) => {
            let problems = r.validate();
            (!problems.is_empty()).then(|| format!("{kind} {name}: {}", problems.one_line()))
        }
    }
}

/// Objects the restore names that are not there: the Backup of `backupName` (PG names a repo, not a
/// Backup), and every Secret a `credentialsSecret` in its spec names (a Job with a missing Secret never
/// starts, and the cluster would stay paused).
async fn missing_references(ctx: &Ctx, ns: &str, v: &Value) -> Result<Option<String>, ControllerError> {
    let kind = ctx.kind;
    if let Some(b) = kind.restore_backup_name(v)
        && ctx.backups(ns).get_opt(&b).await.map_err(kube_err(kind.backup.0, &b))?.is_none()
    {
        return Ok(Some(format!("spec.backupName: {} {b} does not exist in namespace {ns}", kind.backup.0)));
    }
    let mut named = Vec::new();
    credentials_secrets(v.get("spec").unwrap_or(&Value::Null), "spec", &mut named);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(ctx.client.clone(), ns);
    for (path, secret) in named {
        if secrets.get_opt(&secret).await.map_err(kube_err("Secret", &secret))?.is_none() {
            return Ok(Some(format!("{path}: Secret {secret} does not exist in namespace {ns}")));
        }
    }
    Ok(None)
}

/// `(field path, name)` of every `credentialsSecret` under `v`.
fn credentials_secrets(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let here = format!("{path}.{k}");
            match (k.as_str(), child) {
                ("credentialsSecret", Value::String(name)) if !name.is_empty() => out.push((here, name.clone())),
                _ => credentials_secrets(child, &here, out),
            }
        }
    }
}

/// Why the newest pod of Job `job` is not running yet, when it is Pending: the scheduler's message, a
/// claim that is missing or unbound, or a container's waiting reason. `None` when it runs (or has no pod).
async fn why_pending(ctx: &Ctx, ns: &str, job: &str) -> Result<Option<String>, ControllerError> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list =
        pods.list(&ListParams::default().labels(&format!("job-name={job}"))).await.map_err(kube_err("Pod", job))?;
    let Some(pod) = list.items.iter().max_by_key(|p| (p.meta().creation_timestamp.clone(), p.name_any())) else {
        return Ok(None);
    };
    let st = pod.status.clone().unwrap_or_default();
    if st.phase.as_deref() != Some("Pending") {
        return Ok(None);
    }
    let said = |why: String| Some(format!("Job {job}: pod {} is Pending: {why}", pod.name_any()));
    if let Some(c) = st.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
        return Ok(said(c.message.clone().or_else(|| c.reason.clone()).unwrap_or_else(|| "not scheduled".into())));
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.clone()).unwrap_or_default();
    for claim in volumes.iter().filter_map(|v| v.persistent_volume_claim.as_ref()).map(|c| c.claim_name.clone()) {
        match claims.get_opt(&claim).await.map_err(kube_err("PersistentVolumeClaim", &claim))? {
            None => return Ok(said(format!("persistentvolumeclaim \"{claim}\" not found"))),
            Some(c) if c.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") => {
                return Ok(said(format!("persistentvolumeclaim \"{claim}\" is not bound")));
            }
            Some(_) => {}
        }
    }
    let waiting =
        st.container_statuses.iter().flatten().chain(st.init_container_statuses.iter().flatten()).find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            Some(format!(
                "container {}: {} {}",
                c.name,
                w.reason.clone().unwrap_or_default(),
                w.message.clone().unwrap_or_default()
            ))
        });
    Ok(waiting.and_then(|w| said(w.trim().to_string())))
}

/// What this restore must wait for before it may stop the cluster: another unfinished restore of the
/// same cluster that is further along or was created first, or a running backup of the cluster.
async fn busy_with(
    ctx: &Ctx,
    ns: &str,
    me: &str,
    cluster: &str,
    mine: &Value,
) -> Result<Option<String>, ControllerError> {
    let kind = ctx.kind;
    let order = |v: &Value| (s(v, "/metadata/creationTimestamp").unwrap_or_default(), s(v, "/metadata/name"));
    let my_order = order(mine);
    let others = restores(ctx, ns).list(&ListParams::default()).await.map_err(kube_err(kind.restore.0, me))?;
    for r in &others.items {
        let v = serde_json::to_value(r).unwrap_or(Value::Null);
        let other = r.name_any();
        if other == me || kind.cluster_of(&v).as_deref() != Some(cluster) {
            continue;
        }
        let p = phase_of(kind, &v);
        if p.is_final() {
            continue;
        }
        let started = !matches!(p, RestorePhase::New | RestorePhase::Starting);
        if started || r.meta().deletion_timestamp.is_some() || order(&v) < my_order {
            return Ok(Some(format!("waiting for restore {other} of cluster {cluster} to finish")));
        }
    }
    let backups = ctx.backups(ns).list(&ListParams::default()).await.map_err(kube_err(kind.backup.0, me))?;
    for b in &backups.items {
        let v = serde_json::to_value(b).unwrap_or(Value::Null);
        if kind.cluster_of(&v).as_deref() == Some(cluster)
            && matches!(s(&v, "/status/state").as_deref(), Some(status::STARTING) | Some(status::RUNNING))
        {
            return Ok(Some(format!("waiting for backup {} of cluster {cluster} to finish", b.name_any())));
        }
    }
    Ok(None)
}

/// The first pgdata claim of the cluster (instance pods restore from it; the others re-sync).
async fn pgdata_claim(ctx: &Ctx, ns: &str, cluster: &str) -> Result<Option<String>, ControllerError> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let list = pvcs
        .list(&ListParams::default().labels(&format!("postgres-operator.crunchydata.com/cluster={cluster}")))
        .await
        .map_err(kube_err("PersistentVolumeClaim", cluster))?;
    let mut names: Vec<String> = list.items.iter().map(|p| p.name_any()).filter(|n| n.ends_with("-pgdata")).collect();
    names.sort();
    Ok(names.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_survives_a_waiting_message_in_ps_and_pg_descriptions() {
        // Regression: a PS/PG restore waiting in "Starting Cluster" once read back as new and paused
        // the cluster again.
        let ps = json!({"status": {"state": "Running",
                        "stateDescription": "Starting Cluster: waiting for the cluster to become ready"}});
        assert_eq!(phase_of(&super::super::kinds::PS, &ps), RestorePhase::StartingCluster);
        let pg = json!({"status": {"state": "Running", "message": "Stopping Cluster: waiting for 1 database pod(s) to stop"}});
        assert_eq!(phase_of(&super::super::kinds::PG, &pg), RestorePhase::StoppingCluster);
        let pg = json!({"status": {"state": "Starting", "message": "Starting: waiting for restore r0 of cluster pg1 to finish"}});
        assert_eq!(phase_of(&super::super::kinds::PG, &pg), RestorePhase::Starting);
        let pxc = json!({"status": {"state": "Restoring", "comments": "anything"}});
        assert_eq!(phase_of(&super::super::kinds::PXC, &pxc), RestorePhase::Restoring);
    }

    #[test]
    fn nests_pointers_into_a_merge_patch() {
        let m = BTreeMap::from([
            ("/spec/pxc/size".to_string(), json!(3)),
            ("/spec/haproxy/size".to_string(), json!(2)),
            ("/spec/proxy/router/size".to_string(), json!(1)),
        ]);
        assert_eq!(
            nest(&m),
            json!({"spec": {"pxc": {"size": 3}, "haproxy": {"size": 2}, "proxy": {"router": {"size": 1}}}})
        );
    }
}
