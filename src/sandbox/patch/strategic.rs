//! Strategic merge patch for built-in kinds, the patch type `kubectl patch` and client-side `kubectl apply` send.
//!
//! Like a JSON merge patch, except that the lists named in [`super::strategic_keys`] merge item by item on a
//! key (or as a set of scalars), and these directives are understood:
//! - `$patch: delete` on a map deletes the field; on a list item deletes the live item with that key;
//! - `$patch: replace` on a map replaces the live map; as a list item `{"$patch": "replace"}` replaces the list;
//! - `$patch: merge` is the default;
//! - `$retainKeys: [..]` drops every live field of that map not listed (a union's old member);
//! - `$deleteFromPrimitiveList/<field>: [..]` removes those values from a scalar list;
//! - `$setElementOrder/<field>: [..]` orders the merged list.
//!
//! Simplified against the real server: `$setElementOrder` puts the listed items, in the listed order, into the
//! positions the listed items occupy; items it does not list stay where they are (the server interleaves them
//! by their original index, which gives the same result in the cases kubectl produces). `$retainKeys` is not
//! cross-checked against the patch's own keys.

use serde_json::{Map, Value};

use super::PatchError;
use super::strategic_keys::{ListMerge, is_builtin, list_merge};

const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to a copy of `target`, an object of the built-in `kind`.
pub fn strategic_merge(target: &Value, patch: &Value, kind: &str) -> Result<Value, PatchError> {
    if !is_builtin(kind) {
        return Err(PatchError::Invalid(format!(
            "strategic merge patch is not supported for custom resources ({kind}); use a merge patch"
        )));
    }
    let patch = patch
        .as_object()
        .ok_or_else(|| PatchError::Malformed("a strategic merge patch must be a JSON object".into()))?;
    if directive(patch, "$patch")? == Some("delete") {
        return Err(PatchError::Invalid("$patch: delete cannot delete the whole object".into()));
    }
    let mut out = target.clone();
    Merger { kind }.merge_object(&mut out, patch, &mut Vec::new())?;
    Ok(out)
}

/// Reads a directive member that must be a string, such as `$patch`.
fn directive<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, PatchError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(PatchError::Malformed(format!("{name} must be a string, not {other}"))),
    }
}

/// Makes `slot` an object if it is not one and returns its map.
fn object_slot(slot: &mut Value) -> &mut Map<String, Value> {
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("slot was just made an object"),
    }
}

/// A list item that only says `{"$patch": "replace"}`.
fn is_replace_marker(item: &Value) -> bool {
    item.as_object().is_some_and(|o| o.len() == 1 && o.get("$patch").and_then(Value::as_str) == Some("replace"))
}

fn string_list<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, PatchError> {
    value.as_array().ok_or_else(|| PatchError::Malformed(format!("{what} must be a list, not {value}")))
}

struct Merger<'k> {
    kind: &'k str,
}

