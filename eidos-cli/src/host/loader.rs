//! Loading one plugin library safely, by one path for every plugin.
//!
//! 1. The file is opened once and the descriptor checked (`security.rs`): a regular file that only
//!    root or the current user can change, in directories, up to `/`, that nobody else can change.
//! 2. With a lock in force, the file name must be listed.
//! 3. The bytes are copied from that descriptor, once, at most [`MAX_PLUGIN_BYTES`], into a sealed
//!    memfd (`sealed.rs`); everything after this sees those bytes and no others, so swapping the
//!    file after the open changes nothing that is loaded.
//! 4. The sealed bytes are hashed; with a lock, the hash must match.
//! 5. They must be a well-formed shared library for this machine (`elf.rs`): nothing the dynamic
//!    loader maps lies outside the file.
//! 6. A library not vouched for by a lock is loaded first in a probe process (`probe.rs`); if that
//!    crashes, the library is refused and the host lives on. A library with the same hash that
//!    survived a probe of this eidos before is not probed again (`probe_cache.rs`).
//! 7. The memfd is loaded: `lib_header_from_path` and `init_root_module` check the plugin API
//!    version (same major) and the root module's layout before any plugin code is called
//!    (abi_stable's `RootModule::load_from_file` would cache one library per root-module type and
//!    make every plugin the same plugin); then the manifest is checked against the file name, and
//!    against the lock.
//!
//! An executable collector (`eidos-collector-NAME`) takes steps 1 to 3 and the lock checks of 7 in
//! `exec.rs` instead; its manifest comes from running it.
//!
//! A file that fails any step is refused with a reason naming the file; it never stops other
//! plugins from loading. Libraries are never unloaded (a timed-out collector may still be running
//! in one).

use super::discovery::{normalize_name, Candidate};
use super::elf::{self, ElfError};
use super::exec::Executable;
use super::facts::FactsCollector;
use super::lock::{sha256_hex, Lock, LockedPlugin};
use super::manifest_cache::{FileIdentity, Lookup, ManifestCache};
use super::probe::{probe, ProbeError, PROBE_TIMEOUT};
use super::probe_cache::ProbeCache;
use super::sealed::SealedCopy;
use super::security::{open_plugin, Insecure};
use eidos_plugin_api::abi::PluginModuleRef;
use eidos_plugin_api::abi_stable::library::{lib_header_from_path, LibraryError};
use eidos_plugin_api::abi_stable::std_types::RStr;
use eidos_plugin_api::wire::{CollectReply, CollectRequest, CollectResponse, SerializeRequest};
use eidos_plugin_api::{Manifest, PLUGIN_API_VERSION};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The largest plugin file eidos reads (256 MiB; unstripped debug builds are tens of MiB).
pub const MAX_PLUGIN_BYTES: u64 = 256 * 1024 * 1024;

