//! The engine against objects and faults that must not stop it, on the in-process sandbox with
//! simulated nodes: a stored cluster that does not parse as its kind (the others keep reconciling, the
//! caches sync, a restart still works), watches expired by the server (a later change is reconciled),
//! and clusters whose deletion is held by someone else's finalizer (the status says by whom).

use std::sync::atomic::Ordering;
use std::time::Instant;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceValidation, JSONSchemaProps,
};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

#[path = "support/engine_env.rs"]
mod engine_env;
use engine_env::{Env, eventually, json_merge, runtime};

fn ar(kind: &str) -> ApiResource {
    let (group, version, plural) = match kind {
        "PerconaXtraDBCluster" => ("pxc.percona.com", "v1", "perconaxtradbclusters"),
        "PerconaServerMySQL" => ("ps.percona.com", "v1", "perconaservermysqls"),
        _ => ("pgv2.percona.com", "v2", "perconapgclusters"),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn example(file: &str) -> Value {
    let path = format!("{}/deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("example")).expect("example parses")
}

fn kind_of(file: &str) -> &'static str {
    match file.split('-').next() {
        Some("pxc") => "PerconaXtraDBCluster",
        Some("ps") => "PerconaServerMySQL",
        _ => "PerconaPGCluster",
    }
}

impl Env {
    fn clusters(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), "default", &ar(kind))
    }

    /// Creates the example `file` named `name` with `patch` merged in, untyped (so it may be wrong).
    async fn create_example(&self, file: &str, name: &str, patch: Value) {
        let mut v = example(file);
        v["metadata"]["name"] = json!(name);
        json_merge(&mut v, &patch);
        let obj: DynamicObject = serde_json::from_value(v).expect("object");
        self.clusters(kind_of(file)).create(&PostParams::default(), &obj).await.expect("cluster created");
    }

    /// Lets `kind` take any object: its CRD's schema becomes "any object". A server that validates
    /// refuses a string where an integer belongs; an object stored before a schema was tightened, or by a
    /// server that does not validate, reaches the engine all the same — that is the case under test.
    async fn accept_anything(&self, kind: &str) {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let name = format!("{}.{}", ar(kind).plural, ar(kind).group);
        let mut crd = crds.get(&name).await.expect("CRD installed");
        for v in &mut crd.spec.versions {
            v.schema = Some(CustomResourceValidation {
                open_api_v3_schema: Some(JSONSchemaProps {
                    type_: Some("object".into()),
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    ..Default::default()
                }),
            });
        }
        crds.replace(&name, &PostParams::default(), &crd).await.expect("CRD loosened");
    }

    async fn status(&self, kind: &str, name: &str) -> Value {
        let obj = self.clusters(kind).get(name).await.expect("cluster exists");
        obj.data.get("status").cloned().unwrap_or(Value::Null)
    }

    /// Waits for the status of `name` to satisfy `pred`; on a time-out, says what the status and Events were.
    async fn wait_status(&self, kind: &str, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let obj = self.clusters(kind).get(name).await.ok();
            let st = obj.as_ref().and_then(|o| o.data.get("status").cloned()).unwrap_or(Value::Null);
            if pred(&st) {
                return st;
            }
            if start.elapsed() > engine_env::DEADLINE {
                let meta = obj.map(|o| serde_json::to_value(&o.metadata).unwrap_or_default());
                panic!(
                    "timed out waiting for {kind} {name}: {what}; status {st}; metadata {meta:?}; events {:?}",
                    self.events(name).await
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        let api: Api<Event> = Api::default_namespaced(self.client.clone());
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    async fn wait_event(&self, name: &str, what: &str, pred: impl Fn(&str, &str, &str) -> bool) {
        eventually(&format!("{what} on {name}"), || async {
            self.events(name).await.iter().any(|(t, r, m)| pred(t, r, m)).then_some(())
        })
        .await
    }

    async fn wait_ready_flag(&self) {
        eventually("the engine's caches to sync (readiness)", || async {
            self.ready.load(Ordering::SeqCst).then_some(())
        })
        .await
    }
}

fn state(st: &Value) -> Option<&str> {
    st.get("state").and_then(Value::as_str)
}

/// `status.message`: a list for PXC, one string for PS and PG; as one text.
fn message(st: &Value) -> String {
    match st.get("message") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

#[test]
fn a_cluster_that_does_not_parse_is_in_error_and_every_other_cluster_reconciles() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.accept_anything("PerconaXtraDBCluster").await;
        env.accept_anything("PerconaPGCluster").await;
        env.create_example("pxc-minimal.yaml", "bad-pxc", json!({"spec": {"pxc": {"size": "three"}}})).await;
        let mut pg = example("pg-minimal.yaml");
        pg["spec"]["instances"][0]["replicas"] = json!("three");
        pg["metadata"]["name"] = json!("bad-pg");
        let pg: DynamicObject = serde_json::from_value(pg).unwrap();
        env.clusters("PerconaPGCluster").create(&PostParams::default(), &pg).await.expect("bad PG stored");
        env.create_example("pxc-minimal.yaml", "good-db", json!({})).await;

        env.wait_status("PerconaXtraDBCluster", "good-db", "ready", |st| state(st) == Some("ready")).await;
        let bad = env
            .wait_status("PerconaXtraDBCluster", "bad-pxc", "error naming the field", |st| {
                state(st) == Some("error") && message(st).contains("spec.pxc.size")
            })
            .await;
        assert!(message(&bad).contains("bad-pxc") && message(&bad).contains("three"), "{bad}");
        env.wait_event("bad-pxc", "an InvalidSpec Warning naming spec.pxc.size", |t, r, m| {
            t == "Warning" && r == "InvalidSpec" && m.contains("spec.pxc.size")
        })
        .await;
        env.wait_status("PerconaPGCluster", "bad-pg", "error naming the field", |st| {
            state(st) == Some("error") && message(st).contains("spec.instances[0].replicas")
        })
        .await;
        env.wait_ready_flag().await;
        assert!(env.engine.as_ref().is_some_and(|h| !h.is_finished()), "the engine runs on");

        // A restart with the bad objects stored: the engine starts, syncs and reconciles new work, and
        // does not report the same problem again.
        env.stop_engine().await;
        env.start_engine();
        env.wait_ready_flag().await;
        env.create_example("pxc-minimal.yaml", "after-db", json!({})).await;
        env.wait_status("PerconaXtraDBCluster", "after-db", "ready", |st| state(st) == Some("ready")).await;
        let reports = env.events("bad-pxc").await.into_iter().filter(|(_, r, _)| r == "InvalidSpec").count();
        assert_eq!(reports, 1, "one report per problem, also across a restart");
        assert_eq!(state(&env.status("PerconaXtraDBCluster", "bad-pxc").await), Some("error"));

        // Fixing the field makes it an ordinary cluster again.
        let fix = json!({"spec": {"pxc": {"size": 3}}});
        env.clusters("PerconaXtraDBCluster")
            .patch("bad-pxc", &PatchParams::default(), &Patch::Merge(&fix))
            .await
            .unwrap();
        env.wait_status("PerconaXtraDBCluster", "bad-pxc", "ready once fixed", |st| state(st) == Some("ready")).await;
        env.stop_engine().await;
    })
}

#[test]
fn a_decode_error_is_bounded_and_names_the_field() {
    let mut v = example("pxc-minimal.yaml");
    v["metadata"]["name"] = json!("huge");
    v["spec"]["pxc"]["size"] = json!("x".repeat(4 << 20));
    let obj: DynamicObject = serde_json::from_value(v).unwrap();
    let err = dbdeck::engine::lenient::parse::<dbdeck::api::pxc::PerconaXtraDBCluster>(&obj).unwrap_err();
    assert!(err.starts_with("spec.pxc.size: invalid type: string"), "{}", &err[..80.min(err.len())]);
    assert!(err.len() <= dbdeck::engine::lenient::MAX_ERROR_TEXT + 4, "{} bytes", err.len());
}

#[test]
fn after_the_server_expires_every_watch_a_later_change_is_reconciled() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        env.create_example("pxc-minimal.yaml", "watch-db", json!({})).await;
        env.wait_status("PerconaXtraDBCluster", "watch-db", "ready", |st| state(st) == Some("ready")).await;
        let req = http::Request::post("/_sandbox/faults/expire-watches").body(Vec::new()).unwrap();
        env.client.request_text(req).await.expect("fault accepted");
        let fault = Instant::now();
        let pause = json!({"spec": {"pause": true}});
        env.clusters("PerconaXtraDBCluster")
            .patch("watch-db", &PatchParams::default(), &Patch::Merge(&pause))
            .await
            .unwrap();
        let sts: Api<StatefulSet> = Api::default_namespaced(env.client.clone());
        eventually("the pause to reach the StatefulSet", || async {
            (sts.get("watch-db-pxc").await.ok()?.spec?.replicas == Some(0)).then_some(())
        })
        .await;
        // Reported, not asserted: how long the engine took to act on a change made right after the fault.
        eprintln!("expire-watches: change reconciled {:?} after the fault", fault.elapsed());
        env.wait_status("PerconaXtraDBCluster", "watch-db", "paused", |st| state(st) == Some("paused")).await;
        env.stop_engine().await;
    })
}

