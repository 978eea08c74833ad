//! The simulated cluster behind the sandbox API: scheduler, kubelets, StatefulSets, volumes, Jobs,
//! CronJobs, Services and faults, observed through kube-rs (and once through kubectl over HTTPS): pods and
//! StatefulSets settling through kube-rs reflectors (real watches), single transitions by polling. Every wait has
//! a deadline; nothing asserts on a fixed sleep.

use std::future::Future;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbdeck::sandbox::controllers::ControllerConfig;
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use std::sync::Arc;

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Endpoints, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(20);

fn fast() -> ControllerConfig {
    ControllerConfig {
        nodes: 3,
        start_delay: Duration::from_millis(40),
        job_duration: Duration::from_millis(80),
        resize_delay: Duration::from_millis(80),
        eviction_timeout: Some(Duration::from_millis(300)),
    }
}

fn cluster() -> (Sandbox, Client) {
    let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
    sb.start_controllers(fast()).expect("controllers start");
    let client = Client::new(sb.router(), "default");
    (sb, client)
}

/// Polls `f` until it yields `Some`, or panics naming `what` after the deadline.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fault(client: &Client, path: &str) -> Value {
    let req = http::Request::post(path).body(Vec::new()).unwrap();
    serde_json::from_str(&client.request_text(req).await.expect("fault accepted")).unwrap()
}

fn ready(p: &Pod) -> bool {
    let st = p.status.as_ref();
    st.and_then(|s| s.phase.as_deref()) == Some("Running")
        && st
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_of(p: &Pod) -> String {
    p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()
}

fn restarts(p: &Pod) -> i32 {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).map(|c| c[0].restart_count).unwrap_or(-1)
}

fn sts(name: &str, replicas: i32, extra_spec: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "db", "image": "percona:8.0"}]},
        },
        "volumeClaimTemplates": [{
            "metadata": {"name": "datadir"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }],
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}),
    )
    .unwrap()
}

fn anti_affinity(app: &str) -> Value {
    json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}})
}

/// Follows `api` through a kube-rs reflector (a real watch, as a controller would) until `pred` holds on the
/// cached objects, or panics naming `what` after the deadline.
async fn watch_until<K, T>(
    api: Api<K>,
    cfg: watcher::Config,
    what: &str,
    mut pred: impl FnMut(&[Arc<K>]) -> Option<T>,
) -> T
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let mut stream = reflector(writer, watcher(api, cfg)).boxed();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("timed out watching for {what}"),
            Ok(None) => panic!("the watch ended before {what}"),
            Ok(Some(Err(e))) => panic!("the watch for {what} failed: {e}"),
            Ok(Some(Ok(_))) => {}
        }
        // The store fills in one go once the initial list is done; until then it is empty.
        if reader.wait_until_ready().now_or_never().is_none() {
            continue;
        }
        if let Some(v) = pred(&reader.state()) {
            return v;
        }
    }
}

/// Waits, watching, for exactly `n` pods of `app`, all Running and Ready.
async fn ready_pods(pods: &Api<Pod>, app: &str, n: usize) -> Vec<Pod> {
    let cfg = watcher::Config::default().labels(&format!("app={app}"));
    let mut list: Vec<Pod> = watch_until(pods.clone(), cfg, &format!("{n} ready pods of {app}"), |state| {
        (state.len() == n && state.iter().all(|p| ready(p))).then(|| state.iter().map(|p| (**p).clone()).collect())
    })
    .await;
    list.sort_by_key(|p: &Pod| p.name_any());
    list
}

/// Waits, watching, for the StatefulSet's status to report `n` replicas all ready and on the update revision.
async fn sts_settled(api: &Api<StatefulSet>, name: &str, n: i32) -> StatefulSet {
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watch_until(api.clone(), cfg, &format!("statefulset {name} settled at {n}"), |state| {
        let s = state.first()?;
        let st = s.status.as_ref()?;
        (st.ready_replicas == Some(n)
            && st.replicas == n
            && st.updated_replicas == Some(n)
            && st.current_revision == st.update_revision
            && st.observed_generation == s.metadata.generation)
            .then(|| (**s).clone())
    })
    .await
}

