//! Real database servers behind the `--sandbox` example clusters, so the demo shows roles and lag read from
//! real replication rather than `?`.
//!
//! Where MariaDB and PostgreSQL are installed, the example PS async cluster (`ledger-async`) gets a MariaDB
//! source and two GTID replicas, and the example PG cluster (`orders-db`) a PostgreSQL primary and two
//! streaming standbys. They run in a private temporary directory, listen on loopback only (ephemeral ports),
//! take the users and passwords the engine generated into the clusters' Secrets, and are attached to the
//! pods' database ports (the sandbox's port-forward then reaches them, so the probes and the engine read them
//! like any cluster's). A small writer on each writer server keeps transactions flowing so lag is measured on
//! live replication. Everything is started in the background (the console's first frame does not wait) and
//! killed, with its directory, on shutdown.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::observe::facts::ProbeOutcome;
use crate::observe::view::{ClusterView, LagView};
use crate::sandbox::Sandbox;
use crate::sandbox::portforward::NOT_ATTACHED;

/// The example PS cluster with asynchronous replication (`deploy/examples/ps-async-minimal.yaml`).
pub const PS_ASYNC_CLUSTER: &str = "ledger-async";
/// The example PG cluster (`deploy/examples/pg-minimal.yaml`).
pub const PG_CLUSTER: &str = "orders-db";
/// How to get the servers, said once where they are missing.
pub const INSTALL_HINT: &str = "apt-get install mariadb-server postgresql-15";
/// The short lag reason of a sandbox pod no server is attached to (the header says the rest once).
pub const NO_SERVER: &str = "no database server attached to this sandbox pod";

/// How long the demo waits for the engine to create a cluster's pods and Secrets.
const WAIT_FOR_CLUSTER: Duration = Duration::from_secs(600);
/// How long one server gets to start answering.
const SERVER_START: Duration = Duration::from_secs(120);
/// Time between the demo writers' transactions.
const WRITE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what} failed ({status}): {output}")]
    Command { what: String, status: String, output: String },
    #[error("{name} did not start within {secs} s; its log ends:\n{log}")]
    NotReady { name: String, secs: u64, log: String },
    #[error("{name} exited ({status}); its log ends:\n{log}")]
    Exited { name: String, status: String, log: String },
    #[error("SQL on {name}: {message}")]
    Sql { name: String, message: String },
    #[error("{0}")]
    Setup(String),
    #[error("shut down")]
    Closed,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

// ---- what is installed ----

/// The server binaries found on this machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// `mariadbd` and `mariadb-install-db`.
    pub mariadb: Option<(PathBuf, PathBuf)>,
    /// The `bin` directory of the newest PostgreSQL (with `initdb`, `postgres`, `pg_basebackup`).
    pub postgres: Option<PathBuf>,
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Installed {
    pub fn detect() -> Self {
        let mariadb = find_bin("mariadbd").zip(find_bin("mariadb-install-db"));
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v: u32 = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                ["initdb", "postgres", "pg_basebackup"].iter().all(|b| bin.join(b).is_file()).then_some((v, bin))
            })
            .collect();
        versions.sort();
        Installed { mariadb, postgres: versions.pop().map(|(_, bin)| bin) }
    }

    pub fn none() -> Self {
        Installed::default()
    }
}

// ---- progress, as the header says it ----

/// Where one demo cluster's servers are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    NotInstalled,
    /// Waiting for the engine to create the cluster's pods and Secrets.
    Waiting,
    Starting,
    /// Attached; the text says what runs.
    Attached(String),
    Failed(String),
    /// The cluster is not there (deleted, or `--empty`).
    Absent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoState {
    pub mariadb: Part,
    pub postgres: Part,
}

