//! PerconaXtraDBCluster backups and restores: the `xb-<backup>` Job (and its `xb-<backup>` claim for
//! filesystem storage), the `restore-job-<restore>-<cluster>` Job, the PITR Job and the cleanup Job
//! the `percona.com/delete-backup` finalizer runs. Layout after Percona's e2e compare files
//! (`e2e-tests/demand-backup*/compare/job*.yml`, `security-context/compare/job.batch_xb-*`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::{Value, json};

use super::common::{
    BuildError, ObjectId, env, fit63, mount, optional_secret_env, parse_url, secret_env, secret_volume, to_json, typed,
    url,
};
use crate::api::pxc::{
    BackupContainerArgs, BackupContainerOptions, BackupStorageSpec, PerconaXtraDBCluster, PerconaXtraDBClusterBackup,
    PerconaXtraDBClusterRestore, PerconaXtraDBClusterSpec, RestoreBackupSource, storage_type,
};

pub const API_VERSION: &str = "pxc.percona.com/v1";
pub const BACKUP_KIND: &str = "PerconaXtraDBClusterBackup";
pub const RESTORE_KIND: &str = "PerconaXtraDBClusterRestore";
const NAME: &str = "percona-xtradb-cluster";
const MANAGED_BY: &str = "percona-xtradb-cluster-operator";

/// Labels Percona puts on Backup objects and their Jobs (`pkg/naming/labels.go`).
pub const LABEL_CLUSTER: &str = "percona.com/cluster";
pub const LABEL_BACKUP_TYPE: &str = "percona.com/backup-type";
pub const LABEL_BACKUP_NAME: &str = "percona.com/backup-name";
pub const LABEL_BACKUP_JOB: &str = "percona.com/backup-job-name";
pub const LABEL_RESTORE_JOB: &str = "percona.com/restore-job-name";
/// The schedule a Backup object was created by (Percona's documented label); retention counts per value.
pub const LABEL_ANCESTOR: &str = "percona.com/backup-ancestor";
/// Percona's default `backoffLimit` of the backup Job (`GetBackoffLimit`).
pub const DEFAULT_BACKOFF_LIMIT: i32 = 10;
/// Percona's `backoffLimit` of the restore Job.
pub const RESTORE_BACKOFF_LIMIT: i32 = 4;

/// A built backup: its Job, the claim for filesystem storage, and where the data goes.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupPlan {
    pub job: Job,
    pub pvc: Option<PersistentVolumeClaim>,
    pub destination: String,
    pub storage_name: String,
    pub storage_type: String,
    pub verify_tls: bool,
}

struct Cluster {
    name: String,
    spec: PerconaXtraDBClusterSpec,
}

impl Cluster {
    fn new(cr: &PerconaXtraDBCluster) -> Result<Self, BuildError> {
        let name =
            cr.metadata.name.clone().ok_or(BuildError::MissingMeta { kind: "PerconaXtraDBCluster", field: "name" })?;
        Ok(Self { spec: cr.spec.with_defaults(&name), name })
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/instance".into(), self.name.clone()),
            ("app.kubernetes.io/managed-by".into(), MANAGED_BY.into()),
            ("app.kubernetes.io/name".into(), NAME.into()),
            ("app.kubernetes.io/part-of".into(), NAME.into()),
        ])
    }

    fn backup_image(&self, id: &ObjectId) -> Result<String, BuildError> {
        self.spec
            .backup
            .as_ref()
            .and_then(|b| b.image.clone())
            .ok_or_else(|| id.missing("spec.backup.image of the cluster"))
    }

    fn pull_policy(&self) -> String {
        self.spec.backup.as_ref().and_then(|b| b.image_pull_policy.clone()).unwrap_or_else(|| "Always".into())
    }

    fn secrets_name(&self) -> String {
        self.spec.secrets_name.clone().unwrap_or_else(|| format!("{}-secrets", self.name))
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

    /// `backup-init` copies Percona's scripts into the shared `bin` volume; it runs the operator image.
    fn init_container(&self) -> Value {
        let init = self.spec.init_container.clone().unwrap_or_default();
        json!({
            "name": "backup-init",
            "image": init.image,
            "imagePullPolicy": self.pull_policy(),
            "command": ["/backup-init-entrypoint.sh"],
            "resources": {"limits": {"cpu": "50m", "memory": "50M"}},
            "volumeMounts": [mount("bin", "/opt/percona")],
        })
    }

    fn pod_common(&self, storage: &BackupStorageSpec) -> serde_json::Map<String, Value> {
        let b = self.spec.backup.clone().unwrap_or_default();
        let mut m = serde_json::Map::new();
        m.insert("restartPolicy".into(), json!("Never"));
        m.insert(
            "securityContext".into(),
            storage
                .pod_security_context
                .clone()
                .unwrap_or_else(|| json!({"fsGroup": 1001, "supplementalGroups": [1001]})),
        );
        m.insert("serviceAccountName".into(), json!(b.service_account_name));
        m.insert("imagePullSecrets".into(), to_json(&b.image_pull_secrets));
        m.insert("nodeSelector".into(), to_json(&storage.node_selector));
        m.insert("affinity".into(), to_json(&storage.affinity));
        m.insert("tolerations".into(), to_json(&storage.tolerations));
        m.insert("topologySpreadConstraints".into(), to_json(&storage.topology_spread_constraints));
        m.insert("schedulerName".into(), json!(storage.scheduler_name));
        m.insert("priorityClassName".into(), json!(storage.priority_class_name));
        m.insert("runtimeClassName".into(), json!(storage.runtime_class_name));
        m
    }
}

