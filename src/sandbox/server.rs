//! The HTTP face of the sandbox: one axum fallback handler that parses Kubernetes API paths and query
//! strings, applies injected faults, maps verbs onto the store and renders `Status` errors.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Sandbox;
use super::faults::WriteVerb;
use super::resources::ResourceType;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, delete_success};
use super::store::{DeleteOptions, ListOptions, PatchKind, Propagation, Subresource, WriteOptions, str_at};
use super::views::{RenderAs, list_json, to_view};
use super::watch::WatchOptions;
use super::{discovery, openapi};

/// Bodies larger than this are refused (upstream's limit is 3 MiB per object; lists can be bigger).
const MAX_BODY: usize = 16 * 1024 * 1024;

fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut resp = (code, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(code, &e.to_status());
    if let Some(secs) = e.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Query parameters (kube-rs sends `?&a=b`; empty pairs are skipped by the parser).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        let pairs = q
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (decode(k), decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Query(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// Percent-decoding with `+` as space, as form encoding does.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    // kubectl's typed clients (create namespace/configmap/secret) only send protobuf.
    if ct.contains("protobuf") {
        return super::protobuf::decode(body).map_err(|e| match e {
            super::protobuf::ProtoError::Unsupported(_) => ApiError::new(415, "UnsupportedMediaType", e.to_string()),
            other => ApiError::bad_request(other.to_string()),
        });
    }
    if ct.contains("cbor") {
        return Err(ApiError::unsupported_media_type(ct));
    }
    let parsed: Result<Value, String> = if ct.contains("yaml") {
        serde_yaml::from_slice(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded: {e}")))
}

/// Where in the API a request points.
struct Target {
    rt: ResourceType,
    ns: Option<String>,
    name: Option<String>,
    sub: Subresource,
}

fn resolve(sb: &Sandbox, group: &str, version: &str, rest: &[&str], path: &str) -> Result<Target, ApiError> {
    let not_found = || ApiError::no_route(path);
    let namespaced_path =
        rest.len() >= 3 && rest[0] == "namespaces" && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (ns, plural, name, sub) = if namespaced_path {
        if rest.len() > 5 {
            return Err(not_found());
        }
        (Some(rest[1]), rest[2], rest.get(3).copied(), rest.get(4).copied())
    } else {
        if rest.is_empty() || rest.len() > 3 {
            return Err(not_found());
        }
        (None, rest[0], rest.get(1).copied(), rest.get(2).copied())
    };
    let rt = sb.store().resource(group, version, plural).ok_or_else(not_found)?;
    if (!rt.namespaced && ns.is_some()) || (rt.namespaced && ns.is_none() && name.is_some()) {
        return Err(not_found());
    }
    let sub = match sub {
        None => Subresource::Main,
        Some("status") if rt.status_subresource => Subresource::Status,
        // CRDs are served with their status, and namespaces/{n}/finalize writes like status here.
        Some("status") if rt.kind == "CustomResourceDefinition" || rt.kind == "Namespace" => Subresource::Status,
        Some("finalize") if rt.kind == "Namespace" => Subresource::Main,
        Some("scale") if rt.scale_subresource.is_some() => Subresource::Scale,
        Some(_) => return Err(not_found()),
    };
    Ok(Target { rt, ns: ns.map(str::to_string), name: name.map(str::to_string), sub })
}

/// The field manager for non-apply writes: `fieldManager`, else the user agent's product name.
fn manager(q: &Query, headers: &HeaderMap) -> Option<String> {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return Some(m.to_string());
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())?;
    ua.split(['/', ' ']).next().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The Table columns: the apiserver's for built-in kinds, the CRD's printer columns for custom resources.
fn printer_columns(sb: &Sandbox, rt: &ResourceType) -> Vec<Value> {
    let builtin = super::printers::builtin_columns(rt);
    if !builtin.is_empty() {
        return builtin;
    }
    let Some(crd_rt) = sb.store().resource("apiextensions.k8s.io", "v1", "customresourcedefinitions") else {
        return vec![];
    };
    let name = format!("{}.{}", rt.plural, rt.group);
    let Ok(crd) = sb.store().get(&crd_rt, "", &name) else { return vec![] };
    let mut cols: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == rt.version.as_str())
        .and_then(|v| v["additionalPrinterColumns"].as_array().cloned())
        .unwrap_or_default();
    if !cols.is_empty() && !cols.iter().any(|c| c["jsonPath"] == ".metadata.creationTimestamp") {
        cols.push(json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}));
    }
    cols
}

pub(crate) async fn handle(State(sb): State<Sandbox>, req: Request) -> Response {
    let req = match super::portforward::route(&sb, req).await {
        Ok(answered) => return answered,
        Err(req) => req,
    };
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(format!("cannot read the request body: {e}"))),
    };
    if path.starts_with("/_sandbox/") {
        return match admin(&sb, &parts.method, &path, &body) {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => error_response(&e),
        };
    }
    let (latency, fault) = sb.inner.faults.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(e) = fault {
        return error_response(&e);
    }
    match serve(&sb, &parts.method, &parts.headers, &path, &query, &body) {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(method = %parts.method, %path, code = e.code, reason = e.reason, "sandbox request failed");
            error_response(&e)
        }
    }
}

