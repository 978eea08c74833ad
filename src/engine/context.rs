//! What every reconcile shares: the client, the applier, the event recorder and the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

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
    recorder: Recorder,
    /// Consecutive failures per object (`kind/ns/name`), for the error backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: kube::Client, metrics: Arc<EngineMetrics>) -> Context {
        let reporter = Reporter { controller: REPORTER.into(), instance: std::env::var("POD_NAME").ok() };
        Context {
            applier: Applier::new(client.clone()),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes an Event about `obj`. An Event that cannot be written is logged, never fatal:
    /// the status carries the same facts.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let note = note.into();
        let ev = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(truncate(&note, 1000)),
            action: action.into(),
            secondary: None,
        };
        let reference: ObjectReference = obj.object_ref(&());
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            tracing::warn!(object = ?reference.name, reason, error = %e, "event not recorded");
        }
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

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
