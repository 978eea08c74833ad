//! The Backup controller (one per family): refuse when the cluster is not ready (unless allowed), take
//! the per-cluster Lease when backups are serialised, create the Job, follow it to a final state with
//! the deadlines enforced, and on deletion run the `percona.com/delete-backup` cleanup — which the user
//! can release with the `dbdeck.io/release-finalizer: "true"` annotation when it cannot finish.

use crate::engine::metrics::EngineMetrics;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::common::{chrono_time, kube_time};
use super::kinds::{DELETE_BACKUP_FINALIZER, Kind, RELEASE_ANNOTATION};
use super::lock::{self, Holder};
use super::status::{self, BackupFacts, Family};

/// What can go wrong talking to the API server; build problems end up in the object's status instead.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("{kind} {name}: {source}")]
    Kube {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

pub(super) struct Ctx {
    pub client: Client,
    pub kind: &'static Kind,
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// The engine's Prometheus counters (absent when these controllers run on their own).
    pub metrics: Option<Arc<EngineMetrics>>,
}

impl Ctx {
    pub fn new(
        client: Client,
        kind: &'static Kind,
        namespace: Option<String>,
        metrics: Option<Arc<EngineMetrics>>,
    ) -> Self {
        Self { client, kind, namespace, metrics }
    }

    /// An Api over every namespace this engine watches.
    pub fn scoped(&self, ar: &kube::core::ApiResource) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    pub fn scoped_jobs(&self) -> Api<Job> {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    pub fn backups(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &self.kind.backup_ar())
    }
    pub fn clusters(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &self.kind.cluster_ar())
    }
    pub fn jobs(&self, ns: &str) -> Api<Job> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Publishes a core/v1 Event about `obj` (as the engine's other controllers do); a failure to
    /// record is logged, never fatal: the status carries the same facts.
    pub async fn event(
        &self,
        obj: &DynamicObject,
        ar: &kube::core::ApiResource,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        use k8s_openapi::api::core::v1::{Event, EventSource};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
        let reference = obj.object_ref(ar);
        let ns = reference.namespace.clone().unwrap_or_else(|| "default".into());
        let stamp = k8s_openapi::jiff::Timestamp::now();
        let mut note = note;
        if note.len() > 1000 {
            let mut end = 1000;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let ev = Event {
            metadata: kube::core::ObjectMeta {
                name: Some(format!("{}.{:x}", obj.name_any(), Utc::now().timestamp_nanos_opt().unwrap_or_default())),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: reference,
            reason: Some(reason.into()),
            message: Some(note),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            action: Some(reason.into()),
            count: Some(1),
            first_timestamp: Some(Time(stamp)),
            last_timestamp: Some(Time(stamp)),
            event_time: Some(MicroTime(stamp)),
            source: Some(EventSource { component: Some(crate::engine::context::REPORTER.into()), host: None }),
            reporting_component: Some(crate::engine::context::REPORTER.into()),
            ..Default::default()
        };
        if let Err(e) = Api::<Event>::namespaced(self.client.clone(), &ns).create(&PostParams::default(), &ev).await {
            tracing::warn!(object = %obj.name_any(), reason, error = %e, "event not recorded");
        }
    }
}

pub(super) fn kube_err(kind: &'static str, name: &str) -> impl FnOnce(kube::Error) -> ControllerError + use<> {
    let name = name.to_string();
    move |source| ControllerError::Kube { kind, name, source }
}

fn as_json(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

fn state_of(obj: &Value) -> Option<String> {
    obj.pointer("/status/state").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Runs the Backup controller of `kind` until `shutdown`.
pub async fn run(
    client: Client,
    kind: &'static Kind,
    namespace: Option<String>,
    metrics: Option<Arc<EngineMetrics>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let ar = kind.backup_ar();
    let ctx = Arc::new(Ctx::new(client, kind, namespace, metrics));
    Controller::new_with(ctx.scoped(&ar), watcher::Config::default(), ar)
        .owns(ctx.scoped_jobs(), watcher::Config::default())
        // Short waits after watch errors (kube's default grows to 30 s), as the cluster controllers.
        .trigger_backoff(crate::engine::context::WatchBackoff::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "backup reconcile");
            }
        })
        .await;
}

fn error_policy(_obj: Arc<DynamicObject>, err: &ControllerError, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(error = %err, "backup reconcile failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn patch_status(ctx: &Ctx, obj: &DynamicObject, status: Value) -> Result<(), ControllerError> {
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    ctx.backups(&ns)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
        .await
        .map_err(kube_err(ctx.kind.backup.0, &name))?;
    Ok(())
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let metrics = ctx.metrics.clone();
    super::measured(metrics.as_deref(), ctx.kind.backup.0, &obj, reconcile_backup(obj.clone(), ctx)).await
}

async fn reconcile_backup(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let kind = ctx.kind;
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    let v = as_json(&obj);
    let cluster_name = kind.cluster_of(&v);
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), &ns);

    if obj.meta().deletion_timestamp.is_some() {
        if let Some(c) = &cluster_name {
            lock::release(&leases, &kind.lease_name(c), &name).await.map_err(kube_err(kind.backup.0, &name))?;
        }
        return finalize(&ctx, &obj, &v, cluster_name.as_deref()).await;
    }

    let state = state_of(&v);
    let final_state = status::is_final(state.as_deref());
    let Some(cluster_name) = cluster_name else {
        if !final_state {
            let field = format!("spec.{}", kind.cluster_field);
            fail(&ctx, &obj, kind.family.never_started(), format!("{field} is required")).await?;
        }
        return Ok(Action::await_change());
    };
    if final_state {
        lock::release(&leases, &kind.lease_name(&cluster_name), &name).await.map_err(kube_err(kind.backup.0, &name))?;
        return Ok(Action::await_change());
    }

    let cluster = ctx.clusters(&ns).get_opt(&cluster_name).await.map_err(kube_err(kind.cluster.0, &cluster_name))?;
    let cluster = cluster.as_ref().map(as_json);
    let job_name = kind.backup_job_name(&v);
    let job = ctx.jobs(&ns).get_opt(&job_name).await.map_err(kube_err("Job", &job_name))?;
    let created = obj.meta().creation_timestamp.as_ref().map(chrono_time).unwrap_or_else(Utc::now);
    let deadlines = kind.deadlines(&v, cluster.as_ref());

    if job.is_none() && state.as_deref() != Some(status::RUNNING) {
        let Some(cluster) = cluster else {
            fail(&ctx, &obj, kind.family.never_started(), format!("cluster {cluster_name} does not exist")).await?;
            return Ok(Action::await_change());
        };
        let (allowed, flag) = kind.allow_unready(&cluster);
        if !kind.cluster_ready(&cluster) && !allowed {
            let msg = format!(
                "cluster {cluster_name} is not ready (state: {}); backups of a cluster that is not ready need {flag}: true",
                kind.cluster_state(&cluster)
            );
            fail(&ctx, &obj, kind.family.never_started(), msg).await?;
            return Ok(Action::await_change());
        }
        if kind.serialise(&cluster) {
            let backups = ctx.backups(&ns);
            let check = |holder: String| async move {
                match backups.get_opt(&holder).await? {
                    Some(b) if !status::is_final(state_of(&as_json(&b)).as_deref()) => Ok(Holder::Running(holder)),
                    _ => Ok(Holder::Stale),
                }
            };
            let lease = kind.lease_name(&cluster_name);
            if let Some(holder) =
                lock::acquire(&leases, &lease, &name, check).await.map_err(kube_err("Lease", &lease))?
            {
                // Still subject to the starting deadline while it waits for its turn.
                if let Some(u) = status::backup_update(&BackupFacts {
                    family: kind.family,
                    state: state.as_deref(),
                    created,
                    job: None,
                    deadlines,
                    now: Utc::now(),
                }) {
                    write_update(&ctx, &obj, &u).await?;
                }
                let waiting_reason = v.pointer("/status/conditions/0/message").and_then(Value::as_str);
                let cond = lease_condition(false, &lease, Some(&holder));
                if state.is_none() || waiting_reason != cond[0]["message"].as_str() {
                    patch_status(&ctx, &obj, json!({"state": status::STARTING, "conditions": cond})).await?;
                }
                tracing::debug!(backup = %name, %holder, "waiting for the backup lock");
                // The holder finishing does not touch this object, so look again shortly.
                return Ok(Action::requeue(Duration::from_millis(500)));
            }
        }
        let source_pod = pick_source_pod(&ctx, &ns, &cluster_name).await?;
        let built = match kind.build_backup(&v, &cluster, &source_pod, Utc::now()) {
            Ok(b) => b,
            Err(e) => {
                fail(&ctx, &obj, kind.family.never_started(), e.to_string()).await?;
                return Ok(Action::await_change());
            }
        };
        if let Some(pvc) = &built.pvc {
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            create_if_absent(&pvcs, pvc, "PersistentVolumeClaim").await?;
        }
        create_if_absent(&ctx.jobs(&ns), &built.job, "Job").await?;
        let mut st = built.status;
        st["state"] = json!(status::STARTING);
        if kind.serialise(&cluster) {
            st["conditions"] = lease_condition(true, &kind.lease_name(&cluster_name), None);
        }
        patch_status(&ctx, &obj, st).await?;
        ctx.event(&obj, &kind.backup_ar(), false, "BackupStarting", format!("created Job {job_name}")).await;
        return Ok(Action::await_change());
    }

    let now = Utc::now();
    if job.is_none() {
        fail(&ctx, &obj, status::FAILED, format!("Job {job_name} disappeared while the backup was running")).await?;
        return Ok(Action::await_change());
    }
    let facts =
        BackupFacts { family: kind.family, state: state.as_deref(), created, job: job.as_ref(), deadlines, now };
    if let Some(mut u) = status::backup_update(&facts) {
        if u.state == status::FAILED
            && let Some(pod) = last_pod_of(&ctx, &ns, &job_name).await?
        {
            // The failed Job and its pods stay (owned by the Backup), so the logs are there to read.
            let e = u.error.take().unwrap_or_default();
            u.error = Some(format!("{e}; logs: kubectl logs -n {ns} pod/{pod}"));
        }
        write_update(&ctx, &obj, &u).await?;
        if u.state == status::SUCCEEDED {
            ctx.event(&obj, &kind.backup_ar(), false, "BackupSucceeded", format!("Job {job_name} completed")).await;
        }
        if status::is_final(Some(&u.state)) {
            lock::release(&leases, &kind.lease_name(&cluster_name), &name).await.map_err(kube_err("Lease", &name))?;
            return Ok(Action::await_change());
        }
    }
    // Wake up for the next deadline even if the Job does not change.
    let job_started = job
        .as_ref()
        .and_then(|j| j.status.as_ref())
        .and_then(|s| s.start_time.as_ref())
        .map(chrono_time)
        .unwrap_or(created);
    let remaining = [(deadlines.starting, created), (deadlines.running, created), (deadlines.active, job_started)]
        .into_iter()
        .filter_map(|(d, since)| d.map(|d| d - (now - since).num_seconds()))
        .filter(|r| *r >= 0)
        .min();
    Ok(match remaining {
        Some(r) => Action::requeue(Duration::from_secs(r as u64 + 1)),
        None => Action::await_change(),
    })
}

/// The newest pod of a Job (the one whose logs explain a failure).
async fn last_pod_of(ctx: &Ctx, ns: &str, job: &str) -> Result<Option<String>, ControllerError> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list =
        pods.list(&ListParams::default().labels(&format!("job-name={job}"))).await.map_err(kube_err("Pod", job))?;
    Ok(list
        .items
        .iter()
        .max_by_key(|p| (p.meta().creation_timestamp.as_ref().map(chrono_time), p.name_any()))
        .map(|p| p.name_any()))
}

