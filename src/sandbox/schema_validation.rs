//! Validation of custom resources against their CRD's structural schema, run after pruning and defaulting as the
//! apiextensions apiserver does: type and format, enum, numeric bounds, string length and pattern, item and property
//! counts, `required`, `nullable`, `additionalProperties`, int-or-string, embedded resources and the `allOf` /
//! `anyOf` / `oneOf` / `not` value validations. The errors carry upstream's field paths and wording
//! (`spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"`), so kube-rs and
//! kubectl users read the same 422 a real cluster gives.
//!
//! Not evaluated: `x-kubernetes-validations` (CEL) rules; a CRD carrying them is accepted and the rules are logged as
//! unchecked (dbdeck's own CRDs have none). Like upstream, `format` constrains strings only (`int32` is not a range
//! check on a real server either).

use serde_json::{Map, Value};

/// The kinds of field error the schema validation produces (upstream's `field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Required,
    NotSupported,
    TypeInvalid,
    Invalid,
    TooLong,
    TooMany,
}

impl ErrorKind {
    fn label(self) -> &'static str {
        match self {
            ErrorKind::Required => "Required value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::TypeInvalid | ErrorKind::Invalid => "Invalid value",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
        }
    }

    /// The `reason` of a Status cause.
    pub fn cause(self) -> &'static str {
        match self {
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
        }
    }
}

