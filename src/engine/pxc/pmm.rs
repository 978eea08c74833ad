//! The PMM 3 client sidecar (`pmm-client`) Percona adds to every component's pods when
//! `spec.pmm.enabled`, following their `PMM3Client` and the per-component additions.

use serde_json::{Value, json};

use super::meta::json;
use super::{BuildError, Ctx};

/// What the pods' PMM sidecar needs from outside the CR.
pub struct PmmInputs {
    /// The users Secret holds a non-empty `pmmservertoken` (PMM 3); PMM 2 keys are not supported.
    pub token: bool,
}

/// The component a PMM sidecar watches, with what differs between them.
pub enum Watched {
    Pxc,
    Haproxy,
    Proxysql,
}

fn env(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn secret_env(name: &str, key: &str, secret: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "key": key, "name": secret } } })
}

fn field_env(name: &str, path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": path } } })
}

/// A probe as written, or Percona's HTTP check of the agent's status page when none is.
fn probe(
    object: &str,
    written: Option<&k8s_openapi::api::core::v1::Probe>,
    default: bool,
) -> Result<Value, BuildError> {
    let status = json!({ "port": 7777, "path": "/local/Status" });
    match written {
        Some(p) => {
            let mut v = json(object, p)?;
            let has_handler = ["exec", "httpGet", "tcpSocket", "grpc"].iter().any(|k| v.get(*k).is_some());
            if !has_handler && let Value::Object(m) = &mut v {
                m.insert("httpGet".into(), status);
            }
            Ok(v)
        }
        None if default => Ok(json!({
            "initialDelaySeconds": 60, "timeoutSeconds": 5, "periodSeconds": 10, "httpGet": status,
        })),
        None => Ok(Value::Null),
    }
}

/// The sidecar for one component, or `None` when PMM is off.
pub fn container(
    ctx: &Ctx,
    object: &str,
    watched: Watched,
    env_secret: &str,
    env_secret_has_prefix: bool,
    inputs: &PmmInputs,
) -> Result<Option<Value>, BuildError> {
    let Some(pmm) = ctx.spec.pmm.as_ref().filter(|p| p.enabled == Some(true)) else { return Ok(None) };
    if !inputs.token {
        let secret = ctx.spec.secrets_name.clone().unwrap_or_else(|| ctx.owner.name("secrets"));
        return Err(ctx.err(
            "spec.pmm.enabled",
            format!(
                "needs a non-empty pmmservertoken key in Secret {secret} (PMM 3); PMM 2 server keys are not supported"
            ),
        ));
    }
    let raw = ctx.raw.pmm.clone().unwrap_or_default();
    let internal = format!("internal-{}", ctx.owner.cluster);
    let cluster_name = pmm.custom_cluster_name.clone().unwrap_or_else(|| ctx.owner.cluster.clone());
    let node_name = if env_secret_has_prefix {
        "$(PMM_PREFIX)$(POD_NAMESPACE)-$(POD_NAME)"
    } else {
        "$(POD_NAMESPACE)-$(POD_NAME)"
    };
    let mut envs = vec![
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        env("PMM_AGENT_SERVER_ADDRESS", pmm.server_host.clone().unwrap_or_default()),
        env("PMM_AGENT_SERVER_USERNAME", "service_token"),
        secret_env("PMM_AGENT_SERVER_PASSWORD", "pmmservertoken", &internal),
        env("PMM_AGENT_LISTEN_PORT", "7777"),
        env("PMM_AGENT_PORTS_MIN", "30100"),
        env("PMM_AGENT_PORTS_MAX", "30105"),
        env("PMM_AGENT_CONFIG_FILE", "/usr/local/percona/pmm/config/pmm-agent.yaml"),
        env("PMM_AGENT_SERVER_INSECURE_TLS", "1"),
        env("PMM_AGENT_LISTEN_ADDRESS", "0.0.0.0"),
        env("PMM_AGENT_SETUP_METRICS_MODE", "push"),
        env("PMM_AGENT_SETUP", "1"),
        env("PMM_AGENT_SETUP_FORCE", "1"),
        env("PMM_AGENT_SETUP_NODE_TYPE", "container"),
        env("PMM_AGENT_SIDECAR", "true"),
        env("PMM_AGENT_SIDECAR_SLEEP", "5"),
        env("PMM_AGENT_PATHS_TEMPDIR", "/tmp/pmm"),
        env("PMM_AGENT_PRERUN_SCRIPT", "/var/lib/mysql/pmm-prerun.sh"),
        env("DB_CLUSTER", "pxc"),
        env("DB_USER", "monitor"),
        secret_env("DB_PASSWORD", "monitor", &internal),
        env("DB_HOST", "localhost"),
        env("CLUSTER_NAME", cluster_name),
        env("PMM_AGENT_SETUP_NODE_NAME", node_name),
    ];
    let (mount, env_from) = match watched {
        Watched::Pxc => {
            envs.extend([
                env("DB_PORT", "33062"),
                env("DB_TYPE", "mysql"),
                env("DB_ARGS", "--query-source=perfschema"),
                env("PMM_ADMIN_CUSTOM_PARAMS", pmm.pxc_params.clone().unwrap_or_default()),
            ]);
            ("datadir", true)
        }
        Watched::Haproxy => {
            envs.extend([
                env("DB_TYPE", "haproxy"),
                env("MONITOR_USER", "monitor"),
                secret_env("MONITOR_PASSWORD", "monitor", &internal),
                env("PMM_ADMIN_CUSTOM_PARAMS", "--listen-port=8404"),
                env("DB_PORT", "3306"),
            ]);
            ("bin", true)
        }
        Watched::Proxysql => {
            // Percona's DSN names MONITOR_USER/MONITOR_PASSWORD, which this container does not
            // define; kept as they write it so the pods match.
            envs.extend([
                env("DB_TYPE", "proxysql"),
                env("PMM_ADMIN_CUSTOM_PARAMS", pmm.proxysql_params.clone().unwrap_or_default()),
                env("DB_ARGS", "--dsn $(MONITOR_USER):$(MONITOR_PASSWORD)@tcp(localhost:6032)/"),
                env("DB_PORT", "6032"),
            ]);
            ("bin", false)
        }
    };
    let mut ports = vec![json!({ "containerPort": 7777, "protocol": "TCP" })];
    ports.extend((30100..=30105).map(|p| json!({ "containerPort": p, "protocol": "TCP" })));
    let c = json!({
        "name": "pmm-client",
        "image": pmm.image,
        "imagePullPolicy": pmm.image_pull_policy,
        "env": envs,
        "envFrom": if env_from { json!([{ "secretRef": { "name": env_secret, "optional": true } }]) } else { Value::Null },
        "securityContext": pmm.container_security_context,
        "ports": ports,
        "lifecycle": { "preStop": { "exec": { "command": ["bash", "-c", "pmm-admin unregister --force"] } } },
        "livenessProbe": probe(object, pmm.liveness_probes.as_ref(), true)?,
        "readinessProbe": probe(object, pmm.readiness_probes.as_ref(), false)?,
        "volumeMounts": [{ "mountPath": "/var/lib/mysql", "name": mount }],
        "resources": match raw.resources.as_ref() { Some(r) => json(object, r)?, None => json!({}) },
    });
    Ok(Some(c))
}
