//! The set of plugins on the search path, loaded on demand.
//!
//! Discovery only reads directory listings; a library is opened the first time it is needed, so
//! `eidos snapshot --collectors os --format json` opens exactly two libraries.

use super::discovery::{
    companion_folders, discover, normalize_name, Candidate, CompanionFolder, SearchDir,
};
use super::loader::{
    cached_manifest, load, remember_manifest, LoadError, LoadPolicy, LoadedPlugin,
};
use super::options::check_declared_defaults;
use eidos_plugin_api::{Manifest, PluginKind};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// The state of one plugin file, as `eidos plugins list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginStatus {
    /// Loaded and checked.
    Loaded,
    /// Another file of the same kind and name comes first on the search path.
    Shadowed {
        /// The file that wins.
        by: PathBuf,
    },
    /// Refused, with the reason.
    Refused {
        /// Why.
        reason: String,
    },
}

/// One row of `eidos plugins list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginEntry {
    /// The plugin name (from the manifest when loaded, else from the file name).
    pub name: String,
    /// Collector or serializer.
    pub kind: PluginKind,
    /// The plugin's version, when loaded.
    pub version: Option<String>,
    /// The plugin API version it was built against, when loaded.
    pub api_version: Option<String>,
    /// For serializers: the formats it writes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// One line saying what it does, when loaded.
    pub description: Option<String>,
    /// The library file.
    pub path: PathBuf,
    /// The SHA-256 of the bytes that were loaded, when loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Loaded, shadowed or refused.
    pub status: PluginStatus,
    /// Built into eidos (the `facts` collector): no file, nothing to lock.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
}

/// What a plugin file shadowed by a built-in plugin is shown as shadowed by.
pub const BUILTIN_PATH: &str = "(built-in)";

/// A format no loaded serializer writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {format:?}: available formats are {}", if available.is_empty() { "none (no serializer plugin was found)".to_owned() } else { available.join(", ") })]
pub struct UnknownFormat {
    /// The format asked for.
    pub format: String,
    /// The formats the loaded serializers write.
    pub available: Vec<String>,
}

/// Refuses a loaded plugin whose typed options declare defaults their own types reject (see
/// [`check_declared_defaults`]), naming the plugin's file and each such option.
fn checked_defaults(plugin: LoadedPlugin) -> Result<LoadedPlugin, LoadError> {
    match check_declared_defaults(&plugin.manifest) {
        Ok(()) => Ok(plugin),
        Err(reason) => Err(LoadError::Manifest {
            path: plugin.path.clone(),
            reason: format!(
                "{} {:?}: {reason}",
                plugin.manifest.kind, plugin.manifest.name
            ),
        }),
    }
}

/// The plugins found on a search path.
pub struct Registry {
    dirs: Vec<SearchDir>,
    policy: LoadPolicy,
    candidates: Vec<Candidate>,
    loaded: HashMap<PathBuf, Result<LoadedPlugin, LoadError>>,
    builtins: Vec<LoadedPlugin>,
}

impl Registry {
    /// Lists the plugin files in `dirs` (nothing is loaded yet); they will be loaded under `policy`.
    pub fn discover(dirs: Vec<SearchDir>, policy: LoadPolicy) -> Self {
        let candidates = discover(&dirs);
        Registry {
            dirs,
            policy,
            candidates,
            loaded: HashMap::new(),
            builtins: Vec::new(),
        }
    }

    /// Adds a plugin built into eidos. It comes before every directory: a plugin file of the same
    /// kind and name is shadowed by it.
    pub fn add_builtin(&mut self, plugin: LoadedPlugin) {
        let (kind, name) = (plugin.manifest.kind, normalize_name(&plugin.manifest.name));
        for c in &mut self.candidates {
            if c.kind == kind && c.name == name && c.shadowed_by.is_none() {
                c.shadowed_by = Some(PathBuf::from(BUILTIN_PATH));
            }
        }
        self.builtins.push(plugin);
    }

    fn builtin(&self, kind: PluginKind, name: &str) -> Option<&LoadedPlugin> {
        self.builtins
            .iter()
            .find(|p| p.manifest.kind == kind && normalize_name(&p.manifest.name) == name)
    }

    /// The directories searched, in order.
    pub fn dirs(&self) -> &[SearchDir] {
        &self.dirs
    }

