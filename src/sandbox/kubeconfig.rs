//! The kubeconfig that points kubectl and kube-rs at the sandbox, and the same settings as a `kube::Config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

use super::tls::{TlsError, write_private};

/// The name of the cluster, user and context the kubeconfig defines.
pub const NAME: &str = "dbdeck-sandbox";

/// Why the kubeconfig could not be written or turned into a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot create the directory for kubeconfig {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write kubeconfig: {0}")]
    Write(#[from] TlsError),
    #[error("cannot render the sandbox kubeconfig: {0}")]
    Render(#[from] serde_yaml::Error),
    #[error("the sandbox kubeconfig is not usable by kube: {0}")]
    Kube(#[from] kube::config::KubeconfigError),
}

/// `https://127.0.0.1:PORT`, or `https://[::1]:PORT` for IPv6.
pub fn server_url(addr: SocketAddr) -> String {
    format!("https://{addr}")
}

/// The kubeconfig document: one cluster (the CA inline), one token user, one current context, all named
/// [`NAME`]. Unspecified listen addresses (`0.0.0.0`) are replaced by loopback, which is always reachable.
pub fn document(addr: SocketAddr, ca_cert_pem: &str, token: &str) -> Value {
    let addr = reachable(addr);
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_cert_pem.as_bytes());
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": {"server": server_url(addr), "certificate-authority-data": ca}}],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}],
        "current-context": NAME,
        "preferences": {},
    })
}

fn reachable(addr: SocketAddr) -> SocketAddr {
    if !addr.ip().is_unspecified() {
        return addr;
    }
    let loopback = if addr.is_ipv4() {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    } else {
        std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    };
    SocketAddr::new(loopback, addr.port())
}

/// Writes the kubeconfig to `path` (YAML, mode 0600: it holds the token), creating parent directories.
pub fn write(path: &Path, addr: SocketAddr, ca_cert_pem: &str, token: &str) -> Result<(), KubeconfigError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|source| KubeconfigError::CreateDir { path: parent.to_path_buf(), source })?;
    }
    let yaml = serde_yaml::to_string(&document(addr, ca_cert_pem, token))?;
    write_private(path, yaml.as_bytes())?;
    tracing::info!(path = %path.display(), server = %server_url(reachable(addr)), "wrote sandbox kubeconfig");
    Ok(())
}

/// A `kube::Config` for in-process clients of the HTTPS server: the same settings the kubeconfig carries.
pub async fn client_config(addr: SocketAddr, ca_cert_pem: &str, token: &str) -> Result<kube::Config, KubeconfigError> {
    let yaml = serde_yaml::to_string(&document(addr, ca_cert_pem, token))?;
    let kubeconfig = Kubeconfig::from_yaml(&yaml)?;
    let options = KubeConfigOptions { context: Some(NAME.into()), ..Default::default() };
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names_everything_dbdeck_sandbox() {
        let doc = document("127.0.0.1:6443".parse().unwrap(), "PEM", "tok");
        assert_eq!(doc["current-context"], NAME);
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
        assert_eq!(doc["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
        assert_eq!(doc["users"][0]["user"]["token"], "tok");
        let v6 = document("[::1]:6443".parse().unwrap(), "PEM", "tok");
        assert_eq!(v6["clusters"][0]["cluster"]["server"], "https://[::1]:6443");
        let any = document("0.0.0.0:6443".parse().unwrap(), "PEM", "tok");
        assert_eq!(any["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
    }

    #[cfg(unix)]
    #[test]
    fn written_file_is_private_and_parses() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/kubeconfig");
        write(&path, "127.0.0.1:1234".parse().unwrap(), "PEM", "tok").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let kc = Kubeconfig::read_from(&path).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some(NAME));
    }
}
