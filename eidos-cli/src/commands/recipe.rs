//! `eidos recipe`: the recommended configuration for a query given by flags, derived from a
//! snapshot, or both (flags win), written through a serializer plugin.

use super::Context;
use crate::error::{CliError, CliResult};
use crate::host::output::{self, OutputError};
use crate::host::registry::Registry;
use crate::host::security;
use crate::usage_error;
use anyhow::Context as _;
use clap::Args;
use eidos_recipes::{LayerEntry, Query, QueryError, RecipeStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `eidos recipe` does, in its help.
pub const ABOUT: &str = "The recommended configuration for a GPU node, from flags or a snapshot";

/// `eidos recipe`.
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = None)]
pub struct RecipeArgs {
    /// The query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Include a one-line explanation for every value.
    #[arg(long)]
    pub context: bool,
    /// Derive the query from this snapshot (YAML or JSON, eidos's or the Go tool's, at most
    /// 64 MiB; `-` reads standard input; cm://NAMESPACE/NAME reads a ConfigMap); flags override
    /// what it implies.
    #[arg(long, value_name = "FILE|cm://NAMESPACE/NAME")]
    pub snapshot: Option<PathBuf>,
    /// Use the recipe data in this directory (base.yaml and overlay files) instead of the
    /// data built into eidos [env: EIDOS_RECIPES; config: recipes].
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Add the overlay files in this directory on top of the recipe data in use (repeatable; a
    /// later one wins a tie) [env: EIDOS_OVERLAYS, colon-separated; config: overlays].
    #[arg(long = "overlays", value_name = "DIR")]
    pub overlays: Vec<PathBuf>,
    /// Output format, by the names serializer plugins declare [env: EIDOS_FORMAT] (default: by
    /// --output's extension (.json, .yaml, .yml), else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE instead of standard output (a regular file is replaced atomically; a device
    /// or FIFO is written in place).
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
    let store = load_store(ctx, &mut registry)?;
    let recipe = store.build(&query);
    for rule in &recipe.matched_rules {
        tracing::debug!(rule = %rule, "overlay applied");
    }
    let document = serde_json::to_value(&recipe)
        .context("encoding the recipe")
        .map_err(CliError::runtime)?;
    let bytes = output::render(&mut registry, document, &format, args.output.as_deref())
        .map_err(output_error)?;
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

/// Reads a snapshot (YAML or JSON, at most 64 MiB) and derives a query from it.
fn derive_from_snapshot(path: &Path) -> CliResult<Query> {
    let snapshot = read_snapshot(path)?;
    Query::try_from_snapshot(&snapshot)
        .map_err(|e| usage_error!("cannot derive a query from {}: {e}", path.display()))
}

/// Reads a snapshot through the one shared reader (capped, our format or the Go tool's; a file,
/// `-` or `cm://`); errors name the input and are usage errors, except a cluster that could not be
/// read (exit 1).
pub(crate) fn read_snapshot(path: &Path) -> CliResult<eidos_plugin_api::Snapshot> {
    Ok(crate::input::read_snapshot(path)?)
}

/// The folder of a plugin directory whose recipe data is layered on top when the directory is
/// searched for plugins.
pub const PLUGIN_RECIPES_FOLDER: &str = "recipes";

/// The recipe data in use: `--recipes DIR` (else the built-in data), then, as overlay layers on
/// top, the `recipes/` folder of each plugin directory searched from which a plugin is accepted
/// (the last searched first, so that the first directory wins a tie, as its plugins win), then
/// `--overlays` (config file, then `EIDOS_OVERLAYS`, then the flags).
///
/// A plugin directory's folder is vendor input, read as its plugins are: every folder and recipe
/// file in it must pass the plugin ownership and permission checks (unless insecure plugins are
/// allowed). A folder that fails them, or holds data that does not load, is left out with a
/// warning naming the file and the reason; the other layers still apply. The user's own
/// `--recipes` and `--overlays` failing to load is a usage error.
pub(crate) fn load_store(ctx: &Context, registry: &mut Registry) -> CliResult<Arc<RecipeStore>> {
    let data = match &ctx.settings.recipes {
        Some(dir) => RecipeStore::load_dir(&dir.value)
            .map(Arc::new)
            .map_err(|e| usage_error!("invalid recipe data: {e}"))?,
        None => RecipeStore::embedded()
            .map_err(|e| CliError::runtime(anyhow::anyhow!("the built-in recipe data: {e}")))?,
    };
    let mut store = data;
    let check = !ctx.settings.allow_insecure_plugins;
    for folder in registry
        .companion_folders(PLUGIN_RECIPES_FOLDER)
        .into_iter()
        .rev()
    {
        let path = &folder.path;
        tracing::debug!(layer = %path.display(), dir = %folder.dir.path.display(), "recipe data of a plugin directory");
        let layered = if check {
            store.with_checked_layer(path, &check_plugin_data)
        } else {
            store.with_layers(&[path])
        };
        match layered {
            Ok(layered) => store = Arc::new(layered),
            Err(e) => tracing::warn!(
                folder = %path.display(),
                "ignoring the recipe data of plugin directory {}: {e}",
                folder.dir.path.display()
            ),
        }
    }
    for overlay in &ctx.settings.overlays {
        let (path, origin) = (&overlay.value, &overlay.source);
        tracing::debug!(layer = %path.display(), %origin, "recipe overlay layer");
        store = store.with_layers(&[path]).map(Arc::new).map_err(|e| {
            usage_error!("invalid recipe overlay {} ({origin}): {e}", path.display())
        })?;
    }
    Ok(store)
}

/// The plugin ownership and permission checks, for a folder or file of a plugin directory's
/// recipe data: owned by root or the current user, writable by neither group nor others, and so
/// every folder up to `/`; a link to a file is checked where it leads, and so is the folder it
/// leads into.
fn check_plugin_data(path: &Path, entry: LayerEntry) -> Result<(), String> {
    match entry {
        LayerEntry::Folder => security::check_directory(path),
        LayerEntry::File => security::open_plugin(path, true).map(drop),
    }
    .map_err(|e| e.to_string())
}

pub(crate) fn output_error(e: OutputError) -> CliError {
    match e {
        OutputError::UnknownFormat(_) => CliError::usage(e),
        other => CliError::runtime(other),
    }
}
