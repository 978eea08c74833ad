//! One kept connection per (endpoint, user, protocol), handed out to one reading at a time.
//!
//! A reading takes the connection out and puts it back only when it succeeded, so a broken connection is dropped
//! and the next refresh connects anew. Two concurrent readings of the same key simply open a second connection;
//! the later `put` replaces (and closes) the earlier one.

use std::collections::HashMap;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use sha2::{Digest, Sha256};

use super::{Credentials, Endpoint, TlsMode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Protocol {
    Mysql,
    Postgres,
}

/// A kept connection is only handed to a reading with the same credentials: a changed (or wrong) password must
/// reach the server, not ride on a session opened with the old one. The password enters the key as a digest so
/// the map never holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    pub endpoint: Endpoint,
    pub user: String,
    pub password_digest: [u8; 32],
    pub tls: TlsMode,
    pub protocol: Protocol,
}

impl PoolKey {
    pub fn new(endpoint: &Endpoint, creds: &Credentials, tls: &TlsMode, protocol: Protocol) -> Self {
        let digest = Sha256::digest(creds.password.expose().as_bytes());
        PoolKey {
            endpoint: endpoint.clone(),
            user: creds.user.clone(),
            password_digest: digest.into(),
            tls: tls.clone(),
            protocol,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_password_without_holding_it() {
        let ep = Endpoint::new("127.0.0.1", 3306);
        let a = PoolKey::new(&ep, &Credentials::new("monitor", "one"), &TlsMode::Disable, Protocol::Mysql);
        let b = PoolKey::new(&ep, &Credentials::new("monitor", "two"), &TlsMode::Disable, Protocol::Mysql);
        assert_ne!(a, b);
        assert_eq!(a, PoolKey::new(&ep, &Credentials::new("monitor", "one"), &TlsMode::Disable, Protocol::Mysql));
        assert!(!format!("{a:?}").contains("one"));
    }
}
