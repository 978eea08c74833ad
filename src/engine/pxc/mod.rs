//! The pure build step for PerconaXtraDBCluster: from a CR (plus what dereference found and what the
//! caller generated) to the full list of desired objects, laid out as Percona's operator lays them out.
//!
//! `build` does no I/O, reads no clock and draws no random numbers: passwords and certificates come
//! in through [`BuildInputs`], made beforehand by the generators in [`secrets`].

mod config;
mod meta;
mod pmm;
pub mod reconcile;
pub mod secrets;
mod service;
mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use crate::api::pxc::PerconaXtraDBCluster;
pub use config::{AutoTune, auto_tune};
use meta::Owner;
pub use secrets::{TlsBundle, USERS};

/// What dereference found in the cluster and what the caller generated for this reconcile.
/// Its `Debug` shows which keys are present, never a value.
#[derive(Clone, Default)]
pub struct BuildInputs {
    /// Data of the existing user Secret (`spec.secretsName`), if any.
    pub user_secret: Option<BTreeMap<String, String>>,
    /// Data of the existing operator copy `internal-<cluster>`, if any.
    pub internal_secret: Option<BTreeMap<String, String>>,
    /// The existing `spec.sslSecretName` Secret, if any.
    pub ssl: Option<TlsBundle>,
    /// The existing `spec.sslInternalSecretName` Secret, if any.
    pub ssl_internal: Option<TlsBundle>,
    /// Fresh passwords by user name ([`secrets::generate_passwords`]); used only for users the Secret lacks.
    pub generated_passwords: BTreeMap<String, String>,
    /// A fresh CA and server certificate ([`secrets::generate_tls`]); used only when a TLS Secret is absent.
    pub generated_tls: Option<TlsBundle>,
    /// Data of the existing `envVarsSecret` Secrets by name; a change to one rolls its component's pods.
    pub env_vars_secrets: BTreeMap<String, BTreeMap<String, String>>,
}

impl std::fmt::Debug for BuildInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn keys<V>(m: &BTreeMap<String, V>) -> Vec<&str> {
            m.keys().map(String::as_str).collect()
        }
        f.debug_struct("BuildInputs")
            .field("user_secret", &self.user_secret.as_ref().map(keys))
            .field("internal_secret", &self.internal_secret.as_ref().map(keys))
            .field("ssl", &self.ssl.is_some())
            .field("ssl_internal", &self.ssl_internal.is_some())
            .field("generated_passwords", &keys(&self.generated_passwords))
            .field("generated_tls", &self.generated_tls.is_some())
            .field("env_vars_secrets", &keys(&self.env_vars_secrets))
            .finish()
    }
}

/// The full desired set of objects for one cluster. Its `Debug` lists kinds and names only, since
/// the Secrets carry passwords and keys.
#[derive(Clone, Default, PartialEq)]
pub struct Desired {
    pub stateful_sets: Vec<StatefulSet>,
    pub services: Vec<Service>,
    pub secrets: Vec<Secret>,
    pub config_maps: Vec<ConfigMap>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names().iter().map(|(k, n)| format!("{k}/{n}"))).finish()
    }
}

