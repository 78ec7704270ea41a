//! Reading input files with a size cap, and the one snapshot reader every command uses.
//!
//! A snapshot is read from a file, `-` (standard input), or a ConfigMap (`cm://NAMESPACE/NAME`,
//! through [`crate::fleet`]).
//!
//! Every file eidos reads is read through [`read_capped`]: at most `limit + 1` bytes are ever
//! taken from it, so `/dev/zero`, a huge file or an endless pipe is refused with a message naming
//! the file and the limit instead of filling memory.

use eidos_plugin_api::model::SNAPSHOT_KIND;
use eidos_plugin_api::Snapshot;
use std::path::{Path, PathBuf};

/// The largest snapshot eidos reads (64 MiB; a real one is a few hundred KiB).
pub const SNAPSHOT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The largest configuration file eidos reads (1 MiB; a real one is a few hundred bytes).
pub const CONFIG_MAX_BYTES: u64 = 1024 * 1024;
/// The largest rendered recipe document `eidos validate --recipe` reads (16 MiB; a real one is a
/// few KiB).
pub const RECIPE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// How deeply mappings and sequences may nest in YAML read from outside (snapshots, facts files,
/// recipe documents) when the text is costly enough to be depth-checked (see
/// [`eidos_recipes::nesting::from_untrusted_yaml`]); the fast block-style reader leaves deeper
/// text to that check. A snapshot needs 6 levels.
pub const YAML_MAX_NESTING: usize = 64;

/// Deserializes YAML from outside this process, in time proportional to its size: the block-style
/// text snapshots are written in by the fast reader of [`block_yaml`], anything else (and any
/// error) by serde_yaml.
pub fn from_untrusted_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    if let Some(value) = block_yaml::from_block_yaml(text) {
        return Ok(value);
    }
    eidos_recipes::nesting::from_untrusted_yaml(text, YAML_MAX_NESTING).map_err(|e| e.to_string())
}

/// The path that names standard input.
const STDIN: &str = "-";

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input holds more than the limit.
    #[error("{what} {} is larger than the limit of {}", shown(.path), human(*.limit))]
    TooLarge {
        /// What the file is ("the snapshot", "the configuration file" …).
        what: String,
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input could not be opened or read.
    #[error("cannot read {what} {}: {error}", shown(.path))]
    Io {
        /// What the file is.
        what: String,
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The I/O error (its text is part of this message, so it is not chained as a source).
        error: std::io::Error,
    },
    /// The input is not a regular file (a link, a FIFO, a device, a directory) where one must be.
    #[error("{what} {} is not a regular file: it is {kind}", shown(.path))]
    NotRegular {
        /// What the file is.
        what: String,
        /// The file.
        path: PathBuf,
        /// What it is instead ("a symbolic link (not followed)", "a FIFO" …).
        kind: &'static str,
    },
    /// The input is not UTF-8 text.
    #[error("{what} {} is not UTF-8 text: {error}", shown(.path))]
    NotText {
        /// What the file is.
        what: String,
        /// The file (`-` for standard input).
        path: PathBuf,
        /// Where the text breaks.
        error: std::str::Utf8Error,
    },
}

/// A path as messages show it: `-` is standard input.
fn shown(path: &Path) -> String {
    if path == Path::new(STDIN) {
        "(standard input)".to_owned()
    } else {
        path.display().to_string()
    }
}

