//! The PG controller's *dereference* step: read what the build needs from the cluster (instance suffixes in
//! use, user passwords, generated Secrets, the root CA) and generate only what is missing.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::meta::{self, L_CLUSTER, L_INSTANCE, L_INSTANCE_SET, L_ROLE};
use super::secrets::{
    CertPair, PasswordKind, SCRAM_ITERATIONS, UserCredentials, Validity, generate_instance_suffix,
    generate_user_credentials, issue_certificates, scram_sha256_verifier,
};
use super::{PgBuildInputs, effective_spec, instance_counts, users};
use crate::api::pg::PerconaPGCluster;
use crate::engine::apply::retrying;
use crate::engine::error::ReconcileError;

/// Patroni's leader label values: `master` up to Patroni 3 (Crunchy < 5.5), `primary` after.
pub const PRIMARY_ROLES: [&str; 2] = ["master", "primary"];

/// What dereference found, beyond the build inputs.
pub struct Found {
    pub inputs: PgBuildInputs,
    /// Generated Secrets that exist and stay as they are (the build leaves them out, the sweep must keep them).
    pub kept_secrets: BTreeSet<String>,
    /// Secrets that hold what a user needs after the cluster is gone (the users' passwords): applied without
    /// an owner reference, so only a finalizer removes them.
    pub unowned_secrets: BTreeSet<String>,
    /// The cluster's pods as listed before the apply (the primary's removal needs a switchover first).
    pub pods: Vec<Pod>,
}

/// The cluster's own certificate Secrets (those a custom Secret does not replace).
pub fn certificate_secret_names(cr: &PerconaPGCluster) -> Vec<String> {
    let name = cr.name_any();
    let custom = effective_spec(cr).secrets.unwrap_or_default();
    let mut out = Vec::new();
    if custom.custom_root_ca_tls_secret.is_none() {
        out.push(format!("{name}-cluster-ca-cert"));
    }
    if custom.custom_tls_secret.is_none() {
        out.push(format!("{name}-cluster-cert"));
    }
    if custom.custom_replication_tls_secret.is_none() {
        out.push(format!("{name}-replication-cert"));
    }
    out
}

/// `<c>-pguser-<user>` (or the user's `secretName`) of every user of the cluster.
pub fn user_secret_names(cr: &PerconaPGCluster) -> Result<Vec<(String, String)>, ReconcileError> {
    let ctx = meta::Context::new(cr).map_err(|e| ReconcileError::Build(e.to_string()))?;
    Ok(users::effective_users(&ctx.spec, &ctx.name)
        .into_iter()
        .map(|u| (u.name.clone(), users::secret_name(&ctx, &u)))
        .collect())
}

/// The 4-character suffix of an instance StatefulSet `<c>-<set>-<xxxx>`.
fn suffix_of(cluster: &str, set: &str, sts: &str) -> Option<String> {
    let s = sts.strip_prefix(&format!("{cluster}-{set}-"))?;
    (s.len() == 4 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())).then(|| s.to_string())
}

/// The instance Patroni marks as leader, if any pod carries the label; never guessed.
pub fn primary_instance(pods: &[Pod]) -> Option<String> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .find(|p| p.labels().get(L_ROLE).is_some_and(|r| PRIMARY_ROLES.contains(&r.as_str())))
        .and_then(|p| p.labels().get(L_INSTANCE).cloned())
}

/// Per set, the suffixes in use in keep order: the primary's instance first, then the oldest. `build` keeps
/// the first `replicas` of them, so a scale-down drops the newest replicas and never the primary.
pub fn suffixes_in_use(
    cluster: &str,
    owner_uid: &str,
    statefulsets: &[StatefulSet],
    primary: Option<&str>,
) -> BTreeMap<String, Vec<String>> {
    let mut per_set: BTreeMap<String, Vec<&StatefulSet>> = BTreeMap::new();
    for sts in statefulsets {
        let owned = sts.owner_references().iter().any(|r| r.uid == owner_uid);
        if let (true, Some(set)) = (owned, sts.labels().get(L_INSTANCE_SET)) {
            per_set.entry(set.clone()).or_default().push(sts);
        }
    }
    per_set
        .into_iter()
        .map(|(set, mut list)| {
            list.sort_by_key(|s| {
                let created = s.metadata.creation_timestamp.as_ref().map(|t| t.0);
                (Some(s.name_any().as_str()) != primary, created, s.name_any())
            });
            let suffixes = list.iter().filter_map(|s| suffix_of(cluster, &set, &s.name_any())).collect();
            (set, suffixes)
        })
        .collect()
}

