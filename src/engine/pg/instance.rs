//! PostgreSQL instances: one single-replica StatefulSet per instance (`<c>-<set>-<xxxx>`, pod `…-0`), its
//! `pgdata`/`pgwal` claims, and the per-set PodDisruptionBudget.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::meta::{Context, L_DATA, L_INSTANCE, L_INSTANCE_SET, L_PATRONI, L_ROLE, selector};
use super::pod::{
    PGBACKREST_CONF_DIR, config_map_projection, env, env_field, key, mount, pgbackrest_config_reloader,
    pgbackrest_config_volume, pgbackrest_server, pod_security, private_key, projected, restricted, secret_projection,
    tmp_volume,
};
use super::secrets::{cluster_cert_name, replication_cert_name};
use super::{BuildError, PgBuildInputs, PgDesired};
use crate::api::pg::PgInstanceSet;

/// One instance to build: its set (with defaults) and its StatefulSet name.
pub struct PlannedInstance {
    pub set: PgInstanceSet,
    pub set_name: String,
    pub name: String,
}

impl PlannedInstance {
    /// The instance's only pod.
    pub fn pod_name(&self) -> String {
        format!("{}-0", self.name)
    }
}

/// Names every instance from the caller's suffixes (see [`PgBuildInputs::instance_suffixes`]).
pub fn plan(ctx: &Context, inputs: &PgBuildInputs) -> Result<Vec<PlannedInstance>, BuildError> {
    let mut out = Vec::new();
    for set in ctx.spec.instances.iter().flatten() {
        let set_name = set.name.clone().unwrap_or_default();
        let needed = set.replicas.unwrap_or(1).max(0) as usize;
        let suffixes = inputs.instance_suffixes.get(&set_name).map(Vec::as_slice).unwrap_or_default();
        if suffixes.len() < needed {
            return Err(BuildError::MissingSuffixes {
                cluster: ctx.display_name(),
                set: set_name,
                needed,
                given: suffixes.len(),
            });
        }
        for suffix in &suffixes[..needed] {
            if suffix.len() != 4 || !suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                return Err(BuildError::BadSuffix {
                    cluster: ctx.display_name(),
                    set: set_name,
                    suffix: suffix.clone(),
                });
            }
            out.push(PlannedInstance {
                set: set.clone(),
                set_name: set_name.clone(),
                name: format!("{}-{set_name}-{suffix}", ctx.name),
            });
        }
    }
    Ok(out)
}

fn instance_labels(ctx: &Context, p: &PlannedInstance) -> BTreeMap<String, String> {
    ctx.crunchy_labels(&[(L_INSTANCE_SET, &p.set_name), (L_INSTANCE, &p.name)])
}

fn claim(
    ctx: &Context,
    p: &PlannedInstance,
    role: &str,
    spec: &k8s_openapi::api::core::v1::PersistentVolumeClaimSpec,
) -> PersistentVolumeClaim {
    let mut labels = instance_labels(ctx, p);
    labels.insert(L_DATA.into(), "postgres".into());
    labels.insert(L_ROLE.into(), role.into());
    PersistentVolumeClaim {
        metadata: ctx.object_meta(format!("{}-{role}", p.name), labels),
        spec: Some(spec.clone()),
        ..Default::default()
    }
}

