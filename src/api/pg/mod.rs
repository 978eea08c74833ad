//! `pgv2.percona.com/v2`: PerconaPGCluster, PerconaPGBackup and PerconaPGRestore, compatible with Percona's
//! PostgreSQL operator (crVersion 3.1.0, built on Crunchy PGO v5).
//!
//! Field names follow Percona's `pkg/apis/pgv2.percona.com/v2` types. What the engine reads is typed (instances,
//! storage, resources, pgBouncer, pgBackRest repos and schedules, pause, expose, users, TLS, standby, PMM);
//! pass-through sections (Patroni dynamic configuration, data sources, init containers, sidecar tuning) are kept
//! as free-form JSON.
//!
//! **Open versus closed structs.** Percona's cluster types keep growing between releases (3.1.0 added
//! logical replicas, pg_tde, extra volumes, pgBouncer pause, log rotation; each minor release adds more), and we
//! type only what dbdeck acts on. The cluster-side structs that mirror those growing Percona types therefore carry
//! an `extra` map: fields we do not type are accepted and written back unchanged, and their CRD schema node says
//! `x-kubernetes-preserve-unknown-fields` so an API server keeps them too. Small, stable shapes (repo storage
//! blocks, schedules, backup and restore specs, statuses) name every field and have no `extra`.

mod defaults;
mod validate;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvFromSource, EnvVar, LocalObjectReference, PersistentVolumeClaimSpec, PodSecurityContext,
    ResourceRequirements, SecretProjection, SecurityContext, Toleration, TopologySpreadConstraint, VolumeMount,
    VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::common::ClusterCondition;

pub use defaults::{
    DEFAULT_CR_VERSION, DEFAULT_LOGCOLLECTOR_IMAGE, DEFAULT_PGBACKREST_IMAGE, DEFAULT_PGBOUNCER_IMAGE,
    DEFAULT_PMM_IMAGE, DEFAULT_PORT, DEFAULT_POSTGRES_VERSION, DEFAULT_STORAGE, PgSecretNames, default_postgres_image,
};
pub use validate::{MAX_CLUSTER_NAME_LEN, MAX_POSTGRES_VERSION, MIN_POSTGRES_VERSION};

/// Fields of an open struct that dbdeck does not type, kept verbatim for the round trip.
pub type Extra = BTreeMap<String, Value>;

/// Deserialises a free-form value so that an explicit `null` stays `Some(Null)` and is written back,
/// instead of vanishing (plain `Option` would turn `key: null` into an absent key).
fn keep_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

// ------------------------------------------------------------------------------------------------
// PerconaPGCluster
// ------------------------------------------------------------------------------------------------

