//! The PerconaXtraDBCluster controller: dereference → validate → build → apply → smart update →
//! status, and the `percona.com/delete-*` finalizers on deletion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::meta::MANAGED_BY;
use super::{BuildInputs, Desired, TlsBundle, build, secrets};
use crate::api::common::{Validate, state};
use crate::api::pxc::{AppStatus, PerconaXtraDBCluster, PerconaXtraDBClusterStatus};
use crate::engine::apply::{OwnerRef, retrying};
use crate::engine::context::{Context, SAFETY_REQUEUE};
use crate::engine::controller::{CountedTriggers, cluster_controller, drive, measured, scoped};
use crate::engine::error::ReconcileError;
use crate::engine::{finalize, status, volumes};
use crate::observe::live::Scope;

pub const KIND: &str = "PerconaXtraDBCluster";

pub const FIN_PODS_IN_ORDER: &str = "percona.com/delete-pxc-pods-in-order";
pub const FIN_PXC_PVC: &str = "percona.com/delete-pxc-pvc";
pub const FIN_PROXYSQL_PVC: &str = "percona.com/delete-proxysql-pvc";
pub const FIN_SSL: &str = "percona.com/delete-ssl";

/// Kinds the cluster owns and the sweep may delete (never PVCs: data goes only through a finalizer).
const OWNED_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("policy/v1", "PodDisruptionBudget"),
];

/// Runs the controller until `token` is cancelled, then lets in-flight reconciles finish.
pub async fn run(
    ctx: Arc<Context>,
    scope: Scope,
    concurrency: u16,
    token: CancellationToken,
    synced: Arc<crate::engine::context::Synced>,
) {
    let client = ctx.client.clone();
    let ours = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = cluster_controller::<PerconaXtraDBCluster>(&client, &scope, concurrency, synced, &ctx.metrics)
        .owns_counted(scoped::<StatefulSet>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Service>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<Secret>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<ConfigMap>(&client, &scope), ours.clone(), &ctx.metrics)
        .owns_counted(scoped::<PodDisruptionBudget>(&client, &scope), ours.clone(), &ctx.metrics)
        // Pods belong to the StatefulSets, not the CR: map them back by their instance label, so a pod
        // turning Ready (or going away) re-reconciles its cluster.
        .watches_counted(scoped::<Pod>(&client, &scope), ours, &ctx.metrics, |pod: Pod| {
            let instance = pod.labels().get("app.kubernetes.io/instance")?.clone();
            Some(ObjectRef::new(&instance).within(&pod.namespace()?))
        });
    drive(controller, token, reconcile, ctx).await;
}

pub async fn reconcile(cr: Arc<PerconaXtraDBCluster>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
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
                    // The error goes into status and an Event so `kubectl get pxc` and the console show it.
                    report_error(&cr, &ctx, &e.to_string(), "ErrorReconcile").await;
                    Err(e)
                }
            }
        }
    })
    .await
}

fn api(ctx: &Context, cr: &PerconaXtraDBCluster) -> Api<PerconaXtraDBCluster> {
    Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default())
}

/// Sets `state: error` with the message, plus a Warning Event — only when that is news.
async fn report_error(cr: &PerconaXtraDBCluster, ctx: &Context, message: &str, reason: &str) {
    let current = cr.status.clone().unwrap_or_default();
    let mut next = current.clone();
    let text = format!("Error: {message}");
    next.state = Some(state::ERROR.into());
    next.messages = Some(vec![text.clone()]);
    next.observed_generation = cr.meta().generation;
    let mut conditions = next.conditions.take().unwrap_or_default();
    status::push_state_condition(&mut conditions, state::ERROR, Some(reason.into()), Some(text));
    next.conditions = Some(conditions);
    match status::write_if_changed(&api(ctx, cr), &cr.name_any(), &next).await {
        Ok(Some(_)) => ctx.event(cr, true, reason, "Reconcile", message).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(cluster = %cr.name_any(), error = %e, "status not written"),
    }
}

