//! Fuzzing the snapshot reader with proptest: arbitrary bytes, the Go tool's snapshot fixture with
//! bytes changed, and arbitrary documents shaped like snapshots (in JSON and YAML, whole and cut short), must never panic. Each campaign runs a
//! bounded number of inputs and prints how many ran and how long the slowest took.
//!
//! The number of cases is bounded so that the suite stays quick; `PROPTEST_CASES=100000 cargo
//! test -p eidos-cli fuzz_` runs a longer campaign. Each test prints how many inputs it ran.

use super::parse_snapshot;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cases per test unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 400;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, nested a few levels.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((".{0,10}", inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A document shaped like a snapshot, with arbitrary values where the model expects readings.
fn snapshot_like() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![Just("Snapshot".to_owned()), ".{0,10}"];
    let measurement = (
        prop_oneof![
            Just("os".to_owned()),
            Just("GPU".to_owned()),
            Just("K8s".to_owned()),
            ".{0,8}"
        ],
        prop::collection::vec(
            (
                ".{0,10}",
                prop::collection::vec((".{0,16}", any_value()), 0..6),
            ),
            0..4,
        ),
    )
        .prop_map(|(kind, subtypes)| {
            let subtypes: Vec<Value> = subtypes
                .into_iter()
                .map(|(name, data)| {
                    serde_json::json!({
                        "subtype": name,
                        "data": data.into_iter().collect::<Map<_, _>>(),
                    })
                })
                .collect();
            serde_json::json!({"type": kind, "subtypes": subtypes})
        });
    (
        kind,
        any_value(),
        prop::collection::vec(prop_oneof![measurement, any_value()], 0..4),
    )
        .prop_map(|(kind, metadata, measurements)| {
            serde_json::json!({
                "kind": kind,
                "apiVersion": "snapshot.dgxc.io/v1",
                "metadata": metadata,
                "measurements": measurements,
            })
        })
}

/// Runs `check` on `cases` inputs from `strategy`, failing with the smallest input that panics
/// (proptest catches the panic and shrinks), and returns how many inputs ran.
fn campaign<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value)) -> usize
where
    S::Value: std::fmt::Debug,
{
    let config = config();
    let runs = AtomicUsize::new(0);
    let slowest = std::sync::Mutex::new(std::time::Duration::ZERO);
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    let result = runner.run(&strategy, |input| {
        let start = std::time::Instant::now();
        check(input);
        let took = start.elapsed();
        if let Ok(mut slowest) = slowest.lock() {
            *slowest = (*slowest).max(took);
        }
        runs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let runs = runs.into_inner();
    let slowest = slowest.into_inner().unwrap_or_default();
    eprintln!("{name}: {runs} inputs, no crash, slowest input {slowest:?}");
    assert!(
        runs >= config.cases as usize,
        "{name}: only {runs} inputs ran"
    );
    runs
}

#[test]
fn fuzz_arbitrary_bytes_never_panic() {
    campaign(
        "snapshot reader, arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..4096),
        |bytes| {
            let _ = parse_snapshot(&bytes);
        },
    );
}

#[test]
fn fuzz_mutated_go_snapshots_never_panic() {
    let original = eidos_test_fixtures::H100_EKS_GO_YAML.as_bytes();
    let edit = (any::<prop::sample::Index>(), 0..3u8, any::<u8>());
    campaign(
        "snapshot reader, the Go fixture with bytes changed, inserted or removed",
        prop::collection::vec(edit, 1..16),
        |edits| {
            let mut bytes = original.to_vec();
            for (at, kind, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            let _ = parse_snapshot(&bytes);
        },
    );
}

#[test]
fn fuzz_snapshot_like_documents_never_panic() {
    campaign(
        "snapshot reader, snapshot-like JSON and YAML, whole and cut",
        (snapshot_like(), any::<prop::sample::Index>()),
        |(doc, cut)| {
            let json = serde_json::to_string(&doc).unwrap();
            let yaml = serde_yaml::to_string(&doc).unwrap();
            for text in [&json, &yaml] {
                let _ = parse_snapshot(text.as_bytes());
                // Cut short anywhere, even inside a UTF-8 sequence.
                let _ = parse_snapshot(&text.as_bytes()[..cut.index(text.len() + 1)]);
            }
        },
    );
}
