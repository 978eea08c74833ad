//! PerconaPGCluster backups and restores through pgBackRest: the `<cluster>-backup-<suffix>` Job that
//! runs `pgbackrest backup` against the repo host (or the primary), the in-place
//! `<cluster>-pgbackrest-restore` Job, and the repo-path destination Percona reports. Crunchy's layout:
//! the Job's container execs pgBackRest in the pod its `SELECTOR` finds.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

use super::common::{BuildError, ObjectId, env, fit63, mount, short_hash, to_json, typed};
use crate::api::pg::{PerconaPGBackup, PerconaPGCluster, PerconaPGClusterSpec, PerconaPGRestore, PgBackRestRepo};

pub const API_VERSION: &str = "pgv2.percona.com/v2";
pub const BACKUP_KIND: &str = "PerconaPGBackup";
pub const RESTORE_KIND: &str = "PerconaPGRestore";
pub const CLUSTER_KIND: &str = "PerconaPGCluster";
const L_CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";
const L_PGBACKREST: &str = "postgres-operator.crunchydata.com/pgbackrest";
const L_BACKUP: &str = "postgres-operator.crunchydata.com/pgbackrest-backup";
const L_REPO: &str = "postgres-operator.crunchydata.com/pgbackrest-repo";
const L_RESTORE: &str = "postgres-operator.crunchydata.com/pgbackrest-restore";
/// The schedule (`<cluster>-<repo>-full|diff|incr`) a scheduled PerconaPGBackup came from. dbdeck's own
/// label: Percona leaves PG retention to pgBackRest and marks no ancestor.
pub const LABEL_ANCESTOR: &str = "pgv2.percona.com/backup-ancestor";

/// A built backup Job and where it writes.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupPlan {
    pub job: Job,
    /// `s3://bucket/<repo path>`, `gs://…`, `azure://…`; `None` for volume repos.
    pub destination: Option<String>,
    pub repo: PgBackRestRepo,
    /// `filesystem`, `s3`, `gcs` or `azure`.
    pub storage_type: String,
    /// `full`, `differential` or `incremental`, from `--type=`.
    pub backup_type: String,
}

struct Cluster {
    name: String,
    spec: PerconaPGClusterSpec,
}

impl Cluster {
    fn new(cr: &PerconaPGCluster) -> Result<Self, BuildError> {
        let name =
            cr.metadata.name.clone().ok_or(BuildError::MissingMeta { kind: "PerconaPGCluster", field: "name" })?;
        Ok(Self { spec: cr.spec.with_defaults(&name), name })
    }

    fn repo(&self, id: &ObjectId, repo_name: &str) -> Result<PgBackRestRepo, BuildError> {
        self.spec
            .backups
            .as_ref()
            .and_then(|b| b.pgbackrest.as_ref())
            .and_then(|p| p.repos.as_ref())
            .and_then(|r| r.iter().find(|r| r.name.as_deref() == Some(repo_name)))
            .cloned()
            .ok_or_else(|| BuildError::UnknownStorage {
                kind: id.kind,
                name: id.name.clone(),
                field: "spec.repoName".into(),
                storage: repo_name.into(),
                cluster: self.name.clone(),
            })
    }

    fn pgbackrest_image(&self, id: &ObjectId) -> Result<String, BuildError> {
        self.spec
            .backups
            .as_ref()
            .and_then(|b| b.pgbackrest.as_ref())
            .and_then(|p| p.image.clone())
            .ok_or_else(|| id.missing("spec.backups.pgbackrest.image of the cluster"))
    }

    fn global(&self, key: &str) -> Option<String> {
        self.spec.backups.as_ref()?.pgbackrest.as_ref()?.global.as_ref()?.get(key).cloned()
    }

    /// A dedicated repo host runs when any repo is a volume; backups then exec there, else on the primary.
    fn has_repo_host(&self) -> bool {
        self.spec
            .backups
            .as_ref()
            .and_then(|b| b.pgbackrest.as_ref())
            .and_then(|p| p.repos.as_ref())
            .is_some_and(|r| r.iter().any(|r| r.volume.is_some()))
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (L_CLUSTER.into(), self.name.clone()),
            ("app.kubernetes.io/instance".into(), self.name.clone()),
            ("app.kubernetes.io/managed-by".into(), "percona-postgresql-operator".into()),
            ("app.kubernetes.io/name".into(), "percona-postgresql".into()),
            ("app.kubernetes.io/part-of".into(), "percona-postgresql".into()),
            ("pgv2.percona.com/version".into(), self.spec.cr_version.clone().unwrap_or_default()),
        ])
    }

    fn jobs_settings(&self) -> crate::api::pg::PgBackupJobs {
        self.spec.backups.as_ref().and_then(|b| b.pgbackrest.as_ref()).and_then(|p| p.jobs.clone()).unwrap_or_default()
    }
}

