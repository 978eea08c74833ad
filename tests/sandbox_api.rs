//! The sandbox API server driven by kube-rs, in-process through `Sandbox::router()` (anchors §6.12).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use dbdeck::sandbox::{FaultConfig, Sandbox, SandboxConfig};
use futures::{StreamExt, TryStreamExt};
use http::{Request, StatusCode};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(10);

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "test.dbdeck.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    shortname = "wg"
)]
pub struct WidgetSpec {
    pub size: i32,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
pub struct WidgetStatus {
    pub ready: i32,
}

fn sandbox_with(config: SandboxConfig) -> (Sandbox, Client) {
    let sb = Sandbox::new(config).expect("sandbox starts");
    let client = Client::new(sb.router(), "default");
    (sb, client)
}

fn sandbox() -> (Sandbox, Client) {
    sandbox_with(SandboxConfig::default())
}

/// A client whose requests (URI and Accept header) are recorded.
/// (URI, Accept) of every request a recording client sent.
type RequestLog = Arc<Mutex<Vec<(String, String)>>>;

fn recording_client(sb: &Sandbox) -> (Client, RequestLog) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let router = sb.router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            seen.lock().unwrap().push((req.uri().to_string(), accept));
            next.run(req)
        },
    ));
    (Client::new(router, "default"), log)
}

fn api_code(e: &kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn install_widgets(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd()).await.unwrap();
    let established = await_condition(crds, "widgets.test.dbdeck.io", conditions::is_crd_established());
    tokio::time::timeout(WAIT, established).await.unwrap().unwrap();
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

async fn raw(
    sb: &Sandbox,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
    let resp = sb.router().oneshot(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, v)
}

// (1) watcher: paged list → watch → relist after a forced in-stream 410.
#[tokio::test]
async fn watcher_pages_watches_and_relists_after_forced_410() {
    let (sb, _) = sandbox();
    let (client, log) = recording_client(&sb);
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("w{i}"))).await.unwrap();
    }
    let mut events = watcher(api.clone(), watcher::Config::default().page_size(2)).boxed();
    let mut next = async || loop {
        match tokio::time::timeout(WAIT, events.next()).await.expect("watcher event in time") {
            Some(Ok(ev)) => return ev,
            Some(Err(_)) => continue, // the 410 surfaces as an error item before the relist
            None => panic!("watcher ended"),
        }
    };
    assert!(matches!(next().await, watcher::Event::Init));
    for _ in 0..5 {
        assert!(matches!(next().await, watcher::Event::InitApply(_)));
    }
    assert!(matches!(next().await, watcher::Event::InitDone));
    assert!(log.lock().unwrap().iter().any(|(u, _)| u.contains("continue=")), "the list was paged");

    api.create(&PostParams::default(), &cm("w5")).await.unwrap();
    match next().await {
        watcher::Event::Apply(o) => assert_eq!(o.name_any(), "w5"),
        other => panic!("expected Apply, got {other:?}"),
    }
    sb.expire_watches();
    assert!(matches!(next().await, watcher::Event::Init), "relist after 410");
    let mut relisted = 0;
    loop {
        match next().await {
            watcher::Event::InitApply(_) => relisted += 1,
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(relisted, 6);
}

// (2) Controller::owns enqueues the owner when a child changes, through a metadata-only watch.
#[tokio::test]
async fn controller_owns_triggers_owner_via_metadata_watch() {
    let (sb, _) = sandbox();
    let (client, log) = recording_client(&sb);
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let owner = cms.create(&PostParams::default(), &cm("owner")).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let controller = Controller::new(cms.clone(), watcher::Config::default())
        .owns(secrets.clone(), watcher::Config::default())
        .run(
            |obj: Arc<ConfigMap>, tx: Arc<tokio::sync::mpsc::UnboundedSender<String>>| async move {
                let _ = tx.send(obj.name_any());
                Ok::<_, kube::Error>(Action::await_change())
            },
            |_, _, _| Action::await_change(),
            Arc::new(tx),
        )
        .for_each(|_| async {});
    let task = tokio::spawn(controller);
    assert_eq!(tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap(), "owner");

    let mut child: Secret = serde_json::from_value(json!({"metadata": {"name": "child"}})).unwrap();
    child.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
    secrets.create(&PostParams::default(), &child).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap(), "owner", "child change reconciles owner");
    task.abort();
    let metadata_requests = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(u, a)| u.contains("/secrets") && a.contains("as=PartialObjectMetadata"))
        .count();
    assert!(metadata_requests > 0, "owns() used metadata-only requests");
}

