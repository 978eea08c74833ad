//! The PerconaPGCluster controller: dereference → validate → build → apply → rolling update → status, and
//! the `percona.com/delete-*` finalizers on deletion.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::dereference::PRIMARY_ROLES;
use super::dereference::{Found, certificate_secret_names, dereference, user_secret_names};
use super::meta::{L_APP_INSTANCE, L_APP_MANAGED_BY, L_CLUSTER, L_INSTANCE, L_ROLE};
use super::progress::{
    Observed, cluster_status, observe, planned_instances, rollout_step, set_spec_valid, takeover_candidates,
};
use super::switchover::{self, Moved};
use super::{build, effective_spec};
use crate::api::common::{Validate, state};
use crate::api::pg::{PerconaPGBackup, PerconaPGCluster, PerconaPGClusterStatus};
use crate::engine::apply::{OwnerRef, retrying};
use crate::engine::backup::status::{JobPhase, job_phase};
use crate::engine::context::{Context, SAFETY_REQUEUE, Synced};
use crate::engine::controller::{CountedTriggers, cluster_controller, drive, measured, scoped};
use crate::engine::error::ReconcileError;
use crate::engine::{finalize, status};
use crate::observe::live::Scope;

pub const KIND: &str = "PerconaPGCluster";

pub const FIN_DELETE_PVC: &str = "percona.com/delete-pvc";
pub const FIN_DELETE_SSL: &str = "percona.com/delete-ssl";
pub const FIN_DELETE_BACKUPS: &str = "percona.com/delete-backups";

/// `app.kubernetes.io/managed-by` of every object Percona's PG operator (and so this build) creates.
const MANAGED_BY: &str = "percona-postgresql-operator";

/// Kinds the cluster owns and the sweep may delete (never PVCs: data goes only through a finalizer).
const OWNED_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
];

/// Runs the controller until `token` is cancelled, then lets in-flight reconciles finish.
pub async fn run(ctx: Arc<Context>, scope: Scope, concurrency: u16, token: CancellationToken, synced: Arc<Synced>) {
    let client = ctx.client.clone();
    let ours = watcher::Config::default().labels(&format!("{L_APP_MANAGED_BY}={MANAGED_BY}"));
    let controller = cluster_controller::<PerconaPGCluster>(&client, &scope, concurrency, synced, &ctx.metrics)
        .owns_counted(scoped::<StatefulSet>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Deployment>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Service>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Secret>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<ConfigMap>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<PodDisruptionBudget>(&client, &scope), ours.clone(), &ctx.metrics)
        // Pods belong to StatefulSets and ReplicaSets, not the CR: map them back by the cluster label, so a
        // pod turning Ready, being relabelled by Patroni or going away re-reconciles its cluster.
        .watches_counted(scoped::<Pod>(&client, &scope), ours, &ctx.metrics, |pod: Pod| {
            let cluster = pod.labels().get(L_CLUSTER)?.clone();
            Some(ObjectRef::new(&cluster).within(&pod.namespace()?))
        });
    drive(controller, token, reconcile, ctx).await;
}

pub async fn reconcile(cr: Arc<PerconaPGCluster>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    measured(&ctx, cr.as_ref(), async {
        if cr.meta().deletion_timestamp.is_some() {
            let r = finalize_cluster(&cr, &ctx).await;
            if let Err(e) = &r {
                report(&cr, &ctx, &format!("deletion blocked: {e}"), "DeletionBlocked", None).await;
            }
            r
        } else {
            match reconcile_live(&cr, &ctx).await {
                Ok(action) => Ok(action),
                Err(e) => {
                    // A failed pass keeps the state; the message and an Event say what failed.
                    report(&cr, &ctx, &e.to_string(), "ErrorReconcile", None).await;
                    Err(e)
                }
            }
        }
    })
    .await
}

fn api(ctx: &Context, cr: &PerconaPGCluster) -> Api<PerconaPGCluster> {
    Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default())
}

