//! Behaviour of `build`: names, labels, pause, WAL volumes, pgBouncer on/off, several sets, stable suffixes,
//! generated material only when absent, and the errors a caller can hit.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::{Value, json};

use super::secrets::{CertPair, PgCertificates, UserCredentials};
use super::{BuildError, PgBuildInputs, PgDesired, build, instance_counts, user_names};
use crate::api::pg::PerconaPGCluster;

fn cluster(spec: Value) -> PerconaPGCluster {
    serde_json::from_value(json!({
        "apiVersion": "pgv2.percona.com/v2",
        "kind": "PerconaPGCluster",
        "metadata": {"name": "cluster1", "namespace": "db", "uid": "uid-1"},
        "spec": spec,
    }))
    .unwrap()
}

/// An instance set with the data volume validation requires.
fn set(name: &str, replicas: i32) -> Value {
    json!({"name": name, "replicas": replicas, "dataVolumeClaimSpec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
}

fn base_spec() -> Value {
    json!({
        "postgresVersion": 17,
        "instances": [set("instance1", 3)],
        "proxy": {"pgBouncer": {"replicas": 2}},
        "backups": {"pgbackrest": {"repos": [{"name": "repo1", "volume": {"volumeClaimSpec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}}]}},
    })
}

fn pair(what: &str) -> CertPair {
    CertPair { cert_pem: format!("{what}-cert"), key_pem: format!("{what}-key") }
}

/// Suffixes `s000`, `s001`, ... (first letter of the set name), passwords per user, stand-in certificates.
fn inputs(cr: &PerconaPGCluster) -> PgBuildInputs {
    let mut i = PgBuildInputs::default();
    for (set, n) in instance_counts(cr) {
        let letter = set.chars().next().unwrap_or('x');
        i.instance_suffixes.insert(set, (0..n).map(|k| format!("{letter}{k:03}")).collect());
    }
    for u in user_names(cr) {
        i.users.insert(u.clone(), UserCredentials { password: format!("pw-{u}"), verifier: format!("v-{u}") });
    }
    i.pgbouncer_auth = Some(UserCredentials { password: "bpw".into(), verifier: "bv".into() });
    i.certificates = Some(PgCertificates {
        ca: pair("ca"),
        cluster: pair("cluster"),
        replication: pair("repl"),
        pgbackrest: pair("pgbr"),
    });
    i
}

fn built(spec: Value) -> PgDesired {
    let cr = cluster(spec);
    build(&cr, &inputs(&cr)).unwrap()
}

fn sts<'a>(d: &'a PgDesired, name: &str) -> &'a StatefulSet {
    d.stateful_sets.iter().find(|s| s.metadata.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("{name}"))
}

fn names<T: kube::Resource>(objects: &[T]) -> Vec<String> {
    objects.iter().map(|o| o.meta().name.clone().unwrap_or_default()).collect()
}

fn replicas(s: &StatefulSet) -> i32 {
    s.spec.as_ref().unwrap().replicas.unwrap()
}

#[test]
fn names_follow_the_crunchy_layout() {
    let d = built(base_spec());
    assert_eq!(
        names(&d.stateful_sets),
        ["cluster1-instance1-i000", "cluster1-instance1-i001", "cluster1-instance1-i002", "cluster1-repo-host"]
    );
    assert_eq!(names(&d.deployments), ["cluster1-pgbouncer"]);
    assert_eq!(
        names(&d.services),
        [
            "cluster1-primary",
            "cluster1-replicas",
            "cluster1-pods",
            "cluster1-ha",
            "cluster1-ha-config",
            "cluster1-pgbouncer"
        ]
    );
    assert_eq!(
        names(&d.persistent_volume_claims),
        [
            "cluster1-instance1-i000-pgdata",
            "cluster1-instance1-i001-pgdata",
            "cluster1-instance1-i002-pgdata",
            "cluster1-repo1"
        ]
    );
    assert_eq!(names(&d.pod_disruption_budgets), ["cluster1-set-instance1", "cluster1-pgbouncer"]);
    let cms = names(&d.config_maps);
    for want in
        ["cluster1-config", "cluster1-instance1-i001-config", "cluster1-pgbackrest-config", "cluster1-pgbouncer"]
    {
        assert!(cms.contains(&want.to_string()), "{want} in {cms:?}");
    }
    let secrets = names(&d.secrets);
    for want in [
        "cluster1-pguser-cluster1",
        "cluster1-cluster-cert",
        "cluster1-cluster-ca-cert",
        "cluster1-replication-cert",
        "cluster1-pgbackrest",
        "cluster1-pgbouncer",
    ] {
        assert!(secrets.contains(&want.to_string()), "{want} in {secrets:?}");
    }
    assert_eq!(names(&d.service_accounts), ["cluster1-instance"]);
    assert_eq!(names(&d.roles), ["cluster1-instance"]);
    assert_eq!(d.role_bindings[0].subjects.as_ref().unwrap()[0].name, "cluster1-instance");
    let pod = sts(&d, "cluster1-instance1-i000").spec.clone().unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("cluster1-instance"));
    // The pod of an instance is `…-0` behind the headless `<c>-pods` Service.
    assert_eq!(
        sts(&d, "cluster1-instance1-i000").spec.as_ref().unwrap().service_name.as_deref(),
        Some("cluster1-pods")
    );
}

#[test]
fn instance_labels_carry_crunchy_and_percona_keys() {
    let mut spec = base_spec();
    spec["crVersion"] = json!("3.1.0");
    spec["metadata"] = json!({"labels": {"team": "a"}, "annotations": {"note": "x"}});
    let d = built(spec);
    let s = sts(&d, "cluster1-instance1-i001");
    let labels = s.metadata.labels.clone().unwrap();
    for (k, v) in [
        ("postgres-operator.crunchydata.com/cluster", "cluster1"),
        ("postgres-operator.crunchydata.com/instance-set", "instance1"),
        ("postgres-operator.crunchydata.com/instance", "cluster1-instance1-i001"),
        ("postgres-operator.crunchydata.com/data", "postgres"),
        ("app.kubernetes.io/name", "percona-postgresql"),
        ("app.kubernetes.io/part-of", "percona-postgresql"),
        ("app.kubernetes.io/instance", "cluster1"),
        ("app.kubernetes.io/managed-by", "percona-postgresql-operator"),
        ("pgv2.percona.com/version", "3.1.0"),
        ("team", "a"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(s.metadata.annotations.as_ref().unwrap()["note"], "x");
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("PerconaPGCluster", "cluster1", "uid-1")
    );
    assert_eq!(owner.controller, Some(true));
    // The selector must keep matching the pod when labels are added later: only the identifying keys.
    let selector = s.spec.as_ref().unwrap().selector.match_labels.clone().unwrap();
    assert_eq!(selector.len(), 3);
    let pod_labels = s.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    assert_eq!(pod_labels["postgres-operator.crunchydata.com/patroni"], "cluster1-ha");
}

#[test]
fn pause_scales_workloads_to_zero_and_keeps_volumes() {
    let running = built(base_spec());
    let mut spec = base_spec();
    spec["pause"] = json!(true);
    let paused = built(spec);
    for s in &paused.stateful_sets {
        assert_eq!(replicas(s), 0, "{:?}", s.metadata.name);
    }
    assert_eq!(paused.deployments[0].spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(running.deployments[0].spec.as_ref().unwrap().replicas, Some(2));
    assert!(running.stateful_sets.iter().all(|s| replicas(s) == 1));
    assert_eq!(paused.persistent_volume_claims, running.persistent_volume_claims);
}

#[test]
fn wal_volume_adds_claim_mount_and_waldir() {
    let mut spec = base_spec();
    spec["instances"][0]["walVolumeClaimSpec"] =
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}});
    let d = built(spec);
    let pvcs = names(&d.persistent_volume_claims);
    assert!(pvcs.contains(&"cluster1-instance1-i000-pgwal".to_string()));
    let wal =
        d.persistent_volume_claims.iter().find(|p| p.metadata.name.as_deref() == Some("cluster1-instance1-i000-pgwal"));
    assert_eq!(wal.unwrap().metadata.labels.as_ref().unwrap()["postgres-operator.crunchydata.com/role"], "pgwal");
    let pod = sts(&d, "cluster1-instance1-i000").spec.clone().unwrap().template.spec.unwrap();
    let db = pod.containers.iter().find(|c| c.name == "database").unwrap();
    assert!(db.volume_mounts.iter().flatten().any(|m| m.name == "postgres-wal" && m.mount_path == "/pgwal"));
    let vol = pod.volumes.iter().flatten().find(|v| v.name == "postgres-wal").unwrap();
    assert_eq!(vol.persistent_volume_claim.as_ref().unwrap().claim_name, "cluster1-instance1-i000-pgwal");
    let cfg =
        d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("cluster1-instance1-i000-config")).unwrap();
    assert!(cfg.data.as_ref().unwrap()["patroni.yaml"].contains("/pgwal/pg17_wal"));
    // Without the WAL volume there is no claim and no mount.
    let plain = built(base_spec());
    assert!(!names(&plain.persistent_volume_claims).iter().any(|n| n.ends_with("-pgwal")));
}

#[test]
fn without_pgbouncer_section_there_is_no_pgbouncer() {
    let mut spec = base_spec();
    spec.as_object_mut().unwrap().remove("proxy");
    let d = built(spec);
    assert!(d.deployments.is_empty());
    assert!(!names(&d.services).contains(&"cluster1-pgbouncer".to_string()));
    assert!(!names(&d.secrets).contains(&"cluster1-pgbouncer".to_string()));
    assert!(!names(&d.config_maps).contains(&"cluster1-pgbouncer".to_string()));
    assert_eq!(names(&d.pod_disruption_budgets), ["cluster1-set-instance1"]);
    let user = d.secrets.iter().find(|s| s.metadata.name.as_deref() == Some("cluster1-pguser-cluster1")).unwrap();
    let keys: Vec<&String> = user.data.as_ref().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.starts_with("pgbouncer-")), "{keys:?}");
}

