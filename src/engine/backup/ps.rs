//! PerconaServerMySQL backups and restores: the `xb-<backup>` Job that has the xtrabackup sidecar of
//! a MySQL pod stream a backup to s3, gcs or azure, the `xb-restore-<restore>` Job, and the cleanup
//! Job of the `percona.com/delete-backup` finalizer. Layout after Percona's
//! `pkg/xtrabackup/testdata/backup-job/default-job.yaml`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

use super::common::{
    BuildError, ObjectId, env, fit63, mount, parse_url, secret_env, secret_volume, to_json, typed, url,
};
use crate::api::ps::{
    BackupContainerOptions, BackupStorageSpec, PerconaServerMySQL, PerconaServerMySQLBackup, PerconaServerMySQLRestore,
    PerconaServerMySQLSpec,
};

pub const API_VERSION: &str = "ps.percona.com/v1";
pub const BACKUP_KIND: &str = "PerconaServerMySQLBackup";
pub const RESTORE_KIND: &str = "PerconaServerMySQLRestore";
/// The schedule a Backup object was created by (Percona's documented label); retention counts per value.
pub const LABEL_ANCESTOR: &str = "percona.com/backup-ancestor";
pub const LABEL_BACKUP_TYPE: &str = "percona.com/backup-type";
pub const LABEL_CLUSTER: &str = "percona.com/cluster";
/// Kubernetes' default, which Percona keeps for the backup Job.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
const OPERATOR_IMAGE: &str = "percona/percona-server-mysql-operator:1.3.0";

/// A built backup Job and where it writes.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupPlan {
    pub job: Job,
    pub destination: String,
    pub storage_name: String,
    pub storage: BackupStorageSpec,
    /// The pod whose xtrabackup sidecar takes the backup.
    pub source_pod: String,
}

struct Cluster {
    name: String,
    spec: PerconaServerMySQLSpec,
}

impl Cluster {
    fn new(cr: &PerconaServerMySQL) -> Result<Self, BuildError> {
        let name =
            cr.metadata.name.clone().ok_or(BuildError::MissingMeta { kind: "PerconaServerMySQL", field: "name" })?;
        Ok(Self { spec: cr.spec.with_defaults(&name), name })
    }

    /// `pkg/xtrabackup` labels: `app.kubernetes.io/*` with component `xtrabackup`.
    fn labels(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/component".into(), component.into()),
            ("app.kubernetes.io/instance".into(), self.name.clone()),
            ("app.kubernetes.io/managed-by".into(), "percona-server-operator".into()),
            ("app.kubernetes.io/name".into(), "percona-server".into()),
            ("app.kubernetes.io/part-of".into(), "percona-server".into()),
        ])
    }

    fn image(&self, id: &ObjectId) -> Result<String, BuildError> {
        self.spec
            .backup
            .as_ref()
            .and_then(|b| b.image.clone())
            .ok_or_else(|| id.missing("spec.backup.image of the cluster"))
    }

    fn pull_policy(&self) -> String {
        self.spec.backup.as_ref().and_then(|b| b.image_pull_policy.clone()).unwrap_or_else(|| "Always".into())
    }

    fn init_image(&self) -> String {
        self.spec
            .backup
            .as_ref()
            .and_then(|b| b.init_container.as_ref().and_then(|i| i.image.clone()).or(b.init_image.clone()))
            .or_else(|| self.spec.init_container.as_ref().and_then(|i| i.image.clone()))
            .or_else(|| self.spec.init_image.clone())
            .unwrap_or_else(|| OPERATOR_IMAGE.into())
    }

    fn storage(&self, id: &ObjectId, field: &str, name: &str) -> Result<BackupStorageSpec, BuildError> {
        self.spec.backup.as_ref().and_then(|b| b.storages.as_ref()).and_then(|s| s.get(name)).cloned().ok_or_else(
            || BuildError::UnknownStorage {
                kind: id.kind,
                name: id.name.clone(),
                field: field.into(),
                storage: name.into(),
                cluster: self.name.clone(),
            },
        )
    }

    fn secrets_name(&self) -> String {
        self.spec.secrets_name.clone().unwrap_or_else(|| format!("{}-secrets", self.name))
    }

    fn ssl_name(&self) -> String {
        self.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{}-ssl", self.name))
    }

    fn pod(&self, storage: &BackupStorageSpec, container: Value, volumes: Vec<Value>) -> Value {
        let b = self.spec.backup.clone().unwrap_or_default();
        json!({
            "restartPolicy": "Never",
            "shareProcessNamespace": true,
            "setHostnameAsFQDN": true,
            "serviceAccountName": b.service_account_name,
            "imagePullSecrets": to_json(&b.image_pull_secrets),
            "securityContext": to_json(&storage.pod_security_context),
            "affinity": to_json(&storage.affinity),
            "tolerations": to_json(&storage.tolerations),
            "topologySpreadConstraints": to_json(&storage.topology_spread_constraints),
            "nodeSelector": to_json(&storage.node_selector),
            "schedulerName": storage.scheduler_name,
            "priorityClassName": storage.priority_class_name,
            "runtimeClassName": storage.runtime_class_name,
            "initContainers": [{
                "name": "xtrabackup-init",
                "image": self.init_image(),
                "imagePullPolicy": self.pull_policy(),
                "command": ["/opt/percona-server-mysql-operator/ps-init-entrypoint.sh"],
                "volumeMounts": [mount("bin", "/opt/percona")],
            }],
            "containers": [container],
            "volumes": volumes,
        })
    }
}

fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d-%H:%M:%S").to_string()
}

/// `s3://bucket[/prefix]/<cluster>-<time>-full` (or `-incr`), `gs://…`, `azure://…`.
pub fn destination(
    id: &ObjectId,
    cluster: &str,
    storage_name: &str,
    storage: &BackupStorageSpec,
    incremental: bool,
    now: DateTime<Utc>,
) -> Result<String, BuildError> {
    let leaf = format!("{cluster}-{}-{}", stamp(now), if incremental { "incr" } else { "full" });
    let field = format!("spec.backup.storages.{storage_name}");
    let need = |v: &Option<String>, f: &str| {
        v.clone().filter(|s| !s.is_empty()).ok_or_else(|| id.missing(format!("{field}.{f}")))
    };
    match storage.type_.as_deref().unwrap_or("") {
        "s3" => {
            let s = storage.s3.as_ref().ok_or_else(|| id.missing(format!("{field}.s3")))?;
            Ok(url("s3", &need(&s.bucket, "s3.bucket")?, s.prefix.as_deref(), &leaf))
        }
        "gcs" => {
            let s = storage.gcs.as_ref().ok_or_else(|| id.missing(format!("{field}.gcs")))?;
            Ok(url("gs", &need(&s.bucket, "gcs.bucket")?, s.prefix.as_deref(), &leaf))
        }
        "azure" => {
            let s = storage.azure.as_ref().ok_or_else(|| id.missing(format!("{field}.azure")))?;
            Ok(url("azure", &need(&s.container, "azure.container")?, s.prefix.as_deref(), &leaf))
        }
        other => Err(id.invalid(format!("{field}.type"), format!("is `{other}`; it must be s3, gcs or azure"))),
    }
}

pub fn backup_job_name(backup: &str) -> String {
    fit63(&format!("xb-{backup}"))
}

pub fn restore_job_name(restore: &str) -> String {
    fit63(&format!("xb-restore-{restore}"))
}

pub fn delete_job_name(backup: &str) -> String {
    fit63(&format!("delete-backup-{backup}"))
}

/// The pod a backup is taken from: the Backup's `sourcePod`, else the cluster's `backup.sourcePod`,
/// else `fallback` (the controller passes a ready replica).
pub fn source_pod(backup: &PerconaServerMySQLBackup, cluster: &PerconaServerMySQL, fallback: &str) -> String {
    backup
        .spec
        .source_pod
        .clone()
        .or_else(|| cluster.spec.backup.as_ref().and_then(|b| b.source_pod.clone()))
        .unwrap_or_else(|| fallback.to_string())
}

