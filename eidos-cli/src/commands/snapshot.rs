//! `eidos snapshot`: runs the selected collectors concurrently and writes the snapshot.

use super::Context;
use crate::cli::{SnapshotArgs, DEFAULT_TIMEOUT};
use crate::error::{CliError, CliResult};
use crate::host::collect::{self, Job, JobResult, Settings};
use crate::host::output::{self, OutputError};
use crate::host::registry::Registry;
use crate::host::{discovery, options};
use crate::usage_error;
use anyhow::Context as _;
use eidos_plugin_api::model::{CollectorStatus, Metadata};
use eidos_plugin_api::{PluginKind, Snapshot};
use std::collections::BTreeMap;
use std::path::Path;

/// What to collect: the collector flags `eidos snapshot` and `eidos validate` share.
#[derive(Debug, Clone, Copy)]
pub struct Collection<'a> {
    /// `--collectors` (empty: the config file's default-collectors, else every collector).
    pub collectors: &'a [String],
    /// `--set NAME.KEY=VALUE` options.
    pub set: &'a [String],
    /// `--timeout` (default: the config file's, else 5s).
    pub timeout: Option<std::time::Duration>,
    /// `--best-effort`: keep going past failures and mark the snapshot incomplete.
    pub best_effort: bool,
}

impl<'a> Collection<'a> {
    /// The collection `eidos snapshot ARGS` asks for.
    pub fn of(args: &'a SnapshotArgs) -> Collection<'a> {
        Collection {
            collectors: &args.collectors,
            set: &args.set,
            timeout: args.timeout,
            best_effort: args.best_effort,
        }
    }
}

/// Runs `eidos snapshot`.
pub fn run(ctx: &Context, args: &SnapshotArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let format = ctx.output_format(
        &mut registry,
        args.format.as_deref(),
        args.output.as_deref(),
    )?;
    let snapshot = take(ctx, &mut registry, Collection::of(args))?;
    let document = serde_json::to_value(&snapshot)
        .context("encoding the snapshot")
        .map_err(CliError::runtime)?;
    let bytes = output::render(&mut registry, document, &format).map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)
}

