use clap::Parser;

use dbdeck::cli::{Cli, Command, GlobalArgs};
use dbdeck::cmd;

fn main() {
    // color-eyre formats panics; errors are printed as one line (the cause chain) below, since a user wants the
    // sentence that names the object and field, not a backtrace.
    let _ = color_eyre::install();
    let cli = Cli::parse();
    let global = match cli.connection() {
        Ok(g) => g,
        Err(why) => {
            use clap::CommandFactory;
            Cli::command().error(clap::error::ErrorKind::ArgumentConflict, why).exit()
        }
    };
    // Reconcile futures nest the kube client, the applier and (with --sandbox) the in-process server; unoptimised
    // builds need more than tokio's default 2 MiB per worker for them.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(16 << 20).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dbdeck: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(&cli, &global)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dbdeck: {}", one_line(&e));
            1
        }
    };
    std::process::exit(code);
}

async fn run(cli: &Cli, global: &GlobalArgs) -> color_eyre::Result<i32> {
    if cli.headless.headless {
        if cli.command.is_some() {
            color_eyre::eyre::bail!("--headless runs the reconcile engine alone and takes no sub-command");
        }
        let engine = std::sync::Arc::new(dbdeck::headless::engine::DbdeckEngine::default());
        return Ok(dbdeck::headless::command::run(global, &cli.console, &cli.headless, engine).await?);
    }
    Ok(match &cli.command {
        Some(Command::Crd(args)) => cmd::crd::run(global, args).await?,
        Some(Command::Validate(args)) => cmd::validate::run(args)?,
        Some(Command::Sandbox(args)) => cmd::sandbox::run(global, args).await?,
        Some(Command::Bench(args)) => cmd::bench::run(args).await?,
        Some(Command::Status(args)) => cmd::status::run(global, &cli.console, args).await?,
        None => dbdeck::console::run::run(global, &cli.console).await?,
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