/// `YYYY-MM-DD-hh:mm:ss`, the time part of Percona's cloud destinations.
fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d-%H:%M:%S").to_string()
}

/// Where a backup of `cluster` to `storage` goes: `s3://bucket[/prefix]/<cluster>-<time>-full`,
/// `azure://container[/prefix]/<cluster>-<time>-full` or `pvc/xb-<backup>`.
pub fn destination(
    id: &ObjectId,
    cluster: &str,
    storage_name: &str,
    storage: &BackupStorageSpec,
    now: DateTime<Utc>,
) -> Result<String, BuildError> {
    let leaf = format!("{cluster}-{}-full", stamp(now));
    let field = format!("spec.backup.storages.{storage_name}");
    match storage.type_.as_str() {
        storage_type::S3 => {
            let s3 = storage.s3.as_ref().ok_or_else(|| id.missing(format!("{field}.s3")))?;
            if s3.bucket.is_empty() {
                return Err(id.missing(format!("{field}.s3.bucket")));
            }
            Ok(url("s3", &s3.bucket, None, &leaf))
        }
        storage_type::AZURE => {
            let az = storage.azure.as_ref().ok_or_else(|| id.missing(format!("{field}.azure")))?;
            if az.container.is_empty() {
                return Err(id.missing(format!("{field}.azure.container")));
            }
            Ok(url("azure", &az.container, None, &leaf))
        }
        storage_type::FILESYSTEM => Ok(format!("pvc/{}", backup_job_name(&id.name))),
        other => Err(id.invalid(format!("{field}.type"), format!("is `{other}`; it must be s3, azure or filesystem"))),
    }
}

/// `xb-<backup>`, kept within 63 characters.
pub fn backup_job_name(backup: &str) -> String {
    fit63(&format!("xb-{backup}"))
}

/// `restore-job-<restore>-<cluster>`.
pub fn restore_job_name(restore: &str, cluster: &str) -> String {
    fit63(&format!("restore-job-{restore}-{cluster}"))
}

/// `pitr-job-<restore>-<cluster>`.
pub fn pitr_job_name(restore: &str, cluster: &str) -> String {
    fit63(&format!("pitr-job-{restore}-{cluster}"))
}

/// `delete-backup-<backup>`: the cleanup Job of the `percona.com/delete-backup` finalizer.
pub fn delete_job_name(backup: &str) -> String {
    fit63(&format!("delete-backup-{backup}"))
}

/// `XB_EXTRA_ARGS` and friends from `containerOptions.args`; the backup's own options win over the storage's.
fn container_options_env(opts: &[Option<&BackupContainerOptions>]) -> Vec<Value> {
    fn xtrabackup(a: &BackupContainerArgs) -> Option<&Vec<String>> {
        a.xtrabackup.as_ref()
    }
    fn xbcloud(a: &BackupContainerArgs) -> Option<&Vec<String>> {
        a.xbcloud.as_ref()
    }
    fn xbstream(a: &BackupContainerArgs) -> Option<&Vec<String>> {
        a.xbstream.as_ref()
    }
    type Pick = fn(&BackupContainerArgs) -> Option<&Vec<String>>;
    let mut out = Vec::new();
    for (name, pick) in
        [("XB_EXTRA_ARGS", xtrabackup as Pick), ("XBCLOUD_EXTRA_ARGS", xbcloud), ("XBSTREAM_EXTRA_ARGS", xbstream)]
    {
        let winner = opts.iter().flatten().filter_map(|o| o.args.as_ref().and_then(pick)).next_back();
        if let Some(v) = winner {
            out.push(env(name, v.join(" ")));
        }
    }
    // User env comes last so it can override ours, as Percona appends it.
    for o in opts.iter().flatten() {
        for e in o.env.iter().flatten() {
            out.push(to_json(e));
        }
    }
    out
}

/// Credentials and location of a cloud storage, as env of the xtrabackup container.
fn storage_env(source: &RestoreBackupSource, destination: &str) -> Vec<Value> {
    let (bucket, path) = parse_url(destination).unwrap_or(("", ""));
    let mut out = Vec::new();
    if let Some(s3) = &source.s3 {
        out.push(secret_env("ACCESS_KEY_ID", &s3.credentials_secret, "AWS_ACCESS_KEY_ID"));
        out.push(secret_env("SECRET_ACCESS_KEY", &s3.credentials_secret, "AWS_SECRET_ACCESS_KEY"));
        out.push(optional_secret_env("S3_SESSION_TOKEN", &s3.credentials_secret, "AWS_SESSION_TOKEN"));
        out.push(env("DEFAULT_REGION", s3.region.clone().unwrap_or_else(|| "us-east-1".into())));
        out.push(env("ENDPOINT", s3.endpoint_url.clone().unwrap_or_default()));
        out.push(env("S3_BUCKET", bucket));
        out.push(env("S3_BUCKET_PATH", path));
    } else if let Some(az) = &source.azure {
        out.push(secret_env("AZURE_STORAGE_ACCOUNT", &az.credentials_secret, "AZURE_STORAGE_ACCOUNT_NAME"));
        out.push(secret_env("AZURE_ACCESS_KEY", &az.credentials_secret, "AZURE_STORAGE_ACCOUNT_KEY"));
        out.push(env("AZURE_ENDPOINT", az.endpoint_url.clone().unwrap_or_default()));
        out.push(env("AZURE_STORAGE_CLASS", az.storage_class.clone().unwrap_or_default()));
        out.push(env("AZURE_CONTAINER_NAME", bucket));
        out.push(env("BACKUP_PATH", path));
    }
    out
}

