//! The facts collector: from the cluster views to a reading of every database member.
//!
//! For each cluster it reads probe credentials from the cluster's own Secrets, reaches each database pod (pod IP
//! in a cluster, a port-forward bridge from a workstation), probes it with the shared [`Prober`] (bounded time and
//! concurrency, kept connections), fills in the lag figures that need several members, and records the reading
//! in a short per-member history. A member that cannot be read gets a reading that says why; nothing is guessed.
//!
//! Passwords only travel inside [`Credentials`] (redacted in `Debug`); nothing here logs them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::Api;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::build::World;
use super::facts::{HistoryBook, MemberFacts, ProbeOutcome};
use super::merge;
use super::probe::secrets::{SecretLayout, candidate_secrets, credentials_from_secret, pg_candidate_secrets};
use super::probe::{Credentials, Endpoint, Family, ProbeConfig, ProbeTarget, Prober, TlsMode, compare_members};
use super::reach::{ReachMode, Reacher};
use super::view::{ClusterKind, ClusterView, PsClusterType};

/// Clusters whose Secrets are read at the same time (each costs one or two API requests).
const CLUSTER_CONCURRENCY: usize = 16;

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub probe: ProbeConfig,
    pub reach: ReachMode,
    /// How PostgreSQL members are reached. Percona's PG clusters accept network logins over TLS only, so the
    /// default prefers TLS (and still reads a server that does not offer it).
    pub pg_tls: TlsMode,
    /// Readings kept per member for the sparkline.
    pub history: usize,
    /// Credentials found are reused this long before the Secrets are read again, so a refresh every few seconds
    /// does not cost API requests per cluster; a refused password drops them at once.
    pub credentials_ttl: Duration,
    /// How long "no usable Secret" is believed before looking again (a cluster the operator has not set up yet).
    pub missing_credentials_ttl: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            probe: ProbeConfig::default(),
            reach: ReachMode::detect(),
            pg_tls: TlsMode::Prefer,
            history: super::facts::History::DEFAULT_CAPACITY,
            credentials_ttl: Duration::from_secs(60),
            missing_credentials_ttl: Duration::from_secs(15),
        }
    }
}

/// Identifies one cluster across refreshes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterKey {
    pub kind: ClusterKind,
    pub namespace: String,
    pub name: String,
}

impl ClusterKey {
    pub fn of(view: &ClusterView) -> Self {
        ClusterKey { kind: view.kind, namespace: view.namespace.clone(), name: view.name.clone() }
    }
}

/// The readings of one cluster and the histories they extend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterReadings {
    pub facts: Vec<MemberFacts>,
    pub history: HistoryBook,
}

/// The result of one collection round, for every cluster that has database members.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    pub clusters: BTreeMap<ClusterKey, ClusterReadings>,
}

impl Readings {
    pub fn get(&self, view: &ClusterView) -> Option<&ClusterReadings> {
        self.clusters.get(&ClusterKey::of(view))
    }

    /// Merges the readings into the views (see [`merge::apply`]); clusters without readings are left as built.
    pub fn apply(&self, views: &mut [ClusterView]) {
        for v in views.iter_mut() {
            if let Some(r) = self.get(v) {
                merge::apply(v, &r.facts, Some(&r.history));
            }
        }
    }
}

/// How a cluster family is probed.
fn family(kind: ClusterKind) -> (Family, u16, SecretLayout) {
    match kind {
        ClusterKind::Pxc => (Family::Galera, 3306, SecretLayout::Pxc),
        ClusterKind::Ps { cluster_type: PsClusterType::Async } => (Family::MysqlAsync, 3306, SecretLayout::Ps),
        ClusterKind::Ps { cluster_type: PsClusterType::GroupReplication } => {
            (Family::GroupReplication, 3306, SecretLayout::Ps)
        }
        ClusterKind::Pg => (Family::Postgres, 5432, SecretLayout::Pg),
    }
}

fn failed(member: &str, outcome: ProbeOutcome) -> MemberFacts {
    MemberFacts { member: member.to_string(), read_at: Utc::now(), outcome }
}

/// Per cluster: when its Secrets were read, and the credentials found there or why there were none.
type CredentialCache = HashMap<ClusterKey, (Instant, Result<Credentials, String>)>;

