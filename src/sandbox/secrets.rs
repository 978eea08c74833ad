//! core/v1 Secret's write-only `stringData`. A real API server merges it into `data` (base64, `stringData`
//! winning on a shared key) while converting the request, so it is never stored or returned. Doing the same on
//! every write keeps readers of `data` — the engine, `kubectl get -o yaml` — seeing what a `stringData` manifest
//! such as Percona's `deploy/secrets.yaml` meant.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// Moves `stringData` into `data`; a non-string value is refused with the field it sits in.
pub(crate) fn fold_string_data(obj: &mut Value) -> Result<(), (String, String)> {
    let Some(map) = obj.as_object_mut() else { return Ok(()) };
    let Some(string_data) = map.remove("stringData") else { return Ok(()) };
    let entries = match string_data {
        Value::Null => return Ok(()),
        Value::Object(entries) => entries,
        _ => return Err(("stringData".into(), "Invalid value: must be a map of strings".into())),
    };
    if !map.get("data").is_some_and(Value::is_object) {
        map.insert("data".into(), Value::Object(Map::new()));
    }
    let Some(data) = map.get_mut("data").and_then(Value::as_object_mut) else { return Ok(()) };
    for (key, value) in entries {
        let Value::String(text) = value else {
            return Err((format!("stringData[{key}]"), "Invalid value: must be a string".into()));
        };
        data.insert(key, Value::String(STANDARD.encode(text.as_bytes())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_is_encoded_into_data_and_wins_on_a_shared_key() {
        let mut s =
            json!({"kind": "Secret", "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "hello", "c": ""}});
        fold_string_data(&mut s).unwrap();
        assert_eq!(s, json!({"kind": "Secret", "data": {"a": "eA==", "b": "aGVsbG8=", "c": ""}}));
    }

    #[test]
    fn a_secret_without_string_data_is_untouched_and_bad_values_name_their_key() {
        let mut s = json!({"kind": "Secret", "data": {"a": "eA=="}});
        fold_string_data(&mut s).unwrap();
        assert_eq!(s, json!({"kind": "Secret", "data": {"a": "eA=="}}));
        let mut bad = json!({"kind": "Secret", "stringData": {"port": 3306}});
        assert_eq!(fold_string_data(&mut bad).unwrap_err().0, "stringData[port]");
    }
}
