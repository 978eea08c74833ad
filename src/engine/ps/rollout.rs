//! Pure decisions about MySQL pods: which one a smart update deletes next, and how the primary
//! label `mysql.percona.com/primary=true` is moved once the primary is known.
//!
//! Percona's smart update (`pkg/controller/ps/upgrade.go`) updates the secondaries one by one, then
//! switches the primary over to an updated secondary (Orchestrator graceful takeover for async,
//! `setPrimaryInstance` for group replication) and restarts the old primary last. The engine does
//! the same: the primary is the one the MySQL members name when probed (`topology`), the
//! switchover is requested through Orchestrator's HTTP API or `group_replication_set_as_primary`
//! (`reconcile::switchover`), and the old primary is deleted only once the probes name the new one.
//! Only when no member answers does the order fall back to the label (or pod 0), with the primary
//! deleted last and no switchover, leaving the election to MySQL itself.

use kube::ResourceExt;
use serde_json::{Value, json};

use k8s_openapi::api::core::v1::Pod;

use super::LABEL_PRIMARY;
use crate::engine::status::{pod_ready_at, pod_revision};

fn ordinal(pod: &Pod) -> i64 {
    pod.name_any().rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(-1)
}

fn labelled_primary(pod: &Pod) -> bool {
    pod.labels().get(LABEL_PRIMARY).is_some_and(|v| v == "true")
}

/// The primary as the pods themselves say it: the one pod labelled `mysql.percona.com/primary=true`
/// (set by Orchestrator's hook for async, by the operator for group replication). `None` when no pod
/// or more than one pod carries the label: then nobody knows, and nothing is invented.
pub fn known_primary(pods: &[Pod]) -> Option<String> {
    let mut labelled = pods.iter().filter(|p| labelled_primary(p));
    match (labelled.next(), labelled.next()) {
        (Some(p), None) => Some(p.name_any()),
        _ => None,
    }
}

/// The pod a smart update treats as the primary when the databases cannot say: the labelled one, else pod 0 (where a fresh
/// cluster bootstraps, so the primary unless a failover moved it — which would have set the label).
pub fn primary_for_update(cluster: &str, pods: &[Pod]) -> String {
    known_primary(pods).unwrap_or_else(|| format!("{cluster}-mysql-0"))
}

/// The next MySQL pod a smart update deletes, if one should go now. Only when every wanted pod exists
/// and is ready (the pod deleted last is back), and only pods not at `update_revision`; replicas
/// first, highest ordinal first, `primary` last.
pub fn smart_update_step(wanted: i32, update_revision: &str, pods: &[Pod], primary: &str) -> Option<String> {
    if pods.len() as i32 != wanted || !pods.iter().all(|p| pod_ready_at(p, None)) {
        return None;
    }
    let mut outdated: Vec<&Pod> = pods.iter().filter(|p| pod_revision(p) != Some(update_revision)).collect();
    outdated.sort_by_key(|p| (p.name_any() == primary, std::cmp::Reverse(ordinal(p))));
    outdated.first().map(|p| p.name_any())
}

