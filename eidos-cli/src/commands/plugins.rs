//! `eidos plugins list`: every plugin file on the search path and its state.

use crate::cli::{GlobalArgs, ListFormat, PluginsListArgs};
use crate::error::{CliError, CliResult};
use crate::host::registry::{PluginEntry, PluginStatus};
use comfy_table::{presets, ContentArrangement, Table};

/// Lists the plugins.
pub fn list(global: &GlobalArgs, args: &PluginsListArgs) -> CliResult {
    let mut registry = super::registry(global);
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