impl DemoState {
    /// One sentence for the console header; `None` once there is nothing left to say.
    pub fn note(&self, unattached: &[String]) -> Option<String> {
        let missing = matches!(self.mariadb, Part::NotInstalled) || matches!(self.postgres, Part::NotInstalled);
        if matches!(self.mariadb, Part::NotInstalled) && matches!(self.postgres, Part::NotInstalled) {
            return Some(format!(
                "No MariaDB/PostgreSQL installed, so the demo pods have no database servers and roles and lag \
                 stay unknown: {INSTALL_HINT}, then restart dbdeck --sandbox"
            ));
        }
        let mut parts = Vec::new();
        for (engine, cluster, part) in
            [("MariaDB", PS_ASYNC_CLUSTER, &self.mariadb), ("PostgreSQL", PG_CLUSTER, &self.postgres)]
        {
            match part {
                Part::NotInstalled => parts.push(format!("{cluster}: {engine} not installed")),
                Part::Waiting => parts.push(format!("{cluster}: waiting for its pods")),
                Part::Starting => parts.push(format!("{cluster}: starting {engine}…")),
                Part::Attached(what) => parts.push(format!("{cluster}: {what}")),
                Part::Failed(why) => parts.push(format!("{cluster}: {engine} failed: {}", first_line(why))),
                Part::Absent => {}
            }
        }
        // The demo's own clusters are said above while their servers come up.
        let active = |p: &Part| matches!(p, Part::Waiting | Part::Starting | Part::Attached(_));
        let coming =
            |n: &str| (n == PS_ASYNC_CLUSTER && active(&self.mariadb)) || (n == PG_CLUSTER && active(&self.postgres));
        let others: Vec<&str> = unattached.iter().map(String::as_str).filter(|n| !coming(n)).collect();
        if !others.is_empty() {
            parts.push(format!("no server for {}", others.join(", ")));
        }
        if missing {
            parts.push(INSTALL_HINT.to_string());
        }
        (!parts.is_empty()).then(|| format!("demo servers: {}", parts.join(" · ")))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The header's note when no demo runs (a sandbox started `--empty`, or a separate `dbdeck sandbox`).
pub fn unattached_note(clusters: &[String]) -> Option<String> {
    (!clusters.is_empty()).then(|| {
        format!(
            "no database server is attached to the sandbox pods of {}: `dbdeck sandbox attach` binds a pod's port \
             to a local server",
            clusters.join(", ")
        )
    })
}

/// Rewrites the long "nothing is attached" port-forward failure of sandbox pods into [`NO_SERVER`] (in the lag
/// and in the kept reading), so it is not repeated on every row; returns the clusters it applied to
/// (`name`, deduplicated, in order) for the one note that explains it.
pub fn fold_unattached(views: &mut [ClusterView]) -> Vec<String> {
    let mut clusters = Vec::new();
    for v in views.iter_mut() {
        let mut hit = false;
        for m in &mut v.members {
            if let LagView::Unknown { reason } = &mut m.lag
                && reason.contains(NOT_ATTACHED)
            {
                // Worded as the failed reading's summary, so the two are one note.
                *reason = ProbeOutcome::Unreachable { reason: NO_SERVER.into() }.summary();
                hit = true;
            }
        }
        for f in &mut v.db_facts {
            if let ProbeOutcome::Unreachable { reason } = &mut f.outcome
                && reason.contains(NOT_ATTACHED)
            {
                *reason = NO_SERVER.to_string();
                hit = true;
            }
        }
        if hit && !clusters.contains(&v.name) {
            clusters.push(v.name.clone());
        }
    }
    clusters
}

// ---- processes and their directory ----

/// A server process in its own process group; the group is killed when this is dropped. A thread of its own
/// started it and waits for it: the kernel kills the server (parent-death signal) when that thread ends, which is
/// when the server exits or dbdeck dies without cleaning up (a closed terminal), so no server outlives dbdeck.
struct Proc {
    name: String,
    pid: i32,
    log: PathBuf,
    /// How the process ended, once it has.
    exited: Arc<Mutex<Option<String>>>,
}

impl Proc {
    fn check_alive(&mut self) -> Result<(), DemoError> {
        match self.exited.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(status) => {
                Err(DemoError::Exited { name: self.name.clone(), status: status.clone(), log: tail(&self.log) })
            }
            None => Ok(()),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        // The group holds the server and what it started (PostgreSQL backends, the WAL receiver). Not once it
        // was reaped: the number may belong to someone else by now.
        if exited.is_none() {
            // SAFETY: kill(2) on our own child's process group; no memory is touched.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// The processes of the demo, killed together; once closed, a process started late is killed at once.
#[derive(Default)]
struct Keeper {
    procs: Mutex<Vec<Proc>>,
    closed: AtomicBool,
}

impl Keeper {
    fn keep(&self, proc: Proc) -> Result<(), DemoError> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            return Err(DemoError::Closed);
        }
        procs.push(proc);
        Ok(())
    }

    /// Checks the named process; an exited one fails with its log.
    fn check(&self, name: &str) -> Result<(), DemoError> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        match procs.iter_mut().find(|p| p.name == name) {
            Some(p) => p.check_alive(),
            None => Err(DemoError::Closed),
        }
    }

    fn log_of(&self, name: &str) -> String {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.iter().find(|p| p.name == name).map(|p| tail(&p.log)).unwrap_or_default()
    }

    /// Kills every process; returns what tells when each has ended.
    fn close(&self) -> Vec<Arc<Mutex<Option<String>>>> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        self.closed.store(true, Ordering::SeqCst);
        let ends = procs.iter().map(|p| p.exited.clone()).collect();
        procs.clear();
        ends
    }
}

/// The system user a server runs as when dbdeck runs as root (PostgreSQL refuses root; MariaDB is told to
/// drop to it). `None`: run as ourselves.
fn service_user(name: &str) -> Result<Option<(u32, u32)>, DemoError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let cname = std::ffi::CString::new(name).map_err(|e| DemoError::Setup(e.to_string()))?;
    // SAFETY: getpwnam with a valid C string; the record is read at once, before any other call that may
    // reuse its static storage.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(DemoError::Setup(format!(
            "dbdeck runs as root and there is no system user {name} to run the server as (the database packages \
             create it)"
        )));
    }
    // SAFETY: pw is non-null and points at a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

