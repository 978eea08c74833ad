//! Moving Patroni's leader off a pod before the engine deletes that pod (a rolling update's last step, or the
//! removal of the instance set the primary is in), as Percona's operator does with `patronictl switchover`.
//!
//! The engine asks the leader's Patroni over its REST API (reached like the probes reach databases), picks
//! the healthiest allowed replica Patroni lists, waits for Patroni to confirm the new leader, and only then
//! lets the caller delete the old primary. Anything less — Patroni unreachable, no healthy replica — is an
//! error: the primary keeps running and the reason goes into an Event and the retry backoff.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::ResourceExt;
use kube::api::Api;

use super::meta::Context as Names;
use super::patroni_api::{Member, PatroniApi, PatroniError, pick_candidate};
use super::secrets::replication_cert_name;
use crate::api::pg::PerconaPGCluster;
use crate::engine::Context;
use crate::engine::apply::retrying;
use crate::engine::error::ReconcileError;

/// How long the engine waits for Patroni to report the candidate as leader after a switchover answered.
const CONFIRM_WITHIN: Duration = Duration::from_secs(20);

/// What happened to the leadership.
#[derive(Debug, PartialEq)]
pub enum Moved {
    /// The engine asked and Patroni moved the leader to `to`.
    Switched { to: String },
    /// Patroni already had another leader (the role label was stale).
    Already { leader: String },
}

fn failed(cr: &PerconaPGCluster, pod: &str, reason: impl std::fmt::Display) -> ReconcileError {
    let ns = cr.namespace().unwrap_or_default();
    ReconcileError::Blocked(format!(
        "PerconaPGCluster {ns}/{}: switchover away from the primary {pod} failed, so it is not restarted: {reason}",
        cr.name_any()
    ))
}

/// Makes sure `primary` no longer leads, moving the leadership to one of `candidates` (pods, all Ready).
pub async fn move_leader_off(
    ctx: &Context,
    cr: &PerconaPGCluster,
    primary: &Pod,
    candidates: &[Pod],
) -> Result<Moved, ReconcileError> {
    let old = primary.name_any();
    let names = Names::new(cr).map_err(|e| failed(cr, &old, e))?;
    // The replication client certificate: issued by the CA Patroni's API trusts (`restapi.cafile`), with the
    // client-auth usage a switchover request needs.
    let cert_secret = replication_cert_name(&names);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let secret = retrying(Default::default(), || secrets.get_opt(&cert_secret))
        .await
        .map_err(|e| failed(cr, &old, format!("cannot read Secret {cert_secret}: {e}")))?
        .ok_or_else(|| {
            failed(cr, &old, format!("Secret {cert_secret} (the client certificate for Patroni) is missing"))
        })?;
    let key = |k: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| b.0.clone())
            .ok_or_else(|| failed(cr, &old, format!("Secret {cert_secret} has no {k}")))
    };
    let (ca, crt, tls_key) = (key("ca.crt")?, key("tls.crt")?, key("tls.key")?);
    let port =
        u16::try_from(names.patroni_port()).map_err(|_| failed(cr, &old, "spec.patroni.port is out of range"))?;
    let api_of = |pod: &Pod| -> Result<PatroniApi, ReconcileError> {
        let addr = ctx.reacher.reach(pod, port).map_err(|e| failed(cr, &old, e))?;
        let server = names.pod_fqdn(&pod.name_any());
        PatroniApi::new(addr, server.trim_end_matches('.'), &ca, (&crt, &tls_key), &cert_secret)
            .map_err(|e| failed(cr, &old, e))
    };

    let leader_api = api_of(primary)?;
    let members = leader_api.cluster().await.map_err(|e| failed(cr, &old, e))?;
    if let Some(leader) = members.iter().find(|m| m.is_leader())
        && leader.name != old
    {
        return Ok(Moved::Already { leader: leader.name.clone() });
    }
    let allowed: Vec<String> = candidates.iter().map(|p| p.name_any()).collect();
    let candidate = pick_candidate(&members, &allowed).ok_or_else(|| {
        failed(
            cr,
            &old,
            format!(
                "Patroni lists no streaming replica among the updated instances ({})",
                describe(&members, &allowed)
            ),
        )
    })?;
    let to = candidate.name.clone();
    tracing::info!(cluster = %cr.name_any(), from = %old, to = %to, "asking Patroni for a switchover");
    leader_api.switchover(&old, &to).await.map_err(|e| failed(cr, &old, e))?;

    // Patroni answers once the promotion went through; confirm through the new leader's own view.
    let new_api = candidates.iter().find(|p| p.name_any() == to).map(api_of).transpose()?;
    let deadline = tokio::time::Instant::now() + CONFIRM_WITHIN;
    let mut last: Result<Vec<Member>, PatroniError>;
    loop {
        last = match &new_api {
            Some(api) => api.cluster().await,
            None => leader_api.cluster().await,
        };
        if let Ok(members) = &last
            && members.iter().any(|m| m.is_leader() && m.name == to)
        {
            return Ok(Moved::Switched { to });
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let seen = match last {
        Ok(m) => describe(&m, &allowed),
        Err(e) => e.to_string(),
    };
    Err(failed(cr, &old, format!("Patroni accepted the switchover to {to} but does not show it as leader: {seen}")))
}

fn describe(members: &[Member], allowed: &[String]) -> String {
    let listed: Vec<String> = members.iter().map(|m| format!("{} {} {}", m.name, m.role, m.state)).collect();
    format!("members: {}; updated: {}", listed.join(", "), allowed.join(", "))
}
