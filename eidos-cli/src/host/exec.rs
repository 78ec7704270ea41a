//! Executable collectors: a collector written in any language, as a program.
//!
//! An executable file named `eidos-collector-NAME` in a plugin directory is collector `NAME`. It is
//! found, checked and locked like a library plugin (`discovery.rs`, `security.rs`, `lock.rs`):
//!
//! 1. The file is opened once and the descriptor checked (ownership, permissions, every directory
//!    up to `/`); it must have an execute bit.
//! 2. With a lock in force, its file name must be listed and the SHA-256 of its bytes must match.
//! 3. The bytes, read once from that descriptor, are copied into a sealed memfd (`sealed.rs`), and
//!    every run executes that copy through `/proc/self/fd/N`: what was checked and hashed is what
//!    runs, whatever happens to the file afterwards. (A `#!` script's interpreter is looked up on
//!    the fixed `PATH` below and reads the script from the same sealed copy; a program must not
//!    rely on its own path.)
//! 4. `eidos-collector-NAME --manifest` prints its manifest (the library manifest's JSON); its kind
//!    and name must match the file name, its API major version the host's, and, under a lock, the
//!    locked name, kind, version and API version.
//!
//! A collect run writes the collect request (`wire.rs`) as JSON to the program's standard input and
//! reads the collect response as JSON from its standard output, at most [`MAX_RESPONSE_BYTES`].
//! Lines on standard error are its log, re-emitted through `tracing` with `collector=NAME`.
//!
//! Each run starts without a shell, with an empty environment but for [`ENVIRONMENT`], in `/`, in a
//! process group of its own. When the program exits, when its time is up or the run is cancelled,
//! or when its answer is too large, the whole group is killed with `SIGKILL` (children that stay
//! in the group do not outlive the run) before the program is reaped, so the group id cannot have
//! been reused. The program also gets `SIGKILL` if the host dies.

use super::discovery::{normalize_name, Candidate};
use super::files::{read_capped, ReadError};
use super::loader::{
    check_against_lock, locked_entry, LoadError, LoadPolicy, LoadedPlugin, MAX_PLUGIN_BYTES,
};
use super::lock::sha256_hex;
use super::sealed::SealedCopy;
use super::security::open_plugin;
use eidos_plugin_api::wire::{CollectRequest, CollectResponse};
use eidos_plugin_api::{Manifest, PluginKind, PLUGIN_API_VERSION};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The file-name prefix of an executable collector.
pub const FILE_PREFIX: &str = "eidos-collector-";

/// The whole environment an executable collector gets; nothing of the caller's passes through
/// (no proxies, credentials, `HOME`, `LD_*` or locale). `PATH` is fixed, so that a `#!` line's
/// interpreter is found in the system's directories only.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("LANG", "C"),
    ("LC_ALL", "C"),
];

/// How long `--manifest` may take.
pub const MANIFEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest manifest read from `--manifest` (1 MiB).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

/// The largest collect response read from standard output (16 MiB); a larger one is a failure.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The most standard-error lines re-emitted per run; later ones are dropped (one warning says so).
pub const MAX_LOG_LINES: usize = 200;

/// The most characters of one standard-error line re-emitted; the rest of the line is cut.
pub const MAX_LOG_LINE_CHARS: usize = 1000;

/// The bytes of a line without a newline that are buffered before it is emitted as it stands.
const MAX_PENDING_LINE_BYTES: usize = 8 * 1024;

/// How long past the request's timeout a run may go before the runner kills it itself. The host's
/// timeout (`collect.rs`) fires first and cancels the run; this only bounds a run whose host
/// stopped waiting without cancelling it.
const BACKSTOP: Duration = Duration::from_secs(1);

/// How often a run checks its cancellation flag while nothing else happens.
const CANCEL_CHECK: Duration = Duration::from_millis(20);

/// After the program exited and its group was killed, how long its output pipes may stay open: a
/// process that left the group (`setsid`) could hold them for ever.
const DRAIN: Duration = Duration::from_millis(500);

