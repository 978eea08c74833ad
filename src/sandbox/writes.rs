//! Writes: create, update (PUT and the result of every patch), patch in its four kinds, and the scale
//! subresource. Each enforces the server-owned fields (uid, resourceVersion, generation, timestamps),
//! the status-subresource rules, CRD schemas, and leaves a no-op write uncommitted.

use rand::Rng;
use serde_json::{Value, json};

use super::crd;
use super::patch::{self as patches, apply as ssa};
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{
    EventType, GroupResource, PatchKind, State, Subresource, WriteOptions, finalizers, now_rfc3339, str_at,
};
use super::validation::{check_immutable, check_metadata, check_shape, valid_name};
use super::views::{from_view, to_view};

/// Everything outside metadata and status: a change there bumps `generation`.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

/// Equality that ignores managedFields timestamps, so a no-op write stays a no-op.
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(mf) = v.pointer_mut("/metadata/managedFields").and_then(Value::as_array_mut) {
            for e in mf.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("time");
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// Converts a JSONPath like `.spec.replicas` into a JSON pointer.
fn path_to_pointer(path: &str) -> String {
    path.trim_start_matches('.').split('.').fold(String::new(), |acc, seg| format!("{acc}/{seg}"))
}

fn set_at_pointer(obj: &mut Value, ptr: &str, value: Value) {
    let mut cur = obj;
    let segs: Vec<&str> = ptr.split('/').skip(1).collect();
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else { return };
        if i + 1 == segs.len() {
            map.insert(seg.to_string(), value);
            return;
        }
        cur = map.entry(seg.to_string()).or_insert_with(|| json!({}));
    }
}

/// `matchLabels` of a LabelSelector object as a selector string (Scale.status.selector).
fn selector_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => v["matchLabels"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>())
            .unwrap_or_default()
            .join(","),
        _ => String::new(),
    }
}