/// Appends, per set, the suffixes of data volumes no instance uses (left by a scale-down or a deleted CR),
/// so new instances reopen existing data before fresh names are drawn, as Crunchy does.
pub fn add_volume_suffixes(
    cluster: &str,
    suffixes: &mut BTreeMap<String, Vec<String>>,
    claims: &[PersistentVolumeClaim],
) {
    let mut free: Vec<(String, String)> = claims
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .filter(|c| c.labels().get(L_ROLE).map(String::as_str) == Some("pgdata"))
        .filter_map(|c| {
            let set = c.labels().get(L_INSTANCE_SET)?;
            let instance = c.labels().get(L_INSTANCE)?;
            Some((set.clone(), suffix_of(cluster, set, instance)?))
        })
        .collect();
    free.sort();
    for (set, suffix) in free {
        let list = suffixes.entry(set).or_default();
        if !list.contains(&suffix) {
            list.push(suffix);
        }
    }
}

/// True when `verifier` is a SCRAM-SHA-256 verifier of `password` (recomputed with its own salt).
fn verifier_matches(verifier: &str, password: &str) -> bool {
    use base64::Engine as _;
    let parse = || -> Option<(u32, Vec<u8>)> {
        let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
        let (params, _) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        Some((iterations.parse().ok()?, base64::engine::general_purpose::STANDARD.decode(salt).ok()?))
    };
    parse().is_some_and(|(iterations, salt)| scram_sha256_verifier(password, &salt, iterations) == verifier)
}

/// `2160h` (Go duration in hours, as Percona writes them) in whole days.
fn duration_days(text: Option<&str>) -> Option<u64> {
    let hours: u64 = text?.strip_suffix('h')?.parse().ok()?;
    Some((hours / 24).max(1))
}

