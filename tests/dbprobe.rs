//! The DB probes against real servers on loopback: MariaDB async replication, a MariaDB Galera cluster,
//! PostgreSQL 15 streaming replication, and members that are unreachable, refuse the password or hang.
//!
//! Needs the packages `.ci/install-db.sh` installs; the servers are started and removed by the tests.

#[path = "support/dbservers.rs"]
mod dbservers;

use std::future::Future;
use std::time::{Duration, Instant};

use dbdeck::observe::facts::{
    FamilyDetail, History, LagAmount, LagUnit, MemberFacts, ProbeOutcome, ProbePhase, Role, ThreadState, primary_member,
};
use dbdeck::observe::probe::{Credentials, Endpoint, Family, ProbeConfig, ProbeTarget, Prober, TlsMode};
use dbservers::*;
use mysql_async::prelude::Queryable;

fn require(available: bool, what: &str) {
    assert!(available, "{what} is not installed: run `bash .ci/install-db.sh` first");
}

fn target(member: &str, port: u16, user: &str, password: &str, family: Family) -> ProbeTarget {
    ProbeTarget {
        member: member.into(),
        endpoint: Endpoint::new("127.0.0.1", port),
        credentials: Credentials::new(user, password),
        family,
        tls: TlsMode::Disable,
    }
}

