//! The `gpu` collector plugin: NVIDIA GPUs read in-process through NVML (`nvml-wrapper`).
//!
//! The measurement has a summary subtype, `smi` (named and keyed as the Go tool's, which parsed
//! `nvidia-smi -q -x`: `driver`, `cuda-version`, `gpu-count`, `gpu.model`, …, plus `nvml-version`),
//! and one subtype per GPU, `gpu-INDEX`, with its identity, modes, limits, clocks, PCIe and NVLink.
//!
//! NVML is loaded from `libnvidia-ml.so.1` (or `--set gpu.nvml=PATH`), initialised once per
//! collection and shut down at its end. No library, a library that is not NVML, no driver, or no
//! GPUs is "not applicable", with NVML's reason. A query this GPU or driver does not support is
//! left out; a query that fails is left out with a warning. Neither stops the collection.
//! The GPUs are read concurrently ([`concurrent`], at most [`MAX_READER_THREADS`] at a time); the
//! subtypes and warnings come out in NVML's index order, as a read one GPU after another gives.

pub mod concurrent;
pub mod facts;
pub mod library;
pub mod mapping;
pub mod reader;

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, OptionDecl,
    Outcome,
};
use library::OpenError;

/// Collects the GPU measurement.
pub struct GpuCollector;

impl Collector for GpuCollector {
    const NAME: &'static str = "gpu";
    const DESCRIPTION: &'static str =
        "NVIDIA GPUs through NVML: driver, CUDA, and per GPU identity, modes, limits, PCIe, NVLink";
    const OPTION_SPECS: &'static [OptionDecl] = &[
        OptionDecl::string(
            "nvml",
            "NVML library to load: a path, or a file name the loader finds",
        )
        .with_default(library::DEFAULT_LIBRARY),
        OptionDecl::bool("serials", "also collect board serial numbers").with_default("false"),
    ];

    /// Per-GPU identities: UUIDs (MIG devices' included) and board serial numbers.
    const SENSITIVE_KEYS: &'static [&'static str] =
        &["gpu/*/uuid", "gpu/*/mig-device.*.uuid", "gpu/*/serial"];
    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        let library = match ctx.option("nvml") {
            Some(path) if path.trim().is_empty() => {
                return Err(CollectError::InvalidOption {
                    key: "nvml".into(),
                    value: path.into(),
                    expected: "a path or file name of the NVML library".into(),
                })
            }
            Some(path) => path,
            None => library::DEFAULT_LIBRARY,
        };
        let serials = ctx.option_bool("serials")?.unwrap_or(false);
        collect_with(library, serials, ctx)
    }
}

/// Collects through the NVML library at `library`.
pub fn collect_with(
    library: &str,
    serials: bool,
    ctx: &CollectContext<'_>,
) -> Result<Outcome, CollectError> {
    let nvml = match library::open(library) {
        Ok(nvml) => nvml,
        Err(OpenError::NotApplicable(reason)) => {
            tracing::debug!(%reason, "gpu collector not applicable");
            return Ok(Outcome::not_applicable(reason));
        }
        Err(OpenError::Failed(reason)) => return Err(CollectError::Failed(reason)),
    };
    let read = read_all(&nvml, serials, ctx);
    // Shut down on every path, cancellation included; a failed shutdown loses nothing read.
    let shutdown = nvml.shutdown();
    let (system, gpus) = read?;
    if system.gpu_count == 0 {
        return Ok(Outcome::not_applicable(format!(
            "NVML ({library}) found no GPUs"
        )));
    }
    let mut mapped = mapping::map_all(&system, &gpus);
    if let Err(error) = shutdown {
        mapped
            .warnings
            .push(format!("NVML shutdown failed: {error}"));
    }
    Ok(Outcome::Collected(Collection {
        measurements: vec![Measurement::new(MeasurementType::Gpu, mapped.subtypes)],
        warnings: mapped.warnings,
    }))
}

fn read_all(
    nvml: &nvml_wrapper::Nvml,
    serials: bool,
    ctx: &CollectContext<'_>,
) -> Result<(facts::SystemFacts, Vec<facts::GpuFacts>), CollectError> {
    let system = reader::read_system(nvml)
        .map_err(|e| CollectError::failed(format!("NVML could not count the GPUs: {e}")))?;
    if system.gpu_count > MAX_GPUS {
        return Err(CollectError::failed(format!(
            "NVML reports {} GPUs, more than the {MAX_GPUS} a node can have: is gpu.nvml a real NVML library?",
            system.gpu_count
        )));
    }
    let gpus = read_gpus(nvml, system.gpu_count, serials, ctx)?;
    Ok((system, gpus))
}

/// The most GPUs a collection accepts from NVML's count; more means the library is not a real
/// NVML, and reading them would hold that many GPUs' values in memory.
pub const MAX_GPUS: u32 = 1024;

/// The most GPUs read at the same time. Eight-GPU nodes are the norm and sixteen the most seen;
/// the bound keeps a library reporting an absurd GPU count from starting as many threads.
pub const MAX_READER_THREADS: usize = 16;

/// Reads every GPU, up to [`MAX_READER_THREADS`] at a time: each NVML query is a round trip to
/// the driver (about 20 ms for all of one H200's queries), and NVML is thread-safe, so the GPUs'
/// reads overlap instead of adding up. The results keep NVML's index order. Cancellation is
/// checked before each GPU and before its per-link and per-MIG sweeps; the collection returns
/// `Cancelled` if it was asked to stop. A GPU whose reader thread panicked is reported with that
/// failure; the others are read on.
fn read_gpus(
    nvml: &nvml_wrapper::Nvml,
    count: u32,
    serials: bool,
    ctx: &CollectContext<'_>,
) -> Result<Vec<facts::GpuFacts>, CollectError> {
    ctx.check_cancelled()?;
    let cancelled = || ctx.is_cancelled();
    let results = concurrent::read_in_index_order(count, MAX_READER_THREADS, cancelled, |index| {
        reader::read_gpu(nvml, index, serials, &cancelled)
    });
    ctx.check_cancelled()?;
    Ok((0..count)
        .zip(results)
        .map(|(index, gpu)| {
            gpu.unwrap_or_else(|| {
                let mut lost = facts::GpuFacts::unsupported(index);
                lost.name = Err(facts::Unavailable::Failed(
                    "reading this GPU panicked".to_owned(),
                ));
                lost
            })
        })
        .collect())
}

eidos_plugin_api::export_collector!(GpuCollector);
