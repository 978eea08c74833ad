//! Percona's rules for the pxc.percona.com kinds, plus the syntax checks the API server would not make
//! (quantities, cron schedules, references between sections). Every problem is collected with its
//! field path; nothing stops at the first one.
//!
//! Rules come from Percona's `Validate` and `checkSafeDefaults` (`pkg/apis/pxc/v1/pxc_types.go`) and
//! the restore's `CheckNsetDefaults` (`pxc_prestore_types.go`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use super::defaults::{ON_DELETE, ROLLING_UPDATE, SMART_UPDATE};
use super::*;
use crate::api::common::{
    MAX_SAFE_SIZE, Problems, Validate, check_cron, check_dns_label, check_image, check_probe, check_quantity,
    check_resource_requirements, check_secret_name, check_size_bounds, check_size_ceiling, is_version,
};

/// Percona refuses longer cluster names (`clusterNameMaxLen`): object names derived from it must fit.
pub const CLUSTER_NAME_MAX_LEN: usize = 22;
/// Backup and restore names only have to be DNS labels.
pub const OBJECT_NAME_MAX_LEN: usize = 63;
/// `maxSafePXCSize` / `minSafeProxySize` and the odd-size rule in `checkSafeDefaults`.
pub const MIN_SAFE_PXC_SIZE: i32 = 3;
pub const MAX_SAFE_PXC_SIZE: i32 = 5;
pub const MIN_SAFE_PROXY_SIZE: i32 = 2;

fn check_resources(p: &mut Problems, path: &str, r: &Option<ResourceRequirements>) {
    check_resource_requirements(p, path, r.as_ref());
}

/// A volume must have a source; a claim must ask for a parseable, non-zero storage size.
fn check_volume(p: &mut Problems, path: &str, v: &VolumeSpec) {
    let Some(pvc) = &v.persistent_volume_claim else {
        if v.empty_dir.is_none() && v.host_path.is_none() {
            p.push(path, "needs one of persistentVolumeClaim, hostPath or emptyDir");
        }
        return;
    };
    let storage_path = format!("{path}.persistentVolumeClaim.resources.requests.storage");
    match pvc.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")) {
        None => p.push(storage_path, "is required: say how much storage each claim gets, e.g. 6G"),
        Some(Quantity(q)) => match crate::api::common::parse_quantity(q) {
            Ok(v) if v <= 0.0 => p.push(storage_path, format!("\"{q}\" must be greater than zero")),
            Ok(_) => {}
            Err(e) => p.push(storage_path, e),
        },
    }
    if let Some(r) = &pvc.resources {
        for (name, Quantity(q)) in r.limits.iter().flatten() {
            check_quantity(p, &format!("{path}.persistentVolumeClaim.resources.limits.{name}"), q);
        }
    }
}

/// Checks shared by the three component sections.
struct Component<'a> {
    path: &'a str,
    image: &'a Option<String>,
    resources: &'a Option<ResourceRequirements>,
    sidecar_resources: &'a Option<ResourceRequirements>,
    grace_period: Option<i64>,
    expose: Vec<(&'static str, &'a Option<ServiceExpose>)>,
    probes: [(&'static str, &'a Option<k8s_openapi::api::core::v1::Probe>); 2],
    secrets: [(&'static str, &'a Option<String>); 4],
}

/// The fields every component section shares (Percona's `PodSpec`), from any of the three.
macro_rules! component {
    ($path:expr, $c:expr, $expose:expr) => {
        Component {
            path: $path,
            image: &$c.image,
            resources: &$c.resources,
            sidecar_resources: &$c.sidecar_resources,
            grace_period: $c.grace_period,
            expose: $expose,
            probes: [("readinessProbes", &$c.readiness_probes), ("livenessProbes", &$c.liveness_probes)],
            secrets: [
                ("envVarsSecret", &$c.env_vars_secret),
                ("vaultSecretName", &$c.vault_secret_name),
                ("sslSecretName", &$c.ssl_secret_name),
                ("sslInternalSecretName", &$c.ssl_internal_secret_name),
            ],
        }
    };
}

