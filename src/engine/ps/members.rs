//! The PS controller's line to the cluster's own servers: probing the MySQL members (to learn the
//! primary from them), asking Orchestrator for a graceful takeover, and asking a group-replication
//! primary to hand over. Pods are reached the way the observe layer reaches them (pod IP in a
//! cluster, the port-forward subresource from a workstation), with the cluster's own credentials.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::ResourceExt;
use kube::api::Api;
use mysql_async::prelude::Queryable;

use super::topology::{MYSQL_PORT, ORC_WEB_PORT, Reading};
use crate::engine::status::pod_ready_at;
use crate::observe::facts::ProbeOutcome;
use crate::observe::probe::secrets::{SecretLayout, candidate_secrets, credentials_from_secret};
use crate::observe::probe::{Credentials, Endpoint, Family, ProbeConfig, ProbeTarget, Prober, TlsMode};
use crate::observe::reach::Reacher;

/// Probes must not hold a reconcile up for long: ~3 s to connect, 3 s for the queries.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// A graceful takeover waits for the replica to catch up; Orchestrator answers when it is done.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a requested switchover is given to show in the probes before it is asked for again.
const SWITCHOVER_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SwitchoverError {
    #[error("cannot reach pod {pod} port {port}: {reason}")]
    Reach { pod: String, port: u16, reason: String },
    #[error("Orchestrator pod {pod} did not answer {path}: {reason}")]
    Http { pod: String, path: String, reason: String },
    #[error("Orchestrator pod {pod} refused {path}: {reason}")]
    Refused { pod: String, path: String, reason: String },
    #[error("no operator credentials for the group-replication switchover: {0}")]
    Credentials(String),
    #[error("{pod} did not run {sql}: {reason}")]
    Sql { pod: String, sql: String, reason: String },
}

/// A switchover the engine asked for and is waiting to see.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requested {
    from: String,
    to: String,
    at: Instant,
}

