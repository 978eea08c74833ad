//! The command line, in the words a kubectl user expects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "dbdeck",
    version,
    about = "Console, reconcile engine and sandbox cluster for Percona MySQL and PostgreSQL clusters on Kubernetes",
    long_about = "dbdeck manages Percona XtraDB Cluster, Percona Server for MySQL and Percona PostgreSQL clusters \
                  (pxc.percona.com, ps.percona.com, pgv2.percona.com custom resources).\n\n\
                  `dbdeck` without a sub-command opens the interactive console on the kubeconfig context; \
                  `dbdeck --sandbox` opens it on an embedded sandbox with example clusters. The console runs the \
                  reconcile engine in-process unless --no-engine is given. \
                  `dbdeck sandbox` runs a local Kubernetes-API-compatible server that kubectl can use.",
    after_help = "Examples:\n  dbdeck --sandbox                    the console on a throw-away sandbox with example clusters\n  \
                  dbdeck -A                           the console on the current context, all namespaces\n  \
                  dbdeck status -o json               the clusters once, for scripts\n  \
                  dbdeck validate -f cr.yaml          check Percona CRs offline\n  \
                  dbdeck sandbox                      run a local API server; prints its kubeconfig\n  \
                  dbdeck --sandbox crd --apply        install the CRDs into a throw-away in-process sandbox\n  \
                  dbdeck crd > crds.yaml              print the nine CRDs\n  \
                  dbdeck crd --apply --context kind-x  install them with server-side apply"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(flatten)]
    pub headless: crate::headless::args::HeadlessArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Connection flags shared by every mode, named as in kubectl.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace scope (default: the context's namespace)
    #[arg(short = 'n', long, global = true, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,

    /// Work across all namespaces
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,

    /// Start an embedded sandbox cluster in this process and use it instead of the kubeconfig
    #[arg(long, global = true, conflicts_with_all = ["kubeconfig", "context"])]
    pub sandbox: bool,
}

/// Flags of the interactive console (`dbdeck` without a sub-command).
#[derive(Debug, Clone, Default, Args)]
pub struct ConsoleArgs {
    /// Colour theme: a name (dark, light, high-contrast, dracula) or a path to a theme TOML file
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Hide and refuse every write (create, edit, scale, delete, backup)
    #[arg(long)]
    pub readonly: bool,

    /// With --sandbox: install the CRDs but do not create the example clusters
    #[arg(long, requires = "sandbox")]
    pub empty: bool,

    /// Do not run the reconcile engine in-process (e.g. while an in-cluster dbdeck operator runs)
    #[arg(long)]
    pub no_engine: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the clusters (all three kinds) once: a table, or the stable JSON/YAML of the console's view
    Status(StatusArgs),
    /// Print the nine custom resource definitions as YAML, or install them with server-side apply
    Crd(CrdArgs),
    /// Check Percona cluster, backup and restore manifests offline and report every problem
    Validate(ValidateArgs),
    /// Run the sandbox cluster (a Kubernetes-API-compatible server on loopback) in the foreground
    Sandbox(SandboxArgs),
    /// Measure performance figures (use a release build: cargo run --release -- bench sandbox)
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,

    /// Seconds per rate measurement
    #[arg(long, default_value_t = 3, global = true)]
    pub seconds: u64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BenchTarget {
    /// GET and LIST rates with 1,000 pods, 50-watcher fan-out latency, memory with 10,000 objects (over HTTPS);
    /// then StatefulSets with N pods and PVCs: time to all Ready, GET/LIST/watch latency at that size, RSS
    Sandbox {
        /// Pods of the workload scenario (StatefulSets of 3 with one PVC each); 0 skips it
        #[arg(long, value_name = "N", default_value_t = 3000)]
        workload_pods: usize,
    },
    /// Console frames with 10,000 clusters, first frame on the sandbox, idle CPU, memory with 1,000 clusters
    Console {
        /// How long to measure CPU use while the console idles
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        idle_seconds: u64,
    },
    /// PXC create → children → ready times, API writes per reconcile, engine memory with 100 and 1,000 clusters
    Engine {
        /// Cluster counts for the memory and first-pass figures (the no-op pass uses the first)
        #[arg(long, value_delimiter = ',', default_value = "30,100,1000")]
        clusters: Vec<usize>,
    },
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: Option<std::net::SocketAddr>,

    /// Where to write the kubeconfig (context dbdeck-sandbox); default: <state dir>/kubeconfig
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,

    /// Keep objects here across restarts (without it they live in memory only); the CA, server
    /// certificate and token are kept here too (default: ~/.local/state/dbdeck/sandbox)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Number of simulated nodes (zones zone-a, zone-b, zone-c round-robin)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub nodes: u16,

    /// Seconds from a node going NotReady to the eviction of its pods (default: the pods'
    /// tolerations, 300 s unless they say otherwise)
    #[arg(long, value_name = "SECONDS")]
    pub eviction_timeout: Option<u64>,

    /// Milliseconds from a pod bound to a node to its containers Running and Ready (the simulated kubelet)
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub start_delay: u64,

    #[command(subcommand)]
    pub action: Option<SandboxAction>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Inject a fault into a running sandbox (found through --state-dir's kubeconfig, else --kubeconfig,
    /// else the default state directory's)
    Fault(SandboxFaultArgs),
    /// Bind a sandbox pod's port to a real local endpoint, so port-forward to that pod (and dbdeck's
    /// database probes) reach it: `dbdeck sandbox attach default/shop-db-pxc-0:3306 127.0.0.1:3306`
    Attach(SandboxAttachArgs),
}

#[derive(Debug, Args)]
pub struct SandboxAttachArgs {
    /// The pod and port, as [NAMESPACE/]POD:PORT
    pub pod: String,
    /// The endpoint to relay to, as HOST:PORT (resolved now)
    pub target: String,
}

#[derive(Debug, Args)]
pub struct SandboxFaultArgs {
    #[command(subcommand)]
    pub target: SandboxFault,
}

#[derive(Debug, Subcommand)]
pub enum SandboxFault {
    /// Make a node NotReady or Ready, cordon or uncordon it
    Node {
        /// Node name, e.g. dbdeck-node-2
        name: String,
        #[arg(value_enum)]
        action: NodeFault,
    },
    /// Kill a pod's containers (they restart) or set its readiness
    Pod {
        /// NAMESPACE/NAME, or NAME in the default namespace
        pod: String,
        #[arg(value_enum)]
        action: PodFault,
    },
    /// Keep a PersistentVolumeClaim Pending (hold) or let it bind again (release)
    Pvc {
        /// NAMESPACE/NAME, or NAME in the default namespace
        claim: String,
        #[arg(value_enum)]
        action: PvcFault,
    },
    /// Make the next Job created fail
    FailNextJob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeFault {
    Notready,
    Ready,
    Cordon,
    Uncordon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PodFault {
    Kill,
    Unready,
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PvcFault {
    Hold,
    Release,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Server-side apply the CRDs to the current context instead of printing them
    #[arg(long)]
    pub apply: bool,

    /// Output format when printing
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to check (YAML or JSON, one or many documents each); `-` reads standard input
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Report format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this cluster (of any kind)
    pub name: Option<String>,

    /// Output format; json and yaml print a list of cluster views whose keys are stable
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    /// Do not connect to the databases (roles and lag then come from labels only, or show as unknown)
    #[arg(long)]
    pub no_probe: bool,

    /// Longest time the database probes may take, in seconds; members not read by then say so
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub probe_timeout: f64,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}