/// What the host requires of a plugin file before loading it.
#[derive(Debug, Clone, Default)]
pub struct LoadPolicy {
    /// The plugin lock in force, if any.
    pub lock: Option<Arc<Lock>>,
    /// Skip the ownership and permission checks (development only).
    pub allow_insecure: bool,
    /// Which libraries survived a probe before (none: every library not in a lock is probed).
    pub probe_cache: Option<Arc<ProbeCache>>,
    /// The manifests of plugin files loaded before, for commands that need only manifests (see
    /// [`cached_manifest`]; none: such commands load every plugin).
    pub manifest_cache: Option<Arc<ManifestCache>>,
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
    /// The file is not a well-formed shared library for this machine.
    #[error("{path} is not a loadable shared library: {reason}")]
    Malformed {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong.
        reason: ElfError,
    },
    /// Loading the library in a probe process failed.
    #[error("refusing {path}: {reason}")]
    Probe {
        /// The plugin file.
        path: PathBuf,
        /// What happened to the probe.
        reason: ProbeError,
    },
    /// An executable collector cannot be used: not executable, its `--manifest` run failed.
    #[error("{path}: {reason}")]
    Executable {
        /// The executable file.
        path: PathBuf,
        /// What is wrong, naming the executable.
        reason: String,
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
    /// The lower-case hex SHA-256 of the bytes that were loaded.
    pub sha256: String,
    /// The identity of the file the bytes were read from (none for the built-in collector).
    pub identity: Option<FileIdentity>,
    backend: Backend,
}

/// What answers a loaded plugin's calls.
#[derive(Clone)]
enum Backend {
    /// A library's root module, called in-process.
    Library(PluginModuleRef),
    /// An executable collector, run as a child process per call (`exec.rs`).
    Executable(Arc<Executable>),
    /// The built-in static-facts collector (`facts.rs`).
    Facts(Arc<FactsCollector>),
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("manifest", &self.manifest)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// Loads and checks the plugin in `candidate` under `policy` (the steps in the module doc).
pub fn load(candidate: &Candidate, policy: &LoadPolicy) -> Result<LoadedPlugin, LoadError> {
    if candidate.is_executable() {
        return super::exec::load(candidate, policy);
    }
    let path = &candidate.path;
    let opened =
        open_plugin(path, !policy.allow_insecure).map_err(|reason| LoadError::Insecure {
            path: path.clone(),
            reason,
        })?;
    tracing::debug!(path = %path.display(), real_path = %opened.real_path.display(), "plugin file opened");
    let entry = match &policy.lock {
        Some(lock) => Some(locked_entry(lock, path)?),
        None => None,
    };
    let recorded = |identity: &FileIdentity| recorded_sha256(policy, path, identity);
    let staged = stage(path, &opened.file, &candidate.name, entry, recorded)?;
    drop(opened);
    if entry.is_none() {
        if let Some(exe) = probe_executable() {
            let cache = policy.probe_cache.as_deref();
            if cache.is_some_and(|c| c.vouches_for(&staged.sha256)) {
                tracing::debug!(path = %path.display(), "plugin probed before (probe cache)");
            } else {
                probe(&exe, &staged.copy, PROBE_TIMEOUT).map_err(|reason| LoadError::Probe {
                    path: path.clone(),
                    reason,
                })?;
                if let Some(cache) = cache {
                    cache.remember(&staged.sha256);
                }
            }
        }
    }
    let sealed = staged.copy.keep_open_for_process();
    let expected = Some((candidate.kind, candidate.name.as_str()));
    let mut plugin = load_path(&sealed, path, expected)?;
    plugin.sha256 = staged.sha256;
    plugin.identity = staged.identity;
    if let Some(entry) = entry {
        check_against_lock(&plugin, entry)?;
    } else if !staged.hash_recorded {
        // Without a lock the next load of this very file takes the hash from the record.
        remember_manifest(&plugin, policy);
    }
    Ok(plugin)
}

/// The identity of an open file, for the manifest cache; `None` if `fstat` fails (then nothing
/// is remembered).
pub(super) fn identity_of(file: &File) -> Option<FileIdentity> {
    file.metadata().ok().map(|meta| FileIdentity::of(&meta))
}

/// The manifest of the plugin in `candidate` as recorded when this very file was loaded before
/// (`manifest_cache.rs`), for commands that need what plugins declare and run none of their code;
/// `None` when there is no usable record, and the caller loads the plugin.
///
/// The file is opened and checked as [`load`] checks it (owner, mode, directories); with a lock
/// in force, it must be listed, the lock must pin the recorded hash, and the manifest must match
/// the lock's entry. The manifest must declare the kind and name of the file name. Only the bytes
/// are not read again: the file's identity says they are the ones recorded.
pub fn cached_manifest(candidate: &Candidate, policy: &LoadPolicy) -> Option<Manifest> {
    let cache = policy.manifest_cache.as_deref()?;
    let path = &candidate.path;
    // A refusal is not reported here: the load that follows a miss reports it.
    let opened = open_plugin(path, !policy.allow_insecure).ok()?;
    let identity = identity_of(&opened.file)?;
    drop(opened);
    let entry = match &policy.lock {
        Some(lock) => Some(locked_entry(lock, path).ok()?),
        None => None,
    };
    let manifest = match cache.lookup(path, &identity, entry.map(|e| e.sha256.as_str())) {
        Lookup::Hit { manifest, .. } => manifest,
        Lookup::Miss(why) => {
            tracing::debug!(path = %path.display(), "plugin manifest not cached: {why}");
            return None;
        }
        Lookup::Untrusted(reason) => {
            tracing::warn!("not using the plugin manifest cache: {reason}; loading the plugin");
            return None;
        }
    };
    if manifest.kind != candidate.kind || normalize_name(&manifest.name) != candidate.name {
        tracing::warn!(path = %path.display(), "plugin manifest cache: the recorded manifest does not match the file name; loading the plugin");
        return None;
    }
    if let Some(entry) = entry {
        if let Err(e) = check_manifest_against_lock(&manifest, path, entry) {
            tracing::debug!("plugin manifest cache: {e}; loading the plugin");
            return None;
        }
    }
    tracing::debug!(path = %path.display(), name = %manifest.name, "plugin manifest from the manifest cache (not loaded)");
    Some(manifest)
}

/// Records the manifest of a plugin loaded from a file, for [`cached_manifest`] (nothing without
/// a manifest cache in `policy`, or for the built-in collector).
pub fn remember_manifest(plugin: &LoadedPlugin, policy: &LoadPolicy) {
    if let (Some(cache), Some(identity)) = (policy.manifest_cache.as_deref(), &plugin.identity) {
        cache.remember(&plugin.path, identity, &plugin.sha256, &plugin.manifest);
    }
}

impl LoadedPlugin {
    /// A loaded executable collector (see `exec.rs`, which checks it as [`load`] checks a library).
    pub(super) fn from_executable(
        manifest: Manifest,
        sha256: String,
        identity: Option<FileIdentity>,
        executable: Executable,
    ) -> LoadedPlugin {
        LoadedPlugin {
            path: executable.path().to_owned(),
            manifest,
            sha256,
            identity,
            backend: Backend::Executable(Arc::new(executable)),
        }
    }