    /// The folder called `name` in each searched directory that has one and from which at least
    /// one plugin is accepted, in search order; the folder is checked as plugin directories are
    /// (unless insecure plugins are allowed).
    ///
    /// A plugin is accepted when it is not shadowed and loads: it passes the ownership and
    /// permission checks and, under a lock, the lock (listed, same hash, same manifest). Its
    /// manifest comes from the manifest cache when the same file loaded before, so this usually
    /// runs no plugin code; the directory's plugins are tried in file-name order until one is
    /// accepted. A folder beside no accepted plugin is left out with a warning.
    pub fn companion_folders(&mut self, name: &str) -> Vec<CompanionFolder> {
        let folders = companion_folders(&self.dirs, name, !self.policy.allow_insecure);
        folders
            .into_iter()
            .filter(|folder| {
                let accepted = self.accepts_a_plugin_from(&folder.dir);
                if !accepted {
                    tracing::warn!(
                        folder = %folder.path.display(),
                        "ignoring a plugin directory's folder: no plugin of {} is accepted",
                        folder.dir.path.display()
                    );
                }
                accepted
            })
            .collect()
    }

    /// Whether some winning plugin file found in `dir` loads (see [`Registry::companion_folders`]).
    fn accepts_a_plugin_from(&mut self, dir: &SearchDir) -> bool {
        let from_dir: Vec<Candidate> = self
            .candidates
            .iter()
            .filter(|c| c.shadowed_by.is_none() && c.path.parent() == Some(dir.path.as_path()))
            .cloned()
            .collect();
        from_dir.iter().any(|c| self.manifest_of(c).is_ok())
    }

