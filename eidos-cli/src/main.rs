//! The `eidos` command.

mod cli;
mod commands;
mod config;
mod error;
mod host;
mod input;
mod logging;
mod settings;

use clap::Parser;
use cli::{Cli, Command, ConfigCommand, PluginsCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = host::probe::run_if_probe() {
        return code;
    }
    let cli = Cli::parse();
    // A server logs each request (info); the one-shot commands only warnings.
    let quiet_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    logging::init(cli.global.debug, cli.global.log_json, quiet_level);
    let result = run(&cli);
    match result {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> error::CliResult {
    if let Command::Completion(args) = &cli.command {
        return commands::completion::run(args);
    }
    let settings = settings::Settings::load(&cli.flags()).map_err(error::CliError::usage)?;
    let ctx = commands::Context { settings };
    match &cli.command {
        Command::Snapshot(args) => commands::snapshot::run(&ctx, args),
        Command::Recipe(args) => commands::recipe::run(&ctx, args),
        Command::Plugins(PluginsCommand::List(args)) => commands::plugins::list(&ctx, args),
        Command::Plugins(PluginsCommand::Lock(args)) => commands::plugins::lock(&ctx, args),
        Command::Config(ConfigCommand::Show(args)) => commands::config::show(&ctx, args),
        Command::Completion(args) => commands::completion::run(args),
        Command::Serve(_) => commands::serve::run(&ctx),
        Command::Validate(args) => commands::validate::run(&ctx, args),
        Command::Diff(args) => commands::diff::run(&ctx, args),
        Command::Fleet(commands::fleet::FleetCommand::Report(args)) => {
            commands::fleet::report(&ctx, args)
        }
    }
}
