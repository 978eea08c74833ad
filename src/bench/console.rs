//! `dbdeck bench console`: how fast the console draws and how little it costs while it waits.
//!
//! - frame time of the cluster list with 10,000 clusters and of each detail pane (ratatui `TestBackend`, 160x45,
//!   so the figure is layout and styling, not the terminal's speed);
//! - time to the first full frame on an embedded sandbox, the way `dbdeck --sandbox` starts (sandbox with its
//!   simulated cluster, CRDs and example clusters, preflight, watches listed once, one frame);
//! - CPU used (getrusage, user + system) while that console sits idle, redrawing on every tick and snapshot;
//! - resident memory the console model adds for 1,000 clusters.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{Latency, rss_mib};
use crate::cli::GlobalArgs;
use crate::console::action::{Action, ClusterRef};
use crate::console::app::{App, Pane, Screen};
use crate::console::theme::Theme;
use crate::console::views;
use crate::observe::live::{self, Scope};
use crate::observe::view::*;

const WIDTH: u16 = 160;
const HEIGHT: u16 = 45;

#[derive(Debug, serde::Serialize)]
pub struct ConsoleFigures {
    pub list_clusters: usize,
    pub list_frame: Latency,
    /// One entry per detail pane, in key order (Topology, Why not ready, PVCs, Backups, Events, Conditions).
    pub detail_frames: Vec<(String, Latency)>,
    pub first_frame: FirstFrame,
    pub idle_seconds: u64,
    /// CPU time over wall time while idle, in percent of one core (sandbox, watches and console together).
    pub idle_cpu_percent: f64,
    pub idle_frames: usize,
    pub memory_clusters: usize,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

/// The phases to the first frame, each in milliseconds from the start.
#[derive(Debug, serde::Serialize)]
pub struct FirstFrame {
    pub sandbox_started_ms: f64,
    pub seeded_ms: f64,
    pub preflight_ms: f64,
    pub watches_synced_ms: f64,
    pub frame_drawn_ms: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleBenchError {
    #[error(transparent)]
    Client(#[from] crate::cmd::kubeclient::ClientError),
    #[error(transparent)]
    Seed(#[from] crate::console::seed::SeedError),
    #[error(transparent)]
    Live(#[from] live::LiveError),
    #[error("the watches did not list the {0} example clusters within 60s")]
    NotSynced(usize),
}

/// `n` clusters of the three kinds as the live layer would fill them: components, six pods, three PVCs, two
/// backups, two conditions and ten events each.
pub fn synthetic_clusters(n: usize, now: DateTime<Utc>) -> Vec<ClusterView> {
    (0..n).map(|i| synthetic_cluster(i, now)).collect()
}

fn synthetic_cluster(i: usize, now: DateTime<Utc>) -> ClusterView {
    let ago = |mins: i64| Some(now - chrono::Duration::minutes(mins));
    let (kind, db, proxy, roles) = match i % 4 {
        0 => (ClusterKind::Pxc, ComponentKind::Pxc, ComponentKind::Haproxy, [Role::GaleraMember; 3]),
        1 => (
            ClusterKind::Ps { cluster_type: PsClusterType::Async },
            ComponentKind::Mysql,
            ComponentKind::Haproxy,
            [Role::Source, Role::Replica, Role::Replica],
        ),
        2 => (
            ClusterKind::Ps { cluster_type: PsClusterType::GroupReplication },
            ComponentKind::Mysql,
            ComponentKind::Router,
            [Role::Primary, Role::Replica, Role::Replica],
        ),
        _ => (
            ClusterKind::Pg,
            ComponentKind::InstanceSet,
            ComponentKind::Pgbouncer,
            [Role::Primary, Role::Standby, Role::Standby],
        ),
    };
    let name = format!("db-{i:05}");
    let mut c = ClusterView::new(kind, format!("team-{}", i % 37), &name);
    let ready = if i.is_multiple_of(11) { 2 } else { 3 };
    c.state = if ready == 3 { ClusterState::Ready } else { ClusterState::Initializing };
    c.host = Some(format!("{name}-proxy.team-{}", i % 37));
    c.created = ago(60 * (i as i64 % 500) + 5);
    c.version = Some("8.4.5".into());
    let (db_name, proxy_name) = (format!("{db:?}").to_lowercase(), format!("{proxy:?}").to_lowercase());
    c.components = vec![
        ComponentView { kind: db, name: db_name.clone(), size: 3, ready, status: "ready".into() },
        ComponentView { kind: proxy, name: proxy_name.clone(), size: 3, ready: 3, status: "ready".into() },
    ];
    for (k, role) in roles.iter().enumerate() {
        c.members.push(member(&format!("{name}-{db_name}-{k}"), &db_name, *role, k, now, k as u32 >= ready));
    }
    for k in 0..3 {
        c.members.push(member(&format!("{name}-{proxy_name}-{k}"), &proxy_name, Role::Proxy, k + 1, now, false));
    }
    c.pvcs = (0..3)
        .map(|k| PvcView {
            name: format!("datadir-{name}-{db_name}-{k}"),
            phase: "Bound".into(),
            capacity: Some("20Gi".into()),
            request: Some("20Gi".into()),
            storage_class: Some("standard".into()),
            resizing: false,
            used_by: Some(format!("{name}-{db_name}-{k}")),
        })
        .collect();
    c.backup_storages = vec!["s3-backups".into()];
    c.backups = (0..2)
        .map(|k| BackupView {
            name: format!("cron-{name}-s3-{k}"),
            state: "Succeeded".into(),
            storage: Some("s3-backups".into()),
            destination: Some(format!("s3://backups/{name}-{k}")),
            started: ago(60 * 24 * (k + 1)),
            completed: ago(60 * 24 * (k + 1) - 5),
            error: None,
            latest_restorable_time: None,
        })
        .collect();
    c.last_successful_backup = ago(60 * 24);
    c.conditions = vec![
        ConditionView {
            type_: "initializing".into(),
            status: "False".into(),
            reason: None,
            message: None,
            last_transition: ago(600),
        },
        ConditionView {
            type_: "ready".into(),
            status: if ready == 3 { "True" } else { "False" }.into(),
            reason: None,
            message: None,
            last_transition: ago(590),
        },
    ];
    c.events = (0..10)
        .map(|k| EventView {
            type_: if k % 5 == 0 { "Warning" } else { "Normal" }.into(),
            reason: if k % 5 == 0 { "BackOff" } else { "Started" }.into(),
            object: format!("pod/{name}-{db_name}-{}", k % 3),
            message: format!("event number {k} of {name}"),
            count: (k + 1) as u32,
            last_seen: ago(k as i64 * 7),
        })
        .collect();
    if ready < 3 {
        c.why_not_ready.push(Reason {
            kind: ReasonKind::Unschedulable,
            source: format!("pod/{name}-{db_name}-2"),
            message: "0/3 nodes are available: 3 Insufficient memory.".into(),
        });
    }
    c
}

fn member(pod: &str, component: &str, role: Role, node: usize, now: DateTime<Utc>, pending: bool) -> MemberView {
    let lag = if role.is_follower() {
        LagView::Unknown { reason: "no probe in this benchmark".into() }
    } else {
        LagView::NotApplicable
    };
    MemberView {
        pod: pod.into(),
        component: component.into(),
        role: Some(role),
        node: (!pending).then(|| format!("node-{}", node % 3)),
        zone: (!pending).then(|| format!("zone-{}", ['a', 'b', 'c'][node % 3])),
        ready: !pending,
        phase: if pending { "Pending" } else { "Running" }.into(),
        restarts: 0,
        started: Some(now - chrono::Duration::hours(3)),
        lag,
        lag_history: vec![],
        replication_error: None,
    }
}

fn terminal() -> Terminal<TestBackend> {
    // TestBackend cannot fail (its error type is uninhabited).
    let Ok(term) = Terminal::new(TestBackend::new(WIDTH, HEIGHT));
    term
}

fn draw(term: &mut Terminal<TestBackend>, app: &App, theme: &Theme) -> Duration {
    let t = Instant::now();
    let Ok(_) = term.draw(|f| views::draw(app, theme, f));
    t.elapsed()
}

fn frames(app: &App, theme: &Theme, n: usize) -> Latency {
    let mut term = terminal();
    draw(&mut term, app, theme); // warm-up: the first frame also allocates the buffers
    Latency::of((0..n).map(|_| draw(&mut term, app, theme)).collect())
}

/// CPU time (user + system) of the whole process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we hand it; a zeroed `rusage` is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer is always allowed.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

pub async fn run(idle_seconds: u64) -> Result<ConsoleFigures, ConsoleBenchError> {
    let theme = Theme::dark();
    let now = Utc::now();

    // Memory first, before the sandbox and big lists exist in this process.
    let memory_clusters = 1_000;
    let rss_before = rss_mib();
    let mut app = App::new("bench", None, now);
    app.update(Action::Snapshot(synthetic_clusters(memory_clusters, now)));
    let mut term = terminal();
    draw(&mut term, &app, &theme);
    let rss_after = rss_mib();
    drop(app);

    // The list with 10,000 clusters.
    let list_clusters = 10_000;
    let mut app = App::new("bench", None, now);
    app.update(Action::Snapshot(synthetic_clusters(list_clusters, now)));
    let list_frame = frames(&app, &theme, 30);

    // Each detail pane of one cluster (the list behind it stays large, as in real use).
    let target = ClusterRef::of(&app.clusters[1]);
    app.stack.push(Screen::Detail(target));
    let mut detail_frames = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        app.update(Action::Pane(i));
        detail_frames.push((pane.title().to_string(), frames(&app, &theme, 200)));
    }
    drop(app);

    let (first_frame, idle_cpu_percent, idle_frames) = sandbox_session(&theme, idle_seconds).await?;
    Ok(ConsoleFigures {
        list_clusters,
        list_frame,
        detail_frames,
        first_frame,
        idle_seconds,
        idle_cpu_percent,
        idle_frames,
        memory_clusters,
        rss_before_mib: rss_before,
        rss_after_mib: rss_after,
    })
}

/// Starts the console's live layer on an embedded sandbox as `dbdeck --sandbox` does, draws the first full frame,
/// then idles for `idle_seconds` redrawing on each tick (1 s) and snapshot, as the console loop does.
async fn sandbox_session(theme: &Theme, idle_seconds: u64) -> Result<(FirstFrame, f64, usize), ConsoleBenchError> {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let t0 = Instant::now();
    let global = GlobalArgs { sandbox: true, ..Default::default() };
    let conn = crate::cmd::kubeclient::connect(&global).await?;
    let sandbox_started_ms = ms(t0);
    let scope = Scope::Namespace("default".into());
    let examples = crate::console::seed::seed(conn.client.clone(), "default", true).await?.len();
    let seeded_ms = ms(t0);
    live::preflight(&conn.client, &scope).await?;
    let preflight_ms = ms(t0);
    let live = live::start(conn.client.clone(), scope);
    let mut snapshots = live.snapshots.clone();
    let mut app = App::new("dbdeck-sandbox", Some("default".into()), Utc::now());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let snap = snapshots.borrow_and_update().clone();
        if snap.synced && snap.clusters.len() >= examples {
            app.update(Action::Snapshot(snap.clusters));
            break;
        }
        if tokio::time::timeout_at(deadline, snapshots.changed()).await.is_err() {
            return Err(ConsoleBenchError::NotSynced(examples));
        }
    }
    let watches_synced_ms = ms(t0);
    let mut term = terminal();
    draw(&mut term, &app, theme);
    let first = FirstFrame { sandbox_started_ms, seeded_ms, preflight_ms, watches_synced_ms, frame_drawn_ms: ms(t0) };

    // Idle: the same select as the console loop, minus the keyboard.
    let cpu0 = cpu_time();
    let wall0 = Instant::now();
    let end = tokio::time::Instant::now() + Duration::from_secs(idle_seconds);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut drawn = 0usize;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => { app.update(Action::Tick(Utc::now())); }
            changed = snapshots.changed() => {
                if changed.is_ok() {
                    let snap = snapshots.borrow_and_update().clone();
                    if snap.synced {
                        app.update(Action::Snapshot(snap.clusters));
                    }
                }
            }
        }
        draw(&mut term, &app, theme);
        drawn += 1;
    }
    let cpu = cpu_time().saturating_sub(cpu0).as_secs_f64();
    let idle_cpu_percent = 100.0 * cpu / wall0.elapsed().as_secs_f64();
    drop(live);
    if let Some(sandbox) = conn.sandbox {
        sandbox.shutdown().await;
    }
    Ok((first, idle_cpu_percent, drawn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_clusters_are_varied_and_complete() {
        let now = Utc::now();
        let cs = synthetic_clusters(12, now);
        assert_eq!(cs.len(), 12);
        assert!(cs.iter().any(|c| c.kind == ClusterKind::Pg) && cs.iter().any(|c| c.kind == ClusterKind::Pxc));
        assert!(cs.iter().all(|c| c.members.len() == 6 && c.pvcs.len() == 3 && c.events.len() == 10));
        assert_eq!(cs[0].state, ClusterState::Initializing, "every 11th cluster is short of a pod");
        assert!(!cs[0].why_not_ready.is_empty());
        assert_eq!(cs[1].state, ClusterState::Ready);
    }

    #[test]
    fn frames_of_a_large_list_and_each_pane_are_measured() {
        let now = Utc::now();
        let mut app = App::new("t", None, now);
        app.update(Action::Snapshot(synthetic_clusters(50, now)));
        let l = frames(&app, &Theme::dark(), 3);
        assert_eq!(l.samples, 3);
        assert!(l.p50_ms > 0.0 && l.p50_ms <= l.max_ms);
    }
}
