//! Counters the engine keeps about its own work, in Prometheus' data model. The headless mode
//! serves them on `/metrics`; the console and tests read them directly.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// The kinds whose reconciles go through `engine::controller::measured`: their series exist from the start, at 0,
/// so `rate()` and alerts on them work before the first reconcile (or on a follower replica).
const MEASURED_KINDS: [&str; 3] =
    [crate::engine::pxc::reconcile::KIND, crate::engine::ps::reconcile::KIND, crate::engine::pg::reconcile::KIND];

/// Reconcile counts, failures, durations, in-flight work and waiting work per kind.
pub struct EngineMetrics {
    reconciles: Family<KindLabel, Counter>,
    errors: Family<KindLabel, Counter>,
    durations: Family<KindLabel, Histogram>,
    in_flight: Family<KindLabel, Gauge>,
    queue_depth: Family<KindLabel, Gauge>,
    writes: Family<KindLabel, Counter>,
    total: AtomicU64,
    running: AtomicI64,
    /// Per kind, the `namespace/name` of objects triggered and not yet started: kube-runtime's controller keeps
    /// its queue private, so the engine tracks the same keys on the way in (triggers) and out (reconcile start).
    pending: Mutex<HashMap<String, HashSet<String>>>,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            reconciles: Family::default(),
            errors: Family::default(),
            durations: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
            in_flight: Family::default(),
            queue_depth: Family::default(),
            writes: Family::default(),
            total: AtomicU64::new(0),
            running: AtomicI64::new(0),
            pending: Mutex::new(HashMap::new()),
        }
    }
}

fn label(kind: &str) -> KindLabel {
    KindLabel { kind: kind.to_string() }
}

impl EngineMetrics {
    /// Adds every metric to `registry` under the `dbdeck_` prefix the caller chose, with the per-kind series of the
    /// cluster kinds present at 0.
    pub fn register(&self, registry: &mut Registry) {
        for kind in MEASURED_KINDS {
            self.declare(kind);
        }
        registry.register("reconciles", "Reconciles finished, per kind", self.reconciles.clone());
        registry.register("reconcile_errors", "Reconciles that failed, per kind", self.errors.clone());
        registry.register("reconcile_duration_seconds", "Time spent in one reconcile", self.durations.clone());
        registry.register("reconciles_in_flight", "Reconciles running now, per kind", self.in_flight.clone());
        registry.register(
            "reconcile_queue_depth",
            "Objects waiting for a reconcile that has not started yet, per kind: distinct objects triggered by a \
             watch event on the kind itself, on an object it owns, or on one of its pods (timed requeues after a \
             reconcile or an error are not counted)",
            self.queue_depth.clone(),
        );
        registry.register("object_writes", "Objects created, updated or deleted by reconciles", self.writes.clone());
    }

    /// Makes `kind`'s series exist at 0 (a counter that appears only with its first error breaks `rate()`).
    pub fn declare(&self, kind: &str) {
        let l = label(kind);
        let _ = self.reconciles.get_or_create(&l);
        let _ = self.errors.get_or_create(&l);
        let _ = self.durations.get_or_create(&l);
        let _ = self.in_flight.get_or_create(&l);
        let _ = self.queue_depth.get_or_create(&l);
    }

    /// Like `declare`, for kinds whose controller's queue is not counted (Backup and Restore): no queue series, so
    /// none reads 0 without being measured.
    pub fn declare_unqueued(&self, kind: &str) {
        let l = label(kind);
        let _ = self.reconciles.get_or_create(&l);
        let _ = self.errors.get_or_create(&l);
        let _ = self.durations.get_or_create(&l);
        let _ = self.in_flight.get_or_create(&l);
    }

    /// A watch event asked for a reconcile of `kind` `namespace/name`: it waits until its reconcile starts.
    pub fn triggered(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let object = format!("{}/{name}", namespace.unwrap_or_default());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.entry(kind.to_string()).or_default().insert(object) {
            self.queue_depth.get_or_create(&label(kind)).inc();
        }
    }

    /// The object no longer waits: its reconcile started, or the controller dropped the request (object gone).
    pub fn dequeued(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let object = format!("{}/{name}", namespace.unwrap_or_default());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.get_mut(kind).is_some_and(|set| set.remove(&object)) {
            self.queue_depth.get_or_create(&label(kind)).dec();
        }
    }

