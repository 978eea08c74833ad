//! Just enough Kubernetes protobuf to read what kubectl's typed clients send: `kubectl create namespace`,
//! `create configmap`, `create secret generic` and `create serviceaccount` POST
//! `application/vnd.kubernetes.protobuf` bodies and no JSON fallback exists on their side. Responses stay
//! JSON (kubectl accepts both). Field numbers follow the upstream `generated.proto` files.

use base64::Engine;
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};

/// The 4-byte prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtoError {
    #[error("the protobuf body is truncated or malformed")]
    Malformed,
    #[error("the protobuf body lacks the Kubernetes envelope")]
    NoEnvelope,
    #[error(
        "the sandbox reads protobuf only for Namespace, ConfigMap, Secret, ServiceAccount, DeleteOptions and Eviction, not {0}; send JSON instead (e.g. kubectl apply -f)"
    )]
    Unsupported(String),
}

/// How one field is turned into JSON.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    /// A `map<string,string>`.
    StrMap,
    /// A `map<string,bytes>`, base64 in JSON.
    BytesMap,
    RepeatedStr,
    Time,
    Msg(&'static [Field]),
    RepeatedMsg(&'static [Field]),
}

type Field = (u64, &'static str, Kind);

const OWNER_REFERENCE: &[Field] = &[
    (1, "kind", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "controller", Kind::Bool),
    (7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "generateName", Kind::Str),
    (3, "namespace", Kind::Str),
    (5, "uid", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "generation", Kind::Int),
    (8, "creationTimestamp", Kind::Time),
    (9, "deletionTimestamp", Kind::Time),
    (10, "deletionGracePeriodSeconds", Kind::Int),
    (11, "labels", Kind::StrMap),
    (12, "annotations", Kind::StrMap),
    (13, "ownerReferences", Kind::RepeatedMsg(OWNER_REFERENCE)),
    (14, "finalizers", Kind::RepeatedStr),
];

const LOCAL_OBJECT_REFERENCE: &[Field] = &[(1, "name", Kind::Str)];

const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::StrMap),
    (3, "binaryData", Kind::BytesMap),
    (4, "immutable", Kind::Bool),
];

const SECRET: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::BytesMap),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::StrMap),
    (5, "immutable", Kind::Bool),
];

const NAMESPACE: &[Field] =
    &[(1, "metadata", Kind::Msg(OBJECT_META)), (2, "spec", Kind::Msg(&[(1, "finalizers", Kind::RepeatedStr)]))];

const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (3, "imagePullSecrets", Kind::RepeatedMsg(LOCAL_OBJECT_REFERENCE)),
    (4, "automountServiceAccountToken", Kind::Bool),
];

const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Kind::Int),
    (2, "preconditions", Kind::Msg(&[(1, "uid", Kind::Str), (2, "resourceVersion", Kind::Str)])),
    (3, "orphanDependents", Kind::Bool),
    (4, "propagationPolicy", Kind::Str),
    (5, "dryRun", Kind::RepeatedStr),
];

/// policy/v1 Eviction, as `kubectl drain` posts it to `pods/{name}/eviction`.
const EVICTION: &[Field] = &[(1, "metadata", Kind::Msg(OBJECT_META)), (2, "deleteOptions", Kind::Msg(DELETE_OPTIONS))];

/// One raw field: number and either a varint or a length-delimited payload.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or(ProtoError::Malformed)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(ProtoError::Malformed)
}

/// Splits a message into its fields (fixed-width fields are skipped: none of ours use them).
fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, ProtoError> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let (num, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => out.push((num, Wire::Varint(varint(buf, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| ProtoError::Malformed)?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len()).ok_or(ProtoError::Malformed)?;
                out.push((num, Wire::Bytes(&buf[pos..end])));
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return Err(ProtoError::Malformed),
        }
    }
    if pos > buf.len() {
        return Err(ProtoError::Malformed);
    }
    Ok(out)
}

fn text(b: &[u8]) -> Result<String, ProtoError> {
    String::from_utf8(b.to_vec()).map_err(|_| ProtoError::Malformed)
}

fn map_entry(b: &[u8], value_as_bytes: bool) -> Result<(String, Value), ProtoError> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (num, w) in fields(b)? {
        if let Wire::Bytes(x) = w {
            match num {
                1 => k = text(x)?,
                2 if value_as_bytes => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
                2 => v = json!(text(x)?),
                _ => {}
            }
        }
    }
    Ok((k, v))
}