fn job_json(name: &str, ns: &str, owner: &ObjectId, labels: &BTreeMap<String, String>, spec: Value) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels,
            "ownerReferences": [to_json(&owner.owner_reference())],
        },
        "spec": spec,
    })
}

/// Builds the backup Job for `backup` of `cluster` at `now` (which names the destination). Pure.
pub fn backup(
    backup: &PerconaXtraDBClusterBackup,
    cluster: &PerconaXtraDBCluster,
    now: DateTime<Utc>,
) -> Result<BackupPlan, BuildError> {
    let id = ObjectId::from_meta(BACKUP_KIND, API_VERSION, &backup.metadata)?;
    let c = Cluster::new(cluster)?;
    let storage_name = backup.spec.storage_name.clone().ok_or_else(|| id.missing("spec.storageName"))?;
    let storage = c.storage(&id, "spec.storageName", &storage_name)?;
    let destination = destination(&id, &c.name, &storage_name, &storage, now)?;
    let b = c.spec.backup.clone().unwrap_or_default();
    let job_name = backup_job_name(&id.name);
    let verify_tls = storage.verify_tls.unwrap_or(true);

    let mut labels = storage.labels.clone().unwrap_or_default();
    labels.extend(c.labels());
    labels.insert(LABEL_BACKUP_JOB.into(), job_name.clone());
    labels.insert(LABEL_BACKUP_NAME.into(), id.name.clone());
    labels.insert(LABEL_BACKUP_TYPE.into(), "xtrabackup".into());
    labels.insert(LABEL_CLUSTER.into(), c.name.clone());

    let source = RestoreBackupSource { s3: storage.s3.clone(), azure: storage.azure.clone(), ..Default::default() };
    let mut envs = vec![
        env("BACKUP_DIR", "/backup"),
        env("PXC_SERVICE", format!("{}-pxc", c.name)),
        secret_env("PXC_PASS", &c.secrets_name(), "xtrabackup"),
        env("VERIFY_TLS", verify_tls.to_string()),
    ];
    if storage.type_ != storage_type::FILESYSTEM {
        envs.extend(storage_env(&source, &destination));
    }
    envs.extend(container_options_env(&[storage.container_options.as_ref(), backup.spec.container_options.as_ref()]));

    let ssl = c.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{}-ssl", c.name));
    let ssl_internal = c.spec.ssl_internal_secret_name.clone().unwrap_or_else(|| format!("{}-ssl-internal", c.name));
    let vault = c.spec.vault_secret_name.clone().unwrap_or_else(|| format!("{}-vault", c.name));
    let mut mounts = vec![mount("bin", "/opt/percona")];
    let mut volumes = vec![json!({"name": "bin", "emptyDir": {}})];
    let mut pvc = None;
    if storage.type_ == storage_type::FILESYSTEM {
        let claim =
            storage.volume.as_ref().and_then(|v| v.persistent_volume_claim.clone()).ok_or_else(|| {
                id.missing(format!("spec.backup.storages.{storage_name}.volume.persistentVolumeClaim"))
            })?;
        mounts.push(mount("xtrabackup", "/backup"));
        volumes.push(json!({"name": "xtrabackup", "persistentVolumeClaim": {"claimName": job_name}}));
        // The claim outlives the Backup object on purpose (it is the backup); the delete-backup
        // finalizer removes it.
        let mut pvc_labels = c.labels();
        pvc_labels.insert(LABEL_BACKUP_NAME.into(), id.name.clone());
        pvc_labels.insert(LABEL_CLUSTER.into(), c.name.clone());
        pvc = Some(typed(
            &format!("PersistentVolumeClaim {job_name}"),
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": job_name, "namespace": id.namespace, "labels": pvc_labels},
                "spec": to_json(&claim),
            }),
        )?);
    }
    mounts.extend([
        mount("ssl", "/etc/mysql/ssl"),
        mount("ssl-internal", "/etc/mysql/ssl-internal"),
        mount("vault-keyring-secret", "/etc/mysql/vault-keyring-secret"),
    ]);
    volumes.extend([
        secret_volume("ssl", &ssl, true),
        secret_volume("ssl-internal", &ssl_internal, true),
        secret_volume("vault-keyring-secret", &vault, true),
    ]);

    let mut pod = c.pod_common(&storage);
    pod.insert("initContainers".into(), json!([c.init_container()]));
    pod.insert(
        "containers".into(),
        json!([{
            "name": "xtrabackup",
            "image": c.backup_image(&id)?,
            "imagePullPolicy": c.pull_policy(),
            "command": ["bash", "/opt/percona/backup/backup.sh"],
            "env": envs,
            "resources": to_json(&storage.resources),
            "securityContext": storage.container_security_context,
            "volumeMounts": mounts,
        }]),
    );
    pod.insert("volumes".into(), json!(volumes));

    let spec = json!({
        "backoffLimit": b.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT),
        "activeDeadlineSeconds": backup.spec.active_deadline_seconds.or(b.active_deadline_seconds),
        "ttlSecondsAfterFinished": b.ttl_seconds_after_finished,
        "manualSelector": true,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels, "annotations": storage.annotations},
            "spec": Value::Object(pod),
        },
    });
    let mut job = job_json(&job_name, &id.namespace, &id, &labels, spec);
    if let Some(a) = &storage.annotations {
        job["metadata"]["annotations"] = json!(a);
    }
    Ok(BackupPlan {
        job: typed(&format!("Job {job_name}"), job)?,
        pvc,
        destination,
        storage_name,
        storage_type: storage.type_.clone(),
        verify_tls,
    })
}

