//! Scheduled backups: when the next run is due (at most one catch-up run for runs missed while the
//! engine was down), what a scheduled Backup object is called, and which old ones retention deletes.
//! Percona runs these from an in-operator cron, not from CronJobs, and so does dbdeck.

use chrono::{DateTime, Utc};

use super::common::{fit63, short_hash};
use crate::api::common::{Schedule, parse_cron};

/// The label value Percona gives `percona.com/backup-type` on schedule-created Backup objects.
pub const TYPE_CRON: &str = "cron";
/// …and on the ones a user created.
pub const TYPE_MANUAL: &str = "manual";

/// One schedule of one cluster, ready to be asked when it is due.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    pub name: String,
    schedule: Schedule,
}

impl CronSchedule {
    /// Parses `expr` (five cron fields, a descriptor such as `@daily`, or `@every 30s`).
    pub fn new(name: &str, expr: &str) -> Result<Self, String> {
        Ok(Self { name: name.to_string(), schedule: parse_cron(expr).map_err(|e| format!("schedule {name}: {e}"))? })
    }

    /// The first run strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.next_after(t)
    }

    /// What to do at `now`, given the time of the last run this schedule made (`None` when it has
    /// made none: then nothing is owed yet and the first run is the next tick after `now`).
    pub fn plan(&self, last_run: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Plan {
        let next = self.next_after(now);
        let Some(last) = last_run else { return Plan { run: None, missed: 0, next } };
        // Every tick in (last, now] is owed; they all collapse into one run, stamped with the newest.
        let mut owed = None;
        let mut count = 0usize;
        let mut t = last;
        while let Some(n) = self.next_after(t) {
            if n > now {
                break;
            }
            owed = Some(n);
            count += 1;
            t = n;
            // A schedule far behind (every second for a week) need not be walked in full.
            if count >= 10_000 {
                break;
            }
        }
        Plan { run: owed, missed: count.saturating_sub(1), next }
    }
}

/// What the cron task does now.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Run once now, for this scheduled time (the newest one owed).
    pub run: Option<DateTime<Utc>>,
    /// Further ticks that were missed and are skipped (not run).
    pub missed: usize,
    /// When to wake up next.
    pub next: Option<DateTime<Utc>>,
}

/// `cron-<cluster>-<storage>-<YYYYMMDDhhmmss>-<hash>`: the name of a Backup object a PXC or PS
/// schedule creates at `at`. The hash of cluster, schedule and time keeps two schedules that share
/// a storage apart.
pub fn backup_name(cluster: &str, storage: &str, schedule: &str, at: DateTime<Utc>) -> String {
    let ts = at.format("%Y%m%d%H%M%S").to_string();
    let hash = short_hash(format!("{cluster}/{schedule}/{ts}").as_bytes(), 5);
    fit63(&format!("cron-{cluster}-{storage}-{ts}-{hash}"))
}

/// `<cluster>-<repo>-<full|diff|incr>-<hash>`: the name of a PerconaPGBackup a pgBackRest schedule
/// creates (Percona uses the schedule name as a generateName prefix).
pub fn pg_backup_name(cluster: &str, repo: &str, kind: &str, at: DateTime<Utc>) -> String {
    let ts = at.format("%Y%m%d%H%M%S").to_string();
    fit63(&format!("{cluster}-{repo}-{kind}-{}", short_hash(format!("{cluster}/{repo}/{kind}/{ts}").as_bytes(), 5)))
}

/// What retention needs to know of one Backup object.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupRecord {
    pub name: String,
    /// The schedule it came from (its ancestor label), if any.
    pub ancestor: Option<String>,
    /// Its `status.state`.
    pub state: Option<String>,
    /// Completion time, else creation time: the age retention sorts by.
    pub finished_at: Option<DateTime<Utc>>,
    /// Already being deleted.
    pub deleting: bool,
}

