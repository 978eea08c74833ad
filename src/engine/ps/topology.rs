//! Pure decisions about the replication topology of a PS cluster, from what the MySQL members
//! themselves answered: which pod is the primary, which updated replica a switchover goes to, and
//! the exact request (Orchestrator URL path or group-replication SQL) that asks for it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::engine::status::pod_ready_at;
use crate::observe::facts::{DbFacts, FamilyDetail, GroupRole, ProbeOutcome, Role};

/// The MySQL port every member listens on (Percona's `mysql.DefaultPort`).
pub const MYSQL_PORT: u16 = 3306;
/// Orchestrator's web UI and HTTP API port.
pub const ORC_WEB_PORT: u16 = 3000;

/// A member's host name as the cluster's MySQL servers report it and Orchestrator knows it:
/// Percona's entrypoint sets `report_host` to `<pod>.<SERVICE_NAME>.<namespace>`, where
/// SERVICE_NAME is the headless Service `<cluster>-mysql` our StatefulSet is given.
pub fn mysql_host(cluster: &str, namespace: &str, pod: &str) -> String {
    format!("{pod}.{cluster}-mysql.{namespace}")
}

/// The pod a host name stands for: the pod's own name, or its name followed by a domain.
pub fn pod_for_host<'a>(host: &str, pods: &'a [String]) -> Option<&'a str> {
    let host = host.trim_end_matches('.');
    pods.iter()
        .find(|p| host == p.as_str() || host.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('.')))
        .map(String::as_str)
}

/// What the databases say about the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimaryFinding {
    /// The members agree on this pod.
    Found(String),
    /// No member answered; the reason lists why each one did not.
    NoAnswer(String),
    /// Members answered but do not name exactly one primary (mid-switchover, split, not set up yet).
    Unclear(String),
}

/// One member's reading: the pod and what probing it gave.
pub type Reading = (String, ProbeOutcome);

fn answered(readings: &[Reading]) -> Vec<(&str, &DbFacts)> {
    readings
        .iter()
        .filter_map(|(pod, o)| match o {
            ProbeOutcome::Ok(f) => Some((pod.as_str(), f)),
            _ => None,
        })
        .collect()
}

fn no_answer(readings: &[Reading]) -> PrimaryFinding {
    if readings.is_empty() {
        return PrimaryFinding::NoAnswer("no MySQL pod to ask".into());
    }
    let why: Vec<String> = readings.iter().map(|(pod, o)| format!("{pod}: {}", o.summary())).collect();
    PrimaryFinding::NoAnswer(why.join("; "))
}

/// The primary from the members' replies. Async: the member with no replication channel, provided
/// no replica names another pod as its source (replicas naming a host outside the cluster do not
/// count against it). Group replication: the member every answering member lists as the ONLINE
/// PRIMARY in `replication_group_members`.
pub fn primary_from_readings(group_replication: bool, readings: &[Reading]) -> PrimaryFinding {
    let replies = answered(readings);
    if replies.is_empty() {
        return no_answer(readings);
    }
    let pods: Vec<String> = readings.iter().map(|(p, _)| p.clone()).collect();
    if group_replication { group_primary(&pods, &replies) } else { async_primary(&pods, &replies) }
}

