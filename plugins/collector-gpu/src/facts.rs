//! The seam between NVML and the measurement: plain values as NVML returned them.
//!
//! [`crate::reader`] fills these structs from a live NVML; [`crate::mapping`] turns them into
//! readings. Unit tests fill them with values recorded on real GPUs, so the mapping is tested
//! without a GPU. Each field is a [`Field`]: the value, or why NVML could not give it.

use nvml_wrapper::enum_wrappers::device::ComputeMode;
use nvml_wrapper::enums::device::DeviceArchitecture;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::structs::device::{EccModeState, GspFirmwareMode, MigMode};

/// Why one NVML value is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// This GPU or driver does not support the query (including a driver too old to export the
    /// function). Expected; the field is left out silently.
    NotSupported,
    /// The query failed for another reason; the field is left out with a warning.
    Failed(String),
}

impl From<NvmlError> for Unavailable {
    fn from(error: NvmlError) -> Self {
        match error {
            NvmlError::NotSupported
            | NvmlError::FunctionNotFound
            | NvmlError::FailedToLoadSymbol(_) => Unavailable::NotSupported,
            other => Unavailable::Failed(other.to_string()),
        }
    }
}

/// One value read through NVML, or why it is missing.
pub type Field<T> = Result<T, Unavailable>;

/// Converts an NVML result into a [`Field`].
pub fn field<T>(result: Result<T, NvmlError>) -> Field<T> {
    result.map_err(Unavailable::from)
}

/// Node-wide values.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemFacts {
    /// `nvmlSystemGetDriverVersion`, e.g. `580.159.04`.
    pub driver_version: Field<String>,
    /// `nvmlSystemGetCudaDriverVersion_v2`, encoded as NVML does: `1000 * major + 10 * minor`.
    pub cuda_driver_version: Field<i32>,
    /// `nvmlSystemGetNVMLVersion`, e.g. `13.580.159.04`.
    pub nvml_version: Field<String>,
    /// `nvmlDeviceGetCount_v2`.
    pub gpu_count: u32,
}

/// Power limits in milliwatts, as NVML reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerLimits {
    /// The limit in force (`nvmlDeviceGetPowerManagementLimit`).
    pub current_mw: Field<u32>,
    /// The default limit (`nvmlDeviceGetPowerManagementDefaultLimit`).
    pub default_mw: Field<u32>,
    /// The highest limit that can be set (`nvmlDeviceGetPowerManagementLimitConstraints`).
    pub max_mw: Field<u32>,
}

/// Maximum clocks in MHz (`nvmlDeviceGetMaxClockInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxClocks {
    /// Graphics clock.
    pub graphics_mhz: Field<u32>,
    /// SM clock.
    pub sm_mhz: Field<u32>,
    /// Memory clock.
    pub memory_mhz: Field<u32>,
    /// Video clock.
    pub video_mhz: Field<u32>,
}

/// PCIe link generation and width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcieLink {
    /// Highest generation the GPU and system support.
    pub max_generation: Field<u32>,
    /// Generation in use now (can drop while idle).
    pub current_generation: Field<u32>,
    /// Highest lane count.
    pub max_width: Field<u32>,
    /// Lane count in use now.
    pub current_width: Field<u32>,
}

/// One MIG device (GPU instance slice) of a GPU in MIG mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigDeviceFacts {
    /// The MIG device's index on its parent.
    pub index: u32,
    /// `MIG-…` UUID.
    pub uuid: Field<String>,
    /// Profile name, e.g. `NVIDIA H100 80GB HBM3 MIG 1g.10gb`.
    pub name: Field<String>,
    /// Memory in bytes.
    pub memory_total_bytes: Field<u64>,
}

