//! MySQL / MariaDB asynchronous replication facts from `SHOW REPLICA STATUS` (MySQL 8.0.22+),
//! `SHOW SLAVE STATUS` (older MySQL) or `SHOW ALL SLAVES STATUS` (MariaDB), read by column name so both
//! spellings (`Source_*`/`Replica_*` and `Master_*`/`Slave_*`) work.

use std::collections::BTreeMap;

use super::gtid::{MariadbGtidPos, MysqlGtidSet};
use super::row::TextRow;
use crate::observe::facts::{
    AsyncDetail, DbFacts, FamilyDetail, LagAmount, MemberFacts, MysqlFlavor, ReplicaChannel, Role, ThreadState,
};

/// Server-wide values read next to the replica status.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerVars {
    pub flavor: MysqlFlavor,
    pub read_only: bool,
    /// MySQL `@@gtid_executed`, MariaDB `@@gtid_current_pos`.
    pub gtid_executed: String,
    /// MariaDB only: `@@gtid_slave_pos`, the GTIDs the SQL thread has applied.
    pub gtid_slave_pos: Option<String>,
    /// MySQL only: `@@GLOBAL.gtid_mode`. Unless it is `ON`, transactions may replicate without a GTID and the
    /// GTID sets cannot count what is pending.
    pub gtid_mode: Option<String>,
}

/// Transactions received but not applied on one channel, or why that cannot be counted.
///
/// MariaDB keeps `Gtid_IO_Pos` only while the connection replicates with GTIDs (`Using_Gtid` is `Slave_Pos` or
/// `Current_Pos`); with `Using_Gtid=No` it stays empty, and MySQL's sets stay empty with `gtid_mode` not `ON`.
/// Counting empty sets would say "0 behind" for any lag, so those cases are unknown instead.
fn transactions_behind(row: &TextRow, vars: &ServerVars) -> Result<u64, String> {
    let unreadable = |e: super::gtid::GtidError| format!("the GTID sets could not be read ({e})");
    match vars.flavor {
        MysqlFlavor::Mariadb => {
            if row.get(&["Using_Gtid"]).is_some_and(|u| u.eq_ignore_ascii_case("no")) {
                return Err("the replica does not use GTIDs (Using_Gtid=No)".into());
            }
            let retrieved = MariadbGtidPos::parse(&row.text(&["Gtid_IO_Pos"])).map_err(unreadable)?;
            let executed =
                MariadbGtidPos::parse(vars.gtid_slave_pos.as_deref().unwrap_or_default()).map_err(unreadable)?;
            Ok(retrieved.count_ahead_of(&executed))
        }
        MysqlFlavor::Mysql => {
            if let Some(mode) = vars.gtid_mode.as_deref().filter(|m| !m.eq_ignore_ascii_case("on")) {
                return Err(format!("the server does not replicate with GTIDs only (gtid_mode={mode})"));
            }
            let retrieved = MysqlGtidSet::parse(&row.text(&["Retrieved_Gtid_Set"])).map_err(unreadable)?;
            let executed = MysqlGtidSet::parse(&row.text(&["Executed_Gtid_Set"])).map_err(unreadable)?;
            Ok(retrieved.count_missing_from(&executed))
        }
    }
}

