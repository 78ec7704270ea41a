//! Validation of snapshots against recipes: statuses, verdicts, provenance, and the properties
//! that a snapshot made of a recipe's own values passes and that breaking one required value
//! fails exactly that constraint.

use super::*;
use crate::model::Severity;
use crate::{Query, RecipeStore};
use eidos_plugin_api::model::{CollectorReport, CollectorStatus};
use eidos_plugin_api::{Measurement, Reading, Snapshot, Subtype};

fn constraint(path: &str, value: Reading, severity: Severity) -> Constraint {
    Constraint {
        path: KeyPath::parse(path).unwrap(),
        expectation: Expectation::parse(&value).unwrap(),
        expected: value,
        severity,
        context: Some(format!("why {path}")),
        source: "test".to_owned(),
    }
}

fn snapshot_with(measurements: Vec<Measurement>) -> Snapshot {
    Snapshot {
        measurements,
        ..Snapshot::default()
    }
}

fn collector(status: CollectorStatus, reason: Option<&str>) -> CollectorReport {
    CollectorReport {
        status,
        reason: reason.map(str::to_owned),
        warnings: Vec::new(),
        duration_ms: 1.0,
        plugin_version: "0.1.0".to_owned(),
    }
}

fn node() -> Snapshot {
    let mut snap = snapshot_with(vec![
        Measurement {
            kind: "OS".to_owned(), // as the Go tool writes it
            subtypes: vec![Subtype::new("sysctl")
                .with("/proc/sys/vm/swappiness", "60")
                .with("/proc/sys/vm/max_map_count", "262144")],
        },
        Measurement {
            kind: "systemd".to_owned(),
            subtypes: vec![Subtype::new("containerd.service")
                .with("ActiveState", "active")
                .with("LimitNOFILE", u64::MAX)],
        },
    ]);
    snap.metadata.collectors.insert(
        "gpu".to_owned(),
        collector(CollectorStatus::NotApplicable, Some("no NVIDIA GPU found")),
    );
    snap.metadata.collectors.insert(
        "k8s".to_owned(),
        collector(CollectorStatus::Failed, Some("forbidden")),
    );
    snap
}

#[test]
fn each_status_with_reasons_and_the_report_in_failure_first_order() {
    let s = |t: &str| Reading::Str(t.to_owned());
    let constraints = vec![
        constraint(
            "os/sysctl//proc/sys/vm/max_map_count",
            s(">= 262144"),
            Severity::Required,
        ),
        constraint(
            "os/sysctl//proc/sys/vm/swappiness",
            s("0"),
            Severity::Required,
        ),
        constraint(
            "os/sysctl//proc/sys/kernel/numa_balancing",
            s("0"),
            Severity::Required,
        ),
        constraint(
            "systemd/containerd.service/LimitNOFILE",
            Reading::Uint(u64::MAX),
            Severity::Required,
        ),
        constraint(
            "systemd/kubelet.service/ActiveState",
            s("active"),
            Severity::Required,
        ),
        constraint(
            "systemd/containerd.service/ActiveState",
            s("one of [active, activating]"),
            Severity::Recommended,
        ),
        constraint(
            "systemd/containerd.service/Delegate",
            s("present"),
            Severity::Recommended,
        ),
        constraint("gpu/smi/driver-version", s(">= 570"), Severity::Required),
        constraint("k8s/server/version", s(">= 1.30"), Severity::Required),
        constraint("network/ib/rate", s("400"), Severity::Required),
    ];
    let report = validate(&node(), &constraints, FailOn::default());
    let rows: Vec<(&str, Status, Option<&str>)> = report
        .results
        .iter()
        .map(|r| (r.key.as_str(), r.status, r.reason.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            ("/proc/sys/vm/swappiness", Status::Failed, None),
            ("Delegate", Status::Failed, Some("the key is absent")),
            (
                "/proc/sys/kernel/numa_balancing",
                Status::Missing,
                Some("the os collector ran but recorded no sysctl//proc/sys/kernel/numa_balancing")
            ),
            (
                "ActiveState",
                Status::Missing,
                Some("the systemd collector ran but recorded no kubelet.service/ActiveState")
            ),
            (
                "driver-version",
                Status::Skipped,
                Some("the gpu collector does not apply to this node: no NVIDIA GPU found")
            ),
            (
                "version",
                Status::Skipped,
                Some("the k8s collector failed: forbidden")
            ),
            (
                "rate",
                Status::Skipped,
                Some(
                    "the network collector was not run (the snapshot has no network measurements)"
                )
            ),
            ("/proc/sys/vm/max_map_count", Status::Passed, None),
            ("LimitNOFILE", Status::Passed, None),
            ("ActiveState", Status::Passed, None),
        ]
    );
    let failed = &report.results[0];
    assert_eq!(failed.kind, "os");
    assert_eq!(failed.operator, "equals");
    assert_eq!(failed.expected, s("0"));
    assert_eq!(failed.actual, Some(s("60")));
    assert_eq!(
        failed.context.as_deref(),
        Some("why os/sysctl//proc/sys/vm/swappiness")
    );
    assert_eq!(failed.source, "test");
    assert_eq!(report.results[2].actual, None);
    assert_eq!(
        report.summary,
        Summary {
            overall: Overall::Fail,
            total: 10,
            passed: 3,
            failed: 2,
            missing: 2,
            skipped: 3,
            required_failed: 1,
        }
    );
    assert_eq!(
        report.summary.line(),
        "FAIL: 2 failed (1 required), 2 missing, 3 skipped, 3 passed (10 constraints)"
    );
}

