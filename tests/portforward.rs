//! Port-forward through the sandbox (HTTPS, kube's WebSocket protocol) and the probes reaching real databases
//! through it: pods attached to a PostgreSQL primary and a MariaDB source/replica pair on loopback, an echo
//! server for raw bytes, and pods with nothing attached.
//!
//! Needs the packages `.ci/install-db.sh` installs; the servers are started and removed by the tests.

#[path = "support/dbservers.rs"]
mod dbservers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dbdeck::observe::facts::{FamilyDetail, MemberFacts, ProbeOutcome, Role, ThreadState};
use dbdeck::observe::probe::{Credentials, Endpoint, Family, ProbeConfig, ProbeTarget, Prober, TlsMode};
use dbdeck::observe::reach::{ReachMode, Reacher};
use dbdeck::sandbox::serve::{self, RunningSandbox, ServeOptions};
use dbservers::*;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{Api, DeleteParams, PostParams};
use mysql_async::prelude::Queryable;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn require(available: bool, what: &str) {
    assert!(available, "{what} is not installed: run `bash .ci/install-db.sh` first");
}

async fn sandbox() -> (RunningSandbox, tempfile::TempDir, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let running = serve::start(ServeOptions { state_dir: Some(dir.path().to_path_buf()), ..Default::default() })
        .await
        .expect("start the sandbox");
    let client = running.client().await.expect("client");
    (running, dir, client)
}

async fn create_pod(client: &kube::Client, name: &str, port: u16) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "db", "image": "db:test", "ports": [{"containerPort": port}]}]},
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &pod).await.expect("create pod")
}

fn target(member: &str, user: &str, password: &str, family: Family) -> ProbeTarget {
    ProbeTarget {
        member: member.into(),
        // Replaced by the reacher with the bridge's address.
        endpoint: Endpoint::new("invalid.example", 1),
        credentials: Credentials::new(user, password),
        family,
        tls: TlsMode::Disable,
    }
}

