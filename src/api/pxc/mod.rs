//! `pxc.percona.com/v1`: PerconaXtraDBCluster, PerconaXtraDBClusterBackup and PerconaXtraDBClusterRestore,
//! compatible with Percona's XtraDB Cluster operator (crVersion 1.20.0).
//!
//! Field names follow Percona's Go types (`pkg/apis/pxc/v1`). The backup and restore kinds live in
//! `backup_restore` (re-exported here), defaults in [`defaults`], the
//! checks in [`validate`].
//!
//! **Unknown fields.** Percona's CRD keeps unknown fields only at the document root
//! (`+kubebuilder:pruning:PreserveUnknownFields` on the kind); everything under `spec` and `status`
//! is a closed schema that the API server prunes. So every struct here names its fields and none
//! carries a catch-all map: a field the API server would drop is not worth keeping, and without
//! `#[serde(flatten)]` a wrong type still reports its exact path (`spec.pxc.size`), which flattening
//! would hide. Pieces the engine never reads (security contexts, sidecars, lifecycle hooks …) are
//! kept as free-form JSON so they survive a round trip unchanged.
//!
//! **Round-trip limits.** Quantities are kept as the text written, but an unquoted number
//! (`cpu: 1`) comes back as the string `"1"`, as the API server would store it; an explicit
//! `null` on a typed field is read as "absent" (free-form fields keep their `null`).

// kube-derive's printcolumn(...) lists repeat `type_ = "string"`, which clippy mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod backup_restore;
pub mod defaults;
pub mod validate;

pub use backup_restore::*;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EmptyDirVolumeSource, EnvVar, HostPathVolumeSource, LocalObjectReference, PersistentVolumeClaimSpec,
    Probe, ResourceRequirements, SecretKeySelector as KubeSecretKeySelector, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::common::ClusterCondition;

/// Reads a free-form value so that an explicit `null` stays `Some(Null)` and is written back.
fn keep_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The pod-level settings Percona's `PodSpec` gives every component (pxc, haproxy, proxysql);
/// Go inlines that struct, we expand it into each component struct instead of flattening (see
/// the module comment on paths).
macro_rules! component_spec {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Only meaningful for the proxies: whether this component runs at all.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub enabled: Option<bool>,
            /// Number of pods (the StatefulSet replicas).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub size: Option<i32>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image_pull_policy: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub resources: Option<ResourceRequirements>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub sidecar_resources: Option<ResourceRequirements>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub volume_spec: Option<VolumeSpec>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub affinity: Option<PodAffinity>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub node_selector: Option<BTreeMap<String, String>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tolerations: Option<Vec<Toleration>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub priority_class_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub scheduler_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub runtime_class_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub service_account_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub annotations: Option<BTreeMap<String, String>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub labels: Option<BTreeMap<String, String>>,
            /// Configuration file text (my.cnf, haproxy.cfg or proxysql.cnf).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub configuration: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub vault_secret_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ssl_secret_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ssl_internal_secret_name: Option<String>,
            /// Secret whose keys become environment variables of the main container.
            #[serde(default, rename = "envVarsSecret", skip_serializing_if = "Option::is_none")]
            pub env_vars_secret: Option<String>,
            /// terminationGracePeriodSeconds of the pods.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub grace_period: Option<i64>,
            /// Deprecated by Percona in favour of `expose.type`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub service_type: Option<String>,
            /// Deprecated by Percona in favour of `exposeReplicas.type`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub replicas_service_type: Option<String>,
            /// Deprecated by Percona in favour of `expose.externalTrafficPolicy`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub external_traffic_policy: Option<String>,
            /// Deprecated by Percona in favour of `exposeReplicas.externalTrafficPolicy`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub replicas_external_traffic_policy: Option<String>,
            /// Deprecated by Percona in favour of `expose.loadBalancerSourceRanges`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub load_balancer_source_ranges: Option<Vec<String>>,
            /// Deprecated by Percona in favour of `expose.annotations`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub service_annotations: Option<BTreeMap<String, String>>,
            /// Deprecated by Percona in favour of `expose.labels`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub service_labels: Option<BTreeMap<String, String>>,
            /// Deprecated by Percona in favour of `exposeReplicas.annotations`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub replicas_service_annotations: Option<BTreeMap<String, String>>,
            /// Deprecated by Percona in favour of `exposeReplicas.labels`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub replicas_service_labels: Option<BTreeMap<String, String>>,
            /// Shortcut for `readinessProbes.initialDelaySeconds`; wins over it when set.
            #[serde(default, rename = "readinessDelaySec", skip_serializing_if = "Option::is_none")]
            pub readiness_delay_sec: Option<i32>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub readiness_probes: Option<Probe>,
            /// Shortcut for `livenessProbes.initialDelaySeconds`; wins over it when set.
            #[serde(default, rename = "livenessDelaySec", skip_serializing_if = "Option::is_none")]
            pub liveness_delay_sec: Option<i32>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub liveness_probes: Option<Probe>,
            /// A `PodSecurityContext`, kept as written.
            #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object")]
            pub pod_security_context: Option<Value>,
            /// A container `SecurityContext`, kept as written.
            #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object")]
            pub container_security_context: Option<Value>,
            /// Extra containers (`Container` objects), kept as written.
            #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object_list")]
            pub sidecars: Option<Value>,
            /// Volumes for the extra containers, kept as written.
            #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object_list")]
            pub sidecar_volumes: Option<Value>,
            /// Claim templates for the extra containers, kept as written.
            #[serde(default, rename = "sidecarPVCs", deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object_list")]
            pub sidecar_pvcs: Option<Value>,
            /// Extra claims mounted into the main container, kept as written.
            #[serde(default, rename = "extraPVCs", deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object_list")]
            pub extra_pvcs: Option<Value>,
            /// A container `Lifecycle`, kept as written.
            #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::common::any_object")]
            pub lifecycle: Option<Value>,
            /// Script run by the entrypoint before the service starts.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub hook_script: Option<String>,
            $($body)*
        }
    };
}

