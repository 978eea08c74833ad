//! The sandbox's outward shell against real clients: discovery documents through k8s-openapi's types, kube-rs over
//! HTTPS with the written kubeconfig, the bearer-token gate, CA reuse across restarts, and kubectl 1.32 itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dbdeck::sandbox::resources::{self, ResourceType};
use dbdeck::sandbox::{discovery, kubeconfig, listener, openapi, tls};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList, APIVersions};
use k8s_openapi::apimachinery::pkg::version::Info;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The built-in kinds plus every kind of dbdeck's CRDs, as the real server will serve them.
fn served_types() -> Vec<ResourceType> {
    let mut types = resources::builtin();
    for crd in dbdeck::api::crds() {
        types.extend(resources::from_crd(&serde_json::to_value(&crd).unwrap()));
    }
    types
}

#[test]
fn discovery_documents_deserialise_into_k8s_openapi_types() {
    let types = served_types();
    let info: Info = serde_json::from_value(discovery::version()).unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
    let core: APIVersions = serde_json::from_value(discovery::core_versions()).unwrap();
    assert_eq!(core.versions, ["v1"]);

    let groups: APIGroupList = serde_json::from_value(discovery::group_list(&types)).unwrap();
    let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    for g in ["apps", "batch", "policy", "rbac.authorization.k8s.io", "apiextensions.k8s.io", "pxc.percona.com"] {
        assert!(names.contains(&g), "{g} in {names:?}");
    }
    for g in &groups.groups {
        let preferred = g.preferred_version.as_ref().unwrap();
        assert_eq!(preferred.group_version, format!("{}/{}", g.name, preferred.version));
    }

    let core_list: APIResourceList = serde_json::from_value(discovery::resource_list("v1", &types)).unwrap();
    let find = |list: &APIResourceList, name: &str| list.resources.iter().find(|r| r.name == name).cloned();
    let pods = find(&core_list, "pods").unwrap();
    assert_eq!(pods.short_names.as_deref(), Some(&["po".to_string()][..]));
    assert_eq!(pods.categories.as_deref(), Some(&["all".to_string()][..]));
    assert!(find(&core_list, "pods/status").is_some());
    assert!(find(&core_list, "configmaps/status").is_none());
    assert!(core_list.resources.iter().all(|r| r.name != "deployments"));

    let apps: APIResourceList = serde_json::from_value(discovery::resource_list("apps/v1", &types)).unwrap();
    let scale = find(&apps, "statefulsets/scale").unwrap();
    assert_eq!((scale.group.as_deref(), scale.kind.as_str()), (Some("autoscaling"), "Scale"));
    assert_eq!(find(&apps, "statefulsets/status").unwrap().verbs, ["get", "patch", "update"]);

    let pxc: APIResourceList = serde_json::from_value(discovery::resource_list("pxc.percona.com/v1", &types)).unwrap();
    let cluster = find(&pxc, "perconaxtradbclusters").unwrap();
    assert_eq!(cluster.kind, "PerconaXtraDBCluster");
    assert!(cluster.namespaced);
}

#[test]
fn from_crd_of_dbdeck_crds_yields_their_types() {
    for crd in dbdeck::api::crds() {
        let value = serde_json::to_value(&crd).unwrap();
        let types = resources::from_crd(&value);
        assert_eq!(types.len(), crd.spec.versions.iter().filter(|v| v.served).count());
        let t = &types[0];
        assert_eq!(t.group, crd.spec.group);
        assert_eq!(t.kind, crd.spec.names.kind);
        assert_eq!(t.plural, crd.spec.names.plural);
        assert_eq!(t.namespaced, crd.spec.scope == "Namespaced");
        assert_eq!(t.short_names, crd.spec.names.short_names.clone().unwrap_or_default());
        let sub = crd.spec.versions[0].subresources.as_ref();
        assert_eq!(t.status_subresource, sub.is_some_and(|s| s.status.is_some()));
        assert_eq!(t.scale_subresource.is_some(), sub.is_some_and(|s| s.scale.is_some()));
        assert!(t.schema.is_some(), "{} carries its schema", t.kind);
    }
    let types = served_types();
    let pxc = resources::find_by_short_name(&types, "pxc").unwrap();
    assert_eq!((pxc.group.as_str(), pxc.kind.as_str()), ("pxc.percona.com", "PerconaXtraDBCluster"));
    assert_eq!(resources::find_by_plural(&types, "pxc.percona.com", "v1", "perconaxtradbclusters"), Some(pxc));
}

