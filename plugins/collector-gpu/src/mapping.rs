//! Turns NVML values ([`crate::facts`]) into the `gpu` measurement's subtypes.
//!
//! Text values are written the way `nvidia-smi -q` writes them (`Enabled`/`Disabled`, `Hopper`,
//! `Exclusive_Process`, CUDA `13.0`), so that snapshots of the Go tool, which parsed
//! `nvidia-smi -q -x`, and of eidos can be compared key by key.

use crate::facts::{Field, GpuFacts, SystemFacts, Unavailable};
use eidos_plugin_api::{Reading, Subtype};
use nvml_wrapper::enum_wrappers::device::ComputeMode;
use nvml_wrapper::enums::device::DeviceArchitecture;

/// The summary subtype's name. The Go tool called it `smi` (after `nvidia-smi`); keeping the name
/// lets recipes and drift checks read Go and eidos snapshots alike.
pub const SUMMARY_SUBTYPE: &str = "smi";

/// Per-GPU keys that are copied into the summary as `gpu.KEY` when every GPU has the same value
/// (the Go tool reported one value for the node).
pub const SUMMARY_GPU_KEYS: &[&str] = &[
    "model",
    "product-architecture",
    "vbios-version",
    "gsp-firmware-version",
    "persistence-mode",
    "display-mode",
    "display-active",
    "addressing-mode",
    "mig-mode.current",
    "ecc-mode.current",
    "compute-mode",
];

/// The name of GPU `index`'s subtype.
pub fn gpu_subtype_name(index: u32) -> String {
    format!("gpu-{index}")
}

/// The subtypes and the warnings for fields that failed (not for unsupported ones).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapped {
    /// The summary first, then one subtype per GPU in index order.
    pub subtypes: Vec<Subtype>,
    /// One line per field left out because its query failed, or per summary key the GPUs disagree on.
    pub warnings: Vec<String>,
}

/// Maps node-wide values and every GPU's values to subtypes.
pub fn map_all(system: &SystemFacts, gpus: &[GpuFacts]) -> Mapped {
    let mut warnings = Vec::new();
    let per_gpu: Vec<Subtype> = gpus.iter().map(|gpu| map_gpu(gpu, &mut warnings)).collect();
    let summary = map_summary(system, &per_gpu, &mut warnings);
    let mut subtypes = Vec::with_capacity(per_gpu.len() + 1);
    subtypes.push(summary);
    subtypes.extend(per_gpu);
    Mapped { subtypes, warnings }
}

/// The summary: driver, CUDA and NVML versions, GPU count, and the `gpu.*` keys all GPUs agree on.
pub fn map_summary(system: &SystemFacts, gpus: &[Subtype], warnings: &mut Vec<String>) -> Subtype {
    let mut sink = Sink::new(SUMMARY_SUBTYPE, "node".to_owned(), warnings);
    sink.put("driver", &system.driver_version, |v| v.as_str().into());
    sink.put("cuda-version", &system.cuda_driver_version, |v| {
        cuda_version(*v).into()
    });
    sink.put("nvml-version", &system.nvml_version, |v| v.as_str().into());
    let mut summary = sink.finish();
    summary.insert("gpu-count", system.gpu_count);
    for key in SUMMARY_GPU_KEYS {
        match common_value(gpus, key) {
            Common::Same(value) => summary.insert(format!("gpu.{key}"), value),
            Common::Differ => warnings.push(format!(
                "gpu.{key} left out of {SUMMARY_SUBTYPE}: the GPUs report different values (see each GPU's subtype)"
            )),
            Common::Missing => {}
        }
    }
    summary.sort();
    summary
}

