//! The trait serializer plugins implement.

/// A serializer plugin: writes an eidos document (a snapshot, a recipe …) in one or more formats.
///
/// The document arrives as a JSON value whose maps keep their order and whose integers are exact.
/// Export an implementation with [`crate::export_serializer!`]; a panic is caught at the boundary.
pub trait Serializer {
    /// The plugin's name.
    const NAME: &'static str;
    /// One line saying what it writes.
    const DESCRIPTION: &'static str;
    /// The format names it serves (`--format NAME`).
    const FORMATS: &'static [&'static str];

    /// Writes `document` in `format` (one of [`Serializer::FORMATS`]).
    fn serialize(document: &serde_json::Value, format: &str) -> Result<Vec<u8>, SerializeError>;
}

/// Why a serializer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerializeError {
    /// The document does not have the shape this format needs.
    #[error("cannot write this document as {format}: {reason}")]
    Unsupported {
        /// The format asked for.
        format: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}
