//! `eidos diff OLD NEW`: what changed between two snapshots, through a serializer plugin, or the
//! RFC 6902 patch from OLD's document to NEW's. Exit 3 when something drifted.
//!
//! The comparison lives in `eidos_snapshots::diff`; this module reads the inputs, gathers the
//! ignore rules (the collectors' declared volatile keys and `--ignore`) and renders the result.

use super::recipe::output_error;
use super::Context;
use crate::error::{CliError, CliResult};
use crate::host::output;
use crate::host::registry::Registry;
use crate::usage_error;
use anyhow::Context as _;
use clap::Args;
use eidos_plugin_api::{PluginKind, Snapshot};
use eidos_recipes::validate::KeyPattern;
use eidos_snapshots::diff::{self, DiffReport, Side};
use eidos_snapshots::ignore::{IgnoreRules, Origin};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The format that writes the RFC 6902 patch instead of a report.
pub const JSON_PATCH: &str = "json-patch";

/// What `eidos diff --help` ends with.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  no drift: the snapshots are the same, once ignored readings are left out
  1  runtime failure (the report could not be written)
  2  usage error (not a snapshot, a bad --ignore pattern, an unknown format)
  3  drift found (whatever the format: with --format json-patch too)

Examples:
  eidos diff last-week.yaml today.yaml -f table
  eidos snapshot | eidos diff golden.yaml -
  eidos diff old.yaml new.yaml --ignore 'os/sysctl//proc/sys/kernel/*' -f json
  eidos diff old.yaml new.yaml -f json-patch -o old-to-new.json";

/// `--ignore` and `--include-volatile`, shared by `eidos diff` and `eidos fleet report`.
#[derive(Debug, Args, Clone, Default)]
pub struct IgnoreArgs {
    /// Leave out the readings PATTERN names (repeatable): TYPE/SUBTYPE/KEY with `*` matching any
    /// run of characters, e.g. 'systemd/*/NRestarts' or 'os/sysctl//proc/sys/net/*'.
    #[arg(long = "ignore", value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Also compare the readings collectors declare volatile (timestamps, PIDs, counters), which
    /// are left out by default.
    #[arg(long)]
    pub include_volatile: bool,
}

impl IgnoreArgs {
    /// The rules: every loadable collector's declared volatile keys (unless
    /// `--include-volatile`; from the manifest cache where it can, see
    /// [`Registry::manifests`]), then `--ignore`.
    pub fn rules(&self, registry: &mut Registry) -> CliResult<IgnoreRules> {
        let mut rules = IgnoreRules::new();
        if !self.include_volatile {
            for m in registry.manifests(PluginKind::Collector) {
                for bad in rules.add_volatile(&m.name, &m.volatile_keys) {
                    tracing::warn!("{bad}; that pattern is not ignored");
                }
            }
        }
        for text in &self.ignore {
            let pattern = KeyPattern::parse(text).map_err(|e| usage_error!("--ignore: {e}"))?;
            rules.add(pattern, Origin::Flag);
        }
        Ok(rules)
    }
}

/// What `eidos diff` does, in its help.
pub const ABOUT: &str = "What changed between two snapshots: added, removed and changed readings (exit 3 when something did), or the JSON Patch from one to the other";

/// `eidos diff`.
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = None)]
pub struct DiffArgs {
    /// The older snapshot (YAML or JSON, eidos's or the Go tool's; `-` reads standard input).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The newer snapshot (same forms; `-` reads standard input).
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// What to leave out of the comparison.
    #[command(flatten)]
    pub ignore: IgnoreArgs,
    /// Output format: table, yaml, json (and other serializer plugins' formats), or json-patch:
    /// the complete RFC 6902 patch from OLD's document to NEW's, no reading ignored [env:
    /// EIDOS_FORMAT] (default: by --output's extension, else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `eidos diff`.
pub fn run(ctx: &Context, args: &DiffArgs) -> CliResult {
    if args.old == Path::new("-") && args.new == Path::new("-") {
        return Err(usage_error!(
            "OLD and NEW cannot both be standard input (-)"
        ));
    }
    let patch = ctx.settings.output_format(args.output.as_deref()).value == JSON_PATCH;
    let sources = [shown(&args.old), shown(&args.new)];
    // Errors keep their order: the format's and the rules' first, then OLD's, then NEW's.
    let (prepared, [old, new], compared) = diff_while(
        [&args.old, &args.new],
        patch,
        helper_threads(),
        |rules| prepare(ctx, args, patch, rules),
        |old, new, rules| compare(&sources, old, new, rules),
    );
    let (mut registry, format) = prepared?;
    old?;
    new?;
    let (report, document) = compared.ok_or_else(|| {
        CliError::runtime(anyhow::anyhow!(
            "comparing the snapshots failed unexpectedly"
        ))
    })??;
    let bytes = output::render(&mut registry, document, &format, args.output.as_deref())
        .map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)?;
    let s = report.summary;
    if s.drift {
        return Err(CliError::check_failed(anyhow::anyhow!(
            "drift: {} reading(s) added, {} removed, {} changed, {} collector(s) differ",
            s.added,
            s.removed,
            s.changed,
            s.collectors
        )));
    }
    Ok(())
}

