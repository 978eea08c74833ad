//! Port-forward to sandbox pods, relayed to real local endpoints.
//!
//! A sandbox pod runs no process, so a pod port can be *attached* to a real endpoint (a database on loopback):
//!
//! - in process: [`Sandbox::attach`]`(namespace, pod, port, target)`, [`Sandbox::detach`];
//! - over HTTP: `POST /_sandbox/attach` with `{"namespace": "db", "pod": "pg-0", "port": 5432,
//!   "target": "127.0.0.1:15432"}` (`namespace` defaults to `default`), `DELETE /_sandbox/attach` with the same
//!   body minus `target`, and `GET /_sandbox/attach` listing every attachment.
//!
//! `GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=P[,Q]` with a WebSocket upgrade then speaks the
//! channel protocol kube-rs's `Api::<Pod>::portforward` (and client-go's WebSocket port-forward) expect:
//! subprotocol `v4.channel.k8s.io`; every binary message starts with a channel byte; port number i uses channel
//! 2i for data and 2i+1 for errors; the server first sends, on both channels of each port, the port number as
//! two little-endian bytes; then data flows both ways on the data channel. A port that is not attached, or whose
//! target refuses the connection, gets one UTF-8 message on its error channel (worded like the kubelet's
//! "error forwarding port …") and the connection closes once every port is done, as the kubelet does. A pod
//! that does not exist or a bad `ports` parameter fail before the upgrade with a `Status` body (404 / 400), which
//! kube reports as an API error. kubectl's SPDY tunnelling is not served.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::RwLock;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::Sandbox;
use super::server::error_response;
use super::status::ApiError;

/// The subprotocols we answer, best first; all use the same binary channel framing for port-forward.
const SUBPROTOCOLS: &[&str] = &["v4.channel.k8s.io", "channel.k8s.io", "portforward.k8s.io"];

/// How long a port waits for its attached endpoint to accept.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the client gets to answer our close frame.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Attach bodies are a few fields.
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Bytes read from a target per WebSocket message.
const CHUNK: usize = 32 * 1024;

/// Said (inside the kubelet-like port-forward error) for a pod port no endpoint is attached to; clients that want
/// to say it more briefly can recognise it.
pub const NOT_ATTACHED: &str = "nothing is attached to this port in the sandbox";

/// Which pod port goes to which local endpoint.
#[derive(Default)]
pub struct Attachments {
    map: RwLock<BTreeMap<(String, String, u16), SocketAddr>>,
}

impl Attachments {
    pub fn attach(&self, namespace: &str, pod: &str, port: u16, target: SocketAddr) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.insert((namespace.to_string(), pod.to_string(), port), target);
    }

    pub fn detach(&self, namespace: &str, pod: &str, port: u16) -> bool {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.remove(&(namespace.to_string(), pod.to_string(), port)).is_some()
    }

    pub fn target(&self, namespace: &str, pod: &str, port: u16) -> Option<SocketAddr> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(namespace.to_string(), pod.to_string(), port)).copied()
    }

    fn to_json(&self) -> Value {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let items: Vec<Value> = map
            .iter()
            .map(|((ns, pod, port), target)| {
                json!({"namespace": ns, "pod": pod, "port": port, "target": target.to_string()})
            })
            .collect();
        json!({ "items": items })
    }
}

/// The sandbox's router calls this first: an attach admin call or a port-forward is answered here, any other
/// request is handed back untouched.
pub(crate) async fn route(sb: &Sandbox, req: Request) -> Result<Response, Request> {
    let path = req.uri().path().to_string();
    if path.trim_end_matches('/') == "/_sandbox/attach" {
        let (parts, body) = req.into_parts();
        let result = match axum::body::to_bytes(body, MAX_ADMIN_BODY).await {
            Ok(body) => admin(sb, &parts.method, &body),
            Err(e) => Err(ApiError::bad_request(format!("attach: cannot read the request body: {e}"))),
        };
        return Ok(match result {
            Ok(v) => {
                let mut resp = (StatusCode::OK, v.to_string()).into_response();
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                resp
            }
            Err(e) => error_response(&e),
        });
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "v1", "namespaces", ns, "pods", name, "portforward"] = segs.as_slice() else { return Err(req) };
    let (mut parts, _body) = req.into_parts();
    Ok(match upgrade(sb, &mut parts, ns, name) {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(namespace = %ns, pod = %name, reason = %e.message, "sandbox port-forward refused");
            error_response(&e)
        }
    })
}