/// Parses one replica status row into a channel.
pub fn parse_channel(row: &TextRow, vars: &ServerVars) -> ReplicaChannel {
    let io_running = match row.get(&["Replica_IO_Running", "Slave_IO_Running"]).map(str::to_ascii_lowercase).as_deref()
    {
        Some("yes") => ThreadState::Running,
        Some("connecting") => ThreadState::Connecting,
        _ => ThreadState::Stopped,
    };
    let sql_running = row.flag(&["Replica_SQL_Running", "Slave_SQL_Running"]);
    let (retrieved, executed) = match vars.flavor {
        MysqlFlavor::Mariadb => (row.text(&["Gtid_IO_Pos"]), vars.gtid_slave_pos.clone().unwrap_or_default()),
        MysqlFlavor::Mysql => (row.text(&["Retrieved_Gtid_Set"]), row.text(&["Executed_Gtid_Set"])),
    };
    let behind = transactions_behind(row, vars).ok();
    ReplicaChannel {
        name: row.text(&["Channel_Name", "Connection_name"]),
        source_host: row.text(&["Source_Host", "Master_Host"]),
        source_port: row.u64(&["Source_Port", "Master_Port"]).and_then(|p| u16::try_from(p).ok()),
        io_running,
        sql_running,
        seconds_behind: row.u64(&["Seconds_Behind_Source", "Seconds_Behind_Master"]),
        last_io_errno: row.u64(&["Last_IO_Errno"]).and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        last_io_error: row.text(&["Last_IO_Error"]),
        last_sql_errno: row.u64(&["Last_SQL_Errno"]).and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        last_sql_error: row.text(&["Last_SQL_Error"]),
        retrieved_gtids: retrieved,
        executed_gtids: executed,
        transactions_behind: behind,
    }
}

/// Builds the member's facts. With no replica status rows the server is the source.
///
/// Member-level lag comes from the first channel (the default one on a single-source replica); every channel is
/// kept in the detail.
pub fn async_facts(rows: &[TextRow], vars: ServerVars, version: &str) -> DbFacts {
    let channels: Vec<ReplicaChannel> = rows.iter().map(|row| parse_channel(row, &vars)).collect();
    let mut problems = Vec::new();
    for ch in &channels {
        let label = if ch.name.is_empty() { String::new() } else { format!("channel '{}': ", ch.name) };
        if ch.last_io_errno != 0 || !ch.last_io_error.is_empty() {
            problems.push(format!("{label}IO thread error {}: {}", ch.last_io_errno, ch.last_io_error));
        }
        if ch.last_sql_errno != 0 || !ch.last_sql_error.is_empty() {
            problems.push(format!("{label}SQL thread error {}: {}", ch.last_sql_errno, ch.last_sql_error));
        }
        match ch.io_running {
            ThreadState::Running => {}
            ThreadState::Connecting => {
                problems.push(format!("{label}IO thread is connecting to {}", endpoint(ch)));
            }
            ThreadState::Stopped => problems.push(format!("{label}IO thread is not running")),
        }
        if !ch.sql_running {
            problems.push(format!("{label}SQL thread is not running"));
        }
    }

    let (role, state, lag_seconds, lag_amount, lag_note) = match channels.first() {
        None => (Role::Source, "source".to_string(), None, None, None),
        Some(ch) => {
            let trx_unknown = rows.first().and_then(|row| transactions_behind(row, &vars).err());
            let state = channel_state(ch);
            // A failed SQL thread can still read "running" for a moment while it stops (MariaDB), with a stale
            // seconds figure; while it is stopped or failed the figure is never reported as a lag.
            let sql_applying = ch.sql_running && ch.last_sql_errno == 0;
            let (seconds, note) = match (ch.seconds_behind, sql_applying, ch.io_running) {
                (_, false, _) => (
                    None,
                    Some("seconds behind source unknown: the SQL thread is not running (stopped or failed)".into()),
                ),
                (Some(s), true, _) => (Some(s as f64), None),
                (None, true, ThreadState::Running) => {
                    (None, Some("seconds behind source is NULL although both threads run".into()))
                }
                (None, true, _) => (None, Some("seconds behind source is NULL: the IO thread is not running".into())),
            };
            let amount = ch.transactions_behind.map(LagAmount::transactions);
            let trx_unknown = trx_unknown.unwrap_or_else(|| "the GTID sets could not be read".into());
            let note = match (note, amount) {
                (note, Some(_)) => note,
                (Some(n), None) => Some(format!("{n}; transactions behind unknown: {trx_unknown}")),
                (None, None) => Some(format!("transactions behind unknown: {trx_unknown}")),
            };
            (Role::Replica, state, seconds, amount, note)
        }
    };

    DbFacts {
        role,
        state,
        version: version.to_string(),
        lag_seconds,
        lag_amount,
        lag_note,
        problems,
        detail: FamilyDetail::Async(AsyncDetail {
            flavor: vars.flavor,
            read_only: vars.read_only,
            gtid_executed: vars.gtid_executed,
            channels,
        }),
    }
}

