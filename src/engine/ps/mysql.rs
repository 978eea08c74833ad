//! The MySQL StatefulSet `<c>-mysql` and its Services: headless, unready, primary and per-pod.

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, EnvVar, EnvVarSource, KeyToPath, PersistentVolumeClaim, ProjectedVolumeSource,
    SecretKeySelector, SecretProjection, Service, ServicePort, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::config::MY_CNF;
use super::meta::{
    ANNOTATION_CONFIG_HASH, ANNOTATION_TLS_HASH, Component, LABEL_EXPOSED, LABEL_PRIMARY, merge, selector,
};
use super::pod::{
    self, BIN_PATH, BIN_VOLUME, CONFIG_VOLUME, TLS_VOLUME, USERS_VOLUME, container_port, empty_dir, mount, pod_common,
    secret_volume, service_port,
};
use super::{BuildError, Ctx};

pub(super) const PORT_MYSQL: i32 = 3306;
pub(super) const PORT_ADMIN: i32 = 33062;
pub(super) const PORT_X: i32 = 33060;
pub(super) const PORT_GR: i32 = 33061;
/// The xtrabackup sidecar's HTTP API.
pub(super) const PORT_SIDECAR: i32 = 6450;

const DATA_VOLUME: &str = "datadir";
const DATA_PATH: &str = "/var/lib/mysql";
const MYSQLSH_VOLUME: &str = "mysqlsh";
const BACKUP_LOGS_VOLUME: &str = "backup-logs";
const BACKUP_TMP_VOLUME: &str = "xtrabackup-tmp";
const VAULT_VOLUME: &str = "vault-keyring-secret";
const VAULT_PATH: &str = "/etc/mysql/vault-keyring-secret";
const ENCRYPTION_KEYS_VOLUME: &str = "backup-encryption-keys";
pub(super) const CREDS_PATH: &str = "/etc/mysql/mysql-users-secret";
pub(super) const TLS_PATH: &str = "/etc/mysql/mysql-tls-secret";
const CONFIG_PATH: &str = "/etc/mysql/config";
/// xtrabackup's data-dir clone watchdog (Percona `DefaultCloneStallTimeoutSeconds`, crVersion ≥ 1.3.0).
const CLONE_STALL_TIMEOUT: &str = "900";

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value.into()), ..Default::default() }
}

/// Percona's `ClusterHash`: FNV-1a (32 bit) of the CR's UID in decimal, cut to 7 digits. MySQL uses
/// it to derive server ids that differ between clusters.
pub(super) fn cluster_hash(uid: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in uid.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string().chars().take(7).collect()
}

/// Percona's `InnoDBClusterName`: the cluster name without dashes (InnoDB cluster names allow none).
pub(super) fn innodb_cluster_name(name: &str) -> String {
    name.replace('-', "")
}

pub(super) fn service_ports(ctx: &Ctx) -> Vec<ServicePort> {
    let mut ports = vec![
        service_port("mysql", PORT_MYSQL, PORT_MYSQL),
        service_port("mysql-admin", PORT_ADMIN, PORT_ADMIN),
        service_port("mysqlx", PORT_X, PORT_X),
        service_port("http", PORT_SIDECAR, PORT_SIDECAR),
    ];
    if ctx.is_gr() {
        ports.push(service_port("mysql-gr", PORT_GR, PORT_GR));
    }
    ports
}

