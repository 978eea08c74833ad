//! The PostgreSQL side of probing: connecting with `tokio-postgres` and reading streaming-replication state.

use std::error::Error as _;
use std::io::ErrorKind;

use chrono::{DateTime, Utc};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::pg_tls::{MakeRustls, TlsMode, client_config};
use super::pool::PgConn;
use super::{Credentials, Endpoint, Failure};
use crate::observe::facts::{DbFacts, FamilyDetail, LagAmount, PgReplicationRow, PostgresDetail, Role};

pub(super) async fn connect(endpoint: &Endpoint, creds: &Credentials, tls: &TlsMode) -> Result<PgConn, Failure> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .user(&creds.user)
        .password(creds.password.expose())
        .dbname("postgres")
        .application_name("dbdeck-probe");
    let tls_config =
        client_config(tls).map_err(|e| Failure::Error(format!("PostgreSQL TLS settings for {endpoint}: {e}")))?;
    let classify = |e: tokio_postgres::Error| classify_connect_error(endpoint, &creds.user, &e);
    let (client, driver) = match tls_config {
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(classify)?;
            (client, tokio::spawn(drive(connection)))
        }
        Some(tls_config) => {
            config.ssl_mode(if *tls == TlsMode::Prefer { SslMode::Prefer } else { SslMode::Require });
            let (client, connection) = config.connect(MakeRustls::new(tls_config)).await.map_err(classify)?;
            (client, tokio::spawn(drive(connection)))
        }
    };
    Ok(PgConn { client, driver })
}

/// Runs the connection's socket until the client is dropped or the server goes away.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "postgres probe connection ended");
    }
}

fn classify_connect_error(endpoint: &Endpoint, user: &str, err: &tokio_postgres::Error) -> Failure {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return Failure::Auth(format!("user '{user}' was refused by {endpoint}: {}", db.message()));
        }
        return Failure::Error(format!("connecting to {endpoint}: {}", db.message()));
    }
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::ConnectionRefused => Failure::Unreachable(format!("connection refused by {endpoint}")),
                // rustls reports certificate and handshake failures as invalid data.
                ErrorKind::InvalidData => Failure::Error(format!("TLS with {endpoint} failed: {io}")),
                _ => Failure::Unreachable(format!("{endpoint}: {io}")),
            };
        }
        source = cause.source();
    }
    if err.is_closed() {
        return Failure::Unreachable(format!("{endpoint} closed the connection during startup"));
    }
    Failure::Error(format!("connecting to {endpoint}: {err}"))
}

fn classify_query_error(err: tokio_postgres::Error) -> Failure {
    if err.is_closed() {
        return Failure::Lost(err.to_string());
    }
    match err.as_db_error() {
        Some(db) => Failure::Error(format!("query failed: {} ({})", db.message(), db.code().code())),
        None => Failure::Lost(err.to_string()),
    }
}

const ROLE_QUERY: &str = "SELECT pg_is_in_recovery(), current_setting('server_version')";

/// `lag` columns are intervals; seconds as float8 keep us free of a date/time feature on the driver.
const REPLICATION_QUERY: &str = "SELECT application_name, client_addr::text, state, sync_state, \
     extract(epoch FROM write_lag)::float8, extract(epoch FROM flush_lag)::float8, \
     extract(epoch FROM replay_lag)::float8, pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint \
     FROM pg_stat_replication ORDER BY application_name, client_addr::text";

/// The timeline is the first 8 hex digits of the current WAL file's name: right after a promotion the last
/// checkpoint (`pg_control_checkpoint()`) may still carry the old one.
const PRIMARY_QUERY: &str = "SELECT pg_current_wal_lsn()::text, \
     ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int";

/// Seconds behind are 0 when everything received is replayed (an idle primary must not look like growing lag),
/// otherwise the age of the last replayed transaction.
const STANDBY_QUERY: &str = "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
     extract(epoch FROM pg_last_xact_replay_timestamp())::float8, pg_is_wal_replay_paused(), \
     pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, \
     CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8 \
          ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END, \
     (SELECT timeline_id FROM pg_control_checkpoint())";

const RECEIVER_QUERY: &str = "SELECT status, sender_host, received_tli FROM pg_stat_wal_receiver";

pub(super) async fn read_facts(client: &Client) -> Result<DbFacts, Failure> {
    read(client).await.map_err(classify_query_error)
}

async fn read(client: &Client) -> Result<DbFacts, tokio_postgres::Error> {
    let row = client.query_one(ROLE_QUERY, &[]).await?;
    let in_recovery: bool = row.try_get(0)?;
    let version: String = row.try_get(1)?;
    if in_recovery { read_standby(client, version).await } else { read_primary(client, version).await }
}

async fn read_primary(client: &Client, version: String) -> Result<DbFacts, tokio_postgres::Error> {
    let row = client.query_one(PRIMARY_QUERY, &[]).await?;
    let current_lsn: Option<String> = row.try_get(0)?;
    let timeline: Option<i32> = row.try_get(1)?;
    let mut replication = Vec::new();
    for row in client.query(REPLICATION_QUERY, &[]).await? {
        let bytes: Option<i64> = row.try_get(7)?;
        replication.push(PgReplicationRow {
            application_name: row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
            client_addr: row.try_get(1)?,
            state: row.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
            sync_state: row.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
            write_lag_seconds: row.try_get(4)?,
            flush_lag_seconds: row.try_get(5)?,
            replay_lag_seconds: row.try_get(6)?,
            replay_lag_bytes: bytes.map(|b| u64::try_from(b).unwrap_or(0)),
        });
    }
    let problems = primary_problems(&replication);
    Ok(DbFacts {
        role: Role::Primary,
        state: "primary".into(),
        version,
        lag_seconds: None,
        lag_amount: None,
        lag_note: None,
        problems,
        detail: FamilyDetail::Postgres(PostgresDetail {
            in_recovery: false,
            timeline: timeline.and_then(|t| u32::try_from(t).ok()),
            current_lsn,
            replication,
            receive_lsn: None,
            replay_lsn: None,
            last_replay_at: None,
            replay_paused: false,
            upstream_host: None,
        }),
    })
}