// ------------------------------------------------------------------------------------------------
// PerconaXtraDBCluster

/// The desired state of one XtraDB (Galera) cluster.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBCluster",
    doc = "A Percona XtraDB Cluster (Galera) with its proxies, backups and monitoring",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    status = "PerconaXtraDBClusterStatus",
    shortname = "pxc",
    shortname = "pxcs",
    scale(
        spec_replicas_path = ".spec.pxc.size",
        status_replicas_path = ".status.pxc.size",
        label_selector_path = ".status.pxc.labelSelectorPath"
    ),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.host"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "PXC", type_ = "string", description = "Ready pxc nodes", json_path = ".status.pxc.ready"),
    printcolumn(
        name = "proxysql",
        type_ = "string",
        description = "Ready proxysql nodes",
        json_path = ".status.proxysql.ready"
    ),
    printcolumn(
        name = "haproxy",
        type_ = "string",
        description = "Ready haproxy nodes",
        json_path = ".status.haproxy.ready"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterSpec {
    /// Operator release this resource is written for (`1.20.0`).
    #[serde(default, rename = "crVersion", skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    /// `kubernetes` or `openshift`; detected when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Scale every component to zero, keeping volumes and services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_name: Option<String>,
    /// How the operator generates passwords for system users it creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_generation_options: Option<PasswordGenerationOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_secret_name: Option<String>,
    #[serde(default, rename = "sslSecretName", skip_serializing_if = "Option::is_none")]
    pub ssl_secret_name: Option<String>,
    #[serde(default, rename = "sslInternalSecretName", skip_serializing_if = "Option::is_none")]
    pub ssl_internal_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_collector_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc: Option<PxcSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<HaproxySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxysql: Option<ProxysqlSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<PmmSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logcollector: Option<LogCollectorSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// `SmartUpdate`, `RollingUpdate` or `OnDelete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_options: Option<UpgradeOptions>,
    /// Deprecated switch that turns every unsafe flag on and TLS off.
    #[serde(default, rename = "allowUnsafeConfigurations", skip_serializing_if = "Option::is_none")]
    pub allow_unsafe_configurations: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_flags: Option<UnsafeFlags>,
    #[serde(default, rename = "enableVolumeExpansion", skip_serializing_if = "Option::is_none")]
    pub enable_volume_expansion: Option<bool>,
    /// Deprecated by Percona in favour of `initContainer.image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainerSpec>,
    #[serde(default, rename = "enableCRValidationWebhook", skip_serializing_if = "Option::is_none")]
    pub enable_cr_validation_webhook: Option<bool>,
    /// Annotation keys on managed objects the operator must leave alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_annotations: Option<Vec<String>>,
    /// Label keys on managed objects the operator must leave alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_labels: Option<Vec<String>>,
    /// Application users the operator creates and keeps in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
}

/// Safety checks that can be switched off one by one (replaces `allowUnsafeConfigurations`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnsafeFlags {
    /// Allow `tls.enabled: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// Allow a pxc.size that is even, below 3 or above 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc_size: Option<bool>,
    /// Allow a HAProxy or ProxySQL size below 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_size: Option<bool>,
    /// Allow backups while the cluster is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_if_unhealthy: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Extra subject alternative names for the server certificate.
    #[serde(default, rename = "SANs", skip_serializing_if = "Option::is_none")]
    pub sans: Option<Vec<String>>,
    /// cert-manager issuer to use instead of the operator's own CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_conf: Option<IssuerRef>,
    /// Lifetime of issued certificates (Go duration, e.g. `2160h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_validity_duration: Option<String>,
    /// Lifetime of the CA certificate (Go duration, e.g. `26280h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_validity_duration: Option<String>,
}

