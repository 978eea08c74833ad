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

/// Connection flags, named as in kubectl. They are given before a sub-command (`dbdeck --kubeconfig P status`) or,
/// for the sub-commands that talk to a cluster, after it (`dbdeck status -n NS`); sub-commands that never connect
/// (`validate`, `sandbox`, `bench`) do not offer them.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace scope (default: the context's namespace)
    #[arg(short = 'n', long, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,

    /// Work across all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Start an embedded sandbox cluster in this process and use it instead of the kubeconfig ($KUBECONFIG is
    /// then ignored; only an explicit --kubeconfig or --context conflicts)
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub sandbox: bool,
}

/// The connection flags of sub-commands that act on the whole cluster (no namespace scope).
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectArgs {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Start an embedded sandbox cluster in this process and use it instead of the kubeconfig
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub sandbox: bool,
}

impl From<&ConnectArgs> for GlobalArgs {
    fn from(c: &ConnectArgs) -> Self {
        GlobalArgs {
            kubeconfig: c.kubeconfig.clone(),
            context: c.context.clone(),
            sandbox: c.sandbox,
            ..Default::default()
        }
    }
}

impl GlobalArgs {
    /// These flags (given before the sub-command) with `after`'s (given after it) taking precedence.
    pub fn overlay(&self, after: &GlobalArgs) -> GlobalArgs {
        let scoped_after = after.all_namespaces || after.namespace.is_some();
        GlobalArgs {
            kubeconfig: after.kubeconfig.clone().or_else(|| self.kubeconfig.clone()),
            context: after.context.clone().or_else(|| self.context.clone()),
            namespace: if scoped_after { after.namespace.clone() } else { self.namespace.clone() },
            all_namespaces: if scoped_after { after.all_namespaces } else { self.all_namespaces },
            sandbox: self.sandbox || after.sandbox,
        }
    }

    /// The conflict clap cannot see when the flags are split around the sub-command.
    pub fn conflict(&self) -> Option<&'static str> {
        match (self.sandbox, self.kubeconfig.is_some(), self.context.is_some()) {
            (true, true, _) => Some("'--sandbox' cannot be used with '--kubeconfig': the sandbox brings its own"),
            (true, _, true) => Some("'--sandbox' cannot be used with '--context': the sandbox brings its own"),
            _ => None,
        }
    }
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
    #[command(flatten)]
    pub target_sandbox: SandboxTarget,

    /// The pod and port, as [NAMESPACE/]POD:PORT
    pub pod: String,
    /// The endpoint to relay to, as HOST:PORT (resolved now)
    pub target: String,
}

#[derive(Debug, Args)]
pub struct SandboxFaultArgs {
    #[command(flatten)]
    pub target_sandbox: SandboxTarget,

    #[command(subcommand)]
    pub target: SandboxFault,
}

/// Which running sandbox `fault` and `attach` talk to, when not found through `--state-dir`/`--kubeconfig-out`.
#[derive(Debug, Clone, Default, Args)]
pub struct SandboxTarget {
    /// The running sandbox's kubeconfig (default: $KUBECONFIG when set, else the default state directory's)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context naming the sandbox
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
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
    #[command(flatten)]
    pub connect: ConnectArgs,

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
    /// The table with more columns: primary, nodes, volumes, largest lag, version
    Wide,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: GlobalArgs,

    /// Only this cluster (of any kind)
    pub name: Option<String>,

    /// Output format; json and yaml print a list of cluster views whose keys are stable (with NAME: the one
    /// view itself, as `kubectl get NAME -o json` does)
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    /// Longest time one request to the API server may take, in seconds (retries of 429/503 answers included);
    /// the request that did not finish is named
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub request_timeout: f64,

    /// Longest time the whole command may take, in seconds (listing, then probing); it then fails naming the
    /// request under way
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = positive_seconds)]
    pub timeout: f64,

    /// Do not connect to the databases (roles and lag then come from labels only, or show as unknown)
    #[arg(long)]
    pub no_probe: bool,

    /// Longest time the database probes may take, in seconds; members not read by then say so
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub probe_timeout: f64,
}

/// Seconds as a number (`2.5`) or with a unit as kubectl writes them (`500ms`, `10s`, `2m`).
fn positive_seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.parse::<f64>().map(|v| v * scale) {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?} is not a time between 0 and 3600 seconds (e.g. 5, 2.5s, 500ms, 1m)")),
    }
}

impl Cli {
    /// The connection flags in force for the command line: those before the sub-command, overlaid with those the
    /// sub-command takes after it. Errors when the two halves conflict.
    pub fn connection(&self) -> Result<GlobalArgs, &'static str> {
        let merged = match &self.command {
            Some(Command::Status(a)) => self.global.overlay(&a.target),
            Some(Command::Crd(a)) => self.global.overlay(&GlobalArgs::from(&a.connect)),
            _ => self.global.clone(),
        };
        match merged.conflict() {
            Some(why) => Err(why),
            None => Ok(merged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(argv)
    }

    #[test]
    fn connection_flags_before_and_after_the_sub_command() {
        let cli = parse(&["dbdeck", "--kubeconfig", "/k", "status", "-n", "x"]).unwrap();
        let g = cli.connection().unwrap();
        assert_eq!((g.kubeconfig.as_deref(), g.namespace.as_deref()), (Some(std::path::Path::new("/k")), Some("x")));
        let cli = parse(&["dbdeck", "-n", "x", "status", "-A"]).unwrap();
        let g = cli.connection().unwrap();
        assert!(g.all_namespaces && g.namespace.is_none());
        let cli = parse(&["dbdeck", "--sandbox", "crd", "--apply"]).unwrap();
        assert!(cli.connection().unwrap().sandbox);
        let cli = parse(&["dbdeck", "--sandbox", "status", "--kubeconfig", "/k"]).unwrap();
        assert!(cli.connection().unwrap_err().contains("--kubeconfig"));
        assert!(parse(&["dbdeck", "--sandbox", "--kubeconfig", "/k"]).is_err());
        // Sub-commands that never connect do not take the flags.
        assert!(parse(&["dbdeck", "validate", "-f", "x", "-A"]).is_err());
        assert!(parse(&["dbdeck", "sandbox", "--sandbox"]).is_err());
        assert!(parse(&["dbdeck", "sandbox", "fault", "--kubeconfig", "/k", "fail-next-job"]).is_ok());
    }

    #[test]
    fn seconds_take_kubectl_units() {
        assert_eq!(positive_seconds("5"), Ok(5.0));
        assert_eq!(positive_seconds("500ms"), Ok(0.5));
        assert_eq!(positive_seconds("2m"), Ok(120.0));
        assert_eq!(positive_seconds("1.5s"), Ok(1.5));
        assert!(positive_seconds("0").is_err() && positive_seconds("x").is_err() && positive_seconds("2h").is_err());
    }
}