fn admin(sb: &Sandbox, method: &Method, body: &Bytes) -> Result<Value, ApiError> {
    let attachments = sb.attachments();
    if *method == Method::GET {
        return Ok(attachments.to_json());
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("attach: the body is not JSON: {e}")))?;
    let namespace = v["namespace"].as_str().unwrap_or("default");
    let pod = v["pod"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("attach: \"pod\" must be a pod name"))?;
    let port = v["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::bad_request("attach: \"port\" must be a port number between 1 and 65535"))?;
    match method.as_str() {
        "POST" | "PUT" => {
            let raw = v["target"].as_str().unwrap_or_default();
            let target: SocketAddr = raw.parse().map_err(|_| {
                ApiError::bad_request(format!("attach: \"target\" must be an IP:PORT address, not {raw:?}"))
            })?;
            attachments.attach(namespace, pod, port, target);
            tracing::info!(%namespace, %pod, port, %target, "sandbox pod port attached");
            Ok(json!({"namespace": namespace, "pod": pod, "port": port, "target": target.to_string()}))
        }
        "DELETE" => {
            let removed = attachments.detach(namespace, pod, port);
            Ok(json!({"namespace": namespace, "pod": pod, "port": port, "detached": removed}))
        }
        other => Err(ApiError::new(405, "MethodNotAllowed", format!("attach: method {other} is not supported"))),
    }
}

/// `ports=80,443` or `ports=80&ports=443` (client-go repeats the key; kube joins with an encoded comma).
fn parse_ports(query: Option<&str>) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for pair in query.unwrap_or_default().split('&') {
        let Some(value) = pair.strip_prefix("ports=") else { continue };
        let value = value.replace("%2C", ",").replace("%2c", ",");
        for item in value.split(',').filter(|s| !s.is_empty()) {
            let port = item
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::bad_request(format!("invalid port number {item:?}")))?;
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request("query parameter \"ports\" is required"));
    }
    Ok(ports)
}

/// kubectl tunnels SPDY streams (ports named in stream headers, not the query), over a WebSocket since 1.31 or as
/// a bare SPDY upgrade. The sandbox does not speak SPDY; say so instead of a puzzling "ports is required".
fn refuse_spdy(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let spdy = text("upgrade").starts_with("spdy")
        || text("sec-websocket-protocol").contains("spdy/")
        || text("x-stream-protocol-version").contains("portforward.k8s.io");
    if spdy {
        return Err(ApiError::bad_request(
            "the dbdeck sandbox serves port-forward only as kube-rs speaks it (WebSocket v4.channel.k8s.io, ports in \
             the query); kubectl's SPDY port-forward is not served. The pod forwards to the endpoint it was attached \
             to with `dbdeck sandbox attach`: connect to that address directly",
        ));
    }
    Ok(())
}