#[test]
fn user_secret_has_the_reference_keys() {
    let d = built(base_spec());
    let user = d.secrets.iter().find(|s| s.metadata.name.as_deref() == Some("cluster1-pguser-cluster1")).unwrap();
    let data: BTreeMap<&str, String> = user
        .data
        .as_ref()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), String::from_utf8(v.0.clone()).unwrap()))
        .collect();
    let keys: Vec<&str> = data.keys().copied().collect();
    assert_eq!(
        keys,
        [
            "dbname",
            "host",
            "jdbc-uri",
            "password",
            "pgbouncer-host",
            "pgbouncer-jdbc-uri",
            "pgbouncer-port",
            "pgbouncer-uri",
            "port",
            "uri",
            "user",
            "verifier"
        ]
    );
    assert_eq!(data["host"], "cluster1-primary.db.svc");
    assert_eq!(data["pgbouncer-host"], "cluster1-pgbouncer.db.svc");
    assert_eq!(data["uri"], "postgresql://cluster1:pw-cluster1@cluster1-primary.db.svc:5432/cluster1");
    assert_eq!(data["verifier"], "v-cluster1");
}

#[test]
fn several_instance_sets_each_get_their_instances_and_budget() {
    let mut spec = base_spec();
    spec["instances"] = json!([set("alpha", 2), set("beta", 1)]);
    let d = built(spec);
    assert_eq!(
        names(&d.stateful_sets),
        ["cluster1-alpha-a000", "cluster1-alpha-a001", "cluster1-beta-b000", "cluster1-repo-host"]
    );
    // A set of one gets no budget: it could never be drained.
    assert_eq!(names(&d.pod_disruption_budgets), ["cluster1-set-alpha", "cluster1-pgbouncer"]);
    let beta = sts(&d, "cluster1-beta-b000");
    assert_eq!(beta.metadata.labels.as_ref().unwrap()["postgres-operator.crunchydata.com/instance-set"], "beta");
    // The repo host backs up every instance of every set.
    let cfg = d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("cluster1-pgbackrest-config")).unwrap();
    let repo_conf = &cfg.data.as_ref().unwrap()["pgbackrest_repo.conf"];
    assert!(repo_conf.contains("pg3-host = cluster1-beta-b000-0.cluster1-pods.db.svc.cluster.local."), "{repo_conf}");
}

