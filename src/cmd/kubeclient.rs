//! Building a kube client from kubectl-style flags.

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::GlobalArgs;

/// Why no client could be built, in one sentence a kubectl user recognises.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Read { path: String, source: kube::config::KubeconfigError },
    #[error("no usable kubeconfig ({0}); set --kubeconfig or $KUBECONFIG, or run `dbdeck sandbox`")]
    Infer(String),
    #[error("kubeconfig context {context:?}: {source}")]
    Context { context: String, source: kube::config::KubeconfigError },
    #[error("cannot create a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    #[error("cannot start the embedded sandbox: {0}")]
    Sandbox(#[from] crate::sandbox::serve::ServeError),
}

/// A client and, with `--sandbox`, the embedded sandbox it talks to (kept alive as long as this value).
pub struct Connection {
    pub client: kube::Client,
    pub sandbox: Option<crate::sandbox::serve::RunningSandbox>,
}

/// Connects as the flags say: to an embedded sandbox started here (`--sandbox`), or through the kubeconfig.
pub async fn connect(global: &GlobalArgs) -> Result<Connection, ClientError> {
    if global.sandbox {
        let running = crate::sandbox::serve::start(crate::sandbox::serve::ServeOptions {
            controllers: Some(Default::default()),
            ..crate::sandbox::serve::ServeOptions::private()
        })
        .await?;
        let mut cfg = running.client_config().await.map_err(crate::sandbox::serve::ServeError::from)?;
        if let Some(ns) = &global.namespace {
            cfg.default_namespace = ns.clone();
        }
        return Ok(Connection { client: kube::Client::try_from(cfg)?, sandbox: Some(running) });
    }
    Ok(Connection { client: client(global).await?, sandbox: None })
}

/// Loads the kubeconfig named by the flags (or the default one) and selects the context.
pub async fn config(global: &GlobalArgs) -> Result<kube::Config, ClientError> {
    let options = KubeConfigOptions { context: global.context.clone(), ..Default::default() };
    match &global.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|source| ClientError::Read { path: path.display().to_string(), source })?;
            kube::Config::from_custom_kubeconfig(kc, &options).await.map_err(|source| ClientError::Context {
                context: global.context.clone().unwrap_or_else(|| "(current)".into()),
                source,
            })
        }
        None => kube::Config::from_kubeconfig(&options).await.map_err(|e| ClientError::Infer(e.to_string())),
    }
}

/// A client for the flags' context; `-n` overrides the context's default namespace.
pub async fn client(global: &GlobalArgs) -> Result<kube::Client, ClientError> {
    let mut cfg = config(global).await?;
    if let Some(ns) = &global.namespace {
        cfg.default_namespace = ns.clone();
    }
    Ok(kube::Client::try_from(cfg)?)
}
