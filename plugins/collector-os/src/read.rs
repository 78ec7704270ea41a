//! Reading files under a host root that may be hostile: a mounted node filesystem, or any directory
//! given as `--set os.root=`. Every read is capped, never waits on a FIFO and never leaves the root.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most bytes read from one file. The files the collector reads are a few KiB on a real node
/// (`/proc/cmdline` is at most a page or two, `/proc/modules` some tens of KiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a file under the host root was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It does not exist.
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    /// It resolves (through symbolic links) to a place outside the host root.
    #[error("{} resolves to {}, outside the host root {}", .path.display(), .real.display(), .root.display())]
    OutsideRoot {
        /// The path under the root.
        path: PathBuf,
        /// Where it leads.
        real: PathBuf,
        /// The host root.
        root: PathBuf,
    },
    /// It is not a regular file (a FIFO, a device, a socket, a directory).
    #[error("{} is not a regular file", .0.display())]
    NotRegular(PathBuf),
    /// It holds more than [`MAX_FILE_BYTES`].
    #[error("{} is larger than {} KiB, the most read from one file", .0.display(), MAX_FILE_BYTES / 1024)]
    TooLarge(PathBuf),
    /// It could not be opened or read.
    #[error("reading {}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

impl FileError {
    /// The file is not what a real node has there (outside the root, not a regular file, too
    /// large): reported as a warning and left out, never a reason to fail the whole collection.
    pub fn is_suspect(&self) -> bool {
        matches!(
            self,
            FileError::OutsideRoot { .. } | FileError::NotRegular(_) | FileError::TooLarge(_)
        )
    }

    fn io(path: &Path, error: std::io::Error) -> FileError {
        if error.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound(path.to_owned())
        } else {
            FileError::Io {
                path: path.to_owned(),
                error,
            }
        }
    }
}

/// The real path of `rel` under `root`, refused when symbolic links lead it out of the root.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, FileError> {
    let path = root.join(rel.trim_start_matches('/'));
    let real_root = std::fs::canonicalize(root).map_err(|e| FileError::io(root, e))?;
    let real = std::fs::canonicalize(&path).map_err(|e| FileError::io(&path, e))?;
    if !real.starts_with(&real_root) {
        return Err(FileError::OutsideRoot {
            path,
            real,
            root: root.to_owned(),
        });
    }
    Ok(real)
}

/// Reads the regular file `rel` under `root` as text (invalid UTF-8 replaced).
pub fn read_under(root: &Path, rel: &str) -> Result<String, FileError> {
    read_regular(&resolve(root, rel)?)
}

/// Reads `path`, which must be a regular file of at most [`MAX_FILE_BYTES`], as text. The last
/// component is not followed if it is a symbolic link, and a FIFO is never waited on.
pub fn read_regular(path: &Path) -> Result<String, FileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                // O_NOFOLLOW met a symbolic link.
                FileError::NotRegular(path.to_owned())
            } else {
                FileError::io(path, e)
            }
        })?;
    let meta = file.metadata().map_err(|e| FileError::io(path, e))?;
    if !meta.is_file() {
        return Err(FileError::NotRegular(path.to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(path.to_owned()));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; MAX_FILE_BYTES as usize]).unwrap();
        assert_eq!(
            read_under(dir.path(), "f").unwrap().len() as u64,
            MAX_FILE_BYTES
        );
        std::fs::write(&path, vec![b'a'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let err = read_under(dir.path(), "f").unwrap_err();
        assert!(matches!(err, FileError::TooLarge(_)), "{err}");
        assert!(err.is_suspect());
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
    }

    #[test]
    fn links_within_the_root_are_followed_and_out_of_it_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("usr/lib/os-release"), "ID=x\n").unwrap();
        std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
        assert_eq!(read_under(root, "/etc/os-release").unwrap(), "ID=x\n");

        std::os::unix::fs::symlink("/dev/zero", root.join("etc/zero")).unwrap();
        let err = read_under(root, "/etc/zero").unwrap_err();
        assert!(matches!(err, FileError::OutsideRoot { .. }), "{err}");
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let err = read_under(root, "/escape/etc/hostname").unwrap_err();
        assert!(err.is_suspect(), "{err}");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("cmdline");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_under(dir.path(), "cmdline").unwrap_err();
        assert!(matches!(err, FileError::NotRegular(_)), "{err}");
    }

    #[test]
    fn a_final_symbolic_link_is_not_followed_by_read_regular() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let err = read_regular(&dir.path().join("link")).unwrap_err();
        assert!(matches!(err, FileError::NotRegular(_)), "{err}");
        let err = read_under(dir.path(), "missing").unwrap_err();
        assert!(matches!(err, FileError::NotFound(_)) && !err.is_suspect());
    }
}