impl Desired {
    /// `(kind, name)` of every object, in build order.
    pub fn names(&self) -> Vec<(&'static str, String)> {
        fn named<'a, K: Resource + 'a>(
            kind: &'static str,
            objects: impl IntoIterator<Item = &'a K>,
        ) -> impl Iterator<Item = (&'static str, String)> {
            objects.into_iter().map(move |o| (kind, o.meta().name.clone().unwrap_or_default()))
        }
        named("StatefulSet", &self.stateful_sets)
            .chain(named("Service", &self.services))
            .chain(named("Secret", &self.secrets))
            .chain(named("ConfigMap", &self.config_maps))
            .chain(named("PodDisruptionBudget", &self.pod_disruption_budgets))
            .collect()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("PerconaXtraDBCluster has no metadata.{field}; it must be read back from the API server before building")]
    MissingMeta { field: &'static str },
    #[error("PerconaXtraDBCluster {cluster}: {what} is needed for Secret {secret} but the caller generated none")]
    MissingGenerated { cluster: String, secret: String, what: String },
    #[error("PerconaXtraDBCluster {cluster}: {field} {message}")]
    InvalidField { cluster: String, field: String, message: String },
    #[error("{object}: the value at `{path}` does not fit the Kubernetes type: {message}")]
    Shape { object: String, path: String, message: String },
}

/// Builds every object Percona's operator would create for `cr`. Pure and deterministic.
pub fn build(cr: &PerconaXtraDBCluster, inputs: &BuildInputs) -> Result<Desired, BuildError> {
    let cluster = cr.metadata.name.clone().ok_or(BuildError::MissingMeta { field: "name" })?;
    let namespace = cr.metadata.namespace.clone().ok_or(BuildError::MissingMeta { field: "namespace" })?;
    let uid = cr.metadata.uid.clone().ok_or(BuildError::MissingMeta { field: "uid" })?;
    let owner = Owner {
        reference: OwnerReference {
            api_version: "pxc.percona.com/v1".into(),
            kind: "PerconaXtraDBCluster".into(),
            name: cluster.clone(),
            uid,
            controller: Some(true),
            block_owner_deletion: None,
        },
        cluster: cluster.clone(),
        namespace,
    };
    // Defaults are filled as the API layer documents them; the few places where Percona's stored
    // objects show no default (resources, update strategy) read the written spec instead.
    let spec = cr.spec.with_defaults(&cluster);
    let ctx = Ctx { owner: &owner, raw: &cr.spec, spec: &spec };

    let configs = config::build(&ctx)?;
    let secrets = secrets::build(&ctx, inputs)?;
    let hashes = statefulset::PodHashes {
        pxc_config: configs.pxc_hash.clone(),
        haproxy_config: configs.haproxy_hash.clone(),
        proxysql_config: configs.proxysql_hash.clone(),
        ssl: secrets.ssl_hash.clone(),
        ssl_internal: secrets.ssl_internal_hash.clone(),
        env_vars: inputs
            .env_vars_secrets
            .iter()
            .map(|(name, data)| {
                let parts: Vec<&[u8]> = data.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]).collect();
                (name.clone(), meta::hash_parts(parts))
            })
            .collect(),
        env_prefix: inputs
            .env_vars_secrets
            .iter()
            .filter(|(_, d)| d.get("PMM_PREFIX").is_some_and(|v| !v.is_empty()))
            .map(|(n, _)| n.clone())
            .collect(),
        pmm: pmm::PmmInputs {
            token: [&inputs.user_secret, &inputs.internal_secret]
                .into_iter()
                .flatten()
                .any(|d| d.get("pmmservertoken").is_some_and(|v| !v.is_empty())),
        },
    };
    Ok(Desired {
        stateful_sets: statefulset::build(&ctx, &hashes)?,
        services: service::services(&ctx)?,
        secrets: secrets.objects,
        config_maps: configs.objects,
        pod_disruption_budgets: service::pdbs(&ctx)?,
    })
}

/// The CR as written, the CR with defaults, and the owner: what every sub-builder reads.
pub(crate) struct Ctx<'a> {
    owner: &'a Owner,
    raw: &'a crate::api::pxc::PerconaXtraDBClusterSpec,
    spec: &'a crate::api::pxc::PerconaXtraDBClusterSpec,
}

impl Ctx<'_> {
    fn paused(&self) -> bool {
        self.spec.pause == Some(true)
    }
    fn haproxy_on(&self) -> bool {
        self.spec.haproxy_enabled()
    }
    fn proxysql_on(&self) -> bool {
        self.spec.proxysql_enabled()
    }
    fn logcollector_on(&self) -> bool {
        self.spec.logcollector.as_ref().is_some_and(|l| l.enabled == Some(true))
    }
    fn err(&self, field: &str, message: impl Into<String>) -> BuildError {
        BuildError::InvalidField { cluster: self.owner.cluster.clone(), field: field.into(), message: message.into() }
    }
}