#[test]
fn a_deletion_held_by_a_foreign_finalizer_says_which_one() {
    runtime().block_on(async {
        let mut env = Env::new().await;
        let hold = json!({"metadata": {"finalizers": ["example.com/hold"]}});
        let clusters =
            [("pxc-minimal.yaml", "held-pxc"), ("ps-minimal.yaml", "held-ps"), ("pg-minimal.yaml", "held-pg")];
        for (file, name) in clusters {
            env.create_example(file, name, hold.clone()).await;
        }
        for (file, name) in clusters {
            env.wait_status(kind_of(file), name, "ready", |st| state(st) == Some("ready")).await;
            env.clusters(kind_of(file)).delete(name, &DeleteParams::default()).await.expect("delete accepted");
        }
        for (file, name) in clusters {
            let st = env
                .wait_status(kind_of(file), name, "deleting, held by example.com/hold", |st| {
                    state(st) == Some("stopping") && message(st).contains("example.com/hold")
                })
                .await;
            assert!(message(&st).contains("deleting"), "{st}");
            env.wait_event(name, "a Deleting event naming the finalizer", |_, r, m| {
                r == "Deleting" && m.contains("example.com/hold")
            })
            .await;
        }
        // Its owner lets go: the cluster goes.
        for (file, name) in clusters {
            let release = json!({"metadata": {"finalizers": null}});
            env.clusters(kind_of(file)).patch(name, &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
            eventually(&format!("{name} gone"), || async {
                env.clusters(kind_of(file)).get_opt(name).await.ok()?.is_none().then_some(())
            })
            .await;
        }
        env.stop_engine().await;
    })
}

#[test]
fn a_huge_log_line_is_cut_and_a_json_line_stays_json() {
    use dbdeck::headless::logging::{MAX_LINE, bound_line};
    let body = "x".repeat(4 << 20);
    let text = format!("WARN kube_client::client: {body}, Error(\"invalid type\")\n");
    let cut = String::from_utf8(bound_line(text.as_bytes())).unwrap();
    assert!(cut.len() <= MAX_LINE && cut.starts_with("WARN kube_client::client: xxx"), "{}", cut.len());
    assert!(cut.ends_with("bytes cut)\n"), "{}", &cut[cut.len() - 40..]);
    let json = serde_json::to_vec(&json!({"level": "WARN", "target": "kube_client::client", "message": body})).unwrap();
    let cut = bound_line(&json);
    assert!(cut.len() <= MAX_LINE, "{}", cut.len());
    let v: Value = serde_json::from_slice(&cut).expect("still one JSON object");
    assert_eq!(v["level"], "WARN");
    assert!(v["message"].as_str().unwrap().ends_with("bytes cut)"));
    let short = b"INFO dbdeck: engine started\n";
    assert_eq!(bound_line(short), short.to_vec(), "ordinary lines pass unchanged");
}
