//! The shape information server-side apply needs and a schema-less sandbox does not otherwise have: which lists
//! are maps keyed by some fields (`x-kubernetes-list-type: map`), which are sets, and which maps are atomic.
//! Everything not named here is a granular map or an atomic list, the defaults of the real server.
//!
//! Patterns are suffixes of the field-name path (list items left out), so one entry covers a Pod's
//! `spec.containers` and a StatefulSet's `spec.template.spec.containers` alike.

/// How apply treats a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced and owned as a whole.
    Atomic,
    /// Scalars owned one by one (`v:` in FieldsV1).
    Set,
    /// Objects identified by these key fields (`k:` in FieldsV1).
    Map(&'static [&'static str]),
}

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// Lists of a container (any of the three container lists), by their keys.
const CONTAINER_LIST_MAPS: &[(&str, &[&str])] = &[
    ("ports", &["containerPort", "protocol"]),
    ("env", &["name"]),
    ("volumeMounts", &["mountPath"]),
    ("volumeDevices", &["devicePath"]),
    ("resizePolicy", &["resourceName"]),
];

/// Other keyed lists, by path suffix.
const LIST_MAPS: &[(&str, &[&str])] = &[
    ("spec.containers", &["name"]),
    ("spec.initContainers", &["name"]),
    ("spec.ephemeralContainers", &["name"]),
    ("spec.volumes", &["name"]),
    ("spec.imagePullSecrets", &["name"]),
    ("spec.hostAliases", &["ip"]),
    ("spec.topologySpreadConstraints", &["topologyKey", "whenUnsatisfiable"]),
    ("spec.schedulingGates", &["name"]),
    ("spec.resourceClaims", &["name"]),
    // A Service's ports; a pod spec has no `ports` of its own so the suffix is unambiguous.
    ("spec.ports", &["port", "protocol"]),
    ("metadata.ownerReferences", &["uid"]),
    ("status.conditions", &["type"]),
];

const SETS: &[&str] = &["metadata.finalizers"];

/// Maps owned as a whole (`x-kubernetes-map-type: atomic`), e.g. label selectors.
const ATOMIC_MAPS: &[&str] = &["spec.selector", "spec.nodeSelector"];

/// Key fields the real server fills in by defaulting before apply runs; a missing one reads as its default so
/// `{"containerPort": 80}` and `{"containerPort": 80, "protocol": "TCP"}` are the same item.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

fn ends_with(path: &[&str], pattern: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    path.ends_with(&pattern)
}

/// The list type of the list at `path` (field names from the root).
pub fn list_type(path: &[&str]) -> ListType {
    if let [.., container_list, list] = path
        && CONTAINER_LISTS.contains(container_list)
        && let Some((_, keys)) = CONTAINER_LIST_MAPS.iter().find(|(name, _)| name == list)
    {
        return ListType::Map(keys);
    }
    if let Some((_, keys)) = LIST_MAPS.iter().find(|(p, _)| ends_with(path, p)) {
        return ListType::Map(keys);
    }
    if SETS.iter().any(|p| ends_with(path, p)) {
        return ListType::Set;
    }
    ListType::Atomic
}

/// True when the map at `path` is owned as a whole.
pub fn is_atomic_map(path: &[&str]) -> bool {
    ATOMIC_MAPS.iter().any(|p| ends_with(path, p))
}

/// The default a missing key field reads as, if it has one.
pub fn key_default(field: &str) -> Option<&'static str> {
    KEY_DEFAULTS.iter().find(|(f, _)| *f == field).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_lists() {
        assert_eq!(list_type(&["spec", "template", "spec", "containers"]), ListType::Map(&["name"]));
        assert_eq!(list_type(&["spec", "containers", "ports"]), ListType::Map(&["containerPort", "protocol"]));
        assert_eq!(list_type(&["spec", "ports"]), ListType::Map(&["port", "protocol"]));
        assert_eq!(list_type(&["metadata", "finalizers"]), ListType::Set);
        assert_eq!(list_type(&["spec", "tolerations"]), ListType::Atomic);
        assert_eq!(list_type(&["spec", "volumeClaimTemplates"]), ListType::Atomic);
        assert_eq!(list_type(&["spec", "pxc", "env"]), ListType::Atomic);
        assert!(is_atomic_map(&["spec", "selector"]));
        assert!(!is_atomic_map(&["metadata", "labels"]));
    }
}
