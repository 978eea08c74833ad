//! Percona's rules for PerconaPGCluster, PerconaPGBackup and PerconaPGRestore, collected all at once.
//!
//! Rules come from Percona's CRD markers and CEL rules, its `PerconaPGCluster.Validate()`, the Crunchy CRD rules
//! it embeds, and the documented name limit. PostgreSQL clusters have no `unsafeFlags`: none of Percona's rules can be
//! overridden, so messages say what to change instead. dbdeck's own safe bound on sizes (Percona has none) is lifted
//! by the annotation `dbdeck.io/allow-unsafe-size: "true"`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use kube::Resource;
use serde_json::Value;

use super::{PerconaPGBackup, PerconaPGCluster, PerconaPGRestore, PgBackRestRepo, PgBouncer, ServiceExpose};
use crate::api::common::{
    ALLOW_UNSAFE_SIZE, MAX_SAFE_SIZE, MAX_SIZE, Problems, Validate, check_cron, check_dns_label, check_image,
    check_probe, check_quantity, check_resource_requirements, check_secret_name, check_size_bounds,
};

/// Percona's documented limit for a PostgreSQL cluster name.
pub const MAX_CLUSTER_NAME_LEN: usize = 22;
/// Crunchy: cluster name + instance set name must stay within 46 characters (label values and pod names).
const MAX_CLUSTER_PLUS_SET_LEN: usize = 46;
/// `spec.postgresVersion` bounds in Percona's CRD (19 is a 3.1.0 tech preview).
pub const MIN_POSTGRES_VERSION: i64 = 12;
pub const MAX_POSTGRES_VERSION: i64 = 19;

const PULL_POLICIES: [&str; 3] = ["Always", "Never", "IfNotPresent"];
const SERVICE_TYPES: [&str; 3] = ["ClusterIP", "NodePort", "LoadBalancer"];

fn is_repo_name(name: &str) -> bool {
    matches!(name, "repo1" | "repo2" | "repo3" | "repo4")
}

