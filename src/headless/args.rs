//! The `--headless` flags, flattened into the top-level command line.

use std::net::SocketAddr;

use clap::Args;

use super::logging::LogFormat;

#[derive(Debug, Clone, Args)]
pub struct HeadlessArgs {
    /// Run the reconcile engine without the console, as an operator (leader election, /healthz, /readyz, /metrics),
    /// until SIGTERM or SIGINT
    #[arg(long)]
    pub headless: bool,

    /// With --headless: the namespaces to reconcile, comma-separated (default: -n, else the context's or pod's
    /// namespace; -A for all)
    #[arg(
        long,
        value_name = "NS[,NS]",
        value_delimiter = ',',
        requires = "headless",
        conflicts_with = "all_namespaces"
    )]
    pub watch_namespace: Vec<String>,

    /// With --headless: the Lease that elects the one replica that reconciles
    #[arg(long, value_name = "NAME", default_value = super::lease::DEFAULT_LEASE_NAME, requires = "headless")]
    pub lease_name: String,

    /// With --headless: the Lease's namespace (default: the context's or pod's namespace)
    #[arg(long, value_name = "NS", requires = "headless")]
    pub lease_namespace: Option<String>,

    /// With --headless: seconds a leader's term lasts without renewal; it renews every third of it
    #[arg(long, value_name = "SECONDS", default_value_t = 15, requires = "headless",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_duration: u64,

    /// With --headless: seconds the engine may take to finish in-flight reconciles on SIGTERM before it is
    /// abandoned and the lease released anyway (keep it below the pod's terminationGracePeriodSeconds)
    #[arg(long, value_name = "SECONDS", default_value_t = 25, requires = "headless",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_grace: u64,

    /// With --headless: where /healthz, /readyz, /metrics and /loglevel listen, without authentication (default:
    /// 0.0.0.0:8080 as the kubelet and Prometheus expect in a pod; 127.0.0.1:8080 with --sandbox). The console
    /// opens no such port
    #[arg(long, value_name = "ADDR", requires = "headless")]
    pub metrics_addr: Option<SocketAddr>,

    /// With --headless: let anyone who reaches the metrics port change the log level (`PUT /loglevel`); without
    /// this or --loglevel-token-file such changes are refused (403)
    #[arg(long, requires = "headless", conflicts_with = "loglevel_token_file")]
    pub allow_loglevel_changes: bool,

    /// With --headless: accept `PUT /loglevel` only with `Authorization: Bearer <token>`, the token being this
    /// file's content (e.g. a mounted Secret)
    #[arg(long, value_name = "PATH", requires = "headless")]
    pub loglevel_token_file: Option<std::path::PathBuf>,

    /// With --headless: log lines as text (coloured on a terminal) or JSON
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text", requires = "headless")]
    pub log_format: LogFormat,

    /// With --headless: the log filter (`info`, `debug`, `info,dbdeck=trace`; default $RUST_LOG, else info);
    /// change it at run time with `curl -X PUT --data debug http://ADDR/loglevel` when --allow-loglevel-changes
    /// or --loglevel-token-file allows it
    #[arg(long, value_name = "FILTER", requires = "headless")]
    pub log_level: Option<String>,
}

impl HeadlessArgs {
    /// `--metrics-addr`, else the default for where the process runs: every interface in a pod, loopback next to
    /// an in-process sandbox (nothing outside this machine can reach that sandbox either).
    pub fn metrics_addr(&self, sandbox: bool) -> SocketAddr {
        self.metrics_addr
            .unwrap_or_else(|| if sandbox { ([127, 0, 0, 1], 8080).into() } else { ([0, 0, 0, 0], 8080).into() })
    }
}