/// The `BackupLeaseAcquired` condition (PG's name for it), for backups that take the cluster's Lease.
fn lease_condition(acquired: bool, lease: &str, holder: Option<&str>) -> Value {
    let (status, reason, message) = match holder {
        None if acquired => ("True", "LeaseAcquired", format!("holds Lease {lease}")),
        h => ("False", "WaitingForLease", format!("Lease {lease} is held by backup {}", h.unwrap_or("another backup"))),
    };
    json!([{
        "type": "BackupLeaseAcquired",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": kube_time(Utc::now()),
    }])
}

/// A ready MySQL pod other than the primary, for PS (Percona backs up from a replica); else pod 0.
async fn pick_source_pod(ctx: &Ctx, ns: &str, cluster: &str) -> Result<String, ControllerError> {
    if ctx.kind.family != Family::Ps {
        return Ok(String::new());
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&ctx.kind.db_pod_selector(cluster)))
        .await
        .map_err(kube_err("Pod", cluster))?;
    // Ready pods first, then replicas before the primary, then by name.
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    let mut names: Vec<(bool, bool, String)> = list
        .items
        .iter()
        .map(|p| {
            let primary = p.labels().get("mysql.percona.com/primary").map(String::as_str) == Some("true");
            (!ready(p), primary, p.name_any())
        })
        .collect();
    names.sort();
    Ok(names.into_iter().next().map(|(_, _, n)| n).unwrap_or_else(|| format!("{cluster}-mysql-0")))
}

