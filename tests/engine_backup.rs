//! The backup, restore and schedule controllers against the in-process sandbox, whose Jobs succeed
//! by default and fail on demand (`/_sandbox/jobs/fail-next`). The cluster's own controller is not
//! running here: tests set the cluster's `status.state` themselves and stand in for its pods.
//! Every wait polls with a deadline; nothing asserts on a fixed sleep.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use dbdeck::sandbox::controllers::ControllerConfig;
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[path = "support/user_secrets.rs"]
mod user_secrets;

const DEADLINE: Duration = Duration::from_secs(20);
const NS: &str = "default";

struct Env {
    _sb: Sandbox,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
}

/// Starts the backup controllers; dropping or firing the returned sender stops them.
fn start_engine(client: &Client) -> oneshot::Sender<()> {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(dbdeck::engine::backup::run(client.clone(), None, async move {
        let _ = rx.await;
    }));
    tx
}

async fn env(job_duration: Duration) -> Env {
    let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
    sb.start_controllers(ControllerConfig {
        nodes: 3,
        start_delay: Duration::from_millis(30),
        job_duration,
        resize_delay: Duration::from_millis(50),
        eviction_timeout: Some(Duration::from_millis(300)),
    })
    .expect("controllers start");
    let client = Client::new(sb.router(), NS);
    dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
    // The clusters here are stand-ins (no controller builds their Secrets) and the storages' credentials are the
    // user's: a stand-in user provides each Secret a Job pod names, as the sandbox's kubelet, like a real one,
    // holds a pod whose Secret is missing.
    tokio::spawn(user_secrets::provide_user_secrets(client.clone()));
    let stop = Some(start_engine(&client));
    Env { _sb: sb, client, stop }
}

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

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn pxc(what: &str) -> ApiResource {
    match what {
        "cluster" => ar("pxc.percona.com", "v1", "PerconaXtraDBCluster", "perconaxtradbclusters"),
        "backup" => ar("pxc.percona.com", "v1", "PerconaXtraDBClusterBackup", "perconaxtradbclusterbackups"),
        _ => ar("pxc.percona.com", "v1", "PerconaXtraDBClusterRestore", "perconaxtradbclusterrestores"),
    }
}

fn api(c: &Client, ar: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(c.clone(), NS, ar)
}

fn obj(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("object")
}

fn to_json(o: &DynamicObject) -> Value {
    serde_json::to_value(o).unwrap()
}

fn state(o: &DynamicObject) -> Option<String> {
    o.data.pointer("/status/state").and_then(Value::as_str).map(str::to_string)
}

/// A PXC cluster with an s3 and a filesystem storage, reported `ready` (as its controller would).
async fn pxc_cluster(c: &Client, name: &str, backup_extra: Value) {
    let mut backup = json!({
        "image": "percona/percona-xtradb-cluster-operator:1.20.0-pxc8.0-backup",
        "backoffLimit": 0,
        "storages": {
            "s3-us-west": {"type": "s3", "s3": {"bucket": "backups/pxc", "credentialsSecret": "s3-creds", "region": "us-west-2"}},
            "fs": {"type": "filesystem", "volume": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "1Gi"}}}}}
        }
    });
    for (k, v) in backup_extra.as_object().cloned().unwrap_or_default() {
        backup[k] = v;
    }
    let cr = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"pxc": {"size": 3}, "haproxy": {"enabled": true, "size": 2}, "backup": backup}
    }));
    let clusters = api(c, &pxc("cluster"));
    clusters.create(&PostParams::default(), &cr).await.expect("cluster created");
    set_cluster_state(c, name, "ready").await;
}

async fn set_cluster_state(c: &Client, name: &str, st: &str) {
    api(c, &pxc("cluster"))
        .patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": {"state": st}})))
        .await
        .expect("cluster status set");
}

async fn pxc_backup(c: &Client, name: &str, cluster: &str, storage: &str, finalizer: bool) {
    let fins: Vec<&str> = if finalizer { vec!["percona.com/delete-backup"] } else { vec![] };
    let b = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": name, "namespace": NS, "finalizers": fins},
        "spec": {"pxcCluster": cluster, "storageName": storage}
    }));
    api(c, &pxc("backup")).create(&PostParams::default(), &b).await.expect("backup created");
}

async fn final_backup(c: &Client, name: &str) -> DynamicObject {
    let backups = api(c, &pxc("backup"));
    eventually(&format!("backup {name} to finish"), || async {
        let b = backups.get(name).await.ok()?;
        matches!(state(&b).as_deref(), Some("Succeeded" | "Failed" | "Error")).then_some(b)
    })
    .await
}

async fn fail_next_job(c: &Client) {
    let req = http::Request::post("/_sandbox/jobs/fail-next").body(Vec::new()).unwrap();
    c.request_text(req).await.expect("fault accepted");
}

#[tokio::test]
async fn on_demand_backup_succeeds_with_its_destination() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    let b = final_backup(&e.client, "backup1").await;
    assert_eq!(state(&b).as_deref(), Some("Succeeded"), "{:?}", b.data["status"]);
    let st = &b.data["status"];
    let dest = st["destination"].as_str().unwrap();
    assert!(dest.starts_with("s3://backups/pxc/cluster1-") && dest.ends_with("-full"), "{dest}");
    assert_eq!(st["storageName"], "s3-us-west");
    assert!(st["completed"].is_string());
    let job = Api::<Job>::namespaced(e.client.clone(), NS).get("xb-backup1").await.expect("backup Job");
    assert_eq!(job.labels()["percona.com/backup-name"], "backup1");
    let env: Vec<String> =
        job.spec.unwrap().template.spec.unwrap().containers[0].env.iter().flatten().map(|e| e.name.clone()).collect();
    assert!(env.contains(&"S3_BUCKET_PATH".to_string()), "{env:?}");

    // A filesystem backup gets its claim and a pvc/ destination.
    pxc_backup(&e.client, "backup-fs", "cluster1", "fs", false).await;
    let b = final_backup(&e.client, "backup-fs").await;
    assert_eq!(b.data["status"]["destination"], "pvc/xb-backup-fs");
    let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(e.client.clone(), NS);
    assert!(pvcs.get_opt("xb-backup-fs").await.unwrap().is_some());
}