/// Transactions each replica still has to apply of those the source has executed, when the readings contain
/// exactly one source: `source.gtid_executed - replica.gtid_executed`.
///
/// A replica alone only knows what it has received; when its IO thread is down it believes it is caught up.
/// Comparing with the source's own GTIDs counts what it has not even fetched yet.
pub fn lag_behind_source(members: &[MemberFacts]) -> BTreeMap<String, u64> {
    let sources: Vec<&AsyncDetail> =
        members.iter().filter_map(async_of).filter(|(role, _)| *role == Role::Source).map(|(_, d)| d).collect();
    let [source] = sources.as_slice() else {
        return BTreeMap::new();
    };
    let mut lag = BTreeMap::new();
    for m in members {
        let Some((Role::Replica, replica)) = async_of(m) else { continue };
        if replica.flavor != source.flavor {
            continue;
        }
        let behind = match source.flavor {
            MysqlFlavor::Mariadb => MariadbGtidPos::parse(&source.gtid_executed)
                .and_then(|s| Ok(s.count_ahead_of(&MariadbGtidPos::parse(&replica.gtid_executed)?))),
            MysqlFlavor::Mysql => MysqlGtidSet::parse(&source.gtid_executed)
                .and_then(|s| Ok(s.count_missing_from(&MysqlGtidSet::parse(&replica.gtid_executed)?))),
        };
        if let Ok(behind) = behind {
            lag.insert(m.member.clone(), behind);
        }
    }
    lag
}

fn async_of(m: &MemberFacts) -> Option<(Role, &AsyncDetail)> {
    match m.facts() {
        Some(DbFacts { role, detail: FamilyDetail::Async(d), .. }) => Some((role.clone(), d)),
        _ => None,
    }
}

/// Raises each replica's transactions-behind to [`lag_behind_source`] when that is larger (the two readings are
/// taken a moment apart, so the larger figure is the safer one). A replica whose own count is unknown (no GTID
/// replication) stays unknown: its GTID positions are not kept up to date to compare with.
pub fn apply_source_lag(members: &mut [MemberFacts]) {
    let lag = lag_behind_source(members);
    for m in members.iter_mut() {
        if let Some(behind) = lag.get(&m.member).copied()
            && let Some(facts) = m.facts_mut()
            && let Some(local) = facts.lag_amount
        {
            facts.lag_amount = Some(LagAmount::transactions(local.value.max(behind)));
        }
    }
}

fn endpoint(ch: &ReplicaChannel) -> String {
    match ch.source_port {
        Some(port) => format!("{}:{port}", ch.source_host),
        None => ch.source_host.clone(),
    }
}

