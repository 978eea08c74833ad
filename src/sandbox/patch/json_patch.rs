//! RFC 6902 JSON patch with the one deviation the Kubernetes API server (and kube's finalizer helper) relies on:
//! a `test` whose path does not exist compares equal to `null`.
//!
//! Written here rather than wrapping the `json-patch` crate because that crate fails a `test` on a missing path
//! and reports every failure with one error kind; the server needs to tell "malformed" (400) from "test failed"
//! and "path does not exist" (422).

use serde_json::{Map, Value};

use super::PatchError;

/// Applies an RFC 6902 patch document (a JSON array of operations) to a copy of `target`.
///
/// The operations apply in order and atomically: on any error the caller's object is untouched.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError::Malformed("a JSON patch must be a JSON array of operations".into()))?;
    // Parse everything first so a malformed operation late in the list is reported as malformed (400)
    // even if an earlier one would fail to apply.
    let parsed = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Operation::parse(op).map_err(|e| PatchError::Malformed(format!("operation {i}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut doc = target.clone();
    for op in parsed {
        op.apply(&mut doc)?;
    }
    Ok(doc)
}

/// One parsed operation; pointers are already split into unescaped reference tokens.
#[derive(Debug)]
enum Operation {
    Add { path: Pointer, value: Value },
    Remove { path: Pointer },
    Replace { path: Pointer, value: Value },
    Move { from: Pointer, path: Pointer },
    Copy { from: Pointer, path: Pointer },
    Test { path: Pointer, value: Value },
}

impl Operation {
    fn parse(op: &Value) -> Result<Self, String> {
        let obj = op.as_object().ok_or("each operation must be a JSON object")?;
        let name = obj.get("op").and_then(Value::as_str).ok_or("missing string member \"op\"")?;
        let path = Pointer::member(obj, "path")?;
        let value = || obj.get("value").cloned().ok_or(format!("\"{name}\" needs a \"value\" member"));
        Ok(match name {
            "add" => Operation::Add { path, value: value()? },
            "remove" => Operation::Remove { path },
            "replace" => Operation::Replace { path, value: value()? },
            "move" => Operation::Move { from: Pointer::member(obj, "from")?, path },
            "copy" => Operation::Copy { from: Pointer::member(obj, "from")?, path },
            "test" => Operation::Test { path, value: value()? },
            other => return Err(format!("unknown op {other:?}")),
        })
    }

    fn apply(self, doc: &mut Value) -> Result<(), PatchError> {
        match self {
            Operation::Add { path, value } => add(doc, &path, value),
            Operation::Remove { path } => remove(doc, &path).map(drop),
            Operation::Replace { path, value } => {
                let slot = get_mut(doc, &path).ok_or_else(|| missing("replace", &path))?;
                *slot = value;
                Ok(())
            }
            Operation::Move { from, path } => {
                if from == path {
                    return get_mut(doc, &from).map(drop).ok_or_else(|| missing("move", &from));
                }
                if path.tokens.starts_with(&from.tokens) {
                    return Err(PatchError::Invalid(format!(
                        "cannot move {} into its own child {}",
                        from.text, path.text
                    )));
                }
                let value = remove(doc, &from)?;
                add(doc, &path, value)
            }
            Operation::Copy { from, path } => {
                let value = get_mut(doc, &from).ok_or_else(|| missing("copy", &from))?.clone();
                add(doc, &path, value)
            }
            Operation::Test { path, value } => {
                // Missing paths read as null: kube's finalizer helper tests `/metadata/finalizers == null`
                // on objects that have no finalizers field at all.
                let actual = get_mut(doc, &path).map(|v| &*v).unwrap_or(&Value::Null);
                if json_equal(actual, &value) {
                    Ok(())
                } else {
                    Err(PatchError::TestFailed(format!(
                        "the value at {} is {} but the test expects {}",
                        display_path(&path),
                        actual,
                        value
                    )))
                }
            }
        }
    }
}

/// A parsed RFC 6901 JSON pointer.
#[derive(Debug, PartialEq)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    fn member(obj: &Map<String, Value>, name: &str) -> Result<Self, String> {
        let text = obj.get(name).and_then(Value::as_str).ok_or(format!("missing string member {name:?}"))?;
        Self::parse(text)
    }

    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Pointer { text: String::new(), tokens: Vec::new() });
        }
        let rest = text.strip_prefix('/').ok_or(format!("JSON pointer {text:?} must be empty or start with '/'"))?;
        let tokens = rest.split('/').map(unescape).collect::<Result<Vec<_>, _>>()?;
        Ok(Pointer { text: text.to_string(), tokens })
    }

    fn split_last(&self) -> Option<(&[String], &str)> {
        self.tokens.split_last().map(|(last, parent)| (parent, last.as_str()))
    }
}

