//! The per-member facts model: what one database server said about itself at one moment, or why it said nothing.
//!
//! Everything here is plain data (serde, stable field names) so the console, `dbdeck status -o json` and the engine
//! share one shape. Numbers are only ever what a server reported; when a number cannot be known the field is `None`
//! and `lag_note` says why.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One reading of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberFacts {
    /// The member's name (usually the pod name).
    pub member: String,
    /// When the reading finished.
    pub read_at: DateTime<Utc>,
    pub outcome: ProbeOutcome,
}

impl MemberFacts {
    pub fn facts(&self) -> Option<&DbFacts> {
        match &self.outcome {
            ProbeOutcome::Ok(facts) => Some(facts),
            _ => None,
        }
    }

    pub fn facts_mut(&mut self) -> Option<&mut DbFacts> {
        match &mut self.outcome {
            ProbeOutcome::Ok(facts) => Some(facts),
            _ => None,
        }
    }
}

/// Which step of a probe ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbePhase {
    Connect,
    Query,
}

/// Either the facts, or the reason there are none.
// One reading per member per refresh: the size of the Ok variant costs nothing worth a Box in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum ProbeOutcome {
    Ok(DbFacts),
    /// The endpoint could not be reached (refused, no route, name not resolved, port-forward failed).
    Unreachable {
        reason: String,
    },
    /// The server answered but refused the credentials.
    AuthFailed {
        reason: String,
    },
    /// The server did not answer within the configured time.
    Timeout {
        phase: ProbePhase,
        #[serde(with = "duration_ms", rename = "afterMs")]
        after: Duration,
    },
    /// Anything else: a query failed, a result had an unexpected shape.
    Error {
        reason: String,
    },
}

impl ProbeOutcome {
    /// One short sentence for a status line.
    pub fn summary(&self) -> String {
        match self {
            ProbeOutcome::Ok(facts) => facts.state.clone(),
            ProbeOutcome::Unreachable { reason } => format!("unreachable: {reason}"),
            ProbeOutcome::AuthFailed { reason } => format!("authentication failed: {reason}"),
            ProbeOutcome::Timeout { phase, after } => {
                let what = match phase {
                    ProbePhase::Connect => "connecting",
                    ProbePhase::Query => "querying",
                };
                format!("timed out {what} after {} ms", after.as_millis())
            }
            ProbeOutcome::Error { reason } => format!("error: {reason}"),
        }
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Role of a member in its replication topology, as the server itself reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Role {
    /// PostgreSQL server not in recovery.
    Primary,
    /// MySQL/MariaDB server with no replication channel configured (the async source).
    Source,
    /// MySQL/MariaDB server replicating from a source.
    Replica,
    /// PostgreSQL server in recovery (streaming standby).
    Standby,
    /// Member of a Galera (PXC) cluster; all members are writable peers.
    GaleraMember,
    /// Member of a MySQL group replication group.
    GroupMember { role: GroupRole },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupRole {
    Primary,
    Secondary,
    /// The member row had no role (e.g. while OFFLINE) or one we do not know.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LagUnit {
    Bytes,
    Transactions,
}

/// Lag expressed as an amount of data rather than time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LagAmount {
    pub value: u64,
    pub unit: LagUnit,
}

impl LagAmount {
    pub fn bytes(value: u64) -> Self {
        LagAmount { value, unit: LagUnit::Bytes }
    }

    pub fn transactions(value: u64) -> Self {
        LagAmount { value, unit: LagUnit::Transactions }
    }
}

/// What a reachable member said about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DbFacts {
    pub role: Role,
    /// The server's own word for its state (`Synced`, `streaming`, `ONLINE`, `replicating`, ...).
    pub state: String,
    /// Server version string.
    pub version: String,
    /// Seconds behind; `None` when not applicable (a primary) or unknown (see `lag_note`).
    pub lag_seconds: Option<f64>,
    /// Lag in bytes (PostgreSQL) or transactions (MySQL); `None` when not applicable or unknown.
    pub lag_amount: Option<LagAmount>,
    /// Why a lag figure is missing, when it is.
    pub lag_note: Option<String>,
    /// Conditions an operator should look at (a stopped thread, a non-primary component, ...).
    pub problems: Vec<String>,
    pub detail: FamilyDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "camelCase")]
