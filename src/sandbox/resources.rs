//! The resource types the sandbox serves: built-in kinds and those registered by CRDs at run time.
//!
//! The built-in table mirrors what a Kubernetes 1.33 API server reports in discovery (`kubectl api-resources -o wide`):
//! group, version, plural, kind, short names, scope, verbs and categories.

use serde_json::Value;

/// How the `/scale` subresource maps onto an object (from a CRD, or fixed for built-in kinds).
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleSubresource {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    /// For CRDs: where the serialised selector string lives (`labelSelectorPath`). For the built-in workloads this
    /// is `.spec.selector`, a `LabelSelector` object; [`scale_selector`] turns either form into the string that
    /// `Scale.status.selector` carries.
    pub label_selector_path: Option<String>,
}

/// One extra column of a CRD's table view (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    /// A simple JSONPath such as `.status.state`, evaluated against each object.
    pub json_path: String,
    /// 0 is shown by default; higher only with `-o wide`.
    pub priority: i32,
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
    /// Extra table columns (CRDs' `additionalPrinterColumns`; empty for built-in kinds).
    pub printer_columns: Vec<PrinterColumn>,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The URL prefix of the group/version: `/api/v1` or `/apis/{group}/{version}`.
    pub fn api_prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// Whether `name` is one kubectl would accept for this type: plural, singular, a short name or the kind
    /// (case-insensitive), optionally qualified with the group (`pxc.pxc.percona.com`, `deployments.apps`).
    pub fn answers_to(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let (base, group) = match name.split_once('.') {
            Some((b, g)) => (b.to_string(), Some(g.to_string())),
            None => (name, None),
        };
        if let Some(g) = group
            && g != self.group
            && g != format!("{}.{}", self.version, self.group)
        {
            return false;
        }
        base == self.plural
            || base == self.singular
            || base == self.kind.to_ascii_lowercase()
            || self.short_names.contains(&base)
    }
}

const ALL_VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// The scale subresource of the built-in workload kinds. Upstream derives `Scale.status.selector` from the
/// workload's `.spec.selector` (not from status), so that is the path recorded here.
fn workload_scale() -> ScaleSubresource {
    ScaleSubresource {
        spec_replicas_path: ".spec.replicas".into(),
        status_replicas_path: ".status.replicas".into(),
        label_selector_path: Some(".spec.selector".into()),
    }
}

/// One row of the built-in table.
struct Builtin {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all_category: bool,
    status: bool,
    scale: bool,
    returns_object: bool,
    /// Verbs differ from the full set for a few kinds (namespaces have no `deletecollection`).
    no_delete_collection: bool,
}

const fn b(group: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> Builtin {
    Builtin {
        group,
        kind,
        plural,
        namespaced,
        short: &[],
        all_category: false,
        status: false,
        scale: false,
        returns_object: false,
        no_delete_collection: false,
    }
}

impl Builtin {
    const fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short = s;
        self
    }
    const fn all(mut self) -> Self {
        self.all_category = true;
        self
    }
    const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    const fn returns_object(mut self) -> Self {
        self.returns_object = true;
        self
    }
    const fn no_delete_collection(mut self) -> Self {
        self.no_delete_collection = true;
        self
    }

    fn into_type(self) -> ResourceType {
        let verbs = ALL_VERBS
            .iter()
            .filter(|v| !(self.no_delete_collection && **v == "deletecollection"))
            .map(|v| v.to_string())
            .collect();
        ResourceType {
            group: self.group.into(),
            version: "v1".into(),
            kind: self.kind.into(),
            list_kind: format!("{}List", self.kind),
            plural: self.plural.into(),
            singular: self.kind.to_ascii_lowercase(),
            short_names: self.short.iter().map(|s| s.to_string()).collect(),
            categories: if self.all_category { vec!["all".into()] } else { vec![] },
            namespaced: self.namespaced,
            verbs,
            status_subresource: self.status,
            scale_subresource: self.scale.then(workload_scale),
            delete_returns_object: self.returns_object,
            schema: None,
            printer_columns: vec![],
        }
    }
}

