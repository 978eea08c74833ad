use clap::Parser;

use dbdeck::cli::{Cli, Command};
use dbdeck::cmd;

#[tokio::main]
async fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let cli = Cli::parse();
    let code = match &cli.command {
        Some(Command::Crd(args)) => cmd::crd::run(&cli.global, args).await?,
        Some(Command::Validate(args)) => cmd::validate::run(args)?,
        Some(Command::Sandbox(args)) => cmd::sandbox::run(args).await?,
        Some(Command::Bench(args)) => match args.target {
            dbdeck::cli::BenchTarget::Sandbox => {
                let figures = dbdeck::bench::sandbox::run(args.seconds).await?;
                println!("{}", serde_json::to_string_pretty(&figures)?);
                0
            }
        },
        Some(Command::Status(args)) => cmd::status::run(&cli.global, &cli.console, args).await?,
        None => {
            eprintln!(
                "dbdeck: the interactive console is not in this build yet.\n\
                 Available now: `dbdeck validate -f FILE`, `dbdeck crd [--apply]`, `dbdeck sandbox`. See `dbdeck --help`."
            );
            2
        }
    };
    std::process::exit(code);
}
