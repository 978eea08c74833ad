//! The PerconaPGCluster controller against the in-process sandbox with simulated nodes: the shipped examples
//! reach `ready` with every object, instance names stay stable, scaling keeps the primary, pause/resume keeps
//! the volumes, an invalid spec builds nothing, a rolling update takes the primary last after a switchover
//! through a real Patroni, deletion honours the finalizers, and a no-op pass writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dbdeck::api::pg::{PerconaPGBackup, PerconaPGCluster};
use dbdeck::sandbox::faults::FaultConfig;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, Secret, Service};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

#[path = "support/dbservers.rs"]
mod dbservers;
#[path = "support/engine_env.rs"]
mod engine_env;
#[path = "support/user_secrets.rs"]
mod user_secrets;
use dbdeck::engine::pg::patroni_api::{Member, PatroniApi};
use dbservers::{PatroniCluster, PatroniTls};
use engine_env::{DEADLINE, Env, eventually, json_merge, runtime};

const MINIMAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/pg-minimal.yaml");
const FULL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/pg-full.yaml");
const KIND: &str = "PerconaPGCluster";
const L_CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";
const L_SET: &str = "postgres-operator.crunchydata.com/instance-set";
const L_ROLE: &str = "postgres-operator.crunchydata.com/role";

impl Env {
    fn crs(&self) -> Api<PerconaPGCluster> {
        Api::default_namespaced(self.client.clone())
    }

    async fn create_from(&self, file: &str, name: &str, patch: Value) -> PerconaPGCluster {
        let mut v: Value = serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        v["metadata"]["name"] = json!(name);
        json_merge(&mut v, &patch);
        let cr: PerconaPGCluster = serde_json::from_value(v).unwrap();
        self.crs().create(&PostParams::default(), &cr).await.expect("CR created")
    }

    async fn create(&self, name: &str, patch: Value) -> PerconaPGCluster {
        self.create_from(MINIMAL, name, patch).await
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.crs().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("CR patched");
    }

    async fn wait_state(&self, name: &str, want: &str) -> PerconaPGCluster {
        eventually(&format!("{name} to be {want}"), || async {
            let cr = self.crs().get_opt(name).await.ok().flatten()?;
            (cr.status.as_ref()?.state.as_deref() == Some(want)).then_some(cr)
        })
        .await
    }

    async fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        let mut pods = api.list(&ListParams::default().labels(selector)).await.unwrap().items;
        pods.retain(|p| p.metadata.deletion_timestamp.is_none());
        pods.sort_by_key(|p| p.name_any());
        pods
    }

    async fn pvcs(&self, name: &str) -> Vec<String> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        let sel = format!("{L_CLUSTER}={name}");
        let mut names: Vec<String> =
            api.list(&ListParams::default().labels(&sel)).await.unwrap().items.iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    /// Instance StatefulSet names of the cluster, sorted.
    async fn instances(&self, name: &str) -> Vec<String> {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        let sel = format!("{L_CLUSTER}={name},{L_SET}");
        let mut names: Vec<String> =
            api.list(&ListParams::default().labels(&sel)).await.unwrap().items.iter().map(|s| s.name_any()).collect();
        names.sort();
        names
    }

    /// The cluster's Events, oldest first (by resourceVersion: the sandbox's are increasing integers).
    async fn events(&self, name: &str) -> Vec<(String, String)> {
        let api: Api<Event> = Api::default_namespaced(self.client.clone());
        let mut items = api.list(&ListParams::default()).await.unwrap().items;
        items.sort_by_key(|e| e.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok()));
        items
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(name) && e.involved_object.kind.as_deref() == Some(KIND)
            })
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    /// Waits for an Event on the cluster matching `reason` and `pred` (Events follow the status write
    /// that announces them, so a test that saw the status may be a moment early).
    async fn wait_event(&self, name: &str, reason: &str, pred: impl Fn(&str) -> bool) {
        eventually(&format!("a {reason} event on {name}"), || async {
            let events = self.events(name).await;
            events.iter().any(|(r, m)| r == reason && pred(m)).then_some(())
        })
        .await
    }

    async fn sts_replicas(&self, name: &str) -> Option<i32> {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        api.get_opt(name).await.unwrap()?.spec?.replicas
    }

    async fn secret(&self, name: &str) -> Option<Secret> {
        Api::<Secret>::default_namespaced(self.client.clone()).get_opt(name).await.unwrap()
    }

    /// Labels a pod the way Patroni marks its leader.
    async fn mark_primary(&self, pod: &str) {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        let patch = json!({"metadata": {"labels": {L_ROLE: "master"}}});
        api.patch(pod, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("pod labelled");
    }

    /// Waits until the cluster is ready with `n` instance pods and `n` instance StatefulSets.
    async fn wait_instances(&self, name: &str, n: usize) -> Vec<String> {
        eventually(&format!("{name} ready with {n} instances"), || async {
            let cr = self.crs().get(name).await.ok()?;
            let st = cr.status.as_ref()?;
            let pg = st.postgres.as_ref()?;
            let pods = self.pods(&format!("{L_CLUSTER}={name},{L_SET}")).await;
            let sets = self.instances(name).await;
            (st.state.as_deref() == Some("ready") && pg.ready == n as i32 && pods.len() == n && sets.len() == n)
                .then_some(sets)
        })
        .await
    }
}

