//! What every cluster controller (PXC, PS, PG) shares around its own reconcile: the watched APIs for a scope,
//! a `Controller` for a cluster kind configured the engine's way, the run loop until shutdown, the error
//! policy (per-object backoff) and the metrics around each reconcile.
//!
//! Queue depth: kube-runtime's controller does not expose its queue, so the trigger streams it is built from are
//! the engine's own (`for_stream`, `owns_stream`, a wrapped `watches` mapper) and mark each object they name as
//! waiting in [`EngineMetrics`]; [`measured`] takes it out when its reconcile starts, [`drive`] when the
//! controller drops the request because the object is gone, and when the controller stops.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller, Error as ControllerError};
#[allow(deprecated)] // kube-runtime's own `owns` still builds on it; see `owns_counted`
use kube::runtime::metadata_watcher;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::context::{Context, Synced, WatchBackoff};
use super::error::ReconcileError;
use super::lenient;
use super::metrics::EngineMetrics;
use crate::observe::live::Scope;
use crate::observe::live::backoff_except_desync;

/// Quiet time before a burst of child changes becomes one reconcile.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// `Api<K>` over the engine's scope: one namespace or all.
pub fn scoped<K>(client: &kube::Client, scope: &Scope) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Scope::All => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// A controller for the cluster kind `K` with the engine's concurrency, debounce and watch backoff; it also
/// reports to `synced` once the kind's first full list arrived. Every watch event on a `K` marks it as waiting in
/// `metrics`. Callers add children and pods with [`CountedTriggers`].
///
/// The kind is listed and watched untyped and parsed object by object ([`lenient`]): an object that does not
/// parse is reported on and skipped instead of failing the whole list. Each watch backs off on its own and not
/// at all after 410 Gone; the controller's shared trigger backoff is off, so expired watches do not add up.
pub fn cluster_controller<K>(
    client: &kube::Client,
    scope: &Scope,
    concurrency: u16,
    synced: Arc<Synced>,
    metrics: &Arc<EngineMetrics>,
) -> Controller<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    metrics.declare(&K::kind(&()));
    // What `Controller::new` builds (a reflector feeding the store, its applied objects as triggers), with a tap.
    let (reader, writer) = reflector::store();
    let ar = kube::core::ApiResource::erase::<K>(&());
    let untyped: Api<kube::api::DynamicObject> = match scope {
        Scope::All => Api::all_with(client.clone(), &ar),
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, &ar),
    };
    let events = backoff_except_desync(watcher(untyped, watcher::Config::default()), WatchBackoff::default());
    let unreadable = lenient::Unreadable::new(client.clone(), ar);
    let typed = lenient::typed_events(events, reader.clone(), unreadable, synced);
    let queue = metrics.clone();
    let triggers = reflector::reflector(writer, typed)
        .applied_objects()
        .inspect_ok(move |obj: &K| queue.triggered(&K::kind(&()), obj.namespace().as_deref(), &obj.name_any()));
    Controller::for_stream(triggers, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency).debounce(DEBOUNCE))
        .trigger_backoff(NoWait)
}

/// The controller's backoff over all its trigger streams together: none, as each stream has its own.
struct NoWait;

impl Iterator for NoWait {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for NoWait {
    fn reset(&mut self) {}
}

/// The counted forms of `owns` and `watches`: each event also marks the cluster it names as waiting.
pub trait CountedTriggers<K: Resource<DynamicType = ()>> {
    /// `owns`, on the same metadata-only watch kube-runtime uses; the owner is found the same way (an owner
    /// reference with `K`'s apiVersion and kind).
    fn owns_counted<Child>(self, api: Api<Child>, wc: watcher::Config, metrics: &Arc<EngineMetrics>) -> Self
    where
        Child: Clone + Resource<DynamicType = ()> + DeserializeOwned + std::fmt::Debug + Send + 'static;