/// Reads the databases of the clusters. Keep one per kube client: it keeps the connections, port-forward bridges
/// and histories between rounds.
pub struct Collector {
    client: kube::Client,
    config: CollectorConfig,
    prober: Prober,
    reacher: Reacher,
    books: Mutex<HashMap<ClusterKey, HistoryBook>>,
    credentials: std::sync::Mutex<CredentialCache>,
}

impl Collector {
    pub fn new(client: kube::Client, config: CollectorConfig) -> Self {
        Collector {
            prober: Prober::new(config.probe),
            reacher: Reacher::new(client.clone(), config.reach),
            client,
            config,
            books: Mutex::new(HashMap::new()),
            credentials: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn cached_credentials(&self) -> std::sync::MutexGuard<'_, CredentialCache> {
        self.credentials.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// One round: probes every database member of `views` (their pods and CRs are in `world`). With a deadline,
    /// a member not read by then gets a reading that says so, and the round returns at the deadline.
    pub async fn collect(&self, world: &World, views: &[ClusterView], deadline: Option<Duration>) -> Readings {
        let deadline = deadline.map(|d| (Instant::now() + d, d));
        let pods: HashMap<(&str, &str), &Pod> = world
            .pods
            .iter()
            .filter_map(|p| Some(((p.metadata.namespace.as_deref()?, p.metadata.name.as_deref()?), p)))
            .collect();
        self.reacher.retain_pods(world.pods.iter());
        // Reading Secrets costs API requests: a bounded number of clusters at once (the prober bounds the probes).
        let limit = tokio::sync::Semaphore::new(CLUSTER_CONCURRENCY);
        let mut rounds = Vec::new();
        for v in views.iter().filter(|v| v.members.iter().any(|m| v.is_database_member(m))) {
            let (cr, pods, limit) = (cluster_cr(world, v), &pods, &limit);
            rounds.push(async move {
                let _permit = limit.acquire().await;
                (ClusterKey::of(v), self.collect_cluster(v, cr, pods, deadline).await)
            });
        }
        let rounds = futures::future::join_all(rounds).await;

        self.cached_credentials().retain(|k, _| rounds.iter().any(|(key, _)| key == k));
        let mut books = self.books.lock().await;
        books.retain(|k, _| rounds.iter().any(|(key, _)| key == k));
        let mut out = Readings::default();
        for (key, facts) in rounds {
            let book = books.entry(key.clone()).or_insert_with(|| HistoryBook::new(self.config.history));
            book.record(&facts);
            out.clusters.insert(key, ClusterReadings { facts, history: book.clone() });
        }
        out
    }

    async fn collect_cluster(
        &self,
        view: &ClusterView,
        cr: Option<&Value>,
        pods: &HashMap<(&str, &str), &Pod>,
        deadline: Option<(Instant, Duration)>,
    ) -> Vec<MemberFacts> {
        let (family, port, layout) = family(view.kind);
        let creds = match deadline {
            None => self.credentials(view, layout, cr).await,
            Some((at, total)) => {
                tokio::time::timeout_at(at, self.credentials(view, layout, cr)).await.unwrap_or_else(|_| {
                    Err(format!(
                        "no reading within the {} ms deadline: the Secrets were not read in time",
                        total.as_millis()
                    ))
                })
            }
        };
        let tls = if family == Family::Postgres { self.config.pg_tls.clone() } else { TlsMode::Disable };
        let members = view.members.iter().filter(|m| view.is_database_member(m));
        let readings = members.map(|m| {
            let pod = pods.get(&(view.namespace.as_str(), m.pod.as_str())).copied();
            let creds = creds.clone();
            let tls = tls.clone();
            async move {
                let Some(pod) = pod else {
                    return failed(&m.pod, ProbeOutcome::Unreachable { reason: "the pod no longer exists".into() });
                };
                if m.phase != "Running" {
                    let reason = format!("pod {}/{} is {}, not running", view.namespace, m.pod, m.phase);
                    return failed(&m.pod, ProbeOutcome::Unreachable { reason });
                }
                let credentials = match creds {
                    Ok(c) => c,
                    Err(reason) => return failed(&m.pod, ProbeOutcome::Error { reason }),
                };
                let target = ProbeTarget {
                    member: m.pod.clone(),
                    // Replaced by the reacher with the pod's address or its port-forward bridge.
                    endpoint: Endpoint::new(m.pod.clone(), port),
                    credentials,
                    family,
                    tls,
                };
                let probe = self.reacher.probe(&self.prober, pod, port, target);
                match deadline {
                    None => probe.await,
                    Some((at, total)) => match tokio::time::timeout_at(at, probe).await {
                        Ok(reading) => reading,
                        Err(_) => failed(
                            &m.pod,
                            ProbeOutcome::Error {
                                reason: format!("no reading within the {} ms deadline", total.as_millis()),
                            },
                        ),
                    },
                }
            }
        });
        let mut facts = futures::future::join_all(readings).await;
        if facts.iter().any(|f| matches!(f.outcome, ProbeOutcome::AuthFailed { .. })) {
            // The password may have been rotated: read the Secrets again next round.
            self.cached_credentials().remove(&ClusterKey::of(view));
        }
        compare_members(&mut facts);
        facts
    }

    /// Probe credentials from the cluster's own Secrets, in the operator's order of preference; the error is the
    /// sentence each member's reading will carry.
    async fn credentials(
        &self,
        view: &ClusterView,
        layout: SecretLayout,
        cr: Option<&Value>,
    ) -> Result<Credentials, String> {
        let key = ClusterKey::of(view);
        if let Some((at, found)) = self.cached_credentials().get(&key) {
            let ttl = if found.is_ok() { self.config.credentials_ttl } else { self.config.missing_credentials_ttl };
            if at.elapsed() < ttl {
                return found.clone();
            }
        }
        let found = self.read_credentials(view, layout, cr).await;
        self.cached_credentials().insert(key, (Instant::now(), found.clone()));
        found
    }

    async fn read_credentials(
        &self,
        view: &ClusterView,
        layout: SecretLayout,
        cr: Option<&Value>,
    ) -> Result<Credentials, String> {
        let names = match layout {
            SecretLayout::Pg => pg_candidate_secrets(&view.name),
            _ => {
                let spec_name = cr.and_then(|c| c.pointer("/spec/secretsName")).and_then(Value::as_str);
                candidate_secrets(layout, &view.name, spec_name)
            }
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &view.namespace);
        let mut problems = Vec::new();
        for name in &names {
            match api.get_opt(name).await {
                Ok(Some(secret)) => {
                    let mut data = secret.data.unwrap_or_default();
                    // stringData is folded into data by a real API server; take it too in case it was not.
                    for (k, v) in secret.string_data.unwrap_or_default() {
                        data.entry(k).or_insert_with(|| k8s_openapi::ByteString(v.into_bytes()));
                    }
                    match credentials_from_secret(layout, &view.name, name, &data) {
                        Ok(c) => return Ok(c),
                        Err(e) => problems.push(e.to_string()),
                    }
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("cannot read Secret {}/{name}: {e}", view.namespace)),
            }
        }
        if problems.is_empty() {
            Err(format!("no probe credentials: none of the Secrets {} exists in {}", names.join(", "), view.namespace))
        } else {
            Err(format!("no probe credentials: {}", problems.join("; ")))
        }
    }
}

/// The cluster's custom resource in `world`, for fields the view does not carry (`spec.secretsName`).
fn cluster_cr<'a>(world: &'a World, view: &ClusterView) -> Option<&'a Value> {
    let (_, kind) = view.kind.api_version_kind();
    world.clusters.iter().find(|c| {
        c.get("kind").and_then(Value::as_str) == Some(kind)
            && c.pointer("/metadata/namespace").and_then(Value::as_str) == Some(view.namespace.as_str())
            && c.pointer("/metadata/name").and_then(Value::as_str) == Some(view.name.as_str())
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams, PostParams};
    use serde_json::json;

    use super::*;
    use crate::observe::build::build_all;
    use crate::observe::facts::ProbePhase;
    use crate::observe::view::LagView;
    use crate::sandbox::serve::{self, ServeOptions};

    const CR: &str = r#"{"apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
        "metadata": {"name": "ps1", "namespace": "default"},
        "spec": {"mysql": {"clusterType": "async", "size": 2}}}"#;

