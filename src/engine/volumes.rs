//! Growing the data volumes of a StatefulSet-based cluster (PXC, PS), as Percona's operators do.
//!
//! A StatefulSet's `volumeClaimTemplates` cannot change (the API server answers 422), so applying a
//! larger size would fail and hold every other change back. Instead each claim is grown in place;
//! while that runs the StatefulSet keeps its old claim template (other changes still roll out), and
//! once every claim reports the new capacity the StatefulSet is deleted with
//! `propagationPolicy=Orphan` — its pods keep running — and created anew with the new template,
//! adopting them. Claims are never shrunk; a StorageClass without `allowVolumeExpansion` is named.

use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::apply::retrying;
use super::context::Context;
use super::error::ReconcileError;
use crate::api::common::parse_quantity;

/// Percona's annotation on the cluster while its claims grow (the value is when the resize began, RFC 3339).
pub const ANNOTATION_RESIZE: &str = "percona.com/pvc-resize-in-progress";

/// How often a resize in progress is looked at: claims are not watched, so their capacity is polled.
pub const RESIZE_POLL: Duration = Duration::from_secs(3);

/// Which StatefulSet and claim template of a cluster hold its data, and what its spec asks.
pub struct Target<'a> {
    pub namespace: &'a str,
    /// The StatefulSet, e.g. `shop-db-pxc`.
    pub sts: String,
    /// The claim template's name (`datadir`); claims are `<template>-<sts>-<ordinal>`.
    pub template: &'static str,
    /// The spec field the size comes from, for messages.
    pub field: &'static str,
    /// The cluster's size in the spec: claims of ordinals below it are grown.
    pub size: i32,
    /// The spec switch that allows growing claims, and whether it is on.
    pub expansion_field: &'static str,
    pub expansion_enabled: bool,
}

/// Something the status should say about the volumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub message: String,
    /// The spec cannot be satisfied (the state becomes `error`); other changes are still applied.
    pub error: bool,
    /// Event reason when the note is new.
    pub reason: &'static str,
}

/// What the reconcile does with its desired set after looking at the volumes.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Apply the desired set (its claim template possibly kept at the live size); look again after `requeue`.
    Apply { note: Option<Note>, requeue: Option<Duration> },
    /// The StatefulSet is going away to be re-created with the new claim template: apply nothing now.
    Recreating { note: Note },
    /// The spec asks for a smaller volume than the claims have: touch nothing.
    Refuse(String),
}

/// One claim as the decision needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub name: String,
    /// `spec.resources.requests.storage` in bytes.
    pub request: f64,
    /// `status.capacity.storage` in bytes (the request while unbound) and as written.
    pub capacity: f64,
    pub capacity_text: String,
    pub class: Option<String>,
}

impl Claim {
    fn from_pvc(pvc: &PersistentVolumeClaim) -> Option<Claim> {
        let spec = pvc.spec.as_ref()?;
        let request_text = spec.resources.as_ref()?.requests.as_ref()?.get("storage")?.0.clone();
        let request = parse_quantity(&request_text).ok()?;
        let capacity_text = pvc
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or(request_text);
        let capacity = parse_quantity(&capacity_text).ok()?;
        Some(Claim { name: pvc.name_any(), request, capacity, capacity_text, class: spec.storage_class_name.clone() })
    }
}

/// The pure decision, from the sizes: what to do next.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// The claim template already asks what the spec asks, and no claim is short of it.
    Nothing,
    /// Every claim is large enough; only the StatefulSet's template is behind.
    Recreate,
    /// The spec asks for less than a claim has and than the template says.
    Shrink { largest: String },
    /// Claims to grow (those whose request is below the spec's) and how many are there already.
    Grow { patch: Vec<String>, done: usize, total: usize },
}

