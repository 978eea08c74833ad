//! The one cluster model the console renders and `dbdeck status -o json` prints.
//!
//! Stable and serde-serialisable: field names are camelCase and enums are tagged, so scripts can rely on
//! them. Values that are not known are explicit (`LagView::Unknown { reason }`, `None`), never made up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::facts::MemberFacts;

/// Which operator family a cluster belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "camelCase")]
pub enum ClusterKind {
    /// PerconaXtraDBCluster (Galera).
    Pxc,
    /// PerconaServerMySQL with its replication type.
    Ps {
        #[serde(rename = "clusterType")]
        cluster_type: PsClusterType,
    },
    /// PerconaPGCluster (Patroni).
    Pg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsClusterType {
    Async,
    GroupReplication,
}

impl ClusterKind {
    /// Short label used in tables and command aliases.
    pub fn short(&self) -> &'static str {
        match self {
            ClusterKind::Pxc => "pxc",
            ClusterKind::Ps { .. } => "ps",
            ClusterKind::Pg => "pg",
        }
    }

    /// Label with the replication flavour, for the list's KIND column.
    pub fn label(&self) -> &'static str {
        match self {
            ClusterKind::Pxc => "pxc",
            ClusterKind::Ps { cluster_type: PsClusterType::Async } => "ps/async",
            ClusterKind::Ps { cluster_type: PsClusterType::GroupReplication } => "ps/gr",
            ClusterKind::Pg => "pg",
        }
    }

    /// The custom resource's apiVersion and kind.
    pub fn api_version_kind(&self) -> (&'static str, &'static str) {
        match self {
            ClusterKind::Pxc => ("pxc.percona.com/v1", "PerconaXtraDBCluster"),
            ClusterKind::Ps { .. } => ("ps.percona.com/v1", "PerconaServerMySQL"),
            ClusterKind::Pg => ("pgv2.percona.com/v2", "PerconaPGCluster"),
        }
    }
}

/// Cluster state as the operators report it in `status.state`. Serialised as the plain word (`"ready"`), so
/// scripts compare strings; a missing state is `"unknown"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClusterState {
    Initializing,
    Ready,
    Error,
    Paused,
    Stopping,
    /// No status yet, or a value dbdeck does not know (kept verbatim).
    Unknown(String),
}

impl ClusterState {
    /// Reads `status.state`; an empty, missing or `unknown` state is `Unknown("")`.
    pub fn parse(s: &str) -> Self {
        match s {
            "" | "unknown" => Self::Unknown(String::new()),
            "initializing" => Self::Initializing,
            "ready" => Self::Ready,
            "error" => Self::Error,
            "paused" => Self::Paused,
            "stopping" => Self::Stopping,
            other => Self::Unknown(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Initializing => "initializing",
            Self::Ready => "ready",
            Self::Error => "error",
            Self::Paused => "paused",
            Self::Stopping => "stopping",
            Self::Unknown(s) if s.is_empty() => "unknown",
            Self::Unknown(s) => s,
        }
    }
}

impl Serialize for ClusterState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ClusterState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(ClusterState::parse(&s))
    }
}

/// How healthy something looks, used to pick a theme colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    Progressing,
    Warning,
    Failed,
    Unknown,
}

/// A workload of the cluster (one StatefulSet/Deployment or PG instance set) with its counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub kind: ComponentKind,
    /// The component's name (`pxc`, `haproxy`, or the PG instance set's name such as `instance1`).
    pub name: String,
    pub size: u32,
    pub ready: u32,
    /// The operator's per-component status word (`ready`, `initializing`, …), empty when not reported.
    pub status: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    Pxc,
    Haproxy,
    Proxysql,
    Mysql,
    Orchestrator,
    Router,
    Pgbouncer,
    RepoHost,
    InstanceSet,
}

impl ComponentKind {
    /// Components that route client traffic (drawn above the database members).
    pub fn is_proxy(&self) -> bool {
        matches!(self, Self::Haproxy | Self::Proxysql | Self::Router | Self::Pgbouncer)
    }
    /// Components that hold data (the database members themselves).
    pub fn is_database(&self) -> bool {
        matches!(self, Self::Pxc | Self::Mysql | Self::InstanceSet)
    }
}

/// What a pod does in the cluster, when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    GaleraMember,
    Source,
    Replica,
    Primary,
    Standby,
    Proxy,
    Router,
    PgBouncer,
    Orchestrator,
    RepoHost,
}

