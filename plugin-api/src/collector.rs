//! The trait collector plugins implement, and what they are handed.

use crate::model::Measurement;
use crate::options::{bool_expected, parse_bool, split_list, OptionDecl};
use crate::OptionSpec;
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
    /// These options are untyped: the host passes any text. Prefer [`Collector::OPTION_SPECS`].
    const OPTIONS: &'static [(&'static str, &'static str)] = &[];
    /// Typed options: each key with its type, help and optional default. The host checks every
    /// value against its type before any collector runs, and `eidos plugins describe` shows them.
    /// Read them with [`CollectContext::option_bool`] and its siblings, which apply the default.
    /// A key declared here and in [`Collector::OPTIONS`] is typed. Since plugin API 1.2.
    const OPTION_SPECS: &'static [OptionDecl] = &[];
    /// Key patterns (`TYPE/SUBTYPE/KEY`, `*` matches any run of characters) of readings that change
    /// between runs on an unchanged node: timestamps, PIDs, counters, load averages. `eidos diff`
    /// and `eidos fleet report` ignore them by default. Since plugin API 1.2.
    const VOLATILE_KEYS: &'static [&'static str] = &[];
    /// Key patterns (same syntax) of readings that identify a site, a node or a person: addresses,
    /// host names, serial numbers, registry hosts. Redaction replaces their values. Since plugin
    /// API 1.2.
    const SENSITIVE_KEYS: &'static [&'static str] = &[];

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

    /// A collection with warnings: problems that did not stop collection. Since plugin API 1.2.
    pub fn with_warnings(measurements: Vec<Measurement>, warnings: Vec<String>) -> Self {
        Outcome::Collected(Collection {
            measurements,
            warnings,
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

fn invalid(key: &str, value: &str, expected: String) -> CollectError {
    CollectError::InvalidOption {
        key: key.to_owned(),
        value: value.to_owned(),
        expected,
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
    specs: &'a [OptionSpec],
    host_root: &'a Path,
    timeout: Duration,
    started: Instant,
    cancel: CancelToken<'a>,
}

impl<'a> CollectContext<'a> {
    /// Builds a context. The export layer does this from the host's request; a collector's own
    /// tests use `testing::TestContext` (feature `test-support`) instead, which builds it the same
    /// way with the collector's declared options (eidos's own plugins must: a test in
    /// `tests/tests/plugin_sources.rs` checks that none calls this).
    pub fn new(
        options: &'a BTreeMap<String, String>,
        host_root: &'a Path,
        timeout: Duration,
        cancel: CancelToken<'a>,
    ) -> Self {
        CollectContext {
            options,
            specs: &[],
            host_root,
            timeout,
            started: Instant::now(),
            cancel,
        }
    }

    /// The same context, reading option defaults from `specs` (the export layer passes the
    /// collector's [`Collector::OPTION_SPECS`]). Since plugin API 1.2.
    pub fn with_option_specs(mut self, specs: &'a [OptionSpec]) -> Self {
        self.specs = specs;
        self
    }

    /// The value of an option as it was set, if set (declared defaults are not applied; the typed
    /// accessors such as [`CollectContext::option_bool`] apply them).
    pub fn option(&self, key: &str) -> Option<&'a str> {
        self.options.get(key).map(String::as_str)
    }

    /// All options that were set.
    pub fn options(&self) -> &'a BTreeMap<String, String> {
        self.options
    }

    /// A boolean option, or `default` when unset. Accepted spellings, in any ASCII case:
    /// `true`, `1`, `yes`, `on` and `false`, `0`, `no`, `off` ([`crate::options::BOOL_SPELLINGS`]).
    /// Whitespace around the value is ignored (since plugin API 1.2; 1.1 refused `" yes"`). Any
    /// other value is [`CollectError::InvalidOption`], whose message lists those spellings.
    pub fn bool_option(&self, key: &str, default: bool) -> Result<bool, CollectError> {
        match self.option(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| invalid(key, v, bool_expected())),
        }
    }

    /// The value set for `key`, else the default its [`OptionDecl`] declares.
    pub fn option_or_default(&self, key: &str) -> Option<&'a str> {
        self.option(key).or_else(|| {
            self.specs
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.default.as_deref())
        })
    }

    /// A typed option read as a boolean (spellings as for [`CollectContext::bool_option`]); the
    /// declared default when unset; `None` when neither. Since plugin API 1.2.
    pub fn option_bool(&self, key: &str) -> Result<Option<bool>, CollectError> {
        self.typed(key, |v| parse_bool(v).ok_or_else(bool_expected))
    }

    /// A typed option read as a whole number; the declared default when unset. Since plugin API
    /// 1.2.
    pub fn option_integer(&self, key: &str) -> Result<Option<i64>, CollectError> {
        self.typed(key, |v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| "a whole number such as 10 or -3".to_owned())
        })
    }

    /// A typed option read as a duration (`500ms`, `5s`, `1m 30s`); the declared default when
    /// unset. Since plugin API 1.2.
    pub fn option_duration(&self, key: &str) -> Result<Option<Duration>, CollectError> {
        self.typed(key, |v| {
            humantime::parse_duration(v.trim())
                .map_err(|_| "a duration such as 500ms, 5s or 1m".to_owned())
        })
    }

    /// A typed option read as text (also for `one-of` options); the declared default when unset.
    /// Since plugin API 1.2.
    pub fn option_str(&self, key: &str) -> Option<&'a str> {
        self.option_or_default(key)
    }

    /// A typed option read as a list of strings (comma-separated on the wire, items trimmed, empty
    /// items dropped); the declared default when unset. Since plugin API 1.2.
    pub fn option_list(&self, key: &str) -> Option<Vec<String>> {
        self.option_or_default(key).map(split_list)
    }

    fn typed<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, CollectError> {
        match self.option_or_default(key) {
            None => Ok(None),
            Some(v) => parse(v)
                .map(Some)
                .map_err(|expected| invalid(key, v, expected)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::BOOL_SPELLINGS;

    fn context_with<'a>(
        options: &'a BTreeMap<String, String>,
        flag: &'a AtomicBool,
    ) -> CollectContext<'a> {
        CollectContext::new(
            options,
            Path::new("/"),
            Duration::from_secs(1),
            CancelToken::new(flag),
        )
    }

    /// The spellings `bool_option`'s doc comment lists (the backquoted words of its first
    /// sentences), read from this very file, so that the doc cannot drift from the parser.
    fn documented_spellings() -> Vec<String> {
        let source = include_str!("collector.rs");
        let signature = source
            .find("pub fn bool_option(")
            .expect("bool_option in collector.rs");
        let doc: Vec<&str> = source[..signature]
            .lines()
            .rev()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("///"))
            .collect();
        let doc: String = doc.into_iter().rev().collect::<Vec<_>>().join(" ");
        let listed = doc
            .split_once("Accepted spellings")
            .and_then(|(_, rest)| rest.split_once('('))
            .expect("bool_option's doc lists its spellings before a parenthesis")
            .0;
        listed
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn bool_option_doc_lists_exactly_the_accepted_spellings() {
        assert_eq!(documented_spellings(), BOOL_SPELLINGS);
    }

    #[test]
    fn bool_option_accepts_each_spelling_trimmed_and_names_them_all_when_refusing() {
        let flag = AtomicBool::new(false);
        for (i, spelling) in BOOL_SPELLINGS.iter().enumerate() {
            for given in [
                spelling.to_string(),
                spelling.to_uppercase(),
                format!(" {spelling}\t"),
            ] {
                let options = BTreeMap::from([("verbose".to_owned(), given.clone())]);
                let ctx = context_with(&options, &flag);
                assert_eq!(
                    ctx.bool_option("verbose", false).ok(),
                    Some(i < 4),
                    "{given:?}"
                );
            }
        }
        let none = BTreeMap::new();
        assert_eq!(
            context_with(&none, &flag).bool_option("verbose", true).ok(),
            Some(true)
        );

        let options = BTreeMap::from([("verbose".to_owned(), "maybe".to_owned())]);
        let err = context_with(&options, &flag)
            .bool_option("verbose", false)
            .unwrap_err();
        assert!(matches!(err, CollectError::InvalidOption { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid value \"maybe\" for option verbose: expected a boolean: one of true, 1, yes, \
             on, false, 0, no, off (any case)"
        );
    }
}
