//! The `eidos` command.

mod cli;
mod commands;
mod config;
mod error;
mod fleet;
mod host;
mod input;
mod logging;
mod settings;

/// mimalloc instead of the C library's allocator: reading a fleet of snapshots allocates and
/// frees a few thousand strings per snapshot, and glibc's free lists were a quarter of the
/// profile. Plugins keep their own allocator: every value crossing the plugin ABI carries the
/// functions that free it (abi_stable), and the rest crosses as JSON text.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use cli::{AgentCommand, Cli, Command, ConfigCommand, PluginsCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = host::probe::run_if_probe() {
        return code;
    }
    let cli = Cli::parse();
    // `--kubeconfig FILE` is `KUBECONFIG=FILE` for everything this process and its children do
    // (cm:// addresses, the k8s collector, the agent's rounds). Set before any thread starts.
    if let Some(path) = &cli.global.kubeconfig {
        std::env::set_var("KUBECONFIG", path);
    }
    // A server and the agent log each request or round (info); one-shot commands only warnings.
    let quiet_level = if matches!(
        cli.command,
        Command::Serve(_) | Command::Agent(AgentCommand::Run(_))
    ) {
        "info"
    } else {
        "warn"
    };
    logging::init(cli.global.debug, cli.global.log_json, quiet_level);
    let code = match run(&cli) {
        Ok(()) => error::EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    drop(cli);
    exit_without_teardown(code)
}

/// Ends the process with `code` once the command is done, without the C library's exit
/// handlers.
///
/// Everything the command made is gone by now: its values dropped, its files written, renamed
/// and closed, its threads joined or left to die with the process. What the handlers would add
/// is teardown of memory and libraries the kernel is about to reclaim anyway: mimalloc giving
/// its pages back one `madvise` at a time (a twentieth of a short command's CPU time, e.g. a
/// `diff` of two reference snapshots), the loaded plugin libraries' destructors (which could
/// block on a lock a timed-out collector's thread holds). Standard output is flushed first,
/// as `exit` would; standard error is not buffered.
fn exit_without_teardown(code: u8) -> ! {
    use std::io::Write;
    // As at a normal exit, a failed flush has nowhere left to be reported.
    let _ = std::io::stdout().lock().flush();
    // SAFETY: `_exit` ends the process at once; no Rust code runs after it.
    unsafe { libc::_exit(i32::from(code)) }
}

fn run(cli: &Cli) -> error::CliResult {
    match &cli.command {
        Command::Completion(args) => return commands::completion::run(args),
        Command::Agent(AgentCommand::Manifests(args)) => return commands::agent::manifests(args),
        _ => {}
    }
    let settings = settings::Settings::load(&cli.flags()).map_err(error::CliError::usage)?;
    let ctx = commands::Context { settings };
    match &cli.command {
        Command::Snapshot(args) => commands::snapshot::run(&ctx, args),
        Command::Recipe(args) => commands::recipe::run(&ctx, args),
        Command::Plugins(PluginsCommand::List(args)) => commands::plugins::list(&ctx, args),
        Command::Plugins(PluginsCommand::Lock(args)) => commands::plugins::lock(&ctx, args),
        Command::Plugins(PluginsCommand::Describe(args)) => commands::plugins::describe(&ctx, args),
        Command::Config(ConfigCommand::Show(args)) => commands::config::show(&ctx, args),
        Command::Completion(args) => commands::completion::run(args),
        Command::Serve(_) => commands::serve::run(&ctx),
        Command::Validate(args) => commands::validate::run(&ctx, args),
        Command::Redact(args) => commands::redact::run(&ctx, args),
        Command::Agent(AgentCommand::Run(args)) => commands::agent::run(&cli.global, args),
        Command::Agent(AgentCommand::Manifests(args)) => commands::agent::manifests(args),
        Command::Diff(args) => commands::diff::run(&ctx, args),
        Command::Fleet(commands::fleet::FleetCommand::Report(args)) => {
            commands::fleet::report(&ctx, args)
        }
    }
}
