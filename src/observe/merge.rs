//! Database readings into the cluster view: the role, lag and history of each member as its server reported
//! them. Pure: the same view, readings and histories always give the same result.
//!
//! A reading only ever adds what a server said. A member whose reading failed keeps the role its labels gave it
//! and shows its lag as unknown with the reading's reason; a member without a reading is left as built.

use super::facts::{
    self, DbFacts, FamilyDetail, GroupRole, HistoryBook, LagAmount, LagUnit, MemberFacts, ProbeOutcome, ThreadState,
};
use super::view::{Behind, ClusterView, LagView, MemberView, Reason, ReasonKind, Role};

/// The console's role for a role a server reported about itself.
pub fn view_role(role: &facts::Role) -> Role {
    match role {
        facts::Role::Primary | facts::Role::GroupMember { role: GroupRole::Primary } => Role::Primary,
        facts::Role::Source => Role::Source,
        // A group member without a known role follows the group like a secondary; it is never a writer.
        facts::Role::Replica | facts::Role::GroupMember { role: GroupRole::Secondary | GroupRole::Unknown } => {
            Role::Replica
        }
        facts::Role::Standby => Role::Standby,
        facts::Role::GaleraMember => Role::GaleraMember,
    }
}

fn behind(amount: LagAmount) -> Behind {
    match amount.unit {
        LagUnit::Bytes => Behind::Bytes(amount.value),
        LagUnit::Transactions => Behind::Transactions(amount.value),
    }
}

/// Said when Galera lag is shown: it is counted against the other members, not read as time.
const GALERA_NOTE: &str = "write sets behind the most advanced member";

/// Starts every lag reason of a member whose replication threads are down.
pub const REPLICATION_STOPPED: &str = "replication stopped";

