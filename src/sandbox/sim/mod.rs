//! Decision logic of the simulated cluster: nodes, scheduler, StatefulSet controller, volumes, PDBs and
//! endpoints. Everything here is a pure function over `serde_json::Value` objects as the store holds
//! them, so the rules can be unit-tested without a server; the store/watch layer applies the results:
//!
//! - [`nodes::make_nodes`] at start-up; [`nodes::set_ready`] / [`nodes::set_cordoned`] for faults;
//! - [`scheduler::schedule`] (or a [`scheduler::Snapshot`] reused across a batch) per pending pod, then
//!   `spec.nodeName`, or the `PodScheduled=False` condition from the error;
//! - [`statefulset::plan`] per StatefulSet change or owned pod/PVC event, applying the plan's fields in
//!   order and writing `status`;
//! - [`pvc::bind_plan`] per Pending claim, [`pvc::validate_update`] on claim updates, then
//!   [`pvc::resize_step`] once per simulated delay while a claim grows;
//! - [`pdb::pdb_status`], [`endpoints::endpoints_for`] / [`endpoints::endpoint_slices_for`] on pod
//!   changes, [`endpoints::cluster_ip`] from a counter when a Service is created.

pub mod endpoints;
pub mod labels;
pub mod nodes;
pub mod pdb;
pub mod pvc;
pub mod quantity;
pub mod scheduler;
pub mod statefulset;

use serde_json::Value;

/// `metadata.name`, or "" when absent.
pub(crate) fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

/// `metadata.namespace`, or "" for cluster-scoped objects.
pub(crate) fn namespace_of(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
}

/// `metadata.uid`, or "" when the object has not been stored yet.
pub(crate) fn uid_of(obj: &Value) -> &str {
    obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("")
}

/// True when the object has a deletion timestamp (graceful deletion in progress).
pub(crate) fn is_terminating(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// The status of a condition of the given type in `status.conditions`, if present.
pub(crate) fn condition_status<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))?
        .get("status")?
        .as_str()
}

/// A pod is Ready when it runs and its Ready condition is True.
pub(crate) fn pod_is_ready(pod: &Value) -> bool {
    pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        && condition_status(pod, "Ready") == Some("True")
}
