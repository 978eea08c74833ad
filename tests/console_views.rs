//! Every console view rendered with ratatui's TestBackend on fixed data and compared with insta snapshots.
//! The data is built here, the way the live layer will fill the model; `now` is fixed so ages are stable.

use chrono::{DateTime, Duration, TimeZone, Utc};
use dbdeck::console::action::{Action, ClusterRef, Connection, Effect};
use dbdeck::console::app::App;
use dbdeck::console::keymap::Keymap;
use dbdeck::console::theme::{BUILTIN, Theme};
use dbdeck::console::views::{self, help};
use dbdeck::observe::view::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn ago(d: Duration) -> Option<DateTime<Utc>> {
    Some(now() - d)
}

fn comp(kind: ComponentKind, name: &str, size: u32, ready: u32) -> ComponentView {
    let status = if ready == size { "ready" } else { "initializing" };
    ComponentView { kind, name: name.into(), size, ready, status: status.into() }
}

fn member(pod: &str, component: &str, role: Option<Role>, node: &str, zone: &str) -> MemberView {
    MemberView {
        pod: pod.into(),
        component: component.into(),
        role,
        node: Some(node.into()),
        zone: Some(zone.into()),
        ready: true,
        phase: "Running".into(),
        restarts: 0,
        started: ago(Duration::days(3)),
        lag: LagView::NotApplicable,
        lag_history: vec![],
        replication_error: None,
    }
}

fn pvc(name: &str, used_by: &str, size: &str) -> PvcView {
    PvcView {
        name: name.into(),
        phase: "Bound".into(),
        capacity: Some(size.into()),
        request: Some(size.into()),
        storage_class: Some("standard".into()),
        resizing: false,
        used_by: Some(used_by.into()),
    }
}

fn event(type_: &str, reason: &str, object: &str, message: &str, mins: i64, count: u32) -> EventView {
    EventView {
        type_: type_.into(),
        reason: reason.into(),
        object: object.into(),
        message: message.into(),
        count,
        last_seen: ago(Duration::minutes(mins)),
    }
}

fn cond(t: &str, status: &str, reason: Option<&str>, message: Option<&str>, hours: i64) -> ConditionView {
    ConditionView {
        type_: t.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
        last_transition: ago(Duration::hours(hours)),
    }
}

fn healthy_pxc() -> ClusterView {
    let mut c = ClusterView::new(ClusterKind::Pxc, "shop", "cluster1");
    c.state = ClusterState::Ready;
    c.host = Some("cluster1-haproxy.shop".into());
    c.created = ago(Duration::days(12));
    c.version = Some("8.0.42".into());
    c.components = vec![comp(ComponentKind::Pxc, "pxc", 3, 3), comp(ComponentKind::Haproxy, "haproxy", 3, 3)];
    for (i, (node, zone)) in [("node-a", "eu-1a"), ("node-b", "eu-1b"), ("node-c", "eu-1c")].iter().enumerate() {
        c.members.push(member(&format!("cluster1-pxc-{i}"), "pxc", Some(Role::GaleraMember), node, zone));
    }
    for (i, (node, zone)) in [("node-b", "eu-1b"), ("node-c", "eu-1c"), ("node-a", "eu-1a")].iter().enumerate() {
        c.members.push(member(&format!("cluster1-haproxy-{i}"), "haproxy", Some(Role::Proxy), node, zone));
    }
    c.members[5].restarts = 2;
    c.pvcs = (0..3).map(|i| pvc(&format!("datadir-cluster1-pxc-{i}"), &format!("cluster1-pxc-{i}"), "6G")).collect();
    c.backup_storages = vec!["s3-eu".into(), "fs-local".into()];
    c.backups = vec![
        BackupView {
            name: "cron-cluster1-s3-eu-20261122000000".into(),
            state: "Succeeded".into(),
            storage: Some("s3-eu".into()),
            destination: Some("s3://backups/cluster1-2026-11-22-00:00:00-full".into()),
            started: ago(Duration::hours(12)),
            completed: ago(Duration::hours(12) - Duration::seconds(312)),
            error: None,
            latest_restorable_time: None,
        },
        BackupView {
            name: "cron-cluster1-s3-eu-20261121000000".into(),
            state: "Failed".into(),
            storage: Some("s3-eu".into()),
            destination: None,
            started: ago(Duration::hours(36)),
            completed: None,
            error: Some("xtrabackup: access denied to s3://backups (403)".into()),
            latest_restorable_time: None,
        },
    ];
    c.last_successful_backup = ago(Duration::hours(12));
    c.next_scheduled_backup = Some(ScheduledBackupView {
        schedule_name: "daily".into(),
        cron: "0 0 * * *".into(),
        storage: Some("s3-eu".into()),
        at: now() + Duration::hours(12),
    });
    c.conditions = vec![cond("initializing", "False", None, None, 260), cond("ready", "True", None, None, 250)];
    c.events = vec![
        event(
            "Normal",
            "BackupSucceeded",
            "pxc-backup/cron-cluster1-s3-eu-2026112…",
            "backup finished in 5m12s",
            715,
            1,
        ),
        event(
            "Warning",
            "BackupFailed",
            "pxc-backup/cron-cluster1-s3-eu-2026112…",
            "access denied to s3://backups (403)",
            2150,
            3,
        ),
        event("Normal", "Started", "pod/cluster1-haproxy-2", "Started container haproxy", 4320, 1),
    ];
    c.finalizers = vec!["percona.com/delete-pxc-pods-in-order".into()];
    c
}