/// The built-in kinds the engine and the console need, core group first, in the order a 1.33 server lists them.
///
/// `delete_returns_object` follows the upstream stores with `ReturnDeletedObject` (pods, services, service accounts,
/// persistent volumes and claims, storage classes) plus namespaces and CRDs, whose delete answers with the object
/// because it is only marked for deletion.
pub fn builtin() -> Vec<ResourceType> {
    const CORE: &str = "";
    const APPS: &str = "apps";
    const BATCH: &str = "batch";
    const RBAC: &str = "rbac.authorization.k8s.io";
    let rows = [
        b(CORE, "ConfigMap", "configmaps", true).short(&["cm"]),
        b(CORE, "Endpoints", "endpoints", true).short(&["ep"]),
        b(CORE, "Event", "events", true).short(&["ev"]),
        b(CORE, "Namespace", "namespaces", false).short(&["ns"]).status().returns_object().no_delete_collection(),
        b(CORE, "Node", "nodes", false).short(&["no"]).status(),
        b(CORE, "PersistentVolumeClaim", "persistentvolumeclaims", true).short(&["pvc"]).status().returns_object(),
        b(CORE, "PersistentVolume", "persistentvolumes", false).short(&["pv"]).status().returns_object(),
        b(CORE, "Pod", "pods", true).short(&["po"]).all().status().returns_object(),
        b(CORE, "Secret", "secrets", true),
        b(CORE, "ServiceAccount", "serviceaccounts", true).short(&["sa"]).returns_object(),
        b(CORE, "Service", "services", true).short(&["svc"]).all().status().returns_object(),
        b("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false)
            .short(&["crd", "crds"])
            .status()
            .returns_object(),
        b(APPS, "ControllerRevision", "controllerrevisions", true),
        b(APPS, "Deployment", "deployments", true).short(&["deploy"]).all().status().scale(),
        b(APPS, "ReplicaSet", "replicasets", true).short(&["rs"]).all().status().scale(),
        b(APPS, "StatefulSet", "statefulsets", true).short(&["sts"]).all().status().scale(),
        b(BATCH, "CronJob", "cronjobs", true).short(&["cj"]).all().status(),
        b(BATCH, "Job", "jobs", true).all().status(),
        b("coordination.k8s.io", "Lease", "leases", true),
        b("discovery.k8s.io", "EndpointSlice", "endpointslices", true),
        // The same events as core/v1 `events`, served from one store; upstream gives it the same short name.
        b("events.k8s.io", "Event", "events", true).short(&["ev"]),
        b("policy", "PodDisruptionBudget", "poddisruptionbudgets", true).short(&["pdb"]).status(),
        b(RBAC, "ClusterRoleBinding", "clusterrolebindings", false),
        b(RBAC, "ClusterRole", "clusterroles", false),
        b(RBAC, "RoleBinding", "rolebindings", true),
        b(RBAC, "Role", "roles", true),
        b("storage.k8s.io", "StorageClass", "storageclasses", false).short(&["sc"]).returns_object(),
    ];
    rows.into_iter().map(Builtin::into_type).collect()
}

/// The type serving `plural` in `group`/`version`, as a request path names it.
pub fn find_by_plural<'a>(
    types: &'a [ResourceType],
    group: &str,
    version: &str,
    plural: &str,
) -> Option<&'a ResourceType> {
    types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of `apiVersion`/`kind`, as an object names it.
pub fn find_by_kind<'a>(types: &'a [ResourceType], api_version: &str, kind: &str) -> Option<&'a ResourceType> {
    types.iter().find(|t| t.kind == kind && t.api_version() == api_version)
}

/// The type a short name stands for (`cm`, `sts`, `pxc`). Where two groups share one (`ev`), the core group
/// wins, as it does for kubectl.
pub fn find_by_short_name<'a>(types: &'a [ResourceType], short: &str) -> Option<&'a ResourceType> {
    let short = short.to_ascii_lowercase();
    let mut matching = types.iter().filter(|t| t.short_names.contains(&short));
    let first = matching.next()?;
    Some(if first.group.is_empty() { first } else { matching.find(|t| t.group.is_empty()).unwrap_or(first) })
}

/// Resolves a name as kubectl does on its command line: plural, singular, short name or kind, optionally
/// group-qualified. The core group wins ties.
pub fn resolve<'a>(types: &'a [ResourceType], name: &str) -> Option<&'a ResourceType> {
    let mut matching = types.iter().filter(|t| t.answers_to(name));
    let first = matching.next()?;
    Some(if first.group.is_empty() { first } else { matching.find(|t| t.group.is_empty()).unwrap_or(first) })
}

