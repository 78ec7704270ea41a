//! Running the selected collectors at the same time.
//!
//! Each collector runs on its own OS thread (plugin calls block), and the async side waits for its
//! answer with a timeout. A collector that times out is asked to stop through its cancellation flag;
//! its thread is left behind (the process exits soon after) rather than waited for. In fail-fast
//! mode the first failure cancels every collector still running.
//!
//! An executable collector (`exec.rs`) is a child process: its thread kills the process group when
//! its flag is set, so before `run` returns every such thread is told to stop and waited for; no
//! collector process outlives the run.

use super::loader::LoadedPlugin;
use eidos_plugin_api::model::{CollectorReport, CollectorStatus};
use eidos_plugin_api::wire::{CollectRequest, CollectResponse};
use eidos_plugin_api::{Measurement, PLUGIN_API_VERSION};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// One collector to run, with its options.
#[derive(Debug, Clone)]
pub struct Job {
    /// The loaded collector plugin.
    pub plugin: LoadedPlugin,
    /// Its options (`--set NAME.KEY=VALUE`), already validated.
    pub options: BTreeMap<String, String>,
    /// The time it gets.
    pub timeout: Duration,
    /// It must succeed: "not applicable" counts as a failure too.
    pub required: bool,
}

/// How collectors are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep going after a failure (otherwise the first failure cancels the rest).
    pub best_effort: bool,
    /// The host root prefix passed to collectors.
    pub host_root: String,
}

/// A collector's answer, or the lack of one.
enum Answer {
    /// It answered.
    Response(CollectResponse),
    /// It did not answer within the timeout.
    TimedOut,
}

/// What one collector produced.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// The collector's name.
    pub name: String,
    /// Its status record for the snapshot metadata.
    pub report: CollectorReport,
    /// Its measurements (empty unless ok).
    pub measurements: Vec<Measurement>,
    /// It failed because an option value was invalid (a usage error).
    pub invalid_option: bool,
    /// It was required.
    pub required: bool,
}

impl JobResult {
    /// Whether this result makes the run fail: failed or timed out, or a required collector that
    /// is not applicable.
    pub fn is_failure(&self) -> bool {
        match self.report.status {
            CollectorStatus::Failed | CollectorStatus::TimedOut => true,
            CollectorStatus::NotApplicable => self.required,
            _ => false,
        }
    }
}

