//! System-user passwords and the TLS certificate set: the generators (called by the caller, never by
//! `build`, which stays pure) and the Secrets built from their output.
//!
//! Percona keeps system-user passwords in the user Secret (`spec.secretsName`) and mirrors them into
//! `internal-<cluster>`, which the pods mount; the TLS Secret (`spec.sslSecretName`) holds `ca.crt`,
//! `tls.crt` and `tls.key`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::Rng;
use rand::seq::IndexedRandom;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use super::meta::{Labels, hash};
use super::{BuildError, Ctx, PsBuildInputs};

/// The system users Percona's operator keeps a password for (`api/v1` `SystemUser`), in its order.
pub const SYSTEM_USERS: [&str; 9] = [
    "root",
    "xtrabackup",
    "monitor",
    "operator",
    "replication",
    "orchestrator",
    "heartbeat",
    "clusterset",
    "configurator",
];

/// Characters of generated passwords: letters, digits and the symbols Percona uses, none of which
/// needs quoting in a my.cnf value.
const PASSWORD_SYMBOLS: &[u8] = b"!#$%&()*+,-.<=>?@[]^_{}~";
const PASSWORD_MIN_LEN: usize = 16;
const PASSWORD_MAX_LEN: usize = 20;

/// One fresh password per system user.
pub fn generate_passwords(rng: &mut impl Rng) -> BTreeMap<String, String> {
    let alphabet: Vec<u8> =
        (b'a'..=b'z').chain(b'A'..=b'Z').chain(b'0'..=b'9').chain(PASSWORD_SYMBOLS.iter().copied()).collect();
    SYSTEM_USERS
        .iter()
        .map(|user| {
            let len = rng.random_range(PASSWORD_MIN_LEN..=PASSWORD_MAX_LEN);
            let pw: String = (0..len).filter_map(|_| alphabet.choose(rng).map(|b| *b as char)).collect();
            (user.to_string(), pw)
        })
        .collect()
}

/// A CA and a server certificate signed by it, PEM encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsMaterial {
    pub ca_crt: String,
    pub tls_crt: String,
    pub tls_key: String,
}

impl TlsMaterial {
    fn data(&self) -> BTreeMap<String, String> {
        [("ca.crt", &self.ca_crt), ("tls.crt", &self.tls_crt), ("tls.key", &self.tls_key)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not generate the TLS certificates of PerconaServerMySQL {cluster}: {source}")]
pub struct TlsGenError {
    cluster: String,
    #[source]
    source: rcgen::Error,
}

/// The DNS names the server certificate covers: every component's Service and pods, short and
/// namespaced, plus `spec.tls.SANs`.
pub fn tls_hosts(cluster: &str, namespace: &str, extra_sans: &[String]) -> Vec<String> {
    let mut hosts = Vec::new();
    for suffix in ["mysql", "orc", "haproxy", "router"] {
        let svc = format!("{cluster}-{suffix}");
        for name in [svc.clone(), format!("{svc}.{namespace}"), format!("{svc}.{namespace}.svc")] {
            hosts.push(format!("*.{name}"));
            hosts.push(name);
        }
    }
    hosts.extend(extra_sans.iter().cloned());
    hosts
}

/// A self-signed CA and a server certificate for the cluster, valid from `not_before` to `not_after`.
pub fn generate_tls(
    cluster: &str,
    namespace: &str,
    extra_sans: &[String],
    not_before: chrono::DateTime<chrono::Utc>,
    not_after: chrono::DateTime<chrono::Utc>,
) -> Result<TlsMaterial, TlsGenError> {
    let err = |source| TlsGenError { cluster: cluster.to_string(), source };
    let when = |t: chrono::DateTime<chrono::Utc>| {
        use chrono::Datelike;
        rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8)
    };
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, format!("{cluster}-ca"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = when(not_before);
    ca.not_after = when(not_after);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(tls_hosts(cluster, namespace, extra_sans)).map_err(err)?;
    server.distinguished_name = rcgen::DistinguishedName::new();
    server.distinguished_name.push(DnType::CommonName, format!("{cluster}-mysql"));
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = when(not_before);
    server.not_after = when(not_after);
    let issuer = Issuer::new(ca, &ca_key);
    let cert = server.signed_by(&key, &issuer).map_err(err)?;
    Ok(TlsMaterial { ca_crt: ca_cert.pem(), tls_crt: cert.pem(), tls_key: key.serialize_pem() })
}

pub(super) struct UsersOut {
    pub objects: Vec<Secret>,
}

fn opaque(meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, data: &BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: meta,
        type_: Some("Opaque".to_string()),
        data: Some(data.iter().map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec()))).collect()),
        ..Default::default()
    }
}