#[tokio::test]
async fn nodes_are_registered_with_zones() {
    let (_sb, client) = cluster();
    let nodes: Api<Node> = Api::all(client);
    let list = nodes.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 3);
    let zones: Vec<String> = list.iter().map(|n| n.labels()["topology.kubernetes.io/zone"].clone()).collect();
    assert_eq!(zones, ["zone-a", "zone-b", "zone-c"]);
    assert!(list.iter().all(|n| {
        n.status.as_ref().unwrap().conditions.as_ref().unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True")
    }));
}

#[tokio::test]
async fn anti_affinity_places_three_and_leaves_the_fourth_unschedulable() {
    let (_sb, client) = cluster();
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut set = sts("spread", 3, json!({"podManagementPolicy": "Parallel"}));
    set.spec.as_mut().unwrap().template.spec.as_mut().unwrap().affinity =
        Some(serde_json::from_value(anti_affinity("spread")).unwrap());
    api.create(&PostParams::default(), &set).await.unwrap();
    let placed = ready_pods(&pods, "spread", 3).await;
    let mut nodes: Vec<String> = placed.iter().map(node_of).collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "one pod per node");

    api.patch("spread", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}}))).await.unwrap();
    let cond = eventually("spread-3 unschedulable", || async {
        let p = pods.get_opt("spread-3").await.unwrap()?;
        let c = p.status?.conditions?.into_iter().find(|c| c.type_ == "PodScheduled")?;
        (c.status == "False").then_some(c)
    })
    .await;
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    let msg = cond.message.unwrap();
    assert!(msg.starts_with("0/3 nodes are available:"), "{msg}");
    assert!(msg.contains("anti-affinity"), "{msg}");
    assert_eq!(node_of(&pods.get("spread-3").await.unwrap()), "");
}

