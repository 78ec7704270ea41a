//! Checking a snapshot against constraints.

use super::constraint::{Constraint, Verdict};
use super::keypath::KeyPath;
use super::report::{CheckResult, FailOn, Report, Status};
use eidos_plugin_api::model::CollectorStatus;
use eidos_plugin_api::{Reading, Snapshot};

/// Where a reading stands in a snapshot.
enum Lookup<'s> {
    /// The key is there.
    Found(&'s Reading),
    /// The collector of its type ran; the key (or its subtype) is absent.
    Absent,
    /// The collector of its type did not run, did not apply or failed: why.
    NotCollected(String),
}

fn lookup<'s>(snapshot: &'s Snapshot, path: &KeyPath) -> Lookup<'s> {
    if let Some(measurement) = snapshot
        .measurements
        .iter()
        .find(|m| m.kind.eq_ignore_ascii_case(&path.kind))
    {
        return match measurement
            .subtype(&path.subtype)
            .and_then(|s| s.data.get(&path.key))
        {
            Some(reading) => Lookup::Found(reading),
            None => Lookup::Absent,
        };
    }
    let kind = &path.kind;
    let report = snapshot
        .metadata
        .collectors
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        .map(|(_, report)| report);
    let Some(report) = report else {
        return Lookup::NotCollected(format!(
            "the {kind} collector was not run (the snapshot has no {kind} measurements)"
        ));
    };
    let because = report
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match report.status {
        // It ran and returned nothing of this type: the key is absent.
        CollectorStatus::Ok => Lookup::Absent,
        CollectorStatus::NotApplicable => Lookup::NotCollected(format!(
            "the {kind} collector does not apply to this node{because}"
        )),
        CollectorStatus::Failed => {
            Lookup::NotCollected(format!("the {kind} collector failed{because}"))
        }
        CollectorStatus::TimedOut => {
            Lookup::NotCollected(format!("the {kind} collector timed out{because}"))
        }
        CollectorStatus::Cancelled => {
            Lookup::NotCollected(format!("the {kind} collector was cancelled{because}"))
        }
    }
}

/// Checks one constraint against `snapshot`.
pub fn check(snapshot: &Snapshot, constraint: &Constraint) -> CheckResult {
    let (status, actual, reason) = match lookup(snapshot, &constraint.path) {
        Lookup::NotCollected(why) => (Status::Skipped, None, Some(why)),
        found => {
            let actual = match found {
                Lookup::Found(reading) => Some(reading),
                _ => None,
            };
            match constraint.expectation.check(actual) {
                Verdict::Pass => (Status::Passed, actual.cloned(), None),
                Verdict::Fail(why) => (Status::Failed, actual.cloned(), why),
                Verdict::Missing => (
                    Status::Missing,
                    None,
                    Some(format!(
                        "the {} collector ran but recorded no {}/{}",
                        constraint.path.kind, constraint.path.subtype, constraint.path.key
                    )),
                ),
            }
        }
    };
    CheckResult {
        kind: constraint.path.kind.clone(),
        subtype: constraint.path.subtype.clone(),
        key: constraint.path.key.clone(),
        status,
        severity: constraint.severity,
        operator: constraint.expectation.operator().to_owned(),
        expected: constraint.expected.clone(),
        actual,
        context: constraint.context.clone(),
        source: constraint.source.clone(),
        reason,
    }
}

/// Checks every constraint against `snapshot`: one result each, and the verdict under `fail_on`.
pub fn validate(snapshot: &Snapshot, constraints: &[Constraint], fail_on: FailOn) -> Report {
    let results = constraints.iter().map(|c| check(snapshot, c)).collect();
    Report::new(results, fail_on)
}