fn ps_async_lagging() -> ClusterView {
    let mut c = ClusterView::new(ClusterKind::Ps { cluster_type: PsClusterType::Async }, "shop", "orders");
    c.state = ClusterState::Ready;
    c.host = Some("orders-haproxy.shop".into());
    c.created = ago(Duration::days(40));
    c.version = Some("8.4.5".into());
    c.components = vec![
        comp(ComponentKind::Mysql, "mysql", 3, 3),
        comp(ComponentKind::Haproxy, "haproxy", 2, 2),
        comp(ComponentKind::Orchestrator, "orchestrator", 1, 1),
    ];
    c.members.push(member("orders-mysql-0", "mysql", Some(Role::Source), "node-a", "eu-1a"));
    let mut r1 = member("orders-mysql-1", "mysql", Some(Role::Replica), "node-b", "eu-1b");
    r1.lag = LagView::Known { seconds: 0.0, behind: Some(Behind::Transactions(0)), read_at: now() };
    r1.lag_history = vec![0, 0, 1, 0, 0, 0, 0, 1, 0, 0];
    let mut r2 = member("orders-mysql-2", "mysql", Some(Role::Replica), "node-c", "eu-1c");
    r2.lag = LagView::Known { seconds: 42.0, behind: Some(Behind::Transactions(1830)), read_at: now() };
    r2.lag_history = vec![0, 1, 3, 6, 10, 15, 22, 30, 36, 42];
    c.members.extend([r1, r2]);
    c.members.push(member("orders-haproxy-0", "haproxy", Some(Role::Proxy), "node-a", "eu-1a"));
    c.members.push(member("orders-haproxy-1", "haproxy", Some(Role::Proxy), "node-b", "eu-1b"));
    c.members.push(member("orders-orc-0", "orchestrator", Some(Role::Orchestrator), "node-c", "eu-1c"));
    c.pvcs = (0..3).map(|i| pvc(&format!("datadir-orders-mysql-{i}"), &format!("orders-mysql-{i}"), "20Gi")).collect();
    c.backup_storages = vec!["s3-eu".into()];
    c.last_successful_backup = ago(Duration::hours(30));
    c
}

fn pg_cluster() -> ClusterView {
    let mut c = ClusterView::new(ClusterKind::Pg, "bi", "analytics");
    c.state = ClusterState::Ready;
    c.host = Some("analytics-pgbouncer.bi.svc".into());
    c.created = ago(Duration::days(5));
    c.version = Some("18".into());
    c.components = vec![
        comp(ComponentKind::InstanceSet, "instance1", 3, 3),
        comp(ComponentKind::Pgbouncer, "pgbouncer", 2, 2),
        comp(ComponentKind::RepoHost, "repo-host", 1, 1),
    ];
    c.members.push(member("analytics-instance1-x7k2-0", "instance1", Some(Role::Primary), "node-a", "eu-1a"));
    let mut s1 = member("analytics-instance1-p9qd-0", "instance1", Some(Role::Standby), "node-b", "eu-1b");
    s1.lag = LagView::Known { seconds: 0.4, behind: Some(Behind::Bytes(16384)), read_at: now() };
    s1.lag_history = vec![0, 0, 0, 1, 0, 0];
    let mut s2 = member("analytics-instance1-m3zt-0", "instance1", Some(Role::Standby), "node-c", "eu-1c");
    s2.lag = LagView::Unknown { reason: "probe timed out after 2s (pg_stat_replication)".into() };
    c.members.extend([s1, s2]);
    c.members.push(member("analytics-pgbouncer-5d8f-abcde", "pgbouncer", Some(Role::PgBouncer), "node-a", "eu-1a"));
    c.members.push(member("analytics-pgbouncer-5d8f-fghij", "pgbouncer", Some(Role::PgBouncer), "node-b", "eu-1b"));
    c.members.push(member("analytics-repo-host-0", "repo-host", Some(Role::RepoHost), "node-c", "eu-1c"));
    c.backup_storages = vec!["repo1".into()];
    c
}

fn initializing_pxc() -> ClusterView {
    let mut c = ClusterView::new(ClusterKind::Pxc, "shop", "newdb");
    c.state = ClusterState::Initializing;
    c.state_reason = Some("pxc: 2 of 3 pods ready".into());
    c.host = Some("newdb-haproxy.shop".into());
    c.created = ago(Duration::minutes(7));
    c.components = vec![comp(ComponentKind::Pxc, "pxc", 3, 2), comp(ComponentKind::Haproxy, "haproxy", 3, 0)];
    c.members.push(member("newdb-pxc-0", "pxc", Some(Role::GaleraMember), "node-a", "eu-1a"));
    c.members.push(member("newdb-pxc-1", "pxc", Some(Role::GaleraMember), "node-b", "eu-1b"));
    let mut p = member("newdb-pxc-2", "pxc", None, "", "");
    p.node = None;
    p.zone = None;
    p.ready = false;
    p.phase = "Pending".into();
    p.started = None;
    c.members.push(p);
    c.why_not_ready = vec![
        Reason {
            kind: ReasonKind::Unschedulable,
            source: "pod/newdb-pxc-2".into(),
            message: "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.".into(),
        },
        Reason {
            kind: ReasonKind::Component,
            source: "haproxy".into(),
            message: "0 of 3 ready: HAProxy waits until every PXC member is ready".into(),
        },
        Reason { kind: ReasonKind::Condition, source: "condition/ready".into(), message: "False: pxc 2/3 ready".into() },
    ];
    c.events = vec![event(
        "Warning",
        "FailedScheduling",
        "pod/newdb-pxc-2",
        "0/3 nodes are available: 3 Insufficient memory.",
        1,
        9,
    )];
    c
}

