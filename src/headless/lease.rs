//! Leader election on a `coordination.k8s.io/v1` Lease, so two `dbdeck --headless` replicas never reconcile at once.
//!
//! Every write is a replace guarded by the `resourceVersion` that was read (or a create, which fails with 409 if
//! another candidate created the Lease first), so of two candidates racing for the same record only one write
//! lands. Expiry is judged as client-go does it: a follower takes over once it has seen the record unchanged for a
//! whole lease duration *on its own clock*, which makes the election independent of clock skew between nodes. A
//! leader steps down on its own when it could not renew for two thirds of the duration, before any follower can
//! consider the lease expired.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

/// The Lease's name unless `--lease-name` says otherwise; the console looks for the same one.
pub const DEFAULT_LEASE_NAME: &str = "dbdeck-engine-leader";
/// `--lease-duration` unless given.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// Why a lease operation failed (other than losing a race, which is an ordinary outcome).
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot read Lease {namespace}/{name}: {source}")]
    Read { namespace: String, name: String, source: kube::Error },
    #[error("cannot write Lease {namespace}/{name}: {source}")]
    Write { namespace: String, name: String, source: kube::Error },
    #[error("Lease {namespace}/{name}: spec.leaseDurationSeconds must be between 1 and {max} seconds, got {got:?}")]
    Duration { namespace: String, name: String, got: Duration, max: i32 },
}

/// Who campaigns, for which Lease, and how long a term lasts.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
}

impl LeaseConfig {
    /// How often the leader renews.
    pub fn renew_period(&self) -> Duration {
        self.duration / 3
    }

    /// How often a follower looks at the record; short enough that a takeover comes soon after the expiry.
    pub fn retry_period(&self) -> Duration {
        self.duration / 6
    }

    /// How long a leader keeps leading without a successful renewal. Shorter than the duration, so the old
    /// leader has stopped before a follower can see the lease as expired.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    fn duration_seconds(&self) -> Result<i32, LeaseError> {
        const MAX: i32 = 3600;
        let secs = self.duration.as_secs_f64().ceil();
        if !(1.0..=MAX as f64).contains(&secs) {
            return Err(LeaseError::Duration {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                got: self.duration,
                max: MAX,
            });
        }
        Ok(secs as i32)
    }
}

/// This process's name in `holderIdentity`: `$POD_NAME` in a Deployment (set from the downward API), otherwise
/// `hostname-pid` so two processes on one machine stay distinct.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().or_else(|| std::env::var("HOSTNAME").ok());
    identity_from(std::env::var("POD_NAME").ok(), host, std::process::id())
}

fn identity_from(pod_name: Option<String>, hostname: Option<String>, pid: u32) -> String {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(pod) = clean(pod_name) {
        return pod;
    }
    format!("{}-{pid}", clean(hostname).unwrap_or_else(|| "dbdeck".to_string()))
}

/// What a follower last saw of the record, and when it first saw it in that state.
#[derive(Debug)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    resource_version: Option<String>,
    since: Instant,
}

/// One candidate for one Lease. `try_acquire_or_renew` is a single round; `campaign` loops.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
}

impl Elector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Elector {
        Elector { api: Api::namespaced(client, &config.namespace), config, observed: None }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn read_err(&self, source: kube::Error) -> LeaseError {
        LeaseError::Read { namespace: self.config.namespace.clone(), name: self.config.name.clone(), source }
    }

    fn write_err(&self, source: kube::Error) -> LeaseError {
        LeaseError::Write { namespace: self.config.namespace.clone(), name: self.config.name.clone(), source }
    }

    /// One round: create the Lease, renew it, or take it over when it expired. `Ok(true)` means this candidate
    /// holds the lease now; `Ok(false)` that someone else does (or won the race for it).
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaseError> {
        let seconds = self.config.duration_seconds()?;
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let current = self.api.get_opt(&self.config.name).await.map_err(|e| self.read_err(e))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(self.write_err(e)),
            };
        };

        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.config.identity.as_str());
        if !mine {
            let observed_now = Observed {
                holder: holder.clone(),
                renew_time: spec.renew_time.clone(),
                resource_version: lease.metadata.resource_version.clone(),
                since: Instant::now(),
            };
            let changed = match &self.observed {
                Some(o) => {
                    o.holder != observed_now.holder
                        || o.renew_time != observed_now.renew_time
                        || o.resource_version != observed_now.resource_version
                }
                None => true,
            };
            if changed {
                self.observed = Some(observed_now);
            }
            // The holder's own duration counts (it may differ from ours); a released lease is free at once.
            let term = spec
                .lease_duration_seconds
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(self.config.duration);
            let expired = holder.is_none() || self.observed.as_ref().is_some_and(|o| o.since.elapsed() >= term);
            if !expired {
                return Ok(false);
            }
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
            tracing::info!(
                lease = %self.config.name,
                previous = holder.as_deref().unwrap_or(""),
                "taking over the lease"
            );
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(now);
        // `replace` sends the resourceVersion we read: if anyone wrote in between, the server answers 409.
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(self.write_err(e)),
        }
    }

    /// Gives the lease up (clears `holderIdentity`) if this candidate still holds it, so a follower takes over at
    /// once instead of after the duration.
    pub async fn release(&mut self) -> Result<bool, LeaseError> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await.map_err(|e| self.read_err(e))? else {
            return Ok(false);
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(self.write_err(e)),
        }
    }

    /// Campaigns until `stop` turns true: publishes leadership on `is_leader`, renews while leading, steps down
    /// when renewals fail past the renew deadline, and releases the lease on the way out. Returns whether the
    /// lease was released by this call.
    pub async fn campaign(
        mut self,
        is_leader: watch::Sender<bool>,
        mut stop: watch::Receiver<bool>,
        on_round: impl Fn(Round) + Send,
    ) -> bool {
        let mut last_renewal: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let leading_before = *is_leader.borrow();
            let leading = match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewal = Some(Instant::now());
                    on_round(if leading_before { Round::Renewed } else { Round::Acquired });
                    true
                }
                Ok(false) => {
                    on_round(Round::Follower);
                    false
                }
                Err(e) => {
                    on_round(Round::Failed);
                    // A leader that cannot reach the API keeps leading until its renew deadline: the followers
                    // cannot take over before the full duration, so there is no overlap.
                    let keep =
                        leading_before && last_renewal.is_some_and(|t| t.elapsed() < self.config.renew_deadline());
                    tracing::warn!(lease = %self.config.name, error = %e, still_leader = keep, "lease round failed");
                    keep
                }
            };
            if leading != leading_before {
                tracing::info!(
                    lease = %format!("{}/{}", self.config.namespace, self.config.name),
                    identity = %self.config.identity,
                    leader = leading,
                    "leadership changed"
                );
                is_leader.send_replace(leading);
            }
            let wait = if leading { self.config.renew_period() } else { self.config.retry_period() };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let was_leader = is_leader.send_replace(false);
        if !was_leader {
            return false;
        }
        match self.release().await {
            Ok(released) => {
                tracing::info!(lease = %self.config.name, released, "lease released on shutdown");
                released
            }
            Err(e) => {
                tracing::warn!(lease = %self.config.name, error = %e, "could not release the lease; it expires by itself");
                false
            }
        }
    }
}

