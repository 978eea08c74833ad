//! `metadata.managedFields` entries: reading them from an object and writing them back.

use serde_json::{Map, Value, json};

use super::fieldset::FieldSet;

pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: Option<String>,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn parse(value: &Value) -> Result<Entry, String> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        let manager = text("manager").unwrap_or_default();
        let operation = text("operation").ok_or("an entry has no operation")?;
        let fields = match value.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v)?,
            None => FieldSet::default(),
        };
        Ok(Entry {
            manager,
            operation,
            api_version: text("apiVersion"),
            time: text("time"),
            subresource: text("subresource"),
            fields,
        })
    }

    /// The entry in the field order the real server writes.
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("manager".into(), json!(self.manager));
        map.insert("operation".into(), json!(self.operation));
        if let Some(v) = &self.api_version {
            map.insert("apiVersion".into(), json!(v));
        }
        if let Some(t) = &self.time {
            map.insert("time".into(), json!(t));
        }
        map.insert("fieldsType".into(), json!("FieldsV1"));
        map.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            map.insert("subresource".into(), json!(s));
        }
        Value::Object(map)
    }

    /// How the real server names this manager in a conflict: `"m"` for appliers, `"m" using v1` for updaters.
    pub fn label(&self) -> String {
        match (&self.api_version, self.operation.as_str()) {
            (Some(version), UPDATE) => format!("{:?} using {version}", self.manager),
            _ => format!("{:?}", self.manager),
        }
    }
}

/// The entries of `object`. An entry that cannot be read is dropped with a warning rather than failing the
/// write: the sandbox itself wrote these, and losing one only loosens ownership.
pub fn read(object: &Value) -> Vec<Entry> {
    let Some(list) = object.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|value| match Entry::parse(value) {
            Ok(entry) => Some(entry),
            Err(reason) => {
                tracing::warn!(%reason, "dropping an unreadable managedFields entry");
                None
            }
        })
        .collect()
}

/// Sets `metadata.managedFields` to `entries` (removing the field when there are none).
pub fn write(object: &mut Value, entries: &[Entry]) {
    let Some(root) = object.as_object_mut() else { return };
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else { return };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries.iter().map(Entry::to_json).collect()));
    }
}