// ---------------------------------------------------------------------------------------------------------------
// A small test server: discovery and OpenAPI from the sandbox functions, objects in a map.

#[derive(Clone, Default)]
struct TestApi {
    types: Arc<Vec<ResourceType>>,
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    /// Every request as `METHOD path?query`, to see what clients asked for.
    log: Arc<Mutex<Vec<String>>>,
    /// The HTTP version of every request.
    versions: Arc<Mutex<Vec<http::Version>>>,
    /// The Content-Type of every PATCH.
    patch_types: Arc<Mutex<Vec<String>>>,
    /// Released by the test to let `/stream` send its second line.
    release: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code.as_u16()});
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn json_response(code: StatusCode, body: Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn test_router(api: TestApi) -> Router {
    Router::new()
        .route("/version", get(|| async { json_response(StatusCode::OK, discovery::version()) }))
        .route("/api", get(|| async { json_response(StatusCode::OK, discovery::core_versions()) }))
        .route(
            "/apis",
            get(|State(api): State<TestApi>| async move {
                json_response(StatusCode::OK, discovery::group_list(&api.types))
            }),
        )
        .route(
            "/openapi/v3",
            get(|State(api): State<TestApi>| async move { json_response(StatusCode::OK, openapi::root(&api.types)) }),
        )
        .route("/stream", get(stream))
        .fallback(objects)
        .with_state(api.clone())
        .layer(axum::middleware::from_fn_with_state(api, record))
}

async fn record(State(api): State<TestApi>, req: Request, next: axum::middleware::Next) -> Response {
    let line = format!("{} {}", req.method(), req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    api.log.lock().unwrap().push(line);
    api.versions.lock().unwrap().push(req.version());
    next.run(req).await
}

/// One line at once, the second only when the test releases it: shows that bodies are not buffered. Later calls
/// never finish, like a watch.
async fn stream(State(api): State<TestApi>) -> Response {
    let release = api.release.lock().unwrap().take();
    let lines = futures::stream::unfold((0, release), |(n, release)| async move {
        match n {
            0 => Some((Ok::<_, std::io::Error>(Bytes::from("first\n")), (1, release))),
            1 => {
                // Without a release channel (a later call), hold the response open for good.
                match release {
                    Some(rx) => rx.await.ok()?,
                    None => std::future::pending::<()>().await,
                }
                Some((Ok(Bytes::from("second\n")), (2, None)))
            }
            _ => None,
        }
    });
    Response::new(Body::from_stream(lines))
}

/// Discovery per group/version, OpenAPI per group/version, and GET/LIST/POST of objects.
async fn objects(State(api): State<TestApi>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/openapi/v3/") {
        return match openapi::group_version_of_path(rest).and_then(|gv| openapi::group_version(&gv, &api.types)) {
            Some(doc) => json_response(StatusCode::OK, doc),
            None => status(StatusCode::NOT_FOUND, "NotFound", format!("{path} not found")),
        };
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", format!("{path} not found")),
    };
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let (namespace, plural, name) = match rest {
        [] => {
            let list = discovery::resource_list(&gv, &api.types);
            return if list["resources"].as_array().is_some_and(|r| !r.is_empty()) {
                json_response(StatusCode::OK, list)
            } else {
                status(StatusCode::NOT_FOUND, "NotFound", format!("{path} not found"))
            };
        }
        ["namespaces", ns, plural, tail @ ..] => (Some(*ns), *plural, tail.first().copied()),
        [plural, tail @ ..] => (None, *plural, tail.first().copied()),
    };
    let Some(t) = resources::find_by_plural(&api.types, group, version, plural).cloned() else {
        return status(StatusCode::NOT_FOUND, "NotFound", format!("the server could not find {plural}"));
    };
    let key = |name: &str| format!("{gv}/{plural}/{}/{name}", namespace.unwrap_or(""));
    match (req.method().clone(), name) {
        (Method::GET, Some(name)) => match api.objects.lock().unwrap().get(&key(name)) {
            Some(obj) => json_response(StatusCode::OK, obj.clone()),
            None => status(StatusCode::NOT_FOUND, "NotFound", format!("{plural} \"{name}\" not found")),
        },
        (Method::GET, None) => {
            let prefix = format!("{gv}/{plural}/{}/", namespace.unwrap_or(""));
            let items: Vec<Value> = api
                .objects
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.clone())
                .collect();
            json_response(
                StatusCode::OK,
                json!({"kind": t.list_kind, "apiVersion": gv, "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
        (Method::POST, None) => {
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            let mut obj: Value = serde_json::from_slice(&body).unwrap();
            let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
            if let Some(ns) = namespace {
                obj["metadata"]["namespace"] = json!(ns);
            }
            obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            obj["metadata"]["resourceVersion"] = json!("2");
            obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
            let mut store = api.objects.lock().unwrap();
            if store.contains_key(&key(&name)) {
                return status(StatusCode::CONFLICT, "AlreadyExists", format!("{plural} \"{name}\" already exists"));
            }
            store.insert(key(&name), obj.clone());
            json_response(StatusCode::CREATED, obj)
        }
        // Enough PATCH for kubectl re-applying objects without lists: strategic and JSON merge coincide there.
        (Method::PATCH, Some(name)) => {
            let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            api.patch_types.lock().unwrap().push(content_type.to_string());
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            let patch: Value = serde_json::from_slice(&body).unwrap();
            let mut store = api.objects.lock().unwrap();
            let Some(obj) = store.get_mut(&key(name)) else {
                return status(StatusCode::NOT_FOUND, "NotFound", format!("{plural} \"{name}\" not found"));
            };
            dbdeck::sandbox::patch::merge_patch(obj, &patch);
            obj["metadata"]["resourceVersion"] = json!("3");
            json_response(StatusCode::OK, obj.clone())
        }
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "not supported by the test server".into()),
    }
}

/// A running HTTPS server over the test router, with its kubeconfig written next to the TLS files.
struct Running {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    api: TestApi,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(dir: &Path, api: TestApi) -> Running {
        let material = tls::load_or_generate(dir, &[]).unwrap();
        let token = tls::load_or_create_token(dir).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let kubeconfig = dir.join("kubeconfig");
        kubeconfig::write(&kubeconfig, addr, &material.ca_cert_pem, &token).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = test_router(api.clone());
        let task = tokio::spawn(listener::serve(router, tcp, material.server_config, token, async move {
            let _ = stopped.await;
        }));
        Running { addr, kubeconfig, api, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let limit = listener::SHUTDOWN_GRACE + Duration::from_secs(5);
        tokio::time::timeout(limit, self.task).await.expect("serve returns after shutdown").unwrap();
    }
}

fn test_api() -> TestApi {
    TestApi { types: Arc::new(served_types()), ..Default::default() }
}

async fn client_from(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_reaches_the_server_over_https_with_the_written_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let (release, released) = oneshot::channel();
    let api = test_api();
    *api.release.lock().unwrap() = Some(released);
    let server = Running::start(dir.path(), api).await;
    let client = client_from(&server.kubeconfig).await;

    let info = client.apiserver_version().await.unwrap();
    assert_eq!(info.git_version, discovery::GIT_VERSION);

    // kube-rs legacy discovery walks /api, /apis and every group/version document.
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.has_group("apps") && discovery.has_group("pxc.percona.com"));
    let (sts, caps) = discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("apps", "v1", "StatefulSet")).unwrap();
    assert_eq!(sts.plural, "statefulsets");
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "scale"));

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("demo".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    assert_eq!(cms.get("demo").await.unwrap().data.unwrap()["k"], "v");
    assert!(cms.get_opt("missing").await.unwrap().is_none());

    // The same settings in-process, without a file.
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    let token = tls::load_or_create_token(dir.path()).unwrap();
    let config = kubeconfig::client_config(server.addr, &ca, &token).await.unwrap();
    let direct = kube::Client::try_from(config).unwrap();
    assert_eq!(direct.apiserver_version().await.unwrap().minor, "33");

    // Streaming: the first line arrives while the handler still holds the second.
    let request = http::Request::get("/stream").body(Vec::new()).unwrap();
    let mut lines = std::pin::pin!(client.request_stream(request).await.unwrap().lines());
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next()).await.expect("first line unbuffered");
    assert_eq!(first.unwrap().unwrap(), "first");
    release.send(()).unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), lines.next()).await.unwrap();
    assert_eq!(second.unwrap().unwrap(), "second");

    // A still-open request must not keep shutdown waiting beyond the grace period.
    let request = http::Request::get("/stream").body(Vec::new()).unwrap();
    let mut open = std::pin::pin!(client.request_stream(request).await.unwrap().lines());
    assert_eq!(open.next().await.unwrap().unwrap(), "first");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_token_get_a_401_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), test_api()).await;
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    for token in [None, Some("0".repeat(64))] {
        let mut config = kubeconfig::client_config(server.addr, &ca, "unused").await.unwrap();
        config.auth_info.token = token.map(Into::into);
        let client = kube::Client::try_from(config).unwrap();
        match client.apiserver_version().await {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 401);
                assert_eq!(status.reason, "Unauthorized");
                assert_eq!(status.message, "Unauthorized");
            }
            other => panic!("expected a 401 Status, got {other:?}"),
        }
    }
    assert!(server.api.log.lock().unwrap().is_empty(), "rejected requests never reach the router");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reuses_the_ca_so_old_kubeconfigs_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let first = Running::start(dir.path(), test_api()).await;
    let old_kubeconfig = std::fs::read(&first.kubeconfig).unwrap();
    let ca_before = std::fs::read(dir.path().join("ca.crt")).unwrap();
    first.stop().await;

    let second = Running::start(dir.path(), test_api()).await;
    assert_eq!(std::fs::read(dir.path().join("ca.crt")).unwrap(), ca_before);
    // The old file with the new port: same CA data and token, so it still verifies and authenticates.
    let old = String::from_utf8(old_kubeconfig).unwrap();
    let old_server = old.lines().find(|l| l.contains("server:")).unwrap().trim().trim_start_matches("server:").trim();
    let patched = old.replace(old_server, &kubeconfig::server_url(second.addr));
    let path = dir.path().join("old-kubeconfig");
    std::fs::write(&path, patched).unwrap();
    let client = client_from(&path).await;
    assert_eq!(client.apiserver_version().await.unwrap().git_version, discovery::GIT_VERSION);
    second.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// kubectl as a client.

async fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache).args(args);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd.kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("kubectl finished")
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn kubectl_on_path() -> bool {
    std::process::Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_uses_discovery_openapi_and_applies_with_strict_validation() {
    if !kubectl_on_path() {
        eprintln!("kubectl is not on PATH; skipping the kubectl test (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("kube-cache");
    let server = Running::start(dir.path(), test_api()).await;
    let kc = server.kubeconfig.clone();

    let (ok, out, err) = kubectl(&kc, &cache, &["version", "-o", "json"], None).await;
    assert!(ok, "kubectl version failed: {err}");
    let version: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], discovery::GIT_VERSION);

    let (ok, out, err) = kubectl(&kc, &cache, &["api-resources"], None).await;
    assert!(ok, "kubectl api-resources failed: {err}");
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    let row = |name: &str, gv: &str| rows.iter().find(|r| r.first() == Some(&name) && r.contains(&gv)).cloned();
    for (name, short, gv) in [
        ("configmaps", "cm", "v1"),
        ("persistentvolumeclaims", "pvc", "v1"),
        ("statefulsets", "sts", "apps/v1"),
        ("customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1"),
        ("perconaxtradbclusters", "pxc,pxcs", "pxc.percona.com/v1"),
    ] {
        let r = row(name, gv).unwrap_or_else(|| panic!("{name} missing from:\n{out}"));
        assert_eq!(r[1], short, "{name}: {r:?}");
    }
    assert!(row("secrets", "v1").is_some_and(|r| r.len() == 4), "secrets has no short names");

    // apply with the default --validate=strict needs /openapi/v3; the server is then asked to validate.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: default\ndata:\n  k: v\n";
    let (ok, out, err) = kubectl(&kc, &cache, &["apply", "-f", "-"], Some(cm)).await;
    assert!(ok, "kubectl apply of a ConfigMap failed: {err}");
    assert!(out.contains("configmap/applied created"), "{out}");
    let cr = "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata:\n  name: cluster1\n  namespace: default\nspec:\n  crVersion: 1.16.0\n";
    let (ok, out, err) = kubectl(&kc, &cache, &["apply", "-f", "-"], Some(cr)).await;
    assert!(ok, "kubectl apply of a CR failed: {err}");
    assert!(out.contains("perconaxtradbcluster.pxc.percona.com/cluster1 created"), "{out}");

    // Re-applying changed objects patches them: strategic merge for the built-in kind (kubectl computes it from
    // its compiled-in types, since our OpenAPI does not offer it), JSON merge for the CR.
    let (ok, out, err) = kubectl(&kc, &cache, &["apply", "-f", "-"], Some(&cm.replace("k: v", "k: v2"))).await;
    assert!(ok && out.contains("configmap/applied configured"), "{out}{err}");
    let (ok, out, err) = kubectl(&kc, &cache, &["apply", "-f", "-"], Some(&cr.replace("1.16.0", "1.17.0"))).await;
    assert!(ok && out.contains("cluster1 configured"), "{out}{err}");
    assert!(!err.contains("warning"), "no OpenAPI fallback warnings: {err}");
    assert_eq!(
        *server.api.patch_types.lock().unwrap(),
        ["application/strategic-merge-patch+json", "application/merge-patch+json"]
    );

    let (ok, out, err) = kubectl(&kc, &cache, &["get", "cm", "applied", "-n", "default", "-o", "json"], None).await;
    assert!(ok, "kubectl get cm failed: {err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["data"]["k"], "v2");
    let annotations = &got["metadata"]["annotations"];
    assert!(annotations["kubectl.kubernetes.io/last-applied-configuration"].is_string(), "{got}");

    let log = server.api.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l == "GET /openapi/v3" || l.starts_with("GET /openapi/v3?")), "{log:#?}");
    assert!(log.iter().any(|l| l.starts_with("GET /openapi/v3/api/v1?hash=")), "{log:#?}");
    assert!(log.iter().any(|l| l.starts_with("GET /openapi/v3/apis/pxc.percona.com/v1?hash=")), "{log:#?}");
    let posts: Vec<&String> = log.iter().filter(|l| l.starts_with("POST ")).collect();
    assert_eq!(posts.len(), 2, "{log:#?}");
    assert!(
        posts.iter().all(|l| l.contains("fieldValidation=Strict")),
        "validation delegated to the server: {posts:?}"
    );
    // kubectl speaks HTTP/2 when the server offers it through ALPN.
    assert!(server.api.versions.lock().unwrap().iter().all(|v| *v == http::Version::HTTP_2));
    server.stop().await;
}
