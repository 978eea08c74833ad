//! Percona's defaults for a PerconaXtraDBCluster, as a pure function of the spec and the cluster name.
//!
//! Sources: `CheckNSetDefaults`, `setProbesDefaults`, `reconcileAffinityOpts` and `VolumeSpec.reconcileOpts`
//! in Percona's `pkg/apis/pxc/v1/pxc_types.go`, and the values shipped in `deploy/cr.yaml` for fields the
//! operator leaves empty (sizes, resources, storage sizes). Each constant below says which.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, Probe, ResourceRequirements, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

/// The operator release this model follows.
pub const CR_VERSION: &str = "1.20.0";

// Images. Percona pins them per release in its version service and release notes. The 1.20.0 image
// list was not available to us; these are the newest certified tags we could confirm from Percona's
// documentation (1.19.0 for the database, backup, HAProxy and ProxySQL images; 1.18.0 for fluent-bit
// and the PMM client). The init image follows Percona's convention of the operator image itself.
pub const PXC_IMAGE: &str = "percona/percona-xtradb-cluster:8.4.7-7.1";
pub const HAPROXY_IMAGE: &str = "percona/haproxy:2.8.17";
pub const PROXYSQL_IMAGE: &str = "percona/proxysql2:2.7.3-1.2";
pub const BACKUP_IMAGE: &str = "percona/percona-xtrabackup:8.4.0-5.1";
pub const LOGCOLLECTOR_IMAGE: &str = "percona/fluentbit:4.0.1";
pub const PMM_IMAGE: &str = "percona/pmm-client:3.3.1";
pub const INIT_IMAGE: &str = "percona/percona-xtradb-cluster-operator:1.20.0";

/// `deploy/cr.yaml`: three Galera nodes, three proxies.
pub const PXC_SIZE: i32 = 3;
pub const PROXY_SIZE: i32 = 3;
/// `deploy/cr.yaml`: requests for pxc, haproxy and proxysql.
pub const COMPONENT_MEMORY: &str = "1G";
pub const COMPONENT_CPU: &str = "600m";
/// `deploy/cr.yaml`: data volume sizes.
pub const PXC_STORAGE: &str = "6G";
pub const PROXYSQL_STORAGE: &str = "2G";
/// `deploy/cr.yaml`: log collector and PMM requests.
pub const LOGCOLLECTOR_MEMORY: &str = "100M";
pub const LOGCOLLECTOR_CPU: &str = "200m";
pub const PMM_MEMORY: &str = "150M";
pub const PMM_CPU: &str = "300m";
pub const PMM_SERVER_HOST: &str = "monitoring-service";
/// `CheckNSetDefaults`: grace periods (`defaultPXCGracePeriodSec`, and 30 for the proxies).
pub const PXC_GRACE_PERIOD: i64 = 600;
pub const PROXY_GRACE_PERIOD: i64 = 30;
/// `reconcileAffinityOpts`: `DefaultAffinityTopologyKey`.
pub const ANTI_AFFINITY_TOPOLOGY_KEY: &str = "kubernetes.io/hostname";
/// `CheckNSetDefaults`: service account for crVersion >= 1.6.0.
pub const WORKLOAD_SERVICE_ACCOUNT: &str = "default";
/// `CheckNSetDefaults`: image pull policy for every container.
pub const IMAGE_PULL_POLICY: &str = "Always";
/// `CheckNSetDefaults`: version service.
pub const VERSION_SERVICE_ENDPOINT: &str = "https://check.percona.com";
pub const UPGRADE_APPLY: &str = "disabled";
/// `deploy/cr.yaml`: when the version check runs.
pub const UPGRADE_SCHEDULE: &str = "0 4 * * *";
/// `CheckNSetDefaults` (crVersion >= 1.14.0): init container limits.
pub const INIT_MEMORY: &str = "50M";
pub const INIT_CPU: &str = "50m";
/// `CheckNSetDefaults`: PITR upload interval and timeout.
pub const PITR_TIME_BETWEEN_UPLOADS: u64 = 60;
pub const PITR_TIMEOUT_SECONDS: u64 = 3600;
/// `BackupSpec.RunningDeadlineSeconds` (`+kubebuilder:default:=300`): a started backup Job must be
/// running within this many seconds. (Our reference notes said 1200; Percona's type says 300.)
pub const BACKUP_RUNNING_DEADLINE_SECONDS: i64 = 300;
/// `deploy/cr.yaml` comments and `pxctls`: certificate lifetimes when TLS is on.
pub const CERT_VALIDITY: &str = "2160h";
pub const CA_VALIDITY: &str = "26280h";
/// `setPasswordGenerationOptionsDefaults`.
pub const PASSWORD_SYMBOLS: &str = "!#$%&()*+,-.<=>?@[]^_{}~";
pub const PASSWORD_MAX_LENGTH: i32 = 20;
pub const PASSWORD_MIN_LENGTH: i32 = 16;
/// `setPodSecurityContext`: group 1001 for the data volumes (no fsGroup on OpenShift).
pub const POD_GROUP: i64 = 1001;
/// `HAProxyHealthCheckSpec` documented defaults.
pub const HAPROXY_CHECK_INTERVAL_MS: i32 = 10000;
pub const HAPROXY_CHECK_FALL: i32 = 2;
pub const HAPROXY_CHECK_RISE: i32 = 1;
/// `CheckNSetDefaults`: replication source defaults and replica channel retries.
pub const REPLICATION_SOURCE_PORT: i32 = 3306;
pub const REPLICATION_SOURCE_WEIGHT: i32 = 100;
pub const REPLICATION_SOURCE_RETRY_COUNT: u32 = 3;
pub const REPLICATION_SOURCE_CONNECT_RETRY: u32 = 60;

