//! Galera (PXC / MariaDB Galera) facts from `SHOW GLOBAL STATUS LIKE 'wsrep_%'`.

use std::time::Duration;

use super::row::TextRow;
use crate::observe::facts::{DbFacts, FamilyDetail, GaleraDetail, Role};

/// Flow control pausing replication at least this share of the time between two readings is a problem to show.
const FLOW_CONTROL_PROBLEM: f64 = 0.01;

/// `wsrep_local_state` 4 is Synced; the PXC readiness check also requires the Primary component.
const SYNCED: u32 = 4;

pub const STATUS_QUERY: &str = "SHOW GLOBAL STATUS LIKE 'wsrep\\_%'";

/// Builds the member's facts from the wsrep status variables (one row: variable name → value).
///
/// Lag in transactions is relative to the other members and is filled in later by
/// [`crate::observe::facts::apply_galera_relative_lag`]; a node has no notion of seconds behind.
pub fn galera_facts(status: &TextRow, version: &str) -> DbFacts {
    let detail = GaleraDetail {
        cluster_status: status.text(&["wsrep_cluster_status"]),
        local_state: status.u64(&["wsrep_local_state"]).and_then(|v| u32::try_from(v).ok()),
        local_state_comment: status.text(&["wsrep_local_state_comment"]),
        cluster_size: status.u64(&["wsrep_cluster_size"]).and_then(|v| u32::try_from(v).ok()),
        ready: status.flag(&["wsrep_ready"]),
        connected: status.flag(&["wsrep_connected"]),
        flow_control_paused: status.f64(&["wsrep_flow_control_paused"]),
        flow_control_paused_ns: status.u64(&["wsrep_flow_control_paused_ns"]),
        flow_control_paused_recent: None,
        recv_queue: status.u64(&["wsrep_local_recv_queue"]),
        send_queue: status.u64(&["wsrep_local_send_queue"]),
        last_committed: status.u64(&["wsrep_last_committed"]),
        cluster_state_uuid: status.get(&["wsrep_cluster_state_uuid"]).map(str::to_string),
    };

    let mut problems = Vec::new();
    if status.get(&["wsrep_cluster_status"]).is_none() {
        problems.push("wsrep status variables are missing: Galera is not enabled on this server".to_string());
    } else {
        if !detail.connected {
            problems.push("not connected to the group (wsrep_connected=OFF)".to_string());
        }
        if detail.cluster_status != "Primary" {
            problems.push(format!("in a non-primary component (wsrep_cluster_status={})", detail.cluster_status));
        }
        if detail.local_state != Some(SYNCED) {
            problems.push(format!("not synced (wsrep_local_state_comment={})", detail.local_state_comment));
        }
        if !detail.ready {
            problems.push("not accepting queries (wsrep_ready=OFF)".to_string());
        }
    }

    DbFacts {
        role: Role::GaleraMember,
        state: if detail.local_state_comment.is_empty() {
            "unknown".into()
        } else {
            detail.local_state_comment.clone()
        },
        version: version.to_string(),
        lag_seconds: None,
        lag_amount: None,
        lag_note: Some(
            "Galera replication is synchronous; lag is counted in write sets against the other members".into(),
        ),
        problems,
        detail: FamilyDetail::Galera(detail),
    }
}

