//! Loading a plugin first in a throw-away child process.
//!
//! The structure checks (`elf.rs`) cannot see everything that can crash the dynamic loader or a
//! library's initialisers: a damaged hash table, damaged code run at load time. So a library not
//! vouched for by a plugin lock is first loaded by a child process, `eidos` itself re-executed (from
//! `/proc/self/exe`) in a hidden probe mode, with the sealed copy of the library as its standard
//! input. The child loads it exactly as the host would, initialises the root module, reads the
//! manifest and exits. If the child dies (a signal, an assertion in ld.so) or does not finish in
//! [`PROBE_TIMEOUT`], the library is refused with what happened; the host is never at risk.
//!
//! The probe mode is not a command: it is recognised by [`PROBE_ARG`] as the first argument,
//! before the command line is parsed, and it takes no other input.

use super::sealed::SealedCopy;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::Duration;

/// The first argument that puts `eidos` in probe mode.
pub const PROBE_ARG: &str = "__eidos-plugin-probe";

/// How long a probe may take before the library is refused.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of the child's standard error quoted in a refusal.
const STDERR_EXCERPT: usize = 300;

/// Why a probe refused a library.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The child died while loading it.
    #[error("loading it crashed a probe process ({how}){detail}")]
    Crashed {
        /// A signal or an exit code.
        how: String,
        /// What the child wrote to standard error, if anything, after ": ".
        detail: String,
    },
    /// The child did not finish in time.
    #[error("loading it did not finish within {}s in a probe process", .0.as_secs())]
    TimedOut(Duration),
    /// The probe process could not be run.
    #[error("cannot run a probe process: {0}")]
    Spawn(String),
}

/// Loads the sealed copy in a child process run from `exe` (normally `/proc/self/exe`) and reports
/// whether it survived.
pub fn probe(exe: &Path, copy: &SealedCopy, timeout: Duration) -> Result<(), ProbeError> {
    let spawn = |e: std::io::Error| ProbeError::Spawn(e.to_string());
    let stdin = copy.try_clone_file().map_err(spawn)?;
    let mut stderr = std::fs::File::from(
        rustix::fs::memfd_create("eidos-probe-stderr", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| spawn(e.into()))?,
    );
    let mut child = Command::new(exe)
        .arg(PROBE_ARG)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr.try_clone().map_err(spawn)?))
        .spawn()
        .map_err(spawn)?;
    let status = match wait_timeout(&mut child, timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            // Not yet reaped, so the pid is still this child's.
            let _ = child.kill();
            let _ = child.wait();
            return Err(ProbeError::TimedOut(timeout));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn(e));
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = stderr.rewind();
    let _ = (&mut stderr)
        .take(4 * STDERR_EXCERPT as u64)
        .read_to_string(&mut text);
    Err(ProbeError::Crashed {
        how: describe(status),
        detail: excerpt(&text),
    })
}

/// Waits for the child to exit, at most `timeout`; `None` if it is still running. Waits on a pidfd,
/// so nothing polls and no signal handler is installed.
fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or_else(|| std::io::Error::other("child has no pid"))?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let left = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&left)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// How a child process ended, in words: `exit code N` or `killed by SIGSEGV (signal 11)`.
pub(super) fn describe(status: ExitStatus) -> String {
    use rustix::process::Signal;
    match (status.signal(), status.code()) {
        (Some(signal), _) => {
            let name = [
                (Signal::SEGV, "SIGSEGV"),
                (Signal::BUS, "SIGBUS"),
                (Signal::ABORT, "SIGABRT"),
                (Signal::ILL, "SIGILL"),
                (Signal::FPE, "SIGFPE"),
                (Signal::TRAP, "SIGTRAP"),
                (Signal::KILL, "SIGKILL"),
                (Signal::SYS, "SIGSYS"),
            ]
            .iter()
            .find(|(s, _)| s.as_raw() == signal)
            .map_or("a signal", |(_, name)| name);
            format!("killed by {name} (signal {signal})")
        }
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "unknown status".to_owned(),
    }
}

/// The first line of the child's standard error, cut to [`STDERR_EXCERPT`] characters, with
/// control characters dropped, after ": "; empty if there is none.
fn excerpt(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(line) = line else {
        return String::new();
    };
    let mut short: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(STDERR_EXCERPT)
        .collect();
    if line.chars().count() > STDERR_EXCERPT {
        short.push_str(" …");
    }
    format!(": {short}")
}

/// The probe mode's entry point: if this process was started as a probe, loads the library on
/// standard input and returns the exit code; otherwise `None`. Called first thing in `main`.
pub fn run_if_probe() -> Option<ExitCode> {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(PROBE_ARG)) {
        return None;
    }
    // A probe must not outlive the host, and its expected crashes leave no core files.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    // A clean refusal (not a plugin, wrong API) is not the probe's business: the host reproduces
    // it and reports it. Only surviving the load matters.
    let library = Path::new("/proc/self/fd/0");
    let _ = super::loader::load_path(library, library, None);
    Some(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_excerpts_are_one_clean_line() {
        assert_eq!(excerpt(""), "");
        assert_eq!(
            excerpt("\nInconsistency detected by ld.so: dl-version.c: 204: assert\nmore\n"),
            ": Inconsistency detected by ld.so: dl-version.c: 204: assert"
        );
        assert_eq!(excerpt("a\x1b[31mb"), ": a[31mb");
        assert!(excerpt(&"x".repeat(1000)).ends_with(" …"));
    }

    #[test]
    fn a_probe_that_crashes_or_hangs_is_reported() {
        // Any program stands in for eidos here: `sh -c` with the probe argument as $0.
        let copy = SealedCopy::new("t", b"bytes").unwrap();
        let script = std::env::temp_dir().join(format!("eidos-probe-test-{}", std::process::id()));
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'ld.so: assertion failed' >&2\nkill -SEGV $$\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let err = probe(&script, &copy, PROBE_TIMEOUT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "loading it crashed a probe process (killed by SIGSEGV (signal 11)): ld.so: assertion failed"
        );
        std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").unwrap();
        let err = probe(&script, &copy, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err, ProbeError::TimedOut(Duration::from_millis(200)));
        std::fs::write(&script, "#!/bin/sh\ncat >/dev/null\n").unwrap();
        assert_eq!(probe(&script, &copy, PROBE_TIMEOUT), Ok(()));
        std::fs::remove_file(&script).unwrap();
    }
}
