//! The custom resource model: Percona-compatible kinds, their defaults and validation. No I/O here.

pub mod common;
pub mod pg;
pub mod ps;
pub mod pxc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResourceExt, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use common::{Problem, Problems, Validate};

/// One document of any of the nine kinds, parsed into its typed model.
#[derive(Clone, Debug)]
pub enum AnyResource {
    Pxc(Box<pxc::PerconaXtraDBCluster>),
    PxcBackup(Box<pxc::PerconaXtraDBClusterBackup>),
    PxcRestore(Box<pxc::PerconaXtraDBClusterRestore>),
    Ps(Box<ps::PerconaServerMySQL>),
    PsBackup(Box<ps::PerconaServerMySQLBackup>),
    PsRestore(Box<ps::PerconaServerMySQLRestore>),
    Pg(Box<pg::PerconaPGCluster>),
    PgBackup(Box<pg::PerconaPGBackup>),
    PgRestore(Box<pg::PerconaPGRestore>),
}

/// Why a document could not be turned into one of our kinds.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("apiVersion and kind are required (got apiVersion {api_version:?}, kind {kind:?})")]
    MissingTypeMeta { api_version: Option<String>, kind: Option<String> },
    #[error("unknown kind {kind} in {api_version}; dbdeck knows: {known}")]
    UnknownKind { api_version: String, kind: String, known: String },
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

/// The group/version and kind of each of the nine kinds, in display order.
pub fn known_kinds() -> Vec<(String, String)> {
    fn gk<K: Resource<DynamicType = ()>>() -> (String, String) {
        (K::api_version(&()).to_string(), K::kind(&()).to_string())
    }
    vec![
        gk::<pxc::PerconaXtraDBCluster>(),
        gk::<pxc::PerconaXtraDBClusterBackup>(),
        gk::<pxc::PerconaXtraDBClusterRestore>(),
        gk::<ps::PerconaServerMySQL>(),
        gk::<ps::PerconaServerMySQLBackup>(),
        gk::<ps::PerconaServerMySQLRestore>(),
        gk::<pg::PerconaPGCluster>(),
        gk::<pg::PerconaPGBackup>(),
        gk::<pg::PerconaPGRestore>(),
    ]
}

/// Longest schema description kept in a CRD. Embedded Kubernetes types (Affinity, Probe, …) carry pages of
/// upstream documentation; kept whole they push the cluster CRDs past what client-side apply can store in its
/// last-applied annotation. Percona trims theirs for the same reason (controller-gen `maxDescLen`).
const MAX_DESCRIPTION: usize = 100;

fn trim_descriptions(node: &mut serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(d)) = map.get_mut("description") {
                // Keep the first sentence, within the limit.
                let first = d.split(". ").next().unwrap_or(d).trim_end_matches('.');
                let mut cut: String = first.chars().take(MAX_DESCRIPTION).collect();
                if cut.len() < first.len() {
                    cut.push('…');
                }
                *d = cut;
            }
            map.values_mut().for_each(trim_descriptions);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(trim_descriptions),
        _ => {}
    }
}

fn trimmed(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for v in &mut crd.spec.versions {
        if let Some(schema) = v.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            if let Ok(mut value) = serde_json::to_value(&*schema) {
                trim_descriptions(&mut value);
                if let Ok(back) = serde_json::from_value(value) {
                    *schema = back;
                }
            }
        }
    }
    crd
}

/// All nine CRDs, in the order `dbdeck crd` prints them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        pxc::PerconaXtraDBCluster::crd(),
        pxc::PerconaXtraDBClusterBackup::crd(),
        pxc::PerconaXtraDBClusterRestore::crd(),
        ps::PerconaServerMySQL::crd(),
        ps::PerconaServerMySQLBackup::crd(),
        ps::PerconaServerMySQLRestore::crd(),
        pg::PerconaPGCluster::crd(),
        pg::PerconaPGBackup::crd(),
        pg::PerconaPGRestore::crd(),
    ]
    .into_iter()
    .map(trimmed)
    .collect()
}

fn typed<K: DeserializeOwned>(value: serde_json::Value) -> Result<K, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "(document)".to_string() } else { path };
        ParseError::Field { path, message: clean_serde_message(&e.into_inner().to_string()) }
    })
}