fn chown_tree(path: &Path, owner: Option<(u32, u32)>) -> Result<(), DemoError> {
    let Some((uid, gid)) = owner else { return Ok(()) };
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(format!("chown {}", path.display())))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io(format!("read {}", path.display())))? {
            let entry = entry.map_err(io(format!("read {}", path.display())))?;
            if entry.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
                continue;
            }
            chown_tree(&entry.path(), owner)?;
        }
    }
    Ok(())
}

fn mkdir(path: &Path, owner: Option<(u32, u32)>) -> Result<(), DemoError> {
    std::fs::create_dir_all(path).map_err(io(format!("mkdir {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(io(format!("chmod {}", path.display())))?;
    chown_tree(path, owner)
}

fn command(bin: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    cmd
}

fn run(cmd: &mut Command, what: &str) -> Result<(), DemoError> {
    let out = cmd.stdin(Stdio::null()).output().map_err(io(what))?;
    if !out.status.success() {
        return Err(DemoError::Command {
            what: what.to_string(),
            status: out.status.to_string(),
            output: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(())
}

fn spawn(
    keeper: &Keeper,
    name: &str,
    mut cmd: Command,
    log: PathBuf,
    owner: Option<(u32, u32)>,
) -> Result<(), DemoError> {
    let file = std::fs::File::create(&log).map_err(io(format!("create {}", log.display())))?;
    chown_tree(&log, owner)?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file).process_group(0);
    // SAFETY: prctl(2) only, between fork and exec, after the credentials changed (which would clear it).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let exited: Arc<Mutex<Option<String>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<u32>>();
    let waiter = exited.clone();
    let label = name.to_string();
    std::thread::Builder::new()
        .name(format!("demo {name}"))
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let status = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                tracing::debug!(server = %label, %status, "demo server exited");
                *waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(io(format!("starting a thread for {name}")))?;
    let pid = rx
        .recv()
        .map_err(|e| DemoError::Setup(format!("starting {name}: {e}")))?
        .map_err(io(format!("starting {name}")))?;
    let pid = i32::try_from(pid).map_err(|e| DemoError::Setup(format!("{name}: pid {pid}: {e}")))?;
    keeper.keep(Proc { name: name.to_string(), pid, log, exited })
}

/// Ports that were free a moment ago on 127.0.0.1 (kept bound together so they differ).
fn free_ports(n: usize) -> Result<Vec<u16>, DemoError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io("choosing a loopback port"))?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(io("choosing a loopback port"))).collect()
}

fn random_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.random_range(0..57)]))
        .collect()
}

/// A SQL string literal (both servers accept doubled quotes; backslashes are doubled for MariaDB).
fn quote(s: &str, backslashes: bool) -> String {
    let s = if backslashes { s.replace('\\', "\\\\") } else { s.to_string() };
    format!("'{}'", s.replace('\'', "''"))
}

