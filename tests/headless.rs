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

#[path = "support/big_stack.rs"]
mod big_stack;
use big_stack::runtime as big_stack_runtime;

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
        loglevel_writes: Default::default(),
        shutdown_grace: Duration::from_secs(10),
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
    let anywhere = dbdeck::headless::lease::leader_anywhere(admin.clone(), LEASE).await.unwrap();
    assert_eq!(anywhere, Some((NS.to_string(), "replica-a".to_string())));
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
    assert_eq!(dbdeck::headless::lease::leader_anywhere(admin.clone(), LEASE).await.unwrap(), None);

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

async fn create_example(client: &kube::Client, file: &str) -> String {
    let path = format!("{}/deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let cr: PerconaXtraDBCluster = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let api: Api<PerconaXtraDBCluster> = Api::namespaced(client.clone(), NS);
    let created = api.create(&Default::default(), &cr).await.expect("cluster created");
    created.metadata.name.unwrap()
}

/// Polls the cluster until the engine wrote a state into its status.
async fn wait_for_state(client: &kube::Client, name: &str, deadline: Duration) -> String {
    let ar = kube::api::ApiResource::erase::<PerconaXtraDBCluster>(&());
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), NS, &ar);
    let start = Instant::now();
    loop {
        let obj = serde_json::to_value(api.get(name).await.expect("cluster readable")).unwrap();
        if let Some(state) = obj["status"]["state"].as_str() {
            return state.to_string();
        }
        assert!(start.elapsed() < deadline, "{name} got no status.state within {deadline:?}: {obj}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_leader_reconciles_the_follower_does_not_and_takes_over_after_a_crash() {
    big_stack_runtime().block_on(leader_runs_the_engine());
}

async fn leader_runs_the_engine() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    sb.start_controllers(Default::default()).unwrap();
    let requests: Requests = Default::default();
    let admin = client(&sb, &Default::default());
    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    let duration = Duration::from_secs(3);
    let start_replica = |identity: &'static str| {
        let c = client(&sb, &requests);
        async move {
            let engine = Arc::new(dbdeck::headless::engine::DbdeckEngine::default());
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let started = dbdeck::headless::start(c, options(identity, duration), engine, None, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
            (started, stop_tx)
        }
    };
    let (a, _stop_a) = start_replica("operator-0").await;
    let mut a_leads = a.is_leader.clone();
    wait_until("operator-0 to lead", Duration::from_secs(15), || *a_leads.borrow_and_update()).await;
    let (b, stop_b) = start_replica("operator-1").await;
    // Readiness with the real engine is not asserted here: the engine does not set its ready flag yet (see the
    // report); `readyz_waits_for_the_caches_and_shutdown_releases_the_lease` covers /readyz.
    let reconciles = |t: &str| sample(t, "dbdeck_reconciles_total{kind=\"PerconaXtraDBCluster\"}");

    let name = create_example(&admin, "pxc-minimal.yaml").await;
    let state = wait_for_state(&admin, &name, Duration::from_secs(30)).await;
    eprintln!("{name}: state {state} under operator-0");
    let a_text = get(a.http_addr, "/metrics").await.1;
    assert!(reconciles(&a_text) > 0.0, "the leader's reconciles did not move: {a_text}");
    assert!(a_text.contains("dbdeck_object_writes_total{kind=\"PerconaXtraDBCluster\"}"), "{a_text}");
    let b_text = get(b.http_addr, "/metrics").await.1;
    assert_eq!(reconciles(&b_text), 0.0, "the follower must not reconcile: {b_text}");
    // Queue depth per kind, and every kind's series present from the start (at 0 where nothing happened yet).
    for kind in ["PerconaXtraDBCluster", "PerconaServerMySQL", "PerconaPGCluster"] {
        let depth = format!("dbdeck_reconcile_queue_depth{{kind=\"{kind}\"}}");
        assert!(a_text.contains(&depth) && b_text.contains(&depth), "{depth}: {a_text}");
        assert!(a_text.contains("# TYPE dbdeck_reconcile_queue_depth gauge"), "{a_text}");
        let no_errors = format!("dbdeck_reconcile_errors_total{{kind=\"{kind}\"}} 0\n");
        assert!(b_text.contains(&no_errors), "the follower lacks {no_errors}: {b_text}");
    }
    assert!(a_text.contains("dbdeck_reconcile_errors_total{kind=\"PerconaPGCluster\"} 0\n"), "{a_text}");
    // The Backup and Restore controllers are measured too (their queues are not: no depth series for them).
    for kind in ["PerconaXtraDBClusterBackup", "PerconaServerMySQLRestore", "PerconaPGBackup"] {
        assert!(a_text.contains(&format!("dbdeck_reconciles_total{{kind=\"{kind}\"}}")), "{kind}: {a_text}");
        assert!(!a_text.contains(&format!("dbdeck_reconcile_queue_depth{{kind=\"{kind}\"}}")), "{a_text}");
    }
    assert!(!*b.is_leader.borrow());

    // The leader dies without releasing; the follower takes over and reconciles a new cluster.
    a.abort();
    let killed = Instant::now();
    let mut b_leads = b.is_leader.clone();
    wait_until("operator-1 to take over", duration * 2, || *b_leads.borrow_and_update()).await;
    eprintln!("operator-1 took over {:?} after operator-0 died", killed.elapsed());
    let api: Api<PerconaXtraDBCluster> = Api::namespaced(admin.clone(), NS);
    let mut second: PerconaXtraDBCluster = api.get(&name).await.unwrap();
    second.metadata = kube::api::ObjectMeta { name: Some("second-db".into()), ..Default::default() };
    second.status = None;
    api.create(&Default::default(), &second).await.expect("second cluster created");
    let state = wait_for_state(&admin, "second-db", Duration::from_secs(30)).await;
    eprintln!("second-db: state {state} under operator-1, {:?} after the crash", killed.elapsed());
    assert!(reconciles(&get(b.http_addr, "/metrics").await.1) > 0.0);

    stop_b.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), b.wait()).await.expect("stops in time").expect("clean");
    assert_eq!(holder(&admin).await, None, "released on shutdown");

    // Every request the engines and the election made is granted by the table deploy/rbac is checked against.
    let grants = dbdeck::headless::rbac::operator_grants();
    let mut seen = std::collections::BTreeSet::new();
    for (method, path, query) in requests.lock().unwrap().iter() {
        if let Some((group, resource, verb)) = dbdeck::headless::rbac::permission_for_request(method, path, query) {
            assert!(
                dbdeck::headless::rbac::table_allows(&grants, &group, &resource, &verb),
                "{method} {path}?{query} needs {verb} on {group}/{resource}, which the RBAC table lacks"
            );
            seen.insert(format!("{verb} {group}/{resource}"));
        }
    }
    eprintln!("permissions used: {seen:?}");
    assert!(seen.iter().any(|p| p.starts_with("patch apps/statefulsets")), "{seen:?}");
}

