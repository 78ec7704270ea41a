//! Writing a document through a serializer plugin, to stdout or to a file: a regular file is
//! replaced atomically, a device or FIFO written in place.

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

/// Serializes `document` as `format` with the matching serializer plugin, for `output` (a file)
/// or standard output (`None`): the serializer is told the terminal's width when the output goes
/// to one (see [`terminal_width`]).
pub fn render(
    registry: &mut Registry,
    document: serde_json::Value,
    format: &str,
    output: Option<&Path>,
) -> Result<Vec<u8>, OutputError> {
    let plugin = registry.serializer_for(format)?;
    let request = SerializeRequest {
        api_version: PLUGIN_API_VERSION.to_owned(),
        format: format.to_owned(),
        document,
        width: match output {
            Some(path) if !is_stdout(path) => None,
            _ => terminal_width(),
        },
    };
    plugin
        .serialize(&request)
        .map_err(|reason| OutputError::Serializer {
            plugin: plugin.manifest.name.clone(),
            format: format.to_owned(),
            reason,
        })
}

/// The width of the terminal standard output is, or `None` when it is not a terminal (a pipe, a
/// file), where output for people is not wrapped. `COLUMNS`, when set to a positive number,
/// overrides the width the terminal reports, as for other programs; 80 when neither says.
pub fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0);
    let reported = terminal_size::terminal_size_of(&stdout).map(|(w, _)| w.0);
    Some(columns.or(reported).filter(|&w| w > 0).unwrap_or(80))
}

/// Writes `bytes` to `output` (see [`write_output`]) or to standard output.
pub fn emit(bytes: &[u8], output: Option<&Path>) -> Result<(), OutputError> {
    match output {
        Some(path) if !is_stdout(path) => {
            write_output(path, bytes).map_err(|source| OutputError::File {
                path: path.to_owned(),
                source,
            })
        }
        _ => {
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

/// Whether `path` names this process's standard output (`/dev/stdout`, `/dev/fd/1`,
/// `/proc/self/fd/1`): output to it goes to the descriptor itself, as without `--output`, so that
/// `-o /dev/stdout >> log` appends to `log` instead of replacing it.
fn is_stdout(path: &Path) -> bool {
    [
        "/dev/stdout",
        "/dev/fd/1",
        "/proc/self/fd/1",
        "/proc/thread-self/fd/1",
    ]
    .iter()
    .any(|alias| path == Path::new(alias))
}

/// Writes `bytes` to the file `path` names, in the way its kind needs:
///
/// - a new path, or a regular file (also through a symbolic link): atomically, with
///   [`write_atomically`], so that readers never see a part;
/// - anything else that exists (a device such as `/dev/null`, a FIFO, `/dev/stderr` when that is
///   a pipe or a terminal): written in place, never replaced. A FIFO nobody reads is an error at
///   once rather than a wait for a reader that may never come; a device that refuses the data
///   (`/dev/full`) is an error.
pub fn write_output(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            // Through a link, the file it points to is replaced and the link kept.
            let real = std::fs::canonicalize(path)?;
            write_atomically(&real, bytes)
        }
        Ok(meta) if meta.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )),
        Ok(_) => write_in_place(path, bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomically(path, bytes),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` into an existing file that is not a regular one (a device, a FIFO), without
/// creating, truncating or replacing it.
fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK makes opening a FIFO without a reader fail (ENXIO) instead of waiting forever;
    // it is cleared before writing so that a slow reader is waited for, as with any pipe.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
                std::io::Error::new(
                    e.kind(),
                    "nothing is reading from it (a FIFO without a reader)",
                )
            } else {
                e
            }
        })?;
    clear_nonblocking(&file)?;
    match file.write_all(bytes).and_then(|()| file.flush()) {
        // As on standard output, a reader that went away is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Clears `O_NONBLOCK` on an open file.
fn clear_nonblocking(file: &std::fs::File) -> std::io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(file)?;
    fcntl_setfl(file, flags - OFlags::NONBLOCK)?;
    Ok(())
}

/// Writes `bytes` to a temporary file in `path`'s directory, then renames it over `path`, so that
/// readers see either the old file or the whole new one, never a part.
///
/// A new file gets the permissions the umask allows (`0666 & !umask`, as any program creating a
/// file); a replaced file keeps its permissions and, where this process may set them, its owner
/// and group.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let existing = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Some(meta),
        _ => None,
    };
    // The kernel applies the umask to the mode asked for at creation.
    let mut temp = tempfile::Builder::new()
        .prefix(".eidos-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    if let Some(meta) = &existing {
        // Owner first: changing it clears set-user-ID bits, which the mode then restores.
        match std::os::unix::fs::fchown(temp.as_file(), Some(meta.uid()), Some(meta.gid())) {
            Ok(()) => {}
            // Not permitted (another user's file, a group this user is not in): keep ours.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::debug!(path = %path.display(), "cannot keep the owner of the replaced file: {e}");
            }
            Err(e) => return Err(e),
        }
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    temp.as_file().sync_all()?;
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

    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    /// This process's umask, read without changing it.
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
    }

    fn mkfifo(path: &Path) {
        use rustix::fs::{mknodat, FileType, Mode, CWD};
        mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
    }

    #[test]
    fn a_new_file_gets_the_mode_the_umask_allows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.yaml");
        write_output(&path, b"x").unwrap();
        assert_eq!(mode(&path), 0o666 & !umask());
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let root = std::fs::metadata(dir.path()).unwrap().uid() == 0;
        if root {
            std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
        }
        write_output(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o640);
        if root {
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
        }
    }

    #[test]
    fn through_a_link_the_target_is_replaced_and_the_link_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.yaml");
        let link = dir.path().join("link.yaml");
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_output(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn a_fifo_is_written_in_place_and_one_without_a_reader_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let err = write_output(&fifo, b"lost").unwrap_err();
        assert!(err.to_string().contains("nothing is reading"), "{err}");

        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        // The reader's open waits for a writer; retry until it is there.
        loop {
            match write_output(&fifo, b"through the pipe") {
                Ok(()) => break,
                Err(e) if e.to_string().contains("nothing is reading") => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left: {names:?}");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_output(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::IsADirectory);
    }
}