/// Why a member's replication is broken, as its server reports it: which thread of which channel is stopped or
/// failing, with the server's last error. `None` while both threads run (or the member is not a replica). A
/// MySQL group member that is not ONLINE or RECOVERING is broken as well.
pub fn replication_error(f: &DbFacts) -> Option<String> {
    match &f.detail {
        FamilyDetail::Async(d) => {
            let mut parts = Vec::new();
            for ch in &d.channels {
                let label = if ch.name.is_empty() { String::new() } else { format!("channel '{}' ", ch.name) };
                if !ch.sql_running || ch.last_sql_errno != 0 {
                    parts.push(match ch.last_sql_error.trim() {
                        "" if ch.last_sql_errno != 0 => format!("{label}SQL thread: error {}", ch.last_sql_errno),
                        "" => format!("{label}SQL thread: stopped (no error reported: STOP SLAVE, or never started)"),
                        e => format!("{label}SQL thread: {e}"),
                    });
                }
                let io_error = ch.last_io_error.trim();
                match ch.io_running {
                    ThreadState::Stopped => parts.push(match io_error {
                        "" => format!("{label}IO thread: stopped (no error reported)"),
                        e => format!("{label}IO thread: {e}"),
                    }),
                    // Connecting after an error is a retry loop (wrong password, source gone), not a start-up.
                    ThreadState::Connecting if ch.last_io_errno != 0 || !io_error.is_empty() => {
                        parts.push(format!("{label}IO thread: retrying: {io_error}"))
                    }
                    _ => {}
                }
            }
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        FamilyDetail::Group(g) => {
            let own = g.members.iter().find(|m| m.member_id == g.member_id)?;
            (!matches!(own.state.as_str(), "ONLINE" | "RECOVERING"))
                .then(|| format!("group replication: this member is {}", own.state))
        }
        FamilyDetail::Galera(_) | FamilyDetail::Postgres(_) => None,
    }
}

/// The lag cell of one reading.
pub fn lag_of(reading: &MemberFacts) -> LagView {
    let f = match &reading.outcome {
        ProbeOutcome::Ok(f) => f,
        failed => return LagView::Unknown { reason: failed.summary() },
    };
    // A replica whose threads are down has no lag to speak of: it is not following at all.
    if let Some(broken) = replication_error(f).filter(|_| f.role == facts::Role::Replica) {
        let behind = match f.lag_amount {
            Some(a) if a.unit == LagUnit::Transactions => format!(" ({} transactions behind)", a.value),
            _ => String::new(),
        };
        return LagView::Unknown { reason: format!("{REPLICATION_STOPPED}: {broken}{behind}") };
    }
    let read_at = reading.read_at;
    match &f.role {
        facts::Role::Primary | facts::Role::Source | facts::Role::GroupMember { role: GroupRole::Primary } => {
            LagView::NotApplicable
        }
        facts::Role::GaleraMember => match f.lag_amount {
            Some(a) => LagView::Amount { behind: behind(a), note: Some(GALERA_NOTE.into()), read_at },
            None => LagView::NotApplicable,
        },
        _ => match (f.lag_seconds, f.lag_amount) {
            (Some(seconds), amount) => LagView::Known { seconds, behind: amount.map(behind), read_at },
            (None, Some(a)) => LagView::Amount { behind: behind(a), note: f.lag_note.clone(), read_at },
            (None, None) => LagView::Unknown {
                reason: f.lag_note.clone().unwrap_or_else(|| "the server reported no lag figure".into()),
            },
        },
    }
}

/// The sparkline samples for a member: seconds when the current lag is in seconds, the amount when it is an
/// amount; readings without that figure are left out rather than drawn as zero.
fn history_samples(book: &HistoryBook, member: &str, lag: &LagView) -> Vec<u64> {
    let Some(history) = book.get(member) else { return Vec::new() };
    match lag {
        LagView::Known { .. } => {
            history.lag_seconds_series().into_iter().flatten().map(|s| s.max(0.0).round() as u64).collect()
        }
        LagView::Amount { .. } => history.lag_amount_series().into_iter().flatten().collect(),
        LagView::NotApplicable | LagView::Unknown { .. } => Vec::new(),
    }
}

fn merge_member(m: &mut MemberView, reading: &MemberFacts, book: Option<&HistoryBook>) {
    if let Some(f) = reading.facts() {
        m.role = Some(view_role(&f.role));
    }
    m.replication_error = reading.facts().and_then(replication_error);
    m.lag = lag_of(reading);
    m.lag_history = book.map(|b| history_samples(b, &m.pod, &m.lag)).unwrap_or_default();
}

/// Writes `readings` (one per database member, by pod name) into the view's members and keeps them in
/// `db_facts`, in member order. Readings of pods the view does not have are dropped. A member whose replication
/// is broken is named in why-not-ready.
pub fn apply(view: &mut ClusterView, readings: &[MemberFacts], book: Option<&HistoryBook>) {
    let mut kept = Vec::new();
    for i in 0..view.members.len() {
        if !view.is_database_member(&view.members[i]) {
            continue;
        }
        let Some(reading) = readings.iter().find(|r| r.member == view.members[i].pod) else { continue };
        merge_member(&mut view.members[i], reading, book);
        kept.push(reading.clone());
    }
    view.db_facts = kept;
    view.why_not_ready.retain(|r| r.kind != ReasonKind::Replication);
    let broken: Vec<Reason> = view
        .members
        .iter()
        .filter_map(|m| {
            let why = m.replication_error.as_ref()?;
            Some(Reason {
                kind: ReasonKind::Replication,
                source: format!("pod/{}", m.pod),
                message: format!("{REPLICATION_STOPPED}: {why}"),
            })
        })
        .collect();
    // First: a broken replica is what the reader has to act on before anything else.
    view.why_not_ready.splice(0..0, broken);
}

/// What to say about a member beside its lag cell: why the lag is unknown or only an amount, the problems its
/// server reported, and why a reading failed. A problem already said by an earlier note is not repeated.
pub fn member_notes(lag: &LagView, reading: Option<&MemberFacts>) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    let mut add = |note: &str| {
        let lower = note.to_lowercase();
        if !notes.iter().any(|n| n.to_lowercase().contains(&lower)) {
            notes.push(note.to_string());
        }
    };
    match lag {
        LagView::Unknown { reason } => add(reason),
        LagView::Amount { note: Some(n), .. } => add(n),
        _ => {}
    }
    match reading.map(|r| &r.outcome) {
        Some(ProbeOutcome::Ok(f)) => {
            // Galera's queues say where write sets wait (to be applied here, or to leave) before lag shows.
            if let facts::FamilyDetail::Galera(g) = &f.detail {
                let (recv, send) = (g.recv_queue.unwrap_or(0), g.send_queue.unwrap_or(0));
                if recv > 0 || send > 0 {
                    add(&format!("write sets queued: {recv} to apply, {send} to send"));
                }
            }
            // The stopped-replication reason already names each thread and its error.
            let said_threads = matches!(lag, LagView::Unknown { reason } if reason.starts_with(REPLICATION_STOPPED));
            f.problems
                .iter()
                .filter(|p| !(said_threads && (p.contains("SQL thread") || p.contains("IO thread"))))
                .for_each(|p| add(p))
        }
        Some(failed) => add(&failed.summary()),
        None => {}
    }
    notes
}

