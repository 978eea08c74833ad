//! A small client for Patroni's REST API (the same endpoints `patronictl` calls): `GET /cluster` for the
//! members as Patroni sees them and `POST /switchover` to move the leader before its pod restarts.
//!
//! Patroni serves the API over TLS with the cluster's server certificate (`restapi.certfile`, see
//! `patroni.rs`), so the engine trusts the cluster's CA and checks the name the certificate carries for pods
//! (`<pod>.<cluster>-pods.<ns>.svc.<suffix>`). With `verify_client: optional` Patroni wants a client
//! certificate from that CA for a switchover; the engine presents the replication client certificate.
//! The address comes from the engine's `Reacher` (pod IP in-cluster, a port-forward bridge on a workstation).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde::Deserialize;
use tokio::net::TcpStream;

/// Longest wait for a read (`GET /cluster`).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Patroni answers a switchover once it is done or failed; a clean one takes a few seconds, a checkpoint on a
/// busy primary longer.
const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PatroniError {
    #[error("the certificates in Secret {secret} are not usable for Patroni's API: {reason}")]
    BadCa { secret: String, reason: String },
    #[error("cannot connect to Patroni at {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("Patroni's TLS handshake with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error("Patroni did not answer {what} within {seconds} s")]
    Timeout { what: String, seconds: u64 },
    #[error("Patroni refused {what}: HTTP {status}: {body}")]
    Refused { what: String, status: u16, body: String },
    #[error("Patroni's answer to {what} is not what its API documents: {reason}")]
    Unexpected { what: String, reason: String },
}

/// A member as `GET /cluster` lists it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Member {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub state: String,
    /// Bytes behind the leader; Patroni writes `"unknown"` when it cannot tell, kept as `None`.
    #[serde(default, deserialize_with = "lag_bytes")]
    pub lag: Option<i64>,
}

impl Member {
    pub fn is_leader(&self) -> bool {
        matches!(self.role.as_str(), "leader" | "master" | "primary" | "standby_leader")
    }

    /// A replica Patroni would promote: replicating and not tagged away from promotion.
    pub fn can_take_over(&self) -> bool {
        matches!(self.role.as_str(), "replica" | "sync_standby" | "quorum_standby")
            && matches!(self.state.as_str(), "streaming" | "running")
    }
}

fn lag_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    })
}

#[derive(Deserialize)]
struct ClusterReply {
    members: Vec<Member>,
}

/// Parses a `GET /cluster` body.
pub fn parse_cluster(body: &str) -> Result<Vec<Member>, String> {
    serde_json::from_str::<ClusterReply>(body).map(|c| c.members).map_err(|e| e.to_string())
}

/// The replica among `allowed` (pod names) to hand the leadership to: healthy in Patroni's eyes, least lag,
/// then name for a stable choice.
pub fn pick_candidate<'a>(members: &'a [Member], allowed: &[String]) -> Option<&'a Member> {
    members
        .iter()
        .filter(|m| m.can_take_over() && allowed.contains(&m.name))
        .min_by_key(|m| (m.lag.unwrap_or(i64::MAX), m.name.clone()))
}

/// One Patroni member's API endpoint.
pub struct PatroniApi {
    addr: SocketAddr,
    server: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
}