async fn until_ready<F, Fut>(keeper: &Keeper, name: &str, mut attempt: F) -> Result<(), DemoError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        keeper.check(name)?;
        if attempt().await {
            return Ok(());
        }
        if start.elapsed() > SERVER_START {
            return Err(DemoError::NotReady {
                name: name.to_string(),
                secs: SERVER_START.as_secs(),
                log: keeper.log_of(name),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DemoError> + Send + 'static,
) -> impl std::future::Future<Output = Result<T, DemoError>> {
    async move { tokio::task::spawn_blocking(f).await.map_err(|e| DemoError::Setup(e.to_string()))? }
}

// ---- the running demo ----

/// The demo servers of one embedded sandbox. Dropping it (or [`DemoServers::shutdown`]) kills them and removes
/// their directory.
pub struct DemoServers {
    state: watch::Receiver<DemoState>,
    keeper: Arc<Keeper>,
    tasks: Vec<JoinHandle<()>>,
    dir: PathBuf,
}

struct Ctx {
    sandbox: Sandbox,
    client: kube::Client,
    namespace: String,
    keeper: Arc<Keeper>,
    dir: PathBuf,
}

impl DemoServers {
    /// Starts, in the background, the servers `installed` allows for the example clusters in `namespace`, and
    /// attaches them to the pods once the engine has created those.
    pub fn start(sandbox: Sandbox, client: kube::Client, namespace: &str, installed: Installed) -> Self {
        let dir = std::env::temp_dir().join(format!("dbdeck-demo-{}-{}", std::process::id(), random_password()));
        let first = DemoState {
            mariadb: if installed.mariadb.is_some() { Part::Waiting } else { Part::NotInstalled },
            postgres: if installed.postgres.is_some() { Part::Waiting } else { Part::NotInstalled },
        };
        let (tx, state) = watch::channel(first);
        let tx = Arc::new(tx);
        let keeper = Arc::new(Keeper::default());
        let ctx = Arc::new(Ctx {
            sandbox,
            client,
            namespace: namespace.to_string(),
            keeper: keeper.clone(),
            dir: dir.clone(),
        });
        let mut tasks = Vec::new();
        if let Some((mariadbd, install_db)) = installed.mariadb {
            let (ctx, tx) = (ctx.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let set = |p: Part| tx.send_modify(|s| s.mariadb = p);
                let part = match mariadb_demo(&ctx, &mariadbd, &install_db, &set).await {
                    Ok(Some(what)) => Part::Attached(what),
                    Ok(None) => Part::Absent,
                    Err(DemoError::Closed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "demo MariaDB servers did not start");
                        Part::Failed(e.to_string())
                    }
                };
                set(part);
            }));
        }
        if let Some(bin) = installed.postgres {
            let (ctx, tx) = (ctx.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let set = |p: Part| tx.send_modify(|s| s.postgres = p);
                let part = match postgres_demo(&ctx, &bin, &set).await {
                    Ok(Some(what)) => Part::Attached(what),
                    Ok(None) => Part::Absent,
                    Err(DemoError::Closed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "demo PostgreSQL servers did not start");
                        Part::Failed(e.to_string())
                    }
                };
                set(part);
            }));
        }
        DemoServers { state, keeper, tasks, dir }
    }

    pub fn state(&self) -> DemoState {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<DemoState> {
        self.state.clone()
    }

    /// The temporary directory the servers live in (removed on shutdown).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the servers, waits (a few seconds at most) until they are gone, and removes their directory.
    pub async fn shutdown(mut self) {
        let ends = self.stop();
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // A killed server may still be writing for a moment; its files go once it has ended.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10)
            && ends.iter().any(|e| e.lock().unwrap_or_else(|p| p.into_inner()).is_none())
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn stop(&mut self) -> Vec<Arc<Mutex<Option<String>>>> {
        for t in &self.tasks {
            t.abort();
        }
        self.keeper.close()
    }
}

impl Drop for DemoServers {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `f` finds what it needs (the engine creates pods and Secrets a moment after the CR); `None` when
/// the cluster itself is gone.
async fn wait_for<T, F, Fut>(ctx: &Ctx, cluster: &str, kind: &str, mut f: F) -> Result<Option<T>, DemoError>
where
    F: FnMut(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let (group, version) = match kind {
        "PerconaPGCluster" => ("pgv2.percona.com", "v2"),
        _ => ("ps.percona.com", "v1"),
    };
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &kube::api::ApiResource::from_gvk(&gvk));
    let start = Instant::now();
    loop {
        if ctx.keeper.closed.load(Ordering::SeqCst) {
            return Err(DemoError::Closed);
        }
        match api.get_opt(cluster).await {
            Ok(None) => return Ok(None),
            Ok(Some(cr)) => {
                if let Some(found) = f(serde_json::to_value(&cr).unwrap_or_default()).await {
                    return Ok(Some(found));
                }
            }
            Err(e) => tracing::debug!(cluster, error = %e, "demo servers: reading the cluster"),
        }
        if start.elapsed() > WAIT_FOR_CLUSTER {
            return Err(DemoError::Setup(format!(
                "the engine did not create the pods and Secrets of {cluster} within {} s",
                WAIT_FOR_CLUSTER.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn secret_text(secret: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.0.clone()).ok()?)))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    out
}

fn attach(ctx: &Ctx, pod: &str, port: u16, local: u16) {
    ctx.sandbox.attach(&ctx.namespace, pod, port, SocketAddr::from((Ipv4Addr::LOCALHOST, local)));
    tracing::info!(namespace = %ctx.namespace, pod, port, local, "demo server attached");
}

// ---- MariaDB: a source and two GTID replicas for the PS async example ----

async fn mariadb_demo(
    ctx: &Ctx,
    mariadbd: &Path,
    install_db: &Path,
    set: &impl Fn(Part),
) -> Result<Option<String>, DemoError> {
    let cluster = PS_ASYNC_CLUSTER;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let (pods_api, secrets) = (&pods_api, &secrets);
    let found = wait_for(ctx, cluster, "PerconaServerMySQL", |cr| async move {
        // Every pod the spec asks for: the StatefulSet creates them one after another.
        let size = cr.pointer("/spec/mysql/size").and_then(serde_json::Value::as_u64).unwrap_or(3);
        let lp =
            ListParams::default().labels(&format!("app.kubernetes.io/instance={cluster},app.kubernetes.io/name=mysql"));
        let mut pods: Vec<String> =
            pods_api.list(&lp).await.ok()?.items.into_iter().filter_map(|p| p.metadata.name).collect();
        pods.sort();
        let users = secrets.get_opt(&format!("internal-{cluster}")).await.ok()??;
        let users = secret_text(&users);
        (pods.len() as u64 >= size.max(1) && users.contains_key("monitor")).then_some((pods, users))
    })
    .await?;
    let Some((pods, users)) = found else { return Ok(None) };
    set(Part::Starting);

    let owner = service_user("mysql").ok().flatten();
    let root = ctx.dir.join("mariadb");
    let ports = free_ports(pods.len())?;
    // One initialised data directory, copied for each server.
    let template = root.join("template");
    {
        let (template, install_db) = (template.clone(), install_db.to_path_buf());
        let root = root.clone();
        blocking(move || {
            mkdir(&root, owner)?;
            mkdir(&template, owner)?;
            let tmp = template.join("tmp");
            mkdir(&tmp, owner)?;
            let mut cmd = command(&install_db, None);
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", template.join("data").display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                .args(["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"]);
            if owner.is_some() {
                cmd.arg("--user=mysql");
            }
            run(&mut cmd, "mariadb-install-db")
        })
        .await?;
    }
    let mut sockets = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let home = root.join(format!("m{i}"));
        let socket = home.join("mysqld.sock");
        let (template, mariadbd, home2, socket2, keeper) =
            (template.clone(), mariadbd.to_path_buf(), home.clone(), socket.clone(), ctx.keeper.clone());
        let port = ports[i];
        let name = format!("mariadb {pod}");
        let name2 = name.clone();
        blocking(move || {
            mkdir(&home2, owner)?;
            let data = home2.join("data");
            run(Command::new("cp").arg("-a").arg(template.join("data")).arg(&data), "copying the data directory")?;
            mkdir(&home2.join("tmp"), owner)?;
            chown_tree(&home2, owner)?;
            // Started as the service user itself: a server that drops privileges on its own would lose the
            // parent-death signal.
            let mut cmd = command(&mariadbd, owner);
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket2.display()))
                .arg(format!("--pid-file={}", home2.join("mysqld.pid").display()))
                .arg(format!("--tmpdir={}", home2.join("tmp").display()))
                .arg(format!("--port={port}"))
                .arg(format!("--server-id={}", i + 1))
                .args(["--bind-address=127.0.0.1", "--skip-name-resolve", "--log-bin=mysql-bin"])
                .args(["--log-slave-updates", "--relay-log=relay-bin", "--binlog-format=ROW"])
                .args(["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"]);
            spawn(&keeper, &name2, cmd, home2.join("error.log"), owner)
        })
        .await?;
        until_ready(&ctx.keeper, &name, || async { mysql_socket(&socket).await.is_ok() }).await?;
        sockets.push((name, socket));
    }

    // The engine's users, with its passwords, on every server (not binlogged: each server gets its own).
    let mut grants = String::from("SET SESSION sql_log_bin=0;");
    for (user, password) in &users {
        let (u, p) = (quote(user, true), quote(password.trim_end_matches(['\n', '\r']), true));
        grants.push_str(&format!(
            "CREATE OR REPLACE USER {u}@'%' IDENTIFIED BY {p}; GRANT ALL PRIVILEGES ON *.* TO {u}@'%' WITH GRANT OPTION;"
        ));
    }
    let replication_user = if users.contains_key("replication") { "replication" } else { "monitor" };
    let replication_pw = users.get(replication_user).map(|p| p.trim_end_matches(['\n', '\r']).to_string());
    for (i, (name, socket)) in sockets.iter().enumerate() {
        let mut sql = grants.clone();
        if i > 0 {
            sql.push_str(&format!(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER={}, MASTER_PASSWORD={}, \
                 MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE; SET GLOBAL read_only=ON;",
                ports[0],
                quote(replication_user, true),
                quote(replication_pw.as_deref().unwrap_or_default(), true),
            ));
        }
        mysql_exec(name, socket, &sql).await?;
    }
    for (i, pod) in pods.iter().enumerate() {
        attach(ctx, pod, 3306, ports[i]);
    }
    let (name, socket) = sockets[0].clone();
    let keeper = ctx.keeper.clone();
    tokio::spawn(async move { mysql_writer(&name, &socket, &keeper).await });
    let replicas = pods.len().saturating_sub(1);
    Ok(Some(format!("MariaDB source + {replicas} replicas attached")))
}

