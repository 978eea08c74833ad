//! System-user and TLS Secrets: the generators the caller runs before `build` (random, clock-reading)
//! and the pure part that decides which Secrets are desired from what exists and what was generated.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use super::meta::hash_parts;
use super::{BuildError, BuildInputs, Ctx};
use crate::api::common::parse_go_duration;
use crate::api::pxc::PerconaXtraDBCluster;
use crate::api::pxc::defaults::{
    CA_VALIDITY, CERT_VALIDITY, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PASSWORD_SYMBOLS,
};

/// The system users Percona keeps in the user Secret, one key each.
pub const USERS: [&str; 6] = ["root", "xtrabackup", "monitor", "proxyadmin", "operator", "replication"];

/// One CA plus a server certificate and its key, PEM-encoded, as stored under `ca.crt`, `tls.crt`, `tls.key`.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsBundle {
    pub ca_crt: String,
    pub tls_crt: String,
    pub tls_key: String,
}

impl std::fmt::Debug for TlsBundle {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsBundle").field("ca_crt", &self.ca_crt.len()).field("tls_key", &"<redacted>").finish()
    }
}

impl TlsBundle {
    /// Reads an existing TLS Secret's data; `None` when a key is missing or not UTF-8.
    pub fn from_secret_data(data: &BTreeMap<String, ByteString>) -> Option<Self> {
        let get = |k: &str| data.get(k).and_then(|b| String::from_utf8(b.0.clone()).ok());
        Some(Self { ca_crt: get("ca.crt")?, tls_crt: get("tls.crt")?, tls_key: get("tls.key")? })
    }

    fn data(&self) -> BTreeMap<String, ByteString> {
        BTreeMap::from([
            ("ca.crt".to_string(), ByteString(self.ca_crt.clone().into_bytes())),
            ("tls.crt".to_string(), ByteString(self.tls_crt.clone().into_bytes())),
            ("tls.key".to_string(), ByteString(self.tls_key.clone().into_bytes())),
        ])
    }

    fn hash(&self) -> String {
        hash_parts([self.ca_crt.as_bytes(), self.tls_crt.as_bytes(), self.tls_key.as_bytes()])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "PerconaXtraDBCluster {cluster}: spec.passwordGenerationOptions needs 1 <= minLength <= maxLength, got {min}..{max}"
    )]
    PasswordLength { cluster: String, min: i32, max: i32 },
    #[error("PerconaXtraDBCluster {cluster}: {field} \"{value}\" is not a duration such as 2160h")]
    Duration { cluster: String, field: &'static str, value: String },
    #[error("PerconaXtraDBCluster {cluster}: generating the TLS certificates failed: {source}")]
    Certificate { cluster: String, source: rcgen::Error },
}

/// One password: letters, digits and the configured symbols, of a length drawn from `min..=max`.
pub fn generate_password(rng: &mut impl Rng, symbols: &str, min: usize, max: usize) -> String {
    const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let alphabet: Vec<char> = ALNUM.chars().chain(symbols.chars()).collect();
    let len = rng.random_range(min..=max.max(min));
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect()
}

/// A fresh password for every system user, following `spec.passwordGenerationOptions` (Percona's
/// defaults: 16–20 characters, symbols `!#$%&()*+,-.<=>?@[]^_{}~`).
pub fn generate_passwords(cr: &PerconaXtraDBCluster) -> Result<BTreeMap<String, String>, GenerateError> {
    let cluster = cr.metadata.name.clone().unwrap_or_default();
    let opts = cr.spec.password_generation_options.clone().unwrap_or_default();
    let symbols = opts.symbols.unwrap_or_else(|| PASSWORD_SYMBOLS.into());
    let min = opts.min_length.unwrap_or(PASSWORD_MIN_LENGTH);
    let max = opts.max_length.unwrap_or(PASSWORD_MAX_LENGTH);
    if min < 1 || max < min {
        return Err(GenerateError::PasswordLength { cluster, min, max });
    }
    let mut rng = rand::rng();
    Ok(USERS
        .iter()
        .map(|u| (u.to_string(), generate_password(&mut rng, &symbols, min as usize, max as usize)))
        .collect())
}

/// The DNS names Percona puts on the certificate it issues itself: the pxc and proxysql services and
/// every pod behind them, plus `spec.tls.SANs`.
pub fn tls_hosts(cr: &PerconaXtraDBCluster) -> Vec<String> {
    let c = cr.metadata.name.clone().unwrap_or_default();
    let mut hosts = vec![format!("{c}-pxc"), format!("{c}-proxysql"), format!("*.{c}-pxc"), format!("*.{c}-proxysql")];
    for san in cr.spec.tls.iter().flat_map(|t| t.sans.iter().flatten()) {
        if !hosts.contains(san) {
            hosts.push(san.clone());
        }
    }
    hosts
}

