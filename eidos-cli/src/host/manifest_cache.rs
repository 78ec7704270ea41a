//! Remembering plugin manifests, so that commands that only need what collectors declare (their
//! volatile keys, for `eidos diff` and `eidos fleet report`) do not load every library.
//!
//! Loading a plugin reads, hashes, checks and maps the whole file (the k8s collector is over
//! 10 MB: about 30 ms); its manifest is a few hundred bytes. When a plugin is loaded (without a
//! plugin lock: any load; under one: a load for the manifest only), the manifest is recorded in
//! an entry under the user's cache
//! directory (`$XDG_CACHE_HOME/eidos/manifests`, else `~/.cache/eidos/manifests`), keyed by this
//! eidos (as the probe cache keys it), the plugin file's path and the file's identity: device,
//! inode, size, and modification and change times to the nanosecond. The entry also records the
//! SHA-256 of the bytes that were loaded. Any change to the file (rewritten in place: size or
//! times; replaced: inode; even `touch -d` or `chmod`: change time) is another key, so the plugin
//! is loaded again.
//!
//! An entry stands in for a load only where no plugin code is to run: the commands that run
//! collectors or serializers load them as always. Every library loaded without a plugin lock is
//! recorded, and such a load takes the recorded SHA-256 of the same file instead of hashing the
//! library again (the hash then only keys the probe cache and shows in `plugins list`); under a
//! lock the bytes are always hashed. The file's own checks still run on every use
//! (`security.rs`: owner, mode, directories), and with a plugin lock in force the entry is used
//! only when the lock lists the file and pins the recorded SHA-256 (then the manifest is checked
//! against the lock's name, kind and versions, as a load checks it): the lock's guarantee, that
//! only those bytes' declarations count, holds without reading the bytes.
//!
//! The directory and its entries follow the trust rules of `private_cache.rs`; an entry must hold
//! exactly the key it is named for. Anything else is ignored with a warning and the plugin is
//! loaded. The directory holds at most [`MAX_ENTRIES`] entries.

use super::private_cache::{cache_base, this_eidos, PrivateCache};
use eidos_plugin_api::Manifest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The most entries the cache directory holds.
pub const MAX_ENTRIES: usize = 512;

/// The largest entry read or written (a manifest is a few KiB at most).
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What identifies a file's contents without reading them: a write changes the size or the
/// times, a replacement the inode, and the change time cannot be set back by anyone but the
/// kernel's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    /// The identity of the file `meta` describes (from `fstat` of an open descriptor, so that it
    /// is the file whose bytes were read).
    pub fn of(meta: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

impl std::fmt::Display for FileIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dev {} inode {} size {} mtime {}.{:09} ctime {}.{:09}",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }
}

/// What an entry holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Record {
    /// The key the entry is named for (this eidos, the file's path and identity).
    key: String,
    /// The lower-case hex SHA-256 of the bytes that were loaded.
    sha256: String,
    /// The manifest the plugin returned.
    manifest: Manifest,
}

/// The answer to a look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The manifest recorded when this very file was loaded.
    Hit {
        /// The manifest.
        manifest: Manifest,
        /// The SHA-256 of the bytes it came from.
        sha256: String,
    },
    /// Nothing usable is recorded (the reason, for the debug log).
    Miss(&'static str),
    /// The directory or the entry may not be trusted (the reason, for a warning).
    Untrusted(String),
}

/// The manifests remembered by one eidos executable, in one cache directory.
#[derive(Debug, Clone)]
pub struct ManifestCache {
    dir: PrivateCache,
    host: String,
}

impl ManifestCache {
    /// The cache of this process: under the user's cache directory, for this executable; `None`
    /// when there is no cache directory (no `HOME`) or the executable cannot be identified.
    pub fn for_this_process() -> Option<ManifestCache> {
        Some(ManifestCache::new(
            cache_base()?.join("manifests"),
            this_eidos()?,
        ))
    }

