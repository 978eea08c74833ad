//! From a backup Job to a backup state, with the deadlines enforced; and the restore state machine.
//! Pure: the controller reads the Job and the clock and writes what these functions return.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;

use super::common::chrono_time;

/// Which operator's words to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Pxc,
    Ps,
    Pg,
}

pub const STARTING: &str = "Starting";
pub const RUNNING: &str = "Running";
pub const SUCCEEDED: &str = "Succeeded";
pub const FAILED: &str = "Failed";
/// PS only: the backup never started.
pub const ERROR: &str = "Error";

impl Family {
    /// The state of a backup that failed before its Job ran: PS says `Error`, the others `Failed`.
    pub fn never_started(self) -> &'static str {
        match self {
            Family::Ps => ERROR,
            Family::Pxc | Family::Pg => FAILED,
        }
    }
}

/// What a Job says about itself.
#[derive(Clone, Debug, PartialEq)]
pub enum JobPhase {
    /// Created; no pod has started yet.
    Pending,
    /// A pod is active.
    Active,
    Complete {
        at: Option<DateTime<Utc>>,
    },
    /// The Job failed; the text names the Job and Kubernetes' reason and message.
    Failed {
        error: String,
    },
}

/// Reads a Job's status conditions and counters.
pub fn job_phase(job: &Job) -> JobPhase {
    let name = job.metadata.name.clone().unwrap_or_default();
    let Some(st) = &job.status else { return JobPhase::Pending };
    for c in st.conditions.iter().flatten() {
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Complete" => return JobPhase::Complete { at: st.completion_time.as_ref().map(chrono_time) },
            "Failed" => {
                let reason = c.reason.clone().unwrap_or_else(|| "Failed".into());
                let msg = c.message.clone().unwrap_or_default();
                let error = if msg.is_empty() {
                    format!("Job {name} failed: {reason}")
                } else {
                    format!("Job {name} failed: {reason}: {msg}")
                };
                return JobPhase::Failed { error };
            }
            _ => {}
        }
    }
    // `active` also counts pods still Pending (unschedulable, pulling); `ready` (Kubernetes 1.29+)
    // counts the ones that run, which is what "running" means for the deadlines. Without `ready`
    // (older servers) an active pod has to do.
    let running = match st.ready {
        Some(ready) => ready > 0,
        None => st.active.unwrap_or(0) > 0,
    };
    if running || st.start_time.is_some() && st.failed.unwrap_or(0) > 0 { JobPhase::Active } else { JobPhase::Pending }
}

/// The deadlines of one backup, in seconds (`None`: no deadline).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Deadlines {
    /// From the Backup object's creation until its Job exists and a pod started.
    pub starting: Option<i64>,
    /// From the Job's creation until a pod of it is active.
    pub running: Option<i64>,
    /// From the Job's start until it finishes (the Job's own `activeDeadlineSeconds`; Kubernetes
    /// enforces it on a real cluster, the engine also does so the backup is never left Running).
    pub active: Option<i64>,
}

/// What the controller knows about one backup at `now`.
#[derive(Clone, Debug)]
pub struct BackupFacts<'a> {
    pub family: Family,
    /// The current `status.state` (`None`/empty: new).
    pub state: Option<&'a str>,
    pub created: DateTime<Utc>,
    pub job: Option<&'a Job>,
    pub deadlines: Deadlines,
    pub now: DateTime<Utc>,
}

/// The state to write, with the error and completion time that go with it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupUpdate {
    pub state: String,
    pub error: Option<String>,
    pub completed: Option<DateTime<Utc>>,
}

impl BackupUpdate {
    fn to(state: &str) -> Self {
        Self { state: state.into(), error: None, completed: None }
    }
    fn failed(state: &str, error: String, now: DateTime<Utc>) -> Self {
        Self { state: state.into(), error: Some(error), completed: Some(now) }
    }
}

/// True for the states a backup never leaves.
pub fn is_final(state: Option<&str>) -> bool {
    matches!(state, Some(SUCCEEDED) | Some(FAILED) | Some(ERROR))
}