fn validity(
    cr: &PerconaXtraDBCluster,
    field: &'static str,
    value: Option<&String>,
    default: &str,
) -> Result<chrono::Duration, GenerateError> {
    let text = value.map(String::as_str).unwrap_or(default);
    let secs = parse_go_duration(text).ok_or_else(|| GenerateError::Duration {
        cluster: cr.metadata.name.clone().unwrap_or_default(),
        field,
        value: text.to_string(),
    })?;
    Ok(chrono::Duration::seconds(secs.min(i64::MAX as u64 / 2) as i64))
}

/// Sets whole-day validity from the day before `from` (tolerates clock skew) to `to`.
fn set_validity(params: &mut CertificateParams, from: DateTime<Utc>, to: DateTime<Utc>) {
    use chrono::Datelike;
    // chrono dates are valid calendar dates, which is all date_time_ymd asks for.
    let at = |d: chrono::NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    params.not_before = at(from.date_naive() - chrono::Days::new(1));
    params.not_after = at(to.date_naive());
}

/// A self-signed CA and one server certificate for [`tls_hosts`], valid from `now` for
/// `spec.tls.caValidityDuration` / `certValidityDuration` (Percona: 3 years / 90 days). Percona
/// stores the same material in both the external and the internal TLS Secret.
pub fn generate_tls(cr: &PerconaXtraDBCluster, now: DateTime<Utc>) -> Result<TlsBundle, GenerateError> {
    let cluster = cr.metadata.name.clone().unwrap_or_default();
    let tls = cr.spec.tls.clone().unwrap_or_default();
    let ca_for = validity(cr, "spec.tls.caValidityDuration", tls.ca_validity_duration.as_ref(), CA_VALIDITY)?;
    let cert_for = validity(cr, "spec.tls.certValidityDuration", tls.cert_validity_duration.as_ref(), CERT_VALIDITY)?;
    let fail = |source| GenerateError::Certificate { cluster: cluster.clone(), source };

    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "Root CA");
    ca.distinguished_name.push(DnType::OrganizationName, "PXC");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut ca, now, now + ca_for);
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;

    let key = KeyPair::generate().map_err(fail)?;
    let mut params = CertificateParams::new(tls_hosts(cr)).map_err(fail)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, format!("{cluster}-proxysql"));
    params.distinguished_name.push(DnType::OrganizationName, "PXC");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    // Galera peers and clients both present this certificate.
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, now + cert_for);
    let issuer = Issuer::from_params(&ca, &ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(fail)?;
    Ok(TlsBundle { ca_crt: ca_cert.pem(), tls_crt: cert.pem(), tls_key: key.serialize_pem() })
}

/// The Secrets `build` wants plus the TLS hashes for the pod templates.
pub(super) struct Secrets {
    pub objects: Vec<Secret>,
    pub ssl_hash: Option<String>,
    pub ssl_internal_hash: Option<String>,
}

fn opaque(meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, data: &BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: meta,
        type_: Some("Opaque".into()),
        data: Some(data.iter().map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes()))).collect()),
        ..Default::default()
    }
}