pub enum FamilyDetail {
    Galera(GaleraDetail),
    Async(AsyncDetail),
    Group(GroupDetail),
    Postgres(PostgresDetail),
}

/// `SHOW GLOBAL STATUS LIKE 'wsrep_%'` of one Galera node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GaleraDetail {
    pub cluster_status: String,
    pub local_state: Option<u32>,
    pub local_state_comment: String,
    pub cluster_size: Option<u32>,
    pub ready: bool,
    pub connected: bool,
    /// Fraction of time replication was paused by flow control since the last `FLUSH STATUS` (or server start):
    /// on a long-running node an average over months.
    pub flow_control_paused: Option<f64>,
    /// `wsrep_flow_control_paused_ns`: nanoseconds paused by flow control since the last `FLUSH STATUS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_paused_ns: Option<u64>,
    /// Fraction of the time since this member's previous reading that replication was paused by flow control;
    /// `None` on a first reading or after the counter was reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_paused_recent: Option<f64>,
    pub recv_queue: Option<u64>,
    pub send_queue: Option<u64>,
    pub last_committed: Option<u64>,
    pub cluster_state_uuid: Option<String>,
}

/// Async replication state of one MySQL/MariaDB server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncDetail {
    /// `MariaDB` or `MySQL` flavour, decides the GTID format.
    pub flavor: MysqlFlavor,
    pub read_only: bool,
    /// GTIDs this server has executed (`@@gtid_executed`, or MariaDB `@@gtid_current_pos`).
    pub gtid_executed: String,
    /// Replication channels; empty on a source.
    pub channels: Vec<ReplicaChannel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MysqlFlavor {
    Mysql,
    Mariadb,
}

/// One row of `SHOW REPLICA STATUS` / `SHOW ALL SLAVES STATUS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaChannel {
    /// Channel (MySQL) or connection (MariaDB) name; empty for the default one.
    pub name: String,
    pub source_host: String,
    pub source_port: Option<u16>,
    pub io_running: ThreadState,
    pub sql_running: bool,
    /// `Seconds_Behind_Source`; `None` when the server reports NULL.
    pub seconds_behind: Option<u64>,
    pub last_io_errno: u32,
    pub last_io_error: String,
    pub last_sql_errno: u32,
    pub last_sql_error: String,
    /// Transactions received from the source (MySQL `Retrieved_Gtid_Set`, MariaDB `Gtid_IO_Pos`).
    pub retrieved_gtids: String,
    /// Transactions applied (MySQL `Executed_Gtid_Set`, MariaDB `@@gtid_slave_pos`).
    pub executed_gtids: String,
    /// Received but not yet applied; `None` when the GTID sets could not be read.
    pub transactions_behind: Option<u64>,
}

/// `Replica_IO_Running` is `Yes`, `No` or `Connecting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ThreadState {
    Running,
    Connecting,
    Stopped,
}

/// Group replication as one member sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDetail {
    /// `@@server_uuid` of the probed member.
    pub member_id: String,
    pub members: Vec<GroupMemberRow>,
    pub stats: Vec<GroupMemberStats>,
}

/// One row of `performance_schema.replication_group_members`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberRow {
    pub member_id: String,
    pub host: String,
    pub port: Option<u16>,
    /// `ONLINE`, `RECOVERING`, `OFFLINE`, `ERROR`, `UNREACHABLE`.
    pub state: String,
    pub role: GroupRole,
    pub version: Option<String>,
}

