//! What the PG controller reads back after applying: the instances' pods and revisions, the next pod a
//! rolling update replaces (replicas first, the primary last), and the status by Percona's rules (§3.3).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::dereference::primary_instance;
use super::meta::{L_INSTANCE, L_ROLE};
use crate::api::common::{ClusterCondition, state};
use crate::api::pg::{
    PerconaPGCluster, PerconaPGClusterStatus, PgComponentStatus, PgInstanceSetStatus, PgPostgresStatus,
};
use crate::engine::status;

/// One planned instance: its StatefulSet (when it exists) and its pod (when it exists).
#[derive(Clone, Debug, Default)]
pub struct Instance {
    pub set: String,
    pub name: String,
    pub sts: Option<StatefulSet>,
    pub pod: Option<Pod>,
}

impl Instance {
    fn ready(&self) -> bool {
        self.pod.as_ref().is_some_and(|p| status::pod_ready_at(p, None))
    }

    /// The revision the StatefulSet wants, once its controller has seen the current template.
    fn update_revision(&self) -> Option<&str> {
        let sts = self.sts.as_ref()?;
        let st = sts.status.as_ref()?;
        (st.observed_generation == sts.metadata.generation).then_some(st.update_revision.as_deref()).flatten()
    }

    /// The pod runs the revision its StatefulSet wants (unknown counts as not updated).
    fn updated(&self) -> bool {
        match (self.pod.as_ref(), self.update_revision()) {
            (Some(p), Some(rev)) => status::pod_revision(p) == Some(rev),
            _ => false,
        }
    }

    fn created(&self) -> Option<k8s_openapi::jiff::Timestamp> {
        self.sts.as_ref()?.metadata.creation_timestamp.as_ref().map(|t| t.0)
    }
}

/// The cluster as read after the apply.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub instances: Vec<Instance>,
    /// The instance Patroni labels leader, if any.
    pub primary: Option<String>,
    /// `(size, ready)` of pgBouncer when it is configured.
    pub pgbouncer: Option<(i32, i32)>,
    /// Whether the repo host's pod is ready, when the cluster has one.
    pub repo_host_ready: Option<bool>,
    /// Scheduler messages of pods that cannot be placed.
    pub unschedulable: Vec<String>,
    /// PostgreSQL pods still running Ready, counting those already being deleted (a pause is `stopping`
    /// until they are gone).
    pub running: i32,
}

/// Pairs the planned instances (`(set, name)`) with the live StatefulSets and pods.
pub fn observe(
    planned: &[(String, String)],
    statefulsets: &[StatefulSet],
    pods: &[Pod],
    pgbouncer_size: Option<i32>,
    repo_host: Option<&str>,
) -> Observed {
    let live_pods: Vec<&Pod> = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
    let instances = planned
        .iter()
        .map(|(set, name)| Instance {
            set: set.clone(),
            name: name.clone(),
            sts: statefulsets.iter().find(|s| s.name_any() == *name).cloned(),
            pod: live_pods.iter().find(|p| p.labels().get(L_INSTANCE) == Some(name)).map(|p| (*p).clone()),
        })
        .collect();
    let pgbouncer = pgbouncer_size.map(|size| {
        let ready = live_pods
            .iter()
            .filter(|p| p.labels().get(L_ROLE).map(String::as_str) == Some("pgbouncer"))
            .filter(|p| status::pod_ready_at(p, None))
            .count() as i32;
        (size, ready)
    });
    let repo_host_ready = repo_host.map(|sts| {
        let pod = format!("{sts}-0");
        live_pods.iter().any(|p| p.name_any() == pod && status::pod_ready_at(p, None))
    });
    Observed {
        instances,
        primary: primary_instance(pods),
        pgbouncer,
        repo_host_ready,
        unschedulable: pods.iter().filter_map(status::unschedulable).collect(),
        running: pods
            .iter()
            .filter(|p| p.labels().contains_key(L_INSTANCE))
            .filter(|p| {
                let mut alive = (*p).clone();
                alive.metadata.deletion_timestamp = None;
                status::pod_ready_at(&alive, None)
            })
            .count() as i32,
    }
}

