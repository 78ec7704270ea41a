//! The collector on a node without a usable NVML: every such case is "not applicable" with the
//! reason NVML gave, never a failure. These run everywhere; the GPU path is checked on a GPU
//! machine by `scripts/gpu-check.sh`.

use eidos_collector_gpu::GpuCollector;
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::{CollectError, Outcome};
use std::path::PathBuf;
use std::time::Duration;

fn collect(options: &[(&str, &str)]) -> Result<Outcome, CollectError> {
    let mut test = TestContext::for_collector::<GpuCollector>().timeout(Duration::from_secs(10));
    for (key, value) in options {
        test = test.option(*key, *value);
    }
    test.collect::<GpuCollector>()
}

fn reason(outcome: Result<Outcome, CollectError>) -> String {
    match outcome {
        Ok(Outcome::NotApplicable(reason)) => reason,
        other => panic!("expected not applicable, got {other:?}"),
    }
}

/// A real shared library that is not NVML: this crate's own cdylib, which cargo builds next to
/// the integration-test binaries.
fn non_nvml_shared_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().join("libeidos_collector_gpu.so");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

#[test]
fn a_missing_nvml_library_is_not_applicable_with_the_loaders_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnvidia-ml.so.1");
    let reason = reason(collect(&[("nvml", path.to_str().unwrap())]));
    assert!(reason.contains(path.to_str().unwrap()), "{reason}");
    assert!(reason.contains("could not be loaded"), "{reason}");
    assert!(reason.contains("No such file or directory"), "{reason}");
}

#[test]
fn a_shared_library_that_is_not_nvml_is_not_applicable() {
    let lib = non_nvml_shared_library();
    let reason = reason(collect(&[("nvml", lib.to_str().unwrap())]));
    assert!(reason.contains("is not an NVML library"), "{reason}");
    assert!(reason.contains("nvmlInit_v2"), "{reason}");
}

#[test]
fn a_file_that_is_not_a_shared_library_is_not_applicable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnvidia-ml.so.1");
    std::fs::write(&path, "this is not an ELF file\n").unwrap();
    let reason = reason(collect(&[("nvml", path.to_str().unwrap())]));
    assert!(reason.contains("could not be loaded"), "{reason}");
}

/// On this machine (no NVIDIA driver) the default library name is not found by the loader.
/// On a GPU node this test is not meaningful, so it checks only that the outcome is never a
/// failure: either collected or not applicable.
#[test]
fn the_default_library_never_fails_the_collection() {
    match collect(&[]) {
        Ok(Outcome::NotApplicable(reason)) => {
            assert!(reason.contains("libnvidia-ml.so.1"), "{reason}")
        }
        Ok(Outcome::Collected(c)) => assert!(!c.measurements.is_empty()),
        Err(e) => panic!("the default library path failed the collection: {e}"),
    }
}

#[test]
fn bad_option_values_are_refused_naming_the_option() {
    let err = collect(&[("serials", "maybe")]).unwrap_err();
    assert!(
        matches!(&err, CollectError::InvalidOption { key, .. } if key == "serials"),
        "{err}"
    );
    let err = collect(&[("nvml", " ")]).unwrap_err();
    assert!(
        matches!(&err, CollectError::InvalidOption { key, .. } if key == "nvml"),
        "{err}"
    );
}
