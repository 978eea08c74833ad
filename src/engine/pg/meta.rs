//! What every PG builder shares: the defaulted spec, names, label sets, object metadata and the owner reference.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;
use serde_json::Value;

use super::BuildError;
use crate::api::pg::{
    DEFAULT_PGBACKREST_IMAGE, DEFAULT_PGBOUNCER_IMAGE, PerconaPGCluster, PerconaPGClusterSpec, PgBouncer,
};

/// Crunchy's label keys (`postgres-operator.crunchydata.com/...`).
pub const L_CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";
pub const L_INSTANCE_SET: &str = "postgres-operator.crunchydata.com/instance-set";
pub const L_INSTANCE: &str = "postgres-operator.crunchydata.com/instance";
pub const L_DATA: &str = "postgres-operator.crunchydata.com/data";
pub const L_ROLE: &str = "postgres-operator.crunchydata.com/role";
pub const L_PATRONI: &str = "postgres-operator.crunchydata.com/patroni";
pub const L_PGBACKREST: &str = "postgres-operator.crunchydata.com/pgbackrest";
pub const L_PGBACKREST_DEDICATED: &str = "postgres-operator.crunchydata.com/pgbackrest-dedicated";
pub const L_PGBACKREST_CONFIG: &str = "postgres-operator.crunchydata.com/pgbackrest-config";
pub const L_PGBACKREST_REPO: &str = "postgres-operator.crunchydata.com/pgbackrest-repo";
pub const L_PGBACKREST_VOLUME: &str = "postgres-operator.crunchydata.com/pgbackrest-volume";
pub const L_PGUSER: &str = "postgres-operator.crunchydata.com/pguser";
pub const L_CLUSTER_CERT: &str = "postgres-operator.crunchydata.com/cluster-certificate";
/// Percona's label keys (crVersion >= 2.3.0).
pub const L_APP_NAME: &str = "app.kubernetes.io/name";
pub const L_APP_PART_OF: &str = "app.kubernetes.io/part-of";
pub const L_APP_INSTANCE: &str = "app.kubernetes.io/instance";
pub const L_APP_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const L_APP_COMPONENT: &str = "app.kubernetes.io/component";
pub const L_VERSION: &str = "pgv2.percona.com/version";

/// The uid and gid of `postgres` in Percona's images (Crunchy's default fsGroup).
pub const POSTGRES_UID: i64 = 26;

/// Per-build context: the cluster's identity and its spec with Percona's defaults applied.
pub struct Context {
    pub name: String,
    pub namespace: String,
    uid: String,
    pub spec: PerconaPGClusterSpec,
    /// `spec.metadata.labels` / `annotations`, copied onto every object.
    global_labels: BTreeMap<String, String>,
    global_annotations: BTreeMap<String, String>,
}

impl Context {
    pub fn new(cr: &PerconaPGCluster) -> Result<Self, BuildError> {
        let name = cr.metadata.name.clone().unwrap_or_default();
        let shown = if name.is_empty() { "(unnamed)".to_string() } else { name.clone() };
        let missing = |field| BuildError::MissingMetadata { cluster: shown.clone(), field };
        if name.is_empty() {
            return Err(missing("metadata.name"));
        }
        let namespace = cr.metadata.namespace.clone().ok_or_else(|| missing("metadata.namespace"))?;
        let uid = cr.metadata.uid.clone().ok_or_else(|| missing("metadata.uid"))?;
        let spec = cr.spec.with_defaults(&name);
        let string_map = |key: &str| -> BTreeMap<String, String> {
            spec.metadata
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(Value::as_object)
                .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default()
        };
        let global_labels = string_map("labels");
        let global_annotations = string_map("annotations");
        Ok(Self { name, namespace, uid, spec, global_labels, global_annotations })
    }

    pub fn display_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn cr_version(&self) -> &str {
        self.spec.cr_version.as_deref().unwrap_or(crate::api::pg::DEFAULT_CR_VERSION)
    }

    pub fn pg_major(&self) -> i64 {
        self.spec.postgres_version.unwrap_or(crate::api::pg::DEFAULT_POSTGRES_VERSION)
    }

    pub fn port(&self) -> i32 {
        self.spec.port.unwrap_or(crate::api::pg::DEFAULT_PORT)
    }

    pub fn patroni_port(&self) -> i32 {
        self.spec.patroni.as_ref().and_then(|p| p.port).unwrap_or(8008)
    }

    pub fn paused(&self) -> bool {
        self.spec.pause.unwrap_or(false)
    }

    pub fn postgres_image(&self) -> String {
        self.spec.image.clone().unwrap_or_default()
    }

    pub fn pgbackrest_image(&self) -> String {
        self.spec
            .backups
            .as_ref()
            .and_then(|b| b.pgbackrest.as_ref())
            .and_then(|p| p.image.clone())
            .unwrap_or_else(|| DEFAULT_PGBACKREST_IMAGE.to_string())
    }

