//! The pure PXC build: layout fidelity against expectations derived from Percona's e2e compare files,
//! snapshots of our example CRs, and the behaviours the build decides (pause, update strategy,
//! secrets and TLS only when absent, autotune, per-pod services, determinism).

use std::collections::BTreeMap;

use dbdeck::api::pxc::PerconaXtraDBCluster;
use dbdeck::engine::pxc::{BuildError, BuildInputs, Desired, TlsBundle, USERS, build};
use serde_json::Value;

#[path = "support/layout.rs"]
mod layout;
use layout::{compare, yaml_docs};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pxc");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples");

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn cr_from(path: &str) -> PerconaXtraDBCluster {
    let mut cr: PerconaXtraDBCluster = serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    cr.metadata.namespace.get_or_insert_with(|| "default".into());
    cr.metadata.uid.get_or_insert_with(|| "11111111-2222-3333-4444-555555555555".into());
    cr
}

/// Fixed stand-ins for what the caller generates, so outputs are reproducible.
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

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objs.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn assert_layout(cr_file: &str, expected_file: &str) {
    let cr = cr_from(&format!("{FIXTURES}/{cr_file}"));
    assert_layout_of(&cr, yaml_docs(&read(&format!("{FIXTURES}/{expected_file}"))), expected_file);
}

fn assert_layout_of(cr: &PerconaXtraDBCluster, expected: Vec<Value>, expected_file: &str) {
    let desired = build(cr, &inputs()).unwrap();
    let got = values(&desired);
    let mut report = Vec::new();
    for want in expected {
        let kind = want["kind"].as_str().unwrap();
        let name = want["metadata"]["name"].as_str().unwrap();
        match find(&got, kind, name) {
            None => report.push(format!("{kind} {name}: not built")),
            Some(g) => {
                let mut diffs = Vec::new();
                compare(&want, g, "", &mut diffs);
                report.extend(diffs.into_iter().map(|d| format!("{kind} {name}{d}")));
            }
        }
    }
    assert!(report.is_empty(), "{} differences from {expected_file}:\n{}", report.len(), report.join("\n"));
}

#[test]
fn cluster1_matches_percona_layout() {
    assert_layout("input-cr.yaml", "expected-cluster1.yaml");
}

#[test]
fn minimal_cluster_matches_percona_layout() {
    assert_layout("input-cr-minimal.yaml", "expected-minimal-cluster.yaml");
}

#[test]
fn openshift_cluster1_matches_percona_layout() {
    // statefulset_cluster1-pxc-k127-oc.yml differs from the plain one only in the pod security
    // context: OpenShift assigns the fsGroup itself.
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.platform = Some("openshift".into());
    let mut expected = yaml_docs(&read(&format!("{FIXTURES}/expected-cluster1.yaml")));
    expected[0]["spec"]["template"]["spec"]["securityContext"] = serde_json::json!({"supplementalGroups": [1001]});
    assert_layout_of(&cr, expected.clone(), "expected-cluster1.yaml (OpenShift)");
    let got = build(&cr, &inputs()).unwrap();
    let ctx =
        got.stateful_sets[0].spec.as_ref().unwrap().template.spec.as_ref().unwrap().security_context.clone().unwrap();
    assert_eq!(ctx.fs_group, None, "no fsGroup on OpenShift");
}

#[test]
fn the_comparison_reports_a_changed_field() {
    // Guards the harness itself: a wrong port must surface as a readable difference.
    let want = serde_json::json!({"spec": {"ports": [{"name": "mysql", "port": 3306}]}});
    let got = serde_json::json!({"spec": {"ports": [{"name": "mysql", "port": 3307}], "extra": 1}});
    let mut diffs = Vec::new();
    compare(&want, &got, "", &mut diffs);
    assert_eq!(diffs, [".spec.ports[0:mysql].port: got 3307, want 3306"]);
}