    /// A cache in `dir` for the eidos described by `host` (any text that changes when the
    /// executable does).
    pub fn new(dir: PathBuf, host: String) -> ManifestCache {
        ManifestCache {
            dir: PrivateCache::new(dir, MAX_ENTRIES, MAX_RECORD_BYTES),
            host,
        }
    }

    /// The key of the plugin file at `path` with identity `file`.
    fn key(&self, path: &Path, file: &FileIdentity) -> String {
        format!(
            "eidos plugin manifest\n{}\n{}\n{file}\n",
            self.host,
            path.display()
        )
    }

    /// The entry's file name: the hash of its key.
    fn entry_name(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    /// The manifest recorded for the plugin file at `path` with identity `file`; with a plugin
    /// lock in force, `locked_sha256` is the hash the lock pins for it, and a record of other
    /// bytes is not used.
    pub fn lookup(&self, path: &Path, file: &FileIdentity, locked_sha256: Option<&str>) -> Lookup {
        let key = self.key(path, file);
        let text = match self.dir.read(&Self::entry_name(&key)) {
            Ok(Some(text)) => text,
            Ok(None) => return Lookup::Miss("no entry for this file"),
            Err(reason) => return Lookup::Untrusted(reason),
        };
        let record: Record = match serde_json::from_str(&text) {
            Ok(record) => record,
            Err(e) => {
                return Lookup::Untrusted(format!(
                    "an entry for {} is not a manifest record: {e}",
                    path.display()
                ))
            }
        };
        if record.key != key {
            return Lookup::Untrusted(format!(
                "an entry for {} does not hold the key it is named for",
                path.display()
            ));
        }
        if let Some(locked) = locked_sha256 {
            if !locked.eq_ignore_ascii_case(&record.sha256) {
                return Lookup::Miss("the plugin lock pins other bytes than the recorded ones");
            }
        }
        Lookup::Hit {
            manifest: record.manifest,
            sha256: record.sha256,
        }
    }

    /// Records `manifest`, returned by the bytes with hash `sha256` read from the plugin file at
    /// `path` with identity `file`. Failing to record only costs a load next time, so it is
    /// logged, never an error.
    pub fn remember(&self, path: &Path, file: &FileIdentity, sha256: &str, manifest: &Manifest) {
        let key = self.key(path, file);
        let record = Record {
            key,
            sha256: sha256.to_ascii_lowercase(),
            manifest: manifest.clone(),
        };
        let text = match serde_json::to_string(&record) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(path = %path.display(), "plugin manifest cache: cannot encode a manifest: {e}");
                return;
            }
        };
        if text.len() as u64 > MAX_RECORD_BYTES {
            tracing::debug!(path = %path.display(), bytes = text.len(), "plugin manifest cache: manifest too large to remember");
            return;
        }
        match self.dir.write(&Self::entry_name(&record.key), &text) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), "plugin manifest remembered (manifest cache)")
            }
            Err(reason) => tracing::warn!(
                dir = %self.dir.as_path().display(),
                "plugin manifest cache: cannot record a manifest: {reason}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::PluginKind;
    use std::os::unix::fs::PermissionsExt;

    const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A cache (directory not created yet) and a "plugin file" under a private temporary
    /// directory.
    struct Fixture {
        tmp: tempfile::TempDir,
        cache: ManifestCache,
        plugin: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            chmod(tmp.path(), 0o755);
            let cache =
                ManifestCache::new(tmp.path().join("cache/manifests"), "eidos test host".into());
            let plugin = tmp.path().join("libeidos_collector_x.so");
            std::fs::write(&plugin, b"version one").unwrap();
            Fixture { tmp, cache, plugin }
        }

        fn identity(&self) -> FileIdentity {
            FileIdentity::of(&std::fs::metadata(&self.plugin).unwrap())
        }

        fn dir(&self) -> &Path {
            self.cache.dir.as_path()
        }

        fn lookup(&self, locked: Option<&str>) -> Lookup {
            self.cache.lookup(&self.plugin, &self.identity(), locked)
        }

        fn remember(&self) {
            self.cache
                .remember(&self.plugin, &self.identity(), SHA_A, &manifest());
        }

        fn entry(&self) -> PathBuf {
            let key = self.cache.key(&self.plugin, &self.identity());
            self.dir().join(ManifestCache::entry_name(&key))
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            name: "x".into(),
            kind: PluginKind::Collector,
            version: "1.0.0".into(),
            api_version: "1.2".into(),
            description: "a test collector".into(),
            formats: Vec::new(),
            options: Vec::new(),
            volatile_keys: vec!["x/*/Pid".into()],
            sensitive_keys: vec!["x/*/Host".into()],
        }
    }

    fn hit() -> Lookup {
        Lookup::Hit {
            manifest: manifest(),
            sha256: SHA_A.into(),
        }
    }

    fn is_untrusted(lookup: &Lookup) -> bool {
        matches!(lookup, Lookup::Untrusted(_))
    }

    #[test]
    fn a_remembered_manifest_is_found_for_the_same_file_only() {
        let f = Fixture::new();
        assert!(matches!(f.lookup(None), Lookup::Miss(_)), "empty cache");
        f.remember();
        assert_eq!(f.lookup(None), hit());
        let meta = std::fs::metadata(f.dir()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(f.entry()).unwrap().mode() & 0o777, 0o600);
        // Another path (a hard link: same inode, times and size) is another key.
        let link = f.tmp.path().join("libeidos_collector_y.so");
        std::fs::hard_link(&f.plugin, &link).unwrap();
        let same = FileIdentity::of(&std::fs::metadata(&link).unwrap());
        assert_eq!(same, f.identity());
        assert!(matches!(
            f.cache.lookup(&link, &same, None),
            Lookup::Miss(_)
        ));
        // Another eidos does not share entries.
        let other = ManifestCache::new(f.dir().to_owned(), "eidos other host".into());
        assert!(matches!(
            other.lookup(&f.plugin, &f.identity(), None),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn a_changed_file_is_a_miss() {
        let f = Fixture::new();
        f.remember();
        assert_eq!(f.lookup(None), hit());

        // Rewritten in place with other bytes of another size: same inode, new size and times.
        std::fs::write(&f.plugin, b"version two, longer").unwrap();
        assert!(matches!(f.lookup(None), Lookup::Miss(_)), "new size");
        f.remember();
        assert_eq!(f.lookup(None), hit());

        // Same size, only the modification time set (back): still another key.
        let before = f.identity();
        std::fs::write(&f.plugin, b"version 3, not longer").unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(&f.plugin)
            .unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1))
            .unwrap();
        assert_ne!(before, f.identity());
        assert!(matches!(f.lookup(None), Lookup::Miss(_)), "new mtime");
        f.remember();

        // Replaced by another file (rename over it): a new inode.
        let new = f.tmp.path().join("new");
        std::fs::write(&new, b"version 3, not longer").unwrap();
        std::fs::rename(&new, &f.plugin).unwrap();
        assert!(matches!(f.lookup(None), Lookup::Miss(_)), "new inode");

        // Only the change time moves (chmod): another key too.
        f.remember();
        assert_eq!(f.lookup(None), hit());
        let before = f.identity();
        wait_for_clock_to_move(&f.plugin);
        chmod(&f.plugin, 0o600);
        assert_ne!(before, f.identity());
        assert!(matches!(f.lookup(None), Lookup::Miss(_)), "new ctime");
    }

    /// Waits until the file system's clock is past the file's change time (its granularity is
    /// the kernel tick), so that a change of metadata gets another change time.
    fn wait_for_clock_to_move(path: &Path) {
        let ctime = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.ctime(), m.ctime_nsec())
        };
        let was = ctime(path);
        let probe = path.with_extension("clock");
        loop {
            std::fs::write(&probe, b"").unwrap();
            if ctime(&probe) > was {
                break;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn with_a_lock_only_the_locked_bytes_count() {
        let f = Fixture::new();
        f.remember();
        assert_eq!(f.lookup(Some(SHA_A)), hit());
        assert_eq!(f.lookup(Some(&SHA_A.to_ascii_uppercase())), hit());
        assert!(
            matches!(f.lookup(Some(SHA_B)), Lookup::Miss(_)),
            "a lock that pins other bytes"
        );
    }

    #[test]
    fn an_untrusted_directory_is_ignored() {
        let f = Fixture::new();
        f.remember();
        for mode in [0o770, 0o707, 0o750, 0o701] {
            chmod(f.dir(), mode);
            assert!(is_untrusted(&f.lookup(None)), "mode {mode:o}");
        }
        chmod(f.dir(), 0o700);
        assert_eq!(f.lookup(None), hit());
        // An ancestor anyone may write (no sticky bit): someone could swap the directory.
        let parent = f.dir().parent().unwrap().to_owned();
        chmod(&parent, 0o777);
        assert!(is_untrusted(&f.lookup(None)));
        chmod(&parent, 0o755);
        assert_eq!(f.lookup(None), hit());
        // A directory that is a link is not the cache.
        let linked = ManifestCache::new(f.tmp.path().join("linked"), "eidos test host".into());
        std::os::unix::fs::symlink(f.dir(), linked.dir.as_path()).unwrap();
        assert!(is_untrusted(&linked.lookup(&f.plugin, &f.identity(), None)));
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(f.dir(), Some(65534), None).unwrap();
            assert!(is_untrusted(&f.lookup(None)), "owned by someone else");
            std::os::unix::fs::chown(f.dir(), Some(0), None).unwrap();
        } else {
            eprintln!("NOT RUN (the owner part): changing a directory's owner needs root");
        }
    }

    #[test]
    fn untrusted_or_forged_entries_are_ignored() {
        let f = Fixture::new();
        f.remember();
        let entry = f.entry();
        chmod(&entry, 0o640);
        assert!(is_untrusted(&f.lookup(None)), "group bits");
        chmod(&entry, 0o600);
        assert_eq!(f.lookup(None), hit());

        // A link to a well-formed record elsewhere is not an entry.
        let elsewhere = f.tmp.path().join("record");
        std::fs::copy(&entry, &elsewhere).unwrap();
        chmod(&elsewhere, 0o600);
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert!(is_untrusted(&f.lookup(None)), "a link");
        std::fs::remove_file(&entry).unwrap();

        // A record for another file copied under this file's name is not used.
        let other = f.tmp.path().join("libeidos_collector_z.so");
        std::fs::write(&other, b"z").unwrap();
        let other_id = FileIdentity::of(&std::fs::metadata(&other).unwrap());
        f.cache.remember(&other, &other_id, SHA_B, &manifest());
        let other_entry = f
            .dir()
            .join(ManifestCache::entry_name(&f.cache.key(&other, &other_id)));
        std::fs::copy(&other_entry, &entry).unwrap();
        chmod(&entry, 0o600);
        assert!(is_untrusted(&f.lookup(None)), "a record for another key");

        // Junk is not a record.
        std::fs::write(&entry, b"{\"not\": \"a record\"}").unwrap();
        assert!(is_untrusted(&f.lookup(None)), "junk");

        if rustix::process::geteuid().is_root() {
            f.remember();
            assert_eq!(f.lookup(None), hit());
            std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
            assert!(is_untrusted(&f.lookup(None)), "owned by someone else");
        }
    }

    #[test]
    fn the_directory_is_bounded() {
        let f = Fixture::new();
        for i in 0..MAX_ENTRIES + 10 {
            let path = f.tmp.path().join(format!("libeidos_collector_{i}.so"));
            f.cache.remember(&path, &f.identity(), SHA_A, &manifest());
        }
        let count = std::fs::read_dir(f.dir()).unwrap().count();
        assert!(count <= MAX_ENTRIES, "{count} entries");
        let last = f
            .tmp
            .path()
            .join(format!("libeidos_collector_{}.so", MAX_ENTRIES + 9));
        assert_eq!(f.cache.lookup(&last, &f.identity(), None), hit());
    }
}