#[test]
fn the_verdict_follows_required_results_and_fail_on() {
    let s = |t: &str| Reading::Str(t.to_owned());
    let pass = constraint(
        "os/sysctl//proc/sys/vm/max_map_count",
        s("262144"),
        Severity::Required,
    );
    let advice = constraint(
        "os/sysctl//proc/sys/vm/swappiness",
        s("0"),
        Severity::Recommended,
    );
    let missing = constraint("os/sysctl//nope", s("1"), Severity::Required);
    let skipped = constraint("gpu/smi/driver", s("1"), Severity::Required);
    let missing_advice = constraint("os/sysctl//nope", s("1"), Severity::Recommended);
    let both = FailOn {
        missing: true,
        skipped: true,
    };
    let only_missing = FailOn {
        missing: true,
        skipped: false,
    };
    let table: Vec<(Vec<&Constraint>, FailOn, Overall)> = vec![
        (vec![&pass], FailOn::default(), Overall::Pass),
        (vec![&pass, &advice], FailOn::default(), Overall::Pass),
        (vec![&pass, &missing_advice], both, Overall::Pass),
        (
            vec![&pass, &missing],
            FailOn::default(),
            Overall::Incomplete,
        ),
        (
            vec![&pass, &skipped],
            FailOn::default(),
            Overall::Incomplete,
        ),
        (vec![&pass, &missing], only_missing, Overall::Fail),
        (vec![&pass, &skipped], only_missing, Overall::Incomplete),
        (vec![&pass, &skipped], both, Overall::Fail),
        (vec![], FailOn::default(), Overall::Pass),
    ];
    for (constraints, fail_on, overall) in table {
        let list: Vec<Constraint> = constraints.into_iter().cloned().collect();
        let report = validate(&node(), &list, fail_on);
        assert_eq!(report.summary.overall, overall, "{list:?} {fail_on:?}");
    }
    let mut fail_on = FailOn::default();
    fail_on.add("Missing").unwrap();
    assert!(fail_on.missing && !fail_on.skipped);
    assert!(fail_on
        .add("failed")
        .unwrap_err()
        .contains("expected missing or skipped"));
}

