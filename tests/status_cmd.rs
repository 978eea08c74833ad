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

    let member_keys: BTreeSet<String> =
        ["pod", "component", "role", "node", "zone", "ready", "phase", "restarts", "started", "lag", "lagHistory"]
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