fn async_primary(pods: &[String], replies: &[(&str, &DbFacts)]) -> PrimaryFinding {
    let sources: Vec<&str> = replies.iter().filter(|(_, f)| f.role == Role::Source).map(|(p, _)| *p).collect();
    // Which pod each replica replicates from, when its source host names one of ours.
    let mut pointed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (pod, facts) in replies {
        if let FamilyDetail::Async(detail) = &facts.detail
            && facts.role == Role::Replica
            && let Some(source) = detail.channels.first().and_then(|ch| pod_for_host(&ch.source_host, pods))
        {
            pointed.entry(source).or_default().push(pod);
        }
    }
    let candidates: Vec<&str> = match sources.as_slice() {
        [] => {
            let named: Vec<&str> = pointed.keys().copied().collect();
            return PrimaryFinding::Unclear(format!(
                "no answering member is a source (every one replicates){}",
                if named.is_empty() { String::new() } else { format!("; replicas point at {}", named.join(", ")) }
            ));
        }
        [one] => vec![*one],
        many => {
            // Several servers without a channel: the one the replicas follow, if exactly one.
            let followed: Vec<&str> = many.iter().copied().filter(|s| pointed.contains_key(s)).collect();
            if followed.len() != 1 {
                return PrimaryFinding::Unclear(format!("pods {} all answer as sources", many.join(", ")));
            }
            followed
        }
    };
    let source = candidates[0];
    // A replica following another answering replica is a relay chain under the same source; one
    // following a pod that did not answer may be following a second, unseen source.
    let relays: BTreeSet<&str> = replies.iter().filter(|(_, f)| f.role == Role::Replica).map(|(p, _)| *p).collect();
    if let Some((other, replicas)) = pointed.iter().find(|(p, _)| **p != source && !relays.contains(*p)) {
        return PrimaryFinding::Unclear(format!(
            "{source} answers as the source but {} replicate(s) from {other}",
            replicas.join(", ")
        ));
    }
    PrimaryFinding::Found(source.to_string())
}

fn group_primary(pods: &[String], replies: &[(&str, &DbFacts)]) -> PrimaryFinding {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for (_, facts) in replies {
        let FamilyDetail::Group(detail) = &facts.detail else { continue };
        for m in detail.members.iter().filter(|m| m.role == GroupRole::Primary && m.state == "ONLINE") {
            match pod_for_host(&m.host, pods) {
                Some(pod) => named.insert(pod.to_string()),
                None => {
                    return PrimaryFinding::Unclear(format!(
                        "the group's primary {} is not a pod of this cluster",
                        m.host
                    ));
                }
            };
        }
    }
    let mut named = named.into_iter();
    match (named.next(), named.next()) {
        (Some(pod), None) => PrimaryFinding::Found(pod),
        (None, _) => PrimaryFinding::Unclear("no member lists an ONLINE PRIMARY in replication_group_members".into()),
        (Some(a), Some(b)) => PrimaryFinding::Unclear(format!("members disagree on the primary ({a}, {b}, ...)")),
    }
}

/// Whether the member answered as a healthy follower: an async replica, or an ONLINE secondary.
fn answered_as_follower(outcome: Option<&ProbeOutcome>) -> bool {
    let Some(ProbeOutcome::Ok(f)) = outcome else { return false };
    match f.role {
        Role::Replica => true,
        Role::GroupMember { role: GroupRole::Secondary } => f.state == "ONLINE",
        _ => false,
    }
}

fn ordinal(name: &str) -> i64 {
    name.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(i64::MAX)
}

/// The pod a switchover promotes: a pod other than `primary`, ready at `update_revision`, that the
/// probes saw following the primary; the lowest ordinal of those. `None` when there is none.
pub fn switch_target(primary: &str, update_revision: &str, pods: &[Pod], readings: &[Reading]) -> Option<String> {
    let by_pod: BTreeMap<&str, &ProbeOutcome> = readings.iter().map(|(p, o)| (p.as_str(), o)).collect();
    let mut candidates: Vec<String> = pods
        .iter()
        .map(|p| (p, p.name_any()))
        .filter(|(p, name)| {
            name != primary
                && pod_ready_at(p, Some(update_revision))
                && answered_as_follower(by_pod.get(name.as_str()).copied())
        })
        .map(|(_, name)| name)
        .collect();
    candidates.sort_by_key(|n| ordinal(n));
    candidates.into_iter().next()
}

/// Orchestrator's graceful takeover request for `target`, as Percona's operator sends it:
/// `api/graceful-master-takeover-auto/<cluster hint>/<host>/<port>` with hint `<cluster>.<namespace>`.
pub fn takeover_path(cluster: &str, namespace: &str, target_pod: &str) -> String {
    format!(
        "/api/graceful-master-takeover-auto/{cluster}.{namespace}/{}/{MYSQL_PORT}",
        mysql_host(cluster, namespace, target_pod)
    )
}

