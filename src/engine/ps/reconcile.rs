//! The PerconaServerMySQL controller: dereference → validate → build → apply → primary label →
//! smart update → status, and the `percona.com/delete-*` finalizers on deletion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::cluster_status::{self, Observed, Workload};
use super::members::MemberAccess;
use super::topology::{self, PrimaryFinding, Reading};
use super::{Component, PsBuildInputs, build, rollout, secrets};
use crate::api::common::{Validate, state};
use crate::api::ps::{ClusterType, PerconaServerMySQL, PerconaServerMySQLBackup, PerconaServerMySQLStatus};
use crate::engine::apply::{OwnerRef, retrying};
use crate::engine::context::{Context, SAFETY_REQUEUE, Synced};
use crate::engine::controller::{CountedTriggers, cluster_controller, drive, key, measured, scoped};
use crate::engine::error::ReconcileError;
use crate::engine::status::{pod_ready_at, pod_revision, write_if_changed};
use crate::engine::{finalize, volumes};
use crate::observe::live::Scope;

pub const KIND: &str = "PerconaServerMySQL";
const API_VERSION: &str = "ps.percona.com/v1";
/// The `app.kubernetes.io/managed-by` value on every object the builder makes.
const MANAGED_BY: &str = "percona-server-mysql-operator";

pub const FIN_PODS_IN_ORDER: &str = "percona.com/delete-mysql-pods-in-order";
pub const FIN_MYSQL_PVC: &str = "percona.com/delete-mysql-pvc";
pub const FIN_SSL: &str = "percona.com/delete-ssl";
/// Percona runs them sorted, so pods-in-order goes before the PVC finalizer removes its Secrets.
const FINALIZERS: [&str; 3] = [FIN_PODS_IN_ORDER, FIN_MYSQL_PVC, FIN_SSL];

/// Validity of a self-generated certificate set (Percona's self-signed PS certificates last a year).
const GENERATED_TLS_DAYS: i64 = 365;

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

/// Backup states during which Percona neither starts nor continues a smart update.
const BACKUP_BUSY: [&str; 2] = ["Starting", "Running"];

/// The engine's shared context plus what only this controller keeps: its line to the MySQL
/// members and Orchestrator (connections and port-forward bridges reused across reconciles).
pub struct PsContext {
    engine: Arc<Context>,
    members: MemberAccess,
}

impl AsRef<Context> for PsContext {
    fn as_ref(&self) -> &Context {
        &self.engine
    }
}

impl std::ops::Deref for PsContext {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.engine
    }
}

/// Runs the controller until `token` is cancelled, then lets in-flight reconciles finish.
pub async fn run(ctx: Arc<Context>, scope: Scope, concurrency: u16, token: CancellationToken, synced: Arc<Synced>) {
    let client = ctx.client.clone();
    let ctx = Arc::new(PsContext { members: MemberAccess::new(ctx.reacher.clone()), engine: ctx });
    let ours = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = cluster_controller::<PerconaServerMySQL>(&client, &scope, concurrency, synced, &ctx.metrics)
        .owns_counted(scoped::<StatefulSet>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Deployment>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Service>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<ConfigMap>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<PodDisruptionBudget>(&client, &scope), ours.clone(), &ctx.metrics)
        // Pods belong to the StatefulSets and the Router's ReplicaSet, not the CR: map them back by
        // their instance label, so a pod turning Ready (or going away) re-reconciles its cluster.
        .watches_counted(scoped::<Pod>(&client, &scope), ours, &ctx.metrics, |pod: Pod| {
            let instance = pod.labels().get("app.kubernetes.io/instance")?.clone();
            Some(ObjectRef::new(&instance).within(&pod.namespace()?))
        });
    drive(controller, token, reconcile, ctx).await;
}

pub async fn reconcile(cr: Arc<PerconaServerMySQL>, ctx: Arc<PsContext>) -> Result<Action, ReconcileError> {
    measured(&ctx, cr.as_ref(), async {
        if cr.meta().deletion_timestamp.is_some() {
            let r = finalize_cluster(&cr, &ctx).await;
            if let Err(e) = &r {
                // A finalizer that cannot finish says why instead of holding the CR silently.
                report_error(&cr, &ctx, &format!("deletion blocked: {e}"), "DeletionBlocked").await;
            }
            r
        } else {
            match reconcile_live(&cr, &ctx).await {
                Ok(action) => Ok(action),
                Err(e) => {
                    report_error(&cr, &ctx, &e.to_string(), "ErrorReconcile").await;
                    Err(e)
                }
            }
        }
    })
    .await
}