/// Where a restore reads from: the Backup object's status (filled by the backup controller), else its
/// storage in the cluster spec, else `spec.backupSource`.
pub fn restore_source(
    restore: &PerconaXtraDBClusterRestore,
    backup: Option<&PerconaXtraDBClusterBackup>,
    cluster: &PerconaXtraDBCluster,
) -> Result<RestoreBackupSource, BuildError> {
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    if let Some(src) = &restore.spec.backup_source {
        if src.destination.as_deref().unwrap_or("").is_empty() {
            return Err(id.missing("spec.backupSource.destination"));
        }
        return Ok(src.clone());
    }
    let backup_name =
        restore.spec.backup_name.clone().ok_or_else(|| id.missing("spec.backupName or spec.backupSource"))?;
    let backup = backup
        .ok_or_else(|| id.invalid("spec.backupName", format!("names backup `{backup_name}`, which does not exist")))?;
    let status = backup.status.clone().unwrap_or_default();
    let destination = status.destination.clone().ok_or_else(|| {
        id.invalid("spec.backupName", format!("names backup `{backup_name}`, which has no destination yet"))
    })?;
    let mut src = RestoreBackupSource {
        destination: Some(destination),
        storage_name: status.storage_name.clone(),
        storage_type: status.storage_type.clone(),
        s3: status.s3.clone(),
        azure: status.azure.clone(),
        verify_tls: status.verify_tls,
        image: None,
    };
    if src.s3.is_none()
        && src.azure.is_none()
        && let Some(name) = src.storage_name.clone()
        && let Ok(st) = Cluster::new(cluster)?.storage(&id, "status.storageName of the backup", &name)
    {
        src.s3 = st.s3;
        src.azure = st.azure;
        src.verify_tls = src.verify_tls.or(st.verify_tls);
    }
    Ok(src)
}

/// Builds `restore-job-<restore>-<cluster>`, which writes the backup into the first node's data
/// volume while the cluster is stopped. Pure.
pub fn restore(
    restore: &PerconaXtraDBClusterRestore,
    source: &RestoreBackupSource,
    cluster: &PerconaXtraDBCluster,
) -> Result<Job, BuildError> {
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    let c = Cluster::new(cluster)?;
    let destination = source.destination.clone().unwrap_or_default();
    let name = restore_job_name(&id.name, &c.name);
    let mut labels = c.labels();
    labels.insert(LABEL_RESTORE_JOB.into(), name.clone());
    let verify_tls = source.verify_tls.unwrap_or(true);
    let image = match &source.image {
        Some(i) => i.clone(),
        None => c.backup_image(&id)?,
    };
    let mut envs = vec![
        env("PXC_SERVICE", format!("{}-pxc", c.name)),
        env("PXC_USER", "xtrabackup"),
        secret_env("PXC_PASS", &c.secrets_name(), "xtrabackup"),
        env("VERIFY_TLS", verify_tls.to_string()),
    ];
    let mut mounts =
        vec![mount("datadir", "/datadir"), mount("vault-keyring-secret", "/etc/mysql/vault-keyring-secret")];
    let vault = c.spec.vault_secret_name.clone().unwrap_or_else(|| format!("{}-vault", c.name));
    let mut volumes = vec![
        json!({"name": "datadir", "persistentVolumeClaim": {"claimName": format!("datadir-{}-pxc-0", c.name)}}),
        secret_volume("vault-keyring-secret", &vault, true),
    ];
    let command: Vec<&str>;
    if let Some(claim) = destination.strip_prefix("pvc/") {
        // Percona serves the claim through a `restore-src-…` pod; the Job here mounts it directly,
        // which works because the backup Job that wrote it has finished.
        command = vec!["bash", "/opt/percona/backup/recovery-pvc.sh"];
        envs.push(env("BACKUP_DIR", "/backup"));
        mounts.push(mount("backup", "/backup"));
        volumes.push(json!({"name": "backup", "persistentVolumeClaim": {"claimName": claim}}));
    } else if destination.starts_with("s3://") || destination.starts_with("azure://") {
        command = vec!["/opt/percona/backup/recovery-cloud.sh"];
        if source.s3.is_none() && source.azure.is_none() {
            return Err(id.missing("spec.backupSource.s3 or spec.backupSource.azure (credentials for the destination)"));
        }
        envs.extend(storage_env(source, &destination));
    } else {
        return Err(id.invalid(
            "the backup destination",
            format!("is `{destination}`; it must start with s3://, azure:// or pvc/"),
        ));
    }
    envs.extend(container_options_env(&[restore.spec.container_options.as_ref()]));
    mounts.push(mount("bin", "/opt/percona"));
    volumes.push(json!({"name": "bin", "emptyDir": {}}));

    let storage = BackupStorageSpec::default();
    let mut pod = c.pod_common(&storage);
    pod.insert("initContainers".into(), json!([c.init_container()]));
    pod.insert(
        "containers".into(),
        json!([{
            "name": "xtrabackup",
            "image": image,
            "imagePullPolicy": c.pull_policy(),
            "command": command,
            "env": envs,
            "resources": to_json(&restore.spec.resources),
            "volumeMounts": mounts,
        }]),
    );
    pod.insert("volumes".into(), json!(volumes));
    let spec = json!({
        "backoffLimit": RESTORE_BACKOFF_LIMIT,
        "template": {"metadata": {"labels": labels}, "spec": Value::Object(pod)},
    });
    typed(&format!("Job {name}"), job_json(&name, &id.namespace, &id, &labels, spec))
}

