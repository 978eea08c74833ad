//! The PerconaXtraDBCluster controller against the in-process sandbox with simulated nodes:
//! create → ready, scale, pause/resume, invalid spec, smart update order, delete with and without
//! finalizers, zero writes on a no-op pass, and convergence through injected 429/503.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dbdeck::api::pxc::PerconaXtraDBCluster;
use dbdeck::engine::{EngineConfig, run};
use dbdeck::observe::live::Scope;
use dbdeck::sandbox::controllers::ControllerConfig;
use dbdeck::sandbox::faults::FaultConfig;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[path = "support/layout.rs"]
mod layout;

#[path = "support/engine_env.rs"]
mod engine_env;
use engine_env::{DEADLINE, Env, eventually, json_merge, runtime};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/pxc-minimal.yaml");

impl Env {
    fn crs(&self) -> Api<PerconaXtraDBCluster> {
        Api::default_namespaced(self.client.clone())
    }

    async fn create(&self, name: &str, patch: Value) -> PerconaXtraDBCluster {
        let mut v: Value = serde_yaml::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
        v["metadata"]["name"] = json!(name);
        json_merge(&mut v, &patch);
        let cr: PerconaXtraDBCluster = serde_json::from_value(v).unwrap();
        self.crs().create(&PostParams::default(), &cr).await.expect("CR created")
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.crs().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("CR patched");
    }

    async fn state(&self, name: &str) -> Option<String> {
        self.crs().get_opt(name).await.ok().flatten()?.status?.state
    }

    async fn wait_state(&self, name: &str, want: &str) -> PerconaXtraDBCluster {
        eventually(&format!("{name} to be {want}"), || async {
            let cr = self.crs().get_opt(name).await.ok().flatten()?;
            (cr.status.as_ref()?.state.as_deref() == Some(want)).then_some(cr)
        })
        .await
    }