/// Desired state of a Percona PostgreSQL cluster (`spec` of `kind: PerconaPGCluster`).
// kube's printcolumn(...) repeats `type_ = ...` once per column, which clippy mistakes for a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGCluster",
    namespaced,
    shortname = "pg",
    status = "PerconaPGClusterStatus",
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.host"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Postgres", type_ = "string", json_path = ".status.postgres.ready"),
    printcolumn(name = "PGBouncer", type_ = "string", json_path = ".status.pgbouncer.ready"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PerconaPGClusterSpec {
    /// Labels and annotations copied onto every object of the cluster (`{labels, annotations}`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub metadata: Option<Value>,
    /// Operator version the CR is written for (`3.1.0`); behaviour changes are gated on it.
    #[serde(rename = "crVersion", default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub init_container: Option<Value>,
    /// PostgreSQL image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// Refuse non-TLS client connections.
    #[serde(rename = "tlsOnly", default, skip_serializing_if = "Option::is_none")]
    pub tls_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PgTlsSpec>,
    /// PostgreSQL listen port (Percona default 5432, minimum 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Service in front of the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<ServiceExpose>,
    /// Service in front of the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_replicas: Option<ServiceExpose>,
    /// Major PostgreSQL version of the image (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<PgSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<PgStandby>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openshift: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PgPatroni>,
    /// Users to create; absent means "one user and database named after the cluster".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<PgUser>>,
    #[serde(rename = "databaseInitSQL", default, skip_serializing_if = "Option::is_none")]
    pub database_init_sql: Option<PgDatabaseInitSql>,
    /// Stop the cluster: scale every workload to zero, keep volumes and services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Stop reconciling changes (Crunchy `spec.paused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<bool>,
    /// Bootstrap from another cluster's backup or from existing volumes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub data_source: Option<Value>,
    /// Sets of PostgreSQL pods (required, at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<PgInstanceSet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<PgProxy>,
    /// Backup configuration (required by Percona's schema; may be `enabled: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<PgBackups>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<PgPmm>,
    /// Fluent Bit log collector sidecar (persistent logging, 3.1.0).
    #[serde(rename = "logcollector", default, skip_serializing_if = "Option::is_none")]
    pub log_collector: Option<PgLogCollector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<PgExtensions>,
    /// Create a schema per user in each of their databases (Percona default true since 2.6.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_create_user_schema: Option<bool>,
    #[serde(rename = "clusterServiceDNSSuffix", default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_dns_suffix: Option<String>,
    /// postgresql.conf parameters and files mounted under /etc/postgres.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub config: Option<Value>,
    /// Extra pg_hba.conf rules.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub authentication: Option<Value>,
    /// Read-only logical replicas (3.1.0 tech preview, PostgreSQL 17+): `{name, databases, bootstrapMethod,
    /// dataVolumeClaimSpec, ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object_list")]
    pub logical_replicas: Option<Vec<Value>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// TLS certificate management (`spec.tls`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgTlsSpec {
    /// `auto` (default), `userProvidedOnly` or `operatorProvidedOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_management_policy: Option<String>,
    /// Go duration, e.g. `2160h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_validity_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_validity_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub issuer_conf: Option<Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A Service description (`expose`, `exposeReplicas`, `proxy.pgBouncer.expose`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ServiceExpose {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `ClusterIP` (default), `NodePort` or `LoadBalancer`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_source_ranges: Option<Vec<String>>,
    #[serde(rename = "externalDNS", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub external_dns: Option<Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Custom certificate Secrets (`spec.secrets`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgSecrets {
    #[serde(rename = "customTLSSecret", default, skip_serializing_if = "Option::is_none")]
    pub custom_tls_secret: Option<SecretProjection>,
    #[serde(rename = "customReplicationTLSSecret", default, skip_serializing_if = "Option::is_none")]
    pub custom_replication_tls_secret: Option<SecretProjection>,
    #[serde(rename = "customRootCATLSSecret", default, skip_serializing_if = "Option::is_none")]
    pub custom_root_ca_tls_secret: Option<SecretProjection>,
}

/// Standby (disaster-recovery replica of another cluster) settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgStandby {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Primary site host to stream from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Repo to replay WAL from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// WAL bytes the standby may fall behind before it is reported as lagging (quantity, e.g. `16Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_acceptable_lag: Option<Quantity>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Patroni settings (`spec.patroni`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgPatroni {
    /// Patroni loop period; probe timings derive from it (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_period_seconds: Option<i32>,
    /// Leader lease TTL (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_lease_duration_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Patroni DCS configuration, merged into what the operator generates.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub dynamic_configuration: Option<Value>,
    /// `{enabled, targetInstance, type}` for a requested switchover.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub switchover: Option<Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A PostgreSQL user the operator creates, with its Secret `<cluster>-pguser-<name>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgUser {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<String>>,
    /// `ALTER ROLE` options such as `SUPERUSER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PgPasswordSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_public_schema_access: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// How a generated password looks: `ASCII` (default) or `AlphaNumeric`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgPasswordSpec {
    #[serde(rename = "type")]
    pub type_: String,
}

/// ConfigMap key with SQL run once after the cluster is initialised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgDatabaseInitSql {
    pub name: String,
    pub key: String,
}