/// Standbys that are not streaming; and a hint when the rows are blanked out, which PostgreSQL does for users
/// without `pg_monitor` (or superuser): then no state or lag can be read and that must not look like "fine".
fn primary_problems(rows: &[PgReplicationRow]) -> Vec<String> {
    let hidden = rows.iter().filter(|r| r.state.is_empty()).count();
    let mut problems: Vec<String> = rows
        .iter()
        .filter(|r| !r.state.is_empty() && r.state != "streaming")
        .map(|r| format!("standby '{}' is {}", r.application_name, r.state))
        .collect();
    if hidden > 0 {
        problems.push(format!(
            "pg_stat_replication hides {hidden} standby row(s) from this user: grant it the pg_monitor role"
        ));
    }
    problems
}

async fn read_standby(client: &Client, version: String) -> Result<DbFacts, tokio_postgres::Error> {
    let row = client.query_one(STANDBY_QUERY, &[]).await?;
    let receive_lsn: Option<String> = row.try_get(0)?;
    let replay_lsn: Option<String> = row.try_get(1)?;
    let last_replay_epoch: Option<f64> = row.try_get(2)?;
    let replay_paused: bool = row.try_get(3)?;
    let lag_bytes: Option<i64> = row.try_get(4)?;
    let lag_seconds: Option<f64> = row.try_get(5)?;
    let checkpoint_timeline: Option<i32> = row.try_get(6)?;

    let receiver = client.query_opt(RECEIVER_QUERY, &[]).await?;
    let (receiver_status, upstream_host, received_tli) = match &receiver {
        Some(r) => {
            (r.try_get::<_, Option<String>>(0)?, r.try_get::<_, Option<String>>(1)?, r.try_get::<_, Option<i32>>(2)?)
        }
        None => (None, None, None),
    };

    let mut problems = Vec::new();
    let mut lag_note = None;
    if receiver_status.is_none() {
        problems.push("WAL receiver is not running: not streaming from a primary".to_string());
    }
    if replay_paused {
        problems.push("WAL replay is paused".to_string());
    }
    let lag_seconds = match (receive_lsn.is_some(), lag_seconds) {
        // Without a WAL receiver "everything received is replayed" says nothing about the primary.
        _ if receiver_status.is_none() => {
            lag_note = Some("seconds behind unknown: the WAL receiver is not running".to_string());
            None
        }
        (true, Some(s)) => Some(s.max(0.0)),
        (false, _) => {
            lag_note = Some("no WAL received by streaming yet: lag unknown".to_string());
            None
        }
        (true, None) => {
            lag_note = Some("no transaction replayed yet: seconds behind unknown".to_string());
            None
        }
    };
    let state = if replay_paused {
        "replay paused".to_string()
    } else {
        receiver_status.clone().unwrap_or_else(|| "not streaming".to_string())
    };

    Ok(DbFacts {
        role: Role::Standby,
        state,
        version,
        lag_seconds,
        lag_amount: lag_bytes.map(|b| LagAmount::bytes(u64::try_from(b).unwrap_or(0))),
        lag_note,
        problems,
        detail: FamilyDetail::Postgres(PostgresDetail {
            in_recovery: true,
            timeline: received_tli.or(checkpoint_timeline).and_then(|t| u32::try_from(t).ok()),
            current_lsn: None,
            replication: Vec::new(),
            receive_lsn,
            replay_lsn,
            last_replay_at: last_replay_epoch.and_then(epoch_to_utc),
            replay_paused,
            upstream_host,
        }),
    })
}

fn epoch_to_utc(epoch: f64) -> Option<DateTime<Utc>> {
    let secs = epoch.floor();
    let nanos = ((epoch - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    DateTime::from_timestamp(secs as i64, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: &str) -> PgReplicationRow {
        PgReplicationRow {
            application_name: name.into(),
            client_addr: None,
            state: state.into(),
            sync_state: String::new(),
            write_lag_seconds: None,
            flush_lag_seconds: None,
            replay_lag_seconds: None,
            replay_lag_bytes: None,
        }
    }

    #[test]
    fn primary_problems_name_lagging_and_hidden_standbys() {
        assert!(primary_problems(&[row("pg-1", "streaming")]).is_empty());
        assert_eq!(primary_problems(&[row("pg-1", "catchup")]), vec!["standby 'pg-1' is catchup"]);
        let hidden = primary_problems(&[row("", ""), row("", "")]);
        assert_eq!(hidden.len(), 1);
        assert!(hidden[0].contains("hides 2 standby row(s)") && hidden[0].contains("pg_monitor"), "{hidden:?}");
    }

    #[test]
    fn epoch_seconds_become_timestamps() {
        let t = epoch_to_utc(1_700_000_000.25).unwrap();
        assert_eq!(t.timestamp(), 1_700_000_000);
        assert_eq!(t.timestamp_subsec_millis(), 250);
    }
}