/// Probes until `check` accepts the reading, or fails with the last reading after `deadline`.
async fn probe_until(
    prober: &Prober,
    target: &ProbeTarget,
    deadline: Duration,
    what: &str,
    mut check: impl FnMut(&MemberFacts) -> bool,
) -> MemberFacts {
    let start = Instant::now();
    loop {
        let facts = prober.probe(target).await;
        if check(&facts) {
            return facts;
        }
        assert!(start.elapsed() < deadline, "{what}: not reached within {deadline:?}; last reading: {facts:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = tokio::time::timeout(limit, fut).await.expect("probe did not return within its time limit");
    (out, start.elapsed())
}

fn facts(m: &MemberFacts) -> &dbdeck::observe::facts::DbFacts {
    m.facts().unwrap_or_else(|| panic!("{} has no facts: {}", m.member, m.outcome.summary()))
}

async fn mysql_exec(conn: &mut mysql_async::Conn, sql: &str) {
    conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Connection attempts the server has seen since it started.
async fn global_connections(conn: &mut mysql_async::Conn) -> u64 {
    let row: Option<(String, u64)> = conn.query_first("SHOW GLOBAL STATUS LIKE 'Connections'").await.unwrap();
    row.expect("Connections status row").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_async_replication_lag_errors_and_reuse() {
    require(mariadb_available(), "MariaDB");
    let pair = MariaDbPair::start().await.expect("start MariaDB source and replica");
    let prober = Prober::new(ProbeConfig::default());
    let source = target("db-0", pair.source.port, MONITOR_USER, MONITOR_PASSWORD, Family::MysqlAsync);
    let replica = target("db-1", pair.replica.port, MONITOR_USER, MONITOR_PASSWORD, Family::MysqlAsync);

    let mut src = pair.source.admin().await.unwrap();
    let mut rep = pair.replica.admin().await.unwrap();
    mysql_exec(&mut src, "CREATE DATABASE app").await;
    mysql_exec(&mut src, "CREATE TABLE app.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB").await;

    // Caught up: replicating, 0 seconds, 0 transactions, source known.
    let caught_up = |m: &MemberFacts| {
        m.facts().is_some_and(|f| {
            f.state == "replicating" && f.lag_seconds == Some(0.0) && f.lag_amount == Some(LagAmount::transactions(0))
        })
    };
    let reading = probe_until(&prober, &replica, Duration::from_secs(30), "replica caught up", caught_up).await;
    let f = facts(&reading);
    assert_eq!(f.role, Role::Replica);
    assert!(f.version.contains("MariaDB"), "{}", f.version);
    let FamilyDetail::Async(detail) = &f.detail else { panic!("not async: {f:?}") };
    assert_eq!(detail.channels.len(), 1);
    assert_eq!(detail.channels[0].source_host, "127.0.0.1");
    assert_eq!(detail.channels[0].source_port, Some(pair.source.port));
    assert_eq!(detail.channels[0].io_running, ThreadState::Running);
    let all = prober.probe_all(&[source.clone(), replica.clone()]).await;
    assert_eq!(facts(&all[0]).role, Role::Source);
    assert_eq!(primary_member(&all), Some("db-0"));

    // SQL thread stopped + 5 transactions on the source: 5 behind, seconds unknown with the reason.
    mysql_exec(&mut rep, "STOP SLAVE SQL_THREAD").await;
    for i in 1..=5 {
        mysql_exec(&mut src, &format!("INSERT INTO app.t VALUES ({i}, {i})")).await;
    }
    let lagging = probe_until(&prober, &replica, Duration::from_secs(30), "5 transactions behind", |m| {
        m.facts().is_some_and(|f| f.lag_amount == Some(LagAmount::transactions(5)))
    })
    .await;
    let f = facts(&lagging);
    assert_eq!(f.state, "SQL thread stopped");
    assert_eq!(f.lag_seconds, None, "seconds behind must be unknown while the SQL thread is stopped");
    assert!(f.lag_note.as_deref().unwrap_or_default().contains("SQL thread is not running"), "{f:?}");
    assert!(f.problems.iter().any(|p| p == "SQL thread is not running"), "{:?}", f.problems);

    // Resumed: back to zero.
    mysql_exec(&mut rep, "START SLAVE SQL_THREAD").await;
    probe_until(&prober, &replica, Duration::from_secs(30), "caught up after resume", caught_up).await;

    // IO thread stopped: the replica alone thinks it is caught up; against the source it is 3 behind.
    mysql_exec(&mut rep, "STOP SLAVE IO_THREAD").await;
    for i in 11..=13 {
        mysql_exec(&mut src, &format!("INSERT INTO app.t VALUES ({i}, {i})")).await;
    }
    let alone = prober.probe(&replica).await;
    assert_eq!(facts(&alone).state, "IO thread stopped");
    assert_eq!(facts(&alone).lag_amount, Some(LagAmount::transactions(0)));
    let together = prober.probe_all(&[source.clone(), replica.clone()]).await;
    assert_eq!(facts(&together[1]).lag_amount, Some(LagAmount::transactions(3)));
    assert!(facts(&together[1]).lag_note.as_deref().unwrap_or_default().contains("IO thread is not running"));
    mysql_exec(&mut rep, "START SLAVE IO_THREAD").await;
    probe_until(&prober, &replica, Duration::from_secs(30), "caught up after IO restart", caught_up).await;

    // File/position replication (MASTER_USE_GTID=no): MariaDB stops keeping Gtid_IO_Pos, so transactions behind
    // are unknown with the reason, never a made-up 0, alone or next to the source; seconds still come through.
    mysql_exec(&mut rep, "STOP SLAVE").await;
    mysql_exec(&mut rep, "CHANGE MASTER TO MASTER_USE_GTID=no").await;
    mysql_exec(&mut rep, "START SLAVE").await;
    let positional = probe_until(&prober, &replica, Duration::from_secs(30), "replicating without GTIDs", |m| {
        m.facts().is_some_and(|f| f.state == "replicating" && f.lag_seconds == Some(0.0))
    })
    .await;
    assert_eq!(facts(&positional).lag_amount, None);
    let note = facts(&positional).lag_note.clone().unwrap_or_default();
    assert!(note.contains("does not use GTIDs (Using_Gtid=No)"), "{note}");
    let together = prober.probe_all(&[source.clone(), replica.clone()]).await;
    assert_eq!(facts(&together[1]).lag_amount, None);
    mysql_exec(&mut rep, "STOP SLAVE").await;
    mysql_exec(&mut rep, "CHANGE MASTER TO MASTER_USE_GTID=slave_pos").await;
    mysql_exec(&mut rep, "START SLAVE").await;
    probe_until(&prober, &replica, Duration::from_secs(30), "caught up with GTIDs again", caught_up).await;

    // Reuse: with connections kept, further readings open no new connection on the server.
    assert_eq!(prober.pooled_connections().await, 2);
    let before = global_connections(&mut rep).await;
    for _ in 0..3 {
        assert!(caught_up(&prober.probe(&replica).await));
    }
    assert_eq!(global_connections(&mut rep).await, before, "probes opened new connections instead of reusing one");
    // Figures for the notes (run with --nocapture), not timed assertions: median of nine readings each.
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut kept = Vec::new();
    let mut fresh = Vec::new();
    for _ in 0..9 {
        let started = Instant::now();
        prober.probe(&replica).await;
        kept.push(started.elapsed());
        let once = Prober::new(ProbeConfig::default());
        let started = Instant::now();
        once.probe(&replica).await;
        fresh.push(started.elapsed());
    }
    eprintln!(
        "MariaDB replica reading (median of 9): {:?} on a kept connection, {:?} connecting anew",
        median(kept),
        median(fresh)
    );

    // Broken: a row written on the replica conflicts with the same key from the source.
    mysql_exec(&mut rep, "SET SESSION sql_log_bin=0").await;
    mysql_exec(&mut rep, "INSERT INTO app.t VALUES (100, 0)").await;
    mysql_exec(&mut src, "INSERT INTO app.t VALUES (100, 1)").await;
    let broken = probe_until(&prober, &replica, Duration::from_secs(30), "duplicate key error", |m| {
        m.facts().is_some_and(|f| f.state == "SQL thread failed")
    })
    .await;
    let f = facts(&broken);
    let FamilyDetail::Async(detail) = &f.detail else { panic!("not async") };
    assert_eq!(detail.channels[0].last_sql_errno, 1062);
    assert!(detail.channels[0].last_sql_error.contains("Duplicate entry"), "{:?}", detail.channels[0]);
    assert!(f.problems.iter().any(|p| p.starts_with("SQL thread error 1062:") && p.contains("Duplicate entry")));
    assert_eq!(f.lag_seconds, None);

    // Wrong password: a clear authentication failure, well within the connect timeout.
    let wrong = target("db-0", pair.source.port, MONITOR_USER, "not-the-password", Family::MysqlAsync);
    let (reading, took) = within(Duration::from_secs(5), prober.probe(&wrong)).await;
    match &reading.outcome {
        ProbeOutcome::AuthFailed { reason } => assert!(reason.contains("Access denied"), "{reason}"),
        other => panic!("expected an authentication failure, got {other:?}"),
    }
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(!format!("{reading:?}").contains("not-the-password"));

    // A server that hangs after the connection was made: the query timeout ends the reading, the kept
    // connection is dropped, and the next reading after recovery connects anew.
    let short = Prober::new(ProbeConfig {
        connect_timeout: Duration::from_secs(2),
        query_timeout: Duration::from_millis(700),
        max_concurrency: 2,
    });
    assert!(short.probe(&source).await.facts().is_some());
    assert_eq!(short.pooled_connections().await, 1);
    pair.source.freeze().expect("SIGSTOP the source");
    let (reading, took) = within(Duration::from_secs(3), short.probe(&source)).await;
    pair.source.thaw().expect("SIGCONT the source");
    assert_eq!(reading.outcome, ProbeOutcome::Timeout { phase: ProbePhase::Query, after: Duration::from_millis(700) });
    assert!(took < Duration::from_millis(700) + Duration::from_millis(1500), "{took:?}");
    assert_eq!(short.pooled_connections().await, 0);
    let recovered =
        probe_until(&short, &source, Duration::from_secs(10), "source answers again", |m| m.facts().is_some()).await;
    assert_eq!(facts(&recovered).role, Role::Source);
    assert_eq!(short.pooled_connections().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn galera_cluster_wsrep_facts() {
    require(galera_available(), "MariaDB Galera (galera-4, rsync)");
    let cluster = GaleraCluster::start(3).await.expect("start a three-node Galera cluster");
    cluster.wait_synced(Duration::from_secs(60)).await.expect("cluster synced");
    let mut admin = cluster.nodes[0].admin().await.unwrap();
    mysql_exec(&mut admin, "CREATE DATABASE app").await;
    mysql_exec(&mut admin, "CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB").await;
    mysql_exec(&mut admin, "INSERT INTO app.t VALUES (1), (2), (3)").await;

    let prober = Prober::new(ProbeConfig { max_concurrency: 2, ..ProbeConfig::default() });
    let targets: Vec<ProbeTarget> = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| target(&format!("pxc-{i}"), n.port, MONITOR_USER, MONITOR_PASSWORD, Family::Galera))
        .collect();
    let start = Instant::now();
    let readings = loop {
        let readings = prober.probe_all(&targets).await;
        let settled =
            readings.iter().all(|m| m.facts().is_some_and(|f| f.lag_amount == Some(LagAmount::transactions(0))));
        if settled {
            break readings;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "members did not converge: {readings:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut seqnos = Vec::new();
    for reading in &readings {
        let f = facts(reading);
        assert_eq!(f.role, Role::GaleraMember);
        assert_eq!(f.state, "Synced");
        assert!(f.problems.is_empty(), "{}: {:?}", reading.member, f.problems);
        let FamilyDetail::Galera(g) = &f.detail else { panic!("not galera") };
        assert_eq!(g.cluster_status, "Primary");
        assert_eq!(g.local_state, Some(4));
        assert_eq!(g.cluster_size, Some(3));
        assert!(g.ready && g.connected);
        assert!(g.flow_control_paused.is_some() && g.recv_queue.is_some() && g.send_queue.is_some());
        seqnos.push(g.last_committed.expect("wsrep_last_committed"));
    }
    // Three writes (database, table, rows) went through the group; every member committed them.
    assert!(seqnos.iter().all(|s| *s >= 3 && *s == seqnos[0]), "{seqnos:?}");

    // A node holding FLUSH TABLES WITH READ LOCK desyncs and stops applying while the others keep committing:
    // it falls behind by exactly the write sets it has not applied, and its receive queue holds them.
    let mut locked = cluster.nodes[2].admin().await.unwrap();
    mysql_exec(&mut locked, "FLUSH TABLES WITH READ LOCK").await;
    for i in 10..15 {
        mysql_exec(&mut admin, &format!("INSERT INTO app.t VALUES ({i})")).await;
    }
    let start = Instant::now();
    let behind = loop {
        let readings = prober.probe_all(&targets).await;
        if readings[2].facts().is_some_and(|f| f.lag_amount == Some(LagAmount::transactions(5))) {
            break readings;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "node 2 not 5 write sets behind: {readings:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let f = facts(&behind[2]);
    assert_eq!(f.state, "Donor/Desynced");
    assert!(f.problems.iter().any(|p| p.contains("not synced")), "{:?}", f.problems);
    let FamilyDetail::Galera(g) = &f.detail else { panic!("not galera") };
    assert!(g.recv_queue.is_some_and(|q| q >= 1), "{g:?}");
    assert_eq!(facts(&behind[0]).lag_amount, Some(LagAmount::transactions(0)));
    mysql_exec(&mut locked, "UNLOCK TABLES").await;
    let start = Instant::now();
    loop {
        let readings = prober.probe_all(&targets).await;
        let caught_up = readings.iter().all(|m| {
            m.facts().is_some_and(|f| f.state == "Synced" && f.lag_amount == Some(LagAmount::transactions(0)))
        });
        if caught_up {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "node 2 did not catch up: {readings:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The sparkline history records each reading.
    let mut history = History::new(4);
    for _ in 0..5 {
        history.push(&prober.probe(&targets[1]).await);
    }
    assert_eq!(history.len(), 4);
    assert!(history.points().all(|p| p.reachable));
    // The prober has read this member before: flow control is measured over the time since then.
    let again = prober.probe(&targets[1]).await;
    let FamilyDetail::Galera(g) = &facts(&again).detail else { panic!("not galera") };
    assert!(g.flow_control_paused_ns.is_some(), "{g:?}");
    assert!(g.flow_control_paused_recent.is_some_and(|r| (0.0..=1.0).contains(&r)), "{g:?}");

    // The same cluster behind a PXC cluster's pods on the sandbox, read by `dbdeck status`.
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    status_e2e::pxc_status_shows_the_galera_members(&ports).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_streaming_replication_lag() {
    require(postgres_available(), "PostgreSQL 15");
    let primary = Postgres::start_primary().await.expect("start PostgreSQL primary");
    let standby = Postgres::start_standby(&primary, "pg-1").await.expect("start PostgreSQL standby");
    let prober = Prober::new(ProbeConfig::default());
    let p = target("pg-0", primary.port, "postgres", PG_PASSWORD, Family::Postgres);
    let s = target("pg-1", standby.port, "postgres", PG_PASSWORD, Family::Postgres);
    let admin_p = primary.admin().await.unwrap();
    let admin_s = standby.admin().await.unwrap();
    admin_p.batch_execute("CREATE TABLE t (id serial PRIMARY KEY, v text)").await.unwrap();

    let streaming_row_bytes = |m: &MemberFacts| -> Option<u64> {
        let FamilyDetail::Postgres(d) = &m.facts()?.detail else { return None };
        let row = d.replication.iter().find(|r| r.application_name == "pg-1" && r.state == "streaming")?;
        row.replay_lag_bytes
    };
    let in_sync = |m: &MemberFacts| {
        m.facts().is_some_and(|f| f.lag_seconds == Some(0.0) && f.lag_amount == Some(LagAmount::bytes(0)))
    };
    probe_until(&prober, &p, Duration::from_secs(30), "standby streaming", |m| streaming_row_bytes(m) == Some(0)).await;
    let reading = probe_until(&prober, &s, Duration::from_secs(30), "standby in sync", in_sync).await;
    let f = facts(&reading);
    assert_eq!(f.role, Role::Standby);
    assert_eq!(f.state, "streaming");
    let FamilyDetail::Postgres(d) = &f.detail else { panic!("not postgres") };
    assert!(d.in_recovery && !d.replay_paused);
    assert_eq!(d.timeline, Some(1));
    assert_eq!(d.upstream_host.as_deref(), Some("127.0.0.1"));
    let all = prober.probe_all(&[p.clone(), s.clone()]).await;
    assert_eq!(facts(&all[0]).role, Role::Primary);
    assert_eq!(primary_member(&all), Some("pg-0"));
    let FamilyDetail::Postgres(pd) = &facts(&all[0]).detail else { panic!("not postgres") };
    assert_eq!(pd.replication[0].sync_state, "async");
    assert_eq!(pd.timeline, Some(1));

    // The standby's seconds-behind comes from its last replayed transaction, so make sure it has replayed one
    // before pausing (right after pg_basebackup it may not have).
    admin_p.execute("INSERT INTO t (v) VALUES ('before-pause')", &[]).await.unwrap();
    probe_until(&prober, &s, Duration::from_secs(30), "a transaction replayed", |m| {
        in_sync(m)
            && m.facts().is_some_and(|f| matches!(&f.detail, FamilyDetail::Postgres(d) if d.last_replay_at.is_some()))
    })
    .await;

    // Replay paused + writes on the primary: bytes behind on both sides, seconds growing on the standby.
    admin_s.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    for _ in 0..5 {
        admin_p.execute("INSERT INTO t (v) SELECT repeat('x', 1000) FROM generate_series(1, 50)", &[]).await.unwrap();
    }
    let paused = probe_until(&prober, &s, Duration::from_secs(30), "standby behind", |m| {
        m.facts().is_some_and(|f| f.lag_amount.is_some_and(|a| a.value > 0) && f.lag_seconds.is_some_and(|s| s > 0.0))
    })
    .await;
    let f = facts(&paused);
    assert_eq!(f.state, "replay paused");
    assert!(f.problems.iter().any(|p| p == "WAL replay is paused"));
    let first_seconds = f.lag_seconds.unwrap();
    probe_until(&prober, &s, Duration::from_secs(30), "seconds behind growing", |m| {
        m.facts().and_then(|f| f.lag_seconds).is_some_and(|secs| secs > first_seconds)
    })
    .await;
    probe_until(&prober, &p, Duration::from_secs(30), "primary sees replay lag bytes", |m| {
        streaming_row_bytes(m).is_some_and(|b| b > 0)
    })
    .await;

    // Resumed: back to zero on both sides.
    admin_s.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
    probe_until(&prober, &s, Duration::from_secs(30), "standby caught up", in_sync).await;
    probe_until(&prober, &p, Duration::from_secs(30), "primary sees no lag", |m| streaming_row_bytes(m) == Some(0))
        .await;
    assert_eq!(prober.pooled_connections().await, 2);

    // WAL receiver stopped (primary_conninfo emptied) and writes on the primary: the standby has replayed all it
    // received, so alone it cannot tell its seconds behind and says why; next to the primary it is behind by the
    // bytes written since. Restored: streaming and back to zero.
    let conninfo: String = admin_s.query_one("SHOW primary_conninfo", &[]).await.unwrap().get(0);
    admin_s.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").await.unwrap();
    admin_s.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    probe_until(&prober, &s, Duration::from_secs(30), "WAL receiver stopped", |m| {
        m.facts().is_some_and(|f| f.state == "not streaming")
    })
    .await;
    admin_p.execute("INSERT INTO t (v) SELECT repeat('y', 1000) FROM generate_series(1, 50)", &[]).await.unwrap();
    let alone = prober.probe(&s).await;
    assert_eq!(facts(&alone).lag_seconds, None);
    let note = facts(&alone).lag_note.clone().unwrap_or_default();
    assert!(note.contains("WAL receiver is not running"), "{note}");
    let together = prober.probe_all(&[p.clone(), s.clone()]).await;
    let behind = facts(&together[1]).lag_amount;
    assert!(behind.is_some_and(|b| b.unit == LagUnit::Bytes && b.value >= 50_000), "{behind:?}");
    admin_s.batch_execute(&format!("ALTER SYSTEM SET primary_conninfo = '{conninfo}'")).await.unwrap();
    admin_s.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let start = Instant::now();
    loop {
        let readings = prober.probe_all(&[p.clone(), s.clone()]).await;
        if in_sync(&readings[1]) && facts(&readings[1]).state == "streaming" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "standby did not stream again: {readings:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Wrong password.
    let wrong = target("pg-0", primary.port, "postgres", "nope-not-it", Family::Postgres);
    let (reading, took) = within(Duration::from_secs(5), prober.probe(&wrong)).await;
    match &reading.outcome {
        ProbeOutcome::AuthFailed { reason } => assert!(reason.contains("password authentication failed"), "{reason}"),
        other => panic!("expected an authentication failure, got {other:?}"),
    }
    assert!(took < Duration::from_secs(3), "{took:?}");

    // A user without pg_monitor sees blank rows: said so, not shown as healthy.
    admin_p.batch_execute("CREATE ROLE plain LOGIN PASSWORD 'plain-pw'").await.unwrap();
    let plain = prober.probe(&target("pg-0", primary.port, "plain", "plain-pw", Family::Postgres)).await;
    let f = facts(&plain);
    assert!(f.problems.iter().any(|p| p.contains("grant it the pg_monitor role")), "{:?}", f.problems);

    // The backend serving a kept connection hangs (SIGSTOP): the query timeout ends the reading, the connection
    // is dropped, and once the server answers again the next reading connects anew.
    let short = Prober::new(ProbeConfig {
        connect_timeout: Duration::from_secs(2),
        query_timeout: Duration::from_millis(700),
        max_concurrency: 2,
    });
    let hung = target("pg-0", primary.port, "plain", "plain-pw", Family::Postgres);
    assert!(short.probe(&hung).await.facts().is_some());
    let row = admin_p
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE usename = 'plain' AND application_name = 'dbdeck-probe' \
             ORDER BY backend_start DESC LIMIT 1",
            &[],
        )
        .await
        .expect("the newest probe backend of user plain (the short prober's)");
    let backend: i32 = row.get(0);
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill").args([sig, &backend.to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} {backend}");
    };
    signal("-STOP");
    let (reading, took) = within(Duration::from_secs(3), short.probe(&hung)).await;
    signal("-CONT");
    assert_eq!(reading.outcome, ProbeOutcome::Timeout { phase: ProbePhase::Query, after: Duration::from_millis(700) });
    assert!(took < Duration::from_millis(700) + Duration::from_millis(1500), "{took:?}");
    assert_eq!(short.pooled_connections().await, 0);
    assert_eq!(facts(&short.probe(&hung).await).role, Role::Primary);
    assert_eq!(short.pooled_connections().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls() {
    require(postgres_available(), "PostgreSQL 15");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let ca_pem = cert.cert.pem();
    let server =
        Postgres::start_primary_with(Some((ca_pem.clone(), cert.signing_key.serialize_pem()))).await.expect("start");
    let admin = server.admin().await.unwrap();
    admin.batch_execute("CREATE ROLE monitor LOGIN PASSWORD 'mon-tls-pw' IN ROLE pg_monitor").await.unwrap();
    let prober = Prober::new(ProbeConfig::default());
    let with_tls =
        |tls: TlsMode| ProbeTarget { tls, ..target("pg-0", server.port, "monitor", "mon-tls-pw", Family::Postgres) };

    // The server allows this user over TLS only, as Percona's PostgreSQL clusters do.
    let plain = prober.probe(&with_tls(TlsMode::Disable)).await;
    match &plain.outcome {
        ProbeOutcome::AuthFailed { reason } => assert!(reason.contains("no encryption"), "{reason}"),
        other => panic!("expected a refusal without TLS, got {other:?}"),
    }

    let required = prober.probe(&with_tls(TlsMode::Require)).await;
    assert_eq!(facts(&required).role, Role::Primary);

    // Preferring TLS gets it from a server that offers it (this one refuses the user without it).
    let preferred = prober.probe(&with_tls(TlsMode::Prefer)).await;
    assert_eq!(facts(&preferred).role, Role::Primary);

    let verified = prober.probe(&with_tls(TlsMode::VerifyFull { ca_pem: ca_pem.into_bytes() })).await;
    assert_eq!(facts(&verified).role, Role::Primary);

    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let wrong_ca = prober.probe(&with_tls(TlsMode::VerifyFull { ca_pem: stranger.cert.pem().into_bytes() })).await;
    match &wrong_ca.outcome {
        ProbeOutcome::Error { reason } => assert!(reason.contains("TLS with 127.0.0.1"), "{reason}"),
        other => panic!("expected a certificate error, got {other:?}"),
    }
    // Kept connections are per TLS mode: the three that worked are all kept.
    assert_eq!(prober.pooled_connections().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_hanging_members_end_within_the_timeout() {
    let config = ProbeConfig {
        connect_timeout: Duration::from_millis(800),
        query_timeout: Duration::from_millis(800),
        max_concurrency: 4,
    };
    let prober = Prober::new(config);
    let silent = SilentServer::start().await;
    let closed = closed_port();
    let margin = Duration::from_millis(1500);

    for family in [Family::MysqlAsync, Family::Postgres] {
        let refused = target("gone", closed, "monitor", "pw", family);
        let (reading, took) = within(config.connect_timeout + margin, prober.probe(&refused)).await;
        match &reading.outcome {
            ProbeOutcome::Unreachable { reason } => {
                assert!(reason.contains("connection refused"), "{family:?}: {reason}")
            }
            other => panic!("{family:?}: expected unreachable, got {other:?}"),
        }
        assert!(took < config.connect_timeout + margin, "{took:?}");

        let hanging = target("hangs", silent.port, "monitor", "pw", family);
        let (reading, took) = within(config.connect_timeout + margin, prober.probe(&hanging)).await;
        assert_eq!(
            reading.outcome,
            ProbeOutcome::Timeout { phase: ProbePhase::Connect, after: config.connect_timeout },
            "{family:?}"
        );
        assert!(took >= config.connect_timeout && took < config.connect_timeout + margin, "{took:?}");
        assert_eq!(reading.outcome.summary(), "timed out connecting after 800 ms");
    }

    // Several hanging members are probed concurrently, not one after another.
    let targets: Vec<ProbeTarget> =
        (0..4).map(|i| target(&format!("m-{i}"), silent.port, "monitor", "pw", Family::Galera)).collect();
    let (readings, took) = within(Duration::from_secs(10), prober.probe_all(&targets)).await;
    assert!(readings.iter().all(|m| matches!(m.outcome, ProbeOutcome::Timeout { .. })));
    assert!(took < config.connect_timeout * 2 + margin, "{took:?}");
    assert_eq!(prober.pooled_connections().await, 0);

    // With one permit the same members queue: the bound on concurrency holds.
    let serial = Prober::new(ProbeConfig { connect_timeout: Duration::from_millis(300), max_concurrency: 1, ..config });
    let (readings, took) = within(Duration::from_secs(10), serial.probe_all(&targets[..3])).await;
    assert!(readings.iter().all(|m| matches!(m.outcome, ProbeOutcome::Timeout { .. })));
    assert!(took >= Duration::from_millis(900), "three members with one permit took only {took:?}");
}

// ---- end to end: a PS async cluster on the sandbox, its pods attached to the MariaDB pair, `dbdeck status` ----

mod status_e2e {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use dbdeck::api::ps::PerconaServerMySQL;
    use dbdeck::engine::apply::{Applier, OwnerRef};
    use dbdeck::engine::ps::{PsBuildInputs, SYSTEM_USERS, TlsMaterial, build};
    use dbdeck::sandbox::serve::{self, RunningSandbox, ServeOptions};
    use k8s_openapi::api::core::v1::{Pod, Secret};
    use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
    use serde_json::{Value, json};

    use super::*;

    const CLUSTER: &str = "ledger";
    const NS: &str = "default";
    const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/ps-async-minimal.yaml");

    /// The users Secret as a user would write it: the monitor password is the MariaDB pair's.
    fn users() -> BTreeMap<String, String> {
        SYSTEM_USERS
            .iter()
            .map(|u| {
                let pw = if *u == "monitor" { MONITOR_PASSWORD.to_string() } else { format!("{u}-e2e-pw") };
                (u.to_string(), pw)
            })
            .collect()
    }

    /// Creates the PS CR (two MySQL pods), its users Secret, and the objects the engine would build for it.
    async fn create_cluster(client: &kube::Client) {
        let mut cr: PerconaServerMySQL = serde_yaml::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
        cr.metadata.name = Some(CLUSTER.into());
        cr.metadata.namespace = Some(NS.into());
        let mut value = serde_json::to_value(&cr).unwrap();
        value["spec"]["mysql"]["size"] = json!(2);
        value["spec"]["orchestrator"]["size"] = json!(1);
        value["spec"]["proxy"]["haproxy"]["size"] = json!(1);
        value["spec"]["unsafeFlags"] = json!({"mysqlSize": true, "orchestratorSize": true, "proxySize": true});
        let cr: PerconaServerMySQL = serde_json::from_value(value).unwrap();
        let api: Api<PerconaServerMySQL> = Api::namespaced(client.clone(), NS);
        let cr = api.create(&PostParams::default(), &cr).await.expect("create the PS cluster");

        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{CLUSTER}-secrets"), "namespace": NS},
            "stringData": users(),
        }))
        .unwrap();
        Api::<Secret>::namespaced(client.clone(), NS).create(&PostParams::default(), &secret).await.expect("secret");

        let inputs = PsBuildInputs {
            users_secret: Some(users()),
            tls_secret: None,
            generated_passwords: BTreeMap::new(),
            generated_tls: Some(TlsMaterial {
                ca_crt: "e2e CA".into(),
                tls_crt: "e2e cert".into(),
                tls_key: "e2e key".into(),
            }),
        };
        let desired = build(&cr, &inputs).expect("build the PS objects");
        let owner = OwnerRef {
            api_version: "ps.percona.com/v1".into(),
            kind: "PerconaServerMySQL".into(),
            name: CLUSTER.into(),
            namespace: NS.into(),
            uid: cr.metadata.uid.clone().unwrap(),
        };
        Applier::new(client.clone()).apply_all(&owner, desired.to_values()).await.expect("apply the PS objects");
    }

    async fn wait_running(client: &kube::Client, pod: &str) {
        let api: Api<Pod> = Api::namespaced(client.clone(), NS);
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let phase = api.get_opt(pod).await.unwrap().and_then(|p| p.status?.phase);
            if phase.as_deref() == Some("Running") {
                return;
            }
            assert!(Instant::now() < end, "pod {pod} not Running within 30 s (phase {phase:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs the real binary against the sandbox's kubeconfig.
    async fn dbdeck(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
        let kubeconfig = kubeconfig.to_path_buf();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_dbdeck"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&args)
                .env_remove("KUBECONFIG")
                .output()
                .expect("run dbdeck")
        })
        .await
        .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// `dbdeck status NAME -o json`, the cluster view.
    async fn status_json(kubeconfig: &Path, cluster: &str) -> Value {
        let (ok, out, err) = dbdeck(kubeconfig, &["status", cluster, "-n", NS, "-o", "json"]).await;
        assert!(ok, "dbdeck status failed: {err}");
        let view: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(view.is_object(), "status NAME -o json prints the one view: {out}");
        view
    }

    fn member<'a>(view: &'a Value, pod: &str) -> &'a Value {
        view["members"].as_array().unwrap().iter().find(|m| m["pod"] == pod).unwrap_or_else(|| panic!("no {pod}"))
    }

    /// Runs `status` until `done` accepts the view, or fails with the last one.
    async fn status_until(kubeconfig: &Path, cluster: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let view = status_json(kubeconfig, cluster).await;
            if done(&view) {
                return view;
            }
            assert!(Instant::now() < end, "{what}: not within 60 s; last view members {:#}", view["members"]);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn replica_lag(view: &Value) -> &Value {
        &member(view, "ledger-mysql-1")["lag"]
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A sandbox with the CRDs; with `controllers`, StatefulSets get pods that start running.
    async fn sandbox(dir: &Path, controllers: bool) -> (RunningSandbox, PathBuf, kube::Client) {
        let kubeconfig = dir.join("kubeconfig");
        let running = serve::start(ServeOptions {
            kubeconfig_out: Some(kubeconfig.clone()),
            controllers: controllers.then(Default::default),
            ..ServeOptions::private()
        })
        .await
        .expect("start the sandbox");
        let client = running.client().await.expect("client");
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("install the CRDs");
        (running, kubeconfig, client)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_shows_real_lag_of_a_ps_async_cluster_on_the_sandbox() {
        require(mariadb_available(), "MariaDB");
        let pair = MariaDbPair::start().await.expect("start MariaDB source and replica");
        let dir = tempfile::tempdir().unwrap();
        let (running, kubeconfig, client) = sandbox(dir.path(), true).await;
        create_cluster(&client).await;
        wait_running(&client, "ledger-mysql-0").await;
        wait_running(&client, "ledger-mysql-1").await;

        // Before anything is attached the pods cannot be reached: each says so, with no made-up figure.
        let view = status_json(&kubeconfig, CLUSTER).await;
        let lag = replica_lag(&view);
        assert_eq!(lag["state"], "unknown", "{view:#}");
        assert_eq!(lag["reason"], "unreachable: no database server attached to this sandbox pod", "{lag}");

        running.sandbox.attach(NS, "ledger-mysql-0", 3306, addr(pair.source.port));
        running.sandbox.attach(NS, "ledger-mysql-1", 3306, addr(pair.replica.port));

        let mut src = pair.source.admin().await.unwrap();
        let mut rep = pair.replica.admin().await.unwrap();
        mysql_exec(&mut src, "CREATE DATABASE app").await;
        mysql_exec(&mut src, "CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB").await;

        // Caught up: roles from the servers, zero lag in seconds and transactions.
        let caught_up = |v: &Value| {
            let lag = replica_lag(v);
            lag["state"] == "known"
                && lag["seconds"] == 0.0
                && lag["behind"] == json!({"unit": "transactions", "value": 0})
        };
        let view = status_until(&kubeconfig, CLUSTER, "replica caught up", caught_up).await;
        assert_eq!(member(&view, "ledger-mysql-0")["role"], "source");
        assert_eq!(member(&view, "ledger-mysql-0")["lag"]["state"], "notApplicable");
        assert_eq!(member(&view, "ledger-mysql-1")["role"], "replica");
        let facts = view["dbFacts"].as_array().unwrap();
        assert_eq!(facts.len(), 2, "only the MySQL pods are probed: {facts:#?}");
        assert_eq!(facts[1]["member"], "ledger-mysql-1");
        assert_eq!(facts[1]["outcome"]["state"], "replicating");
        assert!(!view.to_string().contains(MONITOR_PASSWORD), "the password must never be printed");

        // SQL thread stopped, five rows written on the source: five transactions behind, seconds unknown.
        mysql_exec(&mut rep, "STOP SLAVE SQL_THREAD").await;
        for i in 1..=5 {
            mysql_exec(&mut src, &format!("INSERT INTO app.t VALUES ({i})")).await;
        }
        // A stopped replica is not following at all: its lag is unknown with the reason (what it has not applied
        // is said with it), the member is marked broken and why-not-ready names it first.
        let view = status_until(&kubeconfig, CLUSTER, "five transactions behind", |v| {
            replica_lag(v)["reason"].as_str().is_some_and(|r| r.contains("(5 transactions behind)"))
        })
        .await;
        let lag = replica_lag(&view);
        assert_eq!(lag["state"], "unknown", "{lag:#}");
        let reason = lag["reason"].as_str().unwrap();
        assert!(reason.starts_with("replication stopped: SQL thread: stopped"), "{lag:#}");
        let broken = member(&view, "ledger-mysql-1")["replicationError"].as_str().unwrap_or_default();
        assert!(broken.starts_with("SQL thread: stopped"), "{view:#}");
        assert_eq!(member(&view, "ledger-mysql-0")["replicationError"], Value::Null);
        let why = &view["whyNotReady"][0];
        assert_eq!((why["kind"].as_str(), why["source"].as_str()), (Some("replication"), Some("pod/ledger-mysql-1")));
        let (ok, text, err) = dbdeck(&kubeconfig, &["status", CLUSTER, "-n", NS]).await;
        assert!(ok, "{err}");
        eprintln!("{text}");
        let row = text.lines().find(|l| l.contains("ledger-mysql-1")).unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains("replica") && row.contains("SQL thread stopped"), "{text}");
        assert!(row.contains("replication stopped: SQL thread: stopped") && row.contains("5 transactions"), "{text}");
        assert!(text.contains("Replication pod/ledger-mysql-1: replication stopped: SQL thread"), "{text}");
        assert!(!text.contains(MONITOR_PASSWORD));

        // Resumed: back to zero, and no longer broken.
        mysql_exec(&mut rep, "START SLAVE SQL_THREAD").await;
        let view = status_until(&kubeconfig, CLUSTER, "caught up after resume", caught_up).await;
        assert_eq!(member(&view, "ledger-mysql-1")["replicationError"], Value::Null);

        // A failed SQL thread: a row only the replica has makes the source's insert a duplicate there. The reason
        // carries the server's Last_SQL_Error.
        mysql_exec(&mut rep, "SET SESSION sql_log_bin=0; INSERT INTO app.t VALUES (100)").await;
        mysql_exec(&mut src, "INSERT INTO app.t VALUES (100)").await;
        let view = status_until(&kubeconfig, CLUSTER, "SQL thread failed", |v| {
            replica_lag(v)["reason"].as_str().is_some_and(|r| r.contains("Duplicate entry"))
        })
        .await;
        let reason = replica_lag(&view)["reason"].as_str().unwrap().to_string();
        assert!(reason.starts_with("replication stopped: SQL thread: "), "{reason}");
        let why = &view["whyNotReady"][0];
        assert_eq!(why["source"], "pod/ledger-mysql-1", "{view:#}");
        assert!(why["message"].as_str().unwrap().contains("Duplicate entry"), "{why:#}");
        mysql_exec(&mut rep, "SET SESSION sql_log_bin=0; DELETE FROM app.t WHERE id = 100").await;
        mysql_exec(&mut rep, "START SLAVE SQL_THREAD").await;
        status_until(&kubeconfig, CLUSTER, "caught up after the conflict is removed", caught_up).await;

        // --no-probe never touches the databases and says why the lag is unknown.
        let (ok, out, err) = dbdeck(&kubeconfig, &["status", CLUSTER, "-n", NS, "-o", "json", "--no-probe"]).await;
        assert!(ok, "{err}");
        // Figures for the notes (run with --nocapture), not timed assertions: median of five runs each.
        let mut probed = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            status_json(&kubeconfig, CLUSTER).await;
            probed.push(started.elapsed());
            let started = Instant::now();
            dbdeck(&kubeconfig, &["status", CLUSTER, "-n", NS, "-o", "json", "--no-probe"]).await;
            plain.push(started.elapsed());
        }
        probed.sort();
        plain.sort();
        eprintln!("dbdeck status (median of 5): {:?} with --no-probe, {:?} probing two members", plain[2], probed[2]);
        let view: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(view["dbFacts"], json!([]));
        assert_eq!(member(&view, "ledger-mysql-1")["lag"]["reason"], "not probed (--no-probe)");

        // A hung source: the status still returns within its deadline, the member says it timed out.
        pair.source.freeze().expect("SIGSTOP the source");
        let started = Instant::now();
        let (ok, out, err) =
            dbdeck(&kubeconfig, &["status", CLUSTER, "-n", NS, "-o", "json", "--probe-timeout", "2"]).await;
        let took = started.elapsed();
        pair.source.thaw().expect("SIGCONT the source");
        assert!(ok, "{err}");
        let view: Value = serde_json::from_str(&out).unwrap();
        let source = &view["dbFacts"][0];
        assert_eq!(source["member"], "ledger-mysql-0");
        assert!(["timeout", "error"].contains(&source["outcome"]["result"].as_str().unwrap()), "{source:#}");
        assert!(took < Duration::from_secs(8), "status took {took:?} with a 2 s probe deadline");
        running.shutdown().await;
    }

    const PG_CLUSTER: &str = "billing";

    /// A PerconaPGCluster with one instance set of two pods, made as Percona's operator labels them: one the
    /// Patroni leader, one a replica. No engine runs here, so the pods are created and marked running directly.
    async fn create_pg_cluster(client: &kube::Client) -> (String, String) {
        let cr: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
            "metadata": {"name": PG_CLUSTER, "namespace": NS},
            "spec": {"postgresVersion": 15, "instances": [{"name": "instance1", "replicas": 2}]}
        }))
        .unwrap();
        let ar = ApiResource::erase::<dbdeck::api::pg::PerconaPGCluster>(&());
        Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
            .create(&PostParams::default(), &cr)
            .await
            .expect("create the PG cluster");
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let mut names = Vec::new();
        for (suffix, role) in [("abcd", "master"), ("efgh", "replica")] {
            let name = format!("{PG_CLUSTER}-instance1-{suffix}-0");
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {
                    "postgres-operator.crunchydata.com/cluster": PG_CLUSTER,
                    "postgres-operator.crunchydata.com/instance-set": "instance1",
                    "postgres-operator.crunchydata.com/role": role}},
                "spec": {"containers": [{"name": "database", "image": "percona/percona-postgresql:15",
                                          "ports": [{"containerPort": 5432}]}]}
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.expect("create pod");
            let running = json!({"status": {"phase": "Running", "podIP": "10.1.0.9"}});
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(running)).await.expect("pod running");
            names.push(name);
        }
        // The superuser's Secret, as the operator writes it; the probe prefers it.
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("{PG_CLUSTER}-pguser-postgres"), "namespace": NS},
            "stringData": {"user": "postgres", "password": PG_PASSWORD}
        }))
        .unwrap();
        Api::<Secret>::namespaced(client.clone(), NS).create(&PostParams::default(), &secret).await.expect("secret");
        (names.remove(0), names.remove(0))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_shows_real_lag_of_a_pg_cluster_on_the_sandbox() {
        require(postgres_available(), "PostgreSQL 15");
        let primary = Postgres::start_primary().await.expect("start PostgreSQL primary");
        let standby = Postgres::start_standby(&primary, "pg-1").await.expect("start PostgreSQL standby");
        let dir = tempfile::tempdir().unwrap();
        let (running, kubeconfig, client) = sandbox(dir.path(), false).await;
        let (leader, replica) = create_pg_cluster(&client).await;
        running.sandbox.attach(NS, &leader, 5432, addr(primary.port));
        running.sandbox.attach(NS, &replica, 5432, addr(standby.port));

        let admin_p = primary.admin().await.unwrap();
        let admin_s = standby.admin().await.unwrap();
        admin_p.batch_execute("CREATE TABLE t (id serial PRIMARY KEY, v text)").await.unwrap();
        admin_p.execute("INSERT INTO t (v) VALUES ('first')", &[]).await.unwrap();

        let standby_lag = |v: &Value| member(v, &replica)["lag"].clone();
        let in_sync = |v: &Value| {
            let lag = standby_lag(v);
            lag["state"] == "known" && lag["seconds"] == 0.0 && lag["behind"] == json!({"unit": "bytes", "value": 0})
        };
        let view = status_until(&kubeconfig, PG_CLUSTER, "standby in sync", in_sync).await;
        assert_eq!(member(&view, &leader)["role"], "primary");
        assert_eq!(member(&view, &leader)["lag"]["state"], "notApplicable");
        assert_eq!(member(&view, &replica)["role"], "standby");
        assert_eq!(view["dbFacts"][1]["outcome"]["state"], "streaming", "{:#}", view["dbFacts"]);
        assert!(!view.to_string().contains(PG_PASSWORD));

        // Replay paused and writes on the primary: the standby is behind in bytes and in seconds.
        admin_s.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
        for _ in 0..5 {
            admin_p
                .execute("INSERT INTO t (v) SELECT repeat('x', 1000) FROM generate_series(1, 50)", &[])
                .await
                .unwrap();
        }
        let view = status_until(&kubeconfig, PG_CLUSTER, "standby behind", |v| {
            let lag = standby_lag(v);
            lag["state"] == "known"
                && lag["behind"]["value"].as_u64().is_some_and(|b| b > 0)
                && lag["seconds"].as_f64().is_some_and(|s| s > 0.0)
        })
        .await;
        assert_eq!(view["dbFacts"][1]["outcome"]["state"], "replay paused");
        let (ok, text, err) = dbdeck(&kubeconfig, &["status", PG_CLUSTER, "-n", NS]).await;
        assert!(ok, "{err}");
        let row = text.lines().find(|l| l.contains(&replica)).unwrap_or_else(|| panic!("{text}"));
        assert!(
            row.contains("standby") && row.contains("replay paused") && row.contains("WAL replay is paused"),
            "{text}"
        );

        // Resumed: back to zero.
        admin_s.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
        status_until(&kubeconfig, PG_CLUSTER, "standby caught up", in_sync).await;
        running.shutdown().await;
    }

    const PXC_CLUSTER: &str = "shop";

    /// A PXC cluster whose pods (made as Percona's operator labels them) are attached to the Galera nodes at
    /// `ports`: `dbdeck status` shows each member's wsrep state and its lag in write sets.
    pub async fn pxc_status_shows_the_galera_members(ports: &[u16]) {
        let dir = tempfile::tempdir().unwrap();
        let (running, kubeconfig, client) = sandbox(dir.path(), false).await;
        let cr: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
            "metadata": {"name": PXC_CLUSTER, "namespace": NS},
            "spec": {"pxc": {"size": ports.len()}}
        }))
        .unwrap();
        let ar = ApiResource::erase::<dbdeck::api::pxc::PerconaXtraDBCluster>(&());
        Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
            .create(&PostParams::default(), &cr)
            .await
            .expect("create the PXC cluster");
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        for (i, port) in ports.iter().enumerate() {
            let name = format!("{PXC_CLUSTER}-pxc-{i}");
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {
                    "app.kubernetes.io/instance": PXC_CLUSTER, "app.kubernetes.io/component": "pxc",
                    "app.kubernetes.io/part-of": "percona-xtradb-cluster"}},
                "spec": {"containers": [{"name": "pxc", "image": "percona/percona-xtradb-cluster:8.4"}]}
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.expect("create pod");
            let running_patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
            pods.patch_status(&name, &PatchParams::default(), &running_patch).await.expect("pod running");
            running.sandbox.attach(NS, &name, 3306, addr(*port));
        }
        // Percona keeps the system users in internal-<cluster>; the probe takes `monitor` from it.
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("internal-{PXC_CLUSTER}"), "namespace": NS},
            "stringData": {"root": "root-pw-unused", "operator": "operator-pw-unused", "monitor": MONITOR_PASSWORD}
        }))
        .unwrap();
        Api::<Secret>::namespaced(client.clone(), NS).create(&PostParams::default(), &secret).await.expect("secret");

        let view = status_until(&kubeconfig, PXC_CLUSTER, "all members synced", |v| {
            v["dbFacts"]
                .as_array()
                .is_some_and(|f| f.len() == ports.len() && f.iter().all(|m| m["outcome"]["state"] == "Synced"))
        })
        .await;
        for i in 0..ports.len() {
            let m = member(&view, &format!("{PXC_CLUSTER}-pxc-{i}"));
            assert_eq!(m["role"], "galeraMember");
            assert_eq!(m["lag"]["state"], "amount", "{m:#}");
            assert_eq!(m["lag"]["behind"], json!({"unit": "transactions", "value": 0}), "{m:#}");
            assert_eq!(view["dbFacts"][i]["outcome"]["detail"]["clusterSize"], ports.len());
        }
        let (ok, text, err) = dbdeck(&kubeconfig, &["status", PXC_CLUSTER, "-n", NS]).await;
        assert!(ok, "{err}");
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("pxc/shop ")).collect();
        assert_eq!(rows.len(), ports.len(), "{text}");
        assert!(rows.iter().all(|r| r.contains("galera") && r.contains("Synced") && r.contains("0 trx")), "{text}");
        running.shutdown().await;
    }
}
