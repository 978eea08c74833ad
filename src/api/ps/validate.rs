//! Percona's rules for the PS family, checked offline. Every problem is collected with its field path.
//!
//! The cluster rules are the CEL rules on `PerconaServerMySQLSpec` in Percona's
//! `api/v1/perconaservermysql_types.go` (crVersion 1.3.0) plus the checks its `CheckNSetDefaults`
//! makes before reconciling (backup image, schedules, storages, volumeSpec). Validation runs on the
//! spec as written, before defaults, as the API server does.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EnvVar, PersistentVolumeClaimSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::backup::*;
use super::cluster::*;
use crate::api::common::{
    MAX_SAFE_SIZE, Problems, Validate, check_cron, check_dns_label, check_image, check_probe, check_quantity,
    check_resource_requirements, check_secret_name, check_size_bounds, check_size_ceiling, is_version, parse_quantity,
};

/// Percona documents cluster names of at most 22 characters: every object name the operator derives
/// (`<name>-mysql-N`, `<name>-haproxy`, `internal-<name>`, …) must stay within Kubernetes' limits.
pub const MAX_CLUSTER_NAME_LEN: usize = 22;
/// Backup and restore names are object names (DNS subdomains); Percona derives Job names from them.
const MAX_OBJECT_NAME_LEN: usize = 253;

