//! The PerconaServerMySQL status by Percona's rules (reference §2.3, `pkg/controller/ps/status.go`),
//! computed purely from what the reconcile observed.
//!
//! Honest gap: Percona also asks the database before it calls MySQL `ready` — `mysqlsh`
//! `cluster.status()` for group replication, Orchestrator's `api/cluster` problems for async. Neither
//! is reachable here (the sandbox runs no MySQL and no Orchestrator), so MySQL readiness is the count
//! of ready pods only. Nothing is made up in their place.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;

use super::Component;
use crate::api::common::{ClusterCondition, state};
use crate::api::ps::{ClusterType, ComponentStatus, PerconaServerMySQL, PerconaServerMySQLStatus};
use crate::engine::status as shared;

/// Condition types Percona keeps in step (Go `StatefulAppState.String()`, title case).
pub const CONDITION_INITIALIZING: &str = "Initializing";
pub const CONDITION_READY: &str = "Ready";
pub const CONDITION_ERROR: &str = "Error";

/// One component's workload and pods as read from the server.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    pub stateful_set: Option<StatefulSet>,
    /// MySQL Router runs as a Deployment.
    pub deployment: Option<Deployment>,
    pub pods: Vec<Pod>,
}

impl Workload {
    /// A rollout is unfinished when the workload runs more replicas than it has updated.
    fn upgrading(&self) -> bool {
        if let Some(st) = self.stateful_set.as_ref().and_then(|s| s.status.as_ref()) {
            return st.replicas > st.updated_replicas.unwrap_or(0);
        }
        if let Some(st) = self.deployment.as_ref().and_then(|d| d.status.as_ref()) {
            return st.replicas.unwrap_or(0) > st.updated_replicas.unwrap_or(0);
        }
        false
    }

    pub fn ready_pods(&self) -> i32 {
        self.pods.iter().filter(|p| shared::pod_ready_at(p, None)).count() as i32
    }
}

/// Everything the status needs, read once per reconcile.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub mysql: Workload,
    pub orchestrator: Option<Workload>,
    pub haproxy: Option<Workload>,
    pub router: Option<Workload>,
    /// The Services of type LoadBalancer the cluster asked for, as they are now (absent ones omitted).
    pub load_balancers: Vec<Service>,
}

/// What a component is asked to run: its size, or 0 while paused (Percona zeroes every size on pause).
pub fn wanted_size(paused: bool, size: Option<i32>) -> i32 {
    if paused { 0 } else { size.unwrap_or(crate::api::ps::DEFAULT_SIZE) }
}

/// Percona's `appStatus`: paused with pods left → stopping, paused without → paused, an unfinished
/// rollout → initializing, every pod ready → ready, else initializing.
fn component(w: &Workload, size: i32, paused: bool) -> ComponentStatus {
    let ready = w.ready_pods();
    let st = match (paused, ready) {
        (true, 0) => state::PAUSED,
        (true, _) => state::STOPPING,
        _ if w.upgrading() => state::INITIALIZING,
        _ if ready == size => state::READY,
        _ => state::INITIALIZING,
    };
    ComponentStatus { size: Some(size), ready: Some(ready), state: Some(st.into()), version: None, image_id: None }
}

fn lb_address(svc: &Service) -> Option<String> {
    let ingress = svc.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?;
    ingress.iter().rev().find_map(|i| i.hostname.clone().filter(|h| !h.is_empty()).or_else(|| i.ip.clone()))
}