/// Whether Orchestrator's reply says the takeover was done: a 2xx status and, when the body is
/// Orchestrator's `{Code, Message, Details}` object, `Code: "OK"`. The error names its message.
pub fn takeover_reply(status: u16, body: &str) -> Result<(), String> {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let code = parsed.as_ref().and_then(|v| v.get("Code")).and_then(|c| c.as_str());
    let message = parsed.as_ref().and_then(|v| v.get("Message")).and_then(|c| c.as_str());
    let short =
        || message.map(str::to_string).unwrap_or_else(|| body.chars().take(200).collect::<String>().trim().to_string());
    if !(200..300).contains(&status) {
        return Err(format!("Orchestrator answered HTTP {status}: {}", short()));
    }
    match code {
        None | Some("OK") => Ok(()),
        Some(other) => Err(format!("Orchestrator answered {other}: {}", short())),
    }
}

/// The `MEMBER_ID` of `target_pod` in any answering member's `replication_group_members`.
pub fn group_member_id(target_pod: &str, readings: &[Reading]) -> Option<String> {
    let pods = [target_pod.to_string()];
    answered(readings).into_iter().find_map(|(_, f)| match &f.detail {
        FamilyDetail::Group(d) => {
            d.members.iter().find(|m| pod_for_host(&m.host, &pods).is_some()).map(|m| m.member_id.clone())
        }
        _ => None,
    })
}

