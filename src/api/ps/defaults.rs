//! Percona's defaults for a PerconaServerMySQL, applied as a pure function.
//!
//! Sources: `deploy/cr.yaml` at crVersion 1.3.0 (sizes, resources, storage, grace periods, PDBs,
//! upgrade options) and `CheckNSetDefaults` in `api/v1/perconaservermysql_types.go` (probes, secret
//! names, security contexts, access modes, bootstrap mode, binlog-server settings). Each constant says
//! which one it comes from.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimSpec, PodSecurityContext, Probe, ResourceRequirements, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::cluster::*;

/// The Percona operator version this model follows (written to `crVersion` when unset, as Percona does).
pub const CR_VERSION: &str = "1.3.0";

/// Default images. The operator and Percona Server tags are from Percona's certified-images list for
/// operator 1.3.0. The list we could read for 1.3.0 was cut short, so the others are the newest
/// certified tags we could confirm: xtrabackup from the 1.2.0 list, router/orchestrator/haproxy from
/// the 1.0.0 list, toolkit and pmm-client from the 0.10.0 release list. Users normally set images
/// explicitly (Percona's sample does), so these only fill gaps.
pub mod images {
    pub const OPERATOR: &str = "percona/percona-server-mysql-operator:1.3.0";
    pub const MYSQL: &str = "percona/percona-server:8.4.11-11.1";
    pub const BACKUP: &str = "percona/percona-xtrabackup:8.4.0-6.1";
    pub const ROUTER: &str = "percona/percona-mysql-router:8.4.6";
    pub const ORCHESTRATOR: &str = "percona/percona-orchestrator:3.2.6-18";
    pub const HAPROXY: &str = "percona/haproxy:2.8.15";
    pub const TOOLKIT: &str = "percona/percona-toolkit:3.7.0";
    pub const PMM_CLIENT: &str = "percona/pmm-client:3.2.0";
}

/// `deploy/cr.yaml`: `updateStrategy: SmartUpdate`.
pub const DEFAULT_UPDATE_STRATEGY: &str = "SmartUpdate";
/// `deploy/cr.yaml`: `upgradeOptions`.
pub const DEFAULT_VERSION_SERVICE: &str = "https://check.percona.com";
pub const DEFAULT_UPGRADE_APPLY: &str = "disabled";
/// `deploy/cr.yaml`: three of everything (mysql, haproxy, router, orchestrator).
pub const DEFAULT_SIZE: i32 = 3;
/// Go `defaultGracePeriodSec` for mysql; `deploy/cr.yaml` gives 30 for the proxies and orchestrator.
pub const MYSQL_GRACE_PERIOD: i64 = 600;
pub const PROXY_GRACE_PERIOD: i64 = 30;
/// `deploy/cr.yaml` 1.3.0: `volumeSpec.persistentVolumeClaim.resources.requests.storage: 30Gi`.
pub const MYSQL_STORAGE: &str = "30Gi";
/// Go `defaultAffinityTopologyKey`.
pub const ANTI_AFFINITY_KEY: &str = "kubernetes.io/hostname";
/// Go `CheckNSetDefaults`: the orchestrator's service account.
pub const ORCHESTRATOR_SERVICE_ACCOUNT: &str = "percona-server-mysql-operator-orchestrator";
/// Go `CheckNSetDefaults`: pods run with supplemental group and fsGroup 1001 (not on OpenShift).
pub const POD_GROUP: i64 = 1001;

fn q(s: &str) -> Quantity {
    Quantity(s.to_string())
}

fn resources(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
    let map = |pairs: &[(&str, &str)]| {
        (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.to_string(), q(v))).collect::<BTreeMap<_, _>>())
    };
    ResourceRequirements { requests: map(requests), limits: map(limits), ..Default::default() }
}

/// A probe with Percona's five timing fields; `initial_delay` 0 means "not set".
fn probe(initial_delay: i32, period: i32, failure: i32, success: i32, timeout: i32) -> Probe {
    Probe {
        initial_delay_seconds: (initial_delay > 0).then_some(initial_delay),
        period_seconds: Some(period),
        failure_threshold: Some(failure),
        success_threshold: Some(success),
        timeout_seconds: Some(timeout),
        ..Default::default()
    }
}

