//! Server-side apply and field ownership, kept in `metadata.managedFields` the way the real server keeps it.
//!
//! The model:
//! - Every write records who owns which fields. [`apply`] gives the applier (operation `Apply`) exactly the
//!   fields of its applied configuration; [`record_update`] gives an updater (operation `Update`, per API version
//!   and subresource) the fields its write changed and takes them from everyone else.
//! - Fields are the leaves of the object; a keyed list item (containers by name, ports by containerPort and
//!   protocol, conditions by type, ...) is also a field of its own, a set item (finalizers) is one field, atomic
//!   lists and atomic maps (label selectors) are single fields. The key table lives in [`list_types`].
//! - Applying a field another manager owns with a different value is a conflict unless `force`, which moves the
//!   field to the applier; with the same value both own it. Fields the applier owned before and omits now are
//!   removed from the object, unless another manager still owns them.
//! - Server-set metadata (name, namespace, uid, resourceVersion, generation, timestamps, managedFields) is never
//!   owned or compared, and `apiVersion`/`kind` are not fields.
//! - A manager's `time` changes only when its field set changes, so a no-op apply returns `live` unchanged and the
//!   server can keep the resourceVersion.
//!
//! Simplified against the real server, which works from the OpenAPI schema of each type:
//! - List and map types come from a fixed table of path suffixes, not a schema; lists of custom resources are
//!   atomic except `status.conditions` (keyed by type) and the metadata lists.
//! - A `null` in the applied configuration means "not set" (the field is not owned).
//! - When removal leaves a map or list empty, the empty parent is removed too.
//! - New keyed-list items are appended after the live ones; the real server may interleave them.
//! - Update entries do not mark maps with `.` (the real server does for maps an update created); ownership of
//!   their leaves is the same.
//! - Objects without managedFields are not attributed to a `before-first-apply` manager.

mod fieldset;
pub mod list_types;
mod managed;

use std::collections::BTreeMap;

use serde_json::Value;

use fieldset::{Element, FieldSet, Path, display, effective_list_type, fields_of, item_element, remove_at, value_at};
use list_types::{ListType, is_atomic_map};
use managed::{APPLY, Entry, UPDATE};

/// One field an apply would take from another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field, as the real server prints it: `.spec.replicas`, `.spec.containers[name="db"].image`.
    pub field: String,
    /// The manager that owns it.
    pub manager: String,
    /// The manager as the real server names it in messages: `"m"` for an applier, `"m" using apps/v1` for
    /// an updater.
    pub manager_label: String,
}

impl FieldConflict {
    /// The message of this conflict's `StatusCause` (reason `FieldManagerConflict`, field [`Self::field`]).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_label)
    }
}

/// An apply refused because of fields owned by other managers (409 Conflict).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct ApplyConflict {
    pub conflicts: Vec<FieldConflict>,
}

impl ApplyConflict {
    /// The Status message, worded like the real server's.
    pub fn message(&self) -> String {
        if let [one] = self.conflicts.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager_label, one.field);
        }
        let mut by_manager: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in &self.conflicts {
            by_manager.entry(&c.manager_label).or_default().push(&c.field);
        }
        let mut lines = Vec::new();
        for (manager, fields) in by_manager {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(fields.into_iter().map(|f| format!("- {f}")));
        }
        format!("Apply failed with {} conflicts: {}", self.conflicts.len(), lines.join("\n"))
    }
}

/// Server-side apply of `applied` by `manager` onto `live` (or onto nothing: create). Returns the new object
/// with its managedFields, or the conflicts when `force` is false.
pub fn apply(live: Option<&Value>, applied: &Value, manager: &str, force: bool) -> Result<Value, ApplyConflict> {
    apply_at(live, applied, manager, force, &now())
}