    /// The built-in static-facts collector (see `facts.rs`); `path` is its directory.
    pub fn facts(collector: FactsCollector) -> LoadedPlugin {
        LoadedPlugin {
            path: collector.dir().to_owned(),
            manifest: collector.manifest(),
            sha256: String::new(),
            identity: None,
            backend: Backend::Facts(Arc::new(collector)),
        }
    }

    /// Whether calls run a child process that the host must see ended (`exec.rs`).
    pub fn is_executable(&self) -> bool {
        matches!(self.backend, Backend::Executable(_))
    }
}

/// The executable a probe runs: this one, as the kernel knows it (so replacing the file on disk
/// changes nothing). Unit tests run inside the test harness, which has no probe mode.
fn probe_executable() -> Option<PathBuf> {
    (!cfg!(test)).then(|| PathBuf::from("/proc/self/exe"))
}

/// The lock's entry for the plugin file at `path`.
pub(super) fn locked_entry<'a>(lock: &'a Lock, path: &Path) -> Result<&'a LockedPlugin, LoadError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    lock.entry(file_name).ok_or_else(|| LoadError::NotInLock {
        path: path.to_owned(),
        lock: lock.source.clone(),
    })
}

/// The SHA-256 the manifest cache recorded for the plugin file at `path` with identity `file`
/// when it was loaded before (see [`stage`] for when it stands in for hashing the bytes).
fn recorded_sha256(policy: &LoadPolicy, path: &Path, file: &FileIdentity) -> Option<String> {
    match policy.manifest_cache.as_deref()?.lookup(path, file, None) {
        Lookup::Hit { sha256, .. } => Some(sha256),
        Lookup::Miss(why) => {
            tracing::debug!(path = %path.display(), "plugin hash not recorded: {why}");
            None
        }
        // `cached_manifest` warns about an untrusted cache; here it only costs the hashing.
        Lookup::Untrusted(why) => {
            tracing::debug!(path = %path.display(), "plugin hash record not used: {why}");
            None
        }
    }
}

