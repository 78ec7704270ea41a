//! Test support for plugin authors (feature `test-support`): a [`CollectContext`] for a
//! collector's unit tests, built the way the export layer builds it, so that no plugin test has to
//! assemble one by hand.
//!
//! ```
//! # #[cfg(feature = "test-support")] {
//! use eidos_plugin_api::testing::TestContext;
//! let test = TestContext::new().option("bus", "session").host_root("/tmp");
//! let ctx = test.context();
//! assert_eq!(ctx.option("bus"), Some("session"));
//! # }
//! ```
//!
//! Enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! eidos-plugin-api = { version = "1.2", features = ["test-support"] }
//! ```

use crate::{CancelToken, CollectContext, CollectError, Collector, OptionSpec, Outcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a test hands a collector: options, host root, timeout, a cancellation flag and (with
/// [`TestContext::for_collector`]) the collector's declared option specs, so that defaults apply
/// as they do in a real run.
#[derive(Debug)]
pub struct TestContext {
    options: BTreeMap<String, String>,
    specs: Vec<OptionSpec>,
    host_root: PathBuf,
    timeout: Duration,
    cancelled: Arc<AtomicBool>,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    /// No options, host root `/`, a 5 s timeout, not cancelled.
    pub fn new() -> Self {
        TestContext {
            options: BTreeMap::new(),
            specs: Vec::new(),
            host_root: PathBuf::from("/"),
            timeout: Duration::from_secs(5),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Like [`TestContext::new`], with the option specs collector `C` declares (its typed
    /// options' defaults apply).
    pub fn for_collector<C: Collector>() -> Self {
        TestContext {
            specs: crate::export::option_specs::<C>(),
            ..Self::new()
        }
    }

    /// Sets an option, as `--set NAME.KEY=VALUE` would.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }

    /// Sets the host root (a fixture directory standing for `/`).
    pub fn host_root(mut self, root: impl AsRef<Path>) -> Self {
        self.host_root = root.as_ref().to_owned();
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts out cancelled, as if the host had asked the collector to stop.
    pub fn cancelled(self) -> Self {
        self.cancelled.store(true, Ordering::Relaxed);
        self
    }

    /// Asks the collector to stop.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// The cancellation flag, for a test that cancels from another thread while `collect` runs.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }

    /// Uses `flag` as the cancellation flag (shared with the test, which sets it to cancel).
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = flag;
        self
    }

    /// The context to pass to `collect`.
    pub fn context(&self) -> CollectContext<'_> {
        CollectContext::new(
            &self.options,
            &self.host_root,
            self.timeout,
            CancelToken::new(&self.cancelled),
        )
        .with_option_specs(&self.specs)
    }

    /// Runs collector `C` with this context (its declared option defaults apply).
    pub fn collect<C: Collector>(&self) -> Result<Outcome, CollectError> {
        if self.specs.is_empty() {
            let with_specs = TestContext {
                options: self.options.clone(),
                specs: crate::export::option_specs::<C>(),
                host_root: self.host_root.clone(),
                timeout: self.timeout,
                cancelled: Arc::clone(&self.cancelled),
            };
            return C::collect(&with_specs.context());
        }
        C::collect(&self.context())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Measurement, OptionDecl, Subtype};

    struct Echo;
    impl Collector for Echo {
        const NAME: &'static str = "echo";
        const DESCRIPTION: &'static str = "echoes its options";
        const OPTION_SPECS: &'static [OptionDecl] = &[
            OptionDecl::integer("count", "how many").with_default("3"),
            OptionDecl::list("names", "names"),
        ];
        fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            ctx.check_cancelled()?;
            let count = ctx.option_integer("count")?.unwrap_or(0);
            let names = ctx.option_list("names").unwrap_or_default().join("+");
            Ok(Outcome::one(Measurement::new(
                "echo",
                vec![Subtype::new("s")
                    .with("count", count)
                    .with("names", names)
                    .with("root", ctx.host_path("/x").display().to_string())],
            )))
        }
    }

    fn data(outcome: Outcome) -> Subtype {
        let Outcome::Collected(c) = outcome else {
            panic!("{outcome:?}")
        };
        c.measurements[0].subtypes[0].clone()
    }

    #[test]
    fn a_test_context_applies_declared_defaults_options_and_root() {
        let got = data(TestContext::new().collect::<Echo>().unwrap());
        assert_eq!(got.data["count"], 3.into());
        assert_eq!(got.data["root"], "/x".into());
        let got = data(
            TestContext::for_collector::<Echo>()
                .option("count", "7")
                .option("names", "a, b")
                .host_root("/fixture")
                .collect::<Echo>()
                .unwrap(),
        );
        assert_eq!(got.data["count"], 7.into());
        assert_eq!(got.data["names"], "a+b".into());
        assert_eq!(got.data["root"], "/fixture/x".into());
    }

    #[test]
    fn a_test_context_reports_bad_values_and_cancellation() {
        let err = TestContext::new()
            .option("count", "many")
            .collect::<Echo>()
            .unwrap_err();
        assert!(
            matches!(&err, CollectError::InvalidOption { key, value, .. } if key == "count" && value == "many"),
            "{err:?}"
        );
        let err = TestContext::new()
            .cancelled()
            .collect::<Echo>()
            .unwrap_err();
        assert_eq!(err, CollectError::Cancelled);
    }
}