/// Storage credentials and location (`SetStorageS3/GCS/Azure`).
fn storage_env(storage: &BackupStorageSpec, destination: &str) -> Vec<Value> {
    let (bucket, _) = parse_url(destination).unwrap_or(("", ""));
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut out = Vec::new();
    match storage.type_.as_deref() {
        Some("s3") => {
            let s3 = storage.s3.clone().unwrap_or_default();
            let secret = s(&s3.credentials_secret);
            out.extend([
                env("STORAGE_TYPE", "s3"),
                secret_env("AWS_ACCESS_KEY_ID", &secret, "AWS_ACCESS_KEY_ID"),
                secret_env("AWS_SECRET_ACCESS_KEY", &secret, "AWS_SECRET_ACCESS_KEY"),
                env("AWS_DEFAULT_REGION", s(&s3.region)),
                env("AWS_ENDPOINT", s(&s3.endpoint_url)),
                env("S3_BUCKET", bucket),
            ]);
        }
        Some("gcs") => {
            let g = storage.gcs.clone().unwrap_or_default();
            let secret = s(&g.credentials_secret);
            out.extend([
                env("STORAGE_TYPE", "gcs"),
                secret_env("ACCESS_KEY_ID", &secret, "ACCESS_KEY_ID"),
                secret_env("SECRET_ACCESS_KEY", &secret, "SECRET_ACCESS_KEY"),
                env("GCS_ENDPOINT", s(&g.endpoint_url)),
                env("GCS_BUCKET", bucket),
                env("GCS_STORAGE_CLASS", s(&g.storage_class)),
            ]);
        }
        Some("azure") => {
            let a = storage.azure.clone().unwrap_or_default();
            let secret = s(&a.credentials_secret);
            out.extend([
                env("STORAGE_TYPE", "azure"),
                secret_env("AZURE_STORAGE_ACCOUNT", &secret, "AZURE_STORAGE_ACCOUNT_NAME"),
                secret_env("AZURE_ACCESS_KEY", &secret, "AZURE_STORAGE_ACCOUNT_KEY"),
                env("AZURE_CONTAINER_NAME", bucket),
                env("AZURE_ENDPOINT", s(&a.endpoint_url)),
                env("AZURE_STORAGE_CLASS", s(&a.storage_class)),
            ]);
        }
        _ => {}
    }
    out
}

/// Args and env from `containerOptions`: the object's own options win over the storage's, per tool.
fn options_env(opts: &[Option<&BackupContainerOptions>]) -> Vec<Value> {
    let mut out = Vec::new();
    let last = |f: fn(&crate::api::ps::BackupContainerArgs) -> Option<Vec<String>>| {
        opts.iter().flatten().filter_map(|o| o.args.as_ref().and_then(f)).next_back()
    };
    if let Some(v) = last(|a| a.xtrabackup.clone()) {
        out.push(env("XB_EXTRA_ARGS", v.join(" ")));
    }
    if let Some(v) = last(|a| a.xbcloud.clone()) {
        out.push(env("XBCLOUD_EXTRA_ARGS", v.join(" ")));
    }
    if let Some(v) = last(|a| a.xbstream.clone()) {
        out.push(env("XBSTREAM_EXTRA_ARGS", v.join(" ")));
    }
    for o in opts.iter().flatten() {
        out.extend(o.env.iter().flatten().map(to_json));
    }
    out
}

fn job(
    name: &str,
    id: &ObjectId,
    labels: &BTreeMap<String, String>,
    annotations: Option<&BTreeMap<String, String>>,
    spec: Value,
) -> Result<Job, BuildError> {
    typed(
        &format!("Job {name}"),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": id.namespace,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [to_json(&id.owner_reference())],
            },
            "spec": spec,
        }),
    )
}