fn admin(sb: &Sandbox, method: &Method, path: &str, body: &Bytes) -> Result<Value, ApiError> {
    if let Some(answer) = super::controllers::faults::admin(sb, method.as_str(), path) {
        return answer;
    }
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/_sandbox/faults") => Ok(serde_json::to_value(sb.faults()).unwrap_or_default()),
        ("PUT" | "POST" | "PATCH", "/_sandbox/faults") => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("faults: the body is not JSON: {e}")))?;
            let cfg = sb.merge_faults(&patch)?;
            tracing::info!(?cfg, "sandbox faults changed");
            Ok(serde_json::to_value(cfg).unwrap_or_default())
        }
        ("DELETE", "/_sandbox/faults") => {
            sb.set_faults(Default::default())?;
            Ok(serde_json::to_value(sb.faults()).unwrap_or_default())
        }
        ("POST", "/_sandbox/faults/expire-watches") => {
            sb.expire_watches();
            Ok(json!({"expired": true}))
        }
        ("POST", "/_sandbox/faults/drop-watches") => {
            sb.drop_watches();
            Ok(json!({"dropped": true}))
        }
        ("GET", "/_sandbox/stats") => Ok(sb.stats()),
        ("PUT" | "POST", "/_sandbox/history") => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("history: the body is not JSON: {e}")))?;
            let size = v["size"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::bad_request("history: \"size\" must be a positive integer"))?;
            sb.set_history_size(size);
            Ok(json!({"size": size}))
        }
        _ => Err(ApiError::no_route(path)),
    }
}

