//! The measurements of a recipe: like a snapshot's, plus a `severity` map beside `context` in each
//! subtype. A recipe's values are constraints (see [`crate::validate`]); `severity` says which of
//! them are only advice.

use eidos_plugin_api::{Measurement, Reading};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a failed constraint fails a validation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure fails the run (the default for every value).
    #[default]
    Required,
    /// Advice: reported, never fails the run.
    Recommended,
}

impl Severity {
    /// The name written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Required => "required",
            Severity::Recommended => "recommended",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One subtype of a recipe: values, their explanations and their severities.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecipeSubtype {
    /// The subtype's name (`sysctl`, `containerd.service`).
    pub subtype: String,
    /// The values, key → value or operator text, exactly as written in the recipe data.
    #[serde(default)]
    pub data: IndexMap<String, Reading>,
    /// One line per key saying why the value matters (only when the query asks for context).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub context: IndexMap<String, String>,
    /// Keys whose severity is not the default `required` (in practice: the `recommended` ones).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub severity: IndexMap<String, Severity>,
}

impl RecipeSubtype {
    /// The severity of `key` (`required` unless the severity map says otherwise).
    pub fn severity_of(&self, key: &str) -> Severity {
        self.severity.get(key).copied().unwrap_or_default()
    }
}

/// All the values of one measurement type in a recipe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecipeMeasurement {
    /// The type name (lower case: os, systemd, k8s, gpu).
    #[serde(rename = "type")]
    pub kind: String,
    /// The subtypes, in order.
    #[serde(default)]
    pub subtypes: Vec<RecipeSubtype>,
}

impl RecipeMeasurement {
    /// The subtype with the given name.
    pub fn subtype(&self, name: &str) -> Option<&RecipeSubtype> {
        self.subtypes.iter().find(|s| s.subtype == name)
    }
}

impl From<Measurement> for RecipeMeasurement {
    fn from(m: Measurement) -> Self {
        RecipeMeasurement {
            kind: m.kind,
            subtypes: m
                .subtypes
                .into_iter()
                .map(|s| RecipeSubtype {
                    subtype: s.subtype,
                    data: s.data,
                    context: s.context,
                    severity: IndexMap::new(),
                })
                .collect(),
        }
    }
}