fn deleting_pg() -> ClusterView {
    let mut c = ClusterView::new(ClusterKind::Pg, "bi", "old-reports");
    c.state = ClusterState::Stopping;
    c.created = ago(Duration::days(200));
    c.deleting = ago(Duration::minutes(14));
    c.finalizers = vec!["percona.com/delete-pvc".into()];
    c.components = vec![comp(ComponentKind::InstanceSet, "instance1", 0, 0)];
    c.pvcs = vec![pvc("old-reports-instance1-ab12-pgdata", "—", "50Gi")];
    c.pvcs[0].used_by = None;
    c.why_not_ready = vec![Reason {
        kind: ReasonKind::Finalizer,
        source: "percona.com/delete-pvc".into(),
        message: "waiting for PVC old-reports-instance1-ab12-pgdata to be deleted (it has its own finalizer kubernetes.io/pvc-protection)".into(),
    }];
    c
}

fn app_with(clusters: Vec<ClusterView>) -> App {
    let mut app = App::new("sandbox", None, now());
    app.update(Action::Snapshot(clusters));
    app
}

fn all_clusters() -> Vec<ClusterView> {
    vec![healthy_pxc(), ps_async_lagging(), pg_cluster()]
}

fn render(app: &App, theme: &Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| views::draw(app, theme, f)).unwrap();
    t
}

fn snap(name: &str, app: &App, w: u16, h: u16) {
    let t = render(app, &Theme::dark(), w, h);
    insta::assert_snapshot!(name, t.backend());
}

fn open(app: &mut App, name: &str) {
    let i = app.visible().iter().position(|c| c.name == name).unwrap();
    app.selected = i;
    app.update(Action::Open);
}

fn type_text(app: &mut App, s: &str) {
    for c in s.chars() {
        app.update(Action::Input(c));
    }
}

fn clear_field(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update(Action::Backspace);
    }
}

// ---- list ----

#[test]
fn list_empty() {
    let mut app = App::new("sandbox", Some("shop".into()), now());
    app.update(Action::Snapshot(vec![]));
    snap("list_empty", &app, 110, 14);
}

#[test]
fn list_three_kinds() {
    let mut clusters = all_clusters();
    clusters.push(initializing_pxc());
    clusters.push(deleting_pg());
    let app = app_with(clusters);
    snap("list_three_kinds", &app, 120, 14);
}

#[test]
fn list_filtered_and_sorted() {
    let mut clusters = all_clusters();
    clusters.push(initializing_pxc());
    let mut app = app_with(clusters);
    app.update(Action::StartFilter);
    type_text(&mut app, "!pg");
    app.update(Action::Submit);
    app.update(Action::SortBy(dbdeck::console::action::SortColumn::Age));
    assert_eq!(app.visible().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["newdb", "cluster1", "orders"]);
    snap("list_filtered", &app, 120, 12);
}

#[test]
fn list_typing_a_command() {
    let mut app = app_with(all_clusters());
    app.update(Action::StartCommand);
    type_text(&mut app, "ns shop");
    snap("list_command_line", &app, 120, 10);
    let effects = app.update(Action::Submit);
    assert_eq!(effects, vec![Effect::CheckNamespace("shop".into())]);
    let effects = app.update(Action::NamespaceChecked { namespace: "shop".into(), result: Ok(None) });
    assert_eq!(effects, vec![Effect::SwitchNamespace(Some("shop".into()))]);
    assert_eq!(app.visible().len(), 2);
}

#[test]
fn list_readonly_with_lost_connection() {
    let mut app = app_with(all_clusters());
    app.readonly = true;
    app.update(Action::Connection(Connection::Lost { reason: "connection refused".into() }));
    snap("list_banner_readonly", &app, 120, 11);
    app.update(Action::Connection(Connection::Connected));
    assert!(app.banner.is_none());
}

#[test]
fn backups_list() {
    let mut app = app_with(all_clusters());
    app.update(Action::StartCommand);
    type_text(&mut app, "backups");
    app.update(Action::Submit);
    snap("backups_list", &app, 130, 10);
}

// ---- detail ----

#[test]
fn detail_pxc_healthy_topology() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    snap("detail_pxc_topology", &app, 120, 26);
}

#[test]
fn detail_pxc_panes() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    for (i, name) in
        [(2, "detail_pxc_pvcs"), (3, "detail_pxc_backups"), (4, "detail_pxc_events"), (5, "detail_pxc_conditions")]
    {
        app.update(Action::Pane(i));
        snap(name, &app, 120, 18);
    }
}

