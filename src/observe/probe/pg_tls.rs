//! TLS for PostgreSQL probes over rustls (already in the tree for the sandbox), plugged into `tokio-postgres`.
//!
//! Percona's PostgreSQL clusters (Crunchy PGO underneath) accept network logins over TLS only, so a probe that
//! cannot speak TLS never gets past `pg_hba.conf`. Two modes, as libpq names them: `require` encrypts without
//! checking the certificate (pods present per-cluster self-signed certificates), `verify-full` checks the chain
//! against a given CA and the host name.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// Whether and how a probe encrypts its connection (PostgreSQL members only for now).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum TlsMode {
    /// Plain TCP.
    #[default]
    Disable,
    /// Encrypted when the server offers TLS, plain when it does not; certificate not checked (libpq `prefer`,
    /// its default). A server that insists on TLS gets it; one without TLS is still read.
    Prefer,
    /// Encrypted, certificate not checked (libpq `sslmode=require`).
    Require,
    /// Encrypted, chain checked against this PEM CA bundle and the name checked against the host (`verify-full`).
    VerifyFull { ca_pem: Vec<u8> },
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsMode::Disable => f.write_str("Disable"),
            TlsMode::Prefer => f.write_str("Prefer"),
            TlsMode::Require => f.write_str("Require"),
            TlsMode::VerifyFull { ca_pem } => write!(f, "VerifyFull {{ ca_pem: <{} bytes> }}", ca_pem.len()),
        }
    }
}

#[derive(Debug, Error)]
pub enum TlsModeError {
    #[error("the CA bundle for PostgreSQL TLS holds no readable certificate")]
    NoCaCertificate,
    #[error("the CA bundle for PostgreSQL TLS is not valid PEM: {0}")]
    BadCa(String),
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for a mode other than `Disable`.
pub fn client_config(mode: &TlsMode) -> Result<Option<Arc<ClientConfig>>, TlsModeError> {
    let builder = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let config = match mode {
        TlsMode::Disable => return Ok(None),
        TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                algorithms: provider().signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        TlsMode::VerifyFull { ca_pem } => {
            let mut roots = RootCertStore::empty();
            let mut reader = io::BufReader::new(ca_pem.as_slice());
            for cert in rustls_pemfile::certs(&mut reader) {
                let cert = cert.map_err(|e| TlsModeError::BadCa(e.to_string()))?;
                roots.add(cert)?;
            }
            if roots.is_empty() {
                return Err(TlsModeError::NoCaCertificate);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Some(Arc::new(config)))
}

/// Accepts any server certificate but still checks that the handshake is signed by its key, which is what
/// `sslmode=require` gives: protection from passive eavesdropping, not from an active man in the middle.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `MakeTlsConnect` for tokio-postgres over a rustls client configuration.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    pub fn new(config: Arc<ClientConfig>) -> Self {
        MakeRustls { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, Self::Error> {
        let name = ServerName::try_from(domain.to_string())?;
        Ok(RustlsConnect { config: self.config.clone(), name })
    }
}

pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            let tls = connector.connect(self.name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    /// SCRAM without channel binding: tokio-postgres then uses plain SCRAM-SHA-256, which every server accepts.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_build_configs_and_bad_cas_are_explained() {
        assert!(client_config(&TlsMode::Disable).unwrap().is_none());
        assert!(client_config(&TlsMode::Require).unwrap().is_some());
        let err = client_config(&TlsMode::VerifyFull { ca_pem: b"not a certificate".to_vec() }).unwrap_err();
        assert!(matches!(err, TlsModeError::NoCaCertificate), "{err}");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let ca_pem = cert.cert.pem().into_bytes();
        assert!(client_config(&TlsMode::VerifyFull { ca_pem: ca_pem.clone() }).unwrap().is_some());
        assert_eq!(
            format!("{:?}", TlsMode::VerifyFull { ca_pem }),
            format!("VerifyFull {{ ca_pem: <{} bytes> }}", cert.cert.pem().len())
        );
    }
}