/// Puts `message` in `status.message` (and, for an invalid spec, the `SpecValid` condition) with a Warning
/// Event — only when that is news. An invalid spec is `error`, as for the MySQL kinds; a cluster being deleted
/// is `stopping`; otherwise the state stays as it was (`initializing` for a new cluster).
async fn report(cr: &PerconaPGCluster, ctx: &Context, message: &str, reason: &str, invalid: Option<&str>) {
    let mut next = cr.status.clone().unwrap_or_default();
    if cr.meta().deletion_timestamp.is_some() {
        next.state = Some(state::STOPPING.into());
    } else if invalid.is_some() {
        next.state = Some(state::ERROR.into());
    } else if next.state.is_none() {
        next.state = Some(state::INITIALIZING.into());
    }
    next.message = Some(message.to_string());
    if let Some(problem) = invalid {
        let mut conditions = next.conditions.take().unwrap_or_default();
        set_spec_valid(&mut conditions, Some(problem.to_string()), cr.meta().generation);
        next.conditions = Some(conditions);
        next.observed_generation = cr.meta().generation;
    }
    match status::write_if_changed(&api(ctx, cr), &cr.name_any(), &next).await {
        Ok(Some(_)) => ctx.event(cr, true, reason, "Reconcile", message).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(cluster = %cr.name_any(), error = %e, "status not written"),
    }
}

