//! Watching a cluster kind so that one stored object which does not parse as its type (a string where
//! the schema wants a number, say) cannot stop the controller: the kind is watched untyped, each object
//! is parsed on its own, and one that fails is left out of the controller's cache and reported on —
//! a Warning Event and `state: error` with the field path in its status — while every other object is
//! reconciled and the cache still counts as synced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::context::{Synced, instance_name, publish_event, truncate};

/// Longest decode error kept in a log line, a status message or an Event: the offending value can be
/// megabytes long.
pub const MAX_ERROR_TEXT: usize = 300;

/// Parses one watched object as `K`; the error names the field (`spec.pxc.size: invalid type: …`).
pub fn parse<K: DeserializeOwned>(obj: &DynamicObject) -> Result<K, String> {
    let value = serde_json::to_value(obj).map_err(|e| truncate(&e.to_string(), MAX_ERROR_TEXT))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let inner = inner.split(" at line ").next().unwrap_or_default();
        let path = if path == "." { "(document)".to_string() } else { path };
        truncate(&format!("{path}: {inner}"), MAX_ERROR_TEXT)
    })
}

/// Reports objects that do not parse: once per distinct problem of an object (and not at all when its
/// status already says so, as after an engine restart).
#[derive(Clone)]
pub struct Unreadable {
    client: kube::Client,
    ar: ApiResource,
    instance: String,
    reported: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl Unreadable {
    pub fn new(client: kube::Client, ar: ApiResource) -> Self {
        Unreadable { client, ar, instance: instance_name(), reported: Default::default() }
    }

    /// The message this object's status and Event carry.
    pub fn message(&self, obj: &DynamicObject, why: &str) -> String {
        format!(
            "{} {}/{} cannot be read: {why}; it is not reconciled until the field is fixed",
            self.ar.kind,
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        )
    }

    fn forget(&self, obj: &DynamicObject) {
        let key = (obj.namespace().unwrap_or_default(), obj.name_any());
        self.reported.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// Records the problem and, when it is news, writes status and Event in the background.
    fn report(&self, obj: DynamicObject, why: String) {
        let message = self.message(&obj, &why);
        let key = (obj.namespace().unwrap_or_default(), obj.name_any());
        {
            let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
            if reported.get(&key) == Some(&message) {
                return;
            }
            reported.insert(key, message.clone());
        }
        let this = self.clone();
        tokio::spawn(async move { this.write(&obj, &message).await });
    }

    async fn write(&self, obj: &DynamicObject, message: &str) {
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        // PXC's `message` is a list; PS and PG keep one string.
        let list = self.ar.kind == "PerconaXtraDBCluster";
        let status = obj.data.get("status");
        let state = status.and_then(|s| s.get("state")).and_then(Value::as_str);
        let said = if list {
            status.and_then(|s| s.pointer("/message/0")).and_then(Value::as_str)
        } else {
            status.and_then(|s| s.get("message")).and_then(Value::as_str)
        };
        if state == Some(crate::api::common::state::ERROR) && said == Some(message) {
            return;
        }
        tracing::warn!(kind = %self.ar.kind, namespace = %ns, cluster = %name, error = %message,
            "custom resource does not parse; left out of reconciling");
        let mut status = serde_json::Map::new();
        status.insert("state".into(), json!(crate::api::common::state::ERROR));
        let text = if list { json!([message]) } else { json!(message) };
        status.insert("message".into(), text);
        let patch = json!({ "status": status });
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &self.ar);
        if let Err(e) = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            tracing::warn!(kind = %self.ar.kind, namespace = %ns, cluster = %name,
                error = %truncate(&e.to_string(), MAX_ERROR_TEXT), "status of an unreadable object not written");
        }
        publish_event(
            &self.client,
            &self.instance,
            obj.object_ref(&self.ar),
            true,
            "InvalidSpec",
            "Reconcile",
            message,
        )
        .await;
    }
}

/// Turns an untyped watch of `K`'s kind into the typed events the controller's reflector expects. An
/// object that does not parse is reported and left out; one that stops parsing is taken out of the
/// cache (`store`) so nothing reconciles a stale copy of it — that is not a deletion of the object, so
/// no deletion logic runs. `synced` hears of the first complete list.
pub fn typed_events<K>(
    events: impl Stream<Item = Result<Event<DynamicObject>, watcher::Error>> + Send + 'static,
    store: Store<K>,
    unreadable: Unreadable,
    synced: Arc<Synced>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let mut first_list = true;
    let cached = move |d: &DynamicObject| {
        let mut r = ObjectRef::<K>::new(&d.name_any());
        if let Some(ns) = d.namespace() {
            r = r.within(&ns);
        }
        store.get(&r).map(|k| (*k).clone())
    };
    events.filter_map(move |ev| {
        let out = match ev {
            Err(e) => Some(Err(e)),
            Ok(Event::Init) => Some(Ok(Event::Init)),
            Ok(Event::InitDone) => {
                if std::mem::take(&mut first_list) {
                    synced.done();
                }
                Some(Ok(Event::InitDone))
            }
            Ok(Event::InitApply(d)) => match parse::<K>(&d) {
                Ok(k) => Some(Ok(Event::InitApply(k))),
                Err(why) => {
                    unreadable.report(d, why);
                    None
                }
            },
            Ok(Event::Apply(d)) => match parse::<K>(&d) {
                Ok(k) => {
                    unreadable.forget(&d);
                    Some(Ok(Event::Apply(k)))
                }
                Err(why) => {
                    let old = cached(&d);
                    unreadable.report(d, why);
                    old.map(|o| Ok(Event::Delete(o)))
                }
            },
            Ok(Event::Delete(d)) => {
                unreadable.forget(&d);
                match parse::<K>(&d) {
                    Ok(k) => Some(Ok(Event::Delete(k))),
                    Err(_) => cached(&d).map(|o| Ok(Event::Delete(o))),
                }
            }
        };
        futures::future::ready(out)
    })
}
