//! The command line, declared with clap.

use crate::settings::{parse_timeout_item, Flags, TimeoutItem};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
  3  a check found a problem (eidos validate: a required constraint failed; eidos diff: drift
     found; eidos fleet report --fail-on: drift or a failing node found)

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

/// Options shared by every command (listed after each command's own, under their own heading).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
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
    /// default directories [env: EIDOS_NO_DEFAULT_PLUGIN_DIRS].
    #[arg(long, global = true)]
    pub no_default_plugin_dirs: bool,
    /// Load only the plugins listed, with matching hashes, in this lock file [env:
    /// EIDOS_PLUGIN_LOCK; config: plugin-lock].
    #[arg(long, value_name = "FILE", global = true)]
    pub plugin_lock: Option<PathBuf>,
    /// Load plugins even if their file or directory is writable by others or owned by another
    /// user. For development only: never use it on a production node.
    #[arg(long, global = true)]
    pub allow_insecure_plugins: bool,
    /// Configuration file [env: EIDOS_CONFIG] (default: ~/.config/eidos/config.toml when
    /// present).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Kubernetes configuration for cm:// inputs and outputs, the k8s collector and the agent's
    /// rounds: the same as KUBECONFIG=FILE (a --set k8s.kubeconfig option still wins).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
}

impl GlobalArgs {
    /// The flags as they would be typed again, for a child `eidos` (the agent's rounds). The
    /// settings they stand for that come from the environment are inherited with it.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        let mut flag = |name: &str, on: bool| {
            if on {
                out.push(name.into());
            }
        };
        flag("--debug", self.debug);
        flag("--log-json", self.log_json);
        flag("--no-default-plugin-dirs", self.no_default_plugin_dirs);
        flag("--allow-insecure-plugins", self.allow_insecure_plugins);
        for dir in &self.plugin_dirs {
            out.push("--plugin-dir".into());
            out.push(dir.into());
        }
        for (name, value) in [
            ("--plugin-lock", &self.plugin_lock),
            ("--config", &self.config),
            ("--kubeconfig", &self.kubeconfig),
        ] {
            if let Some(value) = value {
                out.push(name.into());
                out.push(value.into());
            }
        }
        out
    }
}

impl Cli {
    /// What was typed, as the plain flags [`Settings`](crate::settings::Settings) layers over the
    /// environment and the config file.
    pub fn flags(&self) -> Flags {
        let g = &self.global;
        let mut flags = Flags {
            config: g.config.clone(),
            plugin_dirs: g.plugin_dirs.clone(),
            no_default_plugin_dirs: g.no_default_plugin_dirs,
            plugin_lock: g.plugin_lock.clone(),
            allow_insecure_plugins: g.allow_insecure_plugins,
            ..Flags::default()
        };
        match &self.command {
            Command::Snapshot(args) => {
                flags.format.clone_from(&args.format);
                args.collect.add_to(&mut flags);
            }
            Command::Recipe(args) => {
                flags.format.clone_from(&args.format);
                flags.recipes.clone_from(&args.recipes);
                flags.overlays.clone_from(&args.overlays);
            }
            Command::Serve(args) => {
                flags.recipes.clone_from(&args.recipes);
                flags.overlays.clone_from(&args.overlays);
                flags.serve = args.flags();
            }
            Command::Validate(args) => {
                flags.format.clone_from(&args.format);
                flags.recipes.clone_from(&args.recipes);
                flags.overlays.clone_from(&args.overlays);
                args.collect.add_to(&mut flags);
            }
            Command::Redact(args) => {
                flags.format.clone_from(&args.format);
            }
            Command::Agent(AgentCommand::Run(args)) => {
                flags.format.clone_from(&args.format);
                args.collect.add_to(&mut flags);
            }
            Command::Diff(args) => {
                flags.format.clone_from(&args.format);
            }
            Command::Fleet(crate::commands::fleet::FleetCommand::Report(args)) => {
                flags.format.clone_from(&args.format);
                flags.recipes.clone_from(&args.recipes);
            }
            Command::Plugins(_)
            | Command::Config(_)
            | Command::Completion(_)
            | Command::Agent(AgentCommand::Manifests(_)) => {}
        }
        flags
    }
}

