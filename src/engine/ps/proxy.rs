//! The proxies: HAProxy (StatefulSet `<c>-haproxy`, either mode) and MySQL Router (Deployment
//! `<c>-router`, group replication only), with their Services.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, Container, EnvVar, KeyToPath, ProjectedVolumeSource, Service,
    ServicePort, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::meta::{ANNOTATION_CONFIG_HASH, ANNOTATION_TLS_HASH, Component, merge, selector};
use super::mysql::{CREDS_PATH, TLS_PATH};
use super::pod::{
    self, BIN_PATH, BIN_VOLUME, CONFIG_VOLUME, TLS_VOLUME, USERS_VOLUME, container_port, empty_dir, mount, pod_common,
    secret_volume, service_port,
};

/// HAProxy: writes to the primary, reads to replicas, proxy protocol, X protocol, admin, PMM stats.
pub(super) const HAPROXY_PORTS: [(&str, i32); 5] =
    [("mysql", 3306), ("mysql-replicas", 3307), ("proxy-protocol", 3309), ("mysqlx", 33060), ("mysql-admin", 33062)];
const HAPROXY_PMM_STATS: i32 = 8404;
const HAPROXY_CONFIG_VOLUME: &str = "haproxy-config";
/// Operator-written HAProxy settings (Percona `naming.InternalHAProxyConfigMapName`), optional.
const HAPROXY_INTERNAL_VOLUME: &str = "internal-config";

/// MySQL Router's Service ports. `http` must stay first (Percona K8SPS-132); `rw-default` sends the
/// usual 3306 to the read-write port 6446.
pub(super) const ROUTER_PORTS: [(&str, i32, i32); 8] = [
    ("http", 8443, 8443),
    ("rw-default", 3306, 6446),
    ("read-write", 6446, 6446),
    ("read-only", 6447, 6447),
    ("x-read-write", 6448, 6448),
    ("x-read-only", 6449, 6449),
    ("x-default", 33060, 33060),
    ("rw-admin", 33062, 33062),
];

fn env(name: &str, value: String) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value), ..Default::default() }
}

fn pmm_on(ctx: &Ctx) -> bool {
    ctx.spec.pmm.as_ref().and_then(|p| p.enabled).unwrap_or(false)
}

/// A projected volume holding one optional key of the component's custom ConfigMap.
fn custom_config_volume(name: String, key: &str) -> Volume {
    Volume {
        name: CONFIG_VOLUME.to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                config_map: Some(ConfigMapProjection {
                    name,
                    items: Some(vec![KeyToPath { key: key.to_string(), path: key.to_string(), mode: None }]),
                    optional: Some(true),
                }),
                ..Default::default()
            }]),
            default_mode: None,
        }),
        ..Default::default()
    }
}