/// The pod a rolling update deletes now, if any: only when every instance runs and is ready (at most one
/// down at a time), replicas before the primary. Without Patroni's label the oldest instance, the one the
/// cluster bootstrapped from, is taken as the likely primary and goes last.
pub fn rollout_step(o: &Observed) -> Option<String> {
    if o.instances.is_empty() || !o.instances.iter().all(|i| i.ready() && i.update_revision().is_some()) {
        return None;
    }
    let last = o
        .primary
        .clone()
        .or_else(|| o.instances.iter().min_by_key(|i| (i.created(), i.name.clone())).map(|i| i.name.clone()));
    let mut outdated: Vec<&Instance> = o.instances.iter().filter(|i| !i.updated()).collect();
    outdated.sort_by_key(|i| (Some(&i.name) == last.as_ref(), i.name.clone()));
    outdated.first().and_then(|i| i.pod.as_ref()).map(|p| p.name_any())
}

/// The pods a leader may move to before `primary`'s pod restarts: other instances already at their new
/// revision and Ready.
pub fn takeover_candidates(o: &Observed, primary: &str) -> Vec<Pod> {
    o.instances.iter().filter(|i| i.name != primary && i.ready() && i.updated()).filter_map(|i| i.pod.clone()).collect()
}

/// Sets `type_` to the given status, keeping the transition time when the status did not change.
fn upsert_condition(
    conditions: &mut Vec<ClusterCondition>,
    type_: &str,
    ok: bool,
    reason: &str,
    message: Option<String>,
    generation: Option<i64>,
) {
    let status = if ok { "True" } else { "False" }.to_string();
    let next = |time: Option<String>| ClusterCondition {
        type_: type_.into(),
        status: status.clone(),
        reason: Some(reason.into()),
        message: message.clone(),
        last_transition_time: time.or_else(|| Some(status::now())),
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status && c.reason.as_deref() == Some(reason) && c.message == message => {
            c.observed_generation = generation;
        }
        Some(c) => {
            let time = (c.status == status).then(|| c.last_transition_time.clone()).flatten();
            *c = next(time);
        }
        None => conditions.push(next(None)),
    }
}