/// One GPU's subtype.
pub fn map_gpu(gpu: &GpuFacts, warnings: &mut Vec<String>) -> Subtype {
    let mut s = Sink::new(
        &gpu_subtype_name(gpu.index),
        format!("GPU {}", gpu.index),
        warnings,
    );
    s.insert("index", gpu.index.into());
    s.put("model", &gpu.name, |v| v.as_str().into());
    s.put("product-architecture", &gpu.architecture, |a| {
        architecture_name(a).into()
    });
    s.put("uuid", &gpu.uuid, |v| v.as_str().into());
    s.put("pci-bus-id", &gpu.pci_bus_id, |v| v.as_str().into());
    s.put("vbios-version", &gpu.vbios_version, |v| v.as_str().into());
    s.put("gsp-firmware-version", &gpu.gsp_firmware_version, |v| {
        v.as_str().into()
    });
    s.put("gsp-firmware-mode", &gpu.gsp_firmware_mode, |m| {
        enabled(m.enabled).into()
    });
    s.put("gsp-firmware-mode-default", &gpu.gsp_firmware_mode, |m| {
        enabled(m.default).into()
    });
    s.put("persistence-mode", &gpu.persistence_mode, |v| {
        enabled(*v).into()
    });
    s.put("display-mode", &gpu.display_mode, |v| enabled(*v).into());
    s.put("display-active", &gpu.display_active, |v| {
        enabled(*v).into()
    });
    s.put("mig-mode.current", &gpu.mig_mode, |m| {
        mig_mode_name(m.current).into()
    });
    s.put("mig-mode.pending", &gpu.mig_mode, |m| {
        mig_mode_name(m.pending).into()
    });
    if matches!(&gpu.mig_mode, Ok(m) if m.current == MIG_ENABLED) {
        s.insert("mig-devices", Reading::from(gpu.mig_devices.len() as u64));
        for mig in &gpu.mig_devices {
            let prefix = format!("mig-device.{}", mig.index);
            s.put(&format!("{prefix}.uuid"), &mig.uuid, |v| v.as_str().into());
            s.put(&format!("{prefix}.model"), &mig.name, |v| v.as_str().into());
            s.put(
                &format!("{prefix}.memory-total-mib"),
                &mig.memory_total_bytes,
                |b| mib(*b).into(),
            );
        }
    }
    s.put("ecc-mode.current", &gpu.ecc_mode, |e| {
        enabled(e.currently_enabled).into()
    });
    s.put("ecc-mode.pending", &gpu.ecc_mode, |e| {
        enabled(e.pending_enabled).into()
    });
    s.put("compute-mode", &gpu.compute_mode, |m| {
        compute_mode_name(m).into()
    });
    s.put(
        "cuda-compute-capability",
        &gpu.compute_capability,
        |(a, b)| format!("{a}.{b}").into(),
    );
    s.put("memory-total-mib", &gpu.memory_total_bytes, |b| {
        mib(*b).into()
    });
    s.put("power-limit-watts", &gpu.power.current_mw, |mw| watts(*mw));
    s.put("power-limit-default-watts", &gpu.power.default_mw, |mw| {
        watts(*mw)
    });
    s.put("power-limit-max-watts", &gpu.power.max_mw, |mw| watts(*mw));
    let clocks = &gpu.max_clocks;
    s.put("max-clock.graphics-mhz", &clocks.graphics_mhz, |v| {
        (*v).into()
    });
    s.put("max-clock.sm-mhz", &clocks.sm_mhz, |v| (*v).into());
    s.put("max-clock.memory-mhz", &clocks.memory_mhz, |v| (*v).into());
    s.put("max-clock.video-mhz", &clocks.video_mhz, |v| (*v).into());
    let pcie = &gpu.pcie;
    s.put("pcie.link-gen-max", &pcie.max_generation, |v| (*v).into());
    s.put("pcie.link-gen-current", &pcie.current_generation, |v| {
        (*v).into()
    });
    s.put("pcie.link-width-max", &pcie.max_width, |v| (*v).into());
    s.put("pcie.link-width-current", &pcie.current_width, |v| {
        (*v).into()
    });
    let mut active_links: u32 = 0;
    let mut readable_links = false;
    for (link, state) in &gpu.nvlinks {
        if let Ok(true) = state {
            active_links += 1;
        }
        readable_links |= state.is_ok();
        s.put(&format!("nvlink.{link}"), state, |a| {
            (if *a { "Active" } else { "Inactive" }).into()
        });
    }
    if readable_links {
        s.insert("nvlink.active-links", active_links.into());
    }
    s.put("addressing-mode", &gpu.addressing_mode, |m| {
        addressing_mode_name(*m).into()
    });
    if let Some(serial) = &gpu.serial {
        s.put("serial", serial, |v| v.as_str().into());
    }
    let mut subtype = s.finish();
    subtype.sort();
    subtype
}

