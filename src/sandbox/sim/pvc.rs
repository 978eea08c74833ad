//! Storage: the default StorageClass, dynamic provisioning (a PersistentVolume per claim, bound at
//! once), validation of claim updates as the API server and its resize admission plugin do it, and
//! the steps of a volume expansion (`Resizing` → `FileSystemResizePending` → new capacity).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use thiserror::Error;

use super::quantity::{QuantityError, parse_units};
use super::{name_of, namespace_of, uid_of};

pub const DEFAULT_CLASS: &str = "standard";
/// Provisioner name of the sandbox's volumes (they are simulated; nothing is written to disk).
pub const PROVISIONER: &str = "dbdeck.io/hostpath";
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const FS_RESIZE_MESSAGE: &str = "Waiting for user to (re-)start a pod to finish file system resize of volume on node.";
const STORAGE_FIELD: &str = "spec.resources.requests.storage";
const IMMUTABLE_DETAIL: &str = "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

/// Why a claim cannot be provisioned or updated. `Display` gives the API server's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PvcError {
    /// Validation failure (HTTP 422, reason `Invalid`).
    #[error("PersistentVolumeClaim {name:?} is invalid: {field}: {detail}")]
    Invalid { name: String, field: String, detail: String },
    /// Refused by the resize admission plugin (HTTP 403, reason `Forbidden`).
    #[error("persistentvolumeclaims {name:?} is forbidden: {detail}")]
    Forbidden { name: String, detail: String },
    /// The claim names a StorageClass that does not exist (the claim stays Pending).
    #[error("storageclass.storage.k8s.io {0:?} not found")]
    ClassNotFound(String),
    /// The claim has not been stored yet, so it has no uid to name its volume after.
    #[error("PersistentVolumeClaim {0:?} has no metadata.uid yet")]
    NotStored(String),
}

impl PvcError {
    /// HTTP status code the API server answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            PvcError::Invalid { .. } => 422,
            PvcError::Forbidden { .. } => 403,
            PvcError::ClassNotFound(_) => 404,
            PvcError::NotStored(_) => 409,
        }
    }

    fn invalid(pvc: &Value, field: &str, detail: impl Into<String>) -> Self {
        PvcError::Invalid { name: name_of(pvc).into(), field: field.into(), detail: detail.into() }
    }
}

/// The sandbox's default StorageClass.
pub fn standard_storage_class() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {ANN_DEFAULT_CLASS: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    })
}

/// The default class among `classes`: the newest one annotated as default, as upstream picks when
/// several are.
pub fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| {
            c.pointer(&format!("/metadata/annotations/{}", ANN_DEFAULT_CLASS.replace('/', "~1")))
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by(|a, b| {
            let ts =
                |c: &Value| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
            ts(a).cmp(&ts(b)).then_with(|| name_of(b).cmp(name_of(a)))
        })
}

fn requested_storage(pvc: &Value) -> Option<&str> {
    pvc.pointer("/spec/resources/requests/storage").and_then(Value::as_str)
}

fn storage_bytes(pvc: &Value, q: &str) -> Result<i128, PvcError> {
    parse_units(q).map_err(|QuantityError(s)| PvcError::invalid(pvc, STORAGE_FIELD, format!("Invalid value: {s:?}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")))
}

/// A claim being bound: the new volume and the claim as it looks once bound.
#[derive(Debug, Clone, PartialEq)]
pub struct BindPlan {
    pub pv: Value,
    pub pvc: Value,
}

