//! Names, labels, owner references and hashes shared by every PXC object builder.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::BuildError;

pub const NAME: &str = "percona-xtradb-cluster";
pub const MANAGED_BY: &str = "percona-xtradb-cluster-operator";

/// Everything a builder needs to name and own an object of one cluster.
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub reference: OwnerReference,
}

impl Owner {
    /// Percona's five `app.kubernetes.io/*` labels for one component (`naming.LabelsComponent`).
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/component".to_string(), component.to_string()),
            ("app.kubernetes.io/instance".to_string(), self.cluster.clone()),
            ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
            ("app.kubernetes.io/name".to_string(), NAME.to_string()),
            ("app.kubernetes.io/part-of".to_string(), NAME.to_string()),
        ])
    }

    /// The cluster-wide labels (no component), for objects shared by all components.
    pub fn cluster_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels("");
        l.remove("app.kubernetes.io/component");
        l
    }

    /// Services select with three labels only, as Percona's do (no managed-by/part-of).
    pub fn service_selector(&self, component: &str) -> BTreeMap<String, String> {
        let mut l = self.labels(component);
        l.remove("app.kubernetes.io/managed-by");
        l.remove("app.kubernetes.io/part-of");
        l
    }

    /// Metadata of an object the cluster owns (garbage-collected with the CR).
    pub fn owned_meta(&self, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(vec![self.reference.clone()]),
            ..Default::default()
        }
    }

    /// Metadata of an object that must outlive the CR unless a finalizer removes it (user and TLS secrets).
    pub fn unowned_meta(&self, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        }
    }

    /// `<cluster>-<suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.cluster)
    }
}

/// Hex SHA-256 over the given parts, each length-prefixed so that part boundaries count.
pub fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Turns a JSON description into its typed object, naming the object when a user-written free-form
/// value (security context, affinity …) does not fit the Kubernetes type.
pub fn typed<T: DeserializeOwned>(object: &str, v: Value) -> Result<T, BuildError> {
    // The plain path is the common one; the path-tracking pass only runs to explain a failure.
    if let Ok(t) = T::deserialize(&v) {
        return Ok(t);
    }
    serde_path_to_error::deserialize(v).map_err(|e| BuildError::Shape {
        object: object.to_string(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Serialises a typed spec fragment into JSON (cannot fail for k8s-openapi types; mapped anyway).
pub fn json<T: serde::Serialize>(object: &str, v: &T) -> Result<Value, BuildError> {
    serde_json::to_value(v).map_err(|e| BuildError::Shape {
        object: object.to_string(),
        path: String::new(),
        message: e.to_string(),
    })
}

/// Drops `null` members from objects so optional fields disappear instead of being sent as null.
pub fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}