impl Merger<'_> {
    fn list_merge(&self, path: &[String]) -> Option<ListMerge> {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        list_merge(self.kind, &path)
    }

    fn merge_value(&self, slot: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), PatchError> {
        match patch {
            Value::Object(p) => self.merge_object(slot, p, path),
            Value::Array(items) => self.merge_list(slot, items, path),
            scalar => {
                *slot = scalar.clone();
                Ok(())
            }
        }
    }

    fn merge_object(
        &self,
        slot: &mut Value,
        patch: &Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<(), PatchError> {
        match directive(patch, "$patch")? {
            None | Some("merge") => {}
            Some("replace") => {
                // Build the new map from nothing so nested directives and nulls are still resolved.
                let mut fresh = Value::Object(Map::new());
                self.merge_fields(object_slot(&mut fresh), patch, path)?;
                *slot = fresh;
                return Ok(());
            }
            // Parents handle deletion of a field or list item; reaching here means a misplaced directive.
            Some("delete") => {
                return Err(PatchError::Invalid(format!("$patch: delete is not allowed at {}", path.join("."))));
            }
            Some(other) => return Err(PatchError::Malformed(format!("unknown $patch directive {other:?}"))),
        }
        self.merge_fields(object_slot(slot), patch, path)
    }

    fn merge_fields(
        &self,
        target: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<(), PatchError> {
        if let Some(keep) = patch.get("$retainKeys") {
            let keep = string_list(keep, "$retainKeys")?;
            target.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
        }
        for (key, values) in patch {
            if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                let values = string_list(values, key)?;
                if let Some(Value::Array(items)) = target.get_mut(field) {
                    items.retain(|item| !values.contains(item));
                }
            }
        }
        for (key, value) in patch {
            if key.starts_with('$') {
                if key == "$patch"
                    || key == "$retainKeys"
                    || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                    || key.starts_with(SET_ELEMENT_ORDER)
                {
                    continue;
                }
                return Err(PatchError::Malformed(format!("unknown directive {key:?}")));
            }
            let deletes = match value {
                Value::Null => true,
                Value::Object(o) => directive(o, "$patch")? == Some("delete"),
                _ => false,
            };
            if deletes {
                target.shift_remove(key);
                continue;
            }
            path.push(key.clone());
            let result = self.merge_value(target.entry(key.clone()).or_insert(Value::Null), value, path);
            path.pop();
            result?;
        }
        for (key, order) in patch {
            if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
                let order = string_list(order, key)?;
                path.push(field.to_string());
                let strategy = self.list_merge(path);
                path.pop();
                if let Some(Value::Array(items)) = target.get_mut(field) {
                    reorder(items, order, strategy);
                }
            }
        }
        Ok(())
    }

    fn merge_list(&self, slot: &mut Value, patch: &[Value], path: &mut Vec<String>) -> Result<(), PatchError> {
        let replace = patch.iter().any(is_replace_marker);
        let mut items = match (replace, slot.take()) {
            (false, Value::Array(live)) => live,
            _ => Vec::new(),
        };
        let patch_items = patch.iter().filter(|i| !is_replace_marker(i));
        match self.list_merge(path) {
            None => {
                items.clear();
                for item in patch_items {
                    let mut fresh = Value::Null;
                    self.merge_value(&mut fresh, item, path)?;
                    items.push(fresh);
                }
            }
            Some(ListMerge::Set) => {
                for item in patch_items {
                    if !items.contains(item) {
                        items.push(item.clone());
                    }
                }
            }
            Some(ListMerge::ByKey(key)) => {
                for item in patch_items {
                    let obj = item.as_object().ok_or_else(|| {
                        PatchError::Malformed(format!("{} must be a list of objects, found {item}", path.join(".")))
                    })?;
                    let id = obj.get(key).ok_or_else(|| {
                        PatchError::Invalid(format!("an item of {} has no merge key {key:?}", path.join(".")))
                    })?;
                    if directive(obj, "$patch")? == Some("delete") {
                        items.retain(|live| live.get(key) != Some(id));
                        continue;
                    }
                    match items.iter_mut().find(|live| live.get(key) == Some(id)) {
                        Some(live) => self.merge_object(live, obj, path)?,
                        None => {
                            let mut fresh = Value::Null;
                            self.merge_object(&mut fresh, obj, path)?;
                            items.push(fresh);
                        }
                    }
                }
            }
        }
        *slot = Value::Array(items);
        Ok(())
    }
}