fn suffix(instance: &str) -> String {
    instance.rsplit('-').next().unwrap().to_string()
}

#[test]
fn minimal_example_reaches_ready_with_every_object_and_a_restart_writes_nothing() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        let started = Instant::now();
        env.create("orders-db", json!({})).await;
        let cr = env.wait_state("orders-db", "ready").await;
        let took = started.elapsed();
        let st = cr.status.clone().unwrap();
        assert_eq!(st.host.as_deref(), Some("orders-db-primary.default.svc"));
        let pg = st.postgres.clone().unwrap();
        assert_eq!((pg.size, pg.ready), (3, 3));
        assert_eq!(pg.instances.as_ref().unwrap()[0].name, "main");
        assert_eq!(st.observed_generation, cr.metadata.generation);
        assert!(st.pgbouncer.is_none(), "the minimal example has no pgBouncer");

        let instances = env.instances("orders-db").await;
        assert_eq!(instances.len(), 3, "{instances:?}");
        for i in &instances {
            assert!(i.starts_with("orders-db-main-") && suffix(i).len() == 4, "{i}");
            assert_eq!(env.sts_replicas(i).await, Some(1), "one pod per instance StatefulSet");
        }
        assert_eq!(env.sts_replicas("orders-db-repo-host").await, Some(1));
        let services: Api<Service> = Api::default_namespaced(env.client.clone());
        for s in ["primary", "replicas", "pods", "ha", "ha-config"] {
            assert!(services.get_opt(&format!("orders-db-{s}")).await.unwrap().is_some(), "Service orders-db-{s}");
        }
        for s in ["cluster-cert", "cluster-ca-cert", "replication-cert", "pgbackrest"] {
            assert!(env.secret(&format!("orders-db-{s}")).await.is_some(), "Secret orders-db-{s}");
        }
        let user = env.secret("orders-db-pguser-orders-db").await.expect("the default user's Secret");
        let data = user.data.unwrap();
        for k in ["user", "password", "verifier", "host", "port", "dbname", "uri", "jdbc-uri"] {
            assert!(data.contains_key(k), "user Secret key {k}");
        }
        assert!(data["password"].0.len() >= 16, "a strong password");
        assert!(user.metadata.owner_references.is_none(), "credentials outlive the CR unless a finalizer asks");
        let mut want_pvcs: Vec<String> = instances.iter().map(|i| format!("{i}-pgdata")).collect();
        want_pvcs.push("orders-db-repo1".into());
        want_pvcs.sort();
        assert_eq!(env.pvcs("orders-db").await, want_pvcs);
        env.wait_event("orders-db", "Created", |_| true).await;
        env.wait_event("orders-db", "Ready", |m| m.ends_with("-> ready")).await;
        let password = data["password"].clone();
        eprintln!("create → ready in {took:?}; engine writes {}", env.engine_writes.load(Ordering::Relaxed));

        // A fresh engine reconciles the ready cluster once on start: same names, same password, no writes.
        env.stop_engine().await;
        let before_writes = env.engine_writes.load(Ordering::Relaxed);
        let before_reconciles = env.metrics.reconciles(KIND);
        env.start_engine();
        eventually("a reconcile after restart", || async {
            (env.metrics.reconciles(KIND) > before_reconciles).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(env.engine_writes.load(Ordering::Relaxed) - before_writes, 0, "a no-op reconcile writes nothing");
        assert_eq!(env.instances("orders-db").await, instances, "instance names are stable");
        let again = env.secret("orders-db-pguser-orders-db").await.unwrap().data.unwrap();
        assert_eq!(again["password"], password, "the password is kept");
        env.stop_engine().await;
    })
}