#[test]
fn cluster1_object_set() {
    let d = build(&cr_from(&format!("{FIXTURES}/input-cr.yaml")), &inputs()).unwrap();
    let names: Vec<String> = d.names().into_iter().map(|(k, n)| format!("{k}/{n}")).collect();
    assert_eq!(
        names,
        [
            "StatefulSet/cluster1-pxc",
            "StatefulSet/cluster1-haproxy",
            "Service/cluster1-pxc",
            "Service/cluster1-pxc-unready",
            "Service/cluster1-haproxy",
            "Service/cluster1-haproxy-replicas",
            "Secret/cluster1-secrets",
            "Secret/internal-cluster1",
            "Secret/cluster1-ssl",
            "Secret/cluster1-ssl-internal",
            "ConfigMap/auto-cluster1-pxc",
            "PodDisruptionBudget/cluster1-pxc",
            "PodDisruptionBudget/cluster1-haproxy",
        ]
    );
    // Both pxc Services are headless.
    for s in &d.services[..2] {
        assert_eq!(s.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("None"));
    }
    // Every object carries the controller reference to the CR except the user and TLS Secrets, which
    // outlive it unless a finalizer removes them.
    for v in values(&d) {
        let name = v["metadata"]["name"].as_str().unwrap().to_string();
        let owned = v["metadata"]["ownerReferences"][0]["uid"] == "0b7c3a52-5c1e-4d0e-9a51-2f3c0c6a7e11";
        let survives = ["cluster1-secrets", "cluster1-ssl", "cluster1-ssl-internal"].contains(&name.as_str());
        assert_eq!(owned, !survives, "{name}");
    }
}

#[test]
fn autotune_follows_the_memory_setting() {
    let d = build(&cr_from(&format!("{FIXTURES}/input-cr.yaml")), &inputs()).unwrap();
    let auto = d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("auto-cluster1-pxc")).unwrap();
    // 1G request: half of it rounded up to 128 MiB chunks, one connection per ~12 MiB.
    assert_eq!(
        auto.data.as_ref().unwrap()["auto-config.cnf"],
        "[mysqld]\ninnodb_buffer_pool_size = 536870912\nmax_connections = 79\n"
    );
    // A limit wins over the request; a configured key is left to the user; the template is rendered.
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    let pxc = cr.spec.pxc.as_mut().unwrap();
    pxc.resources.as_mut().unwrap().limits = Some(BTreeMap::from([(
        "memory".into(),
        k8s_openapi::apimachinery::pkg::api::resource::Quantity("4Gi".into()),
    )]));
    pxc.configuration =
        Some("[mysqld]\nmax_connections=500\ninnodb_log_buffer_size={{containerMemoryLimit / 64}}\n".into());
    let d = build(&cr, &inputs()).unwrap();
    let cm =
        |n: &str| d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some(n)).unwrap().data.clone().unwrap();
    assert_eq!(cm("cluster1-pxc")["init.cnf"], "[mysqld]\nmax_connections=500\ninnodb_log_buffer_size=67108864\n");
    let auto = &cm("auto-cluster1-pxc")["auto-config.cnf"];
    // 4Gi: three quarters, in eight chunks; Percona's alignment adds a whole MiB to an aligned chunk.
    assert!(auto.contains("innodb_buffer_pool_chunk_size = 403701760\n"), "{auto}");
    assert!(auto.contains("innodb_buffer_pool_size = 3229614080\n"), "{auto}");
    assert!(!auto.contains("max_connections"), "{auto}");
    // The configuration hash on the pod template moves with the configuration.
    let hash = |d: &Desired| {
        d.stateful_sets[0].spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()
            ["percona.com/configuration-hash"]
            .clone()
    };
    let before = hash(&d);
    cr.spec.pxc.as_mut().unwrap().configuration = Some("[mysqld]\nmax_connections=600\n".into());
    assert_ne!(hash(&build(&cr, &inputs()).unwrap()), before);
}

#[test]
fn a_template_without_memory_is_an_error_naming_the_field() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr-minimal.yaml"));
    cr.spec.pxc.as_mut().unwrap().configuration = Some("[mysqld]\nx={{containerMemoryLimit * 3 / 4}}\n".into());
    let err = build(&cr, &inputs()).unwrap_err();
    assert!(matches!(&err, BuildError::InvalidField { field, .. } if field == "spec.pxc.configuration"), "{err}");
    assert!(err.to_string().contains("minimal-cluster"), "{err}");
    // With memory set, a division by zero is refused rather than written into my.cnf.
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.pxc.as_mut().unwrap().configuration = Some("[mysqld]\nx={{containerMemoryLimit / 0}}\n".into());
    let err = build(&cr, &inputs()).unwrap_err();
    assert!(err.to_string().contains("divides by zero"), "{err}");
}

