//! Errors at the binary's edge, and the exit codes scripts rely on.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure (a collector failed, a file could not be written …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error (bad flag, unknown collector or format, bad `--set`).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a check that found a problem (`eidos validate`: a required constraint failed).
pub const EXIT_CHECK_FAILED: u8 = 3;

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Usage errors exit 2, everything else 1 (unless `check_failed`).
    pub usage: bool,
    /// A check found a problem: exit 3 (the command's output says what).
    pub check_failed: bool,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            usage: true,
            check_failed: false,
            error: error.into(),
        }
    }

    /// A runtime failure (exit code 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            usage: false,
            check_failed: false,
            error: error.into(),
        }
    }

    /// A check found a problem (exit code 3): the run worked, the node is not as it should be.
    pub fn check_failed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            usage: false,
            check_failed: true,
            error: error.into(),
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        if self.check_failed {
            EXIT_CHECK_FAILED
        } else if self.usage {
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
