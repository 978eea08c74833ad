//! How a stored object is presented for one served resource type, and back: apiVersion/kind of the
//! requested version, the events.k8s.io ↔ core/v1 Event mapping (one store, two APIs), and the
//! metadata-only and Table renderings clients ask for through `Accept`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// Builds a JSON object from owned values. `json!` would serialise each interpolated `Value` into a
/// fresh copy, which on a list of a thousand objects costs more than the rest of the request.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Pairs of (core/v1 field, events.k8s.io/v1 field) that carry the same information.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn is_events_k8s_io(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

/// Puts `apiVersion` and `kind` first, as upstream serialises them.
fn with_type_meta(rt: &ResourceType, obj: Map<String, Value>) -> Value {
    let mut out = Map::with_capacity(obj.len() + 2);
    out.insert("apiVersion".into(), Value::String(rt.api_version()));
    out.insert("kind".into(), Value::String(rt.kind.clone()));
    for (k, v) in obj {
        if k != "apiVersion" && k != "kind" {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn rename(obj: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = obj.remove(from) {
        obj.insert(to.to_string(), v);
    }
}

/// The stored object as the client of `rt` sees it.
pub fn to_view(rt: &ResourceType, stored: &Value) -> Value {
    let Some(map) = stored.as_object() else { return stored.clone() };
    let mut map = map.clone();
    if is_events_k8s_io(rt) {
        for (core, new) in EVENT_FIELDS {
            rename(&mut map, core, new);
        }
        if let Some(src) = map.get("deprecatedSource")
            && src.as_object().is_some_and(|m| m.is_empty())
        {
            map.remove("deprecatedSource");
        }
    }
    with_type_meta(rt, map)
}

/// A client's object for `rt` in the form the store keeps (core/v1 for events).
pub fn from_view(rt: &ResourceType, view: Value) -> Value {
    let Value::Object(mut map) = view else { return view };
    if is_events_k8s_io(rt) {
        for (core, new) in EVENT_FIELDS {
            rename(&mut map, new, core);
        }
        let mut out = Map::new();
        out.insert("apiVersion".into(), json!("v1"));
        out.insert("kind".into(), json!("Event"));
        for (k, v) in map {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
        // core/v1 requires an involvedObject; events.k8s.io calls it optional.
        out.entry("involvedObject").or_insert_with(|| json!({}));
        return Value::Object(out);
    }
    with_type_meta(rt, map)
}

/// The representation a client asked for through `Accept`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RenderAs {
    #[default]
    Object,
    /// `as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`.
    Metadata,
    /// `as=Table;g=meta.k8s.io;v=v1`, with these printer columns (empty: NAME and AGE).
    Table(Vec<Value>),
}

impl RenderAs {
    /// Picks the first representation the `Accept` header lists that the sandbox serves.
    pub fn from_accept(accept: &str, printer_columns: impl FnOnce() -> Vec<Value>) -> RenderAs {
        for entry in accept.split(',') {
            let e = entry.to_ascii_lowercase().replace(' ', "");
            if e.contains("as=table") {
                return RenderAs::Table(printer_columns());
            }
            if e.contains("as=partialobjectmetadata") {
                return RenderAs::Metadata;
            }
            if e.starts_with("application/json") || e.starts_with("*/*") || e.starts_with("application/yaml") {
                return RenderAs::Object;
            }
        }
        RenderAs::Object
    }

    /// One object (GET, watch events).
    pub fn one(&self, view: Value, resource_version: &str) -> Value {
        match self {
            RenderAs::Object => view,
            RenderAs::Metadata => partial_metadata(&view),
            RenderAs::Table(cols) => table(cols, &[view], json!({"resourceVersion": resource_version}), Utc::now()),
        }
    }

    /// A LIST response.
    pub fn list(&self, rt: &ResourceType, items: Vec<Value>, list_meta: Value) -> Value {
        match self {
            RenderAs::Object => object(vec![
                ("apiVersion", Value::String(rt.api_version())),
                ("kind", Value::String(rt.list_kind.clone())),
                ("metadata", list_meta),
                ("items", Value::Array(items)),
            ]),
            RenderAs::Metadata => object(vec![
                ("apiVersion", json!("meta.k8s.io/v1")),
                ("kind", json!("PartialObjectMetadataList")),
                ("metadata", list_meta),
                ("items", Value::Array(items.iter().map(partial_metadata).collect())),
            ]),
            RenderAs::Table(cols) => table(cols, &items, list_meta, Utc::now()),
        }
    }
}

/// Whether a stored object already is its own view for `rt` (same apiVersion and kind, no event mapping).
fn is_own_view(rt: &ResourceType, stored: &Value) -> bool {
    !is_events_k8s_io(rt) && stored["apiVersion"] == rt.api_version().as_str() && stored["kind"] == rt.kind.as_str()
}

/// A plain LIST body written straight from the stored objects: no per-item copy when none is needed.
pub fn list_json(rt: &ResourceType, items: &[std::sync::Arc<Value>], list_meta: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + items.len() * 512);
    out.extend_from_slice(b"{\"apiVersion\":");
    out.extend_from_slice(Value::String(rt.api_version()).to_string().as_bytes());
    out.extend_from_slice(b",\"kind\":");
    out.extend_from_slice(Value::String(rt.list_kind.clone()).to_string().as_bytes());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(list_meta.to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing JSON into a Vec cannot fail.
        let _ = if is_own_view(rt, item) {
            serde_json::to_writer(&mut out, item.as_ref())
        } else {
            serde_json::to_writer(&mut out, &to_view(rt, item))
        };
    }
    out.extend_from_slice(b"]}");
    out
}

/// `PartialObjectMetadata` for metadata-only requests.
pub fn partial_metadata(obj: &Value) -> Value {
    object(vec![
        ("apiVersion", json!("meta.k8s.io/v1")),
        ("kind", json!("PartialObjectMetadata")),
        ("metadata", obj["metadata"].clone()),
    ])
}

/// `5s`, `3m`, `2h`, `4d` as kubectl prints ages.
pub fn human_age(ts: &str, now: DateTime<Utc>) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(ts) else { return "<unknown>".into() };
    let secs = (now - t.with_timezone(&Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Resolves a simple CRD printer-column JSONPath such as `.status.state` or `.spec.pxc.size`.
fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('$');
    let mut cur = obj;
    for seg in p.split('.').filter(|s| !s.is_empty()) {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

/// A `meta.k8s.io/v1 Table` with NAME, the CRD's printer columns (or AGE), for `kubectl get`.
pub fn table(printer_columns: &[Value], objects: &[Value], list_meta: Value, now: DateTime<Utc>) -> Value {
    let mut defs =
        vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0})];
    let columns: Vec<Value> = if printer_columns.is_empty() {
        vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})]
    } else {
        printer_columns.to_vec()
    };
    for c in &columns {
        defs.push(json!({
            "name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            for c in &columns {
                let v = match c["x-dbdeck-cell"].as_str() {
                    Some(kind) => super::printers::cell(kind, o),
                    None => c["jsonPath"].as_str().and_then(|p| json_path(o, p)).cloned().unwrap_or(Value::Null),
                };
                let cell = match (c["type"].as_str(), &v) {
                    (Some("date"), Value::String(s)) => json!(human_age(s, now)),
                    (_, Value::Null) => json!("<none>"),
                    _ => v,
                };
                cells.push(cell);
            }
            object(vec![("cells", Value::Array(cells)), ("object", partial_metadata(o))])
        })
        .collect();
    object(vec![
        ("kind", json!("Table")),
        ("apiVersion", json!("meta.k8s.io/v1")),
        ("metadata", list_meta),
        ("columnDefinitions", Value::Array(defs)),
        ("rows", Value::Array(rows)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_rt(group: &str) -> ResourceType {
        super::super::resources::builtin().into_iter().find(|r| r.plural == "events" && r.group == group).unwrap()
    }

    #[test]
    fn events_map_between_apis() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Document", "name": "test"}, "note": "hi", "reportingController": "c",
            "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:00.000000Z"}});
        let stored = from_view(&events_rt("events.k8s.io"), new.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "test");
        assert_eq!(stored["message"], "hi");
        assert_eq!(stored["reportingComponent"], "c");
        let core = to_view(&events_rt(""), &stored);
        assert_eq!(core["involvedObject"]["kind"], "Document");
        let back = to_view(&events_rt("events.k8s.io"), &stored);
        assert_eq!(back, new);
    }

    #[test]
    fn list_json_matches_the_value_rendering() {
        let rt = events_rt("events.k8s.io");
        let stored = from_view(&rt, json!({"metadata": {"name": "e"}, "note": "n", "regarding": {"name": "x"}}));
        let cm = crate::sandbox::resources::builtin().into_iter().find(|r| r.plural == "configmaps").unwrap();
        let cm_obj = from_view(&cm, json!({"metadata": {"name": "c"}}));
        for (rt, obj) in [(rt, stored), (cm, cm_obj)] {
            let meta = json!({"resourceVersion": "7"});
            let fast: Value =
                serde_json::from_slice(&list_json(&rt, &[std::sync::Arc::new(obj.clone())], &meta)).unwrap();
            let slow = RenderAs::Object.list(&rt, vec![to_view(&rt, &obj)], meta);
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn table_has_name_and_age() {
        let now = Utc::now();
        let o = json!({"metadata": {"name": "a", "creationTimestamp": (now - chrono::Duration::seconds(300)).to_rfc3339()}});
        let t = table(&[], &[o], json!({"resourceVersion": "1"}), now);
        assert_eq!(t["rows"][0]["cells"], json!(["a", "5m"]));
        assert_eq!(t["columnDefinitions"][1]["name"], "Age");
    }
}
