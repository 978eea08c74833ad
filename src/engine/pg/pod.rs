//! Pod pieces several workloads share: the restricted container security context, env helpers, the pgBackRest
//! server and config-reload sidecars, and projected volumes.

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapProjection, Container, EnvVar, EnvVarSource, ExecAction, KeyToPath, ObjectFieldSelector,
    PodSecurityContext, Probe, ProjectedVolumeSource, SeccompProfile, SecretProjection, SecurityContext, Volume,
    VolumeMount, VolumeProjection,
};

use super::meta::{Context, POSTGRES_UID};

/// Where the pgBackRest configuration is mounted, and where its TLS files land inside it.
pub const PGBACKREST_CONF_DIR: &str = "/etc/pgbackrest/conf.d";
pub const PGBACKREST_TLS_DIR: &str = "/etc/pgbackrest/conf.d/~postgres-operator";

/// Every built container drops all capabilities and runs read-only as non-root, as Crunchy's do.
pub fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// The pod security context: the user's, or fsGroup 26 so `postgres` can write its volumes.
pub fn pod_security(user: Option<&PodSecurityContext>) -> PodSecurityContext {
    user.cloned().unwrap_or(PodSecurityContext {
        fs_group: Some(POSTGRES_UID),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        ..Default::default()
    })
}

pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() }
}

pub fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

pub fn key(key: &str, path: &str) -> KeyToPath {
    KeyToPath { key: key.into(), path: path.into(), ..Default::default() }
}

/// A private key file: readable by its owner only (libpq and pgBackRest refuse group-readable keys).
pub fn private_key(key: &str, path: &str) -> KeyToPath {
    KeyToPath { key: key.into(), path: path.into(), mode: Some(0o600) }
}

pub fn config_map_projection(name: String, items: Vec<KeyToPath>) -> VolumeProjection {
    VolumeProjection {
        config_map: Some(ConfigMapProjection { name, items: Some(items), ..Default::default() }),
        ..Default::default()
    }
}

pub fn secret_projection(name: String, items: Vec<KeyToPath>) -> VolumeProjection {
    VolumeProjection {
        secret: Some(SecretProjection { name, items: Some(items), ..Default::default() }),
        ..Default::default()
    }
}

pub fn projected(name: &str, sources: Vec<VolumeProjection>) -> Volume {
    Volume {
        name: name.into(),
        projected: Some(ProjectedVolumeSource { sources: Some(sources), ..Default::default() }),
        ..Default::default()
    }
}

/// The projected `pgbackrest-config` volume: one config file per role plus the TLS files, plus whatever the user
/// projects in `backups.pgbackrest.configuration` (cloud credentials).
pub fn pgbackrest_config_volume(ctx: &Context, files: &[&str]) -> Volume {
    let mut items: Vec<KeyToPath> = files.iter().map(|f| key(f, f)).collect();
    items.push(key("config-hash", "config-hash"));
    let mut sources = vec![
        config_map_projection(ctx.object_name("pgbackrest-config"), items),
        secret_projection(
            ctx.object_name("pgbackrest"),
            vec![
                key("pgbackrest.ca-roots", "~postgres-operator/tls-ca.crt"),
                key("pgbackrest-client.crt", "~postgres-operator/client-tls.crt"),
                private_key("pgbackrest-client.key", "~postgres-operator/client-tls.key"),
                key("pgbackrest-server.crt", "~postgres-operator/server-tls.crt"),
                private_key("pgbackrest-server.key", "~postgres-operator/server-tls.key"),
            ],
        ),
    ];
    if let Some(user) =
        ctx.spec.backups.as_ref().and_then(|b| b.pgbackrest.as_ref()).and_then(|p| p.configuration.as_ref())
    {
        sources.extend(user.iter().cloned());
    }
    projected("pgbackrest-config", sources)
}

/// The pgBackRest TLS server (`pgbackrest server`), through which the repo host reaches PostgreSQL's data
/// directory and instances reach the repo.
pub fn pgbackrest_server(ctx: &Context, mut mounts: Vec<VolumeMount>) -> Container {
    mounts.push(mount("pgbackrest-config", PGBACKREST_CONF_DIR, true));
    mounts.push(mount("tmp", "/tmp", false));
    Container {
        name: "pgbackrest".into(),
        image: Some(ctx.pgbackrest_image()),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["pgbackrest".into(), "server".into()]),
        liveness_probe: Some(Probe {
            exec: Some(ExecAction { command: Some(vec!["pgbackrest".into(), "server-ping".into()]) }),
            ..Default::default()
        }),
        security_context: Some(restricted()),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// Reloads the pgBackRest server when its projected configuration changes (Kubernetes updates projected
/// files in place, but the server reads them only at start or on SIGHUP). Needs a shared process namespace.
pub fn pgbackrest_config_reloader(ctx: &Context) -> Container {
    let script = r#"# Send SIGHUP to the pgBackRest server whenever the mounted configuration changes.
hash_file="/etc/pgbackrest/conf.d/config-hash"
last="$(cat "$hash_file" 2>/dev/null || true)"
while sleep 5; do
  now="$(cat "$hash_file" 2>/dev/null || true)"
  if [ "$now" != "$last" ]; then
    pkill -HUP --exact pgbackrest || true
    last="$now"
  fi
done"#;
    Container {
        name: "pgbackrest-config".into(),
        image: Some(ctx.pgbackrest_image()),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["bash".into(), "-ceu".into(), "--".into(), script.into()]),
        security_context: Some(restricted()),
        volume_mounts: Some(vec![mount("pgbackrest-config", PGBACKREST_CONF_DIR, true)]),
        ..Default::default()
    }
}

/// A small memory-backed scratch volume.
pub fn tmp_volume() -> Volume {
    Volume {
        name: "tmp".into(),
        empty_dir: Some(k8s_openapi::api::core::v1::EmptyDirVolumeSource {
            size_limit: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("16Mi".into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}