    /// The winning (not shadowed) files of a kind, in search order.
    pub fn active(&self, kind: PluginKind) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(move |c| c.kind == kind && c.shadowed_by.is_none())
    }

    /// The names of the winning files of a kind, sorted.
    pub fn names(&self, kind: PluginKind) -> Vec<String> {
        let mut names: Vec<String> = self
            .active(kind)
            .map(|c| c.name.replace('_', "-"))
            .chain(
                self.builtins
                    .iter()
                    .filter(|p| p.manifest.kind == kind)
                    .map(|p| p.manifest.name.clone()),
            )
            .collect();
        names.sort();
        names
    }

    /// Loads (once) the file of `candidate`.
    pub fn load(&mut self, candidate: &Candidate) -> Result<LoadedPlugin, LoadError> {
        self.loaded
            .entry(candidate.path.clone())
            .or_insert_with(|| {
                let result = load(candidate, &self.policy).and_then(checked_defaults);
                match &result {
                    Ok(p) => tracing::debug!(path = %p.path.display(), name = %p.manifest.name, "plugin loaded"),
                    Err(e) => tracing::warn!("plugin refused: {e}"),
                }
                result
            })
            .clone()
    }

    /// The winning plugin of this kind and name, loaded; `None` if there is no such file.
    pub fn get(&mut self, kind: PluginKind, name: &str) -> Option<Result<LoadedPlugin, LoadError>> {
        let wanted = normalize_name(name);
        if let Some(plugin) = self.builtin(kind, &wanted) {
            return Some(Ok(plugin.clone()));
        }
        let candidate = self.active(kind).find(|c| c.name == wanted)?.clone();
        Some(self.load(&candidate))
    }

    /// Every winning plugin of a kind that loads; refused ones are logged and left out.
    pub fn load_all(&mut self, kind: PluginKind) -> Vec<LoadedPlugin> {
        let candidates: Vec<Candidate> = self.active(kind).cloned().collect();
        candidates
            .iter()
            .filter_map(|c| self.load(c).ok())
            .collect()
    }

    /// The manifests of every winning plugin of a kind that loads, built-in ones first, for
    /// commands that need what plugins declare and run none of their code (`eidos diff`, `eidos
    /// fleet report`): see [`Registry::manifest`]. Refused plugins are logged and left out.
    pub fn manifests(&mut self, kind: PluginKind) -> Vec<Manifest> {
        let mut manifests: Vec<Manifest> = self
            .builtins
            .iter()
            .filter(|p| p.manifest.kind == kind)
            .map(|p| p.manifest.clone())
            .collect();
        let candidates: Vec<Candidate> = self.active(kind).cloned().collect();
        manifests.extend(candidates.iter().filter_map(|c| self.manifest_of(c).ok()));
        manifests
    }

    /// The manifest of the winning plugin of this kind and name; `None` if there is no such
    /// file. A plugin file loaded before, unchanged since, is not loaded again: its manifest comes
    /// from the manifest cache (see [`cached_manifest`]); otherwise the plugin is loaded (once)
    /// and its manifest remembered.
    pub fn manifest(
        &mut self,
        kind: PluginKind,
        name: &str,
    ) -> Option<Result<Manifest, LoadError>> {
        let wanted = normalize_name(name);
        if let Some(plugin) = self.builtin(kind, &wanted) {
            return Some(Ok(plugin.manifest.clone()));
        }
        let candidate = self.active(kind).find(|c| c.name == wanted)?.clone();
        Some(self.manifest_of(&candidate))
    }

    fn manifest_of(&mut self, candidate: &Candidate) -> Result<Manifest, LoadError> {
        if let Some(loaded) = self.loaded.get(&candidate.path) {
            return loaded
                .as_ref()
                .map(|p| p.manifest.clone())
                .map_err(Clone::clone);
        }
        if let Some(manifest) = cached_manifest(candidate, &self.policy) {
            // Recorded by a successful load, but perhaps by an eidos that did not check defaults.
            if check_declared_defaults(&manifest).is_ok() {
                return Ok(manifest);
            }
        }
        let plugin = self.load(candidate)?;
        // Without a lock the load remembered it already (it records every library it hashes).
        if self.policy.lock.is_some() {
            remember_manifest(&plugin, &self.policy);
        }
        Ok(plugin.manifest)
    }

    /// The serializer that writes `format`. Tries the serializer named like the format first, so
    /// that the usual case opens one library.
    pub fn serializer_for(&mut self, format: &str) -> Result<LoadedPlugin, UnknownFormat> {
        if let Some(Ok(plugin)) = self.get(PluginKind::Serializer, format) {
            if plugin.manifest.formats.iter().any(|f| f == format) {
                return Ok(plugin);
            }
        }
        let all = self.load_all(PluginKind::Serializer);
        if let Some(plugin) = all
            .iter()
            .find(|p| p.manifest.formats.iter().any(|f| f == format))
        {
            return Ok(plugin.clone());
        }
        let mut available: Vec<String> = all
            .iter()
            .flat_map(|p| p.manifest.formats.iter().cloned())
            .collect();
        available.sort();
        available.dedup();
        Err(UnknownFormat {
            format: format.to_owned(),
            available,
        })
    }

    /// Loads every file found and reports each one's state.
    pub fn entries(&mut self) -> Vec<PluginEntry> {
        let builtins = self.builtins.iter().map(|p| PluginEntry {
            name: p.manifest.name.clone(),
            kind: p.manifest.kind,
            version: Some(p.manifest.version.clone()),
            api_version: Some(p.manifest.api_version.clone()),
            formats: p.manifest.formats.clone(),
            description: Some(p.manifest.description.clone()),
            path: p.path.clone(),
            sha256: None,
            status: PluginStatus::Loaded,
            builtin: true,
        });
        let mut entries: Vec<PluginEntry> = builtins.collect();
        let candidates = self.candidates.clone();
        entries.extend(candidates.iter().map(|c| {
            let base = PluginEntry {
                name: c.name.replace('_', "-"),
                kind: c.kind,
                version: None,
                api_version: None,
                formats: Vec::new(),
                description: None,
                path: c.path.clone(),
                sha256: None,
                status: PluginStatus::Loaded,
                builtin: false,
            };
            if let Some(by) = &c.shadowed_by {
                return PluginEntry {
                    status: PluginStatus::Shadowed { by: by.clone() },
                    ..base
                };
            }
            match self.load(c) {
                Ok(p) => PluginEntry {
                    name: p.manifest.name.clone(),
                    version: Some(p.manifest.version.clone()),
                    api_version: Some(p.manifest.api_version.clone()),
                    formats: p.manifest.formats.clone(),
                    description: Some(p.manifest.description.clone()),
                    sha256: Some(p.sha256.clone()),
                    ..base
                },
                Err(e) => PluginEntry {
                    status: PluginStatus::Refused {
                        reason: e.to_string(),
                    },
                    ..base
                },
            }
        }));
        entries
    }
}
