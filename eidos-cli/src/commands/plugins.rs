//! `eidos plugins list`: every plugin file on the search path and its state.

use super::Context;
use crate::cli::{ListFormat, PluginsListArgs, PluginsLockArgs};
use crate::error::{CliError, CliResult};
use crate::host::lock::{Lock, LockedPlugin, LOCK_VERSION};
use crate::host::output;
use crate::host::registry::{PluginEntry, PluginStatus};
use comfy_table::{presets, ContentArrangement, Table};

/// Lists the plugins.
pub fn list(ctx: &Context, args: &PluginsListArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let entries = registry.entries();
    let text = match args.format {
        ListFormat::Json => {
            serde_json::to_string_pretty(&entries).map_err(CliError::runtime)? + "\n"
        }
        ListFormat::Yaml => serde_yaml::to_string(&entries).map_err(CliError::runtime)?,
        ListFormat::Table => table(&entries),
    };
    crate::host::output::emit(text.as_bytes(), None).map_err(CliError::runtime)
}

/// Writes a lock file pinning every plugin that loads now.
pub fn lock(ctx: &Context, args: &PluginsLockArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let mut plugins = Vec::new();
    for entry in registry.entries() {
        if entry.builtin {
            // Part of eidos itself: the eidos binary is what a site pins.
            continue;
        }
        match &entry.status {
            PluginStatus::Loaded => {}
            PluginStatus::Shadowed { .. } => continue,
            PluginStatus::Refused { reason } => {
                tracing::warn!("not locked: {reason}");
                continue;
            }
        }
        plugins.push(LockedPlugin {
            name: entry.name.clone(),
            kind: entry.kind.to_string(),
            version: entry.version.clone().unwrap_or_default(),
            api_version: entry.api_version.clone().unwrap_or_default(),
            file: entry
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            // The hash of the bytes that were checked and loaded, not of a second read.
            sha256: entry.sha256.clone().unwrap_or_default(),
        });
    }
    if plugins.is_empty() {
        return Err(CliError::runtime(anyhow::anyhow!(
            "no plugin loads, so there is nothing to lock"
        )));
    }
    plugins.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    let lock = Lock {
        version: LOCK_VERSION,
        plugins,
        source: String::new(),
    };
    output::emit(lock.to_toml().as_bytes(), args.output.as_deref()).map_err(CliError::runtime)
}

fn table(entries: &[PluginEntry]) -> String {
    if entries.is_empty() {
        return "no plugins found (see `eidos plugins list --debug` for the directories searched)\n".to_owned();
    }
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["NAME", "KIND", "VERSION", "API", "STATUS", "PATH"]);
    for e in entries {
        let status = match &e.status {
            PluginStatus::Loaded if e.builtin => "built-in".to_owned(),
            PluginStatus::Loaded => "loaded".to_owned(),
            PluginStatus::Shadowed { by } => format!("shadowed by {}", by.display()),
            PluginStatus::Refused { reason } => format!("refused: {reason}"),
        };
        table.add_row([
            e.name.clone(),
            e.kind.to_string(),
            e.version.clone().unwrap_or_else(|| "-".into()),
            e.api_version.clone().unwrap_or_else(|| "-".into()),
            status,
            e.path.display().to_string(),
        ]);
    }
    let mut out: String = table
        .lines()
        .map(|l| l.trim_end().to_owned() + "\n")
        .collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}
