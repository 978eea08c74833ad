//! Names, labels, owner references and object metadata shared by the PS builders.
//! Kept private to `engine::ps` for now; the lead unifies these helpers across kinds later.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

pub(super) type Labels = BTreeMap<String, String>;

pub(super) const LABEL_NAME: &str = "app.kubernetes.io/name";
pub(super) const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub(super) const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub(super) const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub(super) const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Set on per-pod Services created by `expose` (Percona `naming.LabelExposed`).
pub(super) const LABEL_EXPOSED: &str = "percona.com/exposed";
/// Set by the engine on the primary pod; the primary Service selects on it.
pub const LABEL_PRIMARY: &str = "mysql.percona.com/primary";
/// Pod-template annotations whose change makes the pods restart.
pub const ANNOTATION_CONFIG_HASH: &str = "percona.com/configuration-hash";
pub const ANNOTATION_TLS_HASH: &str = "percona.com/last-applied-tls";

pub(super) const PART_OF: &str = "percona-server";
pub(super) const MANAGED_BY: &str = "percona-server-mysql-operator";

/// One of the four workloads of a PS cluster, with its name suffix and label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Mysql,
    Orchestrator,
    Haproxy,
    Router,
}

impl Component {
    /// Suffix of the workload name: `<cluster>-<suffix>`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Orchestrator => "orc",
            Self::Haproxy => "haproxy",
            Self::Router => "router",
        }
    }

    /// `app.kubernetes.io/name`.
    pub fn app_name(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Orchestrator => "orchestrator",
            Self::Haproxy => "haproxy",
            Self::Router => "router",
        }
    }

    /// `app.kubernetes.io/component`.
    pub fn component_label(self) -> &'static str {
        match self {
            Self::Mysql => "database",
            Self::Orchestrator => "orchestrator",
            Self::Haproxy | Self::Router => "proxy",
        }
    }
}

/// What every builder needs to know about the CR itself.
pub(super) struct Owner {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub global_labels: Labels,
    pub global_annotations: Labels,
}

impl Owner {
    pub fn workload_name(&self, c: Component) -> String {
        format!("{}-{}", self.name, c.suffix())
    }

    /// The selector labels of a component (Percona `MatchLabels`).
    pub fn match_labels(&self, c: Component) -> Labels {
        [
            (LABEL_NAME, c.app_name()),
            (LABEL_INSTANCE, self.name.as_str()),
            (LABEL_PART_OF, PART_OF),
            (LABEL_COMPONENT, c.component_label()),
            (LABEL_MANAGED_BY, MANAGED_BY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Object labels: global labels, then the user's extra labels, then the selector labels (which win,
    /// so a user label can never break a selector).
    pub fn labels(&self, c: Component, extra: Option<&Labels>) -> Labels {
        merge(&[Some(&self.global_labels), extra, Some(&self.match_labels(c))])
    }

    pub fn annotations(&self, extra: Option<&Labels>) -> Option<Labels> {
        non_empty(merge(&[Some(&self.global_annotations), extra]))
    }

    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: "ps.percona.com/v1".to_string(),
            kind: "PerconaServerMySQL".to_string(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    pub fn meta(&self, name: impl Into<String>, labels: Labels, annotations: Option<Labels>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(self.namespace.clone()),
            labels: non_empty(labels),
            annotations,
            owner_references: Some(vec![self.owner_reference()]),
            ..Default::default()
        }
    }
}

/// Later maps override earlier ones.
pub(super) fn merge(maps: &[Option<&Labels>]) -> Labels {
    let mut out = Labels::new();
    for m in maps.iter().flatten() {
        out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

pub(super) fn non_empty(m: Labels) -> Option<Labels> {
    (!m.is_empty()).then_some(m)
}

pub(super) fn selector(labels: Labels) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), match_expressions: None }
}

/// Hex SHA-256 of the given parts, each length-prefixed so that ("ab","c") and ("a","bc") differ.
pub(super) fn hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}
