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
//! no one else could have written it (the rules of `private_cache.rs`: a user-owned 0700
//! directory, private regular files, not links), and an entry only when it holds exactly the
//! record it is named for.
//!
//! Anything else is ignored with a warning and the library is probed. Entries are written
//! atomically, and the directory holds at most [`MAX_ENTRIES`] of them.

use super::private_cache::{cache_base, this_eidos, PrivateCache};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The most entries the cache directory holds.
pub const MAX_ENTRIES: usize = 512;

/// The largest entry read (a record is well under 300 bytes).
const MAX_RECORD_BYTES: u64 = 1024;

/// The probe results of one eidos executable, in one cache directory.
#[derive(Debug, Clone)]
pub struct ProbeCache {
    dir: PrivateCache,
    host: String,
}

impl ProbeCache {
    /// The cache of this process: under the user's cache directory, for this executable; `None`
    /// when there is no cache directory (no `HOME`) or the executable cannot be identified.
    pub fn for_this_process() -> Option<ProbeCache> {
        Some(ProbeCache::new(cache_base()?.join("probed"), this_eidos()?))
    }

    /// A cache in `dir` for the eidos described by `host` (any text that changes when the
    /// executable does).
    pub fn new(dir: PathBuf, host: String) -> ProbeCache {
        ProbeCache {
            dir: PrivateCache::new(dir, MAX_ENTRIES, MAX_RECORD_BYTES),
            host,
        }
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
        match self.dir.read(&self.entry_name(sha256)) {
            Ok(Some(record)) if record == self.record(sha256) => true,
            Ok(None) => false,
            Ok(Some(_)) => {
                tracing::warn!(dir = %self.dir.as_path().display(), "plugin probe cache: an entry does not hold its record; probing");
                false
            }
            Err(reason) => {
                tracing::warn!("not using the plugin probe cache: {reason}");
                false
            }
        }
    }

    /// Records that the library with hash `sha256` survived a probe. Failing to record only
    /// costs a probe next time, so it is logged, never an error.
    pub fn remember(&self, sha256: &str) {
        if let Err(reason) = self
            .dir
            .write(&self.entry_name(sha256), &self.record(sha256))
        {
            tracing::warn!(dir = %self.dir.as_path().display(), "plugin probe cache: cannot record a probe: {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

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