/// Probes until `done` holds or the deadline passes (replication takes a moment to show).
async fn probe_until<F: Future<Output = MemberFacts>>(
    mut probe: impl FnMut() -> F,
    deadline: Duration,
    what: &str,
    done: impl Fn(&MemberFacts) -> bool,
) -> MemberFacts {
    let end = Instant::now() + deadline;
    loop {
        let reading = probe().await;
        if done(&reading) {
            return reading;
        }
        assert!(Instant::now() < end, "{what}: not within {deadline:?}; last reading {reading:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A TCP server that writes back whatever it reads, and closes its side when the client closes; the counter
/// says how many connections are open.
async fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, open)
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < end, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_portforward_relays_bytes_both_ways() {
    let (running, _dir, client) = sandbox().await;
    create_pod(&client, "echo-0", 7000).await;
    let (echo, open) = echo_server().await;
    // Through the admin route, as `dbdeck sandbox attach` will.
    let body = json!({"namespace": "default", "pod": "echo-0", "port": 7000, "target": echo.to_string()});
    let req = http::Request::post("/_sandbox/attach").body(serde_json::to_vec(&body).unwrap()).unwrap();
    let answer: serde_json::Value = client.request(req).await.expect("attach");
    assert_eq!(answer["target"], echo.to_string());
    let listed: serde_json::Value =
        client.request(http::Request::get("/_sandbox/attach").body(vec![]).unwrap()).await.unwrap();
    assert_eq!(listed["items"][0]["pod"], "echo-0");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut pf = pods.portforward("echo-0", &[7000]).await.expect("port-forward opens");
    let mut stream = pf.take_stream(7000).unwrap();
    stream.write_all(b"hello through the sandbox").await.unwrap();
    let mut buf = [0u8; 25];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello through the sandbox");

    // A payload bigger than the socket buffers on the way comes back whole and in order while still being sent. (kube ends the read side as soon
    // as the write side is shut — the v4 protocol has no half-close — so read everything first.)
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = tokio::io::split(stream);
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w
    });
    let mut back = vec![0u8; payload.len()];
    tokio::time::timeout(Duration::from_secs(10), r.read_exact(&mut back)).await.expect("echo within 10 s").unwrap();
    assert!(back == payload, "echoed bytes differ");
    // Closing our side closes the WebSocket; the sandbox closes the echo connection and the forwarder ends cleanly.
    let mut w = writer.await.unwrap();
    w.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut rest)).await.expect("stream ends").unwrap();
    assert!(rest.is_empty());
    tokio::time::timeout(Duration::from_secs(10), pf.join()).await.expect("forwarder ends").expect("clean end");
    wait_for("the sandbox closes its connection to the target", || open.load(Ordering::SeqCst) == 0).await;

    // Two ports in one forward: the attached one works while the other reports its error.
    let mut pf = pods.portforward("echo-0", &[7000, 7001]).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), pf.take_error(7001).unwrap()).await.unwrap().unwrap();
    assert!(message.starts_with("error forwarding port 7001 to pod default/echo-0"), "{message}");
    let mut stream = pf.take_stream(7000).unwrap();
    stream.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf, b"still here");
    assert_eq!(open.load(Ordering::SeqCst), 1);
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), pf.join()).await.expect("forwarder ends").expect("clean end");
    wait_for("the second session's target connection closes", || open.load(Ordering::SeqCst) == 0).await;

    // Detached again: the next port-forward reports it.
    let req = http::Request::delete("/_sandbox/attach")
        .body(serde_json::to_vec(&json!({"pod": "echo-0", "port": 7000})).unwrap())
        .unwrap();
    let answer: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(answer["detached"], true);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_portforward_explains_what_is_missing() {
    let (running, _dir, client) = sandbox().await;
    create_pod(&client, "lonely-0", 3306).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // A pod with nothing attached: the stream opens, the error channel says why, then the stream ends.
    let mut pf = pods.portforward("lonely-0", &[3306]).await.expect("upgrade succeeds as a kubelet's does");
    let error = pf.take_error(3306).unwrap();
    let mut stream = pf.take_stream(3306).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), error).await.expect("error within 5 s");
    let message = message.expect("an error message");
    assert!(message.starts_with("error forwarding port 3306 to pod default/lonely-0:"), "{message}");
    assert!(message.contains("nothing is attached"), "{message}");
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await.unwrap().unwrap();
    assert!(rest.is_empty());

    // An attached endpoint that refuses: the kubelet-like message names it.
    let refused: SocketAddr = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
    running.sandbox.attach("default", "lonely-0", 3306, refused);
    let mut pf = pods.portforward("lonely-0", &[3306]).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), pf.take_error(3306).unwrap()).await.unwrap().unwrap();
    assert!(message.contains(&format!("failed to connect to the attached endpoint {refused}")), "{message}");

    // No such pod: refused before the upgrade with a NotFound Status.
    let err = pods.portforward("nobody-0", &[3306]).await.err().expect("no such pod");
    let kube::Error::Api(status) = err else { panic!("not an API error: {err:?}") };
    assert_eq!(status.code, 404);
    assert!(status.message.contains("\"nobody-0\" not found"), "{}", status.message);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_read_postgres_through_the_sandbox_port_forward() {
    require(postgres_available(), "PostgreSQL 15");
    let primary = Postgres::start_primary().await.expect("start PostgreSQL primary");
    let (running, _dir, client) = sandbox().await;
    let pod = create_pod(&client, "pg-0", 5432).await;
    running.sandbox.attach("default", "pg-0", 5432, SocketAddr::from(([127, 0, 0, 1], primary.port)));

    let reacher = Reacher::new(client.clone(), ReachMode::Workstation);
    let prober = Prober::new(ProbeConfig::default());
    let t = target("pg-0", "postgres", PG_PASSWORD, Family::Postgres);
    let reading = reacher.probe(&prober, &pod, 5432, t.clone()).await;
    let ProbeOutcome::Ok(facts) = &reading.outcome else { panic!("no facts: {reading:?}") };
    assert_eq!(facts.role, Role::Primary);
    assert!(facts.version.starts_with("15."), "{}", facts.version);
    let FamilyDetail::Postgres(detail) = &facts.detail else { panic!("not postgres: {facts:?}") };
    assert!(!detail.in_recovery);
    assert_eq!(detail.timeline, Some(1));
    let lsn = detail.current_lsn.clone().expect("current LSN");
    assert!(lsn.contains('/'), "{lsn}");

    // Writes on the primary move the LSN read through the bridge; the bridge and the connection are reused.
    let admin = primary.admin().await.unwrap();
    admin.batch_execute("CREATE TABLE t (v int); INSERT INTO t SELECT generate_series(1, 1000)").await.unwrap();
    let again = reacher.probe(&prober, &pod, 5432, t.clone()).await;
    let ProbeOutcome::Ok(facts) = &again.outcome else { panic!("no facts: {again:?}") };
    let FamilyDetail::Postgres(detail) = &facts.detail else { panic!("not postgres") };
    assert_ne!(detail.current_lsn.as_deref(), Some(lsn.as_str()));
    assert_eq!(reacher.bridge_count(), 1);
    assert_eq!(prober.pooled_connections().await, 1);

    // The pod goes away: its bridge is dropped, and a probe through the old address is refused.
    let addr = reacher.reach(&pod, 5432).unwrap();
    assert_eq!(reacher.reach(&pod, 5432).unwrap(), addr, "one bridge per pod port");
    assert!(addr.ip().is_loopback());
    Api::<Pod>::namespaced(client.clone(), "default").delete("pg-0", &DeleteParams::default()).await.unwrap();
    reacher.retain_pods(std::iter::empty());
    assert_eq!(reacher.bridge_count(), 0);
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the bridge listener still accepts after the pod went away");

    // In a cluster the pod IP is used as is (here the pod "runs" on loopback); no bridge is made.
    let in_cluster = Reacher::new(client.clone(), ReachMode::InCluster);
    let mut routable = pod.clone();
    routable.status = Some(PodStatus { pod_ip: Some("127.0.0.1".into()), ..Default::default() });
    let direct = in_cluster.probe(&prober, &routable, primary.port, t.clone()).await;
    assert_eq!(direct.facts().map(|f| &f.role), Some(&Role::Primary), "{direct:?}");
    assert_eq!(in_cluster.bridge_count(), 0);
    let pending = in_cluster.probe(&prober, &pod, 5432, t).await;
    let ProbeOutcome::Unreachable { reason } = &pending.outcome else { panic!("{pending:?}") };
    assert_eq!(reason, "pod default/pg-0 has no IP address yet (status.podIP is empty)");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_read_mariadb_replication_through_the_sandbox_port_forward() {
    require(mariadb_available(), "MariaDB");
    let pair = MariaDbPair::start().await.expect("start MariaDB source and replica");
    let (running, _dir, client) = sandbox().await;
    let source_pod = create_pod(&client, "db-0", 3306).await;
    let replica_pod = create_pod(&client, "db-1", 3306).await;
    running.sandbox.attach("default", "db-0", 3306, SocketAddr::from(([127, 0, 0, 1], pair.source.port)));
    running.sandbox.attach("default", "db-1", 3306, SocketAddr::from(([127, 0, 0, 1], pair.replica.port)));
    let mut src = pair.source.admin().await.unwrap();
    src.query_drop("CREATE DATABASE app").await.unwrap();

    let reacher = Reacher::new(client.clone(), ReachMode::Workstation);
    let prober = Prober::new(ProbeConfig::default());
    let t = |m: &str| target(m, MONITOR_USER, MONITOR_PASSWORD, Family::MysqlAsync);

    let source = reacher.probe(&prober, &source_pod, 3306, t("db-0")).await;
    let ProbeOutcome::Ok(facts) = &source.outcome else { panic!("no facts: {source:?}") };
    assert_eq!(facts.role, Role::Source);
    let FamilyDetail::Async(detail) = &facts.detail else { panic!("not async: {facts:?}") };
    assert!(detail.channels.is_empty());
    let source_gtid = detail.gtid_executed.clone();
    assert!(source_gtid.starts_with("0-1-"), "{source_gtid}");

    // The replica, through its own bridge, has applied what the source executed.
    let replica = probe_until(
        || reacher.probe(&prober, &replica_pod, 3306, t("db-1")),
        Duration::from_secs(30),
        "replica caught up",
        |m| {
            let Some(FamilyDetail::Async(d)) = m.facts().map(|f| &f.detail) else { return false };
            d.channels.first().is_some_and(|c| c.executed_gtids == source_gtid)
        },
    )
    .await;
    let facts = replica.facts().unwrap();
    assert_eq!(facts.role, Role::Replica);
    let FamilyDetail::Async(detail) = &facts.detail else { panic!("not async") };
    assert_eq!(detail.channels[0].io_running, ThreadState::Running);
    assert!(detail.channels[0].sql_running);
    assert_eq!(detail.channels[0].source_port, Some(pair.source.port));
    assert_eq!(reacher.bridge_count(), 2);

    // A wrong password through the bridge: refused, and the reason names the pod, not the bridge's local port.
    let wrong = reacher.probe(&prober, &source_pod, 3306, target("db-0", MONITOR_USER, "wrong", Family::MysqlAsync));
    let ProbeOutcome::AuthFailed { reason } = &wrong.await.outcome else { panic!("expected an auth failure") };
    assert!(reason.starts_with("user 'monitor' was refused by pod default/db-0:3306: Access denied"), "{reason}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unattached_or_missing_pods_are_unreachable_with_the_reason() {
    let (running, _dir, client) = sandbox().await;
    let pod = create_pod(&client, "pg-9", 5432).await;
    let reacher = Reacher::new(client.clone(), ReachMode::Workstation);
    let config = ProbeConfig::default();
    let prober = Prober::new(config);
    let budget = config.connect_timeout + config.query_timeout;

    for family in [Family::Postgres, Family::MysqlAsync] {
        let started = Instant::now();
        let reading = reacher.probe(&prober, &pod, 5432, target("pg-9", "postgres", "pw", family)).await;
        assert!(started.elapsed() < budget, "{family:?} took {:?}", started.elapsed());
        let ProbeOutcome::Unreachable { reason } = &reading.outcome else { panic!("{family:?}: {reading:?}") };
        assert!(reason.starts_with("port-forward to pod default/pg-9 failed: error forwarding port 5432"), "{reason}");
        assert!(reason.contains("nothing is attached"), "{reason}");
    }

    // A pod the API server does not know: the NotFound message comes through.
    let mut ghost = pod.clone();
    ghost.metadata.name = Some("ghost-0".into());
    let started = Instant::now();
    let reading = reacher.probe(&prober, &ghost, 5432, target("ghost-0", "postgres", "pw", Family::Postgres)).await;
    assert!(started.elapsed() < budget, "took {:?}", started.elapsed());
    let ProbeOutcome::Unreachable { reason } = &reading.outcome else { panic!("{reading:?}") };
    assert!(reason.starts_with("port-forward to pod default/ghost-0 failed:"), "{reason}");
    assert!(reason.contains("\"ghost-0\" not found"), "{reason}");
    running.shutdown().await;
}
