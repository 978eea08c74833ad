//! Patch engines the sandbox applies to stored objects: JSON merge (RFC 7386), JSON patch (RFC 6902),
//! strategic merge (built-in kinds) and server-side apply (field managers).
//!
//! All are pure functions on `serde_json::Value`. The HTTP layer maps the content type to the engine:
//! `merge-patch+json` → [`merge_patch`], `json-patch+json` → [`json_patch`], `strategic-merge-patch+json` →
//! [`strategic_merge`], `apply-patch+yaml` → [`apply::apply`] (or [`apply::apply_subresource`] on `/status`).
//! Every other write should go through [`apply::record_update`] so field ownership stays true.
//! [`PatchError`] variants map to 422 `Invalid` (`TestFailed`, `Invalid`) and 400 `BadRequest` (`Malformed`);
//! [`apply::ApplyConflict`] maps to 409 `Conflict` with one `FieldManagerConflict` cause per field.

use serde_json::Value;

pub mod apply;
mod json_patch;
mod strategic;
pub mod strategic_keys;

pub use json_patch::json_patch;
pub use strategic::strategic_merge;

/// Why a patch could not be applied; the server maps each to a Status reason and code.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    /// A JSON-patch `test` failed (422 Invalid).
    #[error("the test operation failed: {0}")]
    TestFailed(String),
    /// The patch document is malformed (400 BadRequest).
    #[error("malformed patch: {0}")]
    Malformed(String),
    /// The patch is well-formed but cannot apply to this object (422 Invalid).
    #[error("{0}")]
    Invalid(String),
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    // shift_remove keeps the other fields in order (serde_json is built with preserve_order).
                    t.shift_remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (_, Some(_)) => {
            *target = Value::Object(Default::default());
            merge_patch(target, patch);
        }
        _ => *target = patch.clone(),
    }
}
