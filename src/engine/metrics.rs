//! Counters the engine keeps about its own work, in Prometheus' data model. The headless mode
//! serves them on `/metrics`; the console and tests read them directly.

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

/// Reconcile counts, failures, durations and in-flight work per kind.
pub struct EngineMetrics {
    reconciles: Family<KindLabel, Counter>,
    errors: Family<KindLabel, Counter>,
    durations: Family<KindLabel, Histogram>,
    in_flight: Family<KindLabel, Gauge>,
    writes: Family<KindLabel, Counter>,
    total: AtomicU64,
    running: AtomicI64,
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
            writes: Family::default(),
            total: AtomicU64::new(0),
            running: AtomicI64::new(0),
        }
    }
}

fn label(kind: &str) -> KindLabel {
    KindLabel { kind: kind.to_string() }
}

impl EngineMetrics {
    /// Adds every metric to `registry` under the `dbdeck_` prefix the caller chose.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("reconciles", "Reconciles finished, per kind", self.reconciles.clone());
        registry.register("reconcile_errors", "Reconciles that failed, per kind", self.errors.clone());
        registry.register("reconcile_duration_seconds", "Time spent in one reconcile", self.durations.clone());
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now (the work queue's depth)",
            self.in_flight.clone(),
        );
        registry.register("object_writes", "Objects created, updated or deleted by reconciles", self.writes.clone());
    }

    pub fn started(&self, kind: &str) {
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
        m.started("PerconaXtraDBCluster");
        m.finished("PerconaXtraDBCluster", Duration::from_millis(30), false);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(out.contains(r#"dbdeck_reconciles_total{kind="PerconaXtraDBCluster"} 1"#), "{out}");
        assert!(out.contains(r#"dbdeck_reconcile_errors_total{kind="PerconaXtraDBCluster"} 1"#), "{out}");
        assert_eq!(m.total(), 1);
        assert_eq!(m.in_flight(), 0);
    }
}
