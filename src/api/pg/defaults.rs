//! Percona's defaults for a PerconaPGCluster, as a pure function of the spec and the cluster name.
//!
//! Sources: the CRD defaults in Percona's `pkg/apis/pgv2.percona.com/v2/perconapgcluster_types.go`
//! (`+kubebuilder:default` markers), its `PerconaPGCluster.Default()` / `SetExtensionDefaults()`, Crunchy's
//! `PostgresCluster.Default()` (unnamed instance sets are named by index), the 3.1.0 `deploy/cr.yaml` sample
//! (storage sizes, anti-affinity) and the 3.1.0 release notes (image tags). Each default says which one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::json;

use super::{
    PerconaPGClusterSpec, PgBackupJobs, PgBouncer, PgExtensions, PgInstanceSet, PgPatroni, PgPmm, PgTlsSpec,
    ServiceExpose,
};

/// The operator version this model follows.
pub const DEFAULT_CR_VERSION: &str = "3.1.0";
/// `postgresVersion` of the 3.1.0 sample CR.
pub const DEFAULT_POSTGRES_VERSION: i64 = 18;
/// Listen port: CRD default for `spec.port` and `proxy.pgBouncer.port`.
pub const DEFAULT_PORT: i32 = 5432;
/// Storage of the sample's PGDATA volume and repo1 volume.
pub const DEFAULT_STORAGE: &str = "1Gi";
/// 3.1.0 shared images (release notes, "Percona certified images", UBI 9).
pub const DEFAULT_PGBOUNCER_IMAGE: &str = "percona/percona-pgbouncer:1.25.2-6";
pub const DEFAULT_PGBACKREST_IMAGE: &str = "percona/percona-pgbackrest:2.59.0-1";
pub const DEFAULT_PMM_IMAGE: &str = "percona/pmm-client:3.9.1";
pub const DEFAULT_LOGCOLLECTOR_IMAGE: &str = "percona/fluentbit:5.1.1-1";
/// Patroni timings (Crunchy CRD defaults, repeated in Percona's cr.yaml comments) and its REST port.
pub const DEFAULT_PATRONI_SYNC_PERIOD: i32 = 10;
pub const DEFAULT_PATRONI_LEADER_LEASE: i32 = 30;
pub const DEFAULT_PATRONI_PORT: i32 = 8008;

/// The PostgreSQL image 3.1.0 ships for a major version (UBI 9 tags from the release notes).
pub fn default_postgres_image(major: i64) -> Option<&'static str> {
    Some(match major {
        18 => "percona/percona-distribution-postgresql:18.6.1-1",
        17 => "percona/percona-distribution-postgresql:17.11.1-1",
        16 => "percona/percona-distribution-postgresql:16.15-1",
        15 => "percona/percona-distribution-postgresql:15.19-1",
        14 => "percona/percona-distribution-postgresql:14.24-1",
        _ => return None,
    })
}

/// Names of the Secrets the operator creates for a cluster when the user brings none
/// (Percona's naming, see the reference's "Objects created" table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgSecretNames {
    /// Server certificate (`<cluster>-cluster-cert`), used unless `secrets.customTLSSecret` is set.
    pub cluster_cert: String,
    /// CA (`<cluster>-cluster-ca-cert`), unless `secrets.customRootCATLSSecret` is set.
    pub cluster_ca_cert: String,
    /// Replication client certificate (`<cluster>-replication-cert`).
    pub replication_cert: String,
    /// pgBackRest TLS/config Secret (`<cluster>-pgbackrest`).
    pub pgbackrest: String,
    /// Default user's Secret (`<cluster>-pguser-<cluster>`).
    pub default_user: String,
    /// PMM token Secret from the sample (`<cluster>-pmm-secret`).
    pub pmm: String,
}

impl PgSecretNames {
    pub fn for_cluster(cluster: &str) -> Self {
        Self {
            cluster_cert: format!("{cluster}-cluster-cert"),
            cluster_ca_cert: format!("{cluster}-cluster-ca-cert"),
            replication_cert: format!("{cluster}-replication-cert"),
            pgbackrest: format!("{cluster}-pgbackrest"),
            default_user: format!("{cluster}-pguser-{cluster}"),
            pmm: format!("{cluster}-pmm-secret"),
        }
    }
}

/// A ReadWriteOnce claim of `size`.
fn rwo_claim(size: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Fills access modes and the storage request of a claim the user left partly empty.
fn complete_claim(claim: &mut PersistentVolumeClaimSpec) {
    if claim.access_modes.as_ref().is_none_or(|m| m.is_empty()) {
        claim.access_modes = Some(vec!["ReadWriteOnce".into()]);
    }
    let resources = claim.resources.get_or_insert_with(Default::default);
    let requests = resources.requests.get_or_insert_with(Default::default);
    requests.entry("storage".into()).or_insert_with(|| Quantity(DEFAULT_STORAGE.into()));
}

/// The sample's soft anti-affinity: spread pods carrying `label=value` over nodes.
fn spread_over_hosts(label: &str, value: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 1,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(label.to_string(), value.to_string())])),
                        ..Default::default()
                    }),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn default_expose(expose: &mut Option<ServiceExpose>) {
    // CRD default `type: ClusterIP` applies only to a Service the user described.
    if let Some(e) = expose {
        e.type_.get_or_insert_with(|| "ClusterIP".into());
    }
}

