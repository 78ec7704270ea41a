//! Recipe build time: a typical query against the built-in data, and a query against a store of
//! 200 generated overlays. Goal: at most 50 µs per build.
//!
//! Run: `cargo bench -p eidos-recipes --bench build`.

use criterion::{criterion_group, criterion_main, Criterion};
use eidos_recipes::{Query, RecipeStore};
use std::hint::black_box;

const GPUS: [&str; 7] = ["a100", "l4", "l40s", "h100", "h200", "b200", "gb200"];
const SERVICES: [&str; 5] = ["eks", "gke", "aks", "oke", "self-managed"];

/// A recipe directory with the built-in base and `count` overlays, each keyed on a distinct
/// (gpu, service, k8s minor) and setting three values in two measurement types.
fn generated_store(count: usize) -> (tempfile::TempDir, RecipeStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/base.yaml"))
        .expect("the built-in base");
    std::fs::write(dir.path().join("base.yaml"), base).expect("writing base.yaml");
    let mut text = String::from("overlays:\n");
    for i in 0..count {
        let gpu = GPUS[i % GPUS.len()];
        let service = SERVICES[(i / GPUS.len()) % SERVICES.len()];
        let minor = 20 + i / (GPUS.len() * SERVICES.len());
        text.push_str(&format!(
            "  - key: {{gpu: {gpu}, service: {service}, k8s: \"1.{minor}\"}}\n    description: generated {i}\n    measurements:\n      - type: os\n        subtypes:\n          - subtype: sysctl\n            data: {{/proc/sys/vm/max_map_count: \"{i}\", /proc/sys/generated/{i}: \"1\"}}\n            context: {{/proc/sys/vm/max_map_count: overlay {i}}}\n      - type: k8s\n        subtypes:\n          - subtype: policy\n            data: {{generated.{i}: \"true\"}}\n"
        ));
    }
    std::fs::write(dir.path().join("generated.yaml"), text).expect("writing overlays");
    let store = RecipeStore::load_dir(dir.path()).expect("the generated store loads");
    assert_eq!(store.overlay_count(), count);
    (dir, store)
}

fn query(pairs: &[(&str, &str)]) -> Query {
    Query::from_pairs(pairs.iter().copied()).expect("a valid query")
}

fn bench_build(c: &mut Criterion) {
    let embedded = RecipeStore::embedded().expect("the built-in data loads");
    let typical = query(&[("gpu", "h100"), ("service", "eks")]);
    c.bench_function("build/typical (gpu=h100 service=eks)", |b| {
        b.iter(|| embedded.build(black_box(&typical)))
    });
    let full = query(&[
        ("os", "ubuntu"),
        ("osv", "22.04"),
        ("kernel", "6.8.0-1024-aws"),
        ("service", "eks"),
        ("k8s", "v1.31.4-eks-1"),
        ("gpu", "h100"),
        ("intent", "training"),
        ("context", "true"),
    ]);
    // The floor: copying a finished recipe, which every build must at least do.
    let built = embedded.build(&typical);
    c.bench_function("floor/clone of the typical recipe", |b| {
        b.iter(|| black_box(&built).clone())
    });
    c.bench_function("build/every field, with context", |b| {
        b.iter(|| embedded.build(black_box(&full)))
    });

    let (_dir, generated) = generated_store(200);
    let q = query(&[("gpu", "h100"), ("service", "eks"), ("k8s", "1.22.3")]);
    let matched = generated.build(&q).matched_rules.len();
    assert_eq!(matched, 1, "the generated query matches one overlay");
    c.bench_function(
        "build/200 overlays (gpu=h100 service=eks k8s=1.22.3)",
        |b| b.iter(|| generated.build(black_box(&q))),
    );

    c.bench_function("query/from_pairs (3 fields)", |b| {
        b.iter(|| {
            query(black_box(&[
                ("gpu", "H100"),
                ("service", "eks"),
                ("k8s", "v1.30.14-eks-3025e55"),
            ]))
        })
    });
}

criterion_group!(benches, bench_build);
criterion_main!(benches);
