//! Probes: connect to each member's database, read its replication facts, and never take longer than the
//! configured timeouts.
//!
//! A [`Prober`] is shared across refreshes: it keeps one connection per (endpoint, user, protocol) so a refresh
//! costs a few queries, not a handshake; a connection that fails is dropped and made anew next time. A semaphore
//! bounds how many members are probed at once so a large cluster cannot open a storm of connections.

pub mod async_repl;
pub mod galera;
pub mod group_repl;
pub mod gtid;
mod mysql;
pub mod pg_tls;
mod pool;
mod postgres;
pub mod row;
pub mod secrets;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Semaphore;

use crate::observe::facts::{
    DbFacts, FamilyDetail, GaleraDetail, MemberFacts, ProbeOutcome, ProbePhase, apply_galera_relative_lag,
    apply_standby_lag,
};
pub use pg_tls::TlsMode;
use pool::{ConnectionPool, PoolKey, PooledConn, Protocol};

/// Fills in the lag figures that need several members of one cluster: Galera's relative lag, async replicas
/// against their source, PostgreSQL standbys against their primary.
pub fn compare_members(facts: &mut [MemberFacts]) {
    apply_galera_relative_lag(facts);
    async_repl::apply_source_lag(facts);
    apply_standby_lag(facts);
}

/// Where a member's database listens (pod IP, service DNS name, or a local port-forward).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint { host: host.into(), port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A password that cannot leak through `Debug` or logs; read it with [`Password::expose`] at the point of use.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { user: user.into(), password: Password::new(password) }
    }
}

/// What kind of replication the member takes part in; decides which queries run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// PXC / MariaDB Galera.
    Galera,
    /// MySQL or MariaDB source/replica replication.
    MysqlAsync,
    /// MySQL group replication.
    GroupReplication,
    /// PostgreSQL streaming replication.
    Postgres,
}

impl Family {
    fn protocol(self) -> Protocol {
        match self {
            Family::Galera | Family::MysqlAsync | Family::GroupReplication => Protocol::Mysql,
            Family::Postgres => Protocol::Postgres,
        }
    }
}

/// One member to probe.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub member: String,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    pub family: Family,
    /// Transport security; only PostgreSQL members support anything but `Disable` so far.
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time allowed for TCP connect, handshake and authentication.
    pub connect_timeout: Duration,
    /// Time allowed for all queries of one reading.
    pub query_timeout: Duration,
    /// Members probed at the same time.
    pub max_concurrency: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            connect_timeout: Duration::from_secs(3),
            query_timeout: Duration::from_secs(5),
            max_concurrency: 8,
        }
    }
}

/// Why a connection attempt or a reading failed; turned into a [`ProbeOutcome`].
#[derive(Debug)]
enum Failure {
    Unreachable(String),
    Auth(String),
    Timeout(ProbePhase, Duration),
    /// The connection broke mid-reading; worth one retry on a fresh connection if it was a reused one.
    Lost(String),
    Error(String),
}

impl Failure {
    fn into_outcome(self) -> ProbeOutcome {
        match self {
            Failure::Unreachable(reason) => ProbeOutcome::Unreachable { reason },
            Failure::Auth(reason) => ProbeOutcome::AuthFailed { reason },
            Failure::Timeout(phase, after) => ProbeOutcome::Timeout { phase, after },
            Failure::Lost(reason) => ProbeOutcome::Error { reason: format!("connection lost: {reason}") },
            Failure::Error(reason) => ProbeOutcome::Error { reason },
        }
    }
}

/// Per member and endpoint: when it was last read and its flow-control counter then (Galera only).
type FlowControlBook = HashMap<(String, Endpoint), (Instant, u64)>;

/// A flow-control reading older than this is not a useful base for "recent": forget it.
const FLOW_CONTROL_MEMORY: Duration = Duration::from_secs(600);

/// Reads member facts with bounded time, bounded concurrency and connection reuse. Cheap to clone.
#[derive(Clone)]
pub struct Prober {
    config: ProbeConfig,
    limit: Arc<Semaphore>,
    pool: Arc<ConnectionPool>,
    flow_control: Arc<Mutex<FlowControlBook>>,
}

impl Prober {
    pub fn new(config: ProbeConfig) -> Self {
        let permits = config.max_concurrency.max(1);
        Prober {
            config,
            limit: Arc::new(Semaphore::new(permits)),
            pool: Arc::new(ConnectionPool::default()),
            flow_control: Arc::default(),
        }
    }

    /// Galera: measures flow control over the time since this member's previous reading by this prober.
    fn flow_control_window(&self, target: &ProbeTarget, facts: &mut DbFacts) {
        let FamilyDetail::Galera(GaleraDetail { flow_control_paused_ns: Some(ns), .. }) = facts.detail else {
            return;
        };
        let now = Instant::now();
        let mut book = self.flow_control.lock().unwrap_or_else(|e| e.into_inner());
        book.retain(|_, (at, _)| now.duration_since(*at) < FLOW_CONTROL_MEMORY);
        let key = (target.member.clone(), target.endpoint.clone());
        if let Some((at, previous)) = book.insert(key, (now, ns)) {
            galera::apply_flow_control_window(facts, previous, now.duration_since(at));
        }
    }

