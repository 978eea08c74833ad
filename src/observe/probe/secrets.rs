//! Picking probe credentials out of a cluster's own Secrets, the way the Percona operators lay them out.
//!
//! PXC and PS keep one key per system user in `internal-<cluster>` (written by the operator) and the user-facing
//! `<cluster>-secrets` (or whatever `spec.secretsName` says); the key name is the user name. We prefer `monitor`
//! (read-only, made for this) and fall back to `operator`, then `root`, only when the preferred key is absent. PostgreSQL keeps one Secret per user, `<cluster>-pguser-<user>`, with `user` and `password` keys;
//! the superuser's or the monitor user's is preferred.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use thiserror::Error;

use super::Credentials;

/// Which operator's layout the Secret follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretLayout {
    /// PerconaXtraDBCluster.
    Pxc,
    /// PerconaServerMySQL.
    Ps,
    /// PerconaPGCluster.
    Pg,
}

/// MySQL system users that can read replication status, in order of preference.
const MYSQL_PROBE_USERS: [&str; 3] = ["monitor", "operator", "root"];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("Secret {secret} has none of the keys {wanted}: no user to probe with")]
    NoUserKey { secret: String, wanted: String },
    #[error("Secret {secret} key {key} is not UTF-8 text")]
    NotText { secret: String, key: String },
    #[error("Secret {secret} key {key} is empty")]
    Empty { secret: String, key: String },
    #[error("Secret {secret} is not a credentials Secret of cluster {cluster} (expected {expected})")]
    UnexpectedSecret { secret: String, cluster: String, expected: String },
}

/// Secret names to look for, most preferred first. For PXC/PS `choice` is `spec.secretsName` (default
/// `<cluster>-secrets`); for PostgreSQL it picks the user (default: the cluster's own user, which Percona PG names
/// after the cluster).
pub fn candidate_secrets(layout: SecretLayout, cluster: &str, choice: Option<&str>) -> Vec<String> {
    match layout {
        SecretLayout::Pxc | SecretLayout::Ps => {
            let users = choice.filter(|s| !s.is_empty()).map_or_else(|| format!("{cluster}-secrets"), str::to_string);
            vec![format!("internal-{cluster}"), users]
        }
        SecretLayout::Pg => vec![format!("{cluster}-pguser-{}", choice.unwrap_or(cluster))],
    }
}

