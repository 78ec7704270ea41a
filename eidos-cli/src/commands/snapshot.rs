//! `eidos snapshot`: runs the selected collectors concurrently and writes the snapshot.

use super::Context;
use crate::cli::{CollectArgs, SnapshotArgs};
use crate::error::{CliError, CliResult};
use crate::host::collect::{self, Job, JobResult, RunOptions};
use crate::host::facts::{self, FactsCollector};
use crate::host::output::{self, OutputError};
use crate::host::registry::Registry;
use crate::host::{discovery, options};
use crate::settings::Source;
use crate::usage_error;
use anyhow::Context as _;
use eidos_plugin_api::model::{CollectorStatus, Metadata};
use eidos_plugin_api::{PluginKind, Snapshot};
use std::path::Path;

/// Collectors that run only when asked for by name (`--collectors`, `default-collectors`,
/// `--require`), never in the default "every collector found" set.
///
/// `example` is the plugin SDK's walk-through collector (`plugins/collector-example`). It is built
/// with the workspace and so sits next to a development build's `eidos`, but it measures nothing a
/// node's configuration depends on: it must not show up in users' snapshots by default.
pub const OPT_IN_COLLECTORS: &[&str] = &["example"];

/// Runs `eidos snapshot`.
pub fn run(ctx: &Context, args: &SnapshotArgs) -> CliResult {
    if !args.redact && args.redact_options.any_pattern_or_map() {
        return Err(usage_error!(
            "--redact-keep, --redact-also and --redact-map need --redact"
        ));
    }
    // A `cm://` output is checked before anything is collected: a malformed one exits 2 at once.
    let configmap = crate::fleet::cm_address(args.output.as_deref())?;
    let file = match configmap {
        Some(_) => None,
        None => args.output.as_deref(),
    };
    let mut registry = ctx.registry()?;
    let format = ctx.output_format(&mut registry, file)?;
    if configmap.is_some() {
        crate::fleet::check_stored_format(&format)?;
    }
    // Checked before anything is collected: a map over the output would destroy it.
    if let (true, Some(map)) = (args.redact, &args.redact_options.redact_map) {
        super::redact::check_map_path(map, None, file)?;
    }
    let mut outcome = collect(ctx, &mut registry, &args.collect)?;
    if args.redact {
        outcome.snapshot = super::redact::apply(
            &mut registry,
            &outcome.snapshot,
            &args.redact_options,
            None,
            file,
        )?
        .snapshot;
    }
    let document = serde_json::to_value(&outcome.snapshot)
        .context("encoding the snapshot")
        .map_err(CliError::runtime)?;
    let bytes = match configmap {
        // Rendered as for a file: no terminal width.
        Some(_) => output::render(&mut registry, document, &format, Some(Path::new("-"))),
        None => output::render(&mut registry, document, &format, file),
    }
    .map_err(output_error)?;
    match &configmap {
        Some(address) => crate::fleet::write(
            &crate::fleet::access(ctx, &args.collect.set),
            address,
            &bytes,
            outcome.snapshot.metadata.source_node.as_deref(),
        )?,
        None => output::emit(&bytes, file).map_err(output_error)?,
    }
    match outcome.required_failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A collection run's snapshot, and the error to exit with after writing it.
pub struct Collected {
    /// The snapshot document.
    pub snapshot: Snapshot,
    /// A required collector that did not succeed under `--best-effort`: the snapshot is still
    /// written, then the run exits 1.
    pub required_failure: Option<CliError>,
}

/// Runs the collectors `args` select, with the settings' options and timeouts. Without
/// `--best-effort` a failure (or a required collector that is not applicable) is an error and no
/// snapshot is returned.
pub fn collect(ctx: &Context, registry: &mut Registry, args: &CollectArgs) -> CliResult<Collected> {
    let host_root = ctx
        .settings
        .checked_host_root()
        .map_err(CliError::usage)?
        .display()
        .to_string();
    let jobs = select_collectors(ctx, registry, args)?;
    let run_options = RunOptions {
        best_effort: args.best_effort,
        host_root,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("starting the async runtime")
        .map_err(CliError::runtime)?;
    let results = runtime.block_on(collect::run(jobs, &run_options));
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
    if !args.best_effort {
        if let Some(failed) = failures.first() {
            let hint = if failed.required {
                ""
            } else {
                " (use --best-effort to write what the other collectors found)"
            };
            return Err(CliError::runtime(anyhow::anyhow!(
                "{}{hint}",
                describe_failure(failed)
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
    let required: Vec<String> = failures
        .iter()
        .filter(|r| r.required)
        .map(|r| describe_failure(r))
        .collect();
    let required_failure = (!required.is_empty()).then(|| {
        CliError::runtime(anyhow::anyhow!(
            "{} (the snapshot was written)",
            required.join("; ")
        ))
    });
    Ok(Collected {
        snapshot: assemble(results, &run_options.host_root),
        required_failure,
    })
}

/// `collector NAME failed: REASON`, or `required collector NAME not applicable: REASON`.
fn describe_failure(result: &JobResult) -> String {
    format!(
        "{}collector {} {}: {}",
        if result.required { "required " } else { "" },
        result.name,
        result.report.status.as_str().replace('-', " "),
        result.report.reason.as_deref().unwrap_or("no reason given"),
    )
}

fn output_error(e: OutputError) -> CliError {
    match e {
        OutputError::UnknownFormat(_) => CliError::usage(e),
        other => CliError::runtime(other),
    }
}

/// The collector names to run: `--collectors` (else `default-collectors`, else every collector
/// found but the opt-in ones), plus the required ones, each once, in the order given.
fn wanted_names(
    chosen: &[String],
    required: &[String],
    available: &[String],
    opt_in: &[&str],
) -> Vec<String> {
    let base: Vec<String> = if chosen.is_empty() {
        available
            .iter()
            .filter(|n| !opt_in.contains(&discovery::normalize_name(n).as_str()))
            .cloned()
            .collect()
    } else {
        chosen.to_vec()
    };
    let mut seen = Vec::new();
    let mut names = Vec::new();
    for name in base.iter().chain(required) {
        let name = name.trim();
        let key = discovery::normalize_name(name);
        if name.is_empty() || seen.contains(&key) {
            continue;
        }
        seen.push(key);
        names.push(name.to_owned());
    }
    names
}

/// The jobs for the selected collectors, each with its timeout and its options: the config file's
/// `[collectors.NAME]` overridden by `--set`.
fn select_collectors(
    ctx: &Context,
    registry: &mut Registry,
    args: &CollectArgs,
) -> CliResult<Vec<Job>> {
    let settings = &ctx.settings;
    let available = registry.names(PluginKind::Collector);
    let chosen = &settings.collectors.value;
    let required: Vec<String> = settings
        .require
        .value
        .iter()
        .map(|n| discovery::normalize_name(n.trim()))
        .collect();
    let every = chosen.is_empty();
    let mut plugins = Vec::new();
    // The built-in facts collector joins the default set only where its directory exists, so
    // nodes without static facts get no entry for it.
    let mut opt_in = OPT_IN_COLLECTORS.to_vec();
    if !FactsCollector::new(settings.facts_dir.value.clone(), false).dir_exists() {
        opt_in.push(facts::NAME);
    }
    for name in wanted_names(chosen, &settings.require.value, &available, &opt_in) {
        let is_required = required.contains(&discovery::normalize_name(&name));
        match registry.get(PluginKind::Collector, &name) {
            None => {
                // Name where the name came from unless it was typed on this command line.
                let origin = if is_required {
                    Some(&settings.require.source)
                } else {
                    Some(&settings.collectors.source)
                }
                .filter(|s| !matches!(s, Source::Flag(_) | Source::Default))
                .map(|s| format!(" from {s}"))
                .unwrap_or_default();
                return Err(usage_error!(
                    "unknown collector {name:?}{}{origin}: available collectors are {}",
                    if is_required { " (required)" } else { "" },
                    if available.is_empty() {
                        "none".to_owned()
                    } else {
                        available.join(", ")
                    }
                ));
            }
            // A refused plugin is skipped (the registry warned) when every collector runs, unless
            // it is required or was asked for by name.
            Some(Err(_)) if every && !is_required => {}
            Some(Err(e)) => {
                return Err(CliError::runtime(anyhow::anyhow!(
                    "collector {name:?} cannot be used: {e}"
                )))
            }
            Some(Ok(plugin)) => plugins.push((plugin, is_required)),
        }
    }
    if plugins.is_empty() {
        return Err(CliError::runtime(anyhow::anyhow!(
            "no collector plugins found; searched: {}",
            search_path(registry)
        )));
    }
    let manifests: Vec<_> = plugins.iter().map(|(p, _)| &p.manifest).collect();
    // Every option value is checked before any collector runs; all problems are reported at once.
    let mut by_collector = options::resolve_all(
        &settings.collector_options,
        &args.set,
        &manifests,
        &available,
    )
    .map_err(CliError::usage)?;
    Ok(plugins
        .into_iter()
        .map(|(plugin, required)| {
            let options = by_collector
                .remove(&plugin.manifest.name)
                .unwrap_or_default();
            let timeout = settings.timeouts.for_collector(&plugin.manifest.name).value;
            Job {
                plugin,
                options,
                timeout,
                required,
            }
        })
        .collect())
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
    warn_shared_types(&results);
    for result in results {
        snapshot.measurements.extend(result.measurements);
        snapshot
            .metadata
            .collectors
            .insert(result.name, result.report);
    }
    snapshot
}

/// Warns about each measurement type that more than one collector wrote (type names compare
/// ignoring case): a snapshot look-up by type finds only the first, so vendors prefix their types.
fn warn_shared_types(results: &[JobResult]) {
    for (kind, collectors) in shared_types(results) {
        tracing::warn!(
            "collectors {} all write measurement type {kind:?}; look-ups by type see only the first \
             (vendor collectors should prefix their type names, e.g. acme-nic)",
            collectors.join(", ")
        );
    }
}

/// Each measurement type (lower-cased) written by more than one collector, with those collectors.
fn shared_types(results: &[JobResult]) -> Vec<(String, Vec<String>)> {
    let mut by_type: Vec<(String, Vec<String>)> = Vec::new();
    for result in results {
        for m in &result.measurements {
            let kind = m.kind.to_ascii_lowercase();
            match by_type.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, names)) if !names.contains(&result.name) => {
                    names.push(result.name.clone())
                }
                Some(_) => {}
                None => by_type.push((kind, vec![result.name.clone()])),
            }
        }
    }
    by_type.retain(|(_, names)| names.len() > 1);
    by_type
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_example_collector_runs_only_when_named() {
        let available = names(&["example", "gpu", "os"]);
        assert_eq!(
            wanted_names(&[], &[], &available, OPT_IN_COLLECTORS),
            ["gpu", "os"]
        );
        assert_eq!(
            wanted_names(&names(&["example"]), &[], &available, OPT_IN_COLLECTORS),
            ["example"]
        );
        assert_eq!(
            wanted_names(&[], &names(&["example"]), &available, OPT_IN_COLLECTORS),
            ["gpu", "os", "example"]
        );
    }

    fn result(name: &str, types: &[&str]) -> JobResult {
        JobResult {
            name: name.to_owned(),
            report: eidos_plugin_api::model::CollectorReport {
                status: CollectorStatus::Ok,
                reason: None,
                warnings: vec![],
                duration_ms: 1.0,
                plugin_version: "1.0.0".into(),
            },
            measurements: types
                .iter()
                .map(|t| eidos_plugin_api::Measurement::new(*t, vec![]))
                .collect(),
            invalid_option: false,
            required: false,
        }
    }

    #[test]
    fn a_measurement_type_written_by_two_collectors_is_found() {
        let results = [
            result("os", &["os"]),
            result("acme-nic", &["nic", "acme-fw"]),
            result("other-nic", &["NIC"]),
            result("twice", &["twice", "twice"]),
        ];
        assert_eq!(
            shared_types(&results),
            [("nic".to_owned(), names(&["acme-nic", "other-nic"]))]
        );
    }

    #[test]
    fn required_collectors_join_the_selection_once() {
        let available = names(&["gpu", "k8s", "os"]);
        assert_eq!(
            wanted_names(
                &names(&["os", "gpu"]),
                &names(&["gpu", "k8s"]),
                &available,
                OPT_IN_COLLECTORS
            ),
            ["os", "gpu", "k8s"]
        );
        assert_eq!(
            wanted_names(
                &names(&["os", " os", ""]),
                &[],
                &available,
                OPT_IN_COLLECTORS
            ),
            ["os"]
        );
    }
}