fn time(b: &[u8]) -> Result<Value, ProtoError> {
    let (mut secs, mut nanos) = (0i64, 0u32);
    for (num, w) in fields(b)? {
        if let Wire::Varint(v) = w {
            match num {
                1 => secs = v as i64,
                2 => nanos = v as u32,
                _ => {}
            }
        }
    }
    let t = DateTime::from_timestamp(secs, nanos).ok_or(ProtoError::Malformed)?;
    Ok(json!(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
}

fn message(b: &[u8], schema: &[Field]) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for (num, w) in fields(b)? {
        let Some((_, name, kind)) = schema.iter().find(|(n, _, _)| *n == num) else { continue };
        let name = name.to_string();
        match (kind, w) {
            (Kind::Str, Wire::Bytes(x)) => {
                out.insert(name, json!(text(x)?));
            }
            (Kind::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Kind::Time, Wire::Bytes(x)) => {
                out.insert(name, time(x)?);
            }
            (Kind::StrMap | Kind::BytesMap, Wire::Bytes(x)) => {
                let (k, v) = map_entry(x, matches!(kind, Kind::BytesMap))?;
                let entry = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = entry.as_object_mut() {
                    m.insert(k, v);
                }
            }
            (Kind::RepeatedStr, Wire::Bytes(x)) => {
                let entry = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = entry.as_array_mut() {
                    a.push(json!(text(x)?));
                }
            }
            (Kind::Msg(inner), Wire::Bytes(x)) => {
                out.insert(name, message(x, inner)?);
            }
            (Kind::RepeatedMsg(inner), Wire::Bytes(x)) => {
                let v = message(x, inner)?;
                let entry = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = entry.as_array_mut() {
                    a.push(v);
                }
            }
            _ => return Err(ProtoError::Malformed),
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed body into the JSON form of the object.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtoError::NoEnvelope)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (num, w) in fields(envelope)? {
        match (num, w) {
            (1, Wire::Bytes(tm)) => {
                for (n, w) in fields(tm)? {
                    match (n, w) {
                        (1, Wire::Bytes(x)) => api_version = text(x)?,
                        (2, Wire::Bytes(x)) => kind = text(x)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        ("v1", "DeleteOptions") | ("meta.k8s.io/v1", "DeleteOptions") => DELETE_OPTIONS,
        ("policy/v1", "Eviction") => EVICTION,
        _ => return Err(ProtoError::Unsupported(format!("{api_version} {kind}"))),
    };
    let mut obj = message(raw, schema)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(num: u64, wire: u64) -> Vec<u8> {
        vec![((num << 3) | wire) as u8]
    }

    fn bytes_field(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = tag(num, 2);
        v.push(payload.len() as u8);
        v.extend_from_slice(payload);
        v
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        [bytes_field(1, k.as_bytes()), bytes_field(2, v)].concat()
    }

    #[test]
    fn decodes_a_secret_as_kubectl_sends_it() {
        let meta = [bytes_field(1, b"creds"), bytes_field(11, &entry("app", b"db"))].concat();
        let secret = [
            bytes_field(1, &meta),
            bytes_field(2, &entry("root", b"pw")),
            bytes_field(3, b"Opaque"),
            [tag(5, 0), vec![1]].concat(),
        ]
        .concat();
        let type_meta = [bytes_field(1, b"v1"), bytes_field(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), bytes_field(1, &type_meta), bytes_field(2, &secret)].concat();
        let obj = decode(&body).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"name": "creds", "labels": {"app": "db"}}, "data": {"root": "cHc="},
                   "type": "Opaque", "immutable": true, "apiVersion": "v1", "kind": "Secret"})
        );
    }

    #[test]
    fn decodes_an_eviction_as_kubectl_drain_sends_it() {
        let meta = [bytes_field(1, b"db-1"), bytes_field(3, b"default")].concat();
        let options = [[tag(1, 0), vec![30]].concat(), bytes_field(4, b"Foreground"), bytes_field(5, b"All")].concat();
        let eviction = [bytes_field(1, &meta), bytes_field(2, &options)].concat();
        let type_meta = [bytes_field(1, b"policy/v1"), bytes_field(2, b"Eviction")].concat();
        let body = [MAGIC.to_vec(), bytes_field(1, &type_meta), bytes_field(2, &eviction)].concat();
        assert_eq!(
            decode(&body).unwrap(),
            json!({"metadata": {"name": "db-1", "namespace": "default"},
                   "deleteOptions": {"gracePeriodSeconds": 30, "propagationPolicy": "Foreground", "dryRun": ["All"]},
                   "apiVersion": "policy/v1", "kind": "Eviction"})
        );
    }

    #[test]
    fn refuses_kinds_and_bodies_it_cannot_read() {
        let type_meta = [bytes_field(1, b"apps/v1"), bytes_field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), bytes_field(1, &type_meta)].concat();
        assert!(matches!(decode(&body), Err(ProtoError::Unsupported(_))));
        assert_eq!(decode(b"{}"), Err(ProtoError::NoEnvelope));
        assert_eq!(decode(&[b'k', b'8', b's', 0, 0x0a, 0x20]), Err(ProtoError::Malformed));
    }
}