/// Parses an executable collector's file name (`eidos-collector-NAME`) into the collector's name in
/// its file-name form (`acme-nic` → `acme_nic`), or `None` if it is not one.
pub fn parse_file_name(file_name: &str) -> Option<String> {
    let name = file_name.strip_prefix(FILE_PREFIX)?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    valid.then(|| normalize_name(name))
}

/// A checked executable collector: its sealed bytes, run once per call.
#[derive(Debug)]
pub struct Executable {
    /// The file it was found as (for messages).
    path: PathBuf,
    /// The collector's name, for log lines.
    name: String,
    /// The checked bytes, executed through `/proc/self/fd/N`.
    copy: SealedCopy,
}

/// Loads and checks the executable collector in `candidate` under `policy` (module doc).
pub fn load(candidate: &Candidate, policy: &LoadPolicy) -> Result<LoadedPlugin, LoadError> {
    let path = &candidate.path;
    let refuse = |reason: String| LoadError::Executable {
        path: path.clone(),
        reason,
    };
    let opened =
        open_plugin(path, !policy.allow_insecure).map_err(|reason| LoadError::Insecure {
            path: path.clone(),
            reason,
        })?;
    let mode = opened
        .file
        .metadata()
        .map_err(|e| refuse(format!("cannot read its metadata: {e}")))?
        .mode();
    if mode & 0o111 == 0 {
        return Err(refuse(format!(
            "it is named like an executable collector but is not executable (mode {:04o}); \
             fix with: chmod +x {}",
            mode & 0o7777,
            path.display()
        )));
    }
    let entry = match &policy.lock {
        Some(lock) => Some(locked_entry(lock, path)?),
        None => None,
    };
    let bytes = read_capped(&opened.file, MAX_PLUGIN_BYTES).map_err(|e| LoadError::Read {
        path: path.clone(),
        reason: match e {
            ReadError::TooLarge { limit } => {
                format!("it is larger than the limit of {limit} bytes (256 MiB)")
            }
            ReadError::Io(e) => e.to_string(),
        },
    })?;
    let identity = super::loader::identity_of(&opened.file);
    drop(opened);
    let sha256 = sha256_hex(&bytes);
    if let Some(entry) = entry {
        if !sha256.eq_ignore_ascii_case(&entry.sha256) {
            return Err(LoadError::HashMismatch {
                path: path.clone(),
                expected: entry.sha256.clone(),
                found: sha256,
            });
        }
    }
    let copy =
        SealedCopy::new_executable(&candidate.name, &bytes).map_err(|e| LoadError::Read {
            path: path.clone(),
            reason: format!("making a sealed copy: {e}"),
        })?;
    drop(bytes);
    let executable = Executable {
        path: path.clone(),
        name: candidate.name.replace('_', "-"),
        copy,
    };
    let manifest = executable.manifest().map_err(refuse)?;
    check_manifest(&manifest, &candidate.name).map_err(|reason| LoadError::Manifest {
        path: path.clone(),
        reason,
    })?;
    let plugin = LoadedPlugin::from_executable(manifest, sha256, identity, executable);
    if let Some(entry) = entry {
        check_against_lock(&plugin, entry)?;
    }
    Ok(plugin)
}

/// A manifest from `--manifest` must declare a collector of the file's name, built against this
/// plugin API's major version.
fn check_manifest(manifest: &Manifest, file_name_form: &str) -> Result<(), String> {
    if manifest.kind != PluginKind::Collector || normalize_name(&manifest.name) != file_name_form {
        return Err(format!(
            "it declares {} {:?}, but its file name says collector {:?}",
            manifest.kind,
            manifest.name,
            file_name_form.replace('_', "-")
        ));
    }
    let major = |v: &str| {
        v.split('.')
            .next()
            .and_then(|m| m.trim().parse::<u64>().ok())
    };
    match major(&manifest.api_version) {
        Some(m) if Some(m) == major(PLUGIN_API_VERSION) => Ok(()),
        _ => Err(format!(
            "it was written for plugin API {:?}; this eidos speaks plugin API {PLUGIN_API_VERSION} \
             (same major version)",
            manifest.api_version
        )),
    }
}