fn channel_state(ch: &ReplicaChannel) -> String {
    if ch.last_sql_errno != 0 {
        return "SQL thread failed".into();
    }
    if ch.last_io_errno != 0 && ch.io_running == ThreadState::Stopped {
        return "IO thread failed".into();
    }
    match (ch.io_running, ch.sql_running) {
        (ThreadState::Running, true) => "replicating".into(),
        (ThreadState::Connecting, _) => "connecting".into(),
        (ThreadState::Running, false) => "SQL thread stopped".into(),
        (ThreadState::Stopped, true) => "IO thread stopped".into(),
        (ThreadState::Stopped, false) => "stopped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mariadb_vars(slave_pos: &str) -> ServerVars {
        ServerVars {
            flavor: MysqlFlavor::Mariadb,
            read_only: true,
            gtid_executed: slave_pos.into(),
            gtid_slave_pos: Some(slave_pos.into()),
            gtid_mode: None,
        }
    }

    #[test]
    fn mariadb_replica_with_stopped_sql_thread_reports_transactions_and_unknown_seconds() {
        let row = TextRow::from_pairs([
            ("Connection_name", Some("")),
            ("Slave_IO_State", Some("Waiting for master to send event")),
            ("Master_Host", Some("127.0.0.1")),
            ("Master_Port", Some("3306")),
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("No")),
            ("Last_IO_Errno", Some("0")),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
            ("Seconds_Behind_Master", None),
            ("Gtid_IO_Pos", Some("0-1-25")),
            ("Retrieved_Gtid_Set", Some("")),
            ("Executed_Gtid_Set", Some("")),
        ]);
        let facts = async_facts(&[row], mariadb_vars("0-1-20"), "10.11.6-MariaDB");
        assert_eq!(facts.role, Role::Replica);
        assert_eq!(facts.state, "SQL thread stopped");
        assert_eq!(facts.lag_seconds, None);
        assert!(facts.lag_note.as_deref().unwrap().contains("SQL thread is not running"));
        assert_eq!(facts.lag_amount, Some(LagAmount::transactions(5)));
        assert_eq!(facts.problems, vec!["SQL thread is not running".to_string()]);
    }

    #[test]
    fn mysql8_replica_status_columns_are_read() {
        let row = TextRow::from_pairs([
            ("Replica_IO_State", Some("Waiting for source to send event")),
            ("Source_Host", Some("ps-cluster1-mysql-0.ps-cluster1-mysql.ns")),
            ("Source_Port", Some("3306")),
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("4")),
            ("Last_IO_Errno", Some("0")),
            ("Last_SQL_Errno", Some("0")),
            ("Retrieved_Gtid_Set", Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-120")),
            (
                "Executed_Gtid_Set",
                Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-117,\nb0d5e2a0-0000-11ee-8000-000000000001:1-3"),
            ),
            ("Channel_Name", Some("")),
        ]);
        let vars = ServerVars {
            flavor: MysqlFlavor::Mysql,
            read_only: true,
            gtid_executed: String::new(),
            gtid_slave_pos: None,
            gtid_mode: Some("ON".into()),
        };
        let facts = async_facts(&[row], vars, "8.0.36-28");
        assert_eq!(facts.state, "replicating");
        assert_eq!(facts.lag_seconds, Some(4.0));
        assert_eq!(facts.lag_note, None);
        assert_eq!(facts.lag_amount, Some(LagAmount::transactions(3)));
        let FamilyDetail::Async(detail) = facts.detail else { panic!("not async") };
        assert_eq!(detail.channels[0].source_host, "ps-cluster1-mysql-0.ps-cluster1-mysql.ns");
        assert_eq!(detail.channels[0].source_port, Some(3306));
    }

    #[test]
    fn broken_replica_reports_the_error_text() {
        let row = TextRow::from_pairs([
            ("Master_Host", Some("10.0.0.5")),
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("No")),
            ("Last_SQL_Errno", Some("1062")),
            ("Last_SQL_Error", Some("Could not execute Write_rows_v1 event on table t.t; Duplicate entry '7'")),
            ("Seconds_Behind_Master", None),
            ("Gtid_IO_Pos", Some("0-1-9")),
        ]);
        let facts = async_facts(&[row], mariadb_vars("0-1-8"), "10.11");
        assert_eq!(facts.state, "SQL thread failed");
        assert!(facts.problems[0].starts_with("SQL thread error 1062: Could not execute"), "{:?}", facts.problems);
    }

    #[test]
    fn a_server_without_channels_is_the_source() {
        let vars = ServerVars {
            flavor: MysqlFlavor::Mariadb,
            read_only: false,
            gtid_executed: "0-1-42".into(),
            gtid_slave_pos: Some(String::new()),
            gtid_mode: None,
        };
        let facts = async_facts(&[], vars, "10.11");
        assert_eq!(facts.role, Role::Source);
        assert_eq!(facts.lag_amount, None);
        assert!(facts.problems.is_empty());
    }

    fn member(name: &str, facts: DbFacts) -> MemberFacts {
        MemberFacts {
            member: name.into(),
            read_at: chrono::Utc::now(),
            outcome: crate::observe::facts::ProbeOutcome::Ok(facts),
        }
    }

    #[test]
    fn replicas_are_compared_with_the_single_source() {
        let source_vars = ServerVars {
            flavor: MysqlFlavor::Mariadb,
            read_only: false,
            gtid_executed: "0-1-50".into(),
            gtid_slave_pos: Some(String::new()),
            gtid_mode: None,
        };
        // The IO thread is down: locally nothing is pending, but the source is 8 ahead.
        let row = TextRow::from_pairs([
            ("Slave_IO_Running", Some("No")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Gtid_IO_Pos", Some("0-1-42")),
        ]);
        let mut members = vec![
            member("db-0", async_facts(&[], source_vars.clone(), "10.11")),
            member("db-1", async_facts(&[row], mariadb_vars("0-1-42"), "10.11")),
        ];
        assert_eq!(members[1].facts().unwrap().lag_amount, Some(LagAmount::transactions(0)));
        assert_eq!(lag_behind_source(&members).get("db-1"), Some(&8));
        apply_source_lag(&mut members);
        assert_eq!(members[1].facts().unwrap().lag_amount, Some(LagAmount::transactions(8)));
        assert_eq!(members[0].facts().unwrap().lag_amount, None);

        // Two sources (split brain, or two clusters mixed up): no comparison.
        members.push(member("db-2", async_facts(&[], source_vars, "10.11")));
        assert!(lag_behind_source(&members).is_empty());
    }

    #[test]
    fn connecting_io_thread_and_unreadable_gtids_are_explained() {
        let row = TextRow::from_pairs([
            ("Master_Host", Some("db-0")),
            ("Master_Port", Some("3306")),
            ("Slave_IO_Running", Some("Connecting")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Last_IO_Errno", Some("2003")),
            ("Last_IO_Error", Some("error connecting to master")),
            ("Gtid_IO_Pos", Some("garbage")),
        ]);
        let facts = async_facts(&[row], mariadb_vars("0-1-1"), "10.11");
        assert_eq!(facts.state, "connecting");
        assert_eq!(facts.lag_amount, None);
        let note = facts.lag_note.unwrap();
        assert!(note.contains("IO thread is not running") && note.contains("GTID sets could not be read"), "{note}");
        assert!(facts.problems.iter().any(|p| p == "IO thread is connecting to db-0:3306"));
    }

    /// Empty GTID positions would subtract to "0 behind" whatever the lag: without GTID replication the count is
    /// unknown and says why, and the comparison with the source does not make one up either.
    #[test]
    fn replication_without_gtids_has_no_transaction_count() {
        let row = TextRow::from_pairs([
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", Some("7")),
            ("Using_Gtid", Some("No")),
            ("Gtid_IO_Pos", Some("")),
        ]);
        let facts = async_facts(std::slice::from_ref(&row), mariadb_vars(""), "10.11");
        assert_eq!(facts.lag_seconds, Some(7.0));
        assert_eq!(facts.lag_amount, None);
        assert_eq!(
            facts.lag_note.as_deref(),
            Some("transactions behind unknown: the replica does not use GTIDs (Using_Gtid=No)")
        );

        let source_vars = ServerVars {
            flavor: MysqlFlavor::Mariadb,
            read_only: false,
            gtid_executed: "0-1-50".into(),
            gtid_slave_pos: Some(String::new()),
            gtid_mode: None,
        };
        let mut replica_vars = mariadb_vars("0-1-40");
        replica_vars.gtid_executed = "0-1-40".into();
        let mut members = vec![
            member("db-0", async_facts(&[], source_vars, "10.11")),
            member("db-1", async_facts(&[row], replica_vars, "10.11")),
        ];
        apply_source_lag(&mut members);
        assert_eq!(members[1].facts().unwrap().lag_amount, None);

        let mysql_row = TextRow::from_pairs([
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("3")),
            ("Retrieved_Gtid_Set", Some("")),
            ("Executed_Gtid_Set", Some("")),
        ]);
        let vars = ServerVars {
            flavor: MysqlFlavor::Mysql,
            read_only: true,
            gtid_executed: String::new(),
            gtid_slave_pos: None,
            gtid_mode: Some("OFF".into()),
        };
        let facts = async_facts(&[mysql_row], vars, "8.0.36");
        assert_eq!(facts.lag_amount, None);
        assert!(facts.lag_note.as_deref().unwrap().contains("gtid_mode=OFF"), "{:?}", facts.lag_note);
    }
}
