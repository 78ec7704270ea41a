//! Where many snapshots come from (`eidos fleet report --from SOURCE`): a [`FleetSource`] lists
//! its [`Entry`]s, and each entry is read through the one snapshot reader.
//!
//! Today a source is a directory. A source of ConfigMaps (`cm://NAMESPACE[?selector=...]`) is a
//! second variant of [`FleetSource`] listing [`Entry`]s of its own kind; nothing else changes.

use super::{read_snapshot_file, SnapshotError};
use eidos_plugin_api::Snapshot;
use std::path::{Path, PathBuf};

/// The scheme of ConfigMap sources (not readable by this build yet).
const CONFIGMAP_SCHEME: &str = "cm://";

/// Why a source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The text names no source this build can read.
    #[error("unsupported snapshot source {text:?}: {reason}")]
    Unsupported {
        /// The text given.
        text: String,
        /// Why, and what is expected.
        reason: String,
    },
    /// The directory could not be listed.
    #[error("cannot list the snapshot directory {}: {error}", .path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// A place that holds many nodes' snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetSource {
    /// Every entry of a directory (not its subdirectories' entries), except hidden ones.
    Dir(PathBuf),
}

impl FleetSource {
    /// Parses `--from`: a directory path.
    pub fn parse(text: &str) -> Result<FleetSource, SourceError> {
        if text.starts_with(CONFIGMAP_SCHEME) {
            return Err(SourceError::Unsupported {
                text: text.to_owned(),
                reason: "this build reads snapshot directories only (--from DIR)".to_owned(),
            });
        }
        Ok(FleetSource::Dir(PathBuf::from(text)))
    }

    /// The entries, sorted by name. Hidden entries (`.name`) are left out; everything else is
    /// listed, even what is not a regular file, so that it is reported, not silently passed over.
    pub fn entries(&self) -> Result<Vec<Entry>, SourceError> {
        match self {
            FleetSource::Dir(dir) => list_dir(dir),
        }
    }
}

fn list_dir(dir: &Path) -> Result<Vec<Entry>, SourceError> {
    let list_error = |error| SourceError::List {
        path: dir.to_owned(),
        error,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        entries.push(Entry::File(entry.path()));
    }
    entries.sort();
    Ok(entries)
}

/// One snapshot of a source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A file in a directory.
    File(PathBuf),
}

impl Entry {
    /// How reports name the entry (the file's path).
    pub fn source(&self) -> String {
        match self {
            Entry::File(path) => path.display().to_string(),
        }
    }

    /// The name a node gets when its snapshot does not say (the file's name).
    pub fn name(&self) -> String {
        match self {
            Entry::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }

    /// Reads the snapshot: a regular file only, capped, through the one snapshot reader.
    pub fn read(&self) -> Result<Snapshot, SnapshotError> {
        match self {
            Entry::File(path) => read_snapshot_file(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_lists_its_entries_sorted_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a.json", ".hidden", "notes.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let source = FleetSource::parse(dir.path().to_str().unwrap()).unwrap();
        let names: Vec<String> = source.entries().unwrap().iter().map(Entry::name).collect();
        assert_eq!(names, ["a.json", "b.yaml", "notes.txt", "sub"]);
        let err = FleetSource::parse("/nonexistent/dir")
            .unwrap()
            .entries()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot list the snapshot directory /nonexistent/dir: "),
            "{err}"
        );
    }

    #[test]
    fn configmap_sources_are_named_as_not_readable_yet() {
        let err = FleetSource::parse("cm://gpu-operator")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cm://gpu-operator") && err.contains("--from DIR"),
            "{err}"
        );
    }
}