fn text(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

/// Reads the cluster's state and assembles the build inputs, generating passwords, suffixes and
/// certificates only for what does not exist yet.
pub async fn dereference(client: &kube::Client, cr: &PerconaPGCluster) -> Result<Found, ReconcileError> {
    let name = cr.name_any();
    let ns = cr.namespace().unwrap_or_default();
    let uid = cr.uid().unwrap_or_default();
    let spec = effective_spec(cr);
    let lp = ListParams::default().labels(&format!("{L_CLUSTER}={name}"));

    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let statefulsets = retrying(Default::default(), || sts_api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing StatefulSets of PerconaPGCluster {ns}/{name}"), e))?
        .items;
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pods = retrying(Default::default(), || pod_api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing pods of PerconaPGCluster {ns}/{name}"), e))?
        .items;
    let primary = primary_instance(&pods);
    let mut instance_suffixes = suffixes_in_use(&name, &uid, &statefulsets, primary.as_deref());
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let claims = retrying(Default::default(), || pvc_api.list(&lp))
        .await
        .map_err(|e| ReconcileError::kube(format!("listing PVCs of PerconaPGCluster {ns}/{name}"), e))?
        .items;
    add_volume_suffixes(&name, &mut instance_suffixes, &claims);

    let secret_api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let read = async |n: &str| {
        retrying(Default::default(), || secret_api.get_opt(n))
            .await
            .map_err(|e| ReconcileError::kube(format!("reading Secret {ns}/{n}"), e))
    };

    let user_secrets = user_secret_names(cr)?;
    let mut existing_users = BTreeMap::new();
    for (user, secret) in &user_secrets {
        if let Some(s) = read(secret).await?
            && let Some(password) = text(&s, "password")
        {
            existing_users.insert(user.clone(), (password, text(&s, "verifier")));
        }
    }

    let bouncer_secret = format!("{name}-pgbouncer");
    let backrest_secret = format!("{name}-pgbackrest");
    let mut generated = certificate_secret_names(cr);
    let bouncer_on = spec.proxy.as_ref().and_then(|p| p.pg_bouncer.as_ref()).is_some();
    if bouncer_on {
        generated.push(bouncer_secret.clone());
    }
    if spec.backups.as_ref().is_none_or(|b| b.is_enabled()) {
        generated.push(backrest_secret.clone());
    }
    let mut existing_secrets = BTreeSet::new();
    for n in &generated {
        if read(n).await?.is_some() {
            existing_secrets.insert(n.clone());
        }
    }

    // New leaves must chain to the CA clients already trust: the user's custom root CA, else ours.
    let need_certs = generated.iter().any(|n| !existing_secrets.contains(n));
    let mut ca = None;
    if need_certs {
        let custom = spec.secrets.as_ref().and_then(|s| s.custom_root_ca_tls_secret.clone());
        let (ca_secret, cert_key, key_key) = match &custom {
            Some(p) => {
                // The projection's items say which keys become root.crt / root.key.
                let key_for = |path: &str| {
                    p.items.iter().flatten().find(|i| i.path == path).map(|i| i.key.clone()).unwrap_or(path.into())
                };
                (p.name.clone(), key_for("root.crt"), key_for("root.key"))
            }
            None => (format!("{name}-cluster-ca-cert"), "root.crt".to_string(), "root.key".to_string()),
        };
        if let Some(s) = read(&ca_secret).await? {
            ca = match (text(&s, &cert_key), text(&s, &key_key)) {
                (Some(cert_pem), Some(key_pem)) => Some(CertPair { cert_pem, key_pem }),
                _ => None,
            };
        } else if custom.is_some() {
            tracing::warn!(cluster = %name, secret = %ca_secret, "custom root CA Secret not found; issuing from a new CA");
        }
    }

    // Everything below draws randomness; no await from here on (the generator is not Send).
    let mut rng = rand::rng();
    let mut taken: BTreeSet<String> = instance_suffixes.values().flatten().cloned().collect();
    for (set, needed) in instance_counts(cr) {
        let list = instance_suffixes.entry(set).or_default();
        while list.len() < needed {
            let s = generate_instance_suffix(&mut rng, &taken);
            taken.insert(s.clone());
            list.push(s);
        }
    }
    let mut users_in = BTreeMap::new();
    for user in users::effective_users(&spec, &name) {
        let kind = PasswordKind::from_spec(user.password.as_ref().map(|p| p.type_.as_str()));
        let creds = match existing_users.remove(&user.name) {
            Some((password, Some(verifier))) if verifier_matches(&verifier, &password) => {
                UserCredentials { password, verifier }
            }
            // A password set by hand keeps working: only its verifier is (re)computed.
            Some((password, _)) => {
                let mut salt = [0u8; 16];
                rand::Rng::fill(&mut rng, &mut salt);
                let verifier = scram_sha256_verifier(&password, &salt, SCRAM_ITERATIONS);
                UserCredentials { password, verifier }
            }
            None => generate_user_credentials(&mut rng, kind),
        };
        users_in.insert(user.name.clone(), creds);
    }
    let pgbouncer_auth = (bouncer_on && !existing_secrets.contains(&bouncer_secret))
        .then(|| generate_user_credentials(&mut rng, PasswordKind::AlphaNumeric));
    let certificates = if need_certs {
        let tls = spec.tls.clone().unwrap_or_default();
        let defaults = Validity::default();
        let validity = Validity {
            ca_days: duration_days(tls.ca_validity_duration.as_deref()).unwrap_or(defaults.ca_days),
            leaf_days: duration_days(tls.cert_validity_duration.as_deref()).unwrap_or(defaults.leaf_days),
        };
        let dns = spec.cluster_service_dns_suffix.clone().unwrap_or_else(|| "cluster.local".into());
        let today = chrono::Utc::now().date_naive();
        Some(
            issue_certificates(&name, &ns, &dns, ca.as_ref(), today, validity)
                .map_err(|e| ReconcileError::Build(e.to_string()))?,
        )
    } else {
        None
    };

    // Certificates stay owned by the cluster, as Percona's e2e suite asserts for the CA: a re-created
    // cluster gets a fresh CA and certificates that chain to it.
    let unowned_secrets: BTreeSet<String> = user_secrets.into_iter().map(|(_, s)| s).collect();
    Ok(Found {
        kept_secrets: existing_secrets.clone(),
        unowned_secrets,
        pods,
        inputs: PgBuildInputs { instance_suffixes, users: users_in, pgbouncer_auth, existing_secrets, certificates },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    fn sts(name: &str, set: &str, created_secs: i64, uid: &str) -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.name = Some(name.into());
        s.metadata.labels = Some(BTreeMap::from([(L_INSTANCE_SET.to_string(), set.to_string())]));
        s.metadata.owner_references = Some(vec![OwnerReference { uid: uid.into(), ..Default::default() }]);
        let at = k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + created_secs).unwrap();
        s.metadata.creation_timestamp = Some(Time(at));
        s
    }

    #[test]
    fn suffixes_keep_the_primary_then_the_oldest() {
        let list = vec![
            sts("c1-main-bbbb", "main", 20, "u"),
            sts("c1-main-cccc", "main", 10, "u"),
            sts("c1-main-dddd", "main", 30, "u"),
            sts("c1-other-eeee", "other", 5, "u"),
            sts("c1-main-zzzz", "main", 1, "someone-else"),
        ];
        let got = suffixes_in_use("c1", "u", &list, None);
        assert_eq!(got["main"], ["cccc", "bbbb", "dddd"], "oldest first without a known primary");
        assert_eq!(got["other"], ["eeee"]);
        let got = suffixes_in_use("c1", "u", &list, Some("c1-main-dddd"));
        assert_eq!(got["main"], ["dddd", "cccc", "bbbb"], "the primary is kept first");
    }

    #[test]
    fn unused_data_volumes_are_reused_before_new_names() {
        let claim = |instance: &str, role: &str| {
            let mut c = PersistentVolumeClaim::default();
            c.metadata.name = Some(format!("{instance}-{role}"));
            c.metadata.labels = Some(BTreeMap::from([
                (L_INSTANCE_SET.to_string(), "main".to_string()),
                (L_INSTANCE.to_string(), instance.to_string()),
                (L_ROLE.to_string(), role.to_string()),
            ]));
            c
        };
        let mut suffixes = BTreeMap::from([("main".to_string(), vec!["bbbb".to_string()])]);
        let claims = [
            claim("c1-main-bbbb", "pgdata"),
            claim("c1-main-dddd", "pgdata"),
            claim("c1-main-dddd", "pgwal"),
            claim("c1-main-cccc", "pgdata"),
        ];
        add_volume_suffixes("c1", &mut suffixes, &claims);
        assert_eq!(suffixes["main"], ["bbbb", "cccc", "dddd"], "in use first, then free volumes by name");
    }

    #[test]
    fn the_primary_comes_from_patronis_label_only() {
        let pod = |name: &str, role: Option<&str>| {
            let mut p = Pod::default();
            p.metadata.name = Some(format!("{name}-0"));
            let mut labels = BTreeMap::from([(L_INSTANCE.to_string(), name.to_string())]);
            if let Some(r) = role {
                labels.insert(L_ROLE.to_string(), r.to_string());
            }
            p.metadata.labels = Some(labels);
            p
        };
        assert_eq!(primary_instance(&[pod("a", Some("replica")), pod("b", None)]), None);
        assert_eq!(primary_instance(&[pod("a", Some("replica")), pod("b", Some("master"))]).as_deref(), Some("b"));
        assert_eq!(primary_instance(&[pod("a", Some("primary"))]).as_deref(), Some("a"));
    }

    #[test]
    fn verifiers_are_checked_against_their_password() {
        let v = scram_sha256_verifier("secret", &[3u8; 16], 4096);
        assert!(verifier_matches(&v, "secret"));
        assert!(!verifier_matches(&v, "changed"));
        assert!(!verifier_matches("md5abc", "secret"));
    }

    #[test]
    fn go_durations_in_hours() {
        assert_eq!(duration_days(Some("2160h")), Some(90));
        assert_eq!(duration_days(Some("26280h")), Some(1095));
        assert_eq!(duration_days(Some("90d")), None);
        assert_eq!(suffix_of("c1", "main", "c1-main-ab12").as_deref(), Some("ab12"));
        assert_eq!(suffix_of("c1", "main", "c1-main-ab123"), None);
    }
}
