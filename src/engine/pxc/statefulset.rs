//! The StatefulSets `<c>-pxc`, `<c>-haproxy` and `<c>-proxysql`, container for container as Percona's
//! operator writes them (compare `e2e-tests/default-cr/compare/statefulset_*` in its repository).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Probe, ResourceRequirements};
use serde_json::{Value, json};

use super::meta::{json, prune_nulls, typed};
use super::pmm::Watched;
use super::{BuildError, Ctx};
use crate::api::pxc::defaults::{
    HAPROXY_CHECK_FALL, HAPROXY_CHECK_INTERVAL_MS, HAPROXY_CHECK_RISE, ON_DELETE, SMART_UPDATE,
};
use crate::api::pxc::{PodAffinity, VolumeSpec};

/// Pod-template annotations whose change rolls the pods.
pub const CONFIG_HASH: &str = "percona.com/configuration-hash";
pub const SSL_HASH: &str = "percona.com/ssl-hash";
pub const SSL_INTERNAL_HASH: &str = "percona.com/ssl-internal-hash";
pub const ENV_HASH: &str = "percona.com/env-secret-config-hash";

pub struct PodHashes {
    pub pxc_config: String,
    pub haproxy_config: Option<String>,
    pub proxysql_config: Option<String>,
    pub ssl: Option<String>,
    pub ssl_internal: Option<String>,
    /// Hash of each existing env-vars Secret, by Secret name.
    pub env_vars: BTreeMap<String, String>,
    /// Env-vars Secrets that set `PMM_PREFIX` (it prefixes the PMM node name).
    pub env_prefix: std::collections::BTreeSet<String>,
    pub pmm: super::pmm::PmmInputs,
}

/// Appends the PMM sidecar after Percona's own containers when monitoring is on.
fn add_pmm(
    ctx: &Ctx,
    object: &str,
    pod: &mut Value,
    watched: Watched,
    env_secret: &str,
    hashes: &PodHashes,
) -> Result<(), BuildError> {
    let prefix = hashes.env_prefix.contains(env_secret);
    if let Some(c) = super::pmm::container(ctx, object, watched, env_secret, prefix, &hashes.pmm)?
        && let Some(cs) = pod["containers"].as_array_mut()
    {
        cs.push(c);
    }
    Ok(())
}

pub fn build(ctx: &Ctx, hashes: &PodHashes) -> Result<Vec<StatefulSet>, BuildError> {
    let mut out = vec![pxc(ctx, hashes)?];
    if ctx.haproxy_on() {
        out.push(haproxy(ctx, hashes)?);
    }
    if ctx.proxysql_on() {
        out.push(proxysql(ctx, hashes)?);
    }
    Ok(out)
}

fn secret_env(name: &str, key: &str, secret: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "key": key, "name": secret } } })
}

fn env(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn field_env(name: &str, path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": path } } })
}

fn mount(name: &str, path: &str) -> Value {
    json!({ "mountPath": path, "name": name })
}

fn port(name: &str, n: i32) -> Value {
    json!({ "containerPort": n, "name": name, "protocol": "TCP" })
}

fn secret_volume(name: &str, secret: &str, optional: bool) -> Value {
    json!({ "name": name, "secret": { "secretName": secret, "optional": optional } })
}

fn config_volume(name: &str, cm: &str) -> Value {
    json!({ "name": name, "configMap": { "name": cm, "optional": true } })
}

fn env_from_secret(secret: &str) -> Value {
    json!([{ "secretRef": { "name": secret, "optional": true } }])
}

/// An exec probe from the defaulted probe settings (timing only; the command is Percona's script).
fn exec_probe(object: &str, p: Option<&Probe>, command: &str) -> Result<Value, BuildError> {
    let mut v = match p {
        Some(p) => json(object, p)?,
        None => json!({}),
    };
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| {
            matches!(
                k.as_str(),
                "initialDelaySeconds" | "periodSeconds" | "timeoutSeconds" | "successThreshold" | "failureThreshold"
            )
        });
        m.insert("exec".into(), json!({ "command": [command] }));
    }
    Ok(v)
}