fn api(ctx: &Context, cr: &PerconaServerMySQL) -> Api<PerconaServerMySQL> {
    Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default())
}

/// Sets `state: error` with the message and an `Error` condition, plus a Warning Event — only when
/// that is news, so a spec that stays invalid does not write on every pass.
async fn report_error(cr: &PerconaServerMySQL, ctx: &Context, message: &str, reason: &str) {
    let next = cluster_status::error_status(cr, reason, message);
    match write_if_changed(&api(ctx, cr), &cr.name_any(), &next).await {
        Ok(Some(_)) => ctx.event(cr, true, reason, "Reconcile", message).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(cluster = %cr.name_any(), error = %e, "status not written"),
    }
}

async fn reconcile_live(cr: &PerconaServerMySQL, ctx: &PsContext) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();

    // Validate before touching anything: a bad spec leaves every child as it was.
    let problems = cr.validate();
    if !problems.is_empty() {
        report_error(cr, ctx, &format!("{KIND} {ns}/{name}: {}", problems.one_line()), "InvalidSpec").await;
        return Ok(Action::await_change());
    }

    let inputs = dereference(ctx, cr).await?;
    let desired = build(cr, &inputs).map_err(|e| ReconcileError::Build(e.to_string()))?;
    let load_balancers: Vec<String> = desired
        .services
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer"))
        .map(|s| s.name_any())
        .collect();
    let owner = OwnerRef {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        name: name.clone(),
        namespace: ns.clone(),
        uid: cr.uid().unwrap_or_default(),
    };
    let selector = BTreeMap::from([
        ("app.kubernetes.io/instance".to_string(), name.clone()),
        ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
    ]);
    let first = cr.status.as_ref().and_then(|s| s.state.as_ref()).is_none();
    let mut desired = desired.to_values();
    let (volume_note, volume_requeue) = match volumes::prepare(ctx, cr, &volume_target(cr), &mut desired).await? {
        volumes::Step::Apply { note, requeue } => (note, requeue),
        volumes::Step::Refuse(message) => {
            report_error(cr, ctx, &format!("{KIND} {ns}/{name}: {message}"), "VolumeShrinkRefused").await;
            return Ok(Action::await_change());
        }
        volumes::Step::Recreating { note } => {
            // The StatefulSet's deletion wakes this controller again; the requeue is a safety net.
            let mut next = cr.status.clone().unwrap_or_default();
            next.message = Some(note.message);
            if let Err(e) = write_if_changed(&api(ctx, cr), &name, &next).await {
                tracing::warn!(cluster = %name, error = %e, "status not written");
            }
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
    };
    let report = ctx.applier.reconcile(&owner, desired, OWNED_KINDS, &selector).await?;
    ctx.metrics.wrote(KIND, report.applied.len() + report.deleted.len());
    if first && !report.applied.is_empty() {
        ctx.event(cr, false, "Created", "Create", format!("created {} objects", report.applied.len())).await;
    }

    let observed = observe(ctx, cr, &load_balancers).await?;
    let topology = learn_primary(ctx, cr, &observed.mysql.pods).await;
    label_primary(ctx, cr, &observed.mysql.pods, &topology.finding).await?;
    let mut action = Action::requeue(SAFETY_REQUEUE);
    if let Some(wait) = smart_update(ctx, cr, &observed, &topology).await? {
        action = Action::requeue(wait);
    }

    let mut next = cluster_status::cluster_status(cr, &observed);
    if let Some(note) = &volume_note {
        with_note(&mut next, note);
    }
    if let Some(previous) = write_if_changed(&api(ctx, cr), &name, &next)
        .await
        .map_err(|e| ReconcileError::kube(format!("writing status of {KIND} {ns}/{name}"), e))?
    {
        status_events(cr, ctx, &previous, &next).await;
        let said = |n: &volumes::Note| previous.message.as_deref().is_some_and(|m| m.contains(n.message.as_str()));
        if let Some(note) = volume_note.as_ref().filter(|n| !said(n)) {
            ctx.event(cr, note.error, note.reason, "Resize", &note.message).await;
        }
    }
    if let Some(wait) = volume_requeue {
        action = Action::requeue(wait);
    }
    Ok(action)
}