/// Kept by the PS controller for its whole run: the probes' connections and the port-forward
/// bridges are reused across reconciles.
pub struct MemberAccess {
    /// The engine's, shared with the other controllers (one bridge per pod port).
    reacher: Arc<Reacher>,
    prober: Prober,
    /// Switchovers asked for, per cluster (`ns/name`), so a slow one is not requested twice.
    requested: Mutex<HashMap<String, Requested>>,
    /// The MySQL pods last probed per cluster, so the bridges of pods scaled away are closed.
    probed: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl MemberAccess {
    pub fn new(reacher: Arc<Reacher>) -> Self {
        let config = ProbeConfig { connect_timeout: PROBE_TIMEOUT, query_timeout: PROBE_TIMEOUT, max_concurrency: 8 };
        MemberAccess {
            reacher,
            prober: Prober::new(config),
            requested: Mutex::new(HashMap::new()),
            probed: Mutex::new(HashMap::new()),
        }
    }

    /// Reads every MySQL pod; a pod that is not ready is not asked and reads as unreachable.
    pub async fn probe(
        &self,
        client: &kube::Client,
        cluster: &str,
        ns: &str,
        secrets_name: Option<&str>,
        group_replication: bool,
        pods: &[Pod],
    ) -> Vec<Reading> {
        self.forget_gone(cluster, ns, pods);
        let not_ready = || ProbeOutcome::Unreachable { reason: "the pod is not ready".into() };
        if !pods.iter().any(|p| pod_ready_at(p, None)) {
            // Nothing to ask: spare the Secret reads.
            return pods.iter().map(|p| (p.name_any(), not_ready())).collect();
        }
        let creds = match credentials(client, cluster, ns, secrets_name, None).await {
            Ok(c) => c,
            Err(reason) => {
                return pods.iter().map(|p| (p.name_any(), ProbeOutcome::Error { reason: reason.clone() })).collect();
            }
        };
        let family = if group_replication { Family::GroupReplication } else { Family::MysqlAsync };
        let reads = pods.iter().map(|pod| {
            let creds = creds.clone();
            async move {
                let name = pod.name_any();
                if !pod_ready_at(pod, None) {
                    return (name, not_ready());
                }
                let target = ProbeTarget {
                    member: name.clone(),
                    // Replaced by the reacher with the way to reach the pod.
                    endpoint: Endpoint::new(name.clone(), MYSQL_PORT),
                    credentials: creds,
                    family,
                    tls: TlsMode::Disable,
                };
                let facts = self.reacher.probe(&self.prober, pod, MYSQL_PORT, target).await;
                (name, facts.outcome)
            }
        });
        futures::future::join_all(reads).await
    }

    /// Closes the bridges of this cluster's pods that are no longer there (scaled down, paused).
    fn forget_gone(&self, cluster: &str, ns: &str, pods: &[Pod]) {
        let now: BTreeSet<String> = pods.iter().map(|p| p.name_any()).collect();
        let before =
            self.probed.lock().unwrap_or_else(|e| e.into_inner()).insert(format!("{ns}/{cluster}"), now.clone());
        for gone in before.unwrap_or_default().difference(&now) {
            self.reacher.forget_pod(ns, gone);
        }
    }

    /// Drops the port-forward bridge of a pod about to be deleted (its successor gets its own).
    pub fn forget_pod(&self, ns: &str, pod: &str) {
        self.reacher.forget_pod(ns, pod);
    }

    fn requested(&self) -> std::sync::MutexGuard<'_, HashMap<String, Requested>> {
        self.requested.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when this very switchover was asked for recently and is still being waited for.
    pub fn awaiting(&self, key: &str, from: &str, to: &str) -> bool {
        self.requested().get(key).is_some_and(|r| r.from == from && r.to == to && r.at.elapsed() < SWITCHOVER_PATIENCE)
    }

    /// True when a switchover away from `pod` was asked for and not yet seen through.
    pub fn awaiting_from(&self, key: &str, pod: &str) -> bool {
        self.requested().get(key).is_some_and(|r| r.from == pod)
    }

    pub fn mark_requested(&self, key: &str, from: &str, to: &str) {
        self.requested().insert(key.to_string(), Requested { from: from.into(), to: to.into(), at: Instant::now() });
    }

    pub fn clear_requested(&self, key: &str) {
        self.requested().remove(key);
    }

    /// `GET <path>` on the Orchestrator pod's API port; Ok once Orchestrator says the takeover is done.
    pub async fn orchestrator_get(&self, orc: &Pod, path: &str) -> Result<(), SwitchoverError> {
        let pod = orc.name_any();
        let addr = self.reacher.reach(orc, ORC_WEB_PORT).map_err(|e| SwitchoverError::Reach {
            pod: pod.clone(),
            port: ORC_WEB_PORT,
            reason: e.to_string(),
        })?;
        let http = |reason: String| SwitchoverError::Http { pod: pod.clone(), path: path.to_string(), reason };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
            let driver = tokio::spawn(conn);
            let request = http::Request::get(path)
                .header(http::header::HOST, format!("localhost:{ORC_WEB_PORT}"))
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            driver.abort();
            Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
        };
        let (status, body) = match tokio::time::timeout(TAKEOVER_TIMEOUT, exchange).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(reason)) => return Err(http(self.explain(orc, reason))),
            Err(_) => return Err(http(format!("no answer within {} s", TAKEOVER_TIMEOUT.as_secs()))),
        };
        super::topology::takeover_reply(status, &body).map_err(|reason| SwitchoverError::Refused {
            pod: pod.clone(),
            path: path.to_string(),
            reason,
        })
    }

    /// A port-forward failure explains a closed connection better than the HTTP error does.
    fn explain(&self, orc: &Pod, reason: String) -> String {
        let since = Instant::now() - TAKEOVER_TIMEOUT;
        self.reacher.failure_since(orc, ORC_WEB_PORT, since).unwrap_or(reason)
    }

    /// Runs `sql` (a `group_replication_set_as_primary` call) on `primary` as the operator user.
    pub async fn run_on_primary(
        &self,
        client: &kube::Client,
        cluster: &str,
        secrets_name: Option<&str>,
        primary: &Pod,
        sql: &str,
    ) -> Result<(), SwitchoverError> {
        let pod = primary.name_any();
        let ns = primary.namespace().unwrap_or_default();
        let creds = credentials(client, cluster, &ns, secrets_name, Some("operator"))
            .await
            .map_err(SwitchoverError::Credentials)?;
        let addr = self.reacher.reach(primary, MYSQL_PORT).map_err(|e| SwitchoverError::Reach {
            pod: pod.clone(),
            port: MYSQL_PORT,
            reason: e.to_string(),
        })?;
        let fail = |reason: String| SwitchoverError::Sql { pod: pod.clone(), sql: sql.to_string(), reason };
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(addr.ip().to_string())
            .tcp_port(addr.port())
            .user(Some(creds.user.clone()))
            .pass(Some(creds.password.expose().to_string()))
            .prefer_socket(false);
        let run = async {
            let mut conn = mysql_async::Conn::new(opts).await.map_err(|e| e.to_string())?;
            let result = conn.query_drop(sql).await.map_err(|e| e.to_string());
            let _ = conn.disconnect().await;
            result
        };
        match tokio::time::timeout(TAKEOVER_TIMEOUT, run).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(fail(reason)),
            Err(_) => Err(fail(format!("no answer within {} s", TAKEOVER_TIMEOUT.as_secs()))),
        }
    }
}

/// Credentials from the cluster's own Secrets (`internal-<c>`, then the users Secret), as the
/// observe layer picks them: the monitor user, else operator, else root — or exactly `only`.
async fn credentials(
    client: &kube::Client,
    cluster: &str,
    ns: &str,
    secrets_name: Option<&str>,
    only: Option<&str>,
) -> Result<Credentials, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let names = candidate_secrets(SecretLayout::Ps, cluster, secrets_name);
    let mut problems = Vec::new();
    for name in &names {
        match api.get_opt(name).await {
            Ok(Some(secret)) => {
                let mut data: BTreeMap<String, ByteString> = secret.data.unwrap_or_default();
                for (k, v) in secret.string_data.unwrap_or_default() {
                    data.entry(k).or_insert_with(|| ByteString(v.into_bytes()));
                }
                if let Some(key) = only {
                    data.retain(|k, _| k == key);
                }
                match credentials_from_secret(SecretLayout::Ps, cluster, name, &data) {
                    Ok(c) => return Ok(c),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            Ok(None) => problems.push(format!("Secret {ns}/{name} does not exist")),
            Err(e) => problems.push(format!("cannot read Secret {ns}/{name}: {e}")),
        }
    }
    Err(problems.join("; "))
}