/// Runs the selected collectors concurrently and assembles the snapshot of this node. Without
/// `best_effort`, the first failure is an error (exit 1); a bad option is a usage error.
pub fn take(ctx: &Context, registry: &mut Registry, what: Collection<'_>) -> CliResult<Snapshot> {
    let timeout = match what.timeout {
        Some(t) => t,
        None => ctx
            .config
            .timeout()
            .map_err(CliError::usage)?
            .unwrap_or(DEFAULT_TIMEOUT),
    };

    let jobs = select_collectors(ctx, registry, what)?;
    let settings = Settings {
        timeout,
        best_effort: what.best_effort,
        host_root: std::env::var("EIDOS_HOST_ROOT").unwrap_or_else(|_| "/".to_owned()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("starting the async runtime")
        .map_err(CliError::runtime)?;
    let results = runtime.block_on(collect::run(jobs, &settings));
    runtime.shutdown_background();

    for r in &results {
        for w in &r.report.warnings {
            tracing::warn!(collector = %r.name, "{w}");
        }
        if r.report.status == CollectorStatus::NotApplicable {
            tracing::info!(collector = %r.name, reason = r.report.reason.as_deref().unwrap_or(""), "not applicable");
        }
    }
    // A bad option value is the caller's mistake in either mode: a usage error, nothing written.
    if let Some(bad) = results.iter().find(|r| r.invalid_option) {
        return Err(usage_error!(
            "collector {}: {}",
            bad.name,
            bad.report.reason.as_deref().unwrap_or("invalid option")
        ));
    }
    let failures: Vec<&JobResult> = results.iter().filter(|r| r.is_failure()).collect();
    if !what.best_effort {
        if let Some(failed) = failures.first() {
            return Err(CliError::runtime(anyhow::anyhow!(
                "collector {} {}: {} (use --best-effort to write what the other collectors found)",
                failed.name,
                failed.report.status.as_str().replace('-', " "),
                failed.report.reason.as_deref().unwrap_or("no reason given"),
            )));
        }
    }
    for failed in &failures {
        tracing::warn!(
            collector = %failed.name,
            "{}: {}; the snapshot is marked incomplete",
            failed.report.status.as_str(),
            failed.report.reason.as_deref().unwrap_or("")
        );
    }
    Ok(assemble(results, &settings.host_root))
}

fn output_error(e: OutputError) -> CliError {
    match e {
        OutputError::UnknownFormat(_) => CliError::usage(e),
        other => CliError::runtime(other),
    }
}

/// The jobs for the selected collectors (default: the config file's default-collectors, else every
/// collector that loads), with options from the config file overridden by `--set`.
fn select_collectors(
    ctx: &Context,
    registry: &mut Registry,
    args: Collection<'_>,
) -> CliResult<Vec<Job>> {
    let available = registry.names(PluginKind::Collector);
    let mut plugins = Vec::new();
    let wanted: Vec<String> = if args.collectors.is_empty() {
        ctx.config
            .file
            .default_collectors
            .clone()
            .unwrap_or_default()
    } else {
        args.collectors.to_vec()
    };
    if wanted.is_empty() {
        plugins = registry.load_all(PluginKind::Collector);
        if plugins.is_empty() {
            return Err(CliError::runtime(anyhow::anyhow!(
                "no collector plugins found; searched: {}",
                search_path(registry)
            )));
        }
    } else {
        let mut seen = Vec::new();
        for name in &wanted {
            let name = name.trim();
            let key = discovery::normalize_name(name);
            if name.is_empty() || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            match registry.get(PluginKind::Collector, name) {
                None => {
                    return Err(usage_error!(
                        "unknown collector {name:?}: available collectors are {}",
                        if available.is_empty() {
                            "none".to_owned()
                        } else {
                            available.join(", ")
                        }
                    ))
                }
                Some(Err(e)) => {
                    return Err(CliError::runtime(anyhow::anyhow!(
                        "collector {name:?} cannot be used: {e}"
                    )))
                }
                Some(Ok(plugin)) => plugins.push(plugin),
            }
        }
    }
    let manifests: Vec<_> = plugins.iter().map(|p| &p.manifest).collect();
    let mut by_collector = file_options(ctx, &manifests, &available)?;
    for (collector, set) in options::resolve(args.set, &manifests).map_err(CliError::usage)? {
        by_collector.entry(collector).or_default().extend(set);
    }
    Ok(plugins
        .into_iter()
        .map(|plugin| {
            let options = by_collector
                .remove(&plugin.manifest.name)
                .unwrap_or_default();
            Job { plugin, options }
        })
        .collect())
}

/// Options for the selected collectors from the config file's `[collectors.NAME]` tables. Tables for
/// collectors that are not selected are ignored; a key a selected collector does not declare is an
/// error naming the file.
fn file_options(
    ctx: &Context,
    selected: &[&eidos_plugin_api::Manifest],
    available: &[String],
) -> CliResult<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let file = ctx
        .config
        .path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    for (collector, table) in &ctx.config.file.collectors {
        let Some(manifest) = selected.iter().find(|m| m.name == *collector) else {
            if !available.contains(collector) {
                tracing::warn!(
                    "config file {file}: [collectors.{collector}] names no installed collector"
                );
            }
            continue;
        };
        for (key, value) in table {
            if !manifest.options.iter().any(|o| o.key == *key) {
                let known: Vec<_> = manifest.options.iter().map(|o| o.key.as_str()).collect();
                return Err(usage_error!(
                    "config file {file}: [collectors.{collector}] has unknown option {key:?} ({})",
                    if known.is_empty() {
                        "it takes no options".to_owned()
                    } else {
                        format!("known options: {}", known.join(", "))
                    }
                ));
            }
            out.entry(collector.clone())
                .or_default()
                .insert(key.clone(), value.as_setting());
        }
    }
    Ok(out)
}

fn search_path(registry: &Registry) -> String {
    registry
        .dirs()
        .iter()
        .map(|d| d.path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds the snapshot document from the collectors' results.
fn assemble(results: Vec<JobResult>, host_root: &str) -> Snapshot {
    let complete = results.iter().all(|r| {
        matches!(
            r.report.status,
            CollectorStatus::Ok | CollectorStatus::NotApplicable
        )
    });
    let mut snapshot = Snapshot {
        metadata: Metadata {
            complete: Some(complete),
            measurement_timestamp: Some(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            ),
            snapshot_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            source_node: Some(node_name(Path::new(host_root))),
            ..Metadata::default()
        },
        ..Snapshot::default()
    };
    for result in results {
        snapshot.measurements.extend(result.measurements);
        snapshot
            .metadata
            .collectors
            .insert(result.name, result.report);
    }
    snapshot
}

/// The node's name: `NODE_NAME` (set in Kubernetes pods from the downward API), else the host's
/// kernel host name.
fn node_name(host_root: &Path) -> String {
    if let Ok(name) = std::env::var("NODE_NAME") {
        if !name.trim().is_empty() {
            return name.trim().to_owned();
        }
    }
    ["proc/sys/kernel/hostname", "etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(host_root.join(p)).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