#[test]
fn full_example_with_pgbouncer_reaches_ready() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        // The example asks for a `fast-ssd` class; give the sandbox one.
        let classes: Api<k8s_openapi::api::storage::v1::StorageClass> = Api::all(env.client.clone());
        let class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast-ssd"},
            "provisioner": "sandbox.dbdeck.io/hostpath", "allowVolumeExpansion": true});
        classes.create(&PostParams::default(), &serde_json::from_value(class).unwrap()).await.expect("class created");
        env.create_from(FULL, "orders-db", json!({})).await;
        // The example names Secrets its user provides (LDAP CA, custom TLS, pgBouncer users and environment);
        // pods cannot start without them, as on a real cluster.
        let provider = tokio::spawn(user_secrets::provide_user_secrets(env.client.clone()));
        let cr = env.wait_state("orders-db", "ready").await;
        provider.abort();
        let st = cr.status.unwrap();
        assert_eq!(st.host.as_deref(), Some("orders-db-pgbouncer.default.svc"));
        let pg = st.postgres.unwrap();
        assert_eq!((pg.size, pg.ready), (4, 4));
        let sets: BTreeMap<String, i32> = pg.instances.unwrap().into_iter().map(|i| (i.name, i.size)).collect();
        assert_eq!(sets, BTreeMap::from([("main".to_string(), 3), ("reports".to_string(), 1)]));
        let bouncer = st.pgbouncer.unwrap();
        assert_eq!((bouncer.size, bouncer.ready), (3, 3));
        let conditions: BTreeMap<String, String> =
            st.conditions.unwrap().into_iter().map(|c| (c.type_, c.status)).collect();
        assert_eq!(conditions.get("ProxyAvailable").map(String::as_str), Some("True"), "{conditions:?}");
        let deployments: Api<Deployment> = Api::default_namespaced(env.client.clone());
        assert_eq!(deployments.get("orders-db-pgbouncer").await.unwrap().spec.unwrap().replicas, Some(3));
        // Each instance has its data and WAL volumes (the `main` set asks for WAL volumes).
        let pvcs = env.pvcs("orders-db").await;
        let main: Vec<String> = env.instances("orders-db").await.into_iter().filter(|i| i.contains("-main-")).collect();
        for i in &main {
            assert!(pvcs.contains(&format!("{i}-pgdata")) && pvcs.contains(&format!("{i}-pgwal")), "{i}: {pvcs:?}");
        }
        let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::default_namespaced(env.client.clone());
        let mut want_maps = vec!["orders-db-config".to_string(), "orders-db-pgbackrest-config".to_string()];
        want_maps.extend(main.iter().map(|i| format!("{i}-config")));
        for m in want_maps {
            assert!(maps.get_opt(&m).await.unwrap().is_some(), "ConfigMap {m}");
        }
        let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::default_namespaced(env.client.clone());
        for p in ["orders-db-set-main", "orders-db-pgbouncer"] {
            assert!(pdbs.get_opt(p).await.unwrap().is_some(), "PodDisruptionBudget {p}");
        }
        let user = env.secret("orders-app-credentials").await.expect("the custom secretName is used");
        assert!(user.data.unwrap().contains_key("pgbouncer-uri"));
        assert!(env.secret("orders-db-pgbouncer").await.is_some());
        env.stop_engine().await;
    })
}

