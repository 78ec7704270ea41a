//! Loading one plugin library safely.
//!
//! abi_stable's `RootModule::load_from_file` caches the first library per root-module type, which
//! would make every plugin the same plugin; instead each file is opened with
//! `lib_header_from_path` and its header initialised with `init_root_module`. That checks the plugin
//! API version (same major) and the root module's layout before any plugin code is called. A file
//! that fails any check is refused with a reason naming the file; it never stops other plugins from
//! loading. Libraries are never unloaded (a timed-out collector may still be running in one).

use super::discovery::{normalize_name, Candidate};
use super::lock::{read_file, sha256_hex, Lock, SealedCopy};
use super::security::{check_plugin_file, Insecure};
use eidos_plugin_api::abi::PluginModuleRef;
use eidos_plugin_api::abi_stable::library::{lib_header_from_path, LibraryError};
use eidos_plugin_api::abi_stable::std_types::RStr;
use eidos_plugin_api::wire::{CollectRequest, CollectResponse, SerializeRequest};
use eidos_plugin_api::{Manifest, PLUGIN_API_VERSION};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the host requires of a plugin file before loading it.
#[derive(Debug, Clone, Default)]
pub struct LoadPolicy {
    /// The plugin lock in force, if any.
    pub lock: Option<Arc<Lock>>,
    /// Skip the ownership and permission checks (development only).
    pub allow_insecure: bool,
}

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
    /// The file or its directory could be written by someone else.
    #[error("refusing {path}: {reason}")]
    Insecure {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: Insecure,
    },
    /// A lock is in force and does not list this file.
    #[error("{path} is not in the plugin lock {lock}")]
    NotInLock {
        /// The plugin file.
        path: PathBuf,
        /// The lock file.
        lock: String,
    },
    /// A lock is in force and the file's hash differs from the locked one.
    #[error("{path} does not match the plugin lock: hash mismatch (locked sha256 {expected}, file has {found})")]
    HashMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The locked hash.
        expected: String,
        /// The file's hash.
        found: String,
    },
    /// A lock is in force and the plugin's manifest differs from the locked entry.
    #[error("{path} does not match the plugin lock: {field} mismatch (locked {locked:?}, plugin says {found:?})")]
    LockMismatch {
        /// The plugin file.
        path: PathBuf,
        /// version, api-version, name or kind.
        field: &'static str,
        /// The locked value.
        locked: String,
        /// The plugin's value.
        found: String,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
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

/// Loads and checks the plugin in `candidate` under `policy`: ownership and permissions first
/// (unless allowed), then, with a lock in force, the file name and hash, loading the very bytes that
/// were hashed; then the API version, layout and manifest.
pub fn load(candidate: &Candidate, policy: &LoadPolicy) -> Result<LoadedPlugin, LoadError> {
    let path = &candidate.path;
    if !policy.allow_insecure {
        check_plugin_file(path).map_err(|reason| LoadError::Insecure {
            path: path.clone(),
            reason,
        })?;
    }
    let expected = Some((candidate.kind, candidate.name.as_str()));
    let Some(lock) = &policy.lock else {
        return load_path(path, expected);
    };
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let entry = lock.entry(file_name).ok_or_else(|| LoadError::NotInLock {
        path: path.clone(),
        lock: lock.source.clone(),
    })?;
    let bytes = read_file(path).map_err(|e| LoadError::Read {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let found = sha256_hex(&bytes);
    if !found.eq_ignore_ascii_case(&entry.sha256) {
        return Err(LoadError::HashMismatch {
            path: path.clone(),
            expected: entry.sha256.clone(),
            found,
        });
    }
    let sealed = SealedCopy::new(&candidate.name, &bytes)
        .map_err(|e| LoadError::Read {
            path: path.clone(),
            reason: format!("making a sealed copy: {e}"),
        })?
        .keep_open_for_process();
    let mut plugin = load_path(&sealed, expected).map_err(|e| rename(e, &sealed, path))?;
    plugin.path = path.clone();
    let m = &plugin.manifest;
    let kind = m.kind.to_string();
    for (field, locked, found) in [
        ("name", &entry.name, &m.name),
        ("kind", &entry.kind, &kind),
        ("version", &entry.version, &m.version),
        ("api-version", &entry.api_version, &m.api_version),
    ] {
        if locked != found {
            return Err(LoadError::LockMismatch {
                path: path.clone(),
                field,
                locked: locked.clone(),
                found: found.clone(),
            });
        }
    }
    Ok(plugin)
}

/// Replaces the sealed copy's `/proc/self/fd` path with the plugin file's path in an error.
fn rename(error: LoadError, from: &Path, to: &Path) -> LoadError {
    match error {
        LoadError::IncompatibleApi {
            expected, found, ..
        } => LoadError::IncompatibleApi {
            path: to.to_owned(),
            expected,
            found,
        },
        LoadError::NotAPlugin { .. } => LoadError::NotAPlugin {
            path: to.to_owned(),
        },
        other => {
            let text = other
                .to_string()
                .replace(&from.display().to_string(), &to.display().to_string());
            LoadError::Abi {
                path: to.to_owned(),
                reason: text,
            }
        }
    }
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
            reason: summarize_abi_error(&other.to_string()),
        },
    }
}

/// abi_stable explains a layout mismatch with a dump of both type layouts (over a hundred lines);
/// an operator needs its verdict, the text after the last `Error:` marker, on one line.
fn summarize_abi_error(text: &str) -> String {
    let verdict = text.rsplit_once("Error:").map_or(text, |(_, tail)| tail);
    let one_line = verdict.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(300).collect();
    if one_line.chars().count() > 300 {
        short.push_str(" …");
    }
    if short.is_empty() {
        "the root module's layout does not match this eidos".to_owned()
    } else {
        short
    }
}

impl LoadedPlugin {
    /// Calls the plugin's collect entry point. Blocks until the plugin returns.
    pub fn collect(&self, request: &CollectRequest, cancelled: &AtomicBool) -> CollectResponse {
        let request = match serde_json::to_string(request) {
            Ok(json) => json,
            Err(e) => return CollectResponse::error(format!("encoding the request: {e}")),
        };
        let answer = (self.module.collect())(RStr::from_str(&request), cancelled);
        serde_json::from_str(answer.as_str()).unwrap_or_else(|e| {
            CollectResponse::error(format!("the plugin returned a malformed answer: {e}"))
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

#[cfg(test)]
mod tests {
    use super::summarize_abi_error;

    #[test]
    fn abi_errors_are_cut_to_their_verdict_on_one_line() {
        let dump = "Compared <this>:\n  lots of layout\n  lines\nError:\n  field a\nError:\n  Too many fields:\n    expected 4, found 3\n";
        assert_eq!(
            summarize_abi_error(dump),
            "Too many fields: expected 4, found 3"
        );
        assert_eq!(summarize_abi_error("plain message"), "plain message");
        assert!(summarize_abi_error(&"x ".repeat(500)).ends_with(" …"));
    }
}