/// `Starting → Running → Succeeded | Failed` (PS: `Error` when it never started), from the Job and
/// the deadlines. `None` when nothing changes.
pub fn backup_update(f: &BackupFacts) -> Option<BackupUpdate> {
    let current = f.state.filter(|s| !s.is_empty());
    if is_final(current) {
        return None;
    }
    let secs = |since: DateTime<Utc>| (f.now - since).num_seconds();
    let next = match f.job.map(job_phase) {
        None => match f.deadlines.starting {
            Some(d) if secs(f.created) > d => BackupUpdate::failed(
                f.family.never_started(),
                format!("the backup did not start within startingDeadlineSeconds ({d}s)"),
                f.now,
            ),
            _ => BackupUpdate::to(STARTING),
        },
        Some(JobPhase::Pending) => {
            let job_created =
                f.job.and_then(|j| j.metadata.creation_timestamp.as_ref()).map(chrono_time).unwrap_or(f.created);
            match (f.deadlines.starting, f.deadlines.running) {
                (Some(d), _) if current.is_none() && secs(f.created) > d => BackupUpdate::failed(
                    f.family.never_started(),
                    format!("the backup did not start within startingDeadlineSeconds ({d}s)"),
                    f.now,
                ),
                (_, Some(d)) if secs(job_created) > d => BackupUpdate::failed(
                    FAILED,
                    format!("the backup Job did not get running within runningDeadlineSeconds ({d}s)"),
                    f.now,
                ),
                _ => BackupUpdate::to(STARTING),
            }
        }
        Some(JobPhase::Active) => {
            let job = f.job.and_then(|j| j.metadata.name.clone()).unwrap_or_default();
            let started = f
                .job
                .and_then(|j| j.status.as_ref())
                .and_then(|s| s.start_time.as_ref())
                .map(chrono_time)
                .or_else(|| f.job.and_then(|j| j.metadata.creation_timestamp.as_ref()).map(chrono_time));
            match (f.deadlines.active, started) {
                (Some(d), Some(t)) if secs(t) > d => BackupUpdate::failed(
                    FAILED,
                    format!("Job {job} ran longer than activeDeadlineSeconds ({d}s): DeadlineExceeded"),
                    f.now,
                ),
                _ => BackupUpdate::to(RUNNING),
            }
        }
        Some(JobPhase::Complete { at }) => {
            BackupUpdate { state: SUCCEEDED.into(), error: None, completed: Some(at.unwrap_or(f.now)) }
        }
        Some(JobPhase::Failed { error }) => BackupUpdate::failed(FAILED, error, f.now),
    };
    (current != Some(next.state.as_str()) || next.error.is_some()).then_some(next)
}

// ------------------------------------------------------------------------------------------------
// Restores

/// The steps of a restore. PXC shows each as its own state; PS and PG show `Running` for the middle
/// ones and keep the step in their description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePhase {
    New,
    Starting,
    StoppingCluster,
    Restoring,
    PointInTime,
    StartingCluster,
    Succeeded,
    Failed,
}

impl RestorePhase {
    /// The `status.state` Percona's operator of `family` shows for this step.
    pub fn state(self, family: Family) -> &'static str {
        use RestorePhase::*;
        match (self, family) {
            (New, _) => "",
            (Starting, _) => STARTING,
            (Succeeded, _) => SUCCEEDED,
            (Failed, _) => FAILED,
            (StoppingCluster, Family::Pxc) => "Stopping Cluster",
            (Restoring, Family::Pxc) => "Restoring",
            (PointInTime, Family::Pxc) => "Point-in-time recovering",
            (StartingCluster, Family::Pxc) => "Starting Cluster",
            (_, Family::Ps | Family::Pg) => RUNNING,
        }
    }

    /// The step's own name, kept in PS's `stateDescription` / PG's `message`.
    pub fn description(self) -> &'static str {
        use RestorePhase::*;
        match self {
            New => "",
            Starting => "Starting",
            StoppingCluster => "Stopping Cluster",
            Restoring => "Restoring",
            PointInTime => "Point-in-time recovering",
            StartingCluster => "Starting Cluster",
            Succeeded => "Succeeded",
            Failed => "Failed",
        }
    }

    /// Reads the step back from a state (PXC) or a description (PS, PG); unknown text is `New`.
    pub fn parse(s: &str) -> Self {
        use RestorePhase::*;
        [Starting, StoppingCluster, Restoring, PointInTime, StartingCluster, Succeeded, Failed]
            .into_iter()
            .find(|p| p.description() == s || (p.state(Family::Pxc) == s && !s.is_empty()))
            .unwrap_or(New)
    }

    pub fn is_final(self) -> bool {
        matches!(self, RestorePhase::Succeeded | RestorePhase::Failed)
    }
}

/// What the restore controller must do to move on.
#[derive(Clone, Debug, PartialEq)]
pub enum RestoreAction {
    /// Nothing yet; look again when something changes.
    Wait,
    /// Save the cluster's sizes into the restore's status and set `spec.pause: true`.
    PauseCluster,
    CreateRestoreJob,
    CreatePitrJob,
    /// Put the saved sizes back and set `spec.pause: false`.
    ResumeCluster,
    /// Nothing more to do.
    Done,
}