    async fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        let mut pods = api.list(&ListParams::default().labels(selector)).await.unwrap().items;
        pods.sort_by_key(|p| p.name_any());
        pods
    }

    async fn pvcs(&self, name: &str) -> Vec<String> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        let sel = format!("app.kubernetes.io/instance={name}");
        let mut names: Vec<String> =
            api.list(&ListParams::default().labels(&sel)).await.unwrap().items.iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    async fn events(&self, name: &str) -> Vec<(String, String)> {
        let api: Api<Event> = Api::default_namespaced(self.client.clone());
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    async fn sts_replicas(&self, name: &str) -> Option<i32> {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        api.get_opt(name).await.unwrap()?.spec?.replicas
    }

    /// The object's Events once `want` holds for them. The engine publishes an Event after the status write
    /// that announces the transition, so a test that has just seen the status polls for the Event.
    async fn wait_events(
        &self,
        name: &str,
        what: &str,
        want: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let events = self.events(name).await;
            if want(&events) {
                return events;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what} on {name}; events: {events:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[test]
fn create_reaches_ready_with_every_object_and_a_second_pass_writes_nothing() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        let started = Instant::now();
        env.create("shop-db", json!({})).await;
        let cr = env.wait_state("shop-db", "ready").await;
        let took = started.elapsed();
        let st = cr.status.clone().unwrap();
        assert_eq!(st.host.as_deref(), Some("shop-db-haproxy.default"));
        assert_eq!(st.pxc.as_ref().unwrap().ready, Some(3));
        assert_eq!(st.haproxy.as_ref().unwrap().ready, Some(2));
        assert_eq!(st.observed_generation, cr.metadata.generation);
        assert_eq!(env.sts_replicas("shop-db-pxc").await, Some(3));
        assert_eq!(env.sts_replicas("shop-db-haproxy").await, Some(2));
        let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
        for s in ["shop-db-secrets", "internal-shop-db", "shop-db-ssl", "shop-db-ssl-internal"] {
            assert!(secrets.get_opt(s).await.unwrap().is_some(), "Secret {s} exists");
        }
        let users = secrets.get("shop-db-secrets").await.unwrap().data.unwrap();
        for u in ["root", "xtrabackup", "monitor", "proxyadmin", "operator", "replication"] {
            assert!(users.get(u).is_some_and(|p| p.0.len() >= 16), "a strong password for {u}");
        }
        assert_eq!(env.pvcs("shop-db").await.len(), 3);
        env.wait_events("shop-db", "Created and Ready events", |ev| {
            ev.iter().any(|(r, _)| r == "Created") && ev.iter().any(|(r, m)| r == "Ready" && m.ends_with("-> ready"))
        })
        .await;
        eprintln!("create → ready in {took:?}; engine writes {}", env.engine_writes.load(Ordering::Relaxed));

        // A fresh engine reconciles the ready cluster once on start and must write nothing.
        env.stop_engine().await;
        let before_writes = env.engine_writes.load(Ordering::Relaxed);
        let before_reconciles = env.metrics.reconciles("PerconaXtraDBCluster");
        env.start_engine();
        eventually("a reconcile after restart", || async {
            (env.metrics.reconciles("PerconaXtraDBCluster") > before_reconciles).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(env.engine_writes.load(Ordering::Relaxed) - before_writes, 0, "a no-op reconcile writes nothing");
        env.stop_engine().await;
    })
}

#[test]
fn scale_up_and_down_then_pause_and_resume_keep_the_volumes() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("scale-db", json!({})).await;
        env.wait_state("scale-db", "ready").await;

        env.patch("scale-db", json!({"spec": {"pxc": {"size": 5}}})).await;
        let cr = eventually("5 ready pxc pods", || async {
            let cr = env.crs().get("scale-db").await.ok()?;
            let pxc = cr.status.as_ref()?.pxc.as_ref()?;
            (pxc.ready == Some(5) && cr.status.as_ref()?.state.as_deref() == Some("ready")).then_some(cr)
        })
        .await;
        assert_eq!(cr.status.unwrap().pxc.unwrap().size, Some(5));
        assert_eq!(env.pvcs("scale-db").await.len(), 5);
        env.patch("scale-db", json!({"spec": {"pxc": {"size": 3}}})).await;
        eventually("back to 3 pxc pods", || async {
            let cr = env.crs().get("scale-db").await.ok()?;
            let pxc = cr.status.as_ref()?.pxc.as_ref()?;
            (pxc.size == Some(3)
                && pxc.ready == Some(3)
                && env.pods("app.kubernetes.io/instance=scale-db,app.kubernetes.io/component=pxc").await.len() == 3)
                .then_some(())
        })
        .await;
        env.wait_events("scale-db", "Scaled 3 -> 5 and 5 -> 3", |ev| {
            ev.iter().any(|(r, m)| r == "Scaled" && m == "pxc: 3 -> 5")
                && ev.iter().any(|(r, m)| r == "Scaled" && m == "pxc: 5 -> 3")
        })
        .await;

        env.patch("scale-db", json!({"spec": {"pause": true}})).await;
        env.wait_state("scale-db", "paused").await;
        assert_eq!(env.sts_replicas("scale-db-pxc").await, Some(0));
        assert_eq!(env.sts_replicas("scale-db-haproxy").await, Some(0));
        assert!(env.pods("app.kubernetes.io/instance=scale-db").await.is_empty());
        assert_eq!(env.pvcs("scale-db").await.len(), 5, "pausing keeps every volume");
        env.wait_events("scale-db", "a Paused event", |ev| ev.iter().any(|(r, _)| r == "Paused")).await;

        env.patch("scale-db", json!({"spec": {"pause": false}})).await;
        env.wait_state("scale-db", "ready").await;
        assert_eq!(env.sts_replicas("scale-db-pxc").await, Some(3));
        env.stop_engine().await;
    })
}

#[test]
fn an_invalid_spec_is_an_error_with_an_event_and_no_children() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("bad-db", json!({"spec": {"pxc": {"size": 4}}})).await;
        let cr = env.wait_state("bad-db", "error").await;
        let message = cr.status.unwrap().messages.unwrap().join(" ");
        assert!(message.contains("spec.pxc.size"), "{message}");
        env.wait_events("bad-db", "an InvalidSpec event naming spec.pxc.size", |ev| {
            ev.iter().any(|(r, m)| r == "InvalidSpec" && m.contains("spec.pxc.size"))
        })
        .await;
        assert_eq!(env.sts_replicas("bad-db-pxc").await, None, "nothing was built");

        // Fixing the spec recovers.
        env.patch("bad-db", json!({"spec": {"pxc": {"size": 3}}})).await;
        env.wait_state("bad-db", "ready").await;
        env.stop_engine().await;
    })
}