// (3) kube::runtime::finalizer(): add (incl. the `test null` op), Apply, Cleanup, removal.
#[tokio::test]
async fn finalizer_helper_adds_runs_and_removes() {
    const FIN: &str = "test.dbdeck.io/cleanup";
    let (_sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("fin")).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let run = |obj: ConfigMap| {
        let api = api.clone();
        let seen = seen.clone();
        async move {
            finalizer(&api, FIN, Arc::new(obj), |ev| async move {
                seen.lock().unwrap().push(match ev {
                    FinalizerEvent::Apply(_) => "apply",
                    FinalizerEvent::Cleanup(_) => "cleanup",
                });
                Ok::<_, kube::Error>(Action::await_change())
            })
            .await
            .unwrap()
        }
    };
    run(api.get("fin").await.unwrap()).await;
    assert_eq!(api.get("fin").await.unwrap().finalizers(), [FIN]);
    run(api.get("fin").await.unwrap()).await;
    assert_eq!(*seen.lock().unwrap(), ["apply"]);

    let pending = api.delete("fin", &DeleteParams::default()).await.unwrap();
    let pending = pending.left().expect("pending deletion returns the object");
    assert!(pending.metadata.deletion_timestamp.is_some());
    run(api.get("fin").await.unwrap()).await;
    assert_eq!(*seen.lock().unwrap(), ["apply", "cleanup"]);
    assert!(api.get_opt("fin").await.unwrap().is_none(), "gone once the last finalizer went");

    // With a finalizer already present the helper tests the whole list and appends.
    let mut other = cm("fin2");
    other.metadata.finalizers = Some(vec!["other.io/x".into()]);
    api.create(&PostParams::default(), &other).await.unwrap();
    run(api.get("fin2").await.unwrap()).await;
    assert_eq!(api.get("fin2").await.unwrap().finalizers(), ["other.io/x", FIN]);
}

// (4) Server-side apply: create (201), update, and a no-op keeps the resourceVersion and sends no event.
#[tokio::test]
async fn server_side_apply_create_update_and_noop() {
    let (sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PatchParams::apply("dbdeck-test");
    let doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}});
    let created = api.patch("ssa", &pp, &Patch::Apply(&doc)).await.unwrap();
    assert_eq!(created.data.unwrap()["a"], "1");
    let rv = created.metadata.resource_version.unwrap();
    let mutations = sb.store().mutation_count();
    let again = api.patch("ssa", &pp, &Patch::Apply(&doc)).await.unwrap();
    assert_eq!(again.metadata.resource_version.unwrap(), rv, "no-op apply keeps the RV");
    assert_eq!(sb.store().mutation_count(), mutations, "no-op apply commits nothing (so no watch event)");
    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}});
    let updated = api.patch("ssa", &pp, &Patch::Apply(&changed)).await.unwrap();
    assert_ne!(updated.metadata.resource_version.unwrap(), rv);
    assert_eq!(updated.data.unwrap()["a"], "2");
    // Apply without a field manager is refused.
    let (code, body_headers, body) = raw(
        &sb,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/ssa",
        &[("content-type", "application/apply-patch+yaml")],
        changed,
    )
    .await;
    let _ = body_headers;
    assert_eq!((code.as_u16(), body["reason"].as_str()), (422, Some("Invalid")));
}