fn upgrade(sb: &Sandbox, parts: &mut Parts, ns: &str, name: &str) -> Result<Response, ApiError> {
    let pods =
        sb.store().resource("", "v1", "pods").ok_or_else(|| ApiError::internal("the sandbox has no Pod kind"))?;
    sb.store().get(&pods, ns, name)?;
    refuse_spdy(&parts.headers)?;
    let ports = parse_ports(parts.uri.query())?;
    let header_str = |h: header::HeaderName| parts.headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !header_str(header::UPGRADE).eq_ignore_ascii_case("websocket") {
        return Err(ApiError::bad_request("Upgrade request required: port-forward needs a WebSocket connection"));
    }
    let key = parts
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| ApiError::bad_request("the WebSocket upgrade has no Sec-WebSocket-Key"))?;
    let accept = derive_accept_key(key.as_bytes());
    let offered: Vec<String> =
        header_str(header::SEC_WEBSOCKET_PROTOCOL).split(',').map(|p| p.trim().to_string()).collect();
    let protocol = SUBPROTOCOLS.iter().find(|p| offered.iter().any(|o| o == *p)).copied();
    if protocol.is_none() && offered.iter().any(|o| !o.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "none of the WebSocket subprotocols {offered:?} is supported; use {}",
            SUBPROTOCOLS[0]
        )));
    }
    // Only a real connection (the HTTPS listener) can be upgraded; an in-process tower client cannot.
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::bad_request("this connection cannot be upgraded; port-forward needs the listener"))?;

    let targets: Vec<(u16, Option<SocketAddr>)> =
        ports.iter().map(|p| (*p, sb.attachments().target(ns, name, *p))).collect();
    let pod = format!("{ns}/{name}");
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
                relay(ws, pod, targets).await;
            }
            Err(e) => tracing::debug!(%pod, error = %e, "port-forward upgrade failed"),
        }
    });

    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).map_err(|e| ApiError::internal(e.to_string()))?,
    );
    if let Some(p) = protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
    }
    Ok(resp)
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bin = Vec::with_capacity(data.len() + 1);
    bin.push(channel);
    bin.extend_from_slice(data);
    Message::binary(bin)
}

/// What the WebSocket writer is told.
enum Out {
    Frame(Message),
    /// The port's target side is finished (EOF, error, or never connected).
    PortDone,
    /// The client closed the WebSocket: answer its close and stop.
    Closed,
}

