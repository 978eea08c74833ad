//! `ps.percona.com/v1`: PerconaServerMySQL, PerconaServerMySQLBackup and PerconaServerMySQLRestore (stub: the full model lands with the foundation work).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Problems, Validate};

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ps.percona.com", version = "v1", kind = "PerconaServerMySQL", namespaced, shortname = "ps")]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ps.percona.com",
    version = "v1",
    kind = "PerconaServerMySQLBackup",
    namespaced,
    shortname = "ps-backup"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLBackupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ps.percona.com",
    version = "v1",
    kind = "PerconaServerMySQLRestore",
    namespaced,
    shortname = "ps-restore"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLRestoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
}

impl Validate for PerconaServerMySQL {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaServerMySQLBackup {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
impl Validate for PerconaServerMySQLRestore {
    fn validate(&self) -> Problems {
        Problems::new()
    }
}
