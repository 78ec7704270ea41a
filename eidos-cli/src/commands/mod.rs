//! One module per command.

pub mod completion;
pub mod plugins;
pub mod recipe;
pub mod snapshot;

use crate::cli::GlobalArgs;
use crate::host::discovery::SearchPathSpec;
use crate::host::registry::Registry;

/// The plugin registry for the search path the global options describe.
pub fn registry(global: &GlobalArgs) -> Registry {
    let spec =
        SearchPathSpec::from_environment(global.plugin_dirs.clone(), global.no_default_plugin_dirs);
    let registry = Registry::discover(spec.dirs());
    for dir in registry.dirs() {
        tracing::debug!(dir = %dir.path.display(), source = ?dir.source, "plugin search path");
    }
    registry
}
