//! Whole-program flows: `dbdeck --sandbox` in a detached tmux session (160x45, xterm-256color), driven with
//! `send-keys` and read with `capture-pane`, each step polled against a deadline.
//!
//! The helpers are meant for more flows: [`Session::sandbox`] starts the console (with extra flags and
//! environment), [`Session::wait`] polls the screen, [`has_row`] finds a cluster in the list, and
//! [`Session::filter`], [`Session::command`] drive the list. Each test gets its own tmux session and sandbox.

use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
}

/// False (and says so) when tmux is missing; CI installs it.
fn tmux_available() -> bool {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed; skipping the console flow test (CI installs it)");
        return false;
    }
    true
}

impl Session {
    /// `dbdeck --sandbox ARGS` with `ENV` (`NAME=value` words) in a fresh session named after `test`.
    fn sandbox(test: &str, env: &[&str], args: &str) -> Session {
        let bin = env!("CARGO_BIN_EXE_dbdeck");
        Session::start(test, &format!("env {} {bin} --sandbox {args}", env.join(" ")))
    }

    fn start(test: &str, cmd: &str) -> Session {
        let name = format!("dbdeck-{test}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "45"])
            // The trailing sleep keeps the pane readable after dbdeck exits, so the exit code can be seen.
            .arg(format!("{cmd}; echo DBDECK_EXIT=$?; sleep 120"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Session { name }
    }

    fn pane(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux").args(["send-keys", "-t", &self.name, k]).status().unwrap().success();
            assert!(ok);
        }
    }

    fn text(&self, text: &str) {
        let ok = Command::new("tmux").args(["send-keys", "-l", "-t", &self.name, text]).status().unwrap().success();
        assert!(ok);
    }

    /// `/text` then enter: the list keeps the rows that match.
    fn filter(&self, text: &str) {
        self.keys(&["/"]);
        self.text(text);
        self.keys(&["Enter"]);
    }

    /// `:text` then enter.
    fn command(&self, text: &str) {
        self.keys(&[":"]);
        self.text(text);
        self.keys(&["Enter"]);
    }

    /// Waits for the four example clusters of `dbdeck --sandbox`.
    fn wait_examples(&self) -> String {
        self.wait("the example clusters", 30, |p| {
            has_row(p, "pxc", "shop-db")
                && has_row(p, "ps/gr", "inventory-db")
                && has_row(p, "ps/async", "ledger-async")
                && has_row(p, "pg", "orders-db")
        })
    }

    /// Polls the pane until `ok` holds, failing with the last screen after `secs`.
    fn wait(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let pane = self.pane();
            if ok(&pane) {
                return pane;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{pane}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

/// A row of the cluster list: kind, namespace and name in that order on one line.
fn has_row(pane: &str, kind: &str, name: &str) -> bool {
    row(pane, kind, name).is_some()
}

/// The list line of one cluster.
fn row<'a>(pane: &'a str, kind: &str, name: &str) -> Option<&'a str> {
    pane.lines().find(|l| {
        let words: Vec<&str> =
            l.split(|c: char| c.is_whitespace() || c == '│' || c == '▌').filter(|w| !w.is_empty()).collect();
        words.windows(3).any(|w| w[0] == kind && w[1] == "default" && w[2] == name)
    })
}

/// The cluster's row shows every word of `want`.
fn row_shows(pane: &str, kind: &str, name: &str, want: &[&str]) -> bool {
    row(pane, kind, name).is_some_and(|l| want.iter().all(|w| l.contains(w)))
}

#[test]
fn sandbox_console_lists_filters_helps_creates_deletes_and_quits() {
    if !tmux_available() {
        return;
    }
    let s = Session::sandbox("flow", &["TERM=xterm-256color"], "");

    // The example clusters of the three kinds; the in-process engine brings the PXC one to ready.
    s.wait_examples();
    s.wait("shop-db ready", 60, |p| row_shows(p, "pxc", "shop-db", &["ready", "3/3 pxc"]));

    // `/` filter narrows the list; esc clears it.
    s.filter("orders");
    s.wait("the filtered list", 10, |p| has_row(p, "pg", "orders-db") && !has_row(p, "pxc", "shop-db"));
    s.keys(&["Escape"]);
    s.wait("the unfiltered list", 10, |p| has_row(p, "pxc", "shop-db") && has_row(p, "pg", "orders-db"));

    // `?` shows the help, `q` closes it.
    s.keys(&["?"]);
    s.wait("the help screen", 10, |p| p.contains("keys can be remapped") && p.contains("create cluster"));
    s.keys(&["q"]);
    s.wait("the list again", 10, |p| !p.contains("keys can be remapped") && has_row(p, "pg", "orders-db"));

    // Create a PXC cluster through the wizard: kind pxc → name → defaults → backups off → review → create.
    s.keys(&["c"]);
    s.wait("the wizard", 10, |p| p.contains("1. Kind"));
    s.keys(&["Enter"]);
    s.wait("the name step", 10, |p| p.contains("▸ 2. Name"));
    for _ in 0.."cluster1".len() {
        s.keys(&["BSpace"]);
    }
    s.text("tmux1");
    s.keys(&["Enter"]);
    s.wait("the size step", 10, |p| p.contains("▸ 3. Size"));
    s.keys(&["Enter"]);
    s.wait("the proxy step", 10, |p| p.contains("▸ 4. Proxy"));
    s.keys(&["Enter"]);
    s.wait("the backup step", 10, |p| p.contains("▸ 5. Backups"));
    s.keys(&["Space"]);
    s.keys(&["Enter"]);
    s.wait("the review", 10, |p| p.contains("▸ 6. Review") && p.contains("name: tmux1") && p.contains("valid"));
    s.keys(&["Enter"]);
    s.wait("the new cluster in the list", 20, |p| has_row(p, "pxc", "tmux1"));
    s.wait("tmux1 ready", 60, |p| row_shows(p, "pxc", "tmux1", &["ready", "3/3 pxc"]));

    // `s` scales: 5 Galera pods do not fit 3 nodes with one pod per host, and the list says so.
    s.filter("tmux1");
    s.wait("only tmux1", 10, |p| has_row(p, "pxc", "tmux1") && !has_row(p, "pg", "orders-db"));
    s.keys(&["s"]);
    s.wait("the scale form", 20, |p| p.contains("Database pods"));
    s.keys(&["BSpace"]);
    s.text("5");
    s.keys(&["Enter"]);
    s.wait("the scale diff", 20, |p| p.contains("review change") && p.contains("ok ✓"));
    s.keys(&["Enter"]);
    s.wait("scaled to 5, two pods unschedulable", 60, |p| row_shows(p, "pxc", "tmux1", &["initializing", "3/5 pxc"]));
    s.keys(&["Enter"]);
    s.wait("the reason in the detail view", 20, |p| p.contains("nodes are available"));
    s.keys(&["Escape"]);
    s.keys(&["s"]);
    s.wait("the scale form again", 20, |p| p.contains("Database pods"));
    s.keys(&["BSpace"]);
    s.text("3");
    s.keys(&["Enter"]);
    s.wait("the second scale diff", 20, |p| p.contains("review change") && p.contains("ok ✓"));
    s.keys(&["Enter"]);
    s.wait("back to 3 and ready", 60, |p| row_shows(p, "pxc", "tmux1", &["ready", "3/3 pxc"]));

    // `p` pauses (after a question) and resumes.
    s.keys(&["p"]);
    s.wait("the pause question", 10, |p| p.contains("Pause"));
    s.keys(&["y"]);
    s.wait("tmux1 paused", 60, |p| row_shows(p, "pxc", "tmux1", &["paused"]));
    s.keys(&["p"]);
    s.wait("the resume question", 10, |p| p.contains("Resume"));
    s.keys(&["y"]);
    s.wait("tmux1 ready again", 60, |p| row_shows(p, "pxc", "tmux1", &["ready", "3/3 pxc"]));
    s.keys(&["Escape"]);

    // ctrl-d and the typed name delete it.
    s.filter("tmux1");
    s.wait("only tmux1", 10, |p| has_row(p, "pxc", "tmux1") && !has_row(p, "pg", "orders-db"));
    s.keys(&["C-d"]);
    s.wait("the delete dialog", 10, |p| p.contains("Type the cluster name"));
    s.text("tmux1");
    s.keys(&["Enter"]);
    s.wait("the deletion", 20, |p| p.contains("delete tmux1: done") && !has_row(p, "pxc", "tmux1"));
    s.keys(&["Escape"]);
    s.wait("the examples still there", 10, |p| has_row(p, "pxc", "shop-db"));

    // `q` quits with status 0 and gives the terminal back.
    s.keys(&["q"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

#[test]
fn sandbox_console_commands_and_edits_with_diff_and_dry_run() {
    if !tmux_available() {
        return;
    }
    // An "editor" that grows the PXC cluster from 3 to 5 Galera nodes, as a user would in vi.
    let dir = tempfile::tempdir().unwrap();
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/size: 3/size: 5/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let editor_env = format!("EDITOR={}", editor.display());
    let s = Session::sandbox("edit", &["TERM=xterm-256color", &editor_env], "");
    s.wait_examples();

    // `:pg` scopes the list to one kind, `:all` brings the others back, `:backups` opens the backup list.
    s.command("pg");
    s.wait("only PostgreSQL clusters", 10, |p| has_row(p, "pg", "orders-db") && !has_row(p, "pxc", "shop-db"));
    s.command("all");
    s.wait("every kind again", 10, |p| has_row(p, "pg", "orders-db") && has_row(p, "pxc", "shop-db"));
    s.command("backups");
    s.wait("the backup list", 10, |p| p.contains("› backups") || p.contains("│ backups"));
    s.command("pxc");
    s.wait("only the PXC cluster", 10, |p| has_row(p, "pxc", "shop-db") && !has_row(p, "pg", "orders-db"));
    s.command("nope");
    s.wait("an unknown command refused", 10, |p| p.contains("nope"));

    // `E`: the YAML goes through $EDITOR, then the diff and the server's dry run; enter applies.
    s.keys(&["E"]);
    let pane = s.wait("the diff with a passed dry run", 20, |p| p.contains("review change") && p.contains("ok ✓"));
    assert!(pane.contains("-    size: 3") && pane.contains("+    size: 5"), "{pane}");
    s.keys(&["Enter"]);
    s.wait("the change applied", 20, |p| p.contains("update shop-db: done"));

    // `e`: the form shows the new size; set it back to 3, review the diff, apply.
    s.keys(&["e"]);
    s.wait("the edit form", 20, |p| p.contains("Database pods") && p.contains("5"));
    s.keys(&["BSpace"]);
    s.text("3");
    s.keys(&["Enter"]);
    let pane = s.wait("the form's diff", 20, |p| p.contains("review change") && p.contains("ok ✓"));
    assert!(pane.contains("-    size: 5") && pane.contains("+    size: 3"), "{pane}");
    s.keys(&["Enter"]);
    s.wait("the second change applied", 20, |p| p.contains("update shop-db: done") && !p.contains("review change"));

    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

#[test]
fn without_the_engine_the_detail_view_says_nothing_reconciles() {
    if !tmux_available() {
        return;
    }
    let s = Session::sandbox("noengine", &["TERM=xterm-256color"], "--no-engine");
    let pane = s.wait_examples();
    assert!(pane.contains("unknown"), "{pane}");
    s.keys(&["Enter"]);
    s.wait("the detail view", 10, |p| p.contains("no operator is reconciling this cluster"));
    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}
