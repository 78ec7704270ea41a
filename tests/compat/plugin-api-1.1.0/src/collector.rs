//! The trait collector plugins implement, and what they are handed.

use crate::model::Measurement;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A collector plugin: reads one part of a node and returns measurements.
///
/// Implement it on a unit struct and export it with [`crate::export_collector!`]. `collect` runs on
/// a thread of the host's; it may block (file reads, D-Bus, HTTP), but should check
/// [`CollectContext::is_cancelled`] between steps and bound its own I/O by
/// [`CollectContext::timeout`]. A panic is caught at the boundary and reported as an error.
pub trait Collector {
    /// The collector's name (`--collectors NAME`, `--set NAME.KEY=VALUE`).
    const NAME: &'static str;
    /// One line saying what it collects.
    const DESCRIPTION: &'static str;
    /// The option keys it accepts, each with one line of help. The host refuses any other key.
    const OPTIONS: &'static [(&'static str, &'static str)] = &[];

    /// Collects measurements, or says why this collector does not apply here.
    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError>;
}

/// What a collector returns when it applies to the node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collection {
    /// The measurements collected (usually one).
    pub measurements: Vec<Measurement>,
    /// Problems that did not stop collection (e.g. a missing permission for one part).
    pub warnings: Vec<String>,
}

/// The result of a successful collector run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Measurements were collected.
    Collected(Collection),
    /// The collector does not apply here (no GPU, no cluster, no systemd); never a failure.
    NotApplicable(String),
}

impl Outcome {
    /// A collection of one measurement and no warnings.
    pub fn one(measurement: Measurement) -> Self {
        Outcome::Collected(Collection {
            measurements: vec![measurement],
            warnings: Vec::new(),
        })
    }

    /// "Not applicable here", with the reason.
    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Outcome::NotApplicable(reason.into())
    }
}

/// Why a collector failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// An option had a value the collector cannot use.
    #[error("invalid value {value:?} for option {key}: expected {expected}")]
    InvalidOption {
        /// The option key.
        key: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The host cancelled the run.
    #[error("cancelled by the host")]
    Cancelled,
    /// Anything else, described for an operator.
    #[error("{0}")]
    Failed(String),
}

impl CollectError {
    /// A failure described by `message`.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        CollectError::Failed(message.to_string())
    }
}

/// The host's cancellation flag, as a collector sees it.
#[derive(Clone, Copy)]
pub struct CancelToken<'a>(&'a AtomicBool);

impl<'a> CancelToken<'a> {
    /// Wraps the host's flag.
    pub fn new(flag: &'a AtomicBool) -> Self {
        CancelToken(flag)
    }

    /// Whether the host has asked the collector to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for CancelToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CancelToken")
            .field(&self.is_cancelled())
            .finish()
    }
}

/// Everything the host gives a collector for one run.
#[derive(Debug, Clone)]
pub struct CollectContext<'a> {
    options: &'a BTreeMap<String, String>,
    host_root: &'a Path,
    timeout: Duration,
    started: Instant,
    cancel: CancelToken<'a>,
}

impl<'a> CollectContext<'a> {
    /// Builds a context. The export layer does this from the host's request; tests of a collector
    /// can call it directly.
    pub fn new(
        options: &'a BTreeMap<String, String>,
        host_root: &'a Path,
        timeout: Duration,
        cancel: CancelToken<'a>,
    ) -> Self {
        CollectContext {
            options,
            host_root,
            timeout,
            started: Instant::now(),
            cancel,
        }
    }

    /// The value of an option, if set.
    pub fn option(&self, key: &str) -> Option<&'a str> {
        self.options.get(key).map(String::as_str)
    }

    /// All options that were set.
    pub fn options(&self) -> &'a BTreeMap<String, String> {
        self.options
    }

    /// A boolean option (`true`/`false`, `1`/`0`, `yes`/`no`), or `default` when unset.
    pub fn bool_option(&self, key: &str, default: bool) -> Result<bool, CollectError> {
        match self.option(key) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(CollectError::InvalidOption {
                    key: key.to_owned(),
                    value: v.to_owned(),
                    expected: "true or false".to_owned(),
                }),
            },
        }
    }

    /// The host root prefix (`/` unless the host was mounted elsewhere, e.g. `/host` in a pod).
    pub fn host_root(&self) -> &'a Path {
        self.host_root
    }

    /// An absolute node path (e.g. `/proc/cmdline`) resolved under the host root.
    pub fn host_path(&self, absolute: &str) -> PathBuf {
        self.host_root.join(absolute.trim_start_matches('/'))
    }

    /// How long the host waits for this collector in total.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// What is left of the timeout (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.started.elapsed())
    }

    /// Whether the host has asked the collector to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// `Err(CollectError::Cancelled)` once the host has asked the collector to stop.
    pub fn check_cancelled(&self) -> Result<(), CollectError> {
        if self.is_cancelled() {
            Err(CollectError::Cancelled)
        } else {
            Ok(())
        }
    }
}
