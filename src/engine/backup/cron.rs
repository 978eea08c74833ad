//! The in-engine cron (one controller per family, over the clusters): creates the Backup objects a
//! cluster's schedules call for, at most one catch-up run for runs missed while the engine was down,
//! and applies retention by the schedule's ancestor label. It sleeps until the earliest next run
//! (the controller's requeue), and Backup changes wake it so retention acts when a backup finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;

use super::common::chrono_time;
use super::controller::{ControllerError, Ctx, kube_err};
use super::kinds::{Kind, SCHEDULED_AT_ANNOTATION};
use super::schedule::{BackupRecord, CronSchedule, retention};

/// (namespace, cluster, schedule name, cron expression).
type ScheduleKey = (String, String, String, String);

struct CronCtx {
    inner: Ctx,
    /// When this engine first saw each schedule (namespace, cluster, schedule, cron): a schedule
    /// with no backups yet owes nothing from before then.
    first_seen: Mutex<HashMap<ScheduleKey, DateTime<Utc>>>,
    /// When each cluster (namespace, name) next has a run due. The controller's own requeue can be
    /// dropped by kube-runtime's scheduler (a requeue that arrives while the object is held pending is
    /// discarded; seen live: a schedule that never fired until the cluster changed), so a clock task
    /// also wakes the controller at the earliest of these times.
    due: Mutex<HashMap<(String, String), DateTime<Utc>>>,
    due_changed: tokio::sync::Notify,
}

impl CronCtx {
    fn set_due(&self, ns: &str, cluster: &str, at: Option<DateTime<Utc>>) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        let key = (ns.to_string(), cluster.to_string());
        let changed = match at {
            Some(t) => due.insert(key, t) != Some(t),
            None => due.remove(&key).is_some(),
        };
        drop(due);
        if changed {
            self.due_changed.notify_one();
        }
    }

    /// Waits until the earliest due run, then forgets the runs that are due (their reconcile records
    /// the next ones).
    async fn next_due(&self) {
        loop {
            let earliest = self.due.lock().unwrap_or_else(|e| e.into_inner()).values().min().copied();
            let now = Utc::now();
            match earliest {
                Some(t) if t <= now => {
                    self.due.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, at| *at > now);
                    return;
                }
                Some(t) => {
                    let wait = (t - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.due_changed.notified() => {}
                    }
                }
                None => self.due_changed.notified().await,
            }
        }
    }
}

/// Runs the schedule controller of `kind` until `shutdown`.
pub async fn run(
    client: Client,
    kind: &'static Kind,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let ar = kind.cluster_ar();
    let ctx = Arc::new(CronCtx {
        inner: Ctx::new(client, kind, namespace, None),
        first_seen: Mutex::default(),
        due: Mutex::default(),
        due_changed: tokio::sync::Notify::new(),
    });
    let clock = futures::stream::unfold(ctx.clone(), |ctx| async move {
        ctx.next_due().await;
        Some(((), ctx))
    });
    let clusters: Api<DynamicObject> = ctx.inner.scoped(&ar);
    let backups: Api<DynamicObject> = ctx.inner.scoped(&kind.backup_ar());
    let cluster_ar = ar.clone();
    Controller::new_with(clusters, watcher::Config::default(), ar)
        .watches_with(backups, kind.backup_ar(), watcher::Config::default(), move |b: DynamicObject| {
            let v = serde_json::to_value(&b).unwrap_or(Value::Null);
            kind.cluster_of(&v)
                .map(|c| ObjectRef::new_with(&c, cluster_ar.clone()).within(&b.namespace().unwrap_or_default()))
        })
        .reconcile_all_on(clock)
        .trigger_backoff(crate::engine::context::WatchBackoff::default())
        .graceful_shutdown_on(shutdown)
        .run(
            reconcile,
            |_, err, _| {
                tracing::warn!(error = %err, "backup schedule reconcile failed; retrying");
                Action::requeue(Duration::from_secs(2))
            },
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "backup schedule reconcile");
            }
        })
        .await;
}

fn scheduled_at(b: &DynamicObject) -> Option<DateTime<Utc>> {
    b.annotations()
        .get(SCHEDULED_AT_ANNOTATION)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| b.meta().creation_timestamp.as_ref().map(chrono_time))
}

