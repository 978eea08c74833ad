//! Whole-program flows: `dbdeck --sandbox` in a detached tmux session (160x45, xterm-256color), driven with
//! `send-keys` and read with `capture-pane`, each step polled against a deadline.
//!
//! The helpers are meant for more flows: [`Session::sandbox`] starts the console (with extra flags and
//! environment), [`Session::wait`] polls the screen, [`has_row`] finds a cluster in the list, and
//! [`Session::filter`], [`Session::command`] drive the list. Each test gets its own tmux session and sandbox.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/big_stack.rs"]
mod big_stack;
use big_stack::runtime as big_stack_runtime;

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

    /// The pane with its colour escapes (`capture-pane -e`).
    fn pane_with_colours(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-e", "-p", "-t", &self.name]).output().unwrap();
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
    row_in(pane, kind, "default", name)
}

/// The list line of one cluster in namespace `ns`.
fn row_in<'a>(pane: &'a str, kind: &str, ns: &str, name: &str) -> Option<&'a str> {
    pane.lines().find(|l| {
        let words: Vec<&str> =
            l.split(|c: char| c.is_whitespace() || c == '│' || c == '▌').filter(|w| !w.is_empty()).collect();
        words.windows(3).any(|w| w[0] == kind && w[1] == ns && w[2] == name)
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
    s.wait("the pause question", 10, |p| p.contains("Pause") && p.contains("Type tmux1 to confirm"));
    // Pausing stops every pod: `y` alone is a letter of the name, not a yes.
    s.keys(&["y", "Enter"]);
    s.wait("the name asked for", 10, |p| p.contains("type tmux1 exactly"));
    s.keys(&["BSpace"]);
    s.text("tmux1");
    s.keys(&["Enter"]);
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
    s.wait("the deletion", 20, |p| p.contains("delete tmux1: done"));
    s.wait("the row gone", 30, |p| !has_row(p, "pxc", "tmux1"));
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

    // `e` (as in k9s): the YAML goes through $EDITOR, then the diff and the server's dry run; enter applies.
    s.keys(&["e"]);
    let pane = s.wait("the diff with a passed dry run", 20, |p| p.contains("review change") && p.contains("ok ✓"));
    assert!(pane.contains("-    size: 3") && pane.contains("+    size: 5"), "{pane}");
    s.keys(&["Enter"]);
    s.wait("the change applied", 20, |p| p.contains("update shop-db: done"));

    // `E`: the form shows the new size; set it back to 3, review the diff, apply.
    s.keys(&["E"]);
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

impl Session {
    /// The wizard with every default but kind, name and backups (off): `rights` presses of → pick the kind
    /// (0 pxc, 1 ps, 2 pg) and `type_rights` the PS cluster type (0 async, 1 group replication), then name
    /// (and `namespace` instead of default, when given) → sizes → proxy → backups → review → create.
    fn create_with_defaults(&self, rights: usize, type_rights: usize, name: &str, namespace: Option<&str>) {
        self.keys(&["c"]);
        self.wait("the wizard", 10, |p| p.contains("1. Kind"));
        for _ in 0..rights {
            self.keys(&["Right"]);
        }
        if type_rights > 0 {
            self.keys(&["Down"]);
            for _ in 0..type_rights {
                self.keys(&["Right"]);
            }
            self.wait("the cluster type", 10, |p| p.contains("[group-replication]"));
        }
        self.keys(&["Enter"]);
        self.wait("the name step", 10, |p| p.contains("▸ 2. Name"));
        for _ in 0.."cluster1".len() {
            self.keys(&["BSpace"]);
        }
        self.text(name);
        if let Some(ns) = namespace {
            self.keys(&["Tab"]);
            for _ in 0.."default".len() {
                self.keys(&["BSpace"]);
            }
            self.text(ns);
        }
        self.keys(&["Enter"]);
        self.wait("the size step", 10, |p| p.contains("▸ 3. Size"));
        self.keys(&["Enter"]);
        self.wait("the proxy step", 10, |p| p.contains("▸ 4. Proxy"));
        self.keys(&["Enter"]);
        self.wait("the backup step", 10, |p| p.contains("▸ 5. Backups"));
        self.keys(&["Space"]);
        self.keys(&["Enter"]);
        // Enter creates once the API has answered about the names.
        self.wait("the review", 20, |p| {
            p.contains("▸ 6. Review") && p.contains(&format!("name: {name}")) && p.contains("✓ valid")
        });
        self.keys(&["Enter"]);
    }

    /// `s` on the only listed cluster: field number `field` of the scale form (0 = database pods, 1 = proxy pods)
    /// set to `size`, the diff, apply.
    fn scale_to(&self, field: usize, size: &str) {
        self.keys(&["s"]);
        self.wait("the scale form", 20, |p| p.contains("Database pods"));
        for _ in 0..field {
            self.keys(&["Tab"]);
        }
        self.keys(&["BSpace"]);
        self.text(size);
        self.keys(&["Enter"]);
        self.wait("the scale diff", 20, |p| p.contains("review change") && p.contains("ok ✓"));
        self.keys(&["Enter"]);
    }

    /// ctrl-d on the only listed cluster, the typed name, enter; waits for the row (in `ns`) to go.
    fn delete(&self, kind: &str, ns: &str, name: &str) {
        self.keys(&["C-d"]);
        self.wait("the delete dialog", 10, |p| p.contains("Type the cluster name"));
        self.text(name);
        self.keys(&["Enter"]);
        self.wait("the deletion", 30, |p| p.contains(&format!("delete {name}: done")));
        self.wait("the row gone", 60, |p| row_in(p, kind, ns, name).is_none());
    }
}

/// "Done when" asks for every kind: a PS (async replication) and a PG cluster go through the same wizard, are
/// scaled and deleted, and the list shows each step.
#[test]
fn sandbox_console_creates_scales_and_deletes_ps_and_pg_clusters() {
    if !tmux_available() {
        return;
    }
    let s = Session::sandbox("kinds", &["TERM=xterm-256color"], "");
    s.wait_examples();

    // PS with group replication: 3 MySQL pods behind 3 proxy pods (an async PS cluster cannot sit beside the
    // async example ledger-async yet: the engine refuses to share the namespace's Orchestrator ServiceAccount).
    // Group replication needs 3, 5 or 7 members and 5 do not fit 3 nodes, so the proxy is what is scaled here.
    s.create_with_defaults(1, 1, "tmuxps", None);
    s.wait("the PS cluster in the list", 20, |p| has_row(p, "ps/gr", "tmuxps"));
    s.wait("tmuxps ready", 90, |p| row_shows(p, "ps/gr", "tmuxps", &["ready", "3/3 mysql", "3/3"]));
    s.filter("tmuxps");
    s.wait("only tmuxps", 10, |p| has_row(p, "ps/gr", "tmuxps") && !has_row(p, "pxc", "shop-db"));
    s.scale_to(1, "2");
    s.wait("tmuxps with 2 proxy pods", 60, |p| row_shows(p, "ps/gr", "tmuxps", &["ready", "3/3 mysql", "2/2"]));
    s.delete("ps/gr", "default", "tmuxps");
    s.keys(&["Escape"]);
    s.wait("the examples again", 10, |p| has_row(p, "pxc", "shop-db"));

    // PG: 3 instances behind pgBouncer, in a namespace that does not exist yet: the sandbox gets it, the
    // in-process engine (watching every namespace of the sandbox) brings the cluster up, `:ns all` shows it.
    s.create_with_defaults(2, 0, "tmuxpg", Some("team-a"));
    s.wait("the namespace and the cluster created", 20, |p| {
        p.contains("create namespace team-a and PerconaPGCluster tmuxpg: done")
    });
    s.command("ns all");
    let pg = |p: &str, want: &[&str]| {
        row_in(p, "pg", "team-a", "tmuxpg").is_some_and(|l| want.iter().all(|w| l.contains(w)))
    };
    s.wait("tmuxpg ready", 90, |p| pg(p, &["ready", "3/3 instance1"]));
    s.filter("tmuxpg");
    s.wait("only tmuxpg", 10, |p| pg(p, &[]) && !has_row(p, "pxc", "shop-db"));
    s.scale_to(0, "2");
    s.wait("tmuxpg at 2 instances", 60, |p| pg(p, &["ready", "2/2 instance1"]));
    s.delete("pg", "team-a", "tmuxpg");

    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

/// Keys remapped and the theme chosen in the config file take effect in the real program; `t` switches the
/// theme at run time and `--theme PATH` loads a theme file.
#[test]
fn config_file_remaps_keys_and_themes_switch() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dbdeck")).unwrap();
    std::fs::write(dir.path().join("dbdeck/config.toml"), "theme = \"light\"\n[keys]\nfilter = \"f\"\nhelp = \"H\"\n")
        .unwrap();
    let xdg = format!("XDG_CONFIG_HOME={}", dir.path().display());
    let s = Session::sandbox("remap", &["TERM=xterm-256color", &xdg], "--no-engine");
    let pane = s.wait_examples();
    assert!(pane.contains("theme light") && pane.contains("<f> filter"), "{pane}");

    // `f` filters now; `/` no longer does anything in the list.
    s.keys(&["f"]);
    s.text("orders");
    s.keys(&["Enter"]);
    s.wait("the remapped filter", 10, |p| has_row(p, "pg", "orders-db") && !has_row(p, "pxc", "shop-db"));
    s.keys(&["Escape"]);
    s.wait("the list, unfiltered", 10, |p| has_row(p, "pxc", "shop-db"));
    // Had `/` opened the filter line, the `H` after it would be typed there instead of opening the help.
    s.keys(&["/"]);
    s.keys(&["H"]);
    s.wait("help on H", 10, |p| p.contains("keys can be remapped") && p.contains("sort-next"));
    s.keys(&["q"]);

    // `t` cycles the built-in themes at run time.
    s.wait("the list", 10, |p| !p.contains("keys can be remapped"));
    s.keys(&["t"]);
    s.wait("the next theme", 10, |p| p.contains("theme high-contrast") || p.contains("theme dracula"));
    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
    drop(s);

    // `--theme PATH`: a theme file by path (dracula with its own background). Every colour on the real screen,
    // not only in a snapshot, is one of the file's.
    let theme = dir.path().join("mine.toml");
    let dracula = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/dracula.toml")).unwrap();
    let text = dracula.replace("bg = \"#282a36\"", "bg = \"#123456\"");
    assert_ne!(text, dracula);
    std::fs::write(&theme, &text).unwrap();
    let palette: std::collections::BTreeSet<String> = text
        .split('"')
        .filter_map(|w| w.strip_prefix('#').filter(|h| h.len() == 6))
        .map(|h| {
            let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap();
            format!("{};{};{}", c(0), c(2), c(4))
        })
        .collect();
    let args = format!("--no-engine --theme {}", theme.display());
    let s = Session::sandbox("themepath", &["TERM=xterm-256color", &xdg], &args);
    let pane = s.wait_examples();
    assert!(pane.contains("mine.toml"), "the flag wins over the config file: {pane}");
    s.keys(&["Enter"]);
    s.wait("a detail view", 10, |p| p.contains("Topology"));
    let coloured = s.pane_with_colours();
    assert!(coloured.contains("48;2;18;52;86"), "the file's background is drawn");
    let used = rgb_codes(&coloured);
    let foreign: Vec<&String> = used.iter().filter(|c| !palette.contains(*c)).collect();
    assert!(foreign.is_empty(), "colours not from the theme file: {foreign:?}");
    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

/// Every `r;g;b` of the 24-bit colour escapes in a captured pane.
fn rgb_codes(pane: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for part in pane.split("\x1b[").skip(1) {
        let params = part.split('m').next().unwrap_or("");
        let nums: Vec<&str> = params.split(';').collect();
        let mut i = 0;
        while i < nums.len() {
            if (nums[i] == "38" || nums[i] == "48") && nums.get(i + 1) == Some(&"2") && i + 4 < nums.len() {
                out.insert(format!("{};{};{}", nums[i + 2], nums[i + 3], nums[i + 4]));
                i += 5;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The console attached to a separate `dbdeck sandbox` process: stopping that process shows the lost-connection
/// banner, starting it again on the same port and state directory clears it without a key pressed.
#[test]
fn lost_api_connection_shows_a_banner_and_recovers_by_itself() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sandbox = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dbdeck"))
            .args(["sandbox", "--state-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let kubeconfig = dir.path().join("kubeconfig");
    let mut server = sandbox();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "the sandbox wrote no kubeconfig");
        std::thread::sleep(Duration::from_millis(50));
    }
    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let s = Session::start(
        "lost",
        &format!("env TERM=xterm-256color {bin} --kubeconfig {} --no-engine", kubeconfig.display()),
    );
    // A fresh sandbox has no CRDs: the console offers to install them.
    s.wait("the CRD offer", 20, |p| p.contains("CRDs missing"));
    s.keys(&["i"]);
    s.wait("the empty list", 20, |p| p.contains("No database clusters"));

    server.kill().unwrap();
    server.wait().unwrap();
    s.wait("the banner", 30, |p| p.contains("API connection lost"));

    let mut server = sandbox();
    s.wait("the banner gone by itself", 30, |p| {
        !p.contains("API connection lost") && p.contains("No database clusters")
    });
    s.keys(&["q"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
    server.kill().unwrap();
    let _ = server.wait();
}

// ---- the console's engine over the session: operators that start leading later, context switches ----

/// A sandbox with the simulated kubelet and the CRDs, for a console started with `--kubeconfig`.
async fn sandbox_with_crds() -> (dbdeck::sandbox::serve::RunningSandbox, kube::Client) {
    use dbdeck::sandbox::serve::{ServeOptions, start};
    let running = start(ServeOptions { controllers: Some(Default::default()), ..ServeOptions::private() })
        .await
        .expect("sandbox serves");
    let admin = running.client().await.unwrap();
    dbdeck::cmd::crd::apply_all(admin.clone()).await.expect("CRDs install");
    (running, admin)
}

fn pxc_api(client: &kube::Client) -> kube::Api<kube::api::DynamicObject> {
    let ar = kube::api::ApiResource::erase::<dbdeck::api::pxc::PerconaXtraDBCluster>(&());
    kube::Api::namespaced_with(client.clone(), "default", &ar)
}

/// The minimal PXC example under another name.
async fn create_pxc(client: &kube::Client, name: &str) {
    let path = format!("{}/deploy/examples/pxc-minimal.yaml", env!("CARGO_MANIFEST_DIR"));
    let mut cr: kube::api::DynamicObject = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cr.metadata.name = Some(name.to_string());
    cr.metadata.namespace = Some("default".into());
    pxc_api(client).create(&Default::default(), &cr).await.expect("cluster created");
}

/// `status.state` of a cluster, once an engine wrote one.
async fn state_of(client: &kube::Client, name: &str) -> Option<String> {
    let obj = serde_json::to_value(pxc_api(client).get(name).await.expect("cluster readable")).unwrap();
    obj["status"]["state"].as_str().map(String::from)
}

async fn wait_reconciled(client: &kube::Client, name: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while state_of(client, name).await.is_none() {
        assert!(Instant::now() < deadline, "no engine reconciled {name} within {secs}s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nobody writes a state into `name` for `secs` (an engine that runs does so within about a second).
async fn stays_unreconciled(client: &kube::Client, name: &str, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        assert_eq!(state_of(client, name).await, None, "an engine reconciled {name}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Async form of [`Session::wait`], so the sandbox in this process keeps serving meanwhile.
async fn wait_pane(s: &Session, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let pane = s.pane();
        if ok(&pane) {
            return pane;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{pane}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A dbdeck operator starting to lead while the console runs must stop the console's engine (they would fight
/// over the same objects): the notice names the operator and its Lease, a cluster created meanwhile is left
/// alone, and once the Lease is gone the console's engine comes back and reconciles it.
#[test]
fn an_operator_that_starts_leading_later_stops_the_console_engine_until_its_lease_ends() {
    if !tmux_available() {
        return;
    }
    big_stack_runtime().block_on(operator_leads_later());
}

async fn operator_leads_later() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::Namespace;
    let (running, admin) = sandbox_with_crds().await;
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "dbdeck-ops"}})).unwrap();
    kube::Api::<Namespace>::all(admin.clone()).create(&Default::default(), &ns).await.unwrap();
    create_pxc(&admin, "before").await;

    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let kc = running.kubeconfig_path.display().to_string();
    let s = Session::start("leads-later", &format!("env TERM=xterm-256color {bin} --kubeconfig {kc} -n default"));
    wait_pane(&s, "the engine on", 20, |p| p.contains("engine: on (dbdeck-sandbox)")).await;
    wait_reconciled(&admin, "before", 20).await;

    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(k8s_openapi::jiff::Timestamp::now());
    let mut lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": dbdeck::headless::lease::DEFAULT_LEASE_NAME},
        "spec": {"holderIdentity": "operator-late-1", "leaseDurationSeconds": 3600},
    }))
    .unwrap();
    lease.spec.as_mut().unwrap().renew_time = Some(now);
    let leases: kube::Api<Lease> = kube::Api::namespaced(admin.clone(), "dbdeck-ops");
    leases.create(&Default::default(), &lease).await.unwrap();
    let check = dbdeck::console::engine_life::LEASE_CHECK.as_secs();
    let pane = wait_pane(&s, "the engine-off notice", check + 5, |p| p.contains("engine off here")).await;
    assert!(pane.contains("operator-late-1") && pane.contains("dbdeck-ops/dbdeck-engine-leader"), "{pane}");
    assert!(pane.contains("engine: off (operator leads)"), "{pane}");

    create_pxc(&admin, "during").await;
    stays_unreconciled(&admin, "during", 3).await;
    // The notice stays while the operator leads, whatever else the status line says.
    s.filter("during");
    let pane = wait_pane(&s, "the filter", 5, |p| p.contains("/during")).await;
    assert!(pane.contains("engine off here"), "{pane}");

    leases.delete(dbdeck::headless::lease::DEFAULT_LEASE_NAME, &Default::default()).await.unwrap();
    wait_pane(&s, "the engine back", check + 5, |p| p.contains("engine on again") && !p.contains("engine off here"))
        .await;
    wait_reconciled(&admin, "during", 20).await;
    drop(s);
    running.shutdown().await;
}

/// Two sandboxes as contexts `a` and `b` of one kubeconfig written into `dir`.
fn two_context_kubeconfig(dir: &std::path::Path, a: &std::path::Path, b: &std::path::Path) -> std::path::PathBuf {
    let mut merged = serde_yaml::Mapping::new();
    for (ctx, path) in [("a", a), ("b", b)] {
        let mut doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        doc["clusters"][0]["name"] = ctx.into();
        doc["users"][0]["name"] = ctx.into();
        doc["contexts"][0]["name"] = ctx.into();
        doc["contexts"][0]["context"]["cluster"] = ctx.into();
        doc["contexts"][0]["context"]["user"] = ctx.into();
        for list in ["clusters", "users", "contexts"] {
            let entry = doc[list][0].clone();
            let key = serde_yaml::Value::from(list);
            match merged.get_mut(&key) {
                Some(serde_yaml::Value::Sequence(items)) => items.push(entry),
                _ => {
                    merged.insert(key, serde_yaml::Value::Sequence(vec![entry]));
                }
            }
        }
    }
    merged.insert("apiVersion".into(), "v1".into());
    merged.insert("kind".into(), "Config".into());
    merged.insert("current-context".into(), "a".into());
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&merged).unwrap()).unwrap();
    path
}

/// `:ctx b` moves the console's engine along: the header names the new context, a cluster created there is
/// reconciled, and one created in the context left behind is not.
#[test]
fn switching_context_moves_the_console_engine_to_the_new_context() {
    if !tmux_available() {
        return;
    }
    big_stack_runtime().block_on(context_switch_moves_engine());
}

async fn context_switch_moves_engine() {
    let (a, admin_a) = sandbox_with_crds().await;
    let (b, admin_b) = sandbox_with_crds().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = two_context_kubeconfig(dir.path(), &a.kubeconfig_path, &b.kubeconfig_path);
    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let s = Session::start(
        "ctx-engine",
        &format!("env TERM=xterm-256color {bin} --kubeconfig {} -n default", kc.display()),
    );
    wait_pane(&s, "the engine on a", 20, |p| p.contains("engine: on (a)")).await;

    s.command("ctx b");
    wait_pane(&s, "the switch to b", 10, |p| p.contains(" ctx b ")).await;
    create_pxc(&admin_a, "left-behind").await;
    create_pxc(&admin_b, "followed").await;
    wait_reconciled(&admin_b, "followed", 20).await;
    stays_unreconciled(&admin_a, "left-behind", 2).await;
    let pane = s.pane();
    assert!(pane.contains("engine: on (b)") && !pane.contains("engine: on (a)"), "{pane}");
    drop(s);
    a.shutdown().await;
    b.shutdown().await;
}

/// An executable shell script in `dir`.
fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// After `$EDITOR` the whole screen is drawn again, whatever the editor left on the terminal (its own
/// alternate screen, a cleared screen, text); ctrl-L clears what something else wrote over the console. An
/// invalid edit re-opens the editor on the user's text with the error on top, as `kubectl edit` does.
#[test]
fn editor_return_redraws_and_an_invalid_edit_reopens_with_the_error() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("second-open.yaml");
    // First open: draws like a full-screen editor, leaves junk behind, and makes the size invalid (Galera
    // needs an odd size). Second open: keeps what it was given (the header and the user's text) and fixes
    // the size. A late write after the editor exits stands for anything that scribbles on the terminal.
    let body = format!(
        "if grep -q '^# dbdeck:' \"$1\"; then cp \"$1\" {seen}; sed -i 's/size: 4/size: 5/' \"$1\"; \
         (sleep 3; printf 'STRAY-SCRIBBLE') & exit 0; fi\n\
         printf '\\033[?1049h\\033[2J\\033[HEDITOR-JUNK-ON-SCREEN\\n'\n\
         sed -i 's/size: 3/size: 4/' \"$1\"\n\
         printf '\\033[?1049l'\n",
        seen = seen.display()
    );
    let editor = script(dir.path(), "editor.sh", &body);
    let editor_env = format!("EDITOR={}", editor.display());
    let s = Session::sandbox("editor", &["TERM=xterm-256color", &editor_env], "--no-engine");
    s.wait_examples();
    s.filter("^shop-db$");
    s.wait("only shop-db", 10, |p| has_row(p, "pxc", "shop-db") && !has_row(p, "pg", "orders-db"));
    s.keys(&["e"]);
    let pane = s.wait("the diff after the second open", 30, |p| p.contains("review change") && p.contains("ok ✓"));
    assert!(pane.contains("+    size: 5"), "{pane}");
    assert!(!pane.contains("EDITOR-JUNK"), "the screen was drawn again after the editor: {pane}");
    assert!(pane.contains("<enter>") && pane.contains("dbdeck"), "header and hint bar are back: {pane}");
    let second = std::fs::read_to_string(&seen).expect("the editor was opened a second time");
    assert!(second.starts_with("# dbdeck: this edit was NOT applied"), "{second}");
    assert!(second.contains("# error:") && second.contains("odd"), "the reason on top: {second}");
    assert!(second.contains("size: 4"), "the user's own edit is kept, not thrown away: {second}");

    s.wait("the stray write", 10, |p| p.contains("STRAY-SCRIBBLE"));
    s.keys(&["C-l"]);
    let pane = s.wait("ctrl-L redraws", 10, |p| !p.contains("STRAY-SCRIBBLE") && p.contains("review change"));
    assert!(pane.contains("+    size: 5"), "{pane}");
    s.keys(&["Escape"]);
    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

/// The wizard takes spaces in text fields (a cron schedule), and checks its names with the API: a cluster of
/// that name exists already, the StorageClass and the S3 credentials Secret do not.
#[test]
fn wizard_takes_a_cron_schedule_and_checks_names_with_the_api() {
    if !tmux_available() {
        return;
    }
    let s = Session::sandbox("wizard-api", &["TERM=xterm-256color"], "--no-engine");
    s.wait_examples();
    s.keys(&["c"]);
    s.wait("the wizard", 10, |p| p.contains("1. Kind"));
    s.keys(&["Enter"]);
    s.wait("the name step", 10, |p| p.contains("▸ 2. Name"));
    for _ in 0.."cluster1".len() {
        s.keys(&["BSpace"]);
    }
    s.text("shop-db");
    s.keys(&["Enter"]);
    s.wait("the size step", 10, |p| p.contains("▸ 3. Size"));
    // storage class: the fifth field
    s.keys(&["Tab", "Tab", "Tab", "Tab"]);
    s.text("no-such-class");
    s.keys(&["Enter"]);
    s.wait("the proxy step", 10, |p| p.contains("▸ 4. Proxy"));
    s.keys(&["C-p"]);
    s.wait("the class refused on its field", 20, |p| {
        p.contains("▸ 3. Size") && p.contains("StorageClass no-such-class does not exist")
    });
    s.keys(&["Tab", "Tab", "Tab", "Tab"]);
    for _ in 0.."no-such-class".len() {
        s.keys(&["BSpace"]);
    }
    s.keys(&["Enter"]);
    s.wait("the proxy step again", 10, |p| p.contains("▸ 4. Proxy"));
    s.keys(&["Enter"]);
    s.wait("the backup step", 10, |p| p.contains("▸ 5. Backups") && p.contains("Schedule (cron)"));
    // backup on, s3: storage name, type, bucket, region, credentials, schedule
    s.keys(&["Tab", "Tab", "Tab"]);
    s.text("my-bucket");
    s.keys(&["Tab", "Tab"]);
    s.text("no-such-secret");
    s.keys(&["Tab"]);
    for _ in 0.."0 0 * * *".len() {
        s.keys(&["BSpace"]);
    }
    s.text("0 3 * * *");
    s.wait("the schedule typed with its spaces", 10, |p| p.contains("0 3 * * *"));
    s.keys(&["Enter"]);
    let pane = s.wait("the review with what the API said", 20, |p| {
        p.contains("▸ 6. Review")
            && p.contains("Secret no-such-secret does not exist")
            && p.contains("PerconaXtraDBCluster named shop-db already exists")
    });
    assert!(pane.contains("✓ 2. Name & version (1)"), "the step with the name says it has a problem: {pane}");
    for _ in 0..40 {
        s.keys(&["Down"]);
    }
    s.wait("the schedule in the YAML", 10, |p| p.contains("schedule: 0 3 * * *"));
    s.keys(&["Enter"]);
    s.wait("creation refused", 10, |p| p.contains("cannot create yet"));
    s.keys(&["C-c"]);
    s.wait("dbdeck to exit", 15, |p| p.contains("DBDECK_EXIT=0"));
}

/// `:backups` acts on backups: its hint bar has the backup keys and no cluster keys, `s` does not open the
/// cluster's scale form, ctrl-d deletes the backup after its name is typed, esc goes back to the list.
#[test]
fn backup_list_keys_act_on_the_backup_and_esc_returns() {
    if !tmux_available() {
        return;
    }
    big_stack_runtime().block_on(backup_list_keys());
}

async fn backup_list_keys() {
    let (running, admin) = sandbox_with_crds().await;
    create_pxc(&admin, "bk-db").await;
    let ar = kube::api::ApiResource::erase::<dbdeck::api::pxc::PerconaXtraDBClusterBackup>(&());
    let backups: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(admin.clone(), "default", &ar);
    let backup: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": "bk-db-nightly", "namespace": "default"},
        "spec": {"pxcCluster": "bk-db", "storageName": "s3-us-west"},
    }))
    .unwrap();
    backups.create(&Default::default(), &backup).await.unwrap();

    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let kc = running.kubeconfig_path.display().to_string();
    let s =
        Session::start("backups", &format!("env TERM=xterm-256color {bin} --kubeconfig {kc} -n default --no-engine"));
    wait_pane(&s, "the cluster", 20, |p| has_row(p, "pxc", "bk-db")).await;
    s.command("backups");
    let pane = wait_pane(&s, "the backup row", 10, |p| p.contains("bk-db-nightly")).await;
    assert!(pane.contains("delete backup") && pane.contains("describe"), "{pane}");
    assert!(!pane.contains("<s> scale") && !pane.contains("<c> create"), "no cluster keys: {pane}");
    s.keys(&["s"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!s.pane().contains("Database pods"), "no scale form");
    s.keys(&["C-d"]);
    let pane = wait_pane(&s, "the backup delete dialog", 10, |p| p.contains("Type the backup name")).await;
    assert!(pane.contains("bk-db-nightly") && pane.contains("Data: kept"), "{pane}");
    s.text("bk-db-nightly");
    s.keys(&["Enter"]);
    wait_pane(&s, "the backup deleted", 20, |p| p.contains("delete backup bk-db-nightly: done")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while backups.get_opt("bk-db-nightly").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the backup object is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pxc_api(&admin).get_opt("bk-db").await.unwrap().is_some(), "the cluster stays");
    s.keys(&["Escape"]);
    wait_pane(&s, "the cluster list again", 10, |p| has_row(p, "pxc", "bk-db") && p.contains("clusters(all)")).await;
    drop(s);
    running.shutdown().await;
}

/// `:ns` alone picks from the API's namespaces; `:ns` of one that does not exist is refused; `:ctx` lands in
/// the new context's own namespace.
#[test]
fn namespace_picker_unknown_namespace_and_context_namespace() {
    if !tmux_available() {
        return;
    }
    big_stack_runtime().block_on(namespace_and_context());
}

async fn namespace_and_context() {
    use k8s_openapi::api::core::v1::Namespace;
    let (a, admin_a) = sandbox_with_crds().await;
    let (b, admin_b) = sandbox_with_crds().await;
    for (admin, ns) in [(&admin_a, "team-x"), (&admin_b, "team-b")] {
        let obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
        kube::Api::<Namespace>::all(admin.clone()).create(&Default::default(), &obj).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let kc = two_context_kubeconfig(dir.path(), &a.kubeconfig_path, &b.kubeconfig_path);
    // Context b's own namespace is team-b.
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&kc).unwrap()).unwrap();
    doc["contexts"][1]["context"]["namespace"] = "team-b".into();
    std::fs::write(&kc, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let bin = env!("CARGO_BIN_EXE_dbdeck");
    let s = Session::start(
        "ns-ctx",
        &format!("env TERM=xterm-256color {bin} --kubeconfig {} -n default --no-engine", kc.display()),
    );
    wait_pane(&s, "the console on a", 20, |p| p.contains(" ctx a ") && p.contains("ns default")).await;

    s.command("ns does-not-exist");
    wait_pane(&s, "the refusal", 10, |p| p.contains("namespace does-not-exist does not exist")).await;
    assert!(s.pane().contains("ns default"), "still in default");

    s.command("ns");
    wait_pane(&s, "the picker", 10, |p| p.contains("choose a namespace") && p.contains("team-x")).await;
    s.text("team");
    s.keys(&["Enter"]);
    wait_pane(&s, "namespace team-x", 10, |p| p.contains("ns team-x") && !p.contains("choose a namespace")).await;

    s.command("ctx");
    wait_pane(&s, "the context picker", 10, |p| p.contains("choose a context")).await;
    s.text("b");
    s.keys(&["Enter"]);
    wait_pane(&s, "context b in its own namespace", 15, |p| p.contains(" ctx b ") && p.contains("ns team-b")).await;
    drop(s);
    a.shutdown().await;
    b.shutdown().await;
}