fn replicas(d: &Desired) -> Vec<(String, i32)> {
    d.stateful_sets
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap(), s.spec.as_ref().unwrap().replicas.unwrap()))
        .collect()
}

#[test]
fn pause_scales_everything_to_zero_and_keeps_claims() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.pause = Some(true);
    let d = build(&cr, &inputs()).unwrap();
    assert_eq!(replicas(&d), [("cluster1-pxc".to_string(), 0), ("cluster1-haproxy".to_string(), 0)]);
    assert!(d.stateful_sets[0].spec.as_ref().unwrap().volume_claim_templates.is_some());
    assert_eq!(d.services.len(), 4, "services stay while paused");
    cr.spec.pause = Some(false);
    cr.spec.pxc.as_mut().unwrap().size = Some(5);
    assert_eq!(replicas(&build(&cr, &inputs()).unwrap())[0], ("cluster1-pxc".to_string(), 5));
}

#[test]
fn update_strategies() {
    let strategy = |value: Option<&str>| {
        let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
        cr.spec.update_strategy = value.map(str::to_string);
        let d = build(&cr, &inputs()).unwrap();
        d.stateful_sets
            .iter()
            .map(|s| s.spec.as_ref().unwrap().update_strategy.clone().unwrap().type_.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(strategy(Some("SmartUpdate")), ["OnDelete", "RollingUpdate"]);
    assert_eq!(strategy(Some("OnDelete")), ["OnDelete", "OnDelete"]);
    assert_eq!(strategy(Some("RollingUpdate")), ["RollingUpdate", "RollingUpdate"]);
    assert_eq!(strategy(None), ["RollingUpdate", "RollingUpdate"]);
}

#[test]
fn existing_secrets_are_kept_and_only_missing_users_are_filled() {
    let cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    let secret = |d: &Desired, n: &str| {
        d.secrets.iter().find(|s| s.metadata.name.as_deref() == Some(n)).map(|s| {
            s.data
                .as_ref()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
                .collect::<BTreeMap<_, _>>()
        })
    };
    // Nothing exists: generated passwords everywhere, internal is a copy.
    let d = build(&cr, &inputs()).unwrap();
    assert_eq!(secret(&d, "cluster1-secrets").unwrap()["root"], "root-generated-pw");
    assert_eq!(secret(&d, "cluster1-secrets"), secret(&d, "internal-cluster1"));

    // A complete user Secret is not rewritten, and its passwords reach the internal copy.
    let mut full: BTreeMap<String, String> = USERS.iter().map(|u| (u.to_string(), format!("{u}-mine"))).collect();
    let mut i = inputs();
    i.user_secret = Some(full.clone());
    i.ssl = i.generated_tls.clone();
    i.ssl_internal = i.generated_tls.clone();
    i.generated_tls = None;
    let d = build(&cr, &i).unwrap();
    assert!(secret(&d, "cluster1-secrets").is_none());
    assert_eq!(secret(&d, "internal-cluster1").unwrap(), full);
    assert!(secret(&d, "cluster1-ssl").is_none() && secret(&d, "cluster1-ssl-internal").is_none());

    // A user Secret missing a user gets just that one generated.
    full.remove("replication");
    i.user_secret = Some(full);
    let d = build(&cr, &i).unwrap();
    let user = secret(&d, "cluster1-secrets").unwrap();
    assert_eq!((user["root"].as_str(), user["replication"].as_str()), ("root-mine", "replication-generated-pw"));

    // Missing generated material is an error, not an empty Secret.
    let mut i = inputs();
    i.generated_tls = None;
    assert!(matches!(build(&cr, &i), Err(BuildError::MissingGenerated { secret, .. }) if secret == "cluster1-ssl"));
}

#[test]
fn tls_disabled_generates_no_certificates() {
    let mut i = inputs();
    i.generated_tls = None;
    let d = build(&cr_from(&format!("{FIXTURES}/input-cr-minimal.yaml")), &i).unwrap();
    let names: Vec<_> = d.secrets.iter().map(|s| s.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["minimal-cluster-secrets", "internal-minimal-cluster"]);
}

#[test]
fn per_pod_services_when_exposed() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.pxc.as_mut().unwrap().expose = Some(dbdeck::api::pxc::ServiceExpose {
        enabled: Some(true),
        type_: Some("LoadBalancer".into()),
        load_balancer_source_ranges: Some(vec!["10.0.0.0/8".into()]),
        ..Default::default()
    });
    let d = build(&cr, &inputs()).unwrap();
    let per_pod: Vec<_> =
        d.services.iter().filter(|s| s.metadata.name.as_deref().unwrap().starts_with("cluster1-pxc-")).collect();
    let names: Vec<_> = per_pod.iter().map(|s| s.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["cluster1-pxc-unready", "cluster1-pxc-0", "cluster1-pxc-1", "cluster1-pxc-2"]);
    let spec = per_pod[2].spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(spec.selector.as_ref().unwrap()["statefulset.kubernetes.io/pod-name"], "cluster1-pxc-1");
    assert_eq!(spec.load_balancer_source_ranges.as_deref(), Some(&["10.0.0.0/8".to_string()][..]));
}

#[test]
fn proxysql_replaces_haproxy() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.haproxy.as_mut().unwrap().enabled = Some(false);
    cr.spec.proxysql.as_mut().unwrap().enabled = Some(true);
    let d = build(&cr, &inputs()).unwrap();
    let names: Vec<String> =
        d.names().into_iter().filter(|(k, _)| *k != "Secret").map(|(k, n)| format!("{k}/{n}")).collect();
    assert_eq!(
        names,
        [
            "StatefulSet/cluster1-pxc",
            "StatefulSet/cluster1-proxysql",
            "Service/cluster1-pxc",
            "Service/cluster1-pxc-unready",
            "Service/cluster1-proxysql",
            "Service/cluster1-proxysql-unready",
            "ConfigMap/auto-cluster1-pxc",
            "PodDisruptionBudget/cluster1-pxc",
            "PodDisruptionBudget/cluster1-proxysql",
        ]
    );
    let sts = &d.stateful_sets[1];
    let claims = sts.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims[0].metadata.name.as_deref(), Some("proxydata"));
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["proxysql", "pxc-monit", "proxysql-monit"]);
    let ports: Vec<i32> = pod.containers[0].ports.as_ref().unwrap().iter().map(|p| p.container_port).collect();
    assert_eq!(ports, [3306, 6032]);
    let monit_env: Vec<&str> = pod.containers[2].env.as_ref().unwrap().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        monit_env,
        ["PROXYSQL_SERVICE", "OPERATOR_PASSWORD", "PROXY_ADMIN_USER", "PROXY_ADMIN_PASSWORD", "MONITOR_PASSWORD"]
    );
    assert_eq!(sts.spec.as_ref().unwrap().service_name.as_deref(), Some("cluster1-proxysql-unready"));
    // ProxySQL 2 cannot use caching_sha2_password accounts, so the pxc nodes default to native.
    let env = d.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == "pxc")
        .unwrap()
        .env
        .clone()
        .unwrap();
    let plugin = env.iter().find(|e| e.name == "DEFAULT_AUTHENTICATION_PLUGIN").unwrap();
    assert_eq!(plugin.value.as_deref(), Some("mysql_native_password"));
}