/// Where this cluster's data volumes are and what its spec asks of them.
fn volume_target(cr: &PerconaServerMySQL) -> volumes::Target<'_> {
    let spec = cr.spec.with_defaults(&cr.name_any());
    let scaling = spec.storage_scaling.as_ref().and_then(|s| s.enable_volume_scaling).unwrap_or(false);
    volumes::Target {
        namespace: cr.metadata.namespace.as_deref().unwrap_or_default(),
        sts: format!("{}-mysql", cr.name_any()),
        template: "datadir",
        field: "spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage",
        size: spec.mysql.as_ref().and_then(|m| m.size).unwrap_or(3),
        expansion_field: "spec.storageScaling.enableVolumeScaling",
        expansion_enabled: scaling || spec.enable_volume_expansion.unwrap_or(false),
    }
}

/// Puts a volume note into the status message, and `error` with an `Error` condition when the spec cannot be met.
fn with_note(next: &mut PerconaServerMySQLStatus, note: &volumes::Note) {
    let text = if note.error { format!("Error: {}", note.message) } else { note.message.clone() };
    next.message = Some(match next.message.take() {
        Some(other) if !other.is_empty() => format!("{text}; {other}"),
        _ => text,
    });
    if note.error {
        next.state = Some(state::ERROR.into());
        let mut conditions = next.conditions.take().unwrap_or_default();
        cluster_status::set_condition(
            &mut conditions,
            cluster_status::CONDITION_ERROR,
            true,
            note.reason,
            &note.message,
        );
        next.conditions = Some(conditions);
    }
}

fn secret_text(s: &Secret) -> BTreeMap<String, String> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .chain(s.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

/// Reads the user Secret and the TLS Secret, and generates passwords or certificates only for what
/// is missing. (The internal copy `internal-<c>` is always rebuilt from the user Secret, so it is not
/// read.)
async fn dereference(ctx: &Context, cr: &PerconaServerMySQL) -> Result<PsBuildInputs, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let secrets_api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let read = async |n: String| {
        retrying(Default::default(), || secrets_api.get_opt(&n))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading Secret {ns}/{n}"), e))
    };
    let users_name = spec.secrets_name.clone().unwrap_or_else(|| format!("{name}-secrets"));
    let users_secret = read(users_name).await?.map(|s| secret_text(&s));
    let tls_name = spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl"));
    let tls_secret = read(tls_name).await?.map(|s| secret_text(&s));

    let missing_user = secrets::SYSTEM_USERS
        .iter()
        .any(|u| !users_secret.as_ref().is_some_and(|s| s.get(*u).is_some_and(|v| !v.is_empty())));
    let generated_passwords =
        if missing_user { secrets::generate_passwords(&mut rand::rng()) } else { BTreeMap::new() };
    let generated_tls = if tls_secret.is_none() {
        let sans = spec.tls.as_ref().and_then(|t| t.sans.clone()).unwrap_or_default();
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::days(GENERATED_TLS_DAYS);
        Some(secrets::generate_tls(&name, &ns, &sans, now, until).map_err(|e| ReconcileError::Build(e.to_string()))?)
    } else {
        None
    };
    Ok(PsBuildInputs { users_secret, tls_secret, generated_passwords, generated_tls })
}

