//! Where many snapshots come from (`eidos fleet report --from SOURCE`): a [`FleetSource`] lists
//! its [`Entry`]s, and each entry is read through the one snapshot reader.
//!
//! A source is a directory of snapshot files, or the snapshot ConfigMaps of a namespace
//! (`cm://NAMESPACE[?selector=LABELS]`, listed a page at a time by `eidos-fleet` while the
//! entries are read).

use super::{check_fetched_size, parse_snapshot, read_snapshot_file, SnapshotError};
use eidos_fleet::CmSelection;
use eidos_plugin_api::Snapshot;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A `cm://` source is malformed (a usage error).
    #[error(transparent)]
    Address(#[from] eidos_fleet::AddressError),
    /// The ConfigMaps could not be listed (the cluster's failure: exit 1).
    #[error(transparent)]
    Cluster(#[from] eidos_fleet::StoreError),
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
    /// The snapshot ConfigMaps of a namespace that match a label selector.
    ConfigMaps(CmSelection),
}

impl SourceError {
    /// Whether the failure is the environment's (the cluster), not the input's: exit 1, not 2.
    pub fn is_runtime(&self) -> bool {
        matches!(self, SourceError::Cluster(_))
    }
}

/// As for [`SnapshotError`]: a cluster that could not be listed exits 1, a bad source 2.
impl From<SourceError> for crate::error::CliError {
    fn from(e: SourceError) -> Self {
        if e.is_runtime() {
            crate::error::CliError::runtime(e)
        } else {
            crate::error::CliError::usage(e)
        }
    }
}

impl FleetSource {
    /// Parses `--from`: `cm://NAMESPACE[?selector=LABELS]`, else a directory path.
    pub fn parse(text: &str) -> Result<FleetSource, SourceError> {
        if eidos_fleet::address::is_cm(text) {
            return Ok(FleetSource::ConfigMaps(CmSelection::parse(text)?));
        }
        Ok(FleetSource::Dir(PathBuf::from(text)))
    }

    /// The entries, in name order. A directory is listed here: hidden entries (`.name`) are
    /// left out; everything else is listed, even what is not a regular file, so that it is
    /// reported, not silently passed over. ConfigMaps are listed as the entries are read, a page
    /// ahead, so that memory holds a page or two of snapshots whatever the number of nodes
    /// (`access`: how to reach the cluster); a list that fails part way ends the entries, and
    /// [`EntriesOutcome::check`] says why.
    pub fn entries(&self, access: &eidos_fleet::Access) -> Result<Entries, SourceError> {
        match self {
            FleetSource::Dir(dir) => Ok(Entries::Dir(list_dir(dir)?.into_iter())),
            FleetSource::ConfigMaps(selection) => Ok(Entries::ConfigMaps {
                namespace: selection.namespace.clone(),
                listing: eidos_fleet::listing::list(
                    access,
                    &selection.namespace,
                    &selection.selector,
                    eidos_fleet::store::PAGE_SIZE,
                )?,
            }),
        }
    }
}

/// The entries of a [`FleetSource`], in order, as they are listed.
#[derive(Debug)]
pub enum Entries {
    /// A directory's entries, listed up front.
    Dir(std::vec::IntoIter<Entry>),
    /// A namespace's snapshot ConfigMaps, listed a page ahead of the reader.
    ConfigMaps {
        /// The namespace.
        namespace: String,
        /// The list in progress.
        listing: eidos_fleet::listing::Listing,
    },
}

/// Whether a source's entries were all listed; ask once they have been read.
#[derive(Debug, Clone)]
pub struct EntriesOutcome(Option<eidos_fleet::listing::ListingOutcome>);

impl EntriesOutcome {
    /// `Err` when the list of ConfigMaps failed part way: the entries read are not the fleet.
    pub fn check(&self) -> Result<(), SourceError> {
        match &self.0 {
            Some(outcome) => Ok(outcome.check()?),
            None => Ok(()),
        }
    }
}

impl Entries {
    /// A handle that says whether every entry was listed.
    pub fn outcome(&self) -> EntriesOutcome {
        match self {
            Entries::Dir(_) => EntriesOutcome(None),
            Entries::ConfigMaps { listing, .. } => EntriesOutcome(Some(listing.outcome())),
        }
    }
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        match self {
            Entries::Dir(entries) => entries.next(),
            Entries::ConfigMaps { namespace, listing } => {
                listing.next().map(|listed| Entry::ConfigMap {
                    namespace: namespace.clone(),
                    name: listed.name,
                    stored: Arc::new(listed.stored),
                })
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Entries::Dir(entries) => entries.size_hint(),
            Entries::ConfigMaps { .. } => (0, None),
        }
    }
}

fn list_dir(dir: &Path) -> Result<Vec<Entry>, SourceError> {
    let list_error = |error| SourceError::List {
        path: dir.to_owned(),
        error,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths.into_iter().map(Entry::File).collect())
}

/// One snapshot of a source.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A file in a directory.
    File(PathBuf),
    /// A ConfigMap, fetched when the source was listed: its snapshot text, or why it has none.
    ConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its snapshot as listed; decoded when the entry is read, on the reader's thread.
        stored: Arc<eidos_fleet::store::Stored>,
    },
}