#[test]
fn build_is_deterministic() {
    let cr = cr_from(&format!("{EXAMPLES}/pxc-full.yaml"));
    assert_eq!(build(&cr, &inputs()).unwrap(), build(&cr, &inputs()).unwrap());
}

#[test]
fn a_cr_not_yet_stored_is_refused() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.metadata.uid = None;
    assert_eq!(build(&cr, &inputs()).unwrap_err(), BuildError::MissingMeta { field: "uid" });
}

#[test]
fn snapshots_of_the_examples() {
    for example in ["pxc-minimal", "pxc-full"] {
        let d = build(&cr_from(&format!("{EXAMPLES}/{example}.yaml")), &inputs()).unwrap();
        insta::with_settings!({ snapshot_path => "fixtures/pxc/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_yaml_snapshot!(example, values(&d));
        });
    }
}

#[test]
fn user_additions_reach_the_pod() {
    // deploy/examples/pxc-full.yaml writes sidecars, sidecar volumes and claims, a pxc hook script and
    // a fluent-bit configuration.
    let d = build(&cr_from(&format!("{EXAMPLES}/pxc-full.yaml")), &inputs()).unwrap();
    let sts = d.stateful_sets[0].spec.as_ref().unwrap();
    let pod = sts.template.spec.as_ref().unwrap();
    let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["logs", "logrotate", "pxc", "query-digest"]);
    let vols: Vec<&str> = pod.volumes.as_ref().unwrap().iter().map(|v| v.name.as_str()).collect();
    for v in ["hookscript", "logcollector-config", "digest-scratch"] {
        assert!(vols.contains(&v), "{v} missing from {vols:?}");
    }
    let claims: Vec<_> =
        sts.volume_claim_templates.as_ref().unwrap().iter().map(|c| c.metadata.name.clone().unwrap()).collect();
    assert_eq!(claims[..2], ["datadir".to_string(), "digest-data".to_string()]);
    let mounts = |c: &str| {
        pod.containers
            .iter()
            .find(|x| x.name == c)
            .unwrap()
            .volume_mounts
            .clone()
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.mount_path))
            .collect::<Vec<_>>()
    };
    assert!(mounts("pxc").contains(&("hookscript".into(), "/opt/percona/hookscript".into())));
    assert!(mounts("logs").contains(&("logcollector-config".into(), "/etc/fluentbit/custom".into())));
    let cms: Vec<_> = d.config_maps.iter().map(|c| c.metadata.name.clone().unwrap()).collect();
    for cm in ["orders-db-pxc", "auto-orders-db-pxc", "orders-db-logcollector", "orders-db-pxc-hookscript"] {
        assert!(cms.contains(&cm.to_string()), "{cm} missing from {cms:?}");
    }
}

