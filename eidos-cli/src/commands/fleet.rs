//! `eidos fleet report --from SOURCE`: many nodes' snapshots grouped into configurations, with
//! the readings that drift and the nodes that deviate, through a serializer plugin.
//!
//! Reading, grouping and validating live in `eidos_snapshots::fleet`; this module lists the
//! source's entries, hands it the reader, shows progress on a terminal and renders the report.

use super::diff::IgnoreArgs;
use super::recipe::{load_store, output_error};
use super::Context;
use crate::error::{CliError, CliResult};
use crate::host::output;
use crate::input::sources::{Entry, FleetSource};
use crate::input::SnapshotError;
use crate::usage_error;
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use eidos_recipes::validate::FailOn;
use eidos_snapshots::fleet::{self, GatherError, GatherOptions, Read};
use eidos_snapshots::verdict::Validator;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `eidos fleet …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum FleetCommand {
    /// `eidos fleet report`.
    #[command(about = REPORT_ABOUT)]
    #[command(after_help = AFTER_HELP)]
    Report(FleetReportArgs),
}

/// What `eidos fleet report --help` ends with.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  the report was written (and nothing --fail-on names was found)
  1  runtime failure; with --strict, an input that is not a snapshot
  2  usage error (no such directory, a bad --ignore pattern, an unknown format)
  3  --fail-on drift: some reading or collector differs between nodes;
     --fail-on invalid: some node fails validation (with --validate)

Examples:
  eidos fleet report --from snapshots/ -f table
  eidos fleet report --from snapshots/ --validate --fail-on drift,invalid -f json -o fleet.json
  eidos fleet report --from cm://eidos -f table";

/// What `eidos fleet report` does, in its help.
pub const REPORT_ABOUT: &str =
    "Compare many nodes' snapshots: configurations, drifting readings, outlier nodes";

/// `eidos fleet report`.
#[derive(Debug, Args)]
#[command(about = REPORT_ABOUT, long_about = None)]
pub struct FleetReportArgs {
    /// Where the snapshots are: a directory holding one snapshot per node (YAML or JSON; hidden
    /// files are skipped, subdirectories are not searched), or cm://NAMESPACE[?selector=LABELS]:
    /// the snapshot ConfigMaps the agent writes, listed a page at a time while they are read.
    #[arg(long = "from", value_name = "DIR|cm://NAMESPACE")]
    pub from: String,
    /// What to leave out of the comparison (the node's own name, host name and GPU serials and
    /// UUIDs always are).
    #[command(flatten)]
    pub ignore: IgnoreArgs,
    /// Also validate each node against the recipe derived from its own snapshot, and report its
    /// verdict and failed-constraint counts.
    #[arg(long)]
    pub validate: bool,
    /// With --validate: use the recipe data in this directory instead of the built-in data [env:
    /// EIDOS_RECIPES; config: recipes].
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Exit 3 when there is drift, or (with --validate) a node that fails validation (repeatable,
    /// or comma-separated).
    #[arg(
        long = "fail-on",
        value_enum,
        value_delimiter = ',',
        value_name = "WHAT"
    )]
    pub fail_on: Vec<FailOnArg>,
    /// Fail (exit 1) on the first input that is not a snapshot, instead of skipping it with a
    /// warning.
    #[arg(long)]
    pub strict: bool,
    /// Output format, by the names serializer plugins declare: table, yaml, json … [env:
    /// EIDOS_FORMAT] (default: by --output's extension, else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// What `--fail-on` makes exit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// A reading or a collector that differs between nodes.
    Drift,
    /// A node whose validation verdict is fail (needs --validate).
    Invalid,
}

/// Runs `eidos fleet report`.
pub fn report(ctx: &Context, args: &FleetReportArgs) -> CliResult {
    if args.fail_on.contains(&FailOnArg::Invalid) && !args.validate {
        return Err(usage_error!("--fail-on invalid needs --validate"));
    }
    let source = FleetSource::parse(&args.from)?;
    let mut registry = ctx.registry()?;
    let format = ctx.output_format(&mut registry, args.output.as_deref())?;
    let mut rules = args.ignore.rules(&mut registry)?;
    rules.add_node_identity();
    let validator = if args.validate {
        Some(Validator::new(
            load_store(ctx, &mut registry)?,
            FailOn::default(),
        ))
    } else {
        None
    };
    let entries = source.entries(&crate::fleet::access(ctx, &[]))?;
    let listed = entries.outcome();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let options = GatherOptions {
        rules: &rules,
        validator: validator.as_ref(),
        strict: args.strict,
        threads,
    };
    let mut progress = Progress::new();
    let read = |entry: &Entry| {
        entry
            .read()
            .map(|snapshot| Read {
                snapshot,
                fallback_name: entry.name(),
            })
            .map_err(|e| match e {
                // The report names the file beside the reason.
                SnapshotError::Invalid { reason, .. } => format!("not a snapshot: {reason}"),
                other => other.to_string(),
            })
    };
    let gathered = fleet::gather_stream(entries, Entry::source, read, &options, |done, total| {
        progress.update(done, total);
    });
    progress.finish();
    // A list of ConfigMaps that failed part way: what was read is not the fleet.
    listed.check()?;
    let report = gathered.map_err(|e| match e {
        GatherError::Unreadable(u) => CliError::runtime(anyhow::anyhow!(
            "--strict: {} is not a snapshot: {}",
            u.source,
            u.reason
        )),
        GatherError::Validator(e) => CliError::runtime(e),
    })?;
    for u in &report.unreadable {
        tracing::warn!("skipped {}: {}", u.source, u.reason);
    }
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    let document = serde_json::to_value(&report)
        .context("encoding the fleet report")
        .map_err(CliError::runtime)?;
    let bytes = output::render(&mut registry, document, &format, args.output.as_deref())
        .map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)?;

    let s = report.summary;
    let mut found = Vec::new();
    if args.fail_on.contains(&FailOnArg::Drift) && s.drift() {
        found.push(format!(
            "{} drifting reading(s) and {} drifting collector(s) across {} configuration(s)",
            s.drifting_keys, s.drifting_collectors, s.configurations
        ));
    }
    if args.fail_on.contains(&FailOnArg::Invalid) && s.invalid.unwrap_or(0) > 0 {
        found.push(format!(
            "{} node(s) fail validation",
            s.invalid.unwrap_or(0)
        ));
    }
    if !found.is_empty() {
        return Err(CliError::check_failed(anyhow::anyhow!(
            "fleet report: {}",
            found.join("; ")
        )));
    }
    Ok(())
}

/// A line on standard error counting the inputs read, redrawn at most ten times a second, only
/// when standard error is a terminal (never in a log or a pipe).
struct Progress {
    enabled: bool,
    drawn: Option<Instant>,
}

impl Progress {
    const PERIOD: Duration = Duration::from_millis(100);

    fn new() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            drawn: None,
        }
    }

    /// `total`: how many inputs there are, where that is known before they are all read (a
    /// directory, not a ConfigMap list).
    fn update(&mut self, done: usize, total: Option<usize>) {
        let last = total.is_some_and(|t| done >= t);
        if !self.enabled || self.drawn.is_some_and(|t| t.elapsed() < Self::PERIOD) && !last {
            return;
        }
        self.drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = match total {
            Some(total) => write!(err, "\rreading snapshots: {done}/{total}"),
            None => write!(err, "\rreading snapshots: {done}"),
        };
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.enabled && self.drawn.is_some() {
            // Clear the line: what follows (warnings, the table) starts clean.
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
