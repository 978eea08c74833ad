//! `dbdeck status`: the console's cluster views, printed once (a table, or stable JSON/YAML for scripts).
//!
//! Unless `--no-probe`, the database members are probed first, within an overall deadline (`--probe-timeout`), so
//! roles and lag come from the servers themselves and a script never waits on a hung database.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cli::{ConsoleArgs, GlobalArgs, StatusArgs, StatusFormat};
use crate::cmd::{kubeclient, out};
use crate::console::views::{age, lag_text};
use crate::observe::build::{World, build_all};
use crate::observe::collect::{Collector, CollectorConfig};
use crate::observe::facts::ProbeOutcome;
use crate::observe::live::{Scope, list_world};
use crate::observe::merge;
use crate::observe::probe::ProbeConfig;
use crate::observe::view::ClusterView;

/// Said for each database member when `--no-probe` is given.
pub const NOT_PROBED: &str = "not probed (--no-probe)";

/// The scope the flags ask for: `-A`, `-n NS`, or the context's namespace.
pub fn scope(global: &GlobalArgs, client: &kube::Client) -> Scope {
    if global.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(global.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string()))
    }
}

/// The table `-o text` prints.
pub fn table(views: &[ClusterView], now: DateTime<Utc>) -> String {
    let header = ["KIND", "NAMESPACE", "NAME", "STATE", "READY", "ENDPOINT", "AGE", "LAST BACKUP"];
    let rows: Vec<[String; 8]> = views
        .iter()
        .map(|v| {
            let ready =
                v.components.iter().map(|c| format!("{} {}/{}", c.name, c.ready, c.size)).collect::<Vec<_>>().join(" ");
            [
                v.kind.label().to_string(),
                v.namespace.clone(),
                v.name.clone(),
                v.display_state().to_string(),
                if ready.is_empty() { "—".into() } else { ready },
                v.host.clone().unwrap_or_else(|| "—".into()),
                age(now, v.created),
                v.last_successful_backup.map(|t| age(now, Some(t))).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    columns(header, &rows)
}

/// Formats rows as columns separated by three spaces; the last column is not padded.
fn columns<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                out.push_str(c);
                out.push_str(&" ".repeat(pad + 3));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// The database members of every cluster with their role, the server's state, the lag and when the server was
/// read (UTC) (`-o text`). `-` means lag does not apply (a writer); `—` means it is not known, and NOTE says why.
pub fn members_table(views: &[ClusterView]) -> String {
    let header = ["CLUSTER", "POD", "ROLE", "DB STATE", "LAG", "READ AT", "NOTE"];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for v in views {
        for m in v.members.iter().filter(|m| v.is_database_member(m)) {
            let reading = v.facts_of(&m.pod);
            // A sandbox pod with no server behind it: the one note under the table says why.
            let no_server = matches!(reading.map(|r| &r.outcome),
                Some(ProbeOutcome::Unreachable { reason }) if reason == crate::console::demo_servers::NO_SERVER);
            let state = match reading.map(|r| &r.outcome) {
                _ if no_server => "no server".to_string(),
                None => "—".to_string(),
                Some(ProbeOutcome::Ok(f)) => f.state.clone(),
                Some(ProbeOutcome::Unreachable { .. }) => "unreachable".into(),
                Some(ProbeOutcome::AuthFailed { .. }) => "auth failed".into(),
                Some(ProbeOutcome::Timeout { .. }) => "timeout".into(),
                Some(ProbeOutcome::Error { .. }) => "error".into(),
            };
            let lag = match lag_text(&m.lag) {
                l if l.is_empty() => "-".to_string(),
                l => l,
            };
            let notes = if no_server { Vec::new() } else { merge::member_notes(&m.lag, reading) };
            let read_at = reading.map_or_else(|| "—".to_string(), |r| r.read_at.format("%H:%M:%SZ").to_string());
            rows.push([
                format!("{}/{}", v.kind.short(), v.name),
                m.pod.clone(),
                m.role.map(|r| r.label().to_string()).unwrap_or_else(|| "?".into()),
                state,
                lag,
                read_at,
                notes.join("; "),
            ]);
        }
    }
    if rows.is_empty() { String::new() } else { columns(header, &rows) }
}

/// The one note for sandbox pods that have no database server attached (their rows say only
/// [`crate::console::demo_servers::NO_SERVER`]).
pub fn unattached_note(clusters: &[String]) -> Option<String> {
    (!clusters.is_empty()).then(|| {
        format!(
            "NOTE: no database server is attached to the sandbox pods of {}, so their roles and lag are unknown. \
             `dbdeck sandbox attach` binds a pod's port to a local server; `dbdeck --sandbox` starts real ones for \
             its example clusters where MariaDB and PostgreSQL are installed ({}).\n",
            clusters.join(", "),
            crate::console::demo_servers::INSTALL_HINT
        )
    })
}

/// Probes the database members of `views` and merges the readings in; returns within about `deadline`.
pub async fn probe_views(client: &kube::Client, world: &World, views: &mut [ClusterView], deadline: Duration) {
    let probe = ProbeConfig {
        connect_timeout: deadline.min(Duration::from_secs(3)),
        query_timeout: deadline.min(Duration::from_secs(5)),
        ..ProbeConfig::default()
    };
    let collector = Collector::new(client.clone(), CollectorConfig { probe, ..CollectorConfig::default() });
    let readings = collector.collect(world, views, Some(deadline)).await;
    readings.apply(views);
}

/// Why-not-ready lines for one cluster (`dbdeck status NAME`).
/// Backups per cluster: the last success, the last failure with its reason, the next run, PITR and
/// running restores. Empty when no cluster has any of them.
pub fn backups_table(views: &[ClusterView], now: DateTime<Utc>) -> String {
    let header = ["CLUSTER", "LAST OK", "LAST FAILURE", "NEXT RUN", "RESTORABLE TO", "RESTORING"];
    let rows: Vec<[String; 6]> = views
        .iter()
        .filter(|v| !v.backups.is_empty() || v.next_scheduled_backup.is_some() || !v.restores.is_empty())
        .map(|v| {
            let ok = v
                .backups
                .iter()
                .filter(|b| b.state == "Succeeded")
                .max_by_key(|b| b.completed)
                .map(|b| format!("{} ago ({})", age(now, b.completed), b.name))
                .unwrap_or_else(|| "never".into());
            let failed = v
                .last_failed_backup()
                .map(|b| format!("{}: {}", b.name, b.error.clone().unwrap_or_else(|| b.state.clone())))
                .unwrap_or_else(|| "—".into());
            let next = v
                .next_scheduled_backup
                .as_ref()
                .map(|n| format!("{} ({} \"{}\")", n.at.format("%Y-%m-%d %H:%M UTC"), n.schedule_name, n.cron))
                .unwrap_or_else(|| "not scheduled".into());
            // "off" when the cluster has no PITR; "unknown" (and why) when it has but nothing reports a time.
            let pitr = match &v.pitr {
                None => "off".to_string(),
                Some(p) => match (p.latest_restorable_time, &p.unknown_reason) {
                    (Some(t), _) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    (None, Some(why)) => format!("unknown: {why}"),
                    (None, None) => "unknown".into(),
                },
            };
            let restoring: Vec<String> = v
                .running_restores()
                .map(|r| match &r.error {
                    Some(why) => format!("{} ({}: {why})", r.name, r.state),
                    None => format!("{} ({})", r.name, r.state),
                })
                .collect();
            [
                format!("{}/{}", v.kind.short(), v.name),
                ok,
                failed,
                next,
                pitr,
                if restoring.is_empty() { "—".into() } else { restoring.join(", ") },
            ]
        })
        .collect();
    if rows.is_empty() { String::new() } else { columns(header, &rows) }
}

fn reasons(v: &ClusterView) -> String {
    let mut out = String::new();
    if let Some(r) = &v.state_reason {
        out.push_str(&format!("\n{}/{}: {r}\n", v.kind.short(), v.name));
    }
    for r in &v.why_not_ready {
        out.push_str(&format!("  {:?} {}: {}\n", r.kind, r.source, r.message));
    }
    out
}

/// Why `dbdeck status` could not list the clusters, naming the request that failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{request} did not finish within --timeout {timeout}s; no clusters were printed")]
    Deadline { request: String, timeout: f64 },
    #[error("{what} failed ({request}): {detail}")]
    Request { what: String, request: String, detail: String },
    #[error(transparent)]
    Live(crate::observe::live::LiveError),
}

fn request_error(e: crate::observe::live::LiveError, in_flight: &kubeclient::InFlight) -> StatusError {
    use crate::observe::live::LiveError;
    let request = in_flight.last().unwrap_or_else(|| "the first request".into());
    match e {
        LiveError::Api { resource, source } => StatusError::Request {
            what: format!("listing {resource}"),
            request,
            detail: kubeclient::describe_error(&source),
        },
        LiveError::Unreachable(detail) => {
            StatusError::Request { what: "reaching the Kubernetes API server".into(), request, detail }
        }
        other => StatusError::Live(other),
    }
}

/// The same view printed as `-o json|yaml` prints it: the one view for `status NAME` (as `kubectl get NAME -o
/// json` prints the object), else the list.
fn document(views: &[ClusterView], named: bool) -> Result<serde_json::Value, serde_json::Error> {
    match views {
        [one] if named => serde_json::to_value(one),
        _ => serde_json::to_value(views),
    }
}

pub async fn run(global: &GlobalArgs, console: &ConsoleArgs, args: &StatusArgs) -> color_eyre::Result<i32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.timeout);
    let bounded = kubeclient::Bounded {
        request_timeout: Duration::from_secs_f64(args.request_timeout),
        retries: 2,
        in_flight: kubeclient::InFlight::default(),
    };
    let timed_out = || StatusError::Deadline {
        request: bounded.in_flight.last().unwrap_or_else(|| "connecting".into()),
        timeout: args.timeout,
    };
    let conn = kubeclient::connect_with(global, Some(&bounded)).await?;
    let scope = scope(global, &conn.client);
    let listed = tokio::time::timeout_at(deadline, async {
        if conn.sandbox.is_some() {
            let ns = match &scope {
                Scope::Namespace(ns) => ns.clone(),
                Scope::All => conn.client.default_namespace().to_string(),
            };
            crate::console::seed::seed(conn.client.clone(), &ns, !console.empty).await?;
        }
        Ok::<_, color_eyre::Report>(list_world(&conn.client, &scope).await)
    })
    .await;
    let result = match listed {
        Err(_) => Err(timed_out()),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(r)) => r.map_err(|e| request_error(e, &bounded.in_flight)),
    };
    let now = Utc::now();
    let mut views = match &result {
        Ok(world) => build_all(world, now),
        Err(_) => Vec::new(),
    };
    if let Some(name) = &args.name {
        views.retain(|v| &v.name == name);
    }
    if let Ok(world) = &result {
        if args.no_probe {
            views.iter_mut().for_each(|v| merge::mark_unprobed(v, NOT_PROBED));
        } else {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let probe_for = Duration::from_secs_f64(args.probe_timeout).min(left);
            let mut probed = views.clone();
            match tokio::time::timeout_at(deadline, probe_views(&conn.client, world, &mut probed, probe_for)).await {
                Ok(()) => views = probed,
                Err(_) => views.iter_mut().for_each(|v| merge::mark_unprobed(v, "not probed: --timeout reached")),
            }
        }
    }
    if let Some(sandbox) = conn.sandbox {
        sandbox.shutdown().await;
    }
    // Sandbox pods with no server behind them all say the same: once, under the table.
    let unattached = crate::console::demo_servers::fold_unattached(&mut views);
    result?;
    if let Some(name) = &args.name
        && views.is_empty()
    {
        let where_ = match &scope {
            Scope::Namespace(ns) => format!("namespace {ns}"),
            Scope::All => "any namespace".into(),
        };
        eprintln!("dbdeck: no cluster named {name} in {where_}");
        return Ok(1);
    }
    let named = args.name.is_some();
    match args.output {
        StatusFormat::Json => out::println(&serde_json::to_string_pretty(&document(&views, named)?)?),
        StatusFormat::Yaml => out::print(&serde_yaml::to_string(&document(&views, named)?)?),
        StatusFormat::Text | StatusFormat::Wide if views.is_empty() => out::println("No clusters found."),
        StatusFormat::Text | StatusFormat::Wide => {
            let mut text = if args.output == StatusFormat::Wide { wide_table(&views, now) } else { table(&views, now) };
            let members = members_table(&views);
            if !members.is_empty() {
                text.push('\n');
                text.push_str(&members);
            }
            if let Some(note) = unattached_note(&unattached) {
                print!("\n{note}");
            }
            let backups = backups_table(&views, now);
            if !backups.is_empty() {
                text.push('\n');
                text.push_str(&backups);
            }
            if named {
                views.iter().for_each(|v| text.push_str(&reasons(v)));
            }
            out::print(&text);
        }
    }
    Ok(0)
}

