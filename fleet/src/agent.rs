//! The node agent: run a round, wait, repeat, until told to stop.
//!
//! A round is one child process (the CLI passes `eidos snapshot … --output cm://…`, the same
//! binary and code path as a one-shot snapshot). The agent itself loads no plugin and holds no
//! collector thread: a collector that hangs, leaks or crashes takes its round's process down with
//! it, and the agent's threads and memory stay what they were. The child runs in a process group
//! of its own and the whole group is killed when the round overruns its time or the agent stops.
//!
//! A failed round is logged and retried after a backoff of [`RETRY_BASE`] · 2^(n−1) for the n-th
//! failure in a row, never more than the interval, so that a broken node never spins. Liveness is
//! a tiny HTTP endpoint ([`serve_health`]): `GET /healthz` answers `200` while the loop keeps
//! turning (its last step was recent) and `503` once it has stalled.

use serde::Serialize;
use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The first retry's delay after a failed round (doubled for each further failure in a row).
pub const RETRY_BASE: Duration = Duration::from_secs(10);
/// How much later than expected the loop may be before `/healthz` reports it stalled.
pub const HEALTH_SLACK: Duration = Duration::from_secs(60);

/// What the agent runs and how often.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The program each round runs (the `eidos` binary itself).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The wait between the end of a successful round and the start of the next.
    pub interval: Duration,
    /// The most a round may take before its process group is killed.
    pub round_timeout: Duration,
    /// Stop after this many rounds (`None`: run until stopped).
    pub rounds: Option<u64>,
}

/// The agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The health endpoint could not listen.
    #[error("cannot listen for health checks on {addr}: {error}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// The last round of a bounded run (`rounds`) failed.
    #[error("the last round failed: {0}")]
    LastRoundFailed(String),
}

/// The loop's state, as `/healthz` reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Rounds finished, successful or not.
    pub rounds: u64,
    /// Successful rounds.
    pub successes: u64,
    /// Failed rounds in a row (0 after a success).
    pub failures_in_a_row: u32,
    /// The last round's failure, if it failed.
    pub last_error: Option<String>,
    /// When the last round succeeded (RFC 3339-ish seconds since the epoch).
    pub last_success_unix: Option<u64>,
    #[serde(skip)]
    next_step_due: Instant,
}

/// The loop's state, shared with the health endpoint.
#[derive(Debug, Clone)]
pub struct HealthState(Arc<Mutex<Health>>);

impl HealthState {
    fn new(due: Instant) -> Self {
        HealthState(Arc::new(Mutex::new(Health {
            rounds: 0,
            successes: 0,
            failures_in_a_row: 0,
            last_error: None,
            last_success_unix: None,
            next_step_due: due,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Health> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the state now.
    pub fn snapshot(&self) -> Health {
        self.lock().clone()
    }

    /// Whether the loop is turning: its next step is not overdue by more than [`HEALTH_SLACK`].
    pub fn is_alive(&self) -> bool {
        Instant::now() <= self.lock().next_step_due + HEALTH_SLACK
    }
}

/// How one round ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundOutcome {
    /// The child exited 0.
    Succeeded,
    /// The child failed, could not start, or overran.
    Failed(String),
}

/// The delay before retrying after `failures` failed rounds in a row: [`RETRY_BASE`] ·
/// 2^(failures−1), at most `interval`.
pub fn retry_delay(failures: u32, interval: Duration) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1));
    RETRY_BASE.saturating_mul(factor).min(interval)
}

/// Runs rounds until `shutdown` completes (or `config.rounds` are done). Rounds that fail are
/// logged and retried; only a bounded run whose last round failed returns an error.
pub async fn run(
    config: &AgentConfig,
    health: Option<SocketAddr>,
    shutdown: impl Future<Output = ()>,
) -> Result<Health, AgentError> {
    let state = HealthState::new(Instant::now() + config.round_timeout);
    let server = match health {
        Some(addr) => Some(serve_health(addr, state.clone()).await?),
        None => None,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last = RoundOutcome::Succeeded;
    let mut round = 0u64;
    loop {
        round += 1;
        state.lock().next_step_due = Instant::now() + config.round_timeout;
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = run_round(config) => outcome,
            () = &mut shutdown => {
                tracing::info!(round, "stopping: the round in progress was ended");
                break;
            }
        };
        let wait = {
            let mut h = state.lock();
            h.rounds += 1;
            match &outcome {
                RoundOutcome::Succeeded => {
                    h.successes += 1;
                    h.failures_in_a_row = 0;
                    h.last_error = None;
                    h.last_success_unix = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .map(|d| d.as_secs());
                    tracing::info!(round, elapsed = ?started.elapsed(), "round succeeded");
                    config.interval
                }
                RoundOutcome::Failed(why) => {
                    h.failures_in_a_row = h.failures_in_a_row.saturating_add(1);
                    h.last_error = Some(why.clone());
                    let wait = retry_delay(h.failures_in_a_row, config.interval);
                    tracing::warn!(
                        round,
                        failures_in_a_row = h.failures_in_a_row,
                        retry_in = ?wait,
                        "round failed: {why}"
                    );
                    wait
                }
            }
        };
        last = outcome;
        if config.rounds.is_some_and(|n| round >= n) {
            break;
        }
        state.lock().next_step_due = Instant::now() + wait;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => {
                tracing::info!("stopping");
                break;
            }
        }
    }
    if let Some(server) = server {
        server.abort();
    }
    let health = state.snapshot();
    match last {
        RoundOutcome::Failed(why) if config.rounds.is_some() => {
            Err(AgentError::LastRoundFailed(why))
        }
        _ => Ok(health),
    }
}

