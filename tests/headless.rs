//! Operator mode against the in-process sandbox: leader election between replicas (one leads, the other follows
//! and takes over after a crash within the lease duration), /readyz waiting for the engine's caches, /metrics
//! moving, shutdown releasing the lease, and deploy/ staying consistent with the code.
//!
//! `WatchingEngine` stands in for the reconcile engine where the election itself is under test: it keeps a real
//! kube-runtime watch of the PXC clusters in its scope (so "synced" means what it means for the engine) and
//! records when it runs, so the tests can check that two replicas never run at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbdeck::api::pxc::PerconaXtraDBCluster;
use dbdeck::headless::lease::{LeaseConfig, leader_elsewhere};
use dbdeck::headless::{BoxFuture, Engine, EngineFailure, HeadlessOptions, Started};
use dbdeck::observe::live::Scope;
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::runtime::watcher;
use prometheus_client::registry::Registry;
use tokio::sync::{oneshot, watch};

const NS: &str = "default";
const LEASE: &str = "dbdeck-test-leader";

/// Every API request a replica's client sent, as `(method, path, query)`.
type Requests = Arc<Mutex<Vec<(String, String, String)>>>;

fn client(sb: &Sandbox, requests: &Requests) -> kube::Client {
    let log = requests.clone();
    let svc = tower::ServiceBuilder::new()
        .map_request(move |r: http::Request<kube::client::Body>| {
            let uri = r.uri();
            log.lock().unwrap().push((
                r.method().to_string(),
                uri.path().to_string(),
                uri.query().unwrap_or("").to_string(),
            ));
            r
        })
        .service(sb.router());
    kube::Client::new(svc, NS)
}

/// Who is running an engine right now, and whether two ever ran at once.
#[derive(Default)]
struct Activity {
    running: Mutex<Vec<String>>,
    overlap: Mutex<Option<String>>,
    starts: AtomicU64,
}

struct WatchingEngine {
    name: String,
    activity: Arc<Activity>,
}

impl Engine for WatchingEngine {
    fn register_metrics(&self, _registry: &mut Registry) {}

    fn run(
        &self,
        client: kube::Client,
        scope: Scope,
        synced: watch::Sender<bool>,
        shutdown: BoxFuture<()>,
    ) -> BoxFuture<Result<(), EngineFailure>> {
        let name = self.name.clone();
        let activity = self.activity.clone();
        Box::pin(async move {
            {
                let mut running = activity.running.lock().unwrap();
                if !running.is_empty() {
                    *activity.overlap.lock().unwrap() = Some(format!("{name} started while {running:?} ran"));
                }
                running.push(name.clone());
                activity.starts.fetch_add(1, Ordering::SeqCst);
            }
            // Unregisters however the run ends, also when a crash (an aborted task) drops it.
            let _running = Running { name: name.clone(), activity: activity.clone() };
            let api: Api<PerconaXtraDBCluster> = match scope {
                Scope::Namespace(ns) => Api::namespaced(client, &ns),
                Scope::All => Api::all(client),
            };
            let cfg = watcher::Config::default();
            let mut events = watcher::watcher(api, cfg).boxed();
            let mut shutdown = shutdown;
            loop {
                tokio::select! {
                    _ = &mut shutdown => break,
                    ev = events.next() => match ev {
                        Some(Ok(watcher::Event::InitDone)) => { synced.send_replace(true); }
                        Some(Ok(_)) => {}
                        // A missing CRD shows up here; the watcher retries, and /readyz stays false meanwhile.
                        Some(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                        None => break,
                    }
                }
            }
            Ok(())
        })
    }
}

struct Running {
    name: String,
    activity: Arc<Activity>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.activity.running.lock().unwrap().retain(|n| n != &self.name);
    }
}

fn options(identity: &str, duration: Duration) -> HeadlessOptions {
    HeadlessOptions {
        scopes: vec![Scope::Namespace(NS.into())],
        lease: LeaseConfig { name: LEASE.into(), namespace: NS.into(), identity: identity.into(), duration },
        http_addr: ([127, 0, 0, 1], 0).into(),
    }
}

async fn replica(
    client: kube::Client,
    identity: &str,
    duration: Duration,
    activity: &Arc<Activity>,
) -> (Started, oneshot::Sender<()>) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let engine = Arc::new(WatchingEngine { name: identity.into(), activity: activity.clone() });
    let started = dbdeck::headless::start(client, options(identity, duration), engine, None, async move {
        let _ = stop_rx.await;
    })
    .await
    .expect("replica starts");
    (started, stop_tx)
}

async fn wait_until<F: FnMut() -> bool>(what: &str, deadline: Duration, mut f: F) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The value of a sample line (`name{labels} value`) in Prometheus text, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

