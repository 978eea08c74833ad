//! Real MariaDB (plain and Galera) and PostgreSQL 15 servers on loopback for tests.
//!
//! Each server lives in a temporary directory and runs in its own process group; dropping the handle kills the
//! group and removes the directory, so a failing test leaves nothing behind. The servers run as the `mysql` and
//! `postgres` system users (PostgreSQL refuses root; Galera's rsync transfer drops privileges and then needs to read
//! the data directory), which the Debian packages create. `.ci/install-db.sh` installs the packages.
//!
//! Use from a test file with `#[path = "support/dbservers.rs"] mod dbservers;`.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_USER: &str = "dbdeck_admin";
pub const ADMIN_PASSWORD: &str = "admin-pw-7Qx";
pub const MONITOR_USER: &str = "monitor";
pub const MONITOR_PASSWORD: &str = "monitor-pw-3Zk";
pub const PG_PASSWORD: &str = "pg-pw-9Lm";

const GALERA_PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub type Result<T> = std::result::Result<T, String>;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// `n` distinct free ports (kept bound until all are chosen so they cannot repeat).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local addr").port()).collect()
}

/// Whether the binaries the servers need are installed.
pub fn mariadb_available() -> bool {
    which("mariadbd") && which("mariadb-install-db") && which("mariadb")
}

pub fn galera_available() -> bool {
    mariadb_available() && Path::new(GALERA_PROVIDER).exists() && which("rsync")
}

pub fn postgres_available() -> bool {
    Path::new(PG_BIN).join("postgres").exists() && Path::new(PG_BIN).join("pg_basebackup").exists()
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).any(|p| p.join(bin).is_file())).unwrap_or(false)
        || ["/usr/sbin", "/usr/bin", "/sbin"].iter().any(|p| Path::new(p).join(bin).is_file())
}