#[test]
fn scaling_keeps_names_and_the_primary_then_pause_and_resume_keep_the_volumes() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("scale-db", json!({})).await;
        let three = env.wait_instances("scale-db", 3).await;

        // Up: the three instances keep their names, one new one joins.
        env.patch("scale-db", json!({"spec": {"instances": [{"name": "main", "replicas": 4,
            "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
            .await;
        let four = env.wait_instances("scale-db", 4).await;
        assert!(three.iter().all(|i| four.contains(i)), "existing instances keep their names: {three:?} {four:?}");

        // Down to one while Patroni marks the newest instance as leader: the leader's instance stays.
        let newest = four.iter().find(|i| !three.contains(i)).unwrap().clone();
        env.mark_primary(&format!("{newest}-0")).await;
        env.patch("scale-db", json!({"spec": {"instances": [{"name": "main", "replicas": 1,
            "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
            .await;
        let one = env.wait_instances("scale-db", 1).await;
        assert_eq!(one, vec![newest.clone()], "replicas go before the primary");
        assert_eq!(env.pvcs("scale-db").await.len(), 5, "scaling down keeps the removed instances' volumes");
        env.wait_event("scale-db", "Scaled", |m| m == "postgres/main: 3 -> 4").await;
        env.wait_event("scale-db", "Scaled", |m| m == "postgres/main: 4 -> 1").await;
        env.wait_event("scale-db", "InstancesRemoved", |_| true).await;

        // Pause: every workload to zero, volumes kept, stopping → paused.
        env.patch("scale-db", json!({"spec": {"pause": true}})).await;
        env.wait_state("scale-db", "paused").await;
        assert_eq!(env.sts_replicas(&newest).await, Some(0));
        assert_eq!(env.sts_replicas("scale-db-repo-host").await, Some(0));
        eventually("no pods left", || async { env.pods(&format!("{L_CLUSTER}=scale-db")).await.is_empty().then_some(()) })
            .await;
        assert_eq!(env.pvcs("scale-db").await.len(), 5, "pausing keeps every volume");
        // `stopping` lasts while pods are still running, which the sandbox may not let a reconcile see.
        env.wait_event("scale-db", "Paused", |m| m.ends_with("-> paused")).await;
        let events = env.events("scale-db").await;
        assert!(events.iter().filter(|(r, _)| r == "Pausing").all(|(_, m)| m.ends_with("-> stopping")), "{events:?}");

        env.patch("scale-db", json!({"spec": {"pause": false}})).await;
        let back = env.wait_instances("scale-db", 1).await;
        assert_eq!(back, [newest], "resume brings the same instance back");
        env.stop_engine().await;
    })
}

#[test]
fn an_invalid_spec_says_why_with_an_event_and_builds_nothing() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("bad-db", json!({"spec": {"postgresVersion": 11}})).await;
        let cr = eventually("bad-db to report the problem", || async {
            let cr = env.crs().get("bad-db").await.ok()?;
            cr.status.as_ref()?.message.is_some().then_some(cr)
        })
        .await;
        let st = cr.status.unwrap();
        assert_eq!(st.state.as_deref(), Some("error"), "an invalid spec is an error, as for PXC and PS");
        let message = st.message.unwrap();
        assert!(message.contains("spec.postgresVersion") && message.contains("bad-db"), "{message}");
        let valid = st.conditions.unwrap().into_iter().find(|c| c.type_ == "SpecValid").expect("SpecValid condition");
        assert_eq!(valid.status, "False");
        env.wait_event("bad-db", "InvalidSpec", |m| m.contains("spec.postgresVersion")).await;
        assert!(env.instances("bad-db").await.is_empty(), "nothing was built");
        assert!(env.secret("bad-db-pguser-bad-db").await.is_none(), "nothing was built");

        // Fixing the spec recovers and clears the message.
        env.patch("bad-db", json!({"spec": {"postgresVersion": 18}})).await;
        let cr = env.wait_state("bad-db", "ready").await;
        assert_eq!(cr.status.unwrap().message, None);
        env.stop_engine().await;
    })
}

/// Patroni's view of the cluster, asked of one member over its TLS API the way the engine asks it.
async fn patroni_members(env: &Env, cluster: &str, port: u16) -> Option<Vec<Member>> {
    let secret = env.secret(&format!("{cluster}-replication-cert")).await?;
    let data = secret.data?;
    let server = format!("x.{cluster}-pods.default.svc.cluster.local");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let api = PatroniApi::new(addr, &server, &data["ca.crt"].0, (&data["tls.crt"].0, &data["tls.key"].0), "test")
        .expect("certificates usable");
    api.cluster().await.ok()
}

fn leader(members: &[Member]) -> Option<String> {
    members.iter().find(|m| m.is_leader()).map(|m| m.name.clone())
}

/// Real Patroni members named like `pods`, serving their API with the certificates the engine generated
/// for `cluster`; returns them with their API ports and the leader they elected, once every other member
/// replicates.
async fn start_patroni(env: &Env, cluster: &str, pods: &[String]) -> (PatroniCluster, BTreeMap<String, u16>, String) {
    let cert = env.secret(&format!("{cluster}-cluster-cert")).await.expect("the engine made the cluster certificate");
    let pem = |k: &str| String::from_utf8(cert.data.as_ref().unwrap()[k].0.clone()).unwrap();
    let tls = PatroniTls { ca: pem("ca.crt"), cert: pem("tls.crt"), key: pem("tls.key") };
    let mut patroni = PatroniCluster::start(&format!("{cluster}-ha"), pods, &tls).await.expect("patroni starts");
    let api_ports: BTreeMap<String, u16> = patroni.members.iter().map(|m| (m.name.clone(), m.api_port)).collect();
    let start = Instant::now();
    loop {
        patroni.check_alive().unwrap();
        if let Some(members) = patroni_members(env, cluster, api_ports[&pods[0]]).await
            && let Some(l) = leader(&members)
            && members.iter().filter(|m| m.can_take_over()).count() == pods.len() - 1
        {
            return (patroni, api_ports, l);
        }
        assert!(start.elapsed() < Duration::from_secs(90), "Patroni not up:\n{}", patroni.log_tails());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[test]
fn removing_the_primarys_instance_set_switches_patroni_over_first() {
    assert!(dbservers::patroni_available(), "needs Patroni and PostgreSQL 15: `bash .ci/install-db.sh`");
    runtime().block_on(async {
        let mut env = Env::served().await;
        let set = |name: &str| {
            json!({"name": name, "replicas": 1,
            "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        };
        env.create("sets-db", json!({"spec": {"instances": [set("a"), set("b")]}})).await;
        let instances = env.wait_instances("sets-db", 2).await;
        let pods: Vec<String> = instances.iter().map(|i| format!("{i}-0")).collect();
        let (mut patroni, api_ports, primary) = start_patroni(&env, "sets-db", &pods).await;
        for (pod, port) in &api_ports {
            env.sb.attach("default", pod, 8008, std::net::SocketAddr::from(([127, 0, 0, 1], *port)));
        }
        env.mark_primary(&primary).await;
        let (gone, stays) = if primary.starts_with("sets-db-a-") { ("a", "b") } else { ("b", "a") };
        let other = pods.iter().find(|p| **p != primary).unwrap().clone();
        env.patch("sets-db", json!({"spec": {"instances": [set(stays)]}})).await;
        env.wait_event("sets-db", "Switchover", |m| m.contains(&primary) && m.contains("removed")).await;
        let members = patroni_members(&env, "sets-db", api_ports[&other]).await.expect("Patroni answers");
        assert_eq!(leader(&members).as_deref(), Some(other.as_str()), "the leader moved first: {members:?}");
        let left = env.wait_instances("sets-db", 1).await;
        assert!(left[0].starts_with(&format!("sets-db-{stays}-")), "set {gone} went, {stays} stayed: {left:?}");
        env.wait_event("sets-db", "InstancesRemoved", |m| m.contains(&format!("sets-db-{gone}-"))).await;
        let events = env.events("sets-db").await;
        let at = |reason: &str| {
            events.iter().position(|(r, _)| r == reason).unwrap_or_else(|| panic!("{reason}: {events:?}"))
        };
        assert!(at("Switchover") < at("InstancesRemoved"), "the switchover came before the removal: {events:?}");
        patroni.check_alive().unwrap();
        env.stop_engine().await;
        env.served.take().expect("served").shutdown().await;
    })
}

#[test]
fn a_spec_change_rolls_replicas_first_then_switches_patroni_over_before_the_primary() {
    assert!(
        dbservers::patroni_available(),
        "this test runs real Patroni and PostgreSQL 15: `bash .ci/install-db.sh` installs them"
    );
    runtime().block_on(async {
        let mut env = Env::served().await;
        env.create("roll-db", json!({})).await;
        let instances = env.wait_instances("roll-db", 3).await;
        let pods: Vec<String> = instances.iter().map(|i| format!("{i}-0")).collect();
        let (mut patroni, api_ports, primary) = start_patroni(&env, "roll-db", &pods).await;
        // Patroni's Kubernetes store labels its leader; these members keep their store in Raft, so the test does.
        env.mark_primary(&primary).await;
        let sel = format!("{L_CLUSTER}=roll-db,{L_SET}");
        let old: BTreeMap<String, String> = env
            .pods(&sel)
            .await
            .iter()
            .map(|p| (p.name_any(), p.labels().get("controller-revision-hash").cloned().unwrap_or_default()))
            .collect();
        env.patch("roll-db", json!({"spec": {"instances": [{"name": "main", "replicas": 3,
            "env": [{"name": "TZ", "value": "UTC"}],
            "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
            .await;
        let rolled = |pods: &[Pod]| -> Vec<String> {
            pods.iter()
                .filter(|p| old.get(&p.name_any()) != p.labels().get("controller-revision-hash"))
                .map(|p| p.name_any())
                .collect()
        };
        // The replicas roll; the primary does not while Patroni's API cannot be reached (nothing attached yet).
        env.wait_event("roll-db", "SwitchoverFailed", |m| m.contains(&primary) && m.contains("not restarted")).await;
        let now = rolled(&env.pods(&sel).await);
        let replicas: BTreeSet<String> = pods.iter().filter(|p| **p != primary).cloned().collect();
        assert_eq!(now.iter().cloned().collect::<BTreeSet<_>>(), replicas, "replicas first, primary kept");
        // Now the pods' API port reaches their Patroni members: the engine asks, Patroni moves the leader.
        for (pod, port) in &api_ports {
            env.sb.attach("default", pod, 8008, std::net::SocketAddr::from(([127, 0, 0, 1], *port)));
        }
        let start = Instant::now();
        while !env.events("roll-db").await.iter().any(|(r, m)| r == "Switchover" && m.contains(&primary)) {
            let failures: Vec<String> =
                env.events("roll-db").await.into_iter().filter(|(r, _)| r == "SwitchoverFailed").map(|(_, m)| m).collect();
            assert!(start.elapsed() < DEADLINE, "no switchover; attempts: {failures:#?}\n{}", patroni.log_tails());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let members = patroni_members(&env, "roll-db", api_ports[&pods[0]]).await.expect("Patroni answers");
        let new_leader = leader(&members).expect("a leader");
        assert!(replicas.contains(&new_leader), "the leader moved to an updated replica: {members:?}");
        eventually("the old primary rolled last", || async {
            (rolled(&env.pods(&sel).await).len() == 3).then_some(())
        })
        .await;
        env.wait_state("roll-db", "ready").await;
        let events = env.events("roll-db").await;
        let reasons: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
        let at = |reason: &str, pod: &str| {
            events.iter().position(|(r, m)| r == reason && m.contains(pod)).unwrap_or_else(|| panic!("{reason} {pod}: {reasons:?}"))
        };
        let switched = at("Switchover", &primary);
        assert!(switched < at("RollingUpdate", &primary), "switchover before the primary's restart: {events:?}");
        for r in &replicas {
            assert!(at("RollingUpdate", r) < switched, "replica {r} before the switchover: {events:?}");
        }
        patroni.check_alive().unwrap();
        env.stop_engine().await;
        env.served.take().expect("served").shutdown().await;
    })
}

#[test]
fn a_failing_backup_deletion_holds_the_finalizer_and_says_why() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("stuck-db", json!({"metadata": {"finalizers": ["percona.com/delete-backups"]}})).await;
        env.wait_state("stuck-db", "ready").await;
        let req = http::Request::post("/_sandbox/jobs/fail-next").body(Vec::new()).unwrap();
        env.client.request_text(req).await.expect("fault accepted");
        env.crs().delete("stuck-db", &DeleteParams::default()).await.unwrap();
        env.wait_event("stuck-db", "DeleteBackupsFailed", |m| {
            m.contains("Job stuck-db-backrest-stop (pgbackrest stop --stanza=db) failed")
                && m.contains("remove the finalizer")
        })
        .await;
        let cr = env.crs().get("stuck-db").await.expect("held by its finalizer");
        assert_eq!(cr.status.as_ref().and_then(|s| s.state.as_deref()), Some("stopping"), "it says it is deleting");
        env.wait_event("stuck-db", "Deleting", |m| m.contains("running finalizers percona.com/delete-backups")).await;
        let message = cr.status.and_then(|s| s.message).unwrap_or_default();
        assert!(
            message.contains("Job stuck-db-backrest-stop") && message.contains("failed"),
            "status says why: {message}"
        );
        assert_eq!(cr.metadata.finalizers.as_deref(), Some(&["percona.com/delete-backups".to_string()][..]));
        assert_eq!(env.pvcs("stuck-db").await.len(), 4, "nothing was deleted");
        // The user gives up on deleting the backups: the cluster goes, the volumes stay.
        let patch = json!({"metadata": {"finalizers": null}});
        env.crs().patch("stuck-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        eventually("stuck-db gone", || async { env.crs().get_opt("stuck-db").await.unwrap().is_none().then_some(()) })
            .await;
        assert_eq!(env.pvcs("stuck-db").await.len(), 4);
        env.stop_engine().await;
    })
}

#[test]
fn delete_keeps_volumes_and_credentials_unless_finalizers_ask() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("keep-db", json!({})).await;
        env.create(
            "drop-db",
            json!({"metadata": {"finalizers": ["percona.com/delete-backups", "percona.com/delete-pvc", "percona.com/delete-ssl"]}}),
        )
        .await;
        env.wait_state("keep-db", "ready").await;
        env.wait_state("drop-db", "ready").await;
        assert_eq!(env.pvcs("drop-db").await.len(), 4);
        let backups: Api<PerconaPGBackup> = Api::default_namespaced(env.client.clone());
        for cluster in ["drop-db", "keep-db"] {
            let b: PerconaPGBackup = serde_json::from_value(json!({
                "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGBackup",
                "metadata": {"name": format!("{cluster}-backup-1")},
                "spec": {"pgCluster": cluster, "repoName": "repo1"},
            }))
            .unwrap();
            backups.create(&PostParams::default(), &b).await.expect("backup object created");
        }

        env.crs().delete("keep-db", &DeleteParams::default()).await.unwrap();
        env.crs().delete("drop-db", &DeleteParams::default()).await.unwrap();
        eventually("both CRs gone", || async {
            (env.crs().get_opt("keep-db").await.unwrap().is_none() && env.crs().get_opt("drop-db").await.unwrap().is_none())
                .then_some(())
        })
        .await;
        eventually("drop-db's volumes gone", || async { env.pvcs("drop-db").await.is_empty().then_some(()) }).await;
        assert_eq!(env.pvcs("keep-db").await.len(), 4, "without the finalizer the PVCs stay");
        assert!(env.secret("keep-db-pguser-keep-db").await.is_some(), "the user Secret outlives the cluster");
        // Certificates are owned by the cluster, as Percona's e2e suite asserts for the CA.
        eventually("keep-db's CA collected with the cluster", || async {
            env.secret("keep-db-cluster-ca-cert").await.is_none().then_some(())
        })
        .await;
        assert!(env.secret("drop-db-pguser-drop-db").await.is_none());
        assert!(env.secret("drop-db-cluster-cert").await.is_none());
        assert!(env.secret("drop-db-cluster-ca-cert").await.is_none());
        let events = env.events("drop-db").await;
        let at = |reason: &str, text: &str| {
            events.iter().position(|(r, m)| r == reason && m.contains(text)).unwrap_or_else(|| panic!("{reason}: {events:?}"))
        };
        // delete-backups ran pgBackRest's stop, then stanza-delete on repo1, then removed the backup objects,
        // all before the volumes went.
        let stop = at("DeletingBackups", "drop-db-backrest-stop (pgbackrest stop --stanza=db)");
        let repo1 = at("DeletingBackups", "drop-db-delete-repo1 (pgbackrest stanza-delete --stanza=db --repo=1 --force)");
        let done = at("DeletedBackups", "drop-db-backup-1");
        assert!(stop < repo1 && repo1 < done && done < at("DeletedVolumes", ""), "{events:?}");
        let backups: Api<PerconaPGBackup> = Api::default_namespaced(env.client.clone());
        assert!(backups.get_opt("drop-db-backup-1").await.unwrap().is_none(), "the cluster's backup object is gone");
        assert!(backups.get_opt("keep-db-backup-1").await.unwrap().is_some(), "another cluster's backup stays");

        // Recreating keep-db reopens its volumes (same instance names) with the same password.
        let old_password = env.secret("keep-db-pguser-keep-db").await.unwrap().data.unwrap()["password"].clone();
        let old_pvcs = env.pvcs("keep-db").await;
        env.create("keep-db", json!({})).await;
        env.wait_instances("keep-db", 3).await;
        let password = env.secret("keep-db-pguser-keep-db").await.unwrap().data.unwrap()["password"].clone();
        assert_eq!(password, old_password);
        assert_eq!(env.pvcs("keep-db").await, old_pvcs, "the new instances took the old volumes");
        env.stop_engine().await;
    })
}

#[test]
fn injected_throttling_and_unavailability_do_not_stop_convergence() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create("flaky-db", json!({})).await;
        env.sb
            .set_faults(FaultConfig { error_rate: 0.2, error_code: 503, retry_after_seconds: 0, ..Default::default() })
            .unwrap();
        // The test's own reads can be refused too: wait_state tolerates that by polling.
        let ready = env.wait_state("flaky-db", "ready").await;
        let names = eventually("the instance names", || async {
            let api: Api<StatefulSet> = Api::default_namespaced(env.client.clone());
            let sel = format!("{L_CLUSTER}=flaky-db,{L_SET}");
            let mut n: Vec<String> =
                api.list(&ListParams::default().labels(&sel)).await.ok()?.items.iter().map(|s| s.name_any()).collect();
            n.sort();
            Some(n)
        })
        .await;
        assert_eq!(names.len(), 3, "faults did not make extra instances: {names:?}");
        assert_eq!(ready.status.unwrap().postgres.unwrap().ready, 3);
        env.sb
            .set_faults(FaultConfig { error_rate: 0.2, error_code: 429, retry_after_seconds: 0, ..Default::default() })
            .unwrap();
        let patch = json!({"spec": {"instances": [{"name": "main", "replicas": 4,
            "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        eventually("the patch to go through", || async {
            env.crs().patch("flaky-db", &PatchParams::default(), &Patch::Merge(&patch)).await.ok().map(|_| ())
        })
        .await;
        eventually("4 ready instances", || async {
            let cr = env.crs().get("flaky-db").await.ok()?;
            let st = cr.status.as_ref()?;
            (st.postgres.as_ref()?.ready == 4 && st.state.as_deref() == Some("ready")).then_some(())
        })
        .await;
        env.sb.set_faults(FaultConfig::default()).unwrap();
        let after = env.instances("flaky-db").await;
        assert_eq!(after.len(), 4);
        assert!(names.iter().all(|n| after.contains(n)), "the first three kept their names: {names:?} {after:?}");
        env.stop_engine().await;
    })
}
