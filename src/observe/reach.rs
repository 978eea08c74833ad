//! Reaching a pod's database port from wherever dbdeck runs.
//!
//! In a cluster, the pod IP is routable: the probes connect to it directly. On a workstation it is not, so a
//! [`Reacher`] keeps one *bridge* per (pod, port): a TCP listener on `127.0.0.1:<ephemeral>` whose every accepted
//! connection gets its own `Api::<Pod>::portforward` stream (the probes' connection pool then reuses those
//! connections across refreshes). Bridges live as long as the pod: [`Reacher::retain_pods`] drops the bridges of
//! pods that went away, and a pod recreated under the same name (new UID) gets a fresh bridge.
//!
//! A port-forward that fails (pod gone, port not served, API server refusing) cannot fail the probe's TCP connect
//! to the local listener, so the bridge remembers the failure and [`Reacher::probe`] turns the probe's
//! "connection closed" into `Unreachable { reason: "port-forward to pod ns/x failed: …" }`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Client, ResourceExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::observe::facts::{MemberFacts, ProbeOutcome};
use crate::observe::probe::{Endpoint, ProbeTarget, Prober};

/// Longest wait for the API server to open one port-forward stream.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// After the local side closed, how long the pod side gets to acknowledge before the stream is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How pods are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReachMode {
    /// dbdeck runs inside the cluster: connect to the pod IP.
    InCluster,
    /// dbdeck runs outside: tunnel through the port-forward subresource.
    Workstation,
}

impl ReachMode {
    /// In-cluster when the service-account environment a kubelet gives every pod is present.
    pub fn detect() -> Self {
        let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            && std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists();
        if in_pod { ReachMode::InCluster } else { ReachMode::Workstation }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("pod {pod} has no IP address yet (status.podIP is empty)")]
    NoPodIp { pod: String },
    #[error("pod {pod} has an invalid IP address {ip:?} in status.podIP")]
    BadPodIp { pod: String, ip: String },
    #[error("port-forward to pod {pod} failed: cannot listen on 127.0.0.1: {source}")]
    Listen { pod: String, source: std::io::Error },
}

impl ReachError {
    /// The per-member reading this failure stands for.
    pub fn into_outcome(self) -> ProbeOutcome {
        ProbeOutcome::Unreachable { reason: self.to_string() }
    }
}

/// The last port-forward failure of a bridge and when it happened.
type FailureSlot = Arc<Mutex<Option<(Instant, String)>>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BridgeKey {
    namespace: String,
    pod: String,
    port: u16,
}

struct Bridge {
    addr: SocketAddr,
    uid: Option<String>,
    failure: FailureSlot,
    task: JoinHandle<()>,
}

impl Drop for Bridge {
    // Aborting the accept loop drops its JoinSet, which aborts every forwarded connection with it.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Turns (pod, port) into an address the probes can connect to. Keep one per kube client; cheap to share.
pub struct Reacher {
    client: Client,
    mode: ReachMode,
    bridges: Mutex<HashMap<BridgeKey, Bridge>>,
}

fn pod_label(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_else(|| "default".into()), pod.name_any())
}

impl Reacher {
    pub fn new(client: Client, mode: ReachMode) -> Self {
        Reacher { client, mode, bridges: Mutex::new(HashMap::new()) }
    }

    pub fn mode(&self) -> ReachMode {
        self.mode
    }

    fn bridges(&self) -> std::sync::MutexGuard<'_, HashMap<BridgeKey, Bridge>> {
        self.bridges.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A local address that reaches `port` of `pod`. In workstation mode the bridge is made on first use and
    /// reused after; it must be called inside a tokio runtime.
    pub fn reach(&self, pod: &Pod, port: u16) -> Result<SocketAddr, ReachError> {
        match self.mode {
            ReachMode::InCluster => pod_ip(pod).map(|ip| SocketAddr::new(ip, port)),
            ReachMode::Workstation => self.bridge(pod, port),
        }
    }

