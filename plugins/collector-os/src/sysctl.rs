//! Every readable entry under `/proc/sys` as the `sysctl` subtype.

use eidos_plugin_api::{CollectContext, CollectError, Subtype};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Reads every readable file under `dir` (the host's `/proc/sys`). Keys are the full node path
/// (`/proc/sys/vm/swappiness`) whatever the host root, values the trimmed contents as text.
/// Write-only and unreadable entries are skipped, not errors; symbolic links are not followed.
pub fn read_sysctl(dir: &Path, ctx: &CollectContext<'_>) -> Result<Subtype, CollectError> {
    let mut sub = Subtype::new("sysctl");
    if !dir.is_dir() {
        return Err(CollectError::failed(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut stack = vec![(dir.to_path_buf(), String::from("/proc/sys"))];
    while let Some((path, key)) = stack.pop() {
        ctx.check_cancelled()?;
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let child_key = format!("{key}/{}", name.to_string_lossy());
            if file_type.is_dir() {
                stack.push((entry.path(), child_key));
            } else if file_type.is_file() {
                let readable = entry
                    .metadata()
                    .map(|m| m.permissions().mode() & 0o444 != 0);
                if readable.unwrap_or(false) {
                    if let Ok(text) = std::fs::read_to_string(entry.path()) {
                        sub.insert(child_key, text.trim());
                    }
                }
            }
        }
    }
    sub.sort();
    Ok(sub)
}