/// kubectl, when it is installed (CI installs it; .ci/test.sh).
fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> Option<std::process::Output> {
    let ok = std::process::Command::new("kubectl").args(["version", "--client"]).output();
    if !ok.is_ok_and(|o| o.status.success()) {
        eprintln!("kubectl not on PATH: skipping kubectl {args:?}");
        return None;
    }
    let out = std::process::Command::new("kubectl").arg("--kubeconfig").arg(kubeconfig).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

/// The real binary against a sandbox over HTTPS: it leads, reconciles, and on SIGTERM exits 0 within 10 s
/// with the lease released. The deploy/ manifests go through kubectl first, as the walkthrough applies them.
#[test]
fn the_binary_exits_cleanly_on_sigterm_and_releases_the_lease() {
    big_stack_runtime().block_on(binary_exits_cleanly_on_sigterm());
}

async fn binary_exits_cleanly_on_sigterm() {
    use dbdeck::sandbox::serve::{ServeOptions, start};
    let running = start(ServeOptions { controllers: Some(Default::default()), ..ServeOptions::private() })
        .await
        .expect("sandbox serves");
    let admin = running.client().await.unwrap();
    let kc = running.kubeconfig_path.clone();
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    if kubectl(&kc, &["create", "namespace", "dbdeck"]).is_some() {
        kubectl(&kc, &["apply", "--server-side", "-f", &format!("{deploy}/crds.yaml")]);
        for rbac in ["rbac/cluster-wide.yaml", "rbac/namespaced.yaml", "operator.yaml"] {
            kubectl(&kc, &["apply", "-n", "dbdeck", "-f", &format!("{deploy}/{rbac}")]);
        }
        let out =
            kubectl(&kc, &["get", "-n", "dbdeck", "deployment/dbdeck-operator", "-o", "jsonpath={.spec.replicas}"]);
        assert_eq!(String::from_utf8_lossy(&out.unwrap().stdout), "2");
    } else {
        dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    }

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["--headless", "--kubeconfig"])
        .arg(&kc)
        .args(["-n", NS, "--lease-name", LEASE, "--lease-duration", "3", "--metrics-addr", "127.0.0.1:0"])
        .args(["--log-format", "json", "--log-level", "info"])
        .env("POD_NAME", "operator-sigterm")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dbdeck starts");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });

    let start_at = Instant::now();
    loop {
        let api: Api<Lease> = Api::namespaced(admin.clone(), NS);
        let held = api.get_opt(LEASE).await.unwrap().and_then(|l| l.spec).and_then(|s| s.holder_identity);
        if held.as_deref() == Some("operator-sigterm") {
            break;
        }
        assert!(start_at.elapsed() < Duration::from_secs(20), "never led; log:\n{}", log.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let name = create_example(&admin, "pxc-minimal.yaml").await;
    wait_for_state(&admin, &name, Duration::from_secs(30)).await;

    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|_| panic!("no exit within 10 s of SIGTERM; log:\n{}", log.lock().unwrap()))
        .unwrap();
    eprintln!("exit {status:?} {:?} after SIGTERM", signalled.elapsed());
    assert!(status.success(), "exit status {status:?}; log:\n{}", log.lock().unwrap());
    assert_eq!(holder(&admin).await, None, "the lease was released; log:\n{}", log.lock().unwrap());
    let text = log.lock().unwrap().clone();
    assert!(text.lines().all(|l| l.starts_with('{')), "--log-format json writes JSON lines:\n{text}");
    assert!(text.contains("lease released on shutdown"), "{text}");
    running.shutdown().await;
}

#[test]
fn the_operator_deployment_is_what_the_task_asks_for() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/operator.yaml");
    let d: k8s_openapi::api::apps::v1::Deployment =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("dbdeck-operator"), "the ServiceAccount deploy/rbac binds");
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().and_then(|p| p.http_get.as_ref()).and_then(|h| h.path.clone())
    };
    assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/readyz"));
    let resources = c.resources.clone().unwrap();
    assert!(resources.requests.is_some() && resources.limits.is_some());
    let pod_name = c.env.iter().flatten().find(|e| e.name == "POD_NAME").expect("POD_NAME is set");
    let field = pod_name.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).map(|f| f.field_path.as_str());
    assert_eq!(field, Some("metadata.name"));
    // The args are flags this build accepts.
    let mut argv = vec!["dbdeck".to_string()];
    argv.extend(c.args.clone().unwrap_or_default());
    let cli = <dbdeck::cli::Cli as clap::Parser>::try_parse_from(&argv).expect("operator.yaml's args parse");
    assert!(cli.headless.headless);
    assert_eq!(cli.headless.metrics_addr(false).port(), 8080);
    // The manifest does not open `PUT /loglevel` to the pod network.
    assert!(!cli.headless.allow_loglevel_changes, "operator.yaml must not open PUT /loglevel to anyone");
    let port = c.ports.iter().flatten().find(|p| p.name.as_deref() == Some("http")).unwrap();
    assert_eq!(port.container_port, 8080);
}

