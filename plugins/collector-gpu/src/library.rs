//! Loading and initialising NVML, and telling "no GPU here" apart from a broken GPU node.

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;
use std::ffi::OsStr;

/// The NVML library loaded when `gpu.nvml` is not set. The versioned name: the unversioned
/// `libnvidia-ml.so` ships only with development packages and is often missing on GPU nodes.
pub const DEFAULT_LIBRARY: &str = "libnvidia-ml.so.1";

/// Why NVML could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// This node has no usable NVIDIA GPU stack: no library, not NVML, no driver loaded.
    #[error("{0}")]
    NotApplicable(String),
    /// NVML is there but failed (no permission, driver/library mismatch, …): a real problem.
    #[error("{0}")]
    Failed(String),
}

/// Loads the NVML library at `path` (a file name is looked up the way `dlopen` does) and
/// initialises it.
pub fn open(path: &str) -> Result<Nvml, OpenError> {
    Nvml::builder()
        .lib_path(OsStr::new(path))
        .init()
        .map_err(|error| classify(path, error))
}

/// Sorts an initialisation error into "not applicable here" or "failed", with the reason NVML gave.
pub fn classify(path: &str, error: NvmlError) -> OpenError {
    match error {
        NvmlError::LibloadingError(e) => {
            OpenError::NotApplicable(format!("NVML library {path} could not be loaded: {e}"))
        }
        NvmlError::FailedToLoadSymbol(e) => OpenError::NotApplicable(format!(
            "{path} is not an NVML library (nvmlInit_v2 missing): {e}"
        )),
        NvmlError::LibraryNotFound => {
            OpenError::NotApplicable(format!("NVML ({path}): {}", NvmlError::LibraryNotFound))
        }
        NvmlError::DriverNotLoaded => {
            OpenError::NotApplicable(format!("NVML ({path}): {}", NvmlError::DriverNotLoaded))
        }
        other => OpenError::Failed(format!("NVML ({path}) failed to initialise: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_driver_is_not_applicable_but_no_permission_is_a_failure() {
        assert!(matches!(
            classify("libnvidia-ml.so.1", NvmlError::DriverNotLoaded),
            OpenError::NotApplicable(m) if m.contains("driver is not loaded")
        ));
        assert!(matches!(
            classify("libnvidia-ml.so.1", NvmlError::NoPermission),
            OpenError::Failed(m) if m.contains("permission")
        ));
        assert!(matches!(
            classify("libnvidia-ml.so.1", NvmlError::LibRmVersionMismatch),
            OpenError::Failed(m) if m.contains("mismatch")
        ));
    }

    #[test]
    fn a_library_that_does_not_exist_is_not_applicable_with_the_loaders_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libnvidia-ml.so.1");
        let path = path.to_str().unwrap();
        match open(path) {
            Err(OpenError::NotApplicable(reason)) => {
                assert!(reason.contains(path), "{reason}");
                assert!(reason.contains("No such file"), "{reason}");
            }
            other => panic!("expected not applicable, got {:?}", other.map(|_| "nvml")),
        }
    }
}