/// The outcome of one campaign round, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    Acquired,
    Renewed,
    Follower,
    Failed,
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The identity holding the Lease, if it is held and was renewed within its duration (judged by the wall clock,
/// since a one-off reader cannot observe it over time). Errors count as "no leader seen": use `read_leader`
/// to tell them apart.
pub async fn leader_elsewhere(client: kube::Client, namespace: &str, name: &str) -> Option<String> {
    match read_leader(client, namespace, name).await {
        Ok(holder) => holder,
        Err(e) => {
            tracing::debug!(error = %e, "cannot tell whether another dbdeck engine leads");
            None
        }
    }
}

/// Looks for a live leader in every namespace (the console does not know where the operator runs): the
/// namespace and holder of the first Lease named `name` that is held and within its duration.
pub async fn leader_anywhere(client: kube::Client, name: &str) -> Result<Option<(String, String)>, LeaseError> {
    let api: Api<Lease> = Api::all(client);
    let params = kube::api::ListParams::default().fields(&format!("metadata.name={name}"));
    let leases = api.list(&params).await.map_err(|source| LeaseError::Read {
        namespace: "(all namespaces)".to_string(),
        name: name.to_string(),
        source,
    })?;
    let now = k8s_openapi::jiff::Timestamp::now();
    Ok(leases.items.iter().find_map(|l| Some((l.metadata.namespace.clone()?, live_holder(l, now)?))))
}

/// Like `leader_elsewhere`, but says why the Lease could not be read.
pub async fn read_leader(client: kube::Client, namespace: &str, name: &str) -> Result<Option<String>, LeaseError> {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let lease = api.get_opt(name).await.map_err(|source| LeaseError::Read {
        namespace: namespace.to_string(),
        name: name.to_string(),
        source,
    })?;
    Ok(lease.and_then(|l| live_holder(&l, k8s_openapi::jiff::Timestamp::now())))
}

fn live_holder(lease: &Lease, now: k8s_openapi::jiff::Timestamp) -> Option<String> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0));
    let expires = renewed.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds)).ok()?;
    (expires > now).then_some(holder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    fn lease(holder: Option<&str>, renewed: Timestamp, secs: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(secs),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_renewed_lease_names_its_holder_and_an_expired_or_released_one_does_not() {
        let now = Timestamp::now();
        let recent = now.checked_sub(SignedDuration::from_secs(5)).unwrap();
        let old = now.checked_sub(SignedDuration::from_secs(20)).unwrap();
        assert_eq!(live_holder(&lease(Some("pod-a"), recent, 15), now).as_deref(), Some("pod-a"));
        assert_eq!(live_holder(&lease(Some("pod-a"), old, 15), now), None);
        assert_eq!(live_holder(&lease(None, recent, 15), now), None);
        assert_eq!(live_holder(&lease(Some(""), recent, 15), now), None);
    }

    #[test]
    fn periods_keep_the_leader_stepping_down_before_followers_take_over() {
        let c = LeaseConfig {
            name: "l".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(15),
        };
        assert_eq!(c.renew_period(), Duration::from_secs(5));
        assert!(c.renew_deadline() < c.duration);
        assert!(c.retry_period() < c.renew_period());
        assert_eq!(c.duration_seconds().unwrap(), 15);
        let zero = LeaseConfig { duration: Duration::ZERO, ..c };
        let err = zero.duration_seconds().unwrap_err().to_string();
        assert!(err.contains("ns/l") && err.contains("leaseDurationSeconds"), "{err}");
    }

    #[test]
    fn pod_name_wins_over_hostname_and_pid() {
        assert_eq!(
            identity_from(Some("dbdeck-operator-7d9f-x2".into()), Some("node1".into()), 7),
            "dbdeck-operator-7d9f-x2"
        );
        assert_eq!(identity_from(Some(" ".into()), Some("node1\n".into()), 7), "node1-7");
        assert_eq!(identity_from(None, None, 42), "dbdeck-42");
    }
}
