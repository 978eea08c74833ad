//! The sandbox's certificates and bearer token, kept in its state directory.
//!
//! Files: `ca.crt`, `ca.key` (the CA that kubeconfigs trust), `server.crt`, `server.key` (the serving certificate,
//! signed by that CA) and `token`. Keys and the token are written with mode 0600. All are reused across
//! restarts, so kubeconfigs written earlier keep working; the server certificate is reissued when it does not
//! cover a listen host, does not chain to the CA, or expires within [`RENEW_BEFORE_DAYS`].

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Lifetime of a new CA certificate.
pub const CA_VALID_DAYS: u64 = 3650;
/// Lifetime of a new server certificate.
pub const SERVER_VALID_DAYS: u64 = 365;
/// A certificate expiring sooner than this is replaced at start.
pub const RENEW_BEFORE_DAYS: u64 = 30;

/// Names every server certificate covers, whatever the listen address.
pub const DEFAULT_HOSTS: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// Why the certificates or the token could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot create the sandbox state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot generate the sandbox certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the TLS library rejected the sandbox certificate: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{host:?} is not a valid host name or IP address for the server certificate")]
    BadHost { host: String },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// What the HTTPS listener and the kubeconfig writer need.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The CA certificate (PEM) that clients must trust.
    pub ca_cert_pem: String,
    /// Ready for `listener::serve`: the server certificate and key, ALPN `h2` and `http/1.1`.
    pub server_config: Arc<rustls::ServerConfig>,
    /// True when this call created a new CA (older kubeconfigs no longer verify).
    pub ca_created: bool,
    /// True when this call issued a new server certificate.
    pub server_cert_issued: bool,
}

/// The files of one state directory.
struct Paths {
    ca_crt: PathBuf,
    ca_key: PathBuf,
    server_crt: PathBuf,
    server_key: PathBuf,
}

impl Paths {
    fn new(dir: &Path) -> Self {
        Paths {
            ca_crt: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_crt: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        }
    }
}

/// Loads the CA and server certificate from `dir`, creating or renewing what is missing, unusable or expiring,
/// and returns a rustls server configuration. `listen_hosts` are added to [`DEFAULT_HOSTS`]; unspecified
/// addresses (`0.0.0.0`, `::`) are skipped since no client connects to them by that name.
pub fn load_or_generate(dir: &Path, listen_hosts: &[String]) -> Result<TlsMaterial, TlsError> {
    ensure_dir(dir)?;
    let paths = Paths::new(dir);
    let hosts = server_hosts(listen_hosts)?;

    let (mut ca, mut ca_created) = match load_ca(&paths) {
        Some(ca) => (ca, false),
        None => (create_ca(&paths)?, true),
    };
    let mut issued = false;
    let server = match load_server(&paths) {
        Some(server) if covers(&ca.cert_der, &server.0, &hosts) => server,
        _ => {
            issued = true;
            issue_server(&paths, &ca, &hosts)?
        }
    };
    // A fresh server certificate that still fails means the CA itself is expiring: replace both.
    let server = if issued && !covers(&ca.cert_der, &server.0, &hosts) {
        tracing::info!(dir = %dir.display(), "sandbox CA is expiring; creating a new one");
        ca = create_ca(&paths)?;
        ca_created = true;
        issue_server(&paths, &ca, &hosts)?
    } else {
        server
    };
    if issued {
        tracing::info!(dir = %dir.display(), hosts = ?hosts, "issued a new sandbox server certificate");
    }

    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![server.0], server.1)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_cert_pem: ca.cert_pem,
        server_config: Arc::new(config),
        ca_created,
        server_cert_issued: issued,
    })
}

/// The bearer token in `dir/token`, created (32 random bytes, hex) when absent or malformed.
pub fn load_or_create_token(dir: &Path) -> Result<String, TlsError> {
    ensure_dir(dir)?;
    let path = dir.join("token");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() == 64 && existing.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(existing.to_string());
        }
        tracing::warn!(path = %path.display(), "sandbox token file is malformed; writing a new token");
    }
    let token = random_token()?;
    write_private(&path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// 32 bytes from the operating system's generator, hex-encoded.
pub fn random_token() -> Result<String, TlsError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| TlsError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// A loaded or freshly created CA.
struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
}

fn load_ca(paths: &Paths) -> Option<Ca> {
    let cert_pem = std::fs::read_to_string(&paths.ca_crt).ok()?;
    let key_pem = std::fs::read_to_string(&paths.ca_key).ok()?;
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?;
    let key = KeyPair::from_pem(&key_pem).ok()?;
    // The key must be the certificate's: otherwise everything issued from it would fail to verify.
    if !cert_der_contains(&cert_der, &key.subject_public_key_info()) {
        tracing::warn!(path = %paths.ca_key.display(), "sandbox CA key does not match ca.crt; creating a new CA");
        return None;
    }
    Some(Ca { cert_pem, cert_der, key })
}

/// Whether the DER certificate embeds this SubjectPublicKeyInfo (cheap key/cert match without an X.509 parser).
fn cert_der_contains(cert: &CertificateDer<'_>, spki: &[u8]) -> bool {
    !spki.is_empty() && cert.as_ref().windows(spki.len()).any(|w| w == spki)
}

fn create_ca(paths: &Paths) -> Result<Ca, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "dbdeck sandbox CA");
    params.distinguished_name.push(DnType::OrganizationName, "dbdeck");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, CA_VALID_DAYS);
    let cert = params.self_signed(&key)?;
    let cert_pem = cert.pem();
    write_public(&paths.ca_crt, cert_pem.as_bytes())?;
    write_private(&paths.ca_key, key.serialize_pem().as_bytes())?;
    Ok(Ca { cert_pem, cert_der: cert.der().clone(), key })
}