#[test]
fn a_spec_change_rolls_pods_highest_ordinal_first_and_pod_zero_last() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("roll-db", json!({"spec": {"updateStrategy": "SmartUpdate"}})).await;
        env.wait_state("roll-db", "ready").await;
        let sel = "app.kubernetes.io/instance=roll-db,app.kubernetes.io/component=pxc";
        let old: BTreeMap<String, String> = env
            .pods(sel)
            .await
            .iter()
            .map(|p| (p.name_any(), p.labels().get("controller-revision-hash").cloned().unwrap_or_default()))
            .collect();
        env.patch("roll-db", json!({"spec": {"pxc": {"configuration": "[mysqld]\nmax_connections=250\n"}}})).await;
        // Record the order in which pods come back at a new revision.
        let mut order: Vec<String> = Vec::new();
        let start = Instant::now();
        while order.len() < 3 {
            assert!(start.elapsed() < DEADLINE, "timed out waiting for the rollout; so far {order:?}");
            for p in env.pods(sel).await {
                let rev = p.labels().get("controller-revision-hash").cloned().unwrap_or_default();
                if old.get(&p.name_any()) != Some(&rev) && !order.contains(&p.name_any()) {
                    order.push(p.name_any());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(order, ["roll-db-pxc-2", "roll-db-pxc-1", "roll-db-pxc-0"]);
        env.wait_state("roll-db", "ready").await;
        let events = env
            .wait_events("roll-db", "three SmartUpdate events", |ev| {
                ev.iter().filter(|(r, _)| r == "SmartUpdate").count() >= 3
            })
            .await;
        assert_eq!(events.iter().filter(|(r, _)| r == "SmartUpdate").count(), 3, "{events:?}");
        env.stop_engine().await;
    })
}

#[test]
fn delete_keeps_volumes_unless_a_finalizer_asks() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("keep-db", json!({})).await;
        env.create(
            "drop-db",
            json!({"metadata": {"finalizers": ["percona.com/delete-pxc-pods-in-order", "percona.com/delete-pxc-pvc", "percona.com/delete-ssl"]}}),
        )
        .await;
        env.wait_state("keep-db", "ready").await;
        env.wait_state("drop-db", "ready").await;
        assert_eq!(env.pvcs("drop-db").await.len(), 3);

        env.crs().delete("keep-db", &DeleteParams::default()).await.unwrap();
        env.crs().delete("drop-db", &DeleteParams::default()).await.unwrap();
        eventually("both CRs gone", || async {
            (env.crs().get_opt("keep-db").await.unwrap().is_none() && env.crs().get_opt("drop-db").await.unwrap().is_none())
                .then_some(())
        })
        .await;
        eventually("drop-db's volumes gone", || async { env.pvcs("drop-db").await.is_empty().then_some(()) }).await;
        assert_eq!(env.pvcs("keep-db").await.len(), 3, "without the finalizer the PVCs stay");
        let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
        assert!(secrets.get_opt("keep-db-secrets").await.unwrap().is_some(), "the user Secret outlives the cluster");
        assert!(secrets.get_opt("drop-db-secrets").await.unwrap().is_none());
        assert!(secrets.get_opt("drop-db-ssl").await.unwrap().is_none());
        // pods-in-order said what it waited for.
        env.wait_events("drop-db", "a Deleting event about pod 0 last", |ev| {
            ev.iter().any(|(r, m)| r == "Deleting" && m.contains("pod 0 last"))
        })
        .await;
        env.stop_engine().await;
    })
}

