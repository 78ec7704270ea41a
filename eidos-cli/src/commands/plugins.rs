//! `eidos plugins list`: every plugin file on the search path and its state; `eidos plugins
//! describe NAME`: one plugin in full, options included.

use super::Context;
use crate::cli::{KindArg, ListFormat, PluginsDescribeArgs, PluginsListArgs, PluginsLockArgs};
use crate::error::{CliError, CliResult};
use crate::host::discovery::normalize_name;
use crate::host::lock::{Lock, LockedPlugin, LOCK_VERSION};
use crate::host::output;
use crate::host::registry::{PluginEntry, PluginStatus};
use comfy_table::{presets, ColumnConstraint, ContentArrangement, Table, Width};
use eidos_plugin_api::{Manifest, OptionSpec, PluginKind};
use serde::Serialize;

/// The widest a STATUS cell of `eidos plugins list` gets; a longer refusal reason wraps inside it.
const STATUS_WIDTH: u16 = 60;

/// Lists the plugins.
pub fn list(ctx: &Context, args: &PluginsListArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let entries = registry.entries();
    let text = match args.format {
        ListFormat::Table => table(&entries),
        other => structured(&entries, other)?,
    };
    crate::host::output::emit(text.as_bytes(), None).map_err(CliError::runtime)
}

/// `value` as JSON or YAML.
fn structured(value: &impl Serialize, format: ListFormat) -> CliResult<String> {
    Ok(match format {
        ListFormat::Yaml => serde_yaml::to_string(value).map_err(CliError::runtime)?,
        _ => serde_json::to_string_pretty(value).map_err(CliError::runtime)? + "\n",
    })
}

/// One option as `eidos plugins describe` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OptionRow {
    key: String,
    #[serde(rename = "type")]
    value_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    description: String,
}

impl From<&OptionSpec> for OptionRow {
    fn from(spec: &OptionSpec) -> Self {
        OptionRow {
            key: spec.key.clone(),
            value_type: spec.type_name().to_owned(),
            values: spec.values.clone(),
            default: spec.default.clone(),
            description: spec.description.clone(),
        }
    }
}

/// A plugin as `eidos plugins describe` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Description {
    #[serde(flatten)]
    entry: PluginEntry,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    options: Vec<OptionRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volatile_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sensitive_keys: Vec<String>,
}

