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

    /// Writes `document` in `format` for the output described by `options` (for example a
    /// terminal's width). The host calls this one; by default it ignores the options and calls
    /// [`Serializer::serialize`]. Added in plugin API 1.2.
    fn serialize_with(
        document: &serde_json::Value,
        format: &str,
        options: &SerializeOptions,
    ) -> Result<Vec<u8>, SerializeError> {
        let _ = options;
        Self::serialize(document, format)
    }
}

/// What a serializer may know about where its output goes. New fields may be added in minor
/// releases; build one with [`SerializeOptions::default`] and the `with_` methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SerializeOptions {
    /// The width in columns of the terminal the output is shown on; `None` for a file or a pipe,
    /// where a format for people should not wrap lines.
    pub width: Option<u16>,
}

impl SerializeOptions {
    /// These options with the output's terminal width.
    pub fn with_width(mut self, width: Option<u16>) -> Self {
        self.width = width;
        self
    }
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
