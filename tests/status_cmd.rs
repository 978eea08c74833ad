//! `dbdeck status -o json|yaml|text` against an in-process sandbox holding the example clusters.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

#[path = "support/big_stack.rs"]
mod big_stack;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_stable_json_of_the_examples() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let sandbox = dbdeck::sandbox::serve::start(dbdeck::sandbox::serve::ServeOptions {
        kubeconfig_out: Some(kubeconfig.clone()),
        ..dbdeck::sandbox::serve::ServeOptions::private()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    let created = dbdeck::console::seed::seed(client, "default", true).await.unwrap();
    assert_eq!(created.len(), 4, "{created:?}");

    let run = |args: &[&str]| {
        let kc = kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_dbdeck"))
                    .arg("--kubeconfig")
                    .arg(&kc)
                    .args(&args)
                    .env_remove("KUBECONFIG")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };

    let out = run(&["status", "-n", "default", "-o", "json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let views: Value = serde_json::from_slice(&out.stdout).unwrap();
    let views = views.as_array().unwrap();
    let mut kinds: Vec<(String, String)> = views
        .iter()
        .map(|v| (v["kind"]["family"].as_str().unwrap().to_string(), v["name"].as_str().unwrap().to_string()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("pg".into(), "orders-db".into()),
            ("ps".into(), "inventory-db".into()),
            ("ps".into(), "ledger-async".into()),
            ("pxc".into(), "shop-db".into())
        ] as [(String, String); 4]
    );
    let expected: BTreeSet<String> = [
        "kind",
        "namespace",
        "name",
        "state",
        "stateReason",
        "host",
        "created",
        "version",
        "crVersion",
        "paused",
        "components",
        "members",
        "pvcs",
        "backups",
        "restores",
        "backupStorages",
        "nextScheduledBackup",
        "lastSuccessfulBackup",
        "pitr",
        "whyNotReady",
        "conditions",
        "events",
        "finalizers",
        "deleting",
        "dbFacts",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for v in views {
        assert_eq!(keys(v), expected, "{}", v["name"]);
        // No operator runs in this build: the state is honestly unknown, with the reason.
        assert_eq!(v["state"], "unknown");
        assert!(v["stateReason"].as_str().unwrap().contains("no operator"));
        let comp = &v["components"][0];
        assert_eq!(keys(comp), ["kind", "name", "ready", "size", "status"].map(String::from).into());
        assert_eq!(comp["ready"], 0);
        // No pods, so no database member was read.
        assert_eq!(v["dbFacts"], serde_json::json!([]));
    }
    let pxc = views.iter().find(|v| v["kind"]["family"] == "pxc").unwrap();
    assert_eq!(pxc["components"][0]["size"], 3);
    assert_eq!(pxc["components"][1]["name"], "haproxy");

    let out = run(&["status", "shop-db", "-n", "default"]).await;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("KIND"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains("shop-db")).count(), 2, "one row and its reason: {text}");

    // One cluster by name is the object itself, as `kubectl get NAME -o json` prints it.
    let out = run(&["status", "shop-db", "-n", "default", "-o", "json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let one: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(one.is_object(), "{one}");
    assert_eq!((one["name"].as_str(), one["kind"]["family"].as_str()), (Some("shop-db"), Some("pxc")));
    assert_eq!(keys(&one), expected);

    let out = run(&["status", "-n", "default", "-o", "wide"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for column in ["PRIMARY", "NODES", "PVCS", "MAX LAG", "VERSION", "ENDPOINT"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(text.lines().take_while(|l| !l.is_empty()).count(), 5, "a header and four clusters: {text}");

    let out = run(&["status", "-A", "-o", "yaml"]).await;
    assert!(out.status.success());
    let yaml: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(yaml.as_array().unwrap().len(), 4);

    let out = run(&["status", "nope", "-n", "default"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cluster named nope in namespace default"));
    sandbox.shutdown().await;
}

/// With the engine running the examples reach ready, so members and PVCs exist: their JSON shape is asserted
/// too, key by key, as scripts read it.
#[test]
fn status_json_of_running_clusters_keeps_its_member_and_pvc_shape() {
    // The engine's reconcile futures are deep in a debug build: the same stack as the binary's runtime.
    big_stack::runtime().block_on(running_clusters_shape());
}

async fn running_clusters_shape() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let sandbox = dbdeck::sandbox::serve::start(dbdeck::sandbox::serve::ServeOptions {
        kubeconfig_out: Some(kubeconfig.clone()),
        controllers: Some(Default::default()),
        ..dbdeck::sandbox::serve::ServeOptions::private()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    dbdeck::console::seed::seed(client.clone(), "default", true).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = dbdeck::engine::EngineConfig {
        scope: dbdeck::observe::live::Scope::Namespace("default".into()),
        ..Default::default()
    };
    let engine = tokio::spawn(dbdeck::engine::run(client, config, async move {
        let _ = stopped.await;
    }));

    let status = || {
        let kc = kubeconfig.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_dbdeck"))
                    .args(["--kubeconfig"])
                    .arg(&kc)
                    .args(["status", "-n", "default", "-o", "json", "--no-probe"])
                    .env_remove("KUBECONFIG")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let views = loop {
        let v = status().await;
        if v.as_array().unwrap().iter().all(|c| c["state"] == "ready") {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "the examples did not all reach ready: {v:#}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };

    let member_keys: BTreeSet<String> = [
        "pod",
        "component",
        "role",
        "node",
        "zone",
        "ready",
        "phase",
        "restarts",
        "started",
        "lag",
        "lagHistory",
        "replicationError",
    ]
    .map(String::from)
    .into();
    let pvc_keys: BTreeSet<String> =
        ["name", "phase", "capacity", "request", "storageClass", "resizing", "usedBy"].map(String::from).into();
    for v in views.as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        assert!(v["host"].is_string(), "{name}: a ready cluster has an endpoint");
        let members = v["members"].as_array().unwrap();
        assert!(!members.is_empty(), "{name}");
        for m in members {
            assert_eq!(keys(m), member_keys, "{name}: {m}");
            assert!(m["ready"].is_boolean() && m["restarts"].is_u64() && m["node"].is_string(), "{name}: {m}");
            assert!(m["zone"].as_str().is_some_and(|z| z.starts_with("zone-")), "{name}: {m}");
            // Lag is never made up: a database member that was not probed says so, with the reason.
            let lag = &m["lag"];
            assert!(lag["state"].is_string(), "{name}: {m}");
            if lag["state"] == "unknown" {
                assert_eq!(lag["reason"], "not probed (--no-probe)", "{name}: {m}");
            }
        }
        let pvcs = v["pvcs"].as_array().unwrap();
        assert!(!pvcs.is_empty(), "{name}");
        for p in pvcs {
            assert_eq!(keys(p), pvc_keys, "{name}: {p}");
            assert_eq!(p["phase"], "Bound", "{name}: {p}");
            assert!(p["capacity"].is_string() && p["request"].is_string(), "{name}: {p}");
        }
        for c in v["components"].as_array().unwrap() {
            assert_eq!(c["ready"], c["size"], "{name}: {c}");
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), engine).await;
    sandbox.shutdown().await;
}

/// A stand-in API server on loopback (plain HTTP) that answers every request with `answer`, or never answers.
async fn fake_api_server(answer: Option<&'static str>) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                match answer {
                    Some(body) => {
                        let reply = format!(
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(reply.as_bytes()).await;
                    }
                    // Hold the connection open without a word, as a hung server does.
                    None => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
                }
            });
        }
    });
    (addr, task)
}

fn plain_http_kubeconfig(dir: &std::path::Path, addr: std::net::SocketAddr) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\ncontexts:\n\
         - name: fake\n  context:\n    cluster: fake\n    user: u\n    namespace: default\ncurrent-context: fake\n\
         users:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn status_against(kubeconfig: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let kc = kubeconfig.to_path_buf();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dbdeck"))
            .arg("--kubeconfig")
            .arg(&kc)
            .args(["status", "--no-probe"])
            .args(&extra)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_gives_up_on_an_api_server_that_answers_503_and_names_the_request() {
    let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is shutting down","reason":"ServiceUnavailable","code":503}"#;
    let (addr, server) = fake_api_server(Some(body)).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = plain_http_kubeconfig(dir.path(), addr);
    let out = status_against(&kc, &["--request-timeout", "5", "--timeout", "60"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("GET /apis/pxc.percona.com/v1/namespaces/default/perconaxtradbclusters"), "{err}");
    assert!(err.contains("the server is shutting down (HTTP 503 ServiceUnavailable)"), "{err}");
    assert!(!err.contains("Status {"), "a sentence, not a struct: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_gives_up_on_an_api_server_that_never_answers_and_names_the_request() {
    let (addr, server) = fake_api_server(None).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = plain_http_kubeconfig(dir.path(), addr);
    // Per request: the request timeout ends the wait.
    let out = status_against(&kc, &["--request-timeout", "1"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("GET /apis/pxc.percona.com/v1/namespaces/default/perconaxtradbclusters"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Overall: the command's deadline ends it even when each request may wait longer.
    let out = status_against(&kc, &["--request-timeout", "600", "--timeout", "2"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("did not finish within --timeout 2s"), "{err}");
    assert!(err.contains("GET /apis/pxc.percona.com/v1/namespaces/default/perconaxtradbclusters"), "{err}");
    server.abort();
}

/// The engine and the example clusters on a sandbox with its simulated nodes, and a way to run the binary on it.
struct Stack {
    sandbox: dbdeck::sandbox::serve::RunningSandbox,
    client: kube::Client,
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    engine: tokio::task::JoinHandle<Result<(), dbdeck::engine::EngineError>>,
}

impl Stack {
    async fn start() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let sandbox = dbdeck::sandbox::serve::start(dbdeck::sandbox::serve::ServeOptions {
            kubeconfig_out: Some(kubeconfig.clone()),
            controllers: Some(Default::default()),
            ..dbdeck::sandbox::serve::ServeOptions::private()
        })
        .await
        .unwrap();
        let client = sandbox.client().await.unwrap();
        dbdeck::console::seed::seed(client.clone(), "default", true).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = dbdeck::engine::EngineConfig {
            scope: dbdeck::observe::live::Scope::Namespace("default".into()),
            ..Default::default()
        };
        let engine = tokio::spawn(dbdeck::engine::run(client.clone(), config, async move {
            let _ = stopped.await;
        }));
        Stack { sandbox, client, kubeconfig, _dir: dir, stop, engine }
    }

    async fn dbdeck(&self, args: &[&str]) -> String {
        let kc = self.kubeconfig.clone();
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_dbdeck"))
                .arg("--kubeconfig")
                .arg(&kc)
                .args(&owned)
                .env_remove("KUBECONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "dbdeck {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.dbdeck(args).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Runs `status` until `done` accepts the output, or fails with the last one.
    async fn until<T>(&self, what: &str, secs: u64, mut get: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T
    where
        T: std::fmt::Debug,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let v = get().await;
            if done(&v) {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: not within {secs} s; last: {v:#?}");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.engine).await;
        self.sandbox.shutdown().await;
    }
}

fn member<'a>(views: &'a Value, cluster: &str, pod_prefix: &str) -> Vec<&'a Value> {
    let v = views.as_array().unwrap().iter().find(|v| v["name"] == cluster).unwrap();
    v["members"].as_array().unwrap().iter().filter(|m| m["pod"].as_str().unwrap().starts_with(pod_prefix)).collect()
}

/// A node that goes NotReady: `status NAME` names the node, why it is NotReady and the cluster's pod on it.
#[test]
fn status_names_the_not_ready_node_and_its_pod() {
    big_stack::runtime().block_on(async {
        let stack = Stack::start().await;
        let all_ready = stack
            .until(
                "examples ready",
                120,
                async || stack.json(&["status", "-n", "default", "-o", "json", "--no-probe"]).await,
                |v| v.as_array().unwrap().iter().all(|c| c["state"] == "ready"),
            )
            .await;
        let pod = member(&all_ready, "shop-db", "shop-db-pxc-")[0].clone();
        let (pod, node) = (pod["pod"].as_str().unwrap().to_string(), pod["node"].as_str().unwrap().to_string());
        let req = http::Request::post(format!("/_sandbox/nodes/{node}/notready")).body(Vec::new()).unwrap();
        stack.client.request_text(req).await.expect("node fault");

        let text = stack
            .until(
                "the NotReady node named",
                60,
                async || stack.dbdeck(&["status", "shop-db", "-n", "default", "--no-probe"]).await,
                |t: &String| t.contains(&format!("node/{node}")),
            )
            .await;
        let line = text.lines().find(|l| l.contains(&format!("Node node/{node}"))).unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("node is NotReady (KubeletNotReady: container runtime is down)"), "{text}");
        assert!(line.contains(&pod), "the pod on the node is named: {text}");
        stack.stop().await;
    });
}

/// `--sandbox`'s demo servers: before they run, the pods' missing servers are said once (not per row); with
/// them, the PS async and PG examples show roles and lag the probes read from real replication.
#[test]
fn demo_servers_give_the_examples_real_roles_and_lag() {
    use dbdeck::console::demo_servers::{DemoServers, Installed, NO_SERVER, Part};
    let installed = Installed::detect();
    assert!(
        installed.mariadb.is_some() && installed.postgres.is_some(),
        "MariaDB and PostgreSQL are needed (.ci/install-db.sh installs them): {installed:?}"
    );
    big_stack::runtime().block_on(async {
        let stack = Stack::start().await;
        stack
            .until(
                "examples ready",
                120,
                async || stack.json(&["status", "-n", "default", "-o", "json", "--no-probe"]).await,
                |v| v.as_array().unwrap().iter().all(|c| c["state"] == "ready"),
            )
            .await;

        // Nothing attached yet: each row says only that, and the explanation comes once.
        let text = stack.dbdeck(&["status", "-n", "default"]).await;
        assert_eq!(text.matches("NOTE: no database server is attached").count(), 1, "{text}");
        assert!(!text.contains("_sandbox/attach"), "the long port-forward error is not repeated per row: {text}");
        assert!(!text.contains("<pod>"), "{text}");
        assert!(!text.contains(NO_SERVER), "rows say `no server`, the note says the rest: {text}");
        assert_eq!(text.lines().filter(|l| l.contains("   no server")).count(), 12, "{text}");

        let demo = DemoServers::start(stack.sandbox.sandbox.clone(), stack.client.clone(), "default", installed);
        let mut state = demo.subscribe();
        let attached = |p: &Part| matches!(p, Part::Attached(_) | Part::Failed(_));
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(240),
            state.wait_for(|s| attached(&s.mariadb) && attached(&s.postgres)),
        )
        .await;
        let now = demo.state();
        assert!(matches!(now.mariadb, Part::Attached(_)), "{now:?}");
        assert!(matches!(now.postgres, Part::Attached(_)), "{now:?}");

        let real = |v: &Value| {
            let ps = member(v, "ledger-async", "ledger-async-mysql-");
            let pg = member(v, "orders-db", "orders-db-main-");
            let numeric = |m: &&Value| {
                m["lag"]["state"] == "known" && m["lag"]["seconds"].is_number()
                    || m["lag"]["state"] == "amount" && m["lag"]["behind"]["value"].is_u64()
            };
            ps.iter().filter(|m| m["role"] == "source").count() == 1
                && ps.iter().filter(|m| m["role"] == "replica").all(numeric)
                && ps.iter().filter(|m| m["role"] == "replica").count() == 2
                && pg.iter().filter(|m| m["role"] == "primary").count() == 1
                && pg.iter().filter(|m| m["role"] == "standby").all(numeric)
                && pg.iter().filter(|m| m["role"] == "standby").count() == 2
        };
        let views = stack
            .until(
                "roles and lag from the demo servers",
                120,
                async || stack.json(&["status", "-n", "default", "-o", "json"]).await,
                real,
            )
            .await;
        let replica =
            member(&views, "ledger-async", "ledger-async-mysql-").into_iter().find(|m| m["role"] == "replica");
        eprintln!("ledger-async replica lag: {}", replica.unwrap()["lag"]);
        let standby = member(&views, "orders-db", "orders-db-main-").into_iter().find(|m| m["role"] == "standby");
        eprintln!("orders-db standby lag: {}", standby.unwrap()["lag"]);
        let text = stack.dbdeck(&["status", "-n", "default"]).await;
        eprintln!("{text}");
        assert!(text.contains("replicating"), "{text}");
        // The clusters without demo servers (Galera, group replication) are still said once.
        assert_eq!(text.matches("NOTE: no database server is attached").count(), 1, "{text}");
        assert!(!text.contains("_sandbox/attach"), "{text}");

        let dir = demo.dir().to_path_buf();
        assert!(dir.exists());
        demo.shutdown().await;
        assert!(!dir.exists(), "the demo's directory is removed on shutdown");
        stack.stop().await;
    });
}
