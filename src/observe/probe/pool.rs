//! One kept connection per (endpoint, user, protocol), handed out to one reading at a time.
//!
//! A reading takes the connection out and puts it back only when it succeeded, so a broken connection is dropped
//! and the next refresh connects anew. Two concurrent readings of the same key simply open a second connection;
//! the later `put` replaces (and closes) the earlier one.

use std::collections::HashMap;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Protocol {
    Mysql,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    pub endpoint: Endpoint,
    pub user: String,
    pub protocol: Protocol,
}

pub(super) struct PgConn {
    pub client: tokio_postgres::Client,
    /// Drives the connection's socket; aborted when the connection is dropped.
    pub driver: JoinHandle<()>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

pub(super) enum PooledConn {
    Mysql(mysql_async::Conn),
    Postgres(PgConn),
}

impl PooledConn {
    /// A connection whose peer already went away is not worth handing out.
    fn is_usable(&self) -> bool {
        match self {
            PooledConn::Mysql(_) => true,
            PooledConn::Postgres(pg) => !pg.client.is_closed() && !pg.driver.is_finished(),
        }
    }
}

#[derive(Default)]
pub(super) struct ConnectionPool {
    conns: Mutex<HashMap<PoolKey, PooledConn>>,
}

impl ConnectionPool {
    pub async fn take(&self, key: &PoolKey) -> Option<PooledConn> {
        let conn = self.conns.lock().await.remove(key)?;
        conn.is_usable().then_some(conn)
    }

    pub async fn put(&self, key: PoolKey, conn: PooledConn) {
        self.conns.lock().await.insert(key, conn);
    }

    pub async fn len(&self) -> usize {
        self.conns.lock().await.len()
    }
}