const UPDATE_STRATEGIES: [&str; 3] = ["SmartUpdate", "RollingUpdate", "OnDelete"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
const TRAFFIC_POLICIES: [&str; 2] = ["Cluster", "Local"];
const STORAGE_TYPES: [&str; 3] = ["s3", "gcs", "azure"];
const BACKUP_TYPES: [&str; 2] = ["full", "incremental"];
const LOAD_TYPES: [&str; 4] = ["mostlyReads", "someWrites", "equalReadsWrites", "heavyWrites"];
const CIPHERS: [&str; 3] = ["AES-128-CTR", "AES-192-CTR", "AES-256-CTR"];
/// Percona's `mysql.env` variables that must be non-negative integers for async clusters.
const ASYNC_INT_ENV: [&str; 3] = ["BOOTSTRAP_READ_TIMEOUT", "ASYNC_SOURCE_RETRY_COUNT", "ASYNC_SOURCE_CONNECT_RETRY"];

fn one_of(p: &mut Problems, path: &str, value: Option<&str>, allowed: &[&str]) {
    if let Some(v) = value
        && !allowed.contains(&v)
    {
        p.push(path, format!("\"{v}\" is not allowed; use one of: {}", allowed.join(", ")));
    }
}

fn required_str(p: &mut Problems, path: &str, value: Option<&str>, what: &str) {
    if value.is_none_or(|v| v.trim().is_empty()) {
        p.push(path, format!("is required: {what}"));
    }
}

/// A required Secret name that must also be a valid one.
fn required_secret(p: &mut Problems, path: &str, value: Option<&str>, what: &str) {
    required_str(p, path, value, what);
    check_secret_name(p, path, value);
}

fn non_negative<T: Into<i64> + Copy>(p: &mut Problems, path: &str, value: Option<T>) {
    if let Some(v) = value.map(Into::into)
        && v < 0
    {
        p.push(path, format!("is {v}; it must not be negative"));
    }
}

fn quantity(q: &Quantity) -> Option<f64> {
    parse_quantity(&q.0).ok()
}

/// Every request and limit parses, and no request exceeds its limit (Kubernetes rejects such pods).
fn check_resources(p: &mut Problems, path: &str, r: Option<&ResourceRequirements>) {
    check_resource_requirements(p, path, r);
}

fn check_pvc(p: &mut Problems, path: &str, pvc: &PersistentVolumeClaimSpec) {
    let res = pvc.resources.as_ref();
    let request = res.and_then(|r| r.requests.as_ref()).and_then(|m| m.get("storage"));
    let limit = res.and_then(|r| r.limits.as_ref()).and_then(|m| m.get("storage"));
    if request.is_none() && limit.is_none() {
        p.push(
            format!("{path}.resources.requests.storage"),
            "is required: the volume size, e.g. 30Gi (or resources.limits.storage)",
        );
    }
    for (kind, q) in [("requests", request), ("limits", limit)] {
        if let Some(q) = q {
            let qpath = format!("{path}.resources.{kind}.storage");
            match parse_quantity(&q.0) {
                Ok(v) if v <= 0.0 => p.push(qpath, format!("\"{}\" must be a positive size such as 30Gi", q.0)),
                Ok(_) => {}
                Err(e) => p.push(qpath, e),
            }
        }
    }
}

/// Percona's volumeSpec: exactly one of emptyDir, hostPath, persistentVolumeClaim.
fn check_volume(p: &mut Problems, path: &str, v: Option<&VolumeSpec>, required: bool) {
    let Some(v) = v else {
        if required {
            p.push(path, "is required: where the data lives, usually persistentVolumeClaim with a storage size");
        }
        return;
    };
    let set: Vec<&str> = [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    match set.len() {
        0 => p.push(path, "must set one of emptyDir, hostPath or persistentVolumeClaim"),
        1 => {}
        _ => p.push(path, format!("sets {}; exactly one volume source is allowed", set.join(" and "))),
    }
    if let Some(pvc) = &v.persistent_volume_claim {
        check_pvc(p, &format!("{path}.persistentVolumeClaim"), pvc);
    }
}

fn check_expose(p: &mut Problems, path: &str, e: Option<&ServiceExpose>) {
    let Some(e) = e else { return };
    one_of(p, &format!("{path}.type"), e.type_.as_deref(), &SERVICE_TYPES);
    one_of(p, &format!("{path}.internalTrafficPolicy"), e.internal_traffic_policy.as_deref(), &TRAFFIC_POLICIES);
    one_of(p, &format!("{path}.externalTrafficPolicy"), e.external_traffic_policy.as_deref(), &TRAFFIC_POLICIES);
}

fn check_args(p: &mut Problems, path: &str, opts: Option<&BackupContainerOptions>) {
    let Some(xb) = opts.and_then(|o| o.args.as_ref()).and_then(|a| a.xtrabackup.as_ref()) else { return };
    let is_defaults = |a: &String| a == "--defaults-file" || a.starts_with("--defaults-file=");
    let first_ok = xb.first().is_some_and(|a| a.starts_with("--defaults-file=") && a != "--defaults-file=");
    if xb.iter().any(is_defaults) && !first_ok {
        p.push(
            format!("{path}.args.xtrabackup"),
            "--defaults-file must be written --defaults-file=<path> and be the first xtrabackup argument",
        );
    }
}

/// Fields shared by every pod component, through a small view so one function checks them all.
struct PodView<'a> {
    size: Option<i32>,
    image: Option<&'a str>,
    init_image: Option<&'a str>,
    image_pull_policy: Option<&'a str>,
    resources: Option<&'a ResourceRequirements>,
    init_resources: Option<&'a ResourceRequirements>,
    grace_period: Option<i64>,
    probes: [(&'static str, Option<&'a k8s_openapi::api::core::v1::Probe>); 3],
}

fn check_pod(p: &mut Problems, path: &str, v: PodView<'_>) {
    non_negative(p, &format!("{path}.size"), v.size);
    if let Some(n) = v.size {
        check_size_ceiling(p, &format!("{path}.size"), n.into());
    }
    check_image(p, &format!("{path}.image"), v.image);
    check_image(p, &format!("{path}.initImage"), v.init_image);
    for (field, probe) in v.probes {
        check_probe(p, &format!("{path}.{field}"), probe);
    }
    non_negative(p, &format!("{path}.gracePeriod"), v.grace_period);
    one_of(p, &format!("{path}.imagePullPolicy"), v.image_pull_policy, &PULL_POLICIES);
    check_resources(p, &format!("{path}.resources"), v.resources);
    check_resources(p, &format!("{path}.initContainer.resources"), v.init_resources);
}

macro_rules! pod_view {
    ($c:expr) => {
        PodView {
            size: $c.size,
            image: $c.image.as_deref(),
            init_image: $c.init_image.as_deref(),
            image_pull_policy: $c.image_pull_policy.as_deref(),
            resources: $c.resources.as_ref(),
            init_resources: $c.init_container.as_ref().and_then(|i| i.resources.as_ref()),
            grace_period: $c.grace_period,
            probes: [
                ("startupProbe", $c.startup_probe.as_ref()),
                ("readinessProbe", $c.readiness_probe.as_ref()),
                ("livenessProbe", $c.liveness_probe.as_ref()),
            ],
        }
    };
}

/// Where Percona sets no upper bound: dbdeck's safe one, lifted by the unsafe flag named.
fn check_safe_max(p: &mut Problems, path: &str, size: Option<i32>, unsafe_ok: bool, flag: &str) {
    if let Some(n) = size
        && n <= crate::api::common::MAX_SIZE as i32
    {
        check_size_bounds(p, path, n.into(), MAX_SAFE_SIZE, unsafe_ok, &format!("set spec.{flag}: true"));
    }
}

/// An enabled component needs an image and a positive size (Percona CEL rules on each component).
fn check_enabled_component(p: &mut Problems, path: &str, name: &str, image: Option<&str>, size: Option<i32>) {
    required_str(p, &format!("{path}.image"), image, &format!("the {name} image, since {name} is enabled"));
    if size.is_none_or(|s| s <= 0) {
        p.push(
            format!("{path}.size"),
            format!(
                "must be greater than 0 when {name} is enabled (got {})",
                size.map_or("nothing".into(), |s| s.to_string())
            ),
        );
    }
}

impl Validate for PerconaServerMySQL {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        let name = self.metadata.name.as_deref().unwrap_or("");
        check_dns_label(&mut p, "metadata.name", name, MAX_CLUSTER_NAME_LEN);
        // Percona's docs: the name must also start with a letter (it becomes part of MySQL identifiers).
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            p.push("metadata.name", format!("\"{name}\" must start with a letter"));
        }
        validate_spec(&mut p, &self.spec);
        p
    }
}

