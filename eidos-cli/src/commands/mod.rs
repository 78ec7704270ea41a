//! One module per command.

pub mod completion;
pub mod config;
pub mod plugins;
pub mod recipe;
pub mod serve;
pub mod snapshot;
pub mod validate;

use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::host::discovery::SearchPathSpec;
use crate::host::loader::LoadPolicy;
use crate::host::lock::Lock;
use crate::host::registry::Registry;
use std::path::PathBuf;
use std::sync::Arc;

/// What every command gets: the global options and the loaded configuration.
pub struct Context {
    /// The global command-line options.
    pub global: GlobalArgs,
    /// The configuration file's contents.
    pub config: Config,
}

impl Context {
    /// The plugin lock in force: `--plugin-lock` / `EIDOS_PLUGIN_LOCK`, else the config file's.
    pub fn lock_path(&self) -> Option<PathBuf> {
        self.global
            .plugin_lock
            .clone()
            .or_else(|| self.config.file.plugin_lock.clone())
    }

    /// The output format: `--format` (or `EIDOS_FORMAT`), else the config file's `format`, else by
    /// the output file's extension. Its serializer is resolved at once, so that a wrong format is a
    /// usage error before any work is done.
    pub fn output_format(
        &self,
        registry: &mut Registry,
        flag: Option<&str>,
        output: Option<&std::path::Path>,
    ) -> CliResult<String> {
        let format = flag
            .map(str::to_owned)
            .or_else(|| self.config.file.format.clone())
            .unwrap_or_else(|| crate::host::output::default_format(output).to_owned());
        registry.serializer_for(&format).map_err(CliError::usage)?;
        Ok(format)
    }

    /// The plugin registry for the configured search path and load policy.
    pub fn registry(&self) -> CliResult<Registry> {
        let lock = match self.lock_path() {
            Some(path) => Some(Arc::new(Lock::read(&path).map_err(CliError::usage)?)),
            None => None,
        };
        if self.global.allow_insecure_plugins {
            tracing::warn!("--allow-insecure-plugins: plugin ownership and permission checks are off (development only)");
        }
        let policy = LoadPolicy {
            lock,
            allow_insecure: self.global.allow_insecure_plugins,
        };
        let spec = SearchPathSpec::from_environment(
            self.global.plugin_dirs.clone(),
            self.config.file.plugin_dirs.clone().unwrap_or_default(),
            self.global.no_default_plugin_dirs,
        );
        let registry = Registry::discover(spec.dirs(), policy);
        for dir in registry.dirs() {
            tracing::debug!(dir = %dir.path.display(), source = ?dir.source, "plugin search path");
        }
        Ok(registry)
    }
}
