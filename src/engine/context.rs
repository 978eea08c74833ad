//! What every reconcile shares: the client, the applier, the event recorder and the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::Resource;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;

use super::apply::Applier;
use super::metrics::EngineMetrics;

/// The controller name events are reported under (`kubectl get events` shows it as the source).
pub const REPORTER: &str = "dbdeck";

/// How long a reconcile waits before looking again when nothing told it to: a safety net for
/// missed watch events, not a poll.
pub const SAFETY_REQUEUE: Duration = Duration::from_secs(300);

pub struct Context {
    pub client: kube::Client,
    pub applier: Applier,
    pub metrics: Arc<EngineMetrics>,
    /// Reaches pod ports (Patroni's API, databases): pod IP in-cluster, port-forward from a workstation.
    pub reacher: Arc<crate::observe::reach::Reacher>,
    instance: String,
    /// Consecutive failures per object (`kind/ns/name`), for the error backoff.
    failures: Mutex<HashMap<String, u32>>,
}

/// Lets a controller with a richer context of its own share the engine's generic parts.
impl AsRef<Context> for Context {
    fn as_ref(&self) -> &Context {
        self
    }
}

impl Context {
    pub fn new(client: kube::Client, metrics: Arc<EngineMetrics>) -> Context {
        let instance = instance_name();
        Context {
            applier: Applier::new(client.clone()),
            reacher: Arc::new(crate::observe::reach::Reacher::new(
                client.clone(),
                crate::observe::reach::ReachMode::detect(),
            )),
            instance,
            client,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes a core/v1 Event about `obj`, one object per occurrence: the engine emits Events
    /// only on transitions, so each one is news (kube's recorder would fold "scaled 3 -> 5" and
    /// "scaled 5 -> 3" into one series under the first message). An Event that cannot be written
    /// is logged, never fatal: the status carries the same facts.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let reference: ObjectReference = obj.object_ref(&());
        publish_event(&self.client, &self.instance, reference, warning, reason, action, &note.into()).await;
    }

    /// The delay before retrying a failed object: 2 s doubling per consecutive failure, at most 5 min.
    pub fn backoff(&self, key: &str) -> Action {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let delay = Duration::from_secs(2).saturating_mul(1 << (*n - 1).min(8)).min(Duration::from_secs(300));
        Action::requeue(delay)
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// Who reports the engine's Events: the pod name in a cluster, else the host name or process id.
pub fn instance_name() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("{REPORTER}-{}", std::process::id()))
}

/// [`Context::event`] for an object known only by its reference (one that does not parse as its kind).
pub async fn publish_event(
    client: &kube::Client,
    instance: &str,
    reference: ObjectReference,
    warning: bool,
    reason: &str,
    action: &str,
    note: &str,
) {
    let note = truncate(note, 1000);
    let namespace = reference.namespace.clone().unwrap_or_else(|| "default".into());
    let now = Utc::now();
    let stamp = k8s_openapi::jiff::Timestamp::now();
    let name =
        format!("{}.{:x}", reference.name.clone().unwrap_or_default(), now.timestamp_nanos_opt().unwrap_or_default());
    let ev = Event {
        metadata: kube::core::ObjectMeta { name: Some(name), namespace: Some(namespace.clone()), ..Default::default() },
        involved_object: reference.clone(),
        reason: Some(reason.into()),
        message: Some(note),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
        action: Some(action.into()),
        count: Some(1),
        first_timestamp: Some(Time(stamp)),
        last_timestamp: Some(Time(stamp)),
        event_time: Some(MicroTime(stamp)),
        source: Some(EventSource { component: Some(REPORTER.into()), host: None }),
        reporting_component: Some(REPORTER.into()),
        reporting_instance: Some(instance.to_string()),
        ..Default::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Err(e) = api.create(&PostParams::default(), &ev).await {
        tracing::warn!(object = ?reference.name, reason, error = %truncate(&e.to_string(), 300), "event not recorded");
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), with `…` when cut: keeps log lines,
/// messages and Events bounded whatever a server or a user put in them.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Counts controllers whose caches have their first full list, for the engine's readiness.
#[derive(Default)]
pub struct Synced {
    count: std::sync::atomic::AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Synced {
    /// Called once by each controller when its store is ready.
    pub fn done(&self) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Resolves once `n` controllers have called [`Synced::done`].
    pub async fn wait_for(&self, n: usize) {
        while self.count.load(std::sync::atomic::Ordering::SeqCst) < n {
            self.notify.notified().await;
        }
    }
}

/// How long the controllers' watches wait before reconnecting after an error: 100 ms doubling to 5 s,
/// reset once they work again. kube's default grows to 30 s, so an API server restart would leave
/// the engine blind to changes for half a minute.
#[derive(Clone, Debug)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff { next: Duration::from_millis(100) }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(5));
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Duration::from_millis(100);
    }
}