fn is_load_balancer(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// Percona's `appHost`: the Router Service, else the HAProxy Service (`<svc>.<ns>`), or its load
/// balancer address when it is of type LoadBalancer; `<c>-mysql.<ns>` with neither proxy.
pub fn host(cr: &PerconaServerMySQL, o: &Observed) -> String {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let spec = cr.spec.with_defaults(&name);
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    let proxy = spec.proxy.clone().unwrap_or_default();
    let router_lb =
        proxy.router.as_ref().and_then(|r| r.expose.as_ref()).and_then(|e| e.type_.as_deref()) == Some("LoadBalancer");
    let haproxy_lb =
        proxy.haproxy.as_ref().and_then(|h| h.expose.as_ref()).and_then(|e| e.type_.as_deref()) == Some("LoadBalancer");
    let router_on = gr && spec.router_enabled();
    let haproxy_on = spec.haproxy_enabled();
    let lb_of =
        |svc: String| o.load_balancers.iter().find(|s| s.name_any() == svc).and_then(lb_address).unwrap_or_default();
    if router_on {
        let svc = format!("{name}-{}", Component::Router.suffix());
        return if router_lb { lb_of(svc) } else { format!("{svc}.{ns}") };
    }
    if haproxy_on {
        let svc = format!("{name}-{}", Component::Haproxy.suffix());
        return if haproxy_lb { lb_of(svc) } else { format!("{svc}.{ns}") };
    }
    format!("{name}-{}.{ns}", Component::Mysql.suffix())
}

/// metav1 `SetStatusCondition`: one condition per type; the transition time moves only when the
/// status flips, so an unchanged cluster writes an unchanged status.
pub fn set_condition(conditions: &mut Vec<ClusterCondition>, type_: &str, status: bool, reason: &str, message: &str) {
    let status = if status { "True" } else { "False" }.to_string();
    let message = (!message.is_empty()).then(|| message.to_string());
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.status = status;
                c.last_transition_time = Some(shared::now());
            }
            c.reason = Some(reason.to_string());
            c.message = message;
        }
        None => conditions.push(ClusterCondition {
            type_: type_.to_string(),
            status,
            reason: Some(reason.to_string()),
            message,
            last_transition_time: Some(shared::now()),
            observed_generation: None,
        }),
    }
}

/// The full status for a cluster that reconciled without error.
pub fn cluster_status(cr: &PerconaServerMySQL, o: &Observed) -> PerconaServerMySQLStatus {
    let name = cr.name_any();
    let spec = cr.spec.with_defaults(&name);
    let paused = spec.paused();
    let gr = spec.cluster_type() == Some(ClusterType::GroupReplication);
    let proxy = spec.proxy.clone().unwrap_or_default();
    let mysql_size = wanted_size(paused, spec.mysql.as_ref().and_then(|m| m.size));
    let mysql = component(&o.mysql, mysql_size, paused);
    let orc_size = wanted_size(paused, spec.orchestrator.as_ref().and_then(|c| c.size));
    let orchestrator = o.orchestrator.as_ref().map(|w| component(w, orc_size, paused));
    let haproxy_size = wanted_size(paused, proxy.haproxy.as_ref().and_then(|c| c.size));
    let haproxy = o.haproxy.as_ref().map(|w| component(w, haproxy_size, paused));
    let router_size = wanted_size(paused, proxy.router.as_ref().and_then(|c| c.size));
    let router = o.router.as_ref().map(|w| component(w, router_size, paused));

    // Cluster state: ready, lowered by a proxy or Orchestrator that is not, and MySQL's state wins
    // over both when MySQL itself is not ready.
    let not_ready =
        |c: &Option<ComponentStatus>| c.as_ref().and_then(|c| c.state.clone()).filter(|s| s != state::READY);
    let mut st = state::READY.to_string();
    let helpers = if gr { [&router, &haproxy] } else { [&orchestrator, &haproxy] };
    for h in helpers {
        if let Some(s) = not_ready(h) {
            st = s;
        }
    }
    if let Some(s) = not_ready(&Some(mysql.clone())) {
        st = s;
    }
    // A LoadBalancer without an address yet leaves clients nowhere to go.
    if o.load_balancers.iter().any(|s| is_load_balancer(s) && lb_address(s).is_none()) && !paused {
        st = state::INITIALIZING.into();
    }

    let previous = cr.status.clone().unwrap_or_default();
    let mut conditions = previous.conditions.clone().unwrap_or_default();
    conditions.retain(|c| c.type_ != CONDITION_ERROR);
    if st == state::INITIALIZING || st == state::READY {
        let ready = st == state::READY;
        set_condition(&mut conditions, CONDITION_INITIALIZING, !ready, CONDITION_INITIALIZING, "");
        set_condition(&mut conditions, CONDITION_READY, ready, CONDITION_READY, "");
    }
    PerconaServerMySQLStatus {
        mysql: Some(mysql),
        orchestrator,
        haproxy,
        router,
        state: Some(st),
        cluster_type: Some(if gr { ClusterType::GROUP_REPLICATION } else { ClusterType::ASYNC }.to_string()),
        conditions: (!conditions.is_empty()).then_some(conditions),
        host: Some(host(cr, o)),
        innodb_cluster_name: gr.then(|| name.replace('-', "")),
        observed_generation: cr.metadata.generation,
        message: None,
        // What this engine does not compute is carried over as it was.
        binlog_server: previous.binlog_server,
        backup_version: previous.backup_version,
        pmm_version: previous.pmm_version,
        toolkit_version: previous.toolkit_version,
        storage_autoscaling: previous.storage_autoscaling,
    }
}

