//! Quality of the recipe data shipped in the binary: for every overlay combination the data
//! allows, the rendered recipe loads, every value is a valid constraint with a context line, and a
//! node configured exactly as the recipe says passes it; driver values meet the branch floors the
//! data documents.

use eidos_plugin_api::Reading;
use eidos_recipes::validate::{
    constraints_from_recipe, snapshot_satisfying, validate, Constraint, Expectation, FailOn,
    Overall, Verdict,
};
use eidos_recipes::vocab::{GPU_VALUES, INTENT_VALUES, OS_VALUES, SERVICE_VALUES};
use eidos_recipes::{Query, Recipe, RecipeStore};
use std::collections::{BTreeSet, HashSet};

/// Version samples: one on each side of every bound an overlay key in the data uses (kernel
/// 5.12; Kubernetes 1.31 and 1.32), and the releases the data names (Ubuntu 22.04 and 24.04) plus
/// one it does not. A new bound in the data needs a sample here; the test fails when an overlay is
/// never applied.
const OSV_SAMPLES: &[&str] = &["22.04", "24.04", "9.4"];
const KERNEL_SAMPLES: &[&str] = &["5.4.0-1103-aws", "6.8.0-1024-aws"];
const K8S_SAMPLES: &[&str] = &["1.30.14", "1.31.4", "1.32.1"];

/// `None` (unspecified) followed by `values`.
fn with_any<'v>(values: &'v [&'v str]) -> impl Iterator<Item = Option<&'v str>> + Clone + 'v {
    std::iter::once(None).chain(values.iter().copied().map(Some))
}