impl Entry {
    /// How reports name the entry (the file's path).
    pub fn source(&self) -> String {
        match self {
            Entry::File(path) => path.display().to_string(),
            Entry::ConfigMap {
                namespace, name, ..
            } => format!("cm://{namespace}/{name}"),
        }
    }

    /// The name a node gets when its snapshot does not say (the file's name).
    pub fn name(&self) -> String {
        match self {
            Entry::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Entry::ConfigMap { name, .. } => name.clone(),
        }
    }

    /// Reads the snapshot: a regular file only, capped, through the one snapshot reader.
    pub fn read(&self) -> Result<Snapshot, SnapshotError> {
        match self {
            Entry::File(path) => read_snapshot_file(path),
            Entry::ConfigMap { stored, .. } => {
                let path = PathBuf::from(self.source());
                let text = stored.text().map_err(|e| SnapshotError::Invalid {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                check_fetched_size(&path, &text)?;
                parse_snapshot(text.as_bytes())
                    .map_err(|reason| SnapshotError::Invalid { path, reason })
            }
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
        let names: Vec<String> = source
            .entries(&eidos_fleet::Access::default())
            .unwrap()
            .map(|e| e.name())
            .collect();
        assert_eq!(names, ["a.json", "b.yaml", "notes.txt", "sub"]);
        let err = FleetSource::parse("/nonexistent/dir")
            .unwrap()
            .entries(&eidos_fleet::Access::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot list the snapshot directory /nonexistent/dir: "),
            "{err}"
        );
    }

    #[test]
    fn configmap_sources_parse_and_malformed_ones_are_usage_errors() {
        let source = FleetSource::parse("cm://gpu-operator?selector=pool%3Da").unwrap();
        let FleetSource::ConfigMaps(selection) = source else {
            panic!("{source:?}")
        };
        assert_eq!(selection.namespace, "gpu-operator");
        let err = FleetSource::parse("cm://Not_A_Namespace").unwrap_err();
        assert!(!err.is_runtime(), "{err}");
        assert!(err.to_string().contains("cm://NAMESPACE"), "{err}");
    }

    #[test]
    fn a_configmap_entry_is_named_by_its_address_and_reads_its_text() {
        let entry = |text: Option<&str>| Entry::ConfigMap {
            namespace: "eidos".into(),
            name: "eidos-node-1".into(),
            stored: Arc::new(eidos_fleet::store::Stored::of_text(
                "cm://eidos/eidos-node-1",
                text,
            )),
        };
        let good = entry(Some(eidos_test_fixtures::H100_EKS_GO_YAML));
        assert_eq!(good.source(), "cm://eidos/eidos-node-1");
        assert_eq!(good.name(), "eidos-node-1");
        assert!(good.read().is_ok());
        let err = entry(None).read().unwrap_err().to_string();
        assert!(err.contains("holds no snapshot"), "{err}");
    }
}