async fn reconcile_live(cr: &PerconaXtraDBCluster, ctx: &Context) -> Result<Action, ReconcileError> {
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
    let owner = OwnerRef {
        api_version: "pxc.percona.com/v1".into(),
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
    let mut desired = values(&desired)?;
    let (volume_note, volume_requeue) = match volumes::prepare(ctx, cr, &volume_target(cr), &mut desired).await? {
        volumes::Step::Apply { note, requeue } => (note, requeue),
        volumes::Step::Refuse(message) => {
            report_error(cr, ctx, &format!("{KIND} {ns}/{name}: {message}"), "VolumeShrinkRefused").await;
            return Ok(Action::await_change());
        }
        volumes::Step::Recreating { note } => {
            // The StatefulSet's deletion wakes this controller again; the requeue is a safety net.
            write_volume_note(cr, ctx, &note).await;
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
    };
    let report = ctx.applier.reconcile(&owner, desired, OWNED_KINDS, &selector).await?;
    let writes = report.applied.len() + report.deleted.len();
    ctx.metrics.wrote(KIND, writes);
    if first && !report.applied.is_empty() {
        ctx.event(cr, false, "Created", "Create", format!("created {} objects", report.applied.len())).await;
    }

    let observed = observe(ctx, cr).await?;
    let mut action = Action::requeue(SAFETY_REQUEUE);
    if smart_update_enabled(cr) && !cr.spec.pause.unwrap_or(false) {
        if let Some(pod) = smart_update_step(cr, &observed) {
            ctx.event(
                cr,
                false,
                "SmartUpdate",
                "Update",
                format!("deleting pod {pod} to move it to the new revision (highest ordinal first, primary last)"),
            )
            .await;
            crate::engine::finalize::delete_pod(&ctx.client, &ns, &pod, "smart update").await?;
            action = Action::requeue(Duration::from_secs(30));
        }
    }

    let mut next = cluster_status(cr, &observed);
    if let Some(note) = &volume_note {
        with_note(cr, &mut next, note);
    }
    if let Some(previous) = status::write_if_changed(&api(ctx, cr), &name, &next)
        .await
        .map_err(|e| ReconcileError::kube(format!("writing status of {KIND} {ns}/{name}"), e))?
    {
        status_events(cr, ctx, &previous, &next).await;
        if let Some(note) = volume_note.as_ref().filter(|n| !said(&previous, n)) {
            ctx.event(cr, note.error, note.reason, "Resize", &note.message).await;
        }
    }
    if let Some(wait) = volume_requeue {
        action = Action::requeue(wait);
    }
    Ok(action)
}

/// Where this cluster's data volumes are and what its spec asks of them.
fn volume_target(cr: &PerconaXtraDBCluster) -> volumes::Target<'_> {
    let spec = cr.spec.with_defaults(&cr.name_any());
    volumes::Target {
        namespace: cr.metadata.namespace.as_deref().unwrap_or_default(),
        sts: format!("{}-pxc", cr.name_any()),
        template: "datadir",
        field: "spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage",
        size: spec.pxc.as_ref().and_then(|p| p.size).unwrap_or(3),
        expansion_field: "spec.enableVolumeExpansion",
        expansion_enabled: spec.enable_volume_expansion.unwrap_or(false),
    }
}

fn said(status: &PerconaXtraDBClusterStatus, note: &volumes::Note) -> bool {
    status.messages.iter().flatten().any(|m| m.ends_with(note.message.as_str()))
}

/// Puts a volume note into the status: first among the messages, and `error` when the spec cannot be met.
fn with_note(cr: &PerconaXtraDBCluster, next: &mut PerconaXtraDBClusterStatus, note: &volumes::Note) {
    let text = if note.error { format!("Error: {}", note.message) } else { note.message.clone() };
    let mut messages = vec![text.clone()];
    messages.extend(next.messages.take().unwrap_or_default());
    next.messages = Some(messages);
    if note.error {
        next.state = Some(state::ERROR.into());
        let mut conditions = cr.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        status::push_state_condition(&mut conditions, state::ERROR, Some(note.reason.into()), Some(text));
        next.conditions = Some(conditions);
    }
}

/// The status while the StatefulSet is re-created: as it was, with the note as its message.
async fn write_volume_note(cr: &PerconaXtraDBCluster, ctx: &Context, note: &volumes::Note) {
    let mut next = cr.status.clone().unwrap_or_default();
    next.messages = Some(vec![note.message.clone()]);
    if let Err(e) = status::write_if_changed(&api(ctx, cr), &cr.name_any(), &next).await {
        tracing::warn!(cluster = %cr.name_any(), error = %e, "status not written");
    }
}

/// Reads what the build needs: existing Secrets, and fresh passwords/certificates only for what is missing.
async fn dereference(ctx: &Context, cr: &PerconaXtraDBCluster) -> Result<BuildInputs, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let read = async |n: String| {
        retrying(Default::default(), || secrets.get_opt(&n))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading Secret {ns}/{n}"), e))
    };
    let text = |s: &Secret| -> BTreeMap<String, String> {
        s.data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .chain(s.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.clone())))
            .collect()
    };
    let user_name = cr.spec.secrets_name.clone().unwrap_or_else(|| format!("{name}-secrets"));
    let user_secret = read(user_name).await?.map(|s| text(&s));
    let internal_secret = read(format!("internal-{name}")).await?.map(|s| text(&s));
    let ssl_name = cr.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl"));
    let ssl_internal_name = cr.spec.ssl_internal_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl-internal"));
    let tls_of = |s: Option<Secret>| s.and_then(|s| s.data.as_ref().and_then(TlsBundle::from_secret_data));
    let ssl = tls_of(read(ssl_name).await?);
    let ssl_internal = tls_of(read(ssl_internal_name).await?);

    let mut env_vars_secrets = BTreeMap::new();
    let spec = cr.spec.with_defaults(&name);
    let env_names = [
        spec.pxc.as_ref().and_then(|c| c.env_vars_secret.clone()),
        spec.haproxy.as_ref().and_then(|c| c.env_vars_secret.clone()),
        spec.proxysql.as_ref().and_then(|c| c.env_vars_secret.clone()),
    ];
    for env in env_names.into_iter().flatten() {
        if let Some(s) = read(env.clone()).await? {
            env_vars_secrets.insert(env, text(&s));
        }
    }

    let tls_needed = cr.spec.tls_enabled() && (ssl.is_none() || ssl_internal.is_none());
    let generated_tls = if tls_needed {
        Some(secrets::generate_tls(cr, chrono::Utc::now()).map_err(|e| ReconcileError::Build(e.to_string()))?)
    } else {
        None
    };
    let missing_users = secrets::USERS.iter().any(|u| !user_secret.as_ref().is_some_and(|s| s.contains_key(*u)));
    let generated_passwords = if missing_users {
        secrets::generate_passwords(cr).map_err(|e| ReconcileError::Build(e.to_string()))?
    } else {
        BTreeMap::new()
    };
    Ok(BuildInputs {
        user_secret,
        internal_secret,
        ssl,
        ssl_internal,
        generated_passwords,
        generated_tls,
        env_vars_secrets,
    })
}

