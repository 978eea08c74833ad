//! The PerconaServerMySQL kind: its spec and the component sections (mysql, proxies, orchestrator,
//! backup, pmm, toolkit) as Percona's Go API declares them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EmptyDirVolumeSource, EnvFromSource, EnvVar, HostPathVolumeSource, LocalObjectReference,
    PersistentVolumeClaimSpec, PodSecurityContext, Probe, ResourceRequirements, SecurityContext, ServicePort,
    Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::nullable;
use super::status::PerconaServerMySQLStatus;

type Labels = BTreeMap<String, String>;

/// Declares a component struct. `container` adds Percona's `ContainerSpec` fields (image, resources,
/// probes, env …); `pod` adds those plus its `PodSpec` fields (size, affinity, tolerations, PDB …).
/// Percona inlines these Go structs, so they sit at the same level as the component's own fields.
/// They are repeated (not `#[serde(flatten)]`ed) so that a wrong type keeps its full field path in
/// `serde_path_to_error` and the CRD schema stays a plain object.
macro_rules! component {
    (container $(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($body)*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image: Option<String>,
            /// `Always`, `IfNotPresent` or `Never`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image_pull_policy: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<LocalObjectReference>>")]
            pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<ResourceRequirements>")]
            pub resources: Option<ResourceRequirements>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Probe>")]
            pub startup_probe: Option<Probe>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Probe>")]
            pub readiness_probe: Option<Probe>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Probe>")]
            pub liveness_probe: Option<Probe>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<SecurityContext>")]
            pub container_security_context: Option<SecurityContext>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<EnvVar>>")]
            pub env: Option<Vec<EnvVar>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<EnvFromSource>>")]
            pub env_from: Option<Vec<EnvFromSource>>,
        }
    };
    (pod $(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        component! {
            container
            $(#[$meta])*
            pub struct $name {
                $($body)*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub size: Option<i32>,
                /// Pod annotations.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub annotations: Option<Labels>,
                /// Pod labels.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub labels: Option<Labels>,
                /// Deprecated since Percona 0.12.0 in favour of `initContainer`; still accepted.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub init_image: Option<String>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub init_container: Option<InitContainerSpec>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub affinity: Option<PodAffinity>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<TopologySpreadConstraint>>")]
                pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub node_selector: Option<Labels>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<Toleration>>")]
                pub tolerations: Option<Vec<Toleration>>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub priority_class_name: Option<String>,
                /// terminationGracePeriodSeconds of the pods.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub grace_period: Option<i64>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub scheduler_name: Option<String>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub runtime_class_name: Option<String>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                #[schemars(schema_with = "crate::api::ps::schema::k8s::<PodSecurityContext>")]
                pub pod_security_context: Option<PodSecurityContext>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub service_account_name: Option<String>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
                /// Configuration file content (my.cnf, haproxy.cfg, router ini, orchestrator JSON).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub configuration: Option<String>,
            }
        }
    };
}

/// The desired state of a Percona Server for MySQL cluster (async replication or group replication).
// kube's repeated printcolumn(...) entries trip clippy's duplicated-attribute check.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ps.percona.com",
    version = "v1",
    kind = "PerconaServerMySQL",
    plural = "perconaservermysqls",
    namespaced,
    shortname = "ps",
    status = "PerconaServerMySQLStatus",
    doc = "A Percona Server for MySQL cluster with group replication or async replication.",
    printcolumn(name = "Replication", type_ = "string", json_path = ".spec.mysql.clusterType"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.host"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "MySQL", type_ = "string", json_path = ".status.mysql.ready"),
    printcolumn(name = "Orchestrator", type_ = "string", json_path = ".status.orchestrator.ready"),
    printcolumn(name = "HAProxy", type_ = "string", json_path = ".status.haproxy.ready"),
    printcolumn(name = "Router", type_ = "string", json_path = ".status.router.ready"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMySQLSpec {
    /// Labels and annotations added to every object the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<GlobalMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    /// Scale every component to zero while keeping volumes and services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Deprecated in favour of `storageScaling.enableVolumeScaling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_volume_expansion: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_scaling: Option<StorageScalingSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_flags: Option<UnsafeFlags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_annotations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MySQLSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<OrchestratorSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<PMMSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TLSSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolkit: Option<ToolkitSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_options: Option<UpgradeOptions>,
    /// `SmartUpdate` (operator-driven, primary last), `RollingUpdate` or `OnDelete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<String>,
    #[serde(default, rename = "clusterServiceDNSSuffix", skip_serializing_if = "Option::is_none")]
    pub cluster_service_dns_suffix: Option<String>,
    /// Deprecated since Percona 0.12.0 in favour of `initContainer`; still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainerSpec>,
    /// Application users the operator creates and keeps in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GlobalMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
}

/// Switches that let a user run a configuration Percona considers unsafe.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnsafeFlags {
    /// Allow a MySQL size outside the safe range (GR: odd, 3..=7; async: at least 2).
    #[serde(default, rename = "mysqlSize", skip_serializing_if = "Option::is_none")]
    pub mysql_size: Option<bool>,
    /// Allow backups while the cluster is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_non_ready_cluster: Option<bool>,
    /// Allow running without the required proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<bool>,
    /// Allow a proxy (HAProxy / Router) size below 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_size: Option<bool>,
    /// Allow async replication without Orchestrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<bool>,
    /// Allow an Orchestrator size below 3 or even.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_size: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageScalingSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_volume_scaling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_external_autoscaling: Option<bool>,
}

/// Grows PVCs when their usage passes a threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Disk usage percentage (50..=95) that triggers growth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_threshold_percent: Option<i32>,
    /// Quantity added on each growth, e.g. `2Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_step: Option<String>,
    /// Upper bound for the PVC size, at least `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitContainerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<ResourceRequirements>")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<SecurityContext>")]
    pub container_security_context: Option<SecurityContext>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TLSSpec {
    #[serde(default, rename = "SANs", skip_serializing_if = "Option::is_none")]
    pub sans: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_conf: Option<IssuerReference>,
}

/// A cert-manager issuer reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_service_endpoint: Option<String>,
    /// `disabled`, `never`, `recommended`, `latest` or a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// Percona's shorthand anti-affinity (`antiAffinityTopologyKey`: `kubernetes.io/hostname`,
/// `topology.kubernetes.io/zone`, `topology.kubernetes.io/region` or `none`) or a full Affinity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity_topology_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Affinity>")]
    pub advanced: Option<Affinity>,
}

/// The data volume: a PVC (usual), a hostPath or an emptyDir — exactly one of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<EmptyDirVolumeSource>")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<HostPathVolumeSource>")]
    pub host_path: Option<HostPathVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<PersistentVolumeClaimSpec>")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimSpec>,
}

/// How a proxy or Orchestrator is exposed as a Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExpose {
    /// `ClusterIP`, `NodePort` or `LoadBalancer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_source_ranges: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<String>,
}