/// Server-side apply to a subresource, as `PATCH .../status` with an apply patch sends it. The manager's entry
/// records the subresource, so a controller that applies both the main resource and its status under one
/// manager name keeps two field sets, as on a real cluster. For `"status"` only `.status` of the applied
/// configuration counts (the real server resets everything else on status writes); for the main resource the
/// caller strips `.status` itself when the resource has a status subresource.
pub fn apply_subresource(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    subresource: &str,
) -> Result<Value, ApplyConflict> {
    apply_in(live, applied, manager, force, Some(subresource), &now())
}

/// Records a non-apply write (create, update, patch) of `new` over `old` by `manager`: the fields it changed
/// become its own (operation `Update`) and leave every other manager. Returns `new` with managedFields set.
pub fn record_update(old: Option<&Value>, new: &Value, manager: &str, subresource: Option<&str>) -> Value {
    record_update_at(old, new, manager, subresource, &now())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn api_version(object: &Value) -> Option<String> {
    object.get("apiVersion").and_then(Value::as_str).map(str::to_string)
}

/// A keyed list item or a set item itself: owning it means "it exists", so there is no value to disagree on.
fn is_item(path: &Path) -> bool {
    matches!(path.last().and_then(|e| Element::decode(e)), Some(Element::Key(_) | Element::Value(_)))
}

/// The applied configuration without nulls and without metadata only the server sets.
fn clean_applied(applied: &Value) -> Value {
    fn strip_nulls(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(strip_nulls);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_nulls),
            _ => {}
        }
    }
    let mut out = applied.clone();
    strip_nulls(&mut out);
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ] {
            meta.shift_remove(field);
        }
    }
    out
}

/// Only what a status write may change: identity and `.status`.
fn status_only(applied: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for field in ["apiVersion", "kind"] {
        if let Some(v) = applied.get(field) {
            out.insert(field.into(), v.clone());
        }
    }
    if let Some(meta) = applied.get("metadata").and_then(Value::as_object) {
        let identity = meta.iter().filter(|(k, _)| *k == "name" || *k == "namespace");
        out.insert("metadata".into(), Value::Object(identity.map(|(k, v)| (k.clone(), v.clone())).collect()));
    }
    if let Some(status) = applied.get("status") {
        out.insert("status".into(), status.clone());
    }
    Value::Object(out)
}