/// serde's messages carry a " at line X column Y" tail that means nothing for a JSON value.
fn clean_serde_message(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl AnyResource {
    /// Parses one document (already read from YAML or JSON) by its apiVersion and kind.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ParseError> {
        let api_version = value.get("apiVersion").and_then(|v| v.as_str()).map(str::to_string);
        let kind = value.get("kind").and_then(|v| v.as_str()).map(str::to_string);
        let (Some(api_version), Some(kind)) = (api_version.clone(), kind.clone()) else {
            return Err(ParseError::MissingTypeMeta { api_version, kind });
        };
        Ok(match (api_version.as_str(), kind.as_str()) {
            ("pxc.percona.com/v1", "PerconaXtraDBCluster") => Self::Pxc(Box::new(typed(value)?)),
            ("pxc.percona.com/v1", "PerconaXtraDBClusterBackup") => Self::PxcBackup(Box::new(typed(value)?)),
            ("pxc.percona.com/v1", "PerconaXtraDBClusterRestore") => Self::PxcRestore(Box::new(typed(value)?)),
            ("ps.percona.com/v1", "PerconaServerMySQL") => Self::Ps(Box::new(typed(value)?)),
            ("ps.percona.com/v1", "PerconaServerMySQLBackup") => Self::PsBackup(Box::new(typed(value)?)),
            ("ps.percona.com/v1", "PerconaServerMySQLRestore") => Self::PsRestore(Box::new(typed(value)?)),
            ("pgv2.percona.com/v2", "PerconaPGCluster") => Self::Pg(Box::new(typed(value)?)),
            ("pgv2.percona.com/v2", "PerconaPGBackup") => Self::PgBackup(Box::new(typed(value)?)),
            ("pgv2.percona.com/v2", "PerconaPGRestore") => Self::PgRestore(Box::new(typed(value)?)),
            _ => {
                let known =
                    known_kinds().into_iter().map(|(gv, k)| format!("{k} ({gv})")).collect::<Vec<_>>().join(", ");
                return Err(ParseError::UnknownKind { api_version, kind, known });
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pxc(_) => "PerconaXtraDBCluster",
            Self::PxcBackup(_) => "PerconaXtraDBClusterBackup",
            Self::PxcRestore(_) => "PerconaXtraDBClusterRestore",
            Self::Ps(_) => "PerconaServerMySQL",
            Self::PsBackup(_) => "PerconaServerMySQLBackup",
            Self::PsRestore(_) => "PerconaServerMySQLRestore",
            Self::Pg(_) => "PerconaPGCluster",
            Self::PgBackup(_) => "PerconaPGBackup",
            Self::PgRestore(_) => "PerconaPGRestore",
        }
    }

    pub fn name(&self) -> Option<String> {
        match self {
            Self::Pxc(r) => r.meta().name.clone(),
            Self::PxcBackup(r) => r.meta().name.clone(),
            Self::PxcRestore(r) => r.meta().name.clone(),
            Self::Ps(r) => r.meta().name.clone(),
            Self::PsBackup(r) => r.meta().name.clone(),
            Self::PsRestore(r) => r.meta().name.clone(),
            Self::Pg(r) => r.meta().name.clone(),
            Self::PgBackup(r) => r.meta().name.clone(),
            Self::PgRestore(r) => r.meta().name.clone(),
        }
    }

    pub fn validate(&self) -> Problems {
        match self {
            Self::Pxc(r) => r.validate(),
            Self::PxcBackup(r) => r.validate(),
            Self::PxcRestore(r) => r.validate(),
            Self::Ps(r) => r.validate(),
            Self::PsBackup(r) => r.validate(),
            Self::PsRestore(r) => r.validate(),
            Self::Pg(r) => r.validate(),
            Self::PgBackup(r) => r.validate(),
            Self::PgRestore(r) => r.validate(),
        }
    }

    /// Validates and also reports fields of `original` (the document this was parsed from) that the model does
    /// not declare: an API server would silently drop them, which is how a misspelt `sise:` goes unnoticed.
    pub fn validate_document(&self, original: &serde_json::Value) -> Problems {
        let mut problems = Problems::new();
        for path in common::pruned_fields(original, &self.to_value()) {
            problems.push(
                path,
                "unknown field: this kind has no such field, so Kubernetes would drop it (check the spelling)",
            );
        }
        problems.extend(self.validate());
        problems
    }

    /// Serialises back to a JSON value (used by the round-trip tests and the console's YAML view).
    pub fn to_value(&self) -> serde_json::Value {
        fn v<T: Serialize>(t: &T) -> serde_json::Value {
            serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
        }
        match self {
            Self::Pxc(r) => v(r),
            Self::PxcBackup(r) => v(r),
            Self::PxcRestore(r) => v(r),
            Self::Ps(r) => v(r),
            Self::PsBackup(r) => v(r),
            Self::PsRestore(r) => v(r),
            Self::Pg(r) => v(r),
            Self::PgBackup(r) => v(r),
            Self::PgRestore(r) => v(r),
        }
    }
}
