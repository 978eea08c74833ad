//! Which lists a strategic merge patch merges, and by which key, for the built-in kinds.
//!
//! This is the data the real server reads from the Go struct tags `patchStrategy`/`patchMergeKey`. Paths are
//! field names from the object root with list items left out (`spec.containers.ports` is the `ports` list of
//! any container). Any list not named here is replaced as a whole, like a list without a patch strategy.

/// How a strategic merge patch combines one list with the live list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMerge {
    /// A list of objects merged item by item on this field (`patchMergeKey`).
    ByKey(&'static str),
    /// A list of scalars merged as a set (`patchStrategy: merge` without a key), e.g. finalizers.
    Set,
}

/// Lists with the same strategy in every built-in kind.
const COMMON_LISTS: &[(&str, ListMerge)] = &[
    ("metadata.ownerReferences", ListMerge::ByKey("uid")),
    ("metadata.finalizers", ListMerge::Set),
    ("status.conditions", ListMerge::ByKey("type")),
];

/// Lists specific to one kind.
const KIND_LISTS: &[(&str, &str, ListMerge)] = &[
    ("Service", "spec.ports", ListMerge::ByKey("port")),
    ("Node", "status.addresses", ListMerge::ByKey("type")),
    ("Pod", "status.podIPs", ListMerge::ByKey("ip")),
];

/// Where each kind that embeds a pod keeps its pod spec.
const POD_SPEC_ROOTS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template.spec"),
    ("ReplicationController", "spec.template.spec"),
    ("ReplicaSet", "spec.template.spec"),
    ("Deployment", "spec.template.spec"),
    ("StatefulSet", "spec.template.spec"),
    ("DaemonSet", "spec.template.spec"),
    ("Job", "spec.template.spec"),
    ("CronJob", "spec.jobTemplate.spec.template.spec"),
];

/// Lists of a pod spec, relative to it.
const POD_SPEC_LISTS: &[(&str, ListMerge)] = &[
    ("containers", ListMerge::ByKey("name")),
    ("initContainers", ListMerge::ByKey("name")),
    ("ephemeralContainers", ListMerge::ByKey("name")),
    ("volumes", ListMerge::ByKey("name")),
    ("imagePullSecrets", ListMerge::ByKey("name")),
    ("hostAliases", ListMerge::ByKey("ip")),
    ("topologySpreadConstraints", ListMerge::ByKey("topologyKey")),
    ("schedulingGates", ListMerge::ByKey("name")),
    ("resourceClaims", ListMerge::ByKey("name")),
];

/// The three container lists of a pod spec share these sub-lists.
const CONTAINER_LISTS_OF_POD: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// Lists of a container, relative to it. `envFrom` is deliberately absent: it has no merge key and is atomic.
const CONTAINER_LISTS: &[(&str, ListMerge)] = &[
    ("ports", ListMerge::ByKey("containerPort")),
    ("env", ListMerge::ByKey("name")),
    ("volumeMounts", ListMerge::ByKey("mountPath")),
    ("volumeDevices", ListMerge::ByKey("devicePath")),
    ("resizePolicy", ListMerge::ByKey("resourceName")),
];

/// Kinds served by the sandbox (and a few more common ones) that accept a strategic merge patch.
/// Custom resources are excluded: the real server rejects strategic merge for them (kubectl sends merge).
const BUILTIN_KINDS: &[&str] = &[
    "Binding",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "ControllerRevision",
    "CronJob",
    "CustomResourceDefinition",
    "DaemonSet",
    "Deployment",
    "Endpoints",
    "EndpointSlice",
    "Event",
    "HorizontalPodAutoscaler",
    "Ingress",
    "Job",
    "Lease",
    "LimitRange",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "PodDisruptionBudget",
    "PodTemplate",
    "PriorityClass",
    "ReplicaSet",
    "ReplicationController",
    "ResourceQuota",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "ServiceAccount",
    "StatefulSet",
    "StorageClass",
];

/// True when `kind` is a built-in kind that takes strategic merge patches.
pub fn is_builtin(kind: &str) -> bool {
    BUILTIN_KINDS.contains(&kind)
}

/// The merge strategy of the list at `path` (field names from the root) in an object of `kind`;
/// `None` means the list is replaced atomically.
pub fn list_merge(kind: &str, path: &[&str]) -> Option<ListMerge> {
    let joined = path.join(".");
    if let Some((_, m)) = COMMON_LISTS.iter().find(|(p, _)| *p == joined) {
        return Some(*m);
    }
    if let Some((_, _, m)) = KIND_LISTS.iter().find(|(k, p, _)| *k == kind && *p == joined) {
        return Some(*m);
    }
    let (_, root) = POD_SPEC_ROOTS.iter().find(|(k, _)| *k == kind)?;
    let root: Vec<&str> = root.split('.').collect();
    let rel = path.strip_prefix(root.as_slice())?;
    match rel {
        [list] => POD_SPEC_LISTS.iter().find(|(p, _)| p == list).map(|(_, m)| *m),
        [container_list, list] if CONTAINER_LISTS_OF_POD.contains(container_list) => {
            CONTAINER_LISTS.iter().find(|(p, _)| p == list).map(|(_, m)| *m)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_and_template_paths_resolve_to_the_same_keys() {
        assert_eq!(list_merge("Pod", &["spec", "containers"]), Some(ListMerge::ByKey("name")));
        assert_eq!(
            list_merge("StatefulSet", &["spec", "template", "spec", "containers", "ports"]),
            Some(ListMerge::ByKey("containerPort"))
        );
        assert_eq!(
            list_merge("CronJob", &["spec", "jobTemplate", "spec", "template", "spec", "initContainers", "env"]),
            Some(ListMerge::ByKey("name"))
        );
        // A Pod has no template; the StatefulSet's pod path does not apply to it.
        assert_eq!(list_merge("Pod", &["spec", "template", "spec", "containers"]), None);
    }

    #[test]
    fn atomic_and_kind_specific_lists() {
        assert_eq!(list_merge("Pod", &["spec", "tolerations"]), None);
        assert_eq!(list_merge("Pod", &["spec", "containers", "envFrom"]), None);
        assert_eq!(list_merge("StatefulSet", &["spec", "volumeClaimTemplates"]), None);
        assert_eq!(list_merge("Service", &["spec", "ports"]), Some(ListMerge::ByKey("port")));
        assert_eq!(list_merge("ConfigMap", &["metadata", "finalizers"]), Some(ListMerge::Set));
        assert!(is_builtin("StatefulSet"));
        assert!(!is_builtin("PerconaXtraDBCluster"));
    }
}