#[tokio::test]
async fn statefulset_create_scale_update_and_recreate() {
    let (_sb, client) = cluster();
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &sts("db", 3, json!({}))).await.unwrap();
    sts_settled(&api, "db", 3).await;
    let list = ready_pods(&pods, "db", 3).await;
    for p in &list {
        let st = p.status.as_ref().unwrap();
        assert!(st.pod_ip.as_deref().is_some_and(|ip| ip.starts_with("10.244.")), "{:?}", st.pod_ip);
        assert!(st.host_ip.as_deref().is_some_and(|ip| ip.starts_with("172.18.0.")));
        let cs = &st.container_statuses.as_ref().unwrap()[0];
        assert_eq!((cs.image.as_str(), cs.ready, cs.restart_count, cs.started), ("percona:8.0", true, 0, Some(true)));
        assert!(p.labels().contains_key("controller-revision-hash"));
        assert_eq!(p.labels()["statefulset.kubernetes.io/pod-name"], p.name_any());
    }
    let claims = pvcs.list(&ListParams::default()).await.unwrap().items;
    let mut names: Vec<String> = claims.iter().map(|c| c.name_any()).collect();
    names.sort();
    assert_eq!(names, ["datadir-db-0", "datadir-db-1", "datadir-db-2"]);
    assert!(claims.iter().all(|c| c.status.as_ref().unwrap().phase.as_deref() == Some("Bound")));

    // Scale up, then down: claims stay.
    api.patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    sts_settled(&api, "db", 5).await;
    api.patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.unwrap();
    sts_settled(&api, "db", 2).await;
    let left: Vec<String> = ready_pods(&pods, "db", 2).await.iter().map(|p| p.name_any()).collect();
    assert_eq!(left, ["db-0", "db-1"]);
    assert_eq!(pvcs.list(&ListParams::default()).await.unwrap().items.len(), 5, "scale-down keeps claims");

    // Rolling update.
    let before = api.get("db").await.unwrap().status.unwrap().current_revision;
    let img = json!({"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "percona:8.4"}]}}}});
    api.patch("db", &PatchParams::default(), &Patch::Strategic(img)).await.unwrap();
    let after = eventually("rolled to percona:8.4", || async {
        let s = api.get("db").await.unwrap();
        let st = s.status.clone()?;
        let list = pods.list(&ListParams::default().labels("app=db")).await.unwrap().items;
        let all_new = list.len() == 2
            && list
                .iter()
                .all(|p| ready(p) && p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("percona:8.4"));
        (all_new && st.current_revision == st.update_revision && st.ready_replicas == Some(2)).then_some(st)
    })
    .await;
    assert_ne!(before, after.current_revision);

    // A deleted pod comes back with the same name and claim.
    let old_uid = pods.get("db-1").await.unwrap().uid();
    pods.delete("db-1", &DeleteParams::default()).await.unwrap();
    let back = eventually("db-1 recreated", || async {
        let p = pods.get_opt("db-1").await.unwrap()?;
        (p.uid() != old_uid && ready(&p)).then_some(p)
    })
    .await;
    let vols = back.spec.unwrap().volumes.unwrap();
    let claim = vols.iter().find_map(|v| v.persistent_volume_claim.as_ref()).unwrap();
    assert_eq!(claim.claim_name, "datadir-db-1");

    // A killed pod restarts in place.
    fault(&client, "/_sandbox/pods/default/db-0/kill").await;
    let p = eventually("db-0 restarted", || async {
        let p = pods.get("db-0").await.unwrap();
        (restarts(&p) == 1 && ready(&p)).then_some(p)
    })
    .await;
    assert!(p.status.unwrap().container_statuses.unwrap()[0].last_state.as_ref().unwrap().terminated.is_some());
}

#[tokio::test]
async fn on_delete_updates_only_deleted_pods() {
    let (_sb, client) = cluster();
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &sts("od", 2, json!({"updateStrategy": {"type": "OnDelete"}}))).await.unwrap();
    sts_settled(&api, "od", 2).await;
    let img = json!({"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "percona:8.4"}]}}}});
    api.patch("od", &PatchParams::default(), &Patch::Strategic(img)).await.unwrap();
    let st = eventually("new update revision", || async {
        let st = api.get("od").await.unwrap().status?;
        (st.update_revision != st.current_revision && st.observed_generation == Some(2)).then_some(st)
    })
    .await;
    assert_eq!(st.updated_replicas, Some(0));
    let image = |p: &Pod| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap();
    assert!(ready_pods(&pods, "od", 2).await.iter().all(|p| image(p) == "percona:8.0"));
    pods.delete("od-1", &DeleteParams::default()).await.unwrap();
    eventually("od-1 on the new template", || async {
        let p = pods.get_opt("od-1").await.unwrap()?;
        (ready(&p) && image(&p) == "percona:8.4").then_some(())
    })
    .await;
    assert_eq!(image(&pods.get("od-0").await.unwrap()), "percona:8.0");
}

#[tokio::test]
async fn claims_bind_grow_and_can_be_held_pending() {
    let (_sb, client) = cluster();
    let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let claim = |name: &str| -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap()
    };
    pvcs.create(&PostParams::default(), &claim("data")).await.unwrap();
    let bound = eventually("data bound", || async {
        let c = pvcs.get("data").await.unwrap();
        (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
    })
    .await;
    let spec = bound.spec.unwrap();
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
    let pv = pvs.get(spec.volume_name.as_deref().unwrap()).await.unwrap();
    assert_eq!(pv.spec.unwrap().capacity.unwrap()["storage"].0, "1Gi");

    // Grow: watched from the bound version on, the claim goes through Resizing and
    // FileSystemResizePending before it reports the new capacity.
    let rv = bound.metadata.resource_version.clone().unwrap();
    let wp = kube::api::WatchParams::default().fields("metadata.name=data");
    let mut events = pvcs.watch(&wp, &rv).await.unwrap().boxed();
    pvcs.patch(
        "data",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let grown = tokio::time::timeout(DEADLINE, async {
        while let Some(ev) = events.try_next().await.unwrap() {
            if let kube::api::WatchEvent::Modified(c) = ev {
                let st = c.status.unwrap_or_default();
                for cond in st.conditions.clone().unwrap_or_default() {
                    if seen.last() != Some(&cond.type_) {
                        seen.push(cond.type_);
                    }
                }
                if st.capacity.as_ref().is_some_and(|c| c["storage"].0 == "2Gi") {
                    return st;
                }
            }
        }
        panic!("the watch ended before the claim grew");
    })
    .await
    .expect("claim grew within the deadline");
    assert_eq!(seen, ["Resizing", "FileSystemResizePending"]);
    assert!(grown.conditions.unwrap_or_default().is_empty());
    let pv = pvs.get(spec.volume_name.as_deref().unwrap()).await.unwrap();
    assert_eq!(pv.spec.unwrap().capacity.unwrap()["storage"].0, "2Gi");
    // Shrinking is refused.
    let err = pvcs
        .patch(
            "data",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 422), "{err}");
    assert!(
        err.to_string().contains(
            "PersistentVolumeClaim \"data\" is invalid: spec.resources.requests.storage: Forbidden: \
             field can not be less than status.capacity"
        ),
        "{err}"
    );
    // A class without allowVolumeExpansion: growing is refused by the resize admission plugin.
    let classes: Api<k8s_openapi::api::storage::v1::StorageClass> = Api::all(client.clone());
    let fixed =
        json!({"metadata": {"name": "fixed"}, "provisioner": "dbdeck.io/hostpath", "allowVolumeExpansion": false});
    classes.create(&PostParams::default(), &serde_json::from_value(fixed).unwrap()).await.unwrap();
    let mut rigid = claim("rigid");
    rigid.spec.as_mut().unwrap().storage_class_name = Some("fixed".into());
    pvcs.create(&PostParams::default(), &rigid).await.unwrap();
    eventually("rigid bound", || async {
        (pvcs.get("rigid").await.unwrap().status?.phase.as_deref() == Some("Bound")).then_some(())
    })
    .await;
    let grow = Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}));
    let err = pvcs.patch("rigid", &PatchParams::default(), &grow).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err}");
    assert!(err.to_string().contains("only dynamically provisioned pvc can be resized"), "{err}");

    // A held claim stays Pending while a later one binds; released, it binds.
    pvcs.create(&PostParams::default(), &claim("held")).await.unwrap();
    fault(&client, "/_sandbox/pvcs/default/held/hold").await;
    // The hold may race the first bind; start from a claim created after the hold.
    pvcs.delete("held", &DeleteParams::default()).await.unwrap();
    pvcs.create(&PostParams::default(), &claim("held")).await.unwrap();
    pvcs.create(&PostParams::default(), &claim("later")).await.unwrap();
    eventually("later bound", || async {
        let c = pvcs.get("later").await.unwrap();
        (c.status?.phase.as_deref() == Some("Bound")).then_some(())
    })
    .await;
    let held = pvcs.get("held").await.unwrap();
    assert_eq!(held.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
    fault(&client, "/_sandbox/pvcs/default/held/release").await;
    eventually("held bound after release", || async {
        let c = pvcs.get("held").await.unwrap();
        (c.status?.phase.as_deref() == Some("Bound")).then_some(())
    })
    .await;
}

