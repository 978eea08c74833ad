//! The Kubernetes permissions the operator process needs: one table, which `deploy/rbac/*.yaml` must grant
//! exactly (tests check both directions), plus helpers that turn code facts into permissions so the tests can
//! check the table against what the code does:
//! - `permission_for_request`: the RBAC attributes of an API request (the integration test records the requests
//!   the engine and the lease make against the sandbox and checks each is in the table);
//! - `resource_for_kind`: a Kind the code names (an `Api<Kind>`, a built object's `apiVersion`/`kind`) as its
//!   API group and resource.

use k8s_openapi::api::rbac::v1::PolicyRule;

/// One row: in this API group, on this resource (`pods`, `pods/status`), these verbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub group: String,
    pub resource: String,
    pub verbs: Vec<&'static str>,
    /// Cluster-scoped resources cannot be granted by a namespaced Role.
    pub cluster_scoped: bool,
    pub why: &'static str,
}

const READ: &[&str] = &["get", "list", "watch"];
/// Server-side apply creates and patches; the orphan sweep deletes; `update` for replace-style writes.
const OWN: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

fn row(group: &str, resource: &str, verbs: &[&'static str], why: &'static str) -> Grant {
    Grant { group: group.into(), resource: resource.into(), verbs: verbs.to_vec(), cluster_scoped: false, why }
}

/// Everything the operator process (engine, its observation of pods and events, and the leader election) may
/// call. Custom resources come from the CRDs the code defines.
pub fn operator_grants() -> Vec<Grant> {
    let mut grants = Vec::new();
    for crd in crate::api::crds() {
        let group = crd.spec.group.clone();
        let plural = crd.spec.names.plural.clone();
        grants.push(row(&group, &plural, &["get", "list", "watch", "update", "patch"], "reconciled kinds"));
        grants.push(row(&group, &format!("{plural}/status"), &["get", "update", "patch"], "status written back"));
        // Needed where the OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift): children
        // carry blockOwnerDeletion towards their cluster.
        grants.push(row(&group, &format!("{plural}/finalizers"), &["update"], "owner references on children"));
        if plural.ends_with("backups") {
            // Schedules create Backup objects; retention and PG's delete-backups finalizer delete them.
            grants.push(row(&group, &plural, &["create", "delete"], "scheduled backups, retention"));
        }
    }
    for resource in ["statefulsets", "deployments"] {
        grants.push(row("apps", resource, OWN, "workloads the engine builds"));
    }
    for resource in ["services", "secrets", "configmaps", "serviceaccounts"] {
        grants.push(row("", resource, OWN, "objects the engine builds"));
    }
    grants.push(row(
        "",
        "persistentvolumeclaims",
        OWN,
        "PG volumes, claims grown on resize; deleted only by the delete-*-pvc finalizers",
    ));
    grants.push(row("", "pods", &["get", "list", "watch", "patch", "delete"], "smart update deletes outdated pods"));
    // A Role may only grant what its creator holds: PG's instance Role lets Patroni use Endpoints.
    grants.push(row(
        "",
        "endpoints",
        &["get", "list", "watch", "create", "patch", "deletecollection"],
        "granted on to Patroni's Role",
    ));
    grants.push(row("policy", "poddisruptionbudgets", OWN, "PodDisruptionBudgets the engine builds"));
    grants.push(row("batch", "jobs", OWN, "backup and restore Jobs"));
    for resource in ["roles", "rolebindings"] {
        grants.push(row("rbac.authorization.k8s.io", resource, OWN, "Orchestrator and Patroni service accounts"));
    }
    grants.push(row("", "events", &["get", "list", "watch", "create", "patch"], "events read and published"));
    grants.push(row("events.k8s.io", "events", &["create", "patch"], "events published by kube-runtime's recorder"));
    grants.push(row(
        "coordination.k8s.io",
        "leases",
        &["get", "create", "update", "delete"],
        "leader election, backup locks",
    ));
    grants.push(Grant {
        cluster_scoped: true,
        ..row("", "nodes", READ, "zones and node readiness shown with the members")
    });
    grants.push(Grant {
        cluster_scoped: true,
        ..row("storage.k8s.io", "storageclasses", &["get"], "allowVolumeExpansion checked before claims grow")
    });
    grants
}

/// Whether the table allows `verb` on `resource` in `group`.
pub fn table_allows(grants: &[Grant], group: &str, resource: &str, verb: &str) -> bool {
    grants.iter().any(|g| g.group == group && g.resource == resource && g.verbs.contains(&verb))
}

/// Whether RBAC rules allow `verb` on `resource` in `group` (with the `*` wildcards RBAC accepts).
pub fn rules_allow(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: &Option<Vec<String>>, want: &str| list.iter().flatten().any(|x| x == want || x == "*");
    rules.iter().any(|r| {
        has(&r.api_groups, group)
            && has(&r.resources, resource)
            && r.verbs.iter().any(|v| v == verb || v == "*")
            && r.resource_names.as_ref().is_none_or(|names| names.is_empty())
    })
}

/// Each `(group, resource, verb)` the rules grant, wildcards left as they are.
pub fn rules_expand(rules: &[PolicyRule]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in rules {
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in &r.verbs {
                    out.push((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// The RBAC attributes of a resource request: `(group, resource[/subresource], verb)`. `None` for
/// non-resource paths (discovery, `/version`, `/openapi`), which every authenticated user may read.
pub fn permission_for_request(method: &str, path: &str, query: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("".to_string(), rest),
        ["apis", group, _version, rest @ ..] => (group.to_string(), rest),
        _ => return None,
    };
    let (group, rest) = rest;
    let rest = match rest {
        ["namespaces", _ns, more @ ..] if !more.is_empty() => more,
        other => other,
    };
    let (resource, name, sub) = match rest {
        [] => return None,
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub, ..] => (*resource, Some(*name), Some(*sub)),
    };
    let watching = query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (method, name.is_some()) {
        ("GET", _) if watching => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    };
    let resource = match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    Some((group, resource, verb.to_string()))
}

/// `(group, plural, cluster_scoped)` of a built-in Kind dbdeck may touch.
macro_rules! known_kinds {
    ($($ty:ty),* $(,)?) => {
        fn builtin(kind: &str) -> Option<(&'static str, &'static str, bool)> {
            use k8s_openapi::Resource;
            $(
                if <$ty as Resource>::KIND == kind {
                    let cluster = std::any::type_name::<<$ty as Resource>::Scope>().ends_with("ClusterResourceScope");
                    return Some((<$ty as Resource>::GROUP, <$ty as Resource>::URL_PATH_SEGMENT, cluster));
                }
            )*
            None
        }
    };
}

known_kinds!(
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
);

/// The group and resource of a Kind the code names: a built-in one, or one of dbdeck's custom resources.
/// `None` for a name that is not a resource kind (a field type such as `Container`).
pub fn resource_for_kind(kind: &str) -> Option<(String, String, bool)> {
    if let Some((group, plural, cluster)) = builtin(kind) {
        return Some((group.to_string(), plural.to_string(), cluster));
    }
    // Generating the CRDs builds their schemas, which is slow: once per process is enough.
    static CUSTOM: std::sync::OnceLock<Vec<(String, String, String, bool)>> = std::sync::OnceLock::new();
    let custom = CUSTOM.get_or_init(|| {
        crate::api::crds()
            .into_iter()
            .map(|c| (c.spec.names.kind, c.spec.group, c.spec.names.plural, c.spec.scope == "Cluster"))
            .collect()
    });
    custom.iter().find(|(k, ..)| k == kind).map(|(_, g, p, c)| (g.clone(), p.clone(), *c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
    use std::collections::BTreeSet;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// The rules of every object of the kinds in a YAML stream.
    fn rules_in(file: &str, kinds: &[&str]) -> Vec<PolicyRule> {
        let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut rules = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            let kind = v["kind"].as_str().unwrap_or_default().to_string();
            if kinds.contains(&kind.as_str()) {
                let r = match kind.as_str() {
                    "ClusterRole" => serde_json::from_value::<ClusterRole>(v).unwrap().rules,
                    _ => serde_json::from_value::<Role>(v).unwrap().rules,
                };
                rules.extend(r.unwrap_or_default());
            }
        }
        rules
    }

    fn check(file: &str, kinds: &[&str], want: &[Grant]) {
        let rules = rules_in(file, kinds);
        assert!(!rules.is_empty(), "{file} has no {kinds:?} rules");
        let mut missing = Vec::new();
        for g in want {
            for v in &g.verbs {
                if !rules_allow(&rules, &g.group, &g.resource, v) {
                    missing.push(format!("{v} {}/{}", g.group, g.resource));
                }
            }
        }
        assert!(missing.is_empty(), "{file} does not grant: {missing:?}");
        // Least privilege: nothing beyond the table, and no wildcards.
        let extra: Vec<_> = rules_expand(&rules)
            .into_iter()
            .filter(|(g, r, v)| {
                !want.iter().any(|w| &w.group == g && &w.resource == r && w.verbs.contains(&v.as_str()))
            })
            .collect();
        assert!(extra.is_empty(), "{file} grants more than the code uses: {extra:?}");
    }

    #[test]
    fn cluster_wide_rbac_grants_exactly_the_table() {
        check("deploy/rbac/cluster-wide.yaml", &["ClusterRole", "Role"], &operator_grants());
    }

    #[test]
    fn namespaced_rbac_grants_the_namespaced_rows_of_the_table() {
        let namespaced: Vec<Grant> = operator_grants().into_iter().filter(|g| !g.cluster_scoped).collect();
        check("deploy/rbac/namespaced.yaml", &["Role"], &namespaced);
    }

    /// Every resource Kind the operator's code names (an import from k8s-openapi, an `Api<Kind>`, one of our
    /// CRs) has a row, so a new `Api::<Kind>` in the engine cannot ship without its permission.
    #[test]
    fn every_kind_the_operator_code_names_has_a_row() {
        let ident = regex::Regex::new(r"\b[A-Z][A-Za-z0-9]+\b").unwrap();
        let import =
            regex::Regex::new(r"\b[a-z0-9_]+::v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?::(\{[^}]*\}|[A-Z][A-Za-z0-9]*)")
                .unwrap();
        let api_use = regex::Regex::new(r"Api(?:::)?<\s*([A-Z][A-Za-z0-9]*)\s*>").unwrap();
        let grants = operator_grants();
        let mut seen = BTreeSet::new();
        let mut files = Vec::new();
        for dir in ["src/engine", "src/observe", "src/headless"] {
            collect_rs(&root().join(dir), &mut files);
        }
        assert!(files.len() > 10, "found only {} source files", files.len());
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let mut names: Vec<String> = Vec::new();
            for m in import.captures_iter(&text) {
                names.extend(ident.find_iter(&m[1]).map(|i| i.as_str().to_string()));
            }
            names.extend(api_use.captures_iter(&text).map(|c| c[1].to_string()));
            for name in names {
                if name == "DynamicObject" || name == "K" {
                    continue;
                }
                if let Some((group, plural, _)) = resource_for_kind(&name) {
                    seen.insert(name.clone());
                    assert!(
                        grants.iter().any(|g| g.group == group && g.resource == plural),
                        "{} names {name} ({group}/{plural}) but the RBAC table has no row for it",
                        file.display()
                    );
                }
            }
        }
        for kind in ["StatefulSet", "Pod", "Lease", "Event"] {
            assert!(seen.contains(kind), "the scan did not see {kind}: {seen:?}");
        }
    }

    fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect_rs(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("headless/rbac.rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn requests_map_to_rbac_attributes() {
        let p = |m, path, q| permission_for_request(m, path, q).map(|(g, r, v)| format!("{v} {g}/{r}"));
        assert_eq!(p("GET", "/api/v1/namespaces/a/pods", "&watch=true&resourceVersion=1").unwrap(), "watch /pods");
        assert_eq!(p("GET", "/api/v1/nodes", "").unwrap(), "list /nodes");
        assert_eq!(p("GET", "/api/v1/namespaces/a", "").unwrap(), "get /namespaces");
        assert_eq!(
            p("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", "").unwrap(),
            "update coordination.k8s.io/leases"
        );
        assert_eq!(
            p("PATCH", "/apis/pxc.percona.com/v1/namespaces/a/perconaxtradbclusters/c/status", "").unwrap(),
            "patch pxc.percona.com/perconaxtradbclusters/status"
        );
        assert_eq!(p("DELETE", "/api/v1/namespaces/a/endpoints", "").unwrap(), "deletecollection /endpoints");
        assert_eq!(p("GET", "/apis", ""), None);
        assert_eq!(p("GET", "/version", ""), None);
        assert_eq!(resource_for_kind("Lease").unwrap().1, "leases");
        assert!(resource_for_kind("Node").unwrap().2, "nodes are cluster-scoped");
        assert_eq!(resource_for_kind("PerconaPGCluster").unwrap().0, "pgv2.percona.com");
        assert_eq!(resource_for_kind("Container"), None);
    }
}
