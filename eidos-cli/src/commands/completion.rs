//! `eidos completion SHELL`: prints a completion script.

use crate::cli::{Cli, CompletionArgs};
use crate::error::CliResult;
use clap::CommandFactory;

/// Writes the completion script for the shell to standard output.
pub fn run(args: &CompletionArgs) -> CliResult {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "eidos", &mut std::io::stdout());
    Ok(())
}
