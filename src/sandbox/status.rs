//! `Status` error bodies with the exact reasons kube-rs and kubectl match on (anchors §6.4).

use serde_json::{Value, json};

use super::resources::ResourceType;

/// An API error as the server reports it: HTTP code, reason, message, optional details.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status (name, group, kind, causes), boxed to keep errors small.
    pub details: Option<Box<Value>>,
    /// Seconds for the `Retry-After` header (429/503).
    pub retry_after: Option<u32>,
}

/// `configmaps` for the core group, `perconaxtradbclusters.pxc.percona.com` otherwise (as upstream messages).
pub fn qualified_resource(rt: &ResourceType) -> String {
    if rt.group.is_empty() { rt.plural.clone() } else { format!("{}.{}", rt.plural, rt.group) }
}

fn details(rt: &ResourceType, name: &str) -> Value {
    json!({"name": name, "group": rt.group, "kind": rt.plural})
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None, retry_after: None }
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{} \"{name}\" not found", qualified_resource(rt)));
        e.details = Some(Box::new(details(rt, name)));
        e
    }

    /// A 404 for a path the server does not serve at all.
    pub fn no_route(path: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        let mut e = Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", qualified_resource(rt)));
        e.details = Some(Box::new(details(rt, name)));
        e
    }

    /// Optimistic-concurrency failure (stale resourceVersion or failed precondition).
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified_resource(rt)),
        );
        e.details = Some(Box::new(details(rt, name)));
        e
    }

    /// 409 Conflict with `details.causes` (server-side apply conflicts).
    pub fn conflict_with_causes(rt: &ResourceType, name: &str, message: String, causes: Vec<Value>) -> Self {
        let mut e = Self::new(409, "Conflict", message);
        let mut d = details(rt, name);
        d["causes"] = Value::Array(causes);
        e.details = Some(Box::new(d));
        e
    }

    /// 422 Invalid: `Kind "name" is invalid: field: message`.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, why: &str) -> Self {
        // Upstream qualifies grouped kinds: `StatefulSet.apps "x" is invalid: ...`.
        let kind = if rt.group.is_empty() { rt.kind.clone() } else { format!("{}.{}", rt.kind, rt.group) };
        let mut e = Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {field}: {why}"));
        let mut d = json!({"name": name, "group": rt.group, "kind": rt.kind});
        d["causes"] = json!([{"reason": "FieldValueInvalid", "message": why, "field": field}]);
        e.details = Some(Box::new(d));
        e
    }

    /// 422 Invalid from schema validation: one cause per field error; the message lists them all (upstream's
    /// aggregate: the single message, or `[a, b]`).
    pub fn invalid_fields(rt: &ResourceType, name: &str, errs: &[super::schema_validation::FieldError]) -> Self {
        let kind = if rt.group.is_empty() { rt.kind.clone() } else { format!("{}.{}", rt.kind, rt.group) };
        let mut messages: Vec<String> = Vec::new();
        for m in errs.iter().map(|e| e.message()) {
            if !messages.contains(&m) {
                messages.push(m);
            }
        }
        let listed = if messages.len() == 1 { messages[0].clone() } else { format!("[{}]", messages.join(", ")) };
        let mut e = Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {listed}"));
        let causes: Vec<Value> =
            errs.iter().map(|f| json!({"reason": f.kind.cause(), "message": f.body(), "field": f.field})).collect();
        e.details = Some(Box::new(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes})));
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    pub fn too_many_requests(retry_after: u32) -> Self {
        let mut e =
            Self::new(429, "TooManyRequests", "the sandbox is injecting throttling faults, please try again later");
        e.retry_after = Some(retry_after);
        e
    }

    pub fn service_unavailable(retry_after: u32) -> Self {
        let mut e = Self::new(503, "ServiceUnavailable", "the sandbox is injecting unavailability faults");
        e.retry_after = Some(retry_after);
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object for the body of an error response or an in-stream ERROR event.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        s
    }
}

/// The `Status` a DELETE returns for kinds that do not return the object.
pub fn delete_success(rt: &ResourceType, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtin;

    #[test]
    fn not_found_has_exact_reason_and_message() {
        let cm = builtin().into_iter().find(|r| r.plural == "configmaps").unwrap();
        let s = ApiError::not_found(&cm, "x").to_status();
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["message"], "configmaps \"x\" not found");
        assert_eq!(s["details"]["kind"], "configmaps");
    }

    #[test]
    fn crd_messages_are_group_qualified() {
        let crd = builtin().into_iter().find(|r| r.plural == "customresourcedefinitions").unwrap();
        let e = ApiError::already_exists(&crd, "a.b");
        assert_eq!(e.message, "customresourcedefinitions.apiextensions.k8s.io \"a.b\" already exists");
        assert_eq!(e.code, 409);
    }
}
