//! `eidos fleet report --validate`: each node's verdict against the recipe derived from its own
//! snapshot, as `eidos validate --snapshot` would give it.
//!
//! A fleet has few distinct recipe queries (one per OS, kernel, Kubernetes and GPU combination),
//! so each query's constraints are built once and shared by every node that derives it.

use eidos_recipes::validate::{self, Constraint, FailOn, Overall, RecipeConstraintError};
use eidos_recipes::{Query, RecipeStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A node's validation verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVerdict {
    /// `pass`, `fail` or `incomplete`.
    pub overall: Overall,
    /// Required constraints that failed.
    pub required_failed: usize,
    /// Constraints that failed, required and recommended.
    pub failed: usize,
}

impl NodeVerdict {
    /// Whether the node failed validation.
    pub fn failed(&self) -> bool {
        self.overall == Overall::Fail
    }
}

/// The recipe data produced a value that is not a valid constraint.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the recipe data: {0}")]
pub struct ValidatorError(#[from] RecipeConstraintError);

/// Validates nodes against their own derived recipes; shared by worker threads.
pub struct Validator {
    store: Arc<RecipeStore>,
    fail_on: FailOn,
    constraints: Mutex<HashMap<Query, Arc<Vec<Constraint>>>>,
}

impl Validator {
    /// A validator over `store`, with `fail_on` deciding what fails besides failed constraints.
    pub fn new(store: Arc<RecipeStore>, fail_on: FailOn) -> Self {
        Validator {
            store,
            fail_on,
            constraints: Mutex::new(HashMap::new()),
        }
    }

    /// The verdict for `snapshot` against the recipe its own readings select.
    pub fn verdict(
        &self,
        snapshot: &eidos_plugin_api::Snapshot,
    ) -> Result<NodeVerdict, ValidatorError> {
        let query = Query::from_snapshot(snapshot);
        let constraints = self.constraints_for(&query)?;
        let report = validate::validate(snapshot, &constraints, self.fail_on);
        Ok(NodeVerdict {
            overall: report.summary.overall,
            required_failed: report.summary.required_failed,
            failed: report.summary.failed,
        })
    }

    fn constraints_for(&self, query: &Query) -> Result<Arc<Vec<Constraint>>, ValidatorError> {
        // A worker that panicked holding the lock left the map whole (insertions are atomic).
        let cached = self
            .constraints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(query)
            .cloned();
        if let Some(c) = cached {
            return Ok(c);
        }
        let recipe = self.store.build(query);
        let provenance = self.store.provenance(query);
        let built = Arc::new(validate::constraints_from_recipe(
            &recipe,
            Some(&provenance),
            "recipe",
        )?);
        self.constraints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(query.clone(), built.clone());
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_gets_the_verdict_eidos_validate_gives_it() {
        let store = RecipeStore::embedded().unwrap();
        let validator = Validator::new(store.clone(), FailOn::default());
        let snapshot: eidos_plugin_api::Snapshot =
            serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        let verdict = validator.verdict(&snapshot).unwrap();
        // The same check, done the way `eidos validate --snapshot` does it.
        let query = Query::from_snapshot(&snapshot);
        let recipe = store.build(&query);
        let constraints =
            validate::constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "recipe")
                .unwrap();
        let report = validate::validate(&snapshot, &constraints, FailOn::default());
        assert_eq!(verdict.overall, report.summary.overall);
        assert_eq!(verdict.required_failed, report.summary.required_failed);
        assert_eq!(verdict.failed, report.summary.failed);
        // Cached the second time, same answer.
        assert_eq!(validator.verdict(&snapshot).unwrap(), verdict);
        assert_eq!(validator.constraints.lock().unwrap().len(), 1);
    }
}