/// Update strategies Percona accepts.
pub const SMART_UPDATE: &str = "SmartUpdate";
pub const ROLLING_UPDATE: &str = "RollingUpdate";
pub const ON_DELETE: &str = "OnDelete";

fn requests(memory: &str, cpu: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(memory.into())),
        ])),
        ..Default::default()
    }
}

/// Fills `requests` only when the section has neither requests nor limits: Percona never merges into
/// a partly written `resources`.
fn default_resources(r: &mut Option<ResourceRequirements>, memory: &str, cpu: &str) {
    let empty = r.as_ref().is_none_or(|r| r.requests.is_none() && r.limits.is_none());
    if empty {
        *r = Some(requests(memory, cpu));
    }
}

/// `VolumeSpec.reconcileOpts`: no source at all means a claim; a claim gets ReadWriteOnce. The size
/// comes from `deploy/cr.yaml` when none is written.
fn default_volume(v: &mut Option<VolumeSpec>, size: &str) {
    let vs = v.get_or_insert_with(VolumeSpec::default);
    if vs.empty_dir.is_none() && vs.host_path.is_none() && vs.persistent_volume_claim.is_none() {
        vs.persistent_volume_claim = Some(PersistentVolumeClaimSpec::default());
    }
    if let Some(pvc) = vs.persistent_volume_claim.as_mut() {
        if pvc.access_modes.as_ref().is_none_or(|m| m.is_empty()) {
            pvc.access_modes = Some(vec!["ReadWriteOnce".into()]);
        }
        let res = pvc.resources.get_or_insert_with(VolumeResourceRequirements::default);
        let req = res.requests.get_or_insert_with(BTreeMap::new);
        req.entry("storage".into()).or_insert_with(|| Quantity(size.into()));
    }
}