async fn reconcile_live(cr: &PerconaPGCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    if cr.spec.unmanaged == Some(true) {
        // Crunchy `spec.paused`: the user took the cluster over; touch nothing until they hand it back.
        tracing::info!(cluster = %name, "spec.unmanaged is true; not reconciling");
        return Ok(Action::await_change());
    }

    // Validate before touching anything: a bad spec leaves every child as it was.
    let problems = cr.validate();
    if !problems.is_empty() {
        let line = problems.one_line();
        report(cr, ctx, &format!("{KIND} {ns}/{name}: {line}"), "InvalidSpec", Some(&line)).await;
        return Ok(Action::await_change());
    }

    let found = dereference(&ctx.client, cr).await?;
    // The cached CR may be a deleted one (its watch event not seen yet): children applied for it would
    // dangle until a garbage collector pass, so look once more before writing.
    match api(ctx, cr).get_opt(&name).await {
        Ok(Some(live)) if live.uid() == cr.uid() && live.meta().deletion_timestamp.is_none() => {}
        Ok(_) => return Ok(Action::await_change()),
        Err(e) => return Err(ReconcileError::kube(format!("reading {KIND} {ns}/{name}"), e)),
    }
    let desired = build(cr, &found.inputs).map_err(|e| ReconcileError::Build(e.to_string()))?;
    let values = values(&desired, &found)?;
    let owner = OwnerRef {
        api_version: "pgv2.percona.com/v2".into(),
        kind: KIND.into(),
        name: name.clone(),
        namespace: ns.clone(),
        uid: cr.uid().unwrap_or_default(),
    };
    let selector = BTreeMap::from([
        (L_APP_INSTANCE.to_string(), name.clone()),
        (L_APP_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
    ]);
    // The sweep keeps what the build wants plus the generated Secrets the build leaves out because they exist.
    let mut keep: BTreeSet<(String, String)> = values
        .iter()
        .filter_map(|o| {
            Some((o.get("kind")?.as_str()?.to_string(), o.pointer("/metadata/name")?.as_str()?.to_string()))
        })
        .collect();
    keep.extend(found.kept_secrets.iter().map(|s| ("Secret".to_string(), s.clone())));
    let first = cr.status.as_ref().and_then(|s| s.postgres.as_ref()).is_none();
    let held = hold_primary_set(ctx, cr, &found, &mut keep).await?;
    let applied = ctx.applier.apply_all(&owner, values).await?;
    let deleted = ctx.applier.delete_orphans(&owner, OWNED_KINDS, &selector, &keep).await?;
    ctx.metrics.wrote(KIND, applied.applied.len() + deleted.len());
    if first && !applied.applied.is_empty() {
        ctx.event(cr, false, "Created", "Create", format!("created {} objects", applied.applied.len())).await;
    }
    let removed: Vec<&String> = deleted.iter().filter(|d| d.starts_with("StatefulSet/")).collect();
    if !removed.is_empty() {
        let names: Vec<&str> = removed.iter().map(|d| d.trim_start_matches("StatefulSet/")).collect();
        ctx.event(cr, false, "InstancesRemoved", "Scale", format!("removed instances {}", names.join(", "))).await;
    }

    let observed = read_back(ctx, cr, &found).await?;
    let mut action = if held { Action::requeue(Duration::from_secs(5)) } else { Action::requeue(SAFETY_REQUEUE) };
    if !effective_spec(cr).pause.unwrap_or(false)
        && let Some(pod) = rollout_step(&observed)
    {
        let primary = observed.primary.as_ref().filter(|p| pod.starts_with(&format!("{p}-")));
        let role = if primary.is_some() { "the primary, last" } else { "a replica" };
        // Patroni labels its leader; before that pod restarts the leadership moves to an updated replica.
        // A single instance has nowhere to move: it restarts as Crunchy's rolling update does.
        if let Some(instance) = primary {
            let candidates = takeover_candidates(&observed, instance);
            let leader_pod = observed.instances.iter().find(|i| &i.name == instance).and_then(|i| i.pod.clone());
            if let (Some(leader_pod), false) = (leader_pod, candidates.is_empty()) {
                match switchover::move_leader_off(ctx, cr, &leader_pod, &candidates).await {
                    Ok(Moved::Switched { to }) => {
                        let msg = format!("Patroni switched the primary over from {pod} to {to} before its restart");
                        ctx.event(cr, false, "Switchover", "Update", msg).await;
                    }
                    Ok(Moved::Already { leader }) => {
                        tracing::info!(cluster = %name, pod = %pod, leader = %leader, "Patroni already leads elsewhere");
                    }
                    Err(e) => {
                        ctx.event(cr, true, "SwitchoverFailed", "Update", e.to_string()).await;
                        return Err(e);
                    }
                }
            }
        }
        ctx.event(
            cr,
            false,
            "RollingUpdate",
            "Update",
            format!("deleting pod {pod} ({role}) to move it to the new revision"),
        )
        .await;
        finalize::delete_pod(&ctx.client, &ns, &pod, "rolling update").await?;
        action = Action::requeue(Duration::from_secs(15));
    }

    let next = cluster_status(cr, &observed);
    if let Some(previous) = status::write_if_changed(&api(ctx, cr), &name, &next)
        .await
        .map_err(|e| ReconcileError::kube(format!("writing status of {KIND} {ns}/{name}"), e))?
    {
        status_events(cr, ctx, &previous, &next).await;
    }
    Ok(action)
}

/// `percona.com/delete-backups`: runs the pgBackRest Jobs that delete the stanza from every repo (in order,
/// one at a time), then deletes the cluster's PerconaPGBackup objects. `Some(action)` while a Job runs or
/// when one failed — then the finalizer stays, the Warning says which Job and why, and the data is not
/// dropped silently; the user may remove the finalizer to delete the cluster and keep the backups.
async fn delete_backups(cr: &PerconaPGCluster, ctx: &Context) -> Result<Option<Action>, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let planned = crate::engine::backup::pg::delete_backups_jobs(cr)
        .map_err(|e| ReconcileError::Blocked(format!("{FIN_DELETE_BACKUPS}: {e}")))?;
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let post = PostParams::default();
    for job in &planned {
        let job_name = job.name_any();
        let found = retrying(Default::default(), || jobs.get_opt(&job_name))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading Job {ns}/{job_name}"), e))?;
        let Some(found) = found else {
            retrying(Default::default(), || jobs.create(&post, job))
                .await
                .map_err(|e| ReconcileError::kube(format!("creating Job {ns}/{job_name}"), e))?;
            let what = job_command(job);
            ctx.event(
                cr,
                false,
                "DeletingBackups",
                "Delete",
                format!("{FIN_DELETE_BACKUPS}: started Job {job_name} ({what})"),
            )
            .await;
            return Ok(Some(Action::requeue(Duration::from_secs(2))));
        };
        match job_phase(&found) {
            JobPhase::Complete { .. } => continue,
            JobPhase::Failed { error } => {
                let why = format!(
                    "{FIN_DELETE_BACKUPS}: Job {job_name} ({}) failed: {error}; the backups are kept and the cluster \
                     waits on the finalizer (delete the Job to retry, or remove the finalizer to keep the backups)",
                    job_command(job)
                );
                report(cr, ctx, &format!("{KIND} {ns}/{name}: {why}"), "DeleteBackupsFailed", None).await;
                return Ok(Some(Action::requeue(Duration::from_secs(60))));
            }
            _ => {
                let what = format!("waiting for Job {job_name} ({}) to finish", job_command(job));
                deleting(cr, ctx, &format!("{what} (finalizer {FIN_DELETE_BACKUPS})")).await;
                return Ok(Some(Action::requeue(Duration::from_secs(2))));
            }
        }
    }
    let backups: Api<PerconaPGBackup> = Api::namespaced(ctx.client.clone(), &ns);
    let (all, del) = (ListParams::default(), DeleteParams::default());
    let list = retrying(Default::default(), || backups.list(&all))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing PerconaPGBackups in {ns}"), e))?;
    let mut deleted = Vec::new();
    for b in list.items.iter().filter(|b| b.spec.pg_cluster.as_deref() == Some(name.as_str())) {
        let bname = b.name_any();
        match retrying(Default::default(), || backups.delete(&bname, &del)).await {
            Ok(_) => deleted.push(bname),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube(format!("deleting PerconaPGBackup {ns}/{bname}"), e)),
        }
    }
    let repos: Vec<String> = planned.iter().skip(1).map(|j| j.name_any()).collect();
    ctx.event(
        cr,
        false,
        "DeletedBackups",
        "Delete",
        format!(
            "{FIN_DELETE_BACKUPS}: pgBackRest stanza deleted by Jobs [{}]; deleted PerconaPGBackups [{}]",
            repos.join(", "),
            deleted.join(", ")
        ),
    )
    .await;
    Ok(None)
}

