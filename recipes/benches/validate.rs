//! Validation time: checking a reference-sized snapshot (about 1,800 readings, as a real H100 EKS
//! node's) against the H100 EKS recipe's constraints. Goal: at most 50 µs for the check itself.
//!
//! Run: `cargo bench -p eidos-recipes --bench validate`.

use criterion::{criterion_group, criterion_main, Criterion};
use eidos_plugin_api::{Measurement, Reading, Snapshot, Subtype};
use eidos_recipes::validate::{self, FailOn};
use eidos_recipes::{Query, RecipeStore};
use std::hint::black_box;

/// A snapshot of the size and shape of a real node's: three systemd units of ~370 properties, ~300
/// sysctl entries, ~100 modules, a kernel command line, Kubernetes images and ClusterPolicy, and
/// the GPU summary; every recipe value present with the recipe's own value (so nothing
/// short-circuits), a few of them wrong.
fn reference_sized(recipe: &eidos_recipes::Recipe) -> Snapshot {
    let filler = |name: &str, prefix: &str, count: usize| {
        let mut s = Subtype::new(name);
        for i in 0..count {
            s.insert(format!("{prefix}{i}"), Reading::Str(format!("value-{i}")));
        }
        s
    };
    let mut measurements = vec![
        Measurement {
            kind: "SystemD".into(),
            subtypes: ["containerd.service", "docker.service", "kubelet.service"]
                .iter()
                .map(|u| filler(u, "Property", 370))
                .collect(),
        },
        Measurement {
            kind: "OS".into(),
            subtypes: vec![
                filler("grub", "arg", 10),
                filler("sysctl", "/proc/sys/generated/", 300),
                filler("kmod", "module", 100),
                Subtype::new("release")
                    .with("ID", "ubuntu")
                    .with("VERSION_ID", "22.04"),
            ],
        },
        Measurement {
            kind: "K8s".into(),
            subtypes: vec![
                Subtype::new("server").with("version", "v1.30.14-eks-3025e55"),
                filler("image", "nvcr.io/nvidia/image", 100),
                filler("policy", "spec.field", 160),
            ],
        },
        Measurement {
            kind: "GPU".into(),
            subtypes: vec![filler("smi", "gpu.field", 15)],
        },
    ];
    for m in &recipe.measurements {
        let target = measurements
            .iter_mut()
            .find(|t| t.kind.eq_ignore_ascii_case(&m.kind))
            .expect("every recipe type is in the snapshot");
        for s in &m.subtypes {
            let index = match target.subtypes.iter().position(|t| t.subtype == s.subtype) {
                Some(i) => i,
                None => {
                    target.subtypes.push(Subtype::new(s.subtype.clone()));
                    target.subtypes.len() - 1
                }
            };
            for (key, value) in &s.data {
                target.subtypes[index]
                    .data
                    .insert(key.clone(), value.clone());
            }
        }
    }
    Snapshot {
        measurements,
        ..Snapshot::default()
    }
}

fn bench_validate(c: &mut Criterion) {
    let store = RecipeStore::embedded().expect("the built-in data loads");
    let query = Query::from_pairs([
        ("kernel", "6.8.0-1024-aws"),
        ("service", "eks"),
        ("k8s", "v1.30.14-eks-3025e55"),
        ("gpu", "h100"),
        ("context", "true"),
    ])
    .expect("a valid query");
    let recipe = store.build(&query);
    let mut snapshot = reference_sized(&recipe);
    // A few wrong values, so that failures are reported too.
    if let Some(os) = snapshot.measurements.iter_mut().find(|m| m.kind == "OS") {
        if let Some(sysctl) = os.subtypes.iter_mut().find(|s| s.subtype == "sysctl") {
            sysctl.insert("/proc/sys/vm/swappiness", "60");
        }
    }
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
    assert!(report.summary.failed >= 1);
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
