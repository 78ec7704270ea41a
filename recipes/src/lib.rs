//! The eidos recipe engine: turns a [`Query`] (or a snapshot) into the recommended configuration
//! of a node, from recipe data — a base plus matching overlays — shipped in the binary or loaded
//! from a directory. Shared by `eidos recipe` and `eidos serve`.
//!
//! API contract (used by eidos-cli and eidos-server; keep these signatures):
//! - [`RecipeStore::embedded`]: the store built from the data compiled into the binary, parsed once.
//! - [`RecipeStore::load_dir`]: a store from a directory of YAML files (air-gapped sites).
//! - [`RecipeStore::with_layers`]: a store with overlay layers (vendors' and sites' directories)
//!   on top; conflicts go by key specificity, then layer order.
//! - [`Query::from_pairs`]: a query from `name=value` pairs (CLI flags, HTTP query parameters);
//!   errors name the parameter and the allowed values.
//! - [`Query::from_snapshot`]: a query derived from a node snapshot
//!   ([`Query::try_from_snapshot`] fails when nothing can be derived).
//! - [`Query::validated`]: checks and normalizes a query deserialized from JSON.
//! - [`RecipeStore::build`]: the recipe for a query.
//! - [`validate`]: checking a snapshot against a recipe's constraints (`eidos validate`,
//!   `POST /v1/validate`).
//!
//! Data format (see `src/data.rs`) (`base.yaml` with `measurements:`; other files
//! with `overlays: [{key, description?, measurements}]`).

mod data;
mod derive;
#[cfg(test)]
mod fuzz_tests;
pub mod key;
mod merge;
pub mod model;
pub mod nesting;
mod query;
mod store;
mod timestamp;
pub mod validate;
pub mod version;
pub mod vocab;
mod walk;

pub use data::{measurement_type, MAX_NESTING, MAX_TYPE_LEN};
pub use derive::{gpu_from_model, service_from_version, DeriveError};
pub use model::{RecipeMeasurement, RecipeSubtype, Severity};
pub use query::{parameter_names, Query, QueryError};
pub use store::{LayerEntry, RecipeStore, BASE_FILE, MAX_FILE_BYTES, PAYLOAD_VERSION};
pub use version::{Version, VersionError};

use serde::{Deserialize, Serialize};

/// Recipe data that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The recommended configuration: every value is a constraint a snapshot can be validated
    /// against.
    pub measurements: Vec<RecipeMeasurement>,
}