fn haproxy_containers(ctx: &Ctx) -> Vec<Container> {
    let h = &ctx.haproxy;
    let mut envs = vec![env("CLUSTER_TYPE", ctx.cluster_type_str().to_string())];
    envs.extend(h.env.iter().flatten().cloned());
    let mut ports: Vec<_> = HAPROXY_PORTS.iter().map(|(n, p)| container_port(n, *p)).collect();
    if pmm_on(ctx) {
        ports.push(container_port("pmm-stats", HAPROXY_PMM_STATS));
    }
    let mounts = |with_config: bool| {
        let mut m = vec![
            mount(BIN_VOLUME, BIN_PATH),
            mount(HAPROXY_CONFIG_VOLUME, "/etc/haproxy/mysql"),
            mount(USERS_VOLUME, CREDS_PATH),
            mount(TLS_VOLUME, TLS_PATH),
            mount(HAPROXY_INTERNAL_VOLUME, "/etc/haproxy/internal-config"),
        ];
        if with_config {
            m.push(mount(CONFIG_VOLUME, "/etc/haproxy-custom/"));
        }
        Some(m)
    };
    let haproxy = Container {
        name: "haproxy".to_string(),
        image: h.image.clone(),
        image_pull_policy: h.image_pull_policy.clone(),
        resources: h.resources.clone(),
        env: Some(envs),
        env_from: h.env_from.clone(),
        command: Some(vec!["/opt/percona/haproxy-entrypoint.sh".to_string()]),
        args: Some(vec!["haproxy".to_string()]),
        ports: Some(ports),
        volume_mounts: mounts(true),
        readiness_probe: pod::exec_probe(h.readiness_probe.as_ref(), &["/opt/percona/haproxy_readiness_check.sh"]),
        liveness_probe: pod::exec_probe(h.liveness_probe.as_ref(), &["/opt/percona/haproxy_liveness_check.sh"]),
        security_context: h.container_security_context.clone(),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    };
    // Watches the ready mysql pods and rewrites HAProxy's backend list when they change.
    let mut monit_env = vec![env("MYSQL_SERVICE", format!("{}-proxy", ctx.owner.workload_name(Component::Mysql)))];
    monit_env.extend(h.env.iter().flatten().cloned());
    let monit = Container {
        name: "mysql-monit".to_string(),
        image: h.image.clone(),
        image_pull_policy: h.image_pull_policy.clone(),
        // Since crVersion 1.2.0 the sidecar has its own resources (none unless `sidecarResources` names it).
        resources: h.sidecar_resources.as_ref().and_then(|r| r.get("mysql-monit")).cloned(),
        command: Some(vec!["/opt/percona/haproxy-entrypoint.sh".to_string()]),
        args: Some(
            [
                "/opt/percona/peer-list",
                "-on-change=/opt/percona/haproxy_add_mysql_nodes.sh",
                "-service=$(MYSQL_SERVICE)",
            ]
            .map(String::from)
            .to_vec(),
        ),
        env: Some(monit_env),
        env_from: h.env_from.clone(),
        volume_mounts: mounts(false),
        security_context: h.container_security_context.clone(),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    };
    vec![haproxy, monit]
}