    async fn pod(client: &kube::Client, name: &str, phase: Option<&str>) -> Pod {
        let api: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": "ps1", "app.kubernetes.io/name": "mysql"}},
            "spec": {"containers": [{"name": "mysql", "image": "percona/percona-server:8.4"}]}
        }))
        .unwrap();
        let created = api.create(&PostParams::default(), &pod).await.unwrap();
        match phase {
            Some(phase) => api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": phase}})))
                .await
                .unwrap(),
            None => created,
        }
    }

    async fn secret(client: &kube::Client, name: &str, data: serde_json::Value) {
        let s: Secret = serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data})).unwrap();
        Api::<Secret>::namespaced(client.clone(), "default").create(&PostParams::default(), &s).await.unwrap();
    }

    /// Accepts connections and never says a word, like a hung server.
    async fn silent() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        addr
    }

    fn outcome<'a>(r: &'a Readings, member: &str) -> &'a ProbeOutcome {
        let c = r.clusters.values().next().expect("the cluster was collected");
        &c.facts.iter().find(|f| f.member == member).unwrap_or_else(|| panic!("no reading of {member}")).outcome
    }

    /// Against an in-process sandbox: credentials come from the cluster's Secrets (or their absence is said),
    /// a pod that is not running is not dialled, a hung endpoint ends within the deadline, and each round
    /// extends the members' histories.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readings_say_why_nothing_was_read() {
        let running = serve::start(ServeOptions::private()).await.unwrap();
        let client = running.client().await.unwrap();
        let world = World {
            clusters: vec![serde_json::from_str(CR).unwrap()],
            pods: vec![pod(&client, "ps1-mysql-0", Some("Running")).await, pod(&client, "ps1-mysql-1", None).await],
            ..Default::default()
        };
        let mut views = build_all(&world, Utc::now());
        let probe = ProbeConfig {
            connect_timeout: Duration::from_millis(800),
            query_timeout: Duration::from_millis(800),
            max_concurrency: 4,
        };
        let config = CollectorConfig {
            probe,
            reach: ReachMode::Workstation,
            missing_credentials_ttl: Duration::ZERO,
            ..Default::default()
        };
        let collector = Collector::new(client.clone(), config);

        let r = collector.collect(&world, &views, Some(Duration::from_secs(5))).await;
        assert_eq!(
            outcome(&r, "ps1-mysql-0"),
            &ProbeOutcome::Error {
                reason: "no probe credentials: none of the Secrets internal-ps1, ps1-secrets exists in default".into()
            }
        );
        assert_eq!(
            outcome(&r, "ps1-mysql-1"),
            &ProbeOutcome::Unreachable { reason: "pod default/ps1-mysql-1 is Pending, not running".into() }
        );
        r.apply(&mut views);
        assert!(
            matches!(&views[0].members[0].lag, LagView::Unknown { reason } if reason.starts_with("error: no probe credentials")),
            "{:?}",
            views[0].members[0].lag
        );
        assert_eq!(views[0].db_facts.len(), 2);

        // A users Secret without any probe user is explained by its keys.
        secret(&client, "ps1-secrets", json!({"xtrabackup": "x"})).await;
        let r = collector.collect(&world, &views, None).await;
        assert!(
            matches!(outcome(&r, "ps1-mysql-0"), ProbeOutcome::Error { reason }
                if reason == "no probe credentials: Secret ps1-secrets has none of the keys monitor, operator, root: no user to probe with"),
            "{:?}",
            outcome(&r, "ps1-mysql-0")
        );

        // With credentials, a pod attached to a server that never answers times out connecting, within bounds.
        secret(&client, "internal-ps1", json!({"monitor": "mon-pw", "root": "root-pw"})).await;
        running.sandbox.attach("default", "ps1-mysql-0", 3306, silent().await);
        let started = StdInstant::now();
        let r = collector.collect(&world, &views, Some(Duration::from_secs(5))).await;
        assert_eq!(
            outcome(&r, "ps1-mysql-0"),
            &ProbeOutcome::Timeout { phase: ProbePhase::Connect, after: Duration::from_millis(800) }
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

        // Credentials found are kept for a while: deleting the Secrets does not stop the next round.
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
        for name in ["internal-ps1", "ps1-secrets"] {
            secrets.delete(name, &Default::default()).await.unwrap();
        }
        // An overall deadline shorter than the probe's own timeout ends the round at the deadline.
        let started = StdInstant::now();
        let r = collector.collect(&world, &views, Some(Duration::from_millis(300))).await;
        assert!(
            matches!(outcome(&r, "ps1-mysql-0"), ProbeOutcome::Error { reason } if reason == "no reading within the 300 ms deadline"),
            "{:?}",
            outcome(&r, "ps1-mysql-0")
        );
        assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());

        // Four rounds so far: each member's history holds four points, none of them reachable.
        let book = &r.clusters.values().next().unwrap().history;
        let h = book.get("ps1-mysql-0").unwrap();
        assert_eq!(h.len(), 4);
        assert!(h.points().all(|p| !p.reachable));
        running.shutdown().await;
    }
}
