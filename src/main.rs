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
        None => match dbdeck::console::run::run(&cli.global, &cli.console).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("dbdeck: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}
