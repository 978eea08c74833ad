//! `pxc.percona.com/v1`: PerconaXtraDBCluster, PerconaXtraDBClusterBackup and PerconaXtraDBClusterRestore (stub: the full model lands with the foundation work).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Problems, Validate};

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "pxc.percona.com", version = "v1", kind = "PerconaXtraDBCluster", namespaced, shortname = "pxc")]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterBackup",
    namespaced,
    shortname = "pxc-backup"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterBackupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterRestore",
    namespaced,
    shortname = "pxc-restore"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterRestoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
}

impl Validate for PerconaXtraDBCluster {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaXtraDBClusterBackup {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaXtraDBClusterRestore {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
