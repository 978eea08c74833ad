//! Field sets: which fields of an object a manager owns, and their FieldsV1 encoding.
//!
//! A set is kept flat, as the set of member paths. Each path element is stored in its FieldsV1 spelling:
//! `f:<name>` for a field, `k:{"name":"x"}` for a keyed list item (keys sorted, compact JSON), `v:<json>` for an
//! item of a set, `i:<n>` for a list index. A keyed list item is itself a member (`.` in FieldsV1) besides the
//! fields under it; maps are not members, their leaves are.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::list_types::{ListType, is_atomic_map, key_default, list_type};

pub type Path = Vec<String>;

/// Metadata the server sets; never owned, never compared (the real server's "strip meta").
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// A set of owned field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(path)
    }

    pub fn remove(&mut self, path: &Path) {
        self.0.remove(path);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// True when some member lies strictly below `prefix`.
    pub fn has_below(&self, prefix: &Path) -> bool {
        self.0.range(prefix.clone()..).take_while(|p| p.starts_with(prefix)).any(|p| p.len() > prefix.len())
    }

    /// The FieldsV1 trie: `{"f:spec": {"f:replicas": {}}}`, with `.` marking members that have children.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<String, Node>,
        }
        fn encode(node: &Node) -> Value {
            let mut map = Map::new();
            if node.member && !node.children.is_empty() {
                map.insert(".".into(), Value::Object(Map::new()));
            }
            for (name, child) in &node.children {
                map.insert(name.clone(), encode(child));
            }
            Value::Object(map)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let node = path.iter().fold(&mut root, |node, element| node.children.entry(element.clone()).or_default());
            node.member = true;
        }
        encode(&root)
    }

    /// Reads a FieldsV1 trie, normalising key and value elements so equal sets compare equal.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        fn walk(node: &Value, path: &mut Path, out: &mut FieldSet) -> Result<(), String> {
            let map = node.as_object().ok_or_else(|| format!("a FieldsV1 node must be an object, not {node}"))?;
            if map.is_empty() && !path.is_empty() {
                out.insert(path.clone());
            }
            for (name, child) in map {
                if name == "." {
                    if !path.is_empty() {
                        out.insert(path.clone());
                    }
                    continue;
                }
                path.push(normalise(name)?);
                let result = walk(child, path, out);
                path.pop();
                result?;
            }
            Ok(())
        }
        let mut out = FieldSet::default();
        walk(value, &mut Vec::new(), &mut out)?;
        Ok(out)
    }
}

/// One path element, decoded.
#[derive(Debug, PartialEq)]
pub enum Element {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

impl Element {
    pub fn decode(text: &str) -> Option<Element> {
        let (kind, rest) = text.split_at_checked(2)?;
        match kind {
            "f:" => Some(Element::Field(rest.to_string())),
            "k:" => serde_json::from_str::<Map<String, Value>>(rest).ok().map(Element::Key),
            "v:" => serde_json::from_str(rest).ok().map(Element::Value),
            "i:" => rest.parse().ok().map(Element::Index),
            _ => None,
        }
    }
}

fn normalise(text: &str) -> Result<String, String> {
    match Element::decode(text) {
        Some(Element::Key(key)) => Ok(key_element(key)),
        Some(Element::Value(v)) => Ok(format!("v:{v}")),
        Some(_) => Ok(text.to_string()),
        None => Err(format!("unknown FieldsV1 element {text:?}")),
    }
}

pub fn field_element(name: &str) -> String {
    format!("f:{name}")
}

/// `k:{...}` with the key fields in name order, as the real server writes it.
fn key_element(key: Map<String, Value>) -> String {
    let sorted: BTreeMap<String, Value> = key.into_iter().collect();
    let map: Map<String, Value> = sorted.into_iter().collect();
    format!("k:{}", Value::Object(map))
}

/// The `k:` element of a keyed list item, or `None` if a key field without a default is missing.
fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    let obj = item.as_object()?;
    let mut key = Map::new();
    for field in keys {
        let value = match obj.get(*field) {
            Some(v) if !v.is_null() => v.clone(),
            _ => Value::String(key_default(field)?.to_string()),
        };
        key.insert(field.to_string(), value);
    }
    Some(key_element(key))
}