fn validate_spec(p: &mut Problems, s: &PerconaServerMySQLSpec) {
    let flags = s.unsafe_flags();
    if let Some(v) = s.cr_version.as_deref()
        && !is_version(v)
    {
        p.push("spec.crVersion", format!("\"{v}\" is not a version such as 1.0.0"));
    }
    check_secret_name(p, "spec.secretsName", s.secrets_name.as_deref());
    check_secret_name(p, "spec.sslSecretName", s.ssl_secret_name.as_deref());
    check_image(p, "spec.initImage", s.init_image.as_deref());
    check_image(p, "spec.initContainer.image", s.init_container.as_ref().and_then(|i| i.image.as_deref()));
    one_of(p, "spec.updateStrategy", s.update_strategy.as_deref(), &UPDATE_STRATEGIES);
    check_resources(p, "spec.initContainer.resources", s.init_container.as_ref().and_then(|i| i.resources.as_ref()));
    validate_storage_scaling(p, s.storage_scaling.as_ref());
    validate_users(p, s.users.as_deref());

    let Some(mysql) = &s.mysql else {
        p.push("spec.mysql", "is required: the MySQL section (clusterType, size, image, volumeSpec)");
        return;
    };
    let cluster_type = mysql.cluster_type.as_deref().unwrap_or(ClusterType::GROUP_REPLICATION);
    let kind = ClusterType::parse(cluster_type);
    if kind.is_none() {
        p.push(
            "spec.mysql.clusterType",
            format!("\"{cluster_type}\" is not a cluster type; use group-replication or async"),
        );
    }
    validate_mysql(p, mysql, kind, &flags);

    let haproxy = s.proxy.as_ref().and_then(|x| x.haproxy.as_ref());
    let router = s.proxy.as_ref().and_then(|x| x.router.as_ref());
    let haproxy_on = s.haproxy_enabled();
    let router_on = s.router_enabled();
    let orc_on = s.orchestrator_enabled();

    if let Some(h) = haproxy {
        check_pod(p, "spec.proxy.haproxy", pod_view!(h));
        check_expose(p, "spec.proxy.haproxy.expose", h.expose.as_ref());
        for (name, r) in h.sidecar_resources.iter().flatten() {
            check_resources(p, &format!("spec.proxy.haproxy.sidecarResources.{name}"), Some(r));
        }
        if haproxy_on {
            check_enabled_component(p, "spec.proxy.haproxy", "HAProxy", h.image.as_deref(), h.size);
            check_safe_max(p, "spec.proxy.haproxy.size", h.size, flags.proxy_size(), "unsafeFlags.proxySize");
            if let Some(size) = h.size.filter(|&n| n > 0 && n < 2)
                && !flags.proxy_size()
            {
                p.push(
                    "spec.proxy.haproxy.size",
                    format!("is {size}; HAProxy needs at least 2 pods to survive one failure (set unsafeFlags.proxySize: true to allow fewer)"),
                );
            }
        }
    }
    if let Some(r) = router {
        check_pod(p, "spec.proxy.router", pod_view!(r));
        check_expose(p, "spec.proxy.router.expose", r.expose.as_ref());
        if router_on {
            check_enabled_component(p, "spec.proxy.router", "MySQL Router", r.image.as_deref(), r.size);
            check_safe_max(p, "spec.proxy.router.size", r.size, flags.proxy_size(), "unsafeFlags.proxySize");
            if kind == Some(ClusterType::GroupReplication)
                && let Some(size) = r.size.filter(|&n| n > 0 && n < 2)
                && !flags.proxy_size()
            {
                p.push(
                    "spec.proxy.router.size",
                    format!("is {size}; with group replication MySQL Router needs at least 2 pods (set unsafeFlags.proxySize: true to allow fewer)"),
                );
            }
        }
    }
    if router_on && haproxy_on {
        p.push(
            "spec.proxy",
            "MySQL Router and HAProxy are both enabled; enable only one of proxy.router.enabled and proxy.haproxy.enabled",
        );
    }
    if let Some(o) = &s.orchestrator {
        check_pod(p, "spec.orchestrator", pod_view!(o));
        check_expose(p, "spec.orchestrator.expose", o.expose.as_ref());
        if orc_on {
            check_enabled_component(p, "spec.orchestrator", "Orchestrator", o.image.as_deref(), o.size);
            check_safe_max(
                p,
                "spec.orchestrator.size",
                o.size,
                flags.orchestrator_size(),
                "unsafeFlags.orchestratorSize",
            );
        }
    }

    match kind {
        Some(ClusterType::Async) => {
            if !orc_on && !flags.orchestrator() {
                p.push(
                    "spec.orchestrator.enabled",
                    "must be true for clusterType async: Orchestrator manages the replication topology (set unsafeFlags.orchestrator: true to run without it)",
                );
            }
            if !haproxy_on && !flags.proxy() {
                p.push(
                    "spec.proxy.haproxy.enabled",
                    "must be true for clusterType async: HAProxy routes clients to the primary (set unsafeFlags.proxy: true to run without it)",
                );
            }
            if router_on {
                p.push(
                    "spec.proxy.router.enabled",
                    "must be false for clusterType async: MySQL Router works only with group replication; use HAProxy",
                );
            }
            if let Some(size) = s.orchestrator.as_ref().and_then(|o| o.size).filter(|&n| n > 0)
                && (size < 3 || size % 2 == 0)
                && !flags.orchestrator_size()
            {
                p.push(
                    "spec.orchestrator.size",
                    format!("is {size}; Orchestrator's raft needs an odd size of at least 3 (3, 5, 7 …) (set unsafeFlags.orchestratorSize: true to override)"),
                );
            }
            if s.update_strategy.as_deref() == Some("SmartUpdate") && !orc_on {
                p.push(
                    "spec.updateStrategy",
                    "SmartUpdate with clusterType async needs Orchestrator to switch the primary; enable orchestrator or use RollingUpdate",
                );
            }
        }
        Some(ClusterType::GroupReplication) if !router_on && !haproxy_on && !flags.proxy() => {
            p.push(
                "spec.proxy",
                "group replication needs a proxy: enable proxy.haproxy or proxy.router (set unsafeFlags.proxy: true to run without one)",
            );
        }
        Some(ClusterType::GroupReplication) | None => {}
    }

    if let Some(pmm) = &s.pmm {
        one_of(p, "spec.pmm.imagePullPolicy", pmm.image_pull_policy.as_deref(), &PULL_POLICIES);
        check_resources(p, "spec.pmm.resources", pmm.resources.as_ref());
        check_image(p, "spec.pmm.image", pmm.image.as_deref());
        check_probe(p, "spec.pmm.livenessProbe", pmm.liveness_probe.as_ref());
        check_probe(p, "spec.pmm.readinessProbe", pmm.readiness_probe.as_ref());
        if pmm.enabled == Some(true) {
            required_str(p, "spec.pmm.image", pmm.image.as_deref(), "the PMM client image, since pmm is enabled");
        }
    }
    if let Some(t) = &s.toolkit {
        required_str(p, "spec.toolkit.image", t.image.as_deref(), "the Percona Toolkit image");
        one_of(p, "spec.toolkit.imagePullPolicy", t.image_pull_policy.as_deref(), &PULL_POLICIES);
        check_resources(p, "spec.toolkit.resources", t.resources.as_ref());
        check_image(p, "spec.toolkit.image", t.image.as_deref());
    }
    if let Some(b) = &s.backup {
        validate_backup_section(p, b);
    }
}