#[tokio::test]
async fn failing_job_fails_the_backup_with_the_reason_and_unready_clusters_are_refused() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({"backoffLimit": 1})).await;
    fail_next_job(&e.client).await;
    pxc_backup(&e.client, "doomed", "cluster1", "s3-us-west", false).await;
    let b = final_backup(&e.client, "doomed").await;
    assert_eq!(state(&b).as_deref(), Some("Failed"));
    let err = b.data["status"]["error"].as_str().unwrap();
    assert!(err.contains("xb-doomed") && err.contains("BackoffLimitExceeded"), "{err}");
    // backoffLimit 1: the Job carries it and ran its pod twice before giving up.
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    let job = jobs.get("xb-doomed").await.expect("the failed Job is kept");
    assert_eq!(job.spec.as_ref().unwrap().backoff_limit, Some(1));
    assert_eq!(job.status.as_ref().unwrap().failed, Some(2), "one try plus one retry");
    // The failed pods stay, and the error says which one to read the logs of.
    let pods = Api::<Pod>::namespaced(e.client.clone(), NS)
        .list(&ListParams::default().labels("job-name=xb-doomed"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 2);
    let named = err.rsplit("pod/").next().unwrap();
    assert!(err.contains("logs: kubectl logs -n default pod/"), "{err}");
    assert!(pods.items.iter().any(|p| p.name_any() == named), "{named} is one of the Job's pods");
    let events: Api<Event> = Api::namespaced(e.client.clone(), NS);
    eventually("a BackupFailed event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.iter().any(|ev| ev.reason.as_deref() == Some("BackupFailed")).then_some(())
    })
    .await;

    set_cluster_state(&e.client, "cluster1", "initializing").await;
    pxc_backup(&e.client, "too-early", "cluster1", "s3-us-west", false).await;
    let b = final_backup(&e.client, "too-early").await;
    assert_eq!(state(&b).as_deref(), Some("Failed"));
    let err = b.data["status"]["error"].as_str().unwrap();
    assert!(err.contains("cluster1 is not ready") && err.contains("backupIfUnhealthy"), "{err}");
    assert!(Api::<Job>::namespaced(e.client.clone(), NS).get_opt("xb-too-early").await.unwrap().is_none());

    // …unless the spec allows it.
    let allow = json!({"spec": {"unsafeFlags": {"backupIfUnhealthy": true}}});
    api(&e.client, &pxc("cluster")).patch("cluster1", &PatchParams::default(), &Patch::Merge(allow)).await.unwrap();
    pxc_backup(&e.client, "allowed", "cluster1", "s3-us-west", false).await;
    let b = final_backup(&e.client, "allowed").await;
    assert_eq!(state(&b).as_deref(), Some("Succeeded"), "{}", b.data["status"]);
}

