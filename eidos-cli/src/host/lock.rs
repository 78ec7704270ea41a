//! Plugin lock files: the curated, pinned plugin set of an air-gapped site.
//!
//! A lock lists each approved plugin's name, kind, version, API version, file name and SHA-256. With
//! a lock in force, a plugin file is loaded only if the lock lists its file name and the hash of its
//! bytes matches; and the bytes that were hashed are the bytes that are loaded: the file is read
//! once into memory, hashed, copied into a sealed memfd (no one can change it afterwards, not even
//! us), and the dynamic loader opens that memfd. A writer who swaps the file after the check changes
//! nothing that is loaded.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The lock file format version this eidos writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// One approved plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockedPlugin {
    /// The plugin's name.
    pub name: String,
    /// `collector` or `serializer`.
    pub kind: String,
    /// The plugin's version.
    pub version: String,
    /// The plugin API version it was built against.
    pub api_version: String,
    /// The library's file name (not its directory: the set can be installed anywhere).
    pub file: String,
    /// The SHA-256 of the library's bytes, lower-case hex.
    pub sha256: String,
}

/// A plugin lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// The approved plugins.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockedPlugin>,
    /// Where the lock was read from (for messages); not part of the file.
    #[serde(skip)]
    pub source: String,
}

/// A lock file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    /// Unreadable.
    #[error("cannot read plugin lock {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid lock.
    #[error("plugin lock {path} is invalid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Lock {
    /// Reads and validates a lock file.
    pub fn read(path: &Path) -> Result<Lock, LockFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |reason: String| LockFileError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let mut lock: Lock = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        lock.source = path.display().to_string();
        if lock.version != LOCK_VERSION {
            return Err(invalid(format!(
                "version {} is not supported (expected {LOCK_VERSION})",
                lock.version
            )));
        }
        for p in &lock.plugins {
            if p.sha256.len() != 64 || !p.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "plugin {}: sha256 must be 64 hex digits",
                    p.name
                )));
            }
        }
        Ok(lock)
    }

    /// The lock as TOML text, with a header comment.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!("# eidos plugin lock: only these plugin files, with these hashes, are loaded.\n# Written by `eidos plugins lock`.\n{body}")
    }

    /// The entry for a file name.
    pub fn entry(&self, file: &str) -> Option<&LockedPlugin> {
        self.plugins.iter().find(|p| p.file == file)
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a whole file.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A sealed in-memory copy of a library, loadable through its `/proc/self/fd` path.
#[derive(Debug)]
pub struct SealedCopy {
    fd: OwnedFd,
}

impl SealedCopy {
    /// Copies `bytes` into a new memfd and seals it against any change.
    pub fn new(name: &str, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        let cname = std::ffi::CString::new(format!("eidos-plugin-{name}"))
            .map_err(std::io::Error::other)?;
        // SAFETY: memfd_create takes a valid NUL-terminated name and flags; it returns a new fd or -1.
        let raw = unsafe {
            libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)?;
        let seals =
            libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: fcntl on an fd we own, with a valid command and argument.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SealedCopy {
            fd: OwnedFd::from(file),
        })
    }

    /// The path the dynamic loader opens.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// Keeps the memfd open until the process exits and returns its path. Libraries are never
    /// unloaded, and the dynamic loader recognises loaded libraries by path: if this memfd were
    /// closed, the next one could get the same `/proc/self/fd/N` and the loader would hand back the
    /// library already loaded from this one.
    pub fn keep_open_for_process(self) -> PathBuf {
        let path = self.path();
        std::mem::forget(self.fd);
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_sealed_copy_has_the_bytes_and_cannot_be_changed() {
        let copy = SealedCopy::new("t", b"library bytes").unwrap();
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"library bytes");
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path())
            .and_then(|mut f| f.write_all(b"x"));
        assert!(err.is_err(), "writing a sealed memfd must fail");
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"library bytes");
    }

    #[test]
    fn lock_round_trips_and_rejects_bad_files() {
        let mut lock = Lock {
            source: String::new(),
            version: 1,
            plugins: vec![LockedPlugin {
                name: "os".into(),
                kind: "collector".into(),
                version: "0.1.0".into(),
                api_version: "1.0.0".into(),
                file: "libeidos_collector_os.so".into(),
                sha256: sha256_hex(b"x"),
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins.lock");
        std::fs::write(&path, lock.to_toml()).unwrap();
        lock.source = path.display().to_string();
        assert_eq!(Lock::read(&path).unwrap(), lock);

        std::fs::write(
            &path,
            lock.to_toml().replace("sha256 = \"", "sha256 = \"zz"),
        )
        .unwrap();
        assert!(Lock::read(&path)
            .unwrap_err()
            .to_string()
            .contains("64 hex digits"));
        std::fs::write(&path, "version = 1\n[[plugin]]\nname = \"os\"\n").unwrap();
        let err = Lock::read(&path).unwrap_err().to_string();
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("missing field"),
            "{err}"
        );
        std::fs::write(&path, "version = 2\n").unwrap();
        assert!(Lock::read(&path)
            .unwrap_err()
            .to_string()
            .contains("version 2 is not supported"));
    }
}
