//! Loading one plugin library safely.
//!
//! abi_stable's `RootModule::load_from_file` caches the first library per root-module type, which
//! would make every plugin the same plugin; instead each file is opened with
//! `lib_header_from_path` and its header initialised with `init_root_module`. That checks the plugin
//! API version (same major) and the root module's layout before any plugin code is called. A file
//! that fails any check is refused with a reason naming the file; it never stops other plugins from
//! loading. Libraries are never unloaded (a timed-out collector may still be running in one).

use super::discovery::{normalize_name, Candidate};
use eidos_plugin_api::abi::PluginModuleRef;
use eidos_plugin_api::abi_stable::library::{lib_header_from_path, LibraryError};
use eidos_plugin_api::abi_stable::std_types::RStr;
use eidos_plugin_api::wire::{CollectRequest, CollectResponse, SerializeRequest};
use eidos_plugin_api::{Manifest, PLUGIN_API_VERSION};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Why a library was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file could not be opened as a shared library.
    #[error("cannot open {path} as a shared library: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library is not an eidos plugin.
    #[error("{path} is not an eidos plugin: it exports no eidos root module")]
    NotAPlugin {
        /// The file.
        path: PathBuf,
    },
    /// The library was built against an incompatible plugin API.
    #[error(
        "{path} was built against plugin API {found}; this eidos expects plugin API {expected} \
         (same major version)"
    )]
    IncompatibleApi {
        /// The file.
        path: PathBuf,
        /// The host's API version.
        expected: String,
        /// The plugin's API version.
        found: String,
    },
    /// The library's root module does not have the expected layout.
    #[error("{path} has an incompatible plugin ABI: {reason}")]
    Abi {
        /// The file.
        path: PathBuf,
        /// abi_stable's explanation.
        reason: String,
    },
    /// The manifest is unreadable or contradicts the file name.
    #[error("{path} has an invalid manifest: {reason}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A loaded, checked plugin.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// The library file.
    pub path: PathBuf,
    /// What it says about itself.
    pub manifest: Manifest,
    module: PluginModuleRef,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("manifest", &self.manifest)
            .finish()
    }
}

/// Loads and checks the plugin in `candidate`.
pub fn load(candidate: &Candidate) -> Result<LoadedPlugin, LoadError> {
    load_path(
        &candidate.path,
        Some((candidate.kind, candidate.name.as_str())),
    )
}

/// Loads and checks the plugin library at `path`; when `expected` is given, the manifest's kind and
/// name must match it.
pub fn load_path(
    path: &Path,
    expected: Option<(eidos_plugin_api::PluginKind, &str)>,
) -> Result<LoadedPlugin, LoadError> {
    let header = lib_header_from_path(path).map_err(|e| classify(path, e))?;
    let module = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|e| classify(path, e))?;
    let manifest_json = (module.manifest())();
    let manifest: Manifest =
        serde_json::from_str(manifest_json.as_str()).map_err(|e| LoadError::Manifest {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if let Some((kind, name)) = expected {
        if manifest.kind != kind || normalize_name(&manifest.name) != name {
            return Err(LoadError::Manifest {
                path: path.to_owned(),
                reason: format!(
                    "it declares {} {:?}, but its file name says {kind} {name:?}",
                    manifest.kind, manifest.name
                ),
            });
        }
    }
    Ok(LoadedPlugin {
        path: path.to_owned(),
        manifest,
        module,
    })
}

fn classify(path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_owned();
    match error {
        LibraryError::OpenError { err, .. } => LoadError::Open {
            path,
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin { path },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::IncompatibleApi {
            path,
            expected: expected_version.to_string(),
            found: actual_version.to_string(),
        },
        LibraryError::ParseVersionError(e) => LoadError::IncompatibleApi {
            path,
            expected: PLUGIN_API_VERSION.to_owned(),
            found: format!("unreadable ({e})"),
        },
        other => LoadError::Abi {
            path,
            reason: other.to_string(),
        },
    }
}

impl LoadedPlugin {
    /// Calls the plugin's collect entry point. Blocks until the plugin returns.
    pub fn collect(&self, request: &CollectRequest, cancelled: &AtomicBool) -> CollectResponse {
        let request = match serde_json::to_string(request) {
            Ok(json) => json,
            Err(e) => {
                return CollectResponse::Error {
                    message: format!("encoding the request: {e}"),
                }
            }
        };
        let answer = (self.module.collect())(RStr::from_str(&request), cancelled);
        serde_json::from_str(answer.as_str()).unwrap_or_else(|e| CollectResponse::Error {
            message: format!("the plugin returned a malformed answer: {e}"),
        })
    }

    /// Calls the plugin's serialize entry point.
    pub fn serialize(&self, request: &SerializeRequest) -> Result<Vec<u8>, String> {
        let request =
            serde_json::to_string(request).map_err(|e| format!("encoding the request: {e}"))?;
        (self.module.serialize())(RStr::from_str(&request))
            .into_result()
            .map(Into::into)
            .map_err(Into::into)
    }
}