    /// The kind's controller stopped: nothing it was given will run any more.
    pub fn queue_closed(&self, kind: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(kind);
        self.queue_depth.get_or_create(&label(kind)).set(0);
    }

    /// Objects of `kind` waiting for their reconcile to start.
    pub fn queue_depth(&self, kind: &str) -> i64 {
        self.queue_depth.get_or_create(&label(kind)).get()
    }

    /// A reconcile of `kind` `namespace/name` starts: it leaves the queue and counts as in flight.
    pub fn started(&self, kind: &str, namespace: Option<&str>, name: &str) {
        self.dequeued(kind, namespace, name);
        self.in_flight.get_or_create(&label(kind)).inc();
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self, kind: &str, took: Duration, ok: bool) {
        let l = label(kind);
        self.in_flight.get_or_create(&l).dec();
        self.running.fetch_sub(1, Ordering::Relaxed);
        self.reconciles.get_or_create(&l).inc();
        self.durations.get_or_create(&l).observe(took.as_secs_f64());
        if !ok {
            self.errors.get_or_create(&l).inc();
        }
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn wrote(&self, kind: &str, objects: usize) {
        self.writes.get_or_create(&label(kind)).inc_by(objects as u64);
    }

    /// Reconciles finished so far, all kinds together.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Reconciles running now, all kinds together.
    pub fn in_flight(&self) -> i64 {
        self.running.load(Ordering::Relaxed)
    }

    pub fn errors(&self, kind: &str) -> u64 {
        self.errors.get_or_create(&label(kind)).get()
    }

    pub fn reconciles(&self, kind: &str) -> u64 {
        self.reconciles.get_or_create(&label(kind)).get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reach_the_text_format() {
        let m = EngineMetrics::default();
        let mut reg = Registry::with_prefix("dbdeck");
        m.register(&mut reg);
        m.started("PerconaXtraDBCluster", Some("db"), "c1");
        m.finished("PerconaXtraDBCluster", Duration::from_millis(30), false);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(out.contains(r#"dbdeck_reconciles_total{kind="PerconaXtraDBCluster"} 1"#), "{out}");
        assert!(out.contains(r#"dbdeck_reconcile_errors_total{kind="PerconaXtraDBCluster"} 1"#), "{out}");
        assert_eq!(m.total(), 1);
        assert_eq!(m.in_flight(), 0);
    }

    #[test]
    fn series_of_every_cluster_kind_exist_at_zero_once_registered() {
        let m = EngineMetrics::default();
        let mut reg = Registry::with_prefix("dbdeck");
        m.register(&mut reg);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        for kind in ["PerconaXtraDBCluster", "PerconaServerMySQL", "PerconaPGCluster"] {
            for series in
                ["reconcile_errors_total", "reconciles_total", "reconcile_queue_depth", "reconciles_in_flight"]
            {
                assert!(out.contains(&format!("dbdeck_{series}{{kind=\"{kind}\"}} 0\n")), "{series} {kind}: {out}");
            }
        }
    }

    #[test]
    fn queue_depth_counts_distinct_waiting_objects_until_their_reconcile_starts() {
        let m = EngineMetrics::default();
        let k = "PerconaServerMySQL";
        m.triggered(k, Some("db"), "a");
        m.triggered(k, Some("db"), "a"); // a second event for a waiting object is the same queue entry
        m.triggered(k, Some("db"), "b");
        m.triggered(k, Some("other"), "a");
        m.triggered("PerconaPGCluster", Some("db"), "a");
        assert_eq!(m.queue_depth(k), 3);
        assert_eq!(m.queue_depth("PerconaPGCluster"), 1);

        m.started(k, Some("db"), "a");
        assert_eq!((m.queue_depth(k), m.in_flight()), (2, 1));
        // Triggered again while running: it waits for a second reconcile.
        m.triggered(k, Some("db"), "a");
        assert_eq!(m.queue_depth(k), 3);
        m.finished(k, Duration::from_millis(1), true);
        // A reconcile nobody queued (a timed requeue) leaves the others waiting.
        m.started(k, Some("db"), "zzz");
        m.finished(k, Duration::from_millis(1), true);
        assert_eq!(m.queue_depth(k), 3);
        m.dequeued(k, Some("other"), "a");
        m.dequeued(k, Some("other"), "a");
        assert_eq!(m.queue_depth(k), 2);
        m.queue_closed(k);
        assert_eq!(m.queue_depth(k), 0);
        assert_eq!(m.queue_depth("PerconaPGCluster"), 1);
    }
}
