//! The engine's apply step against an in-process sandbox: the PXC desired set is created, a second
//! pass writes nothing, a CR change writes only what changed, a removed component is swept (never
//! PVCs, never objects of another owner or unowned ones), and injected 429/503 are ridden out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dbdeck::api::pxc::PerconaXtraDBCluster;
use dbdeck::engine::apply::{Applier, OwnerRef, RetryPolicy};
use dbdeck::engine::pxc::{BuildInputs, Desired, TlsBundle, USERS, build};
use dbdeck::sandbox::faults::FaultConfig;
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde_json::{Value, json};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/pxc-minimal.yaml");
const KINDS: &[(&str, &str)] = &[
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "PersistentVolumeClaim"),
];

struct Env {
    sb: Sandbox,
    client: Client,
    requests: Arc<AtomicU64>,
}

/// A sandbox whose client counts every request it sends.
async fn env() -> Env {
    let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    let svc = tower::ServiceBuilder::new()
        .map_request(move |r: http::Request<kube::client::Body>| {
            counter.fetch_add(1, Ordering::Relaxed);
            r
        })
        .service(sb.router());
    let client = Client::new(svc, "default");
    dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
    Env { sb, client, requests }
}

fn inputs() -> BuildInputs {
    BuildInputs {
        generated_passwords: USERS.iter().map(|u| (u.to_string(), format!("{u}-generated-pw"))).collect(),
        generated_tls: Some(TlsBundle {
            ca_crt: "test CA".into(),
            tls_crt: "test cert".into(),
            tls_key: "test key".into(),
        }),
        ..Default::default()
    }
}

fn values(d: &Desired) -> Vec<Value> {
    let mut out = Vec::new();
    out.extend(d.stateful_sets.iter().map(|o| serde_json::to_value(o).unwrap()));
    out.extend(d.services.iter().map(|o| serde_json::to_value(o).unwrap()));
    out.extend(d.secrets.iter().map(|o| serde_json::to_value(o).unwrap()));
    out.extend(d.config_maps.iter().map(|o| serde_json::to_value(o).unwrap()));
    out.extend(d.pod_disruption_budgets.iter().map(|o| serde_json::to_value(o).unwrap()));
    out
}

fn name_of(v: &Value) -> String {
    format!("{}/{}", v["kind"].as_str().unwrap(), v["metadata"]["name"].as_str().unwrap())
}

async fn create_cr(client: &Client) -> PerconaXtraDBCluster {
    let cr: PerconaXtraDBCluster = serde_yaml::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
    let api: Api<PerconaXtraDBCluster> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &cr).await.expect("CR created")
}

async fn patch_cr(client: &Client, patch: Value) -> PerconaXtraDBCluster {
    let api: Api<PerconaXtraDBCluster> = Api::default_namespaced(client.clone());
    api.patch("shop-db", &PatchParams::default(), &Patch::Merge(patch)).await.expect("CR patched")
}

fn owner(cr: &PerconaXtraDBCluster) -> OwnerRef {
    OwnerRef {
        api_version: "pxc.percona.com/v1".into(),
        kind: "PerconaXtraDBCluster".into(),
        name: cr.metadata.name.clone().unwrap(),
        namespace: cr.metadata.namespace.clone().unwrap(),
        uid: cr.metadata.uid.clone().unwrap(),
    }
}

fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/instance".to_string(), "shop-db".to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "percona-xtradb-cluster-operator".to_string()),
    ])
}

#[tokio::test]
async fn create_then_noop_then_change_writes_only_what_changed() {
    let Env { sb, client, requests } = env().await;
    let cr = create_cr(&client).await;
    let owner = owner(&cr);
    let applier = Applier::new(client.clone());
    let desired = values(&build(&cr, &inputs()).unwrap());
    let all: Vec<String> = desired.iter().map(name_of).collect();

    let before = sb.write_count();
    let report = applier.reconcile(&owner, desired.clone(), KINDS, &selector()).await.unwrap();
    let create_writes = sb.write_count() - before;
    assert_eq!(report.applied, all);
    assert_eq!((report.unchanged, report.deleted.len()), (0, 0));
    assert_eq!(create_writes, all.len() as u64, "one apply per object");
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    assert_eq!(sts.get("shop-db-pxc").await.unwrap().spec.unwrap().replicas, Some(3));

    // Same desired set again: reads only.
    let before = sb.write_count();
    let reads_before = requests.load(Ordering::Relaxed);
    let report = applier.reconcile(&owner, desired.clone(), KINDS, &selector()).await.unwrap();
    let noop_requests = requests.load(Ordering::Relaxed) - reads_before;
    assert_eq!(sb.write_count() - before, 0, "a no-op pass writes nothing");
    assert!(report.applied.is_empty() && report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, all.len());
    assert_eq!(noop_requests, (all.len() + KINDS.len() - 1) as u64, "one GET per object, one LIST per swept kind");
    eprintln!(
        "objects {}, writes on create {create_writes}, writes on no-op 0, requests per no-op pass {noop_requests}",
        all.len()
    );

    // size 3 → 5: exactly the objects whose desired form changed are written.
    let cr = patch_cr(&client, json!({"spec": {"pxc": {"size": 5}}})).await;
    let changed_desired = values(&build(&cr, &inputs()).unwrap());
    let changed: Vec<String> = changed_desired.iter().filter(|v| !desired.contains(v)).map(name_of).collect();
    assert!(changed.contains(&"StatefulSet/shop-db-pxc".to_string()), "{changed:?}");
    let before = sb.write_count();
    let report = applier.reconcile(&owner, changed_desired, KINDS, &selector()).await.unwrap();
    assert_eq!(report.applied, changed);
    assert_eq!(sb.write_count() - before, changed.len() as u64);
    assert_eq!(sts.get("shop-db-pxc").await.unwrap().spec.unwrap().replicas, Some(5));
}