fn check_component(p: &mut Problems, c: Component<'_>) {
    if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        p.push(format!("{}.image", c.path), "is required: name the container image to run");
    }
    check_image(p, &format!("{}.image", c.path), c.image.as_deref());
    for (field, probe) in c.probes {
        check_probe(p, &format!("{}.{field}", c.path), probe.as_ref());
    }
    for (field, secret) in c.secrets {
        check_secret_name(p, &format!("{}.{field}", c.path), secret.as_deref());
    }
    check_resources(p, &format!("{}.resources", c.path), c.resources);
    check_resources(p, &format!("{}.sidecarResources", c.path), c.sidecar_resources);
    if let Some(g) = c.grace_period.filter(|g| *g < 0) {
        p.push(format!("{}.gracePeriod", c.path), format!("{g} must not be negative (seconds)"));
    }
    for (field, expose) in c.expose {
        let Some(e) = expose else { continue };
        if let Some(t) = &e.type_
            && !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&t.as_str())
        {
            p.push(
                format!("{}.{field}.type", c.path),
                format!("\"{t}\" is not a Service type; use ClusterIP, NodePort or LoadBalancer"),
            );
        }
        if e.load_balancer_class.is_some() && e.type_.as_deref() != Some("LoadBalancer") {
            p.push(
                format!("{}.{field}.loadBalancerClass", c.path),
                "can only be set when the service type is LoadBalancer",
            );
        }
    }
}

