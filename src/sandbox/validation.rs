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

/// Spec fields of a StatefulSet an update may change; anything else is immutable upstream.
const STS_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn without(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

/// The fields upstream refuses to change after creation, for the built-in kinds controllers trip on.
/// `new` may be completed from `old` where upstream does so (a Service's allocated clusterIP).
pub(crate) fn check_immutable(rt: &ResourceType, name: &str, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let forbid = |field: &str, why: &str| Err(ApiError::invalid(rt, name, field, why));
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "StatefulSet") if without(&old["spec"], STS_MUTABLE) != without(&new["spec"], STS_MUTABLE) => {
            return forbid(
                "spec",
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', \
                     'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and \
                     'minReadySeconds' are forbidden",
            );
        }
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") if old["spec"]["selector"] != new["spec"]["selector"] => {
            return forbid("spec.selector", "Invalid value: field is immutable");
        }
        ("batch", "Job") => {
            for field in ["selector", "template", "completionMode"] {
                if old["spec"][field] != new["spec"][field] {
                    return forbid(&format!("spec.{field}"), "Invalid value: field is immutable");
                }
            }
        }
        ("", "ConfigMap" | "Secret") if old["immutable"].as_bool() == Some(true) => {
            for field in ["data", "binaryData", "immutable"] {
                if old[field] != new[field] {
                    return forbid(field, "Forbidden: field is immutable when `immutable` is set");
                }
            }
        }
        ("", "Service") => {
            let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
            let new_ip = new["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
            if !old_ip.is_empty() && new_ip.is_empty() && new["spec"].is_object() {
                // Clients that leave out an allocated address keep it, as upstream patches it back in.
                new["spec"]["clusterIP"] = old["spec"]["clusterIP"].clone();
                if !old["spec"]["clusterIPs"].is_null() && new["spec"]["clusterIPs"].is_null() {
                    new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
                }
            } else if !old_ip.is_empty() && new_ip != old_ip {
                return forbid("spec.clusterIPs[0]", &format!("Invalid value: {new_ip:?}: may not change once set"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            let mut before = without(&old["spec"], &["resources", "volumeAttributesClassName"]);
            let after = without(&new["spec"], &["resources", "volumeAttributesClassName"]);
            // Binding sets volumeName once.
            if before["volumeName"].as_str().is_none_or(str::is_empty) && before.is_object() {
                before["volumeName"] = after["volumeName"].clone();
                if after["volumeName"].is_null()
                    && let Some(m) = before.as_object_mut()
                {
                    m.remove("volumeName");
                }
            }
            if before != after {
                return forbid(
                    "spec",
                    "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                );
            }
            // Size changes (shrink limits, expansion admission) are checked by the store with the claim's class.
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        let all = crate::sandbox::resources::builtin();
        all.into_iter().find(|r| r.kind == kind).unwrap()
    }

    #[test]
    fn statefulset_spec_is_immutable_but_replicas_and_template() {
        let old = json!({"spec": {"replicas": 1, "serviceName": "s", "template": {"a": 1},
            "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        scaled["spec"]["template"] = json!({"a": 2});
        check_immutable(&rt("StatefulSet"), "s", &old, &mut scaled).unwrap();
        let mut grown = old.clone();
        grown["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        let err = check_immutable(&rt("StatefulSet"), "s", &old, &mut grown).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.starts_with("StatefulSet.apps \"s\" is invalid: spec: Forbidden"), "{}", err.message);
    }

    #[test]
    fn pvc_may_bind_once_and_only_grow() {
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}});
        let mut bound = old.clone();
        bound["spec"]["volumeName"] = json!("pv-1");
        bound["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        check_immutable(&rt("PersistentVolumeClaim"), "d", &old, &mut bound).unwrap();
        let mut rebound = bound.clone();
        rebound["spec"]["volumeName"] = json!("pv-2");
        assert!(check_immutable(&rt("PersistentVolumeClaim"), "d", &bound, &mut rebound).is_err());
    }

    #[test]
    fn immutable_config_maps_and_service_addresses() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let mut changed = json!({"immutable": true, "data": {"a": "2"}});
        assert!(check_immutable(&rt("ConfigMap"), "c", &old, &mut changed).is_err());
        let svc = json!({"spec": {"clusterIP": "10.0.0.5", "ports": [{"port": 3306}]}});
        let mut without_ip = json!({"spec": {"ports": [{"port": 3307}]}});
        check_immutable(&rt("Service"), "s", &svc, &mut without_ip).unwrap();
        assert_eq!(without_ip["spec"]["clusterIP"], "10.0.0.5");
        let mut moved = json!({"spec": {"clusterIP": "10.0.0.9"}});
        assert!(check_immutable(&rt("Service"), "s", &svc, &mut moved).is_err());
    }
}
