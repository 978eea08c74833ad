//! kubectl 1.32 as a real client of `dbdeck sandbox` over HTTPS: discovery, CRDs, apply (client- and
//! server-side), get with output formats and selectors, watch, the three patch types, delete with finalizers,
//! restart with a state directory, and 401 without the token.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct SandboxProc {
    child: Child,
    kubeconfig: PathBuf,
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(state: &Path) -> SandboxProc {
    let kubeconfig = state.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dbdeck sandbox");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "sandbox did not report its kubeconfig");
        match lines.next() {
            Some(Ok(l)) if l.starts_with("kubeconfig: ") => break,
            Some(Ok(_)) => continue,
            _ => panic!("sandbox exited before it was ready"),
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    SandboxProc { child, kubeconfig }
}

fn have_kubectl() -> bool {
    Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success())
}

fn kubectl(kc: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(kc).args(args).output().expect("run kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kubectl_ok(kc: &Path, args: &[&str]) -> String {
    let (ok, out, err) = kubectl(kc, args);
    assert!(ok, "kubectl {args:?} failed:\nstdout: {out}\nstderr: {err}");
    out
}

fn kubectl_stdin(kc: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kc)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (o, e) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "kubectl {args:?} failed:\nstdout: {o}\nstderr: {e}");
    o
}

fn crds_yaml() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dbdeck")).arg("crd").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples").join(name).display().to_string()
}