/// Runs one round's child process to its end, or kills its process group when it overruns.
pub async fn run_round(config: &AgentConfig) -> RoundOutcome {
    let mut command = tokio::process::Command::new(&config.program);
    command
        .args(&config.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // The child's log lines go where the agent's go (the pod's log).
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return RoundOutcome::Failed(format!("cannot start {}: {e}", config.program.display()))
        }
    };
    // Declared after `child`, so dropped first: the group is killed while its leader is not yet
    // reaped, and its id cannot have been reused by then.
    let mut guard = GroupKiller(child.id());
    let result = tokio::time::timeout(config.round_timeout, child.wait()).await;
    match result {
        Ok(Ok(status)) => {
            // Reaped: the group id may be free for reuse now, so it is not signalled any more
            // (a finished `eidos snapshot` has waited for its own children).
            guard.0 = None;
            describe_exit(status)
        }
        Ok(Err(e)) => RoundOutcome::Failed(format!("waiting for the round's process: {e}")),
        Err(_) => {
            drop(guard);
            // Reap it, so that no zombie is left behind.
            let _ = child.wait().await;
            RoundOutcome::Failed(format!(
                "the round did not finish within {:?}; its processes were killed",
                config.round_timeout
            ))
        }
    }
}

/// Kills a round's process group (SIGKILL) when dropped: on overrun and on shutdown (the round's
/// future is dropped), children of the round included.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            // ESRCH (the group is already empty) is the usual, fine answer.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

fn describe_exit(status: ExitStatus) -> RoundOutcome {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        RoundOutcome::Succeeded
    } else if let Some(code) = status.code() {
        RoundOutcome::Failed(format!(
            "the round's eidos snapshot exited with code {code} (its messages are logged above)"
        ))
    } else {
        RoundOutcome::Failed(format!(
            "the round's eidos snapshot was killed by signal {}",
            status.signal().unwrap_or_default()
        ))
    }
}

/// Serves `GET /healthz` on `addr` in a task of the current runtime: `200` and the state as JSON
/// while the loop is alive, `503` once it has stalled. Returns the task.
pub async fn serve_health(
    addr: SocketAddr,
    state: HealthState,
) -> Result<tokio::task::JoinHandle<()>, AgentError> {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| AgentError::Listen { addr, error })?;
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let state = state.clone();
            async move {
                let code = if state.is_alive() {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (code, axum::Json(state.snapshot())).into_response()
            }
        }),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the health endpoint stopped: {e}");
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_never_wait_longer_than_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, hour), Duration::from_secs(10));
        assert_eq!(retry_delay(2, hour), Duration::from_secs(20));
        assert_eq!(retry_delay(5, hour), Duration::from_secs(160));
        assert_eq!(retry_delay(20, hour), hour);
        assert_eq!(retry_delay(u32::MAX, hour), hour);
        assert_eq!(
            retry_delay(1, Duration::from_millis(50)),
            Duration::from_millis(50)
        );
    }

    fn config(script: &str, timeout: Duration, rounds: u64) -> AgentConfig {
        AgentConfig {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            interval: Duration::from_millis(1),
            round_timeout: timeout,
            rounds: Some(rounds),
        }
    }

    #[tokio::test]
    async fn rounds_run_and_failures_are_counted() {
        let ok = run(
            &config("exit 0", Duration::from_secs(30), 3),
            None,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!((ok.rounds, ok.successes), (3, 3));
        let err = run(
            &config("exit 7", Duration::from_secs(30), 2),
            None,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("exited with code 7"), "{err}");
    }

    /// Whether process `pid` is gone or a zombie (killed, waiting to be reaped by its parent).
    fn is_dead(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn an_overrunning_round_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let outcome = run_round(&config(&script, Duration::from_millis(500), 1)).await;
        assert!(
            matches!(&outcome, RoundOutcome::Failed(w) if w.contains("did not finish")),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_dead(pid) {
            assert!(
                Instant::now() < deadline,
                "the round's grandchild {pid} outlived it"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn shutdown_ends_the_round_in_progress() {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = AgentConfig {
            rounds: None,
            ..config("sleep 30", Duration::from_secs(60), 1)
        };
        let agent = tokio::spawn(async move {
            run(&config, None, async {
                let _ = stopped.await;
            })
            .await
        });
        let _ = stop.send(());
        let health = tokio::time::timeout(Duration::from_secs(10), agent)
            .await
            .expect("the agent stopped")
            .unwrap()
            .unwrap();
        assert_eq!(health.rounds, 0);
    }
}