    fn bridge(&self, pod: &Pod, port: u16) -> Result<SocketAddr, ReachError> {
        let namespace = pod.namespace().unwrap_or_else(|| "default".into());
        let key = BridgeKey { namespace: namespace.clone(), pod: pod.name_any(), port };
        let uid = pod.uid();
        let mut bridges = self.bridges();
        if let Some(b) = bridges.get(&key) {
            // Same pod (or a pod object without a UID, as in a hand-made target): keep the bridge.
            if b.uid == uid || uid.is_none() {
                return Ok(b.addr);
            }
            tracing::debug!(pod = %pod_label(pod), port, "pod was recreated; replacing its port-forward bridge");
        }
        let label = pod_label(pod);
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .and_then(TcpListener::from_std)
            .map_err(|source| ReachError::Listen { pod: label.clone(), source })?;
        let addr = listener.local_addr().map_err(|source| ReachError::Listen { pod: label.clone(), source })?;
        let failure: FailureSlot = Arc::default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let forward = Forward { api, pod: key.pod.clone(), label: label.clone(), port, failure: failure.clone() };
        let task = tokio::spawn(accept_loop(listener, forward));
        tracing::debug!(pod = %label, port, local = %addr, "port-forward bridge listening");
        bridges.insert(key, Bridge { addr, uid, failure, task });
        Ok(addr)
    }

    /// Drops the bridges of pods not in `live` (or whose UID changed), closing their listeners and streams.
    pub fn retain_pods<'a>(&self, live: impl IntoIterator<Item = &'a Pod>) {
        let live: HashMap<(String, String), Option<String>> = live
            .into_iter()
            .map(|p| ((p.namespace().unwrap_or_else(|| "default".into()), p.name_any()), p.uid()))
            .collect();
        self.bridges().retain(|k, b| match live.get(&(k.namespace.clone(), k.pod.clone())) {
            Some(uid) => uid.is_none() || *uid == b.uid,
            None => {
                tracing::debug!(namespace = %k.namespace, pod = %k.pod, port = k.port, "pod gone; dropping its bridge");
                false
            }
        });
    }

    /// Drops every bridge to this pod.
    pub fn forget_pod(&self, namespace: &str, pod: &str) {
        self.bridges().retain(|k, _| !(k.namespace == namespace && k.pod == pod));
    }

    /// Bridges currently open.
    pub fn bridge_count(&self) -> usize {
        self.bridges().len()
    }

    /// The last port-forward failure for this pod port that happened at or after `since`.
    pub fn failure_since(&self, pod: &Pod, port: u16, since: Instant) -> Option<String> {
        let key =
            BridgeKey { namespace: pod.namespace().unwrap_or_else(|| "default".into()), pod: pod.name_any(), port };
        let bridges = self.bridges();
        let slot = bridges.get(&key)?.failure.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().filter(|(at, _)| *at >= since).map(|(_, why)| why.clone())
    }

    /// Probes `target` (its endpoint is replaced by the way to reach `pod`:`port`) and explains a failure that
    /// came from the port-forward rather than the database.
    pub async fn probe(&self, prober: &Prober, pod: &Pod, port: u16, mut target: ProbeTarget) -> MemberFacts {
        let addr = match self.reach(pod, port) {
            Ok(addr) => addr,
            Err(e) => return MemberFacts { member: target.member, read_at: Utc::now(), outcome: e.into_outcome() },
        };
        target.endpoint = Endpoint::new(addr.ip().to_string(), addr.port());
        let started = Instant::now();
        let mut facts = prober.probe(&target).await;
        if !matches!(facts.outcome, ProbeOutcome::Ok(_))
            && let Some(reason) = self.failure_since(pod, port, started)
        {
            facts.outcome = ProbeOutcome::Unreachable { reason };
        }
        if self.mode == ReachMode::Workstation {
            // The bridge's ephemeral local port means nothing to the reader; the pod and its port do.
            name_the_pod(&mut facts.outcome, &target.endpoint.to_string(), &format!("pod {}:{port}", pod_label(pod)));
        }
        facts
    }
}

/// Replaces the local bridge address in a failed reading's reason with the pod it stands for.
fn name_the_pod(outcome: &mut ProbeOutcome, local: &str, pod: &str) {
    match outcome {
        ProbeOutcome::Unreachable { reason } | ProbeOutcome::AuthFailed { reason } | ProbeOutcome::Error { reason } => {
            *reason = reason.replace(local, pod);
        }
        ProbeOutcome::Ok(_) | ProbeOutcome::Timeout { .. } => {}
    }
}