/// A Role can only be created by someone who holds what it grants (RBAC's escalation check). The engine builds
/// Roles for Orchestrator (PS async) and Patroni (PG); the operator's table must cover every rule in them, as
/// the builders produce them for the shipped examples.
#[test]
fn the_operator_holds_every_permission_the_roles_it_builds_grant() {
    use dbdeck::engine::{pg, ps};
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/deploy/examples/{f}")).unwrap();
    let uid = "0f7c1c2e-5d1a-4d3a-9bbb-2f9a1f4b7e01";
    let mut objects: Vec<serde_json::Value> = Vec::new();

    let mut ps_cr: dbdeck::api::ps::PerconaServerMySQL = serde_yaml::from_str(&read("ps-async-minimal.yaml")).unwrap();
    ps_cr.metadata.namespace = Some(NS.into());
    ps_cr.metadata.uid = Some(uid.into());
    let ps_inputs = ps::PsBuildInputs {
        users_secret: None,
        tls_secret: None,
        generated_passwords: ps::SYSTEM_USERS.iter().map(|u| (u.to_string(), format!("{u}-pw"))).collect(),
        generated_tls: Some(ps::TlsMaterial { ca_crt: "ca".into(), tls_crt: "crt".into(), tls_key: "key".into() }),
    };
    objects.extend(ps::build(&ps_cr, &ps_inputs).expect("PS builds").to_values());

    let mut pg_cr: dbdeck::api::pg::PerconaPGCluster = serde_yaml::from_str(&read("pg-minimal.yaml")).unwrap();
    pg_cr.metadata.namespace = Some(NS.into());
    pg_cr.metadata.uid = Some(uid.into());
    let mut pg_inputs = pg::PgBuildInputs::default();
    for (set, count) in pg::instance_counts(&pg_cr) {
        pg_inputs.instance_suffixes.insert(set, (0..count).map(|i| format!("a{i:03}")).collect());
    }
    let creds = |user: &str| pg::UserCredentials {
        password: format!("pw-{user}"),
        verifier: pg::secrets::scram_sha256_verifier(&format!("pw-{user}"), b"0123456789abcdef", 4096),
    };
    for user in pg::user_names(&pg_cr) {
        pg_inputs.users.insert(user.clone(), creds(&user));
    }
    pg_inputs.pgbouncer_auth = Some(creds("_crunchypgbouncer"));
    let pair = || pg::CertPair { cert_pem: "cert".into(), key_pem: "key".into() };
    pg_inputs.certificates =
        Some(pg::PgCertificates { ca: pair(), cluster: pair(), replication: pair(), pgbackrest: pair() });
    objects.extend(pg::build(&pg_cr, &pg_inputs).expect("PG builds").to_values().unwrap());

    let grants = dbdeck::headless::rbac::operator_grants();
    let mut roles = 0;
    for role in objects.iter().filter(|o| o["kind"] == "Role") {
        roles += 1;
        let role: k8s_openapi::api::rbac::v1::Role = serde_json::from_value(role.clone()).unwrap();
        for (group, resource, verb) in dbdeck::headless::rbac::rules_expand(&role.rules.unwrap_or_default()) {
            assert!(
                dbdeck::headless::rbac::table_allows(&grants, &group, &resource, &verb),
                "Role {} grants {verb} on {group}/{resource}, which the operator itself lacks",
                role.metadata.name.unwrap_or_default()
            );
        }
    }
    assert_eq!(roles, 2, "one Role for Orchestrator, one for Patroni");
    // And every kind the builders produce is one the table lets the engine create and patch.
    for o in &objects {
        let kind = o["kind"].as_str().unwrap();
        let (group, resource, _) = dbdeck::headless::rbac::resource_for_kind(kind).expect("a known kind");
        for verb in ["create", "patch", "get", "list", "watch"] {
            assert!(
                dbdeck::headless::rbac::table_allows(&grants, &group, &resource, verb),
                "the engine builds {kind} but the table lacks {verb} on {group}/{resource}"
            );
        }
    }
}