async fn mysql_socket(socket: &Path) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default()
        .socket(Some(socket.display().to_string()))
        .user(Some("root"))
        .prefer_socket(true)
        .stmt_cache_size(0);
    mysql_async::Conn::new(opts).await
}

async fn mysql_exec(name: &str, socket: &Path, sql: &str) -> Result<(), DemoError> {
    use mysql_async::prelude::Queryable;
    let sql_err = |e: mysql_async::Error| DemoError::Sql { name: name.to_string(), message: e.to_string() };
    let mut conn = mysql_socket(socket).await.map_err(sql_err)?;
    conn.query_drop(sql).await.map_err(sql_err)?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// One small transaction a second on the source, so the replicas have something to follow.
async fn mysql_writer(name: &str, socket: &Path, keeper: &Keeper) {
    use mysql_async::prelude::Queryable;
    let setup = "CREATE DATABASE IF NOT EXISTS dbdeck_demo; CREATE TABLE IF NOT EXISTS dbdeck_demo.ticks \
                 (id BIGINT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))";
    let mut conn = None;
    while !keeper.closed.load(Ordering::SeqCst) {
        if conn.is_none() {
            match mysql_socket(socket).await {
                Ok(mut c) => {
                    if c.query_drop(setup).await.is_ok() {
                        conn = Some(c);
                    }
                }
                Err(e) => tracing::debug!(server = name, error = %e, "demo writer cannot connect"),
            }
        }
        if let Some(c) = conn.as_mut()
            && c.query_drop("INSERT INTO dbdeck_demo.ticks () VALUES ()").await.is_err()
        {
            conn = None;
        }
        tokio::time::sleep(WRITE_EVERY).await;
    }
}

// ---- PostgreSQL: a primary and two streaming standbys for the PG example ----

async fn postgres_demo(ctx: &Ctx, bin: &Path, set: &impl Fn(Part)) -> Result<Option<String>, DemoError> {
    let cluster = PG_CLUSTER;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let (pods_api, secrets) = (&pods_api, &secrets);
    let found = wait_for(ctx, cluster, "PerconaPGCluster", |cr| async move {
        let size: u64 = cr
            .pointer("/spec/instances")
            .and_then(serde_json::Value::as_array)
            .map(|sets| sets.iter().map(|s| s.get("replicas").and_then(serde_json::Value::as_u64).unwrap_or(1)).sum())
            .unwrap_or(1);
        let lp = ListParams::default().labels(&format!(
            "postgres-operator.crunchydata.com/cluster={cluster},postgres-operator.crunchydata.com/instance-set"
        ));
        let mut pods: Vec<String> =
            pods_api.list(&lp).await.ok()?.items.into_iter().filter_map(|p| p.metadata.name).collect();
        pods.sort();
        let mut users = Vec::new();
        for user in ["postgres", "monitor", cluster] {
            if let Ok(Some(s)) = secrets.get_opt(&format!("{cluster}-pguser-{user}")).await {
                let data = secret_text(&s);
                let name = data.get("user").cloned().unwrap_or_else(|| user.to_string());
                if let Some(pw) = data.get("password") {
                    users.push((name, pw.trim_end_matches(['\n', '\r']).to_string()));
                }
            }
        }
        (pods.len() as u64 >= size.max(1) && !users.is_empty()).then_some((pods, users))
    })
    .await?;
    let Some((pods, users)) = found else { return Ok(None) };
    set(Part::Starting);

    let owner = service_user("postgres")?;
    let root = ctx.dir.join("postgres");
    let ports = free_ports(pods.len())?;
    // The superuser password the standbys clone and stream with; the engine's own users come after.
    let superuser_pw = random_password();
    let mut homes = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let home = root.join(format!("p{i}"));
        let name = format!("postgres {pod}");
        let (bin, home2, root2, name2, keeper, pw) =
            (bin.to_path_buf(), home.clone(), root.clone(), name.clone(), ctx.keeper.clone(), superuser_pw.clone());
        let (port, primary_port, pod2) = (ports[i], ports[0], pod.clone());
        blocking(move || {
            mkdir(&root2, owner)?;
            mkdir(&home2, owner)?;
            let data = home2.join("data");
            if i == 0 {
                let pwfile = home2.join("pwfile");
                std::fs::write(&pwfile, &pw).map_err(io("writing the password file"))?;
                chown_tree(&pwfile, owner)?;
                run(
                    command(&bin.join("initdb"), owner)
                        .arg("-D")
                        .arg(&data)
                        .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-N"])
                        .arg(format!("--pwfile={}", pwfile.display())),
                    "initdb",
                )?;
                let _ = std::fs::remove_file(&pwfile);
            } else {
                run(
                    command(&bin.join("pg_basebackup"), owner)
                        .env("PGPASSWORD", &pw)
                        .args(["-h", "127.0.0.1", "-p", &primary_port.to_string(), "-U", "postgres"])
                        .args(["-X", "stream", "-R", "-D"])
                        .arg(&data),
                    "pg_basebackup",
                )?;
                // -R wrote a primary_conninfo; a later line wins: name the standby after its pod.
                let conf = data.join("postgresql.auto.conf");
                let mut text = std::fs::read_to_string(&conf).map_err(io(format!("read {}", conf.display())))?;
                text.push_str(&format!(
                    "\nprimary_conninfo = 'host=127.0.0.1 port={primary_port} user=postgres password={pw} \
                     application_name={pod2}'\n"
                ));
                std::fs::write(&conf, text).map_err(io(format!("write {}", conf.display())))?;
            }
            let mut cmd = command(&bin.join("postgres"), owner);
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", home2.display()))
                .args(["-c", "shared_buffers=16MB", "-c", "fsync=off", "-c", "max_wal_senders=8"])
                .args(["-c", "wal_receiver_status_interval=1s", "-c", "logging_collector=off"]);
            spawn(&keeper, &name2, cmd, home2.join("postgres.log"), owner)
        })
        .await?;
        until_ready(&ctx.keeper, &name, || async { pg_socket(&home, port).await.is_ok() }).await?;
        if i == 0 {
            // The engine's users exist before the standbys clone, so they are on every server.
            let mut sql = String::new();
            for (user, password) in &users {
                let ident = format!("\"{}\"", user.replace('"', "\"\""));
                let pw = quote(password, false);
                if user == "postgres" {
                    continue;
                }
                sql.push_str(&format!(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {lit}) THEN \
                     CREATE ROLE {ident} LOGIN; END IF; END $$; ALTER ROLE {ident} LOGIN PASSWORD {pw}; \
                     GRANT pg_monitor TO {ident};",
                    lit = quote(user, false),
                ));
            }
            pg_exec(&name, &home, port, &sql).await?;
        }
        homes.push((name, home, port));
    }
    // The engine's postgres password last: the standbys cloned and stream with ours.
    if let Some((_, pw)) = users.iter().find(|(u, _)| u == "postgres") {
        let (name, home, port) = &homes[0];
        // Standbys keep streaming: their WAL receiver has authenticated already and re-reads nothing.
        pg_exec(name, home, *port, &format!("ALTER ROLE postgres PASSWORD {}", quote(pw, false))).await?;
    }
    for (i, pod) in pods.iter().enumerate() {
        attach(ctx, pod, 5432, ports[i]);
    }
    let (name, home, port) = homes[0].clone();
    let keeper = ctx.keeper.clone();
    tokio::spawn(async move { pg_writer(&name, &home, port, &keeper).await });
    let standbys = pods.len().saturating_sub(1);
    Ok(Some(format!("PostgreSQL primary + {standbys} standbys attached")))
}

