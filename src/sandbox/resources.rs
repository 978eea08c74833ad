//! The resource types the sandbox serves: built-in kinds and those registered by CRDs at run time.

use serde_json::Value;

/// How the `/scale` subresource maps onto an object (from a CRD, or fixed for built-in kinds).
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleSubresource {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// One served resource (one group/version/plural).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// `/status` is a separate subresource (writes to the main resource ignore `.status`).
    pub status_subresource: bool,
    pub scale_subresource: Option<ScaleSubresource>,
    /// DELETE answers with the object (Pods, ServiceAccounts, ...) rather than a Status.
    pub delete_returns_object: bool,
    /// OpenAPI v3 schema of the kind, when known (CRDs carry theirs).
    pub schema: Option<Value>,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

fn builtin_type(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: vec![],
        namespaced,
        verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        status_subresource: false,
        scale_subresource: None,
        delete_returns_object: false,
        schema: None,
    }
}

/// The built-in kinds the engine and the console need.
pub fn builtin() -> Vec<ResourceType> {
    vec![
        builtin_type("", "v1", "Namespace", "namespaces", false, &["ns"]),
        builtin_type("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
        builtin_type("", "v1", "Secret", "secrets", true, &[]),
        builtin_type(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
        ),
    ]
}

/// The resource types a CustomResourceDefinition serves (one per served version).
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    let kind = s(&names["kind"]);
    let mut out = Vec::new();
    for ver in spec["versions"].as_array().into_iter().flatten() {
        if ver["served"].as_bool() == Some(false) {
            continue;
        }
        let sub = &ver["subresources"];
        out.push(ResourceType {
            group: s(&spec["group"]),
            version: s(&ver["name"]),
            kind: kind.clone(),
            list_kind: names["listKind"].as_str().map(str::to_string).unwrap_or_else(|| format!("{kind}List")),
            plural: s(&names["plural"]),
            singular: names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_lowercase()),
            short_names: list(&names["shortNames"]),
            categories: list(&names["categories"]),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            verbs: builtin_type("", "", "", "", true, &[]).verbs,
            status_subresource: sub.get("status").is_some(),
            scale_subresource: sub.get("scale").map(|sc| ScaleSubresource {
                spec_replicas_path: s(&sc["specReplicasPath"]),
                status_replicas_path: s(&sc["statusReplicasPath"]),
                label_selector_path: sc["labelSelectorPath"].as_str().map(str::to_string),
            }),
            delete_returns_object: false,
            schema: ver.pointer("/schema/openAPIV3Schema").cloned(),
        });
    }
    out
}