/// The probe timeout the check scripts read from the environment (`*_CHECK_TIMEOUT`).
fn probe_timeout(p: Option<&Probe>) -> String {
    p.and_then(|p| p.timeout_seconds).unwrap_or(0).to_string()
}

/// Resources as written (`{}` when none): Percona's stored objects show no default requests.
fn resources(object: &str, r: Option<&ResourceRequirements>) -> Result<Value, BuildError> {
    match r {
        Some(r) => json(object, r),
        None => Ok(json!({})),
    }
}

/// `antiAffinityTopologyKey` → a required anti-affinity on the component's labels; `advanced` as written;
/// `none` → no affinity.
fn affinity(ctx: &Ctx, object: &str, a: Option<&PodAffinity>, component: &str) -> Result<Value, BuildError> {
    let Some(a) = a else { return Ok(Value::Null) };
    if let Some(adv) = &a.advanced {
        return json(object, adv);
    }
    match a.anti_affinity_topology_key.as_deref() {
        None | Some("none") => Ok(Value::Null),
        Some(key) => Ok(json!({ "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": { "matchLabels": ctx.owner.labels(component) },
            "topologyKey": key,
        }] } })),
    }
}

/// SmartUpdate → `OnDelete` for the database (the engine deletes pods itself); the proxies roll.
fn update_strategy(ctx: &Ctx, smart_means_on_delete: bool) -> Value {
    // The written value: Percona treats an unset strategy as a plain rolling update.
    match ctx.raw.update_strategy.as_deref() {
        Some(ON_DELETE) => json!({ "type": "OnDelete" }),
        Some(SMART_UPDATE) if smart_means_on_delete => json!({ "type": "OnDelete" }),
        _ => json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } }),
    }
}

/// The data volume: a claim template (`name`), or an emptyDir/hostPath pod volume.
fn data_volume(
    ctx: &Ctx,
    object: &str,
    name: &str,
    v: Option<&VolumeSpec>,
    component: &str,
) -> Result<(Option<Value>, Option<Value>), BuildError> {
    let Some(v) = v else { return Ok((None, Some(json!({ "name": name, "emptyDir": {} })))) };
    if let Some(pvc) = &v.persistent_volume_claim {
        let claim = json!({
            "metadata": { "name": name, "labels": ctx.owner.labels(component) },
            "spec": json(object, pvc)?,
        });
        return Ok((Some(claim), None));
    }
    if let Some(hp) = &v.host_path {
        return Ok((None, Some(json!({ "name": name, "hostPath": json(object, hp)? }))));
    }
    let ed = match &v.empty_dir {
        Some(e) => json(object, e)?,
        None => json!({}),
    };
    Ok((None, Some(json!({ "name": name, "emptyDir": ed }))))
}

fn template_annotations(user: Option<&BTreeMap<String, String>>, hashes: &[(&str, Option<&String>)]) -> Value {
    let mut a: BTreeMap<String, String> = user.cloned().unwrap_or_default();
    for (k, v) in hashes {
        if let Some(v) = v {
            a.insert(k.to_string(), v.to_string());
        }
    }
    json!(a)
}

fn labels_with(ctx: &Ctx, component: &str, user: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut l = user.cloned().unwrap_or_default();
    l.extend(ctx.owner.labels(component));
    l
}

