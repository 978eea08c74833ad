//! Generated material (passwords, SCRAM verifiers, certificates) and the certificate Secrets built from it.
//!
//! The generators take their randomness and clock from the caller, so `build` itself stays pure: dereference
//! generates only what is missing and passes it in [`super::PgBuildInputs`].

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

use super::meta::{Context, L_CLUSTER_CERT};
use super::{BuildError, PgBuildInputs};

/// Length of generated passwords (Crunchy's default).
pub const PASSWORD_LEN: usize = 24;
/// PBKDF2 iterations of a SCRAM-SHA-256 verifier (PostgreSQL's default `scram_iterations`).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// A user's password and the SCRAM-SHA-256 verifier PostgreSQL stores for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCredentials {
    pub password: String,
    pub verifier: String,
}

/// `password.type` of a user (`spec.users[].password.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordKind {
    /// Printable ASCII without quotes, backslash and space (the Percona default `ASCII`).
    Ascii,
    AlphaNumeric,
}

impl PasswordKind {
    pub fn from_spec(type_: Option<&str>) -> Self {
        match type_ {
            Some("AlphaNumeric") => Self::AlphaNumeric,
            _ => Self::Ascii,
        }
    }
}

/// A fresh random password of [`PASSWORD_LEN`] characters.
pub fn generate_password(rng: &mut impl Rng, kind: PasswordKind) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Quotes and backslashes are left out so the password survives shell and connection-string quoting.
    let ascii: Vec<u8> = (b'!'..=b'~').filter(|c| !matches!(c, b'\'' | b'"' | b'\\' | b'`')).collect();
    let alphabet: &[u8] = match kind {
        PasswordKind::AlphaNumeric => ALNUM,
        PasswordKind::Ascii => &ascii,
    };
    (0..PASSWORD_LEN).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// Characters of instance-name suffixes: lowercase letters without vowels, and digits that cannot be mistaken
/// for letters, so a random suffix never spells a word (the alphabet Kubernetes uses for generated names).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A fresh 4-character instance suffix not in `taken`, for `<cluster>-<set>-<suffix>`.
pub fn generate_instance_suffix(rng: &mut impl Rng, taken: &std::collections::BTreeSet<String>) -> String {
    loop {
        let s: String = (0..4).map(|_| SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())] as char).collect();
        if !taken.contains(&s) {
            return s;
        }
    }
}