/// `mysql.expose` (a Service per pod) and `mysql.exposePrimary`: the same fields plus an on/off switch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExposeTogglable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `ClusterIP`, `NodePort` or `LoadBalancer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_source_ranges: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<String>,
}

impl ServiceExposeTogglable {
    /// The Service settings without the switch.
    pub fn expose(&self) -> ServiceExpose {
        ServiceExpose {
            type_: self.type_.clone(),
            load_balancer_source_ranges: self.load_balancer_source_ranges.clone(),
            allocate_load_balancer_node_ports: self.allocate_load_balancer_node_ports,
            annotations: self.annotations.clone(),
            labels: self.labels.clone(),
            internal_traffic_policy: self.internal_traffic_policy.clone(),
            external_traffic_policy: self.external_traffic_policy.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoConfigSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `mostlyReads`, `someWrites`, `equalReadsWrites` or `heavyWrites`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_type: Option<String>,
    /// MySQL version the tuning is calculated for, e.g. `8.4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapConfig {
    /// `auto` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// An extra PVC mounted into the mysql pods for a sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SidecarPVC {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<PersistentVolumeClaimSpec>")]
    pub spec: Option<PersistentVolumeClaimSpec>,
}

component! {
    pod
    /// The MySQL servers.
    pub struct MySQLSpec {
        /// `group-replication` (default) or `async`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cluster_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bootstrap: Option<BootstrapConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auto_config: Option<AutoConfigSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_primary: Option<ServiceExposeTogglable>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExposeTogglable>,
        /// Reboot the cluster from a complete outage automatically.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auto_recovery: Option<bool>,
        /// Extra containers (Kubernetes `Container` objects), kept as written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "crate::api::common::any_object_list")]
        pub sidecars: Option<Vec<serde_json::Value>>,
        /// Extra volumes (Kubernetes `Volume` objects) for the sidecars, kept as written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "crate::api::common::any_object_list")]
        pub sidecar_volumes: Option<Vec<serde_json::Value>>,
        #[serde(default, rename = "sidecarPVCs", skip_serializing_if = "Option::is_none")]
        pub sidecar_pvcs: Option<Vec<SidecarPVC>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vault_secret_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub volume_spec: Option<VolumeSpec>,
    }
}

component! {
    pod
    /// Orchestrator, the topology manager used with async replication.
    pub struct OrchestratorSpec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExpose>,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<MySQLRouterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<HAProxySpec>,
}

component! {
    pod
    /// MySQL Router (group replication only).
    pub struct MySQLRouterSpec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExpose>,
        /// Service ports; replaces the default set when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<ServicePort>>")]
        pub ports: Option<Vec<ServicePort>>,
    }
}

component! {
    pod
    /// HAProxy in front of the MySQL servers.
    pub struct HAProxySpec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose: Option<ServiceExpose>,
        /// Resources per sidecar container name (e.g. `mysql-monit`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "crate::api::ps::schema::k8s::<BTreeMap<String, ResourceRequirements>>")]
        pub sidecar_resources: Option<BTreeMap<String, ResourceRequirements>>,
    }
}