impl Validate for PerconaXtraDBCluster {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        let name = self.name_any();
        check_dns_label(&mut p, "metadata.name", &name, CLUSTER_NAME_MAX_LEN);
        // Percona's documented rule is stricter than a DNS label: the name must start with a letter.
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            p.push("metadata.name", format!("\"{name}\" must start with a letter"));
        }
        let s = &self.spec;
        let flags = s.effective_unsafe_flags();
        for (field, v) in [
            ("secretsName", &s.secrets_name),
            ("vaultSecretName", &s.vault_secret_name),
            ("sslSecretName", &s.ssl_secret_name),
            ("sslInternalSecretName", &s.ssl_internal_secret_name),
            ("logCollectorSecretName", &s.log_collector_secret_name),
        ] {
            check_secret_name(&mut p, &format!("spec.{field}"), v.as_deref());
        }
        check_image(&mut p, "spec.initImage", s.init_image.as_deref());

        if let Some(v) = &s.cr_version
            && !is_version(v)
        {
            p.push("spec.crVersion", format!("\"{v}\" is not a version such as 1.20.0"));
        }

        // TLS.
        if !s.tls_enabled() && flags.tls != Some(true) {
            p.push(
                "spec.tls.enabled",
                "TLS must stay enabled; set spec.unsafeFlags.tls: true to run without it (not for production)",
            );
        }
        if let Some(tls) = &s.tls {
            check_tls_durations(&mut p, tls);
        }
        if let Some(pw) = &s.password_generation_options {
            check_password_options(&mut p, pw);
        }

        // Update strategy.
        if let Some(u) = &s.update_strategy {
            if ![SMART_UPDATE, ROLLING_UPDATE, ON_DELETE].contains(&u.as_str()) {
                p.push(
                    "spec.updateStrategy",
                    format!("\"{u}\" is not an update strategy; use SmartUpdate, RollingUpdate or OnDelete"),
                );
            } else if u == SMART_UPDATE && !s.haproxy_enabled() && !s.proxysql_enabled() {
                p.push(
                    "spec.updateStrategy",
                    "SmartUpdate needs HAProxy or ProxySQL enabled to find the primary; enable one or use RollingUpdate",
                );
            }
        }
        if let Some(sched) = s.upgrade_options.as_ref().and_then(|u| u.schedule.as_deref()) {
            check_cron(&mut p, "spec.upgradeOptions.schedule", sched);
        }

        if let Some(init) = &s.init_container {
            check_resources(&mut p, "spec.initContainer.resources", &init.resources);
        }

        // The Galera nodes.
        match &s.pxc {
            None => p.push("spec.pxc", "is required: the section describing the database nodes is missing"),
            Some(pxc) => validate_pxc(&mut p, pxc, &flags),
        }

        // Proxies.
        if s.haproxy_enabled() && s.proxysql_enabled() {
            p.push(
                "spec.proxysql.enabled",
                "HAProxy and ProxySQL cannot both be enabled; set spec.haproxy.enabled or spec.proxysql.enabled to false",
            );
        }
        if let Some(h) = s.haproxy.as_ref().filter(|h| h.enabled == Some(true)) {
            check_component(
                &mut p,
                component!(
                    "spec.haproxy",
                    h,
                    vec![("exposePrimary", &h.expose_primary), ("exposeReplicas", &h.expose_replicas)]
                ),
            );
            check_proxy_size(&mut p, "spec.haproxy.size", "HAProxy", h.size, &flags);
            if let Some(hc) = &h.health_check {
                for (field, v, min) in [("interval", hc.interval, 1000), ("fall", hc.fall, 1), ("rise", hc.rise, 1)] {
                    if let Some(v) = v.filter(|v| *v < min) {
                        p.push(
                            format!("spec.haproxy.healthCheck.{field}"),
                            format!("{v} is below the minimum of {min}"),
                        );
                    }
                }
            }
        }
        if let Some(x) = s.proxysql.as_ref().filter(|x| x.enabled == Some(true)) {
            check_component(&mut p, component!("spec.proxysql", x, vec![("expose", &x.expose)]));
            check_proxy_size(&mut p, "spec.proxysql.size", "ProxySQL", x.size, &flags);
            match &x.volume_spec {
                None => p.push("spec.proxysql.volumeSpec", "is required when ProxySQL is enabled"),
                Some(v) => check_volume(&mut p, "spec.proxysql.volumeSpec", v),
            }
        }

        if let Some(pmm) = &s.pmm {
            if pmm.enabled == Some(true) && pmm.image.as_deref().is_none_or(str::is_empty) {
                p.push("spec.pmm.image", "is required when PMM is enabled");
            }
            check_image(&mut p, "spec.pmm.image", pmm.image.as_deref());
            check_resources(&mut p, "spec.pmm.resources", &pmm.resources);
            check_probe(&mut p, "spec.pmm.livenessProbes", pmm.liveness_probes.as_ref());
            check_probe(&mut p, "spec.pmm.readinessProbes", pmm.readiness_probes.as_ref());
        }
        if let Some(l) = &s.logcollector {
            if l.enabled == Some(true) && l.image.as_deref().is_none_or(str::is_empty) {
                p.push("spec.logcollector.image", "is required when the log collector is enabled");
            }
            check_image(&mut p, "spec.logcollector.image", l.image.as_deref());
            check_resources(&mut p, "spec.logcollector.resources", &l.resources);
        }

        if let Some(b) = &s.backup {
            validate_backup_section(&mut p, b);
        }

        let mut seen = BTreeSet::new();
        for (i, u) in s.users.iter().flatten().enumerate() {
            let path = format!("spec.users[{i}]");
            if u.name.is_empty() {
                p.push(format!("{path}.name"), "is required");
            } else if !seen.insert(u.name.as_str()) {
                p.push(format!("{path}.name"), format!("user \"{}\" is listed more than once", u.name));
            }
            if let Some(r) = &u.password_secret_ref {
                if r.name.is_empty() {
                    p.push(
                        format!("{path}.passwordSecretRef.name"),
                        "is required: name the Secret holding the password",
                    );
                }
                check_secret_name(&mut p, &format!("{path}.passwordSecretRef.name"), Some(&r.name));
            }
        }
        p
    }
}