/// `^[0-9]+\.[0-9]+\.[0-9]+([-+][a-zA-Z0-9.+-]+)?$`, Percona's crVersion rule.
fn is_semver(v: &str) -> bool {
    let (core, suffix) = match v.find(['-', '+']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && suffix.is_none_or(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
}

/// A DNS-1123 subdomain, the rule for names of backup and restore objects.
fn check_object_name(p: &mut Problems, path: &str, name: Option<&str>) {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        p.push(path, "is required: every object needs a name");
        return;
    };
    if name.len() > 253 {
        p.push(path, format!("\"{name}\" is {} characters long; at most 253 are allowed", name.len()));
    }
    let ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !ok {
        p.push(
            path,
            format!("\"{name}\" must consist of lower case letters, digits, '-' and '.', and start and end with a letter or digit"),
        );
    }
}

fn check_one_of(p: &mut Problems, path: &str, value: Option<&str>, allowed: &[&str]) {
    if let Some(v) = value
        && !allowed.contains(&v)
    {
        p.push(path, format!("\"{v}\" is not supported; use one of: {}", allowed.join(", ")));
    }
}

fn check_port(p: &mut Problems, path: &str, port: Option<i32>) {
    if let Some(port) = port
        && !(1024..=65535).contains(&port)
    {
        p.push(path, format!("{port} is out of range: PostgreSQL and pgBouncer ports must be 1024..65535"));
    }
}

fn check_resources(p: &mut Problems, path: &str, r: Option<&ResourceRequirements>) {
    check_resource_requirements(p, path, r);
}

/// Extra containers: image, resources and probes as the API server would check them.
fn check_containers(p: &mut Problems, path: &str, containers: Option<&[k8s_openapi::api::core::v1::Container]>) {
    for (j, c) in containers.unwrap_or_default().iter().enumerate() {
        let cpath = format!("{path}[{j}]");
        check_image(p, &format!("{cpath}.image"), c.image.as_deref());
        check_resources(p, &format!("{cpath}.resources"), c.resources.as_ref());
        for (field, probe) in [
            ("livenessProbe", &c.liveness_probe),
            ("readinessProbe", &c.readiness_probe),
            ("startupProbe", &c.startup_probe),
        ] {
            check_probe(p, &format!("{cpath}.{field}"), probe.as_ref());
        }
    }
}

/// A claim must ask for storage (Crunchy's CEL rule) and name at least one access mode.
fn check_claim(p: &mut Problems, path: &str, claim: Option<&PersistentVolumeClaimSpec>, required: bool) {
    let Some(claim) = claim else {
        if required {
            p.push(
                path,
                "is required: describe the volume, e.g. accessModes [ReadWriteOnce] and resources.requests.storage 1Gi",
            );
        }
        return;
    };
    if claim.access_modes.as_ref().is_none_or(|m| m.is_empty()) {
        p.push(format!("{path}.accessModes"), "must list at least one access mode, e.g. ReadWriteOnce");
    }
    let storage = claim.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"));
    match storage {
        Some(q) => check_quantity(p, &format!("{path}.resources.requests.storage"), &q.0),
        None => p.push(
            format!("{path}.resources.requests.storage"),
            "is required: how much storage the volume gets, e.g. 1Gi",
        ),
    }
    for (name, q) in claim.resources.as_ref().and_then(|r| r.limits.as_ref()).into_iter().flatten() {
        check_quantity(p, &format!("{path}.resources.limits.{name}"), &q.0);
    }
}

fn check_expose(p: &mut Problems, path: &str, e: Option<&ServiceExpose>) {
    let Some(e) = e else { return };
    check_one_of(p, &format!("{path}.type"), e.type_.as_deref(), &SERVICE_TYPES);
    if let Some(port) = e.node_port
        && !(1..=65535).contains(&port)
    {
        p.push(format!("{path}.nodePort"), format!("{port} is not a valid port"));
    }
}

impl Validate for PerconaPGCluster {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        let name = self.meta().name.clone().unwrap_or_default();
        if name.is_empty() {
            p.push("metadata.name", "is required: every cluster needs a name");
        } else {
            check_dns_label(&mut p, "metadata.name", &name, MAX_CLUSTER_NAME_LEN);
            if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                p.push(
                    "metadata.name",
                    format!("\"{name}\" must start with a letter (Percona's rule for cluster names)"),
                );
            }
        }
        let s = &self.spec;
        let unsafe_size =
            self.meta().annotations.as_ref().and_then(|a| a.get(ALLOW_UNSAFE_SIZE)).is_some_and(|v| v == "true");
        check_image(&mut p, "spec.image", s.image.as_deref());
        if let Some(secrets) = &s.secrets {
            for (field, sp) in [
                ("customTLSSecret", &secrets.custom_tls_secret),
                ("customReplicationTLSSecret", &secrets.custom_replication_tls_secret),
                ("customRootCATLSSecret", &secrets.custom_root_ca_tls_secret),
            ] {
                if let Some(sp) = sp {
                    check_secret_name(&mut p, &format!("spec.secrets.{field}.name"), Some(&sp.name));
                }
            }
        }

        if let Some(v) = &s.cr_version
            && !is_semver(v)
        {
            p.push("spec.crVersion", format!("\"{v}\" is not a version such as 3.1.0"));
        }
        let pg_version = s.postgres_version;
        match pg_version {
            None => p.push("spec.postgresVersion", "is required: the major PostgreSQL version of the image, e.g. 18"),
            Some(v) if !(MIN_POSTGRES_VERSION..=MAX_POSTGRES_VERSION).contains(&v) => p.push(
                "spec.postgresVersion",
                format!("{v} is not supported: Percona's operator runs PostgreSQL {MIN_POSTGRES_VERSION} to {MAX_POSTGRES_VERSION}"),
            ),
            Some(_) => {}
        }
        check_one_of(&mut p, "spec.imagePullPolicy", s.image_pull_policy.as_deref(), &PULL_POLICIES);
        check_port(&mut p, "spec.port", s.port);
        check_expose(&mut p, "spec.expose", s.expose.as_ref());
        check_expose(&mut p, "spec.exposeReplicas", s.expose_replicas.as_ref());

        if let Some(tls) = &s.tls {
            check_one_of(
                &mut p,
                "spec.tls.certManagementPolicy",
                tls.cert_management_policy.as_deref(),
                &["auto", "userProvidedOnly", "operatorProvidedOnly"],
            );
        }
        if let Some(secrets) = &s.secrets
            && secrets.custom_tls_secret.is_some() != secrets.custom_replication_tls_secret.is_some()
        {
            p.push(
                "spec.secrets",
                "customTLSSecret and customReplicationTLSSecret must be given together (signed by the same CA)",
            );
        }

        validate_instances(&mut p, &name, s.instances.as_deref(), unsafe_size);
        if let Some(b) = s.proxy.as_ref().and_then(|p| p.pg_bouncer.as_ref()) {
            validate_bouncer(&mut p, b, unsafe_size);
        }
        validate_users(&mut p, s.users.as_deref(), pg_version);
        validate_logical_replicas(&mut p, self);
        let repos = validate_backups(&mut p, self);

        if let Some(sb) = &s.standby
            && sb.enabled.unwrap_or(false)
        {
            if sb.host.as_deref().unwrap_or("").is_empty() && sb.repo_name.as_deref().unwrap_or("").is_empty() {
                p.push(
                    "spec.standby",
                    "a standby needs a source: set host (streaming) and/or repoName (WAL from a repo)",
                );
            }
            if let Some(repo) = sb.repo_name.as_deref()
                && !repos.contains(repo)
            {
                p.push("spec.standby.repoName", format!("\"{repo}\" is not defined in spec.backups.pgbackrest.repos"));
            }
            check_port(&mut p, "spec.standby.port", sb.port);
            if let Some(q) = &sb.max_acceptable_lag {
                check_quantity(&mut p, "spec.standby.maxAcceptableLag", &q.0);
            }
        }

        if let Some(pat) = &s.patroni {
            if let Some(v) = pat.sync_period_seconds
                && v < 1
            {
                p.push("spec.patroni.syncPeriodSeconds", format!("{v} is too small; at least 1 second"));
            }
            if let Some(v) = pat.leader_lease_duration_seconds
                && v < 3
            {
                p.push("spec.patroni.leaderLeaseDurationSeconds", format!("{v} is too small; at least 3 seconds"));
            }
            let wal_level = pat
                .dynamic_configuration
                .as_ref()
                .and_then(|d| d.pointer("/postgresql/parameters/wal_level"))
                .and_then(Value::as_str);
            if let Some(level) = wal_level
                && !["logical", "replica"].contains(&level)
            {
                p.push(
                    "spec.patroni.dynamicConfiguration.postgresql.parameters.wal_level",
                    format!("\"{level}\" is not allowed; Percona accepts logical or replica"),
                );
            }
        }

        if let Some(pmm) = &s.pmm {
            check_one_of(
                &mut p,
                "spec.pmm.querySource",
                pmm.query_source.as_deref(),
                &["pgstatmonitor", "pgstatstatements"],
            );
            check_one_of(&mut p, "spec.pmm.imagePullPolicy", pmm.image_pull_policy.as_deref(), &PULL_POLICIES);
            check_resources(&mut p, "spec.pmm.resources", pmm.resources.as_ref());
            check_image(&mut p, "spec.pmm.image", pmm.image.as_deref());
            check_secret_name(&mut p, "spec.pmm.secret", pmm.secret.as_deref());
            if pmm.enabled.unwrap_or(false) {
                if pmm.server_host.as_deref().unwrap_or("").is_empty() {
                    p.push("spec.pmm.serverHost", "is required when PMM is enabled: the PMM server's address");
                }
                if pmm.image.as_deref().unwrap_or("").is_empty() {
                    p.push("spec.pmm.image", "is required when PMM is enabled");
                }
            }
        }

        if let Some(ext) = &s.extensions {
            let flag = |name: &str| {
                let new = ext.extra.get(name).and_then(|v| v.get("enabled")).and_then(Value::as_bool);
                ext.built_in.as_ref().and_then(|b| b.get(name).copied()).or(new).unwrap_or(false)
            };
            if flag("pg_stat_monitor") && flag("pg_stat_statements") {
                p.push("spec.extensions", "pg_stat_monitor and pg_stat_statements cannot both be enabled; keep one");
            }
            if flag("pg_tde") && pg_version.is_some_and(|v| v < 16) {
                p.push("spec.extensions.pg_tde.enabled", "pg_tde needs PostgreSQL 16 or newer (spec.postgresVersion)");
            }
        }

        if let Some(ext) = &s.extensions {
            check_image(&mut p, "spec.extensions.image", ext.image.as_deref());
        }
        if let Some(lc) = &s.log_collector {
            check_image(&mut p, "spec.logcollector.image", lc.image.as_deref());
            check_resources(&mut p, "spec.logcollector.resources", lc.resources.as_ref());
            if let Some(sched) = lc.log_rotate.as_ref().and_then(|r| r.schedule.as_deref()) {
                check_cron(&mut p, "spec.logcollector.logRotate.schedule", sched);
            }
        }
        p
    }
}

