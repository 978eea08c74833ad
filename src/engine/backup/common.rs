//! What the backup and restore builders of all three kinds share: the error type, owner references,
//! name shortening, env helpers and the JSON → typed conversion.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Why a backup or restore object could not be built. Each message names the object and the field.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("{kind} has no metadata.{field}; it must be read back from the API server before building")]
    MissingMeta { kind: &'static str, field: &'static str },
    #[error("{kind} {name}: {field} is required")]
    MissingField { kind: &'static str, name: String, field: String },
    #[error("{kind} {name}: {field} names storage `{storage}`, which cluster {cluster} does not define")]
    UnknownStorage { kind: &'static str, name: String, field: String, storage: String, cluster: String },
    #[error("{kind} {name}: {field} {message}")]
    InvalidField { kind: &'static str, name: String, field: String, message: String },
    #[error("{object}: the value at `{path}` does not fit the Kubernetes type: {message}")]
    Shape { object: String, path: String, message: String },
}

/// The identity of the object a Job belongs to (a Backup or Restore CR).
#[derive(Clone, Debug)]
pub struct ObjectId {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

impl ObjectId {
    pub fn from_meta(
        kind: &'static str,
        api_version: &'static str,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> Result<Self, BuildError> {
        let get = |v: &Option<String>, field| v.clone().ok_or(BuildError::MissingMeta { kind, field });
        Ok(Self {
            kind,
            api_version,
            name: get(&meta.name, "name")?,
            namespace: get(&meta.namespace, "namespace")?,
            uid: get(&meta.uid, "uid")?,
        })
    }

    /// The controller owner reference: the Job is garbage-collected with its CR.
    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    pub fn missing(&self, field: impl Into<String>) -> BuildError {
        BuildError::MissingField { kind: self.kind, name: self.name.clone(), field: field.into() }
    }

    pub fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> BuildError {
        BuildError::InvalidField {
            kind: self.kind,
            name: self.name.clone(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Kubernetes names of Jobs (and the pods' `job-name` label) must fit in 63 characters. A name that
/// does not is cut and given a short hash of the full name, so two long names stay distinct.
pub fn fit63(name: &str) -> String {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return name.to_string();
    }
    let hash = short_hash(name.as_bytes(), 6);
    let mut cut: String = name.chars().take(MAX - 7).collect();
    while cut.ends_with('-') || cut.ends_with('.') {
        cut.pop();
    }
    format!("{cut}-{hash}")
}

/// The first `len` hex characters of SHA-256 over `bytes`.
pub fn short_hash(bytes: &[u8], len: usize) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(digest).chars().take(len).collect()
}

pub fn env(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

pub fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

pub fn optional_secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": true}}})
}

pub fn mount(name: &str, path: &str) -> Value {
    json!({"name": name, "mountPath": path})
}

pub fn secret_volume(name: &str, secret: &str, optional: bool) -> Value {
    json!({"name": name, "secret": {"secretName": secret, "optional": optional, "defaultMode": 420}})
}

/// Turns a JSON description into its typed object, naming the object and the path when a
/// user-written free-form value (security context, affinity …) does not fit the Kubernetes type.
pub fn typed<T: DeserializeOwned>(object: &str, mut v: Value) -> Result<T, BuildError> {
    prune_nulls(&mut v);
    if let Ok(t) = T::deserialize(&v) {
        return Ok(t);
    }
    serde_path_to_error::deserialize(v).map_err(|e| BuildError::Shape {
        object: object.to_string(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Serialises a typed fragment (k8s-openapi types and our API types always serialise).
pub fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Drops `null` members so optional fields disappear instead of being sent as null.
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// A Kubernetes timestamp as chrono time.
pub fn chrono_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// chrono time as a Kubernetes timestamp.
pub fn kube_time(t: chrono::DateTime<chrono::Utc>) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let ts = k8s_openapi::jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32).unwrap_or_default();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts)
}

/// Splits `bucket/prefix/more` into (`bucket`, `prefix/more`); the prefix may be empty.
pub fn split_bucket(bucket: &str) -> (&str, &str) {
    let trimmed = bucket.trim_matches('/');
    match trimmed.split_once('/') {
        Some((b, p)) => (b, p.trim_matches('/')),
        None => (trimmed, ""),
    }
}

/// `scheme://bucket[/prefix]/leaf`.
pub fn url(scheme: &str, bucket: &str, prefix: Option<&str>, leaf: &str) -> String {
    let (b, inner) = split_bucket(bucket);
    let mut parts: Vec<&str> = vec![b];
    for p in [inner, prefix.unwrap_or("").trim_matches('/')] {
        if !p.is_empty() {
            parts.push(p);
        }
    }
    parts.push(leaf);
    format!("{scheme}://{}", parts.join("/"))
}

/// Splits `scheme://bucket/path` into (`bucket`, `path`).
pub fn parse_url(destination: &str) -> Option<(&str, &str)> {
    let (_, rest) = destination.split_once("://")?;
    Some(split_bucket(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_to_63_with_a_hash() {
        let long = format!("xb-{}", "a".repeat(80));
        let n = fit63(&long);
        assert_eq!(n.len(), 63);
        assert!(n.starts_with("xb-aaaa"));
        assert_ne!(fit63(&format!("{long}b")), n, "different long names stay distinct");
        assert_eq!(fit63("xb-short"), "xb-short");
    }

    #[test]
    fn urls_join_bucket_prefix_and_leaf() {
        assert_eq!(url("s3", "bucket", None, "c-x-full"), "s3://bucket/c-x-full");
        assert_eq!(url("s3", "bucket/pre/", Some("more"), "leaf"), "s3://bucket/pre/more/leaf");
        assert_eq!(parse_url("s3://bucket/pre/leaf"), Some(("bucket", "pre/leaf")));
        assert_eq!(parse_url("pvc/xb-a"), None);
    }
}
