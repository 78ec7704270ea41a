//! Validation: checking a snapshot against a recipe's values, each of them a constraint.
//!
//! - [`KeyPath`]: `TYPE/SUBTYPE/KEY`, the one syntax for naming a reading on a command line;
//!   [`KeyPattern`]: the same with `*` wildcards, for naming many.
//! - [`Expectation`] and [`Constraint`]: what a value requires (plain values and operators).
//! - [`constraints_from_recipe`]: the constraints of a rendered recipe, with their severity,
//!   context and provenance.
//! - [`validate`]: one [`CheckResult`] per constraint and a [`Summary`] with the verdict.
//! - [`snapshot_satisfying`]: the snapshot of a node configured exactly as constraints say.

mod constraint;
mod evaluate;
mod keypath;
mod report;
mod sample;

pub use constraint::{
    equals, Constraint, ConstraintError, Expectation, Range, Verdict, AD_HOC_SOURCE, OPERATOR_FORMS,
};
pub use evaluate::{check, validate};
pub use keypath::{KeyPath, KeyPathError, KeyPattern};
pub use report::{CheckResult, FailOn, Overall, Report, Status, Summary, REPORT_KIND};
pub use sample::{satisfying, snapshot_satisfying};

use crate::model::RecipeMeasurement;
use crate::Recipe;
use std::collections::HashMap;

/// Which recipe file and rule set each value of a recipe (see
/// [`crate::RecipeStore::provenance`]).
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    sources: HashMap<KeyPath, String>,
}

impl Provenance {
    /// Records `source` for every value in `measurements` (later records win, as overlays do).
    pub(crate) fn record(&mut self, measurements: &[RecipeMeasurement], source: &str) {
        for m in measurements {
            for s in &m.subtypes {
                for key in s.data.keys() {
                    self.sources
                        .insert(KeyPath::new(&m.kind, &s.subtype, key), source.to_owned());
                }
            }
        }
    }

    /// The source of the value at `path`, if recorded.
    pub fn source(&self, path: &KeyPath) -> Option<&str> {
        self.sources.get(path).map(String::as_str)
    }
}

/// A recipe value that is not a valid constraint (a hand-edited recipe document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: value {value} is not a valid constraint: {reason} (expected a plain value, or {forms})", forms = OPERATOR_FORMS)]
pub struct RecipeConstraintError {
    /// The value's path.
    pub path: KeyPath,
    /// The value as written.
    pub value: String,
    /// Why it is rejected.
    pub reason: String,
}

/// The constraints of a rendered recipe, in recipe order. Each value's source is taken from
/// `provenance` when it records one, else `fallback_source` (e.g. the recipe file's name).
pub fn constraints_from_recipe(
    recipe: &Recipe,
    provenance: Option<&Provenance>,
    fallback_source: &str,
) -> Result<Vec<Constraint>, RecipeConstraintError> {
    let mut out = Vec::new();
    for m in &recipe.measurements {
        for s in &m.subtypes {
            for (key, value) in &s.data {
                let path = KeyPath::new(&m.kind, &s.subtype, key);
                let expectation =
                    Expectation::parse(value).map_err(|reason| RecipeConstraintError {
                        path: path.clone(),
                        value: format!("{value:?}"),
                        reason,
                    })?;
                let source = provenance
                    .and_then(|p| p.source(&path))
                    .unwrap_or(fallback_source)
                    .to_owned();
                out.push(Constraint {
                    expected: value.clone(),
                    expectation,
                    severity: s.severity_of(key),
                    context: s.context.get(key).cloned(),
                    source,
                    path,
                });
            }
        }
    }
    Ok(out)
}

/// Adds `extra` constraints to `constraints`: one for a path already there replaces it (a
/// `--constraint` overrides the recipe), others are appended.
pub fn apply_overrides(constraints: &mut Vec<Constraint>, extra: Vec<Constraint>) {
    for c in extra {
        match constraints.iter_mut().find(|have| have.path == c.path) {
            Some(slot) => *slot = c,
            None => constraints.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
