//! PerconaPGCluster: the pure *build* step. From a cluster spec and what dereference found (existing secrets,
//! instance-name suffixes, fresh passwords and certificates), compute every Kubernetes object the cluster needs,
//! laid out as Percona's operator (on Crunchy PGO v5) lays them out.
//!
//! `build` performs no I/O and reads no clock or randomness: the same inputs always give the same objects, so
//! a no-op reconcile can compare desired with actual and write nothing. The controller around it lives in
//! [`reconcile`] (with `dereference` reading the inputs and `progress` reading the result back).

mod dereference;
mod instance;
mod meta;
mod patroni;
pub mod patroni_api;
mod pgbackrest;
mod pgbouncer;
mod pod;
mod progress;
mod rbac;
pub mod reconcile;
pub mod secrets;
mod services;
mod switchover;
mod users;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde_json::Value;

use crate::api::common::{Problems, Validate};
use crate::api::pg::{PerconaPGCluster, PerconaPGClusterSpec};

pub use secrets::{CertPair, PgCertificates, UserCredentials};

/// What the caller found in the cluster or generated for this reconcile.
#[derive(Clone, Debug, Default)]
pub struct PgBuildInputs {
    /// Per instance set name: the 4-character suffixes of its instances, in keep order. The caller lists the
    /// suffixes already in use first (so names stay stable) and appends fresh random ones for new instances;
    /// `build` uses the first `replicas` of them, so the caller also decides which instances a scale-down drops.
    pub instance_suffixes: BTreeMap<String, Vec<String>>,
    /// Per PostgreSQL user name: its password and SCRAM verifier, read from the user's existing Secret or freshly
    /// generated with [`secrets::generate_user_credentials`].
    pub users: BTreeMap<String, UserCredentials>,
    /// Credentials of pgBouncer's own auth user (`_crunchypgbouncer`), needed when pgBouncer is on and its Secret
    /// does not exist yet.
    pub pgbouncer_auth: Option<UserCredentials>,
    /// Names of Secrets that already exist in the namespace. Secrets holding generated material (certificates,
    /// pgBackRest and pgBouncer credentials) are only built when their name is absent, so they are never rotated
    /// by accident.
    pub existing_secrets: BTreeSet<String>,
    /// Freshly generated certificates, used for whichever certificate Secrets are absent.
    pub certificates: Option<PgCertificates>,
}

/// Everything the cluster should consist of. Objects carry `apiVersion`/`kind` when serialised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PgDesired {
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub secrets: Vec<Secret>,
    pub config_maps: Vec<ConfigMap>,
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    /// `<c>-instance` account, role and binding the instance pods run with (Patroni's API access).
    pub service_accounts: Vec<ServiceAccount>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