async fn observe(
    ctx: &Context,
    cr: &PerconaServerMySQL,
    load_balancers: &[String],
) -> Result<Observed, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let deploy_api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let workload = async |c: Component| {
        let object = format!("{name}-{}", c.suffix());
        let (stateful_set, deployment) = if c == Component::Router {
            let d = retrying(Default::default(), || deploy_api.get_opt(&object))
                .await
                .map_err(|e| ReconcileError::kube(format!("reading Deployment {ns}/{object}"), e))?;
            (None, d)
        } else {
            let s = retrying(Default::default(), || sts_api.get_opt(&object))
                .await
                .map_err(|e| ReconcileError::kube(format!("reading StatefulSet {ns}/{object}"), e))?;
            (s, None)
        };
        // HAProxy and Router share `component=proxy`; the name label tells them apart.
        let selector = format!("app.kubernetes.io/instance={name},app.kubernetes.io/name={}", c.app_name());
        let lp = ListParams::default().labels(&selector);
        let mut pods = retrying(Default::default(), || pods_api.list(&lp))
            .await
            .map_err(|e| ReconcileError::kube(format!("listing pods {selector} in {ns}"), e))?
            .items;
        pods.sort_by_key(|p| p.name_any());
        Ok::<_, ReconcileError>(Workload { stateful_set, deployment, pods })
    };
    let mysql = workload(Component::Mysql).await?;
    let orchestrator =
        if !gr && spec.orchestrator_enabled() { Some(workload(Component::Orchestrator).await?) } else { None };
    let haproxy = if spec.haproxy_enabled() { Some(workload(Component::Haproxy).await?) } else { None };
    let router = if gr && spec.router_enabled() { Some(workload(Component::Router).await?) } else { None };
    let svc_api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let mut lbs = Vec::new();
    for svc in load_balancers {
        if let Some(s) = retrying(Default::default(), || svc_api.get_opt(svc))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading Service {ns}/{svc}"), e))?
        {
            lbs.push(s);
        }
    }
    Ok(Observed { mysql, orchestrator, haproxy, router, load_balancers: lbs })
}

/// What the MySQL members said this pass: each pod's reading and the primary they name.
struct Topology {
    readings: Vec<Reading>,
    finding: PrimaryFinding,
}

/// Asks the MySQL members who the primary is (Percona asks Orchestrator for async and the group's
/// own tables for group replication; the engine reads the same facts from the servers directly).
async fn learn_primary(ctx: &PsContext, cr: &PerconaServerMySQL, pods: &[Pod]) -> Topology {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    let readings = ctx.members.probe(&ctx.client, &name, &ns, spec.secrets_name.as_deref(), gr, pods).await;
    let finding = topology::primary_from_readings(gr, &readings);
    match &finding {
        PrimaryFinding::Found(p) => tracing::debug!(cluster = %name, primary = %p, "primary from the databases"),
        PrimaryFinding::NoAnswer(why) if !pods.is_empty() => {
            tracing::info!(cluster = %name, reason = %why, "primary unknown: no MySQL member answered; going by the pod label")
        }
        PrimaryFinding::NoAnswer(_) => {}
        PrimaryFinding::Unclear(why) => {
            tracing::warn!(cluster = %name, reason = %why, "primary unclear from the databases; going by the pod label")
        }
    }
    Topology { readings, finding }
}

/// Keeps `mysql.percona.com/primary=true` on the primary and on no other pod: the primary the
/// databases name, or — when they cannot say — the one pod the label already names (set by
/// Orchestrator's hook or an earlier pass). Nothing is invented; several labelled pods are reported
/// and left alone.
async fn label_primary(
    ctx: &Context,
    cr: &PerconaServerMySQL,
    pods: &[Pod],
    finding: &PrimaryFinding,
) -> Result<(), ReconcileError> {
    let ns = cr.namespace().unwrap_or_default();
    let from_db = match finding {
        PrimaryFinding::Found(p) => Some(p.clone()),
        _ => None,
    };
    let Some(primary) = from_db.or_else(|| rollout::known_primary(pods)) else {
        let labelled: Vec<String> = pods
            .iter()
            .filter(|p| p.labels().get(super::LABEL_PRIMARY).is_some_and(|v| v == "true"))
            .map(|p| p.name_any())
            .collect();
        if labelled.len() > 1 {
            tracing::warn!(cluster = %cr.name_any(), pods = ?labelled, "several pods are labelled primary; left as they are");
        }
        return Ok(());
    };
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pp = PatchParams::default();
    for (pod, patch) in rollout::primary_label_patches(pods, &primary) {
        let patch = Patch::Merge(&patch);
        match retrying(Default::default(), || pods_api.patch(&pod, &pp, &patch)).await {
            Ok(_) => tracing::info!(cluster = %cr.name_any(), pod = %pod, primary = %primary, "primary label moved"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube(format!("labelling pod {ns}/{pod}"), e)),
        }
    }
    Ok(())
}