/// What the controller observed for one restore.
#[derive(Clone, Debug, Default)]
pub struct RestoreFacts {
    /// The source was found and checked (backup exists and succeeded, or `backupSource` is complete).
    pub source_ok: bool,
    /// Database pods of the cluster that still exist.
    pub db_pods: i32,
    pub restore_job: Option<JobPhase>,
    pub pitr_job: Option<JobPhase>,
    pub wants_pitr: bool,
    /// The cluster reports `ready` again.
    pub cluster_ready: bool,
}

/// One step of the restore state machine: `Starting → Stopping Cluster → Restoring →
/// [Point-in-time recovering] → Starting Cluster → Succeeded | Failed`. A failure after the cluster
/// was stopped goes through [`RestoreAction::ResumeCluster`] so the cluster comes back either way.
/// Returns the next phase, the action, and a message for status when there is something to say.
pub fn restore_step(phase: RestorePhase, f: &RestoreFacts) -> (RestorePhase, RestoreAction, Option<String>) {
    use RestoreAction::*;
    use RestorePhase::*;
    match phase {
        New => (Starting, Wait, None),
        Starting if !f.source_ok => (Starting, Wait, Some("waiting for the backup to restore from".into())),
        Starting => (StoppingCluster, PauseCluster, None),
        StoppingCluster if f.db_pods > 0 => {
            (StoppingCluster, Wait, Some(format!("waiting for {} database pod(s) to stop", f.db_pods)))
        }
        StoppingCluster => (Restoring, CreateRestoreJob, None),
        Restoring => match &f.restore_job {
            None => (Restoring, CreateRestoreJob, None),
            Some(JobPhase::Complete { .. }) if f.wants_pitr => (PointInTime, CreatePitrJob, None),
            Some(JobPhase::Complete { .. }) => (StartingCluster, ResumeCluster, None),
            Some(JobPhase::Failed { error }) => (Failed, ResumeCluster, Some(error.clone())),
            Some(_) => (Restoring, Wait, None),
        },
        PointInTime => match &f.pitr_job {
            None => (PointInTime, CreatePitrJob, None),
            Some(JobPhase::Complete { .. }) => (StartingCluster, ResumeCluster, None),
            Some(JobPhase::Failed { error }) => (Failed, ResumeCluster, Some(error.clone())),
            Some(_) => (PointInTime, Wait, None),
        },
        StartingCluster if f.cluster_ready => (Succeeded, Done, None),
        StartingCluster => (StartingCluster, Wait, Some("waiting for the cluster to become ready".into())),
        Succeeded | Failed => (phase, Done, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backup::common::kube_time;
    use chrono::TimeZone;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn t(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, s).unwrap()
    }

    fn job(status: Option<JobStatus>) -> Job {
        let mut j = Job::default();
        j.metadata.name = Some("xb-b1".into());
        j.metadata.creation_timestamp = Some(kube_time(t(0)));
        j.status = status;
        j
    }

    fn cond(type_: &str, reason: &str, message: &str) -> JobCondition {
        JobCondition {
            type_: type_.into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    fn facts<'a>(family: Family, state: Option<&'a str>, job: Option<&'a Job>, now: u32) -> BackupFacts<'a> {
        BackupFacts {
            family,
            state,
            created: t(0),
            job,
            deadlines: Deadlines { starting: Some(10), running: Some(20), active: Some(30) },
            now: t(now),
        }
    }

    #[test]
    fn job_walks_the_backup_through_its_states() {
        let u = backup_update(&facts(Family::Pxc, None, None, 1)).unwrap();
        assert_eq!(u.state, STARTING);
        assert!(backup_update(&facts(Family::Pxc, Some(STARTING), None, 1)).is_none(), "no change, no write");

        let active = job(Some(JobStatus { active: Some(1), start_time: Some(kube_time(t(1))), ..Default::default() }));
        assert_eq!(backup_update(&facts(Family::Pxc, Some(STARTING), Some(&active), 2)).unwrap().state, RUNNING);
        // A server that counts ready pods: an active pod that is not ready yet (Pending) is not running.
        let pending_pod = job(Some(JobStatus {
            active: Some(1),
            ready: Some(0),
            start_time: Some(kube_time(t(1))),
            ..Default::default()
        }));
        assert!(backup_update(&facts(Family::Pxc, Some(STARTING), Some(&pending_pod), 2)).is_none());

        let done = job(Some(JobStatus {
            conditions: Some(vec![cond("Complete", "CompletionsReached", "")]),
            completion_time: Some(kube_time(t(5))),
            ..Default::default()
        }));
        let u = backup_update(&facts(Family::Pxc, Some(RUNNING), Some(&done), 6)).unwrap();
        assert_eq!((u.state.as_str(), u.completed), (SUCCEEDED, Some(t(5))));
        assert!(backup_update(&facts(Family::Pxc, Some(SUCCEEDED), Some(&done), 7)).is_none());
    }

    #[test]
    fn failed_job_gives_its_reason() {
        let failed = job(Some(JobStatus {
            conditions: Some(vec![cond(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )]),
            ..Default::default()
        }));
        let u = backup_update(&facts(Family::Ps, Some(RUNNING), Some(&failed), 3)).unwrap();
        assert_eq!(u.state, FAILED);
        assert_eq!(
            u.error.as_deref(),
            Some("Job xb-b1 failed: BackoffLimitExceeded: Job has reached the specified backoff limit")
        );
    }

    #[test]
    fn deadlines_fail_backups_that_never_start_or_never_run() {
        // No Job after the starting deadline: PS says Error, PXC/PG Failed.
        let u = backup_update(&facts(Family::Ps, Some(STARTING), None, 11)).unwrap();
        assert_eq!(u.state, ERROR);
        assert!(u.error.unwrap().contains("startingDeadlineSeconds (10s)"));
        assert_eq!(backup_update(&facts(Family::Pxc, Some(STARTING), None, 11)).unwrap().state, FAILED);
        // A Job that stays pending past the running deadline.
        let pending = job(Some(JobStatus::default()));
        assert_eq!(backup_update(&facts(Family::Pg, Some(STARTING), Some(&pending), 15)), None);
        let u = backup_update(&facts(Family::Pg, Some(STARTING), Some(&pending), 21)).unwrap();
        assert!(u.error.unwrap().contains("runningDeadlineSeconds (20s)"));
        // A Job still active past activeDeadlineSeconds (counted from its start) fails the backup.
        let active = job(Some(JobStatus { active: Some(1), start_time: Some(kube_time(t(2))), ..Default::default() }));
        assert_eq!(backup_update(&facts(Family::Pxc, Some(RUNNING), Some(&active), 31)), None);
        let u = backup_update(&facts(Family::Pxc, Some(RUNNING), Some(&active), 33)).unwrap();
        assert_eq!(u.state, FAILED);
        assert_eq!(u.error.as_deref(), Some("Job xb-b1 ran longer than activeDeadlineSeconds (30s): DeadlineExceeded"));
    }

    #[test]
    fn restore_walks_pxc_states_and_always_resumes_the_cluster() {
        use RestoreAction::*;
        use RestorePhase::*;
        let mut f = RestoreFacts { db_pods: 3, ..Default::default() };
        assert_eq!(restore_step(New, &f).0, Starting);
        assert_eq!(restore_step(Starting, &f).1, Wait, "no source yet");
        f.source_ok = true;
        assert_eq!(restore_step(Starting, &f), (StoppingCluster, PauseCluster, None));
        assert_eq!(restore_step(StoppingCluster, &f).1, Wait);
        f.db_pods = 0;
        assert_eq!(restore_step(StoppingCluster, &f), (Restoring, CreateRestoreJob, None));
        f.restore_job = Some(JobPhase::Active);
        assert_eq!(restore_step(Restoring, &f), (Restoring, Wait, None));
        f.restore_job = Some(JobPhase::Complete { at: None });
        f.wants_pitr = true;
        assert_eq!(restore_step(Restoring, &f), (PointInTime, CreatePitrJob, None));
        f.pitr_job = Some(JobPhase::Failed { error: "Job pitr failed: x".into() });
        assert_eq!(restore_step(PointInTime, &f), (Failed, ResumeCluster, Some("Job pitr failed: x".into())));
        f.pitr_job = Some(JobPhase::Complete { at: None });
        assert_eq!(restore_step(PointInTime, &f), (StartingCluster, ResumeCluster, None));
        assert_eq!(restore_step(StartingCluster, &f).1, Wait);
        f.cluster_ready = true;
        assert_eq!(restore_step(StartingCluster, &f), (Succeeded, Done, None));

        f.restore_job = Some(JobPhase::Failed { error: "Job r failed: BackoffLimitExceeded".into() });
        assert_eq!(restore_step(Restoring, &f).1, ResumeCluster);
    }

    #[test]
    fn restore_state_names_per_family() {
        assert_eq!(RestorePhase::StoppingCluster.state(Family::Pxc), "Stopping Cluster");
        assert_eq!(RestorePhase::StoppingCluster.state(Family::Ps), "Running");
        assert_eq!(RestorePhase::Restoring.state(Family::Pg), "Running");
        assert_eq!(RestorePhase::parse("Stopping Cluster"), RestorePhase::StoppingCluster);
        assert_eq!(RestorePhase::parse("Point-in-time recovering"), RestorePhase::PointInTime);
        assert_eq!(RestorePhase::parse(""), RestorePhase::New);
    }
}