fn validate_mysql(p: &mut Problems, m: &MySQLSpec, kind: Option<ClusterType>, flags: &UnsafeFlags) {
    let path = "spec.mysql";
    check_pod(p, path, pod_view!(m));
    check_secret_name(p, "spec.mysql.vaultSecretName", m.vault_secret_name.as_deref());
    required_str(
        p,
        "spec.mysql.image",
        m.image.as_deref(),
        "the Percona Server image, e.g. percona/percona-server:8.4.11-11.1",
    );
    check_expose(p, "spec.mysql.expose", m.expose.as_ref().map(|e| e.expose()).as_ref());
    check_expose(p, "spec.mysql.exposePrimary", m.expose_primary.as_ref().map(|e| e.expose()).as_ref());
    check_volume(p, "spec.mysql.volumeSpec", m.volume_spec.as_ref(), true);
    for (i, pvc) in m.sidecar_pvcs.iter().flatten().enumerate() {
        let ppath = format!("spec.mysql.sidecarPVCs[{i}]");
        required_str(p, &format!("{ppath}.name"), pvc.name.as_deref(), "the volume name sidecars mount");
        match &pvc.spec {
            Some(spec) => check_pvc(p, &format!("{ppath}.spec"), spec),
            None => p.push(format!("{ppath}.spec"), "is required: the PVC spec with a storage size"),
        }
    }
    if let Some(mode) = m.bootstrap.as_ref().and_then(|b| b.mode.as_deref()) {
        one_of(p, "spec.mysql.bootstrap.mode", Some(mode), &["auto", "manual"]);
    }
    validate_auto_config(p, m);

    match m.size {
        None => p.push(
            "spec.mysql.size",
            "is required: the number of MySQL servers (3, 5 or 7 for group replication, at least 2 for async)",
        ),
        Some(n) if n <= 0 => p.push("spec.mysql.size", format!("is {n}; it must be greater than 0")),
        // check_pod reported it: above dbdeck's ceiling no flag helps.
        Some(n) if i64::from(n) > crate::api::common::MAX_SIZE => {}
        Some(_) if flags.mysql_size() => {}
        Some(n) => {
            let hint = "set unsafeFlags.mysqlSize: true to override";
            let problem = match kind {
                Some(ClusterType::GroupReplication) if n < 3 => Some(format!(
                    "is {n}; group replication needs at least 3 members to keep a majority when one fails ({hint})"
                )),
                Some(ClusterType::GroupReplication) if n % 2 == 0 => Some(format!(
                    "is {n}; group replication needs an odd number of members (3, 5 or 7) so a majority always exists ({hint})"
                )),
                Some(ClusterType::GroupReplication) if n >= 9 => Some(format!(
                    "is {n}; group replication sizes of 9 or more are not allowed, use 3, 5 or 7 ({hint})"
                )),
                Some(ClusterType::Async) if n < 2 => {
                    Some(format!("is {n}; async replication needs at least 2 servers, a source and a replica ({hint})"))
                }
                Some(ClusterType::Async) if i64::from(n) > MAX_SAFE_SIZE => Some(format!(
                    "is {n}; above the safe maximum of {MAX_SAFE_SIZE} servers for async replication ({hint})"
                )),
                _ => None,
            };
            if let Some(msg) = problem {
                p.push(format!("{path}.size"), msg);
            }
        }
    }

    if kind == Some(ClusterType::Async) {
        for (i, env) in m.env.iter().flatten().enumerate() {
            check_async_env(p, &format!("spec.mysql.env[{i}].value"), env);
        }
    }
}