pub(super) fn haproxy_statefulset(ctx: &Ctx, config_hash: &str, tls_hash: &str) -> StatefulSet {
    let h = &ctx.haproxy;
    let c = Component::Haproxy;
    let name = ctx.owner.workload_name(c);
    let common = pod_common!(h);
    let volumes = vec![
        empty_dir(BIN_VOLUME),
        empty_dir(HAPROXY_CONFIG_VOLUME),
        secret_volume(USERS_VOLUME, ctx.internal_secret_name(), false),
        secret_volume(TLS_VOLUME, ctx.ssl_secret_name(), false),
        custom_config_volume(name.clone(), "haproxy.cfg"),
        Volume {
            name: HAPROXY_INTERNAL_VOLUME.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("internal-haproxy-config-{}", ctx.owner.name),
                optional: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let init = vec![pod::init_container(ctx, "haproxy", &common)];
    let spec = pod::pod_spec(ctx, c, &common, init, haproxy_containers(ctx), volumes);
    let hashes = [(ANNOTATION_CONFIG_HASH, config_hash), (ANNOTATION_TLS_HASH, tls_hash)];
    pod::component_statefulset(ctx, c, &name, h.labels.as_ref(), h.annotations.as_ref(), h.size, &common, &hashes, spec)
}

pub(super) fn haproxy_services(ctx: &Ctx) -> Vec<Service> {
    let c = Component::Haproxy;
    let expose = ctx.haproxy.expose.clone().unwrap_or_default();
    let mut ports: Vec<ServicePort> = HAPROXY_PORTS.iter().map(|(n, p)| service_port(n, *p, *p)).collect();
    if pmm_on(ctx) {
        ports.push(service_port("pmm-stats", HAPROXY_PMM_STATS, HAPROXY_PMM_STATS));
    }
    let match_labels = ctx.owner.match_labels(c);
    vec![Service {
        metadata: ctx.owner.meta(
            ctx.owner.workload_name(c),
            merge(&[Some(&ctx.owner.global_labels), expose.labels.as_ref(), Some(&match_labels)]),
            ctx.owner.annotations(expose.annotations.as_ref()),
        ),
        spec: Some(pod::exposed_spec(&expose, ports, match_labels)),
        ..Default::default()
    }]
}

fn router_container(ctx: &Ctx) -> Container {
    let r = &ctx.router;
    let mut envs = vec![env("MYSQL_SERVICE_NAME", ctx.owner.workload_name(Component::Mysql))];
    envs.extend(r.env.iter().flatten().cloned());
    Container {
        name: "router".to_string(),
        image: r.image.clone(),
        image_pull_policy: r.image_pull_policy.clone(),
        resources: r.resources.clone(),
        env: Some(envs),
        env_from: r.env_from.clone(),
        // The container listens on the target ports; 3306 exists only on the Service.
        ports: Some(
            ROUTER_PORTS.iter().filter(|(n, _, _)| *n != "rw-default").map(|(n, p, _)| container_port(n, *p)).collect(),
        ),
        volume_mounts: Some(vec![
            mount(BIN_VOLUME, BIN_PATH),
            mount(USERS_VOLUME, CREDS_PATH),
            mount(TLS_VOLUME, TLS_PATH),
            mount(CONFIG_VOLUME, "/etc/mysql/config"),
        ]),
        command: Some(vec!["/opt/percona/router-entrypoint.sh".to_string()]),
        args: Some(["mysqlrouter", "-c", "/tmp/router/mysqlrouter.conf"].map(String::from).to_vec()),
        startup_probe: pod::exec_probe(r.startup_probe.as_ref(), &["/opt/percona/router_startup_check.sh"]),
        readiness_probe: pod::exec_probe(r.readiness_probe.as_ref(), &["/opt/percona/router_readiness_check.sh"]),
        security_context: r.container_security_context.clone(),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    }
}

pub(super) fn router_deployment(ctx: &Ctx, config_hash: &str, tls_hash: &str) -> Deployment {
    let r = &ctx.router;
    let c = Component::Router;
    let name = ctx.owner.workload_name(c);
    let common = pod_common!(r);
    let volumes = vec![
        empty_dir(BIN_VOLUME),
        secret_volume(USERS_VOLUME, ctx.internal_secret_name(), false),
        secret_volume(TLS_VOLUME, ctx.ssl_secret_name(), false),
        custom_config_volume(name.clone(), "mysqlrouter.conf"),
    ];
    let init = vec![pod::init_container(ctx, "router", &common)];
    let spec = pod::pod_spec(ctx, c, &common, init, vec![router_container(ctx)], volumes);
    let hashes = [(ANNOTATION_CONFIG_HASH, config_hash), (ANNOTATION_TLS_HASH, tls_hash)];
    Deployment {
        metadata: ctx.owner.meta(
            &name,
            ctx.owner.labels(c, r.labels.as_ref()),
            ctx.owner.annotations(r.annotations.as_ref()),
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(ctx.replicas(r.size)),
            selector: selector(ctx.owner.match_labels(c)),
            // No surge: a router pod is replaced in place, never added first.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(0)),
                    max_unavailable: None,
                }),
            }),
            template: pod::template(ctx, c, &common, &hashes, spec),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn router_service(ctx: &Ctx) -> Service {
    let r = &ctx.router;
    let c = Component::Router;
    let expose = r.expose.clone().unwrap_or_default();
    let ports = match r.ports.as_ref().filter(|p| !p.is_empty()) {
        Some(custom) => custom.clone(),
        None => ROUTER_PORTS.iter().map(|(n, p, t)| service_port(n, *p, *t)).collect(),
    };
    let match_labels = ctx.owner.match_labels(c);
    Service {
        metadata: ctx.owner.meta(
            ctx.owner.workload_name(c),
            merge(&[Some(&ctx.owner.global_labels), expose.labels.as_ref(), Some(&match_labels)]),
            ctx.owner.annotations(expose.annotations.as_ref()),
        ),
        spec: Some(pod::exposed_spec(&expose, ports, match_labels)),
        ..Default::default()
    }
}