fn values(d: &Desired) -> Result<Vec<Value>, ReconcileError> {
    let mut out = Vec::new();
    let bad = |e: serde_json::Error| ReconcileError::Build(format!("cannot serialise a desired object: {e}"));
    for o in &d.stateful_sets {
        out.push(serde_json::to_value(o).map_err(bad)?);
    }
    for o in &d.services {
        out.push(serde_json::to_value(o).map_err(bad)?);
    }
    for o in &d.secrets {
        out.push(serde_json::to_value(o).map_err(bad)?);
    }
    for o in &d.config_maps {
        out.push(serde_json::to_value(o).map_err(bad)?);
    }
    for o in &d.pod_disruption_budgets {
        out.push(serde_json::to_value(o).map_err(bad)?);
    }
    // k8s-openapi leaves apiVersion/kind out of typed objects' JSON only when they are unset; the
    // builders set them, but make sure, since apply needs them.
    Ok(out)
}

/// What the cluster's StatefulSets and pods look like now.
struct Observed {
    pxc: Component,
    proxy: Option<(&'static str, Component)>,
}

#[derive(Default)]
struct Component {
    sts: Option<StatefulSet>,
    pods: Vec<Pod>,
}

async fn observe(ctx: &Context, cr: &PerconaXtraDBCluster) -> Result<Observed, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let component = |c: &'static str| {
        let sts_api = sts_api.clone();
        let pods_api = pods_api.clone();
        let name = name.clone();
        let ns = ns.clone();
        async move {
            let sts_name = format!("{name}-{c}");
            let sts = retrying(Default::default(), || sts_api.get_opt(&sts_name))
                .await
                .map_err(|e| ReconcileError::kube(format!("reading StatefulSet {ns}/{sts_name}"), e))?;
            let selector = format!("app.kubernetes.io/instance={name},app.kubernetes.io/component={c}");
            let lp = ListParams::default().labels(&selector);
            let pods = retrying(Default::default(), || pods_api.list(&lp))
                .await
                .map_err(|e| ReconcileError::kube(format!("listing pods {selector} in {ns}"), e))?
                .items;
            Ok::<_, ReconcileError>(Component { sts, pods })
        }
    };
    let pxc = component("pxc").await?;
    let spec = cr.spec.with_defaults(&name);
    let proxy = if spec.haproxy_enabled() {
        Some(("haproxy", component("haproxy").await?))
    } else if spec.proxysql_enabled() {
        Some(("proxysql", component("proxysql").await?))
    } else {
        None
    };
    Ok(Observed { pxc, proxy })
}

