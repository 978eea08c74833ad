//! `dbdeck sandbox`: the sandbox API server alone, in the foreground, until SIGINT/SIGTERM.

use crate::cli::SandboxArgs;
use crate::sandbox::serve::{ServeOptions, start};

pub async fn run(args: &SandboxArgs) -> color_eyre::Result<i32> {
    let running = start(ServeOptions {
        listen: args.listen,
        kubeconfig_out: args.kubeconfig_out.clone(),
        state_dir: args.state_dir.clone(),
        private: false,
    })
    .await?;
    let kc = running.kubeconfig_path.display().to_string();
    println!("dbdeck sandbox: serving the Kubernetes API at https://{}", running.addr);
    match &args.state_dir {
        Some(d) => println!("objects persist in {}", d.display()),
        None => println!("objects are kept in memory only (use --state-dir to keep them)"),
    }
    println!("kubeconfig: {kc} (context dbdeck-sandbox)");
    println!("try: kubectl --kubeconfig {kc} get nodes");
    wait_for_signal().await;
    eprintln!("dbdeck sandbox: shutting down");
    running.shutdown().await;
    Ok(0)
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
