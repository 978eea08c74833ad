//! `dbdeck sandbox`: the sandbox API server alone, in the foreground, until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{WrapErr, eyre};

use crate::cli::{
    NodeFault, PodFault, PvcFault, SandboxAction, SandboxArgs, SandboxAttachArgs, SandboxFault, SandboxTarget,
};
use crate::cmd::out;
use crate::sandbox::controllers::ControllerConfig;
use crate::sandbox::listener;
use crate::sandbox::serve::{ServeOptions, start};

/// `before` holds the connection flags given before `sandbox` (`dbdeck --kubeconfig P sandbox fault …`); those
/// given after `fault`/`attach` win.
pub async fn run(before: &crate::cli::GlobalArgs, args: &SandboxArgs) -> color_eyre::Result<i32> {
    let target = |t: &SandboxTarget| SandboxTarget {
        kubeconfig: t.kubeconfig.clone().or_else(|| before.kubeconfig.clone()),
        context: t.context.clone().or_else(|| before.context.clone()),
    };
    match &args.action {
        Some(SandboxAction::Fault(f)) => return fault(&target(&f.target_sandbox), args, &f.target).await,
        Some(SandboxAction::Attach(a)) => return attach(&target(&a.target_sandbox), args, a).await,
        None => {}
    }
    let controllers = ControllerConfig {
        nodes: usize::from(args.nodes),
        eviction_timeout: args.eviction_timeout.map(Duration::from_secs),
        start_delay: Duration::from_millis(args.start_delay),
        ..Default::default()
    };
    let running = start(ServeOptions {
        listen: args.listen,
        kubeconfig_out: args.kubeconfig_out.clone(),
        state_dir: args.state_dir.clone(),
        private: false,
        controllers: Some(controllers),
    })
    .await?;
    let kc = running.kubeconfig_path.display().to_string();
    out::println(&format!("dbdeck sandbox: serving the Kubernetes API at https://{}", running.addr));
    match &args.state_dir {
        Some(d) => out::println(&format!("objects persist in {}", d.display())),
        None => out::println("objects are kept in memory only (use --state-dir to keep them)"),
    }
    out::println(&format!("kubeconfig: {kc} (context dbdeck-sandbox)"));
    out::println(&format!("{} simulated nodes; try: kubectl --kubeconfig {kc} get nodes", args.nodes));
    wait_for_signal().await;
    eprintln!("dbdeck sandbox: shutting down");
    running.shutdown().await;
    Ok(0)
}

/// `NAMESPACE/NAME`, or `NAME` in `default`.
fn split_name(s: &str) -> (&str, &str) {
    s.split_once('/').unwrap_or(("default", s))
}

/// `dbdeck sandbox fault ...`: one POST to the admin endpoint of the sandbox the kubeconfig points at.
async fn fault(global: &SandboxTarget, args: &SandboxArgs, target: &SandboxFault) -> color_eyre::Result<i32> {
    let path = match target {
        SandboxFault::Node { name, action } => {
            let a = match action {
                NodeFault::Notready => "notready",
                NodeFault::Ready => "ready",
                NodeFault::Cordon => "cordon",
                NodeFault::Uncordon => "uncordon",
            };
            format!("/_sandbox/nodes/{name}/{a}")
        }
        SandboxFault::Pod { pod, action } => {
            let (ns, name) = split_name(pod);
            let a = match action {
                PodFault::Kill => "kill",
                PodFault::Unready => "unready",
                PodFault::Ready => "ready",
            };
            format!("/_sandbox/pods/{ns}/{name}/{a}")
        }
        SandboxFault::Pvc { claim, action } => {
            let (ns, name) = split_name(claim);
            let a = match action {
                PvcFault::Hold => "hold",
                PvcFault::Release => "release",
            };
            format!("/_sandbox/pvcs/{ns}/{name}/{a}")
        }
        SandboxFault::FailNextJob => "/_sandbox/jobs/fail-next".to_string(),
    };
    let what = fault_words(target);
    let answer = admin_post(global, args, &path, Vec::new(), &what).await?;
    out::println(&fault_summary(&path, &answer));
    Ok(0)
}