/// Why a run gave no usable output.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The program could not be started.
    #[error("cannot start it: {0}")]
    Start(std::io::Error),
    /// Talking to it failed.
    #[error("lost contact with it: {0}")]
    Io(std::io::Error),
    /// Standard output went over the limit.
    #[error("its answer is larger than the limit of {limit} bytes; it was stopped")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// It did not exit in time.
    #[error("it did not finish within {}; it was stopped", humantime::format_duration(*.0))]
    TimedOut(Duration),
    /// The host cancelled the run.
    #[error("the run was cancelled; it was stopped")]
    Cancelled,
}

/// A run that ended: how, and what it wrote.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    /// The last non-empty line it wrote to standard error, for failure messages.
    last_log_line: Option<String>,
}

impl Executable {
    /// The file it was found as.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `--manifest` and parses what it prints.
    fn manifest(&self) -> Result<Manifest, String> {
        let finished = self
            .run(
                &["--manifest"],
                b"",
                MANIFEST_TIMEOUT,
                None,
                MAX_MANIFEST_BYTES,
            )
            .map_err(|e| format!("`--manifest`: {e}"))?;
        if !finished.status.success() {
            return Err(format!(
                "`--manifest`: {}{}",
                ending(finished.status),
                last_words(&finished)
            ));
        }
        serde_json::from_slice(&finished.stdout).map_err(|e| {
            format!(
                "`--manifest` printed no valid manifest JSON ({e}); it began: {}",
                beginning(&finished.stdout)
            )
        })
    }

    /// Runs a collection: the request on standard input, the response from standard output.
    pub fn collect(&self, request: &CollectRequest, cancelled: &AtomicBool) -> CollectResponse {
        let fail = |what: String| {
            CollectResponse::error(format!(
                "executable collector {}: {what}",
                self.path.display()
            ))
        };
        let input = match serde_json::to_vec(request) {
            Ok(json) => json,
            Err(e) => return fail(format!("encoding the request: {e}")),
        };
        let timeout = Duration::from_millis(request.timeout_ms).saturating_add(BACKSTOP);
        let finished = match self.run(&[], &input, timeout, Some(cancelled), MAX_RESPONSE_BYTES) {
            Ok(finished) => finished,
            Err(e) => return fail(e.to_string()),
        };
        if !finished.status.success() {
            return fail(format!(
                "{}{}",
                ending(finished.status),
                last_words(&finished)
            ));
        }
        serde_json::from_slice(&finished.stdout).unwrap_or_else(|e| {
            fail(format!(
                "its answer is not a collect response in JSON ({e}); it began: {}",
                beginning(&finished.stdout)
            ))
        })
    }

    /// Runs the sealed copy with `args`, `input` on standard input, for at most `timeout` (or until
    /// `cancelled` is set), reading at most `stdout_limit` bytes of standard output.
    fn run(
        &self,
        args: &[&str],
        input: &[u8],
        timeout: Duration,
        cancelled: Option<&AtomicBool>,
        stdout_limit: usize,
    ) -> Result<Finished, RunError> {
        let mut command = Command::new(self.copy.path());
        command
            .arg0(format!("{FILE_PREFIX}{}", self.name))
            .args(args)
            .env_clear()
            .envs(ENVIRONMENT.iter().copied())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let fd = self.copy.raw_fd();
        // SAFETY: the closure runs in the forked child before exec and makes only two system calls
        // (fcntl, prctl), both async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            command.pre_exec(move || prepare_child(fd));
        }
        let child = command.spawn().map_err(RunError::Start)?;
        let mut running = Running::new(child).map_err(RunError::Start)?;
        let mut log = Log::new(&self.name);
        let result = running.pump(input, timeout, cancelled, stdout_limit, &mut log);
        log.finish();
        let status = running.finish()?;
        result?;
        Ok(Finished {
            status,
            stdout: std::mem::take(&mut running.stdout),
            last_log_line: log.last.take(),
        })
    }
}