impl PerconaPGClusterSpec {
    /// Returns a copy with every unset field that Percona defaults filled in. Set fields are never changed.
    pub fn with_defaults(&self, cluster_name: &str) -> Self {
        let mut s = self.clone();
        // Operator Default(): crVersion is the operator's own version.
        s.cr_version.get_or_insert_with(|| DEFAULT_CR_VERSION.into());
        // Sample cr.yaml: postgresVersion 18; image: the release's image for that major.
        let major = *s.postgres_version.get_or_insert(DEFAULT_POSTGRES_VERSION);
        if s.image.is_none() {
            s.image = default_postgres_image(major).map(str::to_string);
        }
        // CRD default.
        s.port.get_or_insert(DEFAULT_PORT);
        // Operator Default(): autoCreateUserSchema true for crVersion >= 2.6.0.
        s.auto_create_user_schema.get_or_insert(true);
        // Crunchy's TLS default policy.
        let tls = s.tls.get_or_insert_with(PgTlsSpec::default);
        tls.cert_management_policy.get_or_insert_with(|| "auto".into());
        default_expose(&mut s.expose);
        default_expose(&mut s.expose_replicas);

        // Crunchy CRD defaults for Patroni.
        let patroni = s.patroni.get_or_insert_with(PgPatroni::default);
        patroni.sync_period_seconds.get_or_insert(DEFAULT_PATRONI_SYNC_PERIOD);
        patroni.leader_lease_duration_seconds.get_or_insert(DEFAULT_PATRONI_LEADER_LEASE);
        patroni.port.get_or_insert(DEFAULT_PATRONI_PORT);

        // Instances: the sample's single `instance1` of 3 when none are given (the CRD requires at least one, so
        // validation still reports an empty list; defaults only help the engine's own bootstraps).
        let instances = s.instances.get_or_insert_with(Vec::new);
        if instances.is_empty() {
            instances.push(PgInstanceSet { name: Some("instance1".into()), replicas: Some(3), ..Default::default() });
        }
        for (i, set) in instances.iter_mut().enumerate() {
            // Crunchy Default(): unnamed sets are named by index (`00`, `01`, ...).
            if set.name.as_deref().unwrap_or("").is_empty() {
                set.name = Some(format!("{i:02}"));
            }
            // CRD default replicas: 1.
            set.replicas.get_or_insert(1);
            // Sample: 1Gi ReadWriteOnce PGDATA volume.
            match &mut set.data_volume_claim_spec {
                Some(claim) => complete_claim(claim),
                None => set.data_volume_claim_spec = Some(rwo_claim(DEFAULT_STORAGE)),
            }
            // Sample: soft anti-affinity on the data=postgres label.
            set.affinity.get_or_insert_with(|| spread_over_hosts("postgres-operator.crunchydata.com/data", "postgres"));
        }

        // Proxy: since crVersion 2.9.0 pgBouncer exists only when `proxy.pgBouncer` is written; fill its defaults.
        if let Some(bouncer) = s.proxy.as_mut().and_then(|p| p.pg_bouncer.as_mut()) {
            default_bouncer(bouncer);
        }

        // Backups: enabled unless disabled (Default() for crVersion >= 3.1.0).
        let backups = s.backups.get_or_insert_with(Default::default);
        backups.enabled.get_or_insert(true);
        if backups.is_enabled() {
            // Default(): trackLatestRestorableTime true and an (empty) jobs section when backups are on.
            backups.track_latest_restorable_time.get_or_insert(true);
            let pgbr = backups.pgbackrest.get_or_insert_with(Default::default);
            pgbr.image.get_or_insert_with(|| DEFAULT_PGBACKREST_IMAGE.into());
            pgbr.jobs.get_or_insert_with(PgBackupJobs::default);
            for repo in pgbr.repos.iter_mut().flatten() {
                if let Some(volume) = &mut repo.volume {
                    match &mut volume.volume_claim_spec {
                        Some(claim) => complete_claim(claim),
                        None => volume.volume_claim_spec = Some(rwo_claim(DEFAULT_STORAGE)),
                    }
                }
            }
            // Sample: the repo host spreads over nodes with data=pgbackrest.
            let repo_host = pgbr.repo_host.get_or_insert_with(Default::default);
            repo_host
                .affinity
                .get_or_insert_with(|| spread_over_hosts("postgres-operator.crunchydata.com/data", "pgbackrest"));
        }
        if let Some(snap) = &mut backups.volume_snapshots {
            // CRD default mode `offline`; Default() adds a checkpoint with a 300 s timeout for offline mode.
            let mode = snap.mode.get_or_insert_with(|| "offline".into());
            if mode == "offline" && snap.offline_config.is_none() {
                snap.offline_config = Some(json!({"checkpoint": {"enabled": true, "timeoutSeconds": 300}}));
            }
        }

        let pmm_query_source = match &mut s.pmm {
            Some(pmm) => {
                default_pmm(pmm, cluster_name);
                pmm.enabled.unwrap_or(false).then(|| pmm.query_source.clone()).flatten()
            }
            None => None,
        };
        default_extensions(s.extensions.get_or_insert_with(PgExtensions::default), pmm_query_source.as_deref());

        if let Some(lc) = &mut s.log_collector {
            lc.image.get_or_insert_with(|| DEFAULT_LOGCOLLECTOR_IMAGE.into());
            if let Some(rotate) = &mut lc.log_rotate {
                // CRD default.
                rotate.schedule.get_or_insert_with(|| "0 0 * * *".into());
            }
        }
        s
    }
}

