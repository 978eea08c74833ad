use serde_json::{Value, json};

use super::*;
use crate::api::common::Validate;

fn cluster(spec: Value) -> PerconaServerMySQL {
    serde_json::from_value(json!({
        "apiVersion": "ps.percona.com/v1",
        "kind": "PerconaServerMySQL",
        "metadata": {"name": "c1"},
        "spec": spec,
    }))
    .unwrap()
}

fn gr_spec() -> Value {
    json!({
        "mysql": {
            "size": 3,
            "image": "percona/percona-server:8.4.11-11.1",
            "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "1Gi"}}}}
        },
        "proxy": {"haproxy": {"enabled": true, "size": 3, "image": "percona/haproxy:2.8.15"}}
    })
}

fn paths(c: &PerconaServerMySQL) -> Vec<String> {
    c.validate().iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
}

#[test]
fn null_and_absent_stay_distinct() {
    for pitr in [json!(null), json!({"type": "gtid", "gtid": "abc:1"})] {
        let doc = json!({"apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLRestore",
            "metadata": {"name": "r"}, "spec": {"clusterName": "c", "backupName": "b", "pitr": pitr}});
        let r: PerconaServerMySQLRestore = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), doc);
    }
    let doc = json!({"clusterName": "c", "backupName": "b"});
    let s: PerconaServerMySQLRestoreSpec = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(s.pitr, None);
    assert_eq!(serde_json::to_value(&s).unwrap(), doc);

    let st: BackupStorageSpec = serde_json::from_value(json!({"type": "s3", "verifyTLS": null})).unwrap();
    assert_eq!(st.verify_tls, Some(None));
    assert_eq!(serde_json::to_value(&st).unwrap(), json!({"type": "s3", "verifyTLS": null}));
}

#[test]
fn empty_values_survive() {
    let doc = json!({"name": "bob", "hosts": [], "dbs": [], "withGrantOption": false});
    let u: User = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&u).unwrap(), doc);
    let doc = json!({"emptyDir": {}});
    let v: VolumeSpec = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&v).unwrap(), doc);
}

#[test]
fn valid_gr_cluster_has_no_problems() {
    assert_eq!(paths(&cluster(gr_spec())), Vec::<String>::new());
}

#[test]
fn all_problems_are_reported_together() {
    let mut spec = gr_spec();
    spec["mysql"]["size"] = json!(4);
    spec["updateStrategy"] = json!("Sometimes");
    spec["proxy"]["haproxy"]["size"] = json!(1);
    let found = paths(&cluster(spec));
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn unsafe_flags_override_proxy_and_orchestrator_rules() {
    let spec = json!({
        "unsafeFlags": {"orchestrator": true, "proxy": true},
        "mysql": {"clusterType": "async", "size": 2, "image": "i",
                  "volumeSpec": {"emptyDir": {}}}
    });
    assert_eq!(paths(&cluster(spec.clone())), Vec::<String>::new());
    let mut strict = spec;
    strict["unsafeFlags"] = json!({});
    let found = paths(&cluster(strict));
    assert!(found.iter().any(|p| p.starts_with("spec.orchestrator.enabled: must be true")), "{found:#?}");
    assert!(found.iter().any(|p| p.starts_with("spec.proxy.haproxy.enabled: must be true")), "{found:#?}");
}

#[test]
fn enabled_components_need_image_and_size() {
    let mut spec = gr_spec();
    spec["proxy"]["haproxy"] = json!({"enabled": true});
    spec["pmm"] = json!({"enabled": true});
    let found = paths(&cluster(spec));
    assert!(found.iter().any(|p| p.starts_with("spec.proxy.haproxy.image: is required")), "{found:#?}");
    assert!(found.iter().any(|p| p.starts_with("spec.proxy.haproxy.size: must be greater than 0")), "{found:#?}");
    assert!(found.iter().any(|p| p.starts_with("spec.pmm.image: is required")), "{found:#?}");
}

#[test]
fn auto_config_needs_resources_and_version() {
    let mut spec = gr_spec();
    spec["mysql"]["autoConfig"] = json!({"enabled": true, "loadType": "readMostly"});
    let found = paths(&cluster(spec));
    assert!(found.iter().any(|p| p.starts_with("spec.mysql.autoConfig.version: is required")), "{found:#?}");
    assert!(found.iter().any(|p| p.starts_with("spec.mysql.autoConfig.loadType: \"readMostly\"")), "{found:#?}");
    assert!(
        found
            .iter()
            .any(|p| p == "spec.mysql.resources: must set cpu (in limits or requests) when autoConfig is enabled")
    );
}

#[test]
fn storage_autoscaling_rules() {
    let mut spec = gr_spec();
    spec["storageScaling"] =
        json!({"autoscaling": {"enabled": true, "triggerThresholdPercent": 99, "growthStep": "0", "maxSize": "512Mi"}});
    let found = paths(&cluster(spec));
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found.iter().any(|p| p.starts_with("spec.storageScaling.autoscaling.enabled: autoscaling cannot be enabled"))
    );
    assert!(found.iter().any(|p| p.contains("triggerThresholdPercent: is 99")));
    assert!(found.iter().any(|p| p.contains("growthStep: \"0\" must be a positive")));
    assert!(found.iter().any(|p| p.contains("maxSize: \"512Mi\" is too small")));
}