/// A library's bytes, sealed and checked, not yet loaded.
#[derive(Debug)]
struct Staged {
    /// The SHA-256 of the bytes.
    sha256: String,
    /// `sha256` is the one recorded for this file (not computed here).
    hash_recorded: bool,
    /// The identity of the file, taken after the copy.
    identity: Option<FileIdentity>,
    /// The sealed copy of the bytes.
    copy: SealedCopy,
}

/// Copies the open file once into a sealed memfd and checks the sealed bytes (size, lock hash, ELF
/// structure).
///
/// Under a lock the sealed bytes are always hashed: the lock's promise is about bytes. Without
/// one, the hash keys the probe cache and shows in `plugins list`; when `recorded` knows the hash
/// of this very file (its identity, taken after the copy, is the one a record was made for: the
/// trust `manifest_cache.rs` explains), that hash stands in for hashing the library again (the
/// hashing was most of the CPU time of loading a serializer for a `diff`).
fn stage(
    path: &Path,
    file: &File,
    name: &str,
    entry: Option<&LockedPlugin>,
    recorded: impl FnOnce(&FileIdentity) -> Option<String>,
) -> Result<Staged, LoadError> {
    let read_error = |reason: String| LoadError::Read {
        path: path.to_owned(),
        reason,
    };
    // The kernel copies the library into the sealed memfd; the checks read the sealed bytes, so
    // what they pass is what the dynamic loader maps. (Read into a buffer and written out again,
    // the copy was a fifth of a short command's time spent before its first plugin call.)
    let copy = SealedCopy::copy_of(name, file, MAX_PLUGIN_BYTES)
        .map_err(|e| read_error(format!("making a sealed copy: {e}")))?
        .ok_or_else(|| {
            read_error(format!(
                "it is larger than the limit of {MAX_PLUGIN_BYTES} bytes (256 MiB)"
            ))
        })?;
    // After the copy: a write that the copy might have missed shows in the times.
    let identity = identity_of(file);
    let bytes = copy
        .map()
        .map_err(|e| read_error(format!("reading the sealed copy: {e}")))?;
    let (sha256, hash_recorded) = match entry {
        Some(entry) => {
            let sha256 = sha256_hex(&bytes);
            if !sha256.eq_ignore_ascii_case(&entry.sha256) {
                return Err(LoadError::HashMismatch {
                    path: path.to_owned(),
                    expected: entry.sha256.clone(),
                    found: sha256,
                });
            }
            (sha256, false)
        }
        None => match identity.as_ref().and_then(recorded) {
            Some(sha256) => {
                tracing::debug!(path = %path.display(), "plugin hash from the manifest cache");
                (sha256, true)
            }
            None => (sha256_hex(&bytes), false),
        },
    };
    elf::check(&bytes).map_err(|reason| LoadError::Malformed {
        path: path.to_owned(),
        reason,
    })?;
    drop(bytes);
    Ok(Staged {
        sha256,
        hash_recorded,
        identity,
        copy,
    })
}

/// A lock pins name, kind, version and API version as well as the bytes.
pub(super) fn check_against_lock(
    plugin: &LoadedPlugin,
    entry: &LockedPlugin,
) -> Result<(), LoadError> {
    check_manifest_against_lock(&plugin.manifest, &plugin.path, entry)
}