/// Describes one plugin. An unknown name is a usage error (exit 2); a plugin that is refused is
/// described as far as its file tells, and the command exits 1.
pub fn describe(ctx: &Context, args: &PluginsDescribeArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let wanted = normalize_name(args.name.trim());
    let kind = args.kind.map(|k| match k {
        KindArg::Collector => PluginKind::Collector,
        KindArg::Serializer => PluginKind::Serializer,
    });
    let entries = registry.entries();
    let matching: Vec<&PluginEntry> = entries
        .iter()
        .filter(|e| normalize_name(&e.name) == wanted && kind.is_none_or(|k| e.kind == k))
        .filter(|e| !matches!(e.status, PluginStatus::Shadowed { .. }))
        .collect();
    let entry = match matching.as_slice() {
        [] => {
            let mut known: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            known.sort();
            known.dedup();
            return Err(crate::usage_error!(
                "no plugin named {:?}{}: found {}",
                args.name,
                kind.map(|k| format!(" of kind {k}")).unwrap_or_default(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        [one] => (*one).clone(),
        _ => {
            return Err(crate::usage_error!(
            "{:?} names a collector and a serializer: add --kind collector or --kind serializer",
            args.name
        ))
        }
    };
    let manifest: Option<Manifest> = registry
        .get(entry.kind, &entry.name)
        .and_then(Result::ok)
        .map(|p| p.manifest);
    let refused = match &entry.status {
        PluginStatus::Refused { reason } => Some(reason.clone()),
        _ => None,
    };
    let description = Description {
        options: manifest
            .as_ref()
            .map(|m| m.options.iter().map(OptionRow::from).collect())
            .unwrap_or_default(),
        volatile_keys: manifest
            .as_ref()
            .map(|m| m.volatile_keys.clone())
            .unwrap_or_default(),
        sensitive_keys: manifest
            .as_ref()
            .map(|m| m.sensitive_keys.clone())
            .unwrap_or_default(),
        entry,
    };
    let text = match args.format {
        ListFormat::Table => describe_table(&description),
        other => structured(&description, other)?,
    };
    output::emit(text.as_bytes(), None).map_err(CliError::runtime)?;
    match refused {
        Some(reason) => Err(CliError::runtime(anyhow::anyhow!(
            "plugin {} cannot be used: {reason}",
            args.name
        ))),
        None => Ok(()),
    }
}

fn describe_table(d: &Description) -> String {
    let e = &d.entry;
    let dash = || "-".to_owned();
    let mut fields = vec![
        ("name", e.name.clone()),
        ("kind", e.kind.to_string()),
        ("version", e.version.clone().unwrap_or_else(dash)),
        ("api version", e.api_version.clone().unwrap_or_else(dash)),
        ("description", e.description.clone().unwrap_or_else(dash)),
        ("file", e.path.display().to_string()),
        ("sha256", e.sha256.clone().unwrap_or_else(dash)),
        ("status", status_text(e)),
    ];
    if !e.formats.is_empty() {
        fields.push(("formats", e.formats.join(", ")));
    }
    if !d.volatile_keys.is_empty() {
        fields.push(("volatile keys", d.volatile_keys.join(", ")));
    }
    if !d.sensitive_keys.is_empty() {
        fields.push(("sensitive keys", d.sensitive_keys.join(", ")));
    }
    let mut out: String = fields
        .iter()
        // One column wider than the longest label (`sensitive keys:`), so that a value is always
        // set off by a space.
        .map(|(k, v)| format!("{:<16}{}\n", format!("{k}:"), v))
        .collect();
    if e.kind == PluginKind::Collector {
        if d.options.is_empty() {
            out.push_str("\nno options\n");
        } else {
            let mut table = Table::new();
            table
                .load_preset(presets::NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(["OPTION", "TYPE", "DEFAULT", "HELP"]);
            for o in &d.options {
                let value_type = if o.values.is_empty() {
                    o.value_type.clone()
                } else {
                    format!("{}: {}", o.value_type, o.values.join(", "))
                };
                table.add_row([
                    o.key.clone(),
                    value_type,
                    o.default.clone().unwrap_or_else(dash),
                    o.description.clone(),
                ]);
            }
            out.push('\n');
            for line in table.lines() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

fn status_text(e: &PluginEntry) -> String {
    match &e.status {
        PluginStatus::Loaded if e.builtin => "built-in".to_owned(),
        PluginStatus::Loaded => "loaded".to_owned(),
        PluginStatus::Shadowed { by } => format!("shadowed by {}", by.display()),
        PluginStatus::Refused { reason } => format!("refused: {reason}"),
    }
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
    // One row per plugin; a long refusal reason wraps inside its STATUS cell instead of making
    // the line hundreds of columns wide.
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["NAME", "KIND", "VERSION", "API", "STATUS", "PATH"]);
    if let Some(column) = table.column_mut(4) {
        column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(STATUS_WIDTH)));
    }
    for e in entries {
        let status = status_text(e);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entry(name: &str, status: PluginStatus) -> PluginEntry {
        PluginEntry {
            name: name.to_owned(),
            kind: PluginKind::Collector,
            version: Some("1.0.0".into()),
            api_version: Some("1.2.0".into()),
            formats: vec![],
            description: None,
            path: PathBuf::from(format!(
                "/usr/lib/eidos/plugins/libeidos_collector_{name}.so"
            )),
            sha256: None,
            status,
            builtin: false,
        }
    }

    #[test]
    fn a_long_refusal_reason_wraps_inside_its_status_cell() {
        let reason = format!(
            "has an incompatible plugin ABI: {}",
            "layout mismatch ".repeat(40)
        );
        let text = table(&[
            entry("os", PluginStatus::Loaded),
            entry("acme_nic", PluginStatus::Refused { reason }),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        let widest = lines.iter().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 180, "{widest} columns:\n{text}");
        // One row per plugin: each name and path is on one line, the reason continues below.
        assert_eq!(
            lines.iter().filter(|l| l.contains("acme_nic")).count(),
            1,
            "{text}"
        );
        assert!(lines.len() > 3, "the reason wraps:\n{text}");
        assert!(
            text.contains("refused: has an incompatible plugin ABI"),
            "{text}"
        );
    }
}
