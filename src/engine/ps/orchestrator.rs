//! Orchestrator (async replication only): StatefulSet `<c>-orc`, its headless Service and one
//! Service per pod (Raft peers address each other through those).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EnvVar, HTTPGetAction, Probe, Service, ServicePort, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::config::ORC_RAFT_PORT;
use super::meta::{ANNOTATION_CONFIG_HASH, ANNOTATION_TLS_HASH, Component, LABEL_EXPOSED, merge};
use super::pod::{
    self, BIN_PATH, BIN_VOLUME, CONFIG_VOLUME, TLS_VOLUME, USERS_VOLUME, container_port, empty_dir, mount, pod_common,
    secret_volume, service_port,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub(super) const PORT_WEB: i32 = 3000;
const CREDS_PATH: &str = "/etc/orchestrator/orchestrator-users-secret";

fn ports() -> Vec<ServicePort> {
    vec![service_port("web", PORT_WEB, PORT_WEB), service_port("raft", ORC_RAFT_PORT, ORC_RAFT_PORT)]
}

fn env(name: &str, value: String) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value), ..Default::default() }
}

/// Only the orchestrator password is mounted, as a single file.
fn mounts() -> Vec<VolumeMount> {
    vec![
        mount(BIN_VOLUME, BIN_PATH),
        mount(TLS_VOLUME, "/etc/orchestrator/ssl"),
        mount(CONFIG_VOLUME, "/etc/orchestrator/config"),
        VolumeMount {
            name: USERS_VOLUME.to_string(),
            mount_path: format!("{CREDS_PATH}/orchestrator"),
            sub_path: Some("orchestrator".to_string()),
            ..Default::default()
        },
    ]
}

fn http_probe(path: &str, initial_delay: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("web".to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        timeout_seconds: Some(3),
        period_seconds: Some(5),
        failure_threshold: Some(3),
        success_threshold: Some(1),
        ..Default::default()
    }
}

fn containers(ctx: &Ctx) -> Vec<Container> {
    let o = &ctx.orc;
    let mysql_service = ctx.owner.workload_name(Component::Mysql);
    let mut envs = vec![
        env("ORC_SERVICE", ctx.owner.workload_name(Component::Orchestrator)),
        env("MYSQL_SERVICE", mysql_service.clone()),
        env("RAFT_ENABLED", "true".to_string()),
        env("CLUSTER_NAME", ctx.owner.name.clone()),
    ];
    envs.extend(o.env.iter().flatten().cloned());
    let orc = Container {
        name: "orc".to_string(),
        image: o.image.clone(),
        image_pull_policy: o.image_pull_policy.clone(),
        resources: o.resources.clone(),
        command: Some(vec!["/opt/percona/orc-entrypoint.sh".to_string()]),
        args: Some(
            ["/usr/local/orchestrator/orchestrator", "-config", "/etc/orchestrator/orchestrator.conf.json", "http"]
                .map(String::from)
                .to_vec(),
        ),
        env: Some(envs),
        env_from: o.env_from.clone(),
        ports: Some(vec![container_port("web", PORT_WEB), container_port("raft", ORC_RAFT_PORT)]),
        volume_mounts: Some(mounts()),
        security_context: o.container_security_context.clone(),
        liveness_probe: Some(http_probe("/api/lb-check", 10)),
        readiness_probe: Some(http_probe("/api/health", 30)),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    };
    // Feeds the mysql pods' addresses to orchestrator as they come and go.
    let monitor = Container {
        name: "mysql-monit".to_string(),
        image: o.image.clone(),
        image_pull_policy: o.image_pull_policy.clone(),
        env: Some(vec![env("ORC_SERVICE", mysql_service.clone()), env("MYSQL_SERVICE", mysql_service)]),
        volume_mounts: Some(mounts()),
        command: Some(vec!["/opt/percona/orc-entrypoint.sh".to_string()]),
        args: Some(
            ["/opt/percona/peer-list", "-on-change=/usr/bin/add_mysql_nodes.sh", "-service=$(MYSQL_SERVICE)"]
                .map(String::from)
                .to_vec(),
        ),
        security_context: o.container_security_context.clone(),
        resources: o.resources.clone(),
        termination_message_path: Some("/dev/termination-log".to_string()),
        termination_message_policy: Some("File".to_string()),
        ..Default::default()
    };
    vec![orc, monitor]
}

