//! Label selectors (`matchLabels`/`matchExpressions`) and node selector requirements, shared by the
//! scheduler, the StatefulSet controller, PDBs and Services.

use serde_json::{Map, Value};

/// The labels of an object (`metadata.labels`), empty when absent.
pub fn labels_of(obj: &Value) -> Map<String, Value> {
    obj.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn label<'a>(labels: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    labels.get(key).and_then(Value::as_str)
}

fn string_values(req: &Value) -> Vec<&str> {
    req.get("values")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether a `metav1.LabelSelector` matches the labels. A missing (`null`) selector matches nothing,
/// an empty one (`{}`) matches everything, as in upstream `LabelSelectorAsSelector`.
pub fn selector_matches(selector: Option<&Value>, labels: &Map<String, Value>) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return false;
    };
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if label(labels, k) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for req in exprs {
            let key = req.get("key").and_then(Value::as_str).unwrap_or("");
            let op = req.get("operator").and_then(Value::as_str).unwrap_or("");
            let have = label(labels, key);
            let values = string_values(req);
            let ok = match op {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether one `NodeSelectorRequirement` holds for a label value (`None` when the label is absent).
/// `Gt`/`Lt` compare integers; a non-integer label or value never matches.
pub fn node_requirement_matches(req: &Value, have: Option<&str>) -> bool {
    let op = req.get("operator").and_then(Value::as_str).unwrap_or("");
    let values = string_values(req);
    match op {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => have.is_none_or(|h| !values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), [v]) = (have, values.as_slice()) else {
                return false;
            };
            match (h.parse::<i64>(), v.parse::<i64>()) {
                (Ok(h), Ok(v)) if op == "Gt" => h > v,
                (Ok(h), Ok(v)) => h < v,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a `NodeSelectorTerm` matches a node: all its `matchExpressions` (on labels) and `matchFields`
/// (only `metadata.name` exists) hold. A term with neither matches nothing, as upstream.
pub fn node_selector_term_matches(term: &Value, node: &Value) -> bool {
    let exprs = term.get("matchExpressions").and_then(Value::as_array);
    let fields = term.get("matchFields").and_then(Value::as_array);
    if exprs.is_none_or(|e| e.is_empty()) && fields.is_none_or(|f| f.is_empty()) {
        return false;
    }
    let labels = labels_of(node);
    let name = super::name_of(node);
    exprs.into_iter().flatten().all(|req| {
        let key = req.get("key").and_then(Value::as_str).unwrap_or("");
        node_requirement_matches(req, label(&labels, key))
    }) && fields.into_iter().flatten().all(|req| {
        let key = req.get("key").and_then(Value::as_str).unwrap_or("");
        key == "metadata.name" && node_requirement_matches(req, Some(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn null_selector_matches_nothing_empty_matches_all() {
        let l = labels(json!({"app": "x"}));
        assert!(!selector_matches(None, &l));
        assert!(!selector_matches(Some(&Value::Null), &l));
        assert!(selector_matches(Some(&json!({})), &l));
    }

    #[test]
    fn match_labels_and_expressions() {
        let l = labels(json!({"app": "db", "tier": "primary"}));
        let sel = json!({"matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["primary", "replica"]},
                                 {"key": "zone", "operator": "DoesNotExist"}]});
        assert!(selector_matches(Some(&sel), &l));
        let sel = json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["primary"]}]});
        assert!(!selector_matches(Some(&sel), &l));
        let sel = json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]});
        assert!(selector_matches(Some(&sel), &l));
    }

    #[test]
    fn node_requirements() {
        let gt = json!({"key": "cores", "operator": "Gt", "values": ["4"]});
        assert!(node_requirement_matches(&gt, Some("8")));
        assert!(!node_requirement_matches(&gt, Some("4")));
        assert!(!node_requirement_matches(&gt, Some("eight")));
        assert!(!node_requirement_matches(&gt, None));
        let lt = json!({"key": "cores", "operator": "Lt", "values": ["4"]});
        assert!(node_requirement_matches(&lt, Some("2")));
        let notin = json!({"key": "zone", "operator": "NotIn", "values": ["a"]});
        assert!(node_requirement_matches(&notin, None));
        assert!(!node_requirement_matches(&notin, Some("a")));
    }

    #[test]
    fn node_term_match_fields() {
        let node = json!({"metadata": {"name": "n1", "labels": {"disk": "ssd"}}});
        let term = json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                          "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]});
        assert!(node_selector_term_matches(&term, &node));
        let term = json!({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]});
        assert!(!node_selector_term_matches(&term, &node));
        assert!(!node_selector_term_matches(&json!({}), &node));
    }
}