/// The label patches (pod name, JSON merge patch) that leave exactly `primary` labelled: the label
/// goes off every other pod that has it, then onto `primary` if it lacks it — in that order, since
/// the `-mysql-primary` Service selects on it and must never send writes to two pods at once.
/// Empty when all is right.
pub fn primary_label_patches(pods: &[Pod], primary: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for p in pods.iter().filter(|p| p.name_any() != primary && p.labels().contains_key(LABEL_PRIMARY)) {
        out.push((p.name_any(), json!({"metadata": {"labels": {LABEL_PRIMARY: null}}})));
    }
    if let Some(p) = pods.iter().find(|p| p.name_any() == primary && !labelled_primary(p)) {
        out.push((p.name_any(), json!({"metadata": {"labels": {LABEL_PRIMARY: "true"}}})));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use std::collections::BTreeMap;

    fn pod(name: &str, rev: &str, ready: bool, primary: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        let mut labels = BTreeMap::from([("controller-revision-hash".to_string(), rev.to_string())]);
        if primary {
            labels.insert(LABEL_PRIMARY.to_string(), "true".to_string());
        }
        p.metadata.labels = Some(labels);
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

    #[test]
    fn without_a_label_pod_zero_goes_last() {
        let pods =
            |revs: [&str; 3]| (0..3).map(|i| pod(&format!("db-mysql-{i}"), revs[i], true, false)).collect::<Vec<_>>();
        assert_eq!(
            smart_update_step(3, "new", &pods(["old", "old", "old"]), "db-mysql-0").as_deref(),
            Some("db-mysql-2")
        );
        assert_eq!(
            smart_update_step(3, "new", &pods(["old", "old", "new"]), "db-mysql-0").as_deref(),
            Some("db-mysql-1")
        );
        assert_eq!(
            smart_update_step(3, "new", &pods(["old", "new", "new"]), "db-mysql-0").as_deref(),
            Some("db-mysql-0")
        );
        assert_eq!(smart_update_step(3, "new", &pods(["new", "new", "new"]), "db-mysql-0"), None);
    }

    #[test]
    fn the_labelled_primary_goes_last() {
        let pods = vec![
            pod("db-mysql-0", "old", true, false),
            pod("db-mysql-1", "old", true, true),
            pod("db-mysql-2", "new", true, false),
        ];
        assert_eq!(smart_update_step(3, "new", &pods, &primary_for_update("db", &pods)).as_deref(), Some("db-mysql-0"));
        let pods = vec![
            pod("db-mysql-0", "new", true, false),
            pod("db-mysql-1", "old", true, true),
            pod("db-mysql-2", "new", true, false),
        ];
        assert_eq!(smart_update_step(3, "new", &pods, &primary_for_update("db", &pods)).as_deref(), Some("db-mysql-1"));
    }

    #[test]
    fn waits_while_a_pod_is_missing_or_not_ready() {
        let pods = vec![pod("db-mysql-0", "old", true, false), pod("db-mysql-1", "new", false, false)];
        assert_eq!(smart_update_step(2, "new", &pods, "db-mysql-0"), None);
        assert_eq!(smart_update_step(3, "new", &pods[..1], "db-mysql-0"), None);
    }

    #[test]
    fn two_labelled_pods_mean_the_primary_is_unknown() {
        let pods = vec![pod("db-mysql-0", "a", true, true), pod("db-mysql-1", "a", true, true)];
        assert_eq!(known_primary(&pods), None);
        assert_eq!(known_primary(&pods[..1]).as_deref(), Some("db-mysql-0"));
        assert_eq!(known_primary(&[pod("db-mysql-0", "a", true, false)]), None);
    }

    #[test]
    fn label_patches_move_the_label_to_the_primary_only() {
        let pods = vec![
            pod("db-mysql-0", "a", true, true),
            pod("db-mysql-1", "a", true, false),
            pod("db-mysql-2", "a", true, false),
        ];
        let patches = primary_label_patches(&pods, "db-mysql-1");
        assert_eq!(patches.len(), 2);
        assert_eq!(patches[0].0, "db-mysql-0");
        assert_eq!(patches[0].1["metadata"]["labels"][LABEL_PRIMARY], Value::Null);
        assert_eq!(patches[1].0, "db-mysql-1");
        assert_eq!(patches[1].1["metadata"]["labels"][LABEL_PRIMARY], "true");
        assert!(primary_label_patches(&pods, "db-mysql-0").is_empty());
        // The old primary loses the label before the new one gets it, whatever their order.
        let swapped = vec![pod("db-mysql-0", "a", true, false), pod("db-mysql-1", "a", true, true)];
        let patches = primary_label_patches(&swapped, "db-mysql-0");
        assert_eq!(patches.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["db-mysql-1", "db-mysql-0"]);
    }
}
