//! `dbdeck status -o json|yaml|text` against an in-process sandbox holding the example clusters.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

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