/// Wraps a pod spec into the StatefulSet, then types it.
#[allow(clippy::too_many_arguments)]
fn stateful_set(
    ctx: &Ctx,
    component: &str,
    size: i32,
    pod_labels: BTreeMap<String, String>,
    annotations: Value,
    pod: Value,
    strategy: Value,
    claims: Vec<Value>,
) -> Result<StatefulSet, BuildError> {
    let name = ctx.owner.name(component);
    let meta = json(&name, &ctx.owner.owned_meta(&name, ctx.owner.labels(component)))?;
    let mut v = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta,
        "spec": {
            "podManagementPolicy": "OrderedReady",
            "replicas": if ctx.paused() { 0 } else { size },
            "selector": { "matchLabels": ctx.owner.labels(component) },
            // ProxySQL pods are governed by the unready Service, as in Percona's `Proxy.Service()`.
            "serviceName": if component == "proxysql" { ctx.owner.name("proxysql-unready") } else { name.clone() },
            "template": {
                "metadata": { "labels": pod_labels, "annotations": annotations },
                "spec": pod,
            },
            "updateStrategy": strategy,
            "volumeClaimTemplates": if claims.is_empty() { Value::Null } else { json!(claims) },
        }
    });
    prune_nulls(&mut v);
    typed(&format!("StatefulSet {name}"), v)
}

/// Scheduling and identity fields every component's pod takes from its section.
macro_rules! pod_common {
    ($ctx:expr, $object:expr, $sec:expr, $component:expr) => {{
        let s = $sec;
        json!({
            "affinity": affinity($ctx, $object, s.affinity.as_ref(), $component)?,
            "nodeSelector": s.node_selector,
            "tolerations": s.tolerations.as_ref().map(|t| json($object, t)).transpose()?,
            "topologySpreadConstraints": s.topology_spread_constraints.as_ref().map(|t| json($object, t)).transpose()?,
            "priorityClassName": s.priority_class_name,
            "schedulerName": s.scheduler_name,
            "runtimeClassName": s.runtime_class_name,
            "serviceAccountName": s.service_account_name,
            "imagePullSecrets": s.image_pull_secrets.as_ref().map(|t| json($object, t)).transpose()?,
            "terminationGracePeriodSeconds": s.grace_period,
        })
    }};
}

/// The user's additions to a pod, as written: extra containers, volumes and claim templates, and the
/// hook script mount for the main container.
struct Extras {
    containers: Vec<Value>,
    volumes: Vec<Value>,
    claims: Vec<Value>,
    hook: Option<(Value, Value)>,
}

fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

macro_rules! extras {
    ($ctx:expr, $sec:expr, $component:expr) => {{
        let s = $sec;
        Extras {
            containers: list(s.sidecars.as_ref()),
            volumes: list(s.sidecar_volumes.as_ref()),
            claims: list(s.sidecar_pvcs.as_ref()),
            hook: s.hook_script.as_ref().filter(|h| !h.trim().is_empty()).map(|_| {
                (
                    mount("hookscript", "/opt/percona/hookscript"),
                    config_volume("hookscript", &super::config::hookscript_name($ctx, $component)),
                )
            }),
        }
    }};
}