/// Says in status (`stopping`, as a paused cluster on its way down) and in a `Deleting` Event what the
/// deletion waits for, when that is news.
async fn deleting(cr: &PerconaPGCluster, ctx: &Context, why: &str) {
    let mut next = cr.status.clone().unwrap_or_default();
    next.state = Some(state::STOPPING.into());
    next.message = Some(format!("deleting: {why}"));
    if status::write_if_changed(&api(ctx, cr), &cr.name_any(), &next).await.ok().flatten().is_some() {
        ctx.event(cr, false, "Deleting", "Delete", why).await;
    }
}

/// `COMMAND COMMAND_OPTS` of a pgBackRest exec Job, for messages.
fn job_command(job: &Job) -> String {
    let env = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let get = |k: &str| env.iter().find(|e| e.name == k).and_then(|e| e.value.clone()).unwrap_or_default();
    format!("pgbackrest {} {}", get("COMMAND"), get("COMMAND_OPTS"))
}

/// When the spec drops the instance set Patroni's leader runs in, the leadership moves to a remaining
/// instance before the sweep deletes that StatefulSet (Percona fails over in that case). Until a remaining
/// instance is Ready the old set is kept (returns true: check again soon); a failed switchover keeps it too
/// and fails the pass with the reason.
async fn hold_primary_set(
    ctx: &Context,
    cr: &PerconaPGCluster,
    found: &Found,
    keep: &mut BTreeSet<(String, String)>,
) -> Result<bool, ReconcileError> {
    let Some(leader_pod) = found.pods.iter().find(|p| {
        p.metadata.deletion_timestamp.is_none()
            && p.labels().get(L_ROLE).is_some_and(|r| PRIMARY_ROLES.contains(&r.as_str()))
    }) else {
        return Ok(false);
    };
    let Some(leader_sts) = leader_pod.labels().get(L_INSTANCE).cloned() else { return Ok(false) };
    let sts_key = ("StatefulSet".to_string(), leader_sts.clone());
    if keep.contains(&sts_key) {
        return Ok(false);
    }
    let candidates: Vec<Pod> = found
        .pods
        .iter()
        .filter(|p| {
            p.labels().get(L_INSTANCE).is_some_and(|i| keep.contains(&("StatefulSet".to_string(), i.clone())))
                && p.metadata.deletion_timestamp.is_none()
                && status::pod_ready_at(p, None)
        })
        .cloned()
        .collect();
    keep.insert(sts_key);
    if candidates.is_empty() {
        tracing::info!(cluster = %cr.name_any(), instance = %leader_sts,
            "the primary's instance set is removed; kept until a remaining instance is Ready to take over");
        return Ok(true);
    }
    match switchover::move_leader_off(ctx, cr, leader_pod, &candidates).await {
        Ok(moved) => {
            let to = match &moved {
                Moved::Switched { to } | Moved::Already { leader: to } => to.clone(),
            };
            if matches!(moved, Moved::Switched { .. }) {
                let msg = format!(
                    "Patroni switched the primary over from {} to {to} before its instance {leader_sts} is removed",
                    leader_pod.name_any()
                );
                ctx.event(cr, false, "Switchover", "Scale", msg).await;
            }
            keep.remove(&("StatefulSet".to_string(), leader_sts));
            Ok(false)
        }
        Err(e) => {
            ctx.event(cr, true, "SwitchoverFailed", "Scale", e.to_string()).await;
            Err(e)
        }
    }
}