component! {
    container
    /// The Percona Toolkit sidecar (pt-heartbeat and friends).
    pub struct ToolkitSpec {}
}

/// Percona Monitoring and Management client sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PMMSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, rename = "mysqlParams", skip_serializing_if = "Option::is_none")]
    pub mysql_params: Option<String>,
    #[serde(default, rename = "haproxyParams", skip_serializing_if = "Option::is_none")]
    pub haproxy_params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<ResourceRequirements>")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<SecurityContext>")]
    pub container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Probe>")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Probe>")]
    pub readiness_probe: Option<Probe>,
}

/// A reference to one key of a Secret (`key` has a per-use default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Backups: the xtrabackup image, where backups go (`storages`) and when (`schedule`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_parallel: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Pin backups to one pod, e.g. `ps-cluster1-mysql-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<LocalObjectReference>>")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<SecurityContext>")]
    pub container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<ResourceRequirements>")]
    pub resources: Option<ResourceRequirements>,
    /// Named storages (at most 100); schedules and backups refer to them by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storages: Option<BTreeMap<String, BackupStorageSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PiTRSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<BackupSchedule>>,
    /// Deprecated since Percona 0.12.0 in favour of `initContainer`; still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainerSpec>,
    /// Secret holding the backup encryption key (key defaults to `encryptionKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_secret: Option<SecretKeyRef>,
}

/// One scheduled backup: a cron line, how many to keep and which storage to use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Standard five-field cron, e.g. `0 0 * * 6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How many backups of this schedule to keep; 0 keeps all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    /// `full` (default) or `incremental`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// A backup destination. `type` picks which of `s3`, `gcs` and `azure` is used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageSpec {
    /// `s3`, `gcs` or `azure`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_spec: Option<VolumeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<BackupStorageS3Spec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<BackupStorageGCSSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<BackupStorageAzureSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<ResourceRequirements>")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Affinity>")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<TopologySpreadConstraint>>")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<Toleration>>")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<PodSecurityContext>")]
    pub pod_security_context: Option<PodSecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<SecurityContext>")]
    pub container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Verify the storage endpoint's TLS certificate; `null` is legal and means "default" (true).
    #[serde(
        default,
        rename = "verifyTLS",
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub verify_tls: Option<Option<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_options: Option<BackupContainerOptions>,
    /// Overrides `backup.encryptionKeySecret` for this storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_secret: Option<SecretKeyRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageS3Spec {
    /// `<bucket>` or `<bucket>/<prefix>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Custom CA for the endpoint (key defaults to `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<SecretKeyRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageGCSSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// `STANDARD`, `NEARLINE`, `COLDLINE` or `ARCHIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageAzureSpec {
    /// `<container>` or `<container>/<prefix>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// `Hot`, `Cool` or `Archive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// Extra environment and command-line flags for the backup tools.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupContainerOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::ps::schema::k8s::<Vec<EnvVar>>")]
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