#[tokio::test]
async fn two_backups_of_one_cluster_run_one_after_the_other() {
    let e = env(Duration::from_millis(400)).await;
    pxc_cluster(&e.client, "cluster1", json!({"allowParallel": false})).await;
    pxc_backup(&e.client, "first", "cluster1", "s3-us-west", false).await;
    pxc_backup(&e.client, "second", "cluster1", "s3-us-west", false).await;
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    let leases: Api<Lease> = Api::namespaced(e.client.clone(), NS);
    let mut saw_lease = false;
    let start = Instant::now();
    loop {
        let list = jobs.list(&ListParams::default()).await.unwrap();
        let running = list
            .items
            .iter()
            .filter(|j| j.name_any().starts_with("xb-"))
            .filter(|j| {
                !j.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
                    c.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
                })
            })
            .count();
        assert!(running <= 1, "two backup Jobs of one cluster ran at once");
        saw_lease |= leases.get_opt("pxc-cluster1-backup-lock").await.unwrap().is_some();
        let b = api(&e.client, &pxc("backup"));
        let done = |n: &str| {
            let b = b.clone();
            let n = n.to_string();
            async move { b.get(&n).await.ok().and_then(|o| state(&o)) == Some("Succeeded".into()) }
        };
        if done("first").await && done("second").await {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for both backups");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_lease, "the lock Lease was held while a backup ran");
    eventually("the lock to be released", || async {
        leases.get_opt("pxc-cluster1-backup-lock").await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn schedule_creates_backups_and_retention_keeps_count() {
    let e = env(Duration::from_millis(40)).await;
    pxc_cluster(
        &e.client,
        "cluster1",
        json!({"schedule": [{"name": "every-second", "schedule": "@every 1s", "storageName": "s3-us-west",
                             "retention": {"type": "count", "count": 2, "deleteFromStorage": false}}]}),
    )
    .await;
    let backups = api(&e.client, &pxc("backup"));
    let mut seen = BTreeSet::new();
    let start = Instant::now();
    // The schedule keeps making backups, so a later list may hold a just-succeeded one that retention has not
    // pruned yet: every check below reads the one list in which retention was seen to have done its work.
    let list = loop {
        let list =
            backups.list(&ListParams::default().labels("percona.com/backup-ancestor=every-second")).await.unwrap();
        seen.extend(list.items.iter().map(|b| b.name_any()));
        let succeeded = list.items.iter().filter(|b| state(b).as_deref() == Some("Succeeded")).count();
        // Retention has deleted some (more were seen than exist) and exactly `count` succeeded remain.
        if seen.len() >= 4 && succeeded == 2 && seen.len() >= list.items.len() + 2 {
            break list;
        }
        assert!(start.elapsed() < DEADLINE, "timed out: {} scheduled backups seen, {succeeded} succeeded", seen.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for name in &seen {
        assert!(name.starts_with("cron-cluster1-s3-us-west-"), "{name}");
    }
    // The ones kept are the newest: every deleted one was created before every kept succeeded one.
    let kept: BTreeSet<String> = list.items.iter().map(|b| b.name_any()).collect();
    let newest_deleted = seen.iter().filter(|n| !kept.contains(*n)).max().unwrap();
    let oldest_kept =
        list.items.iter().filter(|b| state(b).as_deref() == Some("Succeeded")).map(|b| b.name_any()).min();
    assert!(oldest_kept.as_ref().is_none_or(|k| newest_deleted < k), "{newest_deleted} deleted, {oldest_kept:?} kept");
    let b = &list.items[0];
    assert_eq!(b.labels()["percona.com/backup-type"], "cron");
}

#[tokio::test]
async fn deleting_a_backup_runs_the_cleanup_job_and_a_stuck_finalizer_can_be_released() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "old", "cluster1", "s3-us-west", true).await;
    assert_eq!(state(&final_backup(&e.client, "old").await).as_deref(), Some("Succeeded"));
    let backups = api(&e.client, &pxc("backup"));
    backups.delete("old", &DeleteParams::default()).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    eventually("the cleanup Job", || async { jobs.get_opt("delete-backup-old").await.ok()? }).await;
    eventually("the backup object to go once its data is deleted", || async {
        backups.get_opt("old").await.ok()?.is_none().then_some(())
    })
    .await;

    // Storage unreachable: the cleanup Job fails, the backup stays with the reason in status and an
    // Event, and the release annotation lets it go.
    pxc_backup(&e.client, "stuck", "cluster1", "s3-us-west", true).await;
    final_backup(&e.client, "stuck").await;
    fail_next_job(&e.client).await;
    backups.delete("stuck", &DeleteParams::default()).await.unwrap();
    let blocked = eventually("the reason the cleanup is blocked", || async {
        let b = backups.get_opt("stuck").await.ok()??;
        b.data["status"]["error"].as_str().filter(|e| e.contains("cannot delete")).map(str::to_string)
    })
    .await;
    assert!(blocked.contains("Job delete-backup-stuck failed") && blocked.contains("release-finalizer"), "{blocked}");
    let events: Api<Event> = Api::namespaced(e.client.clone(), NS);
    eventually("a DeleteBlocked event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|ev| {
                ev.reason.as_deref() == Some("DeleteBlocked") && ev.involved_object.name.as_deref() == Some("stuck")
            })
            .then_some(())
    })
    .await;
    let release = json!({"metadata": {"annotations": {"dbdeck.io/release-finalizer": "true"}}});
    backups.patch("stuck", &PatchParams::default(), &Patch::Merge(release)).await.unwrap();
    eventually("the released backup to go", || async { backups.get_opt("stuck").await.ok()?.is_none().then_some(()) })
        .await;

    // The cluster is gone: the finalizer cannot run, says why, and the annotation releases it.
    pxc_backup(&e.client, "orphan", "cluster1", "s3-us-west", true).await;
    final_backup(&e.client, "orphan").await;
    api(&e.client, &pxc("cluster")).delete("cluster1", &DeleteParams::default()).await.unwrap();
    backups.delete("orphan", &DeleteParams::default()).await.unwrap();
    let blocked = eventually("the reason the delete is blocked", || async {
        let b = backups.get_opt("orphan").await.ok()??;
        b.data["status"]["error"].as_str().filter(|e| e.contains("cannot delete")).map(str::to_string)
    })
    .await;
    assert!(
        blocked.contains("cluster cluster1 does not exist") && blocked.contains("dbdeck.io/release-finalizer"),
        "{blocked}"
    );
    let patch = json!({"metadata": {"annotations": {"dbdeck.io/release-finalizer": "true"}}});
    backups.patch("orphan", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    eventually("the released backup to go", || async { backups.get_opt("orphan").await.ok()?.is_none().then_some(()) })
        .await;
}

/// A stand-in for a database pod of the cluster (so the restore has something to wait for) and its claim.
async fn db_pod(c: &Client, cluster: &str) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{cluster}-pxc-0"), "namespace": NS,
                     "labels": {"app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": "pxc"}},
        "spec": {"containers": [{"name": "pxc", "image": "percona/percona-xtradb-cluster:8.4"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(c.clone(), NS).create(&PostParams::default(), &pod).await.expect("pod created");
    // …and its data claim, which the StatefulSet keeps while paused and the restore Job writes into.
    let pvc: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": format!("datadir-{cluster}-pxc-0"), "namespace": NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(c.clone(), NS)
        .create(&PostParams::default(), &pvc)
        .await
        .expect("claim created");
}

async fn restore(c: &Client, name: &str, backup: &str) {
    let r = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterRestore",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"pxcCluster": "cluster1", "backupName": backup}
    }));
    api(c, &pxc("restore")).create(&PostParams::default(), &r).await.expect("restore created");
}

