//! The nine CRDs `dbdeck crd` prints: names, subresources, printer columns, and structural schemas.

use serde_json::Value;

fn crds() -> Vec<Value> {
    dbdeck::api::crds().into_iter().map(|c| serde_json::to_value(c).unwrap()).collect()
}

/// Kubernetes rejects CRD schemas that are not structural: every node needs a `type` unless it is marked
/// `x-kubernetes-preserve-unknown-fields` or `x-kubernetes-int-or-string`; no `$ref`; `anyOf`/`oneOf`/`allOf`
/// only inside a node that has a type; `additionalProperties` and `properties` never together.
fn structural_problems(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        out.push(format!("{path}: schema node is not an object"));
        return;
    };
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if obj.contains_key("$ref") {
        out.push(format!("{path}: $ref is not allowed"));
    }
    if !obj.contains_key("type") && !preserve && !int_or_string {
        out.push(format!("{path}: no type"));
    }
    if obj.get("type").is_some_and(|t| !t.is_string()) {
        out.push(format!("{path}: type is not a single string"));
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        out.push(format!("{path}: properties and additionalProperties together"));
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(true)) {
        out.push(format!("{path}: additionalProperties: true (use x-kubernetes-preserve-unknown-fields)"));
    }
    if obj.get("type").and_then(Value::as_str) == Some("object")
        && !obj.contains_key("properties")
        && !obj.contains_key("additionalProperties")
        && !preserve
    {
        out.push(format!("{path}: object with no properties and no x-kubernetes-preserve-unknown-fields"));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if obj.contains_key(key) && !obj.contains_key("type") && !int_or_string {
            out.push(format!("{path}: {key} without a type"));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            structural_problems(v, &format!("{path}.{k}"), out);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_problems(items, &format!("{path}[]"), out);
    }
    if let Some(ap) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        structural_problems(ap, &format!("{path}{{}}"), out);
    }
}

#[test]
fn nine_crds_with_percona_names() {
    let names: Vec<String> = crds().iter().map(|c| c["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        names,
        [
            "perconaxtradbclusters.pxc.percona.com",
            "perconaxtradbclusterbackups.pxc.percona.com",
            "perconaxtradbclusterrestores.pxc.percona.com",
            "perconaservermysqls.ps.percona.com",
            "perconaservermysqlbackups.ps.percona.com",
            "perconaservermysqlrestores.ps.percona.com",
            "perconapgclusters.pgv2.percona.com",
            "perconapgbackups.pgv2.percona.com",
            "perconapgrestores.pgv2.percona.com",
        ]
    );
}

#[test]
fn short_names_match_percona() {
    let short = |i: usize| -> Vec<String> {
        crds()[i]["spec"]["names"]["shortNames"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    assert!(short(0).contains(&"pxc".to_string()));
    assert!(short(1).contains(&"pxc-backup".to_string()));
    assert!(short(2).contains(&"pxc-restore".to_string()));
    assert!(short(3).contains(&"ps".to_string()));
    assert!(short(4).contains(&"ps-backup".to_string()));
    assert!(short(5).contains(&"ps-restore".to_string()));
    assert!(short(6).contains(&"pg".to_string()));
    assert!(short(7).contains(&"pg-backup".to_string()));
    assert!(short(8).contains(&"pg-restore".to_string()));
}

#[test]
fn every_kind_has_status_and_printer_columns_and_pxc_scales() {
    for crd in crds() {
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        for v in crd["spec"]["versions"].as_array().unwrap() {
            assert!(v["subresources"]["status"].is_object(), "{name}: no status subresource");
            let cols = v["additionalPrinterColumns"].as_array().map(|a| a.len()).unwrap_or(0);
            assert!(cols >= 1, "{name}: no printer columns");
        }
    }
    let pxc = &crds()[0]["spec"]["versions"][0]["subresources"]["scale"];
    assert_eq!(pxc["specReplicasPath"], ".spec.pxc.size");
    assert_eq!(pxc["statusReplicasPath"], ".status.pxc.size");
    assert_eq!(pxc["labelSelectorPath"], ".status.pxc.labelSelectorPath");
}

#[test]
fn every_schema_is_structural() {
    let mut problems = Vec::new();
    for crd in crds() {
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        for v in crd["spec"]["versions"].as_array().unwrap() {
            let schema = &v["schema"]["openAPIV3Schema"];
            structural_problems(schema, &name, &mut problems);
        }
    }
    assert!(problems.is_empty(), "non-structural schema nodes:\n{}", problems.join("\n"));
}

#[test]
fn the_structural_check_catches_bad_schemas() {
    let mut p = Vec::new();
    structural_problems(&serde_json::json!({"type": "object", "properties": {"a": {}}}), "x", &mut p);
    assert_eq!(p, ["x.a: no type"]);
    p.clear();
    structural_problems(&serde_json::json!({"type": "object"}), "y", &mut p);
    assert_eq!(p.len(), 1);
    p.clear();
    structural_problems(&serde_json::json!({"$ref": "#/x"}), "z", &mut p);
    assert_eq!(p.len(), 2);
}

#[test]
fn crd_output_snapshot() {
    let yaml = dbdeck::cmd::crd::crds_yaml().unwrap();
    insta::assert_snapshot!("dbdeck_crd", yaml);
}
