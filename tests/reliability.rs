//! The reliability set: malformed custom resources as data files (`tests/fixtures/bad/*.yaml`, one object per
//! file), each carrying its expected outcome in its first line:
//!
//! - `# expect: refused <field>`: the sandbox, with dbdeck's CRDs installed, answers 422 Invalid naming that field
//!   (as a real API server does from the CRD's structural schema), for a create and for a server-side apply;
//! - `# expect: invalid <field>`: the API server stores it, but `dbdeck validate` (the `api` validation) names the
//!   field;
//! - `# expect: accepted`: both take it.
//!
//! Every case also runs through the `api` validation, which must reject refused cases too and name the field, and
//! every `invalid` cluster case is given to the running engine, which must put it in `error` with a status message
//! naming the field and build nothing for it. The outcome counts are printed as a table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use dbdeck::api::{AnyResource, ParseError};
use dbdeck::sandbox::{Sandbox, SandboxConfig};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::runtime::{conditions, wait::await_condition};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "support/engine_env.rs"]
mod engine_env;

const WAIT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Refused(String),
    Invalid(String),
    Accepted,
}

struct Case {
    file: String,
    expect: Expect,
    doc: Value,
}

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

fn parse_expect(file: &str, line: &str) -> Expect {
    let rest = line
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("{file}: the first line must be `# expect: ...`, got {line:?}"))
        .trim();
    let (verdict, field) = rest.split_once(' ').map_or((rest, ""), |(v, f)| (v, f.trim()));
    match (verdict, field) {
        ("accepted", "") => Expect::Accepted,
        ("refused", f) if !f.is_empty() => Expect::Refused(f.to_string()),
        ("invalid", f) if !f.is_empty() => Expect::Invalid(f.to_string()),
        _ => panic!("{file}: unknown expectation {rest:?} (accepted | refused FIELD | invalid FIELD)"),
    }
}

fn cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(bad_dir())
        .expect("tests/fixtures/bad exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path).unwrap();
            let expect = parse_expect(&file, text.lines().next().unwrap_or_default());
            let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            let doc = serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{file}: {e}"));
            Case { file, expect, doc }
        })
        .collect()
}

/// What the sandbox did with a write: stored it, or refused it with these causes (field, message).
#[derive(Debug)]
enum Served {
    Stored,
    Refused { code: u16, reason: String, message: String, fields: Vec<String> },
}

async fn install_crds(client: &Client) -> Vec<ApiResource> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut resources = Vec::new();
    for crd in dbdeck::api::crds() {
        let name = crd.name_any();
        crds.create(&PostParams::default(), &crd).await.unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        let established = await_condition(crds.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(WAIT, established).await.expect("CRD established in time").unwrap();
        let version = &crd.spec.versions[0].name;
        resources.push(ApiResource {
            group: crd.spec.group.clone(),
            version: version.clone(),
            api_version: format!("{}/{version}", crd.spec.group),
            kind: crd.spec.names.kind.clone(),
            plural: crd.spec.names.plural.clone(),
        });
    }
    resources
}

/// A dry-run POST, read raw so that `details.causes` can be checked.
async fn create_dry_run(sb: &Sandbox, ar: &ApiResource, ns: &str, doc: &Value) -> Served {
    let uri = format!("/apis/{}/namespaces/{ns}/{}?dryRun=All", ar.api_version, ar.plural);
    let req =
        http::Request::post(uri).header("content-type", "application/json").body(Body::from(doc.to_string())).unwrap();
    let resp = sb.router().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Served::Stored;
    }
    let fields = body
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| c["field"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Served::Refused {
        code: status,
        reason: body["reason"].as_str().unwrap_or_default().to_string(),
        message: body["message"].as_str().unwrap_or_default().to_string(),
        fields,
    }
}

/// Server-side apply through kube-rs, as `kubectl apply --server-side` does.
async fn apply(client: &Client, ar: &ApiResource, ns: &str, doc: &Value) -> Served {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
    let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    match api.patch(name, &PatchParams::apply("reliability").force(), &Patch::Apply(doc)).await {
        Ok(_) => Served::Stored,
        Err(kube::Error::Api(e)) => {
            Served::Refused { code: e.code, reason: e.reason.clone(), message: e.message.clone(), fields: Vec::new() }
        }
        Err(other) => panic!("apply of {name} failed outside the API: {other}"),
    }
}

