//! pgBouncer: Deployment, Service, ConfigMap and Secret `<c>-pgbouncer`, and its PodDisruptionBudget.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, ContainerPort, PodSpec, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::meta::{Context, L_APP_COMPONENT, L_ROLE, selector};
use super::pod::{config_map_projection, key, mount, private_key, projected, restricted, secret_projection};
use super::secrets::{bytes, cluster_cert_name};
use super::services::{exposed, port};
use super::{BuildError, PgBuildInputs};
use crate::api::pg::{DEFAULT_PORT, PgBouncer};

/// The role pgBouncer logs in as to look up other users' verifiers (`auth_query`).
pub const AUTH_USER: &str = "_crunchypgbouncer";
const CONF_DIR: &str = "/etc/pgbouncer";

fn bouncer_port(b: &PgBouncer) -> i32 {
    b.port.unwrap_or(DEFAULT_PORT)
}

/// Crunchy selects pgBouncer pods by role; Percona adds `component: pgbouncer` to the objects.
fn selector_labels(ctx: &Context) -> BTreeMap<String, String> {
    ctx.crunchy_labels(&[(L_ROLE, "pgbouncer")])
}

fn labels(ctx: &Context) -> BTreeMap<String, String> {
    let mut l = selector_labels(ctx);
    l.insert(L_APP_COMPONENT.into(), "pgbouncer".into());
    l
}

