use serde_json::{Value, json};

use super::*;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";
const T2: &str = "2026-01-01T00:02:00Z";

fn deploy(replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "db"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}
        }
    })
}

fn run(live: Option<&Value>, applied: &Value, manager: &str, force: bool, now: &str) -> Value {
    apply_at(live, applied, manager, force, now).unwrap()
}

/// The managed fields entry of `manager` with `operation`.
fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn owns(obj: &Value, manager: &str, operation: &str, pointer: &str) -> bool {
    entry(obj, manager, operation).and_then(|e| e["fieldsV1"].pointer(pointer)).is_some()
}

#[test]
fn apply_creates_from_nothing_with_an_apply_entry() {
    let out = run(None, &deploy(2), "dbdeck", false, T0);
    assert_eq!(out["spec"], deploy(2)["spec"]);
    let e = entry(&out, "dbdeck", "Apply").unwrap();
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["time"], T0);
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e.get("subresource").is_none());
    assert_eq!(
        e["fieldsV1"],
        json!({"f:spec": {
            "f:replicas": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}
        }})
    );
}

#[test]
fn apply_updates_a_value_the_manager_owns() {
    let v1 = run(None, &deploy(2), "dbdeck", false, T0);
    let v2 = run(Some(&v1), &deploy(4), "dbdeck", false, T1);
    assert_eq!(v2["spec"]["replicas"], 4);
    assert_eq!(v2["metadata"]["managedFields"].as_array().unwrap().len(), 1);
}

#[test]
fn apply_removes_fields_the_manager_omits_now() {
    let mut with_label = deploy(2);
    with_label["metadata"]["labels"] = json!({"app": "web"});
    with_label["spec"]["paused"] = json!(false);
    let v1 = run(None, &with_label, "dbdeck", false, T0);
    let v2 = run(Some(&v1), &deploy(2), "dbdeck", false, T1);
    assert!(v2["metadata"].get("labels").is_none());
    assert!(v2["spec"].get("paused").is_none());
    assert!(!owns(&v2, "dbdeck", "Apply", "/f:metadata"));
    assert_eq!(v2["metadata"]["name"], "web");
}

#[test]
fn omitted_field_stays_when_another_manager_owns_it_too() {
    let v1 = run(None, &deploy(2), "a", false, T0);
    let v2 = run(Some(&v1), &deploy(2), "b", false, T0);
    let mut without_replicas = deploy(2);
    without_replicas["spec"].as_object_mut().unwrap().remove("replicas");
    let v3 = run(Some(&v2), &without_replicas, "a", false, T1);
    assert_eq!(v3["spec"]["replicas"], 2);
    assert!(!owns(&v3, "a", "Apply", "/f:spec/f:replicas"));
    assert!(owns(&v3, "b", "Apply", "/f:spec/f:replicas"));
}

#[test]
fn same_value_is_shared_without_conflict() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let v2 = apply_at(Some(&v1), &deploy(3), "b", false, T1).expect("same value must not conflict");
    assert!(owns(&v2, "a", "Apply", "/f:spec/f:replicas"));
    assert!(owns(&v2, "b", "Apply", "/f:spec/f:replicas"));
}

#[test]
fn different_value_conflicts_without_force() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let err = apply_at(Some(&v1), &deploy(5), "b", false, T1).unwrap_err();
    assert_eq!(
        err.conflicts,
        vec![FieldConflict { field: ".spec.replicas".into(), manager: "a".into(), manager_label: "\"a\"".into() }]
    );
    assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas");
    assert_eq!(err.conflicts[0].cause_message(), "conflict with \"a\"");
}

#[test]
fn conflict_inside_a_keyed_item_names_the_item() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let mut other = deploy(3);
    other["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let err = apply_at(Some(&v1), &other, "b", false, T1).unwrap_err();
    let fields: Vec<&str> = err.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [".spec.template.spec.containers[name=\"nginx\"].image"]);
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let mut other = deploy(5);
    other["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let err = apply_at(Some(&v1), &other, "b", false, T1).unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn force_transfers_ownership() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let v2 = run(Some(&v1), &deploy(5), "b", true, T1);
    assert_eq!(v2["spec"]["replicas"], 5);
    assert!(!owns(&v2, "a", "Apply", "/f:spec/f:replicas"));
    assert!(owns(&v2, "b", "Apply", "/f:spec/f:replicas"));
    // a keeps the fields that did not conflict.
    assert!(owns(&v2, "a", "Apply", "/f:spec/f:template"));
    // And a's next apply with the old value now conflicts with b.
    let err = apply_at(Some(&v2), &deploy(3), "a", false, T2).unwrap_err();
    assert_eq!(err.conflicts[0].manager, "b");
}