fn smart_update_enabled(cr: &PerconaXtraDBCluster) -> bool {
    cr.spec.update_strategy.as_deref().unwrap_or("SmartUpdate") == "SmartUpdate"
}

fn ordinal(pod: &Pod) -> i64 {
    pod.name_any().rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(-1)
}

/// The next pod a smart update deletes, if one should go now: only when every pod runs and is
/// ready (the last one deleted is back at the new revision) and the proxy is ready; highest
/// ordinal first, the primary last. Without a live reading of the proxy's writer, the primary is
/// taken to be pod 0, which HAProxy's configuration makes the writer while it is healthy.
fn smart_update_step(cr: &PerconaXtraDBCluster, o: &Observed) -> Option<String> {
    let sts = o.pxc.sts.as_ref()?;
    let want = sts.spec.as_ref()?.replicas.unwrap_or(0);
    let update = sts.status.as_ref()?.update_revision.clone()?;
    let pods = &o.pxc.pods;
    if pods.len() as i32 != want || !pods.iter().all(|p| status::pod_ready_at(p, None)) {
        return None;
    }
    if let Some((_, proxy)) = &o.proxy {
        let size = proxy.sts.as_ref().and_then(|s| s.spec.as_ref()).and_then(|s| s.replicas).unwrap_or(0);
        let ready = proxy.pods.iter().filter(|p| status::pod_ready_at(p, None)).count() as i32;
        if ready < size {
            return None;
        }
    }
    let primary = format!("{}-pxc-0", cr.name_any());
    let mut outdated: Vec<&Pod> = pods.iter().filter(|p| status::pod_revision(p) != Some(update.as_str())).collect();
    outdated.sort_by_key(|p| (p.name_any() == primary, std::cmp::Reverse(ordinal(p))));
    outdated.first().map(|p| p.name_any())
}

fn component_status(c: &Component, size: i32, paused: bool, image: Option<String>) -> AppStatus {
    let (_, revision, _) = status::sts_progress(c.sts.as_ref());
    let ready = c.pods.iter().filter(|p| status::pod_ready_at(p, revision.as_deref())).count() as i32;
    let waiting: Vec<String> = c.pods.iter().filter_map(status::unschedulable).collect();
    AppStatus {
        status: Some(status::component_state(size, ready, paused).into()),
        size: Some(size),
        ready: Some(ready),
        message: (!waiting.is_empty()).then(|| waiting.join("; ")),
        version: None,
        image,
        label_selector_path: None,
    }
}

