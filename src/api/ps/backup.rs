//! The PerconaServerMySQLBackup and PerconaServerMySQLRestore kinds.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cluster::{BackupContainerOptions, BackupStorageSpec, BinlogServerSpec};
use super::nullable;
use crate::api::common::ClusterCondition;

/// Backup states (`""` while new). `Error`: the backup never started (e.g. the cluster was not
/// ready); `Failed`: it started and then failed.
pub mod backup_state {
    pub const STARTING: &str = "Starting";
    pub const RUNNING: &str = "Running";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const SUSPENDED: &str = "Suspended";
    pub const ERROR: &str = "Error";
    pub const FAILED: &str = "Failed";
}

/// Restore states (`""` while new).
pub mod restore_state {
    pub const STARTING: &str = "Starting";
    pub const RUNNING: &str = "Running";
    pub const FAILED: &str = "Failed";
    pub const ERROR: &str = "Error";
    pub const SUCCEEDED: &str = "Succeeded";
}

/// An on-demand backup of one cluster to one of its storages.
// kube's repeated printcolumn(...) entries trip clippy's duplicated-attribute check.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ps.percona.com",
    version = "v1",
    kind = "PerconaServerMySQLBackup",
    plural = "perconaservermysqlbackups",
    namespaced,
    shortname = "ps-backup",
    shortname = "ps-backups",
    status = "PerconaServerMySQLBackupStatus",
    doc = "A backup of a PerconaServerMySQL cluster to one of its storages.",
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "Storage", type_ = "string", json_path = ".spec.storageName"),
    printcolumn(name = "Destination", type_ = "string", json_path = ".status.destination"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.completed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLBackupSpec {
    /// The PerconaServerMySQL to back up (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// A key of the cluster's `spec.backup.storages` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    /// `full` (default) or `incremental`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Base for an incremental backup; the newest full backup when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_base_backup_name: Option<String>,
    /// Pod to take the backup from, e.g. `ps-cluster1-mysql-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
}

/// What a backup produced. Also the shape of a restore's `backupSource`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, rename = "stateDescription", skip_serializing_if = "Option::is_none")]
    pub state_description: Option<String>,
    /// `full` or `incremental`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `s3://bucket/prefix/<cluster>-<timestamp>-full`, `gs://…` or an Azure container path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// A copy of the storage the backup went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<BackupStorageSpec>,
    /// RFC 3339 completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The pod the backup was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
}

/// Restores a cluster from a backup (by name, or by destination + storage for a backup made elsewhere).
// kube's repeated printcolumn(...) entries trip clippy's duplicated-attribute check.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ps.percona.com",
    version = "v1",
    kind = "PerconaServerMySQLRestore",
    plural = "perconaservermysqlrestores",
    namespaced,
    shortname = "ps-restore",
    status = "PerconaServerMySQLRestoreStatus",
    doc = "A restore of a PerconaServerMySQL cluster from a backup, optionally to a point in time.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLRestoreSpec {
    /// The PerconaServerMySQL to restore into (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// A PerconaServerMySQLBackup in the same namespace; or give `backupSource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// Where a backup made elsewhere lives (`destination` and `storage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<PerconaServerMySQLBackupStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
    /// Point-in-time recovery after the backup; `null` in Percona's sample means "none".
    #[serde(default, deserialize_with = "nullable::deserialize", skip_serializing_if = "Option::is_none")]
    pub pitr: Option<Option<RestorePITRSpec>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestorePITRSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<RestorePITRBackupSource>,
    /// `date` or `gtid` (required).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `YYYY-MM-DD hh:mm:ss` for `type: date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// A GTID set for `type: gtid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestorePITRBackupSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_server: Option<BinlogServerSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLRestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, rename = "stateDescription", skip_serializing_if = "Option::is_none")]
    pub state_description: Option<String>,
    /// RFC 3339 completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
}