/// Builds the backup Job; `fallback_source_pod` is used when neither the backup nor the cluster pins one.
pub fn backup(
    backup: &PerconaServerMySQLBackup,
    cluster: &PerconaServerMySQL,
    fallback_source_pod: &str,
    now: DateTime<Utc>,
) -> Result<BackupPlan, BuildError> {
    let id = ObjectId::from_meta(BACKUP_KIND, API_VERSION, &backup.metadata)?;
    let c = Cluster::new(cluster)?;
    let storage_name =
        backup.spec.storage_name.clone().filter(|s| !s.is_empty()).ok_or_else(|| id.missing("spec.storageName"))?;
    let storage = c.storage(&id, "spec.storageName", &storage_name)?;
    let incremental = backup.spec.type_.as_deref() == Some("incremental");
    let destination = destination(&id, &c.name, &storage_name, &storage, incremental, now)?;
    let name = backup_job_name(&id.name);
    let source = source_pod(backup, cluster, fallback_source_pod);
    let mut labels = storage.labels.clone().unwrap_or_default();
    labels.extend(c.labels("xtrabackup"));
    let verify_tls = storage.verify_tls.flatten().unwrap_or(true);

    let mut envs = vec![
        env("BACKUP_NAME", id.name.clone()),
        env("BACKUP_DEST", parse_url(&destination).map(|(_, p)| p).unwrap_or_default()),
        env("VERIFY_TLS", verify_tls.to_string()),
        env("SRC_NODE", format!("{source}.{}-mysql.{}", c.name, id.namespace)),
    ];
    envs.extend(storage_env(&storage, &destination));
    envs.extend(options_env(&[storage.container_options.as_ref(), backup.spec.container_options.as_ref()]));
    let container = json!({
        "name": "xtrabackup",
        "image": c.image(&id)?,
        "imagePullPolicy": c.pull_policy(),
        "command": ["/opt/percona/run-backup.sh"],
        "env": envs,
        "resources": to_json(&storage.resources),
        "securityContext": to_json(&storage.container_security_context),
        "volumeMounts": [
            mount("bin", "/opt/percona"),
            mount("datadir", "/var/lib/mysql"),
            mount("tls", "/etc/mysql/mysql-tls-secret"),
        ],
    });
    let volumes = vec![
        json!({"name": "bin", "emptyDir": {}}),
        json!({"name": "datadir", "emptyDir": {}}),
        secret_volume("users", &c.secrets_name(), false),
        secret_volume("tls", &c.ssl_name(), false),
    ];
    let b = c.spec.backup.clone().unwrap_or_default();
    let spec = json!({
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": b.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT),
        "template": {
            "metadata": {"labels": labels, "annotations": storage.annotations},
            "spec": c.pod(&storage, container, volumes),
        },
    });
    Ok(BackupPlan {
        job: job(&name, &id, &labels, storage.annotations.as_ref(), spec)?,
        destination,
        storage_name,
        storage,
        source_pod: source,
    })
}

/// Where a restore reads from: `spec.backupSource` or the named Backup's status.
pub fn restore_source(
    restore: &PerconaServerMySQLRestore,
    backup: Option<&PerconaServerMySQLBackup>,
) -> Result<(String, BackupStorageSpec), BuildError> {
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    let status = match (&restore.spec.backup_source, &restore.spec.backup_name) {
        (Some(src), _) => src.clone(),
        (None, Some(name)) => backup
            .and_then(|b| b.status.clone())
            .ok_or_else(|| id.invalid("spec.backupName", format!("names backup `{name}`, which does not exist")))?,
        (None, None) => return Err(id.missing("spec.backupName or spec.backupSource")),
    };
    let destination =
        status.destination.clone().filter(|d| !d.is_empty()).ok_or_else(|| id.missing("the backup's destination"))?;
    let storage = status.storage.clone().ok_or_else(|| id.missing("the backup's storage (backupSource.storage)"))?;
    Ok((destination, storage))
}

