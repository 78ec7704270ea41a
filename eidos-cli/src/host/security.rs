//! Refusing plugin files and directories that someone else could have written, the way ssh treats
//! `authorized_keys`: a plugin runs with the caller's privileges, so its file and its directory must
//! be owned by root or the current user and writable by no one else.

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
    /// Its metadata could not be read.
    #[error("cannot check {path}: {reason}")]
    Unreadable {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// Checks a plugin file and the directory holding it.
pub fn check_plugin_file(path: &Path) -> Result<(), Insecure> {
    check_one(path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => check_one(dir),
        _ => check_one(Path::new(".")),
    }
}

fn check_one(path: &Path) -> Result<(), Insecure> {
    let meta = std::fs::metadata(path).map_err(|e| Insecure::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Err(Insecure::Owner {
            path: path.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => Some("group and others"),
        (true, false) => Some("group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    match who {
        Some(who) => Err(Insecure::Writable {
            path: path.to_owned(),
            who,
            mode,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn group_or_world_writable_files_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let file = dir.path().join("libeidos_collector_x.so");
        std::fs::write(&file, b"").unwrap();
        chmod(&file, 0o755);
        assert_eq!(check_plugin_file(&file), Ok(()));

        chmod(&file, 0o775);
        let err = check_plugin_file(&file).unwrap_err();
        assert!(
            err.to_string().contains("writable by group (mode 0775)"),
            "{err}"
        );
        assert!(err.to_string().contains("chmod go-w"), "{err}");

        chmod(&file, 0o755);
        chmod(dir.path(), 0o777);
        let err = check_plugin_file(&file).unwrap_err();
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
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn files_owned_by_another_user_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lib.so");
        std::fs::write(&file, b"").unwrap();
        // SAFETY: plain libc calls on a path we own; chown to another uid needs root.
        let me = unsafe { libc::geteuid() };
        if me != 0 {
            eprintln!("NOT RUN: changing a file's owner needs root");
            return;
        }
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 4242, 4242) }, 0);
        let err = check_plugin_file(&file).unwrap_err();
        assert!(err.to_string().contains("owned by uid 4242"), "{err}");
    }
}