/// The fault in words, for the error sentence when the sandbox refuses it.
fn fault_words(target: &SandboxFault) -> String {
    match target {
        SandboxFault::Node { name, action } => format!("{action:?} on node {name}").to_lowercase(),
        SandboxFault::Pod { pod, action } => format!("{} on pod {pod}", format!("{action:?}").to_lowercase()),
        SandboxFault::Pvc { claim, action } => {
            format!("{} on PersistentVolumeClaim {claim}", format!("{action:?}").to_lowercase())
        }
        SandboxFault::FailNextJob => "fail-next-job".into(),
    }
}

/// One line about what a fault changed (the admin endpoint answers with the whole object).
fn fault_summary(path: &str, answer: &str) -> String {
    let action = path.rsplit('/').next().unwrap_or_default();
    let obj: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = obj.pointer("/metadata/name").and_then(|v| v.as_str()).unwrap_or_default();
    match (kind.as_str(), obj.pointer("/metadata/namespace").and_then(|v| v.as_str())) {
        ("", _) if action == "fail-next" => "the next Job created will fail".to_string(),
        ("", _) => format!("{action}: done"),
        (kind, Some(ns)) => format!("{kind} {ns}/{name}: {action}"),
        (kind, None) => format!("{kind} {name}: {action}"),
    }
}

/// `dbdeck sandbox attach [NS/]POD:PORT HOST:PORT`.
async fn attach(global: &SandboxTarget, args: &SandboxArgs, a: &SandboxAttachArgs) -> color_eyre::Result<i32> {
    let (pod, port) = a
        .pod
        .rsplit_once(':')
        .and_then(|(p, port)| Some((p, port.parse::<u16>().ok()?)))
        .ok_or_else(|| eyre!("{:?}: expected [NAMESPACE/]POD:PORT, e.g. default/shop-db-pxc-0:3306", a.pod))?;
    let (ns, name) = split_name(pod);
    let target = tokio::net::lookup_host(&a.target)
        .await
        .wrap_err_with(|| format!("{:?}: expected HOST:PORT", a.target))?
        .next()
        .ok_or_else(|| eyre!("{:?} resolves to no address", a.target))?;
    let body = serde_json::to_vec(&serde_json::json!({
        "namespace": ns, "pod": name, "port": port, "target": target.to_string()
    }))?;
    let what = format!("attaching {} to {}", a.pod, a.target);
    let answer = admin_post(global, args, "/_sandbox/attach", body, &what).await?;
    out::println(&answer);
    Ok(0)
}

/// The kubeconfig of the running sandbox: `--kubeconfig-out` or `--state-dir`'s, else `--kubeconfig` (or
/// `$KUBECONFIG`'s first file) with `--context`, else the default state directory's.
fn sandbox_kubeconfig(global: &SandboxTarget, args: &SandboxArgs) -> color_eyre::Result<(PathBuf, Option<String>)> {
    let from_env =
        std::env::var_os("KUBECONFIG").and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()));
    let kubeconfig = global.kubeconfig.clone().or(from_env);
    Ok(match (&args.kubeconfig_out, &args.state_dir, &kubeconfig) {
        (Some(p), _, _) => (p.clone(), None),
        (None, Some(d), _) => (d.join("kubeconfig"), None),
        (None, None, Some(k)) => (k.clone(), global.context.clone()),
        (None, None, None) => (
            listener::default_state_dir()
                .ok_or_else(|| {
                    eyre!(
                        "no state directory: pass --state-dir, --kubeconfig-out or --kubeconfig of the running sandbox"
                    )
                })?
                .join("kubeconfig"),
            None,
        ),
    })
}

/// One POST to the admin endpoint of the sandbox the state directory's (or given) kubeconfig points at.
async fn admin_post(
    global: &SandboxTarget,
    args: &SandboxArgs,
    path: &str,
    body: Vec<u8>,
    what: &str,
) -> color_eyre::Result<String> {
    let (kubeconfig, context) = sandbox_kubeconfig(global, args)?;
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)
        .wrap_err_with(|| format!("cannot read the sandbox kubeconfig {}", kubeconfig.display()))?;
    let options = kube::config::KubeConfigOptions { context, ..Default::default() };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .wrap_err_with(|| format!("the kubeconfig {} is not usable", kubeconfig.display()))?;
    let client = kube::Client::try_from(cfg)?;
    let req = http::Request::post(path).header(http::header::CONTENT_TYPE, "application/json").body(body)?;
    client.request_text(req).await.map_err(|e| {
        eyre!(
            "the sandbox of {} did not accept {what}: {}",
            kubeconfig.display(),
            crate::cmd::kubeclient::describe_error(&e)
        )
    })
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
