//! Form fields shared by the create wizard and the edit form, and dotted-path access into a JSON resource
//! (`spec.instances[0].replicas`), the same path notation validation problems use.

use serde_json::Value;

use crate::api::Problem;

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Choice { options: Vec<&'static str>, index: usize },
    Toggle(bool),
}

/// What a field's text turns into in the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Kept as a string (names, quantities, cron).
    String,
    /// A whole number; non-numbers are reported by validation.
    Integer,
    /// Optional string: empty means "leave unset".
    OptionalString,
    Choice,
    Bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub id: &'static str,
    /// Built-in fields have a fixed label; repeated ones (one per backup schedule) name their item.
    pub label: std::borrow::Cow<'static, str>,
    /// The resource path this field writes (problems at or under it are shown next to the field).
    pub path: String,
    pub kind: FieldType,
    pub value: FieldValue,
    pub hint: &'static str,
}

impl Field {
    pub fn text(id: &'static str, label: &'static str, path: impl Into<String>, v: &str, hint: &'static str) -> Field {
        Field {
            id,
            label: label.into(),
            path: path.into(),
            kind: FieldType::String,
            value: FieldValue::Text(v.into()),
            hint,
        }
    }
    pub fn int(id: &'static str, label: &'static str, path: impl Into<String>, v: &str, hint: &'static str) -> Field {
        Field { kind: FieldType::Integer, ..Field::text(id, label, path, v, hint) }
    }
    pub fn optional(
        id: &'static str,
        label: &'static str,
        path: impl Into<String>,
        v: &str,
        hint: &'static str,
    ) -> Field {
        Field { kind: FieldType::OptionalString, ..Field::text(id, label, path, v, hint) }
    }
    pub fn choice(
        id: &'static str,
        label: &'static str,
        path: impl Into<String>,
        options: Vec<&'static str>,
        index: usize,
        hint: &'static str,
    ) -> Field {
        Field {
            id,
            label: label.into(),
            path: path.into(),
            kind: FieldType::Choice,
            value: FieldValue::Choice { options, index },
            hint,
        }
    }
    pub fn toggle(
        id: &'static str,
        label: &'static str,
        path: impl Into<String>,
        on: bool,
        hint: &'static str,
    ) -> Field {
        Field { id, label: label.into(), path: path.into(), kind: FieldType::Bool, value: FieldValue::Toggle(on), hint }
    }

    /// The value as shown.
    pub fn display(&self) -> String {
        match &self.value {
            FieldValue::Text(s) => s.clone(),
            FieldValue::Choice { options, index } => options.get(*index).copied().unwrap_or("").to_string(),
            FieldValue::Toggle(on) => if *on { "yes" } else { "no" }.to_string(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.value {
            FieldValue::Text(s) => s,
            FieldValue::Choice { options, index } => options.get(*index).copied().unwrap_or(""),
            FieldValue::Toggle(true) => "yes",
            FieldValue::Toggle(false) => "no",
        }
    }

    pub fn is_on(&self) -> bool {
        matches!(self.value, FieldValue::Toggle(true))
    }

    pub fn input(&mut self, c: char) {
        match &mut self.value {
            FieldValue::Text(s) => s.push(c),
            FieldValue::Toggle(on) if c == ' ' => *on = !*on,
            FieldValue::Choice { .. } if c == ' ' => self.cycle(true),
            _ => {}
        }
    }
    pub fn backspace(&mut self) {
        if let FieldValue::Text(s) = &mut self.value {
            s.pop();
        }
    }
    pub fn cycle(&mut self, forward: bool) {
        match &mut self.value {
            FieldValue::Choice { options, index } if !options.is_empty() => {
                let n = options.len();
                *index = if forward { (*index + 1) % n } else { (*index + n - 1) % n };
            }
            FieldValue::Toggle(on) => *on = !*on,
            _ => {}
        }
    }

    /// The JSON this field writes, or `None` for an empty optional field.
    pub fn json(&self) -> Option<Value> {
        match (&self.kind, &self.value) {
            (FieldType::Integer, FieldValue::Text(s)) => Some(match s.trim().parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::from(s.trim()),
            }),
            (FieldType::OptionalString, FieldValue::Text(s)) if s.trim().is_empty() => None,
            (_, FieldValue::Text(s)) => Some(Value::from(s.trim())),
            (_, FieldValue::Choice { .. }) => Some(Value::from(self.as_str())),
            (_, FieldValue::Toggle(on)) => Some(Value::from(*on)),
        }
    }

    /// Problems that belong to this field.
    pub fn problems<'a>(&self, problems: &'a [Problem]) -> Vec<&'a Problem> {
        problems.iter().filter(|p| path_is_under(&p.path, &self.path)).collect()
    }
}