#[test]
fn injected_throttling_and_unavailability_do_not_stop_convergence() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("flaky-db", json!({})).await;
        // The engine also starts while the API refuses one request in five: its CRD preflight retries.
        env.stop_engine().await;
        env.sb
            .set_faults(FaultConfig { error_rate: 0.2, error_code: 503, retry_after_seconds: 0, ..Default::default() })
            .unwrap();
        env.start_engine();
        // The test's own reads can be refused too: wait_state tolerates that by polling.
        env.wait_state("flaky-db", "ready").await;
        env.sb
            .set_faults(FaultConfig { error_rate: 0.2, error_code: 429, retry_after_seconds: 0, ..Default::default() })
            .unwrap();
        env.patch_retrying("flaky-db", json!({"spec": {"haproxy": {"size": 3}}})).await;
        eventually("3 haproxy pods ready", || async {
            let cr = env.crs().get("flaky-db").await.ok()?;
            (cr.status.as_ref()?.haproxy.as_ref()?.ready == Some(3)
                && env.state("flaky-db").await.as_deref() == Some("ready"))
            .then_some(())
        })
        .await;
        env.sb.set_faults(FaultConfig::default()).unwrap();
        env.stop_engine().await;
    })
}

impl Env {
    async fn patch_retrying(&self, name: &str, patch: Value) {
        eventually("the patch to go through", || async {
            self.crs().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.ok().map(|_| ())
        })
        .await;
    }
}

#[test]
fn the_sandbox_restarting_mid_reconcile_is_ridden_out() {
    runtime().block_on(async {
        use dbdeck::sandbox::serve::{ServeOptions, start};
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = || ServeOptions {
            listen: Some(([127, 0, 0, 1], port).into()),
            state_dir: Some(dir.path().to_path_buf()),
            controllers: Some(ControllerConfig {
                nodes: 6,
                start_delay: Duration::from_millis(300),
                ..Default::default()
            }),
            ..Default::default()
        };
        let first = start(options()).await.expect("sandbox starts");
        let client = first.client().await.unwrap();
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
        let (stop, stopped) = oneshot::channel::<()>();
        let engine_client = client.clone();
        let engine = tokio::spawn(async move {
            let config = EngineConfig { scope: Scope::Namespace("default".into()), ..Default::default() };
            run(engine_client, config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("engine runs");
        });
        let crs: Api<PerconaXtraDBCluster> = Api::default_namespaced(client.clone());
        let mut v: Value = serde_yaml::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
        v["metadata"]["name"] = json!("restart-db");
        crs.create(&PostParams::default(), &serde_json::from_value(v).unwrap()).await.unwrap();
        // Stop the API server as soon as the engine has started building, before the pods are up.
        let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
        eventually("the first StatefulSet", || async { sts.get_opt("restart-db-pxc").await.ok().flatten() }).await;
        first.shutdown().await;
        // In-process, the old server's last tasks may still hold its state file for a moment after shutdown (a
        // restarted process would not): retry as an operator would, for a bounded time.
        let restarted = Instant::now();
        let _second = loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match start(options()).await {
                Ok(s) => break s,
                Err(e) if restarted.elapsed() < Duration::from_secs(20) => eprintln!("sandbox restart: {e}; retrying"),
                Err(e) => panic!("sandbox restarts on the same port and state: {e}"),
            }
        };
        eventually("restart-db to be ready after the restart", || async {
            let cr = crs.get_opt("restart-db").await.ok().flatten()?;
            (cr.status?.state.as_deref() == Some("ready")).then_some(())
        })
        .await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), engine).await.expect("engine stops").unwrap();
    })
}

