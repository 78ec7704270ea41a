//! Writing a document through a serializer plugin, to stdout or atomically to a file.

use super::registry::{Registry, UnknownFormat};
use eidos_plugin_api::wire::SerializeRequest;
use eidos_plugin_api::PLUGIN_API_VERSION;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// No serializer writes the format (a usage error).
    #[error(transparent)]
    UnknownFormat(#[from] UnknownFormat),
    /// The serializer plugin failed.
    #[error("serializer {plugin} could not write {format}: {reason}")]
    Serializer {
        /// The serializer's name.
        plugin: String,
        /// The format.
        format: String,
        /// Its message.
        reason: String,
    },
    /// The output file could not be written (nothing was left behind).
    #[error("cannot write {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
}

/// Serializes `document` as `format` with the matching serializer plugin.
pub fn render(
    registry: &mut Registry,
    document: serde_json::Value,
    format: &str,
) -> Result<Vec<u8>, OutputError> {
    let plugin = registry.serializer_for(format)?;
    let request = SerializeRequest {
        api_version: PLUGIN_API_VERSION.to_owned(),
        format: format.to_owned(),
        document,
    };
    plugin
        .serialize(&request)
        .map_err(|reason| OutputError::Serializer {
            plugin: plugin.manifest.name.clone(),
            format: format.to_owned(),
            reason,
        })
}

/// Writes `bytes` to `output` (atomically) or to standard output.
pub fn emit(bytes: &[u8], output: Option<&Path>) -> Result<(), OutputError> {
    match output {
        Some(path) => write_atomically(path, bytes).map_err(|source| OutputError::File {
            path: path.to_owned(),
            source,
        }),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
                Ok(()) => Ok(()),
                // A reader that went away (`eidos … | head`) is not an error worth reporting.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(OutputError::Stdout(e)),
            }
        }
    }
}

/// Writes `bytes` to a temporary file in `path`'s directory, then renames it over `path`, so that
/// readers see either the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".eidos-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn atomic_write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(&dir.path().join("no/such/dir/out.yaml"), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