fn check_async_env(p: &mut Problems, path: &str, env: &EnvVar) {
    if !ASYNC_INT_ENV.contains(&env.name.as_str()) {
        return;
    }
    let value = env.value.as_deref().unwrap_or("");
    match value.parse::<i64>() {
        Ok(v) if v >= 0 => {}
        _ => p.push(path, format!("{} is \"{value}\"; it must be a whole number of 0 or more", env.name)),
    }
}

fn validate_auto_config(p: &mut Problems, m: &MySQLSpec) {
    let Some(ac) = &m.auto_config else { return };
    one_of(p, "spec.mysql.autoConfig.loadType", ac.load_type.as_deref(), &LOAD_TYPES);
    if let Some(v) = ac.version.as_deref() {
        let ok = v.split('.').count() <= 3
            && v.split('.').count() >= 2
            && v.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            p.push("spec.mysql.autoConfig.version", format!("\"{v}\" is not a MySQL version such as 8.4 or 8.0.36"));
        }
    }
    if ac.enabled != Some(true) {
        return;
    }
    required_str(
        p,
        "spec.mysql.autoConfig.version",
        ac.version.as_deref(),
        "the MySQL version to tune for, since autoConfig is enabled",
    );
    let get = |name: &str| {
        let r = m.resources.as_ref()?;
        r.limits.as_ref().and_then(|l| l.get(name)).or_else(|| r.requests.as_ref().and_then(|q| q.get(name)))
    };
    match get("cpu").map(|q| (q, quantity(q))) {
        None => p.push("spec.mysql.resources", "must set cpu (in limits or requests) when autoConfig is enabled"),
        Some((q, Some(v))) if v <= 0.0 => {
            p.push("spec.mysql.resources", format!("cpu {} must be greater than 0 when autoConfig is enabled", q.0))
        }
        _ => {}
    }
    match get("memory").map(|q| (q, quantity(q))) {
        None => p.push("spec.mysql.resources", "must set memory (in limits or requests) when autoConfig is enabled"),
        Some((q, Some(v))) if v < 12.0 * 1024.0 * 1024.0 => {
            p.push("spec.mysql.resources", format!("memory {} must be at least 12Mi when autoConfig is enabled", q.0))
        }
        _ => {}
    }
}