/// Without the CRDs the engine cannot start: the replica ends with a sentence that names the scope and the fix,
/// and gives the lease up so another replica (or the restarted pod) can try.
#[test]
fn an_engine_that_cannot_start_ends_the_replica_and_releases_the_lease() {
    big_stack_runtime().block_on(async {
        let sb = Sandbox::new(SandboxConfig::default()).unwrap();
        let admin = client(&sb, &Default::default());
        let engine = Arc::new(dbdeck::headless::engine::DbdeckEngine::default());
        let started = dbdeck::headless::start(
            client(&sb, &Default::default()),
            options("operator-0", Duration::from_secs(3)),
            engine,
            None,
            std::future::pending::<()>(),
        )
        .await
        .unwrap();
        let err = tokio::time::timeout(Duration::from_secs(10), started.wait())
            .await
            .expect("ends by itself")
            .expect_err("an engine error ends the replica")
            .to_string();
        assert!(err.contains("namespace default") && err.contains("dbdeck crd --apply"), "{err}");
        assert_eq!(holder(&admin).await, None, "released after the engine failed");
    });
}

/// Two candidates racing for a free lease (to create it, or to take it over once released): the
/// resourceVersion-guarded writes let exactly one of them win every time.
#[tokio::test]
async fn two_candidates_racing_never_both_win() {
    use dbdeck::headless::lease::Elector;
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let config = |identity: &str| options(identity, Duration::from_secs(3)).lease;
    let (a_log, b_log): (Requests, Requests) = Default::default();
    let mut a = Elector::new(client(&sb, &a_log), config("a"));
    let mut b = Elector::new(client(&sb, &b_log), config("b"));
    let mut wins = (0, 0);
    for round in 0..20 {
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(ra != rb, "round {round}: a won {ra}, b won {rb}");
        let winner = if ra { "a" } else { "b" };
        assert_eq!(holder(&kube::Client::new(sb.router(), NS)).await.as_deref(), Some(winner));
        if ra {
            wins.0 += 1;
            assert!(a.release().await.unwrap());
        } else {
            wins.1 += 1;
            assert!(b.release().await.unwrap());
        }
    }
    // The race was real: candidates wrote (create or replace) in rounds they then lost, and the server's 409
    // on the stale resourceVersion is what stopped them.
    let writes = |log: &Requests| log.lock().unwrap().iter().filter(|(m, ..)| m == "POST" || m == "PUT").count();
    let (wa, wb) = (writes(&a_log), writes(&b_log));
    eprintln!("wins a/b: {wins:?}; writes a/b: {wa}/{wb}");
    let (acquisitions, releases) = (wins.0 + wins.1, 20);
    assert!(wa + wb > acquisitions + releases, "no round had two writers: {wa}/{wb}");
}