/// `a.b[0]` is under `a.b` and under `a.b[0]`, but `a.bc` is not under `a.b`.
pub fn path_is_under(path: &str, prefix: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && matches!(path.as_bytes().get(prefix.len()), Some(b'.') | Some(b'[')))
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { break };
            if let Ok(i) = r[..end].parse() {
                out.push(Seg::Index(i));
            }
            rest = &r[end + 1..];
        }
    }
    out
}

pub fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for s in segments(path) {
        cur = match s {
            Seg::Key(k) => cur.get(k)?,
            Seg::Index(i) => cur.get(i)?,
        };
    }
    Some(cur)
}

pub fn get_mut<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in segments(path) {
        cur = match s {
            Seg::Key(k) => cur.get_mut(k)?,
            Seg::Index(i) => cur.get_mut(i)?,
        };
    }
    Some(cur)
}

/// Sets a value, creating objects (and array slots) on the way.
pub fn set(v: &mut Value, path: &str, new: Value) {
    let segs = segments(path);
    let mut cur = v;
    for s in segs {
        cur = match s {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Default::default());
                }
                let Value::Object(map) = cur else { return };
                map.entry(k.to_string()).or_insert(Value::Null)
            }
            Seg::Index(i) => {
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                let Value::Array(items) = cur else { return };
                while items.len() <= i {
                    items.push(Value::Null);
                }
                &mut items[i]
            }
        };
    }
    *cur = new;
}

/// A JSON merge patch (RFC 7386) that turns `before` into `after`; `None` when nothing changed.
pub fn merge_patch(before: &Value, after: &Value) -> Option<Value> {
    if before == after {
        return None;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut out = serde_json::Map::new();
            for (k, bv) in b {
                match a.get(k) {
                    None => {
                        out.insert(k.clone(), Value::Null);
                    }
                    Some(av) => {
                        if let Some(p) = merge_patch(bv, av) {
                            out.insert(k.clone(), p);
                        }
                    }
                }
            }
            for (k, av) in a {
                if !b.contains_key(k) {
                    out.insert(k.clone(), av.clone());
                }
            }
            Some(Value::Object(out))
        }
        _ => Some(after.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_and_set_paths() {
        let mut v = json!({"spec": {"instances": [{"name": "instance1", "replicas": 3}]}});
        assert_eq!(get(&v, "spec.instances[0].replicas"), Some(&json!(3)));
        set(&mut v, "spec.instances[0].replicas", json!(5));
        set(&mut v, "spec.proxy.pgBouncer.replicas", json!(2));
        assert_eq!(v["spec"]["instances"][0], json!({"name": "instance1", "replicas": 5}));
        assert_eq!(v["spec"]["proxy"]["pgBouncer"]["replicas"], json!(2));
        let mut e = json!({});
        set(&mut e, "spec.backup.schedule[0].schedule", json!("0 0 * * *"));
        assert_eq!(e, json!({"spec": {"backup": {"schedule": [{"schedule": "0 0 * * *"}]}}}));
    }

    #[test]
    fn merge_patch_has_only_changes() {
        let a = json!({"spec": {"pxc": {"size": 3, "image": "x"}, "pause": false, "old": 1}});
        let b = json!({"spec": {"pxc": {"size": 5, "image": "x"}, "pause": false, "new": 2}});
        assert_eq!(merge_patch(&a, &b), Some(json!({"spec": {"pxc": {"size": 5}, "old": null, "new": 2}})));
        assert_eq!(merge_patch(&a, &a), None);
    }

    #[test]
    fn path_prefixes() {
        assert!(path_is_under("spec.pxc.size", "spec.pxc.size"));
        assert!(path_is_under("spec.instances[0].replicas", "spec.instances"));
        assert!(!path_is_under("spec.pxcx", "spec.pxc"));
    }

    #[test]
    fn integer_fields_keep_bad_text_for_validation() {
        let f = Field::int("size", "Size", "spec.pxc.size", "three", "");
        assert_eq!(f.json(), Some(json!("three")));
        let f = Field::int("size", "Size", "spec.pxc.size", " 3 ", "");
        assert_eq!(f.json(), Some(json!(3)));
        assert_eq!(Field::optional("sc", "Class", "x", "", "").json(), None);
    }
}