/// Point-in-time recovery: a binlog server streams binlogs to object storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PiTRSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_server: Option<BinlogServerSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BinlogServerStorageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<BackupStorageS3Spec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BinlogServerEncryptionSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BinlogServerEncryptionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_id: Option<String>,
    /// `AES-128-CTR`, `AES-192-CTR` or `AES-256-CTR` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
}

component! {
    pod
    /// The binlog server used for point-in-time recovery (at most one pod).
    pub struct BinlogServerSpec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub storage: Option<BinlogServerStorageSpec>,
        /// Secret with the keyring file (key defaults to `keyring.json`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keyring_secret: Option<SecretKeyRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub connect_timeout: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub read_timeout: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_timeout: Option<i32>,
        #[serde(default, rename = "serverId", skip_serializing_if = "Option::is_none")]
        pub server_id: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub idle_time: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ssl_mode: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub verify_checksum: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rewrite_file_size: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub checkpoint_size: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub checkpoint_interval: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub log_level: Option<String>,
    }
}

/// An application user. Without `passwordSecretRef` the operator generates a password into
/// `<cluster>-user-<name>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// Databases the user may use; empty means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbs: Option<Vec<String>>,
    /// Hosts the user may connect from; empty means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Privileges; empty means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_grant_option: Option<bool>,
}

/// The cluster topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterType {
    GroupReplication,
    Async,
}

impl ClusterType {
    pub const GROUP_REPLICATION: &'static str = "group-replication";
    pub const ASYNC: &'static str = "async";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            Self::GROUP_REPLICATION => Some(Self::GroupReplication),
            Self::ASYNC => Some(Self::Async),
            _ => None,
        }
    }
}

impl PerconaServerMySQLSpec {
    /// The cluster type as written, or group replication (Percona's default) when unset.
    /// `None` when the value is not one Percona knows.
    pub fn cluster_type(&self) -> Option<ClusterType> {
        match self.mysql.as_ref().and_then(|m| m.cluster_type.as_deref()) {
            None => Some(ClusterType::GroupReplication),
            Some(s) => ClusterType::parse(s),
        }
    }

    pub fn haproxy_enabled(&self) -> bool {
        self.proxy.as_ref().and_then(|p| p.haproxy.as_ref()).and_then(|h| h.enabled).unwrap_or(false)
    }

    pub fn router_enabled(&self) -> bool {
        self.proxy.as_ref().and_then(|p| p.router.as_ref()).and_then(|r| r.enabled).unwrap_or(false)
    }

    pub fn orchestrator_enabled(&self) -> bool {
        self.orchestrator.as_ref().and_then(|o| o.enabled).unwrap_or(false)
    }

    pub fn unsafe_flags(&self) -> UnsafeFlags {
        self.unsafe_flags.clone().unwrap_or_default()
    }

    pub fn paused(&self) -> bool {
        self.pause.unwrap_or(false)
    }
}

impl UnsafeFlags {
    pub fn mysql_size(&self) -> bool {
        self.mysql_size.unwrap_or(false)
    }
    pub fn proxy(&self) -> bool {
        self.proxy.unwrap_or(false)
    }
    pub fn proxy_size(&self) -> bool {
        self.proxy_size.unwrap_or(false)
    }
    pub fn orchestrator(&self) -> bool {
        self.orchestrator.unwrap_or(false)
    }
    pub fn orchestrator_size(&self) -> bool {
        self.orchestrator_size.unwrap_or(false)
    }
    pub fn backup_non_ready_cluster(&self) -> bool {
        self.backup_non_ready_cluster.unwrap_or(false)
    }
}
