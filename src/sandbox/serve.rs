//! Starting the sandbox on a socket: TLS material, token, kubeconfig, then the HTTPS listener around the router.
//! `dbdeck sandbox` runs this in the foreground; `dbdeck --sandbox` and tests run it in-process.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::controllers::{ControllerConfig, ControllerError};
use super::{Sandbox, SandboxConfig, kubeconfig, listener, tls};

/// How to start a sandbox on a socket.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Address to listen on; port 0 picks a free one. Default `127.0.0.1:0`.
    pub listen: Option<SocketAddr>,
    /// Where to write the kubeconfig; default `<tls dir>/kubeconfig`.
    pub kubeconfig_out: Option<PathBuf>,
    /// Objects persist here when set; certificates and the token always live in a state directory
    /// (this one, or the user's default one).
    pub state_dir: Option<PathBuf>,
    /// Runs the simulated cluster (nodes, scheduler, kubelets, controllers) when set; without it the
    /// sandbox only stores objects.
    pub controllers: Option<ControllerConfig>,
    /// Without `state_dir`: keep the certificates, token and kubeconfig in a private directory of this process,
    /// removed on shutdown, instead of the user's shared default one. In-process sandboxes (`--sandbox`, tests)
    /// use it so that several can run at once without racing on the same files.
    pub private: bool,
}

impl ServeOptions {
    /// An in-process sandbox with nothing kept after it stops.
    pub fn private() -> Self {
        ServeOptions { private: true, ..Default::default() }
    }
}

/// A fresh directory under the system temp dir, owned by this process.
fn private_dir() -> Result<PathBuf, ServeError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dbdeck-sandbox-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|source| ServeError::PrivateDir { path: dir.clone(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| ServeError::PrivateDir { path: dir.clone(), source })?;
    }
    Ok(dir)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no state directory: pass --state-dir (the user's home directory is unknown)")]
    NoStateDir,
    #[error("cannot create a private directory {path} for the sandbox: {source}")]
    PrivateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error(transparent)]
    Sandbox(#[from] super::SandboxError),
    #[error(transparent)]
    Controllers(#[from] ControllerError),
    #[error("cannot build a client for the sandbox: {0}")]
    Client(#[from] kube::Error),
}

/// A sandbox serving HTTPS; dropping it does not stop it, call [`RunningSandbox::shutdown`].
pub struct RunningSandbox {
    pub sandbox: Sandbox,
    pub addr: SocketAddr,
    pub kubeconfig_path: PathBuf,
    pub ca_cert_pem: String,
    pub token: String,
    remove_on_shutdown: Option<PathBuf>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// A kube client configuration for this sandbox over HTTPS (CA and token included).
    pub async fn client_config(&self) -> Result<kube::Config, kubeconfig::KubeconfigError> {
        kubeconfig::client_config(self.addr, &self.ca_cert_pem, &self.token).await
    }

    /// A kube client for this sandbox over HTTPS.
    pub async fn client(&self) -> Result<kube::Client, ServeError> {
        let cfg = self.client_config().await?;
        Ok(kube::Client::try_from(cfg)?)
    }

    /// Stops accepting, lets open requests finish (a short grace), and waits for the listener to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.sandbox.stop_controllers();
        if let Some(dir) = self.remove_on_shutdown.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts a sandbox: loads or creates TLS material and the token, binds, writes the kubeconfig and serves.
pub async fn start(opts: ServeOptions) -> Result<RunningSandbox, ServeError> {
    let (tls_dir, remove_on_shutdown) = match &opts.state_dir {
        Some(d) => (d.clone(), None),
        None if opts.private => {
            let d = private_dir()?;
            (d.clone(), Some(d))
        }
        None => (listener::default_state_dir().ok_or(ServeError::NoStateDir)?, None),
    };
    let addr = opts.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let sandbox = Sandbox::new(SandboxConfig { state_dir: opts.state_dir.clone(), ..Default::default() })?;
    if let Some(cfg) = opts.controllers.clone() {
        sandbox.start_controllers(cfg)?;
    }
    let material = tls::load_or_generate(&tls_dir, &[addr.ip().to_string()])?;
    let token = tls::load_or_create_token(&tls_dir)?;
    let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let addr = tcp.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    let kubeconfig_path = opts.kubeconfig_out.clone().unwrap_or_else(|| tls_dir.join("kubeconfig"));
    kubeconfig::write(&kubeconfig_path, addr, &material.ca_cert_pem, &token)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let router = sandbox.router();
    let server_config = material.server_config.clone();
    let serve_token = token.clone();
    let task = tokio::spawn(async move {
        listener::serve(router, tcp, server_config, serve_token, async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(RunningSandbox {
        sandbox,
        addr,
        kubeconfig_path,
        ca_cert_pem: material.ca_cert_pem,
        token,
        remove_on_shutdown,
        stop: Some(stop),
        task: Some(task),
    })
}
