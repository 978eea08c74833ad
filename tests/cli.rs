//! The `dbdeck` binary as a user runs it: `validate`, `crd`, and bare `dbdeck` without a cluster.

use std::io::Write;
use std::process::{Command, Stdio};

fn dbdeck(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dbdeck");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn examples() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_example_validates_clean() {
    let files = examples();
    assert!(files.len() >= 12, "expected the examples of three families, found {files:?}");
    for f in &files {
        let (code, out, err) = dbdeck(&["validate", "-f", f.to_str().unwrap()], None);
        assert_eq!(code, 0, "{} should validate clean:\n{out}{err}", f.display());
        assert!(out.contains("no problems found"), "{out}");
    }
}

#[test]
fn malformed_yaml_is_reported_not_panicked() {
    let (code, out, err) = dbdeck(&["validate", "-f", "-"], Some("apiVersion: pxc.percona.com/v1\nkind: [\n"));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("<stdin> (document 1): malformed YAML"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_kind_names_the_kinds_we_know() {
    let (code, out, _) =
        dbdeck(&["validate", "-f", "-"], Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"));
    assert_eq!(code, 1);
    assert!(out.contains("ConfigMap/x: unknown kind ConfigMap in v1"), "{out}");
    assert!(out.contains("PerconaXtraDBCluster (pxc.percona.com/v1)"), "{out}");
}

#[test]
fn missing_type_meta_is_reported() {
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some("metadata:\n  name: x\nspec: {}\n"));
    assert_eq!(code, 1);
    assert!(out.contains("apiVersion and kind are required"), "{out}");
}

#[test]
fn wrong_type_gives_field_path() {
    let doc =
        "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata:\n  name: c1\nspec:\n  crVersion: [1]\n";
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(doc));
    assert_eq!(code, 1);
    assert!(out.contains("PerconaXtraDBCluster/c1: spec.crVersion: invalid type"), "{out}");
}

#[test]
fn documents_are_counted_per_file_and_empty_documents_skipped() {
    let doc = "---\n# only a comment\n---\napiVersion: v1\nkind: Nope\n---\n";
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(doc));
    assert_eq!(code, 1);
    assert!(out.contains("<stdin> (document 1) Nope/(no name)"), "{out}");
}

#[test]
fn unreadable_file_is_a_finding() {
    let (code, out, _) = dbdeck(&["validate", "-f", "/nonexistent/cr.yaml"], None);
    assert_eq!(code, 1);
    assert!(out.contains("/nonexistent/cr.yaml: cannot read"), "{out}");
}

#[test]
fn json_report_is_machine_readable() {
    let (code, out, _) = dbdeck(&["validate", "-o", "json", "-f", "-"], Some("apiVersion: v1\nkind: Nope\n"));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(v["documents"], 1);
    assert_eq!(v["findings"][0]["document"], 1);
    assert_eq!(v["findings"][0]["file"], "<stdin>");
}

#[test]
fn a_kind_list_is_expanded() {
    let doc = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Nope\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Nope\n  metadata: {name: b}\n";
    let (_, out, _) = dbdeck(&["validate", "-o", "json", "-f", "-"], Some(doc));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["documents"], 2);
    assert_eq!(v["findings"][1]["object"], "Nope/b");
}

#[test]
fn crd_prints_nine_definitions() {
    let (code, out, _) = dbdeck(&["crd"], None);
    assert_eq!(code, 0);
    let docs: Vec<serde_yaml::Value> =
        serde_yaml::Deserializer::from_str(&out).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect();
    assert_eq!(docs.len(), 9);
    for d in &docs {
        assert_eq!(d["kind"].as_str(), Some("CustomResourceDefinition"));
    }
    let (code, out, _) = dbdeck(&["crd", "-o", "json"], None);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 9);
}

#[test]
fn crd_apply_without_cluster_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (code, _, err) = dbdeck(&["crd", "--apply", "--kubeconfig", missing.to_str().unwrap()], None);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read kubeconfig"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bare_dbdeck_without_a_kubeconfig_says_so_in_one_sentence() {
    // Bare `dbdeck` opens the console; without a cluster to talk to it fails before touching the terminal.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (code, out, err) = dbdeck(&["--kubeconfig", missing.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("dbdeck: cannot read kubeconfig"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn a_misspelt_field_is_reported_as_unknown() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/ps-minimal.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["spec"]["mysql"]["sise"] = serde_yaml::Value::from(3);
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(&serde_yaml::to_string(&doc).unwrap()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("spec.mysql.sise: unknown field"), "{out}");
}

#[test]
fn an_old_versioned_pxc_api_version_is_named_and_the_rest_still_checked() {
    let doc = "apiVersion: pxc.percona.com/v1-12-0\nkind: PerconaXtraDBCluster\nmetadata:\n  name: c1\nspec:\n  pxc:\n    size: 4\n";
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(doc));
    assert_eq!(code, 1);
    assert!(out.contains("apiVersion: pxc.percona.com/v1-12-0 is an old versioned alias"), "{out}");
    assert!(out.contains("spec.pxc.size"), "{out}");
}

#[test]
fn an_empty_file_is_a_failure_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let (code, out, _) = dbdeck(&["validate", "-f", empty.to_str().unwrap()], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("no objects in {}", empty.display())), "{out}");
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some("# nothing but a comment\n---\n"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no objects in <stdin>"), "{out}");
}

