//! The collector through the real nvml-wrapper code path against a fake NVML library
//! (`tests/fixtures/fake-nvml`): a cdylib exporting part of the NVML C API with `nvml.h`'s
//! signatures and return codes, answering with values recorded on an H200. Functions it does not
//! export stand for an older driver's missing ones. This tests loading, initialisation, the reader,
//! the mapping, shutdown, cancellation and the concurrent reading of many GPUs without a GPU;
//! `scripts/gpu-check.sh` checks the real library on a GPU machine.

use eidos_collector_gpu::{library, mapping, reader, GpuCollector};
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::{CollectError, Collection, Outcome, Reading, Subtype};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
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

    /// Calls one of the fixture's `fake_nvml_set_*(u32)` functions.
    fn set(&self, symbol: &[u8], value: u32) {
        unsafe {
            let set: libloading::Symbol<unsafe extern "C" fn(u32)> = self.lib.get(symbol).unwrap();
            set(value);
        }
    }

    /// Makes every `nvmlDeviceGetName` take `ms` milliseconds.
    fn set_name_delay(&self, ms: u32) {
        self.set(b"fake_nvml_set_name_delay", ms);
    }

    /// Makes every NVML call take `us` microseconds (from the next init).
    fn set_latency_us(&self, us: u32) {
        self.set(b"fake_nvml_set_latency_us", us);
    }

    /// Makes GPU `index`'s memory query fail with NVML_ERROR_GPU_IS_LOST (from the next init).
    fn set_failing_gpu(&self, index: u32) {
        self.set(b"fake_nvml_set_failing_gpu", index);
    }

    /// Makes every call about GPU `index` take `ms` milliseconds more.
    fn set_slow_gpu(&self, index: u32, ms: u32) {
        unsafe {
            let set: libloading::Symbol<unsafe extern "C" fn(u32, u32)> =
                self.lib.get(b"fake_nvml_set_slow_gpu").unwrap();
            set(index, ms);
        }
    }

    /// The most NVML calls that were in progress at once so far.
    fn max_in_flight(&self) -> u32 {
        unsafe {
            let get: libloading::Symbol<unsafe extern "C" fn() -> u32> =
                self.lib.get(b"fake_nvml_max_in_flight").unwrap();
            get()
        }
    }

    /// The measurement the collector would give if it read the GPUs one after another on this
    /// thread, as it did before it read them concurrently: the reference for the concurrent read.
    fn read_sequentially(&self, serials: bool) -> mapping::Mapped {
        let nvml = library::open(self.path.to_str().unwrap()).unwrap();
        let system = reader::read_system(&nvml).unwrap();
        let gpus: Vec<_> = (0..system.gpu_count)
            .map(|index| reader::read_gpu(&nvml, index, serials, &|| false))
            .collect();
        nvml.shutdown().unwrap();
        mapping::map_all(&system, &gpus)
    }

    fn collected(&self, extra: &[(&str, &str)]) -> Collection {
        match self.collect(extra, false) {
            Ok(Outcome::Collected(c)) => c,
            other => panic!("not collected: {other:?}"),
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
        let flag = Arc::new(AtomicBool::new(cancelled));
        self.collect_with_flag(extra, &flag)
    }

    fn collect_with_flag(
        &self,
        extra: &[(&str, &str)],
        flag: &Arc<AtomicBool>,
    ) -> Result<Outcome, CollectError> {
        let mut test = TestContext::for_collector::<GpuCollector>()
            .option("nvml", self.path.display().to_string())
            .timeout(Duration::from_secs(10))
            .with_cancel_flag(Arc::clone(flag));
        for (key, value) in extra {
            test = test.option(*key, *value);
        }
        test.collect::<GpuCollector>()
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
fn an_absurd_gpu_count_is_a_failure_and_nvml_is_still_shut_down() {
    let fake = FakeNvml::new(100_000, SUCCESS);
    match fake.collect(&[], false) {
        Err(CollectError::Failed(reason)) => {
            assert!(reason.contains("NVML reports 100000 GPUs"), "{reason}")
        }
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
    let flag = Arc::new(AtomicBool::new(false));
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

/// Eight GPUs read concurrently give the subtypes and warnings, in the same order and with the
/// same values, that reading them one after another gives. GPU 0 is made slow (each of its calls
/// takes 10 ms more), so it finishes last: results kept in the order the GPUs finished would put it
/// at the end. The fake counts calls in progress at once: more than one shows the reads overlapped.
#[test]
fn eight_gpus_read_concurrently_give_what_a_sequential_read_gives_in_index_order() {
    let fake = FakeNvml::new(8, SUCCESS);
    fake.set_latency_us(1000);
    fake.set_slow_gpu(0, 10);
    let c = fake.collected(&[("serials", "true")]);
    assert!(
        fake.max_in_flight() > 1,
        "the GPUs were read one after another (never more than one NVML call at a time)"
    );
    assert_eq!(fake.calls(), (1, 1), "NVML initialised once and shut down");

    let subtypes = &c.measurements[0].subtypes;
    let names: Vec<_> = subtypes.iter().map(|s| s.subtype.as_str()).collect();
    assert_eq!(
        names,
        ["smi", "gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6", "gpu-7"]
    );
    for (index, gpu) in subtypes[1..].iter().enumerate() {
        assert_eq!(gpu.data["index"], Reading::Int(index as i64));
        assert_eq!(
            text(gpu, "uuid"),
            format!("GPU-00000000-fake-4000-8000-00000000000{index}")
        );
        assert_eq!(text(gpu, "serial"), format!("165000000000{index}"));
        assert_eq!(gpu.data["memory-total-mib"], Reading::Int(143_771));
    }
    let smi = &subtypes[0];
    assert_eq!(smi.data["gpu-count"], Reading::Int(8));
    assert_eq!(text(smi, "gpu.model"), "NVIDIA H200");

    let sequential = fake.read_sequentially(true);
    assert_eq!(*subtypes, sequential.subtypes);
    assert_eq!(c.warnings, sequential.warnings);
    let expected: Vec<_> = (0..8)
        .map(|i| {
            format!(
                "GPU {i}: power-limit-default-watts left out: an internal driver error occurred"
            )
        })
        .collect();
    assert_eq!(c.warnings, expected);
}

/// One of eight GPUs read concurrently has fallen off the bus (its memory query fails): that GPU
/// alone lacks the field and has a warning; the other seven are complete.
#[test]
fn a_failing_gpu_among_eight_read_concurrently_warns_for_that_gpu_only() {
    let fake = FakeNvml::new(8, SUCCESS);
    fake.set_latency_us(200);
    fake.set_failing_gpu(5);
    let c = fake.collected(&[]);
    let m = &c.measurements[0];
    for index in 0..8 {
        let gpu = m.subtype(&format!("gpu-{index}")).unwrap();
        assert_eq!(
            gpu.data.contains_key("memory-total-mib"),
            index != 5,
            "GPU {index}: {:?}",
            gpu.data
        );
        assert_eq!(text(gpu, "model"), "NVIDIA H200", "GPU {index}");
    }
    let mut expected: Vec<_> = (0..8)
        .map(|i| {
            format!(
                "GPU {i}: power-limit-default-watts left out: an internal driver error occurred"
            )
        })
        .collect();
    expected.insert(
        5,
        "GPU 5: memory-total-mib left out: device fell off the bus or has otherwise become inacessible"
            .to_owned(),
    );
    assert_eq!(c.warnings, expected);
    assert_eq!(c.warnings, fake.read_sequentially(false).warnings);
}
