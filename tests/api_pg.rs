//! The PostgreSQL (pgv2.percona.com/v2) model: round trips, validation messages, defaults and CRDs.

use std::path::{Path, PathBuf};

use dbdeck::api::pg::{
    PerconaPGBackup, PerconaPGCluster, PerconaPGClusterSpec, PerconaPGRestore, default_postgres_image,
};
use dbdeck::api::{AnyResource, ParseError, Problems, Validate};
use kube::CustomResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples")
}

/// Every non-empty YAML document of a file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .map(|y: serde_yaml::Value| serde_json::to_value(y).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// Equality of JSON values, except that a number and a string holding the same number are equal: Kubernetes
/// quantities (`cpu: 2.0`) come back from k8s-openapi's `Quantity` as strings (`"2"`), the same
/// normalisation an API server applies. Every other difference counts.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        _ => a == b,
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) -> Value {
    let typed: T = serde_path_to_error::deserialize(v.clone()).unwrap_or_else(|e| panic!("{}: {e}", e.path()));
    serde_json::to_value(&typed).unwrap()
}

/// Deserialises into the typed model and back, directly and through the registry, and validates.
fn check_round_trip_and_valid(label: &str, doc: &Value) {
    let back = match doc["kind"].as_str() {
        Some("PerconaPGCluster") => round_trip::<PerconaPGCluster>(doc),
        Some("PerconaPGBackup") => round_trip::<PerconaPGBackup>(doc),
        Some("PerconaPGRestore") => round_trip::<PerconaPGRestore>(doc),
        other => panic!("{label}: unexpected kind {other:?}"),
    };
    assert!(
        same(doc, &back),
        "{label}: round trip changed the document\nbefore: {}\nafter:  {}",
        serde_json::to_string_pretty(doc).unwrap(),
        serde_json::to_string_pretty(&back).unwrap()
    );
    let any = AnyResource::from_value(doc.clone()).unwrap_or_else(|e| panic!("{label}: {e}"));
    assert!(same(doc, &any.to_value()), "{label}: AnyResource round trip changed the document");
    let problems = any.validate();
    assert!(problems.is_empty(), "{label}: unexpected problems:\n{problems}");
}