/// NVML's value for "MIG enabled".
const MIG_ENABLED: u32 = nvml_wrapper_sys::bindings::NVML_DEVICE_MIG_ENABLE;

/// CUDA driver version as `nvidia-smi` writes it: 13000 → `13.0`, 12080 → `12.8`.
pub fn cuda_version(encoded: i32) -> String {
    let major = nvml_wrapper::cuda_driver_version_major(encoded);
    let minor = nvml_wrapper::cuda_driver_version_minor(encoded);
    format!("{major}.{minor}")
}

/// `Enabled` or `Disabled`.
pub fn enabled(on: bool) -> &'static str {
    if on {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// MIG mode as `nvidia-smi` writes it.
pub fn mig_mode_name(mode: u32) -> String {
    match mode {
        nvml_wrapper_sys::bindings::NVML_DEVICE_MIG_DISABLE => "Disabled".to_owned(),
        MIG_ENABLED => "Enabled".to_owned(),
        other => format!("Unknown ({other})"),
    }
}

/// Architecture as `nvidia-smi` writes it ("Product Architecture").
pub fn architecture_name(arch: &DeviceArchitecture) -> &'static str {
    match arch {
        DeviceArchitecture::Kepler => "Kepler",
        DeviceArchitecture::Maxwell => "Maxwell",
        DeviceArchitecture::Pascal => "Pascal",
        DeviceArchitecture::Volta => "Volta",
        DeviceArchitecture::Turing => "Turing",
        DeviceArchitecture::Ampere => "Ampere",
        DeviceArchitecture::Ada => "Ada Lovelace",
        DeviceArchitecture::Hopper => "Hopper",
        DeviceArchitecture::Blackwell => "Blackwell",
        DeviceArchitecture::Unknown => "Unknown",
    }
}

/// Compute mode as `nvidia-smi` writes it.
pub fn compute_mode_name(mode: &ComputeMode) -> &'static str {
    match mode {
        ComputeMode::Default => "Default",
        ComputeMode::ExclusiveThread => "Exclusive_Thread",
        ComputeMode::Prohibited => "Prohibited",
        ComputeMode::ExclusiveProcess => "Exclusive_Process",
    }
}

/// Addressing mode as `nvidia-smi` writes it (`nvmlDeviceAddressingModeType_t`).
pub fn addressing_mode_name(mode: u32) -> String {
    use nvml_wrapper_sys::bindings as b;
    match mode {
        b::nvmlDeviceAddressingModeType_t_NVML_DEVICE_ADDRESSING_MODE_NONE => "None".to_owned(),
        b::nvmlDeviceAddressingModeType_t_NVML_DEVICE_ADDRESSING_MODE_HMM => "HMM".to_owned(),
        b::nvmlDeviceAddressingModeType_t_NVML_DEVICE_ADDRESSING_MODE_ATS => "ATS".to_owned(),
        other => format!("Unknown ({other})"),
    }
}

/// Bytes to whole MiB, as `nvidia-smi` reports memory.
pub fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// Milliwatts to watts.
pub fn watts(milliwatts: u32) -> Reading {
    Reading::Float(f64::from(milliwatts) / 1000.0)
}

enum Common {
    Same(Reading),
    Differ,
    Missing,
}

/// The value every GPU subtype has for `key`: missing if any GPU lacks it (or there are none).
fn common_value(gpus: &[Subtype], key: &str) -> Common {
    let mut values = gpus.iter().map(|g| g.data.get(key));
    let Some(Some(first)) = values.next() else {
        return Common::Missing;
    };
    let mut differ = false;
    for value in values {
        match value {
            None => return Common::Missing,
            Some(v) if v != first => differ = true,
            Some(_) => {}
        }
    }
    if differ {
        Common::Differ
    } else {
        Common::Same(first.clone())
    }
}

/// Collects readings into a subtype, leaving out unavailable fields and noting failed ones.
struct Sink<'w> {
    subtype: Subtype,
    owner: String,
    warnings: &'w mut Vec<String>,
}