/// Fills in the share of the time since the previous reading (`previous_ns` paused, `elapsed` ago) that flow
/// control paused replication, which is what a DBA means by "flow control now"; the server's own fraction
/// averages since the last `FLUSH STATUS`. A counter that went down was reset (restart, `FLUSH STATUS`): no figure.
pub fn apply_flow_control_window(facts: &mut DbFacts, previous_ns: u64, elapsed: Duration) {
    let FamilyDetail::Galera(g) = &mut facts.detail else { return };
    let Some(now_ns) = g.flow_control_paused_ns else { return };
    if now_ns < previous_ns || elapsed.is_zero() {
        return;
    }
    let share = ((now_ns - previous_ns) as f64 / elapsed.as_nanos() as f64).min(1.0);
    g.flow_control_paused_recent = Some(share);
    if share >= FLOW_CONTROL_PROBLEM {
        facts.problems.push(format!(
            "flow control paused replication {:.0}% of the last {:.1} s: a member cannot apply fast enough",
            share * 100.0,
            elapsed.as_secs_f64()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_synced_primary_node() {
        let status = TextRow::from_pairs([
            ("wsrep_cluster_status", Some("Primary")),
            ("wsrep_local_state", Some("4")),
            ("wsrep_local_state_comment", Some("Synced")),
            ("wsrep_cluster_size", Some("3")),
            ("wsrep_ready", Some("ON")),
            ("wsrep_connected", Some("ON")),
            ("wsrep_flow_control_paused", Some("0.012345")),
            ("wsrep_local_recv_queue", Some("2")),
            ("wsrep_local_send_queue", Some("0")),
            ("wsrep_last_committed", Some("1234")),
        ]);
        let facts = galera_facts(&status, "10.11.6-MariaDB");
        assert_eq!(facts.state, "Synced");
        assert!(facts.problems.is_empty(), "{:?}", facts.problems);
        let FamilyDetail::Galera(g) = facts.detail else { panic!("not galera") };
        assert_eq!(g.cluster_size, Some(3));
        assert_eq!(g.last_committed, Some(1234));
        assert_eq!(g.recv_queue, Some(2));
        assert!((g.flow_control_paused.unwrap() - 0.012345).abs() < 1e-9);
    }

    #[test]
    fn a_donor_in_a_non_primary_component_lists_its_problems() {
        let status = TextRow::from_pairs([
            ("wsrep_cluster_status", Some("non-Primary")),
            ("wsrep_local_state", Some("2")),
            ("wsrep_local_state_comment", Some("Donor/Desynced")),
            ("wsrep_ready", Some("OFF")),
            ("wsrep_connected", Some("ON")),
        ]);
        let facts = galera_facts(&status, "8.0");
        assert_eq!(facts.problems.len(), 3, "{:?}", facts.problems);
        assert!(facts.problems[0].contains("non-Primary"));
    }

    #[test]
    fn a_server_without_galera_says_so() {
        let facts = galera_facts(&TextRow::default(), "8.0");
        assert_eq!(facts.state, "unknown");
        assert!(facts.problems[0].contains("Galera is not enabled"));
    }

    #[test]
    fn flow_control_is_measured_between_readings() {
        let status = |ns: &str| {
            TextRow::from_pairs([
                ("wsrep_cluster_status", Some("Primary")),
                ("wsrep_local_state", Some("4")),
                ("wsrep_local_state_comment", Some("Synced")),
                ("wsrep_ready", Some("ON")),
                ("wsrep_connected", Some("ON")),
                ("wsrep_flow_control_paused", Some("0.000001")),
                ("wsrep_flow_control_paused_ns", Some(ns)),
            ])
        };
        let mut facts = galera_facts(&status("7500000000"), "10.11");
        let FamilyDetail::Galera(g) = &facts.detail else { panic!("not galera") };
        assert_eq!((g.flow_control_paused_ns, g.flow_control_paused_recent), (Some(7_500_000_000), None));

        // 1.5 s paused of the last 5 s: 30%, although the lifetime average is near zero.
        apply_flow_control_window(&mut facts, 6_000_000_000, Duration::from_secs(5));
        let FamilyDetail::Galera(g) = &facts.detail else { panic!("not galera") };
        assert!((g.flow_control_paused_recent.unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(
            facts.problems,
            ["flow control paused replication 30% of the last 5.0 s: a member cannot apply fast enough"]
        );

        let mut quiet = galera_facts(&status("7500000000"), "10.11");
        apply_flow_control_window(&mut quiet, 7_500_000_000, Duration::from_secs(5));
        let FamilyDetail::Galera(g) = &quiet.detail else { panic!("not galera") };
        assert_eq!(g.flow_control_paused_recent, Some(0.0));
        assert!(quiet.problems.is_empty());

        // The counter went down (FLUSH STATUS, restart): no figure rather than a negative one.
        let mut reset = galera_facts(&status("100"), "10.11");
        apply_flow_control_window(&mut reset, 7_500_000_000, Duration::from_secs(5));
        let FamilyDetail::Galera(g) = &reset.detail else { panic!("not galera") };
        assert_eq!(g.flow_control_paused_recent, None);
    }
}
