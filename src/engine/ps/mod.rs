//! The objects a PerconaServerMySQL turns into, built as a pure function of the CR and of what the
//! caller already found or generated ([`PsBuildInputs`]). No I/O, clock or randomness here: the
//! generators in [`secrets`] are called by the caller, which passes their output in.
//!
//! The layout follows Percona's operator at crVersion 1.3.0 (`pkg/mysql`, `pkg/orchestrator`,
//! `pkg/haproxy`, `pkg/router`): the same names, labels, ports, containers, volumes and mounts, so that
//! tools and runbooks written for Percona's clusters work on ours.

pub mod cluster_status;
mod config;
mod members;
mod meta;
mod mysql;
mod orchestrator;
mod pod;
mod proxy;
pub mod reconcile;
pub mod rollout;
pub mod secrets;
pub mod topology;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;

use crate::api::ps::{
    ClusterType, HAProxySpec, MySQLRouterSpec, MySQLSpec, OrchestratorSpec, PerconaServerMySQL, PerconaServerMySQLSpec,
};

pub use meta::{ANNOTATION_CONFIG_HASH, ANNOTATION_TLS_HASH, Component, LABEL_PRIMARY};
pub use secrets::{SYSTEM_USERS, TlsMaterial};

/// What dereference found in the cluster and what the caller generated for this build.
#[derive(Clone, Debug, Default)]
pub struct PsBuildInputs {
    /// Data of the user Secret (`spec.secretsName`) when it exists, keys to plain values.
    pub users_secret: Option<BTreeMap<String, String>>,
    /// Data of the TLS Secret (`spec.sslSecretName`) when it exists (`ca.crt`, `tls.crt`, `tls.key`).
    pub tls_secret: Option<BTreeMap<String, String>>,
    /// Fresh passwords ([`secrets::generate_passwords`]); used only for system users the user Secret lacks.
    pub generated_passwords: BTreeMap<String, String>,
    /// A fresh certificate set ([`secrets::generate_tls`]); used only when the TLS Secret is absent.
    pub generated_tls: Option<TlsMaterial>,
}

/// Every object of one PS cluster, in the order they should be applied.
#[derive(Clone, Debug, Default)]
pub struct PsDesired {
    pub secrets: Vec<Secret>,
    pub config_maps: Vec<ConfigMap>,
    pub services: Vec<Service>,
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    /// Orchestrator's ServiceAccount, Role and RoleBinding (async with Orchestrator only).
    pub service_accounts: Vec<ServiceAccount>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

impl PsDesired {
    /// All objects as JSON (with apiVersion and kind), in apply order.
    pub fn to_values(&self) -> Vec<serde_json::Value> {
        fn push<T: serde::Serialize>(out: &mut Vec<serde_json::Value>, items: &[T]) {
            out.extend(items.iter().filter_map(|i| serde_json::to_value(i).ok()));
        }
        let mut out = Vec::new();
        push(&mut out, &self.service_accounts);
        push(&mut out, &self.roles);
        push(&mut out, &self.role_bindings);
        push(&mut out, &self.secrets);
        push(&mut out, &self.config_maps);
        push(&mut out, &self.services);
        push(&mut out, &self.stateful_sets);
        push(&mut out, &self.deployments);
        push(&mut out, &self.pod_disruption_budgets);
        out
    }

