//! Reads [`crate::facts`] from a live NVML. The only module that calls NVML per field.

use crate::facts::{
    field, Field, GpuFacts, MaxClocks, MigDeviceFacts, PcieLink, PowerLimits, SystemFacts,
    Unavailable,
};
use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::error::{nvml_sym, nvml_try, NvmlError};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::{
    nvmlDeviceAddressingMode_v1_t, NVML_DEVICE_MIG_ENABLE, NVML_NVLINK_MAX_LINKS,
};

/// Node-wide values. Fails only when the GPU count cannot be read.
pub fn read_system(nvml: &Nvml) -> Result<SystemFacts, NvmlError> {
    let gpu_count = nvml.device_count()?;
    Ok(SystemFacts {
        driver_version: text(nvml.sys_driver_version()),
        cuda_driver_version: field(nvml.sys_cuda_driver_version()),
        nvml_version: text(nvml.sys_nvml_version()),
        gpu_count,
    })
}

/// Everything about GPU `index`. A GPU whose handle cannot be obtained is returned with the
/// failure in its `name` and nothing else, so that the other GPUs are still reported.
/// `cancelled` is asked before the per-link and per-MIG-device sweeps, which it skips once the
/// host has asked to stop (the caller then discards the result).
pub fn read_gpu(nvml: &Nvml, index: u32, serials: bool, cancelled: &dyn Fn() -> bool) -> GpuFacts {
    match nvml.device_by_index(index) {
        Ok(device) => read_device(nvml, &device, index, serials, cancelled),
        Err(error) => {
            let mut facts = GpuFacts::unsupported(index);
            facts.name = Err(Unavailable::Failed(format!(
                "cannot open the device: {error}"
            )));
            facts
        }
    }
}

fn read_device(
    nvml: &Nvml,
    device: &Device<'_>,
    index: u32,
    serials: bool,
    cancelled: &dyn Fn() -> bool,
) -> GpuFacts {
    let mig_mode = field(device.mig_mode());
    let mig_devices = match &mig_mode {
        Ok(mode) if mode.current == NVML_DEVICE_MIG_ENABLE && !cancelled() => {
            read_mig_devices(device)
        }
        _ => Vec::new(),
    };
    let gsp_firmware_mode = field(device.gsp_firmware_mode());
    GpuFacts {
        index,
        name: text(device.name()),
        architecture: field(device.architecture()),
        uuid: text(device.uuid()),
        pci_bus_id: field(device.pci_info().map(|p| p.bus_id)),
        vbios_version: text(device.vbios_version()),
        gsp_firmware_version: text(device.gsp_firmware_version()),
        gsp_firmware_mode,
        persistence_mode: field(device.is_in_persistent_mode()),
        display_mode: field(device.is_display_connected()),
        display_active: field(device.is_display_active()),
        mig_mode,
        mig_devices,
        ecc_mode: field(device.is_ecc_enabled()),
        compute_mode: field(device.compute_mode()),
        compute_capability: field(device.cuda_compute_capability().map(|c| (c.major, c.minor))),
        memory_total_bytes: field(device.memory_info().map(|m| m.total)),
        power: PowerLimits {
            current_mw: field(device.power_management_limit()),
            default_mw: field(device.power_management_limit_default()),
            max_mw: field(
                device
                    .power_management_limit_constraints()
                    .map(|c| c.max_limit),
            ),
        },
        max_clocks: MaxClocks {
            graphics_mhz: field(device.max_clock_info(Clock::Graphics)),
            sm_mhz: field(device.max_clock_info(Clock::SM)),
            memory_mhz: field(device.max_clock_info(Clock::Memory)),
            video_mhz: field(device.max_clock_info(Clock::Video)),
        },
        pcie: PcieLink {
            max_generation: field(device.max_pcie_link_gen()),
            current_generation: field(device.current_pcie_link_gen()),
            max_width: field(device.max_pcie_link_width()),
            current_width: field(device.current_pcie_link_width()),
        },
        nvlinks: if cancelled() {
            Vec::new()
        } else {
            read_nvlinks(device)
        },
        addressing_mode: field(addressing_mode(nvml, device)),
        serial: serials.then(|| text(device.serial())),
    }
}

/// The state of each NVLink. A GPU without NVLink answers "not supported" for link 0; links past
/// the GPU's last one answer "invalid argument".
fn read_nvlinks(device: &Device<'_>) -> Vec<(u32, Field<bool>)> {
    let mut links = Vec::new();
    for link in 0..NVML_NVLINK_MAX_LINKS {
        match device.link_wrapper_for(link).is_active() {
            Err(NvmlError::InvalidArg) => break,
            Err(NvmlError::NotSupported) if link == 0 => break,
            state => links.push((link, field(state))),
        }
    }
    links
}

/// The MIG devices that exist on a GPU in MIG mode (empty slots are skipped).
fn read_mig_devices(device: &Device<'_>) -> Vec<MigDeviceFacts> {
    let slots = match device.mig_device_count() {
        Ok(n) => n,
        Err(error) => {
            return vec![MigDeviceFacts {
                index: 0,
                uuid: Err(Unavailable::Failed(format!(
                    "cannot count MIG devices: {error}"
                ))),
                name: Err(Unavailable::NotSupported),
                memory_total_bytes: Err(Unavailable::NotSupported),
            }]
        }
    };
    let mut found = Vec::new();
    for index in 0..slots {
        match device.mig_device_by_index(index) {
            Err(NvmlError::NotFound) | Err(NvmlError::InvalidArg) => continue,
            Err(error) => found.push(MigDeviceFacts {
                index,
                uuid: Err(Unavailable::from(error)),
                name: Err(Unavailable::NotSupported),
                memory_total_bytes: Err(Unavailable::NotSupported),
            }),
            Ok(mig) => found.push(MigDeviceFacts {
                index,
                uuid: text(mig.uuid()),
                name: text(mig.name()),
                memory_total_bytes: field(mig.memory_info().map(|m| m.total)),
            }),
        }
    }
    found
}

/// `nvmlDeviceGetAddressingMode` (drivers from the 575 series on), which nvml-wrapper does not
/// wrap: called through the symbol table it loaded.
pub fn addressing_mode(nvml: &Nvml, device: &Device<'_>) -> Result<u32, NvmlError> {
    let get = nvml_sym(nvml.lib().nvmlDeviceGetAddressingMode.as_ref())?;
    // NVML_STRUCT_VERSION(DeviceAddressingMode, 1): the struct's size with the version in the top byte.
    let version = (std::mem::size_of::<nvmlDeviceAddressingMode_v1_t>() | (1 << 24)) as u32;
    let mut mode = nvmlDeviceAddressingMode_v1_t { version, value: 0 };
    // SAFETY: `get` has the signature nvml.h declares; the device handle comes from this `nvml`,
    // which is still initialised; `mode` is a valid, versioned struct that outlives the call.
    unsafe { nvml_try(get(device.handle(), &mut mode))? };
    Ok(mode.value)
}

/// A text field; an empty string (what NVML gives for some fields a GPU lacks) counts as
/// not supported.
fn text(result: Result<String, NvmlError>) -> Field<String> {
    match field(result) {
        Ok(s) if s.trim().is_empty() => Err(Unavailable::NotSupported),
        Ok(s) => Ok(s.trim().to_owned()),
        Err(e) => Err(e),
    }
}