fn pod_ip(pod: &Pod) -> Result<IpAddr, ReachError> {
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).filter(|ip| !ip.is_empty());
    let Some(ip) = ip else { return Err(ReachError::NoPodIp { pod: pod_label(pod) }) };
    ip.parse().map_err(|_| ReachError::BadPodIp { pod: pod_label(pod), ip: ip.to_string() })
}

/// What each accepted connection needs to open its own port-forward.
#[derive(Clone)]
struct Forward {
    api: Api<Pod>,
    pod: String,
    label: String,
    port: u16,
    failure: FailureSlot,
}

impl Forward {
    fn fail(&self, why: impl std::fmt::Display) {
        let reason = format!("port-forward to pod {} failed: {why}", self.label);
        tracing::debug!(%reason, port = self.port, "port-forward failed");
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), reason));
    }
}

async fn accept_loop(listener: TcpListener, forward: Forward) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => {
                    conns.spawn(forward_one(sock, forward.clone()));
                }
                // Out of descriptors and the like: say so and keep serving rather than spin.
                Err(e) => {
                    tracing::warn!(pod = %forward.label, error = %e, "port-forward bridge cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if !status.message.is_empty() => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

/// Bridges one local connection to one port-forward stream until either side is done.
async fn forward_one(local: TcpStream, fwd: Forward) {
    let opened = tokio::time::timeout(OPEN_TIMEOUT, fwd.api.portforward(&fwd.pod, &[fwd.port])).await;
    let mut pf = match opened {
        Ok(Ok(pf)) => pf,
        Ok(Err(e)) => return fwd.fail(describe(&e)),
        Err(_) => {
            return fwd.fail(format!("the API server did not open the stream within {} s", OPEN_TIMEOUT.as_secs()));
        }
    };
    let (Some(remote), Some(error)) = (pf.take_stream(fwd.port), pf.take_error(fwd.port)) else {
        pf.abort();
        return fwd.fail("the port-forward has no stream for the port");
    };
    let (mut local_read, mut local_write) = local.into_split();
    let (mut remote_read, mut remote_write) = tokio::io::split(remote);
    let from_pod = async {
        let _ = tokio::io::copy(&mut remote_read, &mut local_write).await;
        // kube delivers the error message before it ends the data stream, so it is ready by now if there is one;
        // record it before the local side sees EOF so the probe's failure can be explained.
        if let Some(Some(message)) = error.now_or_never() {
            fwd.fail(message);
        }
        let _ = local_write.shutdown().await;
    };
    let to_pod = async {
        let _ = tokio::io::copy(&mut local_read, &mut remote_write).await;
        let _ = remote_write.shutdown().await;
        // The pod side answers the close by ending its stream (from_pod); wait for that, within reason.
        tokio::time::sleep(CLOSE_GRACE).await;
    };
    tokio::select! {
        _ = from_pod => {}
        _ = to_pod => {}
    }
    pf.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;

    fn pod(ip: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("pg-0".into());
        p.metadata.namespace = Some("db".into());
        p.status = Some(PodStatus { pod_ip: ip.map(String::from), ..Default::default() });
        p
    }

    #[test]
    fn in_cluster_uses_the_pod_ip() {
        assert_eq!(pod_ip(&pod(Some("10.1.2.3"))).unwrap(), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(pod_ip(&pod(Some("fd00::7"))).unwrap(), "fd00::7".parse::<IpAddr>().unwrap());
        let none = pod_ip(&pod(None)).unwrap_err().to_string();
        assert_eq!(none, "pod db/pg-0 has no IP address yet (status.podIP is empty)");
        let bad = pod_ip(&pod(Some("ten.one"))).unwrap_err();
        assert!(matches!(bad.into_outcome(), ProbeOutcome::Unreachable { reason } if reason.contains("\"ten.one\"")));
    }

    #[test]
    fn failures_through_a_bridge_name_the_pod() {
        let mut refused = ProbeOutcome::AuthFailed {
            reason: "user 'monitor' was refused by 127.0.0.1:41234: Access denied for user 'monitor'@'127.0.0.1'"
                .into(),
        };
        name_the_pod(&mut refused, "127.0.0.1:41234", "pod db/ps1-mysql-0:3306");
        assert_eq!(
            refused.summary(),
            "authentication failed: user 'monitor' was refused by pod db/ps1-mysql-0:3306: \
             Access denied for user 'monitor'@'127.0.0.1'"
        );
    }
}