#[test]
fn no_op_apply_returns_live_unchanged() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let v2 = run(Some(&v1), &deploy(3), "a", false, T1);
    assert_eq!(v2, v1);
    let v3 = run(Some(&v2), &deploy(3), "a", false, T2);
    assert_eq!(v3, v1);
    assert_eq!(entry(&v3, "a", "Apply").unwrap()["time"], T0);
}

#[test]
fn no_op_apply_over_server_metadata_is_still_a_no_op() {
    let mut live = run(None, &deploy(3), "a", false, T0);
    live["metadata"]["uid"] = json!("1234");
    live["metadata"]["resourceVersion"] = json!("42");
    live["metadata"]["generation"] = json!(1);
    live["metadata"]["creationTimestamp"] = json!(T0);
    // A client that sends back what it read (with a stale resourceVersion) changes nothing.
    let mut applied = deploy(3);
    applied["metadata"]["resourceVersion"] = json!("41");
    applied["metadata"]["uid"] = json!("1234");
    let out = run(Some(&live), &applied, "a", false, T1);
    assert_eq!(out, live);
    assert!(!owns(&out, "a", "Apply", "/f:metadata"));
}

#[test]
fn time_changes_only_when_the_field_set_changes() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let v2 = run(Some(&v1), &deploy(4), "a", false, T1);
    assert_eq!(entry(&v2, "a", "Apply").unwrap()["time"], T0);
    let mut more = deploy(4);
    more["spec"]["paused"] = json!(true);
    let v3 = run(Some(&v2), &more, "a", false, T2);
    assert_eq!(entry(&v3, "a", "Apply").unwrap()["time"], T2);
}

fn containers(names_images: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = names_images.iter().map(|(n, i)| json!({"name": n, "image": i})).collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": list}})
}

#[test]
fn two_managers_own_different_containers() {
    let v1 = run(None, &containers(&[("db", "mysql:8")]), "engine", false, T0);
    let v2 = run(Some(&v1), &containers(&[("sidecar", "logger:1")]), "injector", false, T1);
    let names: Vec<&str> =
        v2["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "sidecar"]);
    // The engine drops its container; the injector's stays.
    let v3 = run(Some(&v2), &containers(&[]), "engine", false, T2);
    assert_eq!(v3["spec"]["containers"], json!([{"name": "sidecar", "image": "logger:1"}]));
}

#[test]
fn dropped_item_stays_while_another_manager_owns_a_field_of_it() {
    let v1 = run(None, &containers(&[("db", "mysql:8")]), "engine", false, T0);
    let mut resources = containers(&[]);
    resources["spec"]["containers"] = json!([{"name": "db", "resources": {"limits": {"cpu": "1"}}}]);
    let v2 = run(Some(&v1), &resources, "tuner", false, T1);
    let v3 = run(Some(&v2), &containers(&[]), "engine", false, T2);
    // The image goes with the engine; the item and its key stay for the tuner.
    assert_eq!(v3["spec"]["containers"], json!([{"name": "db", "resources": {"limits": {"cpu": "1"}}}]));
}

#[test]
fn container_ports_are_keyed_by_port_and_protocol() {
    let mut a = containers(&[("db", "mysql:8")]);
    a["spec"]["containers"][0]["ports"] = json!([{"containerPort": 3306}]);
    let v1 = run(None, &a, "a", false, T0);
    let mut b = containers(&[]);
    b["spec"]["containers"] = json!([{"name": "db", "ports": [{"containerPort": 3306, "protocol": "TCP", "name": "mysql"}, {"containerPort": 33060}]}]);
    let v2 = run(Some(&v1), &b, "b", false, T1);
    assert_eq!(
        v2["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 3306, "protocol": "TCP", "name": "mysql"}, {"containerPort": 33060}])
    );
    assert!(owns(
        &v2,
        "b",
        "Apply",
        "/f:spec/f:containers/k:{\"name\":\"db\"}/f:ports/k:{\"containerPort\":3306,\"protocol\":\"TCP\"}/f:name"
    ));
}

#[test]
fn labels_are_owned_per_key() {
    let mut a = deploy(1);
    a["metadata"]["labels"] = json!({"app": "web"});
    let mut b =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "dba"}}});
    let v1 = run(None, &a, "a", false, T0);
    let v2 = run(Some(&v1), &b, "b", false, T1);
    assert_eq!(v2["metadata"]["labels"], json!({"app": "web", "team": "dba"}));
    // b changing its own label does not conflict with a; dropping it leaves a's.
    b["metadata"]["labels"]["team"] = json!("sre");
    let v3 = run(Some(&v2), &b, "b", false, T2);
    assert_eq!(v3["metadata"]["labels"], json!({"app": "web", "team": "sre"}));
    b["metadata"].as_object_mut().unwrap().remove("labels");
    let v4 = run(Some(&v3), &b, "b", false, T2);
    assert_eq!(v4["metadata"]["labels"], json!({"app": "web"}));
    assert!(entry(&v4, "b", "Apply").is_none(), "a manager that owns nothing has no entry");
}

