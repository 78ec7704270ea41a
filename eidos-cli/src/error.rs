//! Errors at the binary's edge, and the exit codes scripts rely on.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure (a collector failed, a file could not be written …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error (bad flag, unknown collector or format, bad `--set`).
pub const EXIT_USAGE: u8 = 2;

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Usage errors exit 2, everything else 1.
    pub usage: bool,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            usage: true,
            error: error.into(),
        }
    }

    /// A runtime failure (exit code 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            usage: false,
            error: error.into(),
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        if self.usage {
            EXIT_USAGE
        } else {
            EXIT_FAILURE
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Shorthand for command results.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Builds a usage error from a formatted message.
#[macro_export]
macro_rules! usage_error {
    ($($arg:tt)*) => { $crate::error::CliError::usage(anyhow::anyhow!($($arg)*)) };
}