fn validate_instances(p: &mut Problems, cluster: &str, instances: Option<&[super::PgInstanceSet]>, unsafe_size: bool) {
    let sets = instances.unwrap_or_default();
    if sets.is_empty() {
        p.push("spec.instances", "at least one instance set is required, e.g. {name: instance1, replicas: 3}");
        return;
    }
    let lift = format!("annotate the cluster {ALLOW_UNSAFE_SIZE}: \"true\"");
    // Every PostgreSQL pod is a StatefulSet of its own: the total is what the engine builds.
    let total: i64 = sets.iter().map(|s| i64::from(s.replicas.unwrap_or(1).max(0))).sum();
    let sets_refused = check_size_bounds(p, "spec.instances", sets.len() as i64, MAX_SAFE_SIZE, unsafe_size, &lift);
    if !sets_refused && total > MAX_SIZE {
        p.push(
            "spec.instances",
            format!("the instance sets ask for {total} PostgreSQL pods in all, above dbdeck's limit of {MAX_SIZE}"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, set) in sets.iter().enumerate() {
        let path = format!("spec.instances[{i}]");
        match set.name.as_deref() {
            Some(n) if !n.is_empty() => {
                check_dns_label(p, &format!("{path}.name"), n, 63);
                if !seen.insert(n.to_string()) {
                    p.push(
                        format!("{path}.name"),
                        format!("\"{n}\" is used by another instance set; names must be unique"),
                    );
                }
                if cluster.len() + n.len() > MAX_CLUSTER_PLUS_SET_LEN {
                    p.push(
                        format!("{path}.name"),
                        format!(
                            "cluster name and instance set name together are {} characters; at most {MAX_CLUSTER_PLUS_SET_LEN} are allowed",
                            cluster.len() + n.len()
                        ),
                    );
                }
            }
            _ if sets.len() > 1 => {
                p.push(format!("{path}.name"), "is required when there is more than one instance set");
            }
            _ => {}
        }
        if let Some(r) = set.replicas {
            if r < 1 {
                p.push(
                    format!("{path}.replicas"),
                    format!("{r} is too small: an instance set needs at least 1 replica"),
                );
            } else {
                check_size_bounds(p, &format!("{path}.replicas"), r.into(), MAX_SAFE_SIZE, unsafe_size, &lift);
            }
        }
        check_resources(p, &format!("{path}.resources"), set.resources.as_ref());
        check_containers(p, &format!("{path}.sidecars"), set.sidecars.as_deref());
        check_containers(p, &format!("{path}.initContainers"), set.init_containers.as_deref());
        check_claim(p, &format!("{path}.dataVolumeClaimSpec"), set.data_volume_claim_spec.as_ref(), true);
        check_claim(p, &format!("{path}.walVolumeClaimSpec"), set.wal_volume_claim_spec.as_ref(), false);
    }
}

/// Logical replicas (3.1.0): PostgreSQL 17+, unique names that do not collide with instance sets, and
/// `pg_basebackup` bootstrap when there are no backups to restore from.
fn validate_logical_replicas(p: &mut Problems, cluster: &PerconaPGCluster) {
    let s = &cluster.spec;
    let replicas = s.logical_replicas.as_deref().unwrap_or_default();
    if replicas.is_empty() {
        return;
    }
    if s.postgres_version.is_some_and(|v| v < 17) {
        p.push("spec.logicalReplicas", "logical replicas need PostgreSQL 17 or newer (spec.postgresVersion)");
    }
    let sets: BTreeSet<&str> = s.instances.iter().flatten().filter_map(|i| i.name.as_deref()).collect();
    let backups_off = s.backups.as_ref().is_some_and(|b| !b.is_enabled());
    let mut seen = BTreeSet::new();
    for (i, r) in replicas.iter().enumerate() {
        let path = format!("spec.logicalReplicas[{i}]");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            p.push(format!("{path}.name"), "is required");
        } else {
            check_dns_label(p, &format!("{path}.name"), name, 20);
            if !seen.insert(name.to_string()) {
                p.push(format!("{path}.name"), format!("\"{name}\" is used by another logical replica"));
            }
            if sets.contains(name) {
                p.push(format!("{path}.name"), format!("\"{name}\" is also an instance set name; pick another"));
            }
        }
        let method = r.get("bootstrapMethod").and_then(Value::as_str);
        check_one_of(p, &format!("{path}.bootstrapMethod"), method, &["pgbackrest", "pg_basebackup"]);
        if backups_off && method != Some("pg_basebackup") {
            p.push(
                format!("{path}.bootstrapMethod"),
                "must be pg_basebackup while spec.backups.enabled is false (there is no backup to seed from)",
            );
        }
        match r.get("dataVolumeClaimSpec") {
            None => p.push(format!("{path}.dataVolumeClaimSpec"), "is required: the replica's data volume"),
            Some(v) => match serde_json::from_value::<PersistentVolumeClaimSpec>(v.clone()) {
                Ok(claim) => check_claim(p, &format!("{path}.dataVolumeClaimSpec"), Some(&claim), true),
                Err(e) => p.push(format!("{path}.dataVolumeClaimSpec"), format!("is not a volume claim: {e}")),
            },
        }
    }
}

fn validate_bouncer(p: &mut Problems, b: &PgBouncer, unsafe_size: bool) {
    let path = "spec.proxy.pgBouncer";
    match b.replicas {
        Some(r) if r < 0 => {
            p.push(format!("{path}.replicas"), format!("{r} is negative; use 0 to run no pgBouncer"));
        }
        Some(r) => {
            let lift = format!("annotate the cluster {ALLOW_UNSAFE_SIZE}: \"true\"");
            check_size_bounds(p, &format!("{path}.replicas"), r.into(), MAX_SAFE_SIZE, unsafe_size, &lift);
        }
        None => {}
    }
    check_image(p, &format!("{path}.image"), b.image.as_deref());
    if let Some(t) = &b.custom_tls_secret {
        check_secret_name(p, &format!("{path}.customTLSSecret.name"), Some(&t.name));
    }
    if let Some(u) = &b.users_secret {
        check_secret_name(p, &format!("{path}.usersSecret.name"), Some(&u.name));
    }
    for (i, ca) in b.additional_trusted_cas.iter().flatten().enumerate() {
        check_secret_name(p, &format!("{path}.additionalTrustedCAs[{i}].name"), Some(&ca.name));
    }
    check_containers(p, &format!("{path}.sidecars"), b.sidecars.as_deref());
    check_port(p, &format!("{path}.port"), b.port);
    check_resources(p, &format!("{path}.resources"), b.resources.as_ref());
    check_expose(p, &format!("{path}.expose"), b.expose.as_ref());
}

fn validate_users(p: &mut Problems, users: Option<&[super::PgUser]>, pg_version: Option<i64>) {
    let mut seen = BTreeSet::new();
    for (i, u) in users.unwrap_or_default().iter().enumerate() {
        let path = format!("spec.users[{i}]");
        check_dns_label(p, &format!("{path}.name"), &u.name, 63);
        if !seen.insert(u.name.clone()) {
            p.push(format!("{path}.name"), format!("user \"{}\" is listed twice", u.name));
        }
        check_secret_name(p, &format!("{path}.secretName"), u.secret_name.as_deref());
        if let Some(pw) = &u.password {
            check_one_of(p, &format!("{path}.password.type"), Some(&pw.type_), &["ASCII", "AlphaNumeric"]);
        }
        if u.grant_public_schema_access == Some(true) && pg_version.is_some_and(|v| v < 15) {
            p.push(
                format!("{path}.grantPublicSchemaAccess"),
                "needs PostgreSQL 15 or newer (spec.postgresVersion); older versions grant public access already",
            );
        }
    }
}

/// Checks `spec.backups` and returns the names of the repos it defines.
fn validate_backups(p: &mut Problems, cluster: &PerconaPGCluster) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Some(backups) = &cluster.spec.backups else {
        p.push("spec.backups", "is required: configure pgbackrest repos, or set enabled: false to run without backups");
        return names;
    };
    let pgbr = backups.pgbackrest.as_ref();
    let repos: &[PgBackRestRepo] = pgbr.and_then(|b| b.repos.as_deref()).unwrap_or_default();
    if backups.is_enabled() && repos.is_empty() {
        p.push(
            "spec.backups.pgbackrest.repos",
            "at least one repository (repo1..repo4) is required while backups are enabled; add one or set spec.backups.enabled: false",
        );
    }
    for (i, repo) in repos.iter().enumerate() {
        let path = format!("spec.backups.pgbackrest.repos[{i}]");
        match repo.name.as_deref() {
            None | Some("") => p.push(format!("{path}.name"), "is required: repo1, repo2, repo3 or repo4"),
            Some(n) if !is_repo_name(n) => p.push(
                format!("{path}.name"),
                format!("\"{n}\" is not a pgBackRest repo name; use repo1, repo2, repo3 or repo4"),
            ),
            Some(n) => {
                if !names.insert(n.to_string()) {
                    p.push(format!("{path}.name"), format!("\"{n}\" is defined twice"));
                }
            }
        }
        let kinds = repo.storage_kinds();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() { "none".to_string() } else { kinds.join(" and ") };
            p.push(path.clone(), format!("needs exactly one storage of volume, s3, gcs or azure; found {found}"));
        }
        if let Some(v) = &repo.volume {
            check_claim(p, &format!("{path}.volume.volumeClaimSpec"), v.volume_claim_spec.as_ref(), true);
        }
        if let Some(s3) = &repo.s3 {
            for (field, value) in [("bucket", &s3.bucket), ("endpoint", &s3.endpoint), ("region", &s3.region)] {
                if value.as_deref().unwrap_or("").is_empty() {
                    p.push(format!("{path}.s3.{field}"), "is required for an S3 repository");
                }
            }
        }
        if repo.gcs.as_ref().is_some_and(|g| g.bucket.as_deref().unwrap_or("").is_empty()) {
            p.push(format!("{path}.gcs.bucket"), "is required for a GCS repository");
        }
        if repo.azure.as_ref().is_some_and(|a| a.container.as_deref().unwrap_or("").is_empty()) {
            p.push(format!("{path}.azure.container"), "is required for an Azure repository");
        }
        if let Some(sched) = &repo.schedules {
            for (kind, value) in
                [("full", &sched.full), ("differential", &sched.differential), ("incremental", &sched.incremental)]
            {
                if let Some(v) = value {
                    check_cron(p, &format!("{path}.schedules.{kind}"), v);
                }
            }
        }
    }
    let known = |p: &mut Problems, path: &str, repo: Option<&str>| {
        if let Some(r) = repo
            && !names.contains(r)
        {
            let defined = if names.is_empty() {
                "none".to_string()
            } else {
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            p.push(path, format!("\"{r}\" is not defined in spec.backups.pgbackrest.repos (defined: {defined})"));
        }
    };
    if let Some(pgbr) = pgbr {
        known(p, "spec.backups.pgbackrest.manual.repoName", pgbr.manual.as_ref().and_then(|m| m.repo_name.as_deref()));
        known(
            p,
            "spec.backups.pgbackrest.restore.repoName",
            pgbr.restore.as_ref().and_then(|r| r.repo_name.as_deref()),
        );
        if let Some(jobs) = &pgbr.jobs {
            check_resources(p, "spec.backups.pgbackrest.jobs.resources", jobs.resources.as_ref());
            if let Some(ttl) = jobs.ttl_seconds_after_finished
                && ttl < 60
            {
                p.push(
                    "spec.backups.pgbackrest.jobs.ttlSecondsAfterFinished",
                    format!("{ttl} is too small; at least 60 seconds"),
                );
            }
        }
        check_image(p, "spec.backups.pgbackrest.image", pgbr.image.as_deref());
        if let Some(host) = &pgbr.repo_host {
            check_resources(p, "spec.backups.pgbackrest.repoHost.resources", host.resources.as_ref());
        }
        // Retention counts are whole numbers (backups, or days with `-retention-full-type: time`).
        for (key, value) in pgbr.global.iter().flatten() {
            if key.ends_with("-retention-full") && value.parse::<u32>().is_err() {
                p.push(
                    format!("spec.backups.pgbackrest.global.{key}"),
                    format!("\"{value}\" must be a whole number (count of full backups, or days with retention-full-type: time)"),
                );
            }
        }
    }
    if let Some(snap) = &backups.volume_snapshots {
        if snap.class_name.as_deref().unwrap_or("").is_empty() {
            p.push("spec.backups.volumeSnapshots.className", "is required: the VolumeSnapshotClass to use");
        }
        check_one_of(p, "spec.backups.volumeSnapshots.mode", snap.mode.as_deref(), &["offline"]);
        if let Some(s) = &snap.schedule {
            check_cron(p, "spec.backups.volumeSnapshots.schedule", s);
        }
    }
    names
}