#[test]
fn finalizers_are_a_set_per_manager() {
    let mut a = deploy(1);
    a["metadata"]["finalizers"] = json!(["a.io/x"]);
    let mut b =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": ["b.io/y"]}});
    let v1 = run(None, &a, "a", false, T0);
    let v2 = run(Some(&v1), &b, "b", false, T1);
    assert_eq!(v2["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
    b["metadata"]["finalizers"] = json!([]);
    let v3 = run(Some(&v2), &b, "b", false, T2);
    assert_eq!(v3["metadata"]["finalizers"], json!(["a.io/x"]));
}

#[test]
fn atomic_lists_and_selectors_are_one_field() {
    let mut a = deploy(1);
    a["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    a["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "x", "operator": "Exists"}]);
    let v1 = run(None, &a, "a", false, T0);
    assert!(owns(&v1, "a", "Apply", "/f:spec/f:selector"));
    assert!(!owns(&v1, "a", "Apply", "/f:spec/f:selector/f:matchLabels"));
    let mut b = a.clone();
    b["spec"]["selector"] = json!({"matchLabels": {"app": "web", "extra": "1"}});
    b["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "y", "operator": "Exists"}]);
    let err = apply_at(Some(&v1), &b, "b", false, T1).unwrap_err();
    let fields: Vec<&str> = err.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [".spec.selector", ".spec.template.spec.tolerations"]);
}

#[test]
fn status_conditions_are_keyed_by_type() {
    let status = |conds: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"conditions": conds}});
    let v1 = run(None, &status(json!([{"type": "Ready", "status": "False"}])), "kubelet", false, T0);
    let v2 = run(Some(&v1), &status(json!([{"type": "DbReady", "status": "True"}])), "engine", false, T1);
    assert_eq!(
        v2["status"]["conditions"],
        json!([{"type": "Ready", "status": "False"}, {"type": "DbReady", "status": "True"}])
    );
}

#[test]
fn nulls_in_the_applied_configuration_are_not_owned() {
    let mut a = deploy(1);
    a["spec"]["paused"] = Value::Null;
    let v1 = run(None, &a, "a", false, T0);
    assert!(v1["spec"].get("paused").is_none());
    assert!(!owns(&v1, "a", "Apply", "/f:spec/f:paused"));
}

#[test]
fn record_update_on_create_gives_everything_to_the_creator() {
    let out = record_update_at(None, &deploy(2), "kubectl-create", None, T0);
    let e = entry(&out, "kubectl-create", "Update").unwrap();
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["time"], T0);
    assert!(owns(&out, "kubectl-create", "Update", "/f:spec/f:replicas"));
    assert!(owns(&out, "kubectl-create", "Update", "/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"nginx\"}/."));
}