async fn restore_state(c: &Client, name: &str, want: &str) -> DynamicObject {
    let restores = api(c, &pxc("restore"));
    let start = Instant::now();
    loop {
        let r = restores.get(name).await.expect("restore exists");
        if state(&r).as_deref() == Some(want) {
            return r;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for restore {name} in state {want}: {}",
            r.data["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn restore_pauses_the_cluster_runs_the_job_and_restores_sizes() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    final_backup(&e.client, "backup1").await;
    db_pod(&e.client, "cluster1").await;
    restore(&e.client, "restore1", "backup1").await;

    let clusters = api(&e.client, &pxc("cluster"));
    let r = restore_state(&e.client, "restore1", "Stopping Cluster").await;
    let c = clusters.get("cluster1").await.unwrap();
    assert_eq!(c.data["spec"]["pause"], true, "the cluster is paused while it is restored");
    assert_eq!(r.data["status"]["clusterSize"], 3);
    assert_eq!(r.data["status"]["haproxySize"], 2);
    // Something scales the spec down while paused; the restore must put the sizes back.
    let shrink = json!({"spec": {"pxc": {"size": 1}, "haproxy": {"size": 0}}});
    clusters.patch("cluster1", &PatchParams::default(), &Patch::Merge(shrink)).await.unwrap();
    Api::<Pod>::namespaced(e.client.clone(), NS).delete("cluster1-pxc-0", &DeleteParams::default()).await.unwrap();

    let r = restore_state(&e.client, "restore1", "Succeeded").await;
    assert!(r.data["status"]["completed"].is_string());
    let job = Api::<Job>::namespaced(e.client.clone(), NS).get("restore-job-restore1-cluster1").await.unwrap();
    assert!(job.status.unwrap().conditions.unwrap().iter().any(|c| c.type_ == "Complete"));
    let c = to_json(&clusters.get("cluster1").await.unwrap());
    assert_eq!(c["spec"]["pause"], false);
    assert_eq!((c["spec"]["pxc"]["size"].clone(), c["spec"]["haproxy"]["size"].clone()), (json!(3), json!(2)));
}

#[tokio::test]
async fn deleting_a_running_restore_cancels_it_and_brings_the_cluster_back() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    final_backup(&e.client, "backup1").await;
    db_pod(&e.client, "cluster1").await;
    restore(&e.client, "restore1", "backup1").await;
    restore_state(&e.client, "restore1", "Stopping Cluster").await;
    let clusters = api(&e.client, &pxc("cluster"));
    assert_eq!(clusters.get("cluster1").await.unwrap().data["spec"]["pause"], true);

    let restores = api(&e.client, &pxc("restore"));
    restores.delete("restore1", &DeleteParams::default()).await.unwrap();
    eventually("the cancelled restore to go", || async {
        restores.get_opt("restore1").await.ok()?.is_none().then_some(())
    })
    .await;
    let c = clusters.get("cluster1").await.unwrap();
    assert_eq!(c.data["spec"]["pause"], false, "cancelling a restore resumes the cluster");
    assert_eq!(c.data["spec"]["pxc"]["size"], 3);
    let events: Api<Event> = Api::namespaced(e.client.clone(), NS);
    let list = events.list(&ListParams::default()).await.unwrap();
    assert!(list.items.iter().any(|ev| ev.reason.as_deref() == Some("RestoreCancelled")));
}

#[tokio::test]
async fn ps_and_pg_backups_run_through_the_same_controllers() {
    let e = env(Duration::from_millis(60)).await;
    let ps_cluster = ar("ps.percona.com", "v1", "PerconaServerMySQL", "perconaservermysqls");
    let ps_backup = ar("ps.percona.com", "v1", "PerconaServerMySQLBackup", "perconaservermysqlbackups");
    let c = obj(json!({
        "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
        "metadata": {"name": "ps-cluster1", "namespace": NS},
        "spec": {"mysql": {"size": 3}, "backup": {"image": "percona/percona-xtrabackup:8.4.0-6.1", "storages": {
            "minio": {"type": "s3", "s3": {"bucket": "ps-bucket", "credentialsSecret": "minio-secret"}}}}}
    }));
    api(&e.client, &ps_cluster).create(&PostParams::default(), &c).await.unwrap();
    api(&e.client, &ps_cluster)
        .patch_status("ps-cluster1", &PatchParams::default(), &Patch::Merge(json!({"status": {"state": "ready"}})))
        .await
        .unwrap();
    let b = obj(json!({
        "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLBackup",
        "metadata": {"name": "ps-b1", "namespace": NS},
        "spec": {"clusterName": "ps-cluster1", "storageName": "minio"}
    }));
    api(&e.client, &ps_backup).create(&PostParams::default(), &b).await.unwrap();
    let psb = api(&e.client, &ps_backup);
    let done = eventually("the PS backup to succeed", || async {
        let b = psb.get("ps-b1").await.ok()?;
        (state(&b).as_deref() == Some("Succeeded")).then_some(b)
    })
    .await;
    assert!(done.data["status"]["destination"].as_str().unwrap().starts_with("s3://ps-bucket/ps-cluster1-"));

    let pg_cluster = ar("pgv2.percona.com", "v2", "PerconaPGCluster", "perconapgclusters");
    let pg_backup = ar("pgv2.percona.com", "v2", "PerconaPGBackup", "perconapgbackups");
    let c = obj(json!({
        "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
        "metadata": {"name": "pg1", "namespace": NS},
        "spec": {"postgresVersion": 17, "instances": [{"name": "instance1", "replicas": 1}],
                 "backups": {"pgbackrest": {"repos": [{"name": "repo1", "s3": {"bucket": "pg-bucket"}}]}}}
    }));
    api(&e.client, &pg_cluster).create(&PostParams::default(), &c).await.unwrap();
    // Not ready yet: PG refuses (it has no unsafe flag for it).
    let b = obj(json!({
        "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGBackup",
        "metadata": {"name": "pg-b0", "namespace": NS},
        "spec": {"pgCluster": "pg1", "repoName": "repo1", "options": ["--type=full"]}
    }));
    let pgb = api(&e.client, &pg_backup);
    pgb.create(&PostParams::default(), &b).await.unwrap();
    eventually("the PG backup of an unready cluster to fail", || async {
        let b = pgb.get("pg-b0").await.ok()?;
        (state(&b).as_deref() == Some("Failed")).then_some(())
    })
    .await;
    api(&e.client, &pg_cluster)
        .patch_status("pg1", &PatchParams::default(), &Patch::Merge(json!({"status": {"state": "ready"}})))
        .await
        .unwrap();
    let mut b2 = b.clone();
    b2.metadata.name = Some("pg-b1".into());
    pgb.create(&PostParams::default(), &b2).await.unwrap();
    let done = eventually("the PG backup to succeed", || async {
        let b = pgb.get("pg-b1").await.ok()?;
        (state(&b).as_deref() == Some("Succeeded")).then_some(b)
    })
    .await;
    assert_eq!(done.data["status"]["destination"], "s3://pg-bucket/pgbackrest/repo1");
    assert_eq!(done.data["status"]["backupType"], "full");
}

#[tokio::test]
async fn an_engine_restarted_mid_backup_picks_up_where_it_was() {
    let mut e = env(Duration::from_millis(1500)).await;
    pxc_cluster(&e.client, "cluster1", json!({"allowParallel": false})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    eventually("the backup Job", || async { jobs.get_opt("xb-backup1").await.ok()? }).await;
    // Stop the engine while the Job runs, and start a fresh one (empty caches, no memory).
    let _ = e.stop.take().expect("engine running").send(());
    e.stop = Some(start_engine(&e.client));
    let b = final_backup(&e.client, "backup1").await;
    assert_eq!(state(&b).as_deref(), Some("Succeeded"), "{}", b.data["status"]);
    let xb =
        jobs.list(&ListParams::default()).await.unwrap().items.into_iter().filter(|j| j.name_any().starts_with("xb-"));
    assert_eq!(xb.count(), 1, "the restarted engine reused the running Job");
    let leases: Api<Lease> = Api::namespaced(e.client.clone(), NS);
    eventually("the lock to be released", || async {
        leases.get_opt("pxc-cluster1-backup-lock").await.ok()?.is_none().then_some(())
    })
    .await;
}

async fn claim(c: &Client, name: &str, labels: Value) {
    let pvc: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(c.clone(), NS)
        .create(&PostParams::default(), &pvc)
        .await
        .expect("claim created");
}

/// A database pod stand-in that keeps a restore in "Stopping Cluster" until the test removes it.
async fn stand_in_pod(c: &Client, name: &str, labels: Value) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"containers": [{"name": "db", "image": "db"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(c.clone(), NS).create(&PostParams::default(), &pod).await.expect("pod created");
}

/// Waits for restore `name` to succeed, checking that it paused `cluster` on the way; while paused,
/// `shrink` is merged into the cluster (as a user or another tool might) so the caller can check that
/// the saved sizes came back.
async fn restore_with_pause(
    clusters: &Api<DynamicObject>,
    cluster: &str,
    restores: &Api<DynamicObject>,
    name: &str,
    shrink: Value,
    stand_in: &str,
) -> DynamicObject {
    let mut shrunk = false;
    let start = Instant::now();
    loop {
        let c = clusters.get(cluster).await.unwrap();
        if c.data["spec"]["pause"] == true && !shrunk {
            clusters.patch(cluster, &PatchParams::default(), &Patch::Merge(shrink.clone())).await.unwrap();
            shrunk = true;
            // The database pod goes, as the paused StatefulSet would remove it.
            let pods: Api<Pod> = Api::namespaced(restores.clone().into_client(), NS);
            pods.delete(stand_in, &DeleteParams::default()).await.unwrap();
        }
        let r = restores.get(name).await.unwrap();
        if state(&r).as_deref() == Some("Succeeded") {
            assert!(shrunk, "the cluster {cluster} was paused during restore {name}");
            return r;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for restore {name}: {}", r.data["status"]);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn ps_and_pg_restores_pause_the_cluster_and_bring_it_back() {
    let e = env(Duration::from_millis(60)).await;
    // PS: back up, then restore from that backup by name.
    let ps_cluster = ar("ps.percona.com", "v1", "PerconaServerMySQL", "perconaservermysqls");
    let ps_backup = ar("ps.percona.com", "v1", "PerconaServerMySQLBackup", "perconaservermysqlbackups");
    let ps_restore = ar("ps.percona.com", "v1", "PerconaServerMySQLRestore", "perconaservermysqlrestores");
    let c = obj(json!({
        "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQL",
        "metadata": {"name": "ps-cluster1", "namespace": NS},
        "spec": {"mysql": {"size": 3}, "proxy": {"haproxy": {"enabled": true, "size": 3}},
                 "backup": {"image": "percona/percona-xtrabackup:8.4.0-6.1", "storages": {
                     "minio": {"type": "s3", "s3": {"bucket": "ps-bucket", "credentialsSecret": "minio-secret"}}}}}
    }));
    let clusters = api(&e.client, &ps_cluster);
    clusters.create(&PostParams::default(), &c).await.unwrap();
    clusters
        .patch_status("ps-cluster1", &PatchParams::default(), &Patch::Merge(json!({"status": {"state": "ready"}})))
        .await
        .unwrap();
    claim(&e.client, "datadir-ps-cluster1-mysql-0", json!({})).await;
    let b = obj(json!({
        "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLBackup",
        "metadata": {"name": "ps-b1", "namespace": NS},
        "spec": {"clusterName": "ps-cluster1", "storageName": "minio"}
    }));
    let backups = api(&e.client, &ps_backup);
    backups.create(&PostParams::default(), &b).await.unwrap();
    eventually("the PS backup to succeed", || async {
        (state(&backups.get("ps-b1").await.ok()?).as_deref() == Some("Succeeded")).then_some(())
    })
    .await;
    let r = obj(json!({
        "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLRestore",
        "metadata": {"name": "ps-r1", "namespace": NS},
        "spec": {"clusterName": "ps-cluster1", "backupName": "ps-b1"}
    }));
    let restores = api(&e.client, &ps_restore);
    stand_in_pod(
        &e.client,
        "ps-cluster1-mysql-0",
        json!({"app.kubernetes.io/instance": "ps-cluster1", "app.kubernetes.io/name": "mysql"}),
    )
    .await;
    restores.create(&PostParams::default(), &r).await.unwrap();
    // While it is paused, something scales the spec down; the restore puts the saved sizes back.
    let shrink = json!({"spec": {"mysql": {"size": 1}, "proxy": {"haproxy": {"size": 0}}}});
    let done = restore_with_pause(&clusters, "ps-cluster1", &restores, "ps-r1", shrink, "ps-cluster1-mysql-0").await;
    assert_eq!(done.data["status"]["stateDescription"], "Succeeded");
    assert!(Api::<Job>::namespaced(e.client.clone(), NS).get_opt("xb-restore-ps-r1").await.unwrap().is_some());
    let c = clusters.get("ps-cluster1").await.unwrap();
    assert_eq!((c.data["spec"]["pause"].clone(), c.data["spec"]["mysql"]["size"].clone()), (json!(false), json!(3)));
    assert_eq!(c.data["spec"]["proxy"]["haproxy"]["size"], 3);

    // PG: an in-place restore from a repo into the primary's data claim.
    let pg_cluster = ar("pgv2.percona.com", "v2", "PerconaPGCluster", "perconapgclusters");
    let pg_restore = ar("pgv2.percona.com", "v2", "PerconaPGRestore", "perconapgrestores");
    let c = obj(json!({
        "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
        "metadata": {"name": "pg1", "namespace": NS},
        "spec": {"postgresVersion": 17, "instances": [{"name": "instance1", "replicas": 1}],
                 "proxy": {"pgBouncer": {"replicas": 2}},
                 "backups": {"pgbackrest": {"repos": [{"name": "repo1", "s3": {"bucket": "pg-bucket"}}]}}}
    }));
    let pgc = api(&e.client, &pg_cluster);
    pgc.create(&PostParams::default(), &c).await.unwrap();
    pgc.patch_status("pg1", &PatchParams::default(), &Patch::Merge(json!({"status": {"state": "ready"}})))
        .await
        .unwrap();
    claim(&e.client, "pg1-instance1-x7k2-pgdata", json!({"postgres-operator.crunchydata.com/cluster": "pg1"})).await;
    let r = obj(json!({
        "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGRestore",
        "metadata": {"name": "pg-r1", "namespace": NS},
        "spec": {"pgCluster": "pg1", "repoName": "repo1", "options": ["--type=time", "--target=2026-11-22 10:00:00+00"]}
    }));
    let pgr = api(&e.client, &pg_restore);
    let pg_labels = json!({"postgres-operator.crunchydata.com/cluster": "pg1", "postgres-operator.crunchydata.com/data": "postgres"});
    stand_in_pod(&e.client, "pg1-instance1-x7k2-0", pg_labels).await;
    pgr.create(&PostParams::default(), &r).await.unwrap();
    let shrink = json!({"spec": {"proxy": {"pgBouncer": {"replicas": 0}}}});
    restore_with_pause(&pgc, "pg1", &pgr, "pg-r1", shrink, "pg1-instance1-x7k2-0").await;
    assert_eq!(pgc.get("pg1").await.unwrap().data["spec"]["proxy"]["pgBouncer"]["replicas"], 2);
    let job = Api::<Job>::namespaced(e.client.clone(), NS).get("pg1-pgbackrest-restore").await.unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert!(pod.containers[0].args.as_ref().unwrap().contains(&"--type=time".to_string()));
    assert_eq!(
        pod.volumes.unwrap()[0].persistent_volume_claim.as_ref().unwrap().claim_name,
        "pg1-instance1-x7k2-pgdata"
    );
    assert_eq!(pgc.get("pg1").await.unwrap().data["spec"]["pause"], false);
}

#[tokio::test]
async fn deadlines_fail_backups_with_the_reason() {
    // Jobs take 2.5 s here, longer than the one-second deadlines below.
    let e = env(Duration::from_millis(2500)).await;
    let backups = api(&e.client, &pxc("backup"));

    // activeDeadlineSeconds: the Job carries it, and a Job still running past it fails the backup.
    pxc_cluster(&e.client, "active", json!({"activeDeadlineSeconds": 1})).await;
    pxc_backup(&e.client, "too-long", "active", "s3-us-west", false).await;

    // startingDeadlineSeconds: a backup waiting behind another one's Lease past it fails, saying so.
    pxc_cluster(&e.client, "serial", json!({"allowParallel": false})).await;
    pxc_backup(&e.client, "holder", "serial", "s3-us-west", false).await;
    eventually("the holder's Job", || async {
        Api::<Job>::namespaced(e.client.clone(), NS).get_opt("xb-holder").await.ok()?
    })
    .await;
    let waiter = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": "waiter", "namespace": NS},
        "spec": {"pxcCluster": "serial", "storageName": "s3-us-west", "startingDeadlineSeconds": 1}
    }));
    backups.create(&PostParams::default(), &waiter).await.unwrap();
    let cond = eventually("the waiter's lease condition", || async {
        let b = backups.get("waiter").await.ok()?;
        b.data.pointer("/status/conditions/0").filter(|c| c["status"] == "False").cloned()
    })
    .await;
    assert_eq!(cond["type"], "BackupLeaseAcquired");
    assert!(cond["message"].as_str().unwrap().contains("held by backup holder"), "{cond}");

    // runningDeadlineSeconds: a Job whose pod cannot be scheduled never gets running.
    pxc_cluster(
        &e.client,
        "pinned",
        json!({"runningDeadlineSeconds": 1, "storages": {"nowhere": {"type": "s3", "nodeSelector": {"disk": "none"},
               "s3": {"bucket": "b", "credentialsSecret": "s3-creds"}}}}),
    )
    .await;
    pxc_backup(&e.client, "unplaceable", "pinned", "nowhere", false).await;

    let b = final_backup(&e.client, "too-long").await;
    assert_eq!(state(&b).as_deref(), Some("Failed"));
    let err = b.data["status"]["error"].as_str().unwrap();
    assert!(err.contains("xb-too-long ran longer than activeDeadlineSeconds (1s)"), "{err}");
    let job = Api::<Job>::namespaced(e.client.clone(), NS).get("xb-too-long").await.unwrap();
    assert_eq!(job.spec.unwrap().active_deadline_seconds, Some(1));

    let b = final_backup(&e.client, "waiter").await;
    assert_eq!(state(&b).as_deref(), Some("Failed"));
    let err = b.data["status"]["error"].as_str().unwrap();
    assert!(err.contains("did not start within startingDeadlineSeconds (1s)"), "{err}");
    assert!(Api::<Job>::namespaced(e.client.clone(), NS).get_opt("xb-waiter").await.unwrap().is_none());
    assert_eq!(state(&final_backup(&e.client, "holder").await).as_deref(), Some("Succeeded"));

    let b = final_backup(&e.client, "unplaceable").await;
    assert_eq!(state(&b).as_deref(), Some("Failed"));
    let err = b.data["status"]["error"].as_str().unwrap();
    assert!(err.contains("did not get running within runningDeadlineSeconds (1s)"), "{err}");
}

#[tokio::test]
async fn runs_missed_while_the_engine_was_down_give_one_catch_up_run() {
    let mut e = env(Duration::from_millis(40)).await;
    // The engine is down while the schedule's runs come and go.
    let _ = e.stop.take().expect("engine running").send(());
    pxc_cluster(
        &e.client,
        "cluster1",
        json!({"schedule": [{"name": "hourly", "schedule": "@every 1h", "storageName": "s3-us-west", "keep": 5}]}),
    )
    .await;
    // Its last run was five and a half hours ago (as the schedule labels and stamps it), and it finished.
    let last = chrono::Utc::now() - chrono::Duration::minutes(330);
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let old = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": "cron-old", "namespace": NS,
                     "labels": {"percona.com/backup-ancestor": "hourly", "percona.com/cluster": "cluster1"},
                     "annotations": {"dbdeck.io/scheduled-at": stamp(last)}},
        "spec": {"pxcCluster": "cluster1", "storageName": "s3-us-west"}
    }));
    let backups = api(&e.client, &pxc("backup"));
    backups.create(&PostParams::default(), &old).await.unwrap();
    let done = json!({"status": {"state": "Succeeded", "completed": stamp(last)}});
    backups.patch_status("cron-old", &PatchParams::default(), &Patch::Merge(done)).await.unwrap();

    e.stop = Some(start_engine(&e.client));
    let hourly = ListParams::default().labels("percona.com/backup-ancestor=hourly");
    let caught_up = eventually("the catch-up backup to succeed", || async {
        let list = backups.list(&hourly).await.ok()?;
        list.items.into_iter().find(|b| b.name_any() != "cron-old" && state(b).as_deref() == Some("Succeeded"))
    })
    .await;
    // One run, for the newest missed tick (five were missed), not one per missed tick.
    assert_eq!(caught_up.annotations()["dbdeck.io/scheduled-at"], stamp(last + chrono::Duration::hours(5)));
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        let n = backups.list(&hourly).await.unwrap().items.len();
        assert_eq!(n, 2, "only one catch-up run for the missed ones");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn restores_of_one_cluster_run_one_at_a_time() {
    let e = env(Duration::from_millis(300)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    final_backup(&e.client, "backup1").await;
    claim(&e.client, "datadir-cluster1-pxc-0", json!({})).await;
    // A backup of the cluster is running: the first restore waits for it (stopping the cluster
    // under a running backup would fail it).
    pxc_backup(&e.client, "busy", "cluster1", "s3-us-west", false).await;
    let backups = api(&e.client, &pxc("backup"));
    eventually("the backup to be under way", || async {
        matches!(state(&backups.get("busy").await.ok()?).as_deref(), Some("Starting" | "Running")).then_some(())
    })
    .await;
    restore(&e.client, "first", "backup1").await;
    let restores = api(&e.client, &pxc("restore"));
    eventually("the restore to wait for the backup", || async {
        let r = restores.get("first").await.ok()?;
        r.data["status"]["comments"].as_str().filter(|c| c.contains("waiting for backup busy")).map(|_| ())
    })
    .await;
    restore(&e.client, "second", "backup1").await;
    let busy = ["Stopping Cluster", "Restoring", "Point-in-time recovering", "Starting Cluster"];
    let mut saw_wait = false;
    let start = Instant::now();
    loop {
        let list = restores.list(&ListParams::default()).await.unwrap();
        let states: Vec<(String, String, String)> = list
            .items
            .iter()
            .map(|r| {
                let st = &r.data["status"];
                (r.name_any(), st["state"].as_str().unwrap_or("").into(), st["comments"].as_str().unwrap_or("").into())
            })
            .collect();
        let running = states.iter().filter(|(_, s, _)| busy.contains(&s.as_str())).count();
        assert!(running <= 1, "two restores of one cluster ran at once: {states:?}");
        saw_wait |=
            states.iter().any(|(n, s, c)| n == "second" && s == "Starting" && c.contains("waiting for restore first"));
        if states.iter().all(|(_, s, _)| s == "Succeeded") {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "timed out: {states:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(saw_wait, "the second restore said what it waited for");
}

#[tokio::test]
async fn restore_from_a_bucket_with_point_in_time_recovery() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    // No Backup object: the source is a destination in a bucket; binlogs come from a cluster storage.
    let r = obj(json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterRestore",
        "metadata": {"name": "from-bucket", "namespace": NS},
        "spec": {"pxcCluster": "cluster1",
                 "backupSource": {"destination": "s3://elsewhere/cluster1-2026-11-19-00:00:12-full",
                                  "s3": {"bucket": "elsewhere", "credentialsSecret": "other-creds", "region": "eu-west-1"}},
                 "pitr": {"type": "date", "date": "2026-11-20 14:05:00", "backupSource": {"storageName": "s3-us-west"}}}
    }));
    // The restore refers to these credentials itself: they must exist before it stops the cluster.
    let creds: Secret = serde_json::from_value(json!({"metadata": {"name": "other-creds", "namespace": NS},
        "stringData": {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}}))
    .unwrap();
    Api::<Secret>::namespaced(e.client.clone(), NS).create(&PostParams::default(), &creds).await.unwrap();
    api(&e.client, &pxc("restore")).create(&PostParams::default(), &r).await.unwrap();
    // The first node's data claim is missing: the restore is stuck and says why.
    let stuck = restore_state(&e.client, "from-bucket", "Restoring").await;
    let restores = api(&e.client, &pxc("restore"));
    let why = eventually("the stuck restore to say why", || async {
        let r = restores.get("from-bucket").await.ok()?;
        r.data["status"]["comments"].as_str().filter(|c| c.contains("Pending")).map(str::to_string)
    })
    .await;
    assert!(stuck.data["status"]["clusterSize"] == 3);
    assert!(
        why.starts_with("Job restore-job-from-bucket-cluster1: pod restore-job-from-bucket-cluster1-")
            && why.ends_with("is Pending: persistentvolumeclaim \"datadir-cluster1-pxc-0\" not found"),
        "{why}"
    );
    claim(&e.client, "datadir-cluster1-pxc-0", json!({})).await;
    let done = restore_state(&e.client, "from-bucket", "Succeeded").await;
    assert!(done.data["status"]["completed"].is_string());
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    let env_of = |job: Job| -> std::collections::BTreeMap<String, Value> {
        job.spec.unwrap().template.spec.unwrap().containers[0]
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), serde_json::to_value(e).unwrap()))
            .collect()
    };
    let restore_env = env_of(jobs.get("restore-job-from-bucket-cluster1").await.unwrap());
    assert_eq!(restore_env["S3_BUCKET"]["value"], "elsewhere");
    assert_eq!(restore_env["S3_BUCKET_PATH"]["value"], "cluster1-2026-11-19-00:00:12-full");
    assert_eq!(restore_env["ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"], "other-creds");
    let pitr_env = env_of(jobs.get("pitr-job-from-bucket-cluster1").await.unwrap());
    assert_eq!(pitr_env["PITR_RECOVERY_TYPE"]["value"], "date");
    assert_eq!(pitr_env["PITR_DATE"]["value"], "2026-11-20 14:05:00");
    assert_eq!(pitr_env["BINLOG_S3_BUCKET"]["value"], "backups");
    assert_eq!(pitr_env["BINLOG_S3_BUCKET_PATH"]["value"], "pxc");
    let c = api(&e.client, &pxc("cluster")).get("cluster1").await.unwrap();
    assert_eq!(c.data["spec"]["pause"], false);
}