/// Orders `items` as `order` lists them (see the module docs for items it does not list).
fn reorder(items: &mut [Value], order: &[Value], strategy: Option<ListMerge>) {
    let identity = |v: &Value| -> Option<Value> {
        match strategy {
            Some(ListMerge::ByKey(key)) => v.get(key).cloned(),
            Some(ListMerge::Set) => Some(v.clone()),
            None => None,
        }
    };
    let wanted: Vec<Value> = order.iter().filter_map(identity).collect();
    let rank = |v: &Value| identity(v).and_then(|id| wanted.iter().position(|w| *w == id));
    let positions: Vec<usize> = (0..items.len()).filter(|&i| rank(&items[i]).is_some()).collect();
    let mut listed: Vec<Value> = positions.iter().map(|&i| items[i].clone()).collect();
    listed.sort_by_key(|v| rank(v));
    for (pos, value) in positions.into_iter().zip(listed) {
        items[pos] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "db-0", "labels": {"app": "db", "tier": "data"}, "finalizers": ["a", "b"]},
            "spec": {
                "containers": [
                    {
                        "name": "mysql",
                        "image": "percona/percona-xtradb-cluster:8.0",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 3306, "name": "mysql"}, {"containerPort": 4444, "name": "sst"}],
                        "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/mysql"}]
                    },
                    {"name": "logs", "image": "fluentbit:2"}
                ],
                "volumes": [{"name": "datadir", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
                "tolerations": [{"key": "a", "operator": "Exists"}]
            }
        })
    }

    fn smp(target: &Value, patch: Value, kind: &str) -> Value {
        strategic_merge(target, &patch, kind).unwrap()
    }

    #[test]
    fn containers_merge_by_name() {
        let out = smp(&pod(), json!({"spec": {"containers": [{"name": "logs", "image": "fluentbit:3"}]}}), "Pod");
        let containers = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0], pod()["spec"]["containers"][0]);
        assert_eq!(containers[1]["image"], "fluentbit:3");
    }

    #[test]
    fn new_container_is_appended() {
        let out =
            smp(&pod(), json!({"spec": {"containers": [{"name": "exporter", "image": "mysqld-exporter"}]}}), "Pod");
        let names: Vec<&str> =
            out["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["mysql", "logs", "exporter"]);
    }

    #[test]
    fn env_merges_by_name_and_patch_delete_removes_one() {
        let patch = json!({"spec": {"containers": [{"name": "mysql", "env": [
            {"name": "B", "value": "20"},
            {"name": "C", "value": "3"},
            {"name": "A", "$patch": "delete"}
        ]}]}});
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(
            out["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );
    }

    #[test]
    fn container_ports_merge_by_container_port() {
        let patch = json!({"spec": {"containers": [{"name": "mysql", "ports": [
            {"containerPort": 4444, "name": "state-transfer"}, {"containerPort": 4567, "name": "galera"}
        ]}]}});
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([
                {"containerPort": 3306, "name": "mysql"},
                {"containerPort": 4444, "name": "state-transfer"},
                {"containerPort": 4567, "name": "galera"}
            ])
        );
    }

    #[test]
    fn volumes_merge_by_name_with_retain_keys() {
        // kubectl sends $retainKeys for volumes so switching the source drops the old one.
        let patch = json!({"spec": {"volumes": [
            {"name": "datadir", "$retainKeys": ["name", "persistentVolumeClaim"], "persistentVolumeClaim": {"claimName": "data"}}
        ]}});
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(
            out["spec"]["volumes"],
            json!([
                {"name": "datadir", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ])
        );
    }

    #[test]
    fn null_deletes_a_field() {
        let out = smp(&pod(), json!({"metadata": {"labels": {"tier": null}}, "spec": {"tolerations": null}}), "Pod");
        assert_eq!(out["metadata"]["labels"], json!({"app": "db"}));
        assert!(out["spec"].get("tolerations").is_none());
    }

    #[test]
    fn patch_delete_on_a_map_removes_the_field() {
        let dep = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let out = smp(
            &dep,
            json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}, "type": "Recreate"}}}),
            "Deployment",
        );
        assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn patch_replace_on_a_map_replaces_it() {
        let out = smp(&pod(), json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}}}), "Pod");
        assert_eq!(out["metadata"]["labels"], json!({"only": "this"}));
    }

    #[test]
    fn patch_replace_marker_replaces_a_keyed_list() {
        let patch = json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "busybox"}]}});
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(out["spec"]["containers"], json!([{"name": "solo", "image": "busybox"}]));
    }

    #[test]
    fn unknown_lists_are_replaced_atomically() {
        let patch = json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
            "containers": [{"name": "mysql", "args": ["--x"]}]}});
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "b", "operator": "Exists"}]));
        assert_eq!(out["spec"]["containers"][0]["args"], json!(["--x"]));
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let out = smp(&pod(), json!({"metadata": {"finalizers": ["b", "c"]}}), "Pod");
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    }

    #[test]
    fn delete_from_primitive_list() {
        let out = smp(&pod(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}), "Pod");
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn set_element_order_orders_keyed_and_primitive_lists() {
        let patch = json!({
            "metadata": {"$setElementOrder/finalizers": ["b", "a"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "logs"}, {"name": "mysql"}],
                "containers": [{"name": "logs", "image": "fluentbit:3"}]
            }
        });
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
        assert_eq!(out["spec"]["containers"][0], json!({"name": "logs", "image": "fluentbit:3"}));
        assert_eq!(out["spec"]["containers"][1]["name"], "mysql");
    }

    #[test]
    fn set_element_order_leaves_unlisted_items_in_place() {
        let target = json!({"spec": {"volumes": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}});
        let patch = json!({"spec": {"$setElementOrder/volumes": [{"name": "b"}, {"name": "a"}]}});
        let out = smp(&target, patch, "Pod");
        assert_eq!(out["spec"]["volumes"], json!([{"name": "b"}, {"name": "x"}, {"name": "a"}]));
    }

    #[test]
    fn kubectl_patch_on_a_statefulset() {
        // `kubectl patch sts db --type strategic -p '{"spec":{"replicas":5,"template":{"spec":{"containers":[...]}}}}'`
        let sts = json!({
            "kind": "StatefulSet",
            "spec": {
                "replicas": 3,
                "template": {"spec": {"containers": [
                    {"name": "mysql", "image": "pxc:8.0.35", "env": [{"name": "X", "value": "1"}]},
                    {"name": "proxy", "image": "haproxy:2"}
                ]}},
                "volumeClaimTemplates": [{"metadata": {"name": "datadir"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]
            }
        });
        let patch = json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [
            {"name": "mysql", "image": "pxc:8.0.36", "env": [{"name": "Y", "value": "2"}]}
        ]}}}});
        let out = smp(&sts, patch, "StatefulSet");
        assert_eq!(out["spec"]["replicas"], 5);
        let mysql = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(mysql["image"], "pxc:8.0.36");
        assert_eq!(mysql["env"], json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]));
        assert_eq!(out["spec"]["template"]["spec"]["containers"][1]["name"], "proxy");
        assert_eq!(out["spec"]["volumeClaimTemplates"], sts["spec"]["volumeClaimTemplates"]);
    }

    #[test]
    fn kubectl_client_side_apply_style_patch_on_a_pod() {
        // The shape kubectl apply (client side) sends: element order plus changes plus a removed label.
        let patch = json!({
            "metadata": {"labels": {"tier": null, "version": "2"}},
            "spec": {
                "$setElementOrder/containers": [{"name": "mysql"}, {"name": "logs"}],
                "containers": [{
                    "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                    "name": "mysql",
                    "env": [{"name": "B", "value": "22"}]
                }]
            }
        });
        let out = smp(&pod(), patch, "Pod");
        assert_eq!(out["metadata"]["labels"], json!({"app": "db", "version": "2"}));
        assert_eq!(
            out["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "22"}, {"name": "A", "value": "1"}])
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let svc = json!({"spec": {"ports": [{"port": 3306, "name": "mysql"}, {"port": 33062, "name": "admin"}]}});
        let out = smp(&svc, json!({"spec": {"ports": [{"port": 3306, "targetPort": 3307}]}}), "Service");
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 3306, "name": "mysql", "targetPort": 3307}, {"port": 33062, "name": "admin"}])
        );
    }

    #[test]
    fn conditions_merge_by_type() {
        let target = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let out = smp(&target, json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}), "Pod");
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
    }

    #[test]
    fn directives_inside_new_items_are_resolved() {
        let out = smp(
            &json!({}),
            json!({"spec": {"containers": [{"name": "c", "env": null, "resources": {"$patch": "replace", "limits": {"cpu": "1"}}}]}}),
            "Pod",
        );
        assert_eq!(out, json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}));
    }

    #[test]
    fn custom_resources_are_rejected() {
        let err = strategic_merge(&json!({}), &json!({"spec": {}}), "PerconaXtraDBCluster");
        assert!(matches!(err, Err(PatchError::Invalid(m)) if m.contains("not supported for custom resources")));
    }

    #[test]
    fn malformed_and_invalid_patches() {
        assert!(matches!(strategic_merge(&pod(), &json!([1]), "Pod"), Err(PatchError::Malformed(_))));
        assert!(matches!(
            strategic_merge(&pod(), &json!({"spec": {"$frobnicate": 1}}), "Pod"),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            strategic_merge(&pod(), &json!({"spec": {"containers": [{"image": "x"}]}}), "Pod"),
            Err(PatchError::Invalid(m)) if m.contains("spec.containers") && m.contains("\"name\"")
        ));
        assert!(matches!(
            strategic_merge(&pod(), &json!({"spec": {"containers": ["x"]}}), "Pod"),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            strategic_merge(&pod(), &json!({"metadata": {"labels": {"$patch": "explode"}}}), "Pod"),
            Err(PatchError::Malformed(_))
        ));
    }
}