/// One violation: where, what kind, the offending value (as upstream shows it) and the detail sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub kind: ErrorKind,
    pub value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    fn new(field: &str, kind: ErrorKind, value: Option<Value>, detail: String) -> Self {
        FieldError { field: field.to_string(), kind, value, detail }
    }

    /// The message without the field (a Status cause's `message`).
    pub fn body(&self) -> String {
        let mut s = match (&self.value, self.kind) {
            (_, ErrorKind::Required | ErrorKind::TooLong) | (None, _) => self.kind.label().to_string(),
            (Some(v), _) => format!("{}: {}", self.kind.label(), shown(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// `field: body`, as in the Status message.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

/// A value as Go's `%q` / `%v` print it in field errors: strings quoted, numbers and booleans bare.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "\"null\"".to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Validates `obj` (already pruned and defaulted) against the CRD's `openAPIV3Schema`. Floats with an integral
/// value in integer fields are stored as integers, as a real server's JSON round trip does.
pub fn validate(obj: &mut Value, schema: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    node(obj, schema, "", &mut errs);
    errs
}

/// Drops the errors an update did not introduce: a value that is unchanged since the stored object may stay
/// invalid (upstream's validation ratcheting), so an object stored before a stricter schema can still get its
/// metadata or status written. `required` is not ratcheted, nor anything inside a list (items are not correlated).
pub fn ratchet(errs: Vec<FieldError>, old: &Value, new: &Value) -> Vec<FieldError> {
    errs.into_iter()
        .filter(|e| {
            if e.kind == ErrorKind::Required || e.field.contains('[') {
                return true;
            }
            match (lookup(old, &e.field), lookup(new, &e.field)) {
                (Some(a), Some(b)) => a != b,
                _ => true,
            }
        })
        .collect()
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

/// Whether the schema or any schema under it carries CEL rules (which the sandbox does not evaluate).
pub fn has_cel_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => {
            m.get("x-kubernetes-validations").and_then(Value::as_array).is_some_and(|r| !r.is_empty())
                || m.values().any(has_cel_rules)
        }
        Value::Array(items) => items.iter().any(has_cel_rules),
        _ => false,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn type_error(path: &str, expected: &str, actual: &str) -> FieldError {
    FieldError::new(
        path,
        ErrorKind::TypeInvalid,
        Some(Value::String(actual.to_string())),
        format!("{path} in body must be of type {expected}: {actual:?}"),
    )
}

fn invalid(path: &str, value: Value, detail: String) -> FieldError {
    FieldError::new(path, ErrorKind::Invalid, Some(value), detail)
}

/// JSON's integers: what a float64 holds exactly (|f| ≤ 2^53) with no fraction.
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_992.0;
    f.is_finite() && f.fract() == 0.0 && (-MAX..=MAX).contains(&f)
}

/// The JSON type and number format of a value, as Go's decoder into `interface{}` sees it (integers that do not
/// fit an int64 become float64).
fn data_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool) == Some(true)
}

/// Checks the type; false when the value has the wrong one (nothing else is checked then).
fn check_type(v: &mut Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) -> bool {
    let types: Vec<&str> = if flag(s, "x-kubernetes-int-or-string") {
        vec!["integer", "string"]
    } else {
        s.get("type").and_then(Value::as_str).into_iter().collect()
    };
    let format = s.get("format").and_then(Value::as_str).unwrap_or("");
    if types.is_empty() && format.is_empty() {
        return true;
    }
    let expected = types.join(",");
    if v.is_null() {
        if !types.is_empty() && !flag(s, "nullable") {
            errs.push(type_error(path, &expected, "null"));
            return false;
        }
        return true;
    }
    let (actual, actual_format) = data_type(v);
    let float_int = actual == "number" && num(v).is_some_and(is_json_integer) && types.contains(&"integer");
    let int_float = actual == "integer" && types.contains(&"number");
    let string_or_list = matches!(v, Value::String(_) | Value::Array(_));
    if !string_or_list
        && !format.is_empty()
        && !(types.contains(&actual) || actual_format == format || float_int || int_float)
    {
        errs.push(type_error(path, format, actual_format));
        return false;
    }
    let numeric = types.contains(&"number") || types.contains(&"integer");
    if !numeric && !format.is_empty() && string_or_list {
        return true;
    }
    if !types.is_empty() && !(types.contains(&actual) || float_int || int_float) {
        errs.push(type_error(path, &expected, actual));
        return false;
    }
    if float_int && !types.contains(&"number") {
        if let Some(i) = num(v) {
            *v = Value::from(i as i64);
        }
    }
    true
}

fn node(v: &mut Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if !s.is_object() || !check_type(v, s, path, errs) || v.is_null() {
        return;
    }
    match v {
        Value::String(text) => string(text, s, path, errs),
        Value::Number(_) => number(v, s, path, errs),
        Value::Array(items) => array(items, s, path, errs),
        Value::Object(map) => object(map, s, path, errs),
        _ => {}
    }
    check_enum(v, s, path, errs);
    combinators(v, s, path, errs);
}

fn string(text: &str, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let chars = text.chars().count() as u64;
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        errs.push(FieldError::new(
            path,
            ErrorKind::TooLong,
            Some(Value::String(text.into())),
            format!("may not be more than {max} {unit}"),
        ));
    }
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        errs.push(invalid(
            path,
            Value::String(text.into()),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(text) => {
                errs.push(invalid(path, Value::String(text.into()), format!("{path} in body should match '{pattern}'")))
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%path, %pattern, error = %e, "CRD pattern not understood; not checked"),
        }
    }
    let format = s.get("format").and_then(Value::as_str).unwrap_or("");
    if !format_ok(format, text) {
        errs.push(type_error(path, format, text));
    }
}

/// The string formats a real server checks (of those CRDs use); others pass.
fn format_ok(format: &str, text: &str) -> bool {
    use base64::Engine as _;
    match format {
        "date-time" => {
            chrono::DateTime::parse_from_rfc3339(text).is_ok()
                || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        }
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        "byte" => base64::engine::general_purpose::STANDARD.decode(text).is_ok(),
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        _ => true,
    }
}

fn bound(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

fn shown_bound(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { f.to_string() }
}

fn number(v: &Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(x) = num(v) else { return };
    if let Some(max) = bound(s, "maximum") {
        let exclusive = flag(s, "exclusiveMaximum");
        if x > max || (exclusive && x == max) {
            let how = if exclusive { "less than" } else { "less than or equal to" };
            errs.push(invalid(path, v.clone(), format!("{path} in body should be {how} {}", shown_bound(max))));
        }
    }
    if let Some(min) = bound(s, "minimum") {
        let exclusive = flag(s, "exclusiveMinimum");
        if x < min || (exclusive && x == min) {
            let how = if exclusive { "greater than" } else { "greater than or equal to" };
            errs.push(invalid(path, v.clone(), format!("{path} in body should be {how} {}", shown_bound(min))));
        }
    }
    if let Some(m) = bound(s, "multipleOf").filter(|m| *m > 0.0) {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 {
            errs.push(invalid(path, v.clone(), format!("{path} in body should be a multiple of {}", shown_bound(m))));
        }
    }
}

fn array(items: &mut [Value], s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(item_schema) = s.get("items").filter(|i| i.is_object()) {
        for (i, item) in items.iter_mut().enumerate() {
            node(item, item_schema, &format!("{path}[{i}]"), errs);
        }
    }
    let n = items.len() as u64;
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && n < min
    {
        errs.push(invalid(path, Value::from(n), format!("{path} in body should have at least {min} items")));
    }
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && n > max
    {
        let unit = if max == 1 { "item" } else { "items" };
        errs.push(FieldError::new(
            path,
            ErrorKind::TooMany,
            Some(Value::from(n)),
            format!("must have at most {max} {unit}"),
        ));
    }
    if flag(s, "uniqueItems") && items.iter().enumerate().any(|(i, a)| items[..i].contains(a)) {
        errs.push(invalid(path, Value::String(String::new()), format!("{path} in body shouldn't contain duplicates")));
    }
}

fn object(map: &mut Map<String, Value>, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let n = map.len() as u64;
    if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
        && n < min
    {
        errs.push(invalid(path, Value::from(n), format!("{path} in body should have at least {min} properties")));
    }
    if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
        && n > max
    {
        let unit = if max == 1 { "item" } else { "items" };
        errs.push(FieldError::new(
            path,
            ErrorKind::TooMany,
            Some(Value::from(n)),
            format!("must have at most {max} {unit}"),
        ));
    }
    let props = s.get("properties").and_then(Value::as_object);
    let root_or_embedded = path.is_empty() || flag(s, "x-kubernetes-embedded-resource");
    match s.get("additionalProperties") {
        Some(Value::Bool(false)) => {
            for key in map.keys() {
                let declared = props.is_some_and(|p| p.contains_key(key));
                let meta = root_or_embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata");
                if !declared && !meta {
                    errs.push(invalid(
                        path,
                        Value::String(key.clone()),
                        format!("{path}.{key} in body is a forbidden property"),
                    ));
                }
            }
        }
        Some(add @ Value::Object(_)) => {
            for (key, value) in map.iter_mut() {
                if props.is_none_or(|p| !p.contains_key(key)) {
                    node(value, add, &child(path, key), errs);
                }
            }
        }
        _ => {}
    }
    if let Some(props) = props {
        for (key, prop) in props {
            if let Some(value) = map.get_mut(key) {
                node(value, prop, &child(path, key), errs);
            }
        }
    }
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                errs.push(FieldError::new(&child(path, key), ErrorKind::Required, None, String::new()));
            }
        }
    }
    if !path.is_empty() && flag(s, "x-kubernetes-embedded-resource") {
        for key in ["apiVersion", "kind"] {
            if map.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                errs.push(FieldError::new(&child(path, key), ErrorKind::Required, None, "must not be empty".into()));
            }
        }
    }
}