/// Marks every database member's lag as unknown for `reason` (probing switched off, not yet run).
pub fn mark_unprobed(view: &mut ClusterView, reason: &str) {
    for i in 0..view.members.len() {
        let is_db = view.is_database_member(&view.members[i]);
        let m = &mut view.members[i];
        if is_db && !matches!(m.lag, LagView::NotApplicable) {
            m.lag = LagView::Unknown { reason: reason.to_string() };
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::observe::facts::{AsyncDetail, DbFacts, FamilyDetail, GaleraDetail, MysqlFlavor};
    use crate::observe::view::{ClusterKind, PsClusterType};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn member(pod: &str, component: &str, role: Option<Role>) -> MemberView {
        MemberView {
            pod: pod.into(),
            component: component.into(),
            role,
            node: None,
            zone: None,
            ready: true,
            phase: "Running".into(),
            restarts: 0,
            started: None,
            lag: LagView::Unknown { reason: "not probed yet".into() },
            lag_history: vec![],
            replication_error: None,
        }
    }

    fn async_reading(pod: &str, role: facts::Role, secs: Option<f64>, trx: Option<u64>, t: i64) -> MemberFacts {
        MemberFacts {
            member: pod.into(),
            read_at: at(t),
            outcome: ProbeOutcome::Ok(DbFacts {
                role,
                state: "replicating".into(),
                version: "10.11.6-MariaDB".into(),
                lag_seconds: secs,
                lag_amount: trx.map(LagAmount::transactions),
                lag_note: secs.is_none().then(|| "the SQL thread is not running".into()),
                problems: vec![],
                detail: FamilyDetail::Async(AsyncDetail {
                    flavor: MysqlFlavor::Mariadb,
                    read_only: false,
                    gtid_executed: "0-1-5".into(),
                    channels: vec![],
                }),
            }),
        }
    }

    fn ps_view() -> ClusterView {
        let mut v = ClusterView::new(ClusterKind::Ps { cluster_type: PsClusterType::Async }, "db", "ps1");
        v.members = vec![
            member("ps1-mysql-0", "mysql", None),
            member("ps1-mysql-1", "mysql", None),
            member("ps1-mysql-2", "mysql", Some(Role::Replica)),
            member("ps1-haproxy-0", "haproxy", Some(Role::Proxy)),
        ];
        v.members[3].lag = LagView::NotApplicable;
        v
    }

    #[test]
    fn roles_and_lag_come_from_the_servers() {
        let mut v = ps_view();
        let gone = MemberFacts {
            member: "ps1-mysql-2".into(),
            read_at: at(0),
            outcome: ProbeOutcome::Unreachable { reason: "port-forward to pod db/ps1-mysql-2 failed: refused".into() },
        };
        let readings = vec![
            async_reading("ps1-mysql-0", facts::Role::Source, None, None, 0),
            async_reading("ps1-mysql-1", facts::Role::Replica, Some(7.0), Some(12), 0),
            gone,
            async_reading("stranger-0", facts::Role::Source, None, None, 0),
        ];
        apply(&mut v, &readings, None);
        assert_eq!(v.members[0].role, Some(Role::Source));
        assert_eq!(v.members[0].lag, LagView::NotApplicable);
        assert_eq!(v.members[1].role, Some(Role::Replica));
        assert_eq!(
            v.members[1].lag,
            LagView::Known { seconds: 7.0, behind: Some(Behind::Transactions(12)), read_at: at(0) }
        );
        // A failed reading keeps the labelled role and explains the unknown lag.
        assert_eq!(v.members[2].role, Some(Role::Replica));
        assert_eq!(
            v.members[2].lag,
            LagView::Unknown { reason: "unreachable: port-forward to pod db/ps1-mysql-2 failed: refused".into() }
        );
        assert_eq!(v.members[3].lag, LagView::NotApplicable, "proxies are not probed");
        let kept: Vec<&str> = v.db_facts.iter().map(|f| f.member.as_str()).collect();
        assert_eq!(kept, ["ps1-mysql-0", "ps1-mysql-1", "ps1-mysql-2"]);
    }

    #[test]
    fn stopped_sql_thread_shows_the_amount_with_its_note() {
        let r = async_reading("ps1-mysql-1", facts::Role::Replica, None, Some(5), 3);
        assert_eq!(
            lag_of(&r),
            LagView::Amount {
                behind: Behind::Transactions(5),
                note: Some("the SQL thread is not running".into()),
                read_at: at(3)
            }
        );
        let mut nothing = r.clone();
        nothing.facts_mut().unwrap().lag_amount = None;
        assert_eq!(lag_of(&nothing), LagView::Unknown { reason: "the SQL thread is not running".into() });
    }

    #[test]
    fn galera_lag_is_an_amount_and_group_roles_map() {
        let g = MemberFacts {
            member: "c-pxc-1".into(),
            read_at: at(0),
            outcome: ProbeOutcome::Ok(DbFacts {
                role: facts::Role::GaleraMember,
                state: "Synced".into(),
                version: "8.0".into(),
                lag_seconds: None,
                lag_amount: Some(LagAmount::transactions(2)),
                lag_note: None,
                problems: vec![],
                detail: FamilyDetail::Galera(GaleraDetail {
                    cluster_status: "Primary".into(),
                    local_state: Some(4),
                    local_state_comment: "Synced".into(),
                    cluster_size: Some(3),
                    ready: true,
                    connected: true,
                    flow_control_paused: None,
                    flow_control_paused_ns: None,
                    flow_control_paused_recent: None,
                    recv_queue: None,
                    send_queue: None,
                    last_committed: Some(10),
                    cluster_state_uuid: None,
                }),
            }),
        };
        assert!(matches!(lag_of(&g), LagView::Amount { behind: Behind::Transactions(2), .. }));
        assert_eq!(member_notes(&lag_of(&g), Some(&g)), [GALERA_NOTE]);
        let mut queued = g.clone();
        if let Some(facts::DbFacts { detail: FamilyDetail::Galera(d), .. }) = queued.facts_mut() {
            d.recv_queue = Some(12);
        }
        assert_eq!(
            member_notes(&lag_of(&queued), Some(&queued)),
            [GALERA_NOTE, "write sets queued: 12 to apply, 0 to send"]
        );
        assert_eq!(view_role(&facts::Role::GroupMember { role: GroupRole::Primary }), Role::Primary);
        assert_eq!(view_role(&facts::Role::GroupMember { role: GroupRole::Secondary }), Role::Replica);
    }

    #[test]
    fn sparkline_follows_the_unit_of_the_current_lag_and_skips_gaps() {
        let mut book = HistoryBook::new(10);
        book.record(&[async_reading("ps1-mysql-1", facts::Role::Replica, Some(0.0), Some(0), 0)]);
        book.record(&[MemberFacts {
            member: "ps1-mysql-1".into(),
            read_at: at(5),
            outcome: ProbeOutcome::Timeout {
                phase: facts::ProbePhase::Query,
                after: std::time::Duration::from_secs(1),
            },
        }]);
        book.record(&[async_reading("ps1-mysql-1", facts::Role::Replica, Some(2.6), Some(4), 10)]);
        let mut v = ps_view();
        let latest = async_reading("ps1-mysql-1", facts::Role::Replica, Some(2.6), Some(4), 10);
        apply(&mut v, std::slice::from_ref(&latest), Some(&book));
        assert_eq!(v.members[1].lag_history, [0, 3]);

        book.record(&[async_reading("ps1-mysql-1", facts::Role::Replica, None, Some(9), 15)]);
        let stopped = async_reading("ps1-mysql-1", facts::Role::Replica, None, Some(9), 15);
        apply(&mut v, &[stopped], Some(&book));
        assert_eq!(v.members[1].lag_history, [0, 4, 9]);
    }

    #[test]
    fn notes_do_not_repeat_themselves() {
        let mut r = async_reading("ps1-mysql-1", facts::Role::Replica, None, Some(5), 0);
        r.facts_mut().unwrap().problems = vec!["SQL thread is not running".into(), "read_only is OFF".into()];
        let notes = member_notes(&lag_of(&r), Some(&r));
        assert_eq!(notes, ["the SQL thread is not running", "read_only is OFF"]);
        let gone = MemberFacts {
            member: "x".into(),
            read_at: at(0),
            outcome: ProbeOutcome::AuthFailed { reason: "Access denied".into() },
        };
        assert_eq!(member_notes(&lag_of(&gone), Some(&gone)), ["authentication failed: Access denied"]);
        assert!(member_notes(&LagView::NotApplicable, None).is_empty());
    }

    #[test]
    fn unprobed_members_say_why() {
        let mut v = ps_view();
        mark_unprobed(&mut v, "not probed (--no-probe)");
        assert_eq!(v.members[0].lag, LagView::Unknown { reason: "not probed (--no-probe)".into() });
        assert_eq!(v.members[3].lag, LagView::NotApplicable);
    }

    fn channel(
        io: facts::ThreadState,
        sql: bool,
        io_error: &str,
        sql_errno: u32,
        sql_error: &str,
    ) -> facts::ReplicaChannel {
        facts::ReplicaChannel {
            name: String::new(),
            source_host: "ps1-mysql-0.ps1-mysql.db".into(),
            source_port: Some(3306),
            io_running: io,
            sql_running: sql,
            seconds_behind: None,
            last_io_errno: u32::from(!io_error.is_empty()) * 2003,
            last_io_error: io_error.into(),
            last_sql_errno: sql_errno,
            last_sql_error: sql_error.into(),
            retrieved_gtids: String::new(),
            executed_gtids: String::new(),
            transactions_behind: Some(4),
        }
    }

    fn with_channel(ch: facts::ReplicaChannel) -> MemberFacts {
        let mut r = async_reading("ps1-mysql-1", facts::Role::Replica, None, Some(4), 0);
        if let Some(DbFacts { detail: FamilyDetail::Async(d), .. }) = r.facts_mut() {
            d.channels = vec![ch];
        }
        r
    }

    /// A replica whose SQL or IO thread is down is broken: its lag is unknown with the server's error, it is
    /// marked, and why-not-ready names it first.
    #[test]
    fn stopped_or_failed_threads_mark_the_member_broken() {
        use facts::ThreadState::{Connecting, Running, Stopped};
        let dup = "Could not execute Write_rows_v1 event on table app.t; Duplicate entry '7' for key 'PRIMARY'";
        let failed = with_channel(channel(Running, false, "", 1062, dup));
        assert_eq!(
            lag_of(&failed),
            LagView::Unknown { reason: format!("replication stopped: SQL thread: {dup} (4 transactions behind)") }
        );
        let mut v = ps_view();
        v.why_not_ready.push(Reason { kind: ReasonKind::Component, source: "mysql".into(), message: "x".into() });
        apply(&mut v, std::slice::from_ref(&failed), None);
        assert_eq!(v.members[1].replication_error.as_deref(), Some(format!("SQL thread: {dup}").as_str()));
        assert_eq!(v.why_not_ready[0].kind, ReasonKind::Replication);
        assert_eq!(v.why_not_ready[0].source, "pod/ps1-mysql-1");
        assert_eq!(v.why_not_ready[0].message, format!("replication stopped: SQL thread: {dup}"));
        // Applying again (the next round) does not say it twice.
        apply(&mut v, std::slice::from_ref(&failed), None);
        assert_eq!(v.why_not_ready.iter().filter(|r| r.kind == ReasonKind::Replication).count(), 1);
        // The threads' problems are in the reason already: the notes do not repeat them.
        let mut noisy = failed.clone();
        noisy.facts_mut().unwrap().problems = vec![
            format!("SQL thread error 1062: {dup}"),
            "SQL thread is not running".into(),
            "read_only is OFF".into(),
        ];
        let notes = member_notes(&lag_of(&noisy), Some(&noisy));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[1], "read_only is OFF");

        let stopped = with_channel(channel(Running, false, "", 0, ""));
        assert!(
            replication_error(stopped.facts().unwrap()).unwrap().starts_with("SQL thread: stopped"),
            "STOP SLAVE SQL_THREAD leaves no error"
        );
        let io = with_channel(channel(Stopped, true, "error connecting to master: Access denied", 0, ""));
        assert_eq!(
            replication_error(io.facts().unwrap()).as_deref(),
            Some("IO thread: error connecting to master: Access denied")
        );
        let retrying = with_channel(channel(Connecting, true, "Can't connect to server on 'db-0' (111)", 0, ""));
        assert_eq!(
            replication_error(retrying.facts().unwrap()).as_deref(),
            Some("IO thread: retrying: Can't connect to server on 'db-0' (111)")
        );
        // Starting up (connecting, no error yet) and healthy replicas are not broken.
        let starting = with_channel(channel(Connecting, true, "", 0, ""));
        assert_eq!(replication_error(starting.facts().unwrap()), None);
        let healthy = with_channel(channel(Running, true, "", 0, ""));
        assert_eq!(replication_error(healthy.facts().unwrap()), None);
        let mut v = ps_view();
        apply(&mut v, &[healthy], None);
        assert_eq!(v.members[1].replication_error, None);
        assert!(v.why_not_ready.is_empty());
    }
}
