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
        f.write_str(&chain_message(self.error.as_ref()))
    }
}

/// An error and its causes as one line, `outer: inner: …`, each cause once.
///
/// Errors are written two ways: some put their cause in their own message (`cannot read FILE:
/// {source}`) and also return it from `source()`; others leave it to the reader of the chain. A
/// cause whose text the message so far already ends with is therefore skipped, so that an I/O error
/// is never printed twice, whichever way the error type at hand was written.
pub fn chain_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = e.source();
    }
    message
}

/// Shorthand for command results.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Builds a usage error from a formatted message.
#[macro_export]
macro_rules! usage_error {
    ($($arg:tt)*) => { $crate::error::CliError::usage(anyhow::anyhow!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read config file {path}: {source}")]
    struct Embeds {
        path: String,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct Leaves {
        path: String,
        #[source]
        error: std::io::Error,
    }

    fn not_found() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::NotFound)
    }

    #[test]
    fn a_cause_is_printed_once_whether_the_message_embeds_it_or_not() {
        let io = not_found().to_string();
        let embeds = CliError::usage(Embeds {
            path: "/c.toml".into(),
            source: not_found(),
        });
        assert_eq!(
            embeds.to_string(),
            format!("cannot read config file /c.toml: {io}")
        );
        let leaves = CliError::runtime(Leaves {
            path: "/c.toml".into(),
            error: not_found(),
        });
        assert_eq!(leaves.to_string(), format!("cannot read /c.toml: {io}"));
        // anyhow context layers stay, each once.
        let layered: anyhow::Result<()> = Err(Embeds {
            path: "/c.toml".into(),
            source: not_found(),
        })
        .context("loading settings");
        let layered = CliError::usage(layered.unwrap_err());
        assert_eq!(
            layered.to_string(),
            format!("loading settings: cannot read config file /c.toml: {io}")
        );
    }
}