#[test]
fn a_collector_that_ran_without_the_type_makes_keys_missing() {
    let mut snap = Snapshot::default();
    snap.metadata
        .collectors
        .insert("gpu".into(), collector(CollectorStatus::Ok, None));
    let c = constraint(
        "gpu/smi/driver",
        Reading::Str("1".into()),
        Severity::Required,
    );
    assert_eq!(check(&snap, &c).status, Status::Missing);
}

#[test]
fn command_line_constraints_replace_recipe_values_on_the_same_path() {
    let mut constraints = vec![
        constraint(
            "os/sysctl//proc/sys/vm/swappiness",
            Reading::Str("0".into()),
            Severity::Recommended,
        ),
        constraint("os/kmod/nvidia", Reading::Bool(true), Severity::Required),
    ];
    apply_overrides(
        &mut constraints,
        vec![
            Constraint::parse_arg("os/sysctl//proc/sys/vm/swappiness=<= 60").unwrap(),
            Constraint::parse_arg("os/kmod/efa=present").unwrap(),
        ],
    );
    assert_eq!(constraints.len(), 3);
    assert_eq!(constraints[0].source, AD_HOC_SOURCE);
    assert_eq!(constraints[0].severity, Severity::Required);
    let report = validate(&node(), &constraints[..1], FailOn::default());
    assert_eq!(report.summary.overall, Overall::Pass);
}

#[test]
fn recipe_constraints_carry_severity_context_and_provenance() {
    let store = RecipeStore::embedded().unwrap();
    let query =
        Query::from_pairs([("gpu", "h100"), ("service", "eks"), ("context", "true")]).unwrap();
    let recipe = store.build(&query);
    let provenance = store.provenance(&query);
    let constraints = constraints_from_recipe(&recipe, Some(&provenance), "unused").unwrap();
    let find = |kind: &str, subtype: &str, key: &str| {
        constraints
            .iter()
            .find(|c| c.path.names(kind, subtype, key))
            .unwrap_or_else(|| panic!("{kind}/{subtype}/{key}"))
    };
    let swappiness = find("os", "sysctl", "/proc/sys/vm/swappiness");
    assert_eq!(swappiness.source, "base.yaml");
    assert!(swappiness.context.is_some());
    let efa = find("os", "kmod", "efa");
    assert!(
        efa.source.ends_with("(service=eks)") || efa.source.contains("service=eks"),
        "{}",
        efa.source
    );
    assert!(efa.source.starts_with("overlays/"), "{}", efa.source);
    // Without provenance (a recipe file), the fallback names the file.
    let plain = constraints_from_recipe(&recipe, None, "recipe.yaml").unwrap();
    assert!(plain.iter().all(|c| c.source == "recipe.yaml"));
    assert_eq!(plain.len(), constraints.len());
}

#[test]
fn an_invalid_value_in_a_recipe_document_is_named() {
    let store = RecipeStore::embedded().unwrap();
    let mut recipe = store.build(&Query::default());
    recipe.measurements[0].subtypes[0]
        .data
        .insert("bad".into(), Reading::Str(">= soon".into()));
    let err = constraints_from_recipe(&recipe, None, "r.yaml").unwrap_err();
    assert_eq!(err.path.key, "bad");
    assert!(err.to_string().contains("non-numeric component"), "{err}");
}

/// A value that violates `expectation` and whether the key must be absent to violate it.
fn violating(expectation: &Expectation) -> Option<Reading> {
    match expectation {
        Expectation::NotEquals(v) => Some(v.clone()),
        Expectation::Present => None,
        Expectation::Absent => Some(Reading::Str("here".into())),
        _ => Some(Reading::Str("eidos-wrong-value".into())),
    }
}

fn set(snap: &mut Snapshot, path: &KeyPath, value: Option<Reading>) {
    let m = snap
        .measurements
        .iter_mut()
        .find(|m| m.kind == path.kind)
        .unwrap();
    let s = m
        .subtypes
        .iter_mut()
        .find(|s| s.subtype == path.subtype)
        .unwrap();
    match value {
        Some(v) => {
            s.data.insert(path.key.clone(), v);
        }
        None => {
            s.data.shift_remove(&path.key);
        }
    }
}