/// In the forked child, before exec: keep the sealed copy's descriptor open across exec (a `#!`
/// script's interpreter opens `/proc/self/fd/N` after exec; an ELF program does not need it), and
/// ask for `SIGKILL` when the thread that started it (which waits for it) dies with the host.
fn prepare_child(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: `fd` is the sealed copy's descriptor, open in the parent while it runs this child and
    // therefore in this forked copy of it.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    Ok(())
}

/// How an unsuccessful run ended: `it exited with exit code 1`, `it was killed by SIGSEGV …`.
fn ending(status: ExitStatus) -> String {
    let how = super::probe::describe(status);
    if how.starts_with("killed") {
        format!("it was {how}")
    } else {
        format!("it exited with {how}")
    }
}

/// ` (its last log line: LINE)` from the last line it logged, or nothing.
fn last_words(finished: &Finished) -> String {
    finished
        .last_log_line
        .as_deref()
        .map(|l| format!(" (its last log line: {l})"))
        .unwrap_or_default()
}

/// The start of an unusable answer, quoted on one line.
fn beginning(bytes: &[u8]) -> String {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "nothing (empty output)".to_owned();
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]);
    let mut short: String = text.chars().filter(|c| !c.is_control()).take(80).collect();
    if text.chars().count() > 80 || bytes.len() > 400 {
        short.push('…');
    }
    format!("{short:?}")
}

/// A started program, its pipes, and the guarantee that its group is killed and it is reaped.
struct Running {
    child: Child,
    pid: Pid,
    pidfd: OwnedFd,
    stdin: Option<ChildStdin>,
    stdout_pipe: Option<ChildStdout>,
    stderr_pipe: Option<ChildStderr>,
    stdout: Vec<u8>,
    reaped: bool,
}