impl Role {
    pub fn label(&self) -> &'static str {
        match self {
            Role::GaleraMember => "galera",
            Role::Source => "source",
            Role::Replica => "replica",
            Role::Primary => "primary",
            Role::Standby => "standby",
            Role::Proxy => "proxy",
            Role::Router => "router",
            Role::PgBouncer => "pgbouncer",
            Role::Orchestrator => "orchestrator",
            Role::RepoHost => "repo-host",
        }
    }
    /// Whether the role takes writes (drawn at the top of a replication tree).
    pub fn is_writer(&self) -> bool {
        matches!(self, Role::Source | Role::Primary)
    }
    /// Whether the role follows a writer.
    pub fn is_follower(&self) -> bool {
        matches!(self, Role::Replica | Role::Standby)
    }
}

/// Replication lag of one member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum LagView {
    /// Lag does not apply (writers, proxies, Galera members that are synced by design).
    NotApplicable,
    /// Could not be read; the reason says why (probe timeout, not yet probed, pod not running…).
    Unknown { reason: String },
    /// Read from the database at `read_at`.
    #[serde(rename_all = "camelCase")]
    Known { seconds: f64, behind: Option<Behind>, read_at: DateTime<Utc> },
    /// Read from the database at `read_at`, but only as an amount: the server gave no time figure (a stopped
    /// SQL thread reports no seconds; Galera lag is counted in write sets). `note` says why, when known.
    #[serde(rename_all = "camelCase")]
    Amount { behind: Behind, note: Option<String>, read_at: DateTime<Utc> },
}

/// How far behind a follower is, in the unit its database reports.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "camelCase")]
pub enum Behind {
    /// PostgreSQL WAL bytes not yet replayed.
    Bytes(u64),
    /// MySQL GTID transactions not yet applied.
    Transactions(u64),
}

/// One pod of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub pod: String,
    /// The component this pod belongs to (matches `ComponentView::name`).
    pub component: String,
    pub role: Option<Role>,
    pub node: Option<String>,
    pub zone: Option<String>,
    pub ready: bool,
    /// Pod phase (`Pending`, `Running`, …).
    pub phase: String,
    pub restarts: u32,
    pub started: Option<DateTime<Utc>>,
    pub lag: LagView,
    /// Recent lag samples in seconds, oldest first, for a sparkline (empty when never measured).
    #[serde(default)]
    pub lag_history: Vec<u64>,
    /// Set when the member's server says its replication is broken (a stopped or failed IO/SQL thread): which
    /// thread and the server's last error. The pod may still pass its readiness probe.
    #[serde(default)]
    pub replication_error: Option<String>,
}

/// A persistent volume claim of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcView {
    pub name: String,
    pub phase: String,
    pub capacity: Option<String>,
    pub request: Option<String>,
    pub storage_class: Option<String>,
    pub resizing: bool,
    pub used_by: Option<String>,
}

/// One backup of the cluster (on-demand or scheduled).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupView {
    pub name: String,
    pub state: String,
    pub storage: Option<String>,
    pub destination: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// With point-in-time recovery on: the latest moment this backup plus its binlogs/WAL can restore to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<DateTime<Utc>>,
}

/// One restore into the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreView {
    pub name: String,
    pub state: String,
    pub backup: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// Point-in-time recovery of a cluster that has it on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PitrView {
    /// The newest moment a restore can reach, as a backup's `status.latestRestorableTime` reports it.
    pub latest_restorable_time: Option<DateTime<Utc>>,
    /// Why the time is not known, when it is not.
    pub unknown_reason: Option<String>,
}

/// The next run of a backup schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledBackupView {
    pub schedule_name: String,
    pub cron: String,
    pub storage: Option<String>,
    pub at: DateTime<Utc>,
}

/// Where a "why not ready" reason comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasonKind {
    /// A pod the scheduler could not place (message is the scheduler's).
    Unschedulable,
    /// A pod that is not ready for another reason (crash loop, image pull, probe failing).
    Pod,
    /// A condition with a failing status.
    Condition,
    /// A finalizer holding a deleting cluster.
    Finalizer,
    /// The spec failed validation.
    Validation,
    /// A component whose ready count is short.
    Component,
    /// A node that is NotReady, with the cluster's pods on it.
    Node,
    /// A persistent volume claim that is not bound (message is the provisioner's or binder's).
    Claim,
    /// A member whose replication is stopped or failed, as its server reports it.
    Replication,
}