fn query_strategy() -> impl proptest::strategy::Strategy<Value = Query> {
    use crate::vocab::{GPU_VALUES, INTENT_VALUES, OS_VALUES, SERVICE_VALUES};
    use proptest::prelude::*;
    let pick = |values: &'static [&'static str]| {
        proptest::option::of(proptest::sample::select(values.to_vec()))
    };
    (
        pick(OS_VALUES),
        pick(&["22.04", "24.04", "9.4"]),
        pick(&["5.15.0-1051-aws", "6.8.0-1028-aws", "6.11.0-1011-gcp"]),
        pick(SERVICE_VALUES),
        pick(&["v1.30.14-eks-3025e55", "1.31.4", "v1.33.5-eks-3025e55"]),
        pick(GPU_VALUES),
        pick(INTENT_VALUES),
    )
        .prop_map(|(os, osv, kernel, service, k8s, gpu, intent)| {
            let pairs = [
                ("os", os),
                ("osv", osv),
                ("kernel", kernel),
                ("service", service),
                ("k8s", k8s),
                ("gpu", gpu),
                ("intent", intent),
                ("context", Some("true")),
            ];
            Query::from_pairs(pairs.iter().filter_map(|(k, v)| v.map(|v| (*k, v))))
                .expect("generated queries are valid")
        })
}

proptest::proptest! {
    /// For any query, a snapshot made of the recipe's own values passes every constraint; and
    /// changing any one value fails exactly that constraint (and the run only when required).
    #[test]
    fn a_recipe_passes_its_own_values_and_one_change_fails_exactly_that_constraint(
        query in query_strategy(),
        pick in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let store = RecipeStore::embedded().unwrap();
        let recipe = store.build(&query);
        let constraints = constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "").unwrap();
        proptest::prop_assume!(!constraints.is_empty());
        let snap = snapshot_satisfying(&constraints);
        let report = validate(&snap, &constraints, FailOn { missing: true, skipped: true });
        proptest::prop_assert_eq!(report.summary.overall, Overall::Pass, "{:?}", report.results.iter().find(|r| r.status != Status::Passed));
        proptest::prop_assert_eq!(report.summary.passed, constraints.len());

        let target = &constraints[pick.index(constraints.len())];
        let mut broken = snap.clone();
        set(&mut broken, &target.path, violating(&target.expectation));
        let report = validate(&broken, &constraints, FailOn::default());
        let failed: Vec<&CheckResult> = report.results.iter().filter(|r| r.status != Status::Passed).collect();
        proptest::prop_assert_eq!(failed.len(), 1);
        proptest::prop_assert_eq!(failed[0].status, Status::Failed);
        proptest::prop_assert!(target.path.names(&failed[0].kind, &failed[0].subtype, &failed[0].key));
        let expected = if target.severity == Severity::Required { Overall::Fail } else { Overall::Pass };
        proptest::prop_assert_eq!(report.summary.overall, expected);
    }
}

