//! The object store: every object of every served resource, the global resourceVersion counter, the
//! bounded watch history and the broadcast hub that feeds open watches. Writes go to redb first (when a
//! state directory is set), in resourceVersion order, then to memory, then to watchers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::persist::Persist;
use super::resources::{ResourceType, builtin};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::views::to_view;

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

pub(crate) struct State {
    pub(crate) rv: u64,
    /// Every change with rv > floor is still in `history`.
    pub(crate) floor: u64,
    pub(crate) builtin: Vec<ResourceType>,
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
    /// Refuse custom resources their CRD's schema forbids (422), as an apiserver does.
    pub(crate) validate: bool,
}

impl State {
    pub(crate) fn new(history_size: usize, persist: Option<Persist>, hub: broadcast::Sender<HubMsg>) -> Self {
        let builtin = builtin();
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
            validate: true,
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

    /// Resizes the watch history; shrinking forgets the oldest changes (watches from them get 410).
    pub(crate) fn set_history_size(&mut self, size: usize) {
        self.history_size = size.max(1);
        self.trim_history();
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_size {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        self.trim_history();
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

    pub(crate) fn existing(&self, rt: &ResourceType, key: &ObjectKey) -> Result<Arc<Value>, ApiError> {
        self.get(key).cloned().ok_or_else(|| ApiError::not_found(rt, &key.name))
    }

    pub(crate) fn check_namespace(&self, rt: &ResourceType, ns: &str) -> Result<(), ApiError> {
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
    fn rbac_names_may_contain_colons() {
        let s = store();
        let cr = s.resource("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        s.create(&cr, "", json!({"metadata": {"name": "system:dbdeck:operator"}}), &Default::default()).unwrap();
        let err = s.create(&cr, "", json!({"metadata": {"name": "a/b"}}), &Default::default()).unwrap_err();
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