#[test]
fn record_update_takes_changed_fields_from_the_applier_and_apply_then_conflicts() {
    // The `kubectl scale` versus operator story.
    let v1 = run(None, &deploy(3), "engine", false, T0);
    let mut scaled = v1.clone();
    scaled["spec"]["replicas"] = json!(6);
    let v2 = record_update_at(Some(&v1), &scaled, "kubectl", Some("scale"), T1);
    assert!(!owns(&v2, "engine", "Apply", "/f:spec/f:replicas"));
    let e = entry(&v2, "kubectl", "Update").unwrap();
    assert_eq!(e["subresource"], "scale");
    assert_eq!(e["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let err = apply_at(Some(&v2), &deploy(3), "engine", false, T2).unwrap_err();
    assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas");
    // Applying the value kubectl set is fine and shares the field.
    let shared = run(Some(&v2), &deploy(6), "engine", false, T2);
    assert!(owns(&shared, "engine", "Apply", "/f:spec/f:replicas"));
    assert!(owns(&shared, "kubectl", "Update", "/f:spec/f:replicas"));
}

#[test]
fn record_update_drops_removed_fields_from_every_manager() {
    let mut a = deploy(3);
    a["metadata"]["labels"] = json!({"app": "web"});
    let v1 = run(None, &a, "engine", false, T0);
    let mut edited = v1.clone();
    edited["metadata"].as_object_mut().unwrap().remove("labels");
    let v2 = record_update_at(Some(&v1), &edited, "editor", None, T1);
    assert!(!owns(&v2, "engine", "Apply", "/f:metadata"));
    // The editor changed nothing that exists, so it gets no entry.
    assert!(entry(&v2, "editor", "Update").is_none());
}

#[test]
fn record_update_without_changes_keeps_managed_fields_as_stored() {
    let v1 = record_update_at(None, &deploy(2), "creator", None, T0);
    let mut put = v1.clone();
    // A client sending garbage managedFields on an unchanged object does not alter ownership.
    put["metadata"]["managedFields"] = json!([]);
    let v2 = record_update_at(Some(&v1), &put, "creator", None, T1);
    assert_eq!(v2, v1);
}

#[test]
fn record_update_is_per_subresource_and_api_version() {
    let v1 = record_update_at(None, &deploy(2), "engine", None, T0);
    let mut with_status = v1.clone();
    with_status["status"] = json!({"readyReplicas": 2});
    let v2 = record_update_at(Some(&v1), &with_status, "engine", Some("status"), T1);
    let entries = v2["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["subresource"], "status");
    assert_eq!(entries[1]["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}}}));
    assert_eq!(entries[0]["time"], T0);
}

#[test]
fn an_updater_conflicts_with_a_later_applier_of_its_fields() {
    let created = record_update_at(None, &deploy(2), "kubectl-client-side-apply", None, T0);
    let err = apply_at(Some(&created), &deploy(5), "kubectl", false, T1).unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(err.conflicts[0].manager, "kubectl-client-side-apply");
}

#[test]
fn public_entry_points_stamp_the_current_time() {
    let out = apply(None, &deploy(1), "a", false).unwrap();
    let time = entry(&out, "a", "Apply").unwrap()["time"].as_str().unwrap().to_string();
    assert!(chrono::DateTime::parse_from_rfc3339(&time).is_ok(), "{time}");
    let updated = record_update(None, &deploy(1), "b", None);
    assert!(entry(&updated, "b", "Update").is_some());
}

#[test]
fn status_apply_keeps_its_own_entry_and_ignores_everything_but_status() {
    let v1 = run(None, &deploy(3), "engine", false, T0);
    // controller-rs style: apiVersion, kind and status only; a stray spec change is ignored on /status.
    let status =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 9}, "status": {"readyReplicas": 3}});
    let v2 = apply_in(Some(&v1), &status, "engine", false, Some("status"), T1).unwrap();
    assert_eq!(v2["spec"], v1["spec"]);
    assert_eq!(v2["status"], json!({"readyReplicas": 3}));
    let entries = v2["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["subresource"], "status");
    assert_eq!(entries[1]["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}}}));
    // The main apply does not remove the status the status entry owns, and a repeat status apply is a no-op.
    let v3 = run(Some(&v2), &deploy(3), "engine", false, T2);
    assert_eq!(v3, v2);
    let v4 = apply_in(Some(&v3), &status, "engine", false, Some("status"), T2).unwrap();
    assert_eq!(v4, v3);
}

/// A StatefulSet as the engine builds one, with every list shape apply knows.
fn engine_statefulset() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "cluster1-pxc",
            "namespace": "db",
            "labels": {"app.kubernetes.io/instance": "cluster1", "app.kubernetes.io/component": "pxc"},
            "ownerReferences": [{"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster", "name": "cluster1", "uid": "u-1", "controller": true}]
        },
        "spec": {
            "replicas": 3,
            "serviceName": "cluster1-pxc",
            "selector": {"matchLabels": {"app.kubernetes.io/instance": "cluster1"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/instance": "cluster1"}},
                "spec": {
                    "containers": [{
                        "name": "pxc",
                        "image": "percona/percona-xtradb-cluster:8.0.36",
                        "ports": [{"containerPort": 3306, "name": "mysql"}, {"containerPort": 4567, "name": "write-set"}],
                        "env": [{"name": "CLUSTER_NAME", "value": "cluster1"}],
                        "envFrom": [{"secretRef": {"name": "cluster1-env"}}],
                        "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/mysql"}]
                    }],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cluster1-pxc"}}],
                    "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]
                }
            },
            "volumeClaimTemplates": [{"metadata": {"name": "datadir"}, "spec": {"resources": {"requests": {"storage": "6Gi"}}}}]
        }
    })
}