async fn reconcile(cluster: Arc<DynamicObject>, cctx: Arc<CronCtx>) -> Result<Action, ControllerError> {
    let ctx = &cctx.inner;
    let kind = ctx.kind;
    let cname = cluster.name_any();
    let ns = cluster.namespace().unwrap_or_default();
    let cv = serde_json::to_value(cluster.as_ref()).unwrap_or(Value::Null);
    let defs = kind.schedules(&cv);
    if defs.is_empty() || cluster.meta().deletion_timestamp.is_some() {
        cctx.set_due(&ns, &cname, None);
        return Ok(Action::await_change());
    }
    let backups = ctx.backups(&ns);
    let mut next_wake: Option<DateTime<Utc>> = None;
    for def in defs {
        let sched = match CronSchedule::new(&def.name, &def.cron) {
            Ok(s) => s,
            Err(e) => {
                // Validation reports it on the cluster; the cron skips what it cannot parse.
                tracing::warn!(cluster = %cname, error = %e, "skipping a backup schedule");
                continue;
            }
        };
        let now = Utc::now();
        let mine = backups
            .list(&ListParams::default().labels(&format!("{}={}", kind.ancestor_label, def.name)))
            .await
            .map_err(kube_err(kind.backup.0, &def.name))?
            .items
            .into_iter()
            .filter(|b| {
                kind.cluster_of(&serde_json::to_value(b).unwrap_or(Value::Null)).as_deref() == Some(cname.as_str())
            })
            .collect::<Vec<_>>();
        let key = (ns.clone(), cname.clone(), def.name.clone(), def.cron.clone());
        let first_seen = *cctx.first_seen.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(now);
        // The newest run this schedule made; after a restart that is what missed runs count from.
        let last_run = mine.iter().filter_map(scheduled_at).max().unwrap_or(first_seen);
        let plan = sched.plan(Some(last_run), now);
        if kind.paused(&cv) {
            // A paused cluster takes no backups; its runs are not owed later either.
            cctx.first_seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((ns.clone(), cname.clone(), def.name.clone(), def.cron.clone()), now);
        } else if let Some(at) = plan.run {
            if plan.missed > 0 {
                tracing::info!(cluster = %cname, schedule = %def.name, missed = plan.missed, "catching up once for missed backup runs");
            }
            let obj: DynamicObject =
                serde_json::from_value(kind.scheduled_backup(&cv, &def, at)).map_err(|e| ControllerError::Kube {
                    kind: kind.backup.0,
                    name: def.name.clone(),
                    source: kube::Error::SerdeError(e),
                })?;
            match backups.create(&PostParams::default(), &obj).await {
                Ok(_) => {
                    tracing::info!(cluster = %cname, schedule = %def.name, backup = %obj.name_any(), "scheduled backup created")
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(ControllerError::Kube { kind: kind.backup.0, name: obj.name_any(), source: e }),
            }
        }
        // Retention: the oldest finished backups of this schedule beyond `keep`.
        let records: Vec<BackupRecord> = mine
            .iter()
            .map(|b| {
                let v = serde_json::to_value(b).unwrap_or(Value::Null);
                let completed = v
                    .pointer("/status/completed")
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                BackupRecord {
                    name: b.name_any(),
                    ancestor: Some(def.name.clone()),
                    state: v.pointer("/status/state").and_then(Value::as_str).map(str::to_string),
                    finished_at: completed.or_else(|| scheduled_at(b)),
                    deleting: b.meta().deletion_timestamp.is_some(),
                }
            })
            .collect();
        for doomed in retention(&records, &def.name, def.keep) {
            tracing::info!(cluster = %cname, schedule = %def.name, backup = %doomed, "retention deletes backup");
            match backups.delete(&doomed, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(ControllerError::Kube { kind: kind.backup.0, name: doomed, source: e }),
            }
        }
        next_wake = match (next_wake, plan.next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    cctx.set_due(&ns, &cname, next_wake);
    Ok(match next_wake {
        Some(t) => {
            let wait = (t - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            Action::requeue(wait.max(Duration::from_millis(50)))
        }
        None => Action::await_change(),
    })
}
