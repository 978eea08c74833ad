//! The engine issues' "done when", as a user runs it: Percona's CRs applied with kubectl to a served
//! sandbox with the engine running reach `ready`, and the live objects satisfy what Percona's e2e
//! suites assert (restated in tests/fixtures/). The PXC case lives in tests/engine_pxc.rs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dbdeck::engine::{EngineConfig, run};
use dbdeck::sandbox::controllers::ControllerConfig;
use dbdeck::sandbox::serve::{RunningSandbox, ServeOptions, start};
use serde_json::Value;
use tokio::sync::oneshot;

#[path = "support/big_stack.rs"]
mod big_stack;
use big_stack::runtime;

#[path = "support/layout.rs"]
mod layout;

const DEADLINE: Duration = Duration::from_secs(60);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

struct Cluster {
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    sandbox: Option<RunningSandbox>,
    stop: Option<oneshot::Sender<()>>,
    engine: Option<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let sandbox = start(ServeOptions {
            kubeconfig_out: Some(kubeconfig.clone()),
            controllers: Some(ControllerConfig {
                nodes: 6,
                start_delay: Duration::from_millis(100),
                ..Default::default()
            }),
            ..ServeOptions::private()
        })
        .await
        .expect("sandbox starts");
        let client = sandbox.client().await.unwrap();
        dbdeck::cmd::crd::apply_all(client.clone()).await.expect("CRDs install");
        let (stop, stopped) = oneshot::channel::<()>();
        let engine = tokio::spawn(async move {
            run(client, EngineConfig::default(), async move {
                let _ = stopped.await;
            })
            .await
            .expect("engine runs");
        });
        Cluster { _dir: dir, kubeconfig, sandbox: Some(sandbox), stop: Some(stop), engine: Some(engine) }
    }

    fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    async fn wait_ready(&self, resource: &str, name: &str, ns: &str) {
        let start = Instant::now();
        while self.kubectl(&["get", resource, name, "-n", ns, "-o", "jsonpath={.status.state}"]).ok().as_deref()
            != Some("ready")
        {
            if start.elapsed() > DEADLINE {
                let status = self.kubectl(&["get", resource, name, "-n", ns, "-o", "jsonpath={.status}"]);
                let pods = self.kubectl(&["get", "pods", "-n", ns, "-o", "wide"]);
                panic!("timed out waiting for {resource} {name} to be ready; status {status:?}\npods {pods:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every object of the expectation file must be live and contain its fields.
    /// An expected object without a name (a generated one, like PG's instance StatefulSets) must
    /// match some live object of its kind.
    fn assert_layout(&self, expected: &Path, instance: Option<&str>, kinds: &str) {
        let selector = instance.map(|i| format!("app.kubernetes.io/instance={i}"));
        let mut args = vec!["get", kinds, "-A", "-o", "json"];
        if let Some(sel) = &selector {
            args.extend(["-l", sel.as_str()]);
        }
        let live: Value = serde_json::from_str(&self.kubectl(&args).unwrap()).unwrap();
        let secrets: Value =
            serde_json::from_str(&self.kubectl(&["get", "secrets", "-A", "-o", "json"]).unwrap()).unwrap();
        let items: Vec<&Value> =
            live["items"].as_array().unwrap().iter().chain(secrets["items"].as_array().unwrap()).collect();
        let mut report = Vec::new();
        let mut checked = 0;
        for want in layout::yaml_docs(&std::fs::read_to_string(expected).unwrap()) {
            let kind = want["kind"].as_str().unwrap();
            checked += 1;
            let Some(name) = want["metadata"]["name"].as_str() else {
                let fits = items.iter().filter(|o| o["kind"] == kind).any(|got| {
                    let mut diffs = Vec::new();
                    layout::compare(&want, got, "", &mut diffs);
                    diffs.is_empty()
                });
                if !fits {
                    report.push(format!("{kind} (generated name): no live object has {}", layout::short(&want)));
                }
                continue;
            };
            match items.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name) {
                None => report.push(format!("{kind} {name}: not in the cluster")),
                Some(got) => {
                    let mut diffs = Vec::new();
                    layout::compare(&want, got, "", &mut diffs);
                    report.extend(diffs.into_iter().map(|d| format!("{kind} {name}{d}")));
                }
            }
        }
        assert!(checked >= 4, "{}: only {checked} objects asserted", expected.display());
        assert!(report.is_empty(), "{} differences from {}:\n{}", report.len(), expected.display(), report.join("\n"));
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(engine) = self.engine.take() {
            tokio::time::timeout(Duration::from_secs(10), engine).await.expect("engine stops").unwrap();
        }
        if let Some(sb) = self.sandbox.take() {
            sb.shutdown().await;
        }
    }
}

#[test]
fn percona_server_async_and_group_replication_crs_reach_ready_with_percona_layout() {
    runtime().block_on(async {
        let c = Cluster::start().await;
        for (scenario, name) in [("init-deploy", "init-deploy"), ("gr-init-deploy", "gr-init-deploy")] {
            let cr = with_ps_images(&format!("{FIXTURES}/ps/{scenario}.cr.yaml"), c._dir.path());
            c.kubectl(&["apply", "-f", cr.to_str().unwrap()]).unwrap();
            c.wait_ready("ps", name, "default").await;
            let printed = c.kubectl(&["get", "ps", name]).unwrap();
            assert!(printed.contains("ready"), "{printed}");
            c.assert_layout(
                Path::new(&format!("{FIXTURES}/ps/{scenario}.assert.yaml")),
                Some(name),
                "statefulsets,deployments,services",
            );
        }
        c.stop().await;
    })
}

/// Percona's deploy/cr.yaml names every image and the data volume; our fixtures restate only the
/// fields that shape the asserted objects, so the rest is put back here as their file has it.
fn with_ps_images(path: &str, dir: &Path) -> PathBuf {
    let mut cr: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let spec = &mut cr["spec"];
    spec["mysql"]["image"] = "percona/percona-server:8.4.11-11.1".into();
    spec["mysql"]["volumeSpec"] =
        serde_json::json!({"persistentVolumeClaim": {"resources": {"requests": {"storage": "2Gi"}}}});
    for (path, image) in [
        ("/proxy/haproxy", "percona/haproxy:2.8.15"),
        ("/proxy/router", "percona/percona-mysql-router:8.4.6"),
        ("/orchestrator", "percona/percona-orchestrator:3.2.6-18"),
    ] {
        if let Some(component) = spec.pointer_mut(path)
            && component.is_object()
        {
            component["image"] = image.into();
        }
    }
    let out = dir.join(Path::new(path).file_name().unwrap());
    std::fs::write(&out, serde_yaml::to_string(&cr).unwrap()).unwrap();
    out
}

#[test]
fn percona_postgresql_cr_reaches_ready_with_percona_layout() {
    runtime().block_on(async {
        let c = Cluster::start().await;
        // The fixture names the e2e suite's namespace, as their files do.
        c.kubectl(&["create", "namespace", "e2e"]).unwrap();
        c.kubectl(&["apply", "-f", &format!("{FIXTURES}/pg/init-deploy-cluster.yaml")]).unwrap();
        c.wait_ready("perconapgcluster", "init-deploy", "e2e").await;
        let printed = c.kubectl(&["get", "pg", "init-deploy", "-n", "e2e"]).unwrap();
        assert!(printed.contains("ready"), "{printed}");
        c.assert_layout(
            Path::new(&format!("{FIXTURES}/pg/init-deploy-expected.yaml")),
            None,
            "statefulsets,deployments,services,configmaps",
        );
        c.stop().await;
    })
}