fn job(name: &str, fail: bool) -> Job {
    let ann = if fail { json!({"sandbox.dbdeck.io/fail": "true"}) } else { json!({}) };
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"backoffLimit": 0, "template": {
        "metadata": {"annotations": ann},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "backup", "image": "xtrabackup:8.0"}]}}}}))
    .unwrap()
}

async fn job_outcome(jobs: &Api<Job>, name: &str) -> String {
    eventually(&format!("job {name} finished"), || async {
        let st = jobs.get(name).await.unwrap().status?;
        st.conditions?
            .into_iter()
            .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            .map(|c| c.type_)
    })
    .await
}

#[tokio::test]
async fn jobs_succeed_fail_and_fail_on_demand() {
    let (_sb, client) = cluster();
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    jobs.create(&PostParams::default(), &job("ok", false)).await.unwrap();
    jobs.create(&PostParams::default(), &job("bad", true)).await.unwrap();
    assert_eq!(job_outcome(&jobs, "ok").await, "Complete");
    assert_eq!(jobs.get("ok").await.unwrap().status.unwrap().succeeded, Some(1));
    assert_eq!(job_outcome(&jobs, "bad").await, "Failed");
    assert_eq!(jobs.get("bad").await.unwrap().status.unwrap().failed, Some(1));
    fault(&client, "/_sandbox/jobs/fail-next").await;
    jobs.create(&PostParams::default(), &job("doomed", false)).await.unwrap();
    assert_eq!(job_outcome(&jobs, "doomed").await, "Failed");
    jobs.create(&PostParams::default(), &job("fine", false)).await.unwrap();
    assert_eq!(job_outcome(&jobs, "fine").await, "Complete");
}

