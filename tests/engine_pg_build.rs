//! The PerconaPGCluster build against Percona's own end-to-end asserts (as our fixtures), plus snapshots of the
//! objects built for the shipped examples.

use std::collections::BTreeMap;

use dbdeck::api::pg::PerconaPGCluster;
use dbdeck::engine::pg::secrets::scram_sha256_verifier;
use dbdeck::engine::pg::{
    CertPair, PgBuildInputs, PgCertificates, UserCredentials, build, instance_counts, user_names,
};
use serde::Deserialize;
use serde_json::Value;

/// Checks that every field of `expected` is present with an equal value in `actual` (maps: key by key; lists:
/// same length, item by item — the rule kuttl applies to its asserts). The error names the first mismatching path.
fn is_subset(expected: &Value, actual: &Value) -> Result<(), String> {
    fn walk(path: &mut Vec<String>, e: &Value, a: &Value) -> Result<(), String> {
        let here = |path: &Vec<String>| if path.is_empty() { "(root)".to_string() } else { path.join("") };
        match (e, a) {
            (Value::Object(em), Value::Object(am)) => {
                for (k, ev) in em {
                    path.push(format!(".{k}"));
                    let av = am.get(k).ok_or_else(|| format!("{}: missing", here(path)))?;
                    walk(path, ev, av)?;
                    path.pop();
                }
                Ok(())
            }
            (Value::Array(ea), Value::Array(aa)) => {
                if ea.len() != aa.len() {
                    return Err(format!("{}: expected {} items, found {}", here(path), ea.len(), aa.len()));
                }
                for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                    path.push(format!("[{i}]"));
                    walk(path, ev, av)?;
                    path.pop();
                }
                Ok(())
            }
            _ if e == a => Ok(()),
            _ => Err(format!("{}: expected {e}, found {a}", here(path))),
        }
    }
    walk(&mut Vec::new(), expected, actual)
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/pg/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load_cluster(text: &str) -> PerconaPGCluster {
    let mut cr: PerconaPGCluster = serde_yaml::from_str(text).expect("cluster parses");
    cr.metadata.namespace.get_or_insert_with(|| "pg".into());
    cr.metadata.uid.get_or_insert_with(|| "6f1d2a34-0000-4000-8000-000000000001".into());
    cr
}

fn pair(what: &str) -> CertPair {
    // Fixed stand-ins so snapshots are stable; real certificates come from `secrets::generate_certificates`.
    CertPair {
        cert_pem: format!("-----BEGIN CERTIFICATE-----\ntest {what} certificate\n-----END CERTIFICATE-----\n"),
        key_pem: format!("-----BEGIN PRIVATE KEY-----\ntest {what} key\n-----END PRIVATE KEY-----\n"),
    }
}

/// Deterministic inputs: suffixes `a000`, `a001`, ... per set, a fixed password per user, stand-in certificates.
fn inputs_for(cr: &PerconaPGCluster) -> PgBuildInputs {
    let mut inputs = PgBuildInputs::default();
    for (set_index, (set, count)) in instance_counts(cr).into_iter().enumerate() {
        let letter = (b'a' + set_index as u8) as char;
        inputs.instance_suffixes.insert(set, (0..count).map(|i| format!("{letter}{i:03}")).collect());
    }
    let creds = |user: &str| {
        let password = format!("pw-{user}");
        UserCredentials { verifier: scram_sha256_verifier(&password, b"0123456789abcdef", 4096), password }
    };
    for user in user_names(cr) {
        inputs.users.insert(user.clone(), creds(&user));
    }
    inputs.pgbouncer_auth = Some(creds("_crunchypgbouncer"));
    inputs.certificates = Some(PgCertificates {
        ca: pair("ca"),
        cluster: pair("cluster"),
        replication: pair("replication"),
        pgbackrest: pair("pgbackrest"),
    });
    inputs
}

fn built(cr: &PerconaPGCluster) -> Vec<Value> {
    build(cr, &inputs_for(cr)).expect("cluster builds").to_values().expect("objects serialise")
}