/// Go durations in hours/minutes/seconds; the CA must outlive the certificates it signs.
fn check_tls_durations(p: &mut Problems, tls: &TlsSpec) {
    let parse = |p: &mut Problems, field: &str, v: &Option<String>| -> Option<u64> {
        let v = v.as_deref()?;
        let secs = crate::api::common::parse_go_duration(v);
        if secs.is_none() {
            p.push(
                format!("spec.tls.{field}"),
                format!("\"{v}\" is not a duration such as 2160h (hours, minutes, seconds)"),
            );
        }
        secs
    };
    let cert = parse(p, "certValidityDuration", &tls.cert_validity_duration);
    let ca = parse(p, "caValidityDuration", &tls.ca_validity_duration);
    if let (Some(cert), Some(ca)) = (cert, ca)
        && ca < cert
    {
        p.push(
            "spec.tls.caValidityDuration",
            "must not be shorter than certValidityDuration: the CA would expire before the certificates it signed",
        );
    }
}

fn check_password_options(p: &mut Problems, pw: &PasswordGenerationOptions) {
    for (field, v) in [("minLength", pw.min_length), ("maxLength", pw.max_length)] {
        if let Some(v) = v.filter(|v| !(8..=32).contains(v)) {
            p.push(format!("spec.passwordGenerationOptions.{field}"), format!("{v} is outside the allowed 8 to 32"));
        }
    }
    if let (Some(min), Some(max)) = (pw.min_length, pw.max_length)
        && max < min
    {
        p.push("spec.passwordGenerationOptions.maxLength", format!("{max} is smaller than minLength {min}"));
    }
    if let Some(sym) = pw.symbols.as_deref().filter(|s| s.chars().count() > 32) {
        p.push(
            "spec.passwordGenerationOptions.symbols",
            format!("has {} characters; at most 32 are allowed", sym.chars().count()),
        );
    }
}

fn validate_pxc(p: &mut Problems, pxc: &PxcSpec, flags: &UnsafeFlags) {
    check_component(p, component!("spec.pxc", pxc, vec![("expose", &pxc.expose)]));
    // An unset size takes the default of 3 (`with_defaults`); Percona itself would read it as 0.
    let size = pxc.size.unwrap_or(defaults::PXC_SIZE);
    if size < 0 {
        p.push("spec.pxc.size", format!("{size} must not be negative"));
    } else if !check_size_ceiling(p, "spec.pxc.size", size.into()) && flags.pxc_size != Some(true) {
        // (Above the ceiling no flag helps, so the safe-size advice would mislead.)
        let override_hint = "set spec.unsafeFlags.pxcSize: true to allow it";
        if size < MIN_SAFE_PXC_SIZE {
            p.push(
                "spec.pxc.size",
                format!("{size} is too small: Galera needs at least {MIN_SAFE_PXC_SIZE} nodes to keep quorum; {override_hint}"),
            );
        } else if size > MAX_SAFE_PXC_SIZE {
            p.push(
                "spec.pxc.size",
                format!("{size} is too large: at most {MAX_SAFE_PXC_SIZE} nodes are safe; {override_hint}"),
            );
        } else if size % 2 == 0 {
            p.push(
                "spec.pxc.size",
                format!("must be odd (3 or 5) so a network split leaves a majority, got {size}; {override_hint}"),
            );
        }
    }
    if let Some(a) = pxc.mysql_allocator.as_deref().filter(|a| !["jemalloc", "tcmalloc"].contains(a)) {
        p.push("spec.pxc.mysqlAllocator", format!("\"{a}\" is not supported; use jemalloc or tcmalloc"));
    }
    match &pxc.volume_spec {
        None => p.push("spec.pxc.volumeSpec", "is required: say where the database keeps its data (e.g. a 6G claim)"),
        Some(v) => check_volume(p, "spec.pxc.volumeSpec", v),
    }

    let channels = pxc.replication_channels.as_deref().unwrap_or_default();
    let first_is_source = channels.first().map(|c| c.is_source == Some(true));
    for (i, ch) in channels.iter().enumerate() {
        let path = format!("spec.pxc.replicationChannels[{i}]");
        let name = ch.name.as_deref().unwrap_or("");
        if name.is_empty() {
            p.push(format!("{path}.name"), "is required");
        } else if name.len() > 64 {
            p.push(format!("{path}.name"), format!("\"{name}\" is longer than MySQL's 64-character channel limit"));
        } else if name == "group_replication_applier" || name == "group_replication_recovery" {
            p.push(format!("{path}.name"), format!("\"{name}\" is reserved by MySQL"));
        }
        let is_source = ch.is_source == Some(true);
        if Some(is_source) != first_is_source {
            p.push(
                format!("{path}.isSource"),
                "every channel must have the same isSource value: a cluster is either a source or a replica",
            );
        }
        if is_source {
            continue;
        }
        if ch.sources_list.as_deref().is_none_or(<[_]>::is_empty) {
            p.push(format!("{path}.sourcesList"), "a replica channel needs at least one source host");
        }
        for (j, src) in ch.sources_list.iter().flatten().enumerate() {
            if src.host.as_deref().is_none_or(str::is_empty) {
                p.push(format!("{path}.sourcesList[{j}].host"), "is required");
            }
        }
        if let Some(cfg) = &ch.configuration
            && cfg.ssl == Some(true)
            && cfg.ca.as_deref().is_none_or(str::is_empty)
        {
            p.push(format!("{path}.configuration.ca"), "is required when ssl is true: give the CA file path");
        }
    }
}