/// Provisions a volume for a Pending claim. `Ok(None)` when there is nothing to do: already bound,
/// `storageClassName: ""` (static binding only) or no class at all and no default.
pub fn bind_plan(pvc: &Value, classes: &[Value]) -> Result<Option<BindPlan>, PvcError> {
    let bound = pvc.pointer("/spec/volumeName").and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    if bound {
        return Ok(None);
    }
    let class = match pvc.pointer("/spec/storageClassName").and_then(Value::as_str) {
        Some("") => return Ok(None),
        Some(name) => {
            classes.iter().find(|c| name_of(c) == name).ok_or_else(|| PvcError::ClassNotFound(name.into()))?
        }
        None => match default_class(classes) {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let Some(request) = requested_storage(pvc) else {
        return Err(PvcError::invalid(pvc, "spec.resources[storage]", "Required value"));
    };
    storage_bytes(pvc, request)?;
    let uid = uid_of(pvc);
    if uid.is_empty() {
        return Err(PvcError::NotStored(name_of(pvc).into()));
    }
    let pv_name = format!("pvc-{uid}");
    let class_name = name_of(class);
    let provisioner = class.get("provisioner").and_then(Value::as_str).unwrap_or(PROVISIONER);
    let access_modes = pvc.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"]));
    let volume_mode = pvc.pointer("/spec/volumeMode").cloned().unwrap_or_else(|| json!("Filesystem"));
    let pv = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name,
            "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": {
            "capacity": {"storage": request},
            "accessModes": access_modes,
            "persistentVolumeReclaimPolicy": class.get("reclaimPolicy").cloned().unwrap_or_else(|| json!("Delete")),
            "storageClassName": class_name,
            "volumeMode": volume_mode,
            "hostPath": {"path": format!("/var/lib/dbdeck/volumes/{pv_name}"), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace_of(pvc),
                "name": name_of(pvc),
                "uid": uid,
            },
        },
        "status": {"phase": "Bound"},
    });
    let mut claim = pvc.clone();
    claim["spec"]["volumeName"] = json!(pv_name);
    claim["spec"]["storageClassName"] = json!(class_name);
    claim["spec"]["volumeMode"] = volume_mode;
    if !claim["metadata"].get("annotations").is_some_and(Value::is_object) {
        claim["metadata"]["annotations"] = json!({});
    }
    for (k, v) in [
        ("pv.kubernetes.io/bind-completed", "yes"),
        ("pv.kubernetes.io/bound-by-controller", "yes"),
        ("volume.beta.kubernetes.io/storage-provisioner", provisioner),
        ("volume.kubernetes.io/storage-provisioner", provisioner),
    ] {
        claim["metadata"]["annotations"][k] = json!(v);
    }
    claim["status"] = json!({"phase": "Bound", "accessModes": access_modes_of(&pv), "capacity": {"storage": request}});
    Ok(Some(BindPlan { pv, pvc: claim }))
}

fn access_modes_of(pv: &Value) -> Value {
    pv.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([]))
}

/// Checks an update of a claim like the API server (v1.33 validation, where shrinking back down to
/// above the actual capacity is allowed to recover from a failed expansion) and the
/// `PersistentVolumeClaimResize` admission plugin.
pub fn validate_update(old: &Value, new: &Value, classes: &[Value]) -> Result<(), PvcError> {
    let old_bound = old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    let spec_of = |pvc: &Value| pvc.get("spec").and_then(Value::as_object).cloned().unwrap_or_default();
    let (mut old_spec, mut new_spec) = (spec_of(old), spec_of(new));
    // Binding fills in volumeName once, and storageClassName/volumeMode when they were unset.
    for field in ["volumeName", "storageClassName", "volumeMode"] {
        let unset = old_spec.get(field).is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if unset {
            old_spec.remove(field);
            new_spec.remove(field);
        }
    }
    for spec in [&mut old_spec, &mut new_spec] {
        spec.remove("volumeAttributesClassName");
        if old_bound && let Some(r) = spec.get_mut("resources").and_then(Value::as_object_mut) {
            r.remove("requests");
        }
    }
    if old_spec != new_spec {
        return Err(PvcError::invalid(new, "spec", IMMUTABLE_DETAIL));
    }
    let (Some(old_req), Some(new_req)) = (requested_storage(old), requested_storage(new)) else {
        return Ok(());
    };
    let (old_bytes, new_bytes) = (storage_bytes(old, old_req)?, storage_bytes(new, new_req)?);
    if new_bytes < old_bytes {
        let capacity = old
            .pointer("/status/capacity/storage")
            .and_then(Value::as_str)
            .map(|q| storage_bytes(old, q))
            .transpose()?
            .unwrap_or(old_bytes);
        if new_bytes <= capacity {
            return Err(PvcError::invalid(new, STORAGE_FIELD, "Forbidden: field can not be less than status.capacity"));
        }
    }
    if new_bytes > old_bytes {
        let class = old
            .pointer("/spec/storageClassName")
            .and_then(Value::as_str)
            .and_then(|n| classes.iter().find(|c| name_of(c) == n));
        let expandable = class.and_then(|c| c.get("allowVolumeExpansion")).and_then(Value::as_bool) == Some(true);
        if !expandable {
            return Err(PvcError::Forbidden {
                name: name_of(new).into(),
                detail: "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize".into(),
            });
        }
    }
    Ok(())
}

/// One step of a volume expansion: the claim's new `status` and, when the controller part completes,
/// the volume's new capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct ResizeStep {
    pub pvc_status: Value,
    pub pv_capacity: Option<String>,
}

fn has_condition(pvc: &Value, kind: &str) -> bool {
    super::condition_status(pvc, kind) == Some("True")
}