/// Character set and length range of generated system-user passwords.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordGenerationOptions {
    /// Special characters that may appear (at most 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<String>,
    /// 8 to 32, not below `minLength`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i32>,
    /// 8 to 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i32>,
}

/// A cert-manager object reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Version service settings: which database versions to move to, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_service_endpoint: Option<String>,
    /// `disabled`, `never`, `recommended`, `latest`, `8.0-recommended` … or an exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    /// Cron schedule for the version check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitContainerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub container_security_context: Option<Value>,
}

/// A declarative application user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_grant_option: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

component_spec! {
    /// The Galera nodes.
    pub struct PxcSpec {
        /// Bootstrap automatically after a full-cluster crash.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auto_recovery: Option<bool>,
        /// Cross-site asynchronous replication channels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replication_channels: Option<Vec<ReplicationChannel>>,
        /// Per-pod services.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExpose>,
        /// Memory allocator for mysqld: `jemalloc` or `tcmalloc`.
        #[serde(default, rename = "mysqlAllocator", skip_serializing_if = "Option::is_none")]
        pub mysql_allocator: Option<String>,
    }
}

component_spec! {
    /// The HAProxy load balancer in front of the nodes.
    pub struct HaproxySpec {
        /// The writer service (`<cluster>-haproxy`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_primary: Option<ServiceExpose>,
        /// The readers service (`<cluster>-haproxy-replicas`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_replicas: Option<ServiceExpose>,
        /// How HAProxy checks the Galera nodes behind it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub health_check: Option<HaproxyHealthCheck>,
        /// Deprecated by Percona in favour of `exposeReplicas.enabled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replicas_service_enabled: Option<bool>,
        /// Deprecated by Percona in favour of `exposeReplicas.loadBalancerSourceRanges`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replicas_load_balancer_source_ranges: Option<Vec<String>>,
    }
}

component_spec! {
    /// The ProxySQL proxy in front of the nodes.
    pub struct ProxysqlSpec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExpose>,
        /// ProxySQL's own Galera health scheduler (instead of proxysql-admin).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scheduler: Option<ProxysqlScheduler>,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HaproxyHealthCheck {
    /// Milliseconds between checks (at least 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i32>,
    /// Failed checks before a node is marked down (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<i32>,
    /// Successful checks before a node is marked up again (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxysqlScheduler {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_timeout_milliseconds: Option<i32>,
    /// Keep the writer in the reader set too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_is_also_reader: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_timeout_milliseconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_check_interval_milliseconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i32>,
}