/// Issue 5's "done when": Percona's deploy/cr.yaml (as restated in tests/fixtures/pxc/input-cr.yaml),
/// applied with kubectl to a served sandbox with the engine running, reaches ready, and the live
/// StatefulSets, Services and PDBs match what Percona's e2e suite records.
#[test]
fn kubectl_apply_of_percona_cr_yaml_reaches_ready_with_percona_layout() {
    runtime().block_on(async {
        use dbdeck::sandbox::serve::{ServeOptions, start};
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let sandbox = start(ServeOptions {
            kubeconfig_out: Some(kubeconfig.clone()),
            controllers: Some(ControllerConfig {
                nodes: 6,
                start_delay: Duration::from_millis(100),
                ..Default::default()
            }),
            ..ServeOptions::private()
        })
        .await
        .expect("sandbox starts");
        let client = sandbox.client().await.unwrap();
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
        let (stop, stopped) = oneshot::channel::<()>();
        let engine_client = client.clone();
        let engine = tokio::spawn(async move {
            run(engine_client, EngineConfig::default(), async move {
                let _ = stopped.await;
            })
            .await
            .expect("engine runs");
        });
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pxc");
        // The fixture carries the uid the API server gave the stored CR; a new object gets its own.
        let cr: String = std::fs::read_to_string(format!("{fixtures}/input-cr.yaml"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("uid:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let cr_path = dir.path().join("cr.yaml");
        std::fs::write(&cr_path, cr).unwrap();
        let kubectl = |args: &[&str]| {
            let out = std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args)
                .output()
                .expect("kubectl runs");
            assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        kubectl(&["apply", "-f", cr_path.to_str().unwrap()]);
        let crs: Api<PerconaXtraDBCluster> = Api::default_namespaced(client.clone());
        eventually("cluster1 to be ready", || async {
            let cr = crs.get_opt("cluster1").await.ok().flatten()?;
            (cr.status?.state.as_deref() == Some("ready")).then_some(())
        })
        .await;
        let printed = kubectl(&["get", "pxc", "cluster1"]);
        assert!(printed.contains("ready"), "kubectl shows the state: {printed}");

        let live: Value = serde_json::from_str(&kubectl(&[
            "get",
            "statefulsets,services,poddisruptionbudgets",
            "-l",
            "app.kubernetes.io/instance=cluster1",
            "-o",
            "json",
        ]))
        .unwrap();
        let items = live["items"].as_array().unwrap();
        let mut report = Vec::new();
        for want in layout::yaml_docs(&std::fs::read_to_string(format!("{fixtures}/expected-cluster1.yaml")).unwrap()) {
            let (kind, name) = (want["kind"].as_str().unwrap(), want["metadata"]["name"].as_str().unwrap());
            match items.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name) {
                None => report.push(format!("{kind} {name}: not in the cluster")),
                Some(got) => {
                    let mut diffs = Vec::new();
                    layout::compare(&want, got, "", &mut diffs);
                    report.extend(diffs.into_iter().map(|d| format!("{kind} {name}{d}")));
                }
            }
        }
        assert!(report.is_empty(), "{} differences from Percona's layout:\n{}", report.len(), report.join("\n"));
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), engine).await.expect("engine stops").unwrap();
        sandbox.shutdown().await;
    })
}

/// Storage growth: claims, the StatefulSet's claim template, and what the status says.
impl Env {
    /// `(request, capacity)` of each of the cluster's data claims, by name.
    async fn claim_sizes(&self, name: &str) -> BTreeMap<String, (String, String)> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        let sel = format!("app.kubernetes.io/instance={name},app.kubernetes.io/component=pxc");
        api.list(&ListParams::default().labels(&sel))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| {
                let request =
                    p.spec.as_ref().and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage").cloned());
                let capacity = p.status.as_ref().and_then(|s| s.capacity.as_ref()?.get("storage").cloned());
                (p.name_any(), (request.map(|q| q.0).unwrap_or_default(), capacity.map(|q| q.0).unwrap_or_default()))
            })
            .collect()
    }

    /// The StatefulSet's uid and its `datadir` claim template's size.
    async fn sts_template(&self, name: &str) -> Option<(String, String)> {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        let sts = api.get_opt(name).await.unwrap()?;
        let tpl =
            sts.spec.as_ref()?.volume_claim_templates.as_ref()?.iter().find(|t| t.name_any() == "datadir")?.clone();
        let size = tpl.spec?.resources?.requests?.get("storage")?.0.clone();
        Some((sts.uid()?, size))
    }

    async fn pod_uids(&self, selector: &str) -> BTreeMap<String, String> {
        self.pods(selector).await.iter().map(|p| (p.name_any(), p.uid().unwrap_or_default())).collect()
    }

    async fn messages(&self, name: &str) -> String {
        let cr = self.crs().get(name).await.unwrap();
        cr.status.and_then(|s| s.messages).unwrap_or_default().join(" | ")
    }
}