/// `-o wide`: the table plus what an SRE scans for next: the writer, how many nodes the members spread over
/// (all on one node is one failure away from down), bound volumes, the largest replication lag read, the version.
pub fn wide_table(views: &[ClusterView], now: DateTime<Utc>) -> String {
    use crate::observe::view::{LagView, Role};
    let header = [
        "KIND",
        "NAMESPACE",
        "NAME",
        "STATE",
        "READY",
        "PRIMARY",
        "NODES",
        "PVCS",
        "MAX LAG",
        "VERSION",
        "ENDPOINT",
        "AGE",
        "LAST BACKUP",
    ];
    let rows: Vec<[String; 13]> = views
        .iter()
        .map(|v| {
            let ready =
                v.components.iter().map(|c| format!("{} {}/{}", c.name, c.ready, c.size)).collect::<Vec<_>>().join(" ");
            let primary: Vec<&str> = v
                .members
                .iter()
                .filter(|m| matches!(m.role, Some(Role::Primary | Role::Source)))
                .map(|m| m.pod.as_str())
                .collect();
            let nodes: std::collections::BTreeSet<&str> = v.members.iter().filter_map(|m| m.node.as_deref()).collect();
            let bound = v.pvcs.iter().filter(|p| p.phase == "Bound").count();
            let lag = v
                .members
                .iter()
                .filter(|m| v.is_database_member(m))
                .filter_map(|m| match &m.lag {
                    LagView::Known { seconds, .. } => Some((*seconds, &m.lag)),
                    _ => None,
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, l)| lag_text(l));
            let dash = || "—".to_string();
            [
                v.kind.label().to_string(),
                v.namespace.clone(),
                v.name.clone(),
                v.display_state().to_string(),
                if ready.is_empty() { dash() } else { ready },
                if primary.is_empty() { dash() } else { primary.join(",") },
                if nodes.is_empty() { dash() } else { nodes.len().to_string() },
                if v.pvcs.is_empty() { dash() } else { format!("{bound}/{} bound", v.pvcs.len()) },
                lag.unwrap_or_else(dash),
                v.version.clone().unwrap_or_else(dash),
                v.host.clone().unwrap_or_else(dash),
                age(now, v.created),
                v.last_successful_backup.map(|t| age(now, Some(t))).unwrap_or_else(dash),
            ]
        })
        .collect();
    columns(header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::LagView;
    use crate::observe::view::{ClusterKind, ComponentKind, ComponentView};

    #[test]
    fn table_aligns_columns() {
        let now = Utc::now();
        let mut v = ClusterView::new(ClusterKind::Pxc, "db", "shop-db");
        v.components.push(ComponentView {
            kind: ComponentKind::Pxc,
            name: "pxc".into(),
            size: 3,
            ready: 1,
            status: String::new(),
        });
        let t = table(&[v, ClusterView::new(ClusterKind::Pg, "db", "o")], now);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("KIND   NAMESPACE   NAME      STATE     READY"), "{t}");
        assert!(lines[1].contains("shop-db   unknown   pxc 1/3"), "{t}");
        assert!(lines[2].starts_with("pg     db          o         unknown   —"), "{t}");
    }

    #[test]
    fn members_table_shows_role_state_lag_and_why() {
        use crate::observe::facts::{AsyncDetail, DbFacts, FamilyDetail, LagAmount, MemberFacts, MysqlFlavor, Role};
        use crate::observe::view::{MemberView, PsClusterType, Role as ViewRole};
        let member = |pod: &str, component: &str| MemberView {
            pod: pod.into(),
            component: component.into(),
            role: None,
            node: None,
            zone: None,
            ready: true,
            phase: "Running".into(),
            restarts: 0,
            started: None,
            lag: LagView::Unknown { reason: "not probed yet".into() },
            lag_history: vec![],
            replication_error: None,
        };
        let reading = |pod: &str, role: Role, state: &str, trx: Option<u64>| MemberFacts {
            member: pod.into(),
            read_at: Utc::now(),
            outcome: ProbeOutcome::Ok(DbFacts {
                role,
                state: state.into(),
                version: "10.11".into(),
                lag_seconds: None,
                lag_amount: trx.map(LagAmount::transactions),
                lag_note: trx.map(|_| "seconds behind source is NULL: the SQL thread is not running".into()),
                problems: trx.map(|_| "SQL thread is not running".to_string()).into_iter().collect(),
                detail: FamilyDetail::Async(AsyncDetail {
                    flavor: MysqlFlavor::Mariadb,
                    read_only: false,
                    gtid_executed: String::new(),
                    channels: vec![],
                }),
            }),
        };
        let mut v = ClusterView::new(ClusterKind::Ps { cluster_type: PsClusterType::Async }, "db", "ps1");
        v.members = vec![
            member("ps1-mysql-0", "mysql"),
            member("ps1-mysql-1", "mysql"),
            member("ps1-mysql-2", "mysql"),
            member("ps1-haproxy-0", "haproxy"),
        ];
        let gone = MemberFacts {
            member: "ps1-mysql-2".into(),
            read_at: Utc::now(),
            outcome: ProbeOutcome::Unreachable {
                reason: "port-forward to pod db/ps1-mysql-2 failed: no endpoint".into(),
            },
        };
        let readings = [
            reading("ps1-mysql-0", Role::Source, "source", None),
            reading("ps1-mysql-1", Role::Replica, "SQL thread stopped", Some(5)),
            gone,
        ];
        merge::apply(&mut v, &readings, None);
        assert_eq!(v.members[0].role, Some(ViewRole::Source));
        let t = members_table(&[v.clone()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(
            lines[0].starts_with("CLUSTER   POD           ROLE      DB STATE             LAG     READ AT     NOTE"),
            "{t}"
        );
        assert!(lines[1].starts_with("ps/ps1    ps1-mysql-0   source    source               -       "), "{t}");
        let read_at = readings[1].read_at.format("%H:%M:%SZ").to_string();
        assert!(
            lines[2]
                .contains(&format!("replica   SQL thread stopped   5 trx   {read_at}   seconds behind source is NULL")),
            "{t}"
        );
        assert!(lines[2].ends_with("seconds behind source is NULL: the SQL thread is not running"), "{t}");
        assert!(lines[3].contains("?         unreachable          —       "), "{t}");
        assert!(lines[3].contains("   unreachable: port-forward to pod"), "{t}");
        assert!(lines[3].ends_with("failed: no endpoint"), "{t}");

        merge::mark_unprobed(&mut v, NOT_PROBED);
        v.db_facts.clear();
        assert!(members_table(&[v]).lines().nth(2).unwrap().ends_with("not probed (--no-probe)"));
    }

    #[test]
    fn backups_table_names_the_last_failure_newer_than_the_last_success() {
        use crate::observe::view::BackupView;
        let now = Utc::now();
        let mut v = ClusterView::new(ClusterKind::Pxc, "ns", "c1");
        let b = |name: &str, state: &str, mins: i64, error: Option<&str>| BackupView {
            name: name.into(),
            state: state.into(),
            storage: Some("s3".into()),
            destination: None,
            started: Some(now - chrono::Duration::minutes(mins)),
            completed: Some(now - chrono::Duration::minutes(mins)),
            error: error.map(Into::into),
            latest_restorable_time: None,
        };
        v.backups = vec![b("old-fail", "Failed", 60, Some("403")), b("ok", "Succeeded", 30, None)];
        v.last_successful_backup = v.backups[1].completed;
        let t = backups_table(std::slice::from_ref(&v), now);
        assert!(t.contains("(ok)") && !t.contains("old-fail"), "{t}");
        v.backups.push(b("new-fail", "Failed", 5, Some("access denied (403)")));
        let t = backups_table(std::slice::from_ref(&v), now);
        assert!(t.contains("new-fail: access denied (403)"), "{t}");
        assert!(t.contains("not scheduled"), "{t}");
        assert!(t.contains(" off "), "no PITR on this cluster: {t}");

        // PITR on: the time when a backup reports one, else unknown with the reason.
        v.pitr = Some(crate::observe::view::PitrView {
            latest_restorable_time: None,
            unknown_reason: Some("no backup reports status.latestRestorableTime".into()),
        });
        let t = backups_table(std::slice::from_ref(&v), now);
        assert!(t.contains("unknown: no backup reports status.latestRestorableTime"), "{t}");
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T05:00:00Z").unwrap().with_timezone(&Utc);
        v.pitr = Some(crate::observe::view::PitrView { latest_restorable_time: Some(at), unknown_reason: None });
        assert!(backups_table(std::slice::from_ref(&v), now).contains("2026-11-23 05:00:00 UTC"));

        // A running restore says what it waits for.
        v.restores = vec![crate::observe::view::RestoreView {
            name: "r2".into(),
            state: "Starting".into(),
            backup: Some("ok".into()),
            started: Some(now),
            completed: None,
            error: Some("waiting for restore r1 of cluster c1 to finish".into()),
        }];
        let t = backups_table(std::slice::from_ref(&v), now);
        assert!(t.contains("r2 (Starting: waiting for restore r1 of cluster c1 to finish)"), "{t}");
    }
}