/// One reason the cluster is not ready (or not gone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub kind: ReasonKind,
    /// The object or field at fault (`pod/cluster1-pxc-2`, `spec.pxc.size`, `percona.com/delete-pxc-pvc`).
    pub source: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    /// `kind/name` of the object the event is about.
    pub object: String,
    pub message: String,
    pub count: u32,
    pub last_seen: Option<DateTime<Utc>>,
}

/// Everything dbdeck shows about one database cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub kind: ClusterKind,
    pub namespace: String,
    pub name: String,
    pub state: ClusterState,
    pub state_reason: Option<String>,
    /// The client endpoint (`status.host`).
    pub host: Option<String>,
    pub created: Option<DateTime<Utc>>,
    /// Database version as reported in status (or requested in spec), when known.
    pub version: Option<String>,
    /// `spec.crVersion`: the operator release the resource is written for.
    #[serde(default)]
    pub cr_version: Option<String>,
    /// `spec.pause`.
    pub paused: bool,
    pub components: Vec<ComponentView>,
    pub members: Vec<MemberView>,
    pub pvcs: Vec<PvcView>,
    pub backups: Vec<BackupView>,
    pub restores: Vec<RestoreView>,
    /// Names of the backup storages (PXC/PS `spec.backup.storages`, PG pgBackRest repos).
    pub backup_storages: Vec<String>,
    pub next_scheduled_backup: Option<ScheduledBackupView>,
    pub last_successful_backup: Option<DateTime<Utc>>,
    /// Point-in-time recovery, when the cluster has it on (PXC/PS `spec.backup.pitr.enabled`; PG
    /// whenever it has a pgBackRest repo, which archives WAL). Always present in JSON (null: off), so
    /// every cluster has the same keys.
    #[serde(default)]
    pub pitr: Option<PitrView>,
    pub why_not_ready: Vec<Reason>,
    pub conditions: Vec<ConditionView>,
    /// Newest first.
    pub events: Vec<EventView>,
    pub finalizers: Vec<String>,
    /// `metadata.deletionTimestamp`, when the cluster is being deleted.
    pub deleting: Option<DateTime<Utc>>,
    /// The last reading of each database member, as the server said it (or why it said nothing); empty when
    /// the databases were not probed.
    #[serde(default)]
    pub db_facts: Vec<MemberFacts>,
}

