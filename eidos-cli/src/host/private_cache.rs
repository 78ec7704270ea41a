//! A cache directory only the current user could have written: the trust rules and the file
//! handling shared by the plugin caches (`probe_cache.rs`, `manifest_cache.rs`).
//!
//! What a cache says makes the host skip work (a probe, a load), so it is trusted only when no
//! one else could have written it:
//! - the directory is a real directory (not a link) owned by the current user with mode 0700, and
//!   its ancestors pass the plugin directories' rules (`security.rs`);
//! - an entry is a regular file (opened without following links) owned by the current user, not
//!   readable or writable by anyone else, and at most the cache's record size.
//!
//! Entries are written atomically (a private temporary file renamed into place), and a directory
//! holds a bounded number of them: when full, the old entries are removed first.

use super::security::check_directory;
use eidos_plugin_api::PLUGIN_API_VERSION;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The prefix of the temporary files entries are written to before they are renamed into place.
const TEMP_PREFIX: &str = ".entry-";

/// One private cache directory.
#[derive(Debug, Clone)]
pub struct PrivateCache {
    dir: PathBuf,
    max_entries: usize,
    max_record_bytes: u64,
}

impl PrivateCache {
    /// The cache in `dir` (created on the first write), holding at most `max_entries` entries of
    /// at most `max_record_bytes` each.
    pub fn new(dir: PathBuf, max_entries: usize, max_record_bytes: u64) -> PrivateCache {
        PrivateCache {
            dir,
            max_entries,
            max_record_bytes,
        }
    }

    /// The directory.
    pub fn as_path(&self) -> &Path {
        &self.dir
    }

    /// The record in the entry called `name`: `Ok(None)` when the directory or the entry does
    /// not exist, the reason when either may not be trusted (or the entry is too large).
    pub fn read(&self, name: &str) -> Result<Option<String>, String> {
        if !self
            .check_dir()
            .map_err(|reason| format!("the directory {}: {reason}", self.dir.display()))?
        {
            return Ok(None);
        }
        let path = self.dir.join(name);
        read_entry(&path, self.max_record_bytes)
            .map_err(|reason| format!("the entry {}: {reason}", path.display()))
    }

    /// Writes `record` as the entry called `name` (atomically; replacing an older one), creating
    /// the directory (0700) if needed and making room when it is full.
    pub fn write(&self, name: &str, record: &str) -> Result<(), String> {
        if record.len() as u64 > self.max_record_bytes {
            return Err(format!(
                "the record is {} bytes, more than the limit of {}",
                record.len(),
                self.max_record_bytes
            ));
        }
        if !self.check_dir()? {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| format!("creating it: {e}"))?;
            if !self.check_dir()? {
                return Err("it vanished after it was created".to_owned());
            }
        }
        self.make_room()?;
        // A private (0600) temporary file in the same directory, renamed over the entry: a reader
        // sees the old entry, no entry, or the whole new one.
        let mut file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| format!("creating an entry: {e}"))?;
        file.write_all(record.as_bytes())
            .map_err(|e| format!("writing an entry: {e}"))?;
        file.persist(self.dir.join(name))
            .map_err(|e| format!("writing an entry: {e}"))?;
        Ok(())
    }

    /// Removes every entry when the directory holds the most entries it may.
    fn make_room(&self) -> Result<(), String> {
        let entries: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("listing it: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        if entries.len() < self.max_entries {
            return Ok(());
        }
        tracing::debug!(
            dir = %self.dir.display(),
            entries = entries.len(),
            "plugin cache full: clearing it"
        );
        for path in entries {
            // Only a cache's own names; removing an entry never follows a link.
            let ours = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| is_entry_name(n) || n.starts_with(TEMP_PREFIX));
            if ours {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    /// `Ok(true)` when the directory exists and may be trusted, `Ok(false)` when it does not
    /// exist, the reason when it exists and may not be trusted.
    fn check_dir(&self) -> Result<bool, String> {
        let meta = match std::fs::symlink_metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.to_string()),
        };
        if !meta.is_dir() {
            return Err("it is not a directory (links are not followed)".to_owned());
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(format!(
                "it is owned by uid {}, not by the current user (uid {me})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "its mode is {:04o}; it must be 0700 (fix with: chmod 700 {})",
                meta.mode() & 0o7777,
                self.dir.display()
            ));
        }
        check_directory(&self.dir).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

/// Whether `name` is an entry name as the caches make them: 64 hex digits (a SHA-256).
pub fn is_entry_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// This eidos, as the caches key their entries: the version, the plugin API and the executable
/// file's identity; `None` when the executable cannot be identified. The file's identity, not its
/// hash: hashing a 20 MB executable would cost more than the work the caches save. A rebuilt or
/// reinstalled eidos is a new file (inode, size or time).
pub fn this_eidos() -> Option<String> {
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    Some(format!(
        "eidos {} plugin-api {} exe {}:{}:{}:{}.{}",
        env!("CARGO_PKG_VERSION"),
        PLUGIN_API_VERSION,
        exe.dev(),
        exe.ino(),
        exe.size(),
        exe.mtime(),
        exe.mtime_nsec()
    ))
}

/// The user's directory for eidos caches (`$XDG_CACHE_HOME/eidos`, else `~/.cache/eidos`);
/// `None` without a home directory.
pub fn cache_base() -> Option<PathBuf> {
    let base = directories::ProjectDirs::from("", "", "eidos")?;
    Some(base.cache_dir().to_owned())
}

/// The record in the entry at `path`: `None` if there is no entry, the reason if it is not a
/// private regular file of ours of at most `limit` bytes.
fn read_entry(path: &Path, limit: u64) -> Result<Option<String>, String> {
    use rustix::fs::{Mode, OFlags};
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.uid() != me {
        return Err(format!("owned by uid {}, not by uid {me}", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!("mode {:04o}, not 0600", meta.mode() & 0o7777));
    }
    if meta.len() > limit {
        return Err(format!(
            "{} bytes, more than the limit of {limit}",
            meta.len()
        ));
    }
    let mut record = String::new();
    file.take(limit)
        .read_to_string(&mut record)
        .map_err(|e| e.to_string())?;
    Ok(Some(record))
}