/// The plugins and the output format's serializer a diff needs, and its ignore rules, which are
/// handed to `rules` as soon as they are known (before the serializer is loaded), so that the
/// comparison can start while it loads. `rules` is given `None` when they cannot be had.
fn prepare(
    ctx: &Context,
    args: &DiffArgs,
    patch: bool,
    rules: &dyn Fn(Option<IgnoreRules>),
) -> CliResult<(Registry, String)> {
    let mut registry = ctx.registry()?;
    let rules_error = match args.ignore.rules(&mut registry) {
        Ok(found) => {
            rules(Some(found));
            None
        }
        Err(e) => {
            rules(None);
            Some(e)
        }
    };
    let format = if patch {
        // The patch is JSON: the json serializer writes it.
        registry.serializer_for("json").map_err(CliError::usage)?;
        "json".to_owned()
    } else {
        ctx.output_format(&mut registry, args.output.as_deref())?
    };
    match rules_error {
        Some(e) => Err(e),
        None => Ok((registry, format)),
    }
}

/// What a diff found, and the document to render: the report, or the patch with `--format
/// json-patch`.
type Compared = CliResult<(DiffReport, serde_json::Value)>;

/// Compares the two sides (named `sources` in the report) under `rules`.
fn compare(sources: &[String; 2], old: &SideRead, new: &SideRead, rules: &IgnoreRules) -> Compared {
    let ((old, old_document), (new, new_document)) = (old, new);
    let report = diff::diff(
        (old, Side::of(sources[0].as_str(), old)),
        (new, Side::of(sources[1].as_str(), new)),
        rules,
    );
    let document = if let (Some(old_document), Some(new_document)) = (old_document, new_document) {
        diff::json_patch(old_document, new_document)
    } else {
        serde_json::to_value(&report)
            .context("encoding the diff report")
            .map_err(CliError::runtime)?
    };
    Ok((report, document))
}

/// One side of the comparison: the snapshot, and its document as written when the output is the
/// patch (only the patch needs every field in its order).
type SideRead = (Snapshot, Option<serde_json::Value>);

/// Reads one side of the comparison.
fn read_side(path: &Path, patch: bool) -> CliResult<SideRead> {
    if patch {
        let (snapshot, document) = crate::input::read_snapshot_document(path)?;
        Ok((snapshot, Some(document)))
    } else {
        Ok((crate::input::read_snapshot(path)?, None))
    }
}

/// Reads both sides and compares them, while this thread runs `prepare` (gathering the ignore
/// rules, then loading the serializer), with `helpers` threads besides this one. Returns what `prepare`
/// returned, each side as read, and the comparison (`None` when a side could not be read or
/// `prepare` handed over no rules).
///
/// The reads are a queue: the helpers start on it at once, and this thread joins it once
/// `prepare` is done, taking whatever side no helper has begun. A new thread is not always
/// running when it is spawned: on a two-CPU VM the kernel often queued it on this thread's CPU,
/// where it waited for the next scheduler tick (up to 4 ms) while the other CPU idled. With the
/// queue such a wait costs at most the time of one read, not a read after `prepare`. (Measured,
/// two reference snapshots on 2 CPUs, interleaved runs: a thread per side with this thread only
/// preparing 9.7 ms median; the queue with two helpers 9.1 ms; with one 10.0 ms; with none 9.8
/// ms.)
///
/// Whichever thread finishes the second read runs `compare` as soon as `prepare` has handed it
/// the rules: usually a helper, while this thread is still loading the serializer (the rules come
/// first), so the comparison is off the path that follows `prepare`. A helper that panicked
/// leaves its side a runtime failure, not a panic here.
fn diff_while<P, C: Send + Sync>(
    paths: [&Path; 2],
    patch: bool,
    helpers: usize,
    prepare: impl FnOnce(&dyn Fn(Option<IgnoreRules>)) -> P,
    compare: impl Fn(&SideRead, &SideRead, &IgnoreRules) -> C + Sync,
) -> (P, [CliResult<SideRead>; 2], Option<C>) {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let read: [OnceLock<CliResult<SideRead>>; 2] = Default::default();
    let rules: OnceLock<Option<IgnoreRules>> = OnceLock::new();
    let compared: OnceLock<C> = OnceLock::new();
    // Waits for the rules (this thread always hands them over, see `Handover`), then compares.
    let compare_when_ready = || {
        if let (Some(rules), [Some(Ok(old)), Some(Ok(new))]) =
            (rules.wait(), [read[0].get(), read[1].get()])
        {
            let _ = compared.set(compare(old, new, rules));
        }
    };
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let (Some(path), Some(slot)) = (paths.get(i), read.get(i)) else {
            return;
        };
        let _ = slot.set(read_side(path, patch));
        if finished.fetch_add(1, Ordering::AcqRel) + 1 == paths.len() {
            compare_when_ready();
        }
    };
    let prepared = std::thread::scope(|scope| {
        let helpers: Vec<_> = (0..helpers.min(paths.len()))
            .map(|_| scope.spawn(work))
            .collect();
        let prepared = {
            // Set however `prepare` ends, a panic included: a helper may be waiting on it.
            let handover = Handover(&rules);
            prepare(&|found| handover.give(found))
        };
        work();
        for helper in helpers {
            // A panic is reported below as its side's failure (its slot stays empty).
            let _ = helper.join();
        }
        prepared
    });
    let sides = read.map(|slot| {
        slot.into_inner().unwrap_or_else(|| {
            Err(CliError::runtime(anyhow::anyhow!(
                "reading a snapshot failed unexpectedly"
            )))
        })
    });
    (prepared, sides, compared.into_inner())
}

