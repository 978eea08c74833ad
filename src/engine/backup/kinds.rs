//! What differs between the three families for the controllers: API names, where a Backup names its
//! cluster, readiness, sizes, pods, schedules, and which builder makes which Job. Objects travel as
//! JSON (`DynamicObject`) so one controller serves all three.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::core::{ApiResource, GroupVersionKind};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::common::BuildError;
use super::status::Family;
use super::{pg, ps, pxc, schedule};

/// The finalizer with which a Backup deletes its data (Percona's name).
pub const DELETE_BACKUP_FINALIZER: &str = "percona.com/delete-backup";
/// The user's way out of a finalizer that cannot finish: set this annotation to `"true"`.
pub const RELEASE_ANNOTATION: &str = "dbdeck.io/release-finalizer";
/// When a schedule-created Backup was due (RFC 3339); the cron reads it back after a restart.
pub const SCHEDULED_AT_ANNOTATION: &str = "dbdeck.io/scheduled-at";

/// One family's API names and knobs.
#[derive(Debug)]
pub struct Kind {
    pub family: Family,
    pub group: &'static str,
    pub version: &'static str,
    pub cluster: (&'static str, &'static str),
    pub backup: (&'static str, &'static str),
    pub restore: (&'static str, &'static str),
    /// Lease name prefix: `<prefix>-<cluster>-backup-lock`.
    pub lease_prefix: &'static str,
    /// JSON pointers of the component sizes a restore saves and puts back.
    pub sizes: &'static [&'static str],
    /// The field of a Backup/Restore that names its cluster.
    pub cluster_field: &'static str,
    pub ancestor_label: &'static str,
}

pub static PXC: Kind = Kind {
    family: Family::Pxc,
    group: "pxc.percona.com",
    version: "v1",
    cluster: ("PerconaXtraDBCluster", "perconaxtradbclusters"),
    backup: ("PerconaXtraDBClusterBackup", "perconaxtradbclusterbackups"),
    restore: ("PerconaXtraDBClusterRestore", "perconaxtradbclusterrestores"),
    lease_prefix: "pxc",
    sizes: &["/spec/pxc/size", "/spec/haproxy/size", "/spec/proxysql/size"],
    cluster_field: "pxcCluster",
    ancestor_label: pxc::LABEL_ANCESTOR,
};

pub static PS: Kind = Kind {
    family: Family::Ps,
    group: "ps.percona.com",
    version: "v1",
    cluster: ("PerconaServerMySQL", "perconaservermysqls"),
    backup: ("PerconaServerMySQLBackup", "perconaservermysqlbackups"),
    restore: ("PerconaServerMySQLRestore", "perconaservermysqlrestores"),
    lease_prefix: "ps",
    sizes: &["/spec/mysql/size", "/spec/orchestrator/size", "/spec/proxy/haproxy/size", "/spec/proxy/router/size"],
    cluster_field: "clusterName",
    ancestor_label: ps::LABEL_ANCESTOR,
};

pub static PG: Kind = Kind {
    family: Family::Pg,
    group: "pgv2.percona.com",
    version: "v2",
    cluster: ("PerconaPGCluster", "perconapgclusters"),
    backup: ("PerconaPGBackup", "perconapgbackups"),
    restore: ("PerconaPGRestore", "perconapgrestores"),
    lease_prefix: "pg",
    sizes: &["/spec/proxy/pgBouncer/replicas"],
    cluster_field: "pgCluster",
    ancestor_label: pg::LABEL_ANCESTOR,
};

pub static ALL: [&Kind; 3] = [&PXC, &PS, &PG];

/// A backup Job plus what the status records when it starts.
pub struct BuiltBackup {
    pub job: Job,
    pub pvc: Option<PersistentVolumeClaim>,
    /// Merged into `status` when the Job is created.
    pub status: Value,
}

/// One schedule of a cluster, in family-neutral terms.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleDef {
    pub name: String,
    pub cron: String,
    /// Storage (PXC/PS) or repo (PG).
    pub target: String,
    /// How many finished backups of this schedule to keep; 0 keeps all.
    pub keep: usize,
    /// Add the delete-backup finalizer, so retention removes the data too.
    pub delete_from_storage: bool,
    /// PS `type` (`full`/`incremental`) or PG pgBackRest options.
    pub extra: Value,
}