/// The values of an enum field worth trying: those some overlay key names (read from the
/// store's rules, `field=value` before the file name) and one it does not name, if any; all
/// values an overlay does not name give the same recipe.
fn enum_samples(store: &RecipeStore, field: &str, all: &[&'static str]) -> Vec<&'static str> {
    let named = |value: &str| {
        store.rules().any(|rule| {
            let key = rule.split(" (").next().unwrap_or_default();
            key.split(", ")
                .any(|pair| pair == format!("{field}={value}"))
        })
    };
    let mut samples: Vec<&'static str> = all.iter().copied().filter(|v| named(v)).collect();
    samples.extend(all.iter().copied().find(|v| !named(v)));
    samples
}

/// Every query of the enumerated space (without context: the caller asks for it where needed).
fn query_space(store: &RecipeStore) -> Vec<Query> {
    let os = enum_samples(store, "os", OS_VALUES);
    let service = enum_samples(store, "service", SERVICE_VALUES);
    let gpu = enum_samples(store, "gpu", GPU_VALUES);
    let intent = enum_samples(store, "intent", INTENT_VALUES);
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let mut out = Vec::new();
    for os in with_any(&os) {
        for osv in with_any(OSV_SAMPLES) {
            for service in with_any(&service) {
                for gpu in with_any(&gpu) {
                    for intent in with_any(&intent) {
                        for kernel in with_any(KERNEL_SAMPLES) {
                            for k8s in with_any(K8S_SAMPLES) {
                                out.push(Query {
                                    os: owned(os),
                                    osv: owned(osv),
                                    kernel: owned(kernel),
                                    service: owned(service),
                                    k8s: owned(k8s),
                                    gpu: owned(gpu),
                                    intent: owned(intent),
                                    context: false,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The constraints of a rendered recipe, after a round trip through JSON (the recipe as a file
/// `eidos recipe` writes and `eidos validate --recipe` reads; JSON rather than YAML only because
/// it is faster over thousands of recipes).
fn reloaded_constraints(recipe: &Recipe) -> Vec<Constraint> {
    let text = serde_json::to_string(recipe).expect("a recipe serializes");
    let back: Recipe = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{:?}: the rendered recipe does not load: {e}",
            recipe.request
        )
    });
    assert_eq!(
        &back.measurements, &recipe.measurements,
        "{:?}",
        recipe.request
    );
    constraints_from_recipe(&back, None, "recipe.yaml")
        .unwrap_or_else(|e| panic!("{:?}: {e}", recipe.request))
}

#[test]
fn every_overlay_combination_loads_parses_and_passes_its_own_values() {
    let store = RecipeStore::embedded().expect("the embedded recipe data loads");
    let mut combinations: HashSet<Vec<String>> = HashSet::new();
    let mut applied: BTreeSet<String> = BTreeSet::new();
    let mut queries = 0usize;
    for mut query in query_space(&store) {
        queries += 1;
        let rules = store.build(&query).matched_rules;
        // A recipe depends only on the overlays it applies: check each combination once.
        if !combinations.insert(rules) {
            continue;
        }
        query.context = true;
        let recipe = store.build(&query);
        applied.extend(recipe.matched_rules.iter().cloned());
        let constraints = reloaded_constraints(&recipe);
        assert!(!constraints.is_empty(), "{query:?}");
        for c in &constraints {
            assert!(
                c.context
                    .as_deref()
                    .is_some_and(|line| !line.trim().is_empty()),
                "{query:?}: {} has no context line",
                c.path
            );
        }
        let snapshot = snapshot_satisfying(&constraints);
        let strict = FailOn {
            missing: true,
            skipped: true,
        };
        let report = validate(&snapshot, &constraints, strict);
        let not_passed: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.status != eidos_recipes::validate::Status::Passed)
            .map(|r| format!("{}/{}/{} = {:?}", r.kind, r.subtype, r.key, r.expected))
            .collect();
        assert_eq!(
            report.summary.overall,
            Overall::Pass,
            "{query:?}: {not_passed:?}"
        );
        assert_eq!(report.summary.passed, constraints.len(), "{query:?}");
    }
    // The enumeration reaches every overlay the data holds.
    let all: BTreeSet<String> = store.rules().map(str::to_owned).collect();
    let missed: Vec<_> = all.difference(&applied).collect();
    assert!(
        missed.is_empty(),
        "overlays no enumerated query applies: {missed:?}"
    );
    eprintln!(
        "{queries} queries, {} overlay combinations",
        combinations.len()
    );
    assert!(
        combinations.len() > 50,
        "{} combinations",
        combinations.len()
    );
}

/// The expectation the recipe for `query` sets at `kind/subtype/key`, if any.
fn expectation(recipe: &Recipe, kind: &str, subtype: &str, key: &str) -> Option<Expectation> {
    let value = recipe
        .measurements
        .iter()
        .find(|m| m.kind == kind)?
        .subtype(subtype)?
        .data
        .get(key)?;
    Some(Expectation::parse(value).expect("embedded values parse"))
}

fn accepts(e: &Expectation, version: &str) -> bool {
    e.check(Some(&Reading::Str(version.to_owned()))) == Verdict::Pass
}

#[test]
fn driver_values_are_on_a_supported_branch_for_every_gpu_and_service() {
    let store = RecipeStore::embedded().unwrap();
    let driver_keys = [
        ("gpu", "smi", "driver"),
        ("k8s", "image", "driver"),
        ("k8s", "policy", "driver.version"),
    ];
    for gpu in GPU_VALUES {
        for service in with_any(SERVICE_VALUES) {
            for os in [None, Some("ubuntu")] {
                let pairs: Vec<(&str, &str)> =
                    [("gpu", Some(*gpu)), ("service", service), ("os", os)]
                        .into_iter()
                        .filter_map(|(k, v)| v.map(|v| (k, v)))
                        .collect();
                let recipe = store.build(&Query::from_pairs(pairs.clone()).unwrap());
                let host = expectation(&recipe, "gpu", "smi", "driver")
                    .unwrap_or_else(|| panic!("{pairs:?}: no host driver constraint"));
                // R570 and R535 are end of life; R580, R595 and R620 are supported.
                for old in ["535.288.01", "570.211.01", "570.133.20"] {
                    assert!(!accepts(&host, old), "{pairs:?}: host driver accepts {old}");
                }
                for current in ["580.126.20", "580.159.03", "595.71.05"] {
                    assert!(
                        accepts(&host, current),
                        "{pairs:?}: host driver rejects {current}"
                    );
                }
                if *gpu == "gb200" {
                    // Every driver value a GB200 recipe renders is on R580 or later.
                    for (kind, sub, key) in driver_keys {
                        match expectation(&recipe, kind, sub, key) {
                            None | Some(Expectation::Absent) => {
                                assert!(
                                    (kind, sub) == ("k8s", "image"),
                                    "{pairs:?}: GB200 has no {kind}/{sub}/{key}"
                                );
                            }
                            Some(e) => {
                                assert!(
                                    !accepts(&e, "570.172.08"),
                                    "{pairs:?}: {kind}/{sub}/{key}"
                                );
                                assert!(accepts(&e, "580.82.07"), "{pairs:?}: {kind}/{sub}/{key}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn version_constraints_name_the_document_they_come_from() {
    let store = RecipeStore::embedded().unwrap();
    let documents = [
        "GPU Operator",
        "Data Center Drivers",
        "CVE-",
        "EKS",
        "GKE",
        "AKS",
        "OKE",
        "kubeadm",
        "Architecture Matrix",
        "DRA Driver",
    ];
    let mut checked = 0;
    for gpu in with_any(GPU_VALUES) {
        for service in with_any(SERVICE_VALUES) {
            let pairs: Vec<(&str, &str)> = [
                ("gpu", gpu),
                ("service", service),
                ("context", Some("true")),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            let recipe = store.build(&Query::from_pairs(pairs.clone()).unwrap());
            for c in constraints_from_recipe(&recipe, None, "").unwrap() {
                let versioned = matches!(c.expectation, Expectation::Range(_))
                    && (matches!(c.path.kind.as_str(), "k8s" | "gpu")
                        || c.path.key.ends_with("osrelease"));
                if !versioned {
                    continue;
                }
                checked += 1;
                let context = c.context.unwrap_or_default();
                assert!(
                    documents.iter().any(|d| context.contains(d)),
                    "{pairs:?}: {} {:?} names no source document: {context}",
                    c.path,
                    c.expected
                );
            }
        }
    }
    assert!(checked > 0);
}