#[test]
fn init_deploy_satisfies_percona_e2e_asserts() {
    let cr = load_cluster(&fixture("init-deploy-cluster.yaml"));
    let objects = built(&cr);
    let text = fixture("init-deploy-expected.yaml");
    let mut checked = 0;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let expected = Value::deserialize(doc).expect("expected fixture parses");
        if expected.is_null() {
            continue;
        }
        let kind = &expected["kind"];
        let candidates: Vec<&Value> = objects.iter().filter(|o| &o["kind"] == kind).collect();
        let results: Vec<String> = candidates.iter().filter_map(|a| is_subset(&expected, a).err()).collect();
        assert!(
            results.len() < candidates.len(),
            "no built {kind} contains {}:\n  {}",
            expected["metadata"]["name"],
            results.join("\n  ")
        );
        checked += 1;
    }
    assert_eq!(checked, 13, "every asserted object was checked");
}

#[test]
fn init_deploy_builds_the_reference_object_names() {
    let cr = load_cluster(&fixture("init-deploy-cluster.yaml"));
    let names: BTreeMap<String, Vec<String>> = built(&cr).iter().fold(BTreeMap::new(), |mut m, o| {
        let kind = o["kind"].as_str().unwrap().to_string();
        m.entry(kind).or_default().push(o["metadata"]["name"].as_str().unwrap().to_string());
        m
    });
    let c = "init-deploy";
    let sts: Vec<String> = (0..3).map(|i| format!("{c}-instance1-a00{i}")).chain([format!("{c}-repo-host")]).collect();
    assert_eq!(names["StatefulSet"], sts);
    assert_eq!(names["Deployment"], [format!("{c}-pgbouncer")]);
    let mut services = names["Service"].clone();
    services.sort();
    let mut want: Vec<String> =
        ["ha", "ha-config", "pgbouncer", "pods", "primary", "replicas"].iter().map(|s| format!("{c}-{s}")).collect();
    want.sort();
    assert_eq!(services, want);
    for secret in [
        "pguser-init-deploy",
        "pguser-postgres",
        "cluster-cert",
        "cluster-ca-cert",
        "replication-cert",
        "pgbackrest",
        "pgbouncer",
    ] {
        assert!(names["Secret"].contains(&format!("{c}-{secret}")), "Secret {c}-{secret}");
    }
    for cm in ["config", "instance1-a000-config", "pgbackrest-config", "pgbouncer"] {
        assert!(names["ConfigMap"].contains(&format!("{c}-{cm}")), "ConfigMap {c}-{cm}");
    }
    assert!(names["PersistentVolumeClaim"].contains(&format!("{c}-instance1-a002-pgdata")));
    assert!(names["PersistentVolumeClaim"].contains(&format!("{c}-repo1")));
    assert_eq!(names["PodDisruptionBudget"], [format!("{c}-set-instance1"), format!("{c}-pgbouncer")]);
}

#[test]
fn subset_matcher_reports_the_mismatching_path() {
    let actual = serde_json::json!({"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 5432}]}});
    assert!(is_subset(&serde_json::json!({"metadata": {"labels": {"a": "1"}}}), &actual).is_ok());
    assert_eq!(
        is_subset(&serde_json::json!({"metadata": {"labels": {"a": "2"}}}), &actual).unwrap_err(),
        ".metadata.labels.a: expected \"2\", found \"1\""
    );
    assert_eq!(
        is_subset(&serde_json::json!({"metadata": {"name": "x"}}), &actual).unwrap_err(),
        ".metadata.name: missing"
    );
    assert_eq!(
        is_subset(&serde_json::json!({"spec": {"ports": [{"port": 6432}]}}), &actual).unwrap_err(),
        ".spec.ports[0].port: expected 6432, found 5432"
    );
    assert!(is_subset(&serde_json::json!({"spec": {"ports": []}}), &actual).unwrap_err().contains("expected 0 items"));
}

fn example(name: &str) -> PerconaPGCluster {
    let path = format!("{}/deploy/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    load_cluster(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

#[test]
fn snapshot_pg_minimal() {
    insta::assert_yaml_snapshot!("pg_minimal", built(&example("pg-minimal.yaml")));
}

#[test]
fn snapshot_pg_full() {
    insta::assert_yaml_snapshot!("pg_full", built(&example("pg-full.yaml")));
}