/// The Backup objects of schedule `ancestor` that retention deletes so that at most `keep` succeeded
/// (and at most `keep` failed) ones remain, oldest first. Only finished backups are touched: a
/// running one is never deleted, and `keep == 0` keeps everything (Percona's meaning).
pub fn retention(backups: &[BackupRecord], ancestor: &str, keep: usize) -> Vec<String> {
    if keep == 0 {
        return Vec::new();
    }
    let mut doomed = Vec::new();
    for finished_state in ["Succeeded", "Failed"] {
        let mut mine: Vec<&BackupRecord> = backups
            .iter()
            .filter(|b| !b.deleting)
            .filter(|b| b.ancestor.as_deref() == Some(ancestor))
            .filter(|b| b.state.as_deref() == Some(finished_state))
            .collect();
        // Newest first; ties broken by name so the result does not depend on list order.
        mine.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then_with(|| b.name.cmp(&a.name)));
        doomed.extend(mine.into_iter().skip(keep));
    }
    doomed.sort_by(|a, b| a.finished_at.cmp(&b.finished_at).then_with(|| a.name.cmp(&b.name)));
    doomed.into_iter().map(|b| b.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap()
    }

    #[test]
    fn next_run_follows_the_cron() {
        let s = CronSchedule::new("daily", "0 0 * * *").unwrap();
        assert_eq!(s.next_after(t(10, 0, 0)), Some(Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()));
        let every = CronSchedule::new("fast", "@every 2s").unwrap();
        assert_eq!(every.next_after(t(10, 0, 0)), Some(t(10, 0, 2)));
        assert!(CronSchedule::new("bad", "61 * * * *").unwrap_err().starts_with("schedule bad:"));
    }

    #[test]
    fn missed_runs_collapse_into_one_catch_up() {
        let s = CronSchedule::new("hourly", "0 * * * *").unwrap();
        // Last run 07:00, engine back at 10:30: 08:00, 09:00, 10:00 are owed → one run for 10:00.
        let p = s.plan(Some(t(7, 0, 0)), t(10, 30, 0));
        assert_eq!(p.run, Some(t(10, 0, 0)));
        assert_eq!(p.missed, 2);
        assert_eq!(p.next, Some(t(11, 0, 0)));
        // Nothing owed yet.
        let p = s.plan(Some(t(10, 0, 0)), t(10, 30, 0));
        assert_eq!((p.run, p.missed), (None, 0));
        // A schedule with no run yet owes nothing; it waits for its first tick.
        let p = s.plan(None, t(10, 30, 0));
        assert_eq!((p.run, p.next), (None, Some(t(11, 0, 0))));
    }

    #[test]
    fn scheduled_names_follow_percona() {
        let n = backup_name("cluster1", "s3-us-west", "daily-backup", t(1, 2, 3));
        assert!(n.starts_with("cron-cluster1-s3-us-west-20261123010203-"), "{n}");
        assert_eq!(n.len(), "cron-cluster1-s3-us-west-20261123010203-".len() + 5);
        assert_ne!(n, backup_name("cluster1", "s3-us-west", "other", t(1, 2, 3)));
        let long = backup_name(&"c".repeat(40), &"s".repeat(40), "x", t(1, 2, 3));
        assert!(long.len() <= 63);
        assert!(pg_backup_name("cluster1", "repo1", "full", t(1, 2, 3)).starts_with("cluster1-repo1-full-"));
    }

    fn rec(name: &str, ancestor: &str, state: &str, minute: u32) -> BackupRecord {
        BackupRecord {
            name: name.into(),
            ancestor: Some(ancestor.into()),
            state: Some(state.into()),
            finished_at: Some(t(10, minute, 0)),
            deleting: false,
        }
    }

    #[test]
    fn retention_deletes_the_oldest_finished_of_that_schedule() {
        let backups = vec![
            rec("a1", "daily", "Succeeded", 1),
            rec("a2", "daily", "Succeeded", 2),
            rec("a3", "daily", "Running", 3),
            rec("a4", "daily", "Succeeded", 4),
            rec("a5", "daily", "Succeeded", 5),
            rec("b1", "hourly", "Succeeded", 0),
            rec("f1", "daily", "Failed", 0),
            rec("f2", "daily", "Failed", 6),
            rec("f3", "daily", "Failed", 7),
            BackupRecord { deleting: true, ..rec("a0", "daily", "Succeeded", 0) },
        ];
        assert_eq!(retention(&backups, "daily", 2), vec!["f1", "a1", "a2"]);
        assert_eq!(retention(&backups, "daily", 0), Vec::<String>::new());
        assert_eq!(retention(&backups, "hourly", 1), Vec::<String>::new());
    }
}
