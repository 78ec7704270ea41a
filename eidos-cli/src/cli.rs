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
  3  a check found a problem (eidos validate: a required constraint failed)

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
    /// Search only --plugin-dir, EIDOS_PLUGIN_PATH and the config file's plugin-dirs, not the
    /// default directories.
    #[arg(long, global = true, env = "EIDOS_NO_DEFAULT_PLUGIN_DIRS",
          value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_default_plugin_dirs: bool,
    /// Load only the plugins listed, with matching hashes, in this lock file.
    #[arg(long, value_name = "FILE", global = true, env = "EIDOS_PLUGIN_LOCK")]
    pub plugin_lock: Option<PathBuf>,
    /// Load plugins even if their file or directory is writable by others or owned by another
    /// user. For development only: never use it on a production node.
    #[arg(long, global = true)]
    pub allow_insecure_plugins: bool,
    /// Configuration file (default: ~/.config/eidos/config.toml when present).
    #[arg(long, value_name = "FILE", global = true, env = "EIDOS_CONFIG")]
    pub config: Option<PathBuf>,
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
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script.
    Completion(CompletionArgs),
    /// Serve the recipe engine as an HTTP API.
    Serve(crate::commands::serve::ServeArgs),
    /// Check a node (a snapshot, or this node now) against its recipe: exit 3 when a required
    /// constraint fails.
    Validate(crate::commands::validate::ValidateArgs),
}

/// `eidos config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting's effective value and where it came from (flag, env, file, default).
    Show(ConfigShowArgs),
}

/// `eidos config show`.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// `eidos snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Collectors to run, comma-separated (default: the config file's default-collectors, else
    /// every collector found).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        env = "EIDOS_COLLECTORS"
    )]
    pub collectors: Vec<String>,
    /// Output format, by the names serializer plugins declare (default: the config file's format,
    /// else from --output's extension, else yaml).
    #[arg(long, short = 'f', env = "EIDOS_FORMAT")]
    pub format: Option<String>,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A collector option, NAME.KEY=VALUE (repeatable), e.g. systemd.bus=session.
    #[arg(long = "set", value_name = "NAME.KEY=VALUE")]
    pub set: Vec<String>,
    /// Time each collector gets, e.g. 500ms, 5s, 1m (default: the config file's timeout, else 5s).
    #[arg(long, value_parser = parse_duration, env = "EIDOS_TIMEOUT")]
    pub timeout: Option<Duration>,
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
    /// Write a lock file (TOML) pinning the plugins that load now: name, kind, version, API
    /// version, file name and SHA-256.
    Lock(PluginsLockArgs),
}

/// `eidos plugins lock`.
#[derive(Debug, Args)]
pub struct PluginsLockArgs {
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
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

/// The default per-collector timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
