//! `dbdeck bench`: figures for the performance targets (run with `cargo run --release -- bench ...`).
//! Benchmarks report numbers; they assert nothing, so they never make a test flaky.

pub mod console;
pub mod engine;
pub mod sandbox;
pub mod workload;

use std::time::Duration;

/// The process's resident set size in MiB (Linux; NaN elsewhere).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort();
        let ms = |d: Option<&Duration>| d.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN);
        // Nearest-rank percentiles: the smallest sample with at least p% of the samples at or below it.
        let rank = |p: f64| ((p * samples.len() as f64).ceil() as usize).saturating_sub(1);
        Latency {
            samples: samples.len(),
            p50_ms: ms(samples.get(rank(0.50))),
            p99_ms: ms(samples.get(rank(0.99))),
            max_ms: ms(samples.last()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_are_nearest_rank() {
        let l = Latency::of((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!((l.samples, l.p50_ms, l.p99_ms, l.max_ms), (100, 50.0, 99.0, 100.0));
        let one = Latency::of(vec![Duration::from_millis(7)]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (7.0, 7.0, 7.0));
        assert!(Latency::of(vec![]).p50_ms.is_nan());
    }
}
