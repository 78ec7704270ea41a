//! A bare D-Bus session daemon with nothing on it, for testing a collector against a bus where
//! systemd is absent.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A bare dbus-daemon with no systemd on it; killed when dropped.
pub struct BareBus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl BareBus {
    /// Starts the daemon on a socket in a private temporary directory and waits for the socket.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--nosyslog"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon must be installed (apt-get install dbus-daemon)");
        let bus = BareBus {
            daemon,
            address,
            _dir: dir,
        };
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "dbus-daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        bus
    }
}

impl BareBus {
    /// The bus address to connect to.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for BareBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