/// Equality of JSON values with numbers compared by value (`3` equals `3.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

fn check_enum(v: &Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(allowed) = s.get("enum").and_then(Value::as_array).filter(|a| !a.is_empty()) else { return };
    if allowed.iter().any(|e| same(e, v)) {
        return;
    }
    let values: Vec<String> = allowed
        .iter()
        .map(|e| match e {
            Value::String(s) => format!("{s:?}"),
            other => format!("{:?}", other.to_string()),
        })
        .collect();
    errs.push(FieldError::new(
        path,
        ErrorKind::NotSupported,
        Some(v.clone()),
        format!("supported values: {}", values.join(", ")),
    ));
}

/// `allOf`, `anyOf`, `oneOf` and `not`: value validations over the same value (structural schemas allow no types
/// or properties under them that the node itself does not declare).
fn combinators(v: &mut Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let check = |sub: &Value, v: &Value| {
        let mut copy = v.clone();
        let mut e = Vec::new();
        node(&mut copy, sub, path, &mut e);
        e
    };
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            errs.extend(check(sub, v));
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let results: Vec<Vec<FieldError>> = any.iter().map(|sub| check(sub, v)).collect();
        if results.iter().all(|e| !e.is_empty()) {
            errs.push(invalid(path, v.clone(), format!("{path} in body must validate at least one schema (anyOf)")));
            errs.extend(results.into_iter().flatten());
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let results: Vec<Vec<FieldError>> = one.iter().map(|sub| check(sub, v)).collect();
        let passing = results.iter().filter(|e| e.is_empty()).count();
        if passing != 1 {
            errs.push(invalid(
                path,
                v.clone(),
                format!("{path} in body must validate one and only one schema (oneOf)"),
            ));
            if passing == 0 {
                errs.extend(results.into_iter().flatten());
            }
        }
    }
    if let Some(not) = s.get("not").filter(|n| n.is_object())
        && check(not, v).is_empty()
    {
        errs.push(invalid(path, v.clone(), format!("{path} in body should not validate the schema (not)")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["spec"], "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer", "format": "int32", "nullable": true},
                "count": {"type": "integer", "minimum": 1, "maximum": 5},
                "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": true},
                "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "when": {"type": "string", "format": "date-time"},
                "on": {"type": "boolean"},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "x-kubernetes-preserve-unknown-fields": true},
                "pick": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                         "required": ["a"]}
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}
        }})
    }

    fn errors(spec: Value) -> Vec<String> {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "spec": spec});
        validate(&mut obj, &schema()).iter().map(FieldError::message).collect()
    }

    #[test]
    fn wrong_types_are_named_with_upstream_wording() {
        assert_eq!(
            errors(json!({"count": "three"})),
            [r#"spec.count: Invalid value: "string": spec.count in body must be of type integer: "string""#]
        );
        // With a format, a float is measured against the format, as kube-openapi does.
        assert_eq!(
            errors(json!({"size": 3.5})),
            [r#"spec.size: Invalid value: "float64": spec.size in body must be of type int32: "float64""#]
        );
        assert_eq!(
            errors(json!({"count": [1]})),
            [r#"spec.count: Invalid value: "array": spec.count in body must be of type integer: "array""#]
        );
        assert_eq!(
            errors(json!({"mode": {"a": 1}})),
            [r#"spec.mode: Invalid value: "object": spec.mode in body must be of type string: "object""#]
        );
        assert_eq!(
            errors(json!({"port": true})),
            [r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#]
        );
        assert_eq!(
            errors(json!({"tags": ["a", 1]})),
            [r#"spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer""#]
        );
        assert_eq!(
            errors(json!({"labels": {"a": 1}})),
            [r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#]
        );
        assert_eq!(
            errors(json!({"tags": [null]})),
            [r#"spec.tags[0]: Invalid value: "null": spec.tags[0] in body must be of type string: "null""#]
        );
        // Too big for an int64 is a float64, and not an integer one.
        let huge: Value = serde_json::from_str("{\"count\": 100000000000000000000}").unwrap();
        assert_eq!(
            errors(huge),
            [r#"spec.count: Invalid value: "number": spec.count in body must be of type integer: "number""#]
        );
    }

    #[test]
    fn integral_floats_pass_integer_fields_and_are_stored_as_integers() {
        let mut obj = json!({"spec": {"size": 3.0, "count": 2.0, "ratio": 2.0}});
        assert!(validate(&mut obj, &schema()).is_empty());
        assert!(obj["spec"]["size"].is_i64());
        assert!(obj["spec"]["count"].is_i64());
        assert!(obj["spec"]["ratio"].is_f64(), "a number field keeps its float");
    }

    #[test]
    fn bounds_enums_lengths_patterns_and_counts() {
        assert_eq!(
            errors(json!({"count": 0})),
            ["spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1"]
        );
        assert_eq!(
            errors(json!({"count": 6})),
            ["spec.count: Invalid value: 6: spec.count in body should be less than or equal to 5"]
        );
        assert_eq!(
            errors(json!({"ratio": 0})),
            ["spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"]
        );
        assert_eq!(
            errors(json!({"mode": "turbo"})),
            [r#"spec.mode: Unsupported value: "turbo": supported values: "fast", "safe""#]
        );
        assert_eq!(errors(json!({"name": "abcdef"})), ["spec.name: Too long: may not be more than 5 bytes"]);
        assert_eq!(
            errors(json!({"name": ""})),
            [
                r#"spec.name: Invalid value: "": spec.name in body should be at least 1 chars long"#,
                r#"spec.name: Invalid value: "": spec.name in body should match '^[a-z]+$'"#
            ]
        );
        assert_eq!(
            errors(json!({"tags": []})),
            ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"]
        );
        assert_eq!(errors(json!({"tags": ["a", "b", "c"]})), ["spec.tags: Too many: 3: must have at most 2 items"]);
        assert_eq!(
            errors(json!({"when": "yesterday"})),
            [r#"spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#]
        );
        assert!(errors(json!({"when": "2026-01-02T03:04:05Z", "port": "80%", "name": "ok"})).is_empty());
    }

    #[test]
    fn required_nullable_and_embedded_resources() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}});
        let errs = validate(&mut obj, &schema());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].message(), "spec: Required value");
        assert_eq!(errs[0].kind.cause(), "FieldValueRequired");
        assert!(errors(json!({"size": null})).is_empty(), "nullable");
        assert_eq!(errors(json!({"pick": {"b": "x"}})), ["spec.pick.a: Required value"]);
        assert_eq!(
            errors(json!({"template": {"spec": {}}})),
            [
                "spec.template.apiVersion: Required value: must not be empty",
                "spec.template.kind: Required value: must not be empty"
            ]
        );
        assert!(errors(json!({"template": {"apiVersion": "v1", "kind": "Pod", "anything": 1}})).is_empty());
    }

    #[test]
    fn combinators_and_forbidden_properties() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": false,
            "properties": {
                "a": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
                "b": {"type": "integer", "not": {"enum": [13]}}}}}});
        let mut ok = json!({"spec": {"a": "x", "b": 1}});
        assert!(validate(&mut ok, &s).is_empty());
        let mut bad = json!({"spec": {"b": 13, "c": 1}});
        let msgs: Vec<String> = validate(&mut bad, &s).iter().map(FieldError::message).collect();
        assert_eq!(
            msgs,
            [
                r#"spec: Invalid value: "c": spec.c in body is a forbidden property"#,
                "spec.b: Invalid value: 13: spec.b in body should not validate the schema (not)"
            ]
        );
    }

    #[test]
    fn ratcheting_keeps_unchanged_invalid_values_but_not_new_ones() {
        let old = json!({"spec": {"count": "three"}, "metadata": {"labels": {}}});
        let mut new = json!({"spec": {"count": "three"}, "metadata": {"labels": {"a": "b"}}});
        let errs = validate(&mut new, &schema());
        assert_eq!(errs.len(), 1);
        assert!(ratchet(errs, &old, &new).is_empty());
        let mut changed = json!({"spec": {"count": "four"}});
        let errs = validate(&mut changed, &schema());
        assert_eq!(ratchet(errs, &old, &changed).len(), 1);
    }

    #[test]
    fn finds_cel_rules() {
        assert!(!has_cel_rules(&schema()));
        assert!(has_cel_rules(&json!({"properties": {"a": {"x-kubernetes-validations": [{"rule": "self > 1"}]}}})));
    }
}
