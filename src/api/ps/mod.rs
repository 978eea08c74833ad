//! `ps.percona.com/v1`: PerconaServerMySQL (`ps`), PerconaServerMySQLBackup (`ps-backup`) and
//! PerconaServerMySQLRestore (`ps-restore`), compatible with Percona's operator at crVersion 1.3.0.
//!
//! Field names and shapes follow Percona's Go API (`api/v1/perconaservermysql_types.go`) and its
//! `deploy/cr.yaml`, `deploy/backup/backup.yaml`, `deploy/backup/restore.yaml`.
//!
//! **Unknown fields.** Percona's CRDs are closed structural schemas: the API server prunes any field
//! they do not declare. We mirror that: every field Percona declares is named here (so it survives a
//! read/write round trip), no struct carries a catch-all map, and an undeclared field is dropped on
//! read exactly as the API server would drop it. [`pruned_fields`] lists what a document would lose,
//! so a typo such as `sise: 3` can still be reported. Places where Percona itself stores free-form
//! data (`sidecars`, `sidecarVolumes`) are kept as JSON values with `x-kubernetes-preserve-unknown-fields`.
//!
//! Every field is optional in the Rust types, even those Percona marks required, so that one parse
//! can report *all* missing fields with their paths through [`Validate`](super::Validate) instead of
//! stopping at the first serde error. Values that are legally `null` in Percona's samples
//! (`restore.spec.pitr`, `storages.*.verifyTLS`) are kept as `Option<Option<T>>` so `null` stays `null`.

mod backup;
mod cluster;
mod defaults;
mod nullable;
mod schema;
mod status;
mod validate;

pub use super::common::pruned_fields;
pub use backup::*;
pub use cluster::*;
pub use defaults::*;
pub use status::*;
pub use validate::MAX_CLUSTER_NAME_LEN;

#[cfg(test)]
mod tests;
