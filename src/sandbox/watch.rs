//! WATCH: events from a resourceVersion out of the bounded history (or synthetic ADDED for the current
//! state), then live changes from the hub; selectors applied per event, an object leaving a selector
//! sent as DELETED; bookmarks, streaming-list initial events, timeouts, and the in-stream 410 ERROR.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::resources::ResourceType;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, EventType, GroupResource, HubMsg, Store};
use super::views::{RenderAs, object, to_view};

/// Upstream closes watches without `timeoutSeconds` after 30–60 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// `None`, `""` or `"0"`: start with ADDED events for the current state.
    pub resource_version: Option<String>,
    /// Streaming list: ADDED for the current state, then the `k8s.io/initial-events-end` bookmark.
    pub send_initial_events: bool,
    pub allow_bookmarks: bool,
    pub timeout: Option<Duration>,
    /// Full objects, `PartialObjectMetadata` or one-row Tables.
    pub render: RenderAs,
}

/// A stream of watch events (`{"type","object"}` values) for one open watch.
pub struct WatchStream {
    rx: mpsc::Receiver<Value>,
}

impl WatchStream {
    /// The next event; `None` when the watch ended (timeout, ERROR sent, fault, or server shutdown).
    pub async fn recv(&mut self) -> Option<Value> {
        self.rx.recv().await
    }

    pub(crate) fn into_receiver(self) -> mpsc::Receiver<Value> {
        self.rx
    }
}

struct Filter {
    rt: ResourceType,
    gr: GroupResource,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    render: RenderAs,
}

impl Filter {
    fn selects(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn render(&self, obj: &Value) -> Value {
        let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        self.render.one(to_view(&self.rt, obj), &rv)
    }

    fn event(&self, kind: &str, obj: &Value) -> Value {
        object(vec![("type", Value::String(kind.to_string())), ("object", self.render(obj))])
    }

    /// The event (if any) this change produces for this watch.
    fn translate(&self, ch: &Change) -> Option<Value> {
        if ch.key.gr != self.gr {
            return None;
        }
        if let Some(ns) = &self.ns
            && ch.key.namespace != *ns
        {
            return None;
        }
        let now = self.selects(&ch.object);
        match ch.kind {
            EventType::Added | EventType::Deleted => now.then(|| self.event(ch.kind.as_str(), &ch.object)),
            EventType::Modified => {
                let before = ch.old.as_deref().is_some_and(|o| self.selects(o));
                match (before, now) {
                    (true, true) => Some(self.event("MODIFIED", &ch.object)),
                    (true, false) => Some(self.event("DELETED", &ch.object)),
                    (false, true) => Some(self.event("ADDED", &ch.object)),
                    (false, false) => None,
                }
            }
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": {"apiVersion": self.rt.api_version(), "kind": self.rt.kind, "metadata": meta}})
    }
}

fn expired_event(message: String) -> Value {
    json!({"type": "ERROR", "object": ApiError::expired(message).to_status()})
}

impl Store {
    /// Opens a watch on `rt` (all namespaces when `ns` is `None`). Must be called inside a tokio runtime.
    pub fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: WatchOptions,
        bookmark_every: Duration,
    ) -> Result<WatchStream, ApiError> {
        let filter = Filter {
            rt: rt.clone(),
            gr: GroupResource::of(rt),
            ns: ns.filter(|n| rt.namespaced && !n.is_empty()).map(str::to_string),
            labels: opts.labels.clone(),
            fields: opts.fields.clone(),
            render: opts.render.clone(),
        };
        let from = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version {s:?}: must be a decimal number"))
            })?),
        };
        // Everything below happens under the lock, so no change falls between replay and subscription.
        let (initial, replay, start_rv, too_old, hub_rx) = {
            let st = self.lock();
            let hub_rx = self.hub().subscribe();
            let mut initial = Vec::new();
            let mut replay = Vec::new();
            let mut too_old = None;
            if from.is_none() || opts.send_initial_events {
                if let Some(m) = st.objects.get(&filter.gr) {
                    for ((obj_ns, _), obj) in m {
                        if filter.ns.as_ref().is_some_and(|n| n != obj_ns) || !filter.selects(obj) {
                            continue;
                        }
                        initial.push(obj.clone());
                    }
                }
            } else if let Some(n) = from {
                if n < st.floor {
                    too_old = Some(format!("too old resource version: {n} ({})", st.floor + 1));
                } else {
                    replay = st.history_after(n);
                }
            }
            (initial, replay, st.rv, too_old, hub_rx)
        };
        let (tx, rx) = mpsc::channel(256);
        let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let run = WatchRun { filter, tx, hub_rx, start_rv, bookmarks: opts.allow_bookmarks, bookmark_every, timeout };
        tokio::spawn(run.run(too_old, initial, opts.send_initial_events, replay));
        Ok(WatchStream { rx })
    }
}