/// `reconcileAffinityOpts`: `advanced` wins and clears the key; otherwise a missing or unknown key
/// becomes `kubernetes.io/hostname` (`none` switches anti-affinity off and is kept).
fn default_affinity(a: &mut Option<PodAffinity>) {
    const VALID: [&str; 6] = [
        "none",
        "kubernetes.io/hostname",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
    ];
    let aff = a.get_or_insert_with(PodAffinity::default);
    if aff.advanced.is_some() {
        aff.anti_affinity_topology_key = None;
        return;
    }
    match aff.anti_affinity_topology_key.as_deref() {
        Some(k) if VALID.contains(&k) => {}
        _ => aff.anti_affinity_topology_key = Some(ANTI_AFFINITY_TOPOLOGY_KEY.into()),
    }
}

fn default_pdb(p: &mut Option<PodDisruptionBudgetSpec>) {
    if p.is_none() {
        *p = Some(PodDisruptionBudgetSpec { min_available: None, max_unavailable: Some(IntOrString::Int(1)) });
    }
}

fn set_if_none<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Percona's probe defaults: a zero (unset) value takes the default; `*DelaySec` overrides the delay.
struct ProbeDefaults {
    initial_delay: i32,
    period: Option<i32>,
    timeout: i32,
    success: i32,
    failure: i32,
}

fn default_probe(p: &mut Option<Probe>, delay_override: Option<i32>, d: ProbeDefaults) {
    let probe = p.get_or_insert_with(Probe::default);
    fn fill(slot: &mut Option<i32>, v: i32) {
        if slot.unwrap_or(0) == 0 {
            *slot = Some(v);
        }
    }
    match delay_override {
        Some(delay) => probe.initial_delay_seconds = Some(delay),
        None => fill(&mut probe.initial_delay_seconds, d.initial_delay),
    }
    if let Some(period) = d.period {
        fill(&mut probe.period_seconds, period);
    }
    fill(&mut probe.timeout_seconds, d.timeout);
    fill(&mut probe.success_threshold, d.success);
    fill(&mut probe.failure_threshold, d.failure);
}

