//! MySQL group replication facts from `performance_schema.replication_group_members` and
//! `performance_schema.replication_group_member_stats`.

use super::row::TextRow;
use crate::observe::facts::{
    DbFacts, FamilyDetail, GroupDetail, GroupMemberRow, GroupMemberStats, GroupRole, LagAmount, Role,
};

pub const MEMBERS_QUERY: &str = "SELECT * FROM performance_schema.replication_group_members";
pub const STATS_QUERY: &str = "SELECT * FROM performance_schema.replication_group_member_stats";
pub const SERVER_UUID_QUERY: &str = "SELECT @@server_uuid";

/// Parses member rows; rows without a `MEMBER_ID` (a stopped plugin shows one row with empty values) are skipped.
pub fn parse_members(rows: &[TextRow]) -> Vec<GroupMemberRow> {
    rows.iter()
        .filter_map(|row| {
            let member_id = row.get(&["MEMBER_ID"]).filter(|id| !id.is_empty())?.to_string();
            let role = match row.get(&["MEMBER_ROLE"]).map(str::to_ascii_uppercase).as_deref() {
                Some("PRIMARY") => GroupRole::Primary,
                Some("SECONDARY") => GroupRole::Secondary,
                _ => GroupRole::Unknown,
            };
            Some(GroupMemberRow {
                member_id,
                host: row.text(&["MEMBER_HOST"]),
                port: row.u64(&["MEMBER_PORT"]).and_then(|p| u16::try_from(p).ok()),
                state: row.text(&["MEMBER_STATE"]),
                role,
                version: row.get(&["MEMBER_VERSION"]).filter(|v| !v.is_empty()).map(str::to_string),
            })
        })
        .collect()
}

pub fn parse_stats(rows: &[TextRow]) -> Vec<GroupMemberStats> {
    rows.iter()
        .filter_map(|row| {
            let member_id = row.get(&["MEMBER_ID"]).filter(|id| !id.is_empty())?.to_string();
            Some(GroupMemberStats {
                member_id,
                certifier_queue: row.u64(&["COUNT_TRANSACTIONS_IN_QUEUE"]).unwrap_or(0),
                applier_queue: row.u64(&["COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE"]).unwrap_or(0),
                transactions_checked: row.u64(&["COUNT_TRANSACTIONS_CHECKED"]).unwrap_or(0),
                conflicts_detected: row.u64(&["COUNT_CONFLICTS_DETECTED"]).unwrap_or(0),
            })
        })
        .collect()
}