fn all_at(sizes: &BTreeMap<String, (String, String)>, size: &str) -> bool {
    sizes.len() == 3 && sizes.values().all(|(r, c)| r == size && c == size)
}

#[test]
fn growing_storage_grows_every_claim_and_re_creates_the_statefulset_around_running_pods() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("grow-db", json!({"spec": {"enableVolumeExpansion": true}})).await;
        env.wait_state("grow-db", "ready").await;
        let pxc = "app.kubernetes.io/instance=grow-db,app.kubernetes.io/component=pxc";
        let pods_before = env.pod_uids(pxc).await;
        let (sts_before, size_before) = env.sts_template("grow-db-pxc").await.unwrap();
        assert_eq!(size_before, "10G");
        assert!(all_at(&env.claim_sizes("grow-db").await, "10G"));

        // The storage and another change in one edit, as the console's form or a kubectl patch sends it.
        env.patch(
            "grow-db",
            json!({"spec": {"pxc": {"volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "20G"}}}}},
                            "haproxy": {"size": 3}}}),
        )
        .await;
        eventually("every claim at 20G, the StatefulSet re-created at 20G, 3 HAProxy pods and ready", || async {
            let (uid, size) = env.sts_template("grow-db-pxc").await?;
            let cr = env.crs().get("grow-db").await.ok()?;
            let st = cr.status.as_ref()?;
            (all_at(&env.claim_sizes("grow-db").await, "20G")
                && size == "20G"
                && uid != sts_before
                && st.haproxy.as_ref()?.ready == Some(3)
                && st.state.as_deref() == Some("ready")
                && !st.messages.iter().flatten().any(|m| m.contains("resizing"))
                && !cr.annotations().contains_key("percona.com/pvc-resize-in-progress"))
            .then_some(())
        })
        .await;
        assert_eq!(env.pod_uids(pxc).await, pods_before, "re-creating the StatefulSet orphaned its pods, none was deleted");
        let events = env
            .wait_events("grow-db", "the resize events", |ev| {
                ev.iter().any(|(r, m)| r == "ResizingVolumes" && m.starts_with("resizing volumes: 0 of 3 claims at 20G"))
                    && ev.iter().any(|(r, m)| r == "ResizingVolumes" && m.contains("from 10G to 20G"))
                    && ev.iter().any(|(r, m)| r == "VolumesResized" && m.contains("re-creating StatefulSet grow-db-pxc"))
            })
            .await;
        assert!(!events.iter().any(|(r, _)| r == "ErrorReconcile"), "no 422 on the way: {events:?}");
        // The pods the new StatefulSet adopted are its own, at its revision: nothing left to roll.
        let api: Api<StatefulSet> = Api::default_namespaced(env.client.clone());
        let sts = api.get("grow-db-pxc").await.unwrap();
        let sts_uid = sts.uid().unwrap();
        let revision = sts.status.and_then(|s| s.update_revision).unwrap_or_default();
        for p in env.pods(pxc).await {
            let owner = p.owner_references().iter().find(|r| r.controller == Some(true)).map(|r| r.uid.clone());
            assert_eq!(owner.as_deref(), Some(sts_uid.as_str()), "{} adopted", p.name_any());
            assert_eq!(p.labels().get("controller-revision-hash"), Some(&revision), "{} at the current revision", p.name_any());
        }
        env.stop_engine().await;
    })
}

