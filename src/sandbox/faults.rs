//! Fault injection and write counters, for tests and demos.
//!
//! Admin endpoint (not subject to faults itself):
//! - `GET /_sandbox/faults` → the current [`FaultConfig`] as JSON;
//! - `PUT /_sandbox/faults` with any subset of `{"errorRate": 0.2, "errorCode": 429|503,
//!   "retryAfterSeconds": 1, "latencyMs": 50, "noopWritesBumpRv": false}` → merges it into the config
//!   and returns the result (`POST` and `PATCH` do the same);
//! - `DELETE /_sandbox/faults` → back to no faults;
//! - `POST /_sandbox/faults/expire-watches` → every open watch gets an in-stream `ERROR` 410 `Expired`
//!   (kube's watcher then relists);
//! - `POST /_sandbox/faults/drop-watches` → every open watch connection is closed;
//! - `PUT /_sandbox/history` with `{"size": 100}` → resizes the watch-history window (watches and
//!   continue tokens older than it get 410 Expired);
//! - faults of the simulated cluster (nodes, pods, claims, Jobs): see [`super::controllers::faults`];
//! - `GET /_sandbox/stats` → `{"writes": {"create": n, "update": n, "patch": n, "delete": n,
//!   "deletecollection": n}, "writeTotal": n, "mutations": n, "resourceVersion": n}`.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::status::ApiError;

/// What the sandbox does wrong on purpose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Fraction (0.0–1.0) of API requests answered with `error_code` instead.
    pub error_rate: f64,
    /// 429 (TooManyRequests) or 503 (ServiceUnavailable); anything else means 503.
    pub error_code: u16,
    /// `Retry-After` on injected errors, in seconds.
    pub retry_after_seconds: u32,
    /// Added before every API request is served.
    pub latency_ms: u64,
    /// Writes that change nothing still bump the resourceVersion and send MODIFIED, as the upstream
    /// regressions that caused self-triggered reconcile loops did.
    pub noop_writes_bump_rv: bool,
}

#[derive(Default)]
pub struct Faults {
    config: RwLock<FaultConfig>,
}

impl Faults {
    pub fn get(&self) -> FaultConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, cfg: FaultConfig) -> Result<(), ApiError> {
        if !(0.0..=1.0).contains(&cfg.error_rate) {
            return Err(ApiError::bad_request(format!(
                "faults: errorRate must be between 0 and 1, got {}",
                cfg.error_rate
            )));
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = cfg;
        Ok(())
    }

    /// Merges a partial JSON config (the admin endpoint's PUT body).
    pub fn merge_json(&self, patch: &Value) -> Result<FaultConfig, ApiError> {
        let mut cur = serde_json::to_value(self.get()).map_err(|e| ApiError::internal(e.to_string()))?;
        super::patch::merge_patch(&mut cur, patch);
        let cfg: FaultConfig =
            serde_json::from_value(cur).map_err(|e| ApiError::bad_request(format!("faults: invalid config: {e}")))?;
        self.set(cfg.clone())?;
        Ok(cfg)
    }

    /// Latency to add and an error to answer with, for one request.
    pub fn draw(&self) -> (Duration, Option<ApiError>) {
        let cfg = self.get();
        let latency = Duration::from_millis(cfg.latency_ms);
        if cfg.error_rate <= 0.0 || rand::rng().random::<f64>() >= cfg.error_rate {
            return (latency, None);
        }
        let retry = cfg.retry_after_seconds.max(1);
        let err = if cfg.error_code == 429 {
            ApiError::too_many_requests(retry)
        } else {
            ApiError::service_unavailable(retry)
        };
        (latency, Some(err))
    }
}

/// Write requests that reached the store, by verb.
#[derive(Default)]
pub struct WriteCounters {
    create: AtomicU64,
    update: AtomicU64,
    patch: AtomicU64,
    delete: AtomicU64,
    deletecollection: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteVerb {
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl WriteCounters {
    pub fn count(&self, verb: WriteVerb) {
        let c = match verb {
            WriteVerb::Create => &self.create,
            WriteVerb::Update => &self.update,
            WriteVerb::Patch => &self.patch,
            WriteVerb::Delete => &self.delete,
            WriteVerb::DeleteCollection => &self.deletecollection,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        [&self.create, &self.update, &self.patch, &self.delete, &self.deletecollection]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "create": self.create.load(Ordering::Relaxed),
            "update": self.update.load(Ordering::Relaxed),
            "patch": self.patch.load(Ordering::Relaxed),
            "delete": self.delete.load(Ordering::Relaxed),
            "deletecollection": self.deletecollection.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_error_rate_always_fails_with_retry_after() {
        let f = Faults::default();
        f.merge_json(&json!({"errorRate": 1.0, "errorCode": 429, "retryAfterSeconds": 2})).unwrap();
        let (_, err) = f.draw();
        let err = err.unwrap();
        assert_eq!((err.code, err.reason, err.retry_after), (429, "TooManyRequests", Some(2)));
        assert!(f.merge_json(&json!({"errorRate": 2.0})).is_err());
        f.set(FaultConfig::default()).unwrap();
        assert!(f.draw().1.is_none());
    }
}