struct WatchRun {
    filter: Filter,
    tx: mpsc::Sender<Value>,
    hub_rx: broadcast::Receiver<HubMsg>,
    start_rv: u64,
    bookmarks: bool,
    bookmark_every: Duration,
    timeout: Duration,
}

impl WatchRun {
    async fn run(
        mut self,
        too_old: Option<String>,
        initial: Vec<Arc<Value>>,
        initial_end: bool,
        replay: Vec<Arc<Change>>,
    ) {
        if let Some(msg) = too_old {
            let _ = self.tx.send(expired_event(msg)).await;
            return;
        }
        for obj in initial {
            if self.tx.send(self.filter.event("ADDED", &obj)).await.is_err() {
                return;
            }
        }
        if initial_end && self.tx.send(self.filter.bookmark(self.start_rv, true)).await.is_err() {
            return;
        }
        for ch in replay {
            if let Some(ev) = self.filter.translate(&ch)
                && self.tx.send(ev).await.is_err()
            {
                return;
            }
        }
        let mut last_rv = self.start_rv;
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.bookmark_every, self.bookmark_every);
        loop {
            tokio::select! {
                msg = self.hub_rx.recv() => match msg {
                    Ok(HubMsg::Change(ch)) => {
                        last_rv = ch.rv;
                        if let Some(ev) = self.filter.translate(&ch)
                            && self.tx.send(ev).await.is_err() {
                                return;
                            }
                    }
                    Ok(HubMsg::Expire) => {
                        let _ = self.tx.send(expired_event(format!("too old resource version: {last_rv} (injected fault)"))).await;
                        return;
                    }
                    Ok(HubMsg::Drop) | Err(broadcast::error::RecvError::Closed) => return,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        // The watcher fell behind the hub: like an evicted history, it must relist.
                        tracing::debug!(missed = n, "a slow sandbox watch fell behind");
                        let _ = self.tx.send(expired_event(format!("too old resource version: {last_rv} (watch fell behind)"))).await;
                        return;
                    }
                },
                _ = ticker.tick(), if self.bookmarks => {
                    if self.tx.send(self.filter.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = self.tx.closed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::store::WriteOptions;
    use crate::sandbox::store::tests::store;

    async fn next(w: &mut WatchStream) -> Value {
        tokio::time::timeout(Duration::from_secs(5), w.recv()).await.expect("event in time").expect("open watch")
    }

    #[tokio::test]
    async fn label_watch_reports_leaving_objects_as_deleted() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let opts = WatchOptions { labels: LabelSelector::parse("app=db").unwrap(), ..Default::default() };
        let mut w = s.watch(&cm, Some("default"), opts, Duration::from_secs(60)).unwrap();
        let o = s
            .create(
                &cm,
                "default",
                json!({"metadata": {"name": "a", "labels": {"app": "db"}}}),
                &WriteOptions::default(),
            )
            .unwrap();
        assert_eq!(next(&mut w).await["type"], "ADDED");
        let mut moved = o.clone();
        moved["metadata"]["labels"]["app"] = json!("web");
        s.update(&cm, "default", "a", moved, crate::sandbox::store::Subresource::Main, &WriteOptions::default())
            .unwrap();
        let ev = next(&mut w).await;
        assert_eq!(ev["type"], "DELETED");
        assert_eq!(ev["object"]["metadata"]["labels"]["app"], "web");
    }

    #[tokio::test]
    async fn replay_from_rv_and_too_old_gives_in_stream_410() {
        let (hub, _) = broadcast::channel(64);
        let st = crate::sandbox::store::State::new(3, None, hub.clone());
        let s = Store::from_state(st, hub);
        let ns = s.resource("", "v1", "namespaces").unwrap();
        for i in 0..6 {
            s.create(&ns, "", json!({"metadata": {"name": format!("n{i}")}}), &WriteOptions::default()).unwrap();
        }
        let opts = WatchOptions { resource_version: Some("4".into()), ..Default::default() };
        let mut w = s.watch(&ns, None, opts, Duration::from_secs(60)).unwrap();
        let ev = next(&mut w).await;
        assert_eq!((ev["type"].as_str(), ev["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("n4")));
        let opts = WatchOptions { resource_version: Some("1".into()), ..Default::default() };
        let mut w = s.watch(&ns, None, opts, Duration::from_secs(60)).unwrap();
        let ev = next(&mut w).await;
        assert_eq!(ev["type"], "ERROR");
        assert_eq!(ev["object"]["code"], 410);
        assert_eq!(ev["object"]["reason"], "Expired");
        assert!(w.recv().await.is_none());
    }

    #[tokio::test]
    async fn shrinking_the_history_expires_old_resource_versions() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let start = s.resource_version().to_string();
        for i in 0..3 {
            s.create(&cm, "default", json!({"metadata": {"name": format!("c{i}")}}), &WriteOptions::default()).unwrap();
        }
        s.lock().set_history_size(1);
        let opts = WatchOptions { resource_version: Some(start), ..Default::default() };
        let mut w = s.watch(&cm, None, opts, Duration::from_secs(60)).unwrap();
        assert_eq!(next(&mut w).await["object"]["code"], 410);
    }

    #[tokio::test]
    async fn streaming_list_ends_initial_events_with_bookmark() {
        let s = store();
        let ns = s.resource("", "v1", "namespaces").unwrap();
        let opts = WatchOptions {
            resource_version: Some("0".into()),
            send_initial_events: true,
            allow_bookmarks: true,
            ..Default::default()
        };
        let mut w = s.watch(&ns, None, opts, Duration::from_secs(60)).unwrap();
        assert_eq!(next(&mut w).await["object"]["metadata"]["name"], "default");
        let bm = next(&mut w).await;
        assert_eq!(bm["type"], "BOOKMARK");
        assert_eq!(bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    }

    #[tokio::test]
    async fn bookmarks_carry_the_latest_rv_and_timeouts_end_the_watch() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let opts = WatchOptions {
            resource_version: Some(s.resource_version().to_string()),
            allow_bookmarks: true,
            timeout: Some(Duration::from_millis(300)),
            ..Default::default()
        };
        let mut w = s.watch(&cm, Some("default"), opts, Duration::from_millis(20)).unwrap();
        // A change in another collection still advances the bookmark's RV.
        let ns = s.resource("", "v1", "namespaces").unwrap();
        s.create(&ns, "", json!({"metadata": {"name": "other"}}), &WriteOptions::default()).unwrap();
        let want = s.resource_version().to_string();
        loop {
            let ev = next(&mut w).await;
            assert_eq!(ev["type"], "BOOKMARK", "no events from other collections");
            if ev["object"]["metadata"]["resourceVersion"] == want.as_str() {
                break;
            }
        }
        // timeoutSeconds: the stream ends on its own.
        let ended = tokio::time::timeout(Duration::from_secs(5), async { while w.recv().await.is_some() {} }).await;
        assert!(ended.is_ok());
    }

    #[tokio::test]
    async fn injected_faults_reach_open_watches() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let mut a = s.watch(&cm, None, WatchOptions::default(), Duration::from_secs(60)).unwrap();
        let mut b = s.watch(&cm, None, WatchOptions::default(), Duration::from_secs(60)).unwrap();
        s.create(&cm, "default", json!({"metadata": {"name": "x"}}), &WriteOptions::default()).unwrap();
        assert_eq!(next(&mut a).await["type"], "ADDED");
        assert_eq!(next(&mut b).await["type"], "ADDED");
        let _ = s.hub().send(HubMsg::Expire);
        let ev = next(&mut a).await;
        assert_eq!((ev["type"].as_str(), ev["object"]["code"].as_u64()), (Some("ERROR"), Some(410)));
        assert!(a.recv().await.is_none());
        assert_eq!(next(&mut b).await["type"], "ERROR", "every open watch gets it");
    }
}
