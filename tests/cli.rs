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