#[test]
fn detail_ps_async_replica_lagging() {
    let mut app = app_with(all_clusters());
    open(&mut app, "orders");
    snap("detail_ps_async", &app, 120, 26);
}

#[test]
fn detail_pg_with_unknown_lag() {
    let mut app = app_with(all_clusters());
    open(&mut app, "analytics");
    let t = render(&app, &Theme::dark(), 130, 28);
    let text = format!("{}", t.backend());
    assert!(text.contains("LAG — analytics-instance1-m3zt-0:"), "the member whose lag is unknown is named");
    assert!(text.contains("       probe timed out"), "and why, under it");
    insta::assert_snapshot!("detail_pg", t.backend());
}

#[test]
fn detail_initializing_unschedulable() {
    let mut app = app_with(vec![initializing_pxc()]);
    open(&mut app, "newdb");
    snap("detail_initializing_topology", &app, 120, 22);
    app.update(Action::Pane(1));
    snap("detail_initializing_why", &app, 120, 22);
}

#[test]
fn detail_deleting_blocked_by_finalizer() {
    let mut app = app_with(vec![deleting_pg()]);
    open(&mut app, "old-reports");
    app.update(Action::Pane(1));
    snap("detail_deleting_why", &app, 120, 18);
}

// ---- wizard ----

#[test]
fn wizard_steps_with_validation_errors() {
    let mut app = app_with(all_clusters());
    app.namespace = Some("shop".into());
    app.update(Action::Create);
    // 1. kind: PS, group replication
    app.update(Action::ChoiceNext);
    app.update(Action::NextField);
    app.update(Action::ChoiceNext);
    snap("wizard_1_kind", &app, 110, 16);
    app.update(Action::Submit);
    // 2. basics: an invalid name blocks the step
    clear_field(&mut app, 8);
    type_text(&mut app, "Orders_EU");
    app.update(Action::Submit);
    snap("wizard_2_basics_invalid_name", &app, 110, 16);
    clear_field(&mut app, 9);
    type_text(&mut app, "orders-eu");
    app.update(Action::Submit);
    // 3. resources: size not a number, bad memory quantity
    clear_field(&mut app, 1);
    type_text(&mut app, "three");
    app.update(Action::NextField);
    app.update(Action::NextField);
    clear_field(&mut app, 2);
    type_text(&mut app, "4GB");
    snap("wizard_3_resources_invalid", &app, 110, 18);
    app.update(Action::PrevField);
    app.update(Action::PrevField);
    clear_field(&mut app, 5);
    type_text(&mut app, "3");
    app.update(Action::NextField);
    app.update(Action::NextField);
    clear_field(&mut app, 3);
    type_text(&mut app, "4Gi");
    app.update(Action::Submit);
    // 4. proxy: router with 0 pods
    app.update(Action::NextField);
    clear_field(&mut app, 1);
    type_text(&mut app, "0");
    snap("wizard_4_proxy_invalid", &app, 110, 14);
    clear_field(&mut app, 1);
    type_text(&mut app, "2");
    app.update(Action::Submit);
    // 5. backup: no bucket, no credentials, a 4-field cron
    for _ in 0..6 {
        app.update(Action::NextField);
    }
    clear_field(&mut app, 9);
    type_text(&mut app, "0 3 * *");
    snap("wizard_5_backup_invalid", &app, 120, 20);
    let w = app.wizard.as_ref().unwrap();
    assert_eq!(w.step_problems(w.step).len(), 3, "{:?}", w.problems);
    // fix and review
    type_text(&mut app, " *");
    app.update(Action::PrevField);
    type_text(&mut app, "eu-s3-creds");
    app.update(Action::PrevField);
    app.update(Action::PrevField);
    type_text(&mut app, "orders-backups");
    app.update(Action::Submit);
    assert!(matches!(app.wizard.as_ref().map(|w| w.checking), Some(true)), "the names are being checked");
    assert!(app.update(Action::Submit).is_empty(), "no create before the API answered");
    app.update(Action::WizardChecked(vec![]));
    snap("wizard_6_review", &app, 110, 40);
    let effects = app.update(Action::Submit);
    let [Effect::CreateCluster { value }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(value["kind"], "PerconaServerMySQL");
    assert_eq!(value["metadata"], json!({"name": "orders-eu", "namespace": "shop"}));
    assert_eq!(value["spec"]["mysql"]["clusterType"], "group-replication");
    assert_eq!(value["spec"]["mysql"]["resources"]["requests"]["memory"], "4Gi");
    assert_eq!(value["spec"]["proxy"]["router"]["size"], 2);
    assert_eq!(value["spec"]["backup"]["schedule"][0]["schedule"], "0 3 * * *");
}

#[test]
fn wizard_escape_asks_first() {
    let mut app = app_with(vec![]);
    app.update(Action::Create);
    app.update(Action::Back);
    snap("wizard_discard_question", &app, 90, 16);
    app.update(Action::Yes);
    assert!(app.wizard.is_none());
    assert_eq!(app.stack.len(), 1);
}

// ---- edit, review, delete, questions ----

fn pxc_resource() -> serde_json::Value {
    json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "metadata": {"name": "cluster1", "namespace": "shop", "resourceVersion": "812"},
        "spec": {
            "crVersion": "1.20.0",
            "pxc": {"size": 3, "resources": {"requests": {"cpu": "600m", "memory": "1G"}},
                    "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "6G"}}}}},
            "haproxy": {"enabled": true, "size": 3},
            "proxysql": {"enabled": false},
            "backup": {"schedule": [{"name": "daily", "schedule": "0 0 * * *", "storageName": "s3-eu"}]}
        }
    })
}