/// Runs one port-forward session: connects every port to its target and shuttles frames until the client
/// closes or every port is done.
///
/// Reading from the client and writing to it run separately: a target that stops reading (its queue full)
/// must not stop the bytes flowing back, or an echoing target would deadlock the session.
async fn relay<S>(ws: WebSocketStream<S>, pod: String, targets: Vec<(u16, Option<SocketAddr>)>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    for (i, (port, _)) in targets.iter().enumerate() {
        let data = (2 * i) as u8;
        for ch in [data, data + 1] {
            if sink.send(frame(ch, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(16);
    // One inbound queue per port so a slow target does not stall the others.
    let mut to_ports: Vec<Option<mpsc::Sender<Bytes>>> = Vec::with_capacity(targets.len());
    for (i, (port, target)) in targets.iter().copied().enumerate() {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        to_ports.push(Some(tx));
        tokio::spawn(port_task(i, port, target, pod.clone(), rx, out_tx.clone()));
    }
    let ports = targets.len();
    let mut writer = tokio::spawn(async move {
        let mut live = ports;
        while let Some(out) = out_rx.recv().await {
            match out {
                Out::Frame(msg) => {
                    if sink.send(msg).await.is_err() {
                        return None;
                    }
                }
                Out::PortDone => {
                    live = live.saturating_sub(1);
                    if live == 0 {
                        break;
                    }
                }
                Out::Closed => break,
            }
        }
        // Every port is done (as a kubelet does, end the session) or the client closed: a close frame either way.
        let _ = sink.send(Message::Close(None)).await;
        Some(sink)
    });
    let mut sink = None;
    let mut writer_done = false;
    loop {
        tokio::select! {
            // The writer ended the session: only the client's close reply is still expected.
            done = &mut writer, if !writer_done => {
                writer_done = true;
                sink = done.ok().flatten();
            }
            _ = tokio::time::sleep(CLOSE_WAIT), if writer_done => break,
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(mut bytes))) if bytes.len() > 1 && !writer_done => {
                    let ch = bytes.split_to(1)[0] as usize;
                    // Only data channels carry client bytes; anything written to an error channel is ignored.
                    if ch.is_multiple_of(2)
                        && let Some(Some(tx)) = to_ports.get(ch / 2)
                        && tx.send(bytes).await.is_err()
                    {
                        to_ports[ch / 2] = None;
                    }
                }
                Some(Ok(Message::Close(_))) => {
                    if !writer_done {
                        let _ = out_tx.send(Out::Closed).await;
                        sink = (&mut writer).await.ok().flatten();
                    }
                    break;
                }
                None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    if !writer_done && sink.is_none() {
        writer.abort();
    }
    // Flush the close handshake and end TLS properly (close_notify) rather than just dropping the connection.
    if let Some(sink) = sink
        && let Ok(mut ws) = sink.reunite(stream)
    {
        let _ = ws.flush().await;
        let _ = ws.get_mut().shutdown().await;
    }
    // Dropping the inbound senders lets every port task shut its target connection down.
    drop(to_ports);
    tracing::debug!(%pod, "port-forward session ended");
}

async fn port_task(
    index: usize,
    port: u16,
    target: Option<SocketAddr>,
    pod: String,
    mut inbound: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Out>,
) {
    let data_ch = (2 * index) as u8;
    let fail = |why: String| {
        let out = out.clone();
        let msg = format!("error forwarding port {port} to pod {pod}: {why}");
        async move {
            tracing::debug!(message = %msg, "sandbox port-forward error");
            let _ = out.send(Out::Frame(frame(data_ch + 1, msg.as_bytes()))).await;
            let _ = out.send(Out::PortDone).await;
        }
    };
    let Some(target) = target else {
        fail(format!("{NOT_ATTACHED} (POST /_sandbox/attach to bind it to a local endpoint)")).await;
        return;
    };
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            fail(format!("failed to connect to the attached endpoint {target}: {e}")).await;
            return;
        }
        Err(_) => {
            let secs = CONNECT_TIMEOUT.as_secs();
            fail(format!("failed to connect to the attached endpoint {target}: no answer within {secs} s")).await;
            return;
        }
    };
    let (mut reader, mut writer) = conn.into_split();
    let upstream = async move {
        while let Some(bytes) = inbound.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        // The client is gone (or the session ended): half-close so the target sees EOF.
        let _ = writer.shutdown().await;
    };
    let out_data = out.clone();
    let downstream = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out_data.send(Out::Frame(frame(data_ch, &buf[..n]))).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    // The target closing its side ends the port, as a kubelet does; the client closing ends the session.
    tokio::select! {
        _ = downstream => {}
        _ = upstream => {}
    }
    let _ = out.send(Out::PortDone).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_from_kube_and_client_go_forms() {
        assert_eq!(parse_ports(Some("&ports=80%2C1234")).unwrap(), vec![80, 1234]);
        assert_eq!(parse_ports(Some("ports=5432&ports=3306")).unwrap(), vec![5432, 3306]);
        let missing = parse_ports(Some("")).unwrap_err();
        assert_eq!(missing.code, 400);
        assert!(missing.message.contains("\"ports\" is required"), "{}", missing.message);
        let bad = parse_ports(Some("ports=http")).unwrap_err();
        assert!(bad.message.contains("\"http\""), "{}", bad.message);
        assert!(parse_ports(Some("ports=0")).is_err());
    }

    #[test]
    fn attachments_are_per_pod_port() {
        let a = Attachments::default();
        let target: SocketAddr = "127.0.0.1:15432".parse().unwrap();
        a.attach("db", "pg-0", 5432, target);
        assert_eq!(a.target("db", "pg-0", 5432), Some(target));
        assert_eq!(a.target("db", "pg-0", 5433), None);
        assert_eq!(a.target("other", "pg-0", 5432), None);
        assert_eq!(a.to_json()["items"][0]["target"], "127.0.0.1:15432");
        assert!(a.detach("db", "pg-0", 5432));
        assert!(!a.detach("db", "pg-0", 5432));
        assert_eq!(a.target("db", "pg-0", 5432), None);
    }
}