fn check_proxy_size(p: &mut Problems, path: &str, what: &str, size: Option<i32>, flags: &UnsafeFlags) {
    let size = size.unwrap_or(defaults::PROXY_SIZE);
    if size < 0 {
        p.push(path, format!("{size} must not be negative"));
    } else if !check_size_bounds(
        p,
        path,
        size.into(),
        MAX_SAFE_SIZE,
        flags.proxy_size == Some(true),
        "set spec.unsafeFlags.proxySize: true",
    ) && size < MIN_SAFE_PROXY_SIZE
        && flags.proxy_size != Some(true)
    {
        p.push(
            path,
            format!(
                "{what} size {size} is below the safe minimum of {MIN_SAFE_PROXY_SIZE}; set spec.unsafeFlags.proxySize: true to allow it"
            ),
        );
    }
}

fn validate_backup_section(p: &mut Problems, b: &BackupSpec) {
    if b.image.as_deref().is_none_or(str::is_empty) {
        p.push("spec.backup.image", "is required: name the xtrabackup image backups run with");
    }
    check_image(p, "spec.backup.image", b.image.as_deref());
    let empty = BTreeMap::new();
    let storages = b.storages.as_ref().unwrap_or(&empty);
    for (name, st) in storages {
        validate_storage(p, &format!("spec.backup.storages.{name}"), st);
    }
    let known = || storages.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
    let unknown = |name: &str| {
        if storages.is_empty() {
            format!("storage \"{name}\" does not exist: spec.backup.storages is empty")
        } else {
            format!("storage \"{name}\" does not exist in spec.backup.storages (defined: {})", known())
        }
    };

    if let Some(pitr) = &b.pitr {
        if pitr.enabled == Some(true) {
            match pitr.storage_name.as_deref() {
                None | Some("") => {
                    p.push("spec.backup.pitr.storageName", "is required when point-in-time recovery is enabled")
                }
                Some(n) if !storages.contains_key(n) => p.push("spec.backup.pitr.storageName", unknown(n)),
                Some(_) => {}
            }
        }
        check_resources(p, "spec.backup.pitr.resources", &pitr.resources);
        for (field, v) in
            [("timeBetweenUploads", &pitr.time_between_uploads), ("timeoutSeconds", &pitr.timeout_seconds)]
        {
            if let Some(n) = v.as_ref().and_then(|n| n.as_f64()).filter(|n| *n < 0.0) {
                p.push(format!("spec.backup.pitr.{field}"), format!("{n} must not be negative (seconds)"));
            }
        }
    }

    let mut names = BTreeSet::new();
    for (i, sch) in b.schedule.iter().flatten().enumerate() {
        let path = format!("spec.backup.schedule[{i}]");
        if sch.name.is_empty() {
            p.push(format!("{path}.name"), "is required");
        } else if !names.insert(sch.name.as_str()) {
            p.push(format!("{path}.name"), format!("schedule \"{}\" is defined more than once", sch.name));
        }
        if sch.schedule.is_empty() {
            p.push(format!("{path}.schedule"), "is required: a cron schedule such as \"0 0 * * *\"");
        } else {
            check_cron(p, &format!("{path}.schedule"), &sch.schedule);
        }
        if sch.storage_name.is_empty() {
            p.push(format!("{path}.storageName"), "is required: name one of spec.backup.storages");
        } else if !storages.contains_key(&sch.storage_name) {
            p.push(format!("{path}.storageName"), unknown(&sch.storage_name));
        }
        if let Some(k) = sch.keep.filter(|k| *k < 0) {
            p.push(format!("{path}.keep"), format!("{k} must not be negative"));
        }
        if let Some(r) = &sch.retention {
            if let Some(t) = r.type_.as_deref().filter(|t| *t != "count") {
                p.push(format!("{path}.retention.type"), format!("\"{t}\" is not supported; the only type is count"));
            }
            if let Some(c) = r.count.filter(|c| *c < 0) {
                p.push(format!("{path}.retention.count"), format!("{c} must not be negative"));
            }
        }
    }
    for (field, v) in [
        ("backoffLimit", b.backoff_limit.map(i64::from)),
        ("activeDeadlineSeconds", b.active_deadline_seconds),
        ("startingDeadlineSeconds", b.starting_deadline_seconds),
        ("suspendedDeadlineSeconds", b.suspended_deadline_seconds),
        ("runningDeadlineSeconds", b.running_deadline_seconds),
        ("ttlSecondsAfterFinished", b.ttl_seconds_after_finished.map(i64::from)),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            p.push(format!("spec.backup.{field}"), format!("{v} must not be negative"));
        }
    }
}

