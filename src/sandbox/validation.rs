//! Checks a write must pass before it is stored, as upstream's decoding and ObjectMeta validation do:
//! JSON shapes (400 BadRequest), names, label and annotation syntax, owner references (422 Invalid).

use serde_json::Value;

use super::resources::ResourceType;
use super::status::ApiError;

/// Rejects bodies a typed decoder would refuse: a non-object, or metadata/spec/status of the wrong JSON
/// type. Everything after this may index into those fields safely.
pub(crate) fn check_shape(obj: &Value) -> Result<(), ApiError> {
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
pub(crate) fn check_metadata(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
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
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}