impl PatroniApi {
    /// `ca_pem` is `ca.crt` of the Secret named `secret`; `server` the DNS name the certificate must carry;
    /// `client` a certificate and key issued by the same CA — with `verify_client: optional` Patroni serves
    /// reads without one but refuses a switchover ("client certificate required").
    pub fn new(
        addr: SocketAddr,
        server: &str,
        ca_pem: &[u8],
        client: (&[u8], &[u8]),
        secret: &str,
    ) -> Result<Self, PatroniError> {
        let bad = |reason: String| PatroniError::BadCa { secret: secret.to_string(), reason };
        let mut roots = rustls::RootCertStore::empty();
        let mut any = false;
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
            any = true;
        }
        if !any {
            return Err(bad("no PEM certificate in it".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots);
        let chain = CertificateDer::pem_slice_iter(client.0)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("tls.crt: {e}")))?;
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(client.1).map_err(|e| bad(format!("tls.key: {e}")))?;
        let tls = tls.with_client_auth_cert(chain, key).map_err(|e| bad(format!("client certificate: {e}")))?;
        let server = ServerName::try_from(server.to_string()).map_err(|e| PatroniError::Tls {
            server: server.to_string(),
            reason: format!("not a valid DNS name: {e}"),
        })?;
        Ok(PatroniApi { addr, server, tls: Arc::new(tls) })
    }

    pub async fn cluster(&self) -> Result<Vec<Member>, PatroniError> {
        let what = "GET /cluster";
        let body = self.call(http::Method::GET, "/cluster", None, READ_TIMEOUT).await?;
        parse_cluster(&body).map_err(|reason| PatroniError::Unexpected { what: what.into(), reason })
    }

    /// Asks for the leadership to move from `leader` to `candidate` now; Patroni answers when it is done.
    pub async fn switchover(&self, leader: &str, candidate: &str) -> Result<String, PatroniError> {
        let body = serde_json::json!({"leader": leader, "candidate": candidate}).to_string();
        self.call(http::Method::POST, "/switchover", Some(body), SWITCHOVER_TIMEOUT).await
    }

    async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<String>,
        limit: Duration,
    ) -> Result<String, PatroniError> {
        let what = format!("{method} {path}");
        match tokio::time::timeout(limit, self.exchange(method, path, body, &what)).await {
            Ok(r) => r,
            Err(_) => Err(PatroniError::Timeout { what, seconds: limit.as_secs() }),
        }
    }

    async fn exchange(
        &self,
        method: http::Method,
        path: &str,
        body: Option<String>,
        what: &str,
    ) -> Result<String, PatroniError> {
        let server = format!("{:?}", self.server);
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| PatroniError::Connect { addr: self.addr, reason: e.to_string() })?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(self.server.clone(), tcp)
            .await
            .map_err(|e| PatroniError::Tls { server: server.clone(), reason: e.to_string() })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| PatroniError::Connect { addr: self.addr, reason: e.to_string() })?;
        let driver = tokio::spawn(conn);
        let host = match &self.server {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            _ => self.addr.to_string(),
        };
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, host)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| PatroniError::Unexpected { what: what.into(), reason: e.to_string() })?;
        let unexpected = |reason: String| PatroniError::Unexpected { what: what.into(), reason };
        let reply = sender.send_request(request).await.map_err(|e| unexpected(e.to_string()))?;
        let status = reply.status().as_u16();
        let bytes = reply.into_body().collect().await.map_err(|e| unexpected(e.to_string()))?.to_bytes();
        driver.abort();
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(PatroniError::Refused { what: what.into(), status, body: text })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape Patroni 3/4 returns from GET /cluster.
    const CLUSTER: &str = r#"{"members": [
        {"name": "c-a-x1-0", "role": "leader", "state": "running", "api_url": "https://h:8008/patroni",
         "host": "h", "port": 5432, "timeline": 3},
        {"name": "c-a-x2-0", "role": "replica", "state": "streaming", "host": "h", "port": 5432,
         "timeline": 3, "lag": 0},
        {"name": "c-a-x3-0", "role": "replica", "state": "streaming", "host": "h", "port": 5432,
         "timeline": 3, "lag": 4096},
        {"name": "c-a-x4-0", "role": "replica", "state": "stopped", "lag": "unknown"}
    ], "scope": "c-ha"}"#;

    #[test]
    fn cluster_reply_parses_with_unknown_lag() {
        let m = parse_cluster(CLUSTER).unwrap();
        assert_eq!(m.len(), 4);
        assert!(m[0].is_leader());
        assert_eq!(m[2].lag, Some(4096));
        assert_eq!(m[3].lag, None);
        assert!(!m[3].can_take_over(), "a stopped member is no candidate");
    }

    #[test]
    fn candidate_is_the_healthy_allowed_replica_with_least_lag() {
        let m = parse_cluster(CLUSTER).unwrap();
        let all: Vec<String> = m.iter().map(|m| m.name.clone()).collect();
        assert_eq!(pick_candidate(&m, &all).unwrap().name, "c-a-x2-0");
        let only_lagging = vec!["c-a-x3-0".to_string(), "c-a-x4-0".to_string()];
        assert_eq!(pick_candidate(&m, &only_lagging).unwrap().name, "c-a-x3-0");
        assert!(pick_candidate(&m, &["c-a-x4-0".to_string(), "c-a-x1-0".to_string()]).is_none());
    }
}