/// The point-in-time step after a restore: replays binlogs from the PITR storage up to the target
/// in `spec.pitr` (`latest`, `date`, `transaction` or `skip`). `None` when the restore has no PITR.
pub fn pitr(restore: &PerconaXtraDBClusterRestore, cluster: &PerconaXtraDBCluster) -> Result<Option<Job>, BuildError> {
    let Some(p) = &restore.spec.pitr else { return Ok(None) };
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    let c = Cluster::new(cluster)?;
    match p.type_.as_str() {
        "latest" => {}
        "date" if p.date.as_deref().is_some_and(|d| !d.is_empty()) => {}
        "transaction" | "skip" if p.gtid.as_deref().is_some_and(|g| !g.is_empty()) => {}
        "date" => return Err(id.missing("spec.pitr.date")),
        "transaction" | "skip" => return Err(id.missing("spec.pitr.gtid")),
        other => {
            return Err(
                id.invalid("spec.pitr.type", format!("is `{other}`; it must be latest, date, transaction or skip"))
            );
        }
    }
    // Binlogs live where the restore says: a full source (destination plus credentials), or a storage
    // of the cluster named by `spec.pitr.backupSource.storageName`; else the cluster's PITR storage.
    let given = p.backup_source.as_ref();
    let complete = given
        .filter(|s| s.destination.as_deref().is_some_and(|d| !d.is_empty()) && (s.s3.is_some() || s.azure.is_some()));
    let binlogs = match (complete, given.and_then(|s| s.storage_name.clone())) {
        (Some(src), _) => src.clone(),
        (None, Some(storage_name)) => binlog_storage(&c, &id, "spec.pitr.backupSource.storageName", &storage_name)?,
        (None, None) if given.is_some() => {
            return Err(
                id.missing("spec.pitr.backupSource.storageName (or its destination with s3 or azure credentials)")
            );
        }
        (None, None) => {
            let storage_name =
                c.spec.backup.as_ref().and_then(|b| b.pitr.as_ref()).and_then(|p| p.storage_name.clone()).ok_or_else(
                    || id.missing("spec.pitr.backupSource (the cluster has no spec.backup.pitr.storageName)"),
                )?;
            binlog_storage(&c, &id, "spec.backup.pitr.storageName of the cluster", &storage_name)?
        }
    };
    let name = pitr_job_name(&id.name, &c.name);
    let mut labels = c.labels();
    labels.insert(LABEL_RESTORE_JOB.into(), name.clone());
    let mut envs = vec![
        env("PXC_SERVICE", format!("{}-pxc", c.name)),
        env("PXC_USER", "xtrabackup"),
        secret_env("PXC_PASS", &c.secrets_name(), "xtrabackup"),
        env("PITR_RECOVERY_TYPE", p.type_.clone()),
        env("PITR_DATE", p.date.clone().unwrap_or_default()),
        env("PITR_GTID", p.gtid.clone().unwrap_or_default()),
        env("VERIFY_TLS", binlogs.verify_tls.unwrap_or(true).to_string()),
    ];
    let dest = binlogs.destination.clone().unwrap_or_default();
    for e in storage_env(&binlogs, &dest) {
        // The binlog storage keeps its own names so it cannot be mistaken for the backup's.
        let mut e = e;
        if let Some(n) = e["name"].as_str() {
            e["name"] = json!(format!("BINLOG_{n}"));
        }
        envs.push(e);
    }
    let mut pod = c.pod_common(&BackupStorageSpec::default());
    pod.insert("initContainers".into(), json!([c.init_container()]));
    pod.insert(
        "containers".into(),
        json!([{
            "name": "pitr",
            "image": c.backup_image(&id)?,
            "imagePullPolicy": c.pull_policy(),
            "command": ["/opt/percona/pitr", "recover"],
            "env": envs,
            "resources": to_json(&restore.spec.resources),
            "volumeMounts": [mount("bin", "/opt/percona")],
        }]),
    );
    pod.insert("volumes".into(), json!([{"name": "bin", "emptyDir": {}}]));
    let spec = json!({
        "backoffLimit": RESTORE_BACKOFF_LIMIT,
        "template": {"metadata": {"labels": labels}, "spec": Value::Object(pod)},
    });
    Ok(Some(typed(&format!("Job {name}"), job_json(&name, &id.namespace, &id, &labels, spec))?))
}

