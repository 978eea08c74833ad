//! One backup per cluster at a time: a `coordination.k8s.io` Lease `<kind>-<cluster>-backup-lock`
//! whose holder is the running Backup. A holder that no longer exists or has finished is taken over.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use super::common::kube_time;

/// Who holds the lock now, as far as the caller can tell.
pub enum Holder {
    /// The Lease names a Backup that is still running.
    Running(String),
    /// The Lease names a Backup that is gone or finished (or none).
    Stale,
}

/// Tries to take the lock for `me`. `check` tells whether the current holder still runs.
/// Returns `Ok(None)` when taken (or already held by `me`), `Ok(Some(holder))` when another backup runs.
pub async fn acquire<F, Fut>(api: &Api<Lease>, name: &str, me: &str, check: F) -> Result<Option<String>, kube::Error>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<Holder, kube::Error>>,
{
    let now = kube_time(chrono::Utc::now());
    let fresh = |rv: Option<String>| Lease {
        metadata: ObjectMeta { name: Some(name.to_string()), resource_version: rv, ..Default::default() },
        spec: Some(LeaseSpec {
            holder_identity: Some(me.to_string()),
            acquire_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(now.0)),
            ..Default::default()
        }),
    };
    match api.get_opt(name).await? {
        None => match api.create(&PostParams::default(), &fresh(None)).await {
            Ok(_) => Ok(None),
            // Someone else created it between our get and create: they hold it.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Some(String::from("another backup"))),
            Err(e) => Err(e),
        },
        Some(lease) => {
            let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
            if holder == me {
                return Ok(None);
            }
            if !holder.is_empty()
                && let Holder::Running(h) = check(holder).await?
            {
                return Ok(Some(h));
            }
            // Replace with the resourceVersion we read, so two takers cannot both win.
            match api.replace(name, &PostParams::default(), &fresh(lease.metadata.resource_version.clone())).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Some(String::from("another backup"))),
                Err(e) => Err(e),
            }
        }
    }
}

/// Releases the lock if `me` holds it.
pub async fn release(api: &Api<Lease>, name: &str, me: &str) -> Result<(), kube::Error> {
    let Some(lease) = api.get_opt(name).await? else { return Ok(()) };
    if lease.spec.and_then(|s| s.holder_identity).as_deref() == Some(me) {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