pub fn deployment(ctx: &Context, b: &PgBouncer) -> Deployment {
    let server_ca = secret_projection(cluster_cert_name(ctx), vec![key("ca.crt", "~postgres-operator/backend-ca.crt")]);
    let users = key("pgbouncer-users.txt", "~postgres-operator/users.txt");
    let custom_frontend = b.custom_tls_secret.as_ref().map(|s| s.name.clone()).filter(|n| !n.is_empty());
    // The client-facing certificate is the user's `customTLSSecret` when given, else the generated one.
    let (own, frontend) = match custom_frontend {
        Some(name) => (
            secret_projection(ctx.object_name("pgbouncer"), vec![users]),
            Some(secret_projection(
                name,
                vec![
                    key("ca.crt", "~postgres-operator/frontend-ca.crt"),
                    key("tls.crt", "~postgres-operator/frontend-tls.crt"),
                    private_key("tls.key", "~postgres-operator/frontend-tls.key"),
                ],
            )),
        ),
        None => (
            secret_projection(
                ctx.object_name("pgbouncer"),
                vec![
                    users,
                    key("pgbouncer-frontend.ca-roots", "~postgres-operator/frontend-ca.crt"),
                    key("pgbouncer-frontend.crt", "~postgres-operator/frontend-tls.crt"),
                    private_key("pgbouncer-frontend.key", "~postgres-operator/frontend-tls.key"),
                ],
            ),
            None,
        ),
    };
    let config = config_map_projection(
        ctx.object_name("pgbouncer"),
        vec![key("pgbouncer-empty", "pgbouncer.ini"), key("pgbouncer.ini", "~postgres-operator.ini")],
    );
    let main = Container {
        name: "pgbouncer".into(),
        image: Some(ctx.pgbouncer_image(b)),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["pgbouncer".into(), format!("{CONF_DIR}/~postgres-operator.ini")]),
        ports: Some(vec![ContainerPort {
            name: Some("pgbouncer".into()),
            container_port: bouncer_port(b),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: b.env.clone(),
        env_from: b.env_from.clone(),
        resources: b.resources.clone(),
        security_context: Some(restricted()),
        volume_mounts: Some(vec![mount("pgbouncer-config", CONF_DIR, true)]),
        ..Default::default()
    };
    // pgBouncer rereads its files on SIGHUP; projected files change in place when the ConfigMap or Secret do.
    let script = r#"dir=/etc/pgbouncer
stamp() { find "$dir/" -type f -exec stat -L -c %Y {} + 2>/dev/null | sort | tr '\n' ' '; }
last="$(stamp)"
while sleep 5; do
  now="$(stamp)"
  if [ "$now" != "$last" ]; then pkill -HUP --exact pgbouncer || true; last="$now"; fi
done"#;
    let reloader = Container {
        name: "pgbouncer-config".into(),
        image: Some(ctx.pgbouncer_image(b)),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["bash".into(), "-ceu".into(), "--".into(), script.into()]),
        security_context: Some(restricted()),
        volume_mounts: Some(vec![mount("pgbouncer-config", CONF_DIR, true)]),
        ..Default::default()
    };
    let mut containers = vec![main, reloader];
    containers.extend(b.sidecars.iter().flatten().cloned());
    Deployment {
        metadata: ctx.object_meta(ctx.object_name("pgbouncer"), labels(ctx)),
        spec: Some(DeploymentSpec {
            replicas: Some(if ctx.paused() { 0 } else { b.replicas.unwrap_or(1) }),
            selector: selector(selector_labels(ctx)),
            template: PodTemplateSpec {
                metadata: Some(ctx.template_meta(labels(ctx), b.metadata.as_ref())),
                spec: Some(PodSpec {
                    affinity: b.affinity.clone(),
                    tolerations: b.tolerations.clone(),
                    topology_spread_constraints: b.topology_spread_constraints.clone(),
                    priority_class_name: b.priority_class_name.clone(),
                    image_pull_secrets: ctx.spec.image_pull_secrets.clone(),
                    security_context: b.security_context.clone(),
                    enable_service_links: Some(false),
                    share_process_namespace: Some(true),
                    containers,
                    volumes: Some(vec![projected(
                        "pgbouncer-config",
                        [Some(config), Some(own), frontend, Some(server_ca)].into_iter().flatten().collect(),
                    )]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn service(ctx: &Context, b: &PgBouncer) -> Service {
    exposed(
        ctx,
        ctx.object_name("pgbouncer"),
        labels(ctx),
        b.expose.as_ref(),
        vec![port("pgbouncer", bouncer_port(b))],
        Some(selector_labels(ctx)),
    )
}

/// Writes one ini section, values as given; `config.<section>` entries of the spec extend or override it.
fn section(out: &mut String, name: &str, mut defaults: BTreeMap<String, String>, user: Option<&Value>) {
    if let Some(obj) = user.and_then(Value::as_object) {
        for (k, v) in obj {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            defaults.insert(k.clone(), v);
        }
    }
    let _ = writeln!(out, "[{name}]");
    for (k, v) in defaults {
        let _ = writeln!(out, "{k} = {v}");
    }
    out.push('\n');
}

pub fn ini(ctx: &Context, b: &PgBouncer) -> String {
    let tls = |f: &str| format!("{CONF_DIR}/~postgres-operator/{f}");
    let global = BTreeMap::from([
        ("auth_file".to_string(), tls("users.txt")),
        ("auth_query".to_string(), "SELECT username, password from pgbouncer.get_auth($1)".to_string()),
        ("auth_user".to_string(), AUTH_USER.to_string()),
        ("client_tls_ca_file".to_string(), tls("frontend-ca.crt")),
        ("client_tls_cert_file".to_string(), tls("frontend-tls.crt")),
        ("client_tls_key_file".to_string(), tls("frontend-tls.key")),
        ("client_tls_sslmode".to_string(), "require".to_string()),
        ("conffile".to_string(), format!("{CONF_DIR}/~postgres-operator.ini")),
        ("ignore_startup_parameters".to_string(), "extra_float_digits".to_string()),
        ("listen_addr".to_string(), "*".to_string()),
        ("listen_port".to_string(), bouncer_port(b).to_string()),
        ("server_tls_ca_file".to_string(), tls("backend-ca.crt")),
        ("server_tls_sslmode".to_string(), "verify-full".to_string()),
        ("unix_socket_dir".to_string(), String::new()),
    ]);
    // Every database goes to the primary; users may add or redirect databases in `config.databases`.
    let databases =
        BTreeMap::from([("*".to_string(), format!("host={} port={}", ctx.object_name("primary"), ctx.port()))]);
    let config = b.config.as_ref();
    let mut out = String::from("# Generated by dbdeck from the PerconaPGCluster; edits are overwritten.\n\n");
    section(&mut out, "pgbouncer", global, config.and_then(|c| c.get("global")));
    section(&mut out, "databases", databases, config.and_then(|c| c.get("databases")));
    section(&mut out, "users", BTreeMap::new(), config.and_then(|c| c.get("users")));
    out
}

pub fn config_map(ctx: &Context, b: &PgBouncer) -> ConfigMap {
    ConfigMap {
        metadata: ctx.object_meta(ctx.object_name("pgbouncer"), labels(ctx)),
        data: Some(BTreeMap::from([
            ("pgbouncer-empty".to_string(), String::new()),
            ("pgbouncer.ini".to_string(), ini(ctx, b)),
        ])),
        ..Default::default()
    }
}

/// `<c>-pgbouncer`: the auth user's credentials and the frontend certificate, only when absent.
pub fn secret(ctx: &Context, inputs: &PgBuildInputs) -> Result<Option<Secret>, BuildError> {
    let name = ctx.object_name("pgbouncer");
    if inputs.existing_secrets.contains(&name) {
        return Ok(None);
    }
    let missing = || BuildError::MissingGenerated { cluster: ctx.display_name(), secret: name.clone() };
    let auth = inputs.pgbouncer_auth.as_ref().ok_or_else(missing)?;
    let certs = inputs.certificates.as_ref().ok_or_else(missing)?;
    let users_txt = format!("\"{AUTH_USER}\" \"{}\"\n", auth.verifier);
    let data = bytes(vec![
        ("pgbouncer-password", &auth.password),
        ("pgbouncer-verifier", &auth.verifier),
        ("pgbouncer-users.txt", &users_txt),
        ("pgbouncer-frontend.ca-roots", &certs.ca.cert_pem),
        ("pgbouncer-frontend.crt", &certs.cluster.cert_pem),
        ("pgbouncer-frontend.key", &certs.cluster.key_pem),
    ]);
    Ok(Some(Secret {
        metadata: ctx.object_meta(name, labels(ctx)),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }))
}

/// `<c>-pgbouncer` budget: `minAvailable` (default 1) when more than one pgBouncer runs.
pub fn pdb(ctx: &Context, b: &PgBouncer) -> Option<PodDisruptionBudget> {
    let min_available = match &b.min_available {
        Some(m) => m.clone(),
        None if b.replicas.unwrap_or(1) > 1 => IntOrString::Int(1),
        None => return None,
    };
    if matches!(&min_available, IntOrString::Int(0)) {
        return None;
    }
    Some(PodDisruptionBudget {
        metadata: ctx.object_meta(ctx.object_name("pgbouncer"), labels(ctx)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(min_available),
            selector: Some(selector(selector_labels(ctx))),
            ..Default::default()
        }),
        ..Default::default()
    })
}
