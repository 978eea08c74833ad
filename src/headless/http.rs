//! The operator's HTTP endpoints for the kubelet and Prometheus:
//! - `GET /healthz`: the process serves requests (liveness);
//! - `GET /readyz`: 200 once this replica is ready (a follower is; a leader once the engine's caches synced), else 503;
//! - `GET /metrics`: the registry in OpenMetrics text when the scraper asks for it (Prometheus does), else in the
//!   classic Prometheus text format 0.0.4 (curl, older scrapers);
//! - `GET /loglevel`, `PUT /loglevel`: read or replace the log filter (see `logging`). The port is usually open to
//!   the pod network, so a change is refused unless the process was started to allow it: for anyone who reaches the
//!   port (`--allow-loglevel-changes`) or for requests carrying a bearer token (`--loglevel-token-file`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::logging::LogControl;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr} for /healthz, /readyz and /metrics: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the metrics server on {addr} stopped: {source}")]
    Serve { addr: SocketAddr, source: std::io::Error },
}

/// Who may change the log level with `PUT /loglevel`.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum LogLevelWrites {
    /// Nobody: the read-only endpoints are all that is served.
    #[default]
    Refused,
    /// Anyone who reaches the port.
    Open,
    /// Requests with `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for LogLevelWrites {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogLevelWrites::Refused => "Refused",
            LogLevelWrites::Open => "Open",
            LogLevelWrites::Bearer(_) => "Bearer(..)",
        })
    }
}

/// What the endpoints read.
#[derive(Clone)]
pub struct HttpState {
    pub registry: Arc<Registry>,
    /// Why this replica is not ready, or `None` when it is.
    pub not_ready: watch::Receiver<Option<String>>,
    pub log: Option<LogControl>,
    pub log_writes: LogLevelWrites,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/loglevel", get(get_loglevel).put(put_loglevel))
        .with_state(state)
}

async fn readyz(State(s): State<HttpState>) -> Response {
    match s.not_ready.borrow().clone() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
    }
}

async fn metrics(State(s): State<HttpState>, headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match super::metrics::encode(&s.registry) {
        Ok(text) if openmetrics => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Ok(text) => {
            ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], super::metrics::to_prometheus_text(&text)).into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n").into_response(),
    }
}

async fn get_loglevel(State(s): State<HttpState>) -> Response {
    match &s.log {
        Some(log) => format!("{}\n", log.current()).into_response(),
        None => (StatusCode::NOT_FOUND, "the log level is not adjustable in this process\n").into_response(),
    }
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn put_loglevel(State(s): State<HttpState>, headers: axum::http::HeaderMap, body: String) -> Response {
    let Some(log) = &s.log else {
        return (StatusCode::NOT_FOUND, "the log level is not adjustable in this process\n").into_response();
    };
    match &s.log_writes {
        LogLevelWrites::Open => {}
        LogLevelWrites::Refused => {
            return (
                StatusCode::FORBIDDEN,
                "changing the log level over HTTP is off; start dbdeck with --allow-loglevel-changes or \
                 --loglevel-token-file to allow it\n",
            )
                .into_response();
        }
        LogLevelWrites::Bearer(token) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "changing the log level needs the bearer token of --loglevel-token-file\n",
                )
                    .into_response();
            }
        }
    }
    match log.set(&body) {
        Ok(()) => format!("{}\n", log.current()).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(addr).await.map_err(|source| HttpError::Bind { addr, source })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().map_err(|source| HttpError::Bind { addr: ([0, 0, 0, 0], 0).into(), source })?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| HttpError::Serve { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, path: &str, body: &str) -> (StatusCode, String) {
        let req = axum::http::Request::builder().method(method).uri(path).body(Body::from(body.to_string())).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn readyz_follows_the_channel_and_loglevel_validates() {
        let (tx, rx) = watch::channel(Some("the engine's caches have not synced".to_string()));
        let (_layer, log) = super::super::logging::reloadable("info").unwrap();
        let app = router(HttpState {
            registry: Arc::new(Registry::default()),
            not_ready: rx,
            log: Some(log),
            log_writes: LogLevelWrites::Open,
        });
        assert_eq!(call(&app, "GET", "/healthz", "").await.0, StatusCode::OK);
        let (status, body) = call(&app, "GET", "/readyz", "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("caches"), "{body}");
        tx.send_replace(None);
        assert_eq!(call(&app, "GET", "/readyz", "").await.0, StatusCode::OK);
        assert_eq!(call(&app, "PUT", "/loglevel", "debug").await, (StatusCode::OK, "debug\n".into()));
        assert_eq!(call(&app, "PUT", "/loglevel", "x=y=z").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(call(&app, "GET", "/loglevel", "").await.1, "debug\n");
        let (status, body) = call(&app, "GET", "/metrics", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.contains("# EOF"), "{body}");
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_when_asked_else_prometheus_text() {
        let (_tx, rx) = watch::channel(None);
        let mut registry = Registry::default();
        super::super::metrics::HeadlessMetrics::default().register(&mut registry);
        let app = router(HttpState {
            registry: Arc::new(registry),
            not_ready: rx,
            log: None,
            log_writes: LogLevelWrites::Refused,
        });
        let get = |accept: Option<&'static str>| {
            let app = app.clone();
            async move {
                let mut req = axum::http::Request::builder().uri("/metrics");
                if let Some(a) = accept {
                    req = req.header(header::ACCEPT, a);
                }
                let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
                let ct = resp.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                (ct, String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        let (ct, body) = get(Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).await;
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        assert!(body.ends_with("# EOF\n"), "{body}");
        let (ct, body) = get(None).await;
        assert_eq!(ct, PROMETHEUS_TEXT);
        assert!(body.contains("# TYPE dbdeck_leader_terms_total counter\n"), "{body}");
        assert!(body.contains("# TYPE dbdeck_build_info gauge\n"), "{body}");
        assert!(!body.contains("# EOF"), "{body}");
    }

    #[tokio::test]
    async fn loglevel_changes_are_refused_unless_allowed_or_authenticated() {
        let (_tx, rx) = watch::channel(None);
        let (_layer, log) = super::super::logging::reloadable("info").unwrap();
        let app = |writes: LogLevelWrites| {
            router(HttpState {
                registry: Arc::new(Registry::default()),
                not_ready: rx.clone(),
                log: Some(log.clone()),
                log_writes: writes,
            })
        };
        let put = |app: Router, auth: Option<&'static str>| async move {
            let mut req = axum::http::Request::builder().method("PUT").uri("/loglevel");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let resp = app.oneshot(req.body(Body::from("debug")).unwrap()).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        };
        let refused = app(LogLevelWrites::Refused);
        let (status, body) = put(refused.clone(), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("--allow-loglevel-changes"), "{body}");
        assert_eq!(log.current(), "info", "a refused change changes nothing");
        // Reading stays open, as do the probes and the metrics.
        assert_eq!(call(&refused, "GET", "/loglevel", "").await, (StatusCode::OK, "info\n".into()));
        assert_eq!(call(&refused, "GET", "/metrics", "").await.0, StatusCode::OK);

        let token = app(LogLevelWrites::Bearer("s3cret".into()));
        assert_eq!(put(token.clone(), None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(put(token.clone(), Some("Bearer wrong")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(log.current(), "info");
        assert_eq!(put(token, Some("Bearer s3cret")).await, (StatusCode::OK, "debug\n".into()));
        assert_eq!(put(app(LogLevelWrites::Open), None).await.0, StatusCode::OK);
        assert_eq!(format!("{:?}", LogLevelWrites::Bearer("s3cret".into())), "Bearer(..)");
    }
}