/// The status for a reconcile that failed: `error`, the reason in `message` and an `Error`
/// condition (reason `ErrorReconcile`, or the one given); everything else as it was.
pub fn error_status(cr: &PerconaServerMySQL, reason: &str, message: &str) -> PerconaServerMySQLStatus {
    let mut next = cr.status.clone().unwrap_or_default();
    next.state = Some(state::ERROR.into());
    next.message = Some(format!("Error: {message}"));
    next.observed_generation = cr.metadata.generation;
    let mut conditions = next.conditions.take().unwrap_or_default();
    set_condition(&mut conditions, CONDITION_ERROR, true, reason, message);
    next.conditions = Some(conditions);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetSpec, StatefulSetStatus};
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    pub(crate) fn pod(name: &str, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "ContainersReady".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    fn sts(replicas: i32, updated: i32) -> StatefulSet {
        StatefulSet {
            spec: Some(StatefulSetSpec { replicas: Some(replicas), ..Default::default() }),
            status: Some(StatefulSetStatus { replicas, updated_replicas: Some(updated), ..Default::default() }),
            ..Default::default()
        }
    }

    fn workload(prefix: &str, ready: &[bool]) -> Workload {
        let n = ready.len() as i32;
        Workload {
            stateful_set: Some(sts(n, n)),
            deployment: None,
            pods: ready.iter().enumerate().map(|(i, r)| pod(&format!("{prefix}-{i}"), *r)).collect(),
        }
    }

    fn cr(yaml_spec: &str) -> PerconaServerMySQL {
        serde_yaml::from_str(&format!(
            "apiVersion: ps.percona.com/v1\nkind: PerconaServerMySQL\nmetadata: {{name: db-1, namespace: ns, generation: 4}}\nspec: {yaml_spec}"
        ))
        .unwrap()
    }

    #[test]
    fn async_cluster_is_ready_only_when_orchestrator_and_haproxy_are() {
        let cr = cr("{mysql: {clusterType: async}, orchestrator: {enabled: true}, proxy: {haproxy: {enabled: true}}}");
        let mut o = Observed {
            mysql: workload("db-1-mysql", &[true, true, true]),
            orchestrator: Some(workload("db-1-orc", &[true, true, false])),
            haproxy: Some(workload("db-1-haproxy", &[true, true, true])),
            ..Default::default()
        };
        let st = cluster_status(&cr, &o);
        assert_eq!(st.state.as_deref(), Some("initializing"));
        assert_eq!(st.orchestrator.as_ref().unwrap().ready, Some(2));
        assert_eq!(st.host.as_deref(), Some("db-1-haproxy.ns"));
        assert_eq!(st.observed_generation, Some(4));
        o.orchestrator = Some(workload("db-1-orc", &[true, true, true]));
        let st = cluster_status(&cr, &o);
        assert_eq!(st.state.as_deref(), Some("ready"));
        assert_eq!(st.cluster_type.as_deref(), Some("async"));
        let conds = st.conditions.unwrap();
        let get = |t: &str| conds.iter().find(|c| c.type_ == t).unwrap().status.clone();
        assert_eq!((get("Ready").as_str(), get("Initializing").as_str()), ("True", "False"));
    }

    #[test]
    fn mysql_state_wins_and_a_rollout_is_initializing() {
        let cr = cr("{proxy: {router: {enabled: true, size: 2}}}");
        let mut mysql = workload("db-1-mysql", &[true, true, true]);
        mysql.stateful_set = Some(sts(3, 2));
        let o = Observed { mysql, router: Some(workload("r", &[true, false])), ..Default::default() };
        let st = cluster_status(&cr, &o);
        assert_eq!(st.mysql.as_ref().unwrap().state.as_deref(), Some("initializing"));
        assert_eq!(st.router.as_ref().unwrap().state.as_deref(), Some("initializing"));
        assert_eq!(st.state.as_deref(), Some("initializing"));
        assert_eq!(st.host.as_deref(), Some("db-1-router.ns"));
        assert_eq!(st.innodb_cluster_name.as_deref(), Some("db1"));
    }

    #[test]
    fn pause_gives_stopping_then_paused_with_sizes_zero() {
        let cr = cr("{pause: true, proxy: {haproxy: {enabled: true}}}");
        let o = Observed { mysql: workload("m", &[true]), haproxy: Some(workload("h", &[])), ..Default::default() };
        let st = cluster_status(&cr, &o);
        assert_eq!(st.mysql.as_ref().unwrap().size, Some(0));
        assert_eq!(st.state.as_deref(), Some("stopping"));
        let o = Observed { mysql: workload("m", &[]), haproxy: Some(workload("h", &[])), ..Default::default() };
        assert_eq!(cluster_status(&cr, &o).state.as_deref(), Some("paused"));
    }

    #[test]
    fn a_load_balancer_gives_its_address_as_host_and_initializing_until_it_has_one() {
        use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, ServiceSpec, ServiceStatus};
        let cr = cr("{proxy: {haproxy: {enabled: true, expose: {type: LoadBalancer}}}}");
        let mut svc = Service {
            metadata: kube::api::ObjectMeta { name: Some("db-1-haproxy".into()), ..Default::default() },
            spec: Some(ServiceSpec { type_: Some("LoadBalancer".into()), ..Default::default() }),
            ..Default::default()
        };
        let mut o = Observed {
            mysql: workload("m", &[true, true, true]),
            haproxy: Some(workload("h", &[true, true, true])),
            load_balancers: vec![svc.clone()],
            ..Default::default()
        };
        let st = cluster_status(&cr, &o);
        assert_eq!((st.state.as_deref(), st.host.as_deref()), (Some("initializing"), Some("")));
        svc.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress {
                    hostname: Some("lb.example.com".into()),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        });
        o.load_balancers = vec![svc];
        let st = cluster_status(&cr, &o);
        assert_eq!((st.state.as_deref(), st.host.as_deref()), (Some("ready"), Some("lb.example.com")));
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let mut c = Vec::new();
        set_condition(&mut c, "Ready", false, "Ready", "");
        c[0].last_transition_time = Some("2020-01-01T00:00:00Z".into());
        set_condition(&mut c, "Ready", false, "Ready", "");
        assert_eq!(c[0].last_transition_time.as_deref(), Some("2020-01-01T00:00:00Z"));
        set_condition(&mut c, "Ready", true, "Ready", "");
        assert_ne!(c[0].last_transition_time.as_deref(), Some("2020-01-01T00:00:00Z"));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn an_error_keeps_components_and_success_clears_it() {
        let mut cr = cr("{proxy: {haproxy: {enabled: true}}}");
        let err = error_status(&cr, "InvalidSpec", "spec.mysql.size is 4");
        assert_eq!(err.state.as_deref(), Some("error"));
        assert!(err.message.as_deref().unwrap().contains("spec.mysql.size"));
        cr.status = Some(err);
        let o = Observed {
            mysql: workload("m", &[true, true, true]),
            haproxy: Some(workload("h", &[true, true, true])),
            ..Default::default()
        };
        let st = cluster_status(&cr, &o);
        assert_eq!(st.state.as_deref(), Some("ready"));
        assert_eq!(st.message, None);
        assert!(st.conditions.unwrap().iter().all(|c| c.type_ != "Error"));
    }
}
