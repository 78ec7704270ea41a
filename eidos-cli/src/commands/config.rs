//! `eidos config show`: every setting's effective value and where it came from.

use super::Context;
use crate::cli::{ConfigShowArgs, ListFormat};
use crate::error::{CliError, CliResult};
use crate::settings::{Setting as Resolved, Settings, Source};
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use std::time::Duration;

/// One effective setting.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The config file key (dotted for sections).
    pub key: String,
    /// The effective value, as text.
    pub value: String,
    /// flag NAME, env VAR, file PATH:LINE, or default.
    pub source: String,
}

fn row<T>(key: &str, setting: &Resolved<T>, show: impl Fn(&T) -> String) -> Setting {
    Setting {
        key: key.to_owned(),
        value: show(&setting.value),
        source: setting.source.to_string(),
    }
}

fn duration(d: &Duration) -> String {
    humantime::format_duration(*d).to_string()
}

fn default_row(key: &str, value: &str) -> Setting {
    Setting {
        key: key.to_owned(),
        value: value.to_owned(),
        source: Source::Default.to_string(),
    }
}

/// The effective settings, as `eidos config show` prints them: exactly the values the commands
/// use, read from the one resolved [`Settings`].
pub fn settings(settings: &Settings) -> Vec<Setting> {
    let mut out = Vec::new();
    out.push(match &settings.config.value {
        Some(path) => row("config", &settings.config, |_| path.display().to_string()),
        None => default_row(
            "config",
            &crate::config::default_path()
                .map(|p| format!("{} (not present)", p.display()))
                .unwrap_or_else(|| "none".to_owned()),
        ),
    });
    out.push(match &settings.format {
        // The file's format gives way to an --output file's extension; flags and the variable do not.
        Some(f) if matches!(f.source, Source::File { .. }) => row("format", f, |v| {
            format!("{v} (an --output FILE ending in .json, .yaml or .yml writes that instead)")
        }),
        Some(f) => row("format", f, String::clone),
        None => default_row(
            "format",
            "yaml (or as --output FILE ends: .json, .yaml, .yml)",
        ),
    });
    out.push(row("collectors", &settings.collectors, |c| {
        if c.is_empty() {
            "every collector found, except the opt-in ones (example)".to_owned()
        } else {
            c.join(",")
        }
    }));
    out.push(row("require", &settings.require, |r| {
        if r.is_empty() {
            "none".to_owned()
        } else {
            r.join(",")
        }
    }));
    out.push(row("timeout", &settings.timeouts.global(), duration));
    for name in settings.timeouts.named() {
        out.push(row(
            &format!("timeouts.{name}"),
            &settings.timeouts.for_collector(&name),
            duration,
        ));
    }
    if settings.plugin_dirs.is_empty() {
        out.push(default_row("plugin-dirs", "none"));
    }
    for dir in &settings.plugin_dirs {
        out.push(row("plugin-dirs", dir, |d| d.display().to_string()));
    }
    out.push(row(
        "no-default-plugin-dirs",
        &settings.no_default_plugin_dirs,
        bool::to_string,
    ));
    out.push(match &settings.plugin_lock {
        Some(lock) => row("plugin-lock", lock, |p| p.display().to_string()),
        None => default_row("plugin-lock", "none"),
    });
    out.push(match &settings.recipes {
        Some(r) => row("recipes", r, |p| p.display().to_string()),
        None => default_row("recipes", "embedded recipe data"),
    });
    if settings.overlays.is_empty() {
        out.push(default_row("overlays", "none"));
    }
    for dir in &settings.overlays {
        out.push(row("overlays", dir, |d| d.display().to_string()));
    }
    out.push(row("host-root", &settings.host_root, |p| {
        p.display().to_string()
    }));
    out.push(row("facts-dir", &settings.facts_dir, |p| {
        p.display().to_string()
    }));
    for (collector, table) in &settings.collector_options {
        for (key, value) in table {
            out.push(row(
                &format!("collectors.{collector}.{key}"),
                value,
                String::clone,
            ));
        }
    }
    let serve = &settings.serve;
    out.push(row("serve.addr", &serve.addr, ToString::to_string));
    out.push(row(
        "serve.rate-limit",
        &serve.rate_limit,
        ToString::to_string,
    ));
    out.push(row(
        "serve.rate-burst",
        &serve.rate_burst,
        ToString::to_string,
    ));
    out.push(row(
        "serve.request-timeout",
        &serve.request_timeout,
        duration,
    ));
    out.push(row(
        "serve.shutdown-timeout",
        &serve.shutdown_timeout,
        duration,
    ));
    out.push(row(
        "serve.body-limit",
        &serve.body_limit,
        ToString::to_string,
    ));
    out
}

/// Prints the effective configuration.
pub fn show(ctx: &Context, args: &ConfigShowArgs) -> CliResult {
    let settings = settings(&ctx.settings);
    let text = match args.format {
        ListFormat::Json => {
            serde_json::to_string_pretty(&settings).map_err(CliError::runtime)? + "\n"
        }
        ListFormat::Yaml => serde_yaml::to_string(&settings).map_err(CliError::runtime)?,
        ListFormat::Table => {
            let mut table = Table::new();
            table
                .load_preset(presets::NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(["KEY", "VALUE", "SOURCE"]);
            for s in &settings {
                table.add_row([s.key.as_str(), s.value.as_str(), s.source.as_str()]);
            }
            table
                .lines()
                .map(|l| l.trim_end().to_owned() + "\n")
                .collect()
        }
    };
    crate::host::output::emit(text.as_bytes(), None).map_err(CliError::runtime)
}