impl PgDesired {
    /// Every object as JSON, in a fixed order (kind, then build order), for snapshots and generic apply.
    pub fn to_values(&self) -> Result<Vec<Value>, serde_json::Error> {
        let mut out = Vec::new();
        for o in &self.stateful_sets {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.deployments {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.services {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.secrets {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.config_maps {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.persistent_volume_claims {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.pod_disruption_budgets {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.service_accounts {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.roles {
            out.push(serde_json::to_value(o)?);
        }
        for o in &self.role_bindings {
            out.push(serde_json::to_value(o)?);
        }
        Ok(out)
    }
}

/// Why the objects of a cluster could not be built. Each names the cluster and what is missing.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("PerconaPGCluster {cluster} has no {field}; it must come from the API server")]
    MissingMetadata { cluster: String, field: &'static str },
    #[error("PerconaPGCluster {cluster} is invalid: {problems}")]
    Invalid { cluster: String, problems: String },
    #[error(
        "PerconaPGCluster {cluster}: instance set {set} needs {needed} instance name suffixes (spec.instances[].replicas) but {given} were given"
    )]
    MissingSuffixes { cluster: String, set: String, needed: usize, given: usize },
    #[error(
        "PerconaPGCluster {cluster}: instance name suffix {suffix:?} of set {set} is not 4 lowercase letters or digits"
    )]
    BadSuffix { cluster: String, set: String, suffix: String },
    #[error("PerconaPGCluster {cluster}: no password was given for user {user} (spec.users)")]
    MissingPassword { cluster: String, user: String },
    #[error("PerconaPGCluster {cluster}: Secret {secret} does not exist and no generated material was given for it")]
    MissingGenerated { cluster: String, secret: String },
    #[error("PerconaPGCluster {cluster}: cannot render {what}: {message}")]
    Render { cluster: String, what: &'static str, message: String },
}

/// Builds every object of `cr` (see the module doc). Defaults are applied here, so `cr` may be as written.
pub fn build(cr: &PerconaPGCluster, inputs: &PgBuildInputs) -> Result<PgDesired, BuildError> {
    let ctx = meta::Context::new(cr)?;
    let problems: Problems = cr.validate();
    if !problems.is_empty() {
        return Err(BuildError::Invalid { cluster: ctx.display_name(), problems: problems.one_line() });
    }
    let spec = &ctx.spec;
    let mut desired = PgDesired::default();

    let instances = instance::plan(&ctx, inputs)?;
    for planned in &instances {
        instance::build_set_member(&ctx, planned, &mut desired)?;
    }
    for set in spec.instances.iter().flatten() {
        if let Some(pdb) = instance::set_pdb(&ctx, set) {
            desired.pod_disruption_budgets.push(pdb);
        }
    }
    let (account, role, binding) = rbac::instance_rbac(&ctx);
    desired.service_accounts.push(account);
    desired.roles.push(role);
    desired.role_bindings.push(binding);
    desired.config_maps.push(patroni::cluster_config_map(&ctx)?);
    for planned in &instances {
        desired.config_maps.push(patroni::instance_config_map(&ctx, planned)?);
    }

    if ctx.backups_enabled() {
        desired.config_maps.push(pgbackrest::config_map(&ctx, &instances));
        if let Some(sts) = pgbackrest::repo_host(&ctx) {
            desired.stateful_sets.push(sts);
        }
        desired.persistent_volume_claims.extend(pgbackrest::repo_volumes(&ctx));
        if let Some(secret) = pgbackrest::secret(&ctx, inputs)? {
            desired.secrets.push(secret);
        }
    }

    desired.services.extend(services::cluster_services(&ctx));
    if let Some(bouncer) = ctx.pgbouncer() {
        desired.deployments.push(pgbouncer::deployment(&ctx, bouncer));
        desired.services.push(pgbouncer::service(&ctx, bouncer));
        desired.config_maps.push(pgbouncer::config_map(&ctx, bouncer));
        if let Some(secret) = pgbouncer::secret(&ctx, inputs)? {
            desired.secrets.push(secret);
        }
        if let Some(pdb) = pgbouncer::pdb(&ctx, bouncer) {
            desired.pod_disruption_budgets.push(pdb);
        }
    }

    desired.secrets.extend(users::user_secrets(&ctx, inputs)?);
    desired.secrets.extend(secrets::certificate_secrets(&ctx, inputs)?);
    tracing::debug!(
        cluster = %ctx.display_name(),
        stateful_sets = desired.stateful_sets.len(),
        secrets = desired.secrets.len(),
        "built PostgreSQL cluster objects"
    );
    Ok(desired)
}

/// The spec with Percona's defaults, as `build` sees it (exposed for callers that plan inputs).
pub fn effective_spec(cr: &PerconaPGCluster) -> PerconaPGClusterSpec {
    cr.spec.with_defaults(cr.metadata.name.as_deref().unwrap_or_default())
}

/// Instance set names with the number of instances each needs, so the caller knows how many suffixes to supply.
pub fn instance_counts(cr: &PerconaPGCluster) -> Vec<(String, usize)> {
    effective_spec(cr)
        .instances
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name.unwrap_or_default(), s.replicas.unwrap_or(1).max(0) as usize))
        .collect()
}

/// The PostgreSQL users the cluster has: `spec.users`, or one user and database named after the cluster.
pub fn user_names(cr: &PerconaPGCluster) -> Vec<String> {
    users::effective_users(&effective_spec(cr), cr.metadata.name.as_deref().unwrap_or_default())
        .into_iter()
        .map(|u| u.name)
        .collect()
}