#[test]
fn kubectl_drives_the_sandbox() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; .ci/test.sh installs it — skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    let kc = sb.kubeconfig.clone();

    // Discovery.
    let out = kubectl_ok(&kc, &["api-resources"]);
    for needle in ["configmaps", "statefulsets", "sts", "persistentvolumeclaims", "pvc", "customresourcedefinitions"] {
        assert!(out.contains(needle), "api-resources lacks {needle}:\n{out}");
    }
    let ver = kubectl_ok(&kc, &["version", "-o", "json"]);
    assert!(ver.contains("serverVersion"), "{ver}");

    // CRDs from `dbdeck crd`, then Established.
    kubectl_stdin(&kc, &["apply", "-f", "-"], &crds_yaml());
    kubectl_ok(&kc, &["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
    let out = kubectl_ok(&kc, &["api-resources", "--api-group=pxc.percona.com"]);
    assert!(out.contains("pxc") && out.contains("PerconaXtraDBCluster"), "{out}");

    // Client-side and server-side apply of example CRs.
    kubectl_ok(&kc, &["apply", "-f", &example("pxc-minimal.yaml")]);
    kubectl_ok(&kc, &["apply", "--server-side", "-f", &example("ps-minimal.yaml")]);
    kubectl_ok(&kc, &["apply", "--server-side", "-f", &example("pg-minimal.yaml")]);
    let pxc: serde_json::Value = serde_json::from_str(&kubectl_ok(&kc, &["get", "pxc", "-o", "json"])).unwrap();
    assert_eq!(pxc["items"].as_array().map(|a| a.len()), Some(1), "{pxc}");
    let name = pxc["items"][0]["metadata"]["name"].as_str().unwrap().to_string();
    let yaml = kubectl_ok(&kc, &["get", "pxc", &name, "-o", "yaml"]);
    assert!(yaml.contains("kind: PerconaXtraDBCluster"), "{yaml}");
    // A second client-side apply of the same file is a clean no-op patch.
    let again = kubectl_ok(&kc, &["apply", "-f", &example("pxc-minimal.yaml")]);
    assert!(again.contains("unchanged"), "{again}");

    // Label selectors and short names on built-in kinds.
    kubectl_ok(&kc, &["create", "configmap", "a", "--from-literal=k=v"]);
    kubectl_ok(&kc, &["create", "configmap", "b", "--from-literal=k=w"]);
    kubectl_ok(&kc, &["label", "cm", "a", "tier=db"]);
    let names = kubectl_ok(&kc, &["get", "cm", "-l", "tier=db", "-o", "name"]);
    assert_eq!(names.trim(), "configmap/a");
    let names = kubectl_ok(&kc, &["get", "cm", "-l", "tier!=db", "-o", "name"]);
    assert!(names.contains("configmap/b") && !names.contains("configmap/a"), "{names}");

    // Patches: merge, json, strategic.
    kubectl_ok(&kc, &["patch", "cm", "a", "--type", "merge", "-p", r#"{"data":{"m":"1"}}"#]);
    kubectl_ok(&kc, &["patch", "cm", "a", "--type", "json", "-p", r#"[{"op":"add","path":"/data/j","value":"2"}]"#]);
    kubectl_ok(&kc, &["patch", "cm", "a", "--type", "strategic", "-p", r#"{"data":{"s":"3"}}"#]);
    let a: serde_json::Value = serde_json::from_str(&kubectl_ok(&kc, &["get", "cm", "a", "-o", "json"])).unwrap();
    assert_eq!(a["data"], serde_json::json!({"k": "v", "m": "1", "j": "2", "s": "3"}));
    let (ok, _, err) = kubectl(
        &kc,
        &["patch", "cm", "a", "--type", "json", "-p", r#"[{"op":"test","path":"/data/k","value":"nope"}]"#],
    );
    assert!(!ok && (err.contains("invalid") || err.contains("test")), "{err}");
    kubectl_ok(&kc, &["patch", "pxc", &name, "--type", "merge", "-p", r#"{"spec":{"pause":true}}"#]);

    // get -w sees a change.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["get", "cm", "b", "-w", "-o", "jsonpath={.data.k}{\"\\n\"}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "w");
    kubectl_ok(&kc, &["patch", "cm", "b", "--type", "merge", "-p", r#"{"data":{"k":"changed"}}"#]);
    assert_eq!(lines.next().unwrap().unwrap(), "changed");
    let _ = watch.kill();
    let _ = watch.wait();

    // Delete without and with a finalizer.
    kubectl_ok(&kc, &["delete", "cm", "b"]);
    let (ok, _, err) = kubectl(&kc, &["get", "cm", "b"]);
    assert!(!ok && err.contains("NotFound"), "{err}");
    kubectl_ok(
        &kc,
        &["patch", "cm", "a", "--type", "merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#],
    );
    kubectl_ok(&kc, &["delete", "cm", "a", "--wait=false"]);
    let a: serde_json::Value = serde_json::from_str(&kubectl_ok(&kc, &["get", "cm", "a", "-o", "json"])).unwrap();
    assert!(a["metadata"]["deletionTimestamp"].is_string(), "{a}");
    kubectl_ok(
        &kc,
        &["patch", "cm", "a", "--type", "json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#],
    );
    let (ok, _, _) = kubectl(&kc, &["get", "cm", "a"]);
    assert!(!ok, "cm a should be gone once its finalizer is removed");
}

#[test]
fn state_dir_survives_restart_and_token_is_required() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let sb = start_sandbox(dir.path());
        kubectl_ok(&sb.kubeconfig, &["create", "configmap", "kept", "--from-literal=x=1"]);
    }
    let sb = start_sandbox(dir.path());
    let out = kubectl_ok(&sb.kubeconfig, &["get", "cm", "kept", "-o", "jsonpath={.data.x}"]);
    assert_eq!(out, "1");

    // The same kubeconfig with a wrong token is refused (with no user at all kubectl would prompt for one).
    let text = std::fs::read_to_string(&sb.kubeconfig).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["users"][0]["user"] = serde_yaml::from_str("{token: not-the-token}").unwrap();
    let anon = dir.path().join("anon-kubeconfig");
    std::fs::write(&anon, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let (ok, _, err) = kubectl(&anon, &["get", "cm", "--request-timeout=10s"]);
    assert!(!ok, "a request without the token must fail");
    assert!(err.contains("Unauthorized") || err.contains("logged in"), "{err}");
}

#[test]
fn dbdeck_crd_apply_installs_nine_established_crds() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["crd", "--apply", "--kubeconfig"])
        .arg(&sb.kubeconfig)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("serverside-applied").count(), 9, "{stdout}");
    // Applying again is a no-op that still succeeds (same field manager, same content).
    let again = Command::new(env!("CARGO_BIN_EXE_dbdeck"))
        .args(["crd", "--apply", "--kubeconfig"])
        .arg(&sb.kubeconfig)
        .output()
        .unwrap();
    assert!(again.status.success());
    let names = kubectl_ok(&sb.kubeconfig, &["get", "crd", "-o", "name"]);
    assert_eq!(names.lines().count(), 9, "{names}");
    let established = kubectl_ok(
        &sb.kubeconfig,
        &[
            "get",
            "crd",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}",
        ],
    );
    assert_eq!(established.lines().filter(|l| *l == "True").count(), 9, "{established}");
}

#[test]
fn dbdeck_sandbox_attach_binds_a_pod_port() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    kubectl_ok(&sb.kubeconfig, &["run", "db-0", "--image=percona/percona-server:8.4"]);
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = local.local_addr().unwrap().to_string();
    let attach = |pod: &str| {
        Command::new(env!("CARGO_BIN_EXE_dbdeck"))
            .args(["sandbox", "--state-dir"])
            .arg(dir.path())
            .args(["attach", pod, &target])
            .output()
            .unwrap()
    };
    let out = attach("default/db-0:3306");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = kubectl_ok(&sb.kubeconfig, &["get", "--raw", "/_sandbox/attach"]);
    assert!(listed.contains("db-0") && listed.contains(&target), "{listed}");
    // A malformed pod argument is one clear sentence, not a backtrace.
    let bad = attach("db-0");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.starts_with("dbdeck: \"db-0\": expected [NAMESPACE/]POD:PORT"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// What a user reaches for next after `get`: `logs` of a failed Job (the simulated kubelet's account of it),
/// `port-forward` (refused with the reason, not a puzzle), and a Secret written with `stringData`.
#[test]
fn kubectl_logs_port_forward_and_string_data() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    let kc = &sb.kubeconfig;
    kubectl_stdin(
        kc,
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: bad-backup}
spec:
  backoffLimit: 0
  template:
    metadata: {annotations: {sandbox.dbdeck.io/fail: "true"}}
    spec:
      restartPolicy: Never
      containers: [{name: xtrabackup, image: percona/percona-xtrabackup:8.4.0-5.1}]
---
apiVersion: v1
kind: Secret
metadata: {name: shop-db-secrets}
stringData: {root: hunter2}
"#,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let (ok, out, err) = kubectl(kc, &["logs", "job/bad-backup"]);
        if ok && out.contains("exit code 1") {
            break out;
        }
        assert!(Instant::now() < deadline, "no log of the failed Job: {out} {err}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(log.contains("simulated") && log.contains("sandbox.dbdeck.io/fail"), "{log}");

    kubectl_ok(kc, &["run", "web", "--image=nginx"]);
    kubectl_ok(kc, &["wait", "--for=condition=Ready", "pod/web", "--timeout=20s"]);
    let (ok, _, err) = kubectl(kc, &["port-forward", "pod/web", "18080:80"]);
    assert!(!ok);
    assert!(err.contains("kubectl's SPDY port-forward is not served"), "{err}");

    let root = kubectl_ok(kc, &["get", "secret", "shop-db-secrets", "-o", "jsonpath={.data.root}"]);
    assert_eq!(root.trim(), "aHVudGVyMg==");
    let kept = kubectl_ok(kc, &["get", "secret", "shop-db-secrets", "-o", "jsonpath={.stringData}"]);
    assert_eq!(kept.trim(), "", "stringData is write-only");
}

fn kubectl_in(kc: &Path, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kc)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// kubectl shows the sandbox's schema errors as it shows a real server's: `is invalid: <field>: <why>`, for
/// client-side apply, server-side apply, create and the patch types.
#[test]
fn kubectl_shows_schema_errors_with_the_field() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    let kc = &sb.kubeconfig;
    kubectl_stdin(kc, &["apply", "-f", "-"], &crds_yaml());
    kubectl_ok(kc, &["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/pxc-size-string.yaml");
    let bad = bad.to_str().unwrap();
    let why = r#"spec.pxc.size: Invalid value: "string": spec.pxc.size in body must be of type integer: "string""#;
    for args in [vec!["apply", "-f", bad], vec!["apply", "--server-side", "-f", bad], vec!["create", "-f", bad]] {
        let (ok, out, err) = kubectl(kc, &args);
        assert!(!ok, "kubectl {args:?} should fail: {out}");
        assert!(err.contains(r#""shop-db" is invalid: "#), "{args:?}: {err}");
        assert!(err.contains(why), "kubectl {args:?}: {err}");
    }
    kubectl_ok(kc, &["apply", "-f", &example("pxc-minimal.yaml")]);
    for (kind, patch) in [
        ("merge", r#"{"spec":{"pxc":{"size":"three"}}}"#),
        ("json", r#"[{"op":"replace","path":"/spec/pxc/size","value":"three"}]"#),
    ] {
        let (ok, _, err) = kubectl(kc, &["patch", "pxc", "shop-db", "--type", kind, "-p", patch]);
        assert!(!ok, "a {kind} patch to a string size must fail");
        assert!(err.contains(r#"The PerconaXtraDBCluster "shop-db" is invalid"#) && err.contains(why), "{kind}: {err}");
    }
    let (ok, _, err) = kubectl_in(
        kc,
        &["apply", "-f", "-"],
        "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata:\n  name: no-spec\n",
    );
    assert!(!ok);
    assert!(err.contains("spec: Required value"), "{err}");
    let size = kubectl_ok(kc, &["get", "pxc", "shop-db", "-o", "jsonpath={.spec.pxc.size}"]);
    assert_eq!(size, "3", "nothing refused was stored");
}

/// Plain HTTP on the TLS port gets Go's 400, and the state directory keeps its Secrets and keys to its owner.
#[test]
fn plain_http_and_private_state() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sb = start_sandbox(&state);
    let kc = &sb.kubeconfig;
    let text = std::fs::read_to_string(kc).unwrap();
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server: https://")).expect("server in kubeconfig");
    let answer = {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(server.trim()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        tcp.write_all(b"GET /version HTTP/1.1\r\nHost: sandbox\r\n\r\n").unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(answer.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{answer:?}");
    assert!(answer.ends_with("Client sent an HTTP request to an HTTPS server.\n"), "{answer:?}");
    // HTTPS on the same port still works after that.
    kubectl_ok(kc, &["get", "ns", "default"]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700, "state directory");
        assert_eq!(mode(&state.join("sandbox.redb")), 0o600, "sandbox.redb holds Secrets");
        for entry in std::fs::read_dir(&state).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains("key") || name == "token" || name == "kubeconfig" {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
    }
}

/// An unknown kind gets kubectl's own mapping error, as against a real server (not a failed openapi download).
#[test]
fn kubectl_names_an_unknown_kind() {
    if !have_kubectl() {
        eprintln!("kubectl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = start_sandbox(dir.path());
    let kc = &sb.kubeconfig;
    let gadget = "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\nspec: {}\n";
    for args in [vec!["apply", "-f", "-"], vec!["apply", "--server-side", "-f", "-"], vec!["create", "-f", "-"]] {
        let (ok, _, err) = kubectl_in(kc, &args, gadget);
        assert!(!ok, "{args:?}");
        assert!(err.contains(r#"no matches for kind "Gadget" in version "example.com/v1""#), "{args:?}: {err}");
    }
    kubectl_stdin(kc, &["apply", "-f", "-"], &crds_yaml());
    let wrong_version = "apiVersion: pxc.percona.com/v9\nkind: PerconaXtraDBCluster\nmetadata:\n  name: x\nspec: {}\n";
    let (ok, _, err) = kubectl_in(kc, &["apply", "-f", "-"], wrong_version);
    assert!(!ok);
    assert!(err.contains(r#"no matches for kind "PerconaXtraDBCluster" in version "pxc.percona.com/v9""#), "{err}");
}