/// `repoN` → `N`.
fn repo_index(id: &ObjectId, repo: &str) -> Result<String, BuildError> {
    match repo.strip_prefix("repo").filter(|n| matches!(*n, "1" | "2" | "3" | "4")) {
        Some(n) => Ok(n.to_string()),
        None => Err(id.invalid("spec.repoName", format!("is `{repo}`; it must be repo1, repo2, repo3 or repo4"))),
    }
}

/// Percona reports a cloud repo's destination as `<scheme>://<bucket><repoN-path>`.
pub fn destination(repo: &PgBackRestRepo, repo_path: &str) -> Option<String> {
    let path = if repo_path.starts_with('/') { repo_path.to_string() } else { format!("/{repo_path}") };
    let join = |scheme: &str, bucket: &Option<String>| {
        Some(format!("{scheme}://{}{path}", bucket.clone().unwrap_or_default().trim_end_matches('/')))
    };
    if let Some(s3) = &repo.s3 {
        join("s3", &s3.bucket)
    } else if let Some(g) = &repo.gcs {
        join("gs", &g.bucket)
    } else if let Some(a) = &repo.azure {
        join("azure", &a.container)
    } else {
        None
    }
}

fn storage_type(repo: &PgBackRestRepo) -> &'static str {
    match repo.storage_kinds().first().copied() {
        Some("s3") => "s3",
        Some("gcs") => "gcs",
        Some("azure") => "azure",
        _ => "filesystem",
    }
}

/// `--type=full|diff|incr` in the options → Percona's backup type words; pgBackRest's default is `incr`.
pub fn backup_type(options: &[String]) -> String {
    let t = options.iter().rev().find_map(|o| o.strip_prefix("--type=")).unwrap_or("incr");
    match t.trim_matches('"') {
        "full" => "full",
        "diff" => "differential",
        _ => "incremental",
    }
    .to_string()
}

/// `<cluster>-backup-<4>`: Crunchy draws four random characters; here they come from the Backup's uid,
/// so a rebuilt Job for the same Backup has the same name.
pub fn backup_job_name(cluster: &str, backup_uid: &str) -> String {
    fit63(&format!("{cluster}-backup-{}", short_hash(backup_uid.as_bytes(), 4)))
}

pub fn restore_job_name(cluster: &str) -> String {
    fit63(&format!("{cluster}-pgbackrest-restore"))
}

/// Builds the backup Job for `backup`. Pure.
pub fn backup(backup: &PerconaPGBackup, cluster: &PerconaPGCluster) -> Result<BackupPlan, BuildError> {
    let id = ObjectId::from_meta(BACKUP_KIND, API_VERSION, &backup.metadata)?;
    let c = Cluster::new(cluster)?;
    if backup.spec.method.as_deref() == Some("volumeSnapshot") {
        return Err(id.invalid("spec.method", "is `volumeSnapshot`, which dbdeck does not support; use pgbackrest"));
    }
    if !c.spec.backups.as_ref().is_some_and(|b| b.is_enabled()) {
        return Err(
            id.invalid("spec.pgCluster", format!("names cluster {} whose spec.backups.enabled is false", c.name))
        );
    }
    let repo_name =
        backup.spec.repo_name.clone().filter(|r| !r.is_empty()).ok_or_else(|| id.missing("spec.repoName"))?;
    let n = repo_index(&id, &repo_name)?;
    let repo = c.repo(&id, &repo_name)?;
    let options = backup.spec.options.clone().unwrap_or_default();
    let repo_path = c.global(&format!("{repo_name}-path")).unwrap_or_else(|| format!("/pgbackrest/{repo_name}"));
    let name = backup_job_name(&c.name, &id.uid);

    let mut labels = c.labels();
    labels.insert(L_PGBACKREST.into(), String::new());
    labels.insert(L_BACKUP.into(), "manual".into());
    labels.insert(L_REPO.into(), repo_name.clone());
    let mut cmd_opts = vec!["--stanza=db".to_string(), format!("--repo={n}")];
    cmd_opts.extend(options.iter().cloned());
    let extra = backup.spec.container_options.as_ref().and_then(|o| o.get("env")).and_then(Value::as_array);
    let job = exec_job(&c, &id, &name, labels, "backup", &cmd_opts, extra.cloned().unwrap_or_default())?;
    Ok(BackupPlan {
        destination: destination(&repo, &repo_path),
        storage_type: storage_type(&repo).to_string(),
        backup_type: backup_type(&options),
        repo,
        job,
    })
}

