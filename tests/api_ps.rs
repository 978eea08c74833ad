//! The ps.percona.com/v1 model end to end: examples and Percona's own samples round-trip and validate,
//! bad manifests give precise problems, defaults, and the three CRDs (snapshot + structural schema).

use std::path::{Path, PathBuf};

use dbdeck::api::AnyResource;
use dbdeck::api::ps::{
    PerconaServerMySQL, PerconaServerMySQLBackup, PerconaServerMySQLRestore, PerconaServerMySQLSpec, pruned_fields,
};
use kube::CustomResourceExt;
use serde::Deserialize;
use serde_json::{Value, json};

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/examples exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ps-") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    files
}

/// Typed round trip for the right kind, then the registry parse + validate.
fn round_trip_and_validate(label: &str, doc: &Value) {
    let typed = match doc["kind"].as_str() {
        Some("PerconaServerMySQL") => {
            serde_json::to_value(serde_json::from_value::<PerconaServerMySQL>(doc.clone()).expect(label)).unwrap()
        }
        Some("PerconaServerMySQLBackup") => {
            serde_json::to_value(serde_json::from_value::<PerconaServerMySQLBackup>(doc.clone()).expect(label)).unwrap()
        }
        Some("PerconaServerMySQLRestore") => {
            serde_json::to_value(serde_json::from_value::<PerconaServerMySQLRestore>(doc.clone()).expect(label))
                .unwrap()
        }
        other => panic!("{label}: unexpected kind {other:?}"),
    };
    assert_eq!(pruned_fields(doc, &typed), Vec::<String>::new(), "{label}: fields lost in the round trip");
    assert_eq!(&typed, doc, "{label}: round trip changed the document");

    let any = AnyResource::from_value(doc.clone()).unwrap_or_else(|e| panic!("{label}: {e}"));
    assert_eq!(&any.to_value(), doc, "{label}: registry round trip changed the document");
    let problems = any.validate();
    assert!(problems.is_empty(), "{label}: unexpected problems:\n{problems}");
}

#[test]
fn examples_round_trip_and_validate() {
    let files = examples();
    let names: Vec<_> = files.iter().filter_map(|p| p.file_name()?.to_str()).collect();
    for want in ["ps-minimal.yaml", "ps-full.yaml", "ps-backup.yaml", "ps-restore.yaml", "ps-async-minimal.yaml"] {
        assert!(names.contains(&want), "missing example {want}");
    }
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, doc) in docs(&text).iter().enumerate() {
            round_trip_and_validate(&format!("{}#{i}", file.display()), doc);
        }
    }
}

#[test]
fn percona_samples_round_trip_and_validate_when_present() {
    let dir = Path::new("/tmp/percona-ps");
    let mut seen = 0;
    for name in ["cr.yaml", "backup.yaml", "restore.yaml"] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("note: {} is absent; Percona's sample is not checked here", path.display());
            continue;
        };
        for (i, doc) in docs(&text).iter().enumerate() {
            round_trip_and_validate(&format!("{}#{i}", path.display()), doc);
            seen += 1;
        }
    }
    println!("checked {seen} Percona sample document(s)");
}

