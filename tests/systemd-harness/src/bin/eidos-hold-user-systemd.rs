//! Starts the standard test units under a harness systemd, prints where to reach it, and keeps it
//! running until stdin closes. Used by the harness's own crash test, and by hand:
//!
//! ```text
//! cargo run -p eidos-systemd-harness --bin eidos-hold-user-systemd
//! ```

use eidos_systemd_harness::{node_units, UserSystemd};
use std::io::{Read, Write};

fn main() {
    let harness = match UserSystemd::start(&node_units()) {
        Ok(harness) => harness,
        Err(e) => {
            eprintln!("eidos-hold-user-systemd: {e}");
            std::process::exit(1);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "namespace={}", harness.namespace());
    let _ = writeln!(stdout, "directory={}", harness.directory().display());
    for (key, value) in harness.session_env() {
        let _ = writeln!(stdout, "{key}={value}");
    }
    let _ = writeln!(stdout, "ready");
    let _ = stdout.flush();
    drop(stdout);
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    if let Err(e) = harness.stop() {
        eprintln!("eidos-hold-user-systemd: {e}");
        std::process::exit(1);
    }
}