fn validate_storage_scaling(p: &mut Problems, s: Option<&StorageScalingSpec>) {
    let Some(s) = s else { return };
    let Some(a) = &s.autoscaling else { return };
    let path = "spec.storageScaling.autoscaling";
    if a.enabled == Some(true) && s.enable_volume_scaling != Some(true) {
        p.push(
            format!("{path}.enabled"),
            "autoscaling cannot be enabled while storageScaling.enableVolumeScaling is false",
        );
    }
    if let Some(t) = a.trigger_threshold_percent
        && !(50..=95).contains(&t)
    {
        p.push(format!("{path}.triggerThresholdPercent"), format!("is {t}; it must be between 50 and 95"));
    }
    if let Some(g) = a.growth_step.as_deref() {
        match parse_quantity(g) {
            Ok(v) if v <= 0.0 => {
                p.push(format!("{path}.growthStep"), format!("\"{g}\" must be a positive quantity such as 2Gi"))
            }
            Ok(_) => {}
            Err(e) => p.push(format!("{path}.growthStep"), e),
        }
    }
    if let Some(m) = a.max_size.as_deref() {
        match parse_quantity(m) {
            Ok(v) if v < 1024f64.powi(3) => {
                p.push(format!("{path}.maxSize"), format!("\"{m}\" is too small; maxSize must be at least 1Gi"))
            }
            Ok(_) => {}
            Err(e) => p.push(format!("{path}.maxSize"), e),
        }
    }
}

/// Names, databases and hosts end up inside SQL statements: Percona forbids backticks, quotes and backslashes.
fn validate_users(p: &mut Problems, users: Option<&[User]>) {
    let bad = |s: &str| s.contains(['`', '\'', '\\']);
    let mut seen = BTreeSet::new();
    for (i, u) in users.into_iter().flatten().enumerate() {
        let path = format!("spec.users[{i}]");
        match u.name.as_deref() {
            None | Some("") => p.push(format!("{path}.name"), "is required: the MySQL user name"),
            Some(n) if bad(n) => p.push(format!("{path}.name"), format!("\"{n}\" must not contain `, ' or \\")),
            Some(n) if !seen.insert(n.to_string()) => {
                p.push(format!("{path}.name"), format!("user \"{n}\" is listed more than once"))
            }
            Some(_) => {}
        }
        for (field, list) in [("dbs", &u.dbs), ("hosts", &u.hosts)] {
            for (j, v) in list.iter().flatten().enumerate() {
                if bad(v) {
                    p.push(format!("{path}.{field}[{j}]"), format!("\"{v}\" must not contain `, ' or \\"));
                }
            }
        }
        if let Some(r) = &u.password_secret_ref {
            required_secret(
                p,
                &format!("{path}.passwordSecretRef.name"),
                r.name.as_deref(),
                "the Secret holding the password",
            );
        }
    }
}

fn validate_backup_section(p: &mut Problems, b: &BackupSpec) {
    let path = "spec.backup";
    one_of(p, "spec.backup.imagePullPolicy", b.image_pull_policy.as_deref(), &PULL_POLICIES);
    check_resources(p, "spec.backup.resources", b.resources.as_ref());
    non_negative(p, "spec.backup.backoffLimit", b.backoff_limit);
    non_negative(p, "spec.backup.startingDeadlineSeconds", b.starting_deadline_seconds);
    non_negative(p, "spec.backup.suspendedDeadlineSeconds", b.suspended_deadline_seconds);
    if let Some(e) = &b.encryption_key_secret {
        required_secret(
            p,
            "spec.backup.encryptionKeySecret.name",
            e.name.as_deref(),
            "the Secret holding the encryption key",
        );
    }
    let enabled = b.enabled.unwrap_or(false);
    if enabled {
        required_str(p, "spec.backup.image", b.image.as_deref(), "the xtrabackup image, since backup is enabled");
    }
    check_image(p, "spec.backup.image", b.image.as_deref());
    let storages = b.storages.as_ref();
    if let Some(st) = storages
        && st.len() > 100
    {
        p.push("spec.backup.storages", format!("has {} storages; at most 100 are allowed", st.len()));
    }
    for (name, storage) in storages.into_iter().flatten() {
        validate_storage(p, &format!("{path}.storages.{name}"), storage);
    }

    let mut names = BTreeSet::new();
    for (i, sch) in b.schedule.iter().flatten().enumerate() {
        let spath = format!("{path}.schedule[{i}]");
        match sch.name.as_deref() {
            None | Some("") => p.push(format!("{spath}.name"), "is required: a name for this schedule"),
            Some(n) if !names.insert(n.to_string()) => p.push(
                format!("{spath}.name"),
                format!("schedule name \"{n}\" is used by more than one schedule; names must be unique"),
            ),
            Some(_) => {}
        }
        match sch.schedule.as_deref() {
            None | Some("") => p.push(format!("{spath}.schedule"), "is required: a cron line such as \"0 0 * * 6\""),
            Some(c) => check_cron(p, &format!("{spath}.schedule"), c),
        }
        match sch.storage_name.as_deref() {
            None | Some("") => p.push(format!("{spath}.storageName"), "is required: one of spec.backup.storages"),
            Some(sn) if !storages.is_some_and(|m| m.contains_key(sn)) => {
                let known: Vec<&str> = storages.into_iter().flat_map(|m| m.keys()).map(String::as_str).collect();
                let known = if known.is_empty() { "none are defined".to_string() } else { known.join(", ") };
                p.push(
                    format!("{spath}.storageName"),
                    format!("storage \"{sn}\" does not exist in spec.backup.storages (defined: {known})"),
                );
            }
            Some(_) => {}
        }
        non_negative(p, &format!("{spath}.keep"), sch.keep);
        one_of(p, &format!("{spath}.type"), sch.type_.as_deref(), &BACKUP_TYPES);
    }

    if let Some(pitr) = &b.pitr {
        let bpath = "spec.backup.pitr.binlogServer";
        if let Some(bs) = &pitr.binlog_server {
            validate_binlog_server(p, bpath, bs);
            if pitr.enabled == Some(true) {
                required_str(
                    p,
                    &format!("{bpath}.image"),
                    bs.image.as_deref(),
                    "the binlog server image, since pitr is enabled",
                );
                if bs.size.is_none_or(|s| s <= 0) {
                    p.push(format!("{bpath}.size"), "is required and must be 1 when pitr is enabled");
                }
            }
        }
    }
}

