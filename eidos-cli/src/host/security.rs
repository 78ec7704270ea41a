//! Refusing plugin files that someone else could have written or swapped, the way sudo and ssh
//! treat their configuration: a plugin runs with the caller's privileges (root, on a node), so
//! whoever can change the file, or rename entries in any directory on its way, could run code as
//! the caller.
//!
//! The file is opened once, and everything is decided about that descriptor:
//! - the descriptor must be a regular file, owned by root or the current user and writable by
//!   neither group nor others (from `fstat`, so a swap after the open changes nothing);
//! - its real path (the kernel's name for the open file, so symbolic links are resolved) must still
//!   name that same file;
//! - the directory holding the real file, and the directory the plugin was found in (which differs
//!   when the plugin is a symbolic link), must be owned by root or the current user and writable by
//!   neither group nor others;
//! - so must every ancestor of those directories up to `/`, except that an ancestor owned by root
//!   with the sticky bit (like `/tmp`) may be writable by others: in a sticky directory only an
//!   entry's owner may rename or remove it.
//!
//! The caller then reads the bytes from the descriptor and loads those (see `loader.rs`).

use super::files::open_regular;
use std::fs::{File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a plugin file or directory is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Insecure {
    /// Group or others may write it.
    #[error("{path} is writable by {who} (mode {mode:04o}); fix with: chmod go-w {path}")]
    Writable {
        /// The file or directory.
        path: PathBuf,
        /// "group", "others" or "group and others".
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// Owned by a user other than root or the current user.
    #[error("{path} is owned by uid {owner}, not by root or the current user (uid {me}); fix with: chown root {path}")]
    Owner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current user.
        me: u32,
    },
    /// The path stopped naming the file that was opened while it was being checked.
    #[error("{path} changed while it was being checked")]
    Changed {
        /// The path.
        path: PathBuf,
    },
    /// It could not be opened, is not a regular file, or its metadata could not be read.
    #[error("cannot check {path}: {reason}")]
    Unreadable {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// A plugin file opened for loading.
#[derive(Debug)]
pub struct OpenedPlugin {
    /// The open file; the only way its bytes are read.
    pub file: File,
    /// The file's real path (symbolic links resolved).
    pub real_path: PathBuf,
}

/// Opens the plugin file at `path` (never blocking: a FIFO is refused) and, when `check` is set,
/// checks the open file, its real path, the directory it was found in and every ancestor.
pub fn open_plugin(path: &Path, check: bool) -> Result<OpenedPlugin, Insecure> {
    let unreadable = |path: &Path, e: std::io::Error| Insecure::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = open_regular(path).map_err(|e| unreadable(path, e))?;
    let meta = file.metadata().map_err(|e| unreadable(path, e))?;
    let real_path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|e| unreadable(path, e))?;
    if check {
        check_entry(&real_path, &meta, Place::File)?;
        // The real path must still name the open file; otherwise it was renamed or replaced
        // between the open and now, and its directories say nothing about it.
        let now = std::fs::metadata(&real_path).map_err(|_| Insecure::Changed {
            path: real_path.clone(),
        })?;
        if (now.dev(), now.ino()) != (meta.dev(), meta.ino()) {
            return Err(Insecure::Changed { path: real_path });
        }
        let real_dir = real_path.parent().unwrap_or(Path::new("/"));
        check_directory_chain(real_dir)?;
        let found_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // Found where it really is (the usual case: a plugin directory given by its real path),
        // the directory was just checked; otherwise the way it was found is checked too.
        if found_dir != real_dir {
            let found_dir =
                std::fs::canonicalize(found_dir).map_err(|e| unreadable(found_dir, e))?;
            if found_dir != real_dir {
                check_directory_chain(&found_dir)?;
            }
        }
    }
    Ok(OpenedPlugin { file, real_path })
}

/// Checks a directory the host reads trusted files from (the probe cache, a plugin directory's
/// data folders) as a plugin's own directory is checked: it and every ancestor up to `/` (links
/// resolved) must be owned by root or the current user and writable by neither group nor others
/// (an ancestor owned by root with the sticky bit may be).
pub fn check_directory(dir: &Path) -> Result<(), Insecure> {
    let real = std::fs::canonicalize(dir).map_err(|e| Insecure::Unreadable {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    check_directory_chain(&real)
}

/// Where an entry sits relative to the plugin file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The plugin file itself.
    File,
    /// The directory holding it.
    OwnDirectory,
    /// A directory above that.
    Ancestor,
}

/// Checks `dir` (a canonical path: absolute, no symbolic links) and each of its ancestors.
fn check_directory_chain(dir: &Path) -> Result<(), Insecure> {
    for (i, d) in dir.ancestors().enumerate() {
        let meta = std::fs::symlink_metadata(d).map_err(|e| Insecure::Unreadable {
            path: d.to_owned(),
            reason: e.to_string(),
        })?;
        if !meta.is_dir() {
            // A component of a path just resolved is no longer a directory: it was swapped.
            return Err(Insecure::Changed { path: d.to_owned() });
        }
        let place = if i == 0 {
            Place::OwnDirectory
        } else {
            Place::Ancestor
        };
        check_entry(d, &meta, place)?;
    }
    Ok(())
}

/// The owner and mode rules for one file or directory.
fn check_entry(path: &Path, meta: &Metadata, place: Place) -> Result<(), Insecure> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(Insecure::Owner {
            path: path.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if place == Place::Ancestor && sticky && meta.uid() == 0 {
        return Ok(());
    }
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "group",
        (false, true) => "others",
        (false, false) => return Ok(()),
    };
    Err(Insecure::Writable {
        path: path.to_owned(),
        who,
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// A private directory tree under a fresh temporary directory, with a plugin file in `sub`.
    fn tree(sub: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        chmod(tmp.path(), 0o755);
        let dir = tmp.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("libeidos_collector_x.so");
        std::fs::write(&file, b"bytes").unwrap();
        chmod(&file, 0o644);
        (tmp, file)
    }

    fn check(path: &Path) -> Result<(), Insecure> {
        open_plugin(path, true).map(|_| ())
    }

    #[test]
    fn group_or_world_writable_files_and_directories_are_refused() {
        let (tmp, file) = tree("p");
        let dir = file.parent().unwrap().to_owned();
        chmod(&dir, 0o755);
        assert_eq!(check(&file), Ok(()));

        chmod(&file, 0o775);
        let err = check(&file).unwrap_err();
        assert!(
            err.to_string().contains("writable by group (mode 0775)"),
            "{err}"
        );
        assert!(err.to_string().contains("chmod go-w"), "{err}");
        assert!(open_plugin(&file, false).is_ok(), "unchecked when allowed");

        chmod(&file, 0o755);
        chmod(&dir, 0o777);
        let err = check(&file).unwrap_err();
        assert!(
            matches!(
                err,
                Insecure::Writable {
                    who: "group and others",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(&dir.display().to_string()));

        // Sticky or not, the plugin's own directory may never be writable by others.
        chmod(&dir, 0o1777);
        assert!(matches!(check(&file), Err(Insecure::Writable { .. })));
        drop(tmp);
    }

    #[test]
    fn a_world_writable_grandparent_is_refused() {
        let (tmp, file) = tree("g/p");
        let grandparent = tmp.path().join("g");
        chmod(&grandparent, 0o777);
        let err = check(&file).unwrap_err();
        assert_eq!(
            err,
            Insecure::Writable {
                path: std::fs::canonicalize(&grandparent).unwrap(),
                who: "group and others",
                mode: 0o777
            }
        );
        chmod(&grandparent, 0o755);
        assert_eq!(check(&file), Ok(()));
    }

    #[test]
    fn a_sticky_root_owned_ancestor_is_accepted() {
        if !is_root() {
            eprintln!("NOT RUN: a root-owned sticky directory needs root");
            return;
        }
        let (tmp, file) = tree("sticky/p");
        chmod(&tmp.path().join("sticky"), 0o1777);
        assert_eq!(check(&file), Ok(()));
        // Without the sticky bit, anyone could rename the plugin's directory away.
        chmod(&tmp.path().join("sticky"), 0o777);
        assert!(matches!(check(&file), Err(Insecure::Writable { .. })));
    }

    #[test]
    fn a_symlink_into_a_world_writable_directory_is_refused() {
        let (tmp, file) = tree("open");
        chmod(file.parent().unwrap(), 0o777);
        let safe = tmp.path().join("safe");
        std::fs::create_dir(&safe).unwrap();
        chmod(&safe, 0o755);
        let link = safe.join("libeidos_collector_x.so");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = check(&link).unwrap_err();
        assert!(
            matches!(&err, Insecure::Writable { path, .. } if path.ends_with("open")),
            "{err}"
        );
        // A link in a world-writable directory to a safe file is refused too: whoever writes
        // that directory chooses which file is loaded.
        chmod(file.parent().unwrap(), 0o755);
        assert_eq!(check(&link), Ok(()));
        chmod(&safe, 0o777);
        let err = check(&link).unwrap_err();
        assert!(
            matches!(&err, Insecure::Writable { path, .. } if path.ends_with("safe")),
            "{err}"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (tmp, _) = tree("p");
        let fifo = tmp.path().join("p/libeidos_collector_fifo.so");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = check(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn files_owned_by_another_user_are_refused() {
        let (_tmp, file) = tree("p");
        if !is_root() {
            eprintln!("NOT RUN: changing a file's owner needs root");
            return;
        }
        std::os::unix::fs::chown(&file, Some(4242), Some(4242)).unwrap();
        let err = check(&file).unwrap_err();
        assert!(err.to_string().contains("owned by uid 4242"), "{err}");
        std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
        std::os::unix::fs::chown(file.parent().unwrap(), Some(4242), Some(4242)).unwrap();
        let err = check(&file).unwrap_err();
        assert!(err.to_string().contains("owned by uid 4242"), "{err}");
    }
}
