//! The collector through the real nvml-wrapper code path against a fake NVML library
//! (`tests/fixtures/fake-nvml`): a cdylib exporting part of the NVML C API with `nvml.h`'s
//! signatures and return codes, answering with values recorded on an H200. Functions it does not
//! export stand for an older driver's missing ones. This tests loading, initialisation, the reader,
//! the mapping, shutdown and cancellation without a GPU; `scripts/gpu-check.sh` checks the real
//! library on a GPU machine.

use eidos_collector_gpu::GpuCollector;
use eidos_plugin_api::{
    CancelToken, CollectContext, CollectError, Collector, Outcome, Reading, Subtype,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::Duration;

/// The fake NVML library, a workspace member that `cargo build --workspace` builds next to the
/// test executables' directory (the README's test command builds before it tests).
fn fake_nvml_build() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/debug/deps/<test> → target/debug
        let lib = exe
            .ancestors()
            .nth(2)
            .unwrap()
            .join("libfixture_fake_nvml.so");
        assert!(
            lib.is_file(),
            "{} is missing: run `cargo build --workspace` before the tests",
            lib.display()
        );
        lib
    })
}

/// A private copy of the fake NVML (its own file, so its own state once loaded), configured.
struct FakeNvml {
    _dir: tempfile::TempDir,
    path: PathBuf,
    lib: libloading::Library,
}

impl FakeNvml {
    fn new(gpu_count: u32, init_result: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libnvidia-ml.so.1");
        std::fs::copy(fake_nvml_build(), &path).unwrap();
        // SAFETY: the fixture has no initialisers with side effects; its functions match these types.
        let lib = unsafe { libloading::Library::new(&path).unwrap() };
        unsafe {
            let configure: libloading::Symbol<unsafe extern "C" fn(u32, u32)> =
                lib.get(b"fake_nvml_configure").unwrap();
            configure(gpu_count, init_result);
        }
        FakeNvml {
            _dir: dir,
            path,
            lib,
        }
    }

    /// Makes every `nvmlDeviceGetName` take `ms` milliseconds.
    fn set_name_delay(&self, ms: u32) {
        unsafe {
            let set: libloading::Symbol<unsafe extern "C" fn(u32)> =
                self.lib.get(b"fake_nvml_set_name_delay").unwrap();
            set(ms);
        }
    }

    /// (init calls, shutdown calls).
    fn calls(&self) -> (u32, u32) {
        let (mut init, mut shutdown) = (0, 0);
        unsafe {
            let calls: libloading::Symbol<unsafe extern "C" fn(*mut u32, *mut u32)> =
                self.lib.get(b"fake_nvml_calls").unwrap();
            calls(&mut init, &mut shutdown);
        }
        (init, shutdown)
    }

    fn collect(&self, extra: &[(&str, &str)], cancelled: bool) -> Result<Outcome, CollectError> {
        let flag = AtomicBool::new(cancelled);
        self.collect_with_flag(extra, &flag)
    }

    fn collect_with_flag(
        &self,
        extra: &[(&str, &str)],
        flag: &AtomicBool,
    ) -> Result<Outcome, CollectError> {
        let mut options = BTreeMap::new();
        options.insert("nvml".to_owned(), self.path.display().to_string());
        for (k, v) in extra {
            options.insert((*k).to_owned(), (*v).to_owned());
        }
        let ctx = CollectContext::new(
            &options,
            Path::new("/"),
            Duration::from_secs(10),
            CancelToken::new(flag),
        );
        GpuCollector::collect(&ctx)
    }
}

const SUCCESS: u32 = 0;
const NO_PERMISSION: u32 = 4;
const DRIVER_NOT_LOADED: u32 = 9;

fn text(s: &Subtype, key: &str) -> String {
    match s.data.get(key) {
        Some(Reading::Str(v)) => v.clone(),
        other => panic!("{}: {key}: expected text, got {other:?}", s.subtype),
    }
}