#[test]
fn yaml_merge_keys_are_applied_as_kubectl_does() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/ps-minimal.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    // The HAProxy pods take the MySQL section's image pull policy and labels through a merge key.
    let text = text.replacen("  mysql:\n", "  mysql: &mysql\n    imagePullPolicy: IfNotPresent\n", 1).replacen(
        "    haproxy:\n      enabled: true\n",
        "    haproxy:\n      <<: *mysql\n      enabled: true\n",
        1,
    );
    assert!(text.contains("<<: *mysql"), "{text}");
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(&text));
    assert!(!out.contains("<<"), "a merge key is no unknown field:\n{out}");
    // What the merge brings in is checked like anything written there: HAProxy has no clusterType.
    assert!(out.contains("spec.proxy.haproxy.clusterType: unknown field"), "{out}");
    assert_eq!(code, 1, "{out}");
    let merged_only_known = text.replacen("  mysql: &mysql\n    imagePullPolicy: IfNotPresent\n", "  mysql:\n", 1);
    let merged_only_known = merged_only_known.replacen(
        "  proxy:\n    haproxy:\n      <<: *mysql\n",
        "  proxy:\n    haproxy:\n      <<: {imagePullPolicy: IfNotPresent, size: 3}\n",
        1,
    );
    let (code, out, _) = dbdeck(&["validate", "-f", "-"], Some(&merged_only_known));
    assert_eq!(code, 0, "{out}\n{merged_only_known}");
}

#[test]
fn absurd_nesting_is_refused_at_once_and_ordinary_flow_style_is_read() {
    let depth = 100_000;
    let doc = format!("apiVersion: v1\nkind: Nope\nspec: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let (code, out, err) = dbdeck(&["validate", "-f", "-"], Some(&doc));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("nests brackets more than 128 levels deep (line 3)"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
    // Brackets in quoted strings, comments and block scalars are text, not nesting.
    let text = format!(
        "apiVersion: v1\nkind: Nope\nmetadata: {{name: \"{0}\"}}  # {0}\ndata:\n  my.cnf: |\n    {0}\n    [mysqld]\n",
        "[".repeat(300)
    );
    let (_, out, _) = dbdeck(&["validate", "-f", "-"], Some(&text));
    assert!(!out.contains("levels deep"), "{out}");
    assert!(out.contains("unknown kind Nope"), "{out}");
}

/// Runs the binary with its standard output into a reader that stops after `lines` lines and closes.
fn dbdeck_into_head(args: &[&str], lines: usize) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dbdeck");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    for _ in 0..lines {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
    }
    drop(reader);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_reader_that_closes_early_ends_the_command_quietly() {
    for args in [&["crd"][..], &["crd", "-o", "json"], &["--help"], &["status", "--help"]] {
        let (code, err) = dbdeck_into_head(args, 1);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(matches!(code, Some(0) | Some(141)), "{args:?}: exit {code:?}, {err}");
    }
    // A long validate report too.
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.yaml");
    std::fs::write(&many, "apiVersion: v1\nkind: Nope\n---\n".repeat(20_000)).unwrap();
    let (code, err) = dbdeck_into_head(&["validate", "-f", many.to_str().unwrap()], 1);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, Some(141), "{err}");
}

#[test]
fn sandbox_ignores_an_exported_kubeconfig_and_refuses_an_explicit_one() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["--sandbox", "crd", "--apply"])
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("serverside-applied"));
    assert!(!err.contains("cannot be used with"), "{err}");
    for args in [
        &["--sandbox", "--kubeconfig", kc.to_str().unwrap(), "crd"][..],
        &["--sandbox", "status", "--kubeconfig", kc.to_str().unwrap()],
    ] {
        let (code, _, err) = dbdeck(args, None);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("'--sandbox' cannot be used with '--kubeconfig"), "{args:?}: {err}");
    }
}

#[test]
fn sub_commands_offer_only_the_flags_that_apply_to_them() {
    let (code, help, _) = dbdeck(&["sandbox", "--help"], None);
    assert_eq!(code, 0);
    for absent in ["--sandbox", "--all-namespaces", "-A,", "--namespace"] {
        assert!(!help.contains(absent), "`sandbox --help` offers {absent}:\n{help}");
    }
    let (_, help, _) = dbdeck(&["validate", "--help"], None);
    assert!(!help.contains("--kubeconfig") && !help.contains("--all-namespaces"), "{help}");
    let (_, help, _) = dbdeck(&["status", "--help"], None);
    for present in ["--kubeconfig", "--all-namespaces", "--sandbox", "--request-timeout", "--timeout", "wide"] {
        assert!(help.contains(present), "`status --help` lacks {present}:\n{help}");
    }
    let (_, help, _) = dbdeck(&["--help"], None);
    assert!(help.contains("--allow-loglevel-changes") && help.contains("--loglevel-token-file"), "{help}");
}

#[test]
fn a_refused_fault_is_one_sentence_naming_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut server = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--state-dir", state.to_str().unwrap()])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dbdeck sandbox");
    // The server prints its address once it listens.
    let mut first = String::new();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut lines, &mut first).unwrap();
    assert!(first.contains("serving the Kubernetes API"), "{first}");
    let (code, out, err) =
        dbdeck(&["sandbox", "--state-dir", state.to_str().unwrap(), "fault", "node", "no-such-node", "notready"], None);
    let _ = server.kill();
    let _ = server.wait();
    drop(lines);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("did not accept notready on node no-such-node"), "{err}");
    assert!(err.contains("not found (HTTP 404 NotFound)"), "{err}");
    assert!(!err.contains("Status {") && !err.contains("ApiError"), "a sentence, not a struct: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