/// Removes the condition `type_` (the part it describes is gone).
fn drop_condition(conditions: &mut Vec<ClusterCondition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Marks the spec valid or not: the dbdeck condition `SpecValid` (PG has no `error` state to carry it).
pub fn set_spec_valid(conditions: &mut Vec<ClusterCondition>, problem: Option<String>, generation: Option<i64>) {
    match problem {
        Some(m) => upsert_condition(conditions, "SpecValid", false, "InvalidSpec", Some(m), generation),
        None => upsert_condition(conditions, "SpecValid", true, "Valid", None, generation),
    }
}

/// The status by Percona's rules: pause gives `stopping`, then `paused` once no PostgreSQL pod is ready;
/// otherwise `initializing` while the repo host, pgBouncer, or any instance is not ready or not updated.
pub fn cluster_status(cr: &PerconaPGCluster, o: &Observed) -> PerconaPGClusterStatus {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = super::effective_spec(cr);
    let paused = spec.pause.unwrap_or(false);
    let generation = cr.metadata.generation;

    let mut sets: Vec<PgInstanceSetStatus> = Vec::new();
    for set in spec.instances.iter().flatten() {
        let set_name = set.name.clone().unwrap_or_default();
        let ready = o.instances.iter().filter(|i| i.set == set_name && i.ready()).count() as i32;
        sets.push(PgInstanceSetStatus { name: set_name, size: set.replicas.unwrap_or(1).max(0), ready });
    }
    let size: i32 = sets.iter().map(|s| s.size).sum();
    let ready: i32 = sets.iter().map(|s| s.ready).sum();
    let updated = o.instances.iter().filter(|i| i.updated()).count() as i32;
    let previous = cr.status.clone().unwrap_or_default();
    let postgres = PgPostgresStatus {
        size,
        ready,
        instances: Some(sets),
        version: spec.postgres_version,
        ..previous.postgres.clone().unwrap_or_default()
    };
    let pgbouncer = o.pgbouncer.map(|(size, ready)| PgComponentStatus { size, ready });

    let state = if paused {
        if ready.max(o.running) == 0 { state::PAUSED } else { state::STOPPING }
    } else if o.repo_host_ready == Some(false)
        || pgbouncer.as_ref().is_some_and(|b| b.ready != b.size)
        || ready != size
        || updated != size
        || size == 0
    {
        state::INITIALIZING
    } else {
        state::READY
    };

    let mut conditions = previous.conditions.clone().unwrap_or_default();
    set_spec_valid(&mut conditions, None, generation);
    match o.repo_host_ready {
        Some(ok) => upsert_condition(
            &mut conditions,
            "PGBackRestRepoHostReady",
            ok,
            if ok { "RepoHostReady" } else { "RepoHostNotReady" },
            None,
            generation,
        ),
        None => drop_condition(&mut conditions, "PGBackRestRepoHostReady"),
    }
    match &pgbouncer {
        Some(b) => {
            let ok = b.ready == b.size && b.size > 0;
            let message = Some(format!("{} of {} pgBouncer pods ready", b.ready, b.size));
            upsert_condition(&mut conditions, "ProxyAvailable", ok, "PGBouncerStatus", message, generation);
        }
        None => drop_condition(&mut conditions, "ProxyAvailable"),
    }

    let host = match pgbouncer {
        Some(_) => format!("{name}-pgbouncer.{ns}.svc"),
        None => format!("{name}-primary.{ns}.svc"),
    };
    PerconaPGClusterStatus {
        state: Some(state.into()),
        host: Some(host),
        message: (!o.unschedulable.is_empty()).then(|| o.unschedulable.join("; ")),
        postgres: Some(postgres),
        pgbouncer,
        conditions: (!conditions.is_empty()).then_some(conditions),
        observed_generation: generation,
        // Fields this engine does not compute are carried over as they were.
        ..previous
    }
}

/// Instance names per set as the build planned them (`(set, name)`), from the suffixes it was given.
pub fn planned_instances(cr: &PerconaPGCluster, suffixes: &BTreeMap<String, Vec<String>>) -> Vec<(String, String)> {
    let name = cr.name_any();
    super::instance_counts(cr)
        .into_iter()
        .flat_map(|(set, n)| {
            let list = suffixes.get(&set).cloned().unwrap_or_default();
            list.into_iter().take(n).map(|s| (set.clone(), format!("{name}-{set}-{s}"))).collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn instance(name: &str, rev: &str, ready: bool, created: i64, role: Option<&str>) -> Instance {
        let mut pod = Pod::default();
        pod.metadata.name = Some(format!("{name}-0"));
        let mut labels = BTreeMap::from([
            ("controller-revision-hash".to_string(), rev.to_string()),
            (L_INSTANCE.to_string(), name.to_string()),
        ]);
        if let Some(r) = role {
            labels.insert(L_ROLE.to_string(), r.to_string());
        }
        pod.metadata.labels = Some(labels);
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "ContainersReady".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let mut sts = StatefulSet::default();
        sts.metadata.name = Some(name.into());
        sts.metadata.generation = Some(2);
        let at = k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + created).unwrap();
        sts.metadata.creation_timestamp = Some(Time(at));
        sts.status = Some(StatefulSetStatus {
            observed_generation: Some(2),
            update_revision: Some("new".into()),
            ..Default::default()
        });
        Instance { set: "main".into(), name: name.into(), sts: Some(sts), pod: Some(pod) }
    }

    fn observed(instances: Vec<Instance>) -> Observed {
        let pods: Vec<Pod> = instances.iter().filter_map(|i| i.pod.clone()).collect();
        Observed { primary: primary_instance(&pods), instances, ..Default::default() }
    }

    #[test]
    fn rollout_takes_replicas_first_and_the_labelled_primary_last() {
        let o = observed(vec![
            instance("c-main-aaaa", "old", true, 1, None),
            instance("c-main-bbbb", "old", true, 2, Some("master")),
            instance("c-main-cccc", "old", true, 3, Some("replica")),
        ]);
        assert_eq!(rollout_step(&o).as_deref(), Some("c-main-aaaa-0"));
        let o = observed(vec![
            instance("c-main-aaaa", "new", true, 1, None),
            instance("c-main-bbbb", "old", true, 2, Some("master")),
            instance("c-main-cccc", "old", true, 3, Some("replica")),
        ]);
        assert_eq!(rollout_step(&o).as_deref(), Some("c-main-cccc-0"));
        let o = observed(vec![
            instance("c-main-aaaa", "new", true, 1, None),
            instance("c-main-bbbb", "old", true, 2, Some("master")),
            instance("c-main-cccc", "new", true, 3, Some("replica")),
        ]);
        assert_eq!(rollout_step(&o).as_deref(), Some("c-main-bbbb-0"));
    }

    #[test]
    fn rollout_waits_for_every_instance_and_falls_back_to_the_oldest_last() {
        let o = observed(vec![
            instance("c-main-aaaa", "old", true, 1, None),
            instance("c-main-bbbb", "new", false, 2, None),
        ]);
        assert_eq!(rollout_step(&o), None, "one instance is down: wait");
        let o = observed(vec![
            instance("c-main-aaaa", "old", true, 5, None),
            instance("c-main-bbbb", "old", true, 1, None),
        ]);
        assert_eq!(rollout_step(&o).as_deref(), Some("c-main-aaaa-0"), "the oldest (bbbb) goes last");
        let mut stale = instance("c-main-aaaa", "old", true, 1, None);
        stale.sts.as_mut().unwrap().metadata.generation = Some(3);
        assert_eq!(rollout_step(&observed(vec![stale])), None, "the StatefulSet has not seen its new template");
    }

    fn cr(spec: serde_json::Value) -> PerconaPGCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
            "metadata": {"name": "c", "namespace": "ns", "uid": "u", "generation": 2},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn status_follows_percona_rules() {
        let c = cr(
            serde_json::json!({"instances": [{"name": "main", "replicas": 2}], "proxy": {"pgBouncer": {"replicas": 1}}}),
        );
        let mut o = observed(vec![
            instance("c-main-aaaa", "new", true, 1, None),
            instance("c-main-bbbb", "new", true, 2, None),
        ]);
        o.pgbouncer = Some((1, 0));
        o.repo_host_ready = Some(true);
        let st = cluster_status(&c, &o);
        assert_eq!(st.state.as_deref(), Some("initializing"), "pgBouncer is not ready yet");
        assert_eq!(st.host.as_deref(), Some("c-pgbouncer.ns.svc"));
        o.pgbouncer = Some((1, 1));
        let st = cluster_status(&c, &o);
        assert_eq!(st.state.as_deref(), Some("ready"));
        let pg = st.postgres.unwrap();
        assert_eq!((pg.size, pg.ready), (2, 2));
        assert_eq!(pg.instances.unwrap()[0].name, "main");
        assert_eq!(st.observed_generation, Some(2));

        o.instances[1] = instance("c-main-bbbb", "old", true, 2, None);
        assert_eq!(cluster_status(&c, &o).state.as_deref(), Some("initializing"), "an instance is not updated");

        let paused = cr(serde_json::json!({"pause": true, "instances": [{"name": "main", "replicas": 2}]}));
        assert_eq!(cluster_status(&paused, &o).state.as_deref(), Some("stopping"));
        let mut none = observed(vec![]);
        none.running = 1;
        assert_eq!(cluster_status(&paused, &none).state.as_deref(), Some("stopping"), "a pod is still shutting down");
        none.running = 0;
        let st = cluster_status(&paused, &none);
        assert_eq!(st.state.as_deref(), Some("paused"));
        assert_eq!(st.host.as_deref(), Some("c-primary.ns.svc"));
    }

    #[test]
    fn conditions_keep_their_time_while_unchanged() {
        let mut c = Vec::new();
        upsert_condition(&mut c, "ProxyAvailable", false, "r", None, Some(1));
        let first = c[0].last_transition_time.clone();
        c[0].last_transition_time = Some("2000-01-01T00:00:00Z".into());
        upsert_condition(&mut c, "ProxyAvailable", false, "r", None, Some(2));
        assert_eq!(c[0].last_transition_time.as_deref(), Some("2000-01-01T00:00:00Z"));
        assert!(first.is_some());
        upsert_condition(&mut c, "ProxyAvailable", true, "r", None, Some(2));
        assert_ne!(c[0].last_transition_time.as_deref(), Some("2000-01-01T00:00:00Z"));
        assert_eq!(c.len(), 1);
    }
}