/// `dbdeck --sandbox --headless`: the sandbox (with its example clusters) and the engine in one process, no UI;
/// it serves /healthz, reconciles, and stops with exit 0 on SIGINT (Ctrl-C).
#[test]
fn sandbox_headless_runs_and_stops_on_sigint() {
    big_stack_runtime().block_on(async {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbdeck"))
            .args(["--sandbox", "--headless", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"])
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("dbdeck starts");
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        // The JSON log line that announces the HTTP address, then the one that says the engine leads.
        let mut addr: Option<std::net::SocketAddr> = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await else {
                break;
            };
            seen.push_str(&line);
            seen.push('\n');
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["http_addr"].as_str() {
                addr = a.parse().ok();
            }
            if v["message"] == "engine started" {
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no http_addr logged:\n{seen}"));
        assert!(seen.contains("engine started"), "{seen}");
        assert_eq!(get(addr, "/healthz").await.0, 200);
        // Signal once the engine works (it reconciled the example clusters), as an operator is stopped in practice.
        let start = Instant::now();
        while sample(&get(addr, "/metrics").await.1, "dbdeck_reconciles_total{kind=\"PerconaXtraDBCluster\"}") == 0.0 {
            assert!(start.elapsed() < Duration::from_secs(30), "no reconcile within 30 s:\n{seen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = Arc::new(Mutex::new(seen));
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let pid = child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within 10 s of SIGINT; log:\n{}", log.lock().unwrap()))
            .unwrap();
        assert!(status.success(), "{status:?}; log:\n{}", log.lock().unwrap());
    });
}

/// A leader that finds the lease taken (here: rewritten by another holder) stops its engine and follows; a
/// follower is still ready.
#[tokio::test]
async fn a_leader_that_loses_the_lease_stops_its_engine_and_stays_ready() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let admin = client(&sb, &Default::default());
    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    let activity = Arc::new(Activity::default());
    let (a, _stop) = replica(client(&sb, &Default::default()), "replica-a", Duration::from_secs(3), &activity).await;
    let mut leads = a.is_leader.clone();
    let mut not_ready = a.not_ready.clone();
    wait_until("replica-a to lead and sync", Duration::from_secs(5), || {
        *leads.borrow_and_update() && not_ready.borrow_and_update().is_none()
    })
    .await;
    assert_eq!(activity.running.lock().unwrap().as_slice(), ["replica-a"]);

    let api: Api<Lease> = Api::namespaced(admin.clone(), NS);
    let mut lease = api.get(LEASE).await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.renew_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(k8s_openapi::jiff::Timestamp::now()));
    api.replace(LEASE, &Default::default(), &lease).await.expect("lease rewritten");

    wait_until("replica-a to step down", Duration::from_secs(3), || !*leads.borrow_and_update()).await;
    wait_until("replica-a's engine to stop", Duration::from_secs(3), || activity.running.lock().unwrap().is_empty())
        .await;
    assert_eq!(get(a.http_addr, "/readyz").await.0, 200, "a follower is ready");
    assert_eq!(sample(&get(a.http_addr, "/metrics").await.1, "dbdeck_leader"), 0.0);
    assert_eq!(holder(&admin).await.as_deref(), Some("intruder"), "the follower leaves a live holder alone");
    a.abort();
}

/// An engine that never finishes once asked to stop: the replica gives up after the grace, still releases the
/// lease (rather than leaving it to the kubelet's SIGKILL) and says why.
#[tokio::test]
async fn an_engine_that_does_not_stop_is_abandoned_after_the_grace_and_the_lease_released() {
    struct StuckEngine;
    impl Engine for StuckEngine {
        fn register_metrics(&self, _registry: &mut Registry) {}
        fn run(
            &self,
            _client: kube::Client,
            _scope: Scope,
            synced: watch::Sender<bool>,
            _shutdown: BoxFuture<()>,
        ) -> BoxFuture<Result<(), EngineFailure>> {
            Box::pin(async move {
                synced.send_replace(true);
                std::future::pending().await
            })
        }
    }
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let admin = client(&sb, &Default::default());
    let mut opts = options("replica-a", Duration::from_secs(3));
    opts.shutdown_grace = Duration::from_millis(300);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let started = dbdeck::headless::start(client(&sb, &Default::default()), opts, Arc::new(StuckEngine), None, async {
        let _ = stop_rx.await;
    })
    .await
    .unwrap();
    let mut leads = started.is_leader.clone();
    wait_until("replica-a to lead", Duration::from_secs(5), || *leads.borrow_and_update()).await;
    stop_tx.send(()).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), started.wait())
        .await
        .expect("ends after the grace")
        .expect_err("an abandoned engine is an error")
        .to_string();
    assert!(err.contains("did not finish") && err.contains("300ms"), "{err}");
    assert_eq!(holder(&admin).await, None, "released even so");
}

/// A console in tmux (`dbdeck --kubeconfig KC -n default`), or `None` when tmux is missing (CI installs it).
struct ConsoleSession(String);

impl ConsoleSession {
    fn start(test: &str, kubeconfig: &std::path::Path) -> Option<ConsoleSession> {
        if std::process::Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("tmux is not installed; skipping the console check");
            return None;
        }
        let name = format!("dbdeck-{test}-{}", std::process::id());
        let cmd = format!("{} --kubeconfig {} -n {NS}; sleep 60", env!("CARGO_BIN_EXE_dbdeck"), kubeconfig.display());
        let ok = std::process::Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "45", &cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Some(ConsoleSession(name))
    }

    fn pane(&self) -> String {
        let out = std::process::Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if f(&pane) {
                return pane;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the console never showed {what}:\n{pane}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ConsoleSession {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

/// Two engines must not fight: a console started while a dbdeck operator holds its Lease (in another namespace)
/// says so in its status bar and reconciles nothing; once the Lease is gone, a new console runs its engine and
/// the same cluster gets reconciled, which shows the check is what kept the first one out.
#[test]
fn the_console_does_not_reconcile_while_an_operator_leads() {
    big_stack_runtime().block_on(console_defers_to_the_operator());
}

async fn console_defers_to_the_operator() {
    use dbdeck::sandbox::serve::{ServeOptions, start};
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Namespace;
    let running = start(ServeOptions { controllers: Some(Default::default()), ..ServeOptions::private() })
        .await
        .expect("sandbox serves");
    let admin = running.client().await.unwrap();
    let kc = running.kubeconfig_path.clone();
    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "dbdeck-ops"}})).unwrap();
    namespaces.create(&Default::default(), &ns).await.unwrap();
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "dbdeck-ops");
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(k8s_openapi::jiff::Timestamp::now());
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": dbdeck::headless::lease::DEFAULT_LEASE_NAME},
        "spec": {"holderIdentity": "operator-7f9c", "leaseDurationSeconds": 3600},
    }))
    .unwrap();
    let mut lease = lease;
    lease.spec.as_mut().unwrap().renew_time = Some(now.clone());
    lease.spec.as_mut().unwrap().acquire_time = Some(now);
    leases.create(&Default::default(), &lease).await.unwrap();
    let name = create_example(&admin, "pxc-minimal.yaml").await;

    let Some(console) = ConsoleSession::start("operator-leads", &kc) else {
        running.shutdown().await;
        return;
    };
    let pane = console.wait_for("the engine-off notice", |p| p.contains("engine off here") && p.contains(&name)).await;
    assert!(pane.contains("operator-7f9c") && pane.contains("dbdeck-ops/"), "{pane}");
    // The console is up and lists the cluster; an engine would have written its first status by now (the control
    // below measures it). Give it three more seconds all the same.
    let ar = kube::api::ApiResource::erase::<PerconaXtraDBCluster>(&());
    let clusters: Api<kube::api::DynamicObject> = Api::namespaced_with(admin.clone(), NS, &ar);
    let sets: Api<StatefulSet> = Api::namespaced(admin.clone(), NS);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cluster = serde_json::to_value(clusters.get(&name).await.unwrap()).unwrap();
    assert!(cluster["status"]["state"].is_null(), "the console reconciled while the operator leads: {cluster}");
    assert!(sets.list(&Default::default()).await.unwrap().items.is_empty(), "the console created StatefulSets");
    drop(console);

    // Control: without a live Lease the console's own engine reconciles the same cluster.
    leases.delete(dbdeck::headless::lease::DEFAULT_LEASE_NAME, &Default::default()).await.unwrap();
    let console = ConsoleSession::start("no-operator", &kc).expect("tmux was there a moment ago");
    let started = Instant::now();
    let state = wait_for_state(&admin, &name, Duration::from_secs(30)).await;
    eprintln!("without an operator the console's engine wrote state {state:?} after {:?}", started.elapsed());
    assert!(!console.pane().contains("engine off here"), "{}", console.pane());
    drop(console);
    running.shutdown().await;
}
