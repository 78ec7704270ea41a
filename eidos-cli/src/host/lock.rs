//! Plugin lock files: the curated, pinned plugin set of an air-gapped site.
//!
//! A lock lists each approved plugin's name, kind, version, API version, file name and SHA-256. With
//! a lock in force, a plugin file is loaded only if the lock lists its file name and the hash of its
//! bytes matches. The loader hashes the very bytes it loads (see `loader.rs`: every plugin is read
//! once and loaded from a sealed in-memory copy), so a writer who swaps the file after the check
//! changes nothing that is loaded.
//!
//! A lock file is read only if it is a regular file of at most [`MAX_LOCK_BYTES`], and a file name
//! listed twice is an error naming the file and its line.

use super::files::{read_regular_file, ReadError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
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
    /// Larger than [`MAX_LOCK_BYTES`].
    #[error("plugin lock {path} is larger than the limit of {limit} bytes (1 MiB); a lock lists plugin files and hashes and is far smaller")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
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

/// The largest lock file eidos reads (1 MiB: a lock entry is about 250 bytes, so this is room for
/// thousands of plugins). A larger file is refused before it is parsed.
pub const MAX_LOCK_BYTES: u64 = 1024 * 1024;

impl Lock {
    /// Reads and validates a lock file: a regular file of at most [`MAX_LOCK_BYTES`].
    pub fn read(path: &Path) -> Result<Lock, LockFileError> {
        let bytes = read_regular_file(path, MAX_LOCK_BYTES).map_err(|e| match e {
            ReadError::TooLarge { limit } => LockFileError::TooLarge {
                path: path.to_owned(),
                limit,
            },
            ReadError::Io(source) => LockFileError::Read {
                path: path.to_owned(),
                source,
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|e| LockFileError::Invalid {
            path: path.to_owned(),
            reason: format!("not UTF-8 text ({e})"),
        })?;
        Lock::parse(&text, path)
    }

    /// Parses and validates the text of a lock file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, LockFileError> {
        let invalid = |reason: String| LockFileError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let mut lock: Lock = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        lock.source = path.display().to_string();
        if lock.version != LOCK_VERSION {
            return Err(invalid(format!(
                "version {} is not supported (expected {LOCK_VERSION})",
                lock.version
            )));
        }
        let mut seen = HashSet::new();
        for (index, p) in lock.plugins.iter().enumerate() {
            if p.sha256.len() != 64 || !p.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "plugin {}: sha256 must be 64 hex digits",
                    p.name
                )));
            }
            if !seen.insert(p.file.as_str()) {
                let line = file_line(text, index)
                    .map(|n| format!(" (line {n})"))
                    .unwrap_or_default();
                return Err(invalid(format!(
                    "file {:?} is listed twice{line}; each plugin file may appear once",
                    p.file
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

/// The line (1-based) of the `file` key of the `index`th plugin entry in a lock's text. Only used
/// to word an error, so the text is parsed a second time, keeping the spans this time.
fn file_line(text: &str, index: usize) -> Option<usize> {
    #[derive(Deserialize)]
    struct Spans {
        #[serde(default)]
        plugin: Vec<FileSpan>,
    }
    #[derive(Deserialize)]
    struct FileSpan {
        file: toml::Spanned<String>,
    }
    let spans: Spans = toml::from_str(text).ok()?;
    let start = spans.plugin.get(index)?.file.span().start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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

    fn two_entries(second_file: &str) -> String {
        let entry = |name: &str, file: &str| {
            format!(
                "[[plugin]]\nname = \"{name}\"\nkind = \"collector\"\nversion = \"0.1.0\"\n\
                 api-version = \"1.1.0\"\nfile = \"{file}\"\nsha256 = \"{}\"\n",
                sha256_hex(name.as_bytes())
            )
        };
        format!(
            "version = 1\n\n{}\n{}",
            entry("os", "libeidos_collector_os.so"),
            entry("other", second_file)
        )
    }

    #[test]
    fn a_file_listed_twice_is_an_error_naming_it_and_its_line() {
        let path = Path::new("/etc/eidos/plugins.lock");
        assert!(Lock::parse(&two_entries("libeidos_collector_gpu.so"), path).is_ok());
        let text = two_entries("libeidos_collector_os.so");
        let err = Lock::parse(&text, path).unwrap_err().to_string();
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("file = "))
            .nth(1)
            .unwrap()
            .0
            + 1;
        assert_eq!(
            err,
            format!(
                "plugin lock /etc/eidos/plugins.lock is invalid: file \"libeidos_collector_os.so\" \
                 is listed twice (line {line}); each plugin file may appear once"
            )
        );
    }

    #[test]
    fn a_lock_file_above_the_cap_or_not_a_regular_file_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.lock");
        let text = two_entries("libeidos_collector_gpu.so");
        let padding = "#".repeat(MAX_LOCK_BYTES as usize + 1 - text.len());
        std::fs::write(&big, format!("{text}{padding}")).unwrap();
        let err = Lock::read(&big).unwrap_err();
        assert!(matches!(
            err,
            LockFileError::TooLarge {
                limit: MAX_LOCK_BYTES,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "plugin lock {} is larger than the limit of 1048576 bytes (1 MiB); a lock lists \
                 plugin files and hashes and is far smaller",
                big.display()
            )
        );
        // Exactly at the cap is fine.
        std::fs::write(&big, format!("{text}{}", &padding[1..])).unwrap();
        assert!(Lock::read(&big).is_ok());

        let fifo = dir.path().join("fifo.lock");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = Lock::read(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    mod fuzz {
        //! The lock-file parser under random input: it never panics, whatever the text, and a
        //! lock it accepts satisfies every rule `parse` promises.
        use super::*;
        use proptest::prelude::*;

        fn check_accepted(text: &str) {
            if let Ok(lock) = Lock::parse(text, Path::new("fuzz.lock")) {
                assert_eq!(lock.version, LOCK_VERSION);
                let mut files: Vec<_> = lock.plugins.iter().map(|p| &p.file).collect();
                files.sort();
                let n = files.len();
                files.dedup();
                assert_eq!(files.len(), n, "a duplicate file was accepted");
                assert!(lock.plugins.iter().all(|p| p.sha256.len() == 64));
            }
        }

        proptest! {
            // Bounded: 2,000 + 3,000 + 500 cases, a few seconds in a debug build.
            #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

            /// Arbitrary text.
            #[test]
            fn arbitrary_text(text in "\\PC{0,400}") {
                check_accepted(&text);
            }

        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

            /// A valid lock with bytes replaced, inserted or cut: the inputs that reach deepest.
            #[test]
            fn mutated_locks(
                edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, "[ -~\\n]{0,4}"), 1..6),
                second in prop_oneof![Just("libeidos_collector_os.so"), Just("libeidos_collector_gpu.so")],
            ) {
                let mut text = two_entries(second).into_bytes();
                for (at, op, with) in edits {
                    let i = at.index(text.len() + 1).min(text.len());
                    match op {
                        0 => { text.splice(i..(i + with.len()).min(text.len()), with.bytes()); }
                        1 => { text.splice(i..i, with.bytes()); }
                        _ => { text.truncate(i); }
                    }
                }
                check_accepted(&String::from_utf8_lossy(&text));
            }

        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

            /// Whatever names and hashes a lock holds, writing and reading it gives it back.
            #[test]
            fn round_trip(names in proptest::collection::vec("[a-z][a-z0-9_]{0,12}", 0..8), seed in any::<u64>()) {
                let mut plugins = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    plugins.push(LockedPlugin {
                        name: name.clone(),
                        kind: "collector".into(),
                        version: format!("0.{i}.0"),
                        api_version: "1.1.0".into(),
                        file: format!("libeidos_collector_{name}_{i}.so"),
                        sha256: sha256_hex(&seed.wrapping_add(i as u64).to_le_bytes()),
                    });
                }
                let lock = Lock { version: LOCK_VERSION, plugins, source: "rt.lock".into() };
                let read = Lock::parse(&lock.to_toml(), Path::new("rt.lock")).unwrap();
                prop_assert_eq!(read, lock);
            }
        }
    }
}
