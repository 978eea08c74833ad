//! `/openapi/v3`: the index of group/versions and one OpenAPI 3 document per group/version.
//!
//! kubectl (default `--validate=strict`) reads these to learn that the server validates fields itself: it looks for a
//! PATCH operation tagged with `x-kubernetes-group-version-kind` that accepts the `fieldValidation` query parameter,
//! and then sends `fieldValidation=Strict` instead of validating client-side.
//!
//! Built-in kinds get a permissive object schema (the server, not the schema, is the authority here). Their PATCH
//! operations deliberately do not list `application/strategic-merge-patch+json`: kubectl would otherwise compute
//! strategic patches from that permissive schema (lists replaced whole); without it kubectl falls back to its
//! compiled-in types, which carry the real merge keys. The server still accepts strategic merge patches.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::discovery::{GIT_VERSION, group_versions};
use super::resources::ResourceType;

/// Groups whose kinds are compiled into Kubernetes and named `io.k8s.api.<group>.<version>.<Kind>`.
const BUILTIN_GROUPS: [&str; 12] = [
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "networking.k8s.io",
    "apiextensions.k8s.io",
];

/// The `/openapi/v3` index: `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=…"},…}}`.
/// The hash changes whenever the document changes, so clients can cache by URL.
pub fn root(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    for gv in group_versions(types) {
        let Some(doc) = group_version(&gv, types) else { continue };
        let key = index_key(&gv);
        let hash = hex::encode_upper(Sha256::digest(doc.to_string().as_bytes()));
        paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}));
    }
    json!({"paths": paths})
}

/// `/openapi/v2`: a Swagger 2.0 document without definitions. The schemas are published through `/openapi/v3`;
/// kubectl falls back to v2 only for a kind no served group/version has, and without a v2 document it stops
/// there with "the server could not find the requested resource" instead of its own "no matches for kind".
pub fn v2() -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes (dbdeck sandbox)", "version": GIT_VERSION},
        "paths": {},
        "definitions": {},
    })
}

/// `api/v1` for the core group, `apis/{group}/{version}` otherwise (the keys of the index, and the path after
/// `/openapi/v3/`).
pub fn index_key(group_version: &str) -> String {
    if group_version.contains('/') { format!("apis/{group_version}") } else { format!("api/{group_version}") }
}

/// The inverse of [`index_key`]: the group/version a request for `/openapi/v3/{path}` asks for.
pub fn group_version_of_path(path: &str) -> Option<String> {
    let path = path.trim_start_matches('/').trim_start_matches("openapi/v3/");
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["api", v] if !v.is_empty() => Some(v.to_string()),
        ["apis", g, v] if !g.is_empty() && !v.is_empty() => Some(format!("{g}/{v}")),
        _ => None,
    }
}

/// The schema name kubectl expects: `io.k8s.api.core.v1.ConfigMap` for built-in kinds,
/// `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition` for CRDs themselves and the
/// reversed group for custom kinds (`com.percona.pxc.v1.PerconaXtraDBCluster`).
pub fn schema_name(t: &ResourceType) -> String {
    schema_name_for(&t.group, &t.version, &t.kind)
}

fn schema_name_for(group: &str, version: &str, kind: &str) -> String {
    if group == "apiextensions.k8s.io" {
        format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}")
    } else if BUILTIN_GROUPS.contains(&group) {
        let short = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
        format!("io.k8s.api.{short}.{version}.{kind}")
    } else {
        let reversed: Vec<&str> = group.split('.').rev().collect();
        format!("{}.{version}.{kind}", reversed.join("."))
    }
}