pub fn plan(requested: &str, configured: &str, claims: &[Claim]) -> Plan {
    let (Ok(req), Ok(conf)) = (parse_quantity(requested), parse_quantity(configured)) else {
        return Plan::Nothing;
    };
    let largest = claims.iter().max_by(|a, b| a.capacity.total_cmp(&b.capacity));
    if let Some(big) = largest
        && req < big.capacity
        && req < conf
    {
        return Plan::Shrink { largest: big.capacity_text.clone() };
    }
    let short: Vec<&Claim> = claims.iter().filter(|c| c.capacity < req).collect();
    if short.is_empty() {
        return if requested == configured { Plan::Nothing } else { Plan::Recreate };
    }
    Plan::Grow {
        patch: short.iter().filter(|c| c.request < req).map(|c| c.name.clone()).collect(),
        done: claims.len() - short.len(),
        total: claims.len(),
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// The desired StatefulSet's claim template storage, mutable.
fn desired_storage<'v>(desired: &'v mut [Value], t: &Target<'_>) -> Option<&'v mut Value> {
    let sts = desired.iter_mut().find(|o| {
        o.get("kind").and_then(Value::as_str) == Some("StatefulSet")
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(t.sts.as_str())
    })?;
    let templates = sts.pointer_mut("/spec/volumeClaimTemplates")?.as_array_mut()?;
    let tpl = templates.iter_mut().find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(t.template))?;
    tpl.pointer_mut("/spec/resources/requests/storage")
}

fn live_storage(sts: &StatefulSet, template: &str) -> Option<String> {
    let tpl = sts.spec.as_ref()?.volume_claim_templates.as_ref()?.iter().find(|c| c.name_any() == template)?;
    Some(tpl.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage")?.0.clone())
}

/// Looks at the live StatefulSet and claims, takes the resize step that is due (annotate the cluster,
/// grow claims, delete the StatefulSet orphaning its pods) and adjusts `desired` so that applying it
/// never asks the API server to change a claim template.
pub async fn prepare<K>(ctx: &Context, cr: &K, t: &Target<'_>, desired: &mut [Value]) -> Result<Step, ReconcileError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let apply = Step::Apply { note: None, requeue: None };
    let Some(requested) = desired_storage(desired, t).and_then(|v| v.as_str().map(str::to_string)) else {
        return Ok(apply);
    };
    let ns = t.namespace;
    let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let live = retrying(Default::default(), || sts_api.get_opt(&t.sts))
        .await
        .map_err(|e| ReconcileError::kube(format!("reading StatefulSet {ns}/{}", t.sts), e))?;
    let Some(live) = live else {
        set_annotation(ctx, cr, false).await?;
        return Ok(apply);
    };
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(Step::Recreating { note: recreating_note(t, &requested) });
    }
    let Some(configured) = live_storage(&live, t.template) else { return Ok(apply) };

    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let mut claims = Vec::new();
    for ordinal in 0..t.size.max(0) {
        let name = format!("{}-{}-{ordinal}", t.template, t.sts);
        let pvc = retrying(Default::default(), || pvc_api.get_opt(&name))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading PersistentVolumeClaim {ns}/{name}"), e))?;
        claims.extend(pvc.as_ref().and_then(Claim::from_pvc));
    }

    let names = |list: &[String]| list.join(", ");
    match plan(&requested, &configured, &claims) {
        Plan::Nothing => {
            set_annotation(ctx, cr, false).await?;
            Ok(apply)
        }
        Plan::Shrink { largest } => Ok(Step::Refuse(format!(
            "{}: {requested} is smaller than the {largest} the claims of StatefulSet {ns}/{} already have; \
             volumes cannot shrink, so nothing was changed: set it to {configured} or more",
            t.field, t.sts
        ))),
        Plan::Recreate => {
            let uid = live.uid().unwrap_or_default();
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Orphan),
                preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }),
                ..Default::default()
            };
            match sts_api.delete(&t.sts, &dp).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                Err(e) => {
                    return Err(ReconcileError::kube(
                        format!("deleting StatefulSet {ns}/{} (orphaning pods)", t.sts),
                        e,
                    ));
                }
            }
            set_annotation(ctx, cr, false).await?;
            let all: Vec<String> = claims.iter().map(|c| c.name.clone()).collect();
            ctx.event(
                cr,
                false,
                "VolumesResized",
                "Resize",
                format!(
                    "claims {} are at {requested}; re-creating StatefulSet {} with the new claim template, its pods \
                     keep running",
                    names(&all),
                    t.sts
                ),
            )
            .await;
            Ok(Step::Recreating { note: recreating_note(t, &requested) })
        }
        Plan::Grow { patch, done, total } => {
            // Until every claim has grown, the StatefulSet keeps the template it has.
            if let Some(v) = desired_storage(desired, t) {
                *v = json!(configured);
            }
            if !t.expansion_enabled {
                set_annotation(ctx, cr, false).await?;
                let note = Note {
                    message: format!(
                        "{} asks for {requested} but volume expansion is off ({} is not true): the claims stay at \
                         {configured} and the other changes are applied; set {} to true to grow them",
                        t.field, t.expansion_field, t.expansion_field
                    ),
                    error: false,
                    reason: "VolumeExpansionDisabled",
                };
                return Ok(Step::Apply { note: Some(note), requeue: None });
            }
            let blocked = |detail: String| Step::Apply {
                note: Some(Note {
                    message: format!(
                        "{detail}, so the claims of StatefulSet {ns}/{} cannot grow from {configured} to {requested} \
                         as {} asks; set it back to {configured}, or allow expansion on the class (the other \
                         changes are applied with the current size)",
                        t.sts, t.field
                    ),
                    error: true,
                    reason: "VolumeResizeFailed",
                }),
                requeue: None,
            };
            if let Some(detail) = class_refusal(ctx, &claims, &patch).await {
                set_annotation(ctx, cr, false).await?;
                return Ok(blocked(detail));
            }
            if !patch.is_empty() {
                set_annotation(ctx, cr, true).await?;
            }
            for name in &patch {
                let body = json!({"spec": {"resources": {"requests": {"storage": requested}}}});
                match pvc_api.patch(name, &PatchParams::default(), &Patch::Merge(&body)).await {
                    Ok(_) => {}
                    // The resize admission plugin refused (a class without expansion we could not read, a quota).
                    Err(kube::Error::Api(s)) if s.code == 403 => {
                        set_annotation(ctx, cr, false).await?;
                        return Ok(blocked(format!("growing claim {name} was refused: {}", s.message)));
                    }
                    Err(e) => {
                        return Err(ReconcileError::kube(format!("growing PersistentVolumeClaim {ns}/{name}"), e));
                    }
                }
            }
            if !patch.is_empty() {
                ctx.event(
                    cr,
                    false,
                    "ResizingVolumes",
                    "Resize",
                    format!("growing claims {} from {configured} to {requested} ({})", names(&patch), t.field),
                )
                .await;
            }
            let note = Note {
                message: format!("resizing volumes: {done} of {total} claims at {requested}"),
                error: false,
                reason: "ResizingVolumes",
            };
            Ok(Step::Apply { note: Some(note), requeue: Some(RESIZE_POLL) })
        }
    }
}