impl Running {
    fn new(mut child: Child) -> std::io::Result<Running> {
        let pid = i32::try_from(child.id())
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| std::io::Error::other("the child has no pid"))?;
        let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
                let _ = child.wait();
                return Err(e.into());
            }
        };
        let (stdin, stdout_pipe, stderr_pipe) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let running = Running {
            child,
            pid,
            pidfd,
            stdin,
            stdout_pipe,
            stderr_pipe,
            stdout: Vec::new(),
            reaped: false,
        };
        for fd in [
            running.stdin.as_ref().map(AsFd::as_fd),
            running.stdout_pipe.as_ref().map(AsFd::as_fd),
            running.stderr_pipe.as_ref().map(AsFd::as_fd),
        ]
        .into_iter()
        .flatten()
        {
            rustix::io::ioctl_fionbio(fd, true)?;
        }
        Ok(running)
    }

    /// Feeds standard input and reads standard output and error until the program exits, the
    /// deadline passes, the run is cancelled or the output goes over the limit.
    fn pump(
        &mut self,
        input: &[u8],
        timeout: Duration,
        cancelled: Option<&AtomicBool>,
        stdout_limit: usize,
        log: &mut Log,
    ) -> Result<(), RunError> {
        let deadline = Instant::now() + timeout;
        let mut written = 0;
        if input.is_empty() {
            self.stdin = None;
        }
        loop {
            if cancelled.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(RunError::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RunError::TimedOut(timeout));
            }
            let wait = (deadline - now).min(CANCEL_CHECK);
            let ready = self.wait_ready(wait, true)?;
            if ready.stdin {
                if let Some(stdin) = &mut self.stdin {
                    match stdin.write(&input[written..]) {
                        Ok(n) => written += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        // It closed its standard input without reading it all: its business.
                        Err(_) => written = input.len(),
                    }
                    if written >= input.len() {
                        self.stdin = None;
                    }
                }
            }
            self.read_ready(&ready, log)?;
            if self.stdout.len() > stdout_limit {
                return Err(RunError::TooLarge {
                    limit: stdout_limit,
                });
            }
            if ready.exited {
                break;
            }
        }
        // The program exited (a zombie until reaped, so its group id is still its own): end what
        // it left in its group, then read what is left in the pipes, for a bounded time.
        self.kill_group();
        self.stdin = None;
        let drain_until = Instant::now() + DRAIN;
        while self.stdout_pipe.is_some() || self.stderr_pipe.is_some() {
            let now = Instant::now();
            if now >= drain_until {
                log.note("its output stayed open after it exited (a process that left its group holds it); the rest is ignored");
                break;
            }
            let ready = self.wait_ready(drain_until - now, false)?;
            self.read_ready(&ready, log)?;
            if self.stdout.len() > stdout_limit {
                return Err(RunError::TooLarge {
                    limit: stdout_limit,
                });
            }
        }
        Ok(())
    }

    /// Waits up to `wait` for a pipe or (when `pidfd` is set) the program's exit.
    fn wait_ready(&self, wait: Duration, with_pidfd: bool) -> Result<Ready, RunError> {
        let mut fds = Vec::with_capacity(4);
        let mut slots = [None; 4];
        if let Some(stdin) = &self.stdin {
            slots[0] = Some(fds.len());
            fds.push(PollFd::new(stdin, PollFlags::OUT));
        }
        if let Some(stdout) = &self.stdout_pipe {
            slots[1] = Some(fds.len());
            fds.push(PollFd::new(stdout, PollFlags::IN));
        }
        if let Some(stderr) = &self.stderr_pipe {
            slots[2] = Some(fds.len());
            fds.push(PollFd::new(stderr, PollFlags::IN));
        }
        if with_pidfd {
            slots[3] = Some(fds.len());
            fds.push(PollFd::new(&self.pidfd, PollFlags::IN));
        }
        let timeout = Timespec {
            tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(RunError::Io(e.into())),
        }
        let hit = |slot: Option<usize>| slot.is_some_and(|i| !fds[i].revents().is_empty());
        Ok(Ready {
            stdin: hit(slots[0]),
            stdout: hit(slots[1]),
            stderr: hit(slots[2]),
            exited: hit(slots[3]),
        })
    }

    /// Reads what the ready pipes hold; a pipe at its end is closed.
    fn read_ready(&mut self, ready: &Ready, log: &mut Log) -> Result<(), RunError> {
        let mut chunk = [0u8; 64 * 1024];
        if ready.stdout {
            if let Some(pipe) = &mut self.stdout_pipe {
                match read_available(pipe, &mut chunk, |bytes| {
                    self.stdout.extend_from_slice(bytes)
                }) {
                    Ok(true) => self.stdout_pipe = None,
                    Ok(false) => {}
                    Err(e) => return Err(RunError::Io(e)),
                }
            }
        }
        if ready.stderr {
            if let Some(pipe) = &mut self.stderr_pipe {
                match read_available(pipe, &mut chunk, |bytes| log.feed(bytes)) {
                    Ok(true) => self.stderr_pipe = None,
                    Ok(false) => {}
                    Err(e) => return Err(RunError::Io(e)),
                }
            }
        }
        Ok(())
    }

    /// Sends `SIGKILL` to the program's whole process group. Only called before it is reaped.
    fn kill_group(&self) {
        if !self.reaped {
            let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
        }
    }

    /// Kills the group and reaps the program; its exit status.
    fn finish(&mut self) -> Result<ExitStatus, RunError> {
        self.kill_group();
        self.stdin = None;
        self.stdout_pipe = None;
        self.stderr_pipe = None;
        let status = self.child.wait().map_err(RunError::Io)?;
        self.reaped = true;
        Ok(status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

/// Which of a run's descriptors are ready.
#[derive(Debug, Default)]
struct Ready {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    exited: bool,
}

/// Reads a non-blocking pipe until it would block (`false`) or ends (`true`), handing each chunk to
/// `sink`. At most 1 MiB per call, so that one flooding pipe cannot starve the limits' checks.
fn read_available(
    pipe: &mut impl Read,
    chunk: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) -> std::io::Result<bool> {
    let mut taken = 0;
    while taken < 1024 * 1024 {
        match pipe.read(chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                taken += n;
                sink(&chunk[..n]);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// A program's standard error, re-emitted line by line through `tracing`.
struct Log {
    collector: String,
    pending: Vec<u8>,
    lines: usize,
    last: Option<String>,
}

impl Log {
    fn new(collector: &str) -> Log {
        Log {
            collector: collector.to_owned(),
            pending: Vec::new(),
            lines: 0,
            last: None,
        }
    }

    /// Takes bytes from the pipe; complete lines are emitted.
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.line(&line);
        }
        if self.pending.len() > MAX_PENDING_LINE_BYTES {
            let line = std::mem::take(&mut self.pending);
            self.line(&line);
        }
    }

    /// Emits what is left (a last line without a newline).
    fn finish(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(&line);
        }
    }

    /// A remark of the host's about the program's output.
    fn note(&self, text: &str) {
        tracing::warn!(collector = %self.collector, "{text}");
    }

    fn line(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let clean: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_LOG_LINE_CHARS)
            .collect();
        if clean.is_empty() {
            return;
        }
        self.lines += 1;
        if self.lines > MAX_LOG_LINES {
            if self.lines == MAX_LOG_LINES + 1 {
                self.note(&format!(
                    "more than {MAX_LOG_LINES} lines on standard error; the rest is dropped"
                ));
            }
            return;
        }
        let (level, message) = level_of(&clean);
        let collector = &self.collector;
        match level {
            tracing::Level::ERROR => tracing::error!(collector = %collector, "{message}"),
            tracing::Level::WARN => tracing::warn!(collector = %collector, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(collector = %collector, "{message}"),
            _ => tracing::info!(collector = %collector, "{message}"),
        }
        self.last = Some(clean);
    }
}

/// A log line's level, from a leading `error:`, `warning:`/`warn:`, `info:` or `debug:` (any case;
/// removed from the message); info otherwise.
fn level_of(line: &str) -> (tracing::Level, &str) {
    for (prefix, level) in [
        ("error:", tracing::Level::ERROR),
        ("warning:", tracing::Level::WARN),
        ("warn:", tracing::Level::WARN),
        ("info:", tracing::Level::INFO),
        ("debug:", tracing::Level::DEBUG),
    ] {
        if line.len() >= prefix.len()
            && line.is_char_boundary(prefix.len())
            && line[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            return (level, line[prefix.len()..].trim_start());
        }
    }
    (tracing::Level::INFO, line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::lock::{Lock, LockedPlugin};
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    /// A private plugin directory holding `eidos-collector-NAME` with the given shell script body.
    fn collector(name: &str, body: &str) -> (tempfile::TempDir, Candidate) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = tmp.path().join(format!("{FILE_PREFIX}{name}"));
        write_script(&path, body);
        let candidate = Candidate {
            path,
            kind: PluginKind::Collector,
            name: normalize_name(name),
            shadowed_by: None,
        };
        (tmp, candidate)
    }

    fn write_script(path: &Path, body: &str) {
        // Written to a new file and renamed in, as an installer would: never a file being executed.
        let staging = path.with_extension("new");
        std::fs::write(&staging, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&staging, path).unwrap();
    }

    /// A script answering `--manifest` for collector `name`, and `answer` (shell) otherwise.
    fn script(name: &str, answer: &str) -> String {
        format!(
            "if [ \"$1\" = --manifest ]; then\n  printf '%s' '{{\"name\":\"{name}\",\"kind\":\"collector\",\"version\":\"1.0.0\",\"apiVersion\":\"1.0.0\",\"description\":\"test\",\"options\":[{{\"key\":\"k\",\"description\":\"a key\"}}]}}'\n  exit 0\nfi\n{answer}\n"
        )
    }

    fn request() -> CollectRequest {
        CollectRequest {
            api_version: PLUGIN_API_VERSION.to_owned(),
            options: [("k".to_owned(), "v".to_owned())].into(),
            host_root: "/".to_owned(),
            timeout_ms: 5000,
            log_level: None,
        }
    }

    fn message(response: CollectResponse) -> String {
        match response {
            CollectResponse::Error { message, .. } => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn executable_file_names_declare_a_collector() {
        assert_eq!(
            parse_file_name("eidos-collector-acme-nic"),
            Some("acme_nic".into())
        );
        assert_eq!(parse_file_name("eidos-collector-x2"), Some("x2".into()));
        for not in [
            "eidos-collector-",
            "eidos-collector--x",
            "eidos-collector-X",
            "eidos-collector-x.py",
            "eidos-collector-x~",
            "eidos-serializer-x",
            "libeidos_collector_x.so",
        ] {
            assert_eq!(parse_file_name(not), None, "{not}");
        }
    }

    #[test]
    fn a_shell_collector_loads_gets_the_request_and_a_clean_environment() {
        // The answer echoes the request's option and what the environment holds.
        let answer = r#"read -r request
case "$request" in *'"k":"v"'*) opt=seen ;; *) opt=missing ;; esac
printf '{"status":"ok","measurements":[{"type":"t","subtypes":[{"subtype":"s","data":{"opt":"%s","path":"%s","home":"%s","vars":"%s"}}]}]}' \
  "$opt" "$PATH" "${HOME-unset}" "$(env | cut -d= -f1 | grep -v '^PWD$' | sort | tr '\n' ' ')"
echo 'warning: a log line' >&2"#;
        let (_tmp, candidate) = collector("echo", &script("echo", answer));
        let plugin = load(&candidate, &LoadPolicy::default()).unwrap();
        assert!(plugin.is_executable());
        assert_eq!(plugin.manifest.options[0].key, "k");
        let bytes = std::fs::read(&candidate.path).unwrap();
        assert_eq!(plugin.sha256, sha256_hex(&bytes));
        let response = plugin.collect(&request(), &AtomicBool::new(false)).response;
        let CollectResponse::Ok { measurements, .. } = response else {
            panic!("{response:?}");
        };
        let data = serde_json::to_value(&measurements[0].subtypes[0].data).unwrap();
        assert_eq!(data["opt"], "seen");
        assert_eq!(data["path"], ENVIRONMENT[0].1);
        assert_eq!(data["home"], "unset");
        assert_eq!(data["vars"], "LANG LC_ALL PATH ");
    }

    /// The check-then-run race: what runs is the bytes that were checked and hashed when the
    /// collector was loaded, even if the file is replaced afterwards.
    #[test]
    fn the_program_run_is_the_one_checked_even_if_the_file_is_replaced_after_loading() {
        let ok = r#"printf '{"status":"ok","measurements":[{"type":"original"}]}'"#;
        let (_tmp, candidate) = collector("swap", &script("swap", ok));
        let plugin = load(&candidate, &LoadPolicy::default()).unwrap();
        let evil = r#"printf '{"status":"ok","measurements":[{"type":"replaced"}]}'"#;
        write_script(&candidate.path, &script("swap", evil));
        let response = plugin.collect(&request(), &AtomicBool::new(false)).response;
        let CollectResponse::Ok { measurements, .. } = response else {
            panic!("{response:?}");
        };
        assert_eq!(measurements[0].kind, "original");
    }

    #[test]
    fn a_lock_pins_the_executable_bytes_and_its_manifest() {
        let (_tmp, candidate) = collector("locked", &script("locked", "exit 0"));
        let bytes = std::fs::read(&candidate.path).unwrap();
        let entry = |sha256: String, version: &str| LockedPlugin {
            name: "locked".into(),
            kind: "collector".into(),
            version: version.into(),
            api_version: "1.0.0".into(),
            file: "eidos-collector-locked".into(),
            sha256,
        };
        let policy = |plugins| LoadPolicy {
            lock: Some(Arc::new(Lock {
                version: 1,
                plugins,
                source: "test.lock".into(),
            })),
            allow_insecure: false,
            probe_cache: None,
            manifest_cache: None,
        };
        assert!(load(
            &candidate,
            &policy(vec![entry(sha256_hex(&bytes), "1.0.0")])
        )
        .is_ok());
        let err = load(
            &candidate,
            &policy(vec![entry(sha256_hex(b"other"), "1.0.0")]),
        )
        .unwrap_err();
        assert!(matches!(err, LoadError::HashMismatch { .. }), "{err}");
        let err = load(
            &candidate,
            &policy(vec![entry(sha256_hex(&bytes), "2.0.0")]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::LockMismatch {
                    field: "version",
                    ..
                }
            ),
            "{err}"
        );
        let err = load(&candidate, &policy(vec![])).unwrap_err();
        assert!(matches!(err, LoadError::NotInLock { .. }), "{err}");
    }

    #[test]
    fn unusable_executables_are_refused_naming_the_file() {
        let (_tmp, candidate) = collector("plain", &script("plain", "exit 0"));
        std::fs::set_permissions(&candidate.path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(&candidate, &LoadPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not executable (mode 0644)"), "{err}");
        assert!(err.contains(candidate.path.to_str().unwrap()), "{err}");

        std::fs::set_permissions(&candidate.path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = load(&candidate, &LoadPolicy::default()).unwrap_err();
        assert!(matches!(err, LoadError::Insecure { .. }), "{err}");

        let (_tmp, candidate) = collector("liar", &script("other", "exit 0"));
        let err = load(&candidate, &LoadPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("declares collector \"other\", but its file name says collector \"liar\""),
            "{err}"
        );

        let (_tmp, candidate) = collector("mute", "echo 'no manifest here' >&2; exit 3\n");
        let err = load(&candidate, &LoadPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "`--manifest`: it exited with exit code 3 (its last log line: no manifest here)"
            ),
            "{err}"
        );

        let future = script("future", "exit 0")
            .replace("\"apiVersion\":\"1.0.0\"", "\"apiVersion\":\"2.0.0\"");
        let (_tmp, candidate) = collector("future", &future);
        let err = load(&candidate, &LoadPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("written for plugin API \"2.0.0\""), "{err}");
    }

    #[test]
    fn a_cancelled_run_is_stopped_at_once() {
        let (_tmp, candidate) = collector("slow", &script("slow", "exec sleep 600"));
        let plugin = load(&candidate, &LoadPolicy::default()).unwrap();
        let cancelled = AtomicBool::new(true);
        let started = Instant::now();
        let err = message(plugin.collect(&request(), &cancelled).response);
        assert!(err.contains("the run was cancelled"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn log_levels_come_from_a_leading_word() {
        assert_eq!(
            level_of("error: disk gone"),
            (tracing::Level::ERROR, "disk gone")
        );
        assert_eq!(level_of("WARNING: hot"), (tracing::Level::WARN, "hot"));
        assert_eq!(level_of("debug:x"), (tracing::Level::DEBUG, "x"));
        assert_eq!(level_of("plain"), (tracing::Level::INFO, "plain"));
        assert_eq!(level_of("é"), (tracing::Level::INFO, "é"));
    }

    #[test]
    fn unusable_answers_are_quoted_briefly() {
        assert_eq!(beginning(b"  \n"), "nothing (empty output)");
        assert_eq!(beginning(b"hello\x1b[31m"), "\"hello[31m\"");
        assert!(beginning(&[b'x'; 1000]).ends_with("…\""));
    }
}