#[tokio::test]
async fn cronjob_fires_and_keeps_its_history_limit() {
    let (_sb, client) = cluster();
    let crons: Api<CronJob> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "tick"}, "spec": {
        "schedule": "@every 1s", "successfulJobsHistoryLimit": 1,
        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}}}}}))
    .unwrap();
    crons.create(&PostParams::default(), &cj).await.unwrap();
    let names = std::cell::RefCell::new(std::collections::BTreeSet::new());
    eventually("three runs", || async {
        for j in jobs.list(&ListParams::default()).await.unwrap().items {
            names.borrow_mut().insert(j.name_any());
        }
        (names.borrow().len() >= 3).then_some(())
    })
    .await;
    let names = names.into_inner();
    assert!(names.iter().all(|n| n.starts_with("tick-")));
    assert!(crons.get("tick").await.unwrap().status.unwrap().last_schedule_time.is_some());
    eventually("history trimmed to one complete job", || async {
        let list = jobs.list(&ListParams::default()).await.unwrap().items;
        let complete = list
            .iter()
            .filter(|j| {
                j.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Complete"))
            })
            .count();
        (complete == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn endpoints_follow_readiness() {
    let (_sb, client) = cluster();
    let deps: Api<Deployment> = Api::default_namespaced(client.clone());
    let svcs: Api<Service> = Api::default_namespaced(client.clone());
    let eps: Api<Endpoints> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let dep: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx",
            "ports": [{"containerPort": 80}]}]}}}}))
    .unwrap();
    deps.create(&PostParams::default(), &dep).await.unwrap();
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 80}]}}))
    .unwrap();
    svcs.create(&PostParams::default(), &svc).await.unwrap();
    let ip = eventually("cluster IP", || async { svcs.get("web").await.unwrap().spec?.cluster_ip }).await;
    assert!(ip.starts_with("10.96."), "{ip}");
    let counts = |e: &Endpoints| -> (usize, usize) {
        let subsets = e.subsets.clone().unwrap_or_default();
        (
            subsets.iter().map(|s| s.addresses.as_ref().map_or(0, Vec::len)).sum(),
            subsets.iter().map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len)).sum(),
        )
    };
    let wait = |want: (usize, usize)| {
        let eps = eps.clone();
        async move {
            eventually(&format!("endpoints {want:?}"), || async {
                let e = eps.get_opt("web").await.unwrap()?;
                (counts(&e) == want).then_some(())
            })
            .await
        }
    };
    wait((2, 0)).await;
    let d = eventually("deployment available", || async {
        let d = deps.get("web").await.unwrap();
        (d.status.as_ref()?.available_replicas == Some(2)).then_some(d)
    })
    .await;
    assert_eq!(d.status.unwrap().ready_replicas, Some(2));
    // A PDB over the two pods: one may go.
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let pdb = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1,
        "selector": {"matchLabels": {"app": "web"}}}}))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    eventually("pdb status", || async {
        let st = pdbs.get("web").await.unwrap().status?;
        (st.current_healthy == 2 && st.expected_pods == 2 && st.disruptions_allowed == 1).then_some(())
    })
    .await;
    let one = ready_pods(&pods, "web", 2).await[0].name_any();
    fault(&client, &format!("/_sandbox/pods/default/{one}/unready")).await;
    wait((1, 1)).await;
    eventually("pdb sees one unhealthy pod", || async {
        let st = pdbs.get("web").await.unwrap().status?;
        (st.current_healthy == 1 && st.disruptions_allowed == 0).then_some(())
    })
    .await;
    fault(&client, &format!("/_sandbox/pods/default/{one}/ready")).await;
    wait((2, 0)).await;
    // publishNotReadyAddresses lists the unready pod as an address.
    svcs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"publishNotReadyAddresses": true}})))
        .await
        .unwrap();
    fault(&client, &format!("/_sandbox/pods/default/{one}/unready")).await;
    wait((2, 0)).await;
    let slices: Api<k8s_openapi::api::discovery::v1::EndpointSlice> = Api::default_namespaced(client.clone());
    let list = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.unwrap().items;
    assert_eq!(list.iter().map(|s| s.endpoints.len()).sum::<usize>(), 2);
}

