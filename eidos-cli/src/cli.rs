//! The command line, declared with clap.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// `eidos --version`: version, git commit and build date, captured at build time.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("EIDOS_GIT_COMMIT"),
    ", built ",
    env!("EIDOS_BUILD_DATE"),
    ")"
);

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  runtime failure (a collector failed or timed out, a file could not be written …)
  2  usage error (bad flag or value, unknown collector or format, bad --set option)

Data goes to standard output (or --output FILE); logs go to standard error.";

/// eidos: how a GPU node is configured, and how it should be.
#[derive(Debug, Parser)]
#[command(name = "eidos", version = LONG_VERSION, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Log debug details to standard error.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Search this directory for plugins first (repeatable; before EIDOS_PLUGIN_PATH).
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,
    /// Search only --plugin-dir and EIDOS_PLUGIN_PATH, not the default directories.
    #[arg(long, global = true, env = "EIDOS_NO_DEFAULT_PLUGIN_DIRS")]
    pub no_default_plugin_dirs: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture this node's configuration with the collector plugins.
    Snapshot(SnapshotArgs),
    /// The recommended configuration for a GPU node, from flags or a snapshot.
    Recipe(crate::commands::recipe::RecipeArgs),
    /// Inspect the plugins eidos finds.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// `eidos snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Collectors to run, comma-separated (default: every collector found).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub collectors: Vec<String>,
    /// Output format, by the names serializer plugins declare (default: from --output's
    /// extension, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A collector option, NAME.KEY=VALUE (repeatable), e.g. systemd.bus=session.
    #[arg(long = "set", value_name = "NAME.KEY=VALUE")]
    pub set: Vec<String>,
    /// Time each collector gets, e.g. 500ms, 5s, 1m.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep going when a collector fails; write what was collected and mark the snapshot
    /// incomplete (exit 0). Without it, the first failure stops the run (exit 1).
    #[arg(long)]
    pub best_effort: bool,
}

/// `eidos plugins …`.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every plugin file found: name, kind, version, API version, path and status.
    List(PluginsListArgs),
}

/// `eidos plugins list`.
#[derive(Debug, Args)]
pub struct PluginsListArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Formats for listings that eidos writes itself (no plugin needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// `eidos completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses a duration such as `500ms`, `5s` or `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (expected e.g. 500ms, 5s, 1m)"))?;
    if d.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_and_zero_is_refused() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("expected"));
    }
}