/// The types in a category (`all` is what `kubectl get all` lists).
pub fn in_category<'a>(types: &'a [ResourceType], category: &str) -> Vec<&'a ResourceType> {
    types.iter().filter(|t| t.categories.iter().any(|c| c == category)).collect()
}

/// The label selector of a scalable object as the string `Scale.status.selector` carries: either the string at
/// `label_selector_path` (CRDs) or a `LabelSelector` object there (built-in workloads) rendered as upstream does.
pub fn scale_selector(object: &Value, scale: &ScaleSubresource) -> Option<String> {
    let value = value_at_path(object, scale.label_selector_path.as_deref()?)?;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => Some(format_label_selector(value)),
        _ => None,
    }
}

/// Reads a simple dotted path (`.spec.replicas`) from an object.
pub fn value_at_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.strip_prefix('.').unwrap_or(path);
    if path.is_empty() {
        return Some(object);
    }
    path.split('.').try_fold(object, |v, key| v.get(key))
}

/// `matchLabels` as `k=v`, `matchExpressions` as `k in (a,b)`, `k notin (a)`, `k`, `!k`, comma-joined.
fn format_label_selector(selector: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = selector["matchLabels"].as_object() {
        let mut pairs: Vec<_> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        pairs.sort();
        parts.extend(pairs);
    }
    for expr in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = expr["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = expr["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort_unstable();
        match expr["operator"].as_str().unwrap_or_default() {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
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
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            status_subresource: sub.get("status").is_some(),
            scale_subresource: sub.get("scale").map(|sc| ScaleSubresource {
                spec_replicas_path: s(&sc["specReplicasPath"]),
                status_replicas_path: s(&sc["statusReplicasPath"]),
                label_selector_path: sc["labelSelectorPath"].as_str().map(str::to_string),
            }),
            delete_returns_object: false,
            schema: ver.pointer("/schema/openAPIV3Schema").cloned(),
            printer_columns: ver["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(printer_column)
                .collect(),
        });
    }
    out
}