/// The binlog location of a cluster storage (s3 or azure), for the point-in-time Job.
fn binlog_storage(
    c: &Cluster,
    id: &ObjectId,
    field: &str,
    storage_name: &str,
) -> Result<RestoreBackupSource, BuildError> {
    let st = c.storage(id, field, storage_name)?;
    let dest = match (&st.s3, &st.azure) {
        (Some(s3), _) => url("s3", &s3.bucket, None, "").trim_end_matches('/').to_string(),
        (None, Some(az)) => url("azure", &az.container, None, "").trim_end_matches('/').to_string(),
        _ => {
            return Err(
                id.invalid(field, format!("names storage `{storage_name}`, which is not an s3 or azure storage"))
            );
        }
    };
    Ok(RestoreBackupSource {
        destination: Some(dest),
        storage_name: Some(storage_name.to_string()),
        s3: st.s3,
        azure: st.azure,
        verify_tls: st.verify_tls,
        ..Default::default()
    })
}

/// The cleanup Job of the `percona.com/delete-backup` finalizer: removes a cloud backup (and its
/// `.sst_info`) with `xbcloud delete`. `None` for filesystem backups, whose claim is simply deleted.
pub fn delete(backup: &PerconaXtraDBClusterBackup, cluster: &PerconaXtraDBCluster) -> Result<Option<Job>, BuildError> {
    let id = ObjectId::from_meta(BACKUP_KIND, API_VERSION, &backup.metadata)?;
    let c = Cluster::new(cluster)?;
    let status = backup.status.clone().unwrap_or_default();
    let Some(destination) = status.destination.clone().filter(|d| !d.starts_with("pvc/")) else { return Ok(None) };
    let source = RestoreBackupSource { s3: status.s3.clone(), azure: status.azure.clone(), ..Default::default() };
    let (script, storage) = if source.s3.is_some() {
        (
            "set -e; for p in \"$S3_BUCKET_PATH\" \"$S3_BUCKET_PATH.sst_info\"; do \
             xbcloud delete --storage=s3 --s3-endpoint=\"$ENDPOINT\" --s3-region=\"$DEFAULT_REGION\" \
             --s3-bucket=\"$S3_BUCKET\" --s3-access-key=\"$ACCESS_KEY_ID\" --s3-secret-key=\"$SECRET_ACCESS_KEY\" \
             $([ \"$VERIFY_TLS\" = false ] && echo --insecure) \"$p\"; done",
            "s3",
        )
    } else if source.azure.is_some() {
        (
            "set -e; for p in \"$BACKUP_PATH\" \"$BACKUP_PATH.sst_info\"; do \
             xbcloud delete --storage=azure --azure-storage-account=\"$AZURE_STORAGE_ACCOUNT\" \
             --azure-access-key=\"$AZURE_ACCESS_KEY\" --azure-container-name=\"$AZURE_CONTAINER_NAME\" \
             --azure-endpoint=\"$AZURE_ENDPOINT\" \"$p\"; done",
            "azure",
        )
    } else {
        return Err(id.missing("status.s3 or status.azure (where the backup was written)"));
    };
    let name = delete_job_name(&id.name);
    let mut labels = c.labels();
    labels.insert(LABEL_BACKUP_NAME.into(), id.name.clone());
    labels.insert(LABEL_CLUSTER.into(), c.name.clone());
    labels.insert(LABEL_BACKUP_TYPE.into(), format!("delete-{storage}"));
    let mut envs = vec![env("VERIFY_TLS", status.verify_tls.unwrap_or(true).to_string())];
    envs.extend(storage_env(&source, &destination));
    let spec = json!({
        "backoffLimit": 3,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "delete-backup",
                    "image": c.backup_image(&id)?,
                    "imagePullPolicy": c.pull_policy(),
                    "command": ["bash", "-c", script],
                    "env": envs,
                }],
            },
        },
    });
    Ok(Some(typed(&format!("Job {name}"), job_json(&name, &id.namespace, &id, &labels, spec))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn cluster() -> PerconaXtraDBCluster {
        serde_yaml::from_str(
            r#"
apiVersion: pxc.percona.com/v1
kind: PerconaXtraDBCluster
metadata: {name: demand-backup, namespace: ns, uid: c-uid}
spec:
  secretsName: my-cluster-secrets
  vaultSecretName: some-name-vault
  pxc: {size: 3}
  backup:
    image: percona/percona-xtradb-cluster-operator:1.20.0-pxc8.0-backup
    backoffLimit: 3
    activeDeadlineSeconds: 7200
    pitr: {enabled: true, storageName: minio-binlogs}
    storages:
      minio:
        type: s3
        verifyTLS: false
        s3: {bucket: operator-testing, credentialsSecret: minio-secret, region: us-east-1,
             endpointUrl: "https://minio-service.namespace:9000/"}
        containerOptions:
          args: {xbcloud: ["--parallel=2", "--curl-retriable-errors=8"], xbstream: ["--parallel=2"]}
        resources: {requests: {memory: 500M, cpu: 500m}, limits: {memory: 2G, cpu: "1"}}
      minio-binlogs:
        type: s3
        s3: {bucket: operator-testing/binlogs, credentialsSecret: minio-secret, region: us-east-1}
      azure-blob:
        type: azure
        azure: {container: operator-testing, credentialsSecret: azure-secret, storageClass: Cool}
      pvc:
        type: filesystem
        volume:
          persistentVolumeClaim:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
"#,
        )
        .unwrap()
    }

    pub(crate) fn backup_cr(name: &str, storage: &str) -> PerconaXtraDBClusterBackup {
        let mut b = PerconaXtraDBClusterBackup::new(
            name,
            crate::api::pxc::PerconaXtraDBClusterBackupSpec {
                pxc_cluster: "demand-backup".into(),
                storage_name: Some(storage.into()),
                ..Default::default()
            },
        );
        b.metadata.namespace = Some("ns".into());
        b.metadata.uid = Some(format!("{name}-uid"));
        b
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 1).unwrap()
    }

    fn container_env(job: &Job) -> BTreeMap<String, Value> {
        let c = &job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        c.env
            .iter()
            .flatten()
            .map(|e| {
                let v = match (&e.value, &e.value_from) {
                    (Some(v), _) => json!(v),
                    (None, Some(f)) => to_json(f),
                    _ => Value::Null,
                };
                (e.name.clone(), v)
            })
            .collect()
    }

    #[test]
    fn s3_backup_job_matches_percona_layout() {
        let plan = backup(&backup_cr("on-demand-backup-minio", "minio"), &cluster(), now()).unwrap();
        assert_eq!(plan.destination, "s3://operator-testing/demand-backup-2026-11-22-23:59:01-full");
        let job = &plan.job;
        assert_eq!(job.metadata.name.as_deref(), Some("xb-on-demand-backup-minio"));
        let labels = job.metadata.labels.clone().unwrap();
        assert_eq!(labels["percona.com/backup-job-name"], "xb-on-demand-backup-minio");
        assert_eq!(labels["percona.com/backup-type"], "xtrabackup");
        assert_eq!(labels["percona.com/cluster"], "demand-backup");
        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("PerconaXtraDBClusterBackup", Some(true)));
        let spec = job.spec.as_ref().unwrap();
        assert_eq!((spec.backoff_limit, spec.active_deadline_seconds), (Some(3), Some(7200)));
        assert_eq!(spec.manual_selector, Some(true));
        let env = container_env(job);
        assert_eq!(env["PXC_SERVICE"], "demand-backup-pxc");
        assert_eq!(env["VERIFY_TLS"], "false");
        assert_eq!(env["XBCLOUD_EXTRA_ARGS"], "--parallel=2 --curl-retriable-errors=8");
        assert_eq!(env["S3_BUCKET"], "operator-testing");
        assert_eq!(env["S3_BUCKET_PATH"], "demand-backup-2026-11-22-23:59:01-full");
        assert_eq!(env["ACCESS_KEY_ID"]["secretKeyRef"], json!({"name": "minio-secret", "key": "AWS_ACCESS_KEY_ID"}));
        assert_eq!(env["PXC_PASS"]["secretKeyRef"], json!({"name": "my-cluster-secrets", "key": "xtrabackup"}));
        insta::assert_yaml_snapshot!("pxc_backup_s3", job);
    }

    #[test]
    fn azure_and_pvc_backups() {
        let az = backup(&backup_cr("on-demand-backup-azure-blob", "azure-blob"), &cluster(), now()).unwrap();
        assert!(az.destination.starts_with("azure://operator-testing/demand-backup-"));
        let env = container_env(&az.job);
        assert_eq!(env["AZURE_STORAGE_CLASS"], "Cool");
        assert_eq!(
            env["AZURE_ACCESS_KEY"]["secretKeyRef"],
            json!({"name": "azure-secret", "key": "AZURE_STORAGE_ACCOUNT_KEY"})
        );
        insta::assert_yaml_snapshot!("pxc_backup_azure", &az.job);

        let pvc = backup(&backup_cr("on-demand-backup-pvc", "pvc"), &cluster(), now()).unwrap();
        assert_eq!(pvc.destination, "pvc/xb-on-demand-backup-pvc");
        let claim = pvc.pvc.as_ref().unwrap();
        assert_eq!(claim.metadata.name.as_deref(), Some("xb-on-demand-backup-pvc"));
        assert!(claim.metadata.owner_references.is_none(), "the backup claim outlives the Backup object");
        let vols = pvc.job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().volumes.clone().unwrap();
        let x = vols.iter().find(|v| v.name == "xtrabackup").unwrap();
        assert_eq!(x.persistent_volume_claim.as_ref().unwrap().claim_name, "xb-on-demand-backup-pvc");
        insta::assert_yaml_snapshot!("pxc_backup_pvc", &pvc.job);

        // Its restore mounts that claim and runs the PVC recovery script.
        let mut b = backup_cr("on-demand-backup-pvc", "pvc");
        b.status = Some(crate::api::pxc::PerconaXtraDBClusterBackupStatus {
            destination: Some(pvc.destination.clone()),
            storage_name: Some("pvc".into()),
            ..Default::default()
        });
        let r = restore_cr(Some("on-demand-backup-pvc"));
        let src = restore_source(&r, Some(&b), &cluster()).unwrap();
        let job = restore(&r, &src, &cluster()).unwrap();
        insta::assert_yaml_snapshot!("pxc_restore_pvc", &job);
    }

    #[test]
    fn unknown_storage_names_the_field() {
        let err = backup(&backup_cr("b", "nope"), &cluster(), now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PerconaXtraDBClusterBackup b: spec.storageName names storage `nope`, which cluster demand-backup does not define"
        );
    }

    fn restore_cr(backup: Option<&str>) -> PerconaXtraDBClusterRestore {
        let mut r = PerconaXtraDBClusterRestore::new(
            "on-demand-backup-minio",
            crate::api::pxc::PerconaXtraDBClusterRestoreSpec {
                pxc_cluster: "demand-backup".into(),
                backup_name: backup.map(String::from),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("r-uid".into());
        r
    }

    #[test]
    fn restore_from_backup_object_reads_its_status() {
        let mut b = backup_cr("on-demand-backup-minio", "minio");
        let plan = backup(&b, &cluster(), now()).unwrap();
        b.status = Some(crate::api::pxc::PerconaXtraDBClusterBackupStatus {
            destination: Some(plan.destination.clone()),
            storage_name: Some("minio".into()),
            ..Default::default()
        });
        let r = restore_cr(Some("on-demand-backup-minio"));
        let src = restore_source(&r, Some(&b), &cluster()).unwrap();
        assert!(src.s3.is_some(), "credentials come from the storage when the status lacks them");
        let job = restore(&r, &src, &cluster()).unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("restore-job-on-demand-backup-minio-demand-backup"));
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(4));
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.command.as_ref().unwrap(), &vec!["/opt/percona/backup/recovery-cloud.sh".to_string()]);
        let vols = spec.template.spec.as_ref().unwrap().volumes.clone().unwrap();
        assert_eq!(vols[0].persistent_volume_claim.as_ref().unwrap().claim_name, "datadir-demand-backup-pxc-0");
        insta::assert_yaml_snapshot!("pxc_restore_s3", &job);
    }

    #[test]
    fn restore_without_backup_or_source_is_refused() {
        let r = restore_cr(None);
        let err = restore_source(&r, None, &cluster()).unwrap_err();
        assert!(err.to_string().contains("spec.backupName or spec.backupSource"), "{err}");
        let r = restore_cr(Some("gone"));
        let err = restore_source(&r, None, &cluster()).unwrap_err();
        assert!(err.to_string().contains("`gone`, which does not exist"), "{err}");
    }

    #[test]
    fn pitr_params_are_passed_on() {
        let mut r = restore_cr(Some("x"));
        assert!(pitr(&r, &cluster()).unwrap().is_none());
        r.spec.pitr = Some(crate::api::pxc::RestorePitr {
            type_: "date".into(),
            date: Some("2026-11-22 10:00:00".into()),
            ..Default::default()
        });
        let job = pitr(&r, &cluster()).unwrap().unwrap();
        let env = container_env(&job);
        assert_eq!(env["PITR_RECOVERY_TYPE"], "date");
        assert_eq!(env["PITR_DATE"], "2026-11-22 10:00:00");
        assert_eq!(env["BINLOG_S3_BUCKET"], "operator-testing");
        assert_eq!(env["BINLOG_S3_BUCKET_PATH"], "binlogs");
        insta::assert_yaml_snapshot!("pxc_pitr_s3", &job);
        r.spec.pitr.as_mut().unwrap().date = None;
        assert!(pitr(&r, &cluster()).unwrap_err().to_string().contains("spec.pitr.date is required"));
    }

    #[test]
    fn pitr_binlogs_come_from_the_storage_the_restore_names() {
        // Percona's cr: `pitr.backupSource.storageName` names a storage of the cluster.
        let mut r = restore_cr(Some("x"));
        let named = |name: &str| crate::api::pxc::RestorePitr {
            type_: "latest".into(),
            backup_source: Some(RestoreBackupSource { storage_name: Some(name.into()), ..Default::default() }),
            ..Default::default()
        };
        r.spec.pitr = Some(named("azure-blob"));
        let env = container_env(&pitr(&r, &cluster()).unwrap().unwrap());
        assert_eq!(env["BINLOG_AZURE_CONTAINER_NAME"], "operator-testing");
        assert!(!env.contains_key("BINLOG_S3_BUCKET"), "the cluster's own PITR storage is not used");
        // A storage the cluster does not define is refused, naming the field.
        r.spec.pitr = Some(named("binlogs-s3"));
        let err = pitr(&r, &cluster()).unwrap_err().to_string();
        assert!(err.contains("spec.pitr.backupSource.storageName") && err.contains("binlogs-s3"), "{err}");
        // A source with neither a storage name nor a destination and credentials says what is missing.
        r.spec.pitr = Some(crate::api::pxc::RestorePitr {
            type_: "latest".into(),
            backup_source: Some(RestoreBackupSource::default()),
            ..Default::default()
        });
        assert!(pitr(&r, &cluster()).unwrap_err().to_string().contains("spec.pitr.backupSource.storageName"));
    }

    #[test]
    fn delete_job_targets_the_written_destination() {
        let mut b = backup_cr("old", "minio");
        assert!(delete(&b, &cluster()).unwrap().is_none(), "nothing written, nothing to delete");
        b.status = Some(crate::api::pxc::PerconaXtraDBClusterBackupStatus {
            destination: Some("s3://operator-testing/demand-backup-2026-01-01-00:00:00-full".into()),
            s3: cluster().spec.backup.unwrap().storages.unwrap()["minio"].s3.clone(),
            ..Default::default()
        });
        let job = delete(&b, &cluster()).unwrap().unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("delete-backup-old"));
        let env = container_env(&job);
        assert_eq!(env["S3_BUCKET_PATH"], "demand-backup-2026-01-01-00:00:00-full");
    }
}