/// [`check_against_lock`] for the manifest `m` of the plugin file at `path`.
fn check_manifest_against_lock(
    m: &Manifest,
    path: &Path,
    entry: &LockedPlugin,
) -> Result<(), LoadError> {
    let kind = m.kind.to_string();
    for (field, locked, found) in [
        ("name", &entry.name, &m.name),
        ("kind", &entry.kind, &kind),
        ("version", &entry.version, &m.version),
        ("api-version", &entry.api_version, &m.api_version),
    ] {
        if locked != found {
            return Err(LoadError::LockMismatch {
                path: path.to_owned(),
                field,
                locked: locked.clone(),
                found: found.clone(),
            });
        }
    }
    Ok(())
}

/// Loads and checks the plugin library at `path` (in practice a sealed copy's `/proc/self/fd/N`),
/// naming it `shown` in errors and in the result; when `expected` is given, the manifest's kind and
/// name must match it. The caller fills in `sha256`.
pub fn load_path(
    path: &Path,
    shown: &Path,
    expected: Option<(eidos_plugin_api::PluginKind, &str)>,
) -> Result<LoadedPlugin, LoadError> {
    let header = lib_header_from_path(path).map_err(|e| classify(path, shown, e))?;
    let module = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|e| classify(path, shown, e))?;
    let path = shown;
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
        sha256: String::new(),
        identity: None,
        backend: Backend::Library(module),
    })
}

/// Turns abi_stable's error about the library at `loaded` into a refusal naming `shown`.
fn classify(loaded: &Path, shown: &Path, error: LibraryError) -> LoadError {
    let path = shown.to_owned();
    match error {
        LibraryError::OpenError { err, .. } => LoadError::Open {
            path,
            reason: printable(
                &err.to_string()
                    .replace(&loaded.display().to_string(), &shown.display().to_string()),
            ),
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
            reason: summarize_abi_error(
                &other
                    .to_string()
                    .replace(&loaded.display().to_string(), &shown.display().to_string()),
            ),
        },
    }
}