/// The storage type decides which sub-section must be filled in.
fn validate_storage(p: &mut Problems, path: &str, st: &BackupStorageSpec) {
    match st.type_.as_str() {
        storage_type::S3 => match &st.s3 {
            None => p.push(format!("{path}.s3"), "is required for type s3: give bucket and credentialsSecret"),
            Some(s3) => {
                if s3.bucket.is_empty() {
                    p.push(format!("{path}.s3.bucket"), "is required for type s3");
                }
                if s3.credentials_secret.is_empty() {
                    p.push(
                        format!("{path}.s3.credentialsSecret"),
                        "is required for type s3: name the Secret with the access keys",
                    );
                }
                check_secret_name(p, &format!("{path}.s3.credentialsSecret"), Some(&s3.credentials_secret));
            }
        },
        storage_type::AZURE => match &st.azure {
            None => p.push(format!("{path}.azure"), "is required for type azure: give container and credentialsSecret"),
            Some(az) => {
                if az.container.is_empty() {
                    p.push(format!("{path}.azure.container"), "is required for type azure");
                }
                if az.credentials_secret.is_empty() {
                    p.push(
                        format!("{path}.azure.credentialsSecret"),
                        "is required for type azure: name the Secret with the storage account keys",
                    );
                }
                check_secret_name(p, &format!("{path}.azure.credentialsSecret"), Some(&az.credentials_secret));
            }
        },
        storage_type::FILESYSTEM => match &st.volume {
            None => p.push(format!("{path}.volume"), "is required for type filesystem: give a persistentVolumeClaim"),
            Some(v) => check_volume(p, &format!("{path}.volume"), v),
        },
        "" => p.push(format!("{path}.type"), "is required: one of s3, azure or filesystem"),
        other => {
            p.push(format!("{path}.type"), format!("\"{other}\" is not a storage type; use s3, azure or filesystem"))
        }
    }
    check_resources(p, &format!("{path}.resources"), &st.resources);
}