fn serve(
    sb: &Sandbox,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    q: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    let types = || sb.store().resources();
    if *method == Method::GET {
        match segs.as_slice() {
            ["version"] => return ok(discovery::version()),
            ["healthz" | "readyz" | "livez"] => return Ok((StatusCode::OK, "ok").into_response()),
            ["api"] => return ok(discovery::core_versions()),
            ["apis"] => return ok(discovery::group_list(&types())),
            ["api", "v1"] => return ok(discovery::resource_list("v1", &types())),
            ["apis", g] => {
                // One group's APIGroup document, taken from the group list.
                let list = discovery::group_list(&types());
                let found = list["groups"].as_array().and_then(|gs| gs.iter().find(|x| x["name"] == *g)).cloned();
                let Some(mut group) = found else { return Err(ApiError::no_route(path)) };
                group["kind"] = json!("APIGroup");
                group["apiVersion"] = json!("v1");
                return ok(group);
            }
            ["apis", g, v] => {
                let gv = format!("{g}/{v}");
                let all = types();
                if !all.iter().any(|t| t.api_version() == gv) {
                    return Err(ApiError::no_route(path));
                }
                return ok(discovery::resource_list(&gv, &all));
            }
            ["openapi", "v3"] => return ok(openapi::root(&types())),
            ["openapi", "v2"] => {
                let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
                if accept.contains("protobuf") {
                    // kubectl asks for protobuf; an empty message is a valid, empty openapi_v2.Document.
                    let ct = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
                    return Ok(([(axum::http::header::CONTENT_TYPE, ct)], Vec::<u8>::new()).into_response());
                }
                return ok(openapi::v2());
            }
            ["openapi", "v3", rest @ ..] => {
                let gv = match rest {
                    ["api", v] => v.to_string(),
                    ["apis", g, v] => format!("{g}/{v}"),
                    _ => return Err(ApiError::no_route(path)),
                };
                return openapi::group_version(&gv, &types()).map_or_else(|| Err(ApiError::no_route(path)), ok);
            }
            _ => {}
        }
    }
    // `kubectl logs`: what the simulated kubelet knows about the container (see logs.rs).
    if let ["api", "v1", "namespaces", ns, "pods", name, "log"] = segs.as_slice()
        && *method == Method::GET
    {
        let pods = sb.store().resource("", "v1", "pods").ok_or_else(|| ApiError::no_route(path))?;
        let pod = sb.store().get(&pods, ns, name)?;
        let text = super::logs::pod_log(&pod, q.get("container"))?;
        let mut resp = (StatusCode::OK, text).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return Ok(resp);
    }
    // The eviction subresource: a delete that honours PodDisruptionBudgets (kubectl drain).
    if let ["api", "v1", "namespaces", ns, "pods", name, "eviction"] = segs.as_slice() {
        if *method != Method::POST {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            )));
        }
        let eviction = parse_body(headers, body)?;
        let opts = delete_options_from(q, &eviction["deleteOptions"])?;
        sb.inner.writes.count(WriteVerb::Delete);
        let answer = super::eviction::evict(sb.store(), ns, name, &eviction, &opts)?;
        return Ok(json_response(StatusCode::CREATED, &answer));
    }
    let target = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => resolve(sb, "", "v1", rest, path)?,
        ["apis", g, v, rest @ ..] if !rest.is_empty() => resolve(sb, g, v, rest, path)?,
        _ => return Err(ApiError::no_route(path)),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let render = RenderAs::from_accept(accept, || printer_columns(sb, &target.rt));
    let rt = &target.rt;
    let ns = target.ns.clone().unwrap_or_default();
    let store = sb.store();
    let write_opts = |q: &Query| WriteOptions {
        dry_run: q.dry_run(),
        field_manager: manager(q, headers),
        force: q.flag("force"),
        strict_fields: q.get("fieldValidation") == Some("Strict"),
    };
    match (method.as_str(), &target.name) {
        ("GET", Some(name)) => {
            if target.sub == Subresource::Scale {
                return ok(store.get_scale(rt, &ns, name)?);
            }
            let obj = store.get(rt, &ns, name)?;
            let rv = str_at(&obj, "/metadata/resourceVersion").to_string();
            ok(render.one(obj, &rv))
        }
        ("GET", None) if q.flag("watch") => watch(sb, rt, target.ns.as_deref(), q, render),
        ("GET", None) => {
            let opts = list_options(rt, q)?;
            let page = store.list_shared(rt, target.ns.as_deref(), &opts)?;
            let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
            if let Some(t) = page.continue_token {
                meta["continue"] = json!(t);
            }
            if render == RenderAs::Object {
                let mut resp = (StatusCode::OK, list_json(rt, &page.items, &meta)).into_response();
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                return Ok(resp);
            }
            let items = page.items.iter().map(|o| to_view(rt, o)).collect();
            ok(render.list(rt, items, meta))
        }
        ("POST", None) => {
            let obj = parse_body(headers, body)?;
            check_type(rt, &obj)?;
            sb.inner.writes.count(WriteVerb::Create);
            let created = store.create(rt, &ns, obj, &write_opts(q))?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ("PUT", Some(name)) => {
            let obj = parse_body(headers, body)?;
            if target.sub != Subresource::Scale {
                check_type(rt, &obj)?;
            }
            sb.inner.writes.count(WriteVerb::Update);
            ok(store.update(rt, &ns, name, obj, target.sub, &write_opts(q))?)
        }
        ("PATCH", Some(name)) => {
            let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let kind = match ct.split(';').next().unwrap_or_default().trim() {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let patch = if kind == PatchKind::Apply {
                serde_yaml::from_slice::<Value>(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            } else {
                serde_json::from_slice::<Value>(body)
                    .map_err(|e| ApiError::bad_request(format!("the patch could not be decoded: {e}")))?
            };
            let mut opts = write_opts(q);
            if kind == PatchKind::Apply {
                // Apply needs an explicit manager; the user agent does not count.
                opts.field_manager = q.get("fieldManager").filter(|m| !m.is_empty()).map(str::to_string);
            }
            sb.inner.writes.count(WriteVerb::Patch);
            let (obj, created) = store.patch(rt, &ns, name, kind, &patch, target.sub, &opts)?;
            Ok(json_response(if created { StatusCode::CREATED } else { StatusCode::OK }, &obj))
        }
        ("DELETE", Some(name)) => {
            let opts = delete_options(q, headers, body)?;
            sb.inner.writes.count(WriteVerb::Delete);
            let d = store.delete(rt, &ns, name, &opts)?;
            // Pending deletions (finalizers) answer with the object, like kinds that return it anyway.
            if !d.removed || rt.delete_returns_object {
                return ok(d.object);
            }
            ok(delete_success(rt, name, str_at(&d.object, "/metadata/uid")))
        }
        ("DELETE", None) => {
            let list = list_options(rt, q)?;
            let opts = delete_options(q, headers, body)?;
            sb.inner.writes.count(WriteVerb::DeleteCollection);
            let items = store.delete_collection(rt, target.ns.as_deref(), &list, &opts)?;
            let meta = json!({"resourceVersion": store.resource_version().to_string()});
            ok(RenderAs::Object.list(rt, items, meta))
        }
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m} {path})"
        ))),
    }
}

fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    }
    let api_version = str_at(obj, "/apiVersion");
    let kind = str_at(obj, "/kind");
    // events.k8s.io and core events share a store but each API wants its own apiVersion.
    if !api_version.is_empty() && api_version != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    Ok(())
}

fn list_options(rt: &ResourceType, q: &Query) -> Result<ListOptions, ApiError> {
    let limit = match q.get("limit") {
        Some(l) if !l.is_empty() => {
            Some(l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?)
        }
        _ => None,
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?,
        fields: FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), &rt.group, &rt.plural)?,
        limit,
        continue_token: q.get("continue").filter(|c| !c.is_empty()).map(str::to_string),
    })
}

fn delete_options(q: &Query, headers: &HeaderMap, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    delete_options_from(q, &parse_body(headers, body)?)
}

/// DeleteOptions from a decoded body (a DELETE's, or an Eviction's `deleteOptions`) and the query.
fn delete_options_from(q: &Query, b: &Value) -> Result<DeleteOptions, ApiError> {
    let policy = b["propagationPolicy"].as_str().or_else(|| q.get("propagationPolicy")).unwrap_or("Background");
    let propagation = match policy {
        "Background" | "" => Propagation::Background,
        "Foreground" => Propagation::Foreground,
        "Orphan" => Propagation::Orphan,
        other => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "DeleteOptions is invalid: propagationPolicy: Unsupported value: {other:?}: supported values: \"Background\", \"Foreground\", \"Orphan\""
                ),
            ));
        }
    };
    let propagation = if b["orphanDependents"].as_bool() == Some(true) { Propagation::Orphan } else { propagation };
    let body_dry = b["dryRun"].as_array().is_some_and(|d| d.iter().any(|x| x == "All"));
    Ok(DeleteOptions {
        propagation,
        precondition_uid: b["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_rv: b["preconditions"]["resourceVersion"].as_str().map(str::to_string),
        dry_run: q.dry_run() || body_dry,
    })
}

fn watch(sb: &Sandbox, rt: &ResourceType, ns: Option<&str>, q: &Query, render: RenderAs) -> Result<Response, ApiError> {
    let send_initial_events = q.flag("sendInitialEvents");
    if send_initial_events && q.get("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::new(
            422,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    let list = list_options(rt, q)?;
    let timeout = match q.get("timeoutSeconds") {
        Some(t) if !t.is_empty() => Some(Duration::from_secs(
            t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        )),
        _ => None,
    };
    let opts = WatchOptions {
        labels: list.labels,
        fields: list.fields,
        resource_version: q.get("resourceVersion").map(str::to_string),
        send_initial_events,
        allow_bookmarks: q.flag("allowWatchBookmarks"),
        timeout,
        render,
    };
    let stream = sb.store().watch(rt, ns, opts, sb.inner.config.bookmark_interval)?;
    let lines = futures::stream::unfold(stream.into_receiver(), |mut rx| async move {
        let ev = rx.recv().await?;
        let mut line = ev.to_string();
        line.push('\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn discovery_paths_answer_or_404() {
        use tower::ServiceExt;
        let sb = Sandbox::new(Default::default()).unwrap();
        let get = |uri: &str| {
            let req = axum::http::Request::get(uri).body(Body::empty()).unwrap();
            sb.router().oneshot(req)
        };
        for (uri, code) in [
            ("/version", 200),
            ("/api", 200),
            ("/apis", 200),
            ("/api/v1", 200),
            ("/apis/apps", 200),
            ("/apis/apps/v1", 200),
            ("/apis/nope.io", 404),
            ("/apis/nope.io/v1", 404),
            ("/openapi/v3", 200),
            ("/openapi/v3/api/v1", 200),
            ("/api/v1/nothings", 404),
            ("/api/v1/namespaces/default/configmaps/x/log", 404),
        ] {
            assert_eq!(get(uri).await.unwrap().status().as_u16(), code, "{uri}");
        }
    }

    #[test]
    fn query_decoding_handles_kube_rs_shapes() {
        let q = Query::parse(Some("&labelSelector=app%3Ddb%2Ctier+in+%28a%29&limit=500&&watch=true"));
        assert_eq!(q.get("labelSelector"), Some("app=db,tier in (a)"));
        assert_eq!(q.get("limit"), Some("500"));
        assert!(q.flag("watch"));
        assert_eq!(decode("100%"), "100%");
    }
}
