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
    #[error("invalid retry bounds: {0}")]
    Bounds(String),
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
    connect_with(global, None).await
}

/// Bounds for a command that must finish (`dbdeck status`): each request gets at most `request_timeout`
/// (connect, send and the answer), 429/503/504 answers are retried at most `retries` times with a short
/// backoff, and the request under way is recorded so a deadline can name it.
#[derive(Clone, Debug)]
pub struct Bounded {
    pub request_timeout: std::time::Duration,
    pub retries: u32,
    pub in_flight: InFlight,
}

/// The method and path of the request most recently sent (for "timed out while GET /api/v1/pods").
#[derive(Clone, Debug, Default)]
pub struct InFlight(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl InFlight {
    pub fn last(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
    fn record(&self, req: &http::Request<kube::client::Body>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(format!("{} {}", req.method(), req.uri().path_and_query().map_or("/", |p| p.as_str())));
        }
    }
}

/// Connects like [`connect`], with the bounds given (`None`: kube's defaults, for long-lived commands).
pub async fn connect_with(global: &GlobalArgs, bounded: Option<&Bounded>) -> Result<Connection, ClientError> {
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
        return Ok(Connection { client: build(cfg, bounded)?, sandbox: Some(running) });
    }
    let mut cfg = config(global).await?;
    if let Some(ns) = &global.namespace {
        cfg.default_namespace = ns.clone();
    }
    Ok(Connection { client: build(cfg, bounded)?, sandbox: None })
}

fn build(mut cfg: kube::Config, bounded: Option<&Bounded>) -> Result<kube::Client, ClientError> {
    let Some(b) = bounded else { return Ok(kube::Client::try_from(cfg)?) };
    // kube's own retry waits up to 15 times with a backoff that grows to minutes: unbounded for a script.
    cfg.default_retry = false;
    cfg.connect_timeout = Some(cfg.connect_timeout.map_or(b.request_timeout, |c| c.min(b.request_timeout)));
    cfg.read_timeout = Some(b.request_timeout);
    cfg.write_timeout = Some(cfg.write_timeout.map_or(b.request_timeout, |w| w.min(b.request_timeout)));
    cfg.reset_reader_on_write = true;
    let policy = kube::client::retry::RetryPolicy::new(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(1),
        b.retries,
        false,
    )
    .map_err(|e| ClientError::Bounds(e.to_string()))?;
    let in_flight = b.in_flight.clone();
    // tower's retry needs a cloneable service; a buffer in front of kube's boxed stack makes it one.
    let client = kube::client::ClientBuilder::try_from(cfg)?
        .with_layer(&tower::buffer::BufferLayer::new(64))
        .with_layer(&tower::retry::RetryLayer::new(policy))
        .with_layer(&tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
            in_flight.record(&req);
            req
        }))
        .build();
    Ok(client)
}

/// A kube error as one sentence: the API server's message and code rather than kube's `Status` dump.
pub fn describe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let what = if s.message.is_empty() { s.reason.as_str() } else { s.message.as_str() };
            match (s.code, s.reason.as_str()) {
                (0, _) => what.to_string(),
                (code, "") => format!("{what} (HTTP {code})"),
                (code, reason) if reason == what => format!("HTTP {code} {reason}"),
                (code, reason) => format!("{what} (HTTP {code} {reason})"),
            }
        }
        other => {
            let mut text = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(c) = cause {
                let t = c.to_string();
                if !text.contains(&t) {
                    text.push_str(": ");
                    text.push_str(&t);
                }
                cause = c.source();
            }
            text
        }
    }
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