#[test]
fn suffixes_are_taken_from_inputs_so_names_stay_stable() {
    let cr = cluster(base_spec());
    let mut i = inputs(&cr);
    i.instance_suffixes.insert("instance1".into(), vec!["zz9k".into(), "ab12".into(), "q7q7".into(), "unused".into()]);
    let first = build(&cr, &i).unwrap();
    let again = build(&cr, &i).unwrap();
    assert_eq!(first, again, "same inputs, same objects");
    assert_eq!(
        names(&first.stateful_sets)[..3],
        ["cluster1-instance1-zz9k", "cluster1-instance1-ab12", "cluster1-instance1-q7q7"]
    );
    // Scaling down to 2 keeps the first two names (the caller orders which to keep).
    let mut spec = base_spec();
    spec["instances"][0]["replicas"] = json!(2);
    let smaller = build(&cluster(spec), &i).unwrap();
    assert_eq!(names(&smaller.stateful_sets)[..2], ["cluster1-instance1-zz9k", "cluster1-instance1-ab12"]);
}

#[test]
fn too_few_or_malformed_suffixes_are_errors() {
    let cr = cluster(base_spec());
    let mut i = inputs(&cr);
    i.instance_suffixes.insert("instance1".into(), vec!["aaaa".into()]);
    let err = build(&cr, &i).unwrap_err();
    assert!(matches!(err, BuildError::MissingSuffixes { needed: 3, given: 1, .. }), "{err}");
    assert!(err.to_string().contains("db/cluster1") && err.to_string().contains("instance1"), "{err}");
    i.instance_suffixes.insert("instance1".into(), vec!["aaaa".into(), "BAD!".into(), "cccc".into()]);
    assert!(matches!(build(&cr, &i).unwrap_err(), BuildError::BadSuffix { .. }));
}

