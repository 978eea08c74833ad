//! The HTTPS front door: TLS (HTTP/1.1 and HTTP/2), bearer-token authentication on every request, streamed
//! responses, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// A client that has not finished the TLS handshake by then is dropped, so it cannot hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown is requested, open requests get this long to finish; then connections are closed. Watches
/// last up to their `timeoutSeconds` (minutes), so waiting for them would stall every shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The body of every 401, as a real API server without anonymous auth sends it.
pub const UNAUTHORIZED_BODY: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// Where the sandbox keeps its state by default: `$XDG_STATE_HOME/dbdeck/sandbox` (usually
/// `~/.local/state/dbdeck/sandbox`), or the platform's local data directory where there is no state directory
/// (macOS, Windows). `None` when the home directory is unknown.
pub fn default_state_dir() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir).map(|d| d.join("dbdeck").join("sandbox"))
}

/// Serves `router` over TLS on `listener` until `shutdown` completes. Every request must carry
/// `Authorization: Bearer <token>` (even `/version`); others get 401 with [`UNAUTHORIZED_BODY`]. Response bodies
/// are streamed frame by frame, so a watch reaches the client event by event.
pub async fn serve(
    router: Router,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    token: String,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let token: Arc<str> = token.into();
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    // Watch events are small writes that must leave at once.
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(handle(acceptor.clone(), tcp, router.clone(), token.clone(), graceful.watcher()));
                }
                Err(e) => {
                    // Usually out of file descriptors: pause instead of spinning, then keep serving.
                    tracing::warn!(error = %e, "sandbox listener could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::debug!(open = connections.len(), "sandbox listener shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::debug!("sandbox connections still open after the grace period; closing them");
    }
    connections.shutdown().await;
}

/// Completes the TLS handshake, then serves HTTP/2 or HTTP/1.1 (by ALPN or preface) on the connection until it
/// closes or a graceful shutdown finishes it.
async fn handle(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    router: Router,
    token: Arc<str>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    if plain_http(&tcp).await {
        use tokio::io::AsyncWriteExt;
        let mut tcp = tcp;
        tracing::debug!("sandbox got plain HTTP on its TLS port; answered 400");
        let _ = tcp.write_all(PLAIN_HTTP_ANSWER.as_bytes()).await;
        let _ = tcp.shutdown().await;
        return;
    }
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "sandbox TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("sandbox TLS handshake timed out");
            return;
        }
    };
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let router = router.clone();
        let token = token.clone();
        async move {
            if !authorized(req.headers(), &token) {
                tracing::debug!(method = %req.method(), path = %req.uri().path(), "sandbox request without a valid token");
                return Ok::<_, Infallible>(unauthorized());
            }
            router.oneshot(req.map(Body::new)).await
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "sandbox connection ended with an error");
    }
}

/// What Go's HTTPS servers (the API server among them) answer a plain-HTTP request with, so `curl http://…`
/// says what is wrong instead of showing a TLS alert.
pub const PLAIN_HTTP_ANSWER: &str = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// A TLS connection starts with a handshake record (0x16); an HTTP request starts with its method's first
/// letter. Peeking leaves the byte for the TLS acceptor.
async fn plain_http(tcp: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// Whether the request carries `Authorization: Bearer <token>` (scheme case-insensitive).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, presented)) = value.trim().split_once(' ') else { return false };
    scheme.eq_ignore_ascii_case("bearer") && constant_time_eq(presented.trim().as_bytes(), token.as_bytes())
}

/// Compares without an early exit on the first differing byte, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response<Body> {
    let mut response = Response::new(Body::from(UNAUTHORIZED_BODY));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_check() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert!(authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abd".parse().unwrap());
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer ab".parse().unwrap());
        assert!(!authorized(&h, "abc"));
    }

    #[test]
    fn unauthorized_body_is_a_status() {
        let v: serde_json::Value = serde_json::from_str(UNAUTHORIZED_BODY).unwrap();
        assert_eq!(v["reason"], "Unauthorized");
        assert_eq!(v["code"], 401);
    }

    #[test]
    fn default_state_dir_ends_in_dbdeck_sandbox() {
        if let Some(dir) = default_state_dir() {
            assert!(dir.ends_with("dbdeck/sandbox"), "{}", dir.display());
        }
    }
}
