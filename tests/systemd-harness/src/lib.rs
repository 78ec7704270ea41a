//! A real systemd user manager on a private D-Bus session bus, for tests.
//!
//! systemd is not PID 1 on a build machine, and it refuses to run a user manager unless
//! `/run/systemd/system` exists. [`UserSystemd::start`] therefore runs, as root:
//!
//! ```text
//! unshare --mount --propagation private --pid --fork --kill-child --mount-proc sh -c '
//!     mount a tmpfs on /run/systemd and create /run/systemd/system   (only in this namespace)
//!     systemd --user'
//! ```
//!
//! systemd serves its D-Bus API only on a bus it runs itself (its `dbus.socket` and
//! `dbus.service` units must be active), so the harness installs those two units, pointing at
//! `dbus-daemon`, and starts the private session bus through systemd at
//! `$XDG_RUNTIME_DIR/bus`; it waits until `org.freedesktop.systemd1` is on that bus.
//!
//! with every XDG directory (`XDG_CONFIG_HOME`, where the test units go, included) and `HOME`
//! inside a temporary directory of its own, so nothing outside the test is read or written except
//! systemd's cgroups. The tests reach systemd from outside over the bus socket, exactly as eidos
//! reaches a node's systemd; `systemctl --user` runs inside the namespaces through `nsenter`,
//! because systemd's private socket only answers peers inside its PID namespace.
//!
//! # Teardown
//!
//! Everything runs in a PID namespace, so killing its first process makes the kernel kill every
//! process in it; nothing can be left behind. Dropping the harness (also while a failed test
//! unwinds) asks systemd to exit, waits briefly, then kills the namespace. If the test process
//! itself dies, `unshare` gets `SIGKILL` from the kernel (parent-death signal, set when it is
//! spawned) and, through `--kill-child`, so does the namespace. The parent-death signal follows
//! the *thread* that started the harness: start, use and drop it on one thread.
//!
//! # One at a time
//!
//! A systemd user manager running as root puts its units' cgroups at fixed paths (`app.slice/…`)
//! in the machine's cgroup tree, so two managers at once would share cgroups and stop each
//! other's processes. Harnesses are serialised by a lock held from start to the end of teardown,
//! within a test binary and across processes (an advisory file lock).

mod bare_bus;
mod lock;
mod process;
mod units;

pub use bare_bus::BareBus;
pub use process::{namespace_of, processes_in_namespace};
pub use units::{node_units, TestUnit, BROKEN, CONTAINERD, CONTAINERD_NOFILE, DOCKER, KUBELET};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a harness waits for systemd to come up, a unit to reach its state, or a command.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long teardown waits for systemd to exit by itself before killing the namespace.
const GRACE: Duration = Duration::from_secs(5);

/// The program run as the namespace's first process (POSIX sh). It stays in the foreground as the
/// namespace's init (systemd refuses to be PID 1 in user mode) until systemd exits.
const NAMESPACE_INIT: &str = r#"
set -eu
mkdir -p /run/systemd
mount -t tmpfs eidos-harness /run/systemd
mkdir /run/systemd/system
"$EIDOS_HARNESS_SYSTEMD" --user &
wait "$!"
"#;

/// The session bus socket. systemd connects its API to the bus only once its own `dbus.socket`
/// and `dbus.service` units run, so the bus is started by systemd, as in a real user session.
const DBUS_SOCKET_UNIT: &str = "\
[Unit]
Description=D-Bus session bus socket (eidos test harness)

[Socket]
ListenStream=%t/bus
";

/// The session bus daemon, started by systemd on `dbus.socket` (`{dbus_daemon}` is its path).
const DBUS_SERVICE_UNIT: &str = "\
[Unit]
Description=D-Bus session bus (eidos test harness)
Requires=dbus.socket

[Service]
ExecStart={dbus_daemon} --session --address=systemd: --nofork --nopidfile --systemd-activation --nosyslog
";

/// Why the harness could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program the harness needs is missing.
    #[error("{program} is needed to run systemd tests (install it: {install})")]
    Missing {
        /// The program.
        program: String,
        /// How to install it on Debian/Ubuntu.
        install: &'static str,
    },
    /// The harness needs root (mount and PID namespaces, cgroups).
    #[error("the systemd test harness must run as root (it creates mount and PID namespaces)")]
    NotRoot,
    /// An I/O error while preparing or running something.
    #[error("{doing}: {source}")]
    Io {
        /// What the harness was doing.
        doing: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("{what} did not happen within {within:?}; systemd's log:\n{log}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the harness waited.
        within: Duration,
        /// The namespace's stderr so far.
        log: String,
    },
    /// A command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
    },
}

fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let doing = doing.into();
    move |source| HarnessError::Io { doing, source }
}

/// A running systemd user manager on a private session bus; torn down when dropped.
pub struct UserSystemd {
    unshare: Option<Child>,
    init_pid: u32,
    namespace: String,
    bus_address: String,
    runtime_dir: PathBuf,
    config_dir: PathBuf,
    log_path: PathBuf,
    path_env: String,
    // Dropped after teardown (fields drop after `Drop::drop`), in this order.
    _dir: TempDir,
    _lock: lock::HarnessLock,
}

