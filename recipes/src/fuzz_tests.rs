//! Fuzzing, driven by proptest, of the parsers that take outside text: the version parser, the
//! query parser (name=value pairs from flags and URLs, JSON bodies) and the recipe data loader
//! (arbitrary YAML documents and arbitrary bytes). Each runs a bounded number of cases
//! (`FUZZ_CASES`, default below; `PROPTEST_CASES` does not apply) and fails on a panic or a
//! broken invariant; proptest shrinks a failure to a small input and saves it under
//! `proptest-regressions/`.
//!
//! A longer run: `FUZZ_CASES=200000 cargo test -p eidos-recipes --release fuzz_`.

use crate::data;
use crate::query::ParsedQuery;
use crate::{Query, RecipeStore, Version, BASE_FILE};
use proptest::prelude::*;

/// Cases per target unless `FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 1_000;

fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like versions often enough to reach deep into the parser.
fn version_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[vV]?[0-9]{0,25}(\\.[0-9]{0,25}){0,4}([-+][a-zA-Z0-9._~+-]{0,12})?",
        "[ <>=~^,0-9.vx*-]{0,30}",
    ]
}

/// Arbitrary YAML values, nested a few levels, with keys and scalars from the recipe format's
/// vocabulary mixed with anything.
fn yaml_value() -> impl Strategy<Value = serde_yaml::Value> {
    let word = prop_oneof![
        Just("overlays".to_owned()),
        Just("measurements".to_owned()),
        Just("key".to_owned()),
        Just("type".to_owned()),
        Just("subtypes".to_owned()),
        Just("subtype".to_owned()),
        Just("data".to_owned()),
        Just("context".to_owned()),
        Just("description".to_owned()),
        Just("os".to_owned()),
        Just("gpu".to_owned()),
        Just("k8s".to_owned()),
        Just("h100".to_owned()),
        Just(">=1.30, <1.2".to_owned()),
        any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(serde_yaml::Value::Null),
        any::<bool>().prop_map(serde_yaml::Value::Bool),
        any::<i64>().prop_map(|n| serde_yaml::Value::Number(n.into())),
        any::<u64>().prop_map(|n| serde_yaml::Value::Number(n.into())),
        any::<f64>().prop_map(|n| serde_yaml::Value::Number(n.into())),
        word.clone().prop_map(serde_yaml::Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_yaml::Value::Sequence),
            prop::collection::vec((word.clone(), inner), 0..6).prop_map(|entries| {
                serde_yaml::Value::Mapping(
                    entries
                        .into_iter()
                        .map(|(k, v)| (serde_yaml::Value::String(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Loads `text` both as the base and as an overlay file, through the whole store.
fn load_both_ways(text: &str) {
    let _ = data::parse_base(text);
    let _ = data::parse_overlays(text);
    let base = "measurements: []\n";
    if let Ok(store) = RecipeStore::from_files(
        [
            ("base".to_owned(), BASE_FILE.to_owned(), base),
            ("o".to_owned(), "o.yaml".to_owned(), text),
        ],
        "fuzz",
    ) {
        // Whatever loaded can build a recipe.
        let _ = store.build(&Query::default());
    }
}

proptest! {
    #![proptest_config(config())]

    /// The version parser never panics, and what it accepts displays as text it accepts again,
    /// to the same version.
    #[test]
    fn fuzz_version_parser(text in version_like()) {
        if let Ok(version) = Version::parse(&text) {
            let shown = version.to_string();
            prop_assert_eq!(Version::parse(&shown), Ok(version), "{:?} → {:?}", text, shown);
        }
        let _ = crate::key::VersionSpec::parse(&text, "version").map(|spec| spec.can_match());
    }

    /// Query pairs (flags, URL parameters): no panic; an accepted query is normalized (validating
    /// it again changes nothing) and builds.
    #[test]
    fn fuzz_query_pairs(
        pairs in prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(vec!["os", "osv", "kernel", "service", "k8s", "gpu", "intent", "context", " GPU "]).prop_map(str::to_owned),
                    any::<String>(),
                ],
                prop_oneof![version_like(), any::<String>()],
            ),
            0..6,
        )
    ) {
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        if let Ok(query) = Query::from_pairs(borrowed) {
            prop_assert_eq!(query.clone().validated(), Ok(query.clone()));
            let _ = ParsedQuery::new(&query);
            let _ = RecipeStore::embedded().map(|store| store.build(&query));
        }
    }

    /// JSON query bodies: no panic in deserializing, validating or (unvalidated) building.
    #[test]
    fn fuzz_query_json(
        fields in prop::collection::vec(
            (
                prop::sample::select(vec!["os", "osv", "kernel", "service", "k8s", "gpu", "intent", "context", "other"]),
                prop_oneof![version_like().prop_map(serde_json::Value::String), any::<bool>().prop_map(serde_json::Value::Bool), any::<i64>().prop_map(|n| serde_json::Value::Number(n.into()))],
            ),
            0..8,
        )
    ) {
        let body = serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        if let Ok(query) = serde_json::from_value::<Query>(body) {
            let _ = RecipeStore::embedded().map(|store| store.build(&query));
            let _ = query.validated();
        }
    }

    /// The recipe data loader on arbitrary YAML documents: no panic.
    #[test]
    fn fuzz_loader_yaml_documents(value in yaml_value()) {
        let text = serde_yaml::to_string(&value).unwrap_or_default();
        load_both_ways(&text);
        let wrapped = serde_yaml::to_string(&serde_yaml::Mapping::from_iter([(
            serde_yaml::Value::String("overlays".into()),
            value,
        )]))
        .unwrap_or_default();
        load_both_ways(&wrapped);
    }

    /// The recipe data loader on arbitrary bytes (as text: files are read as UTF-8), and on
    /// valid overlay files with bytes flipped: no panic.
    #[test]
    fn fuzz_loader_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        load_both_ways(&String::from_utf8_lossy(&bytes));
        let mut valid = b"overlays:\n  - key: {k8s: \">=1.30, <1.32\", gpu: h100}\n    description: x\n    measurements:\n      - type: os\n        subtypes:\n          - subtype: sysctl\n            data: {a: \"1\", b: 2}\n            context: {a: why}\n".to_vec();
        for (at, byte) in flips {
            let i = at.index(valid.len());
            valid[i] = byte;
        }
        load_both_ways(&String::from_utf8_lossy(&valid));
    }
}
