//! Prints where the time of a GPU collection goes, against the real NVML: loading the library
//! (dlopen and nvml-wrapper's symbol table), `nvmlInit_v2`, the node-wide queries, reading each
//! GPU (and its NVLink sweep alone), and `nvmlShutdown`; then each per-GPU query on GPU 0 alone
//! (first calls after a fresh init), slowest first. Medians of N runs (default 10), in
//! milliseconds. Used by `scripts/gpu-check.sh` to explain the eidos timing.
//!
//!   nvml-phases [LIBRARY] [RUNS]      (default libnvidia-ml.so.1, 10)

use eidos_collector_gpu::{library, reader};
use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::{Device, Nvml};
use std::time::{Duration, Instant};

/// Times one call of each query the collector makes for a GPU (results discarded).
fn time_queries(nvml: &Nvml, device: &Device<'_>, into: &mut Vec<(&'static str, Vec<Duration>)>) {
    macro_rules! timed {
        ($($name:literal => $call:expr),* $(,)?) => {{
            let mut i = 0;
            $(
                let t = Instant::now();
                let _ = std::hint::black_box($call);
                let took = t.elapsed();
                if into.len() <= i {
                    into.push(($name, Vec::new()));
                }
                into[i].1.push(took);
                i += 1;
            )*
            let _ = i;
        }};
    }
    timed! {
        "name" => device.name(),
        "architecture" => device.architecture(),
        "uuid" => device.uuid(),
        "pci_info" => device.pci_info(),
        "vbios_version" => device.vbios_version(),
        "gsp_firmware_version" => device.gsp_firmware_version(),
        "gsp_firmware_mode" => device.gsp_firmware_mode(),
        "persistence_mode" => device.is_in_persistent_mode(),
        "display_mode" => device.is_display_connected(),
        "display_active" => device.is_display_active(),
        "mig_mode" => device.mig_mode(),
        "ecc_mode" => device.is_ecc_enabled(),
        "compute_mode" => device.compute_mode(),
        "cuda_compute_capability" => device.cuda_compute_capability(),
        "memory_info" => device.memory_info(),
        "power_limit" => device.power_management_limit(),
        "power_limit_default" => device.power_management_limit_default(),
        "power_limit_constraints" => device.power_management_limit_constraints(),
        "max_clock graphics" => device.max_clock_info(Clock::Graphics),
        "max_clock sm" => device.max_clock_info(Clock::SM),
        "max_clock memory" => device.max_clock_info(Clock::Memory),
        "max_clock video" => device.max_clock_info(Clock::Video),
        "max_pcie_link_gen" => device.max_pcie_link_gen(),
        "current_pcie_link_gen" => device.current_pcie_link_gen(),
        "max_pcie_link_width" => device.max_pcie_link_width(),
        "current_pcie_link_width" => device.current_pcie_link_width(),
        "nvlink 0 state" => device.link_wrapper_for(0).is_active(),
        "addressing_mode" => reader::addressing_mode(nvml, device),
        "device_by_index" => nvml.device_by_index(0),
    }
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let mid = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    mid.as_secs_f64() * 1000.0
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let lib = args
        .next()
        .unwrap_or_else(|| library::DEFAULT_LIBRARY.to_owned());
    let runs: usize = match args.next().map(|r| r.parse()) {
        None => 10,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("nvml-phases: RUNS must be a positive number");
            return std::process::ExitCode::from(2);
        }
    };
    let phases = [
        "load library + symbols",
        "nvmlInit_v2 (open + init)",
        "node-wide queries",
        "read all GPUs (sequential)",
        "NVLink sweeps alone (again)",
        "nvmlShutdown",
        "total (without the extra sweep)",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); phases.len()];
    let mut gpus = 0;
    let mut queries: Vec<(&'static str, Vec<Duration>)> = Vec::new();
    for _ in 0..runs {
        // Loading alone: dlopen and nvml-wrapper's symbol lookups, without nvmlInit.
        let t = Instant::now();
        // SAFETY: loading NVML runs no initialisers that need arguments; the table is dropped
        // without calling any function.
        let loaded = unsafe { nvml_wrapper_sys::bindings::NvmlLib::new(&lib) };
        samples[0].push(t.elapsed());
        if let Err(e) = loaded {
            eprintln!("nvml-phases: cannot load {lib}: {e}");
            return std::process::ExitCode::from(1);
        }
        drop(loaded);

        let total = Instant::now();
        let t = Instant::now();
        let nvml = match library::open(&lib) {
            Ok(nvml) => nvml,
            Err(e) => {
                eprintln!("nvml-phases: {e}");
                return std::process::ExitCode::from(1);
            }
        };
        samples[1].push(t.elapsed());
        let t = Instant::now();
        let system = match reader::read_system(&nvml) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("nvml-phases: cannot count GPUs: {e}");
                return std::process::ExitCode::from(1);
            }
        };
        samples[2].push(t.elapsed());
        gpus = system.gpu_count;
        let t = Instant::now();
        for index in 0..system.gpu_count {
            std::hint::black_box(reader::read_gpu(&nvml, index, false, &|| false));
        }
        samples[3].push(t.elapsed());
        let t = Instant::now();
        for index in 0..system.gpu_count {
            if let Ok(device) = nvml.device_by_index(index) {
                for link in 0..nvml_wrapper_sys::bindings::NVML_NVLINK_MAX_LINKS {
                    if device.link_wrapper_for(link).is_active().is_err() {
                        break;
                    }
                }
            }
        }
        samples[4].push(t.elapsed());
        let t = Instant::now();
        if let Err(e) = nvml.shutdown() {
            eprintln!("nvml-phases: shutdown failed: {e}");
        }
        samples[5].push(t.elapsed());
        let sweep = samples[4].last().copied().unwrap_or_default();
        samples[6].push(total.elapsed().saturating_sub(sweep));

        // A fresh init for the per-query timings, so that they are first (uncached) calls as in
        // a collection.
        if let Ok(nvml) = library::open(&lib) {
            if let Ok(device) = nvml.device_by_index(0) {
                time_queries(&nvml, &device, &mut queries);
            }
            let _ = nvml.shutdown();
        }
    }
    println!("NVML phases ({lib}, {gpus} GPU(s)), median of {runs} runs:");
    for (name, s) in phases.iter().zip(samples) {
        println!("  {name:<30} {:>9.3} ms", median(s));
    }
    let mut per_query: Vec<(&str, f64)> = queries
        .into_iter()
        .map(|(name, s)| (name, median(s)))
        .collect();
    per_query.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("Per query on GPU 0, slowest first (median of {runs}):");
    for (name, ms) in per_query {
        println!("  {name:<30} {ms:>9.3} ms");
    }
    std::process::ExitCode::SUCCESS
}