/// The OpenAPI 3 document of one group/version (`v1`, `apps/v1`, `pxc.percona.com/v1`), or `None` when nothing
/// is served there.
pub fn group_version(group_version: &str, types: &[ResourceType]) -> Option<Value> {
    let served: Vec<&ResourceType> = types.iter().filter(|t| t.api_version() == group_version).collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        PATCH_SCHEMA.into(),
        json!({"type": "object", "description": "A patch document; its format is given by the Content-Type."}),
    );
    for t in served {
        add_paths(t, &mut paths);
        schemas.insert(schema_name(t), kind_schema(t));
        schemas.insert(format!("{}List", schema_name(t)), list_schema(t));
        if t.scale_subresource.is_some() {
            schemas.insert(SCALE_SCHEMA.into(), scale_schema());
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (dbdeck sandbox)", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

const PATCH_SCHEMA: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const SCALE_SCHEMA: &str = "io.k8s.api.autoscaling.v1.Scale";

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schema of a kind: the CRD's own for custom kinds (with the type-meta fields upstream adds), a permissive
/// object otherwise. Either way tagged with its group/version/kind.
fn kind_schema(t: &ResourceType) -> Value {
    let mut schema = match &t.schema {
        Some(s) if s.is_object() => s.clone(),
        _ => json!({
            "type": "object",
            "description": format!("{} (fields are validated by the server)", t.kind),
            "x-kubernetes-preserve-unknown-fields": true,
        }),
    };
    if schema.get("properties").is_none() {
        schema["properties"] = json!({});
    }
    let props = &mut schema["properties"];
    for field in ["apiVersion", "kind"] {
        if props.get(field).is_none() {
            props[field] = json!({"type": "string"});
        }
    }
    if props.get("metadata").is_none() {
        props["metadata"] = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    }
    schema["x-kubernetes-group-version-kind"] = json!([gvk(&t.group, &t.version, &t.kind)]);
    schema
}

fn list_schema(t: &ResourceType) -> Value {
    json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "items": {"type": "array", "items": schema_ref(&schema_name(t))},
        },
        "x-kubernetes-group-version-kind": [gvk(&t.group, &t.version, &t.list_kind)],
    })
}

fn scale_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "spec": {"type": "object", "properties": {"replicas": {"type": "integer", "format": "int32"}}},
            "status": {"type": "object", "properties": {
                "replicas": {"type": "integer", "format": "int32"},
                "selector": {"type": "string"},
            }},
        },
        "x-kubernetes-group-version-kind": [gvk("autoscaling", "v1", "Scale")],
    })
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

fn dry_run() -> Value {
    query("dryRun", "string", "When present (All), the request is validated but not persisted.")
}

fn field_manager() -> Value {
    query("fieldManager", "string", "Name of the actor making the change; required for apply patches.")
}

fn field_validation() -> Value {
    query("fieldValidation", "string", "Ignore, Warn or Strict: how the server treats unknown or duplicate fields.")
}

fn list_params() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events on watches."),
        query("continue", "string", "Continue token from a previous page."),
        query("fieldSelector", "string", "Restrict by fields."),
        query("labelSelector", "string", "Restrict by labels."),
        query("limit", "integer", "Maximum number of items per page."),
        query("resourceVersion", "string", "Starting point of a list or watch."),
        query("resourceVersionMatch", "string", "How resourceVersion applies to a list."),
        query("sendInitialEvents", "boolean", "Begin a watch with the current state (streaming list)."),
        query("timeoutSeconds", "integer", "Timeout of a list or watch call."),
        query("watch", "boolean", "Watch for changes instead of listing."),
    ]
}

/// One operation; `gvk_kind` is the kind it returns (the resource's kind, or `Scale`).
struct Op<'a> {
    t: &'a ResourceType,
    action: &'a str,
    id: String,
    params: Vec<Value>,
    request_types: &'a [&'a str],
    response: Value,
    gvk: Value,
}

impl Op<'_> {
    fn render(self) -> Value {
        let mut op = json!({
            "tags": [tag(self.t)],
            "operationId": self.id,
            "parameters": self.params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": self.response}}},
                "401": {"description": "Unauthorized"},
            },
            "x-kubernetes-action": self.action,
            "x-kubernetes-group-version-kind": self.gvk,
        });
        if !self.request_types.is_empty() {
            let body_schema = if self.action == "patch" { schema_ref(PATCH_SCHEMA) } else { op_body(&op) };
            let content: Map<String, Value> =
                self.request_types.iter().map(|ct| (ct.to_string(), json!({"schema": body_schema}))).collect();
            op["requestBody"] = json!({"required": true, "content": content});
        }
        op
    }
}

/// PUT and POST send the same type they receive back.
fn op_body(op: &Value) -> Value {
    op.pointer("/responses/200/content/application~1json/schema").cloned().unwrap_or(json!({}))
}

