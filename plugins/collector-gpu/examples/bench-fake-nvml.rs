//! Benchmark: how long a GPU collection takes for 1 and for 8 GPUs when every NVML call takes a
//! fixed time, against the fake NVML (`tests/fixtures/fake-nvml`) with its per-call latency.
//! Two ways of reading are timed on the same library, interleaved run by run:
//!
//! - sequential (before): the GPUs read one after another on one thread, as the collector did
//!   before it read them concurrently (`reader::read_gpu` per index, then the mapping);
//! - concurrent (after): the collector as it is (`collect_with`: NVML init, the GPUs read
//!   concurrently, the mapping, shutdown).
//!
//! Prints the medians of RUNS runs in milliseconds and the 8-GPU / 1-GPU ratio of each (goal for
//! the concurrent read: at most 1.5).
//!
//!   cargo build -p fixture-fake-nvml
//!   cargo run -p eidos-collector-gpu --example bench-fake-nvml -- [FAKE_NVML] [RUNS] [LATENCY_US]
//!
//! FAKE_NVML defaults to the fixture built beside this example (`target/<profile>/
//! libfixture_fake_nvml.so`), RUNS to 50, LATENCY_US to 1000 (1 ms per NVML call).

use eidos_collector_gpu::{collect_with, library, mapping, reader};
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::Outcome;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GPU_COUNTS: [u32; 2] = [1, 8];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-fake-nvml: {message}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let lib = match args.next() {
        Some(path) => PathBuf::from(path),
        None => default_fake()?,
    };
    let runs = positive(args.next(), "RUNS", 50)?;
    let latency_us = positive(args.next(), "LATENCY_US", 1000)?;
    let path = lib
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", lib.display()))?
        .to_owned();

    // Loaded here to configure it; NVML's loader opens the same file and so shares its state.
    // SAFETY: the fixture runs no initialisers; the functions called have these signatures.
    let fake = unsafe { libloading::Library::new(&lib) }
        .map_err(|e| format!("cannot load {}: {e}", lib.display()))?;
    let configure = |gpus: u32| -> Result<(), String> {
        // SAFETY: both functions exist in the fixture with these signatures.
        unsafe {
            let set_count: libloading::Symbol<unsafe extern "C" fn(u32, u32)> = fake
                .get(b"fake_nvml_configure")
                .map_err(|e| format!("{} is not the fake NVML: {e}", lib.display()))?;
            set_count(gpus, 0);
            let set_latency: libloading::Symbol<unsafe extern "C" fn(u32)> = fake
                .get(b"fake_nvml_set_latency_us")
                .map_err(|e| format!("{} is not the fake NVML: {e}", lib.display()))?;
            set_latency(latency_us as u32);
        }
        Ok(())
    };

    let mut medians = Vec::new();
    for gpus in GPU_COUNTS {
        configure(gpus)?;
        let (mut sequential, mut concurrent) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            read_sequentially(&path, gpus)?;
            sequential.push(t.elapsed());
            let t = Instant::now();
            read_concurrently(&path, gpus)?;
            concurrent.push(t.elapsed());
        }
        medians.push((gpus, median(sequential), median(concurrent)));
    }

    println!(
        "fake NVML {}, {latency_us} us per NVML call, median of {runs} runs:",
        lib.display()
    );
    println!("  GPUs   sequential (before)   concurrent (after)");
    for (gpus, sequential, concurrent) in &medians {
        println!("  {gpus:>4}   {sequential:>15.1} ms   {concurrent:>15.1} ms");
    }
    if let [(_, seq_one, con_one), (_, seq_eight, con_eight)] = medians[..] {
        println!(
            "  8 GPUs / 1 GPU: sequential {:.2}x, concurrent {:.2}x (goal <= 1.5x)",
            seq_eight / seq_one,
            con_eight / con_one
        );
    }
    Ok(())
}

/// The fixture built beside this example: target/<profile>/examples/<exe> → target/<profile>.
fn default_fake() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let lib = exe
        .ancestors()
        .nth(2)
        .unwrap_or(Path::new("."))
        .join("libfixture_fake_nvml.so");
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!(
            "{} is missing: run `cargo build -p fixture-fake-nvml` first, or name the library",
            lib.display()
        ))
    }
}

fn positive(arg: Option<String>, name: &str, default: u64) -> Result<u64, String> {
    match arg {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 && n <= u64::from(u32::MAX) => Ok(n),
            _ => Err(format!(
                "{name} must be a positive whole number, got {text:?}"
            )),
        },
    }
}

/// One GPU after another on this thread, then the mapping.
fn read_sequentially(path: &str, gpus: u32) -> Result<(), String> {
    let nvml = library::open(path).map_err(|e| e.to_string())?;
    let system = reader::read_system(&nvml).map_err(|e| e.to_string())?;
    let facts: Vec<_> = (0..system.gpu_count)
        .map(|index| reader::read_gpu(&nvml, index, false, &|| false))
        .collect();
    nvml.shutdown().map_err(|e| e.to_string())?;
    let subtypes = mapping::map_all(&system, &facts).subtypes.len();
    expect_subtypes(subtypes, gpus)
}

/// The collector's own path.
fn read_concurrently(path: &str, gpus: u32) -> Result<(), String> {
    let test = TestContext::new()
        .option("nvml", path)
        .timeout(Duration::from_secs(60));
    match collect_with(path, false, &test.context()) {
        Ok(Outcome::Collected(c)) => expect_subtypes(c.measurements[0].subtypes.len(), gpus),
        other => Err(format!("the collector did not collect: {other:?}")),
    }
}

/// The summary and one subtype per GPU, or the run measured something else.
fn expect_subtypes(subtypes: usize, gpus: u32) -> Result<(), String> {
    if subtypes == gpus as usize + 1 {
        Ok(())
    } else {
        Err(format!("expected {} subtypes, got {subtypes}", gpus + 1))
    }
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    let n = samples.len();
    let mid = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    mid.as_secs_f64() * 1000.0
}
