//! Status of a PerconaServerMySQL as the engine reports it (Percona's `PerconaServerMySQLStatus`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::common::ClusterCondition;

/// Observed state of one component (mysql, orchestrator, haproxy, router, binlogServer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
    /// One of the [`crate::api::common::state`] values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

/// Per-PVC record kept by storage autoscaling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageAutoscalingStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resize_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_server: Option<ComponentStatus>,
    /// `initializing`, `ready`, `error`, `paused` or `stopping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The cluster type actually applied (switching types is a multi-step operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolkit_version: Option<String>,
    /// `Initializing`, `Ready`, `Error`, `InnoDBClusterBootstrapped`, … (metav1.Condition shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
    /// The endpoint clients use (HAProxy or Router service, or the primary service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub innodb_cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_autoscaling: Option<BTreeMap<String, StorageAutoscalingStatus>>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Why the cluster is in `error` (dbdeck puts validation problems here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