impl ClusterView {
    /// An empty view of a cluster that has no status yet.
    pub fn new(kind: ClusterKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
            state: ClusterState::Unknown(String::new()),
            state_reason: None,
            host: None,
            created: None,
            version: None,
            cr_version: None,
            paused: false,
            components: Vec::new(),
            members: Vec::new(),
            pvcs: Vec::new(),
            backups: Vec::new(),
            restores: Vec::new(),
            backup_storages: Vec::new(),
            next_scheduled_backup: None,
            last_successful_backup: None,
            pitr: None,
            why_not_ready: Vec::new(),
            conditions: Vec::new(),
            events: Vec::new(),
            finalizers: Vec::new(),
            deleting: None,
            db_facts: Vec::new(),
        }
    }

    /// The health colour of the cluster: deletion and error dominate, then the state.
    pub fn health(&self) -> Health {
        if self.deleting.is_some() {
            return Health::Warning;
        }
        match self.state {
            ClusterState::Ready => Health::Ok,
            ClusterState::Initializing | ClusterState::Stopping => Health::Progressing,
            ClusterState::Paused => Health::Warning,
            ClusterState::Error => Health::Failed,
            ClusterState::Unknown(_) => Health::Unknown,
        }
    }

    /// The state word shown to users (`deleting` overrides the operator's state).
    pub fn display_state(&self) -> &str {
        if self.deleting.is_some() { "deleting" } else { self.state.as_str() }
    }

    /// The component that holds the data (first database component).
    pub fn database_component(&self) -> Option<&ComponentView> {
        self.components.iter().find(|c| c.kind.is_database())
    }

    /// Whether a member is a database server (probed for replication facts) rather than a proxy or helper.
    pub fn is_database_member(&self, m: &MemberView) -> bool {
        match self.kind {
            ClusterKind::Pxc => m.component == "pxc",
            ClusterKind::Ps { .. } => m.component == "mysql",
            ClusterKind::Pg => !matches!(m.component.as_str(), "pgbouncer" | "repo-host"),
        }
    }

    /// The last database reading of a member, when one was taken.
    pub fn facts_of(&self, pod: &str) -> Option<&MemberFacts> {
        self.db_facts.iter().find(|f| f.member == pod)
    }

    /// The newest backup that failed, with its reason, if it is newer than the last success.
    pub fn last_failed_backup(&self) -> Option<&BackupView> {
        let failed = self
            .backups
            .iter()
            .filter(|b| matches!(b.state.as_str(), "Failed" | "Error"))
            .max_by_key(|b| b.completed.or(b.started))?;
        let at = failed.completed.or(failed.started);
        match self.last_successful_backup {
            Some(ok) if at.is_some_and(|t| t < ok) => None,
            _ => Some(failed),
        }
    }

    /// The latest restorable moment across the backups (PITR), when one reports it.
    pub fn latest_restorable_time(&self) -> Option<DateTime<Utc>> {
        self.backups.iter().filter_map(|b| b.latest_restorable_time).max()
    }

    /// Restores not yet finished.
    pub fn running_restores(&self) -> impl Iterator<Item = &RestoreView> {
        self.restores.iter().filter(|r| !matches!(r.state.as_str(), "Succeeded" | "Failed" | "Error"))
    }

    /// Finalizers that make the operator delete PVCs along with the cluster.
    pub fn pvc_deleting_finalizers(&self) -> Vec<&str> {
        self.finalizers
            .iter()
            .filter(|f| f.starts_with("percona.com/delete-") && f.ends_with("pvc"))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_stable() {
        let mut v = ClusterView::new(ClusterKind::Ps { cluster_type: PsClusterType::Async }, "db", "ps1");
        v.state = ClusterState::Ready;
        v.members.push(MemberView {
            pod: "ps1-mysql-1".into(),
            component: "mysql".into(),
            role: Some(Role::Replica),
            node: None,
            zone: None,
            ready: true,
            phase: "Running".into(),
            restarts: 0,
            started: None,
            lag: LagView::Unknown { reason: "not probed yet".into() },
            lag_history: vec![],
            replication_error: None,
        });
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["kind"], serde_json::json!({"family": "ps", "clusterType": "async"}));
        assert_eq!(j["state"], "ready");
        assert_eq!(j["members"][0]["role"], "replica");
        assert_eq!(j["members"][0]["lag"], serde_json::json!({"state": "unknown", "reason": "not probed yet"}));
        assert_eq!(j["whyNotReady"], serde_json::json!([]));
        assert_eq!(j["dbFacts"], serde_json::json!([]));
        let back: ClusterView = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);

        // Lag read only as an amount (no seconds from the server) has its own state.
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let amount = LagView::Amount {
            behind: Behind::Transactions(5),
            note: Some("the SQL thread is not running".into()),
            read_at: at,
        };
        let j = serde_json::to_value(&amount).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"state": "amount", "behind": {"unit": "transactions", "value": 5},
                               "note": "the SQL thread is not running", "readAt": "2027-01-15T08:00:00Z"})
        );
        assert_eq!(serde_json::from_value::<LagView>(j).unwrap(), amount);
        // Views written before `dbFacts` existed still read.
        let mut old = serde_json::to_value(&v).unwrap();
        old.as_object_mut().unwrap().remove("dbFacts");
        assert_eq!(serde_json::from_value::<ClusterView>(old).unwrap(), v);
    }

    #[test]
    fn unknown_state_round_trips_verbatim() {
        let s = ClusterState::parse("sleeping");
        assert_eq!(s.as_str(), "sleeping");
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j, serde_json::json!("sleeping"));
        assert_eq!(serde_json::from_value::<ClusterState>(j).unwrap(), s);
        assert_eq!(ClusterState::parse("").as_str(), "unknown");
        let missing = ClusterState::parse("");
        let j = serde_json::to_value(&missing).unwrap();
        assert_eq!(serde_json::from_value::<ClusterState>(j).unwrap(), missing);
    }

    #[test]
    fn health_prefers_deletion() {
        let mut v = ClusterView::new(ClusterKind::Pxc, "db", "c");
        v.state = ClusterState::Ready;
        assert_eq!(v.health(), Health::Ok);
        v.deleting = Some(Utc::now());
        assert_eq!(v.health(), Health::Warning);
        assert_eq!(v.display_state(), "deleting");
    }

    #[test]
    fn pvc_finalizers() {
        let mut v = ClusterView::new(ClusterKind::Pxc, "db", "c");
        v.finalizers = vec!["percona.com/delete-pxc-pvc".into(), "percona.com/delete-ssl".into()];
        assert_eq!(v.pvc_deleting_finalizers(), vec!["percona.com/delete-pxc-pvc"]);
    }
}