/// The status by Percona's rules (reference §1.3), computed from what was observed.
fn cluster_status(cr: &PerconaXtraDBCluster, o: &Observed) -> PerconaXtraDBClusterStatus {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let paused = spec.pause.unwrap_or(false);
    let pxc_spec = spec.pxc.clone().unwrap_or_default();
    let mut pxc = component_status(&o.pxc, pxc_spec.size.unwrap_or(3), paused, pxc_spec.image.clone());
    pxc.label_selector_path = Some(format!(
        "app.kubernetes.io/component=pxc,app.kubernetes.io/instance={name},app.kubernetes.io/managed-by={MANAGED_BY},\
         app.kubernetes.io/name=percona-xtradb-cluster,app.kubernetes.io/part-of=percona-xtradb-cluster"
    ));
    let (_, _, upgrading) = status::sts_progress(o.pxc.sts.as_ref());
    let mut next = PerconaXtraDBClusterStatus { pxc: Some(pxc.clone()), ..Default::default() };
    let mut proxy_state = None;
    let host = match &o.proxy {
        Some((which, c)) => {
            let (size, image) = if *which == "haproxy" {
                let h = spec.haproxy.clone().unwrap_or_default();
                (h.size.unwrap_or(3), h.image)
            } else {
                let p = spec.proxysql.clone().unwrap_or_default();
                (p.size.unwrap_or(3), p.image)
            };
            let st = component_status(c, size, paused, image);
            proxy_state = st.status.clone();
            if *which == "haproxy" {
                next.haproxy = Some(st);
            } else {
                next.proxysql = Some(st);
            }
            format!("{name}-{which}.{ns}")
        }
        None => format!("{name}-pxc.{ns}"),
    };
    let pxc_state = pxc.status.clone().unwrap_or_default();
    let any_stopping = pxc_state == state::STOPPING || proxy_state.as_deref() == Some(state::STOPPING);
    let state = if any_stopping {
        state::STOPPING.to_string()
    } else if pxc_state == state::PAUSED {
        proxy_state.clone().filter(|p| p != state::PAUSED).unwrap_or_else(|| state::PAUSED.into())
    } else if !upgrading && pxc_state == state::READY {
        match &proxy_state {
            Some(p) if p != state::READY => p.clone(),
            _ => state::READY.into(),
        }
    } else {
        state::INITIALIZING.into()
    };
    let comps = [next.pxc.as_ref(), next.haproxy.as_ref(), next.proxysql.as_ref()];
    next.size = Some(comps.iter().flatten().filter_map(|c| c.size).sum());
    next.ready = Some(comps.iter().flatten().filter_map(|c| c.ready).sum());
    next.messages = {
        let m: Vec<String> = comps.iter().flatten().filter_map(|c| c.message.clone()).collect();
        (!m.is_empty()).then_some(m)
    };
    next.host = Some(host);
    next.observed_generation = cr.meta().generation;
    let mut conditions = cr.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let previous_state = cr.status.as_ref().and_then(|s| s.state.clone());
    if previous_state.as_deref() != Some(state.as_str()) {
        status::push_state_condition(&mut conditions, &state, None, None);
    }
    next.conditions = (!conditions.is_empty()).then_some(conditions);
    next.state = Some(state);
    // Fields this engine does not compute are carried over as they were.
    if let Some(prev) = &cr.status {
        next.backup = prev.backup.clone();
        next.pmm = prev.pmm.clone();
        next.logcollector = prev.logcollector.clone();
        next.pxc_replication = prev.pxc_replication.clone();
    }
    next
}

/// Events for what the status change says happened: a new state, a size change.
async fn status_events(
    cr: &PerconaXtraDBCluster,
    ctx: &Context,
    before: &PerconaXtraDBClusterStatus,
    after: &PerconaXtraDBClusterStatus,
) {
    let old = before.state.clone().unwrap_or_default();
    let new = after.state.clone().unwrap_or_default();
    if old != new {
        let reason = match new.as_str() {
            state::PAUSED => "Paused",
            state::STOPPING if cr.spec.pause == Some(true) => "Pausing",
            state::READY => "Ready",
            _ => "ClusterStateChanged",
        };
        let from = if old.is_empty() { "(new)" } else { old.as_str() };
        ctx.event(cr, false, reason, "Status", format!("{from} -> {new}")).await;
    }
    let size = |s: &PerconaXtraDBClusterStatus, c: &str| -> Option<i32> {
        match c {
            "pxc" => s.pxc.as_ref()?.size,
            "haproxy" => s.haproxy.as_ref()?.size,
            _ => s.proxysql.as_ref()?.size,
        }
    };
    for c in ["pxc", "haproxy", "proxysql"] {
        if let (Some(a), Some(b)) = (size(before, c), size(after, c))
            && a != b
        {
            ctx.event(cr, false, "Scaled", "Scale", format!("{c}: {a} -> {b}")).await;
        }
    }
}