impl UserSystemd {
    /// Installs `units` in the manager's own unit directory, starts the manager, and starts each
    /// unit that asks for it, waiting until it reaches the state it expects.
    pub fn start(units: &[TestUnit]) -> Result<Self, HarnessError> {
        if !rustix::process::geteuid().is_root() {
            return Err(HarnessError::NotRoot);
        }
        let systemd = find_systemd()?;
        for (program, install) in [
            ("unshare", "apt-get install util-linux"),
            ("nsenter", "apt-get install util-linux"),
            ("dbus-daemon", "apt-get install dbus-daemon"),
            ("systemctl", "apt-get install systemd"),
            ("busctl", "apt-get install systemd"),
        ] {
            find_program(program).ok_or(HarnessError::Missing {
                program: program.into(),
                install,
            })?;
        }
        let lock = lock::HarnessLock::acquire()?;

        let dir = tempfile::Builder::new()
            .prefix("eidos-systemd-")
            .tempdir()
            .map_err(io("creating the harness directory"))?;
        let root = dir.path();
        let runtime_dir = root.join("run");
        let config_dir = root.join("config");
        for sub in [
            "run",
            "config/systemd/user",
            "data",
            "state",
            "cache",
            "home",
        ] {
            std::fs::create_dir_all(root.join(sub))
                .map_err(io(format!("creating {}", root.join(sub).display())))?;
        }
        set_mode(&runtime_dir, 0o700)?;
        let unit_dir = config_dir.join("systemd/user");
        let dbus_daemon = find_program("dbus-daemon").ok_or(HarnessError::Missing {
            program: "dbus-daemon".into(),
            install: "apt-get install dbus-daemon",
        })?;
        write_file(&unit_dir.join("dbus.socket"), DBUS_SOCKET_UNIT)?;
        write_file(
            &unit_dir.join("dbus.service"),
            &DBUS_SERVICE_UNIT.replace("{dbus_daemon}", &dbus_daemon.display().to_string()),
        )?;
        let wants = unit_dir.join("sockets.target.wants");
        std::fs::create_dir_all(&wants).map_err(io(format!("creating {}", wants.display())))?;
        std::os::unix::fs::symlink("../dbus.socket", wants.join("dbus.socket"))
            .map_err(io("enabling dbus.socket"))?;
        for unit in units {
            write_file(&unit_dir.join(&unit.name), &unit.contents)?;
        }

        let bus_address = format!("unix:path={}", runtime_dir.join("bus").display());
        let log_path = root.join("namespace.log");
        let log = std::fs::File::create(&log_path).map_err(io("creating the namespace log"))?;
        let log_err = log.try_clone().map_err(io("creating the namespace log"))?;
        let path_env = std::env::var("PATH").unwrap_or_else(|_| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });

        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--",
                "sh",
                "-c",
                NAMESPACE_INIT,
            ])
            .env_clear()
            .env("PATH", &path_env)
            .env("LANG", "C.UTF-8")
            .env("HOME", root.join("home"))
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("XDG_CONFIG_HOME", &config_dir)
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_STATE_HOME", root.join("state"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .env("EIDOS_HARNESS_SYSTEMD", &systemd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        process::die_with_parent(&mut command);
        let unshare = command.spawn().map_err(io("starting unshare"))?;
        let unshare_pid = unshare.id();

        let mut harness = UserSystemd {
            unshare: Some(unshare),
            init_pid: 0,
            namespace: String::new(),
            bus_address,
            runtime_dir,
            config_dir,
            log_path,
            path_env,
            _dir: dir,
            _lock: lock,
        };
        let init_pid =
            harness.wait_until("the namespace to start", || process::child_of(unshare_pid))?;
        harness.init_pid = init_pid;
        let outer = namespace_of(unshare_pid);
        harness.namespace = harness.wait_until("the namespace's /proc entry", || {
            namespace_of(init_pid).filter(|ns| Some(ns) != outer.as_ref())
        })?;
        harness.wait_until("systemd --user to finish starting up", || {
            let output = harness.systemctl_output(&["is-system-running"]).ok()?;
            let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            matches!(state.as_str(), "running" | "degraded").then_some(())
        })?;
        harness.systemctl(&["start", "dbus.service"])?;
        harness.wait_until("systemd to appear on the session bus", || {
            harness.systemd_is_on_the_bus().then_some(())
        })?;
        for unit in units {
            if let Some(expected) = unit.expected_state {
                harness.systemctl(&["start", "--no-block", &unit.name])?;
                harness.wait_for_property(&unit.name, "ActiveState", expected)?;
            }
        }
        Ok(harness)
    }

    /// The D-Bus address of the session bus systemd is on (`unix:path=…/bus`).
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The environment a client needs to find this bus as its session bus.
    pub fn session_env(&self) -> [(&'static str, String); 2] {
        [
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.clone()),
            ("XDG_RUNTIME_DIR", self.runtime_dir.display().to_string()),
        ]
    }

    /// The harness's temporary directory (runtime, config, data, state and cache directories,
    /// and the namespace's log); removed on teardown.
    pub fn directory(&self) -> &Path {
        self._dir.path()
    }

    /// The directory the test units were written to.
    pub fn unit_dir(&self) -> PathBuf {
        self.config_dir.join("systemd/user")
    }

    /// The PID namespace everything runs in (as `/proc/PID/ns/pid` names it).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Runs `systemctl --user ARGS` against this manager and returns its stdout.
    pub fn systemctl(&self, args: &[&str]) -> Result<String, HarnessError> {
        let output = self.systemctl_output(args)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(HarnessError::Command {
                command: format!("systemctl --user {}", args.join(" ")),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// One property of a unit as `systemctl show` prints it. This loads the unit in systemd if
    /// it is not loaded (as any such query does); use [`UserSystemd::is_loaded`] to check that.
    pub fn property(&self, unit: &str, property: &str) -> Result<String, HarnessError> {
        let shown = self.systemctl(&["show", "--value", "--property", property, unit])?;
        Ok(shown.trim_end_matches('\n').to_owned())
    }

    /// Whether systemd holds `unit` in memory now (`list-units --all`, which loads nothing).
    pub fn is_loaded(&self, unit: &str) -> Result<bool, HarnessError> {
        let listed = self.systemctl(&[
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--full",
            unit,
        ])?;
        Ok(listed
            .lines()
            .any(|line| line.split_whitespace().next() == Some(unit)))
    }

    /// Waits until `systemctl show` gives `expected` for a unit's property.
    pub fn wait_for_property(
        &self,
        unit: &str,
        property: &str,
        expected: &str,
    ) -> Result<(), HarnessError> {
        self.wait_until(&format!("{unit} {property}={expected}"), || {
            (self.property(unit, property).ok()? == expected).then_some(())
        })
    }

    /// The PIDs (as seen from the caller) of every process in the harness's namespace.
    pub fn processes(&self) -> Vec<u32> {
        processes_in_namespace(&self.namespace)
    }

    /// Tears everything down now (as dropping does) and reports whether any process survived.
    pub fn stop(mut self) -> Result<(), HarnessError> {
        self.teardown();
        let left = processes_in_namespace(&self.namespace);
        if left.is_empty() {
            Ok(())
        } else {
            Err(HarnessError::Command {
                command: "teardown".into(),
                status: "processes left behind".into(),
                stderr: format!("{left:?}"),
            })
        }
    }

    /// Whether `org.freedesktop.systemd1` has an owner on the bus (asked with `busctl` from
    /// outside the namespaces, as any client would).
    pub fn systemd_is_on_the_bus(&self) -> bool {
        let mut command = Command::new("busctl");
        command
            .arg(format!("--address={}", self.bus_address))
            .args([
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                "s",
                "org.freedesktop.systemd1",
            ]);
        process::output_within(&mut command, PATIENCE)
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "b true")
    }

    fn systemctl_output(&self, args: &[&str]) -> Result<Output, HarnessError> {
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(self.init_pid.to_string())
            .args([
                "--mount",
                "--pid",
                "--",
                "systemctl",
                "--user",
                "--no-pager",
            ])
            .args(args)
            .env_clear()
            .env("PATH", &self.path_env)
            .env("LANG", "C.UTF-8")
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
        process::output_within(&mut command, PATIENCE)
            .map_err(io(format!("running systemctl --user {}", args.join(" "))))
    }

    fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, HarnessError> {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return Ok(found);
            }
            if started.elapsed() > PATIENCE || self.namespace_has_exited() {
                return Err(HarnessError::Timeout {
                    what: what.to_owned(),
                    within: PATIENCE,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn namespace_has_exited(&self) -> bool {
        self.unshare
            .as_ref()
            .is_some_and(|child| !process::is_running(child.id()))
    }

    /// The namespace's stderr so far (dbus-daemon and systemd log there).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Asks systemd to exit (stopping its units), then kills whatever is left in the namespace.
    fn teardown(&mut self) {
        let Some(mut unshare) = self.unshare.take() else {
            return;
        };
        if self.init_pid != 0 {
            let _ = self.systemctl_output(&["--no-block", "exit"]);
        }
        let deadline = Instant::now() + GRACE;
        let mut exited = false;
        while Instant::now() < deadline {
            if matches!(unshare.try_wait(), Ok(Some(_))) {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !exited {
            if self.init_pid != 0 {
                process::kill(self.init_pid);
            }
            process::kill(unshare.id());
            let _ = unshare.wait();
        }
        // When the namespace's init ends the kernel kills the rest of the namespace, but they
        // finish dying after init has been waited for: wait for them too (bounded), so that
        // teardown returns with the namespace empty.
        let deadline = Instant::now() + GRACE;
        while !processes_in_namespace(&self.namespace).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for UserSystemd {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), HarnessError> {
    std::fs::write(path, contents).map_err(io(format!("writing {}", path.display())))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting the mode of {}", path.display())))
}

fn find_systemd() -> Result<PathBuf, HarnessError> {
    ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or(HarnessError::Missing {
            program: "/lib/systemd/systemd".into(),
            install: "apt-get install systemd",
        })
}

/// The first file named `program` on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