impl<'w> Sink<'w> {
    fn new(name: &str, owner: String, warnings: &'w mut Vec<String>) -> Self {
        Sink {
            subtype: Subtype::new(name),
            owner,
            warnings,
        }
    }

    fn insert(&mut self, key: &str, value: Reading) {
        self.subtype.insert(key, value);
    }

    fn put<T>(&mut self, key: &str, field: &Field<T>, to_reading: impl FnOnce(&T) -> Reading) {
        match field {
            Ok(value) => self.subtype.insert(key, to_reading(value)),
            Err(Unavailable::NotSupported) => {}
            Err(Unavailable::Failed(why)) => self
                .warnings
                .push(format!("{}: {key} left out: {why}", self.owner)),
        }
    }

    fn finish(self) -> Subtype {
        self.subtype
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::MigDeviceFacts;
    use nvml_wrapper::structs::device::{EccModeState, GspFirmwareMode, MigMode};

    /// Node-wide values recorded on an H200 node (driver 580.159.04, CUDA 13.0).
    fn h200_system(gpu_count: u32) -> SystemFacts {
        SystemFacts {
            driver_version: Ok("580.159.04".into()),
            cuda_driver_version: Ok(13000),
            nvml_version: Ok("13.580.159.04".into()),
            gpu_count,
        }
    }

    /// One H200 as NVML reported it. Name, architecture, VBIOS, persistence, MIG and addressing
    /// mode are the recorded values; the UUID and bus id are made unique per index.
    fn h200(index: u32) -> GpuFacts {
        let mut gpu = GpuFacts::unsupported(index);
        gpu.name = Ok("NVIDIA H200".into());
        gpu.architecture = Ok(DeviceArchitecture::Hopper);
        gpu.uuid = Ok(format!("GPU-6d3c1f2a-0000-4000-8000-00000000000{index}"));
        gpu.pci_bus_id = Ok(format!("00000000:{:02X}:00.0", 0x18 + index));
        gpu.vbios_version = Ok("96.00.A5.00.1A".into());
        gpu.gsp_firmware_version = Ok("580.159.04".into());
        gpu.gsp_firmware_mode = Ok(GspFirmwareMode {
            enabled: true,
            default: true,
        });
        gpu.persistence_mode = Ok(true);
        gpu.display_mode = Ok(false);
        gpu.display_active = Ok(false);
        gpu.mig_mode = Ok(MigMode {
            current: 0,
            pending: 0,
        });
        gpu.ecc_mode = Ok(EccModeState {
            currently_enabled: true,
            pending_enabled: true,
        });
        gpu.compute_mode = Ok(ComputeMode::Default);
        gpu.compute_capability = Ok((9, 0));
        gpu.memory_total_bytes = Ok(143_771 * 1024 * 1024);
        gpu.power.current_mw = Ok(700_000);
        gpu.power.default_mw = Ok(700_000);
        gpu.power.max_mw = Ok(700_000);
        gpu.max_clocks.graphics_mhz = Ok(1980);
        gpu.max_clocks.sm_mhz = Ok(1980);
        gpu.max_clocks.memory_mhz = Ok(3201);
        gpu.max_clocks.video_mhz = Ok(1545);
        gpu.pcie.max_generation = Ok(5);
        gpu.pcie.current_generation = Ok(5);
        gpu.pcie.max_width = Ok(16);
        gpu.pcie.current_width = Ok(16);
        gpu.addressing_mode = Ok(0);
        gpu
    }

    fn get<'a>(s: &'a Subtype, key: &str) -> Option<&'a Reading> {
        s.data.get(key)
    }

    fn text(s: &Subtype, key: &str) -> String {
        match get(s, key) {
            Some(Reading::Str(v)) => v.clone(),
            other => panic!("{key}: expected text, got {other:?} in {:?}", s.data),
        }
    }

    #[test]
    fn recorded_h200_values_map_to_nvidia_smi_wording() {
        let mapped = map_all(&h200_system(2), &[h200(0), h200(1)]);
        assert!(mapped.warnings.is_empty(), "{:?}", mapped.warnings);
        let names: Vec<_> = mapped.subtypes.iter().map(|s| s.subtype.as_str()).collect();
        assert_eq!(names, ["smi", "gpu-0", "gpu-1"]);

        let smi = &mapped.subtypes[0];
        assert_eq!(text(smi, "driver"), "580.159.04");
        assert_eq!(text(smi, "cuda-version"), "13.0");
        assert_eq!(text(smi, "nvml-version"), "13.580.159.04");
        assert_eq!(get(smi, "gpu-count"), Some(&Reading::Int(2)));
        assert_eq!(text(smi, "gpu.model"), "NVIDIA H200");
        assert_eq!(text(smi, "gpu.product-architecture"), "Hopper");
        assert_eq!(text(smi, "gpu.vbios-version"), "96.00.A5.00.1A");
        assert_eq!(text(smi, "gpu.persistence-mode"), "Enabled");
        assert_eq!(text(smi, "gpu.mig-mode.current"), "Disabled");
        assert_eq!(text(smi, "gpu.addressing-mode"), "None");
        assert_eq!(text(smi, "gpu.display-mode"), "Disabled");
        assert_eq!(text(smi, "gpu.gsp-firmware-version"), "580.159.04");
        let keys: Vec<_> = smi.data.keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "summary keys are written in sorted order");

        let gpu1 = &mapped.subtypes[2];
        assert_eq!(get(gpu1, "index"), Some(&Reading::Int(1)));
        assert_eq!(text(gpu1, "model"), "NVIDIA H200");
        assert_eq!(
            text(gpu1, "uuid"),
            "GPU-6d3c1f2a-0000-4000-8000-000000000001"
        );
        assert_eq!(text(gpu1, "pci-bus-id"), "00000000:19:00.0");
        assert_eq!(text(gpu1, "mig-mode.current"), "Disabled");
        assert_eq!(text(gpu1, "mig-mode.pending"), "Disabled");
        assert!(
            get(gpu1, "mig-devices").is_none(),
            "no MIG devices without MIG"
        );
        assert_eq!(text(gpu1, "ecc-mode.current"), "Enabled");
        assert_eq!(text(gpu1, "compute-mode"), "Default");
        assert_eq!(text(gpu1, "cuda-compute-capability"), "9.0");
        assert_eq!(text(gpu1, "gsp-firmware-mode"), "Enabled");
        assert_eq!(get(gpu1, "memory-total-mib"), Some(&Reading::Int(143_771)));
        assert_eq!(get(gpu1, "power-limit-watts"), Some(&Reading::Float(700.0)));
        assert_eq!(get(gpu1, "max-clock.memory-mhz"), Some(&Reading::Int(3201)));
        assert_eq!(get(gpu1, "pcie.link-gen-max"), Some(&Reading::Int(5)));
        assert_eq!(
            get(gpu1, "pcie.link-width-current"),
            Some(&Reading::Int(16))
        );
        assert_eq!(text(gpu1, "addressing-mode"), "None");
        assert!(get(gpu1, "serial").is_none());
        assert!(get(gpu1, "nvlink.active-links").is_none());
    }

    /// The keys the Go tool writes in its GPU `smi` summary (a fact about its format). The shared
    /// fixture must hold all of them, so that the comparison below covers the whole summary.
    const GO_SUMMARY_KEYS: [&str; 11] = [
        "cuda-version",
        "driver",
        "gpu-count",
        "gpu.addressing-mode",
        "gpu.display-active",
        "gpu.display-mode",
        "gpu.gsp-firmware-version",
        "gpu.model",
        "gpu.persistence-mode",
        "gpu.product-architecture",
        "gpu.vbios-version",
    ];

    /// The `smi` subtype of the shared fixture in the Go tool's format: every key it holds must
    /// come out of the mapping under the same name with the same value, given the NVML values of
    /// the same node.
    #[test]
    fn every_key_of_the_go_tools_gpu_summary_is_produced_with_the_same_value() {
        let snapshot: eidos_plugin_api::Snapshot =
            serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        let go = snapshot
            .measurement(eidos_plugin_api::MeasurementType::Gpu)
            .and_then(|m| m.subtype("smi"))
            .expect("the fixture has a GPU smi subtype");
        let go_keys: Vec<&str> = go.data.keys().map(String::as_str).collect();
        assert_eq!(go_keys, GO_SUMMARY_KEYS, "the fixture's summary keys");

        // The fixture's node as NVML would report it: eight H100 80GB HBM3, driver 570.133.20,
        // CUDA 12.8, HMM addressing, persistence on, display mode off.
        let system = SystemFacts {
            driver_version: Ok("570.133.20".into()),
            cuda_driver_version: Ok(12080),
            nvml_version: Ok("12.570.133.20".into()),
            gpu_count: 8,
        };
        let gpus: Vec<GpuFacts> = (0..8)
            .map(|i| {
                let mut gpu = h200(i);
                gpu.name = Ok("NVIDIA H100 80GB HBM3".into());
                gpu.vbios_version = Ok("96.00.74.00.1C".into());
                gpu.gsp_firmware_version = Ok("570.133.20".into());
                gpu.persistence_mode = Ok(true);
                gpu.display_mode = Ok(false);
                gpu.display_active = Ok(false);
                gpu.addressing_mode = Ok(1);
                gpu
            })
            .collect();
        let mapped = map_all(&system, &gpus);
        let ours = &mapped.subtypes[0];
        assert_eq!(ours.subtype, go.subtype);
        for (key, value) in &go.data {
            assert_eq!(ours.data.get(key), Some(value), "key {key}");
        }
    }

    #[test]
    fn unsupported_fields_are_left_out_silently_and_failed_ones_with_a_warning() {
        let mut gpu = h200(0);
        gpu.gsp_firmware_version = Err(Unavailable::NotSupported);
        gpu.addressing_mode = Err(Unavailable::NotSupported);
        gpu.power.current_mw = Err(Unavailable::Failed(
            "an internal driver error occurred".into(),
        ));
        let mut system = h200_system(1);
        system.nvml_version = Err(Unavailable::Failed("no data".into()));
        let mapped = map_all(&system, &[gpu]);
        let (smi, gpu0) = (&mapped.subtypes[0], &mapped.subtypes[1]);
        assert!(get(gpu0, "gsp-firmware-version").is_none());
        assert!(get(gpu0, "addressing-mode").is_none());
        assert!(get(gpu0, "power-limit-watts").is_none());
        assert!(get(smi, "gpu.addressing-mode").is_none());
        assert!(get(smi, "nvml-version").is_none());
        assert_eq!(
            get(gpu0, "power-limit-max-watts"),
            Some(&Reading::Float(700.0))
        );
        assert_eq!(text(smi, "driver"), "580.159.04");
        assert_eq!(
            mapped.warnings,
            [
                "GPU 0: power-limit-watts left out: an internal driver error occurred",
                "node: nvml-version left out: no data",
            ]
        );
    }

    #[test]
    fn a_summary_key_the_gpus_disagree_on_is_left_out_with_a_warning() {
        let mut other = h200(1);
        other.vbios_version = Ok("96.00.A5.00.1B".into());
        let mapped = map_all(&h200_system(2), &[h200(0), other]);
        let smi = &mapped.subtypes[0];
        assert!(get(smi, "gpu.vbios-version").is_none());
        assert_eq!(text(smi, "gpu.model"), "NVIDIA H200");
        assert_eq!(text(&mapped.subtypes[2], "vbios-version"), "96.00.A5.00.1B");
        assert_eq!(mapped.warnings.len(), 1, "{:?}", mapped.warnings);
        assert!(mapped.warnings[0].contains("gpu.vbios-version"));
    }

    #[test]
    fn mig_devices_are_listed_only_while_mig_is_enabled() {
        let mut gpu = h200(0);
        gpu.mig_mode = Ok(MigMode {
            current: 1,
            pending: 0,
        });
        gpu.mig_devices = vec![
            MigDeviceFacts {
                index: 0,
                uuid: Ok("MIG-a1".into()),
                name: Ok("NVIDIA H200 MIG 1g.18gb".into()),
                memory_total_bytes: Ok(16_384 * 1024 * 1024),
            },
            MigDeviceFacts {
                index: 3,
                uuid: Ok("MIG-b2".into()),
                name: Err(Unavailable::NotSupported),
                memory_total_bytes: Err(Unavailable::NotSupported),
            },
        ];
        let mapped = map_all(&h200_system(1), &[gpu]);
        let gpu0 = &mapped.subtypes[1];
        assert_eq!(text(gpu0, "mig-mode.current"), "Enabled");
        assert_eq!(text(gpu0, "mig-mode.pending"), "Disabled");
        assert_eq!(get(gpu0, "mig-devices"), Some(&Reading::Int(2)));
        assert_eq!(text(gpu0, "mig-device.0.uuid"), "MIG-a1");
        assert_eq!(text(gpu0, "mig-device.0.model"), "NVIDIA H200 MIG 1g.18gb");
        assert_eq!(
            get(gpu0, "mig-device.0.memory-total-mib"),
            Some(&Reading::Int(16_384))
        );
        assert_eq!(text(gpu0, "mig-device.3.uuid"), "MIG-b2");
        assert!(get(gpu0, "mig-device.3.model").is_none());
        assert_eq!(text(&mapped.subtypes[0], "gpu.mig-mode.current"), "Enabled");
    }

    #[test]
    fn nvlink_states_are_listed_per_link_with_the_active_count() {
        let mut gpu = h200(0);
        gpu.nvlinks = vec![
            (0, Ok(true)),
            (1, Ok(true)),
            (2, Ok(false)),
            (3, Err(Unavailable::NotSupported)),
        ];
        let mapped = map_all(&h200_system(1), &[gpu]);
        let gpu0 = &mapped.subtypes[1];
        assert_eq!(text(gpu0, "nvlink.0"), "Active");
        assert_eq!(text(gpu0, "nvlink.2"), "Inactive");
        assert!(get(gpu0, "nvlink.3").is_none());
        assert_eq!(get(gpu0, "nvlink.active-links"), Some(&Reading::Int(2)));
    }

    #[test]
    fn the_serial_is_written_only_when_it_was_read() {
        let mut gpu = h200(0);
        gpu.serial = Some(Ok("1652123456789".into()));
        let mapped = map_all(&h200_system(1), &[gpu, h200(1)]);
        assert_eq!(text(&mapped.subtypes[1], "serial"), "1652123456789");
        assert!(get(&mapped.subtypes[2], "serial").is_none());
    }

    #[test]
    fn values_are_converted_the_way_nvidia_smi_writes_them() {
        assert_eq!(cuda_version(13000), "13.0");
        assert_eq!(cuda_version(12080), "12.8");
        assert_eq!(cuda_version(12040), "12.4");
        assert_eq!(addressing_mode_name(0), "None");
        assert_eq!(addressing_mode_name(1), "HMM");
        assert_eq!(addressing_mode_name(2), "ATS");
        assert_eq!(addressing_mode_name(7), "Unknown (7)");
        assert_eq!(mig_mode_name(5), "Unknown (5)");
        assert_eq!(architecture_name(&DeviceArchitecture::Ada), "Ada Lovelace");
        assert_eq!(
            compute_mode_name(&ComputeMode::ExclusiveProcess),
            "Exclusive_Process"
        );
        assert_eq!(mib(80 * 1024 * 1024 * 1024 + 5), 81_920);
        assert_eq!(watts(312_500), Reading::Float(312.5));
    }

    #[test]
    fn a_gpu_that_cannot_be_opened_keeps_its_index_and_says_why() {
        let mut gpu = GpuFacts::unsupported(3);
        gpu.name = Err(Unavailable::Failed(
            "cannot open the device: GPU lost".into(),
        ));
        let mapped = map_all(&h200_system(2), &[h200(0), gpu]);
        let broken = &mapped.subtypes[2];
        assert_eq!(broken.subtype, "gpu-3");
        assert_eq!(broken.data.len(), 1, "{:?}", broken.data);
        assert!(get(&mapped.subtypes[0], "gpu.model").is_none());
        assert_eq!(
            mapped.warnings,
            ["GPU 3: model left out: cannot open the device: GPU lost"]
        );
    }
}