type ServerPair = (CertificateDer<'static>, PrivateKeyDer<'static>);

fn load_server(paths: &Paths) -> Option<ServerPair> {
    let cert = CertificateDer::from_pem_file(&paths.server_crt).ok()?;
    let key_pem = std::fs::read_to_string(&paths.server_key).ok()?;
    let key_pair = KeyPair::from_pem(&key_pem).ok()?;
    if !cert_der_contains(&cert, &key_pair.subject_public_key_info()) {
        return None;
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).ok()?;
    Some((cert, key))
}

fn issue_server(paths: &Paths, ca: &Ca, hosts: &[String]) -> Result<ServerPair, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "dbdeck-sandbox");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, SERVER_VALID_DAYS);
    let issuer = Issuer::from_ca_cert_der(&ca.cert_der, &ca.key)?;
    let cert = params.signed_by(&key, &issuer)?;
    write_public(&paths.server_crt, cert.pem().as_bytes())?;
    write_private(&paths.server_key, key.serialize_pem().as_bytes())?;
    let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Ok((cert.der().clone(), key_der))
}

/// Whether `cert` chains to the CA and is valid for every host now and [`RENEW_BEFORE_DAYS`] from now — the same
/// check a client performs, so a certificate passing it is one clients accept.
fn covers(ca_der: &CertificateDer<'static>, cert: &CertificateDer<'static>, hosts: &[String]) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca_der.clone()).is_err() {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build() else {
        return false;
    };
    let now = SystemTime::now();
    let later = now + Duration::from_secs(RENEW_BEFORE_DAYS * 86_400);
    hosts.iter().all(|host| {
        let Ok(name) = ServerName::try_from(host.clone()) else { return false };
        [now, later].iter().all(|t| {
            let at = UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
            verifier.verify_server_cert(cert, &[], &name, &[], at).is_ok()
        })
    })
}

/// The SAN list: the defaults plus the listen hosts, without duplicates or unspecified addresses.
fn server_hosts(listen_hosts: &[String]) -> Result<Vec<String>, TlsError> {
    let mut hosts: Vec<String> = DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect();
    for raw in listen_hosts {
        let host = raw.trim_start_matches('[').trim_end_matches(']').to_string();
        if let Ok(ip) = host.parse::<IpAddr>() {
            if ip.is_unspecified() {
                continue;
            }
        } else if ServerName::try_from(host.clone()).is_err() {
            return Err(TlsError::BadHost { host: raw.clone() });
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// From yesterday (tolerates small clock skew) to `days` from today, as rcgen dates.
fn set_validity(params: &mut CertificateParams, days: u64) {
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    // chrono dates are always valid calendar dates, which is all date_time_ymd asks for.
    let at = |d: chrono::NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    params.not_before = at(today - chrono::Days::new(1));
    params.not_after = at(today + chrono::Days::new(days));
}

fn ensure_dir(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::CreateDir { path: dir.to_path_buf(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The directory holds keys and the token: keep other users out.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Writes a secret (key, token) with mode 0600, via a temporary file and a rename so a crash never leaves half
/// a key behind.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    write_atomic(path, contents, 0o600)
}

fn write_public(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    write_atomic(path, contents, 0o644)
}

fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // `mode` only applies when the file is created; a leftover temporary file keeps its old bits.
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(err)?;
    }
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path(), &[]).unwrap();
        assert!(first.ca_created && first.server_cert_issued);
        let second = load_or_generate(dir.path(), &[]).unwrap();
        assert!(!second.ca_created && !second.server_cert_issued);
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(second.server_config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_new_listen_host_reissues_only_the_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path(), &["0.0.0.0".into()]).unwrap();
        let again = load_or_generate(dir.path(), &["0.0.0.0".into(), "127.0.0.1".into()]).unwrap();
        assert!(!again.server_cert_issued, "unspecified and default hosts are already covered");
        let wider = load_or_generate(dir.path(), &["10.1.2.3".into()]).unwrap();
        assert!(wider.server_cert_issued && !wider.ca_created);
        assert_eq!(first.ca_cert_pem, wider.ca_cert_pem);
        let server = CertificateDer::from_pem_file(dir.path().join("server.crt")).unwrap();
        let ca = CertificateDer::from_pem_slice(first.ca_cert_pem.as_bytes()).unwrap();
        assert!(covers(&ca, &server, &["10.1.2.3".into(), "::1".into(), "localhost".into()]));
        assert!(!covers(&ca, &server, &["10.9.9.9".into()]));
    }

    #[test]
    fn a_server_certificate_from_another_ca_is_replaced() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        load_or_generate(a.path(), &[]).unwrap();
        load_or_generate(b.path(), &[]).unwrap();
        for f in ["server.crt", "server.key"] {
            std::fs::copy(b.path().join(f), a.path().join(f)).unwrap();
        }
        let again = load_or_generate(a.path(), &[]).unwrap();
        assert!(again.server_cert_issued && !again.ca_created);
    }

    #[test]
    fn bad_hosts_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_or_generate(dir.path(), &["not a host".into()]).unwrap_err();
        assert!(err.to_string().contains("not a host"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn keys_and_token_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path(), &[]).unwrap();
        let token = load_or_create_token(dir.path()).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(load_or_create_token(dir.path()).unwrap(), token);
        for f in ["ca.key", "server.key", "token"] {
            let mode = std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        std::fs::write(dir.path().join("token"), "short").unwrap();
        assert_ne!(load_or_create_token(dir.path()).unwrap(), token);
    }
}