/// The list type to use for these items. A keyed list whose items lack their keys or repeat a key, or a set
/// with repeated or non-scalar items, falls back to atomic: there is no way to own such items one by one (the
/// real server would reject them; the Percona operators' history-like condition lists repeat types).
pub fn effective_list_type(names: &[&str], items: &[Value]) -> ListType {
    let unique = |elements: Vec<Option<String>>| {
        let count = elements.len();
        let distinct: BTreeSet<String> = elements.into_iter().flatten().collect();
        distinct.len() == count
    };
    match list_type(names) {
        ListType::Map(keys) if unique(items.iter().map(|i| item_key(i, keys)).collect()) => ListType::Map(keys),
        ListType::Set
            if items.iter().all(|i| !i.is_object() && !i.is_array())
                && unique(items.iter().map(|i| Some(format!("v:{i}"))).collect()) =>
        {
            ListType::Set
        }
        _ => ListType::Atomic,
    }
}

/// The element naming `item` in a list of type `list_type` (keyed or set lists only).
pub fn item_element(item: &Value, list_type: ListType) -> Option<String> {
    match list_type {
        ListType::Map(keys) => item_key(item, keys),
        ListType::Set => Some(format!("v:{item}")),
        ListType::Atomic => None,
    }
}

/// The fields an object sets, server-set metadata excluded.
pub fn fields_of(object: &Value) -> FieldSet {
    let mut out = FieldSet::default();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (name, value) in map {
        match name.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for (meta, value) in value.as_object().into_iter().flatten() {
                    if !SERVER_METADATA.contains(&meta.as_str()) {
                        let mut path = vec![field_element("metadata"), field_element(meta)];
                        walk(value, &mut path, &mut vec!["metadata", meta], &mut out);
                    }
                }
            }
            _ => walk(value, &mut vec![field_element(name)], &mut vec![name], &mut out),
        }
    }
    out
}

fn walk<'a>(value: &'a Value, path: &mut Path, names: &mut Vec<&'a str>, out: &mut FieldSet) {
    match value {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() && !is_atomic_map(names) => {
            for (name, child) in map {
                path.push(field_element(name));
                names.push(name);
                walk(child, path, names, out);
                names.pop();
                path.pop();
            }
        }
        Value::Array(items) => {
            let list_type = effective_list_type(names, items);
            if list_type == ListType::Atomic {
                out.insert(path.clone());
                return;
            }
            for item in items {
                let Some(element) = item_element(item, list_type) else { continue };
                path.push(element);
                out.insert(path.clone());
                if let (ListType::Map(_), Some(fields)) = (list_type, item.as_object()) {
                    for (name, child) in fields {
                        path.push(field_element(name));
                        names.push(name);
                        walk(child, path, names, out);
                        names.pop();
                        path.pop();
                    }
                }
                path.pop();
            }
        }
        _ => out.insert(path.clone()),
    }
}

/// True when a list item with this key element matches `item` (missing key fields read as their defaults).
fn key_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(field, want)| match item.get(field) {
        Some(v) if !v.is_null() => v == want,
        _ => key_default(field).is_some_and(|d| want.as_str() == Some(d)),
    })
}

fn position(list: &[Value], element: &Element) -> Option<usize> {
    match element {
        Element::Key(key) => list.iter().position(|item| key_matches(item, key)),
        Element::Value(v) => list.iter().position(|item| item == v),
        Element::Index(i) => (*i < list.len()).then_some(*i),
        Element::Field(_) => None,
    }
}

fn child<'v>(value: &'v Value, element: &str) -> Option<&'v Value> {
    match (Element::decode(element)?, value) {
        (Element::Field(name), Value::Object(map)) => map.get(&name),
        (element, Value::Array(list)) => position(list, &element).map(|i| &list[i]),
        _ => None,
    }
}

fn child_mut<'v>(value: &'v mut Value, element: &str) -> Option<&'v mut Value> {
    match (Element::decode(element)?, value) {
        (Element::Field(name), Value::Object(map)) => map.get_mut(&name),
        (element, Value::Array(list)) => position(list, &element).map(|i| &mut list[i]),
        _ => None,
    }
}

/// The value at `path` in `object`, if present.
pub fn value_at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(object, |value, element| child(value, element))
}