/// What the `api` validation says: the problems' paths and messages (a parse error is one problem).
fn api_problems(doc: &Value) -> Vec<(String, String)> {
    match AnyResource::from_value(doc.clone()) {
        Err(ParseError::Field { path, message }) => vec![(path, message)],
        Err(other) => vec![("(document)".into(), other.to_string())],
        Ok(res) => res.validate_document(doc).iter().map(|p| (p.path.clone(), p.message.clone())).collect(),
    }
}

/// A path names `field` when it is the field or lies under it (`spec.users[0].name` under `spec.users`).
fn names(path: &str, field: &str) -> bool {
    path == field || path.strip_prefix(field).is_some_and(|rest| rest.starts_with(['.', '[']))
}

fn mentions(problems: &[(String, String)], field: &str) -> bool {
    let last = field.rsplit(['.', ']']).next().unwrap_or(field);
    problems
        .iter()
        .any(|(p, m)| names(p, field) || ((p == "(document)" || field.starts_with(p.as_str())) && m.contains(last)))
}

fn family(kind: &str) -> &'static str {
    if kind.starts_with("PerconaXtraDB") {
        "PXC"
    } else if kind.starts_with("PerconaServerMySQL") {
        "PS"
    } else {
        "PG"
    }
}

#[tokio::test]
async fn every_bad_input_case_has_its_expected_outcome() {
    let cases = cases();
    assert!(cases.len() >= 40, "the set has {} cases; it should cover at least 40", cases.len());
    let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
    let client = Client::new(sb.router(), "default");
    let resources = install_crds(&client).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());

    let mut failures = Vec::new();
    // (family, refused, invalid, accepted)
    let mut counts: Vec<(&str, [usize; 3])> = vec![("PXC", [0; 3]), ("PS", [0; 3]), ("PG", [0; 3])];
    for (i, case) in cases.iter().enumerate() {
        let kind = case.doc["kind"].as_str().unwrap_or_default();
        let ar = resources
            .iter()
            .find(|r| r.kind == kind && r.api_version == case.doc["apiVersion"].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("{}: no CRD serves {kind}", case.file));
        // One namespace per case, so that no case updates another's object.
        let ns = format!("case-{i}");
        let ns_obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&PostParams::default(), &ns_obj).await.unwrap();

        let created = create_dry_run(&sb, ar, &ns, &case.doc).await;
        let applied = apply(&client, ar, &ns, &case.doc).await;
        let problems = api_problems(&case.doc);
        let mut fail = |why: String| failures.push(format!("{}: {why}", case.file));
        match &case.expect {
            Expect::Refused(field) => {
                match &created {
                    Served::Refused { code: 422, reason, message, fields } if reason == "Invalid" => {
                        if !fields.iter().any(|f| f == field) {
                            fail(format!("create refused, but the causes name {fields:?}, not {field}: {message}"));
                        }
                        if !message.contains(&format!("{field}: ")) {
                            fail(format!("the 422 message does not name {field}: {message}"));
                        }
                    }
                    other => fail(format!("create: expected 422 Invalid naming {field}, got {other:?}")),
                }
                match &applied {
                    Served::Refused { code: 422, message, .. } if message.contains(&format!("{field}: ")) => {}
                    other => fail(format!("apply: expected 422 Invalid naming {field}, got {other:?}")),
                }
                if !mentions(&problems, field) {
                    fail(format!("the api validation does not name {field}: {problems:?}"));
                }
            }
            Expect::Invalid(_) | Expect::Accepted if !matches!(created, Served::Stored) => {
                fail(format!("create: expected the API server to store it, got {created:?}"));
            }
            Expect::Invalid(field) => {
                if !matches!(applied, Served::Stored) {
                    fail(format!("apply: expected the API server to store it, got {applied:?}"));
                }
                if !problems.iter().any(|(p, _)| names(p, field)) {
                    fail(format!("the api validation does not name {field}: {problems:?}"));
                }
            }
            Expect::Accepted => {
                if !matches!(applied, Served::Stored) {
                    fail(format!("apply: expected the API server to store it, got {applied:?}"));
                }
                if !problems.is_empty() {
                    fail(format!("the api validation rejects it: {problems:?}"));
                }
            }
        }
        let slot = match case.expect {
            Expect::Refused(_) => 0,
            Expect::Invalid(_) => 1,
            Expect::Accepted => 2,
        };
        if let Some((_, c)) = counts.iter_mut().find(|(f, _)| *f == family(kind)) {
            c[slot] += 1;
        }
    }

    let total = |slot: usize| counts.iter().map(|(_, c)| c[slot]).sum::<usize>();
    println!("bad-input cases (tests/fixtures/bad):");
    println!("{:<8} {:>6} {:>8} {:>8} {:>9}", "family", "cases", "refused", "invalid", "accepted");
    for (f, c) in &counts {
        println!("{f:<8} {:>6} {:>8} {:>8} {:>9}", c.iter().sum::<usize>(), c[0], c[1], c[2]);
    }
    println!("{:<8} {:>6} {:>8} {:>8} {:>9}", "all", cases.len(), total(0), total(1), total(2));
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from their expectation:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(total(0) > 0 && total(1) > 0 && total(2) > 0, "every outcome has cases");
}

