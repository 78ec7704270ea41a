//! Readable entries under `/proc/sys` as the `sysctl` subtype.

use crate::read::read_regular;
use eidos_plugin_api::{CollectContext, CollectError, Subtype};
use std::path::{Path, PathBuf};

/// How many threads read entries at once. Each read is a few system calls with little work, so a
/// handful of threads hides the per-call latency without competing for long.
const READERS: usize = 4;

/// The per-interface trees under `/proc/sys/net` (one copy of every setting per network interface,
/// so hundreds on a node with a veth per pod). Only their `all` and `default` entries are read
/// unless per-interface entries are asked for.
const PER_INTERFACE_DIRS: [&str; 4] = [
    "/proc/sys/net/ipv4/conf",
    "/proc/sys/net/ipv6/conf",
    "/proc/sys/net/ipv4/neigh",
    "/proc/sys/net/ipv6/neigh",
];

/// Reads every readable file under `dir` (the host's `/proc/sys`). Keys are the full node path
/// (`/proc/sys/vm/swappiness`) whatever the host root, values the trimmed contents as text.
/// Write-only and unreadable entries are skipped, not errors; symbolic links are not followed.
/// Per-interface network entries are read only when `per_interface` is set. An entry larger than
/// [`MAX_FILE_BYTES`](crate::read::MAX_FILE_BYTES) is left out with a warning (the second value).
pub fn read_sysctl(
    dir: &Path,
    per_interface: bool,
    ctx: &CollectContext<'_>,
) -> Result<(Subtype, Vec<String>), CollectError> {
    if !dir.is_dir() {
        return Err(CollectError::failed(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let files = list_files(dir, per_interface, ctx)?;
    let chunk = files.len().div_ceil(READERS).max(1);
    let readings: Vec<Vec<Entry>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|(path, key)| read_entry(path, key))
                        .collect()
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    ctx.check_cancelled()?;
    let mut sub = Subtype::new("sysctl");
    let mut warnings = Vec::new();
    for entry in readings.into_iter().flatten() {
        match entry {
            Entry::Value(key, value) => sub.insert(key, value),
            Entry::Refused(warning) => warnings.push(warning),
        }
    }
    sub.sort();
    warnings.sort();
    Ok((sub, warnings))
}

/// What reading one entry gave.
enum Entry {
    /// Its key and trimmed value.
    Value(String, String),
    /// A warning: the entry was left out for being what no real `/proc/sys` holds.
    Refused(String),
}

/// Lists the regular files to read, as (path on disk, node path key).
fn list_files(
    dir: &Path,
    per_interface: bool,
    ctx: &CollectContext<'_>,
) -> Result<Vec<(PathBuf, String)>, CollectError> {
    let mut files = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::from("/proc/sys"))];
    while let Some((path, key)) = stack.pop() {
        ctx.check_cancelled()?;
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        let interface_tree = !per_interface && PER_INTERFACE_DIRS.contains(&key.as_str());
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if interface_tree && name != "all" && name != "default" {
                continue;
            }
            let child_key = format!("{key}/{name}");
            if file_type.is_dir() {
                stack.push((entry.path(), child_key));
            } else if file_type.is_file() {
                files.push((entry.path(), child_key));
            }
        }
    }
    Ok(files)
}

/// Reads one entry; `None` when it cannot be read (write-only, permission, I/O error).
fn read_entry(path: &Path, key: &str) -> Option<Entry> {
    match read_regular(path) {
        Ok(text) => Some(Entry::Value(key.to_owned(), text.trim().to_owned())),
        Err(e) if e.is_suspect() => Some(Entry::Refused(format!("sysctl {key} left out: {e}"))),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::testing::TestContext;

    fn read(root: &Path, per_interface: bool) -> Subtype {
        let test = TestContext::new();
        read_sysctl(root, per_interface, &test.context()).unwrap().0
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }

    #[test]
    fn per_interface_trees_are_read_only_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "vm/swappiness", "60\n");
        write(root, "net/core/rmem_max", "212992\n");
        write(root, "net/ipv4/conf/all/rp_filter", "2\n");
        write(root, "net/ipv4/conf/default/rp_filter", "1\n");
        write(root, "net/ipv4/conf/eth0/rp_filter", "0\n");
        write(root, "net/ipv6/neigh/eth0/base_reachable_time", "30\n");

        let sub = read(root, false);
        let keys: Vec<_> = sub.data.keys().map(String::as_str).collect();
        let expected = vec![
            "/proc/sys/net/core/rmem_max",
            "/proc/sys/net/ipv4/conf/all/rp_filter",
            "/proc/sys/net/ipv4/conf/default/rp_filter",
            "/proc/sys/vm/swappiness",
        ];
        assert_eq!(keys, expected);
        assert_eq!(sub.data["/proc/sys/net/core/rmem_max"], "212992".into());

        let all = read(root, true);
        assert!(all
            .data
            .contains_key("/proc/sys/net/ipv4/conf/eth0/rp_filter"));
        assert!(all
            .data
            .contains_key("/proc/sys/net/ipv6/neigh/eth0/base_reachable_time"));
    }

    #[test]
    fn write_only_proc_entries_are_skipped_on_the_real_proc() {
        // /proc/sys/vm/compact_memory is write-only (0200) on Linux; even root cannot read it.
        let sub = read(Path::new("/proc/sys"), false);
        if Path::new("/proc/sys/vm/compact_memory").exists() {
            assert!(!sub.data.contains_key("/proc/sys/vm/compact_memory"));
        }
        assert!(sub.data.contains_key("/proc/sys/kernel/osrelease"));
        assert!(!sub
            .data
            .keys()
            .any(|k| k.starts_with("/proc/sys/net/ipv4/conf/lo/")));
    }
}
