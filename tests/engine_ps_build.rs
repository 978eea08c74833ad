//! The PS builders: layout fidelity against Percona's e2e asserts, snapshots of the examples, and
//! the behaviours that decide which objects exist (names, labels, pause, expose, router vs HAProxy).

use std::collections::BTreeMap;
use std::path::Path;

use dbdeck::api::ps::PerconaServerMySQL;
use dbdeck::engine::ps::{BuildError, PsBuildInputs, PsDesired, SYSTEM_USERS, TlsMaterial, build};
use serde_json::Value;

const UID: &str = "0f7c1c2e-5d1a-4d3a-9bbb-2f9a1f4b7e01";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load_cr(rel: &str) -> PerconaServerMySQL {
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    let mut cr: PerconaServerMySQL = serde_yaml::from_str(&text).unwrap();
    cr.metadata.namespace.get_or_insert_with(|| "ps-test".to_string());
    cr.metadata.uid = Some(UID.to_string());
    cr
}

/// Fixed passwords and certificate text: the build must copy them, never invent its own.
fn inputs() -> PsBuildInputs {
    PsBuildInputs {
        users_secret: None,
        tls_secret: None,
        generated_passwords: SYSTEM_USERS.iter().map(|u| (u.to_string(), format!("{u}-password"))).collect(),
        generated_tls: Some(TlsMaterial {
            ca_crt: "test CA certificate".into(),
            tls_crt: "test server certificate".into(),
            tls_key: "test server key".into(),
        }),
    }
}

fn built(rel: &str) -> PsDesired {
    build(&load_cr(rel), &inputs()).unwrap()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn get<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(objects, kind, name).unwrap_or_else(|| panic!("no {kind}/{name} among {:?}", names(objects)))
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Subset matching, with kuttl's rules: every key of `expected` must be in `actual` with a matching
// value; lists must have the same length and match element by element.

fn is_subset(expected: &Value, actual: &Value) -> Result<(), String> {
    subset_at(expected, actual, String::new())
}

fn subset_at(expected: &Value, actual: &Value, path: String) -> Result<(), String> {
    let here = |p: &str| if p.is_empty() { "(root)".to_string() } else { p.to_string() };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match a.get(k) {
                    Some(av) => subset_at(ev, av, p)?,
                    None => return Err(format!("{p}: expected {ev}, but it is missing")),
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{}: expected {} items, got {}: {actual}", here(&path), e.len(), a.len()));
            }
            e.iter().zip(a).enumerate().try_for_each(|(i, (ev, av))| subset_at(ev, av, format!("{path}[{i}]")))
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{}: expected {e}, got {a}", here(&path))),
    }
}