/// One row of `performance_schema.replication_group_member_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberStats {
    pub member_id: String,
    /// Transactions waiting for certification.
    pub certifier_queue: u64,
    /// Remote transactions certified and waiting to be applied.
    pub applier_queue: u64,
    pub transactions_checked: u64,
    pub conflicts_detected: u64,
}

/// PostgreSQL replication state of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostgresDetail {
    pub in_recovery: bool,
    pub timeline: Option<u32>,
    /// Primary: `pg_current_wal_lsn()`.
    pub current_lsn: Option<String>,
    /// Primary: one entry per connected standby.
    pub replication: Vec<PgReplicationRow>,
    /// Standby: `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<String>,
    /// Standby: `pg_last_wal_replay_lsn()`.
    pub replay_lsn: Option<String>,
    /// Standby: `pg_last_xact_replay_timestamp()`.
    pub last_replay_at: Option<DateTime<Utc>>,
    /// Standby: `pg_is_wal_replay_paused()`.
    pub replay_paused: bool,
    /// Standby: host of the upstream the WAL receiver is connected to, when it is.
    pub upstream_host: Option<String>,
}

/// One row of `pg_stat_replication` on a primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PgReplicationRow {
    pub application_name: String,
    pub client_addr: Option<String>,
    pub state: String,
    pub sync_state: String,
    pub write_lag_seconds: Option<f64>,
    pub flush_lag_seconds: Option<f64>,
    pub replay_lag_seconds: Option<f64>,
    /// `sent_lsn - replay_lsn` in bytes.
    pub replay_lag_bytes: Option<u64>,
}

/// Galera lag relative to the most advanced member: `max(last_committed) - own last_committed`, per member.
///
/// A node that commits later than its peers is behind by exactly that many write sets. Members without a
/// reading (unreachable, or not Galera) are left out; an empty result means no member had a seqno.
pub fn galera_relative_lag(members: &[MemberFacts]) -> BTreeMap<String, u64> {
    let seqnos: Vec<(&str, u64)> = members
        .iter()
        .filter_map(|m| match &m.facts()?.detail {
            FamilyDetail::Galera(g) => Some((m.member.as_str(), g.last_committed?)),
            _ => None,
        })
        .collect();
    let Some(max) = seqnos.iter().map(|(_, s)| *s).max() else {
        return BTreeMap::new();
    };
    seqnos.into_iter().map(|(name, s)| (name.to_string(), max - s)).collect()
}

/// Writes [`galera_relative_lag`] into each Galera member's `lag_amount` (in transactions).
pub fn apply_galera_relative_lag(members: &mut [MemberFacts]) {
    let lag = galera_relative_lag(members);
    for m in members.iter_mut() {
        if let Some(behind) = lag.get(&m.member).copied()
            && let Some(facts) = m.facts_mut()
        {
            facts.lag_amount = Some(LagAmount::transactions(behind));
        }
    }
}

/// A PostgreSQL LSN as text (`16/B374D848`) → its byte position.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.trim().split_once('/')?;
    Some((u64::from(u32::from_str_radix(high, 16).ok()?) << 32) | u64::from(u32::from_str_radix(low, 16).ok()?))
}

/// Bytes of WAL each standby has yet to replay of what the single primary among the readings has written:
/// `primary current LSN - standby replay LSN`, for standbys on the primary's timeline.
///
/// A standby alone only knows what it received; with its WAL receiver down it believes it is caught up.
pub fn pg_lag_behind_primary(members: &[MemberFacts]) -> BTreeMap<String, u64> {
    let primaries: Vec<&PostgresDetail> = members.iter().filter_map(pg).filter(|d| !d.in_recovery).collect();
    let [primary] = primaries.as_slice() else { return BTreeMap::new() };
    let Some(written) = primary.current_lsn.as_deref().and_then(parse_lsn) else { return BTreeMap::new() };
    members
        .iter()
        .filter_map(|m| {
            let d = pg(m).filter(|d| d.in_recovery && d.timeline == primary.timeline)?;
            let replayed = d.replay_lsn.as_deref().and_then(parse_lsn)?;
            Some((m.member.clone(), written.saturating_sub(replayed)))
        })
        .collect()
}