/// Adds the instance's claims and StatefulSet to `desired`.
pub fn build_set_member(ctx: &Context, p: &PlannedInstance, desired: &mut PgDesired) -> Result<(), BuildError> {
    let set = &p.set;
    if let Some(data) = &set.data_volume_claim_spec {
        desired.persistent_volume_claims.push(claim(ctx, p, "pgdata", data));
    }
    if let Some(wal) = &set.wal_volume_claim_spec {
        desired.persistent_volume_claims.push(claim(ctx, p, "pgwal", wal));
    }
    let has_wal = set.wal_volume_claim_spec.is_some();

    let mut labels = instance_labels(ctx, p);
    labels.insert(L_DATA.into(), "postgres".into());
    let mut template_labels = labels.clone();
    template_labels.insert(L_PATRONI.into(), ctx.object_name("ha"));
    let mut sts_labels = ctx.labels(labels);
    super::meta::merge_strings(&mut sts_labels, set.metadata.as_ref().and_then(|m| m.get("labels")));

    let (extra_volumes, extra_mounts) = extra_volumes(ctx, set)?;
    let mut containers = vec![database(ctx, p, has_wal, extra_mounts), replication_cert_copy(ctx, set)?];
    if ctx.backups_enabled() {
        let mut mounts = vec![mount("postgres-data", "/pgdata", false)];
        if has_wal {
            mounts.push(mount("postgres-wal", "/pgwal", false));
        }
        containers.push(pgbackrest_server(ctx, mounts));
        containers.push(pgbackrest_config_reloader(ctx));
    }
    containers.extend(set.sidecars.iter().flatten().cloned());
    let mut init_containers = vec![postgres_startup(ctx, has_wal)];
    init_containers.extend(set.init_containers.iter().flatten().cloned());

    let mut meta = ctx.object_meta(p.name.clone(), Default::default());
    meta.labels = Some(sts_labels);
    let sts = StatefulSet {
        metadata: meta,
        spec: Some(StatefulSetSpec {
            // Pause (Crunchy `shutdown`) stops the pod but keeps the StatefulSet and its claims.
            replicas: Some(if ctx.paused() { 0 } else { 1 }),
            service_name: Some(ctx.object_name("pods")),
            selector: selector(instance_labels(ctx, p)),
            // The engine rolls instances itself (replicas first, primary last), so the controller must not.
            update_strategy: Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), ..Default::default() }),
            pod_management_policy: Some("OrderedReady".into()),
            revision_history_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ctx.template_meta(template_labels, set.metadata.as_ref())),
                spec: Some(PodSpec {
                    affinity: set.affinity.clone(),
                    tolerations: set.tolerations.clone(),
                    topology_spread_constraints: set.topology_spread_constraints.clone(),
                    priority_class_name: set.priority_class_name.clone(),
                    image_pull_secrets: ctx.spec.image_pull_secrets.clone(),
                    security_context: Some(pod_security(set.security_context.as_ref())),
                    // Patroni keeps its leader lock and member records through the API (see `rbac`).
                    service_account_name: Some(ctx.object_name("instance")),
                    enable_service_links: Some(false),
                    // The reload sidecar signals the pgBackRest server in another container.
                    share_process_namespace: Some(true),
                    init_containers: Some(init_containers),
                    containers,
                    volumes: Some(volumes(ctx, p, has_wal, extra_volumes)),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    desired.stateful_sets.push(sts);
    Ok(())
}

/// `spec.instances[].extraVolumes` (`{name, mountPath, readOnly, volumeSource}`) as pod volumes and mounts of
/// the database container.
fn extra_volumes(ctx: &Context, set: &PgInstanceSet) -> Result<(Vec<Volume>, Vec<VolumeMount>), BuildError> {
    let render = |message: String| BuildError::Render { cluster: ctx.display_name(), what: "extraVolumes", message };
    let mut volumes = Vec::new();
    let mut mounts = set.volume_mounts.clone().unwrap_or_default();
    for extra in set.extra_volumes.iter().flatten() {
        let name = extra.get("name").and_then(Value::as_str).ok_or_else(|| render("an entry has no name".into()))?;
        let mut volume = extra.get("volumeSource").cloned().unwrap_or_else(|| serde_json::json!({}));
        if let Some(obj) = volume.as_object_mut() {
            obj.insert("name".into(), Value::String(name.into()));
        }
        volumes.push(serde_json::from_value::<Volume>(volume).map_err(|e| render(format!("{name}: {e}")))?);
        if let Some(path) = extra.get("mountPath").and_then(Value::as_str)
            && !mounts.iter().any(|m| m.name == name)
        {
            let ro = extra.get("readOnly").and_then(Value::as_bool).unwrap_or(false);
            mounts.push(mount(name, path, ro));
        }
    }
    Ok((volumes, mounts))
}

/// Probe timings follow Patroni's loop (Crunchy's rule): period = syncPeriod, timeout = half of it, and as many
/// failures as fit in the leader lease.
fn patroni_probe(ctx: &Context, path: &str) -> Probe {
    let patroni = ctx.spec.patroni.clone().unwrap_or_default();
    let sync = patroni.sync_period_seconds.unwrap_or(10).max(1);
    let lease = patroni.leader_lease_duration_seconds.unwrap_or(30);
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(ctx.patroni_port()),
            scheme: Some("HTTPS".into()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(3),
        period_seconds: Some(sync),
        timeout_seconds: Some((sync / 2).max(1)),
        success_threshold: Some(1),
        failure_threshold: Some((lease / sync).max(1)),
        ..Default::default()
    }
}

fn database(ctx: &Context, p: &PlannedInstance, has_wal: bool, extra_mounts: Vec<VolumeMount>) -> Container {
    let port = ctx.port();
    let patroni_port = ctx.patroni_port();
    let pods = ctx.object_name("pods");
    let pgdata = ctx.pgdata_dir();
    let mut env_vars = vec![
        env("PGDATA", pgdata.clone()),
        env("PGHOST", "/tmp/postgres"),
        env("PGPORT", port.to_string()),
        env_field("PATRONI_NAME", "metadata.name"),
        env_field("PATRONI_KUBERNETES_POD_IP", "status.podIP"),
        env("PATRONI_KUBERNETES_PORTS", format!("- name: postgres\n  port: {port}\n  protocol: TCP\n")),
        env("PATRONI_POSTGRESQL_CONNECT_ADDRESS", format!("$(PATRONI_NAME).{pods}:{port}")),
        env("PATRONI_POSTGRESQL_LISTEN", format!("*:{port}")),
        env("PATRONI_POSTGRESQL_CONFIG_DIR", pgdata.clone()),
        env("PATRONI_POSTGRESQL_DATA_DIR", pgdata),
        env("PATRONI_RESTAPI_CONNECT_ADDRESS", format!("$(PATRONI_NAME).{pods}:{patroni_port}")),
        env("PATRONI_RESTAPI_LISTEN", format!("*:{patroni_port}")),
        env("PATRONICTL_CONFIG_FILE", "/etc/patroni"),
    ];
    env_vars.extend(p.set.env.iter().flatten().cloned());
    let mut mounts = vec![mount("cert-volume", "/pgconf/tls", true), mount("postgres-data", "/pgdata", false)];
    if has_wal {
        mounts.push(mount("postgres-wal", "/pgwal", false));
    }
    mounts.push(mount("dshm", "/dev/shm", false));
    mounts.push(mount("patroni-config", "/etc/patroni", true));
    if ctx.backups_enabled() {
        mounts.push(mount("pgbackrest-config", PGBACKREST_CONF_DIR, true));
    }
    mounts.push(mount("tmp", "/tmp", false));
    mounts.extend(extra_mounts);
    Container {
        name: "database".into(),
        image: Some(ctx.postgres_image()),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["patroni".into(), "/etc/patroni".into()]),
        env: Some(env_vars),
        env_from: p.set.env_from.clone(),
        ports: Some(vec![
            ContainerPort {
                name: Some("postgres".into()),
                container_port: port,
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            ContainerPort {
                name: Some("patroni".into()),
                container_port: patroni_port,
                protocol: Some("TCP".into()),
                ..Default::default()
            },
        ]),
        liveness_probe: Some(patroni_probe(ctx, "/liveness")),
        readiness_probe: Some(patroni_probe(ctx, "/readiness")),
        resources: p.set.resources.clone(),
        security_context: Some(restricted()),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// Patroni connects for replication with the client certificate, and libpq refuses a key others can read;
/// projected files are group-readable under fsGroup, so a sidecar keeps a 0600 copy in /tmp up to date.
fn replication_cert_copy(ctx: &Context, set: &PgInstanceSet) -> Result<Container, BuildError> {
    let script = r#"src=/pgconf/tls/replication
dst=/tmp/replication
copy() { install -D --mode=0600 -t "$dst" "$src/ca.crt" "$src/tls.crt" "$src/tls.key"; }
stamp() { stat -L -c %Y "$src/tls.crt" "$src/tls.key" "$src/ca.crt" 2>/dev/null | tr '\n' ' '; }
copy
last="$(stamp)"
while sleep 5; do
  now="$(stamp)"
  if [ "$now" != "$last" ]; then copy; last="$now"; fi
done"#;
    // `containers.replicaCertCopy.resources` of the set (free-form in the model, so checked here).
    let resources = match set.containers.as_ref().and_then(|c| c.get("replicaCertCopy")?.get("resources").cloned()) {
        Some(r) => Some(serde_json::from_value(r).map_err(|e| BuildError::Render {
            cluster: ctx.display_name(),
            what: "instances[].containers.replicaCertCopy.resources",
            message: e.to_string(),
        })?),
        None => None,
    };
    Ok(Container {
        name: "replication-cert-copy".into(),
        image: Some(ctx.postgres_image()),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["bash".into(), "-ceu".into(), "--".into(), script.into()]),
        resources,
        security_context: Some(restricted()),
        volume_mounts: Some(vec![mount("cert-volume", "/pgconf/tls", true), mount("tmp", "/tmp", false)]),
        ..Default::default()
    })
}

/// Prepares the data (and WAL) directories with the modes PostgreSQL insists on before Patroni starts.
fn postgres_startup(ctx: &Context, has_wal: bool) -> Container {
    let mut script = String::from(
        "# PostgreSQL refuses a data directory others can read.\ninstall --directory --mode=0700 \"${PGDATA}\"\nmkdir -p /tmp/postgres\n",
    );
    let mut env_vars =
        vec![env("PGDATA", ctx.pgdata_dir()), env("PGHOST", "/tmp/postgres"), env("PGPORT", ctx.port().to_string())];
    let mut mounts = vec![mount("postgres-data", "/pgdata", false)];
    if has_wal {
        script.push_str("install --directory --mode=0700 \"${PGWAL}\"\n");
        env_vars.push(env("PGWAL", ctx.wal_dir()));
        mounts.push(mount("postgres-wal", "/pgwal", false));
    }
    mounts.push(mount("tmp", "/tmp", false));
    Container {
        name: "postgres-startup".into(),
        image: Some(ctx.postgres_image()),
        image_pull_policy: ctx.image_pull_policy(),
        command: Some(vec!["bash".into(), "-ceu".into(), "--".into(), script]),
        env: Some(env_vars),
        security_context: Some(restricted()),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

fn volumes(ctx: &Context, p: &PlannedInstance, has_wal: bool, extra: Vec<Volume>) -> Vec<Volume> {
    let custom = ctx.spec.secrets.clone().unwrap_or_default();
    // Custom Secrets keep the user's item mapping when given; otherwise Crunchy's key names apply.
    let server = match custom.custom_tls_secret.filter(|s| s.items.is_some()) {
        Some(user) => k8s_openapi::api::core::v1::VolumeProjection { secret: Some(user), ..Default::default() },
        None => secret_projection(
            cluster_cert_name(ctx),
            vec![key("ca.crt", "ca.crt"), key("tls.crt", "tls.crt"), private_key("tls.key", "tls.key")],
        ),
    };
    let replication = secret_projection(
        replication_cert_name(ctx),
        vec![
            key("ca.crt", "replication/ca.crt"),
            key("tls.crt", "replication/tls.crt"),
            private_key("tls.key", "replication/tls.key"),
        ],
    );
    let claim = |name: &str, claim: String| Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim, ..Default::default() }),
        ..Default::default()
    };
    let mut v =
        vec![projected("cert-volume", vec![server, replication]), claim("postgres-data", format!("{}-pgdata", p.name))];
    if has_wal {
        v.push(claim("postgres-wal", format!("{}-pgwal", p.name)));
    }
    v.push(Volume {
        name: "dshm".into(),
        empty_dir: Some(EmptyDirVolumeSource { medium: Some("Memory".into()), ..Default::default() }),
        ..Default::default()
    });
    v.push(projected(
        "patroni-config",
        vec![
            config_map_projection(
                ctx.object_name("config"),
                vec![key("patroni.yaml", "~postgres-operator_cluster.yaml")],
            ),
            config_map_projection(
                format!("{}-config", p.name),
                vec![key("patroni.yaml", "~postgres-operator_instance.yaml")],
            ),
        ],
    ));
    if ctx.backups_enabled() {
        v.push(pgbackrest_config_volume(ctx, &["pgbackrest_instance.conf", "pgbackrest_server.conf"]));
    }
    v.push(tmp_volume());
    v.extend(extra);
    v
}

/// `<c>-set-<set>`: keeps `minAvailable` pods of a set up during voluntary disruptions. Crunchy's default is 1
/// when the set has more than one replica; a set of one gets no budget (it would block node drains forever).
pub fn set_pdb(ctx: &Context, set: &PgInstanceSet) -> Option<PodDisruptionBudget> {
    let set_name = set.name.clone().unwrap_or_default();
    let replicas = set.replicas.unwrap_or(1);
    let min_available = match &set.min_available {
        Some(m) => m.clone(),
        None if replicas > 1 => IntOrString::Int(1),
        None => return None,
    };
    if matches!(&min_available, IntOrString::Int(0)) || matches!(&min_available, IntOrString::String(s) if s == "0%") {
        return None;
    }
    let labels = ctx.crunchy_labels(&[(L_INSTANCE_SET, &set_name)]);
    Some(PodDisruptionBudget {
        metadata: ctx.object_meta(ctx.object_name(&format!("set-{set_name}")), labels.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(min_available),
            selector: Some(selector(labels)),
            ..Default::default()
        }),
        ..Default::default()
    })
}