impl State {
    pub(crate) fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        check_shape(&obj)?;
        let mut obj = from_view(rt, obj);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let body_ns = str_at(&obj, "/metadata/namespace").to_string();
        if rt.namespaced {
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let mut name = str_at(&obj, "/metadata/name").to_string();
        if name.is_empty() {
            let prefix = str_at(&obj, "/metadata/generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
            let mut rng = rand::rng();
            for _ in 0..16 {
                let suffix: String = (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
                name = format!("{prefix}{suffix}");
                if self.get(&self.key(rt, ns, &name)).is_none() {
                    break;
                }
            }
            obj["metadata"]["name"] = json!(name);
        }
        // RBAC objects only need to be a valid path segment (`system:controller:x` is a fine ClusterRole).
        let rbac = rt.group == "rbac.authorization.k8s.io";
        if rbac && (matches!(name.as_str(), "." | "..") || name.contains(['/', '%'])) {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.name",
                "Invalid value: may not be '.' or '..' and may not contain '/' or '%'",
            ));
        }
        if !rbac && !valid_name(&name) {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.name",
                &format!(
                    "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
                ),
            ));
        }
        if rt.kind == "Namespace" && (name.len() > 63 || name.contains('.')) {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.name",
                &format!(
                    "Invalid value: {name:?}: a lowercase RFC 1123 label must be at most 63 characters and contain no '.'"
                ),
            ));
        }
        check_metadata(rt, &name, &obj)?;
        self.check_namespace(rt, ns)?;
        let key = self.key(rt, ns, &name);
        if self.get(&key).is_some() {
            return Err(ApiError::already_exists(rt, &name));
        }
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["creationTimestamp"] = json!(now_rfc3339());
        meta["generation"] = json!(1);
        if let Some(m) = meta.as_object_mut() {
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        if rt.status_subresource
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        self.apply_schema(rt, &name, &mut obj, opts, None)?;
        fold_secret_string_data(rt, &name, &mut obj)?;
        if super::controllers::admission::admits(&rt.group, &rt.kind) {
            let class = self.default_storage_class();
            super::controllers::admission::admit(&rt.kind, &mut obj, class.as_deref());
        }
        if key.gr == GroupResource::of_namespaces() {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        if crd::is_crd(&key.gr) {
            crd::accept(&mut obj).map_err(|(field, why)| ApiError::invalid(rt, &name, &field, &why))?;
            self.check_crd_names(rt, &obj)?;
            warn_unchecked_rules(&name, &obj);
        }
        let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
        let obj = ssa::record_update(None, &obj, &manager, None);
        if opts.dry_run {
            return Ok(to_view(rt, &obj));
        }
        let stored = self.put(&key, obj, EventType::Added)?;
        if crd::is_crd(&key.gr) {
            self.crd_types.insert(name.clone(), super::resources::from_crd(&stored));
        }
        self.collect_if_orphaned(&key)?;
        Ok(to_view(rt, &stored))
    }

    /// Prunes, defaults and then validates a custom resource by its CRD schema (built-in kinds are left alone).
    /// On an update, `old` is the stored object: values it already had invalid are let through (ratcheting).
    fn apply_schema(
        &self,
        rt: &ResourceType,
        name: &str,
        obj: &mut Value,
        opts: &WriteOptions,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let custom = self.crd_types.values().flatten().any(|t| t.group == rt.group && t.plural == rt.plural);
        let Some(schema) = rt.schema.as_ref().filter(|_| custom) else { return Ok(()) };
        let pruned = if self.prune { super::schema::prune_and_default(obj, schema) } else { Vec::new() };
        // Unknown fields are a decoding error upstream, so they are reported before the schema's own rules.
        if !pruned.is_empty() {
            let fields: Vec<String> =
                pruned.iter().map(|p| format!("unknown field {:?}", p.trim_start_matches('.'))).collect();
            if opts.strict_fields {
                let mut e = ApiError::bad_request(format!(
                    "{} {name:?}: strict decoding error: {}",
                    rt.kind,
                    fields.join(", ")
                ));
                e.details = Some(Box::new(json!({"name": name, "group": rt.group, "kind": rt.plural})));
                return Err(e);
            }
            tracing::debug!(kind = %rt.kind, %name, pruned = ?pruned, "pruned fields the CRD schema does not declare");
        }
        if self.validate {
            let mut errs = super::schema_validation::validate(obj, schema);
            if let Some(old) = old {
                errs = super::schema_validation::ratchet(errs, old, obj);
            }
            if !errs.is_empty() {
                return Err(ApiError::invalid_fields(rt, name, &errs));
            }
        }
        Ok(())
    }

    /// The StorageClass marked as the cluster default, for claims created without a class.
    fn default_storage_class(&self) -> Option<String> {
        let rt = self.find_type("storage.k8s.io", "v1", "storageclasses")?;
        let classes = self.list(&rt, None, &Default::default()).ok()?.items;
        crate::sandbox::sim::pvc::default_class(&classes).map(|c| str_at(c, "/metadata/name").to_string())
    }

    /// A claim's request may shrink only down to above its actual capacity (v1.33 validation, recovery from a
    /// failed expansion), and grow only when its StorageClass allows expansion (the resize admission plugin).
    fn check_claim_resize(&self, rt: &ResourceType, name: &str, old: &Value, new: &Value) -> Result<(), ApiError> {
        let classes = self
            .find_type("storage.k8s.io", "v1", "storageclasses")
            .and_then(|crt| self.list(&crt, None, &Default::default()).ok())
            .map(|page| page.items)
            .unwrap_or_default();
        crate::sandbox::sim::pvc::validate_update(old, new, &classes).map_err(|e| match e {
            crate::sandbox::sim::pvc::PvcError::Invalid { field, detail, .. } => {
                ApiError::invalid(rt, name, &field, &detail)
            }
            other => ApiError::new(other.http_status(), "Forbidden", other.to_string()),
        })
    }

    fn check_crd_names(&self, rt: &ResourceType, crd_obj: &Value) -> Result<(), ApiError> {
        let name = str_at(crd_obj, "/metadata/name");
        for t in super::resources::from_crd(crd_obj) {
            let taken = self.builtin.iter().any(|b| b.group == t.group && b.plural == t.plural)
                || self
                    .crd_types
                    .iter()
                    .any(|(n, ts)| n != name && ts.iter().any(|b| b.group == t.group && b.plural == t.plural));
            if taken {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "spec.names.plural",
                    "Invalid value: the resource is already served",
                ));
            }
        }
        Ok(())
    }

    /// Replaces an object (PUT, or the result of a patch) under the subresource rules.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new_view: Value,
        sub: Subresource,
        opts: &WriteOptions,
        record_manager: bool,
    ) -> Result<Value, ApiError> {
        let key = self.key(rt, ns, name);
        let old = self.existing(rt, &key)?;
        check_shape(&new_view)?;
        let mut new = from_view(rt, new_view);
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        let body_name = str_at(&new, "/metadata/name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = str_at(&new, "/metadata/namespace");
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let sent_rv = str_at(&new, "/metadata/resourceVersion");
        let old_rv = str_at(&old, "/metadata/resourceVersion");
        if !sent_rv.is_empty() && sent_rv != old_rv {
            return Err(ApiError::conflict(
                rt,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut merged = match sub {
            Subresource::Status => {
                let mut m = (*old).clone();
                match new.get("status") {
                    Some(s) => m["status"] = s.clone(),
                    None => {
                        if let Some(o) = m.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                // Field ownership of the status write (server-side apply) is kept.
                if let Some(mf) = new["metadata"].get("managedFields") {
                    m["metadata"]["managedFields"] = mf.clone();
                }
                m
            }
            _ => {
                let mut m = new;
                if rt.status_subresource {
                    match old.get("status") {
                        Some(s) => m["status"] = s.clone(),
                        None => {
                            if let Some(o) = m.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                }
                m
            }
        };
        // Server-owned metadata survives whatever the client sent.
        let meta = &mut merged["metadata"];
        meta["name"] = json!(name);
        if rt.namespaced {
            meta["namespace"] = json!(ns);
        }
        for field in ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            match old["metadata"].get(field) {
                Some(v) => meta[field] = v.clone(),
                None => {
                    if let Some(m) = meta.as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        meta["resourceVersion"] = json!(old_rv);
        check_metadata(rt, name, &merged)?;
        if sub != Subresource::Status {
            check_immutable(rt, name, &old, &mut merged)?;
            if rt.group.is_empty() && rt.kind == "PersistentVolumeClaim" {
                self.check_claim_resize(rt, name, &old, &merged)?;
            }
        }
        self.apply_schema(rt, name, &mut merged, opts, Some(&old))?;
        fold_secret_string_data(rt, name, &mut merged)?;
        if spec_part(&merged) != spec_part(&old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            merged["metadata"]["generation"] = json!(generation + 1);
        }
        if crd::is_crd(&key.gr) {
            crd::accept(&mut merged).map_err(|(field, why)| ApiError::invalid(rt, name, &field, &why))?;
            self.check_crd_names(rt, &merged)?;
            warn_unchecked_rules(name, &merged);
        }
        if record_manager {
            let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
            merged = ssa::record_update(Some(&old), &merged, &manager, subresource_name(sub));
        }
        if same_content(&merged, &old) && !self.bump_noop {
            return Ok(to_view(rt, &old));
        }
        if opts.dry_run {
            return Ok(to_view(rt, &merged));
        }
        let is_namespace = key.gr == GroupResource::of_namespaces();
        if !merged["metadata"]["deletionTimestamp"].is_null() && finalizers(&merged).is_empty() && !is_namespace {
            // The last finalizer went: the pending deletion completes now.
            let last = self.finish_removal(&key, Some(merged))?;
            return Ok(to_view(rt, &last.unwrap_or_else(|| (*old).clone())));
        }
        let stored = self.put(&key, merged, EventType::Modified)?;
        if crd::is_crd(&key.gr) {
            self.crd_types.insert(name.to_string(), super::resources::from_crd(&stored));
        }
        if is_namespace {
            // A terminating namespace goes once it is empty and its own finalizers are gone.
            self.check_namespace_done(name)?;
            if self.get(&key).is_none() {
                return Ok(to_view(rt, &stored));
            }
        }
        self.after_update(&key, &old, &stored)?;
        // Owner references rewritten to owners that are all gone: the collector takes the object, as upstream.
        if old["metadata"]["ownerReferences"] != stored["metadata"]["ownerReferences"] {
            self.collect_if_orphaned(&key)?;
        }
        Ok(to_view(rt, &stored))
    }

    /// Applies a patch of any kind; returns the object and whether an apply created it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn patch(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let key = self.key(rt, ns, name);
        let manager = opts.field_manager.clone().unwrap_or_default();
        if kind == PatchKind::Apply && manager.is_empty() {
            return Err(ApiError::invalid(rt, name, "fieldManager", "Required value: is required for apply patch"));
        }
        if kind != PatchKind::Apply && opts.force {
            return Err(ApiError::bad_request("force may only be used with apply patches"));
        }
        let live = self.get(&key).cloned();
        let Some(live) = live else {
            if kind != PatchKind::Apply || sub != Subresource::Main {
                return Err(ApiError::not_found(rt, name));
            }
            check_shape(patch)?;
            let mut applied = patch.clone();
            if !applied["metadata"].is_object() {
                applied["metadata"] = json!({});
            }
            applied["metadata"]["name"] = json!(name);
            if rt.namespaced && str_at(&applied, "/metadata/namespace").is_empty() {
                applied["metadata"]["namespace"] = json!(ns);
            }
            let obj = ssa::apply(None, &applied, &manager, opts.force).map_err(|c| apply_conflict(rt, name, c))?;
            let mut create_opts = opts.clone();
            create_opts.field_manager = Some(manager);
            // apply already recorded managedFields; create only records for non-apply writes.
            return self.create_applied(rt, ns, obj, &create_opts).map(|v| (v, true));
        };
        if sub == Subresource::Scale {
            let scale = scale_view(rt, &live)?;
            let new_scale = run_patch(rt, name, kind, &scale, patch, &manager, opts.force, Some("scale"))?;
            return self.update_scale(rt, ns, name, new_scale, opts).map(|v| (v, false));
        }
        let live_view = to_view(rt, &live);
        // A merge or apply patch that names a resourceVersion is an optimistic-concurrency precondition, as on a
        // real API server: a stale one is refused instead of silently overwriting a newer object.
        if matches!(kind, PatchKind::Merge | PatchKind::Apply) {
            if let Some(rv) = patch.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
                if !rv.is_empty() && Some(rv) != live.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
                    return Err(ApiError::conflict(
                        rt,
                        name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ));
                }
            }
        }
        let mut applied = patch.clone();
        if kind == PatchKind::Apply {
            check_shape(patch)?;
            // kube-rs status applies carry no metadata: name and namespace come from the URL.
            if !applied["metadata"].is_object() {
                applied["metadata"] = json!({});
            }
            applied["metadata"]["name"] = json!(name);
            if rt.namespaced {
                applied["metadata"]["namespace"] = json!(ns);
            }
        }
        let new_view = run_patch(rt, name, kind, &live_view, &applied, &manager, opts.force, subresource_name(sub))?;
        let updated = self.update(rt, ns, name, new_view, sub, opts, kind != PatchKind::Apply)?;
        Ok((updated, false))
    }

    fn create_applied(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        // Same as create, but managedFields came from apply: keep them.
        let mf = obj["metadata"].get("managedFields").cloned();
        let created_view = {
            let mut probe = opts.clone();
            probe.dry_run = true;
            self.create(rt, ns, obj.clone(), &probe)?
        };
        let mut final_obj = created_view;
        if let Some(mf) = mf {
            final_obj["metadata"]["managedFields"] = mf;
        }
        if opts.dry_run {
            return Ok(final_obj);
        }
        let key = self.key(rt, ns, str_at(&final_obj, "/metadata/name"));
        let stored = self.put(&key, from_view(rt, final_obj), EventType::Added)?;
        if crd::is_crd(&key.gr) {
            self.crd_types.insert(key.name.clone(), super::resources::from_crd(&stored));
        }
        // As for a POST: an object applied for an owner that is already gone is collected.
        self.collect_if_orphaned(&key)?;
        Ok(to_view(rt, &stored))
    }

    pub(crate) fn get_scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let key = self.key(rt, ns, name);
        scale_view(rt, &*self.existing(rt, &key)?)
    }

    pub(crate) fn update_scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        scale: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let Some(sc) = rt.scale_subresource.clone() else {
            return Err(ApiError::no_route(&format!("{}/scale", rt.plural)));
        };
        let key = self.key(rt, ns, name);
        let live = self.existing(rt, &key)?;
        let sent_rv = str_at(&scale, "/metadata/resourceVersion");
        if !sent_rv.is_empty() && sent_rv != str_at(&live, "/metadata/resourceVersion") {
            return Err(ApiError::conflict(
                rt,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let Some(replicas) = scale["spec"]["replicas"].as_i64() else {
            return Err(ApiError::invalid(rt, name, "spec.replicas", "Required value: replicas must be a number"));
        };
        if replicas < 0 {
            return Err(ApiError::invalid(
                rt,
                name,
                "spec.replicas",
                "Invalid value: must be greater than or equal to 0",
            ));
        }
        let mut obj = to_view(rt, &live);
        set_at_pointer(&mut obj, &path_to_pointer(&sc.spec_replicas_path), json!(replicas));
        let updated = self.update(rt, ns, name, obj, Subresource::Main, opts, true)?;
        scale_view(rt, &from_view(rt, updated))
    }
}

/// CEL rules (`x-kubernetes-validations`) are not evaluated here; say so instead of pretending they hold.
fn warn_unchecked_rules(name: &str, crd_obj: &Value) {
    if super::schema_validation::has_cel_rules(&crd_obj["spec"]) {
        tracing::warn!(crd = %name, "the CRD has x-kubernetes-validations (CEL) rules; the sandbox does not evaluate them");
    }
}

/// managedFields name the subresource a write went through (`status`, `scale`); the main resource has none.
/// A Secret's `stringData` goes into `data` before anything is stored (see `secrets.rs`).
fn fold_secret_string_data(rt: &ResourceType, name: &str, obj: &mut Value) -> Result<(), ApiError> {
    if rt.group.is_empty() && rt.kind == "Secret" {
        super::secrets::fold_string_data(obj).map_err(|(field, why)| ApiError::invalid(rt, name, &field, &why))?;
    }
    Ok(())
}

fn subresource_name(sub: Subresource) -> Option<&'static str> {
    match sub {
        Subresource::Main => None,
        Subresource::Status => Some("status"),
        Subresource::Scale => Some("scale"),
    }
}

fn apply_conflict(rt: &ResourceType, name: &str, c: ssa::ApplyConflict) -> ApiError {
    let causes: Vec<Value> = c
        .conflicts
        .iter()
        .map(|f| json!({"type": "FieldManagerConflict", "message": f.cause_message(), "field": f.field}))
        .collect();
    ApiError::conflict_with_causes(rt, name, c.message(), causes)
}

fn run_patch(
    rt: &ResourceType,
    name: &str,
    kind: PatchKind,
    live: &Value,
    patch: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    use super::patch::PatchError;
    let map_err = |e: PatchError| match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::TestFailed(m) => {
            let mut e = ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {m}"),
            );
            e.details = Some(Box::new(json!({"name": name, "group": rt.group, "kind": rt.plural})));
            e
        }
        PatchError::Invalid(m) => ApiError::invalid(rt, name, "patch", &m),
    };
    match kind {
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let mut out = live.clone();
            super::patch::merge_patch(&mut out, patch);
            Ok(out)
        }
        PatchKind::Json => patches::json_patch(live, patch).map_err(map_err),
        PatchKind::Strategic => patches::strategic_merge(live, patch, &rt.kind).map_err(map_err),
        PatchKind::Apply => match subresource {
            Some(sub) => ssa::apply_subresource(Some(live), patch, manager, force, sub),
            None => ssa::apply(Some(live), patch, manager, force),
        }
        .map_err(|c| apply_conflict(rt, name, c)),
    }
}

/// `autoscaling/v1 Scale` of an object, through its ScaleSubresource paths.
fn scale_view(rt: &ResourceType, obj: &Value) -> Result<Value, ApiError> {
    let Some(sc) = &rt.scale_subresource else {
        return Err(ApiError::no_route(&format!("{}/scale", rt.plural)));
    };
    let spec = obj.pointer(&path_to_pointer(&sc.spec_replicas_path)).and_then(Value::as_i64).unwrap_or(0);
    let status = obj.pointer(&path_to_pointer(&sc.status_replicas_path)).and_then(Value::as_i64).unwrap_or(0);
    let selector = sc
        .label_selector_path
        .as_ref()
        .and_then(|p| obj.pointer(&path_to_pointer(p)))
        .map(selector_string)
        .unwrap_or_default();
    let m = &obj["metadata"];
    let mut meta = json!({"name": m["name"], "uid": m["uid"], "resourceVersion": m["resourceVersion"],
        "creationTimestamp": m["creationTimestamp"]});
    if rt.namespaced {
        meta["namespace"] = m["namespace"].clone();
    }
    let mut status_v = json!({"replicas": status});
    if !selector.is_empty() {
        status_v["selector"] = json!(selector);
    }
    Ok(
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": {"replicas": spec}, "status": status_v}),
    )
}