// (4b) Server-side apply ownership: 409 without force, force takes over, dropped fields are removed.
// Needs the field-manager aware `patch::apply` from the sandbox-patch branch; the stand-in in
// shims.rs merges without ownership, so this test fails until that merge.
#[tokio::test]
async fn server_side_apply_conflicts_and_force() {
    let (_sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let doc = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "own"}, "data": data});
    api.patch("own", &PatchParams::apply("first"), &Patch::Apply(&doc(json!({"a": "1", "b": "x"})))).await.unwrap();
    let second = doc(json!({"a": "2"}));
    let err = api.patch("own", &PatchParams::apply("second"), &Patch::Apply(&second)).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "Conflict".into()));
    if let kube::Error::Api(s) = &err {
        let causes = s.details.as_ref().map(|d| d.causes.len()).unwrap_or(0);
        assert!(causes > 0, "409 lists the conflicting fields");
    }
    let forced = api.patch("own", &PatchParams::apply("second").force(), &Patch::Apply(&second)).await.unwrap();
    assert_eq!(forced.data.unwrap()["a"], "2");
    // "first" now owns only b; dropping everything from its config removes b but not second's a.
    let pruned = api.patch("own", &PatchParams::apply("first"), &Patch::Apply(&doc(json!({})))).await.unwrap();
    let data = pruned.data.unwrap_or_default();
    assert_eq!(data.get("a").map(String::as_str), Some("2"));
    assert!(!data.contains_key("b"), "a field its only manager dropped is removed");
}

// (5) patch_status with an apply body that has no metadata; status rules of the subresource.
#[tokio::test]
async fn patch_status_without_metadata_and_status_rules() {
    let (_sb, client) = sandbox();
    install_widgets(&client).await;
    let api: Api<Widget> = Api::default_namespaced(client);
    let mut w = Widget::new("w1", WidgetSpec { size: 1 });
    w.status = Some(WidgetStatus { ready: 7 });
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert!(created.status.is_none(), "create ignores .status when /status is a subresource");

    let status = json!({"apiVersion": "test.dbdeck.io/v1", "kind": "Widget", "status": {"ready": 3}});
    let patched = api.patch_status("w1", &PatchParams::apply("cntrlr").force(), &Patch::Apply(&status)).await.unwrap();
    assert_eq!(patched.status.unwrap().ready, 3);
    assert_eq!(patched.spec.size, 1);
    assert_eq!(patched.metadata.generation, Some(1), "status writes do not bump generation");

    let main = json!({"spec": {"size": 2}, "status": {"ready": 9}});
    let updated = api.patch("w1", &PatchParams::default(), &Patch::Merge(&main)).await.unwrap();
    assert_eq!(updated.spec.size, 2);
    assert_eq!(updated.status.unwrap().ready, 3, "main-resource writes ignore .status");
    assert_eq!(updated.metadata.generation, Some(2));
}

// (6) Recorder::publish writes events.k8s.io; core/v1 reads it back with an involvedObject selector.
#[tokio::test]
async fn recorder_events_read_back_through_core_v1() {
    let (_sb, client) = sandbox();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let target = cms.create(&PostParams::default(), &cm("evt-target")).await.unwrap();
    let recorder = Recorder::new(client.clone(), Reporter { controller: "dbdeck-test".into(), instance: None });
    let ev = KubeEvent {
        type_: EventType::Normal,
        reason: "Tested".into(),
        note: Some("first note".into()),
        action: "Test".into(),
        secondary: None,
    };
    recorder.publish(&ev, &target.object_ref(&())).await.unwrap();
    recorder.publish(&ev, &target.object_ref(&())).await.unwrap();

    let core: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client.clone());
    let lp = ListParams::default().fields("involvedObject.kind=ConfigMap,involvedObject.name=evt-target");
    let found = core.list(&lp).await.unwrap().items;
    assert_eq!(found.len(), 1, "the repeat became a series, not a second event");
    let e = &found[0];
    assert_eq!(e.reason.as_deref(), Some("Tested"));
    assert_eq!(e.message.as_deref(), Some("first note"));
    assert_eq!(e.involved_object.uid, target.metadata.uid);
    assert_eq!(e.series.as_ref().and_then(|s| s.count), Some(2));
    let none = core.list(&ListParams::default().fields("involvedObject.name=other")).await.unwrap();
    assert!(none.items.is_empty());

    let new_api: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client);
    let same = new_api.get(&e.name_any()).await.unwrap();
    assert_eq!(same.regarding.and_then(|r| r.name).as_deref(), Some("evt-target"));
    assert_eq!(same.reporting_controller.as_deref(), Some("dbdeck-test"));
}