impl PerconaXtraDBClusterSpec {
    /// A copy with Percona's defaults filled in for everything left unset. Pure: no I/O, no clock.
    ///
    /// Sections that are absent stay absent where absence has a meaning for the operator (a missing
    /// `haproxy`/`proxysql` section means that proxy is off, a missing `backup` means no backups);
    /// sections that are present get their defaults. `pause` is not applied to sizes here: the
    /// sizes remain the wanted ones and the engine scales to zero while paused.
    pub fn with_defaults(&self, cluster_name: &str) -> Self {
        let mut s = self.clone();
        let c = cluster_name;

        set_if_none(&mut s.cr_version, CR_VERSION.into());
        // Percona asks the API server; offline we cannot, and plain Kubernetes is its fallback.
        set_if_none(&mut s.platform, "kubernetes".into());
        set_if_none(&mut s.pause, false);
        set_if_none(&mut s.secrets_name, format!("{c}-secrets"));
        set_if_none(&mut s.ssl_secret_name, format!("{c}-ssl"));
        set_if_none(&mut s.ssl_internal_secret_name, format!("{c}-ssl-internal"));
        set_if_none(&mut s.vault_secret_name, format!("{c}-vault"));
        set_if_none(&mut s.log_collector_secret_name, format!("{c}-log-collector"));
        set_if_none(&mut s.enable_cr_validation_webhook, false);
        set_if_none(&mut s.enable_volume_expansion, false);

        // allowUnsafeConfigurations: TLS off and every unsafe flag on (CheckNSetDefaults).
        if s.allow_unsafe_configurations == Some(true) {
            s.unsafe_flags = Some(s.effective_unsafe_flags());
            s.tls.get_or_insert_with(TlsSpec::default).enabled = Some(false);
        }
        let tls = s.tls.get_or_insert_with(TlsSpec::default);
        set_if_none(&mut tls.enabled, true);
        if s.tls_enabled() || s.unsafe_flags.as_ref().and_then(|f| f.tls) != Some(true) {
            let tls = s.tls.get_or_insert_with(TlsSpec::default);
            set_if_none(&mut tls.cert_validity_duration, CERT_VALIDITY.into());
            set_if_none(&mut tls.ca_validity_duration, CA_VALIDITY.into());
        }
        let pw = s.password_generation_options.get_or_insert_with(PasswordGenerationOptions::default);
        set_if_none(&mut pw.symbols, PASSWORD_SYMBOLS.into());
        set_if_none(&mut pw.max_length, PASSWORD_MAX_LENGTH);
        set_if_none(&mut pw.min_length, PASSWORD_MIN_LENGTH);
        let flags = s.unsafe_flags.get_or_insert_with(UnsafeFlags::default);
        set_if_none(&mut flags.tls, false);
        set_if_none(&mut flags.pxc_size, false);
        set_if_none(&mut flags.proxy_size, false);
        set_if_none(&mut flags.backup_if_unhealthy, false);

        let up = s.upgrade_options.get_or_insert_with(UpgradeOptions::default);
        set_if_none(&mut up.version_service_endpoint, VERSION_SERVICE_ENDPOINT.into());
        set_if_none(&mut up.apply, UPGRADE_APPLY.into());
        set_if_none(&mut up.schedule, UPGRADE_SCHEDULE.into());

        let init = s.init_container.get_or_insert_with(InitContainerSpec::default);
        set_if_none(&mut init.image, s.init_image.clone().unwrap_or_else(|| INIT_IMAGE.into()));
        if init.resources.is_none() {
            init.resources = Some(ResourceRequirements {
                limits: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity(INIT_CPU.into())),
                    ("memory".to_string(), Quantity(INIT_MEMORY.into())),
                ])),
                ..Default::default()
            });
        }

        self.default_pxc(&mut s, c);
        let proxy_on = s.haproxy_enabled() || s.proxysql_enabled();
        if let Some(h) = s.haproxy.as_mut().filter(|h| h.enabled == Some(true)) {
            default_haproxy(h, c);
        }
        if let Some(p) = s.proxysql.as_mut().filter(|p| p.enabled == Some(true)) {
            let ssl = s.ssl_secret_name.clone();
            let ssl_internal = s.ssl_internal_secret_name.clone();
            default_proxysql(p, c, ssl, ssl_internal);
        }

        // deploy/cr.yaml ships SmartUpdate; it needs a proxy, and Percona's StatefulSet code falls
        // back to RollingUpdate for anything else, so that is the default without one.
        set_if_none(&mut s.update_strategy, if proxy_on { SMART_UPDATE } else { ROLLING_UPDATE }.into());

        if let Some(l) = s.logcollector.as_mut() {
            set_if_none(&mut l.image, LOGCOLLECTOR_IMAGE.into());
            default_resources(&mut l.resources, LOGCOLLECTOR_MEMORY, LOGCOLLECTOR_CPU);
            if l.enabled == Some(true) {
                set_if_none(&mut l.image_pull_policy, IMAGE_PULL_POLICY.into());
            }
        }
        if let Some(p) = s.pmm.as_mut() {
            set_if_none(&mut p.image, PMM_IMAGE.into());
            set_if_none(&mut p.server_host, PMM_SERVER_HOST.into());
            default_resources(&mut p.resources, PMM_MEMORY, PMM_CPU);
            if p.enabled == Some(true) {
                set_if_none(&mut p.image_pull_policy, IMAGE_PULL_POLICY.into());
            }
        }
        let security = pod_security_context(s.platform.as_deref() == Some("openshift"));
        if let Some(b) = s.backup.as_mut() {
            default_backup(b, &security);
        }
        if let Some(p) = s.pxc.as_mut() {
            set_if_none(&mut p.pod_security_context, security.clone());
        }
        if let Some(p) = s.proxysql.as_mut().filter(|p| p.enabled == Some(true)) {
            set_if_none(&mut p.pod_security_context, security);
        }
        s
    }

    fn default_pxc(&self, s: &mut Self, c: &str) {
        let vault = s.vault_secret_name.clone();
        let ssl = s.ssl_secret_name.clone();
        let ssl_internal = s.ssl_internal_secret_name.clone();
        let p = s.pxc.get_or_insert_with(PxcSpec::default);
        set_if_none(&mut p.size, PXC_SIZE);
        set_if_none(&mut p.image, PXC_IMAGE.into());
        set_if_none(&mut p.auto_recovery, true);
        set_if_none(&mut p.image_pull_policy, IMAGE_PULL_POLICY.into());
        default_resources(&mut p.resources, COMPONENT_MEMORY, COMPONENT_CPU);
        default_volume(&mut p.volume_spec, PXC_STORAGE);
        default_affinity(&mut p.affinity);
        default_pdb(&mut p.pod_disruption_budget);
        set_if_none(&mut p.grace_period, PXC_GRACE_PERIOD);
        set_if_none(&mut p.service_account_name, WORKLOAD_SERVICE_ACCOUNT.into());
        set_if_none(&mut p.env_vars_secret, format!("{c}-env-vars-pxc"));
        // CheckNSetDefaults copies the cluster-level secret names into the pxc section.
        p.vault_secret_name = vault;
        p.ssl_secret_name = ssl;
        p.ssl_internal_secret_name = ssl_internal;
        default_probe(
            &mut p.liveness_probes,
            p.liveness_delay_sec,
            ProbeDefaults { initial_delay: 300, period: None, timeout: 5, success: 1, failure: 3 },
        );
        default_probe(
            &mut p.readiness_probes,
            p.readiness_delay_sec,
            ProbeDefaults { initial_delay: 15, period: Some(30), timeout: 15, success: 1, failure: 5 },
        );
        for ch in p.replication_channels.iter_mut().flatten() {
            for src in ch.sources_list.iter_mut().flatten() {
                if src.weight.unwrap_or(0) == 0 {
                    src.weight = Some(REPLICATION_SOURCE_WEIGHT);
                }
                if src.port.unwrap_or(0) == 0 {
                    src.port = Some(REPLICATION_SOURCE_PORT);
                }
            }
            if ch.is_source != Some(true) && ch.configuration.is_none() {
                ch.configuration = Some(ReplicationChannelConfig {
                    source_retry_count: Some(REPLICATION_SOURCE_RETRY_COUNT),
                    source_connect_retry: Some(REPLICATION_SOURCE_CONNECT_RETRY),
                    ..Default::default()
                });
            }
        }
    }
}