/// `coreV1`, `appsV1`, `pxcPerconaComV1`: the prefix of upstream-style operation ids.
fn tag(t: &ResourceType) -> String {
    let group = if t.group.is_empty() { "core".to_string() } else { t.group.replace(".k8s.io", "") };
    let mut out = String::new();
    let mut upper = false;
    for c in format!("{group}_{}", t.version).chars() {
        if c == '.' || c == '_' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

const PATCH_TYPES: [&str; 3] =
    ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
const WRITE_TYPES: [&str; 2] = ["application/json", "application/yaml"];

fn add_paths(t: &ResourceType, paths: &mut Map<String, Value>) {
    let prefix = t.api_prefix();
    let scoped = if t.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
    } else {
        format!("{prefix}/{}", t.plural)
    };
    let ns_word = if t.namespaced { "Namespaced" } else { "" };
    let id = |verb: &str, suffix: &str| format!("{verb}{}{ns_word}{}{suffix}", capitalise(&tag(t)), t.kind);
    let kind_ref = schema_ref(&schema_name(t));
    let list_ref = schema_ref(&format!("{}List", schema_name(t)));
    let own_gvk = gvk(&t.group, &t.version, &t.kind);
    let op = |action: &'static str, id: String, params: Vec<Value>, body: &'static [&'static str], response: &Value| {
        Op { t, action, id, params, request_types: body, response: response.clone(), gvk: own_gvk.clone() }.render()
    };
    let mut scope_params = Vec::new();
    if t.namespaced {
        scope_params.push(path_param("namespace"));
    }
    let mut item_params = vec![path_param("name")];
    item_params.extend(scope_params.iter().cloned());

    let mut collection = Map::new();
    collection.insert("parameters".into(), json!(scope_params));
    collection.insert("get".into(), op("list", id("list", ""), list_params(), &[], &list_ref));
    collection.insert(
        "post".into(),
        op("post", id("create", ""), vec![dry_run(), field_manager(), field_validation()], &WRITE_TYPES, &kind_ref),
    );
    if t.verbs.iter().any(|v| v == "deletecollection") {
        let mut params = list_params();
        params.extend([dry_run(), query("propagationPolicy", "string", "Orphan, Background or Foreground.")]);
        collection.insert("delete".into(), op("deletecollection", id("deleteCollection", ""), params, &[], &list_ref));
    }
    paths.insert(scoped.clone(), Value::Object(collection));

    let mut item = Map::new();
    item.insert("parameters".into(), json!(item_params));
    item.insert("get".into(), op("get", id("read", ""), vec![], &[], &kind_ref));
    item.insert(
        "put".into(),
        op("put", id("replace", ""), vec![dry_run(), field_manager(), field_validation()], &WRITE_TYPES, &kind_ref),
    );
    item.insert("patch".into(), op("patch", id("patch", ""), patch_params(), &PATCH_TYPES, &kind_ref));
    item.insert(
        "delete".into(),
        op(
            "delete",
            id("delete", ""),
            vec![
                dry_run(),
                query("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
                query("propagationPolicy", "string", "Orphan, Background or Foreground."),
            ],
            &[],
            &kind_ref,
        ),
    );
    paths.insert(format!("{scoped}/{{name}}"), Value::Object(item));

    if t.status_subresource {
        let mut status = Map::new();
        status.insert("parameters".into(), json!(item_params));
        status.insert("get".into(), op("get", id("read", "Status"), vec![], &[], &kind_ref));
        status.insert(
            "put".into(),
            op(
                "put",
                id("replace", "Status"),
                vec![dry_run(), field_manager(), field_validation()],
                &WRITE_TYPES,
                &kind_ref,
            ),
        );
        status.insert("patch".into(), op("patch", id("patch", "Status"), patch_params(), &PATCH_TYPES, &kind_ref));
        paths.insert(format!("{scoped}/{{name}}/status"), Value::Object(status));
    }
    if t.scale_subresource.is_some() {
        let scale_ref = schema_ref(SCALE_SCHEMA);
        let scale_op = |action: &'static str, id: String, params: Vec<Value>, body: &'static [&'static str]| {
            Op {
                t,
                action,
                id,
                params,
                request_types: body,
                response: scale_ref.clone(),
                gvk: gvk("autoscaling", "v1", "Scale"),
            }
            .render()
        };
        let mut scale = Map::new();
        scale.insert("parameters".into(), json!(item_params));
        scale.insert("get".into(), scale_op("get", id("read", "Scale"), vec![], &[]));
        scale.insert(
            "put".into(),
            scale_op("put", id("replace", "Scale"), vec![dry_run(), field_manager(), field_validation()], &WRITE_TYPES),
        );
        scale.insert("patch".into(), scale_op("patch", id("patch", "Scale"), patch_params(), &PATCH_TYPES));
        paths.insert(format!("{scoped}/{{name}}/scale"), Value::Object(scale));
    }
    if t.namespaced {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            op("list", format!("list{}{}ForAllNamespaces", capitalise(&tag(t)), t.kind), list_params(), &[], &list_ref),
        );
        paths.insert(format!("{prefix}/{}", t.plural), Value::Object(all));
    }
}

fn patch_params() -> Vec<Value> {
    vec![
        dry_run(),
        field_manager(),
        field_validation(),
        query("force", "boolean", "Take ownership of conflicting fields (apply patches only)."),
    ]
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::{builtin, from_crd};

    fn patch_op<'a>(doc: &'a Value, path: &str) -> &'a Value {
        &doc["paths"][path]["patch"]
    }

    #[test]
    fn names_follow_kubernetes_conventions() {
        let types = builtin();
        let name =
            |kind: &str, group: &str| schema_name(types.iter().find(|t| t.kind == kind && t.group == group).unwrap());
        assert_eq!(name("ConfigMap", ""), "io.k8s.api.core.v1.ConfigMap");
        assert_eq!(name("StatefulSet", "apps"), "io.k8s.api.apps.v1.StatefulSet");
        assert_eq!(name("Role", "rbac.authorization.k8s.io"), "io.k8s.api.rbac.v1.Role");
        assert_eq!(name("Event", "events.k8s.io"), "io.k8s.api.events.v1.Event");
        assert_eq!(
            name("CustomResourceDefinition", "apiextensions.k8s.io"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        );
        assert_eq!(
            schema_name_for("pxc.percona.com", "v1", "PerconaXtraDBCluster"),
            "com.percona.pxc.v1.PerconaXtraDBCluster"
        );
    }

    #[test]
    fn index_points_at_each_group_version() {
        let root = root(&builtin());
        let url = root["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
        assert!(root["paths"]["apis/apps/v1"].is_object());
        assert!(root["paths"]["apis/apiextensions.k8s.io/v1"].is_object());
        assert_eq!(group_version_of_path(url).as_deref(), Some("v1"));
        assert_eq!(group_version_of_path("/openapi/v3/apis/apps/v1").as_deref(), Some("apps/v1"));
        assert_eq!(group_version_of_path("/openapi/v3/apis/apps"), None);
    }

    #[test]
    fn patch_operations_carry_field_validation_and_gvk() {
        let doc = group_version("v1", &builtin()).unwrap();
        let op = patch_op(&doc, "/api/v1/namespaces/{namespace}/configmaps/{name}");
        assert_eq!(op["x-kubernetes-group-version-kind"], json!({"group": "", "version": "v1", "kind": "ConfigMap"}));
        assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        let content = op["requestBody"]["content"].as_object().unwrap();
        assert!(content.contains_key("application/merge-patch+json"));
        assert!(!content.contains_key("application/strategic-merge-patch+json"));
        assert!(doc["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"].is_object());
        // Cluster-scoped kinds have no namespace segment.
        assert!(patch_op(&doc, "/api/v1/namespaces/{name}").is_object());
        assert!(doc["paths"]["/api/v1/configmaps"]["get"].is_object());
        assert!(group_version("nope/v1", &builtin()).is_none());
    }

    #[test]
    fn index_hashes_change_only_with_their_document() {
        let mut types = builtin();
        let before = root(&types);
        assert_eq!(before, root(&types), "stable across calls");
        let crd = serde_json::to_value(&crate::api::crds()[0]).unwrap();
        types.extend(from_crd(&crd));
        let after = root(&types);
        assert_eq!(before["paths"]["api/v1"], after["paths"]["api/v1"]);
        assert!(before["paths"]["apis/pxc.percona.com/v1"].is_null());
        assert!(after["paths"]["apis/pxc.percona.com/v1"].is_object());
        let mut changed = builtin();
        changed.iter_mut().find(|t| t.kind == "ConfigMap").unwrap().status_subresource = true;
        assert_ne!(root(&changed)["paths"]["api/v1"], before["paths"]["api/v1"]);
    }

    #[test]
    fn crd_documents_use_the_crd_schema() {
        let crds = crate::api::crds();
        let crd = serde_json::to_value(&crds[0]).unwrap();
        let types = from_crd(&crd);
        let t = &types[0];
        let doc = group_version(&t.api_version(), &types).unwrap();
        let schema = &doc["components"]["schemas"][schema_name(t)];
        assert_eq!(schema["x-kubernetes-group-version-kind"][0]["kind"], json!(t.kind));
        assert!(schema["properties"]["spec"].is_object(), "the CRD's own schema");
        let scale = doc["paths"].as_object().unwrap().keys().any(|k| k.ends_with("/scale"));
        assert_eq!(scale, t.scale_subresource.is_some());
    }
}