#[test]
fn pitr_binlog_server_rules() {
    let mut spec = gr_spec();
    spec["backup"] = json!({
        "enabled": true, "image": "x",
        "pitr": {"enabled": true, "binlogServer": {"size": 2, "storage": {"encryption": {"cipher": "ROT13"}}}}
    });
    let found = paths(&cluster(spec));
    for want in [
        "spec.backup.pitr.binlogServer.size: is 2",
        "spec.backup.pitr.binlogServer.image: is required",
        "spec.backup.pitr.binlogServer.keyringSecret: is required",
        "spec.backup.pitr.binlogServer.storage.encryption.cipher: \"ROT13\"",
    ] {
        assert!(found.iter().any(|p| p.starts_with(want)), "missing {want}: {found:#?}");
    }
}

#[test]
fn users_and_xtrabackup_args() {
    let mut spec = gr_spec();
    spec["users"] = json!([{"name": "a`b"}, {"name": "ok", "hosts": ["x'y"]}, {"name": "ok"}, {}]);
    spec["backup"] = json!({"image": "x", "storages": {"s": {"type": "s3", "s3": {"bucket": "b", "credentialsSecret": "c"},
        "containerOptions": {"args": {"xtrabackup": ["--compress", "--defaults-file=/etc/my.cnf"]}}}}});
    let found = paths(&cluster(spec));
    for want in [
        "spec.users[0].name: \"a`b\" must not contain",
        "spec.users[1].hosts[0]: \"x'y\" must not contain",
        "spec.users[2].name: user \"ok\" is listed more than once",
        "spec.users[3].name: is required",
        "spec.backup.storages.s.containerOptions.args.xtrabackup: --defaults-file must",
    ] {
        assert!(found.iter().any(|p| p.starts_with(want)), "missing {want}: {found:#?}");
    }
}

#[test]
fn async_env_values_must_be_counts() {
    let spec = json!({
        "unsafeFlags": {"orchestrator": true, "proxy": true},
        "mysql": {"clusterType": "async", "size": 2, "image": "i", "volumeSpec": {"emptyDir": {}},
                  "env": [{"name": "ASYNC_SOURCE_RETRY_COUNT", "value": "-1"}, {"name": "OTHER", "value": "x"}]}
    });
    assert_eq!(
        paths(&cluster(spec)),
        vec!["spec.mysql.env[0].value: ASYNC_SOURCE_RETRY_COUNT is \"-1\"; it must be a whole number of 0 or more"]
    );
}

#[test]
fn defaults_single_node_and_binlog_server() {
    let mut spec = gr_spec();
    spec["mysql"]["size"] = json!(1);
    spec["backup"] = json!({"pitr": {"binlogServer": {"keyringSecret": {"name": "k"}, "storage": {"encryption": {}}}},
        "schedule": [{"name": "n", "schedule": "@daily", "storageName": "s"}]});
    spec["storageScaling"] = json!({"autoscaling": {"enabled": false}});
    let c = cluster(spec);
    let d = c.spec.with_defaults("c1");
    assert_eq!(d.update_strategy.as_deref(), Some("RollingUpdate"), "single node cannot SmartUpdate");
    let v = serde_json::to_value(&d).unwrap();
    let bs = &v["backup"]["pitr"]["binlogServer"];
    assert_eq!(bs["keyringSecret"]["key"], "keyring.json");
    assert_eq!(bs["storage"]["encryption"]["cipher"], "AES-256-CTR");
    assert_eq!(bs["sslMode"], "verify_identity");
    assert_eq!(bs["serverId"], 100);
    assert_eq!(bs["checkpointInterval"], "30s");
    assert_eq!(v["backup"]["schedule"][0]["type"], "full");
    assert_eq!(v["storageScaling"]["autoscaling"]["triggerThresholdPercent"], 80);
    assert_eq!(v["storageScaling"]["autoscaling"]["growthStep"], "2Gi");
    // Applying defaults twice changes nothing.
    assert_eq!(d.with_defaults("c1"), d);
}

#[test]
fn defaults_keep_written_values_and_reset_unknown_affinity_keys() {
    let mut spec = gr_spec();
    spec["mysql"]["affinity"] = json!({"antiAffinityTopologyKey": "rack"});
    spec["mysql"]["readinessProbe"] = json!({"timeoutSeconds": 9});
    spec["secretsName"] = json!("mine");
    let d = cluster(spec).spec.with_defaults("c1");
    let m = d.mysql.as_ref().unwrap();
    assert_eq!(m.affinity.as_ref().unwrap().anti_affinity_topology_key.as_deref(), Some("kubernetes.io/hostname"));
    let rp = m.readiness_probe.as_ref().unwrap();
    assert_eq!((rp.timeout_seconds, rp.period_seconds), (Some(9), Some(5)));
    assert_eq!(d.secrets_name.as_deref(), Some("mine"));
}

#[test]
fn cluster_type_helper() {
    assert_eq!(cluster(gr_spec()).spec.cluster_type(), Some(ClusterType::GroupReplication));
    let mut spec = gr_spec();
    spec["mysql"]["clusterType"] = json!("async");
    assert_eq!(cluster(spec.clone()).spec.cluster_type(), Some(ClusterType::Async));
    spec["mysql"]["clusterType"] = json!("galera");
    assert_eq!(cluster(spec).spec.cluster_type(), None);
}

#[test]
fn pruned_fields_walks_lists() {
    let a = json!({"spec": {"users": [{"name": "x", "pasword": "p"}], "ok": 1}});
    let b = json!({"spec": {"users": [{"name": "x"}], "ok": 1}});
    assert_eq!(pruned_fields(&a, &b), vec!["spec.users[0].pasword"]);
}