/// Builds `xb-restore-<restore>`: downloads the backup into the first MySQL pod's data volume while
/// the cluster is paused; PITR parameters go along as env.
pub fn restore(
    restore: &PerconaServerMySQLRestore,
    destination: &str,
    storage: &BackupStorageSpec,
    cluster: &PerconaServerMySQL,
) -> Result<Job, BuildError> {
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    let c = Cluster::new(cluster)?;
    let name = restore_job_name(&id.name);
    let labels = c.labels("restore");
    let mut envs = vec![
        env("RESTORE_NAME", id.name.clone()),
        env("BACKUP_DEST", parse_url(destination).map(|(_, p)| p).unwrap_or_default()),
        env("VERIFY_TLS", storage.verify_tls.flatten().unwrap_or(true).to_string()),
    ];
    envs.extend(storage_env(storage, destination));
    if let Some(Some(p)) = &restore.spec.pitr {
        let kind = p.type_.clone().ok_or_else(|| id.missing("spec.pitr.type"))?;
        match kind.as_str() {
            "date" if p.date.is_none() => return Err(id.missing("spec.pitr.date")),
            "gtid" if p.gtid.is_none() => return Err(id.missing("spec.pitr.gtid")),
            "date" | "gtid" => {}
            other => return Err(id.invalid("spec.pitr.type", format!("is `{other}`; it must be date or gtid"))),
        }
        envs.push(env("PITR_TYPE", kind));
        envs.push(env("PITR_DATE", p.date.clone().unwrap_or_default()));
        envs.push(env("PITR_GTID", p.gtid.clone().unwrap_or_default()));
        envs.push(env("PITR_FORCE", p.force.unwrap_or(false).to_string()));
    }
    envs.extend(options_env(&[storage.container_options.as_ref(), restore.spec.container_options.as_ref()]));
    let container = json!({
        "name": "xtrabackup",
        "image": c.image(&id)?,
        "imagePullPolicy": c.pull_policy(),
        "command": ["/opt/percona/run-restore.sh"],
        "env": envs,
        "volumeMounts": [
            mount("bin", "/opt/percona"),
            mount("datadir", "/var/lib/mysql"),
            mount("tls", "/etc/mysql/mysql-tls-secret"),
        ],
    });
    let volumes = vec![
        json!({"name": "bin", "emptyDir": {}}),
        json!({"name": "datadir", "persistentVolumeClaim": {"claimName": format!("datadir-{}-mysql-0", c.name)}}),
        secret_volume("users", &c.secrets_name(), false),
        secret_volume("tls", &c.ssl_name(), false),
    ];
    let spec = json!({
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 4,
        "template": {"metadata": {"labels": labels}, "spec": c.pod(storage, container, volumes)},
    });
    job(&name, &id, &labels, None, spec)
}

