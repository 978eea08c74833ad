use clap::Parser;

use dbdeck::cli::{Cli, Command};
use dbdeck::cmd;

#[tokio::main]
async fn main() {
    // color-eyre formats panics; errors are printed as one line (the cause chain) below, since a user wants the
    // sentence that names the object and field, not a backtrace.
    let _ = color_eyre::install();
    let cli = Cli::parse();
    let code = match run(&cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dbdeck: {}", one_line(&e));
            1
        }
    };
    std::process::exit(code);
}

async fn run(cli: &Cli) -> color_eyre::Result<i32> {
    Ok(match &cli.command {
        Some(Command::Crd(args)) => cmd::crd::run(&cli.global, args).await?,
        Some(Command::Validate(args)) => cmd::validate::run(args)?,
        Some(Command::Sandbox(args)) => cmd::sandbox::run(args).await?,
        Some(Command::Bench(args)) => cmd::bench::run(args).await?,
        Some(Command::Status(args)) => cmd::status::run(&cli.global, &cli.console, args).await?,
        None => dbdeck::console::run::run(&cli.global, &cli.console).await?,
    })
}

/// The error and its causes on one line, skipping causes whose text the message already carries (many of our
/// error types embed their source in their own message).
fn one_line(e: &color_eyre::Report) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