#[tokio::test]
async fn node_failure_makes_pods_unready_then_evicts_them() {
    let (_sb, client) = cluster();
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &sts("nf", 3, json!({"podManagementPolicy": "Parallel"}))).await.unwrap();
    let list = ready_pods(&pods, "nf", 3).await;
    let victim = list[0].clone();
    let node = node_of(&victim);
    assert!(
        victim
            .spec
            .as_ref()
            .unwrap()
            .tolerations
            .as_ref()
            .unwrap()
            .iter()
            .any(|t| { t.key.as_deref() == Some("node.kubernetes.io/not-ready") && t.toleration_seconds == Some(300) })
    );
    fault(&client, &format!("/_sandbox/nodes/{node}/notready")).await;
    // NotReady first (the eviction timeout is 300 ms)…
    eventually("victim NotReady", || async {
        let p = pods.get_opt(&victim.name_any()).await.unwrap()?;
        (p.uid() == victim.uid() && !ready(&p)).then_some(())
    })
    .await;
    // …then evicted and recreated on a healthy node.
    let back = eventually("victim recreated elsewhere", || async {
        let p = pods.get_opt(&victim.name_any()).await.unwrap()?;
        (p.uid() != victim.uid() && ready(&p)).then_some(p)
    })
    .await;
    assert_ne!(node_of(&back), node);
    // What happened is told in Events, as the node and taint-eviction controllers would.
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client.clone());
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.uid.as_deref() == victim.metadata.uid.as_deref())
        .filter_map(|e| e.reason)
        .collect();
    for reason in ["Scheduled", "NodeNotReady", "TaintManagerEviction"] {
        assert!(reasons.iter().any(|r| r == reason), "no {reason} event for the victim: {reasons:?}");
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get(&node).await.unwrap();
    assert!(n.spec.unwrap().taints.unwrap().iter().any(|t| t.key == "node.kubernetes.io/not-ready"));
    fault(&client, &format!("/_sandbox/nodes/{node}/ready")).await;
    // Ready again: the not-ready taints come off (a merge patch that omitted them used to leave them on).
    let healed = nodes.get(&node).await.unwrap();
    assert!(healed.spec.as_ref().unwrap().taints.iter().flatten().all(|t| t.key != "node.kubernetes.io/not-ready"));
    fault(&client, &format!("/_sandbox/nodes/{node}/cordon")).await;
    let cordoned = nodes.get(&node).await.unwrap().spec.unwrap();
    assert_eq!(cordoned.unschedulable, Some(true));
    assert!(cordoned.taints.iter().flatten().any(|t| t.key == "node.kubernetes.io/unschedulable"));
    fault(&client, &format!("/_sandbox/nodes/{node}/uncordon")).await;
    let open = nodes.get(&node).await.unwrap().spec.unwrap();
    assert_eq!(open.unschedulable, None);
    assert!(open.taints.unwrap_or_default().is_empty());
}