async fn pg_socket(dir: &Path, port: u16) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config.host_path(dir).port(port).user("postgres").dbname("postgres");
    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn pg_exec(name: &str, dir: &Path, port: u16, sql: &str) -> Result<(), DemoError> {
    let sql_err = |e: tokio_postgres::Error| DemoError::Sql { name: name.to_string(), message: e.to_string() };
    let client = pg_socket(dir, port).await.map_err(sql_err)?;
    client.batch_execute(sql).await.map_err(sql_err)
}

/// One small transaction a second on the primary, so the standbys have WAL to replay.
async fn pg_writer(name: &str, dir: &Path, port: u16, keeper: &Keeper) {
    let mut client = None;
    while !keeper.closed.load(Ordering::SeqCst) {
        if client.is_none() {
            match pg_socket(dir, port).await {
                Ok(c) => {
                    let setup = "CREATE TABLE IF NOT EXISTS dbdeck_demo_ticks \
                                 (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now())";
                    if c.batch_execute(setup).await.is_ok() {
                        client = Some(c);
                    }
                }
                Err(e) => tracing::debug!(server = name, error = %e, "demo writer cannot connect"),
            }
        }
        if let Some(c) = client.as_ref()
            && c.batch_execute("INSERT INTO dbdeck_demo_ticks DEFAULT VALUES").await.is_err()
        {
            client = None;
        }
        tokio::time::sleep(WRITE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::facts::MemberFacts;
    use crate::observe::view::{ClusterKind, MemberView};

    #[test]
    fn the_note_is_said_once_and_names_what_to_install() {
        let none = DemoState { mariadb: Part::NotInstalled, postgres: Part::NotInstalled };
        let note = none.note(&[]).unwrap();
        assert!(note.contains(INSTALL_HINT), "{note}");
        let half = DemoState {
            mariadb: Part::Attached("MariaDB source + 2 replicas attached".into()),
            postgres: Part::NotInstalled,
        };
        let note = half.note(&["shop-db".into()]).unwrap();
        assert!(note.contains("ledger-async: MariaDB source + 2 replicas attached"), "{note}");
        assert!(note.contains("orders-db: PostgreSQL not installed"), "{note}");
        assert!(note.contains("no server for shop-db"), "{note}");
        assert!(note.contains(INSTALL_HINT), "{note}");
        let starting = DemoState { mariadb: Part::Starting, postgres: Part::Waiting };
        let note = starting.note(&["ledger-async".into(), "orders-db".into(), "shop-db".into()]).unwrap();
        assert!(note.contains("ledger-async: starting MariaDB…"), "{note}");
        assert!(note.ends_with("no server for shop-db"), "the demo's own clusters are said once: {note}");
        let all = DemoState { mariadb: Part::Absent, postgres: Part::Absent };
        assert_eq!(all.note(&[]), None);
    }

    #[test]
    fn unattached_pods_get_the_short_reason() {
        let long = format!(
            "unreachable: port-forward to pod default/c-pxc-0 failed: error forwarding port 3306 to pod c-pxc-0: \
             {NOT_ATTACHED} (POST /_sandbox/attach to bind it to a local endpoint)"
        );
        let mut v = ClusterView::new(ClusterKind::Pxc, "default", "c");
        v.members.push(MemberView {
            pod: "c-pxc-0".into(),
            component: "pxc".into(),
            role: None,
            node: None,
            zone: None,
            ready: true,
            phase: "Running".into(),
            restarts: 0,
            started: None,
            lag: LagView::Unknown { reason: long.clone() },
            lag_history: vec![],
            replication_error: None,
        });
        v.db_facts.push(MemberFacts {
            member: "c-pxc-0".into(),
            read_at: chrono::Utc::now(),
            outcome: ProbeOutcome::Unreachable { reason: long },
        });
        let mut views = vec![v, ClusterView::new(ClusterKind::Pg, "default", "other")];
        assert_eq!(fold_unattached(&mut views), ["c"]);
        assert_eq!(views[0].members[0].lag, LagView::Unknown { reason: format!("unreachable: {NO_SERVER}") });
        assert_eq!(views[0].db_facts[0].outcome, ProbeOutcome::Unreachable { reason: NO_SERVER.into() });
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a'b\\c", true), "'a''b\\\\c'");
        assert_eq!(quote("a'b\\c", false), "'a''b\\c'");
    }
}