/// True when a backup of this cluster is starting or running (Percona holds updates meanwhile).
async fn backup_running(ctx: &Context, cr: &PerconaServerMySQL) -> Result<bool, ReconcileError> {
    let ns = cr.namespace().unwrap_or_default();
    let api: Api<PerconaServerMySQLBackup> = Api::namespaced(ctx.client.clone(), &ns);
    let lp = ListParams::default();
    let list = retrying(Default::default(), || api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing PerconaServerMySQLBackups in {ns}"), e))?;
    Ok(list.items.iter().any(|b| {
        b.spec.cluster_name.as_deref() == Some(cr.name_any().as_str())
            && b.status.as_ref().and_then(|s| s.state.as_deref()).is_some_and(|s| BACKUP_BUSY.contains(&s))
    }))
}

/// One step of a smart update: delete the next outdated MySQL pod, if one should go now, or — when
/// that pod is the primary the databases name — first switch the primary over to an updated
/// replica and wait until the databases show it. Returns how long to wait before looking again
/// when a step was taken or held back.
async fn smart_update(
    ctx: &PsContext,
    cr: &PerconaServerMySQL,
    o: &Observed,
    topo: &Topology,
) -> Result<Option<Duration>, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let cluster_key = key(cr);
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    if spec.update_strategy.as_deref() != Some("SmartUpdate") || spec.paused() {
        return Ok(None);
    }
    let Some(sts) = o.mysql.stateful_set.as_ref() else { return Ok(None) };
    let wanted = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let Some(update) = sts.status.as_ref().and_then(|s| s.update_revision.clone()) else { return Ok(None) };
    let primary = match &topo.finding {
        PrimaryFinding::Found(p) => p.clone(),
        _ => rollout::primary_for_update(&name, &o.mysql.pods),
    };
    let Some(pod) = rollout::smart_update_step(wanted, &update, &o.mysql.pods, &primary) else {
        // A pod that is only briefly not ready must not make the engine forget a switchover it
        // asked for; the record goes once the rollout is over.
        if o.mysql.pods.iter().all(|p| pod_revision(p) == Some(update.as_str())) {
            ctx.members.clear_requested(&cluster_key);
        }
        return Ok(None);
    };
    // The proxies must be serving before a MySQL pod is taken away.
    for w in [&o.haproxy, &o.router].into_iter().flatten() {
        let want = w
            .stateful_set
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.replicas)
            .or_else(|| w.deployment.as_ref().and_then(|d| d.spec.as_ref()).and_then(|s| s.replicas));
        if w.ready_pods() < want.unwrap_or(0) {
            return Ok(Some(Duration::from_secs(10)));
        }
    }
    if backup_running(ctx, cr).await? {
        tracing::info!(cluster = %name, "smart update held while a backup runs");
        return Ok(Some(Duration::from_secs(30)));
    }
    let role = if pod != primary {
        if ctx.members.awaiting_from(&cluster_key, &pod) {
            "the former primary, now a replica".to_string()
        } else {
            "a replica".to_string()
        }
    } else {
        match &topo.finding {
            // A switchover asked for earlier must be seen before its old primary goes.
            PrimaryFinding::NoAnswer(why) if ctx.members.awaiting_from(&cluster_key, &pod) => {
                tracing::info!(cluster = %name, reason = %why, "smart update waits to see the switchover; no member answered");
                return Ok(Some(Duration::from_secs(2)));
            }
            // Nobody to ask: the primary still goes last, as the label or pod 0 says, and MySQL
            // elects by itself when it restarts.
            PrimaryFinding::NoAnswer(why) => {
                format!("the primary, last; no switchover: no MySQL member answered ({why})")
            }
            PrimaryFinding::Unclear(why) => {
                tracing::info!(cluster = %name, reason = %why, "smart update waits: the primary is unclear");
                return Ok(Some(Duration::from_secs(2)));
            }
            PrimaryFinding::Found(_) if wanted <= 1 => "the primary, last; no replica to switch to".to_string(),
            // Async without Orchestrator (allowed only by unsafeFlags.orchestrator): nobody to ask.
            PrimaryFinding::Found(_) if !gr && o.orchestrator.is_none() => {
                "the primary, last; no switchover: Orchestrator is not enabled".to_string()
            }
            PrimaryFinding::Found(_) => return switchover(ctx, cr, o, topo, &primary, &update).await,
        }
    };
    ctx.event(
        cr,
        false,
        "SmartUpdate",
        "Update",
        format!("deleting pod {pod} ({role}) to move it to the new revision"),
    )
    .await;
    ctx.members.clear_requested(&cluster_key);
    finalize::delete_pod(&ctx.client, &ns, &pod, "smart update").await?;
    ctx.members.forget_pod(&ns, &pod);
    Ok(Some(Duration::from_secs(30)))
}