#[test]
fn pod_template_hashes_move_with_what_the_pods_read() {
    let cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    let annotations = |d: &Desired, sts: usize| {
        d.stateful_sets[sts]
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap_or_default()
    };
    let base = build(&cr, &inputs()).unwrap();
    let pxc = annotations(&base, 0);
    for key in ["percona.com/configuration-hash", "percona.com/ssl-hash", "percona.com/ssl-internal-hash"] {
        assert!(pxc.contains_key(key), "{key} missing: {pxc:?}");
    }
    assert!(!pxc.contains_key("percona.com/env-secret-config-hash"), "no env Secret exists yet");

    // New certificates roll the pxc pods; the HAProxy pods do not read them.
    let mut i = inputs();
    i.generated_tls.as_mut().unwrap().tls_crt = "renewed cert".into();
    let renewed = build(&cr, &i).unwrap();
    assert_ne!(annotations(&renewed, 0)["percona.com/ssl-hash"], pxc["percona.com/ssl-hash"]);
    assert_eq!(annotations(&renewed, 1), annotations(&base, 1));

    // An env-vars Secret's content rolls only the component that reads it.
    let mut i = inputs();
    i.env_vars_secrets.insert("cluster1-env-vars-haproxy".into(), BTreeMap::from([("HA_X".into(), "1".into())]));
    let with_env = build(&cr, &i).unwrap();
    let first = annotations(&with_env, 1)["percona.com/env-secret-config-hash"].clone();
    assert!(!annotations(&with_env, 0).contains_key("percona.com/env-secret-config-hash"));
    i.env_vars_secrets.insert("cluster1-env-vars-haproxy".into(), BTreeMap::from([("HA_X".into(), "2".into())]));
    assert_ne!(annotations(&build(&cr, &i).unwrap(), 1)["percona.com/env-secret-config-hash"], first);
}

