//! Stand-ins for functions other sandbox helpers own (discovery, openapi, JSON/strategic patch, server-side
//! apply, the full built-in kind list). Each mirrors the agreed signature so the merge is a change of `use`
//! lines: replace `shims::discovery` with `super::discovery`, `shims::openapi` with `super::openapi`,
//! `shims::patch` with `super::patch` / `super::patch::apply`, and drop `shims::resources::extra_builtin`.
//! Everything here is deliberately small; none of it is meant to outlive that merge.

pub mod discovery {
    use serde_json::{Value, json};

    use crate::sandbox::resources::ResourceType;

    pub fn version() -> Value {
        json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-dbdeck", "platform": "linux/amd64",
               "goVersion": "go1.24", "compiler": "gc", "gitCommit": "", "gitTreeState": "clean", "buildDate": ""})
    }

    pub fn core_versions() -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"],
               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
    }

    pub fn group_list(types: &[ResourceType]) -> Value {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in types.iter().filter(|t| !t.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) if !vs.contains(&t.version) => vs.push(t.version.clone()),
                Some(_) => {}
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> =
                    vs.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    pub fn resource_list(group_version: &str, types: &[ResourceType]) -> Value {
        let mut resources = Vec::new();
        for t in types.iter().filter(|t| t.api_version() == group_version) {
            resources.push(json!({"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                "kind": t.kind, "verbs": t.verbs, "shortNames": t.short_names, "categories": t.categories}));
            if t.status_subresource {
                resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "",
                    "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
            }
            if t.scale_subresource.is_some() {
                resources.push(json!({"name": format!("{}/scale", t.plural), "singularName": "",
                    "namespaced": t.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale",
                    "verbs": ["get", "patch", "update"]}));
            }
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
    }
}

pub mod openapi {
    use serde_json::{Map, Value, json};

    use crate::sandbox::resources::ResourceType;

    fn gv_path(gv: &str) -> String {
        if gv.contains('/') { format!("apis/{gv}") } else { format!("api/{gv}") }
    }

    pub fn root(types: &[ResourceType]) -> Value {
        let mut paths = Map::new();
        for t in types {
            let p = gv_path(&t.api_version());
            paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=0")}));
        }
        json!({"paths": paths})
    }

    pub fn group_version(group_version: &str, types: &[ResourceType]) -> Option<Value> {
        let mut paths = Map::new();
        let mut schemas = Map::new();
        for t in types.iter().filter(|t| t.api_version() == group_version) {
            let ns = if t.namespaced { "namespaces/{namespace}/" } else { "" };
            let gvk = json!([{"group": t.group, "version": t.version, "kind": t.kind}]);
            paths.insert(
                format!("/{}/{ns}{}/{{name}}", gv_path(group_version), t.plural),
                json!({"patch": {"x-kubernetes-group-version-kind": gvk[0].clone(), "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]}}),
            );
            let mut schema = t.schema.clone().unwrap_or_else(|| json!({"type": "object"}));
            schema["x-kubernetes-group-version-kind"] = gvk;
            let group = if t.group.is_empty() { "core".to_string() } else { t.group.clone() };
            schemas.insert(format!("{group}.{}.{}", t.version, t.kind), schema);
        }
        if paths.is_empty() {
            return None;
        }
        Some(json!({"openapi": "3.0.0", "info": {"title": "dbdeck sandbox", "version": "v1"},
                    "paths": paths, "components": {"schemas": schemas}}))
    }
}

pub mod patch {
    use serde_json::Value;

    use crate::sandbox::patch::{PatchError, merge_patch};

    /// RFC 6902 with the apiserver's reading of `test`: a missing path equals `null`.
    pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
        let ops: Vec<json_patch::PatchOperation> =
            serde_json::from_value(patch.clone()).map_err(|e| PatchError::Malformed(e.to_string()))?;
        let mut out = doc.clone();
        for op in &ops {
            if let json_patch::PatchOperation::Test(t) = op
                && out.pointer(t.path.as_str()).is_none()
            {
                if t.value.is_null() {
                    continue;
                }
                return Err(PatchError::TestFailed(format!("{} is missing", t.path.as_str())));
            }
            json_patch::patch(&mut out, std::slice::from_ref(op)).map_err(|e| match e.kind {
                json_patch::PatchErrorKind::TestFailed => PatchError::TestFailed(e.to_string()),
                _ => PatchError::Invalid(e.to_string()),
            })?;
        }
        Ok(out)
    }

    /// Stand-in: a JSON merge patch (no list merging by key).
    pub fn strategic_merge(doc: &Value, patch: &Value, _kind: &str) -> Result<Value, PatchError> {
        if !patch.is_object() {
            return Err(PatchError::Malformed("a strategic merge patch must be a JSON object".into()));
        }
        let mut out = doc.clone();
        merge_patch(&mut out, patch);
        Ok(out)
    }

    pub mod apply {
        use serde_json::Value;

        use crate::sandbox::patch::merge_patch;

        /// One field another manager owns with a different value.
        #[derive(Debug, Clone, PartialEq)]
        pub struct FieldConflict {
            pub field: String,
            pub manager: String,
        }

        /// The fields an apply without `force` would have taken from other managers.
        #[derive(Debug, Clone, PartialEq, thiserror::Error)]
        #[error("apply conflicts with {} field(s)", conflicts.len())]
        pub struct ApplyConflict {
            pub conflicts: Vec<FieldConflict>,
        }

        /// Stand-in: merges the applied configuration into the live object (no ownership, no conflicts).
        pub fn apply(
            live: Option<&Value>,
            applied: &Value,
            _manager: &str,
            _force: bool,
        ) -> Result<Value, ApplyConflict> {
            let mut out = live.cloned().unwrap_or_else(|| Value::Object(Default::default()));
            merge_patch(&mut out, applied);
            Ok(out)
        }

        /// Stand-in: no managedFields bookkeeping.
        pub fn record_update(_old: Option<&Value>, new: &Value, _manager: &str) -> Value {
            new.clone()
        }
    }
}

pub mod resources {
    use crate::sandbox::resources::{ResourceType, ScaleSubresource, builtin};

    fn rt(group: &str, kind: &str, plural: &str, namespaced: bool, short: &[&str]) -> ResourceType {
        ResourceType {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            list_kind: format!("{kind}List"),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: vec![],
            namespaced,
            verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            status_subresource: false,
            scale_subresource: None,
            delete_returns_object: false,
            schema: None,
        }
    }

    /// Kinds the seed registry lacks that the store's own tests use; sandbox-shell's `builtin()` supersedes it.
    pub fn extra_builtin() -> Vec<ResourceType> {
        let scale = || ScaleSubresource {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".spec.selector".into()),
        };
        let mut pod = rt("", "Pod", "pods", true, &["po"]);
        pod.status_subresource = true;
        pod.delete_returns_object = true;
        let mut sa = rt("", "ServiceAccount", "serviceaccounts", true, &["sa"]);
        sa.delete_returns_object = true;
        let mut sts = rt("apps", "StatefulSet", "statefulsets", true, &["sts"]);
        sts.status_subresource = true;
        sts.scale_subresource = Some(scale());
        let mut deploy = rt("apps", "Deployment", "deployments", true, &["deploy"]);
        deploy.status_subresource = true;
        deploy.scale_subresource = Some(scale());
        let mut node = rt("", "Node", "nodes", false, &["no"]);
        node.status_subresource = true;
        let candidates = vec![
            pod,
            sa,
            sts,
            deploy,
            node,
            rt("", "Event", "events", true, &["ev"]),
            rt("events.k8s.io", "Event", "events", true, &["ev"]),
            rt("", "Service", "services", true, &["svc"]),
            rt("", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"]),
            rt("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false, &[]),
        ];
        let have = builtin();
        candidates.into_iter().filter(|c| !have.iter().any(|h| h.group == c.group && h.plural == c.plural)).collect()
    }
}