/// The primary is next and the databases name it: ask for a switchover to an updated replica
/// (async: Orchestrator's graceful takeover; group replication: `group_replication_set_as_primary`
/// on the primary). The old primary is deleted by a later pass, once the probes name the new one.
async fn switchover(
    ctx: &PsContext,
    cr: &PerconaServerMySQL,
    o: &Observed,
    topo: &Topology,
    primary: &str,
    update: &str,
) -> Result<Option<Duration>, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    let cluster_key = key(cr);
    let Some(target) = topology::switch_target(primary, update, &o.mysql.pods, &topo.readings) else {
        tracing::warn!(cluster = %name, primary, "smart update waits: no updated, ready replica answered as following the primary");
        return Ok(Some(Duration::from_secs(5)));
    };
    if ctx.members.awaiting(&cluster_key, primary, &target) {
        // Asked already; the next pass deletes the old primary once the probes name the new one.
        return Ok(Some(Duration::from_secs(1)));
    }
    let (how, result) = if gr {
        let how = "group_replication_set_as_primary".to_string();
        let primary_pod = o.mysql.pods.iter().find(|p| p.name_any() == primary);
        let sql = topology::group_member_id(&target, &topo.readings).and_then(|id| topology::set_as_primary_sql(&id));
        let result = match (primary_pod, sql) {
            (Some(pod), Some(sql)) => ctx
                .members
                .run_on_primary(&ctx.client, &name, spec.secrets_name.as_deref(), pod, &sql)
                .await
                .map_err(|e| e.to_string()),
            (None, _) => Err(format!("pod {primary} is gone")),
            (_, None) => Err(format!("no member lists {target} with a server UUID in replication_group_members")),
        };
        (how, result)
    } else {
        let path = topology::takeover_path(&name, &ns, &target);
        let how = format!("Orchestrator GET {path}");
        let orc = o.orchestrator.as_ref().and_then(|w| w.pods.iter().find(|p| pod_ready_at(p, None)));
        let result = match orc {
            Some(orc) => ctx.members.orchestrator_get(orc, &path).await.map_err(|e| e.to_string()),
            None => Err(format!("no ready Orchestrator pod in {name}-orc")),
        };
        (how, result)
    };
    match result {
        Ok(()) => {
            ctx.members.mark_requested(&cluster_key, primary, &target);
            let note = format!(
                "primary switchover from {primary} to {target} ({how}); {primary} restarts once the databases name {target}"
            );
            ctx.event(cr, false, "Switchover", "Update", note).await;
            Ok(Some(Duration::from_secs(1)))
        }
        Err(reason) => {
            let note =
                format!("switchover of the primary {primary} to {target} failed: {reason}; {primary} is not deleted");
            ctx.event(cr, true, "SwitchoverFailed", "Update", note.clone()).await;
            Err(ReconcileError::Kube { what: format!("smart update of {KIND} {ns}/{name}"), message: note })
        }
    }
}

/// Events for what the status change says happened: Percona's `ClusterStateChanged`, and scaling.
async fn status_events(
    cr: &PerconaServerMySQL,
    ctx: &Context,
    before: &PerconaServerMySQLStatus,
    after: &PerconaServerMySQLStatus,
) {
    let old = before.state.clone().unwrap_or_default();
    let new = after.state.clone().unwrap_or_default();
    if old != new {
        let warning = new == state::ERROR;
        ctx.event(cr, warning, "ClusterStateChanged", "Status", format!("{old} -> {new}")).await;
    }
    let sizes = |s: &PerconaServerMySQLStatus| {
        [("mysql", &s.mysql), ("orchestrator", &s.orchestrator), ("haproxy", &s.haproxy), ("router", &s.router)]
            .map(|(n, c)| (n, c.as_ref().and_then(|c| c.size)))
    };
    // Pause zeroes every size; that is reported by the state change, not as scaling.
    for ((c, a), (_, b)) in sizes(before).into_iter().zip(sizes(after)) {
        if let (Some(a), Some(b)) = (a, b)
            && a != b
            && a > 0
            && b > 0
        {
            ctx.event(cr, false, "Scaled", "Scale", format!("{c}: {a} -> {b}")).await;
        }
    }
}

