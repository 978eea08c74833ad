//! CustomResourceDefinitions accepted at run time: the checks and the status a real apiserver writes
//! (`Established` and `NamesAccepted`, `acceptedNames`, `storedVersions`), which `kubectl wait` and
//! kube's `is_crd_established` poll.

use serde_json::{Value, json};

use super::store::{GroupResource, now_rfc3339, str_at};

pub fn is_crd(gr: &GroupResource) -> bool {
    gr.group == "apiextensions.k8s.io" && gr.resource == "customresourcedefinitions"
}

fn condition(kind: &str, reason: &str, message: &str, previous: &Value) -> Value {
    // Keep the transition time of a condition that was already True.
    let since = previous["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind && c["status"] == "True"))
        .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
        .unwrap_or_else(now_rfc3339);
    json!({"type": kind, "status": "True", "lastTransitionTime": since, "reason": reason, "message": message})
}

/// Checks the CRD and fills its status. Errors name the field at fault: `(field, message)`.
pub fn accept(crd: &mut Value) -> Result<(), (String, String)> {
    let group = str_at(crd, "/spec/group").to_string();
    let plural = str_at(crd, "/spec/names/plural").to_string();
    let kind = str_at(crd, "/spec/names/kind").to_string();
    let name = str_at(crd, "/metadata/name").to_string();
    if group.is_empty() {
        return Err(("spec.group".into(), "Required value".into()));
    }
    if plural.is_empty() {
        return Err(("spec.names.plural".into(), "Required value".into()));
    }
    if kind.is_empty() {
        return Err(("spec.names.kind".into(), "Required value".into()));
    }
    if name != format!("{plural}.{group}") {
        return Err((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let versions = crd["spec"]["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        return Err((
            "spec.versions".into(),
            "Required value: must have exactly one version marked as storage version".into(),
        ));
    }
    let storage: Vec<&Value> = versions.iter().filter(|v| v["storage"].as_bool() == Some(true)).collect();
    if storage.len() != 1 {
        return Err((
            "spec.versions".into(),
            "Invalid value: must have exactly one version marked as storage version".into(),
        ));
    }
    let scope = str_at(crd, "/spec/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        return Err((
            "spec.scope".into(),
            format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    let previous = crd["status"].clone();
    let mut stored: Vec<Value> = previous["storedVersions"].as_array().cloned().unwrap_or_default();
    let storage_name = storage[0]["name"].clone();
    if !stored.contains(&storage_name) {
        stored.push(storage_name);
    }
    let mut accepted = crd["spec"]["names"].clone();
    if accepted["singular"].is_null() {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted["listKind"].is_null() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    crd["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found", &previous),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted", &previous),
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_sets_conditions_and_rejects_bad_names() {
        let mut crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com",
            "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
        accept(&mut crd).unwrap();
        assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
        assert_eq!(crd["status"]["conditions"][1]["status"], "True");
        assert_eq!(crd["status"]["acceptedNames"]["listKind"], "WidgetList");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        crd["metadata"]["name"] = json!("wrong");
        assert_eq!(accept(&mut crd).unwrap_err().0, "metadata.name");
    }
}