fn apply_at(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyConflict> {
    apply_in(live, applied, manager, force, None, now)
}

fn apply_in(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    now: &str,
) -> Result<Value, ApplyConflict> {
    let applied = match subresource {
        Some("status") => clean_applied(&status_only(applied)),
        _ => clean_applied(applied),
    };
    let applied_set = fields_of(&applied);
    let mine = Entry {
        manager: manager.to_string(),
        operation: APPLY.to_string(),
        api_version: api_version(&applied),
        time: Some(now.to_string()),
        subresource: subresource.map(str::to_string),
        fields: applied_set.clone(),
    };
    let Some(live) = live else {
        let mut created = applied;
        managed::write(&mut created, &[mine]);
        return Ok(created);
    };
    let is_mine = |e: &Entry| e.manager == manager && e.operation == APPLY && e.subresource.as_deref() == subresource;

    let original = managed::read(live);
    let mut entries = original.clone();
    let mut conflicts = Vec::new();
    let mut taken = Vec::new();
    for (i, entry) in entries.iter().enumerate().filter(|(_, e)| !is_mine(e)) {
        for path in entry.fields.intersection(&applied_set).iter() {
            if !is_item(path) && value_at(live, path) != value_at(&applied, path) {
                conflicts.push(FieldConflict {
                    field: display(path),
                    manager: entry.manager.clone(),
                    manager_label: entry.label(),
                });
                taken.push((i, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(ApplyConflict { conflicts });
    }
    for (i, path) in &taken {
        entries[*i].fields.remove(path);
    }

    let previous = entries.iter().find(|e| is_mine(e)).map(|e| e.fields.clone()).unwrap_or_default();
    let others = entries.iter().filter(|e| !is_mine(e)).fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let kept = applied_set.union(&others);
    let mut out = live.clone();
    let dropped: Vec<Path> = previous.difference(&kept).iter().cloned().collect();
    // Deepest first, so an item's fields go before the item; anything still owned below a path keeps it.
    for path in dropped.iter().rev() {
        if !kept.has_below(path) {
            remove_at(&mut out, path);
        }
    }
    merge(&mut out, &applied, &mut Vec::new());

    match entries.iter_mut().find(|e| is_mine(e)) {
        Some(entry) => {
            if entry.fields != applied_set {
                entry.fields = applied_set;
                entry.time = mine.time;
            }
            entry.api_version = mine.api_version;
        }
        None => entries.push(mine),
    }
    entries.retain(|e| !e.fields.is_empty());
    if entries != original {
        managed::write(&mut out, &entries);
    }
    Ok(out)
}

fn name_refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// Merges the applied configuration into the object: maps field by field, keyed lists and sets item by item,
/// everything else replaced.
fn merge(live: &mut Value, applied: &Value, names: &mut Vec<String>) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !is_atomic_map(&name_refs(names)) => {
            for (key, value) in a {
                names.push(key.clone());
                match l.get_mut(key) {
                    Some(existing) => merge(existing, value, names),
                    None => {
                        l.insert(key.clone(), value.clone());
                    }
                }
                names.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => {
            let list_type = effective_list_type(&name_refs(names), a);
            if list_type == ListType::Atomic || effective_list_type(&name_refs(names), l) != list_type {
                *l = a.clone();
                return;
            }
            for item in a {
                let id = item_element(item, list_type);
                match l.iter().position(|x| item_element(x, list_type) == id) {
                    Some(i) => merge(&mut l[i], item, names),
                    None => l.push(item.clone()),
                }
            }
        }
        (live, applied) => *live = applied.clone(),
    }
}

fn record_update_at(old: Option<&Value>, new: &Value, manager: &str, subresource: Option<&str>, now: &str) -> Value {
    let new_set = fields_of(new);
    let old_set = old.map(fields_of).unwrap_or_default();
    let mut changed = FieldSet::default();
    for path in new_set.iter() {
        let differs = match old {
            Some(old) => !old_set.contains(path) || (!is_item(path) && value_at(old, path) != value_at(new, path)),
            None => true,
        };
        if differs {
            changed.insert(path.clone());
        }
    }

    let original = old.map(managed::read).unwrap_or_default();
    let version = api_version(new);
    let is_mine = |e: &Entry| {
        e.manager == manager
            && e.operation == UPDATE
            && e.api_version == version
            && e.subresource.as_deref() == subresource
    };
    let mut entries = original.clone();
    for entry in entries.iter_mut().filter(|e| !is_mine(e)) {
        // Whatever changed is now the updater's; whatever is gone is nobody's.
        entry.fields = entry.fields.difference(&changed).intersection(&new_set);
    }
    match entries.iter_mut().find(|e| is_mine(e)) {
        Some(entry) => {
            entry.fields = entry.fields.union(&changed).intersection(&new_set);
            if !changed.is_empty() {
                entry.time = Some(now.to_string());
            }
        }
        None if !changed.is_empty() => entries.push(Entry {
            manager: manager.to_string(),
            operation: UPDATE.to_string(),
            api_version: version.clone(),
            time: Some(now.to_string()),
            subresource: subresource.map(str::to_string),
            fields: changed,
        }),
        None => {}
    }
    entries.retain(|e| !e.fields.is_empty());

    let mut out = new.clone();
    let kept_as_is = old.and_then(|o| o.pointer("/metadata/managedFields"));
    match (entries == original, kept_as_is, out.get_mut("metadata").and_then(Value::as_object_mut)) {
        // Unchanged ownership: keep the stored entries byte for byte, whatever the client sent.
        (true, Some(stored), Some(meta)) => {
            meta.insert("managedFields".into(), stored.clone());
        }
        _ => managed::write(&mut out, &entries),
    }
    out
}

#[cfg(test)]
mod tests;