/// Patches of every kind and updates go through the same schema: a valid object cannot be patched into an
/// invalid one, and the status subresource is held to the status schema.
#[tokio::test]
async fn patches_updates_and_status_writes_are_validated_too() {
    let sb = Sandbox::new(SandboxConfig::default()).expect("sandbox starts");
    let client = Client::new(sb.router(), "default");
    let resources = install_crds(&client).await;
    let ar = resources.iter().find(|r| r.kind == "PerconaXtraDBCluster").unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", ar);
    let text = std::fs::read_to_string(bad_dir().join("pxc-accepted-minimal.yaml")).unwrap();
    let doc: Value = serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()).unwrap();
    let obj: DynamicObject = serde_json::from_value(doc.clone()).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();

    let want = r#"spec.pxc.size: Invalid value: "string": spec.pxc.size in body must be of type integer: "string""#;
    let refused = |r: Result<DynamicObject, kube::Error>, how: &str| match r {
        Err(kube::Error::Api(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{how}: {e:?}");
            assert!(e.message.contains(want), "{how}: {}", e.message);
            assert!(
                e.message.starts_with(r#"PerconaXtraDBCluster.pxc.percona.com "shop-db" is invalid: "#),
                "{how}: {}",
                e.message
            );
        }
        other => panic!("{how}: expected 422, got {other:?}"),
    };
    let bad = json!({"spec": {"pxc": {"size": "three"}}});
    refused(api.patch("shop-db", &PatchParams::default(), &Patch::Merge(&bad)).await, "merge patch");
    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/pxc/size", "value": "three"}])).unwrap();
    refused(api.patch("shop-db", &PatchParams::default(), &Patch::<()>::Json(json_patch)).await, "json patch");
    let mut applied = doc.clone();
    applied["spec"]["pxc"]["size"] = json!("three");
    refused(api.patch("shop-db", &PatchParams::apply("reliability").force(), &Patch::Apply(&applied)).await, "apply");
    let mut current = api.get("shop-db").await.unwrap();
    current.data["spec"]["pxc"]["size"] = json!("three");
    refused(api.replace("shop-db", &PostParams::default(), &current).await, "update");
    // A strategic merge patch, raw (kube-rs refuses to send one for a custom resource, kubectl does not).
    let req = http::Request::patch("/apis/pxc.percona.com/v1/namespaces/default/perconaxtradbclusters/shop-db")
        .header("content-type", "application/strategic-merge-patch+json")
        .body(Body::from(bad.to_string()))
        .unwrap();
    let resp = sb.router().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 422, "strategic merge patch");
    let stored = api.get("shop-db").await.unwrap();
    assert_eq!(stored.data["spec"]["pxc"]["size"], 3, "nothing refused was stored");

    // Status: the status schema holds for the status subresource, with the field path of the status.
    let status = api.get_status("shop-db").await.unwrap();
    let bad_status = json!({"status": {"pxc": {"ready": "all"}}});
    match api.patch_status("shop-db", &PatchParams::default(), &Patch::Merge(&bad_status)).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "{e:?}");
            assert!(e.message.contains("status.pxc.ready: Invalid value: \"string\""), "{}", e.message);
        }
        other => panic!("status patch: expected 422, got {other:?}"),
    }
    let good_status = json!({"status": {"pxc": {"ready": 3}, "state": "ready"}});
    api.patch_status("shop-db", &PatchParams::default(), &Patch::Merge(&good_status)).await.unwrap();
    let _ = status;

    // An integral float is an integer, stored as one.
    let float = json!({"spec": {"pxc": {"size": 5.0}}});
    let patched = api.patch("shop-db", &PatchParams::default(), &Patch::Merge(&float)).await.unwrap();
    assert!(patched.data["spec"]["pxc"]["size"].is_i64(), "{:?}", patched.data["spec"]["pxc"]["size"]);
}