    /// `Kind/name` of every object, in apply order (handy for logs and tests).
    pub fn names(&self) -> Vec<String> {
        self.to_values()
            .iter()
            .map(|v| format!("{}/{}", v["kind"].as_str().unwrap_or("?"), v["metadata"]["name"].as_str().unwrap_or("?")))
            .collect()
    }
}

/// Why the objects of a cluster could not be built. Each message names the cluster and the field.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("a PerconaServerMySQL without metadata.name cannot be built")]
    MissingName,
    #[error(
        "PerconaServerMySQL {cluster}: metadata.{field} is empty; it comes from the API server and is needed for {why}"
    )]
    MissingMeta { cluster: String, field: &'static str, why: &'static str },
    #[error("PerconaServerMySQL {cluster}: spec.mysql.clusterType {value:?} is neither group-replication nor async")]
    UnknownClusterType { cluster: String, value: String },
    #[error(
        "PerconaServerMySQL {cluster}: Secret {secret} has no key {key:?} and no generated password was passed for it"
    )]
    MissingPassword { cluster: String, secret: String, key: String },
    #[error("PerconaServerMySQL {cluster}: Secret {secret} does not exist and no generated certificate was passed")]
    MissingTls { cluster: String, secret: String },
    #[error("PerconaServerMySQL {cluster}: {field} {value:?} is not a memory quantity")]
    InvalidQuantity { cluster: String, field: String, value: String },
    #[error("PerconaServerMySQL {cluster}: {field} is {value} bytes; auto-tuning needs at least 12Mi")]
    NotEnoughMemory { cluster: String, field: String, value: i64 },
    #[error("PerconaServerMySQL {cluster}: spec.orchestrator.configuration is not a JSON object: {message}")]
    InvalidOrchestratorConfig { cluster: String, message: String },
    #[error("PerconaServerMySQL {cluster}: {field} is not a valid Kubernetes {kind}: {message}")]
    InvalidEmbedded { cluster: String, field: String, kind: &'static str, message: String },
}

/// Builds every object of the cluster. Pure: the same CR and inputs always give the same objects.
pub fn build(cr: &PerconaServerMySQL, inputs: &PsBuildInputs) -> Result<PsDesired, BuildError> {
    let name = cr.metadata.name.clone().filter(|n| !n.is_empty()).ok_or(BuildError::MissingName)?;
    let missing = |field, why| BuildError::MissingMeta { cluster: name.clone(), field, why };
    let namespace = cr.namespace().filter(|n| !n.is_empty()).ok_or_else(|| missing("namespace", "every object"))?;
    let uid = cr.uid().filter(|u| !u.is_empty()).ok_or_else(|| missing("uid", "owner references"))?;
    let spec = cr.spec.with_defaults(&name);
    let cluster_type = spec.cluster_type().ok_or_else(|| BuildError::UnknownClusterType {
        cluster: name.clone(),
        value: spec.mysql.as_ref().and_then(|m| m.cluster_type.clone()).unwrap_or_default(),
    })?;
    let global = spec.metadata.clone().unwrap_or_default();
    let owner = meta::Owner {
        name: name.clone(),
        namespace,
        uid,
        global_labels: global.labels.unwrap_or_default(),
        global_annotations: global.annotations.unwrap_or_default(),
    };
    let ctx = Ctx::new(owner, spec, cluster_type);

    let mut out = PsDesired::default();
    let users = secrets::users(&ctx, inputs)?;
    let tls = secrets::tls(&ctx, inputs)?;
    out.secrets.extend(users.objects);
    out.secrets.extend(tls.object);
    let tls_hash = tls.hash;

    let cnf = config::mysql(&ctx)?;
    out.config_maps.extend(cnf.objects);
    let mysql = mysql::statefulset(&ctx, &cnf.hash, &tls_hash)?;
    out.services.extend(mysql::services(&ctx));
    out.pod_disruption_budgets.push(pod::pdb(&ctx, Component::Mysql, ctx.mysql.pod_disruption_budget.as_ref()));
    out.stateful_sets.push(mysql);

    if ctx.orchestrator_on() {
        let orc = config::orchestrator(&ctx)?;
        out.config_maps.push(orc.object);
        let (account, role, binding) = orchestrator::rbac(&ctx);
        out.service_accounts.push(account);
        out.roles.push(role);
        out.role_bindings.push(binding);
        out.services.extend(orchestrator::services(&ctx));
        out.stateful_sets.push(orchestrator::statefulset(&ctx, &orc.hash, &tls_hash));
        let pdb = ctx.orc.pod_disruption_budget.as_ref();
        out.pod_disruption_budgets.push(pod::pdb(&ctx, Component::Orchestrator, pdb));
    }
    if ctx.haproxy_on() {
        let cfg = config::custom(&ctx, Component::Haproxy, ctx.haproxy.configuration.as_deref(), "haproxy.cfg");
        out.config_maps.extend(cfg.object);
        out.services.extend(proxy::haproxy_services(&ctx));
        out.stateful_sets.push(proxy::haproxy_statefulset(&ctx, &cfg.hash, &tls_hash));
        let pdb = ctx.haproxy.pod_disruption_budget.as_ref();
        out.pod_disruption_budgets.push(pod::pdb(&ctx, Component::Haproxy, pdb));
    }
    if ctx.router_on() {
        let router = &ctx.router;
        let cfg = config::custom(&ctx, Component::Router, router.configuration.as_deref(), "mysqlrouter.conf");
        out.config_maps.extend(cfg.object);
        out.services.push(proxy::router_service(&ctx));
        out.deployments.push(proxy::router_deployment(&ctx, &cfg.hash, &tls_hash));
        out.pod_disruption_budgets.push(pod::pdb(&ctx, Component::Router, router.pod_disruption_budget.as_ref()));
    }
    Ok(out)
}