/// The dynamic loader's message with control characters dropped: it quotes names from the file,
/// and a corrupt or hostile file must not reach the terminal with escape sequences.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
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
    /// Calls the plugin's collect entry point; the answer comes with the log events the plugin
    /// emitted (plugin API 1.2; none from older plugins, executables or static facts). Blocks until
    /// the plugin returns.
    pub fn collect(&self, request: &CollectRequest, cancelled: &AtomicBool) -> CollectReply {
        let no_logs = |response| CollectReply {
            response,
            logs: Vec::new(),
        };
        let module = match &self.backend {
            Backend::Library(module) => module,
            Backend::Executable(executable) => {
                return no_logs(executable.collect(request, cancelled))
            }
            Backend::Facts(facts) => return no_logs(facts.collect()),
        };
        let request = match serde_json::to_string(request) {
            Ok(json) => json,
            Err(e) => return no_logs(CollectResponse::error(format!("encoding the request: {e}"))),
        };
        let answer = (module.collect())(RStr::from_str(&request), cancelled);
        serde_json::from_str(answer.as_str()).unwrap_or_else(|e| {
            no_logs(CollectResponse::error(format!(
                "the plugin returned a malformed answer: {e}"
            )))
        })
    }

    /// Calls the plugin's serialize entry point.
    pub fn serialize(&self, request: &SerializeRequest) -> Result<Vec<u8>, String> {
        let Backend::Library(module) = &self.backend else {
            return Err(format!("{} is not a serializer", self.path.display()));
        };
        let request =
            serde_json::to_string(request).map_err(|e| format!("encoding the request: {e}"))?;
        (module.serialize())(RStr::from_str(&request))
            .into_result()
            .map(Into::into)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// This test executable (a real position-independent ELF file that passes the checks) as the
    /// plugin file `libeidos_collector_x.so` in a directory of its own that the checks accept,
    /// with its bytes; `None`, said on standard error, where it is not position-independent.
    fn executable_as_plugin() -> Option<(tempfile::TempDir, PathBuf, Vec<u8>)> {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if elf::check(&bytes).is_err() {
            eprintln!("NOT RUN: this test executable is not position-independent");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = tmp.path().join("libeidos_collector_x.so");
        std::fs::write(&path, &bytes).unwrap();
        Some((tmp, path, bytes))
    }

    /// A lock entry for that plugin file, pinning `sha256`.
    fn locked_x(sha256: String) -> LockedPlugin {
        LockedPlugin {
            name: "x".into(),
            kind: "collector".into(),
            version: "0".into(),
            api_version: "0".into(),
            file: "libeidos_collector_x.so".into(),
            sha256,
        }
    }

    /// The check-then-load race: the file is opened and checked, then an attacker swaps another
    /// file in under its name (here deterministically, between the steps). What is hashed, checked
    /// and sealed for the dynamic loader must be the file that was opened and checked.
    #[test]
    fn the_bytes_loaded_are_the_bytes_opened_even_if_the_file_is_swapped_after_the_check() {
        let Some((tmp, path, checked)) = executable_as_plugin() else {
            return;
        };
        let opened = open_plugin(&path, true).unwrap();

        let mut swapped = checked.clone();
        let last = swapped.len() - 1;
        swapped[last] ^= 0xff;
        let attacker = tmp.path().join("swap");
        std::fs::write(&attacker, &swapped).unwrap();
        std::fs::rename(&attacker, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), swapped, "the swap happened");

        let staged = stage(&path, &opened.file, "x", None, |_| None).unwrap();
        assert_eq!(staged.sha256, sha256_hex(&checked));
        assert_eq!(std::fs::read(staged.copy.path()).unwrap(), checked);

        // Under a lock that pins the opened file, the swap is equally invisible.
        let entry = locked_x(sha256_hex(&checked));
        let opened = open_plugin(&path, true).unwrap();
        let err = stage(&path, &opened.file, "x", Some(&entry), |_| None).unwrap_err();
        assert!(
            matches!(err, LoadError::HashMismatch { .. }),
            "the swapped-in file, opened afresh, does not match: {err}"
        );
    }

    /// Without a lock, the hash recorded for the file stands in for hashing it; under a lock the
    /// bytes are hashed whatever is recorded, so a record cannot vouch for other bytes.
    #[test]
    fn a_recorded_hash_stands_in_only_without_a_lock() {
        let Some((_tmp, path, exe)) = executable_as_plugin() else {
            return;
        };
        let open = || File::open(&path).unwrap();
        let recorded = "ab".repeat(32);
        let mut asked = None;
        let staged = stage(&path, &open(), "x", None, |identity| {
            asked = Some(*identity);
            Some(recorded.clone())
        })
        .unwrap();
        assert_eq!(staged.sha256, recorded);
        assert!(staged.hash_recorded);
        assert_eq!(asked, staged.identity, "asked for the file's own identity");
        assert_eq!(asked, identity_of(&open()));
        let staged = stage(&path, &open(), "x", None, |_| None).unwrap();
        assert_eq!(staged.sha256, sha256_hex(&exe));
        assert!(!staged.hash_recorded);

        let entry = locked_x(recorded.clone());
        let err = stage(&path, &open(), "x", Some(&entry), |_| {
            Some(recorded.clone())
        })
        .unwrap_err();
        assert!(matches!(err, LoadError::HashMismatch { .. }), "{err}");
        let entry = locked_x(sha256_hex(&exe));
        let staged = stage(&path, &open(), "x", Some(&entry), |_| {
            Some(recorded.clone())
        })
        .unwrap();
        assert_eq!(staged.sha256, sha256_hex(&exe));
    }

    #[test]
    fn truncated_and_junk_files_are_refused_before_loading() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for (name, bytes) in [("junk", &b"not an ELF file"[..]), ("cut", &exe[..100_000])] {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let file = File::open(&path).unwrap();
            let err = stage(&path, &file, name, None, |_| None).unwrap_err();
            assert!(matches!(err, LoadError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        }
    }

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