pub(super) fn statefulset(ctx: &Ctx, config_hash: &str, tls_hash: &str) -> StatefulSet {
    let o = &ctx.orc;
    let c = Component::Orchestrator;
    let name = ctx.owner.workload_name(c);
    let common = pod_common!(o);
    let volumes = vec![
        empty_dir(BIN_VOLUME),
        secret_volume(USERS_VOLUME, ctx.internal_secret_name(), false),
        secret_volume(TLS_VOLUME, ctx.ssl_secret_name(), false),
        Volume {
            name: CONFIG_VOLUME.to_string(),
            config_map: Some(ConfigMapVolumeSource { name: name.clone(), ..Default::default() }),
            ..Default::default()
        },
    ];
    let init = vec![pod::init_container(ctx, "orc", &common)];
    let spec = pod::pod_spec(ctx, c, &common, init, containers(ctx), volumes);
    let hashes = [(ANNOTATION_CONFIG_HASH, config_hash), (ANNOTATION_TLS_HASH, tls_hash)];
    pod::component_statefulset(ctx, c, &name, o.labels.as_ref(), o.annotations.as_ref(), o.size, &common, &hashes, spec)
}

pub(super) fn services(ctx: &Ctx) -> Vec<Service> {
    let o = &ctx.orc;
    let c = Component::Orchestrator;
    let base = ctx.owner.workload_name(c);
    let match_labels = ctx.owner.match_labels(c);
    let mut out = vec![Service {
        metadata: ctx.owner.meta(&base, ctx.owner.labels(c, None), ctx.owner.annotations(None)),
        spec: Some(pod::headless_spec(ports(), match_labels.clone(), true)),
        ..Default::default()
    }];
    let expose = o.expose.clone().unwrap_or_default();
    let mut labels = match_labels.clone();
    labels.insert(LABEL_EXPOSED.to_string(), "true".to_string());
    for i in 0..o.size.unwrap_or(crate::api::ps::DEFAULT_SIZE).max(0) {
        let pod_name = format!("{base}-{i}");
        let mut sel = match_labels.clone();
        sel.insert("statefulset.kubernetes.io/pod-name".to_string(), pod_name.clone());
        let spec = pod::exposed_spec(&expose, ports(), sel);
        out.push(Service {
            metadata: ctx.owner.meta(
                pod_name,
                merge(&[Some(&ctx.owner.global_labels), expose.labels.as_ref(), Some(&labels)]),
                ctx.owner.annotations(expose.annotations.as_ref()),
            ),
            spec: Some(spec),
            ..Default::default()
        });
    }
    out
}

/// The identity Orchestrator's pods run as: its hook lists pods and patches the primary label onto
/// the new source after a failover, and reads the cluster CR.
pub(super) fn rbac(ctx: &Ctx) -> (ServiceAccount, Role, RoleBinding) {
    let name = ctx
        .orc
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| crate::api::ps::ORCHESTRATOR_SERVICE_ACCOUNT.to_string());
    // One ServiceAccount/Role/RoleBinding per namespace, as Percona names them, shared by every async cluster
    // there: no owner and no instance label, so a second cluster applies the same object (a no-op) instead of
    // fighting the first over it, and deleting one cluster leaves the others' Orchestrator its identity.
    let mut labels = ctx.owner.match_labels(Component::Orchestrator);
    labels.remove(super::meta::LABEL_INSTANCE);
    let meta = || ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(ctx.owner.namespace.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let rule = |group: &str, resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(vec![resource.to_string()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    };
    let account = ServiceAccount { metadata: meta(), ..Default::default() };
    let role = Role {
        metadata: meta(),
        rules: Some(vec![
            rule("", "pods", &["list", "patch"]),
            rule("ps.percona.com", "perconaservermysqls", &["get"]),
        ]),
    };
    let binding = RoleBinding {
        metadata: meta(),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject { kind: "ServiceAccount".to_string(), name: name.clone(), ..Default::default() }]),
    };
    (account, role, binding)
}