#[test]
fn shrinking_storage_is_refused_and_touches_nothing_and_growth_without_expansion_says_how() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("small-db", json!({})).await;
        env.wait_state("small-db", "ready").await;
        let (sts_before, _) = env.sts_template("small-db-pxc").await.unwrap();

        let storage = |s: &str| json!({"persistentVolumeClaim": {"resources": {"requests": {"storage": s}}}});
        env.patch("small-db", json!({"spec": {"pxc": {"volumeSpec": storage("5G")}, "haproxy": {"size": 3}}})).await;
        env.wait_state("small-db", "error").await;
        let message = env.messages("small-db").await;
        assert!(
            message.contains("spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage")
                && message.contains("5G is smaller than the 10G")
                && message.contains("cannot shrink"),
            "{message}"
        );
        env.wait_events("small-db", "a VolumeShrinkRefused event", |ev| {
            ev.iter().any(|(r, _)| r == "VolumeShrinkRefused")
        })
        .await;
        assert!(all_at(&env.claim_sizes("small-db").await, "10G"), "no claim touched");
        assert_eq!(env.sts_template("small-db-pxc").await, Some((sts_before.clone(), "10G".into())));
        assert_eq!(env.sts_replicas("small-db-haproxy").await, Some(2), "nothing else applied either");

        // Growing while spec.enableVolumeExpansion is off (Percona's default): the claims stay, the other change
        // goes through, and the status says which switch to turn.
        env.patch("small-db", json!({"spec": {"pxc": {"volumeSpec": storage("20G")}}})).await;
        let message = eventually("ready with 3 HAProxy pods and a note about the switch", || async {
            let cr = env.crs().get("small-db").await.ok()?;
            let st = cr.status?;
            let m = st.messages.unwrap_or_default().join(" | ");
            (st.state.as_deref() == Some("ready")
                && st.haproxy?.ready == Some(3)
                && m.contains("spec.enableVolumeExpansion"))
            .then_some(m)
        })
        .await;
        assert!(message.contains("asks for 20G") && message.contains("the claims stay at 10G"), "{message}");
        assert!(all_at(&env.claim_sizes("small-db").await, "10G"));
        assert_eq!(env.sts_template("small-db-pxc").await, Some((sts_before, "10G".into())));
        env.wait_events("small-db", "a VolumeExpansionDisabled event", |ev| {
            ev.iter().any(|(r, _)| r == "VolumeExpansionDisabled")
        })
        .await;
        env.stop_engine().await;
    })
}

#[test]
fn a_storage_class_without_expansion_is_named_and_other_changes_still_roll_out() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        let classes: Api<k8s_openapi::api::storage::v1::StorageClass> = Api::all(env.client.clone());
        let fixed = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fixed"},
            "provisioner": "dbdeck.io/hostpath", "allowVolumeExpansion": false});
        classes.create(&PostParams::default(), &serde_json::from_value(fixed).unwrap()).await.unwrap();
        let storage = |s: &str| {
            json!({"persistentVolumeClaim": {"storageClassName": "fixed", "resources": {"requests": {"storage": s}}}})
        };
        env.create("fixed-db", json!({"spec": {"enableVolumeExpansion": true, "pxc": {"volumeSpec": storage("10G")}}})).await;
        env.wait_state("fixed-db", "ready").await;
        let (sts_before, _) = env.sts_template("fixed-db-pxc").await.unwrap();

        env.patch("fixed-db", json!({"spec": {"pxc": {"volumeSpec": storage("20G")}, "haproxy": {"size": 3}}})).await;
        let message = eventually("an error naming the class, with the HAProxy change applied", || async {
            let cr = env.crs().get("fixed-db").await.ok()?;
            let st = cr.status?;
            let m = st.messages.unwrap_or_default().join(" | ");
            (st.state.as_deref() == Some("error") && m.contains("StorageClass") && env.sts_replicas("fixed-db-haproxy").await == Some(3))
                .then_some(m)
        })
        .await;
        assert!(
            message.contains("StorageClass \"fixed\"")
                && message.contains("allowVolumeExpansion is false")
                && message.contains("spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage"),
            "{message}"
        );
        assert!(all_at(&env.claim_sizes("fixed-db").await, "10G"), "no claim asked to grow");
        assert_eq!(env.sts_template("fixed-db-pxc").await, Some((sts_before, "10G".into())));
        env.wait_events("fixed-db", "a VolumeResizeFailed warning", |ev| ev.iter().any(|(r, _)| r == "VolumeResizeFailed"))
            .await;

        // Setting the size back clears the error.
        env.patch("fixed-db", json!({"spec": {"pxc": {"volumeSpec": storage("10G")}}})).await;
        env.wait_state("fixed-db", "ready").await;
        env.stop_engine().await;
    })
}