fn validate_binlog_server(p: &mut Problems, path: &str, bs: &BinlogServerSpec) {
    check_pod(p, path, pod_view!(bs));
    if let Some(n) = bs.size.filter(|&n| n > 1) {
        p.push(format!("{path}.size"), format!("is {n}; the binlog server runs at most 1 pod"));
    }
    let encryption = bs.storage.as_ref().and_then(|s| s.encryption.as_ref());
    if let Some(enc) = encryption {
        one_of(p, &format!("{path}.storage.encryption.cipher"), enc.cipher.as_deref(), &CIPHERS);
        if let Some(k) = &bs.keyring_secret {
            check_secret_name(p, &format!("{path}.keyringSecret.name"), k.name.as_deref());
        }
        if bs.keyring_secret.is_none() {
            p.push(
                format!("{path}.keyringSecret"),
                "is required when storage.encryption is set: the Secret with the keyring file",
            );
        }
    }
    if let Some(s3) = bs.storage.as_ref().and_then(|s| s.s3.as_ref()) {
        validate_s3(p, &format!("{path}.storage.s3"), s3);
    }
    for (field, v) in [("rewriteFileSize", &bs.rewrite_file_size), ("checkpointSize", &bs.checkpoint_size)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            check_quantity(p, &format!("{path}.{field}"), v);
        }
    }
    for (field, v) in [
        ("connectTimeout", bs.connect_timeout),
        ("readTimeout", bs.read_timeout),
        ("writeTimeout", bs.write_timeout),
        ("idleTime", bs.idle_time),
    ] {
        non_negative(p, &format!("{path}.{field}"), v);
    }
}

