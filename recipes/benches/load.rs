//! Recipe data load time as the input grows; the goal is linear growth (issue 18):
//! - 4,000 and 40,000 generated overlays (duplicate detection used to be quadratic: 4.5 s for
//!   40,000);
//! - a base file nested 20,000 and 100,000 levels deep (`x: {a: {a: …}}`), refused by the nesting
//!   check (parsing it used to take time quadratic in the depth: 1.6 s and 44 s);
//! - 1,000 and 10,000 lines each nested 60 levels deep (just under the limit), parsed in full.
//!
//! Run: `cargo bench -p eidos-recipes --bench load`. Compare the medians of each pair: ten (or
//! five) times the input should take about ten (five) times as long, not a hundred
//! (twenty-five); a refusal need not even read the whole nesting.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use eidos_recipes::RecipeStore;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const GPUS: [&str; 7] = ["a100", "l4", "l40s", "h100", "h200", "b200", "gb200"];
const SERVICES: [&str; 5] = ["eks", "gke", "aks", "oke", "self-managed"];
/// Overlays per generated file (keeps each file well under the size limit).
const PER_FILE: usize = 1_000;

const BASE: &str = "measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data: {a: \"1\"}\n";

/// Writes a recipe directory with `count` overlays, each keyed on a distinct
/// (gpu, service, k8s minor).
fn generated_dir(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("base.yaml"), BASE).expect("writing base.yaml");
    let mut text = String::new();
    for i in 0..count {
        if i % PER_FILE == 0 {
            flush(dir.path(), i, &mut text);
        }
        let gpu = GPUS[i % GPUS.len()];
        let service = SERVICES[(i / GPUS.len()) % SERVICES.len()];
        let minor = i / (GPUS.len() * SERVICES.len());
        text.push_str(&format!(
            "  - key: {{gpu: {gpu}, service: {service}, k8s: \"1.{minor}\"}}\n    measurements:\n      - type: os\n        subtypes:\n          - subtype: sysctl\n            data: {{a: \"{i}\"}}\n"
        ));
    }
    flush(dir.path(), count, &mut text);
    dir
}

/// Writes the overlays gathered so far (if any) to a file named after the first one's index.
fn flush(dir: &Path, next: usize, text: &mut String) {
    if !text.is_empty() {
        let first = next.saturating_sub(1) / PER_FILE * PER_FILE;
        std::fs::write(
            dir.join(format!("o{first:06}.yaml")),
            format!("overlays:\n{text}"),
        )
        .expect("writing overlays");
        text.clear();
    }
}

/// A recipe directory whose base has `lines` top-level keys, each nested 60 levels deep (the
/// file parses in full, and is then refused for its unknown keys).
fn wide_dir(lines: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nested = format!("{}1{}", "{a: ".repeat(59), "}".repeat(59));
    let text: String = (0..lines).map(|i| format!("k{i}: {nested}\n")).collect();
    std::fs::write(dir.path().join("base.yaml"), text).expect("writing base.yaml");
    dir
}

/// A recipe directory whose base is nested `depth` levels deep.
fn nested_dir(depth: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = format!("x: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth));
    std::fs::write(dir.path().join("base.yaml"), text).expect("writing base.yaml");
    dir
}

fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load/overlays");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for count in [4_000, 40_000] {
        let dir = generated_dir(count);
        let store = RecipeStore::load_dir(dir.path()).expect("the generated data loads");
        assert_eq!(store.overlay_count(), count);
        group.bench_with_input(BenchmarkId::from_parameter(count), &dir, |b, dir| {
            b.iter(|| RecipeStore::load_dir(black_box(dir.path())))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("load/refuse nesting");
    group.sample_size(10);
    for depth in [20_000, 100_000] {
        let dir = nested_dir(depth);
        let err = RecipeStore::load_dir(dir.path()).expect_err("refused");
        assert!(err.reason.starts_with("nested more than"), "{err}");
        group.bench_with_input(BenchmarkId::from_parameter(depth), &dir, |b, dir| {
            b.iter(|| RecipeStore::load_dir(black_box(dir.path())))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("load/60 deep");
    group.sample_size(10);
    for lines in [1_000, 10_000] {
        let dir = wide_dir(lines);
        let err = RecipeStore::load_dir(dir.path()).expect_err("refused");
        assert!(err.reason.starts_with("malformed YAML"), "{err}");
        group.bench_with_input(BenchmarkId::from_parameter(lines), &dir, |b, dir| {
            b.iter(|| RecipeStore::load_dir(black_box(dir.path())))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