/// The desired objects as JSON. Volumes and the Secrets a user needs to reopen their data (passwords) go
/// without an owner reference: deleting the CR must not delete them; only a finalizer does.
fn values(d: &super::PgDesired, found: &Found) -> Result<Vec<Value>, ReconcileError> {
    let mut out =
        d.to_values().map_err(|e| ReconcileError::Build(format!("cannot serialise a desired object: {e}")))?;
    for v in &mut out {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let unowned = kind == "PersistentVolumeClaim" || (kind == "Secret" && found.unowned_secrets.contains(name));
        if unowned && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("ownerReferences");
        }
    }
    Ok(out)
}

/// Reads the instances, pods, pgBouncer and repo host back after the apply.
async fn read_back(ctx: &Context, cr: &PerconaPGCluster, found: &Found) -> Result<Observed, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let lp = ListParams::default().labels(&format!("{L_CLUSTER}={name}"));
    let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let statefulsets = retrying(Default::default(), || sts_api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing StatefulSets of {KIND} {ns}/{name}"), e))?
        .items;
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pods = retrying(Default::default(), || pod_api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing pods of {KIND} {ns}/{name}"), e))?
        .items;
    let spec = effective_spec(cr);
    let bouncer = spec.proxy.as_ref().and_then(|p| p.pg_bouncer.as_ref()).map(|b| b.replicas.unwrap_or(1));
    let repo_host = format!("{name}-repo-host");
    let has_repo_host = statefulsets.iter().any(|s| s.name_any() == repo_host && s.meta().deletion_timestamp.is_none());
    let planned = planned_instances(cr, &found.inputs.instance_suffixes);
    Ok(observe(&planned, &statefulsets, &pods, bouncer, has_repo_host.then_some(repo_host.as_str())))
}

/// Events for what the status change says happened: a new state, a size change.
async fn status_events(
    cr: &PerconaPGCluster,
    ctx: &Context,
    before: &PerconaPGClusterStatus,
    after: &PerconaPGClusterStatus,
) {
    let old = before.state.clone().unwrap_or_default();
    let new = after.state.clone().unwrap_or_default();
    if old != new {
        let reason = match new.as_str() {
            state::PAUSED => "Paused",
            state::STOPPING => "Pausing",
            state::READY => "Ready",
            _ => "ClusterStateChanged",
        };
        let from = if old.is_empty() { "(new)" } else { old.as_str() };
        ctx.event(cr, false, reason, "Status", format!("{from} -> {new}")).await;
    }
    let sizes = |s: &PerconaPGClusterStatus| -> BTreeMap<String, i32> {
        let mut m: BTreeMap<String, i32> = s
            .postgres
            .iter()
            .flat_map(|p| p.instances.iter().flatten())
            .map(|i| (format!("postgres/{}", i.name), i.size))
            .collect();
        if let Some(b) = &s.pgbouncer {
            m.insert("pgbouncer".into(), b.size);
        }
        m
    };
    let (a, b) = (sizes(before), sizes(after));
    for (what, to) in &b {
        if let Some(from) = a.get(what)
            && from != to
        {
            ctx.event(cr, false, "Scaled", "Scale", format!("{what}: {from} -> {to}")).await;
        }
    }
}

/// Deletion: run the opt-in finalizers one at a time, each removed once its work is done.
async fn finalize_cluster(cr: &PerconaPGCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    // Backups first (they need the repo), then volumes, then certificates.
    let ours = [FIN_DELETE_BACKUPS, FIN_DELETE_PVC, FIN_DELETE_SSL];
    let Some(finalizer) = ours.iter().find(|f| cr.finalizers().iter().any(|g| g == *f)).copied() else {
        // Only finalizers of someone else hold the CR: say whose, since nothing here will remove them.
        let others: Vec<&str> = cr.finalizers().iter().map(String::as_str).collect();
        if !others.is_empty() {
            let why = format!("waiting for finalizer {} (not dbdeck's) to be removed", others.join(", "));
            deleting(cr, ctx, &why).await;
        }
        return Ok(Action::await_change());
    };
    if cr.status.as_ref().and_then(|s| s.state.as_deref()) != Some(state::STOPPING) {
        let pending: Vec<&str> = ours.iter().filter(|f| cr.finalizers().iter().any(|g| g == *f)).copied().collect();
        deleting(cr, ctx, &format!("running finalizers {}", pending.join(", "))).await;
    }
    match finalizer {
        FIN_DELETE_BACKUPS => {
            if let Some(wait) = delete_backups(cr, ctx).await? {
                return Ok(wait);
            }
        }
        FIN_DELETE_PVC => {
            let pvcs = finalize::delete_pvcs(&ctx.client, &ns, &format!("{L_CLUSTER}={name}")).await?;
            let users: Vec<String> = user_secret_names(cr)?.into_iter().map(|(_, s)| s).collect();
            let secrets = finalize::delete_secrets(&ctx.client, &ns, &users).await?;
            ctx.event(
                cr,
                false,
                "DeletedVolumes",
                "Delete",
                format!(
                    "deleted PVCs [{}] and user Secrets [{}] as {FIN_DELETE_PVC} asked",
                    pvcs.join(", "),
                    secrets.join(", ")
                ),
            )
            .await;
        }
        _ => {
            let gone = finalize::delete_secrets(&ctx.client, &ns, &certificate_secret_names(cr)).await?;
            ctx.event(
                cr,
                false,
                "DeletedCertificates",
                "Delete",
                format!("deleted Secrets [{}] as {FIN_DELETE_SSL} asked", gone.join(", ")),
            )
            .await;
        }
    }
    finalize::remove(&api(ctx, cr), cr, finalizer).await?;
    Ok(Action::await_change())
}