/// uid/gid of a system user, from `id`.
fn user_ids(user: &str) -> Result<(u32, u32)> {
    let id = |flag: &str| -> Result<u32> {
        let out = Command::new("id").args([flag, user]).output().map_err(|e| format!("id {flag} {user}: {e}"))?;
        if !out.status.success() {
            return Err(format!("system user {user} does not exist (install the database packages)"));
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("id {flag} {user}: {e}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// A temporary directory that a system user can work in; removed on drop.
pub struct ServerDir {
    dir: tempfile::TempDir,
}

impl ServerDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().map_err(|e| format!("tempdir: {e}"))?;
        // The servers run as other users and need to traverse into it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", dir.path().display()))?;
        Ok(ServerDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .map_err(|e| format!("chown: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("chown -R {uid}:{gid} {} failed", path.display())) }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().map_err(|e| format!("cp: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cp -a {} {} failed", from.display(), to.display())) }
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running server process in its own process group; killed (with its helpers) on drop.
pub struct ServerProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Result<Self> {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
        let child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        Ok(ServerProcess { name: name.to_string(), child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the end of the server log if the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!("{} exited ({status}); log:\n{}", self.name, tail(&self.log, 30))),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 30)
    }

    /// Sends a signal to the server process alone (e.g. `STOP`/`CONT` to make it hang and recover).
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.child.id().to_string();
        run(Command::new("kill").args([&format!("-{signal}"), pid.as_str()]), &format!("kill -{signal} {}", self.name))
            .map(|_| ())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // The group holds the server and anything it started (SST scripts, rsync daemons, PostgreSQL backends).
        let pgid = self.child.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn poll<T, F, Fut>(what: &str, deadline: Duration, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut last = String::new();
    loop {
        match attempt().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = e,
        }
        if start.elapsed() > deadline {
            return Err(format!("{what}: not ready after {deadline:?}; last error: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// MariaDB

/// A freshly initialised MariaDB data directory to copy servers from (one `mariadb-install-db` per test).
pub struct MariaDbTemplate {
    root: ServerDir,
}

impl MariaDbTemplate {
    pub fn create() -> Result<Self> {
        let root = ServerDir::new("dbdeck-mariadb-template-")?;
        // A private tmpdir: a starting server removes stray temporary tables it finds in its tmpdir, which breaks
        // another server's bootstrap when they share /tmp.
        let tmp = root.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| format!("mkdir {}: {e}", tmp.display()))?;
        let (uid, gid) = user_ids("mysql")?;
        chown_recursive(root.path(), uid, gid)?;
        let data = root.path().join("data");
        run(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args(["--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
                .args(["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"]),
            "mariadb-install-db",
        )?;
        Ok(MariaDbTemplate { root })
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
}

/// Settings of one MariaDB server.
#[derive(Debug, Clone)]
pub struct MariaDbOptions {
    pub name: String,
    pub server_id: u32,
    /// Extra `mariadbd` arguments (replication, wsrep).
    pub extra_args: Vec<String>,
}

pub struct MariaDb {
    pub name: String,
    pub port: u16,
    pub socket: PathBuf,
    process: ServerProcess,
    dir: ServerDir,
}

impl MariaDb {
    /// Starts a server on a copy of `template` and waits until it answers on its socket.
    pub async fn start(template: &MariaDbTemplate, opts: MariaDbOptions, port: u16) -> Result<Self> {
        let dir = ServerDir::new(&format!("dbdeck-{}-", opts.name))?;
        let data = dir.path().join("data");
        copy_dir(&template.data(), &data)?;
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| format!("mkdir {}: {e}", tmp.display()))?;
        let (uid, gid) = user_ids("mysql")?;
        chown_recursive(dir.path(), uid, gid)?;
        let socket = dir.path().join("mysqld.sock");
        let log = dir.path().join("error.log");
        let mut cmd = Command::new("mariadbd");
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--server-id={}", opts.server_id))
            .args(["--bind-address=127.0.0.1", "--user=mysql", "--skip-name-resolve"])
            .args(["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M", "--binlog-format=ROW"])
            .args(&opts.extra_args);
        let process = ServerProcess::spawn(&opts.name, cmd, log)?;
        let mut server = MariaDb { name: opts.name, port, socket, process, dir };
        server.wait_ready(Duration::from_secs(90)).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, deadline: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            self.process.check_alive()?;
            if self.root_sql("SELECT 1").is_ok() {
                return Ok(());
            }
            if start.elapsed() > deadline {
                return Err(format!("{} not ready after {deadline:?}; log:\n{}", self.name, self.process.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs SQL as root over the unix socket with the `mariadb` client; returns tab-separated rows.
    pub fn root_sql(&self, sql: &str) -> Result<String> {
        run(
            Command::new("mariadb")
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["-uroot", "-N", "-B", "-e", sql]),
            &format!("SQL on {}", self.name),
        )
    }

    /// Creates the admin (all privileges) and monitor (replication status only) users, without binlogging them
    /// so a replica does not receive them twice.
    pub fn create_users(&self) -> Result<()> {
        let mut sql = String::from("SET SESSION sql_log_bin=0;");
        let _ = write!(
            sql,
            "CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';\
             GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;\
             CREATE USER IF NOT EXISTS '{MONITOR_USER}'@'%' IDENTIFIED BY '{MONITOR_PASSWORD}';\
             GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO '{MONITOR_USER}'@'%';"
        );
        self.root_sql(&sql).map(|_| ())
    }

    /// Opens an admin connection over TCP.
    pub async fn admin(&self) -> Result<mysql_async::Conn> {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(ADMIN_USER))
            .pass(Some(ADMIN_PASSWORD))
            .prefer_socket(false);
        mysql_async::Conn::new(opts).await.map_err(|e| format!("admin connection to {}: {e}", self.name))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing answers, like a hung node.
    /// SIGSTOP, and wait until the kernel reports the server stopped: `kill` returns before a busy
    /// multi-threaded process has actually halted, and a query could still be answered in between.
    pub fn freeze(&self) -> Result<()> {
        self.process.signal("STOP")?;
        let stat = format!("/proc/{}/stat", self.process.pid());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let state = std::fs::read_to_string(&stat)
                .ok()
                .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()));
            if state == Some('T') {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    pub fn thaw(&self) -> Result<()> {
        self.process.signal("CONT")
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// A MariaDB source and a replica following it with GTID (`MASTER_USE_GTID=slave_pos`).
pub struct MariaDbPair {
    pub source: MariaDb,
    pub replica: MariaDb,
}

impl MariaDbPair {
    pub async fn start() -> Result<Self> {
        let template = MariaDbTemplate::create()?;
        let ports = free_ports(2);
        let source_opts = MariaDbOptions {
            name: "mariadb-source".into(),
            server_id: 1,
            extra_args: vec!["--log-bin=mysql-bin".into(), "--log-slave-updates".into()],
        };
        let replica_opts = MariaDbOptions {
            name: "mariadb-replica".into(),
            server_id: 2,
            extra_args: vec!["--log-bin=mysql-bin".into(), "--relay-log=relay-bin".into()],
        };
        let (source, replica) = tokio::join!(
            MariaDb::start(&template, source_opts, ports[0]),
            MariaDb::start(&template, replica_opts, ports[1])
        );
        let (source, replica) = (source?, replica?);
        source.create_users()?;
        replica.create_users()?;
        replica.root_sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{ADMIN_USER}', \
             MASTER_PASSWORD='{ADMIN_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;",
            source.port
        ))?;
        Ok(MariaDbPair { source, replica })
    }
}

/// A Galera cluster of MariaDB nodes on loopback: the first node bootstraps, the others join by rsync SST.
pub struct GaleraCluster {
    pub nodes: Vec<MariaDb>,
}

impl GaleraCluster {
    pub async fn start(size: usize) -> Result<Self> {
        let template = MariaDbTemplate::create()?;
        let ports = free_ports(size * 4);
        let sql_port = |i: usize| ports[i * 4];
        let gcomm_port = |i: usize| ports[i * 4 + 1];
        let ist_port = |i: usize| ports[i * 4 + 2];
        let sst_port = |i: usize| ports[i * 4 + 3];
        let address = (0..size).map(|i| format!("127.0.0.1:{}", gcomm_port(i))).collect::<Vec<_>>().join(",");
        let opts = |i: usize| MariaDbOptions {
            name: format!("galera-{i}"),
            server_id: u32::try_from(i + 1).unwrap_or(1),
            extra_args: {
                let mut args = vec![
                    "--wsrep-on=ON".to_string(),
                    format!("--wsrep-provider={GALERA_PROVIDER}"),
                    format!("--wsrep-cluster-address=gcomm://{address}"),
                    format!("--wsrep-node-address=127.0.0.1:{}", gcomm_port(i)),
                    format!(
                        "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{}",
                        gcomm_port(i),
                        ist_port(i)
                    ),
                    format!("--wsrep-sst-receive-address=127.0.0.1:{}", sst_port(i)),
                    "--wsrep-sst-method=rsync".into(),
                    "--wsrep-cluster-name=dbdeck-test".into(),
                    format!("--wsrep-node-name=galera-{i}"),
                    "--innodb-autoinc-lock-mode=2".into(),
                ];
                if i == 0 {
                    args.push("--wsrep-new-cluster".into());
                }
                args
            },
        };
        let first = MariaDb::start(&template, opts(0), sql_port(0)).await?;
        // Users made before the others join reach them with the state transfer.
        first.create_users()?;
        let joiners =
            futures::future::join_all((1..size).map(|i| MariaDb::start(&template, opts(i), sql_port(i)))).await;
        let mut nodes = vec![first];
        for joiner in joiners {
            nodes.push(joiner?);
        }
        Ok(GaleraCluster { nodes })
    }

    /// Waits until every node reports `Synced` in a Primary component of the full size.
    pub async fn wait_synced(&self, deadline: Duration) -> Result<()> {
        let size = self.nodes.len().to_string();
        poll("galera cluster synced", deadline, || async {
            for node in &self.nodes {
                let out = node.root_sql(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN \
                     ('wsrep_local_state_comment','wsrep_cluster_size','wsrep_cluster_status')",
                )?;
                let ok = out.contains("Synced") && out.contains("Primary") && out.contains(&format!("\t{size}"));
                if !ok {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

pub struct Postgres {
    pub name: String,
    pub port: u16,
    process: ServerProcess,
    dir: ServerDir,
}

impl Postgres {
    fn command(bin: &str, uid: u32, gid: u32) -> Command {
        let mut cmd = Command::new(Path::new(PG_BIN).join(bin));
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
        cmd
    }

    /// initdb (password auth over TCP for the `postgres` user) and start.
    pub async fn start_primary() -> Result<Self> {
        Self::start_primary_with(None).await
    }

    /// Like [`Postgres::start_primary`], with TLS from `tls` = (certificate PEM, key PEM) when given. Then only
    /// the `postgres` admin user may log in without TLS (so test setup can use plain connections); every other
    /// user must use TLS, the way Percona's clusters allow network logins.
    pub async fn start_primary_with(tls: Option<(String, String)>) -> Result<Self> {
        let dir = ServerDir::new("dbdeck-pg-primary-")?;
        let (uid, gid) = user_ids("postgres")?;
        chown_recursive(dir.path(), uid, gid)?;
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).map_err(|e| format!("pwfile: {e}"))?;
        chown_recursive(&pwfile, uid, gid)?;
        run(
            Self::command("initdb", uid, gid)
                .arg("-D")
                .arg(dir.path().join("data"))
                .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-N"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        )?;
        if let Some((cert_pem, key_pem)) = tls {
            let data = dir.path().join("data");
            let write = |name: &str, text: &str, mode: u32| -> Result<()> {
                let path = data.join(name);
                std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("chmod {}: {e}", path.display()))?;
                chown_recursive(&path, uid, gid)
            };
            write("server.crt", &cert_pem, 0o644)?;
            // PostgreSQL refuses a key that others can read.
            write("server.key", &key_pem, 0o600)?;
            write(
                "pg_hba.conf",
                "local all all trust\n\
                 hostnossl all postgres 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 host replication postgres 127.0.0.1/32 scram-sha-256\n",
                0o600,
            )?;
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).map_err(|e| format!("read {}: {e}", conf.display()))?;
            text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
            std::fs::write(&conf, text).map_err(|e| format!("write {}: {e}", conf.display()))?;
        }
        Self::launch("pg-primary", dir, uid, gid).await
    }

    /// A streaming standby of `primary`, cloned with `pg_basebackup -R`, reporting itself as `application_name`.
    pub async fn start_standby(primary: &Postgres, application_name: &str) -> Result<Self> {
        let dir = ServerDir::new("dbdeck-pg-standby-")?;
        let (uid, gid) = user_ids("postgres")?;
        chown_recursive(dir.path(), uid, gid)?;
        let data = dir.path().join("data");
        run(
            Self::command("pg_basebackup", uid, gid)
                .env("PGPASSWORD", PG_PASSWORD)
                .args(["-h", "127.0.0.1", "-p", &primary.port.to_string(), "-U", "postgres", "-X", "stream", "-R"])
                .arg("-D")
                .arg(&data),
            "pg_basebackup",
        )?;
        // -R wrote primary_conninfo; a later line wins, so we set our own with an application_name we know.
        let conninfo = format!(
            "\nprimary_conninfo = 'host=127.0.0.1 port={} user=postgres password={PG_PASSWORD} application_name={application_name}'\n",
            primary.port
        );
        let auto_conf = data.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto_conf).map_err(|e| format!("read {}: {e}", auto_conf.display()))?;
        text.push_str(&conninfo);
        std::fs::write(&auto_conf, text).map_err(|e| format!("write {}: {e}", auto_conf.display()))?;
        Self::launch("pg-standby", dir, uid, gid).await
    }

    async fn launch(name: &str, dir: ServerDir, uid: u32, gid: u32) -> Result<Self> {
        let port = free_port();
        let log = dir.path().join("postgres.log");
        std::fs::write(&log, "").map_err(|e| format!("log file: {e}"))?;
        chown_recursive(&log, uid, gid)?;
        let mut cmd = Self::command("postgres", uid, gid);
        cmd.arg("-D")
            .arg(dir.path().join("data"))
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args(["-c", "shared_buffers=16MB", "-c", "fsync=off", "-c", "max_wal_senders=5"])
            .args(["-c", "wal_receiver_status_interval=1s", "-c", "logging_collector=off"]);
        // postgres writes its log to stderr; keep it in the file for failure messages.
        let log_file = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file).process_group(0);
        let child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        let process = ServerProcess { name: name.to_string(), child, log };
        let mut server = Postgres { name: name.to_string(), port, process, dir };
        let start = Instant::now();
        loop {
            server.process.check_alive()?;
            if server.admin().await.is_ok() {
                return Ok(server);
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("{name} not ready; log:\n{}", server.process.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A superuser connection over TCP; the connection task runs until the client is dropped.
    pub async fn admin(&self) -> Result<tokio_postgres::Client> {
        let mut config = tokio_postgres::Config::new();
        config.host("127.0.0.1").port(self.port).user("postgres").password(PG_PASSWORD).dbname("postgres");
        let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(|e| format!("{}: {e}", self.name))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Patroni

pub fn patroni_available() -> bool {
    which("patroni") && postgres_available()
}

/// TLS material for Patroni's REST API: the cluster's server certificate and the CA that also signs clients.
pub struct PatroniTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// Real Patroni members managing real PostgreSQL 15 servers on loopback, one per name, agreeing through
/// Patroni's built-in Raft store (no etcd needed). The REST API listens with TLS and `verify_client:
/// optional`, the way the engine configures it in pods.
pub struct PatroniCluster {
    pub members: Vec<PatroniMember>,
    dir: ServerDir,
}

pub struct PatroniMember {
    pub name: String,
    pub api_port: u16,
    pub pg_port: u16,
    process: ServerProcess,
}

impl PatroniCluster {
    pub async fn start(scope: &str, names: &[String], tls: &PatroniTls) -> Result<Self> {
        let dir = ServerDir::new("dbdeck-patroni-")?;
        let (uid, gid) = user_ids("postgres")?;
        let write = |name: &str, text: &str, mode: u32| -> Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {}: {e}", path.display()))?;
            Ok(path)
        };
        let ca = write("ca.crt", &tls.ca, 0o644)?;
        let cert = write("tls.crt", &tls.cert, 0o644)?;
        let key = write("tls.key", &tls.key, 0o600)?;
        let ports = free_ports(names.len() * 3);
        let raft: Vec<String> = (0..names.len()).map(|i| format!("127.0.0.1:{}", ports[i * 3 + 2])).collect();
        let mut configs = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let (api, pg) = (ports[i * 3], ports[i * 3 + 1]);
            let partners: Vec<String> =
                raft.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| format!("'{a}'")).collect();
            let home = dir.path().join(format!("m{i}"));
            std::fs::create_dir_all(&home).map_err(|e| format!("mkdir {}: {e}", home.display()))?;
            let config = format!(
                "scope: {scope}\nname: {name}\n\
                 restapi:\n  listen: 127.0.0.1:{api}\n  connect_address: 127.0.0.1:{api}\n  \
                 certfile: {cert}\n  keyfile: {key}\n  cafile: {ca}\n  verify_client: optional\n\
                 raft:\n  data_dir: {home}/raft\n  self_addr: {self_addr}\n  partner_addrs: [{partners}]\n\
                 bootstrap:\n  dcs:\n    ttl: 10\n    loop_wait: 1\n    retry_timeout: 3\n    \
                 maximum_lag_on_failover: 1048576\n  initdb: [{{encoding: UTF8}}]\n\
                 postgresql:\n  listen: 127.0.0.1:{pg}\n  connect_address: 127.0.0.1:{pg}\n  \
                 data_dir: {home}/data\n  bin_dir: {PG_BIN}\n  \
                 pg_hba: ['local all all trust', 'host all all 127.0.0.1/32 trust', \
                 'host replication all 127.0.0.1/32 trust']\n  \
                 authentication:\n    superuser: {{username: postgres, password: {PG_PASSWORD}}}\n    \
                 replication: {{username: replicator, password: {PG_PASSWORD}}}\n  \
                 parameters: {{unix_socket_directories: '{home}', shared_buffers: 16MB, fsync: 'off'}}\n",
                cert = cert.display(),
                key = key.display(),
                ca = ca.display(),
                home = home.display(),
                self_addr = raft[i],
                partners = partners.join(", "),
            );
            configs.push((name.clone(), api, pg, write(&format!("m{i}.yml"), &config, 0o644)?));
        }
        chown_recursive(dir.path(), uid, gid)?;
        let mut members = Vec::new();
        for (i, (name, api_port, pg_port, config)) in configs.into_iter().enumerate() {
            let log = dir.path().join(format!("m{i}.log"));
            let log_file = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
            let mut cmd = Command::new("patroni");
            cmd.arg(&config).uid(uid).gid(gid).env("HOME", "/tmp").current_dir(dir.path());
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file).process_group(0);
            let child = cmd.spawn().map_err(|e| format!("starting patroni {name}: {e}"))?;
            let process = ServerProcess { name: format!("patroni {name}"), child, log };
            members.push(PatroniMember { name, api_port, pg_port, process });
        }
        Ok(PatroniCluster { members, dir })
    }

    /// Fails with the member's log when its Patroni process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        self.members.iter_mut().try_for_each(|m| m.process.check_alive())
    }

    pub fn log_tails(&self) -> String {
        self.members.iter().map(|m| format!("== {}\n{}", m.name, m.process.log_tail())).collect::<Vec<_>>().join("\n")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        // Patroni starts PostgreSQL in a session of its own, outside the group a member's drop kills: stop
        // Patroni first (so nothing restarts it), then each postmaster by the PID in its data directory.
        for m in &self.members {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", m.process.pid())]).status();
        }
        for i in 0..self.members.len() {
            let pidfile = self.dir.path().join(format!("m{i}/data/postmaster.pid"));
            let pid = std::fs::read_to_string(&pidfile).ok().and_then(|t| t.lines().next().map(str::to_string));
            if let Some(pid) = pid.filter(|p| p.parse::<u32>().is_ok()) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

/// A listener that accepts TCP connections and never says a word: a server that hangs.
pub struct SilentServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind silent server");
        let port = listener.local_addr().expect("local addr").port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        SilentServer { port, task }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    free_port()
}