#[test]
fn edit_form_and_diff() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    let effects = app.update(Action::Edit);
    let target = ClusterRef { kind: ClusterKind::Pxc, namespace: "shop".into(), name: "cluster1".into() };
    assert_eq!(effects, vec![Effect::LoadForEdit { target: target.clone(), scale_only: false }]);
    app.update(Action::EditLoaded { target: target.clone(), value: pxc_resource(), scale_only: false });
    // size 5, storage shrunk to 2G (refused)
    clear_field(&mut app, 1);
    type_text(&mut app, "5");
    for _ in 0..4 {
        app.update(Action::NextField);
    }
    clear_field(&mut app, 2);
    type_text(&mut app, "2G");
    snap("edit_form_invalid", &app, 110, 18);
    clear_field(&mut app, 2);
    type_text(&mut app, "10G");
    let effects = app.update(Action::Submit);
    // Growing storage brings the expansion switch with it (off in Percona's cr.yaml, and the engine grows claims
    // only with it on).
    let patch = json!({"spec": {"enableVolumeExpansion": true,
        "pxc": {"size": 5, "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "10G"}}}}}}});
    assert_eq!(effects, vec![Effect::DryRunPatch { target: target.clone(), patch: patch.clone() }]);
    snap("edit_diff_pending", &app, 100, 24);
    app.update(Action::DryRun(Ok(())));
    snap("edit_diff_dry_run_ok", &app, 100, 24);
    let effects = app.update(Action::Submit);
    assert_eq!(effects, vec![Effect::Patch { target, patch }]);
}

#[test]
fn edit_diff_dry_run_refused() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    let target = ClusterRef { kind: ClusterKind::Pxc, namespace: "shop".into(), name: "cluster1".into() };
    app.update(Action::Scale);
    app.update(Action::EditLoaded { target, value: pxc_resource(), scale_only: true });
    app.update(Action::NextField);
    clear_field(&mut app, 1);
    type_text(&mut app, "2");
    app.update(Action::Submit);
    app.update(Action::DryRun(Err(
        "admission webhook denied: spec.haproxy.size: must be at least 2 without unsafeFlags.proxySize".into(),
    )));
    assert!(app.update(Action::Submit).is_empty(), "a refused dry run cannot be applied");
    snap("edit_diff_dry_run_refused", &app, 110, 18);
}

#[test]
fn delete_confirmation_pvcs_kept_and_deleted() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    app.update(Action::Delete);
    type_text(&mut app, "cluster");
    snap("delete_pvcs_kept", &app, 110, 24);
    assert!(app.update(Action::Submit).is_empty(), "a partial name does not delete");
    type_text(&mut app, "1");
    let effects = app.update(Action::Submit);
    assert!(matches!(effects.as_slice(), [Effect::Delete { target }] if target.name == "cluster1"));

    let mut c = healthy_pxc();
    c.finalizers.push("percona.com/delete-pxc-pvc".into());
    let mut app = app_with(vec![c]);
    app.update(Action::Delete);
    snap("delete_pvcs_deleted", &app, 110, 20);
}

#[test]
fn backup_and_pause_questions() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    app.update(Action::Backup);
    app.update(Action::ChoiceNext);
    snap("backup_question", &app, 100, 24);
    let effects = app.update(Action::Yes);
    let [Effect::CreateBackup { value }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(value["kind"], "PerconaXtraDBClusterBackup");
    assert_eq!(value["spec"], json!({"pxcCluster": "cluster1", "storageName": "fs-local"}));
    assert_eq!(value["metadata"]["name"], "cluster1-20261122-120000");

    app.update(Action::PauseResume);
    type_text(&mut app, "clu");
    snap("pause_question", &app, 100, 24);
    assert!(app.update(Action::Submit).is_empty(), "pausing stops every pod: the whole name first");
    type_text(&mut app, "ster1");
    let effects = app.update(Action::Submit);
    assert!(matches!(effects.as_slice(), [Effect::Patch { patch, .. }] if patch == &json!({"spec": {"pause": true}})));
}

/// Restore overwrites the data: the question wants the cluster's name typed, like a delete.
#[test]
fn restore_question_wants_the_name() {
    let mut app = app_with(all_clusters());
    open(&mut app, "cluster1");
    app.update(Action::Restore);
    type_text(&mut app, "cluster1");
    snap("restore_question_typed", &app, 110, 24);
    let effects = app.update(Action::Submit);
    assert!(
        matches!(effects.as_slice(), [Effect::CreateBackup { value }] if value["kind"] == "PerconaXtraDBClusterRestore")
    );
}

/// A replica whose SQL thread stopped: the list's LAG is red with a mark, the primary is named.
fn ps_async_broken() -> ClusterView {
    use dbdeck::observe::facts::*;
    let mut c = ps_async_lagging();
    c.name = "billing".into();
    c.members[2].lag = LagView::Amount {
        behind: Behind::Transactions(77),
        note: Some("seconds behind source is NULL: the SQL thread is not running".into()),
        read_at: now(),
    };
    c.db_facts = vec![MemberFacts {
        member: "orders-mysql-2".into(),
        read_at: now(),
        outcome: ProbeOutcome::Ok(DbFacts {
            role: dbdeck::observe::facts::Role::Replica,
            state: "SQL thread stopped".into(),
            version: "8.4.5".into(),
            lag_seconds: None,
            lag_amount: Some(LagAmount::transactions(77)),
            lag_note: None,
            problems: vec!["SQL thread is not running".into()],
            detail: FamilyDetail::Async(AsyncDetail {
                flavor: MysqlFlavor::Mysql,
                read_only: true,
                gtid_executed: String::new(),
                channels: vec![],
            }),
        }),
    }];
    c.pvcs[1].phase = "Pending".into();
    c
}

/// The SRE's columns (PRIMARY, LAG, PVC, VERSION) on a wide screen; at 80x24 the least useful go first, what
/// stays is cut with `…`, never mid-word into the next column.
#[test]
fn list_columns_by_priority_at_every_width() {
    let mut clusters = all_clusters();
    clusters.push(initializing_pxc());
    clusters.push(ps_async_broken());
    let app = app_with(clusters);
    let wide = format!("{}", render(&app, &Theme::dark(), 220, 12).backend());
    for h in ["PRIMARY", "LAG", "PVC", "VERSION", "ENDPOINT", "NAMESPACE", "BACKUP"] {
        assert!(wide.contains(h), "{h} at 220 columns:\n{wide}");
    }
    assert!(wide.contains("orders-mysql-0"), "the source is the primary: {wide}");
    assert!(wide.contains("✖ 77 trx"), "broken replication is marked: {wide}");
    assert!(wide.contains("2/3"), "a Pending claim shows in PVC: {wide}");
    insta::assert_snapshot!("list_220_wide", render(&app, &Theme::dark(), 220, 12).backend());
    let t = render(&app, &Theme::dark(), 80, 24);
    let narrow = format!("{}", t.backend());
    assert!(narrow.contains("NAME") && narrow.contains("STATE") && narrow.contains("LAG"), "{narrow}");
    assert!(!narrow.contains("ENDPOINT") && !narrow.contains("VERSION"), "the least useful go first: {narrow}");
    let header = narrow.lines().nth(2).unwrap();
    assert!(!header.contains("NAMESPACENAME") && !header.contains("STATEREADY"), "{header}");
    insta::assert_snapshot!("list_80x24", t.backend());
    // The broken lag is red.
    let buf = t.backend().buffer();
    let row = (0..24)
        .find(|y| (0..80).map(|x| buf[(x, *y)].symbol().to_string()).collect::<String>().contains("billing"))
        .unwrap();
    let red = (0..80).any(|x| buf[(x, row)].symbol() == "✖" && buf[(x, row)].fg == Theme::dark().error);
    assert!(red, "the ✖ of broken replication is in the error colour");
}

/// `^`/`$` anchor to the name: `^o` keeps names starting with o, not rows whose first column does.
#[test]
fn filter_anchors_apply_to_the_name() {
    let mut app = app_with(all_clusters());
    app.update(Action::StartFilter);
    type_text(&mut app, "^p");
    assert!(app.visible().is_empty(), "no name starts with p (the kinds pxc and pg do not count)");
    app.update(Action::Backspace);
    type_text(&mut app, "o");
    app.update(Action::Submit);
    assert_eq!(app.visible().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["orders"]);
    app.update(Action::StartFilter);
    app.update(Action::Backspace);
    app.update(Action::Backspace);
    type_text(&mut app, "s$");
    app.update(Action::Submit);
    assert_eq!(app.visible().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["analytics", "orders"]);
    app.update(Action::StartFilter);
    app.update(Action::Backspace);
    app.update(Action::Backspace);
    type_text(&mut app, "haproxy");
    app.update(Action::Submit);
    assert_eq!(app.visible().len(), 2, "unanchored text searches the whole row (endpoint)");
}

/// Long texts: the event message ends in `…` with the full text one enter away; the status line too, with
/// `:messages` for all of it; wizard errors wrap.
#[test]
fn long_texts_are_cut_with_an_ellipsis_and_readable_in_full() {
    let mut c = healthy_pxc();
    let long = "Readiness probe failed: ERROR 2003 (HY000): Can't connect to MySQL server on '10.244.1.17:33062' (111 \"Connection refused\") while the node was joining the cluster after an SST from cluster1-pxc-0";
    c.events.insert(0, event("Warning", "Unhealthy", "pod/cluster1-pxc-1", long, 1, 12));
    let mut app = app_with(vec![c]);
    app.width = 100;
    open(&mut app, "cluster1");
    app.update(Action::Pane(4));
    let t = render(&app, &Theme::dark(), 100, 18);
    let text = format!("{}", t.backend());
    assert!(text.contains("COUNT") && text.contains("12"), "{text}");
    assert!(text.contains("…"), "{text}");
    insta::assert_snapshot!("detail_events_ellipsis", t.backend());
    app.update(Action::Open);
    let t = render(&app, &Theme::dark(), 100, 18);
    let text = format!("{}", t.backend()).replace(['│', '║', '"', '\n', ' '], "");
    assert!(
        text.contains(&long.replace(['"', ' '], "").replace("\\", "")),
        "the popup has the whole message:\n{}",
        t.backend()
    );
    insta::assert_snapshot!("detail_event_popup", t.backend());
    app.update(Action::Back);
    assert!(app.popup.is_none());

    app.update(Action::WriteDone { what: "update cluster1".into(), result: Err(long.into()) });
    let t = render(&app, &Theme::dark(), 100, 18);
    let status = format!("{}", t.backend()).lines().nth(16).unwrap().to_string();
    assert!(status.contains("…") && status.contains(":messages"), "{status}");
}

/// `:ns` alone opens a picker of namespaces, narrowed by typing.
#[test]
fn namespace_picker() {
    let mut app = app_with(all_clusters());
    app.update(Action::StartCommand);
    type_text(&mut app, "ns");
    assert_eq!(app.update(Action::Submit), vec![Effect::ListForPicker(dbdeck::console::action::PickKind::Namespace)]);
    app.update(Action::PickerItems {
        kind: dbdeck::console::action::PickKind::Namespace,
        result: Ok(vec!["bi".into(), "default".into(), "kube-system".into(), "shop".into()]),
    });
    type_text(&mut app, "s");
    app.update(Action::Down);
    snap("namespace_picker", &app, 100, 20);
    assert_eq!(app.update(Action::Submit), vec![Effect::SwitchNamespace(Some("shop".into()))]);
}

/// `:backups`: the hint bar has the backup's keys, the delete dialog names the backup and says whether its
/// data goes (the delete-backup finalizer).
#[test]
fn backup_list_keys_and_delete_dialog() {
    let mut app = app_with(all_clusters());
    app.update(Action::StartCommand);
    type_text(&mut app, "backups");
    app.update(Action::Submit);
    let t = render(&app, &Theme::dark(), 130, 10);
    let text = format!("{}", t.backend());
    assert!(text.contains("describe") && text.contains("delete backup"), "{text}");
    assert!(!text.contains("<s> scale") && !text.contains("<c> create"), "{text}");
    let effects = app.update(Action::Delete);
    let [Effect::FetchObject { purpose, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    app.update(Action::Fetched {
        purpose: purpose.clone(),
        result: Ok(json!({"metadata": {"finalizers": ["percona.com/delete-backup"]}})),
    });
    snap("delete_backup_dialog", &app, 130, 16);
}

/// The wizard's names checked against the cluster land on their fields; an API that could not be asked is
/// said as such.
#[test]
fn wizard_shows_what_the_api_said() {
    use dbdeck::console::action::{CheckOutcome, RemoteCheck};
    let mut app = app_with(all_clusters());
    app.update(Action::Create);
    let effects = app.update(Action::Submit);
    assert!(matches!(effects.as_slice(), [Effect::CheckWizard(q)] if q.name == "cluster1"), "{effects:?}");
    app.update(Action::WizardChecked(vec![
        RemoteCheck {
            field: "name",
            value: "cluster1".into(),
            outcome: CheckOutcome::Problem(
                "a PerconaXtraDBCluster named cluster1 already exists in namespace default".into(),
            ),
        },
        RemoteCheck {
            field: "credentials",
            value: "".into(),
            outcome: CheckOutcome::Unchecked("could not check with the API: connection refused".into()),
        },
    ]));
    snap("wizard_name_exists", &app, 110, 16);
    assert!(app.update(Action::Submit).is_empty(), "the step with the duplicate name does not go on");
    type_text(&mut app, "x");
    let w = app.wizard.as_ref().unwrap();
    assert!(
        w.problems.iter().all(|p| !p.message.contains("already exists")),
        "a new name is no longer the checked one"
    );
}

// ---- help, hints, themes ----

#[test]
fn help_lists_exactly_the_registry() {
    let mut app = app_with(all_clusters());
    app.update(Action::Help);
    snap("help", &app, 120, 50);
    let km = Keymap::default();
    let shown: Vec<(String, &str)> = help::rows(&km, false).into_iter().flat_map(|(_, r)| r).collect();
    let registry: Vec<(String, &str)> = km.bindings.iter().map(|b| (b.keys_label(), b.help)).collect();
    let mut a = shown.clone();
    let mut b = registry.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "help shows every binding once, and nothing else");
    // every row is on screen
    let text = format!("{}", render(&app, &Theme::dark(), 120, 50).backend());
    for (_, h) in &registry {
        assert!(text.contains(h), "help screen misses {h:?}");
    }
}

#[test]
fn remapped_keys_show_in_help_and_hints() {
    let mut app = app_with(all_clusters());
    app.keymap = Keymap::from_config("[keys]\nfilter = \"f\"\n").unwrap();
    let t = render(&app, &Theme::dark(), 140, 8);
    let text = format!("{}", t.backend());
    assert!(text.contains("<f> filter"), "{text}");
    assert!(!text.contains("</> filter"));
}

#[test]
fn every_theme_colours_the_views() {
    let mut app = app_with(all_clusters());
    app.selected = 1;
    for (name, _) in BUILTIN {
        let theme = Theme::load(name).unwrap();
        app.theme_name = name.to_string();
        let t = render(&app, &theme, 120, 10);
        let buf = t.backend().buffer();
        // header badge, a ready state, the selected row
        assert_eq!(buf[(1, 0)].bg, theme.header_bg, "{name}: header");
        let ready = (0..120).find(|x| buf[(*x, 3)].symbol() == "●").expect("state glyph");
        assert_eq!(buf[(ready, 3)].fg, theme.ok, "{name}: ready state uses the ok slot");
        assert_eq!(buf[(40, 4)].bg, theme.selection_bg, "{name}: selection");
        assert_eq!(buf[(0, 0)].bg, theme.header_bg, "{name}");
        insta::assert_snapshot!(format!("theme_{name}"), t.backend());
    }
}

#[test]
fn every_theme_colours_roles_and_lag() {
    let mut app = app_with(all_clusters());
    open(&mut app, "orders");
    for (name, _) in BUILTIN {
        let theme = Theme::load(name).unwrap();
        let t = render(&app, &theme, 120, 26);
        let buf = t.backend().buffer();
        let find = |sym: &str| -> (u16, u16) {
            for y in 0..26 {
                for x in 0..120 {
                    if buf[(x, y)].symbol() == sym {
                        return (x, y);
                    }
                }
            }
            panic!("{sym} not drawn");
        };
        let (x, y) = find("★");
        assert_eq!(buf[(x, y)].fg, theme.primary_role, "{name}: source badge");
        let (x, y) = find("└");
        assert_eq!(buf[(x + 3, y)].fg, theme.replica_role, "{name}: replica role text");
        // the lagging replica's row: its sparkline and its lag
        let spark = (0..120).find(|x| buf[(*x, y)].symbol() == "█").expect("sparkline on the lagging row");
        assert_eq!(buf[(spark, y)].fg, theme.sparkline, "{name}: sparkline");
        let lag = (0..120).find(|x| buf[(*x, y)].symbol() == "4" && buf[(*x + 1, y)].symbol() == "2").unwrap();
        assert_eq!(buf[(lag, y)].fg, theme.warn, "{name}: 42 s of lag is a warning");
    }
}

#[test]
fn long_lists_page_to_the_selection() {
    let many: Vec<ClusterView> =
        (0..100).map(|i| ClusterView::new(ClusterKind::Pxc, "ns", format!("c{i:03}"))).collect();
    let mut app = app_with(many);
    app.update(Action::Bottom);
    let text = format!("{}", render(&app, &Theme::dark(), 100, 12).backend());
    assert!(text.lines().any(|l| l.contains("▌pxc") && l.contains("c099")), "{text}");
    assert!(text.contains("clusters(all)[100]"));
    app.update(Action::Top);
    let text = format!("{}", render(&app, &Theme::dark(), 100, 12).backend());
    assert!(text.lines().any(|l| l.contains("▌pxc") && l.contains("c000")) && !text.contains("c099"), "{text}");
}

#[test]
fn pods_outside_listed_components_are_still_drawn() {
    let mut c = healthy_pxc();
    c.components.retain(|x| x.kind != ComponentKind::Haproxy);
    let mut app = app_with(vec![c]);
    open(&mut app, "cluster1");
    let text = format!("{}", render(&app, &Theme::dark(), 120, 30).backend());
    assert!(text.contains("other pods"), "{text}");
    assert!(text.contains("cluster1-haproxy-2"), "{text}");
}

#[test]
fn start_up_error_screens() {
    use dbdeck::console::views::dialogs::message_screen;
    let theme = Theme::dark();
    let mut t = Terminal::new(TestBackend::new(100, 16)).unwrap();
    let text = "dbdeck cannot connect to a cluster: no usable kubeconfig (failed to infer config); set --kubeconfig \
                or $KUBECONFIG, or run `dbdeck sandbox`";
    let keys = [('s', "open on an embedded sandbox instead (what dbdeck --sandbox does)"), ('q', "quit")];
    t.draw(|f| message_screen(&theme, "No cluster", text, &keys, f)).unwrap();
    insta::assert_snapshot!("error_no_kubeconfig", t.backend());
    let text = "the Percona custom resource definitions are not installed in this cluster (missing: \
                perconaxtradbclusters.pxc.percona.com); install them with `dbdeck crd --apply`";
    let keys = [('i', "install the nine CRDs now (server-side apply)"), ('q', "quit")];
    t.draw(|f| message_screen(&theme, "CRDs missing", text, &keys, f)).unwrap();
    insta::assert_snapshot!("error_crds_missing", t.backend());
    // Unreachable: the causes down to the socket error, then what to check, as a second paragraph.
    let text = "cannot reach the Kubernetes API server: ServiceError: client error (Connect): tcp connect error: \
                Connection refused (os error 111)\n\nkubeconfig context closed: is the cluster up, and does the \
                context point at it? (kubectl --context closed get namespaces tells the same)";
    let keys = [('r', "retry"), ('q', "quit")];
    t.draw(|f| message_screen(&theme, "Cannot read clusters", text, &keys, f)).unwrap();
    insta::assert_snapshot!("error_api_unreachable", t.backend());
}