#[test]
fn collects_the_recorded_h200_values_through_nvml() {
    let fake = FakeNvml::new(2, SUCCESS);
    let Outcome::Collected(c) = fake.collect(&[("serials", "true")], false).unwrap() else {
        panic!("not collected")
    };
    let m = &c.measurements[0];
    assert_eq!(m.kind, "gpu");
    let names: Vec<_> = m.subtypes.iter().map(|s| s.subtype.as_str()).collect();
    assert_eq!(names, ["smi", "gpu-0", "gpu-1"]);

    let smi = m.subtype("smi").unwrap();
    assert_eq!(text(smi, "driver"), "580.159.04");
    assert_eq!(text(smi, "cuda-version"), "13.0");
    assert_eq!(text(smi, "nvml-version"), "13.580.159.04");
    assert_eq!(smi.data["gpu-count"], Reading::Int(2));
    assert_eq!(text(smi, "gpu.model"), "NVIDIA H200");
    assert_eq!(text(smi, "gpu.product-architecture"), "Hopper");
    assert_eq!(text(smi, "gpu.vbios-version"), "96.00.A5.00.1A");
    assert_eq!(text(smi, "gpu.persistence-mode"), "Enabled");
    assert_eq!(text(smi, "gpu.mig-mode.current"), "Disabled");
    assert_eq!(text(smi, "gpu.addressing-mode"), "None");

    let gpu1 = m.subtype("gpu-1").unwrap();
    assert_eq!(gpu1.data["index"], Reading::Int(1));
    assert_eq!(
        text(gpu1, "uuid"),
        "GPU-00000000-fake-4000-8000-000000000001"
    );
    assert_eq!(gpu1.data["memory-total-mib"], Reading::Int(143_771));
    assert_eq!(gpu1.data["power-limit-watts"], Reading::Float(700.0));
    assert_eq!(text(gpu1, "nvlink.0"), "Active");
    assert_eq!(text(gpu1, "nvlink.3"), "Inactive");
    assert!(!gpu1.data.contains_key("nvlink.4"));
    assert_eq!(gpu1.data["nvlink.active-links"], Reading::Int(2));
    assert_eq!(text(gpu1, "serial"), "1650000000001");
    // Functions the fake does not export (an older driver's) are left out, silently.
    for absent in [
        "ecc-mode.current",
        "pci-bus-id",
        "gsp-firmware-version",
        "compute-mode",
    ] {
        assert!(!gpu1.data.contains_key(absent), "{absent} present");
    }
    // The one function that fails on purpose is left out with a warning per GPU.
    assert!(!gpu1.data.contains_key("power-limit-default-watts"));
    assert_eq!(
        c.warnings,
        [
            "GPU 0: power-limit-default-watts left out: an internal driver error occurred",
            "GPU 1: power-limit-default-watts left out: an internal driver error occurred",
        ]
    );
    assert_eq!(fake.calls(), (1, 1), "NVML initialised once and shut down");
}

#[test]
fn serial_numbers_are_not_collected_unless_asked_for() {
    let fake = FakeNvml::new(1, SUCCESS);
    let Outcome::Collected(c) = fake.collect(&[], false).unwrap() else {
        panic!("not collected")
    };
    let gpu0 = c.measurements[0].subtype("gpu-0").unwrap();
    assert!(!gpu0.data.contains_key("serial"), "{:?}", gpu0.data);
    assert_eq!(text(gpu0, "model"), "NVIDIA H200");
}

#[test]
fn no_driver_loaded_is_not_applicable_with_nvmls_reason() {
    let fake = FakeNvml::new(2, DRIVER_NOT_LOADED);
    match fake.collect(&[], false) {
        Ok(Outcome::NotApplicable(reason)) => {
            assert!(reason.contains("NVIDIA driver is not loaded"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_permission_is_a_failure_not_a_missing_gpu() {
    let fake = FakeNvml::new(2, NO_PERMISSION);
    match fake.collect(&[], false) {
        Err(CollectError::Failed(reason)) => assert!(reason.contains("permission"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_gpus_is_not_applicable_and_nvml_is_still_shut_down() {
    let fake = FakeNvml::new(0, SUCCESS);
    match fake.collect(&[], false) {
        Ok(Outcome::NotApplicable(reason)) => assert!(reason.contains("found no GPUs"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.calls(), (1, 1));
}

#[test]
fn cancellation_before_the_first_gpu_stops_and_nvml_is_shut_down() {
    let fake = FakeNvml::new(4, SUCCESS);
    assert_eq!(fake.collect(&[], true), Err(CollectError::Cancelled));
    assert_eq!(fake.calls(), (1, 1));
}

/// The host cancels while the GPUs are being read (each name query takes 2 s here): the
/// collection answers `Cancelled` rather than a measurement, and NVML is still shut down.
#[test]
fn cancellation_while_reading_gpus_stops_and_nvml_is_shut_down() {
    let fake = FakeNvml::new(3, SUCCESS);
    fake.set_name_delay(2000);
    let flag = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        fake.collect_with_flag(&[], &flag)
    });
    assert_eq!(result, Err(CollectError::Cancelled));
    assert_eq!(fake.calls(), (1, 1));
}