/// Appends the extras: the hook mount to the first container named `main`, sidecars after Percona's.
fn add_extras(pod: &mut Value, claims: &mut Vec<Value>, main: &str, x: Extras) {
    if let Some((m, vol)) = x.hook {
        if let Some(c) = pod["containers"].as_array_mut().and_then(|cs| cs.iter_mut().find(|c| c["name"] == main))
            && let Some(mounts) = c["volumeMounts"].as_array_mut()
        {
            mounts.push(m);
        }
        if let Some(vols) = pod["volumes"].as_array_mut() {
            vols.push(vol);
        }
    }
    if let Some(cs) = pod["containers"].as_array_mut() {
        cs.extend(x.containers);
    }
    if let Some(vols) = pod["volumes"].as_array_mut() {
        vols.extend(x.volumes);
    }
    claims.extend(x.claims);
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

fn pxc(ctx: &Ctx, hashes: &PodHashes) -> Result<StatefulSet, BuildError> {
    let o = ctx.owner;
    let object = format!("StatefulSet {}", o.name("pxc"));
    let object = object.as_str();
    let p = ctx.spec.pxc.clone().unwrap_or_default();
    let raw = ctx.raw.pxc.clone().unwrap_or_default();
    let internal = format!("internal-{}", o.cluster);
    let lc = ctx.spec.logcollector.clone().unwrap_or_default();
    let lc_raw = ctx.raw.logcollector.clone().unwrap_or_default();
    let live = p.liveness_probes.as_ref();
    let ready = p.readiness_probes.as_ref();
    let image_policy = p.image_pull_policy.clone();

    let mut containers = Vec::new();
    let lc_config = ctx.logcollector_on() && lc.configuration.as_ref().is_some_and(|c| !c.trim().is_empty());
    if ctx.logcollector_on() {
        let lc_res = resources(object, lc_raw.resources.as_ref())?;
        let mut logs_mounts = vec![mount("datadir", "/var/lib/mysql")];
        if lc_config {
            logs_mounts.push(mount("logcollector-config", "/etc/fluentbit/custom"));
        }
        containers.push(json!({
            "name": "logs",
            "image": lc.image,
            "imagePullPolicy": lc.image_pull_policy,
            "env": [env("LOG_DATA_DIR", "/var/lib/mysql"), field_env("POD_NAMESPACE", "metadata.namespace"), field_env("POD_NAME", "metadata.name")],
            "envFrom": env_from_secret(ctx.spec.log_collector_secret_name.as_deref().unwrap_or_default()),
            "resources": lc_res,
            "securityContext": lc.container_security_context,
            "volumeMounts": logs_mounts,
        }));
        containers.push(json!({
            "name": "logrotate",
            "image": lc.image,
            "imagePullPolicy": lc.image_pull_policy,
            "args": ["logrotate"],
            "env": [env("SERVICE_TYPE", "mysql"), secret_env("MONITOR_PASSWORD", "monitor", &internal)],
            "resources": lc_res,
            "securityContext": lc.container_security_context,
            "volumeMounts": [mount("datadir", "/var/lib/mysql")],
        }));
    }
    let mut pxc_env = vec![
        env("PXC_SERVICE", o.name("pxc-unready")),
        env("MONITOR_HOST", "%"),
        secret_env("MYSQL_ROOT_PASSWORD", "root", &internal),
        secret_env("XTRABACKUP_PASSWORD", "xtrabackup", &internal),
        secret_env("MONITOR_PASSWORD", "monitor", &internal),
    ];
    if ctx.logcollector_on() {
        pxc_env.push(env("LOG_DATA_DIR", "/var/lib/mysql"));
        pxc_env.push(env("IS_LOGCOLLECTOR", "yes"));
    }
    pxc_env.push(secret_env("OPERATOR_ADMIN_PASSWORD", "operator", &internal));
    pxc_env.push(env("LIVENESS_CHECK_TIMEOUT", probe_timeout(live)));
    pxc_env.push(env("READINESS_CHECK_TIMEOUT", probe_timeout(ready)));
    // ProxySQL 2 cannot authenticate against caching_sha2_password accounts.
    let auth = if ctx.proxysql_on() { "mysql_native_password" } else { "caching_sha2_password" };
    pxc_env.push(env("DEFAULT_AUTHENTICATION_PLUGIN", auth));
    pxc_env.push(env("MYSQL_NOTIFY_SOCKET", "/var/lib/mysql/notify.sock"));
    pxc_env.push(env("MYSQL_STATE_FILE", "/var/lib/mysql/mysql.state"));
    containers.push(json!({
        "name": "pxc",
        "image": p.image,
        "imagePullPolicy": image_policy,
        "command": ["/var/lib/mysql/pxc-entrypoint.sh"],
        "args": ["mysqld"],
        "env": pxc_env,
        "envFrom": env_from_secret(p.env_vars_secret.as_deref().unwrap_or_default()),
        "livenessProbe": exec_probe(object, live, "/var/lib/mysql/liveness-check.sh")?,
        "readinessProbe": exec_probe(object, ready, "/var/lib/mysql/readiness-check.sh")?,
        "ports": [port("mysql", 3306), port("sst", 4444), port("write-set", 4567), port("ist", 4568), port("mysql-admin", 33062), port("mysqlx", 33060)],
        "resources": resources(object, raw.resources.as_ref())?,
        "securityContext": p.container_security_context,
        "lifecycle": p.lifecycle,
        "volumeMounts": [
            mount("datadir", "/var/lib/mysql"),
            mount("config", "/etc/percona-xtradb-cluster.conf.d"),
            mount("tmp", "/tmp"),
            mount("ssl", "/etc/mysql/ssl"),
            mount("ssl-internal", "/etc/mysql/ssl-internal"),
            mount("mysql-users-secret-file", "/etc/mysql/mysql-users-secret"),
            mount("auto-config", "/etc/my.cnf.d"),
            mount("vault-keyring-secret", "/etc/mysql/vault-keyring-secret"),
            mount("mysql-init-file", "/etc/mysql/init-file"),
        ],
    }));
    let init = ctx.spec.init_container.clone().unwrap_or_default();
    let init_containers = json!([{
        "name": "pxc-init",
        "image": init.image,
        "imagePullPolicy": image_policy,
        "command": ["/pxc-init-entrypoint.sh"],
        "resources": resources(object, init.resources.as_ref())?,
        "securityContext": init.container_security_context,
        "volumeMounts": [mount("datadir", "/var/lib/mysql")],
    }]);

    let (claim, data_vol) = data_volume(ctx, object, "datadir", p.volume_spec.as_ref(), "pxc")?;
    let tls_optional = !ctx.spec.tls_enabled();
    let mut volumes = vec![json!({ "name": "tmp", "emptyDir": {} })];
    volumes.extend(data_vol);
    volumes.extend([
        config_volume("config", &o.name("pxc")),
        secret_volume("ssl-internal", p.ssl_internal_secret_name.as_deref().unwrap_or_default(), true),
        secret_volume("ssl", p.ssl_secret_name.as_deref().unwrap_or_default(), tls_optional),
        config_volume("auto-config", &format!("auto-{}", o.name("pxc"))),
        secret_volume("vault-keyring-secret", p.vault_secret_name.as_deref().unwrap_or_default(), true),
        secret_volume("mysql-users-secret-file", &internal, false),
        secret_volume("mysql-init-file", &o.name("mysql-init"), true),
    ]);
    if lc_config {
        volumes.push(config_volume("logcollector-config", &o.name("logcollector")));
    }

    let mut pod = pod_common!(ctx, object, &p, "pxc");
    merge(
        &mut pod,
        json!({
            "containers": containers,
            "initContainers": init_containers,
            "securityContext": p.pod_security_context,
            "volumes": volumes,
        }),
    );
    let mut claims: Vec<Value> = claim.into_iter().collect();
    add_pmm(ctx, object, &mut pod, Watched::Pxc, p.env_vars_secret.as_deref().unwrap_or_default(), hashes)?;
    add_extras(&mut pod, &mut claims, "pxc", extras!(ctx, &p, "pxc"));
    let annotations = template_annotations(
        p.annotations.as_ref(),
        &[
            (CONFIG_HASH, Some(&hashes.pxc_config)),
            (SSL_HASH, hashes.ssl.as_ref()),
            (SSL_INTERNAL_HASH, hashes.ssl_internal.as_ref()),
            (ENV_HASH, p.env_vars_secret.as_ref().and_then(|n| hashes.env_vars.get(n))),
        ],
    );
    stateful_set(
        ctx,
        "pxc",
        p.size.unwrap_or(0),
        labels_with(ctx, "pxc", p.labels.as_ref()),
        annotations,
        pod,
        update_strategy(ctx, true),
        claims,
    )
}

fn haproxy(ctx: &Ctx, hashes: &PodHashes) -> Result<StatefulSet, BuildError> {
    let o = ctx.owner;
    let object = format!("StatefulSet {}", o.name("haproxy"));
    let object = object.as_str();
    let h = ctx.spec.haproxy.clone().unwrap_or_default();
    let raw = ctx.raw.haproxy.clone().unwrap_or_default();
    let internal = format!("internal-{}", o.cluster);
    let env_secret = h.env_vars_secret.clone().unwrap_or_default();
    let live = h.liveness_probes.as_ref();
    let ready = h.readiness_probes.as_ref();
    let common_mounts = [
        mount("haproxy-custom", "/etc/haproxy-custom/"),
        mount("haproxy-auto", "/etc/haproxy/pxc"),
        mount("mysql-users-secret-file", "/etc/mysql/mysql-users-secret"),
        mount(&env_secret, "/etc/mysql/haproxy-env-secret"),
    ];
    let bin = mount("bin", "/opt/percona");
    // The HAProxy container reads Percona's scripts from `bin` before the users file; the monitor
    // sidecar lists it last (the order Percona's stored objects show).
    let mut haproxy_mounts = common_mounts[..2].to_vec();
    haproxy_mounts.push(bin.clone());
    haproxy_mounts.extend_from_slice(&common_mounts[2..]);
    let mut monit_mounts = common_mounts.to_vec();
    monit_mounts.push(bin);

    let only_readers = h.expose_replicas.as_ref().and_then(|e| e.only_readers) == Some(true);
    let mut monit_env =
        vec![env("PXC_SERVICE", o.name("pxc")), env("REPLICAS_SVC_ONLY_READERS", only_readers.to_string())];
    // Server options only when a health check is written (Percona's defaults fill the gaps).
    if let Some(hc) = raw.health_check.as_ref() {
        let options = format!(
            "resolvers kubernetes check inter {} rise {} fall {} weight 1",
            hc.interval.unwrap_or(HAPROXY_CHECK_INTERVAL_MS),
            hc.rise.unwrap_or(HAPROXY_CHECK_RISE),
            hc.fall.unwrap_or(HAPROXY_CHECK_FALL),
        );
        monit_env.push(env("HA_SERVER_OPTIONS", options));
    }
    let containers = json!([
        {
            "name": "haproxy",
            "image": h.image,
            "imagePullPolicy": h.image_pull_policy,
            "command": ["/opt/percona/haproxy-entrypoint.sh"],
            "args": ["haproxy"],
            "env": [env("PXC_SERVICE", o.name("pxc")), env("LIVENESS_CHECK_TIMEOUT", probe_timeout(live)), env("READINESS_CHECK_TIMEOUT", probe_timeout(ready))],
            "envFrom": env_from_secret(&env_secret),
            "livenessProbe": exec_probe(object, live, "/opt/percona/haproxy_liveness_check.sh")?,
            "readinessProbe": exec_probe(object, ready, "/opt/percona/haproxy_readiness_check.sh")?,
            "ports": [
                port("mysql", 3306), port("mysql-replicas", 3307), port("proxy-protocol", 3309),
                port("mysql-admin", 33062), port("mysqlx", 33060), port("stats", 8404),
            ],
            "resources": resources(object, raw.resources.as_ref())?,
            "securityContext": h.container_security_context,
            "lifecycle": h.lifecycle,
            "volumeMounts": haproxy_mounts,
        },
        {
            "name": "pxc-monit",
            "image": h.image,
            "imagePullPolicy": h.image_pull_policy,
            "command": ["/opt/percona/haproxy-entrypoint.sh"],
            "args": [
                "/opt/percona/peer-list", "-on-change=/opt/percona/haproxy_add_pxc_nodes.sh",
                "-service=$(PXC_SERVICE)", "-protocol=$(PEER_LIST_SRV_PROTOCOL)",
            ],
            "env": monit_env,
            "envFrom": env_from_secret(&env_secret),
            "resources": resources(object, raw.sidecar_resources.as_ref())?,
            "securityContext": h.container_security_context,
            "volumeMounts": monit_mounts,
        },
    ]);
    let init = ctx.spec.init_container.clone().unwrap_or_default();
    let init_res = resources(object, init.resources.as_ref())?;
    // pxc-init copies the operator's scripts, haproxy-init the image's own, both into `bin`.
    let init_containers = json!([
        {
            "name": "pxc-init",
            "image": init.image,
            "imagePullPolicy": h.image_pull_policy,
            "command": ["/pxc-init-entrypoint.sh"],
            "resources": init_res,
            "securityContext": init.container_security_context,
            "volumeMounts": [mount("bin", "/var/lib/mysql")],
        },
        {
            "name": "haproxy-init",
            "image": h.image,
            "imagePullPolicy": h.image_pull_policy,
            "command": ["/haproxy-init-entrypoint.sh"],
            "resources": init_res,
            "securityContext": init.container_security_context,
            "volumeMounts": [mount("bin", "/opt/percona")],
        },
    ]);
    let volumes = json!([
        config_volume("haproxy-custom", &o.name("haproxy")),
        { "name": "haproxy-auto", "emptyDir": {} },
        secret_volume("mysql-users-secret-file", &internal, false),
        secret_volume(&env_secret, &env_secret, true),
        { "name": "bin", "emptyDir": {} },
    ]);
    let mut pod = pod_common!(ctx, object, &h, "haproxy");
    merge(
        &mut pod,
        json!({
            "containers": containers,
            "initContainers": init_containers,
            "securityContext": h.pod_security_context.clone().unwrap_or(json!({})),
            "volumes": volumes,
        }),
    );
    let mut claims = Vec::new();
    add_pmm(ctx, object, &mut pod, Watched::Haproxy, &env_secret, hashes)?;
    add_extras(&mut pod, &mut claims, "haproxy", extras!(ctx, &h, "haproxy"));
    let annotations = template_annotations(
        h.annotations.as_ref(),
        &[(CONFIG_HASH, hashes.haproxy_config.as_ref()), (ENV_HASH, hashes.env_vars.get(&env_secret))],
    );
    stateful_set(
        ctx,
        "haproxy",
        h.size.unwrap_or(0),
        labels_with(ctx, "haproxy", h.labels.as_ref()),
        annotations,
        pod,
        update_strategy(ctx, false),
        claims,
    )
}

/// ProxySQL: Percona's default-cr suite has no compare file for it, so this follows the container
/// layout of their `pkg/pxc/app/statefulset/proxysql.go` (names, ports, env, mounts).
fn proxysql(ctx: &Ctx, hashes: &PodHashes) -> Result<StatefulSet, BuildError> {
    let o = ctx.owner;
    let object = format!("StatefulSet {}", o.name("proxysql"));
    let object = object.as_str();
    let p = ctx.spec.proxysql.clone().unwrap_or_default();
    let raw = ctx.raw.proxysql.clone().unwrap_or_default();
    let internal = format!("internal-{}", o.cluster);
    let env_secret = p.env_vars_secret.clone().unwrap_or_default();
    let users = |first: Value| {
        let mut v = vec![
            first,
            secret_env("OPERATOR_PASSWORD", "operator", &internal),
            env("PROXY_ADMIN_USER", "proxyadmin"),
            secret_env("PROXY_ADMIN_PASSWORD", "proxyadmin", &internal),
            secret_env("MONITOR_PASSWORD", "monitor", &internal),
        ];
        // Without TLS the monitors must not look for certificates.
        if !ctx.spec.tls_enabled() {
            v.push(env("SSL_DIR", "/dev/null"));
        }
        v
    };
    let custom_config = hashes.proxysql_config.is_some();
    let mut main_mounts = vec![
        mount("proxydata", "/var/lib/proxysql"),
        mount("ssl", "/etc/proxysql/ssl"),
        mount("ssl-internal", "/etc/proxysql/ssl-internal"),
    ];
    if custom_config {
        main_mounts.push(mount("config", "/etc/proxysql/"));
    }
    let mut main_env = users(env("PXC_SERVICE", o.name("pxc")));
    main_env.retain(|e| e["name"] != "SSL_DIR");
    let sidecar_res = resources(object, raw.sidecar_resources.as_ref())?;
    let containers = json!([
        {
            "name": "proxysql",
            "image": p.image,
            "imagePullPolicy": p.image_pull_policy,
            "env": main_env,
            "envFrom": env_from_secret(&env_secret),
            "ports": [port("mysql", 3306), port("proxyadm", 6032)],
            "resources": resources(object, raw.resources.as_ref())?,
            "securityContext": p.container_security_context,
            "lifecycle": p.lifecycle,
            "volumeMounts": main_mounts,
        },
        {
            "name": "pxc-monit",
            "image": p.image,
            "imagePullPolicy": p.image_pull_policy,
            "args": ["/usr/bin/peer-list", "-on-change=/usr/bin/add_pxc_nodes.sh", "-service=$(PXC_SERVICE)"],
            "env": users(env("PXC_SERVICE", o.name("pxc"))),
            "envFrom": env_from_secret(&env_secret),
            "resources": sidecar_res,
            "securityContext": p.container_security_context,
        },
        {
            "name": "proxysql-monit",
            "image": p.image,
            "imagePullPolicy": p.image_pull_policy,
            "args": ["/usr/bin/peer-list", "-on-change=/usr/bin/add_proxysql_nodes.sh", "-service=$(PROXYSQL_SERVICE)"],
            "env": users(env("PROXYSQL_SERVICE", o.name("proxysql-unready"))),
            "envFrom": env_from_secret(&env_secret),
            "resources": sidecar_res,
            "securityContext": p.container_security_context,
        },
    ]);
    let init = ctx.spec.init_container.clone().unwrap_or_default();
    // As for HAProxy: the shared init container copies Percona's scripts into `bin`.
    let init_containers = json!([{
        "name": "pxc-init",
        "image": init.image,
        "imagePullPolicy": p.image_pull_policy,
        "command": ["/pxc-init-entrypoint.sh"],
        "resources": resources(object, init.resources.as_ref())?,
        "securityContext": init.container_security_context,
        "volumeMounts": [mount("bin", "/var/lib/mysql")],
    }]);
    let (claim, data_vol) = data_volume(ctx, object, "proxydata", p.volume_spec.as_ref(), "proxysql")?;
    let mut volumes: Vec<Value> = data_vol.into_iter().collect();
    volumes.extend([
        secret_volume("ssl-internal", p.ssl_internal_secret_name.as_deref().unwrap_or_default(), true),
        secret_volume("ssl", p.ssl_secret_name.as_deref().unwrap_or_default(), !ctx.spec.tls_enabled()),
    ]);
    if custom_config {
        volumes.push(config_volume("config", &o.name("proxysql")));
    }
    volumes.push(json!({ "name": "bin", "emptyDir": {} }));
    let mut pod = pod_common!(ctx, object, &p, "proxysql");
    merge(
        &mut pod,
        json!({
            "containers": containers,
            "initContainers": init_containers,
            "securityContext": p.pod_security_context,
            "volumes": volumes,
        }),
    );
    let mut claims: Vec<Value> = claim.into_iter().collect();
    add_pmm(ctx, object, &mut pod, Watched::Proxysql, &env_secret, hashes)?;
    add_extras(&mut pod, &mut claims, "proxysql", extras!(ctx, &p, "proxysql"));
    let annotations = template_annotations(
        p.annotations.as_ref(),
        &[
            (CONFIG_HASH, hashes.proxysql_config.as_ref()),
            (SSL_HASH, hashes.ssl.as_ref()),
            (SSL_INTERNAL_HASH, hashes.ssl_internal.as_ref()),
            (ENV_HASH, hashes.env_vars.get(&env_secret)),
        ],
    );
    stateful_set(
        ctx,
        "proxysql",
        p.size.unwrap_or(0),
        labels_with(ctx, "proxysql", p.labels.as_ref()),
        annotations,
        pod,
        update_strategy(ctx, false),
        claims,
    )
}