fn labelled(name: &str, owner: Option<(&str, &str)>) -> kube::core::ObjectMeta {
    let mut labels = selector();
    labels.insert("app.kubernetes.io/component".into(), "haproxy".into());
    kube::core::ObjectMeta {
        name: Some(name.into()),
        labels: Some(labels),
        owner_references: owner.map(|(owner, uid)| {
            vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "pxc.percona.com/v1".into(),
                kind: "PerconaXtraDBCluster".into(),
                name: owner.into(),
                uid: uid.into(),
                ..Default::default()
            }]
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn removed_component_is_swept_but_nothing_else() {
    let Env { sb: _sb, client, .. } = env().await;
    let cr = create_cr(&client).await;
    let owner = owner(&cr);
    let uid = owner.uid.clone();
    let applier = Applier::new(client.clone());
    applier.reconcile(&owner, values(&build(&cr, &inputs()).unwrap()), KINDS, &selector()).await.unwrap();

    // Same labels: one owned by another uid, one unowned, and a PVC owned by our uid.
    let svc: Api<Service> = Api::default_namespaced(client.clone());
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let pp = PostParams::default();
    // A real second cluster, so the sandbox's garbage collector keeps what it owns.
    let mut other: PerconaXtraDBCluster = serde_yaml::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
    other.metadata.name = Some("other-db".into());
    let crs: Api<PerconaXtraDBCluster> = Api::default_namespaced(client.clone());
    let other = crs.create(&pp, &other).await.unwrap();
    let other_uid = other.metadata.uid.as_deref().unwrap();
    svc.create(
        &pp,
        &Service { metadata: labelled("other-owner", Some(("other-db", other_uid))), ..Default::default() },
    )
    .await
    .unwrap();
    cms.create(&pp, &ConfigMap { metadata: labelled("unowned", None), ..Default::default() }).await.unwrap();
    let pvc = PersistentVolumeClaim {
        metadata: labelled("datadir-shop-db-haproxy-0", Some(("shop-db", &uid))),
        spec: Some(
            serde_json::from_value(json!({"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}))
            .unwrap(),
        ),
        ..Default::default()
    };
    pvcs.create(&pp, &pvc).await.unwrap();

    let cr = patch_cr(&client, json!({"spec": {"haproxy": {"enabled": false}, "proxysql": {"enabled": true}}})).await;
    let desired = build(&cr, &inputs()).unwrap();
    assert!(desired.stateful_sets.iter().any(|s| s.meta().name.as_deref() == Some("shop-db-proxysql")));
    let report = applier.reconcile(&owner, values(&desired), KINDS, &selector()).await.unwrap();

    assert!(report.deleted.contains(&"StatefulSet/shop-db-haproxy".to_string()), "{report:?}");
    assert!(report.deleted.iter().any(|d| d.starts_with("Service/shop-db-haproxy")), "{report:?}");
    assert!(report.deleted.iter().all(|d| d.contains("haproxy")), "only HAProxy objects go: {report:?}");
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    assert!(sts.get_opt("shop-db-haproxy").await.unwrap().is_none());
    assert!(sts.get_opt("shop-db-proxysql").await.unwrap().is_some());
    assert!(svc.get_opt("other-owner").await.unwrap().is_some(), "another owner's object stays");
    assert!(cms.get_opt("unowned").await.unwrap().is_some(), "an unowned object stays");
    assert!(pvcs.get_opt("datadir-shop-db-haproxy-0").await.unwrap().is_some(), "PVCs are never swept");
    for name in &report.deleted {
        assert!(!values(&desired).iter().any(|v| &name_of(v) == name), "{name} is still desired");
    }
}

#[tokio::test]
async fn injected_throttling_and_unavailability_converge() {
    let Env { sb, client, requests } = env().await;
    let cr = create_cr(&client).await;
    let owner = owner(&cr);
    let desired = values(&build(&cr, &inputs()).unwrap());
    // Enough attempts that 30 % injected errors cannot plausibly exhaust them (0.3^16 per request).
    let retry =
        RetryPolicy { attempts: 16, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(20) };
    let applier = Applier::new(client.clone()).with_retry(retry);
    let clean = (desired.len() + KINDS.len() - 1) as u64;
    for code in [429, 503] {
        sb.set_faults(FaultConfig { error_rate: 0.3, error_code: code, ..Default::default() }).unwrap();
        let sent = requests.load(Ordering::Relaxed);
        applier.reconcile(&owner, desired.clone(), KINDS, &selector()).await.expect("converges despite faults");
        assert!(requests.load(Ordering::Relaxed) - sent > clean, "{code}s were injected and retried");
    }
    sb.set_faults(FaultConfig::default()).unwrap();
    // Converged: a clean pass finds everything as desired.
    let before = sb.write_count();
    let report = applier.reconcile(&owner, desired.clone(), KINDS, &selector()).await.unwrap();
    assert_eq!((report.unchanged, sb.write_count() - before), (desired.len(), 0), "{report:?}");
}

/// A client to `sb` whose first `conflicts` PATCH requests are answered 409 Conflict, as an API
/// server does when another writer got in between.
fn conflicting_client(sb: &Sandbox, conflicts: u64) -> (Client, Arc<AtomicU64>) {
    let remaining = Arc::new(AtomicU64::new(conflicts));
    let left = remaining.clone();
    let router = sb.router();
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let router = router.clone();
        let left = left.clone();
        async move {
            let conflict = req.method() == http::Method::PATCH
                && left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if conflict {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
                    "code": 409, "message": "the object has been modified; please apply your changes to the latest version"});
                let resp = http::Response::builder()
                    .status(409)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(status.to_string()))
                    .unwrap();
                return Ok::<_, std::convert::Infallible>(resp);
            }
            tower::ServiceExt::oneshot(router, req).await
        }
    });
    (Client::new(svc, "default"), remaining)
}