/// Deletion: run the opt-in finalizers one at a time, saying in status what each waits for.
async fn finalize_cluster(cr: &PerconaXtraDBCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let ours = [FIN_PODS_IN_ORDER, FIN_PXC_PVC, FIN_PROXYSQL_PVC, FIN_SSL];
    let crs = api(ctx, cr);
    let Some(finalizer) = ours.iter().find(|f| cr.finalizers().iter().any(|g| g == *f)).copied() else {
        // Only finalizers of someone else hold the CR: say whose, since nothing here will remove them.
        let others: Vec<&str> = cr.finalizers().iter().map(String::as_str).collect();
        if !others.is_empty() {
            let why = format!("waiting for finalizer {} (not dbdeck's) to be removed", others.join(", "));
            let mut next = cr.status.clone().unwrap_or_default();
            next.state = Some(state::STOPPING.into());
            next.messages = Some(vec![format!("deleting: {why}")]);
            if status::write_if_changed(&crs, &name, &next).await.ok().flatten().is_some() {
                ctx.event(cr, false, "Deleting", "Delete", why).await;
            }
        }
        return Ok(Action::await_change());
    };
    let waiting = async |why: String| {
        let mut next = cr.status.clone().unwrap_or_default();
        next.state = Some(state::STOPPING.into());
        next.messages = Some(vec![format!("deleting: {why} (finalizer {finalizer})")]);
        if status::write_if_changed(&crs, &name, &next).await.ok().flatten().is_some() {
            ctx.event(cr, false, "Deleting", "Delete", why).await;
        }
    };
    if cr.status.as_ref().and_then(|s| s.state.as_deref()) != Some(state::STOPPING) {
        let pending: Vec<&str> = ours.iter().filter(|f| cr.finalizers().iter().any(|g| g == *f)).copied().collect();
        waiting(format!("running finalizers {}", pending.join(", "))).await;
    }
    match finalizer {
        FIN_PODS_IN_ORDER => {
            // Scale the database to one pod first so pod 0, the safest to bootstrap from, goes last.
            let sts: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
            let sts_name = format!("{name}-pxc");
            if let Some(s) = sts
                .get_opt(&sts_name)
                .await
                .map_err(|e| ReconcileError::kube(format!("reading StatefulSet {ns}/{sts_name}"), e))?
            {
                // Listed and said before the scale-down: the StatefulSet may remove the pods before
                // a second look.
                let selector = format!("app.kubernetes.io/instance={name},app.kubernetes.io/component=pxc");
                let left = finalize::pod_names(&ctx.client, &ns, &selector).await?;
                if left.len() > 1 {
                    waiting(format!("waiting for pods {} to stop, pod 0 last", left.join(", "))).await;
                }
                if s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 1 {
                    let patch = json!({"spec": {"replicas": 1}});
                    sts.patch(&sts_name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map_err(|e| ReconcileError::kube(format!("scaling StatefulSet {ns}/{sts_name} to 1"), e))?;
                }
                if left.len() > 1 {
                    return Ok(Action::requeue(Duration::from_secs(10)));
                }
            }
        }
        FIN_PXC_PVC => {
            let pvcs = finalize::delete_pvcs(
                &ctx.client,
                &ns,
                &format!("app.kubernetes.io/instance={name},app.kubernetes.io/component=pxc"),
            )
            .await?;
            let user = cr.spec.secrets_name.clone().unwrap_or_else(|| format!("{name}-secrets"));
            let secrets = finalize::delete_secrets(&ctx.client, &ns, &[user, format!("internal-{name}")]).await?;
            ctx.event(
                cr,
                false,
                "DeletedVolumes",
                "Delete",
                format!(
                    "deleted PVCs [{}] and Secrets [{}] as {FIN_PXC_PVC} asked",
                    pvcs.join(", "),
                    secrets.join(", ")
                ),
            )
            .await;
        }
        FIN_PROXYSQL_PVC => {
            let pvcs = finalize::delete_pvcs(
                &ctx.client,
                &ns,
                &format!("app.kubernetes.io/instance={name},app.kubernetes.io/component=proxysql"),
            )
            .await?;
            ctx.event(cr, false, "DeletedVolumes", "Delete", format!("deleted PVCs [{}]", pvcs.join(", "))).await;
        }
        _ => {
            let ssl = cr.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl"));
            let internal = cr.spec.ssl_internal_secret_name.clone().unwrap_or_else(|| format!("{name}-ssl-internal"));
            finalize::delete_secrets(&ctx.client, &ns, &[ssl, internal]).await?;
        }
    }
    finalize::remove(&api(ctx, cr), cr, finalizer).await?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetSpec, StatefulSetStatus};
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    fn pod(name: &str, rev: &str, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.labels = Some(BTreeMap::from([("controller-revision-hash".to_string(), rev.to_string())]));
        p.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "ContainersReady".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    fn observed(pods: Vec<Pod>) -> Observed {
        let sts = StatefulSet {
            spec: Some(StatefulSetSpec { replicas: Some(pods.len() as i32), ..Default::default() }),
            status: Some(StatefulSetStatus { update_revision: Some("new".into()), ..Default::default() }),
            ..Default::default()
        };
        Observed { pxc: Component { sts: Some(sts), pods }, proxy: None }
    }

    fn cr() -> PerconaXtraDBCluster {
        let mut cr: PerconaXtraDBCluster = serde_yaml::from_str(
            "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: c1, namespace: ns}\nspec: {}",
        )
        .unwrap();
        cr.metadata.uid = Some("u".into());
        cr
    }

    #[test]
    fn smart_update_goes_down_the_ordinals_with_the_primary_last() {
        let cr = cr();
        let o =
            observed(vec![pod("c1-pxc-0", "old", true), pod("c1-pxc-1", "old", true), pod("c1-pxc-2", "old", true)]);
        assert_eq!(smart_update_step(&cr, &o).as_deref(), Some("c1-pxc-2"));
        let o =
            observed(vec![pod("c1-pxc-0", "old", true), pod("c1-pxc-1", "old", true), pod("c1-pxc-2", "new", true)]);
        assert_eq!(smart_update_step(&cr, &o).as_deref(), Some("c1-pxc-1"));
        let o =
            observed(vec![pod("c1-pxc-0", "old", true), pod("c1-pxc-1", "new", true), pod("c1-pxc-2", "new", true)]);
        assert_eq!(smart_update_step(&cr, &o).as_deref(), Some("c1-pxc-0"));
        let o =
            observed(vec![pod("c1-pxc-0", "new", true), pod("c1-pxc-1", "new", true), pod("c1-pxc-2", "new", true)]);
        assert_eq!(smart_update_step(&cr, &o), None);
    }

    #[test]
    fn smart_update_waits_for_the_last_pod_to_be_ready() {
        let cr = cr();
        let o =
            observed(vec![pod("c1-pxc-0", "old", true), pod("c1-pxc-1", "old", true), pod("c1-pxc-2", "new", false)]);
        assert_eq!(smart_update_step(&cr, &o), None);
    }

    #[test]
    fn status_counts_only_ready_pods_at_the_update_revision() {
        let cr = cr();
        let o =
            observed(vec![pod("c1-pxc-0", "old", true), pod("c1-pxc-1", "new", true), pod("c1-pxc-2", "new", true)]);
        let st = cluster_status(&cr, &o);
        assert_eq!(st.pxc.as_ref().unwrap().ready, Some(2));
        assert_eq!(st.state.as_deref(), Some("initializing"));
        assert_eq!(st.host.as_deref(), Some("c1-pxc.ns"));
    }
}