fn owned<K: serde::de::DeserializeOwned>(owner: &Widget, body: Value) -> K {
    let mut v = body;
    // As controller-runtime's SetControllerReference: the child blocks a foreground deletion of its owner.
    let mut oref = owner.controller_owner_ref(&()).unwrap();
    oref.block_owner_deletion = Some(true);
    v["metadata"]["ownerReferences"] = serde_json::to_value(vec![oref]).unwrap();
    serde_json::from_value(v).unwrap()
}

async fn widget_family(client: &Client, name: &str) -> Widget {
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let owner = widgets.create(&PostParams::default(), &Widget::new(name, WidgetSpec { size: 1 })).await.unwrap();
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let labels = json!({"app": name});
    let set: StatefulSet = owned(
        &owner,
        json!({"metadata": {"name": format!("{name}-sts")}, "spec": {"serviceName": name, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "db", "image": "percona"}]}}}}),
    );
    sts.create(&PostParams::default(), &set).await.unwrap();
    cms.create(&PostParams::default(), &owned(&owner, json!({"metadata": {"name": format!("{name}-cm")}})))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &owned(&owner, json!({"metadata": {"name": format!("{name}-secret")}})))
        .await
        .unwrap();
    owner
}

// (7) Background and Foreground cascades from a custom resource to StatefulSet/ConfigMap/Secret, and Orphan.
#[tokio::test]
async fn cascading_deletes_background_foreground_orphan() {
    let (_sb, client) = sandbox();
    install_widgets(&client).await;
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());

    widget_family(&client, "bg").await;
    let res = widgets.delete("bg", &DeleteParams::background()).await.unwrap();
    assert!(res.is_right(), "a custom resource delete answers with a Status");
    assert!(sts.get_opt("bg-sts").await.unwrap().is_none());
    assert!(cms.get_opt("bg-cm").await.unwrap().is_none());
    assert!(secrets.get_opt("bg-secret").await.unwrap().is_none());

    widget_family(&client, "fg").await;
    cms.patch(
        "fg-cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["test.dbdeck.io/hold"]}})),
    )
    .await
    .unwrap();
    widgets.delete("fg", &DeleteParams::foreground()).await.unwrap();
    let waiting = widgets.get("fg").await.unwrap();
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert!(waiting.finalizers().iter().any(|f| f == "foregroundDeletion"));
    assert!(sts.get_opt("fg-sts").await.unwrap().is_none());
    assert!(cms.get("fg-cm").await.unwrap().metadata.deletion_timestamp.is_some());
    cms.patch("fg-cm", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    assert!(cms.get_opt("fg-cm").await.unwrap().is_none());
    assert!(widgets.get_opt("fg").await.unwrap().is_none(), "owner goes once its blocking dependents are gone");

    widget_family(&client, "or").await;
    widgets.delete("or", &DeleteParams::orphan()).await.unwrap();
    let kept = sts.get("or-sts").await.unwrap();
    assert!(kept.metadata.owner_references.is_none());
    assert!(secrets.get("or-secret").await.unwrap().metadata.owner_references.is_none());
}