fn crd_schema<K: CustomResourceExt>() -> Value {
    let crd = serde_json::to_value(K::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Our own struct schemas are walked; Kubernetes types (and free-form values) are leaves: the example
/// only has to contain the key.
fn is_k8s_leaf(name: &str, node: &Value) -> bool {
    const K8S: [&str; 17] = [
        "resources",
        "tolerations",
        "topologySpreadConstraints",
        "podSecurityContext",
        "containerSecurityContext",
        "startupProbe",
        "readinessProbe",
        "livenessProbe",
        "env",
        "envFrom",
        "imagePullSecrets",
        "persistentVolumeClaim",
        "emptyDir",
        "hostPath",
        "ports",
        "advanced",
        "sidecarResources",
    ];
    let ours_affinity = node["properties"].get("antiAffinityTopologyKey").is_some();
    K8S.contains(&name)
        || (name == "affinity" && !ours_affinity)
        || (name == "spec" && node["properties"].get("accessModes").is_some())
}

/// Every field definition (name + schema) reachable from `schema`, with one path where it occurs.
/// Kubernetes types are leaves.
fn model_fields(path: &str, schema: &Value, out: &mut std::collections::BTreeMap<String, String>) {
    let schema = if schema["type"] == "array" { &schema["items"] } else { schema };
    let schema = schema.get("additionalProperties").filter(|v| v.is_object()).unwrap_or(schema);
    let Some(props) = schema["properties"].as_object() else { return };
    for (name, sub) in props {
        let p = format!("{path}.{name}");
        let key = format!("{name} {sub}");
        if out.insert(key, p.clone()).is_none() && !is_k8s_leaf(name, sub) {
            model_fields(&p, sub, out);
        }
    }
}

/// The field definitions `docs` actually set, walking the documents along the schema.
fn used_fields(schema: &Value, docs: Vec<&Value>, out: &mut std::collections::BTreeSet<String>) {
    let (schema, docs): (&Value, Vec<&Value>) = if schema["type"] == "array" {
        (&schema["items"], docs.into_iter().flat_map(|d| d.as_array().into_iter().flatten()).collect())
    } else if let Some(inner) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        (inner, docs.into_iter().flat_map(|d| d.as_object().into_iter().flat_map(|m| m.values())).collect())
    } else {
        (schema, docs)
    };
    let Some(props) = schema["properties"].as_object() else { return };
    for (name, sub) in props {
        let present: Vec<&Value> = docs.iter().filter_map(|d| d.get(name)).collect();
        if !present.is_empty() {
            out.insert(format!("{name} {sub}"));
            if !is_k8s_leaf(name, sub) {
                used_fields(sub, present, out);
            }
        }
    }
}

fn example_docs(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples").join(name);
    docs(&std::fs::read_to_string(path).unwrap())
}

/// Every field the model defines is set somewhere in the full examples (a field shared by several
/// components, e.g. `size` or `expose`, counts once).
#[test]
fn full_examples_use_every_field_of_the_model() {
    let schemas = [
        crd_schema::<PerconaServerMySQL>(),
        crd_schema::<PerconaServerMySQLBackup>(),
        crd_schema::<PerconaServerMySQLRestore>(),
    ];
    let files = ["ps-full.yaml", "ps-backup.yaml", "ps-restore.yaml"];
    // Types shared between kinds (storages, binlog server) may be covered by any of the three files.
    let mut used = std::collections::BTreeSet::new();
    for (file, schema) in files.iter().zip(&schemas) {
        let docs = example_docs(file);
        used_fields(&schema["properties"]["spec"], docs.iter().map(|d| &d["spec"]).collect(), &mut used);
    }
    for (file, schema) in files.iter().zip(&schemas) {
        let mut all = std::collections::BTreeMap::new();
        model_fields("spec", &schema["properties"]["spec"], &mut all);
        let mut missing: Vec<&String> = all.iter().filter(|(k, _)| !used.contains(*k)).map(|(_, p)| p).collect();
        missing.sort();
        assert!(missing.is_empty(), "{file} (with the other full examples) does not set: {missing:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bad inputs

fn minimal() -> Value {
    example_docs("ps-minimal.yaml").remove(0)
}

fn async_minimal() -> Value {
    example_docs("ps-async-minimal.yaml").remove(0)
}

/// Sets the value at a JSON pointer, creating missing objects on the way (list items must exist).
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut cur = doc;
    for part in pointer.split('/').skip(1) {
        cur = match cur {
            Value::Array(items) => &mut items[part.parse::<usize>().unwrap()],
            other => other.as_object_mut().unwrap().entry(part).or_insert(json!({})),
        };
    }
    *cur = value;
}

fn remove(doc: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    doc.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().remove(key);
}

/// `(path, message)` of every problem, whether from parsing or from validation.
fn problems(doc: Value) -> Vec<(String, String)> {
    match AnyResource::from_value(doc) {
        Err(dbdeck::api::ParseError::Field { path, message }) => vec![(path, message)],
        Err(e) => vec![("(document)".into(), e.to_string())],
        Ok(r) => r.validate().iter().map(|p| (p.path.clone(), p.message.clone())).collect(),
    }
}

#[track_caller]
fn assert_problem(doc: Value, path: &str, fragment: &str) {
    let found = problems(doc);
    assert!(
        found.iter().any(|(p, m)| p == path && m.contains(fragment)),
        "expected a problem at {path} containing {fragment:?}, got {found:#?}"
    );
}

#[test]
fn wrong_type_for_size_reports_its_path() {
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/size", json!("three"));
    assert_problem(doc, "spec.mysql.size", "invalid type: string \"three\"");
}

#[test]
fn wrong_type_deep_in_storage_reports_its_path() {
    let mut doc = minimal();
    set(&mut doc, "/spec/backup/storages/s3/verifyTLS", json!("yes"));
    assert_problem(doc, "spec.backup.storages.s3.verifyTLS", "invalid type");
}

#[test]
fn group_replication_sizes() {
    for (size, fragment) in [(4, "odd number"), (1, "at least 3"), (9, "9 or more are not allowed, use 3, 5 or 7")] {
        let mut doc = minimal();
        set(&mut doc, "/spec/mysql/size", json!(size));
        assert_problem(doc.clone(), "spec.mysql.size", fragment);
        assert_problem(doc.clone(), "spec.mysql.size", "unsafeFlags.mysqlSize");
        set(&mut doc, "/spec/unsafeFlags/mysqlSize", json!(true));
        assert!(problems(doc).is_empty(), "unsafeFlags.mysqlSize overrides size {size}");
    }
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/size", json!(0));
    assert_problem(doc, "spec.mysql.size", "is 0; it must be greater than 0");
    let mut doc = minimal();
    remove(&mut doc, "/spec/mysql/size");
    assert_problem(doc, "spec.mysql.size", "is required");
}

#[test]
fn async_needs_orchestrator_and_haproxy_and_no_router() {
    let mut doc = async_minimal();
    set(&mut doc, "/spec/orchestrator/enabled", json!(false));
    set(&mut doc, "/spec/proxy/haproxy/enabled", json!(false));
    set(&mut doc, "/spec/proxy/router/enabled", json!(true));
    set(&mut doc, "/spec/proxy/router/image", json!("percona/percona-mysql-router:8.4.6"));
    set(&mut doc, "/spec/proxy/router/size", json!(3));
    let found = problems(doc.clone());
    assert_problem(doc.clone(), "spec.orchestrator.enabled", "unsafeFlags.orchestrator");
    assert_problem(doc.clone(), "spec.proxy.haproxy.enabled", "unsafeFlags.proxy");
    assert_problem(doc.clone(), "spec.proxy.router.enabled", "only with group replication");
    assert_problem(doc.clone(), "spec.updateStrategy", "SmartUpdate with clusterType async");
    assert_eq!(found.len(), 4, "all problems at once: {found:#?}");
}

#[test]
fn async_sizes() {
    let mut doc = async_minimal();
    set(&mut doc, "/spec/mysql/size", json!(1));
    set(&mut doc, "/spec/orchestrator/size", json!(2));
    set(&mut doc, "/spec/proxy/haproxy/size", json!(1));
    assert_problem(doc.clone(), "spec.mysql.size", "at least 2 servers");
    assert_problem(doc.clone(), "spec.orchestrator.size", "odd size of at least 3");
    assert_problem(doc.clone(), "spec.proxy.haproxy.size", "unsafeFlags.proxySize");
    for flag in ["mysqlSize", "orchestratorSize", "proxySize"] {
        set(&mut doc, &format!("/spec/unsafeFlags/{flag}"), json!(true));
    }
    assert_eq!(problems(doc), vec![]);
}

#[test]
fn group_replication_needs_one_proxy_not_two() {
    let mut doc = minimal();
    set(&mut doc, "/spec/proxy/haproxy/enabled", json!(false));
    assert_problem(doc.clone(), "spec.proxy", "needs a proxy");
    set(&mut doc, "/spec/unsafeFlags/proxy", json!(true));
    assert_eq!(problems(doc), vec![]);

    let mut doc = minimal();
    set(
        &mut doc,
        "/spec/proxy/router",
        json!({"enabled": true, "size": 1, "image": "percona/percona-mysql-router:8.4.6"}),
    );
    assert_problem(doc.clone(), "spec.proxy", "both enabled");
    assert_problem(doc, "spec.proxy.router.size", "at least 2 pods");
}

#[test]
fn bad_quantities() {
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/volumeSpec/persistentVolumeClaim/resources/requests/storage", json!("10GB"));
    set(
        &mut doc,
        "/spec/mysql/resources",
        json!({"requests": {"memory": "lots"}, "limits": {"cpu": "1", "memory": "1Gi"}}),
    );
    set(&mut doc, "/spec/proxy/haproxy/resources", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}));
    assert_problem(
        doc.clone(),
        "spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage",
        "\"10GB\" is not a valid quantity",
    );
    assert_problem(doc.clone(), "spec.mysql.resources.requests.memory", "\"lots\" is not a valid quantity");
    assert_problem(doc, "spec.proxy.haproxy.resources.requests.cpu", "larger than the limit 500m");
}

#[test]
fn volume_spec_required_and_single() {
    let mut doc = minimal();
    remove(&mut doc, "/spec/mysql/volumeSpec");
    assert_problem(doc, "spec.mysql.volumeSpec", "is required");
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/volumeSpec/emptyDir", json!({}));
    assert_problem(doc, "spec.mysql.volumeSpec", "exactly one volume source");
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/volumeSpec/persistentVolumeClaim", json!({"storageClassName": "fast"}));
    assert_problem(doc, "spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage", "is required");
}

fn with_backup(mut doc: Value) -> Value {
    set(
        &mut doc,
        "/spec/backup",
        json!({
            "enabled": true,
            "image": "percona/percona-xtrabackup:8.4.0-6.1",
            "storages": {"s3-eu": {"type": "s3", "s3": {"bucket": "b", "credentialsSecret": "c"}}},
            "schedule": [{"name": "nightly", "schedule": "0 1 * * *", "keep": 3, "storageName": "s3-eu"}]
        }),
    );
    doc
}

#[test]
fn backup_schedule_cron_and_storage() {
    assert_eq!(problems(with_backup(minimal())), vec![]);
    let mut doc = with_backup(minimal());
    set(&mut doc, "/spec/backup/schedule/0/schedule", json!("0 1 * *"));
    set(&mut doc, "/spec/backup/schedule/0/storageName", json!("s3-us"));
    assert_problem(doc.clone(), "spec.backup.schedule[0].schedule", "expected 5 fields");
    assert_problem(
        doc,
        "spec.backup.schedule[0].storageName",
        "storage \"s3-us\" does not exist in spec.backup.storages (defined: s3-eu)",
    );

    let mut doc = with_backup(minimal());
    remove(&mut doc, "/spec/backup/image");
    set(&mut doc, "/spec/backup/schedule/0/keep", json!(-1));
    assert_problem(doc.clone(), "spec.backup.image", "is required");
    assert_problem(doc, "spec.backup.schedule[0].keep", "must not be negative");
}

#[test]
fn storage_type_must_match_its_section() {
    let mut doc = with_backup(minimal());
    set(&mut doc, "/spec/backup/storages/s3-eu/type", json!("gcs"));
    assert_problem(doc.clone(), "spec.backup.storages.s3-eu.gcs", "type is gcs");
    assert_problem(doc, "spec.backup.storages.s3-eu.s3", "is set but type is gcs");
    let mut doc = with_backup(minimal());
    set(&mut doc, "/spec/backup/storages/s3-eu/type", json!("filesystem"));
    assert_problem(doc, "spec.backup.storages.s3-eu.type", "use s3, gcs or azure");
    let mut doc = with_backup(minimal());
    remove(&mut doc, "/spec/backup/storages/s3-eu/s3/bucket");
    assert_problem(doc, "spec.backup.storages.s3-eu.s3.bucket", "is required");
}

#[test]
fn cluster_name_rules_and_missing_sections() {
    let mut doc = minimal();
    set(&mut doc, "/metadata/name", json!("payments-primary-eu-west"));
    assert_problem(doc, "metadata.name", "at most 22");
    let mut doc = minimal();
    set(&mut doc, "/metadata/name", json!("Shop_DB"));
    assert_problem(doc, "metadata.name", "lower case letters");
    let mut doc = minimal();
    set(&mut doc, "/metadata/name", json!("1shop"));
    assert_problem(doc, "metadata.name", "must start with a letter");
    let mut doc = minimal();
    remove(&mut doc, "/metadata/name");
    assert_problem(doc, "metadata.name", "is required");
    let mut doc = minimal();
    remove(&mut doc, "/spec/mysql");
    assert_problem(doc, "spec.mysql", "is required");
    let mut doc = minimal();
    remove(&mut doc, "/spec/mysql/image");
    set(&mut doc, "/spec/mysql/clusterType", json!("galera"));
    set(&mut doc, "/spec/updateStrategy", json!("Rolling"));
    assert_problem(doc.clone(), "spec.mysql.image", "is required");
    assert_problem(doc.clone(), "spec.mysql.clusterType", "use group-replication or async");
    assert_problem(doc, "spec.updateStrategy", "SmartUpdate, RollingUpdate, OnDelete");
}

#[test]
fn backup_and_restore_must_name_cluster_and_storage() {
    let mut backup = example_docs("ps-backup.yaml").remove(0);
    remove(&mut backup, "/spec/clusterName");
    remove(&mut backup, "/spec/storageName");
    set(&mut backup, "/spec/type", json!("differential"));
    assert_problem(backup.clone(), "spec.clusterName", "is required");
    assert_problem(backup.clone(), "spec.storageName", "is required");
    assert_problem(backup, "spec.type", "full, incremental");

    let mut restore = example_docs("ps-restore.yaml").remove(0);
    remove(&mut restore, "/spec/backupName");
    remove(&mut restore, "/spec/clusterName");
    set(&mut restore, "/spec/pitr/date", json!("yesterday"));
    assert_problem(restore.clone(), "spec.clusterName", "is required");
    assert_problem(restore.clone(), "spec.backupName", "or give spec.backupSource");
    assert_problem(restore, "spec.pitr.date", "YYYY-MM-DD hh:mm:ss");

    let mut restore = example_docs("ps-restore.yaml").remove(1);
    remove(&mut restore, "/spec/backupSource/storage/s3");
    assert_problem(restore, "spec.backupSource.storage.s3", "type is s3");
}

#[test]
fn unknown_fields_are_listed_as_pruned() {
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/sise", json!(3));
    let typed = serde_json::to_value(serde_json::from_value::<PerconaServerMySQL>(doc.clone()).unwrap()).unwrap();
    assert_eq!(pruned_fields(&doc, &typed), vec!["spec.mysql.sise".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// Defaults

#[test]
fn minimal_cr_defaults() {
    let cr: PerconaServerMySQL = serde_json::from_value(minimal()).unwrap();
    let d: PerconaServerMySQLSpec = cr.spec.with_defaults("shop-db");
    assert_eq!(d.secrets_name.as_deref(), Some("shop-db-secrets"));
    assert_eq!(d.ssl_secret_name.as_deref(), Some("shop-db-ssl"));
    assert_eq!(d.update_strategy.as_deref(), Some("SmartUpdate"));
    let up = d.upgrade_options.as_ref().unwrap();
    assert_eq!(up.apply.as_deref(), Some("disabled"));
    assert_eq!(up.version_service_endpoint.as_deref(), Some("https://check.percona.com"));

    let v = serde_json::to_value(&d).unwrap();
    let m = &v["mysql"];
    assert_eq!(m["size"], 3);
    assert_eq!(m["image"], "percona/percona-server:8.4.11-11.1", "written image kept");
    assert_eq!(m["gracePeriod"], 600);
    assert_eq!(m["podDisruptionBudget"]["maxUnavailable"], 1);
    assert_eq!(m["affinity"]["antiAffinityTopologyKey"], "kubernetes.io/hostname");
    assert_eq!(m["exposePrimary"]["enabled"], true);
    assert_eq!(m["autoRecovery"], true);
    assert_eq!(m["vaultSecretName"], "shop-db-vault");
    assert_eq!(m["bootstrap"]["mode"], "auto");
    assert_eq!(
        m["resources"],
        json!({"limits": {"cpu": "4", "memory": "8Gi"}, "requests": {"cpu": "2", "memory": "4Gi"}})
    );
    assert_eq!(
        m["volumeSpec"]["persistentVolumeClaim"]["resources"]["requests"]["storage"], "10Gi",
        "written size kept"
    );
    assert_eq!(m["volumeSpec"]["persistentVolumeClaim"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(
        m["startupProbe"],
        json!({"failureThreshold": 1, "initialDelaySeconds": 15, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 43200})
    );
    assert_eq!(m["readinessProbe"]["initialDelaySeconds"], 30);
    assert_eq!(m["livenessProbe"]["timeoutSeconds"], 10);
    assert_eq!(m["podSecurityContext"], json!({"fsGroup": 1001, "supplementalGroups": [1001]}));

    let h = &v["proxy"]["haproxy"];
    assert_eq!(h["enabled"], true);
    assert_eq!(h["size"], 3);
    assert_eq!(h["resources"]["requests"], json!({"cpu": "600m", "memory": "1Gi"}));
    assert_eq!(h["gracePeriod"], 30);
    assert_eq!(h["livenessProbe"]["failureThreshold"], 4);
    let r = &v["proxy"]["router"];
    assert_eq!(r["enabled"], false);
    assert_eq!(r["resources"]["limits"]["memory"], "256M");
    let o = &v["orchestrator"];
    assert_eq!(o["enabled"], false);
    assert_eq!(o["size"], 3);
    assert_eq!(o["serviceAccountName"], "percona-server-mysql-operator-orchestrator");
    assert_eq!(o["resources"], json!({"limits": {"memory": "256M"}, "requests": {"memory": "128M"}}));
    assert_eq!(v["pmm"]["enabled"], false);
    assert_eq!(v["backup"]["enabled"], true);
    assert_eq!(v["backup"]["pitr"]["enabled"], false);
    assert_eq!(v["crVersion"], "1.3.0");

    // Defaults never invent problems.
    let defaulted = PerconaServerMySQL { metadata: cr.metadata.clone(), spec: d, status: None };
    assert!(dbdeck::api::Validate::validate(&defaulted).is_empty());
}

// ---------------------------------------------------------------------------------------------
// CRDs

fn check_crd<K: CustomResourceExt>(kind: &str, short_names: &[&str], columns: &[&str]) {
    let crd = serde_json::to_value(K::crd()).unwrap();
    assert_eq!(crd["spec"]["group"], "ps.percona.com");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], kind);
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(short_names));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let names: Vec<&str> =
        version["additionalPrinterColumns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, columns);
}

#[test]
fn crds_have_percona_names_and_columns() {
    check_crd::<PerconaServerMySQL>(
        "PerconaServerMySQL",
        &["ps"],
        &["Replication", "Endpoint", "State", "MySQL", "Orchestrator", "HAProxy", "Router", "Age"],
    );
    check_crd::<PerconaServerMySQLBackup>(
        "PerconaServerMySQLBackup",
        &["ps-backup", "ps-backups"],
        &["Type", "Storage", "Destination", "State", "Completed", "Age"],
    );
    check_crd::<PerconaServerMySQLRestore>("PerconaServerMySQLRestore", &["ps-restore"], &["State", "Age"]);
}

#[test]
fn sizes_have_a_safe_maximum_and_a_ceiling_no_flag_lifts() {
    let mut doc = async_minimal();
    set(&mut doc, "/spec/mysql/size", json!(40));
    assert_problem(doc.clone(), "spec.mysql.size", "safe maximum of 16");
    set(&mut doc, "/spec/unsafeFlags/mysqlSize", json!(true));
    assert!(problems(doc.clone()).is_empty(), "{:?}", problems(doc.clone()));
    set(&mut doc, "/spec/mysql/size", json!(100000));
    assert_problem(doc.clone(), "spec.mysql.size", "100000 is above dbdeck's limit of 1000");
    assert_eq!(problems(doc).len(), 1);

    let mut doc = minimal();
    set(&mut doc, "/spec/proxy/haproxy/size", json!(50));
    assert_problem(doc.clone(), "spec.proxy.haproxy.size", "50 is above the safe maximum of 16");
    set(&mut doc, "/spec/unsafeFlags/proxySize", json!(true));
    assert!(problems(doc).is_empty());
}

#[test]
fn cr_version_images_probes_requests_and_secret_names() {
    let mut doc = minimal();
    set(&mut doc, "/spec/crVersion", json!("x.y.z"));
    assert_problem(doc, "spec.crVersion", "\"x.y.z\" is not a version");
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/image", json!(":::"));
    assert_problem(doc, "spec.mysql.image", "not a valid image reference");
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/readinessProbe", json!({"timeoutSeconds": -3}));
    assert_problem(doc, "spec.mysql.readinessProbe.timeoutSeconds", "-3 must not be negative");
    let mut doc = minimal();
    set(&mut doc, "/spec/mysql/resources", json!({"requests": {"memory": "4Gi"}, "limits": {"memory": "2Gi"}}));
    assert_problem(doc, "spec.mysql.resources.requests.memory", "larger than the limit 2Gi");
    let mut doc = minimal();
    set(&mut doc, "/spec/secretsName", json!("Bad Secret Name!"));
    assert_problem(doc, "spec.secretsName", "not a valid Secret name");
}
