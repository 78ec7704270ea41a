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
    let mut bytes = Vec::new();
    source
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}