/// Deletion: run the opt-in finalizers one at a time, saying in status what each waits for.
async fn finalize_cluster(cr: &PerconaServerMySQL, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let pending: Vec<&str> = FINALIZERS.into_iter().filter(|f| cr.finalizers().iter().any(|g| g == f)).collect();
    let crs = api(ctx, cr);
    let Some(finalizer) = pending.first().copied() else {
        // Only finalizers of someone else hold the CR: say whose, since nothing here will remove them.
        let others: Vec<&str> = cr.finalizers().iter().map(String::as_str).collect();
        if !others.is_empty() {
            let why = format!("waiting for finalizer {} (not dbdeck's) to be removed", others.join(", "));
            let mut next = cr.status.clone().unwrap_or_default();
            next.state = Some(state::STOPPING.into());
            next.message = Some(format!("deleting: {why}"));
            if write_if_changed(&crs, &name, &next).await.ok().flatten().is_some() {
                ctx.event(cr, false, "Deleting", "Delete", why).await;
            }
        }
        return Ok(Action::await_change());
    };
    let waiting = async |why: String| {
        let mut next = cr.status.clone().unwrap_or_default();
        next.state = Some(state::STOPPING.into());
        next.message = Some(format!("deleting: {why} (finalizer {finalizer})"));
        if write_if_changed(&crs, &name, &next).await.ok().flatten().is_some() {
            ctx.event(cr, false, "Deleting", "Delete", why).await;
        }
    };
    if cr.status.as_ref().and_then(|s| s.state.as_deref()) != Some(state::STOPPING) {
        waiting(format!("running finalizers {}", pending.join(", "))).await;
    }
    let mysql_pods = format!("app.kubernetes.io/instance={name},app.kubernetes.io/name=mysql");
    match finalizer {
        FIN_PODS_IN_ORDER => {
            // Scale MySQL to one pod so the highest ordinals stop first and pod 0 stops last. (Percona
            // also makes pod 0 the group-replication primary first; that needs mysqlsh, not reachable here.)
            let sts: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
            let sts_name = format!("{name}-mysql");
            let found = retrying(Default::default(), || sts.get_opt(&sts_name))
                .await
                .map_err(|e| ReconcileError::kube(format!("reading StatefulSet {ns}/{sts_name}"), e))?;
            if let Some(s) = found {
                // The pods are listed before the scale-down, and what the step waits for is said
                // then: once scaled, the StatefulSet may remove them before a second look.
                let left = finalize::pod_names(&ctx.client, &ns, &mysql_pods).await?;
                if left.len() > 1 {
                    waiting(format!("waiting for pods {} to stop, pod 0 last", left.join(", "))).await;
                }
                if s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 1 {
                    let patch = json!({"spec": {"replicas": 1}});
                    let (pp, patch) = (PatchParams::default(), Patch::Merge(&patch));
                    retrying(Default::default(), || sts.patch(&sts_name, &pp, &patch))
                        .await
                        .map_err(|e| ReconcileError::kube(format!("scaling StatefulSet {ns}/{sts_name} to 1"), e))?;
                }
                if left.len() > 1 {
                    return Ok(Action::requeue(Duration::from_secs(5)));
                }
            }
        }
        FIN_MYSQL_PVC => {
            let pvcs = finalize::delete_pvcs(&ctx.client, &ns, &mysql_pods).await?;
            let users = cr.spec.secrets_name.clone().unwrap_or_else(|| format!("{name}-secrets"));
            let secrets = finalize::delete_secrets(&ctx.client, &ns, &[users, format!("internal-{name}")]).await?;
            ctx.event(
                cr,
                false,
                "DeletedVolumes",
                "Delete",
                format!(
                    "deleted PVCs [{}] and Secrets [{}] as {FIN_MYSQL_PVC} asked",
                    pvcs.join(", "),
                    secrets.join(", ")
                ),
            )
            .await;
        }
        _ => {
            let ssl = cr.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl"));
            finalize::delete_secrets(&ctx.client, &ns, &[ssl, format!("{name}-ca-cert")]).await?;
        }
    }
    finalize::remove(&crs, cr, finalizer).await?;
    Ok(Action::await_change())
}