async fn holder(client: &kube::Client) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    api.get(LEASE).await.expect("lease exists").spec.and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn one_replica_leads_the_other_follows_and_takes_over_after_a_crash() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let requests: Requests = Default::default();
    let admin = client(&sb, &Default::default());
    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    let activity = Arc::new(Activity::default());
    let duration = Duration::from_secs(3);

    let (a, _stop_a) = replica(client(&sb, &requests), "replica-a", duration, &activity).await;
    let mut a_leader = a.is_leader.clone();
    wait_until("replica-a to lead", Duration::from_secs(5), || *a_leader.borrow_and_update()).await;
    let (b, _stop_b) = replica(client(&sb, &requests), "replica-b", duration, &activity).await;

    // B keeps following for several of its rounds while A renews.
    let b_metrics = b.http_addr;
    let start = Instant::now();
    loop {
        let (_, text) = get(b_metrics, "/metrics").await;
        assert!(!*b.is_leader.borrow(), "replica-b must not lead while replica-a renews");
        if sample(&text, "dbdeck_lease_rounds_total{outcome=\"follower\"}") >= 4.0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "replica-b made too few rounds: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(holder(&admin).await.as_deref(), Some("replica-a"));
    assert_eq!(leader_elsewhere(admin.clone(), NS, LEASE).await.as_deref(), Some("replica-a"));
    // Both replicas are ready: the leader's watch synced, the follower follows.
    assert_eq!(get(a.http_addr, "/readyz").await.0, 200);
    assert_eq!(get(b.http_addr, "/readyz").await.0, 200);
    let (_, a_text) = get(a.http_addr, "/metrics").await;
    assert_eq!(sample(&a_text, "dbdeck_leader"), 1.0, "{a_text}");
    assert_eq!(sample(&get(b.http_addr, "/metrics").await.1, "dbdeck_leader"), 0.0);

    // A crashes: nothing is released, B must notice the lease stopped being renewed.
    a.abort();
    let killed = Instant::now();
    let mut b_leader = b.is_leader.clone();
    wait_until("replica-b to take over", duration * 2, || *b_leader.borrow_and_update()).await;
    let takeover = killed.elapsed();
    eprintln!("takeover {takeover:?} after the leader died (lease duration {duration:?})");
    assert!(takeover >= duration / 2, "replica-b took over too early ({takeover:?}): replica-a had just renewed");
    assert_eq!(holder(&admin).await.as_deref(), Some("replica-b"));
    wait_until("replica-b's engine to run", Duration::from_secs(2), || {
        activity.running.lock().unwrap().as_slice() == ["replica-b"]
    })
    .await;
    assert_eq!(*activity.overlap.lock().unwrap(), None, "two engines ran at once");
    assert_eq!(activity.starts.load(Ordering::SeqCst), 2, "one term each");
    b.abort();

    // Everything the replicas asked of the API is in the RBAC table deploy/ grants.
    let grants = dbdeck::headless::rbac::operator_grants();
    for (method, path, query) in requests.lock().unwrap().iter() {
        if let Some((group, resource, verb)) = dbdeck::headless::rbac::permission_for_request(method, path, query) {
            assert!(
                dbdeck::headless::rbac::table_allows(&grants, &group, &resource, &verb),
                "{method} {path}?{query} needs {verb} on {group}/{resource}, which the RBAC table lacks"
            );
        }
    }
}

#[tokio::test]
async fn readyz_waits_for_the_caches_and_shutdown_releases_the_lease() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let admin = client(&sb, &Default::default());
    let activity = Arc::new(Activity::default());
    let duration = Duration::from_secs(3);

    // No CRDs yet: the engine's watch cannot list, so the leader is not ready.
    let (a, stop_a) = replica(client(&sb, &Default::default()), "replica-a", duration, &activity).await;
    let mut leader = a.is_leader.clone();
    wait_until("replica-a to lead", Duration::from_secs(5), || *leader.borrow_and_update()).await;
    let (status, body) = get(a.http_addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("synced"), "{body}");
    assert_eq!(get(a.http_addr, "/healthz").await.0, 200);

    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    let mut not_ready = a.not_ready.clone();
    wait_until("/readyz after the CRDs exist", Duration::from_secs(10), || not_ready.borrow_and_update().is_none())
        .await;
    assert_eq!(get(a.http_addr, "/readyz").await.0, 200);

    // The renewals show in /metrics.
    let renewed = |t: &str| sample(t, "dbdeck_lease_rounds_total{outcome=\"renewed\"}");
    let before = renewed(&get(a.http_addr, "/metrics").await.1);
    let addr = a.http_addr;
    let start = Instant::now();
    loop {
        let text = get(addr, "/metrics").await.1;
        if renewed(&text) > before {
            assert!(text.contains("dbdeck_build_info{version="), "{text}");
            assert_eq!(sample(&text, "dbdeck_leader_terms_total"), 1.0, "{text}");
            break;
        }
        assert!(start.elapsed() < duration, "no renewal within a lease duration: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Shutdown: the engine stops, the lease is released, the replica's run ends cleanly.
    stop_a.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), a.wait()).await.expect("stops within 10 s").expect("clean exit");
    assert!(activity.running.lock().unwrap().is_empty(), "the engine stopped before the replica returned");
    assert_eq!(holder(&admin).await, None, "the lease was released");
    assert_eq!(leader_elsewhere(admin.clone(), NS, LEASE).await, None);

    // A released lease is taken at once, without waiting for the duration.
    let (b, _stop_b) = replica(client(&sb, &Default::default()), "replica-b", duration, &activity).await;
    let mut b_leader = b.is_leader.clone();
    let waited = wait_until("replica-b to lead", duration, || *b_leader.borrow_and_update()).await;
    assert!(waited < duration / 2, "a released lease should be taken at once, took {waited:?}");
    b.abort();
}

#[test]
fn deploy_crds_yaml_is_the_output_of_dbdeck_crd() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/crds.yaml")).unwrap();
    let generated = dbdeck::cmd::crd::crds_yaml().unwrap();
    assert!(committed == generated, "deploy/crds.yaml is stale: regenerate it with `dbdeck crd > deploy/crds.yaml`");
}