/// The commands. Each one's arguments are defined only when that command is parsed (or its help
/// shown): building every command's arguments took most of the parsing time of a short command.
/// A deferred command takes the attributes of its arguments' type last, so that type states the
/// command's `about` too (the same text as the variant's, which the command list shows).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// `eidos snapshot` (its help text: [`SNAPSHOT_ABOUT`]).
    #[command(about = SNAPSHOT_ABOUT)]
    Snapshot(SnapshotArgs),
    /// `eidos recipe`.
    #[command(about = crate::commands::recipe::ABOUT)]
    Recipe(crate::commands::recipe::RecipeArgs),
    /// Inspect the plugins eidos finds.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// `eidos completion` (its help text: [`COMPLETION_ABOUT`]).
    #[command(about = COMPLETION_ABOUT)]
    Completion(CompletionArgs),
    /// `eidos serve`.
    #[command(about = crate::commands::serve::ABOUT)]
    Serve(crate::commands::serve::ServeArgs),
    /// `eidos validate`.
    #[command(about = crate::commands::validate::ABOUT)]
    #[command(after_help = crate::commands::validate::AFTER_HELP)]
    Validate(crate::commands::validate::ValidateArgs),
    /// `eidos redact`.
    #[command(about = crate::commands::redact::ABOUT)]
    #[command(after_help = crate::commands::redact::AFTER_HELP)]
    Redact(crate::commands::redact::RedactArgs),
    /// `eidos diff`.
    #[command(about = crate::commands::diff::ABOUT)]
    #[command(after_help = crate::commands::diff::AFTER_HELP)]
    Diff(crate::commands::diff::DiffArgs),
    /// Many nodes at once.
    #[command(subcommand)]
    Fleet(crate::commands::fleet::FleetCommand),
    /// Run eidos on a Kubernetes cluster: the node agent, and the manifests that deploy it.
    #[command(subcommand)]
    Agent(AgentCommand),
}

/// `eidos agent …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum AgentCommand {
    /// `eidos agent run`.
    #[command(about = crate::commands::agent::RUN_ABOUT)]
    #[command(after_help = crate::commands::agent::RUN_AFTER_HELP)]
    Run(crate::commands::agent::AgentRunArgs),
    /// `eidos agent manifests`.
    #[command(about = crate::commands::agent::MANIFESTS_ABOUT)]
    Manifests(crate::commands::agent::ManifestsArgs),
}

/// `eidos config …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ConfigCommand {
    /// `eidos config show`.
    #[command(about = CONFIG_SHOW_ABOUT)]
    Show(ConfigShowArgs),
}

/// What `eidos config show` does, in its help.
pub const CONFIG_SHOW_ABOUT: &str =
    "Print every setting's effective value and where it came from (flag, env, file, default)";

/// `eidos config show`.
#[derive(Debug, Args)]
#[command(about = CONFIG_SHOW_ABOUT, long_about = None)]
pub struct ConfigShowArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// What `eidos snapshot` does, in its help.
pub const SNAPSHOT_ABOUT: &str = "Capture this node's configuration with the collector plugins";

/// `eidos snapshot`.
#[derive(Debug, Args)]
#[command(about = SNAPSHOT_ABOUT, long_about = None)]
pub struct SnapshotArgs {
    /// Which collectors run and how.
    #[command(flatten)]
    pub collect: CollectArgs,
    /// Output format, by the names serializer plugins declare [env: EIDOS_FORMAT] (default: by
    /// --output's extension (.json, .yaml, .yml), else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE instead of standard output (a regular file is replaced atomically; a device
    /// or FIFO is written in place), or to the ConfigMap cm://NAMESPACE/NAME (created or updated;
    /// $(NODE_NAME) in NAME is replaced by the NODE_NAME environment variable).
    #[arg(long, short = 'o', value_name = "FILE|cm://NAMESPACE/NAME")]
    pub output: Option<PathBuf>,
    /// Redact the snapshot before writing it, as `eidos redact` does: sensitive values become
    /// consistent pseudonyms (see --redact-key, --redact-map).
    #[arg(long)]
    pub redact: bool,
    /// How to redact (with --redact).
    #[command(flatten)]
    pub redact_options: crate::commands::redact::RedactOptions,
}