/// The user Secret (only when it is absent or lacks a system user) and its internal copy.
///
/// The user Secret carries no owner reference, as with Percona: passwords outlive the CR so that a
/// re-created cluster can open its old data.
pub(super) fn users(ctx: &Ctx, inputs: &PsBuildInputs) -> Result<UsersOut, BuildError> {
    let secret_name = ctx.secrets_name();
    let mut data = inputs.users_secret.clone().unwrap_or_default();
    let mut filled = false;
    for user in SYSTEM_USERS {
        if data.get(user).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let pw = inputs.generated_passwords.get(user).filter(|p| !p.is_empty()).ok_or_else(|| {
            BuildError::MissingPassword {
                cluster: ctx.owner.name.clone(),
                secret: secret_name.clone(),
                key: user.to_string(),
            }
        })?;
        data.insert(user.to_string(), pw.clone());
        filled = true;
    }
    let mut objects = Vec::new();
    if inputs.users_secret.is_none() || filled {
        let mut meta = ctx.owner.meta(&secret_name, ctx.owner.global_labels.clone(), ctx.owner.annotations(None));
        meta.owner_references = None;
        objects.push(opaque(meta, &data));
    }
    let internal =
        ctx.owner.meta(ctx.internal_secret_name(), ctx.owner.global_labels.clone(), ctx.owner.annotations(None));
    objects.push(opaque(internal, &data));
    Ok(UsersOut { objects })
}

pub(super) struct TlsOut {
    pub object: Option<Secret>,
    /// Hash of the certificate data, put on pod templates so a new certificate restarts the pods.
    pub hash: String,
}

/// The TLS Secret when it is absent. Like the user Secret it has no owner reference: Percona removes
/// it only through the `percona.com/delete-ssl` finalizer.
pub(super) fn tls(ctx: &Ctx, inputs: &PsBuildInputs) -> Result<TlsOut, BuildError> {
    let name = ctx.ssl_secret_name();
    let (data, object): (Labels, Option<Secret>) = match (&inputs.tls_secret, &inputs.generated_tls) {
        (Some(existing), _) => (existing.clone(), None),
        (None, Some(generated)) => {
            let data = generated.data();
            let mut meta = ctx.owner.meta(&name, ctx.owner.global_labels.clone(), ctx.owner.annotations(None));
            meta.owner_references = None;
            let mut secret = opaque(meta, &data);
            secret.type_ = Some("kubernetes.io/tls".to_string());
            (data, Some(secret))
        }
        (None, None) => return Err(BuildError::MissingTls { cluster: ctx.owner.name.clone(), secret: name }),
    };
    let hash = hash(data.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]));
    Ok(TlsOut { object, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn passwords_cover_every_system_user_within_length_bounds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pw = generate_passwords(&mut rng);
        assert_eq!(pw.len(), SYSTEM_USERS.len());
        for user in SYSTEM_USERS {
            let p = &pw[user];
            assert!((PASSWORD_MIN_LEN..=PASSWORD_MAX_LEN).contains(&p.len()), "{user}: {p}");
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric() || PASSWORD_SYMBOLS.contains(&b)));
        }
        let other = generate_passwords(&mut rand::rngs::StdRng::seed_from_u64(8));
        assert_ne!(pw["root"], other["root"]);
    }

    #[test]
    fn generated_certificate_is_signed_by_its_ca_and_names_the_services() {
        let now = chrono::Utc::now();
        let tls = generate_tls("ps-cluster1", "db", &["db.example.com".into()], now, now + chrono::Duration::days(90))
            .unwrap();
        assert!(tls.ca_crt.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(tls.tls_key.contains("PRIVATE KEY"));
        let hosts = tls_hosts("ps-cluster1", "db", &["db.example.com".into()]);
        assert!(hosts.contains(&"*.ps-cluster1-mysql.db.svc".to_string()));
        assert!(hosts.contains(&"db.example.com".to_string()));

        // The server certificate must verify against the CA for one of its names.
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let ca = CertificateDer::from_pem_slice(tls.ca_crt.as_bytes()).unwrap();
        let leaf = CertificateDer::from_pem_slice(tls.tls_crt.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let name = rustls::pki_types::ServerName::try_from("ps-cluster1-mysql-0.ps-cluster1-mysql.db").unwrap();
        let now_rustls = rustls::pki_types::UnixTime::now();
        use rustls::client::danger::ServerCertVerifier;
        verifier.verify_server_cert(&leaf, &[], &name, &[], now_rustls).unwrap();
    }
}
