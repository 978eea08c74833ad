//! The MySQL/MariaDB side of probing: connecting with `mysql_async` and running the family's queries.

use std::io::ErrorKind;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, IoError, OptsBuilder, Row, Value};

use super::async_repl::{ServerVars, async_facts};
use super::galera::{STATUS_QUERY, galera_facts};
use super::group_repl::{MEMBERS_QUERY, SERVER_UUID_QUERY, STATS_QUERY, group_facts};
use super::row::TextRow;
use super::{Credentials, Endpoint, Failure, Family};
use crate::observe::facts::{DbFacts, MysqlFlavor};

/// `ER_ACCESS_DENIED_ERROR`, `ER_ACCESS_DENIED_NO_PASSWORD_ERROR`, `ER_DBACCESS_DENIED_ERROR`.
const ACCESS_DENIED: [u16; 3] = [1045, 1698, 1044];
/// `ER_PARSE_ERROR`: an older MySQL that does not know `SHOW REPLICA STATUS`.
const PARSE_ERROR: u16 = 1064;

pub(super) async fn connect(endpoint: &Endpoint, creds: &Credentials) -> Result<Conn, Failure> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(endpoint.host.clone())
        .tcp_port(endpoint.port)
        .user(Some(creds.user.clone()))
        .pass(Some(creds.password.expose().to_string()))
        .prefer_socket(false)
        // Statements are one-off text queries; no server-side statement cache needed.
        .stmt_cache_size(0);
    Conn::new(opts).await.map_err(|e| classify_connect_error(endpoint, &creds.user, e))
}

fn classify_connect_error(endpoint: &Endpoint, user: &str, err: mysql_async::Error) -> Failure {
    match err {
        mysql_async::Error::Server(e) if ACCESS_DENIED.contains(&e.code) => {
            Failure::Auth(format!("user '{user}' was refused by {endpoint}: {}", e.message))
        }
        mysql_async::Error::Io(IoError::Io(e)) => Failure::Unreachable(io_reason(endpoint, &e)),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            Failure::Unreachable(format!("{endpoint} closed the connection during the handshake"))
        }
        other => Failure::Error(format!("connecting to {endpoint}: {other}")),
    }
}

fn io_reason(endpoint: &Endpoint, e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => format!("connection refused by {endpoint}"),
        ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof => format!("{endpoint} closed the connection"),
        _ => format!("{endpoint}: {e}"),
    }
}

fn classify_query_error(err: mysql_async::Error) -> Failure {
    match err {
        mysql_async::Error::Server(e) => Failure::Error(format!("query failed: {} (error {})", e.message, e.code)),
        mysql_async::Error::Io(e) => Failure::Lost(e.to_string()),
        mysql_async::Error::Driver(e @ mysql_async::DriverError::ConnectionClosed) => Failure::Lost(e.to_string()),
        other => Failure::Error(format!("query failed: {other}")),
    }
}

/// Runs the queries of `family` and turns the rows into facts.
pub(super) async fn read_facts(conn: &mut Conn, family: Family) -> Result<DbFacts, Failure> {
    read(conn, family).await.map_err(classify_query_error)
}

async fn read(conn: &mut Conn, family: Family) -> Result<DbFacts, mysql_async::Error> {
    let version = first_value(conn, "SELECT VERSION()").await?.unwrap_or_default();
    let flavor =
        if version.to_ascii_lowercase().contains("mariadb") { MysqlFlavor::Mariadb } else { MysqlFlavor::Mysql };
    match family {
        Family::Galera => {
            let rows = text_rows(conn, STATUS_QUERY).await?;
            Ok(galera_facts(&name_value_row(&rows), &version))
        }
        Family::MysqlAsync => {
            let rows = replica_status(conn, flavor).await?;
            let vars = match flavor {
                MysqlFlavor::Mariadb => {
                    let row = one_row(
                        conn,
                        "SELECT @@read_only AS ro, @@gtid_current_pos AS executed, @@gtid_slave_pos AS applied",
                    )
                    .await?;
                    ServerVars {
                        flavor,
                        read_only: row.flag(&["ro"]),
                        gtid_executed: row.text(&["executed"]),
                        gtid_slave_pos: Some(row.text(&["applied"])),
                        gtid_mode: None,
                    }
                }
                MysqlFlavor::Mysql => {
                    let row = one_row(
                        conn,
                        "SELECT @@read_only AS ro, @@GLOBAL.gtid_executed AS executed, @@GLOBAL.gtid_mode AS mode",
                    )
                    .await?;
                    ServerVars {
                        flavor,
                        read_only: row.flag(&["ro"]),
                        gtid_executed: row.text(&["executed"]),
                        gtid_slave_pos: None,
                        gtid_mode: row.get(&["mode"]).map(str::to_string),
                    }
                }
            };
            Ok(async_facts(&rows, vars, &version))
        }
        Family::GroupReplication => {
            let uuid = first_value(conn, SERVER_UUID_QUERY).await?.unwrap_or_default();
            let members = text_rows(conn, MEMBERS_QUERY).await?;
            let stats = text_rows(conn, STATS_QUERY).await?;
            Ok(group_facts(&uuid, &members, &stats, &version))
        }
        // The prober only hands MySQL families to this module.
        Family::Postgres => Err(mysql_async::Error::Other("PostgreSQL member given to the MySQL probe".into())),
    }
}

