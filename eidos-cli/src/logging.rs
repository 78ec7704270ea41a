//! Logging to standard error with `tracing` (standard output is for data only).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Sets up logging: `quiet_level` by default (warn; info for `eidos serve`), debug with `--debug`,
/// `RUST_LOG` when set; JSON lines with `--log-json`.
pub fn init(debug: bool, json: bool, quiet_level: &str) {
    let default = if debug { "debug" } else { quiet_level };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
    if let Err(e) = result {
        eprintln!("warning: logging could not be set up: {e}");
    }
}
