//! Reading untrusted files safely: without blocking on a FIFO, without reading more than a cap,
//! and through one descriptor.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Why a capped read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is larger than the limit.
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Opening or reading failed, or it is not a regular file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads a whole regular file of at most `limit` bytes. The file is opened without blocking (a
/// FIFO is refused, not waited on) and read through one descriptor, never more than `limit + 1`
/// bytes.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    read_capped(&file, limit)
}

/// Opens a file for reading without following it into a block: `O_NONBLOCK` keeps a FIFO from
/// hanging the open, and anything but a regular file is refused.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Reads what is left of a source (an open file, standard input), refusing more than `limit`
/// bytes; at most `limit + 1` bytes are ever taken from it, so an endless source is bounded.
pub fn read_capped(source: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_capped_sized(source, limit, 0)
}

/// [`read_capped`] for a source whose size is known beforehand (a regular file's length): the
/// buffer is allocated once at that size (at most `limit`), instead of growing by doubling and
/// copying. A wrong `size` changes only how the buffer grows, never what is read.
pub fn read_capped_sized(source: impl Read, limit: u64, size: u64) -> Result<Vec<u8>, ReadError> {
    let capacity = usize::try_from(size.min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    source
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_hint_only_changes_the_allocation_never_what_is_read() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for size in [0, 10, 100_000, 1 << 30] {
            let read = read_capped_sized(data.as_slice(), 200_000, size).unwrap();
            assert_eq!(read, data, "size hint {size}");
        }
        // The right size: one allocation of exactly that size, no doubling on the way.
        let read = read_capped_sized(data.as_slice(), 200_000, 100_000).unwrap();
        assert_eq!(read.capacity(), 100_000);
        // A hint never lifts the limit, and a huge hint is not allocated beyond it.
        assert!(matches!(
            read_capped_sized(data.as_slice(), 99_999, 100_000),
            Err(ReadError::TooLarge { limit: 99_999 })
        ));
        let read = read_capped_sized(&b"abc"[..], 16, u64::MAX).unwrap();
        assert_eq!(read, b"abc");
        assert!(read.capacity() <= 16);
    }
}
