//! One module per command.

pub mod agent;
pub mod completion;
pub mod config;
pub mod diff;
pub mod fleet;
pub mod plugins;
pub mod recipe;
pub mod redact;
pub mod serve;
pub mod snapshot;
pub mod validate;

use crate::error::{CliError, CliResult};
use crate::host::discovery::SearchPathSpec;
use crate::host::facts::FactsCollector;
use crate::host::loader::{LoadPolicy, LoadedPlugin};
use crate::host::lock::Lock;
use crate::host::manifest_cache::ManifestCache;
use crate::host::probe_cache::ProbeCache;
use crate::host::registry::Registry;
use crate::settings::{Settings, Source};
use std::sync::Arc;

/// What every command gets: the resolved settings.
pub struct Context {
    /// Every setting, resolved once from flags, environment, config file and defaults.
    pub settings: Settings,
}

impl Context {
    /// The output format for `output` (see [`Settings::output_format`]). Its serializer is resolved
    /// at once, so that a wrong format is a usage error, naming where it came from, before any
    /// work is done.
    pub fn output_format(
        &self,
        registry: &mut Registry,
        output: Option<&std::path::Path>,
    ) -> CliResult<String> {
        let format = self.settings.output_format(output);
        registry
            .serializer_for(&format.value)
            .map_err(|e| match &format.source {
                Source::Default => CliError::usage(e),
                source => {
                    CliError::usage(anyhow::Error::new(e).context(format!("format from {source}")))
                }
            })?;
        Ok(format.value)
    }

    /// The plugin registry for the configured search path and load policy.
    pub fn registry(&self) -> CliResult<Registry> {
        let settings = &self.settings;
        let lock = match &settings.plugin_lock {
            Some(path) => Some(Arc::new(Lock::read(&path.value).map_err(CliError::usage)?)),
            None => None,
        };
        if settings.allow_insecure_plugins {
            tracing::warn!("--allow-insecure-plugins: plugin ownership and permission checks are off (development only)");
        }
        let policy = LoadPolicy {
            lock,
            allow_insecure: settings.allow_insecure_plugins,
            probe_cache: ProbeCache::for_this_process().map(Arc::new),
            manifest_cache: ManifestCache::for_this_process().map(Arc::new),
        };
        // The flag, environment and file directories come resolved from the settings; the rest of
        // the search path (the executable's directory, the user's and the system's) from here.
        let dirs_from = |kind: fn(&Source) -> bool| {
            settings
                .plugin_dirs
                .iter()
                .filter(|d| kind(&d.source))
                .map(|d| d.value.clone())
                .collect::<Vec<_>>()
        };
        let mut spec = SearchPathSpec::from_environment(
            dirs_from(|s| matches!(s, Source::Flag(_))),
            dirs_from(|s| matches!(s, Source::File { .. })),
            settings.no_default_plugin_dirs.value,
        );
        let env_dirs = dirs_from(|s| matches!(s, Source::Env(_)));
        spec.env_path = (!env_dirs.is_empty()).then(|| {
            env_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        });
        let mut registry = Registry::discover(spec.dirs(), policy);
        registry.add_builtin(LoadedPlugin::facts(FactsCollector::new(
            settings.facts_dir.value.clone(),
            !settings.allow_insecure_plugins,
        )));
        for dir in registry.dirs() {
            tracing::debug!(dir = %dir.path.display(), source = ?dir.source, "plugin search path");
        }
        Ok(registry)
    }
}