/// A Job in Crunchy's layout: its container (the pgBackRest image's `/opt/crunchy/bin/pgbackrest`) execs
/// `pgbackrest COMMAND COMMAND_OPTS` in the pod `SELECTOR` finds — the repo host's `pgbackrest` container when
/// the cluster has one, else the primary's `database` container. Owned by `owner`.
fn exec_job(
    c: &Cluster,
    owner: &ObjectId,
    name: &str,
    labels: BTreeMap<String, String>,
    command: &str,
    cmd_opts: &[String],
    extra_env: Vec<Value>,
) -> Result<Job, BuildError> {
    let (container, selector) = if c.has_repo_host() {
        (
            "pgbackrest",
            format!("{L_CLUSTER}={},{L_PGBACKREST}=,postgres-operator.crunchydata.com/pgbackrest-dedicated=", c.name),
        )
    } else {
        (
            "database",
            format!(
                "{L_CLUSTER}={},postgres-operator.crunchydata.com/instance,postgres-operator.crunchydata.com/role=master",
                c.name
            ),
        )
    };
    let mut envs = vec![
        env("COMMAND", command),
        env("COMMAND_OPTS", cmd_opts.join(" ")),
        env("COMPARE_HASH", "true"),
        env("CONTAINER", container),
        env("NAMESPACE", owner.namespace.clone()),
        env("SELECTOR", selector),
    ];
    envs.extend(extra_env);
    let jobs = c.jobs_settings();
    let spec = json!({
        "backoffLimit": jobs.backoff_limit,
        "ttlSecondsAfterFinished": jobs.ttl_seconds_after_finished,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": format!("{}-pgbackrest", c.name),
                "enableServiceLinks": false,
                "affinity": to_json(&jobs.affinity),
                "tolerations": to_json(&jobs.tolerations),
                "priorityClassName": jobs.priority_class_name,
                "securityContext": to_json(&jobs.security_context),
                "containers": [{
                    "name": "pgbackrest",
                    "image": c.pgbackrest_image(owner)?,
                    "command": ["/opt/crunchy/bin/pgbackrest"],
                    "env": envs,
                    "resources": to_json(&jobs.resources),
                    "securityContext": {
                        "allowPrivilegeEscalation": false, "privileged": false, "readOnlyRootFilesystem": true,
                        "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
                    },
                }],
            },
        },
    });
    typed(
        &format!("Job {name}"),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": owner.namespace, "labels": labels,
                         "ownerReferences": [to_json(&owner.owner_reference())]},
            "spec": spec,
        }),
    )
}

/// The Jobs the cluster's `percona.com/delete-backups` finalizer runs, in order, as Percona's operator runs
/// the same commands by exec: `pgbackrest stop` for the stanza, then `stanza-delete --force` per repo, which
/// removes the repo's backups and WAL archive. Empty when backups are off or no repo is configured.
pub fn delete_backups_jobs(cluster: &PerconaPGCluster) -> Result<Vec<Job>, BuildError> {
    let id = ObjectId::from_meta(CLUSTER_KIND, API_VERSION, &cluster.metadata)?;
    let c = Cluster::new(cluster)?;
    let repos: Vec<String> = match c.spec.backups.as_ref().filter(|b| b.is_enabled()) {
        Some(b) => b
            .pgbackrest
            .as_ref()
            .and_then(|p| p.repos.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|r| r.name.clone())
            .collect(),
        None => return Ok(Vec::new()),
    };
    if repos.is_empty() {
        return Ok(Vec::new());
    }
    let mut labels = c.labels();
    labels.insert(L_PGBACKREST.into(), String::new());
    let mut jobs = vec![exec_job(
        &c,
        &id,
        &fit63(&format!("{}-backrest-stop", c.name)),
        labels.clone(),
        "stop",
        &["--stanza=db".into()],
        vec![],
    )?];
    for repo in &repos {
        let n = repo_index(&id, repo)
            .map_err(|_| id.invalid("spec.backups.pgbackrest.repos[].name", format!("{repo:?} is not repo1..repo4")))?;
        let mut l = labels.clone();
        l.insert(L_REPO.into(), repo.clone());
        let opts = ["--stanza=db".to_string(), format!("--repo={n}"), "--force".to_string()];
        jobs.push(exec_job(&c, &id, &fit63(&format!("{}-delete-{repo}", c.name)), l, "stanza-delete", &opts, vec![])?);
    }
    Ok(jobs)
}