/// How a component's Service is exposed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExpose {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Service type: `ClusterIP`, `NodePort` or `LoadBalancer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Only with `type: LoadBalancer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_source_ranges: Option<Vec<String>>,
    /// Requested load balancer address (deprecated by Kubernetes, still in Percona's cr.yaml).
    #[serde(default, rename = "loadBalancerIP", skip_serializing_if = "Option::is_none")]
    pub load_balancer_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    /// Deprecated by Percona in favour of `externalTrafficPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<String>,
    /// `haproxy.exposeReplicas` only: send readers to every node but the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_readers: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_source: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources_list: Option<Vec<ReplicationSource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<ReplicationChannelConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationChannelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_retry_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_connect_retry: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_skip_verify: Option<bool>,
    /// Path of the CA file that verifies the source's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// Anti-affinity shortcut (`antiAffinityTopologyKey`) or a full `Affinity` (`advanced`, which wins).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity_topology_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<Affinity>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// Where a component keeps its data: a claim template (usual), a host path or an emptyDir.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimSpec>,
}

/// Percona Monitoring and Management client sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PmmSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_host: Option<String>,
    /// PMM 2 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc_params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxysql_params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probes: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probes: Option<Probe>,
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub container_security_context: Option<Value>,
}

/// fluent-bit log collector sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogCollectorSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra fluent-bit configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_script: Option<String>,
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub container_security_context: Option<Value>,
}

/// Backup settings: image, storages, schedules and point-in-time recovery.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// Let backups of the same cluster run at the same time (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_parallel: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PitrSpec>,
    /// Named places backups go to; schedules and backups refer to them by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storages: Option<BTreeMap<String, BackupStorageSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<BackupSchedule>>,
    /// Retries of the backup Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// How long a new backup may wait to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// How long a backup may stay suspended (waiting for its turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_deadline_seconds: Option<i64>,
    /// How long a started backup Job may take to get running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
}

/// Binlog collection for point-in-time recovery.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PitrSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Seconds between binlog uploads (Percona keeps it as a float; kept as the number written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_between_uploads: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<serde_json::Number>,
}

/// One scheduled backup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    #[serde(default)]
    pub name: String,
    /// Cron schedule (`0 0 * * 6`).
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub storage_name: String,
    /// Deprecated by Percona in favour of `retention`: how many backups to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<BackupRetention>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRetention {
    /// Only `count` exists.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_from_storage: Option<bool>,
}

/// Storage type names as Percona spells them.
pub mod storage_type {
    pub const S3: &str = "s3";
    pub const AZURE: &str = "azure";
    pub const FILESYSTEM: &str = "filesystem";
}

/// One named backup storage and the pod settings of the Jobs that write to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageSpec {
    /// `s3`, `azure` or `filesystem`.
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorage>,
    /// The claim for `filesystem` storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeSpec>,
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub pod_security_context: Option<Value>,
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::common::any_object")]
    pub container_security_context: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Storage {
    /// Bucket, optionally followed by a prefix (`bucket/prefix`).
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub credentials_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, rename = "endpointUrl", skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// A Secret key holding a custom CA for the S3 endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<KubeSecretKeySelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureStorage {
    /// Container, optionally followed by a prefix (`container/prefix`).
    #[serde(default)]
    pub container: String,
    #[serde(default)]
    pub credentials_secret: String,
    #[serde(default, rename = "endpointUrl", skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i32>,
}

/// Extra environment and arguments for the backup and restore tools.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupContainerOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<BackupContainerArgs>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupContainerArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xtrabackup: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xbcloud: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xbstream: Option<Vec<String>>,
}

