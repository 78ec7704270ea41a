//! `eidos config show`: every setting's effective value and where it came from.

use super::Context;
use crate::cli::{ConfigShowArgs, ListFormat, DEFAULT_TIMEOUT};
use crate::config::Source;
use crate::error::{CliError, CliResult};
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// One effective setting.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The config file key (dotted for sections).
    pub key: String,
    /// The effective value, as text.
    pub value: String,
    /// flag, env VAR, file PATH, or default.
    pub source: String,
}

/// Picks the first value present among environment, file and default, recording its source.
fn layered(
    env: &'static str,
    file: Option<String>,
    file_source: &Source,
    default: &str,
) -> (String, Source) {
    if let Ok(v) = std::env::var(env) {
        return (v, Source::Env(env));
    }
    match file {
        Some(v) => (v, file_source.clone()),
        None => (default.to_owned(), Source::Default),
    }
}

/// The effective settings.
pub fn settings(ctx: &Context) -> Vec<Setting> {
    let file = &ctx.config.file;
    let fs = ctx.config.file_source();
    let mut out = Vec::new();
    let mut push = |key: &str, (value, source): (String, Source)| {
        out.push(Setting {
            key: key.to_owned(),
            value,
            source: source.to_string(),
        })
    };
    let config_source = if ctx.global.config.is_some() {
        if std::env::var("EIDOS_CONFIG").is_ok() {
            Source::Env("EIDOS_CONFIG")
        } else {
            Source::Flag
        }
    } else {
        Source::Default
    };
    let config_path = ctx
        .config
        .path
        .clone()
        .or_else(crate::config::default_path)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_path = if ctx.config.path.is_none() {
        format!("{config_path} (not present)")
    } else {
        config_path
    };
    push("config", (config_path, config_source));
    push(
        "format",
        layered(
            "EIDOS_FORMAT",
            file.format.clone(),
            &fs,
            "yaml (json for --output *.json)",
        ),
    );
    push(
        "default-collectors",
        layered(
            "EIDOS_COLLECTORS",
            file.default_collectors.as_ref().map(|c| c.join(",")),
            &fs,
            "all installed collectors",
        ),
    );
    push(
        "timeout",
        layered(
            "EIDOS_TIMEOUT",
            file.timeout.clone(),
            &fs,
            &humantime::format_duration(DEFAULT_TIMEOUT).to_string(),
        ),
    );
    let flag_dirs: Vec<String> = ctx
        .global
        .plugin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    if !flag_dirs.is_empty() {
        push("plugin-dirs (flags)", (flag_dirs.join(":"), Source::Flag));
    }
    if let Ok(v) = std::env::var("EIDOS_PLUGIN_PATH") {
        push("plugin-dirs (env)", (v, Source::Env("EIDOS_PLUGIN_PATH")));
    }
    let file_dirs = file.plugin_dirs.as_ref().map(|d| {
        d.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    });
    push(
        "plugin-dirs",
        match file_dirs {
            Some(d) => (d, fs.clone()),
            None => ("none".to_owned(), Source::Default),
        },
    );
    let lock = match (&ctx.global.plugin_lock, std::env::var("EIDOS_PLUGIN_LOCK")) {
        (Some(_), Ok(v)) => (v, Source::Env("EIDOS_PLUGIN_LOCK")),
        (Some(p), Err(_)) => (p.display().to_string(), Source::Flag),
        (None, _) => match &file.plugin_lock {
            Some(p) => (p.display().to_string(), fs.clone()),
            None => ("none".to_owned(), Source::Default),
        },
    };
    push("plugin-lock", lock);
    push(
        "recipes",
        layered(
            "EIDOS_RECIPES",
            file.recipes.as_ref().map(|p| p.display().to_string()),
            &fs,
            "embedded recipe data",
        ),
    );
    for (collector, table) in &file.collectors {
        for (key, value) in table {
            push(
                &format!("collectors.{collector}.{key}"),
                (value.as_setting(), fs.clone()),
            );
        }
    }
    let serve = &file.serve;
    push(
        "serve.addr",
        layered("EIDOS_ADDR", serve.addr.clone(), &fs, "0.0.0.0:8080"),
    );
    push(
        "serve.rate-limit",
        layered(
            "EIDOS_RATE_LIMIT",
            serve.rate_limit.map(|v| v.to_string()),
            &fs,
            "100",
        ),
    );
    push(
        "serve.rate-burst",
        layered(
            "EIDOS_RATE_BURST",
            serve.rate_burst.map(|v| v.to_string()),
            &fs,
            "200",
        ),
    );
    push(
        "serve.request-timeout",
        layered(
            "EIDOS_REQUEST_TIMEOUT",
            serve.request_timeout.clone(),
            &fs,
            "10s",
        ),
    );
    push(
        "serve.shutdown-timeout",
        layered(
            "EIDOS_SHUTDOWN_TIMEOUT",
            serve.shutdown_timeout.clone(),
            &fs,
            "30s",
        ),
    );
    out
}

/// Prints the effective configuration.
pub fn show(ctx: &Context, args: &ConfigShowArgs) -> CliResult {
    let settings = settings(ctx);
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
