//! The `eidos` command.

mod cli;
mod commands;
mod error;
mod host;
mod logging;

use clap::Parser;
use cli::{Cli, Command, PluginsCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.global.debug, cli.global.log_json);
    let result = match &cli.command {
        Command::Snapshot(args) => commands::snapshot::run(&cli.global, args),
        Command::Recipe(args) => commands::recipe::run(&cli.global, args),
        Command::Plugins(PluginsCommand::List(args)) => commands::plugins::list(&cli.global, args),
        Command::Completion(args) => commands::completion::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