#[test]
fn only_readers_is_passed_to_haproxy() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.haproxy.as_mut().unwrap().expose_replicas =
        Some(dbdeck::api::pxc::ServiceExpose { enabled: Some(true), only_readers: Some(true), ..Default::default() });
    let d = build(&cr, &inputs()).unwrap();
    let pod = d.stateful_sets[1].spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let env = pod.containers[1].env.as_ref().unwrap();
    let v = env.iter().find(|e| e.name == "REPLICAS_SVC_ONLY_READERS").unwrap();
    assert_eq!(v.value.as_deref(), Some("true"));
    let replicas = d.services.iter().find(|s| s.metadata.name.as_deref() == Some("cluster1-haproxy-replicas")).unwrap();
    let port = &replicas.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(port.target_port, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(3307)));
    // Switching the replicas Service off removes it.
    cr.spec.haproxy.as_mut().unwrap().expose_replicas =
        Some(dbdeck::api::pxc::ServiceExpose { enabled: Some(false), ..Default::default() });
    let d = build(&cr, &inputs()).unwrap();
    assert!(d.services.iter().all(|s| s.metadata.name.as_deref() != Some("cluster1-haproxy-replicas")));
}

#[test]
fn debug_output_never_shows_a_secret() {
    let mut i = inputs();
    i.user_secret = Some(BTreeMap::from([("root".to_string(), "hunter2-root".to_string())]));
    let text = format!("{i:?}");
    assert!(text.contains("root"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("generated-pw") && !text.contains("test key"), "{text}");
    let desired = format!("{:?}", build(&cr_from(&format!("{FIXTURES}/input-cr.yaml")), &i).unwrap());
    assert!(desired.contains("Secret/internal-cluster1"), "{desired}");
    assert!(!desired.contains("hunter2") && !desired.contains("generated-pw"), "{desired}");
}

#[test]
fn pmm3_sidecar_when_monitoring_is_on() {
    let mut cr = cr_from(&format!("{FIXTURES}/input-cr.yaml"));
    cr.spec.pmm = Some(dbdeck::api::pxc::PmmSpec {
        enabled: Some(true),
        image: Some("percona/pmm-client:3.3.1".into()),
        server_host: Some("monitoring-service".into()),
        ..Default::default()
    });
    // Without a PMM 3 token the build refuses, naming the field and the Secret.
    let err = build(&cr, &inputs()).unwrap_err();
    assert!(err.to_string().contains("spec.pmm.enabled") && err.to_string().contains("cluster1-secrets"), "{err}");

    let mut i = inputs();
    let mut users: BTreeMap<String, String> = USERS.iter().map(|u| (u.to_string(), "pw".into())).collect();
    users.insert("pmmservertoken".into(), "glsa_token".into());
    i.user_secret = Some(users);
    i.env_vars_secrets.insert("cluster1-env-vars-pxc".into(), BTreeMap::from([("PMM_PREFIX".into(), "eu-".into())]));
    let d = build(&cr, &i).unwrap();
    let containers =
        |n: usize| d.stateful_sets[n].spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers.clone();
    let pxc = containers(0);
    assert_eq!(pxc.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["logs", "logrotate", "pxc", "pmm-client"]);
    let pmm = &pxc[3];
    let env: BTreeMap<String, String> =
        pmm.env.as_ref().unwrap().iter().filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v))).collect();
    assert_eq!(env["PMM_AGENT_SERVER_USERNAME"], "service_token");
    assert_eq!(env["DB_PORT"], "33062");
    assert_eq!(env["PMM_AGENT_SETUP_NODE_NAME"], "$(PMM_PREFIX)$(POD_NAMESPACE)-$(POD_NAME)");
    let token = pmm.env.as_ref().unwrap().iter().find(|e| e.name == "PMM_AGENT_SERVER_PASSWORD").unwrap();
    let key = token.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((key.name.as_str(), key.key.as_str()), ("internal-cluster1", "pmmservertoken"));
    assert_eq!(pmm.ports.as_ref().unwrap().len(), 7);
    assert_eq!(pmm.volume_mounts.as_ref().unwrap()[0].name, "datadir");
    // HAProxy gets its own sidecar, watching the stats port.
    let haproxy = containers(1);
    let pmm = haproxy.iter().find(|c| c.name == "pmm-client").unwrap();
    let custom = pmm.env.as_ref().unwrap().iter().find(|e| e.name == "PMM_ADMIN_CUSTOM_PARAMS").unwrap();
    assert_eq!(custom.value.as_deref(), Some("--listen-port=8404"));
}
