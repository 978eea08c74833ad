//! The PerconaServerMySQL controller against the in-process sandbox with simulated nodes, for
//! group replication (`ps-minimal.yaml`) and async replication
//! (`ps-async-minimal.yaml`): create → every object → ready, zero writes on a no-op pass, scale,
//! pause/resume, invalid spec, smart update order (primary last), MySQL Router, a LoadBalancer
//! without an address, and delete with and without finalizers; and, against real MariaDB servers
//! attached to the pods, the primary learnt from the databases and switched over before it restarts.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dbdeck::api::ps::PerconaServerMySQL;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

#[path = "support/engine_env.rs"]
mod engine_env;
use engine_env::{DEADLINE, Env, eventually, json_merge};

#[path = "support/dbservers.rs"]
mod dbservers;
#[path = "support/fake_orchestrator.rs"]
mod fake_orchestrator;

const GR: &str = "ps-minimal.yaml";
const ASYNC: &str = "ps-async-minimal.yaml";

impl Env {
    fn crs(&self) -> Api<PerconaServerMySQL> {
        Api::default_namespaced(self.client.clone())
    }

    async fn create(&self, example: &str, name: &str, patch: Value) -> PerconaServerMySQL {
        let path = format!("{}/deploy/examples/{example}", env!("CARGO_MANIFEST_DIR"));
        let mut v: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["metadata"]["name"] = json!(name);
        json_merge(&mut v, &patch);
        let cr: PerconaServerMySQL = serde_json::from_value(v).unwrap();
        self.crs().create(&PostParams::default(), &cr).await.expect("CR created")
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.crs().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("CR patched");
    }