/// Hands the ignore rules from `prepare` to the thread that compares: once, and `None` on drop if
/// they were never given.
struct Handover<'a>(&'a OnceLock<Option<IgnoreRules>>);

impl Handover<'_> {
    fn give(&self, rules: Option<IgnoreRules>) {
        let _ = self.0.set(rules);
    }
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

/// How many threads besides this one read the snapshots: one per side, unless this process may
/// run on one CPU only (where a thread would only add its start and its memory).
fn helper_threads() -> usize {
    let cpus = rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count());
    if cpus > 1 {
        2
    } else {
        0
    }
}

/// A path as reports name it (`-` stays `-`).
fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_file(dir: &Path, name: &str, node: &str) -> PathBuf {
        let path = dir.join(name);
        let text = format!(
            "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmetadata:\n  source-node: {node}\nmeasurements: []\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn node(side: &CliResult<SideRead>) -> String {
        let (snapshot, _) = side.as_ref().unwrap();
        snapshot.metadata.source_node.clone().unwrap_or_default()
    }

    /// Compares by naming the two sides' nodes and the number of `--ignore` rules.
    fn names(old: &SideRead, new: &SideRead, rules: &IgnoreRules) -> (String, String, usize) {
        let node = |side: &SideRead| side.0.metadata.source_node.clone().unwrap_or_default();
        (node(old), node(new), rules.rules().len())
    }

    fn one_rule() -> IgnoreRules {
        let mut rules = IgnoreRules::new();
        rules.add(KeyPattern::parse("os/*/x").unwrap(), Origin::Flag);
        rules
    }

    #[test]
    fn each_side_is_read_once_into_its_own_place_and_compared_under_the_rules_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let old = snapshot_file(dir.path(), "old.yaml", "before");
        let new = snapshot_file(dir.path(), "new.yaml", "after");
        for helpers in 0..=3 {
            for patch in [false, true] {
                let (prepared, [a, b], compared) = diff_while(
                    [&old, &new],
                    patch,
                    helpers,
                    |rules| {
                        rules(Some(one_rule()));
                        "prepared"
                    },
                    names,
                );
                assert_eq!(prepared, "prepared");
                assert_eq!((node(&a), node(&b)), ("before".into(), "after".into()));
                assert_eq!(compared, Some(("before".into(), "after".into(), 1)));
                // The document as written comes only with the patch.
                assert_eq!(a.unwrap().1.is_some(), patch);
            }
        }
    }

    #[test]
    fn without_rules_nothing_is_compared_and_nothing_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let old = snapshot_file(dir.path(), "old.yaml", "before");
        let new = snapshot_file(dir.path(), "new.yaml", "after");
        for helpers in [0, 2] {
            // Handed over as missing.
            let (_, [a, _], compared) =
                diff_while([&old, &new], false, helpers, |rules| rules(None), names);
            assert_eq!((node(&a), compared), ("before".into(), None));
            // Never handed over: `prepare` returned early (as on an error) or panicked.
            let (_, _, compared) = diff_while([&old, &new], false, helpers, |_| (), names);
            assert_eq!(compared, None);
            let panicked = std::panic::catch_unwind(|| {
                diff_while(
                    [&old, &new],
                    false,
                    helpers,
                    |_| panic!("prepare failed"),
                    names,
                )
            });
            assert!(panicked.is_err());
        }
    }

    #[test]
    fn a_side_that_cannot_be_read_fails_in_its_own_place() {
        let dir = tempfile::tempdir().unwrap();
        let new = snapshot_file(dir.path(), "new.yaml", "after");
        let missing = dir.path().join("missing.yaml");
        for helpers in [0, 2] {
            let (_, [a, b], compared) = diff_while(
                [&missing, &new],
                false,
                helpers,
                |rules| rules(Some(IgnoreRules::new())),
                names,
            );
            let err = a.unwrap_err().to_string();
            assert!(err.contains("missing.yaml"), "{err}");
            assert_eq!(node(&b), "after");
            assert_eq!(compared, None);
        }
    }
}
