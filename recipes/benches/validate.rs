//! Validation time: checking the reference-sized snapshot of a real H100 EKS node (the in-repo
//! fixture, about 1,800 lines in the original tool's format) against the recipe it implies.
//! Goal: at most 50 µs for the check itself.
//!
//! Run: `cargo bench -p eidos-recipes --bench validate`.

use criterion::{criterion_group, criterion_main, Criterion};
use eidos_plugin_api::Snapshot;
use eidos_recipes::validate::{self, FailOn};
use eidos_recipes::{Query, RecipeStore};
use std::hint::black_box;

fn bench_validate(c: &mut Criterion) {
    let store = RecipeStore::embedded().expect("the built-in data loads");
    let snapshot: Snapshot = serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML)
        .expect("the fixture is a snapshot");
    let query = Query {
        context: true,
        ..Query::from_snapshot(&snapshot)
    };
    let recipe = store.build(&query);
    let readings: usize = snapshot
        .measurements
        .iter()
        .flat_map(|m| &m.subtypes)
        .map(|s| s.data.len())
        .sum();
    let constraints =
        validate::constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "recipe")
            .expect("the built-in data's values are constraints");
    let report = validate::validate(&snapshot, &constraints, FailOn::default());
    eprintln!(
        "{} readings, {} constraints, {}",
        readings,
        constraints.len(),
        report.summary.line()
    );
    c.bench_function(
        "validate/check (h100 eks recipe, reference-sized snapshot)",
        |b| {
            b.iter(|| {
                validate::validate(
                    black_box(&snapshot),
                    black_box(&constraints),
                    FailOn::default(),
                )
            })
        },
    );
    c.bench_function("validate/recipe + provenance + constraints + check", |b| {
        b.iter(|| {
            let recipe = store.build(black_box(&query));
            let provenance = store.provenance(&query);
            let constraints =
                validate::constraints_from_recipe(&recipe, Some(&provenance), "recipe")
                    .expect("valid");
            validate::validate(black_box(&snapshot), &constraints, FailOn::default())
        })
    });
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