/// The finalizer's cleanup Job: `xbcloud delete` of the backup's destination.
pub fn delete(backup: &PerconaServerMySQLBackup, cluster: &PerconaServerMySQL) -> Result<Option<Job>, BuildError> {
    let id = ObjectId::from_meta(BACKUP_KIND, API_VERSION, &backup.metadata)?;
    let c = Cluster::new(cluster)?;
    let status = backup.status.clone().unwrap_or_default();
    let (Some(destination), Some(storage)) = (status.destination.clone(), status.storage.clone()) else {
        return Ok(None);
    };
    let name = delete_job_name(&id.name);
    let mut labels = c.labels("backup");
    labels.insert(LABEL_CLUSTER.into(), c.name.clone());
    let mut envs = vec![
        env("BACKUP_DEST", parse_url(&destination).map(|(_, p)| p).unwrap_or_default()),
        env("VERIFY_TLS", storage.verify_tls.flatten().unwrap_or(true).to_string()),
    ];
    envs.extend(storage_env(&storage, &destination));
    let script = "set -e; case \"$STORAGE_TYPE\" in \
        s3) xbcloud delete --storage=s3 --s3-bucket=\"$S3_BUCKET\" --s3-region=\"$AWS_DEFAULT_REGION\" \
            --s3-endpoint=\"$AWS_ENDPOINT\" \"$BACKUP_DEST\" ;; \
        gcs) xbcloud delete --storage=google --google-bucket=\"$GCS_BUCKET\" --google-endpoint=\"$GCS_ENDPOINT\" \
            --google-access-key=\"$ACCESS_KEY_ID\" --google-secret-key=\"$SECRET_ACCESS_KEY\" \"$BACKUP_DEST\" ;; \
        azure) xbcloud delete --storage=azure --azure-storage-account=\"$AZURE_STORAGE_ACCOUNT\" \
            --azure-access-key=\"$AZURE_ACCESS_KEY\" --azure-container-name=\"$AZURE_CONTAINER_NAME\" \
            --azure-endpoint=\"$AZURE_ENDPOINT\" \"$BACKUP_DEST\" ;; esac";
    let spec = json!({
        "backoffLimit": 3,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "delete-backup",
                    "image": c.image(&id)?,
                    "imagePullPolicy": c.pull_policy(),
                    "command": ["bash", "-c", script],
                    "env": envs,
                }],
            },
        },
    });
    Ok(Some(job(&name, &id, &labels, None, spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cluster() -> PerconaServerMySQL {
        serde_yaml::from_str(
            r#"
apiVersion: ps.percona.com/v1
kind: PerconaServerMySQL
metadata: {name: ps-cluster1, namespace: ns, uid: c-uid}
spec:
  mysql: {clusterType: group-replication, size: 3}
  backup:
    image: percona/percona-xtrabackup:8.4.0-6.1
    storages:
      minio:
        type: s3
        verifyTLS: false
        s3: {bucket: operator-testing, prefix: ps, credentialsSecret: minio-secret, region: us-east-1,
             endpointUrl: "http://minio-service:9000"}
      gcp-cs:
        type: gcs
        gcs: {bucket: gcs-bucket, credentialsSecret: gcp-secret}
      azure-blob:
        type: azure
        azure: {container: ps-container, credentialsSecret: azure-secret}
"#,
        )
        .unwrap()
    }

    fn backup_cr(name: &str, storage: &str) -> PerconaServerMySQLBackup {
        let mut b = PerconaServerMySQLBackup::new(
            name,
            crate::api::ps::PerconaServerMySQLBackupSpec {
                cluster_name: Some("ps-cluster1".into()),
                storage_name: Some(storage.into()),
                ..Default::default()
            },
        );
        b.metadata.namespace = Some("ns".into());
        b.metadata.uid = Some("b-uid".into());
        b
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 10, 0).unwrap()
    }

    fn env_of(job: &Job) -> BTreeMap<String, Value> {
        let c = &job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        c.env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().map(Value::from).unwrap_or_else(|| to_json(&e.value_from))))
            .collect()
    }

    #[test]
    fn s3_backup_job_matches_percona_layout() {
        let plan = backup(&backup_cr("backup-minio", "minio"), &cluster(), "ps-cluster1-mysql-1", now()).unwrap();
        assert_eq!(plan.destination, "s3://operator-testing/ps/ps-cluster1-2026-11-23-00:10:00-full");
        assert_eq!(plan.job.metadata.name.as_deref(), Some("xb-backup-minio"));
        let labels = plan.job.metadata.labels.clone().unwrap();
        assert_eq!(labels["app.kubernetes.io/component"], "xtrabackup");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "percona-server-operator");
        let pod = plan.job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        assert_eq!((pod.share_process_namespace, pod.set_hostname_as_fqdn), (Some(true), Some(true)));
        assert_eq!(pod.init_containers.as_ref().unwrap()[0].name, "xtrabackup-init");
        let env = env_of(&plan.job);
        assert_eq!(env["BACKUP_NAME"], "backup-minio");
        assert_eq!(env["BACKUP_DEST"], "ps/ps-cluster1-2026-11-23-00:10:00-full");
        assert_eq!(env["VERIFY_TLS"], "false");
        assert_eq!(env["SRC_NODE"], "ps-cluster1-mysql-1.ps-cluster1-mysql.ns");
        assert_eq!(env["STORAGE_TYPE"], "s3");
        assert_eq!(env["S3_BUCKET"], "operator-testing");
        insta::assert_yaml_snapshot!("ps_backup_s3", &plan.job);
    }

    #[test]
    fn gcs_and_azure_destinations() {
        let g = backup(&backup_cr("b", "gcp-cs"), &cluster(), "p", now()).unwrap();
        assert_eq!(g.destination, "gs://gcs-bucket/ps-cluster1-2026-11-23-00:10:00-full");
        assert_eq!(env_of(&g.job)["GCS_BUCKET"], "gcs-bucket");
        let mut inc = backup_cr("b", "azure-blob");
        inc.spec.type_ = Some("incremental".into());
        inc.spec.source_pod = Some("ps-cluster1-mysql-2".into());
        let a = backup(&inc, &cluster(), "p", now()).unwrap();
        assert_eq!(a.destination, "azure://ps-container/ps-cluster1-2026-11-23-00:10:00-incr");
        assert_eq!(a.source_pod, "ps-cluster1-mysql-2");
        // One snapshot per storage type, as for s3.
        insta::assert_yaml_snapshot!("ps_backup_gcs", &g.job);
        insta::assert_yaml_snapshot!("ps_backup_azure", &a.job);
    }

    #[test]
    fn restore_job_reads_the_backup_status_and_passes_pitr() {
        let mut b = backup_cr("backup-minio", "minio");
        let plan = backup(&b, &cluster(), "p", now()).unwrap();
        b.status = Some(crate::api::ps::PerconaServerMySQLBackupStatus {
            destination: Some(plan.destination.clone()),
            storage: Some(plan.storage.clone()),
            ..Default::default()
        });
        let mut r = PerconaServerMySQLRestore::new(
            "restore1",
            crate::api::ps::PerconaServerMySQLRestoreSpec {
                cluster_name: Some("ps-cluster1".into()),
                backup_name: Some("backup-minio".into()),
                pitr: Some(Some(crate::api::ps::RestorePITRSpec {
                    type_: Some("gtid".into()),
                    gtid: Some("uuid:1-10".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("r-uid".into());
        let (dest, storage) = restore_source(&r, Some(&b)).unwrap();
        let job = restore(&r, &dest, &storage, &cluster()).unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("xb-restore-restore1"));
        let env = env_of(&job);
        assert_eq!(env["PITR_TYPE"], "gtid");
        assert_eq!(env["PITR_GTID"], "uuid:1-10");
        let vols = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().volumes.clone().unwrap();
        assert_eq!(vols[1].persistent_volume_claim.as_ref().unwrap().claim_name, "datadir-ps-cluster1-mysql-0");
        insta::assert_yaml_snapshot!("ps_restore_s3", &job);

        assert!(restore_source(&r, None).unwrap_err().to_string().contains("`backup-minio`, which does not exist"));
        let del = delete(&b, &cluster()).unwrap().unwrap();
        assert_eq!(env_of(&del)["BACKUP_DEST"], "ps/ps-cluster1-2026-11-23-00:10:00-full");
    }

    #[test]
    fn restore_from_a_backup_source_needs_no_backup_object() {
        // Percona's `backupSource`: the status of a backup made elsewhere (destination + storage).
        let storage = cluster().spec.backup.unwrap().storages.unwrap()["azure-blob"].clone();
        let mut r = PerconaServerMySQLRestore::new(
            "from-staging",
            crate::api::ps::PerconaServerMySQLRestoreSpec {
                cluster_name: Some("ps-cluster1".into()),
                backup_source: Some(crate::api::ps::PerconaServerMySQLBackupStatus {
                    destination: Some("azure://staging/staging-db-2026-11-19-full".into()),
                    storage: Some(storage),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("r-uid".into());
        let (dest, storage) = restore_source(&r, None).unwrap();
        assert_eq!(dest, "azure://staging/staging-db-2026-11-19-full");
        let env = env_of(&restore(&r, &dest, &storage, &cluster()).unwrap());
        assert_eq!(env["AZURE_CONTAINER_NAME"], "staging");
        assert_eq!(env["BACKUP_DEST"], "staging-db-2026-11-19-full");
        // A source without its storage says which field is missing.
        r.spec.backup_source.as_mut().unwrap().storage = None;
        assert!(restore_source(&r, None).unwrap_err().to_string().contains("backupSource.storage"));
    }

    #[test]
    fn a_storage_without_a_bucket_names_the_field() {
        let mut c = cluster();
        c.spec
            .backup
            .as_mut()
            .unwrap()
            .storages
            .as_mut()
            .unwrap()
            .get_mut("minio")
            .unwrap()
            .s3
            .as_mut()
            .unwrap()
            .bucket = None;
        let err = backup(&backup_cr("b", "minio"), &c, "p", now()).unwrap_err();
        assert_eq!(err.to_string(), "PerconaServerMySQLBackup b: spec.backup.storages.minio.s3.bucket is required");
    }
}
