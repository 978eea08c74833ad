//! Layout comparison against expectations restated from Percona's e2e files: every field the
//! expectation writes must be in our object with the same value; lists match item for item.
//!
//! Use from a test file with `#[path = "support/layout.rs"] mod layout;`.
#![allow(dead_code)]

use serde_json::Value;

pub fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).expect("YAML maps to JSON"))
        .collect()
}

/// Every field of `want` must be in `got` with the same value; lists must match element for element.
pub fn compare(want: &Value, got: &Value, path: &str, diffs: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => compare(wv, gv, &p, diffs),
                    None => diffs.push(format!("{p}: missing, want {}", short(wv))),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                let names = |a: &[Value]| {
                    a.iter().map(|v| v.get("name").map(short).unwrap_or_else(|| short(v))).collect::<Vec<_>>()
                };
                diffs.push(format!(
                    "{path}: {} items, want {}\n    got:  {:?}\n    want: {:?}",
                    g.len(),
                    w.len(),
                    names(g),
                    names(w)
                ));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                let label =
                    wv.get("name").and_then(Value::as_str).map(|n| format!("[{i}:{n}]")).unwrap_or(format!("[{i}]"));
                compare(wv, gv, &format!("{path}{label}"), diffs);
            }
        }
        (w, g) if w == g => {}
        (w, g) => diffs.push(format!("{path}: got {}, want {}", short(g), short(w))),
    }
}

pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 { format!("{}…", &s[..160]) } else { s }
}