// (8) get_opt → None on a 404 Status.
#[tokio::test]
async fn get_opt_is_none_on_not_found() {
    let (_sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    assert!(api.get_opt("missing").await.unwrap().is_none());
    let err = api.get("missing").await.unwrap_err();
    assert_eq!(api_code(&err), (404, "NotFound".into()));
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig { state_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let rv_before = {
        let (sb, client) = sandbox_with(config.clone());
        install_widgets(&client).await;
        let widgets: Api<Widget> = Api::default_namespaced(client.clone());
        widgets.create(&PostParams::default(), &Widget::new("kept", WidgetSpec { size: 3 })).await.unwrap();
        Api::<ConfigMap>::default_namespaced(client).create(&PostParams::default(), &cm("kept")).await.unwrap();
        sb.store().resource_version()
    };
    // The old client's worker lets go of the database shortly after the drop.
    let deadline = tokio::time::Instant::now() + WAIT;
    let sb = loop {
        match Sandbox::new(config.clone()) {
            Ok(sb) => break sb,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    };
    assert_eq!(sb.store().resource_version(), rv_before, "no writes on reopen: initial namespaces exist");
    let client = Client::new(sb.router(), "default");
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    assert_eq!(widgets.get("kept").await.unwrap().spec.size, 3, "CRD registration and objects reloaded");
    let created =
        Api::<ConfigMap>::default_namespaced(client).create(&PostParams::default(), &cm("new")).await.unwrap();
    let rv: u64 = created.metadata.resource_version.unwrap().parse().unwrap();
    assert!(rv > rv_before, "the RV counter continues");
}

#[tokio::test]
async fn watch_from_a_too_old_rv_gets_an_in_stream_410() {
    let (_sb, client) = sandbox_with(SandboxConfig { history_size: 3, ..Default::default() });
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..6 {
        api.create(&PostParams::default(), &cm(&format!("h{i}"))).await.unwrap();
    }
    let mut stream = api.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    match tokio::time::timeout(WAIT, stream.try_next()).await.unwrap().unwrap() {
        Some(WatchEvent::Error(s)) => assert_eq!((s.code, s.reason.as_str()), (410, "Expired")),
        other => panic!("expected an ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn label_and_field_selectors_and_paging() {
    let (_sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for (name, app, tier) in [("a", "db", "back"), ("b", "db", "front"), ("c", "web", "front"), ("d", "cache", "back")]
    {
        let mut o = cm(name);
        o.metadata.labels = Some([("app".to_string(), app.to_string()), ("tier".to_string(), tier.to_string())].into());
        api.create(&PostParams::default(), &o).await.unwrap();
    }
    let names = |l: kube::api::ObjectList<ConfigMap>| l.items.iter().map(|o| o.name_any()).collect::<Vec<_>>();
    assert_eq!(names(api.list(&ListParams::default().labels("app=db")).await.unwrap()), ["a", "b"]);
    assert_eq!(names(api.list(&ListParams::default().labels("app in (db,web),tier!=back")).await.unwrap()), ["b", "c"]);
    assert_eq!(names(api.list(&ListParams::default().labels("app notin (db),!missing")).await.unwrap()), ["c", "d"]);
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=c")).await.unwrap()), ["c"]);
    let err = api.list(&ListParams::default().fields("spec.nodeName=x")).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "BadRequest".into()));

    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(names(first.clone()), ["a", "b", "c"]);
    let token = first.metadata.continue_.clone().expect("more pages");
    assert!(!first.metadata.resource_version.clone().unwrap().is_empty());
    let second = api.list(&ListParams::default().limit(3).continue_token(&token)).await.unwrap();
    assert_eq!(names(second.clone()), ["d"]);
    assert!(second.metadata.continue_.is_none_or(|c| c.is_empty()));
    let meta = api.list_metadata(&ListParams::default().labels("tier=back")).await.unwrap();
    assert_eq!(meta.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(), ["a", "d"]);
    let one = api.get_metadata("a").await.unwrap();
    assert_eq!(one.types.map(|t| t.kind).as_deref(), Some("PartialObjectMetadata"));

    let deleted =
        api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=db")).await.unwrap();
    let deleted = deleted.left().expect("DELETE on a collection answers with the List");
    assert_eq!(names(deleted), ["a", "b"]);
    assert_eq!(names(api.list(&ListParams::default()).await.unwrap()), ["c", "d"]);
}

#[tokio::test]
async fn generate_name_dry_run_and_stale_put() {
    let (_sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut gen_cm = cm("");
    gen_cm.metadata.name = None;
    gen_cm.metadata.generate_name = Some("gen-".into());
    let made = api.create(&PostParams::default(), &gen_cm).await.unwrap();
    let name = made.name_any();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let dry = PostParams { dry_run: true, ..Default::default() };
    let would = api.create(&dry, &cm("dry")).await.unwrap();
    assert_eq!(would.name_any(), "dry");
    assert!(api.get_opt("dry").await.unwrap().is_none(), "dryRun stores nothing");
    let dp = DeleteParams { dry_run: true, ..Default::default() };
    api.delete(&name, &dp).await.unwrap();
    assert!(api.get_opt(&name).await.unwrap().is_some(), "dryRun deletes nothing");

    let mut v1 = api.get(&name).await.unwrap();
    let mut v2 = v1.clone();
    v2.data = Some([("k".to_string(), "new".to_string())].into());
    api.replace(&name, &PostParams::default(), &v2).await.unwrap();
    v1.data = Some([("k".to_string(), "stale".to_string())].into());
    let err = api.replace(&name, &PostParams::default(), &v1).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "Conflict".into()));
    let err = api.create(&PostParams::default(), &cm(&name)).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "AlreadyExists".into()));
}

#[tokio::test]
async fn crd_registration_serves_and_unserves_the_kind() {
    let (sb, client) = sandbox();
    install_widgets(&client).await;
    let (code, _, doc) = raw(&sb, "GET", "/apis/test.dbdeck.io/v1", &[], Value::Null).await;
    assert_eq!(code, StatusCode::OK);
    assert!(doc["resources"].as_array().unwrap().iter().any(|r| r["name"] == "widgets"));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get("widgets.test.dbdeck.io").await.unwrap();
    let status = crd.status.unwrap();
    assert_eq!(status.accepted_names.unwrap().kind, "Widget");
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    widgets.create(&PostParams::default(), &Widget::new("one", WidgetSpec { size: 1 })).await.unwrap();
    let (code, _, table) = raw(
        &sb,
        "GET",
        "/apis/test.dbdeck.io/v1/namespaces/default/widgets",
        &[("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")],
        Value::Null,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"][0]["cells"][0], "one");

    // Fields the schema does not declare: pruned, or refused under fieldValidation=Strict (kubectl's default).
    let body = json!({"apiVersion": "test.dbdeck.io/v1", "kind": "Widget", "metadata": {"name": "loose"},
        "spec": {"size": 1, "colour": "red"}});
    let uri = "/apis/test.dbdeck.io/v1/namespaces/default/widgets";
    let ct = [("content-type", "application/json")];
    let (code, _, err) = raw(&sb, "POST", &format!("{uri}?fieldValidation=Strict"), &ct, body.clone()).await;
    assert_eq!((code, err["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));
    assert!(err["message"].as_str().unwrap().contains("spec.colour"), "{err}");
    let (code, _, made) = raw(&sb, "POST", uri, &ct, body).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(made["spec"], json!({"size": 1}));

    crds.delete("widgets.test.dbdeck.io", &DeleteParams::default()).await.unwrap();
    let err = widgets.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(api_code(&err).0, 404);
    // Registering again starts empty: the custom resources went with the CRD.
    install_widgets(&client).await;
    assert!(widgets.list(&ListParams::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn scale_subresource_maps_onto_replicas() {
    let (_sb, client) = sandbox();
    let sts: Api<StatefulSet> = Api::default_namespaced(client);
    let set: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"replicas": 1,
        "serviceName": "s", "selector": {"matchLabels": {"app": "s"}},
        "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    sts.create(&PostParams::default(), &set).await.unwrap();
    let scale = sts.get_scale("s").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=s"));
    sts.patch_scale("s", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    let after = sts.get("s").await.unwrap();
    assert_eq!(after.spec.unwrap().replicas, Some(3));
    assert_eq!(after.metadata.generation, Some(2));
}

#[tokio::test]
async fn faults_stats_and_streaming_list_rules() {
    let (sb, client) = sandbox();
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let before = sb.write_count();
    api.create(&PostParams::default(), &cm("x")).await.unwrap();
    api.patch("x", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "w"}}))).await.unwrap();
    api.get("x").await.unwrap();
    assert_eq!(sb.write_count() - before, 2, "reads are not writes");
    let (_, _, stats) = raw(&sb, "GET", "/_sandbox/stats", &[], Value::Null).await;
    assert_eq!(stats["writes"]["patch"], 1);

    let (code, _, cfg) =
        raw(&sb, "PUT", "/_sandbox/faults", &[], json!({"errorRate": 1.0, "errorCode": 503, "retryAfterSeconds": 2}))
            .await;
    assert_eq!((code, cfg["errorCode"].as_u64()), (StatusCode::OK, Some(503)));
    let (code, headers, body) = raw(&sb, "GET", "/api/v1/namespaces/default/configmaps/x", &[], Value::Null).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers.get("retry-after").unwrap(), "2");
    assert_eq!(body["reason"], "ServiceUnavailable");
    assert_eq!(api_code(&api.get("x").await.unwrap_err()).0, 503);
    sb.set_faults(FaultConfig::default()).unwrap();
    api.get("x").await.unwrap();

    let (code, _, body) = raw(
        &sb,
        "GET",
        "/api/v1/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!((code.as_u16(), body["reason"].as_str()), (422, Some("Invalid")));

    // A streaming-list watcher reaches InitDone through the initial-events-end bookmark.
    let mut events = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    let mut applied = 0;
    loop {
        match tokio::time::timeout(WAIT, events.try_next()).await.unwrap().unwrap() {
            Some(watcher::Event::InitApply(_)) => applied += 1,
            Some(watcher::Event::InitDone) => break,
            Some(_) => {}
            None => panic!("watcher ended"),
        }
    }
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn apply_and_merge_with_a_stale_resource_version_conflict() {
    let (_sb, client) = sandbox();
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let created = cms.create(&PostParams::default(), &cm("rv")).await.unwrap();
    let old_rv = created.resource_version().unwrap();
    cms.patch("rv", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "newer"}}))).await.unwrap();

    let stale_apply = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "rv", "resourceVersion": old_rv}, "data": {"k": "stale"}});
    let err = cms.patch("rv", &PatchParams::apply("t").force(), &Patch::Apply(&stale_apply)).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "Conflict".to_string()));
    let stale_merge = json!({"metadata": {"resourceVersion": old_rv}, "data": {"k": "stale"}});
    let err = cms.patch("rv", &PatchParams::default(), &Patch::Merge(&stale_merge)).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "Conflict".to_string()));
    assert_eq!(cms.get("rv").await.unwrap().data.unwrap()["k"], "newer");

    // With the current resourceVersion both go through.
    let current = cms.get("rv").await.unwrap().resource_version().unwrap();
    let fresh = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "rv", "resourceVersion": current}, "data": {"k": "applied"}});
    cms.patch("rv", &PatchParams::apply("t").force(), &Patch::Apply(&fresh)).await.unwrap();
    assert_eq!(cms.get("rv").await.unwrap().data.unwrap()["k"], "applied");
}