/// The options that choose and run collectors, shared by every command that collects.
#[derive(Debug, Args, Clone, Default)]
pub struct CollectArgs {
    /// Collectors to run, comma-separated [env: EIDOS_COLLECTORS] (default: the config file's
    /// default-collectors, else every collector found except the SDK's example).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub collectors: Vec<String>,
    /// A collector option, NAME.KEY=VALUE (repeatable), e.g. systemd.bus=session.
    #[arg(long = "set", value_name = "NAME.KEY=VALUE")]
    pub set: Vec<String>,
    /// Time each collector gets, e.g. 500ms, 5s, 1m; NAME=D for one collector, e.g. k8s=60s
    /// (repeatable or comma-separated) [env: EIDOS_TIMEOUT] (default: the config file's timeout
    /// and [timeouts], else 5s).
    #[arg(long, value_name = "D|NAME=D", value_delimiter = ',', value_parser = parse_timeout_item)]
    pub timeout: Vec<TimeoutItem>,
    /// Keep going when a collector fails; write what was collected and mark the snapshot
    /// incomplete (exit 0). Without it, the first failure stops the run (exit 1).
    #[arg(long)]
    pub best_effort: bool,
    /// Collectors that must succeed, comma-separated [env: EIDOS_REQUIRE; config: require]: one
    /// that is not applicable, fails or times out makes the run exit 1, even with --best-effort.
    /// Required collectors run even when --collectors leaves them out.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub require: Vec<String>,
    /// Directory of static facts (*.json, *.yaml measurement files) for the built-in facts
    /// collector [env: EIDOS_FACTS_DIR; config: facts-dir] (default: /etc/eidos/facts.d; facts
    /// runs by default only when its directory exists).
    #[arg(long, value_name = "DIR")]
    pub facts_dir: Option<PathBuf>,
}

impl CollectArgs {
    /// The flags as they would be typed again, for a child `eidos snapshot` (the agent's rounds).
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        if !self.collectors.is_empty() {
            out.push("--collectors".into());
            out.push(self.collectors.join(",").into());
        }
        if !self.require.is_empty() {
            out.push("--require".into());
            out.push(self.require.join(",").into());
        }
        for item in &self.set {
            out.push("--set".into());
            out.push(item.into());
        }
        for item in &self.timeout {
            let duration = humantime::format_duration(item.duration).to_string();
            out.push("--timeout".into());
            out.push(match &item.collector {
                Some(name) => format!("{name}={duration}").into(),
                None => duration.into(),
            });
        }
        if self.best_effort {
            out.push("--best-effort".into());
        }
        out
    }

    /// Adds these flags to `flags`.
    pub fn add_to(&self, flags: &mut Flags) {
        let names = |v: &Vec<String>| {
            let v: Vec<String> = v
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect();
            (!v.is_empty()).then_some(v)
        };
        flags.collectors = names(&self.collectors);
        flags.require = names(&self.require);
        flags.timeout.clone_from(&self.timeout);
        flags.facts_dir.clone_from(&self.facts_dir);
    }
}

/// `eidos plugins …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PluginsCommand {
    /// `eidos plugins list`.
    #[command(about = PLUGINS_LIST_ABOUT)]
    List(PluginsListArgs),
    /// `eidos plugins lock`.
    #[command(about = PLUGINS_LOCK_ABOUT)]
    Lock(PluginsLockArgs),
    /// `eidos plugins describe`.
    #[command(about = PLUGINS_DESCRIBE_ABOUT)]
    Describe(PluginsDescribeArgs),
}

/// What `eidos plugins describe` does, in its help.
pub const PLUGINS_DESCRIBE_ABOUT: &str = "Show one plugin: description, kind, version, API version, file, SHA-256, and each option with its type, default and help";

/// `eidos plugins describe`.
#[derive(Debug, Args)]
#[command(about = PLUGINS_DESCRIBE_ABOUT, long_about = None)]
pub struct PluginsDescribeArgs {
    /// The plugin's name (`os`, `json`, `acme-nic` …).
    pub name: String,
    /// Which kind, when a collector and a serializer share the name.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// A plugin kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// A collector plugin.
    Collector,
    /// A serializer plugin.
    Serializer,
}

/// What `eidos plugins lock` does, in its help.
pub const PLUGINS_LOCK_ABOUT: &str = "Write a lock file (TOML) pinning the plugins that load now: name, kind, version, API version, file name and SHA-256";