#[test]
fn our_examples_round_trip_and_validate() {
    let mut seen = 0;
    for name in ["pg-minimal.yaml", "pg-full.yaml", "pg-backup.yaml", "pg-restore.yaml"] {
        for (i, doc) in documents(&examples_dir().join(name)).iter().enumerate() {
            check_round_trip_and_valid(&format!("{name}#{i}"), doc);
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
}

/// pg-full.yaml is meant to use every field of the model: nothing may land in an `extra` map except the
/// per-extension switches, which the model keeps open on purpose.
#[test]
fn full_example_uses_only_typed_fields() {
    let doc = documents(&examples_dir().join("pg-full.yaml")).remove(0);
    let pg: PerconaPGCluster = serde_json::from_value(doc).unwrap();
    let s = &pg.spec;
    assert!(s.extra.is_empty(), "untyped spec fields: {:?}", s.extra.keys());
    for set in s.instances.as_ref().unwrap() {
        assert!(set.extra.is_empty(), "untyped instance fields: {:?}", set.extra.keys());
    }
    let bouncer = s.proxy.as_ref().unwrap().pg_bouncer.as_ref().unwrap();
    assert!(bouncer.extra.is_empty(), "untyped pgBouncer fields: {:?}", bouncer.extra.keys());
    let backups = s.backups.as_ref().unwrap();
    assert!(backups.extra.is_empty());
    let pgbr = backups.pgbackrest.as_ref().unwrap();
    assert!(pgbr.extra.is_empty(), "untyped pgbackrest fields: {:?}", pgbr.extra.keys());
    assert!(pgbr.jobs.as_ref().unwrap().extra.is_empty());
    assert!(pgbr.repo_host.as_ref().unwrap().extra.is_empty());
    assert!(s.pmm.as_ref().unwrap().extra.is_empty());
    assert!(s.patroni.as_ref().unwrap().extra.is_empty());
    assert!(s.standby.as_ref().unwrap().extra.is_empty());
    assert!(s.tls.as_ref().unwrap().extra.is_empty());
    assert!(s.log_collector.as_ref().unwrap().extra.is_empty(), "{:?}", s.log_collector.as_ref().unwrap().extra.keys());
    assert!(s.expose.as_ref().unwrap().extra.is_empty());
    assert!(pgbr.manual.as_ref().unwrap().extra.is_empty());
    assert!(pgbr.restore.as_ref().unwrap().extra.is_empty());
    assert!(backups.volume_snapshots.as_ref().unwrap().extra.is_empty());
    for u in s.users.as_ref().unwrap() {
        assert!(u.extra.is_empty());
    }
    let ext = s.extensions.as_ref().unwrap();
    assert_eq!(ext.extra.keys().collect::<Vec<_>>(), ["pg_audit", "pg_stat_monitor", "pgvector"]);
    // Four repos, one of each storage kind.
    let kinds: Vec<_> = pgbr.repos.as_ref().unwrap().iter().map(|r| r.storage_kinds()).collect();
    assert_eq!(kinds, [vec!["volume"], vec!["s3"], vec!["gcs"], vec!["azure"]]);
}

/// Percona's own samples, saved under /tmp/percona-pg/ by whoever runs this locally (not committed).
#[test]
fn percona_samples_round_trip_and_validate_when_present() {
    let dir = Path::new("/tmp/percona-pg");
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("note: {} is absent; Percona's samples were not checked", dir.display());
        return;
    };
    let mut files: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    for f in &files {
        for (i, doc) in documents(f).iter().enumerate() {
            check_round_trip_and_valid(&format!("{}#{i}", f.display()), doc);
        }
    }
    println!("checked {} Percona sample file(s)", files.len());
}

/// A cluster with the status Percona's operator writes keeps every status field.
#[test]
fn status_round_trips() {
    let mut doc = minimal();
    doc["status"] = json!({
        "state": "ready",
        "host": "cluster1-pgbouncer.db.svc",
        "postgres": {"size": 3, "ready": 3, "instances": [{"name": "instance1", "size": 3, "ready": 3}],
                     "version": 18, "imageID": "docker.io/percona/pg@sha256:abc", "distribution": "percona"},
        "pgbouncer": {"size": 3, "ready": 3},
        "patroni": {"status": {"systemIdentifier": "7291"}, "version": "4.1.5"},
        "patroniVersion": "4.1.5",
        "pgbackrest": {"repoHost": {"apiVersion": "apps/v1", "kind": "StatefulSet", "ready": true},
                       "repos": [{"name": "repo1", "bound": true, "stanzaCreated": true, "volume": "pvc-1"}]},
        "installedCustomExtensions": [],
        "conditions": [{"type": "ReadyForBackup", "status": "True", "reason": "Ready", "message": "",
                        "lastTransitionTime": "2026-11-20T10:00:00Z", "observedGeneration": 2}],
        "observedGeneration": 2,
        "standby": {"lagBytes": 0, "lagLastComputedAt": "2026-11-20T10:00:00Z"}
    });
    assert_eq!(round_trip::<PerconaPGCluster>(&doc), doc);
    let b = backup(json!({"pgCluster": "cluster1", "repoName": "repo1"}));
    let mut b = b;
    b["status"] = json!({
        "state": "Succeeded", "jobName": "cluster1-backup-x7k2", "completed": "2026-11-20T10:05:00Z",
        "destination": "s3://bucket/pgbackrest/repo2", "backupType": "full", "storageType": "s3",
        "repo": {"name": "repo2", "s3": {"bucket": "bucket", "endpoint": "e", "region": "r"}},
        "image": "percona/percona-pgbackrest:2.59.0-1", "backupName": "20261120-100000F", "crVersion": "3.1.0",
        "latestRestorableTime": null, "snapshot": {"volumeSnapshotName": "s1", "targetPvcName": "p1"},
        "conditions": [{"type": "BackupLeaseAcquired", "status": "True"}]
    });
    assert_eq!(round_trip::<PerconaPGBackup>(&b), b);
    let mut r = restore(json!({"pgCluster": "cluster1", "repoName": "repo1"}));
    r["status"] =
        json!({"state": "Running", "jobName": "cluster1-pgbackrest-restore", "completed": "2026-11-20T10:05:00Z"});
    assert_eq!(round_trip::<PerconaPGRestore>(&r), r);
}

/// Explicit nulls in free-form sections survive (Percona's sample has `metadata: {labels: null}`-like spots).
#[test]
fn nulls_in_free_form_fields_survive() {
    let mut doc = minimal();
    doc["spec"]["backups"]["pgbackrest"]["metadata"] = json!({"labels": null});
    doc["spec"]["dataSource"] = Value::Null;
    let back = round_trip::<PerconaPGCluster>(&doc);
    assert_eq!(back, doc);
}

// ------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------

fn minimal() -> Value {
    json!({
        "apiVersion": "pgv2.percona.com/v2",
        "kind": "PerconaPGCluster",
        "metadata": {"name": "cluster1"},
        "spec": {
            "postgresVersion": 18,
            "instances": [{
                "name": "instance1",
                "replicas": 3,
                "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }],
            "backups": {"pgbackrest": {
                "manual": {"repoName": "repo1", "options": ["--type=full"]},
                "repos": [{
                    "name": "repo1",
                    "schedules": {"full": "0 0 * * 6"},
                    "volume": {"volumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
                }]
            }}
        }
    })
}

fn problems_of(doc: Value) -> Problems {
    AnyResource::from_value(doc).unwrap_or_else(|e| panic!("parse failed: {e}")).validate()
}

/// Asserts that exactly one problem sits at `path` and that its message contains `fragment`.
fn expect_problem(problems: &Problems, path: &str, fragment: &str) {
    let at: Vec<_> = problems.iter().filter(|p| p.path == path).collect();
    assert_eq!(at.len(), 1, "expected one problem at {path}, got:\n{problems}");
    assert!(
        at[0].message.contains(fragment),
        "problem at {path} is {:?}, expected it to mention {fragment:?}",
        at[0].message
    );
}

/// Sets the value at a JSON pointer; the last key may be new.
fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = doc.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in document"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer}: parent is not a container"),
    }
    doc
}

#[test]
fn minimal_document_is_valid() {
    assert!(problems_of(minimal()).is_empty());
}

#[test]
fn wrong_type_reports_field_path() {
    let doc = with(minimal(), "/spec/instances/0/replicas", json!("three"));
    match AnyResource::from_value(doc) {
        Err(ParseError::Field { path, message }) => {
            assert_eq!(path, "spec.instances[0].replicas");
            assert!(message.contains("invalid type: string \"three\""), "{message}");
        }
        other => panic!("expected a field error, got {other:?}"),
    }
    let doc = with(minimal(), "/spec/postgresVersion", json!("eighteen"));
    match AnyResource::from_value(doc) {
        Err(ParseError::Field { path, .. }) => assert_eq!(path, "spec.postgresVersion"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn replicas_below_one() {
    let p = problems_of(with(minimal(), "/spec/instances/0/replicas", json!(0)));
    expect_problem(&p, "spec.instances[0].replicas", "at least 1 replica");
}

#[test]
fn postgres_version_range_and_presence() {
    let p = problems_of(with(minimal(), "/spec/postgresVersion", json!(11)));
    expect_problem(&p, "spec.postgresVersion", "11 is not supported: Percona's operator runs PostgreSQL 12 to 19");
    let mut doc = minimal();
    doc["spec"].as_object_mut().unwrap().remove("postgresVersion");
    expect_problem(&problems_of(doc), "spec.postgresVersion", "is required");
}

#[test]
fn instances_required_and_unique() {
    let p = problems_of(with(minimal(), "/spec/instances", json!([])));
    expect_problem(&p, "spec.instances", "at least one instance set");
    let mut doc = minimal();
    let set = doc["spec"]["instances"][0].clone();
    doc["spec"]["instances"] = json!([set.clone(), set]);
    expect_problem(&problems_of(doc), "spec.instances[1].name", "\"instance1\" is used by another instance set");
}

#[test]
fn bad_storage_quantity() {
    let p =
        problems_of(with(minimal(), "/spec/instances/0/dataVolumeClaimSpec/resources/requests/storage", json!("1GB")));
    expect_problem(
        &p,
        "spec.instances[0].dataVolumeClaimSpec.resources.requests.storage",
        "\"1GB\" is not a valid quantity",
    );
    let p = problems_of(with(minimal(), "/spec/instances/0/dataVolumeClaimSpec/resources", json!({})));
    expect_problem(&p, "spec.instances[0].dataVolumeClaimSpec.resources.requests.storage", "is required");
}

#[test]
fn bad_cpu_quantity() {
    let p = problems_of(with(minimal(), "/spec/instances/0/resources", json!({"limits": {"cpu": "lots"}})));
    expect_problem(&p, "spec.instances[0].resources.limits.cpu", "\"lots\" is not a valid quantity");
}

#[test]
fn bad_cron_schedule() {
    let p = problems_of(with(minimal(), "/spec/backups/pgbackrest/repos/0/schedules/full", json!("0 0 * *")));
    expect_problem(&p, "spec.backups.pgbackrest.repos[0].schedules.full", "expected 5 fields");
}

#[test]
fn manual_backup_names_missing_repo() {
    let p = problems_of(with(minimal(), "/spec/backups/pgbackrest/manual/repoName", json!("repo2")));
    expect_problem(
        &p,
        "spec.backups.pgbackrest.manual.repoName",
        "\"repo2\" is not defined in spec.backups.pgbackrest.repos (defined: repo1)",
    );
}

#[test]
fn repo_needs_exactly_one_storage_and_a_valid_name() {
    let p = problems_of(with(
        minimal(),
        "/spec/backups/pgbackrest/repos/0/s3",
        json!({"bucket": "b", "endpoint": "e", "region": "r"}),
    ));
    expect_problem(
        &p,
        "spec.backups.pgbackrest.repos[0]",
        "exactly one storage of volume, s3, gcs or azure; found volume and s3",
    );
    let p = problems_of(with(minimal(), "/spec/backups/pgbackrest/repos/0/name", json!("nightly")));
    expect_problem(&p, "spec.backups.pgbackrest.repos[0].name", "\"nightly\" is not a pgBackRest repo name");
    let p = problems_of(with(
        minimal(),
        "/spec/backups/pgbackrest/repos/0",
        json!({"name": "repo1", "s3": {"bucket": "b"}}),
    ));
    expect_problem(&p, "spec.backups.pgbackrest.repos[0].s3.region", "is required for an S3 repository");
}

#[test]
fn backups_enabled_need_a_repo() {
    let p = problems_of(with(minimal(), "/spec/backups", json!({"pgbackrest": {"repos": []}})));
    expect_problem(&p, "spec.backups.pgbackrest.repos", "at least one repository");
    // Disabled backups need none.
    assert!(problems_of(with(minimal(), "/spec/backups", json!({"enabled": false}))).is_empty());
}

#[test]
fn pgbouncer_replicas_not_negative() {
    let p = problems_of(with(minimal(), "/spec/proxy", json!({"pgBouncer": {"replicas": -1}})));
    expect_problem(&p, "spec.proxy.pgBouncer.replicas", "-1 is negative");
    assert!(problems_of(with(minimal(), "/spec/proxy", json!({"pgBouncer": {"replicas": 0}}))).is_empty());
}

#[test]
fn cluster_name_rules() {
    let p = problems_of(with(minimal(), "/metadata/name", json!("a-very-long-cluster-name")));
    expect_problem(&p, "metadata.name", "is 24 characters long; at most 22 are allowed");
    let p = problems_of(with(minimal(), "/metadata", json!({})));
    expect_problem(&p, "metadata.name", "is required");
    let p = problems_of(with(minimal(), "/metadata/name", json!("1cluster")));
    expect_problem(&p, "metadata.name", "must start with a letter");
}

#[test]
fn forbidden_combinations() {
    let p = problems_of(with(
        minimal(),
        "/spec/extensions",
        json!({"pg_stat_monitor": {"enabled": true}, "pg_stat_statements": {"enabled": true}}),
    ));
    expect_problem(&p, "spec.extensions", "cannot both be enabled");
    let p = problems_of(with(minimal(), "/spec/secrets", json!({"customTLSSecret": {"name": "x"}})));
    expect_problem(&p, "spec.secrets", "must be given together");
    let p = problems_of(with(minimal(), "/spec/standby", json!({"enabled": true})));
    expect_problem(&p, "spec.standby", "needs a source");
    let p = problems_of(with(
        minimal(),
        "/spec/patroni",
        json!({"dynamicConfiguration": {"postgresql": {"parameters": {"wal_level": "minimal"}}}}),
    ));
    expect_problem(
        &p,
        "spec.patroni.dynamicConfiguration.postgresql.parameters.wal_level",
        "\"minimal\" is not allowed",
    );
}

#[test]
fn logical_replica_rules() {
    let mut doc = with(minimal(), "/spec/postgresVersion", json!(16));
    doc["spec"]["logicalReplicas"] = json!([
        {"name": "instance1", "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"name": "reports", "bootstrapMethod": "rsync"}
    ]);
    let p = problems_of(doc);
    expect_problem(&p, "spec.logicalReplicas", "need PostgreSQL 17 or newer");
    expect_problem(&p, "spec.logicalReplicas[0].name", "also an instance set name");
    expect_problem(&p, "spec.logicalReplicas[1].bootstrapMethod", "\"rsync\" is not supported");
    expect_problem(&p, "spec.logicalReplicas[1].dataVolumeClaimSpec", "is required");
}

#[test]
fn all_problems_are_reported_at_once() {
    let mut doc = minimal();
    doc["spec"]["postgresVersion"] = json!(30);
    doc["spec"]["instances"][0]["replicas"] = json!(0);
    doc["spec"]["backups"]["pgbackrest"]["repos"][0]["schedules"]["full"] = json!("every day");
    doc["spec"]["port"] = json!(80);
    let p = problems_of(doc);
    let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.postgresVersion",
            "spec.port",
            "spec.instances[0].replicas",
            "spec.backups.pgbackrest.repos[0].schedules.full"
        ],
        "{p}"
    );
}

fn backup(spec: Value) -> Value {
    json!({"apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGBackup", "metadata": {"name": "b1"}, "spec": spec})
}

fn restore(spec: Value) -> Value {
    json!({"apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGRestore", "metadata": {"name": "r1"}, "spec": spec})
}

#[test]
fn backup_rules() {
    let p = problems_of(backup(json!({"repoName": "repo1"})));
    expect_problem(&p, "spec.pgCluster", "is required");
    let p = problems_of(backup(json!({"pgCluster": "cluster1"})));
    expect_problem(&p, "spec.repoName", "is required for a pgBackRest backup");
    let p = problems_of(backup(
        json!({"pgCluster": "cluster1", "repoName": "repo7", "options": ["--type=weekly", "full"]}),
    ));
    expect_problem(&p, "spec.repoName", "\"repo7\" is not a pgBackRest repo name");
    expect_problem(&p, "spec.options[0]", "--type=weekly is not supported");
    expect_problem(&p, "spec.options[1]", "\"full\" is not a pgBackRest option");
    // A snapshot backup needs no repo.
    assert!(problems_of(backup(json!({"pgCluster": "cluster1", "method": "volumeSnapshot"}))).is_empty());
}

#[test]
fn restore_rules() {
    let p = problems_of(restore(json!({"pgCluster": "cluster1"})));
    expect_problem(&p, "spec.repoName", "or set volumeSnapshotBackupName");
    let p = problems_of(restore(json!({"pgCluster": "cluster1", "repoName": "repo1", "options": ["--type=time"]})));
    expect_problem(&p, "spec.options", "also needs --target=");
    let p = problems_of(restore(json!({"repoName": "repo1"})));
    expect_problem(&p, "spec.pgCluster", "is required");
}

#[test]
fn backup_and_restore_against_their_cluster() {
    let cluster: PerconaPGCluster = serde_json::from_value(minimal()).unwrap();
    let b: PerconaPGBackup =
        serde_json::from_value(backup(json!({"pgCluster": "cluster1", "repoName": "repo3"}))).unwrap();
    expect_problem(
        &b.validate_against(&cluster),
        "spec.repoName",
        "\"repo3\" is not a repo of cluster \"cluster1\" (defined: repo1)",
    );
    let r: PerconaPGRestore =
        serde_json::from_value(restore(json!({"pgCluster": "other", "repoName": "repo1"}))).unwrap();
    expect_problem(&r.validate_against(&cluster), "spec.pgCluster", "names cluster \"other\", not \"cluster1\"");
    let ok: PerconaPGBackup =
        serde_json::from_value(backup(json!({"pgCluster": "cluster1", "repoName": "repo1"}))).unwrap();
    assert!(ok.validate_against(&cluster).is_empty());
}

// ------------------------------------------------------------------------------------------------
// Defaults
// ------------------------------------------------------------------------------------------------

#[test]
fn defaults_of_a_minimal_cluster() {
    let doc = documents(&examples_dir().join("pg-minimal.yaml")).remove(0);
    let pg: PerconaPGCluster = serde_json::from_value(doc).unwrap();
    let d: PerconaPGClusterSpec = pg.spec.with_defaults("orders-db");
    assert_eq!(d.cr_version.as_deref(), Some("3.1.0"));
    assert_eq!(d.image.as_deref(), default_postgres_image(18));
    assert_eq!(d.image.as_deref(), Some("percona/percona-distribution-postgresql:18.6.1-1"));
    assert_eq!(d.port, Some(5432));
    assert_eq!(d.auto_create_user_schema, Some(true));
    assert_eq!(d.tls.as_ref().unwrap().cert_management_policy.as_deref(), Some("auto"));
    let patroni = d.patroni.as_ref().unwrap();
    assert_eq!(
        (patroni.sync_period_seconds, patroni.leader_lease_duration_seconds, patroni.port),
        (Some(10), Some(30), Some(8008))
    );
    let set = &d.instances.as_ref().unwrap()[0];
    assert_eq!(set.replicas, Some(3), "a set value is kept");
    assert!(set.affinity.as_ref().unwrap().pod_anti_affinity.is_some());
    // No pgBouncer unless asked for (crVersion >= 2.9.0).
    assert!(d.proxy.is_none());
    let backups = d.backups.as_ref().unwrap();
    assert_eq!(backups.enabled, Some(true));
    assert_eq!(backups.track_latest_restorable_time, Some(true));
    let pgbr = backups.pgbackrest.as_ref().unwrap();
    assert_eq!(pgbr.image.as_deref(), Some("percona/percona-pgbackrest:2.59.0-1"));
    assert!(pgbr.jobs.is_some());
    let ext = d.extensions.as_ref().unwrap();
    assert_eq!(ext.extra["pg_audit"], json!({"enabled": true}));
    assert_eq!(ext.extra["pg_stat_monitor"], json!({"enabled": false}));
    // Defaults never make a valid spec invalid.
    let mut defaulted = pg.clone();
    defaulted.spec = d;
    assert!(defaulted.validate().is_empty(), "{}", defaulted.validate());
}

#[test]
fn defaults_fill_pgbouncer_and_storage() {
    let mut doc = minimal();
    doc["spec"]["proxy"] = json!({"pgBouncer": {}});
    doc["spec"]["instances"] = json!([{}]);
    doc["spec"]["backups"]["pgbackrest"]["repos"][0]["volume"] = json!({});
    let pg: PerconaPGCluster = serde_json::from_value(doc).unwrap();
    let d = pg.spec.with_defaults("cluster1");
    let b = d.proxy.unwrap().pg_bouncer.unwrap();
    assert_eq!((b.replicas, b.port), (Some(1), Some(5432)));
    assert_eq!(b.image.as_deref(), Some("percona/percona-pgbouncer:1.25.2-6"));
    let set = &d.instances.as_ref().unwrap()[0];
    assert_eq!(set.name.as_deref(), Some("00"));
    assert_eq!(set.replicas, Some(1));
    let claim = serde_json::to_value(set.data_volume_claim_spec.as_ref().unwrap()).unwrap();
    assert_eq!(claim, json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}));
    let repo = &d.backups.unwrap().pgbackrest.unwrap().repos.unwrap()[0];
    let claim = serde_json::to_value(repo.volume.as_ref().unwrap().volume_claim_spec.as_ref().unwrap()).unwrap();
    assert_eq!(claim["resources"]["requests"]["storage"], json!("1Gi"));
}

// ------------------------------------------------------------------------------------------------
// CRDs (structural schemas and the snapshot of `dbdeck crd` are in tests/crd.rs)
// ------------------------------------------------------------------------------------------------

#[test]
fn crd_cluster() {
    let crd = PerconaPGCluster::crd();
    assert_eq!(crd.spec.names.short_names, Some(vec!["pg".to_string()]));
    let v = serde_json::to_value(&crd).unwrap();
    assert_eq!(v["spec"]["scope"], "Namespaced");
    assert_eq!(v["spec"]["versions"][0]["subresources"], json!({"status": {}}));
    let columns: Vec<_> = v["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Endpoint", "Status", "Postgres", "PGBouncer", "Age"]);
}