/// The next step of expanding a bound claim whose request exceeds its capacity, or `None` when the
/// claim has the size it asks for. Call it once per simulated delay:
/// first `Resizing` (controller expanding the volume), then `FileSystemResizePending` with the volume
/// grown, then the new capacity with the conditions cleared.
pub fn resize_step(pvc: &Value, now: DateTime<Utc>) -> Result<Option<ResizeStep>, PvcError> {
    if pvc.pointer("/status/phase").and_then(Value::as_str) != Some("Bound") {
        return Ok(None);
    }
    let Some(request) = requested_storage(pvc) else {
        return Ok(None);
    };
    let capacity = pvc.pointer("/status/capacity/storage").and_then(Value::as_str).unwrap_or("0");
    if storage_bytes(pvc, request)? <= storage_bytes(pvc, capacity)? {
        return Ok(None);
    }
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut status = pvc.get("status").cloned().unwrap_or_else(|| json!({}));
    let others: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter(|c| {
                    !matches!(c.get("type").and_then(Value::as_str), Some("Resizing" | "FileSystemResizePending"))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let with = |cond: Option<Value>| {
        let mut cs = others.clone();
        cs.extend(cond);
        Value::Array(cs)
    };
    let step = if has_condition(pvc, "FileSystemResizePending") {
        status["capacity"]["storage"] = json!(request);
        status["conditions"] = with(None);
        if let Some(s) = status.as_object_mut() {
            s.remove("allocatedResourceStatuses");
        }
        ResizeStep { pvc_status: status, pv_capacity: None }
    } else if has_condition(pvc, "Resizing") {
        status["conditions"] = with(Some(json!({
            "type": "FileSystemResizePending", "status": "True", "message": FS_RESIZE_MESSAGE,
            "lastProbeTime": null, "lastTransitionTime": stamp,
        })));
        status["allocatedResourceStatuses"] = json!({"storage": "NodeResizePending"});
        ResizeStep { pvc_status: status, pv_capacity: Some(request.to_string()) }
    } else {
        status["conditions"] = with(Some(json!({
            "type": "Resizing", "status": "True", "lastProbeTime": null, "lastTransitionTime": stamp,
        })));
        status["allocatedResources"] = json!({"storage": request});
        status["allocatedResourceStatuses"] = json!({"storage": "ControllerResizeInProgress"});
        ResizeStep { pvc_status: status, pv_capacity: None }
    };
    Ok(Some(step))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(size: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "datadir-db-0", "namespace": "ns", "uid": "abc-123"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
            "status": {"phase": "Pending"},
        })
    }

    fn bound(size: &str) -> Value {
        bind_plan(&claim(size), &[standard_storage_class()]).unwrap().unwrap().pvc
    }

    #[test]
    fn default_class_is_standard_and_expandable() {
        let sc = standard_storage_class();
        assert_eq!(sc["metadata"]["name"], "standard");
        assert_eq!(sc["allowVolumeExpansion"], true);
        assert_eq!(default_class(std::slice::from_ref(&sc)).map(name_of), Some("standard"));
        let mut other = sc.clone();
        other["metadata"]["annotations"][ANN_DEFAULT_CLASS] = json!("false");
        other["metadata"]["name"] = json!("slow");
        assert_eq!(default_class(&[other, sc]).map(name_of), Some("standard"));
    }

    #[test]
    fn binds_to_a_generated_volume() {
        let plan = bind_plan(&claim("10Gi"), &[standard_storage_class()]).unwrap().unwrap();
        assert_eq!(plan.pv["metadata"]["name"], "pvc-abc-123");
        assert_eq!(plan.pv["spec"]["capacity"]["storage"], "10Gi");
        assert_eq!(plan.pv["spec"]["storageClassName"], "standard");
        assert_eq!(plan.pv["spec"]["claimRef"]["name"], "datadir-db-0");
        assert_eq!(plan.pv["spec"]["claimRef"]["uid"], "abc-123");
        assert_eq!(plan.pv["spec"]["hostPath"]["path"], "/var/lib/dbdeck/volumes/pvc-abc-123");
        assert_eq!(plan.pv["status"]["phase"], "Bound");
        assert_eq!(plan.pvc["spec"]["volumeName"], "pvc-abc-123");
        assert_eq!(plan.pvc["spec"]["storageClassName"], "standard");
        assert_eq!(plan.pvc["status"]["phase"], "Bound");
        assert_eq!(plan.pvc["status"]["capacity"]["storage"], "10Gi");
        assert_eq!(plan.pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes");
        // Already bound: nothing more to do.
        assert_eq!(bind_plan(&plan.pvc, &[standard_storage_class()]), Ok(None));
    }

    #[test]
    fn binding_edge_cases() {
        let mut c = claim("1Gi");
        c["spec"]["storageClassName"] = json!("fast");
        assert_eq!(
            bind_plan(&c, &[standard_storage_class()]).unwrap_err().to_string(),
            "storageclass.storage.k8s.io \"fast\" not found"
        );
        c["spec"]["storageClassName"] = json!("");
        assert_eq!(bind_plan(&c, &[standard_storage_class()]), Ok(None));
        assert_eq!(bind_plan(&claim("1Gi"), &[]), Ok(None), "no default class: stays Pending");
        let mut unstored = claim("1Gi");
        unstored["metadata"]["uid"] = json!("");
        assert_eq!(bind_plan(&unstored, &[standard_storage_class()]), Err(PvcError::NotStored("datadir-db-0".into())));
    }

    #[test]
    fn shrink_is_refused_like_the_api_server() {
        let old = bound("10Gi");
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("5Gi");
        let err = validate_update(&old, &new, &[standard_storage_class()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PersistentVolumeClaim \"datadir-db-0\" is invalid: spec.resources.requests.storage: \
             Forbidden: field can not be less than status.capacity"
        );
        assert_eq!(err.http_status(), 422);
    }

    #[test]
    fn shrinking_a_failed_expansion_back_above_capacity_is_allowed() {
        let mut old = bound("10Gi");
        old["spec"]["resources"]["requests"]["storage"] = json!("100Gi");
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        assert_eq!(validate_update(&old, &new, &[standard_storage_class()]), Ok(()));
    }

    #[test]
    fn growth_needs_an_expandable_class() {
        let old = bound("10Gi");
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        assert_eq!(validate_update(&old, &new, &[standard_storage_class()]), Ok(()));
        let mut fixed = standard_storage_class();
        fixed["allowVolumeExpansion"] = json!(false);
        let err = validate_update(&old, &new, &[fixed]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "persistentvolumeclaims \"datadir-db-0\" is forbidden: only dynamically provisioned pvc can be resized \
             and the storageclass that provisions the pvc must support resize"
        );
        assert_eq!(err.http_status(), 403);
    }

    #[test]
    fn other_spec_fields_are_immutable() {
        let old = bound("10Gi");
        let mut new = old.clone();
        new["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(
            validate_update(&old, &new, &[standard_storage_class()]).unwrap_err().to_string(),
            "PersistentVolumeClaim \"datadir-db-0\" is invalid: spec: Forbidden: spec is immutable after creation \
             except resources.requests and volumeAttributesClassName for bound claims"
        );
        // An unbound claim cannot change its request, but binding may fill volumeName in.
        let pending = claim("1Gi");
        let mut grown = pending.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(validate_update(&pending, &grown, &[]).is_err());
        let mut binding = pending.clone();
        binding["spec"]["volumeName"] = json!("pvc-abc-123");
        binding["spec"]["storageClassName"] = json!("standard");
        assert_eq!(validate_update(&pending, &binding, &[]), Ok(()));
    }

    #[test]
    fn resize_goes_through_both_conditions() {
        let mut pvc = bound("10Gi");
        assert_eq!(resize_step(&pvc, Utc::now()), Ok(None));
        pvc["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        let s1 = resize_step(&pvc, Utc::now()).unwrap().unwrap();
        assert_eq!(s1.pvc_status["conditions"][0]["type"], "Resizing");
        assert_eq!(s1.pvc_status["capacity"]["storage"], "10Gi");
        assert_eq!(s1.pv_capacity, None);
        pvc["status"] = s1.pvc_status;
        let s2 = resize_step(&pvc, Utc::now()).unwrap().unwrap();
        assert_eq!(s2.pvc_status["conditions"][0]["type"], "FileSystemResizePending");
        assert_eq!(s2.pvc_status["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(s2.pv_capacity.as_deref(), Some("20Gi"));
        assert_eq!(s2.pvc_status["capacity"]["storage"], "10Gi");
        pvc["status"] = s2.pvc_status;
        let s3 = resize_step(&pvc, Utc::now()).unwrap().unwrap();
        assert_eq!(s3.pvc_status["capacity"]["storage"], "20Gi");
        assert_eq!(s3.pvc_status["conditions"], json!([]));
        assert!(s3.pvc_status.get("allocatedResourceStatuses").is_none());
        pvc["status"] = s3.pvc_status;
        assert_eq!(resize_step(&pvc, Utc::now()), Ok(None));
    }
}