/// Removes the value at `path` and prunes maps and lists this leaves empty. Key fields of a list item are kept
/// while the item stays, since the item cannot exist without them.
pub fn remove_at(object: &mut Value, path: &[String]) {
    fn is_empty_container(v: &Value) -> bool {
        matches!(v, Value::Object(m) if m.is_empty()) || matches!(v, Value::Array(a) if a.is_empty())
    }
    fn go(value: &mut Value, path: &[String]) -> bool {
        let Some((first, rest)) = path.split_first() else { return false };
        if rest.is_empty() {
            return match (Element::decode(first), value) {
                (Some(Element::Field(name)), Value::Object(map)) => map.shift_remove(&name).is_some(),
                (Some(element), Value::Array(list)) => match position(list, &element) {
                    Some(i) => {
                        list.remove(i);
                        true
                    }
                    None => false,
                },
                _ => false,
            };
        }
        if let (Some(Element::Key(key)), [field]) = (Element::decode(first), rest)
            && matches!(Element::decode(field), Some(Element::Field(name)) if key.contains_key(&name))
        {
            return false;
        }
        let Some(next) = child_mut(value, first) else { return false };
        let removed = go(next, rest);
        if removed
            && is_empty_container(next)
            && let (Some(name), Value::Object(map)) = (first.strip_prefix("f:"), value)
        {
            map.shift_remove(name);
        }
        removed
    }
    go(object, path);
}

/// Human form of a path as the real server prints it in conflicts: `.spec.containers[name="db"].image`.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        match Element::decode(element) {
            Some(Element::Field(name)) => {
                out.push('.');
                out.push_str(&name);
            }
            Some(Element::Key(key)) => {
                let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            Some(Element::Value(v)) => out.push_str(&format!("[={v}]")),
            Some(Element::Index(i)) => out.push_str(&format!("[{i}]")),
            None => out.push_str(element),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u1", "resourceVersion": "7", "labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1", "ports": [{"containerPort": 80}]}
                ]}}
            }
        })
    }

    #[test]
    fn fields_v1_encoding_matches_the_real_shape() {
        let set = fields_of(&deployment());
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}}
                }
            })
        );
    }

    #[test]
    fn fields_v1_round_trips_and_normalises_keys() {
        let set = fields_of(&deployment());
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
        // Key order inside k: does not matter when reading.
        let written = json!({"f:spec": {"f:ports": {"k:{\"protocol\":\"TCP\",\"port\":80}": {".": {}}}}});
        let read = FieldSet::from_fields_v1(&written).unwrap();
        assert!(read.contains(&vec!["f:spec".into(), "f:ports".into(), "k:{\"port\":80,\"protocol\":\"TCP\"}".into()]));
        assert!(FieldSet::from_fields_v1(&json!({"x:nope": {}})).is_err());
    }

    #[test]
    fn values_are_found_through_keys_with_defaults() {
        let obj = deployment();
        let path =
            fields_of(&obj).iter().find(|p| p.last().map(String::as_str) == Some("f:containerPort")).cloned().unwrap();
        assert_eq!(value_at(&obj, &path), Some(&json!(80)));
        assert_eq!(
            display(&path),
            ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort"
        );
    }

    #[test]
    fn repeated_keys_make_a_list_atomic() {
        let status =
            json!({"status": {"conditions": [{"type": "ready"}, {"type": "initializing"}, {"type": "ready"}]}});
        assert_eq!(fields_of(&status).to_fields_v1(), json!({"f:status": {"f:conditions": {}}}));
        let keyless = json!({"spec": {"containers": [{"image": "x"}]}});
        assert_eq!(fields_of(&keyless).to_fields_v1(), json!({"f:spec": {"f:containers": {}}}));
    }

    #[test]
    fn removing_prunes_emptied_parents_but_keeps_item_keys() {
        let mut obj = deployment();
        remove_at(&mut obj, &["f:metadata".into(), "f:labels".into(), "f:app".into()]);
        assert!(obj["metadata"].get("labels").is_none());
        let item = vec![
            "f:spec".to_string(),
            "f:template".into(),
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"nginx\"}".into(),
        ];
        let mut name = item.clone();
        name.push("f:name".into());
        remove_at(&mut obj, &name);
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["name"], "nginx");
        remove_at(&mut obj, &item);
        assert!(obj["spec"]["template"]["spec"].get("containers").is_none());
    }
}
