//! The eidos recipe engine: turns a [`Query`] (or a snapshot) into the recommended configuration
//! of a node, from recipe data — a base plus matching overlays — shipped in the binary or loaded
//! from a directory. Shared by `eidos recipe` and `eidos serve`.
//!
//! API contract (used by eidos-cli and eidos-server; keep these signatures):
//! - [`RecipeStore::embedded`]: the store built from the data compiled into the binary, parsed once.
//! - [`RecipeStore::load_dir`]: a store from a directory of YAML files (air-gapped sites).
//! - [`Query::from_pairs`]: a query from `name=value` pairs (CLI flags, HTTP query parameters);
//!   errors name the parameter and the allowed values.
//! - [`Query::from_snapshot`]: a query derived from a node snapshot.
//! - [`RecipeStore::build`]: the recipe for a query.

use eidos_plugin_api::{Measurement, Snapshot};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// A validated recipe query. Every field is normalized (lower case; `any`/empty → `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// Operating system (ubuntu, rhel, cos, amzn …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Operating system version (`22.04`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osv: Option<String>,
    /// Kernel release (`6.8.0-1028-aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Kubernetes service (eks, gke, aks, oke, self-managed …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Kubernetes version (`1.33`, `v1.30.14-eks-3025e55`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<String>,
    /// GPU model (h100, h200, gb200, b200, a100, l40s …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// Workload intent (training, inference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Whether to include the per-value explanations.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context: bool,
}

/// A query parameter that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// An unknown parameter name.
    #[error("unknown parameter {name:?}: expected one of {}", allowed.join(", "))]
    UnknownParameter {
        /// The name given.
        name: String,
        /// The parameter names accepted.
        allowed: Vec<String>,
    },
    /// A value that is not allowed for its parameter.
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// Why, including the allowed values where there is a list.
        reason: String,
    },
}

impl QueryError {
    /// The parameter this error is about.
    pub fn parameter(&self) -> &str {
        match self {
            QueryError::UnknownParameter { name, .. } | QueryError::InvalidValue { name, .. } => {
                name
            }
        }
    }
}

/// Recipe data that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct LoadError {
    /// The file (or directory) at fault.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

/// The recipe document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipe {
    /// Version of this document's format.
    pub payload_version: String,
    /// Version of the eidos that built it.
    pub builder_version: String,
    /// When it was built (RFC 3339, UTC).
    pub generated_at: String,
    /// The normalized query.
    pub request: Query,
    /// One readable line per applied overlay, in applied order.
    pub matched_rules: Vec<String>,
    /// The recommended configuration.
    pub measurements: Vec<Measurement>,
}

/// The immutable, shareable set of recipe data.
#[derive(Debug)]
pub struct RecipeStore {
    _private: (),
}

impl RecipeStore {
    /// The store built from the recipe data compiled into the binary (parsed once per process).
    pub fn embedded() -> Result<Arc<RecipeStore>, LoadError> {
        unimplemented!("recipe engine: issue 3")
    }

    /// A store from a directory of recipe YAML files, validated in full.
    pub fn load_dir(_dir: &Path) -> Result<RecipeStore, LoadError> {
        unimplemented!("recipe engine: issue 3")
    }

    /// The recipe for `query`.
    pub fn build(&self, _query: &Query) -> Recipe {
        unimplemented!("recipe engine: issue 3")
    }
}

impl Query {
    /// A query from `name=value` pairs (`os`, `osv`, `kernel`, `service`, `k8s`, `gpu`, `intent`,
    /// `context`), as CLI flags or HTTP query parameters give them.
    pub fn from_pairs<'a>(
        _pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Query, QueryError> {
        unimplemented!("recipe engine: issue 3")
    }

    /// The query a snapshot implies (os, osv, kernel, service, k8s, gpu).
    pub fn from_snapshot(_snapshot: &Snapshot) -> Query {
        unimplemented!("recipe engine: issue 3")
    }
}