/// One set of PostgreSQL pods (`spec.instances[]`); each pod gets its own StatefulSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgInstanceSet {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub metadata: Option<Value>,
    /// Set name (`instance1`); optional when there is only one set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of PostgreSQL pods in this set (Percona default 1, minimum 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    /// PGDATA volume (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_volume_claim_spec: Option<PersistentVolumeClaimSpec>,
    /// Separate WAL volume.
    #[serde(rename = "walVolumeClaimSpec", default, skip_serializing_if = "Option::is_none")]
    pub wal_volume_claim_spec: Option<PersistentVolumeClaimSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object_list")]
    pub tablespace_volumes: Option<Vec<Value>>,
    /// Extra containers in each PostgreSQL pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<Vec<Container>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<Container>>,
    /// Tuning of the built-in sidecars (`replicaCertCopy`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub containers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,
    /// Volumes mounted into the PostgreSQL container of every pod of the set (3.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object_list")]
    pub extra_volumes: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub init_container: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Vec<EnvFromSource>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.proxy`: PostgreSQL's only proxy here is pgBouncer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgProxy {
    #[serde(rename = "pgBouncer", default, skip_serializing_if = "Option::is_none")]
    pub pg_bouncer: Option<PgBouncer>,
}

/// The pgBouncer connection pooler Deployment (`spec.proxy.pgBouncer`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgBouncer {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub metadata: Option<Value>,
    /// Pod count (Percona's schema default 1, minimum 0; the sample uses 3). 0 disables pgBouncer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Listen port (default 5432).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<ServiceExpose>,
    /// Let SUPERUSER roles connect through pgBouncer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_superusers: Option<bool>,
    #[serde(rename = "customTLSSecret", default, skip_serializing_if = "Option::is_none")]
    pub custom_tls_secret: Option<SecretProjection>,
    /// pgbouncer.ini sections (`global`, `databases`, `users`, `files`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<Vec<Container>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub containers: Option<Value>,
    /// Secrets with extra CA bundles (`ca.crt`) pgBouncer trusts for client certificates (3.1.0).
    #[serde(rename = "additionalTrustedCAs", default, skip_serializing_if = "Option::is_none")]
    pub additional_trusted_cas: Option<Vec<LocalObjectReference>>,
    /// Secret of extra pgBouncer users (key: user, value: password or verifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_secret: Option<LocalObjectReference>,
    /// `PAUSE` every pgBouncer so clients queue instead of failing (3.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Vec<EnvFromSource>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.backups`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgBackups {
    /// Backups on or off (Percona defaults to on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbackrest: Option<PgBackRest>,
    /// Keep `status.latestRestorableTime` of backups up to date (default true when backups are on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_latest_restorable_time: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshots: Option<PgVolumeSnapshots>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// PVC snapshot backups (`spec.backups.volumeSnapshots`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgVolumeSnapshots {
    /// Only `offline` exists (a replica is stopped while its PVC is snapshotted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// VolumeSnapshotClass to use (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub offline_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub jobs: Option<Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// pgBackRest configuration (`spec.backups.pgbackrest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgBackRest {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Projected Secrets/ConfigMaps with pgBackRest settings, usually the cloud credentials
    /// (`<cluster>-pgbackrest-secrets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<VolumeProjection>>,
    /// pgBackRest `[global]` options: `repoN-path`, `repoN-retention-full`, `repoN-cipher-type`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub init_container: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<PgBackupJobs>,
    /// Backup repositories `repo1`..`repo4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<PgBackRestRepo>>,
    /// Dedicated repository host (used when a repo is a volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_host: Option<PgRepoHost>,
    /// The backup the cluster's "manual backup" annotation runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<PgManualBackup>,
    /// In-place restore settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<PgInPlaceRestore>,
    /// Deprecated name of `containers`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub sidecars: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub containers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Vec<EnvFromSource>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Settings for every backup Job (`spec.backups.pgbackrest.jobs`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgBackupJobs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Seconds a finished Job is kept (minimum 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// One pgBackRest repository: exactly one of `volume`, `s3`, `gcs`, `azure`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRestRepo {
    /// `repo1` .. `repo4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<PgBackupSchedules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<PgRepoVolume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<PgRepoS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<PgRepoGcs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<PgRepoAzure>,
}

/// Cron schedules per backup type; dbdeck's cron creates a PerconaPGBackup on each tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgBackupSchedules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgRepoVolume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_spec: Option<PersistentVolumeClaimSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgRepoS3 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgRepoGcs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgRepoAzure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// The dedicated pgBackRest repository host pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgRepoHost {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.backups.pgbackrest.manual`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgManualBackup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// pgBackRest flags, e.g. `--type=full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.backups.pgbackrest.restore`: in-place restore (Crunchy's data-source fields inline).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgInPlaceRestore {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// PMM client sidecar (`spec.pmm`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgPmm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_host: Option<String>,
    /// Secret holding `PMM_SERVER_TOKEN` (`<cluster>-pmm-secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `pgstatmonitor` or `pgstatstatements`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Fluent Bit log collector (`spec.logcollector`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgLogCollector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// Extra Fluent Bit configuration (YAML format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `{configuration, extraConfig, schedule}`; `schedule` is a cron (default `0 0 * * *`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_rotate: Option<PgLogRotate>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgLogRotate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.extensions`: built-in switches and custom extensions fetched from object storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct PgExtensions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub storage: Option<Value>,
    /// Deprecated in 3.1.0 in favour of `extensions.<name>.enabled`, still accepted.
    #[serde(rename = "builtin", default, skip_serializing_if = "Option::is_none")]
    pub built_in: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Vec<PgCustomExtension>>,
    /// `pg_stat_monitor`, `pg_audit`, `pg_tde`, ... each `{enabled, ...}`.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgCustomExtension {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Observed state of a PostgreSQL cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGClusterStatus {
    /// `initializing | ready | paused | stopping` (PG has no `error` state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Endpoint clients use: `<cluster>-pgbouncer.<ns>.svc`, or the primary Service without pgBouncer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// dbdeck addition (not in Percona's status): why the cluster is not reconciled, e.g. validation problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PgPostgresStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbouncer: Option<PgComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub patroni: Option<Value>,
    /// Deprecated copy of `patroni.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub pgbackrest: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_custom_extensions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<PgStandbyStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object_list")]
    pub logical_replicas: Option<Vec<Value>>,
}

