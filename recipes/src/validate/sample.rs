//! Sample readings: the snapshot a node configured exactly as a list of constraints says would
//! produce. Property tests build one from a recipe's own constraints and expect it to pass; the
//! recipe data tests do the same for every overlay combination.

use super::constraint::{Constraint, Expectation, Verdict};
use eidos_plugin_api::{Measurement, Reading, Snapshot, Subtype};

/// A reading that satisfies `c`, or `None` when the key must be left out (`absent`).
///
/// For a range the candidates are each bound and each bound with its last number one higher or
/// lower; one of them lies in any satisfiable range recipe data can write. When none fits, the
/// first candidate is returned (and the check then shows the range is unsatisfiable).
pub fn satisfying(c: &Constraint) -> Option<Reading> {
    let value = match &c.expectation {
        Expectation::Equals(v) => v.clone(),
        Expectation::NotEquals(v) => Reading::Str(format!("not {v}")),
        Expectation::OneOf(items) => items
            .first()
            .cloned()
            .unwrap_or_else(|| Reading::Str(String::new())),
        Expectation::Present => Reading::Str("anything".into()),
        Expectation::Absent => return None,
        Expectation::Range(_) => {
            let text = c.expected.to_string();
            let mut candidates = Vec::new();
            for part in text.split(',') {
                let operand = part
                    .trim()
                    .trim_start_matches(['<', '>', '=', '~', '^'])
                    .trim();
                candidates.push(operand.to_owned());
                let (head, last) = operand.rsplit_once('.').unwrap_or(("", operand));
                if let Ok(n) = last.parse::<i64>() {
                    let join = |n: i64| {
                        if head.is_empty() {
                            n.to_string()
                        } else {
                            format!("{head}.{n}")
                        }
                    };
                    candidates.push(join(n + 1));
                    candidates.push(join(n - 1));
                }
            }
            let fits =
                |v: &String| c.expectation.check(Some(&Reading::Str(v.clone()))) == Verdict::Pass;
            let chosen = candidates.iter().find(|v| fits(v)).or(candidates.first());
            Reading::Str(chosen.cloned().unwrap_or_default())
        }
    };
    Some(value)
}

/// The snapshot a node configured exactly as `constraints` say would produce: every measurement
/// type and subtype they name, with a [`satisfying`] reading for each key (none for `absent`).
pub fn snapshot_satisfying(constraints: &[Constraint]) -> Snapshot {
    let mut snap = Snapshot::default();
    for c in constraints {
        let index = match snap.measurements.iter().position(|m| m.kind == c.path.kind) {
            Some(i) => i,
            None => {
                snap.measurements.push(Measurement {
                    kind: c.path.kind.clone(),
                    subtypes: Vec::new(),
                });
                snap.measurements.len() - 1
            }
        };
        let m = &mut snap.measurements[index];
        let sub = match m.subtypes.iter().position(|s| s.subtype == c.path.subtype) {
            Some(i) => i,
            None => {
                m.subtypes.push(Subtype::new(c.path.subtype.clone()));
                m.subtypes.len() - 1
            }
        };
        if let Some(value) = satisfying(c) {
            m.subtypes[sub].data.insert(c.path.key.clone(), value);
        }
    }
    snap
}