/// Checks pgBackRest command-line options: each must be a `--flag`, and `--type` must be one we know.
fn check_options(p: &mut Problems, path: &str, options: Option<&[String]>, types: &[&str]) {
    for (i, opt) in options.unwrap_or_default().iter().enumerate() {
        if !opt.starts_with("--") {
            p.push(
                format!("{path}[{i}]"),
                format!("\"{opt}\" is not a pgBackRest option; options look like --type=full"),
            );
        } else if let Some(t) = opt.strip_prefix("--type=")
            && !types.contains(&t)
        {
            p.push(
                format!("{path}[{i}]"),
                format!("--type={t} is not supported here; use one of: {}", types.join(", ")),
            );
        }
    }
}

impl Validate for PerconaPGBackup {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_object_name(&mut p, "metadata.name", self.meta().name.as_deref());
        let s = &self.spec;
        if s.pg_cluster.as_deref().unwrap_or("").is_empty() {
            p.push("spec.pgCluster", "is required: the name of the PerconaPGCluster to back up");
        }
        check_one_of(&mut p, "spec.method", s.method.as_deref(), &["pgbackrest", "volumeSnapshot"]);
        let snapshot = s.method.as_deref() == Some("volumeSnapshot");
        match s.repo_name.as_deref() {
            None | Some("") if !snapshot => {
                p.push("spec.repoName", "is required for a pgBackRest backup: repo1, repo2, repo3 or repo4")
            }
            Some(r) if !r.is_empty() && !is_repo_name(r) => p.push(
                "spec.repoName",
                format!("\"{r}\" is not a pgBackRest repo name; use repo1, repo2, repo3 or repo4"),
            ),
            _ => {}
        }
        check_options(&mut p, "spec.options", s.options.as_deref(), &["full", "diff", "incr"]);
        p
    }
}