fn default_bouncer(b: &mut PgBouncer) {
    // CRD defaults replicas 1 and port 5432; image from the release notes.
    b.replicas.get_or_insert(1);
    b.port.get_or_insert(DEFAULT_PORT);
    b.image.get_or_insert_with(|| DEFAULT_PGBOUNCER_IMAGE.into());
    default_expose(&mut b.expose);
    // Sample: spread pgBouncer pods over nodes.
    b.affinity.get_or_insert_with(|| spread_over_hosts("postgres-operator.crunchydata.com/role", "pgbouncer"));
}

fn default_pmm(pmm: &mut PgPmm, cluster_name: &str) {
    pmm.enabled.get_or_insert(false);
    pmm.image.get_or_insert_with(|| DEFAULT_PMM_IMAGE.into());
    // Sample: the token Secret is `<cluster>-pmm-secret`; querySource pgstatmonitor.
    pmm.secret.get_or_insert_with(|| PgSecretNames::for_cluster(cluster_name).pmm);
    pmm.query_source.get_or_insert_with(|| "pgstatmonitor".into());
}

/// SetExtensionDefaults(): pg_audit on; pgvector, pg_repack, pg_cron, set_user off; pg_stat_monitor and
/// pg_stat_statements follow PMM's query source (both off without PMM). The deprecated `builtin` map, when given,
/// wins, as it does in Percona's code.
fn default_extensions(ext: &mut PgExtensions, pmm_query_source: Option<&str>) {
    let builtin = ext.built_in.clone().unwrap_or_default();
    let defaults = [
        ("pg_stat_monitor", pmm_query_source == Some("pgstatmonitor")),
        ("pg_stat_statements", pmm_query_source == Some("pgstatstatements")),
        ("pg_audit", true),
        ("pgvector", false),
        ("pg_repack", false),
        ("pg_cron", false),
        ("set_user", false),
    ];
    for (name, on) in defaults {
        let value = builtin.get(name).copied().unwrap_or(on);
        let entry = ext.extra.entry(name.to_string()).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.entry("enabled").or_insert(json!(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_exist_for_supported_majors_only() {
        assert_eq!(default_postgres_image(18), Some("percona/percona-distribution-postgresql:18.6.1-1"));
        assert_eq!(default_postgres_image(14), Some("percona/percona-distribution-postgresql:14.24-1"));
        assert_eq!(default_postgres_image(12), None);
    }

    #[test]
    fn set_fields_are_kept() {
        let spec = PerconaPGClusterSpec {
            postgres_version: Some(16),
            image: Some("my/pg:16".into()),
            port: Some(6543),
            ..Default::default()
        };
        let d = spec.with_defaults("c1");
        assert_eq!(d.image.as_deref(), Some("my/pg:16"));
        assert_eq!(d.port, Some(6543));
        assert_eq!(d.postgres_version, Some(16));
    }

    #[test]
    fn unnamed_sets_are_named_by_index() {
        let spec = PerconaPGClusterSpec {
            instances: Some(vec![
                PgInstanceSet::default(),
                PgInstanceSet { name: Some(String::new()), ..Default::default() },
            ]),
            ..Default::default()
        };
        let d = spec.with_defaults("c1");
        let names: Vec<_> = d.instances.unwrap().into_iter().map(|s| s.name.unwrap()).collect();
        assert_eq!(names, ["00", "01"]);
    }

    #[test]
    fn extensions_follow_pmm_query_source() {
        let spec = PerconaPGClusterSpec {
            pmm: Some(PgPmm {
                enabled: Some(true),
                query_source: Some("pgstatstatements".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let ext = spec.with_defaults("c1").extensions.unwrap();
        assert_eq!(ext.extra["pg_stat_statements"]["enabled"], json!(true));
        assert_eq!(ext.extra["pg_stat_monitor"]["enabled"], json!(false));
        assert_eq!(ext.extra["pg_audit"]["enabled"], json!(true));
    }

    #[test]
    fn secret_names() {
        let n = PgSecretNames::for_cluster("cluster1");
        assert_eq!(n.cluster_cert, "cluster1-cluster-cert");
        assert_eq!(n.default_user, "cluster1-pguser-cluster1");
    }
}