#[test]
fn engine_reapply_after_defaulting_and_status_updates_is_a_no_op() {
    let created = run(None, &engine_statefulset(), "dbdeck", false, T0);
    // The server defaults fields nobody applied and a controller writes status through /status.
    let mut defaulted = created.clone();
    defaulted["metadata"]["uid"] = json!("sts-uid");
    defaulted["metadata"]["resourceVersion"] = json!("12");
    let container = &mut defaulted["spec"]["template"]["spec"]["containers"][0];
    container["imagePullPolicy"] = json!("IfNotPresent");
    for port in container["ports"].as_array_mut().unwrap() {
        port["protocol"] = json!("TCP");
    }
    let mut with_status = defaulted.clone();
    with_status["status"] = json!({"replicas": 3, "readyReplicas": 2});
    let live = record_update_at(Some(&defaulted), &with_status, "statefulset-controller", Some("status"), T1);

    let again = run(Some(&live), &engine_statefulset(), "dbdeck", false, T2);
    assert_eq!(again, live, "re-applying the same configuration must change nothing");

    // A real change touches only the changed field and keeps the defaulted ones.
    let mut bumped = engine_statefulset();
    bumped["spec"]["template"]["spec"]["containers"][0]["image"] = json!("percona/percona-xtradb-cluster:8.0.37");
    let changed = run(Some(&live), &bumped, "dbdeck", false, T2);
    let container = &changed["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "percona/percona-xtradb-cluster:8.0.37");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(changed["status"], live["status"]);
    assert_eq!(changed["metadata"]["managedFields"], live["metadata"]["managedFields"]);
}

#[test]
fn owner_references_are_keyed_by_uid() {
    let obj = run(None, &engine_statefulset(), "dbdeck", false, T0);
    assert!(owns(&obj, "dbdeck", "Apply", "/f:metadata/f:ownerReferences/k:{\"uid\":\"u-1\"}/f:controller"));
    assert!(owns(&obj, "dbdeck", "Apply", "/f:spec/f:volumeClaimTemplates"));
    assert!(!owns(&obj, "dbdeck", "Apply", "/f:spec/f:volumeClaimTemplates/k:{\"name\":\"datadir\"}"));
}

#[test]
fn changing_a_shared_field_conflicts_with_the_other_owner() {
    let v1 = run(None, &deploy(3), "a", false, T0);
    let v2 = run(Some(&v1), &deploy(3), "b", false, T1);
    let err = apply_at(Some(&v2), &deploy(4), "a", false, T2).unwrap_err();
    assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"b\": .spec.replicas");
}

#[test]
fn an_applier_conflicts_with_its_own_update_entry() {
    // Apply and Update are separate managers even under one name, as on a real server.
    let created = record_update_at(None, &deploy(2), "dbdeck", None, T0);
    let err = apply_at(Some(&created), &deploy(5), "dbdeck", false, T1).unwrap_err();
    assert_eq!(err.conflicts[0].manager_label, "\"dbdeck\" using apps/v1");
}