impl Validate for PerconaXtraDBClusterBackup {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_dns_label(&mut p, "metadata.name", &self.name_any(), OBJECT_NAME_MAX_LEN);
        let s = &self.spec;
        if s.pxc_cluster.is_empty() {
            p.push("spec.pxcCluster", "is required: name the PerconaXtraDBCluster to back up");
        }
        if s.storage_name.as_deref().is_none_or(str::is_empty) {
            p.push("spec.storageName", "is required: name one of the cluster's spec.backup.storages");
        }
        for (field, v) in [
            ("activeDeadlineSeconds", s.active_deadline_seconds),
            ("startingDeadlineSeconds", s.starting_deadline_seconds),
            ("suspendedDeadlineSeconds", s.suspended_deadline_seconds),
            ("runningDeadlineSeconds", s.running_deadline_seconds),
        ] {
            if let Some(v) = v.filter(|v| *v < 0) {
                p.push(format!("spec.{field}"), format!("{v} must not be negative"));
            }
        }
        p
    }
}

impl PerconaXtraDBClusterBackup {
    /// Checks against the cluster the backup names: its storage must exist there.
    pub fn validate_against(&self, cluster: &PerconaXtraDBCluster) -> Problems {
        let mut p = Problems::new();
        let Some(name) = self.spec.storage_name.as_deref().filter(|n| !n.is_empty()) else { return p };
        let storages = cluster.spec.backup.as_ref().and_then(|b| b.storages.as_ref());
        if !storages.is_some_and(|s| s.contains_key(name)) {
            let defined = storages.map(|s| s.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
            p.push(
                "spec.storageName",
                format!(
                    "storage \"{name}\" does not exist in cluster {}'s spec.backup.storages (defined: {})",
                    cluster.name_any(),
                    if defined.is_empty() { "none" } else { &defined }
                ),
            );
        }
        p
    }
}

fn check_backup_source(p: &mut Problems, path: &str, src: &RestoreBackupSource, need_destination: bool) {
    match src.destination.as_deref() {
        None | Some("") if need_destination => p.push(
            format!("{path}.destination"),
            "is required: s3://bucket/backup, azure://container/backup or pvc/name",
        ),
        None | Some("") => {}
        Some(d) if d.starts_with("s3://") => {
            if src.s3.is_none() && src.storage_name.is_none() {
                p.push(format!("{path}.s3"), "is required for an s3:// destination: give bucket and credentialsSecret");
            }
        }
        Some(d) if d.starts_with("azure://") => {
            if src.azure.is_none() && src.storage_name.is_none() {
                p.push(
                    format!("{path}.azure"),
                    "is required for an azure:// destination: give container and credentialsSecret",
                );
            }
        }
        Some(d) if d.starts_with("pvc/") => {}
        Some(d) => p.push(format!("{path}.destination"), format!("\"{d}\" must start with s3://, azure:// or pvc/")),
    }
    if let Some(s3) = &src.s3 {
        if s3.credentials_secret.is_empty() {
            p.push(format!("{path}.s3.credentialsSecret"), "is required: name the Secret with the access keys");
        }
        check_secret_name(p, &format!("{path}.s3.credentialsSecret"), Some(&s3.credentials_secret));
    }
    if let Some(az) = &src.azure {
        if az.credentials_secret.is_empty() {
            p.push(
                format!("{path}.azure.credentialsSecret"),
                "is required: name the Secret with the storage account keys",
            );
        }
        check_secret_name(p, &format!("{path}.azure.credentialsSecret"), Some(&az.credentials_secret));
    }
}

impl Validate for PerconaXtraDBClusterRestore {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_dns_label(&mut p, "metadata.name", &self.name_any(), OBJECT_NAME_MAX_LEN);
        let s = &self.spec;
        if s.pxc_cluster.is_empty() {
            p.push("spec.pxcCluster", "is required: name the PerconaXtraDBCluster to restore into");
        }
        let has_name = s.backup_name.as_deref().is_some_and(|n| !n.is_empty());
        match (&s.backup_source, has_name) {
            (None, false) => p.push(
                "spec.backupName",
                "is required: name a PerconaXtraDBClusterBackup, or give spec.backupSource with the backup's location",
            ),
            (Some(_), true) => {
                p.push("spec.backupSource", "cannot be used together with spec.backupName; keep one of them")
            }
            (Some(src), false) => check_backup_source(&mut p, "spec.backupSource", src, true),
            (None, true) => {}
        }
        if let Some(pitr) = &s.pitr {
            match pitr.type_.as_str() {
                "latest" => {
                    for (field, v) in [("date", &pitr.date), ("gtid", &pitr.gtid)] {
                        if v.as_deref().is_some_and(|v| !v.is_empty()) {
                            p.push(format!("spec.pitr.{field}"), "must not be set when type is latest");
                        }
                    }
                }
                "date" => match pitr.date.as_deref() {
                    None | Some("") => p.push("spec.pitr.date", "is required for type date: \"YYYY-MM-DD hh:mm:ss\""),
                    Some(d) if chrono::NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").is_err() => {
                        p.push("spec.pitr.date", format!("\"{d}\" is not a time in the form \"YYYY-MM-DD hh:mm:ss\""))
                    }
                    Some(_) => {}
                },
                "transaction" | "skip" => {
                    if pitr.gtid.as_deref().is_none_or(str::is_empty) {
                        p.push(
                            "spec.pitr.gtid",
                            format!("is required for type {}: give the GTID (uuid:number)", pitr.type_),
                        );
                    }
                }
                "" => p.push("spec.pitr.type", "is required: one of latest, date, transaction or skip"),
                other => p.push(
                    "spec.pitr.type",
                    format!("\"{other}\" is not a recovery type; use latest, date, transaction or skip"),
                ),
            }
            match &pitr.backup_source {
                Some(src)
                    if src.storage_name.as_deref().is_none_or(str::is_empty)
                        && src.s3.is_none()
                        && src.azure.is_none() =>
                {
                    p.push(
                        "spec.pitr.backupSource.storageName",
                        "is required: name the storage holding the binlogs, or give s3/azure details",
                    )
                }
                Some(src) => check_backup_source(&mut p, "spec.pitr.backupSource", src, false),
                None => {}
            }
        }
        check_resources(&mut p, "spec.resources", &s.resources);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_needs_a_source_and_a_size() {
        let mut p = Problems::new();
        check_volume(&mut p, "v", &VolumeSpec::default());
        assert_eq!(p.0[0].path, "v");
        let mut p = Problems::new();
        check_volume(
            &mut p,
            "v",
            &VolumeSpec { persistent_volume_claim: Some(Default::default()), ..Default::default() },
        );
        assert_eq!(p.0[0].path, "v.persistentVolumeClaim.resources.requests.storage");
        let mut p = Problems::new();
        check_volume(&mut p, "v", &VolumeSpec { empty_dir: Some(Default::default()), ..Default::default() });
        assert!(p.is_empty());
    }

    #[test]
    fn zero_storage_is_rejected() {
        let pvc = k8s_openapi::api::core::v1::PersistentVolumeClaimSpec {
            resources: Some(k8s_openapi::api::core::v1::VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity("0".into()))])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut p = Problems::new();
        check_volume(&mut p, "v", &VolumeSpec { persistent_volume_claim: Some(pvc), ..Default::default() });
        assert!(p.0[0].message.contains("greater than zero"), "{p}");
    }

    #[test]
    fn proxy_size_default_is_safe() {
        let mut p = Problems::new();
        check_proxy_size(&mut p, "x", "HAProxy", None, &UnsafeFlags::default());
        check_proxy_size(&mut p, "x", "HAProxy", Some(2), &UnsafeFlags::default());
        assert!(p.is_empty());
        check_proxy_size(&mut p, "x", "HAProxy", Some(0), &UnsafeFlags::default());
        assert_eq!(p.len(), 1);
    }
}
