//! A stand-in for Orchestrator's HTTP API, for tests that have real MariaDB servers but no
//! Orchestrator binary (none is installable offline). It serves one call, Percona's
//! `GET /api/graceful-master-takeover-auto/<cluster hint>/<host>/<port>`, and answers it the way
//! Orchestrator would — by really promoting the replica of a [`MariaDbPair`] and repointing the old
//! source at it — with Orchestrator's `{Code, Message, Details}` reply. Every request path and the
//! moment the takeover was done go into a [`Journal`] the test reads.
//!
//! Use with `#[path = "support/dbservers.rs"] mod dbservers;` declared at the test crate's root.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::dbservers::{ADMIN_PASSWORD, ADMIN_USER, MariaDbPair};

const TAKEOVER_PREFIX: &str = "/api/graceful-master-takeover-auto/";

/// What happened, in the order it happened; shared between the server and the test.
#[derive(Clone, Default, Debug)]
pub struct Journal {
    entries: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Journal {
    pub fn note(&self, what: impl Into<String>) {
        self.entries.lock().unwrap().push(what.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.entries.lock().unwrap().clone()
    }
    /// Request paths received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The one takeover this stand-in can perform: the pair's replica, known to Orchestrator as
/// `new_source_host:3306` in cluster `hint`, becomes the source.
pub struct Takeover {
    pub hint: String,
    pub new_source_host: String,
    pub pair: Arc<MariaDbPair>,
    /// Valid requests refused first (as Orchestrator refuses while a replica lags), before one is served.
    pub refuse: AtomicUsize,
}

/// The message a refused takeover carries.
pub const REFUSAL: &str = "Designated instance is lagging; refusing graceful takeover";

/// Starts the server on 127.0.0.1 and returns its address; it runs until the test's runtime ends.
pub async fn start(takeover: Takeover, journal: Journal) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the stand-in Orchestrator");
    let addr = listener.local_addr().expect("local addr");
    let takeover = Arc::new(takeover);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (takeover, journal) = (takeover.clone(), journal.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (takeover, journal) = (takeover.clone(), journal.clone());
                    async move { Ok::<_, Infallible>(answer(&takeover, &journal, req.uri().path()).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(sock), service).await;
            });
        }
    });
    addr
}

fn reply(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"Code": code, "Message": message, "Details": null}).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

async fn answer(takeover: &Takeover, journal: &Journal, path: &str) -> Response<Full<Bytes>> {
    journal.requests.lock().unwrap().push(path.to_string());
    let Some(args) = path.strip_prefix(TAKEOVER_PREFIX) else {
        return reply(404, "ERROR", &format!("not served by this stand-in: {path}"));
    };
    let parts: Vec<&str> = args.split('/').collect();
    let [hint, host, port] = parts.as_slice() else {
        return reply(500, "ERROR", "expected <cluster hint>/<host>/<port>");
    };
    if *hint != takeover.hint {
        return reply(500, "ERROR", &format!("Unable to determine cluster name for {hint}"));
    }
    if *host != takeover.new_source_host || *port != "3306" {
        return reply(500, "ERROR", &format!("{host}:{port} is not a replica of the master"));
    }
    if takeover.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        journal.note("takeover refused");
        return reply(500, "ERROR", REFUSAL);
    }
    let pair = takeover.pair.clone();
    // Promote the replica, then make the old source replicate from it (the `mariadb` client blocks).
    let switched = tokio::task::spawn_blocking(move || {
        pair.replica.root_sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;")?;
        pair.source.root_sql(&format!(
            "SET GLOBAL read_only = 1; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, \
             MASTER_USER='{ADMIN_USER}', MASTER_PASSWORD='{ADMIN_PASSWORD}', MASTER_USE_GTID=slave_pos, \
             MASTER_CONNECT_RETRY=1; START SLAVE;",
            pair.replica.port
        ))
    })
    .await
    .expect("the takeover task runs");
    match switched {
        Ok(_) => {
            journal.note(format!("takeover done: {host}:{port} is the source"));
            reply(200, "OK", &format!("graceful-master-takeover: promoted {host}:{port}"))
        }
        Err(e) => reply(500, "ERROR", &e),
    }
}