    /// `watches` with `mapper`'s answers marked as waiting.
    fn watches_counted<Other, I>(
        self,
        api: Api<Other>,
        wc: watcher::Config,
        metrics: &Arc<EngineMetrics>,
        mapper: impl Fn(Other) -> I + Sync + Send + 'static,
    ) -> Self
    where
        Other: Clone + Resource<DynamicType = ()> + DeserializeOwned + std::fmt::Debug + Send + 'static,
        I: IntoIterator<Item = ObjectRef<K>> + 'static;
}

impl<K> CountedTriggers<K> for Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    fn owns_counted<Child>(self, api: Api<Child>, wc: watcher::Config, metrics: &Arc<EngineMetrics>) -> Self
    where
        Child: Clone + Resource<DynamicType = ()> + DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let queue = metrics.clone();
        // The same metadata-only watch `Controller::owns` makes in kube 5 (its replacement needs an
        // `Api<PartialObjectMeta<Child>>`, which an `Api<Child>` cannot be turned into).
        #[allow(deprecated)]
        let children = backoff_except_desync(metadata_watcher(api, wc), WatchBackoff::default())
            .touched_objects()
            .inspect_ok(move |child| {
                let (api_version, kind) = (K::api_version(&()), K::kind(&()));
                for owner in child.owner_references() {
                    if owner.api_version == api_version && owner.kind == kind {
                        queue.triggered(&kind, child.namespace().as_deref(), &owner.name);
                    }
                }
            });
        self.owns_stream(children)
    }

    fn watches_counted<Other, I>(
        self,
        api: Api<Other>,
        wc: watcher::Config,
        metrics: &Arc<EngineMetrics>,
        mapper: impl Fn(Other) -> I + Sync + Send + 'static,
    ) -> Self
    where
        Other: Clone + Resource<DynamicType = ()> + DeserializeOwned + std::fmt::Debug + Send + 'static,
        I: IntoIterator<Item = ObjectRef<K>> + 'static,
    {
        let queue = metrics.clone();
        let others = backoff_except_desync(watcher(api, wc), WatchBackoff::default()).touched_objects();
        self.watches_stream(others, move |other| {
            let targets: Vec<ObjectRef<K>> = mapper(other).into_iter().collect();
            for t in &targets {
                queue.triggered(&K::kind(&()), t.namespace.as_deref(), &t.name);
            }
            targets
        })
    }
}

/// Runs `controller` until `token` is cancelled; in-flight reconciles finish (within the engine's grace).
pub async fn drive<K, C, R, RFut>(controller: Controller<K>, token: CancellationToken, reconcile: R, ctx: Arc<C>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    C: AsRef<Context> + Send + Sync + 'static,
    R: FnMut(Arc<K>, Arc<C>) -> RFut,
    RFut: Future<Output = Result<Action, ReconcileError>> + Send + 'static,
{
    let kind = K::kind(&()).to_string();
    let metrics = ctx.as_ref().as_ref().metrics.clone();
    controller
        .graceful_shutdown_on(token.cancelled_owned())
        .run(reconcile, error_policy::<K, C>, ctx)
        .for_each(|res| {
            let kind = kind.clone();
            let metrics = metrics.clone();
            async move {
                if let Err(e) = res {
                    // A trigger for an object no longer in the store never reaches `measured`.
                    if let ControllerError::ObjectNotFound(gone) = &e {
                        metrics.dequeued(&kind, gone.namespace.as_deref(), &gone.name);
                    }
                    tracing::debug!(kind = %kind, error = %e, "controller event");
                }
            }
        })
        .await;
    metrics.queue_closed(&kind);
}

/// `Kind/namespace/name`: the key of the object's error backoff.
pub fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("{}/{}/{}", K::kind(&()), obj.namespace().unwrap_or_default(), obj.name_any())
}

fn error_policy<K, C>(obj: Arc<K>, err: &ReconcileError, ctx: Arc<C>) -> Action
where
    K: Resource<DynamicType = ()>,
    C: AsRef<Context>,
{
    tracing::warn!(kind = %K::kind(&()), cluster = %obj.name_any(), error = %err, "reconcile failed");
    ctx.as_ref().as_ref().backoff(&key(obj.as_ref()))
}