fn pg(m: &MemberFacts) -> Option<&PostgresDetail> {
    match m.facts() {
        Some(DbFacts { detail: FamilyDetail::Postgres(d), .. }) => Some(d),
        _ => None,
    }
}

/// Raises each standby's bytes-behind to [`pg_lag_behind_primary`] when that is larger (the primary is read a
/// moment apart from the standby, so the larger figure is the safer one), and flags a standby on another
/// timeline than the primary's: it is not following that primary (e.g. it missed a failover).
pub fn apply_standby_lag(members: &mut [MemberFacts]) {
    let lag = pg_lag_behind_primary(members);
    let primaries: Vec<Option<u32>> =
        members.iter().filter_map(pg).filter(|d| !d.in_recovery).map(|d| d.timeline).collect();
    let primary_timeline = match primaries.as_slice() {
        [Some(t)] => Some(*t),
        _ => None,
    };
    for m in members.iter_mut() {
        let behind = lag.get(&m.member).copied();
        let Some(facts) = m.facts_mut() else { continue };
        if let Some(behind) = behind {
            let local = facts.lag_amount.map_or(0, |a| a.value);
            facts.lag_amount = Some(LagAmount::bytes(local.max(behind)));
        }
        let standby_timeline = match &facts.detail {
            FamilyDetail::Postgres(d) if d.in_recovery => d.timeline,
            _ => None,
        };
        if let (Some(own), Some(primary)) = (standby_timeline, primary_timeline)
            && own != primary
        {
            facts.problems.push(format!("on timeline {own} while the primary is on timeline {primary}"));
        }
    }
}

/// The member that is the write target of its topology, if the readings agree on one:
/// PostgreSQL primary, async source, group primary. Galera has no single primary at this level.
pub fn primary_member(members: &[MemberFacts]) -> Option<&str> {
    let mut found = members.iter().filter(|m| {
        matches!(
            m.facts().map(|f| &f.role),
            Some(Role::Primary | Role::Source | Role::GroupMember { role: GroupRole::Primary })
        )
    });
    let first = found.next()?;
    // Two members claiming to be primary is a split brain; do not pick one.
    if found.next().is_some() {
        return None;
    }
    Some(first.member.as_str())
}

/// One point of a member's history, enough for a sparkline and a "last seen" hint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPoint {
    pub read_at: DateTime<Utc>,
    pub reachable: bool,
    pub lag_seconds: Option<f64>,
    pub lag_amount: Option<LagAmount>,
}

/// A short ring buffer of readings of one member; the oldest reading falls out when full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    capacity: usize,
    points: VecDeque<HistoryPoint>,
}

impl Default for History {
    fn default() -> Self {
        History::new(History::DEFAULT_CAPACITY)
    }
}

impl History {
    pub const DEFAULT_CAPACITY: usize = 60;

    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        History { capacity, points: VecDeque::with_capacity(capacity) }
    }

    pub fn push(&mut self, reading: &MemberFacts) {
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        let facts = reading.facts();
        self.points.push_back(HistoryPoint {
            read_at: reading.read_at,
            reachable: facts.is_some(),
            lag_seconds: facts.and_then(|f| f.lag_seconds),
            lag_amount: facts.and_then(|f| f.lag_amount),
        });
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Oldest first.
    pub fn points(&self) -> impl Iterator<Item = &HistoryPoint> {
        self.points.iter()
    }

    pub fn latest(&self) -> Option<&HistoryPoint> {
        self.points.back()
    }

    /// Lag in seconds, oldest first; unknown readings are `None` so a sparkline can leave a gap.
    pub fn lag_seconds_series(&self) -> Vec<Option<f64>> {
        self.points.iter().map(|p| p.lag_seconds).collect()
    }

    /// Lag amounts (bytes or transactions), oldest first.
    pub fn lag_amount_series(&self) -> Vec<Option<u64>> {
        self.points.iter().map(|p| p.lag_amount.map(|a| a.value)).collect()
    }
}