pub(super) fn build(ctx: &Ctx, inputs: &BuildInputs) -> Result<Secrets, BuildError> {
    let o = ctx.owner;
    let user_name = ctx.spec.secrets_name.clone().unwrap_or_else(|| o.name("secrets"));
    let missing = |secret: &str, what: String| BuildError::MissingGenerated {
        cluster: o.cluster.clone(),
        secret: secret.to_string(),
        what,
    };
    let mut objects = Vec::new();

    // User Secret: kept as the user wrote it; only users it lacks get a generated password.
    let existing = inputs.user_secret.clone().unwrap_or_default();
    let mut users = existing.clone();
    for u in USERS {
        if !users.contains_key(u) {
            let pw =
                inputs.generated_passwords.get(u).ok_or_else(|| missing(&user_name, format!("a password for {u}")))?;
            users.insert(u.to_string(), pw.clone());
        }
    }
    if inputs.user_secret.is_none() || users != existing {
        // Not owned by the CR: the user Secret outlives the cluster unless `delete-pxc-pvc` asks otherwise.
        objects.push(opaque(o.unowned_meta(&user_name, o.cluster_labels()), &users));
    }

    // internal-<c>: the operator's copy; an existing copy keeps its passwords (rotation goes through
    // ALTER USER first), new users are copied in.
    let mut internal = inputs.internal_secret.clone().unwrap_or_default();
    for (k, v) in &users {
        internal.entry(k.clone()).or_insert_with(|| v.clone());
    }
    objects.push(opaque(o.owned_meta(&format!("internal-{}", o.cluster), o.cluster_labels()), &internal));

    // TLS: generated only when enabled and absent; existing Secrets are never rewritten.
    let ssl_name = ctx.spec.ssl_secret_name.clone().unwrap_or_else(|| o.name("ssl"));
    let ssl_internal_name = ctx.spec.ssl_internal_secret_name.clone().unwrap_or_else(|| o.name("ssl-internal"));
    let tls_on = ctx.spec.tls_enabled();
    let mut ssl_in_force = inputs.ssl.clone();
    let mut ssl_internal_in_force = inputs.ssl_internal.clone();
    let mut emit = |name: &str, slot: &mut Option<TlsBundle>| -> Result<(), BuildError> {
        if !tls_on || slot.is_some() {
            return Ok(());
        }
        let bundle = inputs.generated_tls.clone().ok_or_else(|| missing(name, "a CA and server certificate".into()))?;
        objects.push(Secret {
            metadata: o.unowned_meta(name, o.cluster_labels()),
            type_: Some("kubernetes.io/tls".into()),
            data: Some(bundle.data()),
            ..Default::default()
        });
        *slot = Some(bundle);
        Ok(())
    };
    emit(&ssl_name, &mut ssl_in_force)?;
    if ssl_internal_name == ssl_name {
        ssl_internal_in_force = ssl_in_force.clone();
    } else {
        emit(&ssl_internal_name, &mut ssl_internal_in_force)?;
    }
    Ok(Secrets {
        objects,
        ssl_hash: ssl_in_force.as_ref().map(TlsBundle::hash),
        ssl_internal_hash: ssl_internal_in_force.as_ref().map(TlsBundle::hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr(yaml: &str) -> PerconaXtraDBCluster {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn passwords_follow_the_options() {
        let c = cr(
            "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: c1}\nspec:\n  passwordGenerationOptions: {symbols: '#', minLength: 30, maxLength: 32}\n",
        );
        let pws = generate_passwords(&c).unwrap();
        assert_eq!(pws.keys().cloned().collect::<Vec<_>>().len(), USERS.len());
        for pw in pws.values() {
            assert!((30..=32).contains(&pw.len()), "{} chars", pw.len());
            assert!(pw.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '#'));
        }
        assert_ne!(pws["root"], pws["monitor"]);
        let bad = cr(
            "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: c1}\nspec:\n  passwordGenerationOptions: {minLength: 9, maxLength: 4}\n",
        );
        assert!(matches!(generate_passwords(&bad), Err(GenerateError::PasswordLength { .. })));
    }

    #[test]
    fn default_passwords_use_percona_alphabet_and_length() {
        let c = cr("apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: c1}\nspec: {}\n");
        for pw in generate_passwords(&c).unwrap().values() {
            assert!((16..=20).contains(&pw.len()));
            assert!(pw.chars().all(|ch| ch.is_ascii_alphanumeric() || PASSWORD_SYMBOLS.contains(ch)));
        }
    }

    #[test]
    fn certificate_carries_percona_sans_and_chains_to_the_ca() {
        let c = cr(
            "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: cluster1}\nspec:\n  tls: {SANs: [db.example.com]}\n",
        );
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let b = generate_tls(&c, now).unwrap();
        // Checked as a client would (rustls/webpki): each SAN verifies, an unrelated name does not,
        // and the default 90-day validity holds.
        let ca = rustls_pemfile::certs(&mut b.ca_crt.as_bytes()).next().unwrap().unwrap();
        let leaf = rustls_pemfile::certs(&mut b.tls_crt.as_bytes()).next().unwrap().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(std::sync::Arc::new(roots), provider)
                .build()
                .unwrap();
        let verify = |host: &str, days: u64| {
            use rustls::client::danger::ServerCertVerifier;
            let at = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                now.timestamp() as u64 + days * 86_400,
            ));
            let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
            verifier.verify_server_cert(&leaf, &[], &name, &[], at).is_ok()
        };
        for host in ["cluster1-pxc", "cluster1-proxysql", "db.example.com"] {
            assert!(verify(host, 1), "{host} not covered");
        }
        // webpki refuses wildcards over a single label, so the wildcard SANs are checked in the DER:
        // DNS names are stored as plain IA5 strings.
        for wildcard in ["*.cluster1-pxc", "*.cluster1-proxysql"] {
            assert!(leaf.as_ref().windows(wildcard.len()).any(|w| w == wildcard.as_bytes()), "{wildcard} missing");
        }
        assert!(!verify("cluster1-haproxy", 1));
        assert!(verify("cluster1-pxc", 89));
        assert!(!verify("cluster1-pxc", 92));
        assert_eq!(tls_hosts(&c)[..4], ["cluster1-pxc", "cluster1-proxysql", "*.cluster1-pxc", "*.cluster1-proxysql"]);
    }
}