/// A byte count in words: whole MiB or KiB where exact, else bytes.
fn human(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads all of `path` (`-`: standard input), refusing more than `limit` bytes.
///
/// `what` names the input in messages ("the snapshot"). At most `limit + 1` bytes are read, so an
/// endless source (`/dev/zero`, a pipe) is bounded. A FIFO is read like a pipe: opening one waits
/// for a writer, as `--snapshot <(command)` needs.
pub fn read_capped(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    use crate::host::files::{self, ReadError};
    let io_error = |error| InputError::Io {
        what: what.to_owned(),
        path: path.to_owned(),
        error,
    };
    let read = if path == Path::new(STDIN) {
        files::read_capped(std::io::stdin().lock(), limit)
    } else {
        let file = std::fs::File::open(path).map_err(io_error)?;
        // A regular file's length sizes the buffer once: grown by doubling from nothing, the
        // copies and the fresh pages cost a fifteenth of a diff of two 75 KB snapshots.
        let size = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map_or(0, |m| m.len());
        files::read_capped_sized(file, limit, size)
    };
    read.map_err(|e| match e {
        ReadError::TooLarge { limit } => InputError::TooLarge {
            what: what.to_owned(),
            path: path.to_owned(),
            limit,
        },
        ReadError::Io(error) => io_error(error),
    })
}

/// [`read_capped`] for a file that must be a regular file found in a listing (`eidos fleet report
/// --from DIR`): it is opened without following a symbolic link and without waiting on a FIFO, so
/// an entry swapped after the listing cannot lead the read elsewhere or hang it.
pub fn read_regular_capped(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    use rustix::fs::{Mode, OFlags};
    let not_regular = |kind| InputError::NotRegular {
        what: what.to_owned(),
        path: path.to_owned(),
        kind,
    };
    let io_error = |error| InputError::Io {
        what: what.to_owned(),
        path: path.to_owned(),
        error,
    };
    let flags =
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            not_regular("a symbolic link (not followed)")
        } else {
            io_error(e.into())
        }
    })?;
    let file = std::fs::File::from(fd);
    let metadata = file.metadata().map_err(io_error)?;
    let kind = metadata.file_type();
    if !kind.is_file() {
        return Err(not_regular(file_kind(kind)));
    }
    crate::host::files::read_capped_sized(&file, limit, metadata.len()).map_err(|e| match e {
        crate::host::files::ReadError::TooLarge { limit } => InputError::TooLarge {
            what: what.to_owned(),
            path: path.to_owned(),
            limit,
        },
        crate::host::files::ReadError::Io(error) => io_error(error),
    })
}

