//! Structural-schema handling for custom resources, as an apiserver does on every write: fields the
//! CRD's openAPIV3Schema does not declare are pruned (unless `x-kubernetes-preserve-unknown-fields`),
//! and `default` values fill in missing properties. Without this a controller could rely on fields a
//! real cluster silently drops.

use serde_json::{Map, Value};

/// Prunes undeclared fields and applies defaults in place; returns the pruned paths (`.spec.foo`).
pub fn prune_and_default(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut pruned = Vec::new();
    walk(obj, schema, "", true, &mut pruned);
    pruned
}

fn walk(v: &mut Value, schema: &Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    match v {
        Value::Object(map) => walk_object(map, schema, path, root, pruned),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), false, pruned);
                }
            }
        }
        _ => {}
    }
}

fn nullable(schema: &Value) -> bool {
    schema["nullable"].as_bool() == Some(true)
}

fn walk_object(map: &mut Map<String, Value>, schema: &Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    let embedded = schema["x-kubernetes-embedded-resource"].as_bool() == Some(true);
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    // Defaults first, so defaulted objects are themselves walked (and defaulted) below. A null where the schema
    // does not allow one counts as absent: it takes the default, or is dropped (upstream prunes such nulls).
    if let Some(props) = props {
        for (name, prop) in props {
            let absent = match map.get(name) {
                None => true,
                Some(Value::Null) => !nullable(prop),
                Some(_) => false,
            };
            if !absent || ((root || embedded) && matches!(name.as_str(), "apiVersion" | "kind" | "metadata")) {
                continue;
            }
            match prop.get("default") {
                Some(d) => {
                    map.insert(name.clone(), d.clone());
                }
                None => {
                    map.remove(name);
                }
            }
        }
    }
    if let Some(add) = additional.filter(|a| a.is_object() && !nullable(a)) {
        let declared = |k: &str| props.is_some_and(|p| p.contains_key(k));
        map.retain(|k, v| !v.is_null() || declared(k) || add.get("default").is_some());
        for (k, v) in map.iter_mut() {
            if v.is_null()
                && !declared(k)
                && let Some(d) = add.get("default")
            {
                *v = d.clone();
            }
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let child_path = format!("{path}.{key}");
        // apiVersion, kind and metadata of the object itself (or of an embedded resource) are not the schema's business.
        if (root || embedded) && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(prop) = props.and_then(|p| p.get(&key)) {
            if let Some(child) = map.get_mut(&key) {
                walk(child, prop, &child_path, false, pruned);
            }
            continue;
        }
        match additional {
            Some(Value::Object(_)) => {
                if let (Some(child), Some(add)) = (map.get_mut(&key), additional) {
                    walk(child, add, &child_path, false, pruned);
                }
            }
            Some(Value::Bool(true)) => {}
            _ if preserve => {}
            _ => {
                map.remove(&key);
                pruned.push(child_path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer", "default": 3},
                "pxc": {"type": "object", "properties": {"image": {"type": "string"}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "containers": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
            }},
            "status": {"type": "object", "properties": {"state": {"type": "string"}}}
        }})
    }

    #[test]
    fn prunes_undeclared_fields_and_keeps_the_rest() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"pxc": {"image": "i", "bogus": 1}, "labels": {"a": "b"}, "extra": {"anything": {"goes": true}},
                     "containers": [{"name": "c", "junk": 2}], "typo": true},
            "status": {"state": "ready", "nope": 1}, "top": 1});
        let pruned = prune_and_default(&mut o, &schema());
        assert_eq!(pruned, [".spec.pxc.bogus", ".spec.containers[0].junk", ".spec.typo", ".status.nope", ".top"]);
        assert_eq!(o["spec"]["size"], 3, "defaulted");
        assert_eq!(o["spec"]["extra"]["anything"]["goes"], true);
        assert_eq!(o["spec"]["labels"]["a"], "b");
        assert_eq!(o["metadata"]["name"], "a");
    }

    #[test]
    fn nulls_the_schema_does_not_allow_are_defaulted_or_dropped() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer", "default": 3},
            "image": {"type": "string"},
            "note": {"type": "string", "nullable": true},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        }}}});
        let mut o = json!({"spec": {"size": null, "image": null, "note": null, "labels": {"a": null, "b": "c"}}});
        assert!(prune_and_default(&mut o, &s).is_empty(), "dropped nulls are not unknown fields");
        assert_eq!(o, json!({"spec": {"size": 3, "note": null, "labels": {"b": "c"}}}));
    }
}