fn printer_column(col: &Value) -> Option<PrinterColumn> {
    Some(PrinterColumn {
        name: col["name"].as_str()?.to_string(),
        type_: col["type"].as_str().unwrap_or("string").to_string(),
        format: col["format"].as_str().map(str::to_string),
        description: col["description"].as_str().map(str::to_string),
        json_path: col["jsonPath"].as_str()?.to_string(),
        priority: col["priority"].as_i64().and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn builtin_group_and_plural_are_unique() {
        let types = builtin();
        let mut seen = HashSet::new();
        for t in &types {
            assert!(seen.insert((t.group.clone(), t.plural.clone())), "duplicate {}/{}", t.group, t.plural);
        }
        assert_eq!(types.len(), 27);
    }

    #[test]
    fn short_names_name_one_resource() {
        // A short name may only be shared by the two groups serving the same events.
        let mut owners: HashMap<String, HashSet<(String, String)>> = HashMap::new();
        for t in builtin() {
            for s in &t.short_names {
                owners.entry(s.clone()).or_default().insert((t.plural.clone(), t.kind.clone()));
            }
        }
        for (short, o) in &owners {
            assert_eq!(o.len(), 1, "short name {short} names {o:?}");
        }
        assert_eq!(find_by_short_name(&builtin(), "ev").map(|t| t.group.as_str()), Some(""));
        assert_eq!(find_by_short_name(&builtin(), "sts").map(|t| t.kind.as_str()), Some("StatefulSet"));
        assert_eq!(find_by_short_name(&builtin(), "CM").map(|t| t.kind.as_str()), Some("ConfigMap"));
        assert!(find_by_short_name(&builtin(), "nope").is_none());
    }

    #[test]
    fn core_kinds_have_the_empty_group() {
        let types = builtin();
        for kind in ["Namespace", "Pod", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "Node"] {
            let t = types.iter().find(|t| t.kind == kind).unwrap();
            assert_eq!(t.group, "", "{kind}");
            assert_eq!(t.api_version(), "v1");
            assert_eq!(t.api_prefix(), "/api/v1");
        }
        let sts = find_by_plural(&types, "apps", "v1", "statefulsets").unwrap();
        assert_eq!(sts.api_prefix(), "/apis/apps/v1");
        assert!(find_by_plural(&types, "", "v1", "statefulsets").is_none());
    }

    #[test]
    fn subresources_and_delete_shapes_follow_upstream() {
        let types = builtin();
        let get = |p: &str| types.iter().find(|t| t.plural == p && t.group != "events.k8s.io").unwrap();
        for p in ["pods", "services", "namespaces", "nodes", "persistentvolumes", "persistentvolumeclaims"] {
            assert!(get(p).status_subresource, "{p}");
        }
        for p in ["statefulsets", "deployments", "replicasets", "jobs", "cronjobs", "poddisruptionbudgets"] {
            assert!(get(p).status_subresource, "{p}");
        }
        for p in ["configmaps", "secrets", "serviceaccounts", "roles", "leases"] {
            assert!(!get(p).status_subresource, "{p}");
        }
        for p in ["statefulsets", "deployments", "replicasets"] {
            assert_eq!(get(p).scale_subresource.as_ref().unwrap().spec_replicas_path, ".spec.replicas");
        }
        assert!(get("jobs").scale_subresource.is_none());
        assert!(get("pods").delete_returns_object);
        assert!(get("serviceaccounts").delete_returns_object);
        assert!(!get("configmaps").delete_returns_object);
        assert!(!get("namespaces").verbs.contains(&"deletecollection".to_string()));
        assert!(get("pods").verbs.contains(&"deletecollection".to_string()));
    }

    #[test]
    fn all_category_and_kubectl_names() {
        let types = builtin();
        let all: Vec<_> = in_category(&types, "all").iter().map(|t| t.plural.as_str()).collect();
        for p in ["pods", "services", "deployments", "replicasets", "statefulsets", "jobs", "cronjobs"] {
            assert!(all.contains(&p), "{p} in all");
        }
        assert!(!all.contains(&"configmaps"));
        assert_eq!(resolve(&types, "deployments.apps").map(|t| t.kind.as_str()), Some("Deployment"));
        assert_eq!(resolve(&types, "Pod").map(|t| t.plural.as_str()), Some("pods"));
        assert_eq!(resolve(&types, "events").map(|t| t.group.as_str()), Some(""));
        assert_eq!(resolve(&types, "events.events.k8s.io").map(|t| t.group.as_str()), Some("events.k8s.io"));
        assert!(resolve(&types, "pods.apps").is_none());
    }

    #[test]
    fn scale_selector_handles_both_forms() {
        let sts = json!({"spec": {"replicas": 3, "selector": {
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["y", "x"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]}}});
        assert_eq!(scale_selector(&sts, &workload_scale()).unwrap(), "a=1,b=2,tier in (x,y),!gone");
        let cr = json!({"status": {"selector": "app=pxc"}});
        let sc = ScaleSubresource {
            spec_replicas_path: ".spec.size".into(),
            status_replicas_path: ".status.size".into(),
            label_selector_path: Some(".status.selector".into()),
        };
        assert_eq!(scale_selector(&cr, &sc).unwrap(), "app=pxc");
        assert_eq!(value_at_path(&sts, ".spec.replicas"), Some(&json!(3)));
        assert_eq!(value_at_path(&sts, ".spec.missing"), None);
    }

    #[test]
    fn from_crd_reads_printer_columns_and_skips_unserved_versions() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Cluster",
            "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "subresources": {"status": {}},
                 "additionalPrinterColumns": [
                    {"name": "State", "type": "string", "jsonPath": ".status.state"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp", "priority": 1}]},
                {"name": "v0", "served": false, "storage": false}]}});
        let types = from_crd(&crd);
        assert_eq!(types.len(), 1);
        let t = &types[0];
        assert!(!t.namespaced);
        assert_eq!(t.singular, "widget");
        assert_eq!(t.list_kind, "WidgetList");
        assert!(t.status_subresource);
        assert_eq!(t.printer_columns.len(), 2);
        assert_eq!(t.printer_columns[0].json_path, ".status.state");
        assert_eq!(t.printer_columns[1].priority, 1);
        assert_eq!(t.printer_columns[1].type_, "date");
    }
}