/// `stringData` is write-only on a real API server: every way of writing it lands base64-encoded in `data`.
#[tokio::test]
async fn secret_string_data_is_stored_as_data_on_create_patch_and_apply() {
    let (_sb, client) = sandbox();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let created: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "users"},
        "stringData": {"root": "hunter2"}
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &created).await.unwrap();
    let got = secrets.get("users").await.unwrap();
    assert!(got.string_data.is_none(), "stringData is never stored: {got:?}");
    let data = got.data.clone().unwrap_or_default();
    assert_eq!(data["root"].0, b"hunter2");

    secrets
        .patch(
            "users",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"root": "changed", "monitor": "m"}})),
        )
        .await
        .unwrap();
    let data = secrets.get("users").await.unwrap().data.unwrap_or_default();
    assert_eq!(data["root"].0, b"changed");
    assert_eq!(data["monitor"].0, b"m");

    let applied =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied"}, "stringData": {"a": "b"}});
    let ssa = PatchParams::apply("test");
    secrets.patch("applied", &ssa, &Patch::Apply(&applied)).await.unwrap();
    let first = secrets.get("applied").await.unwrap();
    assert_eq!(first.data.clone().unwrap_or_default()["a"].0, b"b");
    assert!(first.string_data.is_none());
    // The same apply again changes nothing.
    secrets.patch("applied", &ssa, &Patch::Apply(&applied)).await.unwrap();
    let again = secrets.get("applied").await.unwrap();
    assert_eq!(again.metadata.resource_version, first.metadata.resource_version);

    let bad = json!({"stringData": {"port": 3306}});
    let err = secrets.patch("users", &PatchParams::default(), &Patch::Merge(bad)).await.unwrap_err();
    assert_eq!(api_code(&err), (422, "Invalid".to_string()));
    assert!(err.to_string().contains("stringData[port]"), "{err}");
}
