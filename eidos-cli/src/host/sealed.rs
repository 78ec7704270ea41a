//! Sealed in-memory copies of plugin libraries.
//!
//! Every plugin is loaded from one of these: the library's bytes, read once from the descriptor
//! that was checked, are written into a memfd that is then sealed against writing, growing and
//! shrinking (no one can change it afterwards, not even this process), and the dynamic loader opens
//! the memfd through its `/proc/self/fd/N` path. What was checked and hashed is what is loaded.

use rustix::fs::{MemfdFlags, SealFlags};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// A sealed in-memory copy of a library, loadable through its `/proc/self/fd` path.
#[derive(Debug)]
pub struct SealedCopy {
    fd: OwnedFd,
}

impl SealedCopy {
    /// Copies `bytes` into a new memfd (named after the plugin, for `/proc/PID/maps`) and seals it
    /// against any change.
    pub fn new(name: &str, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        let fd = rustix::fs::memfd_create(
            format!("eidos-plugin-{name}"),
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        Self::fill(fd, bytes)
    }

    /// Like [`SealedCopy::new`], for a program the host executes (an executable collector, see
    /// `exec.rs`): the memfd is created executable even where the kernel makes memfds
    /// non-executable by default (`vm.memfd_noexec = 1`, Linux 6.3+); kernels older than that do not
    /// know the flag, and their memfds are executable anyway.
    pub fn new_executable(name: &str, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        let name = format!("eidos-collector-{name}");
        let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        let fd = match rustix::fs::memfd_create(&name, flags | MemfdFlags::EXEC) {
            Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create(&name, flags)?,
            other => other?,
        };
        Self::fill(fd, bytes)
    }

    /// Writes `bytes` into the memfd and seals it.
    fn fill(fd: OwnedFd, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)?;
        rustix::fs::fcntl_add_seals(
            &file,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        Ok(SealedCopy {
            fd: OwnedFd::from(file),
        })
    }

    /// The path the dynamic loader opens.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// The memfd's descriptor number in this process.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// A second descriptor for the same sealed copy (handed to a probe process).
    pub fn try_clone_file(&self) -> std::io::Result<std::fs::File> {
        Ok(std::fs::File::from(self.fd.try_clone()?))
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
    fn a_sealed_copy_has_the_bytes_and_cannot_be_changed() {
        let copy = SealedCopy::new("t", b"library bytes").unwrap();
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"library bytes");
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path())
            .and_then(|mut f| f.write_all(b"x"));
        assert!(err.is_err(), "writing a sealed memfd must fail");
        let shrink = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path())
            .and_then(|f| f.set_len(0));
        assert!(shrink.is_err(), "truncating a sealed memfd must fail");
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"library bytes");
    }
}