fn mysqld(ctx: &Ctx) -> Container {
    let m = &ctx.mysql;
    let base = ctx.owner.workload_name(Component::Mysql);
    let mut envs = vec![
        env("MONITOR_HOST", "%"),
        env("SERVICE_NAME", base.clone()),
        env("SERVICE_NAME_UNREADY", format!("{base}-unready")),
        env("CLUSTER_HASH", cluster_hash(&ctx.owner.uid)),
        env("INNODB_CLUSTER_NAME", innodb_cluster_name(&ctx.owner.name)),
        env("CR_UID", ctx.owner.uid.clone()),
        env("CLUSTER_TYPE", ctx.cluster_type_str()),
        env("MYSQL_NOTIFY_SOCKET", format!("{DATA_PATH}/notify.sock")),
        env("MYSQL_STATE_FILE", format!("{DATA_PATH}/mysql.state")),
        env("BOOTSTRAP_CLONE_STALL_TIMEOUT", CLONE_STALL_TIMEOUT),
    ];
    // The user's env comes after the stall timeout so it can override it, before the fixed tail.
    envs.extend(m.env.iter().flatten().cloned());
    let backups = ctx.spec.backup.as_ref().and_then(|b| b.enabled).unwrap_or(true);
    envs.extend([
        env("BOOTSTRAP_MODE", m.bootstrap.as_ref().and_then(|b| b.mode.clone()).unwrap_or_else(|| "auto".into())),
        env("KEYRING_VAULT_PATH", format!("{VAULT_PATH}/keyring_vault.cnf")),
        env("BACKUPS_ENABLED", backups.to_string()),
        env("CR_VERSION", ctx.spec.cr_version.clone().unwrap_or_default()),
    ]);
    let mut ports = vec![
        container_port("mysql", PORT_MYSQL),
        container_port("mysql-admin", PORT_ADMIN),
        container_port("mysqlx", PORT_X),
    ];
    if ctx.is_gr() {
        ports.push(container_port("mysql-gr", PORT_GR));
    }
    Container {
        name: "mysql".to_string(),
        image: m.image.clone(),
        image_pull_policy: m.image_pull_policy.clone(),
        resources: m.resources.clone(),
        ports: Some(ports),
        env: Some(envs),
        env_from: m.env_from.clone(),
        command: Some(vec!["/opt/percona/ps-entrypoint.sh".to_string()]),
        args: Some(vec!["mysqld".to_string()]),
        volume_mounts: Some(vec![
            mount(BIN_VOLUME, BIN_PATH),
            mount(DATA_VOLUME, DATA_PATH),
            mount(MYSQLSH_VOLUME, "/.mysqlsh"),
            mount(USERS_VOLUME, CREDS_PATH),
            mount(TLS_VOLUME, TLS_PATH),
            mount(CONFIG_VOLUME, CONFIG_PATH),
            mount(VAULT_VOLUME, VAULT_PATH),
        ]),
        security_context: m.container_security_context.clone(),
        liveness_probe: pod::exec_probe(m.liveness_probe.as_ref(), &["/opt/percona/healthcheck", "liveness"]),
        readiness_probe: pod::exec_probe(m.readiness_probe.as_ref(), &["/opt/percona/healthcheck", "readiness"]),
        startup_probe: pod::exec_probe(m.startup_probe.as_ref(), &["/opt/percona/bootstrap"]),
        lifecycle: Some(k8s_openapi::api::core::v1::Lifecycle {
            pre_stop: Some(k8s_openapi::api::core::v1::LifecycleHandler {
                exec: Some(k8s_openapi::api::core::v1::ExecAction {
                    command: Some(vec!["/opt/percona/ps-pre-stop.sh".to_string()]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    }
}

/// The xtrabackup sidecar: backups run inside the mysql pod and are streamed out over HTTP on 6450.
fn xtrabackup(ctx: &Ctx) -> Option<Container> {
    let b = ctx.spec.backup.as_ref()?;
    if b.enabled == Some(false) {
        return None;
    }
    Some(Container {
        name: "xtrabackup".to_string(),
        image: b.image.clone(),
        image_pull_policy: b.image_pull_policy.clone(),
        env: Some(vec![env("CLUSTER_TYPE", ctx.cluster_type_str())]),
        ports: Some(vec![container_port("http", PORT_SIDECAR)]),
        volume_mounts: Some(vec![
            mount(BIN_VOLUME, BIN_PATH),
            mount(DATA_VOLUME, DATA_PATH),
            mount(USERS_VOLUME, CREDS_PATH),
            mount(BACKUP_LOGS_VOLUME, "/var/log/xtrabackup"),
            mount(BACKUP_TMP_VOLUME, "/tmp"),
            mount(VAULT_VOLUME, VAULT_PATH),
            mount(CONFIG_VOLUME, CONFIG_PATH),
            mount(ENCRYPTION_KEYS_VOLUME, "/etc/mysql/encryption-keys"),
        ]),
        command: Some(vec!["/opt/percona/sidecar".to_string()]),
        security_context: b.container_security_context.clone(),
        resources: b.resources.clone(),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    })
}

/// pt-heartbeat writes replication heartbeats; Percona runs it only for async with Orchestrator.
fn heartbeat(ctx: &Ctx) -> Option<Container> {
    if !ctx.orchestrator_on() {
        return None;
    }
    let t = ctx.spec.toolkit.as_ref()?;
    Some(Container {
        name: "pt-heartbeat".to_string(),
        image: t.image.clone(),
        image_pull_policy: t.image_pull_policy.clone(),
        security_context: t.container_security_context.clone(),
        resources: t.resources.clone(),
        env: Some(vec![EnvVar {
            name: "HEARTBEAT_PASSWORD".to_string(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: ctx.internal_secret_name(),
                    key: "heartbeat".to_string(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        volume_mounts: Some(vec![
            mount(BIN_VOLUME, BIN_PATH),
            mount(DATA_VOLUME, DATA_PATH),
            mount(USERS_VOLUME, CREDS_PATH),
        ]),
        command: Some(vec!["/opt/percona/heartbeat-entrypoint.sh".to_string()]),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    })
}

fn volumes(ctx: &Ctx) -> Vec<Volume> {
    let base = ctx.owner.workload_name(Component::Mysql);
    let item = |path: &str| Some(vec![KeyToPath { key: MY_CNF.to_string(), path: path.to_string(), mode: None }]);
    // my.cnf comes from three optional places, merged by the entrypoint: the user's ConfigMap, the
    // auto-tuned one, and a Secret of the same name for settings that must stay secret.
    let config = Volume {
        name: CONFIG_VOLUME.to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: base.clone(),
                        items: item("my-config.cnf"),
                        optional: Some(true),
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: format!("auto-{base}"),
                        items: item("auto-config.cnf"),
                        optional: Some(true),
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    secret: Some(SecretProjection {
                        name: base.clone(),
                        items: item("my-secret.cnf"),
                        optional: Some(true),
                    }),
                    ..Default::default()
                },
            ]),
            default_mode: None,
        }),
        ..Default::default()
    };
    vec![
        empty_dir(BIN_VOLUME),
        empty_dir(MYSQLSH_VOLUME),
        secret_volume(USERS_VOLUME, ctx.internal_secret_name(), false),
        secret_volume(TLS_VOLUME, ctx.ssl_secret_name(), false),
        config,
        empty_dir(BACKUP_LOGS_VOLUME),
        empty_dir(BACKUP_TMP_VOLUME),
        secret_volume(VAULT_VOLUME, ctx.mysql.vault_secret_name.clone().unwrap_or_default(), true),
        secret_volume(ENCRYPTION_KEYS_VOLUME, format!("internal-encryption-keys-{}", ctx.owner.name), true),
    ]
}

/// Percona: SmartUpdate and OnDelete give `OnDelete` (the engine restarts pods itself, primary last);
/// anything else is a plain rolling update.
pub(super) fn update_strategy(ctx: &Ctx, smart_applies: bool) -> StatefulSetUpdateStrategy {
    match ctx.spec.update_strategy.as_deref() {
        Some("OnDelete") => StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None },
        Some("SmartUpdate") if smart_applies => {
            StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None }
        }
        _ => StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy { partition: Some(0), max_unavailable: None }),
        },
    }
}

pub(super) fn statefulset(ctx: &Ctx, config_hash: &str, tls_hash: &str) -> Result<StatefulSet, BuildError> {
    let m = &ctx.mysql;
    let c = Component::Mysql;
    let name = ctx.owner.workload_name(c);
    let common = pod_common!(m);

    let mut containers: Vec<Container> =
        [Some(mysqld(ctx)), xtrabackup(ctx), heartbeat(ctx)].into_iter().flatten().collect();
    let sidecars: Vec<Container> = pod::embedded(ctx, "spec.mysql.sidecars", "Container", m.sidecars.as_ref())?;
    for s in sidecars {
        // Percona keeps its own containers when a sidecar reuses a name.
        if !containers.iter().any(|c| c.name == s.name) {
            containers.push(s);
        }
    }
    let mut volumes = volumes(ctx);
    volumes.extend(pod::embedded::<Volume>(ctx, "spec.mysql.sidecarVolumes", "Volume", m.sidecar_volumes.as_ref())?);

    let volume_spec = m.volume_spec.clone().unwrap_or_default();
    let mut claims = Vec::new();
    if let Some(pvc) = volume_spec.persistent_volume_claim {
        claims.push(PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some(DATA_VOLUME.to_string()), ..Default::default() },
            spec: Some(pvc),
            ..Default::default()
        });
        for extra in m.sidecar_pvcs.iter().flatten() {
            claims.push(PersistentVolumeClaim {
                metadata: ObjectMeta { name: extra.name.clone(), ..Default::default() },
                spec: extra.spec.clone(),
                ..Default::default()
            });
        }
    } else if let Some(host_path) = volume_spec.host_path {
        volumes.push(Volume { name: DATA_VOLUME.to_string(), host_path: Some(host_path), ..Default::default() });
    } else {
        let dir = volume_spec.empty_dir.unwrap_or_default();
        volumes.push(Volume { name: DATA_VOLUME.to_string(), empty_dir: Some(dir), ..Default::default() });
    }

    let init = vec![pod::init_container(ctx, "mysql", &common)];
    let spec = pod::pod_spec(ctx, c, &common, init, containers, volumes);
    let hashes = [(ANNOTATION_CONFIG_HASH, config_hash), (ANNOTATION_TLS_HASH, tls_hash)];
    Ok(StatefulSet {
        metadata: ctx.owner.meta(
            &name,
            ctx.owner.labels(c, m.labels.as_ref()),
            ctx.owner.annotations(m.annotations.as_ref()),
        ),
        spec: Some(StatefulSetSpec {
            replicas: Some(ctx.replicas(m.size)),
            selector: selector(ctx.owner.match_labels(c)),
            service_name: Some(name.clone()),
            update_strategy: Some(update_strategy(ctx, true)),
            template: pod::template(ctx, c, &common, &hashes, spec),
            volume_claim_templates: (!claims.is_empty()).then_some(claims),
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub(super) fn services(ctx: &Ctx) -> Vec<Service> {
    let m = &ctx.mysql;
    let c = Component::Mysql;
    let base = ctx.owner.workload_name(c);
    let match_labels = ctx.owner.match_labels(c);
    let labels = ctx.owner.labels(c, m.labels.as_ref());
    let svc = |name: String, labels, annotations, spec| Service {
        metadata: ctx.owner.meta(name, labels, annotations),
        spec: Some(spec),
        ..Default::default()
    };
    let mut out = vec![
        // Headless: pod DNS names. GR publishes unready pods so members find each other while joining.
        svc(
            base.clone(),
            labels.clone(),
            ctx.owner.annotations(None),
            pod::headless_spec(service_ports(ctx), match_labels.clone(), ctx.is_gr()),
        ),
        svc(
            format!("{base}-unready"),
            labels.clone(),
            ctx.owner.annotations(None),
            pod::headless_spec(service_ports(ctx), match_labels.clone(), true),
        ),
    ];
    // Ready pods only; HAProxy's mysql-monit sidecar watches it. Percona creates it in every mode.
    out.push(svc(
        format!("{base}-proxy"),
        labels.clone(),
        ctx.owner.annotations(None),
        pod::headless_spec(service_ports(ctx), match_labels.clone(), false),
    ));
    if let Some(primary) = m.expose_primary.as_ref().filter(|p| p.enabled == Some(true)) {
        let expose = primary.expose();
        let mut sel = match_labels.clone();
        sel.insert(LABEL_PRIMARY.to_string(), "true".to_string());
        out.push(svc(
            format!("{base}-primary"),
            merge(&[Some(&ctx.owner.global_labels), expose.labels.as_ref(), Some(&match_labels)]),
            ctx.owner.annotations(expose.annotations.as_ref()),
            pod::exposed_spec(&expose, service_ports(ctx), sel),
        ));
    }
    if let Some(per_pod) = m.expose.as_ref().filter(|p| p.enabled == Some(true)) {
        let expose = per_pod.expose();
        let mut pod_labels = match_labels.clone();
        pod_labels.insert(LABEL_EXPOSED.to_string(), "true".to_string());
        // Per-pod Services follow the spec size, not the paused size, so clients keep their addresses.
        for i in 0..m.size.unwrap_or(crate::api::ps::DEFAULT_SIZE).max(0) {
            let pod_name = format!("{base}-{i}");
            let mut sel = match_labels.clone();
            sel.insert("statefulset.kubernetes.io/pod-name".to_string(), pod_name.clone());
            out.push(svc(
                pod_name,
                merge(&[Some(&ctx.owner.global_labels), expose.labels.as_ref(), Some(&pod_labels)]),
                ctx.owner.annotations(expose.annotations.as_ref()),
                pod::exposed_spec(&expose, service_ports(ctx), sel),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_hash_matches_percona_for_an_empty_uid() {
        // FNV-1a's offset basis is 2166136261; Percona keeps 7 digits.
        assert_eq!(cluster_hash(""), "2166136");
        assert_ne!(cluster_hash("a"), cluster_hash("b"));
        assert!(cluster_hash("0f7c1c2e-1111-4d3a-9bbb-2f9a1f4b7e01").len() <= 7);
    }

    #[test]
    fn innodb_cluster_names_have_no_dashes() {
        assert_eq!(innodb_cluster_name("ps-cluster1"), "pscluster1");
    }
}