/// Builds the probed member's facts: its own row decides role and state, its own stats row the lag
/// (transactions waiting in the applier queue, plus those still being certified).
pub fn group_facts(server_uuid: &str, member_rows: &[TextRow], stats_rows: &[TextRow], version: &str) -> DbFacts {
    let members = parse_members(member_rows);
    let stats = parse_stats(stats_rows);
    let own = members.iter().find(|m| m.member_id.eq_ignore_ascii_case(server_uuid));
    let own_stats = stats.iter().find(|s| s.member_id.eq_ignore_ascii_case(server_uuid));

    let mut problems = Vec::new();
    let (role, state) = match own {
        Some(m) => (m.role, m.state.clone()),
        None => {
            problems.push("this server is not a member of a replication group".to_string());
            (GroupRole::Unknown, "OFFLINE".to_string())
        }
    };
    if own.is_some() && state != "ONLINE" {
        problems.push(format!("member state is {state}"));
    }
    for other in members.iter().filter(|m| Some(m.member_id.as_str()) != own.map(|o| o.member_id.as_str())) {
        if other.state != "ONLINE" {
            problems.push(format!("group member {}:{} is {}", other.host, other.port.unwrap_or(0), other.state));
        }
    }
    let online = members.iter().filter(|m| m.state == "ONLINE").count();
    if !members.is_empty() && online * 2 <= members.len() {
        problems.push(format!("only {online} of {} members are ONLINE: the group has no majority", members.len()));
    }

    let lag_amount = own_stats.map(|s| LagAmount::transactions(s.applier_queue + s.certifier_queue));
    let lag_note = match own_stats {
        Some(_) => Some("group replication has no seconds-behind figure; lag is the queued transactions".into()),
        None => Some("no replication_group_member_stats row for this member".into()),
    };

    DbFacts {
        role: Role::GroupMember { role },
        state,
        version: version.to_string(),
        lag_seconds: None,
        lag_amount,
        lag_note,
        problems,
        detail: FamilyDetail::Group(GroupDetail { member_id: server_uuid.to_string(), members, stats }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M0: &str = "8f4a1f9e-6b4d-11ee-9c5e-0242ac120002";
    const M1: &str = "9a2b3c4d-6b4d-11ee-9c5e-0242ac120003";
    const M2: &str = "a1b2c3d4-6b4d-11ee-9c5e-0242ac120004";

    fn member(id: &str, host: &str, state: &str, role: &str) -> TextRow {
        TextRow::from_pairs([
            ("CHANNEL_NAME", Some("group_replication_applier")),
            ("MEMBER_ID", Some(id)),
            ("MEMBER_HOST", Some(host)),
            ("MEMBER_PORT", Some("3306")),
            ("MEMBER_STATE", Some(state)),
            ("MEMBER_ROLE", Some(role)),
            ("MEMBER_VERSION", Some("8.0.36")),
            ("MEMBER_COMMUNICATION_STACK", Some("MySQL")),
        ])
    }

    fn stats(id: &str, in_queue: &str, applier: &str) -> TextRow {
        TextRow::from_pairs([
            ("CHANNEL_NAME", Some("group_replication_applier")),
            ("VIEW_ID", Some("17000000000000000:3")),
            ("MEMBER_ID", Some(id)),
            ("COUNT_TRANSACTIONS_IN_QUEUE", Some(in_queue)),
            ("COUNT_TRANSACTIONS_CHECKED", Some("5012")),
            ("COUNT_CONFLICTS_DETECTED", Some("2")),
            ("COUNT_TRANSACTIONS_ROWS_VALIDATING", Some("31")),
            ("TRANSACTIONS_COMMITTED_ALL_MEMBERS", Some("8f4a1f9e-6b4d-11ee-9c5e-0242ac120002:1-5000")),
            ("LAST_CONFLICT_FREE_TRANSACTION", Some("8f4a1f9e-6b4d-11ee-9c5e-0242ac120002:5012")),
            ("COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE", Some(applier)),
            ("COUNT_TRANSACTIONS_REMOTE_APPLIED", Some("4990")),
            ("COUNT_TRANSACTIONS_LOCAL_PROPOSED", Some("0")),
            ("COUNT_TRANSACTIONS_LOCAL_ROLLBACK", Some("0")),
        ])
    }

    fn group() -> Vec<TextRow> {
        vec![
            member(M0, "ps-cluster1-mysql-0.ps-cluster1-mysql.db", "ONLINE", "PRIMARY"),
            member(M1, "ps-cluster1-mysql-1.ps-cluster1-mysql.db", "ONLINE", "SECONDARY"),
            member(M2, "ps-cluster1-mysql-2.ps-cluster1-mysql.db", "RECOVERING", "SECONDARY"),
        ]
    }

    #[test]
    fn parses_member_rows() {
        let members = parse_members(&group());
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].role, GroupRole::Primary);
        assert_eq!(members[2].state, "RECOVERING");
        assert_eq!(members[1].port, Some(3306));
        assert_eq!(members[1].version.as_deref(), Some("8.0.36"));
    }

    #[test]
    fn a_secondary_reports_its_queues_as_lag() {
        let stat_rows = vec![stats(M0, "0", "0"), stats(M1, "3", "17"), stats(M2, "0", "250")];
        let facts = group_facts(M1, &group(), &stat_rows, "8.0.36");
        assert_eq!(facts.role, Role::GroupMember { role: GroupRole::Secondary });
        assert_eq!(facts.state, "ONLINE");
        assert_eq!(facts.lag_amount, Some(LagAmount::transactions(20)));
        assert_eq!(facts.problems, vec!["group member ps-cluster1-mysql-2.ps-cluster1-mysql.db:3306 is RECOVERING"]);
        let FamilyDetail::Group(detail) = &facts.detail else { panic!("not group") };
        assert_eq!(detail.stats[2].applier_queue, 250);
        assert_eq!(detail.stats[1].certifier_queue, 3);
        assert_eq!(detail.stats[1].conflicts_detected, 2);
    }

    #[test]
    fn the_primary_is_recognised_case_insensitively() {
        let facts = group_facts(&M0.to_uppercase(), &group(), &[stats(M0, "0", "0")], "8.0.36");
        assert_eq!(facts.role, Role::GroupMember { role: GroupRole::Primary });
        assert_eq!(facts.lag_amount, Some(LagAmount::transactions(0)));
    }

    #[test]
    fn a_stopped_plugin_row_means_not_a_member() {
        // With group replication stopped the table holds one row with an empty MEMBER_ID and OFFLINE state.
        let rows = vec![TextRow::from_pairs([
            ("CHANNEL_NAME", Some("group_replication_applier")),
            ("MEMBER_ID", Some("")),
            ("MEMBER_HOST", Some("")),
            ("MEMBER_PORT", None),
            ("MEMBER_STATE", Some("OFFLINE")),
            ("MEMBER_ROLE", Some("")),
            ("MEMBER_VERSION", Some("")),
        ])];
        let facts = group_facts(M0, &rows, &[], "8.0.36");
        assert_eq!(facts.role, Role::GroupMember { role: GroupRole::Unknown });
        assert_eq!(facts.state, "OFFLINE");
        assert_eq!(facts.lag_amount, None);
        assert!(facts.problems[0].contains("not a member"));
    }

    #[test]
    fn a_minority_is_flagged() {
        let rows = vec![
            member(M0, "a", "ONLINE", "PRIMARY"),
            member(M1, "b", "UNREACHABLE", "SECONDARY"),
            member(M2, "c", "UNREACHABLE", "SECONDARY"),
        ];
        let facts = group_facts(M0, &rows, &[], "8.0.36");
        assert!(facts.problems.iter().any(|p| p.contains("no majority")), "{:?}", facts.problems);
    }
}
