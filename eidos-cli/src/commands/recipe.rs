//! `eidos recipe`: the recommended configuration for a query given by flags, derived from a
//! snapshot, or both (flags win), written through a serializer plugin.

use super::Context;
use crate::error::{CliError, CliResult};
use crate::host::output::{self, OutputError};
use crate::usage_error;
use anyhow::Context as _;
use clap::Args;
use eidos_plugin_api::model::SNAPSHOT_KIND;
use eidos_plugin_api::Snapshot;
use eidos_recipes::{Query, QueryError, RecipeStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `eidos recipe`.
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// The query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Include a one-line explanation for every value.
    #[arg(long)]
    pub context: bool,
    /// Derive the query from this snapshot (YAML or JSON, eidos's or the Go tool's; `-` reads
    /// standard input); flags override what it implies.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Use the recipe data in this directory (base.yaml and overlay files) instead of the
    /// data built into eidos [env: EIDOS_RECIPES; config: recipes].
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Output format, by the names serializer plugins declare [env: EIDOS_FORMAT] (default: by
    /// --output's extension (.json, .yaml, .yml), else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The recipe query flags, shared by `eidos recipe` and `eidos validate`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Operating system (ubuntu, rhel, rocky, cos, amzn, debian, sles; or any).
    #[arg(long)]
    pub os: Option<String>,
    /// Operating system version, e.g. 24.04.
    #[arg(long, allow_hyphen_values = true)]
    pub osv: Option<String>,
    /// Kernel release, e.g. 6.8.0-1028-aws.
    #[arg(long, allow_hyphen_values = true)]
    pub kernel: Option<String>,
    /// Kubernetes service (eks, gke, aks, oke, self-managed; or any).
    #[arg(long)]
    pub service: Option<String>,
    /// Kubernetes version, e.g. 1.33 or v1.30.14-eks-3025e55.
    #[arg(long, allow_hyphen_values = true)]
    pub k8s: Option<String>,
    /// GPU model (a100, l4, l40s, h100, h200, b200, gb200; or any).
    #[arg(long)]
    pub gpu: Option<String>,
    /// Workload intent (training, inference; or any).
    #[arg(long)]
    pub intent: Option<String>,
}

/// Runs `eidos recipe`.
pub fn run(ctx: &Context, args: &RecipeArgs) -> CliResult {
    let mut registry = ctx.registry()?;
    let format = ctx.output_format(&mut registry, args.output.as_deref())?;

    let mut query = flag_query(&args.query, args.context)?;
    if let Some(path) = &args.snapshot {
        let derived = derive_from_snapshot(path)?;
        tracing::debug!(?derived, "query derived from the snapshot");
        query = query.or(&derived);
    }
    let recipes = ctx.settings.recipes.as_ref().map(|r| r.value.as_path());
    let store = load_store(recipes)?;
    let recipe = store.build(&query);
    for rule in &recipe.matched_rules {
        tracing::debug!(rule = %rule, "overlay applied");
    }
    let document = serde_json::to_value(&recipe)
        .context("encoding the recipe")
        .map_err(CliError::runtime)?;
    let bytes = output::render(&mut registry, document, &format).map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)
}

/// The query the flags state; errors name the flag.
pub(crate) fn flag_query(args: &QueryArgs, context: bool) -> CliResult<Query> {
    let flags = [
        ("os", &args.os),
        ("osv", &args.osv),
        ("kernel", &args.kernel),
        ("service", &args.service),
        ("k8s", &args.k8s),
        ("gpu", &args.gpu),
        ("intent", &args.intent),
    ];
    let pairs = flags
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (*name, v)))
        .chain(context.then_some(("context", "true")));
    Query::from_pairs(pairs).map_err(flag_error)
}

fn flag_error(e: QueryError) -> CliError {
    match &e {
        QueryError::InvalidValue {
            name,
            value,
            reason,
        } => usage_error!("invalid value {value:?} for --{name}: {reason}"),
        QueryError::UnknownParameter { .. } => CliError::usage(e),
    }
}

/// Reads a snapshot (YAML or JSON) and derives a query from it.
fn derive_from_snapshot(path: &Path) -> CliResult<Query> {
    let snapshot = read_snapshot(path)?;
    Query::try_from_snapshot(&snapshot)
        .map_err(|e| usage_error!("cannot derive a query from {}: {e}", path.display()))
}

/// Reads a snapshot file (YAML or JSON; `-` is standard input); errors are usage errors naming
/// the file.
pub(crate) fn read_snapshot(path: &Path) -> CliResult<Snapshot> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|e| usage_error!("cannot read the snapshot from standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| usage_error!("cannot read the snapshot {}: {e}", path.display()))?
    };
    parse_snapshot(&text)
        .map_err(|reason| usage_error!("{} is not a valid snapshot: {reason}", path.display()))
}

/// Parses snapshot text: JSON when it starts with `{`, YAML otherwise.
fn parse_snapshot(text: &str) -> Result<Snapshot, String> {
    let snapshot: Snapshot = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?
    } else {
        serde_yaml::from_str(text).map_err(|e| format!("malformed YAML: {e}"))?
    };
    if snapshot.kind != SNAPSHOT_KIND {
        return Err(format!(
            "kind is {:?}, expected {SNAPSHOT_KIND:?}",
            snapshot.kind
        ));
    }
    Ok(snapshot)
}

/// The recipe data: from `--recipes DIR`, else built in.
pub(crate) fn load_store(dir: Option<&Path>) -> CliResult<Arc<RecipeStore>> {
    match dir {
        Some(dir) => RecipeStore::load_dir(dir)
            .map(Arc::new)
            .map_err(|e| usage_error!("invalid recipe data: {e}")),
        None => RecipeStore::embedded()
            .map_err(|e| CliError::runtime(anyhow::anyhow!("the built-in recipe data: {e}"))),
    }
}

pub(crate) fn output_error(e: OutputError) -> CliError {
    match e {
        OutputError::UnknownFormat(_) => CliError::usage(e),
        other => CliError::runtime(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_from_yaml_and_json_and_other_documents_are_refused() {
        let yaml = "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements: []\n";
        assert!(parse_snapshot(yaml).is_ok());
        let json = r#"{"kind":"Snapshot","apiVersion":"snapshot.dgxc.io/v1","measurements":[]}"#;
        assert!(parse_snapshot(json).is_ok());
        let err = parse_snapshot("kind: Recipe\napiVersion: v1\n").unwrap_err();
        assert!(err.contains("expected \"Snapshot\""), "{err}");
        assert!(parse_snapshot("{").unwrap_err().contains("malformed JSON"));
        assert!(parse_snapshot(": :")
            .unwrap_err()
            .contains("malformed YAML"));
    }
}
