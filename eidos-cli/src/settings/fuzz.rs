//! Fuzzing the config file parser and the settings resolution with proptest.
//!
//! Three targets: arbitrary text, TOML-shaped documents built from the real keys with hostile
//! values, and hostile environment values. Each must end in a value or an error, never a panic;
//! errors stay short (a capped excerpt, never a whole line) and name where the bad value came
//! from. The number of cases is `PROPTEST_CASES` (default 512 per target), so a longer run is
//! `PROPTEST_CASES=100000 cargo test -p eidos-cli fuzz -- --nocapture`
//! (`scripts/fuzz-config.sh`); each target prints how many inputs it ran.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The longest error message a bad config file or variable may produce.
const MAX_ERROR: usize = 1024;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512);
    TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

/// Parses `text` as a config file and resolves settings from it; panics are the failures.
fn parse_and_resolve(text: &str) -> Result<(), String> {
    let path = Path::new("/fuzz/config.toml");
    let config = match Config::from_text(text, path) {
        Ok(c) => c,
        Err(e) => return Err(e.to_string()),
    };
    let settings = Settings::resolve(
        &Flags::default(),
        &|_| None,
        &config,
        Setting::new(config.path.clone(), Source::Default),
    )
    .map_err(|e| e.to_string())?;
    // Reading every value back must not panic either.
    let _ = crate::commands::config::settings(&settings);
    let _ = settings.output_format(Some(Path::new("out.yaml")));
    Ok(())
}

fn check_error(error: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        error.len() <= MAX_ERROR,
        "error of {} bytes: {}",
        error.len(),
        error.chars().take(200).collect::<String>()
    );
    prop_assert!(
        error.starts_with("config file /fuzz/config.toml"),
        "error does not name the file: {error}"
    );
    Ok(())
}

fn report(target: &str, runs: &AtomicUsize, errors: &AtomicUsize) {
    eprintln!(
        "fuzz {target}: {} inputs, {} refused with an error, 0 crashes",
        runs.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed)
    );
}

#[test]
fn fuzz_arbitrary_text() {
    let (runs, errors) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let strategy = prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..2048)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[a-z=\\[\\]\"'{},.\\n 0-9#-]{0,400}",
    ];
    runner()
        .run(&strategy, |text| {
            runs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = parse_and_resolve(&text) {
                errors.fetch_add(1, Ordering::Relaxed);
                check_error(&e)?;
            }
            Ok(())
        })
        .unwrap();
    report("arbitrary text", &runs, &errors);
}

/// A value in TOML syntax: the shapes the keys take and the ones they must refuse.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| format!("{s:?}")),
        "[0-9]{1,4}(ms|s|m|h|d)?".prop_map(|s| format!("\"{s}\"")),
        "[a-z0-9.:\\[\\]]{0,30}".prop_map(|s| format!("\"{s}\"")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        proptest::collection::vec("[a-z0-9/]{0,12}", 0..4).prop_map(|v| format!("{v:?}")),
        Just(format!("\"{}\"", "a".repeat(5000))),
        Just(format!("\"{}\"", "9".repeat(5000))),
        Just("{ a = 1 }".to_owned()),
    ]
}

const KEYS: &[&str] = &[
    "format",
    "default-collectors",
    "require",
    "timeout",
    "plugin-dirs",
    "plugin-lock",
    "recipes",
    "host-root",
    "unknown-key",
];
const SECTIONS: &[&str] = &[
    "",
    "[timeouts]",
    "[serve]",
    "[collectors.os]",
    "[collectors.x]",
    "[nope]",
];
const SECTION_KEYS: &[&str] = &[
    "k8s",
    "addr",
    "rate-limit",
    "rate-burst",
    "request-timeout",
    "shutdown-timeout",
    "body-limit",
    "root",
    "port",
];

fn toml_document() -> impl Strategy<Value = String> {
    let top = proptest::collection::vec(
        (proptest::sample::select(KEYS), toml_value()).prop_map(|(k, v)| format!("{k} = {v}\n")),
        0..6,
    );
    let sections = proptest::collection::vec(
        (
            proptest::sample::select(SECTIONS),
            proptest::collection::vec(
                (proptest::sample::select(SECTION_KEYS), toml_value())
                    .prop_map(|(k, v)| format!("{k} = {v}\n")),
                0..4,
            ),
        )
            .prop_map(|(s, lines)| format!("{s}\n{}", lines.concat())),
        0..4,
    );
    (top, sections).prop_map(|(top, sections)| top.concat() + &sections.concat())
}

#[test]
fn fuzz_toml_documents_with_the_real_keys() {
    let (runs, errors) = (AtomicUsize::new(0), AtomicUsize::new(0));
    runner()
        .run(&toml_document(), |text| {
            runs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = parse_and_resolve(&text) {
                errors.fetch_add(1, Ordering::Relaxed);
                check_error(&e)?;
            }
            Ok(())
        })
        .unwrap();
    report("toml documents", &runs, &errors);
}

const VARS: &[&str] = &[
    "EIDOS_FORMAT",
    "EIDOS_COLLECTORS",
    "EIDOS_REQUIRE",
    "EIDOS_TIMEOUT",
    "EIDOS_PLUGIN_PATH",
    "EIDOS_NO_DEFAULT_PLUGIN_DIRS",
    "EIDOS_PLUGIN_LOCK",
    "EIDOS_RECIPES",
    "EIDOS_HOST_ROOT",
    "EIDOS_ADDR",
    "PORT",
    "EIDOS_RATE_LIMIT",
    "EIDOS_RATE_BURST",
    "EIDOS_REQUEST_TIMEOUT",
    "EIDOS_SHUTDOWN_TIMEOUT",
    "EIDOS_BODY_LIMIT",
];

#[test]
fn fuzz_environment_values() {
    let (runs, errors) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let value = prop_oneof![
        any::<String>(),
        "[0-9a-z=,.:\\[\\] -]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| {
            use std::os::unix::ffi::OsStringExt;
            OsString::from_vec(b).to_string_lossy().into_owned()
        }),
    ];
    runner()
        .run(&(proptest::sample::select(VARS), value), |(var, value)| {
            runs.fetch_add(1, Ordering::Relaxed);
            let lookup = |name: &str| (name == var).then(|| OsString::from(&value));
            if let Err(e) = Settings::resolve(
                &Flags::default(),
                &lookup,
                &Config::default(),
                Setting::new(None, Source::Default),
            ) {
                errors.fetch_add(1, Ordering::Relaxed);
                let e = e.to_string();
                prop_assert!(e.starts_with(var), "{var}={value:?}: {e}");
            }
            Ok(())
        })
        .unwrap();
    report("environment values", &runs, &errors);
}