/// The eviction subresource honours a PodDisruptionBudget: one of three pods may go; a second eviction while the
/// replacement is not Ready yet is refused with upstream's 429; once the set is whole again, the next may go.
#[tokio::test]
async fn evictions_respect_the_disruption_budget() {
    // Replacements take a second to start, far longer than the gap between the two evictions below.
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    sb.start_controllers(ControllerConfig { start_delay: Duration::from_secs(1), ..fast() }).unwrap();
    let client = Client::new(sb.router(), "default");
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &sts("ev", 3, json!({"podManagementPolicy": "Parallel"}))).await.unwrap();
    let budget =
        json!({"metadata": {"name": "ev"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "ev"}}}});
    pdbs.create(&PostParams::default(), &serde_json::from_value(budget).unwrap()).await.unwrap();
    let before = ready_pods(&pods, "ev", 3).await;
    let allows = |n: i32| {
        let pdbs = pdbs.clone();
        async move {
            eventually(&format!("budget allows {n}"), || async {
                let st = pdbs.get("ev").await.unwrap().status?;
                (st.disruptions_allowed == n && st.current_healthy == 3 - (1 - n)).then_some(())
            })
            .await
        }
    };
    allows(1).await;
    let ep = kube::api::EvictParams::default();
    pods.evict("ev-0", &ep).await.expect("the first eviction fits the budget");
    // Straight after, the budget has no disruption left (the eviction took it; the replacement is not Ready yet).
    let err = pods.evict("ev-1", &ep).await.unwrap_err();
    match &err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (429, "TooManyRequests"), "{err}");
            assert_eq!(s.message, "Cannot evict pod as it would violate the pod's disruption budget.");
        }
        other => panic!("expected a 429, got {other}"),
    }
    assert_eq!(pods.get("ev-1").await.unwrap().uid(), before[1].uid(), "the refused pod stays");
    // The StatefulSet replaces ev-0; with three Ready again the budget allows the next one.
    ready_pods(&pods, "ev", 3).await;
    allows(1).await;
    pods.evict("ev-1", &ep).await.expect("the budget allows one again");
    // A pod no budget covers is simply deleted.
    let cm_pod: Pod = serde_json::from_value(json!({"metadata": {"name": "loose", "labels": {"app": "loose"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &cm_pod).await.unwrap();
    pods.evict("loose", &ep).await.unwrap();
    assert!(pods.get_opt("loose").await.unwrap().is_none());
}

/// 300 three-pod StatefulSets (900 pods, 900 claims) settle; LIST latency is printed (not asserted on time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_statefulsets_settle() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    sb.start_controllers(ControllerConfig { nodes: 12, start_delay: Duration::from_millis(50), ..fast() }).unwrap();
    let client = Client::new(sb.router(), "default");
    let api: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let start = Instant::now();
    for i in 0..300 {
        api.create(&PostParams::default(), &sts(&format!("c{i}"), 3, json!({"podManagementPolicy": "Parallel"})))
            .await
            .unwrap();
    }
    let created = start.elapsed();
    // Settling is watched through the 300 StatefulSets' status (cheap to list); a full LIST of the
    // pods is timed on the side to show the API stays responsive meanwhile.
    let mut worst_list = Duration::ZERO;
    let mut polls = 0u32;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let sets = api.list(&ListParams::default()).await.unwrap().items;
        let ready: i32 = sets.iter().filter_map(|s| s.status.as_ref()?.ready_replicas).sum();
        if ready == 900 {
            break;
        }
        if polls.is_multiple_of(5) {
            let t = Instant::now();
            pods.list(&ListParams::default().limit(500)).await.unwrap();
            worst_list = worst_list.max(t.elapsed());
        }
        polls += 1;
        assert!(Instant::now() < deadline, "900 pods did not settle: {ready} ready");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all = pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(all.len(), 900);
    assert!(all.iter().all(ready));
    let settled = start.elapsed();
    let t = Instant::now();
    let one = api.get("c150").await.unwrap();
    let get_latency = t.elapsed();
    assert_eq!(one.status.unwrap().ready_replicas, Some(3));
    eprintln!(
        "scale: 300 statefulsets created in {created:?}; 900 pods Ready after {settled:?}; \
         worst LIST of 500 pods while settling {worst_list:?}; GET afterwards {get_latency:?}"
    );
}

fn have_kubectl() -> bool {
    Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success())
}

fn kubectl(kc: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(kc).args(args).output().unwrap();
    let (o, e) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "kubectl {args:?} failed:\n{o}\n{e}");
    o
}