/// Histories of all members of a cluster, by member name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBook {
    capacity: usize,
    members: BTreeMap<String, History>,
}

impl HistoryBook {
    pub fn new(capacity: usize) -> Self {
        HistoryBook { capacity, members: BTreeMap::new() }
    }

    /// Records one refresh; members that are no longer in `readings` are forgotten (scaled down, deleted).
    pub fn record(&mut self, readings: &[MemberFacts]) {
        self.members.retain(|name, _| readings.iter().any(|r| &r.member == name));
        let capacity = if self.capacity == 0 { History::DEFAULT_CAPACITY } else { self.capacity };
        for reading in readings {
            self.members.entry(reading.member.clone()).or_insert_with(|| History::new(capacity)).push(reading);
        }
    }

    pub fn get(&self, member: &str) -> Option<&History> {
        self.members.get(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn galera(member: &str, seqno: Option<u64>) -> MemberFacts {
        MemberFacts {
            member: member.into(),
            read_at: Utc::now(),
            outcome: ProbeOutcome::Ok(DbFacts {
                role: Role::GaleraMember,
                state: "Synced".into(),
                version: "10.11".into(),
                lag_seconds: None,
                lag_amount: None,
                lag_note: None,
                problems: vec![],
                detail: FamilyDetail::Galera(GaleraDetail {
                    cluster_status: "Primary".into(),
                    local_state: Some(4),
                    local_state_comment: "Synced".into(),
                    cluster_size: Some(3),
                    ready: true,
                    connected: true,
                    flow_control_paused: Some(0.0),
                    flow_control_paused_ns: None,
                    flow_control_paused_recent: None,
                    recv_queue: Some(0),
                    send_queue: Some(0),
                    last_committed: seqno,
                    cluster_state_uuid: None,
                }),
            }),
        }
    }

    fn unreachable(member: &str) -> MemberFacts {
        MemberFacts {
            member: member.into(),
            read_at: Utc::now(),
            outcome: ProbeOutcome::Unreachable { reason: "connection refused".into() },
        }
    }

    #[test]
    fn galera_lag_is_relative_to_the_most_advanced_member() {
        let members =
            vec![galera("pxc-0", Some(120)), galera("pxc-1", Some(117)), unreachable("pxc-2"), galera("pxc-3", None)];
        let lag = galera_relative_lag(&members);
        assert_eq!(lag.len(), 2);
        assert_eq!(lag["pxc-0"], 0);
        assert_eq!(lag["pxc-1"], 3);
        assert!(!lag.contains_key("pxc-2"));

        let mut members = members;
        apply_galera_relative_lag(&mut members);
        assert_eq!(members[1].facts().unwrap().lag_amount, Some(LagAmount::transactions(3)));
        assert_eq!(members[0].facts().unwrap().lag_amount, Some(LagAmount::transactions(0)));
        assert_eq!(members[3].facts().unwrap().lag_amount, None);
    }

    #[test]
    fn galera_lag_of_no_readings_is_empty() {
        assert!(galera_relative_lag(&[unreachable("a"), unreachable("b")]).is_empty());
    }

    #[test]
    fn history_keeps_only_the_last_readings() {
        let mut history = History::new(3);
        for i in 0..5u64 {
            let mut reading = galera("pxc-0", Some(i));
            reading.facts_mut().unwrap().lag_seconds = Some(i as f64);
            history.push(&reading);
        }
        history.push(&unreachable("pxc-0"));
        assert_eq!(history.len(), 3);
        assert_eq!(history.lag_seconds_series(), vec![Some(3.0), Some(4.0), None]);
        assert!(!history.latest().unwrap().reachable);
        assert_eq!(History::new(0).capacity(), 1);
        assert_eq!(History::default().capacity(), 60);
    }

    #[test]
    fn history_book_follows_the_members() {
        let mut book = HistoryBook::new(5);
        book.record(&[galera("pxc-0", Some(1)), galera("pxc-1", Some(1))]);
        book.record(&[galera("pxc-0", Some(2)), unreachable("pxc-1")]);
        assert_eq!(book.get("pxc-0").unwrap().len(), 2);
        assert!(!book.get("pxc-1").unwrap().latest().unwrap().reachable);
        book.record(&[galera("pxc-0", Some(3))]);
        assert!(book.get("pxc-1").is_none());
        assert_eq!(book.get("pxc-0").unwrap().capacity(), 5);
    }

    #[test]
    fn primary_is_only_reported_when_unambiguous() {
        let mut a = galera("a", Some(1));
        a.facts_mut().unwrap().role = Role::Source;
        let mut b = galera("b", Some(1));
        b.facts_mut().unwrap().role = Role::Replica;
        assert_eq!(primary_member(&[a.clone(), b.clone()]), Some("a"));
        b.facts_mut().unwrap().role = Role::GroupMember { role: GroupRole::Primary };
        assert_eq!(primary_member(&[a, b]), None);
    }

    /// The JSON shape is what `dbdeck status -o json` prints and scripts read: changes must be deliberate.
    #[test]
    fn json_shape_is_stable() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let standby = MemberFacts {
            member: "cluster1-instance1-abcd-0".into(),
            read_at: at,
            outcome: ProbeOutcome::Ok(DbFacts {
                role: Role::Standby,
                state: "replay paused".into(),
                version: "15.18".into(),
                lag_seconds: Some(12.5),
                lag_amount: Some(LagAmount::bytes(40960)),
                lag_note: None,
                problems: vec!["WAL replay is paused".into()],
                detail: FamilyDetail::Postgres(PostgresDetail {
                    in_recovery: true,
                    timeline: Some(1),
                    current_lsn: None,
                    replication: vec![],
                    receive_lsn: Some("0/3000148".into()),
                    replay_lsn: Some("0/2FF6148".into()),
                    last_replay_at: Some(at),
                    replay_paused: true,
                    upstream_host: Some("cluster1-primary".into()),
                }),
            }),
        };
        let replica = MemberFacts {
            member: "ps-cluster1-mysql-1".into(),
            read_at: at,
            outcome: ProbeOutcome::Ok(DbFacts {
                role: Role::Replica,
                state: "SQL thread stopped".into(),
                version: "8.0.36-28".into(),
                lag_seconds: None,
                lag_amount: Some(LagAmount::transactions(5)),
                lag_note: Some("seconds behind source is NULL: the SQL thread is not running".into()),
                problems: vec!["SQL thread is not running".into()],
                detail: FamilyDetail::Async(AsyncDetail {
                    flavor: MysqlFlavor::Mysql,
                    read_only: true,
                    gtid_executed: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10".into(),
                    channels: vec![ReplicaChannel {
                        name: String::new(),
                        source_host: "ps-cluster1-mysql-0.ps-cluster1-mysql".into(),
                        source_port: Some(3306),
                        io_running: ThreadState::Running,
                        sql_running: false,
                        seconds_behind: None,
                        last_io_errno: 0,
                        last_io_error: String::new(),
                        last_sql_errno: 0,
                        last_sql_error: String::new(),
                        retrieved_gtids: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-15".into(),
                        executed_gtids: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10".into(),
                        transactions_behind: Some(5),
                    }],
                }),
            }),
        };
        let gone = MemberFacts {
            member: "cluster1-pxc-2".into(),
            read_at: at,
            outcome: ProbeOutcome::Unreachable { reason: "connection refused by 10.0.0.7:3306".into() },
        };
        let all = vec![standby, replica, gone];
        let back: Vec<MemberFacts> = serde_json::from_value(serde_json::to_value(&all).unwrap()).unwrap();
        assert_eq!(back, all);
        insta::assert_json_snapshot!("member_facts", all);
    }

    #[test]
    fn outcome_serialises_with_stable_names() {
        let timeout = ProbeOutcome::Timeout { phase: ProbePhase::Connect, after: Duration::from_millis(3000) };
        let json = serde_json::to_value(&timeout).unwrap();
        assert_eq!(json, serde_json::json!({"result": "timeout", "phase": "connect", "afterMs": 3000}));
        let back: ProbeOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, timeout);
        assert_eq!(timeout.summary(), "timed out connecting after 3000 ms");

        let facts = galera("pxc-0", Some(5));
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["outcome"]["result"], "ok");
        assert_eq!(json["outcome"]["role"]["kind"], "galeraMember");
        assert_eq!(json["outcome"]["detail"]["family"], "galera");
        assert_eq!(json["outcome"]["detail"]["lastCommitted"], 5);
    }

    fn pg_member(member: &str, in_recovery: bool, timeline: u32, lsn: &str, local_bytes: Option<u64>) -> MemberFacts {
        MemberFacts {
            member: member.into(),
            read_at: Utc::now(),
            outcome: ProbeOutcome::Ok(DbFacts {
                role: if in_recovery { Role::Standby } else { Role::Primary },
                state: if in_recovery { "not streaming".into() } else { "primary".into() },
                version: "15.8".into(),
                lag_seconds: None,
                lag_amount: local_bytes.map(LagAmount::bytes),
                lag_note: None,
                problems: vec![],
                detail: FamilyDetail::Postgres(PostgresDetail {
                    in_recovery,
                    timeline: Some(timeline),
                    current_lsn: (!in_recovery).then(|| lsn.to_string()),
                    replication: vec![],
                    receive_lsn: in_recovery.then(|| lsn.to_string()),
                    replay_lsn: in_recovery.then(|| lsn.to_string()),
                    last_replay_at: None,
                    replay_paused: false,
                    upstream_host: None,
                }),
            }),
        }
    }

    #[test]
    fn lsns_parse_to_byte_positions() {
        assert_eq!(parse_lsn("0/3000148"), Some(0x300_0148));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("garbage"), None);
        assert_eq!(parse_lsn("1/zz"), None);
    }

    /// A standby whose WAL receiver is down has replayed all it received: against the primary it is behind.
    #[test]
    fn standbys_are_compared_with_the_single_primary() {
        let mut members = vec![
            pg_member("pg-0", false, 2, "0/5000000", None),
            pg_member("pg-1", true, 2, "0/4FFF000", Some(0)),
            // Still on the old timeline (a former primary not rejoined): LSNs are not comparable.
            pg_member("pg-2", true, 1, "0/1000000", Some(0)),
        ];
        let lag = pg_lag_behind_primary(&members);
        assert_eq!(lag.get("pg-1"), Some(&0x1000));
        assert!(!lag.contains_key("pg-2") && !lag.contains_key("pg-0"));
        apply_standby_lag(&mut members);
        assert_eq!(members[1].facts().unwrap().lag_amount, Some(LagAmount::bytes(0x1000)));
        assert_eq!(members[2].facts().unwrap().lag_amount, Some(LagAmount::bytes(0)));
        assert_eq!(members[2].facts().unwrap().problems, ["on timeline 1 while the primary is on timeline 2"]);
        assert!(members[1].facts().unwrap().problems.is_empty());
        assert_eq!(members[0].facts().unwrap().lag_amount, None);

        // Two primaries (split brain): no comparison.
        members.push(pg_member("pg-3", false, 2, "0/6000000", None));
        assert!(pg_lag_behind_primary(&members).is_empty());
    }
}