impl Validate for PerconaPGRestore {
    fn validate(&self) -> Problems {
        let mut p = Problems::new();
        check_object_name(&mut p, "metadata.name", self.meta().name.as_deref());
        let s = &self.spec;
        if s.pg_cluster.as_deref().unwrap_or("").is_empty() {
            p.push("spec.pgCluster", "is required: the name of the PerconaPGCluster to restore into");
        }
        let repo = s.repo_name.as_deref().filter(|r| !r.is_empty());
        let snapshot = s.volume_snapshot_backup_name.as_deref().filter(|r| !r.is_empty());
        match (repo, snapshot) {
            (None, None) => p.push(
                "spec.repoName",
                "is required: name the repo to restore from (repo1..repo4), or set volumeSnapshotBackupName",
            ),
            (Some(r), _) if !is_repo_name(r) => p.push(
                "spec.repoName",
                format!("\"{r}\" is not a pgBackRest repo name; use repo1, repo2, repo3 or repo4"),
            ),
            _ => {}
        }
        let options = s.options.as_deref().unwrap_or_default();
        check_options(
            &mut p,
            "spec.options",
            Some(options),
            &["time", "immediate", "lsn", "name", "xid", "standby", "default"],
        );
        let wants_target =
            options.iter().any(|o| ["--type=time", "--type=lsn", "--type=name", "--type=xid"].contains(&o.as_str()));
        if wants_target && !options.iter().any(|o| o.starts_with("--target=")) {
            p.push("spec.options", "a point-in-time restore (--type=time|lsn|name|xid) also needs --target=...");
        }
        p
    }
}