/// PostgreSQL Secrets to try, most preferred first: the superuser's, then the monitor user's (Percona makes it
/// for PMM with `pg_monitor`); both see every replication view. Last the cluster's own user, which without
/// `pg_monitor` sees blanked-out `pg_stat_replication` rows (the probe says so rather than showing them healthy).
pub fn pg_candidate_secrets(cluster: &str) -> Vec<String> {
    let mut names = Vec::new();
    for user in ["postgres", "monitor", cluster] {
        let name = candidate_secrets(SecretLayout::Pg, cluster, Some(user)).remove(0);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Reads credentials from the `data` of the Secret named `secret`.
pub fn credentials_from_secret(
    layout: SecretLayout,
    cluster: &str,
    secret: &str,
    data: &BTreeMap<String, ByteString>,
) -> Result<Credentials, CredentialError> {
    match layout {
        // The users Secret's name is the spec's choice, so any name is accepted; the keys decide.
        SecretLayout::Pxc | SecretLayout::Ps => {
            let user = MYSQL_PROBE_USERS.iter().find(|user| data.contains_key(**user)).ok_or_else(|| {
                CredentialError::NoUserKey { secret: secret.into(), wanted: MYSQL_PROBE_USERS.join(", ") }
            })?;
            let password = text(secret, user, data)?;
            Ok(Credentials::new(*user, password))
        }
        SecretLayout::Pg => {
            let prefix = format!("{cluster}-pguser-");
            let Some(suffix) = secret.strip_prefix(&prefix).filter(|s| !s.is_empty()) else {
                return Err(CredentialError::UnexpectedSecret {
                    secret: secret.into(),
                    cluster: cluster.into(),
                    expected: format!("{prefix}<user>"),
                });
            };
            let user = match data.get("user") {
                Some(_) => text(secret, "user", data)?,
                // Older Secrets carry only the password; the user is in the Secret's name.
                None => suffix.to_string(),
            };
            if !data.contains_key("password") {
                return Err(CredentialError::NoUserKey { secret: secret.into(), wanted: "password".into() });
            }
            let password = text(secret, "password", data)?;
            Ok(Credentials::new(user, password))
        }
    }
}

fn text(secret: &str, key: &str, data: &BTreeMap<String, ByteString>) -> Result<String, CredentialError> {
    let bytes = data.get(key).map(|b| b.0.clone()).unwrap_or_default();
    let value =
        String::from_utf8(bytes).map_err(|_| CredentialError::NotText { secret: secret.into(), key: key.into() })?;
    // Secrets written with `echo` often end in a newline that is not part of the password.
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(CredentialError::Empty { secret: secret.into(), key: key.into() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, ByteString> {
        pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()
    }

    #[test]
    fn pxc_prefers_the_monitor_user() {
        let d = data(&[("root", b"r00t"), ("operator", b"op-pass"), ("monitor", b"mon-pass\n")]);
        let creds = credentials_from_secret(SecretLayout::Pxc, "cluster1", "internal-cluster1", &d).unwrap();
        assert_eq!(creds.user, "monitor");
        assert_eq!(creds.password.expose(), "mon-pass");
    }

    #[test]
    fn root_is_the_last_resort() {
        let d = data(&[("root", b"r00t"), ("xtrabackup", b"x")]);
        let creds = credentials_from_secret(SecretLayout::Ps, "ps1", "my-users", &d).unwrap();
        assert_eq!(creds.user, "root");
    }

    #[test]
    fn ps_falls_back_to_operator() {
        let d = data(&[("root", b"r00t"), ("operator", b"op-pass")]);
        let creds = credentials_from_secret(SecretLayout::Ps, "ps-cluster1", "ps-cluster1-secrets", &d).unwrap();
        assert_eq!(creds.user, "operator");
        assert_eq!(creds.password.expose(), "op-pass");
    }

    #[test]
    fn mysql_secret_without_a_probe_user_is_explained() {
        let d = data(&[("xtrabackup", b"x")]);
        let err = credentials_from_secret(SecretLayout::Pxc, "cluster1", "cluster1-secrets", &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret cluster1-secrets has none of the keys monitor, operator, root: no user to probe with"
        );
        let d = data(&[("monitor", b""), ("operator", b"x")]);
        let err = credentials_from_secret(SecretLayout::Pxc, "cluster1", "internal-cluster1", &d).unwrap_err();
        assert_eq!(err, CredentialError::Empty { secret: "internal-cluster1".into(), key: "monitor".into() });
        let d = data(&[("monitor", &[0xff, 0xfe])]);
        let err = credentials_from_secret(SecretLayout::Pxc, "cluster1", "internal-cluster1", &d).unwrap_err();
        assert!(matches!(err, CredentialError::NotText { .. }));
    }

    #[test]
    fn pg_reads_user_and_password_keys() {
        let d = data(&[("user", b"cluster1"), ("password", b"pg-pass"), ("host", b"cluster1-primary.db.svc")]);
        let creds = credentials_from_secret(SecretLayout::Pg, "cluster1", "cluster1-pguser-cluster1", &d).unwrap();
        assert_eq!(creds.user, "cluster1");
        assert_eq!(creds.password.expose(), "pg-pass");

        let d = data(&[("password", b"pw")]);
        let creds = credentials_from_secret(SecretLayout::Pg, "cluster1", "cluster1-pguser-postgres", &d).unwrap();
        assert_eq!(creds.user, "postgres");

        let err = credentials_from_secret(SecretLayout::Pg, "cluster1", "cluster1-pguser-x", &data(&[("user", b"x")]));
        assert!(matches!(err, Err(CredentialError::NoUserKey { .. })));
        let err = credentials_from_secret(SecretLayout::Pg, "cluster1", "cluster2-pguser-x", &d);
        assert!(matches!(err, Err(CredentialError::UnexpectedSecret { .. })));
    }

    #[test]
    fn candidate_names_follow_percona() {
        assert_eq!(candidate_secrets(SecretLayout::Pxc, "cluster1", None), ["internal-cluster1", "cluster1-secrets"]);
        assert_eq!(candidate_secrets(SecretLayout::Pg, "cluster1", None), ["cluster1-pguser-cluster1"]);
        assert_eq!(candidate_secrets(SecretLayout::Pg, "cluster1", Some("postgres")), ["cluster1-pguser-postgres"]);
        assert_eq!(candidate_secrets(SecretLayout::Ps, "ps1", Some("my-users")), ["internal-ps1", "my-users"]);
        assert_eq!(
            pg_candidate_secrets("cluster1"),
            ["cluster1-pguser-postgres", "cluster1-pguser-monitor", "cluster1-pguser-cluster1"]
        );
        assert_eq!(pg_candidate_secrets("monitor"), ["monitor-pguser-postgres", "monitor-pguser-monitor"]);
    }
}
