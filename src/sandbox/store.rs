//! The object store: every object of every served resource, the global resourceVersion counter, the
//! bounded watch history and the broadcast hub that feeds open watches. Writes go to redb first (when a
//! state directory is set), in resourceVersion order, then to memory, then to watchers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::crd;
use super::persist::Persist;
use super::resources::{ResourceType, builtin};
use super::selector::{FieldSelector, LabelSelector};
use super::shims::patch::{self as patches, apply as ssa};
use super::shims::resources::extra_builtin;
use super::status::ApiError;
use super::views::{from_view, to_view};

/// Group and plural, the identity of a stored collection (versions share it).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    /// Where objects of `rt` live: events.k8s.io events share the core/v1 events collection.
    pub fn of(rt: &ResourceType) -> Self {
        if rt.group == "events.k8s.io" && rt.plural == "events" {
            return GroupResource { group: String::new(), resource: "events".into() };
        }
        GroupResource { group: rt.group.clone(), resource: rt.plural.clone() }
    }

    pub(crate) fn of_namespaces() -> Self {
        GroupResource { group: String::new(), resource: "namespaces".into() }
    }
}

/// One object's address; `namespace` is empty for cluster-scoped kinds.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    pub gr: GroupResource,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change; its `rv` is the object's new resourceVersion.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: EventType,
    pub key: ObjectKey,
    pub object: Arc<Value>,
    /// The state before a MODIFIED, so selector watches can tell an object leaving the selection.
    pub old: Option<Arc<Value>>,
}

/// What open watches receive.
#[derive(Clone, Debug)]
pub enum HubMsg {
    Change(Arc<Change>),
    /// Fault injection: end every watch with an in-stream 410 Expired.
    Expire,
    /// Fault injection: close every watch connection.
    Drop,
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
    Scale,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// The field manager of the write (`fieldManager`, or derived from the user agent).
    pub field_manager: Option<String>,
    pub force: bool,
    /// `fieldValidation=Strict`: fields the CRD schema does not declare fail the write (400) instead
    /// of being pruned silently.
    pub strict_fields: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a LIST.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
}

/// A LIST page of the stored objects themselves (see [`crate::sandbox::views::list_json`]).
#[derive(Clone, Debug)]
pub(crate) struct SharedPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
}

/// The outcome of a DELETE: the object's last state, and whether it is gone (false: finalizers pending).
#[derive(Clone, Debug)]
pub struct Deleted {
    pub object: Value,
    pub removed: bool,
}

pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["uid"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Rejects bodies a typed decoder would refuse: a non-object, or metadata/spec/status of the wrong JSON
/// type. Everything after this may index into those fields safely.
fn check_shape(obj: &Value) -> Result<(), ApiError> {
    let bad = |what: &str| Err(ApiError::bad_request(format!("the object could not be decoded: {what}")));
    let Some(map) = obj.as_object() else { return bad("the body must be a JSON object") };
    for key in ["metadata", "spec", "status"] {
        if map.get(key).is_some_and(|v| !v.is_object() && !v.is_null()) {
            return bad(&format!("{key} must be an object"));
        }
    }
    let meta = &obj["metadata"];
    for key in ["labels", "annotations"] {
        match &meta[key] {
            Value::Null => {}
            Value::Object(m) if m.values().all(Value::is_string) => {}
            _ => return bad(&format!("metadata.{key} must map strings to strings")),
        }
    }
    match &meta["finalizers"] {
        Value::Null => {}
        Value::Array(a) if a.iter().all(Value::is_string) => {}
        _ => return bad("metadata.finalizers must be a list of strings"),
    }
    match &meta["ownerReferences"] {
        Value::Null => {}
        Value::Array(a) if a.iter().all(Value::is_object) => {}
        _ => return bad("metadata.ownerReferences must be a list of objects"),
    }
    for key in ["name", "namespace", "generateName", "resourceVersion", "uid"] {
        if !meta[key].is_null() && !meta[key].is_string() {
            return bad(&format!("metadata.{key} must be a string"));
        }
    }
    Ok(())
}

/// A label value, or the name part of a label key: at most 63 alphanumerics, '-', '_' or '.', starting
/// and ending with an alphanumeric.
fn valid_label_part(s: &str) -> bool {
    s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

fn valid_qualified_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    !name.is_empty() && valid_label_part(name) && prefix.is_none_or(valid_name)
}

/// Upstream's ObjectMeta validation that clients notice: label syntax, annotation keys, owner references.
fn check_metadata(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
    let meta = &obj["metadata"];
    for (k, v) in meta["labels"].as_object().into_iter().flatten() {
        let value = v.as_str().unwrap_or_default();
        if !valid_qualified_key(k) {
            return Err(ApiError::invalid(
                rt,
                name,
                "metadata.labels",
                &format!(
                    "Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
        if !valid_label_part(value) {
            return Err(ApiError::invalid(
                rt,
                name,
                "metadata.labels",
                &format!(
                    "Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
    }
    for k in meta["annotations"].as_object().into_iter().flat_map(|m| m.keys()) {
        if !valid_qualified_key(k) {
            return Err(ApiError::invalid(
                rt,
                name,
                "metadata.annotations",
                &format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"),
            ));
        }
    }
    for r in meta["ownerReferences"].as_array().into_iter().flatten() {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if r[field].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    &format!("metadata.ownerReferences.{field}"),
                    "Invalid value: \"\": must not be empty",
                ));
            }
        }
    }
    Ok(())
}

/// DNS-1123 subdomain, as upstream requires of most object names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

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

pub(crate) struct State {
    pub(crate) rv: u64,
    /// Every change with rv > floor is still in `history`.
    pub(crate) floor: u64,
    builtin: Vec<ResourceType>,
    /// Types served because of a CRD, by CRD name.
    pub(crate) crd_types: BTreeMap<String, Vec<ResourceType>>,
    pub(crate) objects: HashMap<GroupResource, BTreeMap<(String, String), Arc<Value>>>,
    by_uid: HashMap<String, ObjectKey>,
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
    history: VecDeque<Arc<Change>>,
    history_size: usize,
    persist: Option<Persist>,
    hub: broadcast::Sender<HubMsg>,
    pub(crate) mutations: u64,
    /// Fault mode: no-op writes still commit (new RV, MODIFIED event).
    pub(crate) bump_noop: bool,
    /// Prune and default custom resources by their CRD's schema, as an apiserver does.
    pub(crate) prune: bool,
}

impl State {
    pub(crate) fn new(history_size: usize, persist: Option<Persist>, hub: broadcast::Sender<HubMsg>) -> Self {
        let mut builtin = builtin();
        builtin.extend(extra_builtin());
        State {
            rv: 0,
            floor: 0,
            builtin,
            crd_types: BTreeMap::new(),
            objects: HashMap::new(),
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
            history: VecDeque::new(),
            history_size: history_size.max(1),
            persist,
            hub,
            mutations: 0,
            bump_noop: false,
            prune: true,
        }
    }

    pub(crate) fn types(&self) -> Vec<ResourceType> {
        let mut all = self.builtin.clone();
        all.extend(self.crd_types.values().flatten().cloned());
        all
    }

    pub(crate) fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.builtin
            .iter()
            .chain(self.crd_types.values().flatten())
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// Some served type for a stored collection (any version), for messages and GC.
    pub(crate) fn type_for_gr(&self, gr: &GroupResource) -> Option<ResourceType> {
        self.builtin.iter().chain(self.crd_types.values().flatten()).find(|t| GroupResource::of(t) == *gr).cloned()
    }

    pub(crate) fn get(&self, key: &ObjectKey) -> Option<&Arc<Value>> {
        self.objects.get(&key.gr)?.get(&(key.namespace.clone(), key.name.clone()))
    }

    pub(crate) fn key_of_uid(&self, uid: &str) -> Option<&ObjectKey> {
        self.by_uid.get(uid)
    }

    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.dependents.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    pub(crate) fn namespace_has_objects(&self, ns: &str) -> bool {
        self.objects
            .values()
            .any(|m| m.range((ns.to_string(), String::new())..).next().is_some_and(|((n, _), _)| n == ns))
    }

    pub(crate) fn keys_in_namespace(&self, ns: &str) -> Vec<ObjectKey> {
        let mut out = Vec::new();
        for (gr, m) in &self.objects {
            for ((n, name), _) in m.range((ns.to_string(), String::new())..) {
                if n != ns {
                    break;
                }
                out.push(ObjectKey { gr: gr.clone(), namespace: n.clone(), name: name.clone() });
            }
        }
        out
    }

    pub(crate) fn keys_of(&self, gr: &GroupResource) -> Vec<ObjectKey> {
        self.objects
            .get(gr)
            .map(|m| {
                m.keys()
                    .map(|(ns, name)| ObjectKey { gr: gr.clone(), namespace: ns.clone(), name: name.clone() })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unindex(&mut self, key: &ObjectKey, obj: &Value) {
        let uid = str_at(obj, "/metadata/uid");
        if self.by_uid.get(uid) == Some(key) {
            self.by_uid.remove(uid);
        }
        for owner in owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }

    fn index(&mut self, key: &ObjectKey, obj: &Value) {
        let uid = str_at(obj, "/metadata/uid");
        if !uid.is_empty() {
            self.by_uid.insert(uid.to_string(), key.clone());
        }
        for owner in owner_uids(obj) {
            self.dependents.entry(owner).or_default().insert(key.clone());
        }
    }

    /// Loads an object read back from disk (no new RV, no event).
    pub(crate) fn restore(&mut self, key: ObjectKey, obj: Value) {
        self.index(&key, &obj);
        self.objects.entry(key.gr.clone()).or_default().insert((key.namespace, key.name), Arc::new(obj));
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_size {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
        self.mutations += 1;
        // No receivers is fine: nobody is watching.
        let _ = self.hub.send(HubMsg::Change(change));
    }

    fn persist_write(&mut self, rv: u64, key: &ObjectKey, obj: Option<&Value>) -> Result<(), ApiError> {
        if let Some(p) = &self.persist {
            p.write(rv, key, obj).map_err(|e| {
                tracing::error!(error = %e, object = %key.name, "sandbox persistence failed");
                ApiError::internal(format!("the sandbox could not persist {} {:?}: {e}", key.gr.resource, key.name))
            })?;
        }
        Ok(())
    }

    /// Stores `obj` under `key` with a new resourceVersion and tells the watchers.
    pub(crate) fn put(&mut self, key: &ObjectKey, mut obj: Value, kind: EventType) -> Result<Arc<Value>, ApiError> {
        let rv = self.rv + 1;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.persist_write(rv, key, Some(&obj))?;
        self.rv = rv;
        let obj = Arc::new(obj);
        let old = self
            .objects
            .entry(key.gr.clone())
            .or_default()
            .insert((key.namespace.clone(), key.name.clone()), obj.clone());
        if let Some(old) = &old {
            self.unindex(key, old);
        }
        self.index(key, &obj);
        self.record(Change { rv, kind, key: key.clone(), object: obj.clone(), old });
        Ok(obj)
    }

    /// Removes the object for good: a DELETED event carrying its final state at a new resourceVersion.
    pub(crate) fn remove_raw(
        &mut self,
        key: &ObjectKey,
        final_state: Option<Value>,
    ) -> Result<Option<Arc<Value>>, ApiError> {
        let Some(old) = self.get(key).cloned() else { return Ok(None) };
        let rv = self.rv + 1;
        self.persist_write(rv, key, None)?;
        self.rv = rv;
        if let Some(m) = self.objects.get_mut(&key.gr) {
            m.remove(&(key.namespace.clone(), key.name.clone()));
        }
        self.unindex(key, &old);
        let mut last = final_state.unwrap_or_else(|| (*old).clone());
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        let last = Arc::new(last);
        self.record(Change { rv, kind: EventType::Deleted, key: key.clone(), object: last.clone(), old: Some(old) });
        Ok(Some(last))
    }

    /// History entries after `rv` (caller checked `rv >= floor`).
    pub(crate) fn history_after(&self, rv: u64) -> Vec<Arc<Change>> {
        let skip = self.history.partition_point(|c| c.rv <= rv);
        self.history.iter().skip(skip).cloned().collect()
    }

    pub(crate) fn key(&self, rt: &ResourceType, ns: &str, name: &str) -> ObjectKey {
        let namespace = if rt.namespaced { ns.to_string() } else { String::new() };
        ObjectKey { gr: GroupResource::of(rt), namespace, name: name.to_string() }
    }

    fn existing(&self, rt: &ResourceType, key: &ObjectKey) -> Result<Arc<Value>, ApiError> {
        self.get(key).cloned().ok_or_else(|| ApiError::not_found(rt, &key.name))
    }

    fn check_namespace(&self, rt: &ResourceType, ns: &str) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        let nskey = ObjectKey { gr: GroupResource::of_namespaces(), namespace: String::new(), name: ns.to_string() };
        let Some(nsobj) = self.get(&nskey) else {
            let ns_rt = self.type_for_gr(&GroupResource::of_namespaces()).unwrap_or_else(|| rt.clone());
            return Err(ApiError::not_found(&ns_rt, ns));
        };
        if !nsobj["metadata"]["deletionTimestamp"].is_null() {
            return Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )));
        }
        Ok(())
    }

    pub(crate) fn get_view(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let key = self.key(rt, ns, name);
        Ok(to_view(rt, &*self.existing(rt, &key)?))
    }

    pub(crate) fn list(&self, rt: &ResourceType, ns: Option<&str>, opts: &ListOptions) -> Result<ListPage, ApiError> {
        let page = self.list_shared(rt, ns, opts)?;
        Ok(ListPage {
            items: page.items.iter().map(|o| to_view(rt, o)).collect(),
            resource_version: page.resource_version,
            continue_token: page.continue_token,
        })
    }

    /// One page of stored objects, shared rather than copied (the lock is held only to collect them).
    pub(crate) fn list_shared(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<SharedPage, ApiError> {
        let (list_rv, start_after) = match &opts.continue_token {
            Some(tok) => {
                let (rv, after) = decode_continue(tok)?;
                if rv < self.floor {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter.",
                    ));
                }
                (rv, Some(after))
            }
            None => (self.rv, None),
        };
        let mut items = Vec::new();
        let mut next = None;
        let gr = GroupResource::of(rt);
        if let Some(m) = self.objects.get(&gr) {
            let ns = ns.filter(|_| rt.namespaced);
            let lower = match (&start_after, ns) {
                (Some(after), _) => std::ops::Bound::Excluded(after.clone()),
                (None, Some(n)) => std::ops::Bound::Included((n.to_string(), String::new())),
                (None, None) => std::ops::Bound::Unbounded,
            };
            for ((obj_ns, _), obj) in m.range((lower, std::ops::Bound::Unbounded)) {
                if let Some(n) = ns
                    && obj_ns != n
                {
                    break;
                }
                if !opts.labels.matches(obj) || !opts.fields.matches(obj) {
                    continue;
                }
                if opts.limit.is_some_and(|l| l > 0 && items.len() >= l) {
                    // Only hand out a token when something else matches after this page.
                    next = Some(encode_continue(list_rv, &items_last_key(&items)));
                    break;
                }
                items.push(obj.clone());
            }
        }
        Ok(SharedPage { items, resource_version: list_rv, continue_token: next })
    }

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
        if !valid_name(&name) {
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
        self.apply_schema(rt, &name, &mut obj, opts)?;
        if key.gr == GroupResource::of_namespaces() {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        if crd::is_crd(&key.gr) {
            crd::accept(&mut obj).map_err(|(field, why)| ApiError::invalid(rt, &name, &field, &why))?;
            self.check_crd_names(rt, &obj)?;
        }
        let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
        let obj = ssa::record_update(None, &obj, &manager);
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

    /// Prunes and defaults a custom resource by its CRD schema (built-in kinds are left alone).
    fn apply_schema(
        &self,
        rt: &ResourceType,
        name: &str,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> Result<(), ApiError> {
        let custom = self.crd_types.values().flatten().any(|t| t.group == rt.group && t.plural == rt.plural);
        let Some(schema) = rt.schema.as_ref().filter(|_| self.prune && custom) else { return Ok(()) };
        let pruned = super::schema::prune_and_default(obj, schema);
        if pruned.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> =
            pruned.iter().map(|p| format!("unknown field {:?}", p.trim_start_matches('.'))).collect();
        if opts.strict_fields {
            let mut e =
                ApiError::bad_request(format!("{} {name:?}: strict decoding error: {}", rt.kind, fields.join(", ")));
            e.details = Some(Box::new(json!({"name": name, "group": rt.group, "kind": rt.plural})));
            return Err(e);
        }
        tracing::debug!(kind = %rt.kind, %name, pruned = ?pruned, "pruned fields the CRD schema does not declare");
        Ok(())
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
        self.apply_schema(rt, name, &mut merged, opts)?;
        if spec_part(&merged) != spec_part(&old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            merged["metadata"]["generation"] = json!(generation + 1);
        }
        if crd::is_crd(&key.gr) {
            crd::accept(&mut merged).map_err(|(field, why)| ApiError::invalid(rt, name, &field, &why))?;
            self.check_crd_names(rt, &merged)?;
        }
        if record_manager {
            let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
            merged = ssa::record_update(Some(&old), &merged, &manager);
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
            let new_scale = run_patch(rt, name, kind, &scale, patch, &manager, opts.force)?;
            return self.update_scale(rt, ns, name, new_scale, opts).map(|v| (v, false));
        }
        let live_view = to_view(rt, &live);
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
        let new_view = run_patch(rt, name, kind, &live_view, &applied, &manager, opts.force)?;
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

fn items_last_key(items: &[Arc<Value>]) -> (String, String) {
    // The token resumes after the last item handed out on this page.
    let last = items.last();
    (
        last.map(|o| str_at(o, "/metadata/namespace").to_string()).unwrap_or_default(),
        last.map(|o| str_at(o, "/metadata/name").to_string()).unwrap_or_default(),
    )
}

fn encode_continue(rv: u64, after: &(String, String)) -> String {
    use base64::Engine;
    let raw = json!({"rv": rv, "ns": after.0, "name": after.1}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    Ok((rv, (str_at(&v, "/ns").to_string(), str_at(&v, "/name").to_string())))
}

fn apply_conflict(rt: &ResourceType, name: &str, c: ssa::ApplyConflict) -> ApiError {
    let causes: Vec<Value> = c
        .conflicts
        .iter()
        .map(|f| {
            json!({"type": "FieldManagerConflict", "message": format!("conflict with {:?}", f.manager), "field": f.field})
        })
        .collect();
    let fields: Vec<String> = c.conflicts.iter().map(|f| format!("{} (owned by {:?})", f.field, f.manager)).collect();
    ApiError::conflict_with_causes(
        rt,
        name,
        format!("Apply failed with {} conflict(s): {}", c.conflicts.len(), fields.join(", ")),
        causes,
    )
}

fn run_patch(
    rt: &ResourceType,
    name: &str,
    kind: PatchKind,
    live: &Value,
    patch: &Value,
    manager: &str,
    force: bool,
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
        PatchKind::Apply => ssa::apply(Some(live), patch, manager, force).map_err(|c| apply_conflict(rt, name, c)),
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

/// The store as the server and in-process simulated controllers use it. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    state: Arc<Mutex<State>>,
    hub: broadcast::Sender<HubMsg>,
}

impl Store {
    pub(crate) fn from_state(state: State, hub: broadcast::Sender<HubMsg>) -> Self {
        Store { state: Arc::new(Mutex::new(state)), hub }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every write is one step); keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn hub(&self) -> &broadcast::Sender<HubMsg> {
        &self.hub
    }

    /// Every committed change of every kind, in resourceVersion order, from now on: what an in-process
    /// simulated controller reacts to. A receiver that falls more than the hub's capacity behind gets
    /// `RecvError::Lagged` and should re-read the state it cares about.
    pub fn changes(&self) -> broadcast::Receiver<HubMsg> {
        self.hub.subscribe()
    }

    /// Every resource type served right now (built-in and from CRDs).
    pub fn resources(&self) -> Vec<ResourceType> {
        self.lock().types()
    }

    /// The served type for a group, version and plural.
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.lock().find_type(group, version, plural)
    }

    /// The served type for an `apiVersion` and `kind` (as in an object or an ownerReference).
    pub fn resource_for_kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        self.lock().types().into_iter().find(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Number of committed changes (each bumped the resourceVersion) since this process started.
    pub fn mutation_count(&self) -> u64 {
        self.lock().mutations
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.lock().get_view(rt, ns, name)
    }

    /// `ns = None` lists across namespaces (or a cluster-scoped kind).
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>, opts: &ListOptions) -> Result<ListPage, ApiError> {
        self.lock().list(rt, ns, opts)
    }

    pub(crate) fn list_shared(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<SharedPage, ApiError> {
        self.lock().list_shared(rt, ns, opts)
    }

    pub fn create(&self, rt: &ResourceType, ns: &str, obj: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        self.lock().create(rt, ns, obj, opts)
    }

    pub fn update(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut st = self.lock();
        match sub {
            Subresource::Scale => st.update_scale(rt, ns, name, obj, opts),
            _ => st.update(rt, ns, name, obj, sub, opts, true),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        self.lock().patch(rt, ns, name, kind, patch, sub, opts)
    }

    pub fn get_scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.lock().get_scale(rt, ns, name)
    }

    pub fn delete(&self, rt: &ResourceType, ns: &str, name: &str, opts: &DeleteOptions) -> Result<Deleted, ApiError> {
        self.lock().delete(rt, ns, name, opts)
    }

    /// Deletes every matching object; returns each one's last state.
    pub fn delete_collection(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let mut st = self.lock();
        let all =
            ListOptions { labels: list.labels.clone(), fields: list.fields.clone(), limit: None, continue_token: None };
        let page = st.list(rt, ns, &all)?;
        let mut out = Vec::new();
        for item in page.items {
            let item_ns = str_at(&item, "/metadata/namespace").to_string();
            let name = str_at(&item, "/metadata/name").to_string();
            match st.delete(rt, &item_ns, &name, opts) {
                Ok(d) => out.push(d.object),
                // Already collected as a dependent of an earlier item.
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn store() -> Store {
        let (hub, _) = broadcast::channel(64);
        let st = State::new(100, None, hub.clone());
        let store = Store::from_state(st, hub);
        let ns = store.resource("", "v1", "namespaces").unwrap();
        store.create(&ns, "", json!({"metadata": {"name": "default"}}), &WriteOptions::default()).unwrap();
        store
    }

    fn cm_rt(s: &Store) -> ResourceType {
        s.resource("", "v1", "configmaps").unwrap()
    }

    #[test]
    fn create_sets_server_fields_and_rejects_duplicates() {
        let s = store();
        let cm = cm_rt(&s);
        let o = s
            .create(
                &cm,
                "default",
                json!({"metadata": {"generateName": "x-"}, "data": {"a": "1"}}),
                &Default::default(),
            )
            .unwrap();
        let name = str_at(&o, "/metadata/name");
        assert!(name.starts_with("x-") && name.len() == 7, "{name}");
        assert_eq!(o["metadata"]["generation"], 1);
        assert_eq!(o["kind"], "ConfigMap");
        assert!(!str_at(&o, "/metadata/uid").is_empty());
        let again = json!({"metadata": {"name": name}});
        assert_eq!(s.create(&cm, "default", again, &Default::default()).unwrap_err().reason, "AlreadyExists");
        let missing = s.create(&cm, "nope", json!({"metadata": {"name": "a"}}), &Default::default()).unwrap_err();
        assert_eq!((missing.code, missing.message.as_str()), (404, "namespaces \"nope\" not found"));
    }

    #[test]
    fn malformed_bodies_are_400_not_panics() {
        let s = store();
        let cm = cm_rt(&s);
        for body in [
            json!("text"),
            json!({"metadata": "x"}),
            json!({"metadata": {"name": "a", "labels": "x"}}),
            json!({"metadata": {"name": "a", "labels": {"k": 1}}}),
            json!({"metadata": {"name": "a", "finalizers": "x"}}),
            json!({"metadata": {"name": 5}}),
            json!({"metadata": {"name": "a"}, "spec": []}),
        ] {
            let err = s.create(&cm, "default", body.clone(), &Default::default()).unwrap_err();
            assert_eq!(err.code, 400, "{body}");
        }
        s.create(&cm, "default", json!({"metadata": {"name": "a"}}), &Default::default()).unwrap();
        let replace_root = json!([{"op": "replace", "path": "", "value": "x"}]);
        let err = s.patch(&cm, "default", "a", PatchKind::Json, &replace_root, Subresource::Main, &Default::default());
        assert_eq!(err.unwrap_err().code, 400);
        let opts = WriteOptions { field_manager: Some("m".into()), ..Default::default() };
        let err = s.patch(&cm, "default", "b", PatchKind::Apply, &json!(["x"]), Subresource::Main, &opts);
        assert_eq!(err.unwrap_err().code, 400);
    }

    #[test]
    fn metadata_validation_matches_upstream_rules() {
        let s = store();
        let cm = cm_rt(&s);
        let ok = json!({"metadata": {"name": "ok", "labels": {"app.kubernetes.io/name": "pxc", "empty": ""},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}});
        s.create(&cm, "default", ok, &Default::default()).unwrap();
        for body in [
            json!({"metadata": {"name": "a", "labels": {"app": "has space"}}}),
            json!({"metadata": {"name": "a", "labels": {"-bad": "x"}}}),
            json!({"metadata": {"name": "a", "labels": {"k": "x".repeat(64)}}}),
            json!({"metadata": {"name": "a", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o"}]}}),
            json!({"metadata": {"name": "Upper"}}),
        ] {
            let err = s.create(&cm, "default", body.clone(), &Default::default()).unwrap_err();
            assert_eq!((err.code, err.reason), (422, "Invalid"), "{body}");
        }
        let ns = s.resource("", "v1", "namespaces").unwrap();
        let err = s.create(&ns, "", json!({"metadata": {"name": "a.b"}}), &Default::default()).unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn update_checks_rv_and_noop_keeps_it() {
        let s = store();
        let cm = cm_rt(&s);
        let o = s
            .create(&cm, "default", json!({"metadata": {"name": "a"}, "data": {"k": "1"}}), &Default::default())
            .unwrap();
        let same = s.update(&cm, "default", "a", o.clone(), Subresource::Main, &Default::default()).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"]);
        let mut changed = o.clone();
        changed["data"]["k"] = json!("2");
        let v2 = s.update(&cm, "default", "a", changed.clone(), Subresource::Main, &Default::default()).unwrap();
        assert_ne!(v2["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"]);
        assert_eq!(v2["metadata"]["generation"], 2);
        let stale = s.update(&cm, "default", "a", changed, Subresource::Main, &Default::default()).unwrap_err();
        assert_eq!((stale.code, stale.reason), (409, "Conflict"));
    }

    #[test]
    fn change_feed_sees_every_kind_in_order() {
        let s = store();
        let mut feed = s.changes();
        let cm = cm_rt(&s);
        let sec = s.resource("", "v1", "secrets").unwrap();
        s.create(&cm, "default", json!({"metadata": {"name": "a"}}), &Default::default()).unwrap();
        s.create(&sec, "default", json!({"metadata": {"name": "b"}}), &Default::default()).unwrap();
        let mut seen = Vec::new();
        while let Ok(HubMsg::Change(c)) = feed.try_recv() {
            seen.push((c.key.gr.resource.clone(), c.kind, c.rv));
        }
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].0.as_str(), seen[0].1), ("configmaps", EventType::Added));
        assert_eq!(seen[1].0, "secrets");
        assert_eq!(seen[1].2, seen[0].2 + 1);
    }

    #[test]
    fn noop_bump_fault_commits_unchanged_writes() {
        let s = store();
        let cm = cm_rt(&s);
        let o = s.create(&cm, "default", json!({"metadata": {"name": "a"}}), &Default::default()).unwrap();
        s.lock().bump_noop = true;
        let again = s.update(&cm, "default", "a", o.clone(), Subresource::Main, &Default::default()).unwrap();
        assert_ne!(again["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"]);
    }

    #[test]
    fn paging_returns_tokens_until_the_end() {
        let s = store();
        let cm = cm_rt(&s);
        for i in 0..5 {
            s.create(&cm, "default", json!({"metadata": {"name": format!("c{i}")}}), &Default::default()).unwrap();
        }
        let mut opts = ListOptions { limit: Some(2), ..Default::default() };
        let mut names = Vec::new();
        let mut pages = 0;
        loop {
            let page = s.list(&cm, Some("default"), &opts).unwrap();
            pages += 1;
            names.extend(page.items.iter().map(|i| str_at(i, "/metadata/name").to_string()));
            match page.continue_token {
                Some(t) => opts.continue_token = Some(t),
                None => break,
            }
        }
        assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);
        assert_eq!(pages, 3);
    }

    #[test]
    fn continue_tokens_expire_with_the_history() {
        let (hub, _) = broadcast::channel(64);
        let s = Store::from_state(State::new(2, None, hub.clone()), hub);
        let ns = s.resource("", "v1", "namespaces").unwrap();
        for i in 0..3 {
            s.create(&ns, "", json!({"metadata": {"name": format!("n{i}")}}), &Default::default()).unwrap();
        }
        let first = s.list(&ns, None, &ListOptions { limit: Some(1), ..Default::default() }).unwrap();
        let token = first.continue_token.unwrap();
        for i in 3..6 {
            s.create(&ns, "", json!({"metadata": {"name": format!("n{i}")}}), &Default::default()).unwrap();
        }
        let opts = ListOptions { limit: Some(1), continue_token: Some(token), ..Default::default() };
        let err = s.list(&ns, None, &opts).unwrap_err();
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let garbage = ListOptions { continue_token: Some("not-a-token".into()), ..Default::default() };
        assert_eq!(s.list(&ns, None, &garbage).unwrap_err().code, 400);
    }

    #[test]
    fn json_patch_test_on_missing_path_equals_null() {
        let s = store();
        let cm = cm_rt(&s);
        s.create(&cm, "default", json!({"metadata": {"name": "a"}}), &Default::default()).unwrap();
        let p = json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                       {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]}]);
        let (o, _) = s.patch(&cm, "default", "a", PatchKind::Json, &p, Subresource::Main, &Default::default()).unwrap();
        assert_eq!(o["metadata"]["finalizers"], json!(["x/y"]));
        let err =
            s.patch(&cm, "default", "a", PatchKind::Json, &p, Subresource::Main, &Default::default()).unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
    }
}
