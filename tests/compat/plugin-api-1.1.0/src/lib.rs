//! The eidos plugin contract.
//!
//! This crate is everything a plugin and the host agree on:
//!
//! - [`model`]: the measurement model (snapshots, measurements, subtypes, readings) that collectors
//!   produce, serializers write, and the recipe engine consumes;
//! - [`Collector`] and [`Serializer`]: the traits plugin authors implement, in plain Rust;
//! - [`export_collector!`] and [`export_serializer!`]: the macros that turn such an implementation into
//!   a loadable plugin, catching panics at the boundary;
//! - [`abi`]: the small, versioned, `abi_stable` root module the host loads. Plugin authors never
//!   touch it.
//!
//! The crate's version is the plugin API version. See `docs/architecture.md` for why the boundary
//! carries versioned JSON documents rather than a tree of `abi_stable` types.

pub mod abi;
mod collector;
#[doc(hidden)]
pub mod export;
mod manifest;
pub mod model;
mod serializer;
pub mod wire;

pub use collector::{CancelToken, CollectContext, CollectError, Collection, Collector, Outcome};
pub use manifest::{Manifest, OptionSpec, PluginKind};
pub use model::{Measurement, MeasurementType, Reading, Snapshot, Subtype};
pub use serializer::{SerializeError, SerializeOptions, Serializer};

/// Re-exported so that the export macros can name it from plugin crates that do not depend on it.
#[doc(hidden)]
pub use abi_stable;
#[doc(hidden)]
pub use serde_json;

/// The plugin API version this crate implements (its own crate version).
pub const PLUGIN_API_VERSION: &str = env!("CARGO_PKG_VERSION");