/// `eidos plugins lock`.
#[derive(Debug, Args)]
#[command(about = PLUGINS_LOCK_ABOUT, long_about = None)]
pub struct PluginsLockArgs {
    /// Write to FILE instead of standard output (a regular file is replaced atomically; a device
    /// or FIFO is written in place).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// What `eidos plugins list` does, in its help.
pub const PLUGINS_LIST_ABOUT: &str =
    "List every plugin file found: name, kind, version, API version, path and status";

/// `eidos plugins list`.
#[derive(Debug, Args)]
#[command(about = PLUGINS_LIST_ABOUT, long_about = None)]
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

/// What `eidos completion` does, in its help.
pub const COMPLETION_ABOUT: &str = "Print a shell completion script";

/// `eidos completion`.
#[derive(Debug, Args)]
#[command(about = COMPLETION_ABOUT, long_about = None)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_duration;
    use clap::CommandFactory;
    use std::time::Duration;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The commands' arguments are deferred, and a deferred command takes its arguments' type's
    /// attributes last: a type whose doc comment became the `about` would replace the text its
    /// parent's command list shows. Each command's own help must say what the list says.
    #[test]
    fn each_command_describes_itself_as_the_command_list_does() {
        use clap::Subcommand;
        let about = |c: &clap::Command| c.get_about().map(|a| a.to_string()).unwrap_or_default();
        // Each level's list as the parent builds it, before any listed command is built.
        let lists = [
            (None, Cli::command()),
            (
                Some("agent"),
                AgentCommand::augment_subcommands(clap::Command::new("agent")),
            ),
            (
                Some("config"),
                ConfigCommand::augment_subcommands(clap::Command::new("config")),
            ),
            (
                Some("plugins"),
                PluginsCommand::augment_subcommands(clap::Command::new("plugins")),
            ),
            (
                Some("fleet"),
                crate::commands::fleet::FleetCommand::augment_subcommands(clap::Command::new(
                    "fleet",
                )),
            ),
        ];
        let mut built = Cli::command();
        built.build();
        let mut checked = 0;
        for (parent, list) in &lists {
            let built_parent = match parent {
                Some(name) => built.find_subcommand(name).unwrap(),
                None => &built,
            };
            for listed in list.get_subcommands() {
                let name = format!("eidos {} {}", parent.unwrap_or(""), listed.get_name());
                assert!(!about(listed).is_empty(), "{name} has no description");
                let own = built_parent.find_subcommand(listed.get_name()).unwrap();
                assert_eq!(about(own), about(listed), "{name} --help");
                checked += 1;
            }
        }
        // Every command with subcommands is listed above.
        let nested = built
            .get_subcommands()
            .filter(|c| c.has_subcommands() && c.get_name() != "help")
            .count();
        assert_eq!(nested, lists.len() - 1);
        assert!(checked > 15, "{checked}");
    }

    #[test]
    fn durations_parse_and_zero_is_refused() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("expected"));
    }

    #[test]
    fn timeouts_are_global_or_per_collector_repeatable_and_comma_separated() {
        let cli = Cli::try_parse_from([
            "eidos",
            "snapshot",
            "--timeout",
            "5s,k8s=60s",
            "--timeout",
            "gpu=1m",
        ])
        .unwrap();
        let flags = cli.flags();
        let Command::Snapshot(args) = &cli.command else {
            unreachable!()
        };
        // What the agent hands its rounds parses back to the same flags.
        let mut again = vec!["eidos".into(), "snapshot".into()];
        again.extend(args.collect.to_args());
        let reparsed = Cli::try_parse_from(again).unwrap();
        assert_eq!(reparsed.flags().timeout, flags.timeout);
        let got: Vec<_> = flags
            .timeout
            .iter()
            .map(|t| (t.collector.clone(), t.duration))
            .collect();
        assert_eq!(
            got,
            [
                (None, Duration::from_secs(5)),
                (Some("k8s".to_owned()), Duration::from_secs(60)),
                (Some("gpu".to_owned()), Duration::from_secs(60)),
            ]
        );
        let err = Cli::try_parse_from(["eidos", "snapshot", "--timeout", "k8s=soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--timeout") && err.contains("k8s"), "{err}");
        assert!(Cli::try_parse_from(["eidos", "snapshot", "--timeout", "=5s"]).is_err());
    }

    #[test]
    fn help_lists_a_commands_own_options_before_the_global_ones() {
        let help_of = |args: &[&str]| {
            let mut argv = vec!["eidos"];
            argv.extend_from_slice(args);
            argv.push("--help");
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
            err.to_string()
        };
        for args in [
            &["snapshot"][..],
            &["recipe"],
            &["serve"],
            &["config", "show"],
            &["plugins", "list"],
            &["plugins", "lock"],
            &["redact"],
            &["diff"],
            &["fleet", "report"],
        ] {
            let help = help_of(args);
            let own = help
                .find("Options:")
                .unwrap_or_else(|| panic!("{args:?}: {help}"));
            let global = help
                .find("Global options:")
                .unwrap_or_else(|| panic!("{args:?}: {help}"));
            assert!(own < global, "{args:?}: {help}");
            for flag in ["--debug", "--plugin-dir", "--config"] {
                assert!(
                    help[global..].contains(flag),
                    "{args:?}: {flag} not under Global options: {help}"
                );
                assert!(
                    !help[..global].contains(flag),
                    "{args:?}: {flag} among the command's own options: {help}"
                );
            }
        }
        let help = help_of(&["recipe"]);
        let global = help.find("Global options:").unwrap();
        assert!(help[..global].contains("--osv"), "{help}");
    }
}
