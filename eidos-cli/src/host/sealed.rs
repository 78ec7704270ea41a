//! Sealed in-memory copies of plugin libraries.
//!
//! Every plugin is loaded from one of these: the library's bytes, read once from the descriptor
//! that was checked, are written into a memfd that is then sealed against writing, growing and
//! shrinking (no one can change it afterwards, not even this process), and the dynamic loader opens
//! the memfd through its `/proc/self/fd/N` path. What was checked and hashed is what is loaded.

use rustix::fs::{MemfdFlags, SealFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// The bytes of a [`SealedCopy`], mapped read-only; they cannot change while this lives.
#[derive(Debug)]
pub struct SealedBytes(Option<memmap2::Mmap>);

impl std::ops::Deref for SealedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }
}

/// A sealed in-memory copy of a library, loadable through its `/proc/self/fd` path.
#[derive(Debug)]
pub struct SealedCopy {
    fd: OwnedFd,
}

impl SealedCopy {
    /// Copies `bytes` into a new memfd (named after the plugin, for `/proc/PID/maps`) and seals it
    /// against any change (tests make copies of bytes they hold; the host copies files with
    /// [`SealedCopy::copy_of`]).
    #[cfg(test)]
    pub fn new(name: &str, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        Self::fill(Self::library_memfd(name)?, bytes)
    }

    /// A new, empty memfd for the library `name` (named after it, for `/proc/PID/maps`), open to
    /// sealing.
    fn library_memfd(name: &str) -> std::io::Result<OwnedFd> {
        Ok(rustix::fs::memfd_create(
            format!("eidos-plugin-{name}"),
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?)
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

    /// A sealed copy of what is left of `source` (an open library), made by the kernel
    /// (`copy_file_range`, or `sendfile` where the two file systems differ): the bytes never pass
    /// through this process, which reads them afterwards through [`SealedCopy::map`], sealed.
    /// At most `limit + 1` bytes are copied; `Ok(None)` when `source` holds more than `limit`.
    pub fn copy_of(name: &str, source: &File, limit: u64) -> std::io::Result<Option<SealedCopy>> {
        let mut file = File::from(Self::library_memfd(name)?);
        let copied = std::io::copy(&mut source.take(limit.saturating_add(1)), &mut file)?;
        if copied > limit {
            return Ok(None);
        }
        Self::seal(file).map(Some)
    }

    /// The sealed bytes, mapped read-only.
    pub fn map(&self) -> std::io::Result<SealedBytes> {
        let file = self.try_clone_file()?;
        if file.metadata()?.len() == 0 {
            // Nothing to map (a mapping cannot be empty).
            return Ok(SealedBytes(None));
        }
        // SAFETY: the memfd is sealed against writing, growing and shrinking (and against
        // removing those seals), so the mapped bytes cannot change or vanish while the map lives.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(SealedBytes(Some(map)))
    }

    /// Writes `bytes` into the memfd and seals it.
    fn fill(fd: OwnedFd, bytes: &[u8]) -> std::io::Result<SealedCopy> {
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        Self::seal(file)
    }

    /// Seals the memfd against any change.
    fn seal(file: File) -> std::io::Result<SealedCopy> {
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

    #[test]
    fn a_copy_of_a_file_has_its_bytes_sealed_and_one_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.so");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let open = || File::open(&path).unwrap();
        let copy = SealedCopy::copy_of("t", &open(), 300_000).unwrap().unwrap();
        assert_eq!(&*copy.map().unwrap(), data.as_slice());
        let write = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path())
            .and_then(|mut f| f.write_all(b"x"));
        assert!(write.is_err(), "writing a sealed memfd must fail");
        // The file changing afterwards changes nothing in the copy.
        std::fs::write(&path, b"other").unwrap();
        assert_eq!(&*copy.map().unwrap(), data.as_slice());
        std::fs::write(&path, &data).unwrap();
        assert!(SealedCopy::copy_of("t", &open(), 299_999)
            .unwrap()
            .is_none());
        // What is left of the file from its offset, as a read would take it.
        let mut file = open();
        file.read_exact(&mut [0; 1000]).unwrap();
        let rest = SealedCopy::copy_of("t", &file, 300_000).unwrap().unwrap();
        assert_eq!(&*rest.map().unwrap(), &data[1000..]);
        std::fs::write(&path, b"").unwrap();
        let empty = SealedCopy::copy_of("t", &open(), 10).unwrap().unwrap();
        assert!(empty.map().unwrap().is_empty());
    }
}