fn unescape(token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return Err(format!("invalid escape in JSON pointer token {token:?}")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn display_path(p: &Pointer) -> &str {
    if p.text.is_empty() { "the document root" } else { &p.text }
}

fn missing(op: &str, p: &Pointer) -> PatchError {
    PatchError::Invalid(format!("{op}: the path {} does not exist", display_path(p)))
}

/// Parses an array index token: decimal without leading zeros (RFC 6901 section 4).
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn child_mut<'a>(value: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match value {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => index(token).and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

fn walk_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |cur, t| child_mut(cur, t))
}

fn get_mut<'a>(doc: &'a mut Value, path: &Pointer) -> Option<&'a mut Value> {
    walk_mut(doc, &path.tokens)
}

fn add(doc: &mut Value, path: &Pointer, value: Value) -> Result<(), PatchError> {
    let Some((parent, last)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let target = walk_mut(doc, parent)
        .ok_or_else(|| PatchError::Invalid(format!("add: the parent of {} does not exist", path.text)))?;
    match target {
        Value::Object(map) => {
            map.insert(last.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            let at = if last == "-" {
                items.len()
            } else {
                index(last).filter(|i| *i <= items.len()).ok_or_else(|| {
                    PatchError::Invalid(format!("add: index {last:?} is out of range in {}", path.text))
                })?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(PatchError::Invalid(format!("add: the parent of {} is neither an object nor an array", path.text))),
    }
}

fn remove(doc: &mut Value, path: &Pointer) -> Result<Value, PatchError> {
    let (parent, last) =
        path.split_last().ok_or_else(|| PatchError::Invalid("remove: cannot remove the document root".into()))?;
    let removed = match walk_mut(doc, parent) {
        Some(Value::Object(map)) => map.shift_remove(last),
        Some(Value::Array(items)) => index(last).filter(|i| *i < items.len()).map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| missing("remove", path))
}

/// JSON equality where numbers compare by value (`1` equals `1.0`), as RFC 6902 section 4.6 asks.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(target: Value, patch: Value) -> Value {
        json_patch(&target, &patch).unwrap()
    }

    #[test]
    fn add_member_and_array_element() {
        // RFC 6902 A.1 and A.2
        assert_eq!(
            ok(json!({"foo": "bar"}), json!([{"op": "add", "path": "/baz", "value": "qux"}])),
            json!({"foo": "bar", "baz": "qux"})
        );
        assert_eq!(
            ok(json!({"foo": ["bar", "baz"]}), json!([{"op": "add", "path": "/foo/1", "value": "qux"}])),
            json!({"foo": ["bar", "qux", "baz"]})
        );
        assert_eq!(
            ok(json!({"foo": [1]}), json!([{"op": "add", "path": "/foo/-", "value": 2}])),
            json!({"foo": [1, 2]})
        );
    }

    #[test]
    fn remove_and_replace() {
        // RFC 6902 A.3, A.4, A.5
        assert_eq!(
            ok(json!({"baz": "qux", "foo": "bar"}), json!([{"op": "remove", "path": "/baz"}])),
            json!({"foo": "bar"})
        );
        assert_eq!(
            ok(json!({"foo": ["bar", "qux", "baz"]}), json!([{"op": "remove", "path": "/foo/1"}])),
            json!({"foo": ["bar", "baz"]})
        );
        assert_eq!(
            ok(json!({"baz": "qux", "foo": "bar"}), json!([{"op": "replace", "path": "/baz", "value": "boo"}])),
            json!({"baz": "boo", "foo": "bar"})
        );
    }

    #[test]
    fn move_and_copy() {
        // RFC 6902 A.6, A.7
        let doc = json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}});
        assert_eq!(
            ok(doc, json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        );
        assert_eq!(
            ok(
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])
            ),
            json!({"foo": ["all", "cows", "eat", "grass"]})
        );
        assert_eq!(
            ok(json!({"a": {"b": 1}}), json!([{"op": "copy", "from": "/a", "path": "/c"}])),
            json!({"a": {"b": 1}, "c": {"b": 1}})
        );
    }

    #[test]
    fn move_into_own_child_is_invalid() {
        let err = json_patch(&json!({"a": {"b": 1}}), &json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]));
        assert!(matches!(err, Err(PatchError::Invalid(_))));
    }

    #[test]
    fn test_success_and_failure() {
        // RFC 6902 A.8 and A.9
        let doc = json!({"baz": "qux", "foo": ["a", 2, "c"]});
        assert_eq!(
            ok(
                doc.clone(),
                json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}])
            ),
            doc
        );
        let err = json_patch(&json!({"baz": "qux"}), &json!([{"op": "test", "path": "/baz", "value": "bar"}]));
        assert!(matches!(err, Err(PatchError::TestFailed(m)) if m.contains("/baz")));
    }

    #[test]
    fn test_compares_numbers_by_value() {
        ok(json!({"n": 1}), json!([{"op": "test", "path": "/n", "value": 1.0}]));
    }

    #[test]
    fn escaped_pointer_tokens() {
        // RFC 6902 A.14: "~1" is "/" and "~0" is "~"
        let doc = json!({"/": 9, "~1": 10});
        assert_eq!(
            ok(doc, json!([{"op": "test", "path": "/~01", "value": 10}, {"op": "add", "path": "/a~1b", "value": 1}])),
            json!({"/": 9, "~1": 10, "a/b": 1})
        );
    }

    #[test]
    fn missing_paths_are_invalid() {
        for op in [
            json!({"op": "remove", "path": "/nope"}),
            json!({"op": "replace", "path": "/nope", "value": 1}),
            json!({"op": "add", "path": "/a/b/c", "value": 1}),
            json!({"op": "add", "path": "/list/5", "value": 1}),
            json!({"op": "remove", "path": "/list/1"}),
            json!({"op": "copy", "from": "/nope", "path": "/x"}),
        ] {
            let err = json_patch(&json!({"list": [1]}), &json!([op.clone()]));
            assert!(matches!(err, Err(PatchError::Invalid(_))), "{op} gave {err:?}");
        }
    }

    #[test]
    fn malformed_documents() {
        for patch in [
            json!({"op": "add"}),
            json!([{"path": "/a"}]),
            json!([{"op": "add", "path": "/a"}]),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "remove", "path": "a"}]),
            json!([{"op": "move", "path": "/a"}]),
            json!([{"op": "test", "path": "/a~2"}]),
        ] {
            let err = json_patch(&json!({"a": 1}), &patch);
            assert!(matches!(err, Err(PatchError::Malformed(_))), "{patch} gave {err:?}");
        }
    }

    #[test]
    fn failure_leaves_no_partial_result() {
        let target = json!({"a": 1});
        let err =
            json_patch(&target, &json!([{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/z"}]));
        assert!(err.is_err());
        assert_eq!(target, json!({"a": 1}));
    }

    #[test]
    fn leading_zero_index_is_not_an_index() {
        let err = json_patch(&json!({"l": [1, 2]}), &json!([{"op": "remove", "path": "/l/01"}]));
        assert!(matches!(err, Err(PatchError::Invalid(_))));
    }

    // The three JSON patches kube-runtime's finalizer helper sends.

    #[test]
    fn finalizer_add_to_object_without_finalizers() {
        let obj = json!({"metadata": {"name": "c1"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["dbdeck.io/cleanup"]}
        ]);
        assert_eq!(ok(obj, patch), json!({"metadata": {"name": "c1", "finalizers": ["dbdeck.io/cleanup"]}}));
    }

    #[test]
    fn finalizer_null_test_fails_when_someone_added_one() {
        let obj = json!({"metadata": {"finalizers": ["other"]}});
        let patch = json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]);
        assert!(matches!(json_patch(&obj, &patch), Err(PatchError::TestFailed(_))));
    }

    #[test]
    fn finalizer_append_after_testing_whole_list() {
        let obj = json!({"metadata": {"finalizers": ["other"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "dbdeck.io/cleanup"}
        ]);
        assert_eq!(ok(obj, patch), json!({"metadata": {"finalizers": ["other", "dbdeck.io/cleanup"]}}));
        // A concurrent change to the list makes the test fail instead of clobbering it.
        let changed = json!({"metadata": {"finalizers": ["other", "third"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "dbdeck.io/cleanup"}
        ]);
        assert!(matches!(json_patch(&changed, &patch), Err(PatchError::TestFailed(_))));
    }

    #[test]
    fn finalizer_remove_by_index_after_test() {
        let obj = json!({"metadata": {"finalizers": ["other", "dbdeck.io/cleanup"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers/1", "value": "dbdeck.io/cleanup"},
            {"op": "remove", "path": "/metadata/finalizers/1"}
        ]);
        assert_eq!(ok(obj, patch), json!({"metadata": {"finalizers": ["other"]}}));
        // If the index now holds something else the test protects the other finalizer.
        let shifted = json!({"metadata": {"finalizers": ["dbdeck.io/cleanup"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers/1", "value": "dbdeck.io/cleanup"},
            {"op": "remove", "path": "/metadata/finalizers/1"}
        ]);
        assert!(matches!(json_patch(&shifted, &patch), Err(PatchError::TestFailed(_))));
    }
}