/// `setPodSecurityContext`: what pxc, proxysql and backup pods get when none is written.
fn pod_security_context(openshift: bool) -> serde_json::Value {
    if openshift {
        serde_json::json!({ "supplementalGroups": [POD_GROUP] })
    } else {
        serde_json::json!({ "fsGroup": POD_GROUP, "supplementalGroups": [POD_GROUP] })
    }
}

fn default_haproxy(h: &mut HaproxySpec, c: &str) {
    set_if_none(&mut h.size, PROXY_SIZE);
    set_if_none(&mut h.image, HAPROXY_IMAGE.into());
    set_if_none(&mut h.image_pull_policy, IMAGE_PULL_POLICY.into());
    default_resources(&mut h.resources, COMPONENT_MEMORY, COMPONENT_CPU);
    default_affinity(&mut h.affinity);
    default_pdb(&mut h.pod_disruption_budget);
    set_if_none(&mut h.grace_period, PROXY_GRACE_PERIOD);
    set_if_none(&mut h.service_account_name, WORKLOAD_SERVICE_ACCOUNT.into());
    set_if_none(&mut h.env_vars_secret, format!("{c}-env-vars-haproxy"));
    // crVersion >= 1.14.0: the replicas service is on unless configured.
    if h.expose_replicas.is_none() {
        h.expose_replicas = Some(ServiceExpose { enabled: Some(true), ..Default::default() });
    }
    let hc = h.health_check.get_or_insert_with(HaproxyHealthCheck::default);
    set_if_none(&mut hc.interval, HAPROXY_CHECK_INTERVAL_MS);
    set_if_none(&mut hc.fall, HAPROXY_CHECK_FALL);
    set_if_none(&mut hc.rise, HAPROXY_CHECK_RISE);
    default_probe(
        &mut h.readiness_probes,
        h.readiness_delay_sec,
        ProbeDefaults { initial_delay: 15, period: Some(5), timeout: 1, success: 1, failure: 3 },
    );
    default_probe(
        &mut h.liveness_probes,
        h.liveness_delay_sec,
        ProbeDefaults { initial_delay: 60, period: Some(30), timeout: 5, success: 1, failure: 4 },
    );
}

