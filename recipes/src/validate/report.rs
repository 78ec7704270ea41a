//! The validation report: one result per constraint and a summary with the overall verdict.
//!
//! Written as `{kind: ValidationReport, summary, request?, matchedRules?, results: [...]}`. The
//! `kind` lets serializer plugins tell a report from a snapshot or a recipe.

use crate::model::Severity;
use crate::query::Query;
use eidos_plugin_api::Reading;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `kind` of a validation report document.
pub const REPORT_KIND: &str = "ValidationReport";

/// How one constraint fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The reading satisfies it.
    Passed,
    /// The reading does not satisfy it (or a `present`/`absent` check is not met).
    Failed,
    /// The collector ran and the key is absent.
    Missing,
    /// The collector was not run, did not apply, or failed; the result says which.
    Skipped,
}

impl Status {
    /// The name written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Missing => "missing",
            Status::Skipped => "skipped",
        }
    }

    /// The order reports list results in: failures first, then missing, skipped, passed.
    fn rank(self) -> u8 {
        match self {
            Status::Failed => 0,
            Status::Missing => 1,
            Status::Skipped => 2,
            Status::Passed => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Every required constraint passed.
    Pass,
    /// A required constraint failed (or was missing or skipped under `--fail-on`).
    Fail,
    /// Nothing failed, but some required constraints could not be checked (missing or skipped).
    Incomplete,
}

impl Overall {
    /// The name written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Fail => "fail",
            Overall::Incomplete => "incomplete",
        }
    }
}

impl fmt::Display for Overall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which statuses besides `failed` fail a run (`--fail-on missing`, `--fail-on skipped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailOn {
    /// A required constraint whose key is missing fails the run.
    pub missing: bool,
    /// A required constraint that was skipped fails the run.
    pub skipped: bool,
}

impl FailOn {
    /// Parses one `--fail-on` value: `missing` or `skipped` (any case).
    pub fn add(&mut self, value: &str) -> Result<(), String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "missing" => self.missing = true,
            "skipped" => self.skipped = true,
            _ => {
                return Err(format!(
                    "invalid --fail-on value {value:?}: expected missing or skipped"
                ))
            }
        }
        Ok(())
    }

    /// Whether a required result with this status fails the run.
    pub fn fails(self, status: Status) -> bool {
        match status {
            Status::Failed => true,
            Status::Missing => self.missing,
            Status::Skipped => self.skipped,
            Status::Passed => false,
        }
    }
}

/// The result of one constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The measurement type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subtype.
    pub subtype: String,
    /// The key.
    pub key: String,
    /// How it fared.
    pub status: Status,
    /// Whether a failure fails the run.
    pub severity: Severity,
    /// The operator (`equals`, `!=`, `>=`, `range`, `one of`, `present`, `absent` …).
    pub operator: String,
    /// The value as the recipe (or `--constraint`) wrote it.
    pub expected: Reading,
    /// The snapshot's reading (`null` when the key is absent or was not collected).
    pub actual: Option<Reading>,
    /// Why the value matters: the recipe's one-line context (`null` when it has none).
    pub context: Option<String>,
    /// Provenance: the recipe file and rule that set it (`base.yaml`,
    /// `overlays/gpu.yaml (gpu=h100)`), the recipe file given, or `--constraint`.
    pub source: String,
    /// Why it was skipped, or why it failed where "not equal" would not say enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts per status and the overall verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `pass`, `fail` or `incomplete`.
    pub overall: Overall,
    /// Number of constraints checked.
    pub total: usize,
    /// How many passed.
    pub passed: usize,
    /// How many failed (required and recommended).
    pub failed: usize,
    /// How many had no reading in a collector that ran.
    pub missing: usize,
    /// How many were skipped.
    pub skipped: usize,
    /// How many required constraints failed the run (failed, or missing/skipped under
    /// `--fail-on`).
    pub required_failed: usize,
}

impl Summary {
    /// The verdict and counts of `results` under `fail_on`.
    pub fn of(results: &[CheckResult], fail_on: FailOn) -> Summary {
        let count = |status| results.iter().filter(|r| r.status == status).count();
        let required = |r: &&CheckResult| r.severity == Severity::Required;
        let required_failed = results
            .iter()
            .filter(required)
            .filter(|r| fail_on.fails(r.status))
            .count();
        let unchecked = results
            .iter()
            .filter(required)
            .any(|r| matches!(r.status, Status::Missing | Status::Skipped));
        let overall = if required_failed > 0 {
            Overall::Fail
        } else if unchecked {
            Overall::Incomplete
        } else {
            Overall::Pass
        };
        Summary {
            overall,
            total: results.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            missing: count(Status::Missing),
            skipped: count(Status::Skipped),
            required_failed,
        }
    }

    /// One line for people: `FAIL: 2 failed (2 required), 1 missing, 0 skipped, 40 passed (43
    /// constraints)`.
    pub fn line(&self) -> String {
        format!(
            "{}: {} failed ({} required), {} missing, {} skipped, {} passed ({} constraints)",
            self.overall.as_str().to_ascii_uppercase(),
            self.failed,
            self.required_failed,
            self.missing,
            self.skipped,
            self.passed,
            self.total
        )
    }
}

/// A validation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always [`REPORT_KIND`].
    pub kind: String,
    /// Counts and the verdict.
    pub summary: Summary,
    /// The recipe query the constraints came from, when they came from the recipe engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Query>,
    /// The overlays applied to build that recipe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_rules: Vec<String>,
    /// One result per constraint: failures first (required before recommended), then missing,
    /// skipped and passed, each in recipe order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// A report of `results` (sorted here) under `fail_on`.
    pub fn new(mut results: Vec<CheckResult>, fail_on: FailOn) -> Report {
        results.sort_by_key(|r| {
            (
                r.status.rank(),
                u8::from(r.status == Status::Failed && r.severity == Severity::Recommended),
            )
        });
        Report {
            kind: REPORT_KIND.to_owned(),
            summary: Summary::of(&results, fail_on),
            request: None,
            matched_rules: Vec::new(),
            results,
        }
    }
}