    async fn wait_state(&self, name: &str, want: &str) -> PerconaServerMySQL {
        let start = Instant::now();
        loop {
            let cr = self.crs().get_opt(name).await.ok().flatten();
            if let Some(cr) = cr.as_ref().filter(|c| c.status.as_ref().and_then(|s| s.state.as_deref()) == Some(want)) {
                return cr.clone();
            }
            // On failure, show the last status: it says which component held the cluster back.
            let last = cr.and_then(|c| c.status);
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {name} to be {want}; last status {last:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    /// Waits for an Event about `name` that `pred(reason, message)` accepts (events follow the
    /// status write they report, so they may land a moment after the state the test saw).
    async fn wait_event(&self, name: &str, pred: impl Fn(&str, &str) -> bool) {
        self.wait_events(name, |events| events.iter().any(|(r, m)| pred(r, m))).await;
    }

    async fn wait_events(&self, name: &str, pred: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let events = self.events(name).await;
            if pred(&events) {
                return events;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for an event about {name}; have {events:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn sts_replicas(&self, name: &str) -> Option<i32> {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        api.get_opt(name).await.unwrap()?.spec?.replicas
    }
}

/// The in-process sandbox serves each request inside the client's future, so a request's stack
/// holds the server's too (schema validation of the large PS CRD is deep); debug builds need more
/// than the default 2 MiB. The test body therefore runs on a 16 MiB worker, not the test thread.
fn block_on<F: Future<Output = ()> + Send + 'static>(test: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .unwrap();
    if let Err(e) = rt.block_on(rt.spawn(test)) {
        std::panic::resume_unwind(e.into_panic());
    }
}

impl Env {
    async fn exists<K>(&self, name: &str) -> bool
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::default_namespaced(self.client.clone());
        api.get_opt(name).await.unwrap().is_some()
    }

    /// Restarts the engine and checks that its first pass over the settled cluster writes nothing.
    async fn assert_noop_restart(&mut self) {
        self.stop_engine().await;
        let before_writes = self.engine_writes.load(Ordering::Relaxed);
        let before = self.metrics.reconciles("PerconaServerMySQL");
        self.start_engine();
        eventually("a reconcile after restart", || async {
            (self.metrics.reconciles("PerconaServerMySQL") > before).then_some(())
        })
        .await;
        // Let any write that would follow the first pass (a status, an event, a label) happen.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(self.engine_writes.load(Ordering::Relaxed) - before_writes, 0, "a no-op reconcile writes nothing");
    }

    fn condition(cr: &PerconaServerMySQL, type_: &str) -> Option<String> {
        let conds = cr.status.as_ref()?.conditions.as_ref()?;
        conds.iter().find(|c| c.type_ == type_).map(|c| c.status.clone())
    }
}

#[test]
fn group_replication_reaches_ready_with_every_object_and_a_restart_writes_nothing() {
    block_on(async {
        let mut env = Env::new().await;
        let started = Instant::now();
        env.create(GR, "shop-db", json!({})).await;
        let cr = env.wait_state("shop-db", "ready").await;
        let took = started.elapsed();
        let st = cr.status.clone().unwrap();
        assert_eq!(st.host.as_deref(), Some("shop-db-haproxy.default"));
        assert_eq!(st.mysql.as_ref().unwrap().ready, Some(3));
        assert_eq!(st.mysql.as_ref().unwrap().state.as_deref(), Some("ready"));
        assert_eq!(st.haproxy.as_ref().unwrap().ready, Some(3));
        assert_eq!(st.orchestrator, None, "no Orchestrator with group replication");
        assert_eq!(st.cluster_type.as_deref(), Some("group-replication"));
        assert_eq!(st.observed_generation, cr.metadata.generation);
        assert_eq!(Env::condition(&cr, "Ready").as_deref(), Some("True"));
        assert_eq!(Env::condition(&cr, "Initializing").as_deref(), Some("False"));
        assert_eq!(env.sts_replicas("shop-db-mysql").await, Some(3));
        assert_eq!(env.sts_replicas("shop-db-haproxy").await, Some(3));
        assert!(!env.exists::<StatefulSet>("shop-db-orc").await);
        for s in ["shop-db-mysql", "shop-db-mysql-unready", "shop-db-mysql-primary", "shop-db-haproxy"] {
            assert!(env.exists::<Service>(s).await, "Service {s} exists");
        }
        for p in ["shop-db-mysql", "shop-db-haproxy"] {
            assert!(env.exists::<PodDisruptionBudget>(p).await, "PDB {p} exists");
        }
        assert!(env.exists::<ConfigMap>("auto-shop-db-mysql").await || env.exists::<ConfigMap>("shop-db-mysql").await);
        let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
        for s in ["shop-db-secrets", "internal-shop-db", "shop-db-ssl"] {
            assert!(secrets.get_opt(s).await.unwrap().is_some(), "Secret {s} exists");
        }
        let users = secrets.get("shop-db-secrets").await.unwrap().data.unwrap();
        let internal = secrets.get("internal-shop-db").await.unwrap().data.unwrap();
        for u in dbdeck::engine::ps::SYSTEM_USERS {
            assert!(users.get(u).is_some_and(|p| p.0.len() >= 16), "a strong password for {u}");
            assert_eq!(users.get(u), internal.get(u), "internal-shop-db mirrors {u}");
        }
        let tls = secrets.get("shop-db-ssl").await.unwrap().data.unwrap();
        assert!(["ca.crt", "tls.crt", "tls.key"].iter().all(|k| tls.contains_key(*k)));
        let pvcs = env.pvcs("shop-db").await;
        assert_eq!(pvcs, ["datadir-shop-db-mysql-0", "datadir-shop-db-mysql-1", "datadir-shop-db-mysql-2"]);
        env.wait_event("shop-db", |r, _| r == "Created").await;
        env.wait_event("shop-db", |r, m| r == "ClusterStateChanged" && m.ends_with("-> ready")).await;
        eprintln!("GR create → ready in {took:?}; engine writes {}", env.engine_writes.load(Ordering::Relaxed));

        env.assert_noop_restart().await;
        env.stop_engine().await;
    })
}

#[test]
fn async_reaches_ready_and_a_smart_update_restarts_the_labelled_primary_last() {
    block_on(async {
        let mut env = Env::new().await;
        let started = Instant::now();
        env.create(ASYNC, "ledger", json!({})).await;
        let cr = env.wait_state("ledger", "ready").await;
        let took = started.elapsed();
        let st = cr.status.clone().unwrap();
        assert_eq!(st.host.as_deref(), Some("ledger-haproxy.default"));
        assert_eq!(st.cluster_type.as_deref(), Some("async"));
        assert_eq!(st.orchestrator.as_ref().unwrap().ready, Some(3));
        assert_eq!(st.orchestrator.as_ref().unwrap().state.as_deref(), Some("ready"));
        assert_eq!(st.haproxy.as_ref().unwrap().ready, Some(2));
        assert_eq!(env.sts_replicas("ledger-orc").await, Some(3));
        assert!(env.exists::<ConfigMap>("ledger-orc").await);
        assert!(env.exists::<Service>("ledger-orc").await);
        let account = "percona-server-mysql-operator-orchestrator";
        assert!(env.exists::<ServiceAccount>(account).await);
        assert!(env.exists::<Role>(account).await);
        assert!(env.exists::<RoleBinding>(account).await);
        eprintln!("async create → ready in {took:?}");
        env.assert_noop_restart().await;

        // Orchestrator's hook would label the source; here the test plays that part for pod 1.
        let pods: Api<Pod> = Api::default_namespaced(env.client.clone());
        let label = json!({"metadata": {"labels": {"mysql.percona.com/primary": "true"}}});
        pods.patch("ledger-mysql-1", &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
        let sel = "app.kubernetes.io/instance=ledger,app.kubernetes.io/name=mysql";
        let old: BTreeMap<String, String> = env
            .pods(sel)
            .await
            .iter()
            .map(|p| (p.name_any(), p.labels().get("controller-revision-hash").cloned().unwrap_or_default()))
            .collect();
        env.patch("ledger", json!({"spec": {"mysql": {"configuration": "[mysqld]\nmax_connections=250\n"}}})).await;
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
        assert_eq!(order, ["ledger-mysql-2", "ledger-mysql-0", "ledger-mysql-1"], "replicas first, the primary last");
        env.wait_state("ledger", "ready").await;
        let events = env.wait_events("ledger", |e| e.iter().filter(|(r, _)| r == "SmartUpdate").count() == 3).await;
        let steps: Vec<&String> = events.iter().filter(|(r, _)| r == "SmartUpdate").map(|(_, m)| m).collect();
        assert_eq!(steps.len(), 3, "{events:?}");
        assert!(steps.iter().any(|m| m.contains("ledger-mysql-1") && m.contains("primary")), "{steps:?}");

        // A second async cluster in the namespace shares Orchestrator's identity (Percona's fixed names) with
        // the first instead of failing on it; the shared objects belong to no cluster, so deleting one keeps them.
        env.create(ASYNC, "ledger2", json!({})).await;
        env.wait_state("ledger2", "ready").await;
        let accounts: Api<ServiceAccount> = Api::default_namespaced(env.client.clone());
        let sa = accounts.get(account).await.unwrap();
        assert!(sa.owner_references().is_empty(), "{:?}", sa.metadata);
        assert!(!sa.labels().contains_key("app.kubernetes.io/instance"), "{:?}", sa.metadata);
        env.crs().delete("ledger", &DeleteParams::default()).await.unwrap();
        eventually("ledger is gone", || async { env.crs().get_opt("ledger").await.unwrap().is_none().then_some(()) })
            .await;
        assert!(env.exists::<ServiceAccount>(account).await);
        assert!(env.exists::<RoleBinding>(account).await);
        assert_eq!(env.wait_state("ledger2", "ready").await.status.unwrap().state.as_deref(), Some("ready"));
        env.stop_engine().await;
    })
}

#[test]
fn scale_up_and_down_then_pause_and_resume_keep_the_volumes() {
    block_on(async {
        let mut env = Env::new().await;
        env.create(GR, "scale-db", json!({})).await;
        env.wait_state("scale-db", "ready").await;

        env.patch("scale-db", json!({"spec": {"mysql": {"size": 5}}})).await;
        eventually("5 ready mysql pods", || async {
            let cr = env.crs().get("scale-db").await.ok()?;
            let mysql = cr.status.as_ref()?.mysql.as_ref()?;
            (mysql.size == Some(5) && mysql.ready == Some(5) && cr.status.as_ref()?.state.as_deref() == Some("ready"))
                .then_some(())
        })
        .await;
        assert_eq!(env.pvcs("scale-db").await.len(), 5);
        env.patch("scale-db", json!({"spec": {"mysql": {"size": 3}}})).await;
        eventually("back to 3 mysql pods", || async {
            let cr = env.crs().get("scale-db").await.ok()?;
            let mysql = cr.status.as_ref()?.mysql.as_ref()?;
            (mysql.size == Some(3)
                && mysql.ready == Some(3)
                && env.pods("app.kubernetes.io/instance=scale-db,app.kubernetes.io/name=mysql").await.len() == 3)
                .then_some(())
        })
        .await;
        env.wait_event("scale-db", |r, m| r == "Scaled" && m == "mysql: 3 -> 5").await;
        env.wait_event("scale-db", |r, m| r == "Scaled" && m == "mysql: 5 -> 3").await;

        env.patch("scale-db", json!({"spec": {"pause": true}})).await;
        let cr = env.wait_state("scale-db", "paused").await;
        assert_eq!(cr.status.unwrap().mysql.unwrap().size, Some(0), "Percona reports size 0 while paused");
        assert_eq!(env.sts_replicas("scale-db-mysql").await, Some(0));
        assert_eq!(env.sts_replicas("scale-db-haproxy").await, Some(0));
        assert!(env.pods("app.kubernetes.io/instance=scale-db").await.is_empty());
        assert_eq!(env.pvcs("scale-db").await.len(), 5, "pausing keeps every volume");
        assert!(env.exists::<Service>("scale-db-haproxy").await, "pausing keeps the Services");

        env.patch("scale-db", json!({"spec": {"pause": false}})).await;
        let cr = env.wait_state("scale-db", "ready").await;
        assert_eq!(cr.status.unwrap().mysql.unwrap().ready, Some(3));
        assert_eq!(env.sts_replicas("scale-db-mysql").await, Some(3));
        env.wait_event("scale-db", |r, m| r == "ClusterStateChanged" && m.ends_with("-> paused")).await;
        env.stop_engine().await;
    })
}

#[test]
fn an_invalid_spec_is_an_error_with_an_event_and_no_children_and_router_serves_once_fixed() {
    block_on(async {
        let mut env = Env::new().await;
        let router = json!({"spec": {"mysql": {"size": 4}, "proxy": {"haproxy": {"enabled": false},
            "router": {"enabled": true, "size": 2, "image": "percona/percona-mysql-router:8.4.6"}}}});
        env.create(GR, "bad-db", router).await;
        let cr = env.wait_state("bad-db", "error").await;
        let message = cr.status.clone().unwrap().message.unwrap();
        assert!(message.contains("spec.mysql.size"), "{message}");
        assert_eq!(Env::condition(&cr, "Error").as_deref(), Some("True"));
        env.wait_event("bad-db", |r, m| r == "InvalidSpec" && m.contains("spec.mysql.size")).await;
        assert_eq!(env.sts_replicas("bad-db-mysql").await, None, "nothing was built");
        assert!(!env.exists::<Secret>("internal-bad-db").await, "nothing was built");

        // Fixing the spec recovers, with MySQL Router as a Deployment in front.
        env.patch("bad-db", json!({"spec": {"mysql": {"size": 3}}})).await;
        let cr = env.wait_state("bad-db", "ready").await;
        let st = cr.status.clone().unwrap();
        assert_eq!(st.host.as_deref(), Some("bad-db-router.default"));
        assert_eq!(st.router.as_ref().unwrap().ready, Some(2));
        assert_eq!(st.haproxy, None);
        assert_eq!(st.message, None);
        assert_eq!(Env::condition(&cr, "Error"), None, "the Error condition goes once reconciled");
        let deployments: Api<Deployment> = Api::default_namespaced(env.client.clone());
        assert_eq!(deployments.get("bad-db-router").await.unwrap().spec.unwrap().replicas, Some(2));
        assert!(env.exists::<Service>("bad-db-router").await);
        assert!(!env.exists::<StatefulSet>("bad-db-haproxy").await);
        env.assert_noop_restart().await;
        env.stop_engine().await;
    })
}

#[test]
fn a_load_balancer_without_an_address_keeps_the_cluster_initializing() {
    block_on(async {
        let mut env = Env::new().await;
        let lb = json!({"spec": {"mysql": {"exposePrimary": {"enabled": true, "type": "LoadBalancer"}}}});
        env.create(GR, "payments", lb).await;
        // Every pod ready, but the primary's LoadBalancer has no address yet: initializing.
        let cr = eventually("payments' pods all ready", || async {
            let cr = env.crs().get("payments").await.ok()?;
            let st = cr.status.as_ref()?;
            let ready = |c: &Option<dbdeck::api::ps::ComponentStatus>| {
                c.as_ref().is_some_and(|c| c.ready.is_some() && c.ready == c.size && c.size > Some(0))
            };
            (ready(&st.mysql) && ready(&st.haproxy)).then_some(cr)
        })
        .await;
        assert_eq!(cr.status.as_ref().unwrap().state.as_deref(), Some("initializing"));
        let svc: Api<Service> = Api::default_namespaced(env.client.clone());
        let primary = svc.get("payments-mysql-primary").await.unwrap();
        assert_eq!(primary.spec.unwrap().type_.as_deref(), Some("LoadBalancer"));

        // The cloud's load balancer answers: the cluster is ready.
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}});
        svc.patch_status("payments-mysql-primary", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
        env.wait_state("payments", "ready").await;
        env.stop_engine().await;
    })
}

#[test]
fn delete_keeps_volumes_unless_a_finalizer_asks() {
    block_on(async {
        let mut env = Env::new().await;
        env.create(GR, "keep-db", json!({})).await;
        let all = json!({"metadata": {"finalizers": ["percona.com/delete-mysql-pods-in-order",
            "percona.com/delete-mysql-pvc", "percona.com/delete-ssl"]}});
        env.create(GR, "drop-db", all).await;
        env.wait_state("keep-db", "ready").await;
        env.wait_state("drop-db", "ready").await;
        assert_eq!(env.pvcs("drop-db").await.len(), 3);

        env.crs().delete("keep-db", &DeleteParams::default()).await.unwrap();
        env.crs().delete("drop-db", &DeleteParams::default()).await.unwrap();
        eventually("both CRs gone", || async {
            (env.crs().get_opt("keep-db").await.unwrap().is_none()
                && env.crs().get_opt("drop-db").await.unwrap().is_none())
            .then_some(())
        })
        .await;
        eventually("drop-db's volumes gone", || async { env.pvcs("drop-db").await.is_empty().then_some(()) }).await;
        assert_eq!(env.pvcs("keep-db").await.len(), 3, "without the finalizer the PVCs stay");
        let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
        assert!(secrets.get_opt("keep-db-secrets").await.unwrap().is_some(), "the user Secret outlives the cluster");
        assert!(secrets.get_opt("keep-db-ssl").await.unwrap().is_some(), "so does the TLS Secret");
        for gone in ["drop-db-secrets", "internal-drop-db", "drop-db-ssl"] {
            assert!(secrets.get_opt(gone).await.unwrap().is_none(), "{gone} was deleted by a finalizer");
        }
        env.wait_event("drop-db", |r, m| r == "Deleting" && m.contains("pod 0 last")).await;
        env.wait_event("drop-db", |r, _| r == "DeletedVolumes").await;
        env.stop_engine().await;
    })
}

/// An async cluster of two MySQL pods whose port 3306 reaches real MariaDB servers — pod 1 the
/// source, pod 0 its replica — and whose Orchestrator pod's port 3000 reaches a small HTTP server
/// in this test. That server stands in for Orchestrator (no Orchestrator binary offline): it
/// answers Percona's graceful-takeover path by really switching the MariaDB pair over. The engine
/// must label pod 1 primary (so the primary came from the databases, not from pod 0), update pod 0
/// first, ask for the takeover to pod 0 — refused once, which must leave pod 1 in place with a
/// `SwitchoverFailed` Event and be retried — move the label once the servers show the switch, and
/// only then delete pod 1.
#[test]
fn async_smart_update_switches_the_real_primary_over_before_restarting_it() {
    block_on(async {
        use dbservers::{MONITOR_PASSWORD, MariaDbPair, mariadb_available};
        use fake_orchestrator::{Journal, Takeover};
        use std::sync::Arc;

        assert!(mariadb_available(), "MariaDB is not installed: run `bash .ci/install-db.sh` first");
        let pair = Arc::new(MariaDbPair::start().await.expect("MariaDB source and replica start"));
        let journal = Journal::default();
        let orc = fake_orchestrator::start(
            Takeover {
                hint: "orders.default".into(),
                new_source_host: "orders-mysql-0.orders-mysql.default".into(),
                pair: pair.clone(),
                refuse: 1.into(),
            },
            journal.clone(),
        )
        .await;

        let env = Env::served().await;
        let at = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
        env.sb.attach("default", "orders-mysql-0", 3306, at(pair.replica.port));
        env.sb.attach("default", "orders-mysql-1", 3306, at(pair.source.port));
        env.sb.attach("default", "orders-orc-0", 3000, orc);
        // The cluster's own Secret carries the monitor password the real servers know; the engine
        // generates the other users' passwords.
        let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "orders-secrets"},
            "stringData": {"monitor": MONITOR_PASSWORD},
        }))
        .unwrap();
        secrets.create(&PostParams::default(), &secret).await.unwrap();
        env.create(
            ASYNC,
            "orders",
            json!({"spec": {
                "unsafeFlags": {"mysqlSize": true, "orchestratorSize": true, "proxySize": true},
                "mysql": {"size": 2},
                "orchestrator": {"size": 1},
                "proxy": {"haproxy": {"size": 1}},
            }}),
        )
        .await;
        env.wait_state("orders", "ready").await;

        let sel = "app.kubernetes.io/instance=orders,app.kubernetes.io/name=mysql";
        let primary_label = |p: &Pod| p.labels().get("mysql.percona.com/primary").cloned();
        eventually("pod 1 labelled primary from the databases", || async {
            let pods = env.pods(sel).await;
            let labels: Vec<Option<String>> = pods.iter().map(primary_label).collect();
            (labels == [None, Some("true".to_string())]).then_some(())
        })
        .await;
        let old: BTreeMap<String, (String, String)> = env
            .pods(sel)
            .await
            .iter()
            .map(|p| {
                let rev = p.labels().get("controller-revision-hash").cloned().unwrap_or_default();
                (p.name_any(), (p.uid().unwrap_or_default(), rev))
            })
            .collect();
        let old_pod1 = old["orders-mysql-1"].0.clone();

        // Every pod change the API server reports, in its order, next to the takeover the stand-in
        // performed: "label pod 0" must come after the takeover and before pod 1 is deleted.
        let watch_journal = journal.clone();
        let pods_api: Api<Pod> = Api::default_namespaced(env.client.clone());
        let watch = tokio::spawn(async move {
            use futures::StreamExt;
            use kube::runtime::watcher::{self, Event as WatchEvent};
            let cfg = watcher::Config::default().labels(sel);
            let mut stream = watcher::watcher(pods_api, cfg).boxed();
            while let Some(Ok(ev)) = stream.next().await {
                let (pod, gone) = match ev {
                    WatchEvent::Apply(p) | WatchEvent::InitApply(p) => (p, false),
                    WatchEvent::Delete(p) => (p, true),
                    _ => continue,
                };
                let name = pod.name_any();
                if name == "orders-mysql-0" && primary_label(&pod).as_deref() == Some("true") {
                    watch_journal.note("pod 0 labelled primary");
                }
                if name == "orders-mysql-1"
                    && pod.uid().as_deref() == Some(old_pod1.as_str())
                    && (gone || pod.metadata.deletion_timestamp.is_some())
                {
                    watch_journal.note("old pod 1 deleted");
                }
            }
        });

        let started = Instant::now();
        env.patch("orders", json!({"spec": {"mysql": {"configuration": "[mysqld]\nmax_connections=250\n"}}})).await;
        let mut order: Vec<String> = Vec::new();
        while order.len() < 2 {
            assert!(started.elapsed() < DEADLINE, "timed out waiting for the rollout; so far {order:?}, {journal:?}");
            for p in env.pods(sel).await {
                let rev = p.labels().get("controller-revision-hash").cloned().unwrap_or_default();
                if old.get(&p.name_any()).map(|o| &o.1) != Some(&rev) && !order.contains(&p.name_any()) {
                    order.push(p.name_any());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(order, ["orders-mysql-0", "orders-mysql-1"], "the replica first, the primary after the switchover");
        let cr = env.wait_state("orders", "ready").await;
        eprintln!("smart update with a switchover took {:?}", started.elapsed());

        // Orchestrator was asked with Percona's cluster hint and the new source's host and port:
        // once refused, once more after the error backoff.
        let path = "/api/graceful-master-takeover-auto/orders.default/orders-mysql-0.orders-mysql.default/3306";
        assert_eq!(journal.requests(), [path, path]);
        eventually("the journal to hold the label and the deletion", || async {
            let j = journal.entries();
            (j.iter().any(|e| e == "pod 0 labelled primary") && j.iter().any(|e| e == "old pod 1 deleted"))
                .then_some(())
        })
        .await;
        let entries = journal.entries();
        let first = |what: &str| entries.iter().position(|e| e == what).unwrap_or(usize::MAX);
        let takeover = entries.iter().position(|e| e.starts_with("takeover done")).expect("a takeover was done");
        assert!(first("takeover refused") < takeover, "{entries:?}");
        assert!(first("old pod 1 deleted") > takeover, "a refused takeover deletes nothing: {entries:?}");
        assert!(
            takeover < first("pod 0 labelled primary"),
            "the label moved only after the databases changed: {entries:?}"
        );
        assert!(
            first("pod 0 labelled primary") < first("old pod 1 deleted"),
            "pod 1 was deleted only after the new primary was seen: {entries:?}"
        );
        watch.abort();

        // The servers really switched: the old source now replicates, the old replica does not.
        let replicating =
            |server: &dbservers::MariaDb| !server.root_sql("SHOW SLAVE STATUS").unwrap().trim().is_empty();
        assert!(replicating(&pair.source), "the old source follows the new one");
        assert!(!replicating(&pair.replica), "the new source has no replication channel");
        let pods = env.pods(sel).await;
        assert_eq!(pods.iter().map(primary_label).collect::<Vec<_>>(), [Some("true".to_string()), None]);
        let events = env.events("orders").await;
        assert!(
            events.iter().any(|(r, m)| r == "Switchover" && m.contains("from orders-mysql-1 to orders-mysql-0")),
            "{events:?}"
        );
        let failed: Vec<&String> = events.iter().filter(|(r, _)| r == "SwitchoverFailed").map(|(_, m)| m).collect();
        assert_eq!(failed.len(), 1, "{events:?}");
        assert!(
            failed[0].contains("orders-mysql-1")
                && failed[0].contains(fake_orchestrator::REFUSAL)
                && failed[0].contains("not deleted"),
            "{failed:?}"
        );
        assert_eq!(cr.status.unwrap().mysql.unwrap().ready, Some(2));
        let mut env = env;
        env.stop_engine().await;
        env.served.take().expect("served").shutdown().await;
    })
}

/// Storage growth: claims, the StatefulSet's claim template, and what the status says.
impl Env {
    /// `(request, capacity)` of each of the cluster's data claims, by name.
    async fn claim_sizes(&self, name: &str) -> BTreeMap<String, (String, String)> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        let sel = format!("app.kubernetes.io/instance={name}");
        api.list(&ListParams::default().labels(&sel))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.name_any().starts_with("datadir-"))
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

    async fn message(&self, name: &str) -> String {
        self.crs().get(name).await.unwrap().status.and_then(|s| s.message).unwrap_or_default()
    }
}

fn all_at(sizes: &BTreeMap<String, (String, String)>, size: &str) -> bool {
    sizes.len() == 3 && sizes.values().all(|(r, c)| r == size && c == size)
}

fn storage(size: &str) -> Value {
    json!({"persistentVolumeClaim": {"resources": {"requests": {"storage": size}}}})
}

#[test]
fn growing_storage_with_a_resources_change_grows_every_claim_and_rolls_the_pods_once() {
    block_on(async {
        let mut env = Env::new().await;
        env.create(GR, "grow-db", json!({"spec": {"storageScaling": {"enableVolumeScaling": true}}})).await;
        env.wait_state("grow-db", "ready").await;
        let (sts_before, size_before) = env.sts_template("grow-db-mysql").await.unwrap();
        assert_eq!(size_before, "10Gi");
        assert!(all_at(&env.claim_sizes("grow-db").await, "10Gi"));

        // The storage and a pod change in one edit: the pods roll for the resources, the claims grow in place.
        env.patch(
            "grow-db",
            json!({"spec": {"mysql": {"volumeSpec": storage("20Gi"), "resources": {"requests": {"cpu": "700m"}}}}}),
        )
        .await;
        let sel = "app.kubernetes.io/instance=grow-db,app.kubernetes.io/name=mysql";
        eventually("every claim at 20Gi, the set re-created at 20Gi, every pod at 700m and ready", || async {
            let (uid, size) = env.sts_template("grow-db-mysql").await?;
            let cr = env.crs().get("grow-db").await.ok()?;
            let pods = env.pods(sel).await;
            let cpu = |p: &Pod| {
                p.spec
                    .as_ref()?
                    .containers
                    .iter()
                    .find(|c| c.name == "mysql")?
                    .resources
                    .as_ref()?
                    .requests
                    .as_ref()?
                    .get("cpu")
                    .cloned()
            };
            (all_at(&env.claim_sizes("grow-db").await, "20Gi")
                && size == "20Gi"
                && uid != sts_before
                && pods.len() == 3
                && pods.iter().all(|p| cpu(p).is_some_and(|q| q.0 == "700m"))
                && cr.status.as_ref()?.state.as_deref() == Some("ready")
                && !cr.status.as_ref()?.message.as_deref().unwrap_or_default().contains("resizing")
                && !cr.annotations().contains_key("percona.com/pvc-resize-in-progress"))
            .then_some(())
        })
        .await;
        let events = env
            .wait_events("grow-db", |ev| {
                ev.iter()
                    .any(|(r, m)| r == "ResizingVolumes" && m.starts_with("resizing volumes: 0 of 3 claims at 20Gi"))
                    && ev
                        .iter()
                        .any(|(r, m)| r == "VolumesResized" && m.contains("re-creating StatefulSet grow-db-mysql"))
            })
            .await;
        assert!(!events.iter().any(|(r, _)| r == "ErrorReconcile"), "no 422 on the way: {events:?}");
        env.stop_engine().await;
    })
}

#[test]
fn shrinking_is_refused_untouched_and_a_class_without_expansion_is_named() {
    block_on(async {
        let mut env = Env::new().await;
        let classes: Api<k8s_openapi::api::storage::v1::StorageClass> = Api::all(env.client.clone());
        let fixed = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fixed"},
            "provisioner": "dbdeck.io/hostpath", "allowVolumeExpansion": false});
        classes.create(&PostParams::default(), &serde_json::from_value(fixed).unwrap()).await.unwrap();
        let fixed_storage = |s: &str| json!({"persistentVolumeClaim": {"storageClassName": "fixed", "resources": {"requests": {"storage": s}}}});
        env.create(
            GR,
            "fixed-db",
            json!({"spec": {"enableVolumeExpansion": true, "mysql": {"volumeSpec": fixed_storage("10Gi")}}}),
        )
        .await;
        env.wait_state("fixed-db", "ready").await;
        let (sts_before, _) = env.sts_template("fixed-db-mysql").await.unwrap();

        env.patch(
            "fixed-db",
            json!({"spec": {"mysql": {"volumeSpec": fixed_storage("5Gi")}, "proxy": {"haproxy": {"size": 2}}}}),
        )
        .await;
        env.wait_state("fixed-db", "error").await;
        let message = env.message("fixed-db").await;
        assert!(
            message.contains("spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage")
                && message.contains("5Gi is smaller than the 10Gi")
                && message.contains("cannot shrink"),
            "{message}"
        );
        assert!(all_at(&env.claim_sizes("fixed-db").await, "10Gi"), "no claim touched");
        assert_eq!(env.sts_template("fixed-db-mysql").await, Some((sts_before.clone(), "10Gi".into())));
        assert_eq!(env.sts_replicas("fixed-db-haproxy").await, Some(3), "nothing else applied either");

        env.patch("fixed-db", json!({"spec": {"mysql": {"volumeSpec": fixed_storage("20Gi")}}})).await;
        let message = eventually("an error naming the class, with the HAProxy change applied", || async {
            let m = env.message("fixed-db").await;
            (m.contains("StorageClass") && env.sts_replicas("fixed-db-haproxy").await == Some(2)).then_some(m)
        })
        .await;
        assert!(
            message.contains("StorageClass \"fixed\"")
                && message.contains("allowVolumeExpansion is false")
                && message.contains("spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage"),
            "{message}"
        );
        let cr = env.wait_state("fixed-db", "error").await;
        assert_eq!(Env::condition(&cr, "Error").as_deref(), Some("True"));
        assert!(all_at(&env.claim_sizes("fixed-db").await, "10Gi"), "no claim asked to grow");
        assert_eq!(env.sts_template("fixed-db-mysql").await, Some((sts_before, "10Gi".into())));
        env.wait_event("fixed-db", |r, _| r == "VolumeResizeFailed").await;

        env.patch("fixed-db", json!({"spec": {"mysql": {"volumeSpec": fixed_storage("10Gi")}}})).await;
        env.wait_state("fixed-db", "ready").await;
        env.stop_engine().await;
    })
}