/// The CR with defaults applied, plus what every builder asks of it.
pub(crate) struct Ctx {
    owner: meta::Owner,
    spec: PerconaServerMySQLSpec,
    cluster_type: ClusterType,
    // with_defaults always fills these four; they are lifted out so builders need no unwrapping.
    mysql: MySQLSpec,
    haproxy: HAProxySpec,
    router: MySQLRouterSpec,
    orc: OrchestratorSpec,
}

impl Ctx {
    fn new(owner: meta::Owner, spec: PerconaServerMySQLSpec, cluster_type: ClusterType) -> Self {
        let proxy = spec.proxy.clone().unwrap_or_default();
        Self {
            owner,
            cluster_type,
            mysql: spec.mysql.clone().unwrap_or_default(),
            haproxy: proxy.haproxy.unwrap_or_default(),
            router: proxy.router.unwrap_or_default(),
            orc: spec.orchestrator.clone().unwrap_or_default(),
            spec,
        }
    }
    fn is_gr(&self) -> bool {
        self.cluster_type == ClusterType::GroupReplication
    }
    /// Orchestrator runs only with async replication.
    fn orchestrator_on(&self) -> bool {
        !self.is_gr() && self.spec.orchestrator_enabled()
    }
    fn haproxy_on(&self) -> bool {
        self.spec.haproxy_enabled()
    }
    /// MySQL Router runs only with group replication.
    fn router_on(&self) -> bool {
        self.is_gr() && self.spec.router_enabled()
    }
    /// Replicas of a component: its size, or 0 while the cluster is paused.
    fn replicas(&self, size: Option<i32>) -> i32 {
        if self.spec.paused() { 0 } else { size.unwrap_or(crate::api::ps::DEFAULT_SIZE) }
    }
    fn internal_secret_name(&self) -> String {
        format!("internal-{}", self.owner.name)
    }
    fn ssl_secret_name(&self) -> String {
        self.spec.ssl_secret_name.clone().unwrap_or_else(|| format!("{}-ssl", self.owner.name))
    }
    fn secrets_name(&self) -> String {
        self.spec.secrets_name.clone().unwrap_or_else(|| format!("{}-secrets", self.owner.name))
    }
    fn cluster_type_str(&self) -> &'static str {
        if self.is_gr() { ClusterType::GROUP_REPLICATION } else { ClusterType::ASYNC }
    }
    fn operator_image(&self) -> String {
        crate::api::ps::images::OPERATOR.to_string()
    }
}