/// The in-repo snapshot of a healthy H100 EKS node (the original tool's format) against the
/// recipe it implies: every type was collected, so nothing is skipped; each reading the report
/// shows is the node's; and the verdict follows the required failures.
#[test]
fn the_h100_eks_fixture_is_validated_against_its_own_recipe() {
    let snapshot: Snapshot = serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
    let store = RecipeStore::embedded().unwrap();
    let query = Query::from_snapshot(&snapshot);
    assert_eq!(query.gpu.as_deref(), Some("h100"));
    assert_eq!(query.service.as_deref(), Some("eks"));
    let recipe = store.build(&Query {
        context: true,
        ..query.clone()
    });
    let constraints =
        constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "").unwrap();
    let report = validate(&snapshot, &constraints, FailOn::default());
    let s = &report.summary;
    assert_eq!(s.total, constraints.len());
    assert_eq!(s.passed + s.failed + s.missing + s.skipped, s.total);
    assert_eq!(
        s.skipped, 0,
        "GPU, K8s, OS and SystemD are all in the snapshot"
    );
    for r in &report.results {
        let path = KeyPath::new(&r.kind, &r.subtype, &r.key);
        let reading = check(
            &snapshot,
            constraints.iter().find(|c| c.path == path).unwrap(),
        );
        assert_eq!(r, &reading);
        if matches!(r.status, Status::Passed | Status::Failed) {
            let kind = eidos_plugin_api::MeasurementType::parse(&r.kind).unwrap();
            assert_eq!(
                r.actual.as_ref(),
                snapshot.reading(kind, &r.subtype, &r.key),
                "{r:?}"
            );
        }
        assert!(
            r.context.is_some(),
            "every built-in value has a context line: {r:?}"
        );
    }
    let driver = report
        .results
        .iter()
        .find(|r| r.kind == "gpu" && r.key == "driver")
        .expect("the recipe checks the driver");
    assert_eq!(driver.actual, Some(Reading::Str("570.133.20".into())));
    assert_eq!(
        s.overall == Overall::Fail,
        s.required_failed > 0,
        "{}",
        s.line()
    );
    eprintln!("H100 EKS fixture: {}", s.line());
}

/// Recipe data with operators and a severity map: operator values stay strings exactly as
/// written in the rendered recipe, the severity map travels with it (with or without context),
/// and validation honours both.
#[test]
fn the_rendered_recipe_carries_operators_as_written_and_the_severity_map() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.yaml"),
        "measurements:\n  - type: gpu\n    subtypes:\n      - subtype: smi\n        data:\n          driver: \">= 570\"\n          gpu.persistence-mode: Enabled\n        context:\n          driver: new enough\n          gpu.persistence-mode: faster first launch\n        severity:\n          gpu.persistence-mode: recommended\n",
    )
    .unwrap();
    let store = RecipeStore::load_dir(dir.path()).unwrap();
    for context in [false, true] {
        let recipe = store.build(&Query {
            context,
            ..Query::default()
        });
        let json = serde_json::to_value(&recipe).unwrap();
        let smi = &json["measurements"][0]["subtypes"][0];
        assert_eq!(smi["data"]["driver"], ">= 570", "{smi}");
        assert_eq!(
            smi["severity"],
            serde_json::json!({"gpu.persistence-mode": "recommended"})
        );
        assert_eq!(smi.get("context").is_some(), context, "{smi}");
        // A recipe document read back (eidos validate --recipe) keeps both.
        let back: crate::Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(back.measurements, recipe.measurements);
    }
    let recipe = store.build(&Query::default());
    let constraints = constraints_from_recipe(&recipe, None, "r.yaml").unwrap();
    let mut snap = snapshot_with(vec![Measurement {
        kind: "GPU".into(),
        subtypes: vec![Subtype::new("smi")
            .with("driver", "580.82.07")
            .with("gpu.persistence-mode", "Disabled")],
    }]);
    let report = validate(&snap, &constraints, FailOn::default());
    assert_eq!(
        report.summary.overall,
        Overall::Pass,
        "advice never fails a run"
    );
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.results[0].severity, Severity::Recommended);
    snap.measurements[0].subtypes[0].insert("driver", "570.133.20");
    assert_eq!(
        validate(&snap, &constraints, FailOn::default())
            .summary
            .overall,
        Overall::Pass
    );
    snap.measurements[0].subtypes[0].insert("driver", "565.57.01");
    let report = validate(&snap, &constraints, FailOn::default());
    assert_eq!(report.summary.overall, Overall::Fail);
    assert_eq!(report.results[0].key, "driver");
    assert_eq!(report.results[0].operator, ">=");
}
