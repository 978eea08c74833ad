//! Schema helper for Kubernetes types embedded in our CRDs.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// The schema of a Kubernetes type without its (very long) upstream descriptions. Embedding
/// Affinity, Probe, SecurityContext … in six components made the cluster CRD over 1 MB; Percona
/// generates its CRDs without descriptions (`crd:maxDescLen=0`) for the same reason. Our own
/// field descriptions are kept.
pub fn k8s<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = T::json_schema(generator);
    if let Some(obj) = schema.as_object_mut() {
        strip_descriptions(obj);
    }
    schema
}

fn strip_descriptions(node: &mut Map<String, Value>) {
    if node.get("description").is_some_and(Value::is_string) {
        node.remove("description");
    }
    if let Some(Value::Object(props)) = node.get_mut("properties") {
        props.values_mut().filter_map(Value::as_object_mut).for_each(strip_descriptions);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(Value::Object(sub)) = node.get_mut(key) {
            strip_descriptions(sub);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = node.get_mut(key) {
            subs.iter_mut().filter_map(Value::as_object_mut).for_each(strip_descriptions);
        }
    }
}