/// What a file that is not a regular file is, in words.
pub fn file_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_symlink() {
        "a symbolic link (not followed)"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// [`read_capped`] for text files (configuration, lock): the bytes must be UTF-8.
pub fn read_capped_text(path: &Path, limit: u64, what: &str) -> Result<String, InputError> {
    let bytes = read_capped(path, limit, what)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotText {
        what: what.to_owned(),
        path: path.to_owned(),
        error: e.utf8_error(),
    })
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or is too large.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A `cm://` address is malformed (a usage error).
    #[error(transparent)]
    Address(#[from] eidos_fleet::AddressError),
    /// The ConfigMap could not be read: forbidden, missing, API server unreachable (a runtime
    /// failure, not the caller's mistake).
    #[error(transparent)]
    Cluster(#[from] eidos_fleet::StoreError),
    /// The file is not a snapshot.
    #[error("{} is not a valid snapshot: {reason}", shown(.path))]
    Invalid {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl SnapshotError {
    /// Whether the failure is the environment's (the cluster), not the input's: exit 1, not 2.
    pub fn is_runtime(&self) -> bool {
        matches!(self, SnapshotError::Cluster(_))
    }
}

/// A snapshot that cannot be read is the input's fault (exit 2), except a cluster that could not
/// be read (exit 1): every command that reads snapshots reports them the same way.
impl From<SnapshotError> for crate::error::CliError {
    fn from(e: SnapshotError) -> Self {
        if e.is_runtime() {
            crate::error::CliError::runtime(e)
        } else {
            crate::error::CliError::usage(e)
        }
    }
}

/// Reads the bytes of the snapshot source `path`: a file, `-` (standard input) or a ConfigMap
/// (`cm://NAMESPACE/NAME`), at most [`SNAPSHOT_MAX_BYTES`]. Every command that reads one snapshot
/// comes through here, so every command takes every source.
fn read_source(path: &Path) -> Result<Vec<u8>, SnapshotError> {
    if let Some(text) = path.to_str().filter(|t| eidos_fleet::address::is_cm(t)) {
        let address = eidos_fleet::CmAddress::parse(text, &eidos_k8s_client::process_env)?;
        let text = crate::fleet::read(&address)?;
        check_fetched_size(path, &text)?;
        return Ok(text.into_bytes());
    }
    Ok(read_capped(path, SNAPSHOT_MAX_BYTES, "the snapshot")?)
}

/// Holds snapshot text fetched whole (from a ConfigMap) to the cap a file read stops at.
pub(crate) fn check_fetched_size(path: &Path, text: &str) -> Result<(), SnapshotError> {
    if text.len() as u64 > SNAPSHOT_MAX_BYTES {
        return Err(InputError::TooLarge {
            what: "the snapshot".to_owned(),
            path: path.to_owned(),
            limit: SNAPSHOT_MAX_BYTES,
        }
        .into());
    }
    Ok(())
}

/// Reads the snapshot in `path` (`-`: standard input; `cm://NAMESPACE/NAME`: a ConfigMap): eidos's
/// or the Go tool's, in YAML or JSON, at most [`SNAPSHOT_MAX_BYTES`].
pub fn read_snapshot(path: &Path) -> Result<Snapshot, SnapshotError> {
    let bytes = read_source(path)?;
    parse_snapshot(&bytes).map_err(|reason| SnapshotError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Reads a snapshot that must be a regular file (see [`read_regular_capped`]), e.g. one entry of
/// a directory of snapshots.
pub fn read_snapshot_file(path: &Path) -> Result<Snapshot, SnapshotError> {
    let bytes = read_regular_capped(path, SNAPSHOT_MAX_BYTES, "the snapshot")?;
    parse_snapshot(&bytes).map_err(|reason| SnapshotError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Reads the snapshot in `path` (as [`read_snapshot`]) and also the document as written: every
/// field, in its order, as JSON (`eidos diff --format json-patch` patches the document itself).
pub fn read_snapshot_document(path: &Path) -> Result<(Snapshot, serde_json::Value), SnapshotError> {
    let bytes = read_source(path)?;
    parse_snapshot_document(&bytes).map_err(|reason| SnapshotError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Parses snapshot bytes as [`parse_snapshot`] does, keeping the document as read too.
pub fn parse_snapshot_document(bytes: &[u8]) -> Result<(Snapshot, serde_json::Value), String> {
    use serde::Deserialize;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let document: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?
    } else {
        from_untrusted_yaml(text)?
    };
    let snapshot = Snapshot::deserialize(&document).map_err(|e| format!("not a snapshot: {e}"))?;
    check_kind(&snapshot)?;
    Ok((snapshot, document))
}

fn check_kind(snapshot: &Snapshot) -> Result<(), String> {
    if snapshot.kind != SNAPSHOT_KIND {
        return Err(format!(
            "kind is {:?}, expected {SNAPSHOT_KIND:?}",
            snapshot.kind
        ));
    }
    Ok(())
}

/// Parses snapshot bytes: JSON when the text starts with `{`, YAML otherwise. The document's kind
/// must be `Snapshot`.
pub fn parse_snapshot(bytes: &[u8]) -> Result<Snapshot, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let snapshot: Snapshot = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?
    } else {
        from_untrusted_yaml(text)?
    };
    check_kind(&snapshot)?;
    Ok(snapshot)
}

mod block_yaml;
pub mod sources;

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_from_yaml_and_json_and_other_documents_are_refused() {
        let yaml = "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements: []\n";
        assert!(parse_snapshot(yaml.as_bytes()).is_ok());
        let json = r#"{"kind":"Snapshot","apiVersion":"snapshot.dgxc.io/v1","measurements":[]}"#;
        assert!(parse_snapshot(json.as_bytes()).is_ok());
        let err = parse_snapshot(b"kind: Recipe\napiVersion: v1\n").unwrap_err();
        assert!(err.contains("expected \"Snapshot\""), "{err}");
        assert!(parse_snapshot(b"{").unwrap_err().contains("malformed JSON"));
        assert!(parse_snapshot(b": :")
            .unwrap_err()
            .contains("malformed YAML"));
        assert!(parse_snapshot(b"kind: \xff").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn the_go_tools_snapshot_reads_from_a_file_in_yaml_and_json() {
        let path = eidos_test_fixtures::h100_eks_go_path();
        let snapshot = read_snapshot(&path).unwrap();
        assert!(snapshot.measurements.len() >= 4);
        let json = serde_json::to_vec(&snapshot).unwrap();
        assert_eq!(parse_snapshot(&json).unwrap(), snapshot);
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, vec![b'a'; 1024]).unwrap();
        assert_eq!(read_capped(&path, 1024, "the file").unwrap().len(), 1024);
        std::fs::write(&path, vec![b'a'; 1025]).unwrap();
        let err = read_capped(&path, 1024, "the test file").unwrap_err();
        assert!(matches!(err, InputError::TooLarge { limit: 1024, .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "the test file {} is larger than the limit of 1 KiB",
                path.display()
            )
        );
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "a = 1\n").unwrap();
        assert_eq!(read_capped_text(&path, 100, "the file").unwrap(), "a = 1\n");
        std::fs::write(&path, b"a = \xff\n").unwrap();
        let err = read_capped_text(&path, 100, "the configuration file").unwrap_err();
        assert!(err.to_string().contains("is not UTF-8 text"), "{err}");
    }

    #[test]
    fn an_endless_device_is_bounded() {
        // /dev/zero never ends: only the cap stops the read.
        let err = read_capped(Path::new("/dev/zero"), 4096, "the snapshot").unwrap_err();
        assert!(
            err.to_string().contains("larger than the limit of 4 KiB"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_named_once() {
        let err = read_snapshot(Path::new("/nonexistent/snap.yaml")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot read the snapshot /nonexistent/snap.yaml: "),
            "{text}"
        );
        // The I/O error is in the message, not chained again as a source.
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn a_malformed_configmap_address_is_a_usage_error_and_never_a_file() {
        let err = read_snapshot(Path::new("cm://eidos")).unwrap_err();
        assert!(matches!(err, SnapshotError::Address(_)), "{err}");
        assert!(!err.is_runtime());
        assert!(
            err.to_string().contains("expected cm://NAMESPACE/NAME"),
            "{err}"
        );
    }

    #[test]
    fn the_document_as_read_comes_with_the_snapshot() {
        let path = eidos_test_fixtures::h100_eks_go_path();
        let (snapshot, document) = read_snapshot_document(&path).unwrap();
        assert_eq!(snapshot, read_snapshot(&path).unwrap());
        let expected: serde_json::Value =
            serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        assert_eq!(document, expected);
        assert_eq!(document["measurements"][0]["type"], "SystemD");
        let err = parse_snapshot_document(b"kind: Recipe\napiVersion: v1\n").unwrap_err();
        assert!(err.contains("expected \"Snapshot\""), "{err}");
        let err = parse_snapshot_document(b"kind: Snapshot\n").unwrap_err();
        assert!(err.contains("not a snapshot"), "{err}");
    }

    #[test]
    fn a_listed_file_must_be_regular_and_is_not_followed_or_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        std::fs::write(&real, eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        assert!(read_snapshot_file(&real).is_ok());
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = read_snapshot_file(&link).unwrap_err().to_string();
        assert!(
            err.contains("link.yaml is not a regular file: it is a symbolic link"),
            "{err}"
        );
        let fifo = dir.path().join("fifo.yaml");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        // No writer: a blocking open would hang here.
        let err = read_snapshot_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("it is a FIFO"), "{err}");
        let err = read_snapshot_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("it is a directory"), "{err}");
    }

    #[test]
    fn limits_read_in_words() {
        assert_eq!(human(SNAPSHOT_MAX_BYTES), "64 MiB");
        assert_eq!(human(CONFIG_MAX_BYTES), "1 MiB");
        assert_eq!(human(3 * 1024), "3 KiB");
        assert_eq!(human(1536), "1536 bytes");
        assert_eq!(human(10), "10 bytes");
    }
}