/// A fresh password with its verifier.
pub fn generate_user_credentials(rng: &mut impl Rng, kind: PasswordKind) -> UserCredentials {
    let password = generate_password(rng, kind);
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let verifier = scram_sha256_verifier(&password, &salt, SCRAM_ITERATIONS);
    UserCredentials { password, verifier }
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` as PostgreSQL stores it in `pg_authid`
/// (RFC 5802/7677; the password is used as given, without SASLprep, as PostgreSQL does for ASCII).
pub fn scram_sha256_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let salted = pbkdf2_sha256(password.as_bytes(), salt, iterations);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac_sha256(&salted, b"Server Key");
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", B64.encode(salt), B64.encode(stored_key), B64.encode(server_key))
}

/// HMAC-SHA-256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // new_from_slice accepts keys of any length for HMAC, so this cannot fail.
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one 32-byte output block (all SCRAM needs).
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations)
}

/// A PEM certificate with its PEM private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The cluster's generated PKI: a root CA and the leaf certificates issued from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgCertificates {
    pub ca: CertPair,
    /// PostgreSQL/Patroni/pgBouncer server certificate for the cluster's Services and pods.
    pub cluster: CertPair,
    /// Client certificate of the replication user `_crunchyrepl`.
    pub replication: CertPair,
    /// pgBackRest TLS server and client certificate (instances and repo host).
    pub pgbackrest: CertPair,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate a certificate for PostgreSQL cluster {cluster}: {source}")]
    Generate { cluster: String, source: rcgen::Error },
}

/// Validity of the generated CA and leaves (Percona's defaults: `caValidityDuration` 26280h = 3 years,
/// `certValidityDuration` 2160h = 90 days).
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    pub ca_days: u64,
    pub leaf_days: u64,
}

impl Default for Validity {
    fn default() -> Self {
        Self { ca_days: 26280 / 24, leaf_days: 2160 / 24 }
    }
}

/// Generates the CA and leaf certificates of `cluster` in `namespace`, valid from the day before `today`.
pub fn generate_certificates(
    cluster: &str,
    namespace: &str,
    dns_suffix: &str,
    today: chrono::NaiveDate,
    validity: Validity,
) -> Result<PgCertificates, CertError> {
    issue_certificates(cluster, namespace, dns_suffix, None, today, validity)
}

/// Issues the leaf certificates of `cluster` from `ca` (the cluster's existing root CA, so certificates issued
/// later still chain to what clients already trust), or from a fresh CA when `ca` is None.
pub fn issue_certificates(
    cluster: &str,
    namespace: &str,
    dns_suffix: &str,
    ca: Option<&CertPair>,
    today: chrono::NaiveDate,
    validity: Validity,
) -> Result<PgCertificates, CertError> {
    let err = |source| CertError::Generate { cluster: cluster.to_string(), source };
    let (ca, issuer) = match ca {
        Some(existing) => {
            let key = KeyPair::from_pem(&existing.key_pem).map_err(err)?;
            (existing.clone(), Issuer::from_ca_cert_pem(&existing.cert_pem, key).map_err(err)?)
        }
        None => {
            let key = KeyPair::generate().map_err(err)?;
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, "postgres-operator-ca");
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            set_validity(&mut params, today, validity.ca_days);
            let cert = params.self_signed(&key).map_err(err)?;
            let pair = CertPair { cert_pem: cert.pem(), key_pem: key.serialize_pem() };
            (pair, Issuer::new(params, key))
        }
    };

    let svc = |name: &str| -> Vec<String> {
        let base = format!("{cluster}-{name}");
        vec![
            base.clone(),
            format!("{base}.{namespace}"),
            format!("{base}.{namespace}.svc"),
            format!("{base}.{namespace}.svc.{dns_suffix}"),
        ]
    };
    let pods = format!("*.{cluster}-pods.{namespace}.svc.{dns_suffix}");
    let mut server_names = Vec::new();
    for s in ["primary", "replicas", "ha", "pgbouncer"] {
        server_names.extend(svc(s));
    }
    server_names.push(pods.clone());
    let leaf = |cn: &str, names: Vec<String>, usages: Vec<ExtendedKeyUsagePurpose>| -> Result<CertPair, CertError> {
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(names).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = usages;
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, today, validity.leaf_days);
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        Ok(CertPair { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    };
    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    Ok(PgCertificates {
        // No extended key usage, as Crunchy's leaves: Patroni presents this server certificate as its client
        // certificate too (`ctl`, and member-to-member API calls during a switchover), and with
        // `verify_client: optional` a server-only usage makes those calls fail ("unsuitable certificate purpose").
        cluster: leaf(&format!("{cluster}-primary.{namespace}.svc.{dns_suffix}"), server_names, vec![])?,
        replication: leaf("_crunchyrepl", vec![], vec![ClientAuth])?,
        pgbackrest: leaf("pgbackrest", vec![pods], vec![ServerAuth, ClientAuth])?,
        ca,
    })
}

fn set_validity(params: &mut CertificateParams, today: chrono::NaiveDate, days: u64) {
    use chrono::Datelike;
    let at = |d: chrono::NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    params.not_before = at(today - chrono::Days::new(1));
    params.not_after = at(today + chrono::Days::new(days));
}

pub fn bytes(map: Vec<(&str, &str)>) -> BTreeMap<String, ByteString> {
    map.into_iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()
}

fn opaque(ctx: &Context, name: String, labels: BTreeMap<String, String>, data: Vec<(&str, &str)>) -> Secret {
    Secret {
        metadata: ctx.object_meta(name, labels),
        type_: Some("Opaque".into()),
        data: Some(bytes(data)),
        ..Default::default()
    }
}

/// Name of the Secret holding the server certificate pods mount (the user's `customTLSSecret` when given).
pub fn cluster_cert_name(ctx: &Context) -> String {
    let custom = ctx
        .spec
        .secrets
        .as_ref()
        .and_then(|s| s.custom_tls_secret.as_ref())
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty());
    custom.unwrap_or_else(|| ctx.object_name("cluster-cert"))
}

pub fn replication_cert_name(ctx: &Context) -> String {
    let custom = ctx
        .spec
        .secrets
        .as_ref()
        .and_then(|s| s.custom_replication_tls_secret.as_ref())
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty());
    custom.unwrap_or_else(|| ctx.object_name("replication-cert"))
}

/// The certificate Secrets the operator owns, each only when absent and not replaced by a custom Secret.
pub fn certificate_secrets(ctx: &Context, inputs: &PgBuildInputs) -> Result<Vec<Secret>, BuildError> {
    let custom = ctx.spec.secrets.clone().unwrap_or_default();
    let mut out = Vec::new();
    let need = |name: String| -> Result<Option<(&PgCertificates, String)>, BuildError> {
        if inputs.existing_secrets.contains(&name) {
            return Ok(None);
        }
        match &inputs.certificates {
            Some(c) => Ok(Some((c, name))),
            None => Err(BuildError::MissingGenerated { cluster: ctx.display_name(), secret: name }),
        }
    };
    if custom.custom_root_ca_tls_secret.is_none()
        && let Some((c, name)) = need(ctx.object_name("cluster-ca-cert"))?
    {
        let data = vec![("root.crt", c.ca.cert_pem.as_str()), ("root.key", c.ca.key_pem.as_str())];
        out.push(opaque(ctx, name, ctx.cluster_label(), data));
    }
    if custom.custom_tls_secret.is_none()
        && let Some((c, name)) = need(ctx.object_name("cluster-cert"))?
    {
        let labels = ctx.crunchy_labels(&[(L_CLUSTER_CERT, "postgres-tls")]);
        let data = vec![
            ("ca.crt", c.ca.cert_pem.as_str()),
            ("tls.crt", c.cluster.cert_pem.as_str()),
            ("tls.key", c.cluster.key_pem.as_str()),
        ];
        out.push(opaque(ctx, name, labels, data));
    }
    if custom.custom_replication_tls_secret.is_none()
        && let Some((c, name)) = need(ctx.object_name("replication-cert"))?
    {
        let labels = ctx.crunchy_labels(&[(L_CLUSTER_CERT, "replication-client-tls")]);
        let data = vec![
            ("ca.crt", c.ca.cert_pem.as_str()),
            ("tls.crt", c.replication.cert_pem.as_str()),
            ("tls.key", c.replication.key_pem.as_str()),
        ];
        out.push(opaque(ctx, name, labels, data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pbkdf2_matches_known_vectors() {
        assert_eq!(
            hex(&pbkdf2_sha256(b"password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex(&pbkdf2_sha256(b"password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    #[test]
    fn verifier_has_postgres_layout() {
        let v = scram_sha256_verifier("secret", &[7u8; 16], 4096);
        let (head, keys) =
            v.split_once('$').and_then(|(a, b)| Some((a, b.split_once('$')?))).map(|(a, (s, k))| ((a, s), k)).unwrap();
        assert_eq!(head.0, "SCRAM-SHA-256");
        assert_eq!(head.1, format!("4096:{}", B64.encode([7u8; 16])));
        let (stored, server) = keys.split_once(':').unwrap();
        assert_eq!(B64.decode(stored).unwrap().len(), 32);
        assert_eq!(B64.decode(server).unwrap().len(), 32);
    }

    #[test]
    fn passwords_follow_their_kind() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let alnum = generate_password(&mut rng, PasswordKind::AlphaNumeric);
        assert_eq!(alnum.len(), PASSWORD_LEN);
        assert!(alnum.chars().all(|c| c.is_ascii_alphanumeric()));
        let ascii = generate_password(&mut rng, PasswordKind::Ascii);
        assert!(ascii.chars().all(|c| c.is_ascii_graphic() && !"'\"\\`".contains(c)));
        assert_ne!(generate_password(&mut rng, PasswordKind::Ascii), ascii);
    }

    #[test]
    fn instance_suffixes_are_fresh() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut taken = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let s = generate_instance_suffix(&mut rng, &taken);
            assert_eq!(s.len(), 4);
            assert!(s.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
            assert!(taken.insert(s), "suffixes never repeat one already taken");
        }
    }

    #[test]
    fn certificates_chain_to_the_ca() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let certs = generate_certificates("c1", "ns", "cluster.local", today, Validity::default()).unwrap();
        for pem in
            [&certs.ca.cert_pem, &certs.cluster.cert_pem, &certs.replication.cert_pem, &certs.pgbackrest.cert_pem]
        {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        }
        // A TLS client that trusts only the CA must accept the server certificate for the primary Service.
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let ca = CertificateDer::from_pem_slice(certs.ca.cert_pem.as_bytes()).unwrap();
        let leaf = CertificateDer::from_pem_slice(certs.cluster.cert_pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider).build().unwrap();
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            today.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp() as u64,
        ));
        for host in [
            "c1-primary.ns.svc",
            "c1-pgbouncer.ns.svc.cluster.local",
            "c1-instance1-abcd-0.c1-pods.ns.svc.cluster.local",
        ] {
            let name = ServerName::try_from(host).unwrap();
            assert!(verifier.verify_server_cert(&leaf, &[], &name, &[], at).is_ok(), "{host}");
        }
        let elsewhere = ServerName::try_from("c2-primary.ns.svc").unwrap();
        assert!(verifier.verify_server_cert(&leaf, &[], &elsewhere, &[], at).is_err());
    }

    #[test]
    fn leaves_issued_later_chain_to_the_existing_ca() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let first = generate_certificates("c1", "ns", "cluster.local", today, Validity::default()).unwrap();
        let later =
            issue_certificates("c1", "ns", "cluster.local", Some(&first.ca), today, Validity::default()).unwrap();
        assert_eq!(later.ca, first.ca, "the CA is kept");
        assert_ne!(later.cluster, first.cluster, "the leaves are new");
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(first.ca.cert_pem.as_bytes()).unwrap()).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider).build().unwrap();
        let leaf = CertificateDer::from_pem_slice(later.cluster.cert_pem.as_bytes()).unwrap();
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            today.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp() as u64,
        ));
        let name = ServerName::try_from("c1-pgbouncer.ns.svc").unwrap();
        assert!(verifier.verify_server_cert(&leaf, &[], &name, &[], at).is_ok());
    }
}
