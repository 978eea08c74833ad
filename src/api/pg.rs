//! `pgv2.percona.com/v2`: PerconaPGCluster, PerconaPGBackup and PerconaPGRestore (stub: the full model lands with the foundation work).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Problems, Validate};

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "pgv2.percona.com", version = "v2", kind = "PerconaPGCluster", namespaced, shortname = "pg")]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "pgv2.percona.com", version = "v2", kind = "PerconaPGBackup", namespaced, shortname = "pg-backup")]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGBackupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "pgv2.percona.com", version = "v2", kind = "PerconaPGRestore", namespaced, shortname = "pg-restore")]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGRestoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
}

impl Validate for PerconaPGCluster {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaPGBackup {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaPGRestore {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