    pub fn config(&self) -> ProbeConfig {
        self.config
    }

    /// Connections currently kept for reuse.
    pub async fn pooled_connections(&self) -> usize {
        self.pool.len().await
    }

    /// Reads one member. Always returns, within about connect + query timeout after a permit is free.
    pub async fn probe(&self, target: &ProbeTarget) -> MemberFacts {
        let mut outcome = match self.limit.acquire().await {
            Ok(_permit) => self.read(target).await,
            // The semaphore is never closed; if it were, say so instead of probing unbounded.
            Err(_) => ProbeOutcome::Error { reason: "prober is shut down".into() },
        };
        if let ProbeOutcome::Ok(facts) = &mut outcome {
            self.flow_control_window(target, facts);
        }
        if let ProbeOutcome::Ok(_) = outcome {
            tracing::debug!(member = %target.member, endpoint = %target.endpoint, "probe read facts");
        } else {
            tracing::debug!(member = %target.member, endpoint = %target.endpoint, outcome = %outcome.summary(), "probe failed");
        }
        MemberFacts { member: target.member.clone(), read_at: Utc::now(), outcome }
    }

    /// Reads all members concurrently (bounded by `max_concurrency`), in the order given, then fills in the
    /// lag figures that need several members (Galera's relative lag, async replicas against their source).
    pub async fn probe_all(&self, targets: &[ProbeTarget]) -> Vec<MemberFacts> {
        let mut facts = futures::future::join_all(targets.iter().map(|t| self.probe(t))).await;
        compare_members(&mut facts);
        facts
    }

    async fn read(&self, target: &ProbeTarget) -> ProbeOutcome {
        let key = PoolKey::new(&target.endpoint, &target.credentials, &target.tls, target.family.protocol());
        if let Some(conn) = self.pool.take(&key).await {
            match self.read_with(conn, target).await {
                Ok((facts, conn)) => {
                    self.pool.put(key, conn).await;
                    return ProbeOutcome::Ok(facts);
                }
                // A kept connection may have been closed by the server (restart, wait_timeout): try once afresh.
                Err(Failure::Lost(reason)) => {
                    tracing::debug!(member = %target.member, %reason, "kept connection lost; reconnecting");
                }
                Err(failure) => return failure.into_outcome(),
            }
        }
        let conn = match self.connect(target).await {
            Ok(conn) => conn,
            Err(failure) => return failure.into_outcome(),
        };
        match self.read_with(conn, target).await {
            Ok((facts, conn)) => {
                self.pool.put(key, conn).await;
                ProbeOutcome::Ok(facts)
            }
            Err(failure) => failure.into_outcome(),
        }
    }

    async fn connect(&self, target: &ProbeTarget) -> Result<PooledConn, Failure> {
        let timeout = self.config.connect_timeout;
        let attempt = async {
            match target.family.protocol() {
                Protocol::Mysql if target.tls != TlsMode::Disable => Err(Failure::Error(format!(
                    "TLS is requested for {} but MySQL probes connect without TLS only",
                    target.member
                ))),
                Protocol::Mysql => mysql::connect(&target.endpoint, &target.credentials).await.map(PooledConn::Mysql),
                Protocol::Postgres => postgres::connect(&target.endpoint, &target.credentials, &target.tls)
                    .await
                    .map(PooledConn::Postgres),
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout(ProbePhase::Connect, timeout)),
        }
    }

    /// Runs the reading on `conn` and hands the connection back for reuse; on any failure it is dropped.
    async fn read_with(&self, conn: PooledConn, target: &ProbeTarget) -> Result<(DbFacts, PooledConn), Failure> {
        let timeout = self.config.query_timeout;
        let timed_out = || Failure::Timeout(ProbePhase::Query, timeout);
        match conn {
            PooledConn::Mysql(mut conn) => {
                let facts = tokio::time::timeout(timeout, mysql::read_facts(&mut conn, target.family))
                    .await
                    .map_err(|_| timed_out())??;
                Ok((facts, PooledConn::Mysql(conn)))
            }
            PooledConn::Postgres(conn) => {
                let facts = tokio::time::timeout(timeout, postgres::read_facts(&conn.client))
                    .await
                    .map_err(|_| timed_out())??;
                Ok((facts, PooledConn::Postgres(conn)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shows_in_debug() {
        let creds = Credentials::new("monitor", "s3cr3t-value");
        let printed = format!("{creds:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("monitor"));
        assert_eq!(creds.password.expose(), "s3cr3t-value");
    }

    #[test]
    fn endpoints_print_ipv6_in_brackets() {
        assert_eq!(Endpoint::new("::1", 3306).to_string(), "[::1]:3306");
        assert_eq!(Endpoint::new("db-0.db", 5432).to_string(), "db-0.db:5432");
    }
}