/// Everything read from one GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuFacts {
    /// NVML's device index.
    pub index: u32,
    /// Product name, e.g. `NVIDIA H200`.
    pub name: Field<String>,
    /// Architecture.
    pub architecture: Field<DeviceArchitecture>,
    /// `GPU-…` UUID.
    pub uuid: Field<String>,
    /// PCI bus id, e.g. `00000000:18:00.0`.
    pub pci_bus_id: Field<String>,
    /// VBIOS version.
    pub vbios_version: Field<String>,
    /// GSP firmware version (GSP-capable GPUs).
    pub gsp_firmware_version: Field<String>,
    /// GSP firmware mode.
    pub gsp_firmware_mode: Field<GspFirmwareMode>,
    /// Persistence mode on.
    pub persistence_mode: Field<bool>,
    /// Display mode (a display can be attached).
    pub display_mode: Field<bool>,
    /// Display active (a display is initialised).
    pub display_active: Field<bool>,
    /// MIG mode, current and pending (`NVML_DEVICE_MIG_ENABLE` = 1).
    pub mig_mode: Field<MigMode>,
    /// The MIG devices that exist (read only while MIG is enabled).
    pub mig_devices: Vec<MigDeviceFacts>,
    /// ECC mode, current and pending.
    pub ecc_mode: Field<EccModeState>,
    /// Compute mode.
    pub compute_mode: Field<ComputeMode>,
    /// CUDA compute capability (major, minor).
    pub compute_capability: Field<(i32, i32)>,
    /// Total framebuffer memory in bytes.
    pub memory_total_bytes: Field<u64>,
    /// Power limits.
    pub power: PowerLimits,
    /// Maximum clocks.
    pub max_clocks: MaxClocks,
    /// PCIe link.
    pub pcie: PcieLink,
    /// NVLink state per link index (true = active); empty when the GPU has no NVLink.
    pub nvlinks: Vec<(u32, Field<bool>)>,
    /// Addressing mode (`nvmlDeviceGetAddressingMode`: 0 none, 1 HMM, 2 ATS), newer drivers only.
    pub addressing_mode: Field<u32>,
    /// Board serial number; `None` unless serials were asked for.
    pub serial: Option<Field<String>>,
}

impl GpuFacts {
    /// A GPU at `index` for which every query reported "not supported": the starting point for
    /// tests and for a reader that fills in what it can.
    pub fn unsupported(index: u32) -> Self {
        fn ns<T>() -> Field<T> {
            Err(Unavailable::NotSupported)
        }
        GpuFacts {
            index,
            name: ns(),
            architecture: ns(),
            uuid: ns(),
            pci_bus_id: ns(),
            vbios_version: ns(),
            gsp_firmware_version: ns(),
            gsp_firmware_mode: ns(),
            persistence_mode: ns(),
            display_mode: ns(),
            display_active: ns(),
            mig_mode: ns(),
            mig_devices: Vec::new(),
            ecc_mode: ns(),
            compute_mode: ns(),
            compute_capability: ns(),
            memory_total_bytes: ns(),
            power: PowerLimits {
                current_mw: ns(),
                default_mw: ns(),
                max_mw: ns(),
            },
            max_clocks: MaxClocks {
                graphics_mhz: ns(),
                sm_mhz: ns(),
                memory_mhz: ns(),
                video_mhz: ns(),
            },
            pcie: PcieLink {
                max_generation: ns(),
                current_generation: ns(),
                max_width: ns(),
                current_width: ns(),
            },
            nvlinks: Vec::new(),
            addressing_mode: ns(),
            serial: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_functions_count_as_not_supported_and_other_errors_as_failures() {
        assert_eq!(
            Unavailable::from(NvmlError::NotSupported),
            Unavailable::NotSupported
        );
        assert_eq!(
            Unavailable::from(NvmlError::FailedToLoadSymbol("nvmlX".into())),
            Unavailable::NotSupported
        );
        assert_eq!(
            Unavailable::from(NvmlError::FunctionNotFound),
            Unavailable::NotSupported
        );
        match Unavailable::from(NvmlError::NoPermission) {
            Unavailable::Failed(m) => assert!(m.contains("permission"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