/// MariaDB lists every connection with `SHOW ALL SLAVES STATUS`; MySQL 8.0.22+ says `SHOW REPLICA STATUS` and
/// older MySQL only knows `SHOW SLAVE STATUS`, which we fall back to when the new spelling does not parse.
async fn replica_status(conn: &mut Conn, flavor: MysqlFlavor) -> Result<Vec<TextRow>, mysql_async::Error> {
    match flavor {
        MysqlFlavor::Mariadb => text_rows(conn, "SHOW ALL SLAVES STATUS").await,
        MysqlFlavor::Mysql => match text_rows(conn, "SHOW REPLICA STATUS").await {
            Err(mysql_async::Error::Server(e)) if e.code == PARSE_ERROR => text_rows(conn, "SHOW SLAVE STATUS").await,
            other => other,
        },
    }
}

async fn text_rows(conn: &mut Conn, query: &str) -> Result<Vec<TextRow>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query(query).await?;
    Ok(rows.iter().map(to_text_row).collect())
}

async fn one_row(conn: &mut Conn, query: &str) -> Result<TextRow, mysql_async::Error> {
    Ok(text_rows(conn, query).await?.into_iter().next().unwrap_or_default())
}

async fn first_value(conn: &mut Conn, query: &str) -> Result<Option<String>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query(query).await?;
    Ok(rows.first().and_then(|row| row.as_ref(0)).and_then(value_text))
}

fn to_text_row(row: &Row) -> TextRow {
    let columns = row
        .columns_ref()
        .iter()
        .enumerate()
        .map(|(i, col)| (col.name_str().into_owned(), row.as_ref(i).and_then(value_text)))
        .collect();
    TextRow::new(columns)
}

/// `SHOW STATUS` rows (`Variable_name`, `Value`) folded into one row keyed by variable name.
fn name_value_row(rows: &[TextRow]) -> TextRow {
    let columns = rows.iter().map(|r| (r.text(&["Variable_name"]), r.get(&["Value"]).map(str::to_string))).collect();
    TextRow::new(columns)
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(v) => Some(v.to_string()),
        Value::UInt(v) => Some(v.to_string()),
        Value::Float(v) => Some(v.to_string()),
        Value::Double(v) => Some(v.to_string()),
        Value::Date(y, mo, d, h, mi, s, us) => Some(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")),
        Value::Time(neg, days, h, mi, s, us) => {
            let sign = if *neg { "-" } else { "" };
            let hours = u64::from(*days) * 24 + u64::from(*h);
            Some(format!("{sign}{hours:02}:{mi:02}:{s:02}.{us:06}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rows_fold_into_one_row() {
        let rows = vec![
            TextRow::from_pairs([("Variable_name", Some("wsrep_cluster_size")), ("Value", Some("3"))]),
            TextRow::from_pairs([("Variable_name", Some("wsrep_ready")), ("Value", Some("ON"))]),
        ];
        let row = name_value_row(&rows);
        assert_eq!(row.u64(&["wsrep_cluster_size"]), Some(3));
        assert!(row.flag(&["wsrep_ready"]));
    }

    #[test]
    fn values_render_as_text() {
        assert_eq!(value_text(&Value::NULL), None);
        assert_eq!(value_text(&Value::Bytes(b"0-1-5".to_vec())).as_deref(), Some("0-1-5"));
        assert_eq!(value_text(&Value::Int(-3)).as_deref(), Some("-3"));
        assert_eq!(value_text(&Value::Time(true, 1, 2, 3, 4, 0)).as_deref(), Some("-26:03:04.000000"));
    }

    #[test]
    fn access_denied_is_an_auth_failure() {
        let err = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied for user 'x'@'127.0.0.1' (using password: YES)".into(),
            state: "28000".into(),
        });
        let failure = classify_connect_error(&Endpoint::new("127.0.0.1", 3306), "x", err);
        assert!(matches!(failure, Failure::Auth(ref m) if m.contains("Access denied")), "{failure:?}");
    }
}