/// Fills the timing fields the user left unset (Percona fills field by field, not whole probes).
fn fill_probe(slot: &mut Option<Probe>, default: Probe) {
    let p = slot.get_or_insert_with(Probe::default);
    p.initial_delay_seconds = p.initial_delay_seconds.or(default.initial_delay_seconds);
    p.period_seconds = p.period_seconds.or(default.period_seconds);
    p.failure_threshold = p.failure_threshold.or(default.failure_threshold);
    p.success_threshold = p.success_threshold.or(default.success_threshold);
    p.timeout_seconds = p.timeout_seconds.or(default.timeout_seconds);
}

fn set<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn set_str(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_string());
    }
}

fn pdb() -> PodDisruptionBudgetSpec {
    PodDisruptionBudgetSpec { max_unavailable: Some(IntOrString::Int(1)), min_available: None }
}

fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext { supplemental_groups: Some(vec![POD_GROUP]), fs_group: Some(POD_GROUP), ..Default::default() }
}

/// Go `reconcileAffinityOpts`: no affinity → hostname anti-affinity; an unknown key → hostname;
/// `advanced` wins over the shorthand key.
fn fill_affinity(slot: &mut Option<PodAffinity>) {
    let a = slot.get_or_insert_with(PodAffinity::default);
    if a.advanced.is_some() {
        return;
    }
    let valid = ["none", "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region"];
    match a.anti_affinity_topology_key.as_deref() {
        Some(k) if valid.contains(&k) => {}
        _ => a.anti_affinity_topology_key = Some(ANTI_AFFINITY_KEY.to_string()),
    }
}