/// The engine's side of the `invalid` cases: each cluster the API server stores but `validate` refuses ends in
/// `error` with a status message naming the field, and no child object is made for it.
#[test]
fn the_engine_puts_every_invalid_cluster_in_error_naming_the_field() {
    engine_env::runtime().block_on(async {
        // Env installs dbdeck's CRDs itself.
        let env = engine_env::Env::new().await;
        let resources: Vec<ApiResource> = dbdeck::api::crds()
            .iter()
            .map(|crd| {
                let version = &crd.spec.versions[0].name;
                ApiResource {
                    group: crd.spec.group.clone(),
                    version: version.clone(),
                    api_version: format!("{}/{version}", crd.spec.group),
                    kind: crd.spec.names.kind.clone(),
                    plural: crd.spec.names.plural.clone(),
                }
            })
            .collect();
        let mut pending = Vec::new();
        for (i, case) in cases().into_iter().enumerate() {
            let Expect::Invalid(field) = &case.expect else { continue };
            let kind = case.doc["kind"].as_str().unwrap_or_default();
            if kind.ends_with("Backup") || kind.ends_with("Restore") {
                continue;
            }
            let ar = resources.iter().find(|r| r.kind == kind).unwrap().clone();
            let mut doc = case.doc.clone();
            // Cases about the name itself keep it; the others get one of their own in the shared namespace.
            let name = if field.starts_with("metadata.") {
                doc["metadata"]["name"].as_str().unwrap_or_default().to_string()
            } else {
                format!("case-{i}")
            };
            doc["metadata"]["name"] = json!(name);
            let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), "default", &ar);
            let obj: DynamicObject = serde_json::from_value(doc).unwrap();
            let stored =
                api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("{}: {e}", case.file));
            // What the server pruned (an unknown field) never reaches the engine; only `validate` can name it.
            let stored = serde_json::to_value(&stored).unwrap();
            if !api_problems(&stored).iter().any(|(p, _)| names(p, field)) {
                api.delete(&name, &Default::default()).await.unwrap();
                continue;
            }
            pending.push((case.file.clone(), field.clone(), name, api));
        }
        assert!(pending.len() >= 10, "only {} invalid cluster cases", pending.len());
        let mut failures = Vec::new();
        for (file, field, name, api) in &pending {
            let status = engine_env::eventually(&format!("{file}: state error"), || async {
                let o = api.get(name).await.ok()?;
                let status = o.data.get("status")?.clone();
                (status["state"] == "error").then_some(status)
            })
            .await;
            let message = status["message"].to_string() + &status["conditions"].to_string();
            if !message.contains(field.as_str()) {
                failures.push(format!("{file}: the status does not name {field}: {status}"));
            }
        }
        // Nothing was built for any of them: no StatefulSet, Deployment or Service carries their instance label.
        let sts: Api<k8s_openapi::api::apps::v1::StatefulSet> = Api::namespaced(env.client.clone(), "default");
        for (file, _, name, _) in &pending {
            let lp = kube::api::ListParams::default().labels(&format!("app.kubernetes.io/instance={name}"));
            if !sts.list(&lp).await.unwrap().items.is_empty() {
                failures.push(format!("{file}: a StatefulSet was built for an invalid cluster"));
            }
        }
        println!(
            "engine: {} invalid clusters, all in error naming their field: {}",
            pending.len(),
            failures.is_empty()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}
