//! `eidos validate`: checks a snapshot (a file, or this node now) against its recipe and writes
//! the report through a serializer plugin. Exit 3 when a required constraint failed.
//!
//! Parsing, checking and the report model live in `eidos_recipes::validate`; this module only
//! reads the inputs, calls it and renders the result.

use super::recipe::{flag_query, load_store, output_error, read_snapshot, QueryArgs};
use super::snapshot;
use super::Context;
use crate::cli::CollectArgs;
use crate::error::{CliError, CliResult};
use crate::host::output;
use crate::settings::Source;
use crate::usage_error;
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use eidos_plugin_api::Snapshot;
use eidos_recipes::validate::{self, Constraint, FailOn, Overall, Report};
use eidos_recipes::{Query, Recipe};
use std::path::{Path, PathBuf};

/// What `eidos validate --help` ends with.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  every required constraint passed (the verdict is pass, or incomplete: some were missing or
     skipped; --fail-on makes those fail)
  1  runtime failure (a collector failed without --best-effort, the report could not be written)
  2  usage error (not a snapshot, not a recipe, a bad --constraint, an unknown format)
  3  a required constraint failed

Examples:
  eidos validate -f table
  eidos validate --snapshot node.yaml --fail-on missing -f junit -o eidos-validate.xml -q
  eidos validate --snapshot node.yaml --constraint 'gpu/smi/driver=>= 570'";

/// What `eidos validate` does, in its help.
pub const ABOUT: &str = "Check a node (a snapshot, or this node now) against its recipe: exit 3 when a required constraint fails";

/// `eidos validate`.
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = None)]
pub struct ValidateArgs {
    /// The snapshot to check (YAML or JSON, eidos's or the Go tool's; `-` reads standard input;
    /// cm://NAMESPACE/NAME reads a ConfigMap). Without it, eidos takes a snapshot of this node
    /// first, with the collector flags below.
    #[arg(long, value_name = "FILE|cm://NAMESPACE/NAME")]
    pub snapshot: Option<PathBuf>,
    /// Check against this recipe document (written earlier by `eidos recipe`) instead of the
    /// recipe derived from the snapshot.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Query flags: override what the snapshot implies (as for `eidos recipe --snapshot`).
    #[command(flatten)]
    pub query: QueryArgs,
    /// An extra check, PATH=VALUE (repeatable): PATH is TYPE/SUBTYPE/KEY (the key is everything
    /// after the second '/', e.g. os/sysctl//proc/sys/vm/swappiness), VALUE a plain value or an
    /// operator (">= 570", "one of [a, b]", present …). It replaces a recipe value on the same
    /// path.
    #[arg(
        long = "constraint",
        value_name = "PATH=VALUE",
        allow_hyphen_values = true
    )]
    pub constraints: Vec<String>,
    /// Also fail (exit 3) when a required constraint is missing or skipped (repeatable, or
    /// comma-separated).
    #[arg(
        long = "fail-on",
        value_enum,
        value_delimiter = ',',
        value_name = "STATUS"
    )]
    pub fail_on: Vec<FailOnArg>,
    /// Print only the summary line (the report still goes to --output when given).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Use the recipe data in this directory instead of the data built into eidos [env:
    /// EIDOS_RECIPES; config: recipes].
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Add the overlay files in this directory on top of the recipe data in use (repeatable; a
    /// later one wins a tie) [env: EIDOS_OVERLAYS, colon-separated; config: overlays].
    #[arg(long = "overlays", value_name = "DIR")]
    pub overlays: Vec<PathBuf>,
    /// Output format, by the names serializer plugins declare: yaml, json, table, junit …
    /// [env: EIDOS_FORMAT] (default: by --output's extension (.json, .yaml, .yml; .xml →
    /// junit), else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Without --snapshot: which collectors run and how (as for `eidos snapshot`); with
    /// --best-effort a failed collector's constraints are `skipped`.
    #[command(flatten)]
    pub collect: CollectArgs,
}

/// A status that `--fail-on` makes count as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// A required constraint whose key the collector did not record.
    Missing,
    /// A required constraint whose collector was not run, did not apply, or failed.
    Skipped,
}