#[test]
fn subset_matcher_reports_the_path_of_a_mismatch() {
    let actual = serde_json::json!({"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}], "x": 1}});
    assert!(is_subset(&serde_json::json!({"spec": {"ports": [{"name": "a"}, {"port": 2}]}}), &actual).is_ok());
    let err = is_subset(&serde_json::json!({"spec": {"ports": [{"name": "a"}, {"port": 3}]}}), &actual).unwrap_err();
    assert_eq!(err, "spec.ports[1].port: expected 3, got 2");
    let err = is_subset(&serde_json::json!({"spec": {"ports": [{}]}}), &actual).unwrap_err();
    assert!(err.starts_with("spec.ports: expected 1 items, got 2"), "{err}");
    let err = is_subset(&serde_json::json!({"spec": {"y": true}}), &actual).unwrap_err();
    assert_eq!(err, "spec.y: expected true, but it is missing");
}

/// Every partial object of an assert fixture must be a subset of the built object of the same kind
/// and name.
fn check_scenario(scenario: &str) {
    let desired = built(&format!("tests/fixtures/ps/{scenario}.cr.yaml"));
    let objects = desired.to_values();
    let text = std::fs::read_to_string(root().join(format!("tests/fixtures/ps/{scenario}.assert.yaml"))).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let expected: Value = serde::Deserialize::deserialize(doc).unwrap();
        let kind = expected["kind"].as_str().unwrap();
        let name = expected["metadata"]["name"].as_str().unwrap();
        checked += 1;
        match find(&objects, kind, name) {
            None => failures.push(format!("{kind}/{name}: not built (built: {:?})", names(&objects))),
            Some(actual) => {
                if let Err(e) = is_subset(&expected, actual) {
                    failures.push(format!("{kind}/{name}: {e}"));
                }
            }
        }
    }
    assert!(checked >= 4, "{scenario}: only {checked} asserted objects");
    assert!(failures.is_empty(), "{scenario}:\n{}", failures.join("\n"));
}

#[test]
fn percona_init_deploy_async_asserts_hold() {
    check_scenario("init-deploy");
}

#[test]
fn percona_gr_init_deploy_asserts_hold() {
    check_scenario("gr-init-deploy");
}

#[test]
fn percona_async_expose_asserts_hold() {
    check_scenario("async-expose");
}

// ---------------------------------------------------------------------------------------------
// Snapshots of everything built for the examples we ship.

#[test]
fn snapshot_ps_minimal() {
    insta::assert_yaml_snapshot!("ps_minimal", built("deploy/examples/ps-minimal.yaml").to_values());
}

#[test]
fn snapshot_ps_async_minimal() {
    insta::assert_yaml_snapshot!("ps_async_minimal", built("deploy/examples/ps-async-minimal.yaml").to_values());
}

#[test]
fn snapshot_ps_full() {
    insta::assert_yaml_snapshot!("ps_full", built("deploy/examples/ps-full.yaml").to_values());
}

// ---------------------------------------------------------------------------------------------
// Which objects exist, and how they are named and labelled.

#[test]
fn async_cluster_has_percona_object_names() {
    let d = built("tests/fixtures/ps/init-deploy.cr.yaml");
    let n = d.names();
    for expected in [
        "Secret/test-secrets",
        "Secret/internal-init-deploy",
        "Secret/init-deploy-ssl",
        "ConfigMap/auto-init-deploy-mysql",
        "ConfigMap/init-deploy-orc",
        "Service/init-deploy-mysql",
        "Service/init-deploy-mysql-unready",
        "Service/init-deploy-mysql-primary",
        "Service/init-deploy-mysql-proxy",
        "Service/init-deploy-orc",
        "Service/init-deploy-orc-0",
        "Service/init-deploy-orc-2",
        "Service/init-deploy-haproxy",
        "ServiceAccount/percona-server-mysql-operator-orchestrator",
        "Role/percona-server-mysql-operator-orchestrator",
        "RoleBinding/percona-server-mysql-operator-orchestrator",
        "StatefulSet/init-deploy-mysql",
        "StatefulSet/init-deploy-orc",
        "StatefulSet/init-deploy-haproxy",
        "PodDisruptionBudget/init-deploy-mysql",
        "PodDisruptionBudget/init-deploy-orc",
        "PodDisruptionBudget/init-deploy-haproxy",
    ] {
        assert!(n.contains(&expected.to_string()), "missing {expected} in {n:?}");
    }
    assert!(!n.iter().any(|x| x.contains("router")), "{n:?}");
    assert!(d.deployments.is_empty());
    // Per-pod MySQL Services only with mysql.expose.enabled.
    assert!(!n.contains(&"Service/init-deploy-mysql-0".to_string()));
}

#[test]
fn labels_and_owner_references_follow_percona() {
    let objects = built("tests/fixtures/ps/init-deploy.cr.yaml").to_values();
    for (kind, name, app, component) in [
        ("StatefulSet", "init-deploy-mysql", "mysql", "database"),
        ("StatefulSet", "init-deploy-orc", "orchestrator", "orchestrator"),
        ("StatefulSet", "init-deploy-haproxy", "haproxy", "proxy"),
    ] {
        let o = get(&objects, kind, name);
        let labels = &o["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], app);
        assert_eq!(labels["app.kubernetes.io/instance"], "init-deploy");
        assert_eq!(labels["app.kubernetes.io/part-of"], "percona-server");
        assert_eq!(labels["app.kubernetes.io/component"], component);
        assert_eq!(labels["app.kubernetes.io/managed-by"], "percona-server-mysql-operator");
        assert_eq!(o["spec"]["selector"]["matchLabels"], *labels);
        assert_eq!(o["spec"]["template"]["metadata"]["labels"], *labels);
        // The primary label belongs to the engine, not to templates.
        assert!(o["spec"]["template"]["metadata"]["labels"].get("mysql.percona.com/primary").is_none());
        let owner = &o["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], UID);
        assert_eq!(owner["controller"], true);
    }
    // The primary Service selects the label the engine sets.
    let primary = get(&objects, "Service", "init-deploy-mysql-primary");
    assert_eq!(primary["spec"]["selector"]["mysql.percona.com/primary"], "true");
    // Passwords outlive the CR: the user and TLS Secrets carry no owner reference.
    assert!(get(&objects, "Secret", "test-secrets")["metadata"].get("ownerReferences").is_none());
    assert!(get(&objects, "Secret", "init-deploy-ssl")["metadata"].get("ownerReferences").is_none());
    assert!(get(&objects, "Secret", "internal-init-deploy")["metadata"].get("ownerReferences").is_some());
}

#[test]
fn global_and_component_labels_do_not_override_selectors() {
    let mut cr = load_cr("deploy/examples/ps-full.yaml");
    let mysql = cr.spec.mysql.as_mut().unwrap();
    mysql.labels.get_or_insert_default().insert("app.kubernetes.io/name".into(), "hijack".into());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let sts = get(&objects, "StatefulSet", "payments-mysql");
    assert_eq!(sts["metadata"]["labels"]["app.kubernetes.io/name"], "mysql");
    assert_eq!(sts["metadata"]["labels"]["team"], "payments");
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"]["tier"], "data");
    assert_eq!(sts["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"], "true");
    assert_eq!(sts["spec"]["selector"]["matchLabels"].as_object().unwrap().len(), 5);
}

#[test]
fn mysql_pod_layout() {
    let objects = built("tests/fixtures/ps/init-deploy.cr.yaml").to_values();
    let sts = get(&objects, "StatefulSet", "init-deploy-mysql");
    let pod = &sts["spec"]["template"]["spec"];
    let containers: Vec<&str> =
        pod["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(containers, ["mysql", "xtrabackup", "pt-heartbeat"]);
    assert_eq!(pod["initContainers"][0]["name"], "mysql-init");
    assert_eq!(pod["initContainers"][0]["volumeMounts"][0]["mountPath"], "/opt/percona");
    let ports: Vec<i64> = pod["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [3306, 33062, 33060], "async has no GR port");
    assert_eq!(pod["containers"][1]["ports"][0]["containerPort"], 6450);
    assert_eq!(pod["containers"][0]["readinessProbe"]["exec"]["command"][1], "readiness");
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "datadir");
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete", "SmartUpdate is driven by the engine");
    let annotations = &sts["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["percona.com/configuration-hash"].as_str().unwrap().len(), 64);
    assert_eq!(annotations["percona.com/last-applied-tls"].as_str().unwrap().len(), 64);

    // Group replication adds the GR port and drops pt-heartbeat.
    let gr = built("tests/fixtures/ps/gr-init-deploy.cr.yaml").to_values();
    let pod = &get(&gr, "StatefulSet", "gr-init-deploy-mysql")["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["ports"][3]["containerPort"], 33061);
    assert_eq!(pod["containers"].as_array().unwrap().len(), 2);
}

#[test]
fn changed_configuration_changes_the_config_hash_only_for_mysql() {
    let cr = load_cr("tests/fixtures/ps/init-deploy.cr.yaml");
    let a = build(&cr, &inputs()).unwrap().to_values();
    let mut changed = cr.clone();
    changed.spec.mysql.as_mut().unwrap().configuration = Some("[mysqld]\nmax_connections=250\n".into());
    let b = build(&changed, &inputs()).unwrap().to_values();
    let hash = |o: &[Value], n: &str| {
        get(o, "StatefulSet", n)["spec"]["template"]["metadata"]["annotations"]["percona.com/configuration-hash"]
            .clone()
    };
    assert_ne!(hash(&a, "init-deploy-mysql"), hash(&b, "init-deploy-mysql"));
    assert_eq!(hash(&a, "init-deploy-haproxy"), hash(&b, "init-deploy-haproxy"));
    let custom = get(&b, "ConfigMap", "init-deploy-mysql");
    assert_eq!(custom["data"]["my.cnf"], "[mysqld]\nmax_connections=250\n");
    // The user's max_connections is left alone by auto-tuning.
    let auto = get(&b, "ConfigMap", "auto-init-deploy-mysql")["data"]["my.cnf"].as_str().unwrap();
    assert!(!auto.contains("max_connections"), "{auto}");
    assert!(auto.contains("innodb_buffer_pool_size="), "{auto}");
    // Build is pure: same input, same output.
    assert_eq!(a, build(&cr, &inputs()).unwrap().to_values());
}

#[test]
fn autotune_follows_percona_arithmetic() {
    // 8Gi limit (the default): pool 6Gi in 8 chunks of 768Mi; 8Gi / 12582880 connections.
    let objects = built("tests/fixtures/ps/init-deploy.cr.yaml").to_values();
    let auto = get(&objects, "ConfigMap", "auto-init-deploy-mysql")["data"]["my.cnf"].as_str().unwrap();
    assert_eq!(
        auto,
        "\ninnodb_buffer_pool_size=6442450944\ninnodb_buffer_pool_chunk_size=805306368\nmax_connections=682"
    );

    // 2Gi request only: 75% would leave under 1GB, so half; one 128Mi chunk instance.
    let mut cr = load_cr("tests/fixtures/ps/gr-init-deploy.cr.yaml");
    cr.spec.mysql.as_mut().unwrap().resources =
        Some(serde_json::from_value(serde_json::json!({"requests": {"memory": "2Gi"}})).unwrap());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let auto = get(&objects, "ConfigMap", "auto-gr-init-deploy-mysql")["data"]["my.cnf"].as_str().unwrap();
    assert_eq!(
        auto,
        "\ninnodb_buffer_pool_size=1073741824\ninnodb_buffer_pool_chunk_size=134217728\nmax_connections=170"
    );

    // A single MySQL without Orchestrator must accept writes, even with no memory given.
    cr.spec.mysql.as_mut().unwrap().size = Some(1);
    cr.spec.mysql.as_mut().unwrap().resources = Some(Default::default());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let auto = get(&objects, "ConfigMap", "auto-gr-init-deploy-mysql")["data"]["my.cnf"].as_str().unwrap();
    assert_eq!(auto, "\nsuper_read_only=0\nread_only=0");
}

#[test]
fn pause_scales_every_component_to_zero_and_keeps_services() {
    for fixture in ["init-deploy", "gr-init-deploy"] {
        let mut cr = load_cr(&format!("tests/fixtures/ps/{fixture}.cr.yaml"));
        let running = build(&cr, &inputs()).unwrap();
        cr.spec.pause = Some(true);
        let paused = build(&cr, &inputs()).unwrap();
        for sts in &paused.stateful_sets {
            assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(0), "{:?}", sts.metadata.name);
        }
        for d in &paused.deployments {
            assert_eq!(d.spec.as_ref().unwrap().replicas, Some(0), "{:?}", d.metadata.name);
        }
        assert_eq!(running.names(), paused.names(), "pausing must not drop objects");
        let orc = paused.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("init-deploy-orc"));
        if let Some(orc) = orc {
            assert!(
                orc.data.as_ref().unwrap()["orchestrator.conf.json"].contains("init-deploy-orc-2.ps-test.svc:10008")
            );
        }
    }
}

#[test]
fn expose_creates_per_pod_services_with_the_chosen_type() {
    let mut cr = load_cr("tests/fixtures/ps/init-deploy.cr.yaml");
    let mysql = cr.spec.mysql.as_mut().unwrap();
    mysql.expose = Some(
        serde_json::from_value(serde_json::json!({
            "enabled": true, "type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"],
            "externalTrafficPolicy": "Local", "annotations": {"lb": "yes"}, "labels": {"rack": "r1"}
        }))
        .unwrap(),
    );
    mysql.expose_primary = Some(serde_json::from_value(serde_json::json!({"enabled": false})).unwrap());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    for i in 0..3 {
        let svc = get(&objects, "Service", &format!("init-deploy-mysql-{i}"));
        assert_eq!(svc["spec"]["type"], "LoadBalancer");
        assert_eq!(svc["spec"]["loadBalancerSourceRanges"][0], "10.0.0.0/8");
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Local");
        assert_eq!(svc["spec"]["selector"]["statefulset.kubernetes.io/pod-name"], format!("init-deploy-mysql-{i}"));
        assert_eq!(svc["metadata"]["labels"]["percona.com/exposed"], "true");
        assert_eq!(svc["metadata"]["labels"]["rack"], "r1");
        assert_eq!(svc["metadata"]["annotations"]["lb"], "yes");
    }
    assert!(find(&objects, "Service", "init-deploy-mysql-3").is_none());
    assert!(find(&objects, "Service", "init-deploy-mysql-primary").is_none());

    // A ClusterIP exposure drops the LoadBalancer-only fields.
    cr.spec.mysql.as_mut().unwrap().expose.as_mut().unwrap().type_ = Some("ClusterIP".into());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let svc = get(&objects, "Service", "init-deploy-mysql-0");
    assert!(svc["spec"].get("loadBalancerSourceRanges").is_none());
    assert!(svc["spec"].get("externalTrafficPolicy").is_none());
}

#[test]
fn group_replication_uses_router_or_haproxy_never_orchestrator() {
    let router = built("tests/fixtures/ps/gr-init-deploy.cr.yaml");
    let n = router.names();
    assert!(n.contains(&"Deployment/gr-init-deploy-router".to_string()));
    assert!(n.contains(&"Service/gr-init-deploy-router".to_string()));
    assert!(n.contains(&"PodDisruptionBudget/gr-init-deploy-router".to_string()));
    assert!(n.contains(&"Service/gr-init-deploy-mysql-proxy".to_string()));
    assert!(router.service_accounts.is_empty() && router.roles.is_empty());
    assert!(!n.iter().any(|x| x.contains("haproxy") || x.contains("-orc")), "{n:?}");
    let deploy = &router.deployments[0];
    let spec = deploy.spec.as_ref().unwrap();
    assert_eq!(
        spec.strategy.as_ref().unwrap().rolling_update.as_ref().unwrap().max_surge,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0))
    );

    let mut cr = load_cr("tests/fixtures/ps/gr-init-deploy.cr.yaml");
    let proxy = cr.spec.proxy.as_mut().unwrap();
    proxy.router.as_mut().unwrap().enabled = Some(false);
    proxy.haproxy.as_mut().unwrap().enabled = Some(true);
    // Orchestrator is ignored with group replication even when switched on.
    cr.spec.orchestrator = Some(serde_json::from_value(serde_json::json!({"enabled": true})).unwrap());
    let d = build(&cr, &inputs()).unwrap();
    let n = d.names();
    assert!(n.contains(&"StatefulSet/gr-init-deploy-haproxy".to_string()));
    assert!(n.contains(&"Service/gr-init-deploy-haproxy".to_string()));
    assert!(!n.iter().any(|x| x.contains("router") || x.contains("-orc")), "{n:?}");
    let values = d.to_values();
    let haproxy = get(&values, "StatefulSet", "gr-init-deploy-haproxy");
    assert_eq!(haproxy["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "group-replication");
}

#[test]
fn existing_secrets_are_kept_and_missing_users_filled() {
    let cr = load_cr("tests/fixtures/ps/init-deploy.cr.yaml");
    let mut existing: BTreeMap<String, String> =
        SYSTEM_USERS.iter().map(|u| (u.to_string(), format!("old-{u}"))).collect();
    let mut inp = inputs();
    inp.users_secret = Some(existing.clone());
    inp.tls_secret = Some([("ca.crt".to_string(), "x".to_string())].into_iter().collect());
    let d = build(&cr, &inp).unwrap();
    let n = d.names();
    assert!(!n.contains(&"Secret/test-secrets".to_string()), "present user Secret is left alone: {n:?}");
    assert!(!n.contains(&"Secret/init-deploy-ssl".to_string()));
    let internal = d.secrets.iter().find(|s| s.metadata.name.as_deref() == Some("internal-init-deploy")).unwrap();
    assert_eq!(internal.data.as_ref().unwrap()["root"].0, b"old-root");

    // A user Secret lacking a system user is completed with the generated password.
    existing.remove("clusterset");
    inp.users_secret = Some(existing);
    let d = build(&cr, &inp).unwrap();
    let users = d.secrets.iter().find(|s| s.metadata.name.as_deref() == Some("test-secrets")).unwrap();
    let data = users.data.as_ref().unwrap();
    assert_eq!(data["clusterset"].0, b"clusterset-password");
    assert_eq!(data["root"].0, b"old-root");
}

#[test]
fn errors_name_the_cluster_and_the_field() {
    let cr = load_cr("tests/fixtures/ps/init-deploy.cr.yaml");
    let mut inp = inputs();
    inp.generated_passwords.remove("monitor");
    let err = build(&cr, &inp).unwrap_err();
    assert_eq!(
        err,
        BuildError::MissingPassword {
            cluster: "init-deploy".into(),
            secret: "test-secrets".into(),
            key: "monitor".into()
        }
    );

    let mut inp = inputs();
    inp.generated_tls = None;
    assert!(build(&cr, &inp).unwrap_err().to_string().contains("init-deploy-ssl"));

    let mut bad = cr.clone();
    bad.spec.orchestrator.as_mut().unwrap().configuration = Some("[1, 2]".into());
    let msg = build(&bad, &inputs()).unwrap_err().to_string();
    assert!(msg.contains("spec.orchestrator.configuration") && msg.contains("an array"), "{msg}");

    let mut bad = cr.clone();
    bad.spec.mysql.as_mut().unwrap().sidecars = Some(vec![serde_json::json!({"image": 5})]);
    let msg = build(&bad, &inputs()).unwrap_err().to_string();
    assert!(msg.contains("spec.mysql.sidecars[0]"), "{msg}");

    let mut bad = cr.clone();
    bad.metadata.uid = None;
    assert!(build(&bad, &inputs()).unwrap_err().to_string().contains("metadata.uid"));
}

#[test]
fn haproxy_pod_layout() {
    let mut cr = load_cr("tests/fixtures/ps/init-deploy.cr.yaml");
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let pod = &get(&objects, "StatefulSet", "init-deploy-haproxy")["spec"]["template"]["spec"];
    let volumes: Vec<&str> = pod["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(volumes, ["bin", "haproxy-config", "users", "tls", "config", "internal-config"]);
    assert_eq!(pod["volumes"][5]["configMap"]["name"], "internal-haproxy-config-init-deploy");
    assert_eq!(pod["containers"][0]["readinessProbe"]["exec"]["command"][0], "/opt/percona/haproxy_readiness_check.sh");
    assert_eq!(pod["containers"][0]["readinessProbe"]["initialDelaySeconds"], 15);
    assert_eq!(pod["containers"][1]["name"], "mysql-monit");
    assert_eq!(pod["containers"][1]["env"][0]["value"], "init-deploy-mysql-proxy");
    assert!(pod["containers"][1].get("resources").is_none(), "mysql-monit has no resources unless asked");

    cr.spec.proxy.as_mut().unwrap().haproxy.as_mut().unwrap().sidecar_resources =
        Some(serde_json::from_value(serde_json::json!({"mysql-monit": {"requests": {"cpu": "50m"}}})).unwrap());
    let objects = build(&cr, &inputs()).unwrap().to_values();
    let monit = &get(&objects, "StatefulSet", "init-deploy-haproxy")["spec"]["template"]["spec"]["containers"][1];
    assert_eq!(monit["resources"]["requests"]["cpu"], "50m");
}