fn recreating_note(t: &Target<'_>, requested: &str) -> Note {
    Note {
        message: format!(
            "resizing volumes: every claim is at {requested}; re-creating StatefulSet {} with the new claim template \
             (its pods keep running)",
            t.sts
        ),
        error: false,
        reason: "ResizingVolumes",
    }
}

/// Why the StorageClass of a claim to grow does not allow it, when it can be read; `None` lets the API
/// server decide (a namespaced install may not read StorageClasses).
async fn class_refusal(ctx: &Context, claims: &[Claim], patch: &[String]) -> Option<String> {
    let api: Api<StorageClass> = Api::all(ctx.client.clone());
    for claim in claims.iter().filter(|c| patch.contains(&c.name)) {
        let Some(class) = claim.class.as_deref().filter(|c| !c.is_empty()) else {
            return Some(format!(
                "claim {} has no StorageClass (a statically bound volume cannot be expanded)",
                claim.name
            ));
        };
        match retrying(Default::default(), || api.get_opt(class)).await {
            Ok(Some(sc)) if sc.allow_volume_expansion != Some(true) => {
                return Some(format!(
                    "StorageClass {class:?} of claim {} does not allow volume expansion (allowVolumeExpansion is {})",
                    claim.name,
                    sc.allow_volume_expansion.map_or("unset".to_string(), |b| b.to_string())
                ));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Some(format!("StorageClass {class:?} of claim {} does not exist", claim.name)),
            Err(e) => tracing::debug!(class, error = %e, "StorageClass not readable; the API server decides"),
        }
    }
    None
}

/// Sets (with the time) or removes Percona's resize annotation on the cluster, only when that changes it.
async fn set_annotation<K>(ctx: &Context, cr: &K, on: bool) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    if cr.annotations().contains_key(ANNOTATION_RESIZE) == on {
        return Ok(());
    }
    let ns = cr.namespace().unwrap_or_default();
    let name = cr.name_any();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let value =
        if on { json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) } else { Value::Null };
    let body = json!({"metadata": {"annotations": {ANNOTATION_RESIZE: value}}});
    let params = PatchParams::default();
    let patch = Patch::Merge(&body);
    retrying(Default::default(), || api.patch(&name, &params, &patch))
        .await
        .map_err(|e| ReconcileError::kube(format!("annotating {ns}/{name} with {ANNOTATION_RESIZE}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(name: &str, request: &str, capacity: &str) -> Claim {
        Claim {
            name: name.into(),
            request: parse_quantity(request).unwrap(),
            capacity: parse_quantity(capacity).unwrap(),
            capacity_text: capacity.into(),
            class: Some("standard".into()),
        }
    }

    #[test]
    fn growing_patches_only_claims_not_yet_asked() {
        let claims = [claim("d-0", "20G", "10G"), claim("d-1", "10G", "10G"), claim("d-2", "20G", "20G")];
        assert_eq!(plan("20G", "10G", &claims), Plan::Grow { patch: vec!["d-1".into()], done: 1, total: 3 });
    }

    #[test]
    fn every_claim_grown_means_re_create_once() {
        let claims = [claim("d-0", "20G", "20G"), claim("d-1", "20G", "20G")];
        assert_eq!(plan("20G", "10G", &claims), Plan::Recreate);
        assert_eq!(plan("20G", "20G", &claims), Plan::Nothing);
        // A provider that rounds up (20G asked, 20Gi given) counts as grown.
        assert_eq!(plan("20G", "10G", &[claim("d-0", "20G", "20Gi")]), Plan::Recreate);
    }

    #[test]
    fn shrinking_is_refused_but_claims_grown_by_hand_are_left_alone() {
        let claims = [claim("d-0", "10G", "10G")];
        assert_eq!(plan("5G", "10G", &claims), Plan::Shrink { largest: "10G".into() });
        // Claims grown outside the cluster's spec: the template already says what the spec says.
        let big = [claim("d-0", "30G", "30G")];
        assert_eq!(plan("10G", "10G", &big), Plan::Nothing);
        assert_eq!(plan("20G", "10G", &big), Plan::Recreate);
    }

    #[test]
    fn a_grown_request_waiting_for_capacity_is_progress_not_a_new_patch() {
        let claims = [claim("d-0", "20G", "10G"), claim("d-1", "20G", "10G")];
        assert_eq!(plan("20G", "10G", &claims), Plan::Grow { patch: vec![], done: 0, total: 2 });
    }
}