/// Runs `jobs` concurrently and returns one result per job, in the order given.
pub async fn run(jobs: Vec<Job>, settings: &RunOptions) -> Vec<JobResult> {
    let started = Instant::now();
    let flags: Vec<Arc<AtomicBool>> = jobs
        .iter()
        .map(|_| Arc::new(AtomicBool::new(false)))
        .collect();
    let mut results: Vec<Option<JobResult>> = vec![None; jobs.len()];
    let mut set = JoinSet::new();
    let child_threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>> = Arc::default();

    for (index, job) in jobs.iter().enumerate() {
        let request = CollectRequest {
            api_version: PLUGIN_API_VERSION.to_owned(),
            options: job.options.clone(),
            host_root: settings.host_root.clone(),
            timeout_ms: u64::try_from(job.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let plugin = job.plugin.clone();
        let flag = Arc::clone(&flags[index]);
        let timeout = job.timeout;
        let child_threads = Arc::clone(&child_threads);
        set.spawn(async move {
            let begun = Instant::now();
            let (tx, rx) = oneshot::channel();
            let thread_flag = Arc::clone(&flag);
            let runs_a_child = plugin.is_executable();
            let spawned = std::thread::Builder::new()
                .name(format!("collector-{}", plugin.manifest.name))
                .spawn(move || {
                    let response = plugin.collect(&request, &thread_flag);
                    let _ = tx.send(response);
                });
            let outcome = match spawned {
                Err(e) => Answer::Response(CollectResponse::error(format!(
                    "cannot start a thread: {e}"
                ))),
                Ok(handle) => {
                    if runs_a_child {
                        if let Ok(mut threads) = child_threads.lock() {
                            threads.push(handle);
                        }
                    }
                    match tokio::time::timeout(timeout, rx).await {
                        Ok(Ok(response)) => Answer::Response(response),
                        Ok(Err(_closed)) => Answer::Response(CollectResponse::error(
                            "the collector thread ended without an answer".to_owned(),
                        )),
                        Err(_elapsed) => {
                            flag.store(true, Ordering::Relaxed);
                            Answer::TimedOut
                        }
                    }
                }
            };
            (index, outcome, begun.elapsed())
        });
    }

    let mut first_failure: Option<String> = None;
    while let Some(joined) = set.join_next().await {
        let Ok((index, outcome, elapsed)) = joined else {
            continue;
        };
        let job = &jobs[index];
        let result = to_result(job, outcome, elapsed);
        let failed = result.is_failure();
        if failed {
            tracing::debug!(collector = %result.name, "collector failed");
        }
        results[index] = Some(result);
        if failed && !settings.best_effort {
            first_failure = Some(job.plugin.manifest.name.clone());
            break;
        }
    }

    if let Some(failed) = first_failure {
        for flag in &flags {
            flag.store(true, Ordering::Relaxed);
        }
        set.abort_all();
        let elapsed = started.elapsed();
        for (index, slot) in results.iter_mut().enumerate() {
            if slot.is_none() {
                let job = &jobs[index];
                *slot = Some(JobResult {
                    name: job.plugin.manifest.name.clone(),
                    report: report(
                        CollectorStatus::Cancelled,
                        Some(format!("cancelled because collector {failed} failed first")),
                        elapsed,
                        job,
                    ),
                    measurements: Vec::new(),
                    invalid_option: false,
                    required: job.required,
                });
            }
        }
    }
    stop_child_processes(&flags, &child_threads);
    results.into_iter().flatten().collect()
}

/// Tells every collector still running to stop and waits for the threads of executable collectors:
/// each kills its process group as soon as it sees its flag (within milliseconds), so the wait is
/// short, and afterwards no collector process is left. (A library collector's thread cannot be
/// stopped from outside; it is left behind, as the module doc says.)
fn stop_child_processes(
    flags: &[Arc<AtomicBool>],
    threads: &Mutex<Vec<std::thread::JoinHandle<()>>>,
) {
    for flag in flags {
        flag.store(true, Ordering::Relaxed);
    }
    let handles = match threads.lock() {
        Ok(mut threads) => std::mem::take(&mut *threads),
        Err(_) => return,
    };
    for handle in handles {
        let _ = handle.join();
    }
}

fn to_result(job: &Job, outcome: Answer, elapsed: Duration) -> JobResult {
    let name = job.plugin.manifest.name.clone();
    let mut bad_option = false;
    let (status, reason, warnings, measurements) = match outcome {
        Answer::Response(CollectResponse::Ok {
            measurements,
            warnings,
        }) => (CollectorStatus::Ok, None, warnings, measurements),
        Answer::Response(CollectResponse::NotApplicable { reason }) => (
            CollectorStatus::NotApplicable,
            Some(reason),
            Vec::new(),
            Vec::new(),
        ),
        Answer::Response(CollectResponse::Error {
            message,
            invalid_option,
        }) => {
            bad_option = invalid_option;
            (
                CollectorStatus::Failed,
                Some(message),
                Vec::new(),
                Vec::new(),
            )
        }
        Answer::TimedOut => (
            CollectorStatus::TimedOut,
            Some(format!(
                "no answer within {}",
                humantime::format_duration(job.timeout)
            )),
            Vec::new(),
            Vec::new(),
        ),
    };
    let mut rep = report(status, reason, elapsed, job);
    rep.warnings = warnings;
    JobResult {
        name,
        report: rep,
        measurements,
        invalid_option: bad_option,
        required: job.required,
    }
}

fn report(
    status: CollectorStatus,
    reason: Option<String>,
    elapsed: Duration,
    job: &Job,
) -> CollectorReport {
    CollectorReport {
        status,
        reason,
        warnings: Vec::new(),
        duration_ms: (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        plugin_version: job.plugin.manifest.version.clone(),
    }
}