fn validate_s3(p: &mut Problems, path: &str, s3: &BackupStorageS3Spec) {
    required_str(p, &format!("{path}.bucket"), s3.bucket.as_deref(), "the S3 bucket (optionally bucket/prefix)");
    required_secret(
        p,
        &format!("{path}.credentialsSecret"),
        s3.credentials_secret.as_deref(),
        "the Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
    if let Some(ca) = &s3.ca_bundle {
        required_secret(p, &format!("{path}.caBundle.name"), ca.name.as_deref(), "the Secret holding the CA bundle");
    }
}

/// A storage's `type` must be s3, gcs or azure and come with the matching section (and only that one).
fn validate_storage(p: &mut Problems, path: &str, s: &BackupStorageSpec) {
    let sections = [("s3", s.s3.is_some()), ("gcs", s.gcs.is_some()), ("azure", s.azure.is_some())];
    match s.type_.as_deref() {
        None | Some("") => p.push(format!("{path}.type"), "is required: s3, gcs or azure"),
        Some(t) if !STORAGE_TYPES.contains(&t) => p.push(
            format!("{path}.type"),
            format!("\"{t}\" is not a storage type; use s3, gcs or azure (Percona has no PVC backup storage)"),
        ),
        Some(t) => {
            if !sections.iter().any(|(n, on)| *n == t && *on) {
                p.push(
                    format!("{path}.{t}"),
                    format!("is required: type is {t}, so the {t} section must describe where backups go"),
                );
            }
            for (n, on) in sections {
                if on && n != t {
                    p.push(
                        format!("{path}.{n}"),
                        format!(
                            "is set but type is {t}; the {n} section would be ignored (set type: {n} or remove it)"
                        ),
                    );
                }
            }
        }
    }
    if let Some(s3) = &s.s3 {
        validate_s3(p, &format!("{path}.s3"), s3);
    }
    if let Some(g) = &s.gcs {
        required_str(
            p,
            &format!("{path}.gcs.bucket"),
            g.bucket.as_deref(),
            "the GCS bucket (optionally bucket/prefix)",
        );
        required_secret(
            p,
            &format!("{path}.gcs.credentialsSecret"),
            g.credentials_secret.as_deref(),
            "the Secret with the GCS HMAC keys",
        );
    }
    if let Some(a) = &s.azure {
        required_str(
            p,
            &format!("{path}.azure.container"),
            a.container.as_deref(),
            "the Azure blob container (optionally container/prefix)",
        );
        required_secret(
            p,
            &format!("{path}.azure.credentialsSecret"),
            a.credentials_secret.as_deref(),
            "the Secret with AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
        );
    }
    check_volume(p, &format!("{path}.volumeSpec"), s.volume_spec.as_ref(), false);
    check_resources(p, &format!("{path}.resources"), s.resources.as_ref());
    check_args(p, &format!("{path}.containerOptions"), s.container_options.as_ref());
    if let Some(e) = &s.encryption_key_secret {
        required_secret(
            p,
            &format!("{path}.encryptionKeySecret.name"),
            e.name.as_deref(),
            "the Secret holding the encryption key",
        );
    }
}

/// Backup and restore names: DNS subdomains (lower case letters, digits, '-' and '.').
fn check_object_name(p: &mut Problems, name: Option<&str>) {
    let name = name.unwrap_or("");
    if name.is_empty() {
        p.push("metadata.name", "is required");
        return;
    }
    if name.len() > MAX_OBJECT_NAME_LEN {
        p.push(
            "metadata.name",
            format!("is {} characters long; at most {MAX_OBJECT_NAME_LEN} are allowed", name.len()),
        );
    }
    let ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !ok {
        p.push(
            "metadata.name",
            format!("\"{name}\" must consist of lower case letters, digits, '-' and '.', and start and end with a letter or digit"),
        );
    }
}

impl Validate for PerconaServerMySQLBackup {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_object_name(&mut p, self.metadata.name.as_deref());
        let s = &self.spec;
        required_str(&mut p, "spec.clusterName", s.cluster_name.as_deref(), "the PerconaServerMySQL to back up");
        required_str(
            &mut p,
            "spec.storageName",
            s.storage_name.as_deref(),
            "one of the cluster's spec.backup.storages",
        );
        one_of(&mut p, "spec.type", s.type_.as_deref(), &BACKUP_TYPES);
        if s.incremental_base_backup_name.is_some() && s.type_.as_deref() != Some("incremental") {
            p.push("spec.incrementalBaseBackupName", "only applies to type: incremental");
        }
        check_args(&mut p, "spec.containerOptions", s.container_options.as_ref());
        p
    }
}

impl Validate for PerconaServerMySQLRestore {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_object_name(&mut p, self.metadata.name.as_deref());
        let s = &self.spec;
        required_str(&mut p, "spec.clusterName", s.cluster_name.as_deref(), "the PerconaServerMySQL to restore into");
        let has_name = s.backup_name.as_deref().is_some_and(|n| !n.is_empty());
        match (&s.backup_source, has_name) {
            (None, false) => p.push(
                "spec.backupName",
                "is required: name a PerconaServerMySQLBackup, or give spec.backupSource (destination and storage)",
            ),
            (Some(_), true) => {
                p.push("spec.backupSource", "is set together with spec.backupName; give only one of them")
            }
            (Some(src), false) => {
                required_str(
                    &mut p,
                    "spec.backupSource.destination",
                    src.destination.as_deref(),
                    "where the backup lives, e.g. s3://bucket/prefix/backup-name",
                );
                match &src.storage {
                    Some(st) => validate_storage(&mut p, "spec.backupSource.storage", st),
                    None => p.push(
                        "spec.backupSource.storage",
                        "is required: the storage (type and its s3/gcs/azure section) holding the backup",
                    ),
                }
            }
            (None, true) => {}
        }
        check_args(&mut p, "spec.containerOptions", s.container_options.as_ref());
        if let Some(Some(pitr)) = &s.pitr {
            match pitr.type_.as_deref() {
                None | Some("") => p.push("spec.pitr.type", "is required: date or gtid"),
                Some("date") => match pitr.date.as_deref() {
                    None | Some("") => {
                        p.push("spec.pitr.date", "is required for type date, e.g. \"2026-01-31 23:59:00\"")
                    }
                    Some(d) => {
                        if chrono::NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").is_err() {
                            p.push("spec.pitr.date", format!("\"{d}\" is not a date in the form YYYY-MM-DD hh:mm:ss"));
                        }
                    }
                },
                Some("gtid") => required_str(
                    &mut p,
                    "spec.pitr.gtid",
                    pitr.gtid.as_deref(),
                    "the GTID to stop at, since type is gtid",
                ),
                Some(t) => p.push("spec.pitr.type", format!("\"{t}\" is not allowed; use date or gtid")),
            }
            if let Some(bs) = pitr.backup_source.as_ref().and_then(|b| b.binlog_server.as_ref()) {
                validate_binlog_server(&mut p, "spec.pitr.backupSource.binlogServer", bs);
            }
        }
        p
    }
}