/// Runs one reconcile of `obj` with its metrics, and resets the object's error backoff when it succeeded.
pub async fn measured<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    reconcile: impl Future<Output = Result<Action, ReconcileError>>,
) -> Result<Action, ReconcileError> {
    let kind = K::kind(&());
    let started = Instant::now();
    ctx.metrics.started(&kind, obj.namespace().as_deref(), &obj.name_any());
    let result = reconcile.await;
    ctx.metrics.finished(&kind, started.elapsed(), result.is_ok());
    if result.is_ok() {
        ctx.succeeded(&key(obj));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pxc::PerconaXtraDBCluster;
    use crate::sandbox::Sandbox;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use kube::api::{Patch, PatchParams, PostParams};
    use tokio::sync::Semaphore;

    const NS: &str = "default";
    const KIND: &str = "PerconaXtraDBCluster";
    /// The label value the PXC controller's watches select on.
    const MANAGED_BY: &str = "percona-xtradb-cluster-operator";

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn cluster(name: &str) -> PerconaXtraDBCluster {
        let mut c: PerconaXtraDBCluster =
            serde_yaml::from_str(include_str!("../../deploy/examples/pxc-minimal.yaml")).unwrap();
        c.metadata.name = Some(name.into());
        c
    }

    fn managed(name: &str, extra_labels: serde_json::Value, owner: Option<&str>) -> serde_json::Value {
        let mut labels = serde_json::json!({"app.kubernetes.io/managed-by": MANAGED_BY});
        labels.as_object_mut().unwrap().extend(extra_labels.as_object().unwrap().clone());
        let owners: Vec<_> = owner
            .map(|o| serde_json::json!({"apiVersion": "pxc.percona.com/v1", "kind": KIND, "name": o, "uid": "u-1"}))
            .into_iter()
            .collect();
        serde_json::json!({"name": name, "namespace": NS, "labels": labels, "ownerReferences": owners})
    }

    /// With one reconcile slot held by a blocked reconcile, every kind of trigger (the cluster itself, an owned
    /// object, a pod by its instance label, the running cluster changed again) adds one waiting object; releasing
    /// the reconciles (or the controller finding the object gone) brings the gauge back to 0.
    #[test]
    fn queue_depth_counts_triggered_objects_until_their_reconcile_starts() {
        // The sandbox's request handling needs more stack than a test thread has: run on big-stack workers.
        let rt = tokio::runtime::Builder::new_multi_thread().thread_stack_size(16 << 20).enable_all().build().unwrap();
        rt.block_on(async { tokio::spawn(queue_depth_scenario()).await.unwrap() });
    }

    async fn queue_depth_scenario() {
        let sb = Sandbox::new(Default::default()).unwrap();
        let client = kube::Client::new(sb.router(), NS);
        crate::cmd::crd::apply_all(client.clone()).await.unwrap();
        let metrics = Arc::new(EngineMetrics::default());
        let ctx = Arc::new(Context::new(client.clone(), metrics.clone()));
        let scope = Scope::Namespace(NS.into());
        let ours = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={}", MANAGED_BY));
        let controller =
            cluster_controller::<PerconaXtraDBCluster>(&client, &scope, 1, Arc::new(Synced::default()), &metrics)
                .owns_counted(scoped::<ConfigMap>(&client, &scope), ours.clone(), &metrics)
                .watches_counted(scoped::<Pod>(&client, &scope), ours, &metrics, |pod: Pod| {
                    let instance = pod.labels().get("app.kubernetes.io/instance")?.clone();
                    Some(ObjectRef::new(&instance).within(&pod.namespace()?))
                });
        let gate = Arc::new(Semaphore::new(0));
        let token = CancellationToken::new();
        let reconcile = {
            let gate = gate.clone();
            move |cr: Arc<PerconaXtraDBCluster>, ctx: Arc<Context>| {
                let gate = gate.clone();
                async move {
                    measured(&ctx, cr.as_ref(), async {
                        gate.acquire().await.expect("gate open").forget();
                        Ok(Action::await_change())
                    })
                    .await
                }
            }
        };
        let run = tokio::spawn(drive(controller, token.clone(), reconcile, ctx));

        let clusters: Api<PerconaXtraDBCluster> = Api::namespaced(client.clone(), NS);
        let pp = PostParams::default();
        clusters.create(&pp, &cluster("a")).await.unwrap();
        until("a's reconcile to start and block", || metrics.in_flight() == 1).await;
        assert_eq!(metrics.queue_depth(KIND), 0);

        clusters.create(&pp, &cluster("b")).await.unwrap();
        until("b to wait", || metrics.queue_depth(KIND) == 1).await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": managed("c-config", serde_json::json!({}), Some("c"))});
        cms.create(&pp, &serde_json::from_value(cm).unwrap()).await.unwrap();
        until("c (owner of a ConfigMap) to wait", || metrics.queue_depth(KIND) == 2).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": managed("d-pxc-0", serde_json::json!({"app.kubernetes.io/instance": "d"}), None),
            "spec": {"containers": [{"name": "pxc", "image": "percona/percona-xtradb-cluster:8.4.7-7.1"}]}});
        pods.create(&pp, &serde_json::from_value(pod).unwrap()).await.unwrap();
        until("d (by its pod) to wait", || metrics.queue_depth(KIND) == 3).await;
        let touch = serde_json::json!({"metadata": {"annotations": {"touched": "1"}}});
        clusters.patch("a", &PatchParams::default(), &Patch::Merge(&touch)).await.unwrap();
        until("a, changed while running, to wait", || metrics.queue_depth(KIND) == 4).await;
        // Another event for an object already waiting is the same entry, whichever watch it comes from.
        clusters.patch("b", &PatchParams::default(), &Patch::Merge(&touch)).await.unwrap();
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": managed("b-config", serde_json::json!({}), Some("b"))});
        cms.create(&pp, &serde_json::from_value(cm).unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(metrics.queue_depth(KIND), 4);
        assert_eq!(metrics.in_flight(), 1);

        // Let everything run: a again and b reconcile; c and d have no cluster and are dropped.
        gate.add_permits(1000);
        until("the queue to drain", || {
            metrics.queue_depth(KIND) == 0 && metrics.in_flight() == 0 && metrics.reconciles(KIND) >= 3
        })
        .await;
        assert_eq!(metrics.reconciles(KIND), 3, "a twice and b once");

        let mut registry = prometheus_client::registry::Registry::with_prefix("dbdeck");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("dbdeck_reconcile_queue_depth{kind=\"PerconaXtraDBCluster\"} 0\n"), "{text}");

        token.cancel();
        tokio::time::timeout(Duration::from_secs(10), run).await.expect("controller stops").unwrap();
    }
}