/// `SELECT group_replication_set_as_primary('<member_id>')`, only for a member id that is a server
/// UUID (it is spliced into SQL, so nothing else may pass).
pub fn set_as_primary_sql(member_id: &str) -> Option<String> {
    let is_uuid = member_id.len() == 36
        && member_id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    is_uuid.then(|| format!("SELECT group_replication_set_as_primary('{member_id}')"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::facts::{
        AsyncDetail, GroupDetail, GroupMemberRow, MysqlFlavor, ProbePhase, ReplicaChannel, ThreadState,
    };
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use std::collections::BTreeMap as Map;

    fn facts(role: Role, state: &str, detail: FamilyDetail) -> ProbeOutcome {
        ProbeOutcome::Ok(DbFacts {
            role,
            state: state.into(),
            version: "10.11".into(),
            lag_seconds: None,
            lag_amount: None,
            lag_note: None,
            problems: vec![],
            detail,
        })
    }

    fn channel(host: &str) -> ReplicaChannel {
        ReplicaChannel {
            name: String::new(),
            source_host: host.into(),
            source_port: Some(3306),
            io_running: ThreadState::Running,
            sql_running: true,
            seconds_behind: Some(0),
            last_io_errno: 0,
            last_io_error: String::new(),
            last_sql_errno: 0,
            last_sql_error: String::new(),
            retrieved_gtids: String::new(),
            executed_gtids: String::new(),
            transactions_behind: Some(0),
        }
    }

    fn async_member(source_of: Option<&str>) -> ProbeOutcome {
        let channels: Vec<ReplicaChannel> = source_of.map(channel).into_iter().collect();
        let role = if channels.is_empty() { Role::Source } else { Role::Replica };
        let detail =
            AsyncDetail { flavor: MysqlFlavor::Mysql, read_only: false, gtid_executed: String::new(), channels };
        facts(role, if source_of.is_some() { "replicating" } else { "source" }, FamilyDetail::Async(detail))
    }

    fn unreachable() -> ProbeOutcome {
        ProbeOutcome::Unreachable { reason: "connection refused".into() }
    }

    fn r(pod: &str, o: ProbeOutcome) -> Reading {
        (pod.to_string(), o)
    }

    const H0: &str = "db-mysql-0.db-mysql.ns";
    const H1: &str = "db-mysql-1.db-mysql.ns";
    const H2: &str = "db-mysql-2.db-mysql.ns";

    #[test]
    fn async_primary_is_the_source_the_replicas_follow() {
        let readings = vec![
            r("db-mysql-0", async_member(Some(H1))),
            r("db-mysql-1", async_member(None)),
            r("db-mysql-2", async_member(Some(H1))),
        ];
        assert_eq!(primary_from_readings(false, &readings), PrimaryFinding::Found("db-mysql-1".into()));
        // A replica whose source host is not a pod name (an IP) neither confirms nor contradicts.
        let readings = vec![r("db-mysql-0", async_member(Some("127.0.0.1"))), r("db-mysql-1", async_member(None))];
        assert_eq!(primary_from_readings(false, &readings), PrimaryFinding::Found("db-mysql-1".into()));
        // An unreachable replica does not stop the answering source from being found.
        let readings = vec![r("db-mysql-0", unreachable()), r("db-mysql-1", async_member(None))];
        assert_eq!(primary_from_readings(false, &readings), PrimaryFinding::Found("db-mysql-1".into()));
    }

    #[test]
    fn async_disagreement_is_unclear_never_a_guess() {
        // Mid-takeover: both servers are without a channel.
        let both = vec![r("db-mysql-0", async_member(None)), r("db-mysql-1", async_member(None))];
        assert!(matches!(primary_from_readings(false, &both), PrimaryFinding::Unclear(m) if m.contains("sources")));
        // Two sources, but the third replicates from pod 0: that one is the primary.
        let mut three = both.clone();
        three.push(r("db-mysql-2", async_member(Some(H0))));
        assert_eq!(primary_from_readings(false, &three), PrimaryFinding::Found("db-mysql-0".into()));
        // One source, but a replica follows a pod that did not answer: maybe a second source.
        let split = vec![
            r("db-mysql-0", async_member(None)),
            r("db-mysql-1", async_member(Some(H2))),
            r("db-mysql-2", unreachable()),
        ];
        assert!(matches!(primary_from_readings(false, &split), PrimaryFinding::Unclear(m) if m.contains("db-mysql-2")));
        // A relay chain (1 follows 2, 2 follows 0) still has pod 0 as its source.
        let chain = vec![
            r("db-mysql-0", async_member(None)),
            r("db-mysql-1", async_member(Some(H2))),
            r("db-mysql-2", async_member(Some(H0))),
        ];
        assert_eq!(primary_from_readings(false, &chain), PrimaryFinding::Found("db-mysql-0".into()));
        let replicas_only = vec![r("db-mysql-0", async_member(Some(H1))), r("db-mysql-1", unreachable())];
        assert!(matches!(primary_from_readings(false, &replicas_only), PrimaryFinding::Unclear(_)));
    }

    #[test]
    fn no_answer_says_why_for_each_pod() {
        let readings = vec![
            r("db-mysql-0", unreachable()),
            r(
                "db-mysql-1",
                ProbeOutcome::Timeout { phase: ProbePhase::Connect, after: std::time::Duration::from_secs(3) },
            ),
        ];
        let PrimaryFinding::NoAnswer(why) = primary_from_readings(false, &readings) else { panic!("not NoAnswer") };
        assert!(why.starts_with("db-mysql-0: unreachable: connection refused; db-mysql-1: "), "{why}");
        assert!(matches!(primary_from_readings(true, &[]), PrimaryFinding::NoAnswer(_)));
    }

    const M0: &str = "3a1e1c0e-0000-11ee-8000-000000000000";
    const M1: &str = "3a1e1c0e-0000-11ee-8000-000000000001";

    fn group(rows: &[(&str, &str, &str, GroupRole)], own: &str) -> ProbeOutcome {
        let members = rows
            .iter()
            .map(|(id, host, state, role)| GroupMemberRow {
                member_id: id.to_string(),
                host: host.to_string(),
                port: Some(3306),
                state: state.to_string(),
                role: *role,
                version: None,
            })
            .collect::<Vec<_>>();
        let me = members.iter().find(|m| m.member_id == own).cloned().unwrap();
        let detail = GroupDetail { member_id: own.into(), members, stats: vec![] };
        facts(Role::GroupMember { role: me.role }, &me.state, FamilyDetail::Group(detail))
    }

    #[test]
    fn group_primary_is_the_online_primary_row() {
        let rows = [(M0, H0, "ONLINE", GroupRole::Secondary), (M1, H1, "ONLINE", GroupRole::Primary)];
        let readings = vec![r("db-mysql-0", group(&rows, M0)), r("db-mysql-1", group(&rows, M1))];
        assert_eq!(primary_from_readings(true, &readings), PrimaryFinding::Found("db-mysql-1".into()));
        assert_eq!(group_member_id("db-mysql-0", &readings).as_deref(), Some(M0));
        assert_eq!(group_member_id("db-mysql-7", &readings), None);

        let recovering = [(M0, H0, "ONLINE", GroupRole::Secondary), (M1, H1, "RECOVERING", GroupRole::Primary)];
        let readings = vec![r("db-mysql-0", group(&recovering, M0))];
        assert!(matches!(primary_from_readings(true, &readings), PrimaryFinding::Unclear(_)));
        let stranger = [(M0, H0, "ONLINE", GroupRole::Secondary), (M1, "elsewhere", "ONLINE", GroupRole::Primary)];
        let readings = vec![r("db-mysql-0", group(&stranger, M0))];
        assert!(
            matches!(primary_from_readings(true, &readings), PrimaryFinding::Unclear(m) if m.contains("elsewhere"))
        );
    }

    fn pod(name: &str, rev: &str, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.labels = Some(Map::from([("controller-revision-hash".to_string(), rev.to_string())]));
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
    fn the_switch_goes_to_an_updated_ready_follower() {
        let pods = vec![pod("db-mysql-0", "new", true), pod("db-mysql-1", "old", true), pod("db-mysql-2", "new", true)];
        let readings = vec![
            r("db-mysql-0", async_member(Some(H1))),
            r("db-mysql-1", async_member(None)),
            r("db-mysql-2", async_member(Some(H1))),
        ];
        assert_eq!(switch_target("db-mysql-1", "new", &pods, &readings).as_deref(), Some("db-mysql-0"));
        // Pod 0 did not answer as a replica: pod 2 is the choice.
        let readings2 = vec![r("db-mysql-0", unreachable()), readings[1].clone(), readings[2].clone()];
        assert_eq!(switch_target("db-mysql-1", "new", &pods, &readings2).as_deref(), Some("db-mysql-2"));
        // Not at the new revision, or not ready: nobody.
        let stale =
            vec![pod("db-mysql-0", "old", true), pod("db-mysql-1", "old", true), pod("db-mysql-2", "new", false)];
        assert_eq!(switch_target("db-mysql-1", "new", &stale, &readings), None);
    }

    #[test]
    fn orchestrator_request_and_reply() {
        assert_eq!(
            takeover_path("ledger", "prod", "ledger-mysql-0"),
            "/api/graceful-master-takeover-auto/ledger.prod/ledger-mysql-0.ledger-mysql.prod/3306"
        );
        assert_eq!(takeover_reply(200, r#"{"Code":"OK","Message":"promoted"}"#), Ok(()));
        assert_eq!(
            takeover_reply(500, r#"{"Code":"ERROR","Message":"no replicas"}"#),
            Err("Orchestrator answered HTTP 500: no replicas".into())
        );
        assert_eq!(
            takeover_reply(200, r#"{"Code":"ERROR","Message":"lagging"}"#),
            Err("Orchestrator answered ERROR: lagging".into())
        );
        assert_eq!(takeover_reply(404, "not found\n"), Err("Orchestrator answered HTTP 404: not found".into()));
    }

    #[test]
    fn set_as_primary_takes_only_a_uuid() {
        assert_eq!(
            set_as_primary_sql(M1).as_deref(),
            Some("SELECT group_replication_set_as_primary('3a1e1c0e-0000-11ee-8000-000000000001')")
        );
        assert_eq!(set_as_primary_sql("x'); DROP TABLE t; --"), None);
        assert_eq!(set_as_primary_sql(""), None);
    }

    #[test]
    fn hosts_map_to_pods_by_name() {
        let pods = vec!["db-mysql-1".to_string(), "db-mysql-10".to_string()];
        assert_eq!(pod_for_host("db-mysql-1.db-mysql.ns", &pods), Some("db-mysql-1"));
        assert_eq!(pod_for_host("db-mysql-10.db-mysql.ns.svc.cluster.local.", &pods), Some("db-mysql-10"));
        assert_eq!(pod_for_host("db-mysql-1", &pods), Some("db-mysql-1"));
        assert_eq!(pod_for_host("db-mysql-100.x", &pods), None);
        assert_eq!(mysql_host("db", "ns", "db-mysql-2"), H2);
    }
}
