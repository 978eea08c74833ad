//! Defaults the API server's admission adds at create time, for the kinds the controllers simulate:
//! pods get the `not-ready`/`unreachable` NoExecute tolerations (300 s, DefaultTolerationSeconds);
//! claims get the default StorageClass (DefaultStorageClass) and `volumeMode: Filesystem`; StatefulSets
//! get the API defaults of their strategy fields (kubectl's `rollout status` reads `updateStrategy.type`).

use serde_json::{Value, json};

const DEFAULT_TOLERATION_SECONDS: u64 = 300;

/// True for the kinds [`admit`] changes.
pub(crate) fn admits(group: &str, kind: &str) -> bool {
    matches!((group, kind), ("", "Pod" | "PersistentVolumeClaim") | ("apps", "StatefulSet"))
}

/// Applies create-time defaults to a Pod, PersistentVolumeClaim or StatefulSet; `default_class` is
/// the name of the StorageClass annotated as default, if any. Other kinds are left alone.
pub(crate) fn admit(kind: &str, obj: &mut Value, default_class: Option<&str>) {
    match kind {
        "Pod" => pod(obj),
        "PersistentVolumeClaim" => claim(obj, default_class),
        "StatefulSet" => statefulset(obj),
        _ => {}
    }
}

fn statefulset(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let defaults = [
        ("replicas", json!(1)),
        ("podManagementPolicy", json!("OrderedReady")),
        ("revisionHistoryLimit", json!(10)),
        ("updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})),
        ("persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
    ];
    for (k, v) in defaults {
        if spec.get(k).is_none_or(Value::is_null) {
            spec.insert(k.to_string(), v);
        }
    }
    if let Some(us) = spec.get_mut("updateStrategy").and_then(Value::as_object_mut)
        && us.get("type").and_then(Value::as_str) == Some("RollingUpdate")
        && us.get("rollingUpdate").is_none_or(Value::is_null)
    {
        us.insert("rollingUpdate".into(), json!({"partition": 0}));
    }
}

fn pod(obj: &mut Value) {
    if !obj["spec"].is_object() {
        return;
    }
    let mut tolerations = obj["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let present = tolerations.iter().any(|t| {
            t.get("key").and_then(Value::as_str) == Some(key)
                && matches!(t.get("effect").and_then(Value::as_str), Some("NoExecute") | None)
        });
        if !present {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}));
        }
    }
    obj["spec"]["tolerations"] = Value::Array(tolerations);
}

fn claim(obj: &mut Value, default_class: Option<&str>) {
    if !obj["spec"].is_object() {
        return;
    }
    if obj["spec"].get("storageClassName").is_none()
        && let Some(class) = default_class
    {
        obj["spec"]["storageClassName"] = json!(class);
    }
    if obj["spec"]["volumeMode"].is_null() {
        obj["spec"]["volumeMode"] = json!("Filesystem");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_default_tolerations_once() {
        let mut p = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                      "effect": "NoExecute", "tolerationSeconds": 5}]}});
        admit("Pod", &mut p, None);
        let t = p["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 5);
        assert_eq!(t[1]["key"], "node.kubernetes.io/unreachable");
        assert_eq!(t[1]["tolerationSeconds"], 300);
    }

    #[test]
    fn statefulsets_get_strategy_defaults() {
        let mut s = json!({"spec": {"replicas": 3, "updateStrategy": {"type": "OnDelete"}}});
        admit("StatefulSet", &mut s, None);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        let mut d = json!({"spec": {}});
        admit("StatefulSet", &mut d, None);
        assert_eq!(d["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 0);
    }

    #[test]
    fn claims_get_the_default_class_unless_they_name_one() {
        let mut c = json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}});
        admit("PersistentVolumeClaim", &mut c, Some("standard"));
        assert_eq!(c["spec"]["storageClassName"], "standard");
        assert_eq!(c["spec"]["volumeMode"], "Filesystem");
        let mut explicit = json!({"spec": {"storageClassName": ""}});
        admit("PersistentVolumeClaim", &mut explicit, Some("standard"));
        assert_eq!(explicit["spec"]["storageClassName"], "");
    }
}