#[tokio::test]
async fn a_conflict_is_reread_once_and_a_lasting_one_names_the_object() {
    let Env { sb, client, .. } = env().await;
    let cr = create_cr(&client).await;
    let owner = owner(&cr);
    let desired = values(&build(&cr, &inputs()).unwrap());
    let first = desired[0].clone();

    // One conflict: re-read, decide again, apply.
    let (c, remaining) = conflicting_client(&sb, 1);
    let before = sb.write_count();
    let report = Applier::new(c).apply_all(&owner, vec![first.clone()]).await.unwrap();
    assert_eq!((report.applied, remaining.load(Ordering::SeqCst)), (vec![name_of(&first)], 0));
    assert_eq!(sb.write_count() - before, 1);

    // A conflict that lasts: reported after one re-read, naming the object and the API's message.
    let mut changed = desired[1].clone();
    changed["metadata"]["labels"]["extra"] = json!("1");
    let (c, remaining) = conflicting_client(&sb, 10);
    let err = Applier::new(c).apply_all(&owner, vec![changed]).await.unwrap_err().to_string();
    let want = format!(
        "applying {} default/{}: ",
        desired[1]["kind"].as_str().unwrap(),
        desired[1]["metadata"]["name"].as_str().unwrap()
    );
    assert!(err.starts_with(&want), "{err}");
    assert!(err.contains("the object has been modified") && err.contains("(409)"), "{err}");
    assert_eq!(remaining.load(Ordering::SeqCst), 8, "two applies: the first and one after re-reading");
}

/// Two clusters whose objects share names (a PXC and a PS cluster both called `shop-db` build `shop-db-haproxy`):
/// the second never takes the first one's objects over; it stops with the names of both owners.
#[tokio::test]
async fn an_object_another_cluster_controls_is_not_taken_over() {
    let Env { sb, client, .. } = env().await;
    let cr = create_cr(&client).await;
    let first = owner(&cr);
    let applier = Applier::new(client.clone());
    let desired = values(&build(&cr, &inputs()).unwrap());
    applier.reconcile(&first, desired.clone(), KINDS, &selector()).await.unwrap();

    // The same objects, wanted by another cluster (another uid), as its controller.
    let second = OwnerRef { kind: "PerconaServerMySQL".into(), uid: "another-uid".into(), ..first.clone() };
    let theirs: Vec<Value> = desired
        .iter()
        .filter(|v| v["kind"] == "StatefulSet")
        .map(|v| {
            let mut v = v.clone();
            v["metadata"]["ownerReferences"][0]["uid"] = json!("another-uid");
            v["metadata"]["ownerReferences"][0]["kind"] = json!("PerconaServerMySQL");
            v["spec"]["replicas"] = json!(7);
            v
        })
        .collect();
    assert!(!theirs.is_empty());
    let before = sb.write_count();
    let err = applier.apply_all(&second, theirs).await.unwrap_err().to_string();
    assert_eq!(sb.write_count(), before, "nothing was written");
    assert!(
        err.contains("StatefulSet default/shop-db-")
            && err.contains("belongs to PerconaXtraDBCluster shop-db, not to PerconaServerMySQL shop-db"),
        "{err}"
    );
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    assert_eq!(
        sts.get("shop-db-pxc").await.unwrap().spec.unwrap().replicas,
        Some(3),
        "the first cluster's object is as it was"
    );
}