    pub fn pgbouncer_image(&self, bouncer: &PgBouncer) -> String {
        bouncer.image.clone().unwrap_or_else(|| DEFAULT_PGBOUNCER_IMAGE.to_string())
    }

    pub fn image_pull_policy(&self) -> Option<String> {
        self.spec.image_pull_policy.clone()
    }

    pub fn backups_enabled(&self) -> bool {
        self.spec.backups.as_ref().is_none_or(|b| b.is_enabled())
    }

    /// pgBouncer exists only when `spec.proxy.pgBouncer` is written (crVersion >= 2.9.0).
    pub fn pgbouncer(&self) -> Option<&PgBouncer> {
        self.spec.proxy.as_ref().and_then(|p| p.pg_bouncer.as_ref())
    }

    /// `/pgdata/pg18`: PGDATA inside the data volume, per major version as Crunchy lays it out.
    pub fn pgdata_dir(&self) -> String {
        format!("/pgdata/pg{}", self.pg_major())
    }

    /// `/pgwal/pg18_wal`: the WAL directory when a separate WAL volume exists.
    pub fn wal_dir(&self) -> String {
        format!("/pgwal/pg{}_wal", self.pg_major())
    }

    pub fn dns_suffix(&self) -> &str {
        self.spec.cluster_service_dns_suffix.as_deref().unwrap_or("cluster.local")
    }

    /// `<service>.<ns>.svc`, the host name user Secrets and the status carry.
    pub fn service_host(&self, service: &str) -> String {
        format!("{service}.{}.svc", self.namespace)
    }

    /// Fully qualified name of a pod behind the headless `<c>-pods` Service.
    pub fn pod_fqdn(&self, pod: &str) -> String {
        format!("{pod}.{}.{}.svc.{}.", self.object_name("pods"), self.namespace, self.dns_suffix())
    }

    /// `<cluster>-<suffix>`.
    pub fn object_name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// `postgres-operator.crunchydata.com/cluster: <name>`, the label every object and selector carries.
    pub fn cluster_label(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(L_CLUSTER.to_string(), self.name.clone())])
    }

    /// Crunchy labels plus `extra`.
    pub fn crunchy_labels(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut l = self.cluster_label();
        for (k, v) in extra {
            l.insert(k.to_string(), v.to_string());
        }
        l
    }

    /// Percona's `app.kubernetes.io/*` labels (without `component`) and the version label.
    pub fn percona_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (L_APP_NAME.to_string(), "percona-postgresql".to_string()),
            (L_APP_PART_OF.to_string(), "percona-postgresql".to_string()),
            (L_APP_INSTANCE.to_string(), self.name.clone()),
            (L_APP_MANAGED_BY.to_string(), "percona-postgresql-operator".to_string()),
            (L_VERSION.to_string(), self.cr_version().to_string()),
        ])
    }

    /// The full label set of an object: the user's global labels, then Percona's, then `own` (which win).
    pub fn labels(&self, own: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut l = self.global_labels.clone();
        l.extend(self.percona_labels());
        l.extend(own);
        l
    }

    pub fn annotations(&self) -> Option<BTreeMap<String, String>> {
        (!self.global_annotations.is_empty()).then(|| self.global_annotations.clone())
    }

    /// The controller reference to the PerconaPGCluster: deleting the CR garbage-collects every built object.
    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: PerconaPGCluster::api_version(&()).into_owned(),
            kind: PerconaPGCluster::kind(&()).into_owned(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    /// Metadata of a namespaced object owned by the cluster.
    pub fn object_meta(&self, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(labels)),
            annotations: self.annotations(),
            owner_references: Some(vec![self.owner_reference()]),
            ..Default::default()
        }
    }

    /// Metadata of a pod template: labels and annotations only.
    pub fn template_meta(&self, labels: BTreeMap<String, String>, extra: Option<&Value>) -> ObjectMeta {
        let mut labels = self.labels(labels);
        let mut annotations = self.annotations().unwrap_or_default();
        // Per-component `metadata: {labels, annotations}` (instance sets, pgBouncer, pgBackRest) add to the globals.
        if let Some(extra) = extra {
            merge_strings(&mut labels, extra.get("labels"));
            merge_strings(&mut annotations, extra.get("annotations"));
        }
        ObjectMeta {
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }
    }
}

/// Adds the string entries of a JSON object to `into` (component metadata is free-form in the model).
pub fn merge_strings(into: &mut BTreeMap<String, String>, from: Option<&Value>) {
    if let Some(obj) = from.and_then(Value::as_object) {
        for (k, v) in obj {
            if let Some(s) = v.as_str() {
                into.insert(k.clone(), s.to_string());
            }
        }
    }
}

pub fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), ..Default::default() }
}
