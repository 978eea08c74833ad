//! The backup and restore kinds of `pxc.percona.com/v1`, which point at a PerconaXtraDBCluster and
//! one of its storages. Storage sections and container options are shared with the cluster spec.

// kube-derive's printcolumn(...) lists repeat `type_ = "string"`, which clippy mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AzureStorage, BackupContainerOptions, S3Storage, UnsafeFlags};

// ------------------------------------------------------------------------------------------------
// PerconaXtraDBClusterBackup

/// One on-demand (or schedule-created) backup of a cluster.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterBackup",
    doc = "One backup of a PerconaXtraDBCluster to one of its storages",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    status = "PerconaXtraDBClusterBackupStatus",
    shortname = "pxc-backup",
    shortname = "pxc-backups",
    printcolumn(name = "Cluster", type_ = "string", description = "Cluster name", json_path = ".spec.pxcCluster"),
    printcolumn(
        name = "Storage",
        type_ = "string",
        description = "Storage name from pxc spec",
        json_path = ".status.storageName"
    ),
    printcolumn(
        name = "Destination",
        type_ = "string",
        description = "Backup destination",
        json_path = ".status.destination"
    ),
    printcolumn(name = "Status", type_ = "string", description = "Job status", json_path = ".status.state"),
    printcolumn(name = "Completed", type_ = "date", description = "Completed time", json_path = ".status.completed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterBackupSpec {
    /// Name of the PerconaXtraDBCluster to back up (same namespace).
    #[serde(default)]
    pub pxc_cluster: String,
    /// Key of `spec.backup.storages` in that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_deadline_seconds: Option<i64>,
}

/// Backup states as Percona spells them; an absent state means "new".
pub mod backup_state {
    pub const SUSPENDED: &str = "Suspended";
    pub const STARTING: &str = "Starting";
    pub const RUNNING: &str = "Running";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterBackupStatus {
    /// See [`backup_state`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339 time the backup finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, rename = "lastscheduled", skip_serializing_if = "Option::is_none")]
    pub last_scheduled: Option<String>,
    /// `s3://bucket/<cluster>-<time>-full`, `azure://container/…` or `pvc/<claim>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, rename = "storage_type", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorage>,
    /// The claim a `filesystem` backup was written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PersistentVolumeClaimSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_internal_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_secret_name: Option<String>,
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    /// Newest time this backup plus collected binlogs can restore to (PITR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
    /// `PITRReady` and similar, as `metav1.Condition`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

// ------------------------------------------------------------------------------------------------
// PerconaXtraDBClusterRestore

/// Restores a cluster from a backup (by name or by location), optionally up to a point in time.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterRestore",
    doc = "Restores a PerconaXtraDBCluster from a backup, optionally to a point in time",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    status = "PerconaXtraDBClusterRestoreStatus",
    shortname = "pxc-restore",
    shortname = "pxc-restores",
    printcolumn(name = "Cluster", type_ = "string", description = "Cluster name", json_path = ".spec.pxcCluster"),
    printcolumn(name = "Status", type_ = "string", description = "Job status", json_path = ".status.state"),
    printcolumn(name = "Completed", type_ = "date", description = "Completed time", json_path = ".status.completed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterRestoreSpec {
    #[serde(default)]
    pub pxc_cluster: String,
    /// A PerconaXtraDBClusterBackup in the same namespace; or use `backupSource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// Where the backup lies when there is no backup object (e.g. another Kubernetes cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<RestoreBackupSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<RestorePitr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
    /// Resources of the restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// A backup's location (Percona reuses the backup status type for it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreBackupSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, rename = "storage_type", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorage>,
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Point-in-time recovery after the backup is restored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestorePitr {
    /// `latest`, `date`, `transaction` or `skip`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `YYYY-MM-DD hh:mm:ss`, for `type: date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// A GTID set, for `type: transaction` and `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// Where the binlogs lie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<RestoreBackupSource>,
}

/// Restore states as Percona spells them; an absent state means "new".
pub mod restore_state {
    pub const STARTING: &str = "Starting";
    pub const STOPPING_CLUSTER: &str = "Stopping Cluster";
    pub const RESTORING: &str = "Restoring";
    pub const STARTING_CLUSTER: &str = "Starting Cluster";
    pub const PITR: &str = "Point-in-time recovering";
    pub const PREPARING_CLUSTER: &str = "Preparing Cluster";
    pub const FAILED: &str = "Failed";
    pub const SUCCEEDED: &str = "Succeeded";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterRestoreStatus {
    /// See [`restore_state`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, rename = "lastscheduled", skip_serializing_if = "Option::is_none")]
    pub last_scheduled: Option<String>,
    /// pxc size saved before the cluster is stopped, put back when it starts again (as are the
    /// proxy sizes and unsafe flags below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxysql_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_flags: Option<UnsafeFlags>,
}