fn default_proxysql(p: &mut ProxysqlSpec, c: &str, ssl: Option<String>, ssl_internal: Option<String>) {
    set_if_none(&mut p.size, PROXY_SIZE);
    set_if_none(&mut p.image, PROXYSQL_IMAGE.into());
    set_if_none(&mut p.image_pull_policy, IMAGE_PULL_POLICY.into());
    default_resources(&mut p.resources, COMPONENT_MEMORY, COMPONENT_CPU);
    default_volume(&mut p.volume_spec, PROXYSQL_STORAGE);
    default_affinity(&mut p.affinity);
    default_pdb(&mut p.pod_disruption_budget);
    set_if_none(&mut p.grace_period, PROXY_GRACE_PERIOD);
    set_if_none(&mut p.service_account_name, WORKLOAD_SERVICE_ACCOUNT.into());
    set_if_none(&mut p.env_vars_secret, format!("{c}-env-vars-proxysql"));
    p.ssl_secret_name = ssl;
    p.ssl_internal_secret_name = ssl_internal;
    // `ProxySQLSchedulerSpec` kubebuilder defaults; the scheduler itself stays off unless asked for.
    let sch = p.scheduler.get_or_insert_with(ProxysqlScheduler::default);
    set_if_none(&mut sch.enabled, false);
    set_if_none(&mut sch.check_timeout_milliseconds, 2000);
    set_if_none(&mut sch.writer_is_also_reader, true);
    set_if_none(&mut sch.success_threshold, 1);
    set_if_none(&mut sch.failure_threshold, 3);
    set_if_none(&mut sch.ping_timeout_milliseconds, 1000);
    set_if_none(&mut sch.node_check_interval_milliseconds, 2000);
    set_if_none(&mut sch.max_connections, 1000);
}