/// `{size, ready}` of one component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgComponentStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PgInstanceSetStatus {
    pub name: String,
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgPostgresStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<PgInstanceSetStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(rename = "imageID", default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `percona` or `community`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgStandbyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_last_computed_at: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// PerconaPGBackup
// ------------------------------------------------------------------------------------------------

/// One backup of a cluster to one of its pgBackRest repos (or a PVC snapshot).
// kube's printcolumn(...) repeats `type_ = ...` once per column, which clippy mistakes for a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGBackup",
    namespaced,
    shortname = "pg-backup",
    status = "PerconaPGBackupStatus",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.pgCluster", description = "Cluster name"),
    printcolumn(name = "Repo", type_ = "string", json_path = ".spec.repoName", description = "Repo name"),
    printcolumn(
        name = "Destination",
        type_ = "string",
        json_path = ".status.destination",
        description = "Backup destination"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state", description = "Job status"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.backupType", description = "Backup type"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.completed", description = "Completed time"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp", description = "Created time")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGBackupSpec {
    /// Name of the PerconaPGCluster in the same namespace (required).
    #[serde(rename = "pgCluster", default, skip_serializing_if = "Option::is_none")]
    pub pg_cluster: Option<String>,
    /// `repo1`..`repo4`; required unless `method: volumeSnapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// `pgbackrest` (default) or `volumeSnapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// pgBackRest flags, e.g. `--type=full|diff|incr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// `{env, envFrom}` for the backup Job's container.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub container_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGBackupStatus {
    /// `"" | Starting | Running | Succeeded | Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// RFC 3339 completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// `s3://bucket/path`, `gs://...`, `azure://...`; empty for volume repos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// `full | differential | incremental`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<String>,
    /// `filesystem | s3 | gcs | azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Copy of the repo definition the backup used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<PgBackRestRepo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// pgBackRest backup label (`20240101-000000F`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    #[serde(rename = "crVersion", default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    /// `2006-01-02 15:04:05.000000-0700`, or null when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub latest_restorable_time: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<PgSnapshotStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgSnapshotStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_name: Option<String>,
    #[serde(rename = "targetPvcName", default, skip_serializing_if = "Option::is_none")]
    pub target_pvc_name: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// PerconaPGRestore
// ------------------------------------------------------------------------------------------------

/// An in-place restore of a cluster from one of its repos (optionally point-in-time) or from a snapshot backup.
// kube's printcolumn(...) repeats `type_ = ...` once per column, which clippy mistakes for a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGRestore",
    namespaced,
    shortname = "pg-restore",
    status = "PerconaPGRestoreStatus",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.pgCluster", description = "Cluster name"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state", description = "Job status"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.completed", description = "Completed time"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGRestoreSpec {
    /// Name of the PerconaPGCluster to restore into (required).
    #[serde(rename = "pgCluster", default, skip_serializing_if = "Option::is_none")]
    pub pg_cluster: Option<String>,
    /// Repo holding the backups; required unless `volumeSnapshotBackupName` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// Name of a PerconaPGBackup taken with `method: volumeSnapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_backup_name: Option<String>,
    /// pgBackRest restore flags: `--type=time --target="2024-01-01 00:00:00+00"`, `--set=...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "keep_null")]
    #[schemars(schema_with = "crate::api::common::any_value")]
    pub container_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGRestoreStatus {
    /// `"" | Starting | Running | Failed | Succeeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// dbdeck addition: why a restore failed or is waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Backup states as Percona writes them.
pub mod backup_state {
    pub const STARTING: &str = "Starting";
    pub const RUNNING: &str = "Running";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
}

/// Restore states as Percona writes them (same words as backups).
pub mod restore_state {
    pub use super::backup_state::{FAILED, RUNNING, STARTING, SUCCEEDED};
}

impl PerconaPGCluster {
    /// True when `spec.pause` is set.
    pub fn is_paused(&self) -> bool {
        self.spec.pause.unwrap_or(false)
    }
}

impl PgBackups {
    /// Percona treats absent `enabled` as on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl PgBackRestRepo {
    /// The storage kinds this repo declares (`volume`, `s3`, `gcs`, `azure`), in that order.
    pub fn storage_kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.volume.is_some() {
            kinds.push("volume");
        }
        if self.s3.is_some() {
            kinds.push("s3");
        }
        if self.gcs.is_some() {
            kinds.push("gcs");
        }
        if self.azure.is_some() {
            kinds.push("azure");
        }
        kinds
    }
}