fn default_pvc(storage: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_string()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some([("storage".to_string(), q(storage))].into_iter().collect()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Go `defaultPVCSpec`: a PVC without access modes gets ReadWriteOnce.
fn fill_pvc(pvc: &mut PersistentVolumeClaimSpec) {
    if pvc.access_modes.as_ref().is_none_or(Vec::is_empty) {
        pvc.access_modes = Some(vec!["ReadWriteOnce".to_string()]);
    }
}

impl PerconaServerMySQLSpec {
    /// This spec with Percona's defaults filled in for everything left unset; values already set are
    /// kept. `cluster_name` is `metadata.name` (used for the default secret names).
    ///
    /// What Percona does at reconcile time and this leaves to the engine: pausing (sizes become 0
    /// while `pause` is true) and the fsGroup exception on OpenShift.
    pub fn with_defaults(&self, cluster_name: &str) -> Self {
        let mut s = self.clone();
        set_str(&mut s.cr_version, CR_VERSION);
        // Go DefaultSecretName / DefaultSSLSecretName.
        set_str(&mut s.secrets_name, &format!("{cluster_name}-secrets"));
        set_str(&mut s.ssl_secret_name, &format!("{cluster_name}-ssl"));
        let upgrade = s.upgrade_options.get_or_insert_with(UpgradeOptions::default);
        set_str(&mut upgrade.apply, DEFAULT_UPGRADE_APPLY);
        set_str(&mut upgrade.version_service_endpoint, DEFAULT_VERSION_SERVICE);

        let mysql = s.mysql.get_or_insert_with(MySQLSpec::default);
        fill_mysql(mysql, cluster_name);
        // Go: a single-node cluster cannot do SmartUpdate's primary switchover.
        if s.update_strategy.is_none() {
            let single = mysql.size == Some(1);
            s.update_strategy = Some(if single { "RollingUpdate" } else { DEFAULT_UPDATE_STRATEGY }.to_string());
        }

        let proxy = s.proxy.get_or_insert_with(ProxySpec::default);
        fill_haproxy(proxy.haproxy.get_or_insert_with(HAProxySpec::default));
        fill_router(proxy.router.get_or_insert_with(MySQLRouterSpec::default));
        fill_orchestrator(s.orchestrator.get_or_insert_with(OrchestratorSpec::default));
        fill_pmm(s.pmm.get_or_insert_with(PMMSpec::default));
        fill_backup(s.backup.get_or_insert_with(BackupSpec::default));
        let toolkit = s.toolkit.get_or_insert_with(ToolkitSpec::default);
        set_str(&mut toolkit.image, images::TOOLKIT);

        // Go setStorageAutoscalingDefaults.
        if let Some(auto) = s.storage_scaling.as_mut().and_then(|sc| sc.autoscaling.as_mut()) {
            set(&mut auto.trigger_threshold_percent, 80);
            set_str(&mut auto.growth_step, "2Gi");
        }
        s
    }
}

fn fill_mysql(m: &mut MySQLSpec, cluster_name: &str) {
    set_str(&mut m.cluster_type, ClusterType::GROUP_REPLICATION);
    set(&mut m.size, DEFAULT_SIZE);
    set(&mut m.auto_recovery, true);
    set_str(&mut m.image, images::MYSQL);
    set_str(&mut m.image_pull_policy, "Always");
    // deploy/cr.yaml 1.3.0: requests cpu 2 / memory 4Gi, limits cpu 4 / memory 8Gi.
    set(&mut m.resources, resources(&[("cpu", "2"), ("memory", "4Gi")], &[("cpu", "4"), ("memory", "8Gi")]));
    set(&mut m.grace_period, MYSQL_GRACE_PERIOD);
    set(&mut m.pod_disruption_budget, pdb());
    fill_affinity(&mut m.affinity);
    set(&mut m.pod_security_context, pod_security_context());
    let primary = m.expose_primary.get_or_insert_with(ServiceExposeTogglable::default);
    set(&mut primary.enabled, true);
    // Go CheckNSetDefaults: vault secret and bootstrap mode.
    set_str(&mut m.vault_secret_name, &format!("{cluster_name}-vault"));
    set_str(&mut m.bootstrap.get_or_insert_with(BootstrapConfig::default).mode, "auto");
    if let Some(ac) = m.auto_config.as_mut().filter(|ac| ac.enabled == Some(true)) {
        set_str(&mut ac.load_type, "someWrites");
    }
    let volume = m.volume_spec.get_or_insert_with(VolumeSpec::default);
    if volume.empty_dir.is_none() && volume.host_path.is_none() && volume.persistent_volume_claim.is_none() {
        volume.persistent_volume_claim = Some(default_pvc(MYSQL_STORAGE));
    }
    if let Some(pvc) = volume.persistent_volume_claim.as_mut() {
        fill_pvc(pvc);
    }
    for pvc in m.sidecar_pvcs.iter_mut().flatten() {
        if let Some(spec) = pvc.spec.as_mut() {
            fill_pvc(spec);
        }
    }
    // Go CheckNSetDefaults, mysql probes.
    fill_probe(&mut m.startup_probe, probe(15, 10, 1, 1, 12 * 60 * 60));
    fill_probe(&mut m.liveness_probe, probe(15, 10, 3, 1, 10));
    fill_probe(&mut m.readiness_probe, probe(30, 5, 3, 1, 3));
}

fn fill_haproxy(h: &mut HAProxySpec) {
    // Go: an unset `enabled` is false. Percona's sample turns HAProxy on explicitly, and validation
    // requires a proxy for group replication, so a missing flag is not silently turned on here.
    set(&mut h.enabled, false);
    set(&mut h.size, DEFAULT_SIZE);
    set_str(&mut h.image, images::HAPROXY);
    set_str(&mut h.image_pull_policy, "Always");
    set(&mut h.resources, resources(&[("cpu", "600m"), ("memory", "1Gi")], &[]));
    set(&mut h.grace_period, PROXY_GRACE_PERIOD);
    set(&mut h.pod_disruption_budget, pdb());
    fill_affinity(&mut h.affinity);
    // Go CheckNSetDefaults, haproxy probes.
    fill_probe(&mut h.liveness_probe, probe(60, 30, 4, 1, 3));
    fill_probe(&mut h.readiness_probe, probe(15, 5, 3, 1, 1));
    fill_probe(&mut h.startup_probe, probe(10, 10, 10, 1, 3));
}

fn fill_router(r: &mut MySQLRouterSpec) {
    set(&mut r.enabled, false);
    set(&mut r.size, DEFAULT_SIZE);
    set_str(&mut r.image, images::ROUTER);
    set_str(&mut r.image_pull_policy, "Always");
    set(&mut r.resources, resources(&[("memory", "256M")], &[("memory", "256M")]));
    set(&mut r.grace_period, PROXY_GRACE_PERIOD);
    set(&mut r.pod_disruption_budget, pdb());
    fill_affinity(&mut r.affinity);
    // Go CheckNSetDefaults, router probes (readiness has no initial delay).
    fill_probe(&mut r.startup_probe, probe(5, 5, 1, 1, 3));
    fill_probe(&mut r.readiness_probe, probe(0, 5, 3, 1, 3));
}

fn fill_orchestrator(o: &mut OrchestratorSpec) {
    set(&mut o.enabled, false);
    set(&mut o.size, DEFAULT_SIZE);
    set_str(&mut o.image, images::ORCHESTRATOR);
    set_str(&mut o.image_pull_policy, "Always");
    set(&mut o.resources, resources(&[("memory", "128M")], &[("memory", "256M")]));
    set(&mut o.grace_period, PROXY_GRACE_PERIOD);
    set(&mut o.pod_disruption_budget, pdb());
    fill_affinity(&mut o.affinity);
    set(&mut o.pod_security_context, pod_security_context());
    set_str(&mut o.service_account_name, ORCHESTRATOR_SERVICE_ACCOUNT);
}

fn fill_pmm(p: &mut PMMSpec) {
    set(&mut p.enabled, false);
    set_str(&mut p.image, images::PMM_CLIENT);
    set_str(&mut p.image_pull_policy, "Always");
    set_str(&mut p.server_host, "monitoring-service");
    set(&mut p.resources, resources(&[("cpu", "300m"), ("memory", "150M")], &[]));
}

fn fill_backup(b: &mut BackupSpec) {
    set(&mut b.enabled, true);
    set_str(&mut b.image, images::BACKUP);
    set_str(&mut b.image_pull_policy, "Always");
    for storage in b.storages.iter_mut().flat_map(|m| m.values_mut()) {
        if let Some(ca) = storage.s3.as_mut().and_then(|s3| s3.ca_bundle.as_mut()) {
            set_str(&mut ca.key, "ca.crt");
        }
        if let Some(secret) = storage.encryption_key_secret.as_mut() {
            set_str(&mut secret.key, "encryptionKey");
        }
    }
    if let Some(secret) = b.encryption_key_secret.as_mut() {
        set_str(&mut secret.key, "encryptionKey");
    }
    for schedule in b.schedule.iter_mut().flatten() {
        set_str(&mut schedule.type_, "full");
    }
    let pitr = b.pitr.get_or_insert_with(PiTRSpec::default);
    set(&mut pitr.enabled, false);
    if let Some(bs) = pitr.binlog_server.as_mut() {
        fill_binlog_server(bs);
    }
}

/// Go `BinlogServerSpec.SetDefaults`.
fn fill_binlog_server(b: &mut BinlogServerSpec) {
    if let Some(k) = b.keyring_secret.as_mut() {
        set_str(&mut k.key, "keyring.json");
    }
    if let Some(enc) = b.storage.as_mut().and_then(|s| s.encryption.as_mut()) {
        set_str(&mut enc.cipher, "AES-256-CTR");
    }
    if let Some(ca) = b.storage.as_mut().and_then(|s| s.s3.as_mut()).and_then(|s3| s3.ca_bundle.as_mut()) {
        set_str(&mut ca.key, "ca.crt");
    }
    set_str(&mut b.ssl_mode, "verify_identity");
    set(&mut b.verify_checksum, true);
    set_str(&mut b.rewrite_file_size, "128M");
    set_str(&mut b.checkpoint_size, "16M");
    set_str(&mut b.checkpoint_interval, "30s");
    set(&mut b.connect_timeout, 30);
    set(&mut b.read_timeout, 30);
    set(&mut b.write_timeout, 30);
    set(&mut b.idle_time, 30);
    set_str(&mut b.log_level, "info");
    set(&mut b.server_id, 100);
}