fn default_backup(b: &mut BackupSpec, security: &serde_json::Value) {
    set_if_none(&mut b.image, BACKUP_IMAGE.into());
    set_if_none(&mut b.image_pull_policy, IMAGE_PULL_POLICY.into());
    // GetAllowParallel: unset means parallel backups are allowed.
    set_if_none(&mut b.allow_parallel, true);
    set_if_none(&mut b.running_deadline_seconds, BACKUP_RUNNING_DEADLINE_SECONDS);
    if let Some(p) = b.pitr.as_mut().filter(|p| p.enabled == Some(true)) {
        let zero = |n: &Option<serde_json::Number>| n.as_ref().and_then(|n| n.as_f64()).unwrap_or(0.0) == 0.0;
        if zero(&p.time_between_uploads) {
            p.time_between_uploads = Some(PITR_TIME_BETWEEN_UPLOADS.into());
        }
        if zero(&p.timeout_seconds) {
            p.timeout_seconds = Some(PITR_TIMEOUT_SECONDS.into());
        }
    }
    for st in b.storages.iter_mut().flat_map(|m| m.values_mut()) {
        set_if_none(&mut st.pod_security_context, security.clone());
        if st.type_ == storage_type::FILESYSTEM
            && let Some(pvc) = st.volume.as_mut().and_then(|v| v.persistent_volume_claim.as_mut())
            && pvc.access_modes.as_ref().is_none_or(|m| m.is_empty())
        {
            pvc.access_modes = Some(vec!["ReadWriteOnce".into()]);
        }
    }
    // GetRetention: a schedule without `retention` keeps `keep` backups and deletes older ones
    // from storage too.
    for sch in b.schedule.iter_mut().flatten() {
        if sch.retention.is_none() {
            sch.retention = Some(sch.effective_retention());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_shortcut_wins_over_probe_value() {
        let spec = PerconaXtraDBClusterSpec {
            pxc: Some(PxcSpec {
                liveness_delay_sec: Some(900),
                liveness_probes: Some(Probe { initial_delay_seconds: Some(10), ..Default::default() }),
                readiness_probes: Some(Probe { period_seconds: Some(7), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pxc = spec.with_defaults("c").pxc.unwrap();
        assert_eq!(pxc.liveness_probes.unwrap().initial_delay_seconds, Some(900));
        let r = pxc.readiness_probes.unwrap();
        assert_eq!((r.period_seconds, r.initial_delay_seconds), (Some(7), Some(15)));
    }

    #[test]
    fn affinity_rules() {
        let mut a = Some(PodAffinity { anti_affinity_topology_key: Some("rack".into()), advanced: None });
        default_affinity(&mut a);
        assert_eq!(a.unwrap().anti_affinity_topology_key.as_deref(), Some(ANTI_AFFINITY_TOPOLOGY_KEY));
        let mut a = Some(PodAffinity { anti_affinity_topology_key: Some("none".into()), advanced: None });
        default_affinity(&mut a);
        assert_eq!(a.unwrap().anti_affinity_topology_key.as_deref(), Some("none"));
        let mut a = Some(PodAffinity {
            anti_affinity_topology_key: Some("kubernetes.io/hostname".into()),
            advanced: Some(Default::default()),
        });
        default_affinity(&mut a);
        assert_eq!(a.unwrap().anti_affinity_topology_key, None);
    }

    #[test]
    fn written_resources_are_not_merged() {
        let limits_only = ResourceRequirements {
            limits: Some(BTreeMap::from([("memory".to_string(), Quantity("2G".into()))])),
            ..Default::default()
        };
        let mut r = Some(limits_only.clone());
        default_resources(&mut r, COMPONENT_MEMORY, COMPONENT_CPU);
        assert_eq!(r, Some(limits_only));
    }

    #[test]
    fn unsafe_switch_turns_tls_off_in_defaults() {
        let spec = PerconaXtraDBClusterSpec { allow_unsafe_configurations: Some(true), ..Default::default() };
        let d = spec.with_defaults("c");
        assert_eq!(d.tls.unwrap().enabled, Some(false));
        assert_eq!(d.unsafe_flags.unwrap().pxc_size, Some(true));
    }

    #[test]
    fn replication_sources_get_port_and_weight() {
        let spec = PerconaXtraDBClusterSpec {
            pxc: Some(PxcSpec {
                replication_channels: Some(vec![ReplicationChannel {
                    name: Some("a_to_b".into()),
                    is_source: Some(false),
                    sources_list: Some(vec![ReplicationSource { host: Some("10.0.0.1".into()), ..Default::default() }]),
                    configuration: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let ch = &spec.with_defaults("c").pxc.unwrap().replication_channels.unwrap()[0];
        let src = &ch.sources_list.as_ref().unwrap()[0];
        assert_eq!((src.port, src.weight), (Some(3306), Some(100)));
        let cfg = ch.configuration.as_ref().unwrap();
        assert_eq!((cfg.source_retry_count, cfg.source_connect_retry), (Some(3), Some(60)));
    }
}