pub(super) async fn create_if_absent<K>(api: &Api<K>, obj: &K, what: &'static str) -> Result<(), ControllerError>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(ControllerError::Kube { kind: what, name, source: e }),
    }
}

async fn write_update(ctx: &Ctx, obj: &DynamicObject, u: &status::BackupUpdate) -> Result<(), ControllerError> {
    let mut st = json!({"state": u.state});
    if let Some(c) = u.completed {
        st["completed"] = json!(kube_time(c));
    }
    if let Some(e) = &u.error {
        match ctx.kind.family {
            Family::Ps => st["stateDescription"] = json!(e),
            Family::Pxc | Family::Pg => st["error"] = json!(e),
        }
        ctx.event(obj, &ctx.kind.backup_ar(), true, "BackupFailed", e.clone()).await;
    }
    patch_status(ctx, obj, st).await
}

async fn fail(ctx: &Ctx, obj: &DynamicObject, state: &str, error: String) -> Result<(), ControllerError> {
    let u = status::BackupUpdate { state: state.into(), error: Some(error), completed: Some(Utc::now()) };
    write_update(ctx, obj, &u).await
}

/// The `percona.com/delete-backup` finalizer: remove the data, then let the object go. When that
/// cannot happen the reason goes to status and an Event, and the release annotation lets it go anyway.
async fn finalize(
    ctx: &Ctx,
    obj: &DynamicObject,
    v: &Value,
    cluster_name: Option<&str>,
) -> Result<Action, ControllerError> {
    let kind = ctx.kind;
    let ns = obj.namespace().unwrap_or_default();
    if !obj.finalizers().iter().any(|f| f == DELETE_BACKUP_FINALIZER) {
        return Ok(Action::await_change());
    }
    if obj.annotations().get(RELEASE_ANNOTATION).map(String::as_str) == Some("true") {
        ctx.event(
            obj,
            &kind.backup_ar(),
            true,
            "FinalizerReleased",
            format!("{RELEASE_ANNOTATION} is set: the backup object goes, its data may remain in storage"),
        )
        .await;
        return remove_finalizer(ctx, obj).await;
    }
    let blocked = |why: String| {
        format!(
            "cannot delete the backup data: {why}; set annotation {RELEASE_ANNOTATION}: \"true\" to let the object go anyway"
        )
    };
    let cluster = match cluster_name {
        Some(c) => ctx.clusters(&ns).get_opt(c).await.map_err(kube_err(kind.cluster.0, c))?,
        None => None,
    };
    let Some(cluster) = cluster else {
        let why = blocked(format!("cluster {} does not exist", cluster_name.unwrap_or("(none)")));
        return block(ctx, obj, why).await;
    };
    let (job, claim) = match kind.build_delete(v, &as_json(&cluster)) {
        Ok(x) => x,
        Err(e) => return block(ctx, obj, blocked(e.to_string())).await,
    };
    if let Some(claim) = claim {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
        match pvcs.delete(&claim, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(ControllerError::Kube { kind: "PersistentVolumeClaim", name: claim, source: e }),
        }
    }
    let Some(job) = job else {
        if kind.family == Family::Pg {
            // pgBackRest owns what is in a repo: it expires backups by repoN-retention-full, and the
            // cluster's percona.com/delete-backups finalizer removes the whole stanza.
            ctx.event(
                obj,
                &kind.backup_ar(),
                false,
                "BackupDataKept",
                "pgBackRest keeps this backup in its repo until repoN-retention-full expires it".into(),
            )
            .await;
        }
        return remove_finalizer(ctx, obj).await;
    };
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let jobs = ctx.jobs(&ns);
    match jobs.get_opt(&job_name).await.map_err(kube_err("Job", &job_name))? {
        None => {
            create_if_absent(&jobs, &job, "Job").await?;
            ctx.event(obj, &kind.backup_ar(), false, "DeletingBackupData", format!("created cleanup Job {job_name}"))
                .await;
            Ok(Action::await_change())
        }
        Some(existing) => match status::job_phase(&existing) {
            status::JobPhase::Complete { .. } => remove_finalizer(ctx, obj).await,
            status::JobPhase::Failed { error } => block(ctx, obj, blocked(error)).await,
            _ => Ok(Action::await_change()),
        },
    }
}

async fn block(ctx: &Ctx, obj: &DynamicObject, why: String) -> Result<Action, ControllerError> {
    let field = if ctx.kind.family == Family::Ps { "stateDescription" } else { "error" };
    let current = obj.data.pointer(&format!("/status/{field}")).and_then(Value::as_str);
    if current != Some(why.as_str()) {
        patch_status(ctx, obj, json!({ field: why })).await?;
        ctx.event(obj, &ctx.kind.backup_ar(), true, "DeleteBlocked", why).await;
    }
    // Changing the annotation or creating the cluster triggers a reconcile of this object.
    Ok(Action::requeue(Duration::from_secs(30)))
}

pub(super) async fn remove_finalizer(ctx: &Ctx, obj: &DynamicObject) -> Result<Action, ControllerError> {
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    let rest: Vec<&String> = obj.finalizers().iter().filter(|f| *f != DELETE_BACKUP_FINALIZER).collect();
    // A JSON merge patch with the resourceVersion, so a concurrent change to the list is not lost.
    let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": obj.resource_version()}});
    match ctx.backups(&ns).patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(Action::requeue(Duration::from_millis(200))),
        Err(e) => Err(ControllerError::Kube { kind: ctx.kind.backup.0, name, source: e }),
    }
}