#[test]
fn generated_secrets_are_built_only_when_absent() {
    let cr = cluster(base_spec());
    let mut i = inputs(&cr);
    for s in [
        "cluster1-cluster-cert",
        "cluster1-cluster-ca-cert",
        "cluster1-replication-cert",
        "cluster1-pgbackrest",
        "cluster1-pgbouncer",
    ] {
        i.existing_secrets.insert(s.into());
    }
    i.certificates = None;
    i.pgbouncer_auth = None;
    let d = build(&cr, &i).unwrap();
    assert_eq!(names(&d.secrets), ["cluster1-pguser-cluster1"]);
    // Missing material for an absent Secret is reported by name.
    i.existing_secrets.remove("cluster1-cluster-cert");
    let err = build(&cr, &i).unwrap_err();
    assert!(matches!(&err, BuildError::MissingGenerated { secret, .. } if secret == "cluster1-cluster-cert"), "{err}");
}

#[test]
fn custom_tls_secrets_replace_generated_ones() {
    let mut spec = base_spec();
    spec["secrets"] = json!({"customTLSSecret": {"name": "my-tls"}, "customReplicationTLSSecret": {"name": "my-repl"}});
    let d = built(spec);
    let secrets = names(&d.secrets);
    assert!(!secrets.contains(&"cluster1-cluster-cert".to_string()));
    assert!(!secrets.contains(&"cluster1-replication-cert".to_string()));
    let pod = sts(&d, "cluster1-instance1-i000").spec.clone().unwrap().template.spec.unwrap();
    let certs = pod.volumes.iter().flatten().find(|v| v.name == "cert-volume").unwrap();
    let sources: Vec<String> = certs
        .projected
        .as_ref()
        .unwrap()
        .sources
        .iter()
        .flatten()
        .map(|s| s.secret.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(sources, ["my-tls", "my-repl"]);
}

#[test]
fn missing_password_uid_or_invalid_spec_are_clear_errors() {
    let cr = cluster(base_spec());
    let mut i = inputs(&cr);
    i.users.clear();
    let err = build(&cr, &i).unwrap_err();
    assert_eq!(err.to_string(), "PerconaPGCluster db/cluster1: no password was given for user cluster1 (spec.users)");

    let mut no_uid = cr.clone();
    no_uid.metadata.uid = None;
    let err = build(&no_uid, &inputs(&cr)).unwrap_err();
    assert!(err.to_string().contains("metadata.uid"), "{err}");

    let mut spec = base_spec();
    spec["instances"][0]["replicas"] = json!(0);
    let bad = cluster(spec);
    let err = build(&bad, &inputs(&bad)).unwrap_err();
    assert!(matches!(err, BuildError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("spec.instances[0].replicas"), "{err}");
}

#[test]
fn patroni_config_merges_user_parameters_under_the_fixed_ones() {
    let mut spec = base_spec();
    spec["patroni"] =
        json!({"dynamicConfiguration": {"postgresql": {"parameters": {"max_connections": 250, "ssl": "off"}}}});
    let d = built(spec);
    let cfg = d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("cluster1-config")).unwrap();
    let text = &cfg.data.as_ref().unwrap()["patroni.yaml"];
    let doc: Value = serde_yaml::from_str(text).unwrap();
    let params = &doc["bootstrap"]["dcs"]["postgresql"]["parameters"];
    assert_eq!(params["max_connections"], json!(250));
    // TLS is part of the layout (pods mount the certificates for it), so the user cannot turn it off.
    assert_eq!(params["ssl"], json!("on"));
    assert_eq!(params["archive_command"], json!("pgbackrest --stanza=db archive-push \"%p\""));
    assert_eq!(doc["scope"], json!("cluster1-ha"));
    assert_eq!(doc["kubernetes"]["namespace"], json!("db"));
}

#[test]
fn cloud_only_repos_need_no_repo_host() {
    let mut spec = base_spec();
    spec["backups"] = json!({"pgbackrest": {"repos": [{"name": "repo2", "s3": {"bucket": "b", "region": "eu-west-1", "endpoint": "s3.example.com"}}]}});
    let d = built(spec);
    assert!(!names(&d.stateful_sets).contains(&"cluster1-repo-host".to_string()));
    assert!(!names(&d.persistent_volume_claims).contains(&"cluster1-repo2".to_string()));
    let cfg = d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("cluster1-pgbackrest-config")).unwrap();
    let conf = &cfg.data.as_ref().unwrap()["pgbackrest_instance.conf"];
    assert!(conf.contains("repo2-type = s3") && conf.contains("repo2-s3-bucket = b"), "{conf}");
    // Backups off: no pgBackRest objects or sidecars at all.
    let mut spec = base_spec();
    spec["backups"] = json!({"enabled": false});
    let d = built(spec);
    assert!(!names(&d.config_maps).contains(&"cluster1-pgbackrest-config".to_string()));
    let pod = sts(&d, "cluster1-instance1-i000").spec.clone().unwrap().template.spec.unwrap();
    assert!(pod.containers.iter().all(|c| !c.name.starts_with("pgbackrest")));
}