/// Checks that a backup fits the cluster it names: same cluster, an existing repo, backups enabled.
impl PerconaPGBackup {
    pub fn validate_against(&self, cluster: &PerconaPGCluster) -> Problems {
        let mut p = Problems::new();
        cross_check(&mut p, self.spec.pg_cluster.as_deref(), self.spec.repo_name.as_deref(), cluster);
        if let Some(b) = &cluster.spec.backups
            && !b.is_enabled()
        {
            p.push(
                "spec.pgCluster",
                format!(
                    "cluster \"{}\" has backups disabled (spec.backups.enabled: false)",
                    cluster.meta().name.as_deref().unwrap_or("")
                ),
            );
        }
        p
    }
}

impl PerconaPGRestore {
    pub fn validate_against(&self, cluster: &PerconaPGCluster) -> Problems {
        let mut p = Problems::new();
        cross_check(&mut p, self.spec.pg_cluster.as_deref(), self.spec.repo_name.as_deref(), cluster);
        p
    }
}

fn cross_check(p: &mut Problems, pg_cluster: Option<&str>, repo: Option<&str>, cluster: &PerconaPGCluster) {
    let name = cluster.meta().name.as_deref().unwrap_or("");
    if let Some(c) = pg_cluster
        && c != name
    {
        p.push("spec.pgCluster", format!("names cluster \"{c}\", not \"{name}\""));
    }
    let repos: Vec<&str> = cluster
        .spec
        .backups
        .as_ref()
        .and_then(|b| b.pgbackrest.as_ref())
        .and_then(|b| b.repos.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.name.as_deref())
        .collect();
    if let Some(r) = repo.filter(|r| !r.is_empty())
        && !repos.contains(&r)
    {
        let defined = if repos.is_empty() { "none".to_string() } else { repos.join(", ") };
        p.push("spec.repoName", format!("\"{r}\" is not a repo of cluster \"{name}\" (defined: {defined})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rule() {
        assert!(is_semver("3.1.0"));
        assert!(is_semver("3.1.0-rc1"));
        assert!(!is_semver("3.1"));
        assert!(!is_semver("v3.1.0"));
        assert!(!is_semver("3.1.0-"));
    }

    #[test]
    fn repo_names() {
        assert!(is_repo_name("repo4"));
        assert!(!is_repo_name("repo5"));
        assert!(!is_repo_name("s3-us"));
    }

    #[test]
    fn object_names() {
        let mut p = Problems::new();
        check_object_name(&mut p, "metadata.name", Some("backup1.daily"));
        assert!(p.is_empty());
        check_object_name(&mut p, "metadata.name", Some("Backup_1"));
        check_object_name(&mut p, "metadata.name", None);
        assert_eq!(p.len(), 2);
    }
}
