//! The lock that lets only one harness run at a time on a machine (see the crate documentation).

use crate::HarnessError;
use std::fs::File;
use std::sync::{Mutex, MutexGuard};

static IN_THIS_PROCESS: Mutex<()> = Mutex::new(());

/// Held from the start of a harness to the end of its teardown.
pub(crate) struct HarnessLock {
    // Unlocked when the file is closed; the field order releases the file lock first.
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

impl HarnessLock {
    /// Waits for the lock, within this process (threads of one test binary) and across processes.
    pub(crate) fn acquire() -> Result<Self, HarnessError> {
        // A test that panicked while holding the lock has still torn its harness down.
        let guard = IN_THIS_PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = std::env::temp_dir().join("eidos-systemd-harness.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| HarnessError::Io {
                doing: format!("opening {}", path.display()),
                source,
            })?;
        // An exclusive advisory lock (flock); blocks until it is free.
        file.lock().map_err(|source| HarnessError::Io {
            doing: format!("locking {}", path.display()),
            source,
        })?;
        Ok(HarnessLock {
            _file: file,
            _guard: guard,
        })
    }
}