#[test]
fn kubectl_rollout_and_wide_listing_over_https() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let mut child = Command::new(bin)
        .args(["sandbox", "--nodes", "3", "--start-delay", "50", "--state-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _guard = Kill(child);
    for l in lines.by_ref() {
        if l.unwrap().starts_with("kubeconfig: ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut set = sts("mysql", 3, json!({}));
    set.spec.as_mut().unwrap().template.spec.as_mut().unwrap().affinity =
        Some(serde_json::from_value(anti_affinity("mysql")).unwrap());
    let manifest = serde_json::to_string(&set).unwrap();
    let mut apply = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    apply.stdin.take().unwrap().write_all(manifest.as_bytes()).unwrap();
    assert!(apply.wait_with_output().unwrap().status.success());
    let out = kubectl(&kc, &["rollout", "status", "statefulset/mysql", "--timeout=60s"]);
    assert!(out.contains("roll out complete") || out.contains("rolling update complete"), "{out}");
    let wide = kubectl(&kc, &["get", "pods,pvc", "-o", "wide"]);
    eprintln!("{wide}");
    assert_eq!(wide.lines().filter(|l| l.starts_with("pod/mysql-") && l.contains("Running")).count(), 3, "{wide}");
    assert_eq!(wide.lines().filter(|l| l.contains("datadir-mysql-") && l.contains("Bound")).count(), 3, "{wide}");
    let nodes: std::collections::BTreeSet<&str> = wide
        .lines()
        .filter(|l| l.starts_with("pod/"))
        .flat_map(|l| l.split_whitespace().filter(|w| w.starts_with("dbdeck-node-")))
        .collect();
    assert_eq!(nodes.len(), 3, "{wide}");
    // kubectl's PVC columns, as a real apiserver prints them.
    let claims = kubectl(&kc, &["get", "pvc"]);
    assert!(claims.lines().next().unwrap().contains("ACCESS MODES"), "{claims}");
    assert_eq!(claims.lines().filter(|l| l.contains("RWO") && l.contains("standard")).count(), 3, "{claims}");

    // A fourth replica fits nowhere: `kubectl describe` shows the scheduler's reasons as an Event.
    kubectl(&kc, &["scale", "statefulset/mysql", "--replicas=4"]);
    let start = Instant::now();
    loop {
        let d = kubectl(&kc, &["describe", "pod", "mysql-3"]);
        if d.contains("FailedScheduling") && d.contains("0/3 nodes are available") {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "no FailedScheduling event in:\n{d}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A fault through the CLI, found through --kubeconfig as the help says: the node shows as cordoned.
    let out = Command::new(bin)
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["sandbox", "fault", "node", "dbdeck-node-1", "cordon"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "node dbdeck-node-1: cordon");
    let nodes = kubectl(&kc, &["get", "node", "dbdeck-node-1"]);
    assert!(nodes.contains("Ready,SchedulingDisabled"), "{nodes}");

    // A fault through the CLI: the pod restarts.
    let out = Command::new(bin)
        .args(["sandbox", "--state-dir"])
        .arg(dir.path())
        .args(["fault", "pod", "default/mysql-0", "kill"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let start = Instant::now();
    loop {
        let r = kubectl(&kc, &["get", "pod", "mysql-0", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]);
        if r.trim() == "1" {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "restartCount stayed {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The waiting reason and message of a pod's first container, if it waits.
fn waiting(p: &Pod) -> Option<(String, String)> {
    let w = p.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.waiting.clone()?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

async fn events_about(client: &Client, pod: &str) -> Vec<(String, String)> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client.clone());
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(pod))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn secret(name: &str) -> k8s_openapi::api::core::v1::Secret {
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"password": "s3cret"}})).unwrap()
}

/// As a kubelet does: a container whose environment names a missing Secret waits in CreateContainerConfigError,
/// a volume of a missing Secret keeps the pod ContainerCreating with a FailedMount Event; optional references do
/// not block; the Secret's arrival lets the pod start.
#[tokio::test]
async fn pods_wait_for_their_secrets_as_a_kubelet_makes_them() {
    let (_sb, client) = cluster();
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::default_namespaced(client.clone());
    let env_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "env-pod"},
        "spec": {"containers": [{"name": "db", "image": "mysql:8.4",
            "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-secrets", "key": "password"}}},
                    {"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "nowhere", "key": "x", "optional": true}}}],
            "envFrom": [{"secretRef": {"name": "maybe", "optional": true}}]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &env_pod).await.unwrap();
    let (reason, message) = eventually("env-pod in CreateContainerConfigError", || async {
        waiting(&pods.get("env-pod").await.unwrap()).filter(|(r, _)| r == "CreateContainerConfigError")
    })
    .await;
    assert_eq!((reason.as_str(), message.as_str()), ("CreateContainerConfigError", r#"secret "db-secrets" not found"#));
    let p = pods.get("env-pod").await.unwrap();
    assert!(!ready(&p));
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    assert!(
        events_about(&client, "env-pod")
            .await
            .contains(&("Failed".into(), r#"Error: secret "db-secrets" not found"#.into())),
        "{:?}",
        events_about(&client, "env-pod").await
    );

    let vol_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "vol-pod"},
        "spec": {"containers": [{"name": "db", "image": "mysql:8.4", "volumeMounts": [{"name": "ssl", "mountPath": "/ssl"}]}],
                 "volumes": [{"name": "ssl", "secret": {"secretName": "db-ssl"}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &vol_pod).await.unwrap();
    let mount = r#"MountVolume.SetUp failed for volume "ssl" : secret "db-ssl" not found"#;
    eventually("a FailedMount event for vol-pod", || async {
        events_about(&client, "vol-pod").await.contains(&("FailedMount".into(), mount.into())).then_some(())
    })
    .await;
    let p = pods.get("vol-pod").await.unwrap();
    assert_eq!(waiting(&p).map(|w| w.0).as_deref(), Some("ContainerCreating"));
    assert!(!ready(&p));

    // The Secrets appear: both pods start.
    secrets.create(&PostParams::default(), &secret("db-secrets")).await.unwrap();
    secrets.create(&PostParams::default(), &secret("db-ssl")).await.unwrap();
    for name in ["env-pod", "vol-pod"] {
        eventually(&format!("{name} Ready once its Secret exists"), || async {
            ready(&pods.get(name).await.unwrap()).then_some(())
        })
        .await;
    }
}
