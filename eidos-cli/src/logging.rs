//! Logging to standard error with `tracing` (standard output is for data only).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Sets up logging: warnings by default, debug with `--debug`, `RUST_LOG` when set; JSON lines with
/// `--log-json`.
pub fn init(debug: bool, json: bool) {
    let default = if debug { "debug" } else { "warn" };
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