fn from_json<T: DeserializeOwned>(what: &str, v: &Value) -> Result<T, BuildError> {
    serde_json::from_value(v.clone()).map_err(|e| BuildError::Shape {
        object: what.to_string(),
        path: String::new(),
        message: e.to_string(),
    })
}

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Kind {
    fn ar(&self, (kind, plural): (&str, &str)) -> ApiResource {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(self.group, self.version, kind), plural)
    }
    pub fn cluster_ar(&self) -> ApiResource {
        self.ar(self.cluster)
    }
    pub fn backup_ar(&self) -> ApiResource {
        self.ar(self.backup)
    }
    pub fn restore_ar(&self) -> ApiResource {
        self.ar(self.restore)
    }

    /// The cluster a Backup or Restore names.
    pub fn cluster_of(&self, obj: &Value) -> Option<String> {
        s(obj, &format!("/spec/{}", self.cluster_field)).filter(|c| !c.is_empty())
    }

    pub fn lease_name(&self, cluster: &str) -> String {
        format!("{}-{cluster}-backup-lock", self.lease_prefix)
    }

    /// `status.state == ready`.
    pub fn cluster_ready(&self, cluster: &Value) -> bool {
        s(cluster, "/status/state").as_deref() == Some("ready")
    }

    pub fn cluster_state(&self, cluster: &Value) -> String {
        s(cluster, "/status/state").unwrap_or_else(|| "unknown".into())
    }

    pub fn paused(&self, cluster: &Value) -> bool {
        cluster.pointer("/spec/pause").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The unsafe flag that allows backups of a cluster that is not ready, and its field path.
    pub fn allow_unready(&self, cluster: &Value) -> (bool, &'static str) {
        let (ptr, field) = match self.family {
            Family::Pxc => ("/spec/unsafeFlags/backupIfUnhealthy", "spec.unsafeFlags.backupIfUnhealthy"),
            Family::Ps => ("/spec/unsafeFlags/backupNonReadyCluster", "spec.unsafeFlags.backupNonReadyCluster"),
            Family::Pg => ("/spec/unsafeFlags/backupNonReadyCluster", "(no such flag for PerconaPGCluster)"),
        };
        let legacy = self.family == Family::Pxc
            && cluster.pointer("/spec/allowUnsafeConfigurations").and_then(Value::as_bool) == Some(true);
        (legacy || cluster.pointer(ptr).and_then(Value::as_bool).unwrap_or(false), field)
    }

    /// Backups of one cluster run one at a time unless `spec.backup.allowParallel` (PXC, PS) says
    /// otherwise; Percona treats an absent value as "allowed". PG always serialises.
    pub fn serialise(&self, cluster: &Value) -> bool {
        match self.family {
            Family::Pg => true,
            Family::Pxc | Family::Ps => {
                cluster.pointer("/spec/backup/allowParallel").and_then(Value::as_bool) == Some(false)
            }
        }
    }

    /// The backup's deadlines: its own fields (PXC), else the cluster's `spec.backup.*`.
    pub fn deadlines(&self, backup: &Value, cluster: Option<&Value>) -> super::status::Deadlines {
        let get = |field: &str| {
            backup
                .pointer(&format!("/spec/{field}"))
                .and_then(Value::as_i64)
                .or_else(|| cluster.and_then(|c| c.pointer(&format!("/spec/backup/{field}"))).and_then(Value::as_i64))
        };
        // Percona's CRD defaults PXC's runningDeadlineSeconds to 300; a cluster written without it
        // gets the same deadline here.
        let running = get("runningDeadlineSeconds").or_else(|| {
            (self.family == Family::Pxc).then_some(crate::api::pxc::defaults::BACKUP_RUNNING_DEADLINE_SECONDS)
        });
        super::status::Deadlines {
            starting: get("startingDeadlineSeconds"),
            running,
            // Only PXC has it (PS and PG Jobs run without one).
            active: (self.family == Family::Pxc).then(|| get("activeDeadlineSeconds")).flatten(),
        }
    }

    /// The Job name a Backup's Job has (independent of the time it is built at).
    pub fn backup_job_name(&self, backup: &Value) -> String {
        let name = s(backup, "/metadata/name").unwrap_or_default();
        match self.family {
            Family::Pxc => pxc::backup_job_name(&name),
            Family::Ps => ps::backup_job_name(&name),
            Family::Pg => pg::backup_job_name(
                &self.cluster_of(backup).unwrap_or_default(),
                &s(backup, "/metadata/uid").unwrap_or_default(),
            ),
        }
    }

    /// Builds the backup Job. `fallback_pod` is the pod a PS backup is taken from when none is pinned.
    pub fn build_backup(
        &self,
        backup: &Value,
        cluster: &Value,
        fallback_pod: &str,
        now: DateTime<Utc>,
    ) -> Result<BuiltBackup, BuildError> {
        match self.family {
            Family::Pxc => {
                let b: crate::api::pxc::PerconaXtraDBClusterBackup = from_json(self.backup.0, backup)?;
                let c: crate::api::pxc::PerconaXtraDBCluster = from_json(self.cluster.0, cluster)?;
                let plan = pxc::backup(&b, &c, now)?;
                let storage =
                    c.spec.backup.as_ref().and_then(|x| x.storages.as_ref()).and_then(|m| m.get(&plan.storage_name));
                let image =
                    c.spec.with_defaults(c.metadata.name.as_deref().unwrap_or_default()).backup.and_then(|x| x.image);
                Ok(BuiltBackup {
                    status: json!({
                        "destination": plan.destination,
                        "storageName": plan.storage_name,
                        "storage_type": plan.storage_type,
                        "verifyTLS": plan.verify_tls,
                        "s3": storage.and_then(|s| s.s3.clone()),
                        "azure": storage.and_then(|s| s.azure.clone()),
                        "image": image,
                    }),
                    job: plan.job,
                    pvc: plan.pvc,
                })
            }
            Family::Ps => {
                let b: crate::api::ps::PerconaServerMySQLBackup = from_json(self.backup.0, backup)?;
                let c: crate::api::ps::PerconaServerMySQL = from_json(self.cluster.0, cluster)?;
                let plan = ps::backup(&b, &c, fallback_pod, now)?;
                Ok(BuiltBackup {
                    status: json!({
                        "destination": plan.destination,
                        "storage": plan.storage,
                        "type": b.spec.type_.clone().unwrap_or_else(|| "full".into()),
                        "backupSource": plan.source_pod,
                        "image": c.spec.backup.as_ref().and_then(|x| x.image.clone()),
                    }),
                    job: plan.job,
                    pvc: None,
                })
            }
            Family::Pg => {
                let b: crate::api::pg::PerconaPGBackup = from_json(self.backup.0, backup)?;
                let c: crate::api::pg::PerconaPGCluster = from_json(self.cluster.0, cluster)?;
                let plan = pg::backup(&b, &c)?;
                Ok(BuiltBackup {
                    status: json!({
                        "destination": plan.destination,
                        "storageType": plan.storage_type,
                        "backupType": plan.backup_type,
                        "repo": plan.repo,
                        "jobName": plan.job.metadata.name,
                        "crVersion": c.spec.cr_version,
                    }),
                    job: plan.job,
                    pvc: None,
                })
            }
        }
    }

    /// The finalizer's cleanup: a Job that removes cloud data, and/or the claim of a filesystem backup.
    pub fn build_delete(&self, backup: &Value, cluster: &Value) -> Result<(Option<Job>, Option<String>), BuildError> {
        match self.family {
            Family::Pxc => {
                let b: crate::api::pxc::PerconaXtraDBClusterBackup = from_json(self.backup.0, backup)?;
                let c: crate::api::pxc::PerconaXtraDBCluster = from_json(self.cluster.0, cluster)?;
                let claim = b
                    .status
                    .as_ref()
                    .and_then(|s| s.destination.as_deref())
                    .and_then(|d| d.strip_prefix("pvc/"))
                    .map(str::to_string);
                Ok((pxc::delete(&b, &c)?, claim))
            }
            Family::Ps => {
                let b: crate::api::ps::PerconaServerMySQLBackup = from_json(self.backup.0, backup)?;
                let c: crate::api::ps::PerconaServerMySQL = from_json(self.cluster.0, cluster)?;
                Ok((ps::delete(&b, &c)?, None))
            }
            // pgBackRest expires its own backups (repoN-retention-full); nothing to run per object.
            Family::Pg => Ok((None, None)),
        }
    }

    /// Builds the restore Job (and PXC's PITR Job). `backup` is the named Backup object, if it exists;
    /// `pgdata_claim` the primary's data claim (PG).
    pub fn build_restore(
        &self,
        restore: &Value,
        backup: Option<&Value>,
        cluster: &Value,
        pgdata_claim: Option<&str>,
    ) -> Result<(Job, Option<Job>), BuildError> {
        match self.family {
            Family::Pxc => {
                let r: crate::api::pxc::PerconaXtraDBClusterRestore = from_json(self.restore.0, restore)?;
                let c: crate::api::pxc::PerconaXtraDBCluster = from_json(self.cluster.0, cluster)?;
                let b: Option<crate::api::pxc::PerconaXtraDBClusterBackup> =
                    backup.map(|b| from_json(self.backup.0, b)).transpose()?;
                let src = pxc::restore_source(&r, b.as_ref(), &c)?;
                Ok((pxc::restore(&r, &src, &c)?, pxc::pitr(&r, &c)?))
            }
            Family::Ps => {
                let r: crate::api::ps::PerconaServerMySQLRestore = from_json(self.restore.0, restore)?;
                let c: crate::api::ps::PerconaServerMySQL = from_json(self.cluster.0, cluster)?;
                let b: Option<crate::api::ps::PerconaServerMySQLBackup> =
                    backup.map(|b| from_json(self.backup.0, b)).transpose()?;
                let (dest, storage) = ps::restore_source(&r, b.as_ref())?;
                Ok((ps::restore(&r, &dest, &storage, &c)?, None))
            }
            Family::Pg => {
                let r: crate::api::pg::PerconaPGRestore = from_json(self.restore.0, restore)?;
                let c: crate::api::pg::PerconaPGCluster = from_json(self.cluster.0, cluster)?;
                let claim = pgdata_claim.ok_or_else(|| BuildError::MissingField {
                    kind: "PerconaPGRestore",
                    name: r.metadata.name.clone().unwrap_or_default(),
                    field: "a pgdata volume of the cluster to restore into".into(),
                })?;
                Ok((pg::restore(&r, &c, claim)?, None))
            }
        }
    }

    /// The Backup a Restore names, when it names one.
    pub fn restore_backup_name(&self, restore: &Value) -> Option<String> {
        match self.family {
            Family::Pg => None,
            _ => s(restore, "/spec/backupName").filter(|n| !n.is_empty()),
        }
    }

    /// Label selector of the cluster's database pods (what a paused cluster must have none of).
    pub fn db_pod_selector(&self, cluster: &str) -> String {
        match self.family {
            Family::Pxc => format!("app.kubernetes.io/instance={cluster},app.kubernetes.io/component=pxc"),
            Family::Ps => format!("app.kubernetes.io/instance={cluster},app.kubernetes.io/name=mysql"),
            Family::Pg => {
                format!(
                    "postgres-operator.crunchydata.com/cluster={cluster},postgres-operator.crunchydata.com/data=postgres"
                )
            }
        }
    }

    /// The schedules a cluster declares.
    pub fn schedules(&self, cluster: &Value) -> Vec<ScheduleDef> {
        let name = s(cluster, "/metadata/name").unwrap_or_default();
        match self.family {
            Family::Pxc | Family::Ps => {
                let list =
                    cluster.pointer("/spec/backup/schedule").and_then(Value::as_array).cloned().unwrap_or_default();
                list.iter()
                    .filter_map(|sch| {
                        let keep_legacy = sch.get("keep").and_then(Value::as_u64);
                        let count = sch.pointer("/retention/count").and_then(Value::as_u64);
                        let delete = sch
                            .pointer("/retention/deleteFromStorage")
                            .and_then(Value::as_bool)
                            // `keep` (and PS, which only has `keep`) always deleted from storage.
                            .unwrap_or(true);
                        Some(ScheduleDef {
                            name: s(sch, "/name")?,
                            cron: s(sch, "/schedule")?,
                            target: s(sch, "/storageName")?,
                            keep: count.or(keep_legacy).unwrap_or(0) as usize,
                            delete_from_storage: delete,
                            extra: json!(s(sch, "/type")),
                        })
                    })
                    .collect()
            }
            Family::Pg => {
                let repos = cluster
                    .pointer("/spec/backups/pgbackrest/repos")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut out = Vec::new();
                for repo in repos {
                    let Some(repo_name) = s(&repo, "/name") else { continue };
                    for (field, short, opt) in
                        [("full", "full", "full"), ("differential", "diff", "diff"), ("incremental", "incr", "incr")]
                    {
                        if let Some(cron) = s(&repo, &format!("/schedules/{field}")) {
                            out.push(ScheduleDef {
                                name: format!("{name}-{repo_name}-{short}"),
                                cron,
                                target: repo_name.clone(),
                                keep: 0,
                                delete_from_storage: false,
                                extra: json!([format!("--type={opt}")]),
                            });
                        }
                    }
                }
                out
            }
        }
    }

    /// The Backup object a schedule creates at `at`.
    pub fn scheduled_backup(&self, cluster: &Value, def: &ScheduleDef, at: DateTime<Utc>) -> Value {
        let cname = s(cluster, "/metadata/name").unwrap_or_default();
        let ns = s(cluster, "/metadata/namespace").unwrap_or_default();
        let (name, spec) = match self.family {
            Family::Pxc => (
                schedule::backup_name(&cname, &def.target, &def.name, at),
                json!({"pxcCluster": cname, "storageName": def.target}),
            ),
            Family::Ps => (
                schedule::backup_name(&cname, &def.target, &def.name, at),
                json!({"clusterName": cname, "storageName": def.target, "type": def.extra}),
            ),
            Family::Pg => {
                let kind = def.name.rsplit('-').next().unwrap_or("full");
                (
                    schedule::pg_backup_name(&cname, &def.target, kind, at),
                    json!({"pgCluster": cname, "repoName": def.target, "options": def.extra}),
                )
            }
        };
        let finalizers: Vec<&str> = if def.delete_from_storage { vec![DELETE_BACKUP_FINALIZER] } else { vec![] };
        json!({
            "apiVersion": format!("{}/{}", self.group, self.version),
            "kind": self.backup.0,
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {
                    self.ancestor_label: def.name,
                    "percona.com/cluster": cname,
                    "percona.com/backup-type": schedule::TYPE_CRON,
                },
                "annotations": {SCHEDULED_AT_ANNOTATION: rfc3339(at)},
                "finalizers": finalizers,
            },
            "spec": spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_from_each_family() {
        let pxc_cluster = json!({"metadata": {"name": "c1", "namespace": "ns"}, "spec": {"backup": {"schedule": [
            {"name": "daily", "schedule": "0 0 * * *", "storageName": "s3", "retention": {"count": 3, "deleteFromStorage": false}},
            {"name": "old", "schedule": "@hourly", "storageName": "s3", "keep": 2}
        ]}}});
        let defs = PXC.schedules(&pxc_cluster);
        assert_eq!((defs[0].keep, defs[0].delete_from_storage), (3, false));
        assert_eq!((defs[1].keep, defs[1].delete_from_storage), (2, true));
        let b = PXC.scheduled_backup(&pxc_cluster, &defs[1], Utc::now());
        assert_eq!(b["metadata"]["labels"]["percona.com/backup-ancestor"], "old");
        assert_eq!(b["metadata"]["finalizers"], json!(["percona.com/delete-backup"]));
        assert_eq!(b["spec"]["pxcCluster"], "c1");

        let pg_cluster = json!({"metadata": {"name": "c2"}, "spec": {"backups": {"pgbackrest": {"repos": [
            {"name": "repo1", "schedules": {"full": "0 0 * * 6", "incremental": "0 1 * * *"}}
        ]}}}});
        let defs = PG.schedules(&pg_cluster);
        assert_eq!(defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["c2-repo1-full", "c2-repo1-incr"]);
        let b = PG.scheduled_backup(&pg_cluster, &defs[1], Utc::now());
        assert_eq!(b["spec"]["options"], json!(["--type=incr"]));
    }

    #[test]
    fn unready_and_parallel_flags() {
        let c = json!({"spec": {"unsafeFlags": {"backupIfUnhealthy": true}, "backup": {"allowParallel": false}}});
        assert!(PXC.allow_unready(&c).0);
        assert!(PXC.serialise(&c));
        assert!(!PS.allow_unready(&c).0);
        assert!(!PXC.serialise(&json!({"spec": {}})), "Percona allows parallel backups when unset");
        assert!(PG.serialise(&json!({})));
    }
}
