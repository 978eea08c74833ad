//! `dbdeck bench sandbox|console|engine`: runs a benchmark and prints its figures as JSON on standard output.

use crate::bench::sandbox::SandboxFigures;
use crate::bench::workload::WorkloadFigures;
use crate::cli::{BenchArgs, BenchTarget};

/// What `bench sandbox` prints: the API figures, then the workload scenario's (absent with `--workload-pods 0`).
#[derive(serde::Serialize)]
struct SandboxReport {
    #[serde(flatten)]
    api: SandboxFigures,
    workload: Option<WorkloadFigures>,
}

pub async fn run(args: &BenchArgs) -> color_eyre::Result<i32> {
    let json = match &args.target {
        BenchTarget::Sandbox { workload_pods } => {
            let api = crate::bench::sandbox::run(args.seconds).await?;
            let workload_pods = *workload_pods;
            let workload = match workload_pods {
                0 => None,
                n => Some(crate::bench::workload::run(n).await?),
            };
            serde_json::to_string_pretty(&SandboxReport { api, workload })?
        }
        BenchTarget::Console { idle_seconds } => {
            serde_json::to_string_pretty(&crate::bench::console::run(*idle_seconds).await?)?
        }
        BenchTarget::Engine { clusters } => serde_json::to_string_pretty(&crate::bench::engine::run(clusters).await?)?,
    };
    crate::cmd::out::println(&json);
    Ok(0)
}
