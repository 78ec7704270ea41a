//! No false alarms: the recipe derived from a healthy H100 EKS node (the in-repo Go-format
//! fixture, a node as it was set up in early 2026) fails it only for real misconfigurations, each
//! named in the failing constraint's context; everything else it fails is advice.

use eidos_plugin_api::{Reading, Snapshot};
use eidos_recipes::model::Severity;
use eidos_recipes::validate::{
    constraints_from_recipe, validate, CheckResult, Constraint, FailOn, Overall, Report, Status,
};
use eidos_recipes::{Query, RecipeStore};

/// The required constraints the fixture fails, and the words of each one's context that name
/// the misconfiguration. Every one of them is a reason to change the node today (2026-11-29).
const EXPECTED_REQUIRED_FAILURES: [(&str, &str); 5] = [
    // EKS ended extended support for 1.30 on 2026-07-23; GPU Operator v26.3 needs 1.32+.
    ("k8s/server/version", "extended support for 1.31 ended"),
    // GPU Operator 25.3.x is past end of support.
    ("k8s/image/gpu-operator", "25.3.x and older end of support"),
    // The R570 driver branch is end of life (driver container and host driver).
    ("k8s/image/driver", "R570 and R535 are end of life"),
    ("gpu/smi/driver", "R570 and R535 are end of life"),
    // Container Toolkit 1.17.5 is open to a container escape.
    ("k8s/image/container-toolkit", "CVE-2025-23266"),
];

fn fixture() -> Snapshot {
    serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).expect("the fixture parses")
}

/// The constraints of the recipe `eidos validate --snapshot` derives for `snapshot`.
fn derived_constraints(snapshot: &Snapshot) -> Vec<Constraint> {
    let store = RecipeStore::embedded().expect("the embedded recipe data loads");
    let mut query = Query::try_from_snapshot(snapshot).expect("the fixture names its node");
    query.context = true;
    let recipe = store.build(&query);
    constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "")
        .expect("the embedded recipe's values are constraints")
}

fn path(r: &CheckResult) -> String {
    format!("{}/{}/{}", r.kind, r.subtype, r.key)
}

fn required_failures(report: &Report) -> Vec<&CheckResult> {
    report
        .results
        .iter()
        .filter(|r| r.severity == Severity::Required && r.status == Status::Failed)
        .collect()
}

#[test]
fn the_healthy_h100_eks_node_fails_only_named_misconfigurations() {
    let snapshot = fixture();
    let constraints = derived_constraints(&snapshot);
    let report = validate(&snapshot, &constraints, FailOn::default());
    eprintln!("{}", report.summary.line());

    let failed = required_failures(&report);
    let mut failed_paths: Vec<String> = failed.iter().map(|r| path(r)).collect();
    failed_paths.sort();
    let mut expected: Vec<&str> = EXPECTED_REQUIRED_FAILURES.iter().map(|(p, _)| *p).collect();
    expected.sort();
    assert_eq!(failed_paths, expected, "{}", report.summary.line());
    for (want, reason) in EXPECTED_REQUIRED_FAILURES {
        let r = failed
            .iter()
            .find(|r| path(r) == want)
            .expect("listed above");
        let context = r.context.as_deref().unwrap_or_default();
        assert!(context.contains(reason), "{want}: {context}");
    }
    // Nothing required is left unchecked: the Go tool's snapshot carries every key they need.
    assert!(
        report
            .results
            .iter()
            .filter(|r| r.severity == Severity::Required)
            .all(|r| matches!(r.status, Status::Passed | Status::Failed)),
        "{}",
        report.summary.line()
    );
    assert_eq!(report.summary.required_failed, 5);
    assert_eq!(report.summary.overall, Overall::Fail);
}

/// Sets `kind/subtype/key` of a Go-format snapshot (types compared without regard to case).
fn set(snapshot: &mut Snapshot, kind: &str, subtype: &str, key: &str, value: &str) {
    let m = snapshot
        .measurements
        .iter_mut()
        .find(|m| m.kind.eq_ignore_ascii_case(kind))
        .unwrap_or_else(|| panic!("no {kind}"));
    let s = m
        .subtypes
        .iter_mut()
        .find(|s| s.subtype == subtype)
        .unwrap_or_else(|| panic!("no {kind}/{subtype}"));
    assert!(s.data.contains_key(key), "no {kind}/{subtype}/{key}");
    s.data
        .insert(key.to_owned(), Reading::Str(value.to_owned()));
}

#[test]
fn the_same_node_upgraded_to_the_current_releases_passes() {
    // The upgrade the failures ask for: EKS 1.33, GPU Operator v26.3.1 with its recommended
    // R580 driver and Container Toolkit 1.19.0 (GPU Operator v26.3 component matrix).
    let mut snapshot = fixture();
    set(
        &mut snapshot,
        "k8s",
        "server",
        "version",
        "v1.33.5-eks-3025e55",
    );
    set(&mut snapshot, "k8s", "image", "gpu-operator", "v26.3.1");
    set(
        &mut snapshot,
        "k8s",
        "image",
        "driver",
        "580.159.03-ubuntu22.04",
    );
    set(
        &mut snapshot,
        "k8s",
        "image",
        "container-toolkit",
        "v1.19.0-ubuntu20.04",
    );
    set(&mut snapshot, "gpu", "smi", "driver", "580.159.03");
    let constraints = derived_constraints(&snapshot);
    let report = validate(&snapshot, &constraints, FailOn::default());
    let failed: Vec<String> = required_failures(&report).iter().map(|r| path(r)).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        report.summary.overall,
        Overall::Pass,
        "{}",
        report.summary.line()
    );
}
