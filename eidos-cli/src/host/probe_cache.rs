//! Remembering which libraries survived a probe, so that each is probed once, not on every run.
//!
//! A probe (`probe.rs`) costs a process start, about 3 ms per plugin; on a node the same few
//! libraries are loaded by every `eidos` run. After a library survives a probe, an entry named by
//! a hash of (this eidos, the library's SHA-256) is written under the user's cache directory
//! (`$XDG_CACHE_HOME/eidos/probed`, else `~/.cache/eidos/probed`); while it is there, a library
//! with those very bytes is not probed again by this eidos. Changed bytes are a new hash and are
//! probed; a new eidos (another version, plugin API or executable file) has other entry names.
//!
//! What the cache vouches for is only "these bytes did not crash a probe of this eidos"; every
//! other check (ownership, lock, ELF structure, API version, manifest) runs on every load. Still,
//! an entry makes the host load a library in its own process, so the cache is trusted only when
//! no one else could have written it:
//! - the directory is a real directory (not a link) owned by the current user with mode 0700, and
//!   its ancestors pass the plugin directories' rules (`security.rs`);
//! - an entry is a regular file (opened without following links) owned by the current user, not
//!   readable or writable by anyone else, holding exactly the record it is named for.
//!
//! Anything else is ignored with a warning and the library is probed. Entries are written
//! atomically (a private temporary file renamed into place), and the directory holds at most
//! [`MAX_ENTRIES`] of them: when full, the old entries are removed first.

use super::security::check_directory;
use eidos_plugin_api::PLUGIN_API_VERSION;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The most entries the cache directory holds.
pub const MAX_ENTRIES: usize = 512;

/// The largest entry read (a record is well under 300 bytes).
const MAX_RECORD_BYTES: u64 = 1024;

/// The probe results of one eidos executable, in one cache directory.
#[derive(Debug, Clone)]
pub struct ProbeCache {
    dir: PathBuf,
    host: String,
}

impl ProbeCache {
    /// The cache of this process: under the user's cache directory, for this executable; `None`
    /// when there is no cache directory (no `HOME`) or the executable cannot be identified.
    pub fn for_this_process() -> Option<ProbeCache> {
        let base = directories::ProjectDirs::from("", "", "eidos")?;
        let exe = std::fs::metadata("/proc/self/exe").ok()?;
        // The file's identity, not its hash: hashing a 20 MB executable would cost more than the
        // probes it saves. A rebuilt or reinstalled eidos is a new file (inode, size or time).
        let host = format!(
            "eidos {} plugin-api {} exe {}:{}:{}:{}.{}",
            env!("CARGO_PKG_VERSION"),
            PLUGIN_API_VERSION,
            exe.dev(),
            exe.ino(),
            exe.size(),
            exe.mtime(),
            exe.mtime_nsec()
        );
        Some(ProbeCache::new(base.cache_dir().join("probed"), host))
    }

    /// A cache in `dir` for the eidos described by `host` (any text that changes when the
    /// executable does).
    pub fn new(dir: PathBuf, host: String) -> ProbeCache {
        ProbeCache { dir, host }
    }

    /// The record an entry for the library with hash `sha256` holds.
    fn record(&self, sha256: &str) -> String {
        format!(
            "eidos probe ok\n{}\n{}\n",
            self.host,
            sha256.to_ascii_lowercase()
        )
    }

    /// The entry's file name: the hash of its record.
    fn entry_name(&self, sha256: &str) -> String {
        hex::encode(Sha256::digest(self.record(sha256).as_bytes()))
    }

    /// Whether a library with hash `sha256` survived a probe of this eidos before.
    pub fn vouches_for(&self, sha256: &str) -> bool {
        match self.check_dir() {
            Ok(true) => {}
            Ok(false) => return false,
            Err(reason) => {
                tracing::warn!(dir = %self.dir.display(), "not using the plugin probe cache: {reason}");
                return false;
            }
        }
        let path = self.dir.join(self.entry_name(sha256));
        match read_entry(&path) {
            Ok(Some(record)) if record == self.record(sha256) => true,
            Ok(None) => false,
            Ok(Some(_)) => {
                tracing::warn!(entry = %path.display(), "plugin probe cache: an entry does not hold its record; probing");
                false
            }
            Err(reason) => {
                tracing::warn!(entry = %path.display(), "plugin probe cache: ignoring an entry: {reason}");
                false
            }
        }
    }

    /// Records that the library with hash `sha256` survived a probe. Failing to record only
    /// costs a probe next time, so it is logged, never an error.
    pub fn remember(&self, sha256: &str) {
        if let Err(reason) = self.try_remember(sha256) {
            tracing::warn!(dir = %self.dir.display(), "plugin probe cache: cannot record a probe: {reason}");
        }
    }

    fn try_remember(&self, sha256: &str) -> Result<(), String> {
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
            .prefix(".entry-")
            .tempfile_in(&self.dir)
            .map_err(|e| format!("creating an entry: {e}"))?;
        file.write_all(self.record(sha256).as_bytes())
            .map_err(|e| format!("writing an entry: {e}"))?;
        file.persist(self.dir.join(self.entry_name(sha256)))
            .map_err(|e| format!("writing an entry: {e}"))?;
        Ok(())
    }

