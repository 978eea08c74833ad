//! Workload controllers: StatefulSets (through `sim::statefulset::plan`), Deployments through
//! ReplicaSets, Jobs and CronJobs.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{FAIL_ANNOTATION, Key, Sim, Wake, key, name, now, owned_by, selector_of, stamp, str_at};
use crate::sandbox::sim::{self, statefulset};
use crate::sandbox::store::Subresource;

fn int_at(v: &Value, p: &str, default: i64) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(default)
}

fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": str_at(owner, "/apiVersion"),
        "kind": str_at(owner, "/kind"),
        "name": name(owner),
        "uid": str_at(owner, "/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// A pod (or Job) from a template, owned by `owner`, with a generated name.
fn from_template(
    template: &Value,
    owner: &Value,
    kind: &str,
    api_version: &str,
    extra_labels: &[(&str, String)],
) -> Value {
    let mut meta = template.get("metadata").cloned().unwrap_or_else(|| json!({}));
    meta["generateName"] = json!(format!("{}-", name(owner)));
    meta["ownerReferences"] = json!([owner_ref(owner)]);
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    for (k, v) in extra_labels {
        meta["labels"][*k] = json!(v);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": template.get("spec").cloned().unwrap_or_else(|| json!({}))})
}

fn has_condition(obj: &Value, kind: &str) -> bool {
    sim::condition_status(obj, kind) == Some("True")
}

/// `@every 10s` / `@every 2m` (a sandbox extension so tests need not wait a minute), else cron.
fn next_fire(schedule: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(every) = schedule.strip_prefix("@every ") {
        let every = every.trim();
        let (num, unit) = every.split_at(every.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return None,
        };
        return Some(after + chrono::Duration::seconds(secs));
    }
    let cron: croner::Cron = schedule.parse().ok()?;
    cron.find_next_occurrence(&after, false).ok()
}

impl Sim {
    pub(super) fn sync_statefulset(&mut self, sk: &Key) {
        let k = self.kinds.clone();
        let Some(set) = self.get(&k.sts, sk) else { return };
        if sim::is_terminating(&set) {
            return;
        }
        // Read the set's own objects by name: filtering the namespace per sync does not scale.
        let (pod_names, rev_names) = self.sts_children.get(sk).cloned().unwrap_or_default();
        let fetch = |rt, names: &HashSet<String>| -> Vec<Value> {
            names.iter().filter_map(|n| self.get(rt, &(sk.0.clone(), n.clone()))).collect()
        };
        let mut pods = fetch(&k.pods, &pod_names);
        let mut revisions = fetch(&k.revisions, &rev_names);
        let (pods_adopted, revisions_adopted) = self.adopt_orphans(&set, sk);
        pods.extend(pods_adopted);
        revisions.extend(revisions_adopted);
        let start = int_at(&set, "/spec/ordinals/start", 0);
        let highest = pods
            .iter()
            .filter_map(|p| name(p).rsplit_once('-').and_then(|(_, o)| o.parse::<i64>().ok()))
            .max()
            .unwrap_or(-1);
        let end = highest.max(start + int_at(&set, "/spec/replicas", 1) - 1);
        let templates =
            set.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut claim_names = HashSet::new();
        for t in &templates {
            for ordinal in start.min(0)..=end {
                claim_names.insert(format!("{}-{}-{ordinal}", name(t), sk.1));
            }
        }
        let pvcs = fetch(&k.pvcs, &claim_names);
        let plan = statefulset::plan(&set, &pods, &pvcs, &revisions);
        if let Some(rev) = plan.create_revision {
            self.create(&k.revisions, &sk.0, rev);
        }
        for (claim, refs) in plan.update_pvc_owner_refs {
            self.patch(
                &k.pvcs,
                &(sk.0.clone(), claim),
                json!({"metadata": {"ownerReferences": refs}}),
                Subresource::Main,
            );
        }
        for claim in plan.create_pvcs {
            self.create(&k.pvcs, &sk.0, claim);
        }
        for pod in plan.create_pods {
            self.create(&k.pods, &sk.0, pod);
        }
        for pod in plan.delete_pods {
            self.delete(&k.pods, &(sk.0.clone(), pod));
        }
        self.set_status(&k.sts, &set, plan.status);
    }

    /// Pods and ControllerRevisions without a controller that match the set's selector and carry its name
    /// (left by a delete with `propagationPolicy=Orphan`) become the set's again, as upstream's controller
    /// adopts them: the pods keep running and the revision history carries over.
    fn adopt_orphans(&self, set: &Value, sk: &Key) -> (Vec<Value>, Vec<Value>) {
        let k = self.kinds.clone();
        let (pod_names, rev_names) = self.sts_orphans.get(sk).cloned().unwrap_or_default();
        if pod_names.is_empty() && rev_names.is_empty() {
            return (vec![], vec![]);
        }
        let Some(selector) = selector_of(set) else { return (vec![], vec![]) };
        let adopt = |rt: &crate::sandbox::resources::ResourceType, names: &HashSet<String>, pod: bool| {
            let mut out = Vec::new();
            for n in names {
                let Some(obj) = self.get(rt, &(sk.0.clone(), n.clone())) else { continue };
                let ordinal_ok = !pod || n.rsplit_once('-').is_some_and(|(_, o)| o.parse::<u32>().is_ok());
                let free = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_none_or(|refs| {
                    !refs.iter().any(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                });
                if !ordinal_ok || !free || sim::is_terminating(&obj) || !selector.matches(&obj) {
                    continue;
                }
                let mut refs =
                    obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
                refs.push(owner_ref(set));
                let body = json!({"metadata": {"ownerReferences": refs}});
                if let Some(adopted) = self.patch(rt, &(sk.0.clone(), n.clone()), body, Subresource::Main) {
                    out.push(adopted);
                }
            }
            out
        };
        (adopt(&k.pods, &pod_names, true), adopt(&k.revisions, &rev_names, false))
    }

    /// Deployments roll by creating a ReplicaSet per template and scaling the old ones down once the
    /// new one is fully available (a simplified RollingUpdate: no surge/unavailable arithmetic).
    pub(super) fn sync_deployment(&mut self, dk: &Key) {
        let k = self.kinds.clone();
        let Some(dep) = self.get(&k.deployments, dk) else { return };
        if sim::is_terminating(&dep) {
            return;
        }
        let uid = str_at(&dep, "/metadata/uid").to_string();
        let replicas = int_at(&dep, "/spec/replicas", 1);
        let template = dep.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let hash = statefulset::template_hash(&template, 0);
        let rs_name = format!("{}-{hash}", name(&dep));
        let owned: Vec<Value> =
            self.list(&k.replicasets, Some(&dk.0), None).into_iter().filter(|r| owned_by(r, &uid)).collect();
        let current = owned.iter().find(|r| name(r) == rs_name).cloned();
        let current = match current {
            Some(rs) => {
                if int_at(&rs, "/spec/replicas", 0) != replicas {
                    self.patch(&k.replicasets, &key(&rs), json!({"spec": {"replicas": replicas}}), Subresource::Main);
                }
                rs
            }
            None => {
                let mut tmpl = template.clone();
                tmpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = dep.pointer("/spec/selector").cloned().unwrap_or_else(|| json!({}));
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let rs = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "labels": tmpl["metadata"]["labels"], "ownerReferences": [owner_ref(&dep)]},
                    "spec": {"replicas": replicas, "selector": selector, "template": tmpl},
                });
                match self.create(&k.replicasets, &dk.0, rs) {
                    Some(rs) => rs,
                    None => return,
                }
            }
        };
        let new_available = int_at(&current, "/status/availableReplicas", 0) >= replicas;
        for old in owned.iter().filter(|r| name(r) != rs_name) {
            if new_available && int_at(old, "/spec/replicas", 0) != 0 {
                self.patch(&k.replicasets, &key(old), json!({"spec": {"replicas": 0}}), Subresource::Main);
            }
        }
        let all: Vec<&Value> = owned.iter().filter(|r| name(r) != rs_name).chain(std::iter::once(&current)).collect();
        let sum = |p: &str| all.iter().map(|r| int_at(r, p, 0)).sum::<i64>();
        let available = sum("/status/availableReplicas");
        let updated = int_at(&current, "/status/replicas", 0);
        let status = json!({
            "observedGeneration": int_at(&dep, "/metadata/generation", 1),
            "replicas": sum("/status/replicas"),
            "updatedReplicas": updated,
            "readyReplicas": sum("/status/readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": (replicas - available).max(0),
            "conditions": [
                {"type": "Available", "status": if available >= replicas { "True" } else { "False" },
                 "reason": if available >= replicas { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                 "lastUpdateTime": stamp(), "lastTransitionTime": stamp()},
                {"type": "Progressing", "status": "True",
                 "reason": if new_available { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                 "message": format!("ReplicaSet \"{}\" is progressing.", name(&current)),
                 "lastUpdateTime": stamp(), "lastTransitionTime": stamp()},
            ],
        });
        self.set_status(&k.deployments, &dep, status);
    }

    pub(super) fn sync_replicaset(&mut self, rk: &Key) {
        let k = self.kinds.clone();
        let Some(rs) = self.get(&k.replicasets, rk) else { return };
        if sim::is_terminating(&rs) {
            return;
        }
        let uid = str_at(&rs, "/metadata/uid").to_string();
        let want = int_at(&rs, "/spec/replicas", 1);
        let mut pods: Vec<Value> = self
            .list(&k.pods, Some(&rk.0), selector_of(&rs).as_ref())
            .into_iter()
            .filter(|p| {
                owned_by(p, &uid)
                    && !sim::is_terminating(p)
                    && !matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed")
            })
            .collect();
        let have = pods.len() as i64;
        if have < want {
            let template = rs.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
            for _ in have..want {
                self.create(&k.pods, &rk.0, from_template(&template, &rs, "Pod", "v1", &[]));
            }
        } else if have > want {
            // Not-ready pods go first, as upstream prefers.
            pods.sort_by_key(sim::pod_is_ready);
            for p in pods.iter().take((have - want) as usize) {
                self.delete(&k.pods, &key(p));
            }
            pods.drain(..(have - want) as usize);
        }
        let ready = pods.iter().filter(|p| sim::pod_is_ready(p)).count();
        let status = json!({
            "replicas": pods.len(),
            "fullyLabeledReplicas": pods.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": int_at(&rs, "/metadata/generation", 1),
        });
        self.set_status(&k.replicasets, &rs, status);
    }

    pub(super) fn sync_job(&mut self, jk: &Key) {
        let k = self.kinds.clone();
        let Some(job) = self.get(&k.jobs, jk) else { return };
        if sim::is_terminating(&job) || has_condition(&job, "Complete") || has_condition(&job, "Failed") {
            return;
        }
        let uid = str_at(&job, "/metadata/uid").to_string();
        let completions = int_at(&job, "/spec/completions", 1);
        let parallelism = int_at(&job, "/spec/parallelism", 1);
        let backoff = int_at(&job, "/spec/backoffLimit", 6);
        let pods: Vec<Value> =
            self.list(&k.pods, Some(&jk.0), None).into_iter().filter(|p| owned_by(p, &uid)).collect();
        let phase = |p: &Value| str_at(p, "/status/phase").to_string();
        let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active = pods.iter().filter(|p| !matches!(phase(p).as_str(), "Succeeded" | "Failed")).count() as i64;
        let ready = pods.iter().filter(|p| sim::pod_is_ready(p)).count();
        let start = match str_at(&job, "/status/startTime") {
            "" => stamp(),
            t => t.to_string(),
        };
        if str_at(&job, "/status/startTime").is_empty() && self.faults.take_fail_next_job() {
            tracing::info!(namespace = %jk.0, job = %jk.1, "sandbox fault: this Job's pods fail");
            self.failing_jobs.insert(uid.clone());
        }
        let mut status = json!({"startTime": start, "active": active, "succeeded": succeeded, "failed": failed,
                                "ready": ready, "terminating": 0});
        let cond = |t: &str, reason: &str, msg: &str| {
            json!({"type": t, "status": "True", "reason": reason, "message": msg,
                   "lastProbeTime": stamp(), "lastTransitionTime": stamp()})
        };
        if succeeded >= completions {
            status["completionTime"] = json!(stamp());
            status["conditions"] = json!([
                cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ]);
        } else if failed > backoff {
            status["conditions"] = json!([
                cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ]);
        } else {
            let want = (completions - succeeded).min(parallelism) - active;
            let template = job.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
            let labels = [
                ("batch.kubernetes.io/job-name", jk.1.clone()),
                ("job-name", jk.1.clone()),
                ("batch.kubernetes.io/controller-uid", uid.clone()),
                ("controller-uid", uid.clone()),
            ];
            for _ in 0..want.max(0) {
                let mut pod = from_template(&template, &job, "Pod", "v1", &labels);
                if self.failing_jobs.contains(&uid) {
                    pod["metadata"]["annotations"][FAIL_ANNOTATION] = json!("true");
                }
                if self.create(&k.pods, &jk.0, pod).is_some() {
                    status["active"] = json!(status["active"].as_i64().unwrap_or(0) + 1);
                }
            }
        }
        self.set_status(&k.jobs, &job, status);
    }

    /// Creates the Jobs that are due, trims history, and arms one timer for the earliest next run.
    pub(super) fn sync_cronjobs(&mut self) {
        let k = self.kinds.clone();
        let t = now();
        let mut earliest: Option<DateTime<Utc>> = None;
        for cj in self.list(&k.cronjobs, None, None) {
            if sim::is_terminating(&cj) {
                continue;
            }
            let uid = str_at(&cj, "/metadata/uid").to_string();
            let schedule = str_at(&cj, "/spec/schedule").to_string();
            let created = DateTime::parse_from_rfc3339(str_at(&cj, "/metadata/creationTimestamp"))
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or(t);
            let last = *self.cron_last.entry(uid.clone()).or_insert_with(|| {
                DateTime::parse_from_rfc3339(str_at(&cj, "/status/lastScheduleTime"))
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or(created)
            });
            let Some(due) = next_fire(&schedule, last) else {
                tracing::warn!(cronjob = %name(&cj), %schedule, "sandbox: cannot parse the CronJob schedule");
                continue;
            };
            let suspended = cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
            let next = if due <= t {
                self.cron_last.insert(uid.clone(), t);
                if !suspended {
                    self.fire(&cj, due);
                }
                next_fire(&schedule, t)
            } else {
                Some(due)
            };
            self.trim_history(&cj);
            if let Some(n) = next {
                earliest = Some(earliest.map_or(n, |e| e.min(n)));
            }
        }
        if let Some(at) = earliest {
            if let Some(old) = self.cron_timer.take() {
                old.abort();
            }
            let delay = (at - now()).to_std().unwrap_or(Duration::ZERO);
            let tx = self.wake.clone();
            self.cron_timer = Some(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Wake::Cron);
            }));
        }
    }

    fn fire(&mut self, cj: &Value, scheduled: DateTime<Utc>) {
        let k = self.kinds.clone();
        let ns = str_at(cj, "/metadata/namespace").to_string();
        let template = cj.pointer("/spec/jobTemplate").cloned().unwrap_or_else(|| json!({}));
        let mut job = from_template(&template, cj, "Job", "batch/v1", &[]);
        // Upstream names Jobs after the scheduled minute; seconds keep `@every 1s` Jobs apart.
        let suffix = if str_at(cj, "/spec/schedule").starts_with("@every") {
            scheduled.timestamp()
        } else {
            scheduled.timestamp() / 60
        };
        job["metadata"]["name"] = json!(format!("{}-{suffix}", name(cj)));
        if let Some(m) = job["metadata"].as_object_mut() {
            m.remove("generateName");
        }
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
            json!(scheduled.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        if self.create(&k.jobs, &ns, job).is_some() {
            self.patch(
                &k.cronjobs,
                &key(cj),
                json!({"status": {"lastScheduleTime": scheduled.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}}),
                Subresource::Status,
            );
        }
    }

    /// Keeps `successfulJobsHistoryLimit` (3) finished and `failedJobsHistoryLimit` (1) failed Jobs.
    fn trim_history(&mut self, cj: &Value) {
        let k = self.kinds.clone();
        let uid = str_at(cj, "/metadata/uid");
        let ns = str_at(cj, "/metadata/namespace");
        let mut jobs: Vec<Value> =
            self.list(&k.jobs, Some(ns), None).into_iter().filter(|j| owned_by(j, uid)).collect();
        jobs.sort_by(|a, b| str_at(a, "/metadata/creationTimestamp").cmp(str_at(b, "/metadata/creationTimestamp")));
        let active: Vec<Value> = jobs
            .iter()
            .filter(|j| !has_condition(j, "Complete") && !has_condition(j, "Failed"))
            .map(|j| {
                json!({"apiVersion": "batch/v1", "kind": "Job", "name": name(j), "namespace": ns,
                            "uid": str_at(j, "/metadata/uid")})
            })
            .collect();
        for (cond, limit) in [
            ("Complete", int_at(cj, "/spec/successfulJobsHistoryLimit", 3)),
            ("Failed", int_at(cj, "/spec/failedJobsHistoryLimit", 1)),
        ] {
            let done: Vec<&Value> = jobs.iter().filter(|j| has_condition(j, cond)).collect();
            let extra = done.len().saturating_sub(limit.max(0) as usize);
            for j in done.into_iter().take(extra) {
                self.store
                    .delete(
                        &k.jobs,
                        ns,
                        &name(j),
                        &crate::sandbox::DeleteOptions {
                            propagation: crate::sandbox::Propagation::Background,
                            ..Default::default()
                        },
                    )
                    .ok();
            }
        }
        let current = cj.pointer("/status/active").cloned().unwrap_or_else(|| json!([]));
        if current != Value::Array(active.clone()) {
            self.patch(&k.cronjobs, &key(cj), json!({"status": {"active": active}}), Subresource::Status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_extension_and_cron_schedules() {
        let t = at("2026-01-01T10:00:30Z");
        assert_eq!(next_fire("@every 1s", t), Some(at("2026-01-01T10:00:31Z")));
        assert_eq!(next_fire("@every 2m", t), Some(at("2026-01-01T10:02:30Z")));
        assert_eq!(next_fire("* * * * *", t), Some(at("2026-01-01T10:01:00Z")));
        assert_eq!(next_fire("0 3 * * *", t), Some(at("2026-01-02T03:00:00Z")));
        assert_eq!(next_fire("@every 0s", t), None);
        assert_eq!(next_fire("@every soon", t), None);
        assert_eq!(next_fire("not a schedule", t), None);
    }

    #[test]
    fn pods_from_a_template_are_owned_and_labelled() {
        let owner = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "b", "uid": "u1"}});
        let tmpl = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}});
        let pod = from_template(&tmpl, &owner, "Pod", "v1", &[("job-name", "b".into())]);
        assert_eq!(pod["metadata"]["generateName"], "b-");
        assert_eq!(pod["metadata"]["labels"], json!({"app": "x", "job-name": "b"}));
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
    }
}
