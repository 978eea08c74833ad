//! `dbdeck --headless` and `dbdeck --sandbox --headless` from the command line: logging, the client, the scopes
//! and the lease settings from the flags, then `run` until SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{ConsoleArgs, GlobalArgs};
use crate::cmd::kubeclient;
use crate::observe::live::Scope;

use super::args::HeadlessArgs;
use super::lease::{LeaseConfig, default_identity};
use super::{Engine, HeadlessError, HeadlessOptions, logging};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Logging(#[from] logging::LoggingError),
    #[error(transparent)]
    Client(#[from] kubeclient::ClientError),
    #[error("cannot prepare the embedded sandbox: {0}")]
    Seed(#[from] crate::console::seed::SeedError),
    #[error(transparent)]
    Headless(#[from] HeadlessError),
    #[error("cannot read the log-level token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
}

/// The scopes to reconcile: `-A`, else `--watch-namespace`, else `-n`, else the client's namespace (in a pod:
/// its own).
pub fn scopes(global: &GlobalArgs, args: &HeadlessArgs, default_namespace: &str) -> Vec<Scope> {
    if global.all_namespaces {
        return vec![Scope::All];
    }
    let mut namespaces: Vec<String> = Vec::new();
    for n in args.watch_namespace.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        // Each namespace once, even when not adjacent (`a,b,a`): two engines on one namespace would fight.
        if !namespaces.iter().any(|seen| seen == n) {
            namespaces.push(n.to_string());
        }
    }
    if namespaces.is_empty() {
        namespaces.push(global.namespace.clone().unwrap_or_else(|| default_namespace.to_string()));
    }
    namespaces.into_iter().map(Scope::Namespace).collect()
}

/// Who may `PUT /loglevel`, from the flags; a token file must hold a non-empty token.
pub fn loglevel_writes(args: &HeadlessArgs) -> Result<super::http::LogLevelWrites, CommandError> {
    use super::http::LogLevelWrites;
    if args.allow_loglevel_changes {
        return Ok(LogLevelWrites::Open);
    }
    let Some(path) = &args.loglevel_token_file else { return Ok(LogLevelWrites::Refused) };
    let bad = |reason: String| CommandError::TokenFile { path: path.display().to_string(), reason };
    let token = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?.trim().to_string();
    if token.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(LogLevelWrites::Bearer(token))
}

pub async fn run(
    global: &GlobalArgs,
    console: &ConsoleArgs,
    args: &HeadlessArgs,
    engine: Arc<dyn Engine>,
) -> Result<i32, CommandError> {
    let loglevel_writes = loglevel_writes(args)?;
    let log = logging::init(args.log_format, args.log_level.as_deref())?;
    let conn = kubeclient::connect(global).await?;
    let default_namespace = conn.client.default_namespace().to_string();
    let scopes = scopes(global, args, &default_namespace);
    if let Some(sandbox) = &conn.sandbox {
        let namespace = match scopes.first() {
            Some(Scope::Namespace(ns)) => ns.clone(),
            _ => default_namespace.clone(),
        };
        let created = crate::console::seed::seed(conn.client.clone(), &namespace, !console.empty).await?;
        tracing::info!(
            addr = %sandbox.addr,
            kubeconfig = %sandbox.kubeconfig_path.display(),
            examples = ?created,
            "embedded sandbox ready; use it with kubectl --kubeconfig"
        );
    }
    let lease = LeaseConfig {
        name: args.lease_name.clone(),
        namespace: args.lease_namespace.clone().unwrap_or(default_namespace),
        identity: default_identity(),
        duration: Duration::from_secs(args.lease_duration),
    };
    tracing::info!(
        lease = %format!("{}/{}", lease.namespace, lease.name),
        identity = %lease.identity,
        scopes = ?scopes,
        "dbdeck operator mode"
    );
    let opts = HeadlessOptions {
        scopes,
        lease,
        http_addr: args.metrics_addr(global.sandbox),
        loglevel_writes,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
    };
    let outcome = super::run(conn.client.clone(), opts, engine, Some(log), super::shutdown_signal()).await;
    if let Some(sandbox) = conn.sandbox {
        sandbox.shutdown().await;
    }
    outcome?;
    tracing::info!("stopped");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> crate::cli::Cli {
        crate::cli::Cli::try_parse_from(argv).unwrap()
    }

    #[test]
    fn scope_flags_pick_the_namespaces() {
        let cli = parse(&["dbdeck", "--headless", "--watch-namespace", "a,b,a", "--watch-namespace", " b"]);
        assert_eq!(
            scopes(&cli.global, &cli.headless, "default"),
            vec![Scope::Namespace("a".into()), Scope::Namespace("b".into())]
        );
        let cli = parse(&["dbdeck", "--headless", "-A"]);
        assert_eq!(scopes(&cli.global, &cli.headless, "default"), vec![Scope::All]);
        let cli = parse(&["dbdeck", "--headless"]);
        assert_eq!(scopes(&cli.global, &cli.headless, "mine"), vec![Scope::Namespace("mine".into())]);
        let cli = parse(&["dbdeck", "--headless", "-n", "x"]);
        assert_eq!(scopes(&cli.global, &cli.headless, "mine"), vec![Scope::Namespace("x".into())]);
        assert!(crate::cli::Cli::try_parse_from(["dbdeck", "--headless", "-A", "--watch-namespace", "a"]).is_err());
        assert!(crate::cli::Cli::try_parse_from(["dbdeck", "--lease-name", "x"]).is_err(), "needs --headless");
    }

    #[test]
    fn the_metrics_port_is_loopback_next_to_a_sandbox_and_loglevel_changes_are_opt_in() {
        use crate::headless::http::LogLevelWrites;
        let cli = parse(&["dbdeck", "--headless"]);
        assert_eq!(cli.headless.metrics_addr(false).to_string(), "0.0.0.0:8080");
        assert_eq!(cli.headless.metrics_addr(true).to_string(), "127.0.0.1:8080");
        assert_eq!(loglevel_writes(&cli.headless).unwrap(), LogLevelWrites::Refused);
        let cli = parse(&["dbdeck", "--headless", "--allow-loglevel-changes"]);
        assert_eq!(loglevel_writes(&cli.headless).unwrap(), LogLevelWrites::Open);
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc\n").unwrap();
        let cli = parse(&["dbdeck", "--headless", "--loglevel-token-file", token.to_str().unwrap()]);
        assert_eq!(loglevel_writes(&cli.headless).unwrap(), LogLevelWrites::Bearer("abc".into()));
        std::fs::write(&token, "").unwrap();
        assert!(loglevel_writes(&cli.headless).unwrap_err().to_string().contains("empty"));
        assert!(crate::cli::Cli::try_parse_from(["dbdeck", "--allow-loglevel-changes"]).is_err(), "needs --headless");
    }
}