    /// Removes every entry when the directory holds [`MAX_ENTRIES`] or more.
    fn make_room(&self) -> Result<(), String> {
        let entries: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("listing it: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        if entries.len() < MAX_ENTRIES {
            return Ok(());
        }
        tracing::debug!(
            entries = entries.len(),
            "plugin probe cache full: clearing it"
        );
        for path in entries {
            // Only this cache's own names; removing an entry never follows a link.
            let ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                (n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                    || n.starts_with(".entry-")
            });
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

/// The record in the entry at `path`: `None` if there is no entry, the reason if it is not a
/// private regular file of ours.
fn read_entry(path: &Path) -> Result<Option<String>, String> {
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
    let mut record = String::new();
    file.take(MAX_RECORD_BYTES)
        .read_to_string(&mut record)
        .map_err(|e| e.to_string())?;
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const LIB_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const LIB_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /// A cache directory path under a private temporary directory (not created yet).
    fn fresh() -> (tempfile::TempDir, ProbeCache) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = ProbeCache::new(tmp.path().join("cache/probed"), "eidos test host".into());
        (tmp, cache)
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_remembered_hash_is_vouched_for_and_no_other() {
        let (_tmp, cache) = fresh();
        assert!(
            !cache.vouches_for(LIB_A),
            "an empty cache vouches for nothing"
        );
        cache.remember(LIB_A);
        assert!(cache.vouches_for(LIB_A));
        assert!(
            cache.vouches_for(&LIB_A.to_ascii_uppercase()),
            "hex case is not identity"
        );
        assert!(
            !cache.vouches_for(LIB_B),
            "changed bytes must be probed again"
        );
        let meta = std::fs::metadata(cache.dir.as_path()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        for entry in std::fs::read_dir(cache.dir.as_path()).unwrap() {
            let meta = entry.unwrap().metadata().unwrap();
            assert_eq!(meta.mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn another_eidos_does_not_share_entries() {
        let (_tmp, cache) = fresh();
        cache.remember(LIB_A);
        let other = ProbeCache::new(cache.dir.as_path().to_owned(), "eidos other host".into());
        assert!(!other.vouches_for(LIB_A));
    }

    #[test]
    fn a_directory_others_can_write_is_not_trusted() {
        let (_tmp, cache) = fresh();
        cache.remember(LIB_A);
        for mode in [0o770, 0o707, 0o750, 0o701] {
            chmod(cache.dir.as_path(), mode);
            assert!(!cache.vouches_for(LIB_A), "mode {mode:o}");
        }
        chmod(cache.dir.as_path(), 0o700);
        assert!(cache.vouches_for(LIB_A));
        // An ancestor anyone may write (no sticky bit): someone could swap the directory.
        let parent = cache.dir.as_path().parent().unwrap();
        chmod(parent, 0o777);
        assert!(!cache.vouches_for(LIB_A));
        chmod(parent, 0o700);
        assert!(cache.vouches_for(LIB_A));
    }

    #[test]
    fn a_directory_owned_by_someone_else_is_not_trusted() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("NOT RUN: changing a directory's owner needs root");
            return;
        }
        let (_tmp, cache) = fresh();
        cache.remember(LIB_A);
        std::os::unix::fs::chown(cache.dir.as_path(), Some(65534), None).unwrap();
        assert!(!cache.vouches_for(LIB_A));
        // Nor is it written to.
        cache.remember(LIB_B);
        std::os::unix::fs::chown(cache.dir.as_path(), Some(0), None).unwrap();
        assert!(!cache.vouches_for(LIB_B));
        // An entry owned by someone else is ignored too.
        let entry = cache.dir.as_path().join(cache.entry_name(LIB_A));
        std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
        assert!(!cache.vouches_for(LIB_A));
    }

    #[test]
    fn entries_that_are_links_readable_by_others_or_forged_are_ignored() {
        let (tmp, cache) = fresh();
        cache.remember(LIB_A);
        let entry = cache.dir.as_path().join(cache.entry_name(LIB_A));
        chmod(&entry, 0o644);
        assert!(!cache.vouches_for(LIB_A), "group/other bits");
        chmod(&entry, 0o600);
        assert!(cache.vouches_for(LIB_A));

        // A link to a well-formed record elsewhere is not an entry.
        let elsewhere = tmp.path().join("record");
        std::fs::write(&elsewhere, cache.record(LIB_A)).unwrap();
        chmod(&elsewhere, 0o600);
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert!(!cache.vouches_for(LIB_A), "a link");
        std::fs::remove_file(&entry).unwrap();

        // An entry for B copied under A's name does not vouch for A.
        cache.remember(LIB_B);
        std::fs::copy(cache.dir.as_path().join(cache.entry_name(LIB_B)), &entry).unwrap();
        chmod(&entry, 0o600);
        assert!(!cache.vouches_for(LIB_A), "a record for other bytes");

        // A directory that is a link is not the cache.
        let (_tmp2, other) = fresh();
        other.remember(LIB_A);
        let linked = ProbeCache::new(tmp.path().join("linked"), "eidos test host".into());
        std::os::unix::fs::symlink(other.dir.as_path(), linked.dir.as_path()).unwrap();
        assert!(!linked.vouches_for(LIB_A));
    }

    #[test]
    fn the_directory_is_bounded() {
        let (_tmp, cache) = fresh();
        for i in 0..MAX_ENTRIES + 10 {
            cache.remember(&format!("{i:064x}"));
        }
        let count = std::fs::read_dir(cache.dir.as_path()).unwrap().count();
        assert!(count <= MAX_ENTRIES, "{count} entries");
        assert!(cache.vouches_for(&format!("{:064x}", MAX_ENTRIES + 9)));
    }
}