#[tokio::test]
async fn deleting_a_restore_stuck_in_its_job_deletes_the_job_and_resumes_the_cluster() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    pxc_backup(&e.client, "backup1", "cluster1", "s3-us-west", false).await;
    final_backup(&e.client, "backup1").await;
    // No data claim: the restore Job's pod cannot start, so the restore sits in Restoring.
    restore(&e.client, "restore1", "backup1").await;
    restore_state(&e.client, "restore1", "Restoring").await;
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), NS);
    eventually("the restore Job", || async { jobs.get_opt("restore-job-restore1-cluster1").await.ok()? }).await;

    let restores = api(&e.client, &pxc("restore"));
    restores.delete("restore1", &DeleteParams::default()).await.unwrap();
    eventually("the cancelled restore to go", || async {
        restores.get_opt("restore1").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually("its Job to be deleted", || async {
        jobs.get_opt("restore-job-restore1-cluster1").await.ok()?.is_none().then_some(())
    })
    .await;
    let c = api(&e.client, &pxc("cluster")).get("cluster1").await.unwrap();
    assert_eq!((c.data["spec"]["pause"].clone(), c.data["spec"]["pxc"]["size"].clone()), (json!(false), json!(3)));
}

/// A restore `dbdeck validate` refuses, or one naming a Backup or credentials that do not exist, fails
/// before anything happens to the cluster: never paused, no Job, a Warning Event that says why.
#[tokio::test]
async fn a_restore_that_is_invalid_or_names_what_does_not_exist_fails_before_pausing() {
    let e = env(Duration::from_millis(60)).await;
    pxc_cluster(&e.client, "cluster1", json!({})).await;
    db_pod(&e.client, "cluster1").await;
    let source = json!({"destination": "s3://elsewhere/cluster1-2026-11-19-00:00:12-full",
        "s3": {"bucket": "elsewhere", "credentialsSecret": "missing-creds", "region": "eu-west-1"}});
    let cases = [
        (
            "both",
            json!({"pxcCluster": "cluster1", "backupName": "no-such-backup", "backupSource": source}),
            "spec.backupSource",
        ),
        (
            "no-backup",
            json!({"pxcCluster": "cluster1", "backupName": "no-such-backup"}),
            "spec.backupName: PerconaXtraDBClusterBackup no-such-backup does not exist",
        ),
        (
            "no-creds",
            json!({"pxcCluster": "cluster1", "backupSource": source}),
            "spec.backupSource.s3.credentialsSecret: Secret missing-creds does not exist",
        ),
    ];
    let restores = api(&e.client, &pxc("restore"));
    for (name, spec, _) in &cases {
        let r = obj(json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterRestore",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}));
        restores.create(&PostParams::default(), &r).await.expect("restore created");
    }
    let events: Api<Event> = Api::namespaced(e.client.clone(), NS);
    for (name, _, why) in &cases {
        let r = restore_state(&e.client, name, "Failed").await;
        let comments = r.data["status"]["comments"].as_str().unwrap_or_default().to_string();
        assert!(comments.contains(why), "{name}: {comments}");
        eventually(&format!("a RestoreFailed Warning about {name}"), || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|ev| {
                    ev.involved_object.name.as_deref() == Some(*name)
                        && ev.reason.as_deref() == Some("RestoreFailed")
                        && ev.type_.as_deref() == Some("Warning")
                        && ev.message.as_deref().is_some_and(|m| m.contains(why))
                })
                .then_some(())
        })
        .await;
    }
    let c = api(&e.client, &pxc("cluster")).get("cluster1").await.unwrap();
    assert_ne!(c.data["spec"]["pause"], json!(true), "the cluster was never paused");
    let jobs = Api::<Job>::namespaced(e.client.clone(), NS).list(&ListParams::default()).await.unwrap();
    let restore_jobs: Vec<String> =
        jobs.items.iter().map(|j| j.name_any()).filter(|n| n.starts_with("restore-job-")).collect();
    assert!(restore_jobs.is_empty(), "no restore Job ran: {restore_jobs:?}");
}