#[test]
fn standby_follows_a_repo_or_a_host() {
    let dcs = |standby: Value| {
        let mut spec = base_spec();
        spec["standby"] = standby;
        let d = built(spec);
        let cfg = d.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some("cluster1-config")).unwrap();
        let doc: Value = serde_yaml::from_str(&cfg.data.as_ref().unwrap()["patroni.yaml"]).unwrap();
        doc["bootstrap"]["dcs"].clone()
    };
    let by_repo = dcs(json!({"enabled": true, "repoName": "repo1"}));
    assert_eq!(by_repo["standby_cluster"]["create_replica_methods"], json!(["pgbackrest"]));
    assert!(by_repo["standby_cluster"]["restore_command"].as_str().unwrap().contains("--repo=1"));
    let by_host = dcs(json!({"enabled": true, "host": "main.example.com", "port": 6543}));
    assert_eq!(by_host["standby_cluster"]["host"], json!("main.example.com"));
    assert_eq!(by_host["standby_cluster"]["port"], json!(6543));
    assert!(dcs(json!({"enabled": false, "host": "x"})).get("standby_cluster").is_none());
}

#[test]
fn malformed_free_form_fields_are_reported_not_dropped() {
    let mut spec = base_spec();
    spec["instances"][0]["containers"] = json!({"replicaCertCopy": {"resources": {"limits": "lots"}}});
    let cr = cluster(spec);
    let err = build(&cr, &inputs(&cr)).unwrap_err();
    assert!(err.to_string().contains("replicaCertCopy.resources"), "{err}");
    let mut spec = base_spec();
    spec["instances"][0]["extraVolumes"] = json!([{"mountPath": "/x"}]);
    let cr = cluster(spec);
    let err = build(&cr, &inputs(&cr)).unwrap_err();
    assert!(err.to_string().contains("extraVolumes"), "{err}");
}