/// What the operator last observed of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterStatus {
    /// `initializing`, `ready`, `error`, `paused` or `stopping` (see `common::state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The endpoint clients use (`<cluster>-haproxy.<ns>` or a load balancer address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, rename = "message", skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc: Option<AppStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<AppStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxysql: Option<AppStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logcollector: Option<ComponentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc_replication: Option<ReplicationStatus>,
    /// History of state changes, newest last, capped at 20 by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods of all components together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
}

/// Status of a component with pods (pxc, haproxy, proxysql).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Label selector of the pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector_path: Option<String>,
}

/// Status of a component without its own pods (backup, pmm, logcollector).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_channels: Option<Vec<ReplicationChannelStatus>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationChannelStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_retry_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_connect_retry: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// Small accessors the engine and the checks share.

impl PerconaXtraDBClusterSpec {
    pub fn haproxy_enabled(&self) -> bool {
        self.haproxy.as_ref().and_then(|h| h.enabled).unwrap_or(false)
    }
    pub fn proxysql_enabled(&self) -> bool {
        self.proxysql.as_ref().and_then(|p| p.enabled).unwrap_or(false)
    }
    /// The effective unsafe flags: `allowUnsafeConfigurations: true` turns all of them on.
    pub fn effective_unsafe_flags(&self) -> UnsafeFlags {
        if self.allow_unsafe_configurations == Some(true) {
            return UnsafeFlags {
                tls: Some(true),
                pxc_size: Some(true),
                proxy_size: Some(true),
                backup_if_unhealthy: Some(true),
            };
        }
        self.unsafe_flags.clone().unwrap_or_default()
    }
    /// TLS is on unless it was switched off explicitly (or by `allowUnsafeConfigurations`).
    pub fn tls_enabled(&self) -> bool {
        if self.allow_unsafe_configurations == Some(true) {
            return false;
        }
        self.tls.as_ref().and_then(|t| t.enabled).unwrap_or(true)
    }
    pub fn pitr_enabled(&self) -> bool {
        self.backup.as_ref().and_then(|b| b.pitr.as_ref()).and_then(|p| p.enabled).unwrap_or(false)
    }
}

impl BackupSchedule {
    /// The retention in force: `retention` when given, else the legacy `keep` count, which always
    /// deleted from storage.
    pub fn effective_retention(&self) -> BackupRetention {
        self.retention.clone().unwrap_or(BackupRetention {
            type_: Some("count".into()),
            count: Some(self.keep.unwrap_or(0)),
            delete_from_storage: Some(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_nulls_in_free_form_fields_survive() {
        let v = json!({"size": 3, "podSecurityContext": null, "sidecars": []});
        let p: PxcSpec = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(p.pod_security_context, Some(Value::Null));
        assert_eq!(serde_json::to_value(&p).unwrap(), v);
    }

    #[test]
    fn absent_fields_stay_absent() {
        let p: PxcSpec = serde_json::from_value(json!({})).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), json!({}));
    }

    #[test]
    fn legacy_keep_becomes_count_retention() {
        let s = BackupSchedule { keep: Some(3), ..Default::default() };
        let r = s.effective_retention();
        assert_eq!((r.type_.as_deref(), r.count, r.delete_from_storage), (Some("count"), Some(3), Some(true)));
        let explicit =
            BackupRetention { type_: Some("count".into()), count: Some(9), delete_from_storage: Some(false) };
        let s = BackupSchedule { keep: Some(3), retention: Some(explicit.clone()), ..Default::default() };
        assert_eq!(s.effective_retention(), explicit);
    }

    #[test]
    fn unsafe_switch_implies_all_flags_and_tls_off() {
        let s = PerconaXtraDBClusterSpec { allow_unsafe_configurations: Some(true), ..Default::default() };
        assert!(!s.tls_enabled());
        let f = s.effective_unsafe_flags();
        assert_eq!(
            (f.tls, f.pxc_size, f.proxy_size, f.backup_if_unhealthy),
            (Some(true), Some(true), Some(true), Some(true))
        );
        assert!(PerconaXtraDBClusterSpec::default().tls_enabled());
    }
}