/// Builds `<cluster>-pgbackrest-restore`: an in-place `pgbackrest restore --delta` into the data
/// volume `pgdata_claim` (the primary's, found by the controller) while the cluster is shut down.
/// `spec.options` (e.g. `--type=time --target="…"` for PITR) go to pgBackRest unchanged.
pub fn restore(restore: &PerconaPGRestore, cluster: &PerconaPGCluster, pgdata_claim: &str) -> Result<Job, BuildError> {
    let id = ObjectId::from_meta(RESTORE_KIND, API_VERSION, &restore.metadata)?;
    let c = Cluster::new(cluster)?;
    if restore.spec.volume_snapshot_backup_name.is_some() {
        return Err(
            id.invalid("spec.volumeSnapshotBackupName", "is set, but dbdeck restores from pgBackRest repos only")
        );
    }
    let repo_name =
        restore.spec.repo_name.clone().filter(|r| !r.is_empty()).ok_or_else(|| id.missing("spec.repoName"))?;
    let n = repo_index(&id, &repo_name)?;
    c.repo(&id, &repo_name)?;
    let major = c.spec.postgres_version.ok_or_else(|| id.missing("spec.postgresVersion of the cluster"))?;
    let pgdata = format!("/pgdata/pg{major}");
    let mut args = vec![
        "restore".to_string(),
        "--stanza=db".into(),
        format!("--pg1-path={pgdata}"),
        format!("--repo={n}"),
        "--delta".into(),
        format!("--link-map=pg_wal={pgdata}_wal"),
    ];
    args.extend(restore.spec.options.clone().unwrap_or_default());
    let name = restore_job_name(&c.name);
    let mut labels = c.labels();
    labels.insert(L_RESTORE.into(), String::new());
    let image = c.spec.image.clone().ok_or_else(|| id.missing("spec.image of the cluster"))?;
    let config = json!({
        "name": "pgbackrest-config",
        "projected": {"sources": [
            {"configMap": {"name": format!("{}-pgbackrest-config", c.name)}},
            {"secret": {"name": format!("{}-pgbackrest", c.name), "optional": true}},
        ]},
    });
    let jobs = c.jobs_settings();
    let spec = json!({
        "backoffLimit": jobs.backoff_limit,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": format!("{}-instance", c.name),
                "enableServiceLinks": false,
                "securityContext": to_json(&jobs.security_context),
                "containers": [{
                    "name": "pgbackrest-restore",
                    "image": image,
                    "command": ["pgbackrest"],
                    "args": args,
                    "env": [env("PGHOST", "/tmp")],
                    "resources": to_json(&jobs.resources),
                    "volumeMounts": [mount("postgres-data", "/pgdata"), mount("pgbackrest-config", "/etc/pgbackrest/conf.d")],
                }],
                "volumes": [
                    {"name": "postgres-data", "persistentVolumeClaim": {"claimName": pgdata_claim}},
                    config,
                ],
            },
        },
    });
    typed(
        &format!("Job {name}"),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": id.namespace, "labels": labels,
                         "ownerReferences": [to_json(&id.owner_reference())]},
            "spec": spec,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> PerconaPGCluster {
        serde_yaml::from_str(
            r#"
apiVersion: pgv2.percona.com/v2
kind: PerconaPGCluster
metadata: {name: cluster1, namespace: ns, uid: c-uid}
spec:
  postgresVersion: 17
  instances: [{name: instance1, replicas: 3}]
  backups:
    pgbackrest:
      global: {repo2-path: /pgbackrest/demand-backup/repo2}
      jobs: {backoffLimit: 2}
      repos:
        - name: repo1
          schedules: {full: "0 0 * * 6"}
          volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
        - name: repo2
          s3: {bucket: pg-bucket, endpoint: "s3.amazonaws.com", region: us-east-1}
"#,
        )
        .unwrap()
    }

    fn backup_cr(repo: &str, options: &[&str]) -> PerconaPGBackup {
        let mut b = PerconaPGBackup::new(
            "backup1",
            crate::api::pg::PerconaPGBackupSpec {
                pg_cluster: Some("cluster1".into()),
                repo_name: Some(repo.into()),
                options: Some(options.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        );
        b.metadata.namespace = Some("ns".into());
        b.metadata.uid = Some("b-uid".into());
        b
    }

    #[test]
    fn delete_backups_stops_the_stanza_then_deletes_it_from_every_repo() {
        let jobs = delete_backups_jobs(&cluster()).unwrap();
        let names: Vec<String> = jobs.iter().map(|j| j.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["cluster1-backrest-stop", "cluster1-delete-repo1", "cluster1-delete-repo2"]);
        let env = |j: &Job| -> BTreeMap<String, Option<String>> {
            let c = &j.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
            c.env.iter().flatten().map(|e| (e.name.clone(), e.value.clone())).collect()
        };
        assert_eq!(env(&jobs[0])["COMMAND"].as_deref(), Some("stop"));
        assert_eq!(env(&jobs[2])["COMMAND"].as_deref(), Some("stanza-delete"));
        assert_eq!(env(&jobs[2])["COMMAND_OPTS"].as_deref(), Some("--stanza=db --repo=2 --force"));
        assert_eq!(env(&jobs[1])["CONTAINER"].as_deref(), Some("pgbackrest"), "run where the repos are reachable");
        let owner = &jobs[1].metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("PerconaPGCluster", "cluster1"));
        let mut off = cluster();
        off.spec.backups.as_mut().unwrap().enabled = Some(false);
        assert!(delete_backups_jobs(&off).unwrap().is_empty(), "backups off: nothing to delete");
    }

    #[test]
    fn s3_repo_backup_runs_pgbackrest_backup_on_the_repo_host() {
        let plan = backup(&backup_cr("repo2", &["--type=full"]), &cluster()).unwrap();
        assert_eq!(plan.destination.as_deref(), Some("s3://pg-bucket/pgbackrest/demand-backup/repo2"));
        assert_eq!((plan.storage_type.as_str(), plan.backup_type.as_str()), ("s3", "full"));
        let name = plan.job.metadata.name.clone().unwrap();
        assert!(name.starts_with("cluster1-backup-") && name.len() == "cluster1-backup-".len() + 4, "{name}");
        let c = &plan.job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        let env: BTreeMap<_, _> = c.env.iter().flatten().map(|e| (e.name.clone(), e.value.clone())).collect();
        assert_eq!(env["COMMAND"].as_deref(), Some("backup"));
        assert_eq!(env["COMMAND_OPTS"].as_deref(), Some("--stanza=db --repo=2 --type=full"));
        assert_eq!(env["CONTAINER"].as_deref(), Some("pgbackrest"), "a volume repo means a dedicated repo host");
        assert_eq!(plan.job.spec.as_ref().unwrap().backoff_limit, Some(2));
        insta::assert_yaml_snapshot!("pg_backup_s3", &plan.job);
    }

    #[test]
    fn volume_repo_has_no_destination_and_defaults_to_incremental() {
        let plan = backup(&backup_cr("repo1", &[]), &cluster()).unwrap();
        assert_eq!(plan.destination, None);
        assert_eq!((plan.storage_type.as_str(), plan.backup_type.as_str()), ("filesystem", "incremental"));
        insta::assert_yaml_snapshot!("pg_backup_volume", &plan.job);
        assert_eq!(backup_type(&["--type=diff".into()]), "differential");
    }

    #[test]
    fn bad_repos_name_the_field() {
        let err = backup(&backup_cr("repo9", &[]), &cluster()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PerconaPGBackup backup1: spec.repoName is `repo9`; it must be repo1, repo2, repo3 or repo4"
        );
        let err = backup(&backup_cr("repo3", &[]), &cluster()).unwrap_err();
        assert!(err.to_string().contains("names storage `repo3`, which cluster cluster1 does not define"), "{err}");
    }

    #[test]
    fn restore_passes_pitr_options_to_pgbackrest() {
        let mut r = PerconaPGRestore::new(
            "restore1",
            crate::api::pg::PerconaPGRestoreSpec {
                pg_cluster: Some("cluster1".into()),
                repo_name: Some("repo1".into()),
                options: Some(vec!["--type=time".into(), "--target=\"2026-11-22 10:00:00+00\"".into()]),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("r-uid".into());
        let job = restore(&r, &cluster(), "cluster1-instance1-abcd-pgdata").unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("cluster1-pgbackrest-restore"));
        let pod = job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let args = pod.containers[0].args.clone().unwrap();
        assert!(args.contains(&"--repo=1".to_string()) && args.contains(&"--type=time".to_string()), "{args:?}");
        assert_eq!(
            pod.volumes.unwrap()[0].persistent_volume_claim.as_ref().unwrap().claim_name,
            "cluster1-instance1-abcd-pgdata"
        );
        insta::assert_yaml_snapshot!("pg_restore", &job);
    }
}