#[test]
fn crd_backup() {
    let crd = PerconaPGBackup::crd();
    assert_eq!(crd.spec.names.short_names, Some(vec!["pg-backup".to_string()]));
    let v = serde_json::to_value(&crd).unwrap();
    let columns: Vec<_> = v["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Cluster", "Repo", "Destination", "Status", "Type", "Completed", "Age"]);
}

#[test]
fn crd_restore() {
    let crd = PerconaPGRestore::crd();
    assert_eq!(crd.spec.names.short_names, Some(vec!["pg-restore".to_string()]));
    let v = serde_json::to_value(&crd).unwrap();
    let columns: Vec<_> = v["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Cluster", "Status", "Completed", "Age"]);
}

#[test]
fn replicas_have_a_safe_maximum_lifted_by_an_annotation_and_a_ceiling() {
    let doc = with(minimal(), "/spec/instances/0/replicas", json!(100000));
    expect_problem(&problems_of(doc.clone()), "spec.instances[0].replicas", "100000 is above dbdeck's limit of 1000");
    let annotated = with(doc, "/metadata/annotations", json!({"dbdeck.io/allow-unsafe-size": "true"}));
    expect_problem(&problems_of(annotated), "spec.instances[0].replicas", "limit of 1000; no setting allows more");

    let doc = with(minimal(), "/spec/instances/0/replicas", json!(20));
    expect_problem(&problems_of(doc.clone()), "spec.instances[0].replicas", "20 is above the safe maximum of 16");
    expect_problem(&problems_of(doc.clone()), "spec.instances[0].replicas", "dbdeck.io/allow-unsafe-size");
    let annotated = with(doc, "/metadata/annotations", json!({"dbdeck.io/allow-unsafe-size": "true"}));
    assert!(problems_of(annotated).is_empty());
}

#[test]
fn user_secret_names_images_and_requests_are_checked() {
    let doc = with(minimal(), "/spec/users", json!([{"name": "app", "secretName": "Bad_Secret"}]));
    expect_problem(&problems_of(doc), "spec.users[0].secretName", "\"Bad_Secret\" is not a valid Secret name");
    let doc = with(minimal(), "/spec/image", json!(":::"));
    expect_problem(&problems_of(doc), "spec.image", "not a valid image reference");
    let doc =
        with(minimal(), "/spec/instances/0/resources", json!({"requests": {"cpu": "4"}, "limits": {"cpu": "500m"}}));
    expect_problem(&problems_of(doc), "spec.instances[0].resources.requests.cpu", "larger than the limit 500m");
}