/// Runs `eidos validate`.
pub fn run(ctx: &Context, args: &ValidateArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    // As for every command, but an `.xml` output file means JUnit XML, unless --format or
    // EIDOS_FORMAT says otherwise.
    let explicit = ctx
        .settings
        .format
        .as_ref()
        .is_some_and(|f| !matches!(f.source, Source::File { .. }));
    let format = if !explicit && has_extension(args.output.as_deref(), "xml") {
        registry.serializer_for("junit").map_err(CliError::usage)?;
        "junit".to_owned()
    } else {
        ctx.output_format(&mut registry, args.output.as_deref())?
    };
    let fail_on = FailOn {
        missing: args.fail_on.contains(&FailOnArg::Missing),
        skipped: args.fail_on.contains(&FailOnArg::Skipped),
    };
    let extra = args
        .constraints
        .iter()
        .map(|text| Constraint::parse_arg(text).map_err(|e| usage_error!("--constraint: {e}")))
        .collect::<CliResult<Vec<_>>>()?;
    let flags = flag_query(&args.query, true)?;
    let recipe_file = args.recipe.as_deref().map(read_recipe).transpose()?;
    let no_query_flags = Query {
        context: true,
        ..Query::default()
    };
    if recipe_file.is_some() && flags != no_query_flags {
        return Err(usage_error!(
            "--recipe FILE fixes the recipe: query flags (--os, --gpu …) cannot change it; drop them, or drop --recipe to derive the recipe"
        ));
    }

    let (snapshot, collector_failure) = match &args.snapshot {
        Some(path) => (read_snapshot(path)?, None),
        None => {
            let collected = snapshot::collect(ctx, &mut registry, &args.collect)?;
            (collected.snapshot, collected.required_failure)
        }
    };

    let report = match recipe_file {
        Some((path, recipe)) => {
            let constraints =
                validate::constraints_from_recipe(&recipe, None, &path.display().to_string())
                    .map_err(|e| usage_error!("{} is not a valid recipe: {e}", path.display()))?;
            check(&snapshot, constraints, extra, fail_on, recipe)
        }
        None => {
            let store = load_store(ctx, &mut registry)?;
            let query = flags.or(&Query::from_snapshot(&snapshot));
            tracing::debug!(?query, "recipe query");
            let recipe = store.build(&query);
            let constraints = validate::constraints_from_recipe(
                &recipe,
                Some(&store.provenance(&query)),
                "recipe",
            )
            .map_err(|e| CliError::runtime(anyhow::anyhow!("the recipe data: {e}")))?;
            check(&snapshot, constraints, extra, fail_on, recipe)
        }
    };

    write_report(&mut registry, &report, &format, args)?;
    // A required collector that failed under --best-effort: its constraints were skipped; the
    // report is written, and the run exits 1 as `eidos snapshot` does.
    if let Some(e) = collector_failure {
        return Err(e);
    }
    if report.summary.overall == Overall::Fail {
        return Err(CliError::check_failed(anyhow::anyhow!(
            "validation failed: {} required constraint(s) not met",
            report.summary.required_failed
        )));
    }
    Ok(())
}

fn check(
    snapshot: &Snapshot,
    mut constraints: Vec<Constraint>,
    extra: Vec<Constraint>,
    fail_on: FailOn,
    recipe: Recipe,
) -> Report {
    validate::apply_overrides(&mut constraints, extra);
    let mut report = validate::validate(snapshot, &constraints, fail_on);
    report.request = Some(recipe.request);
    report.matched_rules = recipe.matched_rules;
    report
}

/// Writes the report (or, with `--quiet`, only the summary line to standard output).
fn write_report(
    registry: &mut crate::host::registry::Registry,
    report: &Report,
    format: &str,
    args: &ValidateArgs,
) -> CliResult {
    if args.quiet && args.output.is_none() {
        return output::emit(format!("{}\n", report.summary.line()).as_bytes(), None)
            .map_err(output_error);
    }
    let document = serde_json::to_value(report)
        .context("encoding the validation report")
        .map_err(CliError::runtime)?;
    let bytes =
        output::render(registry, document, format, args.output.as_deref()).map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)?;
    if args.quiet {
        output::emit(format!("{}\n", report.summary.line()).as_bytes(), None)
            .map_err(output_error)?;
    }
    Ok(())
}

/// Reads a recipe document written by `eidos recipe` (YAML or JSON).
fn read_recipe(path: &Path) -> CliResult<(PathBuf, Recipe)> {
    let text = crate::input::read_capped_text(path, crate::input::RECIPE_MAX_BYTES, "the recipe")
        .map_err(CliError::usage)?;
    parse_recipe(&text)
        .map(|recipe| (path.to_owned(), recipe))
        .map_err(|reason| {
            usage_error!(
                "{} is not a recipe document (as `eidos recipe` writes): {reason}",
                path.display()
            )
        })
}

fn parse_recipe(text: &str) -> Result<Recipe, String> {
    let value: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?
    } else {
        crate::input::from_untrusted_yaml(text)?
    };
    if let Some(kind) = value.get("kind").and_then(serde_json::Value::as_str) {
        return Err(format!("it is a {kind} document"));
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn has_extension(path: Option<&Path>, ext: &str) -> bool {
    path.and_then(Path::extension)
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_parse_and_other_documents_are_refused_by_name() {
        let recipe = eidos_recipes::RecipeStore::embedded()
            .unwrap()
            .build(&Query::default());
        let yaml = serde_yaml::to_string(&recipe).unwrap();
        assert_eq!(
            parse_recipe(&yaml).unwrap().measurements,
            recipe.measurements
        );
        let json = serde_json::to_string(&recipe).unwrap();
        assert!(parse_recipe(&json).is_ok());
        let err = parse_recipe("kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\n").unwrap_err();
        assert!(err.contains("it is a Snapshot document"), "{err}");
        let err = parse_recipe("measurements: []\n").unwrap_err();
        assert!(err.contains("missing field"), "{err}");
        assert!(parse_recipe("{").unwrap_err().contains("malformed JSON"));
    }
}
